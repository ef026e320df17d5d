//! `r3al.writersGuild.*` in the app's shapes.

use serde::Deserialize;
use serde_json::{Value, json};

use super::procedures::{input, signed_in, success};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::features::writers::model::{
    AssistMode, AssistRequest, ContentRating, ContentType, CreateProject, GuildTier, Member, StartSession, WritingStatus,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateInput {
    user_id: String,
    title: String,
    genre: Option<String>,
    description: Option<String>,
    content_type: ContentType,
    #[serde(default)]
    mature_content: Option<bool>,
}

pub async fn create_project(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: CreateInput = input(raw)?;
    let p = state
        .writers
        .create_project(
            &caller,
            CreateProject { user_id: i.user_id, title: i.title, genre: i.genre, content_type: i.content_type, description: i.description, mature_content: i.mature_content },
        )
        .await?;
    success(json!({ "project": p }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListInput {
    user_id: String,
    status: Option<String>,
}

pub async fn get_projects(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: ListInput = input(raw)?;
    let status = match i.status.as_deref() {
        Some(s) => Some(WritingStatus::parse(s).ok_or_else(|| AppError::invalid_field("status", format!("unknown status `{s}`")))?),
        None => None,
    };
    let list = state.writers.list(&caller, &i.user_id, status, 200, 0).await?;
    success(json!({ "projects": list.projects, "total": list.total }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SessionInput {
    user_id: String,
    project_id: String,
    chapter_number: Option<u32>,
}

pub async fn start_session(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: SessionInput = input(raw)?;
    let s = state.writers.start_session(&caller, StartSession { user_id: i.user_id, project_id: i.project_id, chapter_number: i.chapter_number }).await?;
    success(json!({
        "session": { "sessionId": s.session_id, "projectId": s.project_id, "userId": s.user_id, "chapterNumber": s.chapter_number, "startedAt": s.started_at },
        "capabilities": s.capabilities,
    }))
}

/// The app's names for guild tiers: basic, premium, unlimited.
fn app_tier(tier: GuildTier) -> &'static str {
    match tier {
        GuildTier::Novice => "basic",
        GuildTier::Wordsmith => "premium",
        GuildTier::Master => "unlimited",
    }
}

fn member_json(m: &Member) -> Value {
    json!({
        "memberId": m.member_id, "userId": m.user_id, "penName": m.pen_name, "bio": m.bio, "specialties": m.specialties,
        "totalWordsWritten": m.total_words_written, "totalProjects": m.total_projects, "sessions": m.sessions,
        "streakDays": m.streak_days, "memberSince": m.member_since, "tier": app_tier(m.tier), "guildTier": m.tier,
        "createdAt": m.member_since,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserInput {
    user_id: String,
}

pub async fn get_member(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: UserInput = input(raw)?;
    let m = state.writers.member_enrolling(&caller, &i.user_id).await?;
    success(json!({ "member": member_json(&m) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AssistInput {
    user_id: String,
    project_id: String,
    context: Option<String>,
    request: String,
    content_rating: Option<ContentRating>,
}

pub async fn get_assistance(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: AssistInput = input(raw)?;
    if i.context.as_deref().is_some_and(|c| c.chars().count() > 5000) {
        return Err(AppError::invalid_field("context", "at most 5000 characters"));
    }
    if i.request.chars().count() > 1000 {
        return Err(AppError::invalid_field("request", "at most 1000 characters"));
    }
    let a = state
        .writers
        .assist(
            &caller,
            AssistRequest {
                user_id: i.user_id,
                project_id: i.project_id,
                mode: Some(AssistMode::Custom),
                prompt: None,
                request: Some(i.request),
                context: i.context,
                selection: None,
                content_rating: i.content_rating,
            },
        )
        .await?;
    success(json!({ "assistance": a.suggestion, "contentRating": a.content_rating, "model": a.model, "analysis": a.analysis, "usage": a.usage }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpgradeInput {
    user_id: String,
    tier: String,
}

pub async fn upgrade_member(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: UpgradeInput = input(raw)?;
    let m = state.writers.upgrade_member(&caller, &i.user_id, &i.tier).await?;
    let subscription = state.subscriptions.tier_of(&i.user_id).await?;
    let plan = state.subscriptions.plans().get(subscription);
    success(json!({
        "member": {
            "memberId": m.member_id, "userId": m.user_id, "tier": app_tier(m.tier), "guildTier": m.tier,
            "unlimitedChat": plan.ai_chat.limit.count().is_none(),
            "unlimitedImages": plan.image_generation.limit.count().is_none(),
            "unrestrictedAI": plan.unrestricted_content,
            "joinedAt": m.member_since,
        }
    }))
}
