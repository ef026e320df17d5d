//! Premium image generation: gated and charged through quota reservations, stored as an
//! original PNG, thumbnails and metadata in `r3al-premium-images`.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::model::*;
use super::store::{GenerationRow, GenerationUrls, PremiumStore};
use crate::ai::image::{ImageProvider, ImageQuality, ImageRequest, ImageStyle};
use crate::auth::Caller;
use crate::clock::now_text;
use crate::error::{AppError, AppResult};
use crate::features::fields::required;
use crate::features::page::Page;
use crate::features::storage::StorageService;
use crate::work_queue::{Priority, WorkQueue};
use crate::features::subscription::SubscriptionService;
use crate::features::subscription::plan::Feature;
use crate::features::subscription::service::usage_of;
use crate::imaging::images;
use crate::blobs::{BlobPath, Bucket};

const BUCKET: Bucket = Bucket::Images;
const THUMBNAIL_SIDE: u32 = 256;
const MAX_PROMPT_CHARS: usize = 4_000;

pub struct PremiumService {
    store: Arc<dyn PremiumStore>,
    storage: Arc<StorageService>,
    subscriptions: Arc<SubscriptionService>,
    images: Arc<dyn ImageProvider>,
    work: Arc<WorkQueue>,
}

fn parse_size(size: Option<&str>) -> AppResult<(u32, u32)> {
    match size.map(str::trim).unwrap_or("1024x1024") {
        "1024x1024" => Ok((1024, 1024)),
        "1024x1792" => Ok((1024, 1792)),
        "1792x1024" => Ok((1792, 1024)),
        other => Err(AppError::invalid_field("size", format!("unknown size `{other}`: use 1024x1024, 1024x1792 or 1792x1024"))),
    }
}

fn parse_style(style: Option<&str>) -> AppResult<ImageStyle> {
    match style.map(str::trim).unwrap_or("vivid") {
        "vivid" => Ok(ImageStyle::Vivid),
        "natural" => Ok(ImageStyle::Natural),
        other => Err(AppError::invalid_field("style", format!("unknown style `{other}`: use vivid or natural"))),
    }
}

fn parse_quality(quality: Option<&str>) -> AppResult<ImageQuality> {
    match quality.map(str::trim).unwrap_or("standard") {
        "standard" => Ok(ImageQuality::Standard),
        "hd" => Ok(ImageQuality::Hd),
        other => Err(AppError::invalid_field("quality", format!("unknown quality `{other}`: use standard or hd"))),
    }
}

/// The folder of a generation's files.
fn folder_of(user_id: &str, generation_id: &str) -> String {
    format!("users/{user_id}/generations/{generation_id}")
}

/// A file of a generation, by name (`original.png`, `thumbnail.png`, `thumbnail.webp`, `metadata.json`).
fn file_of(g: &GenerationRow, name: &str) -> String {
    format!("{}/{name}", folder_of(&g.user_id, &g.generation_id))
}

const FILES: [&str; 4] = ["original.png", "thumbnail.png", "thumbnail.webp", "metadata.json"];

fn not_found(id: &str) -> AppError {
    AppError::NotFound { code: "image_not_found", message: format!("no image generation `{id}`") }
}

/// The files of one generation, encoded off the async runtime.
struct Encoded {
    png: Vec<u8>,
    thumbnail_png: Vec<u8>,
    thumbnail_webp: Vec<u8>,
    width: u32,
    height: u32,
    sha256: String,
}

fn encode(image: &image::DynamicImage) -> Result<Encoded, images::ImageError> {
    let png = images::encode_png(image)?;
    let thumbnail = images::thumbnail(image, THUMBNAIL_SIDE);
    Ok(Encoded {
        sha256: Sha256::digest(&png).iter().map(|b| format!("{b:02x}")).collect(),
        thumbnail_png: images::encode_png(&thumbnail)?,
        thumbnail_webp: images::encode_webp(&thumbnail)?,
        width: image.width(),
        height: image.height(),
        png,
    })
}

