use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};

use super::analysis::{self, TextAnalysis};
use super::diff::{self, DiffGranularity, TextDiff};
use super::export::{self, Format, Manuscript};
use super::model::*;
use super::repo::{self, MemberRow, ProjectRow, SessionRow, VersionRow};
use crate::ai::text::{CallerFacts, TextProvider, TextRequest};
use crate::auth::Caller;
use crate::config::WritersConfig;
use crate::db::{Db, now_text};
use crate::error::{AppError, AppResult};
use crate::features::accounts::AccountsService;
use crate::features::fields::{at_most, required, trimmed};
use crate::features::page::Page;
use crate::features::storage::StorageService;
use crate::features::subscription::SubscriptionService;
use crate::features::subscription::plan::{AiWritingLevel, Feature, Tier};
use crate::features::subscription::quota::{AI_WRITING_WORDS, Counted};
use crate::storage::{BlobPath, Bucket};

const BUCKET: Bucket = Bucket::Writing;

pub struct WritersService {
    db: Db,
    storage: Arc<StorageService>,
    subscriptions: Arc<SubscriptionService>,
    accounts: Arc<AccountsService>,
    text: Arc<dyn TextProvider>,
    config: WritersConfig,
}

fn project_not_found(id: &str) -> AppError {
    AppError::NotFound { code: "project_not_found", message: format!("no writing project `{id}`") }
}

fn specialties(list: Vec<String>) -> AppResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for s in list {
        let s = s.trim().to_owned();
        if s.is_empty() || s.chars().count() > 50 {
            return Err(AppError::invalid_field("specialties", "each must be 1 to 50 characters"));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if out.len() > 20 {
        return Err(AppError::invalid_field("specialties", "at most 20"));
    }
    Ok(out)
}

/// Consecutive UTC days with a session, ending today or yesterday. `days` are `YYYY-MM-DD`, newest first.
fn streak(days: &[String], today: NaiveDate) -> u64 {
    let mut expected = today;
    let mut count = 0;
    for (i, day) in days.iter().filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()).enumerate() {
        if i == 0 && day == today - Duration::days(1) {
            expected = day;
        }
        if day != expected {
            break;
        }
        count += 1;
        expected = day - Duration::days(1);
    }
    count
}


fn view(p: &ProjectRow) -> Project {
    Project {
        project_id: p.project_id.clone(),
        user_id: p.user_id.clone(),
        title: p.title.clone(),
        genre: p.genre.clone(),
        content_type: ContentType::parse(&p.content_type).unwrap_or(ContentType::Other),
        description: p.description.clone(),
        word_count: p.word_count,
        mature_content: p.mature_content,
        status: WritingStatus::parse(&p.status).unwrap_or(WritingStatus::Active),
        current_version_id: p.current_version_id.clone(),
        created_at: p.created_at.clone(),
        updated_at: p.updated_at.clone(),
    }
}

fn version_view(v: &VersionRow, current: Option<&str>) -> Version {
    Version {
        version_id: v.version_id.clone(),
        author_id: v.author_id.clone(),
        word_count: v.word_count,
        size_bytes: v.size_bytes,
        sha256: v.sha256.clone(),
        restored_from: v.restored_from.clone(),
        current: current == Some(v.version_id.as_str()),
        created_at: v.created_at.clone(),
    }
}

fn session_view(s: &SessionRow, capabilities: Capabilities) -> Session {
    Session {
        session_id: s.session_id.clone(),
        project_id: s.project_id.clone(),
        user_id: s.user_id.clone(),
        chapter_number: s.chapter_number,
        started_at: s.started_at.clone(),
        ended_at: s.ended_at.clone(),
        words_written: s.words_written,
        duration_seconds: s.duration_seconds,
        capabilities,
    }
}

fn mode_instruction(mode: AssistMode) -> &'static str {
    match mode {
        AssistMode::Continue => "Continue the manuscript from where it stops, in the author's voice, for a few paragraphs.",
        AssistMode::Rewrite => "Rewrite the selected passage to read better, keeping its meaning and the author's voice.",
        AssistMode::Critique => "Critique the passage as an experienced editor: what works, what does not, and concrete fixes.",
        AssistMode::Brainstorm => "Brainstorm ideas the author could use next: plot turns, scenes, character beats.",
        AssistMode::Dialogue => "Write or improve dialogue for the scene, with distinct voices for each character.",
        AssistMode::Summarize => "Summarize the passage briefly and faithfully.",
        AssistMode::Custom => "Help the author with their request.",
    }
}

