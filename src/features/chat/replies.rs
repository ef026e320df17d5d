//! Replies being written for streaming clients. A streamed reply is written by a task of its own,
//! not by the request that asked for it, so a client whose connection drops neither loses the
//! reply nor pays for it twice: reconnecting with the last event id it saw, it is sent the rest
//! of the text from where it left off, then the end. A reply stays here until `linger` after it
//! ends; a client that resumes it on another server, or later, is sent the rest from the stored
//! reply (see `ChatService::resume`).
//!
//! Event ids are `<reply id>:<bytes of text sent>` for pieces (a new reply's first, empty piece
//! is `<reply id>:0`) and `<reply id>:end` for the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::watch;

use super::model::ChatReply;
use crate::error::{AppError, AppResult};
use crate::events::streams::StreamPermit;

/// A reply's text so far, where each piece of it ends, and how it ended once it has.
#[derive(Default)]
struct Written {
    text: String,
    /// Pieces are sent as the provider wrote them, so a client sees the reply grow as the
    /// model writes it however fast it reads.
    piece_ends: Vec<usize>,
    end: Option<Result<Arc<ChatReply>, Arc<AppError>>>,
}

struct Entry {
    user_id: String,
    written: watch::Sender<Written>,
}

/// The replies being written, and those that ended less than `linger` ago.
pub struct Replies {
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    per_user: usize,
    linger: Duration,
}

/// The writing side of one reply.
pub struct ReplyWriter {
    replies: Arc<Replies>,
    id: String,
    entry: Arc<Entry>,
}

/// What a streaming client is sent next.
pub enum ReplyStep {
    /// More of the text; `id` is the event's id.
    Piece { id: String, text: String },
    /// The reply is complete and stored.
    Done { id: String, reply: Arc<ChatReply> },
    /// The reply failed: nothing was stored or charged.
    Failed(Arc<AppError>),
}

/// One client's view of one reply, from where it left off.
pub struct ReplyFeed {
    id: String,
    written: watch::Receiver<Written>,
    /// A reply another server writes: the whole of it once it is stored.
    elsewhere: Option<BoxFuture<'static, AppResult<(String, ChatReply)>>>,
    sent: usize,
    ended: bool,
    /// The empty first piece is still to be sent (a new reply's feed).
    announce: bool,
    _permit: StreamPermit,
}

/// Where a resumed reply is.
pub enum Followed {
    Here(ReplyFeed),
    /// Not written by this server (or forgotten): the permit, for a feed from the store.
    NotHere(StreamPermit),
}

/// A resume point: the reply and how much of its text the client has.
#[derive(Clone, Copy)]
pub enum Resume<'a> {
    At { reply_id: &'a str, sent: usize },
    AfterEnd { reply_id: &'a str },
}

impl<'a> Resume<'a> {
    pub fn reply_id(&self) -> &'a str {
        match self {
            Resume::At { reply_id, .. } | Resume::AfterEnd { reply_id } => reply_id,
        }
    }

    pub fn parse(last_event_id: &'a str) -> AppResult<Self> {
        let bad = || AppError::invalid_field("lastEventId", format!("`{last_event_id}` is not an event id of a streamed reply (`<replyId>:<offset>`)"));
        let (reply_id, at) = last_event_id.rsplit_once(':').ok_or_else(bad)?;
        if uuid::Uuid::parse_str(reply_id).is_err() {
            return Err(bad());
        }
        if at == "end" {
            return Ok(Resume::AfterEnd { reply_id });
        }
        Ok(Resume::At { reply_id, sent: at.parse().map_err(|_| bad())? })
    }
}

impl Replies {
    pub fn new(per_user: usize, linger: Duration) -> Arc<Self> {
        Arc::new(Self { entries: Mutex::default(), per_user, linger })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Entry>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts reply `id` for `user_id`: 429 `too_many_replies` when that user already has
    /// `per_user` replies being written.
    pub fn start(self: &Arc<Self>, id: &str, user_id: &str) -> AppResult<ReplyWriter> {
        let mut entries = self.lock();
        let writing = entries.values().filter(|e| e.user_id == user_id && e.written.borrow().end.is_none()).count();
        if writing >= self.per_user {
            return Err(AppError::TooManyRequests {
                code: "too_many_replies",
                message: format!("this user already has {writing} replies being written; wait for one to end"),
                retry_after_secs: 5,
                details: None,
            });
        }
        let entry = Arc::new(Entry { user_id: user_id.to_owned(), written: watch::Sender::new(Written::default()) });
        entries.insert(id.to_owned(), entry.clone());
        Ok(ReplyWriter { replies: self.clone(), id: id.to_owned(), entry })
    }

    /// How long a reply written elsewhere is waited for.
    pub fn linger(&self) -> Duration {
        self.linger
    }

    /// A feed of reply `reply_id` for `user_id` from `resume`, when this server writes it (or
    /// wrote it less than `linger` ago); another user's reply is 404 `reply_not_found`.
    pub fn follow(&self, user_id: &str, resume: &Resume<'_>, permit: StreamPermit) -> AppResult<Followed> {
        let reply_id = resume.reply_id();
        let entry = match self.lock().get(reply_id).cloned() {
            None => return Ok(Followed::NotHere(permit)),
            Some(entry) if entry.user_id != user_id => return Err(not_found(reply_id)),
            Some(entry) => entry,
        };
        let written = entry.written.subscribe();
        let (sent, ended) = match *resume {
            Resume::AfterEnd { .. } => (usize::MAX, true),
            Resume::At { sent, .. } => {
                let w = written.borrow();
                if sent != 0 && w.piece_ends.binary_search(&sent).is_err() {
                    return Err(AppError::invalid_field("lastEventId", format!("reply `{reply_id}` has no piece ending at {sent}")));
                }
                (sent, false)
            }
        };
        Ok(Followed::Here(ReplyFeed { id: reply_id.to_owned(), written, elsewhere: None, sent, ended, announce: false, _permit: permit }))
    }
}

pub fn not_found(reply_id: &str) -> AppError {
    AppError::NotFound { code: "reply_not_found", message: format!("no reply `{reply_id}` of yours is being written or stored") }
}

impl ReplyWriter {
    /// A feed of this reply from its start. Its first step is an empty piece whose id names the
    /// reply (`<reply id>:0`), sent at once: a client whose connection drops before the model's
    /// first words reconnects with that id and follows this reply, rather than asking anew (and
    /// paying twice).
    pub fn feed(&self, permit: StreamPermit) -> ReplyFeed {
        let (id, written) = (self.id.clone(), self.entry.written.subscribe());
        ReplyFeed { id, written, elsewhere: None, sent: 0, ended: false, announce: true, _permit: permit }
    }

