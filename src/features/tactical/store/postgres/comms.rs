//! SQL of comms on PostgreSQL: the comms with their recipients, receipts and attachments, and
//! who sees which.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::super::{CommExtras, CommQuery, CommRow, FileRow, ReceiptRow, Reader};
use super::{id_text, opt_text, opt_time, opt_write_id, row_id, signed, text, time, unsigned, write_id};
use crate::error::AppResult;

// ---- comms ---------------------------------------------------------------------------------

const COMM_COLUMNS: &str = "c.comm_id, c.from_user_id, c.audience, c.to_user_id, c.team_id, c.department, c.message_type,
    c.label, c.priority, c.classification, c.content, c.is_encrypted, c.client_encrypted, c.wrapped_key, c.key_id,
    c.blob_path, c.related_incident_id, c.sent_at, c.deleted_at";

fn comm_of(r: &Row) -> AppResult<CommRow> {
    Ok(CommRow {
        comm_id: r.try_get::<_, Uuid>(0)?.to_string(),
        from_user_id: r.try_get(1)?,
        audience: r.try_get(2)?,
        to_user_id: r.try_get(3)?,
        team_id: id_text(r.try_get(4)?),
        department: r.try_get::<_, Option<String>>(5)?.unwrap_or_default(),
        message_type: r.try_get(6)?,
        label: r.try_get::<_, Option<String>>(7)?.unwrap_or_default(),
        priority: r.try_get(8)?,
        classification: r.try_get(9)?,
        content: r.try_get(10)?,
        is_encrypted: r.try_get(11)?,
        client_encrypted: r.try_get(12)?,
        wrapped_key: r.try_get(13)?,
        key_id: r.try_get(14)?,
        blob_path: r.try_get(15)?,
        related_incident_id: r.try_get(16)?,
        sent_at: text(r.try_get::<_, DateTime<Utc>>(17)?),
        deleted_at: opt_text(r.try_get(18)?),
    })
}

pub(super) async fn insert_comm(c: &impl GenericClient, m: &CommRow, recipients: &[String]) -> AppResult<()> {
    let (id, team, at) = (write_id(&m.comm_id)?, opt_write_id(m.team_id.as_deref())?, time(&m.sent_at)?);
    let stmt = c
        .prepare_cached(
            "INSERT INTO tactical_comms (comm_id, from_user_id, audience, to_user_id, team_id, department, message_type, label,
               priority, classification, content, is_encrypted, client_encrypted, wrapped_key, key_id, blob_path,
               related_incident_id, sent_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .await?;
    c.execute(
        &stmt,
        &[
            &id, &m.from_user_id, &m.audience, &m.to_user_id, &team, &m.department, &m.message_type, &m.label, &m.priority,
            &m.classification, &m.content, &m.is_encrypted, &m.client_encrypted, &m.wrapped_key, &m.key_id, &m.blob_path,
            &m.related_incident_id, &at,
        ],
    )
    .await?;
    let stmt = c.prepare_cached("INSERT INTO tactical_comm_recipients (comm_id, user_id) VALUES ($1, $2)").await?;
    for user in recipients {
        c.execute(&stmt, &[&id, user]).await?;
    }
    Ok(())
}

/// Who may see a comm ([`Reader`]'s rule), as SQL over `c` (the comm) for the reader in `$1`
/// (user id), `$2` (rank), `$3` (team) and `$4` (department): sender, listed recipient, member
/// of its team, or member of its department for a broadcast; never above the reader's
/// clearance; never once deleted. The list, the single read, the counts and every action on a
/// comm go through it.
const VISIBLE: &str = "c.deleted_at IS NULL
    AND (CASE c.classification WHEN 'public' THEN 0 WHEN 'confidential' THEN 1 WHEN 'secret' THEN 2 ELSE 3 END) <= $2::bigint
    AND (c.from_user_id = $1::text
         OR (c.audience = 'direct' AND EXISTS (SELECT 1 FROM tactical_comm_recipients r WHERE r.comm_id = c.comm_id AND r.user_id = $1::text))
         OR (c.audience = 'team' AND c.team_id = $3::uuid)
         OR (c.audience = 'department' AND c.department = $4::text))";

/// The reader's four parameters of [`VISIBLE`]. A team id that is not a UUID is no team's.
struct ReaderArgs<'a> {
    me: &'a str,
    rank: i64,
    team: Option<Uuid>,
    department: &'a str,
}

