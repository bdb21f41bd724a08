--
-- bad_input_catalogue: the catalogue of bad inputs (issue 8, section 3).
--
-- Every entry is one call of bic(entry, topic, input, statement): the
-- statement runs (in a subtransaction), and its SQLSTATE and message (with
-- DETAIL and HINT) are shown, or "accepted" where the input is legal and
-- must simply not hurt.  Then, after every entry, the helpdesk writes a
-- ticket to its attached table, which must succeed and escalate: no bad
-- input may make a helpdesk write fail, or stop escalation.  The entries
-- are logged in bic_log; docs/reliability.md ("Bad input") is that log.
--
-- Topics, in the issue's words: malformed mappings, unknown columns, wrong
-- types, identifiers with quotes, spaces and capitals, invalid regexes,
-- unknown text-search configurations, calendars with overlapping or
-- inverted periods, impossible SLA targets, negative capacities, NULLs in
-- every mapped column, 1 MB and empty bodies, non-owner attach, rules
-- referring to dropped teams, unknown time zones, DST-gap times; and
-- times out of range, tenant roles, dropped tables, found on the way.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET client_min_messages = notice;

-- the helpdesk whose writes must never fail: every role mapped
CREATE SCHEMA bic;
CREATE TABLE bic.tickets (
    id          serial PRIMARY KEY,
    status      text,
    priority    text,
    channel     text,
    subject     text,
    body        text,
    requester   text,
    account     text,
    amount      numeric,
    tenant      text,
    team        text,
    assignee    text,
    created_at  timestamptz,
    updated_at  timestamptz,
    resolved_at timestamptz
);
-- keys apart from those of later files' helpdesks (their checks look
-- tickets up by key)
ALTER SEQUENCE bic.tickets_id_seq RESTART 900001;
CREATE TABLE bic.messages (
    id         serial PRIMARY KEY,
    ticket_id  integer,
    author     text,
    body       text,
    private    boolean,
    created_at timestamptz
);
SELECT escalation.attach('bic.tickets', key => 'id', status => 'status',
           status_map => '{"open": ["open"], "pending": ["pending"], "solved": ["solved"]}',
           priority => 'priority', priority_map => '{"urgent": ["P1"], "normal": ["P3"]}',
           channel => 'channel', subject => 'subject', body => 'body', requester => 'requester',
           account => 'account', fields => '{"amount": "amount"}', tenant => 'tenant',
           team => 'team', assignee => 'assignee', created_at => 'created_at',
           updated_at => 'updated_at', resolved_at => 'resolved_at',
           messages => 'bic.messages', message_ticket => 'ticket_id', message_body => 'body',
           message_author => 'author', message_private => 'private',
           message_created_at => 'created_at',
           author_map => '{"customer": ["c"], "agent": ["a"]}', name => 'catalogue') AS sid \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('bic: outage', :sid, '{outage}', 'tier2');
INSERT INTO escalation.rules (name, source_id, applies_to, keywords, target_team)
VALUES ('bic: outage message', :sid, 'message', '{outage}', 'tier2');
INSERT INTO escalation.rules (name, source_id, field, field_op, field_value, target_team, level)
VALUES ('bic: big amount', :sid, 'amount', '>', '500', 'billing', 2);
INSERT INTO escalation.rules (name, source_id, account_vip, keywords, target_team, level)
VALUES ('bic: vip', :sid, true, '{outage}', 'management', 3);
-- SLA clocks run on every ticket of the catalogue's source
INSERT INTO escalation.calendars (name, time_zone) VALUES ('bic office', 'Europe/Berlin');
INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
SELECT calendar_id, d, '09:00', '17:00' FROM escalation.calendars, generate_series(1, 5) d
 WHERE name = 'bic office';
INSERT INTO escalation.sla_policies (name, position, source_id) VALUES ('bic standard', 9001, :sid)
RETURNING policy_id AS pid \gset
INSERT INTO escalation.sla_targets (policy_id, metric, target, calendar)
VALUES (:pid, 'first_response', '4 hours', 'bic office'), (:pid, 'resolution', '3 days', NULL);

-- tables the entries attach, map or refer to
CREATE TABLE bic.spare (id integer PRIMARY KEY, status text, body text, n integer,
                        note text, created_at timestamptz);
CREATE TABLE bic.spare_messages (id serial PRIMARY KEY, ticket_ref text, ref integer,
                                 body text, private text);
CREATE TABLE bic.no_key (id integer, body text);
CREATE VIEW bic.a_view AS SELECT * FROM bic.spare;
CREATE TABLE bic.states (code integer PRIMARY KEY, name text);
CREATE TABLE bic.ratings (ticket integer, score text, stars integer);

CREATE ROLE regress_bic_admin IN ROLE escalation_admin;
CREATE ROLE regress_bic_plain;
GRANT USAGE ON SCHEMA bic TO regress_bic_admin, regress_bic_plain;
CREATE TABLE bic.admin_tickets (id integer PRIMARY KEY, body text);
ALTER TABLE bic.admin_tickets OWNER TO regress_bic_admin;
CREATE TABLE bic.secret_states (code integer PRIMARY KEY, name text);

-- the log, and one entry
CREATE TABLE bic_log (
    entry    integer PRIMARY KEY,
    topic    text NOT NULL,
    input    text NOT NULL,
    sqlstate text,
    message  text,
    write    text NOT NULL
);

