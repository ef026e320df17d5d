//! The Writers Guild store on PostgreSQL against a real server (tests/api/postgres.rs),
//! answering as the SQLite store does for the same calls, and real races on separate
//! connections: creates and restores for the last place, saves on one version, ends of one
//! session (closes, sweepers, new sessions), word totals and project totals. Each test prints a
//! SKIPPED line and passes when PostgreSQL is not installed.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use optima::config::DatabaseConfig;
use optima::db::postgres::PgDb;
use optima::error::AppResult;
use optima::features::page::Page;
use optima::features::subscription::admission::{AI_WRITING_WORDS, Admission, CountAdmission, Counted};
use optima::features::subscription::plan::{AiWritingLevel, Feature, Limit, TierPlans};
use optima::features::subscription::store::postgres::PgSubscriptionStore;
use optima::features::subscription::store::sqlite::SqliteSubscriptionStore;
use optima::features::subscription::store::{CounterKey, SubscriptionStore};
use optima::features::writers::model::WritingStatus;
use optima::features::writers::store::postgres::PgWritersStore;
use optima::features::writers::store::sqlite::SqliteWritersStore;
use optima::features::writers::store::{MemberRow, ProjectRow, SessionRow, VersionRow, VersionSaved, WritersStore};
use tokio::sync::Barrier;

use crate::postgres::{assert_same_answers, database, migrated, sqlite_db};

/// A UUID ending in `n`, as the service's `Uuid::now_v7` ids are written.
fn id(n: u32) -> String {
    format!("0190b0a0-0000-7000-8000-{n:012x}")
}

/// The default plans with the free tier allowed `projects` writing projects and some AI writing.
fn plans(projects: Limit) -> Arc<TierPlans> {
    let mut plans = TierPlans::default();
    plans.free.writing_projects = projects;
    plans.free.ai_writing.limit = Limit::Count(5);
    plans.free.ai_writing_level = AiWritingLevel::Standard;
    Arc::new(plans)
}

fn admission(plans: &Arc<TierPlans>) -> CountAdmission {
    CountAdmission { plans: plans.clone(), counted: Counted::WritingProjects }
}

fn member(n: u32, user: &str, joined_at: &str) -> MemberRow {
    MemberRow {
        member_id: id(n),
        user_id: user.into(),
        pen_name: String::new(),
        bio: None,
        specialties: Vec::new(),
        tier: "novice".into(),
        total_words_written: 0,
        joined_at: joined_at.into(),
        updated_at: joined_at.into(),
    }
}

fn project(n: u32, user: &str, created_at: &str) -> ProjectRow {
    ProjectRow {
        project_id: id(n),
        user_id: user.into(),
        title: format!("Project {n}"),
        genre: n.is_multiple_of(2).then(|| "mystery".into()),
        content_type: "novel".into(),
        description: Some(format!("about {n}")),
        word_count: 0,
        mature_content: n.is_multiple_of(3),
        status: "active".into(),
        storage_path: format!("writers/{user}/{n}"),
        current_version_id: None,
        created_at: created_at.into(),
        updated_at: created_at.into(),
    }
}

fn version(n: u32, words: u64, created_at: &str, restored_from: Option<String>) -> VersionRow {
    VersionRow {
        version_id: id(n),
        author_id: "ann".into(),
        word_count: words,
        size_bytes: words * 6,
        sha256: format!("{n:064x}"),
        restored_from,
        created_at: created_at.into(),
    }
}

fn session(n: u32, project: u32, user: &str, started_at: &str) -> SessionRow {
    SessionRow {
        session_id: id(n),
        project_id: id(project),
        user_id: user.into(),
        chapter_number: (n % 2 == 1).then_some(n),
        start_word_count: 0,
        words_written: 0,
        duration_seconds: None,
        started_at: started_at.into(),
        ended_at: None,
    }
}

fn outcome<T: std::fmt::Debug>(result: AppResult<T>) -> String {
    format!("{:?}", result.map_err(|e| (e.status().as_u16(), e.code())))
}

fn page(limit: u32, offset: u32) -> Page {
    Page::new(limit, offset).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// A time the store wrote from its clock: RFC 3339 at milliseconds, recent; masked.
fn recent(text: &str) -> &'static str {
    let t = at(text);
    assert!(text.ends_with('Z') && text.len() == 24, "{text}");
    assert!((Utc::now() - t).num_seconds().abs() < 600, "{text}");
    "<now>"
}

