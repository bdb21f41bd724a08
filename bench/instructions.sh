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
#   BENCH_INTEL          1 (default) adds issue 6's variants: the whole pool
#                        into the attached table with the intel rules off
#                        ("all") and on ("intel": a sentiment rule and a
#                        team-by-model rule, the model trained as
#                        bench/insert.sh trains it), and into the bare table
#                        ("bare_all")
#
# Callgrind simulates the caches too (D1 32 kB, last level 1 MB: what the
# rest of an insert leaves of a real cache), and each variant prints its
# last-level data misses per insert beside its instructions: the cost of
# sentiment and triage is in misses more than in instructions
# (docs/design.md, session 11), and the count is the same from run to run.
#
# Last line: RESULT instructions: mix_ratio=<attached/bare, weighted>
#   escalating_ratio=<> plain_ratio=<> escalating=<instructions per insert>
#   plain=<> bare=<> escalated_pct=<> escalating_ll=<LL data misses per
#   insert> plain_ll=<> bare_escalating_ll=<> bare_plain_ll=<>, and with
#   BENCH_INTEL=1 intel_insns=<>
#   intel_ll=<> all_insns=<> all_ll=<> bare_all_insns=<> bare_all_ll=<>
#   intel_esc_ll=<last-level misses, instruction fetches included, in
#   escalation's code> intel_rest_ll=<the same in the rest of the backend>
#   all_rest_ll=<> bare_all_rest_ll=<>: what the trigger's lines evict of
#   PostgreSQL's own shows in the rest (docs/design.md, session 17)
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
count_run() {  # name count -> "instructions last-level-data-misses"
    local out="$work/$1-$2"
    run=$((run + 1))
    as_postgres valgrind --tool=callgrind --cache-sim=yes --D1=32768,8,64 --LL=1048576,16,64 \
        --callgrind-out-file="$out.cg" \
        "$bindir/postgres" --single -D "$datadir" -c config_file="$conffile" "$db" \
        < "$work/$1-$2.sql" > "$out.out" 2> "$out.err"
    if grep -q 'ERROR:' "$out.out" "$out.err"; then
        echo "instructions: an insert failed:" >&2
        grep -h -m 3 'ERROR:' "$out.out" "$out.err" >&2
        exit 1
    fi
    cg_split "$out.cg"
}

# cg_split FILE: "instructions, last-level data misses, and last-level
# misses (instruction fetches and data) in escalation's library and in the
# rest of the backend" from a callgrind profile: the self cost of every
# function, summed by the object its code is in (the current ob=; the cost
# line after a calls= line is the call's inclusive cost, left out),
# checked against the profile's total
cg_split() {
    awk '
    /^events:/ { n = NF - 1; for (i = 2; i <= NF; i++) ev[$i] = i - 1; next }
    # an object is named at its first mention, in an ob= or a cob= line,
    # and by its number after that (--compress-strings)
    /^c?ob=/ {
        s = substr($0, index($0, "=") + 1)
        if (match(s, /^\([0-9]+\)/)) {
            id = substr(s, 1, RLENGTH); rest = substr(s, RLENGTH + 2)
            if (rest != "") name[id] = rest
            s = name[id]
        }
        if ($0 ~ /^ob=/) esc = (s ~ /\/escalation\.so$/)
        next
    }
    /^calls=/ { skip = 1; next }
    /^(summary|totals):/ { for (i = 2; i <= NF; i++) total[i - 1] = $i; next }
    /^[0-9+*-]/ {
        if (skip) { skip = 0; next }
        for (i = 1; i <= n; i++) { c[esc, i] += $(i + 1); all[i] += $(i + 1) }
        next
    }
    END {
        if (all[ev["Ir"]] != total[ev["Ir"]]) {
            printf "instructions: self costs add up to %d instructions, the profile says %d\n", all[ev["Ir"]], total[ev["Ir"]] > "/dev/stderr"
            exit 1
        }
        for (e = 0; e <= 1; e++) m[e] = c[e, ev["ILmr"]] + c[e, ev["DLmr"]] + c[e, ev["DLmw"]]
        printf "%.0f %.0f %.0f %.0f\n", total[ev["Ir"]], total[ev["DLmr"]] + total[ev["DLmw"]], m[1], m[0]
    }' "$1"
}

echo "== stopping the cluster; single-user backends under callgrind"
pg_ctlcluster $cluster stop
trap 'pg_ctlcluster $cluster start >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

