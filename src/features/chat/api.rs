use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use futures_util::stream::BoxStream;
use poem::web::Data;
use poem::web::sse::Event;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::{ApiResponse, Object, OpenApi, ResponseContent};
use serde_json::json;

use super::completion::{Completion, CompletionStep, Conversation};
use super::model::*;
use crate::rest::{ApiTags, JsonBody};
use crate::features::chat::ChatService;
use crate::auth::BearerAuth;
use crate::error::AppResult;
use crate::limits::Limiter;

pub struct ChatApi;

/// `POST /v1/chat`, where the app's main AI screen streams from.
pub struct CompletionApi;

/// A whole reply (`stream: false`).
#[derive(Debug, Clone, Object)]
pub struct WholeReply {
    pub content: String,
    /// The model that answered.
    pub model: String,
    pub usage: TokenUsage,
}

/// One line of a streamed reply: `{"delta": "…"}` while it is written, `{"error": {code,
/// message}}` if it fails (nothing is charged then). The stream ends with `data: [DONE]` after a
/// complete reply.
#[derive(Debug, Clone, Object)]
pub struct ReplyPiece {
    pub delta: Option<String>,
    pub error: Option<crate::error::ErrorDetail>,
}

#[derive(ResponseContent)]
enum CompletionBody {
    Whole(Json<WholeReply>),
    Stream(EventStream<BoxStream<'static, ReplyPiece>>),
}

#[derive(ApiResponse)]
enum CompletionAnswer {
    /// `application/json` for `stream: false`, `text/event-stream` for `stream: true`.
    #[oai(status = 200)]
    Ok(CompletionBody),
}

#[OpenApi(tag = "ApiTags::Chat")]
impl CompletionApi {
    /// Chat completion, OpenAI style (the app's main AI screen)
    ///
    /// Answers the last message of `messages` in the light of the earlier ones. Stored nowhere:
    /// the client keeps the conversation. Charged as one `ai_chat` message when the reply is
    /// complete (429 `quota_exceeded` when used up); a streamed reply the client leaves before
    /// its first piece is stopped and not charged, after it is written and charged. With
    /// `stream: true` the answer is a
    /// `text/event-stream` of `data: {"delta": "…"}` lines, then `data: [DONE]`; a failure
    /// mid-reply is a `data: {"error": {code, message}}` line instead of `[DONE]`. Streams count
    /// towards `events.max_streams_per_user` and `_per_ip`.
    #[oai(path = "/v1/chat", method = "post")]
    async fn chat(
        &self,
        chat: Data<&Arc<ChatService>>,
        limiter: Data<&Arc<Limiter>>,
        req: &poem::Request,
        auth: BearerAuth,
        body: JsonBody<Conversation>,
    ) -> AppResult<CompletionAnswer> {
        let ip = limiter.client_ip(req).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let streaming = match chat.complete(&auth.0, body.0, ip).await? {
            Completion::Whole(reply) => {
                let usage = TokenUsage {
                    prompt_tokens: reply.prompt_tokens,
                    completion_tokens: reply.completion_tokens,
                    total_tokens: reply.prompt_tokens.saturating_add(reply.completion_tokens),
                };
                return Ok(CompletionAnswer::Ok(CompletionBody::Whole(Json(WholeReply { content: reply.text, model: reply.model, usage }))));
            }
            Completion::Streaming(streaming) => streaming,
        };
        // `None` marks `[DONE]`, which is not JSON; the stream ends after it or after an error.
        let lines = futures_util::stream::unfold(Some(streaming), |streaming| async move {
            let mut streaming = streaming?;
            match streaming.next().await? {
                CompletionStep::Piece(text) => Some((Some(ReplyPiece { delta: Some(text), error: None }), Some(streaming))),
                CompletionStep::Done(_) => Some((None, None)),
                CompletionStep::Failed(e) => {
                    tracing::warn!(code = e.code(), error = %e, "a streamed chat completion failed");
                    Some((Some(ReplyPiece { delta: None, error: Some(e.body().error) }), None))
                }
            }
        });
        let stream = EventStream::new(Box::pin(futures_util::StreamExt::map(lines, |line| line.unwrap_or(ReplyPiece { delta: None, error: None })))
            as BoxStream<'static, ReplyPiece>)
        .to_event(|piece| match (&piece.delta, &piece.error) {
            (Some(delta), _) => Event::message(json!({ "delta": delta }).to_string()),
            (None, Some(error)) => Event::message(json!({ "error": error }).to_string()),
            (None, None) => Event::message("[DONE]"),
        });
        Ok(CompletionAnswer::Ok(CompletionBody::Stream(stream)))
    }
}

#[OpenApi(prefix_path = "/api/ai/chat", tag = "ApiTags::Chat")]
impl ChatApi {
    /// Send a message and get the assistant's reply
    ///
    /// Starts a session when `sessionId` is absent; earlier turns of the session go to the model
    /// as context. Charged to the `ai_chat` quota only when the reply succeeds (429
    /// `quota_exceeded` when used up). The `tactical` context needs Tactical HQ access.
    #[oai(path = "/send", method = "post")]
    async fn send(&self, chat: Data<&Arc<ChatService>>, auth: BearerAuth, body: JsonBody<SendMessage>) -> AppResult<Json<ChatReply>> {
        Ok(Json(chat.send(&auth.0, body.0).await?))
    }

    /// A session's messages, oldest first
    #[oai(path = "/history/:session_id", method = "get")]
    async fn history(
        &self,
        chat: Data<&Arc<ChatService>>,
        auth: BearerAuth,
        session_id: Path<String>,
        /// 1 to 200 (`Page::MAX_LIMIT`, which the service checks)
        #[oai(default = "per_page", validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<u32>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "4294967295")))] offset: Query<u32>,
    ) -> AppResult<Json<ChatHistory>> {
        Ok(Json(chat.history(&auth.0, &session_id, limit.0, offset.0).await?))
    }

    /// A user's chat sessions, most recently active first
    #[oai(path = "/sessions/:user_id", method = "get")]
    async fn sessions(
        &self,
        chat: Data<&Arc<ChatService>>,
        auth: BearerAuth,
        user_id: Path<String>,
        /// 1 to 200 (`Page::MAX_LIMIT`, which the service checks)
        #[oai(default = "per_page", validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<u32>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "4294967295")))] offset: Query<u32>,
    ) -> AppResult<Json<ChatSessions>> {
        Ok(Json(chat.sessions(&auth.0, &user_id, limit.0, offset.0).await?))
    }

    /// Delete a session and its messages
    #[oai(path = "/session/:session_id", method = "delete")]
    async fn delete(&self, chat: Data<&Arc<ChatService>>, auth: BearerAuth, session_id: Path<String>) -> AppResult<Json<SessionDeleted>> {
        Ok(Json(chat.delete(&auth.0, &session_id).await?))
    }
}

fn per_page() -> u32 {
    PER_PAGE
}
