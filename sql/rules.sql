--
-- rules: every kind of condition (keyword, phrase, pattern, case-sensitive
-- pattern, priorities, channels, numeric and text fields, VIP, account tiers,
-- minimum annual value, renewal window), the routing criteria of the brief,
-- and how fired rules become escalations: same level and target -> one
-- escalation with several reasons; different targets or levels -> several.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';

CREATE SCHEMA rules_hd;
CREATE TABLE rules_hd.tickets (
    id         integer PRIMARY KEY,
    status     text NOT NULL DEFAULT 'open',
    priority   text NOT NULL DEFAULT 'normal',
    channel    text NOT NULL DEFAULT 'email',
    subject    text,
    body       text,
    account    text,
    amount     numeric,
    category   text,
    bug_state  text,
    created_at timestamptz NOT NULL DEFAULT '2024-01-20 12:00+00',
    updated_at timestamptz
);

SELECT escalation.attach('rules_hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": ["open"], "pending": ["pending"], "solved": ["solved"]}',
           priority => 'priority', channel => 'channel', subject => 'subject', body => 'body',
           account => 'account', created_at => 'created_at', updated_at => 'updated_at',
           fields => '{"amount": "amount", "category": "category", "bug_state": "bug_state"}') AS sid \gset

-- The routing criteria of the brief, as rules:
--   security if unauthorized access, suspicious activity or data breach is mentioned
INSERT INTO escalation.rules (name, source_id, keywords, target_team, severity, description)
VALUES ('security: mentioned', :sid, '{"unauthorized access", "suspicious activity", "data breach"}',
        'security', 4, 'security if unauthorized access, suspicious activity or data breach is mentioned');
--   billing if a charge over $500 is disputed
INSERT INTO escalation.rules (name, source_id, keywords, field, field_op, field_value, target_team, severity, description)
VALUES ('billing: disputed charge over 500', :sid, '{dispute, chargeback}', 'amount', '>', '500',
        'billing', 3, 'billing if a charge over $500 is disputed');
--   product if a confirmed bug
INSERT INTO escalation.rules (name, source_id, field, field_op, field_value, target_team, description)
VALUES ('product: confirmed bug', :sid, 'bug_state', '=', 'confirmed', 'product', 'product if a confirmed bug');

-- more rules, one per kind of condition
INSERT INTO escalation.rules (name, source_id, pattern, target_team, severity)
VALUES ('security: leaked password', :sid, 'password.{0,20}(leak|stolen)', 'security', 3);
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('billing: refund', :sid, '{refund}', 'billing');
INSERT INTO escalation.rules (name, source_id, keywords, min_annual_value, target_team, kind, severity)
VALUES ('retention: valuable account cancels', :sid, '{"cancel my subscription"}', 50000,
        'management', 'hierarchical', 3);
INSERT INTO escalation.rules (name, source_id, keywords, renewal_within, target_team, kind)
VALUES ('retention: cancel near renewal', :sid, '{cancel}', '30 days', 'management', 'hierarchical');
INSERT INTO escalation.rules (name, source_id, priorities, target_team, kind)
VALUES ('urgent priority', :sid, '{urgent, critical}', 'tier2', 'hierarchical');
INSERT INTO escalation.rules (name, source_id, pattern, case_sensitive, target_team, kind)
VALUES ('shouting URGENT', :sid, '\mURGENT\M', true, 'tier2', 'hierarchical');
INSERT INTO escalation.rules (name, source_id, channels, target_team, kind, severity)
VALUES ('public complaint', :sid, '{twitter, facebook}', 'management', 'hierarchical', 3);
INSERT INTO escalation.rules (name, source_id, pattern, target_skills, severity)
VALUES ('order number', :sid, '\mORD-[0-9]{6}\M', '{payments}', 1);
INSERT INTO escalation.rules (name, source_id, field, field_op, field_value, target_team, kind, level, severity)
VALUES ('legal matter', :sid, 'category', '=', 'legal', 'management', 'hierarchical', 2, 4);
INSERT INTO escalation.rules (name, source_id, account_vip, keywords, target_tier, kind)
VALUES ('vip outage', :sid, true, '{outage}', 3, 'hierarchical');
INSERT INTO escalation.rules (name, source_id, account_tiers, keywords, target_team)
VALUES ('premium tiers: slow', :sid, '{enterprise, premium}', '{slow}', 'tier2');

