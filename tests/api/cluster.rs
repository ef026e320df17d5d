//! Three `optima serve` processes on one PostgreSQL database and one GCS (the emulator), as a
//! Cloud Run service runs them: whatever one instance is told, the others answer the same.

use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use optima::auth::Role;
use optima::config::{Config, DatabaseConfig};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::fake_gcs::{FakeGcs, credentials_file};
use crate::helpers::CLUSTER_SECRETS;
use crate::server_process::serve_with;

/// An instance; killed (SIGKILL) when dropped, so no process outlives a failed check.
struct Instance {
    child: Child,
    base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The settings every instance shares: the database, GCS and the cluster's secrets.
fn shared_settings(database: &DatabaseConfig, gcs: &FakeGcs) -> Vec<(String, String)> {
    let [jwt, signing, master] = CLUSTER_SECRETS;
    [
        ("OPTIMA_DATABASE__URL", database.url.expose()),
        ("OPTIMA_DATABASE__TLS", "disable"),
        ("OPTIMA_AUTH__JWT_SECRET", jwt),
        ("OPTIMA_STORAGE__URL_SIGNING_KEY", signing),
        ("OPTIMA_TACTICAL__MASTER_KEY", master),
        ("OPTIMA_STORAGE__BACKEND", "gcs"),
        ("OPTIMA_STORAGE__GCS__ENDPOINT", &gcs.endpoint()),
        ("OPTIMA_STORAGE__GCS__CREDENTIALS_FILE", &credentials_file()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn start(root: &Path, name: &str, settings: &[(String, String)]) -> Instance {
    let data = root.join(name);
    std::fs::create_dir_all(&data).unwrap();
    let (child, base) = serve_with(&data, root, settings);
    Instance { child, base }
}

/// A token any instance accepts: signed with the cluster's shared secret.
fn token(user: &str, role: Role) -> String {
    let mut config = Config::default();
    config.auth.jwt_secret = CLUSTER_SECRETS[0].into();
    optima::app::token_service(&config).unwrap().mint(user, role, 3600).unwrap().0
}

async fn post(client: &reqwest::Client, base: &str, path: &str, token: &str, body: Value) -> reqwest::Response {
    client.post(format!("{base}{path}")).bearer_auth(token).json(&body).send().await.expect("request")
}

async fn get(client: &reqwest::Client, base: &str, path: &str, token: &str) -> reqwest::Response {
    client.get(format!("{base}{path}")).bearer_auth(token).send().await.expect("request")
}

async fn json_of(resp: reqwest::Response, status: u16) -> Value {
    let got = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_on_one_postgres_and_gcs_answer_as_one_server() {
    let Some(database) = crate::postgres::database("three_instances_on_one_postgres_and_gcs_answer_as_one_server").await else {
        return;
    };
    let gcs = FakeGcs::start().await;
    let root = tempfile::tempdir().unwrap();
    let settings = shared_settings(&database, &gcs);
    // Started together: the migrations are applied once, under the lock.
    let starts: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|name| {
            let (root, settings) = (root.path().to_owned(), settings.clone());
            std::thread::spawn(move || start(&root, name, &settings))
        })
        .collect();
    let mut instances: Vec<Instance> = starts.into_iter().map(|t| t.join().expect("an instance starts")).collect();
    let bases: Vec<String> = instances.iter().map(|i| i.base.clone()).collect();
    let client = reqwest::Client::new();
    let admin = token("ops", Role::Admin);

    // A project created through one instance is read through the others.
    let artist = token("artist", Role::User);
    json_of(post(&client, &bases[0], "/api/subscription/upgrade", &admin, json!({"userId": "artist", "newTier": "unlimited"})).await, 200).await;
    let project = json_of(post(&client, &bases[0], "/api/music/project/create", &artist, json!({"userId": "artist", "title": "Across"})).await, 201).await;
    let id = project["projectId"].as_str().unwrap();
    for base in &bases[1..] {
        let read = json_of(get(&client, base, &format!("/api/music/project/{id}"), &artist).await, 200).await;
        assert_eq!(read["title"], "Across");
    }

    // An upload through one instance downloads byte-exact through another.
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(bytes.clone()).file_name("take.wav"))
        .text("bucket", "r3al-user-media")
        .text("path", "users/artist/take.wav");
    let stored = client.post(format!("{}/api/storage/upload", bases[1])).bearer_auth(&artist).multipart(form).send().await.unwrap();
    let stored = json_of(stored, 201).await;
    let path = stored["url"].as_str().unwrap().strip_prefix(bases[1].as_str()).expect("a URL of the instance").to_owned();
    for base in [&bases[0], &bases[2]] {
        let resp = get(&client, base, &path, &artist).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes.as_slice(), "byte-exact through {base}");
    }

    // A quota race spread over the three admits exactly the limit (free: 3 chats a day).
    let racer = token("racer", Role::User);
    let races: Vec<_> = (0..30)
        .map(|i| {
            let (client, base, racer) = (client.clone(), bases[i % 3].clone(), racer.clone());
            tokio::spawn(async move {
                post(&client, &base, "/api/subscription/track-usage", &racer, json!({"userId": "racer", "feature": "ai_chat", "amount": 1}))
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for race in races {
        statuses.push(race.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 27, "{statuses:?}");

    // Secure comms sent at once through all three, then the audit chain verifies on each.
    let mut members = Vec::new();
    for (i, user) in ["s1", "s2", "s3"].into_iter().enumerate() {
        let base = &bases[i];
        json_of(post(&client, base, "/api/subscription/upgrade", &admin, json!({"userId": user, "newTier": "unlimited"})).await, 200).await;
        let t = token(user, Role::User);
        let registration = json!({"userId": user, "serviceBranch": "police", "department": "Metro PD", "rank": "Officer"});
        json_of(post(&client, base, "/api/tactical/register", &t, registration).await, 201).await;
        let verified = client
            .put(format!("{base}/api/tactical/verify/{user}"))
            .bearer_auth(&admin)
            .json(&json!({"status": "verified", "clearanceLevel": "secret"}))
            .send()
            .await
            .unwrap();
        json_of(verified, 200).await;
        members.push((user, t));
    }
    let sends: Vec<_> = (0..24)
        .map(|i| {
            let (client, base) = (client.clone(), bases[i % 3].clone());
            let ((from, t), (to, _)) = (members[i % 3].clone(), members[(i + 1) % 3].clone());
            tokio::spawn(async move {
                let body = json!({"fromUserId": from, "toUserId": to, "content": format!("sealed {i}"), "classification": "secret"});
                post(&client, &base, "/api/tactical/comm/secure", &t, body).await.status().as_u16()
            })
        })
        .collect();
    for send in sends {
        assert_eq!(send.await.unwrap(), 201);
    }
    let mut entries = None;
    for base in &bases {
        let check = json_of(get(&client, base, "/api/tactical/audit/verify", &admin).await, 200).await;
        assert_eq!(check["intact"], true, "through {base}: {check}");
        assert_eq!(*entries.get_or_insert(check["entries"].clone()), check["entries"], "every instance sees one chain");
    }

    // kill -9 one instance in the middle of a write burst: every create it (or any other)
    // acknowledged is readable through the survivors.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..6)
        .map(|i| {
            let (client, base, artist) = (client.clone(), bases[i % 3].clone(), artist.clone());
            let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let body = json!({"userId": "artist", "title": format!("burst {i}-{n}")});
                    let sent = client.post(format!("{base}/api/music/project/create")).bearer_auth(&artist).json(&body).send().await;
                    match sent {
                        Ok(resp) if resp.status() == 201 => {
                            let v: Value = resp.json().await.unwrap();
                            acknowledged.lock().await.push(v["projectId"].as_str().unwrap().to_owned());
                        }
                        // The killed instance's connections fail; the others keep answering.
                        Ok(resp) => assert!(resp.status().is_server_error() || resp.status() == 429, "{}", resp.status()),
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let victim = instances.remove(0);
    let victim_pid = victim.child.id();
    std::process::Command::new("kill").args(["-KILL", &victim_pid.to_string()]).status().unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    drop(victim);
    let acknowledged = acknowledged.lock().await.clone();
    assert!(acknowledged.len() > 10, "the burst wrote: {}", acknowledged.len());
    for (n, id) in acknowledged.iter().enumerate() {
        let base = &bases[1 + n % 2];
        json_of(get(&client, base, &format!("/api/music/project/{id}"), &artist).await, 200).await;
    }
    drop(instances);
}
