//! Any server speaking OpenAI's Chat Completions API (OpenAI itself, or a local server).

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::{Speaker, TextProvider, TextReply, TextRequest};
use crate::config::OpenAiConfig;
use crate::error::{AppError, AppResult};

pub struct OpenAiText {
    client: reqwest::Client,
    config: OpenAiConfig,
}

#[derive(Deserialize)]
struct Completion {
    model: Option<String>,
    choices: Vec<Choice>,
    usage: Option<UsageCounts>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}

#[derive(Deserialize)]
struct UsageCounts {
    prompt_tokens: u32,
    completion_tokens: u32,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

fn failed(message: String) -> AppError {
    AppError::BadGateway { code: "provider_failed", message }
}

impl OpenAiText {
    pub fn new(config: OpenAiConfig) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .connect_timeout(Duration::from_secs(config.timeout_secs.min(10)))
            .build()
            .expect("an HTTP client with rustls builds");
        Self { client, config }
    }
}

#[async_trait::async_trait]
impl TextProvider for OpenAiText {
    fn model(&self) -> &str {
        &self.config.chat_model
    }

    async fn complete(&self, request: TextRequest) -> AppResult<TextReply> {
        if self.config.chat_model.is_empty() {
            return Err(AppError::unavailable("provider_unconfigured", "the text provider has no model: set ai.openai.chat_model"));
        }
        let mut messages = vec![json!({ "role": "system", "content": request.system })];
        messages.extend(request.history.iter().map(|t| {
            let role = match t.speaker {
                Speaker::User => "user",
                Speaker::Assistant => "assistant",
            };
            json!({ "role": role, "content": t.content })
        }));
        messages.push(json!({ "role": "user", "content": request.message }));
        let body = json!({
            "model": self.config.chat_model,
            "messages": messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens.unwrap_or(self.config.max_tokens).min(self.config.max_tokens.max(1) * 4),
        });
        let url = format!("{}/chat/completions", self.config.base_url.trim_end_matches('/'));
        let mut call = self.client.post(&url).json(&body);
        if !self.config.api_key.is_empty() {
            call = call.bearer_auth(&self.config.api_key);
        }
        let resp = call.send().await.map_err(|e| {
            if e.is_timeout() {
                failed(format!("the text provider did not answer within {} s", self.config.timeout_secs))
            } else {
                failed(format!("the text provider could not be reached: {e}"))
            }
        })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = resp.text().await.map_err(|e| failed(format!("reading the text provider's answer failed: {e}")))?;
        if !status.is_success() {
            let detail = serde_json::from_str::<ErrorEnvelope>(&text)
                .ok()
                .and_then(|e| e.error.message)
                .unwrap_or_else(|| format!("HTTP {status}"));
            return Err(match status.as_u16() {
                429 => AppError::Unavailable {
                    code: "provider_busy",
                    message: format!("the text provider is busy: {detail}"),
                    retry_after_secs: Some(retry_after.unwrap_or(5).clamp(1, 3600)),
                },
                401 | 403 => AppError::unavailable("provider_unconfigured", format!("the text provider refused this server's credentials: {detail}")),
                404 => AppError::unavailable("provider_unconfigured", format!("the text provider does not know the model or endpoint: {detail}")),
                _ => failed(format!("the text provider failed: {detail}")),
            });
        }
        let completion: Completion =
            serde_json::from_str(&text).map_err(|e| failed(format!("the text provider answered with an unreadable completion: {e}")))?;
        let content = completion
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| failed("the text provider answered with no text".into()))?;
        let (prompt_tokens, completion_tokens) = match completion.usage {
            Some(u) => (u.prompt_tokens, u.completion_tokens),
            None => (super::estimate_tokens(&body.to_string()), super::estimate_tokens(&content)),
        };
        Ok(TextReply {
            text: content,
            model: completion.model.unwrap_or_else(|| self.config.chat_model.clone()),
            prompt_tokens,
            completion_tokens,
        })
    }
}
