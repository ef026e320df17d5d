use std::collections::HashSet;
use std::sync::Arc;

use super::model::{Deleted, SignedUrl, StoredObject};
use crate::auth::Caller;
use crate::config::{GcsDelivery, StorageBackend, StorageConfig};
use crate::error::{AppError, AppResult};
use crate::blobs::signing::{MAX_EXPIRES_IN_SECS, SignedMethod, Signature, UrlSigner};
use crate::blobs::{BlobPath, BlobStore, Bucket, ByteReader, Durability, ObjectMeta};

/// How a delivery request was allowed: decides its `Cache-Control`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Private,
}

pub struct StorageService {
    blobs: Arc<dyn BlobStore>,
    signer: UrlSigner,
    public_url: String,
    max_upload_bytes: u64,
    public_buckets: HashSet<Bucket>,
    delivery_url_ttl_secs: u64,
    pub cache_max_age_secs: u64,
    /// Lifetime of the backend URL `/cdn` redirects to; `None` streams through this server.
    redirect_ttl: Option<std::time::Duration>,
}

pub fn parse_bucket(raw: &str) -> AppResult<Bucket> {
    Bucket::parse(raw).ok_or_else(|| {
        AppError::bad_request(
            "unknown_bucket",
            format!(
                "unknown bucket `{raw}`: use one of {}",
                Bucket::ALL.map(|b| format!("{} ({})", b.alias(), b.name())).join(", ")
            ),
        )
    })
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl StorageService {
    pub fn new(blobs: Arc<dyn BlobStore>, signer: UrlSigner, public_url: String, config: &StorageConfig) -> Self {
        Self {
            blobs,
            signer,
            public_url,
            max_upload_bytes: config.max_upload_bytes,
            public_buckets: config.public_buckets.iter().filter_map(|b| Bucket::parse(b)).collect(),
            delivery_url_ttl_secs: config.delivery_url_ttl_secs,
            cache_max_age_secs: config.cache_max_age_secs,
            redirect_ttl: (config.backend == StorageBackend::Gcs && config.gcs.delivery == GcsDelivery::Redirect)
                .then(|| std::time::Duration::from_secs(config.gcs.redirect_ttl_secs)),
        }
    }

    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_bytes
    }

    /// Who may read with a bearer, and write (less `authorize_write`'s exception), where: a user
    /// under `users/{theirId}/` of the per-user buckets; admins and services anywhere. The tactical bucket is written only by
    /// the tactical features or privileged callers.
    pub fn authorize(&self, caller: &Caller, bucket: Bucket, path: &BlobPath) -> AppResult<()> {
        if caller.is_privileged() {
            return Ok(());
        }
        if !bucket.is_per_user() {
            return Err(AppError::forbidden(format!(
                "the bucket `{bucket}` is reached only through its own routes or with an admin or service token"
            )));
        }
        match path.owner() {
            Some(owner) if owner == caller.user_id => Ok(()),
            _ => Err(AppError::forbidden(format!(
                "users may only use paths under `users/{}/` in `{bucket}`",
                caller.user_id
            ))),
        }
    }

    /// What a caller may change through the storage routes (upload, signed or bearer `PUT`,
    /// delete): what `authorize` allows, except that users never write into the folders the
    /// server generates in their space (`GENERATED_FOLDERS`). Those files are made and
    /// replaced by their own routes, which check what goes in and keep the rows that point at
    /// them right; a raw upload there would replace, say, a shared preview `/s/{id}/audio`
    /// serves publicly. Admin and service tokens keep access for repairs and migrations.
    pub fn authorize_write(&self, caller: &Caller, bucket: Bucket, path: &BlobPath) -> AppResult<()> {
        self.authorize(caller, bucket, path)?;
        if caller.is_privileged() {
            return Ok(());
        }
        match generated_folder(bucket, path) {
            Some((folder, routes)) => Err(AppError::forbidden_code(
                "generated_path",
                format!(
                    "`users/{}/{folder}/` in `{bucket}` holds files the server generates: change them through {routes}, not the storage API",
                    caller.user_id
                ),
            )),
            None => Ok(()),
        }
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// A URL that plays or downloads without a token: canonical for public buckets, signed
    /// (for `storage.delivery_url_ttl_secs`) otherwise.
    pub fn playable_url(&self, bucket: Bucket, path: &BlobPath) -> String {
        if self.public_buckets.contains(&bucket) {
            self.object_url(bucket, path)
        } else {
            self.signed(SignedMethod::Get, bucket, path, now() + self.delivery_url_ttl_secs as i64)
        }
    }

    /// The canonical (unsigned) URL of an object.
    pub fn object_url(&self, bucket: Bucket, path: &BlobPath) -> String {
        format!("{}/cdn/{}/{}", self.public_url, bucket.name(), path.url_encoded())
    }

    fn signed(&self, method: SignedMethod, bucket: Bucket, path: &BlobPath, expires: i64) -> String {
        format!("{}?{}", self.object_url(bucket, path), self.signer.query(method, bucket, path, expires))
    }

    fn describe(&self, bucket: Bucket, path: &BlobPath, meta: ObjectMeta) -> StoredObject {
        let url = self.object_url(bucket, path);
        let cdn_url = self.playable_url(bucket, path);
        StoredObject {
            url,
            cdn_url,
            bucket: bucket.name().to_owned(),
            path: path.to_string(),
            size: meta.size,
            content_type: meta.content_type,
            etag: meta.etag,
        }
    }

    /// Checks an upload's target before any byte of it is stored.
    pub fn check_upload(&self, caller: &Caller, bucket: &str, path: &str, size: u64) -> AppResult<(Bucket, BlobPath)> {
        let bucket = parse_bucket(bucket)?;
        let path = BlobPath::parse(path)?;
        self.authorize_write(caller, bucket, &path)?;
        self.check_size(size)?;
        Ok((bucket, path))
    }

    pub fn check_size(&self, size: u64) -> AppResult<()> {
        if size > self.max_upload_bytes {
            return Err(AppError::PayloadTooLarge {
                message: format!("the object is {size} bytes; the limit is {} bytes", self.max_upload_bytes),
            });
        }
        Ok(())
    }

    pub async fn store(&self, bucket: Bucket, path: &BlobPath, body: ByteReader) -> AppResult<StoredObject> {
        let meta = self.blobs.put(bucket, path, body, self.max_upload_bytes, Durability::Synced).await?;
        tracing::info!(%bucket, %path, size = meta.size, "object stored");
        Ok(self.describe(bucket, path, meta))
    }

    pub async fn delete(&self, caller: &Caller, url: &str) -> AppResult<Deleted> {
        let (bucket, path) = parse_object_url(url)?;
        self.authorize_write(caller, bucket, &path)?;
        if !self.blobs.delete(bucket, &path).await? {
            return Err(AppError::not_found(format!("no object at `{}/{}`", bucket.name(), path)));
        }
        tracing::info!(%bucket, %path, "object deleted");
        Ok(Deleted { deleted: true, bucket: bucket.name().to_owned(), path: path.to_string() })
    }

    /// A signed URL for `method`: the backend's own (GCS V4, used straight against the bucket)
    /// when it has them, else this server's `/cdn` URL.
    pub async fn signed_url(
        &self,
        caller: &Caller,
        bucket: &str,
        path: &str,
        method: SignedMethod,
        expires_in: u64,
    ) -> AppResult<SignedUrl> {
        if !(1..=MAX_EXPIRES_IN_SECS).contains(&expires_in) {
            return Err(AppError::invalid_field("expiresIn", format!("must be 1 to {MAX_EXPIRES_IN_SECS} seconds")));
        }
        let bucket = parse_bucket(bucket)?;
        let path = BlobPath::parse(path)?;
        self.authorize_for(method, caller, bucket, &path)?;
        let expires = now() + expires_in as i64;
        let lifetime = std::time::Duration::from_secs(expires_in);
        if let Some(direct) = self.blobs.direct_url(bucket, &path, method, lifetime, self.max_upload_bytes).await? {
            return Ok(SignedUrl {
                url: direct.url,
                method,
                expires_at: chrono::DateTime::from_timestamp(expires, 0).unwrap_or_default(),
                headers: direct.headers,
            });
        }
        Ok(SignedUrl {
            url: self.signed(method, bucket, &path, expires),
            method,
            expires_at: chrono::DateTime::from_timestamp(expires, 0).unwrap_or_default(),
            headers: Default::default(),
        })
    }

    /// Decides whether a `/cdn` request may proceed: a valid signature for the method, a
    /// public bucket (reads only), or a bearer allowed for the object.
    pub fn authorize_delivery(
        &self,
        bucket: Bucket,
        path: &BlobPath,
        method: SignedMethod,
        signature: Option<&Signature>,
        caller: Option<&Caller>,
    ) -> AppResult<Access> {
        if let Some(sig) = signature {
            self.signer.verify(method, bucket, path, sig, now())?;
            return Ok(Access::Private);
        }
        if method == SignedMethod::Get && self.public_buckets.contains(&bucket) {
            return Ok(Access::Public);
        }
        match caller {
            Some(caller) => self.authorize_for(method, caller, bucket, path).map(|()| Access::Private),
            None => Err(AppError::unauthorized(
                "unauthorized",
                "this object is private: use a signed URL or a bearer token",
            )),
        }
    }

    fn authorize_for(&self, method: SignedMethod, caller: &Caller, bucket: Bucket, path: &BlobPath) -> AppResult<()> {
        match method {
            SignedMethod::Get => self.authorize(caller, bucket, path),
            SignedMethod::Put => self.authorize_write(caller, bucket, path),
        }
    }

    /// Where `/cdn` sends a reader instead of streaming the object, when configured to.
    pub async fn redirect_url(&self, bucket: Bucket, path: &BlobPath) -> AppResult<Option<String>> {
        let Some(ttl) = self.redirect_ttl else { return Ok(None) };
        // Missing objects are answered here, not by the backend after the redirect.
        self.blobs.head(bucket, path).await?;
        let direct = self.blobs.direct_url(bucket, path, SignedMethod::Get, ttl, 0).await?;
        Ok(direct.map(|d| d.url))
    }

    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }
}

