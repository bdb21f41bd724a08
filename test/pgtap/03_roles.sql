-- Behaviour per role, with SET LOCAL ROLE: a plain role, an application
-- role with INSERT only, escalation_admin, escalation_agent and
-- escalation_analyst.  The roles are created and dropped inside the
-- transaction, which is rolled back.
\set ON_ERROR_STOP true
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS escalation;
RESET client_min_messages;

BEGIN;
SELECT plan(107);
SET LOCAL client_min_messages = warning;

CREATE ROLE regress_tap_plain;
CREATE ROLE regress_tap_app;
CREATE ROLE regress_tap_admin IN ROLE escalation_admin;
CREATE ROLE regress_tap_agent IN ROLE escalation_agent;
CREATE ROLE regress_tap_analyst IN ROLE escalation_analyst;

CREATE SCHEMA tap_roles;
CREATE TABLE tap_roles.tickets (id serial PRIMARY KEY, subject text, body text);
CREATE TABLE tap_roles.owned (id integer PRIMARY KEY, body text);
ALTER TABLE tap_roles.owned OWNER TO regress_tap_admin;
GRANT USAGE ON SCHEMA tap_roles TO regress_tap_plain, regress_tap_app, regress_tap_admin,
      regress_tap_agent, regress_tap_analyst;
GRANT INSERT ON tap_roles.tickets TO regress_tap_app;
GRANT USAGE ON SEQUENCE tap_roles.tickets_id_seq TO regress_tap_app;
GRANT SELECT ON tap_roles.tickets TO regress_tap_agent;
INSERT INTO escalation.teams (name) VALUES ('tap roles') ON CONFLICT DO NOTHING;
INSERT INTO escalation.agents (agent_id) VALUES ('tap alice') ON CONFLICT DO NOTHING;
SELECT escalation.attach('tap_roles.tickets', key => 'id', subject => 'subject', body => 'body',
                         name => 'tap roles') AS sid \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('tap roles: breach', :sid, '{breach}', 'tap roles');

-- a plain role
SET LOCAL ROLE regress_tap_plain;
SELECT throws_ok($$SELECT escalation.attach('tap_roles.tickets', key => 'id')$$,
    '42501', NULL, 'plain: cannot attach');
SELECT throws_ok($$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('x', '{x}', 'tap roles')$$,
    '42501', NULL, 'plain: cannot write rules');
SELECT throws_ok($$SELECT count(*) FROM escalation.escalations$$,
    '42501', NULL, 'plain: cannot read escalations');
SELECT throws_ok($$SELECT escalation.escalate('tap_roles.tickets', '1', target_team => 'tap roles')$$,
    '42501', NULL, 'plain: cannot escalate');
SELECT throws_ok($$SET escalation.enabled = off$$,
    '42501', 'permission denied to set parameter "escalation.enabled"', 'plain: cannot switch the triggers off');
RESET ROLE;

-- the application: INSERT only, and its tickets still escalate; first
-- make the next trigger call rebuild the configuration cache as the
-- application role
UPDATE escalation.rules SET severity = 3 WHERE name = 'tap roles: breach';
SET LOCAL ROLE regress_tap_app;
SELECT lives_ok($$INSERT INTO tap_roles.tickets (subject, body) VALUES ('Breach', 'a data breach')$$,
    'app: inserts a ticket');
SELECT throws_ok($$SELECT count(*) FROM escalation.escalations$$,
    '42501', NULL, 'app: cannot read escalations');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM escalation.escalations WHERE source_id = :sid), 1,
    'the application''s ticket escalated');
SELECT is((SELECT last_actor FROM escalation.escalations WHERE source_id = :sid), 'trigger',
    'written by the trigger');
SELECT escalation_id AS eid FROM escalation.escalations WHERE source_id = :sid \gset

-- an administrator
SET LOCAL ROLE regress_tap_admin;
SELECT lives_ok($$INSERT INTO escalation.teams (name) VALUES ('tap roles 2')$$, 'admin: adds a team');
SELECT lives_ok($$INSERT INTO escalation.accounts (account_key) VALUES ('tap account')$$, 'admin: adds an account');
SELECT lives_ok(format($$INSERT INTO escalation.rules (name, source_id, keywords, target_team)
                         VALUES ('tap roles: fraud', %s, '{fraud}', 'tap roles 2')$$, :sid), 'admin: adds a rule');
