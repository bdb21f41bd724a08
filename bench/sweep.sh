#!/usr/bin/env bash
# summary: one SLA cycle with 1,000 clocks due, at 10k vs 1M open tickets (cost follows what is due)
#
# bench/sweep.sh -- called as `bench/run sweep`; see docs/benchmarks.md.
#
# Builds and installs the extension, starts a throwaway cluster with
# escalation preloaded, attaches a ticket table with one SLA policy (first
# response within 1 hour, 24x7, no warnings: each due clock is one breach),
# and for each scale (10,000 and 1,000,000 open tickets, of which 1,000
# are past their breach) times escalation.run_cycle(as_of): each run is
# rolled back (a subtransaction that raises) so that every run sees the
# same 1,000 due clocks.  Beside it, the naive sweep: finding the breached
# clocks by computing each open clock's due time (what a scan of open
# tickets costs).  The open tickets and their clocks are bulk-loaded with
# the triggers off (the trigger path is the insert benchmark's subject);
# clocks are the rows the trigger would have written.
#
# Environment:
#   BENCH_RUNS      timed cycles per scale (default 7; the median counts)
#   BENCH_DUE       clocks due per cycle (default 1000)
#   BENCH_NO_BUILD  1 skips the build and install
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
    ESC_BENCH_LOG="$root/bench/out/sweep-$(date -u +%Y%m%dT%H%M%SZ).log"
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
        -o autovacuum=off -o shared_buffers=2GB -o max_wal_size=8GB \
        -o escalation.worker_enabled=off \
        bash "$here/sweep.sh" "$@" 2>&1 | tee -a "$ESC_BENCH_LOG"
    rc=${PIPESTATUS[0]}
    set -e
    result="$(cat "$ESC_BENCH_RESULT")"
    rm -f "$ESC_BENCH_RESULT"
    if [ "$rc" != 0 ] || [ -z "$result" ]; then
        echo "bench/run sweep: failed (exit $rc); see ${ESC_BENCH_LOG#"$root"/}" >&2
        exit 1
    fi
    echo "$result" >> "$ESC_BENCH_LOG"
    echo "$result"
    exit 0
fi

# ---------------------------------------------------------------- inside the cluster
RUNS="${BENCH_RUNS:-7}"
DUE="${BENCH_DUE:-1000}"
psql_q() { psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }

echo "== $(psql_q -c 'select version()')"
psql_q <<'SQL'
CREATE EXTENSION escalation;
CREATE SCHEMA bench;
-- one cycle, timed and rolled back, so that every run finds the same clocks due
CREATE FUNCTION bench.timed_cycle(as_of timestamptz, OUT ms float8, OUT handled integer)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
BEGIN
    BEGIN
        t0 := clock_timestamp();
        handled := escalation.run_cycle(as_of);
        ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
        RAISE EXCEPTION 'roll the cycle back';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
END
$$;
-- the naive sweep: compute every open clock's due time
CREATE FUNCTION bench.timed_naive(as_of timestamptz, OUT ms float8, OUT n_due bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    SELECT count(*) INTO n_due FROM escalation.clocks c
     WHERE c.state = 'running'
       AND escalation.sla_add(c.calendar, c.running_since,
                              extract(epoch FROM c.target - c.elapsed)::float8) <= as_of;
    ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
END
$$;
CREATE TABLE bench.tickets (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'open',
                            subject text, created_at timestamptz NOT NULL);
SELECT escalation.attach('bench.tickets', key => 'id', status => 'status',
                         status_map => '{"open": ["open"], "solved": ["solved"]}',
                         subject => 'subject', created_at => 'created_at', name => 'sweep');
INSERT INTO escalation.sla_policies (name, position) VALUES ('sweep', 1);
INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at)
SELECT policy_id, 'first_response', '1 hour', '{}' FROM escalation.sla_policies WHERE name = 'sweep';
SQL

