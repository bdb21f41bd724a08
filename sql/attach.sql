--
-- attach: attaching helpdesk tables (integer status codes with a status map,
-- a Znuny-like lookup chain, a body in a child messages table, awkward
-- identifiers, partitioned tables), every refusal with its SQLSTATE, and
-- detach / re-attach.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE SCHEMA attach_hd;

--------------------------------------------------------------------------
-- 1. Integer status codes, mapped
--------------------------------------------------------------------------
CREATE TABLE attach_hd.tickets (
    id         integer PRIMARY KEY,
    status     smallint NOT NULL DEFAULT 0,
    priority   integer,
    subject    varchar(200),
    body       text,
    created_at timestamptz NOT NULL,
    amount     numeric
);

SELECT escalation.attach('attach_hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": [0, 1], "pending": 2, "solved": [3, 4], "other": [9]}',
           priority => 'priority', priority_map => '{"low": [1], "normal": [2], "urgent": [3]}',
           subject => 'subject', body => 'body', created_at => 'created_at',
           fields => '{"amount": "amount"}') AS sid \gset

-- the stored mapping: value maps are inverted to raw value -> meaning
SELECT name, ticket_table, mapping, value_maps, lookups, message_table, ts_config, time_zone,
       attached, detached_at IS NULL AS never_detached
  FROM escalation.sources WHERE source_id = :sid;

-- the trigger fires on INSERT and on UPDATEs of mapped columns only
SELECT tgname, regexp_replace(pg_get_triggerdef(oid), '\(''\d+''\)', '(<source id>)') AS definition
  FROM pg_trigger WHERE tgrelid = 'attach_hd.tickets'::regclass AND NOT tgisinternal
 ORDER BY tgname;

INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('attach: outage', :sid, '{outage}', 'tier2');

INSERT INTO attach_hd.tickets (id, status, subject, body, created_at) VALUES
    (1, 0, 'Outage', 'everything is down',        '2024-01-10 08:00+00'),  -- open: escalates
    (2, 1, 'Outage', 'still down',                '2024-01-10 08:01+00'),  -- open: escalates
    (3, 2, 'Outage', 'waiting for the customer',  '2024-01-10 08:02+00'),  -- pending: escalates
    (4, 3, 'Outage', 'fixed',                     '2024-01-10 08:03+00'),  -- solved: no
    (5, 4, 'Outage', 'closed',                    '2024-01-10 08:04+00'),  -- solved: no
    (6, 9, 'Outage', 'merged into 1',             '2024-01-10 08:05+00'),  -- other: no
    (7, 7, 'Outage', 'status not in the map',     '2024-01-10 08:06+00'),  -- unknown: escalates
    (8, 0, 'Hello',  'nothing to see',            '2024-01-10 08:07+00');  -- no keyword

SELECT ticket_key, target_team, status, created_at, context->'ticket'->>'status' AS raw_status,
       context->'ticket'->>'status_meaning' AS meaning
  FROM escalation.escalations WHERE source_id = :sid ORDER BY ticket_key;

--------------------------------------------------------------------------
-- 2. A Znuny-like schema: status through ticket_state -> ticket_state_type,
--    priority through ticket_priority, article bodies in a child table whose
--    sender is looked up too; naive timestamps in Europe/Berlin
--------------------------------------------------------------------------
CREATE TABLE attach_hd.ticket_state_type (
    id   smallint PRIMARY KEY,
    name varchar(200) NOT NULL UNIQUE
);
INSERT INTO attach_hd.ticket_state_type VALUES
    (1, 'new'), (2, 'open'), (3, 'closed'), (4, 'pending reminder'), (5, 'pending auto'),
    (6, 'removed'), (7, 'merged');

