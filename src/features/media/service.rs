//! Profile media (avatar, photos) made safe and small, and generative NFT artwork with ERC-721
//! metadata, in `r3al-user-media`.

use std::sync::Arc;


use super::model::*;
use super::nft::{self, NftRequest};
use super::store::{MediaStore, NftRow, PhotoRow};
use crate::auth::Caller;
use crate::config::MediaConfig;
use crate::clock::now_text;
use crate::error::{AppError, AppResult};
use crate::features::fields::trimmed;
use crate::features::page::Page;
use crate::features::storage::StorageService;
use crate::features::subscription::SubscriptionService;
use crate::work_queue::{Priority, WorkQueue};
use crate::imaging::budget::DecodeBudget;
use crate::imaging::images::{self, Decoded, Header, ImageError, ImageLimits};
use crate::blobs::{BlobPath, Bucket};

const BUCKET: Bucket = Bucket::Media;
const AVATAR_SIDE: u32 = 512;
const AVATAR_SMALL_SIDE: u32 = 128;
const THUMBNAIL_SIDE: u32 = 256;

pub struct MediaService {
    store: Arc<dyn MediaStore>,
    storage: Arc<StorageService>,
    subscriptions: Arc<SubscriptionService>,
    work: Arc<WorkQueue>,
    decode_budget: Arc<DecodeBudget>,
    config: MediaConfig,
}

impl From<ImageError> for AppError {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::TooLarge { .. } | ImageError::TooManyPixels { .. } | ImageError::OverBudget { .. } => {
                AppError::PayloadTooLarge { message: e.to_string() }
            }
            ImageError::Busy { retry_after_secs } => {
                AppError::Unavailable { code: "decode_busy", message: e.to_string(), retry_after_secs: Some(retry_after_secs) }
            }
            ImageError::NotAnImage => AppError::Unprocessable {
                code: "not_an_image",
                message: "the file is not a PNG, JPEG or WebP image (checked by its content, not its name)".into(),
                details: Some(serde_json::json!({ "field": "file" })),
            },
            ImageError::Unsupported(_) | ImageError::Corrupt(_) => {
                AppError::Unprocessable { code: "unusable_image", message: e.to_string(), details: Some(serde_json::json!({ "field": "file" })) }
            }
            ImageError::Encode(_) => AppError::internal(e),
        }
    }
}


/// Runs CPU-heavy image work off the async runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ImageError> + Send + 'static) -> AppResult<T> {
    Ok(tokio::task::spawn_blocking(f).await.map_err(AppError::internal)??)
}

impl MediaService {
    pub fn new(store: Arc<dyn MediaStore>, storage: Arc<StorageService>, subscriptions: Arc<SubscriptionService>, work: Arc<WorkQueue>, decode_budget: Arc<DecodeBudget>, config: MediaConfig) -> Self {
        Self { store, storage, subscriptions, work, decode_budget, config }
    }

    pub fn limits(&self) -> ImageLimits {
        ImageLimits { max_bytes: self.config.max_image_bytes, max_pixels: self.config.max_image_pixels, max_side: self.config.max_image_side }
    }

    fn url(&self, path: &str) -> AppResult<String> {
        Ok(self.storage.playable_url(BUCKET, &BlobPath::parse(path)?))
    }

