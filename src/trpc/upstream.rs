//! Forwarding to the app's own backend (`[trpc] upstream_url`): a procedure this server does
//! not serve goes there with the caller's method, query, body and end-to-end headers, and its
//! answer comes back as the upstream gave it. A batch sends its forwarded calls as one batch,
//! re-indexed, and gets their answers back in order. Trouble on the way is a tRPC error:
//! GATEWAY_TIMEOUT when the upstream is too slow, BAD_GATEWAY when it cannot be reached or its
//! answer is not a tRPC answer (a redirect, not JSON, larger than the bound). Never a 500.
//!
//! This is transport only: whether a caller may do something is the upstream's rule for its
//! procedures, as it is ours for our own.

use std::net::IpAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use poem::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use poem::{Request, Response};
use serde_json::{Map, Value};

use super::wire::{self, Answer, RawCall, Relayed, TrpcError};
use crate::config::TrpcConfig;
use crate::telemetry::metrics::TRPC_FORWARDED;
use crate::limits::{ProxyNet, RouteClass};

/// The rate budget a forwarded call draws from, per call as for our own. The upstream's
/// procedures are the app's everyday screens (feed, messages, events), not generation work.
pub const CLASS: RouteClass = RouteClass::General;

/// How this server names itself in `Via`. A request that already passed an Optima is not
/// forwarded again, so an `upstream_url` that leads back here cannot loop.
const VIA_NAME: &str = "optima";

/// Headers that belong to one connection (RFC 9110 §7.6.1), never forwarded.
const HOP_BY_HOP: [&str; 9] =
    ["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"];

/// Headers that describe the request's way here: believed (and extended) only from a trusted
/// proxy, like `X-Forwarded-For` for rate limits; anyone else's are replaced by what we saw.
const FORWARDING: [&str; 6] = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-real-ip", "forwarded"];

/// A procedure path inside a URL path: a name's dots stay, anything unusual is escaped.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

pub struct Upstream {
    client: reqwest::Client,
    /// `upstream_url` without a trailing slash.
    base: String,
    timeout_secs: u64,
    max_response: u64,
}

/// What came back: status, the headers we relay, and the body read within its bound.
struct Answered {
    status: StatusCode,
    content_type: Option<HeaderValue>,
    retry_after: Option<HeaderValue>,
    body: Bytes,
}

/// Why a forwarded call has no tRPC answer. Details are logged, not sent.
#[derive(Debug)]
enum Failure {
    Timeout,
    Unreachable(String),
    /// What the caller is told (short, nothing of the upstream's body), and the details.
    Invalid(&'static str, String),
}

impl Failure {
    fn outcome(&self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Unreachable(_) => "unreachable",
            Failure::Invalid(..) => "invalid",
        }
    }

    fn error(&self, timeout_secs: u64, path: &str) -> TrpcError {
        match self {
            Failure::Timeout => {
                TrpcError::new("GATEWAY_TIMEOUT", format!("the upstream did not answer within {timeout_secs} s"), path)
                    .with_app_code("upstream_timeout")
            }
            Failure::Unreachable(_) => {
                TrpcError::new("BAD_GATEWAY", "the upstream could not be reached", path).with_app_code("upstream_unreachable")
            }
            Failure::Invalid(why, _) => {
                TrpcError::new("BAD_GATEWAY", format!("the upstream's answer is not a tRPC answer: {why}"), path)
                    .with_app_code("upstream_invalid")
            }
        }
    }

    fn from_reqwest(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            return Failure::Timeout;
        }
        // reqwest's own message names only the URL; the causes say what went wrong.
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            detail.push_str(": ");
            detail.push_str(&cause.to_string());
            source = cause.source();
        }
        Failure::Unreachable(detail)
    }
}

fn count(outcome: &'static str, calls: usize) {
    metrics::counter!(TRPC_FORWARDED, "outcome" => outcome).increment(calls as u64);
}

impl Upstream {
    /// The forwarder `config` asks for, or `None` when `upstream_url` is empty.
    pub fn from_config(config: &TrpcConfig) -> Option<Self> {
        if config.upstream_url.is_empty() {
            return None;
        }
        let timeout = Duration::from_secs(config.upstream_timeout_secs);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with rustls builds");
        Some(Self {
            client,
            base: config.upstream_url.trim_end_matches('/').to_owned(),
            timeout_secs: config.upstream_timeout_secs,
            max_response: config.upstream_max_response_bytes,
        })
    }