impl WritersService {
    pub fn new(
        db: Db,
        storage: Arc<StorageService>,
        subscriptions: Arc<SubscriptionService>,
        accounts: Arc<AccountsService>,
        text: Arc<dyn TextProvider>,
        config: WritersConfig,
    ) -> Self {
        Self { db, storage, subscriptions, accounts, text, config }
    }

    fn path(&self, p: &ProjectRow, rest: &str) -> AppResult<BlobPath> {
        BlobPath::parse(&format!("{}/{rest}", p.storage_path))
    }

    // ---- members -----------------------------------------------------------------------------

    async fn member_view(&self, m: MemberRow) -> AppResult<Member> {
        let user = m.user_id.clone();
        let (projects, sessions, days) = self.db.read(move |c| repo::member_stats(c, &user)).await?;
        Ok(Member {
            member_id: m.member_id,
            user_id: m.user_id,
            pen_name: m.pen_name,
            bio: m.bio,
            specialties: m.specialties,
            tier: GuildTier::parse(&m.tier).unwrap_or(GuildTier::Novice),
            total_words_written: m.total_words_written,
            total_projects: projects,
            sessions,
            streak_days: streak(&days, Utc::now().date_naive()),
            member_since: m.joined_at,
            updated_at: m.updated_at,
        })
    }

    async fn member_row(&self, user_id: &str) -> AppResult<MemberRow> {
        let user = user_id.to_owned();
        self.db
            .read(move |c| repo::member(c, &user))
            .await?
            .ok_or_else(|| AppError::NotFound { code: "member_not_found", message: format!("`{user_id}` is not a member of the Writers Guild") })
    }

    pub async fn register_member(&self, caller: &Caller, r: RegisterMember) -> AppResult<Member> {
        caller.ensure_acts_for(&r.user_id)?;
        self.subscriptions.require(&r.user_id, Feature::WritersGuild).await?;
        let pen_name = required("penName", r.pen_name, 100)?;
        let now = now_text();
        let row = MemberRow {
            member_id: uuid::Uuid::now_v7().to_string(),
            user_id: r.user_id.clone(),
            pen_name,
            bio: trimmed("bio", r.bio, 2000)?,
            specialties: specialties(r.specialties.unwrap_or_default())?,
            tier: GuildTier::Novice.as_str().into(),
            total_words_written: 0,
            joined_at: now.clone(),
            updated_at: now,
        };
        let inserted = row.clone();
        if !self.db.write(move |tx| Ok(repo::insert_member(tx, &inserted)?)).await? {
            return Err(AppError::Conflict { code: "already_member", message: format!("`{}` is already a member", r.user_id) });
        }
        self.member_view(row).await
    }

    pub async fn member(&self, caller: &Caller, user_id: &str) -> AppResult<Member> {
        caller.ensure_acts_for(user_id)?;
        let row = self.member_row(user_id).await?;
        self.member_view(row).await
    }

    /// The member, enrolled as a novice on the first visit when the tier includes the guild
    /// (the app has no screen to join: its guild screen asks for the member). The pen name is
    /// the account's name (an address's local part), or the user id without an account; the
    /// member changes it later. A tier without the guild is 403 `upgrade_required`.
    pub async fn member_enrolling(&self, caller: &Caller, user_id: &str) -> AppResult<Member> {
        caller.ensure_acts_for(user_id)?;
        let user = user_id.to_owned();
        if let Some(row) = self.db.read(move |c| repo::member(c, &user)).await? {
            return self.member_view(row).await;
        }
        self.subscriptions.require(user_id, Feature::WritersGuild).await?;
        let name = self.accounts.name_of(user_id).await?.unwrap_or_else(|| user_id.to_owned());
        let name = name.split_once('@').map_or(name.as_str(), |(local, _)| local).trim();
        let pen_name: String = if name.is_empty() { user_id } else { name }.chars().take(100).collect();
        let now = now_text();
        let row = MemberRow {
            member_id: uuid::Uuid::now_v7().to_string(),
            user_id: user_id.to_owned(),
            pen_name,
            bio: None,
            specialties: Vec::new(),
            tier: GuildTier::Novice.as_str().into(),
            total_words_written: 0,
            joined_at: now.clone(),
            updated_at: now,
        };
        // A concurrent first visit may have enrolled the member already: either row will do.
        self.db.write(move |tx| Ok(repo::insert_member(tx, &row)?)).await?;
        self.member(caller, user_id).await
    }

