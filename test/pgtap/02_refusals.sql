-- The main refusals, each with its SQLSTATE, and the writes that must never
-- fail.  Everything happens in one transaction that is rolled back.
\set ON_ERROR_STOP true
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS escalation;
RESET client_min_messages;

BEGIN;
SELECT plan(58);
SET LOCAL client_min_messages = warning;
SET LOCAL TimeZone = 'UTC';

CREATE SCHEMA tap_hd;
CREATE TABLE tap_hd.tickets (
    id         integer PRIMARY KEY,
    status     text,
    subject    text,
    body       text,
    amount     numeric,
    n          integer,
    created_at timestamptz
);
CREATE TABLE tap_hd.messages (id serial PRIMARY KEY, ticket_id integer, author text, body text);
CREATE TABLE tap_hd.no_key (id integer, body text);
CREATE VIEW tap_hd.v AS SELECT * FROM tap_hd.tickets;
INSERT INTO escalation.teams (name) VALUES ('tap security'), ('tap doomed') ON CONFLICT DO NOTHING;

-- attach
SELECT throws_ok($$SELECT escalation.attach('tap_hd.tickets', key => 'nope')$$,
    '42703', 'column "nope" of relation tap_hd.tickets does not exist', 'attach: missing column');
SELECT throws_ok($$SELECT escalation.attach('tap_hd.tickets', key => 'id', body => 'n')$$,
    '42804', 'column "n" of relation tap_hd.tickets has type integer, which cannot serve as the body column',
    'attach: incompatible type');
SELECT throws_ok($$SELECT escalation.attach('tap_hd.no_key', key => 'id')$$,
    '42P16', 'table tap_hd.no_key has no unique key on column "id"', 'attach: no key');
SELECT throws_ok($$SELECT escalation.attach('tap_hd.v', key => 'id')$$,
    '42809', 'tap_hd.v is not a table', 'attach: a view');
SELECT throws_ok($$SELECT escalation.attach('tap_hd.tickets', key => 'id', status => 'status',
                      status_map => '{"open": ["new"], "closed": ["done"]}')$$,
    '22023', '"closed" is not a status meaning', 'attach: bad status meaning');
SELECT throws_ok($$SELECT escalation.attach('tap_hd.tickets', key => 'id', message_body => 'body')$$,
    '22023', 'message columns given without a messages table', 'attach: message columns without messages');
SELECT throws_ok($$SELECT escalation.attach('tap_hd.tickets', key => 'id', time_zone => 'Nowhere/Nothing')$$,
    '22023', 'time zone "Nowhere/Nothing" is not known', 'attach: unknown time zone');
SELECT throws_ok($$SELECT escalation.attach('tap_hd.tickets', key => 'id', messages => 'tap_hd.messages',
                      message_ticket => 'author', message_body => 'body')$$,
    '42804', NULL, 'attach: a message reference that cannot hold a ticket key');
SELECT throws_ok($$SELECT escalation.detach('tap_hd.tickets')$$,
    '42704', 'table tap_hd.tickets is not attached', 'detach: not attached');

SELECT lives_ok($$SELECT escalation.attach('tap_hd.tickets', key => 'id', status => 'status',
                     status_map => '{"open": ["open"], "solved": ["solved"]}',
                     subject => 'subject', body => 'body', created_at => 'created_at',
                     fields => '{"amount": "amount"}', messages => 'tap_hd.messages',
                     message_ticket => 'ticket_id', message_body => 'body', message_author => 'author',
                     name => 'tap refusals')$$,
    'attach: a valid mapping');
SELECT throws_ok($$SELECT escalation.attach('tap_hd.tickets', key => 'id')$$,
    '42710', 'table tap_hd.tickets is already attached as source "tap refusals"', 'attach: twice');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid IN ('tap_hd.tickets'::regclass, 'tap_hd.messages'::regclass)
            AND NOT tgisinternal), 2, 'attach installed the ticket and message triggers');

SELECT source_id AS sid FROM escalation.sources WHERE name = 'tap refusals' AND attached \gset

-- rules
SELECT throws_ok(format($$INSERT INTO escalation.rules (name, source_id, pattern, target_team)
                          VALUES ('tap bad', %s, '(unclosed', 'tap security')$$, :sid),
    '2201B', NULL, 'rule: invalid regular expression');
SELECT throws_ok(format($$INSERT INTO escalation.rules (name, source_id, keywords, target_team)
                          VALUES ('tap bad', %s, '{"the of and"}', 'tap security')$$, :sid),
    '22023', NULL, 'rule: keyword of stop words only');
SELECT throws_ok(format($$INSERT INTO escalation.rules (name, source_id, field, field_op, field_value, target_team)
                          VALUES ('tap bad', %s, 'amount', '>', 'lots', 'tap security')$$, :sid),
    '22023', 'rule "tap bad" compares field "amount" with "lots", which is not a number',
    'rule: non-numeric threshold with >');
