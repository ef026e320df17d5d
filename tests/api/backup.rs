//! `optima backup` and `optima restore` against a live server, and scheduled backups with
//! retention, through the real executable and the real server.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use optima::auth::Role;
use optima::blobs::{BlobStore, LocalStore};
use serde_json::{Value, json};

use crate::fake_gcs::{FakeGcs, credentials_file};
use crate::helpers::{Backend, TestApp, eventually, metric, optima_cli, register};
use crate::storage_copy::{fixtures, p, seed_local};

fn blob(i: usize) -> Vec<u8> {
    // Sizes from a few bytes to past the copy loop's 64 KiB reads.
    (0..(i * 37_501) % 300_000 + 7).map(|n| (n * 31 + i) as u8).collect()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn login_status(app: &TestApp, username: &str) -> u16 {
    let creds = json!({"username": username, "password": "password-123"});
    app.post_json("/api/auth/login", None, &creds).await.status().as_u16()
}

async fn cdn_bytes(app: &TestApp, token: &str, path: &str) -> (u16, Vec<u8>) {
    let resp = app.client.get(app.url(&format!("/cdn/r3al-user-media/{path}"))).bearer_auth(token).send().await.unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

/// Runs `optima args…` off the async runtime, so that the server in this process keeps serving.
async fn cli(cwd: &Path, args: Vec<String>, env: Vec<(String, String)>) -> (bool, String, String) {
    let cwd = cwd.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        optima_cli(&cwd, &args, &env)
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

/// Backups copy the embedded SQLite file with the blobs and keys beside it. On PostgreSQL the
/// database's own backups apply, so `optima backup`, `optima restore` and `backup.schedule` are
/// refused, each saying what to use instead: that refusal is these scenarios' outcome there.
/// True (the scenario is done) on PostgreSQL.
async fn refused_on_postgres() -> bool {
    if crate::BACKEND == Backend::Sqlite {
        return false;
    }
    let app = TestApp::spawn().await;
    let (cwd, data) = (app.dir.path(), app.data_dir());
    let out = cwd.join("backup");
    let (ok, _, err) = cli(cwd, args(&["backup", "--data-dir", s(&data), "--out", s(&out)]), app.cli_env()).await;
    assert!(!ok && err.contains("PostgreSQL") && !out.exists(), "{err}");
    let (ok, _, err) = cli(cwd, args(&["restore", "--data-dir", s(&data), "--from", s(&out)]), app.cli_env()).await;
    assert!(!ok && err.contains("PostgreSQL"), "{err}");
    let mut env = app.cli_env();
    env.push(("OPTIMA_BACKUP__SCHEDULE".into(), "0 3 * * *".into()));
    env.push(("OPTIMA_BACKUP__DIR".into(), s(&out).into()));
    let (ok, _, err) = cli(cwd, args(&["migrate", "--data-dir", s(&data)]), env).await;
    assert!(!ok && err.contains("backup.schedule") && err.contains("pg_dump"), "{err}");
    true
}

#[tokio::test]
async fn a_backup_of_a_live_server_restores_every_acknowledged_row_and_blob() {
    if refused_on_postgres().await {
        return;
    }
    let app = Arc::new(TestApp::spawn().await);
    let work = tempfile::tempdir().unwrap();
    let uploader = app.token("u1", Role::User);
    for i in 0..12 {
        register(&app, &format!("before{i}")).await;
        let resp = app.upload(&uploader, "media", &format!("users/u1/before/{i}.bin"), blob(i)).await;
        assert_eq!(resp.status(), 201);
    }

    // Writes go on all through the backup.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (app, stop, written, token) = (app.clone(), stop.clone(), written.clone(), uploader.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                register(&app, &format!("during{n}")).await;
                assert_eq!(app.upload(&token, "media", &format!("users/u1/during/{n}.bin"), blob(n + 100)).await.status(), 201);
                n += 1;
                written.store(n, Ordering::SeqCst);
            }
        })
    };
    eventually(10, "the writer has started", || async { (written.load(Ordering::SeqCst) > 0).then_some(()) }).await;
    let out = work.path().join("backups/first");
    let (ok, stdout, stderr) = cli(work.path(), args(&["backup", "--out", s(&out), "--data-dir", s(&app.data_dir())]), vec![]).await;
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains(&format!("backup written to {}", out.display())), "{stdout}");

    // A backup holds the keys: private folder, private files, no half-done sibling left.
    assert_eq!(mode(&out), 0o700);
    for file in ["manifest.json", "optima.db", "keys/jwt.key", "keys/url-signing.key", "blobs/r3al-user-media/users/u1/before/3.bin"] {
        assert_eq!(mode(&out.join(file)), 0o600, "{file}");
    }
    let siblings: Vec<_> = std::fs::read_dir(out.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(siblings, vec![std::ffi::OsString::from("first")]);
    let manifest: Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "optima-backup");
    assert_eq!(manifest["trigger"], "command");
    assert!(manifest["blob_count"].as_u64().unwrap() >= 12, "{manifest}");

    let restored = work.path().join("elsewhere/data");
    let (ok, stdout, stderr) = cli(work.path(), args(&["restore", "--from", s(&out), "--data-dir", s(&restored)]), vec![]).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("all verified against the manifest"), "{stdout}");

    let back = TestApp::spawn_with(|c| c.data_dir = restored.clone()).await;
    for i in 0..12 {
        assert_eq!(login_status(&back, &format!("before{i}")).await, 200, "before{i}");
        // The token from the first server still opens the door: the keys came back too.
        let (status, bytes) = cdn_bytes(&back, &uploader, &format!("users/u1/before/{i}.bin")).await;
        assert_eq!(status, 200, "before/{i}.bin");
        assert!(bytes == blob(i), "before/{i}.bin is byte-exact");
    }
    // Writes during the backup are in it or not; whatever is in it is whole.
    let during = written.load(Ordering::SeqCst);
    for n in 0..during {
        if login_status(&back, &format!("during{n}")).await == 200 {
            let (status, bytes) = cdn_bytes(&back, &uploader, &format!("users/u1/during/{}.bin", n.saturating_sub(1))).await;
            if n > 0 {
                assert_eq!((status, bytes == blob(n - 1 + 100)), (200, true), "the upload acknowledged before user during{n} was registered");
            }
        }
    }
}

