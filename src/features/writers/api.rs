use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Attachment, AttachmentType, Json, PlainText};
use poem_openapi::{ApiResponse, OpenApi};

use super::diff::{DiffGranularity, TextDiff};
use super::model::*;
use crate::rest::body::carries_manuscript;
use crate::rest::{ApiTags, JsonBody};
use crate::features::writers::WritersService;
use crate::auth::BearerAuth;
use crate::error::AppResult;

pub struct WritersApi;

#[derive(ApiResponse)]
enum CreatedMember {
    #[oai(status = 201)]
    Created(Json<Member>),
}

#[derive(ApiResponse)]
enum CreatedProject {
    #[oai(status = 201)]
    Created(Json<Project>),
}

#[derive(ApiResponse)]
enum Exported {
    /// The file, with a download name.
    #[oai(status = 200)]
    File(Attachment<Vec<u8>>, #[oai(header = "Content-Type")] String),
}

fn per_page() -> u32 {
    PER_PAGE
}

fn line() -> DiffGranularity {
    DiffGranularity::Line
}

#[OpenApi(prefix_path = "/api/writers", tag = "ApiTags::Writers")]
impl WritersApi {
    /// Join the Writers Guild
    #[oai(path = "/member/register", method = "post")]
    async fn register(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, body: JsonBody<RegisterMember>) -> AppResult<CreatedMember> {
        Ok(CreatedMember::Created(Json(writers.register_member(&auth.0, body.0).await?)))
    }

    /// A member, with stats (words written, projects, sessions, streak)
    #[oai(path = "/member/:user_id", method = "get")]
    async fn member(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, user_id: Path<String>) -> AppResult<Json<Member>> {
        Ok(Json(writers.member(&auth.0, &user_id).await?))
    }

    /// Edit a member's pen name, bio and specialties
    #[oai(path = "/member/:user_id", method = "put")]
    async fn update_member(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, user_id: Path<String>, body: JsonBody<UpdateMember>) -> AppResult<Json<Member>> {
        Ok(Json(writers.update_member(&auth.0, &user_id, body.0).await?))
    }

    /// Change a member's guild tier
    ///
    /// Up when eligible: wordsmith at `writers.wordsmith_words` words written or a premium
    /// subscription; master at `writers.master_words` or an unlimited one (403 `not_eligible`
    /// says what is missing). Admins set any tier.
    #[oai(path = "/member/:user_id/upgrade", method = "put")]
    async fn upgrade_member(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, user_id: Path<String>, body: JsonBody<UpgradeMember>) -> AppResult<Json<Member>> {
        Ok(Json(writers.upgrade_member(&auth.0, &user_id, &body.0.tier).await?))
    }

    /// Create a writing project (counts against the tier's writing project limit)
    #[oai(path = "/project/create", method = "post")]
    async fn create(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, body: JsonBody<CreateProject>) -> AppResult<CreatedProject> {
        Ok(CreatedProject::Created(Json(writers.create_project(&auth.0, body.0).await?)))
    }

    /// A writing project
    #[oai(path = "/project/:project_id", method = "get")]
    async fn get(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, project_id: Path<String>) -> AppResult<Json<Project>> {
        Ok(Json(writers.get_project(&auth.0, &project_id).await?))
    }

    /// Edit a project, or save its manuscript (`content`)
    ///
    /// A save recomputes the word count and writes a new version only when the text changed.
    /// With `baseVersionId`, a save based on an older version is refused (409 `version_conflict`).
    #[oai(path = "/project/:project_id", method = "put", transform = "carries_manuscript")]
    async fn update(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, project_id: Path<String>, body: JsonBody<UpdateProject>) -> AppResult<Json<Saved>> {
        Ok(Json(writers.update_project(&auth.0, &project_id, body.0).await?))
    }

    /// Archive a project
    #[oai(path = "/project/:project_id", method = "delete")]
    async fn archive(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, project_id: Path<String>) -> AppResult<Json<Saved>> {
        let update = UpdateProject { status: Some(WritingStatus::Archived), ..Default::default() };
        Ok(Json(writers.update_project(&auth.0, &project_id, update).await?))
    }

    /// The current manuscript text
    #[oai(path = "/project/:project_id/content", method = "get")]
    async fn content(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, project_id: Path<String>) -> AppResult<PlainText<String>> {
        Ok(PlainText(writers.content(&auth.0, &project_id).await?))
    }

    /// A user's writing projects, most recently updated first
    #[oai(path = "/user/:user_id/projects", method = "get")]
    async fn list(
        &self,
        writers: Data<&Arc<WritersService>>,
        auth: BearerAuth,
        user_id: Path<String>,
        status: Query<Option<WritingStatus>>,
        /// 1 to 200 (`Page::MAX_LIMIT`, which the service checks)
        #[oai(default = "per_page", validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<u32>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "4294967295")))] offset: Query<u32>,
    ) -> AppResult<Json<ProjectList>> {
        Ok(Json(writers.list(&auth.0, &user_id, status.0, limit.0, offset.0).await?))
    }

