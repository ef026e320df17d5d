#!/usr/bin/env bash
# A benchmark of the release build on this machine.
#
#   scripts/bench.sh
#
# Builds `optima` with `cargo build --release`, then measures:
#   - cold start: exec to the first successful GET /health, each run with a fresh data directory
#     (so it includes creating the database, running the migrations and generating the keys);
#     the median of COLD_RUNS runs;
#   - idle RSS: VmRSS one second after start;
#   - with wrk (installed with apt-get when missing): requests/s, p50/p99 latency and errors
#     (non-2xx/3xx responses + socket errors) for
#       a. GET /health
#       b. GET /cdn/r3al-user-media/users/bench_user/blob.bin with a bearer token: a 1 MiB
#          object uploaded first through POST /api/storage/upload;
#       c. POST /api/tactical/comm/secure: a sealed comm (fresh data key, two blobs, the row,
#          the audit entry) from a verified member on the unlimited tier;
#       d. GET /api/tactical/comm/bench_user?limit=50: a page of 50 sealed comms, each unwrapped
#          and decrypted, and the read audited;
#   - RSS (and peak RSS) after the load.
#
# Environment (defaults in brackets):
#   BENCH_BINARY      benchmark this binary instead of building one
#   BENCH_DURATION    seconds of each wrk run [10]
#   BENCH_WARMUP      seconds of an unmeasured wrk run before each one [2]
#   BENCH_CONNECTIONS wrk connections [32]
#   BENCH_THREADS     wrk threads [2]
#   COLD_RUNS         cold starts to take the median of [7]
#   OPTIMA_LOG__LEVEL the server's log filter [info: one access-log line per request, to a file]
set -euo pipefail

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
COLD_RUNS=${COLD_RUNS:-7}
USER_ID=bench_user
OBJECT_PATH=users/$USER_ID/blob.bin
BLOB_URL_PATH=/cdn/r3al-user-media/$OBJECT_PATH

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. "$ROOT/scripts/lib.sh"

require curl python3
require_wrk

# --- The release binary ----------------------------------------------------------------------
if [[ -n "${BENCH_BINARY:-}" ]]; then
    BIN=$BENCH_BINARY
else
    echo "==> cargo build --release" >&2
    BIN=$(release_binary)
fi
[[ -x "$BIN" ]] || { echo "error: no executable at '$BIN'" >&2; exit 1; }
echo "==> binary: $BIN ($(du -h "$BIN" | cut -f1))" >&2

WORK=$(work_dir bench)
# An explicit, empty configuration file: built-in defaults, whatever ./config.toml says.
CONFIG="$WORK/optima.toml"
echo "# defaults only" >"$CONFIG"
SERVER_PID=

stop_server() {
    stop_process "$SERVER_PID"
    SERVER_PID=
}

cleanup() {
    local rc=$?
    stop_server
    if ((rc == 0)); then
        rm -rf "$WORK"
    else
        echo "kept: $WORK (server logs, wrk output)" >&2
        [[ -f "$WORK/server.log" ]] && { echo "---- server log (last 40 lines) ----" >&2; tail -n 40 "$WORK/server.log" >&2; }
    fi
    exit "$rc"
}
on_exit cleanup

# --- Cold start --------------------------------------------------------------------------------
# Timed in Python: exec, then GET /health every millisecond until one answers 200.
echo "==> cold start: $COLD_RUNS runs, each with a fresh data directory" >&2
COLD_MS=$(python3 - "$BIN" "$CONFIG" "$WORK" "$COLD_RUNS" <<'PY'
import http.client, os, socket, statistics, subprocess, sys, tempfile, time

binary, config, work, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def healthy(port):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/health")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False

times = []
for i in range(runs):
    port = free_port()
    data = tempfile.mkdtemp(prefix="cold-", dir=work)
    with open(os.path.join(work, "cold.log"), "ab") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [binary, "serve", "--config", config, "--bind", f"127.0.0.1:{port}", "--data-dir", data],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )
        try:
            while not healthy(port):
                if proc.poll() is not None:
                    sys.exit(f"the server exited during start-up (status {proc.returncode}); see {work}/cold.log")
                if time.perf_counter() - start > 30:
                    sys.exit("no healthy answer within 30 s")
                time.sleep(0.001)
            elapsed = (time.perf_counter() - start) * 1000
        finally:
            proc.terminate()
            proc.wait(timeout=40)
    times.append(elapsed)
    print(f"    run {i + 1}: {elapsed:.1f} ms", file=sys.stderr)
print(f"{statistics.median(times):.1f}")
PY
)

# --- The server under test -----------------------------------------------------------------------
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
DATA="$WORK/data"
echo "==> starting the server at $BASE (data dir $DATA)" >&2
# The figures measure the server, not the per-client rate budget (every request comes from one address).
export OPTIMA_LIMITS__RATE_LIMITING=false
"$BIN" serve --config "$CONFIG" --bind "127.0.0.1:$PORT" --data-dir "$DATA" </dev/null >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_for_url "$BASE/health" "$SERVER_PID" || exit 1
sleep 1

IDLE_RSS=$(rss_mb "$SERVER_PID" VmRSS)
echo "==> idle RSS: $IDLE_RSS MB" >&2

