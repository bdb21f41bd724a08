--
-- privileges: what PUBLIC, escalation_admin, escalation_agent and
-- escalation_analyst may do, and that an application role with nothing but
-- INSERT on its helpdesk tables still gets escalations (the triggers read
-- the configuration and write as the extension's owner).
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE SCHEMA priv_hd;
CREATE TABLE priv_hd.tickets (
    id         serial PRIMARY KEY,
    subject    text,
    body       text,
    account    text,
    created_at timestamptz NOT NULL
);
CREATE TABLE priv_hd.messages (
    id         serial PRIMARY KEY,
    ticket_id  integer NOT NULL REFERENCES priv_hd.tickets (id),
    author     text NOT NULL,
    body       text,
    created_at timestamptz NOT NULL
);
SELECT escalation.attach('priv_hd.tickets', key => 'id', subject => 'subject', body => 'body',
           account => 'account', created_at => 'created_at',
           messages => 'priv_hd.messages', message_ticket => 'ticket_id', message_body => 'body',
           message_author => 'author', message_created_at => 'created_at',
           author_map => '{"customer": ["customer"], "agent": ["agent"]}') AS sid \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('priv: breach', :sid, '{breach}', 'security');
INSERT INTO escalation.rules (name, source_id, account_vip, target_team, kind)
VALUES ('priv: vip', :sid, true, 'management', 'hierarchical');

CREATE ROLE regress_plain;
CREATE ROLE regress_admin IN ROLE escalation_admin;
CREATE ROLE regress_agent IN ROLE escalation_agent;
CREATE ROLE regress_analyst IN ROLE escalation_analyst;
CREATE ROLE regress_app;
GRANT USAGE ON SCHEMA priv_hd TO regress_plain, regress_admin, regress_agent, regress_analyst, regress_app;
GRANT INSERT ON priv_hd.tickets, priv_hd.messages TO regress_app;
GRANT USAGE ON SEQUENCE priv_hd.tickets_id_seq, priv_hd.messages_id_seq TO regress_app;
GRANT SELECT ON priv_hd.tickets, priv_hd.messages TO regress_agent, regress_admin;

-- who may execute what
SELECT p.proname,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public,
       has_function_privilege('escalation_admin', p.oid, 'EXECUTE') AS admin,
       has_function_privilege('escalation_agent', p.oid, 'EXECUTE') AS agent,
       has_function_privilege('escalation_analyst', p.oid, 'EXECUTE') AS analyst,
       p.prosecdef AS security_definer
  FROM pg_proc p
 WHERE p.pronamespace = 'escalation'::regnamespace
 ORDER BY p.proname, p.oid::regprocedure::text;
-- and read or write what
SELECT c.relname,
       array_remove(ARRAY[CASE WHEN has_table_privilege('escalation_admin', c.oid, 'SELECT') THEN 'S' END,
                          CASE WHEN has_table_privilege('escalation_admin', c.oid, 'INSERT') THEN 'I' END,
                          CASE WHEN has_table_privilege('escalation_admin', c.oid, 'UPDATE') THEN 'U' END,
                          CASE WHEN has_table_privilege('escalation_admin', c.oid, 'DELETE') THEN 'D' END], NULL) AS admin,
       array_remove(ARRAY[CASE WHEN has_table_privilege('escalation_agent', c.oid, 'SELECT') THEN 'S' END,
                          CASE WHEN has_table_privilege('escalation_agent', c.oid, 'INSERT') THEN 'I' END,
                          CASE WHEN has_table_privilege('escalation_agent', c.oid, 'UPDATE') THEN 'U' END,
                          CASE WHEN has_table_privilege('escalation_agent', c.oid, 'DELETE') THEN 'D' END], NULL) AS agent,
       array_remove(ARRAY[CASE WHEN has_table_privilege('escalation_analyst', c.oid, 'SELECT') THEN 'S' END,
                          CASE WHEN has_table_privilege('escalation_analyst', c.oid, 'INSERT') THEN 'I' END,
                          CASE WHEN has_table_privilege('escalation_analyst', c.oid, 'UPDATE') THEN 'U' END,
                          CASE WHEN has_table_privilege('escalation_analyst', c.oid, 'DELETE') THEN 'D' END], NULL) AS analyst,
       has_table_privilege('public', c.oid, 'SELECT') AS public_select
  FROM pg_class c
 WHERE c.relnamespace = 'escalation'::regnamespace AND c.relkind = 'r'
 ORDER BY c.relname;
SELECT has_schema_privilege('public', 'escalation', 'USAGE') AS public_usage;

--------------------------------------------------------------------------
-- a plain role: no configuration, no escalations
--------------------------------------------------------------------------
SET ROLE regress_plain;
SELECT regress_error($$SELECT escalation.attach('priv_hd.tickets', key => 'id')$$);
SELECT regress_error($$SELECT escalation.detach('priv_hd.tickets')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('x', '{x}', 'tier2')$$);
SELECT regress_error($$SELECT count(*) FROM escalation.escalations$$);
SELECT regress_error($$SELECT escalation.escalate('priv_hd.tickets', '1', target_team => 'tier2')$$);
SELECT regress_error($$SELECT * FROM escalation.explain('priv_hd.tickets', '1')$$);
SELECT regress_error($$SELECT * FROM escalation.match_keywords('refunds', '{refund}')$$);
SELECT regress_error($$SET escalation.enabled = off$$);
RESET ROLE;
-- even with USAGE on the schema, nothing that changes configuration
GRANT USAGE ON SCHEMA escalation TO regress_plain;
SET ROLE regress_plain;
SELECT regress_error($$SELECT escalation.attach('priv_hd.tickets', key => 'id')$$);
SELECT regress_error($$SELECT escalation.detach('priv_hd.tickets')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('x', '{x}', 'tier2')$$);
SELECT regress_error($$SELECT count(*) FROM escalation.escalations$$);
SELECT regress_error($$SELECT escalation.escalate('priv_hd.tickets', '1', target_team => 'tier2')$$);
SELECT regress_error($$SELECT escalation.resolve(1)$$);
-- the read-only helpers are PUBLIC
SELECT * FROM escalation.match_keywords('refunds', '{refund}');
RESET ROLE;

--------------------------------------------------------------------------
-- the application: INSERT on its own tables only
--------------------------------------------------------------------------
-- a configuration change first, so that the next trigger call in this
-- backend rebuilds the cache while the application role is the user
UPDATE escalation.rules SET severity = 3 WHERE name = 'priv: breach';
SET ROLE regress_app;
INSERT INTO priv_hd.tickets (subject, body, account, created_at)
VALUES ('Breach', 'a data breach', 'acme', '2024-05-01 09:00+00');
INSERT INTO priv_hd.messages (ticket_id, author, body, created_at) VALUES
    (1, 'agent', 'We are on it', '2024-05-01 09:10+00'),
    (1, 'customer', 'another breach', '2024-05-01 09:20+00');
-- it cannot read what its writes produced
SELECT regress_error($$SELECT count(*) FROM escalation.escalations$$);
SELECT regress_error($$SELECT count(*) FROM priv_hd.tickets$$);
RESET ROLE;
SELECT ticket_key, target_team, severity, last_actor, jsonb_path_query_array(reasons, '$[*].rule') AS rules,
       context->'account'->>'key' AS account
  FROM escalation.escalations WHERE source_id = :sid ORDER BY target_team;
SELECT ticket_key, responded_at, author FROM escalation.first_responses WHERE source_id = :sid;

--------------------------------------------------------------------------
-- an administrator: configuration and attaching its own tables
--------------------------------------------------------------------------
SET ROLE regress_admin;
INSERT INTO escalation.teams (name, kind) VALUES ('regress team', 'functional');
INSERT INTO escalation.agents (agent_id, team) VALUES ('regress-agent', 'regress team');
INSERT INTO escalation.skills (name) VALUES ('regress skill');
INSERT INTO escalation.agent_skills (agent_id, skill) VALUES ('regress-agent', 'regress skill');
INSERT INTO escalation.accounts (account_key, vip) VALUES ('regress-account', true);
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('priv: admin rule', :sid, '{fraud}', 'regress team');
UPDATE escalation.rules SET severity = 4 WHERE name = 'priv: admin rule';
SELECT count(*) > 0 AS reads_escalations FROM escalation.escalations;
SELECT count(*) > 0 AS reads_events FROM escalation.events;
-- the record is written by the triggers and the functions only
SELECT regress_error($$DELETE FROM escalation.escalations$$);
SELECT regress_error($$UPDATE escalation.escalations SET status = 'resolved'$$);
SELECT regress_error($$INSERT INTO escalation.events (escalation_id, source_id, ticket_key, event, to_status, at)
                       VALUES (1, 1, '1', 'created', 'queued', now())$$);
-- attaching a table it does not own is refused; its own it can attach
SELECT regress_error($$SELECT escalation.attach('priv_hd.tickets', key => 'id')$$);
SELECT regress_error($$CREATE TABLE priv_hd.admin_tickets (id integer PRIMARY KEY, body text)$$);
RESET ROLE;
CREATE TABLE priv_hd.admin_tickets (id integer PRIMARY KEY, body text);
ALTER TABLE priv_hd.admin_tickets OWNER TO regress_admin;
SET ROLE regress_admin;
SELECT escalation.attach('priv_hd.admin_tickets', key => 'id', body => 'body') AS admin_sid \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('priv: admin fraud', :admin_sid, '{fraud}', 'regress team');
INSERT INTO priv_hd.admin_tickets VALUES (1, 'fraud!');
SELECT ticket_key, target_team FROM escalation.escalations WHERE source_id = :admin_sid;
SELECT escalation.detach('priv_hd.admin_tickets');
RESET ROLE;

--------------------------------------------------------------------------
-- an agent: reads the queue, acts on escalations, changes no configuration
--------------------------------------------------------------------------
SELECT escalation_id AS breach FROM escalation.escalations
 WHERE source_id = :sid AND target_team = 'security' \gset
SET ROLE regress_agent;
SELECT count(*) > 0 AS reads_queue FROM escalation.escalations WHERE status = 'queued';
SELECT count(*) > 0 AS reads_rules FROM escalation.rules;
SELECT status, agent_id FROM escalation.accept(:breach, 'alice', '2024-05-01 10:00+00');
SELECT status FROM escalation.resolve(:breach, 'contained', '2024-05-01 11:00+00');
SELECT escalation.escalate('priv_hd.tickets', '1', target_team => 'security', reason => 'again',
           as_of => '2024-05-01 12:00+00') AS again \gset
SELECT status FROM escalation.cancel(:again, 'duplicate', '2024-05-01 12:05+00');
-- explain and ticket_context read the helpdesk's table as the agent
SELECT rule, fires FROM escalation.explain('priv_hd.tickets', '1', '2024-05-01 09:00+00') ORDER BY rule;
SELECT escalation.ticket_context(:sid, '1')->'ticket'->>'subject' AS subject;
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('x', '{x}', 'tier2')$$);
SELECT regress_error($$UPDATE escalation.escalations SET status = 'resolved'$$);
SELECT regress_error($$SELECT escalation.attach('priv_hd.tickets', key => 'id')$$);
SELECT regress_error($$SELECT count(*) FROM escalation.first_responses$$);
RESET ROLE;
-- without SELECT on the helpdesk's table, explain is refused
REVOKE SELECT ON priv_hd.tickets FROM regress_agent;
SET ROLE regress_agent;
SELECT regress_error($$SELECT * FROM escalation.explain('priv_hd.tickets', '1')$$);
RESET ROLE;

