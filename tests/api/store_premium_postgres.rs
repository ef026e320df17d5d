//! The premium store on PostgreSQL against a real server (tests/api/postgres.rs), answering as
//! the SQLite store does for the same calls, and real races on separate connections: records
//! committing their holds at once, and one id recorded by several servers at once. Each test
//! prints a SKIPPED line and passes when PostgreSQL is not installed.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use optima::db::postgres::PgDb;
use optima::error::AppResult;
use optima::features::page::Page;
use optima::features::premium::store::postgres::PgPremiumStore;
use optima::features::premium::store::sqlite::SqlitePremiumStore;
use optima::features::premium::store::{GenerationRow, GenerationUrls, PremiumStore};
use optima::features::subscription::admission::{Admission, UsageLine};
use optima::features::subscription::plan::{Feature, Limit, TierPlans};
use optima::features::subscription::store::postgres::PgSubscriptionStore;
use optima::features::subscription::store::sqlite::SqliteSubscriptionStore;
use optima::features::subscription::store::SubscriptionStore;
use tokio::sync::Barrier;

use crate::postgres::{assert_same_answers, database, migrated, sqlite_db};

/// The default plans with the free tier allowed `limit` images a day.
fn plans(limit: u64) -> Arc<TierPlans> {
    let mut plans = TierPlans::default();
    plans.free.image_generation.limit = Limit::Count(limit);
    Arc::new(plans)
}

fn admission(plans: &Arc<TierPlans>, user: &str, amount: u64, now: DateTime<Utc>) -> Admission {
    Admission { plans: plans.clone(), user_id: user.to_owned(), feature: Feature::ImageGeneration, amount, now }
}

/// A UUID ending in `n`, as the service's `Uuid::now_v7` ids are written.
fn id(n: u32) -> String {
    format!("0190b0a0-0000-7000-8000-{n:012x}")
}

fn generation(n: u32, user: &str, created_at: &str) -> GenerationRow {
    GenerationRow {
        generation_id: id(n),
        user_id: user.into(),
        prompt: format!("a lighthouse, take {n}"),
        revised_prompt: n.is_multiple_of(2).then(|| format!("a lighthouse at dusk, take {n}")),
        size: "1024x1024".into(),
        style: if n.is_multiple_of(3) { "natural" } else { "vivid" }.into(),
        quality: "standard".into(),
        model: "offline".into(),
        seed: n.is_multiple_of(2).then(|| format!("{}", u64::MAX - u64::from(n))),
        sha256: format!("{n:064x}"),
        original_path: format!("premium/{user}/{n}/original.png"),
        thumbnail_path: format!("premium/{user}/{n}/thumbnail.webp"),
        width: if n == 4 { u32::MAX } else { 1024 },
        height: 1024 - n,
        created_at: created_at.into(),
    }
}

fn urls(n: u32) -> GenerationUrls {
    GenerationUrls { image_url: format!("/files/{n}/original.png"), thumbnail_url: format!("/files/{n}/thumbnail.webp") }
}

fn outcome<T: std::fmt::Debug>(result: AppResult<T>) -> String {
    format!("{:?}", result.map_err(|e| (e.status().as_u16(), e.code())))
}

fn line(l: &UsageLine) -> String {
    format!("used {} reserved {} remaining {:?}", l.used, l.reserved, l.remaining)
}

const T1: &str = "2026-01-01T00:00:00.001Z";
const T2: &str = "2026-01-01T00:00:00.002Z";
const T3: &str = "2026-02-01T10:00:00.000Z";

