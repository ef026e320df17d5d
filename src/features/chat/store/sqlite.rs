//! The chat store on the embedded SQLite database.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{CallerSnapshot, ChatStore, ExchangeQuota, NewExchange, SessionRow, StoredExchange, StoredReply};
use crate::db::{CachedSql, Db};
use crate::error::AppResult;
use crate::features::chat::model::{ChatContext, ChatMessage, ChatSession};
use crate::features::page::Page;
use crate::features::subscription::quota::Admission;
use crate::features::subscription::store::sqlite::{charge_in, commit_hold_in, standing_in, tier_in};

pub struct SqliteChatStore {
    db: Db,
}

impl SqliteChatStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl ChatStore for SqliteChatStore {
    async fn session(&self, user_id: &str, id: &str) -> AppResult<Option<SessionRow>> {
        let (user, id) = (user_id.to_owned(), id.to_owned());
        self.db.read(move |c| session(c, &user, &id)).await
    }

    async fn caller_snapshot(&self, admission: Admission) -> AppResult<CallerSnapshot> {
        self.db
            .read(move |c| {
                let tier = tier_in(c, &admission.user_id)?;
                let standing = standing_in(c, &admission)?;
                Ok(CallerSnapshot { tier, sessions: session_count(c, &admission.user_id)?, standing })
            })
            .await
    }

    async fn recent_messages(&self, session_id: &str, limit: usize) -> AppResult<Vec<ChatMessage>> {
        let id = session_id.to_owned();
        self.db.read(move |c| recent_messages(c, &id, limit)).await
    }

    async fn stored_reply(&self, user_id: &str, message_id: &str) -> AppResult<Option<StoredReply>> {
        let (user, id) = (user_id.to_owned(), message_id.to_owned());
        self.db
            .read(move |c| {
                c.query_row_cached(
                    &format!(
                        "SELECT {REPLY_COLUMNS} FROM chat_messages m JOIN chat_sessions s ON s.session_id = m.session_id
                         LEFT JOIN chat_messages q ON {QUESTION_OF_REPLY}
                         WHERE m.message_id = ?1 AND m.role = 'assistant' AND s.user_id = ?2"
                    ),
                    [&id, &user],
                    |r| {
                        Ok(StoredReply {
                            reply: message_of(r)?,
                            shown_session_id: r.get(6)?,
                            user_message_id: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                            prompt_tokens: r.get::<_, Option<u32>>(8)?.unwrap_or(0),
                            completion_tokens: r.get::<_, Option<u32>>(9)?.unwrap_or(0),
                        })
                    },
                )
                .optional()
            })
            .await
    }

    async fn insert_exchange(&self, exchange: NewExchange, quota: ExchangeQuota) -> AppResult<StoredExchange> {
        self.db
            .write(move |tx| {
                let session_id = insert_exchange(tx, &exchange)?;
                // What is left, as this charge leaves it.
                let standing = match &quota {
                    ExchangeQuota::CommitHold { hold, standing } => {
                        commit_hold_in(tx, hold)?;
                        standing_in(tx, standing)?
                    }
                    ExchangeQuota::Charge(admission) => charge_in(tx, admission)?,
                };
                Ok(StoredExchange { session_id, standing })
            })
            .await
    }

    async fn messages_page(&self, session_id: &str, page: Page) -> AppResult<(Vec<ChatMessage>, u64)> {
        let id = session_id.to_owned();
        self.db.read(move |c| messages_page(c, &id, page)).await
    }

    async fn sessions_page(&self, user_id: &str, page: Page) -> AppResult<(Vec<ChatSession>, u64)> {
        let user = user_id.to_owned();
        self.db.read(move |c| sessions_page(c, &user, page)).await
    }

    async fn delete_session(&self, session_id: &str) -> AppResult<bool> {
        let id = session_id.to_owned();
        self.db.write(move |tx| Ok(tx.execute_cached("DELETE FROM chat_sessions WHERE session_id = ?1", [&id])? == 1)).await
    }
}

/// The session `id` names: its own id (whoever owns it), or the id `user_id`'s client gave it.
fn session(c: &Connection, user_id: &str, id: &str) -> rusqlite::Result<Option<SessionRow>> {
    c.query_row_cached(
        "SELECT session_id, user_id FROM chat_sessions WHERE session_id = ?1 OR (user_id = ?2 AND client_id = ?1)
         ORDER BY session_id = ?1 DESC LIMIT 1",
        [id, user_id],
        |r| Ok(SessionRow { session_id: r.get(0)?, user_id: r.get(1)? }),
    )
    .optional()
}