CREATE FUNCTION bic(entry integer, topic text, input text, stmt text, as_role text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    st      text;
    msg     text;
    det     text;
    hnt     text;
    outcome text;
    probe   integer;
    write   text;
BEGIN
    BEGIN
        IF as_role IS NOT NULL THEN
            PERFORM set_config('role', as_role, true);
        END IF;
        EXECUTE stmt;
        PERFORM set_config('role', 'none', true);
        outcome := 'accepted';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                                det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
        IF det LIKE 'Failing row contains %' THEN
            det := 'Failing row contains (...).';
        END IF;
        -- a serial in a key would depend on earlier files
        det := regexp_replace(det, '^Key \(policy_id, metric\)=\(\d+,', 'Key (policy_id, metric)=(<policy_id>,');
        outcome := st || ': ' || msg
            || CASE WHEN det <> '' THEN E'\nDETAIL: ' || det ELSE '' END
            || CASE WHEN hnt <> '' THEN E'\nHINT: ' || hnt ELSE '' END;
    END;
    -- the helpdesk writes a ticket that must escalate
    BEGIN
        INSERT INTO bic.tickets (status, subject, body, created_at)
        VALUES ('open', 'probe ' || entry, 'an outage', now())
        RETURNING id INTO probe;
        IF EXISTS (SELECT 1 FROM escalation.escalations e JOIN escalation.sources s USING (source_id)
                    WHERE s.name = 'catalogue' AND s.attached AND e.ticket_key = probe::text) THEN
            write := 'helpdesk write: ok, escalated';
        ELSE
            write := 'helpdesk write: ok, NOT escalated';
        END IF;
    EXCEPTION WHEN OTHERS THEN
        write := 'helpdesk write FAILED: ' || SQLSTATE || ': ' || SQLERRM;
    END;
    INSERT INTO bic_log VALUES (entry, topic, input, st, msg, write);
    RETURN format('#%s %s', entry, outcome) || E'\n' || write;
END
$$;

--------------------------------------------------------------------------
-- Malformed mappings
--------------------------------------------------------------------------
SELECT bic(1, 'malformed mapping', 'status_map that is not an object',
  $$SELECT escalation.attach('bic.spare', key => 'id', status => 'status', status_map => '["open"]')$$);
SELECT bic(2, 'malformed mapping', 'status_map with an unknown meaning',
  $$SELECT escalation.attach('bic.spare', key => 'id', status => 'status',
        status_map => '{"open": ["new"], "closed": ["done"]}')$$);
SELECT bic(3, 'malformed mapping', 'a stored value mapped to two meanings',
  $$SELECT escalation.attach('bic.spare', key => 'id', status => 'status',
        status_map => '{"open": ["new"], "solved": ["new"]}')$$);
SELECT bic(4, 'malformed mapping', 'a map entry that is an object',
  $$SELECT escalation.attach('bic.spare', key => 'id', status => 'status',
        status_map => '{"open": [{"v": 1}]}')$$);
SELECT bic(5, 'malformed mapping', 'status_map without a status column',
  $$SELECT escalation.attach('bic.spare', key => 'id', status_map => '{"open": ["new"]}')$$);
SELECT bic(6, 'malformed mapping', 'fields that is not an object',
  $$SELECT escalation.attach('bic.spare', key => 'id', fields => '["n"]')$$);
SELECT bic(7, 'malformed mapping', 'a field name with capitals',
  $$SELECT escalation.attach('bic.spare', key => 'id', fields => '{"Amount": "n"}')$$);
SELECT bic(8, 'malformed mapping', 'a field that names no column (a number)',
  $$SELECT escalation.attach('bic.spare', key => 'id', fields => '{"amount": 5}')$$);
SELECT bic(9, 'malformed mapping', 'a lookup for the key',
  $$SELECT escalation.attach('bic.spare', key => 'id',
        lookups => '{"key": [{"table": "bic.states", "key": "code", "value": "name"}]}')$$);
SELECT bic(10, 'malformed mapping', 'an empty lookup chain',
  $$SELECT escalation.attach('bic.spare', key => 'id', status => 'status', lookups => '{"status": []}')$$);
SELECT bic(11, 'malformed mapping', 'a lookup hop without "value"',
  $$SELECT escalation.attach('bic.spare', key => 'id', status => 'status',
        lookups => '{"status": [{"table": "bic.states", "key": "code"}]}')$$);
SELECT bic(12, 'malformed mapping', 'a lookup table that does not exist',
  $$SELECT escalation.attach('bic.spare', key => 'id', status => 'status',
        lookups => '{"status": [{"table": "bic.nowhere", "key": "code", "value": "name"}]}')$$);
SELECT bic(13, 'malformed mapping', 'a sentinel for the key',
  $$SELECT escalation.attach('bic.spare', key => 'id', sentinels => '{"key": [0]}')$$);
SELECT bic(14, 'malformed mapping', 'a sentinel for a role that is not mapped',
  $$SELECT escalation.attach('bic.spare', key => 'id', sentinels => '{"assignee": [1]}')$$);
SELECT bic(15, 'malformed mapping', 'message columns without a messages table',
  $$SELECT escalation.attach('bic.spare', key => 'id', message_body => 'body')$$);
SELECT bic(16, 'malformed mapping', 'a messages table without message_ticket',
  $$SELECT escalation.attach('bic.spare', key => 'id', messages => 'bic.spare_messages',
        message_body => 'body')$$);
SELECT bic(17, 'malformed mapping', 'message_via without message_via_key and message_ref',
  $$SELECT escalation.attach('bic.spare', key => 'id', messages => 'bic.spare_messages',
        message_ticket => 'ref', message_body => 'body', message_via => 'bic.spare')$$);
SELECT bic(18, 'malformed mapping', 'a map that is not JSON',
  $$SELECT escalation.attach('bic.spare', key => 'id', status => 'status', status_map => '{"open": [1,}')$$);

--------------------------------------------------------------------------
-- Unknown columns
--------------------------------------------------------------------------
SELECT bic(19, 'unknown column', 'a key column that does not exist',
  $$SELECT escalation.attach('bic.spare', key => 'nope')$$);
SELECT bic(20, 'unknown column', 'a body column that does not exist',
  $$SELECT escalation.attach('bic.spare', key => 'id', body => 'text')$$);
SELECT bic(21, 'unknown column', 'a field column that does not exist',
  $$SELECT escalation.attach('bic.spare', key => 'id', fields => '{"amount": "amount"}')$$);
SELECT bic(22, 'unknown column', 'a message_body column that does not exist',
  $$SELECT escalation.attach('bic.spare', key => 'id', messages => 'bic.spare_messages',
        message_ticket => 'ref', message_body => 'text')$$);
SELECT bic(23, 'unknown column', 'a lookup value column that does not exist',
  $$SELECT escalation.attach('bic.spare', key => 'id', status => 'status',
        lookups => '{"status": [{"table": "bic.states", "key": "code", "value": "label"}]}')$$);
SELECT bic(24, 'unknown column', 'a rule on a field no source maps',
  $$INSERT INTO escalation.rules (name, source_id, field, field_op, field_value, target_team)
    VALUES ('bic: region', (SELECT source_id FROM escalation.sources WHERE name = 'catalogue'),
            'region', '=', 'EU', 'tier2')$$);
SELECT bic(25, 'unknown column', 'an SLA policy on a field no source maps',
  $$INSERT INTO escalation.sla_policies (name, position, source_id, field, field_op, field_value)
    VALUES ('bic region', 9100, (SELECT source_id FROM escalation.sources WHERE name = 'catalogue'),
            'region', '=', 'EU')$$);
SELECT bic(26, 'unknown column', 'a CSAT score column that does not exist',
  $$SELECT escalation.attach_csat('bic.ratings', 'bic.tickets', ticket => 'ticket', score => 'rating')$$);

--------------------------------------------------------------------------
-- Wrong types
--------------------------------------------------------------------------
SELECT bic(27, 'wrong type', 'an integer body column',
  $$SELECT escalation.attach('bic.spare', key => 'id', body => 'n')$$);
SELECT bic(28, 'wrong type', 'a text created_at column',
  $$SELECT escalation.attach('bic.spare', key => 'id', created_at => 'note')$$);
SELECT bic(29, 'wrong type', 'a text message_private column',
  $$SELECT escalation.attach('bic.spare', key => 'id', messages => 'bic.spare_messages',
        message_ticket => 'ref', message_body => 'body', message_private => 'private')$$);
SELECT bic(30, 'wrong type', 'a text message reference for an integer key',
  $$SELECT escalation.attach('bic.spare', key => 'id', messages => 'bic.spare_messages',
        message_ticket => 'ticket_ref', message_body => 'body')$$);
SELECT bic(31, 'wrong type', 'a text CSAT score column',
  $$SELECT escalation.attach_csat('bic.ratings', 'bic.tickets', ticket => 'ticket', score => 'score')$$);
SELECT bic(32, 'wrong type', 'a view instead of a table',
  $$SELECT escalation.attach('bic.a_view', key => 'id')$$);
CREATE TEMPORARY TABLE bic_temp (id integer PRIMARY KEY, body text);
SELECT bic(33, 'wrong type', 'a temporary table (dropped at session end without a DROP)',
  $$SELECT escalation.attach('bic_temp', key => 'id', body => 'body')$$);
SELECT bic(34, 'wrong type', 'a key without a unique index',
  $$SELECT escalation.attach('bic.no_key', key => 'id')$$);
SELECT bic(35, 'wrong type', 'a table that does not exist',
  $$SELECT escalation.attach('bic.nowhere', key => 'id')$$);
SELECT bic(36, 'wrong type', 'a rule comparing a field with > and a word',
  $$INSERT INTO escalation.rules (name, source_id, field, field_op, field_value, target_team)
    VALUES ('bic: words', (SELECT source_id FROM escalation.sources WHERE name = 'catalogue'),
            'amount', '>', 'five hundred', 'tier2')$$);
SELECT bic(37, 'wrong type', 'an SLA policy comparing a field with > and a word',
  $$INSERT INTO escalation.sla_policies (name, position, source_id, field, field_op, field_value)
    VALUES ('bic words', 9101, (SELECT source_id FROM escalation.sources WHERE name = 'catalogue'),
            'amount', '>', 'five hundred')$$);
-- a policy on the amount, then a ticket whose amount is beyond float8's range
INSERT INTO escalation.sla_policies (name, position, source_id, field, field_op, field_value)
VALUES ('bic huge amounts', 9000, :sid, 'amount', '>', '1e300')
RETURNING policy_id AS huge \gset
INSERT INTO escalation.sla_targets (policy_id, metric, target) VALUES (:huge, 'resolution', '1 hour');
SELECT bic(38, 'wrong type', 'a ticket amount of 1e400 (beyond float8) against an SLA policy on it',
  $$INSERT INTO bic.tickets (status, body, amount, created_at)
    VALUES ('open', 'amount 38', 1e400, now())$$);
SELECT p.name AS policy_of_entry_38, count(c.*) AS clocks
  FROM escalation.sla_tickets t JOIN escalation.sla_policies p ON p.policy_id = t.policy_id
  LEFT JOIN escalation.clocks c ON c.source_id = t.source_id AND c.ticket_key = t.ticket_key
 WHERE t.source_id = :sid AND t.ticket_key = (SELECT id::text FROM bic.tickets WHERE body = 'amount 38')
 GROUP BY p.name;
DELETE FROM escalation.sla_policies WHERE name = 'bic huge amounts';

--------------------------------------------------------------------------
-- Identifiers with quotes, spaces and capitals
--------------------------------------------------------------------------
CREATE SCHEMA "BIC Desk";
CREATE TABLE "BIC Desk"."Tickets ""Q"" 2024" (
    "Ticket ID"     integer PRIMARY KEY,
    "Subject Line"  text,
    "Body ""Text""" text,
    "Created At"    timestamptz
);
SELECT bic(39, 'identifiers', 'a table and columns with quotes, spaces and capitals',
  $$SELECT escalation.attach('"BIC Desk"."Tickets ""Q"" 2024"', key => 'Ticket ID',
        subject => 'Subject Line', body => 'Body "Text"', created_at => 'Created At',
        name => 'desk "Q"; --')$$);
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
SELECT 'bic: quoted desk', source_id, '{outage}', 'tier2' FROM escalation.sources WHERE name = 'desk "Q"; --';
INSERT INTO "BIC Desk"."Tickets ""Q"" 2024" VALUES (1, 'Outage', 'an outage', '2024-05-06 10:00+00');
SELECT s.name, s.ticket_table, e.ticket_key, e.context->'ticket'->>'subject' AS subject
  FROM escalation.escalations e JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'desk "Q"; --';
SELECT bic(40, 'identifiers', 'a missing column named with a space and quotes',
  $$SELECT escalation.attach('bic.spare', key => 'id', body => 'Body "Text"')$$);
SELECT bic(41, 'identifiers', 'a keyword holding SQL',
  $$INSERT INTO escalation.rules (name, source_id, keywords, target_team)
    VALUES ('bic: ''); DROP TABLE bic.tickets; --',
            (SELECT source_id FROM escalation.sources WHERE name = 'catalogue'),
            '{"''); DROP TABLE bic.tickets; --"}', 'tier2')$$);
SELECT bic(42, 'identifiers', 'a field name holding SQL',
  $$SELECT escalation.attach('bic.spare', key => 'id', fields => '{"n; DROP TABLE bic.tickets": "n"}')$$);
SELECT bic(43, 'identifiers', 'a text search configuration in quotes and capitals',
  $$SELECT escalation.attach('bic.spare', key => 'id', ts_config => '"English"')$$);

--------------------------------------------------------------------------
-- Invalid regular expressions
--------------------------------------------------------------------------
SELECT bic(44, 'invalid regex', 'unbalanced parenthesis',
  $$INSERT INTO escalation.rules (name, pattern, target_team) VALUES ('bic: re', '(unclosed', 'tier2')$$);
SELECT bic(45, 'invalid regex', 'repetition count {2,1}',
  $$INSERT INTO escalation.rules (name, pattern, target_team) VALUES ('bic: re', 'a{2,1}', 'tier2')$$);
SELECT bic(46, 'invalid regex', 'inverted range [z-a]',
  $$INSERT INTO escalation.rules (name, pattern, target_team) VALUES ('bic: re', '[z-a]', 'tier2')$$);
SELECT bic(47, 'invalid regex', 'a trailing backslash',
  $$INSERT INTO escalation.rules (name, pattern, target_team) VALUES ('bic: re', 'x\', 'tier2')$$);
SELECT bic(48, 'invalid regex', 'a Python named group (?P<n>x)',
  $$INSERT INTO escalation.rules (name, pattern, target_team) VALUES ('bic: re', '(?P<n>x)', 'tier2')$$);
SELECT bic(49, 'invalid regex', 'a quantifier without operand',
  $$INSERT INTO escalation.rules (name, pattern, target_team) VALUES ('bic: re', '*', 'tier2')$$);
SELECT bic(50, 'invalid regex', 'an empty pattern',
  $$INSERT INTO escalation.rules (name, pattern, target_team) VALUES ('bic: re', '', 'tier2')$$);
SELECT bic(51, 'invalid regex', 'an UPDATE to an invalid pattern',
  $$UPDATE escalation.rules SET pattern = '(' WHERE name = 'bic: outage'$$);

--------------------------------------------------------------------------
-- Unknown text search configurations
--------------------------------------------------------------------------
SELECT bic(52, 'text search', 'attach with an unknown configuration',
  $$SELECT escalation.attach('bic.spare', key => 'id', body => 'body', ts_config => 'klingon')$$);
SELECT bic(53, 'text search', 'match_keywords() with an unknown configuration',
  $$SELECT * FROM escalation.match_keywords('refunds', '{refund}', 'klingon')$$);
SELECT bic(54, 'text search', 'keyword_lexemes() with a configuration in a missing schema',
  $$SELECT escalation.keyword_lexemes('refund', 'nowhere.english')$$);
SELECT bic(55, 'text search', 'a keyword made of stop words only',
  $$INSERT INTO escalation.rules (name, source_id, keywords, target_team)
    VALUES ('bic: stop', (SELECT source_id FROM escalation.sources WHERE name = 'catalogue'),
            '{"the and of"}', 'tier2')$$);

--------------------------------------------------------------------------
-- Calendars with overlapping or inverted periods
--------------------------------------------------------------------------
INSERT INTO escalation.calendars (name, time_zone) VALUES ('bic cal', 'Europe/Berlin');
SELECT calendar_id AS cal FROM escalation.calendars WHERE name = 'bic cal' \gset
INSERT INTO escalation.calendar_hours VALUES (:cal, 1, '09:00', '17:00'), (:cal, 6, '22:00', '06:00');
SELECT bic(56, 'calendar', 'overlapping periods on one day (Monday 16:00-18:00 over 09:00-17:00)',
  format($$INSERT INTO escalation.calendar_hours VALUES (%s, 1, '16:00', '18:00')$$, :cal));
SELECT bic(57, 'calendar', 'an inverted period running into the next morning (Sunday 22:00-10:00)',
  format($$INSERT INTO escalation.calendar_hours VALUES (%s, 0, '22:00', '10:00')$$, :cal));
SELECT bic(58, 'calendar', 'Saturday night into a Sunday morning period (week wrap)',
  format($$INSERT INTO escalation.calendar_hours VALUES (%s, 0, '05:00', '07:00')$$, :cal));
SELECT bic(59, 'calendar', 'an empty period (12:00-12:00)',
  format($$INSERT INTO escalation.calendar_hours VALUES (%s, 2, '12:00', '12:00')$$, :cal));
SELECT bic(60, 'calendar', 'weekday 7',
  format($$INSERT INTO escalation.calendar_hours VALUES (%s, 7, '09:00', '17:00')$$, :cal));
SELECT bic(61, 'calendar', 'a period starting at 24:00',
  format($$INSERT INTO escalation.calendar_hours VALUES (%s, 2, '24:00', '02:00')$$, :cal));
SELECT bic(62, 'calendar', 'a time of 25:00',
  format($$INSERT INTO escalation.calendar_hours VALUES (%s, 2, '25:00', '26:00')$$, :cal));
SELECT bic(63, 'calendar', 'an inverted period alone (Friday 22:00-06:00) runs past midnight',
  format($$INSERT INTO escalation.calendar_hours VALUES (%s, 5, '22:00', '06:00')$$, :cal));
SELECT * FROM escalation.business_periods('bic cal', '2024-05-10 00:00+02', '2024-05-13 00:00+02');
SELECT bic(64, 'calendar', 'a holiday on infinity',
  format($$INSERT INTO escalation.calendar_holidays (calendar_id, day) VALUES (%s, 'infinity')$$, :cal));
SELECT bic(65, 'calendar', 'deleting every period of a calendar an SLA target runs on',
  $$DELETE FROM escalation.calendar_hours
     WHERE calendar_id = (SELECT calendar_id FROM escalation.calendars WHERE name = 'bic office')$$);

--------------------------------------------------------------------------
-- Impossible SLA targets
--------------------------------------------------------------------------
INSERT INTO escalation.sla_policies (name, position, source_id, priorities)
VALUES ('bic targets', 9200, :sid, '{never}') RETURNING policy_id AS tp \gset
SELECT bic(66, 'SLA target', 'a target of zero',
  format($$INSERT INTO escalation.sla_targets (policy_id, metric, target) VALUES (%s, 'age', '0')$$, :tp));
SELECT bic(67, 'SLA target', 'a negative target',
  format($$INSERT INTO escalation.sla_targets (policy_id, metric, target) VALUES (%s, 'age', '-1 hour')$$, :tp));
SELECT bic(68, 'SLA target', 'a target in months',
  format($$INSERT INTO escalation.sla_targets (policy_id, metric, target) VALUES (%s, 'age', '1 mon')$$, :tp));
SELECT bic(69, 'SLA target', 'a target over 366 days',
  format($$INSERT INTO escalation.sla_targets (policy_id, metric, target) VALUES (%s, 'age', '400 days')$$, :tp));
SELECT bic(70, 'SLA target', 'a target whose parts add up to less than zero (1 day -25 hours)',
  format($$INSERT INTO escalation.sla_targets (policy_id, metric, target) VALUES (%s, 'age', '1 day -25 hours')$$, :tp));
SELECT bic(71, 'SLA target', 'a warning at 0 %',
  format($$INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at) VALUES (%s, 'age', '1 day', '{0}')$$, :tp));
SELECT bic(72, 'SLA target', 'a warning at 100 %',
  format($$INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at) VALUES (%s, 'age', '1 day', '{100}')$$, :tp));
SELECT bic(73, 'SLA target', 'warnings as a two-dimensional array',
  format($$INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at) VALUES (%s, 'age', '1 day', '{{50}}')$$, :tp));
