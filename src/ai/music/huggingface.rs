//! MusicGen through the Hugging Face Inference API: the answer's body is audio. While the
//! model loads, the API answers 503 with an estimated time; we wait and retry within a bound.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use super::composer::MusicParams;
use super::render::mix_and_encode;
use super::{GeneratedMusic, GeneratedStem, MusicProvider, MusicStep, Steps};
use crate::ai::readiness::{self, Readiness};
use crate::audio::{MixTrack, decode_mono, probe};
use crate::config::HuggingFaceConfig;
use crate::error::{AppError, AppResult};

pub struct HuggingFaceMusic {
    client: reqwest::Client,
    config: HuggingFaceConfig,
}

#[derive(Deserialize)]
struct Loading {
    error: Option<String>,
    estimated_time: Option<f64>,
}

/// What `GET /status/{model}` answers: whether the model is loaded, and whether it can be.
#[derive(Deserialize)]
struct ModelStatus {
    loaded: Option<bool>,
    /// `Loaded`, `Loadable` (loads on the first request, which then waits) or `TooBig`.
    state: Option<String>,
    error: Option<String>,
}

fn failed(message: String) -> AppError {
    AppError::BadGateway { code: "provider_failed", message }
}

/// MusicGen makes about 50 tokens a second of audio.
const TOKENS_PER_SECOND: u32 = 50;

impl HuggingFaceMusic {
    pub fn new(config: HuggingFaceConfig) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .build()
            .expect("an HTTP client with rustls builds");
        Self { client, config }
    }

    fn prompt(params: &MusicParams) -> String {
        let mut words = vec![params.prompt.clone(), format!("{} style", params.style.as_str())];
        words.extend(params.mood.as_ref().map(|m| format!("{m} mood")));
        words.extend(params.instrument.as_ref().map(|i| format!("featuring {i}")));
        words.extend(params.bpm.map(|b| format!("{b} bpm")));
        words.extend(params.key.as_ref().map(|k| format!("in {k}")));
        words.join(", ")
    }

    /// `GET {base}/status/{model}` with our token: the Inference API's own status of the model
    /// (what `huggingface_hub`'s `get_model_status` asks). It runs nothing and loads nothing, so
    /// it costs no credit and cannot start a cold model, yet it is answered by the same host as
    /// the generation, checks the token (a refused one is 401) and names the configured model
    /// (an unknown one is 404). A `POST /models/{model}` would run, or start loading, MusicGen;
    /// the Hub's `huggingface.co/api/whoami` checks the token on another host, not the model.
    async fn check_ready(&self) -> Readiness {
        let model = &self.config.music_model;
        let at = format!("huggingface at {}", readiness::shown_url(&self.config.base_url));
        if model.is_empty() {
            return Readiness::NotReady(format!("{at}: no model is configured (set ai.huggingface.music_model)"));
        }
        let url = format!("{}/status/{model}", self.config.base_url.trim_end_matches('/'));
        let bound = readiness::bound(self.config.timeout_secs);
        let (status, body) = match readiness::get(&self.client, &url, &self.config.token, bound).await {
            Ok(answer) => answer,
            Err(why) => return Readiness::NotReady(format!("{at}: {why}")),
        };
        // Bodies are read, never repeated: what the server says stays in the server's log.
        match status {
            200..=299 => match serde_json::from_slice::<ModelStatus>(&body) {
                Ok(ModelStatus { error: Some(_), .. }) => Readiness::NotReady(format!("{at}: the API reports an error for {model}")),
                Ok(ModelStatus { state: Some(state), .. }) if state == "TooBig" => {
                    Readiness::NotReady(format!("{at}: {model} is too big for the Inference API"))
                }
                Ok(ModelStatus { loaded: Some(true), .. }) => Readiness::Ready(format!("{at}: {model} loaded")),
                Ok(ModelStatus { loaded: Some(false), .. }) => {
                    Readiness::Ready(format!("{at}: {model} loads on first use (the first generation waits)"))
                }
                _ => Readiness::Ready(format!("{at}: {model}")),
            },
            401 | 403 if self.config.token.is_empty() => {
                Readiness::NotReady(format!("{at}: the API wants a token and none is configured (HTTP {status})"))
            }
            401 | 403 => Readiness::NotReady(format!("{at}: the token is refused (HTTP {status})")),
            404 => Readiness::NotReady(format!("{at}: the API does not know {model} (HTTP 404)")),
            429 => Readiness::NotReady(format!("{at}: rate limited (HTTP 429)")),
            _ => Readiness::NotReady(format!("{at}: answered HTTP {status}")),
        }
    }

    async fn fetch_audio(&self, params: &MusicParams) -> AppResult<Vec<u8>> {
        let url = format!("{}/models/{}", self.config.base_url.trim_end_matches('/'), self.config.music_model);
        let body = json!({
            "inputs": Self::prompt(params),
            "parameters": { "max_new_tokens": params.duration_secs * TOKENS_PER_SECOND },
        });
        let deadline = Instant::now() + Duration::from_secs(self.config.max_wait_secs);
        loop {
            let mut call = self.client.post(&url).json(&body).header("accept", "audio/*");
            if !self.config.token.is_empty() {
                call = call.bearer_auth(&self.config.token);
            }
            let resp = call.send().await.map_err(|e| {
                failed(if e.is_timeout() {
                    format!("the music provider did not answer within {} s", self.config.timeout_secs)
                } else {
                    format!("the music provider could not be reached: {e}")
                })
            })?;
            let status = resp.status();
            let bytes = resp.bytes().await.map_err(|e| failed(format!("reading the music provider's answer failed: {e}")))?;
            match status.as_u16() {
                200 => return Ok(bytes.to_vec()),
                503 => {
                    let loading: Option<Loading> = serde_json::from_slice(&bytes).ok();
                    let wait = loading.as_ref().and_then(|l| l.estimated_time).unwrap_or(5.0).clamp(0.5, 60.0);
                    let now = Instant::now();
                    if now + Duration::from_secs_f64(wait) > deadline {
                        let what = loading.and_then(|l| l.error).unwrap_or_else(|| "the model is loading".into());
                        return Err(AppError::Unavailable {
                            code: "provider_busy",
                            message: format!("the music model is still loading after {} s ({what}); retry shortly", self.config.max_wait_secs),
                            retry_after_secs: Some(wait.ceil() as u64),
                        });
                    }
                    tracing::info!(wait_secs = wait, "music model loading; waiting");
                    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                }
                429 => {
                    return Err(AppError::Unavailable { code: "provider_busy", message: "the music provider is rate limiting; retry shortly".into(), retry_after_secs: Some(10) });
                }
                401 | 403 | 404 => {
                    return Err(AppError::unavailable(
                        "provider_unconfigured",
                        format!("the music provider refused the request (HTTP {status}): check ai.huggingface.token and music_model"),
                    ));
                }
                _ => return Err(failed(format!("the music provider failed with HTTP {status}"))),
            }
        }
    }
}

