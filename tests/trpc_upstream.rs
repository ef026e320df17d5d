//! `[trpc] upstream_url`: procedures optima does not serve go to the app's own backend. The
//! upstream is a real `@trpc/server` v11 with superjson (`tests/trpc-client/upstream.mjs`),
//! started here on 127.0.0.1 and a free port; one check runs the real `@trpc/client` through
//! optima to it (`tests/trpc-client/forwarded.mjs`).

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
/// These run on the embedded database only; `tests/api_postgres` covers PostgreSQL.
pub const BACKEND: helpers::Backend = helpers::Backend::Sqlite;
#[path = "api/postgres.rs"]
#[allow(dead_code)]
mod postgres;
#[path = "support/node.rs"]
mod node;

use std::process::Stdio;
use std::time::Duration;

use helpers::{TestApp, optima_cli, status_and_json, trpc_input};
use node::{client_dir, ensure_node_modules, run_checks};
use optima::auth::Role;
use optima::config::{Config, RateBudget};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// `upstream.mjs` running; killed when dropped (and it exits by itself when its stdin closes).
struct Upstream {
    child: Child,
    base: String,
}

impl Upstream {
    async fn start() -> Self {
        tokio::task::spawn_blocking(ensure_node_modules).await.expect("npm ci task");
        let mut child = Command::new("node")
            .arg(client_dir().join("upstream.mjs"))
            .current_dir(client_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (Node 20 must be installed)");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("upstream.mjs starts within 30 s")
            .expect("its stdout reads")
            .expect("it prints its port");
        let port: u16 = line.strip_prefix("listening ").and_then(|p| p.trim().parse().ok()).unwrap_or_else(|| panic!("a port: {line}"));
        Self { child, base: format!("http://127.0.0.1:{port}") }
    }

    /// The upstream's own answer, asked directly: what optima must relay.
    async fn get(&self, path_and_query: &str) -> (u16, Value) {
        status_and_json(reqwest::get(format!("{}{path_and_query}", self.base)).await.expect("upstream answers")).await
    }
}

/// A server forwarding to `upstream_url`, with `adjust` applied on top.
async fn forwarding_to(upstream_url: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let url = upstream_url.to_owned();
    TestApp::spawn_with(move |c| {
        c.trpc.upstream_url = url;
        adjust(c);
    })
    .await
}

/// Checks a tRPC error envelope (superjson-wrapped) and returns its `json` part.
fn trpc_error<'a>(body: &'a Value, code: &str, rpc: i64, http: u16, path: &str) -> &'a Value {
    let err = &body["error"]["json"];
    assert_eq!(err["data"]["code"], code, "{body}");
    assert_eq!(err["code"], rpc, "{body}");
    assert_eq!(err["data"]["httpStatus"], http, "{body}");
    assert_eq!(err["data"]["path"], path, "{body}");
    assert!(body.get("result").is_none(), "{body}");
    err
}

#[tokio::test]
async fn a_forwarded_query_and_mutation_come_back_as_the_upstream_answered() {
    let upstream = Upstream::start().await;
    let app = forwarding_to(&upstream.base, |_| {}).await;
    let token = app.token("feed_user", Role::User);

    let query = format!("/api/trpc/r3al.feed.getFeed?input={}", trpc_input(&json!({"json": {"limit": 2}})));
    let resp = app.get(&query, Some(&token)).await;
    assert_eq!(resp.headers()[reqwest::header::CONTENT_TYPE], "application/json");
    let (status, body) = status_and_json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((status, body.clone()), upstream.get(&query).await, "relayed as the upstream answers");
    assert_eq!(body["result"]["data"]["json"]["limit"], 2, "{body}");
    assert_eq!(body["result"]["data"]["meta"]["values"]["posts.0.createdAt"], json!(["Date"]), "{body}");

    let post = json!({
        "json": {"text": "hello", "scheduledAt": "2026-05-01T00:00:00.000Z"},
        "meta": {"values": {"scheduledAt": ["Date"]}, "v": 1}
    });
    let (status, body) = status_and_json(app.post_json("/api/trpc/r3al.feed.createPost", Some(&token), &post).await).await;
    assert_eq!(status, 200, "{body}");
    let out = &body["result"]["data"]["json"];
    assert_eq!(out["text"], "hello", "{body}");
    assert_eq!(out["scheduledIsDate"], true, "the superjson meta reached the upstream: {body}");

    let metrics = app.get("/metrics", None).await.text().await.expect("metrics");
    assert!(metrics.contains("optima_trpc_forwarded_total{outcome=\"ok\"}"), "{metrics}");
}

