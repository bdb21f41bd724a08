--
-- pattern_shapes: a pattern rule without a literal of its own (a card
-- number, "\d{3}-\d{2}-\d{4}") first looks for its shape, the run of
-- character classes every match contains, with one shift-and scan of the
-- text shared by all such rules of a source (src/shape.c), and runs the
-- regex engine only where the shape occurs.
--   1. pattern_shape() for the constructs it reads, and those it refuses;
--   2. soundness against PostgreSQL's own engine: for every pattern and
--      text of a varied fixture, if the pattern matches, the text holds
--      the shape (on ASCII texts, for shapes with \d or \w);
--   3. the trigger: the rules that fire are exactly those whose pattern
--      matches (~ and ~*), and the engine runs only for texts holding a
--      shape (escalation.pattern_runs(), internal).
--
SET TimeZone = 'UTC';

-- 1. shapes
SELECT p AS pattern, cs AS case_sensitive, escalation.pattern_shape(p, cs) AS shape
  FROM (VALUES
    (1, '\m[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{4}\M', false),
    (2, '\m[0-9]{3}-[0-9]{2}-[0-9]{4}\M', false),
    (3, '\d{3}-\d{2}-\d{4}', false),
    (4, 'ORD-\d{7}', true),
    (5, '[0-9]+ error', true),
    (6, 'abc{2,3}de', true),
    (7, '^x[^a]yz$', false),
    (8, '[]a-]xy', true),
    (9, '\.net\s+core', false),
    (10, '\m(http|status)( code)? 5[0-9]{2}\M', false),
    (11, 'ab?c', false),
    (12, 'a|bcd', false),
    (13, 'x\x41yz', false),
    (14, '(?i)abcd', false),
    (15, '[[:digit:]]{5}', false),
    (16, 'a.b.c', false),
    (17, '***=a.b', false)) v(n, p, cs)
 ORDER BY n;

-- 2. soundness, by PostgreSQL's engine: patterns x texts, both case modes
CREATE TEMP TABLE pats (p text);
INSERT INTO pats VALUES
  ('\m[0-9]{3}-[0-9]{2}-[0-9]{4}\M'), ('\d{3}-\d{2}-\d{4}'), ('[0-9]+ error'),
  ('ORD-\d{3}'), ('abc{2,3}de'), ('x[^a]yz'), ('[]a-]xy'), ('\.net\s+core'),
  ('a+b+c'), ('ab*c{2}d'), ('[A-C]{2}x?'), ('K\w\wz'), ('(ab)+cd'), ('^abc'),
  ('abc$'), ('\yab\-c'), ('e{0,2}fgh'), ('fg+?h'), ('(?:x|y)zzz'), ('[a-c][0-1][_]'),
  ('\m(http|status)( code)? 5[0-9]{2}\M');
CREATE TEMP TABLE texts (t text);
INSERT INTO texts VALUES
  ('123-45-6789'), ('ssn 123-45-6789 given'), ('1234-56-789'), ('١٢٣-٤٥-٦٧٨٩'),
  ('404 error'), ('error 404'), ('ord-123'), ('ORD-123'), ('abccde'), ('ABCCCDE'),
  ('abcde'), ('xbyz'), ('xayz'), ('XÉYZ'), (']xy'), ('-XY'), ('.NET core'),
  ('.net  core'), ('aaabbbc'), ('abbbccd'), ('acccd'), ('ABx'), ('bc'), ('kAbZ'),
  ('k_9z'), ('ababcd'), ('ABCD'), ('abc'), (' abc'), ('ab-c'), ('xab-c'),
  ('fgh'), ('eefgh'), ('fggggh'), ('yzzz'), ('XZZZ'), ('b1_'), ('C0_'), ('é'),
  (''), ('ab' || chr(8490) || 'c'), ('status 503'), ('HTTP code 504 again'), ('status 5xx'),
  ('http  500');
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE matches) AS matching,
       count(*) FILTER (WHERE matches AND NOT holds) AS unsound
  FROM (SELECT CASE WHEN cs THEN t ~ p ELSE t ~* p END AS matches,
               s IS NULL OR t ~ regexp_replace(s, ' \(ASCII text only\)$', '')
                 OR (s LIKE '% (ASCII text only)' AND t ~ '[^\x01-\x7f]') AS holds
          FROM (SELECT p, cs, escalation.pattern_shape(p, cs) AS s
                  FROM pats, (VALUES (true), (false)) c(cs)) x, texts) y;

