//! SQL of Tactical HQ: member profiles, teams, comms with their recipients, receipts and
//! attachments, verification documents, incidents and stress check-ins.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::model::{CommFilter, IncidentFilter};
use crate::db::CachedSql;

// ---- profiles ------------------------------------------------------------------------------

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

const PROFILE_COLUMNS: &str = "user_id, tactical_user_id, rank, department, service_branch, badge_number, clearance_level,
    requested_clearance, verified_status, operational_status, is_verifier, team_id, verified_by, verified_at, registered_at";

fn profile_of(r: &Row<'_>) -> rusqlite::Result<ProfileRow> {
    Ok(ProfileRow {
        user_id: r.get(0)?,
        tactical_user_id: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        rank: r.get(2)?,
        department: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
        service_branch: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
        badge_number: r.get(5)?,
        clearance: r.get(6)?,
        requested_clearance: r.get(7)?,
        verified_status: r.get(8)?,
        operational_status: r.get(9)?,
        is_verifier: r.get(10)?,
        team_id: r.get(11)?,
        verified_by: r.get(12)?,
        verified_at: r.get(13)?,
        registered_at: r.get(14)?,
    })
}

pub fn profile(c: &Connection, user_id: &str) -> rusqlite::Result<Option<ProfileRow>> {
    c.query_row_cached(&format!("SELECT {PROFILE_COLUMNS} FROM tactical_users WHERE user_id = ?1"), [user_id], profile_of).optional()
}

/// Profiles by verification status and department (all when `None`), oldest registration first.
pub fn profiles(c: &Connection, status: Option<&str>, department: Option<&str>, limit: u32, offset: u32) -> rusqlite::Result<Vec<ProfileRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {PROFILE_COLUMNS} FROM tactical_users WHERE (?1 IS NULL OR verified_status = ?1) AND (?2 IS NULL OR department = ?2)
         ORDER BY registered_at, user_id LIMIT ?3 OFFSET ?4"
    ))?;
    stmt.query_map(params![status, department, limit, offset], profile_of)?.collect()
}

/// Inserts the profile; false when the user has one already.
pub fn insert_profile(c: &Connection, p: &ProfileRow) -> rusqlite::Result<bool> {
    Ok(c.execute_cached(
        "INSERT INTO tactical_users (user_id, tactical_user_id, rank, department, service_branch, badge_number,
           clearance_level, requested_clearance, verified_status, operational_status, registered_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'public', ?7, 'pending', 'off_duty', ?8, ?8)
         ON CONFLICT (user_id) DO NOTHING",
        params![p.user_id, p.tactical_user_id, p.rank, p.department, p.service_branch, p.badge_number, p.requested_clearance, p.registered_at],
    )? == 1)
}

pub fn set_verification(c: &Connection, user_id: &str, status: &str, clearance: &str, verifier: bool, by: &str, at: &str) -> rusqlite::Result<()> {
    c.execute_cached(
        "UPDATE tactical_users SET verified_status = ?2, clearance_level = ?3, is_verifier = ?4, verified_by = ?5,
           verified_at = ?6, updated_at = ?6 WHERE user_id = ?1",
        params![user_id, status, clearance, verifier, by, at],
    )?;
    Ok(())
}

pub fn set_operational_status(c: &Connection, user_id: &str, status: &str, at: &str) -> rusqlite::Result<()> {
    c.execute_cached("UPDATE tactical_users SET operational_status = ?2, updated_at = ?3 WHERE user_id = ?1", params![user_id, status, at])?;
    Ok(())
}

pub fn set_team(c: &Connection, user_id: &str, team_id: Option<&str>, at: &str) -> rusqlite::Result<()> {
    c.execute_cached("UPDATE tactical_users SET team_id = ?2, updated_at = ?3 WHERE user_id = ?1", params![user_id, team_id, at])?;
    Ok(())
}

// ---- teams ---------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct TeamRow {
    pub team_id: String,
    pub team_name: String,
    pub team_type: Option<String>,
    pub department: String,
    pub lead_user_id: Option<String>,
    pub created_at: String,
}

fn team_of(r: &Row<'_>) -> rusqlite::Result<TeamRow> {
    Ok(TeamRow {
        team_id: r.get(0)?,
        team_name: r.get(1)?,
        team_type: r.get(2)?,
        department: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
        lead_user_id: r.get(4)?,
        created_at: r.get(5)?,
    })
}

