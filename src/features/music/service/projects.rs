//! Music projects: create, read, change, archive or purge, list.

use super::*;

impl MusicService {
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
        self.store.insert_project(row.clone(), self.subscriptions.count_admission(Counted::MusicProjects)).await?;
        self.mirror_changed();
        Ok(self.view(&row))
    }

    pub async fn get(&self, caller: &Caller, project_id: &str) -> AppResult<Project> {
        Ok(self.view(&self.owned(caller, project_id).await?))
    }

    pub async fn update(&self, caller: &Caller, project_id: &str, u: UpdateProject) -> AppResult<Project> {
        self.owned(caller, project_id).await?;
        let admission = self.subscriptions.count_admission(Counted::MusicProjects);
        // Read, check and write in one operation, so a generation finishing meanwhile is not undone;
        // a project coming back from the archive counts against the tier's limit again.
        let edit = Box::new(move |p: &mut ProjectRow| Ok(apply_update(p, u)?.then_some(admission)));
        self.store.update_project(project_id, edit).await?.ok_or_else(|| not_found(project_id))?;
        self.mirror_changed();
        self.get(caller, project_id).await
    }

    /// Archives the project; with `purge`, removes its files and rows for good.
    pub async fn delete(&self, caller: &Caller, project_id: &str, purge: bool) -> AppResult<Deleted> {
        let p = self.owned(caller, project_id).await?;
        let in_progress = || AppError::Conflict { code: "generation_in_progress", message: "the project is being generated; try again when it finishes".into() };
        if p.status == ProjectStatus::Generating.as_str() {
            return Err(in_progress());
        }
        if !purge {
            // Checked again where it is written: a generation starting meanwhile is not archived mid-way.
            let archive: Edit = Box::new(move |p| {
                if p.status == ProjectStatus::Generating.as_str() {
                    return Err(in_progress());
                }
                p.status = ProjectStatus::Archived.as_str().into();
                Ok(None)
            });
            self.store.update_project(&p.project_id, archive).await?.ok_or_else(|| not_found(project_id))?;
            self.mirror_changed();
            return Ok(Deleted { project_id: project_id.to_owned(), status: ProjectStatus::Archived, purged: false, files_removed: 0 });
        }
        // Rows go first: nothing may point at a file that is about to disappear.
        self.store.delete_project(&p.project_id).await?;
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
        let (rows, total) = self.store.list_projects(user_id, status, page).await?;
        Ok(ProjectList {
            user_id: user_id.to_owned(),
            has_more: page.has_more(rows.len(), total),
            projects: rows.iter().map(|p| self.view(p)).collect(),
            total,
        })
    }
}