impl PremiumService {
    pub fn new(
        store: Arc<dyn PremiumStore>,
        storage: Arc<StorageService>,
        subscriptions: Arc<SubscriptionService>,
        images: Arc<dyn ImageProvider>,
        work: Arc<WorkQueue>,
    ) -> Self {
        Self { store, storage, subscriptions, images, work }
    }

    fn view(&self, g: GenerationRow) -> AppResult<ImageGeneration> {
        let url = |path: &str| BlobPath::parse(path).map(|p| self.storage.playable_url(BUCKET, &p));
        Ok(ImageGeneration {
            image_url: url(&g.original_path)?,
            thumbnail_url: url(&g.thumbnail_path)?,
            thumbnail_webp_url: url(&file_of(&g, "thumbnail.webp"))?,
            generation_id: g.generation_id,
            user_id: g.user_id,
            prompt: g.prompt,
            revised_prompt: g.revised_prompt,
            size: g.size,
            style: g.style,
            quality: g.quality,
            model: g.model,
            width: g.width,
            height: g.height,
            sha256: g.sha256,
            seed: g.seed,
            status: "completed".into(),
            created_at: g.created_at,
        })
    }

    /// Generates an image. The quota is held before the provider is called and charged in the
    /// transaction that records the image; a failure releases it and leaves no files.
    pub async fn generate(&self, caller: &Caller, r: GenerateImage) -> AppResult<Generated> {
        caller.ensure_acts_for(&r.user_id)?;
        let prompt = required("prompt", r.prompt, MAX_PROMPT_CHARS)?;
        let (width, height) = parse_size(r.size.as_deref())?;
        let style = parse_style(r.style.as_deref())?;
        let quality = parse_quality(r.quality.as_deref())?;
        let id = uuid::Uuid::now_v7().to_string();
        let folder = folder_of(&r.user_id, &id);
        BlobPath::parse(&folder)?;
        let priority = Priority::of(self.subscriptions.tier_of(&r.user_id).await?);
        let reservation = self.subscriptions.quotas().reserve(&r.user_id, Feature::ImageGeneration, 1).await?;
        let request = ImageRequest { prompt: prompt.clone(), width, height, style, quality };
        let made = match self.work.run("image", priority, self.images.generate(request)).await.and_then(|made| made) {
            Ok(made) => made,
            Err(e) => {
                reservation.release().await;
                return Err(e);
            }
        };
        let row = GenerationRow {
            generation_id: id.clone(),
            user_id: r.user_id.clone(),
            prompt,
            revised_prompt: made.revised_prompt.clone(),
            size: format!("{width}x{height}"),
            style: if style == ImageStyle::Vivid { "vivid" } else { "natural" }.into(),
            quality: if quality == ImageQuality::Hd { "hd" } else { "standard" }.into(),
            model: made.model.clone(),
            seed: made.seed.map(|s| s.to_string()),
            sha256: String::new(),
            original_path: format!("{folder}/{}", FILES[0]),
            thumbnail_path: format!("{folder}/{}", FILES[1]),
            width: 0,
            height: 0,
            created_at: now_text(),
        };
        let stored = self.store(row, made.image).await;
        let (row, written) = match stored {
            Ok(done) => done,
            Err(e) => {
                reservation.release().await;
                return Err(e);
            }
        };
        let view = self.view(row.clone())?;
        let urls = GenerationUrls { image_url: view.image_url.clone(), thumbnail_url: view.thumbnail_url.clone() };
        let recorded = self.store.record_generation(row, urls, reservation.hold()).await;
        if let Err(e) = recorded {
            reservation.release().await;
            self.remove(&written).await;
            return Err(e);
        }
        reservation.committed();
        let usage = usage_of(&self.subscriptions.tier_standing(&r.user_id, Feature::ImageGeneration).await?);
        Ok(Generated { generation: view, usage })
    }

