use std::sync::Arc;

use chrono::Utc;

use super::model::*;
use super::store::{ChatStore, ExchangeQuota, NewExchange, SessionRow};
use crate::ai::text::{CallerFacts, LOCAL_MODEL, Speaker, TextProvider, TextRequest, Turn};
use crate::auth::Caller;
use crate::clock::now_text;
use crate::config::ChatConfig;
use crate::error::{AppError, AppResult};
use crate::features::page::Page;
use crate::features::subscription::SubscriptionService;
use crate::features::subscription::plan::{Feature, Tier};

pub struct ChatService {
    store: Arc<dyn ChatStore>,
    subscriptions: Arc<SubscriptionService>,
    provider: Arc<dyn TextProvider>,
    config: ChatConfig,
}

fn system_prompt(context: ChatContext) -> &'static str {
    match context {
        ChatContext::General => "You are Optima, the assistant of the R3AL app. Answer helpfully, clearly and briefly.",
        ChatContext::Writing => "You are Optima, a writing companion for members of the R3AL Writers Guild. Help with craft: \
             structure, voice, pacing, dialogue and revision. Offer concrete suggestions, and keep the writer's own voice.",
        ChatContext::Tactical => "You are Optima, an assistant for verified first responders in R3AL Tactical HQ. Be precise, \
             calm and brief; prefer checklists; say plainly when something needs confirmation from command.",
    }
}

/// The newest turns that fit the character budget, oldest first.
fn fit_history(messages: Vec<ChatMessage>, budget: usize) -> Vec<Turn> {
    let mut used = 0;
    let mut kept: Vec<Turn> = messages
        .into_iter()
        .rev()
        .take_while(|m| {
            used += m.content.chars().count();
            used <= budget
        })
        .map(|m| Turn { speaker: if m.role == "assistant" { Speaker::Assistant } else { Speaker::User }, content: m.content })
        .collect();
    kept.reverse();
    // A reply without the question it answered confuses models: start on a user turn.
    if kept.first().is_some_and(|t| t.speaker == Speaker::Assistant) {
        kept.remove(0);
    }
    kept
}

impl ChatService {
    pub fn new(store: Arc<dyn ChatStore>, subscriptions: Arc<SubscriptionService>, provider: Arc<dyn TextProvider>, config: ChatConfig) -> Self {
        Self { store, subscriptions, provider, config }
    }

    /// The session `session_id` names for `user_id` (its own id, or the id that user's client
    /// gave it), if the caller may use it. Another user's session is not found.
    async fn owned_session(&self, caller: &Caller, user_id: &str, session_id: &str) -> AppResult<SessionRow> {
        match self.store.session(user_id, session_id).await? {
            Some(s) if s.user_id == user_id && (caller.user_id == s.user_id || caller.is_privileged()) => Ok(s),
            _ => Err(AppError::NotFound { code: "session_not_found", message: format!("no chat session `{session_id}` for user `{user_id}`") }),
        }
    }

    /// What the provider may tell the caller about their account, in one read; refused when the
    /// context needs a feature their tier lacks. `chat_remaining` counts what is left after this
    /// message.
    async fn caller_facts(&self, user_id: &str, context: ChatContext) -> AppResult<CallerFacts> {
        let snapshot = self.store.caller_snapshot(self.subscriptions.admission(user_id, Feature::AiChat, 0)).await?;
        let (tier, sessions, standing) = (snapshot.tier, snapshot.sessions, snapshot.standing);
        if context == ChatContext::Tactical {
            self.subscriptions.ensure_includes(tier, Feature::Tactical)?;
        }
        let plan = self.subscriptions.plans().get(tier);
        let (included, not_included): (Vec<Feature>, Vec<Feature>) = Feature::ALL.into_iter().partition(|f| plan.includes(*f));
        Ok(CallerFacts {
            tier: tier.as_str().to_owned(),
            chat_remaining: standing.remaining.map(|r| r.saturating_sub(1)),
            chat_resets_at: Some(standing.reset_at),
            sessions,
            included: included.iter().map(|f| f.as_str().to_owned()).collect(),
            not_included: not_included.iter().map(|f| f.as_str().to_owned()).collect(),
            upgrade_to: Tier::ALL.into_iter().find(|t| *t > tier).map(|t| t.as_str().to_owned()),
        })
    }

