//! The mirror outbox on PostgreSQL.
//!
//! A claim is one statement: the due rows are picked `FOR UPDATE SKIP LOCKED`, so workers of
//! several servers claiming at once each take rows the others are not taking (a row being
//! claimed, or being changed by a request's transaction, is skipped, not waited for), and are
//! stamped with the claim in the same statement. Times are the server's `now()`, as in the
//! triggers that make the entries. `done` and `retry` run in one transaction each.

use std::time::Duration;

use tokio_postgres::Row;

use super::{Claimed, MirrorOutbox, kind_of};
use crate::db::postgres::PgDb;
use crate::error::AppResult;

pub struct PgMirrorOutbox {
    db: PgDb,
}

impl PgMirrorOutbox {
    pub fn new(db: PgDb) -> Self {
        Self { db }
    }
}

fn claimed_of(r: &Row) -> AppResult<Claimed> {
    let kind: String = r.get(0);
    let attempts: i64 = r.get(3);
    Ok(Claimed { kind: kind_of(&kind)?, subject_id: r.get(1), version: r.get(2), attempts: u32::try_from(attempts).unwrap_or(u32::MAX) })
}

const RELEASE: &str = "UPDATE mirror_outbox SET claimed_by = NULL, claimed_until = NULL WHERE kind = $1 AND subject_id = $2 AND claimed_by = $3";

#[async_trait::async_trait]
impl MirrorOutbox for PgMirrorOutbox {
    async fn claim(&self, limit: u32, lease: Duration, worker: &str) -> AppResult<Vec<Claimed>> {
        let client = self.db.client().await?;
        let stmt = client
            .prepare_cached(
                "WITH due AS (
                   SELECT kind, subject_id FROM mirror_outbox
                   WHERE due_at <= now() AND (claimed_until IS NULL OR claimed_until <= now())
                   ORDER BY due_at LIMIT $1
                   FOR UPDATE SKIP LOCKED)
                 UPDATE mirror_outbox m SET claimed_by = $2, claimed_until = now() + $3::float8 * interval '1 second'
                 FROM due WHERE m.kind = due.kind AND m.subject_id = due.subject_id
                 RETURNING m.kind, m.subject_id, m.version, m.attempts",
            )
            .await?;
        let rows = client.query(&stmt, &[&i64::from(limit), &worker, &lease.as_secs_f64()]).await?;
        rows.iter().map(claimed_of).collect()
    }

    async fn done(&self, claimed: &[Claimed], worker: &str) -> AppResult<()> {
        if claimed.is_empty() {
            return Ok(());
        }
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let delete = tx.prepare_cached("DELETE FROM mirror_outbox WHERE kind = $1 AND subject_id = $2 AND version = $3").await?;
        let release = tx.prepare_cached(RELEASE).await?;
        for c in claimed {
            if tx.execute(&delete, &[&c.kind.as_str(), &c.subject_id, &c.version]).await? == 0 {
                tx.execute(&release, &[&c.kind.as_str(), &c.subject_id, &worker]).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn retry(&self, claimed: &Claimed, worker: &str, after: Duration, error: &str) -> AppResult<()> {
        let c = claimed;
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let counted = tx
            .prepare_cached(
                "UPDATE mirror_outbox SET attempts = attempts + 1, last_error = $4,
                   due_at = now() + $5::float8 * interval '1 second', claimed_by = NULL, claimed_until = NULL
                 WHERE kind = $1 AND subject_id = $2 AND version = $3",
            )
            .await?;
        if tx.execute(&counted, &[&c.kind.as_str(), &c.subject_id, &c.version, &error, &after.as_secs_f64()]).await? == 0 {
            let release = tx.prepare_cached(RELEASE).await?;
            tx.execute(&release, &[&c.kind.as_str(), &c.subject_id, &worker]).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
