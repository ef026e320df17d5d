#!/usr/bin/env bash
# Starts optima and fuzzes it with Schemathesis against its own OpenAPI document.
#
#   scripts/schemathesis.sh BINARY [EXTRA SCHEMATHESIS RUN OPTIONS...]
#   e.g. scripts/schemathesis.sh "$CARGO_TARGET_DIR/debug/optima"
#        scripts/schemathesis.sh target/debug/optima --seed 42 --max-examples 200
#
# Starts BINARY on 127.0.0.1 (a free port) with a fresh data directory, mints a user token,
# creates one of each kind of resource (fixtures, so operations on existing items get past
# 401/403/404), and runs `schemathesis run` with every check (`--checks all`: no 5xx, status
# codes, content types, headers and bodies as documented, valid requests accepted and invalid
# ones refused, 405 with `Allow`, …) in every phase (examples, coverage, fuzzing, stateful),
# with a fixed seed so a failure can be replayed. Exits non-zero when a check fails or the
# server cannot start; then the server log is printed and the work directory (server log,
# reports) is kept.
#
# Environment:
#   OPTIMA_VENV              virtualenv for Schemathesis (default: ~/.cache/optima-venv)
#   ST_MAX_EXAMPLES          test cases per operation and phase (default: 25)
#   ST_SEED                  the random seed (default: 20261202)
#   SCHEMATHESIS_REPORT_DIR  where to write the JUnit and VCR (every request and response)
#                            reports; default: inside the work directory
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCHEMATHESIS_VERSION=4.32.5
USER_ID=schemathesis_user

