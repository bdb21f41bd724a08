#!/usr/bin/env bash
# summary: stress with invariants: 16 clients x 5 min of helpdesk writes and agent actions while the worker sweeps and routes; 0 violations expected
#
# bench/load.sh -- called as `bench/run load`; see docs/reliability.md ("Load").
#
# Not a speed benchmark: a stress test whose result is the number of
# invariant violations, which must be 0 (the exit status is 1 otherwise).
#
# Builds and installs the extension, starts a throwaway cluster with
# escalation preloaded and its background worker ON (short naptime), and
# sets up an attached helpdesk (bench/load/01_helpdesk.sql) with teams,
# 20 agents of capacity 1-3, rules, SLA policies whose targets are seconds
# (warnings, breaches and ladder levels fire during the run) and short
# routing timeouts (bench/load/02_config.sql).  Then pgbench runs
# LOAD_CLIENTS clients for LOAD_SECONDS, as the application's login role
# (not a superuser), mixing:
#   ticket_new        a customer opens a ticket (a quarter with a rule's phrase)
#   ticket_update     status (open, pending, solved, reopened), priority
#                     (clocks move to another policy), bug status, team, text
#   message_customer  a customer writes (rules judge it; may reopen the ticket)
#   message_agent     an agent replies or writes a note (meets clocks; may set pending)
#   accept            an agent accepts its offer, or takes queued work
#   decline           an agent declines its offer
#   resolve           an agent resolves an escalation
#   reassign          a lead hands an escalation to an agent
#   availability      an agent goes online, away or offline
# while the worker fires SLA steps and routes.  After the load it waits
# (polling, with a deadline) for a worker cycle that leaves nothing due,
# stops the worker, and checks (bench/load/check.sql):
#   - every journey well-formed (replayed event by event)
#   - no escalation assigned twice (journey and offers)
#   - no agent above capacity, at any point of the journey
#   - clocks consistent with their segments
#   - clocks agree with the helpdesk's raw data (its status log, its messages)
#   - every SLA step fired once, none missed, none early, each dated right
# plus: no helpdesk transaction failed (pgbench), no SLA bookkeeping
# warning, no error in the server log.  Prints the figures and ends with
#   RESULT load: ops=<n> violations=<n> ...
#
# The server log's lines count when they come from this run: its own
# sessions (psql and pgbench connect with application_name
# escalation-load) and the server's processes (the worker, the launcher,
# the postmaster...).  A client session of anyone else who reaches the
# throwaway cluster's socket (say a stray `psql` as role root: `FATAL: role
# "root" does not exist`) is not the extension's; its lines are shown and
# counted apart, not as violations.
#
# Environment:
#   LOAD_SECONDS   duration of the load (default 300)
#   LOAD_CLIENTS   pgbench clients (default 16)
#   LOAD_NAPTIME   the worker's escalation.naptime (default 250ms)
#   LOAD_CATCHUP   seconds to wait for the worker to catch up (default 600)
#   LOAD_RATE      pgbench --rate (transactions/s in total; default: none)
#   LOAD_NO_BUILD  1 skips the build and install
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

if [ -z "${ESC_LOAD_INSIDE:-}" ]; then
    if [ "${LOAD_NO_BUILD:-${BENCH_NO_BUILD:-0}}" != 1 ]; then
        echo "== building and installing the extension"
        scripts/build.sh
    fi
    mkdir -p bench/out
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    export ESC_LOAD_INSIDE=1
    ESC_LOAD_LOG="$root/bench/out/load-$stamp.log"
    ESC_LOAD_RESULT="$(mktemp -t esc-load-result.XXXXXX)"
    # the server's own log, readable by the cluster's owner
    ESC_LOAD_SERVERLOG="$(mktemp -d -t esc-load-serverlog.XXXXXX)"
    chmod 777 "$ESC_LOAD_SERVERLOG"
    chmod 666 "$ESC_LOAD_RESULT"
    export ESC_LOAD_LOG ESC_LOAD_RESULT ESC_LOAD_SERVERLOG
    venv=(pg_virtualenv)
    [ "$(id -u)" = 0 ] && venv+=(-t)
    echo "== starting a throwaway cluster (log: ${ESC_LOAD_LOG#"$root"/})"
    set +e
    "${venv[@]}" \
        -o shared_preload_libraries=escalation \
        -o escalation.worker_enabled=on \
        -o "escalation.naptime=${LOAD_NAPTIME:-250ms}" \
        -o escalation.launcher_naptime=1s \
        -o escalation.batch_size=200 \
        -o max_connections=60 -o shared_buffers=512MB \
        -o fsync=off -o synchronous_commit=off -o full_page_writes=off \
        -o logging_collector=on -o "log_directory=$ESC_LOAD_SERVERLOG" \
        -o log_filename=postgresql.log \
        -o "log_line_prefix=%m [%p] %b %a: " \
        -o log_lock_waits=on \
        bash "$here/load.sh" "$@" 2>&1 | tee -a "$ESC_LOAD_LOG"
    rc=${PIPESTATUS[0]}
    set -e
    cp "$ESC_LOAD_SERVERLOG/postgresql.log" "$root/bench/out/load-$stamp-server.log" 2>/dev/null || true
    rm -rf "$ESC_LOAD_SERVERLOG"
    result="$(cat "$ESC_LOAD_RESULT")"
    rm -f "$ESC_LOAD_RESULT"
    if [ -z "$result" ]; then
        echo "bench/run load: failed (exit $rc) before its result; see ${ESC_LOAD_LOG#"$root"/}" >&2
        exit 1
    fi
    echo "$result" >> "$ESC_LOAD_LOG"
    echo "$result"
    exit "$rc"
