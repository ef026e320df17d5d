//! The music store on PostgreSQL against a real server (tests/api/postgres.rs): the main paths
//! and refusals answered as the SQLite store answers them, ids that are not UUIDs, and real
//! races on separate connections (servers) for the last project place, a project's generation,
//! its stem count, its share and play counts. Each test prints a SKIPPED line and passes when
//! PostgreSQL is not installed.

use std::sync::Arc;

use chrono::Utc;
use optima::db::postgres::PgDb;
use optima::error::{AppError, AppResult};
use optima::features::music::model::ProjectStatus;
use optima::features::music::store::postgres::PgMusicStore;
use optima::features::music::store::sqlite::SqliteMusicStore;
use optima::features::music::store::{Edit, FinishedGeneration, Guard, MusicStore, NewVersion, ProjectRow, StemRow, VersionRow};
use optima::features::page::Page;
use optima::features::subscription::admission::{Admission, CountAdmission, Counted};
use optima::features::subscription::plan::{Feature, Limit, TierPlans};
use optima::features::subscription::store::postgres::PgSubscriptionStore;
use optima::features::subscription::store::sqlite::SqliteSubscriptionStore;
use optima::features::subscription::store::SubscriptionStore;
use tokio::sync::Barrier;

use crate::postgres::{assert_same_answers, database, migrated, sqlite_db};

/// A UUID ending in `n`, as the service's `Uuid::now_v7` ids are written.
fn id(n: u32) -> String {
    format!("0190b0a0-0000-7000-8000-{n:012x}")
}

const T1: &str = "2026-01-01T00:00:00.001Z";
const T2: &str = "2026-01-01T00:00:00.002Z";
const T3: &str = "2026-02-01T10:00:00.000Z";

/// The free tier allowed `projects` music projects and `generations` generations a month.
fn plans(projects: u64, generations: u64) -> Arc<TierPlans> {
    let mut plans = TierPlans::default();
    plans.free.music_projects = Limit::Count(projects);
    plans.free.music_generation.limit = Limit::Count(generations);
    Arc::new(plans)
}

fn projects_admission(plans: &Arc<TierPlans>) -> CountAdmission {
    CountAdmission { plans: plans.clone(), counted: Counted::MusicProjects }
}

fn project(n: u32, user: &str, created_at: &str) -> ProjectRow {
    ProjectRow {
        project_id: id(n),
        user_id: user.into(),
        title: format!("Track {n}"),
        genre: n.is_multiple_of(2).then(|| "ambient".into()),
        bpm: n.is_multiple_of(2).then_some(120),
        mood: Some("calm".into()),
        key: n.is_multiple_of(3).then(|| "F# minor".into()),
        status: "draft".into(),
        visibility: "private".into(),
        storage_path: format!("users/{user}/projects/{}", id(n)),
        stem_count: 0,
        total_plays: 0,
        duration: None,
        current_version_id: None,
        last_error: None,
        share_slug: None,
        created_at: created_at.into(),
        updated_at: created_at.into(),
    }
}

fn stem(n: u32, version: Option<String>, created_at: &str) -> StemRow {
    StemRow {
        stem_id: id(n),
        version_id: version,
        instrument: format!("instrument {n}"),
        source: if n.is_multiple_of(2) { "generated" } else { "upload" }.into(),
        format: "wav".into(),
        path: format!("stems/{n}.wav"),
        size_bytes: (1 << 33) + u64::from(n),
        duration: 12.5 + f64::from(n),
        created_at: created_at.into(),
    }
}

fn version(n: u32) -> NewVersion {
    NewVersion {
        version_id: id(n),
        mix_path: format!("mixed/{n}.mp3"),
        preview_path: format!("mixed/{n}_preview.mp3"),
        midi_path: n.is_multiple_of(2).then(|| format!("midi/{n}.mid")),
        prompt: Some(format!("prompt {n}")),
        provider: "local".into(),
        duration: 30.25 + f64::from(n),
    }
}