const TEAM_COLUMNS: &str = "team_id, team_name, team_type, department, lead_user_id, created_at";

pub fn team(c: &Connection, team_id: &str) -> rusqlite::Result<Option<TeamRow>> {
    c.query_row_cached(&format!("SELECT {TEAM_COLUMNS} FROM tactical_teams WHERE team_id = ?1"), [team_id], team_of).optional()
}

pub fn teams_of_department(c: &Connection, department: &str) -> rusqlite::Result<Vec<TeamRow>> {
    let mut stmt = c.prepare_cached(&format!("SELECT {TEAM_COLUMNS} FROM tactical_teams WHERE department = ?1 ORDER BY team_name, team_id"))?;
    stmt.query_map([department], team_of)?.collect()
}

pub fn insert_team(c: &Connection, t: &TeamRow) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO tactical_teams (team_id, team_name, team_type, department, lead_user_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![t.team_id, t.team_name, t.team_type, t.department, t.lead_user_id, t.created_at],
    )?;
    Ok(())
}

pub fn set_team_lead(c: &Connection, team_id: &str, lead: Option<&str>) -> rusqlite::Result<()> {
    c.execute_cached("UPDATE tactical_teams SET lead_user_id = ?2 WHERE team_id = ?1", params![team_id, lead])?;
    Ok(())
}

pub fn team_members(c: &Connection, team_id: &str) -> rusqlite::Result<Vec<ProfileRow>> {
    let mut stmt = c.prepare_cached(&format!("SELECT {PROFILE_COLUMNS} FROM tactical_users WHERE team_id = ?1 ORDER BY user_id"))?;
    stmt.query_map([team_id], profile_of)?.collect()
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

const COMM_COLUMNS: &str = "c.comm_id, c.from_user_id, c.audience, c.to_user_id, c.team_id, c.department, c.message_type,
    c.label, c.priority, c.classification, c.content, c.is_encrypted, c.client_encrypted, c.wrapped_key, c.key_id,
    c.blob_path, c.related_incident_id, c.sent_at, c.deleted_at";

fn comm_of(r: &Row<'_>) -> rusqlite::Result<CommRow> {
    Ok(CommRow {
        comm_id: r.get(0)?,
        from_user_id: r.get(1)?,
        audience: r.get(2)?,
        to_user_id: r.get(3)?,
        team_id: r.get(4)?,
        department: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
        message_type: r.get(6)?,
        label: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
        priority: r.get(8)?,
        classification: r.get(9)?,
        content: r.get(10)?,
        is_encrypted: r.get(11)?,
        client_encrypted: r.get(12)?,
        wrapped_key: r.get(13)?,
        key_id: r.get(14)?,
        blob_path: r.get(15)?,
        related_incident_id: r.get(16)?,
        sent_at: r.get(17)?,
        deleted_at: r.get(18)?,
    })
}

pub fn insert_comm(c: &Connection, m: &CommRow, recipients: &[String]) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO tactical_comms (comm_id, from_user_id, audience, to_user_id, team_id, department, message_type, label,
           priority, classification, content, is_encrypted, client_encrypted, wrapped_key, key_id, blob_path,
           related_incident_id, sent_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
            m.comm_id, m.from_user_id, m.audience, m.to_user_id, m.team_id, m.department, m.message_type, m.label,
            m.priority, m.classification, m.content, m.is_encrypted, m.client_encrypted, m.wrapped_key, m.key_id,
            m.blob_path, m.related_incident_id, m.sent_at
        ],
    )?;
    for user in recipients {
        c.execute_cached("INSERT INTO tactical_comm_recipients (comm_id, user_id) VALUES (?1, ?2)", params![m.comm_id, user])?;
    }
    Ok(())
}

/// Who may see a comm, as SQL over `c` (the comm) for the reader `:me`: sender, listed
/// recipient, member of its team, or member of its department for a broadcast; never above the
/// reader's clearance; never once deleted. The one definition of visibility: the list, the single
/// read and every action on a comm go through it.
const VISIBLE: &str = "c.deleted_at IS NULL
    AND (CASE c.classification WHEN 'public' THEN 0 WHEN 'confidential' THEN 1 WHEN 'secret' THEN 2 ELSE 3 END) <= :rank
    AND (c.from_user_id = :me
         OR (c.audience = 'direct' AND EXISTS (SELECT 1 FROM tactical_comm_recipients r WHERE r.comm_id = c.comm_id AND r.user_id = :me))
         OR (c.audience = 'team' AND c.team_id = :team)
         OR (c.audience = 'department' AND c.department = :department))";

