//! The music store on PostgreSQL, shared by several servers.
//!
//! Locking (READ COMMITTED): every operation that reads a project to decide on it (the
//! service's `Guard` or `Edit`, run here on the row as read) or that keeps a count of its
//! children (`stem_count`) first locks the project's row (`SELECT … FOR UPDATE`), so writers
//! of one project, from whichever server, take turns from there to their commit; each later
//! statement sees what the previous holder committed, so a guard never passes on a state that
//! changed meanwhile and a recount never misses a stem another server added. Share counts are
//! one upsert each (`ON CONFLICT … DO UPDATE … RETURNING`), under the same lock. A play is one
//! `UPDATE … SET total_plays = total_plays + 1`, which PostgreSQL applies to the newest row
//! version, so no play is lost. Admitting one more project (a create, or a restore from the
//! archive) serializes per owner in `subscription::store::postgres::admit_count_in`
//! (`pg_advisory_xact_lock`); the project row, when there is one, is locked before that, and
//! nothing takes them in the other order. Version ids are the caller's UUIDv7s: nothing is
//! numbered here.
//!
//! Ids are uuid columns: an id that is not a UUID as the service writes them (hyphenated,
//! lowercase) names no project (`None`, nothing done, empty lists), as in SQLite's text column;
//! a stem that refers to such a project or version is refused as SQLite's foreign keys refuse
//! it. Times are timestamptz, written at millisecond precision from the server's clock (what
//! SQLite's `now_text` stores) and read back as RFC 3339 text.

use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{
    CountAdmission, Edit, FinishedGeneration, Guard, MusicStore, NewVersion, PageUrl, ProjectParts, ProjectRow, Published,
    StemRow, VersionRow,
};
use crate::db::postgres::{PgDb, missing_reference};
use crate::db::postgres::values::{now, row_id, signed, text, time, unsigned, write_id};
use crate::error::{AppError, AppResult};
use crate::features::music::model::ProjectStatus;
use crate::features::page::Page;
use crate::features::subscription::store::postgres::{admit_count_in, commit_hold_in};

pub struct PgMusicStore {
    db: PgDb,
}

impl PgMusicStore {
    pub fn new(db: PgDb) -> Self {
        Self { db }
    }
}

/// A reference a new stem makes (its project, its version): one that is not a UUID names no
/// row, and is refused as a foreign key to a missing row is.
fn reference(id: &str) -> AppResult<Uuid> {
    row_id(id).ok_or_else(missing_reference)
}

const PROJECT_COLUMNS: &str = "project_id, user_id, title, genre, bpm, mood, musical_key, status, visibility, storage_path, \
     stem_count, total_plays, duration_seconds, current_version_id, last_error, share_slug, created_at, updated_at";

fn project_of(r: &Row) -> AppResult<ProjectRow> {
    Ok(ProjectRow {
        project_id: r.get::<_, Uuid>(0).to_string(),
        user_id: r.get(1),
        title: r.get(2),
        genre: r.get(3),
        bpm: r.get::<_, Option<i64>>(4).map(u32::try_from).transpose().map_err(AppError::internal)?,
        mood: r.get(5),
        key: r.get(6),
        status: r.get(7),
        visibility: r.get(8),
        storage_path: r.get(9),
        stem_count: unsigned(r.get(10))?,
        total_plays: unsigned(r.get(11))?,
        duration: r.get(12),
        current_version_id: r.get::<_, Option<Uuid>>(13).map(|id| id.to_string()),
        last_error: r.get(14),
        share_slug: r.get(15),
        created_at: text(r.get(16)),
        updated_at: text(r.get(17)),
    })
}

fn stem_of(r: &Row) -> AppResult<StemRow> {
    Ok(StemRow {
        stem_id: r.get::<_, Uuid>(0).to_string(),
        version_id: r.get::<_, Option<Uuid>>(1).map(|id| id.to_string()),
        instrument: r.get(2),
        source: r.get(3),
        format: r.get(4),
        path: r.get(5),
        size_bytes: unsigned(r.get(6))?,
        duration: r.get(7),
        created_at: text(r.get(8)),
    })
}

fn version_of(r: &Row) -> VersionRow {
    VersionRow {
        version_id: r.get::<_, Uuid>(0).to_string(),
        mix_path: r.get(1),
        preview_path: r.get(2),
        midi_path: r.get(3),
        prompt: r.get(4),
        provider: r.get(5),
        duration: r.get(6),
        created_at: text(r.get(7)),
    }
}

