use std::sync::Arc;

use super::model::*;
use super::store::{Edit, FinishedGeneration, Guard, MusicStore, NewVersion, ProjectRow, StemRow, VersionRow};
use super::share;
use crate::ai::music::composer::{MusicParams, Style, parse_key, seed_for};
use crate::ai::music::render::mix_and_encode;
use crate::ai::music::{GeneratedMusic, MusicProvider, Steps};
use crate::audio::{self, MixTrack};
use crate::auth::Caller;
use crate::config::MusicConfig;
use crate::error::{AppError, AppResult};
use crate::features::fields::{required, trimmed};
use crate::features::mirrors::{Mirror, MirrorKind, MirrorRenderer, MirrorSignal};
use crate::features::page::Page;
use crate::features::storage::StorageService;
use crate::features::subscription::SubscriptionService;
use crate::features::subscription::plan::Feature;
use crate::features::subscription::quota::Counted;
use crate::blobs::{BlobPath, Bucket, Durability};
use crate::work_queue::{Priority, WorkQueue};
use crate::clock::now_text;

mod generation;
mod projects;
mod sharing;
mod versions;

const BUCKET: Bucket = Bucket::Music;

pub struct MusicService {
    store: Arc<dyn MusicStore>,
    storage: Arc<StorageService>,
    subscriptions: Arc<SubscriptionService>,
    provider: Arc<dyn MusicProvider>,
    work: Arc<WorkQueue>,
    config: MusicConfig,
    /// Wakes the worker that rewrites `metadata.json` after a change (see [`MirrorRenderer`]).
    mirrors: MirrorSignal,
    /// Where a generation's progress is published (`generation:<projectId>` streams).
    events: Arc<crate::events::bus::EventBus>,
}

fn not_found(project_id: &str) -> AppError {
    AppError::NotFound { code: "project_not_found", message: format!("no music project `{project_id}`") }
}

fn check_bpm(bpm: Option<u32>) -> AppResult<Option<u32>> {
    match bpm {
        Some(b) if !(40..=200).contains(&b) => Err(AppError::invalid_field("bpm", "must be 40 to 200")),
        other => Ok(other),
    }
}

/// A key the composer reads (`C`, `F#`, `Bb minor`, `Am`…).
fn check_key(key: Option<String>) -> AppResult<Option<String>> {
    let Some(key) = trimmed("key", key, 20)? else { return Ok(None) };
    parse_key(&key).map_err(|e| AppError::invalid_field("key", e))?;
    Ok(Some(key))
}


/// Refuses changes to a project that is archived or being generated (unless `generating` is
/// the state the caller itself set).
fn ensure_changeable(p: &ProjectRow, own_generation: bool) -> AppResult<()> {
    match ProjectStatus::parse(&p.status) {
        Some(ProjectStatus::Archived) => {
            Err(AppError::Conflict { code: "project_archived", message: "the project is archived: restore it first".into() })
        }
        Some(ProjectStatus::Generating) if !own_generation => Err(AppError::Conflict {
            code: "generation_in_progress",
            message: "the project is being generated; try again when it finishes".into(),
        }),
        _ => Ok(()),
    }
}

/// [`ensure_changeable`] as a rule a store checks inside the operation that changes the project.
fn changeable(own_generation: bool) -> Guard {
    Box::new(move |p| ensure_changeable(p, own_generation))
}

/// Applies an edit to a project row; true when it brings the project back from the archive.
fn apply_update(p: &mut ProjectRow, u: UpdateProject) -> AppResult<bool> {
    if let Some(title) = u.title {
        p.title = required("title", title, 500)?;
    }
    if u.genre.is_some() {
        p.genre = trimmed("genre", u.genre, 100)?;
    }
    if u.bpm.is_some() {
        p.bpm = check_bpm(u.bpm)?;
    }
    if u.mood.is_some() {
        p.mood = trimmed("mood", u.mood, 100)?;
    }
    if u.key.is_some() {
        p.key = check_key(u.key)?;
    }
    if let Some(visibility) = u.visibility {
        p.visibility = visibility.as_str().into();
    }
    let Some(status) = u.status else { return Ok(false) };
    if status == ProjectStatus::Generating {
        return Err(AppError::invalid_field("status", "`generating` is set by generation only"));
    }
    if p.status == ProjectStatus::Generating.as_str() {
        return Err(AppError::Conflict { code: "generation_in_progress", message: "the project is being generated; try again when it finishes".into() });
    }
    if matches!(status, ProjectStatus::Completed | ProjectStatus::Published) && p.current_version_id.is_none() {
        return Err(AppError::Conflict { code: "no_mix", message: "generate or mix the project before completing or publishing it".into() });
    }
    let restoring = status != ProjectStatus::Archived && p.status == ProjectStatus::Archived.as_str();
    p.status = status.as_str().into();
    Ok(restoring)
}

fn parse_style(raw: &str) -> AppResult<Style> {
    Style::parse(&raw.to_ascii_lowercase()).ok_or_else(|| {
        AppError::invalid_field("style", format!("unknown style `{raw}`: use ambient, electronic, pop, rock, classical, jazz, hiphop or custom"))
    })
}

