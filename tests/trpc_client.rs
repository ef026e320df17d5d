//! The tRPC endpoint against the real `@trpc/client` v11 + `superjson` from npm
//! (`tests/trpc-client/run.mjs`), plus raw-HTTP checks of wire details the JS client hides.

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

use std::time::Duration;

use helpers::{TestApp, status_and_json, trpc_input};
use node::{ensure_node_modules, run_checks};
use optima::auth::Role;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_trpc_client_with_superjson_round_trips() {
    tokio::task::spawn_blocking(ensure_node_modules).await.expect("npm ci task");
    let app = TestApp::spawn().await;
    let user = app.token("trpc_user", Role::User);
    let admin = app.token("trpc_admin", Role::Admin);
    // A user nobody else touches: run.mjs spends its free chat quota.
    let chat_user = app.token("trpc_chat_user", Role::User);
    // A fresh free user for the Music Studio checks: refused, upgraded to premium, moved back.
    let studio_user = app.token("trpc_studio_user", Role::User);
    // A fresh free user for the Writers Guild checks: refused, joins the guild, upgraded, moved back.
    let writer_user = app.token("trpc_writer_user", Role::User);
    // Two fresh free users for Tactical HQ: upgraded, registered and verified by run.mjs.
    let officer = app.token("trpc_officer", Role::User);
    let partner = app.token("trpc_partner", Role::User);
    // The users the app's Music Studio and Optima AI screens hard-code.
    let demo = app.token("demo_user", Role::User);
    let guest = app.token("guest_user", Role::User);

    let args = [&app.base, &user, &admin, &chat_user, &studio_user, &writer_user, &officer, &partner, &demo, &guest].map(String::as_str);
    let stdout = run_checks("run.mjs", &args, Duration::from_secs(120)).await;
    println!("{stdout}");
}

// ---- raw HTTP ---------------------------------------------------------------------------

/// The status, the `Content-Type` and the JSON body of an answer.
/// A verified Tactical HQ member of one department holding `clearance`; returns their token.
async fn tactical_member(app: &TestApp, user: &str, clearance: &str) -> String {
    helpers::set_tier(app, user, "unlimited").await;
    let token = app.token(user, Role::User);
    let admin = app.token("live_admin", Role::Admin);
    let registration = json!({"userId": user, "serviceBranch": "fire", "department": "Station 12", "rank": "Lieutenant"});
    assert_eq!(app.post_json("/api/tactical/register", Some(&token), &registration).await.status(), 201);
    let verified = app.put_json(&format!("/api/tactical/verify/{user}"), Some(&admin), &json!({"status": "verified", "clearanceLevel": clearance})).await;
    assert_eq!(verified.status(), 200);
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_trpc_client_subscriptions_over_sse() {
    tokio::task::spawn_blocking(ensure_node_modules).await.expect("npm ci task");
    let app = TestApp::spawn().await;
    let chief = tactical_member(&app, "live_chief", "top_secret").await;
    let medic = tactical_member(&app, "live_medic", "confidential").await;
    let stdout = run_checks("live.mjs", &[&app.base, &chief, &medic], Duration::from_secs(120)).await;
    println!("{stdout}");
}

/// The raw wire of a subscription: 200 `text/event-stream`, `connected` first, tracked events
/// with ids and superjson data, and a refusal as `serialized-error` in tRPC's error shape.
#[tokio::test]
async fn a_subscription_speaks_trpcs_sse_framing() {
    let app = TestApp::spawn().await;
    let medic = tactical_member(&app, "frame_medic", "public").await;
    let input = trpc_input(&json!({"json": {"userId": "frame_medic"}}));
    let resp = reqwest::Client::new()
        .get(app.url(&format!("/api/trpc/r3al.tactical.onComm?input={input}")))
        .bearer_auth(&medic)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut body = resp.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(5), futures_util::StreamExt::next(&mut body)).await.unwrap().unwrap().unwrap();
    let first = String::from_utf8_lossy(&first);
    assert!(first.starts_with("event: connected\ndata: {"), "{first}");
    drop(body);

    let refused = reqwest::Client::new()
        .get(app.url(&format!("/api/trpc/r3al.tactical.onComm?input={}", trpc_input(&json!({"json": {"userId": "someone_else"}})))))
        .bearer_auth(&medic)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 200, "EventSource reads no error body: the refusal is an event");
    let text = tokio::time::timeout(Duration::from_secs(5), refused.text()).await.unwrap().unwrap();
    let error = text.lines().skip_while(|l| *l != "event: serialized-error").nth(1).expect("a serialized-error event");
    let shape: Value = serde_json::from_str(error.strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(shape["json"]["data"]["code"], "FORBIDDEN", "{shape}");
    assert_eq!(shape["json"]["code"], -32003);

    let (status, _, envelope) = json_of(
        reqwest::Client::new()
            .get(app.url(&format!("/api/trpc/r3al.tactical.onComm,r3al.system.health?batch=1&input={}", trpc_input(&json!({"0": {"json": {"userId": "frame_medic"}}})))))
            .bearer_auth(&medic)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{envelope}");
}

/// Pings and the end carry an (empty) `data` line: EventSource dispatches no event without one,
/// so the link's inactivity timer would not see the pings, and it would never see the end.
#[tokio::test]
async fn pings_and_the_end_of_a_subscription_are_events_eventsource_dispatches() {
    let app = TestApp::spawn_with(|config| config.events.keepalive_secs = 1).await;
    let user = app.token("pinged", Role::User);
    let input = trpc_input(&json!({"json": {"userId": "pinged", "message": "hello"}}));
    let resp = reqwest::Client::new().get(app.url(&format!("/api/trpc/r3al.aiChat.streamMessage?input={input}"))).bearer_auth(&user).send().await.unwrap();
    let text = tokio::time::timeout(Duration::from_secs(10), resp.text()).await.expect("the reply ends").unwrap();
    assert!(text.contains("\nevent: return\ndata: "), "{text}");
    assert!(text.contains("\"done\":true"), "{text}");

    let medic = tactical_member(&app, "ping_medic", "public").await;
    let input = trpc_input(&json!({"json": {"userId": "ping_medic"}}));
    let resp = reqwest::Client::new().get(app.url(&format!("/api/trpc/r3al.tactical.onComm?input={input}"))).bearer_auth(&medic).send().await.unwrap();
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("event: ping\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), futures_util::StreamExt::next(&mut body)).await.expect("a ping within 5 s").unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: ping\ndata: "), "{seen}");
}