-- the journey names who did what (the session user acted for the roles)
SELECT v.event, CASE WHEN v.actor = session_user THEN '<session user>' ELSE v.actor END AS actor, v.note
  FROM escalation.events v WHERE v.escalation_id IN (:breach, :again) ORDER BY v.event_id;

--------------------------------------------------------------------------
-- an analyst: reads the record, nothing else
--------------------------------------------------------------------------
-- (the metrics facts its account rows depend on, folded as the worker does)
SELECT escalation.fold_facts() > 0 AS folded;
SET ROLE regress_analyst;
SELECT count(*) > 0 AS reads_escalations FROM escalation.escalations;
SELECT count(*) > 0 AS reads_events FROM escalation.events;
SELECT count(*) > 0 AS reads_first_responses FROM escalation.first_responses;
-- of the accounts, only the facts metrics score (not names or owners), and
-- only of accounts it sees tickets of (row-level security)
SELECT regress_error($$SELECT name FROM escalation.accounts$$);
SELECT regress_error($$SELECT owner_agent FROM escalation.accounts$$);
SELECT account_key, tier FROM escalation.accounts WHERE account_key IN ('acme', 'regress-account');
SELECT account_key, tier FROM escalation.account_facts('{acme, regress-account}');
SELECT regress_error($$UPDATE escalation.accounts SET tier = 'x'$$);
SELECT regress_error(format($$SELECT escalation.accept(%s, 'alice')$$, :breach));
SELECT regress_error($$SELECT escalation.escalate('priv_hd.tickets', '1', target_team => 'tier2')$$);
SELECT regress_error($$SELECT * FROM escalation.explain('priv_hd.tickets', '1')$$);
SELECT regress_error($$INSERT INTO escalation.teams (name) VALUES ('x')$$);
RESET ROLE;

-- clean up what is cluster-wide
DELETE FROM escalation.rules WHERE target_team = 'regress team';
DROP OWNED BY regress_plain, regress_admin, regress_agent, regress_analyst, regress_app;
DROP ROLE regress_plain, regress_admin, regress_agent, regress_analyst, regress_app;
