--
-- triage: escalation.train() on a small history, classify() predicting the
-- obvious team, the two rule kinds (route to the predicted team, escalate
-- on predicted probability) with their evidence and explain(), the model
-- cache following versions, evaluate(), and refusals with errcodes.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

CREATE SCHEMA tri;
CREATE TABLE tri.tickets (
    id        serial PRIMARY KEY,
    subject   text,
    body      text,
    status    text NOT NULL DEFAULT 'open',
    priority  text,
    team      text,
    escalated boolean,
    test      boolean NOT NULL DEFAULT false
);
SELECT escalation.attach('tri.tickets', key => 'id', subject => 'subject', body => 'body',
                         status => 'status', status_map => '{"open": ["open"], "solved": ["solved"]}',
                         priority => 'priority', team => 'team', name => 'tri') > 0 AS attached;

-- no history yet: training refuses, rules alone decide
SELECT pg_temp.err($$SELECT escalation.train('tri.tickets')$$);

-- 60 resolved tickets of three teams; every fifth one is held out.  The
-- service desk ("desk") solves its own; billing and network are escalations.
INSERT INTO tri.tickets (subject, body, status, priority, team, escalated, test)
SELECT s.subj[1 + i % 4], s.body[1 + (i * 7) % 5], 'solved',
       CASE WHEN i % 3 = 0 THEN 'high' ELSE 'normal' END,
       s.team, s.team <> 'tri_desk', i % 5 = 0
  FROM (VALUES
    ('tri_billing',
     ARRAY['Invoice is wrong', 'Refund request', 'Charged twice', 'Payment failed'],
     ARRAY['My invoice shows the wrong amount, please correct the charges.',
           'I was charged twice for the same subscription, I need a refund.',
           'The payment with my credit card failed but the invoice says paid.',
           'Please send a refund for the duplicate charge on my invoice.',
           'Billing charged my card after I cancelled, refund the payment.']),
    ('tri_network',
     ARRAY['VPN keeps dropping', 'No wifi in office', 'Router down', 'Slow connection'],
     ARRAY['The VPN connection drops every few minutes from home.',
           'Wifi in the office is down, the router shows a red light.',
           'Network connection is very slow, packets are lost on the switch.',
           'Cannot reach the server over VPN, the tunnel times out.',
           'The router restarted and the wifi network is gone.']),
    ('tri_desk',
     ARRAY['Password reset', 'Cannot log in', 'Account locked', 'Forgot password'],
     ARRAY['Please reset my password, I forgot it.',
           'I cannot log in, my account is locked after three attempts.',
           'Login fails with invalid password, please unlock my account.',
           'Need a password reset for my user account.',
           'My account was locked, please reset the password so I can log in.'])
  ) AS s(team, subj, body), generate_series(1, 20) AS i;

-- the rule kinds, written before any model exists
INSERT INTO escalation.teams (name, tier) VALUES ('tri_billing', 2), ('tri_network', 2);
INSERT INTO escalation.rules (name, team_confidence_at_least, target_tier, severity)
VALUES ('route by model', 0.6, 2, 3);
INSERT INTO escalation.rules (name, escalation_probability_at_least, target_tier, level)
VALUES ('likely escalation', 0.8, 2, 2);
INSERT INTO tri.tickets (subject, body) VALUES ('VPN down', 'The VPN tunnel drops all the time.');
SELECT rule, fires, target_team, why_not FROM escalation.explain('tri.tickets', '61') ORDER BY rule;
SELECT count(*) AS escalations_without_model FROM escalation.escalations
 WHERE source_id = (SELECT source_id FROM escalation.sources WHERE name = 'tri');
SELECT team, probability, model_id FROM escalation.classify('VPN down', 'tri.tickets');

-- train: labels from the mapped team column and the escalated column,
-- held out by the test column; min_df 1 on such a small history
SELECT version, activated, train_tickets, heldout_tickets, teams, features > 0 AS has_features,
       round(accuracy::numeric, 2) AS accuracy, round(macro_f1::numeric, 2) AS macro_f1,
       round(escalation_accuracy::numeric, 2) AS escalation_accuracy, previous_accuracy
  FROM escalation.train('tri.tickets', escalated_column => 'escalated',
                        holdout_column => 'test', min_df => 1);
SELECT source_id = (SELECT source_id FROM escalation.sources WHERE name = 'tri') AS right_source,
       version, active, team_column, escalated_column, holdout_column, teams,
       metrics ? 'accuracy' AS has_metrics
  FROM escalation.models ORDER BY version;

