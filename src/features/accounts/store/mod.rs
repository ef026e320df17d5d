//! What the accounts service keeps: the registered users. The rules (what a username may be,
//! who may sign in) are the service's; a store guarantees that each operation here is atomic.

pub mod postgres;
pub mod sqlite;

use crate::auth::Role;
use crate::error::AppResult;

/// A stored account.
#[derive(Clone)]
pub struct UserRow {
    pub user_id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub password_hash: String,
    pub role: Role,
    pub created_at: String,
}

#[async_trait::async_trait]
pub trait AccountsStore: Send + Sync + 'static {
    /// Adds `user` unless its username is already registered, decided atomically (two
    /// registrations of one name at once add one account). Usernames are compared without
    /// regard to ASCII case: `Ann` takes `ann`. True when added; false, with nothing written,
    /// when the username was taken.
    async fn insert_user(&self, user: &UserRow) -> AppResult<bool>;

    /// The account registered under `username`, compared without regard to ASCII case (only
    /// ASCII letters fold: `Ä` does not match `ä`); `None` when there is none.
    async fn user_by_username(&self, username: &str) -> AppResult<Option<UserRow>>;

    /// The account with id `user_id`; `None` when there is none (tokens minted by `optima
    /// token` may name any id).
    async fn user_by_id(&self, user_id: &str) -> AppResult<Option<UserRow>>;
}