async fn json_of(resp: reqwest::Response) -> (u16, String, Value) {
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (status, body) = status_and_json(resp).await;
    (status, content_type, body)
}

#[tokio::test]
async fn unknown_procedure_error_envelope_has_the_exact_shape() {
    let app = TestApp::spawn().await;
    let (status, content_type, body) = json_of(app.get("/api/trpc/r3al.nope.missing", None).await).await;
    assert_eq!(status, 404);
    assert!(content_type.starts_with("application/json"), "content type {content_type}");
    assert_eq!(
        body,
        json!({"error": {"json": {
            "message": "No procedure found on path \"r3al.nope.missing\"",
            "code": -32004,
            "data": {"code": "NOT_FOUND", "httpStatus": 404, "path": "r3al.nope.missing"}
        }}})
    );
}

#[tokio::test]
async fn query_without_input_as_superjson_sends_it_gets_a_json_wrapped_result_with_date_meta() {
    let app = TestApp::spawn().await;
    let input = trpc_input(&json!({"json": null, "meta": {"values": ["undefined"], "v": 1}}));
    let (status, _, body) = json_of(app.get(&format!("/api/trpc/r3al.system.health?input={input}"), None).await).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["result"]["data"];
    assert_eq!(data["json"]["success"], true, "{body}");
    assert_eq!(data["json"]["status"], "healthy", "{body}");
    assert!(data["json"]["timestamp"].is_string(), "{body}");
    assert_eq!(data["meta"]["v"], 1, "{body}");
    assert_eq!(data["meta"]["values"]["timestamp"], json!(["Date"]), "{body}");
    assert!(body.get("error").is_none());
}

#[tokio::test]
async fn batch_with_mixed_results_is_207_with_a_json_array_in_order() {
    let app = TestApp::spawn().await;
    let token = app.token("trpc_user", Role::User);
    let input = trpc_input(&json!({"0": {"json": null, "meta": {"values": ["undefined"], "v": 1}}}));
    let path = format!("/api/trpc/r3al.system.health,r3al.nope.missing,r3al.auth.me?batch=1&input={input}");
    let (status, content_type, body) = json_of(app.get(&path, Some(&token)).await).await;
    assert_eq!(status, 207, "{body}");
    assert!(content_type.starts_with("application/json"), "content type {content_type}");
    let items = body.as_array().unwrap_or_else(|| panic!("a JSON array: {body}"));
    assert_eq!(items.len(), 3, "{body}");
    assert_eq!(items[0]["result"]["data"]["json"]["status"], "healthy", "{body}");
    assert_eq!(items[1]["error"]["json"]["code"], -32004, "{body}");
    assert_eq!(items[1]["error"]["json"]["data"]["code"], "NOT_FOUND", "{body}");
    assert_eq!(items[1]["error"]["json"]["data"]["httpStatus"], 404, "{body}");
    assert_eq!(items[1]["error"]["json"]["data"]["path"], "r3al.nope.missing", "{body}");
    assert_eq!(items[2]["result"]["data"]["json"]["userId"], "trpc_user", "{body}");
}

