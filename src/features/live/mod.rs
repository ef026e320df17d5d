//! Live streams of events for one caller: what each skin (`GET /api/events`, the tRPC
//! subscriptions) sends, decided once, here. A stream is opened for topics the caller may
//! watch (checked and bounded when it opens), reads the event log through this server's
//! [`EventBus`], and turns each event into what the caller's own read of that object returns
//! now, through the service that owns it; events the caller may not see are skipped.

pub mod api;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::Caller;
use crate::config::EventsConfig;
use crate::error::{AppError, AppResult};
use crate::events::bus::{Delivery, EventBus, Subscription};
use crate::events::{self, TACTICAL};
use crate::features::music::MusicService;
use crate::features::tactical::TacticalService;
use crate::features::tactical::model::{Comm, Incident};
use crate::events::streams::{StreamLimits, StreamPermit};

/// Events sent on live streams, counted in `/metrics` by `kind`.
pub const EVENTS_SENT: &str = "optima_events_sent_total";

/// What a stream watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// Every comm the caller may see, as it is sent.
    Comms,
    /// Incidents of the caller's department, as they are reported and change status.
    Incidents,
    /// A music project's generations (its owner only).
    Generation { project_id: String },
}

impl Topic {
    /// `comms`, `incidents` or `generation:<projectId>`.
    pub fn parse(word: &str) -> AppResult<Self> {
        match word.trim() {
            "comms" => Ok(Topic::Comms),
            "incidents" => Ok(Topic::Incidents),
            other => match other.strip_prefix("generation:") {
                Some(id) if !id.trim().is_empty() => Ok(Topic::Generation { project_id: id.trim().to_owned() }),
                _ => Err(AppError::invalid_field(
                    "topics",
                    format!("unknown topic `{other}`: use comms, incidents or generation:<projectId>"),
                )),
            },
        }
    }

    fn log_topic(&self) -> String {
        match self {
            Topic::Comms | Topic::Incidents => TACTICAL.to_owned(),
            Topic::Generation { project_id } => events::music_topic(project_id),
        }
    }
}

/// One thing sent on a stream.
#[derive(Debug, Clone)]
pub enum LiveItem {
    Comm(Box<Comm>),
    Incident(Incident),
    /// A generation's progress, as the music service published it.
    Generation(serde_json::Value),
    /// Events after `last` may be gone (older than the log keeps); the stream goes on after
    /// `from`.
    Missed { last: u64, from: u64 },
}

impl LiveItem {
    pub fn kind(&self) -> &'static str {
        match self {
            LiveItem::Comm(_) => "comm",
            LiveItem::Incident(_) => "incident",
            LiveItem::Generation(_) => "generation",
            LiveItem::Missed { .. } => "missed",
        }
    }
}

/// An item with its event id (the id to resume after).
#[derive(Debug, Clone)]
pub struct Live {
    pub id: u64,
    pub item: LiveItem,
}

pub struct LiveService {
    bus: Arc<EventBus>,
    tactical: Arc<TacticalService>,
    music: Arc<MusicService>,
    limits: Arc<StreamLimits>,
    keepalive: Duration,
    max_stream: Duration,
}

/// An open stream for one caller.
pub struct Watch {
    caller: Caller,
    topics: Vec<Topic>,
    subscription: Subscription,
    tactical: Arc<TacticalService>,
    music: Arc<MusicService>,
    ends_at: tokio::time::Instant,
    _permit: StreamPermit,
}

impl LiveService {
    pub fn new(bus: Arc<EventBus>, tactical: Arc<TacticalService>, music: Arc<MusicService>, limits: Arc<StreamLimits>, config: &EventsConfig) -> Self {
        let (keepalive, max_stream) = (Duration::from_secs(config.keepalive_secs), Duration::from_secs(config.max_stream_secs));
        Self { bus, tactical, music, limits, keepalive, max_stream }
    }

    /// How often an idle stream gets a comment line.
    pub fn keepalive(&self) -> Duration {
        self.keepalive
    }

