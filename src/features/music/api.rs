use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{IntoResponse, Request, Response, handler};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Multipart, OpenApi};

use super::model::*;
use crate::rest::{ApiTags, JsonBody, read_upload};
use crate::features::storage::StorageService;
use crate::features::music::MusicService;
use crate::auth::BearerAuth;
use crate::error::AppResult;
use crate::features::storage::cdn;
use crate::features::storage::service::Access;
use crate::blobs::Bucket;

pub struct MusicApi;

#[derive(ApiResponse)]
enum CreatedProject {
    #[oai(status = 201)]
    Created(Json<Project>),
}

#[derive(ApiResponse)]
enum CreatedStem {
    #[oai(status = 201)]
    Created(Json<Stem>),
}

#[derive(Debug, Multipart)]
#[oai(deny_unknown_fields)]
struct StemForm {
    /// The project the stem belongs to.
    #[oai(rename = "projectId")]
    project_id: String,
    /// What plays on it (drums, vocals, guitar…).
    instrument: String,
    /// WAV, MP3, FLAC or OGG; checked by content.
    file: Upload,
}

fn per_page() -> u32 {
    PER_PAGE
}

#[OpenApi(prefix_path = "/api/music", tag = "ApiTags::Music")]
impl MusicApi {
    /// Create a music project
    ///
    /// Counts against the tier's music project limit (projects not archived): free has none
    /// (403 `upgrade_required`), premium 5 (403 `project_limit_reached` past it).
    #[oai(path = "/project/create", method = "post")]
    async fn create(&self, music: Data<&Arc<MusicService>>, auth: BearerAuth, body: JsonBody<CreateProject>) -> AppResult<CreatedProject> {
        Ok(CreatedProject::Created(Json(music.create(&auth.0, body.0).await?)))
    }

    /// A project
    #[oai(path = "/project/:project_id", method = "get")]
    async fn get(&self, music: Data<&Arc<MusicService>>, auth: BearerAuth, project_id: Path<String>) -> AppResult<Json<Project>> {
        Ok(Json(music.get(&auth.0, &project_id).await?))
    }

    /// Edit a project (title, genre, bpm, mood, key, status, visibility)
    #[oai(path = "/project/:project_id", method = "put")]
    async fn update(&self, music: Data<&Arc<MusicService>>, auth: BearerAuth, project_id: Path<String>, body: JsonBody<UpdateProject>) -> AppResult<Json<Project>> {
        Ok(Json(music.update(&auth.0, &project_id, body.0).await?))
    }

    /// Archive a project; `purge=true` deletes it and its files for good
    #[oai(path = "/project/:project_id", method = "delete")]
    async fn delete(&self, music: Data<&Arc<MusicService>>, auth: BearerAuth, project_id: Path<String>, #[oai(default)] purge: Query<bool>) -> AppResult<Json<Deleted>> {
        Ok(Json(music.delete(&auth.0, &project_id, purge.0).await?))
    }

    /// A user's projects, most recently updated first
    #[oai(path = "/user/:user_id/projects", method = "get")]
    async fn list(
        &self,
        music: Data<&Arc<MusicService>>,
        auth: BearerAuth,
        user_id: Path<String>,
        status: Query<Option<ProjectStatus>>,
        /// 1 to 200 (`Page::MAX_LIMIT`, which the service checks)
        #[oai(default = "per_page", validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<u32>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "4294967295")))] offset: Query<u32>,
    ) -> AppResult<Json<ProjectList>> {
        Ok(Json(music.list(&auth.0, &user_id, status.0, limit.0, offset.0).await?))
    }

    /// A user's projects (the app's spelling)
    #[oai(path = "/projects/:user_id", method = "get", deprecated)]
    async fn list_alias(
        &self,
        music: Data<&Arc<MusicService>>,
        auth: BearerAuth,
        user_id: Path<String>,
        status: Query<Option<ProjectStatus>>,
        #[oai(default = "per_page", validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<u32>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "4294967295")))] offset: Query<u32>,
    ) -> AppResult<Json<ProjectList>> {
        Ok(Json(music.list(&auth.0, &user_id, status.0, limit.0, offset.0).await?))
    }

    /// Generate music for a project
    ///
    /// Charged to the `music_generation` quota only when it succeeds. The project goes
    /// draft → generating → completed, or back with `lastError` set if generation fails. Writes
    /// WAV stems, a MIDI score (local provider), an MP3 mix and a 30-second MP3 preview; the
    /// URLs play without a token.
    #[oai(path = "/generate", method = "post")]
    async fn generate(&self, music: Data<&Arc<MusicService>>, auth: BearerAuth, body: JsonBody<GenerateRequest>) -> AppResult<Json<Generated>> {
        Ok(Json(music.generate(&auth.0, body.0).await?))
    }