    pub async fn update_member(&self, caller: &Caller, user_id: &str, u: UpdateMember) -> AppResult<Member> {
        caller.ensure_acts_for(user_id)?;
        self.subscriptions.require(user_id, Feature::WritersGuild).await?;
        let mut m = self.member_row(user_id).await?;
        if let Some(pen) = u.pen_name {
            m.pen_name = required("penName", pen, 100)?;
        }
        if u.bio.is_some() {
            m.bio = trimmed("bio", u.bio, 2000)?;
        }
        if let Some(list) = u.specialties {
            m.specialties = specialties(list)?;
        }
        let saved = m.clone();
        self.db.write(move |tx| Ok(repo::save_member(tx, &saved)?)).await?;
        self.member(caller, user_id).await
    }

    /// Moves a member to `tier`: up when eligible (words written, or the subscription), down at will;
    /// admins and services set any tier.
    pub async fn upgrade_member(&self, caller: &Caller, user_id: &str, tier: &str) -> AppResult<Member> {
        caller.ensure_acts_for(user_id)?;
        let target = GuildTier::parse(tier)
            .ok_or_else(|| AppError::invalid_field("tier", format!("unknown tier `{tier}`: use novice, wordsmith or master")))?;
        let subscription = self.subscriptions.require(user_id, Feature::WritersGuild).await?;
        let mut m = self.member_row(user_id).await?;
        let current = GuildTier::parse(&m.tier).unwrap_or(GuildTier::Novice);
        if target == current {
            return Err(AppError::Conflict { code: "already_on_tier", message: format!("the member is already a {}", target.as_str()) });
        }
        if target > current && !caller.is_privileged() {
            let (words_needed, tier_needed) = match target {
                GuildTier::Wordsmith => (self.config.wordsmith_words, Tier::Premium),
                _ => (self.config.master_words, Tier::Unlimited),
            };
            if m.total_words_written < words_needed && subscription < tier_needed {
                return Err(AppError::Forbidden {
                    code: "not_eligible",
                    message: format!(
                        "{} needs {words_needed} words written (you have {}) or a {} subscription (you have {})",
                        target.as_str(),
                        m.total_words_written,
                        tier_needed.as_str(),
                        subscription.as_str()
                    ),
                    details: Some(serde_json::json!({
                        "wordsNeeded": words_needed, "wordsWritten": m.total_words_written,
                        "subscriptionNeeded": tier_needed.as_str(), "subscription": subscription.as_str(),
                    })),
                });
            }
        }
        m.tier = target.as_str().into();
        let saved = m.clone();
        self.db.write(move |tx| Ok(repo::save_member(tx, &saved)?)).await?;
        self.member(caller, user_id).await
    }

    // ---- projects ----------------------------------------------------------------------------

    pub async fn owned(&self, caller: &Caller, project_id: &str) -> AppResult<ProjectRow> {
        let id = project_id.to_owned();
        match self.db.read(move |c| repo::project(c, &id)).await? {
            Some(p) if p.user_id == caller.user_id || caller.is_privileged() => Ok(p),
            _ => Err(project_not_found(project_id)),
        }
    }

    async fn sync_metadata(&self, p: &ProjectRow) -> AppResult<()> {
        let doc = serde_json::json!({ "project": p, "writtenAt": now_text() });
        let bytes = serde_json::to_vec_pretty(&doc).map_err(AppError::internal)?;
        self.storage.blobs().put_mirror(BUCKET, &self.path(p, "metadata.json")?, bytes).await?;
        Ok(())
    }

    async fn reload(&self, project_id: &str) -> AppResult<ProjectRow> {
        let id = project_id.to_owned();
        self.db.read(move |c| repo::project(c, &id)).await?.ok_or_else(|| project_not_found(project_id))
    }

    pub async fn create_project(&self, caller: &Caller, r: CreateProject) -> AppResult<Project> {
        caller.ensure_acts_for(&r.user_id)?;
        let project_id = uuid::Uuid::now_v7().to_string();
        let now = now_text();
        let row = ProjectRow {
            storage_path: format!("users/{}/projects/{project_id}", r.user_id),
            project_id,
            user_id: r.user_id,
            title: required("title", r.title, 500)?,
            genre: trimmed("genre", r.genre, 100)?,
            content_type: r.content_type.as_str().into(),
            description: trimmed("description", r.description, 5000)?,
            word_count: 0,
            mature_content: r.mature_content.unwrap_or(false),
            status: WritingStatus::Active.as_str().into(),
            current_version_id: None,
            created_at: now.clone(),
            updated_at: now,
        };
        BlobPath::parse(&format!("{}/metadata.json", row.storage_path))
            .map_err(|_| AppError::invalid_field("userId", "cannot be used in a storage path"))?;
        let (subscriptions, inserted) = (self.subscriptions.clone(), row.clone());
        self.db
            .write(move |tx| {
                subscriptions.admit_count(tx, &inserted.user_id, Counted::WritingProjects, || repo::count_active(tx, &inserted.user_id))?;
                Ok(repo::insert_project(tx, &inserted)?)
            })
            .await?;
        self.sync_metadata(&row).await?;
        Ok(view(&row))
    }

