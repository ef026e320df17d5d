//! The premium store on PostgreSQL, shared by several servers.
//!
//! `generation_id` is a uuid column: an id that is not a UUID as the service writes them
//! (hyphenated, lower case) names no row (`None`, `false`), as in SQLite's text column.
//! Recording a generation is one transaction: the record is inserted first (a taken id fails
//! here, and the whole transaction with it), then its hold is committed
//! (`subscription::store::postgres::commit_hold_in`, which takes the hold's row and locks its
//! counter row), so the counter stays locked only for the last statement before the commit and
//! either both happen or neither. A page and its total are read in one REPEATABLE READ
//! snapshot, as SQLite's read transaction does.

use tokio_postgres::{IsolationLevel, Row};
use uuid::Uuid;

use super::{GenerationRow, GenerationUrls, PremiumStore};
use crate::db::postgres::PgDb;
use crate::db::postgres::values::{row_id, text, time};
use crate::error::{AppError, AppResult};
use crate::features::page::Page;
use crate::features::subscription::store::Hold;
use crate::features::subscription::store::postgres::commit_hold_in;

pub struct PgPremiumStore {
    db: PgDb,
}

impl PgPremiumStore {
    pub fn new(db: PgDb) -> Self {
        Self { db }
    }
}

const COLUMNS: &str = "generation_id, user_id, prompt, revised_prompt, size, style, quality, model, seed, sha256,
    original_path, thumbnail_path, width, height, created_at";

/// A bigint column that holds a `u32` (0 when NULL, as SQLite's reading).
fn dimension(r: &Row, index: usize) -> AppResult<u32> {
    r.get::<_, Option<i64>>(index).map_or(Ok(0), |n| u32::try_from(n).map_err(AppError::internal))
}

fn row_of(r: &Row) -> AppResult<GenerationRow> {
    let or_empty = |index| r.get::<_, Option<String>>(index).unwrap_or_default();
    let id: Uuid = r.get(0);
    Ok(GenerationRow {
        generation_id: id.to_string(),
        user_id: r.get(1),
        prompt: r.get(2),
        revised_prompt: r.get(3),
        size: or_empty(4),
        style: or_empty(5),
        quality: r.get(6),
        model: or_empty(7),
        seed: r.get(8),
        sha256: or_empty(9),
        original_path: or_empty(10),
        thumbnail_path: or_empty(11),
        width: dimension(r, 12)?,
        height: dimension(r, 13)?,
        created_at: text(r.get(14)),
    })
}

#[async_trait::async_trait]
impl PremiumStore for PgPremiumStore {
    async fn record_generation(&self, g: GenerationRow, urls: GenerationUrls, hold: Hold) -> AppResult<()> {
        let id = row_id(&g.generation_id)
            .ok_or_else(|| AppError::internal(format!("a generation id that is not a lowercase hyphenated UUID: {:?}", g.generation_id)))?;
        let created_at = time(&g.created_at)?;
        let (width, height) = (i64::from(g.width), i64::from(g.height));
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO premium_image_generations (generation_id, user_id, prompt, revised_prompt, size, style, quality, model,
                   seed, sha256, original_path, thumbnail_path, width, height, created_at, storage_url, thumbnail_url)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            )
            .await?;
        tx.execute(
            &insert,
            &[
                &id,
                &g.user_id,
                &g.prompt,
                &g.revised_prompt,
                &g.size,
                &g.style,
                &g.quality,
                &g.model,
                &g.seed,
                &g.sha256,
                &g.original_path,
                &g.thumbnail_path,
                &width,
                &height,
                &created_at,
                &urls.image_url,
                &urls.thumbnail_url,
            ],
        )
        .await?;
        commit_hold_in(&tx, &hold).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn generation(&self, generation_id: &str) -> AppResult<Option<GenerationRow>> {
        let Some(id) = row_id(generation_id) else { return Ok(None) };
        let client = self.db.client().await?;
        let stmt = client.prepare_cached(&format!("SELECT {COLUMNS} FROM premium_image_generations WHERE generation_id = $1")).await?;
        client.query_opt(&stmt, &[&id]).await?.as_ref().map(row_of).transpose()
    }

    async fn generations_of(&self, user_id: &str, page: Page) -> AppResult<(Vec<GenerationRow>, u64)> {
        let mut client = self.db.client().await?;
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let total = tx.prepare_cached("SELECT count(*) FROM premium_image_generations WHERE user_id = $1").await?;
        let total: i64 = tx.query_one(&total, &[&user_id]).await?.get(0);
        let rows = tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM premium_image_generations WHERE user_id = $1
                 ORDER BY created_at DESC, generation_id DESC LIMIT $2 OFFSET $3"
            ))
            .await?;
        let rows = tx.query(&rows, &[&user_id, &i64::from(page.limit), &i64::from(page.offset)]).await?;
        tx.commit().await?;
        Ok((rows.iter().map(row_of).collect::<AppResult<Vec<_>>>()?, u64::try_from(total).map_err(AppError::internal)?))
    }

    async fn delete_generation(&self, generation_id: &str) -> AppResult<bool> {
        let Some(id) = row_id(generation_id) else { return Ok(false) };
        let client = self.db.client().await?;
        let stmt = client.prepare_cached("DELETE FROM premium_image_generations WHERE generation_id = $1").await?;
        Ok(client.execute(&stmt, &[&id]).await? == 1)
    }
}