SELECT lives_ok($$UPDATE escalation.rules SET enabled = false WHERE name = 'tap roles: fraud'$$, 'admin: disables a rule');
SELECT lives_ok($$DELETE FROM escalation.rules WHERE name = 'tap roles: fraud'$$, 'admin: deletes a rule');
SELECT throws_ok($$SELECT escalation.attach('tap_roles.tickets', key => 'id')$$,
    '42501', 'must be owner of table tap_roles.tickets', 'admin: cannot attach a table it does not own');
SELECT lives_ok($$SELECT escalation.attach('tap_roles.owned', key => 'id', body => 'body')$$,
    'admin: attaches its own table');
SELECT lives_ok($$SELECT escalation.detach('tap_roles.owned')$$, 'admin: detaches it');
SELECT throws_ok($$UPDATE escalation.escalations SET status = 'resolved'$$,
    '42501', NULL, 'admin: cannot write the record directly');
SELECT throws_ok($$DELETE FROM escalation.events$$,
    '42501', NULL, 'admin: cannot rewrite the journey');
RESET ROLE;

-- an agent
SET LOCAL ROLE regress_tap_agent;
SELECT is((SELECT count(*)::int FROM escalation.escalations WHERE escalation_id = :eid), 1, 'agent: reads the queue');
SELECT lives_ok(format($$SELECT escalation.accept(%s, 'tap alice')$$, :eid), 'agent: accepts');
SELECT lives_ok(format($$SELECT escalation.resolve(%s, 'fixed')$$, :eid), 'agent: resolves');
SELECT lives_ok($$SELECT escalation.escalate('tap_roles.tickets', '1', target_team => 'tap roles', reason => 'again')$$,
    'agent: escalates by hand');
SELECT lives_ok($$SELECT * FROM escalation.explain('tap_roles.tickets', '1')$$, 'agent: explains');
SELECT throws_ok($$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('x', '{x}', 'tap roles')$$,
    '42501', NULL, 'agent: cannot write rules');
SELECT throws_ok($$SELECT escalation.attach('tap_roles.tickets', key => 'id')$$,
    '42501', NULL, 'agent: cannot attach');
SELECT throws_ok($$UPDATE escalation.escalations SET status = 'cancelled'$$,
    '42501', NULL, 'agent: changes escalations only through the functions');
RESET ROLE;
SELECT is((SELECT status FROM escalation.escalations WHERE escalation_id = :eid), 'resolved',
    'the agent''s transitions were applied');

-- an analyst
SET LOCAL ROLE regress_tap_analyst;
SELECT is((SELECT count(*)::int FROM escalation.events WHERE escalation_id = :eid), 3, 'analyst: reads the journey');
SELECT throws_ok($$SELECT escalation.escalate('tap_roles.tickets', '1', target_team => 'tap roles')$$,
    '42501', NULL, 'analyst: cannot escalate');
SELECT throws_ok(format($$SELECT escalation.cancel(%s, 'no')$$, :eid),
    '42501', NULL, 'analyst: cannot cancel');
SELECT throws_ok($$SELECT name, owner_agent FROM escalation.accounts$$,
    '42501', NULL, 'analyst: cannot read account names or owners');
RESET ROLE;

-- the background worker's status and wake-up
SET LOCAL ROLE regress_tap_analyst;
SELECT lives_ok($$SELECT count(*) FROM escalation.workers$$, 'analyst: reads escalation.workers');
SELECT throws_ok($$SELECT escalation.wakeup()$$, '42501', NULL, 'analyst: cannot wake the worker');
RESET ROLE;
SET LOCAL ROLE regress_tap_admin;
SELECT lives_ok($$SELECT count(*) FROM escalation.workers$$, 'admin: reads escalation.workers');
SELECT lives_ok($$SELECT escalation.wakeup()$$, 'admin: wakes the worker');
RESET ROLE;
SET LOCAL ROLE regress_tap_agent;
SELECT throws_ok($$SELECT count(*) FROM escalation.workers$$, '42501', NULL, 'agent: cannot read escalation.workers');
RESET ROLE;
SET LOCAL ROLE regress_tap_plain;
SELECT throws_ok($$SELECT count(*) FROM escalation.workers$$, '42501', NULL, 'plain: cannot read escalation.workers');
SELECT throws_ok($$SELECT escalation.wakeup()$$, '42501', NULL, 'plain: cannot wake the worker');
SELECT throws_ok($$SET escalation.naptime = '1s'$$, '55P02', NULL, 'plain: cannot set escalation.naptime in a session');
RESET ROLE;
SELECT throws_ok($$SET escalation.naptime = '1s'$$, '55P02', NULL, 'nor can a superuser: it is read from the configuration files');