CREATE TABLE attach_hd.ticket_state (
    id      smallint PRIMARY KEY,
    name    varchar(200) NOT NULL UNIQUE,
    type_id smallint NOT NULL REFERENCES attach_hd.ticket_state_type (id)
);
INSERT INTO attach_hd.ticket_state VALUES
    (1, 'new', 1), (2, 'closed successful', 3), (3, 'closed unsuccessful', 3), (4, 'open', 2),
    (5, 'removed', 6), (6, 'pending reminder', 4), (7, 'pending auto close+', 5),
    (8, 'pending auto close-', 5), (9, 'merged', 7);

CREATE TABLE attach_hd.ticket_priority (
    id   smallint PRIMARY KEY,
    name varchar(200) NOT NULL UNIQUE
);
INSERT INTO attach_hd.ticket_priority VALUES
    (1, '1 very low'), (2, '2 low'), (3, '3 normal'), (4, '4 high'), (5, '5 very high');

CREATE TABLE attach_hd.ticket (
    id                 bigserial PRIMARY KEY,
    tn                 varchar(50) NOT NULL UNIQUE,
    title              varchar(255),
    ticket_state_id    smallint NOT NULL REFERENCES attach_hd.ticket_state (id),
    ticket_priority_id smallint NOT NULL REFERENCES attach_hd.ticket_priority (id),
    customer_id        varchar(150),
    customer_user_id   varchar(250),
    create_time        timestamp(0) without time zone NOT NULL,
    change_time        timestamp(0) without time zone NOT NULL
);

CREATE TABLE attach_hd.article_sender_type (
    id   smallint PRIMARY KEY,
    name varchar(200) NOT NULL UNIQUE
);
INSERT INTO attach_hd.article_sender_type VALUES (1, 'agent'), (2, 'system'), (3, 'customer');

CREATE TABLE attach_hd.article (
    id                bigserial PRIMARY KEY,
    ticket_id         bigint NOT NULL REFERENCES attach_hd.ticket (id),
    article_sender_type_id smallint NOT NULL REFERENCES attach_hd.article_sender_type (id),
    is_internal       boolean NOT NULL DEFAULT false,
    a_body            text NOT NULL,
    create_time       timestamp(0) without time zone NOT NULL
);

SELECT escalation.attach('attach_hd.ticket', key => 'id',
           status => 'ticket_state_id',
           status_map => '{"open": ["new", "open"], "pending": ["pending reminder", "pending auto"], "solved": ["closed"], "other": ["merged", "removed"]}',
           priority => 'ticket_priority_id', subject => 'title',
           requester => 'customer_user_id', account => 'customer_id',
           created_at => 'create_time', updated_at => 'change_time',
           lookups => '{"status":   [{"table": "attach_hd.ticket_state", "key": "id", "value": "type_id"},
                                     {"table": "attach_hd.ticket_state_type", "key": "id", "value": "name"}],
                        "priority": [{"table": "attach_hd.ticket_priority", "key": "id", "value": "name"}],
                        "author":   [{"table": "attach_hd.article_sender_type", "key": "id", "value": "name"}]}',
           messages => 'attach_hd.article', message_ticket => 'ticket_id',
           message_body => 'a_body', message_created_at => 'create_time',
           message_author => 'article_sender_type_id',
           author_map => '{"customer": ["customer"], "agent": ["agent"], "bot": ["system"]}',
           message_private => 'is_internal',
           time_zone => 'Europe/Berlin', name => 'znuny') AS znuny \gset

SELECT mapping, value_maps, message_mapping, time_zone
  FROM escalation.sources WHERE source_id = :znuny;

-- a change of a lookup table must reach every backend's cache
SELECT tgrelid::regclass AS lookup_table, tgname
  FROM pg_trigger WHERE tgname = 'escalation_lookup_invalidate'
 ORDER BY tgrelid::regclass::text;

INSERT INTO escalation.rules (name, source_id, keywords, target_team, severity)
VALUES ('znuny: outage', :znuny, '{outage, unavailable}', 'tier2', 3);
INSERT INTO escalation.rules (name, source_id, priorities, target_team, kind, severity)
VALUES ('znuny: very high priority', :znuny, '{"5 very high"}', 'management', 'hierarchical', 4);

