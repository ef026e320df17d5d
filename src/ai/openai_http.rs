//! One call to an OpenAI-compatible API, and how its failures read to our callers: shared by
//! the text and image providers.

use std::time::Duration;

use serde::Deserialize;

use super::readiness::{self, Readiness};
use crate::config::OpenAiConfig;
use crate::error::{AppError, AppResult};

pub struct OpenAiHttp {
    client: reqwest::Client,
    /// For answers read as they arrive: `timeout_secs` bounds each wait for more, not the whole
    /// answer (a long reply streams for longer than any one wait; the caller bounds the whole).
    streaming: reqwest::Client,
    pub config: OpenAiConfig,
    /// How the provider is named in messages ("the text provider").
    what: &'static str,
}

/// A non-2xx answer: its status, `Retry-After`, and the API's own error code and message.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub code: Option<String>,
    pub message: String,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
    code: Option<String>,
}

impl OpenAiHttp {
    pub fn new(config: OpenAiConfig, what: &'static str) -> Self {
        let (timeout, connect) = (Duration::from_secs(config.timeout_secs), Duration::from_secs(config.timeout_secs.min(10)));
        let client = reqwest::Client::builder().timeout(timeout).connect_timeout(connect).build().expect("an HTTP client with rustls builds");
        let streaming =
            reqwest::Client::builder().read_timeout(timeout).connect_timeout(connect).build().expect("an HTTP client with rustls builds");
        Self { client, streaming, config, what }
    }

    /// 502 `provider_failed` naming the provider.
    pub fn failed(&self, why: impl std::fmt::Display) -> AppError {
        AppError::BadGateway { code: "provider_failed", message: format!("the {} {why}", self.what) }
    }

    /// POSTs `body` as JSON to `path` under the base URL: the answer's text, or the failure
    /// when the API answered with an error status. Transport failures are 502s.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> AppResult<Result<String, ApiFailure>> {
        let resp = match self.send_with(&self.client, path, body).await? {
            Ok(resp) => resp,
            Err(failure) => return Ok(Err(failure)),
        };
        let text = resp.text().await.map_err(|e| self.failed(format_args!("answer could not be read: {e}")))?;
        Ok(Ok(text))
    }

    /// Like [`Self::post`], for an answer read as it arrives: the response whose status was a
    /// success, its body unread; each read waits at most `timeout_secs`.
    pub async fn send(&self, path: &str, body: &serde_json::Value) -> AppResult<Result<reqwest::Response, ApiFailure>> {
        self.send_with(&self.streaming, path, body).await
    }

    async fn send_with(&self, client: &reqwest::Client, path: &str, body: &serde_json::Value) -> AppResult<Result<reqwest::Response, ApiFailure>> {
        let url = format!("{}/{path}", self.config.base_url.trim_end_matches('/'));
        let mut call = client.post(&url).json(body);
        if !self.config.api_key.is_empty() {
            call = call.bearer_auth(&self.config.api_key);
        }
        let resp = call.send().await.map_err(|e| self.transport(&e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(Ok(resp));
        }
        let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        let text = resp.text().await.map_err(|e| self.failed(format_args!("answer could not be read: {e}")))?;
        let detail = serde_json::from_str::<ErrorEnvelope>(&text).ok().map(|e| e.error);
        Ok(Err(ApiFailure {
            status: status.as_u16(),
            retry_after,
            code: detail.as_ref().and_then(|d| d.code.clone()),
            message: detail.and_then(|d| d.message).unwrap_or_else(|| format!("HTTP {status}")),
        }))
    }

    /// A request that failed on the way (no answer, or an answer cut off): 502.
    pub fn transport(&self, e: &reqwest::Error) -> AppError {
        if e.is_timeout() {
            self.failed(format_args!("did not answer within {} s", self.config.timeout_secs))
        } else {
            self.failed(format_args!("could not be reached: {e}"))
        }
    }

    /// Whether the server answers `GET {base}/models` (the cheapest authenticated request the
    /// API has: it lists models, generates nothing, costs nothing) with a 2xx for our key,
    /// within [`readiness::bound`]. `model` is the one this provider would use: without one it
    /// cannot serve, so nothing is sent.
    pub async fn ready(&self, model: &str, model_key: &str) -> Readiness {
        let at = format!("openai at {}", readiness::shown_url(&self.config.base_url));
        if model.is_empty() {
            return Readiness::NotReady(format!("{at}: no model is configured (set ai.openai.{model_key})"));
        }
        let url = format!("{}/models", self.config.base_url.trim_end_matches('/'));
        let bound = readiness::bound(self.config.timeout_secs);
        match readiness::get(&self.client, &url, &self.config.api_key, bound).await {
            Ok((status, _)) if (200..300).contains(&status) => Readiness::Ready(at),
            // The body is not repeated: OpenAI's 401 quotes part of the key it refused.
            Ok((status @ (401 | 403), _)) if self.config.api_key.is_empty() => {
                Readiness::NotReady(format!("{at}: the server wants a key and none is configured (HTTP {status})"))
            }
            Ok((status @ (401 | 403), _)) => Readiness::NotReady(format!("{at}: the key is refused (HTTP {status})")),
            Ok((404, _)) => Readiness::NotReady(format!("{at}: GET /models is not found (HTTP 404): is ai.openai.base_url right?")),
            Ok((429, _)) => Readiness::NotReady(format!("{at}: rate limited (HTTP 429)")),
            Ok((status, _)) => Readiness::NotReady(format!("{at}: answered HTTP {status}")),
            Err(why) => Readiness::NotReady(format!("{at}: {why}")),
        }
    }

    /// What a failed call means to our caller: busy (503 with Retry-After), misconfigured
    /// (503), or failed (502).
    pub fn error(&self, f: ApiFailure) -> AppError {
        let what = self.what;
        let detail = f.message;
        match f.status {
            429 => AppError::Unavailable {
                code: "provider_busy",
                message: format!("the {what} is busy: {detail}"),
                retry_after_secs: Some(f.retry_after.unwrap_or(5).clamp(1, 3600)),
            },
            // The upstream's text is not passed on: OpenAI's 401 quotes part of the key it refused.
            401 | 403 => AppError::unavailable(
                "provider_unconfigured",
                format!("the {what} refused this server's credentials (HTTP {}): check ai.openai.api_key", f.status),
            ),
            404 => AppError::unavailable("provider_unconfigured", format!("the {what} does not know the model or endpoint: {detail}")),
            _ => self.failed(format_args!("failed: {detail}")),
        }
    }
}
