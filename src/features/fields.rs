//! Checks shared by the features' text fields.

use crate::error::{AppError, AppResult};

/// The trimmed value; `None` when absent or blank; 400 naming `field` when longer than `max`
/// characters.
pub fn trimmed(field: &str, value: Option<String>, max: usize) -> AppResult<Option<String>> {
    match value.map(|v| v.trim().to_owned()) {
        Some(v) if v.chars().count() > max => Err(AppError::invalid_field(field, format!("is longer than {max} characters"))),
        Some(v) if v.is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// Like [`trimmed`], for a field that must not be blank.
pub fn required(field: &str, value: String, max: usize) -> AppResult<String> {
    trimmed(field, Some(value), max)?.ok_or_else(|| AppError::invalid_field(field, "must not be empty"))
}

/// 400 naming `field` when `value` is longer than `max` characters (whitespace counts).
pub fn at_most(field: &str, value: Option<&str>, max: usize) -> AppResult<()> {
    match value {
        Some(v) if v.chars().count() > max => Err(AppError::invalid_field(field, format!("is longer than {max} characters"))),
        _ => Ok(()),
    }
}
