//! The subscription store on PostgreSQL (`PgSubscriptionStore` and the `*_in` helpers) against a
//! real server: the main paths, refusals, ids that are not UUIDs, and real races on separate
//! connections (holds and charges for the last units, stale-hold sweepers, webhook deliveries).
//! Where cheap, the same scenario runs on the SQLite store and the two must agree.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use optima::db::postgres::PgDb;
use optima::error::AppError;
use optima::features::subscription::admission::{AI_WRITING_WORDS, Admission, CountAdmission, Counted, window_key};
use optima::features::subscription::plan::{Feature, Limit, Tier, TierPlans};
use optima::features::subscription::store::postgres::{
    PgSubscriptionStore, add_to_hold_window_in, admit_count_in, charge_in, commit_hold_in, hold_in, standing_in, tier_in,
};
use optima::features::subscription::store::sqlite::SqliteSubscriptionStore;
use optima::features::subscription::store::{
    CounterKey, EventApplied, Hold, NewPayment, PaymentEvent, PaymentOutcome, SubscriptionStore, TierChange, Usage,
};
use tokio::sync::Barrier;

use crate::postgres::{database, migrated, sqlite_db};

/// The default plans with the free tier allowed `limit` AI chats a day.
fn plans(limit: u64) -> Arc<TierPlans> {
    let mut plans = TierPlans::default();
    plans.free.ai_chat.limit = Limit::Count(limit);
    Arc::new(plans)
}

fn admission(plans: &Arc<TierPlans>, user: &str, feature: Feature, amount: u64, now: DateTime<Utc>) -> Admission {
    Admission { plans: plans.clone(), user_id: user.to_owned(), feature, amount, now }
}

fn code(err: AppError) -> &'static str {
    err.code()
}

fn change(user: &str, to: Tier) -> TierChange {
    TierChange {
        user_id: user.to_owned(),
        changed_by: user.to_owned(),
        from: Tier::Free,
        to,
        provider: "stripe".into(),
        receipt_id: "rcpt-1".into(),
        billing_period: Some("monthly".into()),
        external_id: Some("sub_ext".into()),
        period: Some(("2026-12-01T00:00:00.000Z".into(), "2027-01-01T00:00:00.000Z".into())),
    }
}

fn payment(id: &str, user: &str) -> NewPayment {
    NewPayment {
        payment_id: id.to_owned(),
        user_id: user.to_owned(),
        tier: Tier::Premium,
        billing_period: "monthly".into(),
        amount_cents: 999,
        currency: "usd".into(),
        provider: "stripe".into(),
    }
}

fn sqlite_store(dir: &tempfile::TempDir) -> SqliteSubscriptionStore {
    SqliteSubscriptionStore::new(sqlite_db(dir))
}

async fn reserved(db: &PgDb, user: &str) -> i64 {
    let client = db.client().await.unwrap();
    client.query_one("SELECT COALESCE(sum(reserved), 0)::bigint FROM usage_counters WHERE user_id = $1", &[&user]).await.unwrap().get(0)
}

