--
-- sla_message: the SLA bookkeeping of a message (src/sla_message.c, the
-- message trigger's and escalation.sla_track_message()'s C code) against
-- the PL/pgSQL function of version 1.0 it replaced, on random
-- conversations.
--
-- Two attached ticket tables, "a" and "b", get the same tickets, the same
-- status and priority changes (through their ticket triggers) and the same
-- messages, in the same order, interleaved with SLA cycles: a's messages
-- through escalation.sla_track_message(), b's through a copy of 1.0's
-- PL/pgSQL body.  Their clocks, segments, tracked tickets, first responses
-- and firings must end up the same.  Each source has its own policies
-- (all five metrics on a business calendar and 24x7, warnings; one without
-- the response targets; tickets matching none).
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET client_min_messages = warning;

CREATE SCHEMA slam;
CREATE TABLE slam.a (id integer PRIMARY KEY, status text NOT NULL DEFAULT 'open',
                     priority text NOT NULL, created_at timestamptz NOT NULL,
                     updated_at timestamptz NOT NULL);
CREATE TABLE slam.b (LIKE slam.a INCLUDING ALL);
SELECT escalation.attach('slam.' || t, key => 'id', name => 'slam ' || t, status => 'status',
           status_map => '{"open": ["open"], "pending": ["pending"], "solved": ["solved"], "other": ["merged"]}',
           priority => 'priority', created_at => 'created_at', updated_at => 'updated_at') IS NOT NULL AS attached
  FROM unnest(ARRAY['a', 'b']) AS t;
SELECT s.source_id AS sa FROM escalation.sources s WHERE s.name = 'slam a' AND s.attached \gset
SELECT s.source_id AS sb FROM escalation.sources s WHERE s.name = 'slam b' AND s.attached \gset

INSERT INTO escalation.calendars (name, time_zone) VALUES ('slam office', 'America/New_York');
INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
SELECT c.calendar_id, d, '08:00', '18:00'
  FROM escalation.calendars c, generate_series(1, 5) AS d WHERE c.name = 'slam office';

-- per source: "urgent" 24x7, "normal" on the calendar, "low" without
-- response targets; "none" matches no policy
INSERT INTO escalation.sla_policies (name, source_id, position, priorities)
SELECT 'slam ' || s.t || ' ' || p.name, s.sid, p.pos + s.off, ARRAY[p.name]
  FROM (VALUES ('a', :sa, 0), ('b', :sb, 10)) AS s(t, sid, off),
       (VALUES ('urgent', 9301), ('normal', 9302), ('low', 9303)) AS p(name, pos);
INSERT INTO escalation.sla_targets (policy_id, metric, target, calendar, warn_at)
SELECT p.policy_id, t.metric, t.target::interval, t.calendar, t.warn_at::integer[]
  FROM escalation.sla_policies p
  JOIN (VALUES
    ('urgent', 'first_response',  '1 hour',   NULL,          '{50,75}'),
    ('urgent', 'next_response',   '2 hours',  NULL,          '{}'),
    ('urgent', 'periodic_update', '3 hours',  NULL,          '{90}'),
    ('urgent', 'resolution',      '8 hours',  NULL,          '{}'),
    ('urgent', 'age',             '2 days',   NULL,          '{}'),
    ('normal', 'first_response',  '4 hours',  'slam office', '{25}'),
    ('normal', 'next_response',   '3 hours',  'slam office', '{10,60}'),
    ('normal', 'periodic_update', '1 day',    'slam office', '{}'),
    ('normal', 'resolution',      '16 hours', 'slam office', '{}'),
    ('low',    'resolution',      '3 days',   NULL,          '{}')
  ) AS t(policy, metric, target, calendar, warn_at) ON p.name LIKE 'slam _ ' || t.policy;

