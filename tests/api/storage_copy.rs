//! `optima storage copy` between the local store and GCS (the fake-gcs-server emulator), run
//! as the real binary: dry run, copy, skip on re-run, one bucket, interrupt and resume, reverse.

use std::path::Path;
use std::process::{Command, Stdio};

use optima::blobs::{BlobPath, BlobStore, Bucket, LocalStore};

use crate::fake_gcs::{FakeGcs, credentials_file};
use crate::helpers::optima_cli;

fn optima(dir: &Path, endpoint: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(crate::helpers::BIN);
    cmd.current_dir(dir)
        .args(args)
        .env("OPTIMA_STORAGE__GCS__ENDPOINT", endpoint)
        .env("OPTIMA_STORAGE__GCS__CREDENTIALS_FILE", credentials_file())
        .env("OPTIMA_LOG__LEVEL", "warn");
    cmd
}

fn run(dir: &Path, endpoint: &str, args: &[&str]) -> (bool, String, String) {
    let credentials = credentials_file();
    optima_cli(dir, args, &[("OPTIMA_STORAGE__GCS__ENDPOINT", endpoint), ("OPTIMA_STORAGE__GCS__CREDENTIALS_FILE", &credentials)])
}

pub fn p(s: &str) -> BlobPath {
    BlobPath::parse(s).unwrap()
}

/// Six objects over three buckets, one of 3 MiB and one with a unicode name.
pub fn fixtures() -> Vec<(Bucket, &'static str, Vec<u8>)> {
    vec![
        (Bucket::Media, "users/u1/avatar.png", b"not really a png".to_vec()),
        (Bucket::Media, "users/u1/Ünïcødé photos/día 1.jpg", vec![7u8; 10_000]),
        (Bucket::Media, "users/u2/big.bin", (0..3 * 1024 * 1024u32).map(|i| (i * 31 % 251) as u8).collect()),
        (Bucket::Music, "users/u1/song.mp3", vec![1u8; 4096]),
        (Bucket::Music, "users/u1/stems/drums.wav", vec![2u8; 8192]),
        (Bucket::Writing, "users/u1/book.txt", b"Chapter one".to_vec()),
    ]
}

pub async fn seed_local(blobs: &Path, objects: &[(Bucket, &str, Vec<u8>)]) {
    let store: Box<dyn BlobStore> = Box::new(LocalStore::new(blobs));
    store.ensure_buckets().await.unwrap();
    for (bucket, path, bytes) in objects {
        store.put_bytes(*bucket, &p(path), bytes.clone()).await.unwrap();
    }
}

