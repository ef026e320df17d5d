//! The mirror outbox on SQLite. One writer connection serializes claims, so a claim is one
//! `UPDATE … RETURNING`; times are the text SQLite's triggers write (RFC 3339, UTC,
//! milliseconds), which order as they compare.

use std::time::Duration;

use rusqlite::params;

use super::{Claimed, MirrorOutbox, kind_of};
use crate::db::{CachedSql, Db};
use crate::error::AppResult;

pub struct SqliteMirrorOutbox {
    db: Db,
}

impl SqliteMirrorOutbox {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// `duration` as a date-function modifier: `+1.500 seconds`.
fn later(duration: Duration) -> String {
    format!("+{:.3} seconds", duration.as_secs_f64())
}

/// Releases `worker`'s claim on the entry, if it still holds it.
fn release(tx: &rusqlite::Transaction, c: &Claimed, worker: &str) -> rusqlite::Result<usize> {
    tx.execute_cached(
        "UPDATE mirror_outbox SET claimed_by = NULL, claimed_until = NULL WHERE kind = ?1 AND subject_id = ?2 AND claimed_by = ?3",
        params![c.kind.as_str(), c.subject_id, worker],
    )
}

#[async_trait::async_trait]
impl MirrorOutbox for SqliteMirrorOutbox {
    async fn claim(&self, limit: u32, lease: Duration, worker: &str) -> AppResult<Vec<Claimed>> {
        let worker = worker.to_owned();
        let rows: Vec<(String, String, i64, i64)> = self
            .db
            .write(move |tx| {
                let mut stmt = tx.prepare_cached(&format!(
                    "UPDATE mirror_outbox SET claimed_by = ?1, claimed_until = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?2)
                     WHERE (kind, subject_id) IN (
                       SELECT kind, subject_id FROM mirror_outbox
                       WHERE due_at <= {NOW} AND (claimed_until IS NULL OR claimed_until <= {NOW})
                       ORDER BY due_at LIMIT ?3)
                     RETURNING kind, subject_id, version, attempts"
                ))?;
                let rows = stmt
                    .query_map(params![worker, later(lease), limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await?;
        rows
            .into_iter()
            .map(|(kind, subject_id, version, attempts)| {
                Ok(Claimed { kind: kind_of(&kind)?, subject_id, version, attempts: u32::try_from(attempts).unwrap_or(u32::MAX) })
            })
            .collect()
    }

    async fn done(&self, claimed: &[Claimed], worker: &str) -> AppResult<()> {
        if claimed.is_empty() {
            return Ok(());
        }
        let (claimed, worker) = (claimed.to_vec(), worker.to_owned());
        self.db
            .write(move |tx| {
                for c in &claimed {
                    let deleted = tx.execute_cached(
                        "DELETE FROM mirror_outbox WHERE kind = ?1 AND subject_id = ?2 AND version = ?3",
                        params![c.kind.as_str(), c.subject_id, c.version],
                    )?;
                    if deleted == 0 {
                        release(tx, c, &worker)?;
                    }
                }
                Ok(())
            })
            .await
    }

    async fn retry(&self, claimed: &Claimed, worker: &str, after: Duration, error: &str) -> AppResult<()> {
        let (c, worker, error) = (claimed.clone(), worker.to_owned(), error.to_owned());
        self.db
            .write(move |tx| {
                let counted = tx.execute_cached(
                    "UPDATE mirror_outbox SET attempts = attempts + 1, last_error = ?4,
                       due_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?5), claimed_by = NULL, claimed_until = NULL
                     WHERE kind = ?1 AND subject_id = ?2 AND version = ?3",
                    params![c.kind.as_str(), c.subject_id, c.version, error, later(after)],
                )?;
                if counted == 0 {
                    release(tx, &c, &worker)?;
                }
                Ok(())
            })
            .await
    }
}
