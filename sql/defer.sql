--
-- defer: a new ticket's escalations left to the worker
-- (escalation.defer_escalations, off by default).  The trigger decides
-- them in the writer's transaction and appends them to
-- escalation.pending_escalations, which commits or rolls back with the
-- ticket; escalation.record_pending() (the worker's, at the start of
-- every cycle) records them: the same escalations and "created" events as
-- the trigger writes with the setting off, at the ticket's time.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE SCHEMA df_hd;
CREATE TABLE df_hd.tickets (
    id         integer PRIMARY KEY,
    status     text NOT NULL DEFAULT 'open',
    priority   text,
    subject    text,
    body       text,
    requester  text,
    account    text,
    created_at timestamptz NOT NULL
);
SELECT escalation.attach('df_hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": ["open"], "solved": ["solved"]}',
           priority => 'priority', subject => 'subject', body => 'body',
           requester => 'requester', account => 'account', created_at => 'created_at',
           name => 'deferred') AS sid \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('deferred: outage', :sid, '{outage}', 'tier2');
INSERT INTO escalation.rules (name, source_id, keywords, target_team, severity)
VALUES ('deferred: refund', :sid, '{refund}', 'billing', 3);
INSERT INTO escalation.rules (name, source_id, keywords, target_team, severity)
VALUES ('deferred: lawyer', :sid, '{lawyer}', 'tier2', 4);

SHOW escalation.defer_escalations;

-- The same new ticket both ways, in one transaction: recorded by the
-- trigger (the default), rolled back, then left to the worker and
-- recorded by record_pending().  Everything but the ids (drawn from
-- sequences) is equal: both escalations and both "created" events.
BEGIN;
SAVEPOINT at_once;
INSERT INTO df_hd.tickets VALUES
    (10, 'open', 'high', 'Outage', 'A total outage; we want a refund.', 'ann@example.com', 'globex',
     '2024-03-02 09:00+00');
SELECT jsonb_agg(to_jsonb(e) - 'escalation_id' ORDER BY e.target_team) AS esc_at_once,
       (SELECT jsonb_agg(to_jsonb(v) - 'event_id' - 'escalation_id' ORDER BY v.detail->>'target_team')
          FROM escalation.events v WHERE v.source_id = :sid AND v.ticket_key = '10') AS ev_at_once
  FROM escalation.escalations e WHERE e.source_id = :sid AND e.ticket_key = '10' \gset
ROLLBACK TO SAVEPOINT at_once;
SET LOCAL escalation.defer_escalations = on;
INSERT INTO df_hd.tickets VALUES
    (10, 'open', 'high', 'Outage', 'A total outage; we want a refund.', 'ann@example.com', 'globex',
     '2024-03-02 09:00+00');
-- decided, not recorded yet
SELECT (SELECT count(*) FROM escalation.escalations WHERE source_id = :sid) AS escalations,
       (SELECT count(*) FROM escalation.pending_escalations WHERE source_id = :sid) AS pending;
SELECT ticket_key, level, kind, target_team, severity, origin, at,
       regress_reasons(reasons) AS reasons,
       (SELECT jsonb_agg(r->>'rule') FROM jsonb_array_elements(event_reasons) r) AS event_rules
  FROM escalation.pending_escalations ORDER BY target_team;
SELECT escalation.record_pending() AS recorded;
SELECT jsonb_agg(to_jsonb(e) - 'escalation_id' ORDER BY e.target_team) AS esc_deferred,
       (SELECT jsonb_agg(to_jsonb(v) - 'event_id' - 'escalation_id' ORDER BY v.detail->>'target_team')
          FROM escalation.events v WHERE v.source_id = :sid AND v.ticket_key = '10') AS ev_deferred
  FROM escalation.escalations e WHERE e.source_id = :sid AND e.ticket_key = '10' \gset
COMMIT;
SELECT jsonb_array_length(:'esc_deferred'::jsonb) AS escalations,
       jsonb_array_length(:'ev_deferred'::jsonb) AS events,
       :'esc_at_once'::jsonb = :'esc_deferred'::jsonb AS same_escalations,
       :'ev_at_once'::jsonb = :'ev_deferred'::jsonb AS same_events,
       (SELECT count(*) FROM escalation.pending_escalations) AS pending;

-- From here on, deferred for the session.
SET escalation.defer_escalations = on;

-- Rolled back with the ticket: nothing pending, nothing recorded.
BEGIN;
INSERT INTO df_hd.tickets VALUES
    (11, 'open', 'high', 'Outage', 'Another outage.', 'ann@example.com', 'globex', '2024-03-02 10:00+00');
SELECT count(*) AS pending_inside FROM escalation.pending_escalations;
ROLLBACK;
SELECT (SELECT count(*) FROM escalation.pending_escalations) AS pending,
       (SELECT count(*) FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '11') AS escalations;

