#!/usr/bin/env bash
# summary: a real ServiceNow incident event log (../shared, CC BY 4.0) replayed as INSERT/UPDATE into an attached table vs a bare twin; the metric views vs the same figures from the raw events
#
# bench/replay.sh -- called as `bench/run replay`; see docs/benchmarks.md.
#
# Reads ../shared/data/servicenow_incident_log/incident_event_log.csv.gz
# (UCI "Incident management process enriched event log", Amaral, Fantinato,
# Peres 2018, https://doi.org/10.24432/C57S4H, CC BY 4.0) at run time; the
# data is never copied into the project.  Builds and installs the
# extension, starts a throwaway cluster with escalation preloaded (worker
# off) and:
#
#   load     the CSV into a staging table (bench/replay/01_load.sql): typed
#            events, '?' as NULL, times as UTC, each incident's events in
#            sys_mod_count order, all of them in time order;
#   tables   an incident table shaped like the log, attached (status map,
#            opened_at, sys_updated_at, resolved_at, priority, contact_type,
#            assignment_group, assigned_to; no rules), and a bare twin
#            without trigger (02_tables.sql);
#   replay   every event in time order, the first of an incident as an
#            INSERT, the later ones as an UPDATE of the whole row, one
#            transaction each (03_replay.sql); bare and attached alternate,
#            BENCH_ROUNDS rounds each, the fastest of each counts; then
#            `SELECT escalation.fold_facts()` (timed) folds what the last
#            attached round logged;
#   figures  from escalation's views: incidents per month, resolution time
#            p50/p90 by priority, share of incidents transferred at least
#            once (overall and for the five largest assignment groups),
#            transfers, reopen rate; and the same computed independently
#            from the raw events with plain SQL (04_figures.sql); printed
#            side by side.
#
# Ends with
#   RESULT replay: events_per_s=<attached replay> cost_ratio=<attached / bare replay> agree=<true|false>
#
# Environment:
#   REPLAY_DATA     directory of the log (default ../shared/data/servicenow_incident_log)
#   BENCH_ROUNDS    replay rounds per table (default 2)
#   BENCH_NO_BUILD  1 skips the build and install
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

if [ -z "${ESC_BENCH_INSIDE:-}" ]; then
    data="${REPLAY_DATA:-$root/../shared/data/servicenow_incident_log}"
    if [ ! -r "$data/incident_event_log.csv.gz" ]; then
        echo "bench/run replay: $data/incident_event_log.csv.gz not found (set REPLAY_DATA)" >&2
        exit 1
    fi
    if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
        echo "== building and installing the extension"
        scripts/build.sh
    fi
    mkdir -p bench/out
    export ESC_BENCH_INSIDE=1 REPLAY_DATA="$(cd "$data" && pwd)"
    ESC_BENCH_LOG="$root/bench/out/replay-$(date -u +%Y%m%dT%H%M%SZ).log"
    export ESC_BENCH_LOG
    export ESC_BENCH_RESULT
    ESC_BENCH_RESULT="$(mktemp -t esc-bench-result.XXXXXX)"
    chmod 666 "$ESC_BENCH_RESULT"
    venv=(pg_virtualenv)
    [ "$(id -u)" = 0 ] && venv+=(-t)
    echo "== commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
    echo "== starting a throwaway cluster (log: ${ESC_BENCH_LOG#"$root"/})"
    set +e
    "${venv[@]}" \
        -o shared_preload_libraries=escalation \
        -o fsync=off -o synchronous_commit=off -o full_page_writes=off \
        -o autovacuum=off -o shared_buffers=512MB -o max_wal_size=4GB \
        -o work_mem=64MB -o escalation.worker_enabled=off \
        bash "$here/replay.sh" "$@" 2>&1 | tee -a "$ESC_BENCH_LOG"
    rc=${PIPESTATUS[0]}
    set -e
    result="$(cat "$ESC_BENCH_RESULT")"
    rm -f "$ESC_BENCH_RESULT"
    if [ "$rc" != 0 ] || [ -z "$result" ]; then
        echo "bench/run replay: failed (exit $rc); see ${ESC_BENCH_LOG#"$root"/}" >&2
        exit 1
    fi
    echo "$result" >> "$ESC_BENCH_LOG"
    echo "$result"
    exit 0
fi

# ---------------------------------------------------------------- inside the cluster
ROUNDS="${BENCH_ROUNDS:-2}"
psql_q() { psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }
export PGTZ=UTC PGOPTIONS="-c IntervalStyle=postgres"

