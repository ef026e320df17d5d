//! SQL of the audit log (`audit_log`) on PostgreSQL: appending to the chain under a lock,
//! walking it in order, and filtered pages. The hashing and the checks are `tactical::audit`'s.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use futures_util::{TryStreamExt, pin_mut};
use tokio_postgres::Row;

use super::{AUDIT_LOCK, text, time, unsigned};
use crate::db::now_text;
use crate::error::AppResult;
use crate::features::tactical::audit::{ChainCheck, Record, next_entry};
use crate::features::tactical::model::{AuditEntry, AuditFilter, AuditVerification};

const COLUMNS: &str = "seq, actor_id, action, target, outcome, detail, prev_hash, entry_hash, created_at";

fn entry_of(r: &Row) -> AppResult<AuditEntry> {
    Ok(AuditEntry {
        seq: r.try_get(0)?,
        actor_id: r.try_get(1)?,
        action: r.try_get(2)?,
        target: r.try_get(3)?,
        outcome: r.try_get(4)?,
        detail: r.try_get(5)?,
        prev_hash: r.try_get(6)?,
        entry_hash: r.try_get(7)?,
        created_at: text(r.try_get::<_, DateTime<Utc>>(8)?),
    })
}

/// Appends `r` after the newest entry, inside the writing transaction `tx` and as its last
/// statement: the advisory lock taken first is held to the commit, so appends from every server
/// take turns, and under READ COMMITTED the read after the lock sees the previous holder's
/// entry. The sequence of the identity column is not used: `seq` follows the newest entry.
pub(super) async fn append(tx: &impl GenericClient, r: &Record) -> AppResult<()> {
    let lock = tx.prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").await?;
    tx.execute(&lock, &[&AUDIT_LOCK]).await?;
    let newest = tx.prepare_cached("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1").await?;
    let newest = match tx.query_opt(&newest, &[]).await? {
        Some(row) => Some((row.try_get(0)?, row.try_get(1)?)),
        None => None,
    };
    let e = next_entry(newest, r, now_text());
    let insert = tx
        .prepare_cached(
            "INSERT INTO audit_log (seq, actor_id, action, target, outcome, detail, prev_hash, entry_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await?;
    let at = time(&e.created_at)?;
    tx.execute(&insert, &[&e.seq, &e.actor_id, &e.action, &e.target, &e.outcome, &e.detail, &e.prev_hash, &e.entry_hash, &at]).await?;
    Ok(())
}

/// Walks the whole chain in order, one row at a time as the server sends them (the chain is
/// never pruned, so it is not loaded whole), in the one snapshot of the statement.
pub(crate) async fn verify(c: &impl GenericClient) -> AppResult<AuditVerification> {
    let mut check = ChainCheck::default();
    let stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq")).await?;
    let rows = c.query_raw(&stmt, std::iter::empty::<i64>()).await?;
    pin_mut!(rows);
    while let Some(row) = rows.try_next().await? {
        check.push(entry_of(&row)?);
    }
    Ok(check.finish())
}

/// Entries matching `f`, newest first, and how many match; run it in one snapshot.
pub(super) async fn entries(c: &impl GenericClient, f: &AuditFilter) -> AppResult<(Vec<AuditEntry>, u64)> {
    let filter = "($1::text IS NULL OR actor_id = $1) AND ($2::text IS NULL OR action = $2) AND ($3::text IS NULL OR outcome = $3)
                  AND ($4::timestamptz IS NULL OR created_at >= $4)";
    let since = super::opt_time(f.since.as_deref())?;
    let total = c.prepare_cached(&format!("SELECT COUNT(*) FROM audit_log WHERE {filter}")).await?;
    let total = unsigned(c.query_one(&total, &[&f.actor, &f.action, &f.outcome, &since]).await?.try_get(0)?)?;
    let page = c.prepare_cached(&format!("SELECT {COLUMNS} FROM audit_log WHERE {filter} ORDER BY seq DESC LIMIT $5 OFFSET $6")).await?;
    let rows = c.query(&page, &[&f.actor, &f.action, &f.outcome, &since, &i64::from(f.limit), &i64::from(f.offset)]).await?;
    Ok((rows.iter().map(entry_of).collect::<AppResult<Vec<_>>>()?, total))
}