fi

# ---------------------------------------------------------------- inside the cluster
SECONDS_LOAD="${LOAD_SECONDS:-300}"
CLIENTS="${LOAD_CLIENTS:-16}"
CATCHUP="${LOAD_CATCHUP:-600}"
TOL=2       # seconds: a writer is dated at its transaction's start (check.sql)
psql_q() { psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }
serverlog="$ESC_LOAD_SERVERLOG/postgresql.log"
# every session of this run names itself (log_line_prefix has %b %a)
export PGAPPNAME=escalation-load

echo "== machine: $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); $(psql_q -c 'SELECT version()' | cut -d, -f1)"
echo "== setup: attached helpdesk, 20 agents (capacity 1-3), 8 rules, 3 SLA policies (targets of seconds)"
load_password="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
psql_q -v load_password="$load_password" -1 -f "$here/load/01_helpdesk.sql" >/dev/null
psql_q -1 -f "$here/load/02_config.sql" >/dev/null
# a helpdesk already at work: 1,000 tickets, so that the load spreads
# over many tickets from its start
PGUSER=load_app PGPASSWORD="$load_password" pgbench -n -c 4 -j 2 -t 250 \
    -f "$here/load/ticket_new.pgbench" >/dev/null

# the worker serves this database (it starts once the extension is there)
deadline=$((SECONDS + 60))
until [ "$(psql_q -c "SELECT count(*) FROM escalation.workers WHERE database = current_database() AND state = 'running' AND pid IS NOT NULL")" = 1 ]; do
    if [ $SECONDS -ge $deadline ]; then
        echo "the worker did not start within 60 s" >&2
        exit 1
    fi
    sleep 0.2
done
echo "== worker: $(psql_q -c "SELECT 'pid ' || pid || ', naptime ' || current_setting('escalation.naptime') FROM escalation.workers WHERE database = current_database()")"

# ---------------------------------------------------------------- the load
weights=(ticket_new@10 ticket_update@20 message_customer@14 message_agent@16
         accept@14 decline@4 resolve@12 reassign@2 availability@2)
fargs=()
for w in "${weights[@]}"; do
    fargs+=(-f "$here/load/${w%@*}.pgbench@${w#*@}")
done
rate=()
[ -n "${LOAD_RATE:-}" ] && rate=(--rate "$LOAD_RATE")
pgbench_out="$(mktemp)"
echo "== load: $CLIENTS clients for $SECONDS_LOAD s (pgbench as load_app, not a superuser): ${weights[*]}"
set +e
PGUSER=load_app PGPASSWORD="$load_password" \
    pgbench -n -c "$CLIENTS" -j 2 -T "$SECONDS_LOAD" -P 30 --failures-detailed "${rate[@]}" "${fargs[@]}" \
    >"$pgbench_out" 2>&1
pgbench_rc=$?
set -e
load_end="$(psql_q -c 'SELECT clock_timestamp()')"
grep -v '^pgbench: client [0-9]* ' "$pgbench_out" | sed 's/^/   /'
client_errors="$(grep -c '^pgbench: .*client [0-9]* \(aborted\|script [0-9]* aborted\)' "$pgbench_out" || true)"
grep '^pgbench: .*client [0-9]* ' "$pgbench_out" | sed -n '1,5s/^/   /p' || true
failed_tx="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$pgbench_out" | head -1)"
failed_tx="${failed_tx:-0}"
total_tx="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$pgbench_out" | head -1)"
total_tx="${total_tx:-0}"
tps="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$pgbench_out" | head -1)"
# transactions per script, in the order given
declare -A script_tx=()
while read -r name n; do
    script_tx[$name]=$n
