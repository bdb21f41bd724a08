--
-- sla: SLA policies, clocks and the cycle, with fixed as_of times.
--
-- Policies are matched first by position; targets run 24x7 or on a
-- business calendar (Europe/Berlin, 09:00-12:00 and 13:00-17:00 on
-- weekdays); clocks start, pause while the ticket is pending, resume,
-- finish, move to a new policy when the priority changes, and continue
-- when a ticket is reopened.  run_cycle(as_of) fires warnings, breaches
-- and every ladder level exactly once, and notifications addressed to a
-- team outside its hours wait for them.  Then what-if, recompute and
-- calibration.
--
-- 2024-03-04 is a Monday; Berlin is UTC+1 until 2024-03-31.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
-- routing (run_batch's last step) is off here: this file is about clocks
INSERT INTO escalation.routing_settings (enabled) VALUES (false);
SET IntervalStyle = 'postgres';

CREATE SCHEMA sla_hd;
CREATE TABLE sla_hd.tickets (
    id          integer PRIMARY KEY,
    status      text NOT NULL DEFAULT 'open',
    priority    text NOT NULL DEFAULT 'normal',
    team        text,
    account     text,
    subject     text,
    body        text,
    amount      numeric,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    resolved_at timestamptz
);
CREATE TABLE sla_hd.messages (
    id         serial PRIMARY KEY,
    ticket_id  integer NOT NULL,
    author     text NOT NULL,
    private    boolean NOT NULL DEFAULT false,
    body       text,
    created_at timestamptz NOT NULL
);
SELECT escalation.attach('sla_hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": ["new", "open"], "pending": ["waiting"], "solved": ["solved"], "other": ["merged"]}',
           priority => 'priority', team => 'team', account => 'account',
           subject => 'subject', body => 'body', fields => '{"amount": "amount"}',
           created_at => 'created_at', updated_at => 'updated_at', resolved_at => 'resolved_at',
           messages => 'sla_hd.messages', message_ticket => 'ticket_id', message_body => 'body',
           message_author => 'author', message_private => 'private', message_created_at => 'created_at',
           author_map => '{"customer": ["customer"], "agent": ["agent"], "bot": ["bot"]}') AS sid \gset

-- helpers: write a message; show a ticket's clocks and what fired
CREATE FUNCTION public.say(ticket integer, author text, at timestamptz, private boolean DEFAULT false)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO sla_hd.messages (ticket_id, author, private, body, created_at)
    VALUES (ticket, author, private, 'a message', at)
$$;
CREATE FUNCTION public.clocks(ticket integer)
RETURNS TABLE (metric text, round integer, policy text, state text, target interval,
               elapsed interval, due_at timestamptz, next_at timestamptz,
               breached_at timestamptz, finished_at timestamptz)
LANGUAGE sql AS $$
    SELECT c.metric, c.round, p.name, c.state, c.target, c.elapsed, c.due_at, c.next_at,
           c.breached_at, c.finished_at
      FROM escalation.clocks c JOIN escalation.sla_policies p USING (policy_id)
     WHERE c.ticket_key = ticket::text
     ORDER BY c.metric, c.round
$$;
CREATE FUNCTION public.firings(ticket integer)
RETURNS TABLE (metric text, step text, due_at timestamptz, fired_at timestamptz, escalated boolean)
LANGUAGE sql AS $$
    SELECT f.metric, f.step, f.due_at, f.fired_at, f.escalation_id IS NOT NULL
      FROM escalation.clock_firings f
     WHERE f.ticket_key = ticket::text
     ORDER BY f.due_at, f.metric, f.step
$$;

--------------------------------------------------------------------------
-- Configuration: a calendar, policies, targets, a ladder
--------------------------------------------------------------------------
INSERT INTO escalation.calendars (name, time_zone) VALUES ('sla office', 'Europe/Berlin');
INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
SELECT c.calendar_id, d, p.starts, p.ends
  FROM escalation.calendars c, generate_series(1, 5) AS d,
       (VALUES (time '09:00', time '12:00'), (time '13:00', time '17:00')) AS p(starts, ends)
 WHERE c.name = 'sla office';

-- overlapping policies are reported when they are written
INSERT INTO escalation.sla_policies (name, source_id, position, priorities, account_vip)
VALUES ('vip urgent', :sid, 10, '{urgent}', true);
INSERT INTO escalation.sla_policies (name, source_id, position, priorities)
VALUES ('urgent', :sid, 20, '{urgent}');
INSERT INTO escalation.sla_policies (name, source_id, position)
VALUES ('standard', :sid, 30);
-- a policy that overlaps nothing says nothing
INSERT INTO escalation.sla_policies (name, source_id, position, priorities, enabled)
VALUES ('disabled low', :sid, 40, '{low}', false);
SELECT policy, other_policy, applies FROM escalation.sla_policy_overlaps ORDER BY 1, 2;

INSERT INTO escalation.sla_targets (policy_id, metric, target, calendar, warn_at)
SELECT p.policy_id, t.metric, t.target::interval, t.calendar, t.warn_at::integer[]
  FROM escalation.sla_policies p
  JOIN (VALUES
    ('vip urgent', 'first_response',  '30 minutes', NULL,         '{50,75}'),
    ('vip urgent', 'resolution',      '4 hours',    NULL,         '{}'),
    ('urgent',     'first_response',  '1 hour',     NULL,         '{75}'),
    ('urgent',     'next_response',   '2 hours',    NULL,         '{}'),
    ('urgent',     'resolution',      '8 hours',    NULL,         '{}'),
    ('standard',   'first_response',  '4 hours',    'sla office', '{50}'),
    ('standard',   'periodic_update', '1 day',      NULL,         '{}'),
    ('standard',   'resolution',      '16 hours',   'sla office', '{}'),
    ('standard',   'age',             '3 days',     NULL,         '{}')
  ) AS t(policy, metric, target, calendar, warn_at) ON t.policy = p.name;

INSERT INTO escalation.sla_ladder (policy_id, metric, level, after, target_team, to_account_owner, kind, severity)
SELECT p.policy_id, 'resolution', l.level, l.after::interval, l.team, l.owner, 'hierarchical', l.severity
  FROM escalation.sla_policies p,
       (VALUES (1, '0',      'tier2',      false, 3),
               (2, '1 hour', 'management', true,  4),
               (3, '2 hours', 'management', false, 4)) AS l(level, after, team, owner, severity)
 WHERE p.name = 'vip urgent';

-- the steps of a target, in order
SELECT s.step, s.kind, make_interval(secs => s.at_secs) AS at
  FROM escalation.sla_policies p, escalation.sla_steps(p.policy_id, 'resolution', '4 hours') s
 WHERE p.name = 'vip urgent';

--------------------------------------------------------------------------
-- Bad configuration is refused when written
--------------------------------------------------------------------------
SELECT regress_error($$INSERT INTO escalation.sla_targets (policy_id, metric, target)
    SELECT policy_id, 'age', '0' FROM escalation.sla_policies WHERE name = 'urgent'$$);
SELECT regress_error($$INSERT INTO escalation.sla_targets (policy_id, metric, target)
    SELECT policy_id, 'age', '-1 hour' FROM escalation.sla_policies WHERE name = 'urgent'$$);
SELECT regress_error($$INSERT INTO escalation.sla_targets (policy_id, metric, target)
    SELECT policy_id, 'age', '1 month' FROM escalation.sla_policies WHERE name = 'urgent'$$);
SELECT regress_error($$INSERT INTO escalation.sla_targets (policy_id, metric, target)
    SELECT policy_id, 'age', '400 days' FROM escalation.sla_policies WHERE name = 'urgent'$$);
SELECT regress_error($$INSERT INTO escalation.sla_targets (policy_id, metric, target)
    SELECT policy_id, 'uptime', '1 hour' FROM escalation.sla_policies WHERE name = 'urgent'$$);
SELECT regress_error($$INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at)
    SELECT policy_id, 'age', '1 hour', '{0}' FROM escalation.sla_policies WHERE name = 'urgent'$$);
