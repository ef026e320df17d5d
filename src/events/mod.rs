//! Live events: what clients watch as it happens (a comm sent, an incident reported or moved,
//! a generation's progress, a streamed chat reply), each with an id that only grows, kept in a
//! durable, bounded log (`events`, migration V9) so that a client that reconnects with the
//! last id it saw is sent every event it missed, in order.
//!
//! An event names what changed, never its content: the feature that owns the object reads it
//! for each subscriber under the same rules as that subscriber's own read, so the log holds no
//! secret and needs no authorization of its own.
//!
//! - [`store`]: the log on SQLite and on PostgreSQL.
//! - [`bus`]: this server's follower of the log and its subscribers. One task reads what is new
//!   (woken by this server's own writes, by PostgreSQL's notifications of other servers'
//!   writes, and by a poll) and hands each event to every subscriber; a subscriber that falls
//!   behind reads what it missed from the log instead, so memory stays bounded.

pub mod bus;
pub mod store;
pub mod streams;

use serde_json::Value;

/// One event of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its id: increasing, never reused, in the order events committed.
    pub seq: u64,
    /// Who may be interested: [`TACTICAL`], [`music_topic`], [`chat_topic`].
    pub topic: String,
    /// What happened: `comm`, `incident`, `generation`, `chat`.
    pub kind: String,
    /// The object it happened to (a comm, incident or project id; a chat stream).
    pub subject_id: String,
    /// What is not a row (progress, text so far), as JSON.
    pub payload: Option<Value>,
    /// RFC 3339, UTC, milliseconds.
    pub created_at: String,
}

/// Comms and incidents of Tactical HQ (written by triggers on their tables).
pub const TACTICAL: &str = "tactical";

/// A music project's generations.
pub fn music_topic(project_id: &str) -> String {
    format!("music/{project_id}")
}

/// One streamed chat reply.
pub fn chat_topic(stream_id: &str) -> String {
    format!("chat/{stream_id}")
}

/// Wakes this server's follower of the log after a write that appended events committed (the
/// triggers of a comm or incident); without it the follower still finds them at its next poll.
#[derive(Clone, Default)]
pub struct EventSignal(std::sync::Arc<tokio::sync::Notify>);

impl EventSignal {
    pub fn new() -> Self {
        Self::default()
    }

    /// Events were committed.
    pub fn appended(&self) {
        // A permit is kept when the follower is busy, so a wake-up is never lost.
        self.0.notify_one();
    }

    async fn woken(&self) {
        self.0.notified().await
    }
}