#[tokio::test]
async fn the_callers_headers_go_on_without_hop_by_hop_ones() {
    let upstream = Upstream::start().await;
    let app = forwarding_to(&upstream.base, |_| {}).await;
    let token = app.token("header_user", Role::User);
    let url = app.url(&format!("/api/trpc/r3al.debug.echo?input={}&extra=kept", trpc_input(&json!({"json": {"n": 1}}))));
    let resp = app
        .client
        .get(url)
        .bearer_auth(&token)
        .header("x-app-version", "1.2.3")
        .header("connection", "x-hop-custom")
        .header("x-hop-custom", "connection-scoped")
        .header("keep-alive", "timeout=5")
        .header("proxy-authorization", "Basic Zm9vOmJhcg==")
        .header("te", "trailers")
        .header("x-forwarded-for", "6.6.6.6")
        .send()
        .await
        .expect("request");
    let (status, body) = status_and_json(resp).await;
    assert_eq!(status, 200, "{body}");
    let echo = &body["result"]["data"]["json"];
    let headers = &echo["headers"];
    assert_eq!(headers["authorization"], format!("Bearer {token}"), "the bearer token is forwarded: {body}");
    assert_eq!(headers["x-app-version"], "1.2.3", "{body}");
    for hop in ["x-hop-custom", "keep-alive", "proxy-authorization", "te"] {
        assert!(headers.get(hop).is_none(), "{hop} is not forwarded: {body}");
    }
    assert_ne!(headers["connection"], "x-hop-custom", "{body}");
    assert_eq!(headers["host"], upstream.base.trim_start_matches("http://"), "Host is the upstream's: {body}");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1", "the peer, not what an untrusted client claimed: {body}");
    assert_eq!(headers["x-forwarded-proto"], "http", "{body}");
    assert_eq!(headers["x-forwarded-host"], app.base.trim_start_matches("http://"), "{body}");
    assert_eq!(headers["via"], "1.1 optima", "{body}");
    assert!(echo["url"].as_str().is_some_and(|u| u.contains("extra=kept")), "the query is forwarded: {body}");
    assert_eq!(echo["input"], json!({"n": 1}), "{body}");
}

#[tokio::test]
async fn a_mixed_batch_is_split_and_merged_back_in_order() {
    let upstream = Upstream::start().await;
    let app = forwarding_to(&upstream.base, |_| {}).await;
    let token = app.token("batch_user", Role::User);
    let paths = "r3al.system.health,r3al.feed.getFeed,r3al.auth.me,r3al.debug.echo,r3al.tokens.getBalance";
    let input = json!({"1": {"json": {"limit": 4}}, "3": {"json": {"n": 3}}, "4": {"json": {"userId": "batch_user"}}});
    let resp = app
        .client
        .get(app.url(&format!("/api/trpc/{paths}?batch=1&input={}", trpc_input(&input))))
        .bearer_auth(&token)
        // A streaming client's header: optima answers a JSON array, so it is not sent on.
        .header("trpc-accept", "application/jsonl")
        .send()
        .await
        .expect("request");
    let (status, body) = status_and_json(resp).await;
    assert_eq!(status, 207, "{body}");
    let items = body.as_array().unwrap_or_else(|| panic!("an array: {body}"));
    assert_eq!(items.len(), 5, "{body}");
    assert_eq!(items[0]["result"]["data"]["json"]["status"], "healthy", "optima's own: {body}");
    assert_eq!(items[1]["result"]["data"]["json"]["limit"], 4, "the upstream's, with its input: {body}");
    assert_eq!(items[1]["result"]["data"]["meta"]["values"]["posts.0.createdAt"], json!(["Date"]), "{body}");
    assert_eq!(items[2]["result"]["data"]["json"]["userId"], "batch_user", "optima's own: {body}");
    let echo = &items[3]["result"]["data"]["json"];
    assert_eq!(echo["input"], json!({"n": 3}), "{body}");
    assert!(echo["headers"].get("trpc-accept").is_none(), "{body}");
    // The upstream saw one batch of the three forwarded calls, inputs re-indexed.
    let url = reqwest::Url::parse(&format!("http://upstream{}", echo["url"].as_str().unwrap_or_default())).expect("a URL");
    assert_eq!(url.path(), "/api/trpc/r3al.feed.getFeed,r3al.debug.echo,r3al.tokens.getBalance", "{body}");
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let sent: Value = serde_json::from_str(&param("input").expect("an input")).expect("JSON");
    assert_eq!(sent, json!({"0": {"json": {"limit": 4}}, "1": {"json": {"n": 3}}, "2": {"json": {"userId": "batch_user"}}}));
    assert_eq!(param("batch").as_deref(), Some("1"));
    let err = trpc_error(&items[4], "NOT_FOUND", -32004, 404, "r3al.tokens.getBalance");
    assert_eq!(err["message"], "No procedure found on path \"r3al.tokens.getBalance\"", "the upstream's own: {body}");

    let input = json!({"1": {"json": {"limit": 1}}});
    let path = format!("/api/trpc/r3al.system.health,r3al.feed.getFeed?batch=1&input={}", trpc_input(&input));
    let (status, body) = status_and_json(app.get(&path, None).await).await;
    assert_eq!(status, 200, "all succeed: {body}");
    assert_eq!(body[1]["result"]["data"]["json"]["limit"], 1, "{body}");
}

