//! What the Writers Guild keeps: members, writing projects, manuscript versions (the rows; the
//! texts are blobs), and writing sessions. The rules (who may, limits, validation, errors) are
//! the service's; a store guarantees that each operation here is atomic, also with several
//! servers on one database.

pub mod postgres;
pub mod sqlite;

use chrono::{DateTime, Utc};

use super::model::WritingStatus;
use crate::error::AppResult;
use crate::features::page::Page;
use crate::features::subscription::admission::CountAdmission;
use crate::features::subscription::store::Hold;

/// A guild member. Times are RFC 3339 text (UTC, milliseconds).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberRow {
    pub member_id: String,
    pub user_id: String,
    /// Empty when none was ever set.
    pub pen_name: String,
    pub bio: Option<String>,
    pub specialties: Vec<String>,
    pub tier: String,
    pub total_words_written: u64,
    pub joined_at: String,
    pub updated_at: String,
}

/// What a member's profile counts.
#[derive(Debug, Clone, Default)]
pub struct MemberStats {
    /// Projects owned, archived ones included.
    pub projects: u64,
    /// Writing sessions, open ones included.
    pub sessions: u64,
    /// The distinct UTC days (`YYYY-MM-DD`) with a session started, newest first; at most 400.
    pub session_days: Vec<String>,
}

/// A writing project. Serialized as is into the project's `metadata.json` mirror.
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

/// One version of a project's manuscript.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionRow {
    /// Chosen by the service (a UUID v7), so ids never collide, across servers too.
    pub version_id: String,
    pub author_id: String,
    pub word_count: u64,
    pub size_bytes: u64,
    pub sha256: String,
    pub restored_from: Option<String>,
    pub created_at: String,
}

/// What recording a new version came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSaved {
    /// The version is recorded and current.
    Saved,
    /// The project no longer exists; nothing was recorded.
    ProjectGone,
    /// The project's current version is no longer the one expected (another save landed
    /// first): `current` is the one it is now. Nothing was recorded.
    Superseded { current: Option<String> },
}

/// A writing session.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub session_id: String,
    pub project_id: String,
    pub user_id: String,
    pub chapter_number: Option<u32>,
    /// The manuscript's word count when the session started.
    pub start_word_count: u64,
    pub words_written: u64,
    pub duration_seconds: Option<u64>,
    pub started_at: String,
    pub ended_at: Option<String>,
}

impl SessionRow {
    /// The session ended at `ended_at` (RFC 3339) with the manuscript at `words_now` words: the
    /// words written are those gained since the start (never negative), the duration the
    /// seconds from start to end (never negative; 0 when a time cannot be read). Every store
    /// records a session's end as this computes it.
    pub fn ended(&self, ended_at: &str, words_now: u64) -> SessionRow {
        let started = DateTime::parse_from_rfc3339(&self.started_at).ok();
        let ended = DateTime::parse_from_rfc3339(ended_at).ok();
        let duration = match (started, ended) {
            (Some(a), Some(b)) => (b - a).num_seconds().max(0) as u64,
            _ => 0,
        };
        SessionRow {
            words_written: words_now.saturating_sub(self.start_word_count),
            duration_seconds: Some(duration),
            ended_at: Some(ended_at.to_owned()),
            ..self.clone()
        }
    }
}

