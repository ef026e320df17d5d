//! Tactical HQ on SQLite: each write is one `BEGIN IMMEDIATE` transaction on the single writer
//! connection (which is also what keeps the audit chain's appends in one line), each read runs
//! on a pooled reader. After a secure deletion or a key rotation a WAL checkpoint copies the log
//! into the database file and truncates it, so the overwritten secrets leave no older copy in
//! the log (`PRAGMA secure_delete` zeroes them in the file itself).

use rusqlite::Connection;

use super::{
    CommExtras,
    AudienceFacts, CheckAttachment, CheckAudience, CheckInRow, ChangeIncident, CommQuery, CommRow, DashboardFacts, DeletionRecord,
    FileRow, IncidentRow, NewDocument, PlanRotation, ProfileRow, ReceiptRow, Reader, Rewrapped, SituationFacts, TacticalStore,
    TeamRow, Verification, VisibleComms, WrapKey,
};
use crate::db::Db;
use crate::error::AppResult;
use crate::features::tactical::audit::Record;
use crate::features::tactical::model::{AuditEntry, AuditFilter, AuditVerification, IncidentFilter};

pub(crate) mod audit;
mod comms;
mod incidents;
mod keys;
mod members;

pub struct SqliteTacticalStore {
    db: Db,
}

impl SqliteTacticalStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

