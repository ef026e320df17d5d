//! How the stores' row types (ids and times as the text SQLite holds) meet PostgreSQL's own
//! column types (uuid, timestamptz, bigint), the same way in every store.

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use crate::clock::now_text;
use crate::error::{AppError, AppResult};

/// The uuid an id names: only a UUID written as SQLite holds it (hyphenated, lower case) names a
/// row there, so only that form does here (`Uuid::parse_str` also takes upper case, braces and
/// the simple form); anything else names no row.
pub fn row_id(id: &str) -> Option<Uuid> {
    Uuid::parse_str(id)
        .ok()
        .filter(|uuid| uuid.to_string() == id)
}

/// A server-made id for a write; any other text is a bug in the caller.
pub fn write_id(id: &str) -> AppResult<Uuid> {
    row_id(id).ok_or_else(|| {
        AppError::internal(format!(
            "an id that is not a lowercase hyphenated UUID: {id:?}"
        ))
    })
}

/// A timestamptz as the RFC 3339 text the row types carry (what SQLite stores).
pub fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// RFC 3339 text from the service as a time to bind.
pub fn time(text: &str) -> AppResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| AppError::internal(format!("a time that is not RFC 3339 ({text:?}): {e}")))
}

/// Now, at the millisecond precision SQLite's `now_text()` stores.
pub fn now() -> AppResult<DateTime<Utc>> {
    time(&now_text())
}

/// A count or size read from a bigint column.
pub fn unsigned(n: i64) -> AppResult<u64> {
    u64::try_from(n).map_err(AppError::internal)
}

/// A count or size to bind to a bigint column.
pub fn signed(n: u64) -> AppResult<i64> {
    i64::try_from(n).map_err(|_| AppError::internal(format!("{n} does not fit a bigint column")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_form_sqlite_holds_names_a_row() {
        let id = Uuid::new_v4();
        assert_eq!(row_id(&id.to_string()), Some(id));
        assert_eq!(row_id(&id.to_string().to_uppercase()), None);
        assert_eq!(row_id(&id.simple().to_string()), None);
        assert_eq!(row_id("not-a-uuid"), None);
        assert!(write_id("not-a-uuid").is_err());
    }

    #[test]
    fn times_round_trip_at_millisecond_precision() {
        let at = time("2026-12-05T11:59:22.123Z").unwrap();
        assert_eq!(text(at), "2026-12-05T11:59:22.123Z");
        assert_eq!(
            text(time("2026-12-05T12:59:22.123+01:00").unwrap()),
            "2026-12-05T11:59:22.123Z"
        );
        assert!(time("yesterday").is_err());
    }

    #[test]
    fn counts_outside_a_bigint_are_errors() {
        assert_eq!(signed(7).unwrap(), 7);
        assert!(signed(u64::MAX).is_err());
        assert_eq!(unsigned(7).unwrap(), 7);
        assert!(unsigned(-1).is_err());
    }
}
