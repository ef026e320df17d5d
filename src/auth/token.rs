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
    /// Not before: optional; a token from elsewhere may carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// How far `iat` and `nbf` may lie in the future: clock skew between the machine that minted a
/// token and this one. Expiry has no leeway.
const CLOCK_SKEW_SECS: i64 = 30;

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

    /// A token for `user_id`, valid for `ttl_secs` (at least 1).
    pub fn mint(&self, user_id: &str, role: Role, ttl_secs: u64) -> AppResult<(String, Claims)> {
        super::check_user_id(user_id).map_err(|why| AppError::invalid_field("user", why))?;
        if ttl_secs == 0 {
            return Err(AppError::invalid_field("ttl", "must be at least 1 second: a token with no lifetime is expired when issued"));
        }
        let iat = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(ttl_secs).map_err(|_| AppError::invalid_field("ttl", "too large"))?;
        let claims = Claims {
            sub: user_id.to_owned(),
            role,
            iss: self.issuer.clone(),
            iat,
            exp: iat.saturating_add(ttl),
            nbf: None,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)?;
        Ok((token, claims))
    }

    pub fn verify(&self, token: &str) -> AppResult<Claims> {
        let now = chrono::Utc::now().timestamp();
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) if super::check_user_id(&data.claims.sub).is_err() => {
                Err(AppError::unauthorized("invalid_token", "token names no valid user id"))
            }
            Ok(data) if data.claims.iat > now + CLOCK_SKEW_SECS || data.claims.nbf.is_some_and(|nbf| nbf > now + CLOCK_SKEW_SECS) => {
                Err(AppError::unauthorized("token_not_yet_valid", "bearer token is not valid yet (iat or nbf lies in the future)"))
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

    /// Signs `claims` as the service would, so tests can shape any claim.
    fn sign(claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"))
            .unwrap()
    }

    fn claims(iat: i64, exp: i64, nbf: Option<i64>) -> Claims {
        Claims { sub: "u".into(), role: Role::User, iss: "optima".into(), iat, exp, nbf }
    }

    #[test]
    fn expired_token_is_rejected_as_expired() {
        let now = chrono::Utc::now().timestamp();
        let token = sign(&claims(now - 120, now - 1, None));
        assert_eq!(service().verify(&token).unwrap_err().code(), "token_expired");
    }

    #[test]
    fn tokens_from_the_future_are_refused_beyond_the_clock_skew() {
        let s = service();
        let now = chrono::Utc::now().timestamp();
        for (iat, nbf) in [(now + 3600, None), (now, Some(now + 3600)), (now + 2 * CLOCK_SKEW_SECS, None)] {
            let token = sign(&claims(iat, now + 7200, nbf));
            assert_eq!(s.verify(&token).unwrap_err().code(), "token_not_yet_valid", "iat {iat} nbf {nbf:?}");
        }
        // A clock a few seconds ahead is tolerated.
        s.verify(&sign(&claims(now + 5, now + 7200, Some(now + 5)))).unwrap();
    }

    #[test]
    fn minting_refuses_no_lifetime_and_ids_that_are_not_user_ids() {
        let s = service();
        assert_eq!(s.mint("u", Role::User, 0).unwrap_err().code(), "invalid_field");
        for id in ["../x", "alice/projects", "", ".hidden", "a b", "x\\y", &"a".repeat(129)] {
            assert!(s.mint(id, Role::User, 60).is_err(), "{id:?} was accepted");
        }
        for id in ["test_user", "0191d2c4-7b1e-7cc0-9a7e-2f0c5b7e9a10", "Xy9kQ2mB8vN4pL6tR1sW3zH5jF7d", "a.b@c+d"] {
            s.mint(id, Role::User, 60).unwrap();
        }
    }

    #[test]
    fn a_token_naming_a_path_as_its_user_is_refused() {
        let now = chrono::Utc::now().timestamp();
        let token = sign(&Claims { sub: "../x".into(), ..claims(now, now + 60, None) });
        assert_eq!(service().verify(&token).unwrap_err().code(), "invalid_token");
    }
}
