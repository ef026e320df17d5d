//! Tactical comms: sending (sealed at rest when secure or classified), the clearance-gated
//! list, receipts, encrypted attachments, and secure deletion.

use base64::Engine;
use futures_util::StreamExt;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::audit::{self, Record};
use super::model::*;
use super::sealing;
use super::service::{BUCKET, Member, NewFile, TacticalService, department_folder, ensure_self, now_text};
use super::store::{AudienceFacts, CommExtras, CommQuery, CommRow, FileRow, KeyHolder, VisibleComms};
use crate::auth::{Caller, Role};
use crate::crypto::envelope::DataKey;
use crate::error::{AppError, AppResult};
use crate::blobs::BlobPath;

const MAX_RECIPIENTS: usize = 50;
const MAX_ATTACHMENTS: usize = 20;

fn comm_not_found(comm_id: &str) -> AppError {
    AppError::NotFound { code: "comm_not_found", message: format!("no comm `{comm_id}` that you may see") }
}

/// Where a comm's blobs live: `departments/{dept}/comms/{commId}/`.
fn comm_folder(department: &str, comm_id: &str) -> String {
    format!("departments/{}/comms/{comm_id}", department_folder(department))
}

/// The explicit recipients: `toUserId` and `toUserIds`, de-duplicated.
fn recipients_of(s: &SendComm) -> AppResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for id in s.to_user_id.iter().chain(s.to_user_ids.iter().flatten()) {
        let id = id.trim();
        if id.is_empty() {
            return Err(AppError::invalid_field("toUserIds", "recipient ids must not be empty"));
        }
        if !out.iter().any(|o| o == id) {
            out.push(id.to_owned());
        }
    }
    if out.len() > MAX_RECIPIENTS {
        return Err(AppError::invalid_field("toUserIds", format!("at most {MAX_RECIPIENTS} recipients")));
    }
    Ok(out)
}

fn encode_cursor(row: &CommRow) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", row.sent_at, row.comm_id))
}

fn decode_cursor(cursor: &str) -> AppResult<(String, String)> {
    let bad = || AppError::invalid_field("cursor", "is not a cursor this server returned");
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?).map_err(|_| bad())?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    Ok((at.to_owned(), id.to_owned()))
}

/// An RFC 3339 time from a filter, normalised to the stored form.
pub(super) fn since_field(field: &str, value: Option<String>) -> AppResult<Option<String>> {
    value
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .map_err(|_| AppError::invalid_field(field, "must be an RFC 3339 time such as 2026-01-31T12:00:00Z"))
        })
        .transpose()
}

/// What the sender sent: text, or client-side ciphertext kept opaque.
enum Body {
    Text(String),
    ClientCiphertext(String),
}

impl Body {
    fn bytes(&self) -> &[u8] {
        match self {
            Body::Text(t) | Body::ClientCiphertext(t) => t.as_bytes(),
        }
    }
}

impl TacticalService {
    fn body_of(&self, s: &mut SendComm) -> AppResult<Body> {
        let max = self.config.max_content_chars;
        match (s.content.take(), s.encrypted_content.take()) {
            (Some(_), Some(_)) => Err(AppError::invalid_field("content", "give content or encryptedContent, not both")),
            (None, None) => Err(AppError::invalid_field("content", "is required (or encryptedContent)")),
            (Some(text), None) if text.trim().is_empty() => Err(AppError::invalid_field("content", "must not be empty")),
            (Some(text), None) if text.chars().count() > max => {
                Err(AppError::PayloadTooLarge { message: format!("content: {} characters; the limit is {max}", text.chars().count()) })
            }
            (Some(text), None) => Ok(Body::Text(text)),
            (None, Some(c)) if c.trim().is_empty() => Err(AppError::invalid_field("encryptedContent", "must not be empty")),
            // Ciphertext of `max` characters, base64-encoded with a nonce and tag, fits in 4×.
            (None, Some(c)) if c.len() > max * 4 => {
                Err(AppError::PayloadTooLarge { message: format!("encryptedContent: {} bytes; the limit is {}", c.len(), max * 4) })
            }
            (None, Some(c)) => Ok(Body::ClientCiphertext(c)),
        }
    }

