-- bench/insert/02_pool.sql: a pool of 20,000 ticket texts (~1 KB bodies).
--
-- Bodies are drawn from bench/data/vocabulary.txt (support words and their
-- inflections, function words drawn more often, frequent words favoured),
-- with order numbers, versions, e-mail addresses and URLs mixed in as real
-- tickets have. About one body in five (22%) also carries a sentence from
-- bench.trigger_sentences, the only way the rules' keywords and patterns get
-- in (the vocabulary holds no word that stems like a single-word keyword).
-- Whether such a ticket escalates still depends on the rule's other
-- conditions (account, priority, disputed amount), as in real life.
-- Deterministic: setseed().
--
-- Reads the vocabulary on standard input; psql variable: pool_size.

CREATE SCHEMA bench;

CREATE TABLE bench.vocab_raw (line text);
\copy bench.vocab_raw FROM pstdin

CREATE TABLE bench.vocab AS
WITH numbered AS (
    SELECT line, row_number() OVER () AS n FROM bench.vocab_raw
), split AS (
    SELECT min(n) FILTER (WHERE line = '# function words') AS fw_from FROM numbered
)
SELECT line AS word, n > fw_from AS function_word
  FROM numbered, split
 WHERE line !~ '^#' AND line <> '';

CREATE TABLE bench.trigger_sentences (
    id       int PRIMARY KEY,
    sentence text NOT NULL,
    subject  text,             -- a subject line some customers would write
    dispute  boolean NOT NULL DEFAULT false,  -- comes with a disputed amount
    weight   int NOT NULL DEFAULT 1
);
INSERT INTO bench.trigger_sentences (id, sentence, subject, dispute, weight) VALUES
 (1,  'We think there has been a data breach on our workspace.', 'Possible data breach', false, 2),
 (2,  'Someone got unauthorized access to the admin console last night.', 'Unauthorized access', false, 2),
 (3,  'I noticed suspicious activity on my account from another country.', 'Suspicious activity', false, 2),
 (4,  'Our team received a phishing email that looks like it comes from you.', NULL, false, 1),
 (5,  'My account was hacked and the password was changed.', 'Account hacked', false, 1),
 (6,  'A laptop with the desktop client has ransomware on it.', NULL, false, 1),
 (7,  'Since the two-factor reset I think it is an account takeover.', NULL, false, 1),
 (8,  'There is a fraudulent transaction on our card that we never made.', 'Fraud', false, 1),
 (9,  'The export contains the full card 4111 1111 1111 1111 of a customer.', NULL, false, 1),
 (10, 'Please delete my personal data under GDPR, this is a data subject request.', 'GDPR request', false, 1),
 (11, 'The report shows a social security number 078-05-1120 in clear text.', NULL, false, 1),
 (12, 'I would like a refund for the last month.', 'Refund', false, 3),
 (13, 'We want our money back for the annual plan, please refund it.', 'Refund request', false, 2),
 (14, 'I dispute this charge, it was never authorised.', 'Disputed charge', true, 3),
 (15, 'Our bank has opened a chargeback for this payment.', 'Chargeback', true, 2),
 (16, 'We were charged twice for the same order.', 'Charged twice', false, 2),
 (17, 'This is the wrong invoice and we have been overcharged again.', 'Wrong invoice', false, 2),
 (18, 'The payment failed twice even though the card declined message makes no sense.', NULL, false, 1),
 (19, 'Invoice INV-204518 lists seats we never ordered, we dispute the amount.', NULL, true, 2),
 (20, 'We need a VAT invoice and our tax exemption certificate applied.', NULL, false, 1),
 (21, 'Please cancel my subscription at the end of this term.', 'Cancel my subscription', false, 2),
 (22, 'Our board decided to cancel our contract unless this is fixed.', NULL, false, 1),
 (23, 'Honestly we are considering switching to a competitor.', NULL, false, 2),
 (24, 'We would like to downgrade to the basic plan.', 'Downgrade', false, 2),
 (25, 'The price increase is too expensive for a team our size.', NULL, false, 1),
 (26, 'If this is not solved our lawyer will contact you.', NULL, false, 1),
 (27, 'We have filed a complaint with the consumer protection regulator.', NULL, false, 1),
 (28, 'The charger overheated and it is a fire hazard, my son had a minor injury.', 'Unsafe charger', false, 1),
 (29, 'There is a complete outage of the dashboard for all our users.', 'Outage', false, 2),
 (30, 'We had two hours of downtime this morning.', 'Downtime', false, 1),
 (31, 'Every call to the API answers with HTTP 503 since the update.', NULL, false, 2),
 (32, 'After the migration we have data loss in three projects.', 'Data loss', false, 1),
 (33, 'The import stops with SQL error 1205 every time.', NULL, false, 2),
 (34, 'The client shows ERR_SYNC_409 and nothing else.', NULL, false, 2),
 (35, 'The log ends with a NullPointerException in the scheduler.', NULL, false, 1),
 (36, 'The whole application is extremely slow with constant timeouts.', NULL, false, 2),
 (37, 'Our webhook failing every night breaks the integration.', NULL, false, 1),
 (38, 'SAML login through our SSO provider fails for every employee.', 'SSO broken', false, 2),
 (39, 'Your engineer said it is a confirmed bug in the last release.', 'Confirmed bug', false, 2),
 (40, 'This looks like a regression since version 4.2.', NULL, false, 1),
 (41, 'The mobile app keeps crashing on start.', 'App crash', false, 2),
 (42, 'The screen reader cannot reach the save button, an accessibility problem.', NULL, false, 1),
 (43, 'This is unacceptable, we are furious about how this was handled.', NULL, false, 3),
 (44, 'Frankly the worst service we have ever had, extremely disappointed.', NULL, false, 2),
 (45, 'I want to speak to a manager about this ticket.', NULL, false, 2),
 (46, 'This is the third time I write about it and it is still not fixed.', NULL, false, 2),
 (47, 'Please treat this URGENT, we need it ASAP.', NULL, false, 2),
 (48, 'A journalist asked us about this and it is all over social media.', NULL, false, 1),
 (49, 'We consider this a breach of contract.', NULL, false, 1);

