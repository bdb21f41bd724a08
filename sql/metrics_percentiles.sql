--
-- metrics_percentiles: resolution_percentiles and time_to_escalation_by_reason
-- read rollups (metric_resolution, metric_resolution_fine,
-- metric_tte_reasons) and give exactly the rows of the naive query over
-- the raw tables: percentile_disc over every resolved ticket's interval,
-- avg() of the intervals.  Edge cases: ties (many tickets resolved in the
-- same time, escalated in the same minute), a group of one ticket, a group
-- with only open tickets (no row), open and reopened tickets, values not
-- set (NULL groups), zero and negative resolution times, durations on the
-- buckets' edges (2^k microseconds and one less) and up to years, a dense
-- cluster of 800 tickets within seconds (the value deep inside one fine
-- bucket), creation times across a daylight-saving change, two tenants
-- (each tenant's analyst sees its own figures), after every kind of change:
-- folded deltas, compaction, updates that move tickets between buckets and
-- groups, a rebuild from scratch.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';

-- the bucket functions: bucket numbers follow the order of durations, every
-- duration lies within its bucket's bounds, and the coarse bounds are edges
-- of fine buckets
WITH v(us) AS (
    SELECT x FROM unnest(ARRAY[0, 1, 31, 32, 33, 63, 64, 4095, 4096, 4097, 8191, 8192, 1000000,
                               86400000000, 86400000001, 604800000000, 4611686018427387903,
                               4611686018427387904, 9223372036854775807]::bigint[]) x
    UNION ALL SELECT -x - 1 FROM unnest(ARRAY[0, 1, 31, 32, 4096, 86400000000,
                                             9223372036854775806]::bigint[]) x
    UNION ALL SELECT (g::bigint * 7919 * 104729) % 1000000000000 FROM generate_series(1, 2000) g
    UNION ALL SELECT (1::bigint << g) + d FROM generate_series(0, 62) g, (VALUES (-1), (0), (1)) d(d)
     WHERE (1::bigint << g) + d >= 0),
i AS (SELECT v.us, make_interval(days => (v.us / 86400000000)::int,
                                 secs => (v.us % 86400000000)::float8 / 1000000) AS d
        FROM v WHERE abs(v.us) < 86400000000::bigint * 1000000),
b AS (SELECT i.us, i.d, l.level, escalation.duration_bucket(i.d, l.level) AS bucket
        FROM i, (VALUES (1), (2)) l(level))
SELECT level,
       count(*) AS durations,
       count(*) FILTER (WHERE d < escalation.duration_bucket_low(bucket, level)
                           OR d > escalation.duration_bucket_high(bucket, level)) AS outside_bounds,
       count(*) FILTER (WHERE bucket <> escalation.duration_bucket(escalation.duration_bucket_low(bucket, level), level)
                           OR bucket <> escalation.duration_bucket(escalation.duration_bucket_high(bucket, level), level)) AS bounds_elsewhere
  FROM b GROUP BY level ORDER BY level;
-- order: a longer duration never has a lower bucket
WITH v(us) AS (SELECT (1::bigint << (g % 50)) + (g * 7919) % 100000 - 50000 FROM generate_series(1, 3000) g),
b AS (SELECT us, escalation.duration_bucket(make_interval(secs => us::float8 / 1000000), l) AS bucket, l
        FROM v, generate_series(1, 2) l)
SELECT l AS level, count(*) FILTER (WHERE x.bucket > y.bucket) AS out_of_order
  FROM b x JOIN b y USING (l) WHERE x.us < y.us GROUP BY l ORDER BY l;
-- the edges: 32 and 4,096 one-microsecond buckets, then 32 / 4,096 per power of two
SELECT escalation.duration_bucket('00:00:00.000031', 1) AS b31, escalation.duration_bucket('00:00:00.000032', 1) AS b32,
       escalation.duration_bucket('00:00:00.000064', 1) AS b64, escalation.duration_bucket('00:00:00.000066', 1) AS b66,
       escalation.duration_bucket('-00:00:00.000001', 1) AS minus1,
       escalation.duration_bucket_low(escalation.duration_bucket('1 day', 1), 1) AS day_low,
       escalation.duration_bucket_high(escalation.duration_bucket('1 day', 1), 1) AS day_high,
       escalation.duration_bucket_low(escalation.duration_bucket('1 day', 2), 2) AS day_low_fine,
       escalation.duration_bucket_high(escalation.duration_bucket('1 day', 2), 2) AS day_high_fine;
SELECT escalation.duration_bucket('1 hour', 3);
SELECT escalation.duration_bucket_low(100000, 1);
-- histogram_find: rows in any order, several per bucket (deltas), added up
SELECT escalation.histogram_find('{5,1,3,1,5}', '{2,1,4,-1,1}', r) AS found, r AS rank
  FROM generate_series(1, 8) r;
SELECT escalation.histogram_find('{}', '{}', 1) AS empty;
SELECT escalation.histogram_find('{1,2}', '{1}', 1);
SELECT escalation.histogram_find('{1,2}', '{1,-2}', 1);
SELECT escalation.histogram_find('{1,NULL}', '{1,2}', 1);

-- a helpdesk in New York (daylight saving began 2024-03-10 02:00 local)
CREATE SCHEMA mp_hd;
CREATE TABLE mp_hd.tickets (
    id          integer PRIMARY KEY,
    status      text NOT NULL DEFAULT 'open',
    priority    text,
    channel     text,
    team        text,
    subject     text,
    body        text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    resolved_at timestamptz,
    tenant      text
);
INSERT INTO escalation.teams (name, kind, tier) VALUES ('mp_front', 'functional', 1), ('mp_back', 'functional', 2),
    ('mp_third', 'functional', 2);
SELECT escalation.attach('mp_hd.tickets', key => 'id', status => 'status',
       status_map => '{"open": ["open"], "solved": ["solved"]}',
       created_at => 'created_at', updated_at => 'updated_at', resolved_at => 'resolved_at',
       priority => 'priority', channel => 'channel', team => 'team', subject => 'subject', body => 'body',
       tenant => 'tenant', time_zone => 'America/New_York', name => 'mp') AS sid \gset
INSERT INTO escalation.rules (name, keywords, target_team, kind) VALUES
    ('mp_refund', '{refund}', 'mp_back', 'functional'),
    ('mp_outage', '{outage}', 'mp_front', 'functional');

-- 600 tickets every 17 minutes from 2024-03-09 12:00 New York time (across
-- the change); every 23rd is created by a rule (refund or outage) and so
-- escalated at once; 599 is the only 'critical' one, 600 the only
-- 'someday' one and never solved
INSERT INTO mp_hd.tickets (id, priority, channel, team, subject, body, created_at, updated_at, tenant)
SELECT g,
       CASE g WHEN 599 THEN 'critical' WHEN 600 THEN 'someday'
              ELSE (ARRAY['low', 'normal', 'high', 'urgent'])[1 + g % 4] END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE (ARRAY['email', 'chat'])[1 + g % 2] END,
       CASE WHEN g % 10 = 0 THEN NULL ELSE (ARRAY['mp_front', 'mp_back', 'mp_third'])[1 + g % 3] END,
       'ticket ' || g,
       CASE WHEN g % 23 = 0 AND g % 2 = 0 THEN 'please refund me'
            WHEN g % 23 = 0 THEN 'total outage here' ELSE 'a question' END,
       c, c, CASE WHEN g % 2 = 0 THEN 'mp_even' ELSE 'mp_odd' END
  FROM generate_series(1, 600) g,
       LATERAL (SELECT timestamptz '2024-03-09 12:00 America/New_York' + g * interval '17 minutes' AS c) x;
-- a dense cluster: 800 tickets resolved within five seconds of three days
INSERT INTO mp_hd.tickets (id, priority, channel, team, subject, body, created_at, updated_at, tenant)
SELECT g, 'normal', 'email', 'mp_front', 'ticket ' || g, 'a question',
       timestamptz '2024-03-11 09:00+00' + g * interval '1 second', timestamptz '2024-03-11 09:00+00' + g * interval '1 second',
       CASE WHEN g % 3 = 0 THEN 'mp_even' ELSE 'mp_odd' END
  FROM generate_series(601, 1400) g;

-- manual escalations of every 6th ticket after (id % 50) minutes and
-- (id % 7) seconds: many in the same minute, some under 5 minutes, some a
-- day or more (every 30th waits id hours); every 12th re-escalated later
SELECT count(escalation.escalate('mp_hd.tickets', t.id::text, target_team => 'mp_front', reason => 'stuck',
                                 as_of => t.created_at + CASE WHEN t.id % 30 = 0 THEN t.id * interval '1 hour'
                                                              ELSE (t.id % 50) * interval '1 minute' END
                                                       + (t.id % 7) * interval '1 second'))
  FROM mp_hd.tickets t WHERE t.id % 6 = 0 AND t.id <= 600;
SELECT count(escalation.escalate('mp_hd.tickets', t.id::text, target_team => 'mp_back', level => 2,
                                 reason => 'still stuck', as_of => t.created_at + interval '3 days'))
  FROM mp_hd.tickets t WHERE t.id % 12 = 0 AND t.id <= 600;
-- the escalation that comes first need not be the one inserted first:
-- ticket 46 (refund rule at creation) is escalated by hand with an earlier
-- time, ticket 54 (manual after 4 minutes) gets one after 1 minute
SELECT count(escalation.escalate('mp_hd.tickets', t.id::text, target_team => 'mp_third', reason => 'early',
                                 as_of => t.created_at + d))
  FROM mp_hd.tickets t JOIN (VALUES (46, interval '-2 minutes'), (54, interval '1 minute')) x(id, d) USING (id);
-- rules that fire on a later edit: every 37th ticket asks for a refund
-- after (id % 90) minutes (first escalation unless a manual one came first)
UPDATE mp_hd.tickets SET body = 'now I want a refund', updated_at = created_at + (id % 90) * interval '1 minute'
 WHERE id % 37 = 1 AND id <= 600;

-- resolutions: 4 of 5 solved; ties (every 11th after exactly an hour),
-- the buckets' edges (every 13th after 2^k or 2^k - 1 microseconds, up to
-- 2^47: four and a half years), negative (every 17th: resolved before it
-- was created, as the helpdesk recorded it), zero (every 19th), the rest
-- to the microsecond
UPDATE mp_hd.tickets SET status = 'solved',
       resolved_at = created_at + CASE WHEN id % 11 = 0 THEN interval '1 hour'
                                       WHEN id % 13 = 0 THEN ((1::bigint << (8 + id % 40)) - (id % 2)) * interval '1 microsecond'
                                       WHEN id % 17 = 0 THEN -(id * interval '1 minute')
                                       WHEN id % 19 = 0 THEN interval '0'
                                       ELSE (id * 7919 % 100003) * interval '1 second' + (id * 31 % 1000000) * interval '1 microsecond' END,
       updated_at = updated_at + interval '1 minute'
 WHERE id <= 600 AND id % 5 <> 0 AND id <> 600;
