//! The chat store on PostgreSQL, shared by several servers.
//!
//! Ids: `session_id` and `message_id` are uuid columns (the server makes them); a client's own
//! name for a session, `client_id`, is text. Only a UUID written as SQLite holds it
//! (hyphenated, lower case) names a session or message by its own id; any other text names none
//! (`None`, empty, `false`), though it may still be a client's id for a session.
//!
//! Locking (READ COMMITTED): an exchange is one transaction. A new session is inserted with
//! `ON CONFLICT DO NOTHING`: when the user's concurrent first message under the same client id
//! inserted it first, the unique index `(user_id, client_id)` makes this insert wait for that
//! transaction, find its row, and the exchange goes into that session, read by the next
//! statement (which sees what committed meanwhile). The session's row is then locked by the
//! update of `updated_at`, and the quota is paid last (`subscription::store::postgres::*_in`,
//! which lock the window's counter row), so exactly what the quota admits is stored and a
//! refusal rolls back the whole exchange. Every exchange takes its locks in that order (session
//! or the user's session count, then the counter): no two exchanges wait on each other in a
//! circle. Reads of several parts (a snapshot of the caller, a page and its total) run in one
//! REPEATABLE READ snapshot, as SQLite's read transaction does.

use deadpool_postgres::Transaction;
use tokio_postgres::{IsolationLevel, Row};
use uuid::Uuid;

use super::{CallerSnapshot, ChatStore, ExchangeQuota, NewExchange, SessionRow, StoredExchange, StoredReply};
use crate::db::postgres::PgDb;
use crate::db::postgres::values::{row_id, text, time, unsigned, write_id};
use crate::error::AppResult;
use crate::features::chat::model::{ChatContext, ChatMessage, ChatSession};
use crate::features::page::Page;
use crate::features::subscription::quota::Admission;
use crate::features::subscription::store::postgres::{charge_in, commit_hold_in, standing_in, tier_in};

pub struct PgChatStore {
    db: PgDb,
}

impl PgChatStore {
    pub fn new(db: PgDb) -> Self {
        Self { db }
    }
}

const MESSAGE_COLUMNS: &str = "message_id, role, content, context, model, created_at";

fn message_of(r: &Row) -> ChatMessage {
    let id: Uuid = r.get(0);
    ChatMessage {
        message_id: id.to_string(),
        role: r.get(1),
        content: r.get(2),
        context: ChatContext::parse(r.get(3)),
        model: r.get(4),
        timestamp: text(r.get(5)),
    }
}

#[async_trait::async_trait]
impl ChatStore for PgChatStore {
    async fn session(&self, user_id: &str, id: &str) -> AppResult<Option<SessionRow>> {
        let own = row_id(id);
        let client = self.db.client().await?;
        // A NULL `$1` (not a UUID) matches no own id; the own id's match sorts first.
        let stmt = client
            .prepare_cached(
                "SELECT session_id, user_id FROM chat_sessions WHERE session_id = $1 OR (user_id = $2 AND client_id = $3)
                 ORDER BY coalesce(session_id = $1, false) DESC LIMIT 1",
            )
            .await?;
        let row = client.query_opt(&stmt, &[&own, &user_id, &id]).await?;
        Ok(row.map(|r| SessionRow { session_id: r.get::<_, Uuid>(0).to_string(), user_id: r.get(1) }))
    }

    async fn caller_snapshot(&self, admission: Admission) -> AppResult<CallerSnapshot> {
        let mut client = self.db.client().await?;
        // The tier, the count and the counter as of one moment.
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let tier = tier_in(&*tx, &admission.user_id).await?;
        let standing = standing_in(&*tx, &admission).await?;
        let sessions = session_count(&tx, &admission.user_id).await?;
        tx.commit().await?;
        Ok(CallerSnapshot { tier, sessions, standing })
    }