fn message_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChatMessage> {
    Ok(ChatMessage {
        message_id: r.get(0)?,
        role: r.get(1)?,
        content: r.get(2)?,
        context: ChatContext::parse(&r.get::<_, String>(3)?),
        model: r.get(4)?,
        timestamp: r.get(5)?,
    })
}

const MESSAGE_COLUMNS: &str = "message_id, role, content, context, model, created_at";

/// A reply (`m`) as [`message_of`] reads it, then its session's shown id, the question it
/// answered (`q`) and the exchange's tokens (the prompt's are kept with the question).
const REPLY_COLUMNS: &str =
    "m.message_id, m.role, m.content, m.context, m.model, m.created_at, coalesce(s.client_id, s.session_id), q.message_id, q.prompt_tokens, m.completion_tokens";

/// The question a reply answered: the user's message made just before it (ids are time-ordered).
const QUESTION_OF_REPLY: &str = "q.message_id = (SELECT u.message_id FROM chat_messages u
    WHERE u.session_id = m.session_id AND u.role = 'user' AND u.message_id < m.message_id ORDER BY u.message_id DESC LIMIT 1)";

/// The newest `limit` messages of a session, oldest first.
fn recent_messages(c: &Connection, session_id: &str, limit: usize) -> rusqlite::Result<Vec<ChatMessage>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = ?1 ORDER BY created_at DESC, message_id DESC LIMIT ?2"
    ))?;
    let mut rows = stmt.query_map(params![session_id, limit as i64], message_of)?.collect::<rusqlite::Result<Vec<_>>>()?;
    rows.reverse();
    Ok(rows)
}

fn messages_page(c: &Connection, session_id: &str, page: Page) -> rusqlite::Result<(Vec<ChatMessage>, u64)> {
    let total: u64 = c.query_row_cached("SELECT count(*) FROM chat_messages WHERE session_id = ?1", [session_id], |r| r.get(0))?;
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE session_id = ?1 ORDER BY created_at, message_id LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = stmt.query_map(params![session_id, page.limit, page.offset], message_of)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}

fn sessions_page(c: &Connection, user_id: &str, page: Page) -> rusqlite::Result<(Vec<ChatSession>, u64)> {
    let total = session_count(c, user_id)?;
    let mut stmt = c.prepare_cached(
        "SELECT coalesce(s.client_id, s.session_id), coalesce(s.title, ''), s.context, s.created_at, s.updated_at,
                (SELECT count(*) FROM chat_messages m WHERE m.session_id = s.session_id)
         FROM chat_sessions s WHERE s.user_id = ?1 ORDER BY s.updated_at DESC, s.session_id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt
        .query_map(params![user_id, page.limit, page.offset], |r| {
            Ok(ChatSession {
                session_id: r.get(0)?,
                title: r.get(1)?,
                context: ChatContext::parse(&r.get::<_, String>(2)?),
                created_at: r.get(3)?,
                updated_at: r.get(4)?,
                message_count: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}

/// Kept by triggers on `chat_sessions` (migration V4), so counting is not a scan.
fn session_count(c: &Connection, user_id: &str) -> rusqlite::Result<u64> {
    let counted = c.query_row_cached("SELECT sessions FROM chat_session_counts WHERE user_id = ?1", [user_id], |r| r.get(0));
    Ok(counted.optional()?.unwrap_or(0))
}

/// Stores a question and its answer (and the session, when new) together. Returns the id of
/// the session they went into: a client's new session id that a concurrent first message
/// already took goes on in the session that message started.
fn insert_exchange(tx: &Transaction, e: &NewExchange) -> rusqlite::Result<String> {
    let session_id = if e.new_session {
        tx.execute_cached(
            "INSERT INTO chat_sessions (session_id, user_id, client_id, context, title, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT DO NOTHING",
            params![e.session_id, e.user_id, e.client_id, e.context.as_str(), e.title, e.asked_at],
        )?;
        match &e.client_id {
            Some(client_id) => tx.query_row_cached(
                "SELECT session_id FROM chat_sessions WHERE user_id = ?1 AND client_id = ?2",
                [&e.user_id, client_id],
                |r| r.get(0),
            )?,
            None => e.session_id.clone(),
        }
    } else {
        e.session_id.clone()
    };
    tx.execute_cached("UPDATE chat_sessions SET updated_at = ?2 WHERE session_id = ?1", params![session_id, e.answered_at])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO chat_messages (message_id, session_id, role, content, context, model, prompt_tokens, completion_tokens, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    insert.execute(params![e.user_message_id, session_id, "user", e.user_text, e.context.as_str(), None::<String>, e.prompt_tokens, None::<u32>, e.asked_at])?;
    insert.execute(params![e.reply_id, session_id, "assistant", e.reply_text, e.context.as_str(), e.model, None::<u32>, e.completion_tokens, e.answered_at])?;
    Ok(session_id)
}
