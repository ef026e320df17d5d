//! One SQLite value as the PostgreSQL column type it is copied into. The type is the target
//! column's (`information_schema.columns.udt_name`), so a table a new migration adds is copied
//! without changes here as long as its types are among these; any other type stops the copy
//! before a row is written, naming the table and column.
//!
//! The forms are those of migrations/sqlite against migrations/postgres: ids as text (uuid
//! columns take only the lower-case hyphenated form the stores write and read back), times as
//! RFC 3339 text, flags as 0/1, string lists and JSON documents as JSON text, bytes as blobs.

use std::error::Error;

use bytes::BytesMut;
use chrono::{DateTime, Timelike, Utc};
use rusqlite::types::ValueRef;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use uuid::Uuid;

/// A PostgreSQL column type the copy knows how to fill from SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// text, varchar, char, citext: SQLite text.
    Text,
    /// uuid: SQLite text in the canonical form (hyphenated, lower case).
    Uuid,
    /// timestamptz: SQLite RFC 3339 text.
    Time,
    /// boolean: SQLite 0 or 1.
    Bool,
    /// bigint, integer, smallint: SQLite integers within the column's range.
    Int8,
    Int4,
    Int2,
    /// double precision: SQLite reals (or integers, which REAL columns may hold).
    Float8,
    /// bytea: SQLite blobs.
    Bytes,
    /// jsonb, json: SQLite text holding a JSON document.
    Json,
    /// text[], varchar[]: SQLite text holding a JSON array of strings.
    TextArray,
}

impl Kind {
    /// The kind of a column whose `udt_name` is `udt`; `None` for a type not mapped.
    pub fn of(udt: &str) -> Option<Self> {
        Some(match udt {
            "text" | "varchar" | "bpchar" | "citext" => Self::Text,
            "uuid" => Self::Uuid,
            "timestamptz" => Self::Time,
            "bool" => Self::Bool,
            "int8" => Self::Int8,
            "int4" => Self::Int4,
            "int2" => Self::Int2,
            "float8" => Self::Float8,
            "bytea" => Self::Bytes,
            "jsonb" | "json" => Self::Json,
            "_text" | "_varchar" => Self::TextArray,
            _ => return None,
        })
    }

    /// `value` (a SQLite value) as this kind; the error says what is wrong with it.
    pub fn convert(self, value: ValueRef<'_>) -> Result<Value, String> {
        if let ValueRef::Null = value {
            return Ok(Value::Null);
        }
        Ok(match self {
            Self::Text => Value::Text(text(value)?.to_owned()),
            Self::Uuid => Value::Uuid(uuid(text(value)?)?),
            Self::Time => Value::Time(time(text(value)?)?),
            Self::Bool => match integer(value)? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => return Err(format!("{n} is not a flag (0 or 1)")),
            },
            Self::Int8 => Value::Int8(integer(value)?),
            Self::Int4 => {
                let n = integer(value)?;
                Value::Int4(i32::try_from(n).map_err(|_| format!("{n} does not fit the column's integer"))?)
            }
            Self::Int2 => {
                let n = integer(value)?;
                Value::Int2(i16::try_from(n).map_err(|_| format!("{n} does not fit the column's smallint"))?)
            }
            Self::Float8 => match value {
                ValueRef::Real(x) => Value::Float8(x),
                ValueRef::Integer(n) => Value::Float8(n as f64),
                other => return Err(unexpected(other, "a number")),
            },
            Self::Bytes => match value {
                ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
                other => return Err(unexpected(other, "a blob")),
            },
            Self::Json => {
                let t = text(value)?;
                Value::Json(serde_json::from_str(t).map_err(|e| format!("not a JSON document ({e})"))?)
            }
            Self::TextArray => {
                let t = text(value)?;
                Value::TextArray(serde_json::from_str(t).map_err(|e| format!("not a JSON array of strings ({e})"))?)
            }
        })
    }
}

fn storage_class(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

fn unexpected(value: ValueRef<'_>, wanted: &str) -> String {
    format!("{} where the column takes {wanted}", storage_class(value))
}

fn text(value: ValueRef<'_>) -> Result<&str, String> {
    match value {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).map_err(|e| format!("text that is not UTF-8 ({e})")),
        other => Err(unexpected(other, "text")),
    }
}

fn integer(value: ValueRef<'_>) -> Result<i64, String> {
    match value {
        ValueRef::Integer(n) => Ok(n),
        other => Err(unexpected(other, "an integer")),
    }
}

/// Only the form the stores write (and PostgreSQL's uuid gives back): any other spelling would
/// come back changed, and blob paths and sealed data's associated data embed the id as written.
fn uuid(text: &str) -> Result<Uuid, String> {
    Uuid::parse_str(text)
        .ok()
        .filter(|id| id.to_string() == text)
        .ok_or_else(|| format!("`{text}` is not a UUID in lower-case hyphenated form"))
}

