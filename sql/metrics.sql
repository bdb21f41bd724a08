--
-- metrics: the metric views give the numbers of the naive query over the
-- raw tables (the helpdesk's tickets and escalation.escalations), on
-- generated data with edge cases: tickets never escalated, escalated
-- several times, still open, reopened, transferred between teams, and
-- created around local midnight (the source is in Europe/Berlin, so a
-- ticket at 23:30 UTC belongs to the next local day).  Then the same
-- after compaction and after a rebuild, transfers, CSAT, the tenant
-- boundary and the report.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';

CREATE SCHEMA m_hd;
CREATE TABLE m_hd.tickets (
    id         integer PRIMARY KEY,
    status     text NOT NULL DEFAULT 'new',
    priority   text NOT NULL DEFAULT 'normal',
    channel    text NOT NULL DEFAULT 'email',
    team       text,
    assignee   text,
    account    text,
    subject    text,
    body       text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    resolved_at timestamptz,
    tenant     text
);
INSERT INTO escalation.teams (name, kind, tier) VALUES
    ('m_front', 'functional', 1), ('m_billing', 'functional', 2), ('m_managers', 'hierarchical', 3);
INSERT INTO escalation.accounts (account_key, tier, annual_value, renewal_date) VALUES
    ('m_acme', 'enterprise', 250000, '2024-05-01'), ('m_bolt', 'standard', 5000, NULL);
SELECT escalation.attach('m_hd.tickets', key => 'id', status => 'status',
       status_map => '{"open": ["new", "open"], "pending": ["pending"], "solved": ["solved", "closed"]}',
       created_at => 'created_at', updated_at => 'updated_at', resolved_at => 'resolved_at',
       priority => 'priority', channel => 'channel', team => 'team', assignee => 'assignee',
       account => 'account', subject => 'subject', body => 'body', tenant => 'tenant',
       time_zone => 'Europe/Berlin', name => 'metrics') AS sid \gset
INSERT INTO escalation.rules (name, keywords, target_team, kind) VALUES
    ('refunds', '{refund}', 'm_billing', 'functional');

-- 300 tickets over three months; every 7th asks for a refund (escalated by
-- the rule at insert), created at 23:30 UTC every 5th (next day in Berlin);
-- two tenants share the table (odd and even ids)
INSERT INTO m_hd.tickets (id, tenant, priority, channel, team, account, subject, body, created_at, updated_at)
SELECT g, CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END,
       (ARRAY['low', 'normal', 'high', 'urgent'])[1 + g % 4],
       (ARRAY['email', 'chat', 'phone'])[1 + g % 3],
       'm_front',
       (ARRAY['m_acme', 'm_bolt', NULL])[1 + g % 3],
       'ticket ' || g,
       CASE WHEN g % 7 = 0 THEN 'I want a refund, this is terrible' ELSE 'how do I export data, thanks' END,
       c, c
  FROM generate_series(1, 300) g,
       LATERAL (SELECT timestamptz '2024-01-01 00:00+00' + (g * interval '7 hours 13 minutes')
                       + CASE WHEN g % 5 = 0 THEN interval '0' ELSE interval '0' END AS c0) x,
       LATERAL (SELECT CASE WHEN g % 5 = 0 THEN date_trunc('day', x.c0) + interval '23 hours 30 minutes'
                            ELSE x.c0 END AS c) y;

-- manual escalations of every 11th ticket, at varying delays; re-escalate
-- every 22nd to managers (level 2), every 33rd once more (level 3)
SELECT count(escalation.escalate('m_hd.tickets', t.id::text, target_team => 'm_front',
                                 reason => 'stuck', as_of => t.created_at + (t.id % 13) * interval '37 minutes'))
  FROM m_hd.tickets t WHERE t.id % 11 = 0;
SELECT count(escalation.escalate('m_hd.tickets', t.id::text, target_team => 'm_managers', level => 2,
                                 kind => 'hierarchical', reason => 'still stuck',
                                 as_of => t.created_at + interval '2 days'))
  FROM m_hd.tickets t WHERE t.id % 22 = 0;
SELECT count(escalation.escalate('m_hd.tickets', t.id::text, target_team => 'm_billing', level => 3,
                                 reason => 'money', as_of => t.created_at + interval '3 days'))
  FROM m_hd.tickets t WHERE t.id % 33 = 0;

-- transfers the helpdesk makes itself: every 4th ticket moves to billing,
-- every 8th then to managers; every 6th gets a new assignee
UPDATE m_hd.tickets SET team = 'm_billing', updated_at = created_at + interval '1 hour' WHERE id % 4 = 0;
UPDATE m_hd.tickets SET team = 'm_managers', updated_at = created_at + interval '3 hours' WHERE id % 8 = 0;
UPDATE m_hd.tickets SET assignee = 'agent' || (id % 3), updated_at = created_at + interval '4 hours'
 WHERE id % 6 = 0;
-- two thirds are solved; every 10th of those reopens and is solved again
UPDATE m_hd.tickets SET status = 'solved', resolved_at = created_at + (id % 17) * interval '3 hours 7 minutes',
       updated_at = created_at + (id % 17) * interval '3 hours 7 minutes'
 WHERE id % 3 <> 0;
UPDATE m_hd.tickets SET status = 'open', resolved_at = NULL, updated_at = updated_at + interval '1 hour'
 WHERE id % 10 = 1;
UPDATE m_hd.tickets SET status = 'closed', resolved_at = updated_at + interval '5 hours',
       updated_at = updated_at + interval '5 hours'
 WHERE id % 20 = 1;

-- the trigger logged each write (escalation.fact_changes); the worker folds
-- the log into the facts and rollups every cycle, here by hand.  Until
-- then the facts show nothing of these tickets
SELECT count(*) AS facts_before_fold FROM escalation.ticket_facts WHERE source_id = :sid;
SELECT count(*) AS logged_writes FROM escalation.fact_changes WHERE source_id = :sid;
SELECT count(DISTINCT ticket_key) AS tickets_with_escalations_changed
  FROM escalation.escalation_changes WHERE source_id = :sid;
SELECT escalation.fold_facts() AS folded;
SELECT (SELECT count(*) FROM escalation.fact_changes) + (SELECT count(*) FROM escalation.escalation_changes)
       AS left_to_fold;
SELECT count(*) AS tickets, sum(escalations) AS escalations, count(*) FILTER (WHERE escalations > 0) AS escalated,
       sum(transfers) AS transfers, sum(reopened) AS reopened, count(resolved_at) AS resolved
  FROM escalation.ticket_facts WHERE source_id = :sid;

-- the naive queries, over the raw tables
CREATE VIEW m_hd.naive WITH (security_invoker = true) AS
SELECT t.id, t.created_at, t.team, t.channel, t.priority, a.tier,
       CASE WHEN t.status IN ('solved', 'closed') THEN t.resolved_at END AS resolved_at,
       e.first_at, e.first_team, e.n
  FROM m_hd.tickets t
  LEFT JOIN escalation.accounts a ON a.account_key = t.account
  LEFT JOIN LATERAL (
        SELECT min(x.created_at) AS first_at, count(*) AS n,
               (array_agg(x.target_team ORDER BY x.created_at, x.escalation_id))[1] AS first_team
          FROM escalation.escalations x
         WHERE x.source_id = :sid AND x.ticket_key = t.id::text) e ON e.n > 0;

CREATE FUNCTION m_hd.sid() RETURNS integer LANGUAGE sql STABLE AS
$$ SELECT source_id FROM escalation.sources WHERE name = 'metrics' AND attached $$;

CREATE FUNCTION m_hd.diff(a text, b text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint; m bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', a, b) INTO n;
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', b, a) INTO m;
    RETURN n + m;
END $$;

CREATE FUNCTION m_hd.check_all() RETURNS TABLE (view text, rows bigint, differences bigint)
LANGUAGE sql AS $$
-- the views as of the last write: fold what the trigger logged
SELECT escalation.fold_facts();
SELECT 'escalation_rates(day)', (SELECT count(*) FROM escalation.escalation_rates WHERE period = 'day' AND source_id = m_hd.sid()),
       m_hd.diff($a$SELECT starts, tickets, escalated FROM escalation.escalation_rates
                    WHERE period = 'day' AND source_id = m_hd.sid()$a$,
                 $b$SELECT (created_at AT TIME ZONE 'Europe/Berlin')::date, count(*), count(first_at)
                      FROM m_hd.naive GROUP BY 1$b$)
UNION ALL
SELECT 'escalation_rates(week)', (SELECT count(*) FROM escalation.escalation_rates WHERE period = 'week' AND source_id = m_hd.sid()),
       m_hd.diff($a$SELECT starts, tickets, escalated, rate FROM escalation.escalation_rates WHERE period = 'week' AND source_id = m_hd.sid()$a$,
                 $b$SELECT date_trunc('week', (created_at AT TIME ZONE 'Europe/Berlin'))::date, count(*), count(first_at),
                           round(count(first_at)::numeric / count(*), 4)
                      FROM m_hd.naive GROUP BY 1$b$)
UNION ALL
SELECT 'escalation_rates(month)', (SELECT count(*) FROM escalation.escalation_rates WHERE period = 'month' AND source_id = m_hd.sid()),
       m_hd.diff($a$SELECT starts, tickets, escalated, rate_change FROM escalation.escalation_rates WHERE period = 'month' AND source_id = m_hd.sid()$a$,
                 $b$SELECT m, t, e, round(e::numeric / t, 4) - lag(round(e::numeric / t, 4)) OVER (ORDER BY m)
                      FROM (SELECT date_trunc('month', (created_at AT TIME ZONE 'Europe/Berlin'))::date m, count(*) t,
                                   count(first_at) e FROM m_hd.naive GROUP BY 1) q$b$)
UNION ALL
SELECT 'escalation_rates_by', (SELECT count(*) FROM escalation.escalation_rates_by WHERE source_id = m_hd.sid()),
       m_hd.diff($a$SELECT month, dimension, value, tickets, escalated FROM escalation.escalation_rates_by WHERE source_id = m_hd.sid()$a$,
                 $b$SELECT date_trunc('month', (created_at AT TIME ZONE 'Europe/Berlin'))::date, d, v, count(*), count(first_at)
                      FROM m_hd.naive,
                           LATERAL (VALUES ('team', team), ('channel', channel), ('priority', priority),
                                           ('account_tier', tier)) x(d, v)
                     GROUP BY 1, 2, 3$b$)
UNION ALL
SELECT 'time_to_escalation', (SELECT count(*) FROM escalation.time_to_escalation WHERE source_id = m_hd.sid()),
       m_hd.diff($a$SELECT all_teams, team, escalated, date_trunc('second', mean), p50, p90, too_fast, too_slow
                      FROM escalation.time_to_escalation WHERE source_id = m_hd.sid()$a$,
                 $b$SELECT GROUPING(first_team) = 1, first_team, count(*), date_trunc('second', avg(first_at - created_at)),
                           make_interval(mins => percentile_disc(0.5) WITHIN GROUP (ORDER BY floor(extract(epoch FROM first_at - created_at) / 60)::int)),
                           make_interval(mins => percentile_disc(0.9) WITHIN GROUP (ORDER BY floor(extract(epoch FROM first_at - created_at) / 60)::int)),
                           count(*) FILTER (WHERE first_at - created_at < interval '5 minutes'),
                           count(*) FILTER (WHERE first_at - created_at >= interval '24 hours')
                      FROM m_hd.naive WHERE first_at IS NOT NULL
                     GROUP BY GROUPING SETS ((first_team), ())$b$)
UNION ALL
SELECT 'resolution_times', (SELECT count(*) FROM escalation.resolution_times WHERE source_id = m_hd.sid()),
       m_hd.diff($a$SELECT month, resolved, date_trunc('second', mean_resolution), escalated_resolved,
                           date_trunc('second', mean_resolution_escalated), date_trunc('second', mean_escalation_resolution),
                           date_trunc('second', mean_resolution_other)
                      FROM escalation.resolution_times WHERE source_id = m_hd.sid()$a$,
                 $b$SELECT date_trunc('month', (created_at AT TIME ZONE 'Europe/Berlin'))::date, count(resolved_at),
                           date_trunc('second', avg(resolved_at - created_at)),
                           count(resolved_at) FILTER (WHERE first_at IS NOT NULL),
                           date_trunc('second', avg(resolved_at - created_at) FILTER (WHERE first_at IS NOT NULL)),
                           date_trunc('second', avg(resolved_at - first_at) FILTER (WHERE first_at IS NOT NULL)),
                           date_trunc('second', avg(resolved_at - created_at) FILTER (WHERE first_at IS NULL))
                      FROM m_hd.naive GROUP BY 1 HAVING count(resolved_at) > 0$b$)
UNION ALL
SELECT 'reescalation_rates', (SELECT count(*) FROM escalation.reescalation_rates WHERE source_id = m_hd.sid()),
       m_hd.diff($a$SELECT team, escalations, reescalated FROM escalation.reescalation_rates WHERE source_id = m_hd.sid()$a$,
                 $b$SELECT e.target_team, count(*),
                           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM escalation.escalations c
                                                           WHERE c.source_id = e.source_id AND c.ticket_key = e.ticket_key
                                                             AND c.escalation_id > e.escalation_id))
                      FROM escalation.escalations e WHERE e.source_id = m_hd.sid() GROUP BY 1$b$)