    pub fn push(&self, piece: &str) {
        self.entry.written.send_modify(|w| {
            w.text.push_str(piece);
            w.piece_ends.push(w.text.len());
        });
    }

    /// Ends the reply; it is forgotten `linger` later.
    pub fn end(self, end: Result<ChatReply, AppError>) {
        let end = end.map(Arc::new).map_err(Arc::new);
        self.entry.written.send_modify(|w| w.end = Some(end));
    }
}

impl Drop for ReplyWriter {
    fn drop(&mut self) {
        // Ended by `end`, or else the task writing it was cut short (a panic, a runtime shutting
        // down): its followers are told, rather than left waiting.
        self.entry.written.send_if_modified(|w| {
            let unended = w.end.is_none();
            if unended {
                w.end = Some(Err(Arc::new(AppError::internal("the reply stopped before it ended"))));
            }
            unended
        });
        let (replies, id) = (self.replies.clone(), self.id.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                tokio::time::sleep(replies.linger).await;
                replies.lock().remove(&id);
            });
        }
    }
}

impl ReplyFeed {
    /// A feed of a reply this server does not write, from `resume`: `stored` waits for it to be
    /// stored and answers its text and the reply; after its end there is nothing to wait for.
    pub fn elsewhere(resume: &Resume<'_>, stored: BoxFuture<'static, AppResult<(String, ChatReply)>>, permit: StreamPermit) -> Self {
        let (sent, ended) = match *resume {
            Resume::At { sent, .. } => (sent, false),
            Resume::AfterEnd { .. } => (usize::MAX, true),
        };
        let written = watch::Sender::new(Written::default()).subscribe();
        let elsewhere = if ended { None } else { Some(stored) };
        ReplyFeed { id: resume.reply_id().to_owned(), written, elsewhere, sent, ended, announce: false, _permit: permit }
    }

    /// What to send next, when there is something; `None` once the end was sent.
    pub async fn next(&mut self) -> Option<ReplyStep> {
        if std::mem::take(&mut self.announce) {
            return Some(ReplyStep::Piece { id: format!("{}:0", self.id), text: String::new() });
        }
        if let Some(stored) = self.elsewhere.take() {
            match stored.await {
                Ok((text, _)) if self.sent > text.len() || !text.is_char_boundary(self.sent) => {
                    self.ended = true;
                    let why = format!("reply `{}` has no piece ending at {}", self.id, self.sent);
                    return Some(ReplyStep::Failed(Arc::new(AppError::invalid_field("lastEventId", why))));
                }
                Ok((text, reply)) => {
                    // The stored reply, as one piece and its end.
                    let piece_ends = vec![text.len()];
                    let whole = Written { text, piece_ends, end: Some(Ok(Arc::new(reply))) };
                    self.written = watch::Sender::new(whole).subscribe();
                }
                Err(e) => {
                    self.ended = true;
                    return Some(ReplyStep::Failed(Arc::new(e)));
                }
            }
        }
        loop {
            if self.ended {
                return None;
            }
            {
                let written = self.written.borrow_and_update();
                let next = written.piece_ends.partition_point(|end| *end <= self.sent);
                if let Some(&end) = written.piece_ends.get(next) {
                    let text = written.text[self.sent..end].to_owned();
                    self.sent = end;
                    return Some(ReplyStep::Piece { id: format!("{}:{}", self.id, self.sent), text });
                }
                if let Some(end) = &written.end {
                    self.ended = true;
                    return Some(match end {
                        Ok(reply) => ReplyStep::Done { id: format!("{}:end", self.id), reply: reply.clone() },
                        Err(e) => ReplyStep::Failed(e.clone()),
                    });
                }
            }
            if self.written.changed().await.is_err() {
                // Forgotten, and everything sent: an end is always written before that.
                self.ended = true;
                return None;
            }
        }
    }
}
