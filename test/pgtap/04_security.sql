-- Security (issue 8, section 5): what the catalog promises, and row-level
-- security on the helpdesk's own ticket table against escalation's
-- functions and views.  One transaction, rolled back.
\set ON_ERROR_STOP true
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS escalation;
RESET client_min_messages;

BEGIN;
SELECT plan(67);
SET LOCAL client_min_messages = warning;
SET LOCAL TimeZone = 'UTC';

--------------------------------------------------------------------------
-- the catalog
--------------------------------------------------------------------------
CREATE TEMPORARY VIEW ext_functions AS
SELECT p.oid, p.oid::regprocedure::text AS signature, p.prosecdef, p.proconfig, p.prosrc, p.prolang, p.proacl
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension x ON x.oid = d.refobjid AND x.extname = 'escalation';

SELECT ok((SELECT count(*) FROM ext_functions WHERE prosecdef) > 0,
    'the extension has SECURITY DEFINER functions (the checks below are not vacuous)');
SELECT is_empty($$SELECT signature FROM ext_functions
                  WHERE prosecdef
                    AND NOT EXISTS (SELECT 1 FROM unnest(proconfig) c WHERE c LIKE 'search\_path=%')$$,
    'every SECURITY DEFINER function pins search_path');
SELECT is_empty($$SELECT signature FROM ext_functions
                  WHERE prosecdef AND NOT 'search_path=pg_catalog, pg_temp' = ANY (proconfig)$$,
    'every SECURITY DEFINER function pins search_path to pg_catalog, pg_temp');
SELECT is_empty($$SELECT signature FROM ext_functions
                  WHERE prosecdef AND has_function_privilege('public', oid, 'EXECUTE')$$,
    'no SECURITY DEFINER function is executable by PUBLIC');
SELECT is_empty($$SELECT c.relname FROM pg_class c
                  WHERE c.relnamespace = 'escalation'::regnamespace AND c.relkind = 'v'
                    AND NOT coalesce('security_invoker=true' = ANY (c.reloptions), false)$$,
    'every view in schema escalation is security_invoker');
SELECT ok((SELECT count(*) FROM pg_class c
            WHERE c.relnamespace = 'escalation'::regnamespace AND c.relkind = 'v') >= 20,
    'the metric views are among them');
SELECT is_empty($$SELECT c.relname FROM pg_class c
                  WHERE c.relnamespace = 'escalation'::regnamespace AND c.relkind IN ('r', 'v', 'S')
                    AND (has_table_privilege('public', c.oid, 'SELECT')
                         OR has_table_privilege('public', c.oid, 'INSERT')
                         OR has_table_privilege('public', c.oid, 'UPDATE')
                         OR has_table_privilege('public', c.oid, 'DELETE'))$$,
    'PUBLIC reads and writes no table, view or sequence of the extension');
-- dynamic SQL: only these functions EXECUTE a string, and each was reviewed:
-- identifiers from the catalog or the validated mapping go in with %I or as
-- regclass (whose text is quoted), values as parameters or %L; none takes
-- user text into the statement (docs/reliability.md, "Privileges")
SELECT set_eq($$SELECT p.oid::regprocedure::text FROM ext_functions p
                 WHERE p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
                   AND p.prosrc ~* '\mEXECUTE\s+(?!FUNCTION\M)'$$,
    ARRAY['escalation.attach(regclass,text,text,jsonb,text,text,text,text,jsonb,text,text,text,text,text,text,text,jsonb,jsonb,regclass,text,text,text,text,jsonb,text,regconfig,text,text,text,jsonb,text,jsonb,text,regclass,text,text)',
          'escalation.detach(regclass)',
          'escalation.propose_sla_targets(regclass,double precision,double precision,timestamp with time zone)',
          'escalation.write_assignee(integer,text,text)',
          'escalation.call_after_write(regprocedure,integer,text,text,bigint)',
          'escalation.backfill_facts(regclass,timestamp with time zone)',
          'escalation.attach_csat(regclass,regclass,text,text)'],
    'the functions that run dynamic SQL are the reviewed ones');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM ext_functions p
                  WHERE p.prolang IN (SELECT oid FROM pg_language WHERE lanname IN ('sql', 'plpgsql'))
                    AND p.prosrc ~ 'quote_nullable|\|\|\s*quote_literal'$$,
    'no function glues literals into SQL text');

