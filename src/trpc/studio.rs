//! `r3al.studio.*` in the app's shapes.

use serde::Deserialize;
use serde_json::{Value, json};

use super::procedures::{input, signed_in, success};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::features::music::model::{CreateProject, GenerateRequest, Project, ProjectStatus, ShareRequest};

fn project_json(p: &Project) -> Value {
    json!({
        "projectId": p.project_id, "userId": p.user_id, "title": p.title, "genre": p.genre, "bpm": p.bpm, "key": p.key,
        "mood": p.mood, "duration": p.duration, "status": p.status, "visibility": p.visibility, "stemCount": p.stem_count,
        "totalPlays": p.total_plays, "previewUrl": p.preview_url, "shareUrl": p.share_url, "createdAt": p.created_at, "updatedAt": p.updated_at,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateInput {
    user_id: String,
    title: String,
    genre: Option<String>,
    bpm: Option<u32>,
    mood: Option<String>,
    key: Option<String>,
}

pub async fn create_project(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: CreateInput = input(raw)?;
    let p = state
        .music
        .create(&caller, CreateProject { user_id: i.user_id, title: i.title, genre: i.genre, bpm: i.bpm, mood: i.mood, key: i.key })
        .await?;
    success(json!({ "project": project_json(&p) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GenerateInput {
    project_id: String,
    user_id: String,
    prompt: String,
    duration: Option<u32>,
    style: Option<String>,
    instrument: Option<String>,
}

pub async fn generate_music(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: GenerateInput = input(raw)?;
    let instrument = i.instrument.clone();
    let g = state
        .music
        .generate(
            &caller,
            GenerateRequest { project_id: i.project_id, user_id: i.user_id, prompt: i.prompt, duration: i.duration, style: i.style, instrument: i.instrument, seed: None },
        )
        .await?;
    // The app plays one file per generation: the mix, under the generation's version id.
    success(json!({
        "stem": { "stemId": g.version_id, "fileUrl": g.mix_url, "duration": g.duration_seconds, "instrument": instrument.unwrap_or_else(|| "mix".into()) },
        "generation": g,
        "message": format!("generated {:.0} s of music", g.duration_seconds),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListInput {
    user_id: String,
    status: Option<String>,
    #[serde(default = "twenty")]
    limit: u32,
    #[serde(default)]
    offset: u32,
}

fn twenty() -> u32 {
    20
}

pub async fn get_projects(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: ListInput = input(raw)?;
    let status = match i.status.as_deref() {
        Some(s) => Some(ProjectStatus::parse(s).ok_or_else(|| AppError::invalid_field("status", format!("unknown status `{s}`")))?),
        None => None,
    };
    if i.limit > 100 {
        return Err(AppError::invalid_field("limit", "must be 1 to 100"));
    }
    let list = state.music.list(&caller, &i.user_id, status, i.limit, i.offset).await?;
    success(json!({ "projects": list.projects.iter().map(project_json).collect::<Vec<_>>(), "total": list.total, "hasMore": list.has_more }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ShareInput {
    project_id: String,
    user_id: String,
    platforms: Vec<String>,
    caption: Option<String>,
}

pub async fn share_music(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: ShareInput = input(raw)?;
    caller.ensure_acts_for(&i.user_id)?;
    let project = state.music.owned(&caller, &i.project_id).await?;
    if project.user_id != i.user_id {
        return Err(AppError::NotFound { code: "project_not_found", message: format!("no music project `{}`", i.project_id) });
    }
    let shared = state.music.share(&caller, &i.project_id, ShareRequest { platform: None, platforms: Some(i.platforms), caption: i.caption }).await?;
    success(json!({
        "shares": shared.shares,
        "shareUrl": shared.share_url,
        "message": format!("shared to {} platform(s); the track is published", shared.shares.len()),
    }))
}