#[tokio::test]
async fn postgres_subscription_store_main_paths() {
    let Some(config) = database("postgres_subscription_store_main_paths").await else { return };
    let db = migrated(&config).await;
    let store = PgSubscriptionStore::new(db.clone());
    let plans = plans(3);
    let now = Utc::now();

    // No row: the free tier, nothing else.
    let none = store.subscription("ann").await.unwrap();
    assert_eq!(none.tier(), Tier::Free);
    assert!(none.tier.is_none() && none.subscription_id.is_none());

    // Tier changes keep the subscription's id and carry the period as RFC 3339 text.
    let id = store.change_tier(change("ann", Tier::Premium)).await.unwrap();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    let row = store.subscription("ann").await.unwrap();
    assert_eq!(row.tier, Some(Tier::Premium));
    assert_eq!(row.subscription_id.as_deref(), Some(id.as_str()));
    assert_eq!(row.status.as_deref(), Some("active"));
    assert_eq!(row.billing_period.as_deref(), Some("monthly"));
    assert_eq!(row.external_subscription_id.as_deref(), Some("sub_ext"));
    assert_eq!(row.current_period_start.as_deref(), Some("2026-12-01T00:00:00.000Z"));
    assert_eq!(row.current_period_end.as_deref(), Some("2027-01-01T00:00:00.000Z"));
    assert!(row.upgraded_at.as_deref().is_some_and(|t| t.ends_with('Z') && DateTime::parse_from_rfc3339(t).is_ok()));
    assert_eq!(store.change_tier(TierChange { period: None, ..change("ann", Tier::Free) }).await.unwrap(), id);
    let row = store.subscription("ann").await.unwrap();
    assert_eq!((row.tier, row.current_period_start), (Some(Tier::Free), None));
    let client = db.client().await.unwrap();
    let changes: i64 = client.query_one("SELECT count(*) FROM subscription_changes WHERE user_id = 'ann'", &[]).await.unwrap().get(0);
    assert_eq!(changes, 2);

    // Holds, release, charge, refusals.
    let chat = |amount| admission(&plans, "ann", Feature::AiChat, amount, now);
    let hold = store.hold(chat(2)).await.unwrap();
    assert_eq!(hold.window_start, window_key(plans.free.ai_chat.window.bounds(now).0));
    let line = store.standing(chat(0)).await.unwrap();
    assert_eq!((line.used, line.reserved, line.limit, line.remaining), (0, 2, Some(3), Some(1)));
    assert_eq!(code(store.hold(chat(2)).await.unwrap_err()), "quota_exceeded");
    store.release(hold.clone()).await.unwrap();
    store.release(hold).await.unwrap(); // a second release gives nothing back twice
    assert_eq!(store.standing(chat(0)).await.unwrap().reserved, 0);
    let after = store.charge(chat(2)).await.unwrap();
    assert_eq!((after.used, after.remaining), (2, Some(1)));
    assert_eq!(code(store.charge(chat(2)).await.unwrap_err()), "quota_exceeded");
    let music = admission(&plans, "ann", Feature::MusicGeneration, 1, now);
    assert_eq!(code(store.hold(music.clone()).await.unwrap_err()), "upgrade_required");
    assert_eq!(code(store.charge(music).await.unwrap_err()), "upgrade_required");
    // A hold whose id is not a UUID matches no row: releasing it is a no-op, not a 500.
    let fake = Hold { hold_id: "not-a-uuid".into(), user_id: "ann".into(), feature: Feature::AiChat, window_start: window_key(plans.free.ai_chat.window.bounds(now).0), amount: 1 };
    store.release(fake).await.unwrap();
    assert_eq!(store.standing(chat(0)).await.unwrap().used, 2);

    // The helpers inside another store's transaction: hold, add words, commit; charge; counts.
    store.change_tier(change("bob", Tier::Premium)).await.unwrap();
    let writing = admission(&plans, "bob", Feature::AiWriting, 1, now);
    {
        let mut client = db.client().await.unwrap();
        let tx = client.transaction().await.unwrap();
        assert_eq!(tier_in(&*tx, "bob").await.unwrap(), Tier::Premium);
        let hold = hold_in(&tx, &writing).await.unwrap();
        add_to_hold_window_in(&tx, &hold, AI_WRITING_WORDS, 120).await.unwrap();
        commit_hold_in(&tx, &hold).await.unwrap();
        let line = charge_in(&tx, &writing).await.unwrap();
        assert_eq!((line.used, line.reserved), (2, 0));
        assert_eq!(standing_in(&*tx, &writing).await.unwrap().used, 2);
        let projects = CountAdmission { plans: plans.clone(), counted: Counted::WritingProjects };
        admit_count_in(&tx, &projects, "bob", async { Ok(9) }).await.unwrap();
        assert_eq!(code(admit_count_in(&tx, &projects, "bob", async { Ok(10) }).await.unwrap_err()), "project_limit_reached");
        assert_eq!(code(admit_count_in(&tx, &projects, "cid", async { Ok(0) }).await.unwrap_err()), "upgrade_required");
        tx.commit().await.unwrap();
    }
    let window = window_key(plans.premium.ai_writing.window.bounds(now).0);
    let snap = store
        .snapshot(
            "bob",
            Box::new(move |_| {
                vec![
                    CounterKey { counter: "ai_writing".into(), window_start: window.clone() },
                    CounterKey { counter: AI_WRITING_WORDS.into(), window_start: window.clone() },
                    CounterKey { counter: "ai_chat".into(), window_start: window },
                ]
            }),
        )
        .await
        .unwrap();
    assert_eq!(snap.counters, vec![Usage { used: 2, reserved: 0 }, Usage { used: 120, reserved: 0 }, Usage::default()]);
    assert_eq!(snap.pending, None);

    // An unlimited tier never counts.
    store.change_tier(change("dee", Tier::Unlimited)).await.unwrap();
    {
        let mut client = db.client().await.unwrap();
        let tx = client.transaction().await.unwrap();
        let projects = CountAdmission { plans: plans.clone(), counted: Counted::MusicProjects };
        admit_count_in(&tx, &projects, "dee", async { panic!("counted although unlimited") }).await.unwrap();
    }

    // Payments: pending shows in the snapshot; ids that are not UUIDs match nothing.
    let pid = uuid::Uuid::now_v7().to_string();
    store.insert_payment(payment(&pid, "eve")).await.unwrap();
    store.set_payment_external_id(&pid, "pi_1").await.unwrap();
    store.set_payment_external_id("nope", "pi_2").await.unwrap();
    store.delete_payment("nope").await.unwrap();
    let snap = store.snapshot("eve", Box::new(|_| vec![])).await.unwrap();
    assert_eq!(snap.pending, Some(Tier::Premium));
    let event = |id: &str, ids: Vec<&str>| PaymentEvent {
        event_id: id.into(),
        provider: "stripe".into(),
        kind: "payment_intent.payment_failed".into(),
        payment_ids: ids.into_iter().map(str::to_owned).collect(),
    };
    let failed = || -> optima::features::subscription::store::DecidePayment { Box::new(|_, _| PaymentOutcome::Failed) };
    assert!(matches!(store.apply_payment_event(event("ev_0", vec!["junk", "pi_unknown"]), failed()).await.unwrap(), EventApplied::NotOurs));
    // Only the form SQLite holds names a row: not upper case, not braces.
    let (upper, braces) = (pid.to_uppercase(), format!("{{{pid}}}"));
    assert!(matches!(store.apply_payment_event(event("ev_0", vec![&upper, &braces]), failed()).await.unwrap(), EventApplied::NotOurs));
    match store.apply_payment_event(event("ev_1", vec!["not-a-uuid", "pi_1"]), failed()).await.unwrap() {
        EventApplied::Applied { payment, outcome: PaymentOutcome::Failed } => {
            assert_eq!((payment.payment_id.as_str(), payment.user_id.as_str(), payment.status.as_str()), (pid.as_str(), "eve", "pending"))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(store.apply_payment_event(event("ev_1", vec![&pid]), failed()).await.unwrap(), EventApplied::Duplicate));
    assert_eq!(store.snapshot("eve", Box::new(|_| vec![])).await.unwrap().pending, None);
    store.delete_payment(&pid).await.unwrap();
    assert!(matches!(store.apply_payment_event(event("ev_2", vec![&pid]), failed()).await.unwrap(), EventApplied::NotOurs));
}

/// `tasks` stores on connections of their own race to take one unit each of a limit of 5.
async fn race(test: &str, tasks: usize, charge: bool) {
    let Some(mut config) = database(test).await else { return };
    config.pool_size = 1;
    let db = migrated(&config).await;
    let plans = plans(5);
    let now = Utc::now();
    let barrier = Arc::new(Barrier::new(tasks));
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (config, plans, barrier) = (config.clone(), plans.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            let store = PgSubscriptionStore::new(PgDb::connect(&config).await.unwrap());
            barrier.wait().await;
            let a = admission(&plans, "ann", Feature::AiChat, 1, now);
            if charge { store.charge(a).await.map(drop) } else { store.hold(a).await.map(drop) }
        }));
    }
    let mut admitted = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(()) => admitted += 1,
            Err(e) => assert_eq!(e.code(), "quota_exceeded"),
        }
    }
    assert_eq!(admitted, 5);
    let line = PgSubscriptionStore::new(db).standing(admission(&plans, "ann", Feature::AiChat, 0, now)).await.unwrap();
    assert_eq!((line.used + line.reserved, line.remaining), (5, Some(0)));
}

