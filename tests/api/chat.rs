//! AI chat: `POST /api/ai/chat/send`, history, sessions and delete, with the offline `local`
//! provider and the `openai` provider against the fake OpenAI-compatible server (`fake_openai.rs`).

use std::time::{Duration, Instant};

use optima::auth::Role;
use optima::config::TextProviderKind;
use serde_json::{Value, json};

use crate::fake_openai::{FakeOpenAi, Scenario};
use crate::helpers::{TestApp, error_code, metric, set_tier};

const SEND: &str = "/api/ai/chat/send";

// ---------------------------------------------------------------------------------------------
// Helpers

async fn send(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post_json(SEND, Some(token), &body).await
}

/// Sends and expects 200; returns the reply.
async fn sent(app: &TestApp, token: &str, body: Value) -> Value {
    let resp = send(app, token, body.clone()).await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "send {body} → {text}");
    serde_json::from_str(&text).unwrap()
}

async fn delete(app: &TestApp, token: &str, session_id: &str) -> reqwest::Response {
    app.delete(&format!("/api/ai/chat/session/{session_id}"), Some(token)).await
}

/// `(used, reserved)` of the `ai_chat` quota for `user`, over all windows.
fn chat_usage(app: &TestApp, user: &str) -> (i64, i64) {
    app.usage(user, "ai_chat")
}

/// Every row of `usage_counters`, to compare before and after.
fn all_usage(app: &TestApp) -> Vec<(String, String, String, i64, i64)> {
    app.rows("SELECT user_id, feature, window_start, used, reserved FROM usage_counters ORDER BY 1, 2, 3", &[])
        .iter()
        .map(|r| (r.text(0).unwrap(), r.text(1).unwrap(), r.text(2).unwrap(), r.int(3), r.int(4)))
        .collect()
}

fn messages_total(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM chat_messages", &[])
}

fn sessions_total(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM chat_sessions", &[])
}

fn messages_of(app: &TestApp, session_id: &str) -> i64 {
    app.count("SELECT count(*) FROM chat_messages WHERE session_id = ?1", &[&session_id])
}

/// Waits (briefly) until the user's `ai_chat` holds are given back; returns `(used, reserved)`.
async fn settled_usage(app: &TestApp, user: &str) -> (i64, i64) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let u = chat_usage(app, user);
        if u.1 == 0 || Instant::now() > deadline {
            return u;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The DB state that a refused request must leave untouched.
#[derive(Debug, PartialEq)]
struct Snapshot {
    usage: Vec<(String, String, String, i64, i64)>,
    messages: i64,
    sessions: i64,
}

async fn snapshot(app: &TestApp) -> Snapshot {
    // Holds are released right after a failed call; let them settle before comparing.
    let deadline = Instant::now() + Duration::from_secs(3);
    while app.count("SELECT coalesce(sum(reserved), 0) FROM usage_counters", &[]) != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Snapshot { usage: all_usage(app), messages: messages_total(app), sessions: sessions_total(app) }
}

fn assert_reply_shape(reply: &Value) {
    for key in ["sessionId", "messageId", "userMessageId", "response", "model", "context", "timestamp"] {
        assert!(reply[key].is_string(), "{key} in {reply}");
    }
    assert_ne!(reply["messageId"], reply["userMessageId"]);
    let u = &reply["usage"];
    let (p, c, t) = (u["promptTokens"].as_u64().unwrap(), u["completionTokens"].as_u64().unwrap(), u["totalTokens"].as_u64().unwrap());
    assert_eq!(p + c, t, "{reply}");
    assert!(chrono::DateTime::parse_from_rfc3339(reply["timestamp"].as_str().unwrap()).is_ok(), "{reply}");
    assert!(reply.get("remainingMessages").is_some(), "remainingMessages present (null when unlimited): {reply}");
}

/// `(role, content)` of each message the fake was sent.
fn roles_and_contents(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .expect("messages array")
        .iter()
        .map(|m| (m["role"].as_str().unwrap().to_owned(), m["content"].as_str().unwrap().to_owned()))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(r, c)| (r.to_string(), c.to_string())).collect()
}

// ---------------------------------------------------------------------------------------------
// 1. The local (offline) provider

