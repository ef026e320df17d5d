use std::net::IpAddr;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc;

use super::completion::{Completion, CompletionStream, Conversation, OpenMessage, OpenRole};
use super::model::*;
use super::replies::{Followed, Replies, ReplyFeed, Resume, not_found};
use super::store::{ChatStore, ExchangeQuota, NewExchange, SessionRow};
use crate::ai::text::{CallerFacts, LOCAL_MODEL, Speaker, TextProvider, TextReply, TextRequest, Turn};
use crate::events::streams::StreamLimits;
use crate::features::subscription::quota::Reservation;
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
    streams: Arc<StreamLimits>,
    replies: Arc<Replies>,
    /// Longest a streamed reply may take (`limits.handler_timeout_secs`, as for a whole one).
    reply_timeout: std::time::Duration,
}

/// How often the store is asked whether a reply written elsewhere is stored yet: at first, and
/// at the most (the pause doubles in between, so a reply that never comes costs few reads).
const STORED_REPLY_POLL: std::time::Duration = std::time::Duration::from_millis(250);
const STORED_REPLY_POLL_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// Most messages a `POST /v1/chat` conversation may have.
const MAX_CONVERSATION: usize = 200;

/// A message checked, with what asking the provider and storing the exchange need.
struct Prepared {
    user_id: String,
    /// The id the exchange is stored under, and the one the caller knows it by.
    session_id: String,
    shown_session_id: String,
    new_session: bool,
    /// The caller's own id for a session it starts.
    new_client_id: Option<String>,
    context: ChatContext,
    message: String,
    text: TextRequest,
    asked_at: String,
    user_message_id: String,
    reply_id: String,
}

/// A streamed reply that went on for longer than a whole one may: nothing is charged for it.
fn reply_timed_out(limit: std::time::Duration) -> AppError {
    AppError::Unavailable {
        code: "reply_timeout",
        message: format!("the reply was not complete within {} s; nothing was charged", limit.as_secs()),
        retry_after_secs: Some(5),
    }
}

fn checked_temperature(temperature: Option<f32>) -> AppResult<f32> {
    let temperature = temperature.unwrap_or(0.7);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(AppError::invalid_field("temperature", "must be between 0 and 2"));
    }
    Ok(temperature)
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

fn turn(role: &str, content: String) -> Turn {
    Turn { speaker: if role == "assistant" { Speaker::Assistant } else { Speaker::User }, content }
}

/// The newest turns that fit the character budget, oldest first.
fn fit_history(turns: Vec<Turn>, budget: usize) -> Vec<Turn> {
    let mut used = 0;
    let mut kept: Vec<Turn> = turns
        .into_iter()
        .rev()
        .take_while(|t| {
            used += t.content.chars().count();
            used <= budget
        })
        .collect();
    kept.reverse();
    // A reply without the question it answered confuses models: start on a user turn.
    if kept.first().is_some_and(|t| t.speaker == Speaker::Assistant) {
        kept.remove(0);
    }
    kept
}

