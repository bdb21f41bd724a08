-- test/upgrade/metrics_check.sql -- after the update: the metric views over
-- the tickets metrics_data.sql wrote before it give the naive query's rows
-- (also after more writes); prints "differences <n>"
\set ON_ERROR_STOP true
SET client_min_messages = warning;
SET IntervalStyle = 'postgres';
CREATE FUNCTION up_hd.differences() RETURNS bigint LANGUAGE sql AS $$
SELECT escalation.fold_facts();
WITH v AS (SELECT dimension, value, resolved, mean::text, p50::text, p90::text FROM escalation.resolution_percentiles
            WHERE source_id = (SELECT source_id FROM escalation.sources WHERE name = 'up' AND attached)),
n AS (SELECT CASE WHEN GROUPING(priority) = 0 THEN 'priority' WHEN GROUPING(team) = 0 THEN 'team'
                  WHEN GROUPING(channel) = 0 THEN 'channel' ELSE 'all' END,
             coalesce(priority, team, channel), count(*), avg(resolved_at - created_at)::text,
             (percentile_disc(0.5) WITHIN GROUP (ORDER BY resolved_at - created_at))::text,
             (percentile_disc(0.9) WITHIN GROUP (ORDER BY resolved_at - created_at))::text
        FROM up_hd.tickets WHERE status = 'solved' GROUP BY GROUPING SETS ((), (priority), (team), (channel))),
rv AS (SELECT reason, escalated, mean::text, p50, p90, too_fast, too_slow FROM escalation.time_to_escalation_by_reason
        WHERE source_id = (SELECT source_id FROM escalation.sources WHERE name = 'up' AND attached)),
rn AS (SELECT e.reason, count(*), avg(e.first_at - t.created_at)::text,
              make_interval(mins => percentile_disc(0.5) WITHIN GROUP (ORDER BY floor(extract(epoch FROM e.first_at - t.created_at) / 60)::int)),
              make_interval(mins => percentile_disc(0.9) WITHIN GROUP (ORDER BY floor(extract(epoch FROM e.first_at - t.created_at) / 60)::int)),
              count(*) FILTER (WHERE e.first_at - t.created_at < interval '5 minutes'),
              count(*) FILTER (WHERE e.first_at - t.created_at >= interval '24 hours')
         FROM (SELECT DISTINCT ON (x.ticket_key) x.ticket_key, x.created_at AS first_at,
                      coalesce(x.reasons -> 0 ->> 'rule', x.origin) AS reason
                 FROM escalation.escalations x ORDER BY x.ticket_key, x.created_at, x.escalation_id) e
         JOIN up_hd.tickets t ON t.id::text = e.ticket_key GROUP BY 1)
SELECT (SELECT count(*) FROM ((TABLE v EXCEPT ALL TABLE n) UNION ALL (TABLE n EXCEPT ALL TABLE v)) a)
     + (SELECT count(*) FROM ((TABLE rv EXCEPT ALL TABLE rn) UNION ALL (TABLE rn EXCEPT ALL TABLE rv)) b)
     + (SELECT CASE WHEN count(*) = 0 THEN 1 ELSE 0 END FROM v)
$$;
SELECT 'differences ' || up_hd.differences();
UPDATE up_hd.tickets SET status = 'open', resolved_at = NULL, updated_at = updated_at + interval '1 hour' WHERE id % 10 = 1;
UPDATE up_hd.tickets SET status = 'solved', resolved_at = created_at + interval '3 days', updated_at = updated_at + interval '3 days'
 WHERE id % 4 = 0;
SELECT count(escalation.escalate('up_hd.tickets', t.id::text, target_team => 'up_b', reason => 'later',
                                 as_of => t.created_at + interval '20 hours'))
  FROM up_hd.tickets t WHERE t.id % 7 = 0 AND t.id % 5 <> 0 AND t.id % 13 <> 0;
SELECT 'differences ' || up_hd.differences();