fn masked_member(m: Option<MemberRow>) -> String {
    match m {
        Some(mut m) if m.updated_at != m.joined_at => {
            m.updated_at = recent(&m.updated_at).into();
            format!("{m:?}")
        }
        other => format!("{other:?}"),
    }
}

fn masked_project(p: Option<ProjectRow>) -> String {
    match p {
        Some(mut p) if p.updated_at.as_str() > "2026-06" => {
            p.updated_at = recent(&p.updated_at).into();
            format!("{p:?}")
        }
        other => format!("{other:?}"),
    }
}

const T1: &str = "2026-01-01T00:00:00.001Z";
const T2: &str = "2026-01-01T00:00:00.002Z";
const T3: &str = "2026-02-01T10:00:00.000Z";
const T4: &str = "2026-02-01T10:05:00.000Z";
const T5: &str = "2026-02-01T10:20:00.500Z";
const T6: &str = "2026-02-02T23:59:59.999Z";
const T7: &str = "2026-02-03T00:30:00.000Z";
const T8: &str = "2026-03-01T08:00:00.000Z";

async fn scenario(store: &dyn WritersStore, subscriptions: &dyn SubscriptionStore) -> Vec<String> {
    let mut said = Vec::new();
    let plans = plans(Limit::Count(2));
    // Members: enrolment once, saves of the profile fields only.
    said.push(format!("{:?}", store.member("ann").await.unwrap()));
    said.push(outcome(store.enrol_member(member(1, "ann", T1)).await));
    said.push(outcome(store.enrol_member(member(2, "ann", T2)).await));
    said.push(outcome(store.enrol_member(member(3, "bob", T2)).await));
    said.push(format!("{:?}", store.member("ann").await.unwrap()));
    let saved = MemberRow {
        pen_name: "A. Writer".into(),
        bio: Some("bio".into()),
        specialties: vec!["poetry".into(), "novel".into()],
        tier: "wordsmith".into(),
        total_words_written: 999,
        joined_at: T8.into(),
        ..member(9, "ann", T8)
    };
    said.push(outcome(store.save_member(saved.clone()).await));
    said.push(masked_member(store.member("ann").await.unwrap()));
    said.push(outcome(store.save_member(MemberRow { tier: "grandmaster".into(), ..saved }).await));
    said.push(outcome(store.save_member(member(8, "nobody", T1)).await));
    said.push(format!("{:?}", store.member("nobody").await.unwrap()));

    // Projects: the limit counts those not archived; pages newest change first, ties by id.
    for (n, t) in [(12, T1), (11, T1)] {
        said.push(outcome(store.insert_project(project(n, "ann", t), admission(&plans)).await));
    }
    said.push(outcome(store.insert_project(project(13, "ann", T2), admission(&plans)).await));
    said.push(outcome(store.insert_project(project(14, "bob", T2), admission(&plans)).await));
    said.push(outcome(store.insert_project(ProjectRow { user_id: "bob".into(), ..project(12, "bob", T2) }, admission(&plans)).await));
    said.push(outcome(store.insert_project(ProjectRow { content_type: "epic".into(), ..project(15, "bob", T2) }, admission(&plans)).await));
    said.push(format!("{:?}", store.project(&id(12)).await.unwrap()));
    for missing in [id(99), "not-a-uuid".into(), String::new(), id(12).to_uppercase()] {
        said.push(format!("{missing:?}: {:?}", store.project(&missing).await.unwrap()));
    }
    let mut archived = project(11, "ann", T1);
    archived.status = "archived".into();
    archived.title = "Shelved".into();
    said.push(outcome(store.save_project(archived.clone(), None).await));
    said.push(masked_project(store.project(&id(11)).await.unwrap()));
    said.push(outcome(store.insert_project(project(13, "ann", T2), admission(&plans)).await));
    // Leaving the archive is admitted like a create: refused at the limit, nothing written.
    let restored = ProjectRow { status: "active".into(), title: "Back".into(), ..archived };
    said.push(outcome(store.save_project(restored.clone(), Some(admission(&plans))).await));
    said.push(masked_project(store.project(&id(11)).await.unwrap()));
    said.push(outcome(store.save_project(ProjectRow { project_id: "not-a-uuid".into(), ..restored.clone() }, None).await));
    for (status, limit, offset) in [(None, 10, 0), (Some(WritingStatus::Active), 10, 0), (Some(WritingStatus::Archived), 10, 0), (None, 1, 1), (None, 5, 3)] {
        let (rows, total) = store.projects("ann", status, page(limit, offset)).await.unwrap();
        let ids: Vec<_> = rows.iter().map(|p| (p.project_id.clone(), p.status.clone())).collect();
        said.push(format!("{status:?} {limit}/{offset}: {total} {ids:?}"));
    }
    said.push(format!("{:?}", store.projects("nobody", None, page(10, 0)).await.unwrap()));

    // Versions: a compare-and-set on the current one.
    let p = id(12);
    said.push(outcome(store.insert_version(&p, None, version(21, 100, T3, None)).await));
    said.push(outcome(store.insert_version(&p, None, version(22, 150, T3, None)).await));
    said.push(outcome(store.insert_version(&p, Some("junk".into()), version(22, 150, T3, None)).await));
    said.push(outcome(store.insert_version(&p, Some(id(99)), version(22, 150, T3, None)).await));
    said.push(outcome(store.insert_version(&id(99), None, version(22, 150, T3, None)).await));
    said.push(outcome(store.insert_version("not-a-uuid", None, version(22, 150, T3, None)).await));
    said.push(outcome(store.insert_version(&p, Some(id(21)), version(22, 150, T3, Some(id(21)))).await));
    said.push(format!("{:?}", store.versions(&p).await.unwrap()));
    said.push(format!("{:?}", store.versions("not-a-uuid").await.unwrap()));
    said.push(format!("{:?}", store.version(&p, &id(21)).await.unwrap()));
    for (project, version) in [(id(13), id(21)), (p.clone(), id(99)), (p.clone(), "junk".into()), ("junk".into(), id(21))] {
        said.push(format!("{:?}", store.version(&project, &version).await.unwrap()));
    }
    said.push(format!("{:?}", store.project(&p).await.unwrap()));

    // Sessions: words gained are counted once into the member's total.
    said.push(outcome(store.open_session(session(31, 12, "ann", T4)).await));
    said.push(format!("{:?}", store.session(&id(31)).await.unwrap()));
    said.push(outcome(store.insert_version(&p, Some(id(22)), version(23, 400, T5, None)).await));
    // A new session on the same project ends the open one at its start.
    said.push(outcome(store.open_session(session(32, 12, "ann", T6)).await));
    said.push(format!("{:?}", store.session(&id(31)).await.unwrap()));
    said.push(format!("{}", store.member("ann").await.unwrap().unwrap().total_words_written));
    said.push(outcome(store.insert_version(&p, Some(id(23)), version(24, 460, T6, None)).await));
    let open = store.session(&id(32)).await.unwrap().unwrap();
    said.push(outcome(store.close_session(open.clone(), T7).await));
    // Ended already: answered as computed, its words not counted again.
    said.push(outcome(store.close_session(open, T8).await));
    said.push(format!("{:?}", store.session(&id(32)).await.unwrap()));
    said.push(format!("{}", store.member("ann").await.unwrap().unwrap().total_words_written));
    said.push(outcome(store.close_session(SessionRow { session_id: "junk".into(), ..session(33, 12, "ann", T7) }, T8).await));
    for missing in [id(99), "junk".into()] {
        said.push(format!("{:?}", store.session(&missing).await.unwrap()));
    }
    // Idle sessions end at their last activity (the last save while open).
    said.push(outcome(store.open_session(session(34, 13, "ann", T6)).await));
    said.push(outcome(store.open_session(session(35, 14, "bob", T7)).await));
    said.push(outcome(store.insert_version(&id(13), None, version(25, 80, T7, None)).await));
    said.push(outcome(store.close_idle_sessions(at(T6)).await));
    said.push(outcome(store.close_idle_sessions(at(T7)).await));
    said.push(outcome(store.close_idle_sessions(at(T8)).await));
    said.push(outcome(store.close_idle_sessions(at(T8)).await));
    for s in [34, 35] {
        said.push(format!("{:?}", store.session(&id(s)).await.unwrap()));
    }
    said.push(format!("{}", store.member("ann").await.unwrap().unwrap().total_words_written));
    let stats = store.member_stats("ann").await.unwrap();
    said.push(format!("{} {} {:?}", stats.projects, stats.sessions, stats.session_days));
    let stats = store.member_stats("nobody").await.unwrap();
    said.push(format!("{} {} {:?}", stats.projects, stats.sessions, stats.session_days));

    // An assistance's use: the hold becomes use, the words go to their counter.
    let now = Utc::now();
    let writing = Admission { plans: plans.clone(), user_id: "ann".into(), feature: Feature::AiWriting, amount: 1, now };
    let hold = subscriptions.hold(writing).await.unwrap();
    said.push(outcome(store.commit_assistance(hold.clone(), 120).await));
    let window = hold.window_start.clone();
    let snap = subscriptions
        .snapshot(
            "ann",
            Box::new(move |_| {
                vec![
                    CounterKey { counter: "ai_writing".into(), window_start: window.clone() },
                    CounterKey { counter: AI_WRITING_WORDS.into(), window_start: window },
                ]
            }),
        )
        .await
        .unwrap();
    said.push(format!("{:?}", snap.counters));
    said
}

