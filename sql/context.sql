--
-- context: the snapshot an escalation carries for the agent who receives
-- it (ticket fields, recent messages, account, the requester's other
-- tickets), its size limits, and the escalation.context_messages /
-- escalation.context_tickets settings.  The requester's tickets are read
-- in the writer's transaction here (escalation.defer_requester_tickets
-- off) until the last part, which shows them left to the worker.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET escalation.defer_requester_tickets = off;

CREATE SCHEMA ctx_hd;
CREATE TABLE ctx_hd.tickets (
    id         integer PRIMARY KEY,
    status     text NOT NULL DEFAULT 'open',
    priority   text,
    channel    text,
    subject    text,
    body       text,
    requester  text,
    account    text,
    assignee   text,
    team       text,
    product    text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz
);
CREATE TABLE ctx_hd.messages (
    id         serial PRIMARY KEY,
    ticket_id  integer NOT NULL REFERENCES ctx_hd.tickets (id),
    author     text NOT NULL,
    private    boolean NOT NULL DEFAULT false,
    body       text,
    created_at timestamptz NOT NULL
);
SELECT escalation.attach('ctx_hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": ["open"], "solved": ["solved"]}',
           priority => 'priority', channel => 'channel', subject => 'subject', body => 'body',
           requester => 'requester', account => 'account', assignee => 'assignee', team => 'team',
           created_at => 'created_at', updated_at => 'updated_at', fields => '{"product": "product"}',
           messages => 'ctx_hd.messages', message_ticket => 'ticket_id', message_body => 'body',
           message_author => 'author', message_private => 'private', message_created_at => 'created_at',
           author_map => '{"customer": ["c"], "agent": ["a"]}', name => 'context') AS sid \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('context: outage', :sid, '{outage}', 'tier2');

-- ann's history: six tickets, one of them solved
INSERT INTO ctx_hd.tickets (id, status, subject, body, requester, account, created_at)
SELECT i, CASE WHEN i = 2 THEN 'solved' ELSE 'open' END, 'Question ' || i, 'body ' || i,
       'ann@initech.example', 'initech', '2024-01-01 09:00+00'::timestamptz + i * interval '1 day'
  FROM generate_series(1, 6) i;
-- someone else's ticket never shows in ann's context
INSERT INTO ctx_hd.tickets (id, subject, body, requester, created_at)
VALUES (7, 'Other', 'body 7', 'zed@example.com', '2024-01-08 09:00+00');

-- ticket 10: a conversation of seven messages, then it turns into an outage
INSERT INTO ctx_hd.tickets (id, priority, channel, subject, body, requester, account, assignee, team,
                            product, created_at)
VALUES (10, 'high', 'chat', 'VPN', 'The VPN drops', 'ann@initech.example', 'initech', 'dave', 'tier1',
        'vpn-client', '2024-01-10 09:00+00');
INSERT INTO ctx_hd.messages (ticket_id, author, private, body, created_at)
SELECT 10, CASE WHEN i % 2 = 1 THEN 'c' ELSE 'a' END, i = 6, 'message ' || i,
       '2024-01-10 09:00+00'::timestamptz + i * interval '10 minutes'
  FROM generate_series(1, 7) i;
UPDATE ctx_hd.tickets SET body = 'The VPN drops: a full outage now', updated_at = '2024-01-10 11:00+00'
 WHERE id = 10;

SELECT ticket_key, created_at, jsonb_pretty(context) AS context
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '10';

-- fewer messages and tickets, by setting
SET escalation.context_messages = 2;
SET escalation.context_tickets = 1;
INSERT INTO ctx_hd.messages (ticket_id, author, body, created_at)
VALUES (5, 'c', 'hello', '2024-01-11 09:00+00'), (5, 'a', 'hi', '2024-01-11 09:05+00'),
       (5, 'c', 'anything?', '2024-01-11 09:10+00');
UPDATE ctx_hd.tickets SET subject = 'Outage', updated_at = '2024-01-11 10:00+00' WHERE id = 5;
SELECT jsonb_path_query_array(context, '$.messages[*].body') AS messages,
       jsonb_path_query_array(context, '$.requester_tickets[*].key') AS requester_tickets
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '5';

-- none at all
SET escalation.context_messages = 0;
SET escalation.context_tickets = 0;
UPDATE ctx_hd.tickets SET subject = 'Outage', updated_at = '2024-01-11 10:00+00' WHERE id = 4;
SELECT context->'messages' AS messages, context->'requester_tickets' AS requester_tickets
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '4';
RESET escalation.context_messages;
RESET escalation.context_tickets;

