//! Any server speaking OpenAI's Chat Completions API (OpenAI itself, or a local server).

use serde::Deserialize;
use serde_json::json;

use super::{Speaker, TextProvider, TextReply, TextRequest};
use crate::ai::openai_http::OpenAiHttp;
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

impl OpenAiText {
    pub fn new(config: OpenAiConfig) -> Self {
        Self { http: OpenAiHttp::new(config, "text provider") }
    }
}

#[async_trait::async_trait]
impl TextProvider for OpenAiText {
    fn model(&self) -> &str {
        &self.http.config.chat_model
    }

    async fn complete(&self, request: TextRequest) -> AppResult<TextReply> {
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
        let body = json!({
            "model": self.http.config.chat_model,
            "messages": messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens.unwrap_or(self.http.config.max_tokens).min(self.http.config.max_tokens.max(1) * 4),
        });
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

    async fn ready(&self) -> Readiness {
        self.http.ready(&self.http.config.chat_model, "chat_model").await
    }
}