#[tokio::test]
async fn postgres_subscription_20_concurrent_holds_admit_exactly_the_limit() {
    race("postgres_subscription_20_concurrent_holds_admit_exactly_the_limit", 20, false).await;
}

#[tokio::test]
async fn postgres_subscription_20_concurrent_charges_admit_exactly_the_limit() {
    race("postgres_subscription_20_concurrent_charges_admit_exactly_the_limit", 20, true).await;
}

#[tokio::test]
async fn postgres_subscription_concurrent_sweepers_release_each_stale_hold_once() {
    let Some(config) = database("postgres_subscription_concurrent_sweepers_release_each_stale_hold_once").await else { return };
    let db = migrated(&config).await;
    let store = PgSubscriptionStore::new(db.clone());
    let plans = plans(100);
    let old = Utc::now() - Duration::hours(2);
    for user in ["ann", "bob"] {
        for _ in 0..10 {
            store.hold(admission(&plans, user, Feature::AiChat, 2, old)).await.unwrap();
        }
    }
    assert_eq!(reserved(&db, "ann").await, 20);
    let (a, b) = (PgSubscriptionStore::new(PgDb::connect(&config).await.unwrap()), PgSubscriptionStore::new(PgDb::connect(&config).await.unwrap()));
    let before = Utc::now() - Duration::minutes(10);
    let (ra, rb) = tokio::join!(a.release_stale_holds(before), b.release_stale_holds(before));
    assert_eq!(ra.unwrap() + rb.unwrap(), 20);
    assert_eq!((reserved(&db, "ann").await, reserved(&db, "bob").await), (0, 0));
    assert_eq!(store.release_stale_holds(before).await.unwrap(), 0);
    let client = db.client().await.unwrap();
    let left: i64 = client.query_one("SELECT count(*) FROM quota_holds", &[]).await.unwrap().get(0);
    assert_eq!(left, 0);
}