#[tokio::test]
async fn restore_refuses_a_used_data_dir_and_a_damaged_backup() {
    if refused_on_postgres().await {
        return;
    }
    let app = TestApp::spawn().await;
    let work = tempfile::tempdir().unwrap();
    let token = app.token("u1", Role::User);
    assert_eq!(app.upload(&token, "media", "users/u1/a.bin", blob(1)).await.status(), 201);
    register(&app, "someone").await;
    let out = work.path().join("b");
    let data = app.data_dir();
    let (ok, stdout, stderr) = cli(work.path(), args(&["backup", "--out", s(&out), "--data-dir", s(&data)]), vec![]).await;
    assert!(ok, "{stdout}{stderr}");
    let (ok, _, stderr) = cli(work.path(), args(&["backup", "--out", s(&out), "--data-dir", s(&data)]), vec![]).await;
    assert!(!ok && stderr.contains("already exists"), "an existing folder is never written into: {stderr}");

    // Into the live data directory: refused, nothing touched.
    let before = crate::helpers::files_under(&data);
    let (ok, _, stderr) = cli(work.path(), args(&["restore", "--from", s(&out), "--data-dir", s(&data)]), vec![]).await;
    assert!(!ok && stderr.contains("is not empty"), "{stderr}");
    assert_eq!(crate::helpers::files_under(&data), before);

    let restore_into = |from: PathBuf, to: PathBuf| {
        let cwd = work.path().to_path_buf();
        async move {
            let result = cli(&cwd, args(&["restore", "--from", s(&from), "--data-dir", s(&to)]), vec![]).await;
            let leftovers: Vec<_> = std::fs::read_dir(to.parent().unwrap()).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
            (result, to.exists(), leftovers)
        }
    };
    // Not a backup at all.
    let ((ok, _, stderr), exists, _) = restore_into(work.path().to_path_buf(), work.path().join("r0/data")).await;
    assert!(!ok && stderr.contains("not a whole backup") && !exists, "{stderr}");

    // One blob changed after the backup: found, and nothing is left behind.
    let damaged = work.path().join("damaged");
    copy_tree(&out, &damaged);
    let victim = damaged.join("blobs/r3al-user-media/users/u1/a.bin");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&victim, bytes).unwrap();
    let ((ok, _, stderr), exists, leftovers) = restore_into(damaged.clone(), work.path().join("r1/data")).await;
    assert!(!ok && stderr.contains("do not match the manifest"), "{stderr}");
    assert!(!exists && leftovers.is_empty(), "a failed restore leaves nothing: {leftovers:?}");

    // The database changed after the backup.
    std::fs::write(&victim, blob(1)).unwrap();
    let db = damaged.join("optima.db");
    let mut bytes = std::fs::read(&db).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&db, bytes).unwrap();
    let ((ok, _, stderr), exists, _) = restore_into(damaged, work.path().join("r2/data")).await;
    assert!(!ok && stderr.contains("optima.db: does not match the manifest") && !exists, "{stderr}");

    // The untouched backup restores into an empty folder that already exists.
    std::fs::create_dir_all(work.path().join("r3/data")).unwrap();
    let ((ok, stdout, stderr), exists, _) = restore_into(out, work.path().join("r3/data")).await;
    assert!(ok && exists, "{stdout}{stderr}");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The backup folders in `dir` that the schedule wrote (by their manifest).
