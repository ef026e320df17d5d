//! The media store on SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{MediaStore, NftRow, PhotoRow};
use crate::db::{CachedSql, Db};
use crate::error::AppResult;

pub struct SqliteMediaStore {
    db: Db,
}

impl SqliteMediaStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
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

fn photo_count(c: &Connection, user_id: &str) -> rusqlite::Result<u64> {
    c.query_row_cached("SELECT COUNT(*) FROM media_photos WHERE user_id = ?1", [user_id], |r| r.get(0))
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

#[async_trait::async_trait]
impl MediaStore for SqliteMediaStore {
    async fn insert_photo_within_limit(&self, photo: &PhotoRow, max_per_user: u64) -> AppResult<bool> {
        let p = photo.clone();
        self.db
            .write(move |tx| {
                if photo_count(tx, &p.user_id)? >= max_per_user {
                    return Ok(false);
                }
                tx.execute_cached(
                    &format!("INSERT INTO media_photos ({PHOTO_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                    params![p.photo_id, p.user_id, p.caption, p.path, p.thumbnail_path, p.width, p.height, p.size_bytes, p.created_at],
                )?;
                Ok(true)
            })
            .await
    }

    async fn photo(&self, photo_id: &str) -> AppResult<Option<PhotoRow>> {
        let photo_id = photo_id.to_owned();
        self.db
            .read(move |c| {
                c.query_row_cached(&format!("SELECT {PHOTO_COLUMNS} FROM media_photos WHERE photo_id = ?1"), [photo_id], photo_of).optional()
            })
            .await
    }

    async fn photos_of(&self, user_id: &str, limit: u32, offset: u32) -> AppResult<(Vec<PhotoRow>, u64)> {
        let user_id = user_id.to_owned();
        self.db
            .read(move |c| {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {PHOTO_COLUMNS} FROM media_photos WHERE user_id = ?1 ORDER BY created_at DESC, photo_id DESC LIMIT ?2 OFFSET ?3"
                ))?;
                let rows = stmt.query_map(params![user_id, limit, offset], photo_of)?.collect::<rusqlite::Result<Vec<_>>>()?;
                Ok((rows, photo_count(c, &user_id)?))
            })
            .await
    }

    async fn delete_photo(&self, photo_id: &str) -> AppResult<bool> {
        let photo_id = photo_id.to_owned();
        self.db.write(move |tx| Ok(tx.execute_cached("DELETE FROM media_photos WHERE photo_id = ?1", [photo_id])? == 1)).await
    }

    async fn insert_nft(&self, nft: &NftRow) -> AppResult<()> {
        let n = nft.clone();
        self.db
            .write(move |tx| {
                tx.execute_cached(
                    &format!("INSERT INTO media_nfts ({NFT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                    params![n.nft_id, n.user_id, n.token_id, n.name, n.image_path, n.metadata_path, n.sha256, n.attributes, n.created_at],
                )?;
                Ok(())
            })
            .await
    }

    async fn nft(&self, nft_id: &str) -> AppResult<Option<NftRow>> {
        let nft_id = nft_id.to_owned();
        self.db
            .read(move |c| c.query_row_cached(&format!("SELECT {NFT_COLUMNS} FROM media_nfts WHERE nft_id = ?1"), [nft_id], nft_of).optional())
            .await
    }

    async fn nfts_of(&self, user_id: &str, limit: u32, offset: u32) -> AppResult<(Vec<NftRow>, u64)> {
        let user_id = user_id.to_owned();
        self.db
            .read(move |c| {
                let total = c.query_row_cached("SELECT COUNT(*) FROM media_nfts WHERE user_id = ?1", [&user_id], |r| r.get(0))?;
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {NFT_COLUMNS} FROM media_nfts WHERE user_id = ?1 ORDER BY created_at DESC, nft_id DESC LIMIT ?2 OFFSET ?3"
                ))?;
                let rows = stmt.query_map(params![user_id, limit, offset], nft_of)?.collect::<rusqlite::Result<Vec<_>>>()?;
                Ok((rows, total))
            })
            .await
    }
}
