//! A server-sent-events client for tests, reading the stream as EventSource does: frames
//! separated by a blank line, `id:`, `event:`, `data:` fields (several `data:` lines joined by
//! newlines), comment lines (`:`) counted as keep-alives.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::Value;

use crate::helpers::TestApp;

#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }
}

pub struct SseStream {
    pub status: u16,
    pub content_type: String,
    body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
    pub keepalives: usize,
    ended: bool,
}

impl SseStream {
    /// `GET path` with a bearer token (and `Last-Event-ID` when resuming).
    pub async fn open(app: &TestApp, path: &str, token: &str, last_id: Option<&str>) -> Self {
        let mut req = reqwest::Client::new().get(app.url(path)).bearer_auth(token).header("accept", "text/event-stream");
        if let Some(id) = last_id {
            req = req.header("last-event-id", id);
        }
        Self::of(req.send().await.expect("the stream request is sent"))
    }

    /// `POST path` with a bearer token and a JSON body, read as a stream.
    pub async fn post(app: &TestApp, path: &str, token: &str, body: &Value) -> Self {
        Self::of(reqwest::Client::new().post(app.url(path)).bearer_auth(token).json(body).send().await.expect("the request is sent"))
    }

    /// A response read as a stream.
    pub fn of(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        Self { status, content_type, body: resp.bytes_stream().boxed(), buffer: String::new(), keepalives: 0, ended: false }
    }

    /// The whole body of a refused request, as JSON.
    pub async fn error_body(mut self) -> Value {
        let mut text = String::new();
        while let Some(chunk) = self.body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.expect("body")));
        }
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    }

    /// The next event within `wait`: `None` when none came (or the stream ended).
    pub async fn next_within(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(event) = self.take_frame() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => self.ended = true,
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n")),
            }
        }
    }

    /// The next event, which must come within 10 s.
    pub async fn next(&mut self) -> SseEvent {
        self.next_within(Duration::from_secs(10)).await.expect("an event within 10 s")
    }

    /// The next event after tRPC's `connected` (and any `ping`).
    pub async fn next_after_connected(&mut self) -> SseEvent {
        loop {
            let event = self.next().await;
            if event.event != "connected" && event.event != "ping" {
                return event;
            }
        }
    }

    /// Whether the server ended the stream within `wait`, reading (and returning) what came.
    pub async fn ends_within(&mut self, wait: Duration) -> (bool, Vec<SseEvent>) {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < deadline {
            match self.next_within(deadline - tokio::time::Instant::now()).await {
                Some(event) => seen.push(event),
                None => return (self.ended, seen),
            }
        }
        (self.ended, seen)
    }

    /// One complete frame out of the buffer; comments count as keep-alives.
    fn take_frame(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.buffer.find("\n\n")?;
            let frame: String = self.buffer.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (None, String::from("message"), Vec::new());
            let mut fields = 0;
            for line in frame.lines().filter(|l| !l.is_empty()) {
                if line.starts_with(':') {
                    self.keepalives += 1;
                    continue;
                }
                let (name, value) = line.split_once(':').map_or((line, ""), |(n, v)| (n, v.strip_prefix(' ').unwrap_or(v)));
                fields += 1;
                match name {
                    "id" => id = Some(value.to_owned()),
                    "event" => event = value.to_owned(),
                    "data" => data.push(value.to_owned()),
                    _ => {}
                }
            }
            if fields > 0 {
                return Some(SseEvent { id, event, data: data.join("\n") });
            }
        }
    }
}
