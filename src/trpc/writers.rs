//! `r3al.writersGuild.*` in the app's shapes.

use serde_json::{Map, Value, json};

use super::shape::{UserInput, UserPage, input, object, rename, signed_in, success, success_in};
use crate::services::Services;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::features::writers::model::{
    AssistRequest, CreateProject, GuildTier, Member, PER_PAGE, StartSession, UpgradeMember, WritingStatus,
};

pub async fn create_project(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    success_in("project", state.writers.create_project(&caller, input::<CreateProject>(raw)?).await?)
}

pub async fn get_projects(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let page: UserPage<WritingStatus> = input(raw)?;
    success(state.writers.list(&caller, &page.user_id, page.status, page.limit.unwrap_or(PER_PAGE), page.offset).await?)
}

pub async fn start_session(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let session = state.writers.start_session(&caller, input::<StartSession>(raw)?).await?;
    // The app reads the capabilities beside the session.
    success(json!({ "capabilities": session.capabilities, "session": session }))
}

/// The app's names for guild tiers: basic, premium, unlimited.
fn app_tier(tier: GuildTier) -> &'static str {
    match tier {
        GuildTier::Novice => "basic",
        GuildTier::Wordsmith => "premium",
        GuildTier::Master => "unlimited",
    }
}

/// A member in the app's words: `tier` is basic, premium or unlimited (the guild's own name is
/// `guildTier`) and `createdAt` is when they joined.
fn app_member(m: &Member) -> AppResult<Map<String, Value>> {
    let mut member = object(m)?;
    rename(&mut member, &[("tier", "guildTier")]);
    member.insert("tier".into(), app_tier(m.tier).into());
    member.insert("createdAt".into(), m.member_since.clone().into());
    Ok(member)
}

pub async fn get_member(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let UserInput { user_id } = input(raw)?;
    success_in("member", app_member(&state.writers.member_enrolling(&caller, &user_id).await?)?)
}

pub async fn get_assistance(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let assistance = state.writers.assist(&caller, input::<AssistRequest>(raw)?).await?;
    let mut output = object(&assistance)?;
    rename(&mut output, &[("suggestion", "assistance")]);
    success(output)
}

pub async fn upgrade_member(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let UserInput { user_id } = input(raw.clone())?;
    let m = state.writers.upgrade_member(&caller, &user_id, &input::<UpgradeMember>(raw)?.tier).await?;
    let plan = state.subscriptions.plan_facts(&caller, &user_id).await?;
    let mut member = app_member(&m)?;
    member.insert("unlimitedChat".into(), plan.unlimited_chat.into());
    member.insert("unlimitedImages".into(), plan.unlimited_images.into());
    member.insert("unrestrictedAI".into(), plan.unrestricted_content.into());
    member.insert("joinedAt".into(), m.member_since.clone().into());
    success_in("member", member)
}
