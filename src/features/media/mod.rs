//! Profile media (avatar, photos) and generative NFT artwork with ERC-721 metadata.

pub mod api;
pub mod model;
pub mod nft;
pub mod service;
pub mod store;

pub use service::MediaService;