--------------------------------------------------------------------------
-- row-level security on the helpdesk's own ticket table: two tenants in
-- one table, an analyst and an agent per tenant
--------------------------------------------------------------------------
CREATE ROLE regress_ten_analyst_a IN ROLE escalation_analyst;
CREATE ROLE regress_ten_analyst_b IN ROLE escalation_analyst;
CREATE ROLE regress_ten_agent_a IN ROLE escalation_agent;
CREATE ROLE regress_ten_admin_a IN ROLE escalation_admin;
-- the tenants' roles: escalation shows a tenant's rows to their members
CREATE ROLE regress_ten_a;
CREATE ROLE regress_ten_b;
GRANT regress_ten_a TO regress_ten_analyst_a, regress_ten_agent_a, regress_ten_admin_a;
GRANT regress_ten_b TO regress_ten_analyst_b;
INSERT INTO escalation.tenant_roles (tenant, role) VALUES ('a', 'regress_ten_a'), ('b', 'regress_ten_b');
CREATE SCHEMA tap_ten;
CREATE TABLE tap_ten.tickets (
    id          integer PRIMARY KEY,
    tenant      text NOT NULL,
    status      text NOT NULL DEFAULT 'open',
    priority    text,
    subject     text,
    body        text,
    account     text,
    created_at  timestamptz,
    resolved_at timestamptz
);
CREATE TABLE tap_ten.messages (
    id         serial PRIMARY KEY,
    ticket_id  integer NOT NULL,
    author     text NOT NULL,
    body       text,
    created_at timestamptz
);
SELECT escalation.attach('tap_ten.tickets', key => 'id', tenant => 'tenant', status => 'status',
           status_map => '{"open": ["open"], "solved": ["solved"]}', priority => 'priority',
           subject => 'subject', body => 'body', account => 'account',
           created_at => 'created_at', resolved_at => 'resolved_at',
           messages => 'tap_ten.messages', message_ticket => 'ticket_id', message_body => 'body',
           message_author => 'author', message_created_at => 'created_at',
           author_map => '{"customer": ["c"], "agent": ["a"]}', name => 'tap tenants') AS sid \gset
INSERT INTO escalation.teams (name) VALUES ('tap tenant team') ON CONFLICT DO NOTHING;
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('tap tenants: outage', :sid, '{outage}', 'tap tenant team');
INSERT INTO escalation.accounts (account_key, tier, annual_value)
VALUES ('tap-acct-a', 'gold', 100), ('tap-acct-b', 'secret tier', 999999);
-- tenant a: two tickets; tenant b: three, one with a secret in its text
INSERT INTO tap_ten.tickets VALUES
    (1, 'a', 'open',   'high', 'A down',   'outage at A',  'tap-acct-a', now() - interval '3 days', NULL),
    (2, 'a', 'solved', 'high', 'A billing', 'a question',  'tap-acct-a', now() - interval '3 days', now() - interval '2 days'),
    (3, 'b', 'open',   'high', 'B down',   'outage at B: the password is hunter2', 'tap-acct-b', now() - interval '2 days', NULL),
    (4, 'b', 'solved', 'high', 'B more',   'outage again', 'tap-acct-b', now() - interval '2 days', now() - interval '1 day'),
    (5, 'b', 'open',   'low',  'B third',  'outage three', 'tap-acct-b', now() - interval '1 day', NULL);
INSERT INTO tap_ten.messages (ticket_id, author, body, created_at)
VALUES (3, 'c', 'B secret message', now() - interval '2 days');
-- one first response per tenant
INSERT INTO tap_ten.messages (ticket_id, author, body, created_at)
VALUES (1, 'a', 'looking into it', now() - interval '2 days'),
       (3, 'a', 'looking into it', now() - interval '1 day');
-- the worker folds the logged facts into ticket_facts and the rollups
SELECT escalation.fold_facts() AS folded \gset

