//! The chat store on PostgreSQL against a real server (tests/api/postgres.rs), answering as the
//! SQLite store does for the same calls, and real races on separate connections: first messages
//! under one client id, exchanges for the last units of a quota, held quota committed at once.
//! Each test prints a SKIPPED line and passes when PostgreSQL is not installed.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use optima::db::postgres::PgDb;
use optima::error::AppResult;
use optima::features::chat::model::ChatContext;
use optima::features::chat::store::postgres::PgChatStore;
use optima::features::chat::store::sqlite::SqliteChatStore;
use optima::features::chat::store::{ChatStore, ExchangeQuota, NewExchange};
use optima::features::page::Page;
use optima::features::subscription::admission::Admission;
use optima::features::subscription::plan::{Feature, Limit, TierPlans};
use optima::features::subscription::store::postgres::PgSubscriptionStore;
use optima::features::subscription::store::sqlite::SqliteSubscriptionStore;
use optima::features::subscription::store::SubscriptionStore;
use tokio::sync::Barrier;

use crate::postgres::{assert_same_answers, database, migrated, sqlite_db};

/// The default plans with the free tier allowed `limit` AI chats a day.
fn plans(limit: u64) -> Arc<TierPlans> {
    let mut plans = TierPlans::default();
    plans.free.ai_chat.limit = Limit::Count(limit);
    Arc::new(plans)
}

fn admission(plans: &Arc<TierPlans>, user: &str, amount: u64, now: DateTime<Utc>) -> Admission {
    Admission { plans: plans.clone(), user_id: user.to_owned(), feature: Feature::AiChat, amount, now }
}

/// A UUID ending in `n`, as the service's `Uuid::now_v7` ids are written.
fn id(n: u32) -> String {
    format!("0190b0a0-0000-7000-8000-{n:012x}")
}

/// Times `n` milliseconds into 2026, as the service writes them.
fn at(ms: u32) -> String {
    format!("2026-01-01T00:00:{:02}.{:03}Z", ms / 1000, ms % 1000)
}

/// An exchange numbered `n` (its messages are `id(10n)` and `id(10n + 1)`) into `session`.
fn exchange(n: u32, user: &str, session: &str, new_session: bool, client_id: Option<&str>, asked: u32, answered: u32) -> NewExchange {
    NewExchange {
        session_id: session.to_owned(),
        new_session,
        client_id: client_id.map(str::to_owned),
        user_id: user.to_owned(),
        context: if n.is_multiple_of(3) { ChatContext::Writing } else { ChatContext::General },
        title: format!("question {n}"),
        user_message_id: id(10 * n),
        user_text: format!("question {n}?"),
        asked_at: at(asked),
        reply_id: id(10 * n + 1),
        reply_text: format!("answer {n}."),
        model: "offline".into(),
        prompt_tokens: n,
        completion_tokens: 2 * n,
        answered_at: at(answered),
    }
}

fn outcome<T: std::fmt::Debug>(result: AppResult<T>) -> String {
    format!("{:?}", result.map_err(|e| (e.status().as_u16(), e.code())))
}

fn page(limit: u32, offset: u32) -> Page {
    Page::new(limit, offset).unwrap()
}

