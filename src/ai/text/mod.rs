//! Text generation for chat (and later writing help and analyses): the `TextProvider` trait,
//! the offline `local` provider and the OpenAI-compatible `openai` provider.

mod local;
mod openai;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

pub use local::{LocalText, MODEL as LOCAL_MODEL};
pub use openai::OpenAiText;

use crate::ai::readiness::Readiness;
use crate::config::{AiConfig, TextProviderKind};
use crate::error::AppResult;
use crate::plans::Tier;
use crate::work_queue::{Priority, WorkQueue};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    User,
    Assistant,
}

#[derive(Debug, Clone)]
pub struct Turn {
    pub speaker: Speaker,
    pub content: String,
}

/// What the server knows about the caller; the offline provider answers from it.
#[derive(Debug, Clone, Default)]
pub struct CallerFacts {
    pub tier: String,
    /// Chat messages left in the current window, counting this one (`None`: unlimited).
    pub chat_remaining: Option<u64>,
    pub chat_resets_at: Option<DateTime<Utc>>,
    pub sessions: u64,
    pub included: Vec<String>,
    pub not_included: Vec<String>,
    pub upgrade_to: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TextRequest {
    pub system: String,
    /// Earlier turns, oldest first.
    pub history: Vec<Turn>,
    pub message: String,
    pub temperature: f32,
    /// Most tokens the reply may have (`None`: the provider's configured maximum).
    pub max_tokens: Option<u32>,
    pub facts: CallerFacts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TextReply {
    pub text: String,
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

#[async_trait::async_trait]
pub trait TextProvider: Send + Sync {
    /// The model name reported in responses.
    fn model(&self) -> &str;

    /// Failures are clear errors: `provider_busy` (503, with Retry-After), `provider_failed`
    /// (502: upstream errors, timeouts, unreadable answers), `provider_unconfigured` (503).
    async fn complete(&self, request: TextRequest) -> AppResult<TextReply>;

    /// Like [`Self::complete`], sending the reply's text to `deltas` piece by piece as it is
    /// written; the pieces joined are the returned reply's text. A failure after some pieces were
    /// sent is still an error: the pieces are not a reply. A closed `deltas` does not stop the
    /// reply (the caller may be storing it for a client that went away). By default the whole
    /// reply is one piece.
    async fn stream(&self, request: TextRequest, deltas: mpsc::Sender<String>) -> AppResult<TextReply> {
        let reply = self.complete(request).await?;
        let _ = deltas.send(reply.text.clone()).await;
        Ok(reply)
    }

    /// Whether it can answer now (see [`crate::ai::readiness`]); sends at most one cheap request.
    async fn ready(&self) -> Readiness;
}

/// The configured provider. Remote calls wait their turn in the generation queue; the local
/// provider answers in microseconds and does not.
pub fn from_config(config: &AiConfig, work: Arc<WorkQueue>) -> Arc<dyn TextProvider> {
    match config.text_provider {
        TextProviderKind::Local => Arc::new(LocalText),
        TextProviderKind::Openai => Arc::new(Queued { inner: OpenAiText::new(config.openai.clone()), work }),
    }
}

/// A provider whose calls run through the generation queue, ahead for the Unlimited tier.
struct Queued<P> {
    inner: P,
    work: Arc<WorkQueue>,
}

#[async_trait::async_trait]
impl<P: TextProvider> TextProvider for Queued<P> {
    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn complete(&self, request: TextRequest) -> AppResult<TextReply> {
        let priority = Tier::parse(&request.facts.tier).map_or(Priority::Standard, Priority::of);
        self.work.run("text", priority, self.inner.complete(request)).await?
    }

    /// The worker is held until the reply ends, not just until its first piece.
    async fn stream(&self, request: TextRequest, deltas: mpsc::Sender<String>) -> AppResult<TextReply> {
        let priority = Tier::parse(&request.facts.tier).map_or(Priority::Standard, Priority::of);
        self.work.run("text", priority, self.inner.stream(request, deltas)).await?
    }

    /// Not through the queue: a readiness request costs the provider nothing, and a queue full
    /// of generations says nothing about whether the provider answers.
    async fn ready(&self) -> Readiness {
        self.inner.ready().await
    }
}

/// A rough token count (about four characters a token) for providers that report none.
pub fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.chars().count().div_ceil(4)).unwrap_or(u32::MAX)
}
