//! Requests to the GCS JSON API: authentication through `object_store`'s credential
//! providers, bounded retries with backoff, and errors sorted into "unreachable" and "failed".

use std::time::{Duration, Instant};

use object_store::gcp::GcpCredentialProvider;
use reqwest::{Method, RequestBuilder, Response, StatusCode};

use crate::blobs::StoreError;

pub struct JsonApi {
    http: reqwest::Client,
    base: String,
    credentials: Option<GcpCredentialProvider>,
    timeout: Duration,
    max_retries: usize,
}

/// A request that can be built again for each attempt.
pub trait Attempt: Fn(RequestBuilder) -> Result<RequestBuilder, StoreError> + Send + Sync {}
impl<F: Fn(RequestBuilder) -> Result<RequestBuilder, StoreError> + Send + Sync> Attempt for F {}

impl JsonApi {
    /// `base` is `https://storage.googleapis.com` or an emulator's address. No credentials
    /// means anonymous requests (emulators only).
    pub fn new(base: &str, credentials: Option<GcpCredentialProvider>, timeout: Duration, max_retries: usize) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            // Each read of an answer (headers, or the next piece of a download) must come in
            // time; a whole transfer may take longer.
            .read_timeout(timeout)
            .build()
            .expect("the HTTP client builds");
        Self { http, base: base.trim_end_matches('/').to_owned(), credentials, timeout, max_retries }
    }

    pub fn object_url(&self, bucket: &str, name: &str) -> String {
        format!("{}/storage/v1/b/{}/o/{}", self.base, encode(bucket), encode(name))
    }

    pub fn objects_url(&self, bucket: &str) -> String {
        format!("{}/storage/v1/b/{}/o", self.base, encode(bucket))
    }

    pub fn bucket_url(&self, bucket: &str) -> String {
        format!("{}/storage/v1/b/{}", self.base, encode(bucket))
    }

    pub fn upload_url(&self, bucket: &str) -> String {
        format!("{}/upload/storage/v1/b/{}/o", self.base, encode(bucket))
    }

    async fn bearer(&self) -> Result<Option<String>, StoreError> {
        let Some(provider) = &self.credentials else { return Ok(None) };
        let credential = provider
            .get_credential()
            .await
            .map_err(|e| StoreError::Unavailable(format!("GCS credentials: {e}")))?;
        Ok((!credential.bearer.is_empty()).then(|| credential.bearer.clone()))
    }

    /// Sends `build` until it gets an answer that is not worth retrying, at most
    /// `1 + max_retries` times and not starting an attempt after `timeout` has passed since the
    /// first. Each attempt must finish within `limit`. Answers other than 2xx and 404 become
    /// errors; a 404 is returned for the caller to read.
    pub async fn send(&self, method: Method, url: &str, limit: Duration, build: impl Attempt) -> Result<Response, StoreError> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 0;
        loop {
            let mut request = self.http.request(method.clone(), url);
            if let Some(bearer) = self.bearer().await? {
                request = request.bearer_auth(bearer);
            }
            let outcome = match tokio::time::timeout(limit, build(request)?.send()).await {
                Ok(Ok(resp)) if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND => return Ok(resp),
                Ok(Ok(resp)) => Failure::Status(resp.status(), resp.text().await.unwrap_or_default()),
                Ok(Err(e)) => Failure::Transport(e.to_string()),
                Err(_) => Failure::Transport(format!("no answer within {} s", limit.as_secs_f32())),
            };
            attempt += 1;
            let retryable = match &outcome {
                Failure::Transport(_) => true,
                Failure::Status(status, _) => status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS,
            };
            if !retryable || attempt > self.max_retries || started.elapsed() + backoff > self.timeout {
                return Err(outcome.into_error(&method, url, attempt));
            }
            tracing::debug!(%method, url, attempt, "retrying a GCS request");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// The limit for a request without a large body.
    pub fn request_limit(&self) -> Duration {
        self.timeout
    }

    /// The limit for uploading `size` bytes: the request limit plus time at 1 MiB/s.
    pub fn upload_limit(&self, size: u64) -> Duration {
        self.timeout + Duration::from_secs(size / (1024 * 1024))
    }
}

enum Failure {
    Transport(String),
    Status(StatusCode, String),
}

impl Failure {
    fn into_error(self, method: &Method, url: &str, attempts: usize) -> StoreError {
        match self {
            Failure::Transport(e) => StoreError::Unavailable(format!("{method} {url}: {e} (after {attempts} attempts)")),
            Failure::Status(status, body) => {
                let body: String = body.chars().take(300).collect();
                StoreError::Backend(format!("{method} {url}: {status} {body} (after {attempts} attempts)"))
            }
        }
    }
}

/// Percent-encodes a bucket or object name as one URL path segment (`/` included).
pub fn encode(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}
