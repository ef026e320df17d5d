//! Tactical HQ on PostgreSQL: each write is one READ COMMITTED transaction, each read one
//! statement or, where a page and its total go together, one read-only REPEATABLE READ snapshot.
//!
//! What SQLite's single writer gave for free is taken with locks here, always in one order so
//! that no two writes wait on each other in a circle:
//!
//! 1. the master key's name (`key_state`): a write that wraps a new data key reads it `FOR
//!    SHARE` before anything else, and a rotation locks it (and, while no key is named yet, a
//!    transaction-scoped advisory lock on [`KEY_STATE_LOCK`]) first of all, so a wrapping either
//!    commits before the rotation reads the keys or reads the new name after it commits;
//! 2. the rows a write decides on: the comm an attachment joins or a deletion tombstones, the
//!    incident a status change reads (`FOR UPDATE`), the profiles an audience check reads (`FOR
//!    SHARE`), every wrapped key a rotation re-wraps (`FOR UPDATE`);
//! 3. the audit chain, last: every append takes the transaction-scoped advisory lock
//!    [`AUDIT_LOCK`], then reads the newest entry and inserts the next, and the lock is held to
//!    the commit, so no two appends, from any server, read the same predecessor.
//!
//! Ids of uuid columns (comms, teams, incidents, files, documents, check-ins) name a row only in
//! the form SQLite holds them (hyphenated, lower case); any other id names no row. Text the
//! row types order by (user ids, team names) is ordered byte-wise (`COLLATE "C"`), as SQLite's
//! BINARY collation does, whatever the database's locale.
//!
//! Secure deletion and rotation overwrite the secrets in one transaction; after the commit a
//! `VACUUM` of the tables removes the dead row versions still holding them. The write-ahead log
//! (and any archive of it) is PostgreSQL's own: a client cannot truncate it, so older copies
//! leave it as the server recycles its segments.

use chrono::{DateTime, Utc};
use tokio_postgres::IsolationLevel;
use uuid::Uuid;

use super::{
    CommExtras,
    AudienceFacts, ChangeIncident, CheckAttachment, CheckAudience, CheckInRow, CommQuery, CommRow, DashboardFacts, DeletionRecord,
    FileRow, IncidentRow, NewDocument, PlanRotation, ProfileRow, ReceiptRow, Reader, Rewrapped, SituationFacts, TacticalStore,
    TeamRow, Verification, VisibleComms, WrapKey,
};
use crate::db::postgres::PgDb;
use crate::db::postgres::values::{row_id, signed, text, time, unsigned, write_id};
use crate::error::{AppError, AppResult};
use crate::features::tactical::audit::Record;
use crate::features::tactical::model::{AuditEntry, AuditFilter, AuditVerification, IncidentFilter};

pub(crate) mod audit;
mod comms;
mod incidents;
mod keys;
mod members;

/// The advisory lock every audit append holds from reading the newest entry to its commit.
const AUDIT_LOCK: &str = "tactical:audit_log";
/// The advisory lock that serializes naming the first master key with a rotation.
const KEY_STATE_LOCK: &str = "tactical:key_state";

pub struct PgTacticalStore {
    db: PgDb,
}

impl PgTacticalStore {
    pub fn new(db: PgDb) -> Self {
        Self { db }
    }
}

// ---- conversions -----------------------------------------------------------------------------

/// The id a write refers to another row by (a foreign key): one that names no row refers to
/// the nil UUID, which no row has, so the database refuses the write as SQLite's foreign key
/// does (409), rather than answering 500.
fn ref_id(id: &str) -> Uuid {
    row_id(id).unwrap_or(Uuid::nil())
}

fn opt_write_id(id: Option<&str>) -> AppResult<Option<Uuid>> {
    id.map(write_id).transpose()
}

fn id_text(id: Option<Uuid>) -> Option<String> {
    id.map(|id| id.to_string())
}

fn opt_text(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(text)
}

fn opt_time(at: Option<&str>) -> AppResult<Option<DateTime<Utc>>> {
    at.map(time).transpose()
}

/// Removes the dead row versions of `tables` (secrets a write just overwrote). It cannot run
/// inside a transaction; a snapshot older than the write keeps them until a later vacuum.
async fn vacuum(db: &PgDb, tables: &str) -> AppResult<()> {
    db.client().await?.batch_execute(&format!("VACUUM {tables}")).await?;
    Ok(())
}