    /// Upload a stem of your own
    ///
    /// WAV, MP3, FLAC or OGG, recognised by content (422 `not_audio` otherwise); its duration is
    /// measured. Limits: `music.max_stem_bytes` (413) and `music.max_stem_secs` (422).
    #[oai(path = "/stem/upload", method = "post")]
    async fn upload_stem(&self, music: Data<&Arc<MusicService>>, auth: BearerAuth, form: StemForm) -> AppResult<CreatedStem> {
        let music = &music;
        music.owned(&auth.0, &form.project_id).await?;
        let bytes = read_upload(form.file, music.max_stem_bytes(), "the stem").await?;
        Ok(CreatedStem::Created(Json(music.upload_stem(&auth.0, &form.project_id, &form.instrument, bytes).await?)))
    }

    /// A project's stems
    #[oai(path = "/project/:project_id/stems", method = "get")]
    async fn stems(&self, music: Data<&Arc<MusicService>>, auth: BearerAuth, project_id: Path<String>) -> AppResult<Json<Vec<Stem>>> {
        Ok(Json(music.stems(&auth.0, &project_id).await?))
    }

    /// A project's mix versions, newest first
    #[oai(path = "/project/:project_id/versions", method = "get")]
    async fn versions(&self, music: Data<&Arc<MusicService>>, auth: BearerAuth, project_id: Path<String>) -> AppResult<Json<Versions>> {
        Ok(Json(music.versions(&auth.0, &project_id).await?))
    }

    /// Make a mix version the current one
    #[oai(path = "/project/:project_id/versions/:version_id/select", method = "post")]
    async fn select(&self, music: Data<&Arc<MusicService>>, auth: BearerAuth, project_id: Path<String>, version_id: Path<String>) -> AppResult<Json<Project>> {
        Ok(Json(music.select_version(&auth.0, &project_id, &version_id).await?))
    }

    /// Re-mix stems into a new version
    ///
    /// Without `stems`: the current version's stems and every uploaded stem, at unity gain.
    #[oai(path = "/project/:project_id/mix", method = "post")]
    async fn mix(&self, music: Data<&Arc<MusicService>>, auth: BearerAuth, project_id: Path<String>, body: JsonBody<MixRequest>) -> AppResult<Json<Generated>> {
        Ok(Json(music.remix(&auth.0, &project_id, body.0).await?))
    }

    /// Share a completed project
    ///
    /// Publishes it and answers, per platform, this server's public page (`/s/{shareId}`, with
    /// OpenGraph and Twitter tags and a player) and the platform's own share link where it has
    /// one (`note` says why not otherwise).
    #[oai(path = "/share/:project_id", method = "post")]
    async fn share(&self, music: Data<&Arc<MusicService>>, auth: BearerAuth, project_id: Path<String>, body: JsonBody<ShareRequest>) -> AppResult<Json<Shared>> {
        Ok(Json(music.share(&auth.0, &project_id, body.0).await?))
    }
}

/// `GET /s/{shareId}`: the public page of a shared track.
#[handler]
pub async fn share_page(req: &Request, music: Data<&Arc<MusicService>>) -> poem::Result<Response> {
    let project = music.shared_project(req.raw_path_param("share_id").unwrap_or_default()).await?;
    Ok(music
        .share_html(&project)
        .with_content_type("text/html; charset=utf-8")
        .with_header("cache-control", "public, max-age=60")
        .with_header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; media-src 'self'")
        .into_response())
}

/// `GET /s/{shareId}/audio`: streams the preview (with Range, so players can seek) and counts
/// a play when a listener starts from the beginning.
#[handler]
pub async fn share_audio(req: &Request, music: Data<&Arc<MusicService>>, storage: Data<&Arc<StorageService>>) -> poem::Result<Response> {
    let project = music.shared_project(req.raw_path_param("share_id").unwrap_or_default()).await?;
    let path = music.preview_path(&project)?;
    let resp = cdn::serve(req, &storage, Bucket::Music, &path, Access::Public).await?;
    let from_start = req
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|r| r.trim_start_matches("bytes=").starts_with("0-"));
    if req.method() == poem::http::Method::GET && resp.status() != StatusCode::NOT_MODIFIED && from_start {
        music.count_play(&project.project_id).await?;
    }
    Ok(resp)
}
