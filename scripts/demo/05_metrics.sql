-- scripts/demo/05_metrics.sql: the metric views (issue 5) over what the
-- demo just ran.
--
-- Plain SQL views over rollups folded from the triggers' log (by the
-- worker every cycle; here once more, so that nothing written in the last
-- seconds is missing); docs/metrics.md has their exact definitions.  Time-dependent
-- metrics take the instant as an argument: the stream ran 4-15 March 2024.

\echo
\echo '=================================================================='
\echo ' Metrics: what the two weeks looked like, from the metric views'
\echo '    Exact as of the last fold (the worker folds every cycle; here'
\echo '    escalation.fold_facts() folds what is left).'
\echo '=================================================================='
SELECT escalation.fold_facts() AS "writes folded now";
SELECT (SELECT count(*) FROM escalation.ticket_facts) AS "tickets with facts",
       (SELECT count(*) FILTER (WHERE folded) FROM escalation.metric_days) AS "folded rollup rows",
       (SELECT count(*) FILTER (WHERE NOT folded) FROM escalation.metric_days) AS "delta rows left";

\echo
\echo '== Escalation rate by ISO week (escalation.escalation_rates), with the trend'
SELECT starts AS week, tickets, escalated, rate, coalesce(rate_change::text, '-') AS change
  FROM escalation.escalation_rates WHERE period = 'week' ORDER BY source_id, starts;

\echo
\echo '== Escalation rate by team, channel, priority and tier (escalation.escalation_rates_by)'
SELECT dimension, coalesce(value, '(none)') AS value, tickets, escalated, rate
  FROM escalation.escalation_rates_by
 ORDER BY source_id, month, dimension, rate DESC, value;

\echo
\echo '== Time to escalation: creation -> first escalation (escalation.time_to_escalation)'
SELECT CASE WHEN all_teams THEN 'all teams' ELSE coalesce(team, '(none)') END AS team,
       escalated, date_trunc('second', mean) AS mean, p50, p90, too_fast, too_slow
  FROM escalation.time_to_escalation ORDER BY source_id, all_teams DESC, escalated DESC, team;

\echo
\echo '== Escalated vs overall resolution time (escalation.resolution_times)'
SELECT month, resolved, date_trunc('second', mean_resolution) AS "mean, all",
       escalated_resolved, date_trunc('second', mean_resolution_escalated) AS "mean, escalated",
       date_trunc('second', mean_resolution_other) AS "mean, others", escalated_vs_all
  FROM escalation.resolution_times ORDER BY source_id, month;

\echo
\echo '== Re-escalation: per team, and the paths that needed a further escalation'
SELECT coalesce(team, '(none)') AS team, escalations, reescalated, rate
  FROM escalation.reescalation_rates ORDER BY source_id, rate DESC, team;
SELECT coalesce(from_team, '(none)') AS "from", coalesce(to_team, '(none)') AS "to", reescalations
  FROM escalation.reescalation_paths ORDER BY source_id, reescalations DESC, 1, 2;

\echo
\echo '== SLA attainment per policy and target, all teams (escalation.sla_attainment)'
SELECT policy, metric, finished, met, breached, attainment
  FROM escalation.sla_attainment WHERE team IS NULL ORDER BY source_id, policy, metric;

\echo
\echo '== Accounts at risk as of 16 March 2024 (escalation.at_risk_accounts)'
SELECT account_key, tier, tickets_recent, tickets_before, escalations_recent, reopened,
       frequency_rising AS rising, sentiment_falling AS falling, renewal_soon, score
  FROM escalation.at_risk_accounts('2024-03-16 00:00+00', 7)
 ORDER BY score DESC, account_key LIMIT 8;

\echo
\echo '== The one-call report for psql: SELECT * FROM escalation.report(as_of)'
\pset format unaligned
\pset tuples_only on
SELECT * FROM escalation.report('2024-03-16 00:00+00');
\pset format aligned
\pset tuples_only off