#[tokio::test]
async fn postgres_subscription_release_at_start_keeps_young_holds() {
    let Some(config) = database("postgres_subscription_release_at_start_keeps_young_holds").await else { return };
    let db = migrated(&config).await;
    let store = PgSubscriptionStore::new(db.clone());
    let plans = plans(100);
    let now = Utc::now();
    let old = store.hold(admission(&plans, "ann", Feature::AiChat, 3, now - Duration::minutes(20))).await.unwrap();
    let young = store.hold(admission(&plans, "ann", Feature::AiChat, 4, now)).await.unwrap();
    assert_eq!(store.release_holds_at_start(now - Duration::minutes(10)).await.unwrap(), 1);
    assert_eq!(reserved(&db, "ann").await, 4);
    // The old hold's work finishing late is still charged; its hold is not released twice.
    let mut client = db.client().await.unwrap();
    let tx = client.transaction().await.unwrap();
    commit_hold_in(&tx, &old).await.unwrap();
    commit_hold_in(&tx, &young).await.unwrap();
    tx.commit().await.unwrap();
    let used: i64 = client.query_one("SELECT sum(used)::bigint FROM usage_counters WHERE user_id = 'ann'", &[]).await.unwrap().get(0);
    assert_eq!((used, reserved(&db, "ann").await), (7, 0));
}

