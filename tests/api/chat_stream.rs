//! Streamed chat: `POST /v1/chat` (the app's main AI screen, read the way its `services/ai.ts`
//! reads it) and the tRPC subscription `r3al.aiChat.streamMessage`, with the offline provider
//! and with the `openai` provider streaming from the fake (`fake_openai.rs`): pieces as the
//! model writes them, charged once, nothing charged or stored when the provider fails mid-reply,
//! and a dropped connection resumed from its last event id.

use std::time::Duration;

use optima::auth::Role;
use serde_json::{Value, json};

use crate::fake_openai::{FakeOpenAi, Scenario};
use crate::helpers::{TestApp, eventually, trpc_input};
use crate::sse::{SseEvent, SseStream};

const V1_CHAT: &str = "/v1/chat";

/// What the app's `services/ai.ts` makes of a streamed answer: the `delta` (or `content`) of
/// each `data:` line until `data: [DONE]`; `None` for the text when no `[DONE]` came, with the
/// error line's JSON if there was one.
async fn read_like_the_app(mut stream: SseStream) -> (Option<String>, Vec<String>, Option<Value>) {
    assert_eq!(stream.status, 200);
    assert!(stream.content_type.starts_with("text/event-stream"), "{}", stream.content_type);
    let mut pieces = Vec::new();
    while let Some(event) = stream.next_within(Duration::from_secs(10)).await {
        if event.data == "[DONE]" {
            return (Some(pieces.concat()), pieces, None);
        }
        let line = event.json();
        if line.get("error").is_some() {
            return (None, pieces, Some(line));
        }
        let piece = line.get("delta").or_else(|| line.get("content")).and_then(Value::as_str).expect("a delta");
        pieces.push(piece.to_owned());
    }
    (None, pieces, None)
}

fn conversation(question: &str, stream: bool) -> Value {
    json!({
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": question},
        ],
        "stream": stream,
        "temperature": 0.3,
        "max_tokens": 200,
        "model": "whatever-the-app-names",
    })
}

/// `(used, reserved)` of the `ai_chat` quota once no hold is left.
async fn settled(app: &TestApp, user: &str) -> (i64, i64) {
    eventually(5, "the holds are settled", || async { Some(app.usage(user, "ai_chat")).filter(|u| u.1 == 0) }).await
}

fn messages_total(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM chat_messages", &[])
}

#[tokio::test]
async fn v1_chat_streams_the_local_reply_the_way_the_app_reads_it_and_charges_each_reply_once() {
    let app = TestApp::spawn().await;
    let token = app.token("app_user", Role::User);

    let whole = app.post_json(V1_CHAT, Some(&token), &conversation("what tier am I on?", false)).await;
    assert_eq!(whole.status(), 200);
    let whole: Value = whole.json().await.unwrap();
    let content = whole["content"].as_str().unwrap().to_owned();
    assert!(content.contains("free tier"), "{whole}");
    assert_eq!(whole["model"], "optima-local");
    assert!(whole["usage"]["totalTokens"].as_u64().unwrap() > 0);
    assert_eq!(app.usage("app_user", "ai_chat"), (1, 0));

    let stream = SseStream::post(&app, V1_CHAT, &token, &conversation("what tier am I on?", true)).await;
    let (text, pieces, error) = read_like_the_app(stream).await;
    assert_eq!(error, None);
    assert!(pieces.len() > 3, "the reply comes in pieces: {pieces:?}");
    // The second answer counts one more message used, so its quota line differs; the tier part
    // is the same.
    let text = text.expect("[DONE] ends a complete reply");
    assert!(text.starts_with("You're on the free tier."), "{text}");
    assert_eq!(settled(&app, "app_user").await, (2, 0), "charged once per reply");
    assert_eq!(messages_total(&app), 0, "the app keeps its conversation; nothing is stored");

    // The third message is the free tier's last; the fourth is refused before any stream.
    let (last, _, _) = read_like_the_app(SseStream::post(&app, V1_CHAT, &token, &conversation("hi", true)).await).await;
    assert!(last.is_some());
    let refused = app.post_json(V1_CHAT, Some(&token), &conversation("hi", true)).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["code"], "quota_exceeded");
    assert_eq!(settled(&app, "app_user").await, (3, 0));
}

