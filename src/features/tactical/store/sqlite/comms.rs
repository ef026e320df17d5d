//! SQL of comms: the comms with their recipients, receipts and attachments, and who sees which.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::super::{CommExtras, CommQuery, CommRow, FileRow, ReceiptRow, Reader};
use crate::db::CachedSql;

// ---- comms ---------------------------------------------------------------------------------

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

pub(super) fn insert_comm(c: &Connection, m: &CommRow, recipients: &[String]) -> rusqlite::Result<()> {
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

/// Who may see a comm ([`Reader`]'s rule), as SQL over `c` (the comm) for the reader `:me`:
/// sender, listed recipient, member of its team, or member of its department for a broadcast;
/// never above the reader's clearance; never once deleted. The list, the single read, the counts
/// and every action on a comm go through it.
const VISIBLE: &str = "c.deleted_at IS NULL
    AND (CASE c.classification WHEN 'public' THEN 0 WHEN 'confidential' THEN 1 WHEN 'secret' THEN 2 ELSE 3 END) <= :rank
    AND (c.from_user_id = :me
         OR (c.audience = 'direct' AND EXISTS (SELECT 1 FROM tactical_comm_recipients r WHERE r.comm_id = c.comm_id AND r.user_id = :me))
         OR (c.audience = 'team' AND c.team_id = :team)
         OR (c.audience = 'department' AND c.department = :department))";

/// The comm if `reader` may see it.
pub(super) fn visible_comm(c: &Connection, reader: &Reader, comm_id: &str) -> rusqlite::Result<Option<CommRow>> {
    c.query_row_cached(
        &format!("SELECT {COMM_COLUMNS} FROM tactical_comms c WHERE c.comm_id = :id AND {VISIBLE}"),
        rusqlite::named_params! {":id": comm_id, ":me": reader.user_id, ":rank": reader.rank, ":team": reader.team_id, ":department": reader.department},
        comm_of,
    )
    .optional()
}

/// A comm regardless of who asks (for its sender's or an admin's deletion).
pub(super) fn comm(c: &Connection, comm_id: &str) -> rusqlite::Result<Option<CommRow>> {
    c.query_row_cached(&format!("SELECT {COMM_COLUMNS} FROM tactical_comms c WHERE c.comm_id = ?1"), [comm_id], comm_of).optional()
}

/// A page of the comms `reader` may see, newest first, and how many match in all.
pub(super) fn visible_comms(c: &Connection, reader: &Reader, q: &CommQuery) -> rusqlite::Result<(Vec<CommRow>, u64)> {
    let filters = "(:type IS NULL OR c.message_type = :type OR c.label = :label)
        AND (:priority IS NULL OR c.priority = :priority) AND (:since IS NULL OR c.sent_at >= :since)";
    let (cursor_at, cursor_id) = q.cursor.clone().unzip();
    let total = c.query_row_cached(
        &format!("SELECT COUNT(*) FROM tactical_comms c WHERE {VISIBLE} AND {filters}"),
        rusqlite::named_params! {
            ":me": reader.user_id, ":rank": reader.rank, ":team": reader.team_id, ":department": reader.department,
            ":type": q.message_type, ":label": q.label, ":priority": q.priority, ":since": q.since,
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
                ":type": q.message_type, ":label": q.label, ":priority": q.priority, ":since": q.since,
                ":cursor_at": cursor_at, ":cursor_id": cursor_id, ":limit": q.limit + 1,
            },
            comm_of,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}

/// Visible comms sent at or after `since`, and how many of them `reader` has not marked read.
pub(super) fn visible_counts(c: &Connection, reader: &Reader, since: &str) -> rusqlite::Result<(u64, u64)> {
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
pub(super) fn visible_emergencies(c: &Connection, reader: &Reader, since: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT c.sent_at FROM tactical_comms c WHERE {VISIBLE} AND c.message_type = 'emergency' AND c.sent_at >= :since"
    ))?;
    stmt.query_map(
        rusqlite::named_params! {":me": reader.user_id, ":rank": reader.rank, ":team": reader.team_id, ":department": reader.department, ":since": since},
        |r| r.get(0),
    )?
    .collect()
}

fn recipients(c: &Connection, comm_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = c.prepare_cached("SELECT user_id FROM tactical_comm_recipients WHERE comm_id = ?1 ORDER BY user_id")?;
    stmt.query_map([comm_id], |r| r.get(0))?.collect()
}

/// The rank of the comm's sender.
fn sender_rank(c: &Connection, comm_id: &str) -> rusqlite::Result<Option<String>> {
    c.query_row_cached(
        "SELECT u.rank FROM tactical_comms c JOIN tactical_users u ON u.user_id = c.from_user_id WHERE c.comm_id = ?1",
        [comm_id],
        |r| r.get(0),
    )
}

fn receipts(c: &Connection, comm_id: &str) -> rusqlite::Result<Vec<ReceiptRow>> {
    let mut stmt = c.prepare_cached("SELECT user_id, read_at, acknowledged_at FROM tactical_comm_receipts WHERE comm_id = ?1 ORDER BY user_id")?;
    stmt.query_map([comm_id], |r| Ok(ReceiptRow { user_id: r.get(0)?, read_at: r.get(1)?, acknowledged_at: r.get(2)? }))?.collect()
}

/// Recipients, receipts, attachments and the sender's rank of a listed comm.
pub(super) fn extras(c: &Connection, comm_id: &str) -> rusqlite::Result<CommExtras> {
    let sender_rank = sender_rank(c, comm_id)?;
    Ok(CommExtras { recipients: recipients(c, comm_id)?, receipts: receipts(c, comm_id)?, attachments: attachments(c, comm_id)?, sender_rank })
}

/// Records a read (and with `acknowledge`, an acknowledgement); earlier times are kept.
pub(super) fn mark(c: &Connection, comm_id: &str, user_id: &str, acknowledge: bool, at: &str) -> rusqlite::Result<(Option<String>, Option<String>)> {
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
pub(super) fn set_comm_key(c: &Connection, comm_id: &str, wrapped_key: &[u8], key_id: &str) -> rusqlite::Result<()> {
    c.execute_cached("UPDATE tactical_comms SET wrapped_key = ?2, key_id = ?3 WHERE comm_id = ?1", params![comm_id, wrapped_key, key_id])?;
    Ok(())
}

/// Secure deletion of the row's secrets: the wrapped key, any plaintext, and the attachments'
/// sealed names go; a tombstone (who, when) stays.
pub(super) fn tombstone_comm(c: &Connection, comm_id: &str, by: &str, at: &str) -> rusqlite::Result<()> {
    c.execute_cached(
        "UPDATE tactical_comms SET wrapped_key = NULL, key_id = NULL, content = NULL, encrypted_content = NULL,
           deleted_at = ?2, deleted_by = ?3 WHERE comm_id = ?1",
        params![comm_id, at, by],
    )?;
    c.execute_cached("DELETE FROM tactical_attachments WHERE comm_id = ?1", [comm_id])?;
    Ok(())
}

// ---- attachments and documents -------------------------------------------------------------

pub(super) fn attachment_of(r: &Row<'_>) -> rusqlite::Result<FileRow> {
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

pub(super) fn insert_attachment(c: &Connection, f: &FileRow, uploaded_by: &str) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO tactical_attachments (file_id, comm_id, name_sealed, content_type, size_bytes, blob_path, uploaded_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![f.id, f.owner, f.name_sealed, f.content_type, f.size_bytes, f.blob_path, uploaded_by, f.created_at],
    )?;
    Ok(())
}

const ATTACHMENT_COLUMNS: &str = "file_id, comm_id, name_sealed, content_type, size_bytes, blob_path, created_at";

pub(super) fn attachments(c: &Connection, comm_id: &str) -> rusqlite::Result<Vec<FileRow>> {
    let mut stmt = c.prepare_cached(&format!("SELECT {ATTACHMENT_COLUMNS} FROM tactical_attachments WHERE comm_id = ?1 ORDER BY created_at, file_id"))?;
    stmt.query_map([comm_id], attachment_of)?.collect()
}

pub(super) fn attachment(c: &Connection, comm_id: &str, file_id: &str) -> rusqlite::Result<Option<FileRow>> {
    c.query_row_cached(
        &format!("SELECT {ATTACHMENT_COLUMNS} FROM tactical_attachments WHERE comm_id = ?1 AND file_id = ?2"),
        params![comm_id, file_id],
        attachment_of,
    )
    .optional()
}