impl MusicService {
    /// Largest stem an upload may be, in bytes.
    pub fn max_stem_bytes(&self) -> u64 {
        self.config.max_stem_bytes
    }

    #[allow(clippy::too_many_arguments)] // each is a collaborator the service is built from
    pub fn new(
        store: Arc<dyn MusicStore>,
        storage: Arc<StorageService>,
        subscriptions: Arc<SubscriptionService>,
        provider: Arc<dyn MusicProvider>,
        work: Arc<WorkQueue>,
        config: MusicConfig,
        mirrors: MirrorSignal,
        events: Arc<crate::events::bus::EventBus>,
    ) -> Self {
        Self { store, storage, subscriptions, provider, work, config, mirrors, events }
    }

    /// Publishes a step of a generation of `project_id` to its watchers. Best effort: a log
    /// that cannot be written is logged, and the generation goes on.
    pub(super) async fn progress(&self, project_id: &str, step: serde_json::Value) {
        let topic = crate::events::music_topic(project_id);
        if let Err(e) = self.events.publish(&topic, "generation", project_id, Some(&step)).await {
            tracing::warn!(error = %e, project_id, "cannot publish a generation's progress");
        }
    }

    pub(super) fn path(&self, project: &ProjectRow, rest: &str) -> AppResult<BlobPath> {
        BlobPath::parse(&format!("{}/{rest}", project.storage_path))
    }

    pub(super) fn url(&self, path: &str) -> String {
        BlobPath::parse(path).map(|p| self.storage.playable_url(BUCKET, &p)).unwrap_or_default()
    }

    pub(super) fn current_preview(&self, p: &ProjectRow) -> Option<String> {
        p.current_version_id.as_ref().map(|_| self.url(&format!("{}/preview/{}_preview.mp3", p.storage_path, p.project_id)))
    }

    pub(super) fn view(&self, p: &ProjectRow) -> Project {
        Project {
            project_id: p.project_id.clone(),
            user_id: p.user_id.clone(),
            title: p.title.clone(),
            genre: p.genre.clone(),
            bpm: p.bpm,
            mood: p.mood.clone(),
            key: p.key.clone(),
            status: ProjectStatus::parse(&p.status).unwrap_or(ProjectStatus::Draft),
            visibility: if p.visibility == "public" { Visibility::Public } else { Visibility::Private },
            stem_count: p.stem_count,
            total_plays: p.total_plays,
            duration: p.duration,
            current_version_id: p.current_version_id.clone(),
            last_error: p.last_error.clone(),
            share_url: p.share_slug.as_ref().map(|s| share::page_url(self.storage.public_url(), s)),
            preview_url: self.current_preview(p),
            created_at: p.created_at.clone(),
            updated_at: p.updated_at.clone(),
        }
    }

    pub(super) fn stem_view(&self, s: &StemRow) -> Stem {
        Stem {
            stem_id: s.stem_id.clone(),
            instrument: s.instrument.clone(),
            source: s.source.clone(),
            format: s.format.clone(),
            url: self.url(&s.path),
            duration: s.duration,
            size_bytes: s.size_bytes,
            version_id: s.version_id.clone(),
            created_at: s.created_at.clone(),
        }
    }

    /// The project when the caller owns it (or is privileged); anyone else is told it does not exist.
    pub async fn owned(&self, caller: &Caller, project_id: &str) -> AppResult<ProjectRow> {
        match self.store.project(project_id).await? {
            Some(p) if p.user_id == caller.user_id || caller.is_privileged() => Ok(p),
            _ => Err(not_found(project_id)),
        }
    }

    /// The project as it is now, when it may change (see [`ensure_changeable`]); the check is
    /// made again by the operation that changes it.
    pub(super) async fn changeable_now(&self, project_id: &str) -> AppResult<ProjectRow> {
        let p = self.store.project(project_id).await?.ok_or_else(|| not_found(project_id))?;
        ensure_changeable(&p, false)?;
        Ok(p)
    }

    /// The project's rows changed: its `metadata.json` is due (the change's transaction marked
    /// it so in the outbox); wakes the worker that writes it. No blob work in the request.
    pub(super) fn mirror_changed(&self) {
        self.mirrors.poke();
    }
}

/// `metadata.json` in the project's folder describes the project from its rows (the project,
/// its stems and mix versions), so the bucket describes itself. The mirror worker writes it
/// shortly after each change.
#[async_trait::async_trait]
impl MirrorRenderer for MusicService {
    fn kind(&self) -> MirrorKind {
        MirrorKind::MusicProject
    }

    async fn render_mirror(&self, project_id: &str) -> AppResult<Option<Mirror>> {
        let Some(parts) = self.store.project_parts(project_id).await? else { return Ok(None) };
        let doc = serde_json::json!({ "project": parts.project, "stems": parts.stems, "versions": parts.versions, "writtenAt": now_text() });
        let path = self.path(&parts.project, "metadata.json")?;
        let bytes = serde_json::to_vec_pretty(&doc).map_err(AppError::internal)?;
        Ok(Some(Mirror { bucket: BUCKET, path, bytes }))
    }

    async fn mirror_subject_exists(&self, project_id: &str) -> AppResult<bool> {
        Ok(self.store.project(project_id).await?.is_some())
    }
}