SELECT name, applies_to, keywords, pattern, case_sensitive, priorities, channels,
       field, field_op, field_value, account_vip, account_tiers, min_annual_value, renewal_within,
       target_team, target_skills, target_tier, kind, severity, level
  FROM escalation.rules WHERE source_id = :sid ORDER BY name;

INSERT INTO rules_hd.tickets (id, priority, channel, subject, body, account, amount, category, bug_state, created_at, status) VALUES
 (1,  'normal', 'email',   'Login', 'Someone got unauthorized access to my account', NULL, NULL, NULL, NULL, DEFAULT, DEFAULT),
 (2,  'normal', 'email',   'Help', 'I saw suspicious activity and my password was stolen', NULL, NULL, NULL, NULL, DEFAULT, DEFAULT),
 (3,  'normal', 'email',   'Data breach?', NULL, 'acme', NULL, NULL, NULL, DEFAULT, DEFAULT),
 (4,  'normal', 'email',   'Invoice', 'I dispute this charge', NULL, 750, NULL, NULL, DEFAULT, DEFAULT),
 (5,  'normal', 'email',   'Invoice', 'I dispute this charge', NULL, 120, NULL, NULL, DEFAULT, DEFAULT),
 (6,  'normal', 'email',   'Chargeback', 'I filed a chargeback and want a refund', NULL, 900, NULL, NULL, DEFAULT, DEFAULT),
 (7,  'normal', 'email',   'Export crashes', 'It crashes every time', NULL, NULL, 'bug', 'confirmed', DEFAULT, DEFAULT),
 (8,  'normal', 'email',   'Export crashes?', 'Maybe a bug', NULL, NULL, 'bug', 'suspected', DEFAULT, DEFAULT),
 (9,  'normal', 'email',   'Leaving', 'Please cancel my subscription', 'initech', NULL, NULL, NULL, '2024-01-20 12:00+00', DEFAULT),
 (10, 'normal', 'email',   'Leaving', 'Please cancel my subscription', 'globex', NULL, NULL, NULL, '2024-01-20 12:00+00', DEFAULT),
 (11, 'normal', 'email',   'Leaving', 'Cancel subscription now', 'initech', NULL, NULL, NULL, '2024-02-05 12:00+00', DEFAULT),
 (12, 'urgent', 'email',   'Printer', 'The printer jams', NULL, NULL, NULL, NULL, DEFAULT, DEFAULT),
 (13, 'normal', 'email',   'URGENT: printer', 'The printer jams', NULL, NULL, NULL, NULL, DEFAULT, DEFAULT),
 (14, 'urgent', 'email',   'Printer', 'URGENT!!', NULL, NULL, NULL, NULL, DEFAULT, DEFAULT),
 (15, 'normal', 'email',   'urgent: printer', 'The printer jams (Urgent)', NULL, NULL, NULL, NULL, DEFAULT, DEFAULT),
 (16, 'normal', 'twitter', NULL, 'You are terrible', NULL, NULL, NULL, NULL, DEFAULT, DEFAULT),
 (17, 'normal', 'email',   'Order', 'Where is my order ord-123456?', NULL, NULL, NULL, NULL, DEFAULT, DEFAULT),
 (18, 'normal', 'email',   'Order', 'Where is my order ORD-1234567?', NULL, NULL, NULL, NULL, DEFAULT, DEFAULT),
 (19, 'normal', 'twitter', 'Lawyer', 'My lawyer will call you', NULL, NULL, 'legal', NULL, DEFAULT, DEFAULT),
 (20, 'normal', 'email',   'Outage', 'Another outage today', 'acme', NULL, NULL, NULL, DEFAULT, DEFAULT),
 (21, 'normal', 'email',   'Outage', 'Another outage today', 'globex', NULL, NULL, NULL, DEFAULT, DEFAULT),
 (22, 'normal', 'email',   'Slow', 'The app is slow', 'hooli', NULL, NULL, NULL, DEFAULT, DEFAULT),
 (23, 'normal', 'email',   'Slow', 'The app is slow', 'globex', NULL, NULL, NULL, DEFAULT, DEFAULT),
 (24, 'normal', 'email',   'Slow', 'The app is slow', 'nobody', NULL, NULL, NULL, DEFAULT, DEFAULT),
 (25, 'normal', 'email',   'Cancel', 'I will cancel', 'acme', NULL, NULL, NULL, '2024-02-20 12:00+00', DEFAULT),
 (26, 'normal', 'email',   'Cancel', 'I will cancel', 'acme', NULL, NULL, NULL, '2024-01-20 12:00+00', DEFAULT),
 (27, 'normal', 'email',   'Data breach', 'fixed now', NULL, NULL, NULL, NULL, DEFAULT, 'solved'),
 (28, 'normal', 'email',   'Data breach', 'and I dispute the chargeback', NULL, 600, NULL, NULL, DEFAULT, DEFAULT);