    pub async fn get_project(&self, caller: &Caller, project_id: &str) -> AppResult<Project> {
        Ok(view(&self.owned(caller, project_id).await?))
    }

    pub async fn list(&self, caller: &Caller, user_id: &str, status: Option<WritingStatus>, limit: u32, offset: u32) -> AppResult<ProjectList> {
        caller.ensure_acts_for(user_id)?;
        let page = Page::new(limit, offset)?;
        let user = user_id.to_owned();
        let (rows, total) = self.db.read(move |c| repo::list(c, &user, status, page)).await?;
        Ok(ProjectList { user_id: user_id.to_owned(), has_more: page.has_more(rows.len(), total), projects: rows.iter().map(view).collect(), total })
    }

    pub async fn update_project(&self, caller: &Caller, project_id: &str, u: UpdateProject) -> AppResult<Saved> {
        let mut p = self.owned(caller, project_id).await?;
        let content = u.content;
        let base = u.base_version_id;
        if let Some(title) = u.title {
            p.title = required("title", title, 500)?;
        }
        if u.genre.is_some() {
            p.genre = trimmed("genre", u.genre, 100)?;
        }
        if let Some(ct) = u.content_type {
            p.content_type = ct.as_str().into();
        }
        if u.description.is_some() {
            p.description = trimmed("description", u.description, 5000)?;
        }
        if let Some(mature) = u.mature_content {
            p.mature_content = mature;
        }
        let restoring = match u.status {
            Some(s) => {
                let restoring = s != WritingStatus::Archived && p.status == WritingStatus::Archived.as_str();
                p.status = s.as_str().into();
                restoring
            }
            None => false,
        };
        let (subscriptions, saved) = (self.subscriptions.clone(), p.clone());
        self.db
            .write(move |tx| {
                if restoring {
                    subscriptions.admit_count(tx, &saved.user_id, Counted::WritingProjects, || repo::count_active(tx, &saved.user_id))?;
                }
                Ok(repo::save_fields(tx, &saved)?)
            })
            .await?;
        let (version_id, new_version) = match content {
            Some(text) => self.save_manuscript(caller, &p, text, base.as_deref(), None).await?,
            None => (p.current_version_id.clone(), false),
        };
        let p = self.reload(project_id).await?;
        self.sync_metadata(&p).await?;
        Ok(Saved { project: view(&p), version_id, new_version })
    }

    /// Saves the manuscript: a new version only when the text changed. The version file is
    /// written first, then the rows (checking `base` against the current version in the same
    /// transaction), then `manuscript.txt`, which mirrors the current version.
    async fn save_manuscript(
        &self,
        caller: &Caller,
        p: &ProjectRow,
        text: String,
        base: Option<&str>,
        restored_from: Option<String>,
    ) -> AppResult<(Option<String>, bool)> {
        if p.status == WritingStatus::Archived.as_str() {
            return Err(AppError::Conflict { code: "project_archived", message: "the project is archived: restore it before writing".into() });
        }
        if text.len() as u64 > self.config.max_manuscript_bytes {
            return Err(AppError::PayloadTooLarge {
                message: format!("the manuscript is {} bytes; the limit is {} bytes", text.len(), self.config.max_manuscript_bytes),
            });
        }
        let conflict = |current: Option<String>| AppError::Conflict {
            code: "version_conflict",
            message: format!(
                "the manuscript was saved by someone else since version `{}`; the current version is `{}`",
                base.unwrap_or_default(),
                current.clone().unwrap_or_default()
            ),
        };
        if let Some(b) = base
            && p.current_version_id.as_deref() != Some(b)
        {
            return Err(conflict(p.current_version_id.clone()));
        }
        let sha = crate::crypto::sha256_hex(text.as_bytes());
        if let Some(current) = &p.current_version_id {
            let (id, vid) = (p.project_id.clone(), current.clone());
            if let Some(v) = self.db.read(move |c| repo::version(c, &id, &vid)).await?
                && v.sha256 == sha
                && restored_from.is_none()
            {
                return Ok((Some(v.version_id), false));
            }
        }
        let version = VersionRow {
            version_id: uuid::Uuid::now_v7().to_string(),
            author_id: caller.user_id.clone(),
            word_count: analysis::count_words(&text),
            size_bytes: text.len() as u64,
            sha256: sha,
            restored_from,
            created_at: now_text(),
        };
        let version_path = self.path(p, &format!("versions/{}.txt", version.version_id))?;
        self.storage.blobs().put_bytes(BUCKET, &version_path, text.clone().into_bytes()).await?;
        let (id, expected, row) = (p.project_id.clone(), p.current_version_id.clone(), version.clone());
        let stored = self
            .db
            .write(move |tx| {
                let now = repo::project(tx, &id)?.ok_or_else(|| project_not_found(&id))?;
                if now.current_version_id != expected {
                    return Err(AppError::Conflict {
                        code: "version_conflict",
                        message: format!("another save landed first; the current version is `{}`", now.current_version_id.unwrap_or_default()),
                    });
                }
                Ok(repo::insert_version(tx, &id, &row)?)
            })
            .await;
        if let Err(e) = stored {
            let _ = self.storage.blobs().delete(BUCKET, &version_path).await;
            return Err(e);
        }
        self.storage.blobs().put_bytes(BUCKET, &self.path(p, "manuscript.txt")?, text.into_bytes()).await?;
        Ok((Some(version.version_id), true))
    }

