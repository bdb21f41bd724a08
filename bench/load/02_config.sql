-- bench/load/02_config.sql: teams, agents with small capacities, skills,
-- accounts, rules, SLA policies with targets of seconds (so that warnings,
-- breaches and ladder levels fire during a five-minute run), and routing
-- settings with short timeouts (offers time out, escalations overflow).

INSERT INTO escalation.teams (name, kind, tier) VALUES
    ('frontline',  'functional',   1),
    ('billing',    'functional',   2),
    ('security',   'functional',   2),
    ('technical',  'functional',   2),
    ('tier2',      'hierarchical', 2),
    ('management', 'hierarchical', 3);

-- 20 agents, capacities 1 to 3: agents are full much of the time
INSERT INTO escalation.agents (agent_id, team, tier, capacity, languages) VALUES
    ('fl1', 'frontline', 1, 3, '{en}'), ('fl2', 'frontline', 1, 3, '{en}'),
    ('fl3', 'frontline', 1, 2, '{en}'), ('fl4', 'frontline', 1, 2, '{en}'),
    ('bi1', 'billing', 2, 2, '{en}'),   ('bi2', 'billing', 2, 2, '{en}'),
    ('bi3', 'billing', 2, 1, '{en}'),
    ('se1', 'security', 2, 2, '{en}'),  ('se2', 'security', 2, 1, '{en}'),
    ('se3', 'security', 2, 1, '{en}'),
    ('te1', 'technical', 2, 2, '{en}'), ('te2', 'technical', 2, 2, '{en}'),
    ('te3', 'technical', 2, 1, '{en}'),
    ('t21', 'tier2', 2, 3, '{en}'),     ('t22', 'tier2', 2, 2, '{en}'),
    ('t23', 'tier2', 2, 2, '{en}'),     ('t24', 'tier2', 2, 1, '{en}'),
    ('mg1', 'management', 3, 2, '{en}'), ('mg2', 'management', 3, 1, '{en}'),
    ('mg3', 'management', 3, 1, '{en}');

UPDATE escalation.teams t SET lead_agent = l.agent
  FROM (VALUES ('frontline', 'fl1'), ('billing', 'bi1'), ('security', 'se1'),
               ('technical', 'te1'), ('tier2', 't21'), ('management', 'mg1')) AS l (team, agent)
 WHERE t.name = l.team;

INSERT INTO escalation.skills (name) VALUES
    ('refunds'), ('incident-response'), ('api'), ('de-escalation'), ('retention');
INSERT INTO escalation.agent_skills (agent_id, skill, level) VALUES
    ('bi1', 'refunds', 5), ('bi2', 'refunds', 3),               -- bi3 lacks it
    ('se1', 'incident-response', 5), ('se2', 'incident-response', 4), ('se3', 'incident-response', 2),
    ('te1', 'api', 5), ('te2', 'api', 4),                          -- te3 lacks it
    ('t21', 'de-escalation', 5), ('t22', 'de-escalation', 4), ('t23', 'de-escalation', 3),
    ('mg1', 'retention', 5), ('mg1', 'de-escalation', 4), ('mg2', 'retention', 3),
    ('mg3', 'de-escalation', 5);

-- 40 accounts: every fifth a VIP, renewals spread over the next 60 days,
-- owners among the managers for the first ten
INSERT INTO escalation.accounts (account_key, tier, vip, annual_value, renewal_date, owner_agent)
SELECT 'acct' || i, CASE WHEN i % 5 = 0 THEN 'enterprise' ELSE 'business' END, i % 5 = 0,
       1000 * i, current_date + (i * 3 % 60), CASE WHEN i <= 10 THEN 'mg' || (1 + i % 3) END
  FROM generate_series(1, 40) i;

INSERT INTO escalation.rules
    (name, keywords, pattern, priorities, field, field_op, field_value,
     account_vip, renewal_within, target_team, target_skills, kind, severity, level)
VALUES
('security incident', '{suspicious activity,data breach,hacked}', NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, 'security', '{incident-response}', 'functional', 4, 1),
('disputed charge over 500', '{dispute,chargeback}', NULL, NULL, 'disputed_amount', '>', '500',
  NULL, NULL, 'billing', '{refunds}', 'functional', 3, 1),
