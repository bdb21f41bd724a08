--
-- fields_accounts: field conditions on NULL, numeric and non-numeric values,
-- mapped fields (priority through its map), and account conditions with
-- unknown, missing and non-text account keys.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE SCHEMA fa_hd;
CREATE TABLE fa_hd.tickets (
    id         integer PRIMARY KEY,
    account_id bigint,           -- not text: matched to accounts.account_key as text
    priority   smallint,
    amount     text,             -- numbers as the helpdesk stores them: text
    score      numeric(4,1),
    region     varchar(10),
    body       text,
    created_at timestamptz NOT NULL DEFAULT '2024-01-20 12:00+00'
);

INSERT INTO escalation.accounts (account_key, name, tier, vip, annual_value, renewal_date) VALUES
    ('42', 'Forty-Two Ltd', 'enterprise', true, 100000, '2024-02-10'),
    ('7',  'Seven GmbH',    'standard',   false, NULL,  NULL);

SELECT escalation.attach('fa_hd.tickets', key => 'id', account => 'account_id',
           priority => 'priority', priority_map => '{"low": [1], "normal": [2], "urgent": [3]}',
           body => 'body', created_at => 'created_at',
           fields => '{"amount": "amount", "score": "score", "region": "region"}') AS sid \gset

INSERT INTO escalation.rules (name, source_id, field, field_op, field_value, target_team) VALUES
    ('amount > 500',       :sid, 'amount',   '>',  '500',     'tier2'),
    ('amount = 500',       :sid, 'amount',   '=',  '500',     'tier2'),
    ('amount <> 500',      :sid, 'amount',   '<>', '500',     'tier2'),
    ('amount <= -1.5e3',   :sid, 'amount',   '<=', '-1.5e3',  'tier2'),
    ('score >= 7.5',       :sid, 'score',    '>=', ' 7.5 ',   'tier2'),
    ('region = EU',        :sid, 'region',   '=',  'EU',      'tier2'),
    ('region <> EU',       :sid, 'region',   '<>', 'EU',      'tier2'),
    ('priority = urgent',  :sid, 'priority', '=',  'urgent',  'tier2');
INSERT INTO escalation.rules (name, source_id, priorities, target_team)
VALUES ('priorities urgent', :sid, '{urgent}', 'tier2');
INSERT INTO escalation.rules (name, source_id, account_vip, target_team) VALUES
    ('vip',     :sid, true,  'management'),
    ('not vip', :sid, false, 'management');
INSERT INTO escalation.rules (name, source_id, account_tiers, target_team)
VALUES ('enterprise or premium', :sid, '{enterprise, premium}', 'management');
INSERT INTO escalation.rules (name, source_id, min_annual_value, target_team)
VALUES ('worth 50000', :sid, 50000, 'management');
INSERT INTO escalation.rules (name, source_id, renewal_within, target_team)
VALUES ('renewal within 30 days', :sid, '30 days', 'management');

INSERT INTO fa_hd.tickets (id, account_id, priority, amount, score, region, body) VALUES
    (1,  42,   3,    '750',     8.0,  'EU',   'a'),
    (2,  NULL, 2,    '500.00',  7.5,  'eu',   'b'),
    (3,  999,  1,    ' 1e3 ',   7.4,  'US',   'c'),
    (4,  7,    NULL, 'abc',     NULL, NULL,   'd'),
    (5,  NULL, 9,    '',        NULL, '',     'e'),
    (6,  NULL, NULL, 'NaN',     NULL, NULL,   'f'),
    (7,  NULL, NULL, '-2000',   NULL, NULL,   'g'),
    (8,  NULL, NULL, NULL,      NULL, NULL,   NULL);

