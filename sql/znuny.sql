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
-- A phone ticket: the agent's own article opens it.  That opening is no
-- first response (nothing was answered yet): the clock runs on; the
-- customer writes back, and the agent's reply to that meets it.
-- TicketCreate and the opening ArticleCreate commit together, as Znuny's
-- AgentTicketPhone writes them
--------------------------------------------------------------------------
BEGIN;
INSERT INTO ticket (id, tn, title, queue_id, ticket_lock_id, type_id, user_id, responsible_user_id,
                    ticket_priority_id, ticket_state_id, customer_id, customer_user_id, timeout, until_time,
                    escalation_time, escalation_update_time, escalation_response_time,
                    escalation_solution_time, create_time, create_by, change_time, change_by)
VALUES (21, '2025031410000021', 'Callback: invoice address', 5, 1, 3, 1, 1, 3, 1, 'GLOBEX', 'cora',
        0, 0, 0, 0, 0, 0, '2025-03-14 16:10:00', 2, '2025-03-14 16:10:00', 2);
INSERT INTO article (id, ticket_id, article_sender_type_id, communication_channel_id, is_visible_for_customer,
                     create_time, create_by, change_time, change_by)
VALUES (2101, 21, 1, 2, 1, '2025-03-14 16:10:00', 2, '2025-03-14 16:10:00', 2);
INSERT INTO article_data_mime (article_id, a_subject, a_body, incoming_time, create_time, create_by,
                               change_time, change_by)
VALUES (2101, 'Callback: invoice address', 'As discussed on the phone: please send us the new invoice address.',
        1741968600, '2025-03-14 16:10:00', 2, '2025-03-14 16:10:00', 2);
COMMIT;
SELECT t.first_message_at, (SELECT count(*) FROM escalation.first_responses f
                             WHERE f.source_id = t.source_id AND f.ticket_key = t.ticket_key) AS first_responses
  FROM escalation.sla_tickets t WHERE t.source_id = :sid AND t.ticket_key = '21';
SELECT * FROM zn_clocks('{21}');
-- the customer answers; then the agent's reply is the first response
INSERT INTO article (id, ticket_id, article_sender_type_id, communication_channel_id, is_visible_for_customer,
                     create_time, create_by, change_time, change_by)
VALUES (2102, 21, 3, 1, 1, '2025-03-14 16:20:00', 1, '2025-03-14 16:20:00', 1);
INSERT INTO article_data_mime (article_id, a_body, incoming_time, create_time, create_by, change_time, change_by)
VALUES (2102, 'The new address is Globex, 1 Main Street, Paris.', 1741969200, '2025-03-14 16:20:00', 1,
        '2025-03-14 16:20:00', 1);
SELECT * FROM zn_clocks('{21}');
INSERT INTO article (id, ticket_id, article_sender_type_id, communication_channel_id, is_visible_for_customer,
                     create_time, create_by, change_time, change_by)
VALUES (2103, 21, 1, 1, 1, '2025-03-14 16:30:00', 2, '2025-03-14 16:30:00', 2);
INSERT INTO article_data_mime (article_id, a_body, incoming_time, create_time, create_by, change_time, change_by)
VALUES (2103, 'Thanks, the next invoice goes there.', 1741969800, '2025-03-14 16:30:00', 2,
        '2025-03-14 16:30:00', 2);
SELECT c.metric, c.state, c.finished_at FROM escalation.clocks c
 WHERE c.source_id = :sid AND c.ticket_key = '21' ORDER BY c.metric;
SELECT f.responded_at, f.author FROM escalation.first_responses f
 WHERE f.source_id = :sid AND f.ticket_key = '21';