INSERT INTO attach_hd.ticket (id, tn, title, ticket_state_id, ticket_priority_id, customer_id,
                              customer_user_id, create_time, change_time) VALUES
    (1, '2024011010000011', 'Outage in Berlin', 1, 3, 'acme', 'max@acme.example', '2024-01-10 09:00', '2024-01-10 09:00'), -- new
    (2, '2024011010000022', 'Outage again',     2, 3, 'acme', 'max@acme.example', '2024-01-10 09:30', '2024-01-10 09:30'), -- closed
    (3, '2024011010000033', 'Outage (merged)',  9, 3, 'acme', 'max@acme.example', '2024-01-10 09:40', '2024-01-10 09:40'), -- merged
    (4, '2024011010000044', 'Question',         6, 5, 'acme', 'max@acme.example', '2024-01-10 10:00', '2024-01-10 10:00'); -- pending, very high

-- naive Berlin times are stored as timestamptz (09:00 CET = 08:00 UTC)
SELECT ticket_key, target_team, kind, severity, created_at,
       context->'ticket'->>'status' AS state_id, context->'ticket'->>'status_meaning' AS meaning,
       context->'ticket'->>'priority' AS priority
  FROM escalation.escalations WHERE source_id = :znuny ORDER BY ticket_key, target_team;

-- articles: a customer article escalates; agent replies are first responses;
-- internal notes and system articles count for nothing
INSERT INTO escalation.rules (name, source_id, applies_to, keywords, target_team)
VALUES ('znuny: refund in an article', :znuny, 'message', '{refund}', 'billing');
INSERT INTO attach_hd.ticket (id, tn, title, ticket_state_id, ticket_priority_id, customer_id,
                              customer_user_id, create_time, change_time)
VALUES (5, '2024011110000055', 'Invoice', 4, 3, 'globex', 'ann@globex.example', '2024-01-11 09:00', '2024-01-11 09:00');
INSERT INTO attach_hd.article (ticket_id, article_sender_type_id, is_internal, a_body, create_time) VALUES
    (5, 1, true,  'internal: customer wants a refund',  '2024-01-11 09:05'),  -- internal note
    (5, 2, false, 'auto-reply: we will refund nothing', '2024-01-11 09:06'),  -- system
    (5, 3, false, 'Please refund the invoice',          '2024-01-11 09:10'),  -- customer
    (5, 1, false, 'We are on it',                       '2024-01-11 09:20');  -- agent reply

SELECT ticket_key, target_team, created_at, context->>'message' AS message
  FROM escalation.escalations WHERE source_id = :znuny AND ticket_key = '5';
SELECT ticket_key, responded_at, author FROM escalation.first_responses WHERE source_id = :znuny;

-- the lookup tables are read once per backend and re-read when they change:
-- state 4 ("open") becomes a closed state; a new ticket in it is not escalated
UPDATE attach_hd.ticket_state SET type_id = 3 WHERE id = 4;
INSERT INTO attach_hd.ticket (id, tn, title, ticket_state_id, ticket_priority_id, customer_id,
                              customer_user_id, create_time, change_time)
VALUES (6, '2024011210000066', 'Outage', 4, 3, 'acme', 'max@acme.example', '2024-01-12 09:00', '2024-01-12 09:00');
SELECT rule, fires, why_not FROM escalation.explain('attach_hd.ticket', '6') ORDER BY rule;
UPDATE attach_hd.ticket_state SET type_id = 2 WHERE id = 4;
UPDATE attach_hd.ticket SET title = 'Outage!', change_time = '2024-01-12 09:30' WHERE id = 6;
SELECT ticket_key, target_team, created_at FROM escalation.escalations
 WHERE source_id = :znuny AND ticket_key = '6';

