--
-- textpass: the ticket and message triggers tokenise a row's text once
-- (src/textpass.c) for keyword rules, sentiment and triage.  What the
-- trigger decides and records equals what the standalone functions say
-- (match_keywords(), sentiment(), frustration(), classify()) on a varied
-- fixture: ASCII and non-ASCII, capitals, emoticons and emoji, words too
-- long to be words, digits, empty and missing fields, a phrase split
-- between subject and body, and a text of about 1 MB.  And an insert, an
-- update and a message each cost one tokenising pass
-- (escalation.text_passes(), internal).
--
SET TimeZone = 'UTC';

CREATE SCHEMA tp;
CREATE TABLE tp.tickets (
    id        serial PRIMARY KEY,
    subject   text,
    body      text,
    status    text NOT NULL DEFAULT 'open',
    priority  text,
    team      text,
    escalated boolean
);
CREATE TABLE tp.messages (
    id        serial PRIMARY KEY,
    ticket_id integer NOT NULL,
    author    text NOT NULL,
    body      text
);
SELECT escalation.attach('tp.tickets', key => 'id', subject => 'subject', body => 'body',
                         status => 'status', status_map => '{"open": ["open"], "solved": ["solved"]}',
                         priority => 'priority', team => 'team', name => 'tp',
                         messages => 'tp.messages', message_ticket => 'ticket_id',
                         message_body => 'body', message_author => 'author') > 0 AS attached;
SELECT source_id AS src FROM escalation.sources WHERE name = 'tp' \gset

-- a history to train on: 60 solved tickets of three teams
INSERT INTO tp.tickets (subject, body, status, priority, team, escalated)
SELECT s.subj[1 + i % 3], s.body[1 + (i * 7) % 4], 'solved',
       CASE WHEN i % 3 = 0 THEN 'high' ELSE 'normal' END, s.team, s.team <> 'tp_desk'
  FROM (VALUES
    ('tp_billing', ARRAY['Invoice is wrong', 'Refund request', 'Charged twice'],
     ARRAY['My invoice shows the wrong amount, please correct the charges.',
           'I was charged twice for the same subscription, I need a refund.',
           'The payment failed but the invoice says paid.',
           'Please send a refund for the duplicate charge on my invoice.']),
    ('tp_network', ARRAY['VPN keeps dropping', 'No wifi in office', 'Router down'],
     ARRAY['The VPN connection drops every few minutes from home.',
           'Wifi in the office is down, the router shows a red light.',
           'Network connection is very slow, packets are lost.',
           'The router restarted and the wifi network is gone.']),
    ('tp_desk', ARRAY['Password reset', 'Cannot log in', 'Account locked'],
     ARRAY['Please reset my password, I forgot it.',
           'I cannot log in, my account is locked after three attempts.',
           'Login fails with invalid password, please unlock my account.',
           'Need a password reset for my user account.'])
  ) AS s(team, subj, body), generate_series(1, 20) AS i;
SELECT activated, teams FROM escalation.train('tp.tickets', escalated_column => 'escalated',
                                              min_df => 1, activate => 'always');

-- the predicted teams receive escalations (tier 2)
INSERT INTO escalation.teams (name, tier) VALUES ('tp_billing', 2), ('tp_network', 2), ('tp_desk', 2);

-- rules of this source that fire on (nearly) every ticket, so that their
-- evidence shows what the trigger computed: sentiment below 1, any
-- frustration, any escalation probability, and keywords
INSERT INTO escalation.rules (name, source_id, sentiment_below, target_tier, level)
VALUES ('tp_sentiment', :src, 1, 2, 2);
INSERT INTO escalation.rules (name, source_id, frustration_above, target_tier, level)
VALUES ('tp_frustration', :src, 0, 2, 3);
INSERT INTO escalation.rules (name, source_id, applies_to, escalation_probability_at_least,
                              team_confidence_at_least, target_tier, level)
VALUES ('tp_triage', :src, 'ticket', 0.000001, 0.000001, 2, 4);
INSERT INTO escalation.rules (name, source_id, keywords, target_tier, level) VALUES
    ('tp_kw_refund', :src, '{refund,money back}', 2, 5),
    ('tp_kw_cancel', :src, '{cancel my subscription}', 2, 6),
    ('tp_kw_network', :src, '{router,wifi}', 2, 7),
    ('tp_kw_erstatten', :src, '{rückerstattung}', 2, 8);