/// Inserts documents, each with its data key wrapped under the current master key.
fn insert_documents(c: &Connection, documents: Vec<NewDocument>) -> AppResult<()> {
    for NewDocument { mut row, key } in documents {
        let sealed = keys::wrap_current(c, key)?;
        row.wrapped_key = Some(sealed.wrapped);
        row.key_id = Some(sealed.key_id);
        members::insert_document(c, &row)?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl TacticalStore for SqliteTacticalStore {
    async fn profile(&self, user_id: &str) -> AppResult<Option<ProfileRow>> {
        let user = user_id.to_owned();
        self.db.read(move |c| members::profile(c, &user)).await
    }

    async fn profiles(&self, status: Option<&str>, department: Option<&str>, limit: u32, offset: u32) -> AppResult<Vec<ProfileRow>> {
        let (status, department) = (status.map(str::to_owned), department.map(str::to_owned));
        self.db.read(move |c| members::profiles(c, status.as_deref(), department.as_deref(), limit, offset)).await
    }

    async fn register(&self, profile: ProfileRow, documents: Vec<NewDocument>, audit: Record) -> AppResult<bool> {
        self.db
            .write(move |tx| {
                if !members::insert_profile(tx, &profile)? {
                    return Ok(false);
                }
                insert_documents(tx, documents)?;
                audit::append(tx, &audit)?;
                Ok(true)
            })
            .await
    }

    async fn insert_documents(&self, documents: Vec<NewDocument>, audit: Record) -> AppResult<()> {
        self.db
            .write(move |tx| {
                insert_documents(tx, documents)?;
                audit::append(tx, &audit)?;
                Ok(())
            })
            .await
    }

    async fn documents(&self, user_id: &str) -> AppResult<Vec<FileRow>> {
        let user = user_id.to_owned();
        self.db.read(move |c| members::documents(c, &user)).await
    }

    async fn document(&self, user_id: &str, document_id: &str) -> AppResult<Option<FileRow>> {
        let (user, id) = (user_id.to_owned(), document_id.to_owned());
        self.db.read(move |c| members::document(c, &user, &id)).await
    }

    async fn set_verification(&self, user_id: &str, v: Verification, audit: Record) -> AppResult<()> {
        let user = user_id.to_owned();
        self.db
            .write(move |tx| {
                members::set_verification(tx, &user, &v.status, &v.clearance, v.verifier, &v.by, &v.at)?;
                audit::append(tx, &audit)?;
                Ok(())
            })
            .await
    }

    async fn set_operational_status(&self, user_id: &str, status: &str, at: &str, audit: Record) -> AppResult<()> {
        let (user, status, at) = (user_id.to_owned(), status.to_owned(), at.to_owned());
        self.db
            .write(move |tx| {
                members::set_operational_status(tx, &user, &status, &at)?;
                audit::append(tx, &audit)?;
                Ok(())
            })
            .await
    }

    async fn team(&self, team_id: &str) -> AppResult<Option<TeamRow>> {
        let id = team_id.to_owned();
        self.db.read(move |c| members::team(c, &id)).await
    }

    async fn teams_of_department(&self, department: &str) -> AppResult<Vec<TeamRow>> {
        let department = department.to_owned();
        self.db.read(move |c| members::teams_of_department(c, &department)).await
    }

    async fn team_members(&self, team_id: &str) -> AppResult<Vec<ProfileRow>> {
        let id = team_id.to_owned();
        self.db.read(move |c| members::team_members(c, &id)).await
    }

    async fn create_team(&self, team: TeamRow, audit: Record) -> AppResult<()> {
        self.db
            .write(move |tx| {
                members::insert_team(tx, &team)?;
                if let Some(lead) = &team.lead_user_id {
                    members::set_team(tx, lead, Some(&team.team_id), &team.created_at)?;
                }
                audit::append(tx, &audit)?;
                Ok(())
            })
            .await
    }

    async fn join_team(&self, user_id: &str, team_id: &str, at: &str, audit: Record) -> AppResult<()> {
        let (user, id, at) = (user_id.to_owned(), team_id.to_owned(), at.to_owned());
        self.db
            .write(move |tx| {
                members::set_team(tx, &user, Some(&id), &at)?;
                audit::append(tx, &audit)?;
                Ok(())
            })
            .await
    }

    async fn leave_team(&self, user_id: &str, team_id: &str, clear_lead: bool, at: &str, audit: Record) -> AppResult<()> {
        let (user, id, at) = (user_id.to_owned(), team_id.to_owned(), at.to_owned());
        self.db
            .write(move |tx| {
                members::set_team(tx, &user, None, &at)?;
                if clear_lead {
                    members::set_team_lead(tx, &id, None)?;
                }
                audit::append(tx, &audit)?;
                Ok(())
            })
            .await
    }

    async fn send_comm(&self, comm: CommRow, recipients: Vec<String>, check: CheckAudience, key: Option<WrapKey>, audit: Record) -> AppResult<()> {
        self.db
            .write(move |tx| {
                let mut comm = comm;
                let facts = AudienceFacts {
                    recipients: recipients.iter().map(|id| Ok((id.clone(), members::profile(tx, id)?))).collect::<rusqlite::Result<_>>()?,
                    sender: members::profile(tx, &comm.from_user_id)?,
                    incident: comm.related_incident_id.as_deref().map(|id| incidents::incident(tx, id)).transpose()?.flatten(),
                };
                check(&facts)?;
                if let Some(key) = key {
                    let sealed = keys::wrap_current(tx, key)?;
                    comm.wrapped_key = Some(sealed.wrapped);
                    comm.key_id = Some(sealed.key_id);
                }
                comms::insert_comm(tx, &comm, &recipients)?;
                audit::append(tx, &audit)?;
                Ok(())
            })
            .await
    }

    async fn comm(&self, comm_id: &str) -> AppResult<Option<CommRow>> {
        let id = comm_id.to_owned();
        self.db.read(move |c| comms::comm(c, &id)).await
    }

    async fn visible_comm(&self, reader: &Reader, comm_id: &str) -> AppResult<Option<CommRow>> {
        let (reader, id) = (reader.clone(), comm_id.to_owned());
        self.db.read(move |c| comms::visible_comm(c, &reader, &id)).await
    }

    async fn visible_comm_with_extras(&self, reader: &Reader, comm_id: &str) -> AppResult<Option<(CommRow, CommExtras)>> {
        let (reader, id) = (reader.clone(), comm_id.to_owned());
        self.db
            .read(move |c| {
                let Some(row) = comms::visible_comm(c, &reader, &id)? else { return Ok(None) };
                let extras = comms::extras(c, &row.comm_id)?;
                Ok(Some((row, extras)))
            })
            .await
    }

    async fn visible_comms(&self, reader: &Reader, query: &CommQuery) -> AppResult<VisibleComms> {
        let (reader, query) = (reader.clone(), query.clone());
        self.db
            .read(move |c| {
                let (mut rows, total) = comms::visible_comms(c, &reader, &query)?;
                let more = rows.len() > query.limit as usize;
                rows.truncate(query.limit as usize);
                let comms = rows
                    .into_iter()
                    .map(|row| {
                        let extras = comms::extras(c, &row.comm_id)?;
                        Ok((row, extras))
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(VisibleComms { comms, total, more })
            })
            .await
    }

    async fn record_receipt(&self, comm_id: &str, user_id: &str, acknowledge: bool, at: &str, audit: Record) -> AppResult<ReceiptRow> {
        let (id, user, at) = (comm_id.to_owned(), user_id.to_owned(), at.to_owned());
        self.db
            .write(move |tx| {
                let (read_at, acknowledged_at) = comms::mark(tx, &id, &user, acknowledge, &at)?;
                audit::append(tx, &audit)?;
                Ok(ReceiptRow { user_id: user, read_at, acknowledged_at })
            })
            .await
    }

    async fn insert_attachment(
        &self,
        attachment: FileRow,
        uploaded_by: &str,
        check: CheckAttachment,
        key: Option<WrapKey>,
        audit: Record,
    ) -> AppResult<()> {
        let uploaded_by = uploaded_by.to_owned();
        self.db
            .write(move |tx| {
                let comm = comms::comm(tx, &attachment.owner)?;
                let count = comms::attachments(tx, &attachment.owner)?.len();
                check(comm.as_ref(), count)?;
                if let Some(key) = key {
                    let sealed = keys::wrap_current(tx, key)?;
                    comms::set_comm_key(tx, &attachment.owner, &sealed.wrapped, &sealed.key_id)?;
                }
                comms::insert_attachment(tx, &attachment, &uploaded_by)?;
                audit::append(tx, &audit)?;
                Ok(())
            })
            .await
    }

    async fn attachment(&self, comm_id: &str, file_id: &str) -> AppResult<Option<FileRow>> {
        let (id, fid) = (comm_id.to_owned(), file_id.to_owned());
        self.db.read(move |c| comms::attachment(c, &id, &fid)).await
    }

    async fn delete_comm_securely(&self, comm_id: &str, by: &str, at: &str, audit: DeletionRecord) -> AppResult<Option<Vec<String>>> {
        let (id, by, at) = (comm_id.to_owned(), by.to_owned(), at.to_owned());
        let blobs = self
            .db
            .write(move |tx| {
                let mut blobs: Vec<String> = comms::attachments(tx, &id)?.into_iter().map(|a| a.blob_path).collect();
                let Some(current) = comms::comm(tx, &id)?.filter(|r| r.deleted_at.is_none()) else {
                    return Ok(None);
                };
                if let Some(message) = current.blob_path {
                    blobs.push(message);
                }
                comms::tombstone_comm(tx, &id, &by, &at)?;
                audit::append(tx, &audit(&blobs))?;
                Ok(Some(blobs))
            })
            .await?;
        if blobs.is_some() {
            // The destroyed key's older copy leaves the write-ahead log.
            self.db.checkpoint().await;
        }
        Ok(blobs)
    }

    async fn situation_facts(&self, reader: &Reader, since: &str) -> AppResult<SituationFacts> {
        let (reader, since) = (reader.clone(), since.to_owned());
        self.db
            .read(move |c| {
                let incidents = incidents::situation_incidents(c, &reader.department, &since)?;
                let emergencies = comms::visible_emergencies(c, &reader, &since)?;
                Ok(SituationFacts { incidents, emergencies })
            })
            .await
    }

    async fn dashboard_facts(&self, reader: &Reader, comms_since: &str, incident_limit: u32) -> AppResult<DashboardFacts> {
        let (reader, since) = (reader.clone(), comms_since.to_owned());
        self.db
            .read(move |c| {
                let (recent_comms, unread_comms) = comms::visible_counts(c, &reader, &since)?;
                let filter = IncidentFilter { status: None, severity: None, since: None, limit: incident_limit, offset: 0 };
                let (escalated, _) = incidents::incidents(c, &reader.department, &IncidentFilter { status: Some("escalated".into()), ..filter.clone() })?;
                let (active, _) = incidents::incidents(c, &reader.department, &IncidentFilter { status: Some("active".into()), ..filter })?;
                let team = reader.team_id.as_deref().map(|t| members::team(c, t)).transpose()?.flatten();
                Ok(DashboardFacts { recent_comms, unread_comms, open_incidents: escalated.into_iter().chain(active).collect(), team })
            })
            .await
    }

    async fn insert_incident(&self, incident: IncidentRow, audit: Record) -> AppResult<()> {
        self.db
            .write(move |tx| {
                incidents::insert_incident(tx, &incident)?;
                audit::append(tx, &audit)?;
                Ok(())
            })
            .await
    }

    async fn update_incident_status(&self, incident_id: &str, change: ChangeIncident) -> AppResult<IncidentRow> {
        let id = incident_id.to_owned();
        self.db
            .write(move |tx| {
                let (row, record) = change(incidents::incident(tx, &id)?)?;
                incidents::save_incident_status(tx, &IncidentRow { incident_id: id, ..row.clone() })?;
                audit::append(tx, &record)?;
                Ok(row)
            })
            .await
    }

    async fn incident(&self, incident_id: &str) -> AppResult<Option<IncidentRow>> {
        let id = incident_id.to_owned();
        self.db.read(move |c| incidents::incident(c, &id)).await
    }

    async fn incidents(&self, department: &str, filter: &IncidentFilter) -> AppResult<(Vec<IncidentRow>, u64)> {
        let (department, filter) = (department.to_owned(), filter.clone());
        self.db.read(move |c| incidents::incidents(c, &department, &filter)).await
    }

    async fn insert_checkin(&self, checkin: CheckInRow, audit: Record) -> AppResult<()> {
        self.db
            .write(move |tx| {
                incidents::insert_checkin(tx, &checkin)?;
                audit::append(tx, &audit)?;
                Ok(())
            })
            .await
    }

    async fn checkins(&self, user_id: &str, limit: u32, offset: u32) -> AppResult<Vec<CheckInRow>> {
        let user = user_id.to_owned();
        self.db.read(move |c| incidents::checkins(c, &user, limit, offset)).await
    }

    async fn append_audit(&self, record: Record) -> AppResult<()> {
        self.db.write(move |tx| Ok(audit::append(tx, &record)?)).await
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> AppResult<(Vec<AuditEntry>, u64)> {
        let filter = filter.clone();
        self.db.read(move |c| audit::entries(c, &filter)).await
    }

    async fn verify_audit(&self) -> AppResult<AuditVerification> {
        self.db.read(audit::verify).await
    }

    async fn rotate_master_key(&self, new_key_id: &str, plan: PlanRotation) -> AppResult<Vec<Rewrapped>> {
        let new_key_id = new_key_id.to_owned();
        let rewrapped = self
            .db
            .write(move |tx| {
                let (rewrapped, record) = plan(keys::wrapped_keys(tx)?)?;
                for r in &rewrapped {
                    keys::set_wrapped_key(tx, r.holder, &r.id, &r.wrapped, &new_key_id)?;
                }
                keys::set_current_key_id(tx, &new_key_id)?;
                audit::append(tx, &record)?;
                Ok(rewrapped)
            })
            .await?;
        // The old wrapped keys leave the write-ahead log.
        self.db.try_checkpoint().await?;
        Ok(rewrapped)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Appends racing each other (and the writes that append with their work) still make one
    /// chain: the guarantee every implementation of the store gives.
    #[tokio::test]
    async fn concurrent_appends_keep_one_valid_chain() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), &crate::config::Config::default().database).unwrap();
        let store: Arc<dyn TacticalStore> = Arc::new(SqliteTacticalStore::new(db));
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0..15 {
                        store.append_audit(Record::ok(&format!("u{t}"), "comm.read", format!("c{i}"))).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let report = store.verify_audit().await.unwrap();
        assert_eq!((report.intact, report.entries, report.first_broken_at), (true, 60, None));
    }
}
