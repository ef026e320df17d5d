//! `r3al.tactical.*` in the app's shapes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::shape::{UserInput, input, object, rename, signed_in, success, success_in};
use crate::services::Services;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::features::tactical::NewFile;
use crate::features::tactical::model::{CheckIn, Comm, CommFilter, PER_PAGE, Register, SendComm};

/// The documents of the app's registration: `data:` URLs (`data:application/pdf;base64,…`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Documents {
    verification_documents: Option<Vec<String>>,
}

/// A verification document sent as a `data:` URL.
fn data_url(index: usize, url: &str) -> AppResult<NewFile> {
    let field = format!("verificationDocuments.{index}");
    let bad = |why: &str| AppError::invalid_field(&field, why.to_owned());
    let rest = url.strip_prefix("data:").ok_or_else(|| bad("must be a data: URL (data:<type>;base64,<bytes>)"))?;
    let (head, payload) = rest.split_once(',').ok_or_else(|| bad("a data: URL has a comma before its bytes"))?;
    let content_type = head.strip_suffix(";base64").ok_or_else(|| bad("only base64 data: URLs are accepted"))?;
    let bytes = STANDARD.decode(payload.trim()).map_err(|_| bad("the bytes are not valid base64"))?;
    let content_type = if content_type.is_empty() { "application/octet-stream" } else { content_type };
    Ok(NewFile { file_name: format!("document-{}", index + 1), content_type: content_type.to_owned(), bytes })
}

pub async fn register(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let Documents { verification_documents } = input(raw.clone())?;
    let documents = verification_documents.unwrap_or_default().iter().enumerate().map(|(n, url)| data_url(n, url)).collect::<AppResult<Vec<_>>>()?;
    let profile = state.tactical.register(&caller, input::<Register>(raw)?, documents).await?;
    success(json!({
        "tacticalUser": profile,
        "message": "Registration received: a verifier will review it before Tactical HQ opens",
    }))
}

pub async fn get_dashboard(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let UserInput { user_id } = input(raw)?;
    success_in("dashboard", state.tactical.dashboard(&caller, &user_id).await?)
}

/// A comm in the app's words (`names`: the model's name → the app's); `recipientId` is its
/// first recipient.
fn app_comm(c: &Comm, names: &[(&str, &str)]) -> AppResult<Map<String, Value>> {
    let mut comm = object(c)?;
    rename(&mut comm, names);
    comm.insert("recipientId".into(), json!(c.to_user_ids.first()));
    Ok(comm)
}

/// The comm the app's Tactical HQ screen sent: its type is the word it used.
const SENT: &[(&str, &str)] = &[("teamId", "toTeamId"), ("label", "messageType"), ("content", "messageContent"), ("sentAt", "createdAt")];

/// A comm as the app's secure comms screen reads it.
const SECURE: &[(&str, &str)] = &[("fromUserId", "senderId"), ("label", "commType"), ("sentAt", "createdAt")];

/// A comm in the app's list: its sender as `senderRole` and `senderOrg`, its recipients as
/// `recipientIds`.
const LISTED: &[(&str, &str)] = &[
    ("fromUserId", "senderId"),
    ("senderRank", "senderRole"),
    ("senderDepartment", "senderOrg"),
    ("toUserIds", "recipientIds"),
    ("label", "commType"),
    ("sentAt", "createdAt"),
];

/// A comm as the app's list shows it (what `onComm` sends too).
pub(super) fn listed_comm(c: &Comm) -> AppResult<Map<String, Value>> {
    app_comm(c, LISTED)
}

pub async fn send_comm(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let comm = state.tactical.send(&caller, input::<SendComm>(raw)?, false).await?;
    success_in("comm", app_comm(&comm, SENT)?)
}

/// Secure comms are always sealed at rest: the app's `encrypted` flag changes nothing.
pub async fn send_secure_comm(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let comm = state.tactical.send(&caller, input::<SendComm>(raw)?, true).await?;
    success_in("comm", app_comm(&comm, SECURE)?)
}

/// The app's comms query: the REST route's path and query in one object.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommsInput {
    user_id: String,
    comm_type: Option<String>,
    priority: Option<String>,
    limit: Option<u32>,
}

pub async fn get_comms(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: CommsInput = input(raw)?;
    let filter = CommFilter { message_type: i.comm_type, priority: i.priority, since: None, limit: i.limit.unwrap_or(PER_PAGE), cursor: None };
    let page = state.tactical.comms(&caller, &i.user_id, filter).await?;
    let comms = page.comms.iter().map(|c| app_comm(c, LISTED)).collect::<AppResult<Vec<_>>>()?;
    success(json!({ "comms": comms, "total": page.total, "nextCursor": page.next_cursor }))
}

/// The app's situation report query (its free-form `context` is not used).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SituationInput {
    user_id: String,
    analysis_type: Option<String>,
}

pub async fn situation_report(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: SituationInput = input(raw)?;
    success_in("analysis", state.tactical.situation_report(&caller, &i.user_id, i.analysis_type.as_deref()).await?)
}

pub async fn check_in(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    success(state.tactical.check_in(&caller, input::<CheckIn>(raw)?).await?)
}
