#!/usr/bin/env bash
# summary: routing decisions per second, 2,000 agents x 30 skills, 100k queued (C route_plan vs one SQL query)
#
# bench/routing.sh -- called as `bench/run routing`; see docs/benchmarks.md.
#
# Builds and installs the extension, starts a throwaway cluster with
# escalation preloaded (the background worker off), and loads:
#   - 30 skills, 10 teams, 2,000 agents (tiers 1-3, capacity 6-13, 85%
#     online, 8% away, 7% offline, 2% inactive; English and one of four
#     other languages), each with 13 of the 30 skills at level 1-5;
#   - an attached ticket table with one SLA policy, and 100,000 queued
#     escalations (none targets a team: every agent is a candidate before
#     the filters), each needing 2 mandatory skills, 30% with an optional
#     one, severity 1-4, a language, an account and a requester, each with
#     a running SLA clock (the queue is read in urgency order);
#   - the agents' current load: accepted escalations, 0 to capacity - 1
#     each, and every 20th agent full;
#   - 20,000 resolved escalations of the last 30 days with their accounts,
#     requesters and accepted offers (continuity and fairness have facts).
# Then it times, in alternating rounds:
#   plan   SELECT ... FROM escalation.route_plan(as_of, N): a batch of N
#          decisions (agents loaded once, queue read in urgency order, each
#          escalation scored in C), nothing written;
#   route  escalation.route(as_of, N): the same with the writes (offer under
#          the agent's row lock and a recount, assignment row, escalation
#          update, journey event, NOTIFY), rolled back after each run;
#   sql    the same choice written as one SQL query per escalation (join
#          skills, aggregate, score, ORDER BY score LIMIT 1), over the
#          first BENCH_SQL_N escalations of the queue.
# A cross-check first: for BENCH_CHECK escalations, the SQL query's choice
# scores what explain_route() ranks first.
#
# Environment:
#   BENCH_ROUNDS    alternating rounds (default 5; medians count)
#   BENCH_BATCH     decisions per plan/route batch (default 500, the
#                   worker's batch size)
#   BENCH_SQL_N     escalations per SQL round (default 300)
#   BENCH_CHECK     escalations cross-checked against explain_route (default 20)
#   BENCH_PERF      1 records a perf profile of the backend during extra
#                   plan batches (report in bench/out/)
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
    ESC_BENCH_LOG="$root/bench/out/routing-$(date -u +%Y%m%dT%H%M%SZ).log"
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
        -o autovacuum=off -o shared_buffers=2GB -o max_wal_size=8GB \
        -o escalation.worker_enabled=off \
        bash "$here/routing.sh" "$@" 2>&1 | tee -a "$ESC_BENCH_LOG"
    rc=${PIPESTATUS[0]}
    set -e
    result="$(cat "$ESC_BENCH_RESULT")"
    rm -f "$ESC_BENCH_RESULT"
    if [ "$rc" != 0 ] || [ -z "$result" ]; then
        echo "bench/run routing: failed (exit $rc); see ${ESC_BENCH_LOG#"$root"/}" >&2
        exit 1
    fi
    echo "$result" >> "$ESC_BENCH_LOG"
    # the last line of the output, and the only RESULT line
    echo "$result"
    exit 0
fi

# ---------------------------------------------------------------- inside the cluster
ROUNDS="${BENCH_ROUNDS:-5}"
BATCH="${BENCH_BATCH:-500}"
SQL_N="${BENCH_SQL_N:-300}"
CHECK="${BENCH_CHECK:-20}"
AS_OF='2024-06-03 10:00+00'
psql_q() { psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }

echo "== machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load average $(cut -d' ' -f1-3 /proc/loadavg); $(psql_q -c 'SELECT version()' | cut -d, -f1)"
echo "== setup: 2,000 agents x 30 skills, 100,000 queued escalations with SLA clocks, load, history"
t0=$(date +%s)
psql_q <<'SQL'
CREATE EXTENSION escalation;
CREATE SCHEMA bench;
SELECT setseed(0.42);

