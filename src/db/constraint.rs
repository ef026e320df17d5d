//! Constraint violations as answers a client can act on. SQLite reports them in its own words
//! ("UNIQUE constraint failed: users.username"), which name tables and columns and are no
//! business of a client: the answer names the field in words instead, and SQLite's text is
//! only logged.
//!
//! - UNIQUE or PRIMARY KEY: 409 `conflict`, "username is already in use".
//! - NOT NULL: 422 `missing_field`, "title is required", `details.field` in the API's camelCase.
//! - CHECK: 422 `invalid_field`, "bpm has a value that is not allowed", `details.field` likewise
//!   (the field is the first name in the constraint: `CHECK (bpm BETWEEN 40 AND 200)` → bpm).
//! - FOREIGN KEY: 409 `conflict` (SQLite does not say which key).
//! - a trigger's refusal and anything else: 409 `conflict`.
//!
//! Each of these means a rule the service should have checked first; reaching here is still a
//! clear 4xx, never a 500.
//!
//! The answers are the same whichever database refused: each backend reads its own report into
//! a [`Violation`] (SQLite here, PostgreSQL in `postgres::error`), and [`answer`] words it.

use rusqlite::ffi;
use serde_json::json;

use crate::error::AppError;

/// A refused write, as either database reports it: what the answer is made from. Column names
/// are the schema's (`team_name`); the answer puts them in words.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Violation<'a> {
    /// UNIQUE or PRIMARY KEY, with the key's columns when the database names them.
    Unique(Vec<&'a str>),
    /// NOT NULL, with the column when named.
    NotNull(Option<&'a str>),
    /// CHECK, with the column it is about when known.
    Check(Option<&'a str>),
    ForeignKey,
    /// A trigger's refusal, or any other constraint.
    Other,
}

/// The answer for a constraint violation with SQLite's `extended_code` and `message`.
pub(super) fn violation(extended_code: i32, message: Option<&str>) -> AppError {
    let message = message.unwrap_or("");
    tracing::warn!(extended_code, sqlite = message, "a database constraint refused a write");
    let named = |prefix: &str| message.strip_prefix(prefix).map(str::trim).filter(|rest| !rest.is_empty());
    answer(match extended_code {
        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
            Violation::Unique(named("UNIQUE constraint failed:").map(|list| list.split(',').map(column).collect()).unwrap_or_default())
        }
        ffi::SQLITE_CONSTRAINT_NOTNULL => Violation::NotNull(named("NOT NULL constraint failed:").map(column)),
        ffi::SQLITE_CONSTRAINT_CHECK => Violation::Check(named("CHECK constraint failed:").and_then(first_name)),
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Violation::ForeignKey,
        _ => Violation::Other,
    })
}

/// What a client is told about `violation`, in words, naming no table and quoting no value.
pub(super) fn answer(violation: Violation<'_>) -> AppError {
    match violation {
        Violation::Unique(columns) => {
            let columns: Vec<String> = columns.into_iter().map(words).collect();
            let message = match columns.as_slice() {
                [] => "a record with these values already exists".to_owned(),
                [one] => format!("{one} is already in use"),
                [init @ .., last] => format!("this combination of {} and {last} is already in use", init.join(", ")),
            };
            AppError::Conflict { code: "conflict", message }
        }
        Violation::NotNull(Some(field)) => unprocessable("missing_field", format!("{} is required", words(field)), field),
        Violation::NotNull(None) => {
            AppError::Unprocessable { code: "missing_field", message: "a required field is missing".into(), details: None }
        }
        Violation::Check(Some(field)) => {
            unprocessable("invalid_field", format!("{} has a value that is not allowed", words(field)), field)
        }
        Violation::Check(None) => {
            AppError::Unprocessable { code: "invalid_field", message: "a value is not allowed".into(), details: None }
        }
        Violation::ForeignKey => AppError::Conflict {
            code: "conflict",
            message: "a record this refers to does not exist, or another record still refers to this one".into(),
        },
        Violation::Other => AppError::Conflict { code: "conflict", message: "the change conflicts with the stored data".into() },
    }
}

fn unprocessable(code: &'static str, message: String, field: &str) -> AppError {
    AppError::Unprocessable { code, message, details: Some(json!({ "field": camel_case(field) })) }
}

/// `table.column` → `column`.
fn column(qualified: &str) -> &str {
    let qualified = qualified.trim();
    qualified.rsplit_once('.').map_or(qualified, |(_, column)| column)
}

/// The first identifier of a CHECK constraint's text (its name, or the column its expression
/// starts with).
fn first_name(text: &str) -> Option<&str> {
    let text = text.trim_start_matches(|c: char| !(c.is_ascii_alphabetic() || c == '_'));
    let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len());
    Some(&text[..end]).filter(|name| !name.is_empty())
}

/// `user_id` → "user id".
fn words(column: &str) -> String {
    column.replace('_', " ")
}