ALTER TABLE tap_ten.tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE tap_ten.messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_a ON tap_ten.tickets TO regress_ten_analyst_a, regress_ten_agent_a USING (tenant = 'a');
CREATE POLICY tenant_b ON tap_ten.tickets TO regress_ten_analyst_b USING (tenant = 'b');
CREATE POLICY by_ticket ON tap_ten.messages
    USING (EXISTS (SELECT 1 FROM tap_ten.tickets t WHERE t.id = ticket_id));
GRANT USAGE ON SCHEMA tap_ten TO regress_ten_analyst_a, regress_ten_analyst_b, regress_ten_agent_a;
GRANT SELECT ON tap_ten.tickets, tap_ten.messages
   TO regress_ten_analyst_a, regress_ten_analyst_b, regress_ten_agent_a;

SELECT is((SELECT count(*)::int FROM escalation.escalations WHERE source_id = :sid), 3,
    'the trigger, writing as the extension''s owner, escalated both tenants'' open outages');

-- the analyst of tenant a
SET LOCAL ROLE regress_ten_analyst_a;
SELECT is((SELECT count(*)::int FROM tap_ten.tickets), 2, 'analyst a: the helpdesk shows it tenant a''s 2 tickets');
SELECT results_eq($$SELECT priority, metric, tickets::int FROM escalation.propose_sla_targets('tap_ten.tickets')$$,
    $$VALUES ('high', 'first_response', 1), ('high', 'resolution', 1)$$,
    'analyst a: SLA calibration counts only tenant a''s answered and resolved tickets');
SELECT throws_ok($$SELECT * FROM escalation.explain('tap_ten.tickets', '3')$$, '42501', NULL,
    'analyst a: cannot explain a ticket');
SELECT throws_ok($$SELECT escalation.ticket_context($$ || :sid || $$, '3')$$, '42501', NULL,
    'analyst a: cannot take a context snapshot');
-- escalation's own tables keep the boundary per ticket: the tenant rides
-- from the trigger into the record, the facts and the rollups, and
-- row-level security (tenant_visible()) shows analyst a only tenant a
SELECT is((SELECT count(*)::int FROM escalation.accounts WHERE account_key = 'tap-acct-b' AND tier = 'secret tier'), 0,
    'analyst a: does not see the tier of tenant b''s account');
SELECT is((SELECT count(*)::int FROM escalation.account_facts('{tap-acct-b}')), 0,
    'analyst a: account_facts() does not give tenant b''s account');
SELECT is((SELECT count(*)::int FROM escalation.at_risk_accounts(now()) WHERE account_key = 'tap-acct-b'), 0,
    'analyst a: at_risk_accounts() does not list tenant b''s account');
SELECT is((SELECT sum(tickets)::int FROM escalation.escalation_rates WHERE source_id = :sid AND period = 'month'), 2,
    'analyst a: the escalation rate counts tenant a''s 2 tickets');
SELECT is((SELECT count(*)::int FROM escalation.ticket_facts WHERE source_id = :sid), 2,
    'analyst a: ticket facts of tenant a only');
SELECT is((SELECT count(*)::int FROM escalation.escalations WHERE source_id = :sid), 1,
    'analyst a: the record shows tenant a''s escalation only');
SELECT is((SELECT count(*)::int FROM escalation.escalations
            WHERE source_id = :sid AND context::text LIKE '%hunter2%'), 0,
    'analyst a: no context snapshot shows tenant b''s ticket text');
SELECT is((SELECT count(DISTINCT escalation_id)::int FROM escalation.events WHERE source_id = :sid), 1,
    'analyst a: the journey (events) of tenant a''s escalation only');
SELECT is((SELECT count(*)::int FROM escalation.ticket_journey WHERE source_id = :sid AND ticket_key = '3'), 0,
    'analyst a: ticket_journey shows nothing of tenant b''s ticket');
SELECT is((SELECT sum(escalated)::int FROM escalation.time_to_escalation WHERE source_id = :sid AND all_teams), 1,
    'analyst a: time to escalation counts tenant a''s escalated ticket only');