INSERT INTO escalation.calendars (name, time_zone) VALUES ('bic never', 'UTC');
SELECT bic(74, 'SLA target', 'a target on a calendar without working hours',
  format($$INSERT INTO escalation.sla_targets (policy_id, metric, target, calendar) VALUES (%s, 'age', '1 day', 'bic never')$$, :tp));
SELECT bic(75, 'SLA target', 'a target on a calendar that does not exist',
  format($$INSERT INTO escalation.sla_targets (policy_id, metric, target, calendar) VALUES (%s, 'age', '1 day', 'bic nowhere')$$, :tp));
SELECT bic(76, 'SLA target', 'an unknown metric',
  format($$INSERT INTO escalation.sla_targets (policy_id, metric, target) VALUES (%s, 'speed', '1 day')$$, :tp));
INSERT INTO escalation.sla_targets (policy_id, metric, target) VALUES (:tp, 'age', '1 day');
SELECT bic(77, 'SLA target', 'a ladder level that escalates to nobody',
  format($$INSERT INTO escalation.sla_ladder (policy_id, metric, level) VALUES (%s, 'age', 1)$$, :tp));
SELECT bic(78, 'SLA target', 'a ladder level due before the breach (negative "after")',
  format($$INSERT INTO escalation.sla_ladder (policy_id, metric, level, after, target_team) VALUES (%s, 'age', 1, '-1 hour', 'tier2')$$, :tp));
