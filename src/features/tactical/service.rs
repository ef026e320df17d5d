//! Tactical HQ's rules for members: who may enter (an Unlimited subscription and a verified
//! profile), registration with encrypted verification documents, verification and clearance,
//! operational status and teams.

use std::sync::Arc;

use crate::events::EventSignal;

use super::audit::{self, Record};
use super::model::*;
use super::sealing;
use super::store::{FileRow, KeyHolder, NewDocument, ProfileRow, Reader, TacticalStore, TeamRow, Verification};
use crate::ai::text::TextProvider;
use crate::auth::{Caller, Role};
use crate::config::TacticalConfig;
use crate::crypto::envelope::DataKey;
use crate::crypto::keyring::SharedKeyring;
use crate::error::{AppError, AppResult};
use crate::features::fields::{required, trimmed};
use crate::features::storage::StorageService;
use crate::features::subscription::SubscriptionService;
use crate::features::subscription::plan::Feature;
use crate::blobs::{BlobPath, BlobStore, Bucket};
pub(super) use crate::clock::now_text;

pub(super) const BUCKET: Bucket = Bucket::Tactical;

/// A file received from a client, before it is sealed.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

pub struct TacticalService {
    pub(super) store: Arc<dyn TacticalStore>,
    pub(super) storage: Arc<StorageService>,
    pub(super) subscriptions: Arc<SubscriptionService>,
    pub(super) text: Arc<dyn TextProvider>,
    pub(super) keys: Arc<SharedKeyring>,
    pub(super) config: TacticalConfig,
    /// Poked after a write whose triggers appended live events (a comm, an incident).
    pub(super) events: EventSignal,
}

/// A verified member acting now.
pub(super) struct Member {
    pub profile: ProfileRow,
    pub clearance: Clearance,
}

impl Member {
    pub fn reader(&self) -> Reader {
        Reader {
            user_id: self.profile.user_id.clone(),
            rank: self.clearance.rank(),
            team_id: self.profile.team_id.clone(),
            department: self.profile.department.clone(),
        }
    }
}


pub(super) fn member_not_found(user_id: &str) -> AppError {
    AppError::NotFound { code: "member_not_found", message: format!("`{user_id}` has no Tactical HQ profile") }
}

/// Tactical data is read and written by its owner only: not even an admin acts for a member.
pub(super) fn ensure_self(caller: &Caller, user_id: &str) -> AppResult<()> {
    if caller.user_id == user_id {
        Ok(())
    } else {
        Err(AppError::forbidden_code("not_yourself", format!("Tactical HQ acts only as the caller; `{user_id}` is someone else")))
    }
}

/// The storage folder of a department: its name in lower case, with anything but letters and
/// digits turned into dashes.
pub(super) fn department_folder(department: &str) -> String {
    let slug: String = department.chars().map(|ch| if ch.is_ascii_alphanumeric() { ch.to_ascii_lowercase() } else { '-' }).collect();
    let slug = slug.split('-').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("-");
    if slug.is_empty() { "unassigned".into() } else { slug.chars().take(64).collect() }
}

fn clearance_of(p: &ProfileRow) -> Clearance {
    Clearance::parse(&p.clearance).unwrap_or(Clearance::Public)
}

impl TacticalService {
    /// Largest verification document an upload may be, in bytes.
    pub fn max_document_bytes(&self) -> u64 {
        self.config.max_document_bytes
    }

    /// Largest comm attachment an upload may be, in bytes.
    pub fn max_attachment_bytes(&self) -> u64 {
        self.config.max_attachment_bytes
    }

    pub fn new(
        store: Arc<dyn TacticalStore>,
        storage: Arc<StorageService>,
        subscriptions: Arc<SubscriptionService>,
        text: Arc<dyn TextProvider>,
        keys: Arc<SharedKeyring>,
        config: TacticalConfig,
        events: EventSignal,
    ) -> Self {
        Self { store, storage, subscriptions, text, keys, config, events }
    }

