//! Google Cloud Storage behind the `BlobStore` trait.
//!
//! Credentials (service-account key, application default credentials, the metadata server)
//! and V4 URL signing come from the `object_store` crate. Objects are read and written through
//! the GCS JSON API: `object_store` speaks only the XML API for them, which GCS emulators do
//! not implement, and one protocol that the conformance suite can run against is worth more.
//!
//! An upload is spooled to an anonymous temporary file first: the size limit is enforced before
//! anything reaches GCS, its SHA-256 is known (stored as the object's `sha256` metadata), and a
//! retry can send it again. It then goes up in one request streamed from that file, so no
//! object is held in memory and none is visible before it is complete.

mod client;
pub mod locations;

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use object_store::gcp::{GcpSigningCredential, GoogleCloudStorage, GoogleCloudStorageBuilder, ServiceAccountKey};
use object_store::path::Path as ObjectPath;
use object_store::signer::{HeaderName, HeaderValue, Method as SignMethod, SignedUrlOptions, Signer};
use object_store::{ClientOptions, StaticCredentialProvider};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use locations::{GcsLocations, Location};

use self::client::JsonApi;
use super::signing::SignedMethod;
use super::{BlobPath, BlobStore, Bucket, ByteReader, ByteStream, DirectUrl, Durability, ObjectMeta, StoreError, content_type_for, copy_limited};
use crate::config::StorageConfig;

/// The user metadata key holding an object's SHA-256 (hex).
const SHA256_METADATA: &str = "sha256";
const CHUNK: usize = 64 * 1024;

/// The fields of a GCS object resource this store reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectResource {
    name: String,
    #[serde(deserialize_with = "u64_from_string")]
    size: u64,
    generation: String,
    updated: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectList {
    #[serde(default)]
    items: Vec<ObjectResource>,
    next_page_token: Option<String>,
}

/// GCS sends 64-bit numbers as JSON strings.
fn u64_from_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

struct Target {
    location: Location,
    /// Signs V4 URLs for this real bucket.
    signer: GoogleCloudStorage,
}

pub struct GcsStore {
    api: JsonApi,
    targets: Vec<(Bucket, Target)>,
    spool_dir: PathBuf,
    public_buckets: Vec<Bucket>,
    cache_max_age_secs: u64,
    /// Whether credentials that can sign URLs were configured.
    can_sign: bool,
}

impl GcsStore {
    /// Reads the credentials and resolves the buckets; nothing is sent to GCS yet. Uploads are
    /// spooled under `spool_dir`.
    pub fn new(config: &StorageConfig, spool_dir: PathBuf) -> Result<Self, String> {
        let gcs = &config.gcs;
        let locations = GcsLocations::resolve(&gcs.bucket_prefix, &gcs.buckets)?;
        let account = match gcs.credentials_file.as_str() {
            "" => None,
            path => Some(ServiceAccount::read(path)?),
        };
        // An emulator without a key file: anonymous requests and no signed URLs.
        let anonymous = account.is_none() && !gcs.endpoint.is_empty() && !has_env_credentials();
        let options = ClientOptions::new().with_allow_http(true);
        let mut targets = Vec::with_capacity(Bucket::ALL.len());
        for bucket in Bucket::ALL {
            let location = locations.get(bucket).clone();
            let mut builder = GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(&location.bucket)
                .with_client_options(options.clone());
            if !gcs.endpoint.is_empty() {
                builder = builder.with_base_url(gcs.endpoint.trim_end_matches('/'));
            }
            if let Some(account) = &account {
                builder = builder.with_service_account_path(&gcs.credentials_file);
                if let Some(signing) = account.emulator_signing_credential()? {
                    builder = builder.with_signing_credentials(Arc::new(StaticCredentialProvider::new(signing)));
                }
            }
            if anonymous {
                builder = builder.with_skip_signature(true);
            }
            let signer = builder.build().map_err(|e| format!("storage.gcs: {e}"))?;
            targets.push((bucket, Target { location, signer }));
        }
        let credentials = (!anonymous).then(|| targets[0].1.signer.credentials().clone());
        let base = if gcs.endpoint.is_empty() { "https://storage.googleapis.com" } else { &gcs.endpoint };
        Ok(Self {
            api: JsonApi::new(base, credentials, Duration::from_secs(gcs.timeout_secs), gcs.max_retries),
            targets,
            spool_dir,
            public_buckets: config.public_buckets.iter().filter_map(|b| Bucket::parse(b)).collect(),
            cache_max_age_secs: config.cache_max_age_secs,
            can_sign: !anonymous,
        })
    }