#[tokio::test]
async fn postgres_writers_store_answers_as_sqlite() {
    let Some(config) = database("postgres_writers_store_answers_as_sqlite").await else { return };
    let db = migrated(&config).await;
    let (pg, pg_subs) = (PgWritersStore::new(db.clone()), PgSubscriptionStore::new(db.clone()));
    let dir = tempfile::tempdir().unwrap();
    let lite_db = sqlite_db(&dir);
    let (lite, lite_subs) = (SqliteWritersStore::new(lite_db.clone()), SqliteSubscriptionStore::new(lite_db));
    let (on_pg, on_lite) = (scenario(&pg, &pg_subs).await, scenario(&lite, &lite_subs).await);
    for (i, line) in on_pg.iter().enumerate() {
        eprintln!("{i}: {line}");
    }
    assert_same_answers(&on_pg, &on_lite);

    // The expectations, on both.
    let s = |i: usize| on_pg[i].as_str();
    assert_eq!(s(0), "None");
    assert_eq!((s(1), s(2), s(3)), ("Ok(true)", "Ok(false)", "Ok(true)"));
    assert!(s(4).contains(&id(1)) && s(4).contains(&format!("updated_at: \"{T1}\"")), "{}", s(4));
    assert!(
        s(6).contains("pen_name: \"A. Writer\"") && s(6).contains("total_words_written: 0") && s(6).contains(&format!("joined_at: \"{T1}\"")),
        "{}",
        s(6)
    );
    assert!(s(6).contains("updated_at: \"<now>\""), "{}", s(6));
    assert!(s(7).starts_with("Err((422,"), "{}", s(7));
    assert_eq!((s(8), s(9)), ("Ok(())", "None"));
    assert_eq!((s(10), s(11)), ("Ok(())", "Ok(())"));
    assert!(s(12).contains("project_limit_reached"), "{}", s(12));
    assert_eq!(s(13), "Ok(())");
    assert!(s(14).starts_with("Err((409,"), "{}", s(14));
    assert!(s(15).starts_with("Err((422,"), "{}", s(15));
    assert!(on_pg[17..21].iter().all(|l| l.ends_with(": None")), "{on_pg:?}");
    assert!(s(22).contains("status: \"archived\"") && s(22).contains("updated_at: \"<now>\""), "{}", s(22));
    assert_eq!(s(23), "Ok(())");
    assert!(s(24).contains("project_limit_reached") && s(25).contains("Shelved"), "{} {}", s(24), s(25));
    let pages = &on_pg[27..32];
    // 11 was saved last (updated now), then 13 (T2), then 12 (T1).
    assert_eq!(pages[0], format!("None 10/0: 3 [(\"{}\", \"archived\"), (\"{}\", \"active\"), (\"{}\", \"active\")]", id(11), id(13), id(12)));
    assert!(pages[1].starts_with("Some(Active) 10/0: 2 ") && pages[2].starts_with("Some(Archived) 10/0: 1 "), "{pages:?}");
    assert_eq!(pages[3], format!("None 1/1: 3 [(\"{}\", \"active\")]", id(13)));
    assert_eq!(pages[4], "None 5/3: 3 []");
    assert_eq!(s(32), "([], 0)");
    assert_eq!(s(33), "Ok(Saved)");
    assert_eq!(s(34), format!("Ok(Superseded {{ current: Some(\"{}\") }})", id(21)));
    assert_eq!(s(35), s(34));
    assert_eq!(s(36), s(34));
    assert_eq!((s(37), s(38), s(39)), ("Ok(ProjectGone)", "Ok(ProjectGone)", "Ok(Saved)"));
    assert!(s(40).find(&id(22)).unwrap() < s(40).find(&format!("version_id: \"{}\"", id(21))).unwrap(), "{}", s(40));
    assert_eq!(s(41), "[]");
    assert!(on_pg[43..47].iter().all(|l| l == "None"), "{on_pg:?}");
    assert!(s(47).contains("word_count: 150") && s(47).contains(&format!("updated_at: \"{T3}\"")), "{}", s(47));
    assert!(s(48).contains("start_word_count: 150") && s(49)[5..] == s(48)[3..], "{} {}", s(48), s(49));
    assert!(s(51).contains("start_word_count: 400"), "{}", s(51));
    // Ended by the next open at its start, 250 words gained, then 60 more in the next one.
    assert!(s(52).contains("words_written: 250") && s(52).contains(&format!("ended_at: Some(\"{T6}\")")), "{}", s(52));
    assert_eq!(s(53), "250");
    assert!(s(55).contains("words_written: 60") && s(55).contains("duration_seconds: Some(1800)"), "{}", s(55));
    assert!(s(56).contains(&format!("ended_at: Some(\"{T8}\")")), "{}", s(56));
    assert!(s(57).contains(&format!("ended_at: Some(\"{T7}\")")) && s(57).contains("words_written: 60"), "{}", s(57));
    assert_eq!(s(58), "310");
    assert!(s(59).starts_with("Ok(SessionRow { session_id: \"junk\""), "{}", s(59));
    assert_eq!((s(60), s(61)), ("None", "None"));
    // 34 idle since the save at T7, 35 since its start at T7: not before T7; then both.
    assert_eq!((s(65), s(66), s(67), s(68)), ("Ok(0)", "Ok(0)", "Ok(2)", "Ok(0)"));
    assert!(s(69).contains(&format!("ended_at: Some(\"{T7}\")")) && s(69).contains("words_written: 80"), "{}", s(69));
    assert_eq!(s(71), "390");
    assert_eq!(s(72), "3 3 [\"2026-02-02\", \"2026-02-01\"]");
    assert_eq!(s(73), "0 0 []");
    assert_eq!(s(74), "Ok(())");
    assert_eq!(s(75), "[Usage { used: 1, reserved: 0 }, Usage { used: 120, reserved: 0 }]");
}

