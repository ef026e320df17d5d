//! Who is calling: bearer tokens, password hashes, the caller and its role checks.

pub mod caller;
pub mod password;
pub mod token;

pub use caller::{BearerAuth, Caller, Role};
pub use token::TokenService;