fn generation(project: u32, v: u32, stems: &[u32], hold: Option<optima::features::subscription::store::Hold>) -> FinishedGeneration {
    FinishedGeneration {
        project_id: id(project),
        version: version(v),
        stems: stems.iter().map(|n| stem(*n, Some(id(v)), T3)).collect(),
        hold,
    }
}

/// The service's rule (`music::service::ensure_changeable`): no change to an archived project,
/// nor to one being generated unless the caller is the generation.
fn changeable(own_generation: bool) -> Guard {
    Box::new(move |p| match p.status.as_str() {
        "archived" => Err(AppError::Conflict { code: "project_archived", message: "archived".into() }),
        "generating" if !own_generation => Err(AppError::Conflict { code: "generation_in_progress", message: "generating".into() }),
        _ => Ok(()),
    })
}

fn refuse() -> Guard {
    Box::new(|_| Err(AppError::Conflict { code: "refused", message: "the guard says no".into() }))
}

fn outcome<T>(result: AppResult<T>, show: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(value) => format!("Ok({})", show(value)),
        Err(e) => format!("Err({} {})", e.status().as_u16(), e.code()),
    }
}

/// A project as both stores must agree on it: all but `updated_at`, which each stamps with
/// its own clock (checked for form and order apart).
fn shown(p: &ProjectRow) -> String {
    format!(
        "{} {} {:?} {:?} {:?} {:?} {:?} {} {} {} stems={} plays={} {:?} cur={:?} err={:?} slug={:?} {}",
        p.project_id,
        p.user_id,
        p.title,
        p.genre,
        p.bpm,
        p.mood,
        p.key,
        p.status,
        p.visibility,
        p.storage_path,
        p.stem_count,
        p.total_plays,
        p.duration,
        p.current_version_id,
        p.last_error,
        p.share_slug,
        p.created_at
    )
}

fn shown_option(p: Option<ProjectRow>) -> String {
    p.as_ref().map_or("None".into(), shown)
}

fn shown_list((rows, total): (Vec<ProjectRow>, u64)) -> String {
    format!("{total} [{}]", rows.iter().map(|p| p.project_id.clone()).collect::<Vec<_>>().join(", "))
}

/// A version without the time the store stamped it with.
fn shown_versions(rows: Vec<VersionRow>) -> String {
    let well_formed = rows.iter().all(|v| v.created_at.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(&v.created_at).is_ok());
    let rows: Vec<_> = rows.iter().map(|v| (&v.version_id, &v.mix_path, &v.preview_path, &v.midi_path, &v.prompt, &v.provider, v.duration)).collect();
    format!("{well_formed} {rows:?}")
}

fn edit(f: impl FnOnce(&mut ProjectRow) -> AppResult<Option<CountAdmission>> + Send + 'static) -> Edit {
    Box::new(f)
}

fn page(limit: u32, offset: u32) -> Page {
    Page { limit, offset }
}

/// Lets the clock move on, so that changes made one after the other have distinct times.
async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
}

