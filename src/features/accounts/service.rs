use std::sync::Arc;

use super::model::{Credentials, Me, Session, UserRow};
use super::repo;
use crate::auth::{Caller, Role, TokenService, password};
use crate::db::{Db, now_text};
use crate::error::{AppError, AppResult};

pub struct AccountsService {
    db: Db,
    tokens: Arc<TokenService>,
}

fn validate(credentials: &Credentials) -> AppResult<()> {
    let name = &credentials.username;
    if !(3..=64).contains(&name.chars().count()) {
        return Err(AppError::invalid_field("username", "must be 3 to 64 characters"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        return Err(AppError::invalid_field("username", "may contain only letters, digits, `_`, `-` and `.`"));
    }
    if !(8..=1024).contains(&credentials.password.chars().count()) {
        return Err(AppError::invalid_field("password", "must be 8 to 1024 characters"));
    }
    Ok(())
}

/// Password hashing is CPU-heavy: keep it off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(AppError::internal)
}

impl AccountsService {
    pub fn new(db: Db, tokens: Arc<TokenService>) -> Self {
        Self { db, tokens }
    }

    fn session(&self, user: &UserRow) -> AppResult<Session> {
        let (token, claims) = self.tokens.mint(&user.user_id, user.role, self.tokens.default_ttl_secs())?;
        Ok(Session {
            user_id: user.user_id.clone(),
            username: user.username.clone(),
            role: user.role,
            token,
            expires_at: chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or_default(),
        })
    }

    pub async fn register(&self, credentials: Credentials) -> AppResult<Session> {
        validate(&credentials)?;
        let Credentials { username, password } = credentials;
        let password_hash = blocking(move || password::hash(&password)).await??;
        let user = repo::insert(
            &self.db,
            UserRow {
                user_id: uuid::Uuid::now_v7().to_string(),
                username,
                password_hash,
                role: Role::User,
                created_at: now_text(),
            },
        )
        .await?;
        self.session(&user)
    }

    pub async fn login(&self, credentials: Credentials) -> AppResult<Session> {
        let user = repo::by_username(&self.db, &credentials.username).await?;
        let password = credentials.password;
        let matched = match user {
            Some(user) => {
                let hash = user.password_hash.clone();
                blocking(move || password::verify(&password, &hash)).await?.then_some(user)
            }
            None => {
                blocking(move || password::verify_against_nothing(&password)).await?;
                None
            }
        };
        match matched {
            Some(user) => self.session(&user),
            None => Err(AppError::unauthorized("invalid_credentials", "unknown username or wrong password")),
        }
    }

    pub async fn me(&self, caller: &Caller) -> AppResult<Me> {
        let user = repo::by_id(&self.db, &caller.user_id).await?;
        Ok(Me {
            user_id: caller.user_id.clone(),
            role: caller.role,
            username: user.as_ref().map(|u| u.username.clone()),
            created_at: user.map(|u| u.created_at),
        })
    }
}