    /// Sends a comm. Through `secure` (the `/comm/secure` route) the content is always sealed;
    /// otherwise it is sealed when the type is secure, the classification is above public, or
    /// the sender sent ciphertext.
    pub async fn send(&self, caller: &Caller, mut s: SendComm, secure: bool) -> AppResult<Comm> {
        let action = if secure { "comm.send_secure" } else { "comm.send" };
        audit::attempt(action, &s.from_user_id);
        ensure_self(caller, &s.from_user_id)?;
        let me = self.member(caller).await?;
        let default_type = if secure { "secure" } else { "standard" };
        let word = s.message_type.clone().unwrap_or_else(|| default_type.into()).trim().to_ascii_lowercase();
        let message_type = MessageType::field("messageType", &word)?;
        let priority = Priority::field("priority", s.priority.as_deref().unwrap_or("normal"))?;
        let classification = Clearance::field("classification", s.classification.as_deref().unwrap_or("public"))?;
        if classification > me.clearance {
            return Err(AppError::forbidden_code(
                "clearance_exceeded",
                format!("you hold {}: you cannot send {} traffic", me.clearance.as_str(), classification.as_str()),
            ));
        }
        let body = self.body_of(&mut s)?;
        let recipients = recipients_of(&s)?;
        let team_id = s.team_id.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
        let audience = match (recipients.is_empty(), &team_id) {
            (false, Some(_)) => return Err(AppError::invalid_field("teamId", "give recipients or a team, not both")),
            (false, None) => Audience::Direct,
            (true, Some(_)) => Audience::Team,
            (true, None) => Audience::Department,
        };
        let encrypted = secure
            || message_type == MessageType::Secure
            || classification > Clearance::Public
            || matches!(body, Body::ClientCiphertext(_));
        let comm_id = uuid::Uuid::now_v7().to_string();
        let folder = comm_folder(&me.profile.department, &comm_id);
        let mut row = CommRow {
            comm_id: comm_id.clone(),
            from_user_id: me.profile.user_id.clone(),
            audience: audience.as_str().into(),
            to_user_id: (recipients.len() == 1).then(|| recipients[0].clone()),
            team_id: team_id.clone(),
            department: me.profile.department.clone(),
            message_type: message_type.as_str().into(),
            label: word,
            priority: priority.as_str().into(),
            classification: classification.as_str().into(),
            content: None,
            is_encrypted: encrypted,
            client_encrypted: matches!(body, Body::ClientCiphertext(_)),
            wrapped_key: None,
            key_id: None,
            blob_path: None,
            related_incident_id: s.related_incident_id.clone().map(|i| i.trim().to_owned()).filter(|i| !i.is_empty()),
            sent_at: now_text(),
            deleted_at: None,
        };
        let mut written = Vec::new();
        let data_key = if encrypted {
            let dk = DataKey::generate();
            let message = format!("{folder}/message.enc");
            let sealed = dk.seal(&sealing::message_aad(&comm_id, classification.as_str()), body.bytes());
            self.blobs().put_bytes(BUCKET, &BlobPath::parse(&message)?, sealed).await?;
            written.push(message.clone());
            let metadata = serde_json::json!({
                "commId": comm_id, "classification": classification.as_str(), "algorithm": "AES-256-GCM",
                "keyWrapping": "AES-256-GCM under the master key", "content": if row.client_encrypted { "client_ciphertext" } else { "text" },
                "sentAt": row.sent_at,
            });
            let meta_path = format!("{folder}/metadata.json");
            if let Err(e) = self.blobs().put_bytes(BUCKET, &BlobPath::parse(&meta_path)?, metadata.to_string().into_bytes()).await {
                self.discard(written).await;
                return Err(e.into());
            }
            written.push(meta_path);
            row.blob_path = Some(message);
            Some(dk)
        } else {
            if let Body::Text(text) = &body {
                row.content = Some(text.clone());
            }
            None
        };
        let detail = format!(
            "audience={} recipients={} classification={} type={} encrypted={}",
            row.audience, recipients.len(), row.classification, row.message_type, row.is_encrypted
        );
        let record = Record::ok(&caller.user_id, action, &row.comm_id).detail(detail);
        let key = data_key.map(|dk| sealing::wrap_current(self.keys.clone(), dk, sealing::key_aad(KeyHolder::Comm.aad_name(), &comm_id)));
        let check = {
            let row = row.clone();
            Box::new(move |facts: &AudienceFacts| check_audience(facts, &row, classification))
        };
        if let Err(e) = self.store.send_comm(row.clone(), recipients.clone(), check, key, record).await {
            self.discard(written).await;
            return Err(e);
        }
        self.events.appended();
        audit::recorded();
        let (text, ciphertext) = match body {
            Body::Text(t) => (Some(t), None),
            Body::ClientCiphertext(c) => (None, Some(c)),
        };
        Ok(Comm {
            comm_id: row.comm_id,
            from_user_id: row.from_user_id,
            sender_rank: me.profile.rank.clone(),
            sender_department: row.department,
            audience,
            to_user_ids: recipients,
            team_id: row.team_id,
            message_type,
            label: row.label,
            priority,
            classification,
            encrypted,
            content: text,
            encrypted_content: ciphertext,
            related_incident_id: row.related_incident_id,
            attachments: Vec::new(),
            read_at: None,
            acknowledged_at: None,
            acknowledged_by: Vec::new(),
            integrity_error: None,
            sent_at: row.sent_at,
        })
    }