--------------------------------------------------------------------------
-- 3. Identifiers with spaces, quotes and capitals
--------------------------------------------------------------------------
CREATE TABLE attach_hd."Help ""Desk"" Tickets" (
    "Ticket Id"  text PRIMARY KEY,
    "Status"     text,
    "Body Text"  text,
    "Created At" timestamptz,
    "Requester"  text
);
CREATE TABLE attach_hd."Ticket ""Notes""" (
    "Note Id"    serial PRIMARY KEY,
    "Ticket Id"  text REFERENCES attach_hd."Help ""Desk"" Tickets" ("Ticket Id"),
    "Note Body"  text,
    "At"         timestamptz
);

SELECT escalation.attach('attach_hd."Help ""Desk"" Tickets"', key => 'Ticket Id',
           status => 'Status', status_map => '{"open": ["Open"], "solved": ["Done"]}',
           body => 'Body Text', created_at => 'Created At', requester => 'Requester',
           messages => 'attach_hd."Ticket ""Notes"""', message_ticket => 'Ticket Id',
           message_body => 'Note Body', message_created_at => 'At') AS quoted \gset

SELECT name, mapping, message_mapping FROM escalation.sources WHERE source_id = :quoted;
SELECT tgrelid::regclass AS tbl, tgname
  FROM pg_trigger
 WHERE tgrelid IN ('attach_hd."Help ""Desk"" Tickets"'::regclass, 'attach_hd."Ticket ""Notes"""'::regclass)
   AND NOT tgisinternal
 ORDER BY tgname;

INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('quoted: breach', :quoted, '{breach}', 'security');

INSERT INTO attach_hd."Help ""Desk"" Tickets" VALUES
    ('T-1', 'Open', 'A data breach!', '2024-01-12 10:00+00', 'zoe'),
    ('T-2', 'Done', 'Old breach, done', '2024-01-12 10:01+00', 'zoe'),
    ('T-3', 'Open', 'Hello', '2024-01-12 10:02+00', 'zoe');
INSERT INTO attach_hd."Ticket ""Notes""" ("Ticket Id", "Note Body", "At")
VALUES ('T-3', 'Now there is a breach here too', '2024-01-12 11:00+00');
UPDATE attach_hd."Help ""Desk"" Tickets" SET "Body Text" = 'Hello, breach' WHERE "Ticket Id" = 'T-3';

-- the requester's other tickets, left to the worker (defer_requester_tickets)
SELECT escalation.complete_contexts() >= 1 AS completed;
SELECT ticket_key, target_team, jsonb_array_length(reasons) AS nreasons, reasons->0->>'on' AS first_on,
       context->'ticket'->>'key' AS ctx_key,
       jsonb_path_query_array(context, '$.requester_tickets[*].key') AS other_tickets
  FROM escalation.escalations WHERE source_id = :quoted ORDER BY ticket_key;
SELECT rule, fires, why_not FROM escalation.explain('attach_hd."Help ""Desk"" Tickets"', 'T-2');

