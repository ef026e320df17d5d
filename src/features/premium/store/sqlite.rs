//! The premium store on the embedded SQLite database.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{GenerationRow, GenerationUrls, PremiumStore};
use crate::db::{CachedSql, Db};
use crate::error::AppResult;
use crate::features::page::Page;
use crate::features::subscription::store::Hold;
use crate::features::subscription::store::sqlite::commit_hold_in;

pub struct SqlitePremiumStore {
    db: Db,
}

impl SqlitePremiumStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl PremiumStore for SqlitePremiumStore {
    async fn record_generation(&self, generation: GenerationRow, urls: GenerationUrls, hold: Hold) -> AppResult<()> {
        self.db
            .write(move |tx| {
                commit_hold_in(tx, &hold)?;
                insert(tx, &generation, &urls)?;
                Ok(())
            })
            .await
    }

    async fn generation(&self, generation_id: &str) -> AppResult<Option<GenerationRow>> {
        let id = generation_id.to_owned();
        self.db.read(move |c| get(c, &id)).await
    }

    async fn generations_of(&self, user_id: &str, page: Page) -> AppResult<(Vec<GenerationRow>, u64)> {
        let user = user_id.to_owned();
        self.db.read(move |c| generations_of(c, &user, page)).await
    }

    async fn delete_generation(&self, generation_id: &str) -> AppResult<bool> {
        let id = generation_id.to_owned();
        self.db.write(move |tx| Ok(tx.execute_cached("DELETE FROM premium_image_generations WHERE generation_id = ?1", [&id])? == 1)).await
    }
}

const COLUMNS: &str = "generation_id, user_id, prompt, revised_prompt, size, style, quality, model, seed, sha256,
    original_path, thumbnail_path, width, height, created_at";

fn row_of(r: &Row<'_>) -> rusqlite::Result<GenerationRow> {
    Ok(GenerationRow {
        generation_id: r.get(0)?,
        user_id: r.get(1)?,
        prompt: r.get(2)?,
        revised_prompt: r.get(3)?,
        size: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
        style: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
        quality: r.get(6)?,
        model: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
        seed: r.get(8)?,
        sha256: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
        original_path: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
        thumbnail_path: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
        width: r.get::<_, Option<u32>>(12)?.unwrap_or_default(),
        height: r.get::<_, Option<u32>>(13)?.unwrap_or_default(),
        created_at: r.get(14)?,
    })
}

fn insert(c: &Connection, g: &GenerationRow, urls: &GenerationUrls) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO premium_image_generations (generation_id, user_id, prompt, revised_prompt, size, style, quality, model,
           seed, sha256, original_path, thumbnail_path, width, height, created_at, storage_url, thumbnail_url)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            g.generation_id, g.user_id, g.prompt, g.revised_prompt, g.size, g.style, g.quality, g.model, g.seed, g.sha256,
            g.original_path, g.thumbnail_path, g.width, g.height, g.created_at, urls.image_url, urls.thumbnail_url
        ],
    )?;
    Ok(())
}

fn get(c: &Connection, generation_id: &str) -> rusqlite::Result<Option<GenerationRow>> {
    c.query_row_cached(&format!("SELECT {COLUMNS} FROM premium_image_generations WHERE generation_id = ?1"), [generation_id], row_of).optional()
}

/// A user's generations, newest first (ties by id, so pages are stable), and their count.
fn generations_of(c: &Connection, user_id: &str, page: Page) -> rusqlite::Result<(Vec<GenerationRow>, u64)> {
    let total = c.query_row_cached("SELECT COUNT(*) FROM premium_image_generations WHERE user_id = ?1", [user_id], |r| r.get(0))?;
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM premium_image_generations WHERE user_id = ?1
         ORDER BY created_at DESC, generation_id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = stmt.query_map(params![user_id, page.limit, page.offset], row_of)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}