    async fn recent_messages(&self, session_id: &str, limit: usize) -> AppResult<Vec<ChatMessage>> {
        let Some(id) = row_id(session_id) else { return Ok(Vec::new()) };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.db.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = $1 ORDER BY created_at DESC, message_id DESC LIMIT $2"
            ))
            .await?;
        let mut rows: Vec<ChatMessage> = client.query(&stmt, &[&id, &limit]).await?.iter().map(message_of).collect();
        rows.reverse();
        Ok(rows)
    }

    async fn stored_reply(&self, user_id: &str, message_id: &str) -> AppResult<Option<StoredReply>> {
        let Some(id) = row_id(message_id) else { return Ok(None) };
        let client = self.db.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT m.message_id, m.role, m.content, m.context, m.model, m.created_at, coalesce(s.client_id, s.session_id::text),
                        q.message_id, q.prompt_tokens, m.completion_tokens
                 FROM chat_messages m JOIN chat_sessions s ON s.session_id = m.session_id
                 LEFT JOIN chat_messages q ON q.message_id = (SELECT u.message_id FROM chat_messages u
                     WHERE u.session_id = m.session_id AND u.role = 'user' AND u.message_id < m.message_id ORDER BY u.message_id DESC LIMIT 1)
                 WHERE m.message_id = $1 AND m.role = 'assistant' AND s.user_id = $2",
            )
            .await?;
        let row = client.query_opt(&stmt, &[&id, &user_id]).await?;
        Ok(row.map(|r| StoredReply {
            reply: message_of(&r),
            shown_session_id: r.get(6),
            user_message_id: r.get::<_, Option<Uuid>>(7).map(|id| id.to_string()).unwrap_or_default(),
            prompt_tokens: r.get::<_, Option<i64>>(8).and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
            completion_tokens: r.get::<_, Option<i64>>(9).and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        }))
    }

    async fn insert_exchange(&self, exchange: NewExchange, quota: ExchangeQuota) -> AppResult<StoredExchange> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let session_id = insert_exchange(&tx, &exchange).await?;
        // What is left, as this charge leaves it.
        let standing = match &quota {
            ExchangeQuota::CommitHold { hold, standing } => {
                commit_hold_in(&tx, hold).await?;
                standing_in(&*tx, standing).await?
            }
            ExchangeQuota::Charge(admission) => charge_in(&tx, admission).await?,
        };
        tx.commit().await?;
        Ok(StoredExchange { session_id: session_id.to_string(), standing })
    }

    async fn messages_page(&self, session_id: &str, page: Page) -> AppResult<(Vec<ChatMessage>, u64)> {
        let Some(id) = row_id(session_id) else { return Ok((Vec::new(), 0)) };
        let mut client = self.db.client().await?;
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let total = tx.prepare_cached("SELECT count(*) FROM chat_messages WHERE session_id = $1").await?;
        let total = unsigned(tx.query_one(&total, &[&id]).await?.get(0))?;
        let rows = tx
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = $1 ORDER BY created_at, message_id LIMIT $2 OFFSET $3"
            ))
            .await?;
        let rows = tx.query(&rows, &[&id, &i64::from(page.limit), &i64::from(page.offset)]).await?;
        tx.commit().await?;
        Ok((rows.iter().map(message_of).collect(), total))
    }

    async fn sessions_page(&self, user_id: &str, page: Page) -> AppResult<(Vec<ChatSession>, u64)> {
        let mut client = self.db.client().await?;
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let total = session_count(&tx, user_id).await?;
        let stmt = tx
            .prepare_cached(
                "SELECT coalesce(s.client_id, s.session_id::text), coalesce(s.title, ''), s.context, s.created_at, s.updated_at,
                        (SELECT count(*) FROM chat_messages m WHERE m.session_id = s.session_id)
                 FROM chat_sessions s WHERE s.user_id = $1 ORDER BY s.updated_at DESC, s.session_id DESC LIMIT $2 OFFSET $3",
            )
            .await?;
        let rows = tx.query(&stmt, &[&user_id, &i64::from(page.limit), &i64::from(page.offset)]).await?;
        tx.commit().await?;
        let sessions = rows
            .iter()
            .map(|r| {
                Ok(ChatSession {
                    session_id: r.get(0),
                    title: r.get(1),
                    context: ChatContext::parse(r.get(2)),
                    created_at: text(r.get(3)),
                    updated_at: text(r.get(4)),
                    message_count: unsigned(r.get(5))?,
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        Ok((sessions, total))
    }

    async fn delete_session(&self, session_id: &str) -> AppResult<bool> {
        let Some(id) = row_id(session_id) else { return Ok(false) };
        let client = self.db.client().await?;
        // Messages go by ON DELETE CASCADE, the user's count by the V4 trigger.
        let stmt = client.prepare_cached("DELETE FROM chat_sessions WHERE session_id = $1").await?;
        Ok(client.execute(&stmt, &[&id]).await? == 1)
    }
}

/// Kept by triggers on `chat_sessions` (migration V4), so counting is not a scan.
async fn session_count(tx: &Transaction<'_>, user_id: &str) -> AppResult<u64> {
    let stmt = tx.prepare_cached("SELECT sessions FROM chat_session_counts WHERE user_id = $1").await?;
    let row = tx.query_opt(&stmt, &[&user_id]).await?;
    row.map_or(Ok(0), |r| unsigned(r.get(0)))
}

/// Stores a question and its answer (and the session, when new) inside `tx`. Returns the id of
/// the session they went into: a client's new session id that a concurrent first message
/// already took goes on in the session that message started.
async fn insert_exchange(tx: &Transaction<'_>, e: &NewExchange) -> AppResult<Uuid> {
    let (asked_at, answered_at) = (time(&e.asked_at)?, time(&e.answered_at)?);
    let (user_message_id, reply_id) = (write_id(&e.user_message_id)?, write_id(&e.reply_id)?);
    // Always one the service made (a new one, or the stored id `session` gave).
    let session_id = write_id(&e.session_id)?;
    let context = e.context.as_str();
    let session_id = if e.new_session {
        let insert = tx
            .prepare_cached(
                "INSERT INTO chat_sessions (session_id, user_id, client_id, context, title, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING RETURNING session_id",
            )
            .await?;
        let taken = tx.prepare_cached("SELECT session_id FROM chat_sessions WHERE user_id = $1 AND client_id = $2").await?;
        loop {
            if tx.query_opt(&insert, &[&session_id, &e.user_id, &e.client_id, &context, &e.title, &asked_at]).await?.is_some() {
                break session_id;
            }
            let Some(client_id) = &e.client_id else { break session_id };
            // A new statement: it sees the concurrent first message's session, which the insert
            // above waited for. Were that session deleted since, the insert is tried again.
            if let Some(r) = tx.query_opt(&taken, &[&e.user_id, client_id]).await? {
                break r.get(0);
            }
        }
    } else {
        session_id
    };
    let touch = tx.prepare_cached("UPDATE chat_sessions SET updated_at = $2 WHERE session_id = $1").await?;
    tx.execute(&touch, &[&session_id, &answered_at]).await?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO chat_messages (message_id, session_id, role, content, context, model, prompt_tokens, completion_tokens, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await?;
    let (prompt_tokens, completion_tokens) = (i64::from(e.prompt_tokens), i64::from(e.completion_tokens));
    tx.execute(&insert, &[&user_message_id, &session_id, &"user", &e.user_text, &context, &None::<String>, &Some(prompt_tokens), &None::<i64>, &asked_at])
        .await?;
    tx.execute(
        &insert,
        &[&reply_id, &session_id, &"assistant", &e.reply_text, &context, &Some(&e.model), &None::<i64>, &Some(completion_tokens), &answered_at],
    )
    .await?;
    Ok(session_id)
}
