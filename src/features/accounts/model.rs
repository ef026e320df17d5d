use poem_openapi::Object;
use serde::{Deserialize, Serialize};

use crate::auth::Role;

#[derive(Debug, Clone, Object, Deserialize)]
pub struct Credentials {
    /// 3–64 characters: letters, digits, `_`, `-`, `.`.
    #[oai(validator(min_length = 3, max_length = 64))]
    pub username: String,
    /// 8–1024 characters.
    #[oai(validator(min_length = 8, max_length = 1024))]
    pub password: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct Session {
    pub user_id: String,
    pub username: String,
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

/// A stored account.
pub(super) struct UserRow {
    pub user_id: String,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: String,
}
