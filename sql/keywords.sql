--
-- keywords: the stemming keyword matcher the triggers use, through
-- escalation.keyword_lexemes() and escalation.match_keywords().
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

--------------------------------------------------------------------------
-- keyword_lexemes: the stems a keyword is matched on, NULL for stop words
--------------------------------------------------------------------------
SELECT kw, escalation.keyword_lexemes(kw, 'english') AS lexemes
  FROM unnest(ARRAY['refund', 'refunds', 'Refunded', 'REFUNDING', 'running',
                    'cancel my subscription', 'the refund', 'refund the', 'data breach',
                    'charge-back', 'chargeback', 'can''t', 'the', 'and the of', '$500',
                    'ORD-123456', 'e-mail', '  spaced   out  ', '', '!!!']) AS k(kw)
 ORDER BY kw;

-- the configuration matters: German stems German words, keeps umlauts,
-- and folds case of non-ASCII letters through its dictionary
SELECT kw, escalation.keyword_lexemes(kw, 'german') AS german,
       escalation.keyword_lexemes(kw, 'simple') AS simple
  FROM unnest(ARRAY['Rückerstattung', 'Rückerstattungen', 'RÜCKERSTATTUNG', 'Datenschutzverletzung',
                    'die Kündigung', 'und']) AS k(kw)
 ORDER BY kw;

--------------------------------------------------------------------------
-- match_keywords: which keywords match a text, and the words that did
--------------------------------------------------------------------------
-- stemming: plural, past tense, gerund; the first occurrence is reported
SELECT * FROM escalation.match_keywords('I was REFUNDED twice, and want refunds', '{refund, refunds, twice}')
 ORDER BY keyword;
SELECT * FROM escalation.match_keywords('The refunding process is slow', '{refund}');
-- a word that only contains the keyword does not match
SELECT count(*) AS matches FROM escalation.match_keywords('prefunded unrefundable', '{refund}');

-- case does not matter
SELECT * FROM escalation.match_keywords('DATA BREACH!!! data breach', '{"Data Breach"}');

-- phrases: words in order, stop words hold their place (as phraseto_tsquery)
SELECT t, m.matched
  FROM unnest(ARRAY['please cancel my subscription',
                    'please cancel the subscription',      -- "my" and "the" are both stop words
                    'I cancelled my subscriptions today',  -- stems
                    'cancel subscription',                 -- no word where "my" was
                    'cancel my old subscription',          -- one word too many
                    'subscription: cancel my',             -- wrong order
                    'cancel cancel my subscription']) AS x(t)
  LEFT JOIN LATERAL escalation.match_keywords(t, '{"cancel my subscription"}') m ON true
 ORDER BY t;
-- a leading or trailing stop word does not change the phrase
SELECT * FROM escalation.match_keywords('we need a refund now', '{"the refund", "refund the"}') ORDER BY keyword;
-- a word too long to be a keyword (stems of 64 bytes or more) holds its
-- place like a stop word, also at the start of a phrase (found by
-- test/fuzz/fuzz_tokenize: the phrase was anchored one word off)
SELECT t, m.matched
  FROM unnest(ARRAY['please cancel my subscription', 'cancel subscription', 'cancel my old subscription']) AS x(t)
  LEFT JOIN LATERAL escalation.match_keywords(t, ARRAY[repeat('x', 70) || ' cancel my subscription']) m ON true
 ORDER BY t;
-- a phrase across a line break and punctuation still matches
SELECT * FROM escalation.match_keywords(E'there was a data\n--breach', '{"data breach"}');
SELECT count(*) AS matches FROM escalation.match_keywords('breach of data', '{"data breach"}');

-- hyphens split words, as the text search parser does
SELECT t, array_agg(m.keyword ORDER BY m.keyword) AS keywords
  FROM unnest(ARRAY['I did a charge-back', 'I did a charge back', 'I did a chargeback']) AS x(t)
  LEFT JOIN LATERAL escalation.match_keywords(t, '{chargeback, "charge back", charge-back}') m ON true
 GROUP BY t ORDER BY t;

-- numbers and identifiers with punctuation
SELECT * FROM escalation.match_keywords('a charge of $500 on ORD-123456', '{500, ORD-123456, "ord 123456"}')
 ORDER BY keyword;

