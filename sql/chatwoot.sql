--
-- chatwoot: escalation on a real Chatwoot schema, end to end.
--
-- The schema (test/fixtures/chatwoot_schema.sql) is Chatwoot's own, with its
-- own triggers; escalation only adds its triggers.  The mapping: integer
-- status and priority enums, no body on the conversation (the opening
-- customer message in `messages` is the text rules judge), message_type +
-- sender_type + private saying who wrote what, naive UTC timestamps, and
-- account_id as the tenant.  SLA policies (first response and resolution per
-- priority, on office hours) belong to tenant 1; then the scenario is
-- replayed as Chatwoot writes it (test/fixtures/chatwoot_seed.sql), one
-- cycle runs at the scenario's "now" (2025-03-14 16:00 UTC, a Friday), and
-- the clocks and escalations are checked against what the scenario implies.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET client_min_messages = warning;

CREATE SCHEMA chatwoot;
SET search_path = chatwoot, public;
\set ECHO none
\i test/fixtures/chatwoot_schema.sql
\set ECHO all

SELECT escalation.attach('chatwoot.conversations', key => 'id', name => 'chatwoot',
           tenant => 'account_id',
           status => 'status', status_map => '{"open": [0], "solved": [1], "pending": [2, 3]}',
           priority => 'priority',
           priority_map => '{"low": [0], "medium": [1], "high": [2], "urgent": [3]}',
           created_at => 'created_at', updated_at => 'updated_at',
           channel => 'inbox_id', requester => 'contact_id', assignee => 'assignee_id',
           team => 'team_id',
           messages => 'chatwoot.messages', message_ticket => 'conversation_id',
           message_created_at => 'created_at', message_body => 'content',
           message_author => 'message_type',
           author_map => '{"customer": [0], "agent": [1], "bot": [2, 3]}',
           message_sender => 'sender_type',
           sender_map => '{"customer": ["Contact"], "agent": ["User"], "bot": ["AgentBot", "Captain::Assistant"]}',
           message_private => 'private') AS sid \gset

-- our triggers sit beside Chatwoot's own; an UPDATE fires ours only when it
-- touches a mapped column other than updated_at
SELECT tgname, pg_get_triggerdef(oid) ~ 'UPDATE OF' AS update_of, tgname LIKE 'escalation%' AS ours
  FROM pg_trigger WHERE tgrelid = 'chatwoot.conversations'::regclass AND NOT tgisinternal
 ORDER BY tgname;
SELECT regexp_replace(pg_get_triggerdef(oid), '^.*UPDATE OF (.*) ON .*$', '\1') AS update_of
  FROM pg_trigger WHERE tgrelid = 'chatwoot.conversations'::regclass AND tgname = 'escalation_ticket';

--------------------------------------------------------------------------
-- Configuration, all of it tenant 1's
--------------------------------------------------------------------------
INSERT INTO escalation.calendars (name, time_zone) VALUES ('chatwoot office', 'UTC');
INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
SELECT c.calendar_id, d, time '09:00', time '17:00'
  FROM escalation.calendars c, generate_series(1, 5) AS d WHERE c.name = 'chatwoot office';

INSERT INTO escalation.sla_policies (name, source_id, tenant, position, priorities)
SELECT 'chatwoot ' || p, :sid, '1', 100 + n, ARRAY[p]
  FROM unnest('{urgent,high,medium,low}'::text[]) WITH ORDINALITY AS x(p, n);
-- the catch-all overlaps the four above by design (no priority: NULL)
SET client_min_messages = error;
INSERT INTO escalation.sla_policies (name, source_id, tenant, position)
VALUES ('chatwoot no priority', :sid, '1', 110);
SET client_min_messages = warning;
INSERT INTO escalation.sla_targets (policy_id, metric, target, calendar, warn_at)
SELECT p.policy_id, m.metric, m.target::interval, 'chatwoot office', '{}'
  FROM escalation.sla_policies p
  JOIN (VALUES ('chatwoot urgent', 'first_response', '1 hour'),  ('chatwoot urgent', 'resolution', '8 hours'),
               ('chatwoot high',   'first_response', '2 hours'), ('chatwoot high',   'resolution', '16 hours'),
               ('chatwoot medium', 'first_response', '4 hours'), ('chatwoot medium', 'resolution', '24 hours'),
               ('chatwoot low',    'first_response', '8 hours'), ('chatwoot low',    'resolution', '40 hours'),
               ('chatwoot no priority', 'first_response', '8 hours'),
               ('chatwoot no priority', 'resolution', '40 hours'))
       AS m(policy, metric, target) ON m.policy = p.name;