    /// The comms `user_id` (the caller) may see, newest first.
    pub async fn comms(&self, caller: &Caller, user_id: &str, f: CommFilter) -> AppResult<CommPage> {
        audit::attempt("comm.list", user_id);
        ensure_self(caller, user_id)?;
        let me = self.member(caller).await?;
        if !(1..=MAX_COMMS_PER_PAGE).contains(&f.limit) {
            return Err(AppError::invalid_field("limit", format!("must be 1 to {MAX_COMMS_PER_PAGE}")));
        }
        let message_type = f.message_type.as_deref().map(|t| MessageType::field("type", t)).transpose()?;
        let label = f.message_type.as_deref().map(|t| t.trim().to_ascii_lowercase());
        let priority = f.priority.as_deref().map(|p| Priority::field("priority", p)).transpose()?;
        let cursor = f.cursor.as_deref().map(decode_cursor).transpose()?;
        let filter = CommFilter { since: since_field("since", f.since.clone())?, ..f };
        let query = CommQuery {
            message_type: message_type.map(|t| t.as_str().to_owned()),
            label,
            priority: priority.map(|p| p.as_str().to_owned()),
            since: filter.since,
            cursor,
            limit: filter.limit,
        };
        let VisibleComms { comms: rows, total, more } = self.store.visible_comms(&me.reader(), &query).await?;
        let next_cursor = if more { rows.last().map(|(row, _)| encode_cursor(row)) } else { None };
        // Blobs are read a few at a time: a page is up to 100 sealed comms.
        let comms: Vec<Comm> = futures_util::stream::iter(rows)
            .map(|(row, extra)| self.comm_view(&me, row, extra))
            .buffered(8)
            .collect()
            .await;
        self.record(Record::ok(&caller.user_id, "comm.list", user_id).detail(format!("returned={}", comms.len()))).await?;
        Ok(CommPage { comms, total, next_cursor })
    }

