//! Tactical HQ's vocabulary (clearances, statuses, comm types) and its API types.
//!
//! Request enums are taken as strings and parsed by the service, so that an unknown value is
//! refused (and audited) by the same code path that enforces every other rule.

use std::collections::BTreeMap;

use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

/// Items in a page of a Tactical HQ list when the request names no `limit`.
pub const PER_PAGE: u32 = 50;

/// The most comms one page lists (other lists go to `Page::MAX_LIMIT`).
pub const MAX_COMMS_PER_PAGE: u32 = 100;

/// Parses `value` of `field` with `parse`, naming the allowed values when it fails.
pub fn parse_field<T>(field: &str, value: &str, parse: fn(&str) -> Option<T>, allowed: &str) -> AppResult<T> {
    parse(value.trim()).ok_or_else(|| AppError::invalid_field(field, format!("unknown value `{value}`: use {allowed}")))
}

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $oai:literal { $($variant:ident => $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Enum, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[oai(rename = $oai, rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALLOWED: &'static str = concat!($($text, " "),+);
            /// Every spelling `parse` takes (in lower case): the names and the app's aliases.
            pub const ACCEPTED: &'static [&'static str] = &[$($text, $($alias,)*)+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s.to_ascii_lowercase().as_str() {
                    $($text $(| $alias)* => Some(Self::$variant),)+
                    _ => None,
                }
            }

            pub fn field(field: &str, value: &str) -> AppResult<Self> {
                parse_field(field, value, Self::parse, Self::ALLOWED.trim_end())
            }
        }
    };
}

vocabulary!(
    /// Ordered: a reader sees an item when their clearance is at or above its classification.
    Clearance, "TacticalClearance" {
        Public => "public", Confidential => "confidential", Secret => "secret", TopSecret => "top_secret",
    }
);
vocabulary!(VerifiedStatus, "TacticalVerifiedStatus" { Pending => "pending", Verified => "verified", Denied => "denied" });
vocabulary!(OperationalStatus, "TacticalOperationalStatus" { OffDuty => "off_duty", OnDuty => "on_duty", Deployed => "deployed" });
vocabulary!(ServiceBranch, "TacticalServiceBranch" {
    Army => "army", Navy => "navy", AirForce => "air_force", Marines => "marines", CoastGuard => "coast_guard",
    Police => "police", Fire => "fire", Ems => "ems", Other => "other",
});
vocabulary!(
    /// The seed's three types; the app's words map onto them: alert → emergency; update,
    /// request, status, message, briefing, sitrep → standard.
    MessageType, "TacticalMessageType" {
        Standard => "standard" | "update" | "request" | "status" | "message" | "briefing" | "sitrep",
        Secure => "secure",
        Emergency => "emergency" | "alert",
    }
);
vocabulary!(
    /// The app's two scales share one: routine = low, priority = high, immediate = urgent.
    Priority, "TacticalPriority" {
        Low => "low" | "routine", Normal => "normal", High => "high" | "priority", Urgent => "urgent" | "immediate", Flash => "flash",
    }
);
vocabulary!(Severity, "TacticalSeverity" { Low => "low", Medium => "medium", High => "high", Critical => "critical" });
vocabulary!(IncidentStatus, "TacticalIncidentStatus" { Active => "active", Resolved => "resolved", Escalated => "escalated" });
vocabulary!(
    /// Who a comm is for: its listed recipients, a team, or the sender's whole department.
    Audience, "TacticalAudience" { Direct => "direct", Team => "team", Department => "department" }
);

impl Clearance {
    /// Its position in the order, as SQL compares it.
    pub fn rank(self) -> i64 {
        self as i64
    }
}

