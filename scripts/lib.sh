# shellcheck shell=bash
# What the scripts under scripts/ share: tool checks, the release build, free ports, a work
# directory and its cleanup, starting and stopping servers, and reading wrk's output. Sourced
# (`. "$ROOT/scripts/lib.sh"`), never run; each function reports a failure on stderr as
# `error: …` and returns non-zero (or exits, where it says so).

# require TOOL...: exits 2 naming the first TOOL that is not on the PATH.
require() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 2; }
    done
}

# require_wrk: installs wrk with apt-get when it is missing; exits 2 if it still is.
require_wrk() {
    if ! command -v wrk >/dev/null; then
        echo "==> installing wrk (apt-get)" >&2
        (apt-get update && apt-get install -y wrk) >&2
    fi
    command -v wrk >/dev/null || { echo "error: wrk is not installed and could not be" >&2; exit 2; }
}

# pip_install VENV SPEC...: creates the virtualenv VENV when it has no python, then installs
# the SPECs into it with pip, quietly (pip's output goes to stderr).
pip_install() {
    local venv=$1
    shift
    if [[ ! -x "$venv/bin/python" ]]; then
        mkdir -p "$(dirname "$venv")"
        python3 -m venv "$venv" >&2
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2
}

# release_binary: `cargo build --release` of optima (in CARGO_TARGET_DIR, wherever it is);
# prints the path of the executable.
release_binary() {
    # The JSON messages name the built executable wherever the target directory is.
    cargo build --release --bin optima --message-format=json-render-diagnostics \
        | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1
}

# free_port: prints a TCP port of 127.0.0.1 that was free a moment ago.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# work_dir NAME: creates and prints a new temporary directory, optima-NAME.XXXXXX.
work_dir() {
    mktemp -d "${TMPDIR:-/tmp}/optima-$1.XXXXXX"
}

