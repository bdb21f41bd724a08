--
-- ticket_lock: a customer's message locks and reads its ticket row through
-- the key's unique index (src/ticket_lock.c, escalation.direct_ticket_lock,
-- on by default) and otherwise through a SELECT ... FOR NO KEY UPDATE
-- statement.  The same messages give the same escalations both ways, on a
-- table whose text key has a unique index (the direct path), one whose key
-- index also holds another column, and one with row level security (both
-- take the statement).  test/isolation/specs/ticket_lock.spec races it with updates.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

SHOW escalation.direct_ticket_lock;

CREATE SCHEMA tl_hd;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['uniq', 'plain', 'rls'] LOOP
        EXECUTE format('CREATE TABLE tl_hd.%1$I (code text NOT NULL, status text NOT NULL DEFAULT ''open'',
                                                 subject text, body text, created_at timestamptz NOT NULL)', t);
        EXECUTE format('CREATE TABLE tl_hd.%1$I (id serial PRIMARY KEY, code text NOT NULL, author text NOT NULL,
                                                 body text NOT NULL, created_at timestamptz NOT NULL)', t || '_msg');
    END LOOP;
END
$$;
CREATE UNIQUE INDEX ON tl_hd.uniq (code);
CREATE UNIQUE INDEX ON tl_hd.rls (code);
-- unique, but with an included column: not an index of the key alone
CREATE UNIQUE INDEX ON tl_hd.plain (code) INCLUDE (status);
ALTER TABLE tl_hd.rls ENABLE ROW LEVEL SECURITY;
ALTER TABLE tl_hd.rls FORCE ROW LEVEL SECURITY;
CREATE POLICY everything ON tl_hd.rls USING (true);

SELECT escalation.attach('tl_hd.' || t, key => 'code', status => 'status',
           status_map => '{"open": ["open"], "pending": ["pending"], "solved": ["solved"]}',
           subject => 'subject', body => 'body', created_at => 'created_at',
           messages => 'tl_hd.' || t || '_msg', message_ticket => 'code', message_body => 'body',
           message_author => 'author', message_created_at => 'created_at',
           author_map => '{"customer": ["customer"], "agent": ["agent"]}',
           name => 'tl ' || t) IS NOT NULL AS attached
  FROM unnest(ARRAY['uniq', 'plain', 'rls']) t;
INSERT INTO escalation.rules (name, source_id, keywords, target_team, applies_to)
SELECT 'tl manager ' || name, source_id, '{manager}', 'tier2', 'message'
  FROM escalation.sources WHERE name LIKE 'tl %' AND attached;
-- an SLA policy: messages of these sources lock their ticket first
INSERT INTO escalation.sla_policies (name, source_id, position)
SELECT 'tl ' || name, source_id, 9200 + source_id FROM escalation.sources WHERE name LIKE 'tl %' AND attached;
INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at)
SELECT policy_id, 'first_response', '10 minutes', ARRAY[]::integer[]
  FROM escalation.sla_policies WHERE name LIKE 'tl tl %';

INSERT INTO tl_hd.uniq (code, status, subject, created_at) VALUES
    ('T-1', 'pending', 'Broken export', '2024-03-01 09:00+00'),
    ('T-2', 'open', 'Slow search', '2024-03-01 09:00+00');
INSERT INTO tl_hd.plain SELECT * FROM tl_hd.uniq;
INSERT INTO tl_hd.rls SELECT * FROM tl_hd.uniq;

-- each message twice: direct path on, then off, in a rolled-back
-- transaction each; what the trigger wrote is kept in a psql variable
\set msgs 'INSERT INTO tl_hd.uniq_msg (code, author, body, created_at) VALUES (''T-1'', ''customer'', ''I want a manager'', ''2024-03-01 10:00+00''), (''T-2'', ''customer'', ''thanks'', ''2024-03-01 10:00+00''), (''T-9'', ''customer'', ''a manager for an unknown ticket'', ''2024-03-01 10:00+00''); INSERT INTO tl_hd.plain_msg (code, author, body, created_at) VALUES (''T-1'', ''customer'', ''I want a manager'', ''2024-03-01 10:00+00''); INSERT INTO tl_hd.rls_msg (code, author, body, created_at) VALUES (''T-1'', ''customer'', ''I want a manager'', ''2024-03-01 10:00+00'')'
\set written 'SELECT string_agg(format(''%s %s status %s subject %s escalation %s'', s.name, e.ticket_key, coalesce(e.context -> ''ticket'' ->> ''status'', ''-''), coalesce(e.context -> ''ticket'' ->> ''subject'', ''-''), e.status), E''\n'' ORDER BY s.name, e.ticket_key) AS rows FROM escalation.escalations e JOIN escalation.sources s USING (source_id) WHERE s.name LIKE ''tl %'''

BEGIN;
SET LOCAL escalation.direct_ticket_lock = on;
:msgs;
:written \gset direct_
ROLLBACK;

BEGIN;
SET LOCAL escalation.direct_ticket_lock = off;
:msgs;
:written \gset statement_
ROLLBACK;

-- the same escalations, reading the same ticket rows (T-9 has none)
SELECT :'direct_rows' = :'statement_rows' AS same;
\echo :direct_rows

-- an index dropped in this backend is forgotten: the statement takes over
DROP INDEX tl_hd.uniq_code_idx;
BEGIN;
INSERT INTO tl_hd.uniq_msg (code, author, body, created_at) VALUES
    ('T-1', 'customer', 'I want a manager', '2024-03-01 10:00+00');
SELECT e.ticket_key, e.context -> 'ticket' ->> 'status' AS status_read
  FROM escalation.escalations e JOIN escalation.sources s USING (source_id) WHERE s.name = 'tl uniq';
ROLLBACK;

DELETE FROM escalation.sla_policies WHERE name LIKE 'tl tl %';
DELETE FROM escalation.rules WHERE name LIKE 'tl manager %';
SELECT escalation.detach('tl_hd.' || t) FROM unnest(ARRAY['uniq', 'plain', 'rls']) t;
DROP SCHEMA tl_hd CASCADE;