/// The folders under `users/{userId}/` that the features write, per bucket, with the routes
/// that change them. Keep in step with the paths the feature services build.
const GENERATED_FOLDERS: &[(Bucket, &str, &str)] = &[
    (Bucket::Music, "projects", "/api/music (projects, generation, stems, mixes)"),
    (Bucket::Writing, "projects", "/api/writers (projects, manuscripts, versions, notes)"),
    (Bucket::Images, "generations", "/api/premium/image"),
    (Bucket::Media, "profile", "/api/media (avatar, photos)"),
    (Bucket::Media, "nfts", "/api/media/nft"),
];

/// The generated folder `path` is in (or would shadow, as an object of the folder's own name)
/// and the routes that own it. Compared ignoring ASCII case, so a store on a case-insensitive
/// file system cannot be reached through `Projects/`.
fn generated_folder(bucket: Bucket, path: &BlobPath) -> Option<(&'static str, &'static str)> {
    let mut segments = path.as_str().splitn(4, '/');
    let (Some("users"), Some(_owner), Some(first)) = (segments.next(), segments.next(), segments.next()) else {
        return None;
    };
    GENERATED_FOLDERS
        .iter()
        .find(|(b, folder, _)| *b == bucket && folder.eq_ignore_ascii_case(first))
        .map(|&(_, folder, routes)| (folder, routes))
}

