//! The Writers Guild store on the embedded SQLite database. Each operation runs in one
//! `BEGIN IMMEDIATE` transaction (see [`Db::write`]), which SQLite serializes across
//! connections and processes alike. Members' specialties are kept as JSON text.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::{MemberRow, MemberStats, ProjectRow, SessionRow, VersionRow, VersionSaved, WritersStore};
use crate::db::{CachedSql, Db, now_text};
use crate::error::AppResult;
use crate::features::page::Page;
use crate::features::subscription::admission::{AI_WRITING_WORDS, CountAdmission};
use crate::features::subscription::store::Hold;
use crate::features::subscription::store::sqlite::{add_to_hold_window_in, admit_count_in, commit_hold_in};
use crate::features::writers::model::WritingStatus;

pub struct SqliteWritersStore {
    db: Db,
}

impl SqliteWritersStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl WritersStore for SqliteWritersStore {
    async fn member(&self, user_id: &str) -> AppResult<Option<MemberRow>> {
        let user = user_id.to_owned();
        self.db.read(move |c| member(c, &user)).await
    }

    async fn member_stats(&self, user_id: &str) -> AppResult<MemberStats> {
        let user = user_id.to_owned();
        self.db.read(move |c| member_stats(c, &user)).await
    }

    async fn enrol_member(&self, member: MemberRow) -> AppResult<bool> {
        self.db.write(move |tx| Ok(insert_member(tx, &member)?)).await
    }

    async fn save_member(&self, member: MemberRow) -> AppResult<()> {
        self.db.write(move |tx| Ok(save_member(tx, &member)?)).await
    }

    async fn project(&self, project_id: &str) -> AppResult<Option<ProjectRow>> {
        let id = project_id.to_owned();
        self.db.read(move |c| project(c, &id)).await
    }

    async fn projects(&self, user_id: &str, status: Option<WritingStatus>, page: Page) -> AppResult<(Vec<ProjectRow>, u64)> {
        let user = user_id.to_owned();
        self.db
            .read(move |c| {
                crate::db::owned_page(
                    c,
                    "writing_projects",
                    PROJECT_COLUMNS,
                    &user,
                    status.map(WritingStatus::as_str),
                    (page.limit, page.offset),
                    project_of,
                )
            })
            .await
    }

    async fn insert_project(&self, project: ProjectRow, admission: CountAdmission) -> AppResult<()> {
        self.db
            .write(move |tx| {
                admit_count_in(tx, &admission, &project.user_id, || count_active(tx, &project.user_id))?;
                Ok(insert_project(tx, &project)?)
            })
            .await
    }

    async fn save_project(&self, project: ProjectRow, restore: Option<CountAdmission>) -> AppResult<()> {
        self.db
            .write(move |tx| {
                if let Some(admission) = &restore {
                    admit_count_in(tx, admission, &project.user_id, || count_active(tx, &project.user_id))?;
                }
                Ok(save_fields(tx, &project)?)
            })
            .await
    }

    async fn versions(&self, project_id: &str) -> AppResult<Vec<VersionRow>> {
        let id = project_id.to_owned();
        self.db.read(move |c| versions(c, &id)).await
    }

    async fn version(&self, project_id: &str, version_id: &str) -> AppResult<Option<VersionRow>> {
        let (id, vid) = (project_id.to_owned(), version_id.to_owned());
        self.db.read(move |c| version(c, &id, &vid)).await
    }

    async fn insert_version(&self, project_id: &str, expected: Option<String>, version: VersionRow) -> AppResult<VersionSaved> {
        let id = project_id.to_owned();
        self.db.write(move |tx| Ok(insert_version(tx, &id, expected.as_deref(), &version)?)).await
    }

    async fn session(&self, session_id: &str) -> AppResult<Option<SessionRow>> {
        let id = session_id.to_owned();
        self.db.read(move |c| session(c, &id)).await
    }

