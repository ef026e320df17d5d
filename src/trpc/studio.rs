//! `r3al.studio.*` in the app's shapes.

use serde::Deserialize;
use serde_json::{Value, json};

use super::shape::{UserPage, WithMessage, input, signed_in, success, success_in};
use crate::services::Services;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::features::music::model::{CreateProject, GenerateRequest, PER_PAGE, ProjectStatus, ShareRequest};

pub async fn create_project(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    success_in("project", state.music.create(&caller, input::<CreateProject>(raw)?).await?)
}

pub async fn generate_music(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let request: GenerateRequest = input(raw)?;
    let instrument = request.instrument.clone();
    let g = state.music.generate(&caller, request).await?;
    // The app plays one file per generation: the mix, under the generation's version id.
    success(json!({
        "stem": { "stemId": g.version_id, "fileUrl": g.mix_url, "duration": g.duration_seconds, "instrument": instrument.unwrap_or_else(|| "mix".into()) },
        "message": format!("generated {:.0} s of music", g.duration_seconds),
        "generation": g,
    }))
}

pub async fn get_projects(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let page: UserPage<ProjectStatus> = input(raw)?;
    success(state.music.list(&caller, &page.user_id, page.status, page.limit.unwrap_or(PER_PAGE), page.offset).await?)
}

/// The project the app's share input names (the rest of it is a [`ShareRequest`]).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectInput {
    project_id: String,
}

pub async fn share_music(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let ProjectInput { project_id } = input(raw.clone())?;
    let shared = state.music.share(&caller, &project_id, input::<ShareRequest>(raw)?).await?;
    let message = format!("shared to {} platform(s); the track is published", shared.shares.len());
    success(WithMessage { output: shared, message })
}