declare -A per ll llesc llrest
measure() {  # name table pool pool_size m N
    local name=$1 t=$2 p=$3 n=$4 m=$5 N=$6 a b
    mk "$name" "$t" "$p" "$n" "$m" $((run + 1))
    read -r a al ae ar <<< "$(count_run "$name" "$m")"
    mk "$name" "$t" "$p" "$n" "$N" $((run + 1))
    read -r b bl be br <<< "$(count_run "$name" "$N")"
    per[$name]=$(( (b - a) / (N - m) ))
    ll[$name]=$(( (bl - al) / (N - m) ))
    llesc[$name]=$(( (be - ae) / (N - m) ))
    llrest[$name]=$(( (br - ar) / (N - m) ))
    printf '   %-16s %9d instructions, %6d last-level data misses per insert (%d - %d inserts);\n' \
        "$name" "${per[$name]}" "${ll[$name]}" "$N" "$m"
    printf '   %-16s last-level misses with instruction fetches: %d in escalation'"'"'s code, %d in the rest of the backend\n' \
        "" "${llesc[$name]}" "${llrest[$name]}"
}
for spec in escalating:tickets:pool_yes:$nyes:100:500 plain:tickets:pool_no:$nno:400:1400 \
            bare_escalating:tickets_bare:pool_yes:$nyes:100:500 bare_plain:tickets_bare:pool_no:$nno:400:1400; do
    IFS=: read -r name t p n m N <<< "$spec"
    measure "$name" "$t" "$p" "$n" "$m" "$N"
done

intel_kv=""
if [ "${BENCH_INTEL:-1}" = 1 ]; then
    # the whole pool, as bench/insert.sh inserts it; single-user mode
    # needs the model trained and the rules written beforehand
    echo "== intel: the cluster up again to label the history and train the model (as bench/insert.sh does)"
    pg_ctlcluster $cluster start
    src=$(scalar "SELECT source_id FROM escalation.sources WHERE ticket_table = 'helpdesk.tickets'::regclass AND attached")
    psql_q <<SQL
CREATE TABLE bench.pool_all AS SELECT row_number() OVER (ORDER BY id) AS rn, id FROM bench.pool;
CREATE UNIQUE INDEX ON bench.pool_all (rn);
ANALYZE bench.pool_all;
SQL
    psql -X -q -v ON_ERROR_STOP=1 -P footer=off -v history="$HISTORY" -v src="$src" -f bench/insert/07_intel.sql
    nall=$(scalar "SELECT count(*) FROM bench.pool_all")
    pg_ctlcluster $cluster stop
    measure all tickets pool_all "$nall" 200 1200
    measure bare_all tickets_bare pool_all "$nall" 200 1200
    pg_ctlcluster $cluster start
    psql_q -c "UPDATE escalation.rules SET enabled = true WHERE name LIKE 'intel\\_%'"
    pg_ctlcluster $cluster stop
    measure intel tickets pool_all "$nall" 200 1200
    awk -v i="${per[intel]}" -v a="${per[all]}" -v b="${per[bare_all]}" \
        -v il="${ll[intel]}" -v al="${ll[all]}" -v bl="${ll[bare_all]}" 'BEGIN {
        printf "   sentiment and triage add %d instructions and %d last-level data misses per insert\n", i - a, il - al;
        printf "   per insert against bare: instructions %.2f (intel) and %.2f (rules alone), misses %.2f and %.2f\n",
            i / b, a / b, il / bl, al / bl }'
    # what the trigger costs the rest of the insert: PostgreSQL's own code
    # and data evicted by the trigger's (docs/design.md, session 17)
    echo "   the rest of the backend's last-level misses (its code and data, not escalation's): bare ${llrest[bare_all]}, rules alone ${llrest[all]}, intel ${llrest[intel]} per insert"
    intel_kv=" intel_insns=${per[intel]} intel_ll=${ll[intel]} all_insns=${per[all]} all_ll=${ll[all]} bare_all_insns=${per[bare_all]} bare_all_ll=${ll[bare_all]} intel_esc_ll=${llesc[intel]} intel_rest_ll=${llrest[intel]} all_rest_ll=${llrest[all]} bare_all_rest_ll=${llrest[bare_all]}"
fi

awk -v ey="${per[escalating]}" -v en="${per[plain]}" -v by="${per[bare_escalating]}" -v bn="${per[bare_plain]}" \
    -v pct="$PCT" -v f="$ESC_BENCH_RESULT" 'BEGIN {
    w = pct / 100; a = w * ey + (1 - w) * en; b = w * by + (1 - w) * bn;
    printf "== mix at %s%% escalating: attached %.0f, bare %.0f instructions per insert\n", pct, a, b;
    printf "RESULT instructions: mix_ratio=%.2f escalating_ratio=%.2f plain_ratio=%.2f escalating=%d plain=%d bare=%.0f escalated_pct=%s",
        a / b, ey / by, en / bn, ey, en, b, pct > f }'
echo " escalating_ll=${ll[escalating]} plain_ll=${ll[plain]} bare_escalating_ll=${ll[bare_escalating]} bare_plain_ll=${ll[bare_plain]}${intel_kv}" >> "$ESC_BENCH_RESULT"