impl<'a> ReaderArgs<'a> {
    fn of(reader: &'a Reader) -> Self {
        Self { me: &reader.user_id, rank: reader.rank, team: reader.team_id.as_deref().and_then(row_id), department: &reader.department }
    }

    fn args(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![&self.me, &self.rank, &self.team, &self.department]
    }
}

/// The comm if `reader` may see it.
pub(super) async fn visible_comm(c: &impl GenericClient, reader: &Reader, comm_id: Uuid) -> AppResult<Option<CommRow>> {
    let stmt = c.prepare_cached(&format!("SELECT {COMM_COLUMNS} FROM tactical_comms c WHERE c.comm_id = $5 AND {VISIBLE}")).await?;
    let who = ReaderArgs::of(reader);
    let mut args = who.args();
    args.push(&comm_id);
    c.query_opt(&stmt, &args).await?.as_ref().map(comm_of).transpose()
}

/// A comm regardless of who asks; with `lock`, locked until the transaction ends.
pub(super) async fn comm(c: &impl GenericClient, comm_id: Uuid, lock: bool) -> AppResult<Option<CommRow>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let stmt = c.prepare_cached(&format!("SELECT {COMM_COLUMNS} FROM tactical_comms c WHERE c.comm_id = $1{lock}")).await?;
    c.query_opt(&stmt, &[&comm_id]).await?.as_ref().map(comm_of).transpose()
}

/// The cursor's `(sent_at, comm_id) <` condition over `$9`, `$10`. A cursor this server wrote
/// (a stored time and a comm's UUID) compares as the columns' types, which the
/// `(sent_at, comm_id)` index serves; any other text compares as SQLite compares the text it
/// holds, byte-wise, so a forged cursor pages as it does there.
enum Cursor {
    Typed(DateTime<Utc>, Uuid),
    Text(String, String),
}

impl Cursor {
    fn of((at, id): &(String, String)) -> Self {
        let stored = super::time(at).ok().filter(|t| text(*t) == *at);
        match (stored, row_id(id)) {
            (Some(at), Some(id)) => Cursor::Typed(at, id),
            _ => Cursor::Text(at.clone(), id.clone()),
        }
    }

    fn condition(&self) -> &'static str {
        match self {
            Cursor::Typed(..) => "(c.sent_at, c.comm_id) < ($9::timestamptz, $10::uuid)",
            Cursor::Text(..) => {
                "(to_char(c.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') COLLATE \"C\", c.comm_id::text COLLATE \"C\")
                   < ($9::text, $10::text)"
            }
        }
    }

    fn args(&self) -> [&(dyn ToSql + Sync); 2] {
        match self {
            Cursor::Typed(at, id) => [at, id],
            Cursor::Text(at, id) => [at, id],
        }
    }
}

/// A page of the comms `reader` may see (one more than the limit, to tell whether more
/// follow), newest first, and how many match in all.
pub(super) async fn visible_comms(c: &impl GenericClient, reader: &Reader, q: &CommQuery) -> AppResult<(Vec<CommRow>, u64)> {
    let filters = "($5::text IS NULL OR c.message_type = $5 OR c.label = $6::text)
        AND ($7::text IS NULL OR c.priority = $7) AND ($8::timestamptz IS NULL OR c.sent_at >= $8)";
    let since = opt_time(q.since.as_deref())?;
    let who = ReaderArgs::of(reader);
    let mut args = who.args();
    args.extend([&q.message_type as &(dyn ToSql + Sync), &q.label, &q.priority, &since]);
    let total = c.prepare_cached(&format!("SELECT COUNT(*) FROM tactical_comms c WHERE {VISIBLE} AND {filters}")).await?;
    let total = unsigned(c.query_one(&total, &args).await?.try_get(0)?)?;
    let cursor = q.cursor.as_ref().map(Cursor::of);
    let limit = i64::from(q.limit) + 1;
    let (condition, limit_at) = match &cursor {
        Some(cursor) => {
            args.extend(cursor.args());
            (cursor.condition(), 11)
        }
        None => ("TRUE", 9),
    };
    args.push(&limit);
    let page = c
        .prepare_cached(&format!(
            "SELECT {COMM_COLUMNS} FROM tactical_comms c WHERE {VISIBLE} AND {filters} AND {condition}
             ORDER BY c.sent_at DESC, c.comm_id DESC LIMIT ${limit_at}"
        ))
        .await?;
    let rows = c.query(&page, &args).await?;
    Ok((rows.iter().map(comm_of).collect::<AppResult<Vec<_>>>()?, total))
}