    /// A comm for its reader: decrypted when sealed. A ciphertext that fails to open is
    /// reported on the item (and logged), not as garbage and not by failing the whole list.
    pub(super) async fn comm_view(&self, me: &Member, row: CommRow, extra: CommExtras) -> Comm {
        let mut integrity_error = None;
        let (mut content, mut ciphertext) = (row.content.clone(), None);
        let key = match self.comm_key(&row) {
            Ok(key) => key,
            Err(e) => {
                integrity_error = Some(e.to_string());
                None
            }
        };
        if row.is_encrypted && integrity_error.is_none() {
            match self.open_message(&row, key.as_ref()).await {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    if row.client_encrypted { ciphertext = Some(text) } else { content = Some(text) }
                }
                Err(e) => integrity_error = Some(e.to_string()),
            }
        }
        let mut attachments = Vec::with_capacity(extra.attachments.len());
        for a in &extra.attachments {
            match key.as_ref().ok_or_else(|| missing_key(&row.comm_id)).and_then(|dk| attachment_name(dk, &row.comm_id, a)) {
                Ok(name) => attachments.push(AttachmentInfo {
                    file_id: a.id.clone(),
                    file_name: name,
                    content_type: a.content_type.clone(),
                    size_bytes: a.size_bytes,
                    uploaded_at: a.created_at.clone(),
                }),
                Err(e) => integrity_error = Some(e.to_string()),
            }
        }
        if let Some(e) = &integrity_error {
            tracing::error!(comm_id = %row.comm_id, error = %e, "a tactical comm failed its integrity check");
        }
        let mine = extra.receipts.iter().find(|r| r.user_id == me.profile.user_id);
        Comm {
            read_at: mine.and_then(|r| r.read_at.clone()),
            acknowledged_at: mine.and_then(|r| r.acknowledged_at.clone()),
            acknowledged_by: extra.receipts.iter().filter(|r| r.acknowledged_at.is_some()).map(|r| r.user_id.clone()).collect(),
            sender_rank: extra.sender_rank,
            audience: Audience::parse(&row.audience).unwrap_or(Audience::Direct),
            to_user_ids: extra.recipients,
            message_type: MessageType::parse(&row.message_type).unwrap_or(MessageType::Standard),
            priority: Priority::parse(&row.priority).unwrap_or(Priority::Normal),
            classification: Clearance::parse(&row.classification).unwrap_or(Clearance::TopSecret),
            encrypted: row.is_encrypted,
            content: if integrity_error.is_some() { None } else { content },
            encrypted_content: if integrity_error.is_some() { None } else { ciphertext },
            attachments,
            integrity_error,
            comm_id: row.comm_id,
            from_user_id: row.from_user_id,
            sender_department: row.department,
            team_id: row.team_id,
            label: row.label,
            related_incident_id: row.related_incident_id,
            sent_at: row.sent_at,
        }
    }

    /// The comm's data key, if it has one.
    fn comm_key(&self, row: &CommRow) -> AppResult<Option<DataKey>> {
        match (&row.wrapped_key, &row.key_id) {
            (Some(wrapped), Some(key_id)) => {
                let what = format!("data key of comm {}", row.comm_id);
                sealing::unwrap(&self.keys, wrapped, key_id, &sealing::key_aad(KeyHolder::Comm.aad_name(), &row.comm_id), &what).map(Some)
            }
            _ if row.is_encrypted => Err(missing_key(&row.comm_id)),
            _ => Ok(None),
        }
    }

    async fn open_message(&self, row: &CommRow, key: Option<&DataKey>) -> AppResult<Vec<u8>> {
        let dk = key.ok_or_else(|| missing_key(&row.comm_id))?;
        let path = row.blob_path.as_deref().ok_or_else(|| missing_key(&row.comm_id))?;
        let sealed = self.blobs().get_bytes(BUCKET, &BlobPath::parse(path)?).await.map_err(|e| match e {
            crate::blobs::StoreError::NotFound => AppError::Integrity { message: format!("comm {}: its message blob is missing", row.comm_id) },
            other => other.into(),
        })?;
        dk.open(&sealing::message_aad(&row.comm_id, &row.classification), &sealed)
            .map_err(|e| sealing::integrity_error(&format!("message of comm {}", row.comm_id), e))
    }

    /// The comm if the caller may see it.
    async fn visible(&self, me: &Member, comm_id: &str) -> AppResult<CommRow> {
        self.store.visible_comm(&me.reader(), comm_id).await?.ok_or_else(|| comm_not_found(comm_id))
    }

    /// Records that the caller read (and with `acknowledge`, acknowledged) a comm.
    pub async fn mark(&self, caller: &Caller, comm_id: &str, acknowledge: bool) -> AppResult<Receipt> {
        let action = if acknowledge { "comm.acknowledge" } else { "comm.read" };
        audit::attempt(action, comm_id);
        let me = self.member(caller).await?;
        let row = self.visible(&me, comm_id).await?;
        let record = Record::ok(&caller.user_id, action, &row.comm_id);
        let receipt = self.store.record_receipt(&row.comm_id, &caller.user_id, acknowledge, &now_text(), record).await?;
        audit::recorded();
        Ok(Receipt { comm_id: row.comm_id, user_id: receipt.user_id, read_at: receipt.read_at, acknowledged_at: receipt.acknowledged_at })
    }

    /// Attaches a file to one of the caller's own comms, sealed with the comm's data key.
    pub async fn attach(&self, caller: &Caller, comm_id: &str, file: NewFile) -> AppResult<AttachmentInfo> {
        audit::attempt("comm.attach", comm_id);
        let me = self.member(caller).await?;
        let row = self.visible(&me, comm_id).await?;
        if row.from_user_id != caller.user_id {
            return Err(AppError::forbidden_code("not_sender", "only the comm's sender attaches files"));
        }
        if file.bytes.len() as u64 > self.config.max_attachment_bytes {
            return Err(AppError::PayloadTooLarge {
                message: format!("the attachment is {} bytes; the limit is {} bytes", file.bytes.len(), self.config.max_attachment_bytes),
            });
        }
        if file.bytes.is_empty() {
            return Err(AppError::invalid_field("file", "is empty"));
        }
        let name = crate::features::fields::required("fileName", file.file_name, 255)?;
        let (existing, fresh) = match self.comm_key(&row)? {
            Some(dk) => (dk, false),
            None => (DataKey::generate(), true),
        };
        let file_id = uuid::Uuid::now_v7().to_string();
        let path = format!("{}/attachments/{file_id}.enc", comm_folder(&row.department, comm_id));
        let sealed = existing.seal(&sealing::attachment_aad(comm_id, &row.classification, &file_id), &file.bytes);
        self.blobs().put_bytes(BUCKET, &BlobPath::parse(&path)?, sealed).await?;
        let attachment = FileRow {
            name_sealed: existing.seal(&sealing::attachment_name_aad(comm_id, &file_id), name.as_bytes()),
            content_type: file.content_type,
            size_bytes: file.bytes.len() as u64,
            blob_path: path.clone(),
            created_at: now_text(),
            owner: comm_id.to_owned(),
            id: file_id,
            wrapped_key: None,
            key_id: None,
        };
        let id = comm_id.to_owned();
        let check = Box::new(move |current: Option<&CommRow>, attachments: usize| {
            let current = current.filter(|c| c.deleted_at.is_none()).ok_or_else(|| comm_not_found(&id))?;
            if attachments >= MAX_ATTACHMENTS {
                return Err(AppError::Conflict { code: "too_many_attachments", message: format!("a comm holds at most {MAX_ATTACHMENTS} attachments") });
            }
            if fresh && current.wrapped_key.is_some() {
                return Err(AppError::Conflict { code: "concurrent_attachment", message: "another attachment was added at the same time: retry".into() });
            }
            Ok(())
        });
        let key = fresh.then(|| sealing::wrap_current(self.keys.clone(), existing, sealing::key_aad(KeyHolder::Comm.aad_name(), comm_id)));
        let record = Record::ok(&caller.user_id, "comm.attach", comm_id).detail(format!("file={} bytes={}", attachment.id, attachment.size_bytes));
        let outcome = self.store.insert_attachment(attachment.clone(), &caller.user_id, check, key, record).await;
        if let Err(e) = outcome {
            self.discard(vec![path]).await;
            return Err(e);
        }
        audit::recorded();
        Ok(AttachmentInfo {
            file_id: attachment.id,
            file_name: name,
            content_type: attachment.content_type,
            size_bytes: attachment.size_bytes,
            uploaded_at: attachment.created_at,
        })
    }

    /// An attachment, decrypted for a reader who may see its comm.
    pub async fn download(&self, caller: &Caller, comm_id: &str, file_id: &str) -> AppResult<(AttachmentInfo, Vec<u8>)> {
        audit::attempt("comm.download", comm_id);
        let me = self.member(caller).await?;
        let row = self.visible(&me, comm_id).await?;
        let a = self
            .store
            .attachment(comm_id, file_id)
            .await?
            .ok_or_else(|| AppError::NotFound { code: "attachment_not_found", message: format!("no attachment `{file_id}` on this comm") })?;
        let dk = self.comm_key(&row)?.ok_or_else(|| missing_key(comm_id))?;
        let name = attachment_name(&dk, comm_id, &a)?;
        let sealed = self.blobs().get_bytes(BUCKET, &BlobPath::parse(&a.blob_path)?).await?;
        let bytes = dk
            .open(&sealing::attachment_aad(comm_id, &row.classification, &a.id), &sealed)
            .map_err(|e| sealing::integrity_error(&format!("attachment {file_id} of comm {comm_id}"), e))?;
        self.record(Record::ok(&caller.user_id, "comm.download", comm_id).detail(format!("file={file_id}"))).await?;
        let info = AttachmentInfo { file_id: a.id, file_name: name, content_type: a.content_type, size_bytes: a.size_bytes, uploaded_at: a.created_at };
        Ok((info, bytes))
    }

    /// [`Self::delete`], by a caller who names themselves (`user_id`), as every Tactical HQ
    /// route that carries a user id does.
    pub async fn delete_as(&self, caller: &Caller, user_id: &str, comm_id: &str) -> AppResult<Deletion> {
        ensure_self(caller, user_id)?;
        self.delete(caller, comm_id).await
    }

    /// Secure deletion (the sender or an admin): the wrapped data key is destroyed in the row,
    /// the blobs are overwritten and removed, and a tombstone (who, when) stays. Without the
    /// data key the content cannot be recovered, not even with the master key and a copy of the
    /// blobs.
    pub async fn delete(&self, caller: &Caller, comm_id: &str) -> AppResult<Deletion> {
        audit::attempt("comm.delete", comm_id);
        let row = self.store.comm(comm_id).await?.filter(|r| r.deleted_at.is_none()).ok_or_else(|| comm_not_found(comm_id))?;
        if row.from_user_id != caller.user_id && caller.role != Role::Admin {
            let may_see = match self.member(caller).await {
                Ok(me) => self.visible(&me, comm_id).await.is_ok(),
                Err(_) => false,
            };
            return Err(if may_see {
                AppError::forbidden_code("not_sender", "only its sender or an admin deletes a comm")
            } else {
                comm_not_found(comm_id)
            });
        }
        let (id, actor, deleted_at) = (comm_id.to_owned(), caller.user_id.clone(), now_text());
        let record = Box::new(move |blobs: &[String]| Record::ok(&actor, "comm.delete", &id).detail(format!("blobs={}", blobs.len())));
        let blobs = self
            .store
            .delete_comm_securely(comm_id, &caller.user_id, &deleted_at, record)
            .await?
            .ok_or_else(|| comm_not_found(comm_id))?;
        audit::recorded();
        let folder = comm_folder(&row.department, comm_id);
        let mut destroyed = 0;
        for path in blobs.into_iter().chain([format!("{folder}/metadata.json")]) {
            match BlobPath::parse(&path) {
                Ok(p) => match self.blobs().shred(BUCKET, &p).await {
                    Ok(true) => destroyed += 1,
                    Ok(false) => {}
                    Err(e) => tracing::error!(path, error = %e, "could not shred a deleted comm's blob (its key is destroyed)"),
                },
                Err(e) => tracing::error!(path, error = %e, "a deleted comm names an invalid blob path"),
            }
        }
        Ok(Deletion { comm_id: comm_id.to_owned(), deleted_by: caller.user_id.clone(), deleted_at, blobs_destroyed: destroyed })
    }
}