SELECT regress_error($$INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at)
    SELECT policy_id, 'age', '1 hour', '{50,100}' FROM escalation.sla_policies WHERE name = 'urgent'$$);
SELECT regress_error($$INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at)
    SELECT policy_id, 'age', '1 hour', '{50,NULL}' FROM escalation.sla_policies WHERE name = 'urgent'$$);
SELECT regress_error($$INSERT INTO escalation.sla_targets (policy_id, metric, target, calendar)
    SELECT policy_id, 'age', '1 hour', 'no such calendar' FROM escalation.sla_policies WHERE name = 'urgent'$$);
SELECT regress_error($$INSERT INTO escalation.sla_ladder (policy_id, metric, level, after)
    SELECT policy_id, 'resolution', 1, '1 hour' FROM escalation.sla_policies WHERE name = 'urgent'$$);
SELECT regress_error($$INSERT INTO escalation.sla_ladder (policy_id, metric, level, target_team)
    SELECT policy_id, 'age', 1, 'tier2' FROM escalation.sla_policies WHERE name = 'urgent'$$);
SELECT regress_error($$INSERT INTO escalation.sla_ladder (policy_id, metric, level, after, target_team)
    SELECT policy_id, 'resolution', 1, '-5 minutes', 'tier2' FROM escalation.sla_policies WHERE name = 'urgent'$$);
