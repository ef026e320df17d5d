use std::sync::Arc;

use super::model::{Credentials, Me, Session, UserRow};
use super::repo;
use crate::auth::password::Passwords;
use crate::auth::{Caller, Role, TokenService};
use crate::db::{Db, now_text};
use crate::error::{AppError, AppResult};

pub struct AccountsService {
    db: Db,
    tokens: Arc<TokenService>,
    passwords: Passwords,
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

impl AccountsService {
    pub fn new(db: Db, tokens: Arc<TokenService>, passwords: Passwords) -> Self {
        Self { db, tokens, passwords }
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
        let password_hash = self.passwords.hash(password).await?;
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
                self.passwords.verify(password, user.password_hash.clone()).await?.then_some(user)
            }
            None => {
                self.passwords.verify_against_nothing(password).await?;
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