if [[ $# -lt 1 || "$1" == -* ]]; then
    echo "usage: $0 BINARY [schemathesis run options...]" >&2
    exit 2
fi
BINARY=$1
shift
if [[ ! -x "$BINARY" ]]; then
    echo "error: $BINARY is not an executable file (build it with cargo build first)" >&2
    exit 2
fi
BINARY=$(cd "$(dirname "$BINARY")" && pwd)/$(basename "$BINARY")
require curl

VENV=${OPTIMA_VENV:-$HOME/.cache/optima-venv}
# The server reads every OPTIMA_* variable as configuration and refuses unknown keys.
unset OPTIMA_VENV
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-25}
SEED=${ST_SEED:-20261202}

# --- Schemathesis, pinned, in its own virtualenv -------------------------------------------
if [[ "$("$VENV/bin/schemathesis" --version 2>/dev/null || true)" != *"version $SCHEMATHESIS_VERSION" ]]; then
    echo "==> installing schemathesis $SCHEMATHESIS_VERSION into $VENV" >&2
    pip_install "$VENV" "schemathesis==$SCHEMATHESIS_VERSION"
fi
ST="$VENV/bin/schemathesis"
"$ST" --version >&2

# --- The server -----------------------------------------------------------------------------
WORK=$(work_dir schemathesis)
DATA="$WORK/data"
SERVER_LOG="$WORK/server.log"
REPORT_DIR=${SCHEMATHESIS_REPORT_DIR:-$WORK/reports}
# An explicit, empty configuration file: the run does not depend on the current directory or
# on a developer's ./config.toml (only defaults, OPTIMA_* variables and the flags below).
CONFIG="$WORK/optima.toml"
echo "# defaults only" >"$CONFIG"
# Thousands of requests from one address and one token: rate limits would answer most of them
# with 429 before they reach a handler (tests/api/limits.rs covers the limits).
export OPTIMA_LIMITS__RATE_LIMITING=false
# A live stream (`GET /api/events`) stays open until it has lasted `max_stream_secs`: ended
# after a second here, each is a whole answer Schemathesis can check. Streams the fuzzer leaves
# open count against the per-user bound only for that second.
export OPTIMA_EVENTS__MAX_STREAM_SECS=1
SERVER_PID=

print_server_log() {
    [[ -s "$SERVER_LOG" ]] || { echo "(the server log is empty)" >&2; return; }
    local lines
    lines=$(wc -l <"$SERVER_LOG")
    echo "---- server log: $SERVER_LOG ($lines lines) ----" >&2
    if ((lines <= 200)); then
        cat "$SERVER_LOG" >&2
    else
        echo "-- warnings, errors and 5xx responses:" >&2
        grep -E '"level":"(WARN|ERROR)"|"status":5[0-9][0-9]' "$SERVER_LOG" | tail -n 100 >&2 || echo "(none)" >&2
        echo "-- last 30 lines:" >&2
        tail -n 30 "$SERVER_LOG" >&2
    fi
    echo "---- end of server log ----" >&2
}

cleanup() {
    local rc=$?
    stop_process "$SERVER_PID" 5
    if ((rc == 0)); then
        rm -rf "$WORK"
    else
        echo "kept: $WORK (server log, data directory, reports)" >&2
    fi
    exit "$rc"
}
on_exit cleanup

fail() {
    echo "error: $*" >&2
    print_server_log
    exit 1
}

echo "==> starting $BINARY (data dir $DATA)" >&2
# Created before the start, so the first read of it cannot race the shell's redirection.
: >"$SERVER_LOG"
# JSON log lines: the bound address is read from them, free of ANSI colours.
OPTIMA_LOG__FORMAT=json NO_COLOR=1 \
    "$BINARY" serve --config "$CONFIG" --bind 127.0.0.1:0 --data-dir "$DATA" </dev/null >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

ADDR=$(ready_addr "$SERVER_LOG" "$SERVER_PID" "the server") || { print_server_log; exit 1; }
BASE="http://127.0.0.1:${ADDR##*:}"
wait_for_url "$BASE/health" "$SERVER_PID" "the server" || { print_server_log; exit 1; }
echo "==> server up at $BASE (pid $SERVER_PID)" >&2

TOKEN=$("$BINARY" token --config "$CONFIG" --user "$USER_ID" --data-dir "$DATA") || fail "optima token failed"
[[ "$TOKEN" == *.*.* ]] || fail "optima token printed no JWT: $TOKEN"

# The user is a verified Tactical HQ member on the unlimited tier, so the tactical routes are
# exercised past their gates.
ADMIN_TOKEN=$("$BINARY" token --config "$CONFIG" --user schemathesis_admin --role admin --data-dir "$DATA") || fail "optima token failed"
setup() { # METHOD PATH TOKEN BODY EXPECTED
    call_api "$1" "$BASE$2" "$3" "$4" "$5" "$WORK/setup.json" || { print_server_log; exit 1; }
}
setup POST /api/subscription/upgrade "$ADMIN_TOKEN" "{\"userId\":\"$USER_ID\",\"newTier\":\"unlimited\"}" 200
setup POST /api/tactical/register "$TOKEN" "{\"userId\":\"$USER_ID\",\"serviceBranch\":\"fire\",\"department\":\"Station 9\"}" 201
setup PUT "/api/tactical/verify/$USER_ID" "$ADMIN_TOKEN" '{"status":"verified","clearanceLevel":"secret"}' 200

# One of each kind of item, so that operations on an item (`{project_id}`, `{session_id}`, …)
# meet a real one, not only 404s. Their ids go into the configuration below.
created() { # METHOD PATH TOKEN BODY EXPECTED FIELD: the FIELD of the answer
    setup "$1" "$2" "$3" "$4" "$5"
    field "$6"
}
field() { "$VENV/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/setup.json" "$1"; }
COMM_ID=$(created POST /api/tactical/comm/secure "$TOKEN" "{\"fromUserId\":\"$USER_ID\",\"content\":\"fixture\"}" 201 commId)
INCIDENT_ID=$(created POST /api/tactical/incident/report "$TOKEN" '{"title":"fixture","description":"fixture","severity":"low"}' 201 incidentId)
TEAM_ID=$(created POST /api/tactical/teams "$TOKEN" '{"teamName":"fixture"}' 201 teamId)
MUSIC_ID=$(created POST /api/music/project/create "$TOKEN" "{\"userId\":\"$USER_ID\",\"title\":\"fixture\"}" 201 projectId)
setup POST /api/writers/member/register "$TOKEN" "{\"userId\":\"$USER_ID\",\"penName\":\"fixture\"}" 201
WRITING_ID=$(created POST /api/writers/project/create "$TOKEN" "{\"userId\":\"$USER_ID\",\"title\":\"fixture\",\"contentType\":\"novel\"}" 201 projectId)
WRITING_SESSION_ID=$(created POST /api/writers/session/start "$TOKEN" "{\"userId\":\"$USER_ID\",\"projectId\":\"$WRITING_ID\"}" 200 sessionId)
setup POST /api/ai/chat/send "$TOKEN" "{\"userId\":\"$USER_ID\",\"message\":\"fixture\"}" 200
CHAT_ID=$(field sessionId)
NFT_ID=$(created POST /api/media/nft/generate "$TOKEN" "{\"userId\":\"$USER_ID\"}" 201 nftId)
IMAGE_ID=$(created POST /api/premium/image/generate "$TOKEN" "{\"userId\":\"$USER_ID\",\"prompt\":\"fixture\"}" 201 generationId)
# A 1×1 PNG: photos are checked by their content.
echo 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==' | base64 -d >"$WORK/fixture.png"
status=$(curl -sS -o "$WORK/setup.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    -F "file=@$WORK/fixture.png;type=image/png" "$BASE/api/media/photos") || status=000
[[ "$status" == 201 ]] || fail "POST /api/media/photos answered $status: $(cat "$WORK/setup.json" 2>/dev/null)"
PHOTO_ID=$(field photoId)

# A few objects to find: deliveries and deletes then meet existing objects and folders from
# the first request on, whatever order the operations run in.
printf 'schemathesis fixture\n' >"$WORK/fixture.txt"
# (`keep.txt` is in no dictionary: its folders outlive the deletes of their other objects.)
for fixture in "media users/$USER_ID/a.txt" "media users/$USER_ID/docs/avatar.jpg" \
    "media users/$USER_ID/docs/keep.txt" "images users/$USER_ID/dir/deeper/blob.bin" \
    "images users/$USER_ID/dir/deeper/keep.txt"; do
    read -r bucket path <<<"$fixture"
    status=$(curl -sS -o "$WORK/fixture-upload.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
        -F "file=@$WORK/fixture.txt" -F "bucket=$bucket" -F "path=$path" "$BASE/api/storage/upload") || status=000
    [[ "$status" == 201 ]] || fail "fixture upload of $bucket/$path answered $status: $(cat "$WORK/fixture-upload.json" 2>/dev/null)"
done

# --- Schemathesis configuration --------------------------------------------------------------
# Storage operations accept only the five buckets (`media` … or their full names) and object
# paths under `users/<caller>/`; the schema types them as free strings, so nearly every
# generated bucket/path/url is refused with 400 before any storage code runs. Dictionaries
# make about half of the generated values real ones, so uploads, signed URLs, deliveries
# and deletes are exercised too (their 2xx bodies are then checked against the schema).
# The other half stays random, and negative testing still mutates these fields.
#
# The object path of `/cdn/{bucket}/{path}` spans several segments (`users/u1/a.txt`, sent as
# `users%2Fu1%2Fa.txt`), but Schemathesis drops generated path-parameter values holding a `/`
# unless the document gives such an example, so a dictionary cannot reach that parameter. A
# hook mixes real object paths (already percent-encoded, as hooks see wire values) in instead.
ST_HOOKS="$WORK/optima_hooks.py"
cat >"$ST_HOOKS" <<EOF
from urllib.parse import quote

import schemathesis
from hypothesis import strategies as st

OBJECT_PATHS = [
    quote(p, safe="")
    for p in (
        "users/$USER_ID/a.txt",
        "users/$USER_ID/docs/avatar.jpg",
        "users/$USER_ID/dir/deeper/blob.bin",
        "users/$USER_ID/docs",
        "users/someone_else/a.txt",
    )
]


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    operation = context.operation
    if operation is None or not operation.path.startswith("/cdn/") or "path" not in path_parameters:
        return st.just(path_parameters)
    real = st.sampled_from(OBJECT_PATHS).map(lambda p: {**path_parameters, "path": p})
    return st.one_of(st.just(path_parameters), real)
EOF

ST_CONFIG="$WORK/schemathesis.toml"
cat >"$ST_CONFIG" <<EOF
hooks = "$ST_HOOKS"

[dictionaries.buckets]
values = ["media", "r3al-user-media", "images", "r3al-premium-images", "music", "writing", "tactical"]

[dictionaries.object_paths]
values = [
  "users/$USER_ID/a.txt",
  "users/$USER_ID/docs/avatar.jpg",
  "users/$USER_ID/dir/deeper/blob.bin",
  "users/$USER_ID/docs",
  "users/someone_else/a.txt",
]

[dictionaries.cdn_urls]
values = [
  "/cdn/media/users/$USER_ID/a.txt",
  "/cdn/r3al-user-media/users/$USER_ID/docs/avatar.jpg",
  "$BASE/cdn/images/users/$USER_ID/dir/deeper/blob.bin?expires=1&signature=x",
  "/cdn/media/users/someone_else/a.txt",
  "/cdn/media/users/$USER_ID/docs",
  "/cdn/r3al-premium-images/users/$USER_ID/dir/deeper",
]

[dictionaries.usernames]
values = ["schemathesis", "st_user.1", "st-user-2", "AbC"]

# The token's own user, so user-scoped routes get past the ownership check into their logic.
[dictionaries.user_ids]
values = ["$USER_ID"]

[dictionaries.features]
values = ["ai_chat", "chat", "image_generation", "music_generation", "ai_writing", "writers_guild", "unrestricted_content", "priority_processing", "tactical"]

[dictionaries.tiers]
values = ["free", "premium", "unlimited", "tactical"]

# Tactical HQ's vocabulary, so comms, incidents and check-ins get past their validation.
[dictionaries.message_types]
values = ["standard", "secure", "emergency", "alert", "briefing"]
[dictionaries.clearances]
values = ["public", "confidential", "secret", "top_secret"]
[dictionaries.priorities]
values = ["low", "normal", "high", "urgent", "flash"]
[dictionaries.severities]
values = ["low", "medium", "high", "critical"]
[dictionaries.live_topics]
values = ["comms", "incidents", "comms,incidents", "generation:$MUSIC_ID"]
[dictionaries.incident_statuses]
values = ["active", "resolved", "escalated"]
[dictionaries.session_types]
values = ["stress_assessment", "pre_deployment", "post_incident", "routine_check", "crisis"]

[parameters]
"path.bucket" = { dictionary = "buckets", probability = 0.5 }
"body.bucket" = { dictionary = "buckets", probability = 0.5 }
"body.path" = { dictionary = "object_paths", probability = 0.5 }
"body.url" = { dictionary = "cdn_urls", probability = 0.5 }
"body.username" = { dictionary = "usernames", probability = 0.3 }
"path.user_id" = { dictionary = "user_ids", probability = 0.7 }
"body.userId" = { dictionary = "user_ids", probability = 0.7 }
"path.feature" = { dictionary = "features", probability = 0.6 }
"body.feature" = { dictionary = "features", probability = 0.6 }
"body.newTier" = { dictionary = "tiers", probability = 0.6 }
"body.fromUserId" = { dictionary = "user_ids", probability = 0.8 }
"query.userId" = { dictionary = "user_ids", probability = 0.8 }
"query.topics" = { dictionary = "live_topics", probability = 0.7 }
"body.messageType" = { dictionary = "message_types", probability = 0.7 }
"body.classification" = { dictionary = "clearances", probability = 0.7 }
"body.priority" = { dictionary = "priorities", probability = 0.7 }
"body.severity" = { dictionary = "severities", probability = 0.7 }
"body.status" = { dictionary = "incident_statuses", probability = 0.5 }
"body.sessionType" = { dictionary = "session_types", probability = 0.7 }
# The fixtures: operations on an item meet a real one half the time.
"path.comm_id" = { dictionary = "comm_ids", probability = 0.5 }
"body.relatedIncidentId" = { dictionary = "incident_ids", probability = 0.5 }
"path.incident_id" = { dictionary = "incident_ids", probability = 0.5 }
"path.team_id" = { dictionary = "team_ids", probability = 0.5 }
"body.teamId" = { dictionary = "team_ids", probability = 0.5 }
"path.session_id" = { dictionary = "session_ids", probability = 0.5 }
"body.sessionId" = { dictionary = "session_ids", probability = 0.5 }
"path.project_id" = { dictionary = "project_ids", probability = 0.5 }
"body.projectId" = { dictionary = "project_ids", probability = 0.5 }
"path.nft_id" = { dictionary = "nft_ids", probability = 0.5 }
"path.generation_id" = { dictionary = "generation_ids", probability = 0.5 }
"path.photo_id" = { dictionary = "photo_ids", probability = 0.5 }

[dictionaries.comm_ids]
values = ["$COMM_ID"]
[dictionaries.incident_ids]
values = ["$INCIDENT_ID"]
[dictionaries.team_ids]
values = ["$TEAM_ID"]
[dictionaries.session_ids]
values = ["$CHAT_ID", "$WRITING_SESSION_ID"]
[dictionaries.project_ids]
values = ["$MUSIC_ID", "$WRITING_ID"]
[dictionaries.nft_ids]
values = ["$NFT_ID"]
[dictionaries.generation_ids]
values = ["$IMAGE_ID"]
[dictionaries.photo_ids]
values = ["$PHOTO_ID"]

# Where several blocks match an operation the first one's settings win (a block with a path and
# a method filter was seen to match other paths of that method), so the most specific comes first.
# A conversation's last message must be the user's, with words in it; the whole body is bounded
# in bytes (max_json_bytes, 413) before its schema is read, so 200 messages of 100,000
# characters are refused as too large, valid or not:
[[operations]]
include-path = "/v1/chat"
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 409, 413, 429]
checks.negative_data_rejection.expected-statuses = [400, 401, 403, 404, 413, 422, 429]

# The deprecated item deletes (the item id alone) share their URL shape with a list by user
# (poem routes one parameter name per shape), so their segment is documented as 'user_id': it
# takes an item id. The canonical deletes name both, '{user_id}/{photo_id}' and
# '{user_id}/{comm_id}'.
[[operations]]
include-path = "/api/media/photos/{user_id}"
include-method = "DELETE"
parameters = { "path.user_id" = { dictionary = "photo_ids", probability = 0.5 } }
# Stateful testing links a new photo to this delete by the parameter's name (its 'userId').
checks.ensure_resource_availability.enabled = false

[[operations]]
include-path = "/api/tactical/comm/{user_id}"
include-method = "DELETE"
parameters = { "path.user_id" = { dictionary = "comm_ids", probability = 0.5 } }

# Rules a JSON schema cannot state; every other operation must accept every valid request.
# An object URL or path is checked against this server and its path rules (segments of at
# most 255 bytes, no '.' or '..' segment), 'expires' and 'signature' come together:
[[operations]]
include-path = ["/api/storage/delete", "/api/storage/signed-url", "/api/storage/upload", "/cdn/{bucket}/{path}"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", 400, 401, 403, 404, 409, 429]

# An image is checked by its content (PNG, JPEG or WebP), not by its declared type:
[[operations]]
include-path = ["/api/media/avatar", "/api/media/photos"]
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 404, 409, 422, 429]

# A cursor is one this server returned; 'relatedIncidentId' names an existing incident (422):
[[operations]]
include-path = ["/api/tactical/comm/{user_id}", "/api/tactical/comms/{user_id}"]
include-method = "GET"
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 429]

