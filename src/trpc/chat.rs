//! `r3al.aiChat.*` in the app's shapes.

use serde::Deserialize;
use serde_json::{Value, json};

use super::shape::{input, object, signed_in, success};
use crate::services::Services;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::features::chat::model::{PER_PAGE, SendMessage};

pub async fn send_message(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let message: SendMessage = input(raw)?;
    let user_id = message.user_id.clone();
    let reply = state.chat.send(&caller, message).await?;
    let plan = state.subscriptions.plan_facts(&caller, &user_id).await?;
    // The app reads the reply under `data`, its token count as `tokens`.
    let mut data = object(&reply)?;
    data.insert("tokens".into(), reply.usage.total_tokens.into());
    success(json!({ "data": data, "hasUnrestrictedAccess": plan.unrestricted_content }))
}

/// The app's history query: the REST route's path and query in one object.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryInput {
    user_id: String,
    session_id: String,
    limit: Option<u32>,
    #[serde(default)]
    offset: u32,
}

pub async fn session_history(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: HistoryInput = input(raw)?;
    success(state.chat.history_of(&caller, &i.user_id, &i.session_id, i.limit.unwrap_or(PER_PAGE), i.offset).await?)
}