async fn scenario(store: &dyn MusicStore, subscriptions: &dyn SubscriptionStore) -> Vec<String> {
    let plans = plans(3, 5);
    let admit = || projects_admission(&plans);
    let mut said = Vec::new();
    let mut say = |s: String| said.push(s);

    // Inserts: three places; a fourth refused; a taken id a conflict; Bob's own places.
    for (n, at) in [(5, T1), (3, T2), (9, T1)] {
        say(outcome(store.insert_project(project(n, "ann", at), admit()).await, |()| "()".into()));
    }
    say(outcome(store.insert_project(project(7, "ann", T3), admit()).await, |()| "()".into()));
    say(outcome(store.insert_project(project(5, "bob", T3), admit()).await, |()| "()".into()));
    say(outcome(store.insert_project(project(20, "bob", T1), admit()).await, |()| "()".into()));
    // A bpm the schema refuses.
    let mut fast = project(21, "bob", T1);
    fast.bpm = Some(300);
    say(outcome(store.insert_project(fast, admit()).await, |()| "()".into()));

    for n in [5, 3, 7, 20] {
        say(shown_option(store.project(&id(n)).await.unwrap()));
    }
    for missing in [id(99), "not-a-uuid".into(), String::new(), id(5).to_uppercase(), id(5).replace('-', "")] {
        say(format!("{missing:?}: {} {:?} {:?} {:?}", shown_option(store.project(&missing).await.unwrap()), store.project_parts(&missing).await.unwrap().is_none(), store.stems(&missing).await.unwrap(), store.versions(&missing).await.unwrap()));
    }
    // Pages: the most recently changed first, ties by id descending.
    for (limit, offset) in [(10, 0), (2, 0), (2, 2), (1, 1), (0, 0)] {
        say(shown_list(store.list_projects("ann", None, page(limit, offset)).await.unwrap()));
    }
    say(shown_list(store.list_projects("ann", Some(ProjectStatus::Draft), page(10, 0)).await.unwrap()));
    say(shown_list(store.list_projects("ann", Some(ProjectStatus::Archived), page(10, 0)).await.unwrap()));
    say(shown_list(store.list_projects("nobody", None, page(10, 0)).await.unwrap()));

    // Edits: applied to the project as read; a refusal writes nothing; the schema's refusal too.
    tick().await;
    let before = store
        .update_project(&id(5), edit(|p| {
            p.title = "Renamed".into();
            p.bpm = Some(90);
            p.genre = None;
            p.stem_count = 77; // not an editable field: not written
            Ok(None)
        }))
        .await;
    say(outcome(before, shown_option));
    say(shown_option(store.project(&id(5)).await.unwrap()));
    say(outcome(store.update_project(&id(3), edit(|p| { p.title = "lost".into(); Err(AppError::Conflict { code: "no", message: "no".into() }) })).await, shown_option));
    say(outcome(store.update_project(&id(3), edit(|p| { p.bpm = Some(500); Ok(None) })).await, shown_option));
    say(outcome(store.update_project(&id(3), edit(|p| { p.status = "lost".into(); Ok(None) })).await, shown_option));
    say(shown_option(store.project(&id(3)).await.unwrap()));
    for missing in [id(99), "not-a-uuid".into()] {
        say(outcome(store.update_project(&missing, edit(|_| panic!("edited a project that is not there"))).await, shown_option));
    }
    // The most recently changed first.
    say(shown_list(store.list_projects("ann", None, page(10, 0)).await.unwrap()));

    // Archive one, take its place, then restoring it is refused at the limit, nothing written.
    tick().await;
    say(outcome(store.update_project(&id(9), edit(|p| { p.status = "archived".into(); Ok(None) })).await, shown_option));
    say(outcome(store.insert_project(project(7, "ann", T3), admit()).await, |()| "()".into()));
    let a = admit();
    say(outcome(store.update_project(&id(9), edit(move |p| { p.status = "draft".into(); Ok(Some(a)) })).await, shown_option));
    say(shown_option(store.project(&id(9)).await.unwrap()));
    say(shown_list(store.list_projects("ann", Some(ProjectStatus::Archived), page(10, 0)).await.unwrap()));

    // A generation: begun once; not on an archived project; finished with its stems and hold.
    let music = Admission { plans: plans.clone(), user_id: "ann".into(), feature: Feature::MusicGeneration, amount: 1, now: Utc::now() };
    let hold = subscriptions.hold(music.clone()).await.unwrap();
    say(outcome(store.begin_generation(&id(3), changeable(false)).await, shown_option));
    say(outcome(store.begin_generation(&id(3), changeable(false)).await, shown_option));
    say(outcome(store.begin_generation(&id(9), changeable(false)).await, shown_option));
    say(outcome(store.begin_generation("not-a-uuid", changeable(false)).await, shown_option));
    say(shown_option(store.project(&id(3)).await.unwrap()));
    // Another's generation may not finish on it; nothing kept, the hold still held.
    say(outcome(store.finish_generation(generation(3, 100, &[102, 104], Some(hold.clone())), changeable(false)).await, shown_option));
    let line = subscriptions.standing(music.clone()).await.unwrap();
    say(format!("held: used={} reserved={}", line.used, line.reserved));
    say(format!("{:?} {}", store.stems(&id(3)).await.unwrap(), shown_versions(store.versions(&id(3)).await.unwrap())));
    say(outcome(store.finish_generation(generation(3, 100, &[102, 104], Some(hold)), changeable(true)).await, shown_option));
    let line = subscriptions.standing(music.clone()).await.unwrap();
    say(format!("committed: used={} reserved={}", line.used, line.reserved));
    say(shown_option(store.project(&id(3)).await.unwrap()));
    say(format!("{:?}", store.stems(&id(3)).await.unwrap()));
    // A version id taken: nothing kept.
    say(outcome(store.finish_generation(generation(3, 100, &[106], None), changeable(false)).await, shown_option));
    say(outcome(store.finish_generation(generation(99, 101, &[], None), changeable(false)).await, shown_option));
    // A remix: no stems; the newest version first (ties on the time by id descending).
    say(outcome(store.finish_generation(generation(3, 103, &[], None), changeable(false)).await, shown_option));
    say(shown_versions(store.versions(&id(3)).await.unwrap()));

    // Uploaded stems: counted; a stem of no project, or of no version, refused.
    say(outcome(store.add_stem(&id(3), stem(107, None, T1)).await, |()| "()".into()));
    say(outcome(store.add_stem(&id(3), stem(108, Some(id(100)), T1)).await, |()| "()".into()));
    for (project_id, version_id) in [(id(99), None), ("not-a-uuid".into(), None), (id(3), Some(id(99))), (id(3), Some("not-a-uuid".into()))] {
        say(outcome(store.add_stem(&project_id, stem(109, version_id, T1)).await, |()| "()".into()));
    }
    // A taken stem id.
    say(outcome(store.add_stem(&id(3), stem(102, None, T1)).await, |()| "()".into()));
    say(format!("{:?}", store.stems(&id(3)).await.unwrap().iter().map(|s| s.stem_id.clone()).collect::<Vec<_>>()));

    // The current mix chosen again.
    say(outcome(store.make_current(&id(3), &id(100), 1.5, changeable(false)).await, shown_option));
    say(outcome(store.make_current(&id(3), &id(103), 2.5, refuse()).await, shown_option));
    say(outcome(store.make_current(&id(99), &id(103), 2.5, changeable(false)).await, shown_option));
    say(outcome(store.make_current("not-a-uuid", &id(103), 2.5, changeable(false)).await, shown_option));
    say(shown_option(store.project(&id(3)).await.unwrap()));

    // Status set as told.
    tick().await;
    say(outcome(store.set_status(&id(5), ProjectStatus::Completed, Some("it failed".into())).await, |()| "()".into()));
    say(outcome(store.set_status(&id(99), ProjectStatus::Completed, None).await, |()| "()".into()));
    say(outcome(store.set_status("not-a-uuid", ProjectStatus::Completed, None).await, |()| "()".into()));
    say(shown_option(store.project(&id(5)).await.unwrap()));

    // Sharing: the share id kept once made; counts per platform in the order asked.
    let url = |slug: &str| -> optima::features::music::store::PageUrl {
        let base = format!("https://r3al.example/{slug}");
        Box::new(move |s: &str| format!("{base}/s/{s}"))
    };
    let published = |r: AppResult<Option<optima::features::music::store::Published>>| {
        outcome(r, |p| format!("{:?}", p.map(|p| (p.page_url, p.share_counts))))
    };
    let platforms = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    say(published(store.publish(&id(3), changeable(false), "slug-a".into(), url("1"), platforms(&["twitter", "tiktok", "twitter"]), Some("hi".into())).await));
    say(published(store.publish(&id(3), changeable(false), "slug-b".into(), url("2"), platforms(&["tiktok"]), None).await));
    say(published(store.publish(&id(3), changeable(false), "slug-c".into(), url("3"), Vec::new(), None).await));
    // A share id another project has: a conflict, nothing written.
    say(published(store.publish(&id(5), changeable(false), "slug-a".into(), url("4"), platforms(&["x"]), None).await));
    say(published(store.publish(&id(5), refuse(), "slug-d".into(), url("5"), platforms(&["x"]), None).await));
    say(published(store.publish(&id(9), changeable(false), "slug-e".into(), url("6"), platforms(&["x"]), None).await));
    say(published(store.publish(&id(99), changeable(false), "slug-f".into(), url("7"), platforms(&["x"]), None).await));
    say(published(store.publish("not-a-uuid", changeable(false), "slug-g".into(), url("8"), platforms(&["x"]), None).await));
    say(shown_option(store.project(&id(5)).await.unwrap()));
    for slug in ["slug-a", "slug-b", "slug-d", ""] {
        say(format!("{slug}: {}", shown_option(store.project_by_share_slug(slug).await.unwrap())));
    }
    // A published project stays published when its mix changes.
    say(outcome(store.make_current(&id(3), &id(103), 2.5, changeable(false)).await, shown_option));

    // Plays.
    for project_id in [id(3), id(3), id(5), id(99), "not-a-uuid".into()] {
        say(outcome(store.count_play(&project_id).await, |()| "()".into()));
    }

    // The whole project, then gone with its parts.
    let parts = store.project_parts(&id(3)).await.unwrap().unwrap();
    say(format!("{} {:?} {}", shown(&parts.project), parts.stems.iter().map(|s| s.stem_id.clone()).collect::<Vec<_>>(), shown_versions(parts.versions)));
    let parts = store.project_parts(&id(5)).await.unwrap().unwrap();
    say(format!("{} {:?} {:?}", shown(&parts.project), parts.stems, parts.versions));
    for project_id in [id(3), id(3), id(99), "not-a-uuid".into()] {
        say(outcome(store.delete_project(&project_id).await, |()| "()".into()));
    }
    say(format!("{} {:?} {:?}", shown_option(store.project(&id(3)).await.unwrap()), store.stems(&id(3)).await.unwrap(), store.versions(&id(3)).await.unwrap()));
    say(format!("{}", store.project_parts(&id(3)).await.unwrap().is_none()));
    say(format!("slug-a: {}", shown_option(store.project_by_share_slug("slug-a").await.unwrap())));
    say(shown_list(store.list_projects("ann", None, page(10, 0)).await.unwrap()));
    said
}

