//! The append-only, hash-chained audit log of Tactical HQ.
//!
//! Each entry's hash is SHA-256 over its own fields and the previous entry's hash, so editing,
//! removing or reordering any entry breaks every link after it. The database refuses UPDATE and
//! DELETE on the table (triggers); verification ([`ChainCheck`]) detects what someone with the file
//! does anyway.
//!
//! Successes are appended by the service inside the transaction that does the work (each write
//! of the store takes its entry). Everything refused, wherever it was refused (a bad token, a
//! body that would not parse, a rule in the service), is appended by `audit_guard::guard`, the
//! middleware around the tactical routes: the service marks the request as recorded, and the
//! guard records what was not.
//!
//! The chain itself is pure and lives here: [`next_entry`] makes the entry that follows the
//! newest one, [`ChainCheck`] checks entries in order. The stores call them.

use std::cell::RefCell;

use poem::http::StatusCode;

use super::model::{AuditEntry, AuditVerification};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry to append.
#[derive(Debug, Clone)]
pub struct Record {
    pub actor: String,
    pub action: &'static str,
    pub target: Option<String>,
    pub outcome: &'static str,
    pub detail: Option<String>,
}

impl Record {
    pub fn ok(actor: &str, action: &'static str, target: impl Into<String>) -> Self {
        Self { actor: actor.to_owned(), action, target: Some(target.into()), outcome: "ok", detail: None }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

#[allow(clippy::too_many_arguments)]
fn entry_hash(seq: i64, created_at: &str, actor: &str, action: &str, target: Option<&str>, outcome: &str, detail: Option<&str>, prev: &str) -> String {
    let canonical = serde_json::json!([seq, created_at, actor, action, target, outcome, detail, prev]).to_string();
    crate::crypto::sha256_hex(canonical.as_bytes())
}

/// The entry recording `r` at `created_at` after the newest entry, given as its `seq` and
/// `entry_hash` (`None` for an empty log). The caller inserts it in the same atomic step in
/// which it read the newest entry, so no two entries share a predecessor.
pub fn next_entry(newest: Option<(i64, String)>, r: &Record, created_at: String) -> AuditEntry {
    let (seq, prev) = match newest {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_owned()),
    };
    let hash = entry_hash(seq, &created_at, &r.actor, r.action, r.target.as_deref(), r.outcome, r.detail.as_deref(), &prev);
    AuditEntry {
        seq,
        actor_id: r.actor.clone(),
        action: r.action.to_owned(),
        target: r.target.clone(),
        outcome: r.outcome.to_owned(),
        detail: r.detail.clone(),
        prev_hash: prev,
        entry_hash: hash,
        created_at,
    }
}

/// Checks a chain one entry at a time, oldest first, recomputing every hash and link.
pub struct ChainCheck {
    prev: String,
    entries: u64,
    first_broken_at: Option<i64>,
}

impl Default for ChainCheck {
    fn default() -> Self {
        Self { prev: GENESIS.to_owned(), entries: 0, first_broken_at: None }
    }
}

impl ChainCheck {
    pub fn push(&mut self, e: AuditEntry) {
        self.entries += 1;
        let expected = entry_hash(e.seq, &e.created_at, &e.actor_id, &e.action, e.target.as_deref(), &e.outcome, e.detail.as_deref(), &e.prev_hash);
        if self.first_broken_at.is_none() && (e.prev_hash != self.prev || e.entry_hash != expected) {
            self.first_broken_at = Some(e.seq);
        }
        self.prev = e.entry_hash;
    }

    pub fn finish(self) -> AuditVerification {
        AuditVerification { intact: self.first_broken_at.is_none(), entries: self.entries, first_broken_at: self.first_broken_at }
    }
}

// ---- recording refusals --------------------------------------------------------------------

#[derive(Default)]
pub(super) struct RequestAudit {
    pub(super) action: Option<&'static str>,
    pub(super) target: Option<String>,
    pub(super) recorded: bool,
}

tokio::task_local! {
    pub(super) static CURRENT: RefCell<RequestAudit>;
}

/// Longest target, and longest id within a target, an entry keeps: callers choose ids and
/// paths, and the chain can never be pruned.
const MAX_TARGET_CHARS: usize = 200;
const MAX_ID_CHARS: usize = 64;

fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// What a refused request aimed at: its route template and the ids the template names, e.g.
/// `GET /api/tactical/comm/:comm_id comm_id=c1`; without a matched route, the path itself.
pub(super) fn route_target(method: &str, path: &str, pattern: Option<&str>) -> String {
    let Some(pattern) = pattern.filter(|p| !p.contains('*')) else {
        return bounded(&format!("{method} {path}"), MAX_TARGET_CHARS);
    };
    let ids: Vec<String> = pattern
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(name, value)| {
            let name = name.strip_prefix(':').or_else(|| name.strip_prefix('{').and_then(|n| n.strip_suffix('}')))?;
            Some(format!("{name}={}", bounded(value, MAX_ID_CHARS)))
        })
        .collect();
    let target = if ids.is_empty() { format!("{method} {pattern}") } else { format!("{method} {pattern} {}", ids.join(" ")) };
    bounded(&target, MAX_TARGET_CHARS)
}