    /// The text of a version (the current one when `version_id` is `None`).
    async fn text_of(&self, p: &ProjectRow, version_id: Option<&str>) -> AppResult<String> {
        let Some(vid) = version_id.or(p.current_version_id.as_deref()) else { return Ok(String::new()) };
        let path = self.path(p, &format!("versions/{vid}.txt"))?;
        let bytes = self.storage.blobs().get_bytes(BUCKET, &path).await?;
        String::from_utf8(bytes).map_err(|_| AppError::internal(format!("version {vid} is not UTF-8")))
    }

    async fn version_row(&self, p: &ProjectRow, version_id: &str) -> AppResult<VersionRow> {
        let (id, vid) = (p.project_id.clone(), version_id.to_owned());
        self.db
            .read(move |c| repo::version(c, &id, &vid))
            .await?
            .ok_or_else(|| AppError::NotFound { code: "version_not_found", message: format!("no version `{version_id}` in this project") })
    }

    pub async fn content(&self, caller: &Caller, project_id: &str) -> AppResult<String> {
        let p = self.owned(caller, project_id).await?;
        self.text_of(&p, None).await
    }

    pub async fn versions(&self, caller: &Caller, project_id: &str) -> AppResult<Vec<Version>> {
        let p = self.owned(caller, project_id).await?;
        let id = p.project_id.clone();
        let rows = self.db.read(move |c| repo::versions(c, &id)).await?;
        Ok(rows.iter().map(|v| version_view(v, p.current_version_id.as_deref())).collect())
    }

    pub async fn version(&self, caller: &Caller, project_id: &str, version_id: &str) -> AppResult<VersionText> {
        let p = self.owned(caller, project_id).await?;
        let v = self.version_row(&p, version_id).await?;
        let content = self.text_of(&p, Some(version_id)).await?;
        Ok(VersionText { version: version_view(&v, p.current_version_id.as_deref()), content })
    }

    pub async fn diff(&self, caller: &Caller, project_id: &str, from: &str, to: &str, granularity: DiffGranularity) -> AppResult<TextDiff> {
        let p = self.owned(caller, project_id).await?;
        self.version_row(&p, from).await?;
        self.version_row(&p, to).await?;
        let (old, new) = (self.text_of(&p, Some(from)).await?, self.text_of(&p, Some(to)).await?);
        tokio::task::spawn_blocking(move || diff::diff(&old, &new, granularity)).await.map_err(AppError::internal)
    }

    /// Restores an earlier version as a new one: history is never rewritten.
    pub async fn restore(&self, caller: &Caller, project_id: &str, version_id: &str) -> AppResult<Saved> {
        let p = self.owned(caller, project_id).await?;
        self.version_row(&p, version_id).await?;
        let text = self.text_of(&p, Some(version_id)).await?;
        let (vid, new_version) = self.save_manuscript(caller, &p, text, None, Some(version_id.to_owned())).await?;
        let p = self.reload(project_id).await?;
        self.sync_metadata(&p).await?;
        Ok(Saved { project: view(&p), version_id: vid, new_version })
    }

