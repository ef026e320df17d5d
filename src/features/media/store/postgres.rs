//! The media store on PostgreSQL.
//!
//! Ids are uuid columns: an id that is not a UUID as the service writes them (hyphenated,
//! lowercase) names no row (`None`, `false`), as in SQLite's text column. A photo's
//! insertion under its user's limit takes a transaction-scoped advisory lock on the user
//! (`pg_advisory_xact_lock`), so that servers inserting for one user at once count one after
//! the other: READ COMMITTED gives each statement after the lock a snapshot with the previous
//! holder's insert committed. A page and its total are read in one REPEATABLE READ snapshot, as
//! SQLite's read transaction does. `attributes` is jsonb; it is read back as compact JSON.

use tokio_postgres::{IsolationLevel, Row};
use uuid::Uuid;

use super::{MediaStore, NftRow, PhotoRow};
use crate::db::postgres::PgDb;
use crate::db::postgres::values::{row_id, signed, text, time, unsigned, write_id};
use crate::error::{AppError, AppResult};

pub struct PgMediaStore {
    db: PgDb,
}

impl PgMediaStore {
    pub fn new(db: PgDb) -> Self {
        Self { db }
    }
}

const PHOTO_COLUMNS: &str = "photo_id, user_id, caption, path, thumbnail_path, width, height, size_bytes, created_at";
const NFT_COLUMNS: &str = "nft_id, user_id, token_id, name, image_path, metadata_path, sha256, attributes, created_at";

fn photo_of(r: &Row) -> AppResult<PhotoRow> {
    let id: Uuid = r.get(0);
    let width: i64 = r.get(5);
    let height: i64 = r.get(6);
    Ok(PhotoRow {
        photo_id: id.to_string(),
        user_id: r.get(1),
        caption: r.get(2),
        path: r.get(3),
        thumbnail_path: r.get(4),
        width: u32::try_from(width).map_err(AppError::internal)?,
        height: u32::try_from(height).map_err(AppError::internal)?,
        size_bytes: unsigned(r.get(7))?,
        created_at: text(r.get(8)),
    })
}

fn nft_of(r: &Row) -> AppResult<NftRow> {
    let id: Uuid = r.get(0);
    let attributes: serde_json::Value = r.get(7);
    Ok(NftRow {
        nft_id: id.to_string(),
        user_id: r.get(1),
        token_id: unsigned(r.get(2))?,
        name: r.get(3),
        image_path: r.get(4),
        metadata_path: r.get(5),
        sha256: r.get(6),
        attributes: attributes.to_string(),
        created_at: text(r.get(8)),
    })
}

/// `SELECT COUNT(*) …` as u64.
fn count(r: &Row) -> AppResult<u64> {
    unsigned(r.get(0))
}

impl PgMediaStore {
    /// A page of `table`'s rows of `user_id` (newest first, ties by id descending) and their
    /// total, in one snapshot. `(table, columns, id column)`.
    async fn page<T>(
        &self,
        (table, columns, id): (&str, &str, &str),
        user_id: &str,
        limit: u32,
        offset: u32,
        row: fn(&Row) -> AppResult<T>,
    ) -> AppResult<(Vec<T>, u64)> {
        let mut client = self.db.client().await?;
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let total = tx.prepare_cached(&format!("SELECT COUNT(*) FROM {table} WHERE user_id = $1")).await?;
        let total = count(&tx.query_one(&total, &[&user_id]).await?)?;
        let rows = tx
            .prepare_cached(&format!("SELECT {columns} FROM {table} WHERE user_id = $1 ORDER BY created_at DESC, {id} DESC LIMIT $2 OFFSET $3"))
            .await?;
        let rows = tx.query(&rows, &[&user_id, &i64::from(limit), &i64::from(offset)]).await?;
        tx.commit().await?;
        Ok((rows.iter().map(row).collect::<AppResult<Vec<_>>>()?, total))
    }
}

#[async_trait::async_trait]
impl MediaStore for PgMediaStore {
    async fn insert_photo_within_limit(&self, photo: &PhotoRow, max_per_user: u64) -> AppResult<bool> {
        let p = photo;
        let id = write_id(&p.photo_id)?;
        let created_at = time(&p.created_at)?;
        let (width, height, size) = (i64::from(p.width), i64::from(p.height), signed(p.size_bytes)?);
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        // One user's inserts, from whichever server, take turns from here to the commit.
        let lock = tx.prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended('media_photos:' || $1::text, 0))").await?;
        tx.execute(&lock, &[&p.user_id]).await?;
        let counted = tx.prepare_cached("SELECT COUNT(*) FROM media_photos WHERE user_id = $1").await?;
        if count(&tx.query_one(&counted, &[&p.user_id]).await?)? >= max_per_user {
            return Ok(false);
        }
        let insert = tx.prepare_cached(&format!("INSERT INTO media_photos ({PHOTO_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")).await?;
        tx.execute(&insert, &[&id, &p.user_id, &p.caption, &p.path, &p.thumbnail_path, &width, &height, &size, &created_at]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn photo(&self, photo_id: &str) -> AppResult<Option<PhotoRow>> {
        let Some(id) = row_id(photo_id) else { return Ok(None) };
        let client = self.db.client().await?;
        let stmt = client.prepare_cached(&format!("SELECT {PHOTO_COLUMNS} FROM media_photos WHERE photo_id = $1")).await?;
        client.query_opt(&stmt, &[&id]).await?.as_ref().map(photo_of).transpose()
    }

    async fn photos_of(&self, user_id: &str, limit: u32, offset: u32) -> AppResult<(Vec<PhotoRow>, u64)> {
        self.page(("media_photos", PHOTO_COLUMNS, "photo_id"), user_id, limit, offset, photo_of).await
    }

    async fn delete_photo(&self, photo_id: &str) -> AppResult<bool> {
        let Some(id) = row_id(photo_id) else { return Ok(false) };
        let client = self.db.client().await?;
        let stmt = client.prepare_cached("DELETE FROM media_photos WHERE photo_id = $1").await?;
        Ok(client.execute(&stmt, &[&id]).await? == 1)
    }

    async fn insert_nft(&self, nft: &NftRow) -> AppResult<()> {
        let n = nft;
        let id = write_id(&n.nft_id)?;
        let created_at = time(&n.created_at)?;
        let token_id = signed(n.token_id)?;
        let client = self.db.client().await?;
        let stmt = client
            .prepare_cached(&format!("INSERT INTO media_nfts ({NFT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9)"))
            .await?;
        client
            .execute(&stmt, &[&id, &n.user_id, &token_id, &n.name, &n.image_path, &n.metadata_path, &n.sha256, &n.attributes, &created_at])
            .await?;
        Ok(())
    }

    async fn nft(&self, nft_id: &str) -> AppResult<Option<NftRow>> {
        let Some(id) = row_id(nft_id) else { return Ok(None) };
        let client = self.db.client().await?;
        let stmt = client.prepare_cached(&format!("SELECT {NFT_COLUMNS} FROM media_nfts WHERE nft_id = $1")).await?;
        client.query_opt(&stmt, &[&id]).await?.as_ref().map(nft_of).transpose()
    }

    async fn nfts_of(&self, user_id: &str, limit: u32, offset: u32) -> AppResult<(Vec<NftRow>, u64)> {
        self.page(("media_nfts", NFT_COLUMNS, "nft_id"), user_id, limit, offset, nft_of).await
    }
}
