//! `r3al.aiChat.*` in the app's shapes.

use serde::Deserialize;
use serde_json::{Value, json};

use super::procedures::{input, signed_in, success};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::features::chat::model::{ChatContext, SendMessage};
use crate::features::subscription::plan::Feature;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendInput {
    user_id: String,
    session_id: Option<String>,
    message: String,
    context: Option<ChatContext>,
    temperature: Option<f32>,
}

pub async fn send_message(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: SendInput = input(raw)?;
    let user_id = i.user_id.clone();
    let reply = state
        .chat
        .send(&caller, SendMessage { user_id: i.user_id, session_id: i.session_id, message: i.message, context: i.context, temperature: i.temperature })
        .await?;
    let tier = state.subscriptions.tier_of(&user_id).await?;
    success(json!({
        "data": {
            "sessionId": reply.session_id,
            "messageId": reply.message_id,
            "response": reply.response,
            "tokens": reply.usage.total_tokens,
            "timestamp": reply.timestamp,
            "remainingMessages": reply.remaining_messages,
            "model": reply.model,
        },
        "hasUnrestrictedAccess": state.subscriptions.plans().get(tier).includes(Feature::UnrestrictedContent),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HistoryInput {
    user_id: String,
    session_id: String,
    #[serde(default = "fifty")]
    limit: u32,
    #[serde(default)]
    offset: u32,
}

fn fifty() -> u32 {
    50
}

pub async fn session_history(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: HistoryInput = input(raw)?;
    caller.ensure_acts_for(&i.user_id)?;
    let history = state.chat.history_of(&caller, &i.user_id, &i.session_id, i.limit, i.offset).await?;
    success(json!({ "messages": history.messages, "hasMore": history.has_more, "total": history.total }))
}
