//! The event log on SQLite: appends go through the one writer connection, so ids are handed
//! out in commit order; topics are matched with `json_each` over a JSON array of names.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::{EventStore, column_seq};
use crate::db::{CachedSql, Db};
use crate::error::{AppError, AppResult};
use crate::events::Event;

pub struct SqliteEventStore {
    db: Db,
}

impl SqliteEventStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn event_of(r: &rusqlite::Row) -> rusqlite::Result<(i64, String, String, String, Option<String>, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

#[async_trait::async_trait]
impl EventStore for SqliteEventStore {
    async fn append(&self, topic: &str, kind: &str, subject_id: &str, payload: Option<&Value>) -> AppResult<u64> {
        let (topic, kind, subject_id) = (topic.to_owned(), kind.to_owned(), subject_id.to_owned());
        let payload = payload.map(Value::to_string);
        let seq: i64 = self
            .db
            .write(move |tx| {
                Ok(tx.query_row_cached(
                    "INSERT INTO events (topic, kind, subject_id, payload) VALUES (?1, ?2, ?3, ?4) RETURNING seq",
                    params![topic, kind, subject_id, payload],
                    |r| r.get(0),
                )?)
            })
            .await?;
        Ok(seq as u64)
    }

    async fn after(&self, after: u64, topics: &[String], limit: u32) -> AppResult<Vec<Event>> {
        let topics = (!topics.is_empty()).then(|| serde_json::to_string(topics).unwrap_or_default());
        let rows = self
            .db
            .read(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT seq, topic, kind, subject_id, payload, created_at FROM events
                     WHERE seq > ?1 AND (?2 IS NULL OR topic IN (SELECT value FROM json_each(?2)))
                     ORDER BY seq LIMIT ?3",
                )?;
                stmt.query_map(params![column_seq(after), topics, limit], event_of)?.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter()
            .map(|(seq, topic, kind, subject_id, payload, created_at)| {
                let payload = payload
                    .map(|p| serde_json::from_str(&p).map_err(|e| AppError::internal(format!("event {seq}: its payload is not JSON: {e}"))))
                    .transpose()?;
                Ok(Event { seq: seq as u64, topic, kind, subject_id, payload, created_at })
            })
            .collect()
    }

    async fn head(&self) -> AppResult<u64> {
        let seq: i64 = self
            .db
            .read(|c| {
                c.query_row("SELECT max(coalesce((SELECT max(seq) FROM events), 0), (SELECT seq FROM event_horizon WHERE id = 1))", [], |r| {
                    r.get(0)
                })
            })
            .await?;
        Ok(seq as u64)
    }

    async fn horizon(&self) -> AppResult<u64> {
        let seq: Option<i64> =
            self.db.read(|c| c.query_row("SELECT seq FROM event_horizon WHERE id = 1", [], |r| r.get(0)).optional()).await?;
        Ok(seq.unwrap_or(0) as u64)
    }

    async fn prune(&self, max_age: Duration, keep: u64) -> AppResult<u64> {
        let age = format!("-{:.3} seconds", max_age.as_secs_f64());
        let keep = column_seq(keep);
        self.db
            .write(move |tx| {
                const GONE: &str = "created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1)
                     OR seq <= coalesce((SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?2), 0)";
                let highest: Option<i64> =
                    tx.query_row_cached(&format!("SELECT max(seq) FROM events WHERE {GONE}"), params![age, keep], |r| r.get(0))?;
                let Some(highest) = highest else { return Ok(0) };
                // Every event up to the highest one that goes goes too (ids are in time order).
                let removed = tx.execute_cached("DELETE FROM events WHERE seq <= ?1", params![highest])?;
                tx.execute_cached("UPDATE event_horizon SET seq = max(seq, ?1) WHERE id = 1", params![highest])?;
                Ok(removed as u64)
            })
            .await
    }
}