#[tokio::test]
async fn postgres_subscription_payment_event_applies_once_under_concurrent_deliveries() {
    let Some(config) = database("postgres_subscription_payment_event_applies_once_under_concurrent_deliveries").await else { return };
    let db = migrated(&config).await;
    let store = PgSubscriptionStore::new(db.clone());
    let pid = uuid::Uuid::now_v7().to_string();
    store.insert_payment(payment(&pid, "ann")).await.unwrap();
    store.set_payment_external_id(&pid, "pi_ann").await.unwrap();
    let decided = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(5));
    let mut handles = Vec::new();
    for _ in 0..5 {
        let (config, decided, barrier) = (config.clone(), decided.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            let store = PgSubscriptionStore::new(PgDb::connect(&config).await.unwrap());
            barrier.wait().await;
            let event = PaymentEvent {
                event_id: "evt_1".into(),
                provider: "stripe".into(),
                kind: "payment_intent.succeeded".into(),
                payment_ids: vec!["pi_ann".into()],
            };
            store
                .apply_payment_event(
                    event,
                    Box::new(move |p, tier| {
                        decided.fetch_add(1, Ordering::SeqCst);
                        PaymentOutcome::Succeeded(Box::new(TierChange { from: tier, ..change(&p.user_id, p.tier) }))
                    }),
                )
                .await
                .unwrap()
        }));
    }
    let (mut applied, mut duplicate) = (0, 0);
    for h in handles {
        match h.await.unwrap() {
            EventApplied::Applied { .. } => applied += 1,
            EventApplied::Duplicate => duplicate += 1,
            EventApplied::NotOurs => panic!("the payment is ours"),
        }
    }
    assert_eq!((applied, duplicate, decided.load(Ordering::SeqCst)), (1, 4, 1));
    assert_eq!(store.subscription("ann").await.unwrap().tier, Some(Tier::Premium));
    let client = db.client().await.unwrap();
    let changes: i64 = client.query_one("SELECT count(*) FROM subscription_changes WHERE user_id = 'ann'", &[]).await.unwrap().get(0);
    let status: String = client.query_one("SELECT status FROM payments", &[]).await.unwrap().get(0);
    assert_eq!((changes, status.as_str()), (1, "succeeded"));
}

/// A tier_info-like picture: the row (but its generated id and time), the pending tier, and
/// every metered line with the words counter.
async fn picture(store: &dyn SubscriptionStore, plans: &Arc<TierPlans>, user: &str, now: DateTime<Utc>) -> String {
    let p = plans.clone();
    let snap = store
        .snapshot(
            user,
            Box::new(move |tier| {
                let plan = p.get(tier);
                let mut keys: Vec<CounterKey> = Feature::METERED
                    .into_iter()
                    .map(|f| CounterKey { counter: f.as_str().to_owned(), window_start: window_key(plan.quota(f).unwrap().window.bounds(now).0) })
                    .collect();
                keys.push(CounterKey { counter: AI_WRITING_WORDS.to_owned(), window_start: window_key(plan.ai_writing.window.bounds(now).0) });
                keys
            }),
        )
        .await
        .unwrap();
    let tier = snap.row.tier();
    let lines: Vec<String> = Feature::METERED
        .into_iter()
        .zip(&snap.counters)
        .map(|(f, u)| {
            let l = admission(plans, user, f, 0, now).line(tier, *u);
            format!("{} {}+{} of {:?} left {:?} reset {}", f.as_str(), l.used, l.reserved, l.limit, l.remaining, l.reset_at)
        })
        .collect();
    let r = &snap.row;
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?} pending {:?} words {:?} has_id {} {lines:?}",
        r.tier,
        r.status,
        r.billing_period,
        r.payment_provider,
        r.external_subscription_id,
        r.current_period_start,
        r.current_period_end,
        snap.pending,
        snap.counters.last(),
        r.subscription_id.is_some(),
    )
}