-- routing: agents decline and explain, only administrators route and weigh
SET LOCAL ROLE regress_tap_agent;
SELECT throws_ok($$SELECT escalation.route(now(), 10)$$, '42501', NULL, 'agent: cannot run routing');
SELECT throws_ok($$INSERT INTO escalation.routing_weights VALUES ('skills', 5)$$, '42501', NULL,
    'agent: cannot change routing weights');
SELECT lives_ok($$SELECT * FROM escalation.assignments$$, 'agent: reads assignments');
RESET ROLE;
SET LOCAL ROLE regress_tap_admin;
SELECT lives_ok($$INSERT INTO escalation.routing_weights VALUES ('skills', 5)$$, 'admin: sets a routing weight');
RESET ROLE;
SET LOCAL ROLE regress_tap_plain;
SELECT throws_ok($$SELECT * FROM escalation.explain_route(1, now())$$, '42501', NULL,
    'plain: cannot explain routing');
RESET ROLE;

--------------------------------------------------------------------------
-- Least privilege, role by role (issue 8, section 5): what each role must
-- be able to do, and what it must not.
--------------------------------------------------------------------------
CREATE TABLE tap_roles.admin_secret (id integer PRIMARY KEY, body text, password text);
INSERT INTO tap_roles.admin_secret VALUES (1, 'fine', 'hunter2');
-- a helpdesk table nobody but its owner reads
CREATE TABLE tap_roles.private (id integer PRIMARY KEY, priority text, body text,
                                created_at timestamptz, resolved_at timestamptz);
INSERT INTO tap_roles.private VALUES (1, 'high', 'x', '2024-01-01 09:00+00', '2024-01-01 11:00+00');
SELECT escalation.attach('tap_roles.private', key => 'id', priority => 'priority', body => 'body',
                         created_at => 'created_at', resolved_at => 'resolved_at') AS private_sid \gset
INSERT INTO tap_roles.tickets (subject, body) VALUES ('Second', 'nothing to see');
INSERT INTO escalation.skills (name) VALUES ('tap skill') ON CONFLICT DO NOTHING;
-- a hand escalation reads the ticket as its caller: agents read the helpdesk
GRANT SELECT ON tap_roles.tickets TO regress_tap_admin;

-- escalation_admin: every piece of configuration, the cycle, routing
SET LOCAL ROLE regress_tap_admin;
SELECT lives_ok($$INSERT INTO escalation.agents (agent_id, team, capacity) VALUES ('tap bob', 'tap roles', 2)$$,
    'admin: adds an agent');
SELECT lives_ok($$INSERT INTO escalation.agent_skills (agent_id, skill, level) VALUES ('tap bob', 'tap skill', 4)$$,
    'admin: gives an agent a skill');
SELECT lives_ok($$INSERT INTO escalation.calendars (name, time_zone) VALUES ('tap office', 'Europe/Berlin')$$,
    'admin: adds a calendar');
SELECT lives_ok($$INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
                  SELECT calendar_id, 1, '09:00', '17:00' FROM escalation.calendars WHERE name = 'tap office'$$,
    'admin: adds working hours');
SELECT lives_ok($$INSERT INTO escalation.sla_policies (name, position, source_id) VALUES ('tap policy', 777, $$ || :sid || $$)$$,
    'admin: adds an SLA policy');
SELECT lives_ok($$INSERT INTO escalation.sla_targets (policy_id, metric, target, calendar)
                  SELECT policy_id, 'first_response', '4 hours', 'tap office' FROM escalation.sla_policies WHERE name = 'tap policy'$$,
    'admin: adds an SLA target');
SELECT lives_ok($$INSERT INTO escalation.sentiment_terms (term, valence) VALUES ('tapflaky', -2)$$,
    'admin: adds a sentiment term');
SELECT lives_ok($$INSERT INTO escalation.metric_sources (source_id, tenant_role) VALUES ($$ || :sid || $$, 'escalation_analyst')$$,
    'admin: scopes a source''s metrics to a tenant role');
SELECT lives_ok($$SELECT escalation.run_cycle(now())$$, 'admin: runs a cycle');
SELECT lives_ok($$SELECT escalation.route(now(), 10)$$, 'admin: routes');
SELECT lives_ok($$SELECT * FROM escalation.escalation_rates$$, 'admin: reads the metric views');
SELECT lives_ok($$SELECT escalation.escalate('tap_roles.tickets', '2', target_team => 'tap roles', reason => 'admin')$$,
    'admin: escalates a ticket it can read');
