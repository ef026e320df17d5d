use optima::auth::Role;
use serde_json::{Value, json};

use crate::blobs::pattern;
use crate::helpers::{TestApp, error_code, expect_error, files_under, uploaded};

#[tokio::test]
async fn upload_then_download_is_byte_exact() {
    let app = TestApp::spawn().await;
    let token = app.token("u1", Role::User);
    let data = pattern(1_500_000);
    let stored = uploaded(&app, &token, "users/u1/songs/take 1.wav", data.clone()).await;
    assert_eq!(stored["bucket"], "r3al-user-media");
    assert_eq!(stored["path"], "users/u1/songs/take 1.wav");
    assert_eq!(stored["size"], 1_500_000);
    assert_eq!(stored["contentType"], "audio/wav");
    let url = stored["url"].as_str().unwrap();
    assert_eq!(url, app.url("/cdn/r3al-user-media/users/u1/songs/take%201.wav"));

    let resp = app.client.get(url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "audio/wav");
    assert_eq!(h["etag"], stored["etag"].as_str().unwrap());
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["content-length"], "1500000");
    assert!(h.contains_key("last-modified"));
    assert!(h["cache-control"].to_str().unwrap().starts_with("private"));
    assert_eq!(resp.bytes().await.unwrap().as_ref(), data.as_slice());

    // The signed cdnUrl works without a token.
    let signed = app.client.get(stored["cdnUrl"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(signed.status(), 200);
    assert_eq!(signed.bytes().await.unwrap().as_ref(), data.as_slice());

    let file = app.data_dir().join("blobs/r3al-user-media/users/u1/songs/take 1.wav");
    assert_eq!(std::fs::read(file).unwrap(), data, "a real file in the bucket folder");
}

#[tokio::test]
async fn range_requests() {
    let app = TestApp::spawn().await;
    let token = app.token("u1", Role::User);
    let data = pattern(10_000);
    let stored = uploaded(&app, &token, "users/u1/r.bin", data.clone()).await;
    let url = stored["url"].as_str().unwrap();
    let get = |range: &'static str| app.client.get(url).bearer_auth(&token).header("range", range).send();

    for (range, expect, content_range) in [
        ("bytes=0-99", &data[..100], "bytes 0-99/10000"),
        ("bytes=5000-5009", &data[5000..5010], "bytes 5000-5009/10000"),
        ("bytes=-10", &data[9990..], "bytes 9990-9999/10000"),
        ("bytes=9995-", &data[9995..], "bytes 9995-9999/10000"),
        ("bytes=9990-20000", &data[9990..], "bytes 9990-9999/10000"),
        // The last 20,000 bytes of 10,000: all of them.
        ("bytes=-20000", &data[..], "bytes 0-9999/10000"),
        // A last-byte-pos at or past the end means "to the end", even past u64 (RFC 9110 §14.1.2).
        ("bytes=0-99999999999999999999", &data[..], "bytes 0-9999/10000"),
        ("bytes=9000-18446744073709551615", &data[9000..], "bytes 9000-9999/10000"),
        ("bytes=-99999999999999999999", &data[..], "bytes 0-9999/10000"),
        ("bytes=10-19, 5-14", &data[5..20], "bytes 5-19/10000"),
        ("BYTES=0-0", &data[..1], "bytes 0-0/10000"),
    ] {
        let resp = get(range).await.unwrap();
        assert_eq!(resp.status(), 206, "{range}");
        assert_eq!(resp.headers()["content-range"], content_range);
        assert_eq!(resp.headers()["content-length"], expect.len().to_string());
        assert_eq!(resp.bytes().await.unwrap().as_ref(), expect, "{range}");
    }

    // Past the end; and invalid range sets (neither a first-byte-pos nor a suffix length, a
    // last before the first), which RFC 9110 §14.2 lets a server refuse rather than ignore.
    for range in ["bytes=10000-10010", "bytes=-", "bytes=", "bytes=5-3", "bytes=0-99,-", "bytes=-0", "bytes=99999999999999999999-"] {
        let bad = get(range).await.unwrap();
        assert_eq!(bad.status(), 416, "{range}");
        assert_eq!(bad.headers()["content-range"], "bytes */10000", "{range}");
        assert_eq!(error_code(bad).await, "range_not_satisfiable", "{range}");
    }

    // An unparsable Range is ignored, as the standard says: the whole object.
    let junk = get("pages=1-2").await.unwrap();
    assert_eq!(junk.status(), 200);
    assert_eq!(junk.bytes().await.unwrap().len(), 10_000);
}

#[tokio::test]
async fn conditional_and_head_requests() {
    let app = TestApp::spawn().await;
    let token = app.token("u1", Role::User);
    let stored = uploaded(&app, &token, "users/u1/c.png", pattern(500)).await;
    let url = stored["url"].as_str().unwrap();
    let etag = stored["etag"].as_str().unwrap();

    let cached = app.client.get(url).bearer_auth(&token).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(cached.headers()["etag"], etag);
    assert!(cached.bytes().await.unwrap().is_empty());

    let changed = app.client.get(url).bearer_auth(&token).header("if-none-match", "\"other\"").send().await.unwrap();
    assert_eq!(changed.status(), 200);

    let head = app.client.head(url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "500");
    assert_eq!(head.headers()["content-type"], "image/png");
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn who_may_write_and_read_where() {
    let app = TestApp::spawn().await;
    let u1 = app.token("u1", Role::User);
    let u2 = app.token("u2", Role::User);
    let admin = app.token("ops", Role::Admin);
    let service = app.token("app-backend", Role::Service);

    // Own path: yes. Someone else's, outside users/, or the tactical bucket: no.
    assert_eq!(app.upload(&u1, "media", "users/u1/a.txt", b"a".to_vec()).await.status(), 201);
    for (bucket, path) in [("media", "users/u2/a.txt"), ("media", "public/a.txt"), ("tactical", "departments/d/comms/c/message.enc")] {
        let resp = app.upload(&u1, bucket, path, b"x".to_vec()).await;
        assert_eq!(resp.status(), 403, "{bucket}/{path}");
        assert_eq!(error_code(resp).await, "forbidden");
    }
    // Admin and service may write anywhere.
    assert_eq!(app.upload(&admin, "media", "users/u2/by-admin.txt", b"a".to_vec()).await.status(), 201);
    assert_eq!(app.upload(&service, "tactical", "departments/d/comms/c/message.enc", b"s".to_vec()).await.status(), 201);

    // Reading: the owner and privileged callers; not another user, not anonymous.
    let url = "/cdn/r3al-user-media/users/u1/a.txt";
    assert_eq!(app.get(url, Some(&u1)).await.status(), 200);
    assert_eq!(app.get(url, Some(&admin)).await.status(), 200);
    assert_eq!(app.get(url, Some(&service)).await.status(), 200);
    assert_eq!(app.get(url, Some(&u2)).await.status(), 403);
    let anon = app.get(url, None).await;
    assert_eq!(anon.status(), 401);
    assert_eq!(error_code(anon).await, "unauthorized");
    assert_eq!(app.get("/cdn/r3al-tactical-secure/departments/d/comms/c/message.enc", Some(&u1)).await.status(), 403);
    assert_eq!(app.get(url, Some("garbage")).await.status(), 401);
}

#[tokio::test]
async fn public_buckets_are_readable_by_anyone() {
    let app = TestApp::spawn_with(|c| c.storage.public_buckets = vec!["r3al-user-media".into()]).await;
    let token = app.token("u1", Role::User);
    let stored = uploaded(&app, &token, "users/u1/shared/cover.jpg", pattern(100)).await;
    assert_eq!(stored["cdnUrl"], stored["url"], "public objects need no signature");
    let resp = app.get("/cdn/r3al-user-media/users/u1/shared/cover.jpg", None).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["cache-control"].to_str().unwrap().starts_with("public"));
}

#[tokio::test]
async fn signed_urls_valid_expired_tampered() {
    let app = TestApp::spawn().await;
    let token = app.token("u1", Role::User);
    uploaded(&app, &token, "users/u1/s.txt", b"secret bytes".to_vec()).await;
    let sign = |method: &str, path: &str, expires_in: i64| {
        let body = json!({"bucket": "media", "path": path, "method": method, "expiresIn": expires_in});
        let token = token.clone();
        let app = &app;
        async move { app.post_json("/api/storage/signed-url", Some(&token), &body).await }
    };
    let signed: Value = sign("GET", "users/u1/s.txt", 60).await.json().await.unwrap();
    let url = signed["url"].as_str().unwrap().to_owned();
    assert!(chrono::DateTime::parse_from_rfc3339(signed["expiresAt"].as_str().unwrap()).is_ok());
    let ok = app.client.get(&url).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.bytes().await.unwrap().as_ref(), b"secret bytes");

    // Tampering with any part: path, expiry, signature, method.
    let tampered = [
        url.replace("s.txt", "t.txt"),
        url.replace("expires=", "expires=9"),
        format!("{}A", url),
        url.replace("signature=", "signature=x"),
    ];
    for t in tampered {
        let resp = app.client.get(&t).send().await.unwrap();
        assert!(matches!(resp.status().as_u16(), 403 | 404), "{t}: {}", resp.status());
        if resp.status() == 403 {
            assert_eq!(error_code(resp).await, "invalid_signature", "{t}");
        }
    }
    assert_eq!(app.client.put(&url).body("overwrite").send().await.unwrap().status(), 403, "a GET URL does not allow PUT");

    // Expired.
    let short: Value = sign("GET", "users/u1/s.txt", 1).await.json().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let expired = app.client.get(short["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(expired.status(), 403);
    assert_eq!(error_code(expired).await, "signature_expired");

    // A PUT URL uploads without a token.
    let put: Value = sign("PUT", "users/u1/direct.bin", 60).await.json().await.unwrap();
    let resp = app.client.put(put["url"].as_str().unwrap()).body(pattern(3000)).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let back = app.get("/cdn/r3al-user-media/users/u1/direct.bin", Some(&token)).await.bytes().await.unwrap();
    assert_eq!(back.as_ref(), pattern(3000).as_slice());

    // Limits and ownership.
    for (method, path, expires_in, status) in [
        ("GET", "users/u1/s.txt", 0, 400),
        ("GET", "users/u1/s.txt", 604_801, 400),
        ("GET", "users/u2/s.txt", 60, 403),
        ("DELETE", "users/u1/s.txt", 60, 400),
    ] {
        assert_eq!(sign(method, path, expires_in).await.status(), status, "{method} {path} {expires_in}");
    }
}

#[tokio::test]
async fn every_traversal_form_is_rejected_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let token = app.token("u1", Role::User);
    let admin = app.token("ops", Role::Admin);
    let before = files_under(app.dir.path());
    let paths = [
        "../../../etc/passwd",
        "users/u1/../../../x",
        "users/u1/../u2/x",
        "/etc/passwd",
        "users/u1/a\\..\\..\\b",
        "users/u1/a\0b",
        "users/u1/%2e%2e/%2e%2e/x",
        "users/u1/%252e%252e/x",
        "users/u1//x",
        "users/u1/x/",
        "users/u1/./x",
        "",
        &format!("users/u1/{}", "a/".repeat(600)),
    ];
    for path in paths {
        for t in [&token, &admin] {
            let resp = app.upload(t, "media", path, b"evil".to_vec()).await;
            assert_eq!(resp.status(), 400, "{path:?}");
            let code = error_code(resp).await;
            assert!(code == "invalid_path" || code == "invalid_request", "{path:?}: {code}");
        }
    }
    let unknown = app.upload(&admin, "r3al-nope", "users/u1/x", b"x".to_vec()).await;
    assert_eq!(unknown.status(), 400);
    assert_eq!(error_code(unknown).await, "unknown_bucket");
    assert_eq!(files_under(app.dir.path()), before, "nothing was written anywhere");
    assert!(!app.dir.path().parent().unwrap().join("x").exists());

    // The same forms through /cdn (raw, percent-encoded and double-encoded).
    for raw in ["/cdn/r3al-user-media/users/u1/%2e%2e/%2e%2e/%2e%2e/keys/jwt.key", "/cdn/r3al-user-media/users/u1/%252e%252e/x", "/cdn/r3al-user-media/users/u1/a%5Cb", "/cdn/r3al-user-media/users/u1/a%00b", "/cdn/nope/users/u1/x"] {
        let resp = app.get(raw, Some(&admin)).await;
        assert_eq!(resp.status(), 400, "{raw}");
    }
}

#[tokio::test]
async fn oversized_uploads_are_refused_with_413() {
    let app = TestApp::spawn_with(|c| c.storage.max_upload_bytes = 1000).await;
    let token = app.token("u1", Role::User);
    let resp = app.upload(&token, "media", "users/u1/big.bin", pattern(1001)).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(error_code(resp).await, "payload_too_large");
    assert_eq!(app.upload(&token, "media", "users/u1/ok.bin", pattern(1000)).await.status(), 201);
    // Far past the limit the declared length alone is refused.
    let resp = app.upload(&token, "media", "users/u1/huge.bin", pattern(2_000_000)).await;
    assert_eq!(resp.status(), 413);
    assert!(!app.data_dir().join("blobs/r3al-user-media/users/u1/big.bin").exists());
    assert!(!app.data_dir().join("blobs/r3al-user-media/users/u1/huge.bin").exists());
}

#[tokio::test]
async fn delete_by_url() {
    let app = TestApp::spawn().await;
    let u1 = app.token("u1", Role::User);
    let u2 = app.token("u2", Role::User);
    let stored = uploaded(&app, &u1, "users/u1/d.txt", b"bye".to_vec()).await;
    let url = stored["url"].as_str().unwrap();
    let delete = |token: &str, url: &str| {
        app.client.delete(app.url("/api/storage/delete")).bearer_auth(token).json(&json!({"url": url})).send()
    };
    assert_eq!(delete(&u2, url).await.unwrap().status(), 403);
    assert_eq!(delete(&u1, "http://elsewhere/not-cdn/x").await.unwrap().status(), 400);
    let resp = delete(&u1, stored["cdnUrl"].as_str().unwrap()).await.unwrap();
    assert_eq!(resp.status(), 200, "the signed form of the URL names the same object");
    assert_eq!(resp.json::<Value>().await.unwrap()["deleted"], true);
    assert_eq!(app.get("/cdn/r3al-user-media/users/u1/d.txt", Some(&u1)).await.status(), 404);
    let again = delete(&u1, url).await.unwrap();
    assert_eq!(again.status(), 404);
    assert_eq!(error_code(again).await, "not_found");
}

#[tokio::test]
async fn missing_multipart_fields_are_named() {
    let app = TestApp::spawn().await;
    let token = app.token("u1", Role::User);
    let form = reqwest::multipart::Form::new().text("bucket", "media").text("path", "users/u1/x");
    let resp = app.client.post(app.url("/api/storage/upload")).bearer_auth(&token).multipart(form).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("file"), "{body}");
}

