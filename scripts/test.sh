#!/usr/bin/env bash
# Full test run for the escalation extension (what `make test` and CI run):
#
#   1. scripts/install-deps.sh   (installs only what is missing)
#   2. scripts/build.sh          (clean, -Werror build, make install)
#   3. in ONE throwaway cluster  (pg_virtualenv, escalation preloaded):
#        dashboard  scripts/gen_dashboard_test.py --check (sql/dashboard.sql
#                   in sync with docs/grafana/escalation-metrics.json)
#        regress    make installcheck, REGRESS part   (sql/ + expected/)
#        isolation  make installcheck, ISOLATION part (test/isolation/specs)
#        pgtap      make pgtap                        (test/pgtap/*.sql)
#        upgrade    test/upgrade/run.sh (released scripts frozen; 1.0 walked
#                   up by ALTER EXTENSION UPDATE = a fresh install)
#   4. tap          prove test/t/*.pl (PostgreSQL::Test::Cluster), if any
#   5. fuzz         a short run of each libFuzzer harness (test/fuzz/run.sh),
#                   where clang is installed (scripts/install-fuzz-deps.sh)
#
# Every suite runs even when an earlier one failed. Counts are per individual
# test, and the last line printed is always
#     escalation: N passed, N failed
# The exit status is non-zero when anything failed.
set -euo pipefail

PGVER=15
PGBIN=/usr/lib/postgresql/$PGVER/bin
PGXS_DIR=/usr/lib/postgresql/$PGVER/lib/pgxs
export PG_CONFIG=${PG_CONFIG:-$PGBIN/pg_config}

SELF=$(readlink -f "$0")
ROOT=$(dirname "$(dirname "$SELF")")
cd "$ROOT"

log() { printf '==> test: %s\n' "$*"; }

# ---------------------------------------------------------------------------
# Output parsers. Each prints "PASSED FAILED" for one suite's log file.