    fn target(&self, bucket: Bucket) -> &Target {
        &self.targets.iter().find(|(b, _)| *b == bucket).expect("a target per bucket").1
    }

    /// The real bucket and object name of `path`.
    fn locate(&self, bucket: Bucket, path: &str) -> (&str, String) {
        let location = &self.target(bucket).location;
        (&location.bucket, format!("{}{path}", location.prefix))
    }

    fn cache_control(&self, bucket: Bucket) -> String {
        let scope = if self.public_buckets.contains(&bucket) { "public" } else { "private" };
        format!("{scope}, max-age={}", self.cache_max_age_secs)
    }

    fn meta_of(&self, bucket: Bucket, object: &ObjectResource) -> ObjectMeta {
        let path = object.name.strip_prefix(self.target(bucket).location.prefix.as_str()).unwrap_or(&object.name);
        ObjectMeta {
            path: path.to_owned(),
            size: object.size,
            // The generation changes with every write of the object: a strong validator.
            etag: format!("\"{}\"", object.generation),
            last_modified: object.updated,
            content_type: content_type_for(path),
            sha256: object.metadata.get(SHA256_METADATA).cloned(),
        }
    }

    async fn resource(&self, bucket: Bucket, path: &BlobPath) -> Result<ObjectResource, StoreError> {
        let (real, name) = self.locate(bucket, path.as_str());
        let url = self.api.object_url(real, &name);
        let resp = self.api.send(Method::GET, &url, self.api.request_limit(), Ok).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(StoreError::NotFound);
        }
        json(resp).await
    }

    /// Copies the body into an anonymous temporary file, refusing past `max_bytes`; returns the
    /// file, its size and its SHA-256.
    async fn spool(&self, body: &mut ByteReader, max_bytes: u64) -> Result<(std::fs::File, u64, String), StoreError> {
        tokio::fs::create_dir_all(&self.spool_dir).await?;
        let dir = self.spool_dir.clone();
        let file = tokio::task::spawn_blocking(move || tempfile::tempfile_in(dir))
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
        let mut out = tokio::fs::File::from_std(file);
        let mut hasher = Sha256::new();
        let total = copy_limited(body, &mut out, max_bytes, |piece| hasher.update(piece)).await?;
        out.flush().await?;
        Ok((out.into_std().await, total, crate::crypto::hex(&hasher.finalize())))
    }
}

async fn json<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, StoreError> {
    let url = resp.url().to_string();
    resp.json().await.map_err(|e| StoreError::Backend(format!("{url}: unreadable answer: {e}")))
}

/// A `multipart/related` upload body (the object's metadata as JSON, then its bytes) read
/// from the start of the spooled file on every call, so that a retry sends it whole again.
fn upload_body(file: &std::fs::File, metadata: &serde_json::Value, content_type: &str, size: u64) -> Result<(reqwest::Body, u64, String), StoreError> {
    use std::io::Seek;
    let boundary = format!("optima-{}", uuid::Uuid::new_v4().simple());
    let head = format!(
        "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = head.len() as u64 + size + tail.len() as u64;
    let mut file = file.try_clone()?;
    file.seek(std::io::SeekFrom::Start(0))?;
    let bytes = tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file).take(size), CHUNK);
    let stream = futures_util::stream::once(async move { Ok(bytes::Bytes::from(head)) })
        .chain(bytes)
        .chain(futures_util::stream::once(async move { Ok(bytes::Bytes::from(tail)) }));
    Ok((reqwest::Body::wrap_stream(stream), length, format!("multipart/related; boundary={boundary}")))
}

fn has_env_credentials() -> bool {
    ["GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_SERVICE_ACCOUNT", "GOOGLE_SERVICE_ACCOUNT_PATH", "GOOGLE_SERVICE_ACCOUNT_KEY"]
        .iter()
        .any(|k| std::env::var_os(k).is_some())
}

