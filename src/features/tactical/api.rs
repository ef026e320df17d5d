//! Tactical HQ's REST skin.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Attachment, AttachmentType, Json};
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiRequest, ApiResponse, Multipart, OpenApi};

use super::NewFile;
use super::model::*;
use crate::rest::{ApiTags, JsonBody, read_upload};
use crate::features::tactical::TacticalService;
use crate::auth::BearerAuth;
use crate::error::AppResult;

pub struct TacticalApi;

#[derive(ApiResponse)]
enum Created<T: poem_openapi::types::ToJSON + Send + Sync> {
    #[oai(status = 201)]
    Created(Json<T>),
}

#[derive(ApiResponse)]
enum File {
    /// The decrypted file, with its name.
    #[oai(status = 200)]
    File(Attachment<Vec<u8>>, #[oai(header = "Content-Type")] String),
}

/// A registration with its verification documents.
#[derive(Debug, Multipart)]
#[oai(deny_unknown_fields)]
struct RegisterForm {
    #[oai(rename = "userId")]
    user_id: String,
    #[oai(rename = "serviceBranch")]
    service_branch: String,
    rank: Option<String>,
    department: Option<String>,
    #[oai(rename = "badgeNumber")]
    badge_number: Option<String>,
    #[oai(rename = "requestedClearance")]
    requested_clearance: Option<String>,
    /// Verification documents (ID card, orders…), stored encrypted.
    documents: Vec<Upload>,
}

#[derive(ApiRequest)]
enum RegisterBody {
    Json(JsonBody<Register>),
    Form(RegisterForm),
}

#[derive(Debug, Multipart)]
#[oai(deny_unknown_fields)]
struct DocumentsForm {
    documents: Vec<Upload>,
}

#[derive(Debug, Multipart)]
#[oai(deny_unknown_fields)]
struct AttachmentForm {
    file: Upload,
}

async fn new_file(upload: Upload, limit: u64) -> AppResult<NewFile> {
    let file_name = upload.file_name().unwrap_or("file").to_owned();
    let content_type =
        upload.content_type().map(str::to_owned).unwrap_or_else(|| crate::blobs::content_type_for(&file_name));
    let bytes = read_upload(upload, limit, &format!("`{file_name}`")).await?;
    Ok(NewFile { file_name, content_type, bytes })
}

async fn new_files(uploads: Vec<Upload>, limit: u64) -> AppResult<Vec<NewFile>> {
    let mut files = Vec::with_capacity(uploads.len());
    for upload in uploads {
        files.push(new_file(upload, limit).await?);
    }
    Ok(files)
}

fn download(name: String, content_type: String, bytes: Vec<u8>) -> File {
    File::File(Attachment::new(bytes).attachment_type(AttachmentType::Attachment).filename(name), content_type)
}

fn per_page() -> u32 {
    PER_PAGE
}

#[OpenApi(prefix_path = "/api/tactical", tag = "ApiTags::Tactical")]
impl TacticalApi {
    /// Register for Tactical HQ (status `pending`)
    ///
    /// Needs the Unlimited tier. JSON, or multipart with `documents` (verification documents,
    /// sealed with their own AES-256-GCM keys). `department` defaults to the service branch.
    #[oai(path = "/register", method = "post")]
    async fn register(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, body: RegisterBody) -> AppResult<Created<Profile>> {
        let (register, documents) = match body {
            RegisterBody::Json(json) => (json.0, Vec::new()),
            RegisterBody::Form(form) => (
                Register {
                    user_id: form.user_id,
                    service_branch: form.service_branch,
                    rank: form.rank,
                    department: form.department,
                    badge_number: form.badge_number,
                    requested_clearance: form.requested_clearance,
                    clearance_level: None,
                },
                new_files(form.documents, tactical.max_document_bytes()).await?,
            ),
        };
        Ok(Created::Created(Json(tactical.register(&auth.0, register, documents).await?)))
    }

    /// Add verification documents to your registration
    #[oai(path = "/register/:user_id/documents", method = "post")]
    async fn add_documents(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, user_id: Path<String>, form: DocumentsForm) -> AppResult<Json<Profile>> {
        let files = new_files(form.documents, tactical.max_document_bytes()).await?;
        Ok(Json(tactical.add_documents(&auth.0, &user_id, files).await?))
    }

    /// A member's profile (the member, an admin, or a verifier of their department)
    #[oai(path = "/profile/:user_id", method = "get")]
    async fn profile(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, user_id: Path<String>) -> AppResult<Json<Profile>> {
        Ok(Json(tactical.profile(&auth.0, &user_id).await?))
    }

