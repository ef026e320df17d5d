//! SQL of guild members, writing projects, manuscript versions and writing sessions.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::model::WritingStatus;
use crate::db::{CachedSql, now_text};
use crate::features::page::Page;

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberRow {
    pub member_id: String,
    pub user_id: String,
    pub pen_name: String,
    pub bio: Option<String>,
    pub specialties: Vec<String>,
    pub tier: String,
    pub total_words_written: u64,
    pub joined_at: String,
    pub updated_at: String,
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

pub fn member(c: &Connection, user_id: &str) -> rusqlite::Result<Option<MemberRow>> {
    c.query_row_cached(
        "SELECT member_id, user_id, pen_name, bio, specialties, tier, total_words_written, joined_at, updated_at
         FROM guild_members WHERE user_id = ?1",
        [user_id],
        member_of,
    )
    .optional()
}

/// Inserts the member; false when the user is a member already.
pub fn insert_member(tx: &Transaction, m: &MemberRow) -> rusqlite::Result<bool> {
    let specialties = serde_json::to_string(&m.specialties).unwrap_or_else(|_| "[]".into());
    Ok(tx.execute_cached(
        "INSERT INTO guild_members (member_id, user_id, pen_name, bio, specialties, tier, joined_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (user_id) DO NOTHING",
        params![m.member_id, m.user_id, m.pen_name, m.bio, specialties, m.tier, m.joined_at],
    )? == 1)
}

pub fn save_member(tx: &Transaction, m: &MemberRow) -> rusqlite::Result<()> {
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

/// Projects owned, writing sessions, and the distinct UTC days with a session, newest first.
pub fn member_stats(c: &Connection, user_id: &str) -> rusqlite::Result<(u64, u64, Vec<String>)> {
    let projects = c.query_row_cached("SELECT count(*) FROM writing_projects WHERE user_id = ?1", [user_id], |r| r.get(0))?;
    let sessions = c.query_row_cached("SELECT count(*) FROM writing_sessions WHERE user_id = ?1", [user_id], |r| r.get(0))?;
    let mut stmt = c.prepare_cached(
        "SELECT DISTINCT substr(started_at, 1, 10) AS day FROM writing_sessions WHERE user_id = ?1 ORDER BY day DESC LIMIT 400",
    )?;
    let days = stmt.query_map([user_id], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
    Ok((projects, sessions, days))
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRow {
    pub project_id: String,
    pub user_id: String,
    pub title: String,
    pub genre: Option<String>,
    pub content_type: String,
    pub description: Option<String>,
    pub word_count: u64,
    pub mature_content: bool,
    pub status: String,
    pub storage_path: String,
    pub current_version_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
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

pub fn project(c: &Connection, project_id: &str) -> rusqlite::Result<Option<ProjectRow>> {
    c.query_row_cached(&format!("SELECT {PROJECT_COLUMNS} FROM writing_projects WHERE project_id = ?1"), [project_id], project_of)
        .optional()
}

pub fn count_active(c: &Connection, user_id: &str) -> rusqlite::Result<u64> {
    c.query_row_cached("SELECT count(*) FROM writing_projects WHERE user_id = ?1 AND status <> 'archived'", [user_id], |r| r.get(0))
}

pub fn insert_project(tx: &Transaction, p: &ProjectRow) -> rusqlite::Result<()> {
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

pub fn list(c: &Connection, user_id: &str, status: Option<WritingStatus>, page: Page) -> rusqlite::Result<(Vec<ProjectRow>, u64)> {
    crate::db::owned_page(c, "writing_projects", PROJECT_COLUMNS, user_id, status.map(WritingStatus::as_str), (page.limit, page.offset), project_of)
}

pub fn save_fields(tx: &Transaction, p: &ProjectRow) -> rusqlite::Result<()> {
    tx.execute_cached(
        "UPDATE writing_projects SET title = ?2, genre = ?3, content_type = ?4, description = ?5, mature_content = ?6, status = ?7, updated_at = ?8
         WHERE project_id = ?1",
        params![p.project_id, p.title, p.genre, p.content_type, p.description, p.mature_content, p.status, now_text()],
    )?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionRow {
    pub version_id: String,
    pub author_id: String,
    pub word_count: u64,
    pub size_bytes: u64,
    pub sha256: String,
    pub restored_from: Option<String>,
    pub created_at: String,
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

pub fn versions(c: &Connection, project_id: &str) -> rusqlite::Result<Vec<VersionRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS} FROM writing_versions WHERE project_id = ?1 ORDER BY created_at DESC, version_id DESC"
    ))?;
    stmt.query_map([project_id], version_of)?.collect()
}

pub fn version(c: &Connection, project_id: &str, version_id: &str) -> rusqlite::Result<Option<VersionRow>> {
    c.query_row_cached(
        &format!("SELECT {VERSION_COLUMNS} FROM writing_versions WHERE project_id = ?1 AND version_id = ?2"),
        params![project_id, version_id],
        version_of,
    )
    .optional()
}

/// Records a new version of the manuscript and makes it current; counts the words gained
/// toward the author's open session's activity.
pub fn insert_version(tx: &Transaction, project_id: &str, v: &VersionRow) -> rusqlite::Result<()> {
    tx.execute_cached(
        "INSERT INTO writing_versions (version_id, project_id, author_id, word_count, size_bytes, sha256, restored_from, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![v.version_id, project_id, v.author_id, v.word_count, v.size_bytes, v.sha256, v.restored_from, v.created_at],
    )?;
    tx.execute_cached(
        "UPDATE writing_projects SET current_version_id = ?2, word_count = ?3, updated_at = ?4 WHERE project_id = ?1",
        params![project_id, v.version_id, v.word_count, v.created_at],
    )?;
    tx.execute_cached(
        "UPDATE writing_sessions SET last_activity_at = ?2 WHERE project_id = ?1 AND ended_at IS NULL",
        params![project_id, v.created_at],
    )?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub session_id: String,
    pub project_id: String,
    pub user_id: String,
    pub chapter_number: Option<u32>,
    pub start_word_count: u64,
    pub words_written: u64,
    pub duration_seconds: Option<u64>,
    pub started_at: String,
    pub ended_at: Option<String>,
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

pub fn session(c: &Connection, session_id: &str) -> rusqlite::Result<Option<SessionRow>> {
    c.query_row_cached(&format!("SELECT {SESSION_COLUMNS} FROM writing_sessions WHERE session_id = ?1"), [session_id], session_of)
        .optional()
}

pub fn open_sessions(c: &Connection, user_id: &str, project_id: &str) -> rusqlite::Result<Vec<SessionRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM writing_sessions WHERE user_id = ?1 AND project_id = ?2 AND ended_at IS NULL"
    ))?;
    stmt.query_map(params![user_id, project_id], session_of)?.collect()
}

pub fn insert_session(tx: &Transaction, s: &SessionRow) -> rusqlite::Result<()> {
    tx.execute_cached(
        "INSERT INTO writing_sessions (session_id, project_id, user_id, chapter_number, start_word_count, started_at, last_activity_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![s.session_id, s.project_id, s.user_id, s.chapter_number, s.start_word_count, s.started_at],
    )?;
    Ok(())
}

/// Ends a session at `ended_at`: words written come from the manuscript's word count now
/// against its count at the start (never negative), and go to the member's total.
pub fn end_session(tx: &Transaction, s: &SessionRow, ended_at: &str) -> rusqlite::Result<SessionRow> {
    let now_words: u64 = tx.query_row_cached("SELECT word_count FROM writing_projects WHERE project_id = ?1", [&s.project_id], |r| r.get(0))?;
    let words = now_words.saturating_sub(s.start_word_count);
    let started = chrono::DateTime::parse_from_rfc3339(&s.started_at).ok();
    let ended = chrono::DateTime::parse_from_rfc3339(ended_at).ok();
    let duration = match (started, ended) {
        (Some(a), Some(b)) => (b - a).num_seconds().max(0) as u64,
        _ => 0,
    };
    tx.execute_cached(
        "UPDATE writing_sessions SET ended_at = ?2, words_written = ?3, duration_seconds = ?4 WHERE session_id = ?1 AND ended_at IS NULL",
        params![s.session_id, ended_at, words, duration],
    )?;
    add_words(tx, &s.user_id, words)?;
    Ok(SessionRow { words_written: words, duration_seconds: Some(duration), ended_at: Some(ended_at.to_owned()), ..s.clone() })
}

/// Open sessions whose last activity is older than `cutoff`, with that last activity.
pub fn idle_sessions(c: &Connection, cutoff: &str) -> rusqlite::Result<Vec<(SessionRow, String)>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS}, last_activity_at FROM writing_sessions WHERE ended_at IS NULL AND last_activity_at < ?1"
    ))?;
    stmt.query_map([cutoff], |r| Ok((session_of(r)?, r.get(9)?)))?.collect()
}