async fn project(c: &impl GenericClient, id: Uuid) -> AppResult<Option<ProjectRow>> {
    let stmt = c.prepare_cached(&format!("SELECT {PROJECT_COLUMNS} FROM music_projects WHERE project_id = $1")).await?;
    c.query_opt(&stmt, &[&id]).await?.as_ref().map(project_of).transpose()
}

/// The project read and locked inside `tx` until it ends; `None` when there is none.
async fn locked(tx: &Transaction<'_>, id: Uuid) -> AppResult<Option<ProjectRow>> {
    let stmt = tx.prepare_cached(&format!("SELECT {PROJECT_COLUMNS} FROM music_projects WHERE project_id = $1 FOR UPDATE")).await?;
    tx.query_opt(&stmt, &[&id]).await?.as_ref().map(project_of).transpose()
}

/// The project locked inside `tx` once `guard` allows the change; `None` when there is none.
async fn guarded(tx: &Transaction<'_>, id: Uuid, guard: Guard) -> AppResult<Option<ProjectRow>> {
    let Some(p) = locked(tx, id).await? else { return Ok(None) };
    guard(&p)?;
    Ok(Some(p))
}

async fn stems(c: &impl GenericClient, id: Uuid) -> AppResult<Vec<StemRow>> {
    let stmt = c
        .prepare_cached(
            "SELECT stem_id, version_id, instrument, source, format, storage_url, size_bytes, duration, created_at
             FROM music_stems WHERE project_id = $1 ORDER BY created_at, stem_id",
        )
        .await?;
    c.query(&stmt, &[&id]).await?.iter().map(stem_of).collect()
}

async fn versions(c: &impl GenericClient, id: Uuid) -> AppResult<Vec<VersionRow>> {
    let stmt = c
        .prepare_cached(
            "SELECT version_id, storage_url, preview_url, midi_url, prompt, provider, duration_seconds, created_at
             FROM music_mix_versions WHERE project_id = $1 ORDER BY created_at DESC, version_id DESC",
        )
        .await?;
    Ok(c.query(&stmt, &[&id]).await?.iter().map(version_of).collect())
}

/// Projects a user owns that are not archived (what the tier's project limit counts).
async fn count_active(tx: &Transaction<'_>, user_id: &str) -> AppResult<u64> {
    let stmt = tx.prepare_cached("SELECT count(*) FROM music_projects WHERE user_id = $1 AND status <> 'archived'").await?;
    unsigned(tx.query_one(&stmt, &[&user_id]).await?.get(0))
}

async fn set_status(c: &impl GenericClient, id: Uuid, status: ProjectStatus, last_error: Option<&str>) -> AppResult<()> {
    let stmt = c.prepare_cached("UPDATE music_projects SET status = $2, last_error = $3, updated_at = $4 WHERE project_id = $1").await?;
    c.execute(&stmt, &[&id, &status.as_str(), &last_error, &now()?]).await?;
    Ok(())
}

async fn insert_version(tx: &Transaction<'_>, project: Uuid, v: &NewVersion) -> AppResult<()> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO music_mix_versions (version_id, project_id, storage_url, preview_url, midi_url, prompt, provider, duration_seconds, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await?;
    let id = write_id(&v.version_id)?;
    tx.execute(&stmt, &[&id, &project, &v.mix_path, &v.preview_path, &v.midi_path, &v.prompt, &v.provider, &v.duration, &now()?]).await?;
    Ok(())
}

