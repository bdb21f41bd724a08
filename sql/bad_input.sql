--
-- bad_input: bad configuration is refused when it is written, with an
-- SQLSTATE; and the helpdesk's own writes never fail because of anything
-- escalation does (a mapped column renamed or dropped, a lookup table
-- dropped, a 1 MB body, an all-NULL row).
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE SCHEMA bi_hd;
CREATE TABLE bi_hd.tickets (
    id         text PRIMARY KEY,
    status     integer,
    priority   text,
    subject    text,
    body       text,
    account    text,
    amount     numeric,
    created_at timestamptz
);
CREATE TABLE bi_hd.messages (
    id        serial PRIMARY KEY,
    ticket_id text,
    author    text,
    body      text
);
CREATE TABLE bi_hd.status_names (code integer PRIMARY KEY, name text NOT NULL);
INSERT INTO bi_hd.status_names VALUES (1, 'open'), (2, 'closed');
SELECT escalation.attach('bi_hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": ["open"], "solved": ["closed"]}',
           lookups => '{"status": [{"table": "bi_hd.status_names", "key": "code", "value": "name"}]}',
           priority => 'priority', subject => 'subject', body => 'body', account => 'account',
           created_at => 'created_at', fields => '{"amount": "amount"}',
           messages => 'bi_hd.messages', message_ticket => 'ticket_id', message_body => 'body',
           message_author => 'author', author_map => '{"customer": ["c"], "agent": ["a"]}') AS sid \gset

--------------------------------------------------------------------------
-- rules refused when written
--------------------------------------------------------------------------
-- an invalid regular expression
SELECT regress_error(format($$INSERT INTO escalation.rules (name, source_id, pattern, target_team)
                              VALUES ('bad regex', %s, '(unclosed', 'tier2')$$, :sid));
SELECT regress_error(format($$INSERT INTO escalation.rules (name, source_id, pattern, target_team)
                              VALUES ('bad regex', %s, 'a{2,1}', 'tier2')$$, :sid));
SELECT regress_error($$INSERT INTO escalation.rules (name, pattern, target_team) VALUES ('empty regex', '', 'tier2')$$);
-- a keyword of stop words only, in the source's configuration
SELECT regress_error(format($$INSERT INTO escalation.rules (name, source_id, keywords, target_team)
                              VALUES ('stop words', %s, '{refund, "the and of"}', 'tier2')$$, :sid));
SELECT regress_error(format($$INSERT INTO escalation.rules (name, source_id, keywords, target_team)
                              VALUES ('punctuation', %s, '{"!!!"}', 'tier2')$$, :sid));
-- empty keyword arrays, blank or NULL keywords
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('empty', '{}', 'tier2')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('blank', '{refund, "  "}', 'tier2')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('null', '{refund, NULL}', 'tier2')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, priorities, target_team) VALUES ('blank priority', '{""}', 'tier2')$$);
-- a field compared with < <= > >= needs a number
SELECT regress_error(format($$INSERT INTO escalation.rules (name, source_id, field, field_op, field_value, target_team)
                              VALUES ('not a number', %s, 'amount', '>', 'five hundred', 'tier2')$$, :sid));
SELECT regress_error(format($$INSERT INTO escalation.rules (name, source_id, field, field_op, field_value, target_team)
                              VALUES ('not a number', %s, 'amount', '<=', '$500', 'tier2')$$, :sid));
-- ... while = and <> compare text too
INSERT INTO escalation.rules (name, source_id, field, field_op, field_value, target_team)
VALUES ('bi: amount is n/a', :sid, 'amount', '=', 'n/a', 'tier2');
-- a field no source maps, an incomplete field condition, an unknown operator
SELECT regress_error(format($$INSERT INTO escalation.rules (name, source_id, field, field_op, field_value, target_team)
                              VALUES ('unmapped', %s, 'region', '=', 'EU', 'tier2')$$, :sid));
SELECT regress_error($$INSERT INTO escalation.rules (name, field, field_op, target_team) VALUES ('incomplete', 'amount', '>', 'tier2')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, field, field_op, field_value, target_team) VALUES ('op', 'amount', '~', '5', 'tier2')$$);
-- no target, no condition
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords) VALUES ('no target', '{refund}')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, target_team) VALUES ('no condition', 'tier2')$$);
-- unknown team, bad kind, severity, level, applies_to; a blank or duplicate name
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('team', '{refund}', 'nobody')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team, kind) VALUES ('kind', '{refund}', 'tier2', 'lateral')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team, severity) VALUES ('sev', '{refund}', 'tier2', 5)$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team, level) VALUES ('lvl', '{refund}', 'tier2', 0)$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_tier) VALUES ('tier', '{refund}', 10)$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team, applies_to) VALUES ('applies', '{refund}', 'tier2', 'email')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('   ', '{refund}', 'tier2')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('bi: amount is n/a', '{refund}', 'tier2')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team, min_annual_value) VALUES ('min', '{refund}', 'tier2', -1)$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, keywords, target_team, renewal_within) VALUES ('renewal', '{refund}', 'tier2', '-1 day')$$);
-- a source that does not exist, or is not attached
SELECT regress_error($$INSERT INTO escalation.rules (name, source_id, keywords, target_team) VALUES ('src', -1, '{refund}', 'tier2')$$);
-- an UPDATE is validated like an INSERT
SELECT regress_error($$UPDATE escalation.rules SET pattern = '[z-a]' WHERE name = 'bi: amount is n/a'$$);
-- nothing of the above was stored
SELECT name FROM escalation.rules WHERE source_id = :sid OR name IN ('empty', 'blank', 'null', 'no target') ORDER BY name;

