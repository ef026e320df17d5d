//! Who is calling: bearer tokens, password hashes, the caller and its role checks.

pub mod caller;
pub mod password;
pub mod role;
pub mod token;

pub use caller::{BearerAuth, Caller};
pub use role::Role;
pub use token::TokenService;

/// Longest user id a token may name.
pub const MAX_USER_ID_CHARS: usize = 128;

/// A user id becomes a folder of the blob store (`users/{id}/…`) and a segment of URLs, so it
/// is 1 to 128 of ASCII letters, digits and `_ - . @ +`, and does not start with `.`: the app's
/// ids (`test_user`, UUIDs, Firebase uids) fit; `../x` and `alice/projects` do not.
pub fn check_user_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_USER_ID_CHARS {
        return Err(format!("a user id is 1 to {MAX_USER_ID_CHARS} characters"));
    }
    if id.starts_with('.') {
        return Err("a user id may not start with `.`".into());
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@' | b'+')) {
        return Err("a user id may contain only ASCII letters, digits, `_`, `-`, `.`, `@` and `+`".into());
    }
    Ok(())
}