#[tokio::test]
async fn postgres_music_store_answers_as_sqlite() {
    let Some(config) = database("postgres_music_store_answers_as_sqlite").await else { return };
    let db = migrated(&config).await;
    let (pg, pg_subscriptions) = (PgMusicStore::new(db.clone()), PgSubscriptionStore::new(db.clone()));
    let dir = tempfile::tempdir().unwrap();
    let lite_db = sqlite_db(&dir);
    let (lite, lite_subscriptions) = (SqliteMusicStore::new(lite_db.clone()), SqliteSubscriptionStore::new(lite_db));
    let on_pg = scenario(&pg, &pg_subscriptions).await;
    let on_lite = scenario(&lite, &lite_subscriptions).await;
    assert_same_answers(&on_pg, &on_lite);
    let find = |prefix: &str| on_pg.iter().position(|s| s.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix} in {on_pg:#?}"));

    // The expectations, on both.
    assert_eq!(&on_pg[..7], [
        "Ok(())",
        "Ok(())",
        "Ok(())",
        "Err(403 project_limit_reached)",
        "Err(409 conflict)",
        "Ok(())",
        "Err(422 invalid_field)"
    ]);
    let all = find("3 [");
    assert_eq!(on_pg[all], format!("3 [{}, {}, {}]", id(3), id(9), id(5)));
    assert!(on_pg.iter().any(|s| s.contains("\"Renamed\"") && s.contains("stems=0")), "{on_pg:#?}");
    assert!(on_pg.contains(&"held: used=0 reserved=1".to_string()), "{on_pg:#?}");
    assert!(on_pg.contains(&"committed: used=1 reserved=0".to_string()), "{on_pg:#?}");
    assert!(on_pg.iter().any(|s| s.contains("https://r3al.example/1/s/slug-a") && s.contains("[1, 1, 2]")), "{on_pg:#?}");
    assert!(on_pg.iter().any(|s| s.contains("https://r3al.example/2/s/slug-a") && s.contains("[2]")), "{on_pg:#?}");
    let last = on_pg.last().unwrap();
    assert_eq!(last, &format!("3 [{}, {}, {}]", id(5), id(9), id(7)));

    // What PostgreSQL holds: the counters and times.
    let p = pg.project(&id(5)).await.unwrap().unwrap();
    assert_eq!((p.status.as_str(), p.last_error.as_deref(), p.total_plays, p.title.as_str()), ("completed", Some("it failed"), 1, "Renamed"));
    assert!(p.updated_at.ends_with('Z') && p.updated_at.len() == T1.len() && p.updated_at.as_str() > p.created_at.as_str(), "{p:?}");
    assert_eq!(p.created_at, T1);
}

/// Ten creates for one user on ten servers at once, against a limit of 3: exactly 3 are
/// admitted (on SQLite too); then, with two places taken and five projects archived, five
/// restores at once: exactly one comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_music_project_limit_holds_exactly_under_a_race_across_servers() {
    let Some(config) = database("postgres_music_project_limit_holds_exactly_under_a_race_across_servers").await else { return };
    migrated(&config).await;
    let tight = plans(3, 0);
    let dir = tempfile::tempdir().unwrap();
    let lite: Arc<dyn MusicStore> = Arc::new(SqliteMusicStore::new(sqlite_db(&dir)));
    for round in 0..3u32 {
        let mut servers: Vec<Arc<dyn MusicStore>> = Vec::new();
        for _ in 0..10 {
            servers.push(Arc::new(PgMusicStore::new(PgDb::connect(&config).await.unwrap())));
        }
        let user = format!("racer-{round}");
        for (stores, backend) in [(servers, "postgres"), (vec![lite.clone(); 10], "sqlite")] {
            let start = Arc::new(Barrier::new(stores.len()));
            let tasks: Vec<_> = stores
                .into_iter()
                .enumerate()
                .map(|(i, store)| {
                    let (start, user, tight) = (start.clone(), user.clone(), tight.clone());
                    let n = round * 100 + i as u32 + if backend == "sqlite" { 50 } else { 0 };
                    tokio::spawn(async move {
                        start.wait().await;
                        store.insert_project(project(n, &user, T1), projects_admission(&tight)).await
                    })
                })
                .collect();
            let mut admitted = 0;
            for task in tasks {
                match task.await.unwrap() {
                    Ok(()) => admitted += 1,
                    Err(e) => assert_eq!(e.code(), "project_limit_reached", "{backend}"),
                }
            }
            assert_eq!(admitted, 3, "{backend} round {round}");
        }
        let pg = PgMusicStore::new(PgDb::connect(&config).await.unwrap());
        assert_eq!(pg.list_projects(&user, None, page(100, 0)).await.unwrap().1, 3, "round {round}");
    }

    // Restores: two active, five archived, five servers restoring one each.
    let pg = PgMusicStore::new(PgDb::connect(&config).await.unwrap());
    let roomy = plans(100, 0);
    for n in 0..7 {
        pg.insert_project(project(1000 + n, "restorer", T2), projects_admission(&roomy)).await.unwrap();
        if n >= 2 {
            pg.update_project(&id(1000 + n), edit(|p| { p.status = "archived".into(); Ok(None) })).await.unwrap().unwrap();
        }
    }
    let start = Arc::new(Barrier::new(5));
    let mut tasks = Vec::new();
    for n in 2..7 {
        let store = PgMusicStore::new(PgDb::connect(&config).await.unwrap());
        let (start, admission) = (start.clone(), projects_admission(&tight));
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store.update_project(&id(1000 + n), edit(move |p| { p.status = "draft".into(); Ok(Some(admission)) })).await
        }));
    }
    let mut restored = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(before) => {
                assert_eq!(before.unwrap().status, "archived");
                restored += 1;
            }
            Err(e) => assert_eq!(e.code(), "project_limit_reached"),
        }
    }
    assert_eq!(restored, 1);
    assert_eq!(pg.list_projects("restorer", Some(ProjectStatus::Archived), page(100, 0)).await.unwrap().1, 4);
    assert_eq!(pg.list_projects("restorer", Some(ProjectStatus::Draft), page(100, 0)).await.unwrap().1, 3);
}

