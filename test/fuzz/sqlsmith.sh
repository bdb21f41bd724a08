#!/usr/bin/env bash
# Random SQL against a server with escalation preloaded (docs/reliability.md,
# "Fuzzing and memory").
#
#   test/fuzz/sqlsmith.sh [STATEMENTS] [SEED]      (default 10000, 1)
#
# 1. installs what is missing (scripts/install-deps.sh,
#    scripts/install-fuzz-deps.sh: sqlsmith), builds and installs the
#    extension (scripts/build.sh), under the machine lock;
# 2. starts a throwaway cluster (pg_virtualenv) with escalation preloaded,
#    and loads the demo's helpdesk (scripts/demo/*.sql: attached tickets and
#    messages, teams, agents, rules, SLA policies, calendars, two weeks of
#    traffic, routing), plus a trained triage model and a rule using it; the
#    demo leaves the worker on (naptime 1s), so it sweeps and routes while
#    sqlsmith writes;
# 3. runs sqlsmith as a superuser for STATEMENTS random statements (SELECTs
#    over every table, view and function, escalation's included, and
#    INSERT/UPDATE/DELETE/MERGE that fire escalation's triggers);
# 4. counts server crashes in the postmaster log ("terminated by signal")
#    and checks that the server still answers.
#
# Prints `SQLSMITH: statements=N ok=N errors=N crashes=N server=up|down` and
# exits non-zero on a crash or a server that is down. A crash prints the
# statement the crashed backend was running.
#
# Against a server of your own instead (a private copy of the installation
# with this tree's escalation installed, a fresh database, escalation in
# shared_preload_libraries, escalation.worker_enabled = off): steps 2-4 only,
# no machine lock, with the connection in the libpq variables and the
# server's log file in SQLSMITH_SERVER_LOG:
#
#   PGHOST=/tmp PGPORT=5532 PGUSER=postgres PGDATABASE=smith \
#   SQLSMITH_SERVER_LOG=/path/to/its/log test/fuzz/sqlsmith.sh --inside 10000 1
set -euo pipefail

PGVER=15
SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/../.." && pwd)
cd "$ROOT"

inside() {
    local n=$1 seed=$2 work logfile rc=0
    work=$(mktemp -d /tmp/escalation-sqlsmith.XXXXXX)
    logfile=${SQLSMITH_SERVER_LOG:-$(pg_lsclusters -h | awk -v v="$PGVER" '$1 == v { print $7; exit }')}

    echo "==> sqlsmith: loading the demo helpdesk"
    export PGTZ=UTC
    for f in scripts/demo/0*.sql; do
        psql -X -q -v ON_ERROR_STOP=1 -f "$f" >"$work/load.log" 2>&1 ||
            { tail -n 20 "$work/load.log"; echo "==> sqlsmith: loading $f failed"; return 1; }
    done
    psql -X -q -v ON_ERROR_STOP=1 >"$work/load.log" 2>&1 <<'SQL' ||
-- the demo's tickets all end with one team: learn their channel instead
SELECT escalation.train('helpdesk.tickets', team_column => 'channel', activate => 'always');
INSERT INTO escalation.rules (name, team_confidence_at_least, level)
VALUES ('sqlsmith: route by model', 0.6, 2);
SQL
        { tail -n 20 "$work/load.log"; echo "==> sqlsmith: training failed"; return 1; }
    psql -XAtc "SELECT 'tables ' || count(*) FROM pg_tables WHERE schemaname IN ('helpdesk', 'escalation')"
    psql -XAtc "SELECT 'tickets ' || count(*) FROM helpdesk.tickets"
    psql -XAtc "SELECT 'escalations ' || count(*) FROM escalation.escalations"

    echo "==> sqlsmith: $n statements, seed $seed"
    nice -n 19 sqlsmith --target="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=$PGUSER password=${PGPASSWORD:-}" \
        --max-queries="$n" --seed="$seed" --verbose --exclude-catalog --dump-all-queries \
        >"$work/queries.sql" 2>"$work/sqlsmith.log" || rc=$?
    grep -E '^(queries|AST)' "$work/sqlsmith.log" || true
    echo "==> sqlsmith: most frequent errors"
    grep -E '^[0-9]+[[:space:]]+(ERROR|FATAL|PANIC)' "$work/sqlsmith.log" | head -n 12 || true

    # what reached escalation: statements naming one of its objects, writes
    # to the attached helpdesk tables (its triggers fire) and to its own
    awk 'BEGIN { RS = ";\n" }
         /escalation\./ { e++ }
         /(insert into|update|delete from|merge into) +helpdesk\./ { h++ }
         /(insert into|update|delete from|merge into) +escalation\./ { w++ }
         END { printf "==> sqlsmith: %d statements name an escalation object; %d write to the attached helpdesk tables, %d to escalation'"'"'s own\n", e, h, w }' \
        "$work/queries.sql"

    local queries ok errors crashes up=down
    queries=$(awk '/^queries: / { print $2 }' "$work/sqlsmith.log" | tail -n 1)
    # progress: one character per statement, "." ok, "e" error, others odd
    ok=$(grep -E '^[.eCStT]+$' "$work/sqlsmith.log" | tr -cd '.' | wc -c)
    errors=$(grep -E '^[.eCStT]+$' "$work/sqlsmith.log" | tr -cd 'e' | wc -c)
    crashes=$(grep -c 'terminated by signal' "$logfile" || true)
    if psql -XAtc 'SELECT 1' >/dev/null 2>&1; then up=up; fi
    if [ "$crashes" -gt 0 ]; then
        echo "==> sqlsmith: crashes in $logfile:"
        grep -A3 'terminated by signal' "$logfile" | head -n 40
    fi
    echo "SQLSMITH: statements=${queries:-0} ok=$ok errors=$errors crashes=$crashes server=$up"
    rm -rf "$work"
    [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ] && [ "$up" = up ] && [ "${queries:-0}" -ge "$n" ]
}

if [ "${1:-}" = --inside ]; then
    inside "$2" "$3"
    exit
fi

N=${1:-10000}
SEED=${2:-1}

# builds and installs escalation: one at a time on a machine
# shellcheck source=scripts/lib/machine-lock.sh
. "$ROOT/scripts/lib/machine-lock.sh"
machine_lock sqlsmith
scripts/install-deps.sh
scripts/install-fuzz-deps.sh
scripts/build.sh
export LC_ALL=C.UTF-8 LANG=C.UTF-8
pg_virtualenv -t -v "$PGVER" -o shared_preload_libraries=escalation -o fsync=off \
    -o escalation.worker_enabled=off \
    "$SELF" --inside "$N" "$SEED"
