use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};

/// Longest session id a client may give.
pub const SESSION_ID_MAX: usize = 64;

/// Items in a page of a history or a session list when the request names no `limit` (at most
/// `Page::MAX_LIMIT`).
pub const PER_PAGE: u32 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Enum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum ChatContext {
    #[default]
    General,
    Writing,
    /// Needs Tactical HQ access (the unlimited tier).
    Tactical,
}

impl ChatContext {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatContext::General => "general",
            ChatContext::Writing => "writing",
            ChatContext::Tactical => "tactical",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "writing" => ChatContext::Writing,
            "tactical" => ChatContext::Tactical,
            _ => ChatContext::General,
        }
    }
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct SendMessage {
    #[oai(validator(min_length = 1, max_length = 255))]
    pub user_id: String,
    /// Continue this session; a new one is started when absent. An id the caller has not used
    /// before starts a session under that id (1–64 letters, digits, `_ - . :`), as the app's
    /// `session_<ms>` ids do; ids are the caller's own, so two users' ids never meet.
    #[oai(validator(max_length = 64, pattern = "^[A-Za-z0-9_.:-]*$"))]
    #[oai(nullable)]
    pub session_id: Option<String>,
    /// The message (limit: `chat.max_message_chars`).
    #[oai(validator(min_length = 1, max_length = 100000))]
    pub message: String,
    /// Picks the assistant's system prompt; default general.
    #[oai(nullable)]
    pub context: Option<ChatContext>,
    /// 0 to 2; default 0.7.
    #[oai(validator(minimum(value = "0"), maximum(value = "2")))]
    #[oai(nullable)]
    pub temperature: Option<f32>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct TokenUsage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct ChatReply {
    pub session_id: String,
    /// The assistant's message.
    pub message_id: String,
    pub user_message_id: String,
    pub response: String,
    pub model: String,
    pub context: ChatContext,
    pub usage: TokenUsage,
    /// Chat messages left in the current window (`null`: unlimited).
    #[oai(nullable)]
    pub remaining_messages: Option<u64>,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct ChatMessage {
    pub message_id: String,
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    pub context: ChatContext,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub timestamp: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct ChatHistory {
    pub session_id: String,
    pub messages: Vec<ChatMessage>,
    pub total: u64,
    pub has_more: bool,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct ChatSession {
    pub session_id: String,
    pub title: String,
    pub context: ChatContext,
    pub message_count: u64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct ChatSessions {
    pub user_id: String,
    pub sessions: Vec<ChatSession>,
    pub total: u64,
    pub has_more: bool,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct SessionDeleted {
    pub deleted: bool,
    pub session_id: String,
}
