--
-- explain: for one ticket, every rule of its source with whether it fires,
-- the evidence when it does and the first failing condition when it does
-- not.  explain() writes nothing.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE SCHEMA ex_hd;
CREATE TABLE ex_hd.tickets (
    id         integer PRIMARY KEY,
    status     text NOT NULL DEFAULT 'open',
    priority   text,
    channel    text,
    subject    text,
    body       text,
    account    text,
    amount     numeric,
    created_at timestamptz NOT NULL
);
-- no rules yet: the ticket is written without escalating
SELECT escalation.attach('ex_hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": ["open"], "solved": ["solved"]}',
           priority => 'priority', channel => 'channel', subject => 'subject', body => 'body',
           account => 'account', created_at => 'created_at', fields => '{"amount": "amount"}') AS sid \gset
INSERT INTO ex_hd.tickets (id, priority, channel, subject, body, account, amount, created_at) VALUES
    (1, 'high', 'email', 'Refund', 'I dispute a charge of $900, my card was stolen', 'initech', 900, '2024-01-20 12:00+00'),
    (2, 'low',  'phone', 'Hello',  'Just saying hi', NULL, NULL, '2024-01-20 12:00+00');
SELECT * FROM escalation.explain('ex_hd.tickets', '1', '2024-01-20 12:00+00');

INSERT INTO escalation.rules (name, source_id, applies_to, keywords, pattern, priorities, channels,
                              field, field_op, field_value, account_vip, account_tiers,
                              min_annual_value, renewal_within, target_team, target_skills,
                              target_tier, kind, severity, level) VALUES
 ('ex: disputed charge', :sid, 'both', '{dispute}', NULL, NULL, NULL, 'amount', '>', '500', NULL, NULL, NULL, NULL, 'billing', '{payments}', NULL, 'functional', 3, 1),
 ('ex: stolen card',     :sid, 'both', NULL, 'card\s+(was\s+)?stolen', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'security', NULL, NULL, 'functional', 4, 1),
 ('ex: high priority',   :sid, 'both', NULL, NULL, '{high, urgent}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 2, 'hierarchical', 2, 1),
 ('ex: phone',           :sid, 'both', NULL, NULL, NULL, '{phone}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'tier2', NULL, NULL, 'hierarchical', 2, 1),
 ('ex: vip',             :sid, 'both', NULL, NULL, NULL, NULL, NULL, NULL, NULL, true, NULL, NULL, NULL, 'management', NULL, NULL, 'hierarchical', 3, 2),
 ('ex: premium',         :sid, 'both', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{premium}', NULL, NULL, 'management', NULL, NULL, 'hierarchical', 2, 1),
 ('ex: big account',     :sid, 'both', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 100000, NULL, 'management', NULL, NULL, 'hierarchical', 2, 1),
 ('ex: renewal',         :sid, 'both', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '14 days', 'management', NULL, NULL, 'hierarchical', 2, 1),
 ('ex: follow-ups',      :sid, 'message', '{manager}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'tier2', NULL, NULL, 'hierarchical', 2, 1),
 ('ex: breach',          :sid, 'ticket', '{breach}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'security', NULL, NULL, 'functional', 4, 1);

SELECT count(*) AS escalations_before FROM escalation.escalations WHERE source_id = :sid \gset
SELECT count(*) AS events_before FROM escalation.events \gset

-- every rule, in rule order, with evidence or the reason it does not fire
SELECT rule, fires, level, kind, target_team, target_skills, target_tier, severity,
       evidence - 'rule_id' AS evidence, why_not
  FROM escalation.explain('ex_hd.tickets', '1', '2024-01-20 12:00+00');
SELECT rule, fires, why_not FROM escalation.explain('ex_hd.tickets', '2', '2024-01-20 12:00+00');

-- the time matters for renewal windows: initech renews on 2024-02-01
SELECT as_of, fires, why_not
  FROM unnest(ARRAY['2024-01-10 12:00+00', '2024-01-20 12:00+00', '2024-02-01 23:00+00', '2024-02-02 00:00+00']::timestamptz[]) AS a(as_of),
       LATERAL escalation.explain('ex_hd.tickets', '1', a.as_of) x
 WHERE x.rule = 'ex: renewal'
 ORDER BY as_of;

-- a solved ticket: rules that would fire say so
UPDATE ex_hd.tickets SET status = 'solved' WHERE id = 2;
UPDATE ex_hd.tickets SET status = 'solved' WHERE id = 1;
SELECT rule, fires, why_not FROM escalation.explain('ex_hd.tickets', '1', '2024-01-20 12:00+00')
 WHERE rule IN ('ex: disputed charge', 'ex: phone');

-- explain wrote nothing
SELECT (SELECT count(*) FROM escalation.escalations WHERE source_id = :sid) - :escalations_before AS new_escalations,
       (SELECT count(*) FROM escalation.events) - :events_before AS new_events;

-- explain is STABLE and STRICT, and refuses unknown tickets and tables
SELECT provolatile, proisstrict FROM pg_proc WHERE oid = 'escalation.explain(regclass, text, timestamptz)'::regprocedure;
SELECT count(*) AS rows_for_null FROM escalation.explain('ex_hd.tickets', NULL);
SELECT regress_error($$SELECT * FROM escalation.explain('ex_hd.tickets', '404')$$);
SELECT regress_error($$SELECT * FROM escalation.explain('pg_catalog.pg_class', '1')$$);
-- a detached table is not explained
CREATE TABLE ex_hd.detached (id integer PRIMARY KEY, body text);
SELECT escalation.attach('ex_hd.detached', key => 'id', body => 'body') IS NOT NULL AS attached;
SELECT escalation.detach('ex_hd.detached');
INSERT INTO ex_hd.detached VALUES (1, 'breach');
SELECT regress_error($$SELECT * FROM escalation.explain('ex_hd.detached', '1')$$);

-- with the default time (now), the columns are the same
SELECT count(*) AS rules, count(*) FILTER (WHERE fires) AS firing
  FROM escalation.explain('ex_hd.tickets', '2');
