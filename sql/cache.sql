--
-- cache: each backend keeps its configuration compiled, and drops it when
-- a configuration table changes.  Within one session: a rule inserted,
-- changed, disabled or deleted takes effect at the next statement, inside
-- or outside a transaction; a rolled-back change has no effect.
-- (Across sessions: test/isolation/specs/cache_invalidation.spec.)
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE SCHEMA cache_hd;
CREATE TABLE cache_hd.tickets (id integer PRIMARY KEY, subject text, body text, account text);
SELECT escalation.attach('cache_hd.tickets', key => 'id', subject => 'subject', body => 'body',
                         account => 'account') AS sid \gset

-- a helper: the rules that escalated ticket n
CREATE FUNCTION cache_hd.fired(n integer) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(r->>'rule' ORDER BY r->>'rule'), '{}')
      FROM escalation.escalations e, jsonb_array_elements(e.reasons) r
     WHERE e.source_id = (SELECT source_id FROM escalation.sources
                           WHERE ticket_table = 'cache_hd.tickets'::regclass AND attached)
       AND e.ticket_key = n::text
$$;

-- the cache is warm: a ticket went through the trigger with no rules
INSERT INTO cache_hd.tickets VALUES (1, 'Refund', 'refund please', NULL);
SELECT cache_hd.fired(1);

-- a new rule: the next statement sees it
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('cache: refund', :sid, '{refund}', 'billing');
INSERT INTO cache_hd.tickets VALUES (2, 'Refund', 'refund please', NULL);
SELECT cache_hd.fired(2);

-- a changed rule (new keywords)
UPDATE escalation.rules SET keywords = '{chargeback}' WHERE name = 'cache: refund';
INSERT INTO cache_hd.tickets VALUES (3, 'Refund', 'refund please', NULL), (4, 'Chargeback', 'a chargeback', NULL);
SELECT cache_hd.fired(3) AS refund, cache_hd.fired(4) AS chargeback;

-- disabled, enabled again
UPDATE escalation.rules SET enabled = false WHERE name = 'cache: refund';
INSERT INTO cache_hd.tickets VALUES (5, 'Chargeback', 'a chargeback', NULL);
UPDATE escalation.rules SET enabled = true WHERE name = 'cache: refund';
INSERT INTO cache_hd.tickets VALUES (6, 'Chargeback', 'a chargeback', NULL);
SELECT cache_hd.fired(5) AS while_disabled, cache_hd.fired(6) AS enabled_again;

-- deleted
DELETE FROM escalation.rules WHERE name = 'cache: refund';
INSERT INTO cache_hd.tickets VALUES (7, 'Chargeback', 'a chargeback', NULL);
SELECT cache_hd.fired(7);

-- inside one transaction, statement by statement
BEGIN;
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('cache: outage', :sid, '{outage}', 'tier2');
INSERT INTO cache_hd.tickets VALUES (8, 'Outage', 'an outage', NULL);
UPDATE escalation.rules SET enabled = false WHERE name = 'cache: outage';
INSERT INTO cache_hd.tickets VALUES (9, 'Outage', 'an outage', NULL);
COMMIT;
SELECT cache_hd.fired(8) AS while_enabled, cache_hd.fired(9) AS after_disabling;

-- a rolled-back insert of a rule: no effect afterwards
BEGIN;
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('cache: rolled back', :sid, '{printer}', 'product');
INSERT INTO cache_hd.tickets VALUES (10, 'Printer', 'printer jam', NULL);
SELECT cache_hd.fired(10) AS inside_the_transaction;
ROLLBACK;
INSERT INTO cache_hd.tickets VALUES (10, 'Printer', 'printer jam', NULL);
SELECT cache_hd.fired(10) AS after_rollback,
       (SELECT count(*) FROM escalation.rules WHERE name = 'cache: rolled back') AS rule_rows;

-- a rolled-back disabling: the rule still fires afterwards
UPDATE escalation.rules SET enabled = true WHERE name = 'cache: outage';
BEGIN;
UPDATE escalation.rules SET enabled = false WHERE name = 'cache: outage';
INSERT INTO cache_hd.tickets VALUES (11, 'Outage', 'an outage', NULL);
SELECT cache_hd.fired(11) AS inside_the_transaction;
ROLLBACK;
INSERT INTO cache_hd.tickets VALUES (12, 'Outage', 'an outage', NULL);
SELECT cache_hd.fired(12) AS after_rollback;

-- a rolled-back deletion, and a subtransaction rolled back
BEGIN;
DELETE FROM escalation.rules WHERE name = 'cache: outage';
ROLLBACK;
BEGIN;
SAVEPOINT s1;
UPDATE escalation.rules SET keywords = '{nothing}' WHERE name = 'cache: outage';
ROLLBACK TO SAVEPOINT s1;
INSERT INTO cache_hd.tickets VALUES (13, 'Outage', 'an outage', NULL);
COMMIT;
SELECT cache_hd.fired(13);

-- accounts and teams are configuration too
INSERT INTO escalation.rules (name, source_id, account_vip, target_team)
VALUES ('cache: vip', :sid, true, 'management');
INSERT INTO cache_hd.tickets VALUES (14, 'Hi', 'hello', 'cache-co');
INSERT INTO escalation.accounts (account_key, vip) VALUES ('cache-co', true);
INSERT INTO cache_hd.tickets VALUES (15, 'Hi', 'hello', 'cache-co');
UPDATE escalation.accounts SET vip = false WHERE account_key = 'cache-co';
INSERT INTO cache_hd.tickets VALUES (16, 'Hi', 'hello', 'cache-co');
SELECT cache_hd.fired(14) AS unknown_account, cache_hd.fired(15) AS vip, cache_hd.fired(16) AS no_longer_vip;
UPDATE escalation.teams SET name = 'management-renamed' WHERE name = 'management';
INSERT INTO escalation.accounts (account_key, vip) VALUES ('cache-co2', true);
INSERT INTO cache_hd.tickets VALUES (17, 'Hi', 'hello', 'cache-co2');
SELECT target_team FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '17';
UPDATE escalation.teams SET name = 'management' WHERE name = 'management-renamed';
-- rules follow the team's name; the record keeps the name it was written with
SELECT name, target_team FROM escalation.rules WHERE name = 'cache: vip';

-- the library's switch: escalation.enabled (superuser only) turns the
-- triggers off for this session
SET escalation.enabled = off;
INSERT INTO cache_hd.tickets VALUES (18, 'Outage', 'an outage', NULL);
RESET escalation.enabled;
INSERT INTO cache_hd.tickets VALUES (19, 'Outage', 'an outage', NULL);
SELECT cache_hd.fired(18) AS while_off, cache_hd.fired(19) AS back_on;

-- ALTER TABLE on the attached table reaches the cache too: a renamed
-- mapped column disables the source with a WARNING, the write goes on
ALTER TABLE cache_hd.tickets RENAME COLUMN body TO text_body;
INSERT INTO cache_hd.tickets (id, subject, text_body) VALUES (20, 'Outage', 'an outage');
INSERT INTO cache_hd.tickets (id, subject, text_body) VALUES (21, 'Outage', 'an outage');
ALTER TABLE cache_hd.tickets RENAME COLUMN text_body TO body;
INSERT INTO cache_hd.tickets VALUES (22, 'Outage', 'an outage', NULL);
SELECT cache_hd.fired(20) AS renamed, cache_hd.fired(22) AS renamed_back;

DELETE FROM escalation.rules WHERE source_id = :sid;
DELETE FROM escalation.accounts WHERE account_key LIKE 'cache-co%';
