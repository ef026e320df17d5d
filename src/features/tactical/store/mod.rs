//! What Tactical HQ keeps, and the operations that keep it: one method per operation the service
//! needs, each atomic on its own. The rules (who may, limits, error choice) stay in the service;
//! where a rule depends on what a write reads, the service hands it in as a closure that the
//! store runs inside that write, so the store only guarantees atomicity.
//!
//! The audit log is part of this store, not a store of its own: every successful action is
//! appended in the same transaction as the work it records (no action without its entry, no
//! entry without its action), so each write method takes its [`Record`] and appends it with the
//! same guarantee as [`TacticalStore::append_audit`].
//!
//! Every append, whichever method makes it, is atomic with every other append, also from other
//! server instances on the same database: it reads the newest entry, computes the next link
//! ([`super::audit::next_entry`]) and inserts it, and no two appends ever read the same
//! predecessor. The log stays one valid hash chain.

use super::audit::Record;
use super::model::{AuditEntry, AuditFilter, AuditVerification, IncidentFilter};
use crate::error::AppResult;

pub mod postgres;
pub mod sqlite;

// ---- profiles and teams --------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct ProfileRow {
    pub user_id: String,
    pub tactical_user_id: String,
    pub rank: Option<String>,
    pub department: String,
    pub service_branch: String,
    pub badge_number: Option<String>,
    pub clearance: String,
    pub requested_clearance: Option<String>,
    pub verified_status: String,
    pub operational_status: String,
    pub is_verifier: bool,
    pub team_id: Option<String>,
    pub verified_by: Option<String>,
    pub verified_at: Option<String>,
    pub registered_at: String,
}

/// A verification decision, as stored on the profile.
#[derive(Debug, Clone)]
pub struct Verification {
    pub status: String,
    pub clearance: String,
    pub verifier: bool,
    pub by: String,
    pub at: String,
}

#[derive(Debug, Clone)]
pub struct TeamRow {
    pub team_id: String,
    pub team_name: String,
    pub team_type: Option<String>,
    pub department: String,
    pub lead_user_id: Option<String>,
    pub created_at: String,
}

// ---- comms ---------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct CommRow {
    pub comm_id: String,
    pub from_user_id: String,
    pub audience: String,
    pub to_user_id: Option<String>,
    pub team_id: Option<String>,
    pub department: String,
    pub message_type: String,
    pub label: String,
    pub priority: String,
    pub classification: String,
    pub content: Option<String>,
    pub is_encrypted: bool,
    pub client_encrypted: bool,
    pub wrapped_key: Option<Vec<u8>>,
    pub key_id: Option<String>,
    pub blob_path: Option<String>,
    pub related_incident_id: Option<String>,
    pub sent_at: String,
    pub deleted_at: Option<String>,
}

/// A reader's standing, which decides the comms they see. A comm is visible to a reader when it
/// is not deleted, its classification (public < confidential < secret < top secret, ranked 0 to
/// 3) is at most the reader's `rank`, and the reader is its sender, a listed recipient of a
/// direct comm, in the team of a team comm, or in the department of a department broadcast.
/// The one definition of visibility: the list, the single read, the counts and every action on
/// a comm go through it.
#[derive(Debug, Clone)]
pub struct Reader {
    pub user_id: String,
    pub rank: i64,
    pub team_id: Option<String>,
    pub department: String,
}

/// A page of visible comms: canonical filter values and the keyset cursor `(sent_at, comm_id)`
/// of the last comm of the previous page.
#[derive(Debug, Clone)]
pub struct CommQuery {
    /// Matches the message type, or (`label`) the word the sender used.
    pub message_type: Option<String>,
    pub label: Option<String>,
    pub priority: Option<String>,
    /// Sent at or after.
    pub since: Option<String>,
    pub cursor: Option<(String, String)>,
    pub limit: u32,
}

/// What a listed comm shows beside its row.
#[derive(Debug, Clone)]
pub struct CommExtras {
    pub recipients: Vec<String>,
    pub receipts: Vec<ReceiptRow>,
    pub attachments: Vec<FileRow>,
    pub sender_rank: Option<String>,
}

#[derive(Debug, Clone)]
pub struct VisibleComms {
    /// Newest first, at most the query's limit, each with its extras.
    pub comms: Vec<(CommRow, CommExtras)>,
    /// How many visible comms match the filter in all (the cursor aside).
    pub total: u64,
    /// Whether more comms follow the page.
    pub more: bool,
}

#[derive(Debug, Clone)]
pub struct ReceiptRow {
    pub user_id: String,
    pub read_at: Option<String>,
    pub acknowledged_at: Option<String>,
}

