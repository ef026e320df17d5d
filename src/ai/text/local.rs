//! The built-in offline provider. It is not a language model and says so: it answers the
//! questions the server can answer from its own data (tier, remaining quota, sessions) and
//! explains how to connect a model for everything else.

use tokio::sync::mpsc;

use super::{CallerFacts, TextProvider, TextReply, TextRequest, estimate_tokens};
use crate::ai::readiness::Readiness;
use crate::error::AppResult;

pub struct LocalText;

pub const MODEL: &str = "optima-local";

const NO_MODEL: &str = "I'm Optima's built-in offline assistant, not a language model: no model is \
configured on this server, so I can't answer open questions. An operator can connect one by setting \
`ai.text_provider = \"openai\"` with `ai.openai.base_url`, `ai.openai.api_key` and \
`ai.openai.chat_model` (OpenAI, or any server that speaks its Chat Completions API, including a \
local one).";

fn mentions(text: &str, words: &[&str]) -> bool {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'').any(|w| words.contains(&w))
}

fn tier_answer(f: &CallerFacts) -> String {
    let mut s = format!("You're on the {} tier.", f.tier);
    if !f.included.is_empty() {
        s += &format!(" It includes: {}.", f.included.join(", "));
    }
    if !f.not_included.is_empty() {
        s += &format!(" Not included: {}.", f.not_included.join(", "));
    }
    if let Some(up) = &f.upgrade_to {
        s += &format!(" Upgrading to {up} opens more.");
    }
    s
}

fn quota_answer(f: &CallerFacts) -> String {
    match (f.chat_remaining, f.chat_resets_at) {
        (None, _) => "Your chat messages are unlimited.".to_owned(),
        (Some(n), Some(reset)) => format!(
            "After this message you have {n} chat message{} left; the quota resets at {} UTC.",
            if n == 1 { "" } else { "s" },
            reset.format("%Y-%m-%d %H:%M")
        ),
        (Some(n), None) => format!("After this message you have {n} chat messages left."),
    }
}

fn sessions_answer(f: &CallerFacts) -> String {
    match f.sessions {
        0 => "This is your first chat session.".to_owned(),
        1 => "You have 1 chat session (this one included once it is saved).".to_owned(),
        n => format!("You have {n} chat sessions."),
    }
}

/// The reply to `message`, from what the server knows.
pub fn reply(message: &str, facts: &CallerFacts) -> String {
    let m = message.to_lowercase();
    let mut parts = Vec::new();
    if mentions(&m, &["hi", "hello", "hey", "greetings"]) {
        parts.push("Hello!".to_owned());
    }
    if mentions(&m, &["tier", "plan", "subscription", "upgrade", "premium", "unlimited", "included", "features"]) {
        parts.push(tier_answer(facts));
    }
    if mentions(&m, &["quota", "remaining", "left", "limit", "limits", "messages", "reset"]) {
        parts.push(quota_answer(facts));
    }
    if mentions(&m, &["session", "sessions", "history", "conversations", "chats"]) {
        parts.push(sessions_answer(facts));
    }
    if mentions(&m, &["help", "can", "what", "who"]) && parts.is_empty() {
        parts.push(
            "Offline, I can tell you about your tier and what it includes, your remaining chat quota, \
             and your chat sessions."
                .to_owned(),
        );
    }
    if parts.is_empty() {
        return NO_MODEL.to_owned();
    }
    parts.push("(Offline assistant: no language model is configured on this server.)".to_owned());
    parts.join(" ")
}

#[async_trait::async_trait]
impl TextProvider for LocalText {
    fn model(&self) -> &str {
        MODEL
    }

    async fn complete(&self, request: TextRequest) -> AppResult<TextReply> {
        let text = reply(&request.message, &request.facts);
        let prompt: usize = request.history.iter().map(|t| t.content.len()).sum::<usize>() + request.system.len() + request.message.len();
        Ok(TextReply {
            prompt_tokens: u32::try_from(prompt.div_ceil(4)).unwrap_or(u32::MAX),
            completion_tokens: estimate_tokens(&text),
            text,
            model: MODEL.to_owned(),
        })
    }

    /// A word at a time (with the space after it), as a model's tokens would come.
    async fn stream(&self, request: TextRequest, deltas: mpsc::Sender<String>) -> AppResult<TextReply> {
        let reply = self.complete(request).await?;
        for word in reply.text.split_inclusive(' ') {
            if deltas.send(word.to_owned()).await.is_err() {
                break;
            }
        }
        Ok(reply)
    }

    async fn ready(&self) -> Readiness {
        Readiness::Ready("offline".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> CallerFacts {
        CallerFacts {
            tier: "free".into(),
            chat_remaining: Some(2),
            chat_resets_at: chrono::DateTime::parse_from_rfc3339("2026-11-26T00:00:00Z").ok().map(|d| d.to_utc()),
            sessions: 3,
            included: vec!["ai_chat".into()],
            not_included: vec!["tactical".into()],
            upgrade_to: Some("premium".into()),
        }
    }

    #[test]
    fn answers_from_server_data() {
        let r = reply("What tier am I on and how many messages are left?", &facts());
        assert!(r.contains("free tier") && r.contains("2 chat messages left") && r.contains("2026-11-26 00:00"), "{r}");
        assert!(r.contains("no language model"), "{r}");
        assert!(reply("list my sessions", &facts()).contains("3 chat sessions"));
    }

    #[tokio::test]
    async fn streams_the_reply_a_word_at_a_time() {
        let (tx, mut rx) = mpsc::channel(1024);
        let request = TextRequest {
            system: String::new(),
            history: Vec::new(),
            message: "what tier am I on?".into(),
            temperature: 0.7,
            max_tokens: None,
            facts: facts(),
        };
        let reply = LocalText.stream(request, tx).await.expect("a reply");
        let mut pieces = Vec::new();
        while let Some(piece) = rx.recv().await {
            pieces.push(piece);
        }
        assert!(pieces.len() > 5, "{pieces:?}");
        assert_eq!(pieces.concat(), reply.text);
    }

    #[test]
    fn open_questions_get_the_offline_notice_not_an_invented_answer() {
        let r = reply("Write me a poem about the sea", &facts());
        assert_eq!(r, NO_MODEL);
        assert!(r.contains("ai.text_provider"));
    }
}