/// The reader's standing, bound to [`VISIBLE`]'s parameters.
pub struct Reader<'a> {
    pub user_id: &'a str,
    pub rank: i64,
    pub team_id: Option<&'a str>,
    pub department: &'a str,
}

/// The comm if `reader` may see it.
pub fn visible_comm(c: &Connection, reader: &Reader, comm_id: &str) -> rusqlite::Result<Option<CommRow>> {
    c.query_row_cached(
        &format!("SELECT {COMM_COLUMNS} FROM tactical_comms c WHERE c.comm_id = :id AND {VISIBLE}"),
        rusqlite::named_params! {":id": comm_id, ":me": reader.user_id, ":rank": reader.rank, ":team": reader.team_id, ":department": reader.department},
        comm_of,
    )
    .optional()
}

/// A comm regardless of who asks (for its sender's or an admin's deletion).
pub fn comm(c: &Connection, comm_id: &str) -> rusqlite::Result<Option<CommRow>> {
    c.query_row_cached(&format!("SELECT {COMM_COLUMNS} FROM tactical_comms c WHERE c.comm_id = ?1"), [comm_id], comm_of).optional()
}

/// Parsed filter values: canonical type and priority, and the keyset cursor `(sent_at, comm_id)`.
pub struct CommQuery<'a> {
    pub filter: &'a CommFilter,
    pub message_type: Option<&'a str>,
    pub label: Option<&'a str>,
    pub priority: Option<&'a str>,
    pub cursor: Option<(String, String)>,
}

/// A page of the comms `reader` may see, newest first, and how many match in all.
pub fn visible_comms(c: &Connection, reader: &Reader, q: &CommQuery) -> rusqlite::Result<(Vec<CommRow>, u64)> {
    let filters = "(:type IS NULL OR c.message_type = :type OR c.label = :label)
        AND (:priority IS NULL OR c.priority = :priority) AND (:since IS NULL OR c.sent_at >= :since)";
    let (cursor_at, cursor_id) = q.cursor.clone().unzip();
    let total = c.query_row_cached(
        &format!("SELECT COUNT(*) FROM tactical_comms c WHERE {VISIBLE} AND {filters}"),
        rusqlite::named_params! {
            ":me": reader.user_id, ":rank": reader.rank, ":team": reader.team_id, ":department": reader.department,
            ":type": q.message_type, ":label": q.label, ":priority": q.priority, ":since": q.filter.since,
        },
        |r| r.get(0),
    )?;
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COMM_COLUMNS} FROM tactical_comms c WHERE {VISIBLE} AND {filters}
           AND (:cursor_at IS NULL OR (c.sent_at, c.comm_id) < (:cursor_at, :cursor_id))
         ORDER BY c.sent_at DESC, c.comm_id DESC LIMIT :limit"
    ))?;
    let rows = stmt
        .query_map(
            rusqlite::named_params! {
                ":me": reader.user_id, ":rank": reader.rank, ":team": reader.team_id, ":department": reader.department,
                ":type": q.message_type, ":label": q.label, ":priority": q.priority, ":since": q.filter.since,
                ":cursor_at": cursor_at, ":cursor_id": cursor_id, ":limit": q.filter.limit + 1,
            },
            comm_of,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}

/// Visible comms sent at or after `since`, and how many of them `reader` has not marked read.
pub fn visible_counts(c: &Connection, reader: &Reader, since: &str) -> rusqlite::Result<(u64, u64)> {
    c.query_row_cached(
        &format!(
            "SELECT COUNT(*), COALESCE(SUM(NOT EXISTS (SELECT 1 FROM tactical_comm_receipts x
                 WHERE x.comm_id = c.comm_id AND x.user_id = :me AND x.read_at IS NOT NULL)), 0)
             FROM tactical_comms c WHERE {VISIBLE} AND c.sent_at >= :since"
        ),
        rusqlite::named_params! {":me": reader.user_id, ":rank": reader.rank, ":team": reader.team_id, ":department": reader.department, ":since": since},
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Send times of the visible emergency comms since `since`.
pub fn visible_emergencies(c: &Connection, reader: &Reader, since: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT c.sent_at FROM tactical_comms c WHERE {VISIBLE} AND c.message_type = 'emergency' AND c.sent_at >= :since"
    ))?;
    stmt.query_map(
        rusqlite::named_params! {":me": reader.user_id, ":rank": reader.rank, ":team": reader.team_id, ":department": reader.department, ":since": since},
        |r| r.get(0),
    )?
    .collect()
}

