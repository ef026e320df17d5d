//! The append-only, hash-chained audit log of Tactical HQ.
//!
//! Each entry's hash is SHA-256 over its own fields and the previous entry's hash, so editing,
//! removing or reordering any entry breaks every link after it. The database refuses UPDATE and
//! DELETE on the table (triggers); `verify` detects what someone with the file does anyway.
//!
//! Successes are appended by the service inside the transaction that does the work. Everything
//! refused, wherever it was refused (a bad token, a body that would not parse, a rule in the
//! service), is appended by [`guard`], the middleware around the tactical routes: the service
//! marks the request as recorded, and `guard` records what was not.

use std::cell::RefCell;
use std::sync::Arc;

use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, PathPattern, Request, Response};
use rusqlite::{Connection, OptionalExtension, params};

use super::model::{AuditEntry, AuditFilter, AuditVerification};
use super::TacticalService;
use crate::auth::TokenService;
use crate::db::{CachedSql, now_text};
use crate::error::AppError;
use crate::telemetry::metrics::TACTICAL_ANONYMOUS_REFUSED;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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

/// Appends `r` after the newest entry. Run it inside the writing transaction (`BEGIN
/// IMMEDIATE`), so no two appends read the same predecessor.
pub fn append(c: &Connection, r: &Record) -> rusqlite::Result<()> {
    let last: Option<(i64, String)> =
        c.query_row_cached("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |row| Ok((row.get(0)?, row.get(1)?))).optional()?;
    let (seq, prev) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_owned()),
    };
    let created_at = now_text();
    let hash = entry_hash(seq, &created_at, &r.actor, r.action, r.target.as_deref(), r.outcome, r.detail.as_deref(), &prev);
    c.execute_cached(
        "INSERT INTO audit_log (seq, actor_id, action, target, outcome, detail, prev_hash, entry_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![seq, r.actor, r.action, r.target, r.outcome, r.detail, prev, hash, created_at],
    )?;
    Ok(())
}

fn entry_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.get(0)?,
        actor_id: row.get(1)?,
        action: row.get(2)?,
        target: row.get(3)?,
        outcome: row.get(4)?,
        detail: row.get(5)?,
        prev_hash: row.get(6)?,
        entry_hash: row.get(7)?,
        created_at: row.get(8)?,
    })
}

const COLUMNS: &str = "seq, actor_id, action, target, outcome, detail, prev_hash, entry_hash, created_at";

/// Walks the whole chain in order, recomputing every hash and link.
pub fn verify(c: &Connection) -> rusqlite::Result<AuditVerification> {
    let mut stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let (mut prev, mut entries, mut first_broken_at) = (GENESIS.to_owned(), 0u64, None);
    while let Some(row) = rows.next()? {
        let e = entry_of(row)?;
        entries += 1;
        let expected = entry_hash(e.seq, &e.created_at, &e.actor_id, &e.action, e.target.as_deref(), &e.outcome, e.detail.as_deref(), &e.prev_hash);
        if first_broken_at.is_none() && (e.prev_hash != prev || e.entry_hash != expected) {
            first_broken_at = Some(e.seq);
        }
        prev = e.entry_hash;
    }
    Ok(AuditVerification { intact: first_broken_at.is_none(), entries, first_broken_at })
}

/// Entries matching `f`, newest first, and how many match.
pub fn list(c: &Connection, f: &AuditFilter) -> rusqlite::Result<(Vec<AuditEntry>, u64)> {
    let filter = "(?1 IS NULL OR actor_id = ?1) AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR outcome = ?3)
                  AND (?4 IS NULL OR created_at >= ?4)";
    let args = params![f.actor, f.action, f.outcome, f.since];
    let total = c.query_row_cached(&format!("SELECT COUNT(*) FROM audit_log WHERE {filter}"), args, |r| r.get(0))?;
    let mut stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM audit_log WHERE {filter} ORDER BY seq DESC LIMIT ?5 OFFSET ?6"))?;
    let entries = stmt
        .query_map(params![f.actor, f.action, f.outcome, f.since, f.limit, f.offset], entry_of)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((entries, total))
}

// ---- recording refusals --------------------------------------------------------------------

#[derive(Default)]
struct RequestAudit {
    action: Option<&'static str>,
    target: Option<String>,
    recorded: bool,
}

tokio::task_local! {
    static CURRENT: RefCell<RequestAudit>;
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
fn route_target(method: &str, path: &str, pattern: Option<&str>) -> String {
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

fn is_tactical(path: &str) -> bool {
    path.starts_with("/api/tactical") || path.starts_with("/api/trpc/r3al.tactical.")
}

fn outcome_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "denied",
        StatusCode::NOT_FOUND => "not_found",
        s if s.is_client_error() => "rejected",
        _ => "error",
    }
}

