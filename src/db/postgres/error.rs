//! PostgreSQL's errors as answers, the same a client gets from SQLite where the two meet:
//!
//! - a violated constraint names its field (the wording is `constraint::answer`'s, shared with
//!   SQLite): UNIQUE 409, NOT NULL and CHECK 422, FOREIGN KEY and the rest of class 23 409;
//! - the database gone (connection refused or lost, shut down, in recovery, out of
//!   connections, a read-only replica after a fail-over) or no pooled connection in
//!   `database.connect_timeout_secs`: 503 `database_unavailable` with `Retry-After`;
//! - a serialization failure, a deadlock, or a statement past `database.statement_timeout_ms`:
//!   503 `database_busy` with `Retry-After`, as SQLite's busy database;
//! - anything else (a bug in a store's SQL): internal, logged, never shown.
//!
//! Nothing here quotes a value: PostgreSQL's `detail` ("Key (username)=(ann) already exists")
//! is read for column names only, and logged not at all.

use deadpool_postgres::PoolError;
use tokio_postgres::error::{DbError, SqlState};

use super::super::constraint::{Violation, answer};
use crate::error::AppError;

/// `Retry-After` when the database is out of reach: long enough for a restart or a fail-over
/// to make progress, short enough that clients come back soon after.
pub const UNAVAILABLE_RETRY_SECS: u64 = 5;
/// `Retry-After` for a transaction that lost a race (serialization, deadlock, timeout).
pub const BUSY_RETRY_SECS: u64 = 1;

pub(super) fn unavailable(cause: &dyn std::fmt::Display) -> AppError {
    tracing::warn!(error = %cause, "PostgreSQL is unavailable");
    AppError::Unavailable {
        code: "database_unavailable",
        message: "the database is unavailable, retry shortly".into(),
        retry_after_secs: Some(UNAVAILABLE_RETRY_SECS),
    }
}

fn busy(cause: &dyn std::fmt::Display) -> AppError {
    tracing::warn!(error = %cause, "PostgreSQL refused a transaction to retry");
    AppError::Unavailable { code: "database_busy", message: "database is busy, retry".into(), retry_after_secs: Some(BUSY_RETRY_SECS) }
}

impl From<tokio_postgres::Error> for AppError {
    fn from(err: tokio_postgres::Error) -> Self {
        if let Some(db) = err.as_db_error() {
            return from_db_error(db, &err);
        }
        // Errors without a SQLSTATE are the client's own. Its kinds are private; their
        // messages are not (`tokio_postgres::error::Kind`'s Display).
        let text = err.to_string();
        let lost = err.is_closed()
            || ["error connecting to server", "error communicating with the server", "timeout waiting for server", "error performing TLS handshake", "authentication error"]
                .iter()
                .any(|prefix| text.starts_with(prefix));
        if lost { unavailable(&err) } else { AppError::internal(err) }
    }
}

fn from_db_error(db: &DbError, err: &tokio_postgres::Error) -> AppError {
    let code = db.code();
    match code.code() {
        _ if code.code().starts_with("23") => violation(db),
        // Class 08: connection exceptions; class 28: credentials refused (rotated under us);
        // 3D000: no such database; 57P01-57P03: shut down, crashed, starting up;
        // 53300: too many connections; 25006: a replica took writes after a fail-over.
        c if c.starts_with("08") || c.starts_with("28") || *code == SqlState::INVALID_CATALOG_NAME => unavailable(err),
        _ if [SqlState::ADMIN_SHUTDOWN, SqlState::CRASH_SHUTDOWN, SqlState::CANNOT_CONNECT_NOW, SqlState::TOO_MANY_CONNECTIONS, SqlState::READ_ONLY_SQL_TRANSACTION]
            .contains(code) =>
        {
            unavailable(err)
        }
        _ if [SqlState::T_R_SERIALIZATION_FAILURE, SqlState::T_R_DEADLOCK_DETECTED, SqlState::QUERY_CANCELED, SqlState::LOCK_NOT_AVAILABLE]
            .contains(code) =>
        {
            busy(err)
        }
        _ => AppError::internal(err),
    }
}

/// What a write that refers to a row that does not exist is answered (a FOREIGN KEY refusal,
/// as from either database), for a store that knows before asking: an id that is not a UUID
/// names no row of a uuid column.
pub fn missing_reference() -> AppError {
    answer(Violation::ForeignKey)
}

/// A class 23 error as the shared answer; logs which constraint, never the values.
fn violation(db: &DbError) -> AppError {
    tracing::warn!(
        sqlstate = db.code().code(),
        table = db.table(),
        constraint = db.constraint(),
        postgres = db.message(),
        "a database constraint refused a write"
    );
    answer(match *db.code() {
        SqlState::UNIQUE_VIOLATION => Violation::Unique(db.detail().map(key_columns).unwrap_or_default()),
        SqlState::NOT_NULL_VIOLATION => Violation::NotNull(db.column()),
        SqlState::CHECK_VIOLATION => Violation::Check(check_column(db.table(), db.constraint())),
        SqlState::FOREIGN_KEY_VIOLATION => Violation::ForeignKey,
        _ => Violation::Other,
    })
}

/// The key's columns from a unique violation's detail, `Key (user_id, client_id)=(…) already
/// exists.`; none when the key is an expression (`lower(username)`) or the detail is missing.
fn key_columns(detail: &str) -> Vec<&str> {
    let Some(list) = detail.strip_prefix("Key (").and_then(|rest| rest.split_once(")=(")).map(|(list, _)| list) else {
        return Vec::new();
    };
    let columns: Vec<&str> = list.split(',').map(str::trim).collect();
    let plain = |c: &&str| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
    if columns.iter().all(plain) { columns } else { Vec::new() }
}

/// The column a CHECK is about, from PostgreSQL's own name for it: `<table>_<column>_check`
/// (as the migrations leave them). A table's multi-column check, `<table>_check`, names none.
fn check_column<'a>(table: Option<&str>, constraint: Option<&'a str>) -> Option<&'a str> {
    let rest = constraint?.strip_prefix(table?)?.strip_prefix('_')?;
    let column = rest.strip_suffix("_check").or_else(|| rest.trim_end_matches(|c: char| c.is_ascii_digit()).strip_suffix("_check"))?;
    Some(column).filter(|c| !c.is_empty())
}

impl From<PoolError> for AppError {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::Backend(e) => e.into(),
            PoolError::Timeout(_) | PoolError::Closed => unavailable(&err),
            PoolError::PostCreateHook(_) | PoolError::NoRuntimeSpecified => AppError::internal(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_details_give_their_columns_and_never_their_values() {
        assert_eq!(key_columns("Key (username)=(ann) already exists."), ["username"]);
        assert_eq!(key_columns("Key (user_id, client_id)=(u1, session_1) already exists."), ["user_id", "client_id"]);
        assert!(key_columns("Key (lower(username))=(ann) already exists.").is_empty());
        assert!(key_columns("something else").is_empty());
    }

    #[test]
    fn check_constraints_are_named_after_their_column() {
        assert_eq!(check_column(Some("music_projects"), Some("music_projects_bpm_check")), Some("bpm"));
        assert_eq!(check_column(Some("usage_counters"), Some("usage_counters_used_check")), Some("used"));
        assert_eq!(check_column(Some("tactical_users"), Some("tactical_users_requested_clearance_check1")), Some("requested_clearance"));
        assert_eq!(check_column(Some("payments"), Some("payments_check")), None);
        assert_eq!(check_column(Some("payments"), Some("a_named_rule")), None);
        assert_eq!(check_column(None, Some("music_projects_bpm_check")), None);
    }
}