/// Names the action (and its target) the current request attempts, for the refusal entry.
pub fn attempt(action: &'static str, target: &str) {
    let _ = CURRENT.try_with(|c| {
        let mut c = c.borrow_mut();
        c.action = Some(action);
        c.target = Some(bounded(target, MAX_TARGET_CHARS));
    });
}

/// Says the service has appended this request's entry itself.
pub fn recorded() {
    let _ = CURRENT.try_with(|c| c.borrow_mut().recorded = true);
}

pub(super) fn is_tactical(path: &str) -> bool {
    path.starts_with("/api/tactical") || path.starts_with("/api/trpc/r3al.tactical.")
}

pub(super) fn outcome_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "denied",
        StatusCode::NOT_FOUND => "not_found",
        s if s.is_client_error() => "rejected",
        _ => "error",
    }
}

/// The machine code of an error body: REST's `error.code`, or tRPC's `error.json.data.appCode`
/// (else its tRPC `code`).
pub(super) fn error_code(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = v.get("error")?;
    let code = error
        .get("code")
        .filter(|c| c.is_string())
        .or_else(|| error.pointer("/json/data/appCode"))
        .or_else(|| error.pointer("/json/data/code"))?;
    code.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let newest = out.last().map(|e| (e.seq, e.entry_hash.clone()));
            out.push(next_entry(newest, &Record::ok("u1", "comm.send", format!("c{i}")).detail("x"), format!("2026-01-01T00:00:0{i}.000Z")));
        }
        out
    }

    fn check(entries: Vec<AuditEntry>) -> AuditVerification {
        let mut check = ChainCheck::default();
        entries.into_iter().for_each(|e| check.push(e));
        check.finish()
    }

    #[test]
    fn chain_verifies_and_detects_an_edit_and_a_removal() {
        let entries = chain(5);
        assert_eq!(entries[0].prev_hash, GENESIS);
        assert_eq!(entries[1].prev_hash, entries[0].entry_hash);
        let report = check(entries.clone());
        assert_eq!((report.intact, report.entries, report.first_broken_at), (true, 5, None));
        let mut edited = entries.clone();
        edited[2].outcome = "denied".into();
        assert_eq!(check(edited).first_broken_at, Some(3));
        let mut removed = entries;
        removed.remove(1);
        assert_eq!(check(removed).first_broken_at, Some(3));
    }

    #[test]
    fn targets_are_the_route_and_its_bounded_ids() {
        let long = "A".repeat(60_000);
        let target = route_target("GET", &format!("/api/tactical/comm/{long}"), Some("/api/tactical/comm/:comm_id"));
        assert!(target.starts_with("GET /api/tactical/comm/:comm_id comm_id=AAAA"), "{target}");
        assert!(target.chars().count() <= MAX_TARGET_CHARS + 1, "{} characters", target.chars().count());
        assert_eq!(route_target("POST", "/api/tactical/teams", Some("/api/tactical/teams")), "POST /api/tactical/teams");
        let unmatched = route_target("GET", &format!("/api/trpc/r3al.tactical.{long}"), None);
        assert!(unmatched.chars().count() <= MAX_TARGET_CHARS + 1);
    }

    #[test]
    fn error_codes_are_read_from_both_skins() {
        assert_eq!(error_code(br#"{"error":{"code":"not_verified","message":"m"}}"#).as_deref(), Some("not_verified"));
        assert_eq!(error_code(br#"{"error":{"json":{"message":"m","code":-32603,"data":{"code":"FORBIDDEN"}}}}"#).as_deref(), Some("FORBIDDEN"));
        assert_eq!(
            error_code(br#"{"error":{"json":{"code":-32603,"data":{"code":"FORBIDDEN","appCode":"not_verified"}}}}"#).as_deref(),
            Some("not_verified")
        );
        assert_eq!(error_code(b"not json"), None);
    }
}
