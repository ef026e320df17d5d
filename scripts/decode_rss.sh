#!/usr/bin/env bash
# The memory figure of issue 16: RSS of a fresh optima before and after N concurrent uploads of
# an all-zero 7000 x 7000 RGB PNG (143 KB, within the pixel limit) to POST /api/media/photos.
#
#   scripts/decode_rss.sh [BINARY] [UPLOADS]    # default: $CARGO_TARGET_DIR/release/optima, 4
#
# Prints VmRSS and VmHWM (kB, from /proc/PID/status) before and after, and each upload's status.
# Runs the server with its built-in defaults (from a scratch directory, so no config.toml).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BINARY=${1:-${CARGO_TARGET_DIR:-target}/release/optima}
UPLOADS=${2:-4}
BINARY=$(realpath "$BINARY")
WORK=$(work_dir decode-rss)
PID=
cleanup() {
    stop_process "$PID"
    rm -rf "$WORK"
}
on_exit cleanup
cd "$WORK"

python3 - <<'EOF'
import struct, zlib
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
side = 7000
raw = (b'\0' * (1 + 3 * side)) * side            # filter byte 0, then black RGB pixels
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', side, side, 8, 2, 0, 0, 0))
png += chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b'')
open('zero.png', 'wb').write(png)
EOF

PORT=$(free_port)
mkdir data
"$BINARY" --data-dir data --bind "127.0.0.1:$PORT" >server.log 2>&1 &
PID=$!
TOKEN=$("$BINARY" token --user u1 --data-dir data)
wait_for_url "http://127.0.0.1:$PORT/health" "$PID" || { cat server.log; exit 1; }

status() { grep -E '^(VmRSS|VmHWM)' "/proc/$PID/status" | tr -s ' \t' ' ' | tr '\n' ' '; echo; }
echo "upload: $(stat -c %s zero.png) bytes, 7000x7000 RGB"
echo "before: $(status)"
uploads=()
for i in $(seq "$UPLOADS"); do
    curl -s -o "answer$i" -w "upload $i: %{http_code}\n" -H "Authorization: Bearer $TOKEN" \
        -F "file=@zero.png;type=image/png" "http://127.0.0.1:$PORT/api/media/photos" &
    uploads+=($!)
done
wait "${uploads[@]}"
echo "after:  $(status)"
for i in $(seq "$UPLOADS"); do head -c 200 "answer$i"; echo; done
