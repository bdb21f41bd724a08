-- test/upgrade/metrics_data.sql -- tickets, resolutions and escalations
-- written through a released version (run.sh loads this before walking the
-- updates), so that the upgrade must carry existing facts into the rollups
-- it adds; metrics_check.sql then compares the views with the naive query.
\set ON_ERROR_STOP true
SET client_min_messages = warning;
CREATE SCHEMA up_hd;
CREATE TABLE up_hd.tickets (
    id integer PRIMARY KEY, status text NOT NULL DEFAULT 'open', priority text, channel text, team text,
    body text, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, resolved_at timestamptz,
    tenant text);
INSERT INTO escalation.teams (name, kind, tier) VALUES ('up_a', 'functional', 1), ('up_b', 'functional', 2);
SELECT escalation.attach('up_hd.tickets', key => 'id', status => 'status',
       status_map => '{"open": ["open"], "solved": ["solved"]}', created_at => 'created_at',
       updated_at => 'updated_at', resolved_at => 'resolved_at', priority => 'priority', channel => 'channel',
       team => 'team', body => 'body', tenant => 'tenant', time_zone => 'Europe/Berlin', name => 'up') IS NOT NULL;
INSERT INTO escalation.rules (name, keywords, target_team, kind) VALUES ('up_refund', '{refund}', 'up_b', 'functional');
INSERT INTO up_hd.tickets (id, priority, channel, team, body, created_at, updated_at, tenant)
SELECT g, (ARRAY['low', 'high', NULL])[1 + g % 3], (ARRAY['email', 'chat'])[1 + g % 2],
       CASE WHEN g % 9 = 0 THEN NULL ELSE (ARRAY['up_a', 'up_b'])[1 + g % 2] END,
       CASE WHEN g % 13 = 0 THEN 'refund please' ELSE 'a question' END,
       timestamptz '2024-03-30 12:00+00' + g * interval '37 minutes',
       timestamptz '2024-03-30 12:00+00' + g * interval '37 minutes', (ARRAY['t1', 't2'])[1 + g % 2]
  FROM generate_series(1, 400) g;
SELECT count(escalation.escalate('up_hd.tickets', t.id::text, target_team => 'up_a', reason => 'stuck',
                                 as_of => t.created_at + (t.id % 70) * interval '1 minute'))
  FROM up_hd.tickets t WHERE t.id % 5 = 0;
UPDATE up_hd.tickets SET status = 'solved',
       resolved_at = created_at + CASE WHEN id % 11 = 0 THEN interval '2 hours'
                                       ELSE (id * 7919 % 200003) * interval '1 second' + id * interval '1 microsecond' END,
       updated_at = updated_at + interval '1 minute'
 WHERE id % 4 <> 0;
SELECT escalation.fold_facts() > 0 AS folded;
