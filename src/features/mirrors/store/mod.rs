//! The outbox of mirrors to write (`mirror_outbox`). Entries are made by the database itself
//! (triggers on the mirrored rows, migration V8), never through this store; it claims them for
//! a worker, and deletes or reschedules them. Every time is the database's clock (the triggers
//! stamp `due_at` with it), so servers whose clocks differ still agree on what is due.

pub mod postgres;
pub mod sqlite;

use std::time::Duration;

use super::MirrorKind;
use crate::error::AppResult;

/// An entry a worker claimed: the mirror's identity, and its version when claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub kind: MirrorKind,
    pub subject_id: String,
    /// Counts the changes to the entry's subject; a change after the claim raises it.
    pub version: i64,
    /// Failed writes since the last change.
    pub attempts: u32,
}

#[async_trait::async_trait]
pub trait MirrorOutbox: Send + Sync + 'static {
    /// Claims up to `limit` due entries (due, and unclaimed or their claim run out), the
    /// longest due first, for `worker` until `lease` from now, atomically: workers claiming at
    /// once, on other servers too, never claim the same entry (on PostgreSQL a row another
    /// worker is claiming is skipped, not waited for). A change made after the claim leaves the
    /// entry claimed: it is due again when the claim is done with, so no two workers write one
    /// mirror at once.
    async fn claim(&self, limit: u32, lease: Duration, worker: &str) -> AppResult<Vec<Claimed>>;

    /// The mirrors of `claimed` are written: deletes each entry whose version is still the
    /// claimed one. An entry changed meanwhile is kept and released (unclaimed, due), so the
    /// change is written too. Atomic as a whole.
    async fn done(&self, claimed: &[Claimed], worker: &str) -> AppResult<()>;

    /// Writing `claimed`'s mirror failed: counts the attempt, keeps `error` and makes the entry
    /// due again `after` from now, releasing it. An entry changed meanwhile is only released
    /// (the change made it due at once).
    async fn retry(&self, claimed: &Claimed, worker: &str, after: Duration, error: &str) -> AppResult<()>;
}

/// `text` as a [`MirrorKind`]; the table's CHECK admits no other.
fn kind_of(text: &str) -> AppResult<MirrorKind> {
    MirrorKind::parse(text).ok_or_else(|| crate::error::AppError::internal(format!("an unknown mirror kind in mirror_outbox: {text:?}")))
}