/// Inserts a stem of the project, whose row `tx` holds locked.
async fn insert_stem(tx: &Transaction<'_>, project: Uuid, s: &StemRow) -> AppResult<()> {
    let id = write_id(&s.stem_id)?;
    let version = s.version_id.as_deref().map(reference).transpose()?;
    let (size, created_at) = (signed(s.size_bytes)?, time(&s.created_at)?);
    let stmt = tx
        .prepare_cached(
            "INSERT INTO music_stems (stem_id, project_id, version_id, instrument, source, format, storage_url, size_bytes, duration, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .await?;
    tx.execute(&stmt, &[&id, &project, &version, &s.instrument, &s.source, &s.format, &s.path, &size, &s.duration, &created_at]).await?;
    Ok(())
}

/// Sets the project's stem count from its stems. The project's row is locked by `tx`, so every
/// stem added by a transaction that held it before is committed and counted.
async fn recount_stems(tx: &Transaction<'_>, project: Uuid) -> AppResult<()> {
    let stmt = tx
        .prepare_cached(
            "UPDATE music_projects SET stem_count = (SELECT count(*) FROM music_stems WHERE project_id = $1), updated_at = $2
             WHERE project_id = $1",
        )
        .await?;
    tx.execute(&stmt, &[&project, &now()?]).await?;
    Ok(())
}

/// Makes `version_id` the project's current mix and marks the project completed (unless
/// published).
async fn make_current(tx: &Transaction<'_>, project: Uuid, version_id: &str, duration: f64) -> AppResult<()> {
    let version = write_id(version_id)?;
    let stmt = tx
        .prepare_cached(
            "UPDATE music_projects SET current_version_id = $2, duration_seconds = $3, last_error = NULL,
                    status = CASE WHEN status = 'published' THEN 'published' ELSE 'completed' END, updated_at = $4
             WHERE project_id = $1",
        )
        .await?;
    tx.execute(&stmt, &[&project, &version, &duration, &now()?]).await?;
    Ok(())
}

/// Publishes the project and gives it a share page id if it has none; returns the id.
async fn publish(tx: &Transaction<'_>, project: Uuid, new_slug: &str) -> AppResult<String> {
    let stmt = tx
        .prepare_cached(
            "UPDATE music_projects SET status = 'published', visibility = 'public', share_slug = coalesce(share_slug, $2), updated_at = $3
             WHERE project_id = $1 RETURNING share_slug",
        )
        .await?;
    Ok(tx.query_one(&stmt, &[&project, &new_slug, &now()?]).await?.get(0))
}

/// Counts one more share to `platform`; returns the new count.
async fn record_share(tx: &Transaction<'_>, project: Uuid, platform: &str, share_url: &str, caption: Option<&str>) -> AppResult<u64> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO music_shares (share_id, project_id, platform, share_url, share_count, caption, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 1, $5, $6, $6)
             ON CONFLICT (project_id, platform) DO UPDATE SET share_count = music_shares.share_count + 1,
               share_url = excluded.share_url, caption = excluded.caption, updated_at = excluded.updated_at
             RETURNING share_count",
        )
        .await?;
    unsigned(tx.query_one(&stmt, &[&Uuid::now_v7(), &project, &platform, &share_url, &caption, &now()?]).await?.get(0))
}

#[async_trait::async_trait]
impl MusicStore for PgMusicStore {
    async fn project(&self, project_id: &str) -> AppResult<Option<ProjectRow>> {
        let Some(id) = row_id(project_id) else { return Ok(None) };
        project(&self.db.client().await?, id).await
    }

    async fn project_by_share_slug(&self, slug: &str) -> AppResult<Option<ProjectRow>> {
        let client = self.db.client().await?;
        let stmt = client.prepare_cached(&format!("SELECT {PROJECT_COLUMNS} FROM music_projects WHERE share_slug = $1")).await?;
        client.query_opt(&stmt, &[&slug]).await?.as_ref().map(project_of).transpose()
    }

    async fn project_parts(&self, project_id: &str) -> AppResult<Option<ProjectParts>> {
        let Some(id) = row_id(project_id) else { return Ok(None) };
        let client = self.db.client().await?;
        // Each part as it is when read (the trait's rule), in this order.
        let project = project(&client, id).await?;
        let (stems, versions) = (stems(&client, id).await?, versions(&client, id).await?);
        Ok(project.map(|project| ProjectParts { project, stems, versions }))
    }

    async fn list_projects(&self, user_id: &str, status: Option<ProjectStatus>, page: Page) -> AppResult<(Vec<ProjectRow>, u64)> {
        let status = status.map(ProjectStatus::as_str);
        self.db.owned_page("music_projects", PROJECT_COLUMNS, user_id, status, (page.limit, page.offset), project_of).await
    }

    async fn stems(&self, project_id: &str) -> AppResult<Vec<StemRow>> {
        let Some(id) = row_id(project_id) else { return Ok(Vec::new()) };
        stems(&self.db.client().await?, id).await
    }

    async fn versions(&self, project_id: &str) -> AppResult<Vec<VersionRow>> {
        let Some(id) = row_id(project_id) else { return Ok(Vec::new()) };
        versions(&self.db.client().await?, id).await
    }

