-- bench/replay/04_figures.sql -- the figures twice: from escalation's views
-- (after fold_facts()), and independently from the raw events with plain
-- SQL, following the definitions in docs/metrics.md:
--   - a transfer is a write that changed the mapped team (assignment_group)
--     or assignee (assigned_to);
--   - a reopen is a write that leaves the solved meaning (replay.meaning);
--   - resolved_at is the mapped resolved column, else the time the ticket
--     became solved (the write's time: opened_at for the INSERT,
--     sys_updated_at for an UPDATE), taken over the final solved streak;
--   - groups are the incident's final assignment group, priorities its
--     final priority, months its opened_at month (UTC).
CREATE TABLE replay.figures_views (figure text, key text, value text);
CREATE TABLE replay.figures_raw (figure text, key text, value text);

-- the views
INSERT INTO replay.figures_views
SELECT '1 incidents per month', to_char(r.starts, 'YYYY-MM'), r.tickets::text
  FROM escalation.escalation_rates r JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'servicenow' AND s.attached AND r.period = 'month'
UNION ALL
SELECT '2 resolved incidents', coalesce(p.value, '(all)'), p.resolved::text
  FROM escalation.resolution_percentiles p JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'servicenow' AND s.attached AND p.dimension IN ('all', 'priority')
UNION ALL
SELECT '3 resolution p50', coalesce(p.value, '(all)'), p.p50::text
  FROM escalation.resolution_percentiles p JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'servicenow' AND s.attached AND p.dimension IN ('all', 'priority')
UNION ALL
SELECT '4 resolution p90', coalesce(p.value, '(all)'), p.p90::text
  FROM escalation.resolution_percentiles p JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'servicenow' AND s.attached AND p.dimension IN ('all', 'priority')
UNION ALL
SELECT '5 transferred at least once', '(all)',
       format('%s of %s = %s', sum(t.transferred), sum(t.tickets), round(sum(t.transferred) / sum(t.tickets), 4))
  FROM escalation.transfer_stats t JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'servicenow' AND s.attached
UNION ALL
SELECT '5 transferred at least once', g.value,
       format('%s of %s = %s', g.transferred, g.tickets, round(g.transferred / g.tickets, 4))
  FROM (SELECT t.value, sum(t.tickets) AS tickets, sum(t.transferred) AS transferred
          FROM escalation.transfer_stats_by t JOIN escalation.sources s USING (source_id)
         WHERE s.name = 'servicenow' AND s.attached AND t.dimension = 'team' AND t.value IS NOT NULL
         GROUP BY t.value
         ORDER BY 2 DESC, 1 LIMIT 5) g
UNION ALL
SELECT '6 transfers', '(all)', sum(t.transfers)::text
  FROM escalation.transfer_stats t JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'servicenow' AND s.attached
UNION ALL
SELECT '7 reopened at least once', '(all)',
       format('%s of %s = %s', sum(t.reopened), sum(t.tickets), round(sum(t.reopened) / sum(t.tickets), 4))
  FROM escalation.transfer_stats t JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'servicenow' AND s.attached;

-- the raw events, plain SQL
CREATE TABLE replay.raw_incidents AS
WITH ev AS (
    SELECT e.number, e.seq, e.opened_at, e.priority, e.assignment_group, e.resolved_at,
           m.meaning,
           CASE WHEN e.seq = 1 THEN e.opened_at ELSE e.sys_updated_at END AS at,
           e.seq > 1 AND (e.assignment_group, e.assigned_to)
               IS DISTINCT FROM (lag(e.assignment_group) OVER w, lag(e.assigned_to) OVER w) AS transfer,
           lag(m.meaning) OVER w = 'solved' AND m.meaning IS DISTINCT FROM 'solved' AS reopen
      FROM replay.events e LEFT JOIN replay.meaning m ON m.state = e.incident_state
    WINDOW w AS (PARTITION BY e.number ORDER BY e.seq)),
