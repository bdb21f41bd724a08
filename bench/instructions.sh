#!/usr/bin/env bash
# summary: instructions per insert (callgrind) of the C trigger vs no trigger: the insert benchmark's data, free of the machine's noise
#
# bench/instructions.sh -- called as `bench/run instructions`; see
# docs/benchmarks.md ("instructions").
#
# Wall-clock figures on a small shared VM move by a third between runs of
# one build; instructions executed do not. This builds the insert
# benchmark's database (bench/insert/: the helpdesk, the 100,000 tickets of
# history, 1,000 accounts, the 50 rules, the pool of 20,000 texts), splits
# the pool into the texts that escalate and those that do not (by
# bench.pl_evaluate(), account "nobody"), stops the cluster, and runs a
# single-user backend on it under `valgrind --tool=callgrind` for each of
#   escalating  a prepared INSERT of an escalating text into the attached table
#   plain       the same for the texts that escalate nothing
#   bare_*      the same texts into the twin table without a trigger
# one insert per transaction, each with a requester never seen before. The
# count for the first M inserts is subtracted from the count for N, which
# removes the backend's start and the caches' first fill. User-space
# instructions only: the kernel's share of an insert (wake-ups, relation
# extension, page faults) is not in them.
#
# Environment:
#   BENCH_ESCALATED_PCT  share of escalating inserts in the mix (default
#                        13.5, what `bench/run insert` measures)
#   BENCH_HISTORY        tickets of history per table (default 100000)
#   BENCH_NO_BUILD       1 skips the build and install
#
# Last line: RESULT instructions: mix_ratio=<attached/bare, weighted>
#   escalating_ratio=<> plain_ratio=<> escalating=<instructions per insert>
#   plain=<> bare=<> escalated_pct=<>
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

if [ -z "${ESC_BENCH_INSIDE:-}" ]; then
    scripts/install-fuzz-deps.sh >/dev/null    # valgrind
    if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
        echo "== building and installing the extension"
        scripts/build.sh
    fi
    mkdir -p bench/out
    export ESC_BENCH_INSIDE=1
    ESC_BENCH_LOG="$root/bench/out/instructions-$(date -u +%Y%m%dT%H%M%SZ).log"
    export ESC_BENCH_LOG
    export ESC_BENCH_RESULT
    ESC_BENCH_RESULT="$(mktemp -t esc-bench-result.XXXXXX)"
    chmod 666 "$ESC_BENCH_RESULT"
    venv=(pg_virtualenv)
    [ "$(id -u)" = 0 ] && venv+=(-t)
    echo "== starting a throwaway cluster (log: ${ESC_BENCH_LOG#"$root"/})"
    set +e
    "${venv[@]}" \
        -o shared_preload_libraries=escalation \
        -o fsync=off -o synchronous_commit=off -o full_page_writes=off \
        -o autovacuum=off -o shared_buffers=512MB -o max_wal_size=8GB \
        -o escalation.worker_enabled=off \
        bash "$here/instructions.sh" "$@" 2>&1 | tee -a "$ESC_BENCH_LOG"
    rc=${PIPESTATUS[0]}
    set -e
    result="$(cat "$ESC_BENCH_RESULT")"
    rm -f "$ESC_BENCH_RESULT"
    if [ "$rc" != 0 ] || [ -z "$result" ]; then
        echo "bench/run instructions: failed (exit $rc); see ${ESC_BENCH_LOG#"$root"/}" >&2
        exit 1
    fi
    echo "$result" >> "$ESC_BENCH_LOG"
    echo "$result"
    exit 0
fi

# ---------------------------------------------------------------- inside the cluster

POOL_SIZE=20000
HISTORY="${BENCH_HISTORY:-100000}"
PCT="${BENCH_ESCALATED_PCT:-13.5}"
work="$(mktemp -d -t esc-bench-insns.XXXXXX)"
chmod 777 "$work"     # the single-user backend (postgres) writes its profiles there

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
scalar() { psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }
as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

echo "== setup: the insert benchmark's helpdesk, $HISTORY tickets of history, accounts, rules, attach"
t0=$(date +%s)
psql_q -c "CREATE EXTENSION escalation"
psql_q -f bench/insert/01_helpdesk.sql
psql_q -v pool_size="$POOL_SIZE" -f bench/insert/02_pool.sql < bench/data/vocabulary.txt >/dev/null
psql_q -v pool_size="$POOL_SIZE" -v history="$HISTORY" -f bench/insert/03_history.sql
psql_q -c "VACUUM ANALYZE helpdesk.tickets, helpdesk.tickets_bare"
psql_q -f bench/insert/04_config.sql >/dev/null
psql_q -f bench/insert/05_plpgsql.sql >/dev/null
psql_q <<'SQL'
CREATE TABLE bench.pool_split AS
SELECT p.id, EXISTS (SELECT 1 FROM bench.pl_evaluate(p.subject, p.body, p.priority, p.channel,
                                                     'nobody', jsonb_build_object('disputed_amount', p.disputed_amount),
                                                     now())) AS escalates
  FROM bench.pool p;
