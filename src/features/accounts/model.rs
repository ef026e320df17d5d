use poem_openapi::Object;
use serde::{Deserialize, Serialize};

use crate::auth::Role;

/// Longest username: an email address fits.
pub const USERNAME_MAX: usize = 254;
/// Shortest password a new account may set (NIST SP 800-63B's minimum for chosen passwords).
pub const PASSWORD_MIN: usize = 8;
/// Longest password: bounds the hashing work one request can ask for.
pub const PASSWORD_MAX: usize = 1024;
/// Longest display name.
pub const NAME_MAX: usize = 100;

/// A new account.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct Credentials {
    /// 3–254 characters: letters, digits, `_`, `-`, `.`, `@`, `+` (an email address fits).
    #[oai(validator(min_length = 3, max_length = 254))]
    pub username: String,
    /// 8–1024 characters.
    #[oai(validator(min_length = 8, max_length = 1024))]
    pub password: String,
    /// A name to show (1–100 characters); the username when absent.
    #[oai(validator(min_length = 1, max_length = 100))]
    #[serde(default)]
    pub name: Option<String>,
}

/// A sign-in. Any text may be a credential: a wrong one is 401 `invalid_credentials` whatever
/// its length (the password policy applies when a password is set); the bounds keep what one
/// guess costs small.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct Login {
    #[oai(validator(max_length = 254))]
    pub username: String,
    #[oai(validator(max_length = 1024))]
    pub password: String,
}

/// The app's sign-up and sign-in (its root tRPC `auth` router): an email address is the
/// username.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailCredentials {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct Session {
    pub user_id: String,
    pub username: String,
    /// The display name, or the username when none was given.
    pub name: String,
    pub role: Role,
    /// Bearer token for `Authorization: Bearer …`.
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct Me {
    pub user_id: String,
    pub role: Role,
    /// Present when the user registered here; tokens minted by `optima token` may name any id.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}