SELECT regress_error($$INSERT INTO escalation.sla_ladder (policy_id, metric, level, target_team)
    SELECT policy_id, 'resolution', 1, 'no such team' FROM escalation.sla_policies WHERE name = 'urgent'$$);
SELECT regress_error($$INSERT INTO escalation.sla_policies (name, position) VALUES ('twice', 30)$$);
SELECT regress_error($$INSERT INTO escalation.sla_policies (name, position, field) VALUES ('half', 50, 'amount')$$);
SELECT regress_error($$INSERT INTO escalation.sla_policies (name, position, priorities) VALUES ('empty', 50, '{""}')$$);
SELECT regress_error($$SELECT escalation.run_batch(NULL, 10)$$);
SELECT regress_error($$SELECT escalation.run_batch('2024-03-04', 0)$$);

--------------------------------------------------------------------------
-- 1. First response, warnings, breach, and every ladder level, 24x7
--------------------------------------------------------------------------
INSERT INTO sla_hd.tickets (id, priority, account, subject, created_at, updated_at)
VALUES (1, 'urgent', 'acme', 'Checkout down', '2024-03-04 09:00+00', '2024-03-04 09:00+00');
SELECT * FROM clocks(1);

SELECT escalation.run_cycle('2024-03-04 09:10+00') AS handled;   -- no clock due; the escalations so far get their requesters' tickets (complete_contexts)
SELECT escalation.run_cycle('2024-03-04 09:16+00') AS handled;   -- warning at 50%
SELECT * FROM firings(1);
SELECT escalation.run_cycle('2024-03-04 09:31+00') AS handled;   -- 75% and the breach, each at its own time
SELECT escalation.run_cycle('2024-03-04 09:31+00') AS handled;   -- exactly once
SELECT * FROM firings(1);
SELECT * FROM clocks(1) WHERE metric = 'first_response';

-- the reply comes late: the clock is met, after its breach
SELECT say(1, 'agent', '2024-03-04 09:40+00');
SELECT * FROM clocks(1) WHERE metric = 'first_response';