// ---- members and teams ---------------------------------------------------------------------

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalRegister", rename_all = "camelCase")]
pub struct Register {
    #[oai(validator(max_length = 255))]
    pub user_id: String,
    /// army, navy, air_force, marines, coast_guard, police, fire, ems, other.
    #[oai(validator(max_length = 32))]
    pub service_branch: String,
    #[oai(validator(max_length = 100))]
    pub rank: Option<String>,
    /// The unit whose broadcasts the member receives; defaults to the service branch.
    #[oai(validator(max_length = 100))]
    pub department: Option<String>,
    #[oai(validator(max_length = 50))]
    pub badge_number: Option<String>,
    /// The clearance asked for (public, confidential, secret, top_secret); a verifier decides.
    #[oai(validator(max_length = 32))]
    pub requested_clearance: Option<String>,
    /// The app's name for `requestedClearance`.
    #[oai(validator(max_length = 32))]
    pub clearance_level: Option<String>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalDocument", rename_all = "camelCase")]
pub struct Document {
    pub document_id: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub uploaded_at: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalProfile", rename_all = "camelCase")]
pub struct Profile {
    pub tactical_user_id: String,
    pub user_id: String,
    pub service_branch: String,
    #[oai(nullable)]
    pub rank: Option<String>,
    pub department: String,
    #[oai(nullable)]
    pub badge_number: Option<String>,
    pub clearance_level: Clearance,
    #[oai(nullable)]
    pub requested_clearance: Option<Clearance>,
    pub verified_status: VerifiedStatus,
    pub operational_status: OperationalStatus,
    /// May verify other members (up to their own clearance).
    pub verifier: bool,
    #[oai(nullable)]
    pub team_id: Option<String>,
    #[oai(nullable)]
    pub verified_by: Option<String>,
    #[oai(nullable)]
    pub verified_at: Option<String>,
    pub documents: Vec<Document>,
    pub created_at: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalVerify", rename_all = "camelCase")]
pub struct Verify {
    /// verified or denied.
    #[oai(validator(max_length = 32))]
    pub status: String,
    /// Required when verifying: at most the verifier's own clearance.
    #[oai(validator(max_length = 32))]
    pub clearance_level: Option<String>,
    /// Admins only: let this member verify others.
    pub verifier: Option<bool>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalStatusUpdate", rename_all = "camelCase")]
pub struct StatusUpdate {
    /// off_duty, on_duty or deployed.
    #[oai(validator(max_length = 32))]
    pub operational_status: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalCreateTeam", rename_all = "camelCase")]
pub struct CreateTeam {
    #[oai(validator(max_length = 100))]
    pub team_name: String,
    #[oai(validator(max_length = 50))]
    pub team_type: Option<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalTeamMemberAdd", rename_all = "camelCase")]
pub struct AddTeamMember {
    #[oai(validator(max_length = 255))]
    pub user_id: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalTeamMember", rename_all = "camelCase")]
pub struct TeamMember {
    pub user_id: String,
    #[oai(nullable)]
    pub rank: Option<String>,
    pub operational_status: OperationalStatus,
    pub lead: bool,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalTeam", rename_all = "camelCase")]
pub struct Team {
    pub team_id: String,
    pub team_name: String,
    #[oai(nullable)]
    pub team_type: Option<String>,
    pub department: String,
    #[oai(nullable)]
    pub lead_user_id: Option<String>,
    /// Members on duty or deployed.
    pub active_member_count: u64,
    pub members: Vec<TeamMember>,
    pub created_at: String,
}

// ---- comms ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalSendComm", rename_all = "camelCase")]
pub struct SendComm {
    /// The caller (the app's secure comms call it `senderId`).
    #[oai(validator(max_length = 255))]
    #[serde(alias = "senderId")]
    pub from_user_id: String,
    /// One recipient (the app's `recipientId`); or `toUserIds`; or `teamId`; none of them is
    /// a broadcast to the sender's department.
    #[oai(validator(max_length = 255))]
    #[serde(alias = "recipientId")]
    pub to_user_id: Option<String>,
    #[oai(validator(max_items = 50))]
    pub to_user_ids: Option<Vec<String>>,
    #[oai(validator(max_length = 64))]
    #[serde(alias = "toTeamId")]
    pub team_id: Option<String>,
    /// standard, secure, emergency, or a word that maps onto them (`MessageType::ACCEPTED`:
    /// alert, update, request, status, message, briefing, sitrep); the app's `commType`.
    #[oai(validator(max_length = 32))]
    #[serde(alias = "commType")]
    pub message_type: Option<String>,
    /// The text (the app's `messageContent`); or `encryptedContent`, client-side ciphertext
    /// stored as opaque text. At most `tactical.max_content_chars` characters (ciphertext: 4×
    /// that in bytes), else 413.
    #[serde(alias = "messageContent")]
    pub content: Option<String>,
    pub encrypted_content: Option<String>,
    /// low, normal (default), high, urgent, flash (and the app's routine, priority, immediate).
    #[oai(validator(max_length = 32))]
    pub priority: Option<String>,
    /// public (default), confidential, secret, top_secret: at most the sender's clearance.
    #[oai(validator(max_length = 32))]
    pub classification: Option<String>,
    #[oai(validator(max_length = 64))]
    pub related_incident_id: Option<String>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalAttachment", rename_all = "camelCase")]
pub struct AttachmentInfo {
    pub file_id: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub uploaded_at: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalComm", rename_all = "camelCase")]
pub struct Comm {
    pub comm_id: String,
    pub from_user_id: String,
    #[oai(nullable)]
    pub sender_rank: Option<String>,
    pub sender_department: String,
    pub audience: Audience,
    pub to_user_ids: Vec<String>,
    #[oai(nullable)]
    pub team_id: Option<String>,
    pub message_type: MessageType,
    /// The word the sender used for the type (alert, briefing, …).
    pub label: String,
    pub priority: Priority,
    pub classification: Clearance,
    /// Sealed at rest with its own AES-256-GCM data key.
    pub encrypted: bool,
    /// `content` holds the text; null when the sender sent client-side ciphertext or when the
    /// stored ciphertext failed its integrity check (see `integrityError`).
    #[oai(nullable)]
    pub content: Option<String>,
    #[oai(nullable)]
    pub encrypted_content: Option<String>,
    #[oai(nullable)]
    pub related_incident_id: Option<String>,
    pub attachments: Vec<AttachmentInfo>,
    /// When the caller marked it read.
    #[oai(nullable)]
    pub read_at: Option<String>,
    #[oai(nullable)]
    pub acknowledged_at: Option<String>,
    pub acknowledged_by: Vec<String>,
    #[oai(nullable)]
    pub integrity_error: Option<String>,
    pub sent_at: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalCommPage", rename_all = "camelCase")]
pub struct CommPage {
    pub comms: Vec<Comm>,
    /// Comms the caller may see that match the filters.
    pub total: u64,
    /// Pass as `cursor` for the next (older) page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CommFilter {
    pub message_type: Option<String>,
    pub priority: Option<String>,
    pub since: Option<String>,
    pub limit: u32,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalReceipt", rename_all = "camelCase")]
pub struct Receipt {
    pub comm_id: String,
    pub user_id: String,
    #[oai(nullable)]
    pub read_at: Option<String>,
    #[oai(nullable)]
    pub acknowledged_at: Option<String>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalDeletion", rename_all = "camelCase")]
pub struct Deletion {
    pub comm_id: String,
    pub deleted_by: String,
    pub deleted_at: String,
    /// Blobs overwritten and removed.
    pub blobs_destroyed: u32,
}

// ---- incidents, dashboard, analyses --------------------------------------------------------

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalReportIncident", rename_all = "camelCase")]
pub struct ReportIncident {
    #[oai(validator(max_length = 200))]
    pub title: String,
    #[oai(validator(max_length = 5000))]
    pub description: String,
    /// low, medium, high, critical.
    #[oai(validator(max_length = 32))]
    pub severity: String,
    #[oai(validator(max_length = 200))]
    pub location: Option<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalIncidentUpdate", rename_all = "camelCase")]
pub struct IncidentUpdate {
    /// active, resolved, escalated.
    #[oai(validator(max_length = 32))]
    pub status: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalIncident", rename_all = "camelCase")]
pub struct Incident {
    pub incident_id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    #[oai(nullable)]
    pub location: Option<String>,
    pub department: String,
    pub reported_by: String,
    pub escalations: u32,
    pub reported_at: String,
    pub updated_at: String,
    #[oai(nullable)]
    pub resolved_at: Option<String>,
}

#[derive(Debug, Clone)]
pub struct IncidentFilter {
    pub status: Option<String>,
    pub severity: Option<String>,
    pub since: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalIncidentPage", rename_all = "camelCase")]
pub struct IncidentPage {
    pub incidents: Vec<Incident>,
    pub total: u64,
    pub has_more: bool,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalTeamSummary", rename_all = "camelCase")]
pub struct TeamSummary {
    pub team_id: String,
    pub team_name: String,
    #[oai(nullable)]
    pub team_type: Option<String>,
    pub active_member_count: u64,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalDashboard", rename_all = "camelCase")]
pub struct Dashboard {
    pub user: Profile,
    /// Active and escalated incidents of the member's department, most serious first.
    pub active_incidents: Vec<Incident>,
    #[oai(nullable)]
    pub team: Option<TeamSummary>,
    /// Comms the member may see from the last 24 hours.
    pub recent_comms: u64,
    pub unread_comms: u64,
    pub threat_level: String,
    pub ai_insights: Vec<String>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalSituation", rename_all = "camelCase")]
pub struct Situation {
    pub incident_id: String,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub score: f64,
    #[oai(nullable)]
    pub location: Option<String>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalTrends", rename_all = "camelCase")]
pub struct Trends {
    pub incidents_last_24h: u32,
    pub incidents_prior_24h: u32,
    pub escalated_now: u32,
    pub emergency_comms_last_24h: u32,
    /// rising, steady or falling.
    pub direction: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalSituationReport", rename_all = "camelCase")]
pub struct SituationReport {
    pub user_id: String,
    pub analysis_type: String,
    /// Σ severity weight × recency × escalation factor; see the README.
    pub threat_score: f64,
    /// low, moderate, high or critical.
    pub overall_threat_level: String,
    /// How many incidents are open (what the app's Tactical HQ screen shows).
    pub active_situations: u32,
    /// The open incidents, most threatening first.
    pub situations: Vec<Situation>,
    pub trends: Trends,
    pub recommendations: Vec<String>,
    /// Written by the configured text provider; null with the offline one.
    #[oai(nullable)]
    pub narrative: Option<String>,
    pub generated_at: String,
}

#[derive(Debug, Clone, Object, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalStressIndicators", rename_all = "camelCase")]
pub struct StressIndicators {
    /// Beats per minute, 25 to 250.
    #[oai(nullable)]
    pub heart_rate: Option<f64>,
    /// 0 (worst) to 10 (best).
    #[oai(nullable)]
    pub sleep_quality: Option<f64>,
    /// 0 (worst) to 10 (best).
    #[oai(nullable)]
    pub mood_rating: Option<f64>,
    /// Up to 20, each 1 to 200 characters.
    #[oai(validator(max_items = 20))]
    #[oai(nullable)]
    pub recent_incidents: Option<Vec<String>>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalCheckIn", rename_all = "camelCase")]
pub struct CheckIn {
    #[oai(validator(max_length = 255))]
    pub user_id: String,
    /// stress_assessment, pre_deployment, post_incident, routine_check, crisis.
    #[oai(validator(max_length = 32))]
    pub session_type: String,
    /// At least one indicator.
    pub stress_indicators: StressIndicators,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalCheckInSession", rename_all = "camelCase")]
pub struct CheckInSession {
    pub session_id: String,
    pub session_type: String,
    /// 0 to 1; see the README for the formula.
    pub stress_level: f64,
    /// low, moderate, high, severe.
    pub band: String,
    pub indicators: StressIndicators,
    pub created_at: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "TacticalCheckInResult", rename_all = "camelCase")]
pub struct CheckInResult {
    pub session: CheckInSession,
    pub analysis: String,
    pub recommendations: Vec<String>,
    /// Support lines (`tactical.support_resources`): name → phone.
    pub support_resources: BTreeMap<String, String>,
}

// ---- audit ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "AuditEntry", rename_all = "camelCase")]
pub struct AuditEntry {
    pub seq: i64,
    pub actor_id: String,
    pub action: String,
    #[oai(nullable)]
    pub target: Option<String>,
    /// ok, denied, not_found, rejected or error.
    pub outcome: String,
    #[oai(nullable)]
    pub detail: Option<String>,
    pub prev_hash: String,
    pub entry_hash: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "AuditPage", rename_all = "camelCase")]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub total: u64,
    pub has_more: bool,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "AuditVerification", rename_all = "camelCase")]
pub struct AuditVerification {
    pub intact: bool,
    pub entries: u64,
    /// The `seq` of the first entry whose hash or link does not match.
    #[oai(nullable)]
    pub first_broken_at: Option<i64>,
}