    async fn open_session(&self, session: SessionRow) -> AppResult<SessionRow> {
        self.db
            .write(move |tx| {
                for open in open_sessions(tx, &session.user_id, &session.project_id)? {
                    end_session(tx, &open, &session.started_at)?;
                }
                let words = project(tx, &session.project_id)?.map_or(0, |p| p.word_count);
                let row = SessionRow { start_word_count: words, ..session };
                insert_session(tx, &row)?;
                Ok(row)
            })
            .await
    }

    async fn close_session(&self, session: SessionRow, ended_at: &str) -> AppResult<SessionRow> {
        let ended_at = ended_at.to_owned();
        self.db.write(move |tx| Ok(end_session(tx, &session, &ended_at)?)).await
    }

    async fn close_idle_sessions(&self, idle_before: DateTime<Utc>) -> AppResult<usize> {
        let cutoff = idle_before.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.db
            .write(move |tx| {
                let idle = idle_sessions(tx, &cutoff)?;
                for (session, last_activity) in &idle {
                    end_session(tx, session, last_activity)?;
                }
                Ok(idle.len())
            })
            .await
    }

    async fn commit_assistance(&self, hold: Hold, words: u64) -> AppResult<()> {
        self.db
            .write(move |tx| {
                commit_hold_in(tx, &hold)?;
                Ok(add_to_hold_window_in(tx, &hold, AI_WRITING_WORDS, words)?)
            })
            .await
    }
}