# on_exit FUNCTION: runs FUNCTION when the script exits, also on Ctrl-C (status 130) and
# SIGTERM (143); FUNCTION finds the exit status in $?.
on_exit() {
    trap "$1" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# stop_process PID [SECONDS]: SIGTERM, up to SECONDS (10) for PID to go, then SIGKILL; reaps
# it. Does nothing when PID is empty or already gone.
stop_process() {
    local pid=$1 tries=$((${2:-10} * 10))
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq "$tries"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# wait_for_url URL [PID NAME]: GETs URL every 0.1 s until it answers 2xx, for 30 s at most;
# fails at once when the process PID (the server NAME) has exited.
wait_for_url() {
    local url=$1 pid=${2:-} name=${3:-the server} i
    for i in $(seq 300); do
        curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            echo "error: $name exited during start-up" >&2
            return 1
        fi
        ((i < 300)) && sleep 0.1
    done
    echo "error: GET $url did not succeed within 30 s" >&2
    return 1
}

# ready_addr LOG PID NAME: waits (30 s at most) for optima's `server ready` line in LOG and
# prints the address it names (127.0.0.1:PORT); fails at once when the process PID exits.
ready_addr() {
    local log=$1 pid=$2 name=$3 addr
    for _ in $(seq 300); do
        # `server ready addr=127.0.0.1:PORT` (text logs) or `"addr":"127.0.0.1:PORT"` (JSON logs)
        addr=$(grep -m 1 'server ready' "$log" 2>/dev/null | sed -n 's/.*addr[=":]*\([0-9][0-9.]*:[0-9][0-9]*\).*/\1/p' || true)
        [[ -n "$addr" ]] && { echo "$addr"; return 0; }
        kill -0 "$pid" 2>/dev/null || { echo "error: $name exited during start-up" >&2; return 1; }
        sleep 0.1
    done
    echo "error: $name logged no 'server ready' line within 30 s" >&2
    return 1
}

# call_api METHOD URL TOKEN BODY EXPECTED OUT: a JSON request with a bearer token, its answer
# written to OUT; fails, showing the answer, unless the status is EXPECTED.
call_api() {
    local status
    status=$(curl -sS -o "$6" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $3" \
        -H 'Content-Type: application/json' -d "$4" "$2") || status=000
    [[ "$status" == "$5" ]] && return 0
    echo "error: $1 $2 answered $status: $(cat "$6" 2>/dev/null)" >&2
    return 1
}

# rss_mb PID FIELD: FIELD (VmRSS or VmHWM) of the process PID, in MB.
rss_mb() {
    awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# to_ms VALUE: one of wrk's latency figures, which come with a unit (us, ms, s, m), in ms.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.2f", n }'
}

# wrk_figures FILE: from the output of `wrk --latency` in FILE, sets WRK_RPS (requests/s),
# WRK_P50 and WRK_P99 (ms), WRK_TRANSFER (as wrk prints it) and WRK_ERRORS (non-2xx/3xx
# responses + socket errors: connect, read, write, timeout).
wrk_figures() {
    local out=$1 non2xx socket
    WRK_RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    WRK_TRANSFER=$(awk '/^Transfer\/sec:/ { print $2 }' "$out")
    WRK_P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    WRK_P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    socket=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
    WRK_ERRORS=$((${non2xx:-0} + ${socket:-0}))
}

# require_postgres: installs Debian's PostgreSQL binaries with apt-get when none are installed
# (as root only; postgresql-common is told first not to make and start a cluster of its own on
# port 5432: only the binaries are wanted). Returns non-zero, saying why, if there still are none.
require_postgres() {
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        if ((EUID != 0)); then
            echo "error: PostgreSQL is not installed and this is not root (apt-get install postgresql)" >&2
            return 1
        fi
        echo "==> installing PostgreSQL (apt-get)" >&2
        (
            export DEBIAN_FRONTEND=noninteractive
            apt-get update
            apt-get install -y --no-install-recommends postgresql-common
            sed -i 's/^#* *create_main_cluster *=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
            apt-get install -y --no-install-recommends postgresql
        ) >&2
    fi
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "error: PostgreSQL could not be installed" >&2; return 1; }
}

# start_postgres DIR: a throwaway PostgreSQL cluster in DIR (made by initdb, at PostgreSQL's
# defaults, so as durable as a real server), started on a free loopback port; as the postgres OS
# user when this is root, since PostgreSQL refuses to run as root. Sets PG_PORT; stop_postgres
# stops it, createdb_postgres NAME makes a database in it.
start_postgres() {
    PG_DIR=$1 PG_AS=()
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    mkdir -p "$PG_DIR"
    if ((EUID == 0)); then
        chown postgres: "$PG_DIR"
        PG_AS=(runuser -u postgres --)
    fi
    "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust >"$PG_DIR/initdb.log" 2>&1 \
        || { echo "error: initdb failed: $(tail -n 5 "$PG_DIR/initdb.log")" >&2; return 1; }
    PG_PORT=$(free_port)
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null \
        || { echo "error: PostgreSQL did not start: $(tail -n 5 "$PG_DIR/server.log")" >&2; return 1; }
}

# stop_postgres: stops the cluster start_postgres started, if it did.
stop_postgres() {
    [[ -n "${PG_DIR:-}" && -f "$PG_DIR/data/postmaster.pid" ]] || return 0
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
}

# createdb_postgres NAME: an empty database NAME in start_postgres's cluster; prints its URL.
createdb_postgres() {
    "${PG_AS[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$1" >&2 || return 1
    echo "postgres://postgres@127.0.0.1:$PG_PORT/$1"
}

# require_nginx: installs nginx with apt-get when it is missing; exits 2 if it still is.
require_nginx() {
    if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
        echo "==> installing nginx (apt-get)" >&2
        (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light) >&2
    fi
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || { echo "error: nginx is not installed and could not be" >&2; exit 2; }
}
