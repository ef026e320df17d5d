//! Premium image generation: prompts to stored images with thumbnails, gated by the
//! subscription's image quota.

pub mod api;
pub mod model;
pub mod service;
pub mod store;

pub use service::PremiumService;