INSERT INTO escalation.skills (name) SELECT 'skill ' || lpad(s::text, 2, '0') FROM generate_series(1, 30) s;
INSERT INTO escalation.teams (name, kind, tier)
SELECT 'team ' || lpad(t::text, 2, '0'), 'functional', 1 FROM generate_series(1, 10) t;
INSERT INTO escalation.agents (agent_id, team, tier, capacity, languages, availability, active)
SELECT 'agent' || lpad(i::text, 4, '0'), 'team ' || lpad((i % 10 + 1)::text, 2, '0'),
       1 + i % 3, 6 + i % 8,
       ARRAY['en', (ARRAY['de', 'fr', 'es', 'pt'])[1 + i % 4]],
       CASE WHEN i % 100 < 85 THEN 'online' WHEN i % 100 < 93 THEN 'away' ELSE 'offline' END,
       i % 50 <> 7
  FROM generate_series(1, 2000) i;
-- 13 of the 30 skills each, at a level of 1 to 5
INSERT INTO escalation.agent_skills (agent_id, skill, level)
SELECT a.agent_id, k.name, 1 + floor(random() * 5)::int
  FROM escalation.agents a
 CROSS JOIN LATERAL (SELECT s.name FROM escalation.skills s
                      WHERE a.agent_id IS NOT NULL ORDER BY random() LIMIT 13) k;

-- the helpdesk's tickets, one SLA policy (first response within 8 hours)
CREATE TABLE bench.tickets (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'open',
                            subject text, requester text, account text, created_at timestamptz NOT NULL);
-- the index escalation.check_indexes() asks for: routing completes an
-- escalation's context (the requester's other tickets) before offering it,
-- and without this index each completion read the whole table (6 ms of the
-- 6.8 ms a routed escalation took, from session 10 to 23)
CREATE INDEX ON bench.tickets (requester, created_at);
SELECT escalation.attach('bench.tickets', key => 'id', status => 'status',
                         status_map => '{"open": ["open"], "pending": ["pending"], "solved": ["solved"]}',
                         subject => 'subject', requester => 'requester', account => 'account',
                         created_at => 'created_at', name => 'routing') AS sid \gset
INSERT INTO escalation.sla_policies (name, position) VALUES ('routing', 1);
INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at)
SELECT policy_id, 'first_response', '8 hours', '{}' FROM escalation.sla_policies WHERE name = 'routing';

-- 1..100000 queued, 100001..(load) accepted, then 20,000 resolved
ALTER TABLE bench.tickets DISABLE TRIGGER escalation_ticket;
INSERT INTO bench.tickets (id, subject, requester, account, created_at)
SELECT g, 'ticket ' || g, 'customer' || (g % 30000), 'account' || (g % 1000),
       timestamptz '2024-06-03 10:00+00' - random() * interval '10 hours'
  FROM generate_series(1, 100000) g;
ALTER TABLE bench.tickets ENABLE TRIGGER escalation_ticket;

-- the creation of escalations is the insert benchmark's subject: no journey here
ALTER TABLE escalation.escalations DISABLE TRIGGER record_event;
INSERT INTO escalation.escalations (escalation_id, source_id, ticket_key, level, kind, origin,
                                    target_skills, optional_skills, severity, status, reasons,
                                    context, language, created_at, updated_at)
SELECT t.id, :sid, t.id::text, 1, 'functional', 'manual',
       ARRAY[k.x[1], k.x[2]],
       CASE WHEN random() < 0.3 THEN ARRAY[k.x[3]] END,
       CASE WHEN r < 0.1 THEN 4 WHEN r < 0.35 THEN 3 WHEN r < 0.8 THEN 2 ELSE 1 END,
       'queued', '[]',
       jsonb_build_object('ticket', jsonb_build_object('account', t.account, 'requester', t.requester)),
       CASE WHEN random() < 0.7 THEN 'en' ELSE (ARRAY['de', 'fr', 'es', 'pt'])[1 + t.id % 4] END,
       t.created_at, t.created_at
  FROM (SELECT *, random() AS r FROM bench.tickets) t
 -- three distinct skills, drawn anew for each ticket
 CROSS JOIN LATERAL (SELECT array_agg(s.name) AS x
                       FROM (SELECT name FROM escalation.skills WHERE t.id IS NOT NULL
                              ORDER BY random() LIMIT 3) s) k;

