#!/usr/bin/env bash
# Install whatever is missing (and only that) from Debian's archive to build
# and test the escalation extension against PostgreSQL 15.
# scripts/install-deps.sh --perf also installs perf (linux-perf), which
# bench/run insert uses with BENCH_PERF=1 (and installs this way).
#
# Idempotent: when everything is present it changes nothing and runs no
# apt-get at all. Runs `apt-get update` at most once, and only when a package
# has to be installed. Uses sudo when not run as root.
set -euo pipefail

PGVER=15
PGBIN=/usr/lib/postgresql/$PGVER/bin
PGSHARE=/usr/share/postgresql/$PGVER

log() { printf '==> install-deps: %s\n' "$*"; }
die() { printf '==> install-deps: ERROR: %s\n' "$*" >&2; exit 1; }

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# --perf: perf (linux-perf) as well, for bench/run insert's BENCH_PERF=1
with_perf=0
for arg in "$@"; do
    case $arg in
        --perf) with_perf=1 ;;
        *) die "unknown option: $arg (known: --perf)" ;;
    esac
done

missing=()
# need PACKAGE TEST...: queue PACKAGE unless it (or TEST) shows it is present.
need() {
    local pkg=$1
    shift
    if pkg_installed "$pkg" || "$@" >/dev/null 2>&1; then
        return 0
    fi
    missing+=("$pkg")
}

# Server, headers/PGXS, pgTAP, Perl test modules, pg_prove, toolchain.
need postgresql-$PGVER              test -x "$PGBIN/postgres"
need postgresql-common              command -v pg_virtualenv
# pgxs.mk alone is no proof: some postgresql-client packages ship it without the headers
need postgresql-server-dev-$PGVER   test -f "/usr/include/postgresql/$PGVER/server/postgres.h"
need postgresql-$PGVER-pgtap        test -f "$PGSHARE/extension/pgtap.control"
need libipc-run-perl                perl -MIPC::Run -e 1
need libtap-parser-sourcehandler-pgtap-perl command -v pg_prove
need perl                           command -v prove
need gcc                            command -v gcc
need make                           command -v make
need libc6-dev                      test -f /usr/include/stdio.h
[ "$with_perf" = 0 ] || need linux-perf command -v perf

if [ ${#missing[@]} -eq 0 ]; then
    log "all build/test dependencies already present"
    exit 0
fi

log "missing: ${missing[*]}"

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    die "need root or sudo to install: ${missing[*]} (run as root, install sudo, or install these packages by hand)"
fi

export DEBIAN_FRONTEND=noninteractive
APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y
     -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

APTLOG=$(mktemp /tmp/escalation-apt.XXXXXX)
trap 'rm -f "$APTLOG"' EXIT
apt_run() { # quiet unless it fails
    if ! "${APT[@]}" "$@" >"$APTLOG" 2>&1; then
        tail -n 40 "$APTLOG" >&2
        die "apt-get $* failed"
    fi
}

log "apt-get update"
apt_run update

log "apt-get install ${missing[*]}"
apt_run install --no-install-recommends "${missing[@]}"

# Re-check so that a package that installed but did not provide what we need
# is reported here rather than as a confusing build/test failure later.
still=("${missing[@]}")
missing=()
for p in "${still[@]}"; do
    pkg_installed "$p" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] || die "still missing after install: ${missing[*]}"
command -v pg_prove >/dev/null || die "pg_prove not found after install"
command -v pg_virtualenv >/dev/null || die "pg_virtualenv not found after install"

log "installed: ${still[*]}"