fn member_of(r: &Row<'_>) -> rusqlite::Result<MemberRow> {
    let specialties: String = r.get(4)?;
    Ok(MemberRow {
        member_id: r.get(0)?,
        user_id: r.get(1)?,
        pen_name: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        bio: r.get(3)?,
        specialties: serde_json::from_str(&specialties).unwrap_or_default(),
        tier: r.get(5)?,
        total_words_written: r.get(6)?,
        joined_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

fn member(c: &Connection, user_id: &str) -> rusqlite::Result<Option<MemberRow>> {
    c.query_row_cached(
        "SELECT member_id, user_id, pen_name, bio, specialties, tier, total_words_written, joined_at, updated_at
         FROM guild_members WHERE user_id = ?1",
        [user_id],
        member_of,
    )
    .optional()
}

/// Inserts the member; false when the user is a member already.
fn insert_member(tx: &Transaction, m: &MemberRow) -> rusqlite::Result<bool> {
    let specialties = serde_json::to_string(&m.specialties).unwrap_or_else(|_| "[]".into());
    Ok(tx.execute_cached(
        "INSERT INTO guild_members (member_id, user_id, pen_name, bio, specialties, tier, joined_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (user_id) DO NOTHING",
        params![m.member_id, m.user_id, m.pen_name, m.bio, specialties, m.tier, m.joined_at],
    )? == 1)
}

fn save_member(tx: &Transaction, m: &MemberRow) -> rusqlite::Result<()> {
    let specialties = serde_json::to_string(&m.specialties).unwrap_or_else(|_| "[]".into());
    tx.execute_cached(
        "UPDATE guild_members SET pen_name = ?2, bio = ?3, specialties = ?4, tier = ?5, updated_at = ?6 WHERE user_id = ?1",
        params![m.user_id, m.pen_name, m.bio, specialties, m.tier, now_text()],
    )?;
    Ok(())
}

fn add_words(tx: &Transaction, user_id: &str, words: u64) -> rusqlite::Result<()> {
    tx.execute_cached(
        "UPDATE guild_members SET total_words_written = total_words_written + ?2, updated_at = ?3 WHERE user_id = ?1",
        params![user_id, words, now_text()],
    )?;
    Ok(())
}

fn member_stats(c: &Connection, user_id: &str) -> rusqlite::Result<MemberStats> {
    let projects = c.query_row_cached("SELECT count(*) FROM writing_projects WHERE user_id = ?1", [user_id], |r| r.get(0))?;
    let sessions = c.query_row_cached("SELECT count(*) FROM writing_sessions WHERE user_id = ?1", [user_id], |r| r.get(0))?;
    let mut stmt = c.prepare_cached(
        "SELECT DISTINCT substr(started_at, 1, 10) AS day FROM writing_sessions WHERE user_id = ?1 ORDER BY day DESC LIMIT 400",
    )?;
    let session_days = stmt.query_map([user_id], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(MemberStats { projects, sessions, session_days })
}

const PROJECT_COLUMNS: &str = "project_id, user_id, title, genre, content_type, description, word_count, mature_content, status, \
     storage_path, current_version_id, created_at, updated_at";

fn project_of(r: &Row<'_>) -> rusqlite::Result<ProjectRow> {
    Ok(ProjectRow {
        project_id: r.get(0)?,
        user_id: r.get(1)?,
        title: r.get(2)?,
        genre: r.get(3)?,
        content_type: r.get(4)?,
        description: r.get(5)?,
        word_count: r.get(6)?,
        mature_content: r.get(7)?,
        status: r.get(8)?,
        storage_path: r.get(9)?,
        current_version_id: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

fn project(c: &Connection, project_id: &str) -> rusqlite::Result<Option<ProjectRow>> {
    c.query_row_cached(&format!("SELECT {PROJECT_COLUMNS} FROM writing_projects WHERE project_id = ?1"), [project_id], project_of)
        .optional()
}

fn count_active(c: &Connection, user_id: &str) -> rusqlite::Result<u64> {
    c.query_row_cached("SELECT count(*) FROM writing_projects WHERE user_id = ?1 AND status <> 'archived'", [user_id], |r| r.get(0))
}

fn insert_project(tx: &Transaction, p: &ProjectRow) -> rusqlite::Result<()> {
    tx.execute_cached(
        "INSERT INTO writing_projects (project_id, user_id, title, genre, content_type, description, mature_content, status, storage_path, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        params![p.project_id, p.user_id, p.title, p.genre, p.content_type, p.description, p.mature_content, p.status, p.storage_path, p.created_at],
    )?;
    tx.execute_cached(
        "UPDATE guild_members SET total_projects = (SELECT count(*) FROM writing_projects WHERE user_id = ?1) WHERE user_id = ?1",
        [&p.user_id],
    )?;
    Ok(())
}

fn save_fields(tx: &Transaction, p: &ProjectRow) -> rusqlite::Result<()> {
    tx.execute_cached(
        "UPDATE writing_projects SET title = ?2, genre = ?3, content_type = ?4, description = ?5, mature_content = ?6, status = ?7, updated_at = ?8
         WHERE project_id = ?1",
        params![p.project_id, p.title, p.genre, p.content_type, p.description, p.mature_content, p.status, now_text()],
    )?;
    Ok(())
}

fn version_of(r: &Row<'_>) -> rusqlite::Result<VersionRow> {
    Ok(VersionRow {
        version_id: r.get(0)?,
        author_id: r.get(1)?,
        word_count: r.get(2)?,
        size_bytes: r.get(3)?,
        sha256: r.get(4)?,
        restored_from: r.get(5)?,
        created_at: r.get(6)?,
    })
}

const VERSION_COLUMNS: &str = "version_id, author_id, word_count, size_bytes, sha256, restored_from, created_at";

fn versions(c: &Connection, project_id: &str) -> rusqlite::Result<Vec<VersionRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS} FROM writing_versions WHERE project_id = ?1 ORDER BY created_at DESC, version_id DESC"
    ))?;
    stmt.query_map([project_id], version_of)?.collect()
}

fn version(c: &Connection, project_id: &str, version_id: &str) -> rusqlite::Result<Option<VersionRow>> {
    c.query_row_cached(
        &format!("SELECT {VERSION_COLUMNS} FROM writing_versions WHERE project_id = ?1 AND version_id = ?2"),
        params![project_id, version_id],
        version_of,
    )
    .optional()
}

/// Makes `v` the project's current version if `expected` still is (a compare-and-set), then
/// records it and counts it as the activity of the project's open sessions.
fn insert_version(tx: &Transaction, project_id: &str, expected: Option<&str>, v: &VersionRow) -> rusqlite::Result<VersionSaved> {
    let moved = tx.execute_cached(
        "UPDATE writing_projects SET current_version_id = ?2, word_count = ?3, updated_at = ?4
         WHERE project_id = ?1 AND current_version_id IS ?5",
        params![project_id, v.version_id, v.word_count, v.created_at, expected],
    )?;
    if moved == 0 {
        return Ok(match project(tx, project_id)? {
            None => VersionSaved::ProjectGone,
            Some(now) => VersionSaved::Superseded { current: now.current_version_id },
        });
    }
    tx.execute_cached(
        "INSERT INTO writing_versions (version_id, project_id, author_id, word_count, size_bytes, sha256, restored_from, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![v.version_id, project_id, v.author_id, v.word_count, v.size_bytes, v.sha256, v.restored_from, v.created_at],
    )?;
    tx.execute_cached(
        "UPDATE writing_sessions SET last_activity_at = ?2 WHERE project_id = ?1 AND ended_at IS NULL",
        params![project_id, v.created_at],
    )?;
    Ok(VersionSaved::Saved)
}

const SESSION_COLUMNS: &str =
    "session_id, project_id, user_id, chapter_number, start_word_count, words_written, duration_seconds, started_at, ended_at";

fn session_of(r: &Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        session_id: r.get(0)?,
        project_id: r.get(1)?,
        user_id: r.get(2)?,
        chapter_number: r.get(3)?,
        start_word_count: r.get(4)?,
        words_written: r.get(5)?,
        duration_seconds: r.get(6)?,
        started_at: r.get(7)?,
        ended_at: r.get(8)?,
    })
}

fn session(c: &Connection, session_id: &str) -> rusqlite::Result<Option<SessionRow>> {
    c.query_row_cached(&format!("SELECT {SESSION_COLUMNS} FROM writing_sessions WHERE session_id = ?1"), [session_id], session_of)
        .optional()
}

fn open_sessions(c: &Connection, user_id: &str, project_id: &str) -> rusqlite::Result<Vec<SessionRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM writing_sessions WHERE user_id = ?1 AND project_id = ?2 AND ended_at IS NULL"
    ))?;
    stmt.query_map(params![user_id, project_id], session_of)?.collect()
}

