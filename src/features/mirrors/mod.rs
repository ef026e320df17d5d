//! Mirrors of rows in the blob store (a project's `metadata.json`), written off the request
//! path through a durable outbox.
//!
//! A change to the rows a mirror is rendered from marks the mirror due in `mirror_outbox`, by
//! triggers in the change's own transaction (migration V8): a committed change always has its
//! entry, and repeated changes coalesce into one. A feature that keeps mirrors pokes
//! [`MirrorSignal`] after a change (cheap: no blob work in the request), and the [`worker`]
//! claims due entries, renders each mirror from the rows as they are then (through the
//! feature's [`MirrorRenderer`]), writes it and marks the entry done; failures are retried with
//! backoff. Entries survive a crash; several servers on one database share them without
//! writing one twice at once (see [`store::MirrorOutbox::claim`]).

pub mod store;
pub mod worker;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::blobs::{BlobPath, Bucket};
use crate::error::AppResult;

/// What a mirror mirrors: each kind has one renderer, and its entries name one of its subjects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MirrorKind {
    /// A music project's `metadata.json`: the project, its stems and mix versions.
    MusicProject,
    /// A writing project's `metadata.json`: the project.
    WritingProject,
}

impl MirrorKind {
    /// The name in `mirror_outbox.kind` (the migrations' triggers write these).
    pub fn as_str(self) -> &'static str {
        match self {
            MirrorKind::MusicProject => "music_project",
            MirrorKind::WritingProject => "writing_project",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "music_project" => Some(MirrorKind::MusicProject),
            "writing_project" => Some(MirrorKind::WritingProject),
            _ => None,
        }
    }
}

/// A rendered mirror: the object to write.
#[derive(Debug, Clone)]
pub struct Mirror {
    pub bucket: Bucket,
    pub path: BlobPath,
    pub bytes: Vec<u8>,
}

/// How a feature renders the mirrors of one kind.
#[async_trait::async_trait]
pub trait MirrorRenderer: Send + Sync + 'static {
    fn kind(&self) -> MirrorKind;

    /// The mirror of `subject_id` rendered from its rows as they are now; `None` when the
    /// subject no longer exists (nothing to write).
    async fn render_mirror(&self, subject_id: &str) -> AppResult<Option<Mirror>>;

    /// Whether `subject_id` still exists: asked after a write, so that a mirror written while
    /// its subject was being deleted is deleted again.
    async fn mirror_subject_exists(&self, subject_id: &str) -> AppResult<bool>;
}

/// Wakes this server's mirror worker after a change (the outbox entry is already committed;
/// without a poke the worker still finds it at its next poll).
#[derive(Clone, Default)]
pub struct MirrorSignal(Arc<Notify>);

impl MirrorSignal {
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes the worker (or makes its next wait return at once); never blocks.
    pub fn poke(&self) {
        self.0.notify_one();
    }

    /// Waits for a poke.
    pub async fn poked(&self) {
        self.0.notified().await;
    }
}