/// Every path of the trait, each answer as text.
async fn scenario(store: &dyn ChatStore, subs: &dyn SubscriptionStore, plans: &Arc<TierPlans>, now: DateTime<Utc>) -> Vec<String> {
    let mut said = Vec::new();
    let charge = |user: &str| ExchangeQuota::Charge(admission(plans, user, 1, now));
    let (s1, s2, s3, s4) = (id(1), id(2), id(3), id(4));
    for (user, key) in [("ann", s1.clone()), ("ann", "session_1".into()), ("ann", "not-a-uuid".into()), ("ann", String::new())] {
        said.push(format!("{user} {key:?}: {:?}", store.session(user, &key).await.unwrap()));
    }
    // A session of its own, one a client named, one more exchange in each (times out of order).
    said.push(outcome(store.insert_exchange(exchange(1, "ann", &s1, true, None, 1000, 1500), charge("ann")).await));
    said.push(outcome(store.insert_exchange(exchange(2, "ann", &s2, true, Some("session_1"), 2000, 2500), charge("ann")).await));
    said.push(outcome(store.insert_exchange(exchange(3, "ann", &s1, false, None, 3000, 3500), charge("ann")).await));
    said.push(outcome(store.insert_exchange(exchange(4, "ann", &s2, false, None, 1000, 1200), charge("ann")).await));
    // Bob's client names a session `session_1` too, and another after Ann's session's own id.
    said.push(outcome(store.insert_exchange(exchange(5, "bob", &s3, true, Some("session_1"), 4000, 4000), charge("bob")).await));
    said.push(outcome(store.insert_exchange(exchange(6, "bob", &s4, true, Some(&s1), 4000, 4000), charge("bob")).await));
    // Ann's concurrent first message under `session_1` came second: it goes into that session.
    said.push(outcome(store.insert_exchange(exchange(7, "ann", &id(9), true, Some("session_1"), 5000, 5000), charge("ann")).await));
    for (user, key) in [
        ("ann", s1.clone()),
        ("ann", "session_1".to_owned()),
        ("bob", "session_1".to_owned()),
        // The stored id comes before a client's id: Ann's session, though Bob's client named one so.
        ("bob", s1.clone()),
        ("bob", s4.clone()),
        ("carol", "session_1".to_owned()),
        ("ann", id(9)),
        ("ann", s1.to_uppercase()),
    ] {
        said.push(format!("{user} {key:?}: {:?}", store.session(user, &key).await.unwrap()));
    }
    for (session, limit) in [(&s1, 3), (&s1, 100), (&s2, 1), (&s2, 0), (&id(99), 5)] {
        said.push(format!("recent {session} {limit}: {:?}", store.recent_messages(session, limit).await.unwrap()));
    }
    for key in ["not-a-uuid".to_owned(), s1.to_uppercase(), String::new()] {
        said.push(format!("recent {key:?}: {:?} page: {:?}", store.recent_messages(&key, 5).await.unwrap(), store.messages_page(&key, page(5, 0)).await.unwrap()));
    }
    for (session, limit, offset) in [(&s1, 10, 0), (&s1, 1, 1), (&s1, 2, 3), (&s2, 200, 0), (&s2, 3, 10), (&id(99), 5, 0)] {
        said.push(format!("page {session} {limit}/{offset}: {:?}", store.messages_page(session, page(limit, offset)).await.unwrap()));
    }
    for (user, limit, offset) in [("ann", 10, 0), ("ann", 1, 0), ("ann", 1, 1), ("ann", 5, 2), ("bob", 10, 0), ("nobody", 10, 0)] {
        said.push(format!("sessions {user} {limit}/{offset}: {:?}", store.sessions_page(user, page(limit, offset)).await.unwrap()));
    }
    said.push(format!("{:?}", store.caller_snapshot(admission(plans, "ann", 0, now)).await.unwrap()));
    said.push(format!("{:?}", store.caller_snapshot(admission(plans, "nobody", 0, now)).await.unwrap()));

    // Held quota committed with the exchange; the standing is the one after the commit.
    let hold = subs.hold(admission(plans, "ann", 1, now)).await.unwrap();
    let held = ExchangeQuota::CommitHold { hold, standing: admission(plans, "ann", 1, now) };
    said.push(outcome(store.insert_exchange(exchange(8, "ann", &s1, false, None, 6000, 6001), held).await));
    // The quota used up (a limit of 6): refused, nothing stored, not even the new session.
    said.push(outcome(store.insert_exchange(exchange(11, "ann", &id(11), true, Some("session_2"), 7000, 7000), charge("ann")).await));
    said.push(outcome(store.insert_exchange(exchange(12, "ann", &s1, false, None, 7000, 7000), charge("ann")).await));
    said.push(format!("{:?}", store.session("ann", "session_2").await.unwrap()));
    said.push(format!("{:?}", store.messages_page(&s1, page(200, 0)).await.unwrap().1));
    said.push(format!("{:?}", store.caller_snapshot(admission(plans, "ann", 0, now)).await.unwrap()));
    // A session of a tier that does not include chat at all.
    let mut no_chat = TierPlans::default();
    no_chat.free.ai_chat.limit = Limit::Count(0);
    let no_chat = Arc::new(no_chat);
    let refused = ExchangeQuota::Charge(admission(&no_chat, "dee", 1, now));
    said.push(outcome(store.insert_exchange(exchange(13, "dee", &id(13), true, None, 7000, 7000), refused).await));
    said.push(format!("{:?}", store.sessions_page("dee", page(10, 0)).await.unwrap()));

    // Deleting: the session, its messages and its place in the count go; only once.
    said.push(outcome(store.delete_session(&s1).await));
    said.push(outcome(store.delete_session(&s1).await));
    for key in ["not-a-uuid".to_owned(), s2.to_uppercase(), id(99), String::new()] {
        said.push(format!("delete {key:?}: {}", outcome(store.delete_session(&key).await)));
    }
    said.push(format!("{:?}", store.messages_page(&s1, page(10, 0)).await.unwrap()));
    said.push(format!("{:?}", store.session("ann", &s1).await.unwrap()));
    said.push(format!("{:?}", store.sessions_page("ann", page(10, 0)).await.unwrap()));
    said.push(format!("{:?}", store.caller_snapshot(admission(plans, "ann", 0, now)).await.unwrap().sessions));
    // An exchange into a session deleted meanwhile: refused, nothing paid.
    said.push(outcome(store.insert_exchange(exchange(14, "ann", &s1, false, None, 8000, 8000), charge("bob")).await));
    said.push(format!("{:?}", store.caller_snapshot(admission(plans, "bob", 0, now)).await.unwrap().standing.used));
    // Stored replies: by their id, for their owner only; a question's id is not a reply's, and a
    // deleted session's replies are gone.
    for (user, message) in [("ann", id(41)), ("bob", id(61)), ("bob", id(41)), ("ann", id(40)), ("ann", id(11)), ("ann", "not-a-uuid".into())] {
        said.push(format!("{:?}", store.stored_reply(user, &message).await.unwrap()));
    }
    said
}