SELECT throws_ok($$SELECT escalation.escalate('tap_roles.admin_secret', '1', target_team => 'tap roles')$$,
    '42704', NULL, 'admin: cannot escalate a ticket of a table that is not attached');
SELECT throws_ok($$INSERT INTO escalation.sources (name, ticket_table, mapping)
                   VALUES ('tap forged', 'tap_roles.admin_secret', '{"key": "id", "body": "password"}')$$,
    '42501', NULL, 'admin: cannot write a source for a table it does not own');
SELECT throws_ok($$UPDATE escalation.sources SET mapping = mapping || '{"body": "subject"}' WHERE name = 'tap roles'$$,
    '42501', NULL, 'admin: cannot remap a source of a table it does not own');
SELECT lives_ok($$INSERT INTO escalation.triage_schedules (source_id, every) VALUES ($$ || :sid || $$, '1 day')$$,
    'admin: schedules retraining on a table it can read');
SELECT throws_ok($$INSERT INTO escalation.triage_schedules (source_id, every) VALUES ($$ || :private_sid || $$, '1 day')$$,
    '42501', NULL, 'admin: cannot schedule retraining on a table it cannot read');
SELECT throws_ok($$INSERT INTO escalation.clocks (source_id, ticket_key, metric, policy_id, target, state, started_at)
                   VALUES (1, '1', 'age', 1, '1 day', 'stopped', now())$$,
    '42501', NULL, 'admin: cannot write SLA clocks');
SELECT throws_ok($$DELETE FROM escalation.clock_firings$$, '42501', NULL, 'admin: cannot rewrite SLA firings');
SELECT throws_ok($$UPDATE escalation.assignments SET outcome = 'accepted'$$, '42501', NULL,
    'admin: cannot rewrite offers');
SELECT throws_ok($$INSERT INTO escalation.ticket_facts (source_id, ticket_key, created_at, status, updated_at)
                   VALUES (1, 'x', now(), 'open', now())$$, '42501', NULL, 'admin: cannot write ticket facts');
SELECT throws_ok($$SELECT * FROM tap_roles.admin_secret$$, '42501', NULL,
    'admin: reads no helpdesk table it was not granted');
SELECT throws_ok($$SET escalation.enabled = off$$, '42501', NULL, 'admin: cannot switch the triggers off');
RESET ROLE;

-- escalation_agent: the queue and the transitions, no configuration
SET LOCAL ROLE regress_tap_agent;
SELECT lives_ok($$SELECT * FROM escalation.rules$$, 'agent: reads the rules');
SELECT lives_ok($$SELECT name, owner_agent FROM escalation.accounts$$, 'agent: reads the accounts');
SELECT lives_ok($$SELECT * FROM escalation.clocks$$, 'agent: reads the SLA clocks');
SELECT lives_ok($$SELECT * FROM escalation.explain_route((SELECT max(escalation_id) FROM escalation.escalations))$$,
    'agent: explains routing');
SELECT lives_ok($$SELECT escalation.handoff('tap_roles.tickets', '2', 'tapbot', 'refund', target_team => 'tap roles 2')$$,
    'agent: hands a ticket over for a bot');
SELECT throws_ok($$INSERT INTO escalation.teams (name) VALUES ('tap agent team')$$, '42501', NULL,
    'agent: cannot add a team');
SELECT throws_ok($$UPDATE escalation.agents SET capacity = 99$$, '42501', NULL,
    'agent: cannot raise capacities');
SELECT throws_ok($$INSERT INTO escalation.sla_policies (name, position) VALUES ('tap agent policy', 778)$$,
    '42501', NULL, 'agent: cannot add SLA policies');
SELECT throws_ok($$SELECT escalation.run_cycle(now())$$, '42501', NULL, 'agent: cannot run a cycle');
SELECT throws_ok($$SELECT escalation.reassign(1, 'tap bob', 'mine')$$, '42501', NULL,
    'agent: cannot reassign');
SELECT throws_ok($$SELECT * FROM escalation.escalation_rates$$, '42501', NULL, 'agent: cannot read the metric views');
SELECT throws_ok($$SELECT * FROM escalation.ticket_facts$$, '42501', NULL, 'agent: cannot read ticket facts');
SELECT throws_ok($$SELECT escalation.train('tap_roles.tickets', team_column => 'subject')$$, '42501', NULL,
    'agent: cannot train models');