--------------------------------------------------------------------------
-- teams, agents, accounts
--------------------------------------------------------------------------
-- a team that a rule (or an agent) names cannot go
INSERT INTO escalation.teams (name) VALUES ('bi: doomed');
INSERT INTO escalation.rules (name, source_id, keywords, target_team) VALUES ('bi: doomed rule', :sid, '{doom}', 'bi: doomed');
SELECT regress_error($$DELETE FROM escalation.teams WHERE name = 'bi: doomed'$$);
DELETE FROM escalation.rules WHERE name = 'bi: doomed rule';
DELETE FROM escalation.teams WHERE name = 'bi: doomed';
SELECT regress_error($$DELETE FROM escalation.teams WHERE name = 'security'$$);
SELECT regress_error($$INSERT INTO escalation.teams (name, kind) VALUES ('x', 'matrix')$$);
SELECT regress_error($$INSERT INTO escalation.teams (name, tier) VALUES ('x', 0)$$);
SELECT regress_error($$INSERT INTO escalation.teams (name) VALUES ('')$$);
-- agents: negative capacity, unknown time zone, languages, availability
SELECT regress_error($$INSERT INTO escalation.agents (agent_id, capacity) VALUES ('neg', -1)$$);
SELECT regress_error($$INSERT INTO escalation.agents (agent_id, time_zone) VALUES ('tz', 'Mars/Olympus_Mons')$$);
SELECT regress_error($$INSERT INTO escalation.agents (agent_id, languages) VALUES ('lang', '{}')$$);
SELECT regress_error($$INSERT INTO escalation.agents (agent_id, availability) VALUES ('av', 'asleep')$$);
SELECT regress_error($$INSERT INTO escalation.agents (agent_id, team) VALUES ('team', 'nobody')$$);
SELECT regress_error($$INSERT INTO escalation.agent_skills (agent_id, skill, level) VALUES ('bob', 'sql', 6)$$);
-- accounts
SELECT regress_error($$INSERT INTO escalation.accounts (account_key, annual_value) VALUES ('neg', -5)$$);
SELECT regress_error($$INSERT INTO escalation.accounts (account_key) VALUES (' ')$$);
-- is_time_zone, the helper behind the time zone checks
SELECT tz, escalation.is_time_zone(tz)
  FROM unnest(ARRAY['UTC', 'Europe/Berlin', 'EST5EDT', 'Mars/Olympus_Mons', '']) AS t(tz) ORDER BY tz;

-- the functions refuse bad arguments too
SELECT regress_error($$SELECT * FROM escalation.match_keywords('x', '{x}', 'klingon')$$);
SELECT escalation.keyword_lexemes(NULL, 'english') IS NULL AS null_keyword;

--------------------------------------------------------------------------
-- the helpdesk's writes never fail
--------------------------------------------------------------------------
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('bi: outage', :sid, '{outage}', 'tier2');
INSERT INTO escalation.rules (name, source_id, applies_to, keywords, target_team)
VALUES ('bi: outage message', :sid, 'message', '{outage}', 'tier2');

-- an all-NULL row (but its key), a 1 MB body, a 1 MB subject without a space
INSERT INTO bi_hd.tickets (id) VALUES ('all-null');
INSERT INTO bi_hd.tickets (id, status, body) VALUES ('big', 1, repeat('lorem ipsum ', 87382) || 'outage');
INSERT INTO bi_hd.tickets (id, status, subject, body) VALUES ('one word', 1, repeat('x', 1048576), 'outage');
INSERT INTO bi_hd.tickets (id, status, body) VALUES ('status 99', 99, 'outage');
-- a value the status lookup does not know is no status at all
SELECT ticket_key, length(context->'ticket'->>'text') > 0 AS has_text, context->'ticket'->>'status_meaning' AS meaning
  FROM escalation.escalations WHERE source_id = :sid ORDER BY ticket_key;

