//! `POST /v1/chat`'s conversation and answer: the app's main AI screen sends the whole
//! conversation each time, OpenAI style, and keeps it itself; nothing of it is stored here.

use poem_openapi::{Enum, Object};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::ai::text::TextReply;
use crate::error::{AppError, AppResult};
use crate::events::streams::StreamPermit;

#[derive(Debug, Clone, Object, Deserialize)]
pub struct Conversation {
    /// The conversation so far, oldest first; the last message is the one to answer and must be
    /// the user's. `system` messages make the assistant's instructions. Earlier turns beyond
    /// `chat.context_chars` are left out, oldest first.
    #[oai(validator(min_items = 1, max_items = 200))]
    pub messages: Vec<OpenMessage>,
    /// `true`: the answer is a `text/event-stream` of `data: {"delta": "…"}` lines, then
    /// `data: [DONE]`. `false`: `{content}` at once.
    #[oai(default)]
    #[serde(default)]
    pub stream: bool,
    /// 0 to 2; default 0.7.
    #[oai(validator(minimum(value = "0"), maximum(value = "2")))]
    pub temperature: Option<f32>,
    /// Most tokens the reply may have (the server caps it at four times `ai.openai.max_tokens`).
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000")))]
    pub max_tokens: Option<u32>,
    /// Accepted for compatibility with OpenAI-style clients; the server's configured model
    /// answers, and the answer names it.
    #[oai(validator(max_length = 200))]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
pub struct OpenMessage {
    pub role: OpenRole,
    /// A question is limited to `chat.max_message_chars`; earlier turns are kept as they fit.
    #[oai(validator(max_length = 100000))]
    pub content: String,
}

/// Who said a message of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum OpenRole {
    /// The assistant's instructions.
    System,
    User,
    Assistant,
}

/// What `POST /v1/chat` answers.
pub enum Completion {
    Whole(TextReply),
    Streaming(CompletionStream),
}

/// What a streamed completion sends next.
pub enum CompletionStep {
    Piece(String),
    Done(TextReply),
    Failed(AppError),
}

/// A reply being written for one client. Dropped (the client went away) before any piece was
/// sent, it stops the provider call, and the quota it held is given back; after, the reply is
/// written to its end and charged, so a client cannot read most of a reply and leave unpaid.
pub struct CompletionStream {
    /// The first step, read ahead by [`Self::started`].
    first: Option<CompletionStep>,
    /// Whether a piece went to the client.
    delivered: bool,
    pieces: mpsc::Receiver<String>,
    asked: Option<JoinHandle<AppResult<TextReply>>>,
    _permit: Option<StreamPermit>,
}

impl CompletionStream {
    pub fn new(pieces: mpsc::Receiver<String>, asked: JoinHandle<AppResult<TextReply>>, permit: Option<StreamPermit>) -> Self {
        Self { first: None, delivered: false, pieces, asked: Some(asked), _permit: permit }
    }

    /// Waits for the reply's first piece: a provider that fails before writing anything (busy,
    /// misconfigured, unreachable) is an error answer, which a client reads more easily than an
    /// error line in a stream.
    pub async fn started(mut self) -> AppResult<Self> {
        match self.step().await {
            Some(CompletionStep::Failed(e)) => Err(e),
            first => {
                self.first = first;
                Ok(self)
            }
        }
    }

    /// The next piece, then how the reply ended; `None` after that.
    pub async fn next(&mut self) -> Option<CompletionStep> {
        let step = self.step().await;
        self.delivered |= matches!(step, Some(CompletionStep::Piece(_)));
        step
    }

    async fn step(&mut self) -> Option<CompletionStep> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if let Some(piece) = self.pieces.recv().await {
            return Some(CompletionStep::Piece(piece));
        }
        let asked = self.asked.take()?;
        Some(match asked.await {
            Ok(Ok(reply)) => CompletionStep::Done(reply),
            Ok(Err(e)) => CompletionStep::Failed(e),
            Err(e) => CompletionStep::Failed(AppError::internal(format_args!("the reply stopped: {e}"))),
        })
    }
}

impl Drop for CompletionStream {
    fn drop(&mut self) {
        if let Some(asked) = &self.asked
            && !self.delivered
        {
            asked.abort();
        }
    }
}
