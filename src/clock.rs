//! The time that rules read (quota windows, subscription periods). The server reads the system
//! clock; tests give the server a clock they set, so a rule that depends on the date (a daily
//! window ends at midnight UTC) is checked at a chosen moment instead of whenever the run is.

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

pub type SharedClock = Arc<dyn Clock>;

pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// Current time as the RFC 3339 text (UTC, milliseconds) stored in every time column.
pub fn now_text() -> String {
    stored_text(Utc::now())
}

/// `t` as the RFC 3339 text (UTC, milliseconds) that SQLite's time columns hold.
pub fn stored_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
