//! Subscriptions over HTTP: tiers and their limits, feature gates, usage quotas (including many
//! concurrent requests for the last unit), tier changes with the manual provider and with Stripe
//! (against a fake Stripe served on 127.0.0.1), and Stripe's signed webhook.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, Utc};
use std::time::{Duration, Instant};
use optima::auth::Role;
use optima::features::subscription::plan::Limit;
use serde_json::{Value, json};

use optima::clock::Clock;

use crate::fake_stripe::{FakeStripe, WEBHOOK_SECRET, sign};
use crate::helpers::{TestApp, TestClock, error_code, names_field, ok, refused, set_tier};

// ---------------------------------------------------------------------------------------------
// Helpers

const TRACK: &str = "/api/subscription/track-usage";
const UPGRADE: &str = "/api/subscription/upgrade";
const CHECK: &str = "/api/subscription/check-access";
const WEBHOOK: &str = "/api/subscription/webhook/stripe";

async fn tier(app: &TestApp, token: &str, user: &str) -> Value {
    ok(app.get(&format!("/api/subscription/tier/{user}"), Some(token)).await).await
}

/// `by` moves `user` to `new_tier`; asserts 200 and returns the answer.
async fn change_tier(app: &TestApp, by: &str, user: &str, new_tier: &str) -> Value {
    ok(app.post_json(UPGRADE, Some(by), &json!({"userId": user, "newTier": new_tier})).await).await
}

async fn track(app: &TestApp, token: &str, user: &str, feature: &str, amount: Value) -> reqwest::Response {
    app.post_json(TRACK, Some(token), &json!({"userId": user, "feature": feature, "amount": amount})).await
}

async fn access_get(app: &TestApp, token: &str, user: &str, feature: &str) -> reqwest::Response {
    app.get(&format!("{CHECK}/{user}/{feature}"), Some(token)).await
}

async fn access_post(app: &TestApp, token: &str, user: &str, feature: &str) -> reqwest::Response {
    app.post_json(CHECK, Some(token), &json!({"userId": user, "feature": feature})).await
}

/// Every usage_counters row of a user's feature: (window_start, used, reserved).
fn counters(app: &TestApp, user: &str, feature: &str) -> Vec<(String, i64, i64)> {
    app.rows("SELECT window_start, used, reserved FROM usage_counters WHERE user_id = ?1 AND feature = ?2 ORDER BY window_start", &[&user, &feature])
        .iter()
        .map(|r| (r.time(0).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Secs, true), r.int(1), r.int(2)))
        .collect()
}

#[derive(Debug, PartialEq)]
struct Change {
    changed_by: String,
    from: String,
    to: String,
    provider: String,
    receipt: String,
}

/// Every subscription_changes row of a user, oldest first.
fn changes(app: &TestApp, user: &str) -> Vec<Change> {
    // Change ids are UUIDv7: made in order, they sort in order within one instant.
    app.rows(
        "SELECT changed_by, from_tier, to_tier, provider, receipt FROM subscription_changes WHERE user_id = ?1 ORDER BY changed_at, change_id",
        &[&user],
    )
    .iter()
    .map(|r| Change {
        changed_by: r.text(0).unwrap(),
        from: r.text(1).unwrap(),
        to: r.text(2).unwrap(),
        provider: r.text(3).unwrap(),
        receipt: r.text(4).unwrap(),
    })
    .collect()
}

fn change(by: &str, from: &str, to: &str, provider: &str, receipt: &str) -> Change {
    Change { changed_by: by.into(), from: from.into(), to: to.into(), provider: provider.into(), receipt: receipt.into() }
}

/// Every payments row: (the provider's id, user_id, tier, amount_cents, status).
fn payments(app: &TestApp) -> Vec<(String, String, String, i64, String)> {
    app.rows("SELECT coalesce(external_id, ''), user_id, tier, amount_cents, status FROM payments ORDER BY created_at, payment_id", &[])
        .iter()
        .map(|r| (r.text(0).unwrap(), r.text(1).unwrap(), r.text(2).unwrap(), r.int(3), r.text(4).unwrap()))
        .collect()
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a timestamp, got {v}"))).expect("RFC 3339").with_timezone(&Utc)
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    time(&json!(rfc3339))
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

fn next_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    midnight(now.date_naive() + Days::new(1))
}

fn next_monday(now: DateTime<Utc>) -> DateTime<Utc> {
    let d = now.date_naive();
    midnight(d + Days::new(7 - u64::from(d.weekday().num_days_from_monday())))
}

fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    midnight(now.date_naive().with_day(1).unwrap())
}

fn next_month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    month_start(now) + Months::new(1)
}

// ---------------------------------------------------------------------------------------------
// 1. Tiers: limits, prices, usage windows

fn assert_usage_entry(entry: &Value, feature: &str, window: &str) {
    let obj = entry.as_object().unwrap_or_else(|| panic!("usage entry of {feature} is an object: {entry}"));
    for key in ["used", "limit", "remaining", "resetAt"] {
        assert!(obj.contains_key(key), "usage entry of {feature} has `{key}`: {entry}");
    }
    assert_eq!(entry["feature"], feature);
    assert_eq!(entry["window"], window);
}

