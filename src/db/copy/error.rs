//! How a copy fails: each message says what is wrong and where, and that nothing was committed
//! when the failure came after the copy began.

use crate::db::postgres::PgOpenError;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("there is no SQLite database at {0}: nothing to copy (point --data-dir or --config at the stopped server's data folder)")]
    NoSource(String),
    #[error("SQLite database: {0}")]
    Source(String),
    #[error(transparent)]
    Open(#[from] PgOpenError),
    #[error("PostgreSQL: {0}; nothing was committed")]
    Target(String),
    #[error("the target database is not empty ({0}): `optima db copy` copies only into an empty database; nothing was copied")]
    NotEmpty(String),
    #[error("{0}")]
    Schema(String),
    #[error("cannot copy {table}.{column} (row {row} of {table}): {reason}; nothing was copied")]
    Value { table: String, column: String, row: u64, reason: String },
    #[error("the copy did not verify, so nothing was committed: {0}")]
    Verify(String),
}