UNION ALL
SELECT 'reescalation_paths', (SELECT count(*) FROM escalation.reescalation_paths WHERE source_id = m_hd.sid()),
       m_hd.diff($a$SELECT from_team, to_team, reescalations FROM escalation.reescalation_paths WHERE source_id = m_hd.sid()$a$,
                 $b$SELECT p.target_team, c.target_team, count(*)
                      FROM escalation.escalations c
                      JOIN escalation.escalations p ON p.source_id = c.source_id AND p.ticket_key = c.ticket_key
                       AND p.escalation_id = (SELECT max(q.escalation_id) FROM escalation.escalations q
                                               WHERE q.source_id = c.source_id AND q.ticket_key = c.ticket_key
                                                 AND q.escalation_id < c.escalation_id)
                     WHERE c.source_id = m_hd.sid()
                     GROUP BY 1, 2$b$)
UNION ALL
SELECT 'transfer_stats', (SELECT count(*) FROM escalation.transfer_stats WHERE source_id = m_hd.sid()),
       m_hd.diff($a$SELECT month, tickets, transferred, transfers FROM escalation.transfer_stats WHERE source_id = m_hd.sid()$a$,
                 $b$SELECT date_trunc('month', (t.created_at AT TIME ZONE 'Europe/Berlin'))::date, count(*),
                           count(*) FILTER (WHERE (t.id % 4 = 0) OR (t.id % 6 = 0)),
                           sum((t.id % 4 = 0)::int + (t.id % 8 = 0)::int + (t.id % 6 = 0)::int)
                      FROM m_hd.tickets t GROUP BY 1$b$)
