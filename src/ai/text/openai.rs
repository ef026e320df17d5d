//! Any server speaking OpenAI's Chat Completions API (OpenAI itself, or a local server).

use serde::Deserialize;
use serde_json::json;

use tokio::sync::mpsc;

use super::{Speaker, TextProvider, TextReply, TextRequest};
use crate::ai::openai_http::OpenAiHttp;
use crate::ai::sse_data::SseData;
use crate::ai::readiness::Readiness;
use crate::config::OpenAiConfig;
use crate::error::{AppError, AppResult};

pub struct OpenAiText {
    http: OpenAiHttp,
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

/// One piece of a streamed reply (`chat.completion.chunk`), or the error that ends the stream.
#[derive(Deserialize)]
struct Chunk {
    model: Option<String>,
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<UsageCounts>,
    error: Option<ChunkError>,
}

/// Some servers send choices without a `delta` (a content filter's verdict, a last chunk with
/// only `finish_reason`).
#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<Message>,
}

#[derive(Deserialize)]
struct ChunkError {
    message: Option<String>,
}

impl OpenAiText {
    pub fn new(config: OpenAiConfig) -> Self {
        Self { http: OpenAiHttp::new(config, "text provider") }
    }

    /// The Chat Completions request for `request`; `stream` asks for the reply as it is written,
    /// with the token counts in its last piece.
    fn body(&self, request: &TextRequest, stream: bool) -> AppResult<serde_json::Value> {
        if self.http.config.chat_model.is_empty() {
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
        let mut body = json!({
            "model": self.http.config.chat_model,
            "messages": messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens.unwrap_or(self.http.config.max_tokens).min(self.http.config.max_tokens.max(1) * 4),
        });
        if stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({ "include_usage": true });
        }
        Ok(body)
    }
}

#[async_trait::async_trait]
impl TextProvider for OpenAiText {
    fn model(&self) -> &str {
        &self.http.config.chat_model
    }

    async fn complete(&self, request: TextRequest) -> AppResult<TextReply> {
        let body = self.body(&request, false)?;
        let text = self.http.post("chat/completions", &body).await?.map_err(|f| self.http.error(f))?;
        let completion: Completion =
            serde_json::from_str(&text).map_err(|e| self.http.failed(format_args!("answered with an unreadable completion: {e}")))?;
        let content = completion
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| self.http.failed("answered with no text"))?;
        let (prompt_tokens, completion_tokens) = match completion.usage {
            Some(u) => (u.prompt_tokens, u.completion_tokens),
            None => (super::estimate_tokens(&body.to_string()), super::estimate_tokens(&content)),
        };
        Ok(TextReply {
            text: content,
            model: completion.model.unwrap_or_else(|| self.http.config.chat_model.clone()),
            prompt_tokens,
            completion_tokens,
        })
    }

    /// Reads the upstream's own stream (`data: {chunk}` lines until `data: [DONE]`), passing each
    /// piece of content on as it arrives. A stream that breaks off, or carries an error, before
    /// `[DONE]` is a failed reply.
    async fn stream(&self, request: TextRequest, deltas: mpsc::Sender<String>) -> AppResult<TextReply> {
        let body = self.body(&request, true)?;
        let mut resp = self.http.send("chat/completions", &body).await?.map_err(|f| self.http.error(f))?;
        let mut sse = SseData::default();
        let (mut text, mut model, mut usage) = (String::new(), None, None);
        loop {
            let bytes = match resp.chunk().await {
                Ok(Some(bytes)) => bytes,
                Ok(None) => return Err(self.http.failed("stopped answering mid-reply (the stream ended without [DONE])")),
                Err(e) if e.is_timeout() => return Err(self.http.transport(&e)),
                Err(e) => return Err(self.http.failed(format_args!("stopped answering mid-reply: {e}"))),
            };
            for data in sse.push(&bytes).map_err(|e| self.http.failed(e))? {
                if data.trim() == "[DONE]" {
                    if text.trim().is_empty() {
                        return Err(self.http.failed("answered with no text"));
                    }
                    let (prompt_tokens, completion_tokens) = match usage {
                        Some(UsageCounts { prompt_tokens, completion_tokens }) => (prompt_tokens, completion_tokens),
                        None => (super::estimate_tokens(&body.to_string()), super::estimate_tokens(&text)),
                    };
                    let model = model.unwrap_or_else(|| self.http.config.chat_model.clone());
                    return Ok(TextReply { text, model, prompt_tokens, completion_tokens });
                }
                let chunk: Chunk =
                    serde_json::from_str(&data).map_err(|e| self.http.failed(format_args!("sent an unreadable piece of its reply: {e}")))?;
                if let Some(error) = chunk.error {
                    let why = error.message.unwrap_or_else(|| "an error".into());
                    return Err(self.http.failed(format_args!("failed mid-reply: {why}")));
                }
                model = model.or(chunk.model);
                usage = chunk.usage.or(usage);
                let piece: String = chunk.choices.into_iter().filter_map(|c| c.delta.and_then(|d| d.content)).collect();
                if !piece.is_empty() {
                    text.push_str(&piece);
                    let _ = deltas.send(piece).await;
                }
            }
        }
    }

    async fn ready(&self) -> Readiness {
        self.http.ready(&self.http.config.chat_model, "chat_model").await
    }
}