/// `n` stores on connections (and pools) of their own.
async fn stores(config: &DatabaseConfig, n: usize) -> Vec<Arc<dyn WritersStore>> {
    let mut config = config.clone();
    config.pool_size = 1;
    let mut stores: Vec<Arc<dyn WritersStore>> = Vec::new();
    for _ in 0..n {
        stores.push(Arc::new(PgWritersStore::new(PgDb::connect(&config).await.unwrap())));
    }
    stores
}

/// Runs `f(i, store)` for each store at once (past a barrier); the answers in order.
async fn race<T, F, Fut>(stores: Vec<Arc<dyn WritersStore>>, f: F) -> Vec<AppResult<T>>
where
    T: Send + 'static,
    F: Fn(usize, Arc<dyn WritersStore>) -> Fut,
    Fut: Future<Output = AppResult<T>> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(stores.len()));
    let mut handles = Vec::new();
    for (i, store) in stores.into_iter().enumerate() {
        let (barrier, work) = (barrier.clone(), f(i, store));
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            work.await
        }));
    }
    let mut answers = Vec::new();
    for h in handles {
        answers.push(h.await.unwrap());
    }
    answers
}

async fn scalar(db: &PgDb, sql: &str) -> i64 {
    db.client().await.unwrap().query_one(sql, &[]).await.unwrap().get(0)
}