#[tokio::test]
async fn postgres_subscription_store_answers_as_sqlite_does() {
    let Some(config) = database("postgres_subscription_store_answers_as_sqlite_does").await else { return };
    let pg = PgSubscriptionStore::new(migrated(&config).await);
    let dir = tempfile::tempdir().unwrap();
    let lite = sqlite_store(&dir);
    let plans = plans(3);
    let now = Utc::now();
    let mut pictures = Vec::new();
    for store in [&pg as &dyn SubscriptionStore, &lite] {
        let mut seen = vec![picture(store, &plans, "ann", now).await];
        store.change_tier(change("ann", Tier::Premium)).await.unwrap();
        let hold = store.hold(admission(&plans, "ann", Feature::ImageGeneration, 2, now)).await.unwrap();
        store.charge(admission(&plans, "ann", Feature::AiChat, 4, now)).await.unwrap();
        store.hold(admission(&plans, "ann", Feature::MusicGeneration, 1, now)).await.unwrap();
        seen.push(picture(store, &plans, "ann", now).await);
        store.release(hold).await.unwrap();
        let pid = uuid::Uuid::now_v7().to_string();
        store.insert_payment(NewPayment { tier: Tier::Unlimited, ..payment(&pid, "ann") }).await.unwrap();
        seen.push(picture(store, &plans, "ann", now).await);
        let event = PaymentEvent { event_id: "ev_up".into(), provider: "stripe".into(), kind: "x".into(), payment_ids: vec![pid.to_uppercase()] };
        seen.push(format!("{:?}", store.apply_payment_event(event, Box::new(|_, _| PaymentOutcome::Nothing)).await.unwrap()));
        let refused = store.charge(admission(&plans, "ann", Feature::AiChat, 200, now)).await.unwrap_err();
        seen.push(format!("{} {} {:?}", refused.status(), refused.code(), refused.details()));
        let standing = store.standing(admission(&plans, "ann", Feature::AiChat, 0, now)).await.unwrap();
        seen.push(format!("{} {} {:?} {:?} {}", standing.used, standing.reserved, standing.limit, standing.remaining, standing.reset_at));
        seen.push(format!("{:?}", store.release_stale_holds(now - Duration::minutes(5)).await.unwrap()));
        pictures.push(seen);
    }
    assert_eq!(pictures[0], pictures[1]);
}

#[tokio::test]
async fn postgres_subscription_concurrent_count_admissions_admit_exactly_the_limit() {
    let Some(mut config) = database("postgres_subscription_concurrent_count_admissions_admit_exactly_the_limit").await else { return };
    config.pool_size = 1;
    let db = migrated(&config).await;
    let store = PgSubscriptionStore::new(db.clone());
    store.change_tier(change("ann", Tier::Premium)).await.unwrap();
    // Something the user owns, counted and inserted in the transaction that admits it.
    db.client().await.unwrap().batch_execute("CREATE TABLE owned (user_id text NOT NULL)").await.unwrap();
    let plans = plans(3);
    let limit = plans.premium.music_projects.count().unwrap() as usize;
    let tasks = 12;
    let barrier = Arc::new(Barrier::new(tasks));
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (config, plans, barrier) = (config.clone(), plans.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            let db = PgDb::connect(&config).await.unwrap();
            let mut client = db.client().await.unwrap();
            barrier.wait().await;
            let tx = client.transaction().await.unwrap();
            let admission = CountAdmission { plans, counted: Counted::MusicProjects };
            let owned = async { Ok(tx.query_one("SELECT count(*) FROM owned WHERE user_id = 'ann'", &[]).await?.get::<_, i64>(0) as u64) };
            admit_count_in(&tx, &admission, "ann", owned).await?;
            tx.execute("INSERT INTO owned (user_id) VALUES ('ann')", &[]).await?;
            tx.commit().await?;
            Ok::<_, AppError>(())
        }));
    }
    let mut admitted = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(()) => admitted += 1,
            Err(e) => assert_eq!(e.code(), "project_limit_reached"),
        }
    }
    let owned: i64 = db.client().await.unwrap().query_one("SELECT count(*) FROM owned", &[]).await.unwrap().get(0);
    assert_eq!((admitted, owned as usize), (limit, limit));
}
