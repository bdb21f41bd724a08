#!/usr/bin/env bash
# The regression suites under valgrind's memcheck (docs/reliability.md,
# "Fuzzing and memory").
#
#   test/fuzz/valgrind.sh [REGRESS_TESTS...]
#
# The server runs under valgrind (every backend it forks with it): invalid
# reads and writes of malloc'd memory, uses of uninitialised values, bad
# frees. Debian's PostgreSQL is built without USE_VALGRIND, so memcheck sees
# a memory context's blocks, not the palloc'd chunks inside them; the fuzz
# harnesses (test/fuzz/run.sh) check chunk bounds, with every chunk its own
# malloc under AddressSanitizer. (The server with an ASan-built escalation.so
# and libasan preloaded was tried first: postgres hangs in glibc's
# bindtextdomain() at start-up with gcc 12's and clang 14's ASan runtimes.)
#
# It runs pg_regress (REGRESS, or the tests named), the isolation specs and
# pgTAP against a private copy of the PostgreSQL installation with the
# extension installed into it (make install DESTDIR=...), so the shared
# installation is never touched and no machine lock is needed; the cluster
# runs as `postgres` in a temporary directory, under `nice -n 19`. About 30x
# slower than a normal run. It prints the suites' results, then the reports
# in our code and the first few of PostgreSQL's own, and
#
#   MEMCHECK valgrind: reports=N ours=M crashes=C suites=passed|failed
#
# where `ours` counts reports with a frame in escalation's own source files.
# Exit status: non-zero when ours > 0 or a backend crashed. KEEP=1 keeps the
# directory. Installs what is missing first (scripts/install-deps.sh,
# scripts/install-fuzz-deps.sh: valgrind).
set -euo pipefail

MODE=valgrind
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PGVER=15
log() { printf '==> memcheck %s: %s\n' "$MODE" "$*"; }

# the build and test dependencies, and valgrind
"$ROOT/scripts/install-deps.sh" >/dev/null
"$ROOT/scripts/install-fuzz-deps.sh" >/dev/null