    /// Download a verification document, decrypted
    #[oai(path = "/members/:user_id/documents/:document_id", method = "get")]
    async fn document(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, user_id: Path<String>, document_id: Path<String>) -> AppResult<File> {
        let (info, bytes) = tactical.document(&auth.0, &user_id, &document_id).await?;
        Ok(download(info.file_name, info.content_type, bytes))
    }

    /// Registrations to review (admins: all; verifiers: their department)
    #[oai(path = "/registrations", method = "get")]
    async fn registrations(
        &self,
        tactical: Data<&Arc<TacticalService>>,
        auth: BearerAuth,
        /// pending, verified or denied.
        status: Query<Option<String>>,
        #[oai(default = "per_page", validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<u32>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "4294967295")))] offset: Query<u32>,
    ) -> AppResult<Json<Vec<Profile>>> {
        Ok(Json(tactical.registrations(&auth.0, status.0, limit.0, offset.0).await?))
    }

    /// Verify or deny a registration, granting a clearance
    ///
    /// Admins, or verified members with the verifier role (their department, up to their own
    /// clearance). Nobody verifies themselves. Verifying a verified member changes their clearance.
    #[oai(path = "/verify/:user_id", method = "put")]
    async fn verify(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, user_id: Path<String>, body: JsonBody<Verify>) -> AppResult<Json<Profile>> {
        Ok(Json(tactical.verify(&auth.0, &user_id, body.0).await?))
    }

    /// Set your operational status (off_duty, on_duty, deployed)
    #[oai(path = "/status/:user_id", method = "put")]
    async fn status(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, user_id: Path<String>, body: JsonBody<StatusUpdate>) -> AppResult<Json<Profile>> {
        Ok(Json(tactical.set_status(&auth.0, &user_id, body.0).await?))
    }

    /// Create a team in your department (you lead it)
    #[oai(path = "/teams", method = "post")]
    async fn create_team(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, body: JsonBody<CreateTeam>) -> AppResult<Created<Team>> {
        Ok(Created::Created(Json(tactical.create_team(&auth.0, body.0).await?)))
    }

    /// Teams of your department (admins name the department)
    #[oai(path = "/teams", method = "get")]
    async fn teams(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, department: Query<Option<String>>) -> AppResult<Json<Vec<Team>>> {
        Ok(Json(tactical.teams(&auth.0, department.0).await?))
    }

    /// A team of your department, with its members
    #[oai(path = "/teams/:team_id", method = "get")]
    async fn team(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, team_id: Path<String>) -> AppResult<Json<Team>> {
        Ok(Json(tactical.team(&auth.0, &team_id).await?))
    }

    /// Add a verified member of the department to the team (its lead or an admin)
    #[oai(path = "/teams/:team_id/members", method = "post")]
    async fn add_member(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, team_id: Path<String>, body: JsonBody<AddTeamMember>) -> AppResult<Json<Team>> {
        Ok(Json(tactical.add_team_member(&auth.0, &team_id, body.0).await?))
    }

    /// Remove a member from the team (its lead, an admin, or the member leaving)
    #[oai(path = "/teams/:team_id/members/:user_id", method = "delete")]
    async fn remove_member(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, team_id: Path<String>, user_id: Path<String>) -> AppResult<Json<Team>> {
        Ok(Json(tactical.remove_team_member(&auth.0, &team_id, &user_id).await?))
    }

    /// Send a comm
    ///
    /// To `toUserId`/`toUserIds`, a `teamId` of yours, or (with neither) your whole department.
    /// Sealed at rest when the type is secure, the classification is above public, or the
    /// content is client-side ciphertext (`encryptedContent`).
    #[oai(path = "/comm/send", method = "post")]
    async fn send(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, body: JsonBody<SendComm>) -> AppResult<Created<Comm>> {
        Ok(Created::Created(Json(tactical.send(&auth.0, body.0, false).await?)))
    }

    /// Send a secure comm (always sealed at rest)
    #[oai(path = "/comm/secure", method = "post")]
    async fn send_secure(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, body: JsonBody<SendComm>) -> AppResult<Created<Comm>> {
        Ok(Created::Created(Json(tactical.send(&auth.0, body.0, true).await?)))
    }

