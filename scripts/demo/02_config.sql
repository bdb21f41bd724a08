-- scripts/demo/02_config.sql: teams, agents, skills, accounts and rules, as rows.

INSERT INTO escalation.teams (name, kind, tier, description) VALUES
    ('frontline',  'functional',   1, 'first line support: answers every ticket first'),
    ('billing',    'functional',   2, 'invoices, refunds, disputed charges'),
    ('security',   'functional',   2, 'account security and incidents'),
    ('product',    'functional',   2, 'bugs and product defects'),
    ('technical',  'functional',   2, 'API, integrations, outages'),
    ('tier2',      'hierarchical', 2, 'senior support: customers who ask for more authority'),
    ('management', 'hierarchical', 3, 'support managers: VIPs, churn risk');

INSERT INTO escalation.agents (agent_id, name, team, tier, capacity, languages, time_zone) VALUES
    ('ana',    'Ana Souza',      'frontline',  1, 8, '{en,pt}', 'Europe/Lisbon'),
    ('ben',    'Ben Carter',     'frontline',  1, 8, '{en}',    'Europe/London'),
    ('chloe',  'Chloé Martin',   'frontline',  1, 8, '{en,fr}', 'Europe/Paris'),
    ('maria',  'Maria Keller',   'billing',    2, 5, '{en,de}', 'Europe/Berlin'),
    ('tom',    'Tom Okafor',     'billing',    2, 5, '{en}',    'Europe/London'),
    ('priya',  'Priya Natarajan','security',   2, 4, '{en}',    'Europe/London'),
    ('jonas',  'Jonas Berg',     'security',   2, 4, '{en,sv}', 'Europe/Stockholm'),
    ('lea',    'Lea Fischer',    'product',    2, 6, '{en,de}', 'Europe/Berlin'),
    ('omar',   'Omar Haddad',    'technical',  2, 5, '{en,ar}', 'Europe/Paris'),
    ('kim',    'Kim Tanaka',     'technical',  2, 5, '{en,ja}', 'UTC'),
    ('sam',    'Sam Reyes',      'tier2',      2, 6, '{en,es}', 'Europe/Madrid'),
    ('rosa',   'Rosa Lind',      'tier2',      2, 6, '{en}',    'Europe/Stockholm'),
    ('victor', 'Victor Dumont',  'management', 3, 4, '{en,fr}', 'Europe/Paris');

UPDATE escalation.teams t SET lead_agent = l.agent
  FROM (VALUES ('frontline', 'ben'), ('billing', 'maria'), ('security', 'priya'), ('product', 'lea'),
               ('technical', 'omar'), ('tier2', 'sam'), ('management', 'victor')) AS l (team, agent)
 WHERE t.name = l.team;

INSERT INTO escalation.skills (name, description) VALUES
    ('refunds',           'refunds and credit notes'),
    ('invoicing',         'invoices, VAT, payment methods'),
    ('incident-response', 'security incidents, account lock-down'),
    ('bug-triage',        'reproducing and filing defects'),
    ('api',               'REST API and webhooks'),
    ('integrations',      'SSO and third-party integrations'),
    ('de-escalation',     'calming upset customers'),
    ('retention',         'renewals and cancellations');

INSERT INTO escalation.agent_skills (agent_id, skill, level) VALUES
    ('maria', 'refunds', 5), ('maria', 'invoicing', 4), ('tom', 'invoicing', 5), ('tom', 'refunds', 3),
    ('priya', 'incident-response', 5), ('jonas', 'incident-response', 4),
    ('lea', 'bug-triage', 5), ('omar', 'api', 5), ('omar', 'integrations', 3),
    ('kim', 'api', 4), ('kim', 'integrations', 5),
    ('sam', 'de-escalation', 5), ('rosa', 'de-escalation', 4), ('sam', 'retention', 3),
    ('victor', 'retention', 5), ('victor', 'de-escalation', 4),
    ('ana', 'invoicing', 2), ('ben', 'bug-triage', 2), ('chloe', 'api', 2);

