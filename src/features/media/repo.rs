//! SQL of profile photos and NFT artwork.

use rusqlite::{Connection, OptionalExtension, Row, params};
use crate::db::CachedSql;

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

const PHOTO_COLUMNS: &str = "photo_id, user_id, caption, path, thumbnail_path, width, height, size_bytes, created_at";

fn photo_of(r: &Row<'_>) -> rusqlite::Result<PhotoRow> {
    Ok(PhotoRow {
        photo_id: r.get(0)?,
        user_id: r.get(1)?,
        caption: r.get(2)?,
        path: r.get(3)?,
        thumbnail_path: r.get(4)?,
        width: r.get(5)?,
        height: r.get(6)?,
        size_bytes: r.get(7)?,
        created_at: r.get(8)?,
    })
}

pub fn photo_count(c: &Connection, user_id: &str) -> rusqlite::Result<u64> {
    c.query_row_cached("SELECT COUNT(*) FROM media_photos WHERE user_id = ?1", [user_id], |r| r.get(0))
}

pub fn insert_photo(c: &Connection, p: &PhotoRow) -> rusqlite::Result<()> {
    c.execute_cached(
        &format!("INSERT INTO media_photos ({PHOTO_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![p.photo_id, p.user_id, p.caption, p.path, p.thumbnail_path, p.width, p.height, p.size_bytes, p.created_at],
    )?;
    Ok(())
}

pub fn photo(c: &Connection, photo_id: &str) -> rusqlite::Result<Option<PhotoRow>> {
    c.query_row_cached(&format!("SELECT {PHOTO_COLUMNS} FROM media_photos WHERE photo_id = ?1"), [photo_id], photo_of).optional()
}

pub fn photos(c: &Connection, user_id: &str, limit: u32, offset: u32) -> rusqlite::Result<Vec<PhotoRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {PHOTO_COLUMNS} FROM media_photos WHERE user_id = ?1 ORDER BY created_at DESC, photo_id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    stmt.query_map(params![user_id, limit, offset], photo_of)?.collect()
}

pub fn delete_photo(c: &Connection, photo_id: &str) -> rusqlite::Result<bool> {
    Ok(c.execute_cached("DELETE FROM media_photos WHERE photo_id = ?1", [photo_id])? == 1)
}

#[derive(Debug, Clone)]
pub struct NftRow {
    pub nft_id: String,
    pub user_id: String,
    pub token_id: u64,
    pub name: String,
    pub image_path: String,
    pub metadata_path: String,
    pub sha256: String,
    /// JSON array of `{trait_type, value}`.
    pub attributes: String,
    pub created_at: String,
}

const NFT_COLUMNS: &str = "nft_id, user_id, token_id, name, image_path, metadata_path, sha256, attributes, created_at";

fn nft_of(r: &Row<'_>) -> rusqlite::Result<NftRow> {
    Ok(NftRow {
        nft_id: r.get(0)?,
        user_id: r.get(1)?,
        token_id: r.get(2)?,
        name: r.get(3)?,
        image_path: r.get(4)?,
        metadata_path: r.get(5)?,
        sha256: r.get(6)?,
        attributes: r.get(7)?,
        created_at: r.get(8)?,
    })
}

pub fn insert_nft(c: &Connection, n: &NftRow) -> rusqlite::Result<()> {
    c.execute_cached(
        &format!("INSERT INTO media_nfts ({NFT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![n.nft_id, n.user_id, n.token_id, n.name, n.image_path, n.metadata_path, n.sha256, n.attributes, n.created_at],
    )?;
    Ok(())
}

pub fn nft(c: &Connection, nft_id: &str) -> rusqlite::Result<Option<NftRow>> {
    c.query_row_cached(&format!("SELECT {NFT_COLUMNS} FROM media_nfts WHERE nft_id = ?1"), [nft_id], nft_of).optional()
}

pub fn nfts(c: &Connection, user_id: &str, limit: u32, offset: u32) -> rusqlite::Result<(Vec<NftRow>, u64)> {
    let total = c.query_row_cached("SELECT COUNT(*) FROM media_nfts WHERE user_id = ?1", [user_id], |r| r.get(0))?;
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {NFT_COLUMNS} FROM media_nfts WHERE user_id = ?1 ORDER BY created_at DESC, nft_id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = stmt.query_map(params![user_id, limit, offset], nft_of)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}
