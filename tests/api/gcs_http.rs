//! The HTTP API with `storage.backend = "gcs"` against the real fake-gcs-server emulator:
//! uploads, `/cdn` delivery (streamed and redirected), GCS V4 signed URLs, and what clients
//! see when GCS is down, failing or silent.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use optima::auth::Role;
use optima::config::GcsDelivery;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::fake_gcs::{FakeGcs, Fault, FaultProxy, use_gcs};
use crate::blobs::{pattern, png};
use crate::helpers::{TestApp, error_code, test_config, uploaded};

const MEDIA: &str = "r3al-user-media";

// ---------------------------------------------------------------------------------------------
// Helpers

async fn sign(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    expires_in: u64,
) -> reqwest::Response {
    let body =
        json!({ "bucket": "media", "path": path, "method": method, "expiresIn": expires_in });
    app.post_json("/api/storage/signed-url", Some(token), &body)
        .await
}

/// The value of one query parameter of `url`, decoded.
fn query_param(url: &str, key: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    parsed
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Runs `fut`, failing the test if it takes more than 30 s: nothing may hang.
async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 30 s"))
}

/// The bytes `/cdn` serves at `url` to the bearer of `token`.
async fn served(app: &TestApp, token: &str, url: &str) -> Vec<u8> {
    let resp = app.client.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), 200, "GET {url}");
    resp.bytes().await.unwrap().to_vec()
}

/// While GCS is out of reach: an upload to `new_path` and a read of `existing_url` both get
/// 503 `storage_unavailable`, in bounded time.
async fn upload_and_read_are_unavailable(app: &TestApp, token: &str, new_path: &str, existing_url: &str) {
    let resp = within("upload while GCS is out of reach", app.upload(token, "media", new_path, pattern(3_000))).await;
    assert_unavailable(resp, "upload").await;
    let resp = within("GET /cdn while GCS is out of reach", app.client.get(existing_url).bearer_auth(token).send())
        .await
        .unwrap();
    assert_unavailable(resp, "GET /cdn").await;
}

/// Checks a 503 `storage_unavailable` with a `Retry-After` of a positive number of seconds.
async fn assert_unavailable(resp: reqwest::Response, what: &str) {
    assert_eq!(resp.status(), 503, "{what}");
    let retry_after = resp
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("{what}: no Retry-After"));
    let secs: u64 = retry_after
        .to_str()
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("{what}: Retry-After {retry_after:?}: {e}"));
    assert!(secs > 0, "{what}: Retry-After {secs}");
    assert_eq!(error_code(resp).await, "storage_unavailable", "{what}");
}

async fn post_photo(app: &TestApp, token: &str, bytes: Vec<u8>) -> reqwest::Response {
    let form = Form::new().part("file", Part::bytes(bytes).file_name("photo.png"));
    app.client
        .post(app.url("/api/media/photos"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("request")
}

/// Objects under the user's photo folder in the emulator.
async fn photo_objects(gcs: &FakeGcs, user: &str) -> Vec<String> {
    let prefix = format!("users/{user}/profile/photos/");
    gcs.names(MEDIA)
        .await
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

async fn photo_list(app: &TestApp, token: &str, user: &str) -> Value {
    let resp = app
        .get(&format!("/api/media/photos/{user}"), Some(token))
        .await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. Upload, delivery with Range and ETag, delete

#[tokio::test]
async fn upload_cdn_range_delete_with_gcs() {
    let gcs = FakeGcs::start().await;
    let app = TestApp::spawn_with(|c| use_gcs(c, &gcs.endpoint())).await;
    let token = app.token("u1", Role::User);
    let data = pattern(300_000);

    let stored = uploaded(&app, &token, "users/u1/a b/ü.bin", data.clone()).await;
    assert_eq!(stored["bucket"], MEDIA);
    assert_eq!(stored["path"], "users/u1/a b/ü.bin");
    assert_eq!(stored["size"], 300_000);
    let url = stored["url"].as_str().unwrap().to_owned();
    assert_eq!(
        url,
        app.url("/cdn/r3al-user-media/users/u1/a%20b/%C3%BC.bin")
    );
    let etag = stored["etag"].as_str().unwrap().to_owned();

    // The object really is in the bucket, under its plain (unencoded) name.
    let in_gcs = gcs
        .object(MEDIA, "users/u1/a b/ü.bin")
        .await
        .expect("object in the emulator");
    assert!(
        in_gcs == data,
        "the emulator holds the bytes exactly ({} bytes stored)",
        in_gcs.len()
    );
    assert!(
        gcs.names(MEDIA)
            .await
            .contains(&"users/u1/a b/ü.bin".to_owned())
    );

    // Whole object, streamed from GCS.
    let resp = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], stored["contentType"].as_str().unwrap());
    assert_eq!(h["etag"], etag.as_str());
    assert_eq!(h["content-length"], "300000");
    assert_eq!(h["accept-ranges"], "bytes");
    let body = resp.bytes().await.unwrap();
    assert!(
        body.as_ref() == data.as_slice(),
        "/cdn is byte-exact ({} bytes)",
        body.len()
    );

    // A range.
    let resp = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()["content-range"], "bytes 100-199/300000");
    assert_eq!(resp.headers()["content-length"], "100");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &data[100..200]);

    // A range far into the object (past the first chunk of any buffering).
    let resp = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .header("range", "bytes=250000-250009")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        &data[250_000..250_010]
    );

    // Conditional.
    let resp = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert_eq!(resp.headers()["etag"], etag.as_str());
    assert!(resp.bytes().await.unwrap().is_empty());

    // Delete by the URL the upload returned.
    let resp = app
        .client
        .delete(app.url("/api/storage/delete"))
        .bearer_auth(&token)
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "deleted": true, "bucket": MEDIA, "path": "users/u1/a b/ü.bin" })
    );

    let resp = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "not_found");
    assert_eq!(
        gcs.object(MEDIA, "users/u1/a b/ü.bin").await,
        None,
        "gone from the emulator"
    );
    assert!(
        !gcs.names(MEDIA)
            .await
            .contains(&"users/u1/a b/ü.bin".to_owned())
    );

    // Deleting again: 404.
    let resp = app
        .client
        .delete(app.url("/api/storage/delete"))
        .bearer_auth(&token)
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