UPDATE mp_hd.tickets SET status = 'solved',
       resolved_at = created_at + interval '3 days' + (id * 997 % 5000000) * interval '1 microsecond',
       updated_at = updated_at + interval '1 minute'
 WHERE id > 600;
-- every 9th solved one reopens; every 27th is solved again, later
UPDATE mp_hd.tickets SET status = 'open', resolved_at = NULL, updated_at = updated_at + interval '1 minute'
 WHERE id <= 600 AND id % 9 = 0 AND status = 'solved';
UPDATE mp_hd.tickets SET status = 'solved', resolved_at = created_at + interval '5 days 1 microsecond',
       updated_at = updated_at + interval '1 minute'
 WHERE id <= 600 AND id % 27 = 0;

-- the naive queries, over the raw tables
CREATE VIEW mp_hd.naive_resolution WITH (security_invoker = true) AS
SELECT CASE WHEN GROUPING(priority) = 0 THEN 'priority' WHEN GROUPING(team) = 0 THEN 'team'
            WHEN GROUPING(channel) = 0 THEN 'channel' ELSE 'all' END AS dimension,
       coalesce(priority, team, channel) AS value, count(*) AS resolved,
       avg(resolved_at - created_at) AS mean,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY resolved_at - created_at) AS p50,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY resolved_at - created_at) AS p90
  FROM mp_hd.tickets WHERE status = 'solved'
 GROUP BY GROUPING SETS ((), (priority), (team), (channel));