    /// The comms you may see, newest first
    ///
    /// Sent by you, addressed to you, to your team, or broadcast to your department, at or
    /// below your clearance. Anything else is not listed and not counted.
    #[oai(path = "/comm/:user_id", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn comms(
        &self,
        tactical: Data<&Arc<TacticalService>>,
        auth: BearerAuth,
        user_id: Path<String>,
        /// A type (standard, secure, emergency) or the sender's word for it (alert, briefing…).
        #[oai(name = "type")]
        message_type: Query<Option<String>>,
        priority: Query<Option<String>>,
        /// RFC 3339: comms sent at or after it.
        since: Query<Option<String>>,
        /// 1 to 100 (`MAX_COMMS_PER_PAGE`, which the service checks)
        #[oai(default = "per_page", validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<u32>,
        /// `nextCursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> AppResult<Json<CommPage>> {
        let filter = CommFilter { message_type: message_type.0, priority: priority.0, since: since.0, limit: limit.0, cursor: cursor.0 };
        Ok(Json(tactical.comms(&auth.0, &user_id, filter).await?))
    }

    /// The comms you may see (the app's spelling)
    #[oai(path = "/comms/:user_id", method = "get", deprecated)]
    #[allow(clippy::too_many_arguments)]
    async fn comms_alias(
        &self,
        tactical: Data<&Arc<TacticalService>>,
        auth: BearerAuth,
        user_id: Path<String>,
        #[oai(name = "type")] message_type: Query<Option<String>>,
        priority: Query<Option<String>>,
        since: Query<Option<String>>,
        #[oai(default = "per_page", validator(minimum(value = "1"), maximum(value = "100")))] limit: Query<u32>,
        cursor: Query<Option<String>>,
    ) -> AppResult<Json<CommPage>> {
        self.comms(tactical, auth, user_id, message_type, priority, since, limit, cursor).await
    }

    /// Mark a comm read
    #[oai(path = "/comm/:comm_id/read", method = "post")]
    async fn mark_read(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, comm_id: Path<String>) -> AppResult<Json<Receipt>> {
        Ok(Json(tactical.mark(&auth.0, &comm_id, false).await?))
    }

    /// Acknowledge a comm (marks it read too)
    #[oai(path = "/comm/:comm_id/ack", method = "post")]
    async fn acknowledge(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, comm_id: Path<String>) -> AppResult<Json<Receipt>> {
        Ok(Json(tactical.mark(&auth.0, &comm_id, true).await?))
    }

    /// Securely delete a comm (its sender or an admin)
    ///
    /// Destroys the wrapped data key, overwrites and removes the blobs, keeps a tombstone.
    /// `user_id` is the caller, as on the other Tactical HQ routes.
    #[oai(path = "/comm/:user_id/:comm_id", method = "delete")]
    async fn delete(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, user_id: Path<String>, comm_id: Path<String>) -> AppResult<Json<Deletion>> {
        Ok(Json(tactical.delete_as(&auth.0, &user_id, &comm_id).await?))
    }

    /// Securely delete a comm by its id alone (deprecated: use `DELETE /api/tactical/comm/{user_id}/{comm_id}`)
    #[oai(path = "/comm/:user_id", method = "delete", deprecated)]
    async fn delete_by_id(
        &self,
        tactical: Data<&Arc<TacticalService>>,
        auth: BearerAuth,
        /// The comm's id (the path is shared with the list, whose segment is a user id).
        #[oai(name = "user_id")]
        comm_id: Path<String>,
    ) -> AppResult<Json<Deletion>> {
        Ok(Json(tactical.delete(&auth.0, &comm_id).await?))
    }

    /// Attach a file to your comm (sealed with the comm's key)
    #[oai(path = "/comm/:comm_id/attachments", method = "post")]
    async fn attach(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, comm_id: Path<String>, form: AttachmentForm) -> AppResult<Created<AttachmentInfo>> {
        let file = new_file(form.file, tactical.max_attachment_bytes()).await?;
        Ok(Created::Created(Json(tactical.attach(&auth.0, &comm_id, file).await?)))
    }

    /// Download an attachment, decrypted
    #[oai(path = "/comm/:comm_id/attachments/:file_id", method = "get")]
    async fn attachment(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, comm_id: Path<String>, file_id: Path<String>) -> AppResult<File> {
        let (info, bytes) = tactical.download(&auth.0, &comm_id, &file_id).await?;
        Ok(download(info.file_name, info.content_type, bytes))
    }

    /// Report an incident in your department
    #[oai(path = "/incident/report", method = "post")]
    async fn report(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, body: JsonBody<ReportIncident>) -> AppResult<Created<Incident>> {
        Ok(Created::Created(Json(tactical.report_incident(&auth.0, body.0).await?)))
    }

