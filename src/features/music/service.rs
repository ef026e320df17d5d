use std::sync::Arc;

use super::model::*;
use super::repo::{self, NewVersion, ProjectRow, StemRow, VersionRow};
use super::share;
use crate::ai::music::composer::{MusicParams, Style, parse_key, seed_for};
use crate::ai::music::render::mix_and_encode;
use crate::ai::music::{GeneratedMusic, MusicProvider};
use crate::audio::{self, MixTrack};
use crate::auth::Caller;
use crate::config::MusicConfig;
use crate::db::{Db, now_text};
use crate::error::{AppError, AppResult};
use crate::features::fields::{required, trimmed};
use crate::features::page::Page;
use crate::features::storage::StorageService;
use crate::features::subscription::SubscriptionService;
use crate::features::subscription::plan::Feature;
use crate::features::subscription::quota::Counted;
use crate::storage::{BlobPath, Bucket, Durability};
use crate::work_queue::{Priority, WorkQueue};

const BUCKET: Bucket = Bucket::Music;

pub struct MusicService {
    db: Db,
    storage: Arc<StorageService>,
    subscriptions: Arc<SubscriptionService>,
    provider: Arc<dyn MusicProvider>,
    work: Arc<WorkQueue>,
    config: MusicConfig,
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
fn ensure_changeable(tx: &rusqlite::Connection, project_id: &str, own_generation: bool) -> AppResult<ProjectRow> {
    let p = repo::project(tx, project_id)?.ok_or_else(|| not_found(project_id))?;
    match ProjectStatus::parse(&p.status) {
        Some(ProjectStatus::Archived) => {
            Err(AppError::Conflict { code: "project_archived", message: "the project is archived: restore it first".into() })
        }
        Some(ProjectStatus::Generating) if !own_generation => Err(AppError::Conflict {
            code: "generation_in_progress",
            message: "the project is being generated; try again when it finishes".into(),
        }),
        _ => Ok(p),
    }
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

    pub fn new(
        db: Db,
        storage: Arc<StorageService>,
        subscriptions: Arc<SubscriptionService>,
        provider: Arc<dyn MusicProvider>,
        work: Arc<WorkQueue>,
        config: MusicConfig,
    ) -> Self {
        Self { db, storage, subscriptions, provider, work, config }
    }

    fn path(&self, project: &ProjectRow, rest: &str) -> AppResult<BlobPath> {
        BlobPath::parse(&format!("{}/{rest}", project.storage_path))
    }

    fn url(&self, path: &str) -> String {
        BlobPath::parse(path).map(|p| self.storage.playable_url(BUCKET, &p)).unwrap_or_default()
    }

    fn current_preview(&self, p: &ProjectRow) -> Option<String> {
        p.current_version_id.as_ref().map(|_| self.url(&format!("{}/preview/{}_preview.mp3", p.storage_path, p.project_id)))
    }

    fn view(&self, p: &ProjectRow) -> Project {
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

    fn stem_view(&self, s: &StemRow) -> Stem {
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
        let id = project_id.to_owned();
        match self.db.read(move |c| repo::project(c, &id)).await? {
            Some(p) if p.user_id == caller.user_id || caller.is_privileged() => Ok(p),
            _ => Err(not_found(project_id)),
        }
    }

    /// Rewrites `metadata.json` from the rows, so the bucket describes itself.
    async fn sync_metadata(&self, project_id: &str) -> AppResult<()> {
        let id = project_id.to_owned();
        let (project, stems, versions) = self
            .db
            .read(move |c| Ok((repo::project(c, &id)?, repo::stems(c, &id)?, repo::versions(c, &id)?)))
            .await?;
        let Some(project) = project else { return Ok(()) };
        self.write_metadata(&project, &stems, &versions).await
    }

    async fn write_metadata(&self, project: &ProjectRow, stems: &[StemRow], versions: &[VersionRow]) -> AppResult<()> {
        let doc = serde_json::json!({ "project": project, "stems": stems, "versions": versions, "writtenAt": now_text() });
        let path = self.path(project, "metadata.json")?;
        let bytes = serde_json::to_vec_pretty(&doc).map_err(AppError::internal)?;
        self.storage.blobs().put_mirror(BUCKET, &path, bytes).await?;
        Ok(())
    }

    pub async fn create(&self, caller: &Caller, r: CreateProject) -> AppResult<Project> {
        caller.ensure_acts_for(&r.user_id)?;
        let title = required("title", r.title, 500)?;
        let project_id = uuid::Uuid::now_v7().to_string();
        let row = ProjectRow {
            storage_path: format!("users/{}/projects/{project_id}", r.user_id),
            project_id,
            user_id: r.user_id,
            title,
            genre: trimmed("genre", r.genre, 100)?,
            bpm: check_bpm(r.bpm)?,
            mood: trimmed("mood", r.mood, 100)?,
            key: check_key(r.key)?,
            status: ProjectStatus::Draft.as_str().into(),
            visibility: Visibility::Private.as_str().into(),
            stem_count: 0,
            total_plays: 0,
            duration: None,
            current_version_id: None,
            last_error: None,
            share_slug: None,
            created_at: now_text(),
            updated_at: now_text(),
        };
        BlobPath::parse(&format!("{}/metadata.json", row.storage_path))
            .map_err(|_| AppError::invalid_field("userId", "cannot be used in a storage path"))?;
        let subscriptions = self.subscriptions.clone();
        let inserted = row.clone();
        self.db
            .write(move |tx| {
                subscriptions.admit_count(tx, &inserted.user_id, Counted::MusicProjects, || repo::count_active(tx, &inserted.user_id))?;
                repo::insert_project(tx, &inserted)?;
                Ok(())
            })
            .await?;
        // A new project has no stems or versions yet: no need to read them back.
        if let Err(e) = self.write_metadata(&row, &[], &[]).await {
            let id = row.project_id.clone();
            self.db.write(move |tx| Ok(repo::delete_project(tx, &id)?)).await?;
            return Err(e);
        }
        Ok(self.view(&row))
    }

    pub async fn get(&self, caller: &Caller, project_id: &str) -> AppResult<Project> {
        Ok(self.view(&self.owned(caller, project_id).await?))
    }

    pub async fn update(&self, caller: &Caller, project_id: &str, u: UpdateProject) -> AppResult<Project> {
        self.owned(caller, project_id).await?;
        let (id, subscriptions) = (project_id.to_owned(), self.subscriptions.clone());
        // Read, check and write in one transaction, so a generation finishing meanwhile is not undone.
        self.db
            .write(move |tx| {
                let mut p = repo::project(tx, &id)?.ok_or_else(|| not_found(&id))?;
                let restoring = apply_update(&mut p, u)?;
                if restoring {
                    subscriptions.admit_count(tx, &p.user_id, Counted::MusicProjects, || repo::count_active(tx, &p.user_id))?;
                }
                Ok(repo::save_fields(tx, &p)?)
            })
            .await?;
        self.sync_metadata(project_id).await?;
        self.get(caller, project_id).await
    }

    /// Archives the project; with `purge`, removes its files and rows for good.
    pub async fn delete(&self, caller: &Caller, project_id: &str, purge: bool) -> AppResult<Deleted> {
        let p = self.owned(caller, project_id).await?;
        if p.status == ProjectStatus::Generating.as_str() {
            return Err(AppError::Conflict { code: "generation_in_progress", message: "the project is being generated; try again when it finishes".into() });
        }
        if !purge {
            let id = p.project_id.clone();
            self.db.write(move |tx| Ok(repo::set_status(tx, &id, ProjectStatus::Archived, None)?)).await?;
            self.sync_metadata(project_id).await?;
            return Ok(Deleted { project_id: project_id.to_owned(), status: ProjectStatus::Archived, purged: false, files_removed: 0 });
        }
        // Rows go first: nothing may point at a file that is about to disappear.
        let id = p.project_id.clone();
        self.db.write(move |tx| Ok(repo::delete_project(tx, &id)?)).await?;
        let mut removed = 0;
        for object in self.storage.blobs().list(BUCKET, &format!("{}/", p.storage_path)).await? {
            if self.storage.blobs().delete(BUCKET, &BlobPath::parse(&object.path)?).await? {
                removed += 1;
            }
        }
        Ok(Deleted { project_id: project_id.to_owned(), status: ProjectStatus::Archived, purged: true, files_removed: removed })
    }

    pub async fn list(&self, caller: &Caller, user_id: &str, status: Option<ProjectStatus>, limit: u32, offset: u32) -> AppResult<ProjectList> {
        caller.ensure_acts_for(user_id)?;
        let page = Page::new(limit, offset)?;
        let user = user_id.to_owned();
        let (rows, total) = self.db.read(move |c| repo::list(c, &user, status, page)).await?;
        Ok(ProjectList {
            user_id: user_id.to_owned(),
            has_more: page.has_more(rows.len(), total),
            projects: rows.iter().map(|p| self.view(p)).collect(),
            total,
        })
    }

    pub async fn generate(&self, caller: &Caller, r: GenerateRequest) -> AppResult<Generated> {
        caller.ensure_acts_for(&r.user_id)?;
        let project = self.owned(caller, &r.project_id).await?;
        if project.user_id != r.user_id {
            return Err(not_found(&r.project_id));
        }
        let prompt = required("prompt", r.prompt, 1000)?;
        let duration = r.duration.unwrap_or(30);
        if !(10..=180).contains(&duration) {
            return Err(AppError::invalid_field("duration", "must be 10 to 180 seconds"));
        }
        let style = match r.style.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => parse_style(s)?,
            None => project.genre.as_deref().and_then(|g| Style::parse(&g.to_ascii_lowercase())).unwrap_or(Style::Pop),
        };
        let instrument = trimmed("instrument", r.instrument, 50)?;
        let mut params = MusicParams {
            prompt: prompt.clone(),
            style,
            mood: project.mood.clone(),
            bpm: project.bpm,
            key: project.key.clone(),
            duration_secs: duration,
            instrument,
            seed: 0,
        };
        params.seed = r.seed.unwrap_or_else(|| seed_for(&params));

        let reservation = self.subscriptions.quotas().reserve(&project.user_id, Feature::MusicGeneration, 1).await?;
        let id = project.project_id.clone();
        let began = self
            .db
            .write(move |tx| {
                let current = ensure_changeable(tx, &id, false)?;
                repo::set_status(tx, &id, ProjectStatus::Generating, None)?;
                Ok(ProjectStatus::parse(&current.status).unwrap_or(ProjectStatus::Draft))
            })
            .await;
        let previous = match began {
            Ok(previous) => previous,
            Err(e) => {
                reservation.release().await;
                return Err(e);
            }
        };
        self.sync_metadata(&project.project_id).await?;

        let priority = match self.subscriptions.tier_of(&project.user_id).await {
            Ok(tier) => Priority::of(tier),
            Err(_) => Priority::Standard,
        };
        let outcome = match self.work.run("music", priority, self.provider.generate(params)).await.and_then(|made| made) {
            Ok(music) => self.store_generation(&project, music, Some(&prompt), self.provider.name(), Some(reservation)).await,
            Err(e) => {
                reservation.release().await;
                Err(e)
            }
        };
        match outcome {
            Ok(generated) => Ok(generated),
            Err(e) => {
                let (id, message) = (project.project_id.clone(), e.public_message());
                self.db.write(move |tx| Ok(repo::set_status(tx, &id, previous, Some(&message))?)).await?;
                self.sync_metadata(&project.project_id).await?;
                Err(e)
            }
        }
    }

    /// Writes a generation's files, then its rows (charging the reservation in the same
    /// transaction). Files written before a failure are removed again.
    async fn store_generation(
        &self,
        project: &ProjectRow,
        music: GeneratedMusic,
        prompt: Option<&str>,
        provider: &str,
        reservation: Option<crate::features::subscription::Reservation>,
    ) -> AppResult<Generated> {
        let version_id = uuid::Uuid::now_v7().to_string();
        let mix_path = format!("{}/mixed/{version_id}.mp3", project.storage_path);
        let version_preview = format!("{}/mixed/{version_id}_preview.mp3", project.storage_path);
        let preview_path = format!("{}/preview/{}_preview.mp3", project.storage_path, project.project_id);
        let midi_path = music.midi.as_ref().map(|_| format!("{}/midi/{version_id}.mid", project.storage_path));
        let created_at = now_text();
        let stems: Vec<StemRow> = music
            .stems
            .iter()
            .map(|s| {
                let stem_id = uuid::Uuid::now_v7().to_string();
                StemRow {
                    path: format!("{}/stems/{stem_id}.{}", project.storage_path, s.format.extension()),
                    stem_id,
                    version_id: Some(version_id.clone()),
                    instrument: s.instrument.clone(),
                    source: "generated".into(),
                    format: s.format.extension().into(),
                    size_bytes: s.bytes.len() as u64,
                    duration: s.duration_secs,
                    created_at: created_at.clone(),
                }
            })
            .collect();
        let mut files: Vec<(String, Vec<u8>)> = stems.iter().zip(music.stems).map(|(row, s)| (row.path.clone(), s.bytes)).collect();
        files.push((mix_path.clone(), music.mix_mp3));
        files.push((version_preview.clone(), music.preview_mp3.clone()));
        files.push((preview_path.clone(), music.preview_mp3));
        if let (Some(path), Some(midi)) = (&midi_path, music.midi) {
            files.push((path.clone(), midi));
        }
        let mut written = Vec::new();
        for (path, bytes) in files {
            let blob = BlobPath::parse(&path)?;
            if let Err(e) = self.storage.blobs().put_bytes(BUCKET, &blob, bytes).await {
                self.remove_files(&written).await;
                if let Some(r) = reservation {
                    r.release().await;
                }
                return Err(e.into());
            }
            written.push(blob);
        }
        let hold = reservation.as_ref().map(|r| r.hold());
        let (project_id, vid, stem_rows) = (project.project_id.clone(), version_id.clone(), stems.clone());
        let (mix, vprev, midi, prompt_text, provider_name, duration) =
            (mix_path.clone(), version_preview.clone(), midi_path.clone(), prompt.map(str::to_owned), provider.to_owned(), music.duration_secs);
        let own_generation = reservation.is_some();
        let stored = self
            .db
            .write(move |tx| {
                ensure_changeable(tx, &project_id, own_generation)?;
                repo::insert_version(
                    tx,
                    &NewVersion {
                        version_id: &vid,
                        project_id: &project_id,
                        mix_path: &mix,
                        preview_path: &vprev,
                        midi_path: midi.as_deref(),
                        prompt: prompt_text.as_deref(),
                        provider: &provider_name,
                        duration,
                    },
                )?;
                for stem in &stem_rows {
                    repo::insert_stem(tx, &project_id, stem)?;
                }
                repo::make_current(tx, &project_id, &vid, duration)?;
                if let Some(hold) = &hold {
                    hold.commit_in(tx)?;
                }
                Ok(())
            })
            .await;
        match stored {
            Ok(()) => {
                if let Some(r) = reservation {
                    r.committed();
                }
            }
            Err(e) => {
                self.remove_files(&written).await;
                if let Some(r) = reservation {
                    r.release().await;
                }
                return Err(e);
            }
        }
        self.sync_metadata(&project.project_id).await?;
        let stems: Vec<Stem> = stems.iter().map(|s| self.stem_view(s)).collect();
        Ok(Generated {
            status: ProjectStatus::Completed,
            project_id: project.project_id.clone(),
            version_id,
            stem_urls: stems.iter().map(|s| s.url.clone()).collect(),
            stems,
            mix_url: self.url(&mix_path),
            preview_url: self.url(&preview_path),
            midi_url: midi_path.as_deref().map(|p| self.url(p)),
            duration_seconds: music.duration_secs,
            model: music.model,
            bpm: music.bpm,
            key: music.key,
        })
    }

    async fn remove_files(&self, paths: &[BlobPath]) {
        for path in paths {
            if let Err(e) = self.storage.blobs().delete(BUCKET, path).await {
                tracing::warn!(%path, error = %e, "could not remove a file of a failed generation");
            }
        }
    }

    /// Stores a user's own stem after checking by content that it really is audio.
    pub async fn upload_stem(&self, caller: &Caller, project_id: &str, instrument: &str, bytes: Vec<u8>) -> AppResult<Stem> {
        let project = self.owned(caller, project_id).await?;
        let instrument = required("instrument", instrument.to_owned(), 50)?;
        if bytes.len() as u64 > self.config.max_stem_bytes {
            return Err(AppError::PayloadTooLarge { message: format!("the stem is {} bytes; the limit is {} bytes", bytes.len(), self.config.max_stem_bytes) });
        }
        let (info, bytes) = tokio::task::spawn_blocking(move || (audio::probe(&bytes), bytes)).await.map_err(AppError::internal)?;
        let info = info.map_err(|e| AppError::Unprocessable { code: "not_audio", message: format!("the file is not usable audio (WAV, MP3, FLAC or OGG): {e}"), details: None })?;
        if info.duration_secs > self.config.max_stem_secs {
            return Err(AppError::Unprocessable {
                code: "stem_too_long",
                message: format!("the stem is {:.0} s long; the limit is {:.0} s", info.duration_secs, self.config.max_stem_secs),
                details: None,
            });
        }
        let stem_id = uuid::Uuid::now_v7().to_string();
        let row = StemRow {
            path: format!("{}/stems/{stem_id}.{}", project.storage_path, info.format.extension()),
            stem_id,
            version_id: None,
            instrument,
            source: "upload".into(),
            format: info.format.extension().into(),
            size_bytes: bytes.len() as u64,
            duration: info.duration_secs,
            created_at: now_text(),
        };
        let blob = BlobPath::parse(&row.path)?;
        self.storage.blobs().put_bytes(BUCKET, &blob, bytes).await?;
        let (id, inserted) = (project.project_id.clone(), row.clone());
        if let Err(e) = self.db.write(move |tx| Ok(repo::insert_stem(tx, &id, &inserted)?)).await {
            self.remove_files(&[blob]).await;
            return Err(e);
        }
        self.sync_metadata(project_id).await?;
        Ok(self.stem_view(&row))
    }

    pub async fn stems(&self, caller: &Caller, project_id: &str) -> AppResult<Vec<Stem>> {
        self.owned(caller, project_id).await?;
        let id = project_id.to_owned();
        Ok(self.db.read(move |c| repo::stems(c, &id)).await?.iter().map(|s| self.stem_view(s)).collect())
    }

    fn version_view(&self, v: &VersionRow, current: Option<&str>) -> Version {
        Version {
            version_id: v.version_id.clone(),
            mix_url: self.url(&v.mix_path),
            preview_url: self.url(&v.preview_path),
            midi_url: v.midi_path.as_deref().map(|p| self.url(p)),
            duration_seconds: v.duration,
            prompt: v.prompt.clone(),
            provider: v.provider.clone(),
            current: current == Some(v.version_id.as_str()),
            created_at: v.created_at.clone(),
        }
    }

    pub async fn versions(&self, caller: &Caller, project_id: &str) -> AppResult<Versions> {
        let project = self.owned(caller, project_id).await?;
        let id = project_id.to_owned();
        let rows = self.db.read(move |c| repo::versions(c, &id)).await?;
        let current = project.current_version_id.as_deref();
        Ok(Versions { project_id: project_id.to_owned(), versions: rows.iter().map(|v| self.version_view(v, current)).collect() })
    }

    /// Makes an earlier mix current again (its preview becomes the project's preview).
    pub async fn select_version(&self, caller: &Caller, project_id: &str, version_id: &str) -> AppResult<Project> {
        self.owned(caller, project_id).await?;
        let id = project_id.to_owned();
        let project = self.db.read(move |c| Ok(ensure_changeable(c, &id, false))).await??;
        let id = project_id.to_owned();
        let version = self
            .db
            .read(move |c| repo::versions(c, &id))
            .await?
            .into_iter()
            .find(|v| v.version_id == version_id)
            .ok_or_else(|| AppError::NotFound { code: "version_not_found", message: format!("no version `{version_id}` in this project") })?;
        let (_, stream) = self.storage.blobs().get(BUCKET, &BlobPath::parse(&version.preview_path)?, None).await?;
        let preview = self.path(&project, &format!("preview/{}_preview.mp3", project.project_id))?;
        self.storage.blobs().put(BUCKET, &preview, Box::pin(tokio_util::io::StreamReader::new(stream)), u64::MAX, Durability::Synced).await?;
        let (id, vid, duration) = (project.project_id.clone(), version.version_id.clone(), version.duration);
        self.db
            .write(move |tx| {
                ensure_changeable(tx, &id, false)?;
                Ok(repo::make_current(tx, &id, &vid, duration)?)
            })
            .await?;
        self.sync_metadata(project_id).await?;
        self.get(caller, project_id).await
    }

    /// Mixes stems (by default the current version's and every uploaded one) into a new version.
    pub async fn remix(&self, caller: &Caller, project_id: &str, r: MixRequest) -> AppResult<Generated> {
        self.owned(caller, project_id).await?;
        let id = project_id.to_owned();
        let project = self.db.read(move |c| Ok(ensure_changeable(c, &id, false))).await??;
        let id = project_id.to_owned();
        let all = self.db.read(move |c| repo::stems(c, &id)).await?;
        let chosen: Vec<(StemRow, f32, f32)> = match r.stems {
            Some(list) if list.is_empty() => return Err(AppError::invalid_field("stems", "must name at least one stem")),
            Some(list) if list.len() > 32 => return Err(AppError::invalid_field("stems", "at most 32 stems")),
            Some(list) => list
                .into_iter()
                .map(|m| {
                    let gain = m.gain.unwrap_or(1.0);
                    let pan = m.pan.unwrap_or(0.0);
                    if !(0.0..=2.0).contains(&gain) || !(-1.0..=1.0).contains(&pan) {
                        return Err(AppError::invalid_field("stems", "gain must be 0 to 2 and pan -1 to 1"));
                    }
                    let stem = all.iter().find(|s| s.stem_id == m.stem_id).cloned().ok_or_else(|| {
                        AppError::NotFound { code: "stem_not_found", message: format!("no stem `{}` in this project", m.stem_id) }
                    })?;
                    Ok((stem, gain, pan))
                })
                .collect::<AppResult<_>>()?,
            None => all
                .iter()
                .filter(|s| s.source == "upload" || s.version_id == project.current_version_id)
                .map(|s| (s.clone(), 1.0, 0.0))
                .collect(),
        };
        if chosen.is_empty() {
            return Err(AppError::Conflict { code: "no_stems", message: "the project has no stems to mix: generate or upload some first".into() });
        }
        let mut decoded = Vec::with_capacity(chosen.len());
        for (stem, gain, pan) in chosen {
            let bytes = self.storage.blobs().get_bytes(BUCKET, &BlobPath::parse(&stem.path)?).await?;
            decoded.push((bytes, gain, pan));
        }
        let priority = Priority::of(self.subscriptions.tier_of(&project.user_id).await?);
        // Inside `async`: spawn_blocking starts its work when called, and it must wait its turn.
        let mix = async move {
            tokio::task::spawn_blocking(move || {
                let pcm: Vec<(Vec<f32>, f32, f32)> = decoded
                    .into_iter()
                    .map(|(bytes, gain, pan)| audio::decode_mono(&bytes).map(|s| (s, gain, pan)))
                    .collect::<Result<_, _>>()?;
                let tracks: Vec<MixTrack> = pcm.iter().map(|(samples, gain, pan)| MixTrack { samples, gain: *gain, pan: *pan }).collect();
                mix_and_encode(&tracks)
            })
            .await
        };
        let mixed = self
            .work
            .run("mix", priority, mix)
            .await?
            .map_err(AppError::internal)?
            .map_err(|e| AppError::Unprocessable { code: "mix_failed", message: format!("the stems could not be mixed: {e}"), details: None })?;
        let music = GeneratedMusic {
            stems: Vec::new(),
            midi: None,
            mix_mp3: mixed.mix_mp3,
            preview_mp3: mixed.preview_mp3,
            duration_secs: mixed.duration_secs,
            model: "optima-mixer".into(),
            bpm: project.bpm,
            key: project.key.clone(),
        };
        self.store_generation(&project, music, None, "remix", None).await
    }

    pub async fn share(&self, caller: &Caller, project_id: &str, r: ShareRequest) -> AppResult<Shared> {
        if let Some(user_id) = &r.user_id {
            caller.ensure_acts_for(user_id)?;
        }
        let project = self.owned(caller, project_id).await?;
        if r.user_id.as_ref().is_some_and(|user_id| *user_id != project.user_id) {
            return Err(not_found(project_id));
        }
        let mut platforms: Vec<String> = r.platforms.unwrap_or_default();
        platforms.extend(r.platform);
        let platforms = share::parse_platforms(&platforms)?;
        let caption = trimmed("caption", r.caption, 500)?;
        match ProjectStatus::parse(&project.status) {
            Some(ProjectStatus::Completed | ProjectStatus::Published) => {}
            _ => {
                return Err(AppError::Conflict {
                    code: "not_shareable",
                    message: format!("only completed or published projects can be shared; this one is {}", project.status),
                });
            }
        }
        let public_url = self.storage.public_url().to_owned();
        let (id, title, caption_row) = (project.project_id.clone(), project.title.clone(), caption.clone());
        let (page, counts) = self
            .db
            .write(move |tx| {
                let slug = repo::publish(tx, &id, &share::new_slug())?;
                let page = share::page_url(&public_url, &slug);
                let counts = platforms
                    .iter()
                    .map(|p| repo::record_share(tx, &id, p.as_str(), &page, caption_row.as_deref()).map(|n| (*p, n)))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok((page, counts))
            })
            .await?;
        self.sync_metadata(project_id).await?;
        let text = caption.unwrap_or(title);
        Ok(Shared {
            project_id: project_id.to_owned(),
            status: ProjectStatus::Published,
            shares: counts
                .into_iter()
                .map(|(platform, count)| {
                    let (external_url, note) = share::intent(platform, &page, &text);
                    ShareEntry { platform: platform.as_str().into(), share_url: page.clone(), external_url, share_count: count, note }
                })
                .collect(),
            share_url: page,
        })
    }

    /// The published project behind a share page.
    pub async fn shared_project(&self, slug: &str) -> AppResult<ProjectRow> {
        let s = slug.to_owned();
        match self.db.read(move |c| repo::project_by_slug(c, &s)).await? {
            Some(p) if p.status == ProjectStatus::Published.as_str() && p.visibility == "public" && p.current_version_id.is_some() => Ok(p),
            _ => Err(AppError::NotFound { code: "share_not_found", message: "this track is not shared (any more)".into() }),
        }
    }

    pub fn preview_path(&self, p: &ProjectRow) -> AppResult<BlobPath> {
        self.path(p, &format!("preview/{}_preview.mp3", p.project_id))
    }

    pub async fn count_play(&self, project_id: &str) -> AppResult<()> {
        let id = project_id.to_owned();
        self.db.write(move |tx| Ok(repo::add_play(tx, &id)?)).await
    }

    pub fn share_html(&self, p: &ProjectRow) -> String {
        share::page_html(self.storage.public_url(), p)
    }
}