-- resolution: 4 hours, then the ladder: level 1 at the breach (tier2),
-- level 2 an hour later (the account owner), level 3 two hours after that;
-- a worker that was away fires every level, not only the first
SELECT escalation.run_cycle('2024-03-04 16:30+00') AS handled;
SELECT * FROM firings(1);
SELECT e.level, e.origin, e.kind, e.target_team, e.agent_id, e.severity, e.status,
       e.reasons -> 0 ->> 'rule' AS rule, e.reasons -> 0 ->> 'due_at' AS due_at,
       e.context -> 'ticket' ->> 'key' AS context_ticket
  FROM escalation.escalations e WHERE e.ticket_key = '1' AND e.source_id = :sid ORDER BY e.level;
SELECT ev.event, ev.to_status, ev.actor
  FROM escalation.events ev JOIN escalation.escalations e USING (escalation_id)
 WHERE e.ticket_key = '1' AND e.source_id = :sid ORDER BY ev.event_id;
SELECT escalation.run_cycle('2024-03-05 00:00+00') AS handled;   -- nothing left
SELECT * FROM clocks(1) WHERE metric = 'resolution';

--------------------------------------------------------------------------
-- 2. Business hours: created Friday after hours, due Monday afternoon
--------------------------------------------------------------------------
-- Friday 2024-03-08 16:30 UTC is 17:30 in Berlin: the office is closed
-- until Monday 09:00 (08:00 UTC); 4 hours of business time end at 14:00
-- Berlin (09-12, 13-14), 13:00 UTC; the 50% warning at 11:00 Berlin
INSERT INTO sla_hd.tickets (id, account, subject, created_at, updated_at)
VALUES (2, 'globex', 'Invoice question', '2024-03-08 16:30+00', '2024-03-08 16:30+00');
SELECT * FROM clocks(2);

-- pending on Monday 09:30 UTC (10:30 Berlin, 1.5 h elapsed), back at 12:30
-- UTC (13:30 Berlin): 2.5 h left, due 16:00 Berlin = 15:00 UTC; age does
-- not pause
UPDATE sla_hd.tickets SET status = 'waiting', updated_at = '2024-03-11 09:30+00' WHERE id = 2;
SELECT * FROM clocks(2);
SELECT escalation.run_cycle('2024-03-11 12:00+00') AS handled;   -- paused clocks never fire
UPDATE sla_hd.tickets SET status = 'open', updated_at = '2024-03-11 12:30+00' WHERE id = 2;
SELECT * FROM clocks(2);
-- the audit trail: running segments, paused time between them
SELECT s.starts, s.ends FROM escalation.clock_segments s JOIN escalation.clocks c USING (clock_id)
 WHERE c.ticket_key = '2' AND c.metric = 'first_response' ORDER BY s.starts;

--------------------------------------------------------------------------
-- 3. Internal notes and bots do not count; replies meet; periodic update
--------------------------------------------------------------------------
SELECT say(2, 'agent', '2024-03-11 13:00+00', private => true);
SELECT say(2, 'bot',   '2024-03-11 13:05+00');
SELECT metric, round, state FROM clocks(2) WHERE metric IN ('first_response', 'periodic_update');
SELECT say(2, 'agent', '2024-03-11 13:10+00');
-- first response met; the periodic update is met and a new round starts
SELECT metric, round, state, started_at, due_at
  FROM escalation.clocks WHERE ticket_key = '2' AND metric IN ('first_response', 'periodic_update')
 ORDER BY metric, round;

--------------------------------------------------------------------------
-- 4. Next response: one clock from the oldest waiting customer message
--------------------------------------------------------------------------
INSERT INTO sla_hd.tickets (id, priority, account, subject, created_at, updated_at)
VALUES (4, 'urgent', 'globex', 'Cannot log in', '2024-03-04 10:00+00', '2024-03-04 10:00+00');
SELECT say(4, 'agent',    '2024-03-04 10:20+00');
SELECT say(4, 'customer', '2024-03-04 11:00+00');
SELECT say(4, 'customer', '2024-03-04 11:30+00');   -- waits with the first
SELECT metric, round, state, due_at FROM clocks(4) WHERE metric = 'next_response';
SELECT say(4, 'agent',    '2024-03-04 12:00+00');
SELECT say(4, 'customer', '2024-03-04 14:00+00');   -- a new round
SELECT metric, round, state, elapsed, due_at, finished_at FROM clocks(4) WHERE metric = 'next_response';
SELECT escalation.run_cycle('2024-03-04 16:05+00') AS handled;
SELECT * FROM firings(4);