CREATE TABLE bench.pool_yes AS SELECT row_number() OVER (ORDER BY id) AS rn, id FROM bench.pool_split WHERE escalates;
CREATE TABLE bench.pool_no AS SELECT row_number() OVER (ORDER BY id) AS rn, id FROM bench.pool_split WHERE NOT escalates;
CREATE UNIQUE INDEX ON bench.pool_yes (rn);
CREATE UNIQUE INDEX ON bench.pool_no (rn);
VACUUM ANALYZE bench.pool_yes, bench.pool_no;
SQL
nyes=$(scalar "SELECT count(*) FROM bench.pool_yes")
nno=$(scalar "SELECT count(*) FROM bench.pool_no")
echo "   setup took $(( $(date +%s) - t0 )) s; the pool: $nyes texts escalate, $nno do not"

datadir=$(scalar "SHOW data_directory")
conffile=$(scalar "SHOW config_file")
bindir=$(pg_config --bindir)
cluster=$(pg_lsclusters -h | awk -v d="$datadir" '$6 == d {print $1, $2}')
[ -n "$cluster" ] || { echo "instructions: cannot find the cluster of $datadir" >&2; exit 1; }
db="$PGDATABASE"

# inputs: SET, PREPARE, then count EXECUTEs; requesters new to the table
mk() {  # name table pool pool_size count
    local name=$1 t=$2 p=$3 n=$4 count=$5 run=$6
    {
        echo "PREPARE ins(int, int) AS INSERT INTO helpdesk.$t (priority, channel, subject, body, requester, account, disputed_amount) SELECT p.priority, p.channel, p.subject, p.body, 'insns' || \$2 || '@example.com', 'nobody', p.disputed_amount FROM bench.$p y JOIN bench.pool p ON p.id = y.id WHERE y.rn = \$1;"
        for i in $(seq 1 "$count"); do
            echo "EXECUTE ins($(( (i * 7) % n + 1 )), $(( run * 100000 + i )));"
        done
    } > "$work/$name-$count.sql"
    chmod 644 "$work/$name-$count.sql"
}
run=0
count_run() {  # name count -> instructions
    local out="$work/$1-$2"
    run=$((run + 1))
    as_postgres valgrind --tool=callgrind --callgrind-out-file="$out.cg" \
        "$bindir/postgres" --single -D "$datadir" -c config_file="$conffile" "$db" \
        < "$work/$1-$2.sql" > "$out.out" 2> "$out.err"
    if grep -q 'ERROR:' "$out.out" "$out.err"; then
        echo "instructions: an insert failed:" >&2
        grep -h -m 3 'ERROR:' "$out.out" "$out.err" >&2
        exit 1
    fi
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out.err"
}

echo "== stopping the cluster; single-user backends under callgrind"
pg_ctlcluster $cluster stop
trap 'pg_ctlcluster $cluster start >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

declare -A per
for spec in escalating:tickets:pool_yes:$nyes:100:500 plain:tickets:pool_no:$nno:400:1400 \
            bare_escalating:tickets_bare:pool_yes:$nyes:100:500 bare_plain:tickets_bare:pool_no:$nno:400:1400; do
    IFS=: read -r name t p n m N <<< "$spec"
    mk "$name" "$t" "$p" "$n" "$m" $((run + 1))
    a=$(count_run "$name" "$m")
    mk "$name" "$t" "$p" "$n" "$N" $((run + 1))
    b=$(count_run "$name" "$N")
    per[$name]=$(( (b - a) / (N - m) ))
    printf '   %-16s %9d instructions per insert (%d - %d inserts)\n' "$name" "${per[$name]}" "$N" "$m"
done

awk -v ey="${per[escalating]}" -v en="${per[plain]}" -v by="${per[bare_escalating]}" -v bn="${per[bare_plain]}" \
    -v pct="$PCT" -v f="$ESC_BENCH_RESULT" 'BEGIN {
    w = pct / 100; a = w * ey + (1 - w) * en; b = w * by + (1 - w) * bn;
    printf "== mix at %s%% escalating: attached %.0f, bare %.0f instructions per insert\n", pct, a, b;
    printf "RESULT instructions: mix_ratio=%.2f escalating_ratio=%.2f plain_ratio=%.2f escalating=%d plain=%d bare=%.0f escalated_pct=%s\n",
        a / b, ey / by, en / bn, ey, en, b, pct > f }'