pub fn recipients(c: &Connection, comm_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = c.prepare_cached("SELECT user_id FROM tactical_comm_recipients WHERE comm_id = ?1 ORDER BY user_id")?;
    stmt.query_map([comm_id], |r| r.get(0))?.collect()
}

/// The rank of the comm's sender.
pub fn sender_rank(c: &Connection, comm_id: &str) -> rusqlite::Result<Option<String>> {
    c.query_row_cached(
        "SELECT u.rank FROM tactical_comms c JOIN tactical_users u ON u.user_id = c.from_user_id WHERE c.comm_id = ?1",
        [comm_id],
        |r| r.get(0),
    )
}

#[derive(Debug, Clone)]
pub struct ReceiptRow {
    pub user_id: String,
    pub read_at: Option<String>,
    pub acknowledged_at: Option<String>,
}

pub fn receipts(c: &Connection, comm_id: &str) -> rusqlite::Result<Vec<ReceiptRow>> {
    let mut stmt = c.prepare_cached("SELECT user_id, read_at, acknowledged_at FROM tactical_comm_receipts WHERE comm_id = ?1 ORDER BY user_id")?;
    stmt.query_map([comm_id], |r| Ok(ReceiptRow { user_id: r.get(0)?, read_at: r.get(1)?, acknowledged_at: r.get(2)? }))?.collect()
}

/// Records a read (and with `acknowledge`, an acknowledgement); earlier times are kept.
pub fn mark(c: &Connection, comm_id: &str, user_id: &str, acknowledge: bool, at: &str) -> rusqlite::Result<(Option<String>, Option<String>)> {
    let ack = acknowledge.then_some(at);
    c.execute_cached(
        "INSERT INTO tactical_comm_receipts (comm_id, user_id, read_at, acknowledged_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (comm_id, user_id) DO UPDATE SET read_at = COALESCE(read_at, excluded.read_at),
           acknowledged_at = COALESCE(acknowledged_at, excluded.acknowledged_at)",
        params![comm_id, user_id, at, ack],
    )?;
    c.query_row_cached("SELECT read_at, acknowledged_at FROM tactical_comm_receipts WHERE comm_id = ?1 AND user_id = ?2", params![comm_id, user_id], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
}

/// Gives a comm that had none a data key (for its first attachment).
pub fn set_comm_key(c: &Connection, comm_id: &str, wrapped_key: &[u8], key_id: &str) -> rusqlite::Result<()> {
    c.execute_cached("UPDATE tactical_comms SET wrapped_key = ?2, key_id = ?3 WHERE comm_id = ?1", params![comm_id, wrapped_key, key_id])?;
    Ok(())
}

/// Secure deletion of the row's secrets: the wrapped key, any plaintext, and the attachments'
/// sealed names go; a tombstone (who, when) stays.
pub fn tombstone_comm(c: &Connection, comm_id: &str, by: &str, at: &str) -> rusqlite::Result<()> {
    c.execute_cached(
        "UPDATE tactical_comms SET wrapped_key = NULL, key_id = NULL, content = NULL, encrypted_content = NULL,
           deleted_at = ?2, deleted_by = ?3 WHERE comm_id = ?1",
        params![comm_id, at, by],
    )?;
    c.execute_cached("DELETE FROM tactical_attachments WHERE comm_id = ?1", [comm_id])?;
    Ok(())
}

// ---- attachments and documents -------------------------------------------------------------

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

fn attachment_of(r: &Row<'_>) -> rusqlite::Result<FileRow> {
    Ok(FileRow {
        id: r.get(0)?,
        owner: r.get(1)?,
        name_sealed: r.get(2)?,
        content_type: r.get(3)?,
        size_bytes: r.get(4)?,
        blob_path: r.get(5)?,
        created_at: r.get(6)?,
        wrapped_key: None,
        key_id: None,
    })
}

pub fn insert_attachment(c: &Connection, f: &FileRow, uploaded_by: &str) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO tactical_attachments (file_id, comm_id, name_sealed, content_type, size_bytes, blob_path, uploaded_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![f.id, f.owner, f.name_sealed, f.content_type, f.size_bytes, f.blob_path, uploaded_by, f.created_at],
    )?;
    Ok(())
}