#[tokio::test]
async fn buckets_exist_on_start() {
    let app = TestApp::spawn().await;
    for bucket in ["r3al-studio-music", "r3al-writers-guild", "r3al-premium-images", "r3al-tactical-secure", "r3al-user-media"] {
        assert!(app.bucket_dir(bucket).is_dir(), "{bucket}");
    }
}

#[tokio::test]
async fn cdn_paths_are_percent_decoded_once() {
    let app = TestApp::spawn().await;
    let bob = app.token("bob", Role::User);
    uploaded(&app, &bob, "users/bob/ok.txt", b"bob's".to_vec()).await;
    // Decoded once, these are `users/%62ob/ok.txt` and `users/bob/ok%2Etxt`: the `%` left over
    // is refused, never decoded a second time into bob's object.
    for raw in ["/cdn/r3al-user-media/users/%2562ob/ok.txt", "/cdn/r3al-user-media/users/bob/ok%252Etxt"] {
        expect_error(app.get(raw, Some(&bob)).await, 400, "invalid_path", raw).await;
        let put = app.client.put(app.url(raw)).bearer_auth(&bob).body("overwrite").send().await.unwrap();
        assert_eq!(put.status(), 400, "PUT {raw}");
    }
    // Encoded once, the same characters do name the object.
    let once = app.get("/cdn/r3al-user-media/users/%62ob/ok%2Etxt", Some(&bob)).await;
    assert_eq!(once.status(), 200);
    assert_eq!(once.bytes().await.unwrap().as_ref(), b"bob's");
}