-- Oldest first (by the ticket's time), batch by batch; a ticket without a
-- firing rule leaves nothing.
INSERT INTO df_hd.tickets VALUES
    (21, 'open', 'high', 'Outage', 'Outage at noon.', 'bob@example.com', 'globex', '2024-03-05 12:00+00'),
    (20, 'open', 'high', 'Outage', 'Outage at nine.', 'bob@example.com', 'globex', '2024-03-05 09:00+00'),
    (22, 'open', 'low', 'Hello', 'Just saying hi.', 'bob@example.com', 'globex', '2024-03-05 13:00+00');
SELECT ticket_key, target_team, at FROM escalation.pending_escalations ORDER BY at;
SELECT escalation.record_pending(1) AS recorded;
SELECT ticket_key FROM escalation.pending_escalations;
SELECT escalation.record_pending(10) AS recorded, escalation.record_pending(10) AS then;
SELECT e.ticket_key, e.target_team, e.status, e.created_at, v.event, v.at
  FROM escalation.escalations e JOIN escalation.events v USING (escalation_id)
 WHERE e.source_id = :sid AND e.ticket_key IN ('20', '21', '22') ORDER BY e.ticket_key;

-- An update before the worker came is recorded at once (an update reads
-- the ticket's open escalations to tell what is new, and is never
-- deferred): the pending escalation is not open yet, so the update's
-- escalation carries every rule that fires on it.  The pending one then
-- meets it (same level and target) and merges into it, adding nothing:
-- one escalation, one "created" event.
INSERT INTO df_hd.tickets VALUES
    (30, 'open', 'high', 'Outage', 'Outage again.', 'cat@example.com', 'globex', '2024-03-06 09:00+00');
UPDATE df_hd.tickets SET body = 'Outage again. My lawyer will call.' WHERE id = 30;
SELECT e.target_team, e.severity, regress_reasons(e.reasons) AS reasons
  FROM escalation.escalations e WHERE e.source_id = :sid AND e.ticket_key = '30';
SELECT count(*) AS pending FROM escalation.pending_escalations;
SELECT escalation.record_pending() AS recorded;
SELECT e.target_team, e.severity, regress_reasons(e.reasons) AS reasons,
       (SELECT count(*) FROM escalation.events v WHERE v.escalation_id = e.escalation_id AND v.event = 'created') AS created_events
  FROM escalation.escalations e WHERE e.source_id = :sid AND e.ticket_key = '30';

-- The same with a pending reason the update's escalation lacks: merged
-- into it, it adds the reason and its severity, and the open
-- escalation's updated_at stays where the update put it (the pending
-- one's time, the ticket's, is earlier).
INSERT INTO df_hd.tickets VALUES
    (31, 'open', 'high', 'Outage', 'Outage, once more.', 'cat@example.com', 'globex', '2024-03-06 10:00+00');
UPDATE df_hd.tickets SET subject = 'Legal', body = 'My lawyer will call.' WHERE id = 31;
SELECT escalation.record_pending() AS recorded;
SELECT e.target_team, e.severity, regress_reasons(e.reasons) AS reasons,
       e.updated_at >= e.created_at AS not_back_in_time,
       (SELECT array_agg(v.event ORDER BY v.event_id) FROM escalation.events v
         WHERE v.escalation_id = e.escalation_id) AS journey
  FROM escalation.escalations e WHERE e.source_id = :sid AND e.ticket_key = '31';

-- The trigger keeps the queue's index (pending_escalations_at, which
-- record_pending() reads the oldest rows from) itself: every pending row
-- is in it, as a scan of the index alone tells.
INSERT INTO df_hd.tickets VALUES
    (35, 'open', 'high', 'Outage', 'Outage, indexed.', 'dan@example.com', 'globex', '2024-03-06 11:00+00'),
    (36, 'open', 'high', 'Legal', 'My lawyer, indexed.', 'dan@example.com', 'globex', '2024-03-06 10:30+00');
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT array_agg(ticket_key ORDER BY at) AS by_index FROM escalation.pending_escalations WHERE at > '-infinity';
RESET enable_bitmapscan;
RESET enable_seqscan;
SELECT array_agg(ticket_key ORDER BY at) AS by_heap FROM escalation.pending_escalations;
SELECT escalation.record_pending() AS recorded;
-- Without it (a DBA dropped it) the rows are still left to the worker;
-- record_pending() then reads the table whole.
BEGIN;
DROP INDEX escalation.pending_escalations_at;
INSERT INTO df_hd.tickets VALUES
    (37, 'open', 'high', 'Outage', 'Outage, unindexed.', 'dan@example.com', 'globex', '2024-03-06 12:00+00');
SELECT count(*) AS pending FROM escalation.pending_escalations;
SELECT escalation.record_pending() AS recorded;
ROLLBACK;

