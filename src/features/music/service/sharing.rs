//! Sharing a track: publishing it, its public page and preview, play counts.

use super::*;

/// Only a finished track is shared: completed, or published already.
fn shareable(project: &ProjectRow) -> AppResult<()> {
    match ProjectStatus::parse(&project.status) {
        Some(ProjectStatus::Completed | ProjectStatus::Published) => Ok(()),
        _ => Err(AppError::Conflict {
            code: "not_shareable",
            message: format!("only completed or published projects can be shared; this one is {}", project.status),
        }),
    }
}

impl MusicService {
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
        shareable(&project)?;
        let public_url = self.storage.public_url().to_owned();
        let page_url = Box::new(move |slug: &str| share::page_url(&public_url, slug));
        let names = platforms.iter().map(|p| p.as_str().to_owned()).collect();
        let published = self
            .store
            .publish(project_id, Box::new(shareable), share::new_slug(), page_url, names, caption.clone())
            .await?
            .ok_or_else(|| not_found(project_id))?;
        let (page, counts) = (published.page_url, platforms.into_iter().zip(published.share_counts));
        self.mirror_changed();
        let text = caption.unwrap_or(project.title);
        Ok(Shared {
            project_id: project_id.to_owned(),
            status: ProjectStatus::Published,
            shares: counts
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
        match self.store.project_by_share_slug(slug).await? {
            Some(p) if p.status == ProjectStatus::Published.as_str() && p.visibility == "public" && p.current_version_id.is_some() => Ok(p),
            _ => Err(AppError::NotFound { code: "share_not_found", message: "this track is not shared (any more)".into() }),
        }
    }

    pub fn preview_path(&self, p: &ProjectRow) -> AppResult<BlobPath> {
        self.path(p, &format!("preview/{}_preview.mp3", p.project_id))
    }

    pub async fn count_play(&self, project_id: &str) -> AppResult<()> {
        self.store.count_play(project_id).await
    }

    pub fn share_html(&self, p: &ProjectRow) -> String {
        share::page_html(self.storage.public_url(), p)
    }
}
