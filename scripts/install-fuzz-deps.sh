#!/usr/bin/env bash
# Install whatever is missing (and only that) from Debian's archive for the
# fuzzing and memory checks in test/fuzz/ (docs/reliability.md):
#
#   clang-14, libclang-rt-14-dev   libFuzzer with AddressSanitizer and UBSan
#                                  (-fsanitize=fuzzer,address,undefined)
#   sqlsmith                       random SQL against a preloaded server
#   valgrind                       the regression suite under memcheck
#
# The normal build and test run (scripts/install-deps.sh, scripts/test.sh)
# needs none of these. Idempotent, like install-deps.sh: when everything is
# present it runs no apt-get at all.
set -euo pipefail

log() { printf '==> install-fuzz-deps: %s\n' "$*"; }
die() { printf '==> install-fuzz-deps: ERROR: %s\n' "$*" >&2; exit 1; }

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
need() {
    local pkg=$1
    shift
    if pkg_installed "$pkg" || "$@" >/dev/null 2>&1; then
        return 0
    fi
    missing+=("$pkg")
}

need clang-14            command -v clang-14
need libclang-rt-14-dev  test -f /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a
need sqlsmith            command -v sqlsmith
need valgrind            command -v valgrind

if [ ${#missing[@]} -eq 0 ]; then
    log "all fuzzing dependencies already present"
    exit 0
fi

log "missing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    die "need root or sudo to install: ${missing[*]}"
fi

APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y
     -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
APTLOG=$(mktemp /tmp/escalation-apt.XXXXXX)
trap 'rm -f "$APTLOG"' EXIT
apt_run() {
    if ! "${APT[@]}" "$@" >"$APTLOG" 2>&1; then
        tail -n 40 "$APTLOG" >&2
        die "apt-get $* failed"
    fi
}

log "apt-get update"
apt_run update
log "apt-get install ${missing[*]}"
apt_run install --no-install-recommends "${missing[@]}"

still=("${missing[@]}")
missing=()
for p in "${still[@]}"; do
    pkg_installed "$p" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] || die "still missing after install: ${missing[*]}"
log "installed: ${still[*]}"
