#!/usr/bin/env bash
# summary: per-insert cost of a customer message on the Chatwoot and Znuny schemas, attached vs bare
#
# bench/helpdesks.sh -- called as `bench/run helpdesks`; see docs/benchmarks.md.
#
# Builds and installs the extension, starts a throwaway cluster with
# escalation preloaded (pg_virtualenv), and loads each helpdesk's real
# schema and scenario (test/fixtures/{chatwoot,znuny}_{schema,seed}.sql)
# twice: "chatwoot" and "znuny" attached as the regression tests attach
# them, with three keyword rules and one SLA policy each
# (bench/helpdesks/config.sql), and "chatwoot_bare" and "znuny_bare", the
# same tables without our triggers.  Each copy gets 2,000 more open
# tickets.  Then pgbench (one client, prepared) writes customer messages,
# one per transaction, the write that carries text on these schemas:
#   chatwoot  one INSERT into messages
#   znuny     the article row, then its article_data_mime row (the text;
#             our trigger is on that table and reads the article), in one
#             transaction, as Znuny writes them
# in alternating rounds, and reports the median per-message cost of each
# variant and the ratio attached / bare per helpdesk.
#
# Environment:
#   BENCH_SECONDS    length of one pgbench run (default 10)
#   BENCH_ROUNDS     alternating rounds (default 5)
#   BENCH_BREAKDOWN  1 (default) adds attached runs without rules, and
#                    without rules and metrics facts, to show where time goes
#   BENCH_PERF       1 records a perf profile of the backend during one more
#                    run per attached helpdesk (needs perf; data in bench/out/)
#   BENCH_NO_BUILD   1 skips the build and install
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

if [ -z "${ESC_BENCH_INSIDE:-}" ]; then
    if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
        echo "== building and installing the extension"
        scripts/build.sh
    fi
    mkdir -p bench/out
    export ESC_BENCH_INSIDE=1
    ESC_BENCH_LOG="$root/bench/out/helpdesks-$(date -u +%Y%m%dT%H%M%SZ).log"
    export ESC_BENCH_LOG
    export ESC_BENCH_RESULT
    ESC_BENCH_RESULT="$(mktemp -t esc-bench-result.XXXXXX)"
    chmod 666 "$ESC_BENCH_RESULT"
    venv=(pg_virtualenv)
    [ "$(id -u)" = 0 ] && venv+=(-t)     # a private cluster directory, even as root
    echo "== starting a throwaway cluster (log: ${ESC_BENCH_LOG#"$root"/})"
    set +e
    "${venv[@]}" \
        -o shared_preload_libraries=escalation \
        -o fsync=off -o synchronous_commit=off -o full_page_writes=off \
        -o autovacuum=off -o shared_buffers=1GB -o max_wal_size=8GB \
        -o escalation.worker_enabled=off \
        bash "$here/helpdesks.sh" "$@" 2>&1 | tee -a "$ESC_BENCH_LOG"
    rc=${PIPESTATUS[0]}
    set -e
    result="$(cat "$ESC_BENCH_RESULT")"
    rm -f "$ESC_BENCH_RESULT"
    if [ "$rc" != 0 ] || [ -z "$result" ]; then
        echo "bench/run helpdesks: failed (exit $rc); see ${ESC_BENCH_LOG#"$root"/}" >&2
        exit 1
    fi
    echo "$result" >> "$ESC_BENCH_LOG"
    echo "$result"
    exit 0
fi

# ---------------------------------------------------------------- inside the cluster

SECS="${BENCH_SECONDS:-10}"
ROUNDS="${BENCH_ROUNDS:-5}"
PGBENCH_LOG="${ESC_BENCH_LOG%.log}-pgbench.log"
work="$(mktemp -d -t esc-bench-helpdesks.XXXXXX)"
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
scalar() { psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }

# pgbench through the Unix socket when it can be reached (as insert.sh)
sockdir="$(scalar "SHOW unix_socket_directories" | cut -d, -f1)"
if [ "$(id -u)" = 0 ] && runuser -u postgres -- env PGHOST="$sockdir" PGPORT="$PGPORT" \
        psql -X -A -t -d "$PGDATABASE" -c 'SELECT 1' >/dev/null 2>&1; then
    transport="unix socket (as postgres)"
    pgbench_run() {
        runuser -u postgres -- env PGHOST="$sockdir" PGPORT="$PGPORT" PGDATABASE="$PGDATABASE" pgbench "$@"
    }
elif [ "$(id -u)" != 0 ] && PGHOST="$sockdir" psql -X -A -t -c 'SELECT 1' >/dev/null 2>&1; then
    transport="unix socket"
    pgbench_run() { PGHOST="$sockdir" pgbench "$@"; }
else
    transport="TCP ($PGHOST)"
    pgbench_run() { pgbench "$@"; }
fi

echo "== machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); $(psql -X -A -t -c 'SELECT version()' | cut -d, -f1)"
echo "== setup: Chatwoot and Znuny schemas and scenarios, twice each; attach, rules, SLA policies"
t0=$(date +%s)
psql_q -c "CREATE EXTENSION escalation"
# the schemas, then attach and configure (so the scenario and the extra
# tickets go through our triggers and start their SLA clocks), then the data
for h in chatwoot znuny; do
    for s in "$h" "${h}_bare"; do
        psql_q -c "CREATE SCHEMA $s" -c "SET search_path = $s, public" -f "test/fixtures/${h}_schema.sql" >/dev/null
    done
done
psql_q -f bench/helpdesks/config.sql >/dev/null
for h in chatwoot znuny; do
    for s in "$h" "${h}_bare"; do
        psql_q -v s="$s" -f "bench/helpdesks/$h.sql" >/dev/null
    done
