--
-- routing: the fit score's factors and exclusions (explain_route), offers
-- within capacity, decline, timeout, an agent going offline, overflow to
-- the team lead and to the next tier, re-escalation chains, reopen to the
-- previous agent, handoff from a bot, write-back, run_batch integration.
--
-- Every call takes its instant (as_of); nothing sleeps.  Routing routes the
-- whole queue, so this file first cancels what earlier files left open.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

SELECT count(*) > 0 AS cleaned FROM (
    SELECT escalation.cancel(escalation_id, 'routing test: clean queue', '2024-06-03 09:00+00')
      FROM escalation.escalations WHERE status IN ('queued', 'offered', 'accepted')) c
UNION ALL SELECT true LIMIT 1;

CREATE SCHEMA rt_hd;
CREATE TABLE rt_hd.tickets (
    id         integer PRIMARY KEY,
    status     text NOT NULL DEFAULT 'open',
    subject    text,
    body       text,
    requester  text,
    account    text,
    assignee   text,
    created_at timestamptz NOT NULL
);
SELECT escalation.attach('rt_hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": ["open"], "pending": ["pending"], "solved": ["solved"]}',
           subject => 'subject', body => 'body', requester => 'requester', account => 'account',
           assignee => 'assignee', created_at => 'created_at') AS sid \gset
INSERT INTO rt_hd.tickets (id, subject, requester, account, created_at)
SELECT i, 'ticket ' || i, 'cust' || (i % 3), CASE WHEN i % 2 = 0 THEN 'rt acme' END,
       '2024-06-03 08:00+00'
  FROM generate_series(1, 20) i;

-- a shift calendar: nights only
INSERT INTO escalation.calendars (name, time_zone) VALUES ('rt nights', 'UTC');
INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
SELECT calendar_id, d, '22:00', '06:00' FROM escalation.calendars, generate_series(0, 6) d
 WHERE name = 'rt nights';
INSERT INTO escalation.calendars (name, time_zone) VALUES ('rt days', 'UTC');
INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
SELECT calendar_id, d, '08:00', '11:00' FROM escalation.calendars, generate_series(0, 6) d
 WHERE name = 'rt days';

INSERT INTO escalation.teams (name, kind, tier) VALUES
    ('rt billing', 'functional', 1), ('rt tier2', 'hierarchical', 2), ('rt tax', 'functional', 1);
INSERT INTO escalation.skills (name) VALUES ('rt refunds'), ('rt invoices'), ('rt tax law');
INSERT INTO escalation.agents (agent_id, team, tier, capacity, languages, availability, active, calendar) VALUES
    ('rt_ann',  'rt billing', 1, 2, '{en,de}', 'online',  true,  'rt days'),
    ('rt_bob',  'rt billing', 1, 1, '{en}',    'online',  true,  NULL),
    ('rt_cat',  'rt billing', 2, 3, '{fr}',    'away',    true,  NULL),
    ('rt_dan',  'rt billing', 1, 5, '{en}',    'offline', true,  NULL),
    ('rt_eve',  'rt billing', 1, 5, '{en}',    'online',  false, NULL),
    ('rt_fay',  'rt billing', 1, 5, '{en}',    'online',  true,  'rt nights'),
    ('rt_lead', 'rt billing', 3, 2, '{en}',    'online',  true,  NULL),
    ('rt_gus',  'rt tier2',   2, 2, '{en}',    'online',  true,  NULL),
    ('rt_hal',  'rt tier2',   1, 2, '{en}',    'online',  true,  NULL);
INSERT INTO escalation.agent_skills (agent_id, skill, level) VALUES
    ('rt_ann', 'rt refunds', 4), ('rt_ann', 'rt invoices', 3),
    ('rt_bob', 'rt refunds', 2),
    ('rt_cat', 'rt refunds', 5), ('rt_cat', 'rt invoices', 5),
    ('rt_dan', 'rt refunds', 5), ('rt_eve', 'rt refunds', 5), ('rt_fay', 'rt refunds', 5),
    ('rt_gus', 'rt refunds', 1), ('rt_hal', 'rt refunds', 1);