-- a breached urgent resolution goes up to tier 2
INSERT INTO escalation.sla_ladder (policy_id, metric, level, after, target_team, kind, severity)
SELECT policy_id, 'resolution', 1, '0', 'tier2', 'hierarchical', 4
  FROM escalation.sla_policies WHERE name = 'chatwoot urgent';
-- a tenant's rule: double charges go to billing
INSERT INTO escalation.rules (name, source_id, tenant, keywords, target_team, severity)
VALUES ('chatwoot: double charge', :sid, '1', '{"charged twice", refund}', 'billing', 3);

--------------------------------------------------------------------------
-- The scenario, written as Chatwoot writes it
--------------------------------------------------------------------------
\set ECHO none
\i test/fixtures/chatwoot_seed.sql
\set ECHO all
SET search_path = chatwoot, public;

-- Chatwoot's own trigger still numbered the conversations per account
SELECT account_id, min(display_id), max(display_id), count(*) FROM conversations GROUP BY 1 ORDER BY 1;

SELECT escalation.run_cycle('2025-03-14 16:00+00') > 0 AS fired;

-- a clock's business time as of the scenario's "now"
CREATE FUNCTION public.cw_clocks(keys int[])
RETURNS TABLE (ticket text, metric text, state text, target interval, elapsed interval,
               due_at timestamptz, breached boolean)
LANGUAGE sql AS $$
    SELECT c.ticket_key, c.metric, c.state, c.target,
           c.elapsed + make_interval(secs => CASE WHEN c.state = 'running'
               THEN escalation.sla_between(c.calendar, c.running_since, '2025-03-14 16:00+00') ELSE 0 END),
           c.due_at, c.breached_at IS NOT NULL
      FROM escalation.clocks c JOIN escalation.sources s USING (source_id)
     WHERE s.name = 'chatwoot' AND c.ticket_key::int = ANY (keys)
       AND c.metric IN ('first_response', 'resolution')
     ORDER BY c.ticket_key::int, c.metric, c.round
$$;

-- T9, urgent billing, open four days (since Monday 16:00, 32 office hours)
-- with no reply: both targets breached, the resolution ladder escalated
SELECT * FROM cw_clocks('{9}');
SELECT f.ticket_key, f.metric, f.step, f.kind, f.escalation_id IS NOT NULL AS escalated
  FROM escalation.clock_firings f JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'chatwoot' AND f.ticket_key = '9' ORDER BY f.metric, f.step;

-- T4, pending (bot-owned) since 20 minutes after its first reply: paused
SELECT * FROM cw_clocks('{4,13}');

-- T3: the private note (2 hours ago) is no first response; the clock runs
SELECT * FROM cw_clocks('{3}');
SELECT ticket_key, author FROM escalation.first_responses f JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'chatwoot' AND ticket_key IN ('3', '4') ORDER BY 1;

-- solved conversations: every clock finished; what fired is T14's late
-- first response (2 days for a 4-hour target), recorded, escalating nothing
SELECT c.ticket_key, string_agg(c.metric || ':' || c.state, ' ' ORDER BY c.metric) AS clocks
  FROM escalation.clocks c JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'chatwoot' AND c.ticket_key IN ('5', '8', '10', '11', '14', '15', '19', '20')
   AND c.metric IN ('first_response', 'resolution')
 GROUP BY 1 ORDER BY c.ticket_key::int;
SELECT f.ticket_key, f.metric, f.step, f.escalation_id IS NOT NULL AS escalated
  FROM escalation.clock_firings f JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'chatwoot' AND f.ticket_key IN ('5', '8', '10', '11', '14', '15', '19', '20')
 ORDER BY f.ticket_key::int, f.metric, f.step;

-- T12, resolved 5 days ago and reopened 3 days ago: one resolution clock,
-- met once and continued (its time before the resolve still counts)
SELECT * FROM cw_clocks('{12}');
SELECT (SELECT count(*) FROM escalation.clock_segments g WHERE g.clock_id = c.clock_id) AS segments
  FROM escalation.clocks c JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'chatwoot' AND c.ticket_key = '12' AND c.metric = 'resolution';