-- non-ASCII words, with the German configuration
SELECT * FROM escalation.match_keywords('Ich möchte eine RÜCKERSTATTUNG für die Kündigung',
                                        '{Rückerstattungen, kündigung, "die Kündigung", Datenschutz}', 'german')
 ORDER BY keyword;
-- the same text with the English configuration: no stemming of German, but
-- an exact word still matches
SELECT * FROM escalation.match_keywords('Ich möchte eine Rückerstattung', '{Rückerstattungen, Rückerstattung}', 'english')
 ORDER BY keyword;

-- keywords that can never match: stop words only, empty, blank, NULL elements
SELECT count(*) AS matches FROM escalation.match_keywords('the the the and of', '{the, "and the", "", "  "}');
SELECT * FROM escalation.match_keywords('a refund', ARRAY['refund', NULL]);

-- empty and NULL texts, empty keyword list
SELECT count(*) AS matches FROM escalation.match_keywords('', '{refund}');
SELECT count(*) AS matches FROM escalation.match_keywords(NULL, '{refund}');
SELECT count(*) AS matches FROM escalation.match_keywords('a refund', '{}');

-- a 1 MB text: the keyword at the very end, and a word longer than any keyword
SELECT * FROM escalation.match_keywords(repeat('lorem ipsum dolor ', 60000) || 'refund', '{refund, "data breach"}');
SELECT * FROM escalation.match_keywords(repeat('x', 1048576) || ' data breach', '{refund, "data breach"}');
SELECT count(*) AS matches FROM escalation.match_keywords(repeat('refun d ', 131072), '{refund}');

-- more distinct words than the word cache holds: the cache starts over and
-- the matcher still finds the keyword after it
SET escalation.word_cache_size = 1024;
SELECT * FROM escalation.match_keywords(
    (SELECT string_agg('word' || i, ' ') FROM generate_series(1, 5000) i) || ' data breach and refunds',
    '{refund, "data breach", word4999}') ORDER BY keyword;
RESET escalation.word_cache_size;

-- the matcher is what the trigger uses: the same stems decide there
CREATE SCHEMA keywords_hd;
CREATE TABLE keywords_hd.tickets (id integer PRIMARY KEY, subject text, body text);
CREATE TABLE keywords_hd.de_tickets (id integer PRIMARY KEY, subject text, body text);
SELECT escalation.attach('keywords_hd.tickets', key => 'id', subject => 'subject', body => 'body') AS sid \gset
SELECT escalation.attach('keywords_hd.de_tickets', key => 'id', subject => 'subject', body => 'body',
                         ts_config => 'german') AS de_sid \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('keywords: cancel my subscription', :sid, '{"cancel my subscription", chargeback}', 'billing');
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('keywords: Kündigung', :de_sid, '{Kündigung, Rückerstattungen}', 'billing');
-- a phrase is matched within the subject or within the body, never from
-- one into the other (tickets 2 and 8)
INSERT INTO keywords_hd.tickets VALUES
    (1, 'Cancelled', 'I cancelled my subscriptions'),            -- yes
    (2, 'Cancel', 'cancel subscription'),                        -- no
    (3, 'Charge-back', NULL),                                    -- no: two words
    (4, NULL, 'CHARGEBACK'),                                     -- yes
    (5, '', ''),                                                 -- no
    (6, NULL, NULL),                                             -- no
    (7, 'Big', repeat('lorem ipsum dolor ', 60000) || 'chargeback'), -- yes
    (8, 'Please cancel my', 'subscription'),                     -- no
    (9, 'cancel my subscription', 'thanks');                     -- yes
INSERT INTO keywords_hd.de_tickets VALUES
    (1, 'KÜNDIGUNG', 'Ich kündige.'),
    (2, 'Geld zurück', 'Ich will eine Rückerstattung'),
    (3, 'Hallo', 'Ich habe eine Frage');
SELECT s.name AS source, e.ticket_key, e.reasons->0->'keywords' AS keywords
  FROM escalation.escalations e JOIN escalation.sources s USING (source_id)
 WHERE e.source_id IN (:sid, :de_sid)
 ORDER BY s.name, e.ticket_key;