fn scheduled_in(dir: &Path) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return BTreeSet::new() };
    entries
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("manifest.json"))
                .ok()
                .and_then(|m| serde_json::from_slice::<Value>(&m).ok())
                .is_some_and(|m| m["trigger"] == "schedule")
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn scheduled_backups_keep_the_newest_and_leave_other_folders_alone() {
    if refused_on_postgres().await {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("backups");
    std::fs::create_dir_all(dir.join("notes")).unwrap();
    std::fs::write(dir.join("notes/readme.txt"), "mine").unwrap();
    let mut app = TestApp::spawn_with(|c| {
        c.backup.schedule = "* * * * * *".into();
        c.backup.dir = dir.clone();
        c.backup.keep = 2;
    })
    .await;
    let token = app.token("u1", Role::User);
    assert_eq!(app.upload(&token, "media", "users/u1/kept.bin", blob(5)).await.status(), 201);
    // An on-demand backup in the same folder, named like the schedule's: not the schedule's to delete.
    let manual = dir.join("optima-00000000T000000.000Z");
    let (ok, stdout, stderr) = cli(work.path(), args(&["backup", "--out", s(&manual), "--data-dir", s(&app.data_dir())]), vec![]).await;
    assert!(ok, "{stdout}{stderr}");

    let mut seen = BTreeSet::new();
    let newest = eventually(60, "four scheduled backups, two kept", || {
        let now = scheduled_in(&dir);
        seen.extend(now.iter().cloned());
        let done = seen.len() >= 4 && now.len() == 2;
        async move { done.then_some(now) }
    })
    .await;
    assert!(manual.join("manifest.json").is_file(), "the on-demand backup stays");
    assert_eq!(std::fs::read_to_string(dir.join("notes/readme.txt")).unwrap(), "mine");
    assert!(metric(&app, "optima_backups_total", &[r#"outcome="ok""#]).await.unwrap_or(0.0) >= 4.0);
    let last = newest.iter().next_back().unwrap();
    let kept = LocalStore::new(dir.join(last).join("blobs"));
    assert_eq!((&kept as &dyn BlobStore).get_bytes(optima::blobs::Bucket::Media, &p("users/u1/kept.bin")).await.unwrap(), blob(5));

    // Shutdown ends the schedule, a backup in progress included: nothing half-done remains.
    app.server.take().unwrap().shutdown().await.unwrap();
    let partial: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with('.')).collect();
    assert!(partial.is_empty(), "{partial:?}");
}

#[tokio::test]
async fn a_failing_scheduled_backup_is_counted_and_the_server_keeps_serving() {
    if refused_on_postgres().await {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    // A file where the backup folder should be: every backup fails.
    let not_a_dir = work.path().join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let failed = [r#"outcome="failed""#];
    let mut app = TestApp::spawn_with(|c| {
        c.backup.schedule = "* * * * * *".into();
        c.backup.dir = not_a_dir.clone();
    })
    .await;
    let at_start = metric(&app, "optima_backups_total", &failed).await.unwrap_or(0.0);
    eventually(30, "two failed backups counted", || {
        let app = &app;
        async move { (metric(app, "optima_backups_total", &failed).await.unwrap_or(0.0) >= at_start + 2.0).then_some(()) }
    })
    .await;
    assert_eq!(app.get("/health", None).await.status(), 200);
    register(&app, "still-here").await;
    app.server.take().unwrap().shutdown().await.unwrap();
}

fn gcs_env(gcs: &FakeGcs, backend: &str) -> Vec<(String, String)> {
    vec![
        ("OPTIMA_STORAGE__BACKEND".into(), backend.into()),
        ("OPTIMA_STORAGE__GCS__ENDPOINT".into(), gcs.endpoint()),
        ("OPTIMA_STORAGE__GCS__CREDENTIALS_FILE".into(), credentials_file()),
    ]
}

#[tokio::test]
async fn a_gcs_backed_server_is_backed_up_and_restored_with_its_objects() {
    if refused_on_postgres().await {
        return;
    }
    let gcs = FakeGcs::start().await;
    let work = tempfile::tempdir().unwrap();
    let (data, seed) = (work.path().join("data"), work.path().join("seed"));
    // Objects reach GCS the way a server would put them there.
    seed_local(&seed.join("blobs"), &fixtures()).await;
    let (ok, out, err) = cli(work.path(), args(&["storage", "copy", "--from", "local", "--to", "gcs", "--data-dir", s(&seed)]), gcs_env(&gcs, "local")).await;
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(work.path(), args(&["migrate", "--data-dir", s(&data)]), vec![]).await;
    assert!(ok, "{out}{err}");

    let backup = work.path().join("backup");
    let (ok, out, err) = cli(work.path(), args(&["backup", "--out", s(&backup), "--data-dir", s(&data)]), gcs_env(&gcs, "gcs")).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("6 blobs (3.0 MiB)"), "{out}");
    let store = LocalStore::new(backup.join("blobs"));
    for (bucket, path, bytes) in fixtures() {
        assert_eq!((&store as &dyn BlobStore).get_bytes(bucket, &p(path)).await.unwrap(), bytes, "{bucket}/{path}");
    }

    // Back onto GCS only into empty buckets; onto a local store anywhere empty.
    let (ok, _, err) = cli(work.path(), args(&["restore", "--from", s(&backup), "--data-dir", s(&work.path().join("r1"))]), gcs_env(&gcs, "gcs")).await;
    assert!(!ok && err.contains("is not empty"), "{err}");
    let local = work.path().join("r2");
    let (ok, out, err) = cli(work.path(), args(&["restore", "--from", s(&backup), "--data-dir", s(&local)]), gcs_env(&gcs, "local")).await;
    assert!(ok, "{out}{err}");
    let store = LocalStore::new(local.join("blobs"));
    for (bucket, path, bytes) in fixtures() {
        assert_eq!((&store as &dyn BlobStore).get_bytes(bucket, &p(path)).await.unwrap(), bytes, "{bucket}/{path}");
    }
}

#[tokio::test]
async fn scheduled_backups_go_to_a_gcs_bucket_with_retention() {
    if refused_on_postgres().await {
        return;
    }
    let gcs = FakeGcs::start().await;
    gcs.create_bucket("optima-backups").await;
    let mut app = TestApp::spawn_with(|c| {
        c.storage.gcs.endpoint = gcs.endpoint();
        c.storage.gcs.credentials_file = credentials_file();
        c.backup.schedule = "* * * * * *".into();
        c.backup.gcs_bucket = "optima-backups/nightly".into();
        c.backup.keep = 1;
    })
    .await;
    let token = app.token("u1", Role::User);
    assert_eq!(app.upload(&token, "media", "users/u1/x.bin", blob(9)).await.status(), 201);
    let manifests = |names: Vec<String>| -> Vec<String> {
        names.into_iter().filter_map(|n| n.strip_suffix("/manifest.json").map(str::to_owned)).collect()
    };
    let seen = std::sync::Mutex::new(BTreeSet::new());
    let kept = eventually(60, "three backups in GCS, one kept", || {
        let (gcs, seen) = (&gcs, &seen);
        async move {
            let now = manifests(gcs.names("optima-backups").await);
            let seen = {
                let mut seen = seen.lock().unwrap();
                seen.extend(now.iter().cloned());
                seen.len()
            };
            // The upload above must be in the one kept.
            let has_upload = match now.as_slice() {
                [one] => gcs.object("optima-backups", &format!("{one}/blobs/r3al-user-media/users/u1/x.bin")).await == Some(blob(9)),
                _ => false,
            };
            (seen >= 3 && has_upload).then(|| now[0].clone())
        }
    })
    .await;
    assert!(kept.starts_with("nightly/optima-"), "{kept}");
    for file in ["optima.db", "keys/jwt.key"] {
        assert!(gcs.object("optima-backups", &format!("{kept}/{file}")).await.is_some(), "{file}");
    }
    app.server.take().unwrap().shutdown().await.unwrap();
}
