//! The event log on PostgreSQL. Appends go through `events_append` (migration V9), which takes
//! the log's advisory lock before the id is drawn, so ids commit in order across servers, and
//! notifies `optima_events` at commit; triggers on Tactical's tables call the same function.

use std::time::Duration;

use serde_json::Value;
use tokio_postgres::Row;

use super::{EventStore, column_seq};
use crate::db::postgres::PgDb;
use crate::db::postgres::values::{text, unsigned};
use crate::error::AppResult;
use crate::events::Event;

/// The channel `events_append` notifies with each new id.
pub const CHANNEL: &str = "optima_events";

pub struct PgEventStore {
    db: PgDb,
}

impl PgEventStore {
    pub fn new(db: PgDb) -> Self {
        Self { db }
    }
}

fn event_of(r: &Row) -> AppResult<Event> {
    Ok(Event {
        seq: unsigned(r.get(0))?,
        topic: r.get(1),
        kind: r.get(2),
        subject_id: r.get(3),
        payload: r.get(4),
        created_at: text(r.get(5)),
    })
}

#[async_trait::async_trait]
impl EventStore for PgEventStore {
    async fn append(&self, topic: &str, kind: &str, subject_id: &str, payload: Option<&Value>) -> AppResult<u64> {
        let client = self.db.client().await?;
        let stmt = client.prepare_cached("SELECT events_append($1, $2, $3, $4)").await?;
        unsigned(client.query_one(&stmt, &[&topic, &kind, &subject_id, &payload]).await?.get(0))
    }

    async fn after(&self, after: u64, topics: &[String], limit: u32) -> AppResult<Vec<Event>> {
        let client = self.db.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT seq, topic, kind, subject_id, payload, created_at FROM events
                 WHERE seq > $1 AND (cardinality($2::text[]) = 0 OR topic = ANY($2))
                 ORDER BY seq LIMIT $3",
            )
            .await?;
        let rows = client.query(&stmt, &[&column_seq(after), &topics, &i64::from(limit)]).await?;
        rows.iter().map(event_of).collect()
    }

    async fn head(&self) -> AppResult<u64> {
        let client = self.db.client().await?;
        let stmt = client
            .prepare_cached("SELECT greatest(coalesce((SELECT max(seq) FROM events), 0), (SELECT seq FROM event_horizon WHERE id = 1))")
            .await?;
        unsigned(client.query_one(&stmt, &[]).await?.get::<_, Option<i64>>(0).unwrap_or(0))
    }

    async fn horizon(&self) -> AppResult<u64> {
        let client = self.db.client().await?;
        let row = client.query_opt("SELECT seq FROM event_horizon WHERE id = 1", &[]).await?;
        unsigned(row.map_or(0, |r| r.get(0)))
    }

    async fn prune(&self, max_age: Duration, keep: u64) -> AppResult<u64> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        // The horizon's row lock makes two servers' prunes take turns.
        tx.execute("SELECT seq FROM event_horizon WHERE id = 1 FOR UPDATE", &[]).await?;
        let highest: Option<i64> = tx
            .query_one(
                "SELECT max(seq) FROM events WHERE created_at < now() - $1::float8 * interval '1 second'
                    OR seq <= coalesce((SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET $2), 0)",
                &[&max_age.as_secs_f64(), &column_seq(keep)],
            )
            .await?
            .get(0);
        let Some(highest) = highest else { return Ok(0) };
        // Every event up to the highest one that goes goes too (ids are in time order).
        let removed = tx.execute("DELETE FROM events WHERE seq <= $1", &[&highest]).await?;
        tx.execute("UPDATE event_horizon SET seq = greatest(seq, $1) WHERE id = 1", &[&highest]).await?;
        tx.commit().await?;
        Ok(removed)
    }
}