-- the obvious ones
SELECT team, probability > 0.5 AS confident, escalation_probability > 0.5 AS will_escalate,
       cardinality(words) > 0 AS explained
  FROM escalation.classify('I was charged twice, the invoice is wrong, please refund', 'tri.tickets');
SELECT team, probability > 0.5 AS confident, escalation_probability > 0.5 AS will_escalate
  FROM escalation.classify('Forgot my password, account locked', 'tri.tickets');
SELECT 'refund' = ANY (words) AS refund_weighs
  FROM escalation.classify('Refund the duplicate charge please', 'tri.tickets');

-- subject grams: the escalation model also reads the character 2-5-grams
-- of the subject (the first line), so a spelling never seen as a word
-- still counts ("Passwort", "Pasword" share "_pas", "pass", "sswor" ...
-- with "password"); a text with neither known words nor known grams gets
-- the history's odds (two tickets in three escalated).  Explanations name
-- words, never grams.
SELECT (metrics ->> 'word_features')::int > 0 AS has_words,
       (metrics ->> 'subject_grams')::int > 0 AS has_grams,
       (metrics ->> 'word_features')::int + (metrics ->> 'subject_grams')::int = features AS all_counted
  FROM escalation.models WHERE active;
SELECT v.text, c.escalation_probability < 0.5 AS stays_with_desk
  FROM (VALUES (1, 'Passwort'), (2, 'Pasword'), (3, 'Acount lockd'), (4, 'Routr dwn'), (5, 'xyzzy')) v(i, text),
       escalation.classify(v.text, 'tri.tickets') c ORDER BY v.i;
-- only the first line is the subject: the same word in the body is not a gram
SELECT round(a.escalation_probability::numeric, 6) = round(b.escalation_probability::numeric, 6) AS body_not_grams
  FROM escalation.classify(E'xyzzy\nPasswort', 'tri.tickets') a,
       escalation.classify(E'xyzzy\nqqqqqqqq', 'tri.tickets') b;
SELECT bool_and(NOT w LIKE '~%') AS words_only
  FROM escalation.classify('Password reset, account locked, cannot log in', 'tri.tickets') c,
       unnest(c.words || c.escalation_words) w;

-- the rules fire now: a network ticket goes straight to the network team
-- (tier 2), skipping tier 1, and is escalated at level 2 as likely to be
INSERT INTO tri.tickets (subject, body, priority)
VALUES ('Router down again', 'The wifi router in the office is down, no network connection.', 'high');
SELECT level, target_team, target_tier, severity,
       reasons -> 0 ->> 'rule' AS rule,
       reasons -> 0 -> 'triage' ->> 'predicted_team' AS predicted,
       (reasons -> 0 -> 'triage' ->> 'confidence')::float8 >= 0.6 AS confident,
       jsonb_array_length(reasons -> 0 -> 'triage' -> 'words') > 0 AS explained,
       (reasons -> 0 -> 'triage' ->> 'escalation_probability')::float8 >= 0.8 AS likely
  FROM escalation.escalations
 WHERE source_id = (SELECT source_id FROM escalation.sources WHERE name = 'tri') AND ticket_key = '62' ORDER BY level;
SELECT rule, fires, target_team, why_not FROM escalation.explain('tri.tickets', '62') ORDER BY rule;

-- a password reset stays with the service desk: "desk" is not a team that
-- receives escalations, and an escalation is unlikely
INSERT INTO tri.tickets (subject, body) VALUES ('Password reset', 'Please reset my password, I cannot log in.');
SELECT count(*) AS desk_escalations FROM escalation.escalations
 WHERE source_id = (SELECT source_id FROM escalation.sources WHERE name = 'tri') AND ticket_key = '63';
SELECT rule, fires, why_not FROM escalation.explain('tri.tickets', '63') ORDER BY rule;
-- nor when the desk is a team of tier 1: routing there would skip nothing
INSERT INTO escalation.teams (name, tier) VALUES ('tri_desk', 1);
SELECT rule, fires, why_not FROM escalation.explain('tri.tickets', '63') ORDER BY rule;
DELETE FROM escalation.teams WHERE name = 'tri_desk';