#[tokio::test]
async fn local_provider_answers_from_server_data_and_counts_down_the_free_quota() {
    let app = TestApp::spawn().await;
    let token = app.token("u1", Role::User);

    // An open question: it says plainly that no language model is configured, and how to set one.
    let first = sent(&app, &token, json!({ "userId": "u1", "message": "Write me a poem about the sea" })).await;
    assert_reply_shape(&first);
    assert_eq!(first["model"], "optima-local");
    assert_eq!(first["context"], "general");
    let text = first["response"].as_str().unwrap();
    assert!(text.contains("not a language model") && text.contains("no model is configured"), "{text}");
    assert!(text.contains("ai.text_provider") && text.contains("openai"), "says how to configure one: {text}");
    assert_eq!(first["remainingMessages"], 2);

    // A question about the tier and what is left: answered from real data.
    let second = sent(&app, &token, json!({ "userId": "u1", "message": "What tier am I on and how many messages are left?" })).await;
    assert_eq!(second["model"], "optima-local");
    let text = second["response"].as_str().unwrap();
    assert!(text.contains("free tier"), "{text}");
    assert!(text.contains("you have 1 chat message left"), "the remaining count after this message: {text}");
    assert!(text.contains("no language model"), "still says it is offline: {text}");
    assert_eq!(second["remainingMessages"], 1);
    assert_ne!(second["sessionId"], first["sessionId"], "no sessionId: a new session");

    // Sessions are counted from the database too (two saved before this one).
    let third = sent(&app, &token, json!({ "userId": "u1", "message": "How many sessions do I have?" })).await;
    assert!(third["response"].as_str().unwrap().contains("You have 2 chat sessions"), "{third}");
    assert_eq!(third["remainingMessages"], 0);
    assert_eq!(chat_usage(&app, "u1"), (3, 0));
    assert_eq!(messages_total(&app), 6);
    assert_eq!(sessions_total(&app), 3);

    // The fourth message of the day: refused, nothing stored, nothing charged.
    let fourth = send(&app, &token, json!({ "userId": "u1", "message": "one more?" })).await;
    assert_eq!(fourth.status(), 429);
    assert!(fourth.headers().contains_key("retry-after"));
    assert_eq!(error_code(fourth).await, "quota_exceeded");
    // Also when continuing an existing session.
    let fourth = send(&app, &token, json!({ "userId": "u1", "sessionId": first["sessionId"], "message": "one more?" })).await;
    assert_eq!(fourth.status(), 429);
    assert_eq!(error_code(fourth).await, "quota_exceeded");
    assert_eq!(chat_usage(&app, "u1"), (3, 0));
    assert_eq!(messages_total(&app), 6);
    assert_eq!(sessions_total(&app), 3);
    assert_eq!(app.count("SELECT count(*) FROM chat_messages WHERE content = 'one more?'", &[]), 0);
}

