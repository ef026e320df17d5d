use std::sync::Arc;

use super::model::{Credentials, EmailCredentials, Login, Me, NAME_MAX, PASSWORD_MAX, PASSWORD_MIN, Session, USERNAME_MAX};
use super::store::{AccountsStore, UserRow};
use crate::auth::password::Passwords;
use crate::auth::{Caller, Role, TokenService};
use crate::clock::now_text;
use crate::error::{AppError, AppResult};

pub struct AccountsService {
    store: Arc<dyn AccountsStore>,
    tokens: Arc<TokenService>,
    passwords: Passwords,
}

fn validate(credentials: &Credentials) -> AppResult<()> {
    let name = &credentials.username;
    if !(3..=USERNAME_MAX).contains(&name.chars().count()) {
        return Err(AppError::invalid_field("username", format!("must be 3 to {USERNAME_MAX} characters")));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | '+')) {
        return Err(AppError::invalid_field("username", "may contain only letters, digits, `_`, `-`, `.`, `@` and `+`"));
    }
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&credentials.password.chars().count()) {
        return Err(AppError::invalid_field("password", format!("must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")));
    }
    if let Some(display) = &credentials.name
        && (display.trim().is_empty() || display.chars().count() > NAME_MAX)
    {
        return Err(AppError::invalid_field("name", format!("must be 1 to {NAME_MAX} characters, not blank")));
    }
    Ok(())
}

/// An email address as a username: one `@` between a local part and a dotted domain, in lower
/// case (addresses are compared without case).
fn email_username(email: &str) -> AppResult<String> {
    let email = email.trim().to_ascii_lowercase();
    let valid = match email.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@'),
        None => false,
    };
    if !valid || email.len() > USERNAME_MAX {
        return Err(AppError::invalid_field("email", format!("must be an email address of at most {USERNAME_MAX} characters")));
    }
    Ok(email)
}

impl AccountsService {
    pub fn new(store: Arc<dyn AccountsStore>, tokens: Arc<TokenService>, passwords: Passwords) -> Self {
        Self { store, tokens, passwords }
    }

    fn session(&self, user: &UserRow) -> AppResult<Session> {
        let (token, claims) = self.tokens.mint(&user.user_id, user.role, self.tokens.default_ttl_secs())?;
        Ok(Session {
            user_id: user.user_id.clone(),
            username: user.username.clone(),
            name: user.display_name.clone().unwrap_or_else(|| user.username.clone()),
            role: user.role,
            token,
            expires_at: chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or_default(),
        })
    }

    pub async fn register(&self, credentials: Credentials) -> AppResult<Session> {
        validate(&credentials)?;
        let Credentials { username, password, name } = credentials;
        let password_hash = self.passwords.hash(password).await?;
        let user = UserRow {
            user_id: uuid::Uuid::now_v7().to_string(),
            username,
            display_name: name.map(|n| n.trim().to_owned()),
            password_hash,
            role: Role::User,
            created_at: now_text(),
        };
        if !self.store.insert_user(&user).await? {
            return Err(AppError::Conflict {
                code: "username_taken",
                message: format!("the username `{}` is already registered", user.username),
            });
        }
        self.session(&user)
    }

    /// The app's sign-up: the email address is the username.
    pub async fn register_email(&self, credentials: EmailCredentials) -> AppResult<Session> {
        let username = email_username(&credentials.email)?;
        self.register(Credentials { username, password: credentials.password, name: credentials.name }).await
    }

    /// The app's sign-in with an email address.
    pub async fn login_email(&self, credentials: EmailCredentials) -> AppResult<Session> {
        self.login(Login { username: credentials.email.trim().to_owned(), password: credentials.password }).await
    }

    pub async fn login(&self, credentials: Login) -> AppResult<Session> {
        if credentials.username.chars().count() > USERNAME_MAX || credentials.password.chars().count() > PASSWORD_MAX {
            return Err(AppError::bad_request(
                "credentials_too_long",
                format!("a username has at most {USERNAME_MAX} characters and a password at most {PASSWORD_MAX}"),
            ));
        }
        let user = self.store.user_by_username(&credentials.username).await?;
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

    /// The name an account shows: its display name, else its username; `None` for an id with
    /// no account here (tokens minted by `optima token` may name any id).
    pub async fn name_of(&self, user_id: &str) -> AppResult<Option<String>> {
        Ok(self.store.user_by_id(user_id).await?.map(|u| u.display_name.unwrap_or(u.username)))
    }

    pub async fn me(&self, caller: &Caller) -> AppResult<Me> {
        let user = self.store.user_by_id(&caller.user_id).await?;
        Ok(Me {
            user_id: caller.user_id.clone(),
            role: caller.role,
            username: user.as_ref().map(|u| u.username.clone()),
            created_at: user.map(|u| u.created_at),
        })
    }
}