done
psql_q -c "VACUUM ANALYZE"
echo "   setup took $(( $(date +%s) - t0 )) s; $(scalar "SELECT count(*) || ' rules, ' || (SELECT count(*) FROM escalation.sla_policies) || ' SLA policies, ' || (SELECT count(*) FROM escalation.clocks) || ' clocks; messages of ' || (SELECT round(avg(length(body))) FROM bench.pool) || ' characters on average' FROM escalation.rules")"

variants=(chatwoot_bare chatwoot znuny_bare znuny)
for v in "${variants[@]}"; do
    sed -e "s/@SCHEMA@/$v/g" "bench/helpdesks/${v%_bare}.pgbench.in" > "$work/$v.pgbench"
done
chmod 644 "$work"/*.pgbench

# one run: prints the per-message cost in microseconds
run() {
    local variant="$1" secs="$2" out tps
    case $variant in
        chatwoot*) tables="$variant.messages" ;;
        znuny*) tables="$variant.article, $variant.article_data_mime" ;;
    esac
    psql_q -c "VACUUM ANALYZE $tables" -c "CHECKPOINT"
    out="$(pgbench_run -n -c 1 -j 1 -M prepared -T "$secs" -f "$work/$variant.pgbench" 2>&1)" || {
        echo "$out" >&2
        return 1
    }
    printf '### %s %s s\n%s\n' "$variant" "$secs" "$out" >> "$PGBENCH_LOG"
    tps="$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | tail -1)"
    if [ -z "$tps" ]; then
        echo "$out" >&2
        return 1
    fi
    awk -v t="$tps" 'BEGIN { printf "%.1f\n", 1e6 / t }'
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "== warm-up (3 s each)"
for v in "${variants[@]}"; do run "$v" 3 >/dev/null; done

echo "== $ROUNDS rounds of ${SECS} s per variant, order rotating; pgbench -n -c 1 -j 1 -M prepared over $transport, one customer message per transaction"
declare -A costs
for v in "${variants[@]}"; do costs[$v]=""; done
for ((r = 0; r < ROUNDS; r++)); do
    line="   round $((r + 1)):"
    for ((i = 0; i < ${#variants[@]}; i++)); do
        v="${variants[$(((i + r) % ${#variants[@]}))]}"
        us="$(run "$v" "$SECS")"
        costs[$v]+=" $us"
        line+="  $v ${us} µs"
    done
    echo "$line"
done

echo "== what the attached copies did with the messages"
psql -X -v ON_ERROR_STOP=1 -P footer=off <<'SQL'
SELECT s.name AS helpdesk, count(e.*) AS escalations, count(DISTINCT e.ticket_key) AS tickets,
       (SELECT count(*) FROM escalation.clocks c WHERE c.source_id = s.source_id) AS clocks
  FROM escalation.sources s LEFT JOIN escalation.escalations e USING (source_id)
 GROUP BY s.source_id, s.name ORDER BY s.name;
SQL

if [ "${BENCH_BREAKDOWN:-1}" = 1 ]; then
    echo "== breakdown (one ${SECS} s run each, attached copies): where the time goes"
    for h in chatwoot znuny; do
        psql_q -c "UPDATE escalation.rules SET enabled = false WHERE name LIKE '$h:%'"
        echo "   $h, no rule enabled:                          $(run "$h" "$SECS") µs"
        psql_q -c "INSERT INTO escalation.metric_sources (source_id, track_facts)
                   SELECT source_id, false FROM escalation.sources WHERE name = '$h'
                   ON CONFLICT (source_id) DO UPDATE SET track_facts = false"
        echo "   $h, no rule, no metrics facts (SLA clocks only): $(run "$h" "$SECS") µs"
        psql_q -c "UPDATE escalation.rules SET enabled = true WHERE name LIKE '$h:%'" \
               -c "UPDATE escalation.metric_sources SET track_facts = true"
    done
fi

if [ "${BENCH_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
    for h in chatwoot znuny; do
        echo "== perf profile of the backend during one ${SECS} s $h (attached) run"
        perfdata="$root/bench/out/helpdesks-$h-perf.data"
        pgbench_run -n -c 1 -j 1 -M prepared -T "$((SECS + 4))" -f "$work/$h.pgbench" >"$work/perf-pgbench.txt" 2>&1 &
        bgpid=$!
        sleep 2
        bpid="$(scalar "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND state IS NOT NULL LIMIT 1")"
        if [ -n "$bpid" ]; then
            perf record -g -p "$bpid" -o "$perfdata" -- sleep "$SECS" >/dev/null 2>&1 || true
            wait "$bgpid" || true
            echo "   inclusive (children) time, top entries:"
            perf report -i "$perfdata" --children --stdio --sort symbol -g none --percent-limit 4 2>/dev/null \
                | grep '%' | head -40 | sed 's/^/   /' || true
            echo "   self time, top 20:"
            perf report -i "$perfdata" --no-children --stdio --sort dso,symbol -g none 2>/dev/null \
                | grep '%' | head -20 | sed 's/^/   /' || true
        else
            wait "$bgpid" || true
            echo "   could not find the pgbench backend"
        fi
    done
fi

echo "== per-message cost (median of $ROUNDS runs)"
declare -A ratio
for h in chatwoot znuny; do
    b="$(echo "${costs[${h}_bare]}" | median)"
    a="$(echo "${costs[$h]}" | median)"
    ratio[$h]="$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')"
    echo "   $h: bare ${b} µs, attached ${a} µs (+$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", a - b }') µs), ratio ${ratio[$h]}"
done
echo "RESULT helpdesks: chatwoot_ratio=${ratio[chatwoot]} znuny_ratio=${ratio[znuny]}" > "$ESC_BENCH_RESULT"
