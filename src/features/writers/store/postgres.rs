//! The Writers Guild store on PostgreSQL, shared by several servers (READ COMMITTED).
//!
//! Ids are uuid columns: an id that is not a UUID as the service writes them (hyphenated,
//! lowercase) names no row (`None`, empty, "gone"), as in SQLite's text column; a server-made
//! id to write that is not one is a bug in the caller (internal error).
//!
//! Locking, so that counters never lose or double-count an update across servers:
//!
//! - A session is ended by the transaction that holds its row (`SELECT … FOR UPDATE`, then
//!   `UPDATE … WHERE ended_at IS NULL`): of concurrent ends (a close, a sweeper, a new session on
//!   the same project), one ends it and adds its words to the member's total; the others find
//!   it ended and add nothing. The manuscript's word count is read after that lock, so a version
//!   saved meanwhile (which takes the project's open session rows too) is either wholly before
//!   or wholly after.
//! - Opening a session serializes per user and project on `pg_advisory_xact_lock`, so of
//!   concurrent opens exactly one stays open (each ends those committed before it).
//! - A project's creation and a restore from the archive are admitted by the subscription's
//!   `admit_count_in` (per-user advisory lock, then the count). The member's project total is
//!   recounted with the member's row locked first, so the last to recount sees every insert.
//! - A version is a compare-and-set on the project's row (`UPDATE … WHERE current_version_id IS
//!   NOT DISTINCT FROM expected`): concurrent saves queue on the row and only one still matches.
//! - Word totals are `total_words_written + n` updates of the member's row.
//!
//! Lock order, so that no two operations wait on each other in a cycle: the advisory locks,
//! then a project's row, then session rows (several always in `session_id` order), then member
//! rows (several always in `user_id` order).
//!
//! Times written by the store itself (`updated_at` now) are the server's clock at millisecond
//! precision, as SQLite's `now_text()`, so orderings tie-break the same way.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::{IsolationLevel, Row};
use uuid::Uuid;

use super::{MemberRow, MemberStats, ProjectRow, SessionRow, VersionRow, VersionSaved, WritersStore};
use crate::db::postgres::PgDb;
use crate::db::postgres::values::{now, row_id, signed, text, time, unsigned, write_id};
use crate::error::{AppError, AppResult};
use crate::features::page::Page;
use crate::features::subscription::admission::{AI_WRITING_WORDS, CountAdmission};
use crate::features::subscription::store::Hold;
use crate::features::subscription::store::postgres::{add_to_hold_window_in, admit_count_in, commit_hold_in};
use crate::features::writers::model::WritingStatus;

pub struct PgWritersStore {
    db: PgDb,
}

impl PgWritersStore {
    pub fn new(db: PgDb) -> Self {
        Self { db }
    }
}

const MEMBER_COLUMNS: &str = "member_id, user_id, pen_name, bio, specialties, tier, total_words_written, joined_at, updated_at";

fn member_of(r: &Row) -> AppResult<MemberRow> {
    Ok(MemberRow {
        member_id: r.get::<_, Uuid>(0).to_string(),
        user_id: r.get(1),
        pen_name: r.get::<_, Option<String>>(2).unwrap_or_default(),
        bio: r.get(3),
        specialties: r.get(4),
        tier: r.get(5),
        total_words_written: unsigned(r.get(6))?,
        joined_at: text(r.get(7)),
        updated_at: text(r.get(8)),
    })
}

const PROJECT_COLUMNS: &str = "project_id, user_id, title, genre, content_type, description, word_count, mature_content, status, \
     storage_path, current_version_id, created_at, updated_at";

fn project_of(r: &Row) -> AppResult<ProjectRow> {
    Ok(ProjectRow {
        project_id: r.get::<_, Uuid>(0).to_string(),
        user_id: r.get(1),
        title: r.get(2),
        genre: r.get(3),
        content_type: r.get(4),
        description: r.get(5),
        word_count: unsigned(r.get(6))?,
        mature_content: r.get(7),
        status: r.get(8),
        storage_path: r.get(9),
        current_version_id: r.get::<_, Option<Uuid>>(10).map(|id| id.to_string()),
        created_at: text(r.get(11)),
        updated_at: text(r.get(12)),
    })
}