SELECT is((SELECT array_agg(ticket_key)::text FROM escalation.first_responses WHERE source_id = :sid), '{1}',
    'analyst a: first responses of tenant a''s tickets only');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM escalation.first_responses WHERE source_id = :sid), 2,
    'the owner sees both tenants'' first responses');

-- the analyst of tenant b sees its three tickets in the helpdesk and in calibration
SET LOCAL ROLE regress_ten_analyst_b;
SELECT results_eq($$SELECT priority, metric, tickets::int FROM escalation.propose_sla_targets('tap_ten.tickets')$$,
    $$VALUES ('high', 'first_response', 1), ('high', 'resolution', 1)$$,
    'analyst b: SLA calibration counts only tenant b''s answered and resolved tickets');
SELECT is((SELECT sum(tickets)::int FROM escalation.escalation_rates WHERE source_id = :sid AND period = 'month'), 3,
    'analyst b: the escalation rate counts tenant b''s 3 tickets');
SELECT is((SELECT count(*)::int FROM escalation.escalations WHERE source_id = :sid), 2,
    'analyst b: the record shows tenant b''s 2 escalations');
SELECT is((SELECT array_agg(ticket_key)::text FROM escalation.first_responses WHERE source_id = :sid), '{3}',
    'analyst b: first responses of tenant b''s tickets only');
SELECT is((SELECT count(*)::int FROM escalation.at_risk_accounts(now()) WHERE account_key = 'tap-acct-b'), 1,
    'analyst b: at_risk_accounts() lists tenant b''s account');
RESET ROLE;

-- the agent of tenant a
SELECT min(escalation_id) AS esc_b FROM escalation.escalations WHERE source_id = :sid AND tenant = 'b' \gset
SELECT min(escalation_id) AS esc_a FROM escalation.escalations WHERE source_id = :sid AND tenant = 'a' \gset
SET LOCAL ROLE regress_ten_agent_a;
-- (1.1) an escalation of another tenant does not exist for the agents' functions
SELECT throws_ok($$SELECT escalation.resolve($$ || :esc_b || $$, 'closing b')$$, 'P0002',
    'escalation ' || :esc_b || ' does not exist', 'agent a: cannot resolve tenant b''s escalation (nor see its row)');
SELECT throws_ok($$SELECT escalation.cancel($$ || :esc_b || $$, 'dropping b')$$, 'P0002', NULL,
    'agent a: cannot cancel tenant b''s escalation');
SELECT throws_ok($$SELECT escalation.accept($$ || :esc_b || $$, 'any agent')$$, 'P0002', NULL,
    'agent a: cannot accept tenant b''s escalation');
SELECT throws_ok($$SELECT escalation.decline($$ || :esc_b || $$, 'any agent')$$, 'P0002', NULL,
    'agent a: cannot decline tenant b''s escalation');
SELECT throws_ok($$SELECT escalation.reescalate($$ || :esc_b || $$, 'up', target_team => 'tap tenant team')$$, 'P0002', NULL,
    'agent a: cannot re-escalate tenant b''s escalation');
SELECT is((escalation.resolve(:esc_a, 'done')).status, 'resolved', 'agent a: resolves its own tenant''s escalation');
SELECT is((SELECT count(*)::int FROM escalation.explain('tap_ten.tickets', '1')) > 0, true,
    'agent a: explains its own tenant''s ticket');
SELECT throws_ok($$SELECT * FROM escalation.explain('tap_ten.tickets', '3')$$, 'P0002', NULL,
    'agent a: explain() does not find tenant b''s ticket');
SELECT ok(escalation.ticket_context(:sid, '3') IS NULL,
    'agent a: ticket_context() of tenant b''s ticket is NULL');
SELECT ok(escalation.ticket_context(:sid, '1') IS NOT NULL,
    'agent a: ticket_context() of its own ticket');
SELECT throws_ok($$SELECT escalation.escalate('tap_ten.tickets', '3', target_team => 'tap tenant team', level => 2)$$,
    'P0002', 'ticket 3 does not exist in tap_ten.tickets',
    'agent a: cannot escalate tenant b''s ticket (its snapshot would show it)');