-- the fixture
CREATE TABLE tp.fixture (n int PRIMARY KEY, subject text, body text, priority text);
INSERT INTO tp.fixture VALUES
 (1, 'Refund please', 'I was charged twice for my subscription, please refund the duplicate charge!!', 'high'),
 (2, 'VPN DOWN', 'THE VPN IS DOWN AGAIN AND NOBODY CARES :( this is the third time I write', NULL),
 (3, 'Rückerstattung', 'Die Rechnung ist falsch 😠 — bitte erstatten Sie den Betrag. Très déçu… 返金してください. Rückerstattung!', 'normal'),
 (4, 'x', repeat('a', 70) || ' refund ' || repeat('supercalifragilistic', 5) || ' router ' || repeat('ü', 40), 'normal'),
 (5, '', '', NULL),
 (6, 'Password reset', NULL, 'normal'),
 (7, NULL, 'my account is locked, can''t log in?? please help', 'high'),
 (8, 'Invoice INV-2045', 'Order 12345 v2.3.1 charged 4111 1111 twice. Not good, but ok.', 'normal'),
 (9, E'Thanks :)\tgreat', E'Great work!!! but the wifi router is still slow...\n\nno one answered\r\nGIVE MY MONEY BACK', 'normal'),
 (10, 'please cancel my', 'subscription now, I do not want to cancel my subscription', NULL),
 (11, 'please cancel my', 'subscription now', NULL),
 (12, 'Huge log', repeat(E'The router crashed again, this is unacceptable! Refund? \n', 18000), 'high');
SELECT n, octet_length(coalesce(subject, '') || coalesce(body, '')) AS bytes FROM tp.fixture WHERE n IN (4, 12) ORDER BY n;

-- each insert makes one tokenising pass over subject and body
CREATE TABLE tp.passes (n int, passes bigint);
DO $$
DECLARE
    f record;
    p bigint;
BEGIN
    FOR f IN SELECT * FROM tp.fixture ORDER BY n LOOP
        p := escalation.text_passes();
        INSERT INTO tp.tickets (id, subject, body, priority) VALUES (1000 + f.n, f.subject, f.body, f.priority);
        INSERT INTO tp.passes VALUES (f.n, escalation.text_passes() - p);
    END LOOP;
END
$$;
SELECT passes, count(*) AS tickets FROM tp.passes GROUP BY passes ORDER BY passes;

-- what each rule recorded, by ticket
CREATE VIEW tp.recorded AS
SELECT e.ticket_key::int - 1000 AS n, r ->> 'rule' AS rule, r
  FROM escalation.escalations e, jsonb_array_elements(e.reasons) r
 WHERE e.source_id = (SELECT source_id FROM escalation.sources WHERE name = 'tp')
   AND e.ticket_key::int > 1000 AND r ->> 'rule' LIKE 'tp\_%';
-- the text the trigger judges: subject, a line break, body
CREATE VIEW tp.judged AS
SELECT n, priority,
       CASE WHEN body IS NULL THEN coalesce(subject, '')
            WHEN coalesce(subject, '') = '' THEN body
            ELSE subject || E'\n' || body END AS text
  FROM tp.fixture;

-- sentiment: the recorded polarity (3 decimals) is sentiment()'s
SELECT j.n, round(escalation.sentiment(j.text)::numeric, 3) AS polarity,
       (r.r -> 'sentiment' ->> 'polarity')::numeric AS recorded,
       (r.r -> 'sentiment' ->> 'polarity')::numeric = round(escalation.sentiment(j.text)::numeric, 3) AS same
  FROM tp.judged j LEFT JOIN tp.recorded r ON r.n = j.n AND r.rule = 'tp_sentiment'
 ORDER BY j.n;
-- frustration: recorded exactly when frustration() is above 0, with its score
SELECT j.n, round(escalation.frustration(j.text)::numeric, 3) AS frustration,
       (r.r -> 'frustration' ->> 'score')::numeric AS recorded,
       r.r IS NOT NULL = (escalation.frustration(j.text) > 0) AS fired_alike,
       r.r IS NULL OR (r.r -> 'frustration' ->> 'score')::numeric
                      = round(escalation.frustration(j.text)::numeric, 3) AS same
  FROM tp.judged j LEFT JOIN tp.recorded r ON r.n = j.n AND r.rule = 'tp_frustration'
 ORDER BY j.n;
