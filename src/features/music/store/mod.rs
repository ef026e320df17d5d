//! What Music Studio keeps: projects, their stems and mix versions, shares and play counts.
//! The rules (who may change a project and when, what a tier admits) are the service's; a
//! store guarantees that each operation here is atomic, also with several servers on one
//! database, and applies the rules it is handed inside that operation.

pub mod postgres;
pub mod sqlite;

use super::model::ProjectStatus;
use crate::error::AppResult;
use crate::features::page::Page;
use crate::features::subscription::quota::CountAdmission;
use crate::features::subscription::store::Hold;

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

/// A project with its stems (oldest first) and versions (newest first): what its
/// `metadata.json` describes.
#[derive(Debug, Clone)]
pub struct ProjectParts {
    pub project: ProjectRow,
    pub stems: Vec<StemRow>,
    pub versions: Vec<VersionRow>,
}

/// A new mix version. Its id is the caller's (a UUIDv7, so ids made on different servers
/// never collide); the store does not number versions. Stamped with the time it is stored.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub version_id: String,
    pub mix_path: String,
    pub preview_path: String,
    pub midi_path: Option<String>,
    pub prompt: Option<String>,
    pub provider: String,
    pub duration: f64,
}

/// A finished generation (or remix): its version, the stems made with it, and the quota held
/// for the work, if any.
#[derive(Debug, Clone)]
pub struct FinishedGeneration {
    pub project_id: String,
    pub version: NewVersion,
    pub stems: Vec<StemRow>,
    pub hold: Option<Hold>,
}

/// What sharing a project came to.
#[derive(Debug, Clone)]
pub struct Published {
    /// The public page, as `page_url` made it from the project's share id.
    pub page_url: String,
    /// How often the project has now been shared to each platform, in the order asked.
    pub share_counts: Vec<u64>,
}

/// The service's rule for whether a project may change, checked on the project as read inside
/// the operation that changes it; an error aborts the operation with nothing written.
pub type Guard = Box<dyn FnOnce(&ProjectRow) -> AppResult<()> + Send>;

/// The service's edit of a project's editable fields (title, genre, bpm, mood, key, status,
/// visibility, last error), applied to the project as read inside the operation that writes it
/// back. `Some(admission)`: the edit makes the project count against the owner's tier again
/// (it comes back from the archive), so it must be admitted as one more project. An error
/// aborts the operation with nothing written.
pub type Edit = Box<dyn FnOnce(&mut ProjectRow) -> AppResult<Option<CountAdmission>> + Send>;

/// Makes the public page's address from the project's share id.
pub type PageUrl = Box<dyn FnOnce(&str) -> String + Send>;

#[async_trait::async_trait]
pub trait MusicStore: Send + Sync + 'static {
    /// The project, or `None`.
    async fn project(&self, project_id: &str) -> AppResult<Option<ProjectRow>>;

    /// The project whose public share page has this id, or `None`.
    async fn project_by_share_slug(&self, slug: &str) -> AppResult<Option<ProjectRow>>;

    /// The project with its stems and versions, or `None`. Each part is read as it is when
    /// read, not as one snapshot: a caller rewriting a description after every change sees
    /// the last change in the last rewrite.
    async fn project_parts(&self, project_id: &str) -> AppResult<Option<ProjectParts>>;

    /// One page of the user's projects (only those in `status` when given), the most recently
    /// changed first, and how many such projects there are in all.
    async fn list_projects(&self, user_id: &str, status: Option<ProjectStatus>, page: Page) -> AppResult<(Vec<ProjectRow>, u64)>;

    /// The project's stems, oldest first (empty when there is no such project).
    async fn stems(&self, project_id: &str) -> AppResult<Vec<StemRow>>;

    /// The project's mix versions, newest first (empty when there is no such project).
    async fn versions(&self, project_id: &str) -> AppResult<Vec<VersionRow>>;

    /// Admits the project as one more of its owner's (`admission`, counting the projects the
    /// owner has that are not archived) and inserts it, atomically: of concurrent inserts for
    /// the last place, across servers too, exactly one succeeds. Inserts the row's fields
    /// except the counters, duration, version, error and share id, which start empty.
    async fn insert_project(&self, project: ProjectRow, admission: CountAdmission) -> AppResult<()>;

    /// Reads the project, applies `edit` to it, admits it when the edit asks (counting the
    /// owner's projects before the edit is written) and writes the edited fields back, all
    /// atomically: a change made meanwhile (a generation finishing) is never undone. The
    /// project as it was before the edit; `None` (nothing written) when there is none.
    async fn update_project(&self, project_id: &str, edit: Edit) -> AppResult<Option<ProjectRow>>;

    /// Sets the project's status and last error (`None` clears it), unconditionally.
    async fn set_status(&self, project_id: &str, status: ProjectStatus, last_error: Option<String>) -> AppResult<()>;

    /// Checks `guard` on the project and marks it `generating` (clearing its last error),
    /// atomically, so two generations cannot both start. The project as it was before;
    /// `None` (nothing written) when there is none.
    async fn begin_generation(&self, project_id: &str, guard: Guard) -> AppResult<Option<ProjectRow>>;

    /// Keeps a finished generation, atomically: checks `guard` on the project, inserts the
    /// version and its stems (updating the stem count), makes the version the project's
    /// current mix with its duration, clears the last error, marks the project completed
    /// (unless it is published) and commits the quota hold. Nothing is kept, and the hold is
    /// left held, when any step fails. The project as the guard saw it; `None` (nothing
    /// written) when there is none.
    async fn finish_generation(&self, generation: FinishedGeneration, guard: Guard) -> AppResult<Option<ProjectRow>>;

    /// Checks `guard` on the project and makes `version_id` (of duration `duration`) its
    /// current mix, atomically, clearing the last error and marking the project completed
    /// (unless it is published). The project as the guard saw it; `None` (nothing written)
    /// when there is none.
    async fn make_current(&self, project_id: &str, version_id: &str, duration: f64, guard: Guard) -> AppResult<Option<ProjectRow>>;

    /// Adds a stem to the project and updates its stem count, atomically.
    async fn add_stem(&self, project_id: &str, stem: StemRow) -> AppResult<()>;

    /// Checks `guard` on the project, publishes it (status `published`, visibility public),
    /// gives it the share id `new_slug` unless it has one, and counts one more share to each
    /// platform with the page `page_url` makes of the project's share id and the caption,
    /// atomically. `None` (nothing written) when there is no such project.
    async fn publish(
        &self,
        project_id: &str,
        guard: Guard,
        new_slug: String,
        page_url: PageUrl,
        platforms: Vec<String>,
        caption: Option<String>,
    ) -> AppResult<Option<Published>>;

    /// Counts one more play of the project (nothing when there is none).
    async fn count_play(&self, project_id: &str) -> AppResult<()>;

    /// Removes the project with its stems, versions and shares.
    async fn delete_project(&self, project_id: &str) -> AppResult<()>;
}
