//! The npm packages of `tests/trpc-client/` (the real `@trpc/client`, `@trpc/server` and
//! `superjson`), installed from the lock file on first use.

use std::path::PathBuf;
use std::process::Command;

pub fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("trpc-client")
}

/// Installs the locked npm packages (`npm ci`) when one of them is missing. Tests run in
/// parallel (threads under `cargo test`, processes under nextest), and `npm ci` empties
/// `node_modules` before it fills it: one file lock, held while checking and installing, keeps a
/// test from reading a half-installed tree or starting a second install.
pub fn ensure_node_modules() {
    let dir = client_dir();
    let lock = std::fs::File::create(dir.join("node_modules.lock")).expect("the npm lock file is created");
    lock.lock().expect("the npm lock is taken");
    let modules = dir.join("node_modules");
    let installed = ["@trpc/client", "@trpc/server", "superjson", "eventsource"].iter().all(|package| modules.join(package).join("package.json").is_file());
    if installed {
        return;
    }
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .expect("npm runs (Node 20 and npm must be installed)");
    assert!(
        output.status.success(),
        "npm ci failed in {}:\n--- stdout\n{}\n--- stderr\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

/// Runs `script` (a check script of `tests/trpc-client/`) with `args`, within `limit`, and
/// asserts that every `await check(` it holds ran and passed (its last line is `N passed, 0
/// failed`); returns what it printed.
pub async fn run_checks(script: &str, args: &[&str], limit: std::time::Duration) -> String {
    let mut node = tokio::process::Command::new("node");
    node.arg(client_dir().join(script)).args(args).current_dir(client_dir()).kill_on_drop(true);
    let output = tokio::time::timeout(limit, node.output())
        .await
        .unwrap_or_else(|_| panic!("{script} finishes within {limit:?}"))
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}", output.status);
    let source = std::fs::read_to_string(client_dir().join(script)).expect("the script");
    let written = source.lines().filter(|l| l.trim_start().starts_with("await check(")).count();
    assert_eq!(stdout.lines().last().unwrap_or_default(), format!("{written} passed, 0 failed"), "{script} has {written} checks:\n{stdout}\n{stderr}");
    stdout
}
