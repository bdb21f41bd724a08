--
-- direct_records: a new ticket's escalation and its "created" journey event
-- are written through the executor's row-level API, without a statement
-- (escalation.direct_records, on by default).  The rows are the ones the
-- record statement writes; a DBA's row triggers on escalation.escalations
-- fire as for an INSERT; a statement-level trigger there makes the trigger
-- take the statement; an index created meanwhile is maintained.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE SCHEMA dr_hd;
CREATE TABLE dr_hd.tickets (
    id         integer PRIMARY KEY,
    status     text NOT NULL DEFAULT 'open',
    priority   text,
    subject    text,
    body       text,
    requester  text,
    account    text,
    created_at timestamptz NOT NULL
);
SELECT escalation.attach('dr_hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": ["open"], "solved": ["solved"]}',
           priority => 'priority', subject => 'subject', body => 'body',
           requester => 'requester', account => 'account', created_at => 'created_at',
           name => 'direct') AS sid \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('direct: outage', :sid, '{outage}', 'tier2');
INSERT INTO escalation.rules (name, source_id, keywords, target_team, severity)
VALUES ('direct: refund', :sid, '{refund}', 'billing', 3);
-- the requester's history, which the context snapshot lists
INSERT INTO dr_hd.tickets VALUES
    (1, 'open', 'normal', 'Question', 'hello', 'ann@example.com', 'globex', '2024-03-01 09:00+00');

SHOW escalation.direct_records;

-- The same new ticket written both ways, one after the other, in one
-- transaction: through the statement (direct_records off), rolled back,
-- then directly.  Everything but the ids (drawn from sequences) is equal:
-- both escalations (tier2 and billing) and both "created" events.
BEGIN;
SAVEPOINT by_statement;
SET LOCAL escalation.direct_records = off;
INSERT INTO dr_hd.tickets VALUES
    (10, 'open', 'high', 'Outage', 'A total outage; we want a refund.', 'ann@example.com', 'globex',
     '2024-03-02 09:00+00');
SELECT jsonb_agg(to_jsonb(e) - 'escalation_id' ORDER BY e.target_team) AS esc_statement,
       (SELECT jsonb_agg(to_jsonb(v) - 'event_id' - 'escalation_id' ORDER BY v.detail->>'target_team')
          FROM escalation.events v WHERE v.source_id = :sid AND v.ticket_key = '10') AS ev_statement
  FROM escalation.escalations e WHERE e.source_id = :sid AND e.ticket_key = '10' \gset
ROLLBACK TO SAVEPOINT by_statement;
SET LOCAL escalation.direct_records = on;
INSERT INTO dr_hd.tickets VALUES
    (10, 'open', 'high', 'Outage', 'A total outage; we want a refund.', 'ann@example.com', 'globex',
     '2024-03-02 09:00+00');
SELECT jsonb_agg(to_jsonb(e) - 'escalation_id' ORDER BY e.target_team) AS esc_direct,
       (SELECT jsonb_agg(to_jsonb(v) - 'event_id' - 'escalation_id' ORDER BY v.detail->>'target_team')
          FROM escalation.events v WHERE v.source_id = :sid AND v.ticket_key = '10') AS ev_direct
  FROM escalation.escalations e WHERE e.source_id = :sid AND e.ticket_key = '10' \gset
COMMIT;
SELECT jsonb_array_length(:'esc_direct'::jsonb) AS escalations,
       jsonb_array_length(:'ev_direct'::jsonb) AS events,
       :'esc_statement'::jsonb = :'esc_direct'::jsonb AS same_escalations,
       :'ev_statement'::jsonb = :'ev_direct'::jsonb AS same_events;
-- what was written, for the eye (the requester's tickets added by the worker's step)
SELECT escalation.complete_contexts() >= 1 AS completed;
SELECT e.ticket_key, e.target_team, e.severity, e.status, e.origin, e.last_actor, e.target_key,
       e.requester, e.account_key, e.created_at, regress_reasons(e.reasons) AS reasons,
       jsonb_array_length(e.context->'requester_tickets') AS history
  FROM escalation.escalations e WHERE e.source_id = :sid ORDER BY e.target_team;