/// 12 creates race for 3 places: exactly 3 inserted, on PostgreSQL as on SQLite.
async fn creates_for_the_last_places(stores: Vec<Arc<dyn WritersStore>>, setup: &dyn WritersStore) -> usize {
    let plans = plans(Limit::Count(3));
    setup.enrol_member(member(1, "ann", T1)).await.unwrap();
    let answers = race(stores, move |i, store| {
        let a = admission(&plans);
        async move { store.insert_project(project(100 + i as u32, "ann", T1), a).await }
    })
    .await;
    let mut admitted = 0;
    for answer in answers {
        match answer {
            Ok(()) => admitted += 1,
            Err(e) => assert_eq!(e.code(), "project_limit_reached"),
        }
    }
    assert_eq!(setup.projects("ann", None, page(50, 0)).await.unwrap().1, admitted as u64);
    admitted
}

#[tokio::test]
async fn postgres_writers_12_concurrent_creates_admit_exactly_the_limit() {
    let Some(config) = database("postgres_writers_12_concurrent_creates_admit_exactly_the_limit").await else { return };
    let db = migrated(&config).await;
    let admitted = creates_for_the_last_places(stores(&config, 12).await, &PgWritersStore::new(db.clone())).await;
    assert_eq!(admitted, 3);
    assert_eq!(scalar(&db, "SELECT total_projects FROM guild_members WHERE user_id = 'ann'").await, 3);
    let dir = tempfile::tempdir().unwrap();
    let lite: Arc<dyn WritersStore> = Arc::new(SqliteWritersStore::new(sqlite_db(&dir)));
    assert_eq!(creates_for_the_last_places(vec![lite.clone(); 12], &*lite).await, admitted);
}

