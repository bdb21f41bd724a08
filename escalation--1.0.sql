/* escalation--0.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION escalation" to load this file. \quit

/*
 * Layout of this script
 *
 *   1. roles (created once per cluster, never dropped by us)
 *   2. helpers used by CHECK constraints
 *   3. configuration tables (DBA-editable rows, dumped by pg_dump)
 *   4. the record: escalations and their journey (events)
 *   5. C entry points (triggers, context, explain)
 *   6. attach() / detach()
 *   7. state transitions: escalate, accept, resolve, cancel
 *   8. privileges
 *
 * Everything is schema-qualified and operators inside function bodies that
 * run with a caller's search_path are qualified with OPERATOR(pg_catalog.x).
 * Every SECURITY DEFINER function pins search_path.
 */

--------------------------------------------------------------------------
-- 1. Roles
--------------------------------------------------------------------------
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'escalation_admin') THEN
        CREATE ROLE escalation_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'escalation_agent') THEN
        CREATE ROLE escalation_agent NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'escalation_analyst') THEN
        CREATE ROLE escalation_analyst NOLOGIN;
    END IF;
END
$roles$;

--------------------------------------------------------------------------
-- 2. Helpers for constraints
--------------------------------------------------------------------------
CREATE FUNCTION escalation.is_time_zone(tz text)
RETURNS boolean
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.timezone(tz, '2000-01-01 00:00:00+00'::timestamptz);
    RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN false;
END
$$;
COMMENT ON FUNCTION escalation.is_time_zone(text) IS
  'true when the argument is a time zone name PostgreSQL knows (used by CHECK constraints)';

CREATE FUNCTION escalation.is_clean_text_array(a text[])
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a IS NULL
        OR (pg_catalog.cardinality(a) OPERATOR(pg_catalog.>) 0
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(a) AS e(v)
                             WHERE v IS NULL
                                OR pg_catalog.btrim(v) OPERATOR(pg_catalog.=) ''))
$$;
COMMENT ON FUNCTION escalation.is_clean_text_array(text[]) IS
  'true for NULL or a non-empty array with no NULL or blank element';

--------------------------------------------------------------------------
-- 3. Configuration tables
--------------------------------------------------------------------------
CREATE TABLE escalation.teams (
    name        text PRIMARY KEY CHECK (btrim(name) <> ''),
    kind        text NOT NULL DEFAULT 'functional'
                CHECK (kind IN ('functional', 'hierarchical')),
    tier        integer NOT NULL DEFAULT 1 CHECK (tier BETWEEN 1 AND 9),
    lead_agent  text,
    description text,
    tenant      text CHECK (btrim(tenant) <> '')
);
COMMENT ON TABLE escalation.teams IS
  'Teams that receive escalations: functional (expertise: billing, security...) or hierarchical (authority: tier 2, management)';
COMMENT ON COLUMN escalation.teams.kind IS 'functional or hierarchical';
COMMENT ON COLUMN escalation.teams.tier IS 'support tier of the team, 1 = front line';
COMMENT ON COLUMN escalation.teams.lead_agent IS 'agent_id of the team lead (overflow target)';
COMMENT ON COLUMN escalation.teams.tenant IS 'the tenant (value of a source''s mapped tenant column, as text) the team belongs to; NULL = every tenant';

CREATE TABLE escalation.agents (
    agent_id     text PRIMARY KEY CHECK (btrim(agent_id) <> ''),
    name         text,
    team         text REFERENCES escalation.teams (name) ON UPDATE CASCADE ON DELETE RESTRICT,
    tier         integer NOT NULL DEFAULT 1 CHECK (tier BETWEEN 1 AND 9),
    capacity     integer NOT NULL DEFAULT 5 CHECK (capacity >= 0),
    languages    text[] NOT NULL DEFAULT '{en}' CHECK (escalation.is_clean_text_array(languages)),
    time_zone    text NOT NULL DEFAULT 'UTC' CHECK (escalation.is_time_zone(time_zone)),
    availability text NOT NULL DEFAULT 'online'
                 CHECK (availability IN ('online', 'away', 'offline')),
    active       boolean NOT NULL DEFAULT true,
    tenant       text CHECK (btrim(tenant) <> '')
);
COMMENT ON TABLE escalation.agents IS
  'Agents who can receive escalations; agent_id is the helpdesk''s own user id, as text';
COMMENT ON COLUMN escalation.agents.capacity IS 'maximum number of escalations the agent holds at once';
COMMENT ON COLUMN escalation.agents.tenant IS 'the tenant the agent works for; NULL = every tenant. Routing never gives an agent an escalation of another tenant';
COMMENT ON COLUMN escalation.agents.languages IS 'languages the agent works in (ISO 639-1 codes)';

ALTER TABLE escalation.teams
    ADD CONSTRAINT teams_lead_agent_fkey FOREIGN KEY (lead_agent)
    REFERENCES escalation.agents (agent_id) ON UPDATE CASCADE ON DELETE SET NULL
    DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE escalation.skills (
    name        text PRIMARY KEY CHECK (btrim(name) <> ''),
    description text
);
COMMENT ON TABLE escalation.skills IS 'Skills that rules require and agents have';

CREATE TABLE escalation.agent_skills (
    agent_id text NOT NULL REFERENCES escalation.agents (agent_id) ON UPDATE CASCADE ON DELETE CASCADE,
    skill    text NOT NULL REFERENCES escalation.skills (name) ON UPDATE CASCADE ON DELETE CASCADE,
    level    integer NOT NULL DEFAULT 3 CHECK (level BETWEEN 1 AND 5),
    PRIMARY KEY (agent_id, skill)
);
COMMENT ON TABLE escalation.agent_skills IS 'Which agent has which skill, at which level (1 novice .. 5 expert)';

CREATE TABLE escalation.accounts (
    account_key  text PRIMARY KEY CHECK (btrim(account_key) <> ''),
    name         text,
    tier         text NOT NULL DEFAULT 'standard' CHECK (btrim(tier) <> ''),
    vip          boolean NOT NULL DEFAULT false,
    annual_value numeric(16,2) CHECK (annual_value >= 0),
    renewal_date date,
    owner_agent  text REFERENCES escalation.agents (agent_id) ON UPDATE CASCADE ON DELETE SET NULL
);
COMMENT ON TABLE escalation.accounts IS
  'Customer accounts: account_key is the value of the ticket table''s mapped account column, as text';
COMMENT ON COLUMN escalation.accounts.owner_agent IS 'account manager (agent_id)';

CREATE TABLE escalation.sources (
    source_id     serial PRIMARY KEY,
    name          text NOT NULL CHECK (btrim(name) <> ''),
    ticket_table  regclass NOT NULL,
    mapping       jsonb NOT NULL,
    value_maps    jsonb NOT NULL DEFAULT '{}',
    lookups       jsonb NOT NULL DEFAULT '{}',
    message_table regclass,
    message_mapping jsonb,
    message_via   regclass,
    sentinels     jsonb NOT NULL DEFAULT '{}',
    ts_config     regconfig NOT NULL DEFAULT 'english',
    time_zone     text NOT NULL DEFAULT 'UTC' CHECK (escalation.is_time_zone(time_zone)),
    attached      boolean NOT NULL DEFAULT true,
    attached_at   timestamptz NOT NULL DEFAULT now(),
    detached_at   timestamptz,
    CHECK (jsonb_typeof(mapping) = 'object'),
    CHECK ((message_table IS NULL) = (message_mapping IS NULL)),
    CHECK (message_via IS NULL OR message_table IS NOT NULL),
    CHECK (jsonb_typeof(sentinels) = 'object')
);
CREATE UNIQUE INDEX sources_attached_table ON escalation.sources (ticket_table) WHERE attached;
-- a detached source keeps its name, so that the table can be attached again
CREATE UNIQUE INDEX sources_attached_name ON escalation.sources (name) WHERE attached;
COMMENT ON TABLE escalation.sources IS
  'Attached helpdesk tables and their column mapping; written by escalation.attach(), not by hand';
COMMENT ON COLUMN escalation.sources.mapping IS 'role -> column name of the ticket table (key, status, priority, body...); fields.* are extra named fields';
COMMENT ON COLUMN escalation.sources.value_maps IS 'per role, raw value (as text) -> meaning: status -> open|pending|solved|other, priority -> name, author -> customer|agent|bot|internal';
COMMENT ON COLUMN escalation.sources.lookups IS 'per role, a chain of lookup tables that turns a stored id into the value the value map reads';
COMMENT ON COLUMN escalation.sources.message_via IS 'table holding each message''s ticket, author, visibility and time when the messages table holds only the text (Znuny article_data_mime -> article)';
COMMENT ON COLUMN escalation.sources.sentinels IS 'per role, stored values that mean "none" (Znuny owner 1, a 1970-01-01 date); read as NULL';
COMMENT ON COLUMN escalation.sources.ts_config IS 'text search configuration used to stem keywords and ticket text';
COMMENT ON COLUMN escalation.sources.time_zone IS 'zone in which naive timestamp columns of this source are written';