#[tokio::test]
async fn a_mutation_batch_takes_the_common_status_of_its_answers() {
    let upstream = Upstream::start().await;
    let app = forwarding_to(&upstream.base, |_| {}).await;
    let token = app.token("mut_user", Role::User);
    let body = json!({
        "0": {"json": {"bucket": "media", "path": "users/someone_else/a.png", "method": "GET", "expiresIn": 60}},
        "1": {"json": {"userId": "u9"}},
    });
    let resp = app.post_json("/api/trpc/r3al.storage.getSignedUrl,r3al.verification.submit?batch=1", Some(&token), &body).await;
    let (status, body) = status_and_json(resp).await;
    assert_eq!(status, 403, "both FORBIDDEN, one ours and one the upstream's: {body}");
    assert_eq!(body[0]["error"]["json"]["data"]["appCode"], "forbidden", "{body}");
    let err = trpc_error(&body[1], "FORBIDDEN", -32003, 403, "r3al.verification.submit");
    assert_eq!(err["message"], "not verified: u9", "the upstream got its own input: {body}");

    let body = json!({
        "0": {"json": {"text": "batched"}},
        "1": {"json": {"bucket": "media", "path": "users/mut_user/a.png", "method": "GET", "expiresIn": 60}},
    });
    let resp = app.post_json("/api/trpc/r3al.feed.createPost,r3al.storage.getSignedUrl?batch=1", Some(&token), &body).await;
    let (status, body) = status_and_json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["result"]["data"]["json"]["text"], "batched", "{body}");
    assert!(body[1]["result"]["data"]["json"]["url"].as_str().is_some_and(|u| u.contains("signature=")), "{body}");
}

#[tokio::test]
async fn upstream_errors_are_relayed_without_their_stack() {
    let upstream = Upstream::start().await;
    let app = forwarding_to(&upstream.base, |_| {}).await;
    let input = json!({"json": {"userId": "u1"}});
    let direct = reqwest::Client::new()
        .post(format!("{}/api/trpc/r3al.verification.submit", upstream.base))
        .json(&input)
        .send()
        .await
        .expect("upstream answers");
    let (_, mut expected) = status_and_json(direct).await;
    let data = expected["error"]["json"]["data"].as_object_mut().expect("error data");
    assert!(data.remove("stack").is_some(), "the development upstream sends its stack: {expected}");

    let (status, body) = status_and_json(app.post_json("/api/trpc/r3al.verification.submit", None, &input).await).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body, expected, "the upstream's error as it was, bar the stack");
    trpc_error(&body, "FORBIDDEN", -32003, 403, "r3al.verification.submit");

    // Neither optima nor the upstream has it: the upstream's NOT_FOUND.
    let (status, body) = status_and_json(app.get("/api/trpc/r3al.nope.missing", None).await).await;
    assert_eq!(status, 404, "{body}");
    let err = trpc_error(&body, "NOT_FOUND", -32004, 404, "r3al.nope.missing");
    assert_eq!(err["message"], "No procedure found on path \"r3al.nope.missing\"", "{body}");
    assert!(err["data"].get("stack").is_none(), "{body}");
    assert!(err["data"].get("appCode").is_none(), "the upstream's answer, not one of optima's: {body}");
}

