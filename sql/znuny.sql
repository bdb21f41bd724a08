--
-- znuny: escalation on a real Znuny (OTRS) schema, end to end.
--
-- The schema (test/fixtures/znuny_schema.sql) is Znuny's own, loaded into a
-- quoted CamelCase schema "Znuny"; escalation only adds its triggers.  The
-- mapping: state and priority through their lookup tables (the state's
-- *type* name says open / pending / closed), "unassigned" = owner 1 (a
-- sentinel), the customer a login string, and the messages two tables
-- away: article_data_mime holds the text, article (message_via) the ticket,
-- the sender type and the customer visibility.  SLA policies (first
-- response and resolution per priority, on office hours); the scenario is
-- replayed as Znuny writes it (test/fixtures/znuny_seed.sql); one cycle at
-- the scenario's "now" (2025-03-14 16:00 UTC, a Friday).
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET client_min_messages = warning;

CREATE SCHEMA "Znuny";
SET search_path = "Znuny", public;
\set ECHO none
\i test/fixtures/znuny_schema.sql
\set ECHO all

SELECT escalation.attach('"Znuny".ticket', key => 'id', name => 'Znuny',
           status => 'ticket_state_id',
           status_map => '{"open": ["new", "open"], "pending": ["pending reminder", "pending auto"],
                           "solved": ["closed"], "other": ["removed", "merged"]}',
           priority => 'ticket_priority_id',
           priority_map => '{"low": ["1 very low", "2 low"], "medium": ["3 normal"], "high": ["4 high"],
                             "urgent": ["5 very high"]}',
           lookups => '{"status":   [{"table": "\"Znuny\".ticket_state", "key": "id", "value": "type_id"},
                                     {"table": "\"Znuny\".ticket_state_type", "key": "id", "value": "name"}],
                        "priority": [{"table": "\"Znuny\".ticket_priority", "key": "id", "value": "name"}],
                        "author":   [{"table": "\"Znuny\".article_sender_type", "key": "id", "value": "name"}]}',
           created_at => 'create_time', updated_at => 'change_time',
           subject => 'title', requester => 'customer_user_id', account => 'customer_id',
           assignee => 'user_id', team => 'queue_id',
           sentinels => '{"assignee": [1]}',
           messages => '"Znuny".article_data_mime', message_body => 'a_body',
           message_via => '"Znuny".article', message_via_key => 'id', message_ref => 'article_id',
           message_ticket => 'ticket_id', message_created_at => 'create_time',
           message_author => 'article_sender_type_id',
           author_map => '{"customer": ["customer"], "agent": ["agent"], "bot": ["system"]}',
           message_visible => 'is_visible_for_customer') AS sid \gset

-- the triggers: ours on ticket and article_data_mime; article is only read.
-- change_time (updated_at) is not among the UPDATE OF columns: Znuny bumps it
-- on every write, with its escalation index rebuild too
SELECT c.relname, t.tgname,
       regexp_replace(pg_get_triggerdef(t.oid), '^.*AFTER (.*) ON .*$', '\1') AS fires_on
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = '"Znuny"'::regnamespace AND t.tgname LIKE 'escalation%'
 ORDER BY 1, 2;

-- bad mappings are refused when attaching
SELECT regress_error($$SELECT escalation.attach('"Znuny".queue', key => 'id',
           messages => '"Znuny".article_data_mime', message_body => 'a_body', message_ticket => 'ticket_id',
           message_via => '"Znuny".article', message_ref => 'article_id')$$);
SELECT regress_error($$SELECT escalation.attach('"Znuny".queue', key => 'id',
           messages => '"Znuny".article_data_mime', message_body => 'a_body', message_ticket => 'ticket_id',
           message_via => '"Znuny".article', message_via_key => 'ticket_id', message_ref => 'article_id')$$);
SELECT regress_error($$SELECT escalation.attach('"Znuny".queue', key => 'id',
           messages => '"Znuny".article', message_body => 'insert_fingerprint', message_ticket => 'ticket_id',
           message_visible => 'insert_fingerprint')$$);
SELECT regress_error($$SELECT escalation.attach('"Znuny".queue', key => 'id', sentinels => '{"assignee": [1]}')$$);
SELECT regress_error($$SELECT escalation.attach('"Znuny".queue', key => 'id', created_at => 'comments')$$);

--------------------------------------------------------------------------
-- Configuration
--------------------------------------------------------------------------
INSERT INTO escalation.calendars (name, time_zone) VALUES ('znuny office', 'UTC');
INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
SELECT c.calendar_id, d, time '09:00', time '17:00'
  FROM escalation.calendars c, generate_series(1, 5) AS d WHERE c.name = 'znuny office';
INSERT INTO escalation.sla_policies (name, source_id, position, priorities)
SELECT 'znuny ' || p, :sid, 200 + n, ARRAY[p]
  FROM unnest('{urgent,high,medium,low}'::text[]) WITH ORDINALITY AS x(p, n);