#[tokio::test]
async fn local_provider_for_an_unlimited_user_reports_unlimited() {
    let app = TestApp::spawn().await;
    set_tier(&app, "boss", "unlimited").await;
    let token = app.token("boss", Role::User);
    let reply = sent(&app, &token, json!({ "userId": "boss", "message": "How many messages are left on my plan?" })).await;
    assert!(reply["remainingMessages"].is_null(), "{reply}");
    let text = reply["response"].as_str().unwrap();
    assert!(text.contains("unlimited tier") && text.contains("unlimited"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// 2. Sessions, history, ownership

#[tokio::test]
async fn sessions_history_pagination_ownership_and_delete() {
    let app = TestApp::spawn().await;
    let u1 = app.token("u1", Role::User);
    let u2 = app.token("u2", Role::User);
    let admin = app.token("ops", Role::Admin);

    let a = sent(&app, &u1, json!({ "userId": "u1", "message": "hello there" })).await;
    let session = a["sessionId"].as_str().unwrap().to_owned();
    let b = sent(&app, &u1, json!({ "userId": "u1", "sessionId": session, "message": "what is my plan?" })).await;
    assert_eq!(b["sessionId"], session, "continuing keeps the session");
    assert_eq!(sessions_total(&app), 1);
    assert_eq!(messages_of(&app, &session), 4);

    // The whole history, oldest first.
    let resp = app.get(&format!("/api/ai/chat/history/{session}"), Some(&u1)).await;
    assert_eq!(resp.status(), 200);
    let history: Value = resp.json().await.unwrap();
    assert_eq!(history["sessionId"], session);
    assert_eq!(history["total"], 4);
    assert_eq!(history["hasMore"], false);
    let msgs = history["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(msgs[0]["content"], "hello there");
    assert_eq!(msgs[0]["messageId"], a["userMessageId"]);
    assert_eq!(msgs[1]["content"], a["response"]);
    assert_eq!(msgs[1]["messageId"], a["messageId"]);
    assert_eq!(msgs[1]["model"], "optima-local");
    assert!(msgs[0].get("model").is_none_or(Value::is_null), "a user message has no model: {}", msgs[0]);
    assert_eq!(msgs[2]["content"], "what is my plan?");
    assert_eq!(msgs[2]["messageId"], b["userMessageId"]);
    assert_eq!(msgs[3]["content"], b["response"]);
    assert_eq!(msgs[3]["messageId"], b["messageId"]);
    assert!(msgs.iter().all(|m| m["context"] == "general" && m["timestamp"].is_string()));

    // Pages.
    let page = |q: &str| {
        let (app, u1, session) = (&app, &u1, &session);
        let q = q.to_owned();
        async move {
            let resp = app.get(&format!("/api/ai/chat/history/{session}?{q}"), Some(u1)).await;
            assert_eq!(resp.status(), 200, "{q}");
            resp.json::<Value>().await.unwrap()
        }
    };
    let ids = |v: &Value| v["messages"].as_array().unwrap().iter().map(|m| m["messageId"].clone()).collect::<Vec<_>>();
    let all_ids = ids(&history);
    let p1 = page("limit=3").await;
    assert_eq!(ids(&p1), all_ids[..3]);
    assert_eq!((p1["total"].clone(), p1["hasMore"].clone()), (json!(4), json!(true)));
    let p2 = page("limit=3&offset=3").await;
    assert_eq!(ids(&p2), all_ids[3..]);
    assert_eq!((p2["total"].clone(), p2["hasMore"].clone()), (json!(4), json!(false)));
    let mid = page("limit=2&offset=1").await;
    assert_eq!(ids(&mid), all_ids[1..3]);
    assert_eq!(mid["hasMore"], true);
    let past = page("limit=2&offset=10").await;
    assert_eq!(ids(&past), Vec::<Value>::new());
    assert_eq!((past["total"].clone(), past["hasMore"].clone()), (json!(4), json!(false)));
    for bad in ["limit=0", "limit=201", "limit=abc", "offset=-1"] {
        let resp = app.get(&format!("/api/ai/chat/history/{session}?{bad}"), Some(&u1)).await;
        assert_eq!(resp.status(), 400, "{bad}");
    }

    // A second session; the list is most recently active first, with message counts.
    let c = sent(&app, &u1, json!({ "userId": "u1", "message": "a second conversation", "context": "writing" })).await;
    let second = c["sessionId"].as_str().unwrap().to_owned();
    assert_eq!(c["context"], "writing");
    let resp = app.get("/api/ai/chat/sessions/u1", Some(&u1)).await;
    assert_eq!(resp.status(), 200);
    let list: Value = resp.json().await.unwrap();
    assert_eq!(list["userId"], "u1");
    assert_eq!(list["total"], 2);
    assert_eq!(list["hasMore"], false);
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["sessionId"], second);
    assert_eq!(sessions[0]["messageCount"], 2);
    assert_eq!(sessions[0]["context"], "writing");
    assert_eq!(sessions[0]["title"], "a second conversation");
    assert_eq!(sessions[1]["sessionId"], session);
    assert_eq!(sessions[1]["messageCount"], 4);
    assert_eq!(sessions[1]["title"], "hello there");
    let one: Value = app.get("/api/ai/chat/sessions/u1?limit=1", Some(&u1)).await.json().await.unwrap();
    assert_eq!(one["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(one["hasMore"], true);
    // u2 has none; u2 may not list u1's.
    let none: Value = app.get("/api/ai/chat/sessions/u2", Some(&u2)).await.json().await.unwrap();
    assert_eq!(none["total"], 0);
    assert_eq!(none["sessions"], json!([]));
    let resp = app.get("/api/ai/chat/sessions/u1", Some(&u2)).await;
    assert_eq!(resp.status(), 403);

    // Another user: the session does not exist for them.
    let before = snapshot(&app).await;
    let resp = app.get(&format!("/api/ai/chat/history/{session}"), Some(&u2)).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "session_not_found");
    let resp = delete(&app, &u2, &session).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "session_not_found");
    let resp = send(&app, &u2, json!({ "userId": "u2", "sessionId": session, "message": "let me in" })).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "session_not_found");
    let resp = send(&app, &u2, json!({ "userId": "u1", "sessionId": session, "message": "let me in" })).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(resp).await, "forbidden");
    assert_eq!(snapshot(&app).await, before, "nothing stored, nothing charged, nothing deleted");
    assert_eq!(chat_usage(&app, "u2"), (0, 0));

    // An admin may read it.
    let resp = app.get(&format!("/api/ai/chat/history/{session}"), Some(&admin)).await;
    assert_eq!(resp.status(), 200);
    let by_admin: Value = resp.json().await.unwrap();
    assert_eq!(ids(&by_admin), all_ids);
    let resp = app.get("/api/ai/chat/sessions/u1", Some(&admin)).await;
    assert_eq!(resp.status(), 200);

    // The owner deletes it: the session and its messages are gone, the other stays.
    let resp = delete(&app, &u1, &session).await;
    assert_eq!(resp.status(), 200);
    let gone: Value = resp.json().await.unwrap();
    assert_eq!(gone, json!({ "deleted": true, "sessionId": session }));
    assert_eq!(messages_of(&app, &session), 0);
    assert_eq!(app.count("SELECT count(*) FROM chat_sessions WHERE session_id = ?1", &[&session]), 0);
    assert_eq!(messages_of(&app, &second), 2);
    let resp = app.get(&format!("/api/ai/chat/history/{session}"), Some(&u1)).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "session_not_found");
    let resp = delete(&app, &u1, &session).await;
    assert_eq!(resp.status(), 404);
    let list: Value = app.get("/api/ai/chat/sessions/u1", Some(&u1)).await.json().await.unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(list["sessions"][0]["sessionId"], second);
    // An id that names none of the caller's sessions (here: a deleted one) starts afresh under
    // that id: nothing of the deleted session comes back.
    set_tier(&app, "u1", "premium").await;
    let reply = sent(&app, &u1, json!({ "userId": "u1", "sessionId": session, "message": "still there?" })).await;
    assert_eq!(reply["sessionId"], session);
    let history: Value = app.get(&format!("/api/ai/chat/history/{session}"), Some(&u1)).await.json().await.unwrap();
    assert_eq!(history["total"], 2, "only the new exchange: {history}");
    assert_eq!(history["messages"][0]["content"], "still there?");
}