UPDATE escalation.teams SET lead_agent = 'rt_lead' WHERE name = 'rt billing';

-- escalations by hand: E1 needs refunds, prefers invoices, in German
SELECT escalation.escalate('rt_hd.tickets', '1', target_team => 'rt billing',
           target_skills => '{rt refunds}', severity => 3, as_of => '2024-06-03 10:00+00') AS e1 \gset
UPDATE escalation.escalations SET optional_skills = '{rt invoices}', language = 'de'
 WHERE escalation_id = :e1;

--------------------------------------------------------------------------
-- explain_route: every factor, every exclusion
--------------------------------------------------------------------------
SELECT agent_id, rank, total, skills, tier, workload, availability, shift, language,
       continuity, fairness, excluded_because
  FROM escalation.explain_route(:e1, '2024-06-03 10:00+00')
 WHERE agent_id LIKE 'rt\_%';
-- 20 minutes later optional skills are relaxed: bob is a candidate; ann's
-- shift ends at 11:00 (40 minutes left)
SELECT agent_id, rank, total, skills, shift, excluded_because
  FROM escalation.explain_route(:e1, '2024-06-03 10:20+00')
 WHERE agent_id LIKE 'rt\_%' AND (rank IS NOT NULL OR excluded_because LIKE '%skill%');
-- weights are rows
INSERT INTO escalation.routing_weights VALUES ('language', 0), ('skills', 10);
SELECT agent_id, rank, total FROM escalation.explain_route(:e1, '2024-06-03 10:20+00') WHERE rank IS NOT NULL;
DELETE FROM escalation.routing_weights;
SELECT regress_error($$SELECT * FROM escalation.explain_route(-1, now())$$);
SELECT regress_error($$INSERT INTO escalation.routing_weights VALUES ('charm', 1)$$);
SELECT * FROM escalation.routing_config();

--------------------------------------------------------------------------
-- route(): offers in urgency order, the decision stored and journeyed
--------------------------------------------------------------------------
SELECT escalation.escalate('rt_hd.tickets', '2', target_team => 'rt billing',
           target_skills => '{rt refunds}', severity => 2, as_of => '2024-06-03 09:50+00') AS e2 \gset
SELECT escalation.escalate('rt_hd.tickets', '3', target_team => 'rt billing',
           target_skills => '{rt refunds}', severity => 4, as_of => '2024-06-03 09:55+00') AS e3 \gset
SELECT escalation_id = :e3 AS e3_first, action, agent_ids, candidates, note
  FROM escalation.route_plan('2024-06-03 10:00+00', 10) ORDER BY escalation_id = :e3 DESC, escalation_id;
-- an escalation whose requester's tickets were left to the worker
-- (escalation.defer_requester_tickets) gets them before it is offered
UPDATE escalation.escalations SET context = context - 'requester_tickets' WHERE escalation_id = :e2;
SELECT escalation.route('2024-06-03 10:00+00', 10) AS handled;
SELECT context ? 'requester_tickets' AS e2_complete,
       jsonb_path_query_array(context, '$.requester_tickets[*].key') AS others
  FROM escalation.escalations WHERE escalation_id = :e2;
SELECT escalation_id = :e1 AS e1, escalation_id = :e3 AS e3, status, agent_id,
       routing->>'total' AS total, routing->'factors'->'skills' AS skills, routing->>'candidates' AS candidates,
       routing->'runner_up'->>'agent_id' AS runner_up, routing->>'expires_at' AS expires
  FROM escalation.escalations WHERE escalation_id IN (:e1, :e2, :e3) ORDER BY escalation_id;
SELECT escalation_id = :e1 AS e1, agent_id, kind, outcome, expires_at, total
  FROM escalation.assignments ORDER BY assignment_id;
SELECT event, to_status, actor, detail->>'agent_id' AS agent, detail->'routing'->'factors'->'workload' AS workload
  FROM escalation.events WHERE escalation_id = :e3 ORDER BY event_id;
-- capacity: bob (1) and cat are full or busy; nothing more is offered beyond capacity
SELECT agent_id, escalation.agent_load(agent_id), capacity FROM escalation.agents
 WHERE agent_id LIKE 'rt\_%' AND escalation.agent_load(agent_id) > 0 ORDER BY agent_id;