-- triage: the recorded prediction is classify()'s: team, both
-- probabilities and the words that weighed most
SELECT j.n, c.team, round(c.probability::numeric, 3) AS probability,
       round(c.escalation_probability::numeric, 3) AS escalation_probability,
       t.r -> 'triage' ->> 'predicted_team' = c.team AS same_team,
       (t.r -> 'triage' ->> 'confidence')::numeric = round(c.probability::numeric, 3) AS same_p,
       (t.r -> 'triage' ->> 'escalation_probability')::numeric
           = round(c.escalation_probability::numeric, 3) AS same_e,
       ARRAY(SELECT jsonb_array_elements_text(t.r -> 'triage' -> 'words')) = c.words AS same_words
  FROM tp.judged j
  CROSS JOIN LATERAL escalation.classify(j.text, 'tp.tickets', j.priority) c
  LEFT JOIN tp.recorded t ON t.n = j.n AND t.rule = 'tp_triage'
 ORDER BY j.n;
-- keywords: a rule fires when match_keywords() finds one of its keywords in
-- the subject or in the body (a phrase never runs from one into the other)
SELECT f.n, k.name AS rule,
       EXISTS (SELECT FROM tp.recorded r WHERE r.n = f.n AND r.rule = k.name) AS fired,
       EXISTS (SELECT FROM escalation.match_keywords(coalesce(f.subject, ''), k.keywords))
       OR EXISTS (SELECT FROM escalation.match_keywords(coalesce(f.body, ''), k.keywords)) AS matched
  FROM tp.fixture f CROSS JOIN escalation.rules k
 WHERE k.name LIKE 'tp\_kw\_%'
   AND (EXISTS (SELECT FROM tp.recorded r WHERE r.n = f.n AND r.rule = k.name)
        OR EXISTS (SELECT FROM escalation.match_keywords(coalesce(f.subject, ''), k.keywords))
        OR EXISTS (SELECT FROM escalation.match_keywords(coalesce(f.body, ''), k.keywords)))
 ORDER BY f.n, k.name;

-- an update that leaves the text as it was judges the old row with the new
-- row's pass: one pass; new text is a new pass
SELECT escalation.text_passes() AS p \gset
UPDATE tp.tickets SET priority = 'low' WHERE id = 1001;
SELECT escalation.text_passes() - :p AS update_passes;
SELECT escalation.text_passes() AS p \gset
UPDATE tp.tickets SET body = body || ' Still no refund.' WHERE id = 1002;
SELECT escalation.text_passes() - :p AS new_text_passes;

-- a customer's message (for a ticket the table does not have: the rules
-- still judge it): one pass over its body, and the recorded
-- sentiment is sentiment()'s
SELECT escalation.text_passes() AS p \gset
INSERT INTO tp.messages (ticket_id, author, body)
VALUES (1999, 'customer', 'This is UNACCEPTABLE!!! Nobody answered my refund request :(');
SELECT escalation.text_passes() - :p AS message_passes;
SELECT (r -> 'sentiment' ->> 'polarity')::numeric
         = round(escalation.sentiment('This is UNACCEPTABLE!!! Nobody answered my refund request :(')::numeric, 3)
         AS same_polarity
  FROM escalation.escalations e, jsonb_array_elements(e.reasons) r
 WHERE e.source_id = :src AND e.ticket_key = '1999' AND r ->> 'rule' = 'tp_sentiment'
   AND r ->> 'on' = 'message';

-- the standalone functions make a pass of their own
SELECT escalation.text_passes() AS p \gset
SELECT escalation.sentiment('one'), escalation.frustration('two') IS NOT NULL AS f;
SELECT escalation.text_passes() - :p AS standalone_passes;

-- internal: not for PUBLIC
SELECT has_function_privilege('public', 'escalation.text_passes()', 'EXECUTE') AS public_may;

DELETE FROM escalation.rules WHERE source_id = :src;
DELETE FROM escalation.teams WHERE name IN ('tp_billing', 'tp_network', 'tp_desk');
SELECT escalation.detach('tp.tickets');
DROP SCHEMA tp CASCADE;