    pub(super) fn blobs(&self) -> &Arc<dyn BlobStore> {
        self.storage.blobs()
    }

    pub(super) async fn profile_row(&self, user_id: &str) -> AppResult<Option<ProfileRow>> {
        self.store.profile(user_id).await
    }

    /// The caller as a member who may use Tactical HQ: an Unlimited subscription and a verified profile.
    pub(super) async fn member(&self, caller: &Caller) -> AppResult<Member> {
        self.subscriptions.require(&caller.user_id, Feature::Tactical).await?;
        let profile = self.profile_row(&caller.user_id).await?.ok_or_else(|| {
            AppError::forbidden_code("not_registered", "register for Tactical HQ first (POST /api/tactical/register)")
        })?;
        match VerifiedStatus::parse(&profile.verified_status) {
            Some(VerifiedStatus::Verified) => Ok(Member { clearance: clearance_of(&profile), profile }),
            Some(VerifiedStatus::Denied) => Err(AppError::forbidden_code("registration_denied", "your Tactical HQ registration was denied")),
            _ => Err(AppError::forbidden_code("not_verified", "your Tactical HQ registration is waiting for verification")),
        }
    }

    /// Appends to the audit chain (one entry, on its own).
    pub(super) async fn record(&self, record: Record) -> AppResult<()> {
        self.store.append_audit(record).await?;
        audit::recorded();
        Ok(())
    }

    // ---- profiles ------------------------------------------------------------------------

    async fn documents_of(&self, user_id: &str) -> AppResult<Vec<Document>> {
        let rows = self.store.documents(user_id).await?;
        rows.iter().map(|row| self.document_view(user_id, row)).collect()
    }

    fn document_key(&self, user_id: &str, row: &FileRow) -> AppResult<DataKey> {
        let (wrapped, key_id) = (row.wrapped_key.as_deref().unwrap_or_default(), row.key_id.as_deref().unwrap_or_default());
        sealing::unwrap(&self.keys, wrapped, key_id, &sealing::key_aad(KeyHolder::Document.aad_name(), &row.id), "verification document key")
            .map_err(|e| self.named(e, user_id, &row.id))
    }

    fn named(&self, err: AppError, user_id: &str, document_id: &str) -> AppError {
        match err {
            AppError::Integrity { message } => AppError::Integrity { message: format!("document {document_id} of {user_id}: {message}") },
            other => other,
        }
    }

    fn document_view(&self, user_id: &str, row: &FileRow) -> AppResult<Document> {
        let dk = self.document_key(user_id, row)?;
        let name = dk
            .open(&sealing::document_name_aad(user_id, &row.id), &row.name_sealed)
            .map_err(|e| self.named(sealing::integrity_error("document name", e), user_id, &row.id))?;
        Ok(Document {
            document_id: row.id.clone(),
            file_name: String::from_utf8_lossy(&name).into_owned(),
            content_type: row.content_type.clone(),
            size_bytes: row.size_bytes,
            uploaded_at: row.created_at.clone(),
        })
    }

    pub(super) async fn profile_view(&self, p: ProfileRow) -> AppResult<Profile> {
        let documents = self.documents_of(&p.user_id).await?;
        Ok(Profile {
            tactical_user_id: p.tactical_user_id.clone(),
            service_branch: p.service_branch.clone(),
            rank: p.rank.clone(),
            department: p.department.clone(),
            badge_number: p.badge_number.clone(),
            clearance_level: clearance_of(&p),
            requested_clearance: p.requested_clearance.as_deref().and_then(Clearance::parse),
            verified_status: VerifiedStatus::parse(&p.verified_status).unwrap_or(VerifiedStatus::Pending),
            operational_status: OperationalStatus::parse(&p.operational_status).unwrap_or(OperationalStatus::OffDuty),
            verifier: p.is_verifier,
            team_id: p.team_id.clone(),
            verified_by: p.verified_by.clone(),
            verified_at: p.verified_at.clone(),
            documents,
            created_at: p.registered_at.clone(),
            user_id: p.user_id,
        })
    }