CREATE TABLE escalation.rules (
    rule_id          serial PRIMARY KEY,
    name             text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    description      text,
    source_id        integer REFERENCES escalation.sources (source_id) ON DELETE CASCADE,
    tenant           text CHECK (btrim(tenant) <> ''),
    enabled          boolean NOT NULL DEFAULT true,
    applies_to       text NOT NULL DEFAULT 'both' CHECK (applies_to IN ('ticket', 'message', 'both')),
    -- conditions: every condition given must hold
    keywords         text[] CHECK (escalation.is_clean_text_array(keywords)),
    pattern          text CHECK (pattern <> ''),
    case_sensitive   boolean NOT NULL DEFAULT false,
    priorities       text[] CHECK (escalation.is_clean_text_array(priorities)),
    channels         text[] CHECK (escalation.is_clean_text_array(channels)),
    field            text CHECK (btrim(field) <> ''),
    field_op         text CHECK (field_op IN ('=', '<>', '<', '<=', '>', '>=')),
    field_value      text,
    account_vip      boolean,
    account_tiers    text[] CHECK (escalation.is_clean_text_array(account_tiers)),
    min_annual_value numeric CHECK (min_annual_value >= 0),
    renewal_within   interval CHECK (renewal_within >= '0'::interval),
    -- sentiment of the ticket's subject and body, or of the customer's message
    -- (escalation.sentiment(), with the source's escalation.sentiment_terms)
    sentiment_below   float8,
    frustration_above float8,
    -- learned triage (escalation.models): the predicted team's probability
    -- (routes to that team when target_team is NULL) and the predicted
    -- probability of escalation; never hold without an active model
    team_confidence_at_least       float8 CHECK (team_confidence_at_least > 0 AND team_confidence_at_least <= 1),
    escalation_probability_at_least float8 CHECK (escalation_probability_at_least > 0 AND escalation_probability_at_least <= 1),
    -- target
    target_team      text REFERENCES escalation.teams (name) ON UPDATE CASCADE ON DELETE RESTRICT,
    target_skills    text[] CHECK (escalation.is_clean_text_array(target_skills)),
    target_tier      integer CHECK (target_tier BETWEEN 1 AND 9),
    kind             text NOT NULL DEFAULT 'functional' CHECK (kind IN ('functional', 'hierarchical')),
    severity         integer NOT NULL DEFAULT 2 CHECK (severity BETWEEN 1 AND 4),
    level            integer NOT NULL DEFAULT 1 CHECK (level BETWEEN 1 AND 9),
    CONSTRAINT rules_has_target
        CHECK (target_team IS NOT NULL OR target_skills IS NOT NULL OR target_tier IS NOT NULL
               OR team_confidence_at_least IS NOT NULL),
    CONSTRAINT rules_has_condition
        CHECK (keywords IS NOT NULL OR pattern IS NOT NULL OR priorities IS NOT NULL
               OR channels IS NOT NULL OR field IS NOT NULL OR account_vip IS NOT NULL
               OR account_tiers IS NOT NULL OR min_annual_value IS NOT NULL
               OR renewal_within IS NOT NULL OR sentiment_below IS NOT NULL
               OR frustration_above IS NOT NULL OR team_confidence_at_least IS NOT NULL
               OR escalation_probability_at_least IS NOT NULL),
    -- polarity is in [-1, 1]: "below -1" could never fire; NaN is refused too
    CONSTRAINT rules_sentiment_below_range
        CHECK (sentiment_below > -1 AND sentiment_below <= 1),
    -- frustration is in [0, 1): "above 1" could never fire
    CONSTRAINT rules_frustration_above_range
        CHECK (frustration_above >= 0 AND frustration_above < 1),
    CONSTRAINT rules_field_complete
        CHECK ((field IS NULL AND field_op IS NULL AND field_value IS NULL)
               OR (field IS NOT NULL AND field_op IS NOT NULL AND field_value IS NOT NULL))
);
COMMENT ON TABLE escalation.rules IS
  'Event-driven escalation rules, evaluated by the C row trigger in the writer''s transaction. Every condition given must hold; keywords match if any keyword matches';
COMMENT ON COLUMN escalation.rules.source_id IS 'the source this rule applies to; NULL = every source';
COMMENT ON COLUMN escalation.rules.tenant IS 'only tickets of this tenant (the source''s mapped tenant column, as text); NULL = every tenant';
COMMENT ON COLUMN escalation.rules.applies_to IS 'ticket (rows of the ticket table), message (customer messages), or both';
COMMENT ON COLUMN escalation.rules.keywords IS 'words or phrases, matched on stems with the source''s text search configuration';
COMMENT ON COLUMN escalation.rules.pattern IS 'a PostgreSQL regular expression (ARE) searched in subject and body';
COMMENT ON COLUMN escalation.rules.priorities IS 'ticket priority (after the source''s priority map) must be one of these';
COMMENT ON COLUMN escalation.rules.field IS 'a mapped field (priority, channel, status or fields.<name>) compared with field_value by field_op; numeric when both sides are numbers';
COMMENT ON COLUMN escalation.rules.renewal_within IS 'account renewal date falls within this interval of the ticket''s time';
COMMENT ON COLUMN escalation.rules.sentiment_below IS 'fires when the sentiment (polarity, -1 .. +1) of the ticket''s subject and body, or of the customer''s message, is below this; in (-1, 1]';
COMMENT ON COLUMN escalation.rules.frustration_above IS 'fires when the frustration (0 .. 1) of the ticket''s subject and body, or of the customer''s message, is above this; in [0, 1)';
COMMENT ON COLUMN escalation.rules.team_confidence_at_least IS 'fires when the triage model predicts a team with at least this probability, in (0, 1]; with no target_team the escalation goes to the predicted team (which must be a team of escalation.teams above tier 1), skipping tier 1; with a target_team only when that team is predicted';
COMMENT ON COLUMN escalation.rules.escalation_probability_at_least IS 'fires when the triage model predicts at least this probability that the ticket will be escalated, in (0, 1]: escalate now';
COMMENT ON COLUMN escalation.rules.kind IS 'functional (to expertise) or hierarchical (to authority)';
COMMENT ON COLUMN escalation.rules.severity IS '1 low, 2 normal, 3 high, 4 critical';
COMMENT ON COLUMN escalation.rules.level IS 'escalation level; a ticket holds at most one open escalation per level and target';

--------------------------------------------------------------------------
-- 4. The record
--------------------------------------------------------------------------
CREATE FUNCTION escalation.target_key(team text, skills text[], tier integer)
RETURNS text
AS 'MODULE_PATHNAME', 'escalation_target_key'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION escalation.target_key(text, text[], integer) IS
  'team|skills|tier: identifies an escalation''s target, so a ticket holds one open escalation per level and target';

CREATE FUNCTION escalation.escalation_valid(level integer, kind text, origin text,
                                            severity integer, status text, reasons jsonb)
RETURNS boolean
AS 'MODULE_PATHNAME', 'escalation_escalation_valid'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION escalation.escalation_valid(integer, text, text, integer, text, jsonb) IS
  'CHECK of escalation.escalations: level 1-9; kind functional or hierarchical; origin rule, manual, sla, handoff, model or reescalation; severity 1-4; status queued, offered, accepted, resolved or cancelled; reasons a JSON array';

CREATE FUNCTION escalation.event_valid(event text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'escalation_event_valid'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION escalation.event_valid(text) IS
  'CHECK of escalation.events: event is created, reasons_added, offered, requeued, accepted, resolved, cancelled or updated';

CREATE TABLE escalation.escalations (
    escalation_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source_id     integer NOT NULL,
    ticket_key    text NOT NULL,
    level         integer NOT NULL DEFAULT 1,
    kind          text NOT NULL,
    origin        text NOT NULL,
    target_team   text,
    target_skills text[],
    target_tier   integer,
    target_key    text GENERATED ALWAYS AS (
                      escalation.target_key(target_team, target_skills, target_tier)) STORED,
    severity      integer NOT NULL DEFAULT 2,
    status        text NOT NULL DEFAULT 'queued',
    reasons       jsonb NOT NULL DEFAULT '[]',
    context       jsonb NOT NULL DEFAULT '{}',
    agent_id      text,
    parent_id     bigint REFERENCES escalation.escalations (escalation_id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    accepted_at   timestamptz,
    closed_at     timestamptz,
    last_actor    text,
    last_note     text,
    tenant        text,
    -- one constraint, a C function: a CHECK expression is read back and
    -- planned again by every statement that writes the table, which is one
    -- per escalation the helpdesk's insert raises; written out in SQL (IN
    -- lists, BETWEEN) that cost more than the rest of the statement
    CONSTRAINT escalations_valid CHECK (
        escalation.escalation_valid(level, kind, origin, severity, status, reasons))
);
-- context snapshots are a few KB: keep them inline and uncompressed, so that
-- writing an escalation does not pay for pglz on the helpdesk's insert
-- (lz4 was measured too: it saved about 1% of the benchmark's WAL and cost
-- as much as it saved)
ALTER TABLE escalation.escalations SET (toast_tuple_target = 8160);
CREATE UNIQUE INDEX escalations_one_open
    ON escalation.escalations (source_id, ticket_key, level, target_key)
    WHERE status IN ('queued', 'offered', 'accepted');
CREATE INDEX escalations_ticket ON escalation.escalations (source_id, ticket_key);
-- the queue's index (escalations_queue, in urgency order) is created with
-- the column it orders by, in the routing section
COMMENT ON TABLE escalation.escalations IS
  'Escalations: the queue item and the record. One open escalation per ticket, level and target. source_id and target_team are kept as they were when written (no foreign keys: the record outlives renames, and the trigger path stays cheap)';
COMMENT ON COLUMN escalation.escalations.reasons IS 'every reason with its evidence: rule, matched words, pattern match, field values, account facts';
COMMENT ON COLUMN escalation.escalations.context IS 'snapshot for the receiving agent: ticket fields, recent messages, account, requester''s other tickets, what was tried';
COMMENT ON COLUMN escalation.escalations.target_key IS 'team|skills|tier, used to keep one open escalation per target';
COMMENT ON COLUMN escalation.escalations.last_actor IS 'who made the latest change (copied into the journey)';
COMMENT ON COLUMN escalation.escalations.tenant IS
  'the ticket''s tenant (its source''s mapped tenant column, as text), written with the escalation; NULL: none. Routing offers it only to agents of this tenant or of every tenant';

CREATE TABLE escalation.events (
    event_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    escalation_id bigint NOT NULL,
    source_id     integer NOT NULL,
    ticket_key    text NOT NULL,
    event         text NOT NULL CONSTRAINT events_event_check CHECK (escalation.event_valid(event)),
    from_status   text,
    to_status     text NOT NULL,
    actor         text,
    note          text,
    detail        jsonb,
    at            timestamptz NOT NULL
);
CREATE INDEX events_escalation ON escalation.events (escalation_id, event_id);
COMMENT ON TABLE escalation.events IS
  'The journey: one row per state change of every escalation, appended by a trigger on escalation.escalations';

CREATE TABLE escalation.first_responses (
    source_id    integer NOT NULL,
    ticket_key   text NOT NULL,
    responded_at timestamptz NOT NULL,
    author       text,
    PRIMARY KEY (source_id, ticket_key)
);
COMMENT ON TABLE escalation.first_responses IS
  'First customer-visible agent reply per ticket, recorded by the message trigger (internal notes and bots do not count)';

CREATE FUNCTION escalation.merge_reasons(old jsonb, new jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT old OPERATOR(pg_catalog.||) coalesce(
        (SELECT jsonb_agg(n.r ORDER BY n.i)
           FROM jsonb_array_elements(new) WITH ORDINALITY AS n(r, i)
          WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(old) AS o(r)
                             WHERE (o.r OPERATOR(pg_catalog.->) 'rule')
                                   OPERATOR(pg_catalog.=) (n.r OPERATOR(pg_catalog.->) 'rule'))),
        '[]'::jsonb)
$$;
COMMENT ON FUNCTION escalation.merge_reasons(jsonb, jsonb) IS
  'old reasons plus those new reasons whose rule is not already among them';

CREATE FUNCTION escalation.transition_allowed(from_status text, to_status text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE from_status
        WHEN 'queued'   THEN to_status IN ('offered', 'accepted', 'resolved', 'cancelled')
        WHEN 'offered'  THEN to_status IN ('queued', 'accepted', 'resolved', 'cancelled')
        WHEN 'accepted' THEN to_status IN ('resolved', 'cancelled')
        ELSE false
    END
$$;
COMMENT ON FUNCTION escalation.transition_allowed(text, text) IS
  'the escalation state machine: queued -> offered -> accepted -> resolved; cancelled from any open state; resolved and cancelled are final';

CREATE FUNCTION escalation.check_transition()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.source_id IS DISTINCT FROM OLD.source_id
       OR NEW.ticket_key IS DISTINCT FROM OLD.ticket_key
       OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION 'the ticket and creation time of escalation % cannot change', OLD.escalation_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NOT escalation.transition_allowed(OLD.status, NEW.status) THEN
        RAISE EXCEPTION 'escalation % cannot go from "%" to "%"', OLD.escalation_id, OLD.status, NEW.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Allowed: queued -> offered | accepted | resolved | cancelled; offered -> queued | accepted | resolved | cancelled; accepted -> resolved | cancelled.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION escalation.check_transition() IS
  'BEFORE UPDATE trigger on escalation.escalations: refuses transitions the state machine does not allow';

CREATE FUNCTION escalation.record_event()
RETURNS trigger
AS 'MODULE_PATHNAME', 'escalation_record_event'
LANGUAGE C;
COMMENT ON FUNCTION escalation.record_event() IS
  'AFTER INSERT OR UPDATE trigger on escalation.escalations: appends every change to the journey (escalation.events)';

CREATE TRIGGER check_transition BEFORE UPDATE ON escalation.escalations
    FOR EACH ROW EXECUTE FUNCTION escalation.check_transition();
CREATE TRIGGER record_event AFTER INSERT OR UPDATE ON escalation.escalations
    FOR EACH ROW EXECUTE FUNCTION escalation.record_event();

--------------------------------------------------------------------------
-- 5. C entry points
--------------------------------------------------------------------------
CREATE FUNCTION escalation.invalidate_cache()
RETURNS trigger
AS 'MODULE_PATHNAME', 'escalation_invalidate_cache'
LANGUAGE C;
COMMENT ON FUNCTION escalation.invalidate_cache() IS
  'statement trigger on configuration tables: every backend drops its cached configuration when the change commits';

CREATE FUNCTION escalation.ticket_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'escalation_ticket_trigger'
LANGUAGE C;
COMMENT ON FUNCTION escalation.ticket_trigger() IS
  'AFTER INSERT OR UPDATE row trigger that attach() installs on a ticket table: evaluates the rules and escalates in the writer''s transaction';

CREATE FUNCTION escalation.message_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'escalation_message_trigger'
LANGUAGE C;
COMMENT ON FUNCTION escalation.message_trigger() IS
  'AFTER INSERT row trigger that attach() installs on a messages table: evaluates customer messages, records the first agent response';

CREATE FUNCTION escalation.ticket_context(source_id integer, ticket_key text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'escalation_ticket_context'
LANGUAGE C STRICT;
COMMENT ON FUNCTION escalation.ticket_context(integer, text) IS
  'the context snapshot an escalation of this ticket would carry: ticket fields, recent messages, account, requester''s other tickets';

CREATE FUNCTION escalation.caller_sees_ticket(source_id integer, ticket_key text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'escalation_caller_sees_ticket'
LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION escalation.caller_sees_ticket(integer, text) IS
  'internal: whether the role acting in this session (session user or SET ROLE) can read the ticket, its grants and row-level security applied; SECURITY DEFINER functions that snapshot a ticket ask it first';

CREATE FUNCTION escalation.explain(ticket_table regclass, ticket_key text,
                                   as_of timestamptz DEFAULT now())
RETURNS TABLE (rule text, fires boolean, level integer, kind text, target_team text,
               target_skills text[], target_tier integer, severity integer,
               evidence jsonb, why_not text)
AS 'MODULE_PATHNAME', 'escalation_explain'
LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION escalation.explain(regclass, text, timestamptz) IS
  'which rules fire for this ticket and why (and why the others do not); writes nothing';

CREATE FUNCTION escalation.match_keywords(body text, keywords text[],
                                          config regconfig DEFAULT 'english')
RETURNS TABLE (keyword text, matched text)
AS 'MODULE_PATHNAME', 'escalation_match_keywords'
LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION escalation.match_keywords(text, text[], regconfig) IS
  'the keyword matcher used by the trigger, callable on any text: which keywords match and the words that matched them';

CREATE FUNCTION escalation.keyword_lexemes(keyword text, config regconfig)
RETURNS text[]
AS 'MODULE_PATHNAME', 'escalation_keyword_lexemes'
LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION escalation.keyword_lexemes(text, regconfig) IS
  'the stems a keyword or phrase is matched on, with NULL for positions held by stop words';

--------------------------------------------------------------------------
-- Rule validation: bad configuration is refused when written, so that the
-- helpdesk's own writes never fail because of it.
--------------------------------------------------------------------------
CREATE FUNCTION escalation.validate_rule()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    src record;
    kw text;
    lex text[];
    nsrc integer := 0;
    nfield integer := 0;
BEGIN
    IF NEW.pattern IS NOT NULL THEN
        BEGIN
            PERFORM '' OPERATOR(pg_catalog.~) NEW.pattern;
        EXCEPTION WHEN invalid_regular_expression THEN
            RAISE EXCEPTION 'invalid regular expression in rule "%": %', NEW.name, SQLERRM
                USING ERRCODE = 'invalid_regular_expression',
                      HINT = 'Patterns use PostgreSQL''s regular expression syntax (see "POSIX Regular Expressions").';
        END;
    END IF;

    IF NEW.field IS NOT NULL AND NEW.field_op IN ('<', '<=', '>', '>=')
       AND NEW.field_value !~ '^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$' THEN
        RAISE EXCEPTION 'rule "%" compares field "%" with "%", which is not a number',
                        NEW.name, NEW.field, NEW.field_value
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The operators <, <=, > and >= compare numbers; use = or <> for text.';
    END IF;

    -- target skills name rows of escalation.skills, as target_team names a
    -- team (checked when they change: a disabled rule may keep its skills)
    IF NEW.target_skills IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.target_skills IS DISTINCT FROM OLD.target_skills) THEN
        SELECT k INTO kw FROM unnest(NEW.target_skills) AS k
         WHERE NOT EXISTS (SELECT 1 FROM escalation.skills sk WHERE sk.name = k)
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'skill "%" of rule "%" does not exist', kw, NEW.name
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'Skills are rows of escalation.skills.';
        END IF;
    END IF;

    FOR src IN SELECT s.source_id, s.name, s.ts_config, s.mapping
                 FROM escalation.sources s
                WHERE s.attached
                  AND (NEW.source_id IS NULL OR s.source_id = NEW.source_id)
    LOOP
        nsrc := nsrc + 1;
        IF NEW.keywords IS NOT NULL THEN
            FOREACH kw IN ARRAY NEW.keywords LOOP
                lex := escalation.keyword_lexemes(kw, src.ts_config);
                IF NOT EXISTS (SELECT 1 FROM unnest(lex) l WHERE l IS NOT NULL) THEN
                    RAISE EXCEPTION 'keyword "%" of rule "%" has no searchable word in text search configuration "%"',
                                    kw, NEW.name, src.ts_config
                        USING ERRCODE = 'invalid_parameter_value',
                              HINT = 'Stop words such as "the" or "and" are never matched on their own.';
                END IF;
            END LOOP;
        END IF;
        IF NEW.field IS NOT NULL
           AND (NEW.field IN ('priority', 'channel', 'status')
                OR src.mapping ? ('fields.' || NEW.field)) THEN
            nfield := nfield + 1;
        END IF;
    END LOOP;

    -- a disabled rule may keep naming a detached source (detach() disables them)
    IF NEW.source_id IS NOT NULL AND nsrc = 0 AND NEW.enabled THEN
        RAISE EXCEPTION 'source % of rule "%" is not attached', NEW.source_id, NEW.name
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NEW.field IS NOT NULL AND nsrc > 0 AND nfield = 0 THEN
        RAISE EXCEPTION 'field "%" of rule "%" is not mapped by any source it applies to', NEW.field, NEW.name
            USING ERRCODE = 'undefined_column',
                  HINT = 'Map it with attach(..., fields => ''{"' || NEW.field || '": "column"}''), or use priority, channel or status.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION escalation.validate_rule() IS
  'BEFORE INSERT OR UPDATE trigger on escalation.rules: refuses invalid patterns, keywords made only of stop words, non-numeric thresholds and unmapped fields';

CREATE TRIGGER validate_rule BEFORE INSERT OR UPDATE ON escalation.rules
    FOR EACH ROW EXECUTE FUNCTION escalation.validate_rule();

CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON escalation.rules
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.invalidate_cache();
CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON escalation.sources
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.invalidate_cache();
CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON escalation.accounts
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.invalidate_cache();
CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON escalation.teams
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.invalidate_cache();

--------------------------------------------------------------------------
-- 6. attach() / detach()
--------------------------------------------------------------------------

/* Normalise a value map: {"meaning": [raw, ...]} -> {"raw": "meaning"} */
CREATE FUNCTION escalation.invert_value_map(role text, m jsonb, allowed text[])
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k text;
    v jsonb;
    e jsonb;
    result jsonb := '{}';
BEGIN
    IF m IS NULL THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(m) <> 'object' THEN
        RAISE EXCEPTION '% map must be a JSON object', role
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Write it as {"meaning": [stored value, ...]}, for example {"open": [0], "solved": [1]}.';
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(m) LOOP
        IF allowed IS NOT NULL AND NOT k = ANY (allowed) THEN
            RAISE EXCEPTION '"%" is not a % meaning', k, role
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use one of: ' || array_to_string(allowed, ', ') || '.';
        END IF;
        IF jsonb_typeof(v) <> 'array' THEN
            v := jsonb_build_array(v);
        END IF;
        FOR e IN SELECT * FROM jsonb_array_elements(v) LOOP
            IF jsonb_typeof(e) NOT IN ('string', 'number', 'boolean') THEN
                RAISE EXCEPTION '% map entry for "%" holds %, not a stored value', role, k, e
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF result ? (e #>> '{}') THEN
                RAISE EXCEPTION 'value % appears twice in the % map', e, role
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            result := result || jsonb_build_object(e #>> '{}', k);
        END LOOP;
    END LOOP;
    RETURN result;
END
$$;
COMMENT ON FUNCTION escalation.invert_value_map(text, jsonb, text[]) IS
  'internal: validates a {"meaning": [values]} map and turns it into {"value": "meaning"}';

/* Check that a column exists in a table and, optionally, that its type fits. */
CREATE FUNCTION escalation.check_column(tbl regclass, role text, col text, kinds text[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    typ regtype;
    cat "char";
BEGIN
    IF col IS NULL THEN
        RETURN;
    END IF;
    SELECT a.atttypid::regtype, t.typcategory INTO typ, cat
      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', col, tbl
            USING ERRCODE = 'undefined_column',
                  DETAIL = format('It was given as the %s column.', role);
    END IF;
    IF kinds IS NOT NULL THEN
        -- integers in a time role are Unix epoch seconds (Znuny's deadlines)
        IF ('time' = ANY (kinds) AND typ IN ('timestamp with time zone'::regtype,
                                             'timestamp without time zone'::regtype, 'date'::regtype,
                                             'integer'::regtype, 'bigint'::regtype))
           OR ('text' = ANY (kinds) AND cat = 'S')
           OR ('bool' = ANY (kinds) AND typ = 'boolean'::regtype)
           OR ('flag' = ANY (kinds) AND typ IN ('boolean'::regtype, 'smallint'::regtype,
                                                'integer'::regtype, 'bigint'::regtype)) THEN
            RETURN;
        END IF;
        RAISE EXCEPTION 'column "%" of relation % has type %, which cannot serve as the % column',
                        col, tbl, typ, role
            USING ERRCODE = 'datatype_mismatch',
                  HINT = CASE WHEN 'time' = ANY (kinds) THEN 'Use a timestamptz, timestamp, date or integer (Unix epoch seconds) column.'
                              WHEN 'text' = ANY (kinds) THEN 'Use a text, varchar or char column.'
                              WHEN 'flag' = ANY (kinds) THEN 'Use a boolean or integer (0 = false) column.'
                              ELSE 'Use a boolean column.' END;
    END IF;
END
$$;
COMMENT ON FUNCTION escalation.check_column(regclass, text, text, text[]) IS
  'internal: refuses a mapping that names a missing column or one of an unusable type';

/* Validate a lookup chain: [{"table": t, "key": k, "value": v}, ...] */
CREATE FUNCTION escalation.check_lookup(role text, chain jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    hop jsonb;
    tbl regclass;
BEGIN
    IF jsonb_typeof(chain) <> 'array' OR jsonb_array_length(chain) = 0 THEN
        RAISE EXCEPTION 'lookup for % must be a non-empty JSON array of {"table", "key", "value"}', role
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR hop IN SELECT * FROM jsonb_array_elements(chain) LOOP
        IF jsonb_typeof(hop) <> 'object' OR NOT hop ?& ARRAY['table', 'key', 'value'] THEN
            RAISE EXCEPTION 'each hop of the % lookup needs "table", "key" and "value"', role
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'For example [{"table": "ticket_state", "key": "id", "value": "type_id"}].';
        END IF;
        tbl := (hop->>'table')::regclass;
        IF NOT has_table_privilege(tbl, 'SELECT') THEN
            RAISE EXCEPTION 'permission denied for table %', tbl
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM escalation.check_column(tbl, role || ' lookup key', hop->>'key');
        PERFORM escalation.check_column(tbl, role || ' lookup value', hop->>'value');
    END LOOP;
END
$$;
COMMENT ON FUNCTION escalation.check_lookup(text, jsonb) IS
  'internal: validates a lookup chain given to attach()';

CREATE FUNCTION escalation.attach(
    ticket_table       regclass,
    key                text,
    status             text DEFAULT NULL,
    status_map         jsonb DEFAULT NULL,
    created_at         text DEFAULT NULL,
    updated_at         text DEFAULT NULL,
    resolved_at        text DEFAULT NULL,
    priority           text DEFAULT NULL,
    priority_map       jsonb DEFAULT NULL,
    channel            text DEFAULT NULL,
    subject            text DEFAULT NULL,
    body               text DEFAULT NULL,
    requester          text DEFAULT NULL,
    account            text DEFAULT NULL,
    assignee           text DEFAULT NULL,
    team               text DEFAULT NULL,
    fields             jsonb DEFAULT NULL,
    lookups            jsonb DEFAULT NULL,
    messages           regclass DEFAULT NULL,
    message_ticket     text DEFAULT NULL,
    message_created_at text DEFAULT NULL,
    message_body       text DEFAULT NULL,
    message_author     text DEFAULT NULL,
    author_map         jsonb DEFAULT NULL,
    message_private    text DEFAULT NULL,
    ts_config          regconfig DEFAULT 'english',
    time_zone          text DEFAULT 'UTC',
    name               text DEFAULT NULL,
    tenant             text DEFAULT NULL,
    sentinels          jsonb DEFAULT NULL,
    message_sender     text DEFAULT NULL,
    sender_map         jsonb DEFAULT NULL,
    message_visible    text DEFAULT NULL,
    message_via        regclass DEFAULT NULL,
    message_via_key    text DEFAULT NULL,
    message_ref        text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner_ok   boolean;
    kind       "char";
    persist    "char";
    m          jsonb := '{}';
    mm         jsonb;
    vmaps      jsonb := '{}';
    k          text;
    v          jsonb;
    sid        integer;
    srcname    text;
    existing   text;
    upd_cols   text;
    lt         text;
    ktyp       regtype;
    mtyp       regtype;
    lk         jsonb := coalesce(lookups, '{}');
    sent       jsonb := '{}';
    meta       regclass;
BEGIN
    -- the table: a plain or partitioned table the caller owns, not yet attached
    SELECT c.relkind, pg_has_role(current_user, c.relowner, 'USAGE'), c.relpersistence
      INTO kind, owner_ok, persist
      FROM pg_class c WHERE c.oid = ticket_table;
    IF kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', ticket_table
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'attach() installs triggers, so it needs a plain or partitioned table.';
    END IF;
    -- a temporary table goes at the end of the session without a DROP that
    -- could detach it (escalation.forget_dropped_tables)
    IF persist = 't' THEN
        RAISE EXCEPTION '% is a temporary table', ticket_table
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'attach() needs a table that outlives the session.';
    END IF;
    IF NOT owner_ok THEN
        RAISE EXCEPTION 'must be owner of table %', ticket_table
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT s.name INTO existing FROM escalation.sources s
     WHERE s.ticket_table = attach.ticket_table AND s.attached;
    IF FOUND THEN
        RAISE EXCEPTION 'table % is already attached as source "%"', ticket_table, existing
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Call escalation.detach() first to change its mapping.';
    END IF;
    IF NOT escalation.is_time_zone(attach.time_zone) THEN
        RAISE EXCEPTION 'time zone "%" is not known', attach.time_zone
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a name from pg_timezone_names, such as UTC or Europe/Berlin.';
    END IF;

    -- the key: a column with a unique, non-partial index on it alone
    PERFORM escalation.check_column(ticket_table, 'key', key);
    IF NOT EXISTS (
        SELECT 1 FROM pg_index i
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE i.indrelid = ticket_table AND i.indisunique AND i.indnkeyatts = 1
           AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = key) THEN
        RAISE EXCEPTION 'table % has no unique key on column "%"', ticket_table, key
            USING ERRCODE = 'invalid_table_definition',
                  HINT = 'The ticket key must be the table''s primary key or carry a unique index of its own.';
    END IF;

    -- the ticket columns
    PERFORM escalation.check_column(ticket_table, 'status', status);
    PERFORM escalation.check_column(ticket_table, 'created_at', created_at, '{time}');
    PERFORM escalation.check_column(ticket_table, 'updated_at', updated_at, '{time}');
    PERFORM escalation.check_column(ticket_table, 'resolved_at', resolved_at, '{time}');
    PERFORM escalation.check_column(ticket_table, 'priority', priority);
    PERFORM escalation.check_column(ticket_table, 'channel', channel);
    PERFORM escalation.check_column(ticket_table, 'subject', subject, '{text}');
    PERFORM escalation.check_column(ticket_table, 'body', body, '{text}');
    PERFORM escalation.check_column(ticket_table, 'requester', requester);
    PERFORM escalation.check_column(ticket_table, 'account', account);
    PERFORM escalation.check_column(ticket_table, 'assignee', assignee);
    PERFORM escalation.check_column(ticket_table, 'team', team);
    PERFORM escalation.check_column(ticket_table, 'tenant', tenant);

    m := jsonb_strip_nulls(jsonb_build_object(
        'key', key, 'status', status, 'created_at', created_at, 'updated_at', updated_at,
        'resolved_at', resolved_at, 'priority', priority, 'channel', channel,
        'subject', subject, 'body', body, 'requester', requester, 'account', account,
        'assignee', assignee, 'team', team, 'tenant', tenant));

    -- sentinels: {"role": [stored value, ...]}, values that mean "none"
    IF sentinels IS NOT NULL THEN
        IF jsonb_typeof(sentinels) <> 'object' THEN
            RAISE EXCEPTION 'sentinels must be a JSON object of role -> stored values'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'For example {"assignee": [1], "created_at": ["1970-01-01 00:00:00"]}.';
        END IF;
        FOR k, v IN SELECT * FROM jsonb_each(sentinels) LOOP
            IF k = 'key' OR NOT m ? k THEN
                RAISE EXCEPTION 'a sentinel cannot be given for "%"', k
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Sentinels are given for mapped ticket roles other than the key.';
            END IF;
            IF jsonb_typeof(v) <> 'array' THEN
                v := jsonb_build_array(v);
            END IF;
            IF EXISTS (SELECT 1 FROM jsonb_array_elements(v) e
                        WHERE jsonb_typeof(e) NOT IN ('string', 'number', 'boolean')) THEN
                RAISE EXCEPTION 'sentinels for "%" must be stored values', k
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            sent := sent || jsonb_build_object(k,
                (SELECT jsonb_agg(e #>> '{}') FROM jsonb_array_elements(v) e));
        END LOOP;
    END IF;

    IF fields IS NOT NULL THEN
        IF jsonb_typeof(fields) <> 'object' THEN
            RAISE EXCEPTION 'fields must be a JSON object of field name -> column name'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOR k, v IN SELECT * FROM jsonb_each(fields) LOOP
            IF k !~ '^[a-z_][a-z0-9_]*$' THEN
                RAISE EXCEPTION 'field name "%" is not a lower-case identifier', k
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF jsonb_typeof(v) <> 'string' THEN
                RAISE EXCEPTION 'field "%" must name a column', k
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            PERFORM escalation.check_column(ticket_table, 'fields.' || k, v #>> '{}');
            m := m || jsonb_build_object('fields.' || k, v #>> '{}');
        END LOOP;
    END IF;

    -- value maps
    IF status_map IS NOT NULL AND status IS NULL THEN
        RAISE EXCEPTION 'status_map given without a status column'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF priority_map IS NOT NULL AND priority IS NULL THEN
        RAISE EXCEPTION 'priority_map given without a priority column'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    vmaps := jsonb_strip_nulls(jsonb_build_object(
        'status', escalation.invert_value_map('status', status_map, '{open,pending,solved,other}'),
        'priority', escalation.invert_value_map('priority', priority_map, NULL),
        'author', escalation.invert_value_map('author', author_map, '{customer,agent,bot,internal}'),
        'sender', escalation.invert_value_map('sender', sender_map, '{customer,agent,bot,internal}')));

    -- lookups: {"status": [hops], "priority": [hops], "author": [hops]}
    IF jsonb_typeof(lk) <> 'object' THEN
        RAISE EXCEPTION 'lookups must be a JSON object of role -> lookup chain'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(lk) LOOP
        IF k NOT IN ('status', 'priority', 'author', 'channel', 'sender') THEN
            RAISE EXCEPTION 'a lookup cannot be given for "%"', k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Lookups exist for status, priority, channel, author and sender.';
        END IF;
        PERFORM escalation.check_lookup(k, v);
    END LOOP;

    -- the messages table
    IF messages IS NOT NULL THEN
        IF message_ticket IS NULL OR message_body IS NULL THEN
            RAISE EXCEPTION 'a messages table needs message_ticket and message_body'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT c.relkind, pg_has_role(current_user, c.relowner, 'USAGE'), c.relpersistence
          INTO kind, owner_ok, persist FROM pg_class c WHERE c.oid = messages;
        IF kind NOT IN ('r', 'p') THEN
            RAISE EXCEPTION '% is not a table', messages USING ERRCODE = 'wrong_object_type';
        END IF;
        IF persist = 't' THEN
            RAISE EXCEPTION '% is a temporary table', messages
                USING ERRCODE = 'wrong_object_type',
                      HINT = 'attach() needs a table that outlives the session.';
        END IF;
        IF NOT owner_ok THEN
            RAISE EXCEPTION 'must be owner of table %', messages
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        -- the message's metadata (ticket, author, visibility, time) is on the
        -- messages table itself, or on the table message_ref points into
        meta := messages;
        IF message_via IS NOT NULL THEN
            IF message_via_key IS NULL OR message_ref IS NULL THEN
                RAISE EXCEPTION 'message_via needs message_via_key and message_ref'
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'message_ref is the column of the messages table that holds the message_via_key of the message_via table.';
            END IF;
            IF NOT has_table_privilege(message_via, 'SELECT') THEN
                RAISE EXCEPTION 'permission denied for table %', message_via
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            PERFORM escalation.check_column(message_via, 'message_via_key', message_via_key);
            PERFORM escalation.check_column(messages, 'message_ref', message_ref);
            IF NOT EXISTS (
                SELECT 1 FROM pg_index i
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                 WHERE i.indrelid = message_via AND i.indisunique AND i.indnkeyatts = 1
                   AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = message_via_key) THEN
                RAISE EXCEPTION 'table % has no unique key on column "%"', message_via, message_via_key
                    USING ERRCODE = 'invalid_table_definition',
                          HINT = 'message_via_key must be the primary key of the message_via table or carry a unique index of its own.';
            END IF;
            meta := message_via;
        ELSIF message_via_key IS NOT NULL OR message_ref IS NOT NULL THEN
            RAISE EXCEPTION 'message_via_key and message_ref given without message_via'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM escalation.check_column(meta, 'message_ticket', message_ticket);
        -- every ticket reference must read as a ticket key, or the message
        -- trigger's look-up of the ticket would fail the helpdesk's insert
        SELECT ka.atttypid, ma.atttypid INTO ktyp, mtyp
          FROM pg_attribute ka, pg_attribute ma
         WHERE ka.attrelid = ticket_table AND ka.attname = key
           AND ma.attrelid = meta AND ma.attname = message_ticket;
        IF mtyp <> ktyp
           AND (SELECT t.typcategory FROM pg_type t WHERE t.oid = ktyp) <> 'S'
           AND NOT (ktyp = 'bigint'::regtype AND mtyp IN ('smallint'::regtype, 'integer'::regtype))
           AND NOT (ktyp = 'integer'::regtype AND mtyp = 'smallint'::regtype) THEN
            RAISE EXCEPTION 'column "%" of relation % has type %, which cannot hold every key of % (type %)',
                            message_ticket, meta, mtyp, ticket_table, ktyp
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'The message_ticket column must have the type of the ticket key.';
        END IF;
        PERFORM escalation.check_column(meta, 'message_created_at', message_created_at, '{time}');
        PERFORM escalation.check_column(messages, 'message_body', message_body, '{text}');
        PERFORM escalation.check_column(meta, 'message_author', message_author);
        PERFORM escalation.check_column(meta, 'message_sender', message_sender);
        PERFORM escalation.check_column(meta, 'message_private', message_private, '{flag}');
        PERFORM escalation.check_column(meta, 'message_visible', message_visible, '{flag}');
        IF author_map IS NOT NULL AND message_author IS NULL THEN
            RAISE EXCEPTION 'author_map given without a message_author column'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF sender_map IS NOT NULL AND message_sender IS NULL THEN
            RAISE EXCEPTION 'sender_map given without a message_sender column'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        mm := jsonb_strip_nulls(jsonb_build_object(
            'ticket', message_ticket, 'created_at', message_created_at, 'body', message_body,
            'author', message_author, 'private', message_private, 'sender', message_sender,
            'visible', message_visible, 'ref', message_ref, 'via_key', message_via_key));
    ELSIF coalesce(message_ticket, message_created_at, message_body, message_author,
                   message_private, message_sender, message_visible, message_via_key,
                   message_ref) IS NOT NULL
          OR author_map IS NOT NULL OR sender_map IS NOT NULL OR message_via IS NOT NULL THEN
        RAISE EXCEPTION 'message columns given without a messages table'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    srcname := coalesce(attach.name, ticket_table::text);
    SELECT s.ticket_table::text INTO existing FROM escalation.sources s
     WHERE s.name = srcname AND s.attached;
    IF FOUND THEN
        RAISE EXCEPTION 'source name "%" is already taken by table %', srcname, existing
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Give this source another name: attach(..., name => ...).';
    END IF;

    INSERT INTO escalation.sources AS s
        (name, ticket_table, mapping, value_maps, lookups, message_table, message_mapping,
         message_via, sentinels, ts_config, time_zone)
    VALUES (srcname, ticket_table, m, vmaps, lk, messages, mm, message_via, sent, ts_config,
            time_zone)
    RETURNING s.source_id INTO sid;

    -- rules that already exist for every source must make sense for this one too
    UPDATE escalation.rules r SET enabled = r.enabled WHERE r.source_id IS NULL;

    -- triggers: only UPDATEs that touch a mapped column fire ours.  The
    -- updated_at column is only the time a change is judged at: helpdesks
    -- (Znuny, Zammad) bump it on every bookkeeping write, which alone is no
    -- change of ours (unless the same column also serves another role)
    SELECT string_agg(quote_ident(c), ', ' ORDER BY c) INTO upd_cols
      FROM (SELECT DISTINCT e.value AS c FROM jsonb_each_text(m) e
             WHERE e.key <> 'updated_at'
                OR e.value IN (SELECT o.value FROM jsonb_each_text(m) o
                                WHERE o.key <> 'updated_at')) d;
    EXECUTE format('CREATE TRIGGER escalation_ticket AFTER INSERT OR UPDATE OF %s ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION escalation.ticket_trigger(%L)',
                   upd_cols, ticket_table, sid);
    IF messages IS NOT NULL THEN
        EXECUTE format('CREATE TRIGGER escalation_message AFTER INSERT ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION escalation.message_trigger(%L)',
                       messages, sid);
    END IF;
    -- lookup tables: a change there must reach every backend's cache
    FOR lt IN SELECT DISTINCT (h->>'table')::regclass::text
                FROM jsonb_each(lk) e, jsonb_array_elements(e.value) h LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_trigger t
                        WHERE t.tgrelid = lt::regclass
                          AND t.tgname = 'escalation_lookup_invalidate') THEN
            EXECUTE format('CREATE TRIGGER escalation_lookup_invalidate '
                           'AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
                           'FOR EACH STATEMENT EXECUTE FUNCTION escalation.invalidate_cache()',
                           lt);
        END IF;
    END LOOP;
    RETURN sid;
END
$$;
COMMENT ON FUNCTION escalation.attach(regclass, text, text, jsonb, text, text, text, text, jsonb,
    text, text, text, text, text, text, text, jsonb, jsonb, regclass, text, text, text, text,
    jsonb, text, regconfig, text, text, text, jsonb, text, jsonb, text, regclass, text, text) IS
  'attach an existing ticket table (and optionally its messages table) as a source: validates the column mapping against the catalog, then installs the escalation triggers. Returns the source_id';

-- the attached source of a ticket table, or a clear error
CREATE FUNCTION escalation.attached_source(ticket_table regclass)
RETURNS escalation.sources
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    src escalation.sources;
BEGIN
    SELECT * INTO src FROM escalation.sources s
     WHERE s.ticket_table = attached_source.ticket_table AND s.attached;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not attached', ticket_table USING ERRCODE = 'undefined_object',
              HINT = 'Attach it with escalation.attach().';
    END IF;
    RETURN src;
END
$$;
COMMENT ON FUNCTION escalation.attached_source(regclass) IS
  'internal: the attached source of a ticket table; raises undefined_object when the table is not attached';

CREATE FUNCTION escalation.detach(ticket_table regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    src escalation.sources;
    owner_ok boolean;
BEGIN
    src := escalation.attached_source(ticket_table);
    SELECT pg_has_role(current_user, c.relowner, 'USAGE') INTO owner_ok
      FROM pg_class c WHERE c.oid = ticket_table;
    IF NOT owner_ok THEN
        RAISE EXCEPTION 'must be owner of table %', ticket_table
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS escalation_ticket ON %s', ticket_table);
    IF src.message_table IS NOT NULL THEN
        EXECUTE format('DROP TRIGGER IF EXISTS escalation_message ON %s', src.message_table);
    END IF;
    UPDATE escalation.sources s SET attached = false, detached_at = now()
     WHERE s.source_id = src.source_id;
    UPDATE escalation.rules r SET enabled = false WHERE r.source_id = src.source_id;
END
$$;
COMMENT ON FUNCTION escalation.detach(regclass) IS
  'remove the escalation triggers from an attached table; the helpdesk''s data and escalation''s history stay';

--------------------------------------------------------------------------
-- 7. State transitions
--------------------------------------------------------------------------
CREATE FUNCTION escalation.escalate(
    ticket_table  regclass,
    ticket_key    text,
    target_team   text DEFAULT NULL,
    target_skills text[] DEFAULT NULL,
    target_tier   integer DEFAULT NULL,
    kind          text DEFAULT 'functional',
    severity      integer DEFAULT 2,
    reason        text DEFAULT NULL,
    tried         jsonb DEFAULT NULL,
    level         integer DEFAULT 1,
    as_of         timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    sid bigint;
    src integer;
    ctx jsonb;
    eid bigint;
BEGIN
    src := (escalation.attached_source(ticket_table)).source_id;
    IF target_team IS NULL AND target_skills IS NULL AND target_tier IS NULL THEN
        RAISE EXCEPTION 'an escalation needs a target team, skills or tier'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF kind IS NULL OR kind NOT IN ('functional', 'hierarchical') THEN
        RAISE EXCEPTION 'kind must be "functional" or "hierarchical", not "%"', kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF severity IS NULL OR severity NOT BETWEEN 1 AND 4 THEN
        RAISE EXCEPTION 'severity must be between 1 and 4, not %', coalesce(severity::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF level IS NULL OR level NOT BETWEEN 1 AND 9 THEN
        RAISE EXCEPTION 'level must be between 1 and 9, not %', coalesce(level::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF target_team IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM escalation.teams t WHERE t.name = escalate.target_team) THEN
        RAISE EXCEPTION 'team "%" does not exist', target_team
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    -- the snapshot is taken as the extension's owner: only of a ticket the
    -- caller can read itself (its grants and row-level security apply)
    IF NOT escalation.caller_sees_ticket(src, ticket_key) THEN
        RAISE EXCEPTION 'ticket % does not exist in %', ticket_key, ticket_table
            USING ERRCODE = 'no_data_found';
    END IF;
    ctx := escalation.ticket_context(src, ticket_key);
    IF ctx IS NULL THEN
        RAISE EXCEPTION 'ticket % does not exist in %', ticket_key, ticket_table
            USING ERRCODE = 'no_data_found';
    END IF;
    IF tried IS NOT NULL THEN
        ctx := ctx || jsonb_build_object('tried', tried);
    END IF;
    INSERT INTO escalation.escalations AS e
        (source_id, ticket_key, level, kind, origin, target_team, target_skills, target_tier,
         severity, reasons, context, created_at, updated_at, last_actor, last_note, tenant)
    VALUES (src, ticket_key, level, kind, 'manual', target_team, target_skills, target_tier,
            severity,
            jsonb_build_array(jsonb_build_object('rule', NULL, 'kind', 'manual',
                                                 'by', session_user::text, 'reason', reason)),
            ctx, as_of, as_of, session_user::text, reason, ctx #>> '{ticket,tenant}')
    ON CONFLICT (source_id, ticket_key, level, target_key)
       WHERE status IN ('queued', 'offered', 'accepted')
    DO NOTHING
    RETURNING e.escalation_id INTO eid;
    IF eid IS NULL THEN
        RAISE EXCEPTION 'ticket % already has an open escalation at level % for this target', ticket_key, level
            USING ERRCODE = 'unique_violation',
                  HINT = 'Raise the level to escalate further.';
    END IF;
    RETURN eid;
END
$$;
COMMENT ON FUNCTION escalation.escalate(regclass, text, text, text[], integer, text, integer, text,
    jsonb, integer, timestamptz) IS
  'escalate a ticket by hand, with a reason and what was already tried; returns the escalation_id';

CREATE FUNCTION escalation.set_status(escalation_id bigint, new_status text, agent text,
                                      note text, as_of timestamptz)
RETURNS escalation.escalations
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e escalation.escalations;
BEGIN
    SELECT * INTO e FROM escalation.escalations x
     WHERE x.escalation_id = set_status.escalation_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'escalation % does not exist', escalation_id USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT escalation.transition_allowed(e.status, new_status) THEN
        RAISE EXCEPTION 'escalation % is %; it cannot become %', escalation_id, e.status, new_status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE escalation.escalations x
       SET status = new_status,
           agent_id = coalesce(agent, x.agent_id),
           accepted_at = CASE WHEN new_status = 'accepted' THEN as_of ELSE x.accepted_at END,
           closed_at = CASE WHEN new_status IN ('resolved', 'cancelled') THEN as_of ELSE x.closed_at END,
           updated_at = as_of,
           last_actor = coalesce(agent, session_user::text),
           last_note = note
     WHERE x.escalation_id = set_status.escalation_id
    RETURNING * INTO e;
    RETURN e;
END
$$;
COMMENT ON FUNCTION escalation.set_status(bigint, text, text, text, timestamptz) IS
  'internal: locks the escalation, checks the transition and applies it';

CREATE FUNCTION escalation.accept(escalation_id bigint, agent_id text,
                                  as_of timestamptz DEFAULT now())
RETURNS escalation.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM escalation.agents a WHERE a.agent_id = accept.agent_id) THEN
        RAISE EXCEPTION 'agent "%" does not exist', agent_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    PERFORM escalation.check_accept(escalation_id, agent_id);  -- routing: offers, capacity
    RETURN escalation.set_status(escalation_id, 'accepted', agent_id, NULL, as_of);
END
$$;
COMMENT ON FUNCTION escalation.accept(bigint, text, timestamptz) IS
  'an agent accepts a queued or offered escalation';

CREATE FUNCTION escalation.resolve(escalation_id bigint, note text DEFAULT NULL,
                                   as_of timestamptz DEFAULT now())
RETURNS escalation.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN escalation.set_status(escalation_id, 'resolved', NULL, note, as_of);
END
$$;
COMMENT ON FUNCTION escalation.resolve(bigint, text, timestamptz) IS
  'mark an open escalation resolved, with an optional note';

CREATE FUNCTION escalation.cancel(escalation_id bigint, reason text,
                                  as_of timestamptz DEFAULT now())
RETURNS escalation.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION 'cancelling an escalation needs a reason'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN escalation.set_status(escalation_id, 'cancelled', NULL, reason, as_of);
END
$$;
COMMENT ON FUNCTION escalation.cancel(bigint, text, timestamptz) IS
  'cancel an open escalation, with the reason';

--------------------------------------------------------------------------
-- Business calendars and business time
--
-- A calendar is a time zone, working periods per weekday and holidays;
-- business time elapses only inside working periods.  The arithmetic is C
-- (src/calendar.c); every backend caches the calendars it used and drops
-- them when one of these tables changes (statement trigger
-- invalidate_cache, as for the configuration).
--------------------------------------------------------------------------
CREATE FUNCTION escalation.is_zone_name(tz text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'escalation_is_zone_name'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION escalation.is_zone_name(text) IS
  'true for a time zone PostgreSQL loads with its rules (Europe/Berlin, UTC), false for an abbreviation (PST, CEST), which is a fixed offset without daylight saving time';

CREATE TABLE escalation.calendars (
    calendar_id serial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    time_zone   text NOT NULL CHECK (escalation.is_time_zone(time_zone)),
    description text,
    CONSTRAINT calendars_zone_has_rules CHECK (escalation.is_zone_name(time_zone))
);
COMMENT ON TABLE escalation.calendars IS
  'Business calendars: a time zone, working periods (calendar_hours) and holidays (calendar_holidays). Business time elapses only inside working periods';
COMMENT ON COLUMN escalation.calendars.name IS 'what escalation.business_add(), business_time() and business_periods() are given';
COMMENT ON COLUMN escalation.calendars.time_zone IS 'zone of the working periods'' wall-clock times and of the holidays'' dates: a zone name such as Europe/Berlin, not an abbreviation';

CREATE TABLE escalation.calendar_hours (
    calendar_id integer NOT NULL REFERENCES escalation.calendars (calendar_id) ON DELETE CASCADE,
    weekday     integer NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    starts      time NOT NULL CHECK (starts < '24:00'),
    ends        time NOT NULL,
    PRIMARY KEY (calendar_id, weekday, starts),
    CONSTRAINT calendar_hours_not_empty CHECK (ends <> starts)
);
COMMENT ON TABLE escalation.calendar_hours IS
  'Working periods of a calendar, in local wall-clock time; a weekday may have several (lunch breaks). Periods of one calendar never overlap, also across midnight';
COMMENT ON COLUMN escalation.calendar_hours.weekday IS '0 = Sunday .. 6 = Saturday, as extract(dow ...)';
COMMENT ON COLUMN escalation.calendar_hours.starts IS 'local time the period starts; a start inside a spring-forward gap means the first instant after the gap';
COMMENT ON COLUMN escalation.calendar_hours.ends IS 'local time the period ends; 24:00 is midnight; at or before starts, the period runs past midnight into the next weekday (22:00-06:00)';

CREATE TABLE escalation.calendar_holidays (
    calendar_id integer NOT NULL REFERENCES escalation.calendars (calendar_id) ON DELETE CASCADE,
    day         date NOT NULL CHECK (isfinite(day)),
    recurring   boolean NOT NULL DEFAULT false,
    name        text,
    PRIMARY KEY (calendar_id, day)
);
COMMENT ON TABLE escalation.calendar_holidays IS
  'Holidays of a calendar: no business time elapses on that local date (periods running past midnight are cut at its midnights)';
COMMENT ON COLUMN escalation.calendar_holidays.recurring IS 'true: the same month and day every year from day on (a February 29 only in leap years)';

/*
 * One function, two triggers: BEFORE checks the row on its own, the AFTER
 * constraint trigger checks it against the calendar's other periods once
 * the statement is done (or at commit, with SET CONSTRAINTS ... DEFERRED).
 */
CREATE FUNCTION escalation.validate_calendar_hours()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    days constant text[] := ARRAY['Sunday', 'Monday', 'Tuesday', 'Wednesday',
                                  'Thursday', 'Friday', 'Saturday'];
    day_us constant bigint := 86400000000;
    week_us constant bigint := 7 * 86400000000;
    cal text;
    new_s bigint;
    new_e bigint;
    o record;
    msg text;
BEGIN
    IF TG_WHEN = 'BEFORE' THEN
        -- NOT NULL constraints report missing values
        IF NEW.weekday IS NULL OR NEW.starts IS NULL OR NEW.ends IS NULL THEN
            RETURN NEW;
        END IF;
        IF NEW.weekday NOT BETWEEN 0 AND 6 THEN
            RAISE EXCEPTION 'weekday % is not between 0 (Sunday) and 6 (Saturday)', NEW.weekday
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NEW.starts = '24:00' THEN
            RAISE EXCEPTION 'a working period cannot start at 24:00'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Start it at 00:00 of the next weekday.';
        END IF;
        IF NEW.ends = NEW.starts THEN
            RAISE EXCEPTION 'working period % %-% is empty', days[NEW.weekday + 1],
                            to_char(NEW.starts::interval, 'HH24:MI'), to_char(NEW.ends::interval, 'HH24:MI')
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A period that ends at or before its start runs past midnight; a whole day is 00:00-24:00.';
        END IF;
        RETURN NEW;
    END IF;

    -- one writer per calendar at a time, so that two transactions cannot
    -- each add one of two overlapping periods
    SELECT c.name INTO cal FROM escalation.calendars c
     WHERE c.calendar_id = NEW.calendar_id FOR NO KEY UPDATE;
    -- a deferred check: the row may have changed or gone since
    PERFORM 1 FROM escalation.calendar_hours h
     WHERE h.calendar_id = NEW.calendar_id AND h.weekday = NEW.weekday
       AND h.starts = NEW.starts AND h.ends = NEW.ends;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    -- positions in the week in microseconds; a period is at most a day long,
    -- so comparing with the other period shifted a week either way is enough
    new_s := NEW.weekday * day_us + (extract(epoch FROM NEW.starts) * 1000000)::bigint;
    new_e := new_s + (extract(epoch FROM NEW.ends) * 1000000)::bigint
           - (extract(epoch FROM NEW.starts) * 1000000)::bigint
           + CASE WHEN NEW.ends > NEW.starts THEN 0 ELSE day_us END;
    SELECT h.weekday, h.starts, h.ends INTO o
      FROM escalation.calendar_hours h,
           LATERAL (SELECT h.weekday * day_us + (extract(epoch FROM h.starts) * 1000000)::bigint AS s) hs,
           LATERAL (SELECT hs.s + (extract(epoch FROM h.ends) * 1000000)::bigint
                               - (extract(epoch FROM h.starts) * 1000000)::bigint
                               + CASE WHEN h.ends > h.starts THEN 0 ELSE day_us END AS e) he
     WHERE h.calendar_id = NEW.calendar_id
       AND (h.weekday, h.starts) <> (NEW.weekday, NEW.starts)
       AND EXISTS (SELECT 1 FROM unnest(ARRAY[-1, 0, 1]) AS k(w)
                    WHERE new_s < he.e + k.w * week_us AND hs.s + k.w * week_us < new_e)
     ORDER BY h.weekday, h.starts
     LIMIT 1;
    IF FOUND THEN
        msg := format('working period %s %s-%s of calendar "%s" overlaps %s %s-%s',
                      days[NEW.weekday + 1],
                      to_char(NEW.starts::interval, 'HH24:MI'), to_char(NEW.ends::interval, 'HH24:MI'),
                      cal, days[o.weekday + 1],
                      to_char(o.starts::interval, 'HH24:MI'), to_char(o.ends::interval, 'HH24:MI'));
        IF NEW.ends <= NEW.starts OR o.ends <= o.starts THEN
            RAISE EXCEPTION '%', msg
                USING ERRCODE = 'exclusion_violation',
                      DETAIL = 'A period that ends at or before its start runs past midnight into the next weekday.',
                      HINT = 'Periods of one calendar must not overlap; make them one period, or shorten one.';
        END IF;
        RAISE EXCEPTION '%', msg
            USING ERRCODE = 'exclusion_violation',
                  HINT = 'Periods of one calendar must not overlap; make them one period, or shorten one.';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION escalation.validate_calendar_hours() IS
  'trigger on escalation.calendar_hours: BEFORE refuses empty periods, AFTER (constraint trigger, deferrable) refuses periods that overlap another period of the calendar, midnight-crossing ones included';

CREATE TRIGGER validate_calendar_hours BEFORE INSERT OR UPDATE ON escalation.calendar_hours
    FOR EACH ROW EXECUTE FUNCTION escalation.validate_calendar_hours();
CREATE CONSTRAINT TRIGGER calendar_hours_no_overlap AFTER INSERT OR UPDATE ON escalation.calendar_hours
    DEFERRABLE INITIALLY IMMEDIATE
    FOR EACH ROW EXECUTE FUNCTION escalation.validate_calendar_hours();
CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON escalation.calendars
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.invalidate_cache();
CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON escalation.calendar_hours
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.invalidate_cache();
CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON escalation.calendar_holidays
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.invalidate_cache();

CREATE FUNCTION escalation.business_add(calendar text, start timestamptz, duration interval)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'escalation_business_add'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION escalation.business_add(text, timestamptz, interval) IS
  'the earliest instant at which duration of business time has elapsed since start on the calendar (NULL: 24x7). A day of duration counts as 24 hours; months and negative durations are refused; gives up after 20 years';

CREATE FUNCTION escalation.business_time(calendar text, "from" timestamptz, "to" timestamptz)
RETURNS interval
AS 'MODULE_PATHNAME', 'escalation_business_time'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION escalation.business_time(text, timestamptz, timestamptz) IS
  'business time between two instants on the calendar (NULL: 24x7), in hours, minutes and seconds (never days); negative when from is after to';

CREATE FUNCTION escalation.business_periods(calendar text, "from" timestamptz, "to" timestamptz)
RETURNS TABLE (starts timestamptz, ends timestamptz)
AS 'MODULE_PATHNAME', 'escalation_business_periods'
LANGUAGE C STABLE PARALLEL SAFE ROWS 20;
COMMENT ON FUNCTION escalation.business_periods(text, timestamptz, timestamptz) IS
  'the working periods of the calendar (NULL: 24x7) between two instants, clipped to them, in order; what business_time() adds up';

SELECT pg_catalog.pg_extension_config_dump('escalation.calendars', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.calendars_calendar_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.calendar_hours', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.calendar_holidays', '');

GRANT SELECT ON escalation.calendars, escalation.calendar_hours, escalation.calendar_holidays
      TO escalation_admin, escalation_agent, escalation_analyst;
GRANT INSERT, UPDATE, DELETE ON escalation.calendars, escalation.calendar_hours,
      escalation.calendar_holidays TO escalation_admin;
GRANT USAGE ON SEQUENCE escalation.calendars_calendar_id_seq TO escalation_admin;
-- is_zone_name: the CHECK on calendars.time_zone runs it as the writer
GRANT EXECUTE ON FUNCTION
      escalation.business_add(text, timestamptz, interval),
      escalation.business_time(text, timestamptz, timestamptz),
      escalation.business_periods(text, timestamptz, timestamptz),
      escalation.is_zone_name(text)
      TO escalation_admin, escalation_agent, escalation_analyst;

--------------------------------------------------------------------------
-- SLA policies, clocks and the cycle
--
-- Policies are ordered; a ticket takes the first enabled one whose
-- conditions all hold.  A policy's targets (first response, next
-- response, periodic update, resolution, age) each run on a calendar or
-- 24x7.  The C triggers tell escalation.sla_track_ticket() and
-- sla_track_message() what happened to a tracked ticket; those keep one
-- clock row per ticket, target and round, with its running segments (the
-- audit trail business time is recomputed from) and next_at, the instant
-- its next step (warning, breach, ladder level) is due.  A cycle
-- (run_batch / run_cycle, called by the background worker or pg_cron)
-- claims what is due through the partial index on next_at, so it costs
-- what is due, not what is open.  Each step fires once: clock_firings'
-- primary key is the ledger.
--------------------------------------------------------------------------
ALTER TABLE escalation.teams
    ADD COLUMN calendar text REFERENCES escalation.calendars (name)
        ON UPDATE CASCADE ON DELETE SET NULL,
    ADD COLUMN wake_severity integer NOT NULL DEFAULT 4 CHECK (wake_severity BETWEEN 1 AND 5);
COMMENT ON COLUMN escalation.teams.calendar IS
  'working hours of the team: SLA notifications addressed to it outside them wait for the next working period (NULL: always reachable)';
COMMENT ON COLUMN escalation.teams.wake_severity IS
  'notifications of at least this severity go out at once, even outside working hours (5: never)';

CREATE FUNCTION escalation.compare_value(value text, op text, threshold text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE
        WHEN value IS NULL OR op IS NULL OR threshold IS NULL THEN false
        -- numbers compare as numeric: at most 1000 characters and a
        -- three-digit exponent always convert (a field value of 1e400 is a
        -- number, not an error that would lose the ticket's SLA clocks)
        WHEN pg_catalog.length(value) <= 1000 AND value ~ '^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,3})?\s*$'
         AND pg_catalog.length(threshold) <= 1000 AND threshold ~ '^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,3})?\s*$' THEN
            CASE op
                WHEN '='  THEN value::numeric =  threshold::numeric
                WHEN '<>' THEN value::numeric <> threshold::numeric
                WHEN '<'  THEN value::numeric <  threshold::numeric
                WHEN '<=' THEN value::numeric <= threshold::numeric
                WHEN '>'  THEN value::numeric >  threshold::numeric
                WHEN '>=' THEN value::numeric >= threshold::numeric
            END
        ELSE
            CASE op
                WHEN '='  THEN value =  threshold
                WHEN '<>' THEN value <> threshold
                WHEN '<'  THEN value <  threshold
                WHEN '<=' THEN value <= threshold
                WHEN '>'  THEN value >  threshold
                WHEN '>=' THEN value >= threshold
            END
    END
$$;
COMMENT ON FUNCTION escalation.compare_value(text, text, text) IS
  'value op threshold, as numbers when both are numbers, else as text; false when any is NULL (the comparison rules use)';

CREATE TABLE escalation.sla_policies (
    policy_id     serial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    description   text,
    source_id     integer REFERENCES escalation.sources (source_id) ON DELETE CASCADE,
    tenant        text CHECK (btrim(tenant) <> ''),
    position      integer NOT NULL UNIQUE,
    enabled       boolean NOT NULL DEFAULT true,
    -- conditions: every condition given must hold
    priorities    text[] CHECK (escalation.is_clean_text_array(priorities)),
    channels      text[] CHECK (escalation.is_clean_text_array(channels)),
    teams         text[] CHECK (escalation.is_clean_text_array(teams)),
    account_tiers text[] CHECK (escalation.is_clean_text_array(account_tiers)),
    account_vip   boolean,
    field         text CHECK (btrim(field) <> ''),
    field_op      text CHECK (field_op IN ('=', '<>', '<', '<=', '>', '>=')),
    field_value   text,
    CONSTRAINT sla_policies_field_complete
        CHECK ((field IS NULL AND field_op IS NULL AND field_value IS NULL)
               OR (field IS NOT NULL AND field_op IS NOT NULL AND field_value IS NOT NULL))
);
COMMENT ON TABLE escalation.sla_policies IS
  'SLA policies: a ticket gets the enabled policy with the lowest position whose conditions all hold (no condition: every ticket). Overlaps are listed in escalation.sla_policy_overlaps and warned about when written';
COMMENT ON COLUMN escalation.sla_policies.source_id IS 'the source this policy applies to; NULL = every source';
COMMENT ON COLUMN escalation.sla_policies.tenant IS 'only tickets of this tenant (the source''s mapped tenant column, as text); NULL = every tenant';
COMMENT ON COLUMN escalation.sla_policies.position IS 'order of evaluation: the first policy that matches applies';
COMMENT ON COLUMN escalation.sla_policies.priorities IS 'ticket priority (after the source''s priority map) must be one of these';
COMMENT ON COLUMN escalation.sla_policies.teams IS 'the ticket''s mapped team must be one of these';
COMMENT ON COLUMN escalation.sla_policies.field IS 'an extra mapped field (fields.<name> in the mapping, given without the prefix) compared with field_value by field_op';

CREATE FUNCTION escalation.is_sla_duration(d interval)
RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$
    SELECT d IS NULL
        OR (extract(month FROM d) = 0 AND extract(year FROM d) = 0
            AND d >= '0'::interval AND d <= '366 days'::interval
            AND extract(day FROM d) >= 0 AND extract(epoch FROM d) >= 0)
$$;
COMMENT ON FUNCTION escalation.is_sla_duration(interval) IS
  'true for a duration an SLA can count: days, hours, minutes, seconds, not negative, at most 366 days; months and years are refused (their length depends on the date)';

CREATE TABLE escalation.sla_targets (
    policy_id integer NOT NULL REFERENCES escalation.sla_policies (policy_id) ON DELETE CASCADE,
    metric    text NOT NULL CHECK (metric IN ('first_response', 'next_response', 'periodic_update',
                                              'resolution', 'age')),
    target    interval NOT NULL,
    calendar  text REFERENCES escalation.calendars (name) ON UPDATE CASCADE ON DELETE RESTRICT,
    warn_at   integer[] NOT NULL DEFAULT '{75}',
    PRIMARY KEY (policy_id, metric),
    CONSTRAINT sla_targets_target_valid
        CHECK (escalation.is_sla_duration(target) AND target > '0'::interval),
    CONSTRAINT sla_targets_warn_at_valid
        CHECK (array_ndims(warn_at) IS NULL
               OR (array_ndims(warn_at) = 1 AND 0 < ALL (warn_at) AND 100 > ALL (warn_at)
                   AND array_position(warn_at, NULL) IS NULL))
);
COMMENT ON TABLE escalation.sla_targets IS
  'What a policy promises: per metric a target duration, counted in business time on a calendar or 24x7, with warnings at percentages of it';
COMMENT ON COLUMN escalation.sla_targets.metric IS
  'first_response: created -> first customer-visible agent reply; next_response: oldest waiting customer message -> next agent reply; periodic_update: an agent reply at least every target; resolution: created -> solved (pending pauses, a reopen continues); age: created -> solved, never paused';
COMMENT ON COLUMN escalation.sla_targets.calendar IS 'business calendar the target runs on; NULL = 24x7';
COMMENT ON COLUMN escalation.sla_targets.warn_at IS 'warnings at these percentages of the target (1-99); the breach is 100';

CREATE TABLE escalation.sla_ladder (
    policy_id        integer NOT NULL,
    metric           text NOT NULL,
    level            integer NOT NULL CHECK (level BETWEEN 1 AND 9),
    after            interval NOT NULL DEFAULT '0',
    target_team      text REFERENCES escalation.teams (name) ON UPDATE CASCADE ON DELETE RESTRICT,
    target_tier      integer CHECK (target_tier BETWEEN 1 AND 9),
    to_account_owner boolean NOT NULL DEFAULT false,
    kind             text NOT NULL DEFAULT 'hierarchical' CHECK (kind IN ('functional', 'hierarchical')),
    severity         integer NOT NULL DEFAULT 3 CHECK (severity BETWEEN 1 AND 4),
    PRIMARY KEY (policy_id, metric, level),
    FOREIGN KEY (policy_id, metric) REFERENCES escalation.sla_targets (policy_id, metric)
        ON UPDATE CASCADE ON DELETE CASCADE,
    CONSTRAINT sla_ladder_after_valid CHECK (escalation.is_sla_duration(after)),
    CONSTRAINT sla_ladder_has_target
        CHECK (target_team IS NOT NULL OR target_tier IS NOT NULL OR to_account_owner)
);
COMMENT ON TABLE escalation.sla_ladder IS
  'Escalation ladder of a target: level 1 fires its "after" past the breach, each further level its "after" past the previous one (in the target''s clock time: pauses count as for the target); every level escalates';
COMMENT ON COLUMN escalation.sla_ladder.to_account_owner IS
  'escalate to the account''s owner (escalations.agent_id, the owner''s team); target_team / target_tier are the fallback when the account has no owner';

CREATE TABLE escalation.sla_tickets (
    source_id   integer NOT NULL,
    ticket_key  text NOT NULL,
    created_at  timestamptz NOT NULL,
    status      text NOT NULL,
    priority    text,
    channel     text,
    team        text,
    account_key text,
    fields      jsonb NOT NULL DEFAULT '{}',
    policy_id   integer,
    updated_at  timestamptz NOT NULL,
    first_message_at timestamptz,
    PRIMARY KEY (source_id, ticket_key)
);
COMMENT ON TABLE escalation.sla_tickets IS
  'Tickets under an SLA: the facts policies were matched on, as the triggers last saw them, so that clocks can be recomputed without reading the helpdesk';
COMMENT ON COLUMN escalation.sla_tickets.first_message_at IS
  'when the ticket''s opening was seen: its first customer-visible message (customer''s or agent''s), or its creation when the ticket row carries the text (a mapped body) or the ticket was first tracked after its creation; NULL: no message yet, so the next one opens the ticket, and an agent''s opening message is no response';

CREATE TABLE escalation.clocks (
    clock_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id     integer NOT NULL,
    ticket_key    text NOT NULL,
    metric        text NOT NULL,
    round         integer NOT NULL DEFAULT 1,
    policy_id     integer NOT NULL,
    target        interval NOT NULL,
    calendar      text,
    state         text NOT NULL CHECK (state IN ('running', 'paused', 'met', 'stopped')),
    started_at    timestamptz NOT NULL,
    elapsed       interval NOT NULL DEFAULT '0',
    running_since timestamptz,
    due_at        timestamptz,
    next_at       timestamptz,
    breached_at   timestamptz,
    finished_at   timestamptz,
    UNIQUE (source_id, ticket_key, metric, round),
    CHECK ((state = 'running') = (running_since IS NOT NULL))
);
CREATE INDEX clocks_next ON escalation.clocks (next_at) WHERE next_at IS NOT NULL;
COMMENT ON TABLE escalation.clocks IS
  'One SLA clock per ticket, metric and round (next_response and periodic_update start a new round each time). elapsed is the business time counted before running_since; next_at is when the next warning, breach or ladder level is due';
COMMENT ON COLUMN escalation.clocks.state IS 'running, paused (ticket pending), met (target reached: reply given, ticket solved) or stopped (no longer applies)';
COMMENT ON COLUMN escalation.clocks.due_at IS 'when the target is breached if the clock keeps running; NULL when paused or finished';
COMMENT ON COLUMN escalation.clocks.next_at IS 'when the next step is due; the cycle claims clocks through an index on it. A paused or finished clock whose time crossed a step no cycle fired yet keeps the instant it crossed it, so that nothing is missed';

CREATE TABLE escalation.clock_segments (
    clock_id bigint NOT NULL,
    starts   timestamptz NOT NULL,
    ends     timestamptz,
    PRIMARY KEY (clock_id, starts)
);
COMMENT ON TABLE escalation.clock_segments IS
  'The running stretches of each clock (paused time is between them): the audit trail escalation.recompute_sla() recounts business time from';

CREATE TABLE escalation.clock_firings (
    clock_id      bigint NOT NULL,
    step          text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('warning', 'breach', 'level')),
    percent       integer,
    level         integer,
    source_id     integer NOT NULL,
    ticket_key    text NOT NULL,
    metric        text NOT NULL,
    policy_id     integer NOT NULL,
    due_at        timestamptz NOT NULL,
    fired_at      timestamptz NOT NULL,
    escalation_id bigint,
    PRIMARY KEY (clock_id, step)
);
CREATE INDEX clock_firings_ticket ON escalation.clock_firings (source_id, ticket_key);
COMMENT ON TABLE escalation.clock_firings IS
  'Every warning, breach and ladder level fired, once: the primary key makes a second firing of the same step impossible, however many cycles run';
COMMENT ON COLUMN escalation.clock_firings.step IS 'warning:<percent>, breach or level:<n>';
COMMENT ON COLUMN escalation.clock_firings.due_at IS 'the exact instant the step became due (fired_at is when a cycle fired it)';

CREATE TABLE escalation.notifications (
    notification_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    clock_id        bigint NOT NULL,
    step            text NOT NULL,
    team            text,
    severity        integer NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL,
    notify_at       timestamptz NOT NULL,
    sent_at         timestamptz,
    UNIQUE (clock_id, step)
);
CREATE INDEX notifications_due ON escalation.notifications (notify_at) WHERE sent_at IS NULL;
COMMENT ON TABLE escalation.notifications IS
  'SLA notifications (NOTIFY escalation_sla): sent when fired, or at the start of the addressed team''s next working period when fired outside it and below the team''s wake_severity';

-- Clear refusals, before the constraints (which stay as the backstop)
CREATE FUNCTION escalation.validate_sla()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d interval;
    what text;
    w integer;
BEGIN
    IF TG_TABLE_NAME = 'sla_targets' THEN
        d := NEW.target;
        what := format('target of the %s SLA', NEW.metric);
        IF d IS NOT NULL AND d <= '0'::interval THEN
            RAISE EXCEPTION 'the % must be longer than zero, not %', what, d
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- a calendar without working hours would never let the clock run:
        -- refused here rather than when a ticket arrives
        IF NEW.calendar IS NOT NULL
           AND EXISTS (SELECT 1 FROM escalation.calendars c WHERE c.name = NEW.calendar)
           AND NOT EXISTS (SELECT 1 FROM escalation.calendars c
                             JOIN escalation.calendar_hours h ON h.calendar_id = c.calendar_id
                            WHERE c.name = NEW.calendar) THEN
            RAISE EXCEPTION 'calendar "%" of the % has no working hours', NEW.calendar, what
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'Business time never elapses on it, so the target could never be met or breached.',
                      HINT = 'Add its working periods to escalation.calendar_hours first, or use NULL for 24x7 time.';
        END IF;
        IF NEW.warn_at IS NOT NULL THEN
            FOREACH w IN ARRAY NEW.warn_at LOOP
                IF w IS NULL OR w < 1 OR w > 99 THEN
                    RAISE EXCEPTION 'warnings of the % must be percentages from 1 to 99, not %',
                                    what, coalesce(w::text, 'NULL')
                        USING ERRCODE = 'invalid_parameter_value',
                              HINT = 'The breach itself is 100%; ladder levels come after it (escalation.sla_ladder).';
                END IF;
            END LOOP;
        END IF;
    ELSE
        d := NEW.after;
        what := format('"after" of ladder level %s', NEW.level);
        IF NEW.target_team IS NULL AND NEW.target_tier IS NULL AND NOT coalesce(NEW.to_account_owner, false) THEN
            RAISE EXCEPTION 'ladder level % escalates to nobody', NEW.level
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give target_team, target_tier or to_account_owner.';
        END IF;
    END IF;
    IF d IS NOT NULL AND (extract(month FROM d) <> 0 OR extract(year FROM d) <> 0) THEN
        RAISE EXCEPTION 'the % is %: months and years have no fixed length', what, d
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Write days instead, e.g. ''30 days''.';
    END IF;
    IF d IS NOT NULL AND (d < '0'::interval OR extract(day FROM d) < 0 OR extract(epoch FROM d) < 0) THEN
        RAISE EXCEPTION 'the % cannot be negative (%)', what, d
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF d IS NOT NULL AND d > '366 days'::interval THEN
        RAISE EXCEPTION 'the % is %, longer than 366 days', what, d
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION escalation.validate_sla() IS
  'BEFORE INSERT OR UPDATE trigger on escalation.sla_targets and sla_ladder: refuses impossible targets, warnings and ladder levels with a clear message';
CREATE TRIGGER validate_sla BEFORE INSERT OR UPDATE ON escalation.sla_targets
    FOR EACH ROW EXECUTE FUNCTION escalation.validate_sla();
CREATE TRIGGER validate_sla BEFORE INSERT OR UPDATE ON escalation.sla_ladder
    FOR EACH ROW EXECUTE FUNCTION escalation.validate_sla();

-- a policy's field condition, checked like a rule's: a field some source it
-- applies to maps, and a number for the ordering operators
CREATE FUNCTION escalation.validate_sla_policy()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    nsrc integer := 0;
    nfield integer := 0;
BEGIN
    IF NEW.field IS NULL OR NEW.field_op IS NULL OR NEW.field_value IS NULL THEN
        RETURN NEW;             -- the constraints report incomplete conditions
    END IF;
    IF NEW.field_op IN ('<', '<=', '>', '>=')
       AND (length(NEW.field_value) > 1000
            OR NEW.field_value !~ '^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,3})?\s*$') THEN
        RAISE EXCEPTION 'SLA policy "%" compares field "%" with "%", which is not a number',
                        NEW.name, NEW.field, NEW.field_value
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The operators <, <=, > and >= compare numbers (at most 1000 digits and a three-digit exponent); use = or <> for text.';
    END IF;
    SELECT count(*), count(*) FILTER (WHERE s.mapping ? ('fields.' || NEW.field))
      INTO nsrc, nfield
      FROM escalation.sources s
     WHERE s.attached AND (NEW.source_id IS NULL OR s.source_id = NEW.source_id);
    IF nsrc > 0 AND nfield = 0 THEN
        RAISE EXCEPTION 'field "%" of SLA policy "%" is not mapped by any source it applies to',
                        NEW.field, NEW.name
            USING ERRCODE = 'undefined_column',
                  HINT = 'Map it with attach(..., fields => ''{"' || NEW.field
                         || '": "column"}''); priority, channel and team have their own conditions (priorities, channels, teams).';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION escalation.validate_sla_policy() IS
  'BEFORE INSERT OR UPDATE trigger on escalation.sla_policies: refuses a field no source it applies to maps, and a non-numeric threshold for <, <=, > and >=';
CREATE TRIGGER validate_sla_policy BEFORE INSERT OR UPDATE ON escalation.sla_policies
    FOR EACH ROW EXECUTE FUNCTION escalation.validate_sla_policy();

-- a calendar an SLA target runs on keeps at least one working period
CREATE FUNCTION escalation.check_calendar_in_use()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cal text;
    target record;
BEGIN
    IF EXISTS (SELECT 1 FROM escalation.calendar_hours h WHERE h.calendar_id = OLD.calendar_id) THEN
        RETURN NULL;
    END IF;
    SELECT c.name INTO cal FROM escalation.calendars c WHERE c.calendar_id = OLD.calendar_id;
    SELECT p.name AS policy, t.metric INTO target
      FROM escalation.sla_targets t JOIN escalation.sla_policies p USING (policy_id)
     WHERE t.calendar = cal
     ORDER BY p.position, t.metric
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'calendar "%" would have no working hours, but the % target of SLA policy "%" runs on it',
                        cal, target.metric, target.policy
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Give the target another calendar first, or replace the periods in one transaction after SET CONSTRAINTS escalation.calendar_hours_in_use DEFERRED.';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION escalation.check_calendar_in_use() IS
  'constraint trigger on escalation.calendar_hours: refuses to take the last working period from a calendar an SLA target runs on';
CREATE CONSTRAINT TRIGGER calendar_hours_in_use AFTER DELETE OR UPDATE OF calendar_id
    ON escalation.calendar_hours
    DEFERRABLE INITIALLY IMMEDIATE
    FOR EACH ROW EXECUTE FUNCTION escalation.check_calendar_in_use();

-- what time means for a clock: business time on a calendar, or 24x7
CREATE FUNCTION escalation.sla_add(calendar text, start timestamptz, secs float8)
RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN calendar IS NULL THEN start + make_interval(secs => greatest(secs, 0))
                ELSE escalation.business_add(calendar, start, make_interval(secs => greatest(secs, 0)))
           END
$$;
COMMENT ON FUNCTION escalation.sla_add(text, timestamptz, float8) IS
  'internal: start plus secs seconds of clock time on the calendar (NULL: 24x7)';

CREATE FUNCTION escalation.sla_between(calendar text, "from" timestamptz, "to" timestamptz)
RETURNS float8
LANGUAGE sql STABLE
AS $$
    SELECT greatest(0, extract(epoch FROM
        CASE WHEN calendar IS NULL THEN "to" - "from"
             ELSE escalation.business_time(calendar, "from", "to") END))::float8
$$;
COMMENT ON FUNCTION escalation.sla_between(text, timestamptz, timestamptz) IS
  'internal: seconds of clock time between two instants on the calendar (NULL: 24x7), never negative';

-- the steps of a target, in the order they fall due
CREATE FUNCTION escalation.sla_steps(policy_id integer, metric text, target interval)
RETURNS TABLE (step text, kind text, percent integer, level integer, at_secs float8)
LANGUAGE sql STABLE
AS $$
    SELECT s.* FROM (
        SELECT 'warning:' || w AS step, 'warning' AS kind, w AS percent, NULL::integer AS level,
               extract(epoch FROM sla_steps.target)::float8 * w / 100 AS at_secs
          FROM escalation.sla_targets t, unnest(t.warn_at) AS w
         WHERE t.policy_id = sla_steps.policy_id AND t.metric = sla_steps.metric
        UNION ALL
        SELECT 'breach', 'breach', 100, NULL, extract(epoch FROM sla_steps.target)::float8
        UNION ALL
        SELECT 'level:' || l.level, 'level', NULL, l.level,
               extract(epoch FROM sla_steps.target)::float8
               + sum(extract(epoch FROM l.after)::float8) OVER (ORDER BY l.level)
          FROM escalation.sla_ladder l
         WHERE l.policy_id = sla_steps.policy_id AND l.metric = sla_steps.metric
    ) s
    ORDER BY s.at_secs, CASE s.kind WHEN 'warning' THEN 0 WHEN 'breach' THEN 1 ELSE 2 END, s.level
$$;
COMMENT ON FUNCTION escalation.sla_steps(integer, text, interval) IS
  'the steps of a clock: warnings, the breach, ladder levels, each with the clock time (seconds) at which it is due';

CREATE FUNCTION escalation.sla_policy_for(source_id integer, priority text, channel text,
                                          team text, account_key text, fields jsonb)
RETURNS integer
LANGUAGE sql STABLE
AS $$
    SELECT p.policy_id
      FROM escalation.sla_policies p
      LEFT JOIN escalation.accounts a ON a.account_key = sla_policy_for.account_key
     WHERE p.enabled
       AND (p.source_id IS NULL OR p.source_id = sla_policy_for.source_id)
       AND (p.tenant IS NULL OR p.tenant = sla_policy_for.fields ->> 'tenant')
       AND (p.priorities IS NULL OR sla_policy_for.priority = ANY (p.priorities))
       AND (p.channels IS NULL OR sla_policy_for.channel = ANY (p.channels))
       AND (p.teams IS NULL OR sla_policy_for.team = ANY (p.teams))
       AND (p.account_tiers IS NULL OR a.tier = ANY (p.account_tiers))
       AND (p.account_vip IS NULL OR coalesce(a.vip, false) = p.account_vip)
       AND (p.field IS NULL
            OR escalation.compare_value(sla_policy_for.fields ->> p.field, p.field_op, p.field_value))
     ORDER BY p.position
     LIMIT 1
$$;
COMMENT ON FUNCTION escalation.sla_policy_for(integer, text, text, text, text, jsonb) IS
  'the SLA policy a ticket with these facts gets: the first enabled one, by position, whose conditions all hold';

CREATE VIEW escalation.sla_policy_overlaps WITH (security_invoker = true) AS
SELECT a.name AS policy, b.name AS other_policy, a.position, b.position AS other_position,
       CASE WHEN a.position < b.position THEN a.name ELSE b.name END AS applies
  FROM escalation.sla_policies a
  JOIN escalation.sla_policies b ON a.policy_id <> b.policy_id
 WHERE a.enabled AND b.enabled
   AND (a.source_id IS NULL OR b.source_id IS NULL OR a.source_id = b.source_id)
   AND (a.priorities IS NULL OR b.priorities IS NULL OR a.priorities && b.priorities)
   AND (a.channels IS NULL OR b.channels IS NULL OR a.channels && b.channels)
   AND (a.teams IS NULL OR b.teams IS NULL OR a.teams && b.teams)
   AND (a.account_tiers IS NULL OR b.account_tiers IS NULL OR a.account_tiers && b.account_tiers)
   AND (a.account_vip IS NULL OR b.account_vip IS NULL OR a.account_vip = b.account_vip);
COMMENT ON VIEW escalation.sla_policy_overlaps IS
  'pairs of enabled policies a ticket could match both of (field conditions are assumed to overlap), each pair in both orders; applies names the one such a ticket gets (the lower position)';

CREATE FUNCTION escalation.warn_policy_overlaps()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o record;
BEGIN
    FOR o IN SELECT * FROM escalation.sla_policy_overlaps v WHERE v.policy = NEW.name
              ORDER BY v.other_position LOOP
        RAISE WARNING 'SLA policy "%" overlaps policy "%"', o.policy, o.other_policy
            USING DETAIL = format('A ticket matching both gets "%s", the policy with the lower position (%s).',
                                  o.applies, least(o.position, o.other_position)),
                  HINT = 'Narrow the conditions or reorder the policies if that is not intended; escalation.sla_policy_overlaps lists every overlap.';
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION escalation.warn_policy_overlaps() IS
  'AFTER INSERT OR UPDATE trigger on escalation.sla_policies: warns about policies the written one overlaps';
CREATE TRIGGER warn_policy_overlaps AFTER INSERT OR UPDATE ON escalation.sla_policies
    FOR EACH ROW EXECUTE FUNCTION escalation.warn_policy_overlaps();
CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON escalation.sla_policies
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.invalidate_cache();

----------------------------------------------------------------------
-- clock operations (internal; called with the clock row locked)
----------------------------------------------------------------------

-- the instant a clock's time reached secs, walking its running segments
CREATE FUNCTION escalation.clock_crossing(c escalation.clocks, secs float8)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s record;
    cum float8 := 0;
    seg float8;
    last_end timestamptz;
BEGIN
    IF c.state = 'running' AND secs >= extract(epoch FROM c.elapsed) THEN
        RETURN escalation.sla_add(c.calendar, c.running_since, secs - extract(epoch FROM c.elapsed));
    END IF;
    FOR s IN SELECT * FROM escalation.clock_segments x
              WHERE x.clock_id = c.clock_id AND x.ends IS NOT NULL
              ORDER BY x.starts LOOP
        seg := escalation.sla_between(c.calendar, s.starts, s.ends);
        IF cum + seg >= secs THEN
            RETURN escalation.sla_add(c.calendar, s.starts, secs - cum);
        END IF;
        cum := cum + seg;
        last_end := s.ends;
    END LOOP;
    -- time counted on another calendar before a retarget: the best known instant
    RETURN coalesce(last_end, c.running_since, c.finished_at, c.started_at);
END
$$;
COMMENT ON FUNCTION escalation.clock_crossing(escalation.clocks, float8) IS
  'internal: the instant the clock''s counted time reached secs seconds';

-- due_at and next_at of a clock, from the steps not fired yet
CREATE FUNCTION escalation.clock_schedule(c escalation.clocks)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done float8 := extract(epoch FROM c.elapsed);
    nxt float8;
BEGIN
    SELECT min(s.at_secs) INTO nxt
      FROM escalation.sla_steps(c.policy_id, c.metric, c.target) s
     WHERE NOT EXISTS (SELECT 1 FROM escalation.clock_firings f
                        WHERE f.clock_id = c.clock_id AND f.step = s.step);
    IF c.state <> 'running' THEN
        -- a step its time crossed before it stopped is still owed
        UPDATE escalation.clocks x
           SET due_at = NULL,
               next_at = CASE WHEN nxt <= done THEN escalation.clock_crossing(c, nxt) END
         WHERE x.clock_id = c.clock_id;
        RETURN;
    END IF;
    UPDATE escalation.clocks x
       SET due_at = escalation.sla_add(c.calendar, c.running_since,
                                       extract(epoch FROM c.target)::float8 - done),
           next_at = CASE WHEN nxt IS NULL THEN NULL
                          WHEN nxt < done THEN escalation.clock_crossing(c, nxt)
                          ELSE escalation.sla_add(c.calendar, c.running_since, nxt - done) END
     WHERE x.clock_id = c.clock_id;
END
$$;

CREATE FUNCTION escalation.clock_start(p_source integer, p_key text, p_metric text,
                                       p_policy integer, p_start timestamptz, p_paused boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t escalation.sla_targets;
    c escalation.clocks;
BEGIN
    SELECT * INTO t FROM escalation.sla_targets x WHERE x.policy_id = p_policy AND x.metric = p_metric;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO escalation.clocks AS k
        (source_id, ticket_key, metric, round, policy_id, target, calendar, state,
         started_at, running_since)
    VALUES (p_source, p_key, p_metric,
            coalesce((SELECT max(o.round) + 1 FROM escalation.clocks o
                       WHERE o.source_id = p_source AND o.ticket_key = p_key
                         AND o.metric = p_metric), 1),
            p_policy, t.target, t.calendar,
            CASE WHEN p_paused THEN 'paused' ELSE 'running' END,
            p_start, CASE WHEN p_paused THEN NULL ELSE p_start END)
    RETURNING * INTO c;
    IF NOT p_paused THEN
        INSERT INTO escalation.clock_segments (clock_id, starts) VALUES (c.clock_id, p_start);
        PERFORM escalation.clock_schedule(c);
    END IF;
END
$$;

-- pause, resume or finish a clock at instant at
CREATE FUNCTION escalation.clock_set(c escalation.clocks, new_state text, at timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    el interval := c.elapsed;
    t timestamptz := greatest(at, c.started_at);
BEGIN
    IF c.state = new_state THEN
        RETURN;
    END IF;
    IF c.state = 'running' THEN
        t := greatest(t, c.running_since);
        el := el + make_interval(secs => escalation.sla_between(c.calendar, c.running_since, t));
        UPDATE escalation.clock_segments s SET ends = t
         WHERE s.clock_id = c.clock_id AND s.starts = c.running_since;
    END IF;
    IF new_state = 'running' THEN
        -- a writer is dated at its transaction's start, which may be
        -- before the end of the segment a later-starting writer closed:
        -- a segment never starts before the previous one ended (time
        -- would count twice)
        t := greatest(t, (SELECT max(s.ends) FROM escalation.clock_segments s
                           WHERE s.clock_id = c.clock_id));
        -- a reopened clock runs again from here; a segment never starts twice
        INSERT INTO escalation.clock_segments (clock_id, starts) VALUES (c.clock_id, t)
            ON CONFLICT (clock_id, starts) DO UPDATE SET ends = NULL;
    END IF;
    UPDATE escalation.clocks x
       SET state = new_state,
           elapsed = el,
           running_since = CASE WHEN new_state = 'running' THEN t END,
           finished_at = CASE WHEN new_state IN ('met', 'stopped') THEN t END,
           due_at = NULL,
           next_at = NULL
     WHERE x.clock_id = c.clock_id
    RETURNING * INTO c;
    PERFORM escalation.clock_schedule(c);
END
$$;

-- move the unfinished clocks of a ticket to its (new) policy, keeping elapsed time
CREATE FUNCTION escalation.clocks_retarget(p_source integer, p_key text, p_policy integer,
                                           p_status text, at timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c escalation.clocks;
    t escalation.sla_targets;
    el interval;
BEGIN
    FOR c IN SELECT * FROM escalation.clocks x
              WHERE x.source_id = p_source AND x.ticket_key = p_key
                AND x.state IN ('running', 'paused')
              ORDER BY x.clock_id FOR UPDATE LOOP
        SELECT * INTO t FROM escalation.sla_targets x
         WHERE x.policy_id = p_policy AND x.metric = c.metric;
        IF NOT FOUND THEN
            PERFORM escalation.clock_set(c, 'stopped', at);
            CONTINUE;
        END IF;
        -- time counted so far stays counted, on the clock's old calendar
        el := c.elapsed;
        IF c.state = 'running' THEN
            el := el + make_interval(secs => escalation.sla_between(c.calendar, c.running_since,
                                                                    greatest(at, c.running_since)));
            UPDATE escalation.clock_segments s SET ends = greatest(at, c.running_since)
             WHERE s.clock_id = c.clock_id AND s.starts = c.running_since;
            INSERT INTO escalation.clock_segments (clock_id, starts)
                VALUES (c.clock_id, greatest(at, c.running_since))
                ON CONFLICT (clock_id, starts) DO UPDATE SET ends = NULL;
        END IF;
        UPDATE escalation.clocks x
           SET policy_id = p_policy, target = t.target, calendar = t.calendar, elapsed = el,
               running_since = CASE WHEN c.state = 'running' THEN greatest(at, c.running_since) END
         WHERE x.clock_id = c.clock_id
        RETURNING * INTO c;
        PERFORM escalation.clock_schedule(c);
    END LOOP;
END
$$;

----------------------------------------------------------------------
-- what the triggers report
----------------------------------------------------------------------
CREATE FUNCTION escalation.sla_track_ticket(p_source integer, p_key text, p_at timestamptz,
                                            p_created timestamptz, p_status text, p_priority text,
                                            p_channel text, p_team text, p_account text,
                                            p_fields jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    prev escalation.sla_tickets;
    pol integer;
    created timestamptz := coalesce(p_created, p_at);
    was_closed boolean;
    is_closed boolean := p_status IN ('solved', 'other');
    c escalation.clocks;
    m text;
BEGIN
    pol := escalation.sla_policy_for(p_source, p_priority, p_channel, p_team, p_account,
                                     coalesce(p_fields, '{}'));
    SELECT * INTO prev FROM escalation.sla_tickets x
     WHERE x.source_id = p_source AND x.ticket_key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        IF pol IS NULL THEN
            RETURN;
        END IF;
        -- seen from its creation (the INSERT judges a ticket at its created_at)
        -- and its text is in its messages: the first of them is its opening
        INSERT INTO escalation.sla_tickets
            (source_id, ticket_key, created_at, status, priority, channel, team, account_key,
             fields, policy_id, updated_at, first_message_at)
        VALUES (p_source, p_key, created, p_status, p_priority, p_channel, p_team, p_account,
                coalesce(p_fields, '{}'), pol, p_at,
                CASE WHEN p_created IS NOT NULL AND p_at <= p_created
                          AND NOT EXISTS (SELECT 1 FROM escalation.sources s
                                           WHERE s.source_id = p_source AND s.mapping ->> 'body' IS NOT NULL)
                          AND NOT EXISTS (SELECT 1 FROM escalation.first_responses f
                                           WHERE f.source_id = p_source AND f.ticket_key = p_key)
                     THEN NULL ELSE created END);
        IF is_closed THEN
            RETURN;
        END IF;
        FOREACH m IN ARRAY ARRAY['first_response', 'periodic_update', 'resolution', 'age'] LOOP
            -- a ticket whose first response came before its SLA started needs none
            CONTINUE WHEN m = 'first_response' AND EXISTS (
                SELECT 1 FROM escalation.first_responses f
                 WHERE f.source_id = p_source AND f.ticket_key = p_key);
            PERFORM escalation.clock_start(p_source, p_key, m, pol, created,
                                           p_status = 'pending' AND m <> 'age');
        END LOOP;
        RETURN;
    END IF;

    UPDATE escalation.sla_tickets x
       SET status = p_status, priority = p_priority, channel = p_channel, team = p_team,
           account_key = p_account, fields = coalesce(p_fields, '{}'), policy_id = pol,
           updated_at = p_at
     WHERE x.source_id = p_source AND x.ticket_key = p_key;

    IF pol IS DISTINCT FROM prev.policy_id THEN
        PERFORM escalation.clocks_retarget(p_source, p_key, pol, p_status, p_at);
    END IF;

    IF p_status IS NOT DISTINCT FROM prev.status THEN
        RETURN;
    END IF;
    was_closed := prev.status IN ('solved', 'other');

    IF is_closed AND NOT was_closed THEN
        FOR c IN SELECT * FROM escalation.clocks x
                  WHERE x.source_id = p_source AND x.ticket_key = p_key
                    AND x.state IN ('running', 'paused')
                  ORDER BY x.clock_id FOR UPDATE LOOP
            PERFORM escalation.clock_set(c,
                CASE WHEN p_status = 'solved' AND c.metric IN ('resolution', 'age') THEN 'met'
                     ELSE 'stopped' END, p_at);
        END LOOP;
    ELSIF was_closed AND NOT is_closed THEN
        -- a reopen continues resolution and age, and needs updates again
        IF pol IS NULL THEN
            RETURN;
        END IF;
        FOR c IN SELECT * FROM escalation.clocks x
                  WHERE x.clock_id IN (
                        SELECT DISTINCT ON (y.metric) y.clock_id FROM escalation.clocks y
                         WHERE y.source_id = p_source AND y.ticket_key = p_key
                           AND y.metric IN ('resolution', 'age')
                         ORDER BY y.metric, y.round DESC)
                  ORDER BY x.clock_id FOR UPDATE LOOP
            PERFORM escalation.clocks_retarget_one(c, pol, p_at);
            SELECT * INTO c FROM escalation.clocks x WHERE x.clock_id = c.clock_id;
            CONTINUE WHEN c.state = 'stopped';
            PERFORM escalation.clock_set(c,
                CASE WHEN p_status = 'pending' AND c.metric <> 'age' THEN 'paused' ELSE 'running' END,
                p_at);
        END LOOP;
        PERFORM escalation.clock_start(p_source, p_key, 'periodic_update', pol, p_at,
                                       p_status = 'pending');
    ELSIF p_status = 'pending' THEN
        FOR c IN SELECT * FROM escalation.clocks x
                  WHERE x.source_id = p_source AND x.ticket_key = p_key
                    AND x.state = 'running' AND x.metric <> 'age'
                  ORDER BY x.clock_id FOR UPDATE LOOP
            PERFORM escalation.clock_set(c, 'paused', p_at);
        END LOOP;
    ELSIF prev.status = 'pending' THEN
        FOR c IN SELECT * FROM escalation.clocks x
                  WHERE x.source_id = p_source AND x.ticket_key = p_key
                    AND x.state = 'paused'
                  ORDER BY x.clock_id FOR UPDATE LOOP
            PERFORM escalation.clock_set(c, 'running', p_at);
        END LOOP;
    END IF;
END
$$;
COMMENT ON FUNCTION escalation.sla_track_ticket(integer, text, timestamptz, timestamptz, text,
    text, text, text, text, jsonb) IS
  'internal, called by the ticket trigger: starts, pauses, resumes, finishes and retargets the ticket''s SLA clocks';

-- a finished clock that a reopen continues: on the ticket's current policy
CREATE FUNCTION escalation.clocks_retarget_one(c escalation.clocks, p_policy integer, at timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t escalation.sla_targets;
BEGIN
    SELECT * INTO t FROM escalation.sla_targets x WHERE x.policy_id = p_policy AND x.metric = c.metric;
    IF NOT FOUND THEN
        UPDATE escalation.clocks x SET state = 'stopped', finished_at = coalesce(x.finished_at, at)
         WHERE x.clock_id = c.clock_id;
        RETURN;
    END IF;
    UPDATE escalation.clocks x
       SET policy_id = p_policy, target = t.target, calendar = t.calendar,
           state = CASE WHEN x.state = 'met' THEN 'paused' ELSE x.state END,
           finished_at = NULL
     WHERE x.clock_id = c.clock_id AND x.state IN ('met', 'paused');
END
$$;

CREATE FUNCTION escalation.sla_track_message(p_source integer, p_key text, p_author text,
                                             p_at timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tk escalation.sla_tickets;
    c escalation.clocks;
BEGIN
    SELECT * INTO tk FROM escalation.sla_tickets x
     WHERE x.source_id = p_source AND x.ticket_key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- the ticket's first message opens it (under the row lock: of two
    -- messages racing, the one that commits first); an agent's opening (a
    -- phone ticket, an outbound conversation) is no response: it meets no
    -- clock, starts none, and is no first response (the message trigger
    -- recorded it just before this call)
    IF tk.first_message_at IS NULL THEN
        UPDATE escalation.sla_tickets x SET first_message_at = p_at
         WHERE x.source_id = p_source AND x.ticket_key = p_key;
        IF p_author = 'agent' THEN
            DELETE FROM escalation.first_responses f
             WHERE f.source_id = p_source AND f.ticket_key = p_key AND f.responded_at = p_at;
            RETURN;
        END IF;
    END IF;
    IF tk.policy_id IS NULL THEN
        RETURN;
    END IF;
    IF p_author = 'agent' THEN
        FOR c IN SELECT * FROM escalation.clocks x
                  WHERE x.source_id = p_source AND x.ticket_key = p_key
                    AND x.metric IN ('first_response', 'next_response', 'periodic_update')
                    AND x.state IN ('running', 'paused')
                    AND x.started_at <= p_at
                  ORDER BY x.clock_id FOR UPDATE LOOP
            PERFORM escalation.clock_set(c, 'met', p_at);
        END LOOP;
        IF tk.status NOT IN ('solved', 'other') THEN
            PERFORM escalation.clock_start(p_source, p_key, 'periodic_update', tk.policy_id, p_at,
                                           tk.status = 'pending');
        END IF;
    ELSIF tk.status NOT IN ('solved', 'other')
          AND NOT EXISTS (SELECT 1 FROM escalation.clocks x
                           WHERE x.source_id = p_source AND x.ticket_key = p_key
                             AND x.metric = 'next_response' AND x.state IN ('running', 'paused')) THEN
        -- the oldest waiting customer message starts the clock; later ones wait with it
        PERFORM escalation.clock_start(p_source, p_key, 'next_response', tk.policy_id, p_at,
                                       tk.status = 'pending');
    END IF;
END
$$;
COMMENT ON FUNCTION escalation.sla_track_message(integer, text, text, timestamptz) IS
  'internal, called by the message trigger: the ticket''s first message opens it (an agent''s opening is no response); an agent''s customer-visible reply meets the response clocks and restarts the periodic-update clock; a customer''s message starts the next-response clock unless one is already waiting';

----------------------------------------------------------------------
-- the cycle
----------------------------------------------------------------------

-- escalate a ticket for a ladder level; returns the escalation (NULL: none)
CREATE FUNCTION escalation.sla_escalate(c escalation.clocks, l escalation.sla_ladder,
                                        due timestamptz, as_of timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner text;
    team text := l.target_team;
    ctx jsonb;
    reason jsonb;
    eid bigint;
BEGIN
    IF l.to_account_owner THEN
        SELECT a.owner_agent, coalesce(g.team, l.target_team) INTO owner, team
          FROM escalation.sla_tickets t
          JOIN escalation.accounts a ON a.account_key = t.account_key
          LEFT JOIN escalation.agents g ON g.agent_id = a.owner_agent
         WHERE t.source_id = c.source_id AND t.ticket_key = c.ticket_key;
        IF owner IS NULL THEN
            team := l.target_team;
        END IF;
    END IF;
    IF team IS NULL AND l.target_tier IS NULL AND owner IS NULL THEN
        RETURN NULL;
    END IF;
    ctx := coalesce(escalation.ticket_context(c.source_id, c.ticket_key), '{}');
    reason := jsonb_build_object(
        'rule', 'sla:' || c.metric || ':level:' || l.level,
        'kind', 'sla', 'metric', c.metric,
        'policy', (SELECT p.name FROM escalation.sla_policies p WHERE p.policy_id = c.policy_id),
        'level', l.level, 'target', c.target::text, 'due_at', due,
        'breached_at', c.breached_at, 'account_owner', owner);
    INSERT INTO escalation.escalations AS e
        (source_id, ticket_key, level, kind, origin, target_team, target_tier, severity,
         reasons, context, agent_id, created_at, updated_at, last_actor, tenant)
    VALUES (c.source_id, c.ticket_key, l.level, l.kind, 'sla', team, l.target_tier, l.severity,
            jsonb_build_array(reason), ctx, owner, as_of, as_of, 'sla',
            coalesce(ctx #>> '{ticket,tenant}',
                     (SELECT t.fields ->> 'tenant' FROM escalation.sla_tickets t
                       WHERE t.source_id = c.source_id AND t.ticket_key = c.ticket_key)))
    ON CONFLICT (source_id, ticket_key, level, target_key)
       WHERE status IN ('queued', 'offered', 'accepted')
    DO UPDATE SET reasons = escalation.merge_reasons(e.reasons, excluded.reasons),
                  severity = greatest(e.severity, excluded.severity),
                  updated_at = excluded.updated_at
    RETURNING e.escalation_id INTO eid;
    RETURN eid;
END
$$;

-- the next working instant of a team at or after t (t itself when it has no calendar)
CREATE FUNCTION escalation.team_reachable_at(team text, t timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        (SELECT coalesce((SELECT p.starts
                            FROM escalation.business_periods(g.calendar, t, t + interval '400 days') p
                           ORDER BY p.starts LIMIT 1), t)
           FROM escalation.teams g WHERE g.name = team AND g.calendar IS NOT NULL),
        t)
$$;
COMMENT ON FUNCTION escalation.team_reachable_at(text, timestamptz) IS
  'the first instant at or after t inside the team''s working hours (t when the team has no calendar)';

-- fire every due step of one (locked) clock
CREATE FUNCTION escalation.clock_fire(c escalation.clocks, as_of timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done float8 := extract(epoch FROM c.elapsed);
    now_secs float8 := done + CASE WHEN c.state = 'running'
                                   THEN escalation.sla_between(c.calendar, c.running_since, as_of)
                                   ELSE 0 END;
    s record;
    l escalation.sla_ladder;
    tk escalation.sla_tickets;
    due timestamptz;
    eid bigint;
    team text;
    sev integer;
    payload jsonb;
    notify_at timestamptz;
    fired integer := 0;
BEGIN
    -- a detached source's clocks are retired, not fired
    IF NOT EXISTS (SELECT 1 FROM escalation.sources x WHERE x.source_id = c.source_id AND x.attached) THEN
        IF c.state = 'running' THEN
            UPDATE escalation.clock_segments x SET ends = greatest(as_of, c.running_since)
             WHERE x.clock_id = c.clock_id AND x.starts = c.running_since;
        END IF;
        UPDATE escalation.clocks x
           SET state = CASE WHEN x.state IN ('met', 'stopped') THEN x.state ELSE 'stopped' END,
               elapsed = x.elapsed + CASE WHEN x.state = 'running'
                   THEN make_interval(secs => escalation.sla_between(x.calendar, x.running_since,
                                                                     greatest(as_of, x.running_since)))
                   ELSE '0'::interval END,
               running_since = NULL, due_at = NULL, next_at = NULL,
               finished_at = coalesce(x.finished_at, as_of)
         WHERE x.clock_id = c.clock_id;
        RETURN 0;
    END IF;
    SELECT * INTO tk FROM escalation.sla_tickets x
     WHERE x.source_id = c.source_id AND x.ticket_key = c.ticket_key;
    FOR s IN SELECT * FROM escalation.sla_steps(c.policy_id, c.metric, c.target) st
              WHERE st.at_secs <= now_secs
                AND NOT EXISTS (SELECT 1 FROM escalation.clock_firings f
                                 WHERE f.clock_id = c.clock_id AND f.step = st.step) LOOP
        due := escalation.clock_crossing(c, s.at_secs);
        IF due > as_of THEN
            due := as_of;
        END IF;
        INSERT INTO escalation.clock_firings
            (clock_id, step, kind, percent, level, source_id, ticket_key, metric, policy_id,
             due_at, fired_at)
        VALUES (c.clock_id, s.step, s.kind, s.percent, s.level, c.source_id, c.ticket_key,
                c.metric, c.policy_id, due, as_of)
        ON CONFLICT DO NOTHING;
        CONTINUE WHEN NOT FOUND;
        fired := fired + 1;
        eid := NULL;
        team := tk.team;
        sev := CASE s.kind WHEN 'warning' THEN 2 ELSE 3 END;
        IF s.kind = 'breach' THEN
            UPDATE escalation.clocks x SET breached_at = due WHERE x.clock_id = c.clock_id;
            c.breached_at := due;
        END IF;
        -- a clock met or stopped before a cycle saw its step: recorded, but
        -- nobody is paged and nothing is escalated for what is over
        CONTINUE WHEN c.state IN ('met', 'stopped');
        IF s.kind = 'level' THEN
            SELECT * INTO l FROM escalation.sla_ladder x
             WHERE x.policy_id = c.policy_id AND x.metric = c.metric AND x.level = s.level;
            eid := escalation.sla_escalate(c, l, due, as_of);
            UPDATE escalation.clock_firings f SET escalation_id = eid
             WHERE f.clock_id = c.clock_id AND f.step = s.step;
            team := coalesce((SELECT e.target_team FROM escalation.escalations e
                               WHERE e.escalation_id = eid), l.target_team);
            sev := l.severity;
        END IF;
        payload := jsonb_build_object(
            'event', s.kind, 'step', s.step, 'percent', s.percent, 'level', s.level,
            'clock_id', c.clock_id, 'source_id', c.source_id, 'ticket_key', c.ticket_key,
            'metric', c.metric,
            'policy', (SELECT p.name FROM escalation.sla_policies p WHERE p.policy_id = c.policy_id),
            'due_at', due, 'team', team, 'severity', sev, 'escalation_id', eid);
        notify_at := as_of;
        IF team IS NOT NULL
           AND sev < coalesce((SELECT g.wake_severity FROM escalation.teams g WHERE g.name = team), 5) THEN
            notify_at := escalation.team_reachable_at(team, as_of);
        END IF;
        INSERT INTO escalation.notifications
            (clock_id, step, team, severity, payload, created_at, notify_at, sent_at)
        VALUES (c.clock_id, s.step, team, sev, payload, as_of, notify_at,
                CASE WHEN notify_at <= as_of THEN as_of END)
        ON CONFLICT DO NOTHING;
        IF FOUND AND notify_at <= as_of THEN
            PERFORM pg_notify('escalation_sla', payload::text);
        END IF;
    END LOOP;
    PERFORM escalation.clock_schedule(c);
    RETURN fired;
END
$$;

CREATE FUNCTION escalation.run_batch(as_of timestamptz, batch_size integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c escalation.clocks;
    n record;
    handled integer := 0;
BEGIN
    IF as_of IS NULL OR batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'run_batch needs an instant and a batch size of at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- a clock is claimed with its ticket's sla_tickets row, which every
    -- writer of the ticket's bookkeeping locks first: a clock whose ticket
    -- a transaction is writing is left to the next cycle, so the cycle
    -- never waits, holding a clock, for what that transaction holds (an
    -- escalation of the same target)
    FOR c IN SELECT x.* FROM escalation.clocks x
               JOIN escalation.sla_tickets t
                 ON t.source_id = x.source_id AND t.ticket_key = x.ticket_key
              WHERE x.next_at <= as_of
              ORDER BY x.next_at
              LIMIT batch_size
              FOR UPDATE OF x, t SKIP LOCKED LOOP
        PERFORM escalation.clock_fire(c, as_of);
        handled := handled + 1;
    END LOOP;
    FOR n IN SELECT * FROM escalation.notifications x
              WHERE x.sent_at IS NULL AND x.notify_at <= as_of
              ORDER BY x.notify_at
              LIMIT batch_size - handled
              FOR UPDATE SKIP LOCKED LOOP
        PERFORM pg_notify('escalation_sla', n.payload::text);
        UPDATE escalation.notifications x SET sent_at = as_of
         WHERE x.notification_id = n.notification_id;
        handled := handled + 1;
    END LOOP;
    -- routing (issue 4) with what is left of the batch
    IF handled < batch_size THEN
        handled := handled + escalation.route(as_of, batch_size - handled);
    END IF;
    -- metrics (issue 5): the ticket writes logged since the last batch, up
    -- to ten times batch_size of them (a fold applies a change in about a
    -- tenth of what a clock or a routing decision takes).  Never waits for a
    -- fold already running, and is not counted in handled: the metrics lag
    -- the writes by a cycle, and a backlog drains over the next cycles.
    IF (EXISTS (SELECT 1 FROM escalation.fact_changes)
        OR EXISTS (SELECT 1 FROM escalation.escalation_changes))
       AND pg_try_advisory_xact_lock(hashtext('escalation.fold_facts')) THEN
        PERFORM escalation.fold_facts(10 * batch_size);
    END IF;
    -- triage models due for retraining (escalation.triage_schedules)
    handled := handled + escalation.retrain_due(as_of);
    -- metrics (issue 5): the last batch of a cycle folds the rollups' delta
    -- rows once batch_size of them piled up in one rollup (an index-only
    -- probe of the partial index / a short scan).  Never waits: when a
    -- compaction or rebuild holds the lock, the next cycle does it.  Not
    -- counted in handled, so the cycle still ends here.
    -- The lock is tried before the probe, in a statement of its own: a
    -- rebuild_metrics() holds it with the rollups truncated, an ACCESS
    -- EXCLUSIVE lock that even planning the probe would wait for.
    IF handled < batch_size
       AND pg_try_advisory_xact_lock(hashtext('escalation.compact_metrics')) THEN
        IF EXISTS (SELECT 1 FROM escalation.metric_days m WHERE NOT m.folded OFFSET batch_size - 1)
           OR EXISTS (SELECT 1 FROM escalation.metric_tte m WHERE NOT m.folded OFFSET batch_size - 1)
           OR EXISTS (SELECT 1 FROM escalation.metric_paths m WHERE NOT m.folded OFFSET batch_size - 1) THEN
            PERFORM escalation.compact_metrics();
        END IF;
    END IF;
    RETURN handled;
END
$$;
COMMENT ON FUNCTION escalation.run_batch(timestamptz, integer) IS
  'one batch of a cycle: claims up to batch_size due clocks (FOR UPDATE SKIP LOCKED), fires their warnings, breaches and ladder levels, then sends notifications that were waiting for working hours, then routes queued escalations (escalation.route) with the rest of the batch, then folds up to 10 * batch_size logged ticket writes into the metrics (fold_facts, not counted); the last batch (fewer than batch_size handled) also runs compact_metrics() when a metrics rollup holds batch_size or more delta rows and no other compaction runs; returns how many clocks, notifications and escalations it handled. The background worker runs one transaction per batch';

CREATE FUNCTION escalation.run_cycle(as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    batch integer := coalesce(nullif(current_setting('escalation.batch_size', true), '')::integer, 500);
    n integer;
    total integer := 0;
BEGIN
    LOOP
        n := escalation.run_batch(as_of, batch);
        total := total + n;
        EXIT WHEN n < batch;
    END LOOP;
    RETURN total;
END
$$;
COMMENT ON FUNCTION escalation.run_cycle(timestamptz) IS
  'one whole cycle as of an instant, in the caller''s transaction: batches of escalation.batch_size until nothing is due; returns clocks and notifications handled. For pg_cron where the worker cannot be preloaded, and for tests';

----------------------------------------------------------------------
-- recomputing after a policy or calendar change, and what it would change
----------------------------------------------------------------------
CREATE FUNCTION escalation.sla_recomputed(p_source integer, as_of timestamptz)
RETURNS TABLE (clock_id bigint, ticket_key text, metric text, state text,
               old_policy integer, new_policy integer, old_target interval, new_target interval,
               old_calendar text, new_calendar text,
               old_elapsed interval, new_elapsed interval, old_due_at timestamptz,
               new_due_at timestamptz, breached_now boolean, breached_after boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH cur AS (
        SELECT c.*, t.policy_id AS pol,
               escalation.sla_policy_for(t.source_id, t.priority, t.channel, t.team,
                                         t.account_key, t.fields) AS np
          FROM escalation.clocks c
          JOIN escalation.sla_tickets t USING (source_id, ticket_key)
         WHERE c.source_id = p_source AND c.state IN ('running', 'paused')
    ), nt AS (
        SELECT cur.*, st.target AS ntarget, st.calendar AS ncal, st.policy_id IS NOT NULL AS has_target
          FROM cur
          LEFT JOIN escalation.sla_targets st ON st.policy_id = cur.np AND st.metric = cur.metric
    ), el AS (
        SELECT nt.*,
               (SELECT coalesce(sum(escalation.sla_between(nt.ncal, s.starts,
                                                           least(coalesce(s.ends, as_of), as_of))), 0)
                  FROM escalation.clock_segments s
                 WHERE s.clock_id = nt.clock_id AND s.starts < as_of) AS nsecs,
               extract(epoch FROM nt.elapsed)::float8
               + CASE WHEN nt.state = 'running'
                      THEN escalation.sla_between(nt.calendar, nt.running_since, as_of) ELSE 0 END
                 AS osecs
          FROM nt
    )
    SELECT el.clock_id, el.ticket_key, el.metric, el.state,
           el.policy_id, CASE WHEN el.has_target THEN el.np END,
           el.target, el.ntarget, el.calendar, el.ncal,
           make_interval(secs => el.osecs), make_interval(secs => el.nsecs),
           el.due_at,
           CASE WHEN el.has_target AND el.state = 'running'
                THEN escalation.sla_add(el.ncal, greatest(as_of, el.running_since),
                                        extract(epoch FROM el.ntarget)::float8 - el.nsecs) END,
           el.osecs >= extract(epoch FROM el.target),
           CASE WHEN el.has_target THEN el.nsecs >= extract(epoch FROM el.ntarget) ELSE false END
      FROM el
$$;
COMMENT ON FUNCTION escalation.sla_recomputed(integer, timestamptz) IS
  'internal: every unfinished clock of a source as it is and as the current policies and calendars would have it, elapsed time recounted from its segments';

CREATE FUNCTION escalation.sla_what_if(ticket_table regclass, as_of timestamptz DEFAULT now())
RETURNS TABLE (ticket_key text, metric text, change text, old_policy text, new_policy text,
               old_due_at timestamptz, new_due_at timestamptz,
               old_elapsed interval, new_elapsed interval)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    src integer;
BEGIN
    src := (escalation.attached_source(ticket_table)).source_id;
    RETURN QUERY
    SELECT r.ticket_key, r.metric,
           CASE WHEN r.new_policy IS NULL THEN 'would stop'
                WHEN r.breached_after AND NOT r.breached_now THEN 'would breach now'
                WHEN r.breached_now AND NOT r.breached_after THEN 'would no longer be breached'
                WHEN r.new_due_at < r.old_due_at THEN 'due earlier'
                WHEN r.new_due_at > r.old_due_at THEN 'due later'
                ELSE 'recounted' END,
           (SELECT p.name FROM escalation.sla_policies p WHERE p.policy_id = r.old_policy),
           (SELECT p.name FROM escalation.sla_policies p WHERE p.policy_id = r.new_policy),
           r.old_due_at, r.new_due_at, r.old_elapsed, r.new_elapsed
      FROM escalation.sla_recomputed(src, as_of) r
     WHERE r.new_policy IS DISTINCT FROM r.old_policy
        OR r.new_target IS DISTINCT FROM r.old_target
        OR r.new_calendar IS DISTINCT FROM r.old_calendar
        OR abs(extract(epoch FROM r.new_elapsed - r.old_elapsed)) >= 1
        OR r.breached_after IS DISTINCT FROM r.breached_now
     ORDER BY r.ticket_key, r.metric;
END
$$;
COMMENT ON FUNCTION escalation.sla_what_if(regclass, timestamptz) IS
  'read-only: which open clocks of a source escalation.recompute_sla() would change, and how (would breach now, due earlier or later, would stop), under the current policies and calendars';

CREATE FUNCTION escalation.recompute_sla(ticket_table regclass, as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    src integer;
    r record;
    c escalation.clocks;
    n integer := 0;
BEGIN
    src := (escalation.attached_source(ticket_table)).source_id;
    -- one writer at a time per ticket: lock the tickets' rows first, as the triggers do
    PERFORM 1 FROM escalation.sla_tickets t WHERE t.source_id = src ORDER BY t.ticket_key FOR UPDATE;
    UPDATE escalation.sla_tickets t
       SET policy_id = escalation.sla_policy_for(t.source_id, t.priority, t.channel, t.team,
                                                 t.account_key, t.fields)
     WHERE t.source_id = src;
    FOR r IN SELECT * FROM escalation.sla_recomputed(src, as_of) LOOP
        SELECT * INTO c FROM escalation.clocks x WHERE x.clock_id = r.clock_id FOR UPDATE;
        IF r.new_policy IS NULL THEN
            PERFORM escalation.clock_set(c, 'stopped', as_of);
            n := n + 1;
            CONTINUE;
        END IF;
        CONTINUE WHEN r.new_policy = r.old_policy AND r.new_target = r.old_target
                  AND r.new_calendar IS NOT DISTINCT FROM r.old_calendar
                  AND abs(extract(epoch FROM r.new_elapsed - r.old_elapsed)) < 1;
        IF c.state = 'running' THEN
            -- close the segment at as_of and open the next one there
            UPDATE escalation.clock_segments s SET ends = greatest(as_of, c.running_since)
             WHERE s.clock_id = c.clock_id AND s.starts = c.running_since;
            INSERT INTO escalation.clock_segments (clock_id, starts)
                VALUES (c.clock_id, greatest(as_of, c.running_since))
                ON CONFLICT (clock_id, starts) DO UPDATE SET ends = NULL;
        END IF;
        UPDATE escalation.clocks x
           SET policy_id = r.new_policy, target = r.new_target, calendar = r.new_calendar,
               elapsed = r.new_elapsed,
               running_since = CASE WHEN x.state = 'running' THEN greatest(as_of, x.running_since) END
         WHERE x.clock_id = c.clock_id
        RETURNING * INTO c;
        PERFORM escalation.clock_schedule(c);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION escalation.recompute_sla(regclass, timestamptz) IS
  'after a policy or calendar change: matches the source''s tracked tickets to the policies again and recounts every open clock''s elapsed time from its segments on its (new) calendar; steps already fired stay fired, steps now due fire in the next cycle. Returns the clocks changed; escalation.sla_what_if() shows the same without changing anything';

----------------------------------------------------------------------
-- calibration: targets proposed from the team's own history
----------------------------------------------------------------------
-- an expression reading a mapped time column as timestamptz: naive
-- timestamps are in the source's zone ($4), epoch integers are seconds
CREATE FUNCTION escalation.instant_expr(tbl regclass, col text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE a.atttypid
               WHEN 'timestamptz'::regtype THEN format('%I', col)
               WHEN 'timestamp'::regtype THEN format('(%I AT TIME ZONE $4)', col)
               WHEN 'date'::regtype THEN format('(%I::timestamp AT TIME ZONE $4)', col)
               ELSE format('to_timestamp(nullif(%I, 0))', col)
           END
      FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = col AND NOT a.attisdropped
$$;
COMMENT ON FUNCTION escalation.instant_expr(regclass, text) IS
  'internal: SQL reading a mapped time column as timestamptz (timestamp in the source''s zone, date, or epoch seconds with 0 as unset)';

CREATE FUNCTION escalation.propose_sla_targets(ticket_table regclass, k float8 DEFAULT 2,
                                               quantile float8 DEFAULT 0.9,
                                               since timestamptz DEFAULT NULL)
RETURNS TABLE (priority text, metric text, tickets bigint, p50 interval, p90 interval,
               at_quantile interval, proposed interval)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s escalation.sources;
    key_col text;
    created_col text;
    resolved_col text;
    prio_col text;
BEGIN
    s := escalation.attached_source(ticket_table);
    IF k IS NULL OR k <= 0 OR quantile IS NULL OR quantile <= 0 OR quantile >= 1 THEN
        RAISE EXCEPTION 'k must be positive and quantile between 0 and 1 (exclusive)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- every interpolated name is a column attach() validated, quoted with %I
    key_col := s.mapping ->> 'key';
    created_col := s.mapping ->> 'created_at';
    resolved_col := s.mapping ->> 'resolved_at';
    prio_col := s.mapping ->> 'priority';
    IF created_col IS NULL THEN
        RAISE EXCEPTION 'source "%" maps no created_at column', s.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Calibration measures from the ticket''s creation time.';
    END IF;
    RETURN QUERY EXECUTE format($q$
        WITH t AS (
            SELECT %1$s AS prio, %2$I::text AS key, %3$s AS created, %4$s AS resolved
              FROM %5$s
        ), d AS (
            SELECT t.prio, 'resolution'::text AS metric, t.resolved - t.created AS took
              FROM t WHERE t.resolved >= t.created AND ($3 IS NULL OR t.created >= $3)
            UNION ALL
            SELECT t.prio, 'first_response', f.responded_at - t.created
              FROM t JOIN escalation.first_responses f
                ON f.source_id = $5 AND f.ticket_key = t.key
             WHERE f.responded_at >= t.created AND ($3 IS NULL OR t.created >= $3)
        )
        SELECT d.prio, d.metric, count(*),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY d.took),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY d.took),
               percentile_cont($2) WITHIN GROUP (ORDER BY d.took),
               date_trunc('minute', percentile_cont($2) WITHIN GROUP (ORDER BY d.took) * $1
                                    + interval '59 seconds')
          FROM d GROUP BY d.prio, d.metric ORDER BY d.metric, d.prio $q$,
        CASE WHEN prio_col IS NULL THEN 'NULL::text' ELSE format('%I::text', prio_col) END,
        key_col,
        escalation.instant_expr(s.ticket_table, created_col),
        CASE WHEN resolved_col IS NULL THEN 'NULL::timestamptz'
             ELSE escalation.instant_expr(s.ticket_table, resolved_col) END,
        s.ticket_table)
    USING k, quantile, since, s.time_zone, s.source_id;
END
$$;
COMMENT ON FUNCTION escalation.propose_sla_targets(regclass, float8, float8, timestamptz) IS
  'calibration: per raw priority value, how long resolution and first response took (calendar time) in the source''s history, and a proposed target of k times the given quantile (default 2 x p90: "if the team resolves 90% within 24 hours, a 48-hour target catches the outliers"), rounded up to the minute. Reads the ticket table as the caller (its grants and row-level security apply)';

SELECT pg_catalog.pg_extension_config_dump('escalation.sla_policies', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.sla_policies_policy_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.sla_targets', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.sla_ladder', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.sla_tickets', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.clocks', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.clocks_clock_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.clock_segments', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.clock_firings', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.notifications', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.notifications_notification_id_seq', '');

--------------------------------------------------------------------------
-- pg_dump: configuration and history are user data
--------------------------------------------------------------------------
SELECT pg_catalog.pg_extension_config_dump('escalation.teams', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.agents', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.skills', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.agent_skills', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.accounts', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.sources', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.sources_source_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.rules', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.rules_rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.escalations', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.escalations_escalation_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.events', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.events_event_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.first_responses', '');

--------------------------------------------------------------------------
-- 8. Privileges
--------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA escalation FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA escalation FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA escalation FROM PUBLIC;

-- harmless, read-only helpers stay callable by everyone with schema usage
GRANT EXECUTE ON FUNCTION escalation.is_time_zone(text),
                          escalation.is_clean_text_array(text[]),
                          escalation.transition_allowed(text, text),
                          escalation.target_key(text, text[], integer),
                          escalation.escalation_valid(integer, text, text, integer, text, jsonb),
                          escalation.event_valid(text),
                          escalation.merge_reasons(jsonb, jsonb),
                          escalation.keyword_lexemes(text, regconfig),
                          escalation.match_keywords(text, text[], regconfig)
      TO PUBLIC;

GRANT USAGE ON SCHEMA escalation TO escalation_admin, escalation_agent, escalation_analyst;

-- administrators: configuration, attach/detach, everything agents do
GRANT SELECT, INSERT, UPDATE, DELETE ON escalation.teams, escalation.agents, escalation.skills,
      escalation.agent_skills, escalation.accounts, escalation.rules TO escalation_admin;
GRANT USAGE ON SEQUENCE escalation.rules_rule_id_seq TO escalation_admin;
GRANT SELECT, INSERT, UPDATE ON escalation.sources TO escalation_admin;
GRANT USAGE ON SEQUENCE escalation.sources_source_id_seq TO escalation_admin;
GRANT SELECT ON escalation.escalations, escalation.events, escalation.first_responses
      TO escalation_admin;
GRANT EXECUTE ON FUNCTION
      escalation.attach(regclass, text, text, jsonb, text, text, text, text, jsonb,
          text, text, text, text, text, text, text, jsonb, jsonb, regclass, text, text, text, text,
          jsonb, text, regconfig, text, text, text, jsonb, text, jsonb, text, regclass, text, text),
      escalation.detach(regclass),
      escalation.attached_source(regclass),
      escalation.invert_value_map(text, jsonb, text[]),
      escalation.check_column(regclass, text, text, text[]),
      escalation.check_lookup(text, jsonb),
      -- CREATE TRIGGER (in attach) needs EXECUTE on the trigger functions
      escalation.ticket_trigger(),
      escalation.message_trigger(),
      escalation.invalidate_cache()
      TO escalation_admin;

-- agents: read the queue and the configuration, act on escalations
GRANT SELECT ON escalation.escalations, escalation.events, escalation.teams, escalation.agents,
      escalation.skills, escalation.agent_skills, escalation.accounts, escalation.rules,
      escalation.sources TO escalation_agent;
GRANT EXECUTE ON FUNCTION
      escalation.escalate(regclass, text, text, text[], integer, text, integer, text, jsonb,
                          integer, timestamptz),
      escalation.accept(bigint, text, timestamptz),
      escalation.resolve(bigint, text, timestamptz),
      escalation.cancel(bigint, text, timestamptz),
      escalation.explain(regclass, text, timestamptz),
      escalation.ticket_context(integer, text)
      TO escalation_agent, escalation_admin;

-- analysts: read the record
GRANT SELECT ON escalation.escalations, escalation.events, escalation.first_responses,
      escalation.teams, escalation.agents, escalation.rules, escalation.sources
      TO escalation_analyst;

-- SLA: administrators configure policies and run cycles; everyone who reads
-- the record reads the clocks
GRANT SELECT, INSERT, UPDATE, DELETE ON escalation.sla_policies, escalation.sla_targets,
      escalation.sla_ladder TO escalation_admin;
GRANT USAGE ON SEQUENCE escalation.sla_policies_policy_id_seq TO escalation_admin;
GRANT SELECT ON escalation.sla_policies, escalation.sla_targets, escalation.sla_ladder,
      escalation.sla_policy_overlaps, escalation.sla_tickets, escalation.clocks,
      escalation.clock_segments, escalation.clock_firings, escalation.notifications
      TO escalation_admin, escalation_agent, escalation_analyst;
GRANT EXECUTE ON FUNCTION
      escalation.run_batch(timestamptz, integer),
      escalation.run_cycle(timestamptz),
      escalation.recompute_sla(regclass, timestamptz)
      TO escalation_admin;
GRANT EXECUTE ON FUNCTION
      escalation.sla_what_if(regclass, timestamptz),
      escalation.propose_sla_targets(regclass, float8, float8, timestamptz)
      TO escalation_admin, escalation_analyst;
-- propose_sla_targets() reads the ticket table as its caller, through these
GRANT EXECUTE ON FUNCTION escalation.attached_source(regclass), escalation.instant_expr(regclass, text)
      TO escalation_analyst;
-- CHECK constraints run as the writer
GRANT EXECUTE ON FUNCTION escalation.is_sla_duration(interval), escalation.compare_value(text, text, text)
      TO PUBLIC;

--------------------------------------------------------------------------
-- Sentiment and frustration (issue 6, section 1)
--
-- A C scorer (src/sentiment.c): VADER-style polarity in [-1, +1] from a
-- lexicon derived from VADER's (MIT, C.J. Hutto; see data/sentiment/) plus
-- rules for negation, boosters, "but", capitals, exclamation, emoticons and
-- emoji, and a frustration score in [0, 1] from support cues (repeated
-- contacts, waiting, nobody caring, cancelling, asking for a manager).
-- sentiment() and frustration() use the built-in lexicon only and are
-- IMMUTABLE; rules (sentiment_below, frustration_above) and
-- sentiment_detail(text, source_id) add the source's own terms from
-- escalation.sentiment_terms, cached per backend like the configuration.
--------------------------------------------------------------------------
CREATE FUNCTION escalation.sentiment(body text)
RETURNS float8
AS 'MODULE_PATHNAME', 'escalation_sentiment'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION escalation.sentiment(text) IS
  'polarity of a text, -1 (most negative) .. +1 (most positive): the mean of its sentences that carry sentiment, each scored VADER-style; built-in lexicon only';

CREATE FUNCTION escalation.frustration(body text)
RETURNS float8
AS 'MODULE_PATHNAME', 'escalation_frustration'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION escalation.frustration(text) IS
  'frustration of a text, 0 .. 1: support cues ("third time", "nobody", "cancel my subscription", "manager"...), shouting and negative sentences add up; built-in cues only';

CREATE FUNCTION escalation.sentiment_detail(body text, source_id integer DEFAULT NULL)
RETURNS TABLE (sentence integer, text text, polarity float8, frustration float8, cues text[])
AS 'MODULE_PATHNAME', 'escalation_sentiment_detail'
LANGUAGE C STABLE PARALLEL SAFE ROWS 5;
COMMENT ON FUNCTION escalation.sentiment_detail(text, integer) IS
  'per sentence: its text, polarity, frustration and the frustration cues it matched; with a source_id, with that source''s escalation.sentiment_terms, as its rules see the text';

CREATE TABLE escalation.sentiment_terms (
    term_id     serial PRIMARY KEY,
    source_id   integer REFERENCES escalation.sources (source_id) ON DELETE CASCADE,
    term        text NOT NULL,
    valence     float8,
    frustration float8,
    -- one to four lower-case words, each short enough to be looked up
    CONSTRAINT sentiment_terms_term_form
        CHECK (term ~ '^[^[:space:][:upper:]]{1,31}( [^[:space:][:upper:]]{1,31}){0,3}$'),
    CONSTRAINT sentiment_terms_valence_range CHECK (valence BETWEEN -4 AND 4),
    CONSTRAINT sentiment_terms_frustration_range CHECK (frustration > 0 AND frustration <= 4),
    CONSTRAINT sentiment_terms_has_weight CHECK (valence IS NOT NULL OR frustration IS NOT NULL),
    -- a valence belongs to one word; phrases are frustration cues
    CONSTRAINT sentiment_terms_valence_one_word CHECK (valence IS NULL OR strpos(term, ' ') = 0)
);
CREATE UNIQUE INDEX sentiment_terms_unique
    ON escalation.sentiment_terms (COALESCE(source_id, 0), term);
COMMENT ON TABLE escalation.sentiment_terms IS
  'A team''s own sentiment vocabulary, per source (source_id) or for every source (NULL): a word''s valence replaces the built-in lexicon''s; a phrase of up to four words with a frustration weight is a frustration cue. Used by sentiment rules and sentiment_detail(text, source_id)';
COMMENT ON COLUMN escalation.sentiment_terms.term IS 'one to four lower-case words, as the scorer splits text (punctuation around words is ignored)';
COMMENT ON COLUMN escalation.sentiment_terms.valence IS 'VADER''s scale, -4 (most negative) .. +4 (most positive); 0 makes a word neutral; one word only';
COMMENT ON COLUMN escalation.sentiment_terms.frustration IS 'weight of the cue, (0, 4]; the built-in cues weigh 0.4 .. 1.5, and frustration = 1 - exp(-sum of weights / 2)';

CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON escalation.sentiment_terms
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.invalidate_cache();

SELECT pg_catalog.pg_extension_config_dump('escalation.sentiment_terms', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.sentiment_terms_term_id_seq', '');

-- the functions created above come after section 8's REVOKE ... FROM PUBLIC
REVOKE ALL ON FUNCTION escalation.sentiment(text), escalation.frustration(text),
      escalation.sentiment_detail(text, integer) FROM PUBLIC;
REVOKE ALL ON escalation.sentiment_terms FROM PUBLIC;
REVOKE ALL ON SEQUENCE escalation.sentiment_terms_term_id_seq FROM PUBLIC;
-- pure functions of their argument: harmless, like match_keywords()
GRANT EXECUTE ON FUNCTION escalation.sentiment(text), escalation.frustration(text)
      TO PUBLIC;
-- sentiment_detail() with a source_id reads that source's terms
GRANT EXECUTE ON FUNCTION escalation.sentiment_detail(text, integer)
      TO escalation_admin, escalation_agent, escalation_analyst;
GRANT SELECT ON escalation.sentiment_terms
      TO escalation_admin, escalation_agent, escalation_analyst;
GRANT INSERT, UPDATE, DELETE ON escalation.sentiment_terms TO escalation_admin;
GRANT USAGE ON SEQUENCE escalation.sentiment_terms_term_id_seq TO escalation_admin;

--------------------------------------------------------------------------
-- Background worker: its role, its status, waking it up (issue 3, §3).
-- Self-contained: its own grants and comments.  The worker itself is C
-- (launcher.c, worker.c); what it calls each cycle is escalation.run_batch().
--------------------------------------------------------------------------

-- The role the worker runs its transactions as (escalation.worker_role).
-- NOLOGIN: the worker does not log in, it switches to this role (worker.c).
-- Whatever escalation.run_batch() needs is granted to it where run_batch is.
DO $worker_role$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'escalation_worker') THEN
        CREATE ROLE escalation_worker NOLOGIN;
    END IF;
END
$worker_role$;
GRANT USAGE ON SCHEMA escalation TO escalation_worker;

CREATE FUNCTION escalation.worker_status(
    OUT datid oid, OUT database text, OUT pid integer, OUT state text,
    OUT started timestamptz, OUT last_cycle_start timestamptz, OUT last_cycle_end timestamptz,
    OUT items_last_cycle bigint, OUT items_total bigint, OUT cycles bigint, OUT errors bigint,
    OUT last_error text, OUT last_error_at timestamptz, OUT next_start timestamptz)
RETURNS SETOF record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'escalation_worker_status';
COMMENT ON FUNCTION escalation.worker_status() IS
  'one row per database served by the background worker, from shared memory (needs shared_preload_libraries)';

CREATE VIEW escalation.workers WITH (security_invoker = true) AS
SELECT database, pid, state, started, last_cycle_start, last_cycle_end,
       items_last_cycle, items_total, cycles, errors, last_error, last_error_at,
       next_start, datid
  FROM escalation.worker_status();
COMMENT ON VIEW escalation.workers IS
  'the background worker of each database served, cluster-wide: pid, cycles, items handled, last error';

CREATE FUNCTION escalation.wakeup()
RETURNS boolean
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'escalation_wakeup';
COMMENT ON FUNCTION escalation.wakeup() IS
  'at commit, starts a cycle of this database''s worker now (or has the launcher start the worker); false when not preloaded';

REVOKE ALL ON FUNCTION escalation.worker_status(), escalation.wakeup() FROM PUBLIC;
REVOKE ALL ON escalation.workers FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escalation.worker_status()
      TO escalation_admin, escalation_analyst, pg_monitor;
GRANT SELECT ON escalation.workers TO escalation_admin, escalation_analyst, pg_monitor;
GRANT EXECUTE ON FUNCTION escalation.wakeup() TO escalation_admin;

-- a worker for this database now, rather than at the launcher's next recheck
SELECT escalation.wakeup();

-- what the worker calls, one transaction per batch (SECURITY DEFINER)
GRANT EXECUTE ON FUNCTION escalation.run_batch(timestamptz, integer) TO escalation_worker;

--------------------------------------------------------------------------
-- Routing (issue 4): agent fit, offers, overflow, re-escalation, handoff
--
-- The fit score is C (src/route.c, pure); src/route_data.c reads the
-- agents once per batch and the queue in urgency order (severity, then
-- time to SLA breach, then age); escalation.route_plan() decides a batch
-- without writing, and escalation.route() applies each decision under
-- lock: the escalation FOR UPDATE SKIP LOCKED, then the chosen agent's
-- row FOR NO KEY UPDATE, then its load re-counted, so two routers can
-- never both take an agent's last slot.  route() runs at the end of
-- escalation.run_batch(), so the worker and run_cycle() route too.
-- Offers expire after routing_settings.offer_timeout and go to the next
-- best agent; a decline puts the escalation back in the queue with its
-- age, and the decliner is skipped for it.  Every offer is a row of
-- escalation.assignments with the full factor breakdown, copied into the
-- escalation (routing) and its journey, and announced with
-- NOTIFY escalation.  The routing tables are read per batch, not cached,
-- so they need no invalidate_cache trigger.
--------------------------------------------------------------------------

ALTER TABLE escalation.agents ADD COLUMN calendar text
    REFERENCES escalation.calendars (name) ON UPDATE CASCADE ON DELETE SET NULL;
COMMENT ON COLUMN escalation.agents.calendar IS
  'shift calendar (escalation.calendars.name): outside its working periods the agent is not routed to, and the time left in the period is a factor; NULL = always on shift';

-- what an escalation asks of an agent besides its target
ALTER TABLE escalation.escalations
    ADD COLUMN optional_skills text[],
    ADD COLUMN language text,
    ADD COLUMN routing jsonb,
    -- the ticket's account and requester, as plain columns so that
    -- continuity is read from an index alone (an index on the expression
    -- could not be read without the row)
    ADD COLUMN account_key text GENERATED ALWAYS AS (context #>> '{ticket,account}') STORED,
    ADD COLUMN requester text GENERATED ALWAYS AS (context #>> '{ticket,requester}') STORED;
COMMENT ON COLUMN escalation.escalations.target_skills IS
  'mandatory skills: only agents with all of them are routed to';
COMMENT ON COLUMN escalation.escalations.optional_skills IS
  'optional skills: required while the escalation has waited less than routing_settings.relax_after, then they only add to the skills factor';
COMMENT ON COLUMN escalation.escalations.language IS
  'language the customer writes in (ISO 639-1); NULL: the ticket''s field "language" if mapped';
COMMENT ON COLUMN escalation.escalations.routing IS
  'the latest routing decision: chosen agent, every factor with its weight, candidates, runner-up, offer expiry, overflow';
COMMENT ON COLUMN escalation.escalations.account_key IS
  'the ticket''s account (context -> ticket -> account), generated: routing''s continuity';
COMMENT ON COLUMN escalation.escalations.requester IS
  'the ticket''s requester (context -> ticket -> requester), generated: routing''s continuity';

-- what routing reads per batch, from indexes alone: every agent's load
-- (held escalations, less tickets pending on the customer: a partial index
-- as small as what is pending), and continuity (who resolved work of the
-- account or requester)
CREATE INDEX escalations_agent ON escalation.escalations (agent_id) INCLUDE (source_id, ticket_key)
    WHERE status IN ('offered', 'accepted');
CREATE INDEX sla_tickets_pending ON escalation.sla_tickets (source_id, ticket_key)
    WHERE status = 'pending';
CREATE INDEX escalations_resolved_account
    ON escalation.escalations (account_key, closed_at) INCLUDE (agent_id) WHERE status = 'resolved';
CREATE INDEX escalations_resolved_requester
    ON escalation.escalations (requester, closed_at) INCLUDE (agent_id) WHERE status = 'resolved';

-- urgency order: severity, then time to SLA breach, then age.  The time to
-- breach is the earliest due time of the ticket's running SLA clocks,
-- denormalised into the escalation by escalation.sla_due() (src/route_due.c)
-- so that a batch reads its rows from this index in order instead of
-- sorting the whole queue
ALTER TABLE escalation.escalations ADD COLUMN sla_due_at timestamptz;
COMMENT ON COLUMN escalation.escalations.sla_due_at IS
  'while queued or offered: the earliest due time of the ticket''s running SLA clocks (NULL: none), kept by triggers on escalation.escalations and escalation.clocks; routing''s urgency order. Left as it was once accepted or closed';
CREATE INDEX escalations_queue
    ON escalation.escalations (severity DESC, sla_due_at, created_at, escalation_id)
    WHERE status = 'queued';

CREATE FUNCTION escalation.sla_due()
RETURNS trigger
AS 'MODULE_PATHNAME', 'escalation_sla_due'
LANGUAGE C;
COMMENT ON FUNCTION escalation.sla_due() IS
  'internal trigger: BEFORE INSERT on escalation.escalations fills sla_due_at from the ticket''s running clocks; AFTER a running clock''s due time changes, updates it in the ticket''s queued and offered escalations';
CREATE TRIGGER sla_due BEFORE INSERT ON escalation.escalations
    FOR EACH ROW EXECUTE FUNCTION escalation.sla_due();
-- only a change of a running clock's due time can change the minimum
CREATE TRIGGER sla_due_insert AFTER INSERT ON escalation.clocks
    FOR EACH ROW WHEN (NEW.due_at IS NOT NULL AND NEW.state = 'running')
    EXECUTE FUNCTION escalation.sla_due();
CREATE TRIGGER sla_due_update AFTER UPDATE OF due_at, state ON escalation.clocks
    FOR EACH ROW WHEN ((OLD.due_at IS NOT NULL AND OLD.state = 'running')
                       IS DISTINCT FROM (NEW.due_at IS NOT NULL AND NEW.state = 'running')
                       OR (NEW.state = 'running' AND OLD.due_at IS DISTINCT FROM NEW.due_at))
    EXECUTE FUNCTION escalation.sla_due();
CREATE TRIGGER sla_due_delete AFTER DELETE ON escalation.clocks
    FOR EACH ROW WHEN (OLD.due_at IS NOT NULL AND OLD.state = 'running')
    EXECUTE FUNCTION escalation.sla_due();

CREATE TABLE escalation.routing_weights (
    factor text PRIMARY KEY
           CHECK (factor IN ('skills', 'tier', 'workload', 'availability', 'shift',
                             'language', 'continuity', 'fairness')),
    weight float8 NOT NULL CHECK (weight >= 0 AND weight <= 100)
);
COMMENT ON TABLE escalation.routing_weights IS
  'Weight of each routing factor; a factor without a row keeps its default (skills 3, tier 1, workload 2, availability 1, shift 0.5, language 2, continuity 1.5, fairness 1). Each factor is 0..1; the fit is the weighted sum';

CREATE TABLE escalation.routing_settings (
    singleton         boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    enabled           boolean NOT NULL DEFAULT true,
    offer_timeout     interval NOT NULL DEFAULT '10 minutes' CHECK (offer_timeout > '0'),
    relax_after       interval NOT NULL DEFAULT '15 minutes' CHECK (relax_after >= '0'),
    overflow_after    interval NOT NULL DEFAULT '30 minutes' CHECK (overflow_after >= '0'),
    continuity_window interval NOT NULL DEFAULT '90 days' CHECK (continuity_window > '0')
);
COMMENT ON TABLE escalation.routing_settings IS
  'Routing settings, at most one row; without one the column defaults apply (escalation.routing_config() shows what is in force)';
COMMENT ON COLUMN escalation.routing_settings.enabled IS 'false: route() (and so the worker''s cycle) assigns nothing; offers already made stay';
COMMENT ON COLUMN escalation.routing_settings.offer_timeout IS 'an offer not accepted within this goes to the next best agent';
COMMENT ON COLUMN escalation.routing_settings.relax_after IS 'after waiting this long, optional skills no longer filter agents';
COMMENT ON COLUMN escalation.routing_settings.overflow_after IS 'an escalation nobody fits (optional skills relaxed) overflows to the team lead or the next tier after waiting this long, and again after each further wait';
COMMENT ON COLUMN escalation.routing_settings.continuity_window IS 'resolved escalations of the same account or requester within this count for continuity';

CREATE TABLE escalation.routing_sources (
    source_id      integer PRIMARY KEY REFERENCES escalation.sources (source_id) ON DELETE CASCADE,
    write_assignee boolean NOT NULL DEFAULT true,
    after_write    regprocedure
);
COMMENT ON TABLE escalation.routing_sources IS
  'Per source: how an offer is written back to the helpdesk: the agent''s agent_id into the ticket table''s mapped assignee column, then the helpdesk''s own hook (lock, history row), so the helpdesk shows it';
COMMENT ON COLUMN escalation.routing_sources.write_assignee IS
  'write the offered agent''s agent_id into the source''s mapped assignee column';
COMMENT ON COLUMN escalation.routing_sources.after_write IS
  'the helpdesk''s write-back hook, f(source_id integer, ticket_key text, agent_id text, escalation_id bigint) RETURNS void, called in the offer''s transaction right after the assignee write; owned by the ticket table''s owner and SECURITY DEFINER with a pinned search_path (unless that owner is a superuser)';

-- a write-back hook must be a plain function of the exact signature, the
-- helpdesk owner's (it writes the helpdesk's tables: an escalation_admin
-- must not make routing run code of its own choosing), and run as that
-- owner: routing runs as the extension's owner (route() and run_batch()
-- are SECURITY DEFINER), so a SECURITY INVOKER hook of another owner would
-- run with the extension owner's rights.  Checked when configured, and
-- again before each call (the function may have been altered since).
CREATE FUNCTION escalation.check_after_write(p_hook regprocedure, p_source integer)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p pg_proc;
    tbl regclass;
    tbl_owner oid;
BEGIN
    SELECT * INTO p FROM pg_proc x WHERE x.oid = p_hook;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'write-back hook (function %) does not exist', p_hook::oid
            USING ERRCODE = 'undefined_function',
                  HINT = 'Set escalation.routing_sources.after_write to an existing function, or to NULL.';
    END IF;
    IF p.prokind <> 'f' THEN
        RAISE EXCEPTION 'write-back hook % is not a plain function', p_hook
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'A procedure, aggregate or window function cannot be a write-back hook.';
    END IF;
    IF p.pronargs <> 4 OR p.proargtypes[0] <> 'integer'::regtype OR p.proargtypes[1] <> 'text'::regtype
       OR p.proargtypes[2] <> 'text'::regtype OR p.proargtypes[3] <> 'bigint'::regtype
       OR p.provariadic <> 0 OR p.prorettype <> 'void'::regtype OR p.proretset THEN
        RAISE EXCEPTION 'write-back hook % has the wrong signature', p_hook
            USING ERRCODE = 'invalid_function_definition',
                  DETAIL = format('It takes (%s) and returns %s%s.',
                                  pg_get_function_identity_arguments(p.oid),
                                  CASE WHEN p.proretset THEN 'SETOF ' ELSE '' END,
                                  format_type(p.prorettype, NULL)),
                  HINT = 'A write-back hook is f(source_id integer, ticket_key text, agent_id text, escalation_id bigint) RETURNS void.';
    END IF;
    SELECT s.ticket_table, c.relowner INTO tbl, tbl_owner
      FROM escalation.sources s JOIN pg_class c ON c.oid = s.ticket_table
     WHERE s.source_id = p_source;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'source % does not exist', p_source USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF p.proowner <> tbl_owner THEN
        RAISE EXCEPTION 'write-back hook % must be owned by the owner of table %', p_hook, tbl
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('It is owned by role "%s", the table by role "%s".',
                                  pg_get_userbyid(p.proowner), pg_get_userbyid(tbl_owner)),
                  HINT = 'The hook writes the helpdesk''s tables: the helpdesk''s owner writes it (ALTER FUNCTION ... OWNER TO).';
    END IF;
    IF NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = p.proowner) THEN
        IF NOT p.prosecdef THEN
            RAISE EXCEPTION 'write-back hook % must be SECURITY DEFINER', p_hook
                USING ERRCODE = 'invalid_function_definition',
                      DETAIL = 'Routing runs as the extension''s owner; the hook must run as its own owner, the helpdesk''s.',
                      HINT = 'ALTER FUNCTION ... SECURITY DEFINER SET search_path = pg_catalog, pg_temp.';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c(setting) WHERE c.setting LIKE 'search\_path=%') THEN
            RAISE EXCEPTION 'write-back hook % must pin its search_path', p_hook
                USING ERRCODE = 'invalid_function_definition',
                      HINT = 'ALTER FUNCTION ... SET search_path = pg_catalog, pg_temp, and qualify the helpdesk''s tables.';
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION escalation.check_after_write(regprocedure, integer) IS
  'internal: refuses a write-back hook that is not f(integer, text, text, bigint) RETURNS void, not owned by the source''s ticket table''s owner, or (owner not a superuser) not SECURITY DEFINER with a pinned search_path';

CREATE FUNCTION escalation.validate_routing_source()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.after_write IS NOT NULL THEN
        PERFORM escalation.check_after_write(NEW.after_write, NEW.source_id);
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION escalation.validate_routing_source() IS
  'BEFORE INSERT OR UPDATE trigger on escalation.routing_sources: refuses a bad write-back hook when it is configured';
CREATE TRIGGER validate_routing_source BEFORE INSERT OR UPDATE ON escalation.routing_sources
    FOR EACH ROW EXECUTE FUNCTION escalation.validate_routing_source();

CREATE TABLE escalation.assignments (
    assignment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    escalation_id bigint NOT NULL REFERENCES escalation.escalations (escalation_id) ON DELETE CASCADE,
    agent_id      text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('routed', 'reopen', 'overflow', 'reassigned')),
    offered_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    outcome       text NOT NULL DEFAULT 'offered'
                  CHECK (outcome IN ('offered', 'accepted', 'declined', 'timed_out', 'withdrawn')),
    decided_at    timestamptz,
    total         float8,
    decision      jsonb NOT NULL,
    note          text,
    CHECK ((outcome = 'offered') = (decided_at IS NULL))
);
CREATE UNIQUE INDEX assignments_one_open ON escalation.assignments (escalation_id)
    WHERE outcome = 'offered';
CREATE INDEX assignments_expiry ON escalation.assignments (expires_at) WHERE outcome = 'offered';
CREATE INDEX assignments_agent ON escalation.assignments (agent_id, offered_at);
-- fairness saturates an hour after an agent's last offer: routing reads the
-- offers of the last hour, not every agent's history
CREATE INDEX assignments_recent ON escalation.assignments (offered_at) INCLUDE (agent_id);
CREATE INDEX assignments_escalation ON escalation.assignments (escalation_id);
COMMENT ON TABLE escalation.assignments IS
  'Every offer of an escalation to an agent, with the factor breakdown it was chosen on and how it ended: accepted, declined, timed_out, or withdrawn (agent offline, reassigned, escalation closed)';
COMMENT ON COLUMN escalation.assignments.kind IS 'routed (best fit), reopen (the ticket''s previous agent), overflow (team lead), reassigned (by hand)';
COMMENT ON COLUMN escalation.assignments.decision IS 'agent, total, every factor with value and weight, number of candidates, runner-up';

-- settings in force
CREATE FUNCTION escalation.routing_config(OUT offer_timeout interval, OUT relax_after interval,
                                          OUT overflow_after interval, OUT continuity_window interval)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(s.offer_timeout, '10 minutes'), COALESCE(s.relax_after, '15 minutes'),
           COALESCE(s.overflow_after, '30 minutes'), COALESCE(s.continuity_window, '90 days')
      FROM (SELECT) AS one LEFT JOIN escalation.routing_settings s ON true
$$;
COMMENT ON FUNCTION escalation.routing_config() IS
  'the routing settings in force: the row of escalation.routing_settings, or the defaults';

-- an agent's load: offered and accepted escalations, except tickets waiting
-- on the customer (Freshdesk's rule); fully qualified so that it inlines
CREATE FUNCTION escalation.agent_load(agent_id text)
RETURNS bigint
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.count(*) FROM escalation.escalations e
     WHERE e.agent_id OPERATOR(pg_catalog.=) $1
       AND e.status OPERATOR(pg_catalog.=) ANY ('{offered,accepted}'::text[])
       AND NOT EXISTS (SELECT 1 FROM escalation.sla_tickets t
                        WHERE t.source_id OPERATOR(pg_catalog.=) e.source_id
                          AND t.ticket_key OPERATOR(pg_catalog.=) e.ticket_key
                          AND t.status OPERATOR(pg_catalog.=) 'pending')
$$;
COMMENT ON FUNCTION escalation.agent_load(text) IS
  'escalations an agent holds against its capacity: offered or accepted, except tickets pending on the customer';

CREATE FUNCTION escalation.route_plan(as_of timestamptz, max_decisions integer)
RETURNS TABLE (escalation_id bigint, action text, agent_ids text[], totals float8[],
               decision jsonb, candidates integer, note text)
AS 'MODULE_PATHNAME', 'escalation_route_plan'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION escalation.route_plan(timestamptz, integer) IS
  'the decisions of one routing batch, without writing: queued escalations in urgency order, each with its best agents (up to 3, best first) and the factor breakdown, or an overflow; counts its own offers against capacity';

CREATE FUNCTION escalation.explain_route(escalation_id bigint, as_of timestamptz DEFAULT now())
RETURNS TABLE (agent_id text, rank integer, total float8, skills float8, tier float8,
               workload float8, availability float8, shift float8, language float8,
               continuity float8, fairness float8, excluded_because text)
AS 'MODULE_PATHNAME', 'escalation_explain_route'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION escalation.explain_route(bigint, timestamptz) IS
  'why routing would choose whom for an escalation: every candidate with each factor (0..1) and the weighted total, best first, then every excluded agent with the reason';

-- close an offer that ends by accept / resolve / cancel
CREATE FUNCTION escalation.close_offer()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE escalation.assignments a
       SET outcome = CASE WHEN NEW.status = 'accepted' AND a.agent_id = NEW.agent_id
                          THEN 'accepted' ELSE 'withdrawn' END,
           decided_at = NEW.updated_at
     WHERE a.escalation_id = NEW.escalation_id AND a.outcome = 'offered';
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION escalation.close_offer() IS
  'AFTER UPDATE trigger on escalation.escalations: an offered escalation accepted, resolved or cancelled closes its open offer';
CREATE TRIGGER close_offer AFTER UPDATE OF status ON escalation.escalations
    FOR EACH ROW WHEN (OLD.status = 'offered' AND NEW.status IN ('accepted', 'resolved', 'cancelled'))
    EXECUTE FUNCTION escalation.close_offer();

-- accept(): an offer is for its agent; taking queued work needs a free slot
CREATE FUNCTION escalation.check_accept(p_escalation bigint, p_agent text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e escalation.escalations;
    cap integer;
    agent_tenant text;
BEGIN
    SELECT * INTO e FROM escalation.escalations x WHERE x.escalation_id = p_escalation FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;                 -- set_status reports it
    END IF;
    IF e.status = 'offered' AND e.agent_id IS DISTINCT FROM p_agent THEN
        RAISE EXCEPTION 'escalation % is offered to another agent', p_escalation
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'An offer can be accepted only by the agent it was offered to.';
    END IF;
    IF e.status = 'queued' THEN
        SELECT g.capacity, coalesce(g.tenant, t.tenant) INTO cap, agent_tenant
          FROM escalation.agents g LEFT JOIN escalation.teams t ON t.name = g.team
         WHERE g.agent_id = p_agent FOR NO KEY UPDATE OF g;
        IF agent_tenant IS NOT NULL AND agent_tenant IS DISTINCT FROM e.tenant THEN
            RAISE EXCEPTION 'agent "%" works for another tenant than escalation %', p_agent, p_escalation
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        IF escalation.agent_load(p_agent) >= cap THEN
            RAISE EXCEPTION 'agent "%" is at capacity', p_agent
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Resolve or hand back an escalation first, or raise the agent''s capacity.';
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION escalation.check_accept(bigint, text) IS
  'internal (accept): refuses another agent''s offer, and queued work beyond the agent''s capacity';

-- write the agent into the helpdesk's assignee column (routing_sources)
CREATE FUNCTION escalation.write_assignee(p_source integer, p_key text, p_agent text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tbl regclass;
    acol text;
    kcol text;
    atype text;
    ktype text;
BEGIN
    SELECT s.ticket_table, s.mapping ->> 'assignee', s.mapping ->> 'key'
      INTO tbl, acol, kcol
      FROM escalation.sources s WHERE s.source_id = p_source AND s.attached;
    IF tbl IS NULL OR acol IS NULL THEN
        RETURN;
    END IF;
    -- names and types from the catalog, quoted; values are parameters
    SELECT format_type(a.atttypid, a.atttypmod) INTO atype FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = acol AND NOT a.attisdropped;
    SELECT format_type(a.atttypid, a.atttypmod) INTO ktype FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = kcol AND NOT a.attisdropped;
    IF atype IS NULL OR ktype IS NULL THEN
        RAISE WARNING 'assignee or key column of source % no longer exists; not written back', p_source;
        RETURN;
    END IF;
    EXECUTE format('UPDATE %s SET %I = CAST($1 AS %s) WHERE %I = CAST($2 AS %s)',
                   tbl, acol, atype, kcol, ktype)
      USING p_agent, p_key;
END
$$;
COMMENT ON FUNCTION escalation.write_assignee(integer, text, text) IS
  'internal: writes an agent_id into a source''s mapped assignee column (names from the catalog, quoted; values as parameters)';

-- call a source's write-back hook (routing_sources.after_write), checked
-- again first; by its catalog name, with every argument cast to the
-- signature checked, so that exactly that function is called
CREATE FUNCTION escalation.call_after_write(p_hook regprocedure, p_source integer, p_key text,
                                            p_agent text, p_escalation bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fn text;
BEGIN
    PERFORM escalation.check_after_write(p_hook, p_source);
    SELECT format('%I.%I', n.nspname, x.proname) INTO fn
      FROM pg_proc x JOIN pg_namespace n ON n.oid = x.pronamespace WHERE x.oid = p_hook;
    EXECUTE format('SELECT %s($1::integer, $2::text, $3::text, $4::bigint)', fn)
      USING p_source, p_key, p_agent, p_escalation;
END
$$;
COMMENT ON FUNCTION escalation.call_after_write(regprocedure, integer, text, text, bigint) IS
  'internal: calls a source''s write-back hook after checking it again (escalation.check_after_write); the name comes from the catalog, quoted, the values are parameters';

-- offer a locked, queued escalation to an agent if it has a free slot
CREATE FUNCTION escalation.offer(e escalation.escalations, p_agent text, p_kind text,
                                 p_decision jsonb, p_note text, as_of timestamptz)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cap integer;
    agent_tenant text;
    expires timestamptz := as_of + (SELECT c.offer_timeout FROM escalation.routing_config() c);
    total float8 := (p_decision ->> 'total')::float8;
    wb escalation.routing_sources;
    wb_state text;
    wb_message text;
    wb_error jsonb;
BEGIN
    -- the agent's row serialises everyone who gives it work; its load is
    -- counted after the lock, so it includes what they committed.  Its
    -- tenant (its own, else its team's) must be the escalation's, or none:
    -- routing never crosses tenants
    SELECT g.capacity, coalesce(g.tenant, t.tenant) INTO cap, agent_tenant
      FROM escalation.agents g LEFT JOIN escalation.teams t ON t.name = g.team
     WHERE g.agent_id = p_agent AND g.active AND g.availability <> 'offline'
       FOR NO KEY UPDATE OF g;
    IF NOT FOUND OR (agent_tenant IS NOT NULL AND agent_tenant IS DISTINCT FROM e.tenant)
       OR escalation.agent_load(p_agent) >= cap THEN
        RETURN false;
    END IF;
    INSERT INTO escalation.assignments
        (escalation_id, agent_id, kind, offered_at, expires_at, total, decision, note)
    VALUES (e.escalation_id, p_agent, p_kind, as_of, expires, total, p_decision, p_note);
    -- write-back: the assignee column, then the helpdesk's hook, together
    -- in a subtransaction.  If either fails, neither is written, the offer
    -- stands (the agent has it; the helpdesk does not show it), and the
    -- error is a WARNING and stays in escalations.routing; a cancel cancels
    SELECT * INTO wb FROM escalation.routing_sources r WHERE r.source_id = e.source_id;
    IF FOUND AND (wb.write_assignee OR wb.after_write IS NOT NULL) THEN
        BEGIN
            IF wb.write_assignee THEN
                PERFORM escalation.write_assignee(e.source_id, e.ticket_key, p_agent);
            END IF;
            IF wb.after_write IS NOT NULL THEN
                PERFORM escalation.call_after_write(wb.after_write, e.source_id, e.ticket_key,
                                                    p_agent, e.escalation_id);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS wb_state = RETURNED_SQLSTATE, wb_message = MESSAGE_TEXT;
            wb_error := jsonb_build_object('sqlstate', wb_state, 'message', wb_message, 'at', as_of);
            RAISE WARNING 'ticket % was offered to agent "%" but not written back: %',
                e.ticket_key, p_agent, wb_message
                USING ERRCODE = wb_state,
                      DETAIL = format('Source "%s".', (SELECT s.name FROM escalation.sources s
                                                        WHERE s.source_id = e.source_id)),
                      HINT = 'The offer stands. Fix escalation.routing_sources or the helpdesk''s hook; escalations.routing holds the error.';
        END;
    END IF;
    UPDATE escalation.escalations x
       SET status = 'offered', agent_id = p_agent, updated_at = as_of,
           routing = (COALESCE(x.routing, '{}') - 'write_back_error') || p_decision
                     || jsonb_build_object('kind', p_kind, 'offered_at', as_of, 'expires_at', expires)
                     || CASE WHEN wb_error IS NULL THEN '{}'
                             ELSE jsonb_build_object('write_back_error', wb_error) END,
           last_actor = 'escalation routing', last_note = p_note
     WHERE x.escalation_id = e.escalation_id;
    PERFORM pg_notify('escalation', jsonb_build_object(
        'event', 'offered', 'escalation_id', e.escalation_id, 'agent_id', p_agent,
        'kind', p_kind, 'source_id', e.source_id, 'ticket_key', e.ticket_key,
        'severity', e.severity, 'total', total, 'expires_at', expires)::text);
    RETURN true;
END
$$;
COMMENT ON FUNCTION escalation.offer(escalation.escalations, text, text, jsonb, text, timestamptz) IS
  'internal: offers a locked queued escalation to an agent, under the agent''s row lock and within its capacity; records the assignment, writes the assignee back and calls the source''s write-back hook (a failure there is a WARNING and escalations.routing->''write_back_error''; the offer stands), NOTIFY escalation';

-- an open offer ends without acceptance: back to the queue, age kept
CREATE FUNCTION escalation.requeue(p_escalation bigint, p_outcome text, p_actor text,
                                   p_note text, as_of timestamptz)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE escalation.assignments a SET outcome = p_outcome, decided_at = as_of,
           note = COALESCE(p_note, a.note)
     WHERE a.escalation_id = p_escalation AND a.outcome = 'offered';
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE escalation.escalations x
       SET status = 'queued', agent_id = NULL, updated_at = as_of,
           last_actor = p_actor, last_note = p_note
     WHERE x.escalation_id = p_escalation AND x.status = 'offered';
    RETURN true;
END
$$;
COMMENT ON FUNCTION escalation.requeue(bigint, text, text, text, timestamptz) IS
  'internal: closes an escalation''s open offer (declined, timed_out, withdrawn) and puts it back in the queue with its original age';

-- nobody fits: to the team lead, or up a tier, as a hierarchical escalation
CREATE FUNCTION escalation.overflow(e escalation.escalations, p_lead text, p_decision jsonb,
                                    p_reason text, as_of timestamptz)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o jsonb := p_decision -> 'overflow';
BEGIN
    BEGIN
        UPDATE escalation.escalations x
           SET kind = 'hierarchical',
               target_team = CASE WHEN p_lead IS NULL THEN NULL ELSE x.target_team END,
               target_tier = CASE WHEN p_lead IS NULL THEN (o ->> 'tier')::integer ELSE x.target_tier END,
               optional_skills = NULL,
               reasons = x.reasons || jsonb_build_array(jsonb_build_object(
                   'rule', NULL, 'kind', 'overflow', 'reason', p_reason,
                   'to', COALESCE(p_lead, 'tier ' || (o ->> 'tier')), 'at', as_of)),
               routing = COALESCE(x.routing, '{}') || jsonb_build_object('overflow_at', as_of, 'overflow', o),
               updated_at = as_of, last_actor = 'escalation routing', last_note = p_reason
         WHERE x.escalation_id = e.escalation_id
        RETURNING * INTO e;
    EXCEPTION WHEN unique_violation THEN
        RETURN false;           -- the ticket already has that escalation open
    END;
    IF p_lead IS NOT NULL THEN
        PERFORM escalation.offer(e, p_lead, 'overflow',
                                 jsonb_build_object('agent_id', p_lead, 'overflow', o),
                                 p_reason, as_of);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION escalation.overflow(escalation.escalations, text, jsonb, text, timestamptz) IS
  'internal: an escalation nobody fits becomes hierarchical, offered to its team''s lead or targeted at the next tier, with the reason in its reasons';

CREATE FUNCTION escalation.route(as_of timestamptz DEFAULT now(), batch_size integer DEFAULT 500)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    handled integer := 0;
    o record;
    p record;
    e escalation.escalations;
BEGIN
    IF as_of IS NULL OR batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'route needs an instant and a batch size of at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM escalation.routing_settings s WHERE NOT s.enabled) THEN
        RETURN 0;
    END IF;
    -- 1. offers that expired, or whose agent went offline or inactive
    FOR o IN SELECT a.escalation_id,
                    CASE WHEN a.expires_at <= as_of THEN 'timed_out' ELSE 'withdrawn' END AS outcome,
                    CASE WHEN a.expires_at <= as_of THEN 'offer to ' || a.agent_id || ' timed out'
                         ELSE a.agent_id || ' is no longer available' END AS note
               FROM escalation.assignments a
               JOIN escalation.escalations x ON x.escalation_id = a.escalation_id
               LEFT JOIN escalation.agents g ON g.agent_id = a.agent_id
              WHERE a.outcome = 'offered' AND x.status = 'offered'
                AND (a.expires_at <= as_of OR g.agent_id IS NULL OR NOT g.active
                     OR g.availability = 'offline')
              ORDER BY a.expires_at, a.assignment_id
              LIMIT batch_size
                FOR UPDATE OF x SKIP LOCKED LOOP
        IF escalation.requeue(o.escalation_id, o.outcome, 'escalation routing', o.note, as_of) THEN
            handled := handled + 1;
        END IF;
    END LOOP;
    -- 2. queued escalations, most urgent first, to their best agents
    IF handled < batch_size THEN
        FOR p IN SELECT * FROM escalation.route_plan(as_of, batch_size - handled) LOOP
            SELECT * INTO e FROM escalation.escalations x
             WHERE x.escalation_id = p.escalation_id AND x.status = 'queued'
               FOR UPDATE SKIP LOCKED;
            CONTINUE WHEN NOT FOUND;
            IF p.action = 'overflow' THEN
                IF escalation.overflow(e, p.agent_ids[1], p.decision, p.note, as_of) THEN
                    handled := handled + 1;
                END IF;
                CONTINUE;
            END IF;
            -- the best agent, or the next best if its last slot went meanwhile
            FOR i IN 1 .. cardinality(p.agent_ids) LOOP
                IF escalation.offer(e, p.agent_ids[i],
                                    CASE WHEN p.decision ? 'previous_agent' AND i = 1
                                         THEN 'reopen' ELSE 'routed' END,
                                    CASE WHEN i = 1 THEN p.decision
                                         ELSE (p.decision - 'factors' - 'runner_up')
                                              || jsonb_build_object('agent_id', p.agent_ids[i],
                                                                    'total', p.totals[i], 'rank', i)
                                    END,
                                    p.note, as_of) THEN
                    handled := handled + 1;
                    EXIT;
                END IF;
            END LOOP;
        END LOOP;
    END IF;
    RETURN handled;
END
$$;
COMMENT ON FUNCTION escalation.route(timestamptz, integer) IS
  'one routing batch: re-queues offers that timed out or whose agent went offline, then offers queued escalations (most urgent first, FOR UPDATE SKIP LOCKED) to their best-fit agents within capacity, or overflows them; returns how many it handled. run_batch() calls it';

CREATE FUNCTION escalation.decline(escalation_id bigint, agent_id text, reason text DEFAULT NULL,
                                   as_of timestamptz DEFAULT now())
RETURNS escalation.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e escalation.escalations;
BEGIN
    SELECT * INTO e FROM escalation.escalations x
     WHERE x.escalation_id = decline.escalation_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'escalation % does not exist', decline.escalation_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF e.status <> 'offered' OR e.agent_id IS DISTINCT FROM decline.agent_id THEN
        RAISE EXCEPTION 'escalation % is not offered to agent "%"', decline.escalation_id, decline.agent_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM escalation.requeue(e.escalation_id, 'declined', decline.agent_id,
                               'declined' || COALESCE(': ' || reason, ''), as_of);
    SELECT * INTO e FROM escalation.escalations x WHERE x.escalation_id = decline.escalation_id;
    RETURN e;
END
$$;
COMMENT ON FUNCTION escalation.decline(bigint, text, text, timestamptz) IS
  'the agent an escalation is offered to declines it: back to the queue with its original age; routing skips this agent for it';

CREATE FUNCTION escalation.reassign(escalation_id bigint, agent_id text, reason text,
                                    as_of timestamptz DEFAULT now())
RETURNS escalation.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e escalation.escalations;
BEGIN
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION 'reassigning an escalation needs a reason' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO e FROM escalation.escalations x
     WHERE x.escalation_id = reassign.escalation_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'escalation % does not exist', reassign.escalation_id USING ERRCODE = 'no_data_found';
    END IF;
    IF e.status NOT IN ('queued', 'offered') THEN
        RAISE EXCEPTION 'escalation % is %; only queued or offered escalations can be reassigned',
            reassign.escalation_id, e.status USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF e.status = 'offered' THEN
        PERFORM escalation.requeue(e.escalation_id, 'withdrawn', session_user::text,
                                   'reassigned: ' || reason, as_of);
        SELECT * INTO e FROM escalation.escalations x WHERE x.escalation_id = reassign.escalation_id;
    END IF;
    IF NOT escalation.offer(e, reassign.agent_id, 'reassigned',
                            jsonb_build_object('agent_id', reassign.agent_id, 'by', session_user::text),
                            reason, as_of) THEN
        RAISE EXCEPTION 'agent "%" cannot take escalation %', reassign.agent_id, reassign.escalation_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The agent does not exist, is inactive or offline, is at capacity, or works for another tenant.';
    END IF;
    SELECT * INTO e FROM escalation.escalations x WHERE x.escalation_id = reassign.escalation_id;
    RETURN e;
END
$$;
COMMENT ON FUNCTION escalation.reassign(bigint, text, text, timestamptz) IS
  'offer a queued or offered escalation to a given agent (within its capacity), withdrawing any open offer';

CREATE FUNCTION escalation.reescalate(escalation_id bigint, reason text,
                                      target_team text DEFAULT NULL, target_skills text[] DEFAULT NULL,
                                      target_tier integer DEFAULT NULL, kind text DEFAULT 'hierarchical',
                                      as_of timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    p escalation.escalations;
    child bigint;
BEGIN
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION 're-escalating needs a reason' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF kind IS NULL OR kind NOT IN ('functional', 'hierarchical') THEN
        RAISE EXCEPTION 'kind must be "functional" or "hierarchical", not "%"', kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF target_team IS NULL AND target_skills IS NULL AND target_tier IS NULL THEN
        RAISE EXCEPTION 'a re-escalation needs a target team, skills or tier'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF target_team IS NOT NULL AND NOT EXISTS (SELECT 1 FROM escalation.teams t WHERE t.name = target_team) THEN
        RAISE EXCEPTION 'team "%" does not exist', target_team USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT * INTO p FROM escalation.escalations x WHERE x.escalation_id = reescalate.escalation_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'escalation % does not exist', escalation_id USING ERRCODE = 'no_data_found';
    END IF;
    IF p.status NOT IN ('queued', 'offered', 'accepted') THEN
        RAISE EXCEPTION 'escalation % is %; only an open escalation can be re-escalated', escalation_id, p.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF p.level >= 9 THEN
        RAISE EXCEPTION 'escalation % is at the highest level', escalation_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO escalation.escalations AS e
        (source_id, ticket_key, level, kind, origin, target_team, target_skills, target_tier,
         severity, reasons, context, language, parent_id, created_at, updated_at, last_actor, last_note,
         tenant)
    VALUES (p.source_id, p.ticket_key, p.level + 1, kind, 'reescalation', target_team, target_skills,
            target_tier, p.severity,
            jsonb_build_array(jsonb_build_object('rule', NULL, 'kind', 'reescalation',
                                                 'from', p.escalation_id, 'from_team', p.target_team,
                                                 'by', session_user::text, 'reason', reason)),
            p.context, p.language, p.escalation_id, as_of, as_of, session_user::text, reason, p.tenant)
    RETURNING e.escalation_id INTO child;
    PERFORM escalation.set_status(p.escalation_id, 'cancelled', NULL,
                                  're-escalated to ' || child || ': ' || reason, as_of);
    RETURN child;
END
$$;
COMMENT ON FUNCTION escalation.reescalate(bigint, text, text, text[], integer, text, timestamptz) IS
  'escalate an open escalation further: a child one level up (to another team: functional; upward: hierarchical) linked by parent_id, with the reason; the parent is closed (cancelled, "re-escalated to N")';

CREATE VIEW escalation.reescalations WITH (security_invoker = true) AS
WITH RECURSIVE chain AS (
    SELECT e.escalation_id, e.parent_id, e.escalation_id AS root_id, 0 AS depth
      FROM escalation.escalations e WHERE e.parent_id IS NULL
    UNION ALL
    SELECT c.escalation_id, c.parent_id, chain.root_id, chain.depth + 1
      FROM escalation.escalations c JOIN chain ON c.parent_id = chain.escalation_id
)
SELECT chain.root_id, chain.depth, c.escalation_id, c.parent_id, c.kind,
       p.target_team AS from_team, c.target_team AS to_team,
       (c.kind = 'functional' AND p.kind = 'functional'
        AND c.target_team IS DISTINCT FROM p.target_team) AS misroute,
       c.reasons -> 0 ->> 'reason' AS reason, c.created_at
  FROM chain
  JOIN escalation.escalations c ON c.escalation_id = chain.escalation_id
  JOIN escalation.escalations p ON p.escalation_id = chain.parent_id;
COMMENT ON VIEW escalation.reescalations IS
  'every re-escalation: its chain (root and depth), from which team to which, and whether it was a misroute (a functional escalation sent on to a different functional team)';

CREATE FUNCTION escalation.handoff(ticket_table regclass, ticket_key text, bot text,
                                   action text, skills text[] DEFAULT NULL,
                                   tried jsonb DEFAULT NULL, worked jsonb DEFAULT NULL,
                                   target_team text DEFAULT NULL, severity integer DEFAULT 2,
                                   language text DEFAULT NULL, summary text DEFAULT NULL,
                                   as_of timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    src integer;
    ctx jsonb;
    h jsonb;
    eid bigint;
BEGIN
    src := (escalation.attached_source(ticket_table)).source_id;
    IF bot IS NULL OR btrim(bot) = '' OR action IS NULL OR btrim(action) = '' THEN
        RAISE EXCEPTION 'a handoff needs the bot''s name and the action needed from a human'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF skills IS NULL AND target_team IS NULL THEN
        RAISE EXCEPTION 'a handoff needs the skills the action needs or a target team'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT escalation.is_clean_text_array(skills) THEN
        RAISE EXCEPTION 'skills must be a non-empty array without NULL or blank elements'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF severity IS NULL OR severity NOT BETWEEN 1 AND 4 THEN
        RAISE EXCEPTION 'severity must be between 1 and 4, not %', coalesce(severity::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF target_team IS NOT NULL AND NOT EXISTS (SELECT 1 FROM escalation.teams t WHERE t.name = target_team) THEN
        RAISE EXCEPTION 'team "%" does not exist', target_team USING ERRCODE = 'foreign_key_violation';
    END IF;
    -- the snapshot is taken as the extension's owner: only of a ticket the
    -- caller can read itself (its grants and row-level security apply)
    IF NOT escalation.caller_sees_ticket(src, ticket_key) THEN
        RAISE EXCEPTION 'ticket % does not exist in %', ticket_key, ticket_table
            USING ERRCODE = 'no_data_found';
    END IF;
    ctx := escalation.ticket_context(src, ticket_key);
    IF ctx IS NULL THEN
        RAISE EXCEPTION 'ticket % does not exist in %', ticket_key, ticket_table USING ERRCODE = 'no_data_found';
    END IF;
    h := jsonb_build_object('from', bot, 'action', action, 'skills', skills, 'tried', tried,
                            'worked', worked, 'summary', summary, 'at', as_of);
    ctx := ctx || jsonb_build_object('handoff', h, 'tried', tried);
    INSERT INTO escalation.escalations AS e
        (source_id, ticket_key, level, kind, origin, target_team, target_skills, severity,
         reasons, context, language, created_at, updated_at, last_actor, last_note, tenant)
    VALUES (src, ticket_key, 1, 'functional', 'handoff', target_team, skills, severity,
            jsonb_build_array(jsonb_build_object('rule', NULL, 'kind', 'handoff', 'by', bot,
                                                 'action', action, 'tried', tried, 'worked', worked)),
            ctx, language, as_of, as_of, bot, action, ctx #>> '{ticket,tenant}')
    ON CONFLICT (source_id, ticket_key, level, target_key)
       WHERE status IN ('queued', 'offered', 'accepted')
    DO NOTHING
    RETURNING e.escalation_id INTO eid;
    IF eid IS NULL THEN
        RAISE EXCEPTION 'ticket % already has an open escalation for this target', ticket_key
            USING ERRCODE = 'unique_violation';
    END IF;
    RETURN eid;
END
$$;
COMMENT ON FUNCTION escalation.handoff(regclass, text, text, text, text[], jsonb, jsonb, text, integer, text, text, timestamptz) IS
  'a bot or AI agent hands a ticket to a human: what it tried, what worked and the action needed go into the context snapshot and the reasons; the skills the action needs are what routing requires';

SELECT pg_catalog.pg_extension_config_dump('escalation.routing_weights', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.routing_settings', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.routing_sources', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.assignments', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.assignments_assignment_id_seq', '');

-- the functions created above come after section 8's REVOKE ... FROM PUBLIC
REVOKE ALL ON FUNCTION escalation.routing_config(), escalation.agent_load(text),
      escalation.sla_due(),
      escalation.route_plan(timestamptz, integer), escalation.explain_route(bigint, timestamptz),
      escalation.close_offer(), escalation.check_accept(bigint, text),
      escalation.write_assignee(integer, text, text),
      escalation.check_after_write(regprocedure, integer), escalation.validate_routing_source(),
      escalation.call_after_write(regprocedure, integer, text, text, bigint),
      escalation.offer(escalation.escalations, text, text, jsonb, text, timestamptz),
      escalation.requeue(bigint, text, text, text, timestamptz),
      escalation.overflow(escalation.escalations, text, jsonb, text, timestamptz),
      escalation.route(timestamptz, integer),
      escalation.decline(bigint, text, text, timestamptz),
      escalation.reassign(bigint, text, text, timestamptz),
      escalation.reescalate(bigint, text, text, text[], integer, text, timestamptz),
      escalation.handoff(regclass, text, text, text, text[], jsonb, jsonb, text, integer, text, text, timestamptz)
      FROM PUBLIC;
REVOKE ALL ON escalation.routing_weights, escalation.routing_settings, escalation.routing_sources,
      escalation.assignments, escalation.reescalations FROM PUBLIC;

GRANT SELECT, INSERT, UPDATE, DELETE ON escalation.routing_weights, escalation.routing_settings,
      escalation.routing_sources TO escalation_admin;
GRANT SELECT ON escalation.routing_weights, escalation.routing_settings, escalation.routing_sources
      TO escalation_agent, escalation_analyst;
GRANT SELECT ON escalation.assignments, escalation.reescalations
      TO escalation_admin, escalation_agent, escalation_analyst;
GRANT EXECUTE ON FUNCTION escalation.routing_config(), escalation.agent_load(text)
      TO escalation_admin, escalation_agent, escalation_analyst;
-- the validation trigger on routing_sources runs as the admin writing it
GRANT EXECUTE ON FUNCTION escalation.check_after_write(regprocedure, integer) TO escalation_admin;
GRANT EXECUTE ON FUNCTION
      escalation.route(timestamptz, integer),
      escalation.route_plan(timestamptz, integer),
      escalation.reassign(bigint, text, text, timestamptz)
      TO escalation_admin;
GRANT EXECUTE ON FUNCTION
      escalation.explain_route(bigint, timestamptz),
      escalation.decline(bigint, text, text, timestamptz),
      escalation.reescalate(bigint, text, text, text[], integer, text, timestamptz),
      escalation.handoff(regclass, text, text, text, text[], jsonb, jsonb, text, integer, text, text, timestamptz)
      TO escalation_admin, escalation_agent;


--------------------------------------------------------------------------
-- Metrics and analytics (issue 5)
--
-- Exact, fast SQL views for analysts.  The helpdesk's tables differ per
-- source, so the views read our own tables only:
--
--   ticket_facts      one row per ticket, written by the C ticket trigger
--                     (src/facts.c -> track_ticket_facts()) in the writer's
--                     transaction, and by a trigger on escalations (first
--                     escalation, count); backfill_facts() loads tickets
--                     that existed before.
--   ticket_transfers  every change of a mapped team or assignee column:
--                     the transfers the helpdesk makes itself (§3).
--   metric_days,      rollups, append-only deltas: every change of a fact
--   metric_tte,       appends its difference (-old +new) as a row, so that
--   metric_paths      writers never wait on a shared counter row;
--                     compact_metrics() folds them, views sum them.  A
--                     view is therefore exact whether or not compaction
--                     ran; compaction only keeps it fast.
--
-- Exact definitions: docs/metrics.md.  Every view is security_invoker and
-- keeps the tenant boundary: a source may be scoped to a tenant role
-- (metric_sources.tenant_role); rows of such a source are visible only to
-- members of that role (row-level security on our tables, and the same
-- test in views over the record).  Per ticket, the facts and the rollups
-- carry the ticket's tenant, and rows of a tenant escalation.tenant_roles
-- maps to a role are visible only to that role's members
-- (tenant_visible()).
--------------------------------------------------------------------------

CREATE TABLE escalation.metric_sources (
    source_id   integer PRIMARY KEY REFERENCES escalation.sources (source_id) ON DELETE CASCADE,
    track_facts boolean NOT NULL DEFAULT true,
    tenant_role name
);
COMMENT ON TABLE escalation.metric_sources IS
  'Metrics settings per source (no row: facts kept, no tenant scope). track_facts = false stops the trigger keeping ticket facts; tenant_role scopes the source''s metrics to members of that role';
COMMENT ON COLUMN escalation.metric_sources.tenant_role IS
  'only members of this role see the source''s facts and aggregates; NULL = every analyst';
CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON escalation.metric_sources
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.invalidate_cache();

CREATE FUNCTION escalation.visible_sources()
RETURNS integer[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.array_agg(s.source_id), '{}')
      FROM escalation.sources s
      LEFT JOIN escalation.metric_sources m ON m.source_id OPERATOR(pg_catalog.=) s.source_id
     WHERE m.tenant_role IS NULL
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) m.tenant_role AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER'))
$$;
COMMENT ON FUNCTION escalation.visible_sources() IS
  'the sources whose metrics the current user may see: unscoped ones and those of tenant roles it is a member of';

-- the tenant boundary per ticket: one ticket table may hold several
-- tenants (Chatwoot's account_id); the value of its mapped tenant column is
-- carried into the record (escalations.tenant, sla_tickets.fields), the
-- ticket facts and the rollups, and row-level security shows a reader only
-- the tenants whose role it is a member of (tenant_visible())
CREATE TABLE escalation.tenant_roles (
    tenant text PRIMARY KEY CHECK (btrim(tenant) <> ''),
    role   name NOT NULL
);
COMMENT ON TABLE escalation.tenant_roles IS
  'Which role a tenant''s readers are members of: rows of a tenant listed here (escalations and their events, assignments and SLA clocks, ticket facts, transfers and rollups) are visible only to members of its role; tenants not listed, and rows without a tenant, to every reader as before';
COMMENT ON COLUMN escalation.tenant_roles.tenant IS
  'the value of a source''s mapped tenant column, as text (as escalations.tenant holds it)';
COMMENT ON COLUMN escalation.tenant_roles.role IS
  'members of this role see the tenant''s rows; a role dropped later hides them from everyone';

CREATE FUNCTION escalation.tenant_visible(tenant text)
RETURNS boolean
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'escalation_tenant_visible';
COMMENT ON FUNCTION escalation.tenant_visible(text) IS
  'may the current user see rows of this tenant: true for NULL, for a tenant escalation.tenant_roles does not list, or when the user is a member of its role (false when that role was dropped). Reads tenant_roles once per statement (src/tenant.c): the predicate of the tenant policies';

CREATE TABLE escalation.ticket_facts (
    source_id          integer NOT NULL,
    ticket_key         text NOT NULL,
    created_at         timestamptz NOT NULL,
    status             text NOT NULL,
    priority           text,
    channel            text,
    team               text,
    assignee           text,
    account_key        text,
    account_tier       text,
    resolved_at        timestamptz,
    reopened           integer NOT NULL DEFAULT 0,
    transfers          integer NOT NULL DEFAULT 0,
    sentiment          float8,
    csat               numeric,
    escalations        integer NOT NULL DEFAULT 0,
    first_escalated_at timestamptz,
    first_team         text,
    first_reason       text,
    updated_at         timestamptz NOT NULL,
    tenant             text,
    PRIMARY KEY (source_id, ticket_key)
);
CREATE INDEX ticket_facts_account ON escalation.ticket_facts (account_key, created_at)
    WHERE account_key IS NOT NULL;
COMMENT ON TABLE escalation.ticket_facts IS
  'One row per ticket of every source that keeps facts: the mapped facts as the trigger last saw them, plus what metrics need (reopens, transfers, sentiment, CSAT, first escalation). Written by the triggers; read by the metric views';
COMMENT ON COLUMN escalation.ticket_facts.status IS 'meaning of the status: open, pending, solved, other or unknown';
COMMENT ON COLUMN escalation.ticket_facts.account_tier IS 'tier of the account (escalation.accounts) when the ticket was last written';
COMMENT ON COLUMN escalation.ticket_facts.resolved_at IS 'the mapped resolved time, else when the ticket last became solved; NULL while not solved';
COMMENT ON COLUMN escalation.ticket_facts.reopened IS 'how many times the ticket left the solved state';
COMMENT ON COLUMN escalation.ticket_facts.transfers IS 'observed transfers: changes of the mapped team or assignee column';
COMMENT ON COLUMN escalation.ticket_facts.sentiment IS 'polarity of subject and body (escalation.sentiment, with the source''s terms) when inserted or last edited; NULL for a ticket without an account (only at_risk_accounts reads it)';
COMMENT ON COLUMN escalation.ticket_facts.csat IS 'satisfaction score from the CSAT table mapped with escalation.attach_csat()';
COMMENT ON COLUMN escalation.ticket_facts.first_escalated_at IS 'creation time of the ticket''s first escalation (earliest created_at, then lowest escalation_id)';
COMMENT ON COLUMN escalation.ticket_facts.first_team IS 'target team of the first escalation';
COMMENT ON COLUMN escalation.ticket_facts.first_reason IS 'rule of the first reason of the first escalation, else its origin (manual, sla, ...)';
COMMENT ON COLUMN escalation.ticket_facts.tenant IS 'the ticket''s tenant (its mapped tenant column, as text) when last written; row-level security shows the row to that tenant''s readers (escalation.tenant_roles)';

CREATE TABLE escalation.ticket_transfers (
    transfer_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id     integer NOT NULL,
    ticket_key    text NOT NULL,
    hop           integer NOT NULL,
    from_team     text,
    to_team       text,
    from_assignee text,
    to_assignee   text,
    kind          text CHECK (kind IN ('functional', 'hierarchical', 'reassignment')),
    escalation_id bigint,
    previous_at   timestamptz NOT NULL,
    at            timestamptz NOT NULL,
    tenant        text
);
CREATE INDEX ticket_transfers_ticket ON escalation.ticket_transfers (source_id, ticket_key, hop);
COMMENT ON TABLE escalation.ticket_transfers IS
  'Observed transfers: every change of a ticket''s mapped team or assignee, as the helpdesk made it (the ticket trigger records them); part of the journey (escalation.ticket_journey)';
COMMENT ON COLUMN escalation.ticket_transfers.hop IS '1 for the ticket''s first transfer, 2 for the second...';
COMMENT ON COLUMN escalation.ticket_transfers.kind IS 'the receiving team''s kind (escalation.teams) when the team changed; reassignment when only the assignee did; NULL for a team we do not know';
COMMENT ON COLUMN escalation.ticket_transfers.escalation_id IS 'the ticket''s latest open escalation at the time, if any';
COMMENT ON COLUMN escalation.ticket_transfers.previous_at IS 'the previous transfer, or the ticket''s creation: at - previous_at is the time spent before this hop';
COMMENT ON COLUMN escalation.ticket_transfers.tenant IS 'the ticket''s tenant at the transfer';

-- the writers' side of the ticket facts: the ticket trigger appends what it
-- saw to this log (one narrow row, no index: src/facts.c), and
-- fold_facts() -- the worker, every cycle -- applies the log in order to
-- ticket_facts and, through its statement triggers, to the rollups.  So a
-- helpdesk write pays for one heap insert, not for the bookkeeping.
CREATE SEQUENCE escalation.fact_changes_change_id_seq;
CREATE TABLE escalation.fact_changes (
    change_id    bigint NOT NULL DEFAULT pg_catalog.nextval('escalation.fact_changes_change_id_seq'),
    source_id    integer NOT NULL,
    ticket_key   text NOT NULL,
    at           timestamptz NOT NULL,
    created_at   timestamptz,
    status       text NOT NULL,
    priority     text,
    channel      text,
    team         text,
    assignee     text,
    account_key  text,
    resolved_at  timestamptz,
    transferred  boolean NOT NULL,
    old_team     text,
    old_assignee text,
    sentiment    float8,
    tenant       text
);
ALTER SEQUENCE escalation.fact_changes_change_id_seq OWNED BY escalation.fact_changes.change_id;
COMMENT ON TABLE escalation.fact_changes IS
  'Ticket facts not yet folded: the ticket trigger appends the mapped facts of every ticket write here; escalation.fold_facts() (the worker, each cycle) applies them in change_id order to ticket_facts and the rollups, and deletes them';
COMMENT ON COLUMN escalation.fact_changes.transferred IS 'the mapped team or assignee column changed (old_team, old_assignee: the values before)';
COMMENT ON COLUMN escalation.fact_changes.sentiment IS 'polarity of subject and body when inserted or edited; NULL keeps the stored score';
COMMENT ON COLUMN escalation.fact_changes.tenant IS 'the ticket''s mapped tenant column, as text';

-- rollups: append-only deltas, folded by compact_metrics()
CREATE TABLE escalation.metric_days (
    source_id           integer NOT NULL,
    day                 date NOT NULL,
    team                text,
    channel             text,
    priority            text,
    account_tier        text,
    tickets             bigint NOT NULL,
    escalated           bigint NOT NULL,
    tte_secs            float8 NOT NULL,
    resolved            bigint NOT NULL,
    resolution_secs     float8 NOT NULL,
    esc_resolved        bigint NOT NULL,
    esc_resolution_secs float8 NOT NULL,
    esc_total_secs      float8 NOT NULL,
    reopened_tickets    bigint NOT NULL,
    transferred         bigint NOT NULL,
    transfers           bigint NOT NULL,
    folded              boolean NOT NULL DEFAULT false,
    tenant              text
);
CREATE INDEX metric_days_key ON escalation.metric_days (source_id, day);
CREATE INDEX metric_days_unfolded ON escalation.metric_days (source_id, day) WHERE NOT folded;
COMMENT ON TABLE escalation.metric_days IS
  'Rollup of ticket_facts per source, local creation day (source time zone), team, channel, priority, account tier and tenant; rows are deltas (sum them), compacted by compact_metrics()';

-- the month grain: per month, the sum of metric_days' folded rows, kept by
-- compact_metrics() and rebuild_metrics().  The month views read it plus
-- the delta rows of metric_days not yet compacted (metric_months_all): a
-- few thousand rows per source instead of one per day and key.
CREATE TABLE escalation.metric_months (
    source_id           integer NOT NULL,
    month               date NOT NULL,
    team                text,
    channel             text,
    priority            text,
    account_tier        text,
    tickets             bigint NOT NULL,
    escalated           bigint NOT NULL,
    tte_secs            float8 NOT NULL,
    resolved            bigint NOT NULL,
    resolution_secs     float8 NOT NULL,
    esc_resolved        bigint NOT NULL,
    esc_resolution_secs float8 NOT NULL,
    esc_total_secs      float8 NOT NULL,
    reopened_tickets    bigint NOT NULL,
    transferred         bigint NOT NULL,
    transfers           bigint NOT NULL,
    tenant              text
);
CREATE INDEX metric_months_key ON escalation.metric_months (source_id, month);
COMMENT ON TABLE escalation.metric_months IS
  'metric_days per source and local creation month (same keys and sums), of its folded rows only: written by compact_metrics() and rebuild_metrics(); the month views add the delta rows not yet compacted (escalation.metric_months_all)';

CREATE TABLE escalation.metric_tte (
    source_id integer NOT NULL,
    team      text,
    minutes   integer NOT NULL,
    n         bigint NOT NULL,
    secs      float8 NOT NULL,
    folded    boolean NOT NULL DEFAULT false,
    tenant    text
);
CREATE INDEX metric_tte_key ON escalation.metric_tte (source_id, team, minutes);
CREATE INDEX metric_tte_unfolded ON escalation.metric_tte (source_id) WHERE NOT folded;
COMMENT ON TABLE escalation.metric_tte IS
  'Histogram of time-to-escalation in whole minutes per source, first target team and tenant (deltas, compacted by compact_metrics()): exact percentiles without sorting every escalation';

CREATE TABLE escalation.metric_paths (
    source_id   integer NOT NULL,
    from_team   text,
    to_team     text,
    path        boolean NOT NULL,
    escalations bigint NOT NULL,
    reescalated bigint NOT NULL,
    folded      boolean NOT NULL DEFAULT false,
    tenant      text
);
CREATE INDEX metric_paths_key ON escalation.metric_paths (source_id, path);
CREATE INDEX metric_paths_unfolded ON escalation.metric_paths (source_id) WHERE NOT folded;
COMMENT ON TABLE escalation.metric_paths IS
  'Rollup of escalations per tenant (escalations.tenant): path = false rows count escalations per target team (from_team) and how many needed a further one; path = true rows count re-escalations from_team -> to_team (deltas, compacted by compact_metrics())';

-- a COPY into our own record (pg_restore) brings its rollups with it
CREATE FUNCTION escalation.restoring()
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(pg_catalog.current_query() OPERATOR(pg_catalog.~*)
                    '^\s*COPY\s+"?escalation"?\."?(ticket_facts|escalations)"?[\s(]', false)
$$;
COMMENT ON FUNCTION escalation.restoring() IS
  'internal: true while the top-level statement is a COPY into escalation.ticket_facts or escalation.escalations (pg_restore), whose rollups are restored with them';

-- a ticket's contribution to metric_days, metric_tte
CREATE FUNCTION escalation.fact_days(f escalation.ticket_facts, tz text, sign integer)
RETURNS escalation.metric_days
LANGUAGE sql IMMUTABLE
AS $$
    -- one ROW(...) column, so that the planner can inline the function
    SELECT ROW(f.source_id,
           (f.created_at AT TIME ZONE tz)::date,
           f.team, f.channel, f.priority, f.account_tier,
           sign::bigint,
           (sign * (f.escalations OPERATOR(pg_catalog.>) 0)::integer)::bigint,
           CASE WHEN f.escalations OPERATOR(pg_catalog.>) 0
                THEN sign * extract(epoch FROM f.first_escalated_at OPERATOR(pg_catalog.-) f.created_at)::float8
                ELSE 0 END,
           (sign * (f.resolved_at IS NOT NULL)::integer)::bigint,
           coalesce(sign * extract(epoch FROM f.resolved_at OPERATOR(pg_catalog.-) f.created_at)::float8, 0),
           (sign * (f.resolved_at IS NOT NULL AND f.escalations OPERATOR(pg_catalog.>) 0)::integer)::bigint,
           CASE WHEN f.escalations OPERATOR(pg_catalog.>) 0 AND f.resolved_at IS NOT NULL
                THEN sign * extract(epoch FROM f.resolved_at OPERATOR(pg_catalog.-) f.first_escalated_at)::float8
                ELSE 0 END,
           CASE WHEN f.escalations OPERATOR(pg_catalog.>) 0 AND f.resolved_at IS NOT NULL
                THEN sign * extract(epoch FROM f.resolved_at OPERATOR(pg_catalog.-) f.created_at)::float8
                ELSE 0 END,
           (sign * (f.reopened OPERATOR(pg_catalog.>) 0)::integer)::bigint,
           (sign * (f.transfers OPERATOR(pg_catalog.>) 0)::integer)::bigint,
           (sign * f.transfers)::bigint,
           false, f.tenant)::escalation.metric_days
$$;
COMMENT ON FUNCTION escalation.fact_days(escalation.ticket_facts, text, integer) IS
  'internal: what one ticket adds to (sign 1) or takes from (sign -1) escalation.metric_days';

CREATE FUNCTION escalation.tte_minutes(f escalation.ticket_facts)
RETURNS integer
LANGUAGE sql IMMUTABLE
AS $$
    SELECT pg_catalog.floor(extract(epoch FROM f.first_escalated_at OPERATOR(pg_catalog.-) f.created_at)
                            OPERATOR(pg_catalog./) 60)::integer
$$;
COMMENT ON FUNCTION escalation.tte_minutes(escalation.ticket_facts) IS
  'internal: time-to-escalation of a ticket in whole minutes (floor); NULL when not escalated';

-- statement triggers on ticket_facts: append the differences
CREATE FUNCTION escalation.facts_delta()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- pg_restore COPYs ticket_facts and the rollups alike: the restored
    -- rollups already count these rows
    IF escalation.restoring() THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO escalation.metric_days
        SELECT (d).source_id, (d).day, (d).team, (d).channel, (d).priority, (d).account_tier,
               sum((d).tickets), sum((d).escalated), sum((d).tte_secs), sum((d).resolved),
               sum((d).resolution_secs), sum((d).esc_resolved), sum((d).esc_resolution_secs),
               sum((d).esc_total_secs), sum((d).reopened_tickets), sum((d).transferred),
               sum((d).transfers), false, (d).tenant
          FROM (SELECT escalation.fact_days(n, s.time_zone, 1) AS d
                  FROM new_facts n JOIN escalation.sources s ON s.source_id = n.source_id OFFSET 0) x
         GROUP BY 1, 2, 3, 4, 5, 6, 19;
        INSERT INTO escalation.metric_tte
        SELECT n.source_id, n.first_team, escalation.tte_minutes(n), count(*),
               sum(extract(epoch FROM n.first_escalated_at - n.created_at)::float8), false, n.tenant
          FROM new_facts n WHERE n.escalations > 0
         GROUP BY 1, 2, 3, 7;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO escalation.metric_days
        SELECT (d).source_id, (d).day, (d).team, (d).channel, (d).priority, (d).account_tier,
               sum((d).tickets), sum((d).escalated), sum((d).tte_secs), sum((d).resolved),
               sum((d).resolution_secs), sum((d).esc_resolved), sum((d).esc_resolution_secs),
               sum((d).esc_total_secs), sum((d).reopened_tickets), sum((d).transferred),
               sum((d).transfers), false, (d).tenant
          FROM (SELECT escalation.fact_days(o, s.time_zone, -1) AS d
                  FROM old_facts o JOIN escalation.sources s ON s.source_id = o.source_id
                UNION ALL
                SELECT escalation.fact_days(n, s.time_zone, 1)
                  FROM new_facts n JOIN escalation.sources s ON s.source_id = n.source_id OFFSET 0) x
         GROUP BY 1, 2, 3, 4, 5, 6, 19
        HAVING sum((d).tickets) <> 0 OR sum((d).escalated) <> 0 OR sum((d).tte_secs) <> 0
            OR sum((d).resolved) <> 0 OR sum((d).resolution_secs) <> 0
            OR sum((d).esc_resolved) <> 0 OR sum((d).esc_resolution_secs) <> 0
            OR sum((d).esc_total_secs) <> 0 OR sum((d).reopened_tickets) <> 0
            OR sum((d).transferred) <> 0 OR sum((d).transfers) <> 0;
        INSERT INTO escalation.metric_tte
        SELECT source_id, team, minutes, sum(n), sum(secs), false, tenant
          FROM (SELECT o.source_id, o.first_team AS team, escalation.tte_minutes(o) AS minutes,
                       -1 AS n, -extract(epoch FROM o.first_escalated_at - o.created_at)::float8 AS secs,
                       o.tenant
                  FROM old_facts o WHERE o.escalations > 0
                UNION ALL
                SELECT n.source_id, n.first_team, escalation.tte_minutes(n),
                       1, extract(epoch FROM n.first_escalated_at - n.created_at)::float8, n.tenant
                  FROM new_facts n WHERE n.escalations > 0) x
         GROUP BY 1, 2, 3, 7
        HAVING sum(n) <> 0 OR sum(secs) <> 0;
    ELSE
        INSERT INTO escalation.metric_days
        SELECT (d).source_id, (d).day, (d).team, (d).channel, (d).priority, (d).account_tier,
               sum((d).tickets), sum((d).escalated), sum((d).tte_secs), sum((d).resolved),
               sum((d).resolution_secs), sum((d).esc_resolved), sum((d).esc_resolution_secs),
               sum((d).esc_total_secs), sum((d).reopened_tickets), sum((d).transferred),
               sum((d).transfers), false, (d).tenant
          FROM (SELECT escalation.fact_days(o, s.time_zone, -1) AS d
                  FROM old_facts o JOIN escalation.sources s ON s.source_id = o.source_id OFFSET 0) x
         GROUP BY 1, 2, 3, 4, 5, 6, 19;
        INSERT INTO escalation.metric_tte
        SELECT o.source_id, o.first_team, escalation.tte_minutes(o), -count(*),
               -sum(extract(epoch FROM o.first_escalated_at - o.created_at)::float8), false, o.tenant
          FROM old_facts o WHERE o.escalations > 0
         GROUP BY 1, 2, 3, 7;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION escalation.facts_delta() IS
  'statement trigger on escalation.ticket_facts: appends what the statement changed to the rollups (metric_days, metric_tte, per tenant too), as deltas';

CREATE TRIGGER facts_delta_insert AFTER INSERT ON escalation.ticket_facts
    REFERENCING NEW TABLE AS new_facts
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.facts_delta();
CREATE TRIGGER facts_delta_update AFTER UPDATE ON escalation.ticket_facts
    REFERENCING OLD TABLE AS old_facts NEW TABLE AS new_facts
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.facts_delta();
CREATE TRIGGER facts_delta_delete AFTER DELETE ON escalation.ticket_facts
    REFERENCING OLD TABLE AS old_facts
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.facts_delta();

-- what the ticket trigger reports (src/facts.c), as the extension's owner
CREATE FUNCTION escalation.track_ticket_facts(
    p_source integer, p_key text, p_at timestamptz, p_created timestamptz, p_status text,
    p_priority text, p_channel text, p_team text, p_assignee text, p_account text,
    p_resolved timestamptz, p_transferred boolean, p_old_team text, p_old_assignee text,
    p_sentiment float8, p_tenant text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    f escalation.ticket_facts;
    v_tier text;
    v_solved boolean := p_status = 'solved' OR (p_status = 'unknown' AND p_resolved IS NOT NULL);
    v_kind text;
    v_last timestamptz;
    v_esc bigint;
BEGIN
    IF p_account IS NOT NULL THEN
        SELECT a.tier INTO v_tier FROM escalation.accounts a WHERE a.account_key = p_account;
    END IF;
    SELECT * INTO f FROM escalation.ticket_facts x
     WHERE x.source_id = p_source AND x.ticket_key = p_key
       FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO escalation.ticket_facts AS x
            (source_id, ticket_key, created_at, status, priority, channel, team, assignee,
             account_key, account_tier, resolved_at, sentiment, updated_at, tenant)
        VALUES (p_source, p_key, coalesce(p_created, p_at), p_status, p_priority, p_channel,
                p_team, p_assignee, p_account, v_tier,
                CASE WHEN v_solved THEN coalesce(p_resolved, p_at) END, p_sentiment, p_at, p_tenant);
        -- a ticket inserted before metrics knew it gets its escalations now
        IF EXISTS (SELECT 1 FROM escalation.escalations e
                    WHERE e.source_id = p_source AND e.ticket_key = p_key) THEN
            PERFORM escalation.refresh_first_escalation(p_source, p_key);
        END IF;
        RETURN;
    END IF;

    IF p_transferred THEN
        IF p_team IS DISTINCT FROM p_old_team THEN
            SELECT t.kind INTO v_kind FROM escalation.teams t WHERE t.name = p_team;
        ELSE
            v_kind := 'reassignment';
        END IF;
        SELECT max(t.at) INTO v_last FROM escalation.ticket_transfers t
         WHERE t.source_id = p_source AND t.ticket_key = p_key;
        -- the latest escalation open at the time of the change
        SELECT max(e.escalation_id) INTO v_esc FROM escalation.escalations e
         WHERE e.source_id = p_source AND e.ticket_key = p_key
           AND e.created_at <= p_at AND (e.closed_at IS NULL OR e.closed_at > p_at);
        INSERT INTO escalation.ticket_transfers
            (source_id, ticket_key, hop, from_team, to_team, from_assignee, to_assignee, kind,
             escalation_id, previous_at, at, tenant)
        VALUES (p_source, p_key, f.transfers + 1, p_old_team, p_team, p_old_assignee, p_assignee,
                v_kind, v_esc, coalesce(v_last, coalesce(p_created, f.created_at)), p_at, p_tenant);
    END IF;

    UPDATE escalation.ticket_facts x
       SET created_at = coalesce(p_created, x.created_at),
           status = p_status,
           priority = p_priority,
           channel = p_channel,
           team = p_team,
           assignee = p_assignee,
           account_key = p_account,
           account_tier = v_tier,
           resolved_at = CASE WHEN NOT v_solved THEN NULL
                              WHEN p_resolved IS NOT NULL THEN p_resolved
                              WHEN x.resolved_at IS NOT NULL THEN x.resolved_at
                              ELSE p_at END,
           reopened = x.reopened + (x.resolved_at IS NOT NULL AND NOT v_solved)::integer,
           transfers = x.transfers + p_transferred::integer,
           sentiment = coalesce(p_sentiment, x.sentiment),
           updated_at = p_at,
           tenant = p_tenant
     WHERE x.source_id = p_source AND x.ticket_key = p_key;
END
$$;
COMMENT ON FUNCTION escalation.track_ticket_facts(integer, text, timestamptz, timestamptz, text,
    text, text, text, text, text, timestamptz, boolean, text, text, float8, text) IS
  'internal: the ticket trigger reports a ticket''s mapped facts; keeps escalation.ticket_facts (reopens, resolution, sentiment) and records observed transfers';

-- the log, applied: oldest change first
CREATE FUNCTION escalation.fold_facts(max_changes integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c escalation.fact_changes;
    t record;
    n bigint := 0;
BEGIN
    IF max_changes IS NOT NULL AND max_changes < 1 THEN
        RAISE EXCEPTION 'max_changes must be at least 1, or NULL for all'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one fold at a time, so that a ticket's changes apply in order.  A
    -- change not yet committed is invisible here and folded next time:
    -- later changes of the same ticket wait for it (the helpdesk's row lock)
    PERFORM pg_advisory_xact_lock(pg_catalog.hashtext('escalation.fold_facts'));
    FOR c IN
        WITH next AS (SELECT f.ctid AS tid FROM escalation.fact_changes f
                       ORDER BY f.change_id LIMIT max_changes),
             gone AS (DELETE FROM escalation.fact_changes f USING next
                       WHERE f.ctid = next.tid RETURNING f.*)
        SELECT * FROM gone ORDER BY change_id
    LOOP
        PERFORM escalation.track_ticket_facts(c.source_id, c.ticket_key, c.at, c.created_at,
            c.status, c.priority, c.channel, c.team, c.assignee, c.account_key, c.resolved_at,
            c.transferred, c.old_team, c.old_assignee, c.sentiment, c.tenant);
        n := n + 1;
    END LOOP;
    -- tickets whose escalations changed: recomputed from the record, in
    -- any order
    FOR t IN
        WITH next AS (SELECT f.ctid AS tid FROM escalation.escalation_changes f
                       LIMIT CASE WHEN max_changes IS NULL THEN NULL
                                  ELSE greatest(max_changes - n, 0) END),
             gone AS (DELETE FROM escalation.escalation_changes f USING next
                       WHERE f.ctid = next.tid RETURNING f.source_id, f.ticket_key)
        SELECT DISTINCT g.source_id, g.ticket_key FROM gone g
    LOOP
        PERFORM escalation.refresh_first_escalation(t.source_id, t.ticket_key);
        PERFORM escalation.refresh_ticket_paths(t.source_id, t.ticket_key);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION escalation.fold_facts(integer) IS
  'applies the logged ticket writes (escalation.fact_changes), oldest first, to ticket_facts, transfers and the rollups, then recomputes the first escalation and re-escalation paths of tickets whose escalations changed (escalation.escalation_changes); at most max_changes changes (NULL: all); returns how many. The worker runs it every cycle; call it for figures up to the last committed write, or from pg_cron where the worker is off';

-- the first escalation of a ticket, recomputed from the record
CREATE FUNCTION escalation.refresh_first_escalation(p_source integer, p_key text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE escalation.ticket_facts f
       SET escalations = e.n, first_escalated_at = e.created_at, first_team = e.target_team,
           first_reason = e.reason
      FROM (SELECT count(*) OVER () AS n, x.created_at, x.target_team,
                   coalesce(x.reasons OPERATOR(pg_catalog.->) 0 OPERATOR(pg_catalog.->>) 'rule',
                            x.origin) AS reason
              FROM escalation.escalations x
             WHERE x.source_id OPERATOR(pg_catalog.=) p_source
               AND x.ticket_key OPERATOR(pg_catalog.=) p_key
             ORDER BY x.created_at, x.escalation_id
             LIMIT 1) e
     WHERE f.source_id OPERATOR(pg_catalog.=) p_source
       AND f.ticket_key OPERATOR(pg_catalog.=) p_key
       AND (f.escalations, f.first_escalated_at, f.first_team, f.first_reason)
           IS DISTINCT FROM (e.n::integer, e.created_at, e.target_team, e.reason)
$$;
COMMENT ON FUNCTION escalation.refresh_first_escalation(integer, text) IS
  'internal: sets a ticket''s escalation count and first escalation in ticket_facts from escalation.escalations';

-- the escalation an escalation re-escalates: its parent, else the ticket's
-- previous escalation (by escalation_id)
CREATE FUNCTION escalation.previous_escalation(e escalation.escalations)
RETURNS bigint
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(e.parent_id,
                    (SELECT max(p.escalation_id) FROM escalation.escalations p
                      WHERE p.source_id OPERATOR(pg_catalog.=) e.source_id
                        AND p.ticket_key OPERATOR(pg_catalog.=) e.ticket_key
                        AND p.escalation_id OPERATOR(pg_catalog.<) e.escalation_id))
$$;
COMMENT ON FUNCTION escalation.previous_escalation(escalation.escalations) IS
  'the escalation this one re-escalates: parent_id when set, else the same ticket''s escalation with the next lower escalation_id; NULL for a ticket''s first';

-- the escalation side: an escalation inserted or given a new target team
-- marks its ticket (a C trigger: one heap insert), and fold_facts()
-- recomputes that ticket's first escalation and its share of metric_paths
-- from the record.  Recomputing from the record, not applying the change,
-- makes the fold independent of the order in which changes commit.
CREATE TABLE escalation.escalation_changes (
    source_id  integer NOT NULL,
    ticket_key text NOT NULL
);
COMMENT ON TABLE escalation.escalation_changes IS
  'Tickets whose escalations changed (inserted, or a new target team) since the last escalation.fold_facts(): their first escalation and re-escalation paths are recomputed from escalation.escalations';

CREATE TABLE escalation.ticket_paths (
    source_id   integer NOT NULL,
    ticket_key  text NOT NULL,
    from_team   text,
    to_team     text,
    path        boolean NOT NULL,
    escalations bigint NOT NULL,
    reescalated bigint NOT NULL,
    tenant      text
);
CREATE INDEX ticket_paths_ticket ON escalation.ticket_paths (source_id, ticket_key);
COMMENT ON TABLE escalation.ticket_paths IS
  'Each ticket''s share of escalation.metric_paths as last folded (same columns), so that a fold adds the difference';

CREATE FUNCTION escalation.facts_escalated()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'escalation_facts_escalated';
COMMENT ON FUNCTION escalation.facts_escalated() IS
  'AFTER INSERT or UPDATE OF target_team trigger on escalation.escalations: marks the ticket in escalation.escalation_changes for the next fold_facts() (not during a restore''s COPY)';

CREATE TRIGGER facts_escalated AFTER INSERT ON escalation.escalations
    FOR EACH ROW EXECUTE FUNCTION escalation.facts_escalated();
CREATE TRIGGER facts_retargeted AFTER UPDATE OF target_team ON escalation.escalations
    FOR EACH ROW WHEN (OLD.target_team IS DISTINCT FROM NEW.target_team)
    EXECUTE FUNCTION escalation.facts_escalated();

-- a ticket's share of metric_paths, from the record: per target team its
-- escalations and how many needed a further one; per path the
-- re-escalations from one team to the next
CREATE FUNCTION escalation.paths_of_ticket(p_source integer, p_key text)
RETURNS TABLE (from_team text, to_team text, path boolean, escalations bigint, reescalated bigint,
               tenant text)
LANGUAGE sql STABLE
AS $$
    WITH e AS (
        SELECT x.escalation_id, x.target_team, x.tenant,
               coalesce(x.parent_id,
                        pg_catalog.lag(x.escalation_id) OVER (ORDER BY x.escalation_id)) AS prev
          FROM escalation.escalations x
         WHERE x.source_id OPERATOR(pg_catalog.=) p_source
           AND x.ticket_key OPERATOR(pg_catalog.=) p_key)
    SELECT p.target_team, c.target_team, true, 0::bigint, pg_catalog.count(*), c.tenant
      FROM e c JOIN e p ON p.escalation_id OPERATOR(pg_catalog.=) c.prev
     GROUP BY p.target_team, c.target_team, c.tenant
    UNION ALL
    SELECT e.target_team, NULL, false, pg_catalog.count(*),
           pg_catalog.count(*) FILTER (WHERE EXISTS (SELECT 1 FROM e c
                                                     WHERE c.prev OPERATOR(pg_catalog.=) e.escalation_id)),
           e.tenant
      FROM e
     GROUP BY e.target_team, e.tenant
$$;
COMMENT ON FUNCTION escalation.paths_of_ticket(integer, text) IS
  'internal: one ticket''s share of escalation.metric_paths, from escalation.escalations (a re-escalation counts for the tenant of the later escalation)';

CREATE FUNCTION escalation.refresh_ticket_paths(p_source integer, p_key text)
RETURNS void
LANGUAGE sql
AS $$
    WITH old AS (
        DELETE FROM escalation.ticket_paths t
         WHERE t.source_id OPERATOR(pg_catalog.=) p_source
           AND t.ticket_key OPERATOR(pg_catalog.=) p_key
        RETURNING t.from_team, t.to_team, t.path, t.escalations, t.reescalated, t.tenant),
    new AS (
        INSERT INTO escalation.ticket_paths
        SELECT p_source, p_key, n.from_team, n.to_team, n.path, n.escalations, n.reescalated, n.tenant
          FROM escalation.paths_of_ticket(p_source, p_key) n
        RETURNING from_team, to_team, path, escalations, reescalated, tenant)
    INSERT INTO escalation.metric_paths
    SELECT p_source, d.from_team, d.to_team, d.path, pg_catalog.sum(d.escalations),
           pg_catalog.sum(d.reescalated), false, d.tenant
      FROM (SELECT o.from_team, o.to_team, o.path, OPERATOR(pg_catalog.-) o.escalations AS escalations,
                   OPERATOR(pg_catalog.-) o.reescalated AS reescalated, o.tenant
              FROM old o
            UNION ALL
            SELECT n.from_team, n.to_team, n.path, n.escalations, n.reescalated, n.tenant FROM new n) d
     GROUP BY d.from_team, d.to_team, d.path, d.tenant
    HAVING pg_catalog.sum(d.escalations) OPERATOR(pg_catalog.<>) 0
        OR pg_catalog.sum(d.reescalated) OPERATOR(pg_catalog.<>) 0
$$;
COMMENT ON FUNCTION escalation.refresh_ticket_paths(integer, text) IS
  'internal: recomputes a ticket''s share of metric_paths (escalation.ticket_paths) and appends the difference to metric_paths';

CREATE INDEX escalations_parent ON escalation.escalations (parent_id) WHERE parent_id IS NOT NULL;

-- the re-escalation rollup of a source, from the record
CREATE FUNCTION escalation.rebuild_paths(p_source integer)
RETURNS void
LANGUAGE sql
AS $$
    DELETE FROM escalation.ticket_paths t WHERE t.source_id OPERATOR(pg_catalog.=) p_source;
    INSERT INTO escalation.ticket_paths
    WITH e AS (
        SELECT x.ticket_key, x.escalation_id, x.target_team, x.tenant,
               coalesce(x.parent_id,
                        pg_catalog.lag(x.escalation_id) OVER (PARTITION BY x.ticket_key
                                                              ORDER BY x.escalation_id)) AS prev
          FROM escalation.escalations x
         WHERE x.source_id OPERATOR(pg_catalog.=) p_source),
    parents AS (SELECT DISTINCT e.prev FROM e WHERE e.prev IS NOT NULL)
    SELECT p_source, c.ticket_key, p.target_team, c.target_team, true, 0, pg_catalog.count(*), c.tenant
      FROM e c JOIN e p ON p.escalation_id OPERATOR(pg_catalog.=) c.prev
     GROUP BY c.ticket_key, p.target_team, c.target_team, c.tenant
    UNION ALL
    SELECT p_source, e.ticket_key, e.target_team, NULL, false, pg_catalog.count(*),
           pg_catalog.count(*) FILTER (WHERE pa.prev IS NOT NULL), e.tenant
      FROM e LEFT JOIN parents pa ON pa.prev OPERATOR(pg_catalog.=) e.escalation_id
     GROUP BY e.ticket_key, e.target_team, e.tenant;
    DELETE FROM escalation.metric_paths m WHERE m.source_id OPERATOR(pg_catalog.=) p_source;
    INSERT INTO escalation.metric_paths
    SELECT p_source, t.from_team, t.to_team, t.path, pg_catalog.sum(t.escalations),
           pg_catalog.sum(t.reescalated), true, t.tenant
      FROM escalation.ticket_paths t
     WHERE t.source_id OPERATOR(pg_catalog.=) p_source
     GROUP BY t.from_team, t.to_team, t.path, t.tenant;
$$;
COMMENT ON FUNCTION escalation.rebuild_paths(integer) IS
  'internal: recomputes the re-escalation rollup (metric_paths) of a source, and each ticket''s share of it (ticket_paths), from escalation.escalations';

-- folding the deltas: one row per key; views are exact before and after
CREATE FUNCTION escalation.compact_metrics()
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    written bigint;
    total bigint := 0;
    v_sources integer[];
    v_months date[];
BEGIN
    -- one compaction at a time; writers never wait (they only append)
    PERFORM pg_advisory_xact_lock(pg_catalog.hashtext('escalation.compact_metrics'));

    -- metric_days: the days with delta rows in the months that had some
    -- when this began; then metric_months of those months, recomputed from
    -- their folded days.  Delta rows committed meanwhile in other months
    -- stay unfolded (the views add them) until the next compaction.
    SELECT coalesce(array_agg(x.source_id), '{}'), coalesce(array_agg(x.month), '{}')
      INTO v_sources, v_months
      FROM (SELECT DISTINCT m.source_id, date_trunc('month', m.day)::date AS month
              FROM escalation.metric_days m WHERE NOT m.folded) x;
    WITH touched AS (SELECT t.source_id, t.month FROM unnest(v_sources, v_months) AS t(source_id, month)),
    keys AS (SELECT DISTINCT m.source_id, m.day
               FROM escalation.metric_days m
               JOIN touched t ON t.source_id = m.source_id AND m.day >= t.month
                             AND m.day < (t.month + interval '1 month')::date
              WHERE NOT m.folded),
    gone AS (DELETE FROM escalation.metric_days m USING keys k
              WHERE m.source_id = k.source_id AND m.day = k.day RETURNING m.*)
    INSERT INTO escalation.metric_days
    SELECT source_id, day, team, channel, priority, account_tier, sum(tickets), sum(escalated),
           sum(tte_secs), sum(resolved), sum(resolution_secs), sum(esc_resolved),
           sum(esc_resolution_secs), sum(esc_total_secs), sum(reopened_tickets),
           sum(transferred), sum(transfers), true, tenant
      FROM gone
     GROUP BY 1, 2, 3, 4, 5, 6, 19
    HAVING sum(tickets) <> 0 OR sum(escalated) <> 0 OR sum(resolved) <> 0
        OR sum(reopened_tickets) <> 0 OR sum(transfers) <> 0;
    GET DIAGNOSTICS written = ROW_COUNT;
    total := total + written;
    DELETE FROM escalation.metric_months mm USING unnest(v_sources, v_months) AS t(source_id, month)
     WHERE mm.source_id = t.source_id AND mm.month = t.month;
    INSERT INTO escalation.metric_months
    SELECT m.source_id, t.month, m.team, m.channel, m.priority, m.account_tier, sum(m.tickets),
           sum(m.escalated), sum(m.tte_secs), sum(m.resolved), sum(m.resolution_secs),
           sum(m.esc_resolved), sum(m.esc_resolution_secs), sum(m.esc_total_secs),
           sum(m.reopened_tickets), sum(m.transferred), sum(m.transfers), m.tenant
      FROM unnest(v_sources, v_months) AS t(source_id, month)
      JOIN escalation.metric_days m ON m.source_id = t.source_id AND m.day >= t.month
                                   AND m.day < (t.month + interval '1 month')::date
     WHERE m.folded
     GROUP BY m.source_id, t.month, m.team, m.channel, m.priority, m.account_tier, m.tenant;

    WITH keys AS (SELECT DISTINCT source_id, team FROM escalation.metric_tte WHERE NOT folded),
    gone AS (DELETE FROM escalation.metric_tte m USING keys k
              WHERE m.source_id = k.source_id AND m.team IS NOT DISTINCT FROM k.team RETURNING m.*)
    INSERT INTO escalation.metric_tte
    SELECT source_id, team, minutes, sum(n), sum(secs), true, tenant
      FROM gone GROUP BY 1, 2, 3, 7 HAVING sum(n) <> 0;
    GET DIAGNOSTICS written = ROW_COUNT;
    total := total + written;

    WITH keys AS (SELECT DISTINCT source_id FROM escalation.metric_paths WHERE NOT folded),
    gone AS (DELETE FROM escalation.metric_paths m USING keys k
              WHERE m.source_id = k.source_id RETURNING m.*)
    INSERT INTO escalation.metric_paths
    SELECT source_id, from_team, to_team, path, sum(escalations), sum(reescalated), true, tenant
      FROM gone GROUP BY 1, 2, 3, 4, 8 HAVING sum(escalations) <> 0 OR sum(reescalated) <> 0;
    GET DIAGNOSTICS written = ROW_COUNT;
    total := total + written;
    RETURN total;
END
$$;
COMMENT ON FUNCTION escalation.compact_metrics() IS
  'folds the rollups'' delta rows into one row per key (the views sum rows, so they are exact either way; folding keeps them fast). The worker runs it (run_batch, once escalation.batch_size delta rows piled up); by hand or pg_cron where the worker is off; returns the rows written';

-- rollups from scratch, set-based (after a bulk load or a TRUNCATE)
CREATE FUNCTION escalation.rebuild_metrics()
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s integer;
BEGIN
    -- no fold and no compaction meanwhile: the worker's batches try these
    -- locks and skip the metrics rather than wait for the rebuild
    PERFORM pg_advisory_xact_lock(pg_catalog.hashtext('escalation.fold_facts'));
    PERFORM pg_advisory_xact_lock(pg_catalog.hashtext('escalation.compact_metrics'));
    LOCK TABLE escalation.ticket_facts IN SHARE MODE;
    TRUNCATE escalation.metric_days, escalation.metric_months, escalation.metric_tte,
             escalation.metric_paths, escalation.ticket_paths;
    INSERT INTO escalation.metric_days
    SELECT (d).source_id, (d).day, (d).team, (d).channel, (d).priority, (d).account_tier,
           sum((d).tickets), sum((d).escalated), sum((d).tte_secs), sum((d).resolved),
           sum((d).resolution_secs), sum((d).esc_resolved), sum((d).esc_resolution_secs),
           sum((d).esc_total_secs), sum((d).reopened_tickets), sum((d).transferred),
           sum((d).transfers), true, (d).tenant
      FROM (SELECT escalation.fact_days(f, x.time_zone, 1) AS d
              FROM escalation.ticket_facts f
              JOIN escalation.sources x ON x.source_id = f.source_id OFFSET 0) q
     GROUP BY 1, 2, 3, 4, 5, 6, 19;
    INSERT INTO escalation.metric_months
    SELECT m.source_id, date_trunc('month', m.day)::date, m.team, m.channel, m.priority,
           m.account_tier, sum(m.tickets), sum(m.escalated), sum(m.tte_secs), sum(m.resolved),
           sum(m.resolution_secs), sum(m.esc_resolved), sum(m.esc_resolution_secs),
           sum(m.esc_total_secs), sum(m.reopened_tickets), sum(m.transferred), sum(m.transfers),
           m.tenant
      FROM escalation.metric_days m
     GROUP BY 1, 2, 3, 4, 5, 6, 18;
    INSERT INTO escalation.metric_tte
    SELECT f.source_id, f.first_team, escalation.tte_minutes(f), count(*),
           sum(extract(epoch FROM f.first_escalated_at - f.created_at)::float8), true, f.tenant
      FROM escalation.ticket_facts f WHERE f.escalations > 0
     GROUP BY 1, 2, 3, 7;
    FOR s IN SELECT DISTINCT e.source_id FROM escalation.escalations e LOOP
        PERFORM escalation.rebuild_paths(s);
    END LOOP;
END
$$;
COMMENT ON FUNCTION escalation.rebuild_metrics() IS
  'recomputes every rollup from ticket_facts and escalation.escalations, set-based (after backfill_facts() or a bulk load)';

-- tickets that existed before the trigger saw them
CREATE FUNCTION escalation.backfill_facts(ticket_table regclass, as_of timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s escalation.sources;
    m jsonb;
    sql text;
    n bigint;
    col_created text;
    col_resolved text;
BEGIN
    s := escalation.attached_source(ticket_table);
    IF NOT pg_has_role(coalesce(nullif(current_setting('role'), 'none'), session_user::text)::name, (SELECT c.relowner FROM pg_class c WHERE c.oid = ticket_table), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', ticket_table
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF s.lookups <> '{}'::jsonb THEN
        RAISE EXCEPTION 'source "%" reads values through lookup tables', s.name
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Its facts are kept by the trigger as tickets change; backfill covers direct value maps only.';
    END IF;
    m := s.mapping;
    col_created := CASE WHEN m ? 'created_at' THEN escalation.instant_expr(ticket_table, m->>'created_at') END;
    col_resolved := CASE WHEN m ? 'resolved_at' THEN escalation.instant_expr(ticket_table, m->>'resolved_at') END;
    -- identifiers come from the validated mapping, quoted; values are parameters
    sql := format(
        'INSERT INTO escalation.ticket_facts AS f (source_id, ticket_key, created_at, status, priority, '
        '    channel, team, assignee, account_key, account_tier, resolved_at, updated_at, tenant) '
        'SELECT $1, q.k, q.created, q.st, q.pr, q.ch, q.tm, q.asg, q.acc, a.tier, '
        '       CASE WHEN q.st = ''solved'' OR (q.st = ''unknown'' AND q.res IS NOT NULL) '
        '            THEN coalesce(q.res, $3) END, $3, q.tn '
        '  FROM (SELECT t.%I::text AS k, coalesce(%s, $3) AS created, '
        '               coalesce($2->''status''->>(%s), ''unknown'') AS st, '
        '               CASE WHEN $2 ? ''priority'' THEN $2->''priority''->>(%s) ELSE (%s) END AS pr, '
        '               CASE WHEN $2 ? ''channel'' THEN $2->''channel''->>(%s) ELSE (%s) END AS ch, '
        '               (%s) AS tm, (%s) AS asg, (%s) AS acc, %s AS res, (%s) AS tn '
        '          FROM %s t) q '
        '  LEFT JOIN escalation.accounts a ON a.account_key = q.acc '
        'ON CONFLICT (source_id, ticket_key) DO NOTHING',
        m->>'key',
        coalesce(col_created, 'NULL::timestamptz'),
        CASE WHEN m ? 'status' THEN format('t.%I::text', m->>'status') ELSE 'NULL' END,
        CASE WHEN m ? 'priority' THEN format('t.%I::text', m->>'priority') ELSE 'NULL' END,
        CASE WHEN m ? 'priority' THEN format('t.%I::text', m->>'priority') ELSE 'NULL' END,
        CASE WHEN m ? 'channel' THEN format('t.%I::text', m->>'channel') ELSE 'NULL' END,
        CASE WHEN m ? 'channel' THEN format('t.%I::text', m->>'channel') ELSE 'NULL' END,
        CASE WHEN m ? 'team' THEN format('t.%I::text', m->>'team') ELSE 'NULL' END,
        CASE WHEN m ? 'assignee' THEN format('t.%I::text', m->>'assignee') ELSE 'NULL' END,
        CASE WHEN m ? 'account' THEN format('t.%I::text', m->>'account') ELSE 'NULL' END,
        coalesce(col_resolved, 'NULL::timestamptz'),
        CASE WHEN m ? 'tenant' THEN format('t.%I::text', m->>'tenant') ELSE 'NULL' END,
        ticket_table);
    EXECUTE sql USING s.source_id, s.value_maps, as_of, s.time_zone;
    GET DIAGNOSTICS n = ROW_COUNT;
    -- their escalations
    UPDATE escalation.ticket_facts f
       SET escalations = e.n, first_escalated_at = e.created_at, first_team = e.target_team,
           first_reason = e.reason
      FROM (SELECT DISTINCT ON (x.ticket_key) x.ticket_key,
                   count(*) OVER (PARTITION BY x.ticket_key) AS n, x.created_at, x.target_team,
                   coalesce(x.reasons -> 0 ->> 'rule', x.origin) AS reason
              FROM escalation.escalations x
             WHERE x.source_id = s.source_id
             ORDER BY x.ticket_key, x.created_at, x.escalation_id) e
     WHERE f.source_id = s.source_id AND f.ticket_key = e.ticket_key
       AND f.escalations IS DISTINCT FROM e.n::integer;
    RETURN n;
END
$$;
COMMENT ON FUNCTION escalation.backfill_facts(regclass, timestamptz) IS
  'loads the facts of tickets the trigger has not seen yet (those that existed before attach) from the ticket table through its mapping; tickets it knows are left alone. Reopens and transfers before now cannot be known. Returns the tickets added';

-- CSAT: where the helpdesk keeps satisfaction ratings
CREATE TABLE escalation.csat_sources (
    csat_table   regclass PRIMARY KEY,
    source_id    integer NOT NULL REFERENCES escalation.sources (source_id) ON DELETE CASCADE,
    ticket_col   text NOT NULL,
    score_col    text NOT NULL
);
COMMENT ON TABLE escalation.csat_sources IS
  'CSAT tables mapped with escalation.attach_csat(): which column holds the ticket key and which the score';

CREATE FUNCTION escalation.csat_trigger()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r jsonb := to_jsonb(NEW);
    v_score numeric;
BEGIN
    -- TG_ARGV: source_id, ticket column, score column (validated by attach_csat)
    BEGIN
        v_score := (r ->> TG_ARGV[2])::numeric;
    EXCEPTION WHEN invalid_text_representation THEN
        v_score := NULL;
    END;
    UPDATE escalation.ticket_facts f SET csat = v_score
     WHERE f.source_id = TG_ARGV[0]::integer AND f.ticket_key = r ->> TG_ARGV[1];
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION escalation.csat_trigger() IS
  'AFTER INSERT OR UPDATE row trigger that attach_csat() installs on a CSAT table: the ticket''s latest score goes to ticket_facts.csat';

CREATE FUNCTION escalation.attach_csat(csat_table regclass, ticket_table regclass,
                                       ticket text, score text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sid integer;
BEGIN
    sid := (escalation.attached_source(ticket_table)).source_id;
    IF NOT pg_has_role(coalesce(nullif(current_setting('role'), 'none'), session_user::text)::name, (SELECT c.relowner FROM pg_class c WHERE c.oid = csat_table), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', csat_table USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM escalation.check_column(csat_table, 'ticket', ticket);
    PERFORM escalation.check_column(csat_table, 'score', score);
    IF (SELECT t.typcategory FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         WHERE a.attrelid = csat_table AND a.attname = score) <> 'N' THEN
        RAISE EXCEPTION 'column "%" of relation % is not numeric', score, csat_table
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'The CSAT score must be a number (1-5, 0-10, 0-100...).';
    END IF;
    INSERT INTO escalation.csat_sources VALUES (csat_table, sid, ticket, score);
    EXECUTE format('CREATE TRIGGER escalation_csat AFTER INSERT OR UPDATE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION escalation.csat_trigger(%L, %L, %L)',
                   csat_table, sid, ticket, score);
    -- ratings given before: the latest per ticket (by physical order, as stored)
    EXECUTE format('UPDATE escalation.ticket_facts f SET csat = c.score '
                   '  FROM (SELECT %I::text AS k, %I::numeric AS score FROM %s) c '
                   ' WHERE f.source_id = $1 AND f.ticket_key = c.k',
                   ticket, score, csat_table)
      USING sid;
END
$$;
COMMENT ON FUNCTION escalation.attach_csat(regclass, regclass, text, text) IS
  'maps the helpdesk''s CSAT table (ticket key column, numeric score column) to an attached ticket table: ratings go to ticket_facts.csat, for escalation.csat_comparison';

--------------------------------------------------------------------------
-- Metric views (docs/metrics.md has the exact definitions)
--------------------------------------------------------------------------

-- the month grain as of now: compacted months plus the delta rows since
CREATE VIEW escalation.metric_months_all WITH (security_invoker = true) AS
SELECT m.source_id, m.month, m.team, m.channel, m.priority, m.account_tier, m.tickets,
       m.escalated, m.tte_secs, m.resolved, m.resolution_secs, m.esc_resolved,
       m.esc_resolution_secs, m.esc_total_secs, m.reopened_tickets, m.transferred, m.transfers,
       m.tenant
  FROM escalation.metric_months m
UNION ALL
SELECT d.source_id, date_trunc('month', d.day)::date, d.team, d.channel, d.priority,
       d.account_tier, d.tickets, d.escalated, d.tte_secs, d.resolved, d.resolution_secs,
       d.esc_resolved, d.esc_resolution_secs, d.esc_total_secs, d.reopened_tickets,
       d.transferred, d.transfers, d.tenant
  FROM escalation.metric_days d
 WHERE NOT d.folded;
COMMENT ON VIEW escalation.metric_months_all IS
  'metric_days per local creation month, exact: escalation.metric_months (compacted) plus the delta rows of metric_days not yet compacted; sum its rows per key. What the month views read';

-- escalation rate per day, ISO week and month, with the change since the
-- previous period of the same source (the trend)
CREATE VIEW escalation.escalation_rates WITH (security_invoker = true) AS
WITH d AS (
    SELECT m.source_id, m.day, sum(m.tickets) AS tickets, sum(m.escalated) AS escalated
      FROM escalation.metric_days m
     WHERE m.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
     GROUP BY m.source_id, m.day),
p AS (
    SELECT d.source_id, 'day'::text AS period, d.day AS starts, d.tickets, d.escalated FROM d
    UNION ALL
    SELECT d.source_id, 'week', date_trunc('week', d.day)::date, sum(d.tickets), sum(d.escalated)
      FROM d GROUP BY 1, 3
    UNION ALL
    SELECT d.source_id, 'month', date_trunc('month', d.day)::date, sum(d.tickets), sum(d.escalated)
      FROM d GROUP BY 1, 3)
SELECT p.source_id, p.period, p.starts, p.tickets::bigint AS tickets, p.escalated::bigint AS escalated,
       round(p.escalated / nullif(p.tickets, 0), 4) AS rate,
       round(p.escalated / nullif(p.tickets, 0), 4)
         - lag(round(p.escalated / nullif(p.tickets, 0), 4))
             OVER (PARTITION BY p.source_id, p.period ORDER BY p.starts) AS rate_change
  FROM p
 WHERE p.tickets <> 0;
COMMENT ON VIEW escalation.escalation_rates IS
  'escalated tickets / tickets by creation day, ISO week and month (in the source''s time zone), with rate_change against the previous period';

CREATE VIEW escalation.escalation_rates_by WITH (security_invoker = true) AS
SELECT m.source_id, m.month AS month,
       CASE WHEN GROUPING(m.team) = 0 THEN 'team'
            WHEN GROUPING(m.channel) = 0 THEN 'channel'
            WHEN GROUPING(m.priority) = 0 THEN 'priority'
            ELSE 'account_tier' END AS dimension,
       coalesce(m.team, m.channel, m.priority, m.account_tier) AS value,
       sum(m.tickets)::bigint AS tickets, sum(m.escalated)::bigint AS escalated,
       round(sum(m.escalated) / nullif(sum(m.tickets), 0), 4) AS rate
  FROM escalation.metric_months_all m
 WHERE m.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
 GROUP BY GROUPING SETS ((m.source_id, 2, m.team), (m.source_id, 2, m.channel),
                         (m.source_id, 2, m.priority), (m.source_id, 2, m.account_tier))
HAVING sum(m.tickets) <> 0;
COMMENT ON VIEW escalation.escalation_rates_by IS
  'escalation rate per creation month by the ticket''s team, channel, priority and account tier (dimension, value; value NULL = not set)';

CREATE VIEW escalation.time_to_escalation WITH (security_invoker = true) AS
WITH h AS (
    SELECT t.source_id, t.team, GROUPING(t.team) = 1 AS all_teams, t.minutes,
           sum(t.n) AS n, sum(t.secs) AS secs
      FROM escalation.metric_tte t
     WHERE t.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
     GROUP BY GROUPING SETS ((t.source_id, t.team, t.minutes), (t.source_id, t.minutes))
    HAVING sum(t.n) <> 0),
c AS (
    SELECT h.*, sum(h.n) OVER w AS cum, sum(h.n) OVER (PARTITION BY h.source_id, h.all_teams, h.team) AS total
      FROM h
    WINDOW w AS (PARTITION BY h.source_id, h.all_teams, h.team ORDER BY h.minutes))
SELECT c.source_id, c.all_teams, CASE WHEN c.all_teams THEN NULL ELSE c.team END AS team,
       max(c.total)::bigint AS escalated,
       make_interval(secs => sum(c.secs) / max(c.total)) AS mean,
       make_interval(mins => min(c.minutes) FILTER (WHERE c.cum >= greatest(ceil(0.5::float8 * c.total), 1))) AS p50,
       make_interval(mins => min(c.minutes) FILTER (WHERE c.cum >= greatest(ceil(0.9::float8 * c.total), 1))) AS p90,
       coalesce(sum(c.n) FILTER (WHERE c.minutes < 5), 0)::bigint AS too_fast,
       coalesce(sum(c.n) FILTER (WHERE c.minutes >= 1440), 0)::bigint AS too_slow
  FROM c
 GROUP BY c.source_id, c.all_teams, c.team;
COMMENT ON VIEW escalation.time_to_escalation IS
  'ticket creation -> first escalation, per first target team and for all (all_teams): mean, median and p90 (whole minutes), too_fast (< 5 minutes) and too_slow (>= 24 hours) counts';

CREATE VIEW escalation.time_to_escalation_by_reason WITH (security_invoker = true) AS
SELECT f.source_id, f.first_reason AS reason, count(*) AS escalated,
       avg(f.first_escalated_at - f.created_at) AS mean,
       make_interval(mins => percentile_disc(0.5) WITHIN GROUP (ORDER BY escalation.tte_minutes(f))) AS p50,
       make_interval(mins => percentile_disc(0.9) WITHIN GROUP (ORDER BY escalation.tte_minutes(f))) AS p90,
       count(*) FILTER (WHERE escalation.tte_minutes(f) < 5) AS too_fast,
       count(*) FILTER (WHERE escalation.tte_minutes(f) >= 1440) AS too_slow
  FROM escalation.ticket_facts f
 WHERE f.escalations > 0
 GROUP BY f.source_id, f.first_reason;
COMMENT ON VIEW escalation.time_to_escalation_by_reason IS
  'time-to-escalation per reason of the first escalation (its first rule, else its origin); read from ticket_facts, not rolled up';

CREATE VIEW escalation.resolution_times WITH (security_invoker = true) AS
SELECT m.source_id, m.month AS month,
       sum(m.resolved)::bigint AS resolved,
       make_interval(secs => sum(m.resolution_secs) / nullif(sum(m.resolved), 0)) AS mean_resolution,
       sum(m.esc_resolved)::bigint AS escalated_resolved,
       make_interval(secs => sum(m.esc_total_secs) / nullif(sum(m.esc_resolved), 0)) AS mean_resolution_escalated,
       make_interval(secs => sum(m.esc_resolution_secs) / nullif(sum(m.esc_resolved), 0)) AS mean_escalation_resolution,
       (sum(m.resolved) - sum(m.esc_resolved))::bigint AS other_resolved,
       make_interval(secs => (sum(m.resolution_secs) - sum(m.esc_total_secs))
                             / nullif(sum(m.resolved) - sum(m.esc_resolved), 0)) AS mean_resolution_other,
       round(((sum(m.esc_total_secs) / nullif(sum(m.esc_resolved), 0))
              / nullif(sum(m.resolution_secs) / nullif(sum(m.resolved), 0), 0))::numeric, 3) AS escalated_vs_all
  FROM escalation.metric_months_all m
 WHERE m.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
 GROUP BY m.source_id, 2
HAVING sum(m.resolved) <> 0;
COMMENT ON VIEW escalation.resolution_times IS
  'per creation month, of resolved tickets: mean resolution time of all, of escalated ones (creation -> resolution and first escalation -> resolution) and of the others; escalated_vs_all > 1 means escalated tickets resolve slower';

CREATE VIEW escalation.reescalation_rates WITH (security_invoker = true) AS
SELECT p.source_id, p.from_team AS team, sum(p.escalations)::bigint AS escalations,
       sum(p.reescalated)::bigint AS reescalated,
       round(sum(p.reescalated) / nullif(sum(p.escalations), 0), 4) AS rate
  FROM escalation.metric_paths p
 WHERE NOT p.path AND p.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
 GROUP BY p.source_id, p.from_team
HAVING sum(p.escalations) <> 0;
COMMENT ON VIEW escalation.reescalation_rates IS
  'per target team: escalations, how many needed a further escalation (a child by parent_id, else a later escalation of the same ticket) and the share';

CREATE VIEW escalation.reescalation_paths WITH (security_invoker = true) AS
SELECT p.source_id, p.from_team, p.to_team, sum(p.reescalated)::bigint AS reescalations
  FROM escalation.metric_paths p
 WHERE p.path AND p.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
 GROUP BY p.source_id, p.from_team, p.to_team
HAVING sum(p.reescalated) <> 0;
COMMENT ON VIEW escalation.reescalation_paths IS
  're-escalations by path: the previous escalation''s target team -> the next one''s';

CREATE VIEW escalation.transfer_stats WITH (security_invoker = true) AS
SELECT m.source_id, m.month AS month, sum(m.tickets)::bigint AS tickets,
       sum(m.transferred)::bigint AS transferred,
       round(sum(m.transferred) / nullif(sum(m.tickets), 0), 4) AS transferred_share,
       sum(m.transfers)::bigint AS transfers,
       round(sum(m.transfers) / nullif(sum(m.tickets), 0), 3) AS hops_per_ticket,
       sum(m.reopened_tickets)::bigint AS reopened
  FROM escalation.metric_months_all m
 WHERE m.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
 GROUP BY m.source_id, 2
HAVING sum(m.tickets) <> 0;
COMMENT ON VIEW escalation.transfer_stats IS
  'per creation month: tickets, tickets transferred at least once (observed team or assignee changes), transfers, hops per ticket, reopened tickets';

-- the same per month by the ticket's team, channel, priority and account
-- tier, as escalation_rates_by: which groups hand their tickets on
CREATE VIEW escalation.transfer_stats_by WITH (security_invoker = true) AS
SELECT m.source_id, m.month AS month,
       CASE WHEN GROUPING(m.team) = 0 THEN 'team'
            WHEN GROUPING(m.channel) = 0 THEN 'channel'
            WHEN GROUPING(m.priority) = 0 THEN 'priority'
            ELSE 'account_tier' END AS dimension,
       coalesce(m.team, m.channel, m.priority, m.account_tier) AS value,
       sum(m.tickets)::bigint AS tickets, sum(m.transferred)::bigint AS transferred,
       round(sum(m.transferred) / nullif(sum(m.tickets), 0), 4) AS transferred_share,
       sum(m.transfers)::bigint AS transfers,
       round(sum(m.transfers) / nullif(sum(m.tickets), 0), 3) AS hops_per_ticket,
       sum(m.reopened_tickets)::bigint AS reopened
  FROM escalation.metric_months_all m
 WHERE m.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
 GROUP BY GROUPING SETS ((m.source_id, 2, m.team), (m.source_id, 2, m.channel),
                         (m.source_id, 2, m.priority), (m.source_id, 2, m.account_tier))
HAVING sum(m.tickets) <> 0;
COMMENT ON VIEW escalation.transfer_stats_by IS
  'transfer_stats per creation month by the ticket''s team, channel, priority and account tier (dimension, value; value NULL = not set): tickets, transferred at least once, transfers, reopened';

-- resolution time percentiles: exact, so read from ticket_facts
CREATE VIEW escalation.resolution_percentiles WITH (security_invoker = true) AS
SELECT f.source_id,
       CASE WHEN GROUPING(f.priority) = 0 THEN 'priority'
            WHEN GROUPING(f.team) = 0 THEN 'team'
            WHEN GROUPING(f.channel) = 0 THEN 'channel'
            ELSE 'all' END AS dimension,
       coalesce(f.priority, f.team, f.channel) AS value,
       count(*) AS resolved,
       avg(f.resolved_at - f.created_at) AS mean,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY f.resolved_at - f.created_at) AS p50,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY f.resolved_at - f.created_at) AS p90
  FROM escalation.ticket_facts f
 WHERE f.resolved_at IS NOT NULL
 GROUP BY GROUPING SETS ((f.source_id), (f.source_id, f.priority), (f.source_id, f.team),
                         (f.source_id, f.channel));
COMMENT ON VIEW escalation.resolution_percentiles IS
  'resolution time (resolved_at - created_at) of resolved tickets, for all and by the ticket''s priority, team and channel (dimension, value; value NULL = not set): count, mean, median and p90 (percentile_disc, exact); read from ticket_facts, not rolled up';

CREATE VIEW escalation.transfer_hops WITH (security_invoker = true) AS
SELECT t.source_id, t.hop, count(*) AS transfers, count(*) FILTER (WHERE t.kind = 'hierarchical') AS hierarchical,
       count(*) FILTER (WHERE t.kind = 'functional') AS functional,
       count(*) FILTER (WHERE t.kind = 'reassignment') AS reassignments,
       avg(t.at - t.previous_at) AS mean_time_before
  FROM escalation.ticket_transfers t
 WHERE t.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
 GROUP BY t.source_id, t.hop;
COMMENT ON VIEW escalation.transfer_hops IS
  'per hop number (1st, 2nd... transfer of a ticket): transfers, their kinds and the mean time spent before the hop (time lost per hop); tickets with two or more transfers are the count at hop 2';

CREATE VIEW escalation.ticket_journey WITH (security_invoker = true) AS
SELECT e.source_id, e.ticket_key, e.at, 'escalation'::text AS kind, e.event AS what,
       e.escalation_id, x.target_team AS team, e.actor, e.note
  FROM escalation.events e JOIN escalation.escalations x ON x.escalation_id = e.escalation_id
 WHERE e.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
UNION ALL
SELECT t.source_id, t.ticket_key, t.at, 'transfer', coalesce(t.kind, 'transfer'),
       t.escalation_id, t.to_team, t.to_assignee, coalesce(t.from_team, '') || ' -> ' || coalesce(t.to_team, '')
  FROM escalation.ticket_transfers t
 WHERE t.source_id = ANY ((SELECT escalation.visible_sources())::integer[]);
COMMENT ON VIEW escalation.ticket_journey IS
  'a ticket''s whole journey: escalation events and the transfers the helpdesk made itself, in one timeline (ORDER BY at)';

CREATE VIEW escalation.sla_attainment WITH (security_invoker = true) AS
SELECT c.source_id, p.name AS policy, c.metric, t.team,
       count(*) FILTER (WHERE c.state IN ('met', 'stopped') OR c.breached_at IS NOT NULL) AS finished,
       count(*) FILTER (WHERE c.state = 'met' AND c.breached_at IS NULL) AS met,
       count(*) FILTER (WHERE c.breached_at IS NOT NULL) AS breached,
       round((count(*) FILTER (WHERE c.state = 'met' AND c.breached_at IS NULL))::numeric
             / nullif(count(*) FILTER (WHERE (c.state = 'met') OR c.breached_at IS NOT NULL), 0), 4) AS attainment
  FROM escalation.clocks c
  JOIN escalation.sla_policies p ON p.policy_id = c.policy_id
  LEFT JOIN escalation.sla_tickets t ON t.source_id = c.source_id AND t.ticket_key = c.ticket_key
 WHERE c.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
 GROUP BY GROUPING SETS ((c.source_id, p.name, c.metric, t.team), (c.source_id, p.name, c.metric));
COMMENT ON VIEW escalation.sla_attainment IS
  'per policy, metric (target) and ticket team (team NULL: all teams): clocks met in time / clocks met or breached';

CREATE VIEW escalation.sla_breaches WITH (security_invoker = true) AS
SELECT f.source_id, p.name AS policy, f.metric, f.kind,
       CASE WHEN f.kind = 'level' THEN f.level ELSE 0 END AS level, count(*) AS firings
  FROM escalation.clock_firings f JOIN escalation.sla_policies p ON p.policy_id = f.policy_id
 WHERE f.kind IN ('breach', 'level') AND f.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
 GROUP BY 1, 2, 3, 4, 5;
COMMENT ON VIEW escalation.sla_breaches IS
  'breaches (level 0) and ladder levels fired, per policy and metric';

CREATE VIEW escalation.escalation_patterns WITH (security_invoker = true) AS
WITH e AS (
    SELECT x.escalation_id, x.created_at AT TIME ZONE s.time_zone AS local_at,
           x.target_team, x.created_at,
           CASE WHEN x.status = 'resolved' THEN x.closed_at - x.created_at END AS resolution,
           escalation.team_reachable_at(x.target_team, x.created_at) > x.created_at AS after_hours
      FROM escalation.escalations x JOIN escalation.sources s ON s.source_id = x.source_id
     WHERE x.source_id = ANY ((SELECT escalation.visible_sources())::integer[]))
SELECT 'hour'::text AS dimension, extract(hour FROM e.local_at)::integer AS bucket, count(*) AS escalations,
       count(*) FILTER (WHERE e.after_hours) AS after_hours, avg(e.resolution) AS mean_resolution
  FROM e GROUP BY 2
UNION ALL
SELECT 'weekday', extract(isodow FROM e.local_at)::integer, count(*),
       count(*) FILTER (WHERE e.after_hours), avg(e.resolution)
  FROM e GROUP BY 2
UNION ALL
SELECT 'day_of_month', extract(day FROM e.local_at)::integer, count(*),
       count(*) FILTER (WHERE e.after_hours), avg(e.resolution)
  FROM e GROUP BY 2;
COMMENT ON VIEW escalation.escalation_patterns IS
  'escalations by hour of day, ISO weekday (1 = Monday) and day of month, in the source''s time zone: how many, how many outside the target team''s working hours (its calendar), and the mean time to resolve them by when they were escalated';

CREATE VIEW escalation.agent_load WITH (security_invoker = true) AS
SELECT a.agent_id, a.team, a.capacity,
       count(x.escalation_id) AS open_escalations,
       round(count(x.escalation_id)::numeric / nullif(a.capacity, 0), 3) AS load
  FROM escalation.agents a
  LEFT JOIN escalation.escalations x
         ON x.agent_id = a.agent_id AND x.status IN ('offered', 'accepted')
        AND x.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
 WHERE a.active
 GROUP BY a.agent_id, a.team, a.capacity;
COMMENT ON VIEW escalation.agent_load IS
  'per active agent: escalations offered to or accepted by it against its capacity (load 1 = full)';

CREATE VIEW escalation.team_load WITH (security_invoker = true) AS
SELECT l.team, count(*) AS agents, sum(l.capacity) AS capacity, sum(l.open_escalations) AS open_escalations,
       round(sum(l.open_escalations) / nullif(sum(l.capacity), 0), 3) AS load,
       (SELECT count(*) FROM escalation.escalations q
         WHERE q.target_team = l.team AND q.status = 'queued'
           AND q.source_id = ANY ((SELECT escalation.visible_sources())::integer[])) AS queued
  FROM escalation.agent_load l
 GROUP BY l.team;
COMMENT ON VIEW escalation.team_load IS
  'per team: agents, capacity, escalations held, load, and escalations queued for the team';

CREATE VIEW escalation.misroutes WITH (security_invoker = true) AS
SELECT f.source_id, f.first_team AS escalated_to, f.team AS resolved_by, count(*) AS tickets
  FROM escalation.ticket_facts f
 WHERE f.escalations > 0 AND f.resolved_at IS NOT NULL
   AND f.first_team IS DISTINCT FROM f.team AND f.first_team IS NOT NULL
 GROUP BY 1, 2, 3;
COMMENT ON VIEW escalation.misroutes IS
  'resolved tickets whose first escalation went to one team while the ticket was resolved in another (its mapped team when solved)';

CREATE VIEW escalation.bypass_candidates WITH (security_invoker = true) AS
WITH k AS (
    SELECT f.source_id, f.channel, f.priority, count(*) AS tickets,
           count(*) FILTER (WHERE f.escalations > 0) AS escalated,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.resolved_at - f.first_escalated_at))
             FILTER (WHERE f.escalations > 0 AND f.resolved_at IS NOT NULL) AS median_after_escalation_s,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.resolved_at - f.created_at))
             FILTER (WHERE f.resolved_at IS NOT NULL) AS median_resolution_s
      FROM escalation.ticket_facts f
     GROUP BY 1, 2, 3)
SELECT k.source_id, k.channel, k.priority, k.tickets, k.escalated,
       round(k.escalated::numeric / k.tickets, 4) AS rate,
       make_interval(secs => k.median_after_escalation_s) AS median_after_escalation,
       make_interval(secs => k.median_resolution_s) AS median_resolution,
       k.tickets >= 10 AND k.escalated::numeric / k.tickets >= 0.8
         AND k.median_after_escalation_s <= k.median_resolution_s / 2 AS candidate
  FROM k;
COMMENT ON VIEW escalation.bypass_candidates IS
  'kinds of tickets (channel x priority) nearly always escalated (>= 80%, >= 10 tickets) and then resolved quickly (median after escalation <= half the median resolution): route them to the receiving team directly';

CREATE VIEW escalation.team_keywords WITH (security_invoker = true) AS
WITH k AS (
    SELECT x.source_id, x.target_team AS team, kw ->> 'keyword' AS keyword, count(DISTINCT x.escalation_id) AS escalations
      FROM escalation.escalations x,
           jsonb_array_elements(x.reasons) r,
           jsonb_array_elements(CASE WHEN jsonb_typeof(r -> 'keywords') = 'array' THEN r -> 'keywords' ELSE '[]' END) kw
     WHERE x.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
     GROUP BY 1, 2, 3),
t AS (SELECT x.source_id, x.target_team AS team, count(*) AS escalations
        FROM escalation.escalations x
       WHERE x.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
       GROUP BY 1, 2)
SELECT k.source_id, k.team, k.keyword, k.escalations,
       round(k.escalations::numeric / t.escalations, 4) AS share_of_team
  FROM k JOIN t ON t.source_id = k.source_id AND t.team IS NOT DISTINCT FROM k.team;
COMMENT ON VIEW escalation.team_keywords IS
  'keyword concentration: per target team, each matched keyword''s escalations and its share of the team''s escalations';

CREATE VIEW escalation.sla_target_proposals WITH (security_invoker = true) AS
SELECT p.name AS policy, c.metric, st.target, count(*) AS finished,
       make_interval(secs => percentile_disc(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM c.elapsed))) AS p90,
       make_interval(mins => ceil(2 * percentile_disc(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM c.elapsed)) / 60)::integer) AS proposed
  FROM escalation.clocks c
  JOIN escalation.sla_policies p ON p.policy_id = c.policy_id
  JOIN escalation.sla_targets st ON st.policy_id = c.policy_id AND st.metric = c.metric
 WHERE c.state = 'met' AND c.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
 GROUP BY 1, 2, 3;
COMMENT ON VIEW escalation.sla_target_proposals IS
  'per policy and target: clocks met, p90 of their counted (business) time, and a proposed target of twice that, rounded up to the minute';

CREATE VIEW escalation.csat_comparison WITH (security_invoker = true) AS
SELECT f.source_id, f.escalations > 0 AS escalated, count(*) AS rated, round(avg(f.csat), 3) AS mean_csat
  FROM escalation.ticket_facts f
 WHERE f.csat IS NOT NULL
 GROUP BY 1, 2;
COMMENT ON VIEW escalation.csat_comparison IS
  'mean CSAT of escalated vs non-escalated tickets (ratings from the table mapped with attach_csat())';

-- analysts read only these columns of escalation.accounts, and only of
-- accounts they see tickets of (row-level security, issue 8 section)
CREATE FUNCTION escalation.account_facts(keys text[])
RETURNS TABLE (account_key text, tier text, annual_value numeric, renewal_date date)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.account_key, a.tier, a.annual_value, a.renewal_date
      FROM escalation.accounts a
     WHERE a.account_key OPERATOR(pg_catalog.=) ANY (keys)
$$;
COMMENT ON FUNCTION escalation.account_facts(text[]) IS
  'internal: tier, annual value and renewal date of the given accounts, for at_risk_accounts(); read as the caller (an analyst sees only accounts it sees tickets of)';
REVOKE ALL ON FUNCTION escalation.account_facts(text[]) FROM PUBLIC;

-- time-dependent metrics take the instant as an argument
CREATE FUNCTION escalation.at_risk_accounts(as_of timestamptz DEFAULT now(),
                                            window_days integer DEFAULT 30)
RETURNS TABLE (account_key text, tier text, annual_value numeric, renewal_date date,
               tickets_recent bigint, tickets_before bigint, escalations_recent bigint,
               sentiment_recent float8, sentiment_before float8, reopened bigint,
               frequency_rising boolean, sentiment_falling boolean, renewal_soon boolean,
               score numeric)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH w AS (
        SELECT f.account_key,
               count(*) FILTER (WHERE f.created_at > as_of - make_interval(days => window_days)) AS recent,
               count(*) FILTER (WHERE f.created_at <= as_of - make_interval(days => window_days)) AS before,
               count(*) FILTER (WHERE f.created_at > as_of - make_interval(days => window_days)
                                  AND f.escalations > 0) AS esc,
               avg(f.sentiment) FILTER (WHERE f.created_at > as_of - make_interval(days => window_days)) AS s_recent,
               avg(f.sentiment) FILTER (WHERE f.created_at <= as_of - make_interval(days => window_days)) AS s_before,
               sum(f.reopened) AS reopened
          FROM escalation.ticket_facts f
         WHERE f.account_key IS NOT NULL
           AND f.created_at > as_of - make_interval(days => 2 * window_days)
           AND f.created_at <= as_of
         GROUP BY f.account_key),
    x AS (
        SELECT w.*, a.tier, a.annual_value, a.renewal_date,
               w.recent > w.before AS rising,
               coalesce(w.s_recent < w.s_before - 0.1, false) AS falling,
               coalesce(a.renewal_date BETWEEN (as_of AT TIME ZONE 'UTC')::date
                                           AND (as_of AT TIME ZONE 'UTC')::date + 90, false) AS soon
          FROM w LEFT JOIN escalation.account_facts((SELECT array_agg(w2.account_key) FROM w w2)) a
               ON a.account_key = w.account_key)
    SELECT x.account_key, x.tier, x.annual_value, x.renewal_date, x.recent, x.before, x.esc,
           x.s_recent, x.s_before, x.reopened, x.rising, x.falling, x.soon,
           round((25 * x.rising::integer + 25 * x.falling::integer
                  + 15 * least(x.reopened, 3) / 3.0 + 10 * least(x.esc, 3) / 3.0
                  + 15 * x.soon::integer
                  + 10 * least(coalesce(x.annual_value, 0) / 100000.0, 1))::numeric, 1)
      FROM x
     ORDER BY 14 DESC, x.account_key
$$;
COMMENT ON FUNCTION escalation.at_risk_accounts(timestamptz, integer) IS
  'accounts with tickets in the last two windows before as_of, with their risk factors (ticket frequency rising, sentiment falling by more than 0.1, reopened tickets, escalations, renewal within 90 days, annual value) and a 0-100 score';

CREATE VIEW escalation.accounts_at_risk WITH (security_invoker = true) AS
SELECT * FROM escalation.at_risk_accounts(now(), 30);
COMMENT ON VIEW escalation.accounts_at_risk IS
  'escalation.at_risk_accounts() as of now, 30-day windows';

CREATE FUNCTION escalation.retention(as_of timestamptz DEFAULT now(), window_days integer DEFAULT 90)
RETURNS TABLE (escalated boolean, accounts bigint, retained bigint, retention numeric)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH a AS (
        SELECT f.account_key,
               bool_or(f.escalations > 0) FILTER (WHERE f.created_at <= as_of - make_interval(days => window_days)) AS esc,
               bool_or(f.created_at <= as_of - make_interval(days => window_days)) AS earlier,
               bool_or(f.created_at > as_of - make_interval(days => window_days)) AS later
          FROM escalation.ticket_facts f
         WHERE f.account_key IS NOT NULL
           AND f.created_at > as_of - make_interval(days => 2 * window_days) AND f.created_at <= as_of
         GROUP BY f.account_key)
    SELECT a.esc, count(*), count(*) FILTER (WHERE a.later), round(count(*) FILTER (WHERE a.later)::numeric / count(*), 4)
      FROM a WHERE a.earlier
     GROUP BY a.esc ORDER BY a.esc
$$;
COMMENT ON FUNCTION escalation.retention(timestamptz, integer) IS
  'activity retention: of the accounts with tickets in the window before the last one, those with an escalation there vs without, and how many came back with a ticket in the last window';

-- one call, a text report for psql
CREATE FUNCTION escalation.report(as_of timestamptz DEFAULT now(), source_id integer DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    RETURN NEXT format('escalation report as of %s', as_of);
    RETURN NEXT '';
    RETURN NEXT 'Escalation rate by month';
    FOR r IN SELECT * FROM escalation.escalation_rates e
              WHERE e.period = 'month' AND (report.source_id IS NULL OR e.source_id = report.source_id)
                AND e.starts <= as_of ORDER BY e.source_id, e.starts LOOP
        RETURN NEXT format('  source %s  %s  tickets %s  escalated %s  rate %s%s', r.source_id,
                           to_char(r.starts, 'YYYY-MM'), r.tickets, r.escalated, r.rate,
                           CASE WHEN r.rate_change IS NULL THEN '' ELSE format('  (%s%s)',
                               CASE WHEN r.rate_change >= 0 THEN '+' ELSE '' END, r.rate_change) END);
    END LOOP;
    RETURN NEXT '';
    RETURN NEXT 'Time to escalation';
    FOR r IN SELECT * FROM escalation.time_to_escalation t
              WHERE report.source_id IS NULL OR t.source_id = report.source_id
              ORDER BY t.source_id, t.all_teams DESC, t.team LOOP
        RETURN NEXT format('  source %s  %-14s escalated %s  mean %s  p50 %s  p90 %s  too fast %s  too slow %s',
                           r.source_id, CASE WHEN r.all_teams THEN 'all teams' ELSE coalesce(r.team, '(no team)') END,
                           r.escalated, date_trunc('second', r.mean), r.p50, r.p90, r.too_fast, r.too_slow);
    END LOOP;
    RETURN NEXT '';
    RETURN NEXT 'Resolution: escalated vs all';
    FOR r IN SELECT * FROM escalation.resolution_times t
              WHERE report.source_id IS NULL OR t.source_id = report.source_id
              ORDER BY t.source_id, t.month LOOP
        RETURN NEXT format('  source %s  %s  resolved %s  mean %s  escalated %s  mean %s  ratio %s',
                           r.source_id, to_char(r.month, 'YYYY-MM'), r.resolved,
                           date_trunc('second', r.mean_resolution), r.escalated_resolved,
                           date_trunc('second', r.mean_resolution_escalated), r.escalated_vs_all);
    END LOOP;
    RETURN NEXT '';
    RETURN NEXT 'Re-escalation';
    FOR r IN SELECT * FROM escalation.reescalation_rates t
              WHERE report.source_id IS NULL OR t.source_id = report.source_id
              ORDER BY t.source_id, t.team LOOP
        RETURN NEXT format('  source %s  %-14s escalations %s  re-escalated %s  rate %s',
                           r.source_id, coalesce(r.team, '(no team)'), r.escalations, r.reescalated, r.rate);
    END LOOP;
    RETURN NEXT '';
    RETURN NEXT 'Transfers';
    FOR r IN SELECT * FROM escalation.transfer_stats t
              WHERE report.source_id IS NULL OR t.source_id = report.source_id
              ORDER BY t.source_id, t.month LOOP
        RETURN NEXT format('  source %s  %s  tickets %s  transferred %s (%s)  hops/ticket %s  reopened %s',
                           r.source_id, to_char(r.month, 'YYYY-MM'), r.tickets, r.transferred,
                           r.transferred_share, r.hops_per_ticket, r.reopened);
    END LOOP;
    RETURN NEXT '';
    RETURN NEXT 'Accounts at risk (top 5)';
    FOR r IN SELECT * FROM escalation.at_risk_accounts(as_of) LIMIT 5 LOOP
        RETURN NEXT format('  %-16s score %s  tickets %s (before %s)  escalations %s  reopened %s%s',
                           r.account_key, r.score, r.tickets_recent, r.tickets_before,
                           r.escalations_recent, r.reopened,
                           CASE WHEN r.renewal_soon THEN '  renewal ' || r.renewal_date ELSE '' END);
    END LOOP;
    RETURN;
END
$$;
COMMENT ON FUNCTION escalation.report(timestamptz, integer) IS
  'a text report of the main metric views for psql: SELECT * FROM escalation.report();';

-- tenant boundary: rows of a scoped source only for its tenant's members,
-- and rows of a ticket's tenant (escalation.tenant_roles) only for that
-- tenant's members.  The triggers, the worker and the SECURITY DEFINER
-- functions write and read as the extension's owner, past these policies.
ALTER TABLE escalation.ticket_facts ENABLE ROW LEVEL SECURITY;
ALTER TABLE escalation.ticket_transfers ENABLE ROW LEVEL SECURITY;
ALTER TABLE escalation.metric_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE escalation.metric_months ENABLE ROW LEVEL SECURITY;
ALTER TABLE escalation.metric_tte ENABLE ROW LEVEL SECURITY;
ALTER TABLE escalation.metric_paths ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.ticket_facts FOR SELECT
    USING (source_id = ANY ((SELECT escalation.visible_sources())::integer[])
           AND escalation.tenant_visible(tenant));
CREATE POLICY tenant ON escalation.ticket_transfers FOR SELECT
    USING (source_id = ANY ((SELECT escalation.visible_sources())::integer[])
           AND escalation.tenant_visible(tenant));
CREATE POLICY tenant ON escalation.metric_days FOR SELECT
    USING (source_id = ANY ((SELECT escalation.visible_sources())::integer[])
           AND escalation.tenant_visible(tenant));
CREATE POLICY tenant ON escalation.metric_months FOR SELECT
    USING (source_id = ANY ((SELECT escalation.visible_sources())::integer[])
           AND escalation.tenant_visible(tenant));
CREATE POLICY tenant ON escalation.metric_tte FOR SELECT
    USING (source_id = ANY ((SELECT escalation.visible_sources())::integer[])
           AND escalation.tenant_visible(tenant));
CREATE POLICY tenant ON escalation.metric_paths FOR SELECT
    USING (source_id = ANY ((SELECT escalation.visible_sources())::integer[])
           AND escalation.tenant_visible(tenant));

SELECT pg_catalog.pg_extension_config_dump('escalation.metric_sources', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.csat_sources', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.ticket_facts', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.ticket_transfers', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.fact_changes', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.fact_changes_change_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.escalation_changes', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.ticket_paths', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.ticket_transfers_transfer_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.metric_days', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.metric_months', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.metric_tte', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.metric_paths', '');

-- privileges: the objects above come after section 8's REVOKE ... FROM PUBLIC
REVOKE ALL ON escalation.metric_sources, escalation.csat_sources, escalation.ticket_facts,
      escalation.ticket_transfers, escalation.metric_days, escalation.metric_months,
      escalation.metric_tte, escalation.metric_paths FROM PUBLIC;
REVOKE ALL ON escalation.fact_changes, escalation.escalation_changes, escalation.ticket_paths FROM PUBLIC;
REVOKE ALL ON SEQUENCE escalation.ticket_transfers_transfer_id_seq,
      escalation.fact_changes_change_id_seq FROM PUBLIC;
REVOKE ALL ON escalation.metric_months_all, escalation.escalation_rates, escalation.escalation_rates_by,
      escalation.time_to_escalation, escalation.time_to_escalation_by_reason,
      escalation.resolution_times, escalation.reescalation_rates, escalation.reescalation_paths,
      escalation.transfer_stats, escalation.transfer_stats_by, escalation.resolution_percentiles,
      escalation.transfer_hops, escalation.ticket_journey,
      escalation.sla_attainment, escalation.sla_breaches, escalation.escalation_patterns,
      escalation.agent_load, escalation.team_load, escalation.misroutes,
      escalation.bypass_candidates, escalation.team_keywords, escalation.sla_target_proposals,
      escalation.csat_comparison, escalation.accounts_at_risk FROM PUBLIC;
REVOKE ALL ON FUNCTION escalation.visible_sources(), escalation.restoring(),
      escalation.fact_days(escalation.ticket_facts, text, integer),
      escalation.tte_minutes(escalation.ticket_facts),
      escalation.facts_delta(),
      escalation.track_ticket_facts(integer, text, timestamptz, timestamptz, text, text, text,
          text, text, text, timestamptz, boolean, text, text, float8, text),
      escalation.refresh_first_escalation(integer, text),
      escalation.previous_escalation(escalation.escalations),
      escalation.paths_of_ticket(integer, text),
      escalation.refresh_ticket_paths(integer, text),
      escalation.facts_escalated(),
      escalation.rebuild_paths(integer),
      escalation.compact_metrics(),
      escalation.fold_facts(integer),
      escalation.rebuild_metrics(),
      escalation.backfill_facts(regclass, timestamptz),
      escalation.csat_trigger(),
      escalation.attach_csat(regclass, regclass, text, text),
      escalation.at_risk_accounts(timestamptz, integer),
      escalation.retention(timestamptz, integer),
      escalation.report(timestamptz, integer) FROM PUBLIC;

-- analysts (and administrators): the views, the facts under them
GRANT SELECT ON escalation.ticket_facts, escalation.ticket_transfers, escalation.metric_days,
      escalation.metric_months, escalation.metric_months_all, escalation.metric_tte, escalation.metric_paths, escalation.metric_sources,
      escalation.csat_sources,
      escalation.escalation_rates, escalation.escalation_rates_by,
      escalation.time_to_escalation, escalation.time_to_escalation_by_reason,
      escalation.resolution_times, escalation.reescalation_rates, escalation.reescalation_paths,
      escalation.transfer_stats, escalation.transfer_stats_by, escalation.resolution_percentiles,
      escalation.transfer_hops, escalation.ticket_journey,
      escalation.sla_attainment, escalation.sla_breaches, escalation.escalation_patterns,
      escalation.agent_load, escalation.team_load, escalation.misroutes,
      escalation.bypass_candidates, escalation.team_keywords, escalation.sla_target_proposals,
      escalation.csat_comparison, escalation.accounts_at_risk
      TO escalation_analyst, escalation_admin;
GRANT EXECUTE ON FUNCTION escalation.visible_sources(),
      escalation.tte_minutes(escalation.ticket_facts),
      escalation.team_reachable_at(text, timestamptz),
      escalation.at_risk_accounts(timestamptz, integer),
      escalation.retention(timestamptz, integer),
      escalation.report(timestamptz, integer)
      TO escalation_analyst, escalation_admin;
GRANT EXECUTE ON FUNCTION escalation.account_facts(text[]) TO escalation_analyst, escalation_admin;
-- administrators: tenant scopes, backfill, CSAT mapping, rollup upkeep
GRANT INSERT, UPDATE, DELETE ON escalation.metric_sources TO escalation_admin;
GRANT EXECUTE ON FUNCTION escalation.backfill_facts(regclass, timestamptz),
      escalation.attach_csat(regclass, regclass, text, text),
      escalation.compact_metrics(),
      escalation.rebuild_metrics(),
      escalation.csat_trigger()
      TO escalation_admin;
-- administrators watch the fold's backlog
GRANT SELECT ON escalation.fact_changes, escalation.escalation_changes, escalation.ticket_paths
      TO escalation_admin;
-- analysts may bring the figures up to the last committed write
GRANT EXECUTE ON FUNCTION escalation.fold_facts(integer) TO escalation_analyst, escalation_admin;

--------------------------------------------------------------------------
-- Learned triage and predictive escalation (issue 6, sections 2 and 3)
--
-- escalation.train() learns, from an attached ticket table's history, a
-- linear model of the team a ticket needs (one-vs-rest) and one of the
-- probability that it will be escalated, on the stems and stem pairs of
-- its subject and body (the source's text search configuration, sublinear
-- tf-idf) and its priority, channel and account tier (src/triage*.c).
-- Every run stores a version in escalation.models; the active one is
-- loaded once per backend and dropped when models (or teams) change.
-- Rules use it through rules.team_confidence_at_least and
-- rules.escalation_probability_at_least; classify() and evaluate() expose
-- it; escalation.triage_schedules has the worker retrain when due.
--------------------------------------------------------------------------
CREATE TABLE escalation.models (
    model_id         serial PRIMARY KEY,
    source_id        integer NOT NULL REFERENCES escalation.sources (source_id) ON DELETE CASCADE,
    version          integer NOT NULL CHECK (version >= 1),
    active           boolean NOT NULL DEFAULT false,
    trained_at       timestamptz NOT NULL DEFAULT now(),
    ts_config        regconfig NOT NULL,
    team_column      text NOT NULL,
    escalated_column text,
    holdout_column   text,
    holdout_fraction float8 NOT NULL CHECK (holdout_fraction >= 0 AND holdout_fraction <= 0.9),
    resolved_only    boolean NOT NULL DEFAULT false,
    train_tickets    integer NOT NULL,
    heldout_tickets  integer NOT NULL,
    features         integer NOT NULL,
    teams            text[] NOT NULL,
    metrics          jsonb NOT NULL,
    weights          bytea NOT NULL,
    UNIQUE (source_id, version)
);
CREATE UNIQUE INDEX models_one_active ON escalation.models (source_id) WHERE active;
ALTER TABLE escalation.models ALTER COLUMN weights SET STORAGE EXTERNAL;
COMMENT ON TABLE escalation.models IS
  'Triage models, one row per training run (versioned per source); at most one active per source, which the trigger, explain() and classify() use. Written by escalation.train()';
COMMENT ON COLUMN escalation.models.active IS 'the model rules use; set by train() (activate => always, or if_better when it scores at least as well as the active one on the same held-out tickets); an admin may switch versions by hand';
COMMENT ON COLUMN escalation.models.team_column IS 'column of the ticket table that held the final team';
COMMENT ON COLUMN escalation.models.escalated_column IS 'boolean column that held "was escalated"; NULL: a ticket counted as escalated when it had an escalation in escalation.escalations';
COMMENT ON COLUMN escalation.models.holdout_column IS 'boolean column marking held-out tickets; NULL: holdout_fraction of the tickets, chosen by a hash of the ticket key';
COMMENT ON COLUMN escalation.models.metrics IS 'held-out accuracy, macro_f1, escalation_accuracy, hyper-parameters and calibration';
COMMENT ON COLUMN escalation.models.weights IS 'the model (stems, idf, weights, calibration) in the format of src/triage.c';

CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON escalation.models
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.invalidate_cache();

SELECT pg_catalog.pg_extension_config_dump('escalation.models', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.models_model_id_seq', '');

CREATE FUNCTION escalation.train(
    ticket_table     regclass,
    team_column      text DEFAULT NULL,
    escalated_column text DEFAULT NULL,
    holdout_column   text DEFAULT NULL,
    holdout_fraction float8 DEFAULT 0.2,
    resolved_only    boolean DEFAULT false,
    activate         text DEFAULT 'if_better',
    cost             float8 DEFAULT 0.5,
    class_balance    float8 DEFAULT 0.5,
    min_df           integer DEFAULT 2,
    OUT model_id integer, OUT version integer, OUT activated boolean,
    OUT train_tickets integer, OUT heldout_tickets integer, OUT teams integer,
    OUT features integer, OUT accuracy float8, OUT macro_f1 float8,
    OUT escalation_accuracy float8, OUT previous_accuracy float8,
    OUT previous_escalation_accuracy float8, OUT seconds float8)
RETURNS record
AS 'MODULE_PATHNAME', 'escalation_train'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION escalation.train(regclass, text, text, text, float8, boolean, text, float8, float8, integer) IS
  'learns the team and escalation models from an attached ticket table''s history (labels: team_column, default the mapped team; escalated_column, default "has an escalation"), evaluates them on held-out tickets and stores a new version in escalation.models; reads the ticket table with the caller''s privileges';

CREATE FUNCTION escalation.evaluate(
    ticket_table     regclass,
    model_id         integer DEFAULT NULL,
    holdout_column   text DEFAULT NULL,
    holdout_fraction float8 DEFAULT NULL,
    team_column      text DEFAULT NULL,
    escalated_column text DEFAULT NULL,
    OUT model_id integer, OUT tickets integer, OUT accuracy float8, OUT macro_f1 float8,
    OUT escalation_accuracy float8, OUT confusion jsonb, OUT calibration jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'escalation_evaluate'
LANGUAGE C STABLE;
COMMENT ON FUNCTION escalation.evaluate(regclass, integer, text, float8, text, text) IS
  'scores a model (default: the active one) on held-out tickets (default: those it was trained without): accuracy, macro-F1 over the teams present, escalation accuracy, the most frequent confusions between teams, and calibration per tenth of predicted probability';

CREATE FUNCTION escalation.classify(
    body          text,
    ticket_table  regclass,
    priority      text DEFAULT NULL,
    channel       text DEFAULT NULL,
    account_tier  text DEFAULT NULL,
    OUT team text, OUT probability float8, OUT escalation_probability float8,
    OUT words text[], OUT escalation_words text[], OUT model_id integer)
RETURNS record
AS 'MODULE_PATHNAME', 'escalation_classify'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION escalation.classify(text, regclass, text, text, text) IS
  'the active triage model''s prediction for a text (subject and body) with the source''s stemming: the team, its probability, the probability of escalation, and the features that weighed most for each; NULLs when the source has no active model';

CREATE TABLE escalation.triage_schedules (
    source_id        integer PRIMARY KEY REFERENCES escalation.sources (source_id) ON DELETE CASCADE,
    every            interval NOT NULL CHECK (every >= '1 minute'::interval),
    team_column      text,
    escalated_column text,
    holdout_column   text,
    holdout_fraction float8 NOT NULL DEFAULT 0.2 CHECK (holdout_fraction > 0 AND holdout_fraction <= 0.9),
    resolved_only    boolean NOT NULL DEFAULT false,
    last_run_at      timestamptz,
    last_result      jsonb
);
COMMENT ON TABLE escalation.triage_schedules IS
  'Retraining on a schedule: the worker''s cycle (run_batch) calls retrain_due(), which trains every source whose last run is at least "every" ago; the new model replaces the active one only if it scores at least as well on the same held-out tickets';
COMMENT ON COLUMN escalation.triage_schedules.last_result IS 'what the last run returned (or its error), for the DBA';

SELECT pg_catalog.pg_extension_config_dump('escalation.triage_schedules', '');

CREATE FUNCTION escalation.retrain_due(as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s escalation.triage_schedules;
    tbl regclass;
    res jsonb;
    n integer := 0;
BEGIN
    FOR s IN SELECT * FROM escalation.triage_schedules x
              WHERE x.last_run_at IS NULL
                 OR x.last_run_at OPERATOR(pg_catalog.+) x.every OPERATOR(pg_catalog.<=) as_of
              ORDER BY x.source_id
              FOR UPDATE SKIP LOCKED LOOP
        SELECT src.ticket_table INTO tbl FROM escalation.sources src
         WHERE src.source_id OPERATOR(pg_catalog.=) s.source_id AND src.attached;
        IF tbl IS NULL THEN
            res := jsonb_build_object('error', 'source is not attached');
        ELSE
            BEGIN
                SELECT to_jsonb(t) INTO res
                  FROM escalation.train(tbl, s.team_column, s.escalated_column, s.holdout_column,
                                        s.holdout_fraction, s.resolved_only, 'if_better') AS t;
            EXCEPTION WHEN OTHERS THEN
                res := jsonb_build_object('error', SQLERRM, 'sqlstate', SQLSTATE);
            END;
        END IF;
        UPDATE escalation.triage_schedules x SET last_run_at = as_of, last_result = res
         WHERE x.source_id OPERATOR(pg_catalog.=) s.source_id;
        n := n OPERATOR(pg_catalog.+) 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION escalation.retrain_due(timestamptz) IS
  'retrains every source of escalation.triage_schedules that is due (activate => if_better); an error is recorded in last_result, not raised; returns how many were run. Called by run_batch each cycle';

REVOKE ALL ON escalation.models, escalation.triage_schedules FROM PUBLIC;
REVOKE ALL ON SEQUENCE escalation.models_model_id_seq FROM PUBLIC;
REVOKE ALL ON FUNCTION escalation.train(regclass, text, text, text, float8, boolean, text, float8, float8, integer),
      escalation.evaluate(regclass, integer, text, float8, text, text),
      escalation.classify(text, regclass, text, text, text),
      escalation.retrain_due(timestamptz) FROM PUBLIC;
-- train() writes models as the extension's owner and reads the ticket table
-- as its caller; activating a version by hand is an UPDATE
GRANT EXECUTE ON FUNCTION escalation.train(regclass, text, text, text, float8, boolean, text, float8, float8, integer),
      escalation.retrain_due(timestamptz) TO escalation_admin;
GRANT EXECUTE ON FUNCTION escalation.evaluate(regclass, integer, text, float8, text, text)
      TO escalation_admin, escalation_analyst;
GRANT EXECUTE ON FUNCTION escalation.classify(text, regclass, text, text, text)
      TO escalation_admin, escalation_agent, escalation_analyst;
GRANT SELECT (model_id, source_id, version, active, trained_at, ts_config, team_column,
              escalated_column, holdout_column, holdout_fraction, resolved_only,
              train_tickets, heldout_tickets, features, teams, metrics)
      ON escalation.models TO escalation_admin, escalation_analyst;
GRANT UPDATE (active) ON escalation.models TO escalation_admin;
GRANT DELETE ON escalation.models TO escalation_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON escalation.triage_schedules TO escalation_admin;
GRANT SELECT ON escalation.triage_schedules TO escalation_analyst;

--------------------------------------------------------------------------
-- Hardening (issue 8): inputs refused when written, not when a ticket
-- arrives, and rows an analyst may see
--
--   * a dropped ticket table detaches its source (an event trigger), so the
--     table can be created and attached again under its name;
--   * a metric tenant role must exist (an unknown one would make every
--     metric view fail for everyone);
--   * a skill a rule targets cannot be deleted or renamed, as a team cannot;
--   * sources and retraining schedules name only tables their writer owns
--     (or, for a schedule, can read);
--   * analysts read the tier, annual value and renewal date of the accounts
--     they see tickets of, and nothing of the others (row-level security on
--     escalation.accounts; at_risk_accounts() reads it as its caller).
--------------------------------------------------------------------------

CREATE FUNCTION escalation.forget_dropped_tables()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone integer[];
BEGIN
    SELECT array_agg(s.source_id) INTO gone
      FROM escalation.sources s
      JOIN pg_catalog.pg_event_trigger_dropped_objects() d
        ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0
       AND d.objid = s.ticket_table::oid
     WHERE s.attached;
    IF gone IS NULL THEN
        RETURN;
    END IF;
    -- as detach() does: the history stays, the source's own rules are disabled
    UPDATE escalation.sources s SET attached = false, detached_at = now()
     WHERE s.source_id = ANY (gone);
    UPDATE escalation.rules r SET enabled = false
     WHERE r.source_id = ANY (gone) AND r.enabled;
END
$$;
COMMENT ON FUNCTION escalation.forget_dropped_tables() IS
  'sql_drop event trigger: a dropped ticket table''s source is detached (its rules disabled, its history kept), so that a table of that name can be attached again';
CREATE EVENT TRIGGER escalation_forget_dropped_tables ON sql_drop
    EXECUTE FUNCTION escalation.forget_dropped_tables();

CREATE FUNCTION escalation.validate_tenant_role()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.tenant_role IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = NEW.tenant_role) THEN
        RAISE EXCEPTION 'role "%" does not exist', NEW.tenant_role
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create the tenant''s role first; its members see the source''s metrics.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION escalation.validate_tenant_role() IS
  'BEFORE INSERT OR UPDATE trigger on escalation.metric_sources: refuses a tenant role that does not exist (a role dropped later hides the source from everyone: visible_sources() fails closed)';
CREATE TRIGGER validate_tenant_role BEFORE INSERT OR UPDATE OF tenant_role ON escalation.metric_sources
    FOR EACH ROW EXECUTE FUNCTION escalation.validate_tenant_role();

CREATE FUNCTION escalation.keep_targeted_skills()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r text;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.name = OLD.name THEN
        RETURN NEW;
    END IF;
    SELECT x.name INTO r FROM escalation.rules x
     WHERE OLD.name = ANY (x.target_skills) ORDER BY x.name LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'skill "%" is a target of rule "%"', OLD.name, r
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Change the rule''s target_skills first.';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
COMMENT ON FUNCTION escalation.keep_targeted_skills() IS
  'BEFORE DELETE OR UPDATE OF name trigger on escalation.skills: a skill that rules target stays, as a team that rules target does';
CREATE TRIGGER keep_targeted_skills BEFORE DELETE OR UPDATE OF name ON escalation.skills
    FOR EACH ROW EXECUTE FUNCTION escalation.keep_targeted_skills();

-- A source names tables the trigger, the context snapshots and routing's
-- write-back read and write as the extension's owner.  attach() checks that
-- its caller owns them; so does this trigger, for any other write of the
-- row (escalation_admin may INSERT and UPDATE escalation.sources, because
-- attach() and detach() run as their caller): otherwise an administrator
-- could point a source at a table it does not own, or remap the columns of
-- one, and have the snapshot or the write-back read or write it.
CREATE FUNCTION escalation.guard_source()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t regclass;
BEGIN
    -- detaching (attached -> false) needs nothing more
    IF TG_OP = 'UPDATE' AND NOT NEW.attached
       AND (NEW.ticket_table, NEW.mapping, NEW.value_maps, NEW.lookups, NEW.message_table,
            NEW.message_mapping, NEW.message_via, NEW.sentinels)
           IS NOT DISTINCT FROM
           (OLD.ticket_table, OLD.mapping, OLD.value_maps, OLD.lookups, OLD.message_table,
            OLD.message_mapping, OLD.message_via, OLD.sentinels) THEN
        RETURN NEW;
    END IF;
    IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        RETURN NEW;
    END IF;
    FOREACH t IN ARRAY ARRAY[NEW.ticket_table, NEW.message_table] LOOP
        IF t IS NOT NULL AND NOT coalesce(pg_has_role(current_user,
                (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = t), 'USAGE'), false) THEN
            RAISE EXCEPTION 'must be owner of table %', t
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Sources are written by escalation.attach(), by the owner of the helpdesk''s tables.';
        END IF;
    END LOOP;
    FOR t IN SELECT (h->>'table')::regclass FROM jsonb_each(NEW.lookups) e, jsonb_array_elements(e.value) h
             UNION ALL SELECT NEW.message_via WHERE NEW.message_via IS NOT NULL LOOP
        IF NOT has_table_privilege(current_user, t, 'SELECT') THEN
            RAISE EXCEPTION 'permission denied for table %', t
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION escalation.guard_source() IS
  'BEFORE INSERT OR UPDATE trigger on escalation.sources: whoever writes a source (other than detaching it) must own its ticket and messages tables and read its lookup tables, as attach() requires';
CREATE TRIGGER guard_source BEFORE INSERT OR UPDATE ON escalation.sources
    FOR EACH ROW EXECUTE FUNCTION escalation.guard_source();

-- retrain_due() trains as the extension's owner; a schedule may name only a
-- source whose ticket table its writer can read (else the model's teams
-- would show an administrator the values of a column it cannot read)
CREATE FUNCTION escalation.guard_triage_schedule()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t regclass;
BEGIN
    IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        RETURN NEW;
    END IF;
    SELECT s.ticket_table INTO t FROM escalation.sources s WHERE s.source_id = NEW.source_id;
    IF t IS NOT NULL AND NOT has_table_privilege(current_user, t, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for table %', t
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Retraining reads the ticket table; schedule it as a role that can read it.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION escalation.guard_triage_schedule() IS
  'BEFORE INSERT OR UPDATE trigger on escalation.triage_schedules: its writer must be able to read the source''s ticket table, which retrain_due() reads as the extension''s owner';
CREATE TRIGGER guard_triage_schedule BEFORE INSERT OR UPDATE ON escalation.triage_schedules
    FOR EACH ROW EXECUTE FUNCTION escalation.guard_triage_schedule();

ALTER TABLE escalation.accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY admins ON escalation.accounts TO escalation_admin USING (true) WITH CHECK (true);
CREATE POLICY agents ON escalation.accounts FOR SELECT TO escalation_agent USING (true);
CREATE POLICY analysts ON escalation.accounts FOR SELECT TO escalation_analyst
    USING (EXISTS (SELECT 1 FROM escalation.ticket_facts f
                    WHERE f.account_key OPERATOR(pg_catalog.=) accounts.account_key));
GRANT SELECT (account_key, tier, annual_value, renewal_date) ON escalation.accounts
      TO escalation_analyst;

-- the record, per tenant: a reader sees the escalations (and their
-- events, assignments, SLA tickets, clocks, firings and notifications) of
-- the tenants it may see (escalation.tenant_visible()).  The record is
-- written only as the extension's owner (the triggers, the worker's
-- run_batch() and the SECURITY DEFINER functions agents call), which row-
-- level security does not restrict; routing, the SLA cycle and the agents'
-- functions therefore still see every row.
ALTER TABLE escalation.escalations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.escalations FOR SELECT
    USING (escalation.tenant_visible(tenant));
ALTER TABLE escalation.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.events FOR SELECT
    USING (EXISTS (SELECT 1 FROM escalation.escalations x
                    WHERE x.escalation_id OPERATOR(pg_catalog.=) events.escalation_id));
ALTER TABLE escalation.assignments ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.assignments FOR SELECT
    USING (EXISTS (SELECT 1 FROM escalation.escalations x
                    WHERE x.escalation_id OPERATOR(pg_catalog.=) assignments.escalation_id));
ALTER TABLE escalation.sla_tickets ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.sla_tickets FOR SELECT
    USING (escalation.tenant_visible(fields OPERATOR(pg_catalog.->>) 'tenant'));
ALTER TABLE escalation.clocks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.clocks FOR SELECT
    USING (EXISTS (SELECT 1 FROM escalation.sla_tickets t
                    WHERE t.source_id OPERATOR(pg_catalog.=) clocks.source_id
                      AND t.ticket_key OPERATOR(pg_catalog.=) clocks.ticket_key));
ALTER TABLE escalation.clock_firings ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.clock_firings FOR SELECT
    USING (EXISTS (SELECT 1 FROM escalation.sla_tickets t
                    WHERE t.source_id OPERATOR(pg_catalog.=) clock_firings.source_id
                      AND t.ticket_key OPERATOR(pg_catalog.=) clock_firings.ticket_key));
ALTER TABLE escalation.clock_segments ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.clock_segments FOR SELECT
    USING (EXISTS (SELECT 1 FROM escalation.clocks c
                    WHERE c.clock_id OPERATOR(pg_catalog.=) clock_segments.clock_id));
ALTER TABLE escalation.notifications ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.notifications FOR SELECT
    USING (EXISTS (SELECT 1 FROM escalation.clocks c
                    WHERE c.clock_id OPERATOR(pg_catalog.=) notifications.clock_id));

-- a tenant's role must exist when it is mapped (a role dropped later hides
-- the tenant: tenant_visible() fails closed)
CREATE FUNCTION escalation.validate_tenant_roles()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = NEW.role) THEN
        RAISE EXCEPTION 'role "%" does not exist', NEW.role
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create the tenant''s role first; its members see the tenant''s escalations and metrics.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION escalation.validate_tenant_roles() IS
  'BEFORE INSERT OR UPDATE trigger on escalation.tenant_roles: refuses a role that does not exist (a role dropped later hides the tenant from everyone: tenant_visible() fails closed)';
CREATE TRIGGER validate_tenant_roles BEFORE INSERT OR UPDATE OF role ON escalation.tenant_roles
    FOR EACH ROW EXECUTE FUNCTION escalation.validate_tenant_roles();

SELECT pg_catalog.pg_extension_config_dump('escalation.tenant_roles', '');
REVOKE ALL ON escalation.tenant_roles FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON escalation.tenant_roles TO escalation_admin;
REVOKE ALL ON FUNCTION escalation.validate_tenant_roles() FROM PUBLIC;
-- the policies call it as their reader: whoever reads the record
GRANT EXECUTE ON FUNCTION escalation.tenant_visible(text) TO PUBLIC;

REVOKE ALL ON FUNCTION escalation.forget_dropped_tables(), escalation.validate_tenant_role(),
      escalation.keep_targeted_skills(), escalation.guard_source(),
      escalation.guard_triage_schedule() FROM PUBLIC;