    /// Whether `req` was forwarded here by an Optima (its `Via` names one): such a request is
    /// answered from our own procedures only.
    pub fn already_forwarded(req: &Request) -> bool {
        req.headers().get_all(header::VIA).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|hop| {
            // `1.1 name` or `HTTP/1.1 name`, maybe followed by a comment.
            hop.split_whitespace().nth(1).is_some_and(|name| name.eq_ignore_ascii_case(VIA_NAME))
        })
    }

    /// One call, not batched: sent as it came (method, query, body, headers) and its answer
    /// relayed as the upstream gave it (status, content type, body; a `stack` in an error is
    /// dropped). `body` was read within `limits.max_json_bytes`.
    pub async fn relay(&self, req: &Request, trusted: &[ProxyNet], path: &str, body: Bytes) -> Response {
        let mut url = format!("{}/api/trpc/{}", self.base, utf8_percent_encode(path, PATH_SEGMENT));
        if let Some(query) = req.uri().query() {
            url.push('?');
            url.push_str(query);
        }
        let mut request = self.client.request(req.method().clone(), url).headers(forward_headers(req, trusted, false));
        if !body.is_empty() {
            request = request.body(body);
        }
        let answered = match self.exchange(request).await {
            Ok(answered) => answered,
            Err(failure) => return self.failed(&failure, &[path]).map(|e| wire::error_response(&e)).next().expect("one call"),
        };
        let relayed = serde_json::from_slice::<Value>(&answered.body)
            .ok()
            .and_then(|v| Relayed::from_envelope(v, error_status(answered.status)));
        let Some(relayed) = relayed else {
            let failure = Failure::Invalid("not a tRPC envelope", describe(&answered));
            return self.failed(&failure, &[path]).map(|e| wire::error_response(&e)).next().expect("one call");
        };
        self.relayed(path, relayed.status);
        // The bytes as they came, unless a stack trace had to go.
        let body = if answered.body.windows(7).any(|w| w == b"\"stack\"") {
            Bytes::from(serde_json::to_vec(&relayed.envelope).unwrap_or_default())
        } else {
            answered.body
        };
        let mut resp = Response::builder()
            .status(answered.status)
            .header(header::CONTENT_TYPE, answered.content_type.unwrap_or_else(|| HeaderValue::from_static("application/json")));
        if let Some(retry_after) = answered.retry_after {
            resp = resp.header(header::RETRY_AFTER, retry_after);
        }
        resp.body(body)
    }

    /// The calls of a batch this server does not serve, as one batch with their inputs
    /// re-indexed; their answers in the same order. `input_sent` says whether the request
    /// carried an input at all (`?input=` or a body), so the forwarded one does too.
    pub async fn batch(&self, req: &Request, trusted: &[ProxyNet], calls: &[RawCall], input_sent: bool) -> Vec<Answer> {
        let paths: Vec<String> = calls.iter().map(|c| utf8_percent_encode(&c.path, PATH_SEGMENT).to_string()).collect();
        let inputs: Map<String, Value> =
            calls.iter().enumerate().filter_map(|(i, c)| c.input.clone().map(|input| (i.to_string(), input))).collect();
        let inputs = Value::Object(inputs).to_string();
        // The query as sent, but for the input, which is rebuilt for the calls sent on.
        let mut query: Vec<String> = req
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("input"))
            .map(str::to_owned)
            .collect();
        let is_get = req.method() == Method::GET;
        if input_sent && is_get {
            query.push(format!("input={}", utf8_percent_encode(&inputs, NON_ALPHANUMERIC)));
        }
        let url = format!("{}/api/trpc/{}?{}", self.base, paths.join(","), query.join("&"));
        let mut request = self.client.request(req.method().clone(), url).headers(forward_headers(req, trusted, true));
        if input_sent && !is_get {
            request = request.body(inputs);
        }
        let names: Vec<&str> = calls.iter().map(|c| c.path.as_str()).collect();
        let answered = match self.exchange(request).await {
            Ok(answered) => answered,
            Err(failure) => return self.failed(&failure, &names).map(|e| Answer::Own(Err(e))).collect(),
        };
        let Some(relayed) = batch_answers(&answered, calls.len()) else {
            let failure = Failure::Invalid("not one tRPC envelope per call", describe(&answered));
            return self.failed(&failure, &names).map(|e| Answer::Own(Err(e))).collect();
        };
        relayed
            .into_iter()
            .zip(names)
            .map(|(r, path)| {
                self.relayed(path, r.status);
                Answer::Relayed(r)
            })
            .collect()
    }

    /// Counts a relayed answer; an upstream that failed on its own side is logged too.
    fn relayed(&self, path: &str, status: u16) {
        count(if status == 200 { "ok" } else { "error" }, 1);
        if status >= 500 {
            tracing::warn!(upstream = %self.base, path, status, "the upstream answered a forwarded tRPC call with a server error");
        }
    }

    /// Logs and counts a failed exchange; the error each call gets.
    fn failed<'a>(&'a self, failure: &'a Failure, paths: &'a [&'a str]) -> impl Iterator<Item = TrpcError> + 'a {
        let detail = match failure {
            Failure::Timeout => format!("no answer within {} s", self.timeout_secs),
            Failure::Unreachable(detail) | Failure::Invalid(_, detail) => detail.clone(),
        };
        tracing::warn!(upstream = %self.base, paths = %paths.join(","), outcome = failure.outcome(), %detail, "forwarded tRPC call failed");
        count(failure.outcome(), paths.len());
        paths.iter().map(move |path| failure.error(self.timeout_secs, path))
    }

    /// Sends `request` and reads the answer, at most `max_response` bytes of it.
    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Answered, Failure> {
        let mut resp = request.send().await.map_err(|e| Failure::from_reqwest(&e))?;
        let status = resp.status();
        if status.is_redirection() || status.is_informational() {
            let location = resp.headers().get(header::LOCATION).and_then(|l| l.to_str().ok()).unwrap_or("none");
            return Err(Failure::Invalid("a redirect, which is not followed", format!("HTTP {status} to {location}")));
        }
        let too_large = || {
            let detail = format!("HTTP {status} with a body over {} bytes (trpc.upstream_max_response_bytes)", self.max_response);
            Failure::Invalid("larger than this server accepts", detail)
        };
        if resp.content_length().is_some_and(|len| len > self.max_response) {
            return Err(too_large());
        }
        let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
        let retry_after = resp.headers().get(header::RETRY_AFTER).cloned();
        let mut body = BytesMut::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| Failure::from_reqwest(&e))? {
            if (body.len() + chunk.len()) as u64 > self.max_response {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answered { status, content_type, retry_after, body: body.freeze() })
    }
}