/// Inserts documents, each with its data key wrapped under the current master key `named`
/// (read with [`keys::lock_current`] at the start of the transaction).
async fn insert_documents(tx: &deadpool_postgres::Transaction<'_>, mut named: Option<String>, documents: Vec<NewDocument>) -> AppResult<()> {
    for NewDocument { mut row, key } in documents {
        let sealed = keys::wrap_with(tx, &mut named, key).await?;
        row.wrapped_key = Some(sealed.wrapped);
        row.key_id = Some(sealed.key_id);
        members::insert_document(tx, &row).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl TacticalStore for PgTacticalStore {
    async fn profile(&self, user_id: &str) -> AppResult<Option<ProfileRow>> {
        let client = self.db.client().await?;
        members::profile(&client, user_id, false).await
    }

    async fn profiles(&self, status: Option<&str>, department: Option<&str>, limit: u32, offset: u32) -> AppResult<Vec<ProfileRow>> {
        let client = self.db.client().await?;
        members::profiles(&client, status, department, limit, offset).await
    }

    async fn register(&self, profile: ProfileRow, documents: Vec<NewDocument>, audit: Record) -> AppResult<bool> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let named = if documents.is_empty() { None } else { keys::lock_current(&tx).await? };
        if !members::insert_profile(&tx, &profile).await? {
            return Ok(false);
        }
        insert_documents(&tx, named, documents).await?;
        audit::append(&tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn insert_documents(&self, documents: Vec<NewDocument>, audit: Record) -> AppResult<()> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let named = if documents.is_empty() { None } else { keys::lock_current(&tx).await? };
        insert_documents(&tx, named, documents).await?;
        audit::append(&tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn documents(&self, user_id: &str) -> AppResult<Vec<FileRow>> {
        let client = self.db.client().await?;
        members::documents(&client, user_id).await
    }

    async fn document(&self, user_id: &str, document_id: &str) -> AppResult<Option<FileRow>> {
        let Some(id) = row_id(document_id) else { return Ok(None) };
        let client = self.db.client().await?;
        members::document(&client, user_id, id).await
    }

    async fn set_verification(&self, user_id: &str, v: Verification, audit: Record) -> AppResult<()> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        members::set_verification(&tx, user_id, &v).await?;
        audit::append(&tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_operational_status(&self, user_id: &str, status: &str, at: &str, audit: Record) -> AppResult<()> {
        let at = time(at)?;
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        members::set_operational_status(&tx, user_id, status, at).await?;
        audit::append(&tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn team(&self, team_id: &str) -> AppResult<Option<TeamRow>> {
        let Some(id) = row_id(team_id) else { return Ok(None) };
        let client = self.db.client().await?;
        members::team(&client, id).await
    }

    async fn teams_of_department(&self, department: &str) -> AppResult<Vec<TeamRow>> {
        let client = self.db.client().await?;
        members::teams_of_department(&client, department).await
    }

    async fn team_members(&self, team_id: &str) -> AppResult<Vec<ProfileRow>> {
        let Some(id) = row_id(team_id) else { return Ok(Vec::new()) };
        let client = self.db.client().await?;
        members::team_members(&client, id).await
    }

    async fn create_team(&self, team: TeamRow, audit: Record) -> AppResult<()> {
        let (id, at) = (write_id(&team.team_id)?, time(&team.created_at)?);
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        members::insert_team(&tx, &team).await?;
        if let Some(lead) = &team.lead_user_id {
            members::set_team(&tx, lead, Some(id), at).await?;
        }
        audit::append(&tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn join_team(&self, user_id: &str, team_id: &str, at: &str, audit: Record) -> AppResult<()> {
        let (id, at) = (ref_id(team_id), time(at)?);
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        members::set_team(&tx, user_id, Some(id), at).await?;
        audit::append(&tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn leave_team(&self, user_id: &str, team_id: &str, clear_lead: bool, at: &str, audit: Record) -> AppResult<()> {
        let at = time(at)?;
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        members::set_team(&tx, user_id, None, at).await?;
        if clear_lead && let Some(id) = row_id(team_id) {
            members::clear_team_lead(&tx, id).await?;
        }
        audit::append(&tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn send_comm(&self, comm: CommRow, recipients: Vec<String>, check: CheckAudience, key: Option<WrapKey>, audit: Record) -> AppResult<()> {
        let mut comm = comm;
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let mut named = if key.is_some() { keys::lock_current(&tx).await? } else { None };
        // The audience as it stands until the commit: no verification or clearance changes under it.
        let mut facts = AudienceFacts { recipients: Vec::with_capacity(recipients.len()), sender: None, incident: None };
        for id in &recipients {
            facts.recipients.push((id.clone(), members::profile(&tx, id, true).await?));
        }
        facts.sender = members::profile(&tx, &comm.from_user_id, true).await?;
        if let Some(id) = comm.related_incident_id.as_deref().and_then(row_id) {
            facts.incident = incidents::incident(&tx, id, incidents::Lock::Share).await?;
        }
        check(&facts)?;
        if let Some(key) = key {
            let sealed = keys::wrap_with(&tx, &mut named, key).await?;
            comm.wrapped_key = Some(sealed.wrapped);
            comm.key_id = Some(sealed.key_id);
        }
        comms::insert_comm(&tx, &comm, &recipients).await?;
        audit::append(&tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn comm(&self, comm_id: &str) -> AppResult<Option<CommRow>> {
        let Some(id) = row_id(comm_id) else { return Ok(None) };
        let client = self.db.client().await?;
        comms::comm(&client, id, false).await
    }

    async fn visible_comm(&self, reader: &Reader, comm_id: &str) -> AppResult<Option<CommRow>> {
        let Some(id) = row_id(comm_id) else { return Ok(None) };
        let client = self.db.client().await?;
        comms::visible_comm(&client, reader, id).await
    }

    async fn visible_comm_with_extras(&self, reader: &Reader, comm_id: &str) -> AppResult<Option<(CommRow, CommExtras)>> {
        let Some(id) = row_id(comm_id) else { return Ok(None) };
        let mut client = self.db.client().await?;
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let Some(row) = comms::visible_comm(&tx, reader, id).await? else { return Ok(None) };
        let found = comms::with_extras(&tx, vec![row]).await?.pop();
        tx.commit().await?;
        Ok(found)
    }

    async fn visible_comms(&self, reader: &Reader, query: &CommQuery) -> AppResult<VisibleComms> {
        let mut client = self.db.client().await?;
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let (mut rows, total) = comms::visible_comms(&tx, reader, query).await?;
        let more = rows.len() > query.limit as usize;
        rows.truncate(query.limit as usize);
        let comms = comms::with_extras(&tx, rows).await?;
        tx.commit().await?;
        Ok(VisibleComms { comms, total, more })
    }

    async fn record_receipt(&self, comm_id: &str, user_id: &str, acknowledge: bool, at: &str, audit: Record) -> AppResult<ReceiptRow> {
        let (id, at) = (ref_id(comm_id), time(at)?);
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let (read_at, acknowledged_at) = comms::mark(&tx, id, user_id, acknowledge, at).await?;
        audit::append(&tx, &audit).await?;
        tx.commit().await?;
        Ok(ReceiptRow { user_id: user_id.to_owned(), read_at, acknowledged_at })
    }

    async fn insert_attachment(
        &self,
        attachment: FileRow,
        uploaded_by: &str,
        check: CheckAttachment,
        key: Option<WrapKey>,
        audit: Record,
    ) -> AppResult<()> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let mut named = if key.is_some() { keys::lock_current(&tx).await? } else { None };
        // The comm stays as read (its key, its deletion, its attachments) until the commit.
        let comm_id = row_id(&attachment.owner);
        let (comm, count) = match comm_id {
            Some(id) => (comms::comm(&tx, id, true).await?, comms::attachments(&tx, id).await?.len()),
            None => (None, 0),
        };
        check(comm.as_ref(), count)?;
        let comm_id = ref_id(&attachment.owner);
        if let Some(key) = key {
            let sealed = keys::wrap_with(&tx, &mut named, key).await?;
            comms::set_comm_key(&tx, comm_id, &sealed.wrapped, &sealed.key_id).await?;
        }
        comms::insert_attachment(&tx, &attachment, uploaded_by).await?;
        audit::append(&tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn attachment(&self, comm_id: &str, file_id: &str) -> AppResult<Option<FileRow>> {
        let (Some(id), Some(file)) = (row_id(comm_id), row_id(file_id)) else { return Ok(None) };
        let client = self.db.client().await?;
        comms::attachment(&client, id, file).await
    }

    async fn delete_comm_securely(&self, comm_id: &str, by: &str, at: &str, audit: DeletionRecord) -> AppResult<Option<Vec<String>>> {
        let Some(id) = row_id(comm_id) else { return Ok(None) };
        let at = time(at)?;
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        // Locked first: no attachment joins it, no rotation re-wraps its key, no second deletion
        // runs until this one commits.
        let Some(current) = comms::comm(&tx, id, true).await?.filter(|r| r.deleted_at.is_none()) else {
            return Ok(None);
        };
        let mut blobs: Vec<String> = comms::attachments(&tx, id).await?.into_iter().map(|a| a.blob_path).collect();
        if let Some(message) = current.blob_path {
            blobs.push(message);
        }
        comms::tombstone_comm(&tx, id, by, at).await?;
        audit::append(&tx, &audit(&blobs)).await?;
        tx.commit().await?;
        drop(client);
        // The destroyed key's and names' older row versions leave the tables' files.
        if let Err(e) = vacuum(&self.db, "tactical_comms, tactical_attachments").await {
            tracing::warn!(error = %e, "VACUUM after a secure deletion failed; autovacuum removes the old row versions later");
        }
        Ok(Some(blobs))
    }

    async fn situation_facts(&self, reader: &Reader, since: &str) -> AppResult<SituationFacts> {
        let since = time(since)?;
        let mut client = self.db.client().await?;
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let incidents = incidents::situation_incidents(&tx, &reader.department, since).await?;
        let emergencies = comms::visible_emergencies(&tx, reader, since).await?;
        tx.commit().await?;
        Ok(SituationFacts { incidents, emergencies })
    }

    async fn dashboard_facts(&self, reader: &Reader, comms_since: &str, incident_limit: u32) -> AppResult<DashboardFacts> {
        let since = time(comms_since)?;
        let mut client = self.db.client().await?;
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let (recent_comms, unread_comms) = comms::visible_counts(&tx, reader, since).await?;
        let filter = IncidentFilter { status: None, severity: None, since: None, limit: incident_limit, offset: 0 };
        let (escalated, _) = incidents::incidents(&tx, &reader.department, &IncidentFilter { status: Some("escalated".into()), ..filter.clone() }).await?;
        let (active, _) = incidents::incidents(&tx, &reader.department, &IncidentFilter { status: Some("active".into()), ..filter }).await?;
        let team = match reader.team_id.as_deref().and_then(row_id) {
            Some(id) => members::team(&tx, id).await?,
            None => None,
        };
        tx.commit().await?;
        Ok(DashboardFacts { recent_comms, unread_comms, open_incidents: escalated.into_iter().chain(active).collect(), team })
    }

    async fn insert_incident(&self, incident: IncidentRow, audit: Record) -> AppResult<()> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        incidents::insert_incident(&tx, &incident).await?;
        audit::append(&tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_incident_status(&self, incident_id: &str, change: ChangeIncident) -> AppResult<IncidentRow> {
        let id = row_id(incident_id);
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        // Locked as read: a concurrent change waits and then reads this one's result.
        let current = match id {
            Some(id) => incidents::incident(&tx, id, incidents::Lock::Update).await?,
            None => None,
        };
        let (row, record) = change(current)?;
        if let Some(id) = id {
            incidents::save_incident_status(&tx, id, &row).await?;
        }
        audit::append(&tx, &record).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn incident(&self, incident_id: &str) -> AppResult<Option<IncidentRow>> {
        let Some(id) = row_id(incident_id) else { return Ok(None) };
        let client = self.db.client().await?;
        incidents::incident(&client, id, incidents::Lock::Plain).await
    }

    async fn incidents(&self, department: &str, filter: &IncidentFilter) -> AppResult<(Vec<IncidentRow>, u64)> {
        let mut client = self.db.client().await?;
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let page = incidents::incidents(&tx, department, filter).await?;
        tx.commit().await?;
        Ok(page)
    }

    async fn insert_checkin(&self, checkin: CheckInRow, audit: Record) -> AppResult<()> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        incidents::insert_checkin(&tx, &checkin).await?;
        audit::append(&tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn checkins(&self, user_id: &str, limit: u32, offset: u32) -> AppResult<Vec<CheckInRow>> {
        let client = self.db.client().await?;
        incidents::checkins(&client, user_id, limit, offset).await
    }

    async fn append_audit(&self, record: Record) -> AppResult<()> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        audit::append(&tx, &record).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> AppResult<(Vec<AuditEntry>, u64)> {
        let mut client = self.db.client().await?;
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let page = audit::entries(&tx, filter).await?;
        tx.commit().await?;
        Ok(page)
    }

    async fn verify_audit(&self) -> AppResult<AuditVerification> {
        let client = self.db.client().await?;
        audit::verify(&client).await
    }

    async fn rotate_master_key(&self, new_key_id: &str, plan: PlanRotation) -> AppResult<Vec<Rewrapped>> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        // First the name (no wrapping under the old key commits from here on), then every
        // wrapped key, locked (no secure deletion loses its key to a re-wrap).
        keys::lock_for_rotation(&tx).await?;
        let (rewrapped, record) = plan(keys::wrapped_keys_for_update(&tx).await?)?;
        for r in &rewrapped {
            keys::set_wrapped_key(&tx, r.holder, &r.id, &r.wrapped, new_key_id).await?;
        }
        keys::set_current_key_id(&tx, new_key_id).await?;
        audit::append(&tx, &record).await?;
        tx.commit().await?;
        drop(client);
        // The old wrapped keys' row versions leave the tables' files.
        vacuum(&self.db, "tactical_comms, tactical_documents").await.map_err(|e| {
            AppError::internal(format!(
                "the rotation is committed, but the old wrapped keys' row versions could not be vacuumed ({e}); run VACUUM tactical_comms, tactical_documents"
            ))
        })?;
        Ok(rewrapped)
    }
}