#[tokio::test]
async fn batch_where_all_fail_alike_takes_their_status() {
    let app = TestApp::spawn().await;
    let (status, _, body) = json_of(app.get("/api/trpc/r3al.nope.a,r3al.nope.b?batch=1", None).await).await;
    assert_eq!(status, 404, "{body}");
    let items = body.as_array().unwrap_or_else(|| panic!("a JSON array: {body}"));
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["error"]["json"]["data"]["path"], "r3al.nope.a");
    assert_eq!(items[1]["error"]["json"]["data"]["path"], "r3al.nope.b");

    let (status, _, body) = json_of(app.get("/api/trpc/r3al.system.health,r3al.system.health?batch=1", None).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(2), "{body}");
}

#[tokio::test]
async fn batched_mutations_take_inputs_keyed_by_index() {
    let app = TestApp::spawn().await;
    let token = app.token("trpc_user", Role::User);
    let body = json!({
        "0": {"json": {"bucket": "media", "path": "users/trpc_user/a.png", "method": "GET", "expiresIn": 60}},
        "1": {"json": {"bucket": "media", "path": "users/other/a.png", "method": "GET", "expiresIn": 60}},
    });
    let resp = app.post_json("/api/trpc/r3al.storage.getSignedUrl,r3al.storage.getSignedUrl?batch=1", Some(&token), &body).await;
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, 207, "{body}");
    assert!(body[0]["result"]["data"]["json"]["url"].as_str().is_some_and(|u| u.contains("signature=")), "{body}");
    assert_eq!(body[0]["result"]["data"]["meta"]["values"]["expiresAt"], json!(["Date"]), "{body}");
    assert_eq!(body[1]["error"]["json"]["data"]["code"], "FORBIDDEN", "{body}");
    assert_eq!(body[1]["error"]["json"]["data"]["httpStatus"], 403, "{body}");
}

/// What superjson sends for `{…, method: undefined, expiresIn: undefined}`: nested `null`s
/// described by `meta`. The doc says to treat `null` as absent for optional fields.
#[tokio::test]
async fn nested_undefined_fields_sent_as_null_with_meta_are_absent() {
    let app = TestApp::spawn().await;
    let token = app.token("trpc_user", Role::User);
    let body = json!({
        "json": {"bucket": "media", "path": "users/trpc_user/a.png", "method": null, "expiresIn": null},
        "meta": {"values": {"method": ["undefined"], "expiresIn": ["undefined"]}, "v": 1}
    });
    let (status, _, body) = json_of(app.post_json("/api/trpc/r3al.storage.getSignedUrl", Some(&token), &body).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["data"]["json"]["method"], "GET", "{body}");
    assert!(body["result"]["data"]["json"]["url"].as_str().is_some_and(|u| u.contains("signature=")), "{body}");
}

#[tokio::test]
async fn mutation_sent_as_text_plain_is_415() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .post(app.url("/api/trpc/r3al.auth.login"))
        .header(reqwest::header::CONTENT_TYPE, "text/plain")
        .body(json!({"json": {"username": "someone", "password": "long-enough"}}).to_string())
        .send()
        .await
        .expect("request");
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(body["error"]["json"]["code"], -32015, "{body}");
    assert_eq!(body["error"]["json"]["data"]["code"], "UNSUPPORTED_MEDIA_TYPE", "{body}");
    assert_eq!(body["error"]["json"]["data"]["httpStatus"], 415, "{body}");
}

#[tokio::test]
async fn input_without_the_json_wrapper_is_400() {
    let app = TestApp::spawn().await;
    let token = app.token("trpc_user", Role::User);

    let resp = app.post_json("/api/trpc/r3al.auth.register", None, &json!({"username": "unwrapped", "password": "long-enough"})).await;
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["json"]["code"], -32600, "{body}");
    assert_eq!(body["error"]["json"]["data"]["code"], "BAD_REQUEST", "{body}");
    assert_eq!(body["error"]["json"]["data"]["httpStatus"], 400, "{body}");
    assert_eq!(body["error"]["json"]["data"]["path"], "r3al.auth.register", "{body}");

    let input = trpc_input(&json!({"limit": 5}));
    let (status, _, body) = json_of(app.get(&format!("/api/trpc/r3al.auth.me?input={input}"), Some(&token)).await).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["json"]["data"]["code"], "BAD_REQUEST", "{body}");

    // The account was not created by the unwrapped call.
    let resp = app
        .post_json("/api/trpc/r3al.auth.login", None, &json!({"json": {"username": "unwrapped", "password": "long-enough"}}))
        .await;
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn wrong_http_method_is_405() {
    let app = TestApp::spawn().await;
    let (status, _, body) = json_of(app.post_json("/api/trpc/r3al.system.health", None, &json!({"json": null})).await).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["error"]["json"]["code"], -32005, "{body}");
    assert_eq!(body["error"]["json"]["data"]["code"], "METHOD_NOT_SUPPORTED", "{body}");

    let resp = app.client.put(app.url("/api/trpc/r3al.system.health")).send().await.expect("request");
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["error"]["json"]["data"]["code"], "METHOD_NOT_SUPPORTED", "{body}");
}

