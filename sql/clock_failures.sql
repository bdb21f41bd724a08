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
