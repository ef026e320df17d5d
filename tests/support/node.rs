//! The npm packages of `tests/trpc-client/` (the real `@trpc/client`, `@trpc/server` and
//! `superjson`), installed from the lock file on first use.

use std::path::PathBuf;
use std::process::Command;

pub fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("trpc-client")
}

/// Installs the locked npm packages (`npm ci`) when one of them is missing.
pub fn ensure_node_modules() {
    let dir = client_dir();
    let modules = dir.join("node_modules");
    let installed = ["@trpc/client", "@trpc/server", "superjson", "eventsource"].iter().all(|package| modules.join(package).is_dir());
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