SELECT throws_ok($$SELECT escalation.handoff('tap_ten.tickets', '3', 'tapbot', 'refund', target_team => 'tap tenant team', severity => 4)$$,
    'P0002', 'ticket 3 does not exist in tap_ten.tickets',
    'agent a: cannot hand over tenant b''s ticket');
SELECT lives_ok($$SELECT escalation.escalate('tap_ten.tickets', '1', target_team => 'tap tenant team', level => 2)$$,
    'agent a: escalates its own tenant''s ticket');
SELECT is((SELECT count(*)::int FROM escalation.escalations WHERE source_id = :sid AND context::text LIKE '%hunter2%'), 0,
    'agent a: the queue shows no snapshot of tenant b''s ticket text');
SELECT is((SELECT count(*)::int FROM escalation.escalations WHERE source_id = :sid AND tenant IS DISTINCT FROM 'a'), 0,
    'agent a: the queue shows no escalation of another tenant');
SELECT is((SELECT count(*)::int FROM escalation.escalations WHERE source_id = :sid), 2,
    'agent a: the queue shows tenant a''s escalations, the new one included');
RESET ROLE;

-- the worker (a non-superuser role) still folds and routes every tenant:
-- run_batch() runs as the extension's owner, past the policies
INSERT INTO tap_ten.tickets VALUES
    (6, 'b', 'open', 'high', 'B fourth', 'outage four', 'tap-acct-b', now(), NULL),
    (7, 'c', 'open', 'high', 'C first', 'outage at C', NULL, now(), NULL);
-- sla_what_if() keeps the boundary (1.1): a source with an SLA, one ticket
-- per tenant, then a shorter target; the what-if shows analyst a only
-- tenant a's clock
CREATE TABLE tap_ten.sla_tickets (id integer PRIMARY KEY, tenant text NOT NULL, created_at timestamptz);
SELECT escalation.attach('tap_ten.sla_tickets', key => 'id', tenant => 'tenant',
           created_at => 'created_at', name => 'tap tenants sla') AS sla_sid \gset
INSERT INTO escalation.sla_policies (name, position, source_id) VALUES ('tap tenants sla', 9001, :sla_sid);
INSERT INTO escalation.sla_targets (policy_id, metric, target)
SELECT policy_id, 'first_response', '8 hours' FROM escalation.sla_policies WHERE name = 'tap tenants sla';
INSERT INTO tap_ten.sla_tickets VALUES (1, 'a', now() - interval '1 hour'), (2, 'b', now() - interval '1 hour');
UPDATE escalation.sla_targets SET target = '4 hours'
 WHERE policy_id = (SELECT policy_id FROM escalation.sla_policies WHERE name = 'tap tenants sla');
SELECT is((SELECT array_agg(ticket_key ORDER BY ticket_key) FROM escalation.sla_what_if('tap_ten.sla_tickets'))::text,
    '{1,2}', 'sla_what_if(): a shorter target changes both tenants'' clocks');
SET LOCAL ROLE regress_ten_analyst_a;
SELECT is((SELECT array_agg(ticket_key ORDER BY ticket_key) FROM escalation.sla_what_if('tap_ten.sla_tickets'))::text,
    '{1}', 'analyst a: sla_what_if() shows tenant a''s clock only');
RESET ROLE;
GRANT USAGE ON SCHEMA tap_ten TO regress_ten_admin_a;
SET LOCAL ROLE regress_ten_admin_a;
SELECT is((SELECT array_agg(ticket_key ORDER BY ticket_key) FROM escalation.sla_what_if('tap_ten.sla_tickets'))::text,
    '{1}', 'admin a: sla_what_if() shows tenant a''s clock only');
RESET ROLE;

-- the fold's bookkeeping keeps the boundary too (1.1): an administrator of
-- tenant a sees tenant a's (and unlisted tenants') pending ticket writes,
-- changed escalations and path shares, not tenant b's
UPDATE tap_ten.tickets SET priority = 'low' WHERE id = 1;
SELECT is((SELECT array_agg(DISTINCT tenant ORDER BY tenant) FROM escalation.fact_changes WHERE source_id = :sid)::text,
    '{a,b,c}', 'pending ticket writes of tenants a, b and c');