tmp=$(mktemp -d /tmp/escalation-memcheck.XXXXXX)
chmod 755 "$tmp"
cleanup() {
    if [ -f "$tmp/data/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$tmp/data" stop -m immediate >/dev/null 2>&1 || true
    fi
    if [ "${KEEP:-}" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# ---------------------------------------------------------------- a private PostgreSQL
log "copying the PostgreSQL $PGVER installation to $tmp/pg"
mkdir -p "$tmp/pg/usr/lib/postgresql" "$tmp/pg/usr/share/postgresql"
cp -a "/usr/lib/postgresql/$PGVER" "$tmp/pg/usr/lib/postgresql/"
cp -a "/usr/share/postgresql/$PGVER" "$tmp/pg/usr/share/postgresql/"
PGBIN=$tmp/pg/usr/lib/postgresql/$PGVER/bin   # finds its lib and share dirs relative to itself

log "building escalation in a copy of the tree"
mkdir -p "$tmp/src"
(cd "$ROOT" && tar --exclude=.git --exclude=./results --exclude=./tmp_check \
    --exclude=./test/fuzz/build -cf - .) | tar -C "$tmp/src" -xf -
cflags="-g"
make -s -C "$tmp/src" clean >/dev/null
make -s -C "$tmp/src" -j2 PG_CFLAGS="$cflags" >/dev/null
make -s -C "$tmp/src" install DESTDIR="$tmp/pg" PG_CFLAGS="$cflags" >/dev/null
mkdir -p "$tmp/sock" "$tmp/reports"
chown -R postgres: "$tmp" 2>/dev/null || true

# ---------------------------------------------------------------- the cluster
log "initdb"
as_pg "$PGBIN/initdb" -D "$tmp/data" -U postgres --auth=trust --no-sync \
    -E UTF8 --locale=C.UTF-8 >"$tmp/initdb.log" 2>&1
cat >>"$tmp/data/postgresql.conf" <<EOF
shared_preload_libraries = 'escalation'
escalation.worker_enabled = off
fsync = off
listen_addresses = ''
unix_socket_directories = '$tmp/sock'
max_connections = 40
log_line_prefix = '%m [%p] '
EOF

log "starting the server"
as_pg nice -n 19 valgrind --tool=memcheck --error-limit=no --num-callers=30 \
    --read-inline-info=yes --log-file="$tmp/reports/vg.%p" \
    "$PGBIN/postgres" -D "$tmp/data" >"$tmp/postmaster.log" 2>&1 &
for _ in $(seq 1 600); do
    as_pg "$PGBIN/pg_isready" -q -h "$tmp/sock" && break
    sleep 1
done
as_pg "$PGBIN/pg_isready" -q -h "$tmp/sock" || { tail -n 30 "$tmp/postmaster.log"; exit 1; }

# ---------------------------------------------------------------- the suites
regress=("$@")
pgenv=(env PGHOST="$tmp/sock" PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
       PATH="$PATH" LC_ALL=C.UTF-8 LANG=C.UTF-8)
suites_ok=passed
run_suite() { # NAME COMMAND...
    local name=$1 rc=0
    shift
    log "$name"
    (cd "$tmp/src" && as_pg "${pgenv[@]}" "$@") >"$tmp/$name.log" 2>&1 || rc=$?
    grep -E '^(test |     |ok |not ok |.* tests (passed|failed)|All |Files=|Result:)' "$tmp/$name.log" |
        grep -vE '\.\.\. ok( |$)' | tail -n 15 || true
    if [ "$rc" -ne 0 ]; then
        suites_ok=failed
        log "$name: FAILED (exit $rc)"
        head -n 60 "$tmp/src/regression.diffs" 2>/dev/null || true
    else
        log "$name: ok"
    fi
}
if [ ${#regress[@]} -gt 0 ]; then
    run_suite regress make installcheck ISOLATION= REGRESS="${regress[*]}"
else
    run_suite regress make installcheck ISOLATION=
    run_suite isolation make installcheck REGRESS=
    run_suite pgtap make --no-print-directory pgtap
fi

log "stopping the server"
as_pg "$PGBIN/pg_ctl" -D "$tmp/data" stop -m fast -t 600 >/dev/null || true
sleep 2
crashes=$(grep -c 'terminated by signal' "$tmp/postmaster.log" || true)

# ---------------------------------------------------------------- the reports
# One error per "==PID== <kind>" line, up to the next blank "==PID== " line.
# Ours: a frame in escalation.so or its source files (PostgreSQL's own
# frames have no line numbers: Debian's server has no debug symbols here)
# in the error's stack or in where the memory came from (allocation, origin
# of an uninitialised value). Not counted in the stack: the frames below
# ReceiveSharedInvalidMessages. What PostgreSQL reads there is the shared
# invalidation queue, written by every backend; valgrind remembers the
# padding bytes of this backend's own earlier, shorter messages in a slot
# as undefined, after another backend filled the slot (PostgreSQL marks
# them defined only when built with USE_VALGRIND, see
# AddCatcacheInvalidationMessage()), and whichever statement takes a lock
# next processes the queue: our trigger's SPI calls among them. Those are
# counted as PostgreSQL's, under "sinval".
ours_re="\\(($(cd "$ROOT/src" && ls ./*.c | sed 's|^\./||; s|\.c$||' | paste -sd'|'))\\.c:[0-9]+\\)"
cat "$tmp"/reports/vg.* 2>/dev/null | awk -v ours="$ours_re" '
    function is_ours(text) { return text ~ ours || text ~ /escalation\.so/ }
    !inblock && /^==[0-9]+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument .* of function|Process terminating)/ {
        inblock = 1; block = $0 "\n"; stack = ""; origin = ""; instack = 1; cut = 0
        kind = $0; sub(/^==[0-9]+== /, "", kind); next
    }
    inblock && /^==[0-9]+== *$/ {
        inblock = 0
        k = kind; sub(/ *\(0x.*$/, "", k)
        if (cut && !is_ours(stack) && !is_ours(origin)) k = k " (sinval)"
        if (is_ours(stack) || is_ours(origin)) { o++; printf "---- in escalation\n%s", block > "/dev/stderr" }
        else { p++; if (!(k in kinds)) printf "---- in PostgreSQL (first of its kind)\n%s", block > "/dev/stderr"; kinds[k]++ }
        next
    }
    inblock {
        block = block $0 "\n"
        if ($0 ~ /^==[0-9]+== +(Address 0x|Uninitialised value was created|Block was alloc)/) instack = 0
        if (instack && $0 ~ /ReceiveSharedInvalidMessages/) cut = 1
        if (!instack) origin = origin $0 "\n"
        else if (!cut) stack = stack $0 "\n"
    }
    END {
        for (k in kinds) printf "    %5d  %s\n", kinds[k], k > "/dev/stderr"
        printf "%d %d\n", o + p, o
    }' 2>"$tmp/vg-report.txt" >"$tmp/vg-count.txt"
log "reports (all of ours, the first of each kind of PostgreSQL's, then PostgreSQL's by kind)"
head -n 400 "$tmp/vg-report.txt"
read -r reports ours <"$tmp/vg-count.txt"

echo "MEMCHECK $MODE: reports=$reports ours=$ours crashes=$crashes suites=$suites_ok"
[ "$ours" -eq 0 ] && [ "$crashes" -eq 0 ]