CREATE VIEW mp_hd.naive_reasons WITH (security_invoker = true) AS
SELECT e.reason, count(*) AS escalated, avg(e.first_at - t.created_at) AS mean,
       make_interval(mins => percentile_disc(0.5) WITHIN GROUP (ORDER BY floor(extract(epoch FROM e.first_at - t.created_at) / 60)::int)) AS p50,
       make_interval(mins => percentile_disc(0.9) WITHIN GROUP (ORDER BY floor(extract(epoch FROM e.first_at - t.created_at) / 60)::int)) AS p90,
       count(*) FILTER (WHERE e.first_at - t.created_at < interval '5 minutes') AS too_fast,
       count(*) FILTER (WHERE e.first_at - t.created_at >= interval '24 hours') AS too_slow
  FROM (SELECT DISTINCT ON (x.ticket_key) x.ticket_key, x.created_at AS first_at,
               coalesce(x.reasons -> 0 ->> 'rule', x.origin) AS reason
          FROM escalation.escalations x
         WHERE x.source_id = (SELECT source_id FROM escalation.sources WHERE name = 'mp' AND attached)
         ORDER BY x.ticket_key, x.created_at, x.escalation_id) e
  JOIN mp_hd.tickets t ON t.id::text = e.ticket_key
 GROUP BY e.reason;

