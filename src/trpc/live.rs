//! tRPC subscriptions over server-sent events, as `@trpc/client`'s `httpSubscriptionLink`
//! consumes them (tRPC v11's SSE framing, superjson): `event: connected` first with the client's
//! options, then each item as a tracked event (`id:` the event id, `data:` `{"json": …,
//! "meta"?}`), `event: ping` while idle, and `event: serialized-error` with a tRPC error shape
//! when the stream cannot go on. The stream ends without `event: return` at shutdown and after
//! `max_stream_secs`, so the client reconnects with its last id and misses nothing.
//!
//! What a stream sends, and to whom, is decided by the live service, as for `GET /api/events`;
//! `r3al.aiChat.streamMessage` streams one chat reply, as the chat service writes it, and ends
//! with `event: return`.
//!
//! The token: EventSource cannot set headers, so besides `Authorization: Bearer` the link's
//! `connectionParams` (`{"token": "…"}`, sent in the query) are read. The access log records the
//! path alone, never the query, so the token is never logged.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use poem::web::headers::{self, HeaderMapExt};
use poem::web::sse::{Event, SSE};
use poem::{IntoResponse, Request, Response};
use serde_json::{Value, json};

use super::context::Context;
use super::wire::{self, TrpcError};
use crate::error::AppError;
use crate::features::chat::model::SendMessage;
use crate::features::chat::replies::{ReplyFeed, ReplyStep};
use crate::features::live::{Live, LiveItem, Watch};

/// The subscription procedures: three watch live topics, one streams a chat reply.
const SUBSCRIPTIONS: [&str; 4] = ["r3al.tactical.onComm", "r3al.tactical.onIncident", "r3al.studio.onGeneration", STREAM_MESSAGE];

const STREAM_MESSAGE: &str = "r3al.aiChat.streamMessage";

/// What a subscription streams.
enum Opened {
    Watch(Watch),
    Reply(ReplyFeed),
}

pub fn is_subscription(path: &str) -> bool {
    SUBSCRIPTIONS.contains(&path)
}

/// Answers a subscription call. Always 200 `text/event-stream`: what fails before the stream
/// starts (the token, the input, a refusal) is its first event, `serialized-error`, as tRPC's
/// own server does, since EventSource reads no error body.
pub async fn subscribe(state: &Context, req: &Request, path: &str) -> Response {
    let keepalive = state.services.live.keepalive();
    let connected = Event::message(json!({ "reconnectAfterInactivityMs": keepalive.as_millis() as u64 * 3 }).to_string()).event_type("connected");
    let first = futures_util::stream::iter([connected]);
    let rest: futures_util::stream::BoxStream<'static, Event> = match open(state, req, path).await {
        Ok(Opened::Watch(watch)) => Box::pin(items(watch, path.to_owned())),
        Ok(Opened::Reply(feed)) => Box::pin(reply_items(feed, path.to_owned())),
        Err(e) => Box::pin(futures_util::stream::iter([error_event(&e)])),
    };
    let stream = futures_util::StreamExt::chain(first, with_pings(rest, keepalive));
    let mut resp = SSE::new(stream).into_response();
    resp.headers_mut().insert("cache-control", "no-cache, no-transform".parse().expect("a header value"));
    resp
}

/// The caller, the input and the stream for `path`.
async fn open(state: &Context, req: &Request, path: &str) -> Result<Opened, TrpcError> {
    let app = |e: AppError| TrpcError::from_app(&e, path);
    let query = req.uri().query();
    let token = match req.headers().typed_get::<headers::Authorization<headers::authorization::Bearer>>() {
        Some(auth) => Some(auth.token().to_owned()),
        None => wire::query_param(query, "connectionParams").and_then(|params| connection_token(&params)),
    };
    let token = token.ok_or_else(|| TrpcError::new("UNAUTHORIZED", "a subscription needs a bearer token (Authorization, or connectionParams {token})", path))?;
    let caller = state.services.tokens.caller(&token).map_err(app)?;
    let raw = wire::query_param(query, "input");
    if let Some(raw) = &raw {
        crate::rest::body::check_json_depth(raw.as_bytes(), state.bounds.max_json_depth).map_err(app)?;
    }
    let call = wire::parse_calls(path, false, raw.as_deref())?.pop().expect("one call");
    let input = call.input.unwrap_or(Value::Null);
    let text = |field: &str| input.get(field).and_then(Value::as_str).map(str::to_owned);
    let user_id = text("userId").ok_or_else(|| app(AppError::invalid_field("userId", "is required")))?;
    // A reconnecting link puts the last id in the input; EventSource's own reconnection sends
    // the header.
    let resume = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| wire::query_param(query, "lastEventId"))
        .or_else(|| text("lastEventId"))
        .filter(|id| !id.trim().is_empty());
    let ip = state.services.limiter.client_ip(req).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if path == STREAM_MESSAGE {
        let chat = &state.services.chat;
        let feed = match resume {
            Some(last) => chat.resume(&caller, &user_id, &last, ip).await,
            None => {
                let message: SendMessage = super::shape::input(Some(input)).map_err(app)?;
                chat.stream(&caller, message, ip).await
            }
        };
        return feed.map(Opened::Reply).map_err(app);
    }
    let topics = match path {
        "r3al.tactical.onComm" => "comms".to_owned(),
        "r3al.tactical.onIncident" => "incidents".to_owned(),
        _ => format!("generation:{}", text("projectId").ok_or_else(|| app(AppError::invalid_field("projectId", "is required")))?),
    };
    state.services.live.watch(&caller, &user_id, ip, &topics, resume.as_deref()).await.map(Opened::Watch).map_err(app)
}

