--
-- sentiment: the scorer (polarity -1 .. +1 and frustration 0 .. 1), its
-- rules (negation, boosters, "but", capitals, exclamation, emoticons,
-- emoji), frustration cues, per-sentence detail, a team's own terms, the
-- rule kind (sentiment_below, frustration_above) on tickets and customer
-- messages with its evidence and explain(), and refusals with errcodes.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

-- scores rounded to 3 places: the figures are stable, the last bits need not be
CREATE FUNCTION public.s(t text) RETURNS numeric LANGUAGE sql IMMUTABLE
    AS $$ SELECT round(escalation.sentiment(t)::numeric, 3) $$;
CREATE FUNCTION public.f(t text) RETURNS numeric LANGUAGE sql IMMUTABLE
    AS $$ SELECT round(escalation.frustration(t)::numeric, 3) $$;

--------------------------------------------------------------------------
-- polarity: the lexicon and each rule
--------------------------------------------------------------------------
SELECT t, s(t) FROM (VALUES
    ('The answer was helpful.'),
    ('The answer was not helpful.'),            -- negation
    ('The answer wasn''t helpful.'),            -- "n't"
    ('The answer wasn’t helpful.'),             -- curly apostrophe
    ('The answer was very helpful.'),           -- booster
    ('The answer was slightly helpful.'),       -- dampener
    ('The answer was kind of helpful.'),        -- two-word dampener
    ('The answer was VERY helpful.'),           -- booster in capitals
    ('The answer was HELPFUL.'),                -- word in capitals among others
    ('THE ANSWER WAS HELPFUL.'),                     -- all capitals: no emphasis
    ('The answer was helpful!'),                -- exclamation
    ('The answer was helpful!!!'),
    ('The answer was helpful!!!!!!!!'),         -- at most four count
    ('Was the answer helpful??'),                   -- question marks
    ('The app is good, but the support is terrible.'),-- "but": the second half weighs more
    ('The support is terrible, but the app is good.'),
    ('It is not bad at all.'),
    ('This is the worst service ever.'),
    ('The update broke everything and the app crashes.'),  -- product words of ours
    ('It looks like a toy.'),                         -- "like" comparing
    ('I like it.'),                                   -- "like" the verb
    ('Thanks :)'),                                    -- emoticons
    ('It broke :('),
    ('ok, fine.'),                                    -- short word with punctuation
    ('Got my refund 😊'),                             -- emoji
    ('Still waiting 😡'),
    ('great😁'),                                      -- emoji glued to a word
    ('Please fix this. Thanks.'),                     -- politeness formulas are neutral
    ('The invoice is attached as a PDF.')             -- neutral
) AS v(t);

-- several sentences: the mean of those that carry sentiment, so a neutral
-- "Thanks." does not dilute an angry ticket
SELECT s('This is terrible.') AS one, s('This is terrible. Thanks, Ann.') AS with_neutral,
       s('This is terrible. This is great.') AS mixed;

-- empty, white space, punctuation only, NULL (STRICT)
SELECT s('') AS empty, s('   ') AS blank, s('?!...') AS punctuation,
       escalation.sentiment(NULL) IS NULL AS null_in_null_out,
       escalation.frustration(NULL) IS NULL AS null_frustration;

-- 1 MB of text, with and without sentence ends, and one 1 MB word
SELECT s(repeat('The app crashes again and nobody helps. ', 26000)) AS mb_sentences,
       f(repeat('The app crashes again and nobody helps. ', 26000)) AS mb_frustration,
       s(repeat('terrible awful ', 70000)) AS mb_one_sentence,
       s(repeat('x', 1048576)) AS mb_one_word;

-- the range holds on extreme text
SELECT s(repeat('GREAT!!! ', 1000)) AS max_like, s(repeat('HORRIBLE!!! ', 1000)) AS min_like,
       f(repeat('UNACCEPTABLE!!! cancel my subscription. ', 1000)) AS max_frustration;

