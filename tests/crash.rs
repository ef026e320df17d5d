//! Crash safety: the real server under concurrent creates and uploads is killed with SIGKILL at
//! a random moment, restarted on the same data directory, and checked: every write that was
//! answered 2xx is there byte-exact, `PRAGMA integrity_check` is ok, no temporary file is
//! served as an object, and no row points at a missing blob. Several rounds, each with its own
//! kill point, on one data directory.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[path = "support/server_process.rs"]
mod server_process;

use server_process::{BIN, serve};

const ROUNDS: usize = 5;
const WRITERS: usize = 6;

/// Writes the server answered 2xx to.
#[derive(Default, Clone)]
struct Acknowledged {
    /// `/cdn` URL → SHA-256 of the uploaded bytes.
    objects: HashMap<String, String>,
    /// (user, photo id)
    photos: Vec<(String, String)>,
    /// (user, project id)
    projects: Vec<(String, String)>,
}

/// Kills the server when a check fails, so no process outlives the test.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn token(data: &Path, user: &str, role: &str) -> String {
    let out = std::process::Command::new(BIN)
        .args(["token", "--user", user, "--role", role, "--data-dir"])
        .arg(data)
        .output()
        .expect("optima token runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// One writer: uploads, photos and projects for its own user until the server stops answering.
async fn write_until_killed(base: String, user: String, token: String, seed: u64, acked: Arc<Mutex<Acknowledged>>) {
    let client = reqwest::Client::new();
    let mut rng = optima::splitmix::SplitMix64::new(seed);
    let photo = png();
    for i in 0.. {
        let result = match i % 3 {
            0 => {
                let len = 1 + (rng.next_u64() % (256 * 1024)) as usize;
                let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
                let form = Form::new()
                    .part("file", Part::bytes(bytes.clone()).file_name("blob.bin"))
                    .text("bucket", "media")
                    .text("path", format!("users/{user}/crash/{seed}-{i}.bin"));
                let resp = client.post(format!("{base}/api/storage/upload")).bearer_auth(&token).multipart(form).send().await;
                match resp {
                    Ok(r) if r.status() == 201 => r.json::<Value>().await.map(|body| {
                        let url = body["url"].as_str().unwrap().to_owned();
                        acked.lock().unwrap().objects.insert(url, sha256(&bytes));
                    }),
                    Ok(r) => panic!("upload answered {}", r.status()),
                    Err(e) => Err(e),
                }
            }
            1 => {
                let form = Form::new().part("file", Part::bytes(photo.clone()).file_name("p.png"));
                let resp = client.post(format!("{base}/api/media/photos")).bearer_auth(&token).multipart(form).send().await;
                match resp {
                    Ok(r) if r.status() == 201 => r.json::<Value>().await.map(|body| {
                        let id = body["photoId"].as_str().expect("photoId").to_owned();
                        acked.lock().unwrap().photos.push((user.clone(), id));
                    }),
                    Ok(r) => panic!("photo answered {}: {}", r.status(), r.text().await.unwrap_or_default()),
                    Err(e) => Err(e),
                }
            }
            _ => {
                let body = json!({ "userId": user, "title": format!("Track {i}") });
                let resp = client.post(format!("{base}/api/music/project/create")).bearer_auth(&token).json(&body).send().await;
                match resp {
                    Ok(r) if r.status() == 201 => r.json::<Value>().await.map(|body| {
                        let id = body["projectId"].as_str().expect("projectId").to_owned();
                        acked.lock().unwrap().projects.push((user.clone(), id));
                    }),
                    Ok(r) => panic!("project create answered {}: {}", r.status(), r.text().await.unwrap_or_default()),
                    Err(e) => Err(e),
                }
            }
        };
        if result.is_err() {
            // The server is gone (or the answer was cut off): what was not acknowledged may be lost.
            return;
        }
    }
}

async fn check_after_restart(base: &str, data: &Path, admin: &str, acked: &Acknowledged, round: usize) {
    let client = reqwest::Client::new();
    for (url, expected) in &acked.objects {
        let resp = client.get(url.replace(url.split("/cdn/").next().unwrap(), base)).bearer_auth(admin).send().await.unwrap();
        assert_eq!(resp.status(), 200, "round {round}: acknowledged object {url} is missing");
        assert_eq!(&sha256(&resp.bytes().await.unwrap()), expected, "round {round}: {url} is not byte-exact");
    }
    let mut listed: HashMap<String, Vec<String>> = HashMap::new();
    for (user, id) in &acked.photos {
        if !listed.contains_key(user) {
            let mut ids = Vec::new();
            loop {
                let url = format!("{base}/api/media/photos/{user}?limit=50&offset={}", ids.len());
                let page: Value = client.get(url).bearer_auth(admin).send().await.unwrap().json().await.unwrap();
                ids.extend(page["photos"].as_array().expect("a photo page").iter().map(|p| p["photoId"].as_str().unwrap().to_owned()));
                if page["hasMore"] != true {
                    break;
                }
            }
            listed.insert(user.clone(), ids);
        }
        assert!(listed[user].contains(id), "round {round}: acknowledged photo {id} of {user} is missing");
    }
    for (_, id) in &acked.projects {
        let resp = client.get(format!("{base}/api/music/project/{id}")).bearer_auth(admin).send().await.unwrap();
        assert_eq!(resp.status(), 200, "round {round}: acknowledged project {id} is missing");
    }

    let db = rusqlite::Connection::open_with_flags(data.join("optima.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let integrity: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok", "round {round}");
    let media = data.join("blobs/r3al-user-media");
    let mut rows = db.prepare("SELECT path, thumbnail_path FROM media_photos").unwrap();
    let paths: Vec<(String, String)> = rows.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    for (path, thumb) in &paths {
        assert!(media.join(path).is_file() && media.join(thumb).is_file(), "round {round}: a photo row points at a missing blob: {path}");
    }

    // Temporary files are not objects: none is listed, none can be fetched.
    for entry in std::fs::read_dir(data.join("blobs/.tmp")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        for url in [format!("{base}/cdn/r3al-user-media/.tmp/{name}"), format!("{base}/cdn/.tmp/{name}")] {
            let status = client.get(&url).bearer_auth(admin).send().await.unwrap().status();
            assert!(status.is_client_error(), "round {round}: {url} answered {status}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_minus_nine_loses_no_acknowledged_write() {
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    println!("seed {seed}");
    let mut rng = optima::splitmix::SplitMix64::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let acked = Arc::new(Mutex::new(Acknowledged::default()));

    for round in 0..ROUNDS {
        let (child, base) = serve(&data, dir.path());
        let mut server = Running(child);
        let admin = token(&data, "crash_admin", "admin");
        let client = reqwest::Client::new();
        if round > 0 {
            let snapshot = acked.lock().unwrap().clone();
            check_after_restart(&base, &data, &admin, &snapshot, round).await;
        }
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let user = format!("crash_user_{w}");
                let token = token(&data, &user, "user");
                (user, token)
            })
            .collect();
        for (user, _) in writers.iter().filter(|_| round == 0) {
            let resp = client
                .post(format!("{base}/api/subscription/upgrade"))
                .bearer_auth(&admin)
                .json(&json!({ "userId": user, "newTier": "unlimited" }))
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_success(), "upgrade {user}: {}", resp.status());
        }
        let tasks: Vec<_> = writers
            .into_iter()
            .map(|(user, token)| tokio::spawn(write_until_killed(base.clone(), user, token, rng.next_u64(), acked.clone())))
            .collect();
        let kill_after = Duration::from_millis(150 + rng.next_u64() % 900);
        tokio::time::sleep(kill_after).await;
        server.0.kill().expect("SIGKILL");
        server.0.wait().unwrap();
        for task in tasks {
            task.await.expect("a writer panicked: the server answered something other than success before the kill");
        }
        let a = acked.lock().unwrap().clone();
        println!("round {round}: killed after {kill_after:?}; acknowledged so far: {} objects, {} photos, {} projects", a.objects.len(), a.photos.len(), a.projects.len());
    }
    let (child, base) = serve(&data, dir.path());
    let _server = Running(child);
    let admin = token(&data, "crash_admin", "admin");
    let a = acked.lock().unwrap().clone();
    check_after_restart(&base, &data, &admin, &a, ROUNDS).await;
    assert!(a.objects.len() + a.photos.len() + a.projects.len() > 0, "the load acknowledged writes before the kills");
}