#[tokio::test]
async fn postgres_writers_concurrent_unlimited_creates_keep_the_project_total_exact() {
    let Some(config) = database("postgres_writers_concurrent_unlimited_creates_keep_the_project_total_exact").await else { return };
    let db = migrated(&config).await;
    let plans = plans(Limit::Unlimited);
    PgWritersStore::new(db.clone()).enrol_member(member(1, "ann", T1)).await.unwrap();
    for round in 0..3u32 {
        let plans = plans.clone();
        let answers = race(stores(&config, 10).await, move |i, store| {
            let a = admission(&plans);
            async move { store.insert_project(project(100 + round * 100 + i as u32, "ann", T1), a).await }
        })
        .await;
        assert!(answers.iter().all(Result::is_ok), "{:?}", answers.iter().map(|a| a.as_ref().err().map(|e| e.code())).collect::<Vec<_>>());
        assert_eq!(scalar(&db, "SELECT total_projects FROM guild_members WHERE user_id = 'ann'").await, 10 * (i64::from(round) + 1));
    }
}

#[tokio::test]
async fn postgres_writers_concurrent_restores_admit_exactly_the_last_place() {
    let Some(config) = database("postgres_writers_concurrent_restores_admit_exactly_the_last_place").await else { return };
    let db = migrated(&config).await;
    let store = PgWritersStore::new(db.clone());
    // Eight made without a limit, six of them archived: two active.
    for n in 0..8 {
        store.insert_project(project(100 + n, "ann", T1), admission(&plans(Limit::Unlimited))).await.unwrap();
        if n >= 2 {
            store.save_project(ProjectRow { status: "archived".into(), ..project(100 + n, "ann", T1) }, None).await.unwrap();
        }
    }
    let plans = plans(Limit::Count(3));
    let answers = race(stores(&config, 6).await, move |i, store| {
        let a = admission(&plans);
        async move { store.save_project(project(102 + i as u32, "ann", T1), Some(a)).await }
    })
    .await;
    let admitted = answers.iter().filter(|a| a.is_ok()).count();
    assert!(answers.iter().flat_map(|a| a.as_ref().err()).all(|e| e.code() == "project_limit_reached"));
    assert_eq!(admitted, 1);
    assert_eq!(scalar(&db, "SELECT count(*) FROM writing_projects WHERE status <> 'archived'").await, 3);
}

#[tokio::test]
async fn postgres_writers_concurrent_saves_on_one_version_land_once() {
    let Some(config) = database("postgres_writers_concurrent_saves_on_one_version_land_once").await else { return };
    let db = migrated(&config).await;
    let store = PgWritersStore::new(db.clone());
    store.insert_project(project(1, "ann", T1), admission(&plans(Limit::Unlimited))).await.unwrap();
    store.insert_version(&id(1), None, version(10, 5, T2, None)).await.unwrap();
    let answers = race(stores(&config, 10).await, |i, store| async move {
        store.insert_version(&id(1), Some(id(10)), version(20 + i as u32, 100 + i as u64, T3, None)).await
    })
    .await;
    let saved: Vec<usize> = (0..10).filter(|&i| matches!(answers[i], Ok(VersionSaved::Saved))).collect();
    assert_eq!(saved.len(), 1, "{answers:?}");
    let winner = id(20 + saved[0] as u32);
    for (i, a) in answers.iter().enumerate() {
        if i != saved[0] {
            assert_eq!(a.as_ref().unwrap(), &VersionSaved::Superseded { current: Some(winner.clone()) });
        }
    }
    let p = store.project(&id(1)).await.unwrap().unwrap();
    assert_eq!((p.current_version_id, p.word_count), (Some(winner), 100 + saved[0] as u64));
    assert_eq!(store.versions(&id(1)).await.unwrap().len(), 2);
}