UNION ALL
SELECT 'transfer_stats_by', (SELECT count(*) FROM escalation.transfer_stats_by WHERE source_id = m_hd.sid()),
       m_hd.diff($a$SELECT month, dimension, value, tickets, transferred, transfers, reopened
                      FROM escalation.transfer_stats_by WHERE source_id = m_hd.sid()$a$,
                 $b$SELECT date_trunc('month', (created_at AT TIME ZONE 'Europe/Berlin'))::date, d, v, count(*),
                           count(*) FILTER (WHERE (id % 4 = 0) OR (id % 6 = 0)),
                           sum((id % 4 = 0)::int + (id % 8 = 0)::int + (id % 6 = 0)::int),
                           count(*) FILTER (WHERE id % 3 <> 0 AND id % 10 = 1)
                      FROM m_hd.naive,
                           LATERAL (VALUES ('team', team), ('channel', channel), ('priority', priority),
                                           ('account_tier', tier)) x(d, v)
                     GROUP BY 1, 2, 3$b$)
UNION ALL
SELECT 'resolution_percentiles', (SELECT count(*) FROM escalation.resolution_percentiles WHERE source_id = m_hd.sid()),
       m_hd.diff($a$SELECT dimension, value, resolved, mean, p50, p90
                      FROM escalation.resolution_percentiles WHERE source_id = m_hd.sid()$a$,
                 $b$SELECT d, v, count(*), avg(resolved_at - created_at),
                           percentile_disc(0.5) WITHIN GROUP (ORDER BY resolved_at - created_at),
                           percentile_disc(0.9) WITHIN GROUP (ORDER BY resolved_at - created_at)
                      FROM m_hd.naive,
                           LATERAL (VALUES ('all', NULL), ('team', team), ('channel', channel),
                                           ('priority', priority)) x(d, v)
                     WHERE resolved_at IS NOT NULL
                     GROUP BY 1, 2$b$)