    /// Decodes an upload and runs `process` on it, off the runtime and inside the decode memory
    /// budget. The reservation covers the larger of the decode's peak and `process`'s
    /// (`process_bytes`, the decoded image included), and travels into the blocking task: it is
    /// given back when the work ends, not when a client that went away drops the request.
    async fn decode_then<T: Send + 'static>(
        &self,
        bytes: Vec<u8>,
        process_bytes: impl FnOnce(&Header) -> u64,
        process: impl FnOnce(Decoded) -> Result<T, ImageError> + Send + 'static,
    ) -> AppResult<T> {
        let limits = self.limits();
        let header = images::inspect(&bytes, limits)?;
        let reservation = self.decode_budget.reserve(&header, header.decode_bytes().max(process_bytes(&header))).await?;
        blocking(move || {
            let _reservation = reservation;
            process(images::decode_untrusted(&bytes, limits)?)
        })
        .await
    }

    /// Writes every file or none.
    async fn put_all(&self, files: Vec<(String, Vec<u8>)>) -> AppResult<Vec<BlobPath>> {
        let files = files.into_iter().map(|(path, bytes)| Ok((BlobPath::parse(&path)?, bytes))).collect::<AppResult<Vec<_>>>()?;
        Ok(self.storage.blobs().put_all(BUCKET, files).await?)
    }

    async fn remove(&self, paths: &[BlobPath]) {
        self.storage.blobs().delete_all(BUCKET, paths).await;
    }

    // ---- avatar ------------------------------------------------------------------------------

    /// Replaces the user's avatar: decoded safely, oriented, cropped to a square, stored as
    /// 512 and 128 px JPEGs (no metadata) and a 512 px WebP.
    pub async fn set_avatar(&self, caller: &Caller, user_id: &str, bytes: Vec<u8>) -> AppResult<Avatar> {
        caller.ensure_acts_for(user_id)?;
        let folder = format!("users/{user_id}/profile");
        BlobPath::parse(&folder)?;
        let quality = self.config.jpeg_quality;
        let square_bytes = |header: &Header| images::square_avatar_bytes(header, AVATAR_SIDE);
        let (large, small, webp) = self.decode_then(bytes, square_bytes, move |decoded| {
            let square = images::square_avatar(&decoded.image, AVATAR_SIDE);
            let small = image::imageops::thumbnail(&square, AVATAR_SMALL_SIDE, AVATAR_SMALL_SIDE);
            let webp = images::encode_webp(&image::DynamicImage::ImageRgb8(square.clone()))?;
            Ok((images::encode_jpeg(&square, quality)?, images::encode_jpeg(&small, quality)?, webp))
        })
        .await?;
        let size_bytes = large.len() as u64;
        let (path, small_path, webp_path) = (format!("{folder}/avatar.jpg"), format!("{folder}/avatar_128.jpg"), format!("{folder}/avatar.webp"));
        self.put_all(vec![(path.clone(), large), (small_path.clone(), small), (webp_path.clone(), webp)]).await?;
        Ok(Avatar {
            url: self.url(&path)?,
            small_url: self.url(&small_path)?,
            webp_url: self.url(&webp_path)?,
            path,
            width: AVATAR_SIDE,
            height: AVATAR_SIDE,
            size_bytes,
        })
    }

    // ---- photos ------------------------------------------------------------------------------

    fn photo_view(&self, p: PhotoRow) -> AppResult<Photo> {
        Ok(Photo {
            url: self.url(&p.path)?,
            thumbnail_url: self.url(&p.thumbnail_path)?,
            photo_id: p.photo_id,
            user_id: p.user_id,
            caption: p.caption,
            width: p.width,
            height: p.height,
            size_bytes: p.size_bytes,
            created_at: p.created_at,
        })
    }

    /// Adds a photo: metadata stripped, scaled to fit `media.photo_long_side`, with a 256 px
    /// thumbnail; at most `media.max_photos_per_user` (409 `photo_limit`).
    pub async fn add_photo(&self, caller: &Caller, user_id: &str, caption: Option<String>, bytes: Vec<u8>) -> AppResult<Photo> {
        caller.ensure_acts_for(user_id)?;
        let caption = trimmed("caption", caption, 500)?;
        let id = uuid::Uuid::now_v7().to_string();
        let folder = format!("users/{user_id}/profile/photos");
        BlobPath::parse(&folder)?;
        let (quality, long_side) = (self.config.jpeg_quality, self.config.photo_long_side);
        let fitted_bytes = |header: &Header| images::fit_within_bytes(header, long_side);
        let (photo, thumbnail, width, height) = self.decode_then(bytes, fitted_bytes, move |decoded| {
            let fitted = images::flatten_on_white(&images::fit_within(decoded.image, long_side));
            let thumbnail = images::thumbnail(&image::DynamicImage::ImageRgb8(fitted.clone()), THUMBNAIL_SIDE).to_rgb8();
            Ok((images::encode_jpeg(&fitted, quality)?, images::encode_jpeg(&thumbnail, quality)?, fitted.width(), fitted.height()))
        })
        .await?;
        let row = PhotoRow {
            photo_id: id.clone(),
            user_id: user_id.to_owned(),
            caption,
            path: format!("{folder}/{id}.jpg"),
            thumbnail_path: format!("{folder}/{id}_thumb.jpg"),
            width,
            height,
            size_bytes: photo.len() as u64,
            created_at: now_text(),
        };
        let written = self.put_all(vec![(row.path.clone(), photo), (row.thumbnail_path.clone(), thumbnail)]).await?;
        let max = self.config.max_photos_per_user;
        let recorded = self.store.insert_photo_within_limit(&row, max).await.and_then(|added| {
            if added { Ok(()) } else { Err(AppError::Conflict { code: "photo_limit", message: format!("a user keeps at most {max} photos: delete one first") }) }
        });
        if let Err(e) = recorded {
            self.remove(&written).await;
            return Err(e);
        }
        self.photo_view(row)
    }

    pub async fn photos(&self, caller: &Caller, user_id: &str, limit: u32, offset: u32) -> AppResult<PhotoPage> {
        caller.ensure_acts_for(user_id)?;
        let page = Page::new(limit, offset)?;
        let (rows, total) = self.store.photos_of(user_id, page.limit, page.offset).await?;
        let has_more = page.has_more(rows.len(), total);
        let photos = rows.into_iter().map(|p| self.photo_view(p)).collect::<AppResult<Vec<_>>>()?;
        Ok(PhotoPage { photos, total, has_more })
    }

    /// Deletes a photo of `owner` (when the caller names one) that the caller may delete;
    /// any other photo reads as not found.
    pub async fn delete_photo(&self, caller: &Caller, owner: Option<&str>, photo_id: &str) -> AppResult<Deleted> {
        let p = match self.store.photo(photo_id).await? {
            Some(p) if owner.is_none_or(|o| o == p.user_id) && (p.user_id == caller.user_id || caller.is_privileged()) => p,
            _ => return Err(AppError::NotFound { code: "photo_not_found", message: format!("no photo `{photo_id}`") }),
        };
        self.store.delete_photo(&p.photo_id).await?;
        self.remove(&[BlobPath::parse(&p.path)?, BlobPath::parse(&p.thumbnail_path)?]).await;
        Ok(Deleted { id: p.photo_id, deleted: true })
    }

    // ---- NFT artwork -------------------------------------------------------------------------

    fn nft_view(&self, n: NftRow, metadata: serde_json::Value) -> AppResult<Nft> {
        let attributes: Vec<NftTrait> = serde_json::from_str(&n.attributes).map_err(AppError::internal)?;
        Ok(Nft {
            image_url: self.url(&n.image_path)?,
            metadata_url: self.url(&n.metadata_path)?,
            nft_id: n.nft_id,
            user_id: n.user_id,
            token_id: n.token_id,
            name: n.name,
            sha256: n.sha256,
            attributes,
            metadata,
            minted: false,
            created_at: n.created_at,
        })
    }

    /// Generates a unique artwork (a fresh random seed) with ERC-721 metadata beside it.
    pub async fn generate_nft(&self, caller: &Caller, r: GenerateNft) -> AppResult<Nft> {
        caller.ensure_acts_for(&r.user_id)?;
        let folder = format!("users/{}/nfts", r.user_id);
        BlobPath::parse(&folder)?;
        let seed: [u8; 32] = crate::crypto::keys::random_bytes(32)
            .map_err(AppError::internal)?
            .try_into()
            .map_err(|_| AppError::internal("32 random bytes"))?;
        let request = NftRequest {
            color_scheme: r.color_scheme.map(|s| s.trim().to_owned()),
            style: r.style.map(|s| s.trim().to_owned()),
            traits: r.traits.unwrap_or_default().into_iter().map(|t| (t.trait_type, t.value)).collect(),
        };
        let priority = Priority::of(self.subscriptions.tier_of(&r.user_id).await?);
        let art = self
            .work
            .run("nft", priority, async move { tokio::task::spawn_blocking(move || nft::generate(seed, &request)).await })
            .await?
            .map_err(AppError::internal)?
            .map_err(|e| {
                let field = match e {
                    nft::NftError::UnknownColorScheme(_) => "colorScheme",
                    nft::NftError::UnknownStyle(_) => "style",
                    nft::NftError::TooManyTraits(_) | nft::NftError::InvalidTrait(_) => "traits",
                };
                AppError::invalid_field(field, e.to_string())
            })?;
        let attributes = art.attributes.clone();
        let png = blocking(move || images::encode_png(&image::DynamicImage::ImageRgba8(art.image))).await?;
        // The token id comes from the seed: unique without a counter (the column is UNIQUE).
        let token_id = u64::from_be_bytes(seed[..8].try_into().map_err(AppError::internal)?) >> 1;
        let id = uuid::Uuid::now_v7().to_string();
        let (image_path, metadata_path) = (format!("{folder}/{id}.png"), format!("{folder}/{id}.json"));
        let name = format!("R3AL Genesis #{token_id}");
        let sha256 = crate::crypto::sha256_hex(&png);
        let image_uri = self.storage.object_url(BUCKET, &BlobPath::parse(&image_path)?);
        let description = "Generative artwork made by R3AL's Optima server. Not minted: this metadata is ready for a later ERC-721 mint.";
        let metadata = nft::erc721_metadata(&name, description, &image_uri, token_id, &attributes, &sha256);
        let traits: Vec<NftTrait> = attributes.into_iter().map(|(trait_type, value)| NftTrait { trait_type, value }).collect();
        let row = NftRow {
            nft_id: id,
            user_id: r.user_id.clone(),
            token_id,
            name,
            image_path: image_path.clone(),
            metadata_path: metadata_path.clone(),
            sha256,
            attributes: serde_json::to_string(&traits).map_err(AppError::internal)?,
            created_at: now_text(),
        };
        let meta_bytes = serde_json::to_vec_pretty(&metadata).map_err(AppError::internal)?;
        let written = self.put_all(vec![(image_path, png), (metadata_path, meta_bytes)]).await?;
        if let Err(e) = self.store.insert_nft(&row).await {
            self.remove(&written).await;
            return Err(e);
        }
        self.nft_view(row, metadata)
    }

    async fn metadata_of(&self, n: &NftRow) -> AppResult<serde_json::Value> {
        let bytes = self.storage.blobs().get_bytes(BUCKET, &BlobPath::parse(&n.metadata_path)?).await?;
        serde_json::from_slice(&bytes).map_err(|e| AppError::internal(format!("NFT metadata {}: {e}", n.metadata_path)))
    }

    pub async fn nft(&self, caller: &Caller, nft_id: &str) -> AppResult<Nft> {
        let n = match self.store.nft(nft_id).await? {
            Some(n) if n.user_id == caller.user_id || caller.is_privileged() => n,
            _ => return Err(AppError::NotFound { code: "nft_not_found", message: format!("no NFT `{nft_id}`") }),
        };
        let metadata = self.metadata_of(&n).await?;
        self.nft_view(n, metadata)
    }

    pub async fn nfts(&self, caller: &Caller, user_id: &str, limit: u32, offset: u32) -> AppResult<NftPage> {
        caller.ensure_acts_for(user_id)?;
        let page = Page::new(limit, offset)?;
        let (rows, total) = self.store.nfts_of(user_id, page.limit, page.offset).await?;
        let has_more = page.has_more(rows.len(), total);
        let mut nfts = Vec::with_capacity(rows.len());
        for n in rows {
            let metadata = self.metadata_of(&n).await?;
            nfts.push(self.nft_view(n, metadata)?);
        }
        Ok(NftPage { nfts, total, has_more })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_decode_budget_is_503_with_retry_after_and_an_image_over_it_413() {
        let busy = AppError::from(ImageError::Busy { retry_after_secs: 5 });
        assert_eq!((busy.status().as_u16(), busy.code(), busy.retry_after_secs()), (503, "decode_busy", Some(5)));
        let over = AppError::from(ImageError::OverBudget { width: 9000, height: 9000, needed: 700, budget: 384 });
        assert_eq!((over.status().as_u16(), over.code()), (413, "payload_too_large"));
    }
}