#[tokio::test]
async fn postgres_chat_store_answers_as_sqlite() {
    let Some(config) = database("postgres_chat_store_answers_as_sqlite").await else { return };
    let db = migrated(&config).await;
    let (pg, pg_subs) = (PgChatStore::new(db.clone()), PgSubscriptionStore::new(db.clone()));
    let dir = tempfile::tempdir().unwrap();
    let lite_db = sqlite_db(&dir);
    let (lite, lite_subs) = (SqliteChatStore::new(lite_db.clone()), SqliteSubscriptionStore::new(lite_db));
    let plans = plans(6);
    let now = Utc::now();
    let on_pg = scenario(&pg, &pg_subs, &plans, now).await;
    let on_lite = scenario(&lite, &lite_subs, &plans, now).await;
    assert_same_answers(&on_pg, &on_lite);

    // The expectations, on both.
    assert!(on_pg[..4].iter().all(|s| s.ends_with(": None")), "{on_pg:?}");
    let stored = |s: &str, session: &str| s.starts_with(&format!("Ok(StoredExchange {{ session_id: \"{session}\""));
    assert!(stored(&on_pg[4], &id(1)) && stored(&on_pg[5], &id(2)) && stored(&on_pg[6], &id(1)) && stored(&on_pg[7], &id(2)), "{on_pg:?}");
    assert!(stored(&on_pg[8], &id(3)) && stored(&on_pg[9], &id(4)), "{on_pg:?}");
    assert!(stored(&on_pg[10], &id(2)), "the second first message goes into the first's session: {}", on_pg[10]);
    let row = |s: &str, session: &str, user: &str| s.ends_with(&format!("Some(SessionRow {{ session_id: \"{session}\", user_id: \"{user}\" }})"));
    assert!(row(&on_pg[11], &id(1), "ann") && row(&on_pg[12], &id(2), "ann") && row(&on_pg[13], &id(3), "bob"), "{on_pg:?}");
    assert!(row(&on_pg[14], &id(1), "ann") && row(&on_pg[15], &id(4), "bob"), "{on_pg:?}");
    assert!(on_pg[16..19].iter().all(|s| s.ends_with(": None")), "{on_pg:?}");
    // The newest 3 of session 1, oldest first.
    let recent = &on_pg[19];
    let pos = |s: &str, n: u32| s.find(&id(n)).unwrap_or_else(|| panic!("{} in {s}", id(n)));
    assert!(!recent.contains(&id(10)) && pos(recent, 11) < pos(recent, 30) && pos(recent, 30) < pos(recent, 31), "{recent}");
    assert!(on_pg[22].ends_with(": []") && on_pg[23].ends_with(": []"), "{on_pg:?}");
    assert!(on_pg[24..27].iter().all(|s| s.ends_with(": [] page: ([], 0)")), "{on_pg:?}");
    let snapshot = &on_pg[39];
    assert!(snapshot.contains("tier: Free, sessions: 2,") && snapshot.contains("used: 5, reserved: 0, limit: Some(6)"), "{snapshot}");
    assert!(on_pg[40].contains("sessions: 0,") && on_pg[40].contains("used: 0, reserved: 0"), "{}", on_pg[40]);
    assert!(stored(&on_pg[41], &id(1)) && on_pg[41].contains("used: 6, reserved: 0"), "{}", on_pg[41]);
    assert!(on_pg[42].contains("quota_exceeded") && on_pg[42] == on_pg[43], "{on_pg:?}");
    assert_eq!((on_pg[44].as_str(), on_pg[45].as_str()), ("None", "6"));
    assert!(on_pg[47].starts_with("Err(") && on_pg[48] == "([], 0)", "{on_pg:?}");
    assert_eq!((on_pg[49].as_str(), on_pg[50].as_str()), ("Ok(true)", "Ok(false)"));
    assert!(on_pg[51..55].iter().all(|s| s.ends_with(": Ok(false)")), "{on_pg:?}");
    assert_eq!((on_pg[55].as_str(), on_pg[56].as_str(), on_pg[58].as_str()), ("([], 0)", "None", "1"));
    assert!(on_pg[57].contains("session_id: \"session_1\"") && on_pg[57].ends_with("], 1)"), "{}", on_pg[57]);
    assert!(on_pg[59].starts_with("Err((409,"), "{}", on_pg[59]);
    let replies = &on_pg[on_pg.len() - 6..];
    assert!(replies[0].contains(&format!("shown_session_id: \"session_1\", user_message_id: \"{}\"", id(40))), "{}", replies[0]);
    assert!(replies[0].contains("content: \"answer 4.\"") && replies[0].contains("prompt_tokens: 4, completion_tokens: 8"), "{}", replies[0]);
    assert!(replies[1].contains(&format!("shown_session_id: \"{}\"", id(1))), "a client may name its session as another's own id: {}", replies[1]);
    assert!(replies[2..].iter().all(|r| r == "None"), "{replies:?}");
    assert_eq!(on_pg[60], "2");
    assert_eq!(on_pg.len(), 67);
}