async fn scenario(store: &dyn PremiumStore, subs: &dyn SubscriptionStore, plans: &Arc<TierPlans>, now: DateTime<Utc>) -> Vec<String> {
    let mut said = Vec::new();
    // Ties on the time are ordered by id; ids and times out of insertion order.
    for (n, at) in [(5, T1), (3, T2), (9, T1), (4, T3), (7, T2)] {
        let hold = subs.hold(admission(plans, "ann", 1, now)).await.unwrap();
        said.push(outcome(store.record_generation(generation(n, "ann", at), urls(n), hold).await));
    }
    let hold = subs.hold(admission(plans, "bob", 1, now)).await.unwrap();
    said.push(outcome(store.record_generation(generation(20, "bob", T1), urls(20), hold).await));
    said.push(line(&subs.standing(admission(plans, "ann", 0, now)).await.unwrap()));
    for (limit, offset) in [(10, 0), (2, 0), (2, 2), (2, 4), (3, 5), (200, 1)] {
        let (rows, total) = store.generations_of("ann", Page::new(limit, offset).unwrap()).await.unwrap();
        said.push(format!("{limit}/{offset}: {total} {rows:?}"));
    }
    said.push(format!("{:?}", store.generations_of("nobody", Page::new(10, 0).unwrap()).await.unwrap()));
    said.push(format!("{:?}", store.generation(&id(4)).await.unwrap()));
    said.push(format!("{:?}", store.generation(&id(20)).await.unwrap()));
    for missing in [id(99), "not-a-uuid".into(), String::new(), id(4).to_uppercase(), format!("{{{}}}", id(4))] {
        said.push(format!("{missing:?}: {:?} {}", store.generation(&missing).await.unwrap(), outcome(store.delete_generation(&missing).await)));
    }
    // A taken id: an error, nothing recorded, the hold still held (the caller releases it).
    let hold = subs.hold(admission(plans, "carol", 1, now)).await.unwrap();
    said.push(outcome(store.record_generation(generation(4, "carol", T3), urls(4), hold.clone()).await));
    said.push(line(&subs.standing(admission(plans, "carol", 0, now)).await.unwrap()));
    said.push(format!("{:?}", store.generations_of("carol", Page::new(10, 0).unwrap()).await.unwrap()));
    subs.release(hold).await.unwrap();
    said.push(line(&subs.standing(admission(plans, "carol", 0, now)).await.unwrap()));
    // Deleting: once.
    said.push(outcome(store.delete_generation(&id(9)).await));
    said.push(outcome(store.delete_generation(&id(9)).await));
    said.push(format!("{:?}", store.generation(&id(9)).await.unwrap()));
    let (rows, total) = store.generations_of("ann", Page::new(10, 0).unwrap()).await.unwrap();
    said.push(format!("{total} {:?}", rows.iter().map(|r| r.generation_id.clone()).collect::<Vec<_>>()));
    // A hold released as stale before its record commits: the record still charges it, once.
    let hold = subs.hold(admission(plans, "dee", 2, now - chrono::Duration::hours(2))).await.unwrap();
    said.push(format!("{:?}", subs.release_stale_holds(now - chrono::Duration::hours(1)).await.unwrap()));
    said.push(outcome(store.record_generation(generation(30, "dee", T3), urls(30), hold).await));
    said.push(line(&subs.standing(admission(plans, "dee", 0, now - chrono::Duration::hours(2))).await.unwrap()));
    said
}