-- differences between a view's rows and the naive query's, both ways; the
-- views as of the last write (fold what the triggers logged)
CREATE FUNCTION mp_hd.check() RETURNS TABLE (view text, rows bigint, differences bigint)
LANGUAGE sql AS $$
SELECT escalation.fold_facts();
WITH v AS (SELECT dimension, value, resolved, mean, p50, p90 FROM escalation.resolution_percentiles
            WHERE source_id = (SELECT source_id FROM escalation.sources WHERE name = 'mp' AND attached)),
     n AS (SELECT * FROM mp_hd.naive_resolution)
SELECT 'resolution_percentiles', (SELECT count(*) FROM v),
       (SELECT count(*) FROM ((TABLE v EXCEPT ALL TABLE n) UNION ALL (TABLE n EXCEPT ALL TABLE v)) d)
UNION ALL
SELECT 'resolution_percentiles (the same intervals, field by field)', (SELECT count(*) FROM v),
       (SELECT count(*) FROM ((SELECT dimension, value, resolved, mean::text, p50::text, p90::text FROM v
                               EXCEPT ALL
                               SELECT dimension, value, resolved, mean::text, p50::text, p90::text FROM n)
                              UNION ALL
                              (SELECT dimension, value, resolved, mean::text, p50::text, p90::text FROM n
                               EXCEPT ALL
                               SELECT dimension, value, resolved, mean::text, p50::text, p90::text FROM v)) d)
UNION ALL
(WITH v AS (SELECT reason, escalated, mean, p50, p90, too_fast, too_slow FROM escalation.time_to_escalation_by_reason
             WHERE source_id = (SELECT source_id FROM escalation.sources WHERE name = 'mp' AND attached)),
      n AS (SELECT * FROM mp_hd.naive_reasons)
 SELECT 'time_to_escalation_by_reason', (SELECT count(*) FROM v),
        (SELECT count(*) FROM ((SELECT reason, escalated, mean::text, p50, p90, too_fast, too_slow FROM v
                                EXCEPT ALL
                                SELECT reason, escalated, mean::text, p50, p90, too_fast, too_slow FROM n)
                               UNION ALL
                               (SELECT reason, escalated, mean::text, p50, p90, too_fast, too_slow FROM n
                                EXCEPT ALL
                                SELECT reason, escalated, mean::text, p50, p90, too_fast, too_slow FROM v)) d))