    /// Encodes and writes the original, the thumbnails and `metadata.json`; the row gains the
    /// figures. On failure whatever was written is removed.
    async fn store(&self, mut row: GenerationRow, image: image::DynamicImage) -> AppResult<(GenerationRow, Vec<BlobPath>)> {
        let encoded = tokio::task::spawn_blocking(move || encode(&image))
            .await
            .map_err(AppError::internal)?
            .map_err(|e| AppError::internal(format!("encoding the generated image: {e}")))?;
        row.sha256 = encoded.sha256.clone();
        row.width = encoded.width;
        row.height = encoded.height;
        let metadata = serde_json::json!({
            "generationId": row.generation_id, "userId": row.user_id, "prompt": row.prompt, "revisedPrompt": row.revised_prompt,
            "model": row.model, "size": row.size, "style": row.style, "quality": row.quality, "seed": row.seed,
            "width": row.width, "height": row.height, "sha256": row.sha256, "createdAt": row.created_at,
        });
        let files = [
            (row.original_path.clone(), encoded.png),
            (row.thumbnail_path.clone(), encoded.thumbnail_png),
            (file_of(&row, "thumbnail.webp"), encoded.thumbnail_webp),
            (file_of(&row, "metadata.json"), serde_json::to_vec_pretty(&metadata).map_err(AppError::internal)?),
        ];
        let files = files.into_iter().map(|(path, bytes)| Ok((BlobPath::parse(&path)?, bytes))).collect::<AppResult<Vec<_>>>()?;
        let written = self.storage.blobs().put_all(BUCKET, files).await?;
        Ok((row, written))
    }

    async fn remove(&self, paths: &[BlobPath]) {
        self.storage.blobs().delete_all(BUCKET, paths).await;
    }

    async fn owned(&self, caller: &Caller, generation_id: &str) -> AppResult<GenerationRow> {
        match self.store.generation(generation_id).await? {
            Some(g) if g.user_id == caller.user_id || caller.is_privileged() => Ok(g),
            _ => Err(not_found(generation_id)),
        }
    }

    pub async fn get(&self, caller: &Caller, generation_id: &str) -> AppResult<ImageGeneration> {
        let g = self.owned(caller, generation_id).await?;
        self.view(g)
    }

    /// Removes the row, then the files (a failed file removal leaves an unreachable file, logged).
    pub async fn delete(&self, caller: &Caller, generation_id: &str) -> AppResult<Deleted> {
        let g = self.owned(caller, generation_id).await?;
        self.store.delete_generation(&g.generation_id).await?;
        let paths = FILES.iter().map(|name| BlobPath::parse(&file_of(&g, name))).collect::<AppResult<Vec<_>>>()?;
        self.remove(&paths).await;
        Ok(Deleted { generation_id: g.generation_id, deleted: true })
    }

    pub async fn history(&self, caller: &Caller, user_id: &str, limit: u32, offset: u32) -> AppResult<ImageHistory> {
        caller.ensure_acts_for(user_id)?;
        let page = Page::new(limit, offset)?;
        let (rows, total) = self.store.generations_of(user_id, page).await?;
        let has_more = page.has_more(rows.len(), total);
        let images = rows.into_iter().map(|g| self.view(g)).collect::<AppResult<Vec<_>>>()?;
        Ok(ImageHistory { images, total, has_more })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_styles_and_qualities_are_the_documented_ones() {
        assert_eq!(parse_size(None).unwrap(), (1024, 1024));
        assert_eq!(parse_size(Some("1792x1024")).unwrap(), (1792, 1024));
        assert!(parse_size(Some("512x512")).is_err());
        assert_eq!(parse_style(Some("natural")).unwrap(), ImageStyle::Natural);
        assert!(parse_style(Some("noir")).is_err());
        assert_eq!(parse_quality(None).unwrap(), ImageQuality::Standard);
        assert!(parse_quality(Some("ultra")).is_err());
    }
}