const ATTACHMENT_COLUMNS: &str = "file_id, comm_id, name_sealed, content_type, size_bytes, blob_path, created_at";

pub fn attachments(c: &Connection, comm_id: &str) -> rusqlite::Result<Vec<FileRow>> {
    let mut stmt = c.prepare_cached(&format!("SELECT {ATTACHMENT_COLUMNS} FROM tactical_attachments WHERE comm_id = ?1 ORDER BY created_at, file_id"))?;
    stmt.query_map([comm_id], attachment_of)?.collect()
}

pub fn attachment(c: &Connection, comm_id: &str, file_id: &str) -> rusqlite::Result<Option<FileRow>> {
    c.query_row_cached(
        &format!("SELECT {ATTACHMENT_COLUMNS} FROM tactical_attachments WHERE comm_id = ?1 AND file_id = ?2"),
        params![comm_id, file_id],
        attachment_of,
    )
    .optional()
}

fn document_of(r: &Row<'_>) -> rusqlite::Result<FileRow> {
    Ok(FileRow { wrapped_key: r.get(7)?, key_id: r.get(8)?, ..attachment_of(r)? })
}

const DOCUMENT_COLUMNS: &str = "document_id, user_id, name_sealed, content_type, size_bytes, blob_path, created_at, wrapped_key, key_id";

pub fn insert_document(c: &Connection, f: &FileRow) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO tactical_documents (document_id, user_id, name_sealed, content_type, size_bytes, blob_path, wrapped_key, key_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![f.id, f.owner, f.name_sealed, f.content_type, f.size_bytes, f.blob_path, f.wrapped_key, f.key_id, f.created_at],
    )?;
    Ok(())
}

pub fn documents(c: &Connection, user_id: &str) -> rusqlite::Result<Vec<FileRow>> {
    let mut stmt = c.prepare_cached(&format!("SELECT {DOCUMENT_COLUMNS} FROM tactical_documents WHERE user_id = ?1 ORDER BY created_at, document_id"))?;
    stmt.query_map([user_id], document_of)?.collect()
}

pub fn document(c: &Connection, user_id: &str, document_id: &str) -> rusqlite::Result<Option<FileRow>> {
    c.query_row_cached(
        &format!("SELECT {DOCUMENT_COLUMNS} FROM tactical_documents WHERE user_id = ?1 AND document_id = ?2"),
        params![user_id, document_id],
        document_of,
    )
    .optional()
}

// ---- wrapped keys (for rotation) -----------------------------------------------------------

/// A data key wrapped in a row of `table`.
pub struct WrappedKey {
    pub table: &'static str,
    pub id: String,
    pub wrapped: Vec<u8>,
    pub key_id: String,
}

/// Every wrapped data key.
pub fn wrapped_keys(c: &Connection) -> rusqlite::Result<Vec<WrappedKey>> {
    let mut out = Vec::new();
    for (table, id) in [("tactical_comms", "comm_id"), ("tactical_documents", "document_id")] {
        let mut stmt = c.prepare_cached(&format!("SELECT {id}, wrapped_key, key_id FROM {table} WHERE wrapped_key IS NOT NULL"))?;
        let rows = stmt.query_map([], |r| Ok(WrappedKey { table, id: r.get(0)?, wrapped: r.get(1)?, key_id: r.get(2)? }))?;
        out.extend(rows.collect::<rusqlite::Result<Vec<_>>>()?);
    }
    Ok(out)
}

pub fn set_wrapped_key(c: &Connection, table: &str, id: &str, wrapped: &[u8], key_id: &str) -> rusqlite::Result<()> {
    let id_column = if table == "tactical_comms" { "comm_id" } else { "document_id" };
    c.execute_cached(&format!("UPDATE {table} SET wrapped_key = ?2, key_id = ?3 WHERE {id_column} = ?1"), params![id, wrapped, key_id])?;
    Ok(())
}

pub fn current_key_id(c: &Connection) -> rusqlite::Result<Option<String>> {
    c.query_row_cached("SELECT key_id FROM key_state WHERE name = 'master'", [], |r| r.get(0)).optional()
}

pub fn set_current_key_id(c: &Connection, key_id: &str) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO key_state (name, key_id) VALUES ('master', ?1) ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id",
        [key_id],
    )?;
    Ok(())
}