SELECT v.ticket_key, v.event, v.from_status, v.to_status, v.actor, v.detail->'severity' AS severity,
       v.detail->>'target_team' AS team, jsonb_array_length(v.detail->'reasons') AS rules, v.at
  FROM escalation.events v JOIN escalation.escalations e USING (escalation_id)
 WHERE e.source_id = :sid ORDER BY team;

-- Rolled back: neither the escalation nor its event exists.
BEGIN;
INSERT INTO dr_hd.tickets VALUES
    (11, 'open', 'high', 'Outage', 'Another outage.', 'ann@example.com', 'globex', '2024-03-02 10:00+00');
SELECT count(*) AS inside FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '11';
ROLLBACK;
SELECT (SELECT count(*) FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '11') AS escalations,
       (SELECT count(*) FROM escalation.events WHERE source_id = :sid AND ticket_key = '11') AS events;

-- A DBA's row triggers on escalation.escalations fire for direct writes:
-- the BEFORE trigger raises the severity, and the row, its generated
-- columns and its "created" event carry what it wrote; the AFTER trigger
-- sees the row.
CREATE TABLE dr_hd.audit (escalation_id bigint, ticket_key text, severity int, what text);
CREATE FUNCTION dr_hd.raise_severity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.severity := 4;
    RETURN NEW;
END $$;
CREATE FUNCTION dr_hd.audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dr_hd.audit VALUES (NEW.escalation_id, NEW.ticket_key, NEW.severity, TG_LEVEL);
    RETURN NULL;
END $$;
CREATE TRIGGER dr_raise BEFORE INSERT ON escalation.escalations
    FOR EACH ROW WHEN (NEW.ticket_key = '20') EXECUTE FUNCTION dr_hd.raise_severity();
CREATE TRIGGER dr_audit AFTER INSERT ON escalation.escalations
    FOR EACH ROW EXECUTE FUNCTION dr_hd.audit_row();
INSERT INTO dr_hd.tickets VALUES
    (20, 'open', 'high', 'Outage', 'An outage again.', 'bob@example.com', 'globex', '2024-03-03 09:00+00');
SELECT a.ticket_key, a.severity, a.what, e.severity AS row_severity,
       (SELECT v.detail->'severity' FROM escalation.events v WHERE v.escalation_id = e.escalation_id) AS event_severity
  FROM dr_hd.audit a JOIN escalation.escalations e USING (escalation_id);

-- A statement-level trigger: the direct path would not fire it, so the
-- trigger takes the statement, which does.
CREATE FUNCTION dr_hd.audit_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dr_hd.audit VALUES (NULL, NULL, NULL, TG_LEVEL);
    RETURN NULL;
END $$;
CREATE TRIGGER dr_audit_statement AFTER INSERT ON escalation.escalations
    FOR EACH STATEMENT EXECUTE FUNCTION dr_hd.audit_statement();
INSERT INTO dr_hd.tickets VALUES
    (21, 'open', 'high', 'Refund', 'A refund, please.', 'bob@example.com', 'globex', '2024-03-03 10:00+00');
SELECT what, count(*) FROM dr_hd.audit GROUP BY what ORDER BY what;
DROP TRIGGER dr_audit_statement ON escalation.escalations;
DROP TRIGGER dr_audit ON escalation.escalations;
DROP TRIGGER dr_raise ON escalation.escalations;

-- An index created after this backend prepared its direct writes is
-- maintained by them: this unique one admits one escalation for ticket 30
-- of this source, and the ticket calls for two (tier2 and billing).
CREATE UNIQUE INDEX dr_one_per_ticket ON escalation.escalations (ticket_key)
    WHERE source_id = :sid AND ticket_key = '30';