UNION ALL
SELECT 'misroutes', (SELECT count(*) FROM escalation.misroutes WHERE source_id = m_hd.sid()),
       m_hd.diff($a$SELECT escalated_to, resolved_by, tickets FROM escalation.misroutes WHERE source_id = m_hd.sid()$a$,
                 $b$SELECT first_team, team, count(*) FROM m_hd.naive
                     WHERE resolved_at IS NOT NULL AND first_team <> team GROUP BY 1, 2$b$)
$$;

SELECT * FROM m_hd.check_all();
-- folding the deltas changes nothing.  The worker folds them: the last
-- batch of a cycle (run_batch) compacts once a rollup holds batch_size
-- delta rows, and returns only what it handled (routing is off here, and
-- nothing is due in 2000)
INSERT INTO escalation.routing_settings (enabled) VALUES (false);
SELECT count(*) FILTER (WHERE NOT folded) AS unfolded_days FROM escalation.metric_days \gset
SELECT :unfolded_days > 10 AS deltas_piled_up;
SELECT escalation.run_batch('2000-01-01 00:00+00', :unfolded_days + 1) AS handled;
SELECT count(*) FILTER (WHERE NOT folded) = :unfolded_days AS not_due_yet FROM escalation.metric_days;
SELECT escalation.run_batch('2000-01-01 00:00+00', 10) AS handled;
SELECT (SELECT count(*) FILTER (WHERE NOT folded) FROM escalation.metric_days) AS unfolded_days,
       (SELECT count(*) FILTER (WHERE NOT folded) FROM escalation.metric_tte) AS unfolded_tte,
       (SELECT count(*) FILTER (WHERE NOT folded) FROM escalation.metric_paths) AS unfolded_paths,
       (SELECT count(*) FILTER (WHERE folded) FROM escalation.metric_days) > 0 AS folded_days;