--------------------------------------------------------------------------
-- Routing writes the owner back as Znuny's TicketOwnerSet does: user_id
-- (the mapped assignee), then Znuny's hook: the lock, change_time and
-- change_by, and an OwnerUpdate history row.  The hook is the helpdesk
-- owner's, SECURITY DEFINER with a pinned search_path; nobody else needs
-- to execute it (routing calls it as the extension's owner).
--------------------------------------------------------------------------
CREATE FUNCTION "Znuny".escalation_owner_set(source_id integer, ticket_key text, agent_id text,
                                             escalation_id bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    agent "Znuny".users;
    tk "Znuny".ticket;
    acting integer := 1;            -- Znuny's system user acts for routing
BEGIN
    SELECT * INTO agent FROM "Znuny".users u WHERE u.id = agent_id::integer;
    IF NOT FOUND OR agent.valid_id <> 1 THEN
        RAISE EXCEPTION 'Znuny user % is not a valid agent', agent_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    UPDATE "Znuny".ticket t
       SET ticket_lock_id = (SELECT l.id FROM "Znuny".ticket_lock_type l WHERE l.name = 'lock'),
           change_time = localtimestamp(0), change_by = acting
     WHERE t.id = ticket_key::bigint
    RETURNING * INTO tk;
    INSERT INTO "Znuny".ticket_history (name, history_type_id, ticket_id, type_id, queue_id, owner_id,
                                        priority_id, state_id, create_time, create_by, change_time, change_by)
    SELECT '%%' || agent.login || '%%' || agent.id, h.id, tk.id, tk.type_id, tk.queue_id, tk.user_id,
           tk.ticket_priority_id, tk.ticket_state_id, tk.change_time, acting, tk.change_time, acting
      FROM "Znuny".ticket_history_type h WHERE h.name = 'OwnerUpdate';
END
$$;
REVOKE ALL ON FUNCTION "Znuny".escalation_owner_set(integer, text, text, bigint) FROM PUBLIC;

-- bad hooks are refused when configured: the signature exactly, a plain
-- function, owned by the ticket table's owner
CREATE FUNCTION "Znuny".zn_three_args(integer, text, text) RETURNS void LANGUAGE sql AS $$ $$;
CREATE FUNCTION "Znuny".zn_returns_int(integer, text, text, bigint) RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;
CREATE FUNCTION "Znuny".zn_setof(integer, text, text, bigint) RETURNS SETOF void LANGUAGE sql AS $$ $$;
CREATE PROCEDURE "Znuny".zn_procedure(integer, text, text, bigint) LANGUAGE sql AS $$ $$;
SELECT regress_error(format($$INSERT INTO escalation.routing_sources (source_id, after_write)
                              VALUES (%s, '"Znuny".zn_three_args(integer, text, text)')$$, :sid));
SELECT regress_error(format($$INSERT INTO escalation.routing_sources (source_id, after_write)
                              VALUES (%s, '"Znuny".zn_returns_int(integer, text, text, bigint)')$$, :sid));
SELECT regress_error(format($$INSERT INTO escalation.routing_sources (source_id, after_write)
                              VALUES (%s, '"Znuny".zn_setof(integer, text, text, bigint)')$$, :sid));
SELECT regress_error(format($$INSERT INTO escalation.routing_sources (source_id, after_write)
                              VALUES (%s, '"Znuny".zn_procedure(integer, text, text, bigint)')$$, :sid));
-- an escalation_admin cannot make routing run a function of its own
CREATE ROLE regress_zn_admin NOLOGIN IN ROLE escalation_admin;
GRANT USAGE ON SCHEMA "Znuny" TO regress_zn_admin;
CREATE FUNCTION "Znuny".zn_admins(integer, text, text, bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ $$;
ALTER FUNCTION "Znuny".zn_admins(integer, text, text, bigint) OWNER TO regress_zn_admin;
SET ROLE regress_zn_admin;
SELECT regress_error(format($$INSERT INTO escalation.routing_sources (source_id, after_write)
                              VALUES (%s, '"Znuny".zn_admins(integer, text, text, bigint)')$$, :sid));
RESET ROLE;
-- a helpdesk owned by a role that is not a superuser: its hook must be
-- SECURITY DEFINER (routing runs as the extension's owner) and pin its
-- search_path
BEGIN;
ALTER TABLE ticket OWNER TO regress_zn_admin;
SELECT regress_error(format($$INSERT INTO escalation.routing_sources (source_id, after_write)
                              VALUES (%s, '"Znuny".escalation_owner_set(integer, text, text, bigint)')$$, :sid));
CREATE FUNCTION "Znuny".zn_invoker(integer, text, text, bigint) RETURNS void LANGUAGE sql AS $$ $$;
ALTER FUNCTION "Znuny".zn_invoker(integer, text, text, bigint) OWNER TO regress_zn_admin;
SELECT regress_error(format($$INSERT INTO escalation.routing_sources (source_id, after_write)
                              VALUES (%s, '"Znuny".zn_invoker(integer, text, text, bigint)')$$, :sid));
ALTER FUNCTION "Znuny".zn_invoker(integer, text, text, bigint) SECURITY DEFINER;
SELECT regress_error(format($$INSERT INTO escalation.routing_sources (source_id, after_write)
                              VALUES (%s, '"Znuny".zn_invoker(integer, text, text, bigint)')$$, :sid));
ALTER FUNCTION "Znuny".zn_invoker(integer, text, text, bigint) SET search_path = pg_catalog, pg_temp;
SELECT regress_error(format($$INSERT INTO escalation.routing_sources (source_id, after_write)
                              VALUES (%s, '"Znuny".zn_invoker(integer, text, text, bigint)')$$, :sid));
ROLLBACK;
DROP FUNCTION "Znuny".zn_three_args(integer, text, text), "Znuny".zn_returns_int(integer, text, text, bigint),
              "Znuny".zn_setof(integer, text, text, bigint), "Znuny".zn_admins(integer, text, text, bigint);
DROP PROCEDURE "Znuny".zn_procedure(integer, text, text, bigint);

INSERT INTO escalation.routing_sources (source_id, after_write)
VALUES (:sid, '"Znuny".escalation_owner_set(integer, text, text, bigint)');
SELECT write_assignee, after_write FROM escalation.routing_sources WHERE source_id = :sid;

-- Znuny agents are registered by their user id (the scenario's own
-- escalations are done with: closed, so that routing below has only the
-- handoff to write back); T17 (new, unassigned, unlocked) is handed off by
-- a bot and routed to bob, the best fit
SELECT count(escalation.cancel(e.escalation_id, 'scenario over', '2025-03-14 16:39:00+00')) AS closed
  FROM escalation.escalations e
 WHERE e.source_id = :sid AND e.status IN ('queued', 'offered', 'accepted');
INSERT INTO escalation.skills (name) VALUES ('zn invoices');
INSERT INTO escalation.agents (agent_id, name) VALUES ('3', 'bob (Znuny)'), ('2', 'alice (Znuny)');
INSERT INTO escalation.agent_skills (agent_id, skill, level) VALUES ('3', 'zn invoices', 5), ('2', 'zn invoices', 2);
SELECT escalation.handoff('"Znuny".ticket', '17', 'zn-bot', 'explain the on-premise licence',
           skills => '{zn invoices}', as_of => '2025-03-14 16:40:00+00') AS h17 \gset
SELECT user_id, ticket_lock_id, change_by FROM ticket WHERE id = 17;
SELECT count(*) AS history_before FROM ticket_history WHERE ticket_id = 17 \gset
-- routed (rolled back: the other files' queued escalations would be routed too)
BEGIN;
SELECT escalation.route('2025-03-14 16:41:00+00', 500) > 0 AS routed;
SELECT status, agent_id, routing ? 'write_back_error' AS write_back_failed
  FROM escalation.escalations WHERE escalation_id = :h17;
SELECT user_id, ticket_lock_id, change_by, change_time > timestamp '2025-03-14 16:00:00' AS changed FROM ticket WHERE id = 17;
SELECT h.name, y.name AS history_type, h.owner_id, h.queue_id, h.state_id, h.create_by
  FROM ticket_history h JOIN ticket_history_type y ON y.id = h.history_type_id
 WHERE h.ticket_id = 17 ORDER BY h.id OFFSET :history_before;
ROLLBACK;

-- the hook fails (bob is no longer a valid Znuny user): the offer stands,
-- with a WARNING and the error in escalations.routing; nothing is written
-- to the ticket, neither the owner nor the lock nor the history
BEGIN;
UPDATE users SET valid_id = 2 WHERE id = 3;
SELECT escalation.route('2025-03-14 16:41:00+00', 500) > 0 AS routed;
SELECT status, agent_id, routing -> 'write_back_error' ->> 'sqlstate' AS sqlstate,
       routing -> 'write_back_error' ->> 'message' AS error
  FROM escalation.escalations WHERE escalation_id = :h17;
SELECT user_id, ticket_lock_id, change_by FROM ticket WHERE id = 17;
SELECT count(*) - :history_before AS new_history FROM ticket_history WHERE ticket_id = 17;
ROLLBACK;

-- the hook is checked again before each call: given away since, it is
-- not called (a WARNING), and the assignee write is not kept either
BEGIN;
ALTER FUNCTION "Znuny".escalation_owner_set(integer, text, text, bigint) OWNER TO regress_zn_admin;
\set VERBOSITY terse
SELECT escalation.route('2025-03-14 16:41:00+00', 500) > 0 AS routed;
\set VERBOSITY default
SELECT status, agent_id, routing -> 'write_back_error' ->> 'sqlstate' AS sqlstate
  FROM escalation.escalations WHERE escalation_id = :h17;
SELECT user_id, ticket_lock_id FROM ticket WHERE id = 17;
ROLLBACK;

SELECT (escalation.cancel(:h17, 'test over', '2025-03-14 16:42:00+00')).status;
UPDATE escalation.agents SET active = false WHERE agent_id IN ('2', '3');
DELETE FROM escalation.routing_sources WHERE source_id = :sid;
DROP FUNCTION "Znuny".escalation_owner_set(integer, text, text, bigint);
REVOKE USAGE ON SCHEMA "Znuny" FROM regress_zn_admin;
DROP ROLE regress_zn_admin;

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

-- Znuny's indexes and the context snapshot's look-ups (the messages by the
-- article table, two tables away from the body)
SELECT source, lookup, table_name, columns, index_name, status, hint
  FROM escalation.check_indexes(:sid);

SELECT escalation.detach('"Znuny"."EpochTickets"');
SELECT escalation.detach('"Znuny".ticket');
RESET search_path;