-- a rule naming a team fires only when that team is predicted
INSERT INTO escalation.rules (name, team_confidence_at_least, target_team, level)
VALUES ('billing by model', 0.5, 'tri_billing', 3);
SELECT rule, fires, target_team, why_not FROM escalation.explain('tri.tickets', '62') ORDER BY rule;
DELETE FROM escalation.rules WHERE name = 'billing by model';

-- with no rule asking for the escalation probability, the trigger predicts
-- the team alone (the subject's grams, which only the escalation model
-- reads, are not looked up): the same team and confidence as classify()
UPDATE escalation.rules SET enabled = false WHERE name = 'likely escalation';
INSERT INTO tri.tickets (subject, body, priority)
VALUES ('Router down again', 'The wifi router in the office is down, no network connection.', 'high')
RETURNING id AS team_only_id \gset
SELECT e.reasons -> 0 ->> 'rule' AS rule,
       e.reasons -> 0 -> 'triage' ->> 'predicted_team' = c.team AS same_team,
       e.reasons -> 0 -> 'triage' ->> 'confidence' = round(c.probability::numeric, 3)::text AS same_confidence,
       e.reasons -> 0 -> 'triage' ->> 'words' = to_jsonb(c.words)::text AS same_words,
       e.reasons -> 0 -> 'triage' ? 'escalation_probability' AS has_escalation_probability
  FROM escalation.escalations e,
       escalation.classify(E'Router down again\nThe wifi router in the office is down, no network connection.',
                           'tri.tickets', priority => 'high') c
 WHERE e.source_id = (SELECT source_id FROM escalation.sources WHERE name = 'tri')
   AND e.ticket_key = :'team_only_id';
UPDATE escalation.rules SET enabled = true WHERE name = 'likely escalation';
DELETE FROM tri.tickets WHERE id = :team_only_id;

-- the cache follows the models table: no active model, no prediction ...
UPDATE escalation.models SET active = false;
SELECT rule, fires, why_not FROM escalation.explain('tri.tickets', '62') ORDER BY rule;
SELECT team, model_id FROM escalation.classify('VPN down', 'tri.tickets');
-- ... and a new version is used from the next statement on
SELECT version, activated, previous_accuracy
  FROM escalation.train('tri.tickets', escalated_column => 'escalated',
                        holdout_column => 'test', min_df => 1);
SELECT m.version, c.team FROM escalation.classify('VPN down', 'tri.tickets') c
  JOIN escalation.models m USING (model_id);
-- if_better: a third version scores as well as the second, so it replaces it
SELECT version, activated, round(previous_accuracy::numeric, 2) AS previous_accuracy
  FROM escalation.train('tri.tickets', escalated_column => 'escalated',
                        holdout_column => 'test', min_df => 1);
-- never: stored, not used
SELECT version, activated
  FROM escalation.train('tri.tickets', escalated_column => 'escalated',
                        holdout_column => 'test', min_df => 1, activate => 'never');
SELECT version, active FROM escalation.models ORDER BY version;

-- evaluate(): the active model on the tickets it was trained without
SELECT m.version, e.tickets, round(e.accuracy::numeric, 2) AS accuracy,
       round(e.macro_f1::numeric, 2) AS macro_f1,
       round(e.escalation_accuracy::numeric, 2) AS escalation_accuracy,
       jsonb_typeof(e.confusion) AS confusion, e.calibration ? 'team' AS calibration
  FROM escalation.evaluate('tri.tickets') e JOIN escalation.models m USING (model_id);

-- the default escalation label: "has an escalation"; default holdout: a hash
SELECT activated, train_tickets + heldout_tickets AS tickets, escalation_accuracy IS NOT NULL AS measured
  FROM escalation.train('tri.tickets', min_df => 1, activate => 'never');

-- retraining on a schedule: due now, then not again before "every"
INSERT INTO escalation.triage_schedules (source_id, every, escalated_column, holdout_column)
SELECT source_id, '1 day', 'escalated', 'test' FROM escalation.sources WHERE name = 'tri';
SELECT escalation.retrain_due('2030-01-01 00:00+00') AS retrained,
       escalation.retrain_due('2030-01-01 12:00+00') AS retrained_again;
SELECT last_result ->> 'activated' AS activated, last_result ? 'accuracy' AS has_accuracy
  FROM escalation.triage_schedules;

