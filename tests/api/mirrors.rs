//! A project's `metadata.json` mirrors its rows, written by the mirror worker shortly after the
//! change through the outbox (`mirror_outbox`), never inside the request: repeated changes are
//! written once, as the latest state; a blob store that fails leaves the entry pending (with
//! its attempts and error) until it recovers; a server stopped with pending entries writes them
//! after its restart; a purged project's mirror is not written back.
//!
//! A failing store: the project's `metadata.json` replaced by a folder, so the rename that puts
//! the new object in place fails (as root, which the tests may run as, a read-only folder would
//! not refuse anything).

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::helpers::{TestApp, eventually, expect, mirrors_written, ok, user_on};

fn music_mirror(app: &TestApp, user: &str, project: &str) -> PathBuf {
    app.bucket_dir("r3al-studio-music").join(format!("users/{user}/projects/{project}/metadata.json"))
}

fn writing_mirror(app: &TestApp, user: &str, project: &str) -> PathBuf {
    app.bucket_dir("r3al-writers-guild").join(format!("users/{user}/projects/{project}/metadata.json"))
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).expect("JSON")
}

/// Makes writing `mirror` fail: a folder (with a file in it) where the object goes.
fn break_mirror(mirror: &std::path::Path) {
    let _ = std::fs::remove_file(mirror);
    std::fs::create_dir_all(mirror.join("in-the-way")).unwrap();
    std::fs::write(mirror.join("in-the-way/x"), b"x").unwrap();
}

fn mend_mirror(mirror: &std::path::Path) {
    std::fs::remove_dir_all(mirror).unwrap();
}

/// `(version, attempts, last_error, claimed_by)` of the subject's outbox entry, if any.
fn entry(app: &TestApp, kind: &str, subject: &str) -> Option<(i64, i64, Option<String>, Option<String>)> {
    let rows = app.rows(
        "SELECT version, attempts, last_error, claimed_by FROM mirror_outbox WHERE kind = ?1 AND subject_id = ?2",
        &[&kind, &subject],
    );
    rows.first().map(|r| (r.int(0), r.int(1), r.text(2), r.text(3)))
}

/// A server whose failed mirror writes are retried quickly.
async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| {
        c.storage.mirrors.retry_first_ms = 50;
        c.storage.mirrors.retry_max_secs = 1;
        c.storage.mirrors.poll_ms = 50;
    })
    .await
}

