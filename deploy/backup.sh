#!/usr/bin/env bash
# A consistent backup of one optima server, safe while it runs:
#   the database through SQLite's online backup API (`optima backup`),
#   the blob store (the local `blobs/` folder), and the generated keys.
#
#   deploy/backup.sh /var/lib/optima /srv/backups        # as the optima user or root
#
# Keep the keys apart from the data when you copy backups off the machine: `keys/master.key`
# opens every sealed Tactical HQ comm in the same backup. Restore: stop the server, put
# `optima.db`, `blobs/` and `keys/` back under the data directory, start it.
set -euo pipefail

DATA=${1:?usage: backup.sh DATA_DIR BACKUP_ROOT}
ROOT=${2:?usage: backup.sh DATA_DIR BACKUP_ROOT}
OPTIMA=${OPTIMA:-optima}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
DEST="$ROOT/optima-$STAMP"

mkdir -p "$DEST"
chmod 0700 "$DEST"
# The database first: blobs written after this moment are extra, never missing for a row.
"$OPTIMA" backup --data-dir "$DATA" --out "$DEST/optima.db"
# Blobs are written atomically (temp file + rename), so a copy never holds a half-written one;
# hard links against the previous backup keep unchanged blobs from taking space twice.
PREVIOUS=$(ls -1d "$ROOT"/optima-* 2>/dev/null | grep -v "$DEST" | tail -n 1 || true)
if [[ -n "$PREVIOUS" && -d "$PREVIOUS/blobs" ]]; then
    rsync -a --link-dest="$PREVIOUS/blobs" "$DATA/blobs/" "$DEST/blobs/"
else
    rsync -a "$DATA/blobs/" "$DEST/blobs/"
fi
rsync -a "$DATA/keys/" "$DEST/keys/"
echo "backup written to $DEST ($(du -sh "$DEST" | cut -f1))"