-- Any other index (or a trigger) on the pending table: a heap insert
-- would not keep it, so the trigger records the escalation itself (and
-- the next insert, the index gone, is deferred again).
CREATE INDEX df_pending_at ON escalation.pending_escalations (at);
INSERT INTO df_hd.tickets VALUES
    (40, 'open', 'high', 'Outage', 'Outage with an index.', 'dan@example.com', 'globex', '2024-03-07 09:00+00');
SELECT (SELECT count(*) FROM escalation.pending_escalations) AS pending,
       (SELECT count(*) FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '40') AS escalations;
DROP INDEX escalation.df_pending_at;
-- So does a column of another type than the trigger forms.
ALTER TABLE escalation.pending_escalations ALTER COLUMN origin TYPE varchar;
INSERT INTO df_hd.tickets VALUES
    (41, 'open', 'high', 'Outage', 'Outage with a varchar.', 'dan@example.com', 'globex', '2024-03-07 10:00+00');
SELECT (SELECT count(*) FROM escalation.pending_escalations) AS pending,
       (SELECT count(*) FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '41') AS escalations;
ALTER TABLE escalation.pending_escalations ALTER COLUMN origin TYPE text;

-- The worker records them in transactions of their own, before a cycle's
-- batches: run_batch() leaves them; run_cycle(), one transaction for
-- pg_cron, records them first.
INSERT INTO df_hd.tickets VALUES
    (50, 'open', 'high', 'Outage', 'Outage for the worker.', 'eve@example.com', 'globex', '2024-03-08 09:00+00');
SELECT count(*) AS pending FROM escalation.pending_escalations;
SELECT escalation.run_batch('2024-03-08 09:01+00', 10) >= 0 AS batch_ran,
       (SELECT count(*) FROM escalation.pending_escalations) AS still_pending;
SELECT escalation.run_cycle('2024-03-08 09:01+00') >= 0 AS cycle_ran;
SELECT (SELECT count(*) FROM escalation.pending_escalations) AS pending,
       (SELECT count(*) FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '50') AS escalations;

-- A row the record statement rejects does not hold up the queue: here a
-- DBA's trigger on escalations refuses two tickets.  record_pending()
-- records the batch in a subtransaction, then, as it fails, in halves
-- down to the rows that fail: the others are recorded, oldest first; the
-- two are moved to escalation.pending_failed with their error, each with
-- a WARNING.
CREATE FUNCTION df_hd.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.ticket_key IN ('62', '64') THEN
        RAISE EXCEPTION 'ticket % is on hold', NEW.ticket_key USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER df_refuse BEFORE INSERT ON escalation.escalations
    FOR EACH ROW EXECUTE FUNCTION df_hd.refuse();
INSERT INTO df_hd.tickets
SELECT i, 'open', 'high', 'Outage', 'Outage number ' || i || '.', 'fay@example.com', 'globex',
       '2024-03-09 09:00+00'::timestamptz + (i - 60) * interval '1 minute'
  FROM generate_series(60, 66) i;
SELECT count(*) AS pending FROM escalation.pending_escalations;
SELECT escalation.record_pending() AS recorded;
SELECT ticket_key, target_team, at, sqlstate, error, failed_at IS NOT NULL AS has_failed_at
  FROM escalation.pending_failed ORDER BY at;
SELECT (SELECT count(*) FROM escalation.pending_escalations) AS pending,
       (SELECT array_agg(ticket_key ORDER BY created_at) FROM escalation.escalations
         WHERE source_id = :sid AND ticket_key::integer BETWEEN 60 AND 66) AS recorded_tickets;
-- An error that is not the rows' (here a serialization failure) fails
-- the call, as a cancel or a lack of memory would: nothing is set aside,
-- the rows wait for the next call.
CREATE OR REPLACE FUNCTION df_hd.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'could not serialize' USING ERRCODE = 'serialization_failure';
END
$$;
INSERT INTO df_hd.tickets VALUES
    (67, 'open', 'high', 'Outage', 'Outage, serialized.', 'fay@example.com', 'globex', '2024-03-09 10:00+00');
\set VERBOSITY terse
SELECT escalation.record_pending() AS recorded;
\set VERBOSITY default
SELECT (SELECT count(*) FROM escalation.pending_escalations) AS pending,
       (SELECT count(*) FROM escalation.pending_failed) AS failed;
-- The cause fixed, retry_pending_failed() puts them back and the next call
-- records them, at the tickets' times.
DROP TRIGGER df_refuse ON escalation.escalations;
SELECT escalation.retry_pending_failed() AS retried;
SELECT (SELECT count(*) FROM escalation.pending_escalations) AS pending,
       (SELECT count(*) FROM escalation.pending_failed) AS failed;
SELECT escalation.record_pending() AS recorded;
SELECT ticket_key, created_at FROM escalation.escalations
 WHERE source_id = :sid AND ticket_key IN ('62', '64', '67') ORDER BY ticket_key;

-- Bad input.
SELECT escalation.record_pending(0);
SELECT escalation.record_pending(NULL);

RESET escalation.defer_escalations;