#[tokio::test]
async fn session_ids_made_by_the_client_start_a_session_of_that_callers_own() {
    let app = TestApp::spawn().await;
    let (u1, u2) = (app.token("u1", Role::User), app.token("u2", Role::User));
    set_tier(&app, "u1", "premium").await;
    // As the app's Optima AI screen sends it: a new `session_<ms>` id, context general.
    let app_message = |user: &str, text: &str| json!({ "userId": user, "message": text, "context": "general", "sessionId": "session_1733380000000" });
    let first = sent(&app, &u1, app_message("u1", "hello")).await;
    assert_eq!(first["sessionId"], "session_1733380000000");
    let again = sent(&app, &u1, app_message("u1", "and again")).await;
    assert_eq!(again["sessionId"], "session_1733380000000", "the same id continues the session");
    let history: Value = app.get("/api/ai/chat/history/session_1733380000000", Some(&u1)).await.json().await.unwrap();
    assert_eq!(history["total"], 4, "{history}");
    assert_eq!(history["sessionId"], "session_1733380000000");

    // Another user's client made the same id: a session of their own, u1's is untouched.
    let theirs = sent(&app, &u2, app_message("u2", "mine")).await;
    assert_eq!(theirs["sessionId"], "session_1733380000000");
    let u2_history: Value = app.get("/api/ai/chat/history/session_1733380000000", Some(&u2)).await.json().await.unwrap();
    assert_eq!(u2_history["total"], 2, "u2 sees only u2's exchange: {u2_history}");
    assert!(!u2_history.to_string().contains("hello"), "nothing of u1's: {u2_history}");
    let u1_history: Value = app.get("/api/ai/chat/history/session_1733380000000", Some(&u1)).await.json().await.unwrap();
    assert_eq!(u1_history["total"], 4);
    let list: Value = app.get("/api/ai/chat/sessions/u1", Some(&u1)).await.json().await.unwrap();
    assert_eq!(list["sessions"][0]["sessionId"], "session_1733380000000", "listed under the client's id: {list}");

    // A session id the server made for u1 is not u2's to use: not found, nothing stored.
    let server_made = sent(&app, &u1, json!({ "userId": "u1", "message": "a session of the server's making" })).await["sessionId"].as_str().unwrap().to_owned();
    let before = snapshot(&app).await;
    let resp = send(&app, &u2, json!({ "userId": "u2", "sessionId": server_made, "message": "let me in" })).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "session_not_found");
    assert_eq!(snapshot(&app).await, before);

    // Bounds: 64 characters of letters, digits and `_ - . :`.
    for bad in ["x".repeat(65), "session 1".to_owned(), "../etc".to_owned(), "sess\u{e9}".to_owned()] {
        let resp = send(&app, &u1, json!({ "userId": "u1", "sessionId": bad, "message": "hi" })).await;
        assert_eq!(resp.status(), 400, "{bad}");
    }
    assert_eq!(snapshot(&app).await, before, "bad ids store nothing");
    sent(&app, &u1, json!({ "userId": "u1", "sessionId": "a".repeat(64), "message": "at the bound" })).await;

    // Two first messages under one new id at once go into one session.
    let (a, b) = tokio::join!(
        send(&app, &u1, json!({ "userId": "u1", "sessionId": "race", "message": "one" })),
        send(&app, &u1, json!({ "userId": "u1", "sessionId": "race", "message": "two" })),
    );
    assert_eq!((a.status(), b.status()), (reqwest::StatusCode::OK, reqwest::StatusCode::OK));
    let race: Value = app.get("/api/ai/chat/history/race", Some(&u1)).await.json().await.unwrap();
    assert_eq!(race["total"], 4, "{race}");
}

#[tokio::test]
async fn chat_routes_need_a_token() {
    let app = TestApp::spawn().await;
    let resp = app.post_json(SEND, None, &json!({ "userId": "u1", "message": "hi" })).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(app.get("/api/ai/chat/sessions/u1", None).await.status(), 401);
    assert_eq!(app.get("/api/ai/chat/history/whatever", None).await.status(), 401);
    assert_eq!(messages_total(&app), 0);
}

// ---------------------------------------------------------------------------------------------
// 3. The openai provider against a fake server

#[tokio::test]
async fn openai_provider_sends_the_conversation_and_reports_the_usage() {
    let fake = FakeOpenAi::start().await;
    let app = fake.app(|_| {}).await;
    let token = app.token("u1", Role::User);

    let first = sent(&app, &token, json!({ "userId": "u1", "message": "First question", "temperature": 0.3 })).await;
    assert_reply_shape(&first);
    assert_eq!(first["response"], "Hello from the fake");
    assert_eq!(first["model"], "test-model");
    assert_eq!(first["usage"], json!({ "promptTokens": 12, "completionTokens": 5, "totalTokens": 17 }));
    assert_eq!(first["remainingMessages"], 2);

    let calls = fake.requests();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, "/v1/chat/completions");
    assert_eq!(call.authorization.as_deref(), Some("Bearer sk-test"));
    assert!(call.content_type.as_deref().is_some_and(|c| c.starts_with("application/json")), "{call:?}");
    assert_eq!(call.body["model"], "test-model");
    let t = call.body["temperature"].as_f64().expect("temperature is a number");
    assert!((t - 0.3).abs() < 1e-6, "temperature {t}");
    assert!(call.body["max_tokens"].as_u64().is_some_and(|m| m > 0), "{}", call.body);
    let sent_msgs = roles_and_contents(&call.body);
    assert_eq!(sent_msgs.len(), 2, "[system, user] for a new session: {sent_msgs:?}");
    assert_eq!(sent_msgs[0].0, "system");
    assert!(!sent_msgs[0].1.is_empty());
    assert_eq!(sent_msgs[1], ("user".to_owned(), "First question".to_owned()));
    let system = sent_msgs[0].1.clone();

    // The second message of the session carries the first exchange.
    let session = first["sessionId"].as_str().unwrap();
    let second = sent(&app, &token, json!({ "userId": "u1", "sessionId": session, "message": "Second question" })).await;
    assert_eq!(second["sessionId"], session);
    assert_eq!(second["remainingMessages"], 1);
    let body = fake.last().body;
    assert_eq!(
        roles_and_contents(&body),
        pairs(&[("system", &system), ("user", "First question"), ("assistant", "Hello from the fake"), ("user", "Second question")])
    );
    let t = body["temperature"].as_f64().unwrap();
    assert!((t - 0.7).abs() < 1e-6, "default temperature 0.7, got {t}");

    // Stored: one session, four messages in order, the model's token counts.
    let history: Value = app.get(&format!("/api/ai/chat/history/{session}"), Some(&token)).await.json().await.unwrap();
    let msgs = history["messages"].as_array().unwrap();
    let got: Vec<(&str, &str)> = msgs.iter().map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap())).collect();
    assert_eq!(
        got,
        [("user", "First question"), ("assistant", "Hello from the fake"), ("user", "Second question"), ("assistant", "Hello from the fake")]
    );
    assert_eq!(msgs[1]["model"], "test-model");
    assert_eq!(chat_usage(&app, "u1"), (2, 0));
    let tokens = app.row(
        "SELECT (SELECT prompt_tokens FROM chat_messages WHERE message_id = ?1), (SELECT completion_tokens FROM chat_messages WHERE message_id = ?2)",
        &[&first["userMessageId"].as_str().unwrap(), &first["messageId"].as_str().unwrap()],
    );
    assert_eq!((tokens.int(0), tokens.int(1)), (12, 5));
}