--------------------------------------------------------------------------
-- frustration: support cues add up; shouting and negative sentences add a little
--------------------------------------------------------------------------
SELECT t, f(t) AS frustration, s(t) AS polarity FROM (VALUES
    ('Thanks, that fixed it.'),
    ('The printer does not print.'),
    ('I''ve been trying to resolve this for three days and nobody seems to care'),
    ('This is the third time I contact you about this.'),
    ('Still not working. Please escalate to a manager.'),
    ('I want to cancel my subscription.'),
    ('This is unacceptable and a waste of time!!'),
    ('No one answered again. I am fed up.'),
    ('WHY IS THIS STILL BROKEN??')
) AS v(t);

--------------------------------------------------------------------------
-- per sentence: text, polarity, frustration, cues
--------------------------------------------------------------------------
SELECT sentence, text, round(polarity::numeric, 3) AS polarity,
       round(frustration::numeric, 3) AS frustration, cues
  FROM escalation.sentiment_detail(
    'Hello. I''ve been trying to resolve this for three days and nobody seems to care! '
    'The app crashes every time I open it.' || E'\n' || 'Please escalate this to your manager. Thanks :)');
SELECT count(*) AS rows_for_null FROM escalation.sentiment_detail(NULL);
SELECT count(*) AS rows_for_empty FROM escalation.sentiment_detail('');
-- a long sentence is scored in pieces of 128 words
SELECT count(*) AS pieces FROM escalation.sentiment_detail(repeat('word ', 300));

--------------------------------------------------------------------------
-- the rule kind, on tickets and customer messages
--------------------------------------------------------------------------
CREATE SCHEMA sent_hd;
CREATE TABLE sent_hd.tickets (
    id         integer PRIMARY KEY,
    status     text NOT NULL DEFAULT 'open',
    subject    text,
    body       text,
    created_at timestamptz NOT NULL DEFAULT '2024-03-01 09:00+00'
);
CREATE TABLE sent_hd.messages (
    id         serial PRIMARY KEY,
    ticket_id  integer,
    author     text,
    body       text,
    created_at timestamptz NOT NULL DEFAULT '2024-03-01 10:00+00'
);
SELECT escalation.attach('sent_hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": ["open"], "solved": ["solved"]}',
           subject => 'subject', body => 'body', created_at => 'created_at',
           messages => 'sent_hd.messages', message_ticket => 'ticket_id', message_body => 'body',
           message_author => 'author', message_created_at => 'created_at',
           author_map => '{"customer": ["customer"], "agent": ["agent"]}') AS sid \gset

INSERT INTO escalation.rules (name, source_id, applies_to, sentiment_below, target_team, kind, severity) VALUES
    ('angry ticket', :sid, 'ticket', -0.5, 'tier2', 'hierarchical', 3);
INSERT INTO escalation.rules (name, source_id, applies_to, frustration_above, target_team, kind, severity) VALUES
    ('frustrated follow-up', :sid, 'message', 0.6, 'management', 'hierarchical', 4);
-- both conditions on one rule: both must hold
INSERT INTO escalation.rules (name, source_id, applies_to, sentiment_below, frustration_above, target_team, kind) VALUES
    ('angry and frustrated', :sid, 'both', -0.3, 0.5, 'tier2', 'hierarchical');

INSERT INTO sent_hd.tickets (id, subject, body) VALUES
    (1, 'Export', 'How do I export my invoices?'),
    (2, 'Terrible service', 'The app crashes constantly. This is awful and I am very angry.'),
    (3, 'Thanks', 'Great product, the new version is excellent!');
SELECT ticket_key, level, target_team, severity,
       jsonb_path_query_array(reasons, '$[*].rule') AS rules
  FROM escalation.escalations WHERE source_id = :sid ORDER BY ticket_key, target_team;
