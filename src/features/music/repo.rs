//! SQL of music projects, stems, mix versions and shares.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::model::ProjectStatus;
use crate::db::{CachedSql, now_text};
use crate::features::page::Page;

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRow {
    pub project_id: String,
    pub user_id: String,
    pub title: String,
    pub genre: Option<String>,
    pub bpm: Option<u32>,
    pub mood: Option<String>,
    pub key: Option<String>,
    pub status: String,
    pub visibility: String,
    /// The project's folder in the music bucket.
    pub storage_path: String,
    pub stem_count: u64,
    pub total_plays: u64,
    pub duration: Option<f64>,
    pub current_version_id: Option<String>,
    pub last_error: Option<String>,
    pub share_slug: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const PROJECT_COLUMNS: &str = "project_id, user_id, title, genre, bpm, mood, musical_key, status, visibility, storage_path, \
     stem_count, total_plays, duration_seconds, current_version_id, last_error, share_slug, created_at, updated_at";

fn project_of(r: &Row<'_>) -> rusqlite::Result<ProjectRow> {
    Ok(ProjectRow {
        project_id: r.get(0)?,
        user_id: r.get(1)?,
        title: r.get(2)?,
        genre: r.get(3)?,
        bpm: r.get(4)?,
        mood: r.get(5)?,
        key: r.get(6)?,
        status: r.get(7)?,
        visibility: r.get(8)?,
        storage_path: r.get(9)?,
        stem_count: r.get(10)?,
        total_plays: r.get(11)?,
        duration: r.get(12)?,
        current_version_id: r.get(13)?,
        last_error: r.get(14)?,
        share_slug: r.get(15)?,
        created_at: r.get(16)?,
        updated_at: r.get(17)?,
    })
}

pub fn project(c: &Connection, project_id: &str) -> rusqlite::Result<Option<ProjectRow>> {
    c.query_row_cached(&format!("SELECT {PROJECT_COLUMNS} FROM music_projects WHERE project_id = ?1"), [project_id], project_of)
        .optional()
}

pub fn project_by_slug(c: &Connection, slug: &str) -> rusqlite::Result<Option<ProjectRow>> {
    c.query_row_cached(&format!("SELECT {PROJECT_COLUMNS} FROM music_projects WHERE share_slug = ?1"), [slug], project_of)
        .optional()
}

/// Projects a user owns that are not archived (what the tier's project limit counts).
pub fn count_active(c: &Connection, user_id: &str) -> rusqlite::Result<u64> {
    c.query_row_cached("SELECT count(*) FROM music_projects WHERE user_id = ?1 AND status <> 'archived'", [user_id], |r| r.get(0))
}

pub fn insert_project(tx: &Transaction, p: &ProjectRow) -> rusqlite::Result<()> {
    tx.execute_cached(
        "INSERT INTO music_projects (project_id, user_id, title, genre, bpm, mood, musical_key, status, visibility, storage_path, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
        params![p.project_id, p.user_id, p.title, p.genre, p.bpm, p.mood, p.key, p.status, p.visibility, p.storage_path, p.created_at],
    )?;
    Ok(())
}

pub fn list(c: &Connection, user_id: &str, status: Option<ProjectStatus>, page: Page) -> rusqlite::Result<(Vec<ProjectRow>, u64)> {
    crate::db::owned_page(c, "music_projects", PROJECT_COLUMNS, user_id, status.map(ProjectStatus::as_str), (page.limit, page.offset), project_of)
}

/// Writes the editable fields of `p` back.
pub fn save_fields(tx: &Transaction, p: &ProjectRow) -> rusqlite::Result<()> {
    tx.execute_cached(
        "UPDATE music_projects SET title = ?2, genre = ?3, bpm = ?4, mood = ?5, musical_key = ?6, status = ?7, visibility = ?8,
                last_error = ?9, updated_at = ?10 WHERE project_id = ?1",
        params![p.project_id, p.title, p.genre, p.bpm, p.mood, p.key, p.status, p.visibility, p.last_error, now_text()],
    )?;
    Ok(())
}

pub fn set_status(tx: &Transaction, project_id: &str, status: ProjectStatus, last_error: Option<&str>) -> rusqlite::Result<()> {
    tx.execute_cached(
        "UPDATE music_projects SET status = ?2, last_error = ?3, updated_at = ?4 WHERE project_id = ?1",
        params![project_id, status.as_str(), last_error, now_text()],
    )?;
    Ok(())
}

pub struct NewVersion<'a> {
    pub version_id: &'a str,
    pub project_id: &'a str,
    pub mix_path: &'a str,
    pub preview_path: &'a str,
    pub midi_path: Option<&'a str>,
    pub prompt: Option<&'a str>,
    pub provider: &'a str,
    pub duration: f64,
}

