//! Profile media and NFT artwork: answers and requests.

use poem_openapi::Object;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Object)]
#[oai(rename = "MediaAvatar", rename_all = "camelCase")]
pub struct Avatar {
    /// 512×512 JPEG, playable without a token.
    pub url: String,
    /// 128×128 JPEG.
    pub small_url: String,
    /// 512×512 WebP (lossless).
    pub webp_url: String,
    pub path: String,
    pub width: u32,
    pub height: u32,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "MediaPhoto", rename_all = "camelCase")]
pub struct Photo {
    pub photo_id: String,
    pub user_id: String,
    #[oai(nullable)]
    pub caption: Option<String>,
    pub url: String,
    pub thumbnail_url: String,
    pub width: u32,
    pub height: u32,
    pub size_bytes: u64,
    pub created_at: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "MediaPhotoPage", rename_all = "camelCase")]
pub struct PhotoPage {
    pub photos: Vec<Photo>,
    pub total: u64,
    pub has_more: bool,
}

#[derive(Debug, Clone, Object, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "NftTrait", rename_all = "camelCase")]
pub struct NftTrait {
    #[oai(validator(max_length = 64))]
    pub trait_type: String,
    #[oai(validator(max_length = 64))]
    pub value: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "NftGenerate", rename_all = "camelCase")]
pub struct GenerateNft {
    #[oai(validator(max_length = 255))]
    pub user_id: String,
    /// One of the color schemes (picked at random when absent); an unknown one is refused with the list.
    #[oai(validator(max_length = 32))]
    pub color_scheme: Option<String>,
    /// One of the styles (picked at random when absent).
    #[oai(validator(max_length = 32))]
    pub style: Option<String>,
    /// Up to 10 traits of your own, added to the generated ones.
    #[oai(validator(max_items = 10))]
    pub traits: Option<Vec<NftTrait>>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "Nft", rename_all = "camelCase")]
pub struct Nft {
    pub nft_id: String,
    pub user_id: String,
    /// The id a later ERC-721 mint would use. Nothing is minted on any blockchain here.
    pub token_id: u64,
    pub name: String,
    /// 1024×1024 PNG, playable without a token.
    pub image_url: String,
    /// The ERC-721 metadata JSON stored beside the image.
    pub metadata_url: String,
    /// SHA-256 of the PNG.
    pub sha256: String,
    pub attributes: Vec<NftTrait>,
    /// The ERC-721 metadata document (`name`, `description`, `image`, `attributes`).
    pub metadata: serde_json::Value,
    /// Always false: minting is not part of this server.
    pub minted: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "NftPage", rename_all = "camelCase")]
pub struct NftPage {
    pub nfts: Vec<Nft>,
    pub total: u64,
    pub has_more: bool,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "MediaDeleted", rename_all = "camelCase")]
pub struct Deleted {
    pub id: String,
    pub deleted: bool,
}
