--
-- transitions: escalating by hand (with what was tried), accept / resolve /
-- cancel, refused transitions with their SQLSTATE, the journey in order,
-- and idempotency of the trigger under repeated UPDATEs.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE SCHEMA tr_hd;
CREATE TABLE tr_hd.tickets (
    id         integer PRIMARY KEY,
    status     text NOT NULL DEFAULT 'open',
    subject    text,
    body       text,
    requester  text,
    note       text,            -- not mapped: writing it never reaches the rules
    created_at timestamptz NOT NULL,
    updated_at timestamptz
);
SELECT escalation.attach('tr_hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": ["open"], "pending": ["pending"], "solved": ["solved", "closed"]}',
           subject => 'subject', body => 'body', requester => 'requester',
           created_at => 'created_at', updated_at => 'updated_at') AS sid \gset
-- errors name escalations by id; the ids depend on what earlier files did
CREATE FUNCTION tr_hd.err(stmt text) RETURNS text
LANGUAGE sql AS $$ SELECT regexp_replace(regress_error(stmt), 'escalation -?\d+', 'escalation N', 'g') $$;

INSERT INTO escalation.rules (name, source_id, keywords, target_team) VALUES
    ('transitions: breach', :sid, '{breach}', 'security'),
    ('transitions: hacked', :sid, '{hacked}', 'security');

INSERT INTO tr_hd.tickets (id, subject, body, requester, created_at) VALUES
    (1, 'Printer', 'Printer does not print', 'ann', '2024-04-01 09:00+00'),
    (2, 'Login', 'Cannot log in', 'ann', '2024-04-01 09:05+00'),
    (3, 'Hacked?', 'My account was hacked', 'bob', '2024-04-01 09:10+00');

--------------------------------------------------------------------------
-- escalating by hand
--------------------------------------------------------------------------
SELECT escalation.escalate('tr_hd.tickets', '1', target_team => 'tier2', kind => 'hierarchical',
           severity => 3, reason => 'customer asked for a supervisor',
           tried => '["restarted the spooler", "reinstalled the driver"]',
           as_of => '2024-04-01 10:00+00') AS manual \gset
SELECT ticket_key, origin, kind, target_team, severity, status, level, created_at, last_actor = session_user AS by_me,
       last_note, (reasons->0) - 'by' AS reason, reasons->0->>'by' = session_user AS reason_by_me,
       context->'tried' AS tried, context->'ticket'->>'subject' AS subject
  FROM escalation.escalations WHERE escalation_id = :manual;

-- the same target at the same level is refused; another level is not
SELECT regress_error($$SELECT escalation.escalate('tr_hd.tickets', '1', target_team => 'tier2',
                          as_of => '2024-04-01 10:05+00')$$);
SELECT escalation.escalate('tr_hd.tickets', '1', target_team => 'management', kind => 'hierarchical',
           level => 2, reason => 'tier 2 is stuck', as_of => '2024-04-01 10:10+00') AS manual2 \gset
-- refusals
SELECT regress_error($$SELECT escalation.escalate('tr_hd.tickets', '1')$$);
SELECT regress_error($$SELECT escalation.escalate('tr_hd.tickets', '404', target_team => 'tier2')$$);
SELECT regress_error($$SELECT escalation.escalate('tr_hd.tickets', 'x', target_team => 'tier2')$$);
SELECT regress_error($$SELECT escalation.escalate('pg_catalog.pg_class', '1', target_team => 'tier2')$$);
SELECT regress_error($$SELECT escalation.escalate('tr_hd.tickets', '2', target_team => 'no such team')$$);
SELECT regress_error($$SELECT escalation.escalate('tr_hd.tickets', '2', target_team => 'tier2', kind => 'sideways')$$);
SELECT regress_error($$SELECT escalation.escalate('tr_hd.tickets', '2', target_team => 'tier2', severity => 5)$$);
SELECT regress_error($$SELECT escalation.escalate('tr_hd.tickets', '2', target_team => 'tier2', level => 10)$$);

--------------------------------------------------------------------------
-- accept, resolve, cancel
--------------------------------------------------------------------------
-- (the actor of a change made by hand is the session user, shown as <me>)
SELECT status, agent_id, accepted_at, closed_at, last_actor
  FROM escalation.accept(:manual, 'dave', '2024-04-01 10:30+00');
SELECT status, agent_id, accepted_at, closed_at,
       CASE WHEN last_actor = session_user THEN '<me>' ELSE last_actor END AS last_actor, last_note
  FROM escalation.resolve(:manual, 'driver was outdated', '2024-04-01 11:00+00');