#[tokio::test]
async fn postgres_premium_store_answers_as_sqlite() {
    let Some(config) = database("postgres_premium_store_answers_as_sqlite").await else { return };
    let db = migrated(&config).await;
    let (pg, pg_subs) = (PgPremiumStore::new(db.clone()), PgSubscriptionStore::new(db.clone()));
    let dir = tempfile::tempdir().unwrap();
    let lite_db = sqlite_db(&dir);
    let (lite, lite_subs) = (SqlitePremiumStore::new(lite_db.clone()), SqliteSubscriptionStore::new(lite_db));
    let plans = plans(10);
    let now = Utc::now();
    let on_pg = scenario(&pg, &pg_subs, &plans, now).await;
    let on_lite = scenario(&lite, &lite_subs, &plans, now).await;
    assert_same_answers(&on_pg, &on_lite);

    // The expectations, on both.
    assert!(on_pg[..6].iter().all(|s| s == "Ok(())"), "{on_pg:?}");
    assert_eq!(on_pg[6], "used 5 reserved 0 remaining Some(5)");
    // Newest first, ties by id descending.
    let at = |n: u32| on_pg[7].find(&id(n)).unwrap_or_else(|| panic!("generation {n} in {}", on_pg[7]));
    assert!(on_pg[7].starts_with("10/0: 5 ") && at(4) < at(7) && at(7) < at(3) && at(3) < at(9) && at(9) < at(5), "{}", on_pg[7]);
    assert!(on_pg[11].starts_with("3/5: 5 []"), "{}", on_pg[11]);
    assert_eq!(on_pg[13], "([], 0)");
    let four = pg.generation(&id(4)).await.unwrap().unwrap();
    assert_eq!((four.width, four.height, four.created_at.as_str(), four.seed.clone()), (u32::MAX, 1020, T3, Some((u64::MAX - 4).to_string())));
    assert_eq!((four.revised_prompt.as_deref(), four.style.as_str()), (Some("a lighthouse at dusk, take 4"), "vivid"));
    let five = pg.generation(&id(5)).await.unwrap().unwrap();
    assert_eq!((five.revised_prompt, five.seed), (None, None));
    assert!(on_pg[15].contains("user_id: \"bob\""), "{}", on_pg[15]);
    assert!(on_pg[16..21].iter().all(|s| s.ends_with("None Ok(false)")), "{on_pg:?}");
    assert!(on_pg[21].starts_with("Err((409, \"conflict\"))"), "{}", on_pg[21]);
    assert_eq!(on_pg[22], "used 0 reserved 1 remaining Some(9)");
    assert_eq!(on_pg[23], "([], 0)");
    assert_eq!(on_pg[24], "used 0 reserved 0 remaining Some(10)");
    assert_eq!((on_pg[25].as_str(), on_pg[26].as_str(), on_pg[27].as_str()), ("Ok(true)", "Ok(false)", "None"));
    assert_eq!(on_pg[28], format!("4 {:?}", [id(4), id(7), id(3), id(5)]));
    assert_eq!((on_pg[29].as_str(), on_pg[30].as_str()), ("1", "Ok(())"));
    assert_eq!(on_pg[31], "used 2 reserved 0 remaining Some(8)");
    assert_eq!(on_pg.len(), 32);
}

/// Ten servers record ten generations of one user at once, each committing its own hold: all
/// recorded, each hold counted once. Then ten servers record one id at once: one record, one
/// hold committed, the other nine refused with their holds still held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_premium_concurrent_records_commit_each_hold_once() {
    let Some(mut config) = database("postgres_premium_concurrent_records_commit_each_hold_once").await else { return };
    config.pool_size = 1;
    let db = migrated(&config).await;
    let plans = plans(20);
    let now = Utc::now();
    let subs = PgSubscriptionStore::new(db.clone());
    for same_id in [false, true] {
        let mut holds = Vec::new();
        for _ in 0..10 {
            holds.push(subs.hold(admission(&plans, "ann", 1, now)).await.unwrap());
        }
        let barrier = Arc::new(Barrier::new(holds.len()));
        let mut handles = Vec::new();
        for (i, hold) in holds.into_iter().enumerate() {
            let (config, barrier) = (config.clone(), barrier.clone());
            handles.push(tokio::spawn(async move {
                let store = PgPremiumStore::new(PgDb::connect(&config).await.unwrap());
                let n = if same_id { 100 } else { i as u32 };
                barrier.wait().await;
                store.record_generation(generation(n, "ann", T1), urls(n), hold.clone()).await.map_err(|e| (e.code(), hold))
            }));
        }
        let mut refused = Vec::new();
        for h in handles {
            if let Err((code, hold)) = h.await.unwrap() {
                assert_eq!(code, "conflict");
                refused.push(hold);
            }
        }
        let line = subs.standing(admission(&plans, "ann", 0, now)).await.unwrap();
        let (_, total) = PgPremiumStore::new(db.clone()).generations_of("ann", Page::new(200, 0).unwrap()).await.unwrap();
        if same_id {
            assert_eq!((refused.len(), line.used, line.reserved, total), (9, 11, 9, 11));
            for hold in refused {
                subs.release(hold).await.unwrap();
            }
            assert_eq!(subs.standing(admission(&plans, "ann", 0, now)).await.unwrap().reserved, 0);
        } else {
            assert_eq!((refused.len(), line.used, line.reserved, total), (0, 10, 0, 10));
        }
    }
    let holds: i64 = db.client().await.unwrap().query_one("SELECT count(*) FROM quota_holds", &[]).await.unwrap().get(0);
    assert_eq!(holds, 0);
}
