//! What a live subscriber is sent of Tactical HQ's events: the comm or incident exactly as the
//! member's own read (`getComms`, `getIncidents`) would return it at that moment, under the
//! same rules. Membership, clearance and the subscription are read again for every event, so a
//! member who is suspended, downgraded or loses clearance stops receiving at once.

use super::audit::{self, Record};
use super::model::{Comm, Incident};
use super::operations::incident_view;
use super::service::{TacticalService, ensure_self};
use crate::auth::Caller;
use crate::error::AppResult;

impl TacticalService {
    /// Opens a live watch of `user_id`'s comms or incidents: the caller must be that user and a
    /// verified member. The opening is audited (`live.watch`, with what is watched); the events
    /// sent on it are not, one by one, since each is a read the member could make.
    pub async fn open_watch(&self, caller: &Caller, user_id: &str, what: &str) -> AppResult<()> {
        audit::attempt("live.watch", user_id);
        ensure_self(caller, user_id)?;
        self.member(caller).await?;
        self.record(Record::ok(&caller.user_id, "live.watch", user_id).detail(format!("topic={what}"))).await?;
        audit::recorded();
        Ok(())
    }

    /// The comm, if the caller may see it now: as `getComms` returns it, sealed content opened
    /// for this caller alone. `None` when it is not theirs to see (or no longer exists).
    pub async fn live_comm(&self, caller: &Caller, comm_id: &str) -> AppResult<Option<Comm>> {
        let me = self.member(caller).await?;
        let Some((row, extras)) = self.store.visible_comm_with_extras(&me.reader(), comm_id).await? else { return Ok(None) };
        Ok(Some(self.comm_view(&me, row, extras).await))
    }

    /// The incident, if it is of the caller's department (as `getIncidents` lists them).
    pub async fn live_incident(&self, caller: &Caller, incident_id: &str) -> AppResult<Option<Incident>> {
        let me = self.member(caller).await?;
        let incident = self.store.incident(incident_id).await?;
        Ok(incident.filter(|i| i.department == me.profile.department).map(incident_view))
    }
}