-- the agents' load: accepted escalations, 0 .. capacity - 1, every 20th agent full
INSERT INTO escalation.escalations (escalation_id, source_id, ticket_key, level, kind, origin,
                                    target_skills, severity, status, reasons, context, agent_id,
                                    created_at, updated_at, accepted_at)
SELECT 100000 + row_number() OVER (), :sid, 'held ' || a.agent_id || ' ' || n, 1, 'functional', 'manual',
       '{skill 01}', 2, 'accepted', '[]', '{}', a.agent_id,
       timestamptz '2024-06-03 08:00+00', timestamptz '2024-06-03 08:00+00', timestamptz '2024-06-03 08:00+00'
  FROM escalation.agents a
 CROSS JOIN LATERAL generate_series(1, CASE WHEN right(a.agent_id, 2)::int % 20 = 0 THEN a.capacity
                                            ELSE floor(random() * a.capacity)::int END) n;

-- history: 20,000 resolved escalations of the last 30 days, each with its accepted offer
INSERT INTO escalation.escalations (escalation_id, source_id, ticket_key, level, kind, origin,
                                    target_skills, severity, status, reasons, context, agent_id,
                                    created_at, updated_at, accepted_at, closed_at)
SELECT 200000 + g, :sid, 'old ' || g, 1, 'functional', 'manual', '{skill 01}', 2, 'resolved', '[]',
       jsonb_build_object('ticket', jsonb_build_object('account', 'account' || (g * 7 % 1000),
                                                       'requester', 'customer' || (g * 13 % 30000))),
       'agent' || lpad((1 + (g * 37) % 2000)::text, 4, '0'),
       c - interval '3 hours', c, c - interval '2 hours', c
  FROM (SELECT g, timestamptz '2024-06-03 10:00+00' - random() * interval '30 days' AS c
          FROM generate_series(1, 20000) g) h;
ALTER TABLE escalation.escalations ENABLE TRIGGER record_event;
SELECT setval(pg_get_serial_sequence('escalation.escalations', 'escalation_id'), 300000);
INSERT INTO escalation.assignments (escalation_id, agent_id, kind, offered_at, expires_at, outcome,
                                    decided_at, total, decision)
SELECT escalation_id, agent_id, 'routed', accepted_at - interval '5 minutes', accepted_at + interval '5 minutes',
       'accepted', accepted_at, 10, '{}'
  FROM escalation.escalations WHERE status IN ('resolved', 'accepted');

-- SLA facts and a running clock for each queued ticket (urgency order reads them)
INSERT INTO escalation.sla_tickets (source_id, ticket_key, created_at, status, fields, policy_id, updated_at)
SELECT :sid, t.id::text, t.created_at, 'open', '{}', p.policy_id, t.created_at
  FROM bench.tickets t, escalation.sla_policies p WHERE p.name = 'routing';
INSERT INTO escalation.clocks (source_id, ticket_key, metric, policy_id, target, state,
                               started_at, running_since, due_at, next_at)
SELECT t.source_id, t.ticket_key, 'first_response', t.policy_id, '8 hours', 'running',
       t.created_at, t.created_at, t.created_at + interval '8 hours', t.created_at + interval '8 hours'
  FROM escalation.sla_tickets t;