/// What a new comm's audience check reads inside the sending transaction.
#[derive(Debug, Clone)]
pub struct AudienceFacts {
    /// Each listed recipient with their profile, if they have one.
    pub recipients: Vec<(String, Option<ProfileRow>)>,
    /// The sender's profile.
    pub sender: Option<ProfileRow>,
    /// The related incident, when the comm names one and it exists.
    pub incident: Option<IncidentRow>,
}

/// The service's audience rule, run inside the sending transaction; an error aborts the send.
pub type CheckAudience = Box<dyn FnOnce(&AudienceFacts) -> AppResult<()> + Send>;

/// The service's rule for a new attachment, given the comm as it is now (`None` when there is no
/// such comm) and how many attachments it holds; an error aborts the attachment.
pub type CheckAttachment = Box<dyn FnOnce(Option<&CommRow>, usize) -> AppResult<()> + Send>;

/// Makes the audit entry of a secure deletion from the blob paths the comm held.
pub type DeletionRecord = Box<dyn FnOnce(&[String]) -> Record + Send>;

// ---- files ---------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct FileRow {
    /// `file_id` of an attachment, `document_id` of a document.
    pub id: String,
    /// The comm of an attachment, the member of a document.
    pub owner: String,
    pub name_sealed: Vec<u8>,
    pub content_type: String,
    pub size_bytes: u64,
    pub blob_path: String,
    pub created_at: String,
    /// A document's own data key; attachments use their comm's.
    pub wrapped_key: Option<Vec<u8>>,
    pub key_id: Option<String>,
}

/// A verification document to insert, with the wrapping of its own data key.
pub struct NewDocument {
    /// Its `wrapped_key` and `key_id` are set from `key`.
    pub row: FileRow,
    pub key: WrapKey,
}

// ---- data keys -----------------------------------------------------------------------------

/// A data key wrapped under a master key.
#[derive(Debug, Clone)]
pub struct SealedKey {
    pub wrapped: Vec<u8>,
    /// The master key that wraps it.
    pub key_id: String,
}

/// Wraps one new data key, run inside the writing transaction with the id of the master key the
/// database names as current (`None` when none is named yet). When none was named, the store
/// names the master key the wrapping used as current, in the same transaction. The name read
/// stays current until the write commits (no rotation commits in between), so a concurrent master
/// key rotation either re-wraps the new key or finds it wrapped under the new master key.
pub type WrapKey = Box<dyn FnOnce(Option<&str>) -> AppResult<SealedKey> + Send>;

/// The kind of row that holds a wrapped data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHolder {
    Comm,
    Document,
}

impl KeyHolder {
    /// The name the key's associated data binds it to (the table that first held it; part of
    /// every wrapped key ever written, so it never changes).
    pub fn aad_name(self) -> &'static str {
        match self {
            KeyHolder::Comm => "tactical_comms",
            KeyHolder::Document => "tactical_documents",
        }
    }
}

/// A data key as a row holds it.
#[derive(Debug, Clone)]
pub struct WrappedKey {
    pub holder: KeyHolder,
    pub id: String,
    pub key: SealedKey,
}

/// A data key re-wrapped under a new master key.
#[derive(Debug, Clone)]
pub struct Rewrapped {
    pub holder: KeyHolder,
    pub id: String,
    pub previous_key_id: String,
    pub wrapped: Vec<u8>,
}

/// The service's plan of a rotation: given every wrapped data key, the keys to re-wrap and the
/// audit entry. An error aborts the rotation.
pub type PlanRotation = Box<dyn FnOnce(Vec<WrappedKey>) -> AppResult<(Vec<Rewrapped>, Record)> + Send>;

// ---- incidents and check-ins ---------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct IncidentRow {
    pub incident_id: String,
    pub title: String,
    pub description: String,
    pub severity: String,
    pub status: String,
    pub location: Option<String>,
    pub department: String,
    pub reported_by: String,
    pub escalations: u32,
    pub reported_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
}

/// The service's change of an incident's status, given the incident as it is now (`None` when
/// there is no such incident): the changed row and its audit entry, or an error that aborts.
pub type ChangeIncident = Box<dyn FnOnce(Option<IncidentRow>) -> AppResult<(IncidentRow, Record)> + Send>;

#[derive(Debug, Clone)]
pub struct CheckInRow {
    pub session_id: String,
    pub user_id: String,
    pub session_type: String,
    pub indicators: String,
    pub stress_level: f64,
    pub band: String,
    pub created_at: String,
}

/// What the situation report reads.
#[derive(Debug, Clone)]
pub struct SituationFacts {
    /// The department's active and escalated incidents and any reported since, newest first.
    pub incidents: Vec<IncidentRow>,
    /// Send times of the emergency comms the reader may see, sent since.
    pub emergencies: Vec<String>,
}