SELECT status, closed_at, last_note
  FROM escalation.cancel(:manual2, 'solved at tier 2 after all', '2024-04-01 11:05+00');

-- refused: the states that are final, unknown agents and escalations, no reason
SELECT tr_hd.err(format($$SELECT escalation.accept(%s, 'dave')$$, :manual));
SELECT tr_hd.err(format($$SELECT escalation.resolve(%s)$$, :manual));
SELECT tr_hd.err(format($$SELECT escalation.cancel(%s, 'too late')$$, :manual));
SELECT tr_hd.err(format($$SELECT escalation.resolve(%s)$$, :manual2));
SELECT tr_hd.err(format($$SELECT escalation.accept(%s, 'nobody')$$, :manual2));
SELECT tr_hd.err($$SELECT escalation.resolve(-42)$$) AS unknown;
SELECT tr_hd.err(format($$SELECT escalation.cancel(%s, '  ')$$, :manual2));
SELECT tr_hd.err(format($$SELECT escalation.cancel(%s, NULL)$$, :manual2));

-- the state machine itself, as a table
SELECT f.s AS from_status, array_agg(t.s ORDER BY t.n) FILTER (WHERE escalation.transition_allowed(f.s, t.s)) AS may_become
  FROM (VALUES (1, 'queued'), (2, 'offered'), (3, 'accepted'), (4, 'resolved'), (5, 'cancelled')) f(n, s),
       (VALUES (1, 'queued'), (2, 'offered'), (3, 'accepted'), (4, 'resolved'), (5, 'cancelled')) t(n, s)
 GROUP BY f.n, f.s ORDER BY f.n;

-- even the extension's owner cannot break it by hand (the BEFORE UPDATE trigger)
SELECT tr_hd.err(format($$UPDATE escalation.escalations SET status = 'queued' WHERE escalation_id = %s$$, :manual)) AS reopen;
SELECT tr_hd.err(format($$UPDATE escalation.escalations SET ticket_key = '2' WHERE escalation_id = %s$$, :manual)) AS move;

-- the journey: every change, in order
SELECT e.level, v.event, v.from_status, v.to_status,
       CASE WHEN v.actor = session_user THEN '<me>' ELSE v.actor END AS actor, v.note,
       v.detail - 'reasons' AS detail, v.at
  FROM escalation.events v JOIN escalation.escalations e USING (escalation_id)
 WHERE e.source_id = :sid AND e.ticket_key = '1'
 ORDER BY v.event_id;

--------------------------------------------------------------------------
-- offered -> queued (requeued), offered -> accepted
--------------------------------------------------------------------------
SELECT escalation_id AS auto FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '3' \gset
UPDATE escalation.escalations SET status = 'offered', agent_id = 'alice', updated_at = '2024-04-01 09:20+00',
       last_actor = 'router' WHERE escalation_id = :auto;
UPDATE escalation.escalations SET status = 'queued', agent_id = NULL, updated_at = '2024-04-01 09:25+00',
       last_actor = 'router', last_note = 'alice did not answer' WHERE escalation_id = :auto;
UPDATE escalation.escalations SET status = 'offered', agent_id = 'alice', updated_at = '2024-04-01 09:30+00',
       last_actor = 'router', last_note = NULL WHERE escalation_id = :auto;
SELECT status, agent_id FROM escalation.accept(:auto, 'alice', '2024-04-01 09:35+00');
SELECT v.event, v.from_status, v.to_status, v.actor, v.note, v.detail->>'agent_id' AS agent, v.at
  FROM escalation.events v WHERE v.escalation_id = :auto ORDER BY v.event_id;

--------------------------------------------------------------------------
-- idempotency of the trigger
--------------------------------------------------------------------------
-- repeated UPDATEs that still match: no second escalation, no second reason
UPDATE tr_hd.tickets SET body = 'My account was hacked!', updated_at = '2024-04-01 12:00+00' WHERE id = 3;
UPDATE tr_hd.tickets SET body = 'My account was hacked!!', updated_at = '2024-04-01 12:01+00' WHERE id = 3;
UPDATE tr_hd.tickets SET subject = 'Hacked', updated_at = '2024-04-01 12:02+00' WHERE id = 3;
-- an UPDATE of an unmapped column, or one that rewrites the same values, does nothing
UPDATE tr_hd.tickets SET note = 'called the customer' WHERE id = 3;
UPDATE tr_hd.tickets SET subject = subject WHERE id = 3;
SELECT count(*) AS escalations, sum(jsonb_array_length(reasons)) AS reasons
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '3';
-- a new rule that matches adds its reason, once
UPDATE tr_hd.tickets SET body = 'Hacked, and a data breach', updated_at = '2024-04-01 12:10+00' WHERE id = 3;
UPDATE tr_hd.tickets SET body = 'Hacked, and a data breach.', updated_at = '2024-04-01 12:11+00' WHERE id = 3;
SELECT status, jsonb_path_query_array(reasons, '$[*].rule') AS rules
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '3';
SELECT v.event, v.to_status, v.actor, v.at
  FROM escalation.events v WHERE v.escalation_id = :auto ORDER BY v.event_id;