SELECT regress_error($$INSERT INTO dr_hd.tickets VALUES
    (30, 'open', 'high', 'Outage', 'An outage and a refund.', 'cy@example.com', 'globex', '2024-03-04 09:00+00')$$);
DROP INDEX escalation.dr_one_per_ticket;
INSERT INTO dr_hd.tickets VALUES
    (30, 'open', 'high', 'Outage', 'An outage and a refund.', 'cy@example.com', 'globex', '2024-03-04 09:00+00');
SELECT ticket_key, target_team FROM escalation.escalations
 WHERE source_id = :sid AND ticket_key = '30' ORDER BY target_team;

-- A new ticket's escalation starts with the earliest due time of its
-- ticket's running clocks (the sla_due trigger reads them through the
-- clocks' index, not a statement): not the met one's, not a later one's.
INSERT INTO escalation.clocks (source_id, ticket_key, metric, policy_id, target, state, started_at,
                               running_since, due_at, finished_at)
VALUES (:sid, '40', 'first_response', 0, '1 hour', 'running', '2024-03-05 13:00+00',
        '2024-03-05 13:00+00', '2024-03-05 16:00+00', NULL),
       (:sid, '40', 'resolution', 0, '1 hour', 'running', '2024-03-05 13:00+00',
        '2024-03-05 13:00+00', '2024-03-05 14:00+00', NULL),
       (:sid, '40', 'next_response', 0, '1 hour', 'met', '2024-03-05 12:00+00',
        NULL, NULL, '2024-03-05 12:30+00'),
       (:sid, '41', 'resolution', 0, '1 hour', 'running', '2024-03-05 10:00+00',
        '2024-03-05 10:00+00', '2024-03-05 11:00+00', NULL);
INSERT INTO dr_hd.tickets VALUES
    (40, 'open', 'high', 'Outage', 'An outage at last.', 'dee@example.com', 'globex', '2024-03-05 13:05+00');
SELECT ticket_key, sla_due_at FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '40';
-- The probe's index is looked up once per backend and forgotten when the
-- clocks table's indexes change: without one the trigger reads the clocks
-- with its statement (the dropped index is not used), and a new one is used.
BEGIN;
ALTER TABLE escalation.clocks DROP CONSTRAINT clocks_source_id_ticket_key_metric_round_key;
INSERT INTO escalation.clocks (source_id, ticket_key, metric, policy_id, target, state, started_at,
                               running_since, due_at, finished_at)
VALUES (:sid, '42', 'resolution', 0, '1 hour', 'running', '2024-03-06 13:00+00',
        '2024-03-06 13:00+00', '2024-03-06 15:00+00', NULL),
       (:sid, '43', 'resolution', 0, '1 hour', 'running', '2024-03-06 13:00+00',
        '2024-03-06 13:00+00', '2024-03-06 16:00+00', NULL);
INSERT INTO dr_hd.tickets VALUES
    (42, 'open', 'high', 'Outage', 'An outage again.', 'dee@example.com', 'globex', '2024-03-06 13:05+00');
CREATE INDEX dr_clocks_probe ON escalation.clocks (source_id, ticket_key);
INSERT INTO dr_hd.tickets VALUES
    (43, 'open', 'high', 'Outage', 'An outage once more.', 'dee@example.com', 'globex', '2024-03-06 13:06+00');
SELECT ticket_key, sla_due_at FROM escalation.escalations
 WHERE source_id = :sid AND ticket_key IN ('42', '43') ORDER BY ticket_key;
ROLLBACK;
DELETE FROM escalation.clocks WHERE source_id = :sid;

SELECT escalation.detach('dr_hd.tickets');
DELETE FROM escalation.events WHERE source_id = :sid;
DELETE FROM escalation.escalations WHERE source_id = :sid;
DELETE FROM escalation.rules WHERE source_id = :sid;
DROP SCHEMA dr_hd CASCADE;