#[tokio::test]
async fn openai_provider_history_is_bounded_by_message_count() {
    let fake = FakeOpenAi::start().await;
    let app = fake.app(|c| c.chat.max_history_messages = 2).await;
    let token = app.token("u1", Role::User);
    let one = sent(&app, &token, json!({ "userId": "u1", "message": "one" })).await;
    let session = one["sessionId"].as_str().unwrap();
    sent(&app, &token, json!({ "userId": "u1", "sessionId": session, "message": "two" })).await;
    assert_eq!(
        roles_and_contents(&fake.last().body)[1..],
        pairs(&[("user", "one"), ("assistant", "Hello from the fake"), ("user", "two")])
    );
    sent(&app, &token, json!({ "userId": "u1", "sessionId": session, "message": "three" })).await;
    let msgs = roles_and_contents(&fake.last().body);
    assert_eq!(msgs[0].0, "system");
    assert_eq!(msgs[1..], pairs(&[("user", "two"), ("assistant", "Hello from the fake"), ("user", "three")]), "the oldest turns are left out");
    assert_eq!(messages_of(&app, session), 6, "everything is still stored");
}

#[tokio::test]
async fn openai_provider_history_is_bounded_by_characters() {
    let fake = FakeOpenAi::start().await;
    let app = fake.app(|c| c.chat.context_chars = 30).await;
    let token = app.token("u1", Role::User);
    let long = "long ".repeat(8);
    assert_eq!(long.chars().count(), 40);
    let one = sent(&app, &token, json!({ "userId": "u1", "message": long })).await;
    let session = one["sessionId"].as_str().unwrap();
    sent(&app, &token, json!({ "userId": "u1", "sessionId": session, "message": "and a follow-up" })).await;
    let msgs = roles_and_contents(&fake.last().body);
    assert_eq!(msgs[0].0, "system");
    assert_eq!(msgs.last().unwrap(), &("user".to_owned(), "and a follow-up".to_owned()), "the new message is always sent");
    let history = &msgs[1..msgs.len() - 1];
    assert!(!history.iter().any(|(_, c)| c == &long), "the older, long turn is left out: {msgs:?}");
    assert!(history.iter().map(|(_, c)| c.chars().count()).sum::<usize>() <= 30, "{msgs:?}");
    // The newest turn that fits is the assistant's reply, whose question does not fit: a history
    // never starts on a reply, so nothing of the earlier exchange is sent.
    assert!(history.is_empty(), "{msgs:?}");
}

#[tokio::test]
async fn openai_provider_failures_store_nothing_and_charge_nothing() {
    let fake = FakeOpenAi::start().await;
    let app = fake.app(|_| {}).await;
    let token = app.token("u1", Role::User);

    let ok = sent(&app, &token, json!({ "userId": "u1", "message": "start" })).await;
    let session = ok["sessionId"].as_str().unwrap().to_owned();
    assert_eq!(chat_usage(&app, "u1"), (1, 0));

    let cases: [(Scenario, u16, &str, Option<&str>); 8] = [
        (Scenario::Busy, 503, "provider_busy", Some("7")),
        (Scenario::ServerError, 502, "provider_failed", None),
        (Scenario::Slow, 502, "provider_failed", None),
        (Scenario::Garbage, 502, "provider_failed", None),
        (Scenario::NoChoices, 502, "provider_failed", None),
        (Scenario::Unauthorized, 503, "provider_unconfigured", None),
        (Scenario::Forbidden, 503, "provider_unconfigured", None),
        (Scenario::NotFound, 503, "provider_unconfigured", None),
    ];
    for (scenario, status, code, retry_after) in cases {
        fake.set(scenario);
        for session_id in [None, Some(session.as_str())] {
            let before = snapshot(&app).await;
            let calls = fake.requests().len();
            let mut body = json!({ "userId": "u1", "message": format!("try {scenario:?}") });
            if let Some(id) = session_id {
                body["sessionId"] = json!(id);
            }
            let resp = tokio::time::timeout(Duration::from_secs(15), send(&app, &token, body))
                .await
                .unwrap_or_else(|_| panic!("{scenario:?}: the server never answered"));
            assert_eq!(resp.status(), status, "{scenario:?} ({session_id:?})");
            assert_eq!(
                resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()).as_deref(),
                retry_after,
                "{scenario:?}: Retry-After"
            );
            let answer: serde_json::Value = resp.json().await.expect("an error body");
            assert_eq!(answer["error"]["code"], code, "{scenario:?}");
            // OpenAI's 401 quotes the key it refused: none of it may reach a client.
            assert!(!answer.to_string().contains("sk-test"), "{scenario:?}: the key leaked: {answer}");
            assert_eq!(fake.requests().len(), calls + 1, "{scenario:?}: the provider was called once");
            assert_eq!(settled_usage(&app, "u1").await, (1, 0), "{scenario:?}: the hold is released, nothing charged");
            assert_eq!(snapshot(&app).await, before, "{scenario:?}: nothing stored");
        }
    }
    assert_eq!(messages_of(&app, &session), 2);
    assert_eq!(sessions_total(&app), 1);

    // The quota is intact: the next successful message is the second one charged.
    fake.set(Scenario::Ok);
    let again = sent(&app, &token, json!({ "userId": "u1", "sessionId": session, "message": "again" })).await;
    assert_eq!(again["remainingMessages"], 1);
    assert_eq!(chat_usage(&app, "u1"), (2, 0));
    assert_eq!(messages_of(&app, &session), 4);
    // The failed attempts left no trace in the context sent to the model.
    assert_eq!(
        roles_and_contents(&fake.last().body)[1..],
        pairs(&[("user", "start"), ("assistant", "Hello from the fake"), ("user", "again")])
    );
}

