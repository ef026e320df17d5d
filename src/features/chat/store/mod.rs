//! What the chat service keeps: sessions (by their own id or the id the user's client gave
//! them) and their messages. The rules (who may, what a tier admits, what a reply costs) are the
//! service's; a store guarantees that each operation here is atomic, also with several servers
//! on one database.

pub mod postgres;
pub mod sqlite;

use super::model::{ChatContext, ChatMessage, ChatSession};
use crate::error::AppResult;
use crate::features::page::Page;
use crate::features::subscription::plan::Tier;
use crate::features::subscription::quota::{Admission, UsageLine};
use crate::features::subscription::store::Hold;

/// A session's ids and owner.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// The id it is stored under.
    pub session_id: String,
    pub user_id: String,
}

/// What the chat service tells the text provider about a caller: read together.
#[derive(Debug, Clone)]
pub struct CallerSnapshot {
    pub tier: Tier,
    /// How many chat sessions the user has.
    pub sessions: u64,
    /// The user's `ai_chat` standing, as the admission computes it.
    pub standing: UsageLine,
}

/// A question and its answer, and the session they go into.
#[derive(Debug, Clone)]
pub struct NewExchange {
    pub session_id: String,
    /// Whether the session is to be created with the exchange.
    pub new_session: bool,
    /// The id the client gave a new session, if it gave one.
    pub client_id: Option<String>,
    pub user_id: String,
    pub context: ChatContext,
    /// A new session's title.
    pub title: String,
    pub user_message_id: String,
    pub user_text: String,
    pub asked_at: String,
    pub reply_id: String,
    pub reply_text: String,
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub answered_at: String,
}

/// How an exchange is paid for, decided by the service.
#[derive(Clone)]
pub enum ExchangeQuota {
    /// Commit the hold taken before the provider was asked; `standing` names the feature whose
    /// standing after the commit is returned (its amount is not charged again).
    CommitHold { hold: Hold, standing: Admission },
    /// Admit and charge the admission with the exchange: refused (the admission's error, nothing
    /// stored) when the tier does not include it or its quota is used up.
    Charge(Admission),
}

/// What storing an exchange came to.
#[derive(Debug, Clone)]
pub struct StoredExchange {
    /// The session the exchange went into: a client's new session id that a concurrent first
    /// message took already goes on in the session that message started.
    pub session_id: String,
    /// The standing after the exchange was paid for.
    pub standing: UsageLine,
}

/// A reply as stored, for a client resuming its stream on a server that did not write it.
#[derive(Debug, Clone)]
pub struct StoredReply {
    /// The session's id as its client named it (else its own).
    pub shown_session_id: String,
    pub user_message_id: String,
    pub reply: ChatMessage,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

#[async_trait::async_trait]
pub trait ChatStore: Send + Sync + 'static {
    /// The session `id` names: the session stored under that id (whoever owns it) before the one
    /// `user_id`'s client gave that id; `None` when neither exists.
    async fn session(&self, user_id: &str, id: &str) -> AppResult<Option<SessionRow>>;

    /// `admission.user_id`'s tier, session count and standing with `admission.feature` (as
    /// [`Admission::line`] computes it; its amount is not used), in one read.
    async fn caller_snapshot(&self, admission: Admission) -> AppResult<CallerSnapshot>;

    /// The newest `limit` messages of a session, oldest first; empty when there is no such session.
    async fn recent_messages(&self, session_id: &str, limit: usize) -> AppResult<Vec<ChatMessage>>;

    /// Stores the question and its answer (and the session, when new; a session's `updated_at`
    /// becomes the answer's time) and pays for them as `quota` says, atomically: when the quota
    /// refuses, nothing is stored; when storing fails, nothing is paid. A new session whose
    /// client id the user's concurrent first message took already is not created twice: the
    /// exchange goes into that session.
    async fn insert_exchange(&self, exchange: NewExchange, quota: ExchangeQuota) -> AppResult<StoredExchange>;

    /// A page of a session's messages, oldest first (ties by id), and how many it has in all.
    async fn messages_page(&self, session_id: &str, page: Page) -> AppResult<(Vec<ChatMessage>, u64)>;

    /// A page of `user_id`'s sessions, the most recently updated first (ties by id, descending),
    /// each shown by the id its client gave it (else its own) with its message count, and how
    /// many sessions the user has in all.
    async fn sessions_page(&self, user_id: &str, page: Page) -> AppResult<(Vec<ChatSession>, u64)>;

    /// `user_id`'s stored reply `message_id` (an assistant message), with its session as the
    /// client knows it and the question it answered; `None` when there is none.
    async fn stored_reply(&self, user_id: &str, message_id: &str) -> AppResult<Option<StoredReply>>;

    /// Removes a session (stored id) and its messages; false when there was none.
    async fn delete_session(&self, session_id: &str) -> AppResult<bool>;
}