SELECT bic(79, 'SLA target', 'ladder level 10',
  format($$INSERT INTO escalation.sla_ladder (policy_id, metric, level, target_team) VALUES (%s, 'age', 10, 'tier2')$$, :tp));
SELECT bic(80, 'SLA target', 'a ladder level for a metric without a target',
  format($$INSERT INTO escalation.sla_ladder (policy_id, metric, level, target_team) VALUES (%s, 'resolution', 1, 'tier2')$$, :tp));

--------------------------------------------------------------------------
-- Negative capacities and weights
--------------------------------------------------------------------------
SELECT bic(81, 'negative capacity', 'an agent with capacity -1',
  $$INSERT INTO escalation.agents (agent_id, capacity) VALUES ('bic-neg', -1)$$);
SELECT bic(82, 'negative capacity', 'an UPDATE to capacity -5',
  $$UPDATE escalation.agents SET capacity = -5 WHERE agent_id = 'dave'$$);
SELECT bic(83, 'negative capacity', 'a negative routing weight',
  $$INSERT INTO escalation.routing_weights VALUES ('workload', -1)$$);
SELECT bic(84, 'negative capacity', 'a routing weight of NaN',
  $$INSERT INTO escalation.routing_weights VALUES ('workload', 'NaN')$$);
SELECT bic(85, 'negative capacity', 'a negative annual value',
  $$INSERT INTO escalation.accounts (account_key, annual_value) VALUES ('bic-neg', -5)$$);