/// `user_id` → `userId`, as the API spells its fields.
fn camel_case(column: &str) -> String {
    let mut out = String::with_capacity(column.len());
    let mut upper = false;
    for c in column.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use crate::error::AppError;

    /// A schema with one of each constraint, the way the migrations write them.
    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE teams (team_id TEXT PRIMARY KEY, team_name TEXT NOT NULL UNIQUE);
             CREATE TABLE shares (project_id TEXT NOT NULL, platform TEXT NOT NULL, UNIQUE (project_id, platform));
             CREATE TABLE members (
               user_id TEXT PRIMARY KEY,
               team_id TEXT REFERENCES teams(team_id),
               bpm INTEGER CHECK (bpm BETWEEN 40 AND 200),
               display_name TEXT NOT NULL
             );
             CREATE TABLE log (seq INTEGER PRIMARY KEY);
             CREATE TRIGGER log_is_append_only BEFORE DELETE ON log BEGIN SELECT RAISE(ABORT, 'log is append-only'); END;
             INSERT INTO teams VALUES ('t1', 'Alpha');
             INSERT INTO shares VALUES ('p1', 'tiktok');
             INSERT INTO members VALUES ('u1', 't1', 120, 'Ann');
             INSERT INTO log VALUES (1);",
        )
        .unwrap();
        c
    }

    /// What a client gets when `sql` fails: status, code, message, details.
    fn answer(sql: &str) -> (u16, &'static str, String, Option<serde_json::Value>) {
        let err = db().execute_batch(sql).expect_err(sql);
        let app = AppError::from(err);
        (app.status().as_u16(), app.code(), app.public_message(), app.details().cloned())
    }

    #[test]
    fn unique_violations_are_a_conflict_naming_the_field() {
        let (status, code, message, _) = answer("INSERT INTO teams VALUES ('t2', 'Alpha')");
        assert_eq!((status, code, message.as_str()), (409, "conflict", "team name is already in use"));
        let (status, _, message, _) = answer("INSERT INTO teams VALUES ('t1', 'Beta')");
        assert_eq!((status, message.as_str()), (409, "team id is already in use"));
        let (status, _, message, _) = answer("INSERT INTO shares VALUES ('p1', 'tiktok')");
        assert_eq!((status, message.as_str()), (409, "this combination of project id and platform is already in use"));
    }

    #[test]
    fn not_null_and_check_violations_are_unprocessable_naming_the_field() {
        let (status, code, message, details) = answer("INSERT INTO members (user_id, display_name) VALUES ('u2', NULL)");
        assert_eq!((status, code, message.as_str()), (422, "missing_field", "display name is required"));
        assert_eq!(details, Some(serde_json::json!({ "field": "displayName" })));
        let (status, code, message, details) = answer("UPDATE members SET bpm = 300");
        assert_eq!((status, code, message.as_str()), (422, "invalid_field", "bpm has a value that is not allowed"));
        assert_eq!(details, Some(serde_json::json!({ "field": "bpm" })));
    }

    #[test]
    fn foreign_keys_and_triggers_are_conflicts_in_plain_words() {
        let (status, code, message, _) = answer("INSERT INTO members VALUES ('u2', 'nope', NULL, 'Bo')");
        assert_eq!((status, code), (409, "conflict"));
        assert_eq!(message, "a record this refers to does not exist, or another record still refers to this one");
        assert_eq!(answer("DELETE FROM teams").0, 409);
        let (status, code, message, _) = answer("DELETE FROM log");
        assert_eq!((status, code, message.as_str()), (409, "conflict", "the change conflicts with the stored data"));
    }

    #[test]
    fn no_answer_carries_sqlite_text() {
        for sql in [
            "INSERT INTO teams VALUES ('t2', 'Alpha')",
            "INSERT INTO shares VALUES ('p1', 'tiktok')",
            "INSERT INTO members (user_id, display_name) VALUES ('u2', NULL)",
            "UPDATE members SET bpm = 300",
            "INSERT INTO members VALUES ('u2', 'nope', NULL, 'Bo')",
            "DELETE FROM log",
        ] {
            let (_, _, message, _) = answer(sql);
            for sqlite_word in ["constraint", "failed", "teams.", "members.", "shares.", "append-only", "BETWEEN"] {
                assert!(!message.contains(sqlite_word), "{sql}: {message}");
            }
        }
    }

    #[test]
    fn names_are_read_from_the_constraint_text() {
        assert_eq!(super::column(" tactical_users.tactical_user_id "), "tactical_user_id");
        assert_eq!(super::first_name("bpm BETWEEN 40 AND 200"), Some("bpm"));
        assert_eq!(super::first_name("(used >= 0)"), Some("used"));
        assert_eq!(super::first_name("  "), None);
        assert_eq!(super::camel_case("tactical_user_id"), "tacticalUserId");
        assert_eq!(super::camel_case("bpm"), "bpm");
    }
}
