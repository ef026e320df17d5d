//! Scheduled backups (`[backup] schedule`): a task that takes a backup at each time of a cron
//! expression, then deletes the oldest of its own beyond `keep`. A failure is logged and
//! counted in `/metrics` and the next time comes round as usual; it never stops the server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use croner::Cron;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{BackupError, Target, Trigger, prune, timestamped_name, write};
use crate::config::Config;
use crate::telemetry::metrics::{BACKUPS, LAST_BACKUP};


/// The running schedule; [`Scheduler::stop`] ends it.
pub struct Scheduler {
    stop: watch::Sender<bool>,
    /// Set on stop so that a backup in progress ends after the blob in hand.
    interrupt: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Scheduler {
    /// Starts the schedule of `config.backup`, if it has one.
    pub fn start(config: &Config) -> Option<Self> {
        if config.backup.schedule.is_empty() {
            return None;
        }
        let cron = super::cron::parse(&config.backup.schedule).expect("the schedule was checked when the configuration loaded");
        let (stop, stopped) = watch::channel(false);
        let interrupt = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(run(config.clone(), cron, stopped, interrupt.clone()));
        Some(Self { stop, interrupt, task })
    }

    /// Stops the schedule: a backup in progress is abandoned (nothing of it is kept).
    pub async fn stop(self) {
        self.interrupt.store(true, Ordering::SeqCst);
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn run(config: Config, cron: Cron, mut stopped: watch::Receiver<bool>, interrupt: Arc<AtomicBool>) {
    tracing::info!(schedule = %config.backup.schedule, "scheduled backups on");
    loop {
        let now = Utc::now();
        let next = match cron.find_next_occurrence(&now, false) {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(error = %e, "the backup schedule names no future time; scheduled backups stop");
                return;
            }
        };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
        run_once(&config, &interrupt).await;
    }
}

/// One scheduled backup and its retention, logged and counted.
async fn run_once(config: &Config, interrupt: &AtomicBool) {
    let name = timestamped_name(Utc::now());
    let target = match config.backup.gcs_bucket.as_str() {
        "" => Target::Dir(config.backup.dir.join(&name)),
        bucket => Target::Gcs { bucket: bucket.to_owned(), name },
    };
    match write(config, &target, Trigger::Schedule, interrupt, &mut |_| {}).await {
        Ok(manifest) => {
            metrics::counter!(BACKUPS, "outcome" => "ok").increment(1);
            metrics::gauge!(LAST_BACKUP).set(manifest.created_at.timestamp() as f64);
            tracing::info!(%target, blobs = manifest.blob_count, bytes = manifest.blob_bytes, "scheduled backup written");
        }
        Err(BackupError::Interrupted) => {
            tracing::info!(%target, "scheduled backup abandoned: the server is stopping");
            return;
        }
        Err(e) => {
            metrics::counter!(BACKUPS, "outcome" => "failed").increment(1);
            tracing::error!(%target, error = %e, "scheduled backup failed");
            return;
        }
    }
    match prune(config, &target, Trigger::Schedule, config.backup.keep).await {
        Ok(deleted) if deleted.is_empty() => {}
        Ok(deleted) => tracing::info!(?deleted, keep = config.backup.keep, "old scheduled backups deleted"),
        Err(e) => tracing::warn!(%target, error = %e, "deleting old scheduled backups failed"),
    }
}