#[async_trait::async_trait]
pub trait WritersStore: Send + Sync + 'static {
    /// The member with this user id; `None` when the user is not a member.
    async fn member(&self, user_id: &str) -> AppResult<Option<MemberRow>>;

    /// What the member's profile counts, read together.
    async fn member_stats(&self, user_id: &str) -> AppResult<MemberStats>;

    /// Enrols the member (words written start at 0, `updated_at` is `joined_at`); false, and
    /// nothing changed, when the user is a member already (also when a concurrent enrolment,
    /// on any server, won).
    async fn enrol_member(&self, member: MemberRow) -> AppResult<bool>;

    /// Saves the member's pen name, bio, specialties and tier, with `updated_at` now. The
    /// member's other fields (words written, join date) are not written.
    async fn save_member(&self, member: MemberRow) -> AppResult<()>;

    /// The project with this id; `None` when there is none.
    async fn project(&self, project_id: &str) -> AppResult<Option<ProjectRow>>;

    /// One page of the user's projects (only those in `status` when given), the most recently
    /// changed first, and how many such projects there are in all.
    async fn projects(&self, user_id: &str, status: Option<WritingStatus>, page: Page) -> AppResult<(Vec<ProjectRow>, u64)>;

    /// Admits one more project of `project.user_id` by `admission` (counting the projects not
    /// archived) and inserts it, atomically: of concurrent creates for the last place, across
    /// servers too, exactly one is inserted; the others fail with the admission's error and
    /// insert nothing. The member's project total is kept up to date.
    async fn insert_project(&self, project: ProjectRow, admission: CountAdmission) -> AppResult<()>;

    /// Saves the project's title, genre, content type, description, maturity and status, with
    /// `updated_at` now. With `restore` (the project leaves the archive), admits it by that
    /// admission first, in the same atomic operation: refused, nothing is written. The
    /// manuscript fields (word count, current version) are not written.
    async fn save_project(&self, project: ProjectRow, restore: Option<CountAdmission>) -> AppResult<()>;

    /// The project's versions, newest first.
    async fn versions(&self, project_id: &str) -> AppResult<Vec<VersionRow>>;

    /// The version with this id in this project; `None` when there is none.
    async fn version(&self, project_id: &str, version_id: &str) -> AppResult<Option<VersionRow>>;

    /// Records `version` and makes it the project's current one (its word count becomes the
    /// project's, its time the project's `updated_at` and the last activity of the project's
    /// open sessions), atomically and only if the project's current version is still
    /// `expected`: a compare-and-set, so of concurrent saves on the same version, across
    /// servers too, exactly one lands. Otherwise nothing is recorded (see [`VersionSaved`]).
    async fn insert_version(&self, project_id: &str, expected: Option<String>, version: VersionRow) -> AppResult<VersionSaved>;

    /// The session with this id; `None` when there is none.
    async fn session(&self, session_id: &str) -> AppResult<Option<SessionRow>>;

    /// Opens `session`, atomically: first ends the user's open sessions on the same project at
    /// `session.started_at` (as [`SessionRow::ended`] computes, their words added to the
    /// member's total), then inserts the session with its start word count set to the
    /// project's word count now (0 when the project is gone). Returns the session inserted.
    async fn open_session(&self, session: SessionRow) -> AppResult<SessionRow>;

    /// Ends the session at `ended_at`, as [`SessionRow::ended`] computes from the project's
    /// word count now, and adds the words written to the member's total, atomically. A session
    /// that has ended meanwhile (a concurrent end) is left as it is and its words are not
    /// counted again. Returns the session as ended.
    async fn close_session(&self, session: SessionRow, ended_at: &str) -> AppResult<SessionRow>;

    /// Ends every open session whose last activity (its start or the last version saved while
    /// it was open) is before `idle_before`, each at its last activity, as
    /// [`Self::close_session`] does, in one atomic operation; how many were ended.
    async fn close_idle_sessions(&self, idle_before: DateTime<Utc>) -> AppResult<usize>;

    /// Keeps an assistance's use: commits `hold` and adds `words` (the words sent) to the
    /// `ai_writing_words` counter of the hold's window, atomically.
    async fn commit_assistance(&self, hold: Hold, words: u64) -> AppResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(start_words: u64) -> SessionRow {
        SessionRow {
            session_id: "s".into(),
            project_id: "p".into(),
            user_id: "u".into(),
            chapter_number: None,
            start_word_count: start_words,
            words_written: 0,
            duration_seconds: None,
            started_at: "2026-11-25T10:00:00.000Z".into(),
            ended_at: None,
        }
    }

    #[test]
    fn an_ended_session_counts_words_gained_and_seconds_never_negative() {
        let s = open(100).ended("2026-11-25T10:30:00.000Z", 250);
        assert_eq!((s.words_written, s.duration_seconds, s.ended_at.as_deref()), (150, Some(1800), Some("2026-11-25T10:30:00.000Z")));
        let s = open(100).ended("2026-11-25T09:00:00.000Z", 40);
        assert_eq!((s.words_written, s.duration_seconds), (0, Some(0)));
        assert_eq!(open(0).ended("not a time", 5).duration_seconds, Some(0));
    }
}