#[tokio::test]
async fn v1_chat_refuses_what_it_cannot_answer() {
    let app = TestApp::spawn().await;
    let token = app.token("app_user", Role::User);
    assert_eq!(app.post_json(V1_CHAT, None, &conversation("hi", true)).await.status(), 401);
    let cases = [
        (json!({"messages": []}), "messages"),
        (json!({"messages": [{"role": "assistant", "content": "hi"}]}), "user"),
        (json!({"messages": [{"role": "user", "content": "   "}]}), "messages"),
        (json!({"messages": [{"role": "robot", "content": "hi"}]}), "robot"),
        (json!({"messages": [{"role": "user", "content": "hi"}], "temperature": 3}), "temperature"),
        (json!({"messages": [{"role": "user", "content": "x".repeat(4001)}]}), "4000"),
        (json!({"messages": "hi"}), "messages"),
    ];
    for (body, named) in cases {
        let resp = app.post_json(V1_CHAT, Some(&token), &body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let error: Value = resp.json().await.unwrap();
        assert!(error["error"]["message"].as_str().unwrap().contains(named), "{body} → {error}");
    }
    assert_eq!(app.usage("app_user", "ai_chat"), (0, 0));
}

#[tokio::test]
async fn v1_chat_passes_the_upstreams_pieces_on_and_charges_nothing_when_it_breaks_mid_reply() {
    let fake = FakeOpenAi::start().await;
    fake.reply("One two three four five.", 30, 6);
    let app = fake.app(|_| {}).await;
    let token = app.token("app_user", Role::User);

    let (text, pieces, _) = read_like_the_app(SseStream::post(&app, V1_CHAT, &token, &conversation("count", true)).await).await;
    assert_eq!(text.as_deref(), Some("One two three four five."));
    assert_eq!(pieces, ["One ", "two ", "three ", "four ", "five."], "each upstream piece is passed on as it comes");
    let sent = fake.last().body;
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["messages"][0], json!({"role": "system", "content": "Be brief."}));
    assert_eq!(sent["messages"].as_array().unwrap().len(), 4);
    assert!((sent["temperature"].as_f64().unwrap() - 0.3).abs() < 1e-6, "{sent}");
    assert_eq!(sent["max_tokens"], 200);
    assert_eq!(settled(&app, "app_user").await, (1, 0));

    for scenario in [Scenario::StreamCut, Scenario::StreamError] {
        fake.set(scenario);
        let (text, pieces, error) = read_like_the_app(SseStream::post(&app, V1_CHAT, &token, &conversation("count", true)).await).await;
        assert_eq!(text, None, "{scenario:?}: no [DONE]");
        assert_eq!(pieces, ["One ", "two "], "{scenario:?}");
        let error = error.expect("an error line");
        assert_eq!(error["error"]["code"], "provider_failed", "{scenario:?}: {error}");
        assert_eq!(settled(&app, "app_user").await, (1, 0), "{scenario:?}: nothing charged");
    }
    // The timeout bounds each wait for more, not the whole of a reply that keeps coming.
    fake.set(Scenario::StreamSlowly);
    let (text, _, error) = read_like_the_app(SseStream::post(&app, V1_CHAT, &token, &conversation("count", true)).await).await;
    assert_eq!((text.as_deref(), error), (Some("One two three four five."), None), "1.2 s in all, under a 1 s timeout");
    assert_eq!(settled(&app, "app_user").await, (2, 0));
    fake.set(Scenario::StreamStall);
    let (text, pieces, error) = read_like_the_app(SseStream::post(&app, V1_CHAT, &token, &conversation("count", true)).await).await;
    assert_eq!((text, pieces.len()), (None, 2));
    let error = error.expect("an error line");
    assert!(error["error"]["message"].as_str().unwrap().contains("within 1 s"), "{error}");
    assert_eq!(settled(&app, "app_user").await, (2, 0), "a stalled reply is not charged");

    // Failures before the stream starts are plain error answers.
    fake.set(Scenario::Busy);
    let busy = app.post_json(V1_CHAT, Some(&token), &conversation("count", true)).await;
    assert_eq!(busy.status(), 503);
    assert_eq!(settled(&app, "app_user").await, (2, 0));
}

