use serde_json::Value;

use crate::helpers::{TestApp, eventually, files_under};

#[tokio::test]
async fn health_checks_the_database() {
    let app = TestApp::spawn().await;
    let resp = app.get("/health", None).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok());
    assert!(!body["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn health_answers_503_naming_a_blob_store_that_went_away_and_recovers_with_it() {
    let app = TestApp::spawn().await;
    let body: Value = app.get("/health", None).await.json().await.unwrap();
    assert_eq!(body["checks"]["storage"], "ok", "{body}");

    // The blob folder's volume goes away (unmounted, or moved by an operator).
    let blobs = app.server.as_ref().unwrap().state.config.blobs_dir();
    let away = blobs.with_extension("away");
    std::fs::rename(&blobs, &away).unwrap();
    let resp = app.get("/health", None).await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "unhealthy", "{body}");
    assert_eq!(body["checks"]["database"], "ok", "{body}");
    let storage = body["checks"]["storage"].as_str().unwrap();
    assert!(storage.contains("No such file"), "names what is wrong: {storage}");
    let (status, envelope) = app.trpc_query("r3al.system.health", None, &Value::Null).await;
    assert_eq!(status, 200, "{envelope}");
    assert_eq!(envelope["result"]["data"]["json"]["status"], "unhealthy", "tRPC tells the same: {envelope}");

    std::fs::rename(&away, &blobs).unwrap();
    let resp = app.get("/health", None).await;
    assert_eq!(resp.status(), 200, "healthy again as soon as the folder is back");
}