    /// Seals each document under its own data key and stores the blob; the rows are returned
    /// for the caller's transaction. Blobs of a failed request are removed by `discard`.
    async fn seal_documents(&self, profile: &ProfileRow, files: Vec<NewFile>) -> AppResult<Vec<(FileRow, DataKey)>> {
        if files.len() > self.config.max_documents {
            return Err(AppError::invalid_field("documents", format!("at most {} at a time", self.config.max_documents)));
        }
        let mut sealed = Vec::with_capacity(files.len());
        for f in &files {
            if f.bytes.len() as u64 > self.config.max_document_bytes {
                return Err(AppError::PayloadTooLarge {
                    message: format!("document `{}` is {} bytes; the limit is {} bytes", f.file_name, f.bytes.len(), self.config.max_document_bytes),
                });
            }
            if f.bytes.is_empty() {
                return Err(AppError::invalid_field("documents", format!("document `{}` is empty", f.file_name)));
            }
        }
        for f in files {
            let id = uuid::Uuid::now_v7().to_string();
            let dk = DataKey::generate();
            let path = format!(
                "departments/{}/members/{}/documents/{id}.enc",
                department_folder(&profile.department),
                profile.tactical_user_id
            );
            let name = required("fileName", f.file_name, 255)?;
            let row = FileRow {
                name_sealed: dk.seal(&sealing::document_name_aad(&profile.user_id, &id), name.as_bytes()),
                content_type: f.content_type,
                size_bytes: f.bytes.len() as u64,
                blob_path: path.clone(),
                created_at: now_text(),
                owner: profile.user_id.clone(),
                wrapped_key: None,
                key_id: None,
                id: id.clone(),
            };
            let blob = dk.seal(&sealing::document_aad(&profile.user_id, &id), &f.bytes);
            if let Err(e) = self.blobs().put_bytes(BUCKET, &BlobPath::parse(&path)?, blob).await {
                let written: Vec<String> = sealed.iter().map(|(r, _): &(FileRow, DataKey)| r.blob_path.clone()).collect();
                self.discard(written).await;
                return Err(e.into());
            }
            sealed.push((row, dk));
        }
        Ok(sealed)
    }

    /// Shreds blobs a failed request wrote.
    pub(super) async fn discard(&self, paths: Vec<String>) {
        for path in paths {
            if let Ok(p) = BlobPath::parse(&path)
                && let Err(e) = self.blobs().shred(BUCKET, &p).await
            {
                tracing::warn!(path, error = %e, "could not remove the blob of a failed tactical request");
            }
        }
    }

    pub async fn register(&self, caller: &Caller, r: Register, documents: Vec<NewFile>) -> AppResult<Profile> {
        audit::attempt("member.register", &r.user_id);
        caller.ensure_acts_for(&r.user_id)?;
        self.subscriptions.require(&r.user_id, Feature::Tactical).await?;
        let branch = ServiceBranch::field("serviceBranch", &r.service_branch)?;
        let requested = match r.requested_clearance.or(r.clearance_level) {
            Some(c) => Some(Clearance::field("requestedClearance", &c)?),
            None => None,
        };
        let now = now_text();
        let profile = ProfileRow {
            user_id: r.user_id.clone(),
            tactical_user_id: uuid::Uuid::now_v7().to_string(),
            rank: trimmed("rank", r.rank, 100)?,
            department: trimmed("department", r.department, 100)?.unwrap_or_else(|| branch.as_str().to_owned()),
            service_branch: branch.as_str().into(),
            badge_number: trimmed("badgeNumber", r.badge_number, 50)?,
            clearance: Clearance::Public.as_str().into(),
            requested_clearance: requested.map(|c| c.as_str().to_owned()),
            verified_status: VerifiedStatus::Pending.as_str().into(),
            operational_status: OperationalStatus::OffDuty.as_str().into(),
            is_verifier: false,
            team_id: None,
            verified_by: None,
            verified_at: None,
            registered_at: now,
        };
        if self.profile_row(&r.user_id).await?.is_some() {
            return Err(already_registered(&r.user_id));
        }
        let row = profile.clone();
        let detail = format!("branch={} department={} documents={}", row.service_branch, row.department, documents.len());
        let record = Record::ok(&caller.user_id, "member.register", &r.user_id).detail(detail);
        self.store_documents(&profile, documents, record, Some(row)).await?;
        self.profile_view(profile).await
    }