$$;

SELECT * FROM mp_hd.check();
-- the figures themselves
SELECT dimension, value, resolved, mean, p50, p90 FROM escalation.resolution_percentiles
 WHERE source_id = :sid ORDER BY dimension, value;
SELECT reason, escalated, mean, p50, p90, too_fast, too_slow FROM escalation.time_to_escalation_by_reason
 WHERE source_id = :sid ORDER BY reason;
-- the 'someday' ticket is open: no group; open and reopened tickets count nowhere
SELECT count(*) FILTER (WHERE value = 'someday') AS someday_rows,
       (SELECT count(*) FROM mp_hd.tickets WHERE status = 'solved') AS solved,
       max(resolved) FILTER (WHERE dimension = 'all') AS resolved_all
  FROM escalation.resolution_percentiles WHERE source_id = :sid;
-- the cluster's percentiles lie deep inside one fine bucket
SELECT count(DISTINCT escalation.duration_bucket(resolved_at - created_at, 2)) AS fine_buckets_of_800,
       count(DISTINCT escalation.duration_bucket(resolved_at - created_at, 1)) AS coarse_buckets_of_800
  FROM mp_hd.tickets WHERE id > 600;

-- the rollups are deltas until compacted; the views sum them either way
SELECT count(*) FILTER (WHERE NOT folded) > 0 AS coarse_deltas FROM escalation.metric_resolution WHERE source_id = :sid;
SELECT escalation.compact_metrics() > 0 AS compacted;
SELECT (SELECT count(*) FILTER (WHERE NOT folded) FROM escalation.metric_resolution) AS unfolded_coarse,
       (SELECT count(*) FILTER (WHERE NOT folded) FROM escalation.metric_resolution_fine) AS unfolded_fine,
       (SELECT count(*) FILTER (WHERE NOT folded) FROM escalation.metric_tte_reasons) AS unfolded_reasons,
       (SELECT count(*) FROM escalation.metric_resolution_fine WHERE n <= 0) AS empty_fine_rows;
SELECT * FROM mp_hd.check();

-- changes that move tickets between groups and buckets: a new priority, a
-- later resolution, a ticket solved for the first time, a reopen, a
-- transfer; an escalation earlier than the first one (the reason changes)
UPDATE mp_hd.tickets SET priority = 'urgent', updated_at = updated_at + interval '1 minute' WHERE id % 8 = 1;
UPDATE mp_hd.tickets SET resolved_at = resolved_at + interval '2 hours 3 microseconds',
       updated_at = updated_at + interval '1 minute' WHERE id % 14 = 2 AND status = 'solved';
UPDATE mp_hd.tickets SET status = 'solved', resolved_at = created_at + interval '45 minutes',
       updated_at = updated_at + interval '1 minute' WHERE id = 600;
UPDATE mp_hd.tickets SET status = 'open', resolved_at = NULL, updated_at = updated_at + interval '1 minute'
 WHERE id > 1300;
UPDATE mp_hd.tickets SET team = 'mp_back', channel = NULL, updated_at = updated_at + interval '1 minute'
 WHERE id % 21 = 4;
SELECT count(escalation.escalate('mp_hd.tickets', t.id::text, target_team => 'mp_third', level => 3,
                                 reason => 'earlier', as_of => t.created_at - interval '1 minute'))
  FROM mp_hd.tickets t WHERE t.id IN (69, 138);
SELECT * FROM mp_hd.check();
SELECT escalation.compact_metrics() > 0 AS compacted;
SELECT * FROM mp_hd.check();
-- a single ticket in a group: the 'someday' one, now solved
SELECT value, resolved, mean, p50, p90 FROM escalation.resolution_percentiles
 WHERE source_id = :sid AND value = 'someday';
-- the earlier escalations are the first now: negative time to escalation
SELECT ticket_key, first_reason, first_escalated_at - created_at AS tte FROM escalation.ticket_facts
 WHERE source_id = :sid AND ticket_key IN ('69', '138') ORDER BY ticket_key;