INSERT INTO escalation.sla_targets (policy_id, metric, target, calendar, warn_at)
SELECT p.policy_id, m.metric, m.target::interval, 'znuny office', '{}'
  FROM escalation.sla_policies p
  JOIN (VALUES ('znuny urgent', 'first_response', '1 hour'),  ('znuny urgent', 'resolution', '8 hours'),
               ('znuny high',   'first_response', '2 hours'), ('znuny high',   'resolution', '16 hours'),
               ('znuny medium', 'first_response', '4 hours'), ('znuny medium', 'resolution', '24 hours'),
               ('znuny low',    'first_response', '8 hours'), ('znuny low',    'resolution', '40 hours'))
       AS m(policy, metric, target) ON m.policy = p.name;
INSERT INTO escalation.sla_ladder (policy_id, metric, level, after, target_team, kind, severity)
SELECT policy_id, 'resolution', 1, '0', 'tier2', 'hierarchical', 4
  FROM escalation.sla_policies WHERE name = 'znuny urgent';
INSERT INTO escalation.rules (name, source_id, keywords, target_team, severity)
VALUES ('znuny: double charge', :sid, '{"charged twice"}', 'billing', 3);

--------------------------------------------------------------------------
-- The scenario, written as Znuny writes it
--------------------------------------------------------------------------
\set ECHO none
\i test/fixtures/znuny_seed.sql
\set ECHO all
SET search_path = "Znuny", public;

SELECT escalation.run_cycle('2025-03-14 16:00+00') > 0 AS fired;

-- a clock's business time as of the scenario's "now"
CREATE FUNCTION public.zn_clocks(keys int[])
RETURNS TABLE (ticket text, metric text, state text, target interval, elapsed interval,
               due_at timestamptz, breached boolean)
LANGUAGE sql AS $$
    SELECT c.ticket_key, c.metric, c.state, c.target,
           c.elapsed + make_interval(secs => CASE WHEN c.state = 'running'
               THEN escalation.sla_between(c.calendar, c.running_since, '2025-03-14 16:00+00') ELSE 0 END),
           c.due_at, c.breached_at IS NOT NULL
      FROM escalation.clocks c JOIN escalation.sources s USING (source_id)
     WHERE s.name = 'Znuny' AND c.ticket_key::int = ANY (keys)
       AND c.metric IN ('first_response', 'resolution')
     ORDER BY c.ticket_key::int, c.metric, c.round
$$;

-- every ticket's policy, from its priority's name through the lookup
SELECT t.ticket_key, t.status, t.priority, p.name AS policy
  FROM escalation.sla_tickets t JOIN escalation.sources s USING (source_id)
  LEFT JOIN escalation.sla_policies p USING (policy_id)
 WHERE s.name = 'Znuny' ORDER BY t.ticket_key::int;

-- T9, "5 very high" in Support::Billing, new for four days, no answer
SELECT * FROM zn_clocks('{9}');
SELECT f.metric, f.step, f.escalation_id IS NOT NULL AS escalated
  FROM escalation.clock_firings f JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'Znuny' AND f.ticket_key = '9' ORDER BY f.metric, f.step;

-- T4 and T7 pending reminder, T13 pending auto close: paused
SELECT * FROM zn_clocks('{4,7,13}');

-- T3: the internal note (is_visible_for_customer = 0) answers nothing
SELECT * FROM zn_clocks('{3}');

-- closed tickets: clocks finished; what fired is T14's late first response
-- and resolution, recorded when the cycle ran, escalating nothing
SELECT c.ticket_key, string_agg(c.metric || ':' || c.state, ' ' ORDER BY c.metric) AS clocks
  FROM escalation.clocks c JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'Znuny' AND c.ticket_key IN ('5', '8', '10', '11', '14', '15', '19', '20')
   AND c.metric IN ('first_response', 'resolution')
 GROUP BY 1 ORDER BY c.ticket_key::int;
SELECT f.ticket_key, f.metric, f.step, f.escalation_id IS NOT NULL AS escalated
  FROM escalation.clock_firings f JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'Znuny' AND f.ticket_key IN ('5', '8', '10', '11', '14', '15', '19', '20')
 ORDER BY f.ticket_key::int, f.metric, f.step;

-- T12, closed 5 days ago and reopened: the resolution clock continued
SELECT * FROM zn_clocks('{12}');
SELECT (SELECT count(*) FROM escalation.clock_segments g WHERE g.clock_id = c.clock_id) AS segments
  FROM escalation.clocks c JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'Znuny' AND c.ticket_key = '12' AND c.metric = 'resolution';

-- escalations so far: T9's opening article ("charged twice") and its SLA
-- ladder; the owner-1 sentinel reads as "unassigned"
SELECT e.ticket_key, e.origin, e.target_team, e.severity, e.context -> 'ticket' ->> 'assignee' AS assignee,
       e.context -> 'ticket' ->> 'requester' AS requester
  FROM escalation.escalations e JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'Znuny' ORDER BY e.escalation_id;

