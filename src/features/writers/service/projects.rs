//! Writing projects: manuscripts with their revision history, notes, diffs, restores, exports.

use super::*;

impl WritersService {
    pub async fn owned(&self, caller: &Caller, project_id: &str) -> AppResult<ProjectRow> {
        match self.store.project(project_id).await? {
            Some(p) if p.user_id == caller.user_id || caller.is_privileged() => Ok(p),
            _ => Err(project_not_found(project_id)),
        }
    }

    pub(super) async fn reload(&self, project_id: &str) -> AppResult<ProjectRow> {
        self.store.project(project_id).await?.ok_or_else(|| project_not_found(project_id))
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
        self.store.insert_project(row.clone(), self.subscriptions.count_admission(Counted::WritingProjects)).await?;
        self.mirror_changed();
        Ok(view(&row))
    }

    pub async fn get_project(&self, caller: &Caller, project_id: &str) -> AppResult<Project> {
        Ok(view(&self.owned(caller, project_id).await?))
    }

    pub async fn list(&self, caller: &Caller, user_id: &str, status: Option<WritingStatus>, limit: u32, offset: u32) -> AppResult<ProjectList> {
        caller.ensure_acts_for(user_id)?;
        let page = Page::new(limit, offset)?;
        let (rows, total) = self.store.projects(user_id, status, page).await?;
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
        let restore = restoring.then(|| self.subscriptions.count_admission(Counted::WritingProjects));
        self.store.save_project(p.clone(), restore).await?;
        // Poked now and again after the manuscript's save: a save refused (a version conflict)
        // still leaves the edit above to mirror.
        self.mirror_changed();
        let (version_id, new_version) = match content {
            Some(text) => self.save_manuscript(caller, &p, text, base.as_deref(), None).await?,
            None => (p.current_version_id.clone(), false),
        };
        let p = self.reload(project_id).await?;
        self.mirror_changed();
        Ok(Saved { project: view(&p), version_id, new_version })
    }

    /// Saves the manuscript: a new version only when the text changed. The version file is
    /// written first, then the rows (checking `base` against the current version in the same
    /// transaction), then `manuscript.txt`, which mirrors the current version.
    pub(super) async fn save_manuscript(
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
        if let Some(current) = &p.current_version_id
            && let Some(v) = self.store.version(&p.project_id, current).await?
            && v.sha256 == sha
            && restored_from.is_none()
        {
            return Ok((Some(v.version_id), false));
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
        let stored = match self.store.insert_version(&p.project_id, p.current_version_id.clone(), version.clone()).await {
            Ok(VersionSaved::Saved) => Ok(()),
            Ok(VersionSaved::ProjectGone) => Err(project_not_found(&p.project_id)),
            Ok(VersionSaved::Superseded { current }) => Err(AppError::Conflict {
                code: "version_conflict",
                message: format!("another save landed first; the current version is `{}`", current.unwrap_or_default()),
            }),
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            let _ = self.storage.blobs().delete(BUCKET, &version_path).await;
            return Err(e);
        }
        self.storage.blobs().put_bytes(BUCKET, &self.path(p, "manuscript.txt")?, text.into_bytes()).await?;
        Ok((Some(version.version_id), true))
    }

    /// The text of a version (the current one when `version_id` is `None`).
    pub(super) async fn text_of(&self, p: &ProjectRow, version_id: Option<&str>) -> AppResult<String> {
        let Some(vid) = version_id.or(p.current_version_id.as_deref()) else { return Ok(String::new()) };
        let path = self.path(p, &format!("versions/{vid}.txt"))?;
        let bytes = self.storage.blobs().get_bytes(BUCKET, &path).await?;
        String::from_utf8(bytes).map_err(|_| AppError::internal(format!("version {vid} is not UTF-8")))
    }

    pub(super) async fn version_row(&self, p: &ProjectRow, version_id: &str) -> AppResult<VersionRow> {
        self.store
            .version(&p.project_id, version_id)
            .await?
            .ok_or_else(|| AppError::NotFound { code: "version_not_found", message: format!("no version `{version_id}` in this project") })
    }

    pub async fn content(&self, caller: &Caller, project_id: &str) -> AppResult<String> {
        let p = self.owned(caller, project_id).await?;
        self.text_of(&p, None).await
    }

    pub async fn versions(&self, caller: &Caller, project_id: &str) -> AppResult<Vec<Version>> {
        let p = self.owned(caller, project_id).await?;
        let rows = self.store.versions(&p.project_id).await?;
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
        self.mirror_changed();
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
            Err(crate::blobs::StoreError::NotFound) => Ok(serde_json::json!({})),
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
        let author = self.store.member(&p.user_id).await?.map(|m| m.pen_name).unwrap_or_else(|| p.user_id.clone());
        let (title, description) = (p.title.clone(), p.description.clone());
        let bytes = tokio::task::spawn_blocking(move || {
            export::export(&Manuscript { title: &title, author: &author, description: description.as_deref(), text: &text }, format)
        })
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
        Ok((bytes, format.content_type(), export::file_name(&p.title, format)))
    }
}