[[operations]]
include-path = ["/api/tactical/comm/send", "/api/tactical/comm/secure"]
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 404, 409, 413, 422, 429]

# A multipart part is bytes whatever it looks like: a 'documents' part that a fuzzer meant as
# an object is still a file.
[[operations]]
include-path = "/api/tactical/register/{user_id}/documents"
checks.negative_data_rejection.enabled = false

[[operations]]
include-path = "/api/tactical/register"
checks.negative_data_rejection.enabled = false
EOF

mkdir -p "$REPORT_DIR"
# Every check runs: Schemathesis 4 enables them all unless told otherwise. (`--checks all` on
# the command line would also override the per-operation exceptions above.)
ST_ARGS=(
    run "$BASE/openapi.json"
    --url "$BASE"
    --phases examples,coverage,fuzzing,stateful
    --header "Authorization: Bearer $TOKEN"
    --max-examples "$MAX_EXAMPLES"
    --seed "$SEED"
    --request-timeout 30
    --generation-database none
    --report junit,vcr
    --report-dir "$REPORT_DIR"
    "$@"
)
echo "==> $ST --config-file $ST_CONFIG ${ST_ARGS[*]/#Authorization: Bearer */Authorization: Bearer ***}" >&2
rc=0
(cd "$WORK" && "$ST" --config-file "$ST_CONFIG" "${ST_ARGS[@]}") || rc=$?

if ((rc != 0)); then
    echo "schemathesis exited with $rc: see the failures above; every request and response is in $REPORT_DIR" >&2
    print_server_log
    exit "$rc"
fi
echo "==> schemathesis: all checks passed" >&2
