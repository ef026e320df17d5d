//! Profile media and NFT artwork's REST skin.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Multipart, OpenApi};

use super::model::*;
use crate::rest::{ApiTags, JsonBody, read_upload};
use crate::features::media::MediaService;
use crate::auth::BearerAuth;
use crate::error::AppResult;

pub struct MediaApi;

#[derive(ApiResponse)]
enum CreatedPhoto {
    #[oai(status = 201)]
    Created(Json<Photo>),
}

#[derive(ApiResponse)]
enum CreatedNft {
    #[oai(status = 201)]
    Created(Json<Nft>),
}

#[derive(Debug, Multipart)]
#[oai(deny_unknown_fields)]
struct AvatarForm {
    /// PNG, JPEG or WebP, recognised by content.
    file: Upload,
    /// Whose avatar (default: the caller; admins and services may name anyone).
    #[oai(rename = "userId")]
    user_id: Option<String>,
}

#[derive(Debug, Multipart)]
#[oai(deny_unknown_fields)]
struct PhotoForm {
    /// PNG, JPEG or WebP, recognised by content.
    file: Upload,
    caption: Option<String>,
    #[oai(rename = "userId")]
    user_id: Option<String>,
}

fn twenty() -> u32 {
    20
}

#[OpenApi(prefix_path = "/api/media", tag = "ApiTags::Media")]
impl MediaApi {
    /// Set your avatar
    ///
    /// The image is checked by content (PNG, JPEG, WebP; 422 `not_an_image` otherwise), its
    /// size and declared dimensions are checked before decoding (413: `media.max_image_bytes`,
    /// `media.max_image_pixels`, `media.max_image_side`), EXIF orientation is applied and every
    /// metadata segment (EXIF, GPS…) dropped; it is center-cropped and stored as
    /// `users/{userId}/profile/avatar.jpg` (512×512), `avatar_128.jpg` and `avatar.webp`.
    #[oai(path = "/avatar", method = "post")]
    async fn avatar(&self, media: Data<&Arc<MediaService>>, auth: BearerAuth, form: AvatarForm) -> AppResult<Json<Avatar>> {
        let user = form.user_id.unwrap_or_else(|| auth.0.user_id.clone());
        let bytes = read_upload(form.file, media.limits().max_bytes, "the image").await?;
        Ok(Json(media.set_avatar(&auth.0, &user, bytes).await?))
    }

    /// Add a profile photo
    ///
    /// Checked like an avatar; scaled to fit `media.photo_long_side`, metadata dropped, stored
    /// as `users/{userId}/profile/photos/{photoId}.jpg` with a 256 px thumbnail. At most
    /// `media.max_photos_per_user` photos (409 `photo_limit`).
    #[oai(path = "/photos", method = "post")]
    async fn add_photo(&self, media: Data<&Arc<MediaService>>, auth: BearerAuth, form: PhotoForm) -> AppResult<CreatedPhoto> {
        let user = form.user_id.unwrap_or_else(|| auth.0.user_id.clone());
        let bytes = read_upload(form.file, media.limits().max_bytes, "the image").await?;
        Ok(CreatedPhoto::Created(Json(media.add_photo(&auth.0, &user, form.caption, bytes).await?)))
    }

    /// A user's photos, newest first
    #[oai(path = "/photos/:user_id", method = "get")]
    async fn photos(
        &self,
        media: Data<&Arc<MediaService>>,
        auth: BearerAuth,
        user_id: Path<String>,
        #[oai(default = "twenty", validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<u32>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "4294967295")))] offset: Query<u32>,
    ) -> AppResult<Json<PhotoPage>> {
        Ok(Json(media.photos(&auth.0, &user_id, limit.0, offset.0).await?))
    }

    /// Delete one of a user's photos (its owner, or an admin or service)
    #[oai(path = "/photos/:user_id/:photo_id", method = "delete")]
    async fn delete_photo(&self, media: Data<&Arc<MediaService>>, auth: BearerAuth, user_id: Path<String>, photo_id: Path<String>) -> AppResult<Json<Deleted>> {
        Ok(Json(media.delete_photo(&auth.0, Some(&user_id), &photo_id).await?))
    }

    /// Delete a photo by its id alone (deprecated: use `DELETE /api/media/photos/{user_id}/{photo_id}`)
    #[oai(path = "/photos/:user_id", method = "delete", deprecated)]
    async fn delete_photo_by_id(
        &self,
        media: Data<&Arc<MediaService>>,
        auth: BearerAuth,
        /// The photo's id (the path is shared with the list, whose segment is a user id).
        #[oai(name = "user_id")]
        photo_id: Path<String>,
    ) -> AppResult<Json<Deleted>> {
        Ok(Json(media.delete_photo(&auth.0, None, &photo_id).await?))
    }

    /// Generate NFT artwork
    ///
    /// A unique 1024×1024 generative PNG (`users/{userId}/nfts/{nftId}.png`) and its ERC-721
    /// metadata JSON beside it (`name`, `description`, `image`, `attributes`), with a token id
    /// and the image's SHA-256. Nothing is minted on any blockchain: the metadata is ready for
    /// a later mint.
    #[oai(path = "/nft/generate", method = "post")]
    async fn generate_nft(&self, media: Data<&Arc<MediaService>>, auth: BearerAuth, body: JsonBody<GenerateNft>) -> AppResult<CreatedNft> {
        Ok(CreatedNft::Created(Json(media.generate_nft(&auth.0, body.0).await?)))
    }

    /// A user's NFT artwork, newest first
    #[oai(path = "/nft/user/:user_id", method = "get")]
    async fn nfts(
        &self,
        media: Data<&Arc<MediaService>>,
        auth: BearerAuth,
        user_id: Path<String>,
        #[oai(default = "twenty", validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<u32>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "4294967295")))] offset: Query<u32>,
    ) -> AppResult<Json<NftPage>> {
        Ok(Json(media.nfts(&auth.0, &user_id, limit.0, offset.0).await?))
    }

    /// An NFT artwork with its metadata
    #[oai(path = "/nft/:nft_id", method = "get")]
    async fn nft(&self, media: Data<&Arc<MediaService>>, auth: BearerAuth, nft_id: Path<String>) -> AppResult<Json<Nft>> {
        Ok(Json(media.nft(&auth.0, &nft_id).await?))
    }
}