const VERSION_COLUMNS: &str = "version_id, author_id, word_count, size_bytes, sha256, restored_from, created_at";

fn version_of(r: &Row) -> AppResult<VersionRow> {
    Ok(VersionRow {
        version_id: r.get::<_, Uuid>(0).to_string(),
        author_id: r.get(1),
        word_count: unsigned(r.get(2))?,
        size_bytes: unsigned(r.get(3))?,
        sha256: r.get(4),
        restored_from: r.get::<_, Option<Uuid>>(5).map(|id| id.to_string()),
        created_at: text(r.get(6)),
    })
}

const SESSION_COLUMNS: &str =
    "session_id, project_id, user_id, chapter_number, start_word_count, words_written, duration_seconds, started_at, ended_at";

fn session_of(r: &Row) -> AppResult<SessionRow> {
    Ok(SessionRow {
        session_id: r.get::<_, Uuid>(0).to_string(),
        project_id: r.get::<_, Uuid>(1).to_string(),
        user_id: r.get(2),
        chapter_number: r.get::<_, Option<i64>>(3).map(u32::try_from).transpose().map_err(AppError::internal)?,
        start_word_count: unsigned(r.get(4))?,
        words_written: unsigned(r.get(5))?,
        duration_seconds: r.get::<_, Option<i64>>(6).map(unsigned).transpose()?,
        started_at: text(r.get(7)),
        ended_at: r.get::<_, Option<DateTime<Utc>>>(8).map(text),
    })
}

#[async_trait::async_trait]
impl WritersStore for PgWritersStore {
    async fn member(&self, user_id: &str) -> AppResult<Option<MemberRow>> {
        let client = self.db.client().await?;
        let stmt = client.prepare_cached(&format!("SELECT {MEMBER_COLUMNS} FROM guild_members WHERE user_id = $1")).await?;
        client.query_opt(&stmt, &[&user_id]).await?.as_ref().map(member_of).transpose()
    }

    async fn member_stats(&self, user_id: &str) -> AppResult<MemberStats> {
        let mut client = self.db.client().await?;
        // One snapshot for the three, as SQLite's read transaction.
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let projects = tx.prepare_cached("SELECT count(*) FROM writing_projects WHERE user_id = $1").await?;
        let projects = unsigned(tx.query_one(&projects, &[&user_id]).await?.get(0))?;
        let sessions = tx.prepare_cached("SELECT count(*) FROM writing_sessions WHERE user_id = $1").await?;
        let sessions = unsigned(tx.query_one(&sessions, &[&user_id]).await?.get(0))?;
        let days = tx
            .prepare_cached(
                "SELECT DISTINCT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM writing_sessions
                 WHERE user_id = $1 ORDER BY day DESC LIMIT 400",
            )
            .await?;
        let session_days = tx.query(&days, &[&user_id]).await?.iter().map(|r| r.get(0)).collect();
        tx.commit().await?;
        Ok(MemberStats { projects, sessions, session_days })
    }

    async fn enrol_member(&self, member: MemberRow) -> AppResult<bool> {
        let m = member;
        let id = write_id(&m.member_id)?;
        let joined_at = time(&m.joined_at)?;
        let client = self.db.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO guild_members (member_id, user_id, pen_name, bio, specialties, tier, joined_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (user_id) DO NOTHING",
            )
            .await?;
        Ok(client.execute(&stmt, &[&id, &m.user_id, &m.pen_name, &m.bio, &m.specialties, &m.tier, &joined_at]).await? == 1)
    }

    async fn save_member(&self, member: MemberRow) -> AppResult<()> {
        let m = member;
        let client = self.db.client().await?;
        let stmt = client
            .prepare_cached("UPDATE guild_members SET pen_name = $2, bio = $3, specialties = $4, tier = $5, updated_at = $6 WHERE user_id = $1")
            .await?;
        client.execute(&stmt, &[&m.user_id, &m.pen_name, &m.bio, &m.specialties, &m.tier, &now()?]).await?;
        Ok(())
    }

    async fn project(&self, project_id: &str) -> AppResult<Option<ProjectRow>> {
        let Some(id) = row_id(project_id) else { return Ok(None) };
        let client = self.db.client().await?;
        project(&client, id).await
    }