--------------------------------------------------------------------------
-- 4. A partitioned ticket table: the trigger fires on each partition,
--    whose columns may be numbered differently
--------------------------------------------------------------------------
CREATE TABLE attach_hd.ptickets (
    id      integer NOT NULL,
    subject text,
    body    text,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
CREATE TABLE attach_hd.ptickets_low PARTITION OF attach_hd.ptickets FOR VALUES FROM (0) TO (100);
CREATE TABLE attach_hd.ptickets_high (junk int, body text, subject text, id integer NOT NULL);
ALTER TABLE attach_hd.ptickets_high DROP COLUMN junk;
ALTER TABLE attach_hd.ptickets ATTACH PARTITION attach_hd.ptickets_high FOR VALUES FROM (100) TO (200);

SELECT escalation.attach('attach_hd.ptickets', key => 'id', subject => 'subject', body => 'body') AS psid \gset
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('partitioned: outage', :psid, '{outage}', 'tier2');
INSERT INTO attach_hd.ptickets VALUES (1, 'Outage', 'low partition'), (150, 'Outage', 'high partition'),
                                      (151, 'Hello', 'nothing');
UPDATE attach_hd.ptickets SET body = 'an outage after all' WHERE id = 151;
SELECT ticket_key, target_team, context->'ticket'->>'subject' AS subject, context->'ticket'->>'text' AS text
  FROM escalation.escalations WHERE source_id = :psid ORDER BY ticket_key::int;

--------------------------------------------------------------------------
-- 5. Refusals, each with its SQLSTATE; none of them leaves anything behind
--------------------------------------------------------------------------
SELECT count(*) AS sources_before FROM escalation.sources \gset

CREATE TABLE attach_hd.t2 (
    id         integer PRIMARY KEY,
    status     text,
    body       text,
    n          integer,
    created    text,
    flag       integer
);
CREATE TABLE attach_hd.m2 (id serial PRIMARY KEY, ticket integer, body text, private text, is_private boolean);
CREATE TABLE attach_hd.no_key (id integer, body text);
CREATE TABLE attach_hd.partial_key (id integer, body text);
CREATE UNIQUE INDEX ON attach_hd.partial_key (id) WHERE id > 0;
CREATE TABLE attach_hd.composite_key (a integer, b integer, body text, PRIMARY KEY (a, b));
CREATE TABLE attach_hd.unique_key (id integer NOT NULL UNIQUE, body text);
CREATE VIEW attach_hd.v AS SELECT * FROM attach_hd.t2;

-- missing columns
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'ident')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', body => 'text')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', fields => '{"amount": "amount"}')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', messages => 'attach_hd.m2',
                          message_ticket => 'ticket_id', message_body => 'body')$$);
-- incompatible types
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', body => 'n')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', created_at => 'created')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', messages => 'attach_hd.m2',
                          message_ticket => 'ticket', message_body => 'body', message_private => 'private')$$);
-- tables without a usable key
SELECT regress_error($$SELECT escalation.attach('attach_hd.no_key', key => 'id')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.partial_key', key => 'id')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.composite_key', key => 'a')$$);
-- not a table
SELECT regress_error($$SELECT escalation.attach('attach_hd.v', key => 'id')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2_pkey', key => 'id')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.nonexistent', key => 'id')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', messages => 'attach_hd.v',
                          message_ticket => 'id', message_body => 'body')$$);
-- already attached
SELECT regress_error($$SELECT escalation.attach('attach_hd.tickets', key => 'id')$$);
-- value maps
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', status => 'status',
                          status_map => '{"open": ["new"], "closed": ["done"]}')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', status => 'status',
                          status_map => '["open"]')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', status => 'status',
                          status_map => '{"open": ["new"], "solved": ["new"]}')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', status => 'status',
                          status_map => '{"open": [{"x": 1}]}')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id',
                          status_map => '{"open": ["new"]}')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id',
                          priority_map => '{"high": [1]}')$$);
-- message columns without a messages table, and a messages table without its columns
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', message_body => 'body')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id',
                          author_map => '{"agent": ["a"]}')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', messages => 'attach_hd.m2',
                          message_body => 'body')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', messages => 'attach_hd.m2',
                          message_ticket => 'ticket', message_body => 'body',
                          author_map => '{"agent": ["a"]}')$$);
-- lookups and fields
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', status => 'status',
                          lookups => '{"body": [{"table": "attach_hd.t2", "key": "id", "value": "body"}]}')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', status => 'status',
                          lookups => '{"status": [{"table": "attach_hd.t2", "key": "id"}]}')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', status => 'status',
                          lookups => '{"status": []}')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', status => 'status',
                          lookups => '{"status": [{"table": "attach_hd.t2", "key": "id", "value": "nope"}]}')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', fields => '{"Amount": "n"}')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', fields => '{"amount": 1}')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', fields => '["n"]')$$);
-- time zone and text search configuration; a name another attached source has
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', time_zone => 'Mars/Olympus_Mons')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', ts_config => 'klingon')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id', name => 'znuny')$$);

-- nothing was left behind by the refusals
SELECT count(*) - :sources_before AS new_sources FROM escalation.sources;
SELECT count(*) AS triggers_on_t2 FROM pg_trigger WHERE tgrelid = 'attach_hd.t2'::regclass AND NOT tgisinternal;