SELECT bic(86, 'negative capacity', 'a rule on a negative minimum annual value',
  $$INSERT INTO escalation.rules (name, min_annual_value, target_team) VALUES ('bic: neg', -1, 'tier2')$$);
SELECT bic(87, 'negative capacity', 'an offer timeout of zero',
  $$INSERT INTO escalation.routing_settings (offer_timeout) VALUES ('0')$$);

--------------------------------------------------------------------------
-- NULLs in every mapped column: the helpdesk's writes succeed
--------------------------------------------------------------------------
SELECT bic(88, 'NULLs', 'a ticket with every mapped column NULL',
  $$INSERT INTO bic.tickets DEFAULT VALUES$$);
SELECT bic(89, 'NULLs', 'an UPDATE setting every mapped column of an escalated ticket to NULL',
  $$UPDATE bic.tickets SET status = NULL, priority = NULL, channel = NULL, subject = NULL,
        body = NULL, requester = NULL, account = NULL, amount = NULL, tenant = NULL, team = NULL,
        assignee = NULL, created_at = NULL, updated_at = NULL, resolved_at = NULL
     WHERE subject = 'probe 1'$$);
SELECT bic(90, 'NULLs', 'a message with every mapped column NULL',
  $$INSERT INTO bic.messages DEFAULT VALUES$$);
SELECT bic(91, 'NULLs', 'a message of a customer on a ticket that does not exist',
  $$INSERT INTO bic.messages (ticket_id, author, body) VALUES (-1, 'c', 'an outage')$$);
CREATE TABLE bic.nullable_key (ref text UNIQUE, body text);
SELECT escalation.attach('bic.nullable_key', key => 'ref', body => 'body') IS NOT NULL AS attached;
SELECT bic(92, 'NULLs', 'a NULL key in a nullable unique key column',
  $$INSERT INTO bic.nullable_key VALUES (NULL, 'an outage')$$);
-- the worker folds the facts the writes logged: every one of them folds
SELECT escalation.fold_facts() > 0 AS folded;
SELECT count(*) AS tickets_without_facts FROM bic.tickets t
 WHERE NOT EXISTS (SELECT 1 FROM escalation.ticket_facts f
                    WHERE f.source_id = :sid AND f.ticket_key = t.id::text);

--------------------------------------------------------------------------
-- 1 MB and empty bodies
--------------------------------------------------------------------------
SELECT bic(93, 'bodies', 'a 1 MB body with the keyword at its end',
  $$INSERT INTO bic.tickets (status, subject, body)
    VALUES ('open', 'big', repeat('lorem ipsum ', 87382) || 'outage')$$);