SELECT throws_ok(format($$INSERT INTO escalation.rules (name, source_id, field, field_op, field_value, target_team)
                          VALUES ('tap bad', %s, 'region', '=', 'EU', 'tap security')$$, :sid),
    '42703', 'field "region" of rule "tap bad" is not mapped by any source it applies to', 'rule: unmapped field');
SELECT throws_ok($$INSERT INTO escalation.rules (name, keywords) VALUES ('tap bad', '{breach}')$$,
    '23514', NULL, 'rule: no target');
SELECT throws_ok($$INSERT INTO escalation.rules (name, target_team) VALUES ('tap bad', 'tap security')$$,
    '23514', NULL, 'rule: no condition');
SELECT throws_ok($$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('tap bad', '{}', 'tap security')$$,
    '23514', NULL, 'rule: empty keyword array');
SELECT throws_ok($$INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('tap bad', '{breach}', 'tap nobody')$$,
    '23503', NULL, 'rule: unknown team');
SELECT is((SELECT count(*)::int FROM escalation.rules WHERE name = 'tap bad'), 0, 'no refused rule was stored');

INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('tap breach', :sid, '{breach}', 'tap security'),
       ('tap doomed', :sid, '{doom}', 'tap doomed');
SELECT throws_ok($$DELETE FROM escalation.teams WHERE name = 'tap doomed'$$,
    '23503', NULL, 'a team a rule names cannot be deleted');
SELECT throws_ok($$INSERT INTO escalation.agents (agent_id, capacity) VALUES ('tap neg', -1)$$,
    '23514', NULL, 'agent: negative capacity');
SELECT throws_ok($$INSERT INTO escalation.agents (agent_id, time_zone) VALUES ('tap tz', 'Nowhere/Nothing')$$,
    '23514', NULL, 'agent: unknown time zone');

-- the record's own CHECK constraints (C functions) refuse what they list
SELECT lives_ok($$INSERT INTO escalation.escalations (source_id, ticket_key, kind, origin, target_team, reasons)
                  VALUES (0, 'tap ok', 'functional', 'manual', 'tap security', '[]')$$,
    'escalation: a valid row');
SELECT throws_ok($$INSERT INTO escalation.escalations (source_id, ticket_key, kind, origin, target_team, status)
                   VALUES (0, 'tap x', 'functional', 'manual', 'tap security', 'lost')$$,
    '23514', NULL, 'escalation: unknown status');
SELECT throws_ok($$INSERT INTO escalation.escalations (source_id, ticket_key, kind, origin, target_team, severity)
                   VALUES (0, 'tap x', 'functional', 'manual', 'tap security', 5)$$,
    '23514', NULL, 'escalation: severity out of range');
SELECT throws_ok($$INSERT INTO escalation.escalations (source_id, ticket_key, kind, origin, target_team)
                   VALUES (0, 'tap x', 'sideways', 'manual', 'tap security')$$,
    '23514', NULL, 'escalation: unknown kind');
SELECT throws_ok($$INSERT INTO escalation.escalations (source_id, ticket_key, kind, origin, target_team, reasons)
                   VALUES (0, 'tap x', 'functional', 'manual', 'tap security', '{}')$$,
    '23514', NULL, 'escalation: reasons not an array');
SELECT throws_ok($$INSERT INTO escalation.events (escalation_id, source_id, ticket_key, event, to_status, at)
                   VALUES (0, 0, 'tap x', 'vanished', 'queued', now())$$,
    '23514', NULL, 'event: unknown event');
SELECT is((SELECT count(*)::int FROM escalation.events e JOIN escalation.escalations x USING (escalation_id)
            WHERE x.ticket_key = 'tap ok' AND e.event = 'created'), 1,
    'an escalation inserted by hand gets its created event from the journey trigger');

-- the helpdesk's writes
SELECT lives_ok($$INSERT INTO tap_hd.tickets (id) VALUES (1)$$, 'an all-NULL row is written');
SELECT lives_ok($$INSERT INTO tap_hd.tickets (id, status, body, created_at)
                  VALUES (2, 'open', repeat('lorem ipsum ', 87382) || 'breach', '2024-06-01 09:00+00')$$,
    'a 1 MB body is written');
SELECT lives_ok($$INSERT INTO tap_hd.messages (ticket_id, author, body) VALUES (404, 'customer', 'breach')$$,
    'a message for an unknown ticket is written');
SELECT is((SELECT count(*)::int FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '2'), 1,
    'the 1 MB ticket escalated');
SELECT lives_ok($$INSERT INTO tap_hd.tickets (id, status, body) VALUES (3, 'solved', 'breach')$$,
    'a solved ticket is written');