-- the settings' limits
SELECT regress_error($$SET escalation.context_messages = 101$$);
SELECT regress_error($$SET escalation.context_tickets = -1$$);
SELECT name, setting, min_val, max_val, context FROM pg_settings
 WHERE name IN ('escalation.context_messages', 'escalation.context_tickets') ORDER BY name;

-- long texts are cut: the ticket's text to 1000 bytes, at a character
-- boundary; each message to 1000 characters
INSERT INTO ctx_hd.tickets (id, subject, body, requester, created_at)
VALUES (20, 'VPN', repeat('ü', 3000), 'ann@initech.example', '2024-01-20 09:00+00');
INSERT INTO ctx_hd.messages (ticket_id, author, body, created_at)
VALUES (20, 'c', repeat('é', 3000), '2024-01-20 09:30+00');
UPDATE ctx_hd.tickets SET body = body || ' outage', updated_at = '2024-01-20 10:00+00' WHERE id = 20;
SELECT length(context->'ticket'->>'text') AS text_chars,
       octet_length(context->'ticket'->>'text') AS text_bytes,
       length(context->'messages'->0->>'body') AS message_chars,
       octet_length(context->'messages'->0->>'body') AS message_bytes
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '20';

-- a source without messages or requester: ticket and account only
CREATE TABLE ctx_hd.plain (id text PRIMARY KEY, body text, account text);
SELECT escalation.attach('ctx_hd.plain', key => 'id', body => 'body', account => 'account') AS plain \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('context: plain outage', :plain, '{outage}', 'tier2');
INSERT INTO ctx_hd.plain VALUES ('P-1', 'outage', 'acme'), ('P-2', 'outage', 'no such account');
SELECT ticket_key, context FROM escalation.escalations WHERE source_id = :plain ORDER BY ticket_key;

-- escalation.ticket_context(): the same snapshot, on demand
SELECT jsonb_path_query_array(escalation.ticket_context(:sid, '6'), '$.requester_tickets[*].key') AS others,
       escalation.ticket_context(:sid, '6')->'ticket'->>'subject' AS subject;
SELECT escalation.ticket_context(:sid, '999') IS NULL AS unknown_ticket_is_null;
SELECT regress_error(format($$SELECT escalation.ticket_context(%s, 'not a number')$$, :sid)) AS not_a_key;
SELECT escalation.ticket_context(:sid, NULL) IS NULL AS null_key_is_null;
SELECT regress_error($$SELECT escalation.ticket_context(-1, '1')$$) AS unknown_source;

-- a new ticket's conversation: unqueried when the messages table's foreign
-- key guarantees there is none yet; queried when the key is deferrable (a
-- message may then be written before its ticket, in the same transaction)
CREATE TABLE ctx_hd.dtickets (id integer PRIMARY KEY, body text, requester text);
CREATE TABLE ctx_hd.dmessages (
    id        serial PRIMARY KEY,
    ticket_id integer NOT NULL REFERENCES ctx_hd.dtickets (id) DEFERRABLE INITIALLY DEFERRED,
    body      text
);
SELECT escalation.attach('ctx_hd.dtickets', key => 'id', body => 'body', requester => 'requester',
           messages => 'ctx_hd.dmessages', message_ticket => 'ticket_id', message_body => 'body') AS dsid \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('context: deferred outage', :dsid, '{outage}', 'tier2');
BEGIN;
INSERT INTO ctx_hd.dmessages (ticket_id, body) VALUES (1, 'written before its ticket');
INSERT INTO ctx_hd.dtickets VALUES (1, 'outage', 'bo@example.com');
COMMIT;
SELECT jsonb_path_query_array(context, '$.messages[*].body') AS messages
  FROM escalation.escalations WHERE source_id = :dsid AND ticket_key = '1';
-- the same tables with a key that is not deferrable: a new ticket's
-- conversation is empty without a query
ALTER TABLE ctx_hd.dmessages ALTER CONSTRAINT dmessages_ticket_id_fkey NOT DEFERRABLE;
INSERT INTO ctx_hd.dtickets VALUES (2, 'outage', 'bo@example.com');
SELECT context->'messages' AS messages, jsonb_path_query_array(context, '$.requester_tickets[*].key') AS others
  FROM escalation.escalations WHERE source_id = :dsid AND ticket_key = '2';