#[tokio::test]
async fn if_range_and_if_modified_since_follow_rfc_9110() {
    let app = TestApp::spawn().await;
    let token = app.token("u1", Role::User);
    let data = pattern(1_000);
    let stored = uploaded(&app, &token, "users/u1/cond.bin", data.clone()).await;
    let url = stored["url"].as_str().unwrap();
    let etag = stored["etag"].as_str().unwrap().to_owned();
    let first = app.client.get(url).bearer_auth(&token).send().await.unwrap();
    let last_modified = first.headers()["last-modified"].to_str().unwrap().to_owned();

    let ranged = |if_range: String| app.client.get(url).bearer_auth(&token).header("range", "bytes=0-9").header("if-range", if_range).send();
    // The current validator, strong ETag or exact date: the range.
    for validator in [etag.clone(), last_modified.clone()] {
        let resp = ranged(validator.clone()).await.unwrap();
        assert_eq!(resp.status(), 206, "{validator}");
        assert_eq!(resp.bytes().await.unwrap().as_ref(), &data[..10], "{validator}");
    }
    // Anything else, including a weak tag and values that are neither tag nor date: the whole object.
    for validator in [
        "\"other\"".to_owned(),
        format!("W/{etag}"),
        "Mon, 01 Jan 2001 00:00:00 GMT".to_owned(),
        "not a validator".to_owned(),
        etag.trim_matches('"').to_owned(),
        "*".to_owned(),
    ] {
        let resp = ranged(validator.clone()).await.unwrap();
        assert_eq!(resp.status(), 200, "{validator}");
        assert!(resp.headers().get("content-range").is_none(), "{validator}");
        assert_eq!(resp.bytes().await.unwrap().as_ref(), data.as_slice(), "{validator}");
    }

    let since = |date: String| app.client.get(url).bearer_auth(&token).header("if-modified-since", date).send();
    assert_eq!(since(last_modified.clone()).await.unwrap().status(), 304);
    // A date later than the server's clock is invalid and ignored (§13.1.3).
    let future = httpdate_in(chrono::Duration::days(1));
    let resp = since(future.clone()).await.unwrap();
    assert_eq!(resp.status(), 200, "{future}");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), data.as_slice());
}

