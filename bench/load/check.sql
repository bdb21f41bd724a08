-- bench/load/check.sql: the invariants, checked after the load.
--
-- psql variables: as_of (the start of a worker cycle, after the load, that
-- left nothing due: every step due by then has fired), tol (seconds of
-- slack for a writer's transaction time: a ticket update is dated at its
-- transaction's start, and may commit after a cycle saw the clock running).
--
-- Writes one row per invariant into bench.invariants (checked: how many
-- things were looked at; violations: how many broke it; example: the
-- first few).  Nothing here trusts escalation's own bookkeeping where raw
-- data can tell: the journey is replayed event by event, agents' load is
-- rebuilt from the journey over time, clocks are recounted from their
-- segments and from the helpdesk's own status log.

\set ON_ERROR_STOP 1
DROP TABLE IF EXISTS bench.invariants;
CREATE TABLE bench.invariants (
    name       text PRIMARY KEY,
    checked    bigint NOT NULL,
    violations bigint NOT NULL,
    example    text
);

-- the events, each with the one before it in its escalation's journey
CREATE TEMP TABLE ev AS
SELECT e.event_id, e.escalation_id, e.ticket_key, e.event, e.from_status, e.to_status,
       e.detail ->> 'agent_id' AS agent_id,
       row_number() OVER w AS n,
       lag(e.to_status) OVER w AS prev_to,
       lead(e.event_id) OVER w AS next_event_id
  FROM escalation.events e
WINDOW w AS (PARTITION BY e.escalation_id ORDER BY e.event_id);
CREATE INDEX ON ev (escalation_id, event_id);
ANALYZE ev;

---------------------------------------------------------------------------
-- 1. every journey is well-formed
--   starts with exactly one "created" (from nothing, to queued); every
--   later event starts where the previous ended; status changes are those
--   the state machine allows and are named after what they do; nothing
--   follows resolved or cancelled; the journey ends where the escalation
--   is; every escalation has a journey and every journey an escalation
---------------------------------------------------------------------------
WITH bad AS (
    SELECT ev.escalation_id, ev.event_id, ev.event,
           CASE
             WHEN ev.n = 1 AND ev.event <> 'created' THEN 'does not start with created'
             WHEN ev.n = 1 AND (ev.from_status IS NOT NULL OR ev.to_status <> 'queued') THEN 'created not as queued'
             WHEN ev.n > 1 AND ev.event = 'created' THEN 'created twice'
             WHEN ev.n > 1 AND ev.from_status IS DISTINCT FROM ev.prev_to THEN 'from_status is not the previous to_status'
             WHEN ev.n > 1 AND ev.prev_to IN ('resolved', 'cancelled') THEN 'event after a final state'
             WHEN ev.n > 1 AND ev.event IN ('reasons_added', 'updated') AND ev.from_status <> ev.to_status
               THEN 'status changed by ' || ev.event
             WHEN ev.n > 1 AND ev.event NOT IN ('reasons_added', 'updated')
                  AND NOT escalation.transition_allowed(ev.from_status, ev.to_status)
               THEN 'illegal transition ' || ev.from_status || ' -> ' || ev.to_status
             WHEN ev.event = 'requeued' AND NOT (ev.from_status = 'offered' AND ev.to_status = 'queued')
               THEN 'requeued is not offered -> queued'
             WHEN ev.event IN ('offered', 'accepted', 'resolved', 'cancelled') AND ev.to_status <> ev.event
               THEN ev.event || ' event to ' || ev.to_status
             WHEN ev.to_status IN ('offered', 'accepted') AND ev.event <> 'reasons_added' AND ev.agent_id IS NULL
               THEN ev.event || ' without an agent'
           END AS why
      FROM ev
), ends AS (
    SELECT x.escalation_id, 'journey ends as ' || coalesce(l.to_status, '(no journey)')
                            || ', escalation is ' || x.status AS why
      FROM escalation.escalations x
      LEFT JOIN LATERAL (SELECT ev.to_status FROM ev WHERE ev.escalation_id = x.escalation_id
                          ORDER BY ev.event_id DESC LIMIT 1) l ON true
     WHERE l.to_status IS DISTINCT FROM x.status
    UNION ALL
    SELECT DISTINCT ev.escalation_id, 'journey of an escalation that does not exist'
      FROM ev WHERE NOT EXISTS (SELECT 1 FROM escalation.escalations x WHERE x.escalation_id = ev.escalation_id)
), v AS (
    SELECT escalation_id, event_id, why FROM bad WHERE why IS NOT NULL
    UNION ALL
    SELECT escalation_id, NULL, why FROM ends
)
INSERT INTO bench.invariants
SELECT 'journeys well-formed',
       (SELECT count(*) FROM ev),
       (SELECT count(*) FROM v),
       (SELECT string_agg(format('escalation %s event %s: %s', escalation_id, event_id, why), '; ')
          FROM (SELECT * FROM v ORDER BY escalation_id, event_id LIMIT 5) s);

---------------------------------------------------------------------------
-- 2. no escalation assigned twice
--   the agent holding an escalation (offered to or accepted by) changes
--   only through the queue: never from one agent straight to another;
--   each escalation is accepted at most once; its offers (assignments)
--   follow one another, each closed before the next, one per "offered"
--   event of the same agent
---------------------------------------------------------------------------
CREATE TEMP TABLE holds AS
SELECT h.*, lag(h.holder) OVER (PARTITION BY h.escalation_id ORDER BY h.event_id) AS prev_holder
  FROM (SELECT ev.event_id, ev.escalation_id, ev.ticket_key, ev.event, ev.from_status, ev.to_status,
               CASE WHEN ev.to_status IN ('offered', 'accepted') THEN ev.agent_id END AS holder
          FROM ev WHERE ev.event <> 'reasons_added') h;

WITH v AS (
    SELECT escalation_id, event_id,
           format('%s %s -> %s while held by %s', event, prev_holder, holder, prev_holder) AS why
      FROM holds
     WHERE holder IS NOT NULL AND prev_holder IS NOT NULL AND holder <> prev_holder
    UNION ALL
    SELECT escalation_id, event_id, 'offered while ' || from_status
      FROM holds WHERE event = 'offered' AND from_status <> 'queued'
    UNION ALL
    SELECT escalation_id, max(event_id), count(*) || ' accepted events'
      FROM ev WHERE event = 'accepted' GROUP BY escalation_id HAVING count(*) > 1
    UNION ALL
    SELECT escalation_id, NULL, count(*) FILTER (WHERE outcome = 'accepted') || ' accepted offers'
      FROM escalation.assignments GROUP BY escalation_id
    HAVING count(*) FILTER (WHERE outcome = 'accepted') > 1
    UNION ALL
    SELECT a.escalation_id, NULL,
           format('offer %s opened while offer %s was still open', a.assignment_id, a.prev_id)
      FROM (SELECT x.*, lag(x.assignment_id) OVER w AS prev_id, lag(x.outcome) OVER w AS prev_outcome
              FROM escalation.assignments x WINDOW w AS (PARTITION BY x.escalation_id ORDER BY x.assignment_id)) a
     WHERE a.prev_id IS NOT NULL AND a.prev_outcome = 'offered'
    UNION ALL
    SELECT coalesce(o.escalation_id, s.escalation_id), NULL,
           format('agent %s: %s offered events, %s offers', coalesce(o.agent_id, s.agent_id),
                  coalesce(o.n, 0), coalesce(s.n, 0))
      FROM (SELECT escalation_id, agent_id, count(*) AS n FROM ev WHERE event = 'offered'
             GROUP BY 1, 2) o
      FULL JOIN (SELECT escalation_id, agent_id, count(*) AS n FROM escalation.assignments GROUP BY 1, 2) s
        ON s.escalation_id = o.escalation_id AND s.agent_id = o.agent_id
     WHERE o.n IS DISTINCT FROM s.n
)
INSERT INTO bench.invariants
SELECT 'no escalation assigned twice',
       (SELECT count(*) FROM holds WHERE holder IS NOT NULL AND holder IS DISTINCT FROM prev_holder),
       (SELECT count(*) FROM v),
       (SELECT string_agg(format('escalation %s event %s: %s', escalation_id, event_id, why), '; ')
          FROM (SELECT * FROM v ORDER BY escalation_id, event_id LIMIT 5) s);

---------------------------------------------------------------------------
-- 3. no agent ever above capacity
--   the journey replayed in event order: every time an agent is given an
--   escalation (offered, or queued work accepted), the escalations it
--   holds at that point must not exceed its capacity.  Routing does not
--   count a ticket pending on the customer against capacity (and when
--   such a ticket reopens the agent keeps it, beyond capacity if so), so
--   escalations of tickets that were ever pending (the helpdesk's status
--   log) are left out of the count: what remains can only be lower than
--   what routing counted.  The event order is the order of the agent's
--   row lock for every increase, so replaying it never shows more than
--   routing saw.
---------------------------------------------------------------------------
CREATE TEMP TABLE ever_pending AS
SELECT DISTINCT ticket_id::text AS ticket_key FROM helpdesk.ticket_status_log WHERE status = 'pending';
CREATE INDEX ON ever_pending (ticket_key);

CREATE TEMP TABLE loads AS
WITH deltas AS (
    SELECT event_id, escalation_id, ticket_key, holder AS agent_id, 1 AS d FROM holds
     WHERE holder IS NOT NULL AND holder IS DISTINCT FROM prev_holder
    UNION ALL
    SELECT event_id, escalation_id, ticket_key, prev_holder, -1 FROM holds
     WHERE prev_holder IS NOT NULL AND holder IS DISTINCT FROM prev_holder
)
SELECT d.*, sum(d.d) OVER (PARTITION BY d.agent_id ORDER BY d.event_id, d.d
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS load
  FROM deltas d
 WHERE NOT EXISTS (SELECT 1 FROM ever_pending p WHERE p.ticket_key = d.ticket_key);

WITH v AS (
    SELECT l.*, a.capacity FROM loads l JOIN escalation.agents a USING (agent_id)
     WHERE l.d = 1 AND l.load > a.capacity
)
INSERT INTO bench.invariants
SELECT 'no agent above capacity',
       (SELECT count(*) FROM loads WHERE d = 1),
       (SELECT count(*) FROM v),
       (SELECT string_agg(format('agent %s holds %s (capacity %s) after event %s (escalation %s)',
                                 agent_id, load, capacity, event_id, escalation_id), '; ')
          FROM (SELECT * FROM v ORDER BY event_id LIMIT 5) s);

---------------------------------------------------------------------------
-- 4. SLA clocks: consistent, and every step fired once, none missed
---------------------------------------------------------------------------
-- each clock's counted seconds up to as_of, from its segments
CREATE TEMP TABLE seg AS
SELECT s.clock_id, s.starts, s.ends,
       extract(epoch FROM least(coalesce(s.ends, :'as_of'::timestamptz), :'as_of'::timestamptz) - s.starts) AS secs,
       lag(s.ends) OVER (PARTITION BY s.clock_id ORDER BY s.starts) AS prev_ends,
       coalesce(sum(extract(epoch FROM least(coalesce(s.ends, :'as_of'::timestamptz), :'as_of'::timestamptz) - s.starts))
                OVER (PARTITION BY s.clock_id ORDER BY s.starts
                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
  FROM escalation.clock_segments s;
CREATE INDEX ON seg (clock_id, starts);
ANALYZE seg;

CREATE TEMP TABLE ck AS
SELECT c.*,
       coalesce((SELECT sum(seg.secs) FROM seg WHERE seg.clock_id = c.clock_id), 0) AS counted,
       extract(epoch FROM c.elapsed)
         + CASE WHEN c.state = 'running'
                THEN extract(epoch FROM :'as_of'::timestamptz - c.running_since) ELSE 0 END AS clock_secs
  FROM escalation.clocks c;
CREATE INDEX ON ck (clock_id);
ANALYZE ck;

-- 4a. consistency: segments in order without overlap, the open one is the
-- running clock's, and the clock's elapsed time is what its segments add up to
WITH v AS (
    SELECT clock_id, 'segments overlap at ' || starts AS why FROM seg WHERE prev_ends > starts
    UNION ALL
    SELECT clock_id, 'segment ends before it starts at ' || starts FROM seg WHERE ends < starts
    UNION ALL
    SELECT ck.clock_id, format('state %s, running_since %s, open segments %s', ck.state, ck.running_since,
                               (SELECT string_agg(seg.starts::text, ',') FROM seg
                                 WHERE seg.clock_id = ck.clock_id AND seg.ends IS NULL))
      FROM ck
     WHERE (SELECT count(*) FROM seg WHERE seg.clock_id = ck.clock_id AND seg.ends IS NULL)
           <> CASE WHEN ck.state = 'running' THEN 1 ELSE 0 END
        OR (ck.state = 'running' AND NOT EXISTS (SELECT 1 FROM seg WHERE seg.clock_id = ck.clock_id
                                                   AND seg.ends IS NULL AND seg.starts = ck.running_since))
    UNION ALL
    SELECT clock_id, format('elapsed counts %s s, its segments %s s', round(clock_secs::numeric, 3),
                            round(counted::numeric, 3))
      FROM ck WHERE abs(clock_secs - counted) > 0.01
    UNION ALL
    SELECT min(clock_id), format('%s clocks for ticket %s %s round %s', count(*), ticket_key, metric, round)
      FROM escalation.clocks GROUP BY source_id, ticket_key, metric, round HAVING count(*) > 1
)
INSERT INTO bench.invariants
SELECT 'clocks consistent with their segments',
       (SELECT count(*) FROM ck),
       (SELECT count(*) FROM v),
       (SELECT string_agg(format('clock %s: %s', clock_id, why), '; ')
          FROM (SELECT * FROM v ORDER BY clock_id LIMIT 5) s);

-- 4b. clocks against the helpdesk's raw data: the resolution clock counts
-- the time the ticket was open, the age clock the time it was not solved,
-- from the helpdesk's own status log; each clock is in the state the
-- ticket's status calls for; the first response is met by an agent reply
-- of the ticket (at that reply's time, or when the clock ran again if
-- the reply's transaction started before that), and unmet while there is none
-- The recount: for each ticket and metric, the helpdesk's changes in
-- the order they happened; a change that starts or stops the clock
-- (resolution runs while the ticket is open, age while it is not solved),
-- or moves a running clock to another policy (the priority: urgent, high,
-- anything else), is dated at its transaction's start but never before
-- the one that came before it (a writer that started earlier may commit
-- later).  What the clock counts is the time between the dated changes
-- while it runs.
CREATE TEMP TABLE changes AS
SELECT l.seq, l.ticket_id, l.at, m.metric,
       CASE m.metric WHEN 'resolution' THEN l.status IN ('new', 'open')
                     ELSE l.status NOT IN ('solved', 'closed') END AS running,
       CASE WHEN l.priority IN ('urgent', 'high') THEN l.priority ELSE 'standard' END AS policy
  FROM helpdesk.ticket_status_log l
 CROSS JOIN (VALUES ('resolution'), ('age')) m(metric);
CREATE TEMP TABLE status_spans AS
WITH ordered AS (
    SELECT c.*, lag(c.running) OVER w AS was_running, lag(c.policy) OVER w AS was_policy,
           row_number() OVER w AS n
      FROM changes c
    WINDOW w AS (PARTITION BY c.ticket_id, c.metric ORDER BY c.seq)
), relevant AS (
    SELECT o.* FROM ordered o
     WHERE o.n = 1 OR o.running IS DISTINCT FROM o.was_running
        OR (o.was_running AND o.policy IS DISTINCT FROM o.was_policy)
), dated AS (
    SELECT r.*, max(r.at) OVER (PARTITION BY r.ticket_id, r.metric ORDER BY r.seq
                                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS dated_at
      FROM relevant r
)
SELECT d.ticket_id, d.metric, d.running, d.dated_at AS starts,
       coalesce(lead(d.dated_at) OVER (PARTITION BY d.ticket_id, d.metric ORDER BY d.seq),
                greatest(:'as_of'::timestamptz, d.dated_at)) AS ends
  FROM dated d;

CREATE TEMP TABLE span_sums AS
SELECT sp.ticket_id,
       coalesce(sum(extract(epoch FROM least(sp.ends, :'as_of'::timestamptz) - sp.starts))
                FILTER (WHERE sp.metric = 'resolution' AND sp.running), 0) AS open_secs,
       coalesce(sum(extract(epoch FROM least(sp.ends, :'as_of'::timestamptz) - sp.starts))
                FILTER (WHERE sp.metric = 'age' AND sp.running), 0) AS unsolved_secs
  FROM status_spans sp
 WHERE sp.starts < :'as_of'::timestamptz
 GROUP BY sp.ticket_id;
CREATE TEMP TABLE ticket_expect AS
SELECT t.id::text AS ticket_key, t.status,
       CASE WHEN t.status IN ('new', 'open') THEN 'open' WHEN t.status = 'pending' THEN 'pending'
            ELSE 'solved' END AS mapped,
       coalesce(s.open_secs, 0) AS open_secs,
       coalesce(s.unsolved_secs, 0) AS unsolved_secs,
       t.id IN (SELECT l.ticket_id FROM helpdesk.ticket_status_log l
                 WHERE l.status IN ('solved', 'closed')) AS ever_solved
  FROM helpdesk.tickets t
  LEFT JOIN span_sums s ON s.ticket_id = t.id;
CREATE INDEX ON ticket_expect (ticket_key);
ANALYZE ticket_expect;

WITH v AS (
    SELECT ck.ticket_key, format('%s clock counts %s s, the ticket was %s for %s s', ck.metric,
                                 round(ck.clock_secs::numeric, 3),
                                 CASE ck.metric WHEN 'resolution' THEN 'open' ELSE 'unsolved' END,
                                 round(CASE ck.metric WHEN 'resolution' THEN te.open_secs
                                            ELSE te.unsolved_secs END::numeric, 3)) AS why
      FROM ck JOIN ticket_expect te USING (ticket_key)
     WHERE ck.metric IN ('resolution', 'age')
       AND abs(ck.clock_secs - CASE ck.metric WHEN 'resolution' THEN te.open_secs ELSE te.unsolved_secs END) > 0.01
    UNION ALL
    SELECT ck.ticket_key, format('%s clock is %s, the ticket is %s', ck.metric, ck.state, te.status)
      FROM ck JOIN ticket_expect te USING (ticket_key)
     WHERE (ck.metric = 'resolution' AND ck.state <> CASE te.mapped WHEN 'open' THEN 'running'
                                                                    WHEN 'pending' THEN 'paused' ELSE 'met' END)
        OR (ck.metric = 'age' AND ck.state <> CASE te.mapped WHEN 'solved' THEN 'met' ELSE 'running' END)
        OR (ck.metric IN ('first_response', 'next_response', 'periodic_update')
            AND ck.state IN ('running', 'paused')
            AND ck.state <> CASE te.mapped WHEN 'open' THEN 'running' WHEN 'pending' THEN 'paused'
                                           ELSE 'finished' END)
    UNION ALL
    SELECT te.ticket_key, format('%s resolution clocks, %s age clocks, %s first-response clocks',
                                 count(*) FILTER (WHERE ck.metric = 'resolution'),
                                 count(*) FILTER (WHERE ck.metric = 'age'),
                                 count(*) FILTER (WHERE ck.metric = 'first_response'))
      FROM ticket_expect te LEFT JOIN ck USING (ticket_key)
     GROUP BY te.ticket_key
    HAVING count(*) FILTER (WHERE ck.metric = 'resolution') <> 1
        OR count(*) FILTER (WHERE ck.metric = 'age') <> 1
        OR count(*) FILTER (WHERE ck.metric = 'first_response') <> 1
    UNION ALL
    -- an agent's customer-visible reply met the first response, at its time
    SELECT ck.ticket_key,
           format('first response %s (finished %s), agent replies at %s', ck.state, ck.finished_at,
                  (SELECT string_agg(m.created_at::text, ',') FROM helpdesk.messages m
                    WHERE m.ticket_id = ck.ticket_key::bigint AND m.author_kind = 'agent'))
      FROM ck JOIN ticket_expect te USING (ticket_key)
     WHERE ck.metric = 'first_response'
       AND CASE
             WHEN EXISTS (SELECT 1 FROM helpdesk.messages m WHERE m.ticket_id = ck.ticket_key::bigint
                           AND m.author_kind = 'agent')
               THEN NOT (ck.state = 'stopped'
                         OR (ck.state = 'met' AND EXISTS (
                               SELECT 1 FROM helpdesk.messages m WHERE m.ticket_id = ck.ticket_key::bigint
                                  AND m.author_kind = 'agent' AND m.created_at <= ck.finished_at
                                  AND ck.finished_at <= m.created_at + make_interval(secs => :tol))))
             ELSE ck.state = 'met' OR (ck.state = 'stopped' AND NOT te.ever_solved)
           END
    UNION ALL
    SELECT t.ticket_key, format('escalation sees the ticket as %s, it is %s', t.status, te.status)
      FROM escalation.sla_tickets t JOIN ticket_expect te USING (ticket_key)
     WHERE t.status <> te.mapped
)
INSERT INTO bench.invariants
SELECT 'clocks agree with the helpdesk''s raw data',
       (SELECT count(*) FROM ticket_expect),
       (SELECT count(*) FROM v),
       (SELECT string_agg(format('ticket %s: %s', ticket_key, why), '; ')
          FROM (SELECT * FROM v ORDER BY ticket_key::bigint LIMIT 5) s);

-- 4c. every step of every clock fired exactly once, none missed, none early:
--   due by as_of (the clock's counted time reached the step, on its
--   current policy) => fired; fired => its policy's step was reached by
--   the time it fired (with tol for the writer's transaction time); dated
--   at the instant the clock's time reached it (recounted from segments);
--   every ladder level that paged someone has its escalation; every
--   notification has its firing, and went out
CREATE TEMP TABLE steps AS
SELECT ck.clock_id, s.step, s.at_secs, ck.counted
  FROM ck CROSS JOIN LATERAL escalation.sla_steps(ck.policy_id, ck.metric, ck.target) s;
CREATE INDEX ON steps (clock_id, step);

CREATE TEMP TABLE fired AS
SELECT f.*, s.at_secs,
       (SELECT coalesce(sum(extract(epoch FROM least(coalesce(g.ends, f.fired_at), f.fired_at) - g.starts)), 0)
          FROM seg g WHERE g.clock_id = f.clock_id AND g.starts < f.fired_at) AS counted_at_fire,
       (SELECT g.starts + make_interval(secs => s.at_secs - g.before)
          FROM seg g WHERE g.clock_id = f.clock_id AND g.before < s.at_secs
           AND g.before + g.secs >= s.at_secs - 1e-6
         ORDER BY g.starts LIMIT 1) AS crossing
  FROM escalation.clock_firings f
  JOIN escalation.clocks c USING (clock_id)
  JOIN escalation.sla_targets t ON t.policy_id = f.policy_id AND t.metric = f.metric
  CROSS JOIN LATERAL (SELECT x.at_secs FROM escalation.sla_steps(f.policy_id, f.metric, t.target) x
                       WHERE x.step = f.step) s;

WITH v AS (
    SELECT s.clock_id, format('%s due at %s s, clock at %s s by %s: never fired', s.step,
                              s.at_secs, round(s.counted::numeric, 3), :'as_of') AS why
      FROM steps s
     WHERE s.at_secs <= s.counted - 0.5
       AND NOT EXISTS (SELECT 1 FROM escalation.clock_firings f WHERE f.clock_id = s.clock_id AND f.step = s.step)
    UNION ALL
    SELECT f.clock_id, format('%s (policy %s) due at %s s, fired at %s with the clock at %s s',
                              f.step, f.policy_id, f.at_secs, f.fired_at, round(f.counted_at_fire::numeric, 3))
      FROM fired f WHERE f.at_secs > f.counted_at_fire + :tol
    UNION ALL
    SELECT f.clock_id, format('%s dated %s, the clock reached it at %s', f.step, f.due_at, f.crossing)
      FROM fired f
     WHERE f.crossing <= f.fired_at AND abs(extract(epoch FROM f.due_at - f.crossing)) > :tol
    UNION ALL
    SELECT clock_id, format('%s fired under policy %s, which has no such step', step, policy_id)
      FROM escalation.clock_firings f
     WHERE NOT EXISTS (SELECT 1 FROM fired x WHERE x.clock_id = f.clock_id AND x.step = f.step)
    UNION ALL
    SELECT f.clock_id, format('%s paged (notification %s) without its escalation', f.step, n.notification_id)
      FROM escalation.clock_firings f JOIN escalation.notifications n USING (clock_id, step)
     WHERE f.kind = 'level'
       AND NOT EXISTS (SELECT 1 FROM escalation.escalations e WHERE e.escalation_id = f.escalation_id
                          AND e.source_id = f.source_id AND e.ticket_key = f.ticket_key)
    UNION ALL
    SELECT n.clock_id, format('notification %s for %s: %s', n.notification_id, n.step,
                              CASE WHEN f.clock_id IS NULL THEN 'no such firing' ELSE 'never sent' END)
      FROM escalation.notifications n
      LEFT JOIN escalation.clock_firings f USING (clock_id, step)
     WHERE f.clock_id IS NULL OR (n.sent_at IS NULL AND n.notify_at <= :'as_of'::timestamptz)
)
INSERT INTO bench.invariants
SELECT 'SLA steps fired once, none missed',
       (SELECT count(*) FROM steps WHERE at_secs <= counted - 0.5) + (SELECT count(*) FROM fired),
       (SELECT count(*) FROM v),
       (SELECT string_agg(format('clock %s: %s', clock_id, why), '; ')
          FROM (SELECT * FROM v ORDER BY clock_id LIMIT 5) s);

-- figures that show the invariants were put to the test
DROP TABLE IF EXISTS bench.figures;
CREATE TABLE bench.figures AS
SELECT 'assignments that filled the agent' AS name, count(*) AS n
  FROM loads l JOIN escalation.agents a USING (agent_id) WHERE l.d = 1 AND l.load = a.capacity
UNION ALL
SELECT 'assignments counted for capacity', count(*) FROM loads WHERE d = 1
UNION ALL
SELECT 'escalations of tickets ever pending (not counted)', count(DISTINCT escalation_id)
  FROM holds h JOIN ever_pending p USING (ticket_key)
UNION ALL
SELECT 'firings within the slack (writer dated before the cycle)', count(*)
  FROM fired f WHERE f.at_secs > f.counted_at_fire AND f.at_secs <= f.counted_at_fire + :tol
UNION ALL
SELECT 'SLA steps due by as_of', count(*) FROM steps WHERE at_secs <= counted - 0.5;

SELECT name AS invariant, checked, violations FROM bench.invariants ORDER BY name;
SELECT name AS figure, n FROM bench.figures;
SELECT name AS invariant, example FROM bench.invariants WHERE violations > 0 ORDER BY name;