/// The machine code of an error body: REST's `error.code`, or tRPC's `error.json.data.appCode`
/// (else its tRPC `code`).
fn error_code(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = v.get("error")?;
    let code = error
        .get("code")
        .filter(|c| c.is_string())
        .or_else(|| error.pointer("/json/data/appCode"))
        .or_else(|| error.pointer("/json/data/code"))?;
    code.as_str().map(str::to_owned)
}

/// Middleware: records every refused tactical request of an authenticated caller that the
/// service did not record itself. Refusals of callers without a valid token are counted in
/// `/metrics` and logged, not chained: anyone can send them, and the chain is never pruned.
pub async fn guard<E: Endpoint>(ep: E, req: Request) -> poem::Result<Response> {
    if !is_tactical(req.uri().path()) {
        return ep.call(req).await.map(IntoResponse::into_response);
    }
    let tactical = req.data::<Arc<TacticalService>>().cloned();
    let tokens = req.data::<Arc<TokenService>>().cloned();
    let actor = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .and_then(|t| tokens.as_ref().and_then(|tokens| tokens.caller(t.trim()).ok()))
        .map(|c| c.user_id);
    let (method, path) = (req.method().to_string(), req.uri().path().to_owned());
    let (result, audit) = CURRENT
        .scope(RefCell::new(RequestAudit::default()), async move {
            let result = ep.call(req).await.map(IntoResponse::into_response);
            (result, CURRENT.with(|c| c.take()))
        })
        .await;
    let refused = |status: StatusCode| status.is_client_error() || status.is_server_error();
    let Some(actor) = actor else {
        let status = match &result {
            Ok(resp) => resp.status(),
            Err(e) => e.status(),
        };
        if refused(status) {
            metrics::counter!(TACTICAL_ANONYMOUS_REFUSED, "status" => status.as_u16().to_string()).increment(1);
            tracing::info!(status = status.as_u16(), "tactical request without a valid token refused");
        }
        return result;
    };
    let (status, code, pattern, result) = match result {
        Ok(mut resp) if refused(resp.status()) => {
            let body = resp.take_body().into_bytes().await.unwrap_or_default();
            let code = error_code(&body);
            resp.set_body(body);
            (resp.status(), code, resp.data::<PathPattern>().cloned(), Ok(resp))
        }
        Ok(resp) => (resp.status(), None, None, Ok(resp)),
        Err(e) => (e.status(), e.downcast_ref::<AppError>().map(|a| a.code().to_owned()), e.data::<PathPattern>().cloned(), Err(e)),
    };
    if audit.recorded || !refused(status) {
        return result;
    }
    let record = Record {
        actor,
        action: audit.action.unwrap_or("request"),
        target: Some(audit.target.unwrap_or_else(|| route_target(&method, &path, pattern.as_ref().map(|p| &*p.0)))),
        outcome: outcome_of(status),
        detail: Some(format!("{} {}", status.as_u16(), code.unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned()))),
    };
    if let Some(tactical) = tactical
        && let Err(e) = tactical.record(record).await
    {
        tracing::error!(error = %e, "could not audit a refused tactical request");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, actor_id TEXT, action TEXT, target TEXT, outcome TEXT,
             detail TEXT, prev_hash TEXT, entry_hash TEXT, created_at TEXT);",
        )
        .unwrap();
        c
    }

    #[test]
    fn chain_verifies_and_detects_an_edit_and_a_removal() {
        let c = db();
        for i in 0..5 {
            append(&c, &Record::ok("u1", "comm.send", format!("c{i}")).detail("x")).unwrap();
        }
        assert_eq!(verify(&c).unwrap().first_broken_at, None);
        assert_eq!(verify(&c).unwrap().entries, 5);
        c.execute_cached("UPDATE audit_log SET outcome = 'denied' WHERE seq = 3", []).unwrap();
        let report = verify(&c).unwrap();
        assert!(!report.intact);
        assert_eq!(report.first_broken_at, Some(3));

        let c = db();
        for i in 0..4 {
            append(&c, &Record::ok("u1", "comm.read", format!("c{i}"))).unwrap();
        }
        c.execute_cached("DELETE FROM audit_log WHERE seq = 2", []).unwrap();
        assert_eq!(verify(&c).unwrap().first_broken_at, Some(3));
    }

    #[test]
    fn entries_link_to_their_predecessor() {
        let c = db();
        append(&c, &Record::ok("a", "x", "t")).unwrap();
        append(&c, &Record::ok("b", "y", "t")).unwrap();
        let (entries, total) = list(&c, &AuditFilter { actor: None, action: None, outcome: None, since: None, limit: 10, offset: 0 }).unwrap();
        assert_eq!(total, 2);
        assert_eq!(entries[1].prev_hash, GENESIS);
        assert_eq!(entries[0].prev_hash, entries[1].entry_hash);
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