#[tokio::test]
async fn tiers_show_the_seed_limits_prices_and_usage_windows() {
    // A Wednesday afternoon: the day, week and month windows end at three different times.
    let clock = TestClock::at("2026-12-02T15:04:05Z");
    let app = TestApp::spawn_at(clock.clone(), |_| {}).await;
    let admin = app.token("ops", Role::Admin);
    let f1 = app.token("f1", Role::User);
    let p1 = app.token("p1", Role::User);
    let u1 = app.token("u1", Role::User);
    assert_eq!(change_tier(&app, &admin, "p1", "premium").await["tier"], "premium");
    assert_eq!(change_tier(&app, &admin, "u1", "tactical").await["tier"], "unlimited", "the app's `tactical` is unlimited");

    let before = clock.now();
    let free = tier(&app, &f1, "f1").await;
    assert_eq!(free["userId"], "f1");
    assert_eq!(free["tier"], "free");
    assert_eq!(free["status"], "active");
    let l = &free["limits"];
    assert_eq!(l["aiChat"], json!({"limit": 3, "window": "day"}), "free: 3 chat messages a day");
    assert_eq!(l["imageGeneration"], json!({"limit": 1, "window": "week"}), "free: 1 image a week");
    assert_eq!(l["musicGeneration"]["limit"], 0);
    assert_eq!(l["aiWriting"]["limit"], 0);
    assert_eq!(l["musicProjects"], 0);
    assert_eq!(l["writingProjects"], 0);
    assert_eq!(l["writersGuild"], false);
    assert_eq!(l["tactical"], false);
    assert_eq!(free["prices"]["monthly"], json!(0.0));
    assert_eq!(free["prices"]["currency"], "usd");
    let u = &free["usage"];
    assert_usage_entry(&u["aiChat"], "ai_chat", "day");
    assert_usage_entry(&u["imageGeneration"], "image_generation", "week");
    assert_usage_entry(&u["musicGeneration"], "music_generation", "month");
    assert_usage_entry(&u["aiWriting"], "ai_writing", "day");
    assert_eq!(u["aiChat"]["used"], 0);
    assert_eq!(u["aiChat"]["limit"], 3);
    assert_eq!(u["aiChat"]["remaining"], 3);
    assert_eq!(time(&u["aiChat"]["resetAt"]), next_midnight(before), "the daily window ends at the next UTC midnight");
    assert_eq!(u["imageGeneration"]["remaining"], 1);
    assert_eq!(time(&u["imageGeneration"]["resetAt"]), next_monday(before), "the weekly window ends on Monday 00:00 UTC");
    assert_eq!(time(&u["musicGeneration"]["resetAt"]), next_month_start(before));
    assert_eq!(time(&free["resetAt"]), next_midnight(before), "the soonest reset of a limited quota");

    let premium = tier(&app, &p1, "p1").await;
    assert_eq!(premium["tier"], "premium");
    let l = &premium["limits"];
    assert_eq!(l["aiChat"], json!({"limit": 100, "window": "day"}));
    assert_eq!(l["imageGeneration"], json!({"limit": 20, "window": "month"}));
    assert_eq!(l["musicProjects"], 5);
    assert_eq!(l["writingProjects"], 10);
    assert_eq!(l["writersGuild"], true);
    assert_eq!(l["tactical"], false);
    assert_eq!(premium["prices"]["monthly"], json!(9.99));
    let u = &premium["usage"];
    for (key, feature, window) in [
        ("aiChat", "ai_chat", "day"),
        ("imageGeneration", "image_generation", "month"),
        ("musicGeneration", "music_generation", "month"),
        ("aiWriting", "ai_writing", "day"),
    ] {
        assert_usage_entry(&u[key], feature, window);
    }
    assert_eq!(u["aiChat"]["remaining"], 100);
    assert_eq!(time(&u["aiChat"]["resetAt"]), next_midnight(before));
    assert_eq!(u["imageGeneration"]["limit"], 20);
    assert_eq!(time(&u["imageGeneration"]["resetAt"]), next_month_start(before), "the monthly window ends on the 1st, 00:00 UTC");

    let unlimited = tier(&app, &u1, "u1").await;
    assert_eq!(unlimited["tier"], "unlimited");
    let l = &unlimited["limits"];
    for key in ["aiChat", "imageGeneration", "musicGeneration", "aiWriting"] {
        assert!(l[key].as_object().unwrap().contains_key("limit") && l[key]["limit"].is_null(), "unlimited {key}: null limit: {l}");
    }
    for key in ["musicProjects", "writingProjects"] {
        assert!(l.as_object().unwrap().contains_key(key) && l[key].is_null(), "unlimited {key}: null: {l}");
    }
    assert_eq!(l["tactical"], true);
    assert_eq!(unlimited["prices"]["monthly"], json!(29.99));
    let u = &unlimited["usage"];
    assert_usage_entry(&u["aiChat"], "ai_chat", "day");
    assert!(u["aiChat"]["limit"].is_null() && u["aiChat"]["remaining"].is_null(), "{u}");
    assert_eq!(u["aiChat"]["used"], 0);

    // Who may read a tier.
    let other = app.get("/api/subscription/tier/p1", Some(&f1)).await;
    assert_eq!(other.status(), 403);
    assert_eq!(error_code(other).await, "forbidden");
    assert_eq!(tier(&app, &admin, "f1").await["tier"], "free");
    assert_eq!(tier(&app, &app.token("backend", Role::Service), "p1").await["tier"], "premium");
    assert_eq!(app.get("/api/subscription/tier/f1", None).await.status(), 401);
}

// ---------------------------------------------------------------------------------------------
// 2. check-access

#[tokio::test]
async fn check_access_by_tier_get_and_post() {
    let app = TestApp::spawn().await;
    let admin = app.token("ops", Role::Admin);
    set_tier(&app, "prem", "premium").await;
    set_tier(&app, "unl", "unlimited").await;

    // (user, feature, has access, upgrade to when refused)
    let cases: &[(&str, &str, bool, Option<&str>)] = &[
        ("free", "ai_chat", true, None),
        ("free", "chat", true, None),
        ("free", "image_generation", true, None),
        ("free", "music_generation", false, Some("premium")),
        ("free", "ai_writing", false, Some("premium")),
        ("free", "writers_guild", false, Some("premium")),
        ("free", "unrestricted_content", false, Some("unlimited")),
        ("free", "priority_processing", false, Some("unlimited")),
        ("free", "tactical", false, Some("unlimited")),
        ("prem", "ai_chat", true, None),
        ("prem", "image_generation", true, None),
        ("prem", "music_generation", true, None),
        ("prem", "ai_writing", true, None),
        ("prem", "writers_guild", true, None),
        ("prem", "unrestricted_content", false, Some("unlimited")),
        ("prem", "priority_processing", false, Some("unlimited")),
        ("prem", "tactical", false, Some("unlimited")),
        ("unl", "ai_chat", true, None),
        ("unl", "image_generation", true, None),
        ("unl", "music_generation", true, None),
        ("unl", "ai_writing", true, None),
        ("unl", "writers_guild", true, None),
        ("unl", "unrestricted_content", true, None),
        ("unl", "priority_processing", true, None),
        ("unl", "tactical", true, None),
    ];
    let expected_tier = |user: &str| match user {
        "free" => "free",
        "prem" => "premium",
        _ => "unlimited",
    };
    for &(user, feature, has, upgrade_to) in cases {
        let token = app.token(user, Role::User);
        let by_get = ok(access_get(&app, &token, user, feature).await).await;
        let by_post = ok(access_post(&app, &token, user, feature).await).await;
        for answer in [&by_get, &by_post] {
            let what = format!("{user} {feature}: {answer}");
            assert_eq!(answer["userId"], user, "{what}");
            assert_eq!(answer["tier"], expected_tier(user), "{what}");
            assert_eq!(answer["hasAccess"], has, "{what}");
            assert_eq!(answer["upgradeRequired"], upgrade_to.is_some(), "{what}");
            if let Some(target) = upgrade_to {
                assert_eq!(answer["upgradeTo"], target, "{what}");
            }
            assert!(answer["reason"].as_str().is_some_and(|r| !r.is_empty()), "{what}");
        }
        assert_eq!(by_get, by_post, "GET and POST agree");
    }

    // Metered features report their window; `chat` is the app's name for ai_chat.
    let free = app.token("free", Role::User);
    let chat = ok(access_post(&app, &free, "free", "chat").await).await;
    assert_eq!(chat["feature"], "ai_chat");
    assert_eq!(chat["usageRemaining"], 3);
    assert_eq!(chat["limit"], 3);
    assert_eq!(chat["used"], 0);
    let unl = ok(access_get(&app, &app.token("unl", Role::User), "unl", "ai_chat").await).await;
    assert!(unl["usageRemaining"].is_null() && unl["limit"].is_null(), "{unl}");

    // A used-up quota: no access now, premium would give more.
    ok(track(&app, &free, "free", "ai_chat", json!(3)).await).await;
    let used_up = ok(access_get(&app, &free, "free", "ai_chat").await).await;
    assert_eq!(used_up["hasAccess"], false, "{used_up}");
    assert_eq!(used_up["usageRemaining"], 0);
    assert_eq!(used_up["upgradeTo"], "premium");
    assert_eq!(used_up["upgradeRequired"], true);

    // Unknown features, missing fields, other users.
    let body = names_field(access_get(&app, &free, "free", "teleport").await, "feature").await;
    assert_eq!(body["error"]["details"]["field"], "feature", "{body}");
    let body = names_field(access_post(&app, &free, "free", "teleport").await, "feature").await;
    assert_eq!(body["error"]["details"]["field"], "feature", "{body}");
    names_field(app.post_json(CHECK, Some(&free), &json!({"userId": "free"})).await, "feature").await;
    names_field(app.post_json(CHECK, Some(&free), &json!({"feature": "ai_chat"})).await, "userId").await;
    refused(access_get(&app, &free, "prem", "ai_chat").await, 403, "forbidden").await;
    refused(access_post(&app, &free, "prem", "ai_chat").await, 403, "forbidden").await;
    assert_eq!(ok(access_get(&app, &admin, "prem", "tactical").await).await["hasAccess"], false);
    assert_eq!(ok(access_post(&app, &app.token("svc", Role::Service), "unl", "tactical").await).await["hasAccess"], true);
}

