//! The accounts store on SQLite.

use rusqlite::{OptionalExtension, params};

use super::{AccountsStore, UserRow};
use crate::auth::Role;
use crate::db::{CachedSql, Db};
use crate::error::AppResult;

pub struct SqliteAccountsStore {
    db: Db,
}

impl SqliteAccountsStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn row_to_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    let role: String = r.get(3)?;
    Ok(UserRow {
        user_id: r.get(0)?,
        username: r.get(1)?,
        password_hash: r.get(2)?,
        role: Role::parse(&role).unwrap_or(Role::User),
        created_at: r.get(4)?,
        display_name: r.get(5)?,
    })
}

const SELECT: &str = "SELECT user_id, username, password_hash, role, created_at, display_name FROM users";

#[async_trait::async_trait]
impl AccountsStore for SqliteAccountsStore {
    async fn insert_user(&self, user: &UserRow) -> AppResult<bool> {
        let user = user.clone();
        self.db
            .write(move |tx| {
                let inserted = tx.execute_cached(
                    "INSERT INTO users (user_id, username, password_hash, role, created_at, display_name)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (username) DO NOTHING",
                    params![user.user_id, user.username, user.password_hash, user.role.as_str(), user.created_at, user.display_name],
                )?;
                Ok(inserted == 1)
            })
            .await
    }

    async fn user_by_username(&self, username: &str) -> AppResult<Option<UserRow>> {
        let username = username.to_owned();
        self.db
            .read(move |c| c.query_row_cached(&format!("{SELECT} WHERE username = ?1"), [username], row_to_user).optional())
            .await
    }

    async fn user_by_id(&self, user_id: &str) -> AppResult<Option<UserRow>> {
        let user_id = user_id.to_owned();
        self.db
            .read(move |c| c.query_row_cached(&format!("{SELECT} WHERE user_id = ?1"), [user_id], row_to_user).optional())
            .await
    }
}