#[tokio::test]
async fn v1_chat_writes_and_charges_a_reply_the_client_left_after_its_first_piece() {
    let fake = FakeOpenAi::start().await;
    fake.set(Scenario::Gated);
    fake.reply("Slowly written words here.", 10, 4);
    let app = fake.app(|_| {}).await;
    let token = app.token("app_user", Role::User);

    let mut stream = SseStream::post(&app, V1_CHAT, &token, &conversation("go", true)).await;
    assert_eq!(stream.next().await.json()["delta"], "Slowly ");
    assert_eq!(app.usage("app_user", "ai_chat"), (0, 1), "held while it is written");
    drop(stream);
    // Leaving does not make the reply free: it is written to its end and charged once.
    fake.release(1);
    assert_eq!(settled(&app, "app_user").await, (1, 0));
    assert_eq!(fake.requests_to("/v1/chat/completions").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// tRPC: r3al.aiChat.streamMessage

fn stream_message_path(input: &Value) -> String {
    format!("/api/trpc/r3al.aiChat.streamMessage?input={}", trpc_input(&json!({ "json": input })))
}

/// The events after `connected`, up to and including the end (`return` or `serialized-error`).
async fn read_subscription(stream: &mut SseStream) -> Vec<SseEvent> {
    let mut events = Vec::new();
    while let Some(event) = stream.next_within(Duration::from_secs(10)).await {
        let end = event.event == "return" || event.event == "serialized-error";
        if event.event != "connected" && event.event != "ping" {
            events.push(event);
        }
        if end {
            break;
        }
    }
    events
}

fn deltas(events: &[SseEvent]) -> String {
    events.iter().filter(|e| e.event == "message").filter_map(|e| e.json()["json"]["delta"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn stream_message_sends_the_reply_in_pieces_then_the_stored_ids_and_charges_once() {
    let app = TestApp::spawn().await;
    let token = app.token("chatter", Role::User);
    let input = json!({"userId": "chatter", "sessionId": "session_1700000000000", "message": "What tier am I on?", "context": "general"});
    let mut stream = SseStream::open(&app, &stream_message_path(&input), &token, None).await;
    let events = read_subscription(&mut stream).await;
    let (done, pieces) = events[..events.len() - 1].split_last().expect("pieces and a final event");
    assert_eq!(events.last().unwrap().event, "return", "the subscription completes");
    assert!(pieces.len() > 3, "{pieces:?}");
    let done = done.json()["json"].clone();
    assert_eq!(done["done"], true, "{done}");
    assert_eq!(done["sessionId"], "session_1700000000000");
    assert_eq!(done["response"].as_str().unwrap(), deltas(pieces), "the pieces make the stored reply");
    assert_eq!(done["remainingMessages"], 2);
    let reply_id = done["messageId"].as_str().unwrap();
    assert_eq!(events[events.len() - 2].id.as_deref(), Some(format!("{reply_id}:end").as_str()));
    assert!(pieces.iter().all(|p| p.id.as_deref().is_some_and(|id| id.starts_with(reply_id))), "every piece is a tracked event");

    let history = app.get("/api/ai/chat/history/session_1700000000000", Some(&token)).await.json::<Value>().await.unwrap();
    let contents: Vec<&str> = history["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["What tier am I on?", done["response"].as_str().unwrap()]);
    assert_eq!(history["messages"][1]["messageId"], reply_id);
    assert_eq!(settled(&app, "chatter").await, (1, 0), "charged once, like sendMessage");

    // Someone else's user id is refused before anything is written or charged.
    let other = app.token("intruder", Role::User);
    let mut refused = SseStream::open(&app, &stream_message_path(&input), &other, None).await;
    let events = read_subscription(&mut refused).await;
    assert_eq!(events.last().unwrap().event, "serialized-error");
    assert_eq!(events.last().unwrap().json()["json"]["data"]["code"], "FORBIDDEN");
    assert_eq!(messages_total(&app), 2);
}

#[tokio::test]
async fn stream_message_charges_and_stores_nothing_when_the_provider_fails_mid_reply() {
    let fake = FakeOpenAi::start().await;
    fake.reply("One two three four five.", 30, 6);
    let app = fake.app(|_| {}).await;
    let token = app.token("chatter", Role::User);
    for scenario in [Scenario::StreamCut, Scenario::StreamError] {
        fake.set(scenario);
        let input = json!({"userId": "chatter", "message": "count for me"});
        let mut stream = SseStream::open(&app, &stream_message_path(&input), &token, None).await;
        let events = read_subscription(&mut stream).await;
        assert_eq!(deltas(&events), "One two ", "{scenario:?}: the pieces written before the failure");
        let error = events.last().unwrap();
        assert_eq!(error.event, "serialized-error", "{scenario:?}");
        assert!(error.json()["json"]["message"].as_str().unwrap().contains("mid-reply"), "{scenario:?}: {}", error.data);
        assert_eq!(settled(&app, "chatter").await, (0, 0), "{scenario:?}: nothing charged");
        assert_eq!(messages_total(&app), 0, "{scenario:?}: nothing stored");
    }
}

#[tokio::test]
async fn stream_message_resumes_after_a_dropped_connection_without_a_second_reply_or_charge() {
    let fake = FakeOpenAi::start().await;
    fake.set(Scenario::Gated);
    fake.reply("First words, then the rest of the reply.", 10, 8);
    let app = fake.app(|_| {}).await;
    let token = app.token("chatter", Role::User);
    let input = json!({"userId": "chatter", "sessionId": "s-resume", "message": "tell me"});

    let mut stream = SseStream::open(&app, &stream_message_path(&input), &token, None).await;
    let announced = stream.next_after_connected().await;
    assert_eq!(announced.json()["json"]["delta"], "", "an empty first piece names the reply at once");
    let reply_id = announced.id.clone().unwrap().strip_suffix(":0").expect("`<replyId>:0`").to_owned();
    let first = first_piece(&mut stream).await;
    assert_eq!(first.json()["json"]["delta"], "First ");
    let last_id = first.id.clone().expect("a tracked piece");
    drop(stream);

    // The reply goes on being written while the client is away.
    fake.release(1);
    eventually(5, "the reply is stored", || async { Some(()).filter(|_| messages_total(&app) == 2) }).await;

    // The link reconnects with the same input and the last id it saw.
    let mut resumed_input = input.clone();
    resumed_input["lastEventId"] = json!(last_id);
    let mut resumed = SseStream::open(&app, &stream_message_path(&resumed_input), &token, None).await;
    let events = read_subscription(&mut resumed).await;
    assert_eq!(format!("First {}", deltas(&events)), "First words, then the rest of the reply.", "exactly the missed pieces");
    let done = events.iter().find(|e| e.event == "message" && e.json()["json"]["done"] == true).expect("the final event");
    assert_eq!(done.json()["json"]["response"], "First words, then the rest of the reply.");
    assert_eq!(events.last().unwrap().event, "return");
    assert_eq!(done.json()["json"]["messageId"], reply_id.as_str());
    // A client that dropped before the model's first words resumes from the reply's first id.
    let mut from_start_input = input.clone();
    from_start_input["lastEventId"] = json!(format!("{reply_id}:0"));
    let mut from_start = SseStream::open(&app, &stream_message_path(&from_start_input), &token, None).await;
    assert_eq!(deltas(&read_subscription(&mut from_start).await), "First words, then the rest of the reply.");
    assert_eq!(fake.requests_to("/v1/chat/completions").len(), 1, "the model was asked once");
    assert_eq!(settled(&app, "chatter").await, (1, 0), "charged once");
    assert_eq!(messages_total(&app), 2);

    // EventSource's own reconnection sends the id as Last-Event-ID; after the end there is
    // nothing more to send.
    let end_id = done.id.clone().unwrap();
    let mut after_end = SseStream::open(&app, &stream_message_path(&input), &token, Some(&end_id)).await;
    let events = read_subscription(&mut after_end).await;
    assert_eq!(events.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(), ["return"]);

    // An id that is not a reply's, or another user's reply, is refused.
    for (who, last) in [("chatter", "not-an-id".to_owned()), ("someone", last_id.clone())] {
        let mut input = json!({"userId": who, "message": "x", "lastEventId": last});
        input["userId"] = json!(who);
        let mut refused = SseStream::open(&app, &stream_message_path(&input), &app.token(who, Role::User), None).await;
        let events = read_subscription(&mut refused).await;
        let code = events.last().unwrap().json()["json"]["data"]["code"].clone();
        assert!(code == "BAD_REQUEST" || code == "NOT_FOUND", "{who} {last}: {code}");
    }
    assert_eq!(settled(&app, "chatter").await, (1, 0));
}

/// The first tracked piece of a subscription with words in it.
async fn first_piece(stream: &mut SseStream) -> SseEvent {
    loop {
        let event = stream.next().await;
        if event.event == "message" && event.json()["json"]["delta"].as_str().is_some_and(|d| !d.is_empty()) {
            return event;
        }
    }
}

#[tokio::test]
async fn a_reply_the_server_no_longer_holds_is_resumed_from_the_store() {
    let app = TestApp::spawn_with(|c| c.chat.reply_linger_secs = 1).await;
    let token = app.token("chatter", Role::User);
    let input = json!({"userId": "chatter", "sessionId": "s-stored", "message": "what tier am I on?"});
    let mut stream = SseStream::open(&app, &stream_message_path(&input), &token, None).await;
    let first = first_piece(&mut stream).await;
    let events = read_subscription(&mut stream).await;
    let done = events.iter().find(|e| e.event == "message" && e.json()["json"]["done"] == true).unwrap().json()["json"].clone();
    drop(stream);
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let mut resumed_input = input.clone();
    resumed_input["lastEventId"] = json!(first.id.clone().unwrap());
    let mut resumed = SseStream::open(&app, &stream_message_path(&resumed_input), &token, None).await;
    let events = read_subscription(&mut resumed).await;
    let rest = deltas(&events);
    assert_eq!(format!("{}{rest}", first.json()["json"]["delta"].as_str().unwrap()), done["response"].as_str().unwrap());
    let again = events.iter().find(|e| e.event == "message" && e.json()["json"]["done"] == true).expect("the end").json()["json"].clone();
    for field in ["sessionId", "messageId", "userMessageId", "response", "model", "usage"] {
        assert_eq!(again[field], done[field], "{field}");
    }
    assert_eq!(events.last().unwrap().event, "return");
    assert_eq!(settled(&app, "chatter").await, (1, 0));

    // An id of no stored reply is not found once the wait is over.
    let mut unknown_input = input.clone();
    unknown_input["lastEventId"] = json!(format!("{}:0", uuid::Uuid::now_v7()));
    let mut unknown = SseStream::open(&app, &stream_message_path(&unknown_input), &token, None).await;
    let events = read_subscription(&mut unknown).await;
    assert_eq!(events.last().unwrap().json()["json"]["data"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn a_reply_written_by_one_server_is_resumed_on_another_once_stored() {
    let fake = FakeOpenAi::start().await;
    let first = fake.app(|_| {}).await;
    if !first.is_postgres() {
        // One SQLite file has one server.
        return;
    }
    fake.set(Scenario::Gated);
    fake.reply("Written on the first server, read on the second.", 10, 9);
    let (database, data_dir) = (first.config().database.clone(), first.config().data_dir.clone());
    let second = fake
        .app(move |c| {
            c.database = database;
            c.data_dir = data_dir;
        })
        .await;
    let token = first.token("roamer", Role::User);
    let input = json!({"userId": "roamer", "message": "tell me"});
    let mut on_first = SseStream::open(&first, &stream_message_path(&input), &token, None).await;
    let piece = first_piece(&mut on_first).await;
    assert_eq!(piece.json()["json"]["delta"], "Written ");
    drop(on_first);

    let mut resumed_input = input.clone();
    resumed_input["lastEventId"] = json!(piece.id.clone().unwrap());
    let mut on_second = SseStream::open(&second, &stream_message_path(&resumed_input), &token, None).await;
    fake.release(1);
    let events = read_subscription(&mut on_second).await;
    assert_eq!(format!("Written {}", deltas(&events)), "Written on the first server, read on the second.");
    let done = events.iter().find(|e| e.event == "message" && e.json()["json"]["done"] == true).expect("the end").json()["json"].clone();
    assert_eq!(done["response"], "Written on the first server, read on the second.");
    assert_eq!(fake.requests_to("/v1/chat/completions").len(), 1, "asked once");
    assert_eq!(settled(&first, "roamer").await, (1, 0), "charged once");
}
