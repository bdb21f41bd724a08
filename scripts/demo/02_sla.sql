-- scripts/demo/02_sla.sql: SLA policies on Helio's office hours.

\echo
\echo '== SLA policies: targets in business hours (Lisbon office, Mon-Fri 08:00-18:00) or 24x7'
INSERT INTO escalation.calendars (name, time_zone) VALUES ('helio office', 'Europe/Lisbon');
INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
SELECT calendar_id, d, '08:00', '18:00' FROM escalation.calendars, generate_series(1, 5) AS d
 WHERE name = 'helio office';
-- the frontline team is told in its hours, unless it is critical
UPDATE escalation.teams SET calendar = 'helio office', wake_severity = 4 WHERE name = 'frontline';

SET client_min_messages = error;   -- the overlap warnings are intended: first match wins
INSERT INTO escalation.sla_policies (name, position, priorities, description) VALUES
    ('urgent', 10, '{urgent}', 'urgent tickets, around the clock'),
    ('high',   20, '{high}',   'high priority, business hours'),
    ('standard', 30, NULL,     'everything else, business hours');
RESET client_min_messages;

INSERT INTO escalation.sla_targets (policy_id, metric, target, calendar, warn_at)
SELECT p.policy_id, t.metric, t.target::interval, t.calendar, t.warn_at::int[]
  FROM escalation.sla_policies p
  JOIN (VALUES
    ('urgent',   'first_response', '30 minutes', NULL,           '{50,75}'),
    ('urgent',   'next_response',  '1 hour',     NULL,           '{75}'),
    ('urgent',   'resolution',     '8 hours',    NULL,           '{75}'),
    ('high',     'first_response', '2 hours',    'helio office', '{75}'),
    ('high',     'next_response',  '4 hours',    'helio office', '{75}'),
    ('high',     'resolution',     '2 days',     'helio office', '{75}'),
    ('standard', 'first_response', '4 hours',    'helio office', '{75}'),
    ('standard', 'resolution',     '5 days',     'helio office', '{}'),
    ('standard', 'age',            '10 days',    NULL,           '{}')
  ) AS t(policy, metric, target, calendar, warn_at) ON t.policy = p.name;

-- the ladder: first tier2, then the account's owner, then management
INSERT INTO escalation.sla_ladder (policy_id, metric, level, after, target_team, to_account_owner, kind, severity)
SELECT p.policy_id, l.metric, l.level, l.after::interval, l.team, l.owner, 'hierarchical', l.sev
  FROM escalation.sla_policies p
  JOIN (VALUES
    ('urgent', 'first_response', 1, '0',          'tier2',      false, 3),
    ('urgent', 'first_response', 2, '30 minutes', 'management', true,  4),
    ('urgent', 'resolution',     1, '0',          'tier2',      false, 3),
    ('urgent', 'resolution',     2, '4 hours',    'management', false, 4),
    ('high',   'first_response', 1, '1 hour',     'tier2',      false, 3)
  ) AS l(policy, metric, level, after, team, owner, sev) ON l.policy = p.name;

SELECT p.position AS pos, p.name AS policy, coalesce(array_to_string(p.priorities, ','), 'any') AS priority,
       t.metric, t.target, coalesce(t.calendar, '24x7') AS counted,
       array_to_string(t.warn_at, ',') AS "warn %",
       (SELECT string_agg(format('L%s +%s -> %s', l.level, l.after,
                                 CASE WHEN l.to_account_owner THEN 'account owner' ELSE l.target_team END),
                          '; ' ORDER BY l.level)
          FROM escalation.sla_ladder l WHERE l.policy_id = t.policy_id AND l.metric = t.metric) AS ladder
  FROM escalation.sla_policies p JOIN escalation.sla_targets t USING (policy_id)
 ORDER BY p.position, t.metric;
