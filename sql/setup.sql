--
-- setup: the extension, shared configuration (teams, agents, skills,
-- accounts), a helper that shows an error's SQLSTATE, and a sample helpdesk
-- that escalates end to end.
--
-- Later files rely only on: the extension, public.regress_error(), the teams,
-- agents, skills and accounts made here.  Each later file makes its own
-- helpdesk tables and binds its rules to its own source.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE EXTENSION escalation;

SELECT e.extname, e.extversion, n.nspname AS schema, e.extrelocatable
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'escalation';

-- the roles the extension brings (created once per cluster)
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'escalation\_%' ORDER BY rolname;

-- what the extension consists of
SELECT c.relname, c.relkind
  FROM pg_class c
 WHERE c.relnamespace = 'escalation'::regnamespace AND c.relkind IN ('r', 'v', 'p')
 ORDER BY c.relname;

-- every configuration table the per-backend cache depends on is watched
SELECT tgrelid::regclass AS config_table, tgname
  FROM pg_trigger
 WHERE tgname = 'invalidate_cache'
 ORDER BY tgrelid::regclass::text;

-- the GUCs and their defaults
SELECT name, boot_val AS default, context FROM pg_settings WHERE name LIKE 'escalation.%' ORDER BY name;

-- Run a statement; return its SQLSTATE and message (with DETAIL and HINT),
-- or 'no error'.  Used by every file to show refusals with their errcodes.
CREATE FUNCTION public.regress_error(stmt text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    st  text;
    msg text;
    det text;
    hnt text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    -- a failing row holds serials and times: show that there was one
    IF det LIKE 'Failing row contains %' THEN
        det := 'Failing row contains (...).';
    END IF;
    RETURN st || ': ' || msg
        || CASE WHEN det <> '' THEN E'\nDETAIL: ' || det ELSE '' END
        || CASE WHEN hnt <> '' THEN E'\nHINT: ' || hnt ELSE '' END;
END
$$;

-- Reasons without their rule_id (a serial, which depends on how many rules
-- earlier files made), in their stored order.
CREATE FUNCTION public.regress_reasons(r jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
AS $$
    SELECT coalesce(jsonb_agg(e - 'rule_id' ORDER BY i), '[]')
      FROM jsonb_array_elements(r) WITH ORDINALITY AS x(e, i)
$$;

--------------------------------------------------------------------------
-- Shared configuration
--------------------------------------------------------------------------
INSERT INTO escalation.teams (name, kind, tier, description) VALUES
    ('security',   'functional',   2, 'unauthorized access, suspicious activity, data breaches'),
    ('billing',    'functional',   2, 'disputed charges, refunds'),
    ('product',    'functional',   2, 'confirmed bugs'),
    ('tier2',      'hierarchical', 2, 'second line'),
    ('management', 'hierarchical', 3, 'account managers and support leads');

INSERT INTO escalation.skills (name, description) VALUES
    ('payments', 'card payments and invoices'),
    ('sql',      'database questions'),
    ('german',   'speaks German');

INSERT INTO escalation.agents (agent_id, name, team, tier, capacity, languages, time_zone) VALUES
    ('alice', 'Alice', 'security',   2, 5, '{en}',    'Europe/London'),
    ('bob',   'Bob',   'billing',    2, 5, '{en,de}', 'Europe/Berlin'),
    ('carol', 'Carol', 'product',    2, 3, '{en}',    'America/New_York'),
    ('dave',  'Dave',  'tier2',      2, 8, '{en}',    'UTC'),
    ('erin',  'Erin',  'management', 3, 2, '{en}',    'UTC');

INSERT INTO escalation.agent_skills (agent_id, skill, level) VALUES
    ('bob', 'payments', 5), ('bob', 'german', 4), ('carol', 'sql', 4);

UPDATE escalation.teams SET lead_agent = 'erin' WHERE name = 'management';

INSERT INTO escalation.accounts (account_key, name, tier, vip, annual_value, renewal_date, owner_agent) VALUES
    ('acme',    'Acme Corp',   'enterprise', true,  250000.00, '2024-03-15', 'erin'),
    ('globex',  'Globex',      'standard',   false,   1200.00, NULL,         NULL),
    ('initech', 'Initech',     'premium',    false,  60000.00, '2024-02-01', 'erin'),
    ('hooli',   'Hooli',       'premium',    false,      NULL, '2024-06-30', NULL);

SELECT name, kind, tier, lead_agent FROM escalation.teams ORDER BY name;
SELECT agent_id, team, tier, capacity, languages, time_zone, availability, active
  FROM escalation.agents ORDER BY agent_id;

--------------------------------------------------------------------------
-- A sample helpdesk: tickets and their messages, attached and escalating
--------------------------------------------------------------------------
CREATE SCHEMA helpdesk;

CREATE TABLE helpdesk.tickets (
    id          serial PRIMARY KEY,
    status      text NOT NULL DEFAULT 'new',
    priority    text,
    channel     text,
    subject     text,
    body        text,
    requester   text,
    account     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz
);

CREATE TABLE helpdesk.messages (
    id         serial PRIMARY KEY,
    ticket_id  integer NOT NULL REFERENCES helpdesk.tickets (id),
    author     text NOT NULL,
    body       text,
    created_at timestamptz NOT NULL DEFAULT now()
);

SELECT escalation.attach('helpdesk.tickets',
           key => 'id', status => 'status',
           status_map => '{"open": ["new", "open"], "pending": ["pending"], "solved": ["solved", "closed"]}',
           priority => 'priority', channel => 'channel', subject => 'subject', body => 'body',
           requester => 'requester', account => 'account',
           created_at => 'created_at', updated_at => 'updated_at',
           messages => 'helpdesk.messages', message_ticket => 'ticket_id',
           message_created_at => 'created_at', message_body => 'body',
           message_author => 'author',
           author_map => '{"customer": ["customer"], "agent": ["agent"], "bot": ["bot"]}',
           name => 'sample helpdesk') IS NOT NULL AS attached;

INSERT INTO escalation.rules (name, source_id, keywords, target_team, severity)
SELECT 'sample: refund requests', source_id, '{refund, chargeback}', 'billing', 3
  FROM escalation.sources WHERE name = 'sample helpdesk';

INSERT INTO helpdesk.tickets (subject, body, requester, account, created_at) VALUES
    ('Hello', 'How do I change my password?', 'ann@example.com', 'globex', '2024-01-02 09:00+00'),
    ('Refunds', 'I was charged twice and want my refunds.', 'ann@example.com', 'globex', '2024-01-02 10:00+00');

-- exactly the second ticket escalates, to billing, with the matched word
SELECT e.ticket_key, e.status, e.origin, e.kind, e.target_team, e.severity, e.created_at,
       regress_reasons(e.reasons) AS reasons
  FROM escalation.escalations e JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'sample helpdesk'
 ORDER BY e.escalation_id;

SELECT v.event, v.from_status, v.to_status, v.actor, v.at
  FROM escalation.events v JOIN escalation.sources s USING (source_id)
 WHERE s.name = 'sample helpdesk'
 ORDER BY v.event_id;
