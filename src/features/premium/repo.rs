//! SQL of premium image generations.

use rusqlite::{Connection, OptionalExtension, Row, params};
use crate::db::CachedSql;

#[derive(Debug, Clone)]
pub struct GenerationRow {
    pub generation_id: String,
    pub user_id: String,
    pub prompt: String,
    pub revised_prompt: Option<String>,
    pub size: String,
    pub style: String,
    pub quality: String,
    pub model: String,
    pub seed: Option<String>,
    pub sha256: String,
    pub original_path: String,
    pub thumbnail_path: String,
    pub width: u32,
    pub height: u32,
    pub created_at: String,
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

pub fn insert(c: &Connection, g: &GenerationRow, storage_url: &str, thumbnail_url: &str) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO premium_image_generations (generation_id, user_id, prompt, revised_prompt, size, style, quality, model,
           seed, sha256, original_path, thumbnail_path, width, height, created_at, storage_url, thumbnail_url)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            g.generation_id, g.user_id, g.prompt, g.revised_prompt, g.size, g.style, g.quality, g.model, g.seed, g.sha256,
            g.original_path, g.thumbnail_path, g.width, g.height, g.created_at, storage_url, thumbnail_url
        ],
    )?;
    Ok(())
}

pub fn get(c: &Connection, generation_id: &str) -> rusqlite::Result<Option<GenerationRow>> {
    c.query_row_cached(&format!("SELECT {COLUMNS} FROM premium_image_generations WHERE generation_id = ?1"), [generation_id], row_of).optional()
}

/// A user's generations, newest first (ties by id, so pages are stable), and their count.
pub fn page(c: &Connection, user_id: &str, limit: u32, offset: u32) -> rusqlite::Result<(Vec<GenerationRow>, u64)> {
    let total = c.query_row_cached("SELECT COUNT(*) FROM premium_image_generations WHERE user_id = ?1", [user_id], |r| r.get(0))?;
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM premium_image_generations WHERE user_id = ?1
         ORDER BY created_at DESC, generation_id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = stmt.query_map(params![user_id, limit, offset], row_of)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}

pub fn delete(c: &Connection, generation_id: &str) -> rusqlite::Result<bool> {
    Ok(c.execute_cached("DELETE FROM premium_image_generations WHERE generation_id = ?1", [generation_id])? == 1)
}
