//! The music store on the embedded SQLite database.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::{
    CountAdmission, Edit, FinishedGeneration, Guard, MusicStore, NewVersion, PageUrl, ProjectParts, ProjectRow, Published,
    StemRow, VersionRow,
};
use crate::db::{CachedSql, Db, now_text};
use crate::error::AppResult;
use crate::features::music::model::ProjectStatus;
use crate::features::page::Page;
use crate::features::subscription::store::sqlite::{admit_count_in, commit_hold_in};

pub struct SqliteMusicStore {
    db: Db,
}

impl SqliteMusicStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl MusicStore for SqliteMusicStore {
    async fn project(&self, project_id: &str) -> AppResult<Option<ProjectRow>> {
        let id = project_id.to_owned();
        self.db.read(move |c| project(c, &id)).await
    }

    async fn project_by_share_slug(&self, slug: &str) -> AppResult<Option<ProjectRow>> {
        let slug = slug.to_owned();
        self.db
            .read(move |c| {
                c.query_row_cached(&format!("SELECT {PROJECT_COLUMNS} FROM music_projects WHERE share_slug = ?1"), [&slug], project_of)
                    .optional()
            })
            .await
    }

    async fn project_parts(&self, project_id: &str) -> AppResult<Option<ProjectParts>> {
        let id = project_id.to_owned();
        self.db
            .read(move |c| {
                let (project, stems, versions) = (project(c, &id)?, stems(c, &id)?, versions(c, &id)?);
                Ok(project.map(|project| ProjectParts { project, stems, versions }))
            })
            .await
    }

    async fn list_projects(&self, user_id: &str, status: Option<ProjectStatus>, page: Page) -> AppResult<(Vec<ProjectRow>, u64)> {
        let user = user_id.to_owned();
        self.db
            .read(move |c| {
                crate::db::owned_page(
                    c,
                    "music_projects",
                    PROJECT_COLUMNS,
                    &user,
                    status.map(ProjectStatus::as_str),
                    (page.limit, page.offset),
                    project_of,
                )
            })
            .await
    }

    async fn stems(&self, project_id: &str) -> AppResult<Vec<StemRow>> {
        let id = project_id.to_owned();
        self.db.read(move |c| stems(c, &id)).await
    }

    async fn versions(&self, project_id: &str) -> AppResult<Vec<VersionRow>> {
        let id = project_id.to_owned();
        self.db.read(move |c| versions(c, &id)).await
    }

    async fn insert_project(&self, p: ProjectRow, admission: CountAdmission) -> AppResult<()> {
        self.db
            .write(move |tx| {
                admit_count_in(tx, &admission, &p.user_id, || count_active(tx, &p.user_id))?;
                tx.execute_cached(
                    "INSERT INTO music_projects (project_id, user_id, title, genre, bpm, mood, musical_key, status, visibility, storage_path, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
                    params![p.project_id, p.user_id, p.title, p.genre, p.bpm, p.mood, p.key, p.status, p.visibility, p.storage_path, p.created_at],
                )?;
                Ok(())
            })
            .await
    }

    async fn update_project(&self, project_id: &str, edit: Edit) -> AppResult<Option<ProjectRow>> {
        let id = project_id.to_owned();
        self.db
            .write(move |tx| {
                let Some(before) = project(tx, &id)? else { return Ok(None) };
                let mut p = before.clone();
                if let Some(admission) = edit(&mut p)? {
                    admit_count_in(tx, &admission, &before.user_id, || count_active(tx, &before.user_id))?;
                }
                // Only the editable fields are written, of the project read.
                tx.execute_cached(
                    "UPDATE music_projects SET title = ?2, genre = ?3, bpm = ?4, mood = ?5, musical_key = ?6, status = ?7, visibility = ?8,
                            last_error = ?9, updated_at = ?10 WHERE project_id = ?1",
                    params![id, p.title, p.genre, p.bpm, p.mood, p.key, p.status, p.visibility, p.last_error, now_text()],
                )?;
                Ok(Some(before))
            })
            .await
    }

    async fn set_status(&self, project_id: &str, status: ProjectStatus, last_error: Option<String>) -> AppResult<()> {
        let id = project_id.to_owned();
        self.db.write(move |tx| Ok(set_status(tx, &id, status, last_error.as_deref())?)).await
    }

    async fn begin_generation(&self, project_id: &str, guard: Guard) -> AppResult<Option<ProjectRow>> {
        let id = project_id.to_owned();
        self.db
            .write(move |tx| {
                let Some(before) = guarded(tx, &id, guard)? else { return Ok(None) };
                set_status(tx, &id, ProjectStatus::Generating, None)?;
                Ok(Some(before))
            })
            .await
    }

    async fn finish_generation(&self, g: FinishedGeneration, guard: Guard) -> AppResult<Option<ProjectRow>> {
        self.db
            .write(move |tx| {
                let Some(before) = guarded(tx, &g.project_id, guard)? else { return Ok(None) };
                insert_version(tx, &g.project_id, &g.version)?;
                for stem in &g.stems {
                    insert_stem(tx, &g.project_id, stem)?;
                }
                make_current(tx, &g.project_id, &g.version.version_id, g.version.duration)?;
                if let Some(hold) = &g.hold {
                    commit_hold_in(tx, hold)?;
                }
                Ok(Some(before))
            })
            .await
    }