DELETE FROM escalation.routing_settings;
SELECT view, differences FROM m_hd.check_all() WHERE differences <> 0;
-- by hand (or pg_cron where the worker is off); nothing left to fold
SELECT escalation.compact_metrics() > 0 AS compacted;
-- the month grain the month views read is the sum of the folded days,
-- tenant by tenant
SELECT count(*) AS month_rows_off
  FROM ((SELECT source_id, tenant, month, team, channel, priority, account_tier, tickets, escalated, resolved,
                reopened_tickets, transferred, transfers, round(resolution_secs)
           FROM escalation.metric_months
         EXCEPT ALL
         SELECT source_id, tenant, date_trunc('month', day)::date, team, channel, priority, account_tier,
                sum(tickets), sum(escalated), sum(resolved), sum(reopened_tickets), sum(transferred),
                sum(transfers), round(sum(resolution_secs))
           FROM escalation.metric_days WHERE folded GROUP BY 1, 2, 3, 4, 5, 6, 7)
        UNION ALL
        (SELECT source_id, tenant, date_trunc('month', day)::date, team, channel, priority, account_tier,
                sum(tickets), sum(escalated), sum(resolved), sum(reopened_tickets), sum(transferred),
                sum(transfers), round(sum(resolution_secs))
           FROM escalation.metric_days WHERE folded GROUP BY 1, 2, 3, 4, 5, 6, 7
         EXCEPT ALL
         SELECT source_id, tenant, month, team, channel, priority, account_tier, tickets, escalated, resolved,
                reopened_tickets, transferred, transfers, round(resolution_secs)
           FROM escalation.metric_months)) d;
SELECT view, differences FROM m_hd.check_all() WHERE differences <> 0;
SELECT count(*) FILTER (WHERE NOT folded) AS unfolded FROM escalation.metric_days;
-- more changes after compaction, then a rebuild from scratch
UPDATE m_hd.tickets SET status = 'solved', resolved_at = updated_at + interval '1 day',
       updated_at = updated_at + interval '1 day' WHERE id % 3 = 0 AND id % 9 <> 0;
SELECT view, differences FROM m_hd.check_all() WHERE differences <> 0;
SELECT escalation.rebuild_metrics();
SELECT view, differences FROM m_hd.check_all() WHERE differences <> 0;

-- the figures themselves, for a few periods
SELECT period, starts, tickets, escalated, rate, rate_change
  FROM escalation.escalation_rates WHERE period = 'month' AND source_id = :sid ORDER BY starts;
SELECT all_teams, team, escalated, p50, p90, too_fast, too_slow
  FROM escalation.time_to_escalation WHERE source_id = :sid ORDER BY all_teams, team;