-- the evidence: the polarity and the threshold
SELECT r - 'rule_id' AS reason
  FROM escalation.escalations e, jsonb_array_elements(e.reasons) r
 WHERE e.source_id = :sid AND e.ticket_key = '2' ORDER BY r->>'rule';

-- customer follow-ups: a calm one, a frustrated one; an agent's never counts
INSERT INTO sent_hd.messages (ticket_id, author, body) VALUES
    (1, 'customer', 'Thanks, I found the export button.'),
    (1, 'agent', 'This is the third time nobody cares, unacceptable!'),
    (1, 'customer', 'I have asked three times already. Nobody answers. This is unacceptable, I want to speak to a manager.');
SELECT ticket_key, target_team, severity,
       jsonb_path_query_array(reasons, '$[*].rule') AS rules
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '1' ORDER BY target_team;
SELECT r - 'rule_id' AS reason
  FROM escalation.escalations e, jsonb_array_elements(e.reasons) r
 WHERE e.source_id = :sid AND e.ticket_key = '1' AND r->>'rule' = 'frustrated follow-up';

-- a reason's scores have three decimals, the numbers round() makes of the
-- score (the trigger makes them from whole thousandths), and a threshold
-- is written as "%g" writes it (six significant digits)
INSERT INTO escalation.rules (name, source_id, applies_to, sentiment_below, target_team, kind, severity) VALUES
    ('odd threshold', :sid, 'ticket', -0.123456789, 'tier2', 'hierarchical', 2);
INSERT INTO sent_hd.tickets (id, subject, body)
SELECT 1000 + i, 'Problem ' || i,
       (ARRAY['awful', 'terrible', 'bad', 'horrible', 'angry', 'broken', 'useless', 'slow'])[1 + i % 8] || ' ' ||
       (ARRAY['and', 'but', 'so', 'very', 'not'])[1 + i % 5] || ' ' ||
       (ARRAY['awful', 'fine', 'bad', 'good', 'worse', 'annoying', 'okay'])[1 + (i / 3) % 7] ||
       repeat(' the app crashed', i % 4) || repeat('!', i % 3)
  FROM generate_series(1, 300) i;
SELECT count(*) AS reasons,
       count(DISTINCT r->'sentiment'->'polarity') AS distinct_scores,
       count(*) FILTER (WHERE (r->'sentiment'->'polarity')::text
                              <> round(escalation.sentiment(t.subject || E'\n' || t.body)::numeric, 3)::text) AS differ,
       min((r->'sentiment'->'below')::text) AS below
  FROM escalation.escalations e
  JOIN sent_hd.tickets t ON t.id::text = e.ticket_key,
       jsonb_array_elements(e.reasons) r
 WHERE e.source_id = :sid AND t.id >= 1000 AND r->>'rule' = 'odd threshold';
DELETE FROM escalation.rules WHERE name = 'odd threshold';

-- explain() shows the sentiment evidence, and why a rule does not fire
SELECT rule, fires, evidence - 'rule_id' AS evidence, why_not
  FROM escalation.explain('sent_hd.tickets', '3') ORDER BY rule;
SELECT rule, fires, evidence - 'rule_id' AS evidence, why_not
  FROM escalation.explain('sent_hd.tickets', '2') ORDER BY rule;

--------------------------------------------------------------------------
-- a team's own terms: per source or for every source, valences and cues
--------------------------------------------------------------------------
-- the built-in scores first
SELECT sentence, round(polarity::numeric, 3) AS polarity, round(frustration::numeric, 3) AS frustration, cues
  FROM escalation.sentiment_detail('The sync is flaky. We got a chargeback notice. Can I talk to your CTO', :sid);
INSERT INTO escalation.sentiment_terms (source_id, term, valence) VALUES
    (:sid, 'flaky', -2.5);
INSERT INTO escalation.sentiment_terms (source_id, term, frustration) VALUES
    (:sid, 'talk to your cto', 1.5);