    async fn make_current(&self, project_id: &str, version_id: &str, duration: f64, guard: Guard) -> AppResult<Option<ProjectRow>> {
        let (id, vid) = (project_id.to_owned(), version_id.to_owned());
        self.db
            .write(move |tx| {
                let Some(before) = guarded(tx, &id, guard)? else { return Ok(None) };
                make_current(tx, &id, &vid, duration)?;
                Ok(Some(before))
            })
            .await
    }

    async fn add_stem(&self, project_id: &str, stem: StemRow) -> AppResult<()> {
        let id = project_id.to_owned();
        self.db.write(move |tx| Ok(insert_stem(tx, &id, &stem)?)).await
    }

    async fn publish(
        &self,
        project_id: &str,
        guard: Guard,
        new_slug: String,
        page_url: PageUrl,
        platforms: Vec<String>,
        caption: Option<String>,
    ) -> AppResult<Option<Published>> {
        let id = project_id.to_owned();
        self.db
            .write(move |tx| {
                let Some(p) = project(tx, &id)? else { return Ok(None) };
                guard(&p)?;
                let slug = publish(tx, &id, &new_slug)?;
                let page_url = page_url(&slug);
                let share_counts = platforms
                    .iter()
                    .map(|platform| record_share(tx, &id, platform, &page_url, caption.as_deref()))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(Some(Published { page_url, share_counts }))
            })
            .await
    }

    async fn count_play(&self, project_id: &str) -> AppResult<()> {
        let id = project_id.to_owned();
        self.db
            .write(move |tx| {
                tx.execute_cached("UPDATE music_projects SET total_plays = total_plays + 1 WHERE project_id = ?1", [&id])?;
                Ok(())
            })
            .await
    }

    async fn delete_project(&self, project_id: &str) -> AppResult<()> {
        let id = project_id.to_owned();
        self.db
            .write(move |tx| {
                tx.execute_cached("DELETE FROM music_projects WHERE project_id = ?1", [&id])?;
                Ok(())
            })
            .await
    }
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

fn project(c: &Connection, project_id: &str) -> rusqlite::Result<Option<ProjectRow>> {
    c.query_row_cached(&format!("SELECT {PROJECT_COLUMNS} FROM music_projects WHERE project_id = ?1"), [project_id], project_of)
        .optional()
}

/// The project read inside `tx` once `guard` allows the change; `None` when there is none.
fn guarded(tx: &Transaction, project_id: &str, guard: Guard) -> AppResult<Option<ProjectRow>> {
    let Some(p) = project(tx, project_id)? else { return Ok(None) };
    guard(&p)?;
    Ok(Some(p))
}

/// Projects a user owns that are not archived (what the tier's project limit counts).
fn count_active(c: &Connection, user_id: &str) -> rusqlite::Result<u64> {
    c.query_row_cached("SELECT count(*) FROM music_projects WHERE user_id = ?1 AND status <> 'archived'", [user_id], |r| r.get(0))
}

fn set_status(tx: &Transaction, project_id: &str, status: ProjectStatus, last_error: Option<&str>) -> rusqlite::Result<()> {
    tx.execute_cached(
        "UPDATE music_projects SET status = ?2, last_error = ?3, updated_at = ?4 WHERE project_id = ?1",
        params![project_id, status.as_str(), last_error, now_text()],
    )?;
    Ok(())
}

fn insert_version(tx: &Transaction, project_id: &str, v: &NewVersion) -> rusqlite::Result<()> {
    tx.execute_cached(
        "INSERT INTO music_mix_versions (version_id, project_id, storage_url, preview_url, midi_url, prompt, provider, duration_seconds, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![v.version_id, project_id, v.mix_path, v.preview_path, v.midi_path, v.prompt, v.provider, v.duration, now_text()],
    )?;
    Ok(())
}

fn insert_stem(tx: &Transaction, project_id: &str, s: &StemRow) -> rusqlite::Result<()> {
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

fn stems(c: &Connection, project_id: &str) -> rusqlite::Result<Vec<StemRow>> {
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

fn versions(c: &Connection, project_id: &str) -> rusqlite::Result<Vec<VersionRow>> {
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
/// published).
fn make_current(tx: &Transaction, project_id: &str, version_id: &str, duration: f64) -> rusqlite::Result<()> {
    tx.execute_cached(
        "UPDATE music_projects SET current_version_id = ?2, duration_seconds = ?3, last_error = NULL,
                status = CASE WHEN status = 'published' THEN 'published' ELSE 'completed' END, updated_at = ?4
         WHERE project_id = ?1",
        params![project_id, version_id, duration, now_text()],
    )?;
    Ok(())
}

/// Publishes the project and gives it a share page id if it has none; returns the id.
fn publish(tx: &Transaction, project_id: &str, new_slug: &str) -> rusqlite::Result<String> {
    tx.execute_cached(
        "UPDATE music_projects SET status = 'published', visibility = 'public', share_slug = coalesce(share_slug, ?2), updated_at = ?3
         WHERE project_id = ?1",
        params![project_id, new_slug, now_text()],
    )?;
    tx.query_row_cached("SELECT share_slug FROM music_projects WHERE project_id = ?1", [project_id], |r| r.get(0))
}

/// Counts one more share to `platform`; returns the new count.
fn record_share(tx: &Transaction, project_id: &str, platform: &str, share_url: &str, caption: Option<&str>) -> rusqlite::Result<u64> {
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