// ---------------------------------------------------------------------------------------------
// 3. track-usage

#[tokio::test]
async fn track_usage_charges_until_the_limit_then_refuses() {
    let clock = TestClock::at("2026-12-02T23:59:00Z");
    let app = TestApp::spawn_at(clock.clone(), |_| {}).await;
    let t1 = app.token("t1", Role::User);

    let first = ok(track(&app, &t1, "t1", "ai_chat", json!(1)).await).await;
    assert_eq!(first["userId"], "t1");
    assert_eq!(first["feature"], "ai_chat");
    assert_eq!(first["newUsage"], 1);
    assert_eq!(first["limitReached"], false);
    assert_eq!(first["limit"], 3);
    assert_eq!(first["remaining"], 2);
    let second = ok(track(&app, &t1, "t1", "chat", json!(2)).await).await;
    assert_eq!(second["newUsage"], 3);
    assert_eq!(second["limitReached"], true);
    assert_eq!(second["remaining"], 0);

    // Past the limit: 429 with Retry-After up to the end of the day (UTC), a minute away.
    let resp = track(&app, &t1, "t1", "ai_chat", json!(1)).await;
    let retry_after = resp.headers().get("retry-after").expect("a Retry-After header").to_str().unwrap().to_owned();
    let body = refused(resp, 429, "quota_exceeded").await;
    assert_eq!(retry_after, "60", "the seconds left until midnight UTC");
    let d = &body["error"]["details"];
    assert_eq!(d["upgradeTo"], "premium", "{body}");
    assert_eq!(d["feature"], "ai_chat");
    assert_eq!(d["used"], 3);
    assert_eq!(d["limit"], 3);
    assert_eq!(time(&d["resetAt"]), at("2026-12-03T00:00:00Z"));
    assert_eq!(counters(&app, "t1", "ai_chat").iter().map(|r| (r.1, r.2)).collect::<Vec<_>>(), vec![(3, 0)], "nothing charged by the refusal");

    // More than the whole limit at once is refused and charges nothing.
    refused(track(&app, &t1, "t1", "image_generation", json!(2)).await, 429, "quota_exceeded").await;
    assert_eq!(tier(&app, &t1, "t1").await["usage"]["imageGeneration"]["used"], 0);
    assert_eq!(ok(track(&app, &t1, "t1", "image_generation", json!(1)).await).await["limitReached"], true);

    // A feature the tier excludes.
    let body = refused(track(&app, &t1, "t1", "music_generation", json!(1)).await, 403, "upgrade_required").await;
    assert_eq!(body["error"]["details"]["upgradeTo"], "premium", "{body}");
    assert_eq!(body["error"]["details"]["feature"], "music_generation");
    let body = refused(track(&app, &t1, "t1", "ai_writing", json!(1)).await, 403, "upgrade_required").await;
    assert_eq!(body["error"]["details"]["upgradeTo"], "premium", "{body}");
    assert!(counters(&app, "t1", "music_generation").is_empty());

    // A premium user past a daily limit is pointed at unlimited.
    let app2 = TestApp::spawn_with(|c| c.subscription.tiers.premium.ai_chat.limit = Limit::Count(1)).await;
    set_tier(&app2, "p", "premium").await;
    let p = app2.token("p", Role::User);
    ok(track(&app2, &p, "p", "ai_chat", json!(1)).await).await;
    let body = refused(track(&app2, &p, "p", "ai_chat", json!(1)).await, 429, "quota_exceeded").await;
    assert_eq!(body["error"]["details"]["upgradeTo"], "unlimited", "{body}");
}

#[tokio::test]
async fn track_usage_refuses_bad_input_and_charges_nothing() {
    let app = TestApp::spawn().await;
    let t2 = app.token("t2", Role::User);
    for amount in [json!(0), json!(-1), json!(1001), json!("1"), json!(1.5), json!(null)] {
        let resp = track(&app, &t2, "t2", "ai_chat", amount.clone()).await;
        assert_eq!(resp.status(), 400, "amount {amount}");
        names_field(resp, "amount").await;
    }
    let usage = tier(&app, &t2, "t2").await["usage"].clone();
    assert_eq!(usage["aiChat"]["used"], 0, "nothing charged: {usage}");
    assert_eq!(usage["aiChat"]["remaining"], 3);
    assert!(counters(&app, "t2", "ai_chat").iter().all(|r| r.1 == 0 && r.2 == 0), "no use recorded");

    let body = names_field(track(&app, &t2, "t2", "teleport", json!(1)).await, "feature").await;
    assert_eq!(body["error"]["details"]["field"], "feature");
    names_field(track(&app, &t2, "t2", "writers_guild", json!(1)).await, "feature").await;
    names_field(app.post_json(TRACK, Some(&t2), &json!({"userId": "t2", "amount": 1})).await, "feature").await;
    names_field(app.post_json(TRACK, Some(&t2), &json!({"feature": "ai_chat"})).await, "userId").await;
    assert_eq!(tier(&app, &t2, "t2").await["usage"]["aiChat"]["used"], 0);

    // amount defaults to 1.
    assert_eq!(ok(app.post_json(TRACK, Some(&t2), &json!({"userId": "t2", "feature": "ai_chat"})).await).await["newUsage"], 1);
}

#[tokio::test]
async fn track_usage_acts_only_for_the_caller_unless_privileged() {
    let app = TestApp::spawn().await;
    let mallory = app.token("mallory", Role::User);
    refused(track(&app, &mallory, "victim", "ai_chat", json!(1)).await, 403, "forbidden").await;
    assert!(counters(&app, "victim", "ai_chat").is_empty(), "nothing charged to the victim");

    let admin = app.token("ops", Role::Admin);
    let service = app.token("backend", Role::Service);
    assert_eq!(ok(track(&app, &admin, "victim", "ai_chat", json!(1)).await).await["newUsage"], 1);
    assert_eq!(ok(track(&app, &service, "victim", "ai_chat", json!(1)).await).await["newUsage"], 2);
    assert_eq!(tier(&app, &app.token("victim", Role::User), "victim").await["usage"]["aiChat"]["used"], 2);
    assert!(counters(&app, "ops", "ai_chat").is_empty() && counters(&app, "backend", "ai_chat").is_empty(), "charged to the user named, not the caller");
    assert_eq!(app.post_json(TRACK, None, &json!({"userId": "victim", "feature": "ai_chat", "amount": 1})).await.status(), 401);
}