pub fn insert_version(tx: &Transaction, v: &NewVersion) -> rusqlite::Result<()> {
    tx.execute_cached(
        "INSERT INTO music_mix_versions (version_id, project_id, storage_url, preview_url, midi_url, prompt, provider, duration_seconds, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![v.version_id, v.project_id, v.mix_path, v.preview_path, v.midi_path, v.prompt, v.provider, v.duration, now_text()],
    )?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StemRow {
    pub stem_id: String,
    pub version_id: Option<String>,
    pub instrument: String,
    pub source: String,
    pub format: String,
    pub path: String,
    pub size_bytes: u64,
    pub duration: f64,
    pub created_at: String,
}

pub fn insert_stem(tx: &Transaction, project_id: &str, s: &StemRow) -> rusqlite::Result<()> {
    tx.execute_cached(
        "INSERT INTO music_stems (stem_id, project_id, version_id, instrument, source, format, storage_url, size_bytes, duration, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![s.stem_id, project_id, s.version_id, s.instrument, s.source, s.format, s.path, s.size_bytes, s.duration, s.created_at],
    )?;
    tx.execute_cached(
        "UPDATE music_projects SET stem_count = (SELECT count(*) FROM music_stems WHERE project_id = ?1), updated_at = ?2 WHERE project_id = ?1",
        params![project_id, now_text()],
    )?;
    Ok(())
}

pub fn stems(c: &Connection, project_id: &str) -> rusqlite::Result<Vec<StemRow>> {
    let mut stmt = c.prepare_cached(
        "SELECT stem_id, version_id, instrument, source, format, storage_url, size_bytes, duration, created_at
         FROM music_stems WHERE project_id = ?1 ORDER BY created_at, stem_id",
    )?;
    stmt.query_map([project_id], |r| {
        Ok(StemRow {
            stem_id: r.get(0)?,
            version_id: r.get(1)?,
            instrument: r.get(2)?,
            source: r.get(3)?,
            format: r.get(4)?,
            path: r.get(5)?,
            size_bytes: r.get(6)?,
            duration: r.get(7)?,
            created_at: r.get(8)?,
        })
    })?
    .collect()
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionRow {
    pub version_id: String,
    pub mix_path: String,
    pub preview_path: String,
    pub midi_path: Option<String>,
    pub prompt: Option<String>,
    pub provider: String,
    pub duration: f64,
    pub created_at: String,
}

pub fn versions(c: &Connection, project_id: &str) -> rusqlite::Result<Vec<VersionRow>> {
    let mut stmt = c.prepare_cached(
        "SELECT version_id, storage_url, preview_url, midi_url, prompt, provider, duration_seconds, created_at
         FROM music_mix_versions WHERE project_id = ?1 ORDER BY created_at DESC, version_id DESC",
    )?;
    stmt.query_map([project_id], |r| {
        Ok(VersionRow {
            version_id: r.get(0)?,
            mix_path: r.get(1)?,
            preview_path: r.get(2)?,
            midi_path: r.get(3)?,
            prompt: r.get(4)?,
            provider: r.get(5)?,
            duration: r.get(6)?,
            created_at: r.get(7)?,
        })
    })?
    .collect()
}

/// Makes `version_id` the project's current mix and marks the project completed (unless
/// published). Callers check first that the project may change (see `ensure_changeable`).
pub fn make_current(tx: &Transaction, project_id: &str, version_id: &str, duration: f64) -> rusqlite::Result<()> {
    tx.execute_cached(
        "UPDATE music_projects SET current_version_id = ?2, duration_seconds = ?3, last_error = NULL,
                status = CASE WHEN status = 'published' THEN 'published' ELSE 'completed' END, updated_at = ?4
         WHERE project_id = ?1",
        params![project_id, version_id, duration, now_text()],
    )?;
    Ok(())
}

pub fn add_play(c: &Connection, project_id: &str) -> rusqlite::Result<()> {
    c.execute_cached("UPDATE music_projects SET total_plays = total_plays + 1 WHERE project_id = ?1", [project_id])?;
    Ok(())
}

/// Publishes the project and gives it a share page id if it has none; returns the id.
pub fn publish(tx: &Transaction, project_id: &str, new_slug: &str) -> rusqlite::Result<String> {
    tx.execute_cached(
        "UPDATE music_projects SET status = 'published', visibility = 'public', share_slug = coalesce(share_slug, ?2), updated_at = ?3
         WHERE project_id = ?1",
        params![project_id, new_slug, now_text()],
    )?;
    tx.query_row_cached("SELECT share_slug FROM music_projects WHERE project_id = ?1", [project_id], |r| r.get(0))
}

/// Counts one more share to `platform`; returns the new count.
pub fn record_share(tx: &Transaction, project_id: &str, platform: &str, share_url: &str, caption: Option<&str>) -> rusqlite::Result<u64> {
    let now = now_text();
    tx.execute_cached(
        "INSERT INTO music_shares (share_id, project_id, platform, share_url, share_count, caption, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?6)
         ON CONFLICT (project_id, platform) DO UPDATE SET share_count = share_count + 1, share_url = excluded.share_url,
           caption = excluded.caption, updated_at = excluded.updated_at",
        params![uuid::Uuid::now_v7().to_string(), project_id, platform, share_url, caption, now],
    )?;
    tx.query_row_cached(
        "SELECT share_count FROM music_shares WHERE project_id = ?1 AND platform = ?2",
        params![project_id, platform],
        |r| r.get(0),
    )
}

pub fn delete_project(tx: &Transaction, project_id: &str) -> rusqlite::Result<()> {
    tx.execute_cached("DELETE FROM music_projects WHERE project_id = ?1", [project_id])?;
    Ok(())
}