done < <(awk '/^SQL script [0-9]+: / { n = $NF; sub(/.*\//, "", n); sub(/\.pgbench$/, "", n) }
              /^ - [0-9]+ transactions/ && n != "" { print n, $2; n = "" }' "$pgbench_out")

# ---------------------------------------------------------------- the worker catches up
echo "== load ended; waiting (at most $CATCHUP s) for a worker cycle that leaves nothing due"
catchup_start=$SECONDS
as_of=""
# A cycle fires everything due by its start (all its batches use that
# instant) unless it stops at its naptime with work left, when the next
# starts at once.  So: take a cycle that started after the load; once it
# is over (a later one started, or it ended), nothing due by its start
# may be left, else take the next one.  (Routing keeps the worker busy
# after the load: queued escalations nobody takes overflow again and
# again, so cycles rarely end idle.)
cycle=""
while [ -z "$as_of" ]; do
    if [ -z "$cycle" ]; then
        cycle="$(psql_q -c "SELECT last_cycle_start FROM escalation.workers
                             WHERE database = current_database() AND last_cycle_start > '$load_end'")"
    elif [ "$(psql_q -c "SELECT last_cycle_start > '$cycle' OR last_cycle_end >= '$cycle'
                           FROM escalation.workers WHERE database = current_database()")" = t ]; then
        if [ "$(psql_q -c "SELECT NOT EXISTS (SELECT 1 FROM escalation.clocks c WHERE c.next_at <= '$cycle')
                              AND NOT EXISTS (SELECT 1 FROM escalation.notifications n
                                               WHERE n.sent_at IS NULL AND n.notify_at <= '$cycle')")" = t ]; then
            as_of="$cycle"
            break
        fi
        cycle=""
    fi
    if [ $((SECONDS - catchup_start)) -ge "$CATCHUP" ]; then
        echo "the worker did not catch up within $CATCHUP s" >&2
        break
    fi
    sleep 0.2
done
catchup=$((SECONDS - catchup_start))
caught_up=1
if [ -z "$as_of" ]; then
    caught_up=0
    as_of="$(psql_q -c 'SELECT clock_timestamp()')"
fi
echo "   caught up after ${catchup} s: the cycle of $as_of fired everything due"

worker_stats="$(psql_q -F ' ' -c "SELECT cycles, items_total, errors FROM escalation.workers WHERE database = current_database()")"
read -r worker_cycles worker_items worker_errors <<<"${worker_stats:-0 0 0}"

# the worker stops, so that the checks read a database at rest
psql_q -c 'ALTER SYSTEM SET escalation.worker_enabled = off' -c 'SELECT pg_reload_conf()' >/dev/null
deadline=$((SECONDS + 60))
until [ "$(psql_q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'escalation worker'")" = 0 ]; do
    if [ $SECONDS -ge $deadline ]; then
        echo "the worker did not stop within 60 s" >&2
        break
    fi
    sleep 0.2
done

# ---------------------------------------------------------------- the invariants
echo "== invariants (bench/load/check.sql, as of $as_of, slack $TOL s)"
psql -X -v ON_ERROR_STOP=1 -v as_of="$as_of" -v tol="$TOL" -P pager=off -f "$here/load/check.sql" \
    | sed 's/^/   /'
invariant_violations="$(psql_q -c 'SELECT coalesce(sum(violations), 0) FROM bench.invariants')"

# the server's log: SLA bookkeeping that failed (a WARNING, the helpdesk's
# write went on), and errors (a helpdesk write or a worker batch that failed)
# Only this run's lines: a client backend's must carry its application_name
# (log_line_prefix "%m [%p] %b %a: "); other processes are the server's own.
# A line of another client session is counted apart (see the header).
ownlog="$(mktemp)"
awk '/ client backend / && !/ client backend escalation-load: / { next } { print }' "$serverlog" >"$ownlog"
sla_warnings="$(grep -c 'SLA clocks of ticket' "$ownlog" || true)"
# (the worker stopped on purpose for the checks is not one)
errors_re=' \(ERROR\|FATAL\|PANIC\): '
stopped_re='terminating background worker "escalation worker" due to administrator command'
log_errors="$(grep "$errors_re" "$ownlog" | grep -vc "$stopped_re" || true)"
if [ "$log_errors" != 0 ]; then
    echo "== errors in the server log (first 10):"
    grep -A2 "$errors_re" "$ownlog" | grep -v "$stopped_re" | sed -n '1,30s/^/   /p'
fi
rm -f "$ownlog"
other_errors="$(grep ' client backend ' "$serverlog" | grep -v ' client backend escalation-load: ' | grep -c "$errors_re" || true)"
if [ "$other_errors" != 0 ]; then
    echo "== $other_errors error lines from client sessions not of this run (not counted):"
    grep ' client backend ' "$serverlog" | grep -v ' client backend escalation-load: ' | grep "$errors_re" | sed -n '1,5s/^/   /p'
fi
deadlocks="$(psql_q -c "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")"

# ---------------------------------------------------------------- the figures
echo "== operations (pgbench transactions per script; agent actions by outcome)"
ops=0
for w in "${weights[@]}"; do
    n="${script_tx[${w%@*}]:-0}"
    ops=$((ops + n))
    printf '   %-18s %8d\n' "${w%@*}" "$n"
done
psql -X -P pager=off -c "SELECT kind, count(*) FILTER (WHERE outcome NOT IN ('refused', 'nothing to do')) AS done,
                                count(*) FILTER (WHERE outcome = 'refused') AS refused,
                                count(*) FILTER (WHERE outcome = 'nothing to do') AS nothing_to_do
                           FROM bench.ops GROUP BY kind ORDER BY kind" | sed 's/^/   /'
echo "== what happened"
psql -X -P pager=off <<'SQL' | sed 's/^/   /'
SELECT (SELECT count(*) FROM helpdesk.tickets) AS tickets,
       (SELECT count(*) FROM helpdesk.messages) AS messages,
       (SELECT count(*) FROM helpdesk.ticket_status_log) - (SELECT count(*) FROM helpdesk.tickets) AS ticket_changes,
       (SELECT count(*) FROM escalation.escalations) AS escalations,
       (SELECT count(*) FROM escalation.escalations WHERE origin = 'sla') AS by_sla,
       (SELECT count(*) FROM escalation.events) AS events;
SELECT event, count(*) FROM escalation.events GROUP BY event ORDER BY count(*) DESC;
SELECT kind, outcome, count(*) FROM escalation.assignments GROUP BY 1, 2 ORDER BY 1, 2;
SELECT kind, count(*) AS firings,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM fired_at - due_at))::numeric, 2) AS lag_p50_s,
       round(max(extract(epoch FROM fired_at - due_at))::numeric, 2) AS lag_max_s
  FROM escalation.clock_firings GROUP BY kind ORDER BY kind;