-- A new ticket's requester tickets are read through an index led by the
-- requester column (escalation.context_probe) when the snapshot needs no
-- conversation: the same snapshot as the query's.  Each case writes the
-- same ticket four times, probe on and off, in the writer's transaction
-- and deferred to escalation.complete_contexts(), rolling back in between.
CREATE TABLE ctx_hd.snap (probe boolean, deferred boolean, context jsonb);
CREATE FUNCTION pg_temp.both_ways(tbl text, ins text, key text) RETURNS TABLE (same boolean, tickets jsonb)
LANGUAGE plpgsql AS $f$
DECLARE
    src integer := (SELECT source_id FROM escalation.sources WHERE ticket_table = tbl::regclass AND attached);
    probe boolean;
    deferred boolean;
    ctx jsonb;
BEGIN
    DELETE FROM ctx_hd.snap;
    FOREACH probe IN ARRAY ARRAY[true, false] LOOP
        FOREACH deferred IN ARRAY ARRAY[false, true] LOOP
            BEGIN
                PERFORM set_config('escalation.context_probe', probe::text, true);
                PERFORM set_config('escalation.defer_requester_tickets', deferred::text, true);
                EXECUTE ins;
                IF deferred THEN
                    IF (SELECT e.context ? 'requester_tickets' FROM escalation.escalations e
                         WHERE e.source_id = src AND e.ticket_key = key) THEN
                        RAISE EXCEPTION 'deferred, yet the requester''s tickets are there';
                    END IF;
                    PERFORM escalation.complete_contexts();
                END IF;
                ctx := (SELECT e.context FROM escalation.escalations e
                         WHERE e.source_id = src AND e.ticket_key = key);
                RAISE EXCEPTION 'roll back';
            EXCEPTION WHEN raise_exception THEN
                IF SQLERRM <> 'roll back' THEN
                    RAISE;
                END IF;
                INSERT INTO ctx_hd.snap VALUES (probe, deferred, ctx);
            END;
        END LOOP;
    END LOOP;
    RETURN QUERY SELECT (SELECT count(DISTINCT s.context) = 1 AND count(s.context) = 4 FROM ctx_hd.snap s),
                        (SELECT s.context->'requester_tickets' FROM ctx_hd.snap s WHERE s.probe AND NOT s.deferred);
END
$f$;
-- requester and creation time: newest first from the index
CREATE INDEX ctx_tickets_requester ON ctx_hd.tickets (requester, created_at);
SELECT same, jsonb_path_query_array(tickets, '$[*].key') AS keys FROM pg_temp.both_ways('ctx_hd.tickets',
    $$INSERT INTO ctx_hd.tickets (id, subject, body, requester, created_at)
      VALUES (40, 'Outage', 'outage', 'ann@initech.example', '2024-02-01 09:00+00')$$, '40');
-- requester only: all of the requester's tickets read, then sorted
DROP INDEX ctx_hd.ctx_tickets_requester;
CREATE INDEX ctx_tickets_requester ON ctx_hd.tickets (requester);
SET escalation.context_tickets = 3;
SELECT same, jsonb_path_query_array(tickets, '$[*].key') AS keys FROM pg_temp.both_ways('ctx_hd.tickets',
    $$INSERT INTO ctx_hd.tickets (id, subject, body, requester, created_at)
      VALUES (40, 'Outage', 'outage', 'ann@initech.example', '2024-02-01 09:00+00')$$, '40');
RESET escalation.context_tickets;
-- other column types: integer status codes, a naive timestamp, varchar, NULLs
CREATE TABLE ctx_hd.typed (
    id        bigint PRIMARY KEY,
    status    integer,
    subject   varchar(40),
    body      text,
    requester integer,
    opened    timestamp
);
CREATE INDEX ON ctx_hd.typed (requester, opened);
SELECT escalation.attach('ctx_hd.typed', key => 'id', status => 'status',
           status_map => '{"open": ["0"], "solved": ["1"]}', subject => 'subject', body => 'body',
           requester => 'requester', created_at => 'opened') AS tsid \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('context: typed outage', :tsid, '{outage}', 'tier2');
INSERT INTO ctx_hd.typed VALUES
    (1, 0, 'First', 'a', 42, '2024-03-01 09:00'), (2, 1, NULL, 'b', 42, '2024-03-02 09:00'),
    (3, NULL, 'Third', 'c', 42, NULL), (4, 0, 'Not hers', 'd', 43, '2024-03-03 09:00');
SELECT * FROM pg_temp.both_ways('ctx_hd.typed',
    $$INSERT INTO ctx_hd.typed VALUES (10, 0, 'Outage', 'outage', 42, '2024-03-04 09:00')$$, '10');