--------------------------------------------------------------------------
-- 5. Re-prioritisation moves the clocks, elapsed time kept
--------------------------------------------------------------------------
-- standard (first response 4 business hours) -> urgent (1 hour, 24x7)
-- after 1.5 business hours: the new target is already breached
INSERT INTO sla_hd.tickets (id, account, subject, created_at, updated_at)
VALUES (5, 'globex', 'Slow reports', '2024-03-05 08:00+00', '2024-03-05 08:00+00');
UPDATE sla_hd.tickets SET priority = 'urgent', updated_at = '2024-03-05 09:30+00' WHERE id = 5;
SELECT * FROM clocks(5);
SELECT escalation.run_cycle('2024-03-05 09:31+00') AS handled;
SELECT * FROM firings(5);

--------------------------------------------------------------------------
-- 6. Solve and reopen: resolution and age continue, nothing fires while solved
--------------------------------------------------------------------------
UPDATE sla_hd.tickets SET status = 'solved', updated_at = '2024-03-05 10:00+00' WHERE id = 5;
SELECT metric, state, elapsed, next_at, finished_at FROM clocks(5);
UPDATE sla_hd.tickets SET status = 'open', updated_at = '2024-03-05 12:00+00' WHERE id = 5;
SELECT metric, round, state, elapsed, due_at FROM clocks(5) WHERE metric IN ('resolution', 'periodic_update');

--------------------------------------------------------------------------
-- 7. Notifications wait for the addressed team's working hours
--------------------------------------------------------------------------
UPDATE escalation.teams SET calendar = 'sla office', wake_severity = 4 WHERE name = 'tier2';
-- ticket 7 belongs to tier2; its first-response warning (severity 2) fires
-- on Saturday and waits for Monday 09:00 Berlin; the breach (severity 3)
-- too; a team without a calendar is told at once
INSERT INTO sla_hd.tickets (id, priority, team, account, subject, created_at, updated_at)
VALUES (7, 'urgent', 'tier2', 'globex', 'Weekend outage', '2024-03-09 10:00+00', '2024-03-09 10:00+00');
SELECT escalation.run_cycle('2024-03-09 12:00+00') AS handled;
SELECT c.metric, n.step, n.team, n.severity, n.notify_at, n.sent_at, n.payload ->> 'event' AS event
  FROM escalation.notifications n JOIN escalation.clocks c USING (clock_id)
 WHERE c.ticket_key = '7' ORDER BY c.metric, n.step;
SELECT escalation.run_cycle('2024-03-11 07:59+00') AS handled;   -- 08:59 in Berlin: the resolution breach, held too
SELECT escalation.run_cycle('2024-03-11 08:00+00') AS handled;   -- 09:00 Berlin: both go out
SELECT c.metric, n.step, n.sent_at FROM escalation.notifications n JOIN escalation.clocks c USING (clock_id)
 WHERE c.ticket_key = '7' ORDER BY c.metric, n.step;
-- a severity that wakes people goes out at once
UPDATE escalation.teams SET wake_severity = 2 WHERE name = 'tier2';
INSERT INTO sla_hd.tickets (id, priority, team, account, subject, created_at, updated_at)
VALUES (9, 'urgent', 'tier2', 'globex', 'Weekend outage', '2024-03-16 10:00+00', '2024-03-16 10:00+00');
SELECT escalation.run_cycle('2024-03-16 10:50+00') AS handled;
SELECT c.metric, n.step, n.notify_at, n.sent_at FROM escalation.notifications n JOIN escalation.clocks c USING (clock_id)
 WHERE c.ticket_key = '9' ORDER BY c.metric, n.step;