#[tokio::test]
async fn windows_roll_over_at_midnight_utc_mondays_and_the_first_of_the_month() {
    // Sunday 31 May 2026, two seconds before the day, the week and the month all end.
    let clock = TestClock::at("2026-05-31T23:59:58Z");
    let app = TestApp::spawn_at(clock.clone(), |c| c.subscription.tiers.premium.music_generation.limit = Limit::Count(1)).await;
    set_tier(&app, "r2", "premium").await;
    let (r1, r2) = (app.token("r1", Role::User), app.token("r2", Role::User));

    ok(track(&app, &r1, "r1", "ai_chat", json!(3)).await).await;
    ok(track(&app, &r1, "r1", "image_generation", json!(1)).await).await;
    ok(track(&app, &r2, "r2", "music_generation", json!(1)).await).await;
    let resp = track(&app, &r1, "r1", "ai_chat", json!(1)).await;
    assert_eq!(resp.headers()["retry-after"], "2", "two seconds to midnight");
    refused(resp, 429, "quota_exceeded").await;
    let body = refused(track(&app, &r1, "r1", "image_generation", json!(1)).await, 429, "quota_exceeded").await;
    assert_eq!(body["error"]["details"]["resetAt"], "2026-06-01T00:00:00Z", "the week ends on Monday 00:00 UTC");
    let body = refused(track(&app, &r2, "r2", "music_generation", json!(1)).await, 429, "quota_exceeded").await;
    assert_eq!(body["error"]["details"]["resetAt"], "2026-06-01T00:00:00Z", "the month ends on the 1st");

    clock.set("2026-06-01T00:00:00Z");
    let chat = ok(track(&app, &r1, "r1", "ai_chat", json!(1)).await).await;
    assert_eq!((chat["newUsage"].clone(), chat["remaining"].clone()), (json!(1), json!(2)), "a new day: {chat}");
    ok(track(&app, &r1, "r1", "image_generation", json!(1)).await).await;
    ok(track(&app, &r2, "r2", "music_generation", json!(1)).await).await;
    let usage = tier(&app, &r1, "r1").await["usage"].clone();
    assert_eq!(time(&usage["aiChat"]["resetAt"]), at("2026-06-02T00:00:00Z"), "{usage}");
    assert_eq!(time(&usage["imageGeneration"]["resetAt"]), at("2026-06-08T00:00:00Z"), "{usage}");
    assert_eq!(time(&tier(&app, &r2, "r2").await["usage"]["musicGeneration"]["resetAt"]), at("2026-07-01T00:00:00Z"));

    // Each window keeps its own counter; the old ones stay as they were.
    let chat_rows: Vec<(String, i64, i64)> = counters(&app, "r1", "ai_chat");
    assert_eq!(
        chat_rows,
        vec![("2026-05-31T00:00:00Z".to_owned(), 3, 0), ("2026-06-01T00:00:00Z".to_owned(), 1, 0)],
    );
    assert_eq!(counters(&app, "r1", "image_generation").iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["2026-05-25T00:00:00Z", "2026-06-01T00:00:00Z"]);
}

#[tokio::test]
async fn holds_left_by_a_stopped_server_are_given_back_when_it_starts() {
    let clock = TestClock::at("2026-12-02T12:00:00Z");
    let mut app = TestApp::spawn_at(clock.clone(), |_| {}).await;
    let h1 = app.token("h1", Role::User);
    ok(track(&app, &h1, "h1", "ai_chat", json!(1)).await).await;
    // What a process that stopped in the middle of two chat replies leaves behind: their holds.
    let held = app.execute("UPDATE usage_counters SET reserved = 2 WHERE user_id = 'h1' AND feature = 'ai_chat'", &[]).unwrap();
    assert_eq!(held, 1);
    for id in ["0193a0e0-0000-7000-8000-0000000000a1", "0193a0e0-0000-7000-8000-0000000000a2"] {
        app.execute(
            "INSERT INTO quota_holds (hold_id, user_id, feature, window_start, amount, held_at)
             VALUES (?1, 'h1', 'ai_chat', '2026-12-02T00:00:00Z', 1, '2026-12-02T12:00:00.000Z')",
            &[&id],
        )
        .unwrap();
    }
    refused(track(&app, &h1, "h1", "ai_chat", json!(1)).await, 429, "quota_exceeded").await;

    app.restart().await;
    if app.is_postgres() {
        // On a shared database other servers' work may still hold quota: a start gives back
        // only holds too old to be anyone's (twice the handler timeout).
        assert_eq!(counters(&app, "h1", "ai_chat"), vec![("2026-12-02T00:00:00Z".to_owned(), 1, 2)], "young holds are kept");
        clock.set("2026-12-02T13:00:00Z");
        app.restart().await;
    }
    assert_eq!(counters(&app, "h1", "ai_chat"), vec![("2026-12-02T00:00:00Z".to_owned(), 1, 0)], "the holds are gone, the use stays");
    let after = ok(track(&app, &h1, "h1", "ai_chat", json!(2)).await).await;
    assert_eq!(after["newUsage"], 3, "the whole rest of the day's quota is usable again: {after}");
}

#[tokio::test]
async fn a_hold_whose_server_stopped_is_given_back_by_age_while_the_others_run() {
    let clock = TestClock::at("2026-12-02T12:00:00Z");
    // Requests are cut after 2 s, so a hold older than 4 s has no work left that could commit it.
    let app = TestApp::spawn_at(clock.clone(), |c| {
        c.limits.handler_timeout_secs = 2;
        c.trpc.upstream_timeout_secs = 1;
    })
    .await;
    let h2 = app.token("h2", Role::User);
    ok(track(&app, &h2, "h2", "ai_chat", json!(1)).await).await;
    // What another server that stopped in the middle of two chat replies leaves behind: two holds.
    app.execute("UPDATE usage_counters SET reserved = 2 WHERE user_id = 'h2' AND feature = 'ai_chat'", &[]).unwrap();
    for id in ["0193a0e0-0000-7000-8000-000000000001", "0193a0e0-0000-7000-8000-000000000002"] {
        app.execute(
            "INSERT INTO quota_holds (hold_id, user_id, feature, window_start, amount, held_at)
             VALUES (?1, 'h2', 'ai_chat', '2026-12-02T00:00:00Z', 1, '2026-12-02T12:00:00.000Z')",
            &[&id],
        )
        .unwrap();
    }
    refused(track(&app, &h2, "h2", "ai_chat", json!(1)).await, 429, "quota_exceeded").await;

    // While young, they may still be some running work's: the sweeps (every second) keep them.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(counters(&app, "h2", "ai_chat"), vec![("2026-12-02T00:00:00Z".to_owned(), 1, 2)], "young holds are kept");

    // Once older than twice the handler timeout, a sweep gives them back, each once.
    clock.set("2026-12-02T12:00:05Z");
    let deadline = Instant::now() + Duration::from_secs(10);
    while counters(&app, "h2", "ai_chat")[0].2 != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(counters(&app, "h2", "ai_chat"), vec![("2026-12-02T00:00:00Z".to_owned(), 1, 0)], "the holds are gone, the use stays");
    assert_eq!(app.count("SELECT count(*) FROM quota_holds", &[]), 0);
    let after = ok(track(&app, &h2, "h2", "ai_chat", json!(2)).await).await;
    assert_eq!(after["newUsage"], 3, "the rest of the day's quota is usable again: {after}");
}

