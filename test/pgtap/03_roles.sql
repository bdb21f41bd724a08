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
SELECT plan(46);
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
SELECT throws_ok($$SELECT count(*) FROM escalation.accounts$$,
    '42501', NULL, 'analyst: cannot read accounts');
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

SELECT * FROM finish();
ROLLBACK;
