#!/usr/bin/env bash
# Clean, build warning-free (-Werror), and install the escalation extension
# into the local PostgreSQL 15 (sudo for the install when not root).
set -euo pipefail

cd "$(dirname "$0")/.."

log() { printf '==> build: %s\n' "$*"; }
die() { printf '==> build: ERROR: %s\n' "$*" >&2; exit 1; }

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
[ -x "$PG_CONFIG" ] || PG_CONFIG=pg_config
export PG_CONFIG

WARN_CFLAGS="-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror"
JOBS=$(nproc 2>/dev/null || echo 2)

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    die "need root or sudo for 'make install'"
fi

log "make clean"
make -s clean >/dev/null

log "make (PG_CFLAGS=$WARN_CFLAGS)"
make -s -j"$JOBS" PG_CFLAGS="$WARN_CFLAGS"

log "make install"
"${SUDO[@]}" make -s install PG_CONFIG="$PG_CONFIG" PG_CFLAGS="$WARN_CFLAGS" >/dev/null

log "ok"