#[tokio::test]
async fn copies_local_to_gcs_skips_on_rerun_and_copies_back() {
    let gcs = FakeGcs::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let objects = fixtures();
    seed_local(&data.join("blobs"), &objects).await;
    let data_arg = data.to_str().unwrap();
    let endpoint = gcs.endpoint();

    let (ok, out, _) = run(dir.path(), &endpoint, &["storage", "copy", "--from", "local", "--to", "gcs", "--dry-run", "--data-dir", data_arg]);
    assert!(ok, "{out}");
    assert!(out.contains("would copy 6 objects"), "{out}");
    assert!(gcs.names("r3al-user-media").await.is_empty(), "a dry run writes nothing");

    let (ok, out, err) = run(dir.path(), &endpoint, &["storage", "copy", "--from", "local", "--to", "gcs", "--data-dir", data_arg]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("copied 6 objects (3.0 MiB)"), "{out}");
    assert!(out.contains("verified 6 of 6 objects in gcs"), "{out}");
    assert!(err.contains("6/6 objects"), "progress is shown: {err}");
    for (bucket, path, bytes) in &objects {
        assert_eq!(gcs.object(bucket.name(), path).await.as_ref(), Some(bytes), "{bucket}/{path}");
    }

    let (ok, out, _) = run(dir.path(), &endpoint, &["storage", "copy", "--from", "local", "--to", "gcs", "--data-dir", data_arg]);
    assert!(ok, "{out}");
    assert!(out.contains("copied 0 objects") && out.contains("6 already in gcs"), "{out}");

    // A changed object of the same size is copied again; --bucket limits the run.
    seed_local(&data.join("blobs"), &[(Bucket::Media, "users/u1/Ünïcødé photos/día 1.jpg", vec![8u8; 10_000])]).await;
    let (ok, out, _) = run(dir.path(), &endpoint, &["storage", "copy", "--from", "local", "--to", "gcs", "--bucket", "media", "--data-dir", data_arg]);
    assert!(ok, "{out}");
    assert!(out.contains("copied 1 objects") && out.contains("2 already in gcs") && out.contains("verified 3 of 3"), "{out}");
    assert_eq!(gcs.object("r3al-user-media", "users/u1/Ünïcødé photos/día 1.jpg").await, Some(vec![8u8; 10_000]));

    // And back into an empty data directory.
    let restored = dir.path().join("restored");
    let (ok, out, err) =
        run(dir.path(), &endpoint, &["storage", "copy", "--from", "gcs", "--to", "local", "--data-dir", restored.to_str().unwrap()]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("verified 6 of 6 objects in local"), "{out}");
    let back: Box<dyn BlobStore> = Box::new(LocalStore::new(restored.join("blobs")));
    for (bucket, path, bytes) in fixtures() {
        let expected = if path.contains("día") { vec![8u8; 10_000] } else { bytes };
        assert_eq!(back.get_bytes(bucket, &p(path)).await.unwrap(), expected, "{bucket}/{path}");
    }
}

#[tokio::test]
async fn an_interrupted_copy_resumes_where_it_stopped() {
    let gcs = FakeGcs::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let many: Vec<(Bucket, String, Vec<u8>)> =
        (0..400).map(|i| (Bucket::Media, format!("users/u/{i:03}.bin"), vec![(i % 251) as u8; 64 * 1024])).collect();
    let store: Box<dyn BlobStore> = Box::new(LocalStore::new(data.join("blobs")));
    for (bucket, path, bytes) in &many {
        store.put_bytes(*bucket, &p(path), bytes.clone()).await.unwrap();
    }
    let data_arg = data.to_str().unwrap();

    let mut child = optima(dir.path(), &gcs.endpoint(), &["storage", "copy", "--from", "local", "--to", "gcs", "--data-dir", data_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first progress line comes once the signal handler is in place.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut first).unwrap();
    assert!(first.starts_with("0/400 objects"), "{first}");
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "an interrupted copy is not a success: {stdout}");
    let copied: usize = stdout.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("`copied N objects`");
    assert!(copied < 400, "stopped early: {stdout}");
    let in_gcs = gcs.names("r3al-user-media").await;
    assert_eq!(in_gcs.len(), copied, "only whole objects, as many as reported");

    let (ok, out, _) = run(dir.path(), &gcs.endpoint(), &["storage", "copy", "--from", "local", "--to", "gcs", "--data-dir", data_arg]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("copied {} objects", 400 - copied)) && out.contains(&format!("{copied} already in gcs")), "{out}");
    assert!(out.contains("verified 400 of 400"), "{out}");
}

#[tokio::test]
async fn bad_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let (ok, _, err) = run(dir.path(), "http://127.0.0.1:9", &["storage", "copy", "--from", "local", "--to", "local", "--data-dir", data_arg]);
    assert!(!ok && err.contains("same backend"), "{err}");
    let (ok, _, err) =
        run(dir.path(), "http://127.0.0.1:9", &["storage", "copy", "--from", "local", "--to", "gcs", "--bucket", "video", "--data-dir", data_arg]);
    assert!(!ok && err.contains("unknown bucket `video`"), "{err}");
    let (ok, _, err) = run(dir.path(), "http://127.0.0.1:9", &["storage", "copy", "--from", "local", "--to", "gcs", "--data-dir", data_arg]);
    assert!(!ok && err.contains("unreachable"), "GCS down is named: {err}");
}
