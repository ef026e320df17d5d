//! The mirror worker: claims due outbox entries, renders each mirror from its rows as they are
//! now, writes it and marks the entry done; a failed write is retried with backoff. It wakes
//! when this server's services poke it, and every `storage.mirrors.poll_ms` for changes other
//! servers made and retries that came due. Entries left at a stop (or a crash) are in the
//! database, due: the next start writes them (a crashed worker's claims after their lease).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::store::{Claimed, MirrorOutbox};
use super::{MirrorKind, MirrorRenderer, MirrorSignal};
use crate::blobs::{BlobStore, StoreError};
use crate::config::MirrorsConfig;
use crate::error::{AppError, AppResult};

/// Mirrors written, by `outcome`: `written`, `gone` (the subject no longer exists: nothing to
/// write) or `failed` (retried later).
pub const MIRRORS: &str = "optima_mirrors_total";

/// Entries claimed at once.
const BATCH: u32 = 64;
/// Mirrors of a batch written at once (a GCS write is a round trip).
const CONCURRENT_WRITES: usize = 8;
/// How long a claim holds: far longer than a batch takes (a blob write gives up after
/// `storage.gcs.timeout_secs`); a crashed worker's entries are written this long after.
const LEASE: Duration = Duration::from_secs(120);

pub struct MirrorWorker {
    outbox: Arc<dyn MirrorOutbox>,
    renderers: HashMap<MirrorKind, Arc<dyn MirrorRenderer>>,
    blobs: Arc<dyn BlobStore>,
    signal: MirrorSignal,
    config: MirrorsConfig,
    /// This worker's name in `claimed_by`: unique per process.
    id: String,
}

/// A running worker; [`MirrorWorkerHandle::stop`] ends it.
pub struct MirrorWorkerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl MirrorWorkerHandle {
    /// Lets the batch in hand finish (its entries done or rescheduled, none left claimed) and
    /// ends the worker.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "the mirror worker ended abnormally");
        }
    }
}

/// The delay before retrying a write that failed for the `attempts`-th time (1, 2, …): the
/// first delay doubled per earlier failure, at most the cap.
pub fn backoff(config: &MirrorsConfig, attempts: u32) -> Duration {
    let first = Duration::from_millis(config.retry_first_ms);
    let cap = Duration::from_secs(config.retry_max_secs).max(first);
    first.checked_mul(1u32 << attempts.saturating_sub(1).min(20)).map_or(cap, |d| d.min(cap))
}

impl MirrorWorker {
    pub fn new(
        outbox: Arc<dyn MirrorOutbox>,
        renderers: Vec<Arc<dyn MirrorRenderer>>,
        blobs: Arc<dyn BlobStore>,
        signal: MirrorSignal,
        config: MirrorsConfig,
    ) -> Self {
        let renderers = renderers.into_iter().map(|r| (r.kind(), r)).collect();
        Self { outbox, renderers, blobs, signal, config, id: format!("optima-{}", uuid::Uuid::new_v4()) }
    }

    /// Starts the worker on the runtime; at once it writes whatever is due.
    pub fn start(self) -> MirrorWorkerHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(stopped));
        MirrorWorkerHandle { stop, task }
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.config.poll_ms);
        loop {
            // Batch after batch while they come full; a short one means nothing more is due.
            while !*stopped.borrow() {
                match self.round().await {
                    Ok(n) if n == BATCH as usize => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "the mirror outbox could not be read; trying again at the next poll");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = stopped.changed() => {}
                _ = self.signal.poked() => {}
                _ = tokio::time::sleep(poll) => {}
            }
            if *stopped.borrow() {
                return;
            }
        }
    }

    /// Claims one batch and writes it; how many entries it claimed.
    async fn round(&self) -> AppResult<usize> {
        let claimed = self.outbox.claim(BATCH, LEASE, &self.id).await?;
        let count = claimed.len();
        let outcomes: Vec<(Claimed, AppResult<bool>)> = futures_util::stream::iter(claimed)
            .map(|c| async move {
                let outcome = self.write(&c).await;
                (c, outcome)
            })
            .buffer_unordered(CONCURRENT_WRITES)
            .collect()
            .await;
        let mut done = Vec::with_capacity(count);
        for (c, outcome) in outcomes {
            match outcome {
                Ok(written) => {
                    metrics::counter!(MIRRORS, "outcome" => if written { "written" } else { "gone" }).increment(1);
                    done.push(c);
                }
                Err(e) => {
                    metrics::counter!(MIRRORS, "outcome" => "failed").increment(1);
                    let after = backoff(&self.config, c.attempts + 1);
                    tracing::warn!(
                        kind = c.kind.as_str(), subject = %c.subject_id, attempts = c.attempts + 1, retry_in_ms = after.as_millis() as u64,
                        error = %e, "writing a mirror failed; it is retried"
                    );
                    if let Err(e) = self.outbox.retry(&c, &self.id, after, &e.to_string()).await {
                        tracing::warn!(kind = c.kind.as_str(), subject = %c.subject_id, error = %e, "could not reschedule a mirror; it is retried when its claim runs out");
                    }
                }
            }
        }
        self.outbox.done(&done, &self.id).await?;
        Ok(count)
    }

    /// Renders and writes one mirror: true when written, false when its subject is gone.
    async fn write(&self, c: &Claimed) -> AppResult<bool> {
        let renderer = self
            .renderers
            .get(&c.kind)
            .ok_or_else(|| AppError::internal(format!("no renderer for mirrors of kind {}", c.kind.as_str())))?;
        let Some(mirror) = renderer.render_mirror(&c.subject_id).await? else { return Ok(false) };
        self.blobs.put_mirror(mirror.bucket, &mirror.path, mirror.bytes).await?;
        // Deleted while this was written: the deletion may have cleared the folder before the
        // write landed, so the mirror must not outlive its subject.
        if !renderer.mirror_subject_exists(&c.subject_id).await? {
            match self.blobs.delete(mirror.bucket, &mirror.path).await {
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            return Ok(false);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_delay_up_to_the_cap() {
        let config = MirrorsConfig { poll_ms: 1000, retry_first_ms: 1000, retry_max_secs: 300 };
        let secs: Vec<u64> = (1..=12).map(|n| backoff(&config, n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(backoff(&config, u32::MAX), Duration::from_secs(300));
    }
}
