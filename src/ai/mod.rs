//! AI providers behind traits, chosen by configuration: built-in offline ones by default,
//! real HTTP ones when configured.

pub mod image;
pub mod music;
pub mod openai_http;
pub mod readiness;
pub mod sse_data;
pub mod text;