SELECT is((SELECT array_agg(DISTINCT tenant ORDER BY tenant) FROM escalation.ticket_paths WHERE source_id = :sid)::text,
    '{a,b}', 'path shares of tenants a and b');
SELECT is((SELECT array_agg(DISTINCT ticket_key ORDER BY ticket_key) FROM escalation.escalation_changes WHERE source_id = :sid)::text,
    '{1,6,7}', 'changed escalations of tickets 1 (a), 6 (b) and 7 (c)');
SET LOCAL ROLE regress_ten_admin_a;
SELECT is((SELECT array_agg(DISTINCT tenant ORDER BY tenant) FROM escalation.fact_changes WHERE source_id = :sid)::text,
    '{a,c}', 'admin a: pending ticket writes of tenant a and the unlisted tenant c only');
SELECT is((SELECT array_agg(DISTINCT tenant ORDER BY tenant) FROM escalation.ticket_paths WHERE source_id = :sid)::text,
    '{a}', 'admin a: path shares of tenant a only');
SELECT is((SELECT array_agg(DISTINCT ticket_key ORDER BY ticket_key) FROM escalation.escalation_changes WHERE source_id = :sid)::text,
    '{1,7}', 'admin a: changed escalations of tenant a''s and the unlisted tenant''s tickets only');
SELECT is((SELECT count(*)::int FROM escalation.escalations WHERE source_id = :sid AND tenant = 'b'), 0,
    'admin a: like the record itself');
SELECT throws_ok($$SELECT escalation.reassign($$ || :esc_b || $$, 'any agent', 'move it')$$, 'P0002', NULL,
    'admin a: cannot reassign tenant b''s escalation');
RESET ROLE;

SELECT is((SELECT status FROM escalation.escalations WHERE escalation_id = :esc_b), 'queued',
    'tenant b''s escalation is untouched');

SET LOCAL ROLE escalation_worker;
SELECT lives_ok($$SELECT escalation.run_batch(now(), 10)$$, 'the worker runs a batch');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM escalation.fact_changes WHERE source_id = :sid), 0,
    'the worker folded both tenants'' writes');
SELECT is((SELECT count(*)::int FROM escalation.ticket_facts WHERE source_id = :sid AND tenant = 'b'), 4,
    'tenant b''s new ticket is in the facts, with its tenant');
-- a tenant tenant_roles does not list stays visible to every reader
SET LOCAL ROLE regress_ten_analyst_a;
SELECT is((SELECT count(*)::int FROM escalation.escalations WHERE source_id = :sid AND tenant = 'c'), 1,
    'analyst a: an escalation of an unlisted tenant is visible, as before');
RESET ROLE;
-- a tenant's role must exist; one dropped later hides the tenant (fails closed)
SELECT throws_ok($$INSERT INTO escalation.tenant_roles VALUES ('d', 'regress_ten_nobody')$$, '42704',
    'role "regress_ten_nobody" does not exist', 'a tenant role that does not exist is refused');
DROP ROLE regress_ten_b;
SET LOCAL ROLE regress_ten_analyst_b;
SELECT is((SELECT count(*)::int FROM escalation.escalations WHERE source_id = :sid), 1,
    'analyst b: once tenant b''s role is dropped, only the unlisted tenant''s escalation is left');
SELECT is((SELECT count(*)::int FROM escalation.ticket_facts WHERE source_id = :sid AND tenant = 'b'), 0,
    'analyst b: nor any of tenant b''s ticket facts');
RESET ROLE;

-- a dropped role named as a metric tenant hides the source rather than
-- breaking every metric view
CREATE ROLE regress_ten_gone;
INSERT INTO escalation.metric_sources (source_id, tenant_role) VALUES (:sid, 'regress_ten_gone');
DROP ROLE regress_ten_gone;
SET LOCAL ROLE regress_ten_analyst_a;
SELECT is((SELECT count(*)::int FROM escalation.escalation_rates WHERE source_id = :sid), 0,
    'a source scoped to a dropped role is hidden from analysts, and the views still answer');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