// ---------------------------------------------------------------------------------------------
// 2. GCS V4 signed URLs

#[tokio::test]
async fn signed_urls_are_gcs_v4_and_work_against_the_bucket() {
    let gcs = FakeGcs::start().await;
    let app = TestApp::spawn_with(|c| use_gcs(c, &gcs.endpoint())).await;
    let token = app.token("u1", Role::User);
    let max = app
        .server
        .as_ref()
        .unwrap()
        .state
        .config
        .storage
        .max_upload_bytes;

    let resp = sign(&app, &token, "PUT", "users/u1/direct.txt", 600).await;
    let status = resp.status();
    let put: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{put}");
    assert_eq!(put["method"], "PUT");
    assert!(
        chrono::DateTime::parse_from_rfc3339(put["expiresAt"].as_str().unwrap()).is_ok(),
        "{put}"
    );
    let url = put["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("{}/", gcs.endpoint())),
        "points at the emulator: {url}"
    );
    assert!(url.contains("X-Goog-Algorithm=GOOG4-RSA-SHA256"), "{url}");
    assert!(url.contains("X-Goog-Signature="), "{url}");
    assert!(url.contains("X-Goog-Expires=600"), "{url}");
    assert!(url.contains("direct.txt"), "{url}");
    let signed_headers = query_param(&url, "X-Goog-SignedHeaders")
        .unwrap_or_else(|| panic!("no X-Goog-SignedHeaders: {url}"));
    let signed_headers: Vec<&str> = signed_headers.split(';').collect();
    assert!(
        signed_headers.contains(&"content-type"),
        "{signed_headers:?}"
    );
    assert!(
        signed_headers.contains(&"x-goog-content-length-range"),
        "{signed_headers:?}"
    );
    assert!(signed_headers.contains(&"host"), "{signed_headers:?}");
    let signature = query_param(&url, "X-Goog-Signature").unwrap();
    assert!(
        signature.len() >= 256 && signature.bytes().all(|b| b.is_ascii_hexdigit()),
        "an RSA signature in hex: {signature}"
    );

    let headers = put["headers"]
        .as_object()
        .unwrap_or_else(|| panic!("headers is a map: {put}"));
    assert_eq!(
        headers.get("content-type"),
        Some(&json!("text/plain")),
        "{put}"
    );
    assert_eq!(
        headers.get("x-goog-content-length-range"),
        Some(&json!(format!("0,{max}"))),
        "{put}"
    );

    // The client uploads straight to the bucket: no bearer, the headers exactly as given.
    let data = b"straight into the bucket\n".repeat(40);
    let mut req = reqwest::Client::new().put(&url).body(data.clone());
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str().unwrap());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    assert!(
        status.is_success(),
        "PUT to the signed URL: {status} {}",
        resp.text().await.unwrap_or_default()
    );
    assert_eq!(
        gcs.object(MEDIA, "users/u1/direct.txt").await.as_deref(),
        Some(data.as_slice()),
        "in the emulator"
    );

    // Optima serves what the client put there.
    let resp = app
        .get("/cdn/r3al-user-media/users/u1/direct.txt", Some(&token))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), data.as_slice());

    // A signed GET URL works without a bearer, straight against the bucket.
    let resp = sign(&app, &token, "GET", "users/u1/direct.txt", 120).await;
    assert_eq!(resp.status(), 200);
    let get: Value = resp.json().await.unwrap();
    let get_url = get["url"].as_str().unwrap();
    assert!(
        get_url.starts_with(&format!("{}/", gcs.endpoint())),
        "{get_url}"
    );
    assert!(
        get_url.contains("X-Goog-Algorithm=GOOG4-RSA-SHA256")
            && get_url.contains("X-Goog-Expires=120"),
        "{get_url}"
    );
    assert!(
        get["headers"].as_object().is_some_and(|h| h.is_empty()),
        "a GET needs no headers: {get}"
    );
    let resp = reqwest::Client::new().get(get_url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), data.as_slice());

    // Another user's path.
    for method in ["PUT", "GET"] {
        let resp = sign(&app, &token, method, "users/u2/direct.txt", 600).await;
        assert_eq!(resp.status(), 403, "{method}");
        assert_eq!(error_code(resp).await, "forbidden");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Redirect delivery

#[tokio::test]
async fn redirect_delivery_points_at_a_signed_gcs_url() {
    let gcs = FakeGcs::start().await;
    let app = TestApp::spawn_with(|c| {
        use_gcs(c, &gcs.endpoint());
        c.storage.gcs.delivery = GcsDelivery::Redirect;
    })
    .await;
    let token = app.token("u1", Role::User);
    let data = pattern(50_000);
    let stored = uploaded(&app, &token, "users/u1/song.wav", data.clone()).await;
    let url = stored["url"].as_str().unwrap();

    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_follow.get(url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{}/", gcs.endpoint())),
        "{location}"
    );
    assert!(location.contains("X-Goog-Signature="), "{location}");
    assert!(
        location.contains("X-Goog-Algorithm=GOOG4-RSA-SHA256"),
        "{location}"
    );
    assert!(
        resp.bytes().await.unwrap().is_empty(),
        "a redirect carries no object bytes"
    );

    // The signed Location needs no bearer.
    let resp = reqwest::Client::new().get(&location).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.bytes().await.unwrap().as_ref() == data.as_slice(),
        "Location serves the bytes"
    );

    // A missing object is answered here, not redirected.
    let resp = no_follow
        .get(app.url("/cdn/r3al-user-media/users/u1/nothing.wav"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.headers().get("location").is_none());
    assert_eq!(error_code(resp).await, "not_found");

    // Access is still checked before redirecting.
    let resp = no_follow.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("location").is_none());
    assert_eq!(error_code(resp).await, "unauthorized");
    let other = app.token("u2", Role::User);
    let resp = no_follow.get(url).bearer_auth(&other).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("location").is_none());
}