-- tenant 2 has no policy of its own: its conversations run no clocks
SELECT count(*) AS tenant2_clocks FROM escalation.clocks c JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'chatwoot' AND c.ticket_key IN ('21', '22');

-- the rule judged T9's opening message ("My card was charged twice")
SELECT e.ticket_key, e.origin, e.target_team, e.level, e.severity, e.context -> 'ticket' ->> 'tenant' AS tenant
  FROM escalation.escalations e JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'chatwoot' ORDER BY e.escalation_id;

--------------------------------------------------------------------------
-- Live: app bookkeeping changes nothing; a new customer message escalates
--------------------------------------------------------------------------
SELECT count(*) AS clock_rows_before FROM escalation.clock_segments \gset
UPDATE conversations SET last_activity_at = last_activity_at + interval '1 second',
                         updated_at = updated_at + interval '1 second',
                         agent_last_seen_at = timestamp '2025-03-14 16:00:00';
SELECT count(*) - :clock_rows_before AS new_segments FROM escalation.clock_segments;

INSERT INTO messages (content, account_id, inbox_id, conversation_id, message_type, created_at, updated_at,
                      content_type, sender_type, sender_id)
VALUES ('Hello? I was charged twice AGAIN and nobody answers.', 1, 2, 18, 0,
        timestamp '2025-03-14 16:05:00', timestamp '2025-03-14 16:05:00', 0, 'Contact', 6);
-- the same words in tenant 2 raise nothing: the rule is tenant 1's
INSERT INTO messages (content, account_id, inbox_id, conversation_id, message_type, created_at, updated_at,
                      content_type, sender_type, sender_id)
VALUES ('I was charged twice for the export add-on.', 2, 3, 21, 0,
        timestamp '2025-03-14 16:06:00', timestamp '2025-03-14 16:06:00', 8, 'Contact', 7);
-- an AgentBot's outgoing message is no first response for T1
INSERT INTO messages (content, account_id, inbox_id, conversation_id, message_type, created_at, updated_at,
                      content_type, sender_type, sender_id)
VALUES ('Our bot is looking at it.', 1, 1, 1, 1,
        timestamp '2025-03-14 16:07:00', timestamp '2025-03-14 16:07:00', 0, 'AgentBot', 1);
SELECT e.ticket_key, e.origin, e.target_team, e.status, e.reasons -> 0 ->> 'on' AS judged,
       e.context -> 'ticket' ->> 'assignee' AS assignee
  FROM escalation.escalations e JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'chatwoot' AND e.ticket_key IN ('18', '21') ORDER BY e.escalation_id;
SELECT * FROM cw_clocks('{1}');

-- an agent starts a conversation (an outgoing first message): the opening
-- is no first response; the agent's answer to the contact's reply is
BEGIN;
INSERT INTO conversations (id, account_id, inbox_id, status, assignee_id, created_at, updated_at, contact_id,
                           display_id, contact_inbox_id, last_activity_at, priority)
VALUES (23, 1, 1, 0, 2, timestamp '2025-03-14 16:10:00', timestamp '2025-03-14 16:10:00', 3, 0, 5,
        timestamp '2025-03-14 16:10:00', 1);
INSERT INTO messages (content, account_id, inbox_id, conversation_id, message_type, created_at, updated_at,
                      content_type, sender_type, sender_id)
VALUES ('Hi Cora, your invoice 2024-130 is ready; shall we send it to the new address?', 1, 1, 23, 1,
        timestamp '2025-03-14 16:10:00', timestamp '2025-03-14 16:10:00', 0, 'User', 2);
COMMIT;
SELECT count(*) AS first_responses FROM escalation.first_responses WHERE source_id = :sid AND ticket_key = '23';
SELECT * FROM cw_clocks('{23}');
INSERT INTO messages (content, account_id, inbox_id, conversation_id, message_type, created_at, updated_at,
                      content_type, sender_type, sender_id)
VALUES ('Yes please, and copy our accountant.', 1, 1, 23, 0,
        timestamp '2025-03-14 16:20:00', timestamp '2025-03-14 16:20:00', 8, 'Contact', 3),
       ('Done, sent to both.', 1, 1, 23, 1,
        timestamp '2025-03-14 16:25:00', timestamp '2025-03-14 16:25:00', 0, 'User', 2);
SELECT c.metric, c.state, c.finished_at FROM escalation.clocks c
 WHERE c.source_id = :sid AND c.ticket_key = '23' AND c.metric = 'first_response';
