//! Abuse limits over HTTP: rate budgets per IP and per user, 429 with Retry-After in the REST
//! and tRPC shapes, and the trusted-proxy rule for the client address.

use std::time::Duration;

use optima::auth::Role;
use optima::config::{Config, RateBudget};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, connect, error_code, read_until_closed, set_tier};

const OFF: RateBudget = RateBudget { per_ip_per_minute: 0, per_user_per_minute: 0, burst: 0 };

fn limited(config: &mut Config, login: RateBudget, generation: RateBudget, general: RateBudget) {
    config.limits.rate_limiting = true;
    config.limits.login = login;
    config.limits.generation = generation;
    config.limits.general = general;
}

async fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()
        .get("retry-after")
        .expect("a 429 carries Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is whole seconds")
}

#[tokio::test]
async fn login_attempts_are_limited_per_address_without_touching_other_routes() {
    let login = RateBudget { per_ip_per_minute: 2, per_user_per_minute: 0, burst: 3 };
    let app = TestApp::spawn_with(|c| limited(c, login, OFF, OFF)).await;
    let attempt = json!({ "username": "mallory", "password": "guess-guess-guess" });
    for _ in 0..3 {
        let resp = app.post_json("/api/auth/login", None, &attempt).await;
        assert_eq!(resp.status(), 401, "a wrong password within the burst is a plain 401");
    }
    let resp = app.post_json("/api/auth/login", None, &attempt).await;
    assert_eq!(resp.status(), 429);
    let wait = retry_after(&resp).await;
    assert!((1..=30).contains(&wait), "2 a minute refill one every 30 s, got {wait}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["details"]["limit"], "login");

    // Registration shares the login budget; the rest of the API and /health do not.
    let register = json!({ "username": "newcomer", "password": "correct horse battery" });
    assert_eq!(app.post_json("/api/auth/register", None, &register).await.status(), 429);
    let token = app.token("u1", Role::User);
    assert_eq!(app.get("/api/subscription/tier/u1", Some(&token)).await.status(), 200);
    assert_eq!(app.get("/health", None).await.status(), 200);
}

#[tokio::test]
async fn each_user_has_a_budget_and_anonymous_requests_count_by_address() {
    let general = RateBudget { per_ip_per_minute: 0, per_user_per_minute: 1, burst: 2 };
    let app = TestApp::spawn_with(|c| limited(c, OFF, OFF, general)).await;
    let (alice, bob) = (app.token("alice", Role::User), app.token("bob", Role::User));
    for _ in 0..2 {
        assert_eq!(app.get("/api/subscription/tier/alice", Some(&alice)).await.status(), 200);
    }
    let refused = app.get("/api/subscription/tier/alice", Some(&alice)).await;
    assert_eq!(refused.status(), 429);
    assert!(retry_after(&refused).await >= 1);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["details"]["key"], "user");
    assert_eq!(app.get("/api/subscription/tier/bob", Some(&bob)).await.status(), 200, "bob's budget is his own");

    // A forged token names no user: it is not a way around a user's budget, nor into bob's.
    let forged = format!("{}x", &alice[..alice.len() - 1]);
    assert_eq!(app.get("/api/subscription/tier/alice", Some(&forged)).await.status(), 401);
}