/// An RFC 3339 time, to the microsecond PostgreSQL keeps (a finer one would come back changed).
fn time(text: &str) -> Result<DateTime<Utc>, String> {
    let t = DateTime::parse_from_rfc3339(text).map_err(|e| format!("`{text}` is not an RFC 3339 time ({e})"))?;
    if t.nanosecond() % 1_000 != 0 {
        return Err(format!("`{text}` is finer than the microseconds PostgreSQL keeps"));
    }
    Ok(t.with_timezone(&Utc))
}

/// A converted value, written with the driver's own encoding of its Rust type.
#[derive(Debug)]
pub enum Value {
    Null,
    Text(String),
    Uuid(Uuid),
    Time(DateTime<Utc>),
    Bool(bool),
    Int8(i64),
    Int4(i32),
    Int2(i16),
    Float8(f64),
    Bytes(Vec<u8>),
    Json(serde_json::Value),
    TextArray(Vec<String>),
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        // Each through its own type's check, so a value can never be encoded for a type that
        // does not take it.
        match self {
            Self::Null => Ok(IsNull::Yes),
            Self::Text(v) => v.to_sql_checked(ty, out),
            Self::Uuid(v) => v.to_sql_checked(ty, out),
            Self::Time(v) => v.to_sql_checked(ty, out),
            Self::Bool(v) => v.to_sql_checked(ty, out),
            Self::Int8(v) => v.to_sql_checked(ty, out),
            Self::Int4(v) => v.to_sql_checked(ty, out),
            Self::Int2(v) => v.to_sql_checked(ty, out),
            Self::Float8(v) => v.to_sql_checked(ty, out),
            Self::Bytes(v) => v.to_sql_checked(ty, out),
            Self::Json(v) => v.to_sql_checked(ty, out),
            Self::TextArray(v) => v.to_sql_checked(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_forms_convert_to_the_column_types() {
        let id = "0190f5a2-7b3c-7def-8abc-0123456789ab";
        assert!(matches!(Kind::Uuid.convert(ValueRef::Text(id.as_bytes())), Ok(Value::Uuid(u)) if u.to_string() == id));
        let t = Kind::Time.convert(ValueRef::Text(b"2026-01-02T03:04:05.678Z")).unwrap();
        assert!(matches!(t, Value::Time(t) if crate::clock::stored_text(t) == "2026-01-02T03:04:05.678Z"));
        assert!(matches!(Kind::Bool.convert(ValueRef::Integer(1)), Ok(Value::Bool(true))));
        assert!(matches!(Kind::Float8.convert(ValueRef::Integer(3)), Ok(Value::Float8(x)) if x == 3.0));
        assert!(matches!(Kind::TextArray.convert(ValueRef::Text(br#"["a","b"]"#)), Ok(Value::TextArray(v)) if v == ["a", "b"]));
        assert!(matches!(Kind::Json.convert(ValueRef::Text(br#"{"x":1}"#)), Ok(Value::Json(_))));
        assert!(matches!(Kind::Text.convert(ValueRef::Null), Ok(Value::Null)));
        assert_eq!(Kind::of("citext"), Some(Kind::Text));
        assert_eq!(Kind::of("numeric"), None);
    }

    #[test]
    fn values_that_would_not_come_back_the_same_are_refused_with_a_reason() {
        let upper = "0190F5A2-7B3C-7DEF-8ABC-0123456789AB";
        assert!(Kind::Uuid.convert(ValueRef::Text(upper.as_bytes())).unwrap_err().contains("lower-case"));
        assert!(Kind::Uuid.convert(ValueRef::Text(b"session_1")).unwrap_err().contains("not a UUID"));
        assert!(Kind::Time.convert(ValueRef::Text(b"yesterday")).unwrap_err().contains("RFC 3339"));
        assert!(Kind::Time.convert(ValueRef::Text(b"2026-01-02T03:04:05.1234567Z")).unwrap_err().contains("microseconds"));
        assert!(Kind::Bool.convert(ValueRef::Integer(2)).unwrap_err().contains("flag"));
        assert!(Kind::Int4.convert(ValueRef::Integer(1 << 40)).unwrap_err().contains("does not fit"));
        assert!(Kind::Int8.convert(ValueRef::Text(b"12")).unwrap_err().contains("text where the column takes an integer"));
        assert!(Kind::TextArray.convert(ValueRef::Text(b"[1]")).unwrap_err().contains("JSON array of strings"));
        assert!(Kind::Bytes.convert(ValueRef::Text(b"x")).unwrap_err().contains("a blob"));
    }
}