#[async_trait::async_trait]
impl MusicProvider for HuggingFaceMusic {
    fn name(&self) -> &'static str {
        "huggingface"
    }

    async fn generate(&self, params: MusicParams, steps: Steps) -> AppResult<GeneratedMusic> {
        steps.send(MusicStep::Generating);
        let audio = self.fetch_audio(&params).await?;
        steps.send(MusicStep::Encoding);
        let model = self.config.music_model.clone();
        tokio::task::spawn_blocking(move || {
            let info = probe(&audio).map_err(|e| failed(format!("the music provider's answer is not usable audio: {e}")))?;
            let samples = decode_mono(&audio).map_err(|e| failed(format!("the music provider's audio could not be decoded: {e}")))?;
            let mixed = mix_and_encode(&[MixTrack { samples: &samples, gain: 1.0, pan: 0.0 }])
                .map_err(|e| AppError::internal(format!("encoding the mix: {e}")))?;
            Ok(GeneratedMusic {
                stems: vec![GeneratedStem { instrument: "full".into(), format: info.format, duration_secs: info.duration_secs, bytes: audio }],
                midi: None,
                mix_mp3: mixed.mix_mp3,
                preview_mp3: mixed.preview_mp3,
                duration_secs: mixed.duration_secs,
                model,
                bpm: None,
                key: None,
            })
        })
        .await
        .map_err(AppError::internal)?
    }

    async fn ready(&self) -> Readiness {
        self.check_ready().await
    }
}