#[tokio::test]
async fn a_slow_upstream_is_gateway_timeout() {
    let upstream = Upstream::start().await;
    let app = forwarding_to(&upstream.base, |c| c.trpc.upstream_timeout_secs = 1).await;
    let (status, body) = status_and_json(app.get("/api/trpc/r3al.pulse.slow", None).await).await;
    assert_eq!(status, 504, "{body}");
    let err = trpc_error(&body, "GATEWAY_TIMEOUT", -32603, 504, "r3al.pulse.slow");
    assert_eq!(err["data"]["appCode"], "upstream_timeout", "{body}");

    let (status, body) = status_and_json(app.get("/api/trpc/r3al.system.health,r3al.pulse.slow?batch=1", None).await).await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body[0]["result"]["data"]["json"]["status"], "healthy", "{body}");
    trpc_error(&body[1], "GATEWAY_TIMEOUT", -32603, 504, "r3al.pulse.slow");
}

#[tokio::test]
async fn an_upstream_that_is_down_is_bad_gateway() {
    let mut upstream = Upstream::start().await;
    let app = forwarding_to(&upstream.base, |_| {}).await;
    let (status, _) = status_and_json(app.get("/api/trpc/r3al.feed.getFeed", None).await).await;
    assert_eq!(status, 200, "up: forwarded");
    upstream.child.kill().await.expect("the upstream stops");

    let (status, body) = status_and_json(app.get("/api/trpc/r3al.feed.getFeed", None).await).await;
    assert_eq!(status, 502, "{body}");
    let err = trpc_error(&body, "BAD_GATEWAY", -32603, 502, "r3al.feed.getFeed");
    assert_eq!(err["data"]["appCode"], "upstream_unreachable", "{body}");
    assert!(!err["message"].as_str().unwrap_or_default().contains("127.0.0.1"), "the upstream's address is not told: {body}");

    let (status, body) = status_and_json(app.get("/api/trpc/r3al.system.health,r3al.feed.getFeed?batch=1", None).await).await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body[0]["result"]["data"]["json"]["status"], "healthy", "{body}");
    trpc_error(&body[1], "BAD_GATEWAY", -32603, 502, "r3al.feed.getFeed");
}

