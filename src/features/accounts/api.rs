use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::model::{Credentials, Login, Me, Session};
use crate::rest::{ApiTags, JsonBody};
use crate::features::accounts::AccountsService;
use crate::auth::BearerAuth;
use crate::error::AppResult;

pub struct AccountsApi;

#[derive(ApiResponse)]
enum Created {
    /// The account was created; the answer carries a bearer token.
    #[oai(status = 201)]
    Created(Json<Session>),
}

#[OpenApi(prefix_path = "/api/auth", tag = "ApiTags::Auth")]
impl AccountsApi {
    /// Create an account
    ///
    /// Usernames are unique regardless of case; the password is stored as an argon2id hash.
    #[oai(path = "/register", method = "post")]
    async fn register(&self, accounts: Data<&Arc<AccountsService>>, body: JsonBody<Credentials>) -> AppResult<Created> {
        Ok(Created::Created(Json(accounts.register(body.0).await?)))
    }

    /// Exchange a username and password for a bearer token
    ///
    /// Wrong credentials are 401 `invalid_credentials`, whatever their length.
    #[oai(path = "/login", method = "post")]
    async fn login(&self, accounts: Data<&Arc<AccountsService>>, body: JsonBody<Login>) -> AppResult<Json<Session>> {
        Ok(Json(accounts.login(body.0).await?))
    }

    /// Who the bearer token belongs to
    #[oai(path = "/me", method = "get")]
    async fn me(&self, accounts: Data<&Arc<AccountsService>>, auth: BearerAuth) -> AppResult<Json<Me>> {
        Ok(Json(accounts.me(&auth.0).await?))
    }
}