UPDATE escalation.teams SET calendar = NULL, wake_severity = 4 WHERE name = 'tier2';
--------------------------------------------------------------------------
-- 7b. Holidays and a DST change on the way
--------------------------------------------------------------------------
-- Thursday 2024-03-28 16:00 Berlin (15:00 UTC): one business hour that
-- day; Good Friday and Easter Monday are holidays, Berlin moves to CEST on
-- Sunday 03-31; the remaining 3 hours end Tuesday 12:00 CEST = 10:00 UTC
INSERT INTO escalation.calendar_holidays (calendar_id, day, name)
SELECT calendar_id, d::date, n FROM escalation.calendars,
       (VALUES ('2024-03-29', 'Good Friday'), ('2024-04-01', 'Easter Monday')) AS h(d, n)
 WHERE name = 'sla office';
INSERT INTO sla_hd.tickets (id, account, subject, created_at, updated_at)
VALUES (10, 'globex', 'Before Easter', '2024-03-28 15:00+00', '2024-03-28 15:00+00');
SELECT metric, target, due_at, next_at FROM clocks(10) WHERE metric IN ('first_response', 'resolution');

--------------------------------------------------------------------------
-- 8. What if, then recompute: the standard first response becomes 2 hours
--------------------------------------------------------------------------
INSERT INTO sla_hd.tickets (id, account, subject, created_at, updated_at)
VALUES (8, 'globex', 'Question', '2024-03-12 08:00+00', '2024-03-12 08:00+00');   -- Tuesday 09:00 Berlin
SELECT metric, state, due_at FROM clocks(8) WHERE metric = 'first_response';
UPDATE escalation.sla_targets SET target = '2 hours'
 WHERE metric = 'first_response'
   AND policy_id = (SELECT policy_id FROM escalation.sla_policies WHERE name = 'standard');
-- nothing changed yet; what-if lists what recompute would change
SELECT metric, state, due_at FROM clocks(8) WHERE metric = 'first_response';
SELECT ticket_key, metric, change, old_policy, new_policy, old_due_at, new_due_at, new_elapsed
  FROM escalation.sla_what_if('sla_hd.tickets', '2024-03-12 10:30+00')
 WHERE metric = 'first_response';
SELECT escalation.recompute_sla('sla_hd.tickets', '2024-03-12 10:30+00') > 0 AS recomputed;
SELECT metric, state, elapsed, due_at, next_at FROM clocks(8) WHERE metric = 'first_response';
SELECT count(*) AS left_to_change
  FROM escalation.sla_what_if('sla_hd.tickets', '2024-03-12 10:30+00');
SELECT escalation.run_cycle('2024-03-12 10:30+00') > 0 AS fired;
SELECT * FROM firings(8) WHERE metric = 'first_response';

--------------------------------------------------------------------------
-- 9. A policy that stops applying stops its clocks
--------------------------------------------------------------------------
UPDATE escalation.sla_policies SET teams = '{tier2}' WHERE name = 'standard';
SELECT escalation.recompute_sla('sla_hd.tickets', '2024-03-12 11:00+00') > 0 AS recomputed;
SELECT metric, state FROM clocks(8);
UPDATE escalation.sla_policies SET teams = NULL WHERE name = 'standard';

--------------------------------------------------------------------------
-- 10. Calibration from the source's own history
--------------------------------------------------------------------------
INSERT INTO sla_hd.tickets (id, status, priority, subject, created_at, updated_at, resolved_at)
SELECT 100 + g, 'solved', CASE WHEN g % 2 = 0 THEN 'urgent' ELSE 'normal' END, 'history',
       '2024-01-01 00:00+00'::timestamptz + g * interval '1 day',
       '2024-01-01 00:00+00'::timestamptz + g * interval '1 day',
       '2024-01-01 00:00+00'::timestamptz + g * interval '1 day'
           + CASE WHEN g % 2 = 0 THEN g * interval '10 minutes' ELSE g * interval '1 hour' END
  FROM generate_series(1, 20) AS g;