/// Visible comms sent at or after `since`, and how many of them `reader` has not marked read.
pub(super) async fn visible_counts(c: &impl GenericClient, reader: &Reader, since: DateTime<Utc>) -> AppResult<(u64, u64)> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM tactical_comm_receipts x
                 WHERE x.comm_id = c.comm_id AND x.user_id = $1::text AND x.read_at IS NOT NULL))
             FROM tactical_comms c WHERE {VISIBLE} AND c.sent_at >= $5"
        ))
        .await?;
    let who = ReaderArgs::of(reader);
    let mut args = who.args();
    args.push(&since);
    let row = c.query_one(&stmt, &args).await?;
    Ok((unsigned(row.try_get(0)?)?, unsigned(row.try_get(1)?)?))
}

/// Send times of the visible emergency comms since `since`, oldest first.
pub(super) async fn visible_emergencies(c: &impl GenericClient, reader: &Reader, since: DateTime<Utc>) -> AppResult<Vec<String>> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT c.sent_at FROM tactical_comms c WHERE {VISIBLE} AND c.message_type = 'emergency' AND c.sent_at >= $5 ORDER BY c.sent_at"
        ))
        .await?;
    let who = ReaderArgs::of(reader);
    let mut args = who.args();
    args.push(&since);
    c.query(&stmt, &args).await?.iter().map(|r| Ok(text(r.try_get::<_, DateTime<Utc>>(0)?))).collect()
}

/// Recipients, receipts, attachments and the sender's rank of each listed comm, four queries
/// for the whole page.
pub(super) async fn with_extras(c: &impl GenericClient, rows: Vec<CommRow>) -> AppResult<Vec<(CommRow, CommExtras)>> {
    let ids = rows.iter().map(|r| write_id(&r.comm_id)).collect::<AppResult<Vec<Uuid>>>()?;
    let mut extras: Vec<CommExtras> =
        rows.iter().map(|_| CommExtras { recipients: Vec::new(), receipts: Vec::new(), attachments: Vec::new(), sender_rank: None }).collect();
    let slot = |id: Uuid| ids.iter().position(|x| *x == id);
    let stmt = c
        .prepare_cached("SELECT comm_id, user_id FROM tactical_comm_recipients WHERE comm_id = ANY($1) ORDER BY comm_id, user_id COLLATE \"C\"")
        .await?;
    for r in c.query(&stmt, &[&ids]).await? {
        if let Some(i) = slot(r.try_get(0)?) {
            extras[i].recipients.push(r.try_get(1)?);
        }
    }
    let stmt = c
        .prepare_cached(
            "SELECT comm_id, user_id, read_at, acknowledged_at FROM tactical_comm_receipts WHERE comm_id = ANY($1)
             ORDER BY comm_id, user_id COLLATE \"C\"",
        )
        .await?;
    for r in c.query(&stmt, &[&ids]).await? {
        if let Some(i) = slot(r.try_get(0)?) {
            extras[i].receipts.push(ReceiptRow { user_id: r.try_get(1)?, read_at: opt_text(r.try_get(2)?), acknowledged_at: opt_text(r.try_get(3)?) });
        }
    }
    let stmt = c
        .prepare_cached(&format!("SELECT {ATTACHMENT_COLUMNS} FROM tactical_attachments WHERE comm_id = ANY($1) ORDER BY comm_id, created_at, file_id"))
        .await?;
    for r in c.query(&stmt, &[&ids]).await? {
        if let Some(i) = slot(r.try_get(1)?) {
            extras[i].attachments.push(attachment_of(&r)?);
        }
    }
    let stmt = c
        .prepare_cached("SELECT c.comm_id, u.rank FROM tactical_comms c JOIN tactical_users u ON u.user_id = c.from_user_id WHERE c.comm_id = ANY($1)")
        .await?;
    for r in c.query(&stmt, &[&ids]).await? {
        if let Some(i) = slot(r.try_get(0)?) {
            extras[i].sender_rank = r.try_get(1)?;
        }
    }
    Ok(rows.into_iter().zip(extras).collect())
}

