//! The accounts store on PostgreSQL.
//!
//! `users.username` is citext (migrations/postgres/V1__init.sql): unique without case, as
//! SQLite's COLLATE NOCASE. citext folds with the database's locale, which may fold more than
//! ASCII (`Ä`/`ä`, the Kelvin sign and `k`); SQLite's NOCASE folds ASCII letters only. A lookup
//! therefore uses the citext index to find the candidates and keeps only those equal once ASCII
//! letters alone are folded, which is the trait's rule whatever the locale. Registration admits
//! ASCII usernames only (the service's rule), where the two foldings agree, so the citext UNIQUE
//! constraint decides a taken name as SQLite's does.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use super::{AccountsStore, UserRow};
use crate::auth::Role;
use crate::db::postgres::PgDb;
use crate::db::postgres::values::{text, time};
use crate::error::AppResult;

pub struct PgAccountsStore {
    db: PgDb,
}

impl PgAccountsStore {
    pub fn new(db: PgDb) -> Self {
        Self { db }
    }
}

const SELECT: &str = "SELECT user_id, username::text, password_hash, role, created_at, display_name FROM users";

/// `s` with ASCII letters lowered, in SQL: what SQLite's NOCASE compares.
const ASCII_LOWER_ALPHABET: (&str, &str) = ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz");

fn row_to_user(r: &Row) -> UserRow {
    let role: String = r.get(3);
    let created_at: DateTime<Utc> = r.get(4);
    UserRow {
        user_id: r.get(0),
        username: r.get(1),
        password_hash: r.get(2),
        role: Role::parse(&role).unwrap_or(Role::User),
        created_at: text(created_at),
        display_name: r.get(5),
    }
}

#[async_trait::async_trait]
impl AccountsStore for PgAccountsStore {
    async fn insert_user(&self, user: &UserRow) -> AppResult<bool> {
        let created_at = time(&user.created_at)?;
        let client = self.db.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO users (user_id, username, password_hash, role, created_at, display_name)
                 VALUES ($1, $2::text, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING",
            )
            .await?;
        let inserted = client
            .execute(&stmt, &[&user.user_id, &user.username, &user.password_hash, &user.role.as_str(), &created_at, &user.display_name])
            .await?;
        Ok(inserted == 1)
    }

    async fn user_by_username(&self, username: &str) -> AppResult<Option<UserRow>> {
        let client = self.db.client().await?;
        let (upper, lower) = ASCII_LOWER_ALPHABET;
        let stmt = client
            .prepare_cached(&format!(
                "{SELECT} WHERE username = $1::text::citext
                   AND translate(username::text, '{upper}', '{lower}') = translate($1::text, '{upper}', '{lower}')"
            ))
            .await?;
        Ok(client.query_opt(&stmt, &[&username]).await?.as_ref().map(row_to_user))
    }

    async fn user_by_id(&self, user_id: &str) -> AppResult<Option<UserRow>> {
        let client = self.db.client().await?;
        let stmt = client.prepare_cached(&format!("{SELECT} WHERE user_id = $1")).await?;
        Ok(client.query_opt(&stmt, &[&user_id]).await?.as_ref().map(row_to_user))
    }
}