/// The fields of a service-account key file this module reads itself.
#[derive(Deserialize)]
struct ServiceAccount {
    #[serde(default)]
    client_email: String,
    #[serde(default)]
    private_key: String,
    #[serde(default)]
    disable_oauth: bool,
}

impl ServiceAccount {
    fn read(path: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("storage.gcs.credentials_file `{path}`: {e}"))?;
        serde_json::from_str(&text).map_err(|e| format!("storage.gcs.credentials_file `{path}` is not a service-account key: {e}"))
    }

    /// With `disable_oauth` (emulators) `object_store` signs nothing; a key in the file still
    /// signs URLs the way GCS would check them.
    fn emulator_signing_credential(&self) -> Result<Option<GcpSigningCredential>, String> {
        if !self.disable_oauth || self.private_key.is_empty() {
            return Ok(None);
        }
        let key = ServiceAccountKey::from_pem(self.private_key.as_bytes())
            .map_err(|e| format!("storage.gcs.credentials_file: the private key does not parse: {e}"))?;
        Ok(Some(GcpSigningCredential { email: self.client_email.clone(), private_key: Some(key) }))
    }
}

#[async_trait::async_trait]
impl BlobStore for GcsStore {
    /// Buckets are made by the operator (with their IAM); this checks that each one answers.
    async fn ensure_buckets(&self) -> Result<(), StoreError> {
        for (bucket, target) in &self.targets {
            let url = self.api.bucket_url(&target.location.bucket);
            let resp = self.api.send(Method::GET, &url, self.api.request_limit(), Ok).await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Err(StoreError::Backend(format!(
                    "the GCS bucket `{}` (for {bucket}) does not exist",
                    target.location.bucket
                )));
            }
        }
        Ok(())
    }

    async fn check(&self) -> Result<(), StoreError> {
        let mut real: Vec<&str> = self.targets.iter().map(|(_, t)| t.location.bucket.as_str()).collect();
        real.sort_unstable();
        real.dedup();
        for bucket in real {
            let url = self.api.bucket_url(bucket);
            let resp = self.api.send(Method::GET, &url, self.api.request_limit(), Ok).await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Err(StoreError::Backend(format!("the GCS bucket `{bucket}` does not exist")));
            }
        }
        Ok(())
    }

    // GCS acknowledges an upload once it is durable: there is nothing to choose.
    async fn put(&self, bucket: Bucket, path: &BlobPath, mut body: ByteReader, max_bytes: u64, _: Durability) -> Result<ObjectMeta, StoreError> {
        let (file, size, sha256) = self.spool(&mut body, max_bytes).await?;
        let (real, name) = self.locate(bucket, path.as_str());
        let content_type = content_type_for(path.as_str());
        let metadata = serde_json::json!({
            "name": name,
            "contentType": content_type,
            "cacheControl": self.cache_control(bucket),
            "metadata": { SHA256_METADATA: sha256 },
        });
        let url = format!("{}?uploadType=multipart", self.api.upload_url(real));
        let resp = self
            .api
            .send(Method::POST, &url, self.api.upload_limit(size), |request| {
                let (body, length, multipart_type) = upload_body(&file, &metadata, &content_type, size)?;
                Ok(request
                    .header(reqwest::header::CONTENT_TYPE, multipart_type)
                    .header(reqwest::header::CONTENT_LENGTH, length)
                    .body(body))
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(StoreError::Backend(format!("the GCS bucket `{real}` does not exist")));
        }
        let object: ObjectResource = json(resp).await?;
        if object.size != size {
            return Err(StoreError::Backend(format!("GCS stored {} bytes of {size}", object.size)));
        }
        Ok(self.meta_of(bucket, &object))
    }

    async fn head(&self, bucket: Bucket, path: &BlobPath) -> Result<ObjectMeta, StoreError> {
        Ok(self.meta_of(bucket, &self.resource(bucket, path).await?))
    }

    async fn get(&self, bucket: Bucket, path: &BlobPath, range: Option<Range<u64>>) -> Result<(ObjectMeta, ByteStream), StoreError> {
        let meta = self.head(bucket, path).await?;
        let stream = self.get_version(bucket, path, &meta, range).await?;
        Ok((meta, stream))
    }

    /// Reads the generation `meta` names (its ETag), so the bytes always match the metadata.
    async fn get_version(&self, bucket: Bucket, path: &BlobPath, meta: &ObjectMeta, range: Option<Range<u64>>) -> Result<ByteStream, StoreError> {
        if range.as_ref().is_some_and(|r| r.is_empty()) || meta.size == 0 {
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let generation = meta.etag.trim_matches('"');
        let (real, name) = self.locate(bucket, path.as_str());
        let url = format!("{}?alt=media&generation={generation}", self.api.object_url(real, &name));
        let resp = self
            .api
            .send(Method::GET, &url, self.api.request_limit(), |request| {
                Ok(match &range {
                    Some(r) => request.header(reqwest::header::RANGE, format!("bytes={}-{}", r.start, r.end - 1)),
                    None => request,
                })
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(StoreError::NotFound);
        }
        Ok(Box::pin(resp.bytes_stream().map_err(|e| std::io::Error::other(StoreError::Unavailable(e.to_string())))))
    }

    async fn delete(&self, bucket: Bucket, path: &BlobPath) -> Result<bool, StoreError> {
        let (real, name) = self.locate(bucket, path.as_str());
        let url = self.api.object_url(real, &name);
        let resp = self.api.send(Method::DELETE, &url, self.api.request_limit(), Ok).await?;
        Ok(resp.status() != StatusCode::NOT_FOUND)
    }

    /// GCS cannot overwrite an object in place: deleting it is all there is.
    async fn shred(&self, bucket: Bucket, path: &BlobPath) -> Result<bool, StoreError> {
        self.delete(bucket, path).await
    }

    async fn list(&self, bucket: Bucket, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let (real, full_prefix) = self.locate(bucket, prefix);
        let first_page = format!("{}?prefix={}", self.api.objects_url(real), client::encode(&full_prefix));
        let mut found = Vec::new();
        let mut url = first_page.clone();
        loop {
            let resp = self.api.send(Method::GET, &url, self.api.request_limit(), Ok).await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Err(StoreError::Backend(format!("the GCS bucket `{real}` does not exist")));
            }
            let list: ObjectList = json(resp).await?;
            found.extend(list.items.iter().map(|o| self.meta_of(bucket, o)));
            match list.next_page_token {
                Some(token) if !token.is_empty() => url = format!("{first_page}&pageToken={}", client::encode(&token)),
                _ => break,
            }
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(found)
    }

    async fn direct_url(
        &self,
        bucket: Bucket,
        path: &BlobPath,
        method: SignedMethod,
        expires_in: Duration,
        max_bytes: u64,
    ) -> Result<Option<DirectUrl>, StoreError> {
        if !self.can_sign {
            return Err(StoreError::Unsupported(
                "GCS signed URLs need credentials: set storage.gcs.credentials_file or use application default credentials".into(),
            ));
        }
        let (_, name) = self.locate(bucket, path.as_str());
        let location = ObjectPath::parse(&name).map_err(|e| StoreError::Backend(format!("object name `{name}`: {e}")))?;
        let mut options = SignedUrlOptions::new();
        let sign_method = match method {
            SignedMethod::Get => SignMethod::GET,
            SignedMethod::Put => {
                let value = |v: String| HeaderValue::from_str(&v).map_err(|e| StoreError::Backend(e.to_string()));
                // The client must send these: GCS then stores the type we deliver with, and
                // refuses a body past the upload limit.
                options = options
                    .with_signed_header(HeaderName::from_static("content-type"), value(content_type_for(path.as_str()))?)
                    .with_signed_header(HeaderName::from_static("x-goog-content-length-range"), value(format!("0,{max_bytes}"))?);
                SignMethod::PUT
            }
        };
        let url = self
            .target(bucket)
            .signer
            .signed_url_opts(sign_method, &location, expires_in, &options)
            .await
            .map_err(|e| StoreError::Unavailable(format!("signing a GCS URL: {e}")))?;
        let headers = options
            .signed_headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        Ok(Some(DirectUrl { url: url.to_string(), headers }))
    }
}
