//! Live events over plain SSE (`GET /api/events`): comms under exactly the visibility and
//! clearance rules of the comm list, incidents of the member's department, resuming after a
//! dropped connection with the last id (exactly what was missed, in order), a last id older
//! than the log keeps, the bounds on open streams, refusals, shutdown, and two servers on one
//! PostgreSQL database.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, created, ok};
use crate::sse::{SseEvent, SseStream};
use crate::tactical::{admin, member};

const DEPT: &str = "Metro PD";
const OTHER_DEPT: &str = "Harbor PD";
const SEND: &str = "/api/tactical/comm/send";

fn comms_of(user: &str) -> String {
    format!("/api/events?userId={user}&topics=comms")
}

async fn send(app: &TestApp, token: &str, from: &str, content: &str, classification: &str) -> Value {
    let body = json!({"fromUserId": from, "content": content, "classification": classification});
    created(app.post_json(SEND, Some(token), &body).await).await
}

/// The comm an event carries: its content and classification.
fn comm_of(event: &SseEvent) -> (String, String) {
    assert_eq!(event.event, "comm", "{event:?}");
    let data = event.json();
    assert_eq!(data["type"], "comm", "{data}");
    assert_eq!(data["id"].as_str(), event.id.as_deref(), "the data names the event's id: {data}");
    (data["comm"]["content"].as_str().unwrap_or("").to_owned(), data["comm"]["classification"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn a_member_is_sent_each_comm_they_may_see_as_it_is_sent_and_no_other() {
    let app = TestApp::spawn().await;
    let hq = admin(&app);
    let chief = member(&app, &hq, "chief", DEPT, "top_secret").await;
    let officer = member(&app, &hq, "officer", DEPT, "confidential").await;
    let harbor = member(&app, &hq, "harbor", OTHER_DEPT, "top_secret").await;

    let mut stream = SseStream::open(&app, &comms_of("officer"), &officer, None).await;
    assert_eq!(stream.status, 200);
    assert!(stream.content_type.starts_with("text/event-stream"), "{}", stream.content_type);

    send(&app, &chief, "chief", "units to the bridge", "public").await;
    send(&app, &chief, "chief", "the informant's name", "secret").await;
    send(&app, &harbor, "harbor", "harbor only", "public").await;
    send(&app, &chief, "chief", "sealed for confidential eyes", "confidential").await;
    send(&app, &chief, "chief", "last one", "public").await;

    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(comm_of(&stream.next().await));
    }
    assert_eq!(
        seen,
        [
            ("units to the bridge".to_owned(), "public".to_owned()),
            ("sealed for confidential eyes".to_owned(), "confidential".to_owned()),
            ("last one".to_owned(), "public".to_owned()),
        ],
        "a confidential member of Metro PD is sent neither the secret comm nor Harbor PD's, and the sealed one opened"
    );
    assert!(stream.next_within(Duration::from_millis(500)).await.is_none(), "nothing more");

    // The same comms the member's own list shows, no more.
    let listed = ok(app.get("/api/tactical/comm/officer", Some(&officer)).await).await;
    let contents: Vec<&str> = listed["comms"].as_array().unwrap().iter().filter_map(|c| c["content"].as_str()).collect();
    assert_eq!(contents, ["last one", "sealed for confidential eyes", "units to the bridge"]);

    // The sealed comm was opened for this member alone: the log holds no content.
    assert_eq!(app.count("SELECT count(*) FROM events WHERE CAST(payload AS TEXT) LIKE ?1", &[&"%confidential eyes%"]), 0);
}

#[tokio::test]
async fn a_client_that_reconnects_with_its_last_id_is_sent_exactly_what_it_missed_in_order() {
    let app = TestApp::spawn().await;
    let hq = admin(&app);
    let chief = member(&app, &hq, "chief", DEPT, "secret").await;
    let medic = member(&app, &hq, "medic", DEPT, "public").await;

    let mut stream = SseStream::open(&app, &comms_of("medic"), &medic, None).await;
    send(&app, &chief, "chief", "before the drop", "public").await;
    let first = stream.next().await;
    assert_eq!(comm_of(&first).0, "before the drop");
    let last_id = first.id.clone().expect("events have ids");
    drop(stream);

    for n in 1..=3 {
        send(&app, &chief, "chief", &format!("missed {n}"), "public").await;
        send(&app, &chief, "chief", &format!("secret {n}"), "secret").await;
    }
    let mut again = SseStream::open(&app, &comms_of("medic"), &medic, Some(&last_id)).await;
    assert_eq!(again.status, 200);
    let mut ids = vec![last_id.parse::<u64>().unwrap()];
    for n in 1..=3 {
        let event = again.next().await;
        assert_eq!(comm_of(&event).0, format!("missed {n}"));
        ids.push(event.id.unwrap().parse().unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");
    send(&app, &chief, "chief", "live again", "public").await;
    assert_eq!(comm_of(&again.next().await).0, "live again", "after the missed ones, live ones");
    assert!(again.next_within(Duration::from_millis(300)).await.is_none(), "each event once");

    // `lastEventId` in the query does the same, for clients that cannot set headers.
    let mut by_query =
        SseStream::open(&app, &format!("{}&lastEventId={last_id}", comms_of("medic")), &medic, None).await;
    assert_eq!(comm_of(&by_query.next().await).0, "missed 1");
}

#[tokio::test]
async fn a_last_id_older_than_the_log_keeps_is_told_so_then_goes_on() {
    let app = TestApp::spawn_with(|c| {
        c.events.retention_max_events = 2;
        // Pruned once a second (a tenth of the retention).
        c.events.retention_secs = 10;
    })
    .await;
    let hq = admin(&app);
    let chief = member(&app, &hq, "chief", DEPT, "secret").await;
    let medic = member(&app, &hq, "medic", DEPT, "public").await;
    let mut stream = SseStream::open(&app, &comms_of("medic"), &medic, None).await;
    send(&app, &chief, "chief", "first", "public").await;
    let first_id = stream.next().await.id.unwrap();
    drop(stream);
    for n in 1..=5 {
        send(&app, &chief, "chief", &format!("later {n}"), "public").await;
    }
    // The log is pruned to its newest two events (once a second with this retention count).
    crate::helpers::eventually(10, "the log pruned to 2 events", || async {
        (app.count("SELECT count(*) FROM events", &[]) <= 2).then_some(())
    })
    .await;
    let mut again = SseStream::open(&app, &comms_of("medic"), &medic, Some(&first_id)).await;
    let missed = again.next().await;
    assert_eq!(missed.event, "missed", "{missed:?}");
    let data = missed.json();
    assert_eq!(data["missed"]["last"], first_id.as_str(), "{data}");
    assert_eq!(comm_of(&again.next().await).0, "later 4", "then what the log still has");
    assert_eq!(comm_of(&again.next().await).0, "later 5");
}

#[tokio::test]
async fn incidents_of_the_members_department_arrive_as_reported_and_as_they_change() {
    let app = TestApp::spawn().await;
    let hq = admin(&app);
    let chief = member(&app, &hq, "chief", DEPT, "secret").await;
    let medic = member(&app, &hq, "medic", DEPT, "public").await;
    let harbor = member(&app, &hq, "harbor", OTHER_DEPT, "secret").await;
    let mut stream = SseStream::open(&app, "/api/events?userId=medic&topics=incidents,comms", &medic, None).await;

    let report = |title: &str| json!({"title": title, "description": "smoke on level 3", "severity": "high"});
    created(app.post_json("/api/tactical/incident/report", Some(&harbor), &report("harbor fire")).await).await;
    let fire = created(app.post_json("/api/tactical/incident/report", Some(&chief), &report("warehouse fire")).await).await;
    let id = fire["incidentId"].as_str().unwrap();
    let reported = stream.next().await;
    assert_eq!(reported.event, "incident");
    assert_eq!(reported.json()["incident"]["title"], "warehouse fire", "Harbor PD's incident is not sent");
    assert_eq!(reported.json()["incident"]["status"], "active");

    // An event carries the incident as it is when it is sent.
    ok(app.put_json(&format!("/api/tactical/incident/{id}/status"), Some(&chief), &json!({"status": "escalated"})).await).await;
    let escalated = stream.next().await;
    assert_eq!(escalated.json()["incident"]["incidentId"], id);
    assert_eq!(escalated.json()["incident"]["status"], "escalated");
    assert!(stream.next_within(Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn streams_are_refused_to_strangers_bad_topics_and_past_their_bounds() {
    let app = TestApp::spawn_with(|c| c.events.max_streams_per_user = 2).await;
    let hq = admin(&app);
    let medic = member(&app, &hq, "medic", DEPT, "public").await;
    let chief = member(&app, &hq, "chief", DEPT, "secret").await;

    let no_token = reqwest::get(app.url(&comms_of("medic"))).await.unwrap();
    assert_eq!(no_token.status(), 401);
    let someone_else = SseStream::open(&app, &comms_of("chief"), &medic, None).await;
    assert_eq!(someone_else.status, 403);
    let bad = SseStream::open(&app, "/api/events?userId=medic&topics=comms,gossip", &medic, None).await;
    assert_eq!(bad.status, 400);
    let body = bad.error_body().await;
    assert_eq!(body["error"]["code"], "invalid_field", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("gossip"), "{body}");
    let bad_id = SseStream::open(&app, &comms_of("medic"), &medic, Some("yesterday")).await;
    assert_eq!(bad_id.status, 400);
    let project = created(
        app.post_json("/api/music/project/create", Some(&chief), &json!({"userId": "chief", "title": "Night shift"})).await,
    )
    .await;
    let theirs = format!("/api/events?userId=medic&topics=generation:{}", project["projectId"].as_str().unwrap());
    let not_yours = SseStream::open(&app, &theirs, &medic, None).await;
    assert_eq!(not_yours.status, 404, "another user's project is not found");
    let own = format!("/api/events?userId=chief&topics=generation:{}", project["projectId"].as_str().unwrap());
    assert_eq!(SseStream::open(&app, &own, &chief, None).await.status, 200, "its owner may watch it");
    let outsider = app.token("outsider", optima::auth::Role::User);
    let not_member = SseStream::open(&app, &comms_of("outsider"), &outsider, None).await;
    assert_eq!(not_member.status, 403);

    let one = SseStream::open(&app, &comms_of("medic"), &medic, None).await;
    let _two = SseStream::open(&app, &comms_of("medic"), &medic, None).await;
    let three = SseStream::open(&app, &comms_of("medic"), &medic, None).await;
    assert_eq!(three.status, 429);
    assert_eq!(three.error_body().await["error"]["code"], "too_many_streams");
    let chiefs = SseStream::open(&app, &comms_of("chief"), &chief, None).await;
    assert_eq!(chiefs.status, 200, "the bound is per user");
    drop(one);
    crate::helpers::eventually(5, "a closed stream's place given back", || async {
        let s = SseStream::open(&app, &comms_of("medic"), &medic, None).await;
        (s.status == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn open_streams_end_promptly_at_shutdown_and_idle_ones_are_kept_alive() {
    let mut app = TestApp::spawn_with(|c| c.events.keepalive_secs = 1).await;
    let hq = admin(&app);
    let medic = member(&app, &hq, "medic", DEPT, "public").await;
    let mut stream = SseStream::open(&app, &comms_of("medic"), &medic, None).await;
    let idle = stream.next_within(Duration::from_millis(2_500)).await;
    assert!(idle.is_none(), "{idle:?}");
    assert!(stream.keepalives >= 1, "an idle stream gets comment lines");
    let started = std::time::Instant::now();
    app.restart().await;
    let (ended, _) = stream.ends_within(Duration::from_secs(5)).await;
    assert!(ended, "the stream ended with the server");
    assert!(started.elapsed() < Duration::from_secs(10), "the shutdown did not wait for the stream");
}

#[tokio::test]
async fn a_comm_sent_through_one_server_reaches_a_subscriber_of_another_on_the_same_database() {
    let first = TestApp::spawn().await;
    if !first.is_postgres() {
        // One SQLite file has one server; the in-process fan-out is the tests above.
        return;
    }
    let (database, data_dir) = (first.config().database.clone(), first.config().data_dir.clone());
    let second = TestApp::spawn_with(move |c| {
        c.database = database;
        c.data_dir = data_dir;
    })
    .await;
    let hq = admin(&first);
    let chief = member(&first, &hq, "chief", DEPT, "secret").await;
    let medic = member(&first, &hq, "medic", DEPT, "confidential").await;
    let mut on_second = SseStream::open(&second, &comms_of("medic"), &medic, None).await;
    assert_eq!(on_second.status, 200);
    let trpc_path = format!("/api/trpc/r3al.tactical.onComm?input={}", crate::helpers::trpc_input(&json!({"json": {"userId": "medic"}})));
    let mut trpc_on_second = SseStream::open(&second, &trpc_path, &medic, None).await;
    assert_eq!(trpc_on_second.next().await.event, "connected");
    let sent_at = std::time::Instant::now();
    send(&first, &chief, "chief", "across servers", "confidential").await;
    let event = on_second.next_within(Duration::from_secs(3)).await.expect("the comm reaches the other server");
    assert_eq!(comm_of(&event).0, "across servers");
    let took = sent_at.elapsed();
    eprintln!("a comm sent through one server reached a subscriber of the other in {took:?}");
    let tracked = trpc_on_second.next_within(Duration::from_secs(3)).await.expect("the comm reaches the tRPC subscriber too");
    assert_eq!(tracked.json()["json"]["content"], "across servers", "{}", tracked.data);

    // A client that drops off the second server and reconnects to the first misses nothing.
    let last = tracked.id.clone().expect("a tracked event");
    drop(trpc_on_second);
    send(&first, &chief, "chief", "while away", "public").await;
    send(&second, &chief, "chief", "still away", "public").await;
    let mut back_on_first = SseStream::open(&first, &trpc_path, &medic, Some(&last)).await;
    let mut missed = Vec::new();
    while missed.len() < 2 {
        let event = back_on_first.next().await;
        if event.event == "message" {
            missed.push(event.json()["json"]["content"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(missed, ["while away", "still away"]);
}

#[tokio::test]
async fn a_burst_of_comms_reaches_a_stream_whole_and_in_order() {
    // The stream may fall 16 events behind in memory before it reads the log instead (the bus's
    // own tests make it fall behind; here the client reads only after the burst).
    let app = TestApp::spawn_with(|c| c.events.buffer_events = 16).await;
    let hq = admin(&app);
    let chief = member(&app, &hq, "chief", DEPT, "secret").await;
    let medic = member(&app, &hq, "medic", DEPT, "public").await;
    let mut stream = SseStream::open(&app, &comms_of("medic"), &medic, None).await;
    for n in 1..=40 {
        send(&app, &chief, "chief", &format!("burst {n}"), "public").await;
    }
    for n in 1..=40 {
        assert_eq!(comm_of(&stream.next().await).0, format!("burst {n}"), "every event, in order, once");
    }
    assert!(stream.next_within(Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn a_stream_ends_cleanly_after_max_stream_secs_and_resumes_where_it_was() {
    let app = TestApp::spawn_with(|c| c.events.max_stream_secs = 1).await;
    let hq = admin(&app);
    let chief = member(&app, &hq, "chief", DEPT, "secret").await;
    let medic = member(&app, &hq, "medic", DEPT, "public").await;
    let mut stream = SseStream::open(&app, &comms_of("medic"), &medic, None).await;
    send(&app, &chief, "chief", "before the end", "public").await;
    let last = stream.next().await.id.unwrap();
    let (ended, _) = stream.ends_within(Duration::from_secs(5)).await;
    assert!(ended, "the stream ended by itself");
    send(&app, &chief, "chief", "after the end", "public").await;
    let mut again = SseStream::open(&app, &comms_of("medic"), &medic, Some(&last)).await;
    assert_eq!(comm_of(&again.next().await).0, "after the end");
}

#[tokio::test]
async fn a_generation_is_followed_from_queued_through_each_part_to_completed_with_its_playable_version() {
    let app = TestApp::spawn().await;
    let token = crate::helpers::user_on(&app, "composer", "premium").await;
    let project = created(app.post_json("/api/music/project/create", Some(&token), &json!({"userId": "composer", "title": "Dawn"})).await).await;
    let id = project["projectId"].as_str().unwrap();
    let mut stream = SseStream::open(&app, &format!("/api/events?userId=composer&topics=generation:{id}"), &token, None).await;
    assert_eq!(stream.status, 200);
    let body = json!({"userId": "composer", "projectId": id, "prompt": "slow piano at dawn", "duration": 10});
    let generated = ok(app.post_json("/api/music/generate", Some(&token), &body).await).await;

    let queued = stream.next().await;
    assert_eq!(queued.event, "generation");
    assert_eq!(queued.json()["generation"]["status"], "queued", "{:?}", queued.json());
    assert_eq!(queued.json()["generation"]["projectId"], id);
    let mut steps = Vec::new();
    let done = loop {
        let step = stream.next().await.json()["generation"].take();
        if step["status"] == "completed" || step["status"] == "failed" {
            break json!({ "generation": step });
        }
        steps.push(step);
    };
    assert_eq!(steps.first().map(|s| s["status"].clone()), Some(json!("composing")), "{steps:?}");
    let rendered: Vec<&Value> = steps.iter().filter(|s| s["status"] == "rendered").collect();
    let total = rendered.len();
    assert!(total >= 2, "each part rendered is a step: {steps:?}");
    for (i, step) in rendered.iter().enumerate() {
        assert_eq!((step["partsDone"].as_u64(), step["partsTotal"].as_u64()), (Some(i as u64 + 1), Some(total as u64)), "{step}");
        assert!(step["part"].is_string());
    }
    assert_eq!(steps.last().map(|s| s["status"].clone()), Some(json!("encoding")), "{steps:?}");
    assert_eq!(done["generation"]["status"], "completed", "{done}");
    assert_eq!(done["generation"]["versionId"], generated["versionId"]);
    let mix_url = done["generation"]["version"]["mixUrl"].as_str().expect("the version's playable mix");
    assert!(!app.fetch_bytes(mix_url).await.is_empty(), "the mix plays");
    // The log keeps the steps, never the prompt.
    assert_eq!(app.count("SELECT count(*) FROM events WHERE CAST(payload AS TEXT) LIKE ?1", &[&"%piano%"]), 0);

    // A remix is followed the same way.
    let remix = ok(app.post_json(&format!("/api/music/project/{id}/mix"), Some(&token), &json!({})).await).await;
    let statuses: Vec<Value> = [stream.next().await, stream.next().await, stream.next().await].iter().map(|e| e.json()["generation"].clone()).collect();
    assert_eq!(statuses.iter().map(|s| s["status"].as_str().unwrap()).collect::<Vec<_>>(), ["queued", "encoding", "completed"], "{statuses:?}");
    assert!(statuses.iter().all(|s| s["kind"] == "remix"));
    assert_eq!(statuses[2]["versionId"], remix["versionId"]);
}

#[tokio::test]
async fn a_stream_whose_client_stops_reading_is_dropped() {
    let app = TestApp::spawn_with(|c| {
        c.limits.stalled_client_secs = 2;
        c.events.keepalive_secs = 1;
    })
    .await;
    let hq = admin(&app);
    let chief = member(&app, &hq, "chief", DEPT, "secret").await;
    let medic = member(&app, &hq, "medic", DEPT, "public").await;

    // A client with a small receive buffer that reads the answer's first bytes, then nothing.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(app.base.trim_start_matches("http://").parse().unwrap()).await.unwrap();
    let request = format!("GET {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {medic}\r\nAccept: text/event-stream\r\n\r\n", comms_of("medic"));
    tokio::io::AsyncWriteExt::write_all(&mut stalled, request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    tokio::io::AsyncReadExt::read_exact(&mut stalled, &mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let open = || async { crate::helpers::metric(&app, "optima_open_streams", &[]).await };
    assert_eq!(open().await, Some(1.0));

    // More than the socket buffers hold, while the client reads none of it.
    let long = "x".repeat(4_000);
    for i in 0..150 {
        send(&app, &chief, "chief", &format!("{i} {long}"), "public").await;
    }
    crate::helpers::eventually(30, "the stalled stream is dropped", || async { open().await.filter(|n| *n == 0.0) }).await;
    drop(stalled);

    // Readers that keep up are not affected.
    let mut reading = SseStream::open(&app, &comms_of("medic"), &medic, None).await;
    send(&app, &chief, "chief", "still delivered", "public").await;
    assert_eq!(comm_of(&reading.next().await).0, "still delivered");
}