/// An IMF-fixdate `offset` from now.
fn httpdate_in(offset: chrono::Duration) -> String {
    (chrono::Utc::now() + offset).format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[tokio::test]
async fn user_content_is_delivered_with_protective_headers() {
    let app = TestApp::spawn().await;
    let token = app.token("u1", Role::User);
    for (path, bytes, content_type, attachment) in [
        ("users/u1/page.html", b"<script>alert(document.cookie)</script>".to_vec(), "text/html", true),
        ("users/u1/icon.svg", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec(), "image/svg+xml", true),
        ("users/u1/tool.js", b"alert(1)".to_vec(), "text/javascript", true),
        ("users/u1/blob.bin", pattern(100), "application/octet-stream", true),
        ("users/u1/photo.png", pattern(100), "image/png", false),
        ("users/u1/notes.txt", b"plain words".to_vec(), "text/plain", false),
    ] {
        let stored = uploaded(&app, &token, path, bytes).await;
        let url = stored["url"].as_str().unwrap();
        let etag = stored["etag"].as_str().unwrap();
        let whole = app.client.get(url).bearer_auth(&token).send().await.unwrap();
        let part = app.client.get(url).bearer_auth(&token).header("range", "bytes=0-3").send().await.unwrap();
        let head = app.client.head(url).bearer_auth(&token).send().await.unwrap();
        let cached = app.client.get(url).bearer_auth(&token).header("if-none-match", etag).send().await.unwrap();
        let signed = app.client.get(stored["cdnUrl"].as_str().unwrap()).send().await.unwrap();
        for (what, resp) in [("200", whole), ("206", part), ("HEAD", head), ("304", cached), ("signed", signed)] {
            let h = resp.headers();
            assert_eq!(h["content-type"], content_type, "{path} {what}");
            // The browser must not guess a more dangerous type, nor run anything it renders.
            assert_eq!(h["x-content-type-options"], "nosniff", "{path} {what}");
            assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox", "{path} {what}");
            let disposition = h.get("content-disposition").map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(disposition.as_deref(), attachment.then_some("attachment"), "{path} {what}");
        }
    }
}

#[tokio::test]
async fn trpc_delete_object() {
    let app = TestApp::spawn().await;
    let u1 = app.token("u1", Role::User);
    let u2 = app.token("u2", Role::User);
    let stored = uploaded(&app, &u1, "users/u1/t.txt", b"bye".to_vec()).await;
    let url = stored["url"].as_str().unwrap();
    let file = app.data_dir().join("blobs/r3al-user-media/users/u1/t.txt");
    let delete = |token: Option<&str>, input: Value| {
        let app = &app;
        let token = token.map(str::to_owned);
        async move { app.trpc_mutation("r3al.storage.deleteObject", token.as_deref(), &input).await }
    };

    for (token, input, status, code) in [
        (Some(u2.as_str()), json!({"url": url}), 403, "FORBIDDEN"),
        (None, json!({"url": url}), 401, "UNAUTHORIZED"),
        (Some(u1.as_str()), json!({"url": "http://elsewhere/not-cdn/x"}), 400, "BAD_REQUEST"),
        (Some(u1.as_str()), json!({}), 400, "BAD_REQUEST"),
    ] {
        let (got, body) = delete(token, input.clone()).await;
        assert_eq!(got, status, "{input}: {body}");
        assert_eq!(body["error"]["json"]["data"]["code"], code, "{input}: {body}");
        assert!(file.exists(), "{input} left the object alone");
    }

    // The signed form names the same object, as on REST.
    let (status, body) = delete(Some(&u1), json!({"url": stored["cdnUrl"]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["data"]["json"], json!({"success": true, "deleted": true, "bucket": "r3al-user-media", "path": "users/u1/t.txt"}));
    assert!(!file.exists());
    assert_eq!(app.get("/cdn/r3al-user-media/users/u1/t.txt", Some(&u1)).await.status(), 404);
    let (status, body) = delete(Some(&u1), json!({"url": url})).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["json"]["data"]["code"], "NOT_FOUND", "{body}");
}

#[tokio::test]
async fn users_cannot_write_or_delete_generated_files() {
    let app = TestApp::spawn().await;
    let u1 = app.token("u1", Role::User);
    let service = app.token("app-backend", Role::Service);
    let admin = app.token("ops", Role::Admin);
    let original = b"what the server generated".to_vec();
    for (bucket, bucket_name, path) in [
        ("music", "r3al-studio-music", "users/u1/projects/p1/preview/p1_preview.mp3"),
        ("writing", "r3al-writers-guild", "users/u1/projects/p1/manuscript.txt"),
        ("images", "r3al-premium-images", "users/u1/generations/g1/original.png"),
        ("media", "r3al-user-media", "users/u1/profile/avatar.jpg"),
        ("media", "r3al-user-media", "users/u1/profile/photos/ph1.jpg"),
        ("media", "r3al-user-media", "users/u1/nfts/n1.json"),
    ] {
        // Where the server writes, as the features do (a service token may, like them).
        assert_eq!(app.upload(&service, bucket, path, original.clone()).await.status(), 201, "{path}");
        let cdn = format!("/cdn/{bucket_name}/{path}");
        let file = app.bucket_dir(bucket_name).join(path);

        let upload = app.upload(&u1, bucket, path, b"replaced".to_vec()).await;
        expect_error(upload, 403, "generated_path", &format!("upload {path}")).await;
        let signed = app.post_json("/api/storage/signed-url", Some(&u1), &json!({"bucket": bucket, "path": path, "method": "PUT", "expiresIn": 60})).await;
        expect_error(signed, 403, "generated_path", &format!("signed PUT {path}")).await;
        let put = app.client.put(app.url(&cdn)).bearer_auth(&u1).body("replaced").send().await.unwrap();
        expect_error(put, 403, "generated_path", &format!("PUT {cdn}")).await;
        let delete = app.client.delete(app.url("/api/storage/delete")).bearer_auth(&u1).json(&json!({"url": cdn})).send().await.unwrap();
        expect_error(delete, 403, "generated_path", &format!("delete {path}")).await;
        let (status, body) = app.trpc_mutation("r3al.storage.deleteObject", Some(&u1), &json!({"url": cdn})).await;
        assert_eq!(status, 403, "tRPC delete {path}: {body}");
        assert_eq!(body["error"]["json"]["data"]["code"], "FORBIDDEN", "{body}");
        assert_eq!(std::fs::read(&file).unwrap(), original, "{path} is untouched");

        // The owner still reads it, by bearer or by a signed GET URL.
        assert_eq!(app.get(&cdn, Some(&u1)).await.bytes().await.unwrap().as_ref(), original.as_slice(), "{path}");
        let signed = app.post_json("/api/storage/signed-url", Some(&u1), &json!({"bucket": bucket, "path": path, "method": "GET", "expiresIn": 60})).await;
        assert_eq!(signed.status(), 200, "signed GET {path}");
        // Admin tokens keep access for repairs.
        assert_eq!(app.upload(&admin, bucket, path, original.clone()).await.status(), 201, "admin upload {path}");
    }

    // An object named like a generated folder would stand in its way; other case spellings
    // would reach the same folder on a case-insensitive file system.
    for (bucket, path) in [("music", "users/u1/projects"), ("images", "users/u1/generations"), ("media", "users/u1/Profile/avatar.jpg")] {
        expect_error(app.upload(&u1, bucket, path, b"x".to_vec()).await, 403, "generated_path", &format!("{bucket}/{path}")).await;
    }
    // Everything else in the user's space stays theirs.
    for (bucket, path) in [
        ("music", "users/u1/uploads/projects/take.wav"),
        ("music", "users/u1/projects-old.txt"),
        ("media", "users/u1/projects/p1/cover.png"),
        ("images", "users/u1/profile/x.png"),
        ("writing", "users/u1/drafts/a.txt"),
    ] {
        assert_eq!(app.upload(&u1, bucket, path, b"mine".to_vec()).await.status(), 201, "{bucket}/{path}");
    }
}