fn missing_key(comm_id: &str) -> AppError {
    AppError::Integrity { message: format!("comm {comm_id} is sealed but its data key is missing") }
}

fn attachment_name(dk: &DataKey, comm_id: &str, a: &FileRow) -> AppResult<String> {
    let name = dk
        .open(&sealing::attachment_name_aad(comm_id, &a.id), &a.name_sealed)
        .map_err(|e| sealing::integrity_error(&format!("name of attachment {} of comm {comm_id}", a.id), e))?;
    Ok(String::from_utf8_lossy(&name).into_owned())
}

/// Inside the sending transaction: every listed recipient is a verified member cleared for the
/// classification; a team is the sender's own; a related incident is of the sender's department.
fn check_audience(facts: &AudienceFacts, row: &CommRow, classification: Clearance) -> AppResult<()> {
    let mut unknown = Vec::new();
    let mut uncleared = Vec::new();
    for (id, profile) in &facts.recipients {
        match profile {
            Some(p) if p.verified_status == VerifiedStatus::Verified.as_str() => {
                if Clearance::parse(&p.clearance).unwrap_or(Clearance::Public) < classification {
                    uncleared.push(id.clone());
                }
            }
            _ => unknown.push(id.clone()),
        }
    }
    if !unknown.is_empty() {
        return Err(AppError::Unprocessable {
            code: "unknown_recipient",
            message: format!("not verified Tactical HQ members: {}", unknown.join(", ")),
            details: Some(serde_json::json!({ "field": "toUserIds", "recipients": unknown })),
        });
    }
    if !uncleared.is_empty() {
        return Err(AppError::Unprocessable {
            code: "recipient_not_cleared",
            message: format!("not cleared for {}: {}", classification.as_str(), uncleared.join(", ")),
            details: Some(serde_json::json!({ "field": "toUserIds", "recipients": uncleared })),
        });
    }
    if let Some(team) = &row.team_id {
        let sender_team: Option<&str> = facts.sender.as_ref().and_then(|p| p.team_id.as_deref());
        if sender_team != Some(team.as_str()) {
            return Err(AppError::forbidden_code("not_team_member", format!("you are not a member of team `{team}`")));
        }
    }
    if let Some(incident) = &row.related_incident_id {
        match &facts.incident {
            Some(i) if i.department == row.department => {}
            _ => {
                return Err(AppError::Unprocessable {
                    code: "unknown_incident",
                    message: format!("no incident `{incident}` in your department"),
                    details: Some(serde_json::json!({ "field": "relatedIncidentId" })),
                });
            }
        }
    }
    Ok(())
}