    async fn insert_project(&self, p: ProjectRow, admission: CountAdmission) -> AppResult<()> {
        let id = write_id(&p.project_id)?;
        let created_at = time(&p.created_at)?;
        let bpm = p.bpm.map(i64::from);
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        admit_count_in(&tx, &admission, &p.user_id, count_active(&tx, &p.user_id)).await?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO music_projects (project_id, user_id, title, genre, bpm, mood, musical_key, status, visibility, storage_path, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            )
            .await?;
        tx.execute(&stmt, &[&id, &p.user_id, &p.title, &p.genre, &bpm, &p.mood, &p.key, &p.status, &p.visibility, &p.storage_path, &created_at])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_project(&self, project_id: &str, edit: Edit) -> AppResult<Option<ProjectRow>> {
        let Some(id) = row_id(project_id) else { return Ok(None) };
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let Some(before) = locked(&tx, id).await? else { return Ok(None) };
        let mut p = before.clone();
        if let Some(admission) = edit(&mut p)? {
            admit_count_in(&tx, &admission, &before.user_id, count_active(&tx, &before.user_id)).await?;
        }
        // Only the editable fields are written, of the project read.
        let stmt = tx
            .prepare_cached(
                "UPDATE music_projects SET title = $2, genre = $3, bpm = $4, mood = $5, musical_key = $6, status = $7, visibility = $8,
                        last_error = $9, updated_at = $10 WHERE project_id = $1",
            )
            .await?;
        let bpm = p.bpm.map(i64::from);
        tx.execute(&stmt, &[&id, &p.title, &p.genre, &bpm, &p.mood, &p.key, &p.status, &p.visibility, &p.last_error, &now()?]).await?;
        tx.commit().await?;
        Ok(Some(before))
    }

    async fn set_status(&self, project_id: &str, status: ProjectStatus, last_error: Option<String>) -> AppResult<()> {
        let Some(id) = row_id(project_id) else { return Ok(()) };
        set_status(&self.db.client().await?, id, status, last_error.as_deref()).await
    }

    async fn begin_generation(&self, project_id: &str, guard: Guard) -> AppResult<Option<ProjectRow>> {
        let Some(id) = row_id(project_id) else { return Ok(None) };
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let Some(before) = guarded(&tx, id, guard).await? else { return Ok(None) };
        set_status(&tx, id, ProjectStatus::Generating, None).await?;
        tx.commit().await?;
        Ok(Some(before))
    }

    async fn finish_generation(&self, g: FinishedGeneration, guard: Guard) -> AppResult<Option<ProjectRow>> {
        let Some(id) = row_id(&g.project_id) else { return Ok(None) };
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let Some(before) = guarded(&tx, id, guard).await? else { return Ok(None) };
        insert_version(&tx, id, &g.version).await?;
        for stem in &g.stems {
            insert_stem(&tx, id, stem).await?;
        }
        if !g.stems.is_empty() {
            recount_stems(&tx, id).await?;
        }
        make_current(&tx, id, &g.version.version_id, g.version.duration).await?;
        if let Some(hold) = &g.hold {
            commit_hold_in(&tx, hold).await?;
        }
        tx.commit().await?;
        Ok(Some(before))
    }

    async fn make_current(&self, project_id: &str, version_id: &str, duration: f64, guard: Guard) -> AppResult<Option<ProjectRow>> {
        let Some(id) = row_id(project_id) else { return Ok(None) };
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let Some(before) = guarded(&tx, id, guard).await? else { return Ok(None) };
        make_current(&tx, id, version_id, duration).await?;
        tx.commit().await?;
        Ok(Some(before))
    }

    async fn add_stem(&self, project_id: &str, stem: StemRow) -> AppResult<()> {
        let id = reference(project_id)?;
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        // The project's row held while its stems are counted; none, and the stem refers to
        // nothing.
        if locked(&tx, id).await?.is_none() {
            return Err(missing_reference());
        }
        insert_stem(&tx, id, &stem).await?;
        recount_stems(&tx, id).await?;
        tx.commit().await?;
        Ok(())
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
        let Some(id) = row_id(project_id) else { return Ok(None) };
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        if guarded(&tx, id, guard).await?.is_none() {
            return Ok(None);
        }
        let slug = publish(&tx, id, &new_slug).await?;
        let page_url = page_url(&slug);
        let mut share_counts = Vec::with_capacity(platforms.len());
        for platform in &platforms {
            share_counts.push(record_share(&tx, id, platform, &page_url, caption.as_deref()).await?);
        }
        tx.commit().await?;
        Ok(Some(Published { page_url, share_counts }))
    }

    async fn count_play(&self, project_id: &str) -> AppResult<()> {
        let Some(id) = row_id(project_id) else { return Ok(()) };
        let client = self.db.client().await?;
        let stmt = client.prepare_cached("UPDATE music_projects SET total_plays = total_plays + 1 WHERE project_id = $1").await?;
        client.execute(&stmt, &[&id]).await?;
        Ok(())
    }

    async fn delete_project(&self, project_id: &str) -> AppResult<()> {
        let Some(id) = row_id(project_id) else { return Ok(()) };
        let client = self.db.client().await?;
        let stmt = client.prepare_cached("DELETE FROM music_projects WHERE project_id = $1").await?;
        client.execute(&stmt, &[&id]).await?;
        Ok(())
    }
}