SELECT responded_at FROM escalation.first_responses WHERE source_id = :sid AND ticket_key = '23';

--------------------------------------------------------------------------
-- Routing never crosses tenants: the escalation carries the ticket's
-- tenant; agents of tenant 1 and tenant 2 have the same skill (tenant 2's
-- better), an agent of no tenant works for both, and an agent of no tenant
-- in tenant 2's team counts as tenant 2's
--------------------------------------------------------------------------
SELECT e.ticket_key, e.origin, e.tenant
  FROM escalation.escalations e JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'chatwoot' ORDER BY e.escalation_id;
INSERT INTO escalation.skills (name) VALUES ('cw refunds');
INSERT INTO escalation.teams (name, tenant) VALUES ('cw team 2', '2');
INSERT INTO escalation.agents (agent_id, tenant, team) VALUES
    ('cw-acct1', '1', NULL), ('cw-acct2', '2', NULL), ('cw-any', NULL, NULL),
    ('cw-team2', NULL, 'cw team 2');
INSERT INTO escalation.agent_skills (agent_id, skill, level) VALUES
    ('cw-acct1', 'cw refunds', 2), ('cw-acct2', 'cw refunds', 5),
    ('cw-any', 'cw refunds', 1), ('cw-team2', 'cw refunds', 5);
SELECT escalation.handoff('chatwoot.conversations', '1', 'cw-bot', 'refund', skills => '{cw refunds}',
           as_of => '2025-03-14 16:10:00+00') AS t1 \gset
SELECT escalation.handoff('chatwoot.conversations', '21', 'cw-bot', 'refund', skills => '{cw refunds}',
           as_of => '2025-03-14 16:10:00+00') AS t2 \gset
SELECT escalation_id = :t1 AS tenant1, tenant FROM escalation.escalations
 WHERE escalation_id IN (:t1, :t2) ORDER BY escalation_id;
-- the plan ranks only agents of the escalation's tenant or of every tenant
SELECT p.escalation_id = :t1 AS tenant1, p.action, p.agent_ids
  FROM escalation.route_plan('2025-03-14 16:11:00+00', 1000) p
 WHERE p.escalation_id IN (:t1, :t2) ORDER BY p.escalation_id;
SELECT agent_id, rank, excluded_because
  FROM escalation.explain_route(:t1, '2025-03-14 16:11:00+00') WHERE agent_id LIKE 'cw-%';
-- route() offers them so (rolled back: the other files' queued escalations
-- would be routed too)
BEGIN;
SELECT escalation.route('2025-03-14 16:11:00+00', 500) > 0 AS routed;
SELECT escalation_id = :t1 AS tenant1, status, agent_id FROM escalation.escalations
 WHERE escalation_id IN (:t1, :t2) ORDER BY escalation_id;
ROLLBACK;
-- nor by hand: reassigning, or taking queued work, across tenants is refused
SELECT regress_error(format($$SELECT escalation.reassign(%s, 'cw-acct2', 'try')$$, :t1)) ~ 'cannot take' AS reassign_refused;
SELECT regress_error(format($$SELECT escalation.reassign(%s, 'cw-team2', 'try')$$, :t1)) ~ 'cannot take' AS team_refused;
SELECT regress_error(format($$SELECT escalation.accept(%s, 'cw-acct1')$$, :t2)) ~ 'works for another tenant' AS accept_refused;
SELECT (escalation.reassign(:t1, 'cw-any', 'works for all', '2025-03-14 16:12:00+00')).agent_id AS reassigned_to;
UPDATE escalation.agents SET active = false WHERE agent_id LIKE 'cw-%';

-- which of the context snapshot's look-ups Chatwoot's own indexes serve:
-- both only by their first column; the suggested index serves one fully
SELECT source, lookup, table_name, columns, index_name, status, hint
  FROM escalation.check_indexes(:sid);
BEGIN;
CREATE INDEX ON chatwoot.messages (conversation_id, created_at);
SELECT lookup, index_name, status, hint IS NULL AS no_hint
  FROM escalation.check_indexes(:sid) WHERE lookup = 'messages of a ticket';
ROLLBACK;
SET ROLE escalation_agent;
SELECT regress_error('SELECT * FROM escalation.check_indexes()');
RESET ROLE;

SELECT escalation.detach('chatwoot.conversations');
RESET search_path;