/// What the dashboard reads.
#[derive(Debug, Clone)]
pub struct DashboardFacts {
    /// Comms the reader may see sent since, and how many of them the reader has not marked read.
    pub recent_comms: u64,
    pub unread_comms: u64,
    /// The department's escalated incidents, then its active ones, each newest first and each
    /// at most the limit asked for.
    pub open_incidents: Vec<IncidentRow>,
    /// The reader's team.
    pub team: Option<TeamRow>,
}

#[async_trait::async_trait]
pub trait TacticalStore: Send + Sync + 'static {
    // ---- profiles ----------------------------------------------------------------------------

    /// The member's profile; `None` when they never registered.
    async fn profile(&self, user_id: &str) -> AppResult<Option<ProfileRow>>;

    /// Profiles by verification status and department (all when `None`), oldest registration
    /// first, then by user id.
    async fn profiles(&self, status: Option<&str>, department: Option<&str>, limit: u32, offset: u32) -> AppResult<Vec<ProfileRow>>;

    /// Registers: inserts the profile (clearance public, pending, off duty, whatever the row
    /// says of those), its documents and the audit entry, together. `false`, with nothing
    /// written, when the user has a profile already.
    async fn register(&self, profile: ProfileRow, documents: Vec<NewDocument>, audit: Record) -> AppResult<bool>;

    /// Inserts documents of an existing member and the audit entry, together.
    async fn insert_documents(&self, documents: Vec<NewDocument>, audit: Record) -> AppResult<()>;

    /// The member's documents, oldest first.
    async fn documents(&self, user_id: &str) -> AppResult<Vec<FileRow>>;

    /// One document of the member; `None` when the member has no such document.
    async fn document(&self, user_id: &str, document_id: &str) -> AppResult<Option<FileRow>>;

    /// Records a verification decision on the profile and the audit entry, together (nothing
    /// changes but the entry when there is no such profile).
    async fn set_verification(&self, user_id: &str, verification: Verification, audit: Record) -> AppResult<()>;

    /// Sets the operational status and appends the audit entry, together.
    async fn set_operational_status(&self, user_id: &str, status: &str, at: &str, audit: Record) -> AppResult<()>;

    // ---- teams -------------------------------------------------------------------------------

    /// The team; `None` when there is no such team.
    async fn team(&self, team_id: &str) -> AppResult<Option<TeamRow>>;

    /// A department's teams by name.
    async fn teams_of_department(&self, department: &str) -> AppResult<Vec<TeamRow>>;

    /// The members of a team by user id.
    async fn team_members(&self, team_id: &str) -> AppResult<Vec<ProfileRow>>;

    /// Inserts the team, moves its lead (when it names one) into it, and appends the audit
    /// entry, together.
    async fn create_team(&self, team: TeamRow, audit: Record) -> AppResult<()>;

    /// Moves the member into the team and appends the audit entry, together.
    async fn join_team(&self, user_id: &str, team_id: &str, at: &str, audit: Record) -> AppResult<()>;

    /// Takes the member out of their team (and with `clear_lead`, leaves the team without a
    /// lead) and appends the audit entry, together.
    async fn leave_team(&self, user_id: &str, team_id: &str, clear_lead: bool, at: &str, audit: Record) -> AppResult<()>;

    // ---- comms -------------------------------------------------------------------------------

    /// Sends a comm: runs `check` over the audience as it is now, wraps the comm's data key
    /// (when it has one) under the current master key, inserts the comm with its recipients,
    /// and appends the audit entry, all in one transaction.
    async fn send_comm(&self, comm: CommRow, recipients: Vec<String>, check: CheckAudience, key: Option<WrapKey>, audit: Record) -> AppResult<()>;

    /// The comm regardless of who asks, deleted or not; `None` when there is no such comm.
    async fn comm(&self, comm_id: &str) -> AppResult<Option<CommRow>>;

    /// The comm if `reader` may see it (see [`Reader`]); `None` otherwise.
    async fn visible_comm(&self, reader: &Reader, comm_id: &str) -> AppResult<Option<CommRow>>;

    /// The comm with its extras, read at one moment, if `reader` may see it; `None` otherwise.
    async fn visible_comm_with_extras(&self, reader: &Reader, comm_id: &str) -> AppResult<Option<(CommRow, CommExtras)>>;

    /// A page of the comms `reader` may see matching `query`, newest first (by send time, then
    /// id), with their extras and how many match in all.
    async fn visible_comms(&self, reader: &Reader, query: &CommQuery) -> AppResult<VisibleComms>;

    /// Records that `user_id` read the comm (and with `acknowledge`, acknowledged it) at `at`,
    /// keeping earlier times, and appends the audit entry, together. Returns the receipt as
    /// it stands afterwards.
    async fn record_receipt(&self, comm_id: &str, user_id: &str, acknowledge: bool, at: &str, audit: Record) -> AppResult<ReceiptRow>;

    /// Attaches a file: runs `check` over the comm and its attachment count as they are now,
    /// gives the comm `key` (wrapped under the current master key) when one is given, inserts
    /// the attachment and appends the audit entry, all in one transaction.
    async fn insert_attachment(
        &self,
        attachment: FileRow,
        uploaded_by: &str,
        check: CheckAttachment,
        key: Option<WrapKey>,
        audit: Record,
    ) -> AppResult<()>;

    /// One attachment of a comm; `None` when the comm has no such attachment.
    async fn attachment(&self, comm_id: &str, file_id: &str) -> AppResult<Option<FileRow>>;

    /// Secure deletion of a comm's secrets: in one transaction, its wrapped data key, any
    /// plaintext and its attachments' rows (their sealed names) go, a tombstone (`by`, `at`)
    /// stays, and the audit entry `audit` makes from the comm's blob paths is appended. When it
    /// returns, the old bytes are not left in the database's files or logs (as far as the
    /// database allows: a log a busy reader holds back is logged and cleared later). Returns the
    /// blob paths (attachments, then the message) for the caller to shred; `None`, with nothing
    /// written, when there is no such comm or it is deleted already.
    async fn delete_comm_securely(&self, comm_id: &str, by: &str, at: &str, audit: DeletionRecord) -> AppResult<Option<Vec<String>>>;

    /// Of the comms `reader` may see: the send times of the emergencies sent since `since`,
    /// with the department's open and recent incidents (see [`SituationFacts`]).
    async fn situation_facts(&self, reader: &Reader, since: &str) -> AppResult<SituationFacts>;

    /// What the reader's dashboard shows (see [`DashboardFacts`]): comms since `comms_since`,
    /// at most `incident_limit` incidents of each open status.
    async fn dashboard_facts(&self, reader: &Reader, comms_since: &str, incident_limit: u32) -> AppResult<DashboardFacts>;

    // ---- incidents and check-ins -------------------------------------------------------------

    /// Inserts an active incident with no escalations and appends the audit entry, together.
    async fn insert_incident(&self, incident: IncidentRow, audit: Record) -> AppResult<()>;

    /// Changes an incident's status: reads it, runs `change`, saves the changed status,
    /// escalation count and times, and appends the audit entry, all in one transaction (no
    /// concurrent change is lost). Returns the changed row.
    async fn update_incident_status(&self, incident_id: &str, change: ChangeIncident) -> AppResult<IncidentRow>;

    /// A department's incidents matching the filter, newest first, and how many match in all.
    async fn incidents(&self, department: &str, filter: &IncidentFilter) -> AppResult<(Vec<IncidentRow>, u64)>;

    /// The incident, whoever asks; `None` when there is no such incident.
    async fn incident(&self, incident_id: &str) -> AppResult<Option<IncidentRow>>;

    /// Inserts a stress check-in and appends the audit entry, together.
    async fn insert_checkin(&self, checkin: CheckInRow, audit: Record) -> AppResult<()>;

    /// The member's check-ins, newest first.
    async fn checkins(&self, user_id: &str, limit: u32, offset: u32) -> AppResult<Vec<CheckInRow>>;

    // ---- the audit log -----------------------------------------------------------------------

    /// Appends one entry to the hash chain, on its own (see the module's note on appends).
    async fn append_audit(&self, record: Record) -> AppResult<()>;

    /// Entries matching the filter, newest first, and how many match in all.
    async fn audit_entries(&self, filter: &AuditFilter) -> AppResult<(Vec<AuditEntry>, u64)>;

    /// Walks the whole chain oldest first, checking every hash and link
    /// ([`super::audit::ChainCheck`]), without holding it in memory.
    async fn verify_audit(&self) -> AppResult<AuditVerification>;

    // ---- master key rotation -----------------------------------------------------------------

    /// Rotates the master key: in one transaction, reads every wrapped data key, runs `plan`,
    /// stores each re-wrapped key under `new_key_id`, names `new_key_id` as the current master
    /// key and appends the plan's audit entry; any error rolls all of it back. Afterwards the
    /// old wrapped keys are not left in the database's logs: when that cannot be done, the
    /// rotation is committed and an error says so. Returns the re-wrapped keys.
    async fn rotate_master_key(&self, new_key_id: &str, plan: PlanRotation) -> AppResult<Vec<Rewrapped>>;
}