#[tokio::test]
async fn concurrent_messages_cannot_pass_the_quota_while_the_model_is_answering() {
    let fake = FakeOpenAi::start().await;
    fake.set(Scenario::Delayed);
    let app = fake.app(|_| {}).await;
    let token = app.token("u1", Role::User);
    let sends = (0..5).map(|i| send(&app, &token, json!({ "userId": "u1", "message": format!("parallel {i}") })));
    let mut statuses: Vec<u16> = futures_util::future::join_all(sends).await.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 200, 429, 429], "the hold counts while the provider is answering");
    assert_eq!(fake.requests().len(), 3, "refused messages never reach the provider");
    assert_eq!(settled_usage(&app, "u1").await, (3, 0));
    assert_eq!(messages_total(&app), 6);
    assert_eq!(sessions_total(&app), 3);
}

#[tokio::test]
async fn concurrent_messages_to_the_local_provider_are_charged_with_their_rows_and_cannot_pass_the_quota() {
    let app = TestApp::spawn().await;
    let token = app.token("u1", Role::User);
    let sends = (0..8).map(|i| send(&app, &token, json!({ "userId": "u1", "message": format!("parallel {i}") })));
    let responses = futures_util::future::join_all(sends).await;
    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429, 429, 429], "the free tier's 3 a day, however the requests interleave");
    assert_eq!(chat_usage(&app, "u1"), (3, 0), "charged in the exchange's own transaction: no hold is ever taken");
    assert_eq!(messages_total(&app), 6, "a refused message stores nothing");
    assert_eq!(sessions_total(&app), 3);
}

#[tokio::test]
async fn a_caller_that_gives_up_mid_call_leaves_no_hold_behind() {
    let fake = FakeOpenAi::start().await;
    fake.set(Scenario::Delayed);
    let app = fake.app(|_| {}).await;
    let token = app.token("u1", Role::User);
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(150)).build().unwrap();
    let gave_up = impatient.post(app.url(SEND)).bearer_auth(&token).json(&json!({ "userId": "u1", "message": "quick!" })).send().await;
    assert!(gave_up.is_err_and(|e| e.is_timeout()));
    // Whatever the server does with the abandoned call, it ends consistent: no hold left, and
    // a charge only for an exchange that was stored.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let (used, reserved) = settled_usage(&app, "u1").await;
    assert_eq!(reserved, 0, "the hold is given back");
    assert_eq!(messages_total(&app), used * 2, "charged only for stored exchanges (used {used})");
    // And the user can go on chatting.
    fake.set(Scenario::Ok);
    let reply = sent(&app, &token, json!({ "userId": "u1", "message": "still there?" })).await;
    assert_eq!(reply["remainingMessages"], json!(3 - used - 1));
}

#[tokio::test]
async fn openai_provider_that_cannot_be_reached_is_a_502() {
    let addr = crate::helpers::closed_port();
    let app = TestApp::spawn_with(move |config| {
        config.ai.text_provider = TextProviderKind::Openai;
        config.ai.openai.base_url = format!("http://{addr}/v1");
        config.ai.openai.api_key = "sk-test".into();
        config.ai.openai.chat_model = "test-model".into();
        config.ai.openai.timeout_secs = 1;
    })
    .await;
    let token = app.token("u1", Role::User);
    let resp = send(&app, &token, json!({ "userId": "u1", "message": "anyone there?" })).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(error_code(resp).await, "provider_failed");
    assert_eq!(settled_usage(&app, "u1").await, (0, 0));
    assert_eq!(messages_total(&app), 0);
    assert_eq!(sessions_total(&app), 0);
}

// ---------------------------------------------------------------------------------------------
// 4. The tactical context

