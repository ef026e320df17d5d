//! Abuse limits over HTTP: rate budgets per IP and per user, 429 with Retry-After in the REST
//! and tRPC shapes, and the trusted-proxy rule for the client address.

use std::time::{Duration, Instant};

use optima::auth::Role;
use optima::config::{Config, RateBudget};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, error_code};

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

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).await.expect("connects")
}

/// Everything the server sends until it closes the connection, and how long that took;
/// panics if it is still open after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buf)).await {
            Err(_) => panic!("the connection is still open after {limit:?}; got {:?}", String::from_utf8_lossy(&got)),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), started.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn headers_that_trickle_in_and_idle_keep_alive_connections_are_closed() {
    let app = TestApp::spawn_with(|c| c.limits.header_timeout_secs = 1).await;

    // Slowloris: a request line and one header, then nothing.
    let mut slow = connect(&app).await;
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let (answer, took) = read_until_closed(&mut slow, Duration::from_secs(10)).await;
    assert!(took >= Duration::from_millis(900), "closed only once the deadline passed ({took:?})");
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "no request was served: {answer:?}");

    // Keep-alive: one request answered, then the connection idles and is closed.
    let mut idle = connect(&app).await;
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let (answer, _) = read_until_closed(&mut idle, Duration::from_secs(10)).await;
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
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
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
    let admin = app.token("ops", Role::Admin);
    let upgrade = json!({ "userId": "u1", "newTier": "premium" });
    assert_eq!(app.post_json("/api/subscription/upgrade", Some(&admin), &upgrade).await.status(), 200);
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