// ---------------------------------------------------------------------------------------------
// 4. Concurrency: the last unit of a quota is won exactly once

/// Fires `n` concurrent track-usage requests of amount 1; returns (status, body) of each.
async fn burst(app: &TestApp, token: &str, user: &str, feature: &str, n: usize) -> Vec<(u16, Value)> {
    let handles = (0..n).map(|_| {
        let client = app.client.clone();
        let url = app.url(TRACK);
        let (token, body) = (token.to_owned(), json!({"userId": user, "feature": feature, "amount": 1}));
        tokio::spawn(async move {
            let resp = client.post(url).bearer_auth(token).json(&body).send().await.expect("request");
            let status = resp.status().as_u16();
            let has_retry_after = resp.headers().contains_key("retry-after");
            let body: Value = resp.json().await.expect("JSON body");
            if status == 429 {
                assert!(has_retry_after, "every 429 has Retry-After");
            }
            (status, body)
        })
    });
    futures_util::future::join_all(handles).await.into_iter().map(|r| r.expect("task")).collect()
}

/// "status × count" and the newUsage of every 200, for failure messages.
fn tally(results: &[(u16, Value)]) -> String {
    let mut by_status: std::collections::BTreeMap<u16, usize> = Default::default();
    for (s, _) in results {
        *by_status.entry(*s).or_default() += 1;
    }
    let usages: Vec<String> = results.iter().filter(|(s, _)| *s == 200).map(|(_, b)| b["newUsage"].to_string()).collect();
    format!("{by_status:?}, newUsage of the 200s: [{}]", usages.join(", "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_requests_for_the_last_chat_message_admit_exactly_one() {
    let app = TestApp::spawn().await;
    let token = app.token("c1", Role::User);
    assert_eq!(ok(track(&app, &token, "c1", "ai_chat", json!(1)).await).await["newUsage"], 1);
    assert_eq!(ok(track(&app, &token, "c1", "ai_chat", json!(1)).await).await["newUsage"], 2);

    let results = burst(&app, &token, "c1", "ai_chat", 50).await;
    let admitted: Vec<&Value> = results.iter().filter(|(s, _)| *s == 200).map(|(_, b)| b).collect();
    let refused_n = results.iter().filter(|(s, b)| *s == 429 && b["error"]["code"] == "quota_exceeded").count();
    let tally = tally(&results);
    assert_eq!(admitted.len(), 1, "exactly one 200: {tally}");
    assert_eq!(refused_n, 49, "49 × 429 quota_exceeded: {tally}");
    assert_eq!(admitted[0]["newUsage"], 3);
    assert_eq!(admitted[0]["limitReached"], true);

    let rows = counters(&app, "c1", "ai_chat");
    assert_eq!(rows.len(), 1, "one counter for today's window: {rows:?}");
    assert_eq!((rows[0].1, rows[0].2), (3, 0), "used = 3, reserved = 0");
    assert_eq!(tier(&app, &token, "c1").await["usage"]["aiChat"]["used"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_requests_against_a_configured_limit_of_five_admit_exactly_five() {
    let app = TestApp::spawn_with(|c| c.subscription.tiers.premium.image_generation.limit = Limit::Count(5)).await;
    set_tier(&app, "c2", "premium").await;
    let token = app.token("c2", Role::User);
    assert_eq!(tier(&app, &token, "c2").await["limits"]["imageGeneration"]["limit"], 5, "the configured limit");

    let results = burst(&app, &token, "c2", "image_generation", 50).await;
    let mut usages: Vec<u64> = results.iter().filter(|(s, _)| *s == 200).map(|(_, b)| b["newUsage"].as_u64().unwrap()).collect();
    usages.sort();
    assert_eq!(usages, vec![1, 2, 3, 4, 5], "five admitted, one unit each, in turn: {}", tally(&results));
    assert_eq!(results.iter().filter(|(s, _)| *s == 429).count(), 45, "{}", tally(&results));

    let rows = counters(&app, "c2", "image_generation");
    assert_eq!(rows.iter().map(|r| (r.1, r.2)).collect::<Vec<_>>(), vec![(5, 0)], "used = 5, reserved = 0");
}

// ---------------------------------------------------------------------------------------------
// 5. Manual provider

#[tokio::test]
async fn manual_provider_only_operators_change_tiers_and_every_change_is_recorded() {
    let app = TestApp::spawn().await;
    let admin = app.token("ops", Role::Admin);
    let m1 = app.token("m1", Role::User);

    // A user cannot upgrade themself, with or without a payment method.
    for body in [json!({"userId": "m1", "newTier": "premium"}), json!({"userId": "m1", "newTier": "unlimited", "paymentMethod": "pm_card_visa"})] {
        refused(app.post_json(UPGRADE, Some(&m1), &body).await, 403, "manual_billing").await;
    }
    assert_eq!(tier(&app, &m1, "m1").await["tier"], "free");
    assert!(changes(&app, "m1").is_empty());
    refused(app.post_json(UPGRADE, Some(&m1), &json!({"userId": "m2", "newTier": "premium"})).await, 403, "forbidden").await;
    names_field(app.post_json(UPGRADE, Some(&admin), &json!({"userId": "m1", "newTier": "gold"})).await, "newTier").await;
    names_field(app.post_json(UPGRADE, Some(&admin), &json!({"userId": "m1", "newTier": "premium", "billingPeriod": "weekly"})).await, "billingPeriod").await;
    assert!(changes(&app, "m1").is_empty());

    // An admin upgrades at once.
    let up = change_tier(&app, &admin, "m1", "premium").await;
    assert_eq!(up["success"], true);
    assert_eq!(up["status"], "active");
    assert_eq!(up["tier"], "premium");
    assert_eq!(up["previousTier"], "free");
    assert!(up["subscriptionId"].as_str().is_some_and(|s| !s.is_empty()), "{up}");
    let receipt = up["receipt"]["receiptId"].as_str().expect("a receipt").to_owned();
    assert!(!receipt.is_empty());
    assert_eq!(up["receipt"]["provider"], "manual");
    assert_eq!(up["receipt"]["tier"], "premium");
    assert_eq!(up["receipt"]["amount"], json!(9.99));
    assert_eq!(changes(&app, "m1"), vec![change("ops", "free", "premium", "manual", &receipt)]);
    let info = tier(&app, &m1, "m1").await;
    assert_eq!(info["tier"], "premium");
    assert_eq!(info["paymentProvider"], "manual");

    // The same tier again is a conflict and records nothing.
    refused(app.post_json(UPGRADE, Some(&admin), &json!({"userId": "m1", "newTier": "premium"})).await, 409, "already_on_tier").await;
    assert_eq!(changes(&app, "m1").len(), 1);

    // A user on manual billing cannot downgrade themself either.
    refused(app.post_json(UPGRADE, Some(&m1), &json!({"userId": "m1", "newTier": "free"})).await, 403, "manual_billing").await;
    assert_eq!(tier(&app, &m1, "m1").await["tier"], "premium");

    // Premium use: 5 chats and a song.
    assert_eq!(ok(track(&app, &m1, "m1", "ai_chat", json!(5)).await).await["newUsage"], 5);
    ok(track(&app, &m1, "m1", "music_generation", json!(1)).await).await;

    // Downgrade by the admin: data is kept, limits apply to new actions.
    let down = change_tier(&app, &admin, "m1", "free").await;
    assert_eq!(down["status"], "active");
    assert_eq!(down["tier"], "free");
    assert_eq!(down["previousTier"], "premium");
    let down_receipt = down["receipt"]["receiptId"].as_str().unwrap().to_owned();
    assert_eq!(
        changes(&app, "m1"),
        vec![change("ops", "free", "premium", "manual", &receipt), change("ops", "premium", "free", "manual", &down_receipt)]
    );
    let body = refused(track(&app, &m1, "m1", "ai_chat", json!(1)).await, 429, "quota_exceeded").await;
    assert_eq!(body["error"]["details"]["used"], 5, "{body}");
    assert_eq!(body["error"]["details"]["limit"], 3);
    refused(track(&app, &m1, "m1", "music_generation", json!(1)).await, 403, "upgrade_required").await;
    let usage = tier(&app, &m1, "m1").await["usage"].clone();
    assert_eq!(usage["aiChat"]["used"], 5, "earlier use is kept");
    assert_eq!(usage["aiChat"]["remaining"], 0);
    assert_eq!(ok(access_get(&app, &m1, "m1", "ai_chat").await).await["hasAccess"], false);
    assert_eq!(counters(&app, "m1", "ai_chat").iter().map(|r| (r.1, r.2)).collect::<Vec<_>>(), vec![(5, 0)]);

    // A service token may change tiers too, and `tactical` means unlimited.
    let service = app.token("backend", Role::Service);
    let up = change_tier(&app, &service, "m1", "tactical").await;
    assert_eq!(up["tier"], "unlimited");
    let last = changes(&app, "m1").pop().unwrap();
    assert_eq!(last, change("backend", "free", "unlimited", "manual", up["receipt"]["receiptId"].as_str().unwrap()));
    assert_eq!(ok(track(&app, &m1, "m1", "ai_chat", json!(1)).await).await["newUsage"], 6);
}

// ---------------------------------------------------------------------------------------------
// 6. Stripe, against a fake Stripe

async fn stripe_app() -> (TestApp, FakeStripe) {
    let fake = FakeStripe::start().await;
    (fake.app().await, fake)
}

fn event(id: &str, kind: &str, intent: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id,
        "object": "event",
        "type": kind,
        "created": Utc::now().timestamp(),
        "livemode": false,
        "data": {"object": {"id": intent, "object": "payment_intent", "status": "succeeded", "amount": 999}}
    }))
    .unwrap()
}

async fn webhook(app: &TestApp, signature: Option<&str>, body: &[u8]) -> reqwest::Response {
    let mut req = app.client.post(app.url(WEBHOOK)).header("content-type", "application/json").body(body.to_vec());
    if let Some(s) = signature {
        req = req.header("stripe-signature", s);
    }
    req.send().await.expect("request")
}

async fn signed_webhook(app: &TestApp, body: &[u8]) -> reqwest::Response {
    webhook(app, Some(&sign(WEBHOOK_SECRET, Utc::now().timestamp(), body)), body).await
}

#[tokio::test]
async fn stripe_upgrade_is_pending_until_the_signed_webhook_activates_it() {
    let (app, fake) = stripe_app().await;
    let s1 = app.token("s1", Role::User);

    let started = ok(app
        .post_json(UPGRADE, Some(&s1), &json!({"userId": "s1", "newTier": "premium", "paymentMethod": "pm_card_visa"}))
        .await)
    .await;
    assert_eq!(started["status"], "pending", "{started}");
    assert_eq!(started["tier"], "free", "the tier in effect is unchanged: {started}");
    assert_eq!(started["requestedTier"], "premium");
    assert_eq!(started["externalSubscriptionId"], "pi_test_1");
    assert_eq!(started["receipt"]["receiptId"], "pi_test_1");
    assert_eq!(started["receipt"]["provider"], "stripe");
    assert_eq!(started["receipt"]["amount"], json!(9.99));
    assert_eq!(started["receipt"]["status"], "pending");
    assert_eq!(tier(&app, &s1, "s1").await["tier"], "free");
    assert!(changes(&app, "s1").is_empty(), "nothing changes before the payment is confirmed");
    assert_eq!(payments(&app), vec![("pi_test_1".into(), "s1".into(), "premium".into(), 999, "pending".into())]);

    // What Stripe received.
    let seen = fake.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let r = &seen[0];
    assert_eq!(r.path, "/v1/payment_intents");
    assert_eq!(r.authorization.as_deref(), Some("Bearer sk_test_x"));
    assert!(r.content_type.as_deref().is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")), "{r:?}");
    let key = r.idempotency_key.clone().expect("an Idempotency-Key");
    assert!(!key.is_empty());
    let form = |k: &str| r.form.get(k).map(String::as_str);
    assert_eq!(form("amount"), Some("999"));
    assert_eq!(form("currency"), Some("usd"));
    assert_eq!(form("payment_method"), Some("pm_card_visa"));
    assert_eq!(form("confirm"), Some("true"));
    assert_eq!(form("metadata[user_id]"), Some("s1"));
    assert_eq!(form("metadata[tier]"), Some("premium"));
    assert_eq!(form("metadata[payment_id]"), Some(key.as_str()), "the idempotency key is our payment id");

    // Stripe confirms: the tier is activated and the change recorded, by `stripe`.
    let body = event("evt_1", "payment_intent.succeeded", "pi_test_1");
    let signature = sign(WEBHOOK_SECRET, Utc::now().timestamp(), &body);
    let ack = ok(webhook(&app, Some(&signature), &body).await).await;
    assert_eq!(ack["received"], true);
    assert_eq!(ack["duplicate"], false, "{ack}");
    let info = tier(&app, &s1, "s1").await;
    assert_eq!(info["tier"], "premium");
    assert_eq!(info["status"], "active");
    assert_eq!(info["paymentProvider"], "stripe");
    assert_eq!(info["externalSubscriptionId"], "pi_test_1");
    assert_eq!(changes(&app, "s1"), vec![change("stripe", "free", "premium", "stripe", "pi_test_1")]);
    assert_eq!(payments(&app)[0].4, "succeeded");

    // The same event again (Stripe retries): acknowledged, nothing changes.
    let again = ok(webhook(&app, Some(&signature), &body).await).await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(changes(&app, "s1").len(), 1, "no second change row");
    // Another event for the same, already applied payment changes nothing either.
    let other = ok(signed_webhook(&app, &event("evt_2", "payment_intent.succeeded", "pi_test_1")).await).await;
    assert_eq!(other["duplicate"], false);
    assert_eq!(changes(&app, "s1").len(), 1);
    assert_eq!(tier(&app, &s1, "s1").await["tier"], "premium");

    // Premium limits now apply.
    assert_eq!(ok(track(&app, &s1, "s1", "ai_chat", json!(10)).await).await["limit"], 100);

    // A stripe user may downgrade themself to free, at once.
    let down = ok(app.post_json(UPGRADE, Some(&s1), &json!({"userId": "s1", "newTier": "free"})).await).await;
    assert_eq!(down["status"], "active");
    assert_eq!(down["tier"], "free");
    assert_eq!(down["previousTier"], "premium");
    assert_eq!(tier(&app, &s1, "s1").await["tier"], "free");
    let rows = changes(&app, "s1");
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[1].changed_by.as_str(), rows[1].from.as_str(), rows[1].to.as_str()), ("s1", "premium", "free"));
    assert_eq!(rows[1].receipt, down["receipt"]["receiptId"].as_str().unwrap());
    assert_eq!(fake.seen().len(), 1, "a downgrade to free charges nothing");
    // ... and free's limits apply to new actions (10 chats today > 3).
    refused(track(&app, &s1, "s1", "ai_chat", json!(1)).await, 429, "quota_exceeded").await;

    // A yearly upgrade to unlimited is charged the yearly price.
    let s2 = app.token("s2", Role::User);
    let yearly = ok(app
        .post_json(UPGRADE, Some(&s2), &json!({"userId": "s2", "newTier": "tactical", "paymentMethod": "pm_card_visa", "billingPeriod": "yearly"}))
        .await)
    .await;
    assert_eq!(yearly["requestedTier"], "unlimited");
    assert_eq!(yearly["status"], "pending");
    let seen = fake.seen();
    assert_eq!(seen[1].form.get("amount").map(String::as_str), Some("29990"));
    assert_eq!(seen[1].form.get("metadata[billing_period]").map(String::as_str), Some("yearly"));
    assert_ne!(seen[1].idempotency_key, seen[0].idempotency_key, "one idempotency key per payment");
}

#[tokio::test]
async fn stripe_declines_failures_and_missing_payment_methods_leave_nothing_pending() {
    let (app, fake) = stripe_app().await;
    let s3 = app.token("s3", Role::User);
    let upgrade = |body: Value| {
        let (app, s3) = (&app, s3.clone());
        async move { app.post_json(UPGRADE, Some(&s3), &body).await }
    };

    let body = refused(upgrade(json!({"userId": "s3", "newTier": "premium", "paymentMethod": "pm_card_chargeDeclined"})).await, 422, "payment_declined").await;
    assert_eq!(body["error"]["details"]["providerCode"], "card_declined", "{body}");
    assert_eq!(fake.seen().len(), 1, "Stripe was asked");
    assert!(payments(&app).is_empty(), "nothing pending after a decline");

    refused(upgrade(json!({"userId": "s3", "newTier": "premium", "paymentMethod": "pm_fake_server_error"})).await, 502, "payment_failed").await;
    assert_eq!(fake.seen().len(), 2);
    assert!(payments(&app).is_empty(), "nothing pending after a Stripe failure");

    let body = names_field(upgrade(json!({"userId": "s3", "newTier": "premium"})).await, "paymentMethod").await;
    assert_eq!(body["error"]["details"]["field"], "paymentMethod", "{body}");
    names_field(upgrade(json!({"userId": "s3", "newTier": "premium", "paymentMethod": ""})).await, "paymentMethod").await;
    refused(upgrade(json!({"userId": "other", "newTier": "premium", "paymentMethod": "pm_card_visa"})).await, 403, "forbidden").await;
    refused(upgrade(json!({"userId": "s3", "newTier": "free"})).await, 409, "already_on_tier").await;
    assert_eq!(fake.seen().len(), 2, "Stripe is not asked without a payment method or for someone else");

    let info = tier(&app, &s3, "s3").await;
    assert_eq!(info["tier"], "free");
    assert_eq!(info["status"], "active");
    assert!(changes(&app, "s3").is_empty());
    assert!(payments(&app).is_empty());

    // An operator may still set a tier at once under Stripe, without charging.
    let up = change_tier(&app, &app.token("ops", Role::Admin), "s3", "premium").await;
    assert_eq!(up["status"], "active");
    assert_eq!(fake.seen().len(), 2);
    assert_eq!(changes(&app, "s3").len(), 1);
}

#[tokio::test]
async fn stripe_webhook_refuses_bad_signatures_and_replays() {
    let (app, _fake) = stripe_app().await;
    let w1 = app.token("w1", Role::User);
    let started = ok(app
        .post_json(UPGRADE, Some(&w1), &json!({"userId": "w1", "newTier": "premium", "paymentMethod": "pm_card_visa"}))
        .await)
    .await;
    let intent = started["externalSubscriptionId"].as_str().unwrap().to_owned();
    let body = event("evt_sig", "payment_intent.succeeded", &intent);
    let now = Utc::now().timestamp();

    let other_body = event("evt_sig", "payment_intent.succeeded", "pi_someone_else");
    let good = sign(WEBHOOK_SECRET, now, &body);
    let bad_headers = [
        ("wrong secret", Some(sign("whsec_other", now, &body)), body.clone()),
        ("ten minutes old", Some(sign(WEBHOOK_SECRET, now - 600, &body)), body.clone()),
        ("altered body", Some(good.clone()), other_body),
        ("altered timestamp", Some(good.replace(&format!("t={now}"), &format!("t={}", now + 1))), body.clone()),
        ("garbage", Some("nonsense".to_owned()), body.clone()),
        ("missing", None, body.clone()),
    ];
    for (what, header, sent) in bad_headers {
        refused(webhook(&app, header.as_deref(), &sent).await, 400, "invalid_signature").await;
        assert_eq!(tier(&app, &w1, "w1").await["tier"], "free", "{what}: nothing applied");
    }
    assert!(changes(&app, "w1").is_empty());

    // Refused deliveries are not remembered: the genuine event still applies.
    let ack = ok(webhook(&app, Some(&good), &body).await).await;
    assert_eq!(ack["duplicate"], false, "{ack}");
    assert_eq!(tier(&app, &w1, "w1").await["tier"], "premium");
    assert_eq!(changes(&app, "w1"), vec![change("stripe", "free", "premium", "stripe", &intent)]);

    // An event for a payment this server did not start: acknowledged, nothing changes.
    let before = changes(&app, "w1").len();
    let ack = ok(signed_webhook(&app, &event("evt_unknown", "payment_intent.succeeded", "pi_unknown")).await).await;
    assert_eq!(ack["received"], true);
    assert_eq!(ack["duplicate"], false);
    assert_eq!(changes(&app, "w1").len(), before);
    let total = app.count("SELECT count(*) FROM subscription_changes", &[]);
    assert_eq!(total, 1, "no change for anyone");

    // A correctly signed body that is not an event.
    let junk = b"not json".to_vec();
    let resp = signed_webhook(&app, &junk).await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn stripe_payment_failed_event_leaves_the_tier() {
    let (app, _fake) = stripe_app().await;
    let w2 = app.token("w2", Role::User);
    let started = ok(app
        .post_json(UPGRADE, Some(&w2), &json!({"userId": "w2", "newTier": "premium", "paymentMethod": "pm_card_visa"}))
        .await)
    .await;
    let intent = started["externalSubscriptionId"].as_str().unwrap().to_owned();
    ok(signed_webhook(&app, &event("evt_fail", "payment_intent.payment_failed", &intent)).await).await;
    assert_eq!(payments(&app)[0].4, "failed");
    // A later success for a failed payment does not activate it.
    ok(signed_webhook(&app, &event("evt_late", "payment_intent.succeeded", &intent)).await).await;
    assert_eq!(tier(&app, &w2, "w2").await["tier"], "free");
    assert!(changes(&app, "w2").is_empty());
}

/// Stripe may deliver `payment_intent.succeeded` before the app has read the answer to its
/// (confirmed) PaymentIntent request. The user has paid; the tier must end up activated, or the
/// webhook must fail so that Stripe retries it.
#[tokio::test]
async fn a_webhook_that_arrives_before_the_payment_intent_answer_still_activates_the_tier() {
    let (app, fake) = stripe_app().await;
    fake.deliver_webhooks_to(app.url(WEBHOOK));
    let s4 = app.token("s4", Role::User);
    let started = ok(app
        .post_json(UPGRADE, Some(&s4), &json!({"userId": "s4", "newTier": "premium", "paymentMethod": "pm_card_visa_fast_webhook"}))
        .await)
    .await;
    assert_eq!(started["externalSubscriptionId"], "pi_test_1");
    let answers = fake.webhook_answers();
    assert_eq!(answers.len(), 1, "the early webhook was delivered");
    let (status, ack) = &answers[0];
    if (200..300).contains(status) {
        // Acknowledged: Stripe will not deliver it again, so it must have taken effect.
        assert_eq!(tier(&app, &s4, "s4").await["tier"], "premium", "the paid tier is active; the early webhook said {ack}");
        assert_eq!(changes(&app, "s4"), vec![change("stripe", "free", "premium", "stripe", "pi_test_1")]);
    } else {
        // Refused: Stripe retries later; the retry must then activate the tier.
        let retry = event("evt_fast_1", "payment_intent.succeeded", "pi_test_1");
        let ack = ok(signed_webhook(&app, &retry).await).await;
        assert_eq!(ack["duplicate"], false, "{ack}");
        assert_eq!(tier(&app, &s4, "s4").await["tier"], "premium");
    }
}

/// The tier answer documents `status` as "`active`, or `pending` while a payment awaits
/// confirmation".
#[tokio::test]
async fn the_tier_answer_says_pending_while_a_stripe_payment_awaits_confirmation() {
    let (app, _fake) = stripe_app().await;
    let s5 = app.token("s5", Role::User);
    assert_eq!(tier(&app, &s5, "s5").await["status"], "active");
    let started = ok(app
        .post_json(UPGRADE, Some(&s5), &json!({"userId": "s5", "newTier": "premium", "paymentMethod": "pm_card_visa"}))
        .await)
    .await;
    let intent = started["externalSubscriptionId"].as_str().unwrap().to_owned();
    let pending = tier(&app, &s5, "s5").await;
    assert_eq!(pending["tier"], "free");
    assert_eq!(pending["status"], "pending", "a payment awaits confirmation: {pending}");
    ok(signed_webhook(&app, &event("evt_p", "payment_intent.succeeded", &intent)).await).await;
    let active = tier(&app, &s5, "s5").await;
    assert_eq!((active["tier"].as_str(), active["status"].as_str()), (Some("premium"), Some("active")));
}

#[tokio::test]
async fn the_stripe_webhook_is_404_with_the_manual_provider() {
    let app = TestApp::spawn().await;
    let body = event("evt_m", "payment_intent.succeeded", "pi_x");
    let resp = webhook(&app, Some(&sign(WEBHOOK_SECRET, Utc::now().timestamp(), &body)), &body).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "not_found");
    // Without its required header the request is malformed on every server: 400, as documented.
    let resp = webhook(&app, None, &body).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "invalid_signature");
}

// ---------------------------------------------------------------------------------------------
// 7. Usage summary

#[tokio::test]
async fn usage_summary_reflects_tracked_use() {
    let clock = TestClock::at("2026-12-31T23:30:00Z");
    let app = TestApp::spawn_at(clock.clone(), |_| {}).await;
    let g1 = app.token("g1", Role::User);
    let before = clock.now();
    ok(track(&app, &g1, "g1", "ai_chat", json!(2)).await).await;
    ok(track(&app, &g1, "g1", "image_generation", json!(1)).await).await;

    let s = ok(app.get("/api/premium/usage/g1", Some(&g1)).await).await;
    assert_eq!(s["userId"], "g1");
    assert_eq!(s["tier"], "free");
    assert_eq!(s["imagesGenerated"], 1);
    assert_eq!(s["musicGenerated"], 0);
    assert_eq!(s["aiChatMessages"], 2);
    assert_eq!(s["chat"], json!({"used": 2, "limit": 3}));
    assert_eq!(s["imageGeneration"], json!({"used": 1, "limit": 1}));
    assert_eq!(s["musicGeneration"], json!({"used": 0, "limit": 0}));
    assert_eq!(s["aiWriting"], json!({"sessionsUsed": 0, "wordsProcessed": 0, "limit": 0}));
    assert_eq!(
        s["features"],
        json!({"unrestrictedContent": false, "writersGuildAccess": false, "prioritySupport": false, "tacticalAccess": false})
    );
    assert_eq!(time(&s["currentPeriod"]["start"]), month_start(before), "no billing period: the calendar month");
    assert_eq!(time(&s["currentPeriod"]["end"]), next_month_start(before));

    // After an upgrade: premium limits, premium flags, the billing period.
    set_tier(&app, "g1", "premium").await;
    ok(track(&app, &g1, "g1", "ai_chat", json!(1)).await).await;
    ok(track(&app, &g1, "g1", "ai_writing", json!(2)).await).await;
    ok(track(&app, &g1, "g1", "music_generation", json!(1)).await).await;
    let s = ok(app.get("/api/premium/usage/g1", Some(&g1)).await).await;
    assert_eq!(s["tier"], "premium");
    assert_eq!(s["aiChatMessages"], 3);
    assert_eq!(s["chat"], json!({"used": 3, "limit": 100}));
    assert_eq!(s["musicGenerated"], 1);
    assert_eq!(s["musicGeneration"], json!({"used": 1, "limit": 30}));
    assert_eq!(s["aiWriting"]["sessionsUsed"], 2);
    assert_eq!(s["aiWriting"]["limit"], 50);
    assert_eq!(s["imageGeneration"]["limit"], 20);
    assert_eq!(s["features"]["writersGuildAccess"], true);
    assert_eq!(s["features"]["tacticalAccess"], false);
    let (start, end) = (time(&s["currentPeriod"]["start"]), time(&s["currentPeriod"]["end"]));
    assert_eq!(start, before, "the billing period starts at the upgrade");
    assert_eq!(end, at("2027-01-31T23:30:00Z"), "a monthly billing period");

    refused(app.get("/api/premium/usage/g1", Some(&app.token("g2", Role::User))).await, 403, "forbidden").await;
    assert_eq!(ok(app.get("/api/premium/usage/g1", Some(&app.token("backend", Role::Service))).await).await["aiChatMessages"], 3);
    assert_eq!(app.get("/api/premium/usage/g1", None).await.status(), 401);
}