VACUUM ANALYZE;
SQL
echo "   setup took $(( $(date +%s) - t0 )) s: $(psql_q -c "SELECT (SELECT count(*) FROM escalation.agents) || ' agents, '
    || (SELECT count(*) FROM escalation.agent_skills) || ' agent skills, '
    || (SELECT count(*) FROM escalation.escalations WHERE status = 'queued') || ' queued, '
    || (SELECT count(*) FROM escalation.escalations WHERE status = 'accepted') || ' held ('
    || (SELECT count(*) FROM escalation.agents g WHERE escalation.agent_load(g.agent_id) >= g.capacity) || ' agents full), '
    || (SELECT count(*) FROM escalation.escalations WHERE status = 'resolved') || ' resolved'")"

psql_q <<'SQL'
-- the same choice as one SQL query, as a DBA would write it: the
-- escalation's request, the agents that pass the filters (skills joined
-- and aggregated), then each candidate's factors with the default weights
-- (escalation.routing_weights is empty here), best first.  No shift
-- calendars in this data set: the shift factor is 1 for everyone.
-- Continuity reads the escalations' account_key and requester columns,
-- which carry the indexes (escalations_resolved_account / _requester).
CREATE FUNCTION bench.sql_choose(p_id bigint, as_of timestamptz, OUT agent_id text, OUT total float8)
LANGUAGE sql STABLE AS $$
WITH e AS (
    SELECT x.escalation_id, x.target_team, x.target_tier, x.kind = 'hierarchical' AS hier,
           COALESCE(x.target_skills, '{}') AS mand, COALESCE(x.optional_skills, '{}') AS opt,
           COALESCE(x.target_skills, '{}') || COALESCE(x.optional_skills, '{}') AS req,
           x.optional_skills IS NULL OR as_of - x.created_at >= (SELECT c.relax_after FROM escalation.routing_config() c) AS relaxed,
           COALESCE(x.language, x.context #>> '{ticket,fields,language}') AS language,
           x.context #>> '{ticket,account}' AS account, x.context #>> '{ticket,requester}' AS requester
      FROM escalation.escalations x WHERE x.escalation_id = p_id
), cand AS (
    SELECT a.agent_id, a.tier, a.capacity, a.availability, a.languages,
           sum(s.level) AS levels
      FROM e
      JOIN escalation.agents a ON a.active AND a.availability <> 'offline'
                              AND (e.target_team IS NULL OR a.team = e.target_team)
                              AND (NOT e.hier OR e.target_tier IS NULL OR a.tier >= e.target_tier)
      JOIN escalation.agent_skills s ON s.agent_id = a.agent_id AND s.skill = ANY (e.req)
     GROUP BY a.agent_id, e.mand, e.opt, e.relaxed
    HAVING count(*) FILTER (WHERE s.skill = ANY (e.mand)) = cardinality(e.mand)
       AND (e.relaxed OR count(*) FILTER (WHERE s.skill = ANY (e.opt)) = cardinality(e.opt))
), cont AS (
    SELECT h.agent_id, least(1.0, sum(least(1.0, h.n / 3.0))) AS v
      FROM (SELECT h.agent_id, count(*) AS n FROM escalation.escalations h, e
             WHERE h.status = 'resolved' AND h.agent_id IS NOT NULL
               AND h.closed_at >= as_of - (SELECT c.continuity_window FROM escalation.routing_config() c)
               AND h.account_key = e.account
             GROUP BY h.agent_id
            UNION ALL
            SELECT h.agent_id, count(*) FROM escalation.escalations h, e
             WHERE h.status = 'resolved' AND h.agent_id IS NOT NULL
               AND h.closed_at >= as_of - (SELECT c.continuity_window FROM escalation.routing_config() c)
               AND h.requester = e.requester
             GROUP BY h.agent_id) h
     GROUP BY h.agent_id
)
SELECT c.agent_id,
       3.0 * c.levels / (5.0 * greatest(cardinality(e.req), 1))
     + 1.0 * (1 - abs(c.tier - COALESCE(nullif(e.target_tier, 0), 1)) / 8.0)
     + 2.0 * (1 - l.load::float8 / c.capacity)
     + 1.0 * CASE c.availability WHEN 'online' THEN 1 ELSE 0.5 END
     + 0.5 * 1
     + 2.0 * CASE WHEN e.language IS NULL OR e.language = ANY (c.languages) THEN 1 ELSE 0 END
     + 1.5 * COALESCE(k.v, 0)
     + 1.0 * COALESCE(least(1.0, greatest(0, extract(epoch FROM as_of - f.last)) / 3600.0), 1) AS total
  FROM cand c
 CROSS JOIN e
 CROSS JOIN LATERAL (SELECT count(*) AS load FROM escalation.escalations x
                      WHERE x.agent_id = c.agent_id AND x.status IN ('offered', 'accepted')
                        AND NOT EXISTS (SELECT 1 FROM escalation.sla_tickets t
                                         WHERE t.source_id = x.source_id AND t.ticket_key = x.ticket_key
                                           AND t.status = 'pending')) l
 CROSS JOIN LATERAL (SELECT max(s.offered_at) AS last FROM escalation.assignments s
                      WHERE s.agent_id = c.agent_id) f
  LEFT JOIN cont k ON k.agent_id = c.agent_id
 WHERE l.load < c.capacity
 ORDER BY total DESC, c.agent_id COLLATE "C"
 LIMIT 1
$$;

-- the queue in urgency order (as route_plan reads it), for the SQL rounds
CREATE TABLE bench.order AS
SELECT row_number() OVER () AS pos, p.escalation_id
  FROM escalation.route_plan('2024-06-03 10:00+00', 100000) p;
CREATE FUNCTION bench.timed_sql(as_of timestamptz, n integer, OUT ms float8, OUT chosen integer)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    r record;
BEGIN
    chosen := 0;
    FOR r IN SELECT o.escalation_id FROM bench.order o WHERE o.pos <= n ORDER BY o.pos LOOP
        IF (SELECT c.agent_id FROM bench.sql_choose(r.escalation_id, as_of) c) IS NOT NULL THEN
            chosen := chosen + 1;
        END IF;
    END LOOP;
    ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
END
$$;
CREATE FUNCTION bench.timed_plan(as_of timestamptz, n integer, OUT ms float8, OUT decisions integer,
                                 OUT offers integer)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    SELECT count(*), count(*) FILTER (WHERE p.action = 'offer') INTO decisions, offers
      FROM escalation.route_plan(as_of, n) p;
    ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
END
$$;
-- one route() batch with its writes, timed and rolled back
CREATE FUNCTION bench.timed_route(as_of timestamptz, n integer, OUT ms float8, OUT handled integer)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
BEGIN
    BEGIN
        t0 := clock_timestamp();
        handled := escalation.route(as_of, n);
        ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
        RAISE EXCEPTION 'roll the batch back';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
END
$$;
SQL

if [ -n "${BENCH_HOOK:-}" ]; then      # a script of one's own after the setup (profiling)
    bash "$BENCH_HOOK"
fi

echo "== the queue as route_plan decides it (one batch over the whole queue, no writes)"
psql_q -F ' ' <<SQL | sed 's/^/   /'
SELECT 'decisions ' || count(*) || ' (' || count(*) FILTER (WHERE action = 'offer') || ' offers, '
       || count(*) FILTER (WHERE action = 'overflow') || ' overflows) before every agent was full; '
       || 'eligible agents per request: median ' || percentile_disc(0.5) WITHIN GROUP (ORDER BY candidates)
       || ', p10 ' || percentile_disc(0.1) WITHIN GROUP (ORDER BY candidates)
       || ', p90 ' || percentile_disc(0.9) WITHIN GROUP (ORDER BY candidates)
  FROM escalation.route_plan('$AS_OF', 100000) WHERE action = 'offer';
SELECT 'first batch of $BATCH: eligible agents per request median '
       || percentile_disc(0.5) WITHIN GROUP (ORDER BY candidates)
  FROM escalation.route_plan('$AS_OF', $BATCH);
SQL

echo "== cross-check: the SQL query's choice against explain_route's rank 1 ($CHECK escalations)"
mismatch=$(psql_q <<SQL
SELECT count(*) FROM (
    SELECT o.escalation_id, s.agent_id AS sql_agent, round(s.total::numeric, 3) AS sql_total,
           x.agent_id AS c_agent, round(x.total::numeric, 3) AS c_total
      FROM bench.order o
     CROSS JOIN LATERAL bench.sql_choose(o.escalation_id, '$AS_OF') s
     CROSS JOIN LATERAL (SELECT * FROM escalation.explain_route(o.escalation_id, '$AS_OF') r
                          WHERE r.rank = 1) x
     WHERE o.pos <= $CHECK) c
 WHERE sql_agent IS DISTINCT FROM c_agent AND abs(sql_total - c_total) > 0.001;
SQL
)
if [ "$mismatch" != 0 ]; then
    echo "   ERROR: the SQL query and explain_route disagree on $mismatch of $CHECK escalations" >&2
    exit 1
fi
echo "   the same best agent (or an equal total) for all $CHECK"

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# Each timed call runs in a session that has just made the same call,
# untimed: its plans are prepared, its caches warm and the pages it reads
# mapped into the backend, as in the background worker, which is one
# long-lived backend making batch after batch (on the VM measured here a
# backend's first touch of a shared buffer page costs tens of
# microseconds; the worker pays it once per page, not per batch).  route_plan
# writes nothing, so the timed call decides the same escalations as the
# untimed one; the SQL query gets the same treatment.  The first batch of a
# new session is timed too, apart ("cold": plans prepared, catalog caches
# filled and pages mapped on the way, as a pg_cron job calling run_cycle()
# in a new session pays), and reported but not the result.
warm() {   # warm FUNCTION ARGS COLUMNS: the timed call's columns, after one untimed call
    psql_q -F ' ' -c "SELECT NULL FROM bench.$1('$AS_OF', $2)" \
           -c "SELECT $3 FROM bench.$1('$AS_OF', $2)" | tail -1
}
warm timed_plan "$BATCH" "1" >/dev/null      # shared buffers warm

plan_rates=(); route_rates=(); sql_rates=(); big_rates=(); cold_rates=()
for r in $(seq "$ROUNDS"); do
    read -r ms n offers < <(warm timed_plan "$BATCH" "round(ms::numeric, 2), decisions, offers")
    plan_rates+=("$(awk -v n="$n" -v ms="$ms" 'BEGIN { printf "%d", n / (ms / 1000) }')")
    read -r cms cn _ < <(psql_q -F ' ' -c "SELECT round(ms::numeric, 2), decisions, offers FROM bench.timed_plan('$AS_OF', $BATCH)")
    cold_rates+=("$(awk -v n="$cn" -v ms="$cms" 'BEGIN { printf "%d", n / (ms / 1000) }')")
    read -r bms bn _ < <(warm timed_plan 5000 "round(ms::numeric, 2), decisions, offers")
    big_rates+=("$(awk -v n="$bn" -v ms="$bms" 'BEGIN { printf "%d", n / (ms / 1000) }')")
    read -r rms rn < <(warm timed_route "$BATCH" "round(ms::numeric, 2), handled")
    route_rates+=("$(awk -v n="$rn" -v ms="$rms" 'BEGIN { printf "%d", n / (ms / 1000) }')")
    read -r sms sn < <(warm timed_sql "$SQL_N" "round(ms::numeric, 2), chosen")
    sql_rates+=("$(awk -v n="$SQL_N" -v ms="$sms" 'BEGIN { printf "%.1f", n / (ms / 1000) }')")
    echo "   round $r: plan $n decisions ($offers offers) in $ms ms = ${plan_rates[-1]}/s" \
         "(cold: $cn in $cms ms = ${cold_rates[-1]}/s);" \
         "plan 5000: $bn in $bms ms = ${big_rates[-1]}/s;" \
         "route $rn in $rms ms = ${route_rates[-1]}/s; sql $SQL_N ($sn chosen) in $sms ms = ${sql_rates[-1]}/s"
done

if [ "${BENCH_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
    perf_out="${ESC_BENCH_LOG%.log}-perf.txt"
    echo "== perf profile of route_plan batches ($perf_out)"
    psql_q <<SQL &
SELECT pg_sleep(1);
-- (i in the argument: one call per row, not one call reused)
SELECT count(*) FROM generate_series(1, 40) i, LATERAL bench.timed_plan(timestamptz '$AS_OF' + i * interval '0', $BATCH) p;
SQL
    sleep 0.5
    pid=$(psql_q -c "SELECT pid FROM pg_stat_activity WHERE query LIKE '%pg_sleep(1)%' AND pid <> pg_backend_pid() LIMIT 1")
    if [ -n "$pid" ]; then
        perf record -g -o "${perf_out%.txt}.data" -p "$pid" -- sleep 8 >/dev/null 2>&1 || true
        perf report -i "${perf_out%.txt}.data" --no-children --stdio 2>/dev/null | head -150 > "$perf_out" || true
    fi
    wait
fi

plan_med=$(printf '%s\n' "${plan_rates[@]}" | median)
cold_med=$(printf '%s\n' "${cold_rates[@]}" | median)
big_med=$(printf '%s\n' "${big_rates[@]}" | median)
route_med=$(printf '%s\n' "${route_rates[@]}" | median)
sql_med=$(printf '%s\n' "${sql_rates[@]}" | median)
median_eligible=$(psql_q -c "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY candidates) FROM escalation.route_plan('$AS_OF', $BATCH) WHERE action = 'offer'")
vs_sql=$(awk -v a="$plan_med" -v b="$sql_med" 'BEGIN { printf "%.1f", a / b }')
route_vs_sql=$(awk -v a="$route_med" -v b="$sql_med" 'BEGIN { printf "%.1f", a / b }')
echo "== decisions per second (medians of $ROUNDS rounds; min..max)"
printf '   %-34s %8s  (%s..%s)\n' "route_plan, batch of $BATCH" "$plan_med" "$(printf '%s\n' "${plan_rates[@]}" | sort -g | head -1)" "$(printf '%s\n' "${plan_rates[@]}" | sort -g | tail -1)"
printf '   %-34s %8s  (%s..%s)\n' "route_plan, $BATCH, new session" "$cold_med" "$(printf '%s\n' "${cold_rates[@]}" | sort -g | head -1)" "$(printf '%s\n' "${cold_rates[@]}" | sort -g | tail -1)"
printf '   %-34s %8s  (%s..%s)\n' "route_plan, batch of 5000" "$big_med" "$(printf '%s\n' "${big_rates[@]}" | sort -g | head -1)" "$(printf '%s\n' "${big_rates[@]}" | sort -g | tail -1)"
printf '   %-34s %8s  (%s..%s)\n' "route() with writes, batch of $BATCH" "$route_med" "$(printf '%s\n' "${route_rates[@]}" | sort -g | head -1)" "$(printf '%s\n' "${route_rates[@]}" | sort -g | tail -1)"
printf '   %-34s %8s  (%s..%s)\n' "one SQL query per escalation" "$sql_med" "$(printf '%s\n' "${sql_rates[@]}" | sort -g | head -1)" "$(printf '%s\n' "${sql_rates[@]}" | sort -g | tail -1)"
echo "   median eligible agents per request: $median_eligible; target >= 10000/s and vs_sql >= 10"
echo "RESULT routing: decisions_per_s=$plan_med vs_sql=$vs_sql route_per_s=$route_med route_vs_sql=$route_vs_sql sql_per_s=$sql_med plan_5000_per_s=$big_med plan_cold_per_s=$cold_med median_eligible=$median_eligible batch=$BATCH" > "$ESC_BENCH_RESULT"