-- put a sentence after the first sentence end at or after a relative position
CREATE FUNCTION bench.insert_sentence(txt text, sentence text, pos float8)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p = 0 THEN txt || ' ' || sentence
                ELSE left(txt, start + p) || ' ' || sentence || substr(txt, start + p + 1) END
      FROM (SELECT start, strpos(substr(txt, start + 1), '. ') AS p
              FROM (SELECT floor(pos * (length(txt) - 50))::int AS start) s) q
$$;

-- deterministic from here on
SELECT setseed(0.4242);

CREATE TABLE bench.pool (
    id              int PRIMARY KEY,
    subject         text NOT NULL,
    body            text NOT NULL,
    priority        text NOT NULL,
    channel         text NOT NULL,
    disputed_amount numeric(12,2)
);

-- one row per token: r chooses its kind, s ends a sentence after it
CREATE TEMP TABLE tok AS
WITH v AS (
    SELECT array_agg(word ORDER BY word) FILTER (WHERE NOT function_word) AS cw,
           array_agg(word ORDER BY word) FILTER (WHERE function_word) AS fw
      FROM bench.vocab
), perm AS (
    -- frequent words are a random subset of the vocabulary, not its first letters
    SELECT array_agg(w ORDER BY random()) AS cw, (SELECT fw FROM v) AS fw
      FROM v, unnest(v.cw) AS w
), g AS (
    SELECT b, n, random() AS r, random() AS x, random() < 0.085 AS s
      FROM generate_series(1, :pool_size) AS b, generate_series(1, 190) AS n
      OFFSET 0
)
SELECT b, n, s,
       CASE
           WHEN r < 0.43 THEN perm.fw[1 + floor(x * cardinality(perm.fw))::int]
           WHEN r < 0.445 THEN '#' || (10000 + floor(x * 90000)::int)
           WHEN r < 0.452 THEN 'v' || floor(x * 9)::int || '.' || floor(x * 97)::int % 10 || '.' || floor(x * 997)::int % 20
           WHEN r < 0.456 THEN 'user' || floor(x * 5000)::int || '@example.com'
           WHEN r < 0.459 THEN 'https://app.example.com/settings/' || floor(x * 300)::int
           WHEN r < 0.468 THEN (floor(x * 60)::int)::text
           ELSE perm.cw[1 + floor(power(x, 1.7) * cardinality(perm.cw))::int]
       END AS w
  FROM g, perm;