#[tokio::test]
async fn tactical_context_needs_the_unlimited_tier_and_has_its_own_prompt() {
    let fake = FakeOpenAi::start().await;
    let app = fake.app(|_| {}).await;

    // Free and premium: refused before anything is held or sent.
    set_tier(&app, "mid", "premium").await;
    for user in ["free_user", "mid"] {
        let token = app.token(user, Role::User);
        let before = snapshot(&app).await;
        let resp = send(&app, &token, json!({ "userId": user, "message": "status report", "context": "tactical" })).await;
        assert_eq!(resp.status(), 403, "{user}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "upgrade_required", "{user}: {body}");
        assert_eq!(body["error"]["details"]["upgradeTo"], "unlimited", "{body}");
        assert_eq!(snapshot(&app).await, before, "{user}: nothing stored or charged");
        assert_eq!(chat_usage(&app, user), (0, 0));
    }
    assert!(fake.requests().is_empty(), "the provider was not called");

    // Unlimited: allowed, with the tactical system prompt.
    set_tier(&app, "medic", "unlimited").await;
    let token = app.token("medic", Role::User);
    let general = sent(&app, &token, json!({ "userId": "medic", "message": "hello" })).await;
    assert_eq!(general["context"], "general");
    let general_prompt = roles_and_contents(&fake.last().body)[0].clone();
    let writing = sent(&app, &token, json!({ "userId": "medic", "message": "hello", "context": "writing" })).await;
    assert_eq!(writing["context"], "writing");
    let writing_prompt = roles_and_contents(&fake.last().body)[0].clone();
    let tactical = sent(&app, &token, json!({ "userId": "medic", "message": "status report", "context": "tactical" })).await;
    assert_eq!(tactical["context"], "tactical");
    assert_eq!(tactical["response"], "Hello from the fake");
    assert!(tactical["remainingMessages"].is_null(), "unlimited: {tactical}");
    let tactical_prompt = roles_and_contents(&fake.last().body)[0].clone();
    assert_eq!(general_prompt.0, "system");
    assert_eq!(tactical_prompt.0, "system");
    assert_ne!(tactical_prompt.1, general_prompt.1, "the tactical context has its own system prompt");
    assert_ne!(writing_prompt.1, general_prompt.1, "the writing context has its own system prompt");
    assert_ne!(writing_prompt.1, tactical_prompt.1);

    let session = tactical["sessionId"].as_str().unwrap();
    let history: Value = app.get(&format!("/api/ai/chat/history/{session}"), Some(&token)).await.json().await.unwrap();
    assert!(history["messages"].as_array().unwrap().iter().all(|m| m["context"] == "tactical"), "{history}");
    let list: Value = app.get("/api/ai/chat/sessions/medic", Some(&token)).await.json().await.unwrap();
    assert_eq!(list["sessions"][0]["sessionId"], session);
    assert_eq!(list["sessions"][0]["context"], "tactical");
}

// ---------------------------------------------------------------------------------------------
// 5. Bad input

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_changes_nothing() {
    let app = TestApp::spawn().await;
    set_tier(&app, "u1", "premium").await;
    let u1 = app.token("u1", Role::User);
    let u2 = app.token("u2", Role::User);
    let mine = sent(&app, &u1, json!({ "userId": "u1", "message": "hello" })).await["sessionId"].as_str().unwrap().to_owned();
    let theirs = sent(&app, &u2, json!({ "userId": "u2", "message": "hello" })).await["sessionId"].as_str().unwrap().to_owned();
    assert_eq!(messages_of(&app, &mine), 2);

    let too_long = "x".repeat(4_001);
    let cases: Vec<(&str, Value, u16, Option<&str>)> = vec![
        ("empty message", json!({ "userId": "u1", "message": "" }), 400, None),
        ("blank message", json!({ "userId": "u1", "message": "   \n\t  " }), 400, Some("invalid_field")),
        ("message too long", json!({ "userId": "u1", "message": too_long }), 400, Some("invalid_field")),
        ("message too long, in a session", json!({ "userId": "u1", "sessionId": mine, "message": too_long }), 400, Some("invalid_field")),
        ("no message", json!({ "userId": "u1" }), 400, Some("invalid_field")),
        ("message not a string", json!({ "userId": "u1", "message": 42 }), 400, None),
        ("no userId", json!({ "message": "hi" }), 400, Some("invalid_field")),
        ("temperature above 2", json!({ "userId": "u1", "message": "hi", "temperature": 2.5 }), 400, None),
        ("temperature below 0", json!({ "userId": "u1", "message": "hi", "temperature": -0.1 }), 400, None),
        ("temperature not a number", json!({ "userId": "u1", "message": "hi", "temperature": "hot" }), 400, None),
        ("unknown context", json!({ "userId": "u1", "message": "hi", "context": "poetry" }), 400, Some("invalid_field")),
        ("another user's id", json!({ "userId": "u2", "message": "hi" }), 403, Some("forbidden")),
        ("another user's id and session", json!({ "userId": "u2", "sessionId": theirs, "message": "hi" }), 403, Some("forbidden")),
        ("a session id with a space", json!({ "userId": "u1", "sessionId": "no such session", "message": "hi" }), 400, None),
        ("another user's session", json!({ "userId": "u1", "sessionId": theirs, "message": "hi" }), 404, Some("session_not_found")),
    ];
    for (what, body, status, code) in cases {
        let before = snapshot(&app).await;
        let resp = send(&app, &u1, body).await;
        assert_eq!(resp.status(), status, "{what}");
        let got = error_code(resp).await;
        if let Some(code) = code {
            assert_eq!(got, code, "{what}");
        }
        assert_eq!(snapshot(&app).await, before, "{what}: nothing stored, nothing charged");
    }
    let resp = app.client.post(app.url(SEND)).bearer_auth(&u1).header("content-type", "application/json").body("{not json").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(messages_of(&app, &mine), 2);
    assert_eq!(messages_of(&app, &theirs), 2);
    assert_eq!(chat_usage(&app, "u1"), (1, 0));
    assert_eq!(chat_usage(&app, "u2"), (1, 0));

    // The edges are accepted: exactly the limit (counted in characters), temperature 0 and 2.
    let at_limit = "é".repeat(4_000);
    let reply = sent(&app, &u1, json!({ "userId": "u1", "sessionId": mine, "message": at_limit })).await;
    assert_eq!(reply["sessionId"], mine);
    sent(&app, &u1, json!({ "userId": "u1", "message": "hi", "temperature": 0 })).await;
    sent(&app, &u1, json!({ "userId": "u1", "message": "hi", "temperature": 2 })).await;
    assert_eq!(chat_usage(&app, "u1"), (4, 0));
}

#[tokio::test]
async fn the_message_limit_follows_the_configuration() {
    let app = TestApp::spawn_with(|c| c.chat.max_message_chars = 10).await;
    let token = app.token("u1", Role::User);
    let resp = send(&app, &token, json!({ "userId": "u1", "message": "eleven char" })).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_field");
    assert_eq!(body["error"]["details"]["field"], "message");
    assert_eq!(messages_total(&app), 0);
    assert_eq!(chat_usage(&app, "u1"), (0, 0));
    // Surrounding whitespace is not counted.
    sent(&app, &token, json!({ "userId": "u1", "message": "  ten chars!  " })).await;
}

// ---------------------------------------------------------------------------------------------
// The generation queue, which remote AI calls wait in

/// Waits until the generation queue has `running` jobs running and `waiting` waiting.
async fn until_queue(app: &TestApp, running: usize, waiting: usize) {
    let work = &app.server.as_ref().expect("running").state.work;
    let deadline = Instant::now() + Duration::from_secs(10);
    while (work.running(), work.waiting()) != (running, waiting) {
        assert!(Instant::now() < deadline, "queue never reached {running} running, {waiting} waiting");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn unlimited_tier_calls_wait_ahead_of_others_and_metrics_show_the_queue() {
    let fake = FakeOpenAi::start().await;
    fake.set(Scenario::Gated);
    let app = fake
        .app(|c| {
            c.limits.generation_workers = 1;
            c.ai.openai.timeout_secs = 30;
        })
        .await;
    for user in ["first", "standard", "priority"] {
        set_tier(&app, user, if user == "priority" { "unlimited" } else { "premium" }).await;
    }
    let ask = |user: &'static str| {
        let (app, token) = (&app, app.token(user, Role::User));
        async move { send(app, &token, json!({ "userId": user, "message": format!("from {user}") })).await.status() }
    };
    // `first` holds the only worker at the gated fake, `standard` queues, and only then
    // `priority` arrives; once both wait, the fake lets every call through.
    let (first, standard, priority, ()) = tokio::join!(
        ask("first"),
        async {
            until_queue(&app, 1, 0).await;
            ask("standard").await
        },
        async {
            until_queue(&app, 1, 1).await;
            ask("priority").await
        },
        async {
            until_queue(&app, 1, 2).await;
            fake.release(3);
        }
    );
    assert_eq!([first, standard, priority].map(|s| s.as_u16()), [200, 200, 200]);
    let order: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.body["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, ["from first", "from priority", "from standard"], "the Unlimited call overtook the waiting one");

    // The recorder is shared by every server in this test process, so other tests add to it.
    let waits = metric(&app, "optima_generation_queue_wait_seconds_count", &[r#"kind="text""#, r#"priority="high""#]).await;
    assert!(waits.is_some_and(|n| n >= 1.0), "the wait of the priority call is measured: {waits:?}");
    assert!(metric(&app, "optima_generation_queue_waiting", &[]).await.is_some(), "queue depth is exported");
}

#[tokio::test]
async fn a_full_generation_queue_answers_503_with_retry_after_and_charges_nothing() {
    let fake = FakeOpenAi::start().await;
    fake.set(Scenario::Gated);
    let app = fake
        .app(|c| {
            c.limits.generation_workers = 1;
            c.limits.generation_queue = 1;
            c.ai.openai.timeout_secs = 30;
        })
        .await;
    for user in ["a", "b", "c"] {
        set_tier(&app, user, "premium").await;
    }
    let ask = |user: &'static str| {
        let (app, token) = (&app, app.token(user, Role::User));
        async move { send(app, &token, json!({ "userId": user, "message": "hello" })).await }
    };
    // `a` runs (held at the fake), `b` waits; `c` finds the queue full. Then the fake answers.
    let (a, b, c) = tokio::join!(
        ask("a"),
        async {
            until_queue(&app, 1, 0).await;
            ask("b").await
        },
        async {
            until_queue(&app, 1, 1).await;
            let c = ask("c").await;
            fake.release(2);
            c
        }
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200), "one runs, one waits its turn");
    assert_eq!(c.status(), 503);
    assert_eq!(c.headers()["retry-after"], "5");
    assert_eq!(error_code(c).await, "generation_busy");
    assert_eq!(settled_usage(&app, "c").await, (0, 0), "a refused call is not charged");
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn a_call_past_the_handler_deadline_answers_503_and_leaves_no_hold() {
    let fake = FakeOpenAi::start().await;
    fake.set(Scenario::Gated);
    let app = fake
        .app(|c| {
            c.limits.handler_timeout_secs = 1;
            c.ai.openai.timeout_secs = 60;
        })
        .await;
    let token = app.token("u1", Role::User);
    // The fake holds the answer until released: the handler's deadline passes first.
    let resp = send(&app, &token, json!({ "userId": "u1", "message": "are you there?" })).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(error_code(resp).await, "handler_timeout");
    assert_eq!(fake.requests().len(), 1, "the call had reached the provider");
    fake.release(1);
    assert_eq!(settled_usage(&app, "u1").await, (0, 0), "the abandoned call's hold is given back, nothing charged");
    assert_eq!(messages_total(&app), 0, "nothing stored");
}
