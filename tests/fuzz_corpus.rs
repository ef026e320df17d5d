//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) and the crashers kept as regressions
//! (`fuzz/regressions/<target>/`) through the same checks the fuzz targets run, so that
//! plain `cargo test` guards what `scripts/fuzz.sh` found.

use std::fs;
use std::path::Path;

/// Runs `check` on every file of the target's corpus and regressions; returns how many
/// corpus files there were.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut corpus_files = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = fs::read_dir(fuzz.join(dir).join(target)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if !path.is_file() {
                continue;
            }
            let data = fs::read(&path).unwrap();
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                panic!("{target}: {} fails (see the panic above)", path.display());
            }
            if dir == "corpus" {
                corpus_files += 1;
            }
        }
    }
    corpus_files
}

fn replay_nonempty(target: &str, check: fn(&[u8])) {
    let n = replay(target, check);
    assert!(n >= 5, "fuzz/corpus/{target}/ has only {n} files: the replay would prove nothing");
}

#[test]
fn blob_path() {
    replay_nonempty("blob_path", optima::fuzzing::blob_path);
}

#[test]
fn signed_url() {
    replay_nonempty("signed_url", optima::fuzzing::signed_url);
}

#[test]
fn trpc_envelope() {
    replay_nonempty("trpc_envelope", optima::fuzzing::trpc_envelope);
}

#[test]
fn range_header() {
    replay_nonempty("range_header", optima::fuzzing::range_header);
}

#[test]
fn audio_probe() {
    replay_nonempty("audio_probe", optima::fuzzing::audio_probe);
}