-- 3. the trigger
CREATE SCHEMA ps;
CREATE TABLE ps.tickets (
    id      serial PRIMARY KEY,
    subject text,
    body    text,
    status  text NOT NULL DEFAULT 'open'
);
SELECT escalation.attach('ps.tickets', key => 'id', subject => 'subject', body => 'body',
                         status => 'status', status_map => '{"open": ["open"]}',
                         name => 'ps') > 0 AS attached;
SELECT source_id AS src FROM escalation.sources WHERE name = 'ps' \gset
INSERT INTO escalation.teams (name) VALUES ('ps_team');
INSERT INTO escalation.rules (name, source_id, pattern, case_sensitive, target_team, severity)
SELECT 'shape_' || row_number() OVER (), :src, p, cs, 'ps_team', 2
  FROM (VALUES ('\m[0-9]{3}-[0-9]{2}-[0-9]{4}\M', false), ('\d{3}-\d{2}-\d{4}', false),
               ('[0-9]+ error', true), ('ORD-\d{3}', true), ('abc{2,3}de', false),
               ('K\w\wz', false), ('a|zzq', false),
               ('\m(http|status)( code)? 5[0-9]{2}\M', false)) v(p, cs);
-- the rules' shapes: 'a|zzq' has none, so the combined prefilter runs for it
SELECT name, escalation.pattern_shape(pattern, case_sensitive) AS shape
  FROM escalation.rules WHERE source_id = :src ORDER BY rule_id;

-- the last rule has literals ("http", "status"): its shape is checked after
-- them, so a text with "status" but no " 5xx" costs no run either.
-- 'a|zzq' has no shape: its texts go to the engine (the combined prefilter
-- of the patterns without a literal, then its own pattern where that
-- matched: 1 + 2 runs for these two texts)
SELECT escalation.pattern_runs() AS runs0 \gset
INSERT INTO ps.tickets (subject, body)
VALUES ('Printer', 'The printer on floor 3 is out of toner since 2024.'),
       ('Hello', 'Order 12345 arrived, thanks!');
SELECT escalation.pattern_runs() - :runs0 AS runs;
-- without it, texts holding no shape cost no run; a text with a non-ASCII
-- character cannot rule out the shapes with \d or \w: one run (the
-- combined prefilter, which does not match)
UPDATE escalation.rules SET enabled = false WHERE source_id = :src AND pattern = 'a|zzq';
SELECT escalation.pattern_runs() AS runs0 \gset
INSERT INTO ps.tickets (subject, body)
VALUES ('Printer', 'The printer on floor 3 is out of toner since 2024.'),
       ('Hello', 'Order 12345 arrived, thanks!'),
       ('Unicode', 'Café ☕ — 12-34'),
       ('Status', 'The status page says all is well since 2024.');
SELECT escalation.pattern_runs() - :runs0 AS runs;

-- every text of the fixture as a ticket: fires exactly where ~ / ~* says
INSERT INTO ps.tickets (subject, body) SELECT 'fixture', t FROM texts;
SELECT count(*) AS tickets,
       count(*) FILTER (WHERE fired IS DISTINCT FROM expected) AS wrong,
       count(*) FILTER (WHERE expected) AS escalated
  FROM (SELECT k.id,
               EXISTS (SELECT 1 FROM escalation.escalations e
                        WHERE e.source_id = :src AND e.ticket_key = k.id::text
                          AND jsonb_path_query_array(e.reasons, '$[*].rule') ? r.name) AS fired,
               CASE WHEN r.case_sensitive THEN k.subject || ' ' || k.body ~ r.pattern
                    ELSE k.subject || ' ' || k.body ~* r.pattern END AS expected
          FROM ps.tickets k, escalation.rules r
         WHERE k.subject = 'fixture' AND r.source_id = :src AND r.enabled) x;

SELECT escalation.detach('ps.tickets');
DELETE FROM escalation.rules WHERE source_id = :src;
DROP SCHEMA ps CASCADE;