-- Every escalation, with the rules that raised it.  Tickets 2, 6, 9 and 14
-- have two rules for one target: one escalation with two reasons.  Tickets
-- 19 and 28 have two targets (or levels): two escalations.
SELECT e.ticket_key, e.level, e.kind, e.target_team, e.target_skills, e.target_tier, e.severity,
       e.created_at, jsonb_path_query_array(e.reasons, '$[*].rule') AS rules
  FROM escalation.escalations e
 WHERE e.source_id = :sid
 ORDER BY e.ticket_key::int, e.level, e.target_key;

-- the tickets that did not escalate: 5 (charge under 500), 8 (bug not
-- confirmed), 10 (small account, no renewal), 11 (phrase not as written,
-- renewal passed), 15 (pattern is case-sensitive), 18 (ORD- with 7 digits),
-- 21 (not VIP), 23 (standard tier), 24 (unknown account), 26 (renewal 55
-- days away), 27 (solved)
SELECT t.id FROM rules_hd.tickets t
 WHERE NOT EXISTS (SELECT 1 FROM escalation.escalations e
                    WHERE e.source_id = :sid AND e.ticket_key = t.id::text)
 ORDER BY t.id;

-- the evidence stored with each reason
SELECT e.ticket_key, e.target_team, e.target_tier, jsonb_pretty(regress_reasons(e.reasons)) AS reasons
  FROM escalation.escalations e
 WHERE e.source_id = :sid AND e.ticket_key IN ('2', '4', '9', '14', '17', '20', '22')
 ORDER BY e.ticket_key::int, e.target_key;

-- one "created" event per escalation, none for anything else
SELECT count(*) AS escalations,
       (SELECT count(*) FROM escalation.events v WHERE v.source_id = :sid) AS events,
       (SELECT count(*) FROM escalation.events v WHERE v.source_id = :sid AND v.event <> 'created') AS other_events
  FROM escalation.escalations WHERE source_id = :sid;

-- A rule added later for a target that already holds an open escalation
-- adds its reason to it (on the next write of the ticket), and raises the
-- severity if it is higher.
INSERT INTO escalation.rules (name, source_id, keywords, target_team, severity)
VALUES ('billing: invoice', :sid, '{invoice}', 'billing', 4);
UPDATE rules_hd.tickets SET body = body || ' (see invoice)', updated_at = '2024-01-21 09:00+00' WHERE id = 4;
SELECT ticket_key, target_team, severity, jsonb_path_query_array(reasons, '$[*].rule') AS rules
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '4';
SELECT event, from_status, to_status, actor, at,
       jsonb_path_query_array(detail, '$.reasons[*].rule') AS rules
  FROM escalation.events WHERE source_id = :sid AND ticket_key = '4' ORDER BY event_id;

-- rules of another source never fire here, global rules (source_id NULL) do
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
SELECT 'rules: other source only', source_id, '{printer}', 'product'
  FROM escalation.sources WHERE name = 'sample helpdesk';
INSERT INTO escalation.rules (name, keywords, target_team)
VALUES ('rules: every source', '{toner}', 'product');
INSERT INTO rules_hd.tickets (id, subject, body) VALUES (40, 'Printer', 'out of toner');
SELECT ticket_key, target_team, jsonb_path_query_array(reasons, '$[*].rule') AS rules
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '40';
DELETE FROM escalation.rules WHERE name IN ('rules: other source only', 'rules: every source');

-- disabled rules do not fire
UPDATE escalation.rules SET enabled = false WHERE source_id = :sid;
INSERT INTO rules_hd.tickets (id, subject, body, priority) VALUES (41, 'Data breach', 'unauthorized access', 'urgent');
SELECT count(*) AS escalated FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '41';
