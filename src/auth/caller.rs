//! The authenticated caller, the bearer scheme that produces it, and ownership checks.

use std::sync::Arc;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

pub use super::role::Role;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub role: Role,
}

impl Caller {
    /// Admins and services may act for anyone.
    pub fn is_privileged(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Service)
    }

    /// Allows acting on `user_id`'s data only for that user or a privileged caller.
    pub fn ensure_acts_for(&self, user_id: &str) -> AppResult<()> {
        if self.user_id == user_id || self.is_privileged() {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "the caller may not act for user `{user_id}`"
            )))
        }
    }

    pub fn ensure_privileged(&self, what: &str) -> AppResult<()> {
        if self.is_privileged() {
            Ok(())
        } else {
            Err(AppError::forbidden(format!("{what} needs an admin or service token")))
        }
    }
}

impl super::TokenService {
    /// The caller a valid token names.
    pub fn caller(&self, token: &str) -> AppResult<Caller> {
        let claims = self.verify(token)?;
        Ok(Caller { user_id: claims.sub, role: claims.role })
    }
}

/// `Authorization: Bearer <JWT>`, HS256, issued by `POST /api/auth/login` or `optima token`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer")]
pub struct BearerAuth(pub Caller);

/// Finds the token service among the request's data (the route table puts it there).
async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Caller> {
    let tokens = req
        .data::<Arc<super::TokenService>>()
        .ok_or_else(|| AppError::internal("the token service is missing from the request's data"))?;
    Ok(tokens.caller(&bearer.token)?)
}
