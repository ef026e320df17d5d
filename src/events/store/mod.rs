//! The event log (`events`, `event_horizon`). Row changes that are events (comms, incidents)
//! are appended by the database's triggers in the change's own transaction; everything else is
//! appended here. Ids are handed out in commit order on both backends (SQLite has one writer;
//! on PostgreSQL every append takes one advisory lock first, migration V9), so a reader that
//! has seen every event up to an id never later finds a smaller one.

pub mod postgres;
pub mod sqlite;

use std::time::Duration;

use serde_json::Value;

use super::Event;
use crate::error::AppResult;

#[async_trait::async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends an event and returns its id.
    async fn append(&self, topic: &str, kind: &str, subject_id: &str, payload: Option<&Value>) -> AppResult<u64>;

    /// Up to `limit` events after id `after`, oldest first: those on `topics`, or all when
    /// `topics` is empty.
    async fn after(&self, after: u64, topics: &[String], limit: u32) -> AppResult<Vec<Event>>;

    /// The newest event's id (the horizon when the log is empty, 0 when it always was).
    async fn head(&self) -> AppResult<u64>;

    /// The highest id retention removed: a client whose last id is older missed events.
    async fn horizon(&self) -> AppResult<u64>;

    /// Removes the events older than `max_age` and all but the newest `keep`, raising the
    /// horizon past them, atomically. Returns how many went.
    async fn prune(&self, max_age: Duration, keep: u64) -> AppResult<u64>;
}

/// An id as the bigint column holds it.
fn column_seq(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}