fn insert_session(tx: &Transaction, s: &SessionRow) -> rusqlite::Result<()> {
    tx.execute_cached(
        "INSERT INTO writing_sessions (session_id, project_id, user_id, chapter_number, start_word_count, started_at, last_activity_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![s.session_id, s.project_id, s.user_id, s.chapter_number, s.start_word_count, s.started_at],
    )?;
    Ok(())
}

/// Ends a session at `ended_at` as [`SessionRow::ended`] computes from the manuscript's word
/// count now; the words go to the member's total unless the session had ended already.
fn end_session(tx: &Transaction, s: &SessionRow, ended_at: &str) -> rusqlite::Result<SessionRow> {
    let words_now: u64 = tx.query_row_cached("SELECT word_count FROM writing_projects WHERE project_id = ?1", [&s.project_id], |r| r.get(0))?;
    let ended = s.ended(ended_at, words_now);
    let changed = tx.execute_cached(
        "UPDATE writing_sessions SET ended_at = ?2, words_written = ?3, duration_seconds = ?4 WHERE session_id = ?1 AND ended_at IS NULL",
        params![ended.session_id, ended_at, ended.words_written, ended.duration_seconds],
    )?;
    if changed == 1 {
        add_words(tx, &s.user_id, ended.words_written)?;
    }
    Ok(ended)
}

/// Open sessions whose last activity is older than `cutoff`, with that last activity.
fn idle_sessions(c: &Connection, cutoff: &str) -> rusqlite::Result<Vec<(SessionRow, String)>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS}, last_activity_at FROM writing_sessions WHERE ended_at IS NULL AND last_activity_at < ?1"
    ))?;
    stmt.query_map([cutoff], |r| Ok((session_of(r)?, r.get(9)?)))?.collect()
}
