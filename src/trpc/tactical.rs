//! `r3al.tactical.*` in the app's shapes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use super::procedures::{input, signed_in, success};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::features::tactical::NewFile;
use crate::features::tactical::model::{CheckIn, Comm, CommFilter, Register, SendComm, StressIndicators};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegisterInput {
    user_id: String,
    service_branch: String,
    rank: Option<String>,
    badge_number: Option<String>,
    department: Option<String>,
    clearance_level: Option<String>,
    /// `data:` URLs (`data:application/pdf;base64,…`).
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

pub async fn register(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: RegisterInput = input(raw)?;
    let documents =
        i.verification_documents.unwrap_or_default().iter().enumerate().map(|(n, url)| data_url(n, url)).collect::<AppResult<Vec<_>>>()?;
    let register = Register {
        user_id: i.user_id,
        service_branch: i.service_branch,
        rank: i.rank,
        department: i.department,
        badge_number: i.badge_number,
        requested_clearance: None,
        clearance_level: i.clearance_level,
    };
    let p = state.tactical.register(&caller, register, documents).await?;
    success(json!({
        "tacticalUser": {
            "tacticalUserId": p.tactical_user_id, "userId": p.user_id, "serviceBranch": p.service_branch, "rank": p.rank,
            "badgeNumber": p.badge_number, "department": p.department, "verifiedStatus": p.verified_status,
            "clearanceLevel": p.clearance_level, "requestedClearance": p.requested_clearance,
            "operationalStatus": p.operational_status, "createdAt": p.created_at,
        },
        "message": "Registration received: a verifier will review it before Tactical HQ opens",
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserInput {
    user_id: String,
}

pub async fn get_dashboard(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: UserInput = input(raw)?;
    let d = state.tactical.dashboard(&caller, &i.user_id).await?;
    let incidents: Vec<Value> = d
        .active_incidents
        .iter()
        .map(|i| json!({ "incidentId": i.incident_id, "title": i.title, "severity": i.severity, "status": i.status, "reportedAt": i.reported_at }))
        .collect();
    success(json!({
        "dashboard": {
            "user": d.user, "activeIncidents": incidents, "team": d.team, "recentComms": d.recent_comms,
            "unreadComms": d.unread_comms, "threatLevel": d.threat_level, "aiInsights": d.ai_insights,
        }
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendInput {
    from_user_id: String,
    to_user_ids: Option<Vec<String>>,
    to_team_id: Option<String>,
    message_type: String,
    message_content: String,
    priority: Option<String>,
    related_incident_id: Option<String>,
}

pub async fn send_comm(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: SendInput = input(raw)?;
    if !matches!(i.message_type.as_str(), "alert" | "update" | "request" | "status") {
        return Err(AppError::invalid_field("messageType", format!("unknown value `{}`: use alert, update, request or status", i.message_type)));
    }
    let send = SendComm {
        from_user_id: i.from_user_id,
        to_user_id: None,
        to_user_ids: i.to_user_ids,
        team_id: i.to_team_id,
        message_type: Some(i.message_type),
        content: Some(i.message_content),
        encrypted_content: None,
        priority: i.priority,
        classification: None,
        related_incident_id: i.related_incident_id,
    };
    let c = state.tactical.send(&caller, send, false).await?;
    success(json!({
        "comm": {
            "commId": c.comm_id, "fromUserId": c.from_user_id, "toUserIds": c.to_user_ids, "toTeamId": c.team_id,
            "messageType": c.label, "messageContent": c.content, "priority": c.priority,
            "relatedIncidentId": c.related_incident_id, "acknowledgedBy": c.acknowledged_by, "encrypted": c.encrypted,
            "createdAt": c.sent_at,
        }
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SecureInput {
    sender_id: String,
    recipient_id: Option<String>,
    comm_type: String,
    priority: Option<String>,
    content: String,
    /// Secure comms are always sealed at rest: the app's `encrypted` flag is accepted and
    /// changes nothing.
    #[serde(rename = "encrypted", default)]
    _encrypted: Option<bool>,
}

pub async fn send_secure_comm(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: SecureInput = input(raw)?;
    if !matches!(i.comm_type.as_str(), "message" | "alert" | "briefing" | "sitrep" | "request") {
        return Err(AppError::invalid_field("commType", format!("unknown value `{}`: use message, alert, briefing, sitrep or request", i.comm_type)));
    }
    let send = SendComm {
        from_user_id: i.sender_id,
        to_user_id: i.recipient_id,
        to_user_ids: None,
        team_id: None,
        message_type: Some(i.comm_type),
        content: Some(i.content),
        encrypted_content: None,
        priority: i.priority,
        classification: None,
        related_incident_id: None,
    };
    let c = state.tactical.send(&caller, send, true).await?;
    success(json!({
        "comm": {
            "commId": c.comm_id, "senderId": c.from_user_id, "recipientId": c.to_user_ids.first(), "commType": c.label,
            "priority": c.priority, "encrypted": c.encrypted, "createdAt": c.sent_at,
        }
    }))
}

fn fifty() -> u32 {
    50
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CommsInput {
    user_id: String,
    comm_type: Option<String>,
    priority: Option<String>,
    #[serde(default = "fifty")]
    limit: u32,
}

fn comm_json(c: &Comm) -> Value {
    json!({
        "commId": c.comm_id, "senderId": c.from_user_id, "senderRole": c.sender_rank, "senderOrg": c.sender_department,
        "recipientId": c.to_user_ids.first(), "recipientIds": c.to_user_ids, "teamId": c.team_id, "commType": c.label,
        "messageType": c.message_type, "priority": c.priority, "classification": c.classification, "content": c.content,
        "encryptedContent": c.encrypted_content, "encrypted": c.encrypted, "integrityError": c.integrity_error,
        "readAt": c.read_at, "createdAt": c.sent_at,
    })
}

pub async fn get_comms(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: CommsInput = input(raw)?;
    let filter = CommFilter { message_type: i.comm_type, priority: i.priority, since: None, limit: i.limit, cursor: None };
    let page = state.tactical.comms(&caller, &i.user_id, filter).await?;
    success(json!({ "comms": page.comms.iter().map(comm_json).collect::<Vec<_>>(), "total": page.total }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CheckInInput {
    user_id: String,
    session_type: String,
    #[serde(default)]
    stress_indicators: StressIndicators,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SituationInput {
    user_id: String,
    analysis_type: Option<String>,
    /// The app's router allows free-form context; the report does not use it.
    #[serde(default, rename = "context")]
    _context: Option<serde::de::IgnoredAny>,
}

pub async fn situation_report(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: SituationInput = input(raw)?;
    let analysis_type = i.analysis_type.unwrap_or_else(|| "situational".to_owned());
    success(json!({ "analysis": state.tactical.situation_report(&caller, &i.user_id, &analysis_type).await? }))
}

pub async fn check_in(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let i: CheckInInput = input(raw)?;
    let r = state.tactical.check_in(&caller, CheckIn { user_id: i.user_id, session_type: i.session_type, stress_indicators: i.stress_indicators }).await?;
    success(json!({
        "session": {
            "sessionId": r.session.session_id, "sessionType": r.session.session_type, "stressLevel": r.session.stress_level,
            "band": r.session.band, "createdAt": r.session.created_at,
        },
        "analysis": r.analysis,
        "recommendations": r.recommendations,
        "supportResources": r.support_resources,
    }))
}