/// `http://host/cdn/{bucket}/{path}?…`, `/cdn/{bucket}/{path}` → bucket and path.
pub fn parse_object_url(url: &str) -> AppResult<(Bucket, BlobPath)> {
    let without_origin = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => url,
    };
    let path = without_origin.split(['?', '#']).next().unwrap_or("");
    let Some(rest) = path.strip_prefix("/cdn/") else {
        return Err(AppError::invalid_field("url", "is not a /cdn/{bucket}/{path} URL of this server"));
    };
    let (bucket, object) = rest
        .split_once('/')
        .ok_or_else(|| AppError::invalid_field("url", "has no object path after the bucket"))?;
    Ok((parse_bucket(bucket)?, decode_path(object)?))
}

/// Percent-decodes an object path taken from a URL, then validates it.
pub fn decode_path(raw: &str) -> AppResult<BlobPath> {
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| AppError::bad_request("invalid_path", "invalid object path: not UTF-8 once decoded"))?;
    BlobPath::parse(&decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_urls_parse_in_every_form() {
        for url in [
            "http://127.0.0.1:8080/cdn/r3al-user-media/users/u/a%20b.png",
            "https://cdn.example/cdn/media/users/u/a%20b.png?expires=1&signature=x",
            "/cdn/r3al-user-media/users/u/a%20b.png",
        ] {
            let (bucket, path) = parse_object_url(url).unwrap();
            assert_eq!(bucket, Bucket::Media);
            assert_eq!(path.as_str(), "users/u/a b.png");
        }
        for url in ["http://h/other/x", "/cdn/r3al-user-media", "/cdn/nope/users/u/a", "/cdn/media/users/%2e%2e/x", "/cdn/media/a/%252e%252e/b"] {
            assert!(parse_object_url(url).is_err(), "{url}");
        }
    }

    #[test]
    fn generated_folders_are_found_per_bucket() {
        let folder = |bucket, path: &str| generated_folder(bucket, &BlobPath::parse(path).unwrap()).map(|(f, _)| f);
        assert_eq!(folder(Bucket::Music, "users/u/projects/p/preview/p_preview.mp3"), Some("projects"));
        assert_eq!(folder(Bucket::Music, "users/u/projects"), Some("projects"), "an object would shadow the folder");
        assert_eq!(folder(Bucket::Music, "users/u/Projects/p/x"), Some("projects"));
        assert_eq!(folder(Bucket::Writing, "users/u/projects/p/manuscript.txt"), Some("projects"));
        assert_eq!(folder(Bucket::Images, "users/u/generations/g/original.png"), Some("generations"));
        assert_eq!(folder(Bucket::Media, "users/u/profile/avatar.jpg"), Some("profile"));
        assert_eq!(folder(Bucket::Media, "users/u/nfts/n.json"), Some("nfts"));
        for (bucket, path) in [
            (Bucket::Media, "users/u/projects/p/x"),
            (Bucket::Images, "users/u/profile/x"),
            (Bucket::Music, "users/u/projects2/x"),
            (Bucket::Music, "users/u/uploads/projects/x"),
            (Bucket::Music, "projects/u/projects/x"),
        ] {
            assert_eq!(folder(bucket, path), None, "{bucket}/{path}");
        }
    }
}