-- after resolving, a new match is a new escalation
SELECT status FROM escalation.resolve(:auto, 'password reset', '2024-04-01 13:00+00');
UPDATE tr_hd.tickets SET body = 'Hacked again', updated_at = '2024-04-02 08:00+00' WHERE id = 3;
SELECT status, created_at, jsonb_path_query_array(reasons, '$[*].rule') AS rules
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '3' ORDER BY created_at;

-- solved tickets are not escalated, whatever they say; pending ones are
UPDATE tr_hd.tickets SET status = 'solved', body = 'breach fixed', updated_at = '2024-04-02 09:00+00' WHERE id = 2;
INSERT INTO tr_hd.tickets (id, status, subject, body, created_at) VALUES
    (4, 'closed', 'Breach', 'old breach, closed', '2024-04-02 09:00+00'),
    (5, 'pending', 'Breach', 'waiting for the customer', '2024-04-02 09:00+00');
SELECT ticket_key, status FROM escalation.escalations
 WHERE source_id = :sid AND ticket_key IN ('2', '4', '5') ORDER BY ticket_key;
-- a solved ticket can still be escalated by hand
SELECT escalation.escalate('tr_hd.tickets', '4', target_team => 'security', reason => 'audit',
           as_of => '2024-04-02 10:00+00') IS NOT NULL AS escalated_by_hand;

-- a rule firing for a target the ticket was escalated to by hand joins that
-- escalation; the journey shows the trigger as the actor, without the
-- earlier note
INSERT INTO tr_hd.tickets (id, subject, body, created_at) VALUES (6, 'Odd', 'odd logins', '2024-04-03 09:00+00');
SELECT escalation.escalate('tr_hd.tickets', '6', target_team => 'security',
           reason => 'customer called about odd logins', as_of => '2024-04-03 09:30+00') IS NOT NULL AS escalated;
UPDATE tr_hd.tickets SET body = 'odd logins: hacked', updated_at = '2024-04-03 10:00+00' WHERE id = 6;
SELECT origin, jsonb_path_query_array(reasons, '$[*].kind') AS kinds,
       jsonb_path_query_array(reasons, '$[*].rule') AS rules
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '6';
SELECT v.event, CASE WHEN v.actor = session_user THEN '<me>' ELSE v.actor END AS actor, v.note, v.at
  FROM escalation.events v WHERE v.source_id = :sid AND v.ticket_key = '6' ORDER BY v.event_id;

-- once resolved, an escalation does not come back when the ticket is edited
-- without new text (a new requester, a status round trip); new text is new
-- evidence, and a reopened ticket is judged afresh
INSERT INTO tr_hd.tickets (id, subject, body, created_at) VALUES (7, 'Help', 'we were hacked', '2024-04-04 09:00+00');
SELECT escalation_id AS e7 FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '7' \gset
SELECT status FROM escalation.resolve(:e7, 'locked the account', '2024-04-04 10:00+00');
UPDATE tr_hd.tickets SET requester = 'ann', updated_at = '2024-04-04 11:00+00' WHERE id = 7;
UPDATE tr_hd.tickets SET status = 'pending', updated_at = '2024-04-04 11:10+00' WHERE id = 7;
UPDATE tr_hd.tickets SET status = 'open', updated_at = '2024-04-04 11:20+00' WHERE id = 7;
SELECT status, created_at FROM escalation.escalations
 WHERE source_id = :sid AND ticket_key = '7' ORDER BY created_at;
UPDATE tr_hd.tickets SET status = 'solved', updated_at = '2024-04-04 12:00+00' WHERE id = 7;
UPDATE tr_hd.tickets SET status = 'open', updated_at = '2024-04-05 09:00+00' WHERE id = 7;
SELECT status, created_at FROM escalation.escalations
 WHERE source_id = :sid AND ticket_key = '7' ORDER BY created_at;