-- calibration learns from validation tickets taken from the training
-- tickets, never from the held-out ones: relabelling every held-out ticket
-- leaves the stored model (weights, temperature, Platt's sigmoid) as it was
SELECT model_id AS before_id FROM escalation.train('tri.tickets', escalated_column => 'escalated',
       holdout_column => 'test', min_df => 1, activate => 'never') \gset
UPDATE tri.tickets SET team = 'tri_billing', escalated = NOT escalated WHERE test;
SELECT model_id AS after_id FROM escalation.train('tri.tickets', escalated_column => 'escalated',
       holdout_column => 'test', min_df => 1, activate => 'never') \gset
SELECT a.weights = b.weights AS same_model,
       a.metrics -> 'temperature' = b.metrics -> 'temperature' AS same_temperature,
       a.metrics -> 'platt_a' = b.metrics -> 'platt_a' AS same_platt,
       (a.metrics ->> 'validation_tickets')::int AS validation_tickets,
       a.metrics -> 'accuracy' <> b.metrics -> 'accuracy' AS scored_differently
  FROM escalation.models a, escalation.models b
 WHERE a.model_id = :before_id AND b.model_id = :after_id;

-- refusals
SELECT pg_temp.err($$SELECT escalation.train('pg_class')$$);
SELECT pg_temp.err($$SELECT escalation.train('tri.tickets', holdout_fraction => 2)$$);
SELECT pg_temp.err($$SELECT escalation.train('tri.tickets', activate => 'sometimes')$$);
SELECT pg_temp.err($$SELECT escalation.train('tri.tickets', team_column => 'nope')$$);
SELECT pg_temp.err($$SELECT escalation.train('tri.tickets', escalated_column => 'subject')$$);
SELECT pg_temp.err($$SELECT escalation.train('tri.tickets', cost => 0)$$);
SELECT pg_temp.err($$SELECT escalation.train('tri.tickets', class_balance => 1.5)$$);
SELECT pg_temp.err($$SELECT escalation.train('tri.tickets', min_df => 0)$$);
SELECT pg_temp.err($$SELECT escalation.evaluate('tri.tickets', model_id => 99999)$$);
SELECT pg_temp.err($$SELECT escalation.classify('x', NULL)$$);
SELECT pg_temp.err($$INSERT INTO escalation.rules (name, team_confidence_at_least) VALUES ('bad', 1.5)$$);
SELECT pg_temp.err($$INSERT INTO escalation.rules (name, escalation_probability_at_least) VALUES ('bad', 0)$$);
SELECT pg_temp.err($$INSERT INTO escalation.rules (name, escalation_probability_at_least) VALUES ('bad', 0.5)$$);
-- a damaged model: a header claiming 2^28 features is refused before
-- anything is allocated for them (found by test/fuzz/fuzz_triage)
UPDATE escalation.models SET weights = overlay(weights placing '\x00000010'::bytea from 9 for 4)
 WHERE active;
SELECT pg_temp.err($$SELECT * FROM escalation.classify('VPN down', 'tri.tickets')$$);

-- a model stored by extension 1.0 (format ESCTRI1: no subject grams) still
-- loads and scores: one feature "vpn" (idf 1) weighing -1 for billing, +1
-- for network and +1 for escalation, temperature 1, Platt a = -2, b = 0
-- (numbers little-endian, as this machine's)
UPDATE escalation.models SET active = false;
INSERT INTO escalation.models (source_id, version, active, ts_config, team_column,
                               holdout_fraction, train_tickets, heldout_tickets, features,
                               teams, metrics, weights)
SELECT source_id, 100, true, 'english', 'team', 0.2, 2, 0, 1, '{tri_billing,tri_network}', '{}',
       '\x4553435452493100' || '\x010000000200000001000000'::bytea ||
       '\x000000000000f03f00000000000000c00000000000000000'::bytea || '\x00000000'::bytea ||
       '\x0000803f'::bytea || '\x000080bf0000803f'::bytea || '\x0000000000000000'::bytea ||
       '\x0000803f'::bytea || convert_to('tri_billing', 'UTF8') || '\x00'::bytea ||
       convert_to('tri_network', 'UTF8') || '\x00'::bytea || convert_to('vpn', 'UTF8') || '\x00'::bytea
  FROM escalation.sources WHERE name = 'tri';
SELECT c.team, round(c.probability::numeric, 4) AS probability,
       round(c.escalation_probability::numeric, 4) AS escalation_probability, c.words, m.version
  FROM escalation.classify('VPN down', 'tri.tickets') c JOIN escalation.models m USING (model_id);
-- a model's words come before its subject's grams (a prediction of the
-- team alone leaves the grams out on that account): the same model with
-- its one word made a gram ("~vp") is refused as corrupted
UPDATE escalation.models
   SET weights = overlay(weights placing convert_to('~vp', 'UTF8')
                         from position(convert_to('vpn', 'UTF8') in weights) for 3)
 WHERE version = 100;
SELECT pg_temp.err($$SELECT * FROM escalation.classify('VPN down', 'tri.tickets')$$);
UPDATE escalation.models
   SET weights = overlay(weights placing convert_to('vpn', 'UTF8')
                         from position(convert_to('~vp', 'UTF8') in weights) for 3)
 WHERE version = 100;

-- max_features: the vocabulary keeps the features in the most training
-- tickets, chosen before training (the model is trained on what it keeps);
-- NULL keeps them all; the same history gives the same vocabulary
SELECT features AS all_features
  FROM escalation.train('tri.tickets', escalated_column => 'escalated', holdout_column => 'test',
                        min_df => 1, max_features => NULL, activate => 'never') \gset
SELECT :all_features > 100 AS more_than_100;
SELECT features FROM escalation.train('tri.tickets', escalated_column => 'escalated', holdout_column => 'test',
                                      min_df => 1, max_features => 100, activate => 'never');
SELECT features, metrics ->> 'max_features' AS max_features,
       (metrics ->> 'word_features')::int + (metrics ->> 'subject_grams')::int AS counted
  FROM escalation.models ORDER BY model_id DESC LIMIT 1;
SELECT features FROM escalation.train('tri.tickets', escalated_column => 'escalated', holdout_column => 'test',
                                      min_df => 1, max_features => 100, activate => 'never');
SELECT a.weights = b.weights AS same_model
  FROM escalation.models a, escalation.models b
 WHERE a.metrics ->> 'max_features' = '100' AND b.metrics ->> 'max_features' = '100' AND a.model_id < b.model_id;
SELECT features = :all_features AS none_dropped
  FROM escalation.train('tri.tickets', escalated_column => 'escalated', holdout_column => 'test',
                        min_df => 1, max_features => 100000, activate => 'never');
SELECT pg_temp.err($$SELECT * FROM escalation.train('tri.tickets', max_features => 99)$$);
SELECT pg_temp.err($$SELECT * FROM escalation.train('tri.tickets', max_features => -1)$$);

-- words with digits (error codes, order numbers, e-mail local parts): under
-- 'english' they skip the parser (ts_config.c), and what they give is the
-- text search's own lexeme, so a code can decide the team and explain it
CREATE TABLE tri.codes (
    id     serial PRIMARY KEY,
    body   text,
    status text NOT NULL DEFAULT 'solved',
    team   text
);
SELECT escalation.attach('tri.codes', key => 'id', body => 'body', status => 'status',
                         status_map => '{"open": ["open"], "solved": ["solved"]}',
                         team => 'team', name => 'tri codes') > 0 AS attached;
INSERT INTO tri.codes (body, team)
SELECT CASE WHEN i % 2 = 0 THEN 'the build stops with e0x86 on node 5003 again, see ticket ' || (1000 + i)
            ELSE 'the printer shows pc42 and jams, see ticket ' || (1000 + i) END,
       CASE WHEN i % 2 = 0 THEN 'builds' ELSE 'printers' END
  FROM generate_series(1, 40) i;
SELECT teams, train_tickets > 0 AS trained
  FROM escalation.train('tri.codes', min_df => 2, activate => 'always');
SELECT c.team, w AS word,
       w = ANY (tsvector_to_array(to_tsvector('english', 'it stops with e0x86 on node 5003'))) AS text_search_lexeme
  FROM escalation.classify('it stops with e0x86 on node 5003', 'tri.codes') c, unnest(c.words) w
 WHERE w ~ '[0-9]' AND w !~ ' '
 ORDER BY w;
SELECT team FROM escalation.classify('pc42 again', 'tri.codes');
SELECT escalation.detach('tri.codes');
DROP TABLE tri.codes;

-- clean up
DELETE FROM escalation.triage_schedules;
DELETE FROM escalation.rules WHERE name IN ('route by model', 'likely escalation');
SELECT escalation.detach('tri.tickets');
DELETE FROM escalation.escalations WHERE source_id = (SELECT source_id FROM escalation.sources WHERE name = 'tri');
DELETE FROM escalation.models;
DELETE FROM escalation.teams WHERE name IN ('tri_billing', 'tri_network');
DROP SCHEMA tri CASCADE;