-- many rows in one statement
INSERT INTO bi_hd.tickets (id, status, body)
SELECT 'bulk ' || i, 1, CASE WHEN i % 100 = 0 THEN 'outage' ELSE 'fine' END FROM generate_series(1, 1000) i;
SELECT count(*) AS bulk_escalations FROM escalation.escalations WHERE source_id = :sid AND ticket_key LIKE 'bulk %';

-- a mapped column of the ticket table cannot be dropped: the trigger
-- depends on it (renaming it is covered by cache.sql)
SELECT regress_error($$ALTER TABLE bi_hd.tickets DROP COLUMN amount$$);

-- a mapped column of the messages table can: the source is disabled with a
-- WARNING (once per backend) and every write goes on
ALTER TABLE bi_hd.messages DROP COLUMN author;
INSERT INTO bi_hd.messages (ticket_id, body) VALUES ('big', 'outage again');
INSERT INTO bi_hd.messages (ticket_id, body) VALUES ('big', 'outage again');
INSERT INTO bi_hd.tickets (id, status, body) VALUES ('after drop', 1, 'outage');
UPDATE bi_hd.tickets SET body = 'outage!' WHERE id = 'big';
SELECT count(*) AS escalations_after_drop FROM escalation.escalations
 WHERE source_id = :sid AND (ticket_key = 'after drop' OR reasons @> '[{"on": "message"}]');

-- detach and attach again with a mapping that fits: escalating again
SELECT escalation.detach('bi_hd.tickets');
SELECT escalation.attach('bi_hd.tickets', key => 'id', body => 'body',
           messages => 'bi_hd.messages', message_ticket => 'ticket_id', message_body => 'body') AS sid2 \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('bi: outage again', :sid2, '{outage}', 'tier2');
INSERT INTO bi_hd.tickets (id, body) VALUES ('reattached', 'outage');
SELECT ticket_key FROM escalation.escalations WHERE source_id = :sid2;

-- a dropped lookup table: WARNING, writes go on
CREATE TABLE bi_hd.lk_tickets (id integer PRIMARY KEY, state integer, body text);
CREATE TABLE bi_hd.lk_states (id integer PRIMARY KEY, meaning text);
INSERT INTO bi_hd.lk_states VALUES (1, 'open');
SELECT escalation.attach('bi_hd.lk_tickets', key => 'id', status => 'state', body => 'body',
           lookups => '{"status": [{"table": "bi_hd.lk_states", "key": "id", "value": "meaning"}]}') AS lk \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('bi: lookup outage', :lk, '{outage}', 'tier2');
INSERT INTO bi_hd.lk_tickets VALUES (1, 1, 'outage');
DROP TABLE bi_hd.lk_states;
INSERT INTO bi_hd.lk_tickets VALUES (2, 1, 'outage');
INSERT INTO bi_hd.lk_tickets VALUES (3, 1, 'outage');
SELECT ticket_key FROM escalation.escalations WHERE source_id = :lk ORDER BY ticket_key;
SELECT escalation.detach('bi_hd.lk_tickets');

-- a dropped text search configuration: WARNING, writes go on
CREATE TEXT SEARCH CONFIGURATION bi_hd.doomed (COPY = pg_catalog.english);
CREATE TABLE bi_hd.ts_tickets (id integer PRIMARY KEY, body text);
SELECT escalation.attach('bi_hd.ts_tickets', key => 'id', body => 'body', ts_config => 'bi_hd.doomed') AS ts \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('bi: ts outage', :ts, '{outage}', 'tier2');
INSERT INTO bi_hd.ts_tickets VALUES (1, 'outage');
DROP TEXT SEARCH CONFIGURATION bi_hd.doomed;
-- words never seen before would need the configuration to be stemmed
INSERT INTO bi_hd.ts_tickets VALUES (2, 'brand new words');
INSERT INTO bi_hd.ts_tickets VALUES (3, 'outage');
SELECT ticket_key FROM escalation.escalations WHERE source_id = :ts ORDER BY ticket_key;
SELECT escalation.detach('bi_hd.ts_tickets');

-- a message whose ticket reference cannot be a ticket key is refused at
-- attach (a message with the reference "abc" would make the look-up fail)
CREATE TABLE bi_hd.int_tickets (id integer PRIMARY KEY, body text);
CREATE TABLE bi_hd.text_messages (id serial PRIMARY KEY, ticket_ref text, body text);
CREATE TABLE bi_hd.small_messages (id serial PRIMARY KEY, ticket_ref smallint, body text);
SELECT regress_error($$SELECT escalation.attach('bi_hd.int_tickets', key => 'id', body => 'body',
           messages => 'bi_hd.text_messages', message_ticket => 'ticket_ref', message_body => 'body')$$);
SELECT escalation.attach('bi_hd.int_tickets', key => 'id', body => 'body',
           messages => 'bi_hd.small_messages', message_ticket => 'ticket_ref', message_body => 'body') IS NOT NULL AS smallint_refs_ok;