CREATE TEMP TABLE raw_body AS
SELECT b,
       string_agg(CASE WHEN prev_s OR n = 1 THEN initcap(w) ELSE w END
                  || CASE WHEN s THEN '.' ELSE '' END, ' ' ORDER BY n) AS txt,
       initcap(string_agg(w, ' ' ORDER BY n) FILTER (WHERE n BETWEEN 20 AND 22 + b % 5)) AS subject
  FROM (SELECT b, n, s, w, lag(s) OVER (PARTITION BY b ORDER BY n) AS prev_s FROM tok) t
 GROUP BY b;

-- cut at the last space before 1,000 characters; choose what to inject
CREATE TEMP TABLE body AS
SELECT b,
       left(txt, 1000 - strpos(reverse(left(txt, 1000)), ' ')) || '.' AS txt, subject,
       random() AS inj, random() AS inj2, random() AS pos, random() AS subj,
       random() AS pr, random() AS ch, random() AS da, random() AS da2
  FROM raw_body;

CREATE TEMP TABLE weighted AS
SELECT t.*, row_number() OVER (ORDER BY t.id) AS k
  FROM bench.trigger_sentences t, generate_series(1, t.weight);

-- about two bodies in nine get a trigger sentence, one in fifty a second one
CREATE TEMP TABLE injected AS
SELECT body.b, body.txt, body.subject, body.pos, body.subj, body.pr, body.ch, body.da, body.da2,
       t1.sentence AS s1, t1.subject AS subj1, coalesce(t1.dispute, false) OR coalesce(t2.dispute, false) AS dispute,
       t2.sentence AS s2
  FROM body
  LEFT JOIN weighted t1
         ON body.inj < 0.22
        AND t1.k = 1 + floor(body.inj / 0.22 * (SELECT count(*) FROM weighted))::int
  LEFT JOIN weighted t2
         ON body.inj2 < 0.02
        AND t2.k = 1 + floor(body.inj2 / 0.02 * (SELECT count(*) FROM weighted))::int;

INSERT INTO bench.pool (id, subject, body, priority, channel, disputed_amount)
SELECT i.b,
       CASE WHEN i.subj1 IS NOT NULL AND i.subj < 0.4 THEN i.subj1
            ELSE i.subject
       END,
       -- the sentence goes in at a sentence boundary near a random place
       CASE WHEN i.s1 IS NULL THEN i.txt
            ELSE bench.insert_sentence(i.txt, concat_ws(' ', i.s1, i.s2), i.pos)
       END,
       CASE WHEN i.pr < 0.20 THEN 'low' WHEN i.pr < 0.75 THEN 'normal'
            WHEN i.pr < 0.95 THEN 'high' ELSE 'urgent' END,
       CASE WHEN i.ch < 0.50 THEN 'email' WHEN i.ch < 0.75 THEN 'web' WHEN i.ch < 0.88 THEN 'chat'
            WHEN i.ch < 0.95 THEN 'phone' ELSE 'mobile' END,
       CASE WHEN i.dispute THEN round((20 + power(i.da, 2) * 15000)::numeric, 2)
            WHEN i.da2 < 0.04 THEN round((5 + i.da * 800)::numeric, 2)
       END
  FROM injected i;

DROP TABLE tok, raw_body, body, weighted, injected;
ANALYZE bench.pool;
