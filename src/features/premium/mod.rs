//! Premium image generation: prompts to stored images with thumbnails, gated by the
//! subscription's image quota.

pub mod api;
pub mod model;
mod repo;
pub mod service;

pub use service::PremiumService;