--------------------------------------------------------------------------
-- Live: Znuny's escalation index rebuild changes nothing of ours; a new
-- customer article escalates; an agent's phone note does not answer
--------------------------------------------------------------------------
SELECT count(*) AS segments_before FROM escalation.clock_segments \gset
UPDATE ticket SET escalation_update_time = 1741968000, escalation_time = 1741968000,
                  change_time = timestamp '2025-03-14 16:00:00';
SELECT count(*) - :segments_before AS new_segments FROM escalation.clock_segments;

-- ArticleCreate: the article row, then its text
INSERT INTO article (id, ticket_id, article_sender_type_id, communication_channel_id, is_visible_for_customer,
                     create_time, create_by, change_time, change_by)
VALUES (2001, 18, 3, 1, 1, '2025-03-14 16:05:00', 1, '2025-03-14 16:05:00', 1);
INSERT INTO article_data_mime (article_id, a_from, a_subject, a_body, incoming_time, create_time, create_by,
                               change_time, change_by)
VALUES (2001, 'Finn Fisher <finn@gmail.example>', 'RE: Card declined',
        'Now I was charged twice and the card is still declined!', 1741968300,
        '2025-03-14 16:05:00', 1, '2025-03-14 16:05:00', 1);
-- an internal note by an agent on T1: no first response
INSERT INTO article (id, ticket_id, article_sender_type_id, communication_channel_id, is_visible_for_customer,
                     create_time, create_by, change_time, change_by)
VALUES (2002, 1, 1, 3, 0, '2025-03-14 16:06:00', 2, '2025-03-14 16:06:00', 2);
INSERT INTO article_data_mime (article_id, a_body, incoming_time, create_time, create_by, change_time, change_by)
VALUES (2002, 'Charged twice? Checking with the bank.', 1741968360, '2025-03-14 16:06:00', 2,
        '2025-03-14 16:06:00', 2);
-- a system article (auto reply) on T17: no first response either
INSERT INTO article (id, ticket_id, article_sender_type_id, communication_channel_id, is_visible_for_customer,
                     create_time, create_by, change_time, change_by)
VALUES (2003, 17, 2, 1, 1, '2025-03-14 16:07:00', 1, '2025-03-14 16:07:00', 1);
INSERT INTO article_data_mime (article_id, a_body, incoming_time, create_time, create_by, change_time, change_by)
VALUES (2003, 'Thank you, your request was received.', 1741968420, '2025-03-14 16:07:00', 1,
        '2025-03-14 16:07:00', 1);

SELECT e.ticket_key, e.origin, e.target_team, e.status, e.reasons -> 0 ->> 'on' AS judged,
       e.context -> 'ticket' ->> 'assignee' AS assignee
  FROM escalation.escalations e JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'Znuny' AND e.ticket_key IN ('1', '18') ORDER BY e.escalation_id;
SELECT * FROM zn_clocks('{1,17}');

--------------------------------------------------------------------------
-- Times as Unix epoch integers, 0 = unset (Znuny's deadline columns)
--------------------------------------------------------------------------
CREATE TABLE "Znuny"."EpochTickets" (
    "Id"        integer PRIMARY KEY,
    "State"     text NOT NULL,
    "OpenedAt"  integer NOT NULL,
    "Owner"     integer NOT NULL DEFAULT 1
);
-- sentinels are given per role, not per column
SELECT regress_error($$SELECT escalation.attach('"Znuny"."EpochTickets"', key => 'Id',
           created_at => 'OpenedAt', assignee => 'Owner', sentinels => '{"Owner": [1]}')$$);
SELECT escalation.attach('"Znuny"."EpochTickets"', key => 'Id', name => 'epoch tickets',
           status => 'State', status_map => '{"open": ["open"], "solved": ["closed"]}',
           created_at => 'OpenedAt', assignee => 'Owner', sentinels => '{"assignee": [1]}') AS epoch_sid \gset
INSERT INTO escalation.sla_policies (name, source_id, position) VALUES ('epoch', :epoch_sid, 300);
INSERT INTO escalation.sla_targets (policy_id, metric, target)
SELECT policy_id, 'resolution', '1 hour' FROM escalation.sla_policies WHERE name = 'epoch';
INSERT INTO "EpochTickets" VALUES (1, 'open', 1741968000);   -- 2025-03-14 16:00 UTC
INSERT INTO "EpochTickets" VALUES (2, 'open', 0);            -- unset: the time of the write
SELECT c.ticket_key,
       CASE WHEN c.started_at = '2025-03-14 16:00+00' THEN 'the column''s time'
            WHEN c.started_at > '2025-03-14 16:00+00' THEN 'the time of the write' END AS started,
       c.due_at - c.started_at AS target
  FROM escalation.clocks c WHERE c.source_id = :epoch_sid ORDER BY 1;

SELECT escalation.detach('"Znuny"."EpochTickets"');
SELECT escalation.detach('"Znuny".ticket');
RESET search_path;