INSERT INTO escalation.sentiment_terms (source_id, term, valence, frustration) VALUES
    (NULL, 'chargeback', -2.0, 1.0);   -- every source: a valence, and a heavier cue than the built-in one
-- the same text, with the terms (the cache is rebuilt after the change)
SELECT sentence, round(polarity::numeric, 3) AS polarity, round(frustration::numeric, 3) AS frustration, cues
  FROM escalation.sentiment_detail('The sync is flaky. We got a chargeback notice. Can I talk to your CTO', :sid);
-- without a source: the built-in lexicon only, as sentiment() and frustration()
SELECT sentence, round(polarity::numeric, 3) AS polarity, cues
  FROM escalation.sentiment_detail('The sync is flaky. We got a chargeback notice.');
-- a source's own valence wins over the one for every source; 0 neutralises a word
INSERT INTO escalation.sentiment_terms (source_id, term, valence) VALUES (NULL, 'flaky', 1.0), (:sid, 'awful', 0);
SELECT sentence, round(polarity::numeric, 3) AS polarity
  FROM escalation.sentiment_detail('The sync is flaky. The sync is awful.', :sid);

-- the trigger uses them: "flaky" now makes a ticket angry enough
INSERT INTO sent_hd.tickets (id, subject, body) VALUES (4, 'Sync', 'The sync is flaky!!! Flaky, FLAKY.');
SELECT ticket_key, target_team, jsonb_path_query_array(reasons, '$[*].rule') AS rules,
       jsonb_path_query_array(reasons, '$[*].sentiment') AS evidence
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '4';
-- and a custom cue in a follow-up
INSERT INTO sent_hd.messages (ticket_id, author, body) VALUES
    (4, 'customer', 'Again nothing. I will talk to your CTO and file a chargeback.');
SELECT r->'frustration' AS frustration
  FROM escalation.escalations e, jsonb_array_elements(e.reasons) r
 WHERE e.source_id = :sid AND e.ticket_key = '4' AND r->>'rule' = 'frustrated follow-up';

SELECT regress_error($$SELECT * FROM escalation.sentiment_detail('text', 999999)$$);

--------------------------------------------------------------------------
-- refusals, each with its errcode
--------------------------------------------------------------------------
SELECT regress_error($$INSERT INTO escalation.rules (name, sentiment_below, target_team) VALUES ('x', -1, 'tier2')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, sentiment_below, target_team) VALUES ('x', 1.5, 'tier2')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, sentiment_below, target_team) VALUES ('x', 'NaN', 'tier2')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, frustration_above, target_team) VALUES ('x', 1, 'tier2')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, frustration_above, target_team) VALUES ('x', -0.1, 'tier2')$$);
SELECT regress_error($$INSERT INTO escalation.rules (name, frustration_above, target_team) VALUES ('x', 'Infinity', 'tier2')$$);
SELECT regress_error($$INSERT INTO escalation.sentiment_terms (term, valence) VALUES ('Flaky', -1)$$);
SELECT regress_error($$INSERT INTO escalation.sentiment_terms (term, valence) VALUES ('two words', -1)$$);
SELECT regress_error($$INSERT INTO escalation.sentiment_terms (term, frustration) VALUES ('one two three four five', 1)$$);
SELECT regress_error($$INSERT INTO escalation.sentiment_terms (term, frustration) VALUES ('  padded', 1)$$);
SELECT regress_error($$INSERT INTO escalation.sentiment_terms (term, valence) VALUES ('meh', 5)$$);
SELECT regress_error($$INSERT INTO escalation.sentiment_terms (term, frustration) VALUES ('meh', 0)$$);
SELECT regress_error($$INSERT INTO escalation.sentiment_terms (term) VALUES ('meh')$$);
SELECT regress_error($$INSERT INTO escalation.sentiment_terms (term, valence) VALUES ('chargeback', 1)$$);
SELECT regress_error($$INSERT INTO escalation.sentiment_terms (source_id, term, valence) VALUES (999999, 'meh', 1)$$);