-- the session's time zone changes nothing
SET TimeZone = 'Asia/Kolkata';
SELECT * FROM mp_hd.check();
SET TimeZone = 'UTC';

-- from scratch
SELECT escalation.rebuild_metrics();
SELECT * FROM mp_hd.check();

-- two tenants in one table: each tenant's analyst sees exactly its own
-- figures (the naive queries run as the analyst too: the helpdesk's
-- row-level security gives them the tenant's tickets)
CREATE ROLE mp_tenant_odd NOLOGIN;
CREATE ROLE mp_tenant_even NOLOGIN;
CREATE ROLE mp_analyst_odd NOLOGIN IN ROLE escalation_analyst, mp_tenant_odd;
CREATE ROLE mp_analyst_even NOLOGIN IN ROLE escalation_analyst, mp_tenant_even;
INSERT INTO escalation.tenant_roles (tenant, role) VALUES ('mp_odd', 'mp_tenant_odd'), ('mp_even', 'mp_tenant_even');
ALTER TABLE mp_hd.tickets ENABLE ROW LEVEL SECURITY;
CREATE POLICY odd ON mp_hd.tickets TO mp_tenant_odd USING (tenant = 'mp_odd');
CREATE POLICY even ON mp_hd.tickets TO mp_tenant_even USING (tenant = 'mp_even');
GRANT USAGE ON SCHEMA mp_hd TO escalation_analyst;
GRANT SELECT ON mp_hd.tickets, mp_hd.naive_resolution, mp_hd.naive_reasons TO escalation_analyst;
GRANT EXECUTE ON FUNCTION mp_hd.check() TO escalation_analyst;
SET ROLE mp_analyst_odd;
SELECT count(*) AS tickets, count(DISTINCT tenant) AS tenants FROM mp_hd.tickets;
SELECT * FROM mp_hd.check();
SELECT max(resolved) FILTER (WHERE dimension = 'all') AS resolved_odd
  FROM escalation.resolution_percentiles WHERE source_id = :sid;
SELECT count(*) AS other_tenants_rows FROM escalation.metric_resolution_fine
 WHERE source_id = :sid AND tenant IS DISTINCT FROM 'mp_odd';
RESET ROLE;
SET ROLE mp_analyst_even;
SELECT * FROM mp_hd.check();
SELECT max(resolved) FILTER (WHERE dimension = 'all') AS resolved_even
  FROM escalation.resolution_percentiles WHERE source_id = :sid;
RESET ROLE;
-- a tenant's rows only, also when they are deltas not yet compacted
UPDATE mp_hd.tickets SET resolved_at = resolved_at - interval '1 second', updated_at = updated_at + interval '1 minute'
 WHERE id % 5 = 1 AND status = 'solved';
SET ROLE mp_analyst_odd;
SELECT * FROM mp_hd.check();
RESET ROLE;
SELECT * FROM mp_hd.check();

-- a source scoped to a tenant role is invisible to other analysts
INSERT INTO escalation.metric_sources (source_id, tenant_role) VALUES (:sid, 'mp_tenant_odd');
SET ROLE mp_analyst_even;
SELECT (SELECT count(*) FROM escalation.resolution_percentiles WHERE source_id = :sid) AS resolution_rows,
       (SELECT count(*) FROM escalation.time_to_escalation_by_reason WHERE source_id = :sid) AS reason_rows,
       (SELECT count(*) FROM escalation.metric_resolution WHERE source_id = :sid) AS coarse_rows,
       (SELECT count(*) FROM escalation.metric_tte_reasons WHERE source_id = :sid) AS reason_histogram_rows;
RESET ROLE;
DELETE FROM escalation.metric_sources;

DELETE FROM escalation.tenant_roles WHERE tenant IN ('mp_odd', 'mp_even');
DROP POLICY odd ON mp_hd.tickets;
DROP POLICY even ON mp_hd.tickets;
ALTER TABLE mp_hd.tickets DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON mp_hd.tickets, mp_hd.naive_resolution, mp_hd.naive_reasons FROM escalation_analyst;
REVOKE ALL ON FUNCTION mp_hd.check() FROM escalation_analyst;
REVOKE ALL ON SCHEMA mp_hd FROM escalation_analyst;
DROP ROLE mp_analyst_odd, mp_analyst_even, mp_tenant_odd, mp_tenant_even;

-- the fold's escalation side is one set-based step for all its tickets: a
-- ticket whose facts are folded after its escalations were recorded is
-- marked for it; an escalation retargeted moves the paths
INSERT INTO mp_hd.tickets (id, priority, channel, team, subject, body, created_at, updated_at)
VALUES (2001, 'low', 'email', 'mp_front', 'late', 'a question', '2024-04-01 10:00+00', '2024-04-01 10:00+00');
SELECT escalation.escalate('mp_hd.tickets', '2001', target_team => 'mp_back', reason => 'x',
                           as_of => '2024-04-01 10:07+00') IS NOT NULL AS escalated;
SELECT count(*) AS marked FROM escalation.escalation_changes WHERE ticket_key = '2001';
SELECT escalation.fold_facts() AS folded;
SELECT escalations, first_escalated_at, first_team, first_reason FROM escalation.ticket_facts
 WHERE source_id = :sid AND ticket_key = '2001';
SELECT * FROM mp_hd.check();
-- re-escalation paths, set-based, equal those rebuild_paths() computes from
-- scratch, also where parent_id points back past the previous escalation
-- (inserted as the record would hold them; the trigger marks the tickets)
INSERT INTO escalation.escalations (source_id, ticket_key, level, kind, origin, target_team, status,
                                    created_at, updated_at, parent_id)
SELECT :sid, t.id::text, 1 + k, 'functional', 'manual', (ARRAY['mp_front', 'mp_back', 'mp_third'])[1 + (t.id + k) % 3],
       'queued', t.created_at + k * interval '1 hour', t.created_at + k * interval '1 hour', NULL
  FROM mp_hd.tickets t, generate_series(3, 6) k WHERE t.id BETWEEN 1 AND 60;
UPDATE escalation.escalations e SET parent_id = p.escalation_id
  FROM escalation.escalations p
 WHERE e.source_id = :sid AND p.source_id = e.source_id AND p.ticket_key = e.ticket_key
   AND e.ticket_key::int BETWEEN 1 AND 60 AND e.level = 6 AND p.level = 4 AND e.ticket_key::int % 2 = 0;
UPDATE escalation.escalations SET target_team = 'mp_front'
 WHERE source_id = :sid AND ticket_key::int BETWEEN 1 AND 30 AND level = 5;
SELECT escalation.fold_facts() > 0 AS folded;
CREATE TABLE mp_hd.paths AS
SELECT from_team, to_team, path, sum(escalations) AS escalations, sum(reescalated) AS reescalated
  FROM escalation.metric_paths WHERE source_id = :sid GROUP BY 1, 2, 3 HAVING sum(escalations) <> 0 OR sum(reescalated) <> 0;
SELECT escalation.rebuild_paths(:sid);
SELECT count(*) AS paths, (SELECT count(*) FROM ((TABLE mp_hd.paths EXCEPT ALL
                            SELECT from_team, to_team, path, sum(escalations), sum(reescalated)
                              FROM escalation.metric_paths WHERE source_id = :sid GROUP BY 1, 2, 3)
                           UNION ALL
                           (SELECT from_team, to_team, path, sum(escalations), sum(reescalated)
                              FROM escalation.metric_paths WHERE source_id = :sid GROUP BY 1, 2, 3
                            EXCEPT ALL TABLE mp_hd.paths)) d) AS differences
  FROM mp_hd.paths;
SELECT * FROM mp_hd.check();

SELECT escalation.detach('mp_hd.tickets');
DROP SCHEMA mp_hd CASCADE;
DELETE FROM escalation.rules WHERE name IN ('mp_refund', 'mp_outage');
DELETE FROM escalation.teams WHERE name IN ('mp_front', 'mp_back', 'mp_third');