/// `tasks` exchanges, each on its own server, race to store a user's first message under one
/// client id: one session is started and every exchange goes into it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_chat_concurrent_first_messages_under_one_client_id_start_one_session() {
    let Some(mut config) = database("postgres_chat_concurrent_first_messages_under_one_client_id_start_one_session").await else { return };
    config.pool_size = 1;
    let db = migrated(&config).await;
    let plans = plans(1000);
    let now = Utc::now();
    for round in 0..3u32 {
        let tasks = 12u32;
        let barrier = Arc::new(Barrier::new(tasks as usize));
        let mut handles = Vec::new();
        for i in 0..tasks {
            let (config, plans, barrier) = (config.clone(), plans.clone(), barrier.clone());
            handles.push(tokio::spawn(async move {
                let store = PgChatStore::new(PgDb::connect(&config).await.unwrap());
                let n = 1000 * (round + 1) + i;
                let e = exchange(n, "ann", &id(n), true, Some(&format!("session_{round}")), 1000 + i, 2000 + i);
                barrier.wait().await;
                store.insert_exchange(e, ExchangeQuota::Charge(admission(&plans, "ann", 1, now))).await.unwrap().session_id
            }));
        }
        let mut sessions = Vec::new();
        for h in handles {
            sessions.push(h.await.unwrap());
        }
        sessions.sort();
        sessions.dedup();
        assert_eq!(sessions.len(), 1, "round {round}: {sessions:?}");
        let store = PgChatStore::new(db.clone());
        let found = store.session("ann", &format!("session_{round}")).await.unwrap().unwrap();
        assert_eq!(found.session_id, sessions[0]);
        assert_eq!(store.messages_page(&sessions[0], page(200, 0)).await.unwrap().1, 2 * u64::from(tasks));
        let (listed, total) = store.sessions_page("ann", page(200, 0)).await.unwrap();
        assert_eq!((listed.len() as u64, total), (u64::from(round) + 1, u64::from(round) + 1), "round {round}");
        assert_eq!(store.caller_snapshot(admission(&plans, "ann", 0, now)).await.unwrap().standing.used, u64::from((round + 1) * tasks));
    }
    let rows: i64 = db.client().await.unwrap().query_one("SELECT count(*) FROM chat_sessions", &[]).await.unwrap().get(0);
    assert_eq!(rows, 3);
}

