#!/usr/bin/env bash
# A consistent backup of one optima server, safe while it runs:
#   the database through SQLite's online backup API (`optima backup`),
#   the blob store (the local `blobs/` folder, or the GCS buckets), and the generated keys.
#
#   deploy/backup.sh /var/lib/optima /srv/backups        # as the optima user or root
#   BLOBS=gcs CONFIG=/etc/optima/config.toml deploy/backup.sh /var/lib/optima /srv/backups
#
# With BLOBS=gcs the objects are mirrored from GCS into BACKUP_ROOT/gcs-mirror by
# `optima storage copy --from gcs --to local` (only new or changed objects are fetched, by size
# and SHA-256) and the mirror is hard-linked into the backup. CONFIG is the server's config
# file, so that the copy finds the buckets and credentials.
#
# Keep the keys apart from the data when you copy backups off the machine: `keys/master.key`
# opens every sealed Tactical HQ comm in the same backup. Restore: stop the server, put
# `optima.db`, `blobs/` and `keys/` back under the data directory, start it.
set -euo pipefail

DATA=${1:?usage: backup.sh DATA_DIR BACKUP_ROOT}
ROOT=${2:?usage: backup.sh DATA_DIR BACKUP_ROOT}
OPTIMA=${OPTIMA:-optima}
BLOBS=${BLOBS:-local}
CONFIG_ARGS=()
if [[ -n "${CONFIG:-}" ]]; then CONFIG_ARGS=(--config "$CONFIG"); fi
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
DEST="$ROOT/optima-$STAMP"

mkdir -p "$DEST"
chmod 0700 "$DEST"
# The database first: blobs written after this moment are extra, never missing for a row.
"$OPTIMA" backup "${CONFIG_ARGS[@]}" --data-dir "$DATA" --out "$DEST/optima.db"
# Blobs are written atomically (temp file + rename), so a copy never holds a half-written one;
# hard links against the previous backup keep unchanged blobs from taking space twice.
case "$BLOBS" in
local)
    PREVIOUS=$(ls -1d "$ROOT"/optima-* 2>/dev/null | grep -v "$DEST" | tail -n 1 || true)
    if [[ -n "$PREVIOUS" && -d "$PREVIOUS/blobs" ]]; then
        rsync -a --link-dest="$PREVIOUS/blobs" "$DATA/blobs/" "$DEST/blobs/"
    else
        rsync -a "$DATA/blobs/" "$DEST/blobs/"
    fi
    ;;
gcs)
    # The mirror's files are replaced by rename, so earlier backups keep their own copies.
    "$OPTIMA" storage copy "${CONFIG_ARGS[@]}" --from gcs --to local --data-dir "$ROOT/gcs-mirror"
    cp -al "$ROOT/gcs-mirror/blobs" "$DEST/blobs"
    ;;
*)
    echo "BLOBS must be local or gcs, not $BLOBS" >&2
    exit 2
    ;;
esac
# Secrets given in config or env leave no keys folder.
if [[ -d "$DATA/keys" ]]; then rsync -a "$DATA/keys/" "$DEST/keys/"; fi
echo "backup written to $DEST ($(du -sh "$DEST" | cut -f1))"