    pub async fn notes(&self, caller: &Caller, project_id: &str) -> AppResult<serde_json::Value> {
        let p = self.owned(caller, project_id).await?;
        match self.storage.blobs().get(BUCKET, &self.path(&p, "notes.json")?, None).await {
            Ok((_, stream)) => {
                let bytes: Vec<u8> = futures_util::TryStreamExt::try_concat(futures_util::TryStreamExt::map_ok(stream, |b| b.to_vec()))
                    .await
                    .map_err(AppError::internal)?;
                serde_json::from_slice(&bytes).map_err(|e| AppError::internal(format!("notes.json: {e}")))
            }
            Err(crate::storage::StoreError::NotFound) => Ok(serde_json::json!({})),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn put_notes(&self, caller: &Caller, project_id: &str, notes: serde_json::Value) -> AppResult<serde_json::Value> {
        let p = self.owned(caller, project_id).await?;
        if !(notes.is_object() || notes.is_array()) {
            return Err(AppError::bad_request("invalid_notes", "notes must be a JSON object or array"));
        }
        let bytes = serde_json::to_vec(&notes).map_err(AppError::internal)?;
        if bytes.len() as u64 > self.config.max_notes_bytes {
            return Err(AppError::PayloadTooLarge { message: format!("the notes are {} bytes; the limit is {} bytes", bytes.len(), self.config.max_notes_bytes) });
        }
        self.storage.blobs().put_bytes(BUCKET, &self.path(&p, "notes.json")?, bytes).await?;
        Ok(notes)
    }

    /// The manuscript as a file: bytes, content type and download name.
    pub async fn export(&self, caller: &Caller, project_id: &str, format: &str) -> AppResult<(Vec<u8>, &'static str, String)> {
        let format = Format::parse(format)
            .ok_or_else(|| AppError::invalid_field("format", format!("unknown format `{format}`: use pdf, docx, epub, md, html or txt")))?;
        let p = self.owned(caller, project_id).await?;
        let text = self.text_of(&p, None).await?;
        let user = p.user_id.clone();
        let author = self.db.read(move |c| repo::member(c, &user)).await?.map(|m| m.pen_name).unwrap_or_else(|| p.user_id.clone());
        let (title, description) = (p.title.clone(), p.description.clone());
        let bytes = tokio::task::spawn_blocking(move || {
            export::export(&Manuscript { title: &title, author: &author, description: description.as_deref(), text: &text }, format)
        })
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
        Ok((bytes, format.content_type(), export::file_name(&p.title, format)))
    }

    // ---- sessions ----------------------------------------------------------------------------

    async fn capabilities(&self, user_id: &str, mature: bool) -> AppResult<Capabilities> {
        let facts = self.subscriptions.facts(self.subscriptions.tier_of(user_id).await?);
        let level = match facts.ai_writing_level {
            AiWritingLevel::None => "none",
            AiWritingLevel::Standard => "standard",
            AiWritingLevel::Advanced => "advanced",
        };
        let rating = match (mature, facts.unrestricted_content) {
            (true, true) => ContentRating::Unrestricted,
            (true, false) => ContentRating::Mature,
            _ => ContentRating::General,
        };
        Ok(Capabilities {
            tier: facts.tier.as_str().into(),
            ai_writing_level: level.into(),
            unrestricted_ai: facts.unrestricted_content,
            unlimited_chat: facts.unlimited_chat,
            content_rating: rating.as_str().into(),
        })
    }

    /// Starts a session; one open session per user and project, so an open one is ended first.
    pub async fn start_session(&self, caller: &Caller, r: StartSession) -> AppResult<Session> {
        caller.ensure_acts_for(&r.user_id)?;
        let p = self.owned(caller, &r.project_id).await?;
        if p.user_id != r.user_id {
            return Err(project_not_found(&r.project_id));
        }
        let session = SessionRow {
            session_id: uuid::Uuid::now_v7().to_string(),
            project_id: p.project_id.clone(),
            user_id: r.user_id.clone(),
            chapter_number: r.chapter_number,
            start_word_count: 0,
            words_written: 0,
            duration_seconds: None,
            started_at: now_text(),
            ended_at: None,
        };
        let inserted = session.clone();
        let started = self
            .db
            .write(move |tx| {
                for open in repo::open_sessions(tx, &inserted.user_id, &inserted.project_id)? {
                    repo::end_session(tx, &open, &inserted.started_at)?;
                }
                let words = repo::project(tx, &inserted.project_id)?.map_or(0, |p| p.word_count);
                let row = SessionRow { start_word_count: words, ..inserted };
                repo::insert_session(tx, &row)?;
                Ok(row)
            })
            .await?;
        Ok(session_view(&started, self.capabilities(&p.user_id, p.mature_content).await?))
    }

    pub async fn end_session(&self, caller: &Caller, session_id: &str) -> AppResult<Session> {
        let id = session_id.to_owned();
        let s = match self.db.read(move |c| repo::session(c, &id)).await? {
            Some(s) if s.user_id == caller.user_id || caller.is_privileged() => s,
            _ => return Err(AppError::NotFound { code: "session_not_found", message: format!("no writing session `{session_id}`") }),
        };
        if s.ended_at.is_some() {
            return Err(AppError::Conflict { code: "session_ended", message: "the session has ended already".into() });
        }
        let open = s.clone();
        let ended = self.db.write(move |tx| Ok(repo::end_session(tx, &open, &now_text())?)).await?;
        let mature = self.reload(&s.project_id).await.map(|p| p.mature_content).unwrap_or(false);
        Ok(session_view(&ended, self.capabilities(&s.user_id, mature).await?))
    }

    /// Ends sessions with no save for `writers.session_idle_minutes`, at their last activity.
    pub async fn close_idle_sessions(&self) -> AppResult<usize> {
        let cutoff = (Utc::now() - Duration::minutes(self.config.session_idle_minutes as i64)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.db
            .write(move |tx| {
                let idle = repo::idle_sessions(tx, &cutoff)?;
                for (session, last_activity) in &idle {
                    repo::end_session(tx, session, last_activity)?;
                }
                Ok(idle.len())
            })
            .await
    }

    // ---- AI assistance -----------------------------------------------------------------------

    pub async fn assist(&self, caller: &Caller, r: AssistRequest) -> AppResult<Assistance> {
        caller.ensure_acts_for(&r.user_id)?;
        let prompt = trimmed("prompt", r.prompt, MAX_ASSIST_REQUEST_CHARS)?;
        let request = trimmed("request", r.request, MAX_ASSIST_REQUEST_CHARS)?;
        at_most("context", r.context.as_deref(), MAX_ASSIST_TEXT_CHARS)?;
        at_most("selection", r.selection.as_deref(), MAX_ASSIST_TEXT_CHARS)?;
        let p = self.owned(caller, &r.project_id).await?;
        if p.user_id != r.user_id {
            return Err(project_not_found(&r.project_id));
        }
        let tier = self.subscriptions.require(&r.user_id, Feature::AiWriting).await?;
        let plan = self.subscriptions.plans().get(tier);
        // Absent: the most the project allows (the app's default is `mature`).
        let rating = r.content_rating.unwrap_or(if p.mature_content { ContentRating::Mature } else { ContentRating::General });
        if rating >= ContentRating::Mature && !p.mature_content {
            return Err(AppError::invalid_field("contentRating", "mature ratings are only for projects marked matureContent"));
        }
        if rating == ContentRating::Unrestricted && !plan.unrestricted_content {
            return Err(AppError::Forbidden {
                code: "upgrade_required",
                message: "unrestricted content needs the unlimited tier".into(),
                details: Some(serde_json::json!({ "feature": "unrestricted_content", "upgradeTo": "unlimited" })),
            });
        }
        let mode = r.mode.unwrap_or_default();
        let ask = prompt.or(request);
        if mode == AssistMode::Custom && ask.is_none() {
            return Err(AppError::invalid_field("prompt", "say what you need (prompt or request) for the custom mode"));
        }
        let context_chars = if plan.ai_writing_level == AiWritingLevel::Advanced { 16_000 } else { 4_000 };
        let manuscript = self.text_of(&p, None).await?;
        let excerpt: String = {
            let chars: Vec<char> = manuscript.chars().collect();
            chars[chars.len().saturating_sub(context_chars)..].iter().collect()
        };
        let subject = r.selection.clone().or(r.context.clone()).filter(|s| !s.trim().is_empty()).unwrap_or_else(|| excerpt.clone());
        let words = analysis::count_words(&subject) + ask.as_deref().map_or(0, analysis::count_words);

        let reservation = self.subscriptions.quotas().reserve(&r.user_id, Feature::AiWriting, 1).await?;
        let figures = {
            let subject = subject.clone();
            tokio::task::spawn_blocking(move || analysis::analyze(&subject)).await.map_err(AppError::internal)?
        };
        let mut message = format!("Task: {}\nContent rating: {}\n", mode_instruction(mode), rating.as_str());
        if let Some(a) = &ask {
            message += &format!("Request: {a}\n");
        }
        message += &format!("\nText:\n{subject}");
        let system = format!(
            "You are a writing assistant for the R3AL Writers Guild, working on a {} titled \"{}\". Keep to the {} content rating. Answer with the help itself.",
            p.content_type.replace('_', " "),
            p.title,
            rating.as_str()
        );
        let request = TextRequest {
            system,
            history: Vec::new(),
            message,
            temperature: 0.8,
            max_tokens: Some(if plan.ai_writing_level == AiWritingLevel::Advanced { 2_048 } else { 800 }),
            facts: CallerFacts::default(),
        };
        let (suggestion, model, prompt_tokens, completion_tokens) = if self.text.model() == crate::ai::text::LOCAL_MODEL {
            let text = local_suggestion(mode, &figures, &subject);
            (text.clone(), self.text.model().to_owned(), crate::ai::text::estimate_tokens(&subject), crate::ai::text::estimate_tokens(&text))
        } else {
            match self.text.complete(request).await {
                Ok(reply) => (reply.text, reply.model, reply.prompt_tokens, reply.completion_tokens),
                Err(e) => {
                    reservation.release().await;
                    return Err(e);
                }
            }
        };
        let hold = reservation.hold();
        let stored = self
            .db
            .write(move |tx| {
                hold.commit_in(tx)?;
                Ok(hold.add_to_counter_in(tx, AI_WRITING_WORDS, words)?)
            })
            .await;
        match stored {
            Ok(()) => reservation.committed(),
            Err(e) => {
                reservation.release().await;
                return Err(e);
            }
        }
        let remaining = self.subscriptions.tier_standing(&r.user_id, Feature::AiWriting).await?.remaining;
        Ok(Assistance {
            suggestion,
            kind: mode,
            model,
            content_rating: rating,
            analysis: Some(figures),
            usage: AssistUsage { prompt_tokens, completion_tokens, total_tokens: prompt_tokens.saturating_add(completion_tokens), remaining },
        })
    }
}

/// What the offline assistant can honestly do: analysis-driven advice and an extractive
/// summary. It says plainly that it does not write prose.
fn local_suggestion(mode: AssistMode, a: &TextAnalysis, text: &str) -> String {
    let advice = if a.suggestions.is_empty() {
        "The figures show nothing that needs attention.".to_owned()
    } else {
        a.suggestions.iter().map(|s| format!("- {s}")).collect::<Vec<_>>().join("\n")
    };
    let figures = format!(
        "{} words in {} sentences; reading ease {:.0} (grade {:.1}); {:.0}% dialogue.",
        a.words,
        a.sentences,
        a.flesch_reading_ease,
        a.flesch_kincaid_grade,
        a.dialogue_ratio * 100.0
    );
    match mode {
        AssistMode::Summarize => format!("Key sentences (extracted, offline):\n{}\n\n{figures}", extract_summary(text, 3)),
        AssistMode::Critique => format!("{figures}\n\n{advice}"),
        _ => format!(
            "No language model is configured on this server, so I can't write or rewrite prose (an operator can set \
             ai.text_provider = \"openai\"). From the text's figures — {figures}\n\n{advice}"
        ),
    }
}

/// The `n` sentences that carry the text's most frequent content words, in their original order.
fn extract_summary(text: &str, n: usize) -> String {
    let sentences: Vec<&str> = text.split_inclusive(['.', '!', '?']).map(str::trim).filter(|s| s.split_whitespace().count() >= 4).collect();
    let mut freq = std::collections::BTreeMap::<String, u32>::new();
    for w in text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 3) {
        *freq.entry(w.to_lowercase()).or_default() += 1;
    }
    let mut scored: Vec<(usize, f64)> = sentences
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let words: Vec<String> = s.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 3).map(str::to_lowercase).collect();
            let score = words.iter().map(|w| f64::from(freq[w])).sum::<f64>() / (words.len().max(1) as f64);
            (i, score)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut chosen: Vec<usize> = scored.into_iter().take(n).map(|(i, _)| i).collect();
    chosen.sort_unstable();
    chosen.into_iter().map(|i| sentences[i]).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaks_count_consecutive_days_up_to_today_or_yesterday() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let days = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(streak(&days(&["2026-11-25", "2026-11-24", "2026-11-22"]), today), 2);
        assert_eq!(streak(&days(&["2026-11-24", "2026-11-23"]), today), 2);
        assert_eq!(streak(&days(&["2026-11-23"]), today), 0);
        assert_eq!(streak(&[], today), 0);
    }

    #[test]
    fn extractive_summary_keeps_order() {
        let text = "The storm broke over the harbour at dawn. Fishermen hauled their boats higher on the harbour stones. \
                    Nobody spoke about the missing boat. The harbour storm kept every boat ashore for a week.";
        let s = extract_summary(text, 2);
        assert!(s.contains("harbour"), "{s}");
        assert_eq!(s.matches('.').count(), 2);
    }
}