# load N open tickets: DUE created 2 h before as_of (breached an hour ago),
# the rest created in the last 30 minutes (due 30-60 minutes after as_of)
load() {
    local n=$1
    psql_q -v n="$n" -v due="$DUE" <<'SQL'
TRUNCATE bench.tickets, escalation.sla_tickets, escalation.clocks, escalation.clock_segments,
         escalation.clock_firings, escalation.notifications;
ALTER TABLE bench.tickets DISABLE TRIGGER escalation_ticket;
INSERT INTO bench.tickets (id, subject, created_at)
SELECT g, 'ticket ' || g,
       CASE WHEN g <= :due THEN timestamptz '2024-06-03 10:00+00' - interval '2 hours' + g * interval '1 ms'
            ELSE timestamptz '2024-06-03 10:00+00' - (g % 1800) * interval '1 second' END
  FROM generate_series(1, :n) AS g;
ALTER TABLE bench.tickets ENABLE TRIGGER escalation_ticket;
INSERT INTO escalation.sla_tickets (source_id, ticket_key, created_at, status, fields, policy_id, updated_at)
SELECT s.source_id, t.id::text, t.created_at, 'open', '{}', p.policy_id, t.created_at
  FROM bench.tickets t, escalation.sources s, escalation.sla_policies p
 WHERE s.name = 'sweep' AND s.attached AND p.name = 'sweep';
INSERT INTO escalation.clocks (source_id, ticket_key, metric, policy_id, target, state,
                               started_at, running_since, due_at, next_at)
SELECT t.source_id, t.ticket_key, 'first_response', t.policy_id, '1 hour', 'running',
       t.created_at, t.created_at, t.created_at + interval '1 hour', t.created_at + interval '1 hour'
  FROM escalation.sla_tickets t;
INSERT INTO escalation.clock_segments (clock_id, starts) SELECT clock_id, started_at FROM escalation.clocks;
VACUUM ANALYZE bench.tickets, escalation.sla_tickets, escalation.clocks, escalation.clock_segments,
               escalation.clock_firings, escalation.notifications;
SQL
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

declare -A cycle naive
for n in 10000 1000000; do
    echo "== $n open tickets, $DUE due"
    t0=$(date +%s)
    load "$n"
    echo "   loaded in $(( $(date +%s) - t0 )) s"
    # warm-up, and a check that the cycle handles exactly what is due
    handled=$(psql_q -c "SELECT handled FROM bench.timed_cycle('2024-06-03 10:00+00')")
    if [ "$handled" != "$DUE" ]; then
        echo "   ERROR: the cycle handled $handled clocks, expected $DUE" >&2
        exit 1
    fi
    runs=()
    for _ in $(seq "$RUNS"); do
        runs+=("$(psql_q -c "SELECT round(ms::numeric, 2) FROM bench.timed_cycle('2024-06-03 10:00+00')")")
    done
    cycle[$n]=$(printf '%s\n' "${runs[@]}" | median)
    echo "   cycle (run_cycle, rolled back): ${runs[*]} ms; median ${cycle[$n]} ms"
    runs=()
    for _ in 1 2 3; do
        runs+=("$(psql_q -c "SELECT round(ms::numeric, 2) || ' ' || n_due FROM bench.timed_naive('2024-06-03 10:00+00')" | awk '{print $1}')")
    done
    naive[$n]=$(printf '%s\n' "${runs[@]}" | median)
    echo "   naive sweep (due time of every open clock): ${runs[*]} ms; median ${naive[$n]} ms"
    psql_q -c "EXPLAIN (COSTS OFF) SELECT * FROM escalation.clocks x WHERE x.next_at <= '2024-06-03 10:00+00' ORDER BY x.next_at LIMIT 500 FOR UPDATE SKIP LOCKED" | sed 's/^/   plan: /'
done

ratio=$(awk -v a="${cycle[1000000]}" -v b="${cycle[10000]}" 'BEGIN { printf "%.2f", a / b }')
bps=$(awk -v ms="${cycle[1000000]}" -v n="$DUE" 'BEGIN { printf "%d", n / (ms / 1000) }')
naive_ratio=$(awk -v a="${naive[1000000]}" -v b="${naive[10000]}" 'BEGIN { printf "%.1f", a / b }')
echo "== one cycle with $DUE due: ${cycle[10000]} ms at 10k open, ${cycle[1000000]} ms at 1M open (target scale_ratio <= 1.5)"
echo "   naive sweep: ${naive[10000]} ms at 10k open, ${naive[1000000]} ms at 1M open (x$naive_ratio)"
echo "RESULT sweep: scale_ratio=$ratio breaches_per_s=$bps cycle_10k_ms=${cycle[10000]} cycle_1m_ms=${cycle[1000000]} naive_10k_ms=${naive[10000]} naive_1m_ms=${naive[1000000]}" > "$ESC_BENCH_RESULT"
