//! What the media service keeps: the records of profile photos and NFT artwork (the files
//! themselves are in the blob store). The rules (who may, how many photos a user keeps) are the
//! service's; a store guarantees that each operation here is atomic.

pub mod postgres;
pub mod sqlite;

use crate::error::AppResult;

/// A profile photo's record.
#[derive(Debug, Clone)]
pub struct PhotoRow {
    pub photo_id: String,
    pub user_id: String,
    pub caption: Option<String>,
    pub path: String,
    pub thumbnail_path: String,
    pub width: u32,
    pub height: u32,
    pub size_bytes: u64,
    pub created_at: String,
}

/// An NFT artwork's record.
#[derive(Debug, Clone)]
pub struct NftRow {
    pub nft_id: String,
    pub user_id: String,
    /// Unique among all artworks; below 2^63, so it fits a signed 64-bit column.
    pub token_id: u64,
    pub name: String,
    pub image_path: String,
    pub metadata_path: String,
    pub sha256: String,
    /// JSON array of `{trait_type, value}`.
    pub attributes: String,
    pub created_at: String,
}

#[async_trait::async_trait]
pub trait MediaStore: Send + Sync + 'static {
    /// Adds `photo` when its user keeps fewer than `max_per_user` photos, counted and inserted
    /// atomically (uploads racing past the limit add none beyond it). True when added; false,
    /// with nothing written, when the user already had `max_per_user` or more.
    async fn insert_photo_within_limit(&self, photo: &PhotoRow, max_per_user: u64) -> AppResult<bool>;

    /// The photo with id `photo_id`, whoever's it is; `None` when there is none.
    async fn photo(&self, photo_id: &str) -> AppResult<Option<PhotoRow>>;

    /// At most `limit` of `user_id`'s photos after skipping `offset`, the newest first (ties by
    /// id, descending), and how many photos the user has in all.
    async fn photos_of(&self, user_id: &str, limit: u32, offset: u32) -> AppResult<(Vec<PhotoRow>, u64)>;

    /// Removes the photo's record; false when there was none.
    async fn delete_photo(&self, photo_id: &str) -> AppResult<bool>;

    /// Adds `nft`; an error when its id or token id is already taken.
    async fn insert_nft(&self, nft: &NftRow) -> AppResult<()>;

    /// The artwork with id `nft_id`, whoever's it is; `None` when there is none.
    async fn nft(&self, nft_id: &str) -> AppResult<Option<NftRow>>;

    /// At most `limit` of `user_id`'s artworks after skipping `offset`, the newest first (ties
    /// by id, descending), and how many artworks the user has in all.
    async fn nfts_of(&self, user_id: &str, limit: u32, offset: u32) -> AppResult<(Vec<NftRow>, u64)>;
}