/// Ann's project at 100 words, a session open from there, the manuscript now at 400.
async fn one_open_session(store: &dyn WritersStore) -> SessionRow {
    store.enrol_member(member(1, "ann", T1)).await.unwrap();
    store.insert_project(project(1, "ann", T1), admission(&plans(Limit::Unlimited))).await.unwrap();
    store.insert_version(&id(1), None, version(10, 100, T2, None)).await.unwrap();
    let open = store.open_session(session(30, 1, "ann", T3)).await.unwrap();
    store.insert_version(&id(1), Some(id(10)), version(11, 400, T4, None)).await.unwrap();
    open
}

#[tokio::test]
async fn postgres_writers_concurrent_closes_count_a_sessions_words_once() {
    let Some(config) = database("postgres_writers_concurrent_closes_count_a_sessions_words_once").await else { return };
    let db = migrated(&config).await;
    let store = PgWritersStore::new(db.clone());
    let open = one_open_session(&store).await;
    // Closes, sweepers and a new session on the same project all try to end it.
    let answers = race(stores(&config, 12).await, move |i, store| {
        let open = open.clone();
        async move {
            match i % 3 {
                0 => store.close_session(open, T5).await.map(|s| s.words_written as usize),
                // Idle since the save at T4; the sessions opened in the race (T6) are not.
                1 => store.close_idle_sessions(at(T6)).await,
                _ => store.open_session(session(40 + i as u32, 1, "ann", T6)).await.map(|_| 0),
            }
        }
    })
    .await;
    for a in &answers {
        assert!(a.is_ok(), "{:?}", a.as_ref().err().map(|e| e.code()));
    }
    // Each ended session counted once: the first (300 words), and every session opened in the
    // race but the last one (0 words each, the manuscript did not change).
    assert_eq!(store.member("ann").await.unwrap().unwrap().total_words_written, 300);
    let ended = store.session(&id(30)).await.unwrap().unwrap();
    assert_eq!(ended.words_written, 300);
    assert!(ended.ended_at.is_some());
    assert_eq!(scalar(&db, "SELECT count(*) FROM writing_sessions WHERE ended_at IS NULL").await, 1);
}

#[tokio::test]
async fn postgres_writers_concurrent_opens_leave_one_session_open() {
    let Some(config) = database("postgres_writers_concurrent_opens_leave_one_session_open").await else { return };
    let db = migrated(&config).await;
    let store = PgWritersStore::new(db.clone());
    one_open_session(&store).await;
    let answers = race(stores(&config, 10).await, |i, store| async move { store.open_session(session(40 + i as u32, 1, "ann", T5)).await }).await;
    assert!(answers.iter().all(|a| a.as_ref().is_ok_and(|s| s.start_word_count == 400)));
    assert_eq!(scalar(&db, "SELECT count(*) FROM writing_sessions WHERE ended_at IS NULL").await, 1);
    assert_eq!(scalar(&db, "SELECT count(*) FROM writing_sessions").await, 11);
    assert_eq!(store.member("ann").await.unwrap().unwrap().total_words_written, 300);
}

/// Users 0..6, each with two projects whose sessions gained `words(u, p)` words, all idle.
fn words(user: u32, project: u32) -> u64 {
    u64::from(10 * user + project + 1)
}