// ---- incidents -----------------------------------------------------------------------------

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

const INCIDENT_COLUMNS: &str =
    "incident_id, title, description, severity, status, location, department, reported_by, escalations, reported_at, updated_at, resolved_at";

fn incident_of(r: &Row<'_>) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        incident_id: r.get(0)?,
        title: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        description: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        severity: r.get::<_, Option<String>>(3)?.unwrap_or_else(|| "low".into()),
        status: r.get(4)?,
        location: r.get(5)?,
        department: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
        reported_by: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
        escalations: r.get(8)?,
        reported_at: r.get(9)?,
        updated_at: r.get(10)?,
        resolved_at: r.get(11)?,
    })
}

pub fn insert_incident(c: &Connection, i: &IncidentRow) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO tactical_incidents (incident_id, title, description, severity, status, location, department, reported_by,
           escalations, reported_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6, ?7, 0, ?8, ?8)",
        params![i.incident_id, i.title, i.description, i.severity, i.location, i.department, i.reported_by, i.reported_at],
    )?;
    Ok(())
}

pub fn incident(c: &Connection, incident_id: &str) -> rusqlite::Result<Option<IncidentRow>> {
    c.query_row_cached(&format!("SELECT {INCIDENT_COLUMNS} FROM tactical_incidents WHERE incident_id = ?1"), [incident_id], incident_of).optional()
}

pub fn save_incident_status(c: &Connection, i: &IncidentRow) -> rusqlite::Result<()> {
    c.execute_cached(
        "UPDATE tactical_incidents SET status = ?2, escalations = ?3, updated_at = ?4, resolved_at = ?5 WHERE incident_id = ?1",
        params![i.incident_id, i.status, i.escalations, i.updated_at, i.resolved_at],
    )?;
    Ok(())
}

/// A department's incidents matching `f`, newest first, and how many match.
pub fn incidents(c: &Connection, department: &str, f: &IncidentFilter) -> rusqlite::Result<(Vec<IncidentRow>, u64)> {
    let filter = "department = ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR severity = ?3) AND (?4 IS NULL OR reported_at >= ?4)";
    let total = c.query_row_cached(
        &format!("SELECT COUNT(*) FROM tactical_incidents WHERE {filter}"),
        params![department, f.status, f.severity, f.since],
        |r| r.get(0),
    )?;
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {INCIDENT_COLUMNS} FROM tactical_incidents WHERE {filter} ORDER BY reported_at DESC, incident_id DESC LIMIT ?5 OFFSET ?6"
    ))?;
    let rows = stmt
        .query_map(params![department, f.status, f.severity, f.since, f.limit, f.offset], incident_of)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}

/// A department's active and escalated incidents, and any reported since `since`.
pub fn situation_incidents(c: &Connection, department: &str, since: &str) -> rusqlite::Result<Vec<IncidentRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {INCIDENT_COLUMNS} FROM tactical_incidents
         WHERE department = ?1 AND (status IN ('active', 'escalated') OR reported_at >= ?2) ORDER BY reported_at DESC"
    ))?;
    stmt.query_map(params![department, since], incident_of)?.collect()
}

// ---- stress check-ins ----------------------------------------------------------------------

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

pub fn insert_checkin(c: &Connection, r: &CheckInRow) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO tactical_sr_checkins (session_id, user_id, session_type, indicators, stress_level, band, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![r.session_id, r.user_id, r.session_type, r.indicators, r.stress_level, r.band, r.created_at],
    )?;
    Ok(())
}

pub fn checkins(c: &Connection, user_id: &str, limit: u32, offset: u32) -> rusqlite::Result<Vec<CheckInRow>> {
    let mut stmt = c.prepare_cached(
        "SELECT session_id, user_id, session_type, indicators, stress_level, band, created_at FROM tactical_sr_checkins
         WHERE user_id = ?1 ORDER BY created_at DESC, session_id DESC LIMIT ?2 OFFSET ?3",
    )?;
    stmt.query_map(params![user_id, limit, offset], |r| {
        Ok(CheckInRow {
            session_id: r.get(0)?,
            user_id: r.get(1)?,
            session_type: r.get(2)?,
            indicators: r.get(3)?,
            stress_level: r.get(4)?,
            band: r.get(5)?,
            created_at: r.get(6)?,
        })
    })?
    .collect()
}
