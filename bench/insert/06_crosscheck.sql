-- bench/insert/06_crosscheck.sql: do the C trigger and bench.pl_evaluate() agree?
--
-- For the first 5,000 inserted tickets of the attached table: the rules named in the
-- reasons of the escalations the C trigger wrote, against the rules that
-- bench.pl_evaluate() (to_tsvector/phraseto_tsquery, ~*, the same account
-- and field conditions) says fire for the same row. psql variables: src, history.

CREATE TEMP TABLE cc AS
WITH sample AS (
    SELECT * FROM helpdesk.tickets WHERE id > :history ORDER BY id LIMIT 5000
), c AS (
    SELECT e.ticket_key, array_agg(DISTINCT r ->> 'rule' ORDER BY r ->> 'rule') AS rules
      FROM escalation.escalations e, jsonb_array_elements(e.reasons) AS r
     WHERE e.source_id = :src AND e.ticket_key IN (SELECT id::text FROM sample)
     GROUP BY e.ticket_key
), p AS (
    SELECT s.id::text AS ticket_key, array_agg(f.name ORDER BY f.name) AS rules
      FROM sample s,
           bench.pl_evaluate(s.subject, s.body, s.priority, s.channel, s.account,
                             jsonb_build_object('disputed_amount', s.disputed_amount),
                             s.created_at) AS f
     GROUP BY s.id
)
SELECT s.id, coalesce(c.rules, '{}') AS c_rules, coalesce(p.rules, '{}') AS pl_rules
  FROM sample s
  LEFT JOIN c ON c.ticket_key = s.id::text
  LEFT JOIN p ON p.ticket_key = s.id::text;

SELECT count(*) AS tickets,
       count(*) FILTER (WHERE c_rules = pl_rules) AS same_rules,
       count(*) FILTER (WHERE c_rules <> pl_rules) AS different,
       count(*) FILTER (WHERE cardinality(c_rules) > 0) AS escalated_by_c,
       count(*) FILTER (WHERE cardinality(pl_rules) > 0) AS escalated_by_plpgsql
  FROM cc;

-- which rules disagree, and on how many tickets
SELECT rule, count(*) FILTER (WHERE side = 'C only') AS c_only,
       count(*) FILTER (WHERE side = 'plpgsql only') AS plpgsql_only,
       min(id) AS first_ticket
  FROM (SELECT id, 'C only' AS side, unnest(c_rules) AS rule FROM cc
        EXCEPT ALL
        SELECT id, 'C only', unnest(pl_rules) FROM cc
        UNION ALL
        (SELECT id, 'plpgsql only', unnest(pl_rules) FROM cc
         EXCEPT ALL
         SELECT id, 'plpgsql only', unnest(c_rules) FROM cc)) d
 GROUP BY rule
 ORDER BY rule;