SELECT bic(94, 'bodies', 'a 1 MB subject of one word',
  $$INSERT INTO bic.tickets (status, subject, body) VALUES ('open', repeat('x', 1048576), 'fine')$$);
SELECT bic(95, 'bodies', 'an empty subject and body',
  $$INSERT INTO bic.tickets (status, subject, body) VALUES ('open', '', '')$$);
SELECT bic(96, 'bodies', 'a 1 MB customer message ending in the keyword',
  $$INSERT INTO bic.messages (ticket_id, author, body)
    VALUES ((SELECT id FROM bic.tickets WHERE subject = ''), 'c', repeat('lorem ipsum ', 87382) || 'outage')$$);
SELECT bic(97, 'bodies', 'an empty customer message',
  $$INSERT INTO bic.messages (ticket_id, author, body) VALUES ((SELECT id FROM bic.tickets WHERE subject = ''), 'c', '')$$);
SELECT bic(98, 'bodies', 'a body of control characters, emoji and combining marks',
  $$INSERT INTO bic.tickets (status, body) VALUES ('open', E'\x01\x02\t\r\n😡 ou\u0301tage\x7f')$$);
SELECT left(e.context->'ticket'->>'subject', 10) AS subject, e.target_team,
       jsonb_path_query_array(e.reasons, '$[*].on') AS "on"
  FROM escalation.escalations e
 WHERE e.source_id = :sid AND e.ticket_key IN (SELECT id::text FROM bic.tickets WHERE subject IN ('big', ''))
 ORDER BY e.escalation_id;

--------------------------------------------------------------------------
-- Non-owner attach
--------------------------------------------------------------------------
SELECT bic(99, 'non-owner', 'an administrator attaching a table it does not own',
  $$SELECT escalation.attach('bic.spare', key => 'id')$$, 'regress_bic_admin');
SELECT bic(100, 'non-owner', 'a role without escalation_admin attaching',
  $$SELECT escalation.attach('bic.admin_tickets', key => 'id')$$, 'regress_bic_plain');
SELECT bic(101, 'non-owner', 'an administrator attaching its table with a messages table it does not own',
  $$SELECT escalation.attach('bic.admin_tickets', key => 'id', messages => 'bic.spare_messages',
        message_ticket => 'ref', message_body => 'body')$$, 'regress_bic_admin');
SELECT bic(102, 'non-owner', 'an administrator detaching a table it does not own',
  $$SELECT escalation.detach('bic.tickets')$$, 'regress_bic_admin');
SELECT bic(103, 'non-owner', 'an administrator mapping a CSAT table it does not own',
  $$SELECT escalation.attach_csat('bic.ratings', 'bic.tickets', ticket => 'ticket', score => 'stars')$$,
  'regress_bic_admin');
SELECT bic(104, 'non-owner', 'an administrator using a lookup table it cannot read',
  $$SELECT escalation.attach('bic.admin_tickets', key => 'id', status => 'body',
        lookups => '{"status": [{"table": "bic.secret_states", "key": "code", "value": "name"}]}')$$,
  'regress_bic_admin');

SELECT bic(105, 'non-owner', 'an administrator writing a source row for a table it does not own (not through attach())',
  $$INSERT INTO escalation.sources (name, ticket_table, mapping)
    VALUES ('forged', 'bic.spare', '{"key": "id", "body": "note"}')$$, 'regress_bic_admin');
SELECT bic(106, 'non-owner', 'an administrator remapping the body of a source of a table it does not own',
  $$UPDATE escalation.sources SET mapping = mapping || '{"body": "requester"}' WHERE name = 'catalogue'$$,
  'regress_bic_admin');
SELECT bic(107, 'non-owner', 'an administrator scheduling retraining on a table it cannot read',
  $$INSERT INTO escalation.triage_schedules (source_id, every)
    SELECT source_id, '1 day' FROM escalation.sources WHERE name = 'catalogue'$$, 'regress_bic_admin');

--------------------------------------------------------------------------
-- Rules referring to dropped teams (and skills)
--------------------------------------------------------------------------
INSERT INTO escalation.teams (name) VALUES ('bic doomed'), ('bic ladder');
INSERT INTO escalation.sla_ladder (policy_id, metric, level, target_team)
VALUES (:tp, 'age', 1, 'bic ladder');
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('bic: doomed', :sid, '{doom}', 'bic doomed');
SELECT bic(108, 'dropped team', 'a rule to a team that does not exist',
  $$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('bic: ghost', '{ghost}', 'bic ghost')$$);
SELECT bic(109, 'dropped team', 'deleting a team a rule targets',
  $$DELETE FROM escalation.teams WHERE name = 'bic doomed'$$);
SELECT bic(110, 'dropped team', 'deleting a team an SLA ladder targets',
  $$DELETE FROM escalation.teams WHERE name = 'bic ladder'$$);
SELECT bic(111, 'dropped team', 'deleting a team agents belong to',
  $$DELETE FROM escalation.teams WHERE name = 'billing'$$);
SELECT bic(112, 'dropped team', 'TRUNCATE of the teams',
  $$TRUNCATE escalation.teams$$);
SELECT bic(113, 'dropped team', 'renaming a team a rule targets (the rule follows)',
  $$UPDATE escalation.teams SET name = 'bic renamed' WHERE name = 'bic doomed'$$);
SELECT name, target_team FROM escalation.rules WHERE name = 'bic: doomed';
SELECT bic(114, 'dropped team', 'a rule to a skill that does not exist',
  $$INSERT INTO escalation.rules (name, keywords, target_skills) VALUES ('bic: ghost', '{ghost}', '{ghost skill}')$$);
INSERT INTO escalation.skills (name) VALUES ('bic skill');
INSERT INTO escalation.rules (name, source_id, keywords, target_skills)
VALUES ('bic: skilled', :sid, '{skill}', '{bic skill}');
SELECT bic(115, 'dropped team', 'deleting a skill a rule targets',
  $$DELETE FROM escalation.skills WHERE name = 'bic skill'$$);
SELECT bic(116, 'dropped team', 'escalating by hand to a team that does not exist',
  $$SELECT escalation.escalate('bic.tickets', '900001', target_team => 'bic ghost')$$);