SELECT agent_id, excluded_because FROM escalation.explain_route(:e1, '2024-06-03 10:00+00')
 WHERE agent_id IN ('rt_bob', 'rt_ann', 'rt_cat') ORDER BY agent_id;
-- a ticket pending on the customer does not count as load
INSERT INTO escalation.sla_tickets (source_id, ticket_key, created_at, status, updated_at)
SELECT :sid, e.ticket_key, '2024-06-03 08:00+00', 'pending', '2024-06-03 10:00+00'
  FROM escalation.escalations e WHERE e.agent_id = 'rt_bob' AND e.status = 'offered';
SELECT escalation.agent_load('rt_bob') AS bob_load_while_pending;
DELETE FROM escalation.sla_tickets WHERE source_id = :sid;

--------------------------------------------------------------------------
-- accept, decline (back to the queue with its age; decliner skipped),
-- timeout (re-offered to the next best), offline agent (withdrawn)
--------------------------------------------------------------------------
SELECT agent_id AS e3_agent FROM escalation.escalations WHERE escalation_id = :e3 \gset
SELECT regress_error(format($$SELECT escalation.accept(%s, 'rt_hal', '2024-06-03 10:01+00')$$, :e3)) ~ 'offered to another agent' AS other_refused;
SELECT status, agent_id FROM escalation.accept(:e3, :'e3_agent', '2024-06-03 10:01+00');
SELECT outcome FROM escalation.assignments WHERE escalation_id = :e3;
SELECT agent_id AS e2_agent FROM escalation.escalations WHERE escalation_id = :e2 \gset
SELECT status, agent_id, created_at FROM escalation.decline(:e2, :'e2_agent', 'not my area', '2024-06-03 10:02+00');
SELECT regress_error(format($$SELECT escalation.decline(%s, 'rt_ann')$$, :e2)) ~ 'is not offered to agent' AS decline_refused;
SELECT agent_id = :'e2_agent' AS decliner, excluded_because FROM escalation.explain_route(:e2, '2024-06-03 10:03+00')
 WHERE agent_id = :'e2_agent';
SELECT escalation.route('2024-06-03 10:03+00', 10) AS handled;
SELECT status, agent_id = :'e2_agent' AS same_agent FROM escalation.escalations WHERE escalation_id = :e2;
-- E1's offer times out at 10:10; at 10:11 it goes to the next best
SELECT agent_id AS e1_agent FROM escalation.escalations WHERE escalation_id = :e1 \gset
SELECT escalation.route('2024-06-03 10:11+00', 10) AS handled;
SELECT a.agent_id = :'e1_agent' AS first_agent, a.outcome, a.kind
  FROM escalation.assignments a WHERE a.escalation_id = :e1 ORDER BY a.assignment_id;
SELECT event, actor, note FROM escalation.events WHERE escalation_id = :e1 ORDER BY event_id;
-- the agent holding E1's offer goes offline: the offer is withdrawn
UPDATE escalation.agents SET availability = 'offline'
 WHERE agent_id = (SELECT agent_id FROM escalation.escalations WHERE escalation_id = :e1);
SELECT escalation.route('2024-06-03 10:12+00', 10) >= 1 AS handled;
SELECT outcome, note FROM escalation.assignments WHERE escalation_id = :e1 ORDER BY assignment_id DESC LIMIT 1;
UPDATE escalation.agents SET availability = 'online' WHERE agent_id LIKE 'rt\_%' AND agent_id NOT IN ('rt_dan');

--------------------------------------------------------------------------
-- overflow: nobody in billing has tax law; after 30 minutes the lead gets it
--------------------------------------------------------------------------
SELECT escalation.escalate('rt_hd.tickets', '4', target_team => 'rt billing',
           target_skills => '{rt tax law}', as_of => '2024-06-03 10:00+00') AS e4 \gset