/// The token in the link's `connectionParams`: `{"token": …}` (or `authorization`, with or
/// without `Bearer `).
fn connection_token(params: &str) -> Option<String> {
    let params: Value = serde_json::from_str(params).ok()?;
    let token = params.get("token").or_else(|| params.get("authorization")).and_then(Value::as_str)?;
    Some(token.strip_prefix("Bearer ").unwrap_or(token).to_owned())
}

/// The stream's items as tracked events; an error ends it with `serialized-error`.
fn items(watch: Watch, path: String) -> impl futures_util::Stream<Item = Event> + Send + 'static {
    futures_util::stream::unfold(Some(watch), move |watch| {
        let path = path.clone();
        async move {
            let mut watch = watch?;
            match watch.next().await {
                Ok(Some(live)) => Some((tracked(live, &path), Some(watch))),
                Ok(None) => None,
                Err(e) => Some((error_event(&TrpcError::from_app(&e, &path)), None)),
            }
        }
    })
}

/// A streamed chat reply as tracked events: `{delta}` pieces, then `{done: true, …}` with the
/// stored reply (as `sendMessage` answers it), then `event: return`, which completes the
/// subscription; a failure is `serialized-error`.
fn reply_items(feed: ReplyFeed, path: String) -> impl futures_util::Stream<Item = Event> + Send + 'static {
    futures_util::stream::unfold(Some(feed), move |feed| {
        let path = path.clone();
        async move {
            let mut feed = feed?;
            let Some(step) = feed.next().await else {
                return Some((bare_event("return"), None));
            };
            let event = match step {
                ReplyStep::Piece { id, text } => Event::message(superjson(json!({ "delta": text })).to_string()).id(id),
                ReplyStep::Done { id, reply } => match super::shape::object(&*reply) {
                    Ok(mut done) => {
                        done.insert("done".into(), true.into());
                        done.insert("tokens".into(), reply.usage.total_tokens.into());
                        Event::message(superjson(Value::Object(done)).to_string()).id(id)
                    }
                    Err(e) => error_event(&TrpcError::from_app(&e, &path)),
                },
                ReplyStep::Failed(e) => return Some((error_event(&TrpcError::from_app(&e, &path)), None)),
            };
            Some((event, Some(feed)))
        }
    })
}

/// One item as tRPC's tracked event: its id, and the superjson of what the procedure yields (the
/// comm as `getComms` lists it, the incident, the generation's progress, or `{missed}`).
fn tracked(live: Live, path: &str) -> Event {
    let output = match live.item {
        LiveItem::Comm(comm) => super::tactical::listed_comm(&comm).map(Value::Object),
        LiveItem::Incident(incident) => serde_json::to_value(incident).map_err(AppError::internal),
        LiveItem::Generation(progress) => Ok(progress),
        LiveItem::Missed { last, from } => Ok(json!({ "missed": { "lastEventId": last.to_string(), "from": from.to_string() } })),
    };
    match output {
        Ok(output) => Event::message(superjson(output).to_string()).id(live.id.to_string()),
        Err(e) => error_event(&TrpcError::from_app(&e, path)),
    }
}

/// `{"json": value, "meta"?}`: the `data` of a result envelope.
fn superjson(output: Value) -> Value {
    wire::result_envelope(output)["result"]["data"].take()
}

/// An event that carries nothing, as tRPC's server writes it (`data: ` with an empty value). An
/// event with no `data` line at all is never dispatched by EventSource, so the client would miss
/// the end of a subscription, and its inactivity timer would not see the pings. poem writes no
/// `data` line for empty data; a single space is read back as empty (a field's value loses one
/// leading space).
fn bare_event(kind: &str) -> Event {
    Event::message(" ").event_type(kind)
}

fn error_event(e: &TrpcError) -> Event {
    Event::message(e.envelope()["error"].to_string()).event_type("serialized-error")
}

/// `event: ping` whenever the stream has been idle for `every`.
fn with_pings(
    mut stream: futures_util::stream::BoxStream<'static, Event>,
    every: Duration,
) -> impl futures_util::Stream<Item = Event> + Send + 'static {
    use futures_util::StreamExt;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    futures_util::stream::poll_fn(move |cx| {
        if let std::task::Poll::Ready(item) = stream.poll_next_unpin(cx) {
            return std::task::Poll::Ready(item);
        }
        tick.poll_tick(cx).map(|_| Some(bare_event("ping")))
    })
}
