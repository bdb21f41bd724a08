-- scripts/demo/04_sla_report.sql: what the SLA clocks did.

\echo
\echo '=================================================================='
\echo ' SLA: clocks, warnings, breaches and the ladder'
\echo '=================================================================='
\echo
\echo '== Attainment per policy and target (finished clocks; a met clock was answered or solved)'
SELECT p.name AS policy, c.metric,
       count(*) FILTER (WHERE c.state = 'met') AS met,
       count(*) FILTER (WHERE c.state = 'met' AND c.breached_at IS NULL) AS on_time,
       count(*) FILTER (WHERE c.breached_at IS NOT NULL) AS breached,
       count(*) FILTER (WHERE c.state IN ('running', 'paused')) AS still_open,
       round(100.0 * count(*) FILTER (WHERE c.state = 'met' AND c.breached_at IS NULL)
             / nullif(count(*) FILTER (WHERE c.state = 'met' OR c.breached_at IS NOT NULL), 0), 1) AS "on time %"
  FROM escalation.clocks c JOIN escalation.sla_policies p USING (policy_id)
 GROUP BY p.position, p.name, c.metric ORDER BY p.position, c.metric;

\echo
\echo '== Steps fired by the cycles (each exactly once), and how late the 15-minute cycle was'
SELECT f.metric, f.kind, count(*) AS fired,
       max(f.fired_at - f.due_at) AS "latest after due",
       count(f.escalation_id) AS escalations
  FROM escalation.clock_firings f
 GROUP BY f.metric, f.kind ORDER BY f.metric, f.kind;

\echo
\echo '== Notifications (NOTIFY escalation_sla): sent at once, or held for the frontline''s office hours'
SELECT n.team, n.severity,
       count(*) FILTER (WHERE n.notify_at = n.created_at) AS sent_at_once,
       count(*) FILTER (WHERE n.notify_at > n.created_at) AS held_for_hours,
       max(n.notify_at - n.created_at) AS longest_hold
  FROM escalation.notifications n
 GROUP BY n.team, n.severity ORDER BY n.team NULLS FIRST, n.severity;

\echo
\echo '== One urgent ticket''s journey: its clocks, what fired, and the escalations the ladder made'
SELECT c.ticket_key AS ticket FROM escalation.clock_firings c
 WHERE c.kind = 'level' ORDER BY c.due_at LIMIT 1 \gset
SELECT c.metric, c.round, c.state, c.started_at, c.target, c.elapsed, c.breached_at, c.finished_at
  FROM escalation.clocks c WHERE c.ticket_key = :'ticket' ORDER BY c.metric, c.round;
SELECT f.metric, f.step, f.due_at, f.fired_at, f.escalation_id
  FROM escalation.clock_firings f WHERE f.ticket_key = :'ticket' ORDER BY f.due_at, f.step;
SELECT e.escalation_id, e.level, e.origin, e.target_team, e.agent_id, e.severity, e.status,
       e.reasons -> 0 ->> 'rule' AS why
  FROM escalation.escalations e WHERE e.ticket_key = :'ticket' AND e.origin = 'sla' ORDER BY e.level;

\echo
\echo '== Calibration: targets proposed from Helio''s own history (2 x p90, calendar time)'
SELECT priority, metric, tickets, p50, p90, proposed
  FROM escalation.propose_sla_targets('helpdesk.tickets') ORDER BY metric, priority;