#[tokio::test]
async fn api_routes_lists_the_trpc_procedures_as_the_apps_diagnostics_read_them() {
    let app = TestApp::spawn().await;
    let resp = app.get("/api/routes", None).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let routes: Vec<&str> = body["routes"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(body["count"], routes.len(), "{body}");
    for path in ["health", "auth.login", "r3al.tactical.getOptimaSRAnalysis", "r3al.aiChat.sendMessage"] {
        assert_eq!(routes.iter().filter(|r| **r == path).count(), 1, "{path} listed once: {body}");
    }
    let r3al: Vec<&str> = body["r3alRoutes"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(r3al, routes.iter().copied().filter(|r| r.starts_with("r3al.")).collect::<Vec<_>>());
    assert_eq!(body["r3alCount"], r3al.len());
    // Every listed procedure answers as a procedure (not NOT_FOUND).
    for path in &routes {
        let (status, envelope) = app.trpc_query(path, None, &Value::Null).await;
        assert_ne!(status, 404, "{path}: {envelope}");
    }
}

#[tokio::test]
async fn index_links_and_docs_are_served() {
    let app = TestApp::spawn().await;
    let index: Value = app.get("/", None).await.json().await.unwrap();
    assert_eq!(index["name"], "optima");
    for link in ["/docs", "/openapi.json", "/health", "/metrics"] {
        assert!(index["links"].as_object().unwrap().values().any(|v| v == link), "{link}");
        let resp = app.get(link, None).await;
        assert_eq!(resp.status(), 200, "{link}");
    }
    let spec: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/api/auth/register", "/api/auth/me", "/api/storage/upload", "/api/storage/signed-url", "/cdn/{bucket}/{path}", "/health"] {
        assert!(spec["paths"].get(path).is_some(), "{path} is documented");
    }
    assert_eq!(spec["components"]["securitySchemes"]["BearerAuth"]["scheme"], "bearer");
    let docs = app.get("/docs", None).await.text().await.unwrap();
    assert!(docs.contains("swagger"), "Swagger UI page");
    // The page shows the served spec, the operations written by hand included.
    for path in ["/cdn/{bucket}/{path}", "/s/{share_id}", "/s/{share_id}/audio", "/api/subscription/webhook/stripe"] {
        assert!(docs.contains(&format!("\"{path}\"")), "Swagger UI documents {path}");
    }
    let embedded = docs.split_once("let spec = ").and_then(|(_, rest)| rest.split_once(";\n    let oauth2RedirectUrl")).map(|(spec, _)| spec).expect("the page embeds a spec");
    let embedded: Value = serde_json::from_str(embedded).expect("the embedded spec is JSON");
    assert_eq!(embedded, spec, "Swagger UI shows exactly /openapi.json");
}

#[tokio::test]
async fn every_response_has_a_request_id_and_errors_have_our_shape() {
    let app = TestApp::spawn().await;
    let resp = app.get("/no/such/route", None).await;
    assert_eq!(resp.status(), 404);
    assert!(!resp.headers()["x-request-id"].is_empty());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    let wrong_method = app.client.post(app.url("/health")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["allow"], "GET, HEAD");
    assert_eq!(crate::helpers::error_code(wrong_method).await, "method_not_allowed");

    let given = app.client.get(app.url("/health")).header("x-request-id", "trace-123").send().await.unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-123");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.get("/health", None).await;
    }
    app.get("/api/auth/me", None).await;
    let text = app.get("/metrics", None).await.text().await.unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("http_requests_total{") && l.contains("route=\"/health\"") && l.contains("status=\"200\""))
        .expect("health counter");
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{line}");
    assert!(text.contains("route=\"/api/auth/me\"") && text.contains("status=\"401\""));
    assert!(text.contains("http_request_duration_seconds_bucket{"), "latency histogram");
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let app = TestApp::spawn_with(|c| c.server.cors_allowed_origins = vec!["http://localhost:8081".into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/auth/me"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let ok = preflight("http://localhost:8081").await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], "http://localhost:8081");
    let denied = preflight("http://evil.example").await.unwrap();
    assert!(denied.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let mut app = TestApp::spawn().await;
    let server = app.server.take().unwrap();
    // A slow upload is in flight when shutdown starts; it must still complete.
    let token = server.state.services.tokens.mint("u", optima::auth::Role::User, 60).unwrap().0;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let url = app.url("/cdn/r3al-user-media/users/u/slow.bin");
    let request = tokio::spawn(app.client.put(url).bearer_auth(&token).body(body).send());
    tx.send(Ok(vec![1; 1000])).await.unwrap();
    // In flight: the server has opened the upload's temporary file.
    let tmp = app.data_dir().join("blobs/.tmp");
    eventually(20, "the upload starts", || async { (!files_under(&tmp).is_empty()).then_some(()) }).await;
    let addr = server.addr;
    let shutdown = tokio::spawn(server.shutdown());
    // Shutting down: the listener is gone, so a new connection is refused.
    eventually(20, "the listener closes", || async move { tokio::net::TcpStream::connect(addr).await.is_err().then_some(()) }).await;
    tx.send(Ok(vec![2; 1000])).await.unwrap();
    drop(tx);
    let resp = request.await.unwrap().unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.json::<Value>().await.unwrap()["size"], 2000);
    shutdown.await.unwrap().unwrap();
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn metrics_labels_come_from_fixed_sets_whatever_the_method() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn().await;
    let long = "M".repeat(60_000);
    let methods: Vec<String> = (0..40).map(|i| format!("INVENTED{i}")).chain([long.clone()]).collect();
    for method in &methods {
        let mut socket = crate::helpers::connect(&app).await;
        let request = format!("{method} /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        socket.write_all(request.as_bytes()).await.unwrap();
        crate::helpers::read_until_closed(&mut socket, std::time::Duration::from_secs(10)).await;
    }
    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(!text.contains("INVENTED") && !text.contains(&long[..100]), "invented methods became labels");
    assert!(text.lines().any(|l| l.starts_with("http_requests_total{") && l.contains("method=\"other\"")), "they count as `other`");
    assert!(text.len() < 1024 * 1024, "{} bytes", text.len());
}

#[tokio::test]
async fn metrics_can_require_an_admin_or_service_token() {
    let app = TestApp::spawn_with(|c| c.server.metrics_public = false).await;
    assert_eq!(crate::helpers::error_code(app.get("/metrics", None).await).await, "unauthorized");
    let user = app.token("u1", optima::auth::Role::User);
    assert_eq!(app.get("/metrics", Some(&user)).await.status(), 403);
    for role in [optima::auth::Role::Service, optima::auth::Role::Admin] {
        let resp = app.get("/metrics", Some(&app.token("scraper", role))).await;
        assert_eq!(resp.status(), 200);
        assert!(resp.text().await.unwrap().contains("http_requests_total"));
    }
}

#[tokio::test]
async fn the_database_and_blobs_are_private_to_the_server_user() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn().await;
    let token = app.token("u1", optima::auth::Role::User);
    let resp = app.upload(&token, "r3al-user-media", "users/u1/private/note.txt", b"mine".to_vec()).await;
    assert_eq!(resp.status(), 201);
    let data = app.data_dir();
    let mode = |p: std::path::PathBuf| std::fs::metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777;
    // On PostgreSQL the database's files are the database server's, and every key is configured.
    let (database_files, keys) = match app.is_postgres() {
        false => (&["optima.db", "optima.db-wal", "optima.db-shm"][..], &["keys"][..]),
        true => (&[][..], &[][..]),
    };
    for file in database_files.iter().chain(&["blobs/r3al-user-media/users/u1/private/note.txt"]) {
        assert_eq!(mode(data.join(file)), 0o600, "{file}");
    }
    for dir in ["", "blobs", "blobs/r3al-user-media", "blobs/r3al-user-media/users/u1/private"].iter().chain(keys) {
        assert_eq!(mode(data.join(dir)), 0o700, "{dir:?}");
    }
    if app.is_postgres() {
        assert!(!data.join("optima.db").exists() && !data.join("keys").exists(), "nothing of a database or a key in the folder");
    }
}

/// RFC 9110: a 405 names the methods the route answers. Every documented route, with an
/// undocumented method, answers 405 with exactly the methods its spec lists (GET brings HEAD).
#[tokio::test]
async fn every_documented_route_answers_an_undocumented_method_with_its_allow_header() {
    let app = TestApp::spawn().await;
    let spec: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let paths = spec["paths"].as_object().unwrap();
    let mut by_url: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    for (path, item) in paths {
        let url: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let methods = by_url.entry(url).or_default();
        for method in item.as_object().unwrap().keys().filter(|k| *k != "parameters") {
            methods.insert(method.to_uppercase());
            if method == "get" {
                methods.insert("HEAD".into());
            }
        }
    }
    assert!(by_url.len() > 50, "the spec lists the routes");
    for (url, methods) in by_url {
        let resp = app.client.request(reqwest::Method::TRACE, app.url(&url)).send().await.unwrap();
        assert_eq!(resp.status(), 405, "TRACE {url}");
        let allow: std::collections::BTreeSet<String> = resp.headers()["allow"]
            .to_str()
            .unwrap()
            .split(", ")
            .map(str::to_owned)
            .collect();
        assert_eq!(allow, methods, "Allow of {url}");
        assert_eq!(crate::helpers::error_code(resp).await, "method_not_allowed");
    }
}