SELECT from_team, to_team, reescalations FROM escalation.reescalation_paths
 WHERE source_id = :sid ORDER BY from_team, to_team;

-- the local day: ticket 5 was created at 23:30 UTC on 2024-01-02, which
-- is 00:30 on 2024-01-03 in Berlin
SELECT created_at FROM m_hd.tickets WHERE id = 5;
SELECT tickets FROM escalation.escalation_rates WHERE period = 'day' AND starts = '2024-01-03' AND source_id = :sid;

-- observed transfers: kinds from the receiving team, hops, the journey
SELECT hop, from_team, to_team, from_assignee, to_assignee, kind, at - previous_at AS before
  FROM escalation.ticket_transfers WHERE source_id = :sid AND ticket_key = '24' ORDER BY hop;
SELECT hop, transfers, hierarchical, functional, reassignments FROM escalation.transfer_hops WHERE source_id = :sid ORDER BY hop;
SELECT kind, what, team FROM escalation.ticket_journey WHERE source_id = :sid AND ticket_key = '88'
 ORDER BY at, kind, what;
-- an update that changes neither team nor assignee is no transfer
UPDATE m_hd.tickets SET priority = 'urgent', updated_at = updated_at + interval '1 minute' WHERE id = 24;
SELECT count(*) FROM escalation.ticket_transfers WHERE source_id = :sid AND ticket_key = '24';

-- retargeting an escalation moves its paths; views still agree
UPDATE escalation.escalations SET target_team = 'm_billing'
 WHERE source_id = :sid AND ticket_key = '22' AND level = 2;
SELECT view, differences FROM m_hd.check_all() WHERE differences <> 0;

-- tickets that existed before attach: backfill
CREATE TABLE m_hd.old_tickets (id integer PRIMARY KEY, st text, created timestamp, team text);
INSERT INTO m_hd.old_tickets VALUES (1, 'done', '2024-02-01 10:00', 'm_billing'), (2, 'new', '2024-02-02 10:00', NULL);
SELECT escalation.attach('m_hd.old_tickets', key => 'id', status => 'st',
       status_map => '{"open": ["new"], "solved": ["done"]}', created_at => 'created', team => 'team',
       time_zone => 'America/New_York', name => 'old') AS old_sid \gset
SELECT escalation.backfill_facts('m_hd.old_tickets', '2024-03-01 00:00+00');
SELECT ticket_key, created_at, status, team, resolved_at FROM escalation.ticket_facts
 WHERE source_id = :old_sid ORDER BY ticket_key;
SELECT escalation.backfill_facts('m_hd.old_tickets', '2024-03-01 00:00+00') AS again;

-- CSAT
CREATE TABLE m_hd.ratings (ticket_id integer, score integer);
INSERT INTO m_hd.ratings VALUES (7, 2), (8, 5);
SELECT escalation.attach_csat('m_hd.ratings', 'm_hd.tickets', ticket => 'ticket_id', score => 'score');
INSERT INTO m_hd.ratings VALUES (14, 1), (9, 4);
SELECT escalated, rated, mean_csat FROM escalation.csat_comparison WHERE source_id = :sid ORDER BY escalated;
SELECT escalation.attach_csat('m_hd.ratings', 'm_hd.tickets', ticket => 'ticket_id', score => 'nope');

-- at-risk accounts and retention, as of a fixed instant
SELECT account_key, tickets_recent, tickets_before, escalations_recent, reopened, frequency_rising,
       renewal_soon, score
  FROM escalation.at_risk_accounts('2024-03-15 00:00+00') WHERE account_key LIKE 'm\_%';
SELECT * FROM escalation.retention('2024-03-15 00:00+00', 30);