-- a team only open escalations name can go: routing sends them on
SELECT escalation.escalate('bic.tickets', '900002', target_team => 'bic renamed', as_of => '2024-05-06 10:00+00') AS orphan \gset
DELETE FROM escalation.rules WHERE name = 'bic: doomed';
SELECT bic(117, 'dropped team', 'deleting a team only an open escalation targets',
  $$DELETE FROM escalation.teams WHERE name = 'bic renamed'$$);
SELECT status, target_team FROM escalation.escalations WHERE escalation_id = :orphan;
SELECT count(*) > 0 AS explained FROM escalation.explain_route(:orphan, '2024-05-06 11:00+00');

--------------------------------------------------------------------------
-- Unknown time zones
--------------------------------------------------------------------------
SELECT bic(118, 'time zone', 'attach with an unknown time zone',
  $$SELECT escalation.attach('bic.spare', key => 'id', time_zone => 'Mars/Olympus_Mons')$$);
SELECT bic(119, 'time zone', 'attach with an empty time zone',
  $$SELECT escalation.attach('bic.spare', key => 'id', time_zone => '')$$);
SELECT bic(120, 'time zone', 'an agent in an unknown time zone',
  $$INSERT INTO escalation.agents (agent_id, time_zone) VALUES ('bic-tz', 'Mars/Olympus_Mons')$$);
SELECT bic(121, 'time zone', 'a calendar in an unknown time zone',
  $$INSERT INTO escalation.calendars (name, time_zone) VALUES ('bic mars', 'Mars/Olympus_Mons')$$);
SELECT bic(122, 'time zone', 'a calendar in a zone abbreviation without daylight saving rules (PST)',
  $$INSERT INTO escalation.calendars (name, time_zone) VALUES ('bic pst', 'PST')$$);
SELECT bic(123, 'time zone', 'business time on a calendar that does not exist',
  $$SELECT escalation.business_add('bic nowhere', '2024-05-06 10:00+00', '1 hour')$$);

--------------------------------------------------------------------------
-- DST-gap times
--------------------------------------------------------------------------
INSERT INTO escalation.calendars (name, time_zone) VALUES ('bic dst', 'Europe/Berlin');
SELECT bic(124, 'DST', 'a working period starting inside the spring-forward gap (Sunday 02:30-04:00, Berlin)',
  $$INSERT INTO escalation.calendar_hours
    SELECT calendar_id, 0, '02:30', '04:00' FROM escalation.calendars WHERE name = 'bic dst'$$);
SET TimeZone = 'Europe/Berlin';
SELECT * FROM escalation.business_periods('bic dst', '2024-03-31 00:00', '2024-04-01 00:00');
SELECT escalation.business_time('bic dst', '2024-03-31 00:00', '2024-04-01 00:00') AS gap_day,
       escalation.business_time('bic dst', '2024-10-27 00:00', '2024-10-28 00:00') AS fall_back_day;
SET TimeZone = 'UTC';
CREATE TABLE bic.berlin (id integer PRIMARY KEY, body text, opened timestamp);
SELECT escalation.attach('bic.berlin', key => 'id', body => 'body', created_at => 'opened',
           time_zone => 'Europe/Berlin') AS berlin \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('bic: berlin outage', :berlin, '{outage}', 'tier2');
SELECT bic(125, 'DST', 'a naive ticket time inside the spring-forward gap (2024-03-31 02:30, Berlin)',
  $$INSERT INTO bic.berlin VALUES (1, 'an outage', '2024-03-31 02:30')$$);
SELECT bic(126, 'DST', 'a naive ticket time inside the fall-back overlap (2024-10-27 02:30, Berlin)',
  $$INSERT INTO bic.berlin VALUES (2, 'an outage', '2024-10-27 02:30')$$);
SELECT ticket_key, created_at FROM escalation.escalations WHERE source_id = :berlin ORDER BY ticket_key;

--------------------------------------------------------------------------
-- Times out of range
--------------------------------------------------------------------------
SELECT bic(127, 'time range', 'a ticket created at infinity',
  $$INSERT INTO bic.tickets (status, subject, body, created_at) VALUES ('open', 'at infinity', 'an outage', 'infinity')$$);
SELECT bic(128, 'time range', 'a ticket created at -infinity',
  $$INSERT INTO bic.tickets (status, subject, body, created_at) VALUES ('open', 'at -infinity', 'an outage', '-infinity')$$);
SELECT bic(129, 'time range', 'a solved ticket resolved at infinity',
  $$INSERT INTO bic.tickets (status, subject, body, created_at, resolved_at)
    VALUES ('solved', 'resolved at infinity', 'fine', now(), 'infinity')$$);
SELECT bic(130, 'time range', 'a ticket created in the year 20000',
  $$INSERT INTO bic.tickets (status, subject, body, created_at) VALUES ('open', 'year 20000', 'an outage', '20000-01-01 00:00+00')$$);
SELECT bic(131, 'time range', 'a customer message written at infinity',
  $$INSERT INTO bic.messages (ticket_id, author, body, created_at)
    VALUES ((SELECT id FROM bic.tickets WHERE subject = 'at infinity'), 'c', 'another outage', 'infinity')$$);
SELECT bic(132, 'time range', 'an UPDATE of a ticket to updated_at = -infinity',
  $$UPDATE bic.tickets SET status = 'pending', updated_at = '-infinity' WHERE subject = 'at infinity'$$);
-- ticket times out of range are no times: the row is judged at the
-- transaction's time, which is after 2024 (and the worker folds its facts)
SELECT escalation.fold_facts() > 0 AS folded;
SELECT t.subject, e.created_at > '2025-01-01' AS judged_now, f.created_at > '2025-01-01' AS facts_now
  FROM bic.tickets t
  JOIN escalation.escalations e ON e.source_id = :sid AND e.ticket_key = t.id::text AND e.level = 1
  JOIN escalation.ticket_facts f ON f.source_id = :sid AND f.ticket_key = t.id::text
 WHERE t.subject IN ('at infinity', 'at -infinity', 'year 20000')
 ORDER BY t.subject;
SELECT bic(133, 'time range', 'business time from -infinity',
  $$SELECT escalation.business_time(NULL, '-infinity', '2024-05-06 10:00+00')$$);
SELECT bic(134, 'time range', 'business time in months',
  $$SELECT escalation.business_add(NULL, '2024-05-06 10:00+00', '1 mon')$$);
SELECT bic(135, 'time range', 'negative business time to add',
  $$SELECT escalation.business_add(NULL, '2024-05-06 10:00+00', '-1 hour')$$);