async fn music_project(app: &TestApp, token: &str, user: &str, title: &str) -> String {
    let p = expect(app.post_json("/api/music/project/create", Some(token), &json!({"userId": user, "title": title})).await, 201).await;
    p["projectId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_burst_of_changes_to_one_project_is_written_once_as_its_latest_state() {
    let app = spawn().await;
    let token = user_on(&app, "m1", "premium").await;
    let id = music_project(&app, &token, "m1", "Start").await;
    mirrors_written(&app).await;
    let mirror = music_mirror(&app, "m1", &id);
    assert_eq!(read_json(&mirror)["project"]["title"], "Start", "written after the create");

    // While no write can land, twenty changes make one entry that counts them.
    break_mirror(&mirror);
    let path = format!("/api/music/project/{id}");
    for i in 1..=20 {
        ok(app.put_json(&path, Some(&token), &json!({"title": format!("Take {i}"), "bpm": 80 + i})).await).await;
    }
    let rows = app.rows("SELECT subject_id, version FROM mirror_outbox", &[]);
    assert_eq!(rows.len(), 1, "one entry for the project: {rows:?}");
    assert_eq!(rows[0].text(0).as_deref(), Some(id.as_str()));
    assert!(rows[0].int(1) >= 20, "its version counts the changes: {rows:?}");

    mend_mirror(&mirror);
    mirrors_written(&app).await;
    let meta = read_json(&mirror);
    assert_eq!((meta["project"]["title"].as_str(), meta["project"]["bpm"].as_u64()), (Some("Take 20"), Some(100)), "the latest state");

    // Without a fault: concurrent changes end as the row ends.
    let changes = (1..=10).map(|i| {
        let (app, token, path) = (&app, &token, &path);
        async move { ok(app.put_json(path, Some(token), &json!({"mood": format!("mood {i}")})).await).await }
    });
    futures_util::future::join_all(changes).await;
    mirrors_written(&app).await;
    let row = app.row("SELECT mood FROM music_projects WHERE project_id = ?1", &[&id]);
    assert_eq!(read_json(&mirror)["project"]["mood"].as_str(), row.text(0).as_deref(), "the mirror is the row as it ended");

    // A writing project's mirror follows its row the same way.
    let writer = user_on(&app, "w1", "premium").await;
    let body = json!({"userId": "w1", "title": "Draft", "contentType": "novel"});
    let p = expect(app.post_json("/api/writers/project/create", Some(&writer), &body).await, 201).await;
    let wid = p["projectId"].as_str().unwrap().to_owned();
    for i in 1..=5 {
        ok(app.put_json(&format!("/api/writers/project/{wid}"), Some(&writer), &json!({"title": format!("Draft {i}")})).await).await;
    }
    mirrors_written(&app).await;
    assert_eq!(read_json(&writing_mirror(&app, "w1", &wid))["project"]["title"], "Draft 5");
}

#[tokio::test]
async fn a_failing_blob_store_leaves_the_mirror_pending_until_it_recovers() {
    let app = spawn().await;
    let token = user_on(&app, "f1", "premium").await;
    let id = music_project(&app, &token, "f1", "Before").await;
    mirrors_written(&app).await;
    let mirror = music_mirror(&app, "f1", &id);
    break_mirror(&mirror);

    // The request does no blob work: it succeeds while the store fails.
    let changed = ok(app.put_json(&format!("/api/music/project/{id}"), Some(&token), &json!({"title": "After"})).await).await;
    assert_eq!(changed["title"], "After");
    let (_, attempts, error, _) = eventually(10, "failed attempts recorded", || async {
        entry(&app, "music_project", &id).filter(|(_, attempts, _, _)| *attempts >= 2)
    })
    .await;
    assert!(attempts >= 2);
    assert!(error.as_deref().is_some_and(|e| !e.is_empty()), "the error is kept: {error:?}");
    assert!(mirror.is_dir(), "nothing written in the folder's place");

    mend_mirror(&mirror);
    mirrors_written(&app).await;
    assert_eq!(read_json(&mirror)["project"]["title"], "After", "written once the store recovered");
}

#[tokio::test]
async fn a_server_stopped_with_pending_mirrors_writes_them_after_its_restart() {
    let mut app = spawn().await;
    let token = user_on(&app, "r1", "premium").await;
    let id = music_project(&app, &token, "r1", "Before").await;
    mirrors_written(&app).await;
    let mirror = music_mirror(&app, "r1", &id);
    break_mirror(&mirror);
    ok(app.put_json(&format!("/api/music/project/{id}"), Some(&token), &json!({"title": "Pending"})).await).await;
    eventually(10, "a failed attempt", || async { entry(&app, "music_project", &id).filter(|e| e.1 >= 1) }).await;

    app.restart().await;
    assert!(entry(&app, "music_project", &id).is_some(), "still pending after the stop");
    mend_mirror(&mirror);
    mirrors_written(&app).await;
    assert_eq!(read_json(&mirror)["project"]["title"], "Pending", "written by the restarted server");
}

#[tokio::test]
async fn a_purged_project_leaves_no_mirror_behind() {
    let app = spawn().await;
    let token = user_on(&app, "d1", "premium").await;
    for _ in 0..5 {
        let id = music_project(&app, &token, "d1", "Gone").await;
        ok(app.put_json(&format!("/api/music/project/{id}"), Some(&token), &json!({"title": "Going"})).await).await;
        ok(app.delete(&format!("/api/music/project/{id}?purge=true"), Some(&token)).await).await;
        assert_eq!(entry(&app, "music_project", &id), None, "a purge drops the project's entry");
    }
    mirrors_written(&app).await;
    // Give a write that raced the purge time to land, then look.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(crate::helpers::files_under(&app.bucket_dir("r3al-studio-music")), Vec::<String>::new(), "no mirror outlives its project");
}