/// superjson turns strings into Dates only where `meta.values` says so: after a paid upgrade
/// the billing period of `getUserTier` must be listed there (the app reads them as Dates).
#[tokio::test]
async fn get_user_tier_marks_the_paid_billing_period_as_dates() {
    let app = TestApp::spawn().await;
    let user = app.token("tier_user", Role::User);
    let admin = app.token("tier_admin", Role::Admin);
    let upgrade = json!({
        "json": {"userId": "tier_user", "targetTier": "premium", "billingPeriod": "monthly", "paymentMethod": null},
        "meta": {"values": {"paymentMethod": ["undefined"]}, "v": 1}
    });
    let (status, _, body) = json_of(app.post_json("/api/trpc/r3al.subscription.upgradeTier", Some(&admin), &upgrade).await).await;
    assert_eq!(status, 200, "{body}");
    let subscription_id = body["result"]["data"]["json"]["subscriptionId"].as_str().unwrap_or_else(|| panic!("a subscriptionId: {body}")).to_owned();

    let input = trpc_input(&json!({"json": {"userId": "tier_user"}}));
    let (status, _, body) = json_of(app.get(&format!("/api/trpc/r3al.subscription.getUserTier?input={input}"), Some(&user)).await).await;
    assert_eq!(status, 200, "{body}");
    let sub = &body["result"]["data"]["json"]["data"]["subscription"];
    assert_eq!(sub["subscriptionId"], subscription_id.as_str(), "{body}");
    for field in ["currentPeriodStart", "currentPeriodEnd"] {
        let value = sub[field].as_str().unwrap_or_else(|| panic!("{field} is a string: {body}"));
        assert!(chrono::DateTime::parse_from_rfc3339(value).is_ok(), "{field} is RFC 3339: {body}");
        assert_eq!(
            body["result"]["data"]["meta"]["values"][format!("data.subscription.{field}")],
            json!(["Date"]),
            "meta marks data.subscription.{field} as a Date: {body}"
        );
    }
}

/// The 4th message of a free user's day: FORBIDDEN/403 in the exact tRPC envelope, telling
/// to upgrade; the successful ones carry Date meta for `data.timestamp`.
#[tokio::test]
async fn chat_quota_exhausted_is_forbidden_403_on_the_wire() {
    let app = TestApp::spawn().await;
    let token = app.token("quota_user", Role::User);
    let send = json!({
        "json": {"userId": "quota_user", "sessionId": null, "message": "hello", "context": "general", "temperature": 0.7},
        "meta": {"values": {"sessionId": ["undefined"]}, "v": 1}
    });
    for left in [2, 1, 0] {
        let (status, _, body) = json_of(app.post_json("/api/trpc/r3al.aiChat.sendMessage", Some(&token), &send).await).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["data"]["json"]["data"]["remainingMessages"], left, "{body}");
        assert_eq!(body["result"]["data"]["meta"]["values"]["data.timestamp"], json!(["Date"]), "{body}");
    }
    let (status, _, body) = json_of(app.post_json("/api/trpc/r3al.aiChat.sendMessage", Some(&token), &send).await).await;
    assert_eq!(status, 403, "{body}");
    let err = &body["error"]["json"];
    assert_eq!(err["code"], -32003, "{body}");
    assert_eq!(err["data"]["code"], "FORBIDDEN", "{body}");
    assert_eq!(err["data"]["httpStatus"], 403, "{body}");
    assert_eq!(err["data"]["path"], "r3al.aiChat.sendMessage", "{body}");
    assert!(err["message"].as_str().is_some_and(|m| m.to_lowercase().contains("upgrade")), "{body}");
    assert!(body.get("result").is_none(), "{body}");

    let input = trpc_input(&json!({"json": {"userId": "quota_user"}}));
    let (status, _, body) = json_of(app.get(&format!("/api/trpc/r3al.premium.getUsageSummary?input={input}"), Some(&token)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["data"]["json"]["usage"]["chat"], json!({"used": 3, "limit": 3}), "{body}");
    let meta = &body["result"]["data"]["meta"]["values"];
    assert_eq!(meta["usage.currentPeriod.start"], json!(["Date"]), "{body}");
    assert_eq!(meta["usage.currentPeriod.end"], json!(["Date"]), "{body}");
}
