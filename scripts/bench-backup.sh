#!/usr/bin/env bash
# How long a whole backup and a restore take for a running server with many objects:
#
#   scripts/bench-backup.sh
#
# Lays out BENCH_OBJECTS objects (default 10,000) of 1 KiB to BENCH_MAX_KIB KiB (default 128,
# so about 640 MiB) in the local store, starts the server on them, then BENCH_RUNS times
# (default 3): `optima backup --out` against the running server, and `optima restore --from`
# that backup into a new data directory. Prints the wall time of each.
#
# Environment: BENCH_BINARY (else `cargo build --release`), BENCH_OBJECTS, BENCH_MAX_KIB,
# BENCH_RUNS, TMPDIR (where the data, the backups and the restores go).
set -euo pipefail

OBJECTS=${BENCH_OBJECTS:-10000}
MAX_KIB=${BENCH_MAX_KIB:-128}
RUNS=${BENCH_RUNS:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. "$ROOT/scripts/lib.sh"
require curl python3
BIN=${BENCH_BINARY:-$(release_binary)}

WORK=$(work_dir bench-backup)
SERVER=
cleanup() {
    stop_process "$SERVER"
    rm -rf "$WORK"
}
on_exit cleanup
export OPTIMA_LOG__LEVEL=warn OPTIMA_LIMITS__RATE_LIMITING=false

"$BIN" migrate --data-dir "$WORK/data" >/dev/null
# Objects laid out as the local store keeps them, spread over users and buckets.
python3 - "$WORK/data/blobs" "$OBJECTS" "$MAX_KIB" <<'EOF'
import os, random, sys
root, count, max_kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
buckets = ["r3al-user-media", "r3al-studio-music", "r3al-writers-guild", "r3al-premium-images", "r3al-tactical-secure"]
rng = random.Random(16)
total = 0
for i in range(count):
    folder = os.path.join(root, buckets[i % 5], "users", f"u{i % 100}", "files")
    os.makedirs(folder, exist_ok=True)
    size = rng.randint(1, max_kib) * 1024
    with open(os.path.join(folder, f"{i}.bin"), "wb") as f:
        f.write(rng.randbytes(size))
    total += size
print(f"{count} objects, {total / 2**20:.0f} MiB")
EOF

PORT=$(free_port)
"$BIN" serve --data-dir "$WORK/data" --bind "127.0.0.1:$PORT" &
SERVER=$!
wait_for_url "http://127.0.0.1:$PORT/health" "$SERVER" || exit 1
for i in $(seq 50); do
    curl -sf -o /dev/null -H 'content-type: application/json' \
        -d "{\"username\":\"user$i\",\"password\":\"password-123\"}" "http://127.0.0.1:$PORT/api/auth/register"
done

seconds() { python3 -c 'import time; print(time.monotonic())'; }
for run in $(seq "$RUNS"); do
    sync
    start=$(seconds)
    "$BIN" backup --data-dir "$WORK/data" --out "$WORK/backup-$run" 2>/dev/null >/dev/null
    middle=$(seconds)
    "$BIN" restore --from "$WORK/backup-$run" --data-dir "$WORK/restored-$run" 2>/dev/null >/dev/null
    end=$(seconds)
    python3 -c "print(f'run $run: backup {$middle - $start:.1f} s, restore {$end - $middle:.1f} s')"
    rm -rf "$WORK/restored-$run"
done
echo "backup size: $(du -sh "$WORK/backup-1" | cut -f1)"