#[tokio::test]
async fn postgres_writers_concurrent_sweepers_and_closes_end_each_session_once() {
    let Some(config) = database("postgres_writers_concurrent_sweepers_and_closes_end_each_session_once").await else { return };
    let db = migrated(&config).await;
    let store = PgWritersStore::new(db.clone());
    let plans = plans(Limit::Unlimited);
    let mut open = Vec::new();
    for u in 0..6u32 {
        let user = format!("user{u}");
        store.enrol_member(member(1000 + u, &user, T1)).await.unwrap();
        for p in 0..2u32 {
            let n = 10 * u + p;
            store.insert_project(project(100 + n, &user, T1), admission(&plans)).await.unwrap();
            store.insert_version(&id(100 + n), None, version(200 + n, 1000, T2, None)).await.unwrap();
            open.push(store.open_session(session(300 + n, 100 + n, &user, T3)).await.unwrap());
            store.insert_version(&id(100 + n), Some(id(200 + n)), version(400 + n, 1000 + words(u, p), T4, None)).await.unwrap();
        }
    }
    // 12 closes (one per session) and 6 sweepers at once, on 18 connections.
    let answers = race(stores(&config, 18).await, move |i, store| {
        let open = open.clone();
        async move {
            match open.get(i) {
                Some(s) => store.close_session(s.clone(), T5).await.map(|_| 0),
                None => store.close_idle_sessions(at(T8)).await,
            }
        }
    })
    .await;
    for a in &answers {
        assert!(a.is_ok(), "{:?}", a.as_ref().err().map(|e| e.code()));
    }
    assert!(answers[12..].iter().map(|a| *a.as_ref().unwrap()).sum::<usize>() <= 12);
    assert_eq!(scalar(&db, "SELECT count(*) FROM writing_sessions WHERE ended_at IS NULL").await, 0);
    for u in 0..6u32 {
        let m = store.member(&format!("user{u}")).await.unwrap().unwrap();
        assert_eq!(m.total_words_written, words(u, 0) + words(u, 1), "user{u}");
        for p in 0..2 {
            assert_eq!(store.session(&id(300 + 10 * u + p)).await.unwrap().unwrap().words_written, words(u, p));
        }
    }
}

#[tokio::test]
async fn postgres_writers_saves_sweepers_closes_and_opens_at_once_count_each_session_once() {
    let Some(config) = database("postgres_writers_saves_sweepers_closes_and_opens_at_once_count_each_session_once").await else { return };
    let db = migrated(&config).await;
    let store = PgWritersStore::new(db.clone());
    let plans = plans(Limit::Unlimited);
    let mut open = Vec::new();
    for u in 0..6u32 {
        let user = format!("user{u}");
        store.enrol_member(member(1000 + u, &user, T1)).await.unwrap();
        for p in 0..2u32 {
            let n = 10 * u + p;
            store.insert_project(project(100 + n, &user, T1), admission(&plans)).await.unwrap();
            store.insert_version(&id(100 + n), None, version(200 + n, 1000, T2, None)).await.unwrap();
            open.push(store.open_session(session(300 + n, 100 + n, &user, T3)).await.unwrap());
        }
    }
    // On 34 connections at once: a close per session, a save per project (taking its open
    // sessions' rows), a new session on each user's first project, and sweepers.
    let answers = race(stores(&config, 34).await, move |i, store| {
        let open = open.clone();
        async move {
            match i {
                0..12 => store.close_session(open[i].clone(), T5).await.map(|_| ()),
                12..24 => {
                    let s = &open[i - 12];
                    let k = (i - 12) as u32;
                    let n = 10 * (k / 2) + k % 2;
                    let saved = store.insert_version(&s.project_id, Some(id(200 + n)), version(400 + n, 1000 + 7 * u64::from(k + 1), T4, None)).await;
                    assert_eq!(saved.unwrap(), VersionSaved::Saved);
                    Ok(())
                }
                24..30 => store.open_session(session(500 + i as u32, 100 + 10 * (i as u32 - 24), &format!("user{}", i - 24), T6)).await.map(drop),
                _ => store.close_idle_sessions(at(T8)).await.map(drop),
            }
        }
    })
    .await;
    for a in &answers {
        assert!(a.is_ok(), "{:?}", a.as_ref().err().map(|e| e.code()));
    }
    // Whoever ended a session counted its words, once: each total is the sum of its sessions'.
    for u in 0..6 {
        let user = format!("user{u}");
        let ended: i64 = db
            .client()
            .await
            .unwrap()
            .query_one("SELECT COALESCE(sum(words_written), 0)::bigint FROM writing_sessions WHERE user_id = $1 AND ended_at IS NOT NULL", &[&user])
            .await
            .unwrap()
            .get(0);
        assert_eq!(store.member(&user).await.unwrap().unwrap().total_words_written, ended as u64, "{user}");
    }
    // The first sessions were all ended (by their close at the latest).
    let first = format!("SELECT count(*) FROM writing_sessions WHERE started_at = '{T3}' AND ended_at IS NULL");
    assert_eq!(scalar(&db, &first).await, 0);
}