echo "== $(psql_q -c 'select version()')"
echo "== data: $REPLAY_DATA/incident_event_log.csv.gz (sha256 $(sha256sum "$REPLAY_DATA/incident_event_log.csv.gz" | cut -c1-16)...)"
psql_q -c "CREATE EXTENSION escalation"
t0=$(date +%s.%N)
zcat "$REPLAY_DATA/incident_event_log.csv.gz" | psql_q -f "$here/replay/01_load.sql"
read -r n_events n_incidents < <(psql_q -F ' ' -c "SELECT count(*), count(DISTINCT number) FROM replay.events")
printf '   %s events of %s incidents loaded in %.1f s\n' "$n_events" "$n_incidents" "$(echo "$(date +%s.%N) - $t0" | bc)"
psql_q -f "$here/replay/02_tables.sql" >/dev/null
psql_q -f "$here/replay/03_replay.sql"

echo "== replay: $n_events events in time order, one transaction each; bare and attached alternate, $ROUNDS rounds"
: > "$ESC_BENCH_RESULT.rounds"
for round in $(seq 1 "$ROUNDS"); do
    for table in incidents_bare incidents; do
        # truncated, not analyzed: statistics of an empty table would plan
        # the replay's UPDATE as a sequential scan for the whole run
        psql_q -c "CALL replay.reset()" >/dev/null
        secs=$(psql_q -c "CALL replay.replay_$table()")
        logged=$(psql_q -c "SELECT count(*) FROM escalation.fact_changes")
        printf '   round %s %-15s %8.2f s  %8.0f events/s  (%s writes logged for the metrics)\n' \
            "$round" "$table" "$secs" "$(echo "$n_events / $secs" | bc -l)" "$logged"
        echo "$table $secs" >> "$ESC_BENCH_RESULT.rounds"
    done
done
bare_s=$(awk '$1 == "incidents_bare" {print $2}' "$ESC_BENCH_RESULT.rounds" | sort -g | head -1)
att_s=$(awk '$1 == "incidents" {print $2}' "$ESC_BENCH_RESULT.rounds" | sort -g | head -1)
rm -f "$ESC_BENCH_RESULT.rounds"
read -r n_rows n_bare < <(psql_q -F ' ' -c "SELECT (SELECT count(*) FROM replay.incidents), (SELECT count(*) FROM replay.incidents_bare)")
[ "$n_rows" = "$n_incidents" ] || { echo "bench: attached table holds $n_rows incidents, expected $n_incidents" >&2; exit 1; }

read -r n_log fold_ms < <(psql_q -F ' ' <<'SQL'
SELECT count(*) AS n FROM escalation.fact_changes \gset
SELECT :n, round((extract(epoch FROM clock_timestamp() - now()) * 1000)::numeric, 0)
  FROM (SELECT escalation.fold_facts()) f;
SQL
)
printf '   fold_facts(): %s logged writes in %s ms (%.1f us per write)\n' "$n_log" "$fold_ms" "$(echo "$fold_ms * 1000 / $n_log" | bc -l)"

echo "== figures: escalation's views (after the fold) vs plain SQL over the raw events"
psql -X -v ON_ERROR_STOP=1 -q -P footer=off -f "$here/replay/04_figures.sql"
read -r n_fig agree < <(psql_q -F ' ' <<'SQL'
SELECT count(*), bool_and(v.value IS NOT DISTINCT FROM r.value) AND count(v.figure) = count(r.figure)
  FROM replay.figures_views v FULL JOIN replay.figures_raw r ON r.figure = v.figure AND r.key = v.key;
SQL
)
[ "$n_fig" -gt 0 ] || agree=f
[ "$agree" = t ] && agree=true || agree=false
eps=$(printf '%.0f' "$(echo "$n_events / $att_s" | bc -l)")
ratio=$(printf '%.2f' "$(echo "$att_s / $bare_s" | bc -l)")
printf '   %s figures compared; replay: bare %.2f s, attached %.2f s (fastest rounds); attached + fold %.2f s\n' \
    "$n_fig" "$bare_s" "$att_s" "$(echo "$att_s + $fold_ms / 1000" | bc -l)"
echo "RESULT replay: events_per_s=$eps cost_ratio=$ratio agree=$agree" > "$ESC_BENCH_RESULT"
cat "$ESC_BENCH_RESULT"
