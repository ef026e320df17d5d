//! Whether an AI provider can serve now: what `GET /probe/gateway` reports for each one.
//!
//! The offline providers are ready by construction. The HTTP providers answer one cheap,
//! authenticated GET to their server, bounded by [`READY_TIMEOUT`]; what they report never
//! holds the server's answer body (an OpenAI 401 echoes part of the key it refused) nor a URL's
//! credentials or query.

use std::time::Duration;

/// The longest a readiness request waits for its answer (less when the provider's own
/// `timeout_secs` is shorter).
pub const READY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// The provider can serve now; how that is known ("offline", "openai at …").
    Ready(String),
    /// It cannot, and why ("openai at …: connection refused").
    NotReady(String),
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready(_))
    }
}

/// The bound of one readiness request: [`READY_TIMEOUT`], or the provider's own timeout when
/// that is shorter.
pub fn bound(timeout_secs: u64) -> Duration {
    READY_TIMEOUT.min(Duration::from_secs(timeout_secs))
}

/// A base URL as it may be shown to anyone: scheme, host, port and path, without credentials,
/// query or fragment.
pub fn shown_url(raw: &str) -> String {
    match reqwest::Url::parse(raw) {
        Ok(mut url) => {
            // Only fails for URLs that cannot have credentials; then there are none to remove.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.as_str().trim_end_matches('/').to_owned()
        }
        Err(_) => "an unparseable URL".to_owned(),
    }
}

/// Sends one GET with an optional bearer, bounded by `bound`: the answer's status and body
/// (the body read within the same bound), or why there was none.
pub async fn get(client: &reqwest::Client, url: &str, bearer: &str, bound: Duration) -> Result<(u16, bytes::Bytes), String> {
    let mut call = client.get(url).timeout(bound);
    if !bearer.is_empty() {
        call = call.bearer_auth(bearer);
    }
    let exchange = async {
        let resp = call.send().await?;
        let status = resp.status().as_u16();
        Ok::<_, reqwest::Error>((status, resp.bytes().await?))
    };
    match tokio::time::timeout(bound, exchange).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(transport_reason(&e, bound)),
        Err(_) => Err(no_answer(bound)),
    }
}

pub fn no_answer(bound: Duration) -> String {
    format!("no answer within {} s", bound.as_secs_f64())
}

/// Why a request got no answer, in a few words: the innermost cause (a refused connection, a
/// name that does not resolve, a certificate), never reqwest's outer message, which quotes the
/// whole URL.
fn transport_reason(e: &reqwest::Error, bound: Duration) -> String {
    if e.is_timeout() {
        return no_answer(bound);
    }
    let mut innermost: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = innermost.source() {
        if let Some(io) = next.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => return "connection refused".into(),
                ConnectionReset | ConnectionAborted => return "connection reset".into(),
                TimedOut => return no_answer(bound),
                _ => {}
            }
        }
        innermost = next;
    }
    if e.is_connect() {
        format!("cannot connect: {innermost}")
    } else {
        format!("request failed: {innermost}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_lose_credentials_query_and_fragment() {
        assert_eq!(shown_url("https://user:secret@api.example.com/v1/?key=sk-1#x"), "https://api.example.com/v1");
        assert_eq!(shown_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(shown_url("not a url"), "an unparseable URL");
    }

    #[test]
    fn the_bound_is_the_shorter_of_the_two() {
        assert_eq!(bound(1), Duration::from_secs(1));
        assert_eq!(bound(60), READY_TIMEOUT);
    }
}