    /// A user's writing projects (the app's spelling)
    #[oai(path = "/projects/:user_id", method = "get", deprecated)]
    async fn list_alias(
        &self,
        writers: Data<&Arc<WritersService>>,
        auth: BearerAuth,
        user_id: Path<String>,
        status: Query<Option<WritingStatus>>,
        #[oai(default = "per_page", validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<u32>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "4294967295")))] offset: Query<u32>,
    ) -> AppResult<Json<ProjectList>> {
        Ok(Json(writers.list(&auth.0, &user_id, status.0, limit.0, offset.0).await?))
    }

    /// The manuscript's versions, newest first
    #[oai(path = "/project/:project_id/versions", method = "get")]
    async fn versions(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, project_id: Path<String>) -> AppResult<Json<Vec<Version>>> {
        Ok(Json(writers.versions(&auth.0, &project_id).await?))
    }

    /// One version with its text
    #[oai(path = "/project/:project_id/versions/:version_id", method = "get")]
    async fn version(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, project_id: Path<String>, version_id: Path<String>) -> AppResult<Json<VersionText>> {
        Ok(Json(writers.version(&auth.0, &project_id, &version_id).await?))
    }

    /// What changed between two versions (line or word spans a UI can render)
    #[oai(path = "/project/:project_id/diff", method = "get")]
    async fn diff(
        &self,
        writers: Data<&Arc<WritersService>>,
        auth: BearerAuth,
        project_id: Path<String>,
        from: Query<String>,
        to: Query<String>,
        #[oai(default = "line")] granularity: Query<DiffGranularity>,
    ) -> AppResult<Json<TextDiff>> {
        Ok(Json(writers.diff(&auth.0, &project_id, &from, &to, granularity.0).await?))
    }

    /// Restore a version (as a new version: history is never rewritten)
    #[oai(path = "/project/:project_id/versions/:version_id/restore", method = "post")]
    async fn restore(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, project_id: Path<String>, version_id: Path<String>) -> AppResult<Json<Saved>> {
        Ok(Json(writers.restore(&auth.0, &project_id, &version_id).await?))
    }

    /// The project's notes (a JSON document)
    #[oai(path = "/project/:project_id/notes", method = "get")]
    async fn notes(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, project_id: Path<String>) -> AppResult<Json<serde_json::Value>> {
        Ok(Json(writers.notes(&auth.0, &project_id).await?))
    }

    /// Replace the project's notes (limit `writers.max_notes_bytes`)
    #[oai(path = "/project/:project_id/notes", method = "put")]
    async fn put_notes(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, project_id: Path<String>, body: JsonBody<serde_json::Value>) -> AppResult<Json<serde_json::Value>> {
        Ok(Json(writers.put_notes(&auth.0, &project_id, body.0).await?))
    }

    /// Export the manuscript: pdf, docx, epub, md, html or txt
    #[oai(path = "/project/:project_id/export", method = "get")]
    async fn export(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, project_id: Path<String>, format: Query<String>) -> AppResult<Exported> {
        let (bytes, content_type, name) = writers.export(&auth.0, &project_id, &format).await?;
        Ok(Exported::File(Attachment::new(bytes).attachment_type(AttachmentType::Attachment).filename(name), content_type.to_owned()))
    }

    /// Start a writing session (ends the user's open one on the same project)
    #[oai(path = "/session/start", method = "post")]
    async fn start_session(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, body: JsonBody<StartSession>) -> AppResult<Json<Session>> {
        Ok(Json(writers.start_session(&auth.0, body.0).await?))
    }

    /// End a writing session: words written (never negative), duration, member totals
    #[oai(path = "/session/:session_id/end", method = "put")]
    async fn end_session(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, session_id: Path<String>) -> AppResult<Json<Session>> {
        Ok(Json(writers.end_session(&auth.0, &session_id).await?))
    }

    /// AI writing assistance
    ///
    /// Gated by the tier (free: none; premium: standard; unlimited: advanced, with longer context
    /// and output) and charged to `ai_writing`. With the local provider it returns real
    /// analysis (readability, sentence spread, overused words, repeated phrases, adverbs, passive
    /// voice, dialogue) and suggestions drawn from it.
    #[oai(path = "/ai/assist", method = "post")]
    async fn assist(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, body: JsonBody<AssistRequest>) -> AppResult<Json<Assistance>> {
        Ok(Json(writers.assist(&auth.0, body.0).await?))
    }

    /// AI writing assistance (the app's spelling)
    #[oai(path = "/assist", method = "post", deprecated)]
    async fn assist_alias(&self, writers: Data<&Arc<WritersService>>, auth: BearerAuth, body: JsonBody<AssistRequest>) -> AppResult<Json<Assistance>> {
        Ok(Json(writers.assist(&auth.0, body.0).await?))
    }
}