-- a unique constraint (not a primary key) is a key
SELECT escalation.attach('attach_hd.unique_key', key => 'id', body => 'body') IS NOT NULL AS unique_key_ok;
SELECT escalation.detach('attach_hd.unique_key');

-- the caller must own the table (and the messages table)
CREATE ROLE regress_attach_admin IN ROLE escalation_admin;
GRANT USAGE ON SCHEMA attach_hd TO regress_attach_admin;
CREATE TABLE attach_hd.owned (id integer PRIMARY KEY, body text);
ALTER TABLE attach_hd.owned OWNER TO regress_attach_admin;
SET ROLE regress_attach_admin;
SELECT regress_error($$SELECT escalation.attach('attach_hd.t2', key => 'id')$$);
SELECT regress_error($$SELECT escalation.attach('attach_hd.owned', key => 'id', messages => 'attach_hd.m2',
                          message_ticket => 'ticket', message_body => 'body')$$);
SELECT regress_error($$SELECT escalation.detach('attach_hd.tickets')$$);
-- its own table it can attach and detach
SELECT escalation.attach('attach_hd.owned', key => 'id', body => 'body') IS NOT NULL AS attached_own;
SELECT escalation.detach('attach_hd.owned');
RESET ROLE;

--------------------------------------------------------------------------
-- 6. detach leaves the data and the history, removes the triggers;
--    re-attach works
--------------------------------------------------------------------------
SELECT count(*) AS escalations_before FROM escalation.escalations WHERE source_id = :sid;
SELECT escalation.detach('attach_hd.tickets');

SELECT attached, detached_at IS NOT NULL AS detached FROM escalation.sources WHERE source_id = :sid;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'attach_hd.tickets'::regclass AND NOT tgisinternal;
SELECT name, enabled FROM escalation.rules WHERE source_id = :sid ORDER BY name;
SELECT count(*) AS escalations_after FROM escalation.escalations WHERE source_id = :sid;
SELECT count(*) AS tickets FROM attach_hd.tickets;

-- a detached table is written as if nothing had ever been attached
INSERT INTO attach_hd.tickets (id, status, subject, body, created_at)
VALUES (20, 0, 'Outage', 'after detach', '2024-01-13 08:00+00');
SELECT count(*) AS escalated FROM escalation.escalations WHERE ticket_key = '20';

-- detaching twice, or a table never attached
SELECT regress_error($$SELECT escalation.detach('attach_hd.tickets')$$);
SELECT regress_error($$SELECT escalation.detach('attach_hd.t2')$$);
-- the disabled rule of the detached source cannot be re-enabled
SELECT regexp_replace(regress_error(format($$UPDATE escalation.rules SET enabled = true WHERE source_id = %s$$, :sid)),
                      'source \d+', 'source N');

-- re-attach: a new source, with its own rules
SELECT escalation.attach('attach_hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": [0, 1], "solved": [3, 4]}', subject => 'subject', body => 'body',
           created_at => 'created_at') AS sid2 \gset
SELECT :sid2 <> :sid AS new_source,
       (SELECT count(*) FROM escalation.sources WHERE ticket_table = 'attach_hd.tickets'::regclass) AS source_rows,
       (SELECT count(*) FROM escalation.sources WHERE ticket_table = 'attach_hd.tickets'::regclass AND attached) AS attached_rows;
INSERT INTO escalation.rules (name, source_id, keywords, target_team)
VALUES ('attach: outage again', :sid2, '{outage}', 'tier2');
INSERT INTO attach_hd.tickets (id, status, subject, body, created_at)
VALUES (21, 0, 'Outage', 'after re-attach', '2024-01-13 09:00+00');
SELECT ticket_key, target_team, reasons->0->>'rule' AS rule
  FROM escalation.escalations WHERE source_id = :sid2 ORDER BY ticket_key;

-- clean up what is cluster-wide
DROP OWNED BY regress_attach_admin;
DROP ROLE regress_attach_admin;