/// Ten servers start a generation of one project at once: exactly one starts it (on SQLite
/// too); the others are told a generation is in progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_music_one_generation_starts_under_a_race_across_servers() {
    let Some(config) = database("postgres_music_one_generation_starts_under_a_race_across_servers").await else { return };
    migrated(&config).await;
    let roomy = plans(100, 0);
    let dir = tempfile::tempdir().unwrap();
    let lite: Arc<dyn MusicStore> = Arc::new(SqliteMusicStore::new(sqlite_db(&dir)));
    let pg: Arc<dyn MusicStore> = Arc::new(PgMusicStore::new(PgDb::connect(&config).await.unwrap()));
    for round in 0..3u32 {
        let mut servers: Vec<Arc<dyn MusicStore>> = Vec::new();
        for _ in 0..10 {
            servers.push(Arc::new(PgMusicStore::new(PgDb::connect(&config).await.unwrap())));
        }
        for (one, stores, backend) in [(&pg, servers, "postgres"), (&lite, vec![lite.clone(); 10], "sqlite")] {
            one.insert_project(project(round, "ann", T1), projects_admission(&roomy)).await.unwrap();
            let start = Arc::new(Barrier::new(stores.len()));
            let tasks: Vec<_> = stores
                .into_iter()
                .map(|store| {
                    let start = start.clone();
                    tokio::spawn(async move {
                        start.wait().await;
                        store.begin_generation(&id(round), changeable(false)).await
                    })
                })
                .collect();
            let mut began = 0;
            for task in tasks {
                match task.await.unwrap() {
                    Ok(before) => {
                        assert_eq!(before.unwrap().status, "draft", "{backend}");
                        began += 1;
                    }
                    Err(e) => assert_eq!(e.code(), "generation_in_progress", "{backend}"),
                }
            }
            assert_eq!(began, 1, "{backend} round {round}");
            assert_eq!(one.project(&id(round)).await.unwrap().unwrap().status, "generating", "{backend}");
        }
    }
}