-- customer accounts: the value of helpdesk.tickets.account, with tier, VIP
-- flag, annual value and renewal date (the demo's stream runs 4-15 March 2024)
INSERT INTO escalation.accounts (account_key, name, tier, vip, annual_value, renewal_date, owner_agent) VALUES
    ('wayne',      'Wayne Enterprises',     'enterprise', true,  480000, '2024-09-30', 'victor'),
    ('stark',      'Stark Industries',      'enterprise', true,  350000, '2024-03-25', 'victor'),
    ('tyrell',     'Tyrell Corporation',    'enterprise', true,  220000, '2024-11-01', 'victor'),
    ('aperture',   'Aperture Science',      'enterprise', true,  150000, '2024-06-15', 'sam'),
    ('globex',     'Globex',                'enterprise', false, 120000, '2024-03-20', 'sam'),
    ('initech',    'Initech',               'business',   false,  36000, '2024-04-02', 'sam'),
    ('hooli',      'Hooli',                 'business',   false,  54000, '2024-03-28', 'rosa'),
    ('umbrella',   'Umbrella Corporation',  'business',   false,  42000, '2025-01-10', 'rosa'),
    ('cyberdyne',  'Cyberdyne Systems',     'business',   false,  28000, '2024-08-01', 'rosa'),
    ('soylent',    'Soylent',               'business',   false,  19000, '2024-05-05', NULL),
    ('massive',    'Massive Dynamic',       'business',   false,  61000, '2024-12-12', NULL),
    ('oscorp',     'Oscorp',                'business',   false,  33000, '2024-07-07', NULL),
    ('wonka',      'Wonka Industries',      'standard',   false,   4800, '2024-03-18', NULL),
    ('monarch',    'Monarch Solutions',     'standard',   false,   2400, '2024-10-20', NULL),
    ('gringotts',  'Gringotts',             'standard',   false,   9600, '2024-04-30', NULL),
    ('vandelay',   'Vandelay Industries',   'standard',   false,   1200, '2024-03-12', NULL),
    ('pied-piper', 'Pied Piper',            'standard',   false,   3600, '2024-09-09', NULL),
    ('dunder',     'Dunder Mifflin',        'standard',   false,   2400, '2024-06-01', NULL),
    ('bluth',      'Bluth Company',         'standard',   false,   1800, '2024-03-30', NULL),
    ('nakatomi',   'Nakatomi Trading',      'standard',   false,   7200, '2025-02-14', NULL);

-- the rules of the product brief, and a few more a support lead would add
INSERT INTO escalation.rules
    (name, description, keywords, pattern, priorities, field, field_op, field_value,
     account_vip, renewal_within, target_team, target_skills, kind, severity, level)
VALUES
('security incident', 'unauthorized access, suspicious activity or a data breach is mentioned',
  '{unauthorized access,unauthorised access,suspicious activity,data breach,hacked}', NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, 'security', '{incident-response}', 'functional', 4, 1),
('disputed charge over $500', 'a charge over $500 is disputed',
  '{dispute,chargeback}', NULL, NULL, 'disputed_amount', '>', '500',
  NULL, NULL, 'billing', '{refunds}', 'functional', 3, 1),
('confirmed bug', 'an agent has confirmed the bug',
  NULL, NULL, NULL, 'bug', '=', 'confirmed',
  NULL, NULL, 'product', '{bug-triage}', 'functional', 2, 1),
('angry VIP', 'a VIP customer is angry',
  '{unacceptable,furious,ridiculous,worst service,fed up,extremely disappointed}', NULL, NULL, NULL, NULL, NULL,
  true, NULL, 'management', '{de-escalation}', 'hierarchical', 3, 2),
('cancellation before renewal', 'the customer wants to cancel and the renewal is less than 30 days away',
  '{cancel,terminate our contract}', NULL, NULL, NULL, NULL, NULL,
  NULL, '30 days', 'management', '{retention}', 'hierarchical', 3, 2),
('server errors', 'the customer reports HTTP 5xx errors from the API',
  NULL, '\m(error|status|http) 5[0-9]{2}\M', NULL, NULL, NULL, NULL,
  NULL, NULL, 'technical', '{api}', 'functional', 2, 1),
('outage', 'an outage on an urgent or high-priority ticket',
  '{outage,service unavailable,blank page}', NULL, '{urgent,high}', NULL, NULL, NULL,
  NULL, NULL, 'technical', NULL, 'functional', 4, 1),
('asks for a manager', 'the customer asks for someone with more authority',
  '{speak to a manager,supervisor,escalate}', NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, 'tier2', '{de-escalation}', 'hierarchical', 2, 1);

\echo
\echo '== Configuration: teams, agents, accounts and rules are plain rows'
SELECT t.name AS team, t.kind, t.tier, t.lead_agent AS lead,
       string_agg(a.agent_id, ', ' ORDER BY a.agent_id) AS agents
  FROM escalation.teams t LEFT JOIN escalation.agents a ON a.team = t.name
 GROUP BY t.name, t.kind, t.tier, t.lead_agent
 ORDER BY t.tier, t.kind DESC, t.name;

SELECT name AS rule, concat_ws(' AND ',
           'any of ' || array_to_string(keywords, ' | '),
           'pattern ' || pattern,
           'priority in ' || array_to_string(priorities, ','),
           field || ' ' || field_op || ' ' || field_value,
           CASE WHEN account_vip THEN 'VIP account' END,
           'renewal within ' || renewal_within) AS "when",
       concat_ws(' ', target_team, '(' || array_to_string(target_skills, ',') || ')') AS "escalate to",
       kind, severity AS sev, level
  FROM escalation.rules ORDER BY rule_id;