    /// Change an incident's status (active, resolved, escalated)
    #[oai(path = "/incident/:incident_id/status", method = "put")]
    async fn update_incident(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, incident_id: Path<String>, body: JsonBody<IncidentUpdate>) -> AppResult<Json<Incident>> {
        Ok(Json(tactical.update_incident(&auth.0, &incident_id, body.0).await?))
    }

    /// Incidents of your department, newest first
    #[oai(path = "/incidents", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn incidents(
        &self,
        tactical: Data<&Arc<TacticalService>>,
        auth: BearerAuth,
        status: Query<Option<String>>,
        severity: Query<Option<String>>,
        since: Query<Option<String>>,
        #[oai(default = "per_page", validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<u32>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "4294967295")))] offset: Query<u32>,
    ) -> AppResult<Json<IncidentPage>> {
        let filter = IncidentFilter { status: status.0, severity: severity.0, since: since.0, limit: limit.0, offset: offset.0 };
        Ok(Json(tactical.incidents(&auth.0, filter).await?))
    }

    /// Your dashboard: profile, active incidents, team, recent comms, insights
    #[oai(path = "/dashboard/:user_id", method = "get")]
    async fn dashboard(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, user_id: Path<String>) -> AppResult<Json<Dashboard>> {
        Ok(Json(tactical.dashboard(&auth.0, &user_id).await?))
    }

    /// Situation report over the incidents and comms you may see
    ///
    /// `overallThreatLevel` from Σ severity weight (1, 2, 4, 8) × recency (half-life 24 h) ×
    /// (1 + 0.5 × escalations), plus 0.5 × recency per emergency comm of the last 24 h:
    /// under 2 low, under 6 moderate, under 12 high, else critical.
    #[oai(path = "/analysis/sr", method = "get")]
    async fn situation_report(
        &self,
        tactical: Data<&Arc<TacticalService>>,
        auth: BearerAuth,
        #[oai(name = "userId")] user_id: Query<String>,
        /// `situational` (the default, and the one type there is).
        #[oai(name = "analysisType")]
        analysis_type: Query<Option<String>>,
    ) -> AppResult<Json<SituationReport>> {
        Ok(Json(tactical.situation_report(&auth.0, &user_id, analysis_type.0.as_deref()).await?))
    }

    /// Stress-resilience check-in (stored for you alone)
    ///
    /// stressLevel = weighted mean of heart (0.25), sleep (0.25), mood (0.30) and incidents
    /// (0.20) components in 0..1, plus 0.15 for a crisis and 0.05 after an incident; see the README.
    #[oai(path = "/analysis/sr", method = "post")]
    async fn check_in(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth, body: JsonBody<CheckIn>) -> AppResult<Created<CheckInResult>> {
        Ok(Created::Created(Json(tactical.check_in(&auth.0, body.0).await?)))
    }

    /// Your stress-resilience check-ins (nobody else, not even an admin, reads them)
    #[oai(path = "/analysis/sr/checkins/:user_id", method = "get")]
    async fn check_ins(
        &self,
        tactical: Data<&Arc<TacticalService>>,
        auth: BearerAuth,
        user_id: Path<String>,
        #[oai(default = "per_page", validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<u32>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "4294967295")))] offset: Query<u32>,
    ) -> AppResult<Json<Vec<CheckInSession>>> {
        Ok(Json(tactical.check_ins(&auth.0, &user_id, limit.0, offset.0).await?))
    }

    /// The audit log, newest first (admins)
    #[oai(path = "/audit", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn audit(
        &self,
        tactical: Data<&Arc<TacticalService>>,
        auth: BearerAuth,
        actor: Query<Option<String>>,
        action: Query<Option<String>>,
        /// ok, denied, not_found, rejected or error.
        outcome: Query<Option<String>>,
        since: Query<Option<String>>,
        #[oai(default = "per_page", validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<u32>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "4294967295")))] offset: Query<u32>,
    ) -> AppResult<Json<AuditPage>> {
        let filter = AuditFilter { actor: actor.0, action: action.0, outcome: outcome.0, since: since.0, limit: limit.0, offset: offset.0 };
        Ok(Json(tactical.audit_entries(&auth.0, filter).await?))
    }

    /// Verify the audit log's hash chain (admins)
    #[oai(path = "/audit/verify", method = "get")]
    async fn verify_audit(&self, tactical: Data<&Arc<TacticalService>>, auth: BearerAuth) -> AppResult<Json<AuditVerification>> {
        Ok(Json(tactical.verify_audit(&auth.0).await?))
    }
}