SELECT count(*) AS clocks, count(*) FILTER (WHERE state = 'running') AS running,
       count(*) FILTER (WHERE state = 'paused') AS paused, count(*) FILTER (WHERE state = 'met') AS met,
       count(*) FILTER (WHERE state = 'stopped') AS stopped,
       (SELECT count(*) FROM escalation.clock_segments) AS segments
  FROM escalation.clocks;
SQL
echo "   worker: $worker_cycles cycles, $worker_items clock steps, notifications and routing decisions, $worker_errors errors"
echo "   deadlocks (pg_stat_database): $deadlocks; worker errors: $worker_errors; SLA bookkeeping warnings: $sla_warnings; server log errors: $log_errors"

# ---------------------------------------------------------------- the verdict
violations=$((invariant_violations + client_errors + failed_tx + sla_warnings + log_errors + worker_errors + (1 - caught_up)))
[ "$pgbench_rc" = 0 ] || violations=$((violations + 1))
read -r tickets messages escalations offers firings agents_full <<<"$(psql_q -F ' ' -c "
    SELECT (SELECT count(*) FROM helpdesk.tickets), (SELECT count(*) FROM helpdesk.messages),
           (SELECT count(*) FROM escalation.escalations), (SELECT count(*) FROM escalation.assignments),
           (SELECT count(*) FROM escalation.clock_firings), (SELECT n FROM bench.figures WHERE name = 'assignments that filled the agent')" 2>/dev/null || echo "0 0 0 0 0 0")"
result="RESULT load: ops=$ops violations=$violations clients=$CLIENTS seconds=$SECONDS_LOAD tps=${tps:-0} tickets=$tickets messages=$messages escalations=$escalations offers=$offers firings=$firings assignments_at_capacity=$agents_full failed_tx=$failed_tx deadlocks=$deadlocks worker_cycles=$worker_cycles catchup_s=$catchup"
echo "$result" >"$ESC_LOAD_RESULT"
rm -f "$pgbench_out"
[ "$violations" = 0 ]