-- two tenants in one table: each tenant's analyst sees exactly its own
-- figures.  The naive queries run as the analyst too, so that the
-- helpdesk's own row-level security gives them the tenant's tickets, and
-- escalation's gives them its escalations
CREATE ROLE m_tenant_odd NOLOGIN;
CREATE ROLE m_tenant_even NOLOGIN;
CREATE ROLE m_analyst_odd NOLOGIN IN ROLE escalation_analyst, m_tenant_odd;
CREATE ROLE m_analyst_even NOLOGIN IN ROLE escalation_analyst, m_tenant_even;
INSERT INTO escalation.tenant_roles (tenant, role) VALUES ('odd', 'm_tenant_odd'), ('even', 'm_tenant_even');
ALTER TABLE m_hd.tickets ENABLE ROW LEVEL SECURITY;
CREATE POLICY odd ON m_hd.tickets TO m_tenant_odd USING (tenant = 'odd');
CREATE POLICY even ON m_hd.tickets TO m_tenant_even USING (tenant = 'even');
GRANT USAGE ON SCHEMA m_hd TO escalation_analyst;
GRANT SELECT ON m_hd.tickets, m_hd.naive TO escalation_analyst;
SELECT tenant, count(*) AS tickets, count(*) FILTER (WHERE escalations > 0) AS escalated
  FROM escalation.ticket_facts WHERE source_id = :sid GROUP BY 1 ORDER BY 1;
SET ROLE m_analyst_odd;
SELECT count(*) AS tickets, count(DISTINCT tenant) AS tenants FROM m_hd.tickets;
SELECT count(*) AS escalations, count(*) FILTER (WHERE tenant <> 'odd') AS others
  FROM escalation.escalations WHERE source_id = :sid;
SELECT * FROM m_hd.check_all();
RESET ROLE;
SET ROLE m_analyst_even;
SELECT count(*) AS tickets, count(DISTINCT tenant) AS tenants FROM m_hd.tickets;
SELECT * FROM m_hd.check_all();
RESET ROLE;
-- the tenants' rows add up to the whole, which the owner still sees
SELECT view, differences FROM m_hd.check_all() WHERE differences <> 0;
DELETE FROM escalation.tenant_roles;
DROP POLICY odd ON m_hd.tickets;
DROP POLICY even ON m_hd.tickets;
ALTER TABLE m_hd.tickets DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON m_hd.tickets, m_hd.naive FROM escalation_analyst;
REVOKE ALL ON SCHEMA m_hd FROM escalation_analyst;
DROP ROLE m_analyst_odd, m_analyst_even, m_tenant_odd, m_tenant_even;

-- the tenant boundary: a scoped source is invisible to other analysts
CREATE ROLE m_tenant_a NOLOGIN;
CREATE ROLE m_analyst_a NOLOGIN IN ROLE escalation_analyst, m_tenant_a;
CREATE ROLE m_analyst_b NOLOGIN IN ROLE escalation_analyst;
INSERT INTO escalation.metric_sources (source_id, tenant_role) VALUES (:sid, 'm_tenant_a');
SET ROLE m_analyst_a;
SELECT count(*) > 0 AS sees_own FROM escalation.escalation_rates WHERE source_id = :sid;
SELECT count(*) > 0 AS sees_facts FROM escalation.ticket_facts WHERE source_id = :sid;
RESET ROLE;
SET ROLE m_analyst_b;
SELECT count(*) AS sees_other FROM escalation.escalation_rates WHERE source_id = :sid;
SELECT count(*) AS sees_other_facts FROM escalation.ticket_facts WHERE source_id = :sid;
SELECT count(*) AS sees_other_reesc FROM escalation.reescalation_rates WHERE source_id = :sid;
SELECT count(*) AS sees_old FROM escalation.ticket_facts WHERE source_id = :old_sid;
RESET ROLE;
DELETE FROM escalation.metric_sources;
DROP ROLE m_analyst_a, m_analyst_b, m_tenant_a;

-- a source can stop keeping facts
INSERT INTO escalation.metric_sources (source_id, track_facts) VALUES (:old_sid, false);
INSERT INTO m_hd.old_tickets VALUES (3, 'new', '2024-02-03 10:00', NULL);
SELECT count(*) FROM escalation.ticket_facts WHERE source_id = :old_sid;

-- the report
SELECT regexp_replace(line, 'source \d+', 'source N') AS line
  FROM escalation.report('2024-03-15 00:00+00', :sid) AS line LIMIT 12;

SELECT escalation.detach('m_hd.old_tickets');
SELECT escalation.detach('m_hd.tickets');
DROP SCHEMA m_hd CASCADE;
DELETE FROM escalation.metric_sources;
DELETE FROM escalation.rules WHERE name = 'refunds';
DELETE FROM escalation.teams WHERE name IN ('m_front', 'm_billing', 'm_managers');
DELETE FROM escalation.accounts WHERE account_key IN ('m_acme', 'm_bolt');
