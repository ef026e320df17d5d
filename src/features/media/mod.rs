//! Profile media (avatar, photos) and generative NFT artwork with ERC-721 metadata.

pub mod api;
pub mod model;
pub mod nft;
mod repo;
pub mod service;

pub use service::MediaService;