SELECT throws_ok($$DELETE FROM escalation.events$$, '42501', NULL, 'agent: cannot rewrite the journey');
RESET ROLE;
-- what an agent cannot read, it cannot escalate: the snapshot would show it
REVOKE SELECT ON tap_roles.tickets FROM regress_tap_agent;
SET LOCAL ROLE regress_tap_agent;
SELECT throws_ok($$SELECT escalation.escalate('tap_roles.tickets', '2', target_team => 'tap roles', level => 3)$$,
    '42501', NULL, 'agent: cannot escalate a ticket of a table it cannot read');
SELECT throws_ok($$SELECT escalation.handoff('tap_roles.tickets', '2', 'tapbot', 'refund', target_team => 'tap roles', severity => 3)$$,
    '42501', NULL, 'agent: cannot hand over a ticket of a table it cannot read');
RESET ROLE;
GRANT SELECT ON tap_roles.tickets TO regress_tap_agent;

-- escalation_analyst: reads the record and the metrics, changes nothing
SET LOCAL ROLE regress_tap_analyst;
SELECT lives_ok($$SELECT * FROM escalation.escalation_rates$$, 'analyst: reads the metric views');
SELECT lives_ok($$SELECT * FROM escalation.at_risk_accounts(now())$$, 'analyst: scores accounts at risk');
SELECT lives_ok($$SELECT * FROM escalation.report(now())$$, 'analyst: reads the text report');
SELECT lives_ok($$SELECT * FROM escalation.clocks$$, 'analyst: reads the SLA clocks');
SELECT lives_ok($$SELECT account_key, tier FROM escalation.accounts$$, 'analyst: reads the tiers of accounts');
SELECT is((SELECT count(*)::int FROM escalation.accounts WHERE account_key = 'tap account'), 0,
    'analyst: sees no account it has no tickets of');
SELECT is((SELECT count(*)::int FROM escalation.account_facts('{tap account}')), 0,
    'analyst: account_facts() gives nothing of an account it has no tickets of');
SELECT throws_ok($$SELECT * FROM escalation.propose_sla_targets('tap_roles.private')$$, '42501', NULL,
    'analyst: no SLA calibration over a table it cannot read');
SELECT throws_ok($$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('x', '{x}', 'tap roles')$$,
    '42501', NULL, 'analyst: cannot write rules');
SELECT throws_ok($$UPDATE escalation.metric_sources SET tenant_role = NULL$$, '42501', NULL,
    'analyst: cannot widen its own tenant scope');
SELECT throws_ok($$SELECT * FROM escalation.explain('tap_roles.tickets', '1')$$, '42501', NULL,
    'analyst: cannot explain tickets');
SELECT throws_ok($$SELECT escalation.ticket_context($$ || :sid || $$, '1')$$, '42501', NULL,
    'analyst: cannot take context snapshots');
SELECT throws_ok($$SELECT escalation.compact_metrics()$$, '42501', NULL, 'analyst: cannot compact the rollups');
SELECT throws_ok($$SELECT escalation.route(now(), 10)$$, '42501', NULL, 'analyst: cannot route');
SELECT throws_ok($$UPDATE escalation.assignments SET note = 'x'$$, '42501', NULL, 'analyst: cannot change offers');
RESET ROLE;
GRANT SELECT ON tap_roles.private TO regress_tap_analyst;
SET LOCAL ROLE regress_tap_analyst;
SELECT results_eq($$SELECT priority, metric, tickets::int FROM escalation.propose_sla_targets('tap_roles.private')$$,
    $$VALUES ('high', 'resolution', 1)$$,
    'analyst: SLA calibration over a table it can read');
RESET ROLE;

-- escalation_worker: runs the cycle, nothing else, and is no superuser
SELECT is((SELECT rolsuper OR rolcanlogin OR rolcreaterole OR rolcreatedb OR rolbypassrls
             FROM pg_roles WHERE rolname = 'escalation_worker'), false,
    'worker: escalation_worker is NOLOGIN, no superuser, creates nothing, bypasses no row-level security');
SELECT is((SELECT boot_val FROM pg_settings WHERE name = 'escalation.worker_role'), 'escalation_worker',
    'worker: runs as escalation_worker by default');
SET LOCAL ROLE escalation_worker;
SELECT lives_ok($$SELECT escalation.run_batch(now(), 10)$$, 'worker: runs a batch');
SELECT throws_ok($$SELECT * FROM escalation.escalations$$, '42501', NULL, 'worker: reads nothing directly');
SELECT throws_ok($$UPDATE escalation.rules SET enabled = false$$, '42501', NULL, 'worker: changes no configuration');
SELECT throws_ok($$SELECT escalation.route(now(), 10)$$, '42501', NULL, 'worker: calls nothing but run_batch');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