    /// Opens a stream of `topics` (comma-separated, see [`Topic::parse`]) for `caller` (acting
    /// as `user_id`) from `ip`. With `resume` (the last event id the client saw, as text) every
    /// event after it comes first.
    pub async fn watch(&self, caller: &Caller, user_id: &str, ip: IpAddr, topics: &str, resume: Option<&str>) -> AppResult<Watch> {
        caller.ensure_acts_for(user_id)?;
        let topics = topics.split(',').filter(|t| !t.trim().is_empty()).map(Topic::parse).collect::<AppResult<Vec<_>>>()?;
        if topics.is_empty() {
            return Err(AppError::invalid_field("topics", "name at least one: comms, incidents, generation:<projectId>"));
        }
        let resume = resume
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| r.parse::<u64>().map_err(|_| AppError::invalid_field("lastEventId", format!("`{r}` is not an event id"))))
            .transpose()?;
        let permit = self.limits.admit(&caller.user_id, ip)?;
        for topic in &topics {
            match topic {
                Topic::Comms => self.tactical.open_watch(caller, user_id, "comms").await?,
                Topic::Incidents => self.tactical.open_watch(caller, user_id, "incidents").await?,
                Topic::Generation { project_id } => {
                    let project = self.music.owned(caller, project_id).await?;
                    if project.user_id != user_id {
                        return Err(AppError::NotFound { code: "project_not_found", message: format!("no project `{project_id}`") });
                    }
                }
            }
        }
        let mut log_topics: Vec<String> = topics.iter().map(Topic::log_topic).collect();
        log_topics.sort();
        log_topics.dedup();
        let subscription = self.bus.subscribe(log_topics, resume).await?;
        let ends_at = tokio::time::Instant::now() + self.max_stream;
        let (tactical, music) = (self.tactical.clone(), self.music.clone());
        Ok(Watch { caller: caller.clone(), topics, subscription, tactical, music, ends_at, _permit: permit })
    }
}

impl Watch {
    /// The next item for this caller, waiting for it; `None` once the server shuts down or the
    /// stream has lasted `max_stream_secs` (the client reconnects, elsewhere perhaps, with its
    /// last id). An error ends the stream: the caller may no longer watch (suspended,
    /// downgraded) or the log cannot be read.
    pub async fn next(&mut self) -> AppResult<Option<Live>> {
        loop {
            let Ok(delivery) = tokio::time::timeout_at(self.ends_at, self.subscription.next()).await else { return Ok(None) };
            let event = match delivery? {
                Delivery::Closing => return Ok(None),
                Delivery::Missed { last, from } => return Ok(Some(Live { id: from, item: LiveItem::Missed { last, from } })),
                Delivery::Event(event) => event,
            };
            let item = match event.kind.as_str() {
                "comm" if self.topics.contains(&Topic::Comms) => {
                    self.tactical.live_comm(&self.caller, &event.subject_id).await?.map(|c| LiveItem::Comm(Box::new(c)))
                }
                "incident" if self.topics.contains(&Topic::Incidents) => {
                    self.tactical.live_incident(&self.caller, &event.subject_id).await?.map(LiveItem::Incident)
                }
                "generation" => match event.payload.clone() {
                    Some(step) => Some(LiveItem::Generation(self.generation_step(&event.subject_id, step).await?)),
                    None => None,
                },
                _ => None,
            };
            if let Some(item) = item {
                metrics::counter!(EVENTS_SENT, "kind" => item.kind()).increment(1);
                return Ok(Some(Live { id: event.seq, item }));
            }
        }
    }

    /// A generation's step as sent: a completed one with its version (playable URLs made now,
    /// for this caller, through the owner's own read).
    async fn generation_step(&self, project_id: &str, mut step: serde_json::Value) -> AppResult<serde_json::Value> {
        step["projectId"] = project_id.into();
        if let Some(version_id) = step.get("versionId").and_then(|v| v.as_str()).map(str::to_owned) {
            let versions = self.music.versions(&self.caller, project_id).await?;
            if let Some(version) = versions.versions.into_iter().find(|v| v.version_id == version_id) {
                step["version"] = serde_json::to_value(version).map_err(AppError::internal)?;
            }
        }
        Ok(step)
    }

    /// The id of the last event this stream has read (sent or skipped).
    pub fn last_id(&self) -> u64 {
        self.subscription.last_id()
    }
}
