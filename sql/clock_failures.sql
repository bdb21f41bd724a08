--
-- clock_failures: an SLA clock that cannot fire does not stop the others.
-- Clocks fire in the order they are due, a batch in one transaction; one
-- whose firing fails every time (here a DBA's trigger on escalations that
-- refuses its ticket's escalation) would head every batch.  run_batch()
-- fires the batch in a subtransaction and, when that fails, one by one:
-- the failing clock is set aside in escalation.clock_failures (its
-- next_at cleared, a WARNING), the others fire.  An error that is not the
-- clock's fails the batch as before.  retry_failed_clocks() makes the set
-- aside clocks due again once the cause is fixed.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE SCHEMA cf_hd;
CREATE TABLE cf_hd.tickets (
    id         integer PRIMARY KEY,
    status     text NOT NULL DEFAULT 'open',
    priority   text NOT NULL DEFAULT 'urgent',
    subject    text,
    created_at timestamptz NOT NULL
);
SELECT escalation.attach('cf_hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": ["open"], "solved": ["solved"]}',
           priority => 'priority', subject => 'subject', created_at => 'created_at',
           name => 'clock failures') AS sid \gset
INSERT INTO escalation.teams (name) VALUES ('cf tier2');
INSERT INTO escalation.sla_policies (name, source_id, position) VALUES ('cf policy', :sid, 9100);
INSERT INTO escalation.sla_targets (policy_id, metric, target)
SELECT policy_id, 'resolution', '1 hour' FROM escalation.sla_policies WHERE name = 'cf policy';
INSERT INTO escalation.sla_ladder (policy_id, metric, level, after, target_team, kind, severity)
SELECT policy_id, 'resolution', 1, '0', 'cf tier2', 'hierarchical', 3
  FROM escalation.sla_policies WHERE name = 'cf policy';

-- three tickets, due at 10:00, 10:01 and 10:02; the first is refused
INSERT INTO cf_hd.tickets (id, subject, created_at)
SELECT i, 'Ticket ' || i, '2024-04-01 09:00+00'::timestamptz + (i - 1) * interval '1 minute'
  FROM generate_series(1, 3) i;
CREATE FUNCTION cf_hd.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.source_id = (SELECT source_id FROM escalation.sources WHERE name = 'clock failures')
       AND NEW.ticket_key = '1' THEN
        RAISE EXCEPTION 'ticket 1 may not be escalated' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER cf_refuse BEFORE INSERT ON escalation.escalations
    FOR EACH ROW EXECUTE FUNCTION cf_hd.refuse();

SELECT c.ticket_key, c.metric, c.next_at FROM escalation.clocks c
 WHERE c.source_id = :sid ORDER BY c.ticket_key;
SELECT escalation.run_cycle('2024-04-01 10:05+00') >= 0 AS ran;
-- tickets 2 and 3 breached and escalated; ticket 1's clock is set aside
SELECT c.ticket_key, c.breached_at, c.next_at,
       (SELECT count(*) FROM escalation.escalations e
         WHERE e.source_id = c.source_id AND e.ticket_key = c.ticket_key) AS escalations
  FROM escalation.clocks c WHERE c.source_id = :sid ORDER BY c.ticket_key;
SELECT ticket_key, next_at, failed_at, sqlstate, error FROM escalation.clock_failures;
-- it fires no more: the next cycle leaves it alone
SELECT escalation.run_cycle('2024-04-01 10:10+00') >= 0 AS ran;
SELECT count(*) AS set_aside FROM escalation.clock_failures;

-- An error that is not the clock's (here a serialization failure) fails
-- the batch, as a cancel or a lack of memory would; nothing is set aside.
CREATE OR REPLACE FUNCTION cf_hd.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.source_id = (SELECT source_id FROM escalation.sources WHERE name = 'clock failures') THEN
        RAISE EXCEPTION 'could not serialize' USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN NEW;
END
$$;
INSERT INTO cf_hd.tickets (id, subject, created_at) VALUES (4, 'Ticket 4', '2024-04-01 09:30+00');
\set VERBOSITY terse
SELECT escalation.run_cycle('2024-04-01 10:40+00') >= 0 AS ran;
\set VERBOSITY default
SELECT (SELECT count(*) FROM escalation.clock_failures) AS set_aside,
       (SELECT c.next_at FROM escalation.clocks c WHERE c.source_id = :sid AND c.ticket_key = '4') AS ticket_4_due;

-- The cause fixed, retry_failed_clocks() makes ticket 1's clock due again
-- at the instant its step was due; the next cycle fires it, and ticket 4's.
DROP TRIGGER cf_refuse ON escalation.escalations;
SELECT escalation.retry_failed_clocks() AS retried;
SELECT c.ticket_key, c.next_at FROM escalation.clocks c
 WHERE c.source_id = :sid AND c.ticket_key IN ('1', '4') ORDER BY 1;
SELECT escalation.run_cycle('2024-04-01 10:45+00') >= 0 AS ran;
SELECT c.ticket_key, c.breached_at,
       (SELECT array_agg(v.detail->>'target_team') FROM escalation.events v
         WHERE v.source_id = c.source_id AND v.ticket_key = c.ticket_key AND v.event = 'created') AS escalated_to
  FROM escalation.clocks c WHERE c.source_id = :sid ORDER BY c.ticket_key;
SELECT count(*) AS set_aside FROM escalation.clock_failures;

-- What waits for the worker, per queue (escalation.backlog(), for
-- monitoring): a clock set aside shows there until it is retried.
INSERT INTO cf_hd.tickets (id, subject, created_at) VALUES (5, 'Ticket 5', '2024-04-02 09:00+00');
CREATE TRIGGER cf_refuse BEFORE INSERT ON escalation.escalations
    FOR EACH ROW EXECUTE FUNCTION cf_hd.refuse();
CREATE OR REPLACE FUNCTION cf_hd.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.ticket_key = '5' THEN
        RAISE EXCEPTION 'ticket 5 may not be escalated' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
SELECT queue, waiting, oldest, oldest_age FROM escalation.backlog('2024-04-02 10:30+00')
 WHERE queue IN ('pending_failed', 'clock_failures');
SET client_min_messages = error;
SELECT escalation.run_cycle('2024-04-02 10:30+00') >= 0 AS ran;
RESET client_min_messages;
SELECT queue, waiting, oldest, oldest_age FROM escalation.backlog('2024-04-02 10:30+00')
 WHERE queue IN ('pending_failed', 'clock_failures');
SELECT array_agg(queue ORDER BY queue) AS queues, bool_and(waiting >= 0) AS counted
  FROM escalation.backlog();
DROP TRIGGER cf_refuse ON escalation.escalations;
DELETE FROM escalation.clock_failures;

-- The writer's side: the SLA bookkeeping of a ticket insert that fails
-- (here a DBA's trigger on escalation.sla_tickets refuses ticket 6) does
-- not fail the helpdesk's write.  It runs in a subtransaction of its own:
-- the ticket is stored, a WARNING names it and says how to repair, and it
-- has no clocks until escalation.backfill_sla() is run for the table once
-- the cause is fixed.
CREATE FUNCTION cf_hd.refuse_sla() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.ticket_key IN ('6', '8') THEN
        RAISE EXCEPTION 'ticket % may not be tracked', NEW.ticket_key USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER cf_refuse_sla BEFORE INSERT OR UPDATE ON escalation.sla_tickets
    FOR EACH ROW EXECUTE FUNCTION cf_hd.refuse_sla();
INSERT INTO cf_hd.tickets (id, subject, created_at) VALUES (6, 'Ticket 6', '2024-04-03 09:00+00');
SELECT id, subject FROM cf_hd.tickets WHERE id = 6;
SELECT count(*) AS ticket_6_clocks FROM escalation.clocks WHERE source_id = :sid AND ticket_key = '6';
-- the rest of the transaction goes on: a second ticket in it is tracked
BEGIN;
INSERT INTO cf_hd.tickets (id, subject, created_at) VALUES (7, 'Ticket 7', '2024-04-03 09:05+00');
SELECT c.ticket_key, c.metric, c.state, c.next_at FROM escalation.clocks c
 WHERE c.source_id = :sid AND c.ticket_key IN ('6', '7') ORDER BY 1;
COMMIT;
-- an update's bookkeeping that fails leaves the tracked status behind:
-- ticket 8 is solved, its clock still runs
DROP TRIGGER cf_refuse_sla ON escalation.sla_tickets;
INSERT INTO cf_hd.tickets (id, subject, created_at) VALUES (8, 'Ticket 8', '2024-04-03 09:10+00');
CREATE TRIGGER cf_refuse_sla BEFORE INSERT OR UPDATE ON escalation.sla_tickets
    FOR EACH ROW EXECUTE FUNCTION cf_hd.refuse_sla();
UPDATE cf_hd.tickets SET status = 'solved' WHERE id = 8;
SELECT t.ticket_key, t.status, c.state FROM escalation.sla_tickets t
  JOIN escalation.clocks c USING (source_id, ticket_key)
 WHERE t.source_id = :sid AND t.ticket_key = '8';
DROP TRIGGER cf_refuse_sla ON escalation.sla_tickets;

-- Tickets from before attach(): an open one and a solved one, written
-- with the trigger off (session_replication_role), as if they were there
-- before.
SET session_replication_role = replica;
INSERT INTO cf_hd.tickets (id, status, subject, created_at) VALUES
    (9, 'open', 'Ticket 9', '2024-04-03 08:00+00'),
    (10, 'solved', 'Ticket 10', '2024-04-03 08:00+00');
RESET session_replication_role;
SELECT count(*) AS untracked FROM escalation.sla_tickets
 WHERE source_id = :sid AND ticket_key IN ('9', '10');

-- backfill_sla(): ticket 6 and ticket 9 tracked from their created_at (9
-- is overdue: the next cycle breaches it), ticket 8's clock met at as_of,
-- ticket 10 left alone (solved), the others as they were
BEGIN;
SELECT escalation.backfill_sla('cf_hd.tickets', '2024-04-03 09:20+00') AS handed;
-- only the tickets handed over are locked (FOR SHARE) until commit, not
-- the solved ones left alone
SELECT id, xmax <> '0'::xid AS locked FROM cf_hd.tickets WHERE id IN (9, 10) ORDER BY id;
COMMIT;
SELECT t.ticket_key, t.status, c.metric, c.state, c.started_at, c.next_at
  FROM escalation.sla_tickets t
  LEFT JOIN escalation.clocks c USING (source_id, ticket_key)
 WHERE t.source_id = :sid AND t.ticket_key IN ('6', '7', '8', '9', '10')
 ORDER BY t.ticket_key::integer;
SELECT count(*) AS ticket_10_tracked FROM escalation.sla_tickets
 WHERE source_id = :sid AND ticket_key = '10';
-- run again, nothing changes
SELECT escalation.backfill_sla('cf_hd.tickets', '2024-04-03 09:25+00') AS handed;
SELECT t.ticket_key, c.state, c.next_at FROM escalation.sla_tickets t
  JOIN escalation.clocks c USING (source_id, ticket_key)
 WHERE t.source_id = :sid AND t.ticket_key IN ('6', '9') ORDER BY 1;
SELECT escalation.run_cycle('2024-04-03 09:30+00') >= 0 AS ran;
SELECT c.ticket_key, c.breached_at FROM escalation.clocks c
 WHERE c.source_id = :sid AND c.ticket_key = '9';

-- its refusals: a table that is not attached, a caller who does not own
-- the table
\set VERBOSITY terse
SELECT escalation.backfill_sla('escalation.teams');
CREATE ROLE cf_other;
GRANT escalation_admin TO cf_other;
GRANT USAGE ON SCHEMA cf_hd TO cf_other;
SET ROLE cf_other;
SELECT escalation.backfill_sla('cf_hd.tickets');
RESET ROLE;
\set VERBOSITY default
REVOKE USAGE ON SCHEMA cf_hd FROM cf_other;
DROP ROLE cf_other;

-- A step of the batch after the clocks that fails on its own (here the
-- metrics fold: a DBA's trigger refuses every ticket_facts row) does not
-- undo the clocks fired before it or stop the steps after it: the step is
-- undone, a WARNING says which one and why, and the next batch tries it
-- again.  Before, the whole batch failed, every batch, and no SLA clock
-- fired for as long as the fold failed.
INSERT INTO cf_hd.tickets (id, subject, created_at) VALUES (11, 'Ticket 11', '2024-04-04 09:00+00');
CREATE FUNCTION cf_hd.refuse_facts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'no facts today' USING ERRCODE = 'check_violation';
END
$$;
CREATE TRIGGER cf_refuse_facts BEFORE INSERT OR UPDATE ON escalation.ticket_facts
    FOR EACH ROW EXECUTE FUNCTION cf_hd.refuse_facts();
SELECT count(*) > 0 AS facts_waiting FROM escalation.fact_changes;
SELECT escalation.run_cycle('2024-04-04 10:30+00') >= 0 AS ran;
SELECT c.ticket_key, c.breached_at,
       (SELECT count(*) FROM escalation.escalations e
         WHERE e.source_id = c.source_id AND e.ticket_key = c.ticket_key) AS escalations
  FROM escalation.clocks c WHERE c.source_id = :sid AND c.ticket_key = '11';
SELECT count(*) > 0 AS facts_still_waiting FROM escalation.fact_changes;
-- fixed, the next cycle folds what waited
DROP TRIGGER cf_refuse_facts ON escalation.ticket_facts;
SELECT escalation.run_cycle('2024-04-04 10:31+00') >= 0 AS ran;
SELECT count(*) AS facts_waiting FROM escalation.fact_changes;
SELECT f.ticket_key, f.status FROM escalation.ticket_facts f
 WHERE f.source_id = :sid AND f.ticket_key = '11';