# pg_regress / pg_isolation_regress. PG <= 15 prints
#   test setup                  ... ok           12 ms
#        attach                 ... FAILED       30 ms     (parallel group)
#   and a summary " All 12 tests passed. " / " 2 of 12 tests failed. ";
# PG >= 16 prints TAP-ish "ok 1 - setup" / "not ok 2 - attach" lines.
# Per-test lines are counted; the summary is the fallback.
parse_pg_regress() {
    awk '
        /^(test |   +)[^ ].* \.\.\. +ok( |$)/                     { p++; next }
        /^(test |   +)[^ ].* \.\.\. +failed \(ignored\)/          { p++; next }
        /^(test |   +)[^ ].* \.\.\. +FAILED/                      { f++; next }
        /^ok [0-9]+ /                                            { p++; next }
        /^not ok [0-9]+ /                                        { f++; next }
        /^[ #]*All [0-9]+ tests passed/ {
            for (i = 1; i <= NF; i++) if ($i == "All") { st = $(i + 1); sf = 0; seen = 1 }
            next
        }
        /^[ #]*[0-9]+ of [0-9]+ tests (failed|passed)/ {
            sub(/^[ #]*/, "")
            if ($5 ~ /^failed/) { sf = $1; st = $3 }
            else                { st = $3; sf = $3 - $1 }
            if ($0 ~ /ignored/ && $5 ~ /^failed/) {
                # "F of T tests failed, I of these failures ignored."
                split($0, a, ", "); split(a[2], b, " "); sf -= b[1]
            } else if ($0 ~ /ignored/) { sf = 0 }
            seen = 1
            next
        }
        END {
            if (p + f == 0 && seen) { p = st - sf; f = sf }
            printf "%d %d\n", p, f
        }' "$1"
}

# pg_prove / prove (TAP::Harness). Total from "Files=N, Tests=M, ...";
# failures from the "Test Summary Report" ("(Wstat: W [(exited N)] Tests: T Failed: F)"),
# plus planned-but-not-run tests ("You planned X tests but ran Y").
parse_prove() {
    awk '
        /^Files=[0-9]+, Tests=[0-9]+/ {
            s = $0; sub(/^Files=[0-9]+, Tests=/, "", s); sub(/,.*/, "", s); t = s + 0
        }
        /\(Wstat: .*Tests: [0-9]+ Failed: [0-9]+\)/ {
            s = $0; sub(/.*Failed: /, "", s); sub(/\).*/, "", s); f += s
        }
        /You planned [0-9]+ tests? but ran [0-9]+/ {
            s = $0; sub(/.*You planned /, "", s); split(s, a, " ")
            planned = a[1]; ran = a[5] + 0
            if (planned > ran) m += planned - ran
        }
        END { p = t - f; if (p < 0) p = 0; printf "%d %d\n", p, f + m }' "$1"
}

# test/fuzz/run.sh: one "FUZZ target: runs=N crashes=C ..." line per harness
parse_fuzz() {
    awk '/^FUZZ [a-z_]+: / { if ($0 ~ / crashes=0 /) p++; else f++ }
         END { printf "%d %d\n", p, f }' "$1"
}

# a one-test check: its log says "in sync" when it passed
parse_check() {
    if grep -q 'is in sync' "$1"; then echo "1 0"; else echo "0 1"; fi
}

# record SUITE RC LOG PARSER: append "suite passed failed status" to $RESULTS.
# A suite that exits non-zero with no counted failure (crash, connection
# error, missing expected file, ...) is counted as one failure.
record() {
    local suite=$1 rc=$2 logf=$3 parser=$4 p f
    read -r p f < <("$parser" "$logf")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    if [ "$rc" -eq 0 ] && [ "$f" -gt 0 ]; then
        rc=1
    fi
    printf '%s %d %d %s\n' "$suite" "$p" "$f" "$([ "$rc" -eq 0 ] && echo ok || echo FAILED)" >>"$RESULTS"
    log "$suite: $p passed, $f failed"
}

skip() { # skip SUITE REASON
    printf '%s 0 0 skipped(%s)\n' "$1" "$2" >>"$RESULTS"
    log "$1: skipped ($2)"
}

show_diffs() { # show_diffs FILE
    if [ -s "$1" ]; then
        log "---- $1 (first 1000 lines) ----"
        head -n 1000 "$1"
        log "---- end of $1 ----"
    fi
}

# Value of a make variable as the Makefile computes it.
# shellcheck disable=SC2016  # $($*) is make syntax, not shell
make_var() {
    printf 'print-%%:\n\t@echo $($*)\n' >"$WORK/print.mk"
    make -s --no-print-directory -f Makefile -f "$WORK/print.mk" "print-$1"
}

# ---------------------------------------------------------------------------
# Inside pg_virtualenv: PGHOST/PGPORT/PGUSER/PGDATABASE/PGPASSWORD are set.
inside() {
    : "${WORK:?}" "${RESULTS:?}"
    local rc regress isolation

    log "server: $(psql -XAtc 'select version()' 2>&1 | head -n 1)"
    log "shared_preload_libraries = $(psql -XAtc 'show shared_preload_libraries' 2>&1 | head -n 1)"

    regress=$(make_var REGRESS)
    isolation=$(make_var ISOLATION)

    # -- dashboard ------------------------------------------------------------
    # sql/dashboard.sql (run by regress) is generated from the Grafana
    # dashboard's panel queries; it must be regenerated when they change
    log "dashboard: scripts/gen_dashboard_test.py --check"
    rc=0
    python3 scripts/gen_dashboard_test.py --check >"$WORK/dashboard.log" 2>&1 || rc=$?
    cat "$WORK/dashboard.log"
    record dashboard "$rc" "$WORK/dashboard.log" parse_check

    # -- regress -------------------------------------------------------------
    rm -rf results regression.diffs regression.out
    if [ -z "$regress" ]; then
        skip regress "REGRESS is empty"
    else
        log "regress: make installcheck (REGRESS: $regress)"
        rc=0
        make installcheck ISOLATION= 2>&1 | tee "$WORK/regress.log" || rc=$?
        [ "$rc" -eq 0 ] || show_diffs regression.diffs
        record regress "$rc" "$WORK/regress.log" parse_pg_regress
    fi

    # -- isolation -------------------------------------------------------------
    rm -rf test/isolation/output_iso
    if [ -z "$isolation" ]; then
        skip isolation "no test/isolation/specs/*.spec"
    else
        log "isolation: make installcheck (ISOLATION: $isolation)"
        rc=0
        make installcheck REGRESS= 2>&1 | tee "$WORK/isolation.log" || rc=$?
        [ "$rc" -eq 0 ] || show_diffs test/isolation/output_iso/regression.diffs
        record isolation "$rc" "$WORK/isolation.log" parse_pg_regress
    fi

    # -- pgtap -------------------------------------------------------------------
    if ! compgen -G 'test/pgtap/*.sql' >/dev/null; then
        skip pgtap "no test/pgtap/*.sql"
    else
        log "pgtap: make pgtap"
        rc=0
        make --no-print-directory pgtap 2>&1 | tee "$WORK/pgtap.log" || rc=$?
        record pgtap "$rc" "$WORK/pgtap.log" parse_prove
    fi

    # -- upgrade -------------------------------------------------------------------
    # released install scripts unchanged; every released version walked up
    # by ALTER EXTENSION UPDATE has a fresh install's catalog
    log "upgrade: test/upgrade/run.sh"
    rc=0
    test/upgrade/run.sh 2>&1 | tee "$WORK/upgrade.log" || rc=$?
    record upgrade "$rc" "$WORK/upgrade.log" parse_pg_regress
}

# ---------------------------------------------------------------------------
# TAP tests (test/t/*.pl) with PostgreSQL::Test::Cluster, outside the
# virtualenv: they start their own clusters. initdb refuses root, so as root
# they run as `postgres` from a copy of the tree that postgres owns.
run_tap() {
    local rc=0 tapdir tests t
    if ! compgen -G 'test/t/*.pl' >/dev/null; then
        skip tap "no test/t/*.pl"
        return 0
    fi
    local -a envv=(
        "PATH=$PGBIN:$PATH"
        "PG_REGRESS=$PGXS_DIR/src/test/regress/pg_regress"
        "PG_CONFIG=$PG_CONFIG"
    )
    local -a prove_cmd=(prove -I "$PGXS_DIR/src/test/perl" -I test/t)
    tests=()
    for t in test/t/*.pl; do tests+=("$t"); done

    if [ "$(id -u)" -eq 0 ]; then
        tapdir=$(mktemp -d /tmp/escalation-tap.XXXXXX)
        tar --exclude=.git --exclude=./results --exclude=./tmp_check \
            --exclude=./test/fuzz/build -cf - . \
            | tar -C "$tapdir" -xf -
        chown -R postgres: "$tapdir"
        chmod 755 "$tapdir"
        log "tap: prove ${tests[*]} (as postgres in $tapdir)"
        (
            cd "$tapdir"
            runuser -u postgres -- env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u PGPASSWORD \
                "${envv[@]}" "TESTDIR=$tapdir" \
                "${prove_cmd[@]}" "${tests[@]}"
        ) 2>&1 | tee "$WORK/tap.log" || rc=$?
        if [ "$rc" -eq 0 ]; then
            rm -rf "$tapdir"
        else
            log "tap: logs kept in $tapdir/tmp_check/log"
        fi
    else
        rm -rf tmp_check
        log "tap: prove ${tests[*]}"
        env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u PGPASSWORD \
            "${envv[@]}" "TESTDIR=$ROOT" \
            "${prove_cmd[@]}" "${tests[@]}" 2>&1 | tee "$WORK/tap.log" || rc=$?
        [ "$rc" -eq 0 ] || log "tap: logs in $ROOT/tmp_check/log"
    fi
    record tap "$rc" "$WORK/tap.log" parse_prove
}

# ---------------------------------------------------------------------------
# A short run of every libFuzzer harness (test/fuzz/run.sh), so that they
# keep building and their properties keep holding; the long runs are
# recorded in docs/reliability.md. Only where clang and libFuzzer are
# installed (scripts/install-fuzz-deps.sh); skipped otherwise.
run_fuzz_smoke() {
    local rc=0
    if ! { command -v clang-14 || command -v clang; } >/dev/null 2>&1 ||
        ! compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a' >/dev/null; then
        skip fuzz "no clang/libFuzzer: scripts/install-fuzz-deps.sh"
        return 0
    fi
    log "fuzz: test/fuzz/run.sh all ${FUZZ_SMOKE_RUNS:-5000}"
    FUZZ_WORK="$WORK/fuzz" test/fuzz/run.sh all "${FUZZ_SMOKE_RUNS:-5000}" 2>&1 |
        tee "$WORK/fuzz.log" || rc=$?
    record fuzz "$rc" "$WORK/fuzz.log" parse_fuzz
}

# ---------------------------------------------------------------------------
if [ "${1:-}" = "--inside" ]; then
    inside
    exit 0
fi

# one test run, demo or benchmark at a time on a machine (scripts/lib/machine-lock.sh)
# shellcheck source=scripts/lib/machine-lock.sh
. "$ROOT/scripts/lib/machine-lock.sh"
machine_lock test

WORK=$(mktemp -d /tmp/escalation-test.XXXXXX)
RESULTS=$WORK/results
: >"$RESULTS"
export WORK RESULTS
trap 'rm -rf "$WORK"' EXIT

# Same locale wherever this runs (CI's environment may differ from a shell's):
# the throwaway cluster is created with it, so sort order etc. are stable.
export LC_ALL=C.UTF-8 LANG=C.UTF-8
unset LANGUAGE

setup_ok=1
log "installing dependencies"
if ! "$ROOT/scripts/install-deps.sh"; then
    setup_ok=0
    printf 'setup 0 1 FAILED(install-deps)\n' >>"$RESULTS"
fi
if [ "$setup_ok" -eq 1 ]; then
    log "building"
    if ! "$ROOT/scripts/build.sh"; then
        setup_ok=0
        printf 'build 0 1 FAILED(build)\n' >>"$RESULTS"
    fi
fi

if [ "$setup_ok" -eq 1 ]; then
    log "starting throwaway PostgreSQL $PGVER cluster (pg_virtualenv)"
    rc=0
    pg_virtualenv -t -v "$PGVER" \
        -o shared_preload_libraries=escalation -o fsync=off -o escalation.worker_enabled=off \
        "$SELF" --inside || rc=$?
    if [ "$rc" -ne 0 ]; then
        # The suites' own failures are recorded by them; this is the
        # environment itself failing (cluster did not start, script died).
        printf 'pg_virtualenv 0 1 FAILED(exit=%d)\n' "$rc" >>"$RESULTS"
        log "pg_virtualenv exited with $rc"
    fi
    run_tap
fi
run_fuzz_smoke

# ---------------------------------------------------------------------------
passed=0
failed=0
log "summary"
while read -r suite p f status; do
    printf '    %-14s %5d passed %5d failed   %s\n' "$suite" "$p" "$f" "$status"
    passed=$((passed + p))
    failed=$((failed + f))
done <"$RESULTS"

echo "escalation: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