    async fn projects(&self, user_id: &str, status: Option<WritingStatus>, page: Page) -> AppResult<(Vec<ProjectRow>, u64)> {
        let status = status.map(WritingStatus::as_str);
        self.db.owned_page("writing_projects", PROJECT_COLUMNS, user_id, status, (page.limit, page.offset), project_of).await
    }

    async fn insert_project(&self, project: ProjectRow, admission: CountAdmission) -> AppResult<()> {
        let p = project;
        let id = write_id(&p.project_id)?;
        let created_at = time(&p.created_at)?;
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        admit_count_in(&tx, &admission, &p.user_id, count_active(&tx, &p.user_id)).await?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO writing_projects (project_id, user_id, title, genre, content_type, description, mature_content, status, storage_path, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
            )
            .await?;
        tx.execute(&insert, &[&id, &p.user_id, &p.title, &p.genre, &p.content_type, &p.description, &p.mature_content, &p.status, &p.storage_path, &created_at])
            .await?;
        // Recount with the member's row locked: the statement after the lock sees every insert
        // whose transaction recounted before this one, and any still running recounts after.
        let lock = tx.prepare_cached("SELECT 1 FROM guild_members WHERE user_id = $1 FOR UPDATE").await?;
        if tx.query_opt(&lock, &[&p.user_id]).await?.is_some() {
            let recount = tx
                .prepare_cached("UPDATE guild_members SET total_projects = (SELECT count(*) FROM writing_projects WHERE user_id = $1) WHERE user_id = $1")
                .await?;
            tx.execute(&recount, &[&p.user_id]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn save_project(&self, project: ProjectRow, restore: Option<CountAdmission>) -> AppResult<()> {
        let p = project;
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        if let Some(admission) = &restore {
            admit_count_in(&tx, admission, &p.user_id, count_active(&tx, &p.user_id)).await?;
        }
        if let Some(id) = row_id(&p.project_id) {
            let stmt = tx
                .prepare_cached(
                    "UPDATE writing_projects SET title = $2, genre = $3, content_type = $4, description = $5, mature_content = $6, status = $7, updated_at = $8
                     WHERE project_id = $1",
                )
                .await?;
            tx.execute(&stmt, &[&id, &p.title, &p.genre, &p.content_type, &p.description, &p.mature_content, &p.status, &now()?]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn versions(&self, project_id: &str) -> AppResult<Vec<VersionRow>> {
        let Some(id) = row_id(project_id) else { return Ok(Vec::new()) };
        let client = self.db.client().await?;
        let stmt = client
            .prepare_cached(&format!("SELECT {VERSION_COLUMNS} FROM writing_versions WHERE project_id = $1 ORDER BY created_at DESC, version_id DESC"))
            .await?;
        client.query(&stmt, &[&id]).await?.iter().map(version_of).collect()
    }

    async fn version(&self, project_id: &str, version_id: &str) -> AppResult<Option<VersionRow>> {
        let (Some(id), Some(vid)) = (row_id(project_id), row_id(version_id)) else { return Ok(None) };
        let client = self.db.client().await?;
        let stmt = client.prepare_cached(&format!("SELECT {VERSION_COLUMNS} FROM writing_versions WHERE project_id = $1 AND version_id = $2")).await?;
        client.query_opt(&stmt, &[&id, &vid]).await?.as_ref().map(version_of).transpose()
    }

    async fn insert_version(&self, project_id: &str, expected: Option<String>, version: VersionRow) -> AppResult<VersionSaved> {
        let v = version;
        let Some(id) = row_id(project_id) else { return Ok(VersionSaved::ProjectGone) };
        let vid = write_id(&v.version_id)?;
        let restored_from = v.restored_from.as_deref().map(write_id).transpose()?;
        let created_at = time(&v.created_at)?;
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        // An expected id that is no UUID is no project's current version: the set fails.
        let moved = match expected.as_deref().map(row_id) {
            Some(None) => 0,
            expected => {
                let expected = expected.flatten();
                let cas = tx
                    .prepare_cached(
                        "UPDATE writing_projects SET current_version_id = $2, word_count = $3, updated_at = $4
                         WHERE project_id = $1 AND current_version_id IS NOT DISTINCT FROM $5",
                    )
                    .await?;
                tx.execute(&cas, &[&id, &vid, &signed(v.word_count)?, &created_at, &expected]).await?
            }
        };
        if moved == 0 {
            return Ok(match project(&tx, id).await? {
                None => VersionSaved::ProjectGone,
                Some(now) => VersionSaved::Superseded { current: now.current_version_id },
            });
        }
        let insert = tx
            .prepare_cached(
                "INSERT INTO writing_versions (version_id, project_id, author_id, word_count, size_bytes, sha256, restored_from, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .await?;
        tx.execute(&insert, &[&vid, &id, &v.author_id, &signed(v.word_count)?, &signed(v.size_bytes)?, &v.sha256, &restored_from, &created_at])
            .await?;
        // The open sessions' rows in session order (as every taker of several), then the update.
        let lock = tx.prepare_cached("SELECT 1 FROM writing_sessions WHERE project_id = $1 AND ended_at IS NULL ORDER BY session_id FOR UPDATE").await?;
        tx.query(&lock, &[&id]).await?;
        let active = tx.prepare_cached("UPDATE writing_sessions SET last_activity_at = $2 WHERE project_id = $1 AND ended_at IS NULL").await?;
        tx.execute(&active, &[&id, &created_at]).await?;
        tx.commit().await?;
        Ok(VersionSaved::Saved)
    }

    async fn session(&self, session_id: &str) -> AppResult<Option<SessionRow>> {
        let Some(id) = row_id(session_id) else { return Ok(None) };
        let client = self.db.client().await?;
        let stmt = client.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM writing_sessions WHERE session_id = $1")).await?;
        client.query_opt(&stmt, &[&id]).await?.as_ref().map(session_of).transpose()
    }

    async fn open_session(&self, session: SessionRow) -> AppResult<SessionRow> {
        let id = write_id(&session.session_id)?;
        let started_at = time(&session.started_at)?;
        let project_id = row_id(&session.project_id);
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        // Opens on one user's project take turns, so each ends those opened before it.
        let turn = tx.prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended('writing_sessions:' || $1::text || ':' || $2::text, 0))").await?;
        tx.execute(&turn, &[&session.user_id, &session.project_id]).await?;
        let mut words = Words::default();
        if let Some(project_id) = project_id {
            let open = tx
                .prepare_cached(&format!(
                    "SELECT {SESSION_COLUMNS} FROM writing_sessions WHERE user_id = $1 AND project_id = $2 AND ended_at IS NULL
                     ORDER BY session_id FOR UPDATE"
                ))
                .await?;
            for row in tx.query(&open, &[&session.user_id, &project_id]).await? {
                let open = session_of(&row)?;
                if let (ended, true) = end_session(&tx, &open, &session.started_at).await? {
                    words.add(&ended);
                }
            }
        }
        words.commit(&tx).await?;
        let start_words = match project_id {
            Some(project_id) => project(&tx, project_id).await?.map_or(0, |p| p.word_count),
            None => 0,
        };
        let row = SessionRow { start_word_count: start_words, ..session };
        let insert = tx
            .prepare_cached(
                "INSERT INTO writing_sessions (session_id, project_id, user_id, chapter_number, start_word_count, started_at, last_activity_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .await?;
        let chapter = row.chapter_number.map(i64::from);
        tx.execute(&insert, &[&id, &write_id(&row.project_id)?, &row.user_id, &chapter, &signed(row.start_word_count)?, &started_at]).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn close_session(&self, session: SessionRow, ended_at: &str) -> AppResult<SessionRow> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        if let Some(id) = row_id(&session.session_id) {
            let lock = tx.prepare_cached("SELECT 1 FROM writing_sessions WHERE session_id = $1 FOR UPDATE").await?;
            tx.query_opt(&lock, &[&id]).await?;
        }
        let (ended, changed) = end_session(&tx, &session, ended_at).await?;
        if changed {
            let mut words = Words::default();
            words.add(&ended);
            words.commit(&tx).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    async fn close_idle_sessions(&self, idle_before: DateTime<Utc>) -> AppResult<usize> {
        // The cutoff at SQLite's precision: it compares millisecond text.
        let cutoff = time(&text(idle_before))?;
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        // Locked in session order; a session ended or saved into meanwhile is dropped by the
        // lock's recheck of the condition.
        let idle = tx
            .prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS}, last_activity_at FROM writing_sessions WHERE ended_at IS NULL AND last_activity_at < $1
                 ORDER BY session_id FOR UPDATE"
            ))
            .await?;
        let idle = tx.query(&idle, &[&cutoff]).await?;
        let mut words = Words::default();
        for row in &idle {
            let session = session_of(row)?;
            if let (ended, true) = end_session(&tx, &session, &text(row.get(9))).await? {
                words.add(&ended);
            }
        }
        words.commit(&tx).await?;
        tx.commit().await?;
        Ok(idle.len())
    }

    async fn commit_assistance(&self, hold: Hold, words: u64) -> AppResult<()> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        commit_hold_in(&tx, &hold).await?;
        add_to_hold_window_in(&tx, &hold, AI_WRITING_WORDS, words).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn project(c: &impl GenericClient, project_id: Uuid) -> AppResult<Option<ProjectRow>> {
    let stmt = c.prepare_cached(&format!("SELECT {PROJECT_COLUMNS} FROM writing_projects WHERE project_id = $1")).await?;
    c.query_opt(&stmt, &[&project_id]).await?.as_ref().map(project_of).transpose()
}

/// The user's projects not archived.
async fn count_active(c: &impl GenericClient, user_id: &str) -> AppResult<u64> {
    let stmt = c.prepare_cached("SELECT count(*) FROM writing_projects WHERE user_id = $1 AND status <> 'archived'").await?;
    unsigned(c.query_one(&stmt, &[&user_id]).await?.get(0))
}

/// The session's manuscript's word count now; as in SQLite, a session whose project is gone
/// cannot be ended (internal: projects are never deleted while they have sessions).
async fn words_now(c: &impl GenericClient, s: &SessionRow) -> AppResult<u64> {
    let stmt = c.prepare_cached("SELECT word_count FROM writing_projects WHERE project_id = $1").await?;
    let row = match row_id(&s.project_id) {
        Some(id) => c.query_opt(&stmt, &[&id]).await?,
        None => None,
    };
    let row = row.ok_or_else(|| AppError::internal(format!("session {} has no project {}", s.session_id, s.project_id)))?;
    unsigned(row.get(0))
}

/// Ends the session (whose row the caller holds) at `ended_at` as [`SessionRow::ended`]
/// computes from the manuscript's word count now: the session as ended, and whether this ended
/// it (false when it had ended already: its words are counted by whoever ended it).
async fn end_session(tx: &Transaction<'_>, s: &SessionRow, ended_at: &str) -> AppResult<(SessionRow, bool)> {
    let ended = s.ended(ended_at, words_now(tx, s).await?);
    let Some(id) = row_id(&s.session_id) else { return Ok((ended, false)) };
    let stmt = tx
        .prepare_cached("UPDATE writing_sessions SET ended_at = $2, words_written = $3, duration_seconds = $4 WHERE session_id = $1 AND ended_at IS NULL")
        .await?;
    let duration = ended.duration_seconds.map(signed).transpose()?;
    let changed = tx.execute(&stmt, &[&id, &time(ended_at)?, &signed(ended.words_written)?, &duration]).await?;
    Ok((ended, changed == 1))
}

/// Words to add to members' totals, added in `user_id` order (the lock order for several).
#[derive(Default)]
struct Words(BTreeMap<String, u64>);

impl Words {
    fn add(&mut self, ended: &SessionRow) {
        *self.0.entry(ended.user_id.clone()).or_default() += ended.words_written;
    }

    async fn commit(self, tx: &Transaction<'_>) -> AppResult<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let stmt = tx
            .prepare_cached("UPDATE guild_members SET total_words_written = total_words_written + $2, updated_at = $3 WHERE user_id = $1")
            .await?;
        let now = now()?;
        for (user_id, words) in &self.0 {
            tx.execute(&stmt, &[user_id, &signed(*words)?, &now]).await?;
        }
        Ok(())
    }
}