TOKEN=$("$BIN" token --config "$CONFIG" --user "$USER_ID" --data-dir "$DATA")
head -c $((1024 * 1024)) /dev/urandom >"$WORK/blob.bin"
STATUS=$(curl -sS -o "$WORK/upload.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    -F "file=@$WORK/blob.bin;filename=blob.bin" -F bucket=media -F "path=$OBJECT_PATH" "$BASE/api/storage/upload")
[[ "$STATUS" == 201 ]] || { echo "error: upload answered $STATUS: $(cat "$WORK/upload.json")" >&2; exit 1; }
curl -fsS -H "Authorization: Bearer $TOKEN" -o "$WORK/download.bin" "$BASE$BLOB_URL_PATH"
cmp -s "$WORK/blob.bin" "$WORK/download.bin" || { echo "error: the downloaded object differs from the upload" >&2; exit 1; }
echo "==> uploaded 1 MiB to $BLOB_URL_PATH" >&2

# --- Load -----------------------------------------------------------------------------------------
declare -A RPS P50 P99 ERRORS TRANSFER
run_wrk() { # NAME URL [wrk options...]
    local name=$1 url=$2 out="$WORK/wrk-$1.txt"
    shift 2
    if ((WARMUP > 0)); then
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "$@" "$url" >/dev/null
    fi
    echo "==> wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency $url" >&2
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url" | tee "$out" >&2
    wrk_figures "$out"
    RPS[$name]=$WRK_RPS TRANSFER[$name]=$WRK_TRANSFER P50[$name]=$WRK_P50 P99[$name]=$WRK_P99 ERRORS[$name]=$WRK_ERRORS
}

run_wrk health "$BASE/health"
run_wrk blob "$BASE$BLOB_URL_PATH" -H "Authorization: Bearer $TOKEN"

# Tactical HQ: the bench user becomes a verified member, then sends and reads sealed comms.
ADMIN=$("$BIN" token --config "$CONFIG" --user bench_admin --role admin --data-dir "$DATA")
api() { # METHOD PATH TOKEN BODY EXPECTED
    call_api "$1" "$BASE$2" "$3" "$4" "$5" "$WORK/api.json" || exit 1
}
api POST /api/subscription/upgrade "$ADMIN" "{\"userId\":\"$USER_ID\",\"newTier\":\"unlimited\"}" 200
api POST /api/tactical/register "$TOKEN" "{\"userId\":\"$USER_ID\",\"serviceBranch\":\"police\",\"department\":\"Bench PD\"}" 201
api PUT "/api/tactical/verify/$USER_ID" "$ADMIN" '{"status":"verified","clearanceLevel":"secret"}' 200
SECURE_BODY="{\"fromUserId\":\"$USER_ID\",\"classification\":\"confidential\",\"content\":\"Unit 12 holding at the north gate; relief at 0600; radio channel 4.\"}"
for _ in $(seq 50); do api POST /api/tactical/comm/secure "$TOKEN" "$SECURE_BODY" 201; done
cat >"$WORK/secure.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '$SECURE_BODY'
LUA
run_wrk comm_send "$BASE/api/tactical/comm/secure" -s "$WORK/secure.lua"
run_wrk comm_list "$BASE/api/tactical/comm/$USER_ID?limit=50" -H "Authorization: Bearer $TOKEN"

sleep 1
LOAD_RSS=$(rss_mb "$SERVER_PID" VmRSS)
PEAK_RSS=$(rss_mb "$SERVER_PID" VmHWM)
stop_server

# --- Summary ---------------------------------------------------------------------------------------
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "optima $("$BIN" --version | awk '{ print $2 }') release, $(nproc) CPUs (${CPU:-unknown}), log level ${OPTIMA_LOG__LEVEL:-info}"
echo "wrk: $THREADS threads, $CONNECTIONS connections, ${DURATION}s per run (after ${WARMUP}s warm-up)"
echo
printf '%-34s %10s %10s %10s %8s %12s\n' "load" "req/s" "p50 ms" "p99 ms" "errors" "transfer/s"
printf '%-34s %10s %10s %10s %8s %12s\n' "GET /health" "${RPS[health]}" "${P50[health]}" "${P99[health]}" "${ERRORS[health]}" "${TRANSFER[health]}"
printf '%-34s %10s %10s %10s %8s %12s\n' "GET /cdn/... 1 MiB object (bearer)" "${RPS[blob]}" "${P50[blob]}" "${P99[blob]}" "${ERRORS[blob]}" "${TRANSFER[blob]}"
printf '%-34s %10s %10s %10s %8s %12s\n' "POST /api/tactical/comm/secure" "${RPS[comm_send]}" "${P50[comm_send]}" "${P99[comm_send]}" "${ERRORS[comm_send]}" "${TRANSFER[comm_send]}"
printf '%-34s %10s %10s %10s %8s %12s\n' "GET tactical comms, 50 sealed" "${RPS[comm_list]}" "${P50[comm_list]}" "${P99[comm_list]}" "${ERRORS[comm_list]}" "${TRANSFER[comm_list]}"
echo
printf '%-34s %10s\n' "cold start, median of $COLD_RUNS (ms)" "$COLD_MS"
printf '%-34s %10s\n' "idle RSS (MB)" "$IDLE_RSS"
printf '%-34s %10s\n' "RSS after load (MB)" "$LOAD_RSS"
printf '%-34s %10s\n' "peak RSS (MB)" "$PEAK_RSS"
