//! What the premium service keeps: the records of generated images (the files themselves are
//! in the blob store). The rules (who may, what a tier admits) are the service's; a store
//! guarantees that each operation here is atomic.

pub mod postgres;
pub mod sqlite;

use crate::error::AppResult;
use crate::features::page::Page;
use crate::features::subscription::store::Hold;

/// A generated image's record.
#[derive(Debug, Clone)]
pub struct GenerationRow {
    pub generation_id: String,
    pub user_id: String,
    pub prompt: String,
    pub revised_prompt: Option<String>,
    pub size: String,
    pub style: String,
    pub quality: String,
    pub model: String,
    pub seed: Option<String>,
    pub sha256: String,
    pub original_path: String,
    pub thumbnail_path: String,
    pub width: u32,
    pub height: u32,
    pub created_at: String,
}

/// The URLs a generation's files were shown under when it was made, kept with its record.
#[derive(Debug, Clone)]
pub struct GenerationUrls {
    pub image_url: String,
    pub thumbnail_url: String,
}

#[async_trait::async_trait]
pub trait PremiumStore: Send + Sync + 'static {
    /// Records `generation` and commits `hold` (the quota held for it), atomically: either the
    /// record exists and the hold is use, or neither (the hold is still held; the caller
    /// releases it). An error when its id is already taken.
    async fn record_generation(&self, generation: GenerationRow, urls: GenerationUrls, hold: Hold) -> AppResult<()>;

    /// The generation with id `generation_id`, whoever's it is; `None` when there is none.
    async fn generation(&self, generation_id: &str) -> AppResult<Option<GenerationRow>>;

    /// A page of `user_id`'s generations, the newest first (ties by id, descending, so pages are
    /// stable), and how many the user has in all.
    async fn generations_of(&self, user_id: &str, page: Page) -> AppResult<(Vec<GenerationRow>, u64)>;

    /// Removes the generation's record; false when there was none.
    async fn delete_generation(&self, generation_id: &str) -> AppResult<bool>;
}