SELECT count(*) AS decisions FROM escalation.route_plan('2024-06-03 10:20+00', 10) WHERE escalation_id = :e4;
SELECT action, agent_ids, note, decision FROM escalation.route_plan('2024-06-03 10:31+00', 10) WHERE escalation_id = :e4;
SELECT escalation.route('2024-06-03 10:31+00', 10) >= 1 AS handled;
SELECT kind, status, agent_id, reasons->-1->>'kind' AS reason_kind, reasons->-1->>'to' AS reason_to
  FROM escalation.escalations WHERE escalation_id = :e4;
-- with the lead full, a team without a lead: up a tier
SELECT escalation.escalate('rt_hd.tickets', '5', target_team => 'rt tax',
           target_skills => '{rt tax law}', as_of => '2024-06-03 10:00+00') AS e5 \gset
SELECT escalation.route('2024-06-03 10:31+00', 10) >= 1 AS handled;
SELECT kind, status, target_team, target_tier, reasons->-1->>'to' AS reason_to, routing ? 'overflow_at' AS overflowed
  FROM escalation.escalations WHERE escalation_id = :e5;
-- at the highest tier of an active agent who may serve it (rt_lead's 3),
-- nowhere higher to go: no overflow, it stays queued there, batch after batch
SELECT escalation.escalate('rt_hd.tickets', '7', target_team => 'rt tax', target_tier => 3,
           target_skills => '{rt tax law}', as_of => '2024-06-03 10:00+00') AS e7 \gset
SELECT count(*) AS decisions FROM escalation.route_plan('2024-06-03 10:31+00', 10) WHERE escalation_id = :e7;
SELECT escalation.route('2024-06-03 11:31+00', 10) >= 0 AS ran;
SELECT status, target_tier, jsonb_array_length(reasons) AS reasons
  FROM escalation.escalations WHERE escalation_id = :e7;
-- an agent of tier 4 counts once active, and only for escalations it may
-- serve (not those of another tenant)
INSERT INTO escalation.agents (agent_id, team, tier, capacity, languages, availability, active)
VALUES ('rt_top', 'rt tier2', 4, 1, '{en}', 'offline', false);
SELECT count(*) AS decisions FROM escalation.route_plan('2024-06-03 11:32+00', 10) WHERE escalation_id = :e7;
UPDATE escalation.agents SET active = true, tenant = 'rt other' WHERE agent_id = 'rt_top';
SELECT count(*) AS decisions FROM escalation.route_plan('2024-06-03 11:32+00', 10) WHERE escalation_id = :e7;
UPDATE escalation.agents SET tenant = NULL WHERE agent_id = 'rt_top';
SELECT action, decision->'overflow'->>'to' AS overflow_to, (decision->'overflow'->>'tier')::int AS tier
  FROM escalation.route_plan('2024-06-03 11:33+00', 10) WHERE escalation_id = :e7;
DELETE FROM escalation.agents WHERE agent_id = 'rt_top';

--------------------------------------------------------------------------
-- re-escalation chains, and misroutes
--------------------------------------------------------------------------
SELECT escalation.reescalate(:e3, 'needs a tier 2 decision', target_team => 'rt tier2',
           target_tier => 2, as_of => '2024-06-03 10:40+00') AS c1 \gset
SELECT escalation.reescalate(:c1, 'it is a tax question', target_team => 'rt tax',
           kind => 'functional', as_of => '2024-06-03 10:41+00') AS c2 \gset
SELECT escalation.reescalate(:c2, 'back to billing after all', target_team => 'rt billing',
           kind => 'functional', as_of => '2024-06-03 10:42+00') AS c3 \gset
SELECT escalation_id = :c1 AS c1, escalation_id = :c2 AS c2, parent_id IS NOT NULL AS has_parent, level, kind, origin, status, target_team
  FROM escalation.escalations WHERE escalation_id IN (:e3, :c1, :c2, :c3) ORDER BY escalation_id;
SELECT root_id = :e3 AS same_root, depth, kind, from_team, to_team, misroute, reason
  FROM escalation.reescalations WHERE root_id = :e3 ORDER BY depth;
SELECT regress_error(format($$SELECT escalation.reescalate(%s, 'again', target_tier => 3)$$, :e3)) ~ 'only an open escalation' AS closed_refused;

--------------------------------------------------------------------------
-- reopen: back to the previous agent only if available
--------------------------------------------------------------------------
SELECT escalation.escalate('rt_hd.tickets', '6', target_team => 'rt billing',
           target_skills => '{rt refunds}', as_of => '2024-06-03 11:00+00') AS r1 \gset
SELECT status, agent_id FROM escalation.reassign(:r1, 'rt_hal', 'hal knows the customer', '2024-06-03 11:00+00');
SELECT status, agent_id FROM escalation.accept(:r1, 'rt_hal', '2024-06-03 11:01+00');
SELECT status FROM escalation.resolve(:r1, 'refunded', '2024-06-03 11:30+00');
SELECT escalation.escalate('rt_hd.tickets', '6', target_team => 'rt billing',
           target_skills => '{rt refunds}', as_of => '2024-06-03 12:00+00') AS r2 \gset
-- hal is not in billing and lacks nothing else: the previous agent still
-- must be a candidate, so he is not chosen
SELECT agent_ids[1] = 'rt_hal' AS to_hal FROM escalation.route_plan('2024-06-03 12:00+00', 50) WHERE escalation_id = :r2;
UPDATE escalation.escalations SET target_team = NULL WHERE escalation_id = :r2;
SELECT agent_ids[1], note, decision->>'previous_agent' AS previous
  FROM escalation.route_plan('2024-06-03 12:00+00', 50) WHERE escalation_id = :r2;
SELECT agent_id, rank, excluded_because FROM escalation.explain_route(:r2, '2024-06-03 12:00+00') WHERE rank = 1;
UPDATE escalation.agents SET availability = 'away' WHERE agent_id = 'rt_hal';
SELECT agent_ids[1] = 'rt_hal' AS to_hal_while_away, note
  FROM escalation.route_plan('2024-06-03 12:00+00', 50) WHERE escalation_id = :r2;
UPDATE escalation.agents SET availability = 'online' WHERE agent_id = 'rt_hal';

--------------------------------------------------------------------------
-- continuity and fairness
--------------------------------------------------------------------------
SELECT escalation.escalate('rt_hd.tickets', '8', target_skills => '{rt refunds}',
           as_of => '2024-06-03 12:00+00') AS k1 \gset
SELECT agent_id, continuity, fairness FROM escalation.explain_route(:k1, '2024-06-03 12:00+00')
 WHERE agent_id IN ('rt_hal', 'rt_gus') ORDER BY agent_id;
-- hal resolved ticket 6 (account none, requester cust0); ticket 12 is cust0 too
SELECT escalation.escalate('rt_hd.tickets', '12', target_skills => '{rt refunds}',
           as_of => '2024-06-03 12:00+00') AS k2 \gset
SELECT agent_id, continuity FROM escalation.explain_route(:k2, '2024-06-03 12:00+00')
 WHERE agent_id IN ('rt_hal', 'rt_gus') ORDER BY agent_id;

--------------------------------------------------------------------------
-- handoff from a bot; write-back to the helpdesk's assignee column
--------------------------------------------------------------------------
INSERT INTO escalation.routing_sources (source_id) VALUES (:sid);
SELECT escalation.handoff('rt_hd.tickets', '10', 'rt-bot', 'refund the double charge',
           skills => '{rt refunds}', tried => '["checked the invoice", "re-sent the receipt"]',
           worked => '["identified the duplicate payment"]', language => 'en',
           as_of => '2024-06-03 12:00+00') AS h1 \gset
SELECT origin, kind, target_skills, language, reasons->0->>'kind' AS reason, reasons->0->>'action' AS action,
       context->'handoff'->>'from' AS bot, context->'handoff'->'worked' AS worked, context->'tried' AS tried
  FROM escalation.escalations WHERE escalation_id = :h1;
SELECT regress_error($$SELECT escalation.handoff('rt_hd.tickets', '11', 'rt-bot', ' ', skills => '{x}')$$);
SELECT regress_error($$SELECT escalation.handoff('rt_hd.tickets', '11', 'rt-bot', 'do it')$$);
SELECT escalation.route('2024-06-03 12:01+00', 100) > 0 AS handled;
SELECT e.status, e.agent_id = t.assignee AS written_back
  FROM escalation.escalations e JOIN rt_hd.tickets t ON t.id::text = e.ticket_key
 WHERE e.escalation_id = :h1;

--------------------------------------------------------------------------
-- run_batch routes with what is left of its batch; refusals
--------------------------------------------------------------------------
SELECT escalation.escalate('rt_hd.tickets', '14', target_skills => '{rt refunds}',
           as_of => '2024-06-03 13:00+00') AS b1 \gset
SELECT escalation.run_batch('2024-06-03 13:00+00', 500) >= 1 AS routed;
SELECT status FROM escalation.escalations WHERE escalation_id = :b1;
SELECT regress_error($$SELECT escalation.route(NULL, 10)$$);
SELECT regress_error($$SELECT escalation.route(now(), 0)$$);
SELECT regress_error(format($$SELECT escalation.reassign(%s, 'rt_dan', 'try')$$, :e5)) ~ 'cannot take' AS offline_refused;
-- never beyond capacity
SELECT a.agent_id FROM escalation.agents a
 WHERE escalation.agent_load(a.agent_id) > a.capacity;

--------------------------------------------------------------------------
-- urgency: severity, then the earliest running SLA clock's due time, then
-- age.  escalations.sla_due_at carries that due time (kept by triggers on
-- escalations and clocks); the queue is read in that order from an index
--------------------------------------------------------------------------
INSERT INTO escalation.skills (name) VALUES ('rt sla');
INSERT INTO escalation.agents (agent_id, team, tier, capacity, languages, availability)
VALUES ('rt_sue', 'rt billing', 1, 5, '{en}', 'online');
INSERT INTO escalation.agent_skills (agent_id, skill, level) VALUES ('rt_sue', 'rt sla', 3);
SELECT escalation.escalate('rt_hd.tickets', '15', target_skills => '{rt sla}', severity => 4,
           as_of => '2024-06-03 13:00+00') AS ua \gset
SELECT escalation.escalate('rt_hd.tickets', '16', target_skills => '{rt sla}', severity => 4,
           as_of => '2024-06-03 13:05+00') AS ub \gset
CREATE FUNCTION rt_urgency(a bigint, b bigint) RETURNS TABLE (first text, a_due timestamptz, b_due timestamptz)
LANGUAGE sql AS $$
    SELECT (SELECT CASE p.escalation_id WHEN a THEN 'older (15)' ELSE 'younger (16)' END
              FROM escalation.route_plan('2024-06-03 13:10+00', 50) WITH ORDINALITY p
             WHERE p.escalation_id IN (a, b) ORDER BY p.ordinality LIMIT 1),
           (SELECT sla_due_at FROM escalation.escalations WHERE escalation_id = a),
           (SELECT sla_due_at FROM escalation.escalations WHERE escalation_id = b)
$$;
-- no clocks: by age
SELECT * FROM rt_urgency(:ua, :ub);
-- the younger one's ticket is due at 14:00: it goes first
INSERT INTO escalation.clocks (source_id, ticket_key, metric, policy_id, target, state, started_at,
                               running_since, due_at)
VALUES (:sid, '16', 'first_response', 0, '1 hour', 'running', '2024-06-03 13:00+00',
        '2024-06-03 13:00+00', '2024-06-03 14:00+00');
SELECT * FROM rt_urgency(:ua, :ub);
-- the older one's is due sooner, on its second clock
INSERT INTO escalation.clocks (source_id, ticket_key, metric, policy_id, target, state, started_at,
                               running_since, due_at)
VALUES (:sid, '15', 'first_response', 0, '1 hour', 'running', '2024-06-03 12:00+00',
        '2024-06-03 12:00+00', '2024-06-03 15:00+00'),
       (:sid, '15', 'resolution', 0, '1 hour', 'running', '2024-06-03 12:30+00',
        '2024-06-03 12:30+00', '2024-06-03 13:30+00');
SELECT * FROM rt_urgency(:ua, :ub);
-- its earlier clock pauses: the later one is what counts now
UPDATE escalation.clocks SET state = 'paused', running_since = NULL, due_at = NULL
 WHERE source_id = :sid AND ticket_key = '15' AND metric = 'resolution';
SELECT * FROM rt_urgency(:ua, :ub);
-- the younger one's clock is met: nothing due for it; a new due time for the older one
UPDATE escalation.clocks SET state = 'met', running_since = NULL, due_at = NULL, finished_at = '2024-06-03 13:06+00'
 WHERE source_id = :sid AND ticket_key = '16';
UPDATE escalation.clocks SET due_at = '2024-06-03 16:00+00'
 WHERE source_id = :sid AND ticket_key = '15' AND metric = 'first_response';
SELECT * FROM rt_urgency(:ua, :ub);
-- clocks deleted: by age again
DELETE FROM escalation.clocks WHERE source_id = :sid AND ticket_key IN ('15', '16');
SELECT * FROM rt_urgency(:ua, :ub);
-- a new escalation starts with its ticket's clocks; accepted ones are left alone
INSERT INTO escalation.clocks (source_id, ticket_key, metric, policy_id, target, state, started_at,
                               running_since, due_at)
VALUES (:sid, '17', 'first_response', 0, '1 hour', 'running', '2024-06-03 13:00+00',
        '2024-06-03 13:00+00', '2024-06-03 14:00+00');
SELECT escalation.escalate('rt_hd.tickets', '17', target_skills => '{rt sla}',
           as_of => '2024-06-03 13:10+00') AS uc \gset
SELECT sla_due_at FROM escalation.escalations WHERE escalation_id = :uc;
SELECT status FROM escalation.accept(:uc, 'rt_sue', '2024-06-03 13:11+00');
UPDATE escalation.clocks SET due_at = '2024-06-03 14:30+00' WHERE source_id = :sid AND ticket_key = '17';
SELECT sla_due_at FROM escalation.escalations WHERE escalation_id = :uc;
DELETE FROM escalation.clocks WHERE source_id = :sid AND ticket_key = '17';
-- escalations_queue is the queue in urgency order: the batch reads it with
-- no sort (here, with sorting off, the index is the only way in order)
BEGIN;
SET LOCAL enable_sort = off;
EXPLAIN (COSTS OFF)
SELECT e.escalation_id FROM escalation.escalations e
 WHERE e.status = 'queued' ORDER BY e.severity DESC, e.sla_due_at, e.created_at, e.escalation_id;
COMMIT;
SELECT count(*) AS cancelled FROM (
    SELECT escalation.cancel(escalation_id, 'routing test: done', '2024-06-03 14:00+00')
      FROM escalation.escalations WHERE escalation_id IN (:ua, :ub, :uc)) c;

--------------------------------------------------------------------------
-- a routing decision that fails for a reason of its own (a DBA's trigger
-- refuses the offer of one escalation) does not stop the queue behind it:
-- the decisions go in a subtransaction and, when that fails, one by one;
-- the failing escalation is set aside in escalation.routing_failures (a
-- WARNING), the queue skips it, retry_routing_failures() puts it back
--------------------------------------------------------------------------
SELECT count(*) >= 0 AS cleaned FROM (
    SELECT escalation.cancel(escalation_id, 'routing test: clean queue', '2024-06-03 15:00+00')
      FROM escalation.escalations WHERE status IN ('queued', 'offered', 'accepted')) c;
INSERT INTO escalation.teams (name, kind, tier) VALUES ('rt fail', 'functional', 1);
INSERT INTO escalation.skills (name) VALUES ('rt failing');
INSERT INTO escalation.agents (agent_id, team, tier, capacity, languages, availability, active)
VALUES ('rt_fix', 'rt fail', 1, 5, '{en}', 'online', true);
INSERT INTO escalation.agent_skills (agent_id, skill, level) VALUES ('rt_fix', 'rt failing', 3);
SELECT escalation.escalate('rt_hd.tickets', '18', target_team => 'rt fail', target_skills => '{rt failing}',
           severity => 4, as_of => '2024-06-03 15:01+00') AS rf1 \gset
SELECT escalation.escalate('rt_hd.tickets', '19', target_team => 'rt fail', target_skills => '{rt failing}',
           severity => 3, as_of => '2024-06-03 15:02+00') AS rf2 \gset
CREATE FUNCTION rt_hd.refuse_offer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.escalation_id = (SELECT e.escalation_id FROM escalation.escalations e
                             JOIN escalation.sources s USING (source_id)
                            WHERE s.ticket_table = 'rt_hd.tickets'::regclass AND e.ticket_key = '18'
                              AND e.target_team = 'rt fail') THEN
        RAISE EXCEPTION 'ticket 18 may not be offered' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER rt_refuse_offer BEFORE INSERT ON escalation.assignments
    FOR EACH ROW EXECUTE FUNCTION rt_hd.refuse_offer();
-- the more urgent one is refused and set aside; the other is offered
SELECT escalation.route('2024-06-03 15:05+00', 10) AS handled;
SELECT escalation_id = :rf1 AS is_rf1, status, agent_id
  FROM escalation.escalations WHERE escalation_id IN (:rf1, :rf2) ORDER BY escalation_id;
SELECT escalation_id = :rf1 AS is_rf1, ticket_key, failed_at, sqlstate, error
  FROM escalation.routing_failures;
SELECT queue, waiting, oldest FROM escalation.backlog('2024-06-03 15:05+00')
 WHERE queue = 'routing_failures';
-- the queue skips it now: the next batch routes nothing and warns nothing
SELECT escalation.route('2024-06-03 15:06+00', 10) AS handled;
SELECT count(*) AS planned FROM escalation.route_plan('2024-06-03 15:06+00', 10) WHERE escalation_id = :rf1;
-- an error that is not the escalation's fails the batch, nothing set aside
CREATE OR REPLACE FUNCTION rt_hd.refuse_offer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'could not serialize' USING ERRCODE = 'serialization_failure';
END
$$;
SELECT escalation.retry_routing_failures() AS retried;
\set VERBOSITY terse
SELECT escalation.route('2024-06-03 15:07+00', 10) AS handled;
\set VERBOSITY default
SELECT count(*) AS set_aside FROM escalation.routing_failures;
-- fixed and retried: it is offered
DROP TRIGGER rt_refuse_offer ON escalation.assignments;
SELECT escalation.route('2024-06-03 15:08+00', 10) AS handled;
SELECT escalation_id = :rf1 AS is_rf1, status, agent_id
  FROM escalation.escalations WHERE escalation_id IN (:rf1, :rf2) ORDER BY escalation_id;
-- taking an offer back that fails (a DBA's trigger refuses updates of
-- ticket 18's assignment): set aside too, the other offer is taken back
CREATE FUNCTION rt_hd.refuse_requeue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.escalation_id = (SELECT e.escalation_id FROM escalation.escalations e
                             JOIN escalation.sources s USING (source_id)
                            WHERE s.ticket_table = 'rt_hd.tickets'::regclass AND e.ticket_key = '18'
                              AND e.target_team = 'rt fail') THEN
        RAISE EXCEPTION 'ticket 18''s offer may not change' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER rt_refuse_requeue BEFORE UPDATE ON escalation.assignments
    FOR EACH ROW EXECUTE FUNCTION rt_hd.refuse_requeue();
SELECT escalation.route('2024-06-03 15:30+00', 10) >= 1 AS handled;
SELECT escalation_id = :rf1 AS is_rf1, ticket_key, sqlstate, error FROM escalation.routing_failures;
SELECT escalation_id = :rf1 AS is_rf1, outcome FROM escalation.assignments
 WHERE escalation_id IN (:rf1, :rf2) ORDER BY escalation_id, assignment_id;
DROP TRIGGER rt_refuse_requeue ON escalation.assignments;
SELECT escalation.retry_routing_failures() AS retried;
SELECT escalation.route('2024-06-03 15:31+00', 10) >= 1 AS handled;
SELECT escalation_id = :rf1 AS is_rf1, outcome FROM escalation.assignments
 WHERE escalation_id = :rf1 ORDER BY assignment_id;
SELECT count(*) AS cancelled FROM (
    SELECT escalation.cancel(escalation_id, 'routing test: done', '2024-06-03 16:00+00')
      FROM escalation.escalations WHERE escalation_id IN (:rf1, :rf2)) c;
UPDATE escalation.agents SET active = false WHERE agent_id = 'rt_fix';