SELECT * FROM escalation.propose_sla_targets('sla_hd.tickets', since => '2024-01-01')
 WHERE metric = 'resolution';
SELECT regress_error($$SELECT * FROM escalation.propose_sla_targets('sla_hd.tickets', quantile => 1)$$);
SELECT regress_error($$SELECT * FROM escalation.propose_sla_targets('pg_class')$$);

-- A running clock's due times, as clock_start() writes them with a new
-- clock (no elapsed time, no firings), are what clock_schedule() computes
-- from sla_steps() for such a clock: new tickets of each policy, in and
-- out of the calendar's hours.
INSERT INTO sla_hd.tickets (id, priority, subject, created_at, updated_at) VALUES
    (901, 'urgent', 'fresh', '2024-03-14 08:00+00', '2024-03-14 08:00+00'),
    (902, 'normal', 'fresh', '2024-03-14 10:17+00', '2024-03-14 10:17+00'),
    (903, 'normal', 'fresh', '2024-03-15 16:59+00', '2024-03-15 16:59+00'),
    (904, 'urgent', 'fresh', '2024-03-16 23:30+00', '2024-03-16 23:30+00');
SELECT count(*) AS fresh_clocks, count(DISTINCT c.calendar) AS calendars
  FROM escalation.clocks c WHERE c.source_id = :sid AND c.ticket_key IN ('901', '902', '903', '904');
SELECT count(*) > 5 AS checked,
       count(*) FILTER (WHERE c.due_at IS DISTINCT FROM
                                  escalation.sla_add(c.calendar, c.running_since,
                                                     extract(epoch FROM c.target)::float8)
                           OR c.next_at IS DISTINCT FROM
                                  (SELECT escalation.sla_add(c.calendar, c.running_since, min(s.at_secs))
                                     FROM escalation.sla_steps(c.policy_id, c.metric, c.target) s)) AS differ,
       count(DISTINCT c.calendar) AS calendars
  FROM escalation.clocks c
 WHERE c.state = 'running' AND c.elapsed = '0'
   AND NOT EXISTS (SELECT 1 FROM escalation.clock_firings f WHERE f.clock_id = c.clock_id);

--------------------------------------------------------------------------
-- 11. Sources without a policy keep no clocks; the helpdesk write never fails
--------------------------------------------------------------------------
UPDATE escalation.sla_policies SET enabled = false;
INSERT INTO sla_hd.tickets (id, subject, created_at, updated_at)
VALUES (11, 'untracked', '2024-03-12 08:00+00', '2024-03-12 08:00+00');
SELECT count(*) AS clocks_of_11 FROM escalation.clocks WHERE ticket_key = '11';

-- after detach, nothing of the source fires again: a cycle retires (stops)
-- its due clocks instead of firing them; the others have nothing left to fire
SELECT count(*) > 0 AS open_clocks FROM escalation.clocks c
 WHERE c.source_id = :sid AND c.state IN ('running', 'paused');
SELECT escalation.detach('sla_hd.tickets');
SELECT escalation.run_cycle('2024-06-01 00:00+00') >= 0 AS cycled;
SELECT count(*) AS still_running, count(*) FILTER (WHERE next_at IS NOT NULL) AS still_due
  FROM escalation.clocks c WHERE c.source_id = :sid AND c.state IN ('running', 'paused');
SELECT count(*) AS fired_after_detach FROM escalation.clock_firings f
 WHERE f.source_id = :sid AND f.fired_at = '2024-06-01 00:00+00';
DROP SCHEMA sla_hd CASCADE;
DROP FUNCTION public.say(integer, text, timestamptz, boolean);
DROP FUNCTION public.clocks(integer);
DROP FUNCTION public.firings(integer);
DELETE FROM escalation.routing_settings;