/// Stems added to one project from ten servers at once, with generations finishing on it
/// meanwhile: the stem count is exact. Shares and plays from ten servers at once: every one
/// counted, each share count handed out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_music_counters_are_exact_under_races_across_servers() {
    let Some(config) = database("postgres_music_counters_are_exact_under_races_across_servers").await else { return };
    migrated(&config).await;
    let pg = PgMusicStore::new(PgDb::connect(&config).await.unwrap());
    pg.insert_project(project(1, "ann", T1), projects_admission(&plans(100, 0))).await.unwrap();
    let mut servers = Vec::new();
    for _ in 0..10 {
        servers.push(Arc::new(PgMusicStore::new(PgDb::connect(&config).await.unwrap())));
    }

    // Stems: rounds of 10 servers adding one each at once (in the last round, three of them
    // finish a generation of 2 stems instead); the count exact after every round.
    let mut expected = 0;
    for round in 0..6u32 {
        let start = Arc::new(Barrier::new(servers.len()));
        let tasks: Vec<_> = servers
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let (start, store) = (start.clone(), store.clone());
                let n = 1000 + 100 * round + 10 * i as u32;
                tokio::spawn(async move {
                    start.wait().await;
                    if round == 5 && i < 3 {
                        store.finish_generation(generation(1, n, &[n + 1, n + 2], None), changeable(false)).await.unwrap().unwrap();
                    } else {
                        store.add_stem(&id(1), stem(n, None, T2)).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        expected += if round == 5 { 13 } else { 10 };
        let p = pg.project(&id(1)).await.unwrap().unwrap();
        assert_eq!((p.stem_count, pg.stems(&id(1)).await.unwrap().len()), (expected, expected as usize), "round {round}");
    }
    assert_eq!(pg.versions(&id(1)).await.unwrap().len(), 3);

    // Shares: each server publishes to "x" twice; plays: 20 each.
    let start = Arc::new(Barrier::new(servers.len()));
    let tasks: Vec<_> = servers
        .iter()
        .enumerate()
        .map(|(i, store)| {
            let (start, store) = (start.clone(), store.clone());
            tokio::spawn(async move {
                start.wait().await;
                let mut counts = Vec::new();
                for k in 0..2 {
                    let url: optima::features::music::store::PageUrl = Box::new(|s: &str| format!("https://r3al.example/s/{s}"));
                    let published = store
                        .publish(&id(1), changeable(false), format!("slug-{i}-{k}"), url, vec!["x".into()], None)
                        .await
                        .unwrap()
                        .unwrap();
                    counts.push((published.page_url, published.share_counts[0]));
                }
                for _ in 0..20 {
                    store.count_play(&id(1)).await.unwrap();
                }
                counts
            })
        })
        .collect();
    let mut counts = Vec::new();
    for task in tasks {
        counts.extend(task.await.unwrap());
    }
    let p = pg.project(&id(1)).await.unwrap().unwrap();
    assert_eq!(p.total_plays, 200);
    let slug = p.share_slug.clone().unwrap();
    assert!(counts.iter().all(|(url, _)| *url == format!("https://r3al.example/s/{slug}")), "{counts:?}");
    let mut numbers: Vec<u64> = counts.iter().map(|(_, n)| *n).collect();
    numbers.sort();
    assert_eq!(numbers, (1..=20).collect::<Vec<u64>>());
    assert_eq!(p.status, "published");
}

/// An edit and a generation finishing on one project at once, from two servers, many times
/// over: neither undoes the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_music_an_edit_never_undoes_a_generation_finishing_meanwhile() {
    let Some(config) = database("postgres_music_an_edit_never_undoes_a_generation_finishing_meanwhile").await else { return };
    migrated(&config).await;
    let (a, b) = (
        Arc::new(PgMusicStore::new(PgDb::connect(&config).await.unwrap())),
        Arc::new(PgMusicStore::new(PgDb::connect(&config).await.unwrap())),
    );
    for round in 0..20u32 {
        a.insert_project(project(round, "ann", T1), projects_admission(&plans(100, 0))).await.unwrap();
        let start = Arc::new(Barrier::new(2));
        let (s1, s2, a1, b1) = (start.clone(), start, a.clone(), b.clone());
        let edit_task = tokio::spawn(async move {
            s1.wait().await;
            a1.update_project(&id(round), edit(|p| { p.title = "Edited".into(); Ok(None) })).await.unwrap().unwrap()
        });
        let finish_task = tokio::spawn(async move {
            s2.wait().await;
            let v = 10_000 + round;
            b1.finish_generation(generation(round, v, &[v + 500], None), changeable(false)).await.unwrap().unwrap()
        });
        edit_task.await.unwrap();
        finish_task.await.unwrap();
        let p = a.project(&id(round)).await.unwrap().unwrap();
        assert_eq!((p.title.as_str(), p.status.as_str(), p.stem_count), ("Edited", "completed", 1), "round {round}");
        assert_eq!(p.current_version_id, Some(id(10_000 + round)), "round {round}");
    }
}