-- tenants: a requester's tickets of another tenant are not in the snapshot
-- (the same person may be a customer of two tenants), whichever way read
CREATE TABLE ctx_hd.tenanted (
    id         integer PRIMARY KEY,
    subject    text,
    body       text,
    requester  text,
    tenant     text,
    created_at timestamptz NOT NULL
);
CREATE INDEX ON ctx_hd.tenanted (requester, created_at);
SELECT escalation.attach('ctx_hd.tenanted', key => 'id', subject => 'subject', body => 'body',
           requester => 'requester', tenant => 'tenant', created_at => 'created_at') AS tnsid \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('context: tenanted outage', :tnsid, '{outage}', 'tier2');
INSERT INTO ctx_hd.tenanted VALUES
    (1, 'A one', 'a', 'pat', 'acme', '2024-04-01 09:00+00'),
    (2, 'B one', 'b', 'pat', 'globex', '2024-04-02 09:00+00'),
    (3, 'A two', 'c', 'pat', 'acme', '2024-04-03 09:00+00'),
    (4, 'No tenant', 'd', 'pat', NULL, '2024-04-04 09:00+00');
SELECT same, jsonb_path_query_array(tickets, '$[*].key') AS keys FROM pg_temp.both_ways('ctx_hd.tenanted',
    $$INSERT INTO ctx_hd.tenanted VALUES (10, 'Outage', 'outage', 'pat', 'acme', '2024-04-05 09:00+00')$$, '10');
SELECT same, jsonb_path_query_array(tickets, '$[*].key') AS keys FROM pg_temp.both_ways('ctx_hd.tenanted',
    $$INSERT INTO ctx_hd.tenanted VALUES (11, 'Outage', 'outage', 'pat', NULL, '2024-04-05 09:00+00')$$, '11');

-- Left to the worker (escalation.defer_requester_tickets, the default): the
-- trigger writes the escalation without the requester's tickets, and
-- escalation.complete_contexts() (the worker's run_batch(), before routing)
-- adds them, as the snapshot would have read them, without a journey event
RESET escalation.defer_requester_tickets;
SHOW escalation.defer_requester_tickets;
SELECT escalation.complete_contexts() >= 0 AS drained;   -- what earlier files left waiting
INSERT INTO ctx_hd.tickets (id, subject, body, requester, created_at)
VALUES (50, 'Outage again', 'outage', 'ann@initech.example', '2024-02-02 09:00+00'),
       (51, 'Outage, no requester', 'outage', NULL, '2024-02-02 09:05+00');
SELECT ticket_key, context ? 'requester_tickets' AS has_them,
       jsonb_path_query_array(context, '$.requester_tickets[*].key') AS others
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key IN ('50', '51') ORDER BY ticket_key;
-- waiting: exactly what the partial index holds
SELECT count(*) AS waiting FROM escalation.escalations
 WHERE requester IS NOT NULL AND NOT context ? 'requester_tickets';
SELECT (SELECT count(*) FROM escalation.events v JOIN escalation.escalations e USING (escalation_id)
         WHERE e.source_id = :sid AND e.ticket_key = '50') AS events_before;
SELECT escalation.complete_contexts(batch_size => 1) AS completed;
SELECT escalation.complete_contexts() AS completed;   -- nothing left
SELECT ticket_key, jsonb_path_query_array(context, '$.requester_tickets[*].key') AS others,
       context->'requester_tickets' = escalation.ticket_context(:sid, ticket_key)->'requester_tickets' AS as_on_demand
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '50';
SELECT (SELECT count(*) FROM escalation.events v JOIN escalation.escalations e USING (escalation_id)
         WHERE e.source_id = :sid AND e.ticket_key = '50') AS events_after;
-- a customer's follow-up: the conversation read now, the requester's tickets later
INSERT INTO ctx_hd.tickets (id, subject, body, requester, created_at)
VALUES (52, 'Slow', 'the app is slow', 'ann@initech.example', '2024-02-02 09:30+00');
INSERT INTO ctx_hd.messages (ticket_id, author, body, created_at)
VALUES (52, 'c', 'this is an outage now', '2024-02-02 10:00+00');
SELECT jsonb_path_query_array(context, '$.messages[*].body') AS messages, context ? 'requester_tickets' AS has_them
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '52';
SELECT escalation.complete_contexts() AS completed;
SELECT jsonb_path_query_array(context, '$.requester_tickets[*].key') AS others
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '52';
-- bad batch sizes
SELECT regress_error($$SELECT escalation.complete_contexts(0)$$);
SELECT regress_error($$SELECT escalation.complete_contexts(NULL)$$);