#[tokio::test]
async fn generation_has_its_own_budget_and_trpc_gets_a_trpc_shaped_429() {
    let generation = RateBudget { per_ip_per_minute: 0, per_user_per_minute: 1, burst: 1 };
    let app = TestApp::spawn_with(|c| limited(c, OFF, generation, OFF)).await;
    let token = app.token("writer", Role::User);
    let assist = json!({ "userId": "writer", "text": "The night was dark. It was very dark indeed.", "kind": "style" });
    let first = app.post_json("/api/writers/ai/assist", Some(&token), &assist).await;
    assert_ne!(first.status(), 429, "the first call is within the budget");
    let second = app.post_json("/api/writers/ai/assist", Some(&token), &assist).await;
    assert_eq!(second.status(), 429);
    assert_eq!(error_code(second).await, "rate_limited");

    // The tRPC form of a generation procedure draws from the same budget.
    let resp = app
        .client
        .post(app.url("/api/trpc/r3al.aiChat.sendMessage"))
        .bearer_auth(&token)
        .json(&json!({ "json": { "userId": "writer", "message": "hello" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(retry_after(&resp).await >= 1);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["json"]["data"]["code"], "TOO_MANY_REQUESTS", "{body}");
    // Reads are general, so they still work.
    assert_eq!(app.get("/api/subscription/tier/writer", Some(&token)).await.status(), 200);
}

async fn login_from(app: &TestApp, forwarded_for: &str) -> u16 {
    let attempt = json!({ "username": "mallory", "password": "guess-guess-guess" });
    app.client
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&attempt)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn x_forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let login = RateBudget { per_ip_per_minute: 1, per_user_per_minute: 0, burst: 1 };
    // Not configured: a client cannot get a fresh budget by inventing addresses.
    let direct = TestApp::spawn_with(|c| limited(c, login, OFF, OFF)).await;
    assert_eq!(login_from(&direct, "198.51.100.1").await, 401);
    assert_eq!(login_from(&direct, "198.51.100.2").await, 429);

    // Behind a trusted proxy (here the test itself, on loopback), each forwarded client counts apart,
    // and what a client wrote left of the proxy's entry does not matter.
    let proxied = TestApp::spawn_with(|c| {
        limited(c, login, OFF, OFF);
        c.limits.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    assert_eq!(login_from(&proxied, "198.51.100.1").await, 401);
    assert_eq!(login_from(&proxied, "198.51.100.1").await, 429);
    assert_eq!(login_from(&proxied, "198.51.100.2").await, 401);
    assert_eq!(login_from(&proxied, "203.0.113.50, 198.51.100.2").await, 429);
}

// ---------------------------------------------------------------------------------------------
// Timeouts and body bounds, over raw sockets where a well-behaved client cannot show them

#[tokio::test]
async fn headers_that_trickle_in_and_idle_keep_alive_connections_are_closed() {
    let app = TestApp::spawn_with(|c| c.limits.header_timeout_secs = 1).await;

    // Slowloris: a request line and one header, then nothing.
    let mut slow = connect(&app).await;
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let answer = read_until_closed(&mut slow, Duration::from_secs(10)).await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "no request was served: {answer:?}");

    // Keep-alive: one request answered, then the connection idles and is closed.
    let mut idle = connect(&app).await;
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answer = read_until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "the request itself is served: {answer:?}");

    // A client that keeps its requests coming is not cut off.
    let mut busy = connect(&app).await;
    for _ in 0..3 {
        busy.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 1024];
        let n = busy.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_and_the_connection_is_closed() {
    let app = TestApp::spawn_with(|c| c.limits.read_timeout_secs = 1).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"POST /api/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"username\":")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    assert_eq!(app.get("/health", None).await.status(), 200, "the server is fine");
}

/// A body sent chunked, without a Content-Length, so only reading it can tell its size.
fn chunked(bytes: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn json_bodies_are_bounded_in_size_and_depth_on_rest_and_trpc() {
    let app = TestApp::spawn_with(|c| {
        c.limits.max_json_bytes = 64 * 1024;
        c.limits.max_json_depth = 8;
        c.writers.max_manuscript_bytes = 256 * 1024;
    })
    .await;
    let big = json!({ "username": "x".repeat(100 * 1024), "password": "long enough password" });
    for body in [reqwest::Body::from(big.to_string()), chunked(big.to_string().into_bytes())] {
        let resp = app.client.post(app.url("/api/auth/register")).header("content-type", "application/json").body(body).send().await.unwrap();
        assert_eq!(resp.status(), 413);
        assert_eq!(error_code(resp).await, "payload_too_large");
    }

    let deep = format!("{}{}", "[".repeat(9), "]".repeat(9));
    let nested = format!(r#"{{"username":"deep","password":"long enough password","x":{deep}}}"#);
    let resp = app.client.post(app.url("/api/auth/register")).header("content-type", "application/json").body(nested).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "json_too_deep");
    // Brackets inside strings are text, not nesting.
    let in_string = json!({ "username": "brackets", "password": "[[[[[[[[[[[[[[[[[[[[" });
    assert_eq!(app.post_json("/api/auth/register", None, &in_string).await.status(), 201);

    let token = app.token("u1", Role::User);
    let resp = app
        .client
        .post(app.url("/api/trpc/r3al.aiChat.sendMessage"))
        .bearer_auth(&token)
        .json(&json!({ "json": { "userId": "u1", "message": "hi", "extra": serde_json::from_str::<Value>(&deep).unwrap() } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["json"]["data"]["appCode"], "json_too_deep", "{body}");
    let resp = app
        .client
        .post(app.url("/api/trpc/r3al.aiChat.sendMessage"))
        .bearer_auth(&token)
        .json(&json!({ "json": { "userId": "u1", "message": "x".repeat(100 * 1024) } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);

    // The manuscript save takes the manuscript allowance on top of the JSON limit.
    set_tier(&app, "u1", "premium").await;
    let member = app.post_json("/api/writers/member/register", Some(&token), &json!({ "userId": "u1", "penName": "U" })).await;
    assert_eq!(member.status(), 201, "{}", member.text().await.unwrap());
    let project = json!({ "userId": "u1", "title": "Long one", "contentType": "novel" });
    let project = app.post_json("/api/writers/project/create", Some(&token), &project).await;
    assert_eq!(project.status(), 201, "{}", project.text().await.unwrap());
    let project: Value = project.json().await.unwrap();
    let id = project["projectId"].as_str().expect("a project id").to_owned();
    let manuscript = "word ".repeat(40 * 1024);
    let resp = app
        .client
        .put(app.url(&format!("/api/writers/project/{id}")))
        .bearer_auth(&token)
        .json(&json!({ "content": manuscript }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "a 200 KiB manuscript fits: {}", resp.text().await.unwrap());
}

#[tokio::test]
async fn a_chunked_upload_past_every_limit_is_cut_off_with_413_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let largest = app.server.as_ref().unwrap().state.config.largest_body();
    let token = app.token("u1", Role::User);
    let boundary = "optima-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"bucket\"\r\n\r\nr3al-user-media\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\nusers/u1/huge.bin\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.resize(body.len() + largest as usize + 1024 * 1024, b'x');
    let resp = app
        .client
        .post(app.url("/api/storage/upload"))
        .bearer_auth(&token)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(chunked(body))
        .send()
        .await;
    // The server may close the connection before reading all of the body.
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), 413);
    }
    assert!(crate::helpers::files_under(&app.data_dir().join("blobs")).iter().all(|f| !f.contains("huge")));
}

// ---------------------------------------------------------------------------------------------
// tRPC batches: every call is charged as if it came alone, and a batch is bounded

/// `POST /api/trpc/<p>,<p>,…?batch=1` with each call's input.
async fn trpc_batch(app: &TestApp, token: Option<&str>, calls: &[(&str, Value)]) -> reqwest::Response {
    let paths: Vec<&str> = calls.iter().map(|(p, _)| *p).collect();
    let inputs: serde_json::Map<String, Value> =
        calls.iter().enumerate().map(|(i, (_, input))| (i.to_string(), json!({ "json": input }))).collect();
    let mut req = app.client.post(app.url(&format!("/api/trpc/{}?batch=1", paths.join(",")))).json(&inputs);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

fn trpc_code(item: &Value) -> &str {
    item["error"]["json"]["data"]["code"].as_str().unwrap_or("(a result)")
}

#[tokio::test]
async fn a_trpc_batch_of_logins_is_charged_guess_by_guess() {
    let login = RateBudget { per_ip_per_minute: 1, per_user_per_minute: 0, burst: 4 };
    let app = TestApp::spawn_with(|c| limited(c, login, OFF, OFF)).await;
    let right = json!({ "username": "victim", "password": "the right password" });
    assert_eq!(app.post_json("/api/auth/register", None, &right).await.status(), 201, "one of the four");

    // Three wrong guesses fit in what is left; the right one, fifth, does not.
    let mut calls: Vec<(&str, Value)> =
        (0..4).map(|i| ("r3al.auth.login", json!({ "username": "victim", "password": format!("wrong guess {i}") }))).collect();
    calls.push(("r3al.auth.login", right.clone()));
    let resp = trpc_batch(&app, None, &calls).await;
    assert!(resp.headers().get("retry-after").is_some(), "a batch with refused calls says when to retry");
    let items: Vec<Value> = resp.json().await.unwrap();
    let codes: Vec<&str> = items.iter().map(trpc_code).collect();
    assert_eq!(codes, ["UNAUTHORIZED", "UNAUTHORIZED", "UNAUTHORIZED", "TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS"]);
    assert!(items.iter().all(|i| !i.to_string().contains("token")), "no call past the budget ran: {items:?}");
    // The budget the batch spent is the one single logins draw from.
    assert_eq!(app.post_json("/api/auth/login", None, &right).await.status(), 429);
}

#[tokio::test]
async fn a_trpc_batch_of_generations_is_charged_call_by_call() {
    let generation = RateBudget { per_ip_per_minute: 0, per_user_per_minute: 1, burst: 2 };
    let app = TestApp::spawn_with(|c| limited(c, OFF, generation, OFF)).await;
    let token = app.token("chatty", Role::User);
    let message = json!({ "userId": "chatty", "message": "hello" });
    let calls: Vec<(&str, Value)> = (0..6).map(|_| ("r3al.aiChat.sendMessage", message.clone())).collect();
    let items: Vec<Value> = trpc_batch(&app, Some(&token), &calls).await.json().await.unwrap();
    let codes: Vec<&str> = items.iter().map(trpc_code).collect();
    assert_eq!(codes, ["(a result)", "(a result)", "TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS"]);
    let stored = app.count("SELECT count(*) FROM chat_messages WHERE role = 'user'", &[]);
    assert_eq!(stored, 2, "only the calls within the budget ran");
}

#[tokio::test]
async fn a_trpc_batch_is_bounded_in_size() {
    let app = TestApp::spawn_with(|c| c.limits.max_trpc_batch = 4).await;
    let token = app.token("u1", Role::User);
    let batch = |n: usize| {
        let paths = vec!["r3al.auth.me"; n].join(",");
        app.client.get(app.url(&format!("/api/trpc/{paths}?batch=1"))).bearer_auth(&token).send()
    };
    let four = batch(4).await.unwrap();
    assert_eq!(four.status(), 200);
    assert_eq!(four.json::<Vec<Value>>().await.unwrap().len(), 4);
    for n in [5, 2000] {
        let resp = batch(n).await.unwrap();
        assert_eq!(resp.status(), 400, "a batch of {n}");
        let body: Value = resp.json().await.unwrap();
        let message = body["error"]["json"]["message"].as_str().unwrap();
        assert!(message.contains("at most 4") && message.contains(&n.to_string()), "{message}");
    }
}

// ---------------------------------------------------------------------------------------------
// Connections: a deadline from accept, and caps in total and per address

#[tokio::test]
async fn connections_that_never_send_a_byte_are_closed() {
    let app = TestApp::spawn_with(|c| c.limits.header_timeout_secs = 1).await;
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(connect(&app).await);
    }
    for socket in &mut silent {
        let answer = read_until_closed(socket, Duration::from_secs(20)).await;
        assert!(answer.is_empty(), "nothing is answered to a client that asked nothing: {answer:?}");
    }
    assert_eq!(app.get("/health", None).await.status(), 200);
}

/// Polls `/health` on a new connection until it answers 200 (a slot frees once the server sees a
/// socket close), within a bounded time.
async fn health_on_a_new_connection(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut socket = connect(app).await;
        socket.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let answer = read_until_closed(&mut socket, Duration::from_secs(20)).await;
        if answer.starts_with("HTTP/1.1 200") {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "no slot came free: {answer:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn assert_refused(app: &TestApp) {
    let mut extra = connect(app).await;
    let answer = read_until_closed(&mut extra, Duration::from_secs(10)).await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    if !answer.is_empty() {
        assert!(answer.contains("too_many_connections") && answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    }
}

#[tokio::test]
async fn connections_are_capped_per_address_and_in_total() {
    for per_address in [true, false] {
        let app = TestApp::spawn_with(|c| {
            c.limits.header_timeout_secs = 60;
            if per_address {
                c.limits.max_connections_per_ip = 3;
            } else {
                c.limits.max_connections = 3;
            }
        })
        .await;
        let mut open = Vec::new();
        for _ in 0..3 {
            open.push(connect(&app).await);
        }
        // The three are served once they ask.
        open[0].write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 512];
        let n = open[0].read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        assert_refused(&app).await;
        drop(open.pop());
        health_on_a_new_connection(&app).await;
        let metrics = {
            drop(open);
            health_on_a_new_connection(&app).await;
            app.get("/metrics", None).await.text().await.unwrap()
        };
        let reason = if per_address { "per_ip" } else { "total" };
        assert!(metrics.contains(&format!("optima_connections_refused_total{{reason=\"{reason}\"}}")), "{reason}");
    }
}

#[tokio::test]
async fn a_trusted_proxy_is_held_to_the_total_only() {
    let app = TestApp::spawn_with(|c| {
        c.limits.header_timeout_secs = 60;
        c.limits.max_connections_per_ip = 2;
        c.limits.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let _open = [connect(&app).await, connect(&app).await, connect(&app).await];
    health_on_a_new_connection(&app).await;
}