/// A plain HTTP server on 127.0.0.1 giving every request the same raw `answer`.
async fn canned(answer: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn answers_that_are_not_trpc_answers_are_bad_gateway_and_redirects_are_not_followed() {
    let upstream = Upstream::start().await;
    let invalid = |body: &Value, path: &str| {
        let err = trpc_error(body, "BAD_GATEWAY", -32603, 502, path);
        assert_eq!(err["data"]["appCode"], "upstream_invalid", "{body}");
    };

    // A redirect to the real upstream: followed, it would answer 200.
    let location = format!("{}/api/trpc/r3al.feed.getFeed", upstream.base);
    let redirecting = canned(format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")).await;
    let app = forwarding_to(&redirecting, |_| {}).await;
    let (status, body) = status_and_json(app.get("/api/trpc/r3al.feed.getFeed", None).await).await;
    assert_eq!(status, 502, "{body}");
    invalid(&body, "r3al.feed.getFeed");

    let html = "<html><body>Bad gateway</body></html>";
    let proxy_page = canned(format!(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
        html.len()
    ))
    .await;
    let app = forwarding_to(&proxy_page, |_| {}).await;
    let (status, body) = status_and_json(app.get("/api/trpc/r3al.feed.getFeed", None).await).await;
    assert_eq!(status, 502, "{body}");
    invalid(&body, "r3al.feed.getFeed");
    assert!(!body.to_string().contains("Bad gateway</body>"), "the upstream's page is logged, not sent: {body}");
    let (status, body) = status_and_json(app.get("/api/trpc/r3al.system.health,r3al.feed.getFeed?batch=1", None).await).await;
    assert_eq!(status, 207, "{body}");
    invalid(&body[1], "r3al.feed.getFeed");

    // Past the bound the answer is not read.
    let app = forwarding_to(&upstream.base, |c| c.trpc.upstream_max_response_bytes = 4096).await;
    let small = format!("/api/trpc/r3al.feed.getFeed?input={}", trpc_input(&json!({"json": {"pad": 100}})));
    let (status, body) = status_and_json(app.get(&small, None).await).await;
    assert_eq!(status, 200, "{body}");
    let large = format!("/api/trpc/r3al.feed.getFeed?input={}", trpc_input(&json!({"json": {"pad": 10_000}})));
    let (status, body) = status_and_json(app.get(&large, None).await).await;
    assert_eq!(status, 502, "{body}");
    invalid(&body, "r3al.feed.getFeed");
}

#[tokio::test]
async fn without_an_upstream_an_unknown_procedure_is_not_found() {
    let app = TestApp::spawn().await;
    assert!(app.server.as_ref().expect("running").state.config.trpc.upstream_url.is_empty(), "off by default");
    let (status, body) = status_and_json(app.get("/api/trpc/r3al.feed.getFeed", None).await).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        body,
        json!({"error": {"json": {
            "message": "No procedure found on path \"r3al.feed.getFeed\"",
            "code": -32004,
            "data": {"code": "NOT_FOUND", "httpStatus": 404, "path": "r3al.feed.getFeed"}
        }}})
    );
}

#[tokio::test]
async fn a_call_an_optima_already_forwarded_is_not_forwarded_again() {
    let upstream = Upstream::start().await;
    let app = forwarding_to(&upstream.base, |_| {}).await;
    let (status, _) = status_and_json(app.get("/api/trpc/r3al.feed.getFeed", None).await).await;
    assert_eq!(status, 200, "forwarded");
    let resp = app.client.get(app.url("/api/trpc/r3al.feed.getFeed")).header("via", "1.1 nginx, 1.1 optima").send().await.expect("request");
    let (status, body) = status_and_json(resp).await;
    assert_eq!(status, 404, "an upstream_url pointing back at an optima cannot loop: {body}");
    trpc_error(&body, "NOT_FOUND", -32004, 404, "r3al.feed.getFeed");
}

#[tokio::test]
async fn forwarded_calls_draw_from_the_rate_budget_and_count_in_the_batch_bound() {
    let upstream = Upstream::start().await;
    let app = forwarding_to(&upstream.base, |c| {
        c.limits.rate_limiting = true;
        // Three calls: the refused over-long batch below costs one, two batch calls get the rest.
        c.limits.general = RateBudget { per_ip_per_minute: 1, per_user_per_minute: 0, burst: 3 };
        c.limits.max_trpc_batch = 3;
    })
    .await;
    let (status, body) = status_and_json(app.get("/api/trpc/r3al.nope.a,r3al.nope.b,r3al.nope.c,r3al.nope.d?batch=1", None).await).await;
    assert_eq!(status, 400, "four calls, three allowed: {body}");
    assert_eq!(body["error"]["json"]["data"]["code"], "BAD_REQUEST", "{body}");

    let input = json!({"0": {"json": {"limit": 1}}, "1": {"json": {"limit": 2}}, "2": {"json": {"limit": 3}}});
    let path = format!("/api/trpc/r3al.feed.getFeed,r3al.feed.getFeed,r3al.feed.getFeed?batch=1&input={}", trpc_input(&input));
    let resp = app.get(&path, None).await;
    assert!(resp.headers().contains_key(reqwest::header::RETRY_AFTER));
    let (status, body) = status_and_json(resp).await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body[0]["result"]["data"]["json"]["limit"], 1, "{body}");
    assert_eq!(body[1]["result"]["data"]["json"]["limit"], 2, "{body}");
    let err = trpc_error(&body[2], "TOO_MANY_REQUESTS", -32029, 429, "r3al.feed.getFeed");
    assert_eq!(err["data"]["appCode"], "rate_limited", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_trpc_client_accepts_forwarded_answers() {
    let upstream = Upstream::start().await;
    let app = forwarding_to(&upstream.base, |_| {}).await;
    let token = app.token("client_user", Role::User);
    run_checks("forwarded.mjs", &[&app.base, &token], Duration::from_secs(60)).await;
}

#[test]
fn an_upstream_url_that_is_not_http_stops_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (url, says) in [("ftp://backend.example", "http:// or https://"), ("not a url", "is not a URL"), ("http://b.example/?x=1", "query")] {
        let (ok, _, stderr) = optima_cli(dir.path(), &["serve", "--data-dir", "data"], &[("OPTIMA_TRPC__UPSTREAM_URL", url)]);
        assert!(!ok, "{url} is refused");
        assert!(stderr.contains("trpc.upstream_url") && stderr.contains(says), "{url}: {stderr}");
    }
    let (ok, _, stderr) = optima_cli(
        dir.path(),
        &["serve", "--data-dir", "data"],
        &[("OPTIMA_TRPC__UPSTREAM_URL", "http://127.0.0.1:9"), ("OPTIMA_TRPC__UPSTREAM_TIMEOUT_SECS", "0")],
    );
    assert!(!ok && stderr.contains("trpc.upstream_timeout_secs"), "{stderr}");
}