--------------------------------------------------------------------------
-- privileges: sentiment() for everyone, terms written by admins only
--------------------------------------------------------------------------
SET ROLE escalation_agent;
SELECT s('good') AS agent_scores;
SELECT count(*) >= 0 AS agent_reads_terms FROM escalation.sentiment_terms;
SELECT regress_error($$INSERT INTO escalation.sentiment_terms (term, valence) VALUES ('meh', -1)$$);
RESET ROLE;
SET ROLE escalation_admin;
INSERT INTO escalation.sentiment_terms (term, valence) VALUES ('meh', -1);
RESET ROLE;

-- the volatility the planner sees
SELECT p.oid::regprocedure AS function, p.provolatile, p.proisstrict, p.proparallel
  FROM pg_proc p
 WHERE p.pronamespace = 'escalation'::regnamespace
   AND p.proname IN ('sentiment', 'frustration', 'sentiment_detail')
 ORDER BY 1;

--------------------------------------------------------------------------
-- accounts' sentiment in the ticket facts: scored by the fold, not the writer
--------------------------------------------------------------------------
CREATE TABLE sent_hd.acct_tickets (
    id         integer PRIMARY KEY,
    subject    text,
    body       text,
    account    text,
    created_at timestamptz NOT NULL DEFAULT '2024-03-01 09:00+00'
);
SELECT escalation.attach('sent_hd.acct_tickets', key => 'id', subject => 'subject', body => 'body',
           account => 'account', created_at => 'created_at') AS fsid \gset
SELECT escalation.fold_facts() >= 0 AS earlier_changes_folded;
INSERT INTO sent_hd.acct_tickets (id, subject, body, account) VALUES
    (1, 'Invoice', 'Thanks, the new invoice layout is great!', 'acme'),
    (2, 'Outage', 'This is terrible, nothing works.', NULL),
    (3, 'Login', 'Fine.', 'acme');
UPDATE sent_hd.acct_tickets SET body = 'Still broken. Awful.' WHERE id = 3;
UPDATE sent_hd.acct_tickets SET created_at = created_at WHERE id = 1;
-- the writer logged which writes need a score, and no score
SELECT ticket_key, rescore, sentiment FROM escalation.fact_changes
 WHERE source_id = :fsid ORDER BY change_id;
-- one score per ticket and fold: ticket 3's two writes are scored once
BEGIN;
SET LOCAL track_functions = 'all';
SELECT escalation.fold_facts() > 0 AS folded;
SELECT calls AS ticket_sentiment_calls FROM pg_stat_xact_user_functions
 WHERE schemaname = 'escalation' AND funcname = 'ticket_sentiment';
COMMIT;
-- the fold scored the text as it is now, as escalation.sentiment() scores it;
-- a ticket without an account has none
SELECT f.ticket_key, round(f.sentiment::numeric, 4) AS sentiment,
       f.sentiment IS NOT DISTINCT FROM
         CASE WHEN t.account IS NOT NULL
              THEN escalation.sentiment(t.subject || E'\n' || t.body) END AS same_as_sentiment
  FROM escalation.ticket_facts f JOIN sent_hd.acct_tickets t ON t.id::text = f.ticket_key
 WHERE f.source_id = :fsid ORDER BY f.ticket_key;
-- internal: it reads tickets as the owner
SET ROLE escalation_admin;
SELECT regress_error($$SELECT escalation.ticket_sentiment(1, '1')$$);
RESET ROLE;
SELECT escalation.ticket_sentiment(:fsid, '404') IS NULL AS gone_ticket_has_none,
       escalation.ticket_sentiment(999999, '1') IS NULL AS unknown_source_has_none;
SELECT escalation.detach('sent_hd.acct_tickets');

SELECT escalation.detach('sent_hd.tickets');
DROP SCHEMA sent_hd CASCADE;
DROP FUNCTION public.s(text);
DROP FUNCTION public.f(text);