/// Records a read (and with `acknowledge`, an acknowledgement); earlier times are kept.
pub(super) async fn mark(
    c: &impl GenericClient,
    comm_id: Uuid,
    user_id: &str,
    acknowledge: bool,
    at: DateTime<Utc>,
) -> AppResult<(Option<String>, Option<String>)> {
    let ack = acknowledge.then_some(at);
    let stmt = c
        .prepare_cached(
            "INSERT INTO tactical_comm_receipts AS x (comm_id, user_id, read_at, acknowledged_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (comm_id, user_id) DO UPDATE SET read_at = COALESCE(x.read_at, excluded.read_at),
               acknowledged_at = COALESCE(x.acknowledged_at, excluded.acknowledged_at)
             RETURNING read_at, acknowledged_at",
        )
        .await?;
    let row = c.query_one(&stmt, &[&comm_id, &user_id, &at, &ack]).await?;
    Ok((opt_text(row.try_get(0)?), opt_text(row.try_get(1)?)))
}

/// Gives a comm that had none a data key (for its first attachment).
pub(super) async fn set_comm_key(c: &impl GenericClient, comm_id: Uuid, wrapped_key: &[u8], key_id: &str) -> AppResult<()> {
    let stmt = c.prepare_cached("UPDATE tactical_comms SET wrapped_key = $2, key_id = $3 WHERE comm_id = $1").await?;
    c.execute(&stmt, &[&comm_id, &wrapped_key, &key_id]).await?;
    Ok(())
}

/// Secure deletion of the row's secrets: the wrapped key, any plaintext, and the attachments'
/// sealed names go; a tombstone (who, when) stays.
pub(super) async fn tombstone_comm(c: &impl GenericClient, comm_id: Uuid, by: &str, at: DateTime<Utc>) -> AppResult<()> {
    let stmt = c
        .prepare_cached(
            "UPDATE tactical_comms SET wrapped_key = NULL, key_id = NULL, content = NULL, encrypted_content = NULL,
               deleted_at = $2, deleted_by = $3 WHERE comm_id = $1",
        )
        .await?;
    c.execute(&stmt, &[&comm_id, &at, &by]).await?;
    let stmt = c.prepare_cached("DELETE FROM tactical_attachments WHERE comm_id = $1").await?;
    c.execute(&stmt, &[&comm_id]).await?;
    Ok(())
}

// ---- attachments ---------------------------------------------------------------------------

const ATTACHMENT_COLUMNS: &str = "file_id, comm_id, name_sealed, content_type, size_bytes, blob_path, created_at";

fn attachment_of(r: &Row) -> AppResult<FileRow> {
    Ok(FileRow {
        id: r.try_get::<_, Uuid>(0)?.to_string(),
        owner: r.try_get::<_, Uuid>(1)?.to_string(),
        name_sealed: r.try_get(2)?,
        content_type: r.try_get(3)?,
        size_bytes: unsigned(r.try_get(4)?)?,
        blob_path: r.try_get(5)?,
        created_at: text(r.try_get::<_, DateTime<Utc>>(6)?),
        wrapped_key: None,
        key_id: None,
    })
}

pub(super) async fn insert_attachment(c: &impl GenericClient, f: &FileRow, uploaded_by: &str) -> AppResult<()> {
    let (id, comm_id, size, at) = (write_id(&f.id)?, super::ref_id(&f.owner), signed(f.size_bytes)?, time(&f.created_at)?);
    let stmt = c
        .prepare_cached(
            "INSERT INTO tactical_attachments (file_id, comm_id, name_sealed, content_type, size_bytes, blob_path, uploaded_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await?;
    c.execute(&stmt, &[&id, &comm_id, &f.name_sealed, &f.content_type, &size, &f.blob_path, &uploaded_by, &at]).await?;
    Ok(())
}

pub(super) async fn attachments(c: &impl GenericClient, comm_id: Uuid) -> AppResult<Vec<FileRow>> {
    let stmt = c.prepare_cached(&format!("SELECT {ATTACHMENT_COLUMNS} FROM tactical_attachments WHERE comm_id = $1 ORDER BY created_at, file_id")).await?;
    c.query(&stmt, &[&comm_id]).await?.iter().map(attachment_of).collect()
}

pub(super) async fn attachment(c: &impl GenericClient, comm_id: Uuid, file_id: Uuid) -> AppResult<Option<FileRow>> {
    let stmt = c.prepare_cached(&format!("SELECT {ATTACHMENT_COLUMNS} FROM tactical_attachments WHERE comm_id = $1 AND file_id = $2")).await?;
    c.query_opt(&stmt, &[&comm_id, &file_id]).await?.as_ref().map(attachment_of).transpose()
}
