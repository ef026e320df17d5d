#!/usr/bin/env bash
# Bounded fuzzing of the parsers that take raw request input and of the audio probe (see
# src/fuzzing.rs):
#
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS each
#   scripts/fuzz.sh range_header    # only the targets named
#
# Each target runs for FUZZ_SECONDS [60] on fuzz/corpus/<target>/, then the corpus is
# minimised with `cargo fuzz cmin`. A crash (or an input slower than 10 s) leaves its input
# in fuzz/artifacts/<target>/ and makes the script exit 1: copy it into
# fuzz/regressions/<target>/ so that `cargo test --test fuzz_corpus` replays it for good.
#
# Environment: FUZZ_SECONDS [60], FUZZ_SANITIZER [address; `none` is faster and enough for
# safe Rust], CARGO_BUILD_JOBS (e.g. 1 on a small machine). cargo-fuzz needs nightly flags;
# on a stable toolchain RUSTC_BOOTSTRAP=1 allows them.
set -euo pipefail

SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
SANITIZER=${FUZZ_SANITIZER:-address}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(blob_path signed_url trpc_envelope range_header audio_probe)
fi

cargo fuzz build -s "$SANITIZER"

failed=()
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    echo "== $target: ${SECONDS_PER_TARGET}s"
    if ! cargo fuzz run -s "$SANITIZER" "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -print_final_stats=1; then
        failed+=("$target")
    fi
    cargo fuzz cmin -s "$SANITIZER" "$target" "fuzz/corpus/$target"
    echo "== $target corpus: $(find "fuzz/corpus/$target" -type f | wc -l) files, $(du -sb "fuzz/corpus/$target" | cut -f1) bytes"
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "crashes in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