--------------------------------------------------------------------------
-- Sources, tenants, hand escalations
--------------------------------------------------------------------------
SELECT bic(136, 'source', 'a source name already taken',
  $$SELECT escalation.attach('bic.spare', key => 'id', name => 'catalogue')$$);
CREATE TABLE bic.dropped (id integer PRIMARY KEY, body text);
SELECT escalation.attach('bic.dropped', key => 'id', body => 'body') AS dropped_sid \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('bic: dropped outage', :dropped_sid, '{outage}', 'tier2');
DROP TABLE bic.dropped;
SELECT attached, (SELECT enabled FROM escalation.rules WHERE name = 'bic: dropped outage') AS rule_enabled
  FROM escalation.sources WHERE source_id = :dropped_sid;
CREATE TABLE bic.dropped (id integer PRIMARY KEY, body text);
SELECT bic(137, 'source', 'attaching a table dropped and created again under its name',
  $$SELECT escalation.attach('bic.dropped', key => 'id', body => 'body')$$);
SELECT bic(138, 'source', 'a tenant role that does not exist',
  format($$INSERT INTO escalation.metric_sources (source_id, tenant_role) VALUES (%s, 'regress_bic_nobody')$$, :sid));
CREATE ROLE regress_bic_tenant;
INSERT INTO escalation.metric_sources (source_id, tenant_role) VALUES (:sid, 'regress_bic_tenant');
SELECT bic(139, 'source', 'dropping a tenant role metric_sources names',
  $$DROP ROLE regress_bic_tenant$$);
-- the metric views work on, and the source is hidden from analysts
SELECT escalation.fold_facts() >= 0 AS folded;
SET ROLE regress_bic_admin;
SELECT count(*) FILTER (WHERE source_id = :sid) AS tenant_rows, count(*) > 0 AS other_rows
  FROM escalation.escalation_rates;
RESET ROLE;
DELETE FROM escalation.metric_sources WHERE source_id = :sid;
SELECT bic(140, 'hand escalation', 'a severity of 0',
  $$SELECT escalation.escalate('bic.tickets', '900001', target_team => 'tier2', severity => 0)$$);
SELECT bic(141, 'hand escalation', 'a ticket key that is not a key of an integer table',
  $$SELECT escalation.escalate('bic.tickets', 'one', target_team => 'tier2')$$);
SELECT bic(142, 'hand escalation', 'explain() of a table that is not attached',
  $$SELECT * FROM escalation.explain('bic.spare', '1')$$);
SELECT bic(143, 'hand escalation', 'accepting an escalation that does not exist',
  $$SELECT escalation.accept(-1, 'alice')$$);

SELECT bic(144, 'source', 'configuration changed eight times between helpdesk writes of one transaction',
  $q$DO $do$
    BEGIN
        FOR i IN 1..8 LOOP
            INSERT INTO escalation.teams (name) VALUES ('bic churn ' || i);
            INSERT INTO bic.tickets (status, subject, body) VALUES ('open', 'churn ' || i, 'an outage');
            UPDATE escalation.accounts SET tier = tier WHERE account_key = 'acme';
            INSERT INTO bic.tickets (status, subject, body, account) VALUES ('open', 'churn acme ' || i, 'an outage', 'acme');
        END LOOP;
        DELETE FROM escalation.teams WHERE name LIKE 'bic churn %';
    END
  $do$$q$);
SELECT count(*) AS churn_escalations FROM escalation.escalations e
  JOIN bic.tickets t ON e.source_id = :sid AND e.ticket_key = t.id::text
 WHERE t.subject LIKE 'churn %';

--------------------------------------------------------------------------
-- What the catalogue shows
--------------------------------------------------------------------------
-- no entry made a helpdesk write fail or stop escalating
SELECT count(*) AS entries,
       count(*) FILTER (WHERE sqlstate IS NOT NULL) AS refused,
       count(*) FILTER (WHERE sqlstate IS NULL) AS accepted,
       count(*) FILTER (WHERE write <> 'helpdesk write: ok, escalated') AS writes_not_ok
  FROM bic_log;
SELECT topic, count(*) AS entries FROM bic_log GROUP BY topic ORDER BY min(entry);
-- and the worker folds whatever the entries logged, without an error
SELECT escalation.fold_facts() >= 0 AS folded;
SELECT count(*) AS unfolded FROM escalation.fact_changes;
-- no entry was refused with an internal error
SELECT entry, sqlstate FROM bic_log WHERE sqlstate LIKE 'XX%' OR sqlstate = 'P0001';
-- the server is up and the catalogue's source still attached and escalating
SELECT name, attached FROM escalation.sources WHERE name = 'catalogue';

-- leave nothing running for later files: the tickets are solved (their SLA
-- clocks stop) and the open escalations cancelled
UPDATE bic.tickets SET status = 'solved';
SELECT count(*) AS cancelled
  FROM escalation.escalations e, LATERAL escalation.cancel(e.escalation_id, 'catalogue done', '2024-05-07 00:00+00')
 WHERE e.source_id IN (SELECT source_id FROM escalation.sources WHERE name IN ('catalogue', 'desk "Q"; --')
                       OR ticket_table::text IN ('bic.berlin', 'bic.nullable_key'))
   AND e.status IN ('queued', 'offered', 'accepted');
SELECT count(*) AS clocks_left FROM escalation.clocks WHERE source_id = :sid AND next_at IS NOT NULL;
-- and the SLA configuration and calendars made here go, so that later
-- files number theirs from 1
DELETE FROM escalation.sla_policies WHERE name LIKE 'bic %';
DELETE FROM escalation.calendars WHERE name LIKE 'bic %';
DELETE FROM escalation.rules WHERE name = 'bic: skilled';
DELETE FROM escalation.skills WHERE name = 'bic skill';
DELETE FROM escalation.teams WHERE name = 'bic ladder';
SELECT setval('escalation.calendars_calendar_id_seq', 1, false)
 WHERE NOT EXISTS (SELECT 1 FROM escalation.calendars);
SELECT setval('escalation.sla_policies_policy_id_seq', 1, false)
 WHERE NOT EXISTS (SELECT 1 FROM escalation.sla_policies);

-- clean up what is cluster-wide
DROP OWNED BY regress_bic_admin, regress_bic_plain;
DROP ROLE regress_bic_admin, regress_bic_plain;
