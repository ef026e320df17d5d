//! AI providers behind traits, chosen by configuration: built-in offline ones by default,
//! real HTTP ones when configured.

pub mod text;
pub mod music;