/// The upstream's status when it stands for an error, for error envelopes that name none.
fn error_status(status: StatusCode) -> Option<u16> {
    (status.is_client_error() || status.is_server_error()).then_some(status.as_u16())
}

/// A batch's answers: an array of `n` envelopes, or one error envelope for the whole request
/// (tRPC answers so when the batch fails as a whole), which then stands for each call.
fn batch_answers(answered: &Answered, n: usize) -> Option<Vec<Relayed>> {
    let fallback = error_status(answered.status);
    match serde_json::from_slice::<Value>(&answered.body).ok()? {
        Value::Array(items) if items.len() == n => {
            items.into_iter().map(|item| Relayed::from_envelope(item, fallback)).collect()
        }
        whole @ Value::Object(_) if whole.get("error").is_some() => {
            let relayed = Relayed::from_envelope(whole, fallback)?;
            Some(vec![relayed; n])
        }
        _ => None,
    }
}

/// What a non-tRPC answer was, for the log: status, type and the start of the body.
fn describe(answered: &Answered) -> String {
    let content_type = answered.content_type.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("no content type");
    let start = String::from_utf8_lossy(&answered.body[..answered.body.len().min(120)]).into_owned();
    format!("HTTP {} ({content_type}): {start:?}", answered.status)
}

/// The caller's end-to-end headers, without `Host` and `Content-Length` (the client sets its
/// own), `Accept-Encoding` (the answer is read here, so it comes uncompressed), and for a batch
/// `trpc-accept` (the answers are merged from a JSON array, not streamed). Then the usual proxy
/// headers: `X-Forwarded-For` (the chain a trusted proxy sent, plus the peer; from anyone else,
/// the peer alone), `X-Forwarded-Proto`, `X-Forwarded-Host` and `Via`.
fn forward_headers(req: &Request, trusted: &[ProxyNet], batch: bool) -> HeaderMap {
    let incoming = req.headers();
    // Headers a `Connection` header names are hop-by-hop too.
    let named: Vec<String> = incoming
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    let peer: Option<IpAddr> = req.remote_addr().as_socket_addr().map(|a| a.ip().to_canonical());
    let from_proxy = peer.is_some_and(|ip| trusted.iter().any(|net| net.contains(&ip)));
    let mut out = HeaderMap::with_capacity(incoming.len() + 4);
    for (name, value) in incoming {
        let n = name.as_str();
        let dropped = HOP_BY_HOP.contains(&n)
            || named.iter().any(|h| h == n)
            || matches!(n, "host" | "content-length" | "accept-encoding" | "x-forwarded-for" | "via")
            || (batch && n == "trpc-accept")
            || (!from_proxy && FORWARDING.contains(&n));
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    let joined = |name: HeaderName| -> Option<String> {
        let values: Vec<&str> = incoming.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        (!values.is_empty()).then(|| values.join(", "))
    };
    let chain = from_proxy.then(|| joined(HeaderName::from_static("x-forwarded-for"))).flatten();
    let forwarded_for = match (chain, peer) {
        (Some(chain), Some(ip)) => Some(format!("{chain}, {ip}")),
        (None, Some(ip)) => Some(ip.to_string()),
        (chain, None) => chain,
    };
    // Kept as a trusted proxy sent them, else what this server saw.
    let proto = (!out.contains_key("x-forwarded-proto")).then(|| req.uri().scheme_str().unwrap_or("http").to_owned());
    let host = (!out.contains_key("x-forwarded-host"))
        .then(|| incoming.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned))
        .flatten();
    let via = match joined(header::VIA) {
        Some(earlier) => format!("{earlier}, 1.1 {VIA_NAME}"),
        None => format!("1.1 {VIA_NAME}"),
    };
    for (name, value) in [("x-forwarded-for", forwarded_for), ("x-forwarded-proto", proto), ("x-forwarded-host", host), ("via", Some(via))] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            out.insert(HeaderName::from_static(name), value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answered(status: u16, body: &Value) -> Answered {
        Answered {
            status: StatusCode::from_u16(status).unwrap(),
            content_type: Some(HeaderValue::from_static("application/json")),
            retry_after: None,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn batch_answers_need_one_envelope_per_call() {
        let ok = json!({"result": {"data": {"json": 1}}});
        let err = json!({"error": {"json": {"message": "no", "code": -32003, "data": {"code": "FORBIDDEN", "httpStatus": 403, "stack": "at x"}}}});
        let items = batch_answers(&answered(207, &json!([ok, err])), 2).expect("two envelopes");
        assert_eq!(items.iter().map(|r| r.status).collect::<Vec<_>>(), [200, 403]);
        assert!(items[1].envelope["error"]["json"]["data"].get("stack").is_none(), "the stack is dropped");
        assert!(batch_answers(&answered(200, &json!([ok])), 2).is_none(), "one answer for two calls");
        assert!(batch_answers(&answered(200, &json!([ok, {"nope": 1}])), 2).is_none(), "not an envelope");
        assert!(batch_answers(&answered(200, &ok), 1).is_none(), "a batch answers with an array");
        let whole = json!({"error": {"json": {"message": "bad", "code": -32600, "data": {"code": "BAD_REQUEST", "httpStatus": 400}}}});
        let items = batch_answers(&answered(400, &whole), 3).expect("a whole-request error");
        assert_eq!(items.len(), 3);
        assert!(items.iter().all(|r| r.status == 400));
    }

    #[test]
    fn an_error_without_http_status_takes_the_answer_status_or_its_rpc_code() {
        let bare = json!({"error": {"message": "gone", "code": -32004}});
        assert_eq!(Relayed::from_envelope(bare.clone(), Some(410)).unwrap().status, 410);
        assert_eq!(Relayed::from_envelope(bare, None).unwrap().status, 404);
        let unknown = json!({"error": {"message": "?", "code": 12}});
        assert_eq!(Relayed::from_envelope(unknown, None).unwrap().status, 500);
    }
}