SELECT is((SELECT count(*)::int FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '3'), 0,
    'and not escalated');

-- transitions
SELECT throws_ok($$SELECT escalation.escalate('tap_hd.tickets', '1')$$,
    '22023', 'an escalation needs a target team, skills or tier', 'escalate: no target');
SELECT throws_ok($$SELECT escalation.escalate('tap_hd.tickets', '404', target_team => 'tap security')$$,
    'P0002', 'ticket 404 does not exist in tap_hd.tickets', 'escalate: unknown ticket');
SELECT throws_ok($$SELECT escalation.escalate('tap_hd.tickets', '2', target_team => 'tap security')$$,
    '23505', 'ticket 2 already has an open escalation at level 1 for this target', 'escalate: already open');
SELECT throws_ok($$SELECT escalation.escalate('tap_hd.tickets', '1', target_team => 'tap security', severity => 9)$$,
    '22023', 'severity must be between 1 and 4, not 9', 'escalate: bad severity');
SELECT escalation_id AS eid FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '2' \gset
SELECT throws_ok(format($$SELECT escalation.accept(%s, 'tap nobody')$$, :eid),
    '23503', 'agent "tap nobody" does not exist', 'accept: unknown agent');
SELECT throws_ok(format($$SELECT escalation.cancel(%s, '')$$, :eid),
    '22023', 'cancelling an escalation needs a reason', 'cancel: no reason');
SELECT lives_ok(format($$SELECT escalation.resolve(%s, 'done')$$, :eid), 'resolve an open escalation');
SELECT throws_ok(format($$SELECT escalation.resolve(%s)$$, :eid),
    '55000', format('escalation %s is resolved; it cannot become resolved', :eid), 'resolve: twice');
SELECT throws_ok(format($$UPDATE escalation.escalations SET status = 'queued' WHERE escalation_id = %s$$, :eid),
    '55000', format('escalation %s cannot go from "resolved" to "queued"', :eid), 'a final state is final');
SELECT throws_ok($$SELECT escalation.resolve(-1)$$,
    'P0002', 'escalation -1 does not exist', 'resolve: unknown escalation');

-- explain
SELECT throws_ok($$SELECT * FROM escalation.explain('tap_hd.tickets', '404')$$,
    'P0002', 'ticket "404" does not exist in tap_hd.tickets', 'explain: unknown ticket');
SELECT throws_ok($$SELECT * FROM escalation.explain('tap_hd.no_key', '1')$$,
    '42704', 'table no_key is not attached', 'explain: table not attached');
SELECT results_eq(
    $$SELECT rule, fires FROM escalation.explain('tap_hd.tickets', '2') ORDER BY rule$$,
    $$VALUES ('tap breach', true), ('tap doomed', false)$$,
    'explain: which rules fire');
SELECT is((SELECT count(*)::int FROM escalation.escalations WHERE source_id = :sid), 2,
    'explain wrote nothing (the 1 MB ticket and the unknown ticket''s message)');

-- calendars
INSERT INTO escalation.calendars (name, time_zone) VALUES ('tap office', 'Europe/Berlin'), ('tap never', 'UTC');
INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
SELECT calendar_id, 1, '22:00', '06:00' FROM escalation.calendars WHERE name = 'tap office';
SELECT throws_ok($$INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
                   SELECT calendar_id, 2, '05:00', '09:00' FROM escalation.calendars WHERE name = 'tap office'$$,
    '23P01', 'working period Tuesday 05:00-09:00 of calendar "tap office" overlaps Monday 22:00-06:00',
    'calendar: a period overlapping last night''s');
SELECT throws_ok($$INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
                   SELECT calendar_id, 3, '09:00', '09:00' FROM escalation.calendars WHERE name = 'tap office'$$,
    '22023', 'working period Wednesday 09:00-09:00 is empty', 'calendar: an empty period');
SELECT throws_ok($$SELECT escalation.business_add('tap nowhere', now(), '1 hour')$$,
    '42704', 'calendar "tap nowhere" does not exist', 'business_add: unknown calendar');
SELECT throws_ok($$SELECT escalation.business_time('tap never', now(), now() + interval '1 day')$$,
    '55000', 'calendar "tap never" has no working hours', 'business_time: a calendar that never works');
SELECT throws_ok($$SELECT escalation.business_add('tap office', now(), '-1 hour')$$,
    '22023', 'business time to add cannot be negative', 'business_add: negative duration');
SELECT throws_ok($$SELECT escalation.business_add('tap office', now(), '1 month')$$,
    '22023', 'business time cannot be given in months or years', 'business_add: months');
SELECT is(escalation.business_time('tap office', '2024-06-03 00:00+02', '2024-06-04 00:00+02'), '02:00:00'::interval,
    'business_time: Monday 22:00 to midnight');

SELECT * FROM finish();
ROLLBACK;