/// 20 exchanges on 20 servers race for the last 5 chats of a day, half into a session that
/// exists, half starting one: exactly 5 are stored, each with its two messages, and the refused
/// leave nothing (no session, no message, no charge).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_chat_20_concurrent_exchanges_store_exactly_the_quota() {
    let Some(mut config) = database("postgres_chat_20_concurrent_exchanges_store_exactly_the_quota").await else { return };
    config.pool_size = 1;
    let db = migrated(&config).await;
    let plans = plans(6);
    let now = Utc::now();
    let store = PgChatStore::new(db.clone());
    let first = exchange(1, "ann", &id(1), true, None, 1, 2);
    store.insert_exchange(first, ExchangeQuota::Charge(admission(&plans, "ann", 1, now))).await.unwrap();
    let tasks = 20u32;
    let barrier = Arc::new(Barrier::new(tasks as usize));
    let mut handles = Vec::new();
    for i in 0..tasks {
        let (config, plans, barrier) = (config.clone(), plans.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            let store = PgChatStore::new(PgDb::connect(&config).await.unwrap());
            let n = 100 + i;
            let e = if i % 2 == 0 { exchange(n, "ann", &id(1), false, None, 10 + i, 40 + i) } else { exchange(n, "ann", &id(n), true, None, 10 + i, 40 + i) };
            barrier.wait().await;
            store.insert_exchange(e, ExchangeQuota::Charge(admission(&plans, "ann", 1, now))).await.map(|stored| (i, stored))
        }));
    }
    let (mut admitted, mut new_sessions) = (0, 0);
    for h in handles {
        match h.await.unwrap() {
            Ok((i, stored)) => {
                admitted += 1;
                new_sessions += i % 2;
                assert!(stored.standing.used + stored.standing.reserved <= 6, "{:?}", stored.standing);
            }
            Err(e) => assert_eq!(e.code(), "quota_exceeded"),
        }
    }
    assert_eq!(admitted, 5);
    let snapshot = store.caller_snapshot(admission(&plans, "ann", 0, now)).await.unwrap();
    assert_eq!((snapshot.standing.used, snapshot.standing.reserved, snapshot.standing.remaining), (6, 0, Some(0)));
    assert_eq!(snapshot.sessions, 1 + u64::from(new_sessions));
    let client = db.client().await.unwrap();
    let messages: i64 = client.query_one("SELECT count(*) FROM chat_messages", &[]).await.unwrap().get(0);
    let sessions: i64 = client.query_one("SELECT count(*) FROM chat_sessions", &[]).await.unwrap().get(0);
    assert_eq!((messages, sessions as u64), (12, snapshot.sessions));
}

/// Held quota committed by exchanges on ten servers at once, into one session: each hold counts
/// once, none stays reserved, every message is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_chat_concurrent_exchanges_commit_each_hold_once() {
    let Some(mut config) = database("postgres_chat_concurrent_exchanges_commit_each_hold_once").await else { return };
    config.pool_size = 1;
    let db = migrated(&config).await;
    let plans = plans(10);
    let now = Utc::now();
    let subs = PgSubscriptionStore::new(db.clone());
    let store = PgChatStore::new(db.clone());
    let first = exchange(1, "ann", &id(1), true, Some("held"), 1, 2);
    store.insert_exchange(first, ExchangeQuota::Charge(admission(&plans, "ann", 1, now))).await.unwrap();
    let mut holds = Vec::new();
    for _ in 0..9 {
        holds.push(subs.hold(admission(&plans, "ann", 1, now)).await.unwrap());
    }
    assert_eq!(subs.hold(admission(&plans, "ann", 1, now)).await.unwrap_err().code(), "quota_exceeded");
    let barrier = Arc::new(Barrier::new(holds.len()));
    let mut handles = Vec::new();
    for (i, hold) in holds.into_iter().enumerate() {
        let (config, plans, barrier) = (config.clone(), plans.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            let store = PgChatStore::new(PgDb::connect(&config).await.unwrap());
            let n = 100 + i as u32;
            barrier.wait().await;
            let quota = ExchangeQuota::CommitHold { hold, standing: admission(&plans, "ann", 1, now) };
            store.insert_exchange(exchange(n, "ann", &id(1), false, None, 10, 20 + n), quota).await.unwrap()
        }));
    }
    for h in handles {
        let stored = h.await.unwrap();
        assert_eq!(stored.session_id, id(1));
        assert!(stored.standing.used >= 2 && stored.standing.used + stored.standing.reserved == 10, "{:?}", stored.standing);
    }
    let line = store.caller_snapshot(admission(&plans, "ann", 0, now)).await.unwrap().standing;
    assert_eq!((line.used, line.reserved, line.remaining), (10, 0, Some(0)));
    assert_eq!(store.messages_page(&id(1), page(200, 0)).await.unwrap().1, 20);
    let (sessions, _) = store.sessions_page("ann", page(10, 0)).await.unwrap();
    assert_eq!((sessions[0].session_id.as_str(), sessions[0].message_count), ("held", 20));
    let holds: i64 = db.client().await.unwrap().query_one("SELECT count(*) FROM quota_holds", &[]).await.unwrap().get(0);
    assert_eq!(holds, 0);
}
