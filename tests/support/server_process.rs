//! Runs the `optima` executable as a server process, for tests that need a real process
//! (signals, `kill -9`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_optima");

/// Starts `optima serve` on a free port and returns the child and its base URL. Rate limiting
/// is off: these tests send bursts from one address and one admin token on purpose.
pub fn serve(data_dir: &Path, cwd: &Path) -> (Child, String) {
    serve_with(data_dir, cwd, &[])
}

/// [`serve`], with settings in `env` (`OPTIMA_…` variables).
#[allow(clippy::zombie_processes)] // the caller kills and waits for the child it gets back
pub fn serve_with(data_dir: &Path, cwd: &Path, env: &[(String, String)]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("OPTIMA_LOG__FORMAT", "json")
        .env("OPTIMA_LIMITS__RATE_LIMITING", "false")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("server starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["fields"]["message"] == "server ready" {
            let addr = v["fields"]["addr"].as_str().expect("the log names the bound address").to_owned();
            assert!(!addr.ends_with(":0"), "the real port is logged: {addr}");
            // Keep draining the log so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return (child, format!("http://{addr}"));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not report its address");
}
