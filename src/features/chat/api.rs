use std::sync::Arc;

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

use super::model::*;
use crate::rest::{ApiTags, JsonBody};
use crate::features::chat::ChatService;
use crate::auth::BearerAuth;
use crate::error::AppResult;

pub struct ChatApi;

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