impl ChatService {
    pub fn new(
        store: Arc<dyn ChatStore>,
        subscriptions: Arc<SubscriptionService>,
        provider: Arc<dyn TextProvider>,
        config: ChatConfig,
        streams: Arc<StreamLimits>,
        reply_timeout: std::time::Duration,
    ) -> Self {
        let replies = Replies::new(config.max_replies_per_user, std::time::Duration::from_secs(config.reply_linger_secs));
        Self { store, subscriptions, provider, config, streams, replies, reply_timeout }
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

    /// Checks `request` and gathers what asking the provider needs.
    async fn prepare(&self, caller: &Caller, request: SendMessage) -> AppResult<Prepared> {
        caller.ensure_acts_for(&request.user_id)?;
        let message = self.checked_message(&request.message, "message")?;
        let temperature = checked_temperature(request.temperature)?;
        let context = request.context.unwrap_or_default();
        // The id the caller knows the session by, and the one it is stored under.
        let client_id = request.session_id.filter(|s| !s.is_empty());
        if let Some(id) = &client_id
            && (id.chars().count() > SESSION_ID_MAX || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
        {
            return Err(AppError::invalid_field("sessionId", format!("must be 1 to {SESSION_ID_MAX} letters, digits, `_`, `-`, `.` or `:`")));
        }
        let existing = match &client_id {
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
        let facts = self.caller_facts(&request.user_id, context).await?;
        let history = if new_session {
            Vec::new()
        } else {
            let recent = self.store.recent_messages(&session_id, self.config.max_history_messages).await?;
            fit_history(recent.into_iter().map(|m| turn(&m.role, m.content)).collect(), self.config.context_chars)
        };
        let text = TextRequest { system: system_prompt(context).to_owned(), history, message: message.clone(), temperature, max_tokens: None, facts };
        Ok(Prepared {
            user_id: request.user_id,
            shown_session_id: client_id.clone().unwrap_or_else(|| session_id.clone()),
            new_client_id: if new_session { client_id } else { None },
            session_id,
            new_session,
            context,
            message,
            text,
            asked_at: now_text(),
            user_message_id: uuid::Uuid::now_v7().to_string(),
            reply_id: uuid::Uuid::now_v7().to_string(),
        })
    }

    /// `text` trimmed, when it is not empty and within `chat.max_message_chars`.
    fn checked_message(&self, text: &str, field: &str) -> AppResult<String> {
        let message = text.trim().to_owned();
        if message.is_empty() {
            return Err(AppError::invalid_field(field, "must not be empty"));
        }
        let chars = message.chars().count();
        if chars > self.config.max_message_chars {
            return Err(AppError::invalid_field(field, format!("is {chars} characters; the limit is {}", self.config.max_message_chars)));
        }
        Ok(message)
    }

    /// Stores the exchange and pays for it: the hold `reservation` took, or (without one) a
    /// charge in the same operation.
    async fn keep(&self, prepared: Prepared, reply: TextReply, reservation: Option<Reservation>) -> AppResult<ChatReply> {
        let answered_at = Utc::now();
        let admission = self.subscriptions.admission(&prepared.user_id, Feature::AiChat, 1);
        let quota = match &reservation {
            Some(reservation) => ExchangeQuota::CommitHold { hold: reservation.hold(), standing: admission },
            None => ExchangeQuota::Charge(admission),
        };
        let exchange = NewExchange {
            session_id: prepared.session_id,
            new_session: prepared.new_session,
            client_id: prepared.new_client_id,
            user_id: prepared.user_id,
            context: prepared.context,
            title: prepared.message.chars().take(80).collect(),
            user_message_id: prepared.user_message_id.clone(),
            user_text: prepared.message,
            asked_at: prepared.asked_at,
            reply_id: prepared.reply_id.clone(),
            reply_text: reply.text.clone(),
            model: reply.model.clone(),
            prompt_tokens: reply.prompt_tokens,
            completion_tokens: reply.completion_tokens,
            answered_at: answered_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        // Dropped on failure, the reservation gives its hold back.
        let stored = self.store.insert_exchange(exchange, quota).await?;
        if let Some(reservation) = reservation {
            reservation.committed();
        }
        Ok(ChatReply {
            session_id: prepared.shown_session_id,
            message_id: prepared.reply_id,
            user_message_id: prepared.user_message_id,
            response: reply.text,
            model: reply.model,
            context: prepared.context,
            usage: TokenUsage {
                prompt_tokens: reply.prompt_tokens,
                completion_tokens: reply.completion_tokens,
                total_tokens: reply.prompt_tokens.saturating_add(reply.completion_tokens),
            },
            // What is left, as this charge leaves it.
            remaining_messages: stored.standing.remaining,
            timestamp: answered_at,
        })
    }

    pub async fn send(&self, caller: &Caller, request: SendMessage) -> AppResult<ChatReply> {
        let prepared = self.prepare(caller, request).await?;
        // A remote provider's calls cost money: quota is held before calling it, so concurrent
        // requests cannot overspend. The local provider's answers cost microseconds: the quota is
        // charged with the stored exchange, one transaction instead of two.
        let reservation = if self.provider.model() == LOCAL_MODEL {
            None
        } else {
            Some(self.subscriptions.quotas().reserve(&prepared.user_id, Feature::AiChat, 1).await?)
        };
        // Dropped on failure, the reservation gives its hold back.
        let reply = self.provider.complete(prepared.text.clone()).await?;
        self.keep(prepared, reply, reservation).await
    }

    /// Like [`Self::send`], with the reply sent as it is written: the feed of its pieces, then
    /// of the stored reply. The reply is written to its end and stored even if the client goes
    /// away ([`Self::resume`] picks it up again). Quota is held first, so it is charged once,
    /// with the stored reply, and not at all when the provider fails.
    pub async fn stream(self: &Arc<Self>, caller: &Caller, request: SendMessage, ip: IpAddr) -> AppResult<ReplyFeed> {
        let prepared = self.prepare(caller, request).await?;
        let permit = self.streams.admit(&prepared.user_id, ip)?;
        // Held before the reply is registered: a refusal leaves nothing behind.
        let reservation = self.subscriptions.quotas().reserve(&prepared.user_id, Feature::AiChat, 1).await?;
        let writer = self.replies.start(&prepared.reply_id, &prepared.user_id)?;
        let feed = writer.feed(permit);
        let service = self.clone();
        tokio::spawn(async move {
            let (deltas, mut pieces) = mpsc::channel::<String>(64);
            let relay = async {
                while let Some(piece) = pieces.recv().await {
                    writer.push(&piece);
                }
            };
            let asked = async {
                let (asked, ()) = tokio::join!(service.provider.stream(prepared.text.clone(), deltas), relay);
                service.keep(prepared, asked?, Some(reservation)).await
            };
            // No request bounds this task: the handler timeout does, as it bounds `send`, so
            // the hold is settled long before it could be swept as stale.
            let end = tokio::time::timeout(service.reply_timeout, asked).await.unwrap_or_else(|_| Err(reply_timed_out(service.reply_timeout)));
            writer.end(end);
        });
        Ok(feed)
    }

    /// The rest of a streamed reply after `last_event_id` (the last event a client saw), from
    /// this server, which writes it.
    pub async fn resume(&self, caller: &Caller, user_id: &str, last_event_id: &str, ip: IpAddr) -> AppResult<ReplyFeed> {
        caller.ensure_acts_for(user_id)?;
        let resume = Resume::parse(last_event_id.trim())?;
        let permit = self.streams.admit(user_id, ip)?;
        match self.replies.follow(user_id, &resume, permit)? {
            Followed::Here(feed) => Ok(feed),
            // Another server writes it (or this one forgot it): its rest is sent once stored.
            Followed::NotHere(permit) => {
                let stored = self.stored_reply(user_id.to_owned(), resume.reply_id().to_owned());
                Ok(ReplyFeed::elsewhere(&resume, Box::pin(stored), permit))
            }
        }
    }

    /// Reply `reply_id` of `user_id` as stored: its text and what `stream` ends with. Waits up to
    /// `chat.reply_linger_secs` for it to be stored; 404 `reply_not_found` after that.
    fn stored_reply(&self, user_id: String, reply_id: String) -> impl Future<Output = AppResult<(String, ChatReply)>> + Send + 'static {
        let (store, subscriptions) = (self.store.clone(), self.subscriptions.clone());
        let deadline = tokio::time::Instant::now() + self.replies.linger();
        async move {
            let mut pause = STORED_REPLY_POLL;
            let stored = loop {
                if let Some(stored) = store.stored_reply(&user_id, &reply_id).await? {
                    break stored;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(not_found(&reply_id));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(STORED_REPLY_POLL_MAX);
            };
            let standing = store.caller_snapshot(subscriptions.admission(&user_id, Feature::AiChat, 0)).await?.standing;
            let (prompt_tokens, completion_tokens) = (stored.prompt_tokens, stored.completion_tokens);
            let message = stored.reply;
            let reply = ChatReply {
                session_id: stored.shown_session_id,
                message_id: message.message_id,
                user_message_id: stored.user_message_id,
                response: message.content.clone(),
                model: message.model.unwrap_or_default(),
                context: message.context,
                usage: TokenUsage { prompt_tokens, completion_tokens, total_tokens: prompt_tokens.saturating_add(completion_tokens) },
                remaining_messages: standing.remaining,
                timestamp: chrono::DateTime::parse_from_rfc3339(&message.timestamp).map_or_else(|_| Utc::now(), |t| t.to_utc()),
            };
            Ok((message.content, reply))
        }
    }

    /// An OpenAI-style completion of `messages` for the caller (`POST /v1/chat`): stored nowhere,
    /// charged as one `ai_chat` message when the reply is complete. Streamed, a client that goes
    /// away before its first piece stops the reply, uncharged; one that had pieces of it is
    /// charged once the reply is complete, as if it had stayed.
    pub async fn complete(&self, caller: &Caller, request: Conversation, ip: IpAddr) -> AppResult<Completion> {
        let permit = if request.stream { Some(self.streams.admit(&caller.user_id, ip)?) } else { None };
        let text = self.conversation(caller, request.messages, request.temperature, request.max_tokens).await?;
        let reservation = self.subscriptions.quotas().reserve(&caller.user_id, Feature::AiChat, 1).await?;
        let admission = self.subscriptions.admission(&caller.user_id, Feature::AiChat, 1);
        if !request.stream {
            let reply = self.provider.complete(text).await?;
            reservation.commit(admission).await?;
            return Ok(Completion::Whole(reply));
        }
        let (deltas, pieces) = mpsc::channel::<String>(64);
        let provider = self.provider.clone();
        let timeout = self.reply_timeout;
        let asked = tokio::spawn(async move {
            let written = tokio::time::timeout(timeout, provider.stream(text, deltas)).await;
            let reply = written.map_err(|_| reply_timed_out(timeout))??;
            reservation.commit(admission).await?;
            Ok(reply)
        });
        Ok(Completion::Streaming(CompletionStream::new(pieces, asked, permit).started().await?))
    }

    /// The provider's request for an OpenAI-style list of messages: `system` messages make the
    /// system prompt (the general one when there are none), the last message is the question
    /// (it must be the user's), and as many earlier turns as `chat.context_chars` allows.
    async fn conversation(&self, caller: &Caller, messages: Vec<OpenMessage>, temperature: Option<f32>, max_tokens: Option<u32>) -> AppResult<TextRequest> {
        let temperature = checked_temperature(temperature)?;
        if max_tokens == Some(0) {
            return Err(AppError::invalid_field("max_tokens", "must be at least 1"));
        }
        if messages.len() > MAX_CONVERSATION {
            return Err(AppError::invalid_field("messages", format!("has {} messages; the limit is {MAX_CONVERSATION}", messages.len())));
        }
        let mut system = Vec::new();
        let mut turns = Vec::new();
        for m in messages {
            match m.role {
                OpenRole::System => system.push(m.content),
                OpenRole::User => turns.push(turn("user", m.content)),
                OpenRole::Assistant => turns.push(turn("assistant", m.content)),
            }
        }
        let question = match turns.pop() {
            Some(last) if last.speaker == Speaker::User => self.checked_message(&last.content, "messages")?,
            _ => return Err(AppError::invalid_field("messages", "must end with a `user` message")),
        };
        let system = if system.is_empty() { system_prompt(ChatContext::General).to_owned() } else { system.join("\n\n") };
        if system.chars().count() > self.config.context_chars {
            return Err(AppError::invalid_field("messages", format!("system messages are longer than {} characters", self.config.context_chars)));
        }
        let history = fit_history(turns, self.config.context_chars);
        let facts = self.caller_facts(&caller.user_id, ChatContext::General).await?;
        Ok(TextRequest { system, history, message: question, temperature, max_tokens, facts })
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

    fn msg(role: &str, content: &str) -> Turn {
        turn(role, content.into())
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