    pub async fn send(&self, caller: &Caller, request: SendMessage) -> AppResult<ChatReply> {
        caller.ensure_acts_for(&request.user_id)?;
        let message = request.message.trim().to_owned();
        if message.is_empty() {
            return Err(AppError::invalid_field("message", "must not be empty"));
        }
        let chars = message.chars().count();
        if chars > self.config.max_message_chars {
            return Err(AppError::invalid_field("message", format!("is {chars} characters; the limit is {}", self.config.max_message_chars)));
        }
        let temperature = request.temperature.unwrap_or(0.7);
        if !(0.0..=2.0).contains(&temperature) {
            return Err(AppError::invalid_field("temperature", "must be between 0 and 2"));
        }
        let context = request.context.unwrap_or_default();
        // The id the caller knows the session by, and the one it is stored under.
        let client_id = request.session_id.as_deref().filter(|s| !s.is_empty());
        if let Some(id) = client_id
            && (id.chars().count() > SESSION_ID_MAX || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
        {
            return Err(AppError::invalid_field("sessionId", format!("must be 1 to {SESSION_ID_MAX} letters, digits, `_`, `-`, `.` or `:`")));
        }
        let existing = match client_id {
            Some(id) => self.store.session(&request.user_id, id).await?,
            None => None,
        };
        let (session_id, new_session) = match existing {
            Some(s) if s.user_id == request.user_id => (s.session_id, false),
            Some(_) => {
                let id = client_id.unwrap_or_default();
                return Err(AppError::NotFound { code: "session_not_found", message: format!("no chat session `{id}` for user `{}`", request.user_id) });
            }
            None => (uuid::Uuid::now_v7().to_string(), true),
        };
        let new_client_id = if new_session { client_id.map(str::to_owned) } else { None };
        let facts = self.caller_facts(&request.user_id, context).await?;
        // A remote provider's calls cost money: quota is held before calling it, so concurrent
        // requests cannot overspend. The local provider's answers cost microseconds: the quota is
        // charged with the stored exchange, one transaction instead of two.
        let reservation = if self.provider.model() == LOCAL_MODEL {
            None
        } else {
            Some(self.subscriptions.quotas().reserve(&request.user_id, Feature::AiChat, 1).await?)
        };
        let history = if new_session {
            Vec::new()
        } else {
            fit_history(self.store.recent_messages(&session_id, self.config.max_history_messages).await?, self.config.context_chars)
        };
        let asked_at = now_text();
        let user_message_id = uuid::Uuid::now_v7().to_string();
        let request_text =
            TextRequest { system: system_prompt(context).to_owned(), history, message: message.clone(), temperature, max_tokens: None, facts };
        let reply = match self.provider.complete(request_text).await {
            Ok(reply) => reply,
            Err(e) => {
                if let Some(reservation) = reservation {
                    reservation.release().await;
                }
                return Err(e);
            }
        };

        let reply_id = uuid::Uuid::now_v7().to_string();
        let answered_at = Utc::now();
        let admission = self.subscriptions.admission(&request.user_id, Feature::AiChat, 1);
        let quota = match &reservation {
            Some(reservation) => ExchangeQuota::CommitHold { hold: reservation.hold(), standing: admission },
            None => ExchangeQuota::Charge(admission),
        };
        let exchange = NewExchange {
            session_id: session_id.clone(),
            new_session,
            client_id: new_client_id,
            user_id: request.user_id.clone(),
            context,
            title: message.chars().take(80).collect(),
            user_message_id: user_message_id.clone(),
            user_text: message,
            asked_at,
            reply_id: reply_id.clone(),
            reply_text: reply.text.clone(),
            model: reply.model.clone(),
            prompt_tokens: reply.prompt_tokens,
            completion_tokens: reply.completion_tokens,
            answered_at: answered_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let stored = self.store.insert_exchange(exchange, quota).await;
        let remaining = match stored {
            Ok(stored) => {
                if let Some(reservation) = reservation {
                    reservation.committed();
                }
                // What is left, as this charge leaves it.
                stored.standing.remaining
            }
            Err(e) => {
                if let Some(reservation) = reservation {
                    reservation.release().await;
                }
                return Err(e);
            }
        };
        Ok(ChatReply {
            session_id: client_id.map_or(session_id, str::to_owned),
            message_id: reply_id,
            user_message_id,
            response: reply.text,
            model: reply.model,
            context,
            usage: TokenUsage {
                prompt_tokens: reply.prompt_tokens,
                completion_tokens: reply.completion_tokens,
                total_tokens: reply.prompt_tokens.saturating_add(reply.completion_tokens),
            },
            remaining_messages: remaining,
            timestamp: answered_at,
        })
    }

    /// A session of the caller's, by either of its ids; an admin or service may name another
    /// user's session by its own id.
    pub async fn history(&self, caller: &Caller, session_id: &str, limit: u32, offset: u32) -> AppResult<ChatHistory> {
        let owner = self.owner_of(caller, session_id).await?;
        let session = self.owned_session(caller, &owner, session_id).await?;
        self.page(&session.session_id, session_id, limit, offset).await
    }

    /// A session's messages when it belongs to `user_id` (the app names both).
    pub async fn history_of(&self, caller: &Caller, user_id: &str, session_id: &str, limit: u32, offset: u32) -> AppResult<ChatHistory> {
        caller.ensure_acts_for(user_id)?;
        let session = self.owned_session(caller, user_id, session_id).await?;
        self.page(&session.session_id, session_id, limit, offset).await
    }

    /// Whose session `session_id` is meant to be: the caller's, or for an admin or service
    /// naming a session by its own id, its owner's.
    async fn owner_of(&self, caller: &Caller, session_id: &str) -> AppResult<String> {
        if !caller.is_privileged() {
            return Ok(caller.user_id.clone());
        }
        Ok(self.store.session(&caller.user_id, session_id).await?.map_or(caller.user_id.clone(), |s| s.user_id))
    }

    /// A page of the stored session `stored_id`, answered under the id the caller used.
    async fn page(&self, stored_id: &str, shown_id: &str, limit: u32, offset: u32) -> AppResult<ChatHistory> {
        let page = Page::new(limit, offset)?;
        let (messages, total) = self.store.messages_page(stored_id, page).await?;
        Ok(ChatHistory {
            session_id: shown_id.to_owned(),
            has_more: page.has_more(messages.len(), total),
            messages,
            total,
        })
    }

    pub async fn sessions(&self, caller: &Caller, user_id: &str, limit: u32, offset: u32) -> AppResult<ChatSessions> {
        caller.ensure_acts_for(user_id)?;
        let page = Page::new(limit, offset)?;
        let (sessions, total) = self.store.sessions_page(user_id, page).await?;
        Ok(ChatSessions {
            user_id: user_id.to_owned(),
            has_more: page.has_more(sessions.len(), total),
            sessions,
            total,
        })
    }

    pub async fn delete(&self, caller: &Caller, session_id: &str) -> AppResult<SessionDeleted> {
        let owner = self.owner_of(caller, session_id).await?;
        let id = self.owned_session(caller, &owner, session_id).await?.session_id;
        self.store.delete_session(&id).await?;
        Ok(SessionDeleted { deleted: true, session_id: session_id.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: &str, content: &str) -> ChatMessage {
        ChatMessage { message_id: String::new(), role: role.into(), content: content.into(), context: ChatContext::General, model: None, timestamp: String::new() }
    }

    #[test]
    fn history_keeps_the_newest_turns_that_fit() {
        let messages = vec![msg("user", "aaaaaaaaaa"), msg("assistant", "bbbbb"), msg("user", "ccccc")];
        let all = fit_history(messages.clone(), 100);
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].speaker, Speaker::Assistant);
        let kept = fit_history(messages.clone(), 10);
        assert_eq!(kept.iter().map(|t| t.content.as_str()).collect::<Vec<_>>(), ["ccccc"], "never starts on a reply");
        assert_eq!(fit_history(messages, 4).len(), 0);
    }
}