// ---------------------------------------------------------------------------------------------
// 4. GCS down mid-test

#[tokio::test]
async fn emulator_stopped_mid_test_gives_503_and_recovers() {
    let mut gcs = FakeGcs::start().await;
    let app = TestApp::spawn_with(|c| use_gcs(c, &gcs.endpoint())).await;
    let token = app.token("u1", Role::User);
    let first = pattern(20_000);
    let stored = uploaded(&app, &token, "users/u1/before.bin", first.clone()).await;
    let first_url = stored["url"].as_str().unwrap().to_owned();

    gcs.stop();

    upload_and_read_are_unavailable(&app, &token, "users/u1/during.bin", &first_url).await;

    let resp = within(
        "photo upload during the outage",
        post_photo(&app, &token, png(64, 48)),
    )
    .await;
    assert_unavailable(resp, "POST /api/media/photos").await;

    gcs.resume().await;

    assert_eq!(
        app.count("SELECT count(*) FROM media_photos", &[]),
        0,
        "no photo row for a photo that was never stored"
    );
    let list = photo_list(&app, &token, "u1").await;
    assert_eq!(list["total"], 0, "{list}");
    assert!(
        list["photos"].as_array().is_some_and(|p| p.is_empty()),
        "{list}"
    );
    assert_eq!(
        photo_objects(&gcs, "u1").await,
        Vec::<String>::new(),
        "no photo object left behind"
    );
    assert_eq!(gcs.object(MEDIA, "users/u1/during.bin").await, None);

    // Recovered: the old object is served whole and new uploads work.
    assert!(served(&app, &token, &first_url).await == first, "the first object, byte-exact");
    let after = pattern(7_000);
    uploaded(&app, &token, "users/u1/after.bin", after.clone()).await;
    assert_eq!(
        gcs.object(MEDIA, "users/u1/after.bin").await.as_deref(),
        Some(after.as_slice())
    );
    let resp = post_photo(&app, &token, png(64, 48)).await;
    assert_eq!(
        resp.status(),
        201,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    assert_eq!(app.count("SELECT count(*) FROM media_photos", &[]), 1);
}

// ---------------------------------------------------------------------------------------------
// 5. GCS answering 5xx

#[tokio::test]
async fn gcs_5xx_is_502_with_bounded_retries() {
    let gcs = FakeGcs::start().await;
    let proxy = FaultProxy::start(gcs.port).await;
    let app = TestApp::spawn_with(|c| {
        use_gcs(c, &proxy.endpoint());
        c.storage.gcs.max_retries = 2;
        // Room for every retry even on a loaded machine: the count is what is checked.
        c.storage.gcs.timeout_secs = 20;
    })
    .await;
    let token = app.token("u1", Role::User);
    uploaded(&app, &token, "users/u1/ok.bin", pattern(5_000)).await;
    assert_eq!(proxy.failed.load(Ordering::SeqCst), 0);

    proxy.set(Fault::Unavailable);
    let baseline = proxy.failed.load(Ordering::SeqCst);
    let resp = within(
        "upload against a failing GCS",
        app.upload(&token, "media", "users/u1/failing.bin", pattern(5_000)),
    )
    .await;
    assert_eq!(resp.status(), 502);
    assert_eq!(error_code(resp).await, "storage_failed");
    let attempts = proxy.failed.load(Ordering::SeqCst) - baseline;
    assert_eq!(attempts, 3, "one upload is tried 1 + max_retries times");

    let baseline = proxy.failed.load(Ordering::SeqCst);
    let resp = within(
        "photo upload against a failing GCS",
        post_photo(&app, &token, png(64, 48)),
    )
    .await;
    assert_eq!(resp.status(), 502);
    assert_eq!(error_code(resp).await, "storage_failed");
    assert!(
        proxy.failed.load(Ordering::SeqCst) > baseline,
        "the photo upload reached the proxy"
    );
    assert_eq!(app.count("SELECT count(*) FROM media_photos", &[]), 0);

    proxy.set(Fault::Pass);
    assert_eq!(gcs.object(MEDIA, "users/u1/failing.bin").await, None);
    assert_eq!(
        photo_objects(&gcs, "u1").await,
        Vec::<String>::new(),
        "no photo object left behind"
    );
    let data = pattern(6_000);
    uploaded(&app, &token, "users/u1/after.bin", data.clone()).await;
    assert_eq!(
        gcs.object(MEDIA, "users/u1/after.bin").await.as_deref(),
        Some(data.as_slice())
    );
    let list = photo_list(&app, &token, "u1").await;
    assert_eq!(list["total"], 0, "{list}");
}

// ---------------------------------------------------------------------------------------------
// 6. GCS that never answers

#[tokio::test]
async fn gcs_that_never_answers_is_503_within_the_timeout() {
    let gcs = FakeGcs::start().await;
    let proxy = FaultProxy::start(gcs.port).await;
    let app = TestApp::spawn_with(|c| use_gcs(c, &proxy.endpoint())).await;
    let token = app.token("u1", Role::User);
    let stored = uploaded(&app, &token, "users/u1/existing.bin", pattern(3_000)).await;
    let url = stored["url"].as_str().unwrap().to_owned();

    proxy.set(Fault::Stall);
    upload_and_read_are_unavailable(&app, &token, "users/u1/stalled.bin", &url).await;

    proxy.set(Fault::Pass);
    assert!(served(&app, &token, &url).await == pattern(3_000));
}

// ---------------------------------------------------------------------------------------------
// 7. Startup checks the buckets

#[tokio::test]
async fn startup_refuses_a_missing_bucket() {
    let gcs = FakeGcs::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir.path().join("data"));
    use_gcs(&mut config, &gcs.endpoint());
    config.storage.gcs.bucket_prefix = "nope-".into();
    let message = match optima::app::start(config).await {
        Ok(server) => {
            let _ = server.shutdown().await;
            panic!("the server started although no `nope-…` bucket exists");
        }
        Err(e) => e.to_string(),
    };
    assert!(message.contains("does not exist"), "{message}");
    assert!(
        message.contains("`nope-r3al-"),
        "names the missing bucket: {message}"
    );
}