('confirmed bug', NULL, NULL, NULL, 'bug', '=', 'confirmed',
  NULL, NULL, 'technical', NULL, 'functional', 2, 1),
('server errors', NULL, '\m(error|status|http) 5[0-9]{2}\M', NULL, NULL, NULL, NULL,
  NULL, NULL, 'technical', '{api}', 'functional', 2, 1),
('outage', '{outage,blank page}', NULL, '{urgent,high}', NULL, NULL, NULL,
  NULL, NULL, 'technical', NULL, 'functional', 4, 1),
('angry VIP', '{unacceptable,furious}', NULL, NULL, NULL, NULL, NULL,
  true, NULL, 'management', '{de-escalation}', 'hierarchical', 3, 2),
('cancellation before renewal', '{cancel}', NULL, NULL, NULL, NULL, NULL,
  NULL, '30 days', 'management', '{retention}', 'hierarchical', 3, 2),
-- the same target and level as the SLA ladder's first level: a rule's
-- escalation and a ladder's meet on one open escalation
('asks for a manager', '{speak to a manager,escalate}', NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, 'tier2', NULL, 'hierarchical', 2, 1);

-- a calendar that works around the clock: business-time arithmetic counts
-- the same as calendar time, so the checks recount every clock alike
INSERT INTO escalation.calendars (name, time_zone) VALUES ('always', 'UTC');
INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
SELECT calendar_id, d, '00:00', '24:00' FROM escalation.calendars, generate_series(0, 6) d
 WHERE name = 'always';

SET client_min_messages = error;   -- overlap warnings: first match wins, intended
INSERT INTO escalation.sla_policies (name, position, priorities) VALUES
    ('urgent', 10, '{urgent}'), ('high', 20, '{high}'), ('standard', 30, NULL);
RESET client_min_messages;

INSERT INTO escalation.sla_targets (policy_id, metric, target, calendar, warn_at)
SELECT p.policy_id, t.metric, t.target::interval, t.calendar, t.warn_at::int[]
  FROM escalation.sla_policies p
  JOIN (VALUES
    ('urgent',   'first_response',  '20 seconds', NULL,     '{50,75}'),
    ('urgent',   'next_response',   '30 seconds', NULL,     '{50}'),
    ('urgent',   'periodic_update', '60 seconds', NULL,     '{}'),
    ('urgent',   'resolution',      '90 seconds', NULL,     '{75}'),
    ('urgent',   'age',             '3 minutes',  NULL,     '{}'),
    ('high',     'first_response',  '40 seconds', 'always', '{75}'),
    ('high',     'next_response',   '60 seconds', 'always', '{}'),
    ('high',     'periodic_update', '90 seconds', 'always', '{}'),
    ('high',     'resolution',      '2 minutes',  'always', '{50}'),
    ('high',     'age',             '4 minutes',  'always', '{}'),
    ('standard', 'first_response',  '60 seconds', NULL,     '{50}'),
    ('standard', 'next_response',   '90 seconds', NULL,     '{}'),
    ('standard', 'periodic_update', '2 minutes',  NULL,     '{}'),
    ('standard', 'resolution',      '4 minutes',  NULL,     '{}'),
    ('standard', 'age',             '3 minutes',  NULL,     '{80}')
  ) AS t(policy, metric, target, calendar, warn_at) ON t.policy = p.name;

INSERT INTO escalation.sla_ladder (policy_id, metric, level, after, target_team, to_account_owner, kind, severity)
SELECT p.policy_id, l.metric, l.level, l.after::interval, l.team, l.owner, 'hierarchical', l.sev
  FROM escalation.sla_policies p
  JOIN (VALUES
    ('urgent',   'first_response', 1, '0',          'tier2',      false, 3),
    ('urgent',   'first_response', 2, '20 seconds', 'management', true,  4),
    ('urgent',   'resolution',     1, '0',          'tier2',      false, 3),
    ('high',     'first_response', 1, '10 seconds', 'tier2',      false, 3),
    ('standard', 'first_response', 1, '30 seconds', 'frontline',  false, 2)
  ) AS l(policy, metric, level, after, team, owner, sev) ON l.policy = p.name;

INSERT INTO escalation.routing_settings (offer_timeout, relax_after, overflow_after)
VALUES ('20 seconds', '30 seconds', '60 seconds');
