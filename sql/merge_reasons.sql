-- escalation.merge_reasons(old, new), in C since 1.1: the same results
-- and errors as the SQL function it replaced, kept here as the reference.
CREATE FUNCTION pg_temp.merge_reasons_sql(old jsonb, new jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
AS $$
    SELECT old OPERATOR(pg_catalog.||) coalesce(
        (SELECT jsonb_agg(n.r ORDER BY n.i)
           FROM jsonb_array_elements(new) WITH ORDINALITY AS n(r, i)
          WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(old) AS o(r)
                             WHERE (o.r OPERATOR(pg_catalog.->) 'rule')
                                   OPERATOR(pg_catalog.=) (n.r OPERATOR(pg_catalog.->) 'rule'))),
        '[]'::jsonb)
$$;

SELECT l.oid IS NOT NULL AS is_c
  FROM pg_proc p LEFT JOIN pg_language l ON l.oid = p.prolang AND l.lanname = 'c'
 WHERE p.oid = 'escalation.merge_reasons(jsonb, jsonb)'::regprocedure;

-- the cases the record statement meets, and the odd ones
SELECT old, new, escalation.merge_reasons(old::jsonb, new::jsonb) AS merged,
       escalation.merge_reasons(old::jsonb, new::jsonb) IS NOT DISTINCT FROM
           pg_temp.merge_reasons_sql(old::jsonb, new::jsonb) AS same
  FROM (VALUES
    ('[{"rule": "a", "severity": 2}]', '[{"rule": "b", "severity": 3}]'),
    ('[{"rule": "a"}]', '[{"rule": "a", "keywords": ["x"]}]'),
    ('[{"rule": "a"}, {"rule": "b"}]', '[{"rule": "c"}, {"rule": "a"}, {"rule": "d"}]'),
    ('[]', '[{"rule": "a"}, {"rule": "a"}]'),
    ('[{"rule": "a"}]', '[]'),
    ('[{"rule": 1}]', '[{"rule": 1.0}, {"rule": "1"}]'),
    ('[{"rule": {"n": [1, 2]}}]', '[{"rule": {"n": [1, 2]}}, {"rule": {"n": [2, 1]}}]'),
    ('[{"rule": null}]', '[{"rule": null}, {"other": 1}, 5, "a", [1]]'),
    ('[5, "a", [1], {"x": 1}]', '[{"rule": "a"}, 5]'),
    (NULL, '[{"rule": "a"}]'),
    ('[{"rule": "a"}]', NULL),
    ('{"rule": "a"}', '[]'),
    ('"scalar"', NULL)
  ) AS c(old, new);

-- what jsonb_array_elements() refuses, refused alike
SELECT escalation.merge_reasons('[]', '{"rule": "a"}');
SELECT escalation.merge_reasons('[]', '7');
SELECT escalation.merge_reasons('{"rule": "a"}', '[{"rule": "b"}]');
SELECT escalation.merge_reasons('"x"', '[{"rule": "b"}]');

-- 2,000 random pairs: rules from a small set (so that they collide), some
-- elements without a rule or not objects at all
SELECT setseed(0.27);
WITH pairs AS (
    SELECT g,
           (SELECT coalesce(jsonb_agg(CASE WHEN random() < 0.1 THEN to_jsonb(g % 3)
                                           WHEN random() < 0.1 THEN '{"x": 1}'::jsonb
                                           ELSE jsonb_build_object('rule', 'r' || (random() * 6)::int, 'i', i) END), '[]')
              FROM generate_series(1, (random() * 5)::int + g * 0) i) AS old,
           (SELECT coalesce(jsonb_agg(CASE WHEN random() < 0.1 THEN to_jsonb('s' || g)
                                           WHEN random() < 0.1 THEN jsonb_build_object('rule', (random() * 6)::int)
                                           ELSE jsonb_build_object('rule', 'r' || (random() * 6)::int, 'j', i) END), '[]')
              FROM generate_series(1, (random() * 5)::int + g * 0) i) AS new
      FROM generate_series(1, 2000) g
)
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE escalation.merge_reasons(old, new) IS NOT DISTINCT FROM
                              pg_temp.merge_reasons_sql(old, new)) AS same,
       count(*) FILTER (WHERE jsonb_array_length(escalation.merge_reasons(old, new))
                              < jsonb_array_length(old) + jsonb_array_length(new)) AS merged_some
  FROM pairs;