    /// Adds verification documents to the caller's own registration.
    pub async fn add_documents(&self, caller: &Caller, user_id: &str, documents: Vec<NewFile>) -> AppResult<Profile> {
        audit::attempt("member.documents", user_id);
        ensure_self(caller, user_id)?;
        let profile = self.profile_row(user_id).await?.ok_or_else(|| member_not_found(user_id))?;
        if documents.is_empty() {
            return Err(AppError::invalid_field("documents", "attach at least one file"));
        }
        let record = Record::ok(&caller.user_id, "member.documents", user_id).detail(format!("documents={}", documents.len()));
        self.store_documents(&profile, documents, record, None).await?;
        self.profile_view(profile).await
    }

    /// Seals and stores `documents`, then in one transaction inserts `registration` (a new
    /// member's profile) when given, their rows and `record`. The blobs are removed when it fails.
    async fn store_documents(&self, profile: &ProfileRow, documents: Vec<NewFile>, record: Record, registration: Option<ProfileRow>) -> AppResult<()> {
        let sealed = self.seal_documents(profile, documents).await?;
        let paths: Vec<String> = sealed.iter().map(|(row, _)| row.blob_path.clone()).collect();
        let documents: Vec<NewDocument> = sealed
            .into_iter()
            .map(|(row, dk)| {
                let aad = sealing::key_aad(KeyHolder::Document.aad_name(), &row.id);
                NewDocument { row, key: sealing::wrap_current(self.keys.clone(), dk, aad) }
            })
            .collect();
        let written = match registration {
            Some(new) => {
                let user_id = new.user_id.clone();
                match self.store.register(new, documents, record).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(already_registered(&user_id)),
                    Err(e) => Err(e),
                }
            }
            None => self.store.insert_documents(documents, record).await,
        };
        if let Err(e) = written {
            self.discard(paths).await;
            return Err(e);
        }
        audit::recorded();
        Ok(())
    }

    /// Whether `caller` may review `target`'s registration: an admin, or a verified verifier
    /// of the same department whose clearance is at least the target's.
    async fn reviewer(&self, caller: &Caller, target: &ProfileRow) -> AppResult<Option<Clearance>> {
        if caller.role == Role::Admin {
            return Ok(None);
        }
        let me = self.member(caller).await?;
        if !me.profile.is_verifier {
            return Err(AppError::forbidden_code("not_a_verifier", "only admins and members with the verifier role review registrations"));
        }
        if me.profile.department != target.department {
            return Err(AppError::forbidden_code("other_department", "verifiers review members of their own department"));
        }
        if clearance_of(target) > me.clearance {
            return Err(AppError::forbidden_code("clearance_above_own", "the member holds a clearance above yours"));
        }
        Ok(Some(me.clearance))
    }

    pub async fn profile(&self, caller: &Caller, user_id: &str) -> AppResult<Profile> {
        audit::attempt("member.read", user_id);
        let p = self.profile_row(user_id).await?.ok_or_else(|| member_not_found(user_id))?;
        if caller.user_id != user_id {
            self.reviewer(caller, &p).await?;
        }
        let view = self.profile_view(p).await?;
        self.record(Record::ok(&caller.user_id, "member.read", user_id)).await?;
        Ok(view)
    }

    /// Registrations by status, for admins (all departments) and verifiers (their own).
    pub async fn registrations(&self, caller: &Caller, status: Option<String>, limit: u32, offset: u32) -> AppResult<Vec<Profile>> {
        audit::attempt("member.list", status.as_deref().unwrap_or("all"));
        let status = status.map(|s| VerifiedStatus::field("status", &s)).transpose()?;
        let department = if caller.role == Role::Admin {
            None
        } else {
            let me = self.member(caller).await?;
            if !me.profile.is_verifier {
                return Err(AppError::forbidden_code("not_a_verifier", "only admins and members with the verifier role review registrations"));
            }
            Some(me.profile.department)
        };
        let page = crate::features::page::Page::new(limit, offset)?;
        let rows = self.store.profiles(status.map(VerifiedStatus::as_str), department.as_deref(), page.limit, page.offset).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.profile_view(row).await?);
        }
        self.record(Record::ok(&caller.user_id, "member.list", "registrations").detail(format!("returned={}", out.len()))).await?;
        Ok(out)
    }

    /// A verification document, decrypted for its member and their reviewers.
    pub async fn document(&self, caller: &Caller, user_id: &str, document_id: &str) -> AppResult<(Document, Vec<u8>)> {
        audit::attempt("member.document_download", document_id);
        let p = self.profile_row(user_id).await?.ok_or_else(|| member_not_found(user_id))?;
        if caller.user_id != user_id {
            self.reviewer(caller, &p).await?;
        }
        let row = self
            .store
            .document(user_id, document_id)
            .await?
            .ok_or_else(|| AppError::NotFound { code: "document_not_found", message: format!("no document `{document_id}`") })?;
        let info = self.document_view(user_id, &row)?;
        let sealed = self.blobs().get_bytes(BUCKET, &BlobPath::parse(&row.blob_path)?).await?;
        let bytes = self
            .document_key(user_id, &row)?
            .open(&sealing::document_aad(user_id, &row.id), &sealed)
            .map_err(|e| self.named(sealing::integrity_error("document", e), user_id, &row.id))?;
        self.record(Record::ok(&caller.user_id, "member.document_download", document_id)).await?;
        Ok((info, bytes))
    }

    /// Verifies or denies a registration and sets the clearance.
    pub async fn verify(&self, caller: &Caller, user_id: &str, v: Verify) -> AppResult<Profile> {
        audit::attempt("member.verify", user_id);
        if caller.user_id == user_id {
            return Err(AppError::forbidden_code("self_verification", "nobody verifies themselves"));
        }
        let target = self.profile_row(user_id).await?.ok_or_else(|| member_not_found(user_id))?;
        let ceiling = self.reviewer(caller, &target).await?;
        let status = VerifiedStatus::field("status", &v.status)?;
        let clearance = match status {
            VerifiedStatus::Pending => return Err(AppError::invalid_field("status", "use verified or denied")),
            VerifiedStatus::Denied => Clearance::Public,
            VerifiedStatus::Verified => {
                let level = v.clearance_level.ok_or_else(|| AppError::invalid_field("clearanceLevel", "is required to verify"))?;
                Clearance::field("clearanceLevel", &level)?
            }
        };
        if let Some(own) = ceiling
            && clearance > own
        {
            return Err(AppError::forbidden_code(
                "clearance_above_own",
                format!("you hold {}: you cannot grant {}", own.as_str(), clearance.as_str()),
            ));
        }
        if v.verifier.is_some() && caller.role != Role::Admin {
            return Err(AppError::forbidden_code("admin_only", "only admins grant or remove the verifier role"));
        }
        let verifier = status == VerifiedStatus::Verified && v.verifier.unwrap_or(target.is_verifier);
        let was_verified = target.verified_status == VerifiedStatus::Verified.as_str();
        let action = if was_verified && status == VerifiedStatus::Verified { "member.clearance_change" } else { "member.verify" };
        let detail = format!("status={} clearance={} (was {}/{}) verifier={verifier}", status.as_str(), clearance.as_str(), target.verified_status, target.clearance);
        let verification = Verification {
            status: status.as_str().into(),
            clearance: clearance.as_str().into(),
            verifier,
            by: caller.user_id.clone(),
            at: now_text(),
        };
        self.store.set_verification(user_id, verification, Record::ok(&caller.user_id, action, user_id).detail(detail)).await?;
        audit::recorded();
        let updated = self.profile_row(user_id).await?.ok_or_else(|| member_not_found(user_id))?;
        self.profile_view(updated).await
    }

    pub async fn set_status(&self, caller: &Caller, user_id: &str, u: StatusUpdate) -> AppResult<Profile> {
        audit::attempt("member.status", user_id);
        ensure_self(caller, user_id)?;
        let me = self.member(caller).await?;
        let status = OperationalStatus::field("operationalStatus", &u.operational_status)?;
        let record = Record::ok(&caller.user_id, "member.status", user_id).detail(status.as_str());
        self.store.set_operational_status(user_id, status.as_str(), &now_text(), record).await?;
        audit::recorded();
        let mut profile = me.profile;
        profile.operational_status = status.as_str().into();
        self.profile_view(profile).await
    }

    // ---- teams ---------------------------------------------------------------------------

    pub(super) async fn team_view(&self, t: TeamRow) -> AppResult<Team> {
        let members = self.store.team_members(&t.team_id).await?;
        let members: Vec<TeamMember> = members
            .into_iter()
            .map(|m| TeamMember {
                lead: t.lead_user_id.as_deref() == Some(m.user_id.as_str()),
                operational_status: OperationalStatus::parse(&m.operational_status).unwrap_or(OperationalStatus::OffDuty),
                rank: m.rank,
                user_id: m.user_id,
            })
            .collect();
        Ok(Team {
            active_member_count: members.iter().filter(|m| m.operational_status != OperationalStatus::OffDuty).count() as u64,
            members,
            team_id: t.team_id,
            team_name: t.team_name,
            team_type: t.team_type,
            department: t.department,
            lead_user_id: t.lead_user_id,
            created_at: t.created_at,
        })
    }

    async fn team_row(&self, team_id: &str) -> AppResult<TeamRow> {
        self.store.team(team_id).await?.ok_or_else(|| team_not_found(team_id))
    }

    /// The team, when the caller is an admin or a member of its department.
    async fn team_in_reach(&self, caller: &Caller, team_id: &str) -> AppResult<(TeamRow, Option<Member>)> {
        if caller.role == Role::Admin {
            return Ok((self.team_row(team_id).await?, None));
        }
        let me = self.member(caller).await?;
        let team = self.team_row(team_id).await?;
        if team.department != me.profile.department {
            return Err(team_not_found(team_id));
        }
        Ok((team, Some(me)))
    }

    pub async fn create_team(&self, caller: &Caller, t: CreateTeam) -> AppResult<Team> {
        audit::attempt("team.create", &t.team_name);
        let me = self.member(caller).await?;
        let row = TeamRow {
            team_id: uuid::Uuid::now_v7().to_string(),
            team_name: required("teamName", t.team_name, 100)?,
            team_type: trimmed("teamType", t.team_type, 50)?,
            department: me.profile.department.clone(),
            lead_user_id: Some(me.profile.user_id.clone()),
            created_at: now_text(),
        };
        let record = Record::ok(&caller.user_id, "team.create", &row.team_id).detail(row.team_name.clone());
        self.store.create_team(row.clone(), record).await?;
        audit::recorded();
        self.team_view(row).await
    }

    pub async fn teams(&self, caller: &Caller, department: Option<String>) -> AppResult<Vec<Team>> {
        audit::attempt("team.list", department.as_deref().unwrap_or("own"));
        let department = if caller.role == Role::Admin {
            department.ok_or_else(|| AppError::invalid_field("department", "admins name the department to list"))?
        } else {
            self.member(caller).await?.profile.department
        };
        let rows = self.store.teams_of_department(&department).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.team_view(row).await?);
        }
        self.record(Record::ok(&caller.user_id, "team.list", department)).await?;
        Ok(out)
    }

    pub async fn team(&self, caller: &Caller, team_id: &str) -> AppResult<Team> {
        audit::attempt("team.read", team_id);
        let (team, _) = self.team_in_reach(caller, team_id).await?;
        let view = self.team_view(team).await?;
        self.record(Record::ok(&caller.user_id, "team.read", team_id)).await?;
        Ok(view)
    }

    /// Adds a verified member of the team's department (its lead or an admin).
    pub async fn add_team_member(&self, caller: &Caller, team_id: &str, a: AddTeamMember) -> AppResult<Team> {
        audit::attempt("team.add_member", team_id);
        let (team, me) = self.team_in_reach(caller, team_id).await?;
        if me.is_some() && team.lead_user_id.as_deref() != Some(caller.user_id.as_str()) {
            return Err(AppError::forbidden_code("not_team_lead", "only the team's lead or an admin adds members"));
        }
        // Someone without a profile and a member of another department get the same answer:
        // adding is no way to learn who is a member elsewhere.
        let target = self.profile_row(&a.user_id).await?.filter(|t| t.department == team.department).ok_or_else(|| AppError::Unprocessable {
            code: "not_in_department",
            message: format!("`{}` is not a member of this team's department", a.user_id),
            details: None,
        })?;
        if target.verified_status != VerifiedStatus::Verified.as_str() {
            return Err(AppError::Unprocessable { code: "not_verified", message: format!("`{}` is not verified", a.user_id), details: None });
        }
        let record = Record::ok(&caller.user_id, "team.add_member", team_id).detail(a.user_id.clone());
        self.store.join_team(&a.user_id, team_id, &now_text(), record).await?;
        audit::recorded();
        self.team_view(team).await
    }

    /// Removes a member (the lead or an admin; or the member leaving).
    pub async fn remove_team_member(&self, caller: &Caller, team_id: &str, user_id: &str) -> AppResult<Team> {
        audit::attempt("team.remove_member", team_id);
        let (mut team, me) = self.team_in_reach(caller, team_id).await?;
        let is_lead = team.lead_user_id.as_deref() == Some(caller.user_id.as_str());
        if me.is_some() && !is_lead && caller.user_id != user_id {
            return Err(AppError::forbidden_code("not_team_lead", "only the team's lead or an admin removes members"));
        }
        let target = self.profile_row(user_id).await?.ok_or_else(|| member_not_found(user_id))?;
        if target.team_id.as_deref() != Some(team_id) {
            return Err(AppError::NotFound { code: "not_in_team", message: format!("`{user_id}` is not in this team") });
        }
        let lead_leaves = team.lead_user_id.as_deref() == Some(user_id);
        let record = Record::ok(&caller.user_id, "team.remove_member", team_id).detail(user_id);
        self.store.leave_team(user_id, team_id, lead_leaves, &now_text(), record).await?;
        audit::recorded();
        if lead_leaves {
            team.lead_user_id = None;
        }
        self.team_view(team).await
    }
}

fn already_registered(user_id: &str) -> AppError {
    AppError::Conflict { code: "already_registered", message: format!("`{user_id}` is already registered for Tactical HQ") }
}

pub(super) fn team_not_found(team_id: &str) -> AppError {
    AppError::NotFound { code: "team_not_found", message: format!("no team `{team_id}` in your department") }
}

#[cfg(test)]
mod tests {
    use super::department_folder;

    #[test]
    fn department_folders_are_safe_path_segments() {
        assert_eq!(department_folder("Metro PD — Unit 7"), "metro-pd-unit-7");
        assert_eq!(department_folder("../../etc"), "etc");
        assert_eq!(department_folder("  "), "unassigned");
    }
}