-- version 1.0's sla_track_message(), verbatim but for its name
CREATE FUNCTION slam.track_message_1_0(p_source integer, p_key text, p_author text,
                                       p_at timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tk escalation.sla_tickets;
    c escalation.clocks;
BEGIN
    SELECT * INTO tk FROM escalation.sla_tickets x
     WHERE x.source_id = p_source AND x.ticket_key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF tk.first_message_at IS NULL THEN
        UPDATE escalation.sla_tickets x SET first_message_at = p_at
         WHERE x.source_id = p_source AND x.ticket_key = p_key;
        IF p_author = 'agent' THEN
            DELETE FROM escalation.first_responses f
             WHERE f.source_id = p_source AND f.ticket_key = p_key AND f.responded_at = p_at;
            RETURN;
        END IF;
    END IF;
    IF tk.policy_id IS NULL THEN
        RETURN;
    END IF;
    IF p_author = 'agent' THEN
        FOR c IN SELECT * FROM escalation.clocks x
                  WHERE x.source_id = p_source AND x.ticket_key = p_key
                    AND x.metric IN ('first_response', 'next_response', 'periodic_update')
                    AND x.state IN ('running', 'paused')
                    AND x.started_at <= p_at
                  ORDER BY x.clock_id FOR UPDATE LOOP
            PERFORM escalation.clock_set(c, 'met', p_at);
        END LOOP;
        IF tk.status NOT IN ('solved', 'other') THEN
            PERFORM escalation.clock_start(p_source, p_key, 'periodic_update', tk.policy_id, p_at,
                                           tk.status = 'pending');
        END IF;
    ELSIF tk.status NOT IN ('solved', 'other')
          AND NOT EXISTS (SELECT 1 FROM escalation.clocks x
                           WHERE x.source_id = p_source AND x.ticket_key = p_key
                             AND x.metric = 'next_response' AND x.state IN ('running', 'paused')) THEN
        PERFORM escalation.clock_start(p_source, p_key, 'next_response', tk.policy_id, p_at,
                                       tk.status = 'pending');
    END IF;
END
$$;

-- one message to both: the first response as the message trigger records
-- it, then the bookkeeping, C for a, 1.0 for b
CREATE FUNCTION slam.say(p_key text, p_author text, p_at timestamptz, sa integer, sb integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_author = 'agent' THEN
        INSERT INTO escalation.first_responses AS f (source_id, ticket_key, responded_at, author)
        VALUES (sa, p_key, p_at, 'agent'), (sb, p_key, p_at, 'agent')
        ON CONFLICT (source_id, ticket_key) DO UPDATE
           SET responded_at = excluded.responded_at, author = excluded.author
         WHERE excluded.responded_at < f.responded_at;
    END IF;
    PERFORM escalation.sla_track_message(sa, p_key, p_author, p_at);
    PERFORM slam.track_message_1_0(sb, p_key, p_author, p_at);
END
$$;

-- 60 tickets over two weeks, 720 events in time order: messages (some
-- dated a little before the previous event), status and priority changes,
-- and a cycle every 25 events
SELECT setseed(0.7);
CREATE TABLE slam.tickets AS
SELECT i AS ticket, timestamptz '2024-05-06 06:00+00' + random() * interval '14 days' AS created,
       random() AS r1
  FROM generate_series(1, 60) i;
CREATE TABLE slam.draws AS
SELECT t.ticket, t.created + random() * interval '3 days' AS at, random() AS r1, random() AS r2
  FROM slam.tickets t, generate_series(1, 11) j;
CREATE TABLE slam.events AS
SELECT row_number() OVER (ORDER BY e.at, e.ticket, e.kind) AS n, e.*
  FROM (SELECT ticket, created AS at, 'create' AS kind,
               (ARRAY['urgent', 'normal', 'normal', 'low', 'none'])[1 + floor(r1 * 5)::int] AS value
          FROM slam.tickets
        UNION ALL
        SELECT ticket, at,
               CASE WHEN r1 < 0.40 THEN 'customer' WHEN r1 < 0.72 THEN 'agent'
                    WHEN r1 < 0.86 THEN 'status' ELSE 'priority' END,
               CASE WHEN r1 < 0.72 THEN NULL
                    WHEN r1 < 0.86 THEN (ARRAY['pending', 'pending', 'open', 'open', 'solved', 'merged'])[1 + floor(r2 * 6)::int]
                    ELSE (ARRAY['urgent', 'normal', 'low', 'none'])[1 + floor(r2 * 4)::int] END
          FROM slam.draws) e;

DO $$
DECLARE
    e record;
    sa integer := (SELECT source_id FROM escalation.sources WHERE name = 'slam a' AND attached);
    sb integer := (SELECT source_id FROM escalation.sources WHERE name = 'slam b' AND attached);
    prev timestamptz;
BEGIN
    FOR e IN SELECT * FROM slam.events ORDER BY n LOOP
        IF e.kind = 'create' THEN
            INSERT INTO slam.a (id, priority, created_at, updated_at) VALUES (e.ticket, e.value, e.at, e.at);
            INSERT INTO slam.b (id, priority, created_at, updated_at) VALUES (e.ticket, e.value, e.at, e.at);
        ELSIF e.kind IN ('customer', 'agent') THEN
            -- every fifth message is dated half an hour before the event
            PERFORM slam.say(e.ticket::text, e.kind,
                             e.at - CASE WHEN e.n % 5 = 0 THEN interval '30 minutes' ELSE interval '0' END,
                             sa, sb);
        ELSIF e.kind = 'status' THEN
            UPDATE slam.a SET status = e.value, updated_at = e.at WHERE id = e.ticket;
            UPDATE slam.b SET status = e.value, updated_at = e.at WHERE id = e.ticket;
        ELSE
            UPDATE slam.a SET priority = e.value, updated_at = e.at WHERE id = e.ticket;
            UPDATE slam.b SET priority = e.value, updated_at = e.at WHERE id = e.ticket;
        END IF;
        IF e.n % 25 = 0 THEN
            PERFORM escalation.run_cycle(e.at);
        END IF;
        prev := e.at;
    END LOOP;
    PERFORM escalation.run_cycle(prev + interval '7 days');
END
$$;

-- what the conversations did (so that the comparison below compares something)
SELECT kind, count(*) AS events FROM slam.events GROUP BY kind ORDER BY kind;
SELECT c.metric, c.state, count(*) AS clocks, max(c.round) AS max_round
  FROM escalation.clocks c WHERE c.source_id = :sa
 GROUP BY c.metric, c.state ORDER BY c.metric, c.state;
SELECT count(*) AS tracked, count(first_message_at) AS opened, count(policy_id) AS with_policy
  FROM escalation.sla_tickets WHERE source_id = :sa;
SELECT count(*) AS first_responses FROM escalation.first_responses WHERE source_id = :sa;
SELECT count(*) AS firings FROM escalation.clock_firings WHERE source_id = :sa;

-- a against b: every difference, row by row (none)
CREATE FUNCTION slam.clocks(src integer)
RETURNS TABLE (ticket_key text, metric text, round integer, policy text, target interval,
               calendar text, state text, started_at timestamptz, elapsed interval,
               running_since timestamptz, due_at timestamptz, next_at timestamptz,
               breached_at timestamptz, finished_at timestamptz)
LANGUAGE sql AS $$
    SELECT c.ticket_key, c.metric, c.round, substr(p.name, 8), c.target, c.calendar, c.state,
           c.started_at, c.elapsed, c.running_since, c.due_at, c.next_at, c.breached_at, c.finished_at
      FROM escalation.clocks c JOIN escalation.sla_policies p USING (policy_id)
     WHERE c.source_id = src
$$;
CREATE FUNCTION slam.segments(src integer)
RETURNS TABLE (ticket_key text, metric text, round integer, starts timestamptz, ends timestamptz)
LANGUAGE sql AS $$
    SELECT c.ticket_key, c.metric, c.round, s.starts, s.ends
      FROM escalation.clock_segments s JOIN escalation.clocks c USING (clock_id)
     WHERE c.source_id = src
$$;
CREATE FUNCTION slam.tickets(src integer)
RETURNS TABLE (ticket_key text, created_at timestamptz, status text, priority text, policy text,
               updated_at timestamptz, first_message_at timestamptz, responded_at timestamptz)
LANGUAGE sql AS $$
    SELECT t.ticket_key, t.created_at, t.status, t.priority, substr(p.name, 8), t.updated_at,
           t.first_message_at, f.responded_at
      FROM escalation.sla_tickets t
      LEFT JOIN escalation.sla_policies p ON p.policy_id = t.policy_id
      LEFT JOIN escalation.first_responses f
             ON f.source_id = t.source_id AND f.ticket_key = t.ticket_key
     WHERE t.source_id = src
$$;
CREATE FUNCTION slam.firings(src integer)
RETURNS TABLE (ticket_key text, metric text, round integer, step text, due_at timestamptz,
               fired_at timestamptz)
LANGUAGE sql AS $$
    SELECT c.ticket_key, c.metric, c.round, f.step, f.due_at, f.fired_at
      FROM escalation.clock_firings f JOIN escalation.clocks c USING (clock_id)
     WHERE c.source_id = src
$$;
(SELECT 'only a' AS side, * FROM slam.clocks(:sa) EXCEPT SELECT 'only a', * FROM slam.clocks(:sb))
UNION ALL
(SELECT 'only b', * FROM slam.clocks(:sb) EXCEPT SELECT 'only b', * FROM slam.clocks(:sa))
ORDER BY 2, 3, 4, 1;
(SELECT 'only a' AS side, * FROM slam.segments(:sa) EXCEPT SELECT 'only a', * FROM slam.segments(:sb))
UNION ALL
(SELECT 'only b', * FROM slam.segments(:sb) EXCEPT SELECT 'only b', * FROM slam.segments(:sa))
ORDER BY 2, 3, 4, 5, 1;
(SELECT 'only a' AS side, * FROM slam.tickets(:sa) EXCEPT SELECT 'only a', * FROM slam.tickets(:sb))
UNION ALL
(SELECT 'only b', * FROM slam.tickets(:sb) EXCEPT SELECT 'only b', * FROM slam.tickets(:sa))
ORDER BY 2, 1;
(SELECT 'only a' AS side, * FROM slam.firings(:sa) EXCEPT SELECT 'only a', * FROM slam.firings(:sb))
UNION ALL
(SELECT 'only b', * FROM slam.firings(:sb) EXCEPT SELECT 'only b', * FROM slam.firings(:sa))
ORDER BY 2, 3, 4, 5, 1;

-- a change of the targets counts from the next message: each backend keeps
-- which policies have next_response and periodic_update, and the targets'
-- invalidate_cache trigger drops that at commit (here: the next command)
INSERT INTO slam.a (id, priority, created_at, updated_at)
VALUES (1000, 'low', '2024-06-03 09:00+00', '2024-06-03 09:00+00');
SELECT escalation.sla_track_message(:sa, '1000', 'customer', '2024-06-03 09:05+00');
SELECT escalation.sla_track_message(:sa, '1000', 'customer', '2024-06-03 09:10+00');
INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at)
SELECT policy_id, 'next_response', '1 hour', '{50}' FROM escalation.sla_policies WHERE name = 'slam a low';
SELECT escalation.sla_track_message(:sa, '1000', 'customer', '2024-06-03 09:15+00');
SELECT escalation.sla_track_message(:sa, '1000', 'agent', '2024-06-03 09:20+00');
DELETE FROM escalation.sla_targets t USING escalation.sla_policies p
 WHERE p.policy_id = t.policy_id AND p.name = 'slam a low' AND t.metric = 'next_response';
SELECT escalation.sla_track_message(:sa, '1000', 'customer', '2024-06-03 09:25+00');
SELECT metric, round, state, started_at, elapsed, due_at, next_at, finished_at
  FROM escalation.clocks WHERE source_id = :sa AND ticket_key = '1000' ORDER BY metric, round;
SELECT first_message_at FROM escalation.sla_tickets WHERE source_id = :sa AND ticket_key = '1000';

-- the function's own arguments: no ticket, no time
SELECT escalation.sla_track_message(:sa, NULL, 'agent', now());
SELECT escalation.sla_track_message(:sa, 'no such ticket', 'customer', now());
SELECT escalation.sla_track_message(:sa, '1', 'customer', NULL);

-- clean up: no clock, policy or calendar of these sources stays behind
DELETE FROM escalation.sla_policies WHERE name LIKE 'slam %';
SELECT escalation.detach('slam.a'), escalation.detach('slam.b');
DELETE FROM escalation.notifications WHERE clock_id IN (
    SELECT clock_id FROM escalation.clocks WHERE source_id IN (:sa, :sb));
DELETE FROM escalation.clock_firings WHERE source_id IN (:sa, :sb);
DELETE FROM escalation.clock_segments WHERE clock_id IN (
    SELECT clock_id FROM escalation.clocks WHERE source_id IN (:sa, :sb));
DELETE FROM escalation.clocks WHERE source_id IN (:sa, :sb);
DELETE FROM escalation.sla_tickets WHERE source_id IN (:sa, :sb);
DELETE FROM escalation.first_responses WHERE source_id IN (:sa, :sb);
DELETE FROM escalation.calendars WHERE name = 'slam office';
DROP SCHEMA slam CASCADE;
RESET client_min_messages;
