//! HS256 bearer tokens.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::Role;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id: any string the app uses (`test_user`) or one this server issued.
    pub sub: String,
    pub role: Role,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    default_ttl_secs: u64,
}

impl TokenService {
    pub fn new(secret: &[u8], issuer: &str, default_ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            default_ttl_secs,
        }
    }

    pub fn default_ttl_secs(&self) -> u64 {
        self.default_ttl_secs
    }

    pub fn mint(&self, user_id: &str, role: Role, ttl_secs: u64) -> AppResult<(String, Claims)> {
        let iat = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(ttl_secs).map_err(|_| AppError::invalid_field("ttl", "too large"))?;
        let claims = Claims {
            sub: user_id.to_owned(),
            role,
            iss: self.issuer.clone(),
            iat,
            exp: iat.saturating_add(ttl),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)?;
        Ok((token, claims))
    }

    pub fn verify(&self, token: &str) -> AppResult<Claims> {
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) if data.claims.sub.is_empty() => {
                Err(AppError::unauthorized("invalid_token", "token has an empty subject"))
            }
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => {
                Err(AppError::unauthorized("token_expired", "bearer token has expired"))
            }
            Err(_) => Err(AppError::unauthorized("invalid_token", "bearer token is invalid")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> TokenService {
        TokenService::new(b"0123456789abcdef0123456789abcdef", "optima", 60)
    }

    #[test]
    fn round_trip_keeps_subject_and_role() {
        let s = service();
        let (token, _) = s.mint("test_user", Role::Admin, 60).unwrap();
        let claims = s.verify(&token).unwrap();
        assert_eq!(claims.sub, "test_user");
        assert_eq!(claims.role, Role::Admin);
    }

    #[test]
    fn other_key_or_issuer_is_rejected() {
        let (token, _) = service().mint("u", Role::User, 60).unwrap();
        let other = TokenService::new(b"another-secret-another-secret-xx", "optima", 60);
        assert_eq!(other.verify(&token).unwrap_err().code(), "invalid_token");
        let other_iss = TokenService::new(b"0123456789abcdef0123456789abcdef", "elsewhere", 60);
        assert_eq!(other_iss.verify(&token).unwrap_err().code(), "invalid_token");
    }

    #[test]
    fn expired_token_is_rejected_as_expired() {
        let s = service();
        let (token, _) = s.mint("u", Role::User, 0).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(s.verify(&token).unwrap_err().code(), "token_expired");
    }
}
