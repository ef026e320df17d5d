//! The live events' REST skin: `GET /api/events`, a `text/event-stream` of what the caller
//! watches. Each event has an `id` (resume after it with `Last-Event-ID`), an `event` type
//! (`comm`, `incident`, `generation`, `missed`, `error`) and the JSON of [`LiveEvent`].

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use futures_util::stream::BoxStream;
use poem::web::Data;
use poem::web::sse::Event;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::EventStream;
use poem_openapi::types::ToJSON;
use poem_openapi::{Object, OpenApi};

use super::{Live, LiveItem, LiveService};
use crate::auth::BearerAuth;
use crate::error::{AppError, AppResult};
use crate::features::tactical::model::{Comm, Incident};
use crate::limits::Limiter;
use crate::rest::ApiTags;

pub struct LiveApi;

/// One event of a live stream; `type` says which of the other fields is set.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct LiveEvent {
    /// The event's id: a client that reconnects sends the last one it saw as `Last-Event-ID`
    /// and is sent every event after it. Empty on `error`.
    pub id: String,
    /// `comm`, `incident`, `generation`, `missed` or `error`.
    #[oai(rename = "type")]
    pub kind: String,
    /// A comm the caller may see, as `GET /api/tactical/comm/{userId}` lists it (sealed content
    /// opened for this caller).
    pub comm: Option<Comm>,
    /// An incident of the caller's department, as `GET /api/tactical/incidents` lists it.
    pub incident: Option<Incident>,
    /// A generation's progress: `status` is `queued`, then the provider's steps (`composing`,
    /// `rendered` with `part`, `partsDone` and `partsTotal`, `generating`, `encoding`), then
    /// `completed` (with `versionId` and the playable `version`) or `failed` (with `code` and
    /// `error`); a remix's carry `kind: "remix"`.
    pub generation: Option<serde_json::Value>,
    /// Events after `last` may be gone (older than the server keeps them): reload what the
    /// screen shows. Delivery goes on after `from`.
    pub missed: Option<MissedEvents>,
    /// Why the stream ends (no longer allowed to watch, or the server cannot read events).
    pub error: Option<StreamError>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct MissedEvents {
    pub last: String,
    pub from: String,
}

#[derive(Debug, Clone, Object)]
pub struct StreamError {
    pub code: String,
    pub message: String,
}

impl LiveEvent {
    fn of(live: Live) -> Self {
        let mut event = LiveEvent {
            id: live.id.to_string(),
            kind: live.item.kind().to_owned(),
            comm: None,
            incident: None,
            generation: None,
            missed: None,
            error: None,
        };
        match live.item {
            LiveItem::Comm(comm) => event.comm = Some(*comm),
            LiveItem::Incident(incident) => event.incident = Some(incident),
            LiveItem::Generation(progress) => event.generation = Some(progress),
            LiveItem::Missed { last, from } => event.missed = Some(MissedEvents { last: last.to_string(), from: from.to_string() }),
        }
        event
    }

    fn failed(e: &AppError) -> Self {
        let error = StreamError { code: e.code().to_owned(), message: e.public_message() };
        LiveEvent { id: String::new(), kind: "error".into(), comm: None, incident: None, generation: None, missed: None, error: Some(error) }
    }

    fn to_sse(&self) -> Event {
        let event = Event::message(self.to_json_string()).event_type(self.kind.clone());
        if self.id.is_empty() { event } else { event.id(self.id.clone()) }
    }
}

#[OpenApi(tag = "ApiTags::Live")]
impl LiveApi {
    /// Live events (server-sent events)
    ///
    /// A `text/event-stream` of what happens to what you watch, as it happens. `topics`, comma-
    /// separated: `comms` (every comm you may see, under exactly the rules of your comm list),
    /// `incidents` (your department's, as reported and as their status changes),
    /// `generation:<projectId>` (your project's generations). After a dropped connection,
    /// reconnect with the last id you saw (`Last-Event-ID`, as EventSource sends it, or
    /// `lastEventId`): every event after it comes first, in order. Older than the server keeps
    /// (`[events] retention_secs`): a `missed` event says so. An idle stream gets a comment line
    /// every `keepalive_secs`, and a stream ends after `max_stream_secs` (reconnect). At most `max_streams_per_user` streams per user and
    /// `max_streams_per_ip` per address (429 `too_many_streams`). The stream ends with an
    /// `error` event when you may no longer watch, and without one when the server shuts down
    /// (reconnect).
    #[oai(path = "/api/events", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn events(
        &self,
        live: Data<&Arc<LiveService>>,
        limiter: Data<&Arc<Limiter>>,
        req: &poem::Request,
        auth: BearerAuth,
        /// You (or, for an admin, whom to watch as).
        #[oai(name = "userId")]
        user_id: Query<String>,
        /// `comms`, `incidents`, `generation:<projectId>`, comma-separated.
        topics: Query<String>,
        /// Resume after this event id (what `Last-Event-ID` carries; the header wins).
        #[oai(name = "lastEventId")]
        last_event_id: Query<Option<String>>,
        #[oai(name = "Last-Event-ID")] last_event_header: Header<Option<String>>,
    ) -> AppResult<EventStream<BoxStream<'static, LiveEvent>>> {
        let ip = limiter.client_ip(req).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let resume = last_event_header.0.or(last_event_id.0);
        let watch = live.watch(&auth.0, &user_id.0, ip, &topics.0, resume.as_deref()).await?;
        // The stream ends after an error event (`None` state), or when the watch ends.
        let events = futures_util::stream::unfold(Some(watch), |watch| async move {
            let mut watch = watch?;
            match watch.next().await {
                Ok(Some(live)) => Some((LiveEvent::of(live), Some(watch))),
                Ok(None) => None,
                Err(e) => Some((LiveEvent::failed(&e), None)),
            }
        });
        Ok(EventStream::new(Box::pin(events) as BoxStream<'static, LiveEvent>)
            .keep_alive(live.keepalive())
            .to_event(|event| event.to_sse()))
    }
}