-- which rules fire for each ticket (explain at the ticket's own time)
SELECT t.id,
       array_agg(x.rule ORDER BY x.rule) FILTER (WHERE x.fires) AS fires
  FROM fa_hd.tickets t
  CROSS JOIN LATERAL escalation.explain('fa_hd.tickets', t.id::text, t.created_at) x
 GROUP BY t.id ORDER BY t.id;

-- and why not, for the interesting cases
SELECT t.id, x.rule, x.why_not
  FROM fa_hd.tickets t
  CROSS JOIN LATERAL escalation.explain('fa_hd.tickets', t.id::text, t.created_at) x
 WHERE NOT x.fires AND t.id IN (3, 4, 8)
 ORDER BY t.id, x.rule;

-- the trigger decided the same: one escalation per target, every rule a reason
SELECT e.ticket_key, e.target_team,
       (SELECT array_agg(r->>'rule' ORDER BY r->>'rule') FROM jsonb_array_elements(e.reasons) r) AS rules
  FROM escalation.escalations e
 WHERE e.source_id = :sid
 ORDER BY e.ticket_key::int, e.target_team;

-- the evidence of field and account conditions
SELECT e.ticket_key, jsonb_pretty(regress_reasons(e.reasons)) AS reasons
  FROM escalation.escalations e
 WHERE e.source_id = :sid AND e.ticket_key = '1' AND e.target_team = 'management';
SELECT r->'field' AS field_evidence
  FROM escalation.escalations e, jsonb_array_elements(e.reasons) r
 WHERE e.source_id = :sid AND e.ticket_key = '2' AND r ? 'field'
 ORDER BY r->>'rule';

-- the ticket's context names its account (or null when unknown)
SELECT e.ticket_key, e.context->'account' AS account
  FROM escalation.escalations e
 WHERE e.source_id = :sid AND e.target_team = 'tier2' AND e.ticket_key IN ('1', '3', '4')
 ORDER BY e.ticket_key;

-- accounts are cached per backend and dropped when escalation.accounts
-- changes: an account that appears, a VIP who is no longer one
INSERT INTO escalation.accounts (account_key, tier, vip) VALUES ('999', 'enterprise', true);
UPDATE escalation.accounts SET vip = false WHERE account_key = '42';
SELECT t.id, array_agg(x.rule ORDER BY x.rule) FILTER (WHERE x.fires AND x.target_team = 'management') AS account_rules
  FROM fa_hd.tickets t
  CROSS JOIN LATERAL escalation.explain('fa_hd.tickets', t.id::text, t.created_at) x
 WHERE t.id IN (1, 3)
 GROUP BY t.id ORDER BY t.id;
-- the trigger sees it too
INSERT INTO fa_hd.tickets (id, account_id, body) VALUES (10, 999, 'new');
SELECT e.ticket_key, (SELECT array_agg(r->>'rule' ORDER BY r->>'rule') FROM jsonb_array_elements(e.reasons) r) AS rules
  FROM escalation.escalations e WHERE e.source_id = :sid AND e.ticket_key = '10';
DELETE FROM escalation.accounts WHERE account_key = '999';
UPDATE escalation.accounts SET vip = true WHERE account_key = '42';

-- a numeric threshold compared with = accepts any spelling of the number;
-- a text threshold compares text exactly
UPDATE fa_hd.tickets SET amount = '5e2' WHERE id = 2;
SELECT x.rule, x.fires, x.evidence->'field'->>'value' AS value
  FROM escalation.explain('fa_hd.tickets', '2', '2024-01-20 12:00+00') x
 WHERE x.rule LIKE 'amount%'
 ORDER BY x.rule;

-- renewal windows: a row's date and each window's horizon are computed once
-- per row and shared by the rules asking (the first two windows remembered,
-- any further one computed on its own); the horizon's day is included, and
-- the row's date is taken in the session's time zone
INSERT INTO escalation.rules (name, source_id, renewal_within, target_team) VALUES
    ('renewal within 20 days',  :sid, '20 days', 'management'),
    ('renewal within 21 days',  :sid, '21 days', 'management'),
    ('renewal within 20 days again', :sid, '20 days', 'management'),
    ('renewal within 3 weeks',  :sid, '3 weeks', 'management'),
    ('renewal within 21 days again', :sid, '21 days', 'management');
SELECT x.rule, x.fires
  FROM escalation.explain('fa_hd.tickets', '1', '2024-01-20 12:00+00') x
 WHERE x.rule LIKE 'renewal%'
 ORDER BY x.rule;
SET timezone = 'Pacific/Kiritimati';   -- UTC+14: the row's date is the 21st
SELECT x.rule, x.fires
  FROM escalation.explain('fa_hd.tickets', '1', '2024-01-20 12:00+00') x
 WHERE x.rule LIKE 'renewal%'
 ORDER BY x.rule;
RESET timezone;
DELETE FROM escalation.rules
 WHERE source_id = :sid AND (name LIKE 'renewal within 2%' OR name = 'renewal within 3 weeks');