per AS (
    SELECT ev.number, count(*) FILTER (WHERE ev.transfer) AS transfers,
           count(*) FILTER (WHERE ev.reopen) AS reopens,
           max(ev.seq) FILTER (WHERE ev.meaning IS DISTINCT FROM 'solved') AS last_unsolved,
           max(ev.seq) AS last_seq
      FROM ev GROUP BY ev.number),
streak AS (
    SELECT ev.number,
           (array_agg(ev.resolved_at ORDER BY ev.seq DESC) FILTER (WHERE ev.resolved_at IS NOT NULL))[1] AS mapped,
           (array_agg(ev.at ORDER BY ev.seq))[1] AS became_solved
      FROM ev JOIN per p USING (number)
     WHERE ev.seq > coalesce(p.last_unsolved, 0)
     GROUP BY ev.number)
SELECT f.number, f.opened_at, f.priority, f.assignment_group, p.transfers, p.reopens,
       coalesce(s.mapped, s.became_solved) AS resolved
  FROM ev f JOIN per p ON p.number = f.number AND f.seq = p.last_seq
  LEFT JOIN streak s ON s.number = f.number;

INSERT INTO replay.figures_raw
SELECT '1 incidents per month', to_char(date_trunc('month', opened_at), 'YYYY-MM'), count(*)::text
  FROM replay.raw_incidents GROUP BY 2
UNION ALL
SELECT f, coalesce(priority, '(all)'), v
  FROM (SELECT priority, count(*)::text AS n,
               (percentile_disc(0.5) WITHIN GROUP (ORDER BY resolved - opened_at))::text AS p50,
               (percentile_disc(0.9) WITHIN GROUP (ORDER BY resolved - opened_at))::text AS p90
          FROM replay.raw_incidents WHERE resolved IS NOT NULL
         GROUP BY GROUPING SETS ((priority), ())) q,
       LATERAL (VALUES ('2 resolved incidents', q.n), ('3 resolution p50', q.p50),
                       ('4 resolution p90', q.p90)) x(f, v)
UNION ALL
SELECT '5 transferred at least once', '(all)',
       format('%s of %s = %s', count(*) FILTER (WHERE transfers > 0), count(*),
              round((count(*) FILTER (WHERE transfers > 0))::numeric / count(*), 4))
  FROM replay.raw_incidents
UNION ALL
SELECT '5 transferred at least once', g.assignment_group,
       format('%s of %s = %s', g.transferred, g.tickets, round(g.transferred::numeric / g.tickets, 4))
  FROM (SELECT assignment_group, count(*) AS tickets, count(*) FILTER (WHERE transfers > 0) AS transferred
          FROM replay.raw_incidents WHERE assignment_group IS NOT NULL
         GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5) g
UNION ALL
SELECT '6 transfers', '(all)', sum(transfers)::text FROM replay.raw_incidents
UNION ALL
SELECT '7 reopened at least once', '(all)',
       format('%s of %s = %s', count(*) FILTER (WHERE reopens > 0), count(*),
              round((count(*) FILTER (WHERE reopens > 0))::numeric / count(*), 4))
  FROM replay.raw_incidents;

-- side by side
SELECT coalesce(v.figure, r.figure) AS figure, coalesce(v.key, r.key) AS key,
       v.value AS views, r.value AS raw_events,
       CASE WHEN v.value IS NOT DISTINCT FROM r.value THEN 'yes' ELSE 'NO' END AS agree
  FROM replay.figures_views v FULL JOIN replay.figures_raw r ON r.figure = v.figure AND r.key = v.key
 ORDER BY 1, CASE WHEN coalesce(v.key, r.key) = '(all)' THEN 0 ELSE 1 END, 2;

-- for reference only (not compared): ServiceNow's own counters on the
-- final event; they count differently (a first assignment is no
-- reassignment there, and not every update was logged: SOURCE.md)
SELECT 'servicenow counters (reference)' AS what,
       round(avg((reassignment_count > 0)::integer), 4) AS reassigned_share,
       round(avg((reopen_count > 0)::integer), 4) AS reopened_share
  FROM (SELECT DISTINCT ON (number) number, reassignment_count, reopen_count
          FROM replay.events ORDER BY number, seq DESC) f;
