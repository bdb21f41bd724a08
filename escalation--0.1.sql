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
    description text
);
COMMENT ON TABLE escalation.teams IS
  'Teams that receive escalations: functional (expertise: billing, security...) or hierarchical (authority: tier 2, management)';
COMMENT ON COLUMN escalation.teams.kind IS 'functional or hierarchical';
COMMENT ON COLUMN escalation.teams.tier IS 'support tier of the team, 1 = front line';
COMMENT ON COLUMN escalation.teams.lead_agent IS 'agent_id of the team lead (overflow target)';

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
    active       boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE escalation.agents IS
  'Agents who can receive escalations; agent_id is the helpdesk''s own user id, as text';
COMMENT ON COLUMN escalation.agents.capacity IS 'maximum number of escalations the agent holds at once';
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
    ts_config     regconfig NOT NULL DEFAULT 'english',
    time_zone     text NOT NULL DEFAULT 'UTC' CHECK (escalation.is_time_zone(time_zone)),
    attached      boolean NOT NULL DEFAULT true,
    attached_at   timestamptz NOT NULL DEFAULT now(),
    detached_at   timestamptz,
    CHECK (jsonb_typeof(mapping) = 'object'),
    CHECK ((message_table IS NULL) = (message_mapping IS NULL))
);
CREATE UNIQUE INDEX sources_attached_table ON escalation.sources (ticket_table) WHERE attached;
-- a detached source keeps its name, so that the table can be attached again
CREATE UNIQUE INDEX sources_attached_name ON escalation.sources (name) WHERE attached;
COMMENT ON TABLE escalation.sources IS
  'Attached helpdesk tables and their column mapping; written by escalation.attach(), not by hand';
COMMENT ON COLUMN escalation.sources.mapping IS 'role -> column name of the ticket table (key, status, priority, body...); fields.* are extra named fields';
COMMENT ON COLUMN escalation.sources.value_maps IS 'per role, raw value (as text) -> meaning: status -> open|pending|solved|other, priority -> name, author -> customer|agent|bot|internal';
COMMENT ON COLUMN escalation.sources.lookups IS 'per role, a chain of lookup tables that turns a stored id into the value the value map reads';
COMMENT ON COLUMN escalation.sources.ts_config IS 'text search configuration used to stem keywords and ticket text';
COMMENT ON COLUMN escalation.sources.time_zone IS 'zone in which naive timestamp columns of this source are written';

CREATE TABLE escalation.rules (
    rule_id          serial PRIMARY KEY,
    name             text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    description      text,
    source_id        integer REFERENCES escalation.sources (source_id) ON DELETE CASCADE,
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
    -- target
    target_team      text REFERENCES escalation.teams (name) ON UPDATE CASCADE ON DELETE RESTRICT,
    target_skills    text[] CHECK (escalation.is_clean_text_array(target_skills)),
    target_tier      integer CHECK (target_tier BETWEEN 1 AND 9),
    kind             text NOT NULL DEFAULT 'functional' CHECK (kind IN ('functional', 'hierarchical')),
    severity         integer NOT NULL DEFAULT 2 CHECK (severity BETWEEN 1 AND 4),
    level            integer NOT NULL DEFAULT 1 CHECK (level BETWEEN 1 AND 9),
    CONSTRAINT rules_has_target
        CHECK (target_team IS NOT NULL OR target_skills IS NOT NULL OR target_tier IS NOT NULL),
    CONSTRAINT rules_has_condition
        CHECK (keywords IS NOT NULL OR pattern IS NOT NULL OR priorities IS NOT NULL
               OR channels IS NOT NULL OR field IS NOT NULL OR account_vip IS NOT NULL
               OR account_tiers IS NOT NULL OR min_annual_value IS NOT NULL
               OR renewal_within IS NOT NULL),
    CONSTRAINT rules_field_complete
        CHECK ((field IS NULL AND field_op IS NULL AND field_value IS NULL)
               OR (field IS NOT NULL AND field_op IS NOT NULL AND field_value IS NOT NULL))
);
COMMENT ON TABLE escalation.rules IS
  'Event-driven escalation rules, evaluated by the C row trigger in the writer''s transaction. Every condition given must hold; keywords match if any keyword matches';
COMMENT ON COLUMN escalation.rules.source_id IS 'the source this rule applies to; NULL = every source';
COMMENT ON COLUMN escalation.rules.applies_to IS 'ticket (rows of the ticket table), message (customer messages), or both';
COMMENT ON COLUMN escalation.rules.keywords IS 'words or phrases, matched on stems with the source''s text search configuration';
COMMENT ON COLUMN escalation.rules.pattern IS 'a PostgreSQL regular expression (ARE) searched in subject and body';
COMMENT ON COLUMN escalation.rules.priorities IS 'ticket priority (after the source''s priority map) must be one of these';
COMMENT ON COLUMN escalation.rules.field IS 'a mapped field (priority, channel, status or fields.<name>) compared with field_value by field_op; numeric when both sides are numbers';
COMMENT ON COLUMN escalation.rules.renewal_within IS 'account renewal date falls within this interval of the ticket''s time';
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
CREATE INDEX escalations_queue ON escalation.escalations (status, severity DESC, created_at)
    WHERE status IN ('queued', 'offered');
COMMENT ON TABLE escalation.escalations IS
  'Escalations: the queue item and the record. One open escalation per ticket, level and target. source_id and target_team are kept as they were when written (no foreign keys: the record outlives renames, and the trigger path stays cheap)';
COMMENT ON COLUMN escalation.escalations.reasons IS 'every reason with its evidence: rule, matched words, pattern match, field values, account facts';
COMMENT ON COLUMN escalation.escalations.context IS 'snapshot for the receiving agent: ticket fields, recent messages, account, requester''s other tickets, what was tried';
COMMENT ON COLUMN escalation.escalations.target_key IS 'team|skills|tier, used to keep one open escalation per target';
COMMENT ON COLUMN escalation.escalations.last_actor IS 'who made the latest change (copied into the journey)';

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
        IF ('time' = ANY (kinds) AND typ IN ('timestamp with time zone'::regtype,
                                             'timestamp without time zone'::regtype, 'date'::regtype))
           OR ('text' = ANY (kinds) AND cat = 'S')
           OR ('bool' = ANY (kinds) AND typ = 'boolean'::regtype) THEN
            RETURN;
        END IF;
        RAISE EXCEPTION 'column "%" of relation % has type %, which cannot serve as the % column',
                        col, tbl, typ, role
            USING ERRCODE = 'datatype_mismatch',
                  HINT = CASE WHEN 'time' = ANY (kinds) THEN 'Use a timestamptz, timestamp or date column.'
                              WHEN 'text' = ANY (kinds) THEN 'Use a text, varchar or char column.'
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
    name               text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner_ok   boolean;
    kind       "char";
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
BEGIN
    -- the table: a plain or partitioned table the caller owns, not yet attached
    SELECT c.relkind, pg_has_role(current_user, c.relowner, 'USAGE')
      INTO kind, owner_ok
      FROM pg_class c WHERE c.oid = ticket_table;
    IF kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', ticket_table
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'attach() installs triggers, so it needs a plain or partitioned table.';
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

    m := jsonb_strip_nulls(jsonb_build_object(
        'key', key, 'status', status, 'created_at', created_at, 'updated_at', updated_at,
        'resolved_at', resolved_at, 'priority', priority, 'channel', channel,
        'subject', subject, 'body', body, 'requester', requester, 'account', account,
        'assignee', assignee, 'team', team));

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
        'author', escalation.invert_value_map('author', author_map, '{customer,agent,bot,internal}')));

    -- lookups: {"status": [hops], "priority": [hops], "author": [hops]}
    IF jsonb_typeof(lk) <> 'object' THEN
        RAISE EXCEPTION 'lookups must be a JSON object of role -> lookup chain'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(lk) LOOP
        IF k NOT IN ('status', 'priority', 'author', 'channel') THEN
            RAISE EXCEPTION 'a lookup cannot be given for "%"', k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Lookups exist for status, priority, channel and author.';
        END IF;
        PERFORM escalation.check_lookup(k, v);
    END LOOP;

    -- the messages table
    IF messages IS NOT NULL THEN
        IF message_ticket IS NULL OR message_body IS NULL THEN
            RAISE EXCEPTION 'a messages table needs message_ticket and message_body'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT c.relkind, pg_has_role(current_user, c.relowner, 'USAGE')
          INTO kind, owner_ok FROM pg_class c WHERE c.oid = messages;
        IF kind NOT IN ('r', 'p') THEN
            RAISE EXCEPTION '% is not a table', messages USING ERRCODE = 'wrong_object_type';
        END IF;
        IF NOT owner_ok THEN
            RAISE EXCEPTION 'must be owner of table %', messages
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM escalation.check_column(messages, 'message_ticket', message_ticket);
        -- every ticket reference must read as a ticket key, or the message
        -- trigger's look-up of the ticket would fail the helpdesk's insert
        SELECT ka.atttypid, ma.atttypid INTO ktyp, mtyp
          FROM pg_attribute ka, pg_attribute ma
         WHERE ka.attrelid = ticket_table AND ka.attname = key
           AND ma.attrelid = messages AND ma.attname = message_ticket;
        IF mtyp <> ktyp
           AND (SELECT t.typcategory FROM pg_type t WHERE t.oid = ktyp) <> 'S'
           AND NOT (ktyp = 'bigint'::regtype AND mtyp IN ('smallint'::regtype, 'integer'::regtype))
           AND NOT (ktyp = 'integer'::regtype AND mtyp = 'smallint'::regtype) THEN
            RAISE EXCEPTION 'column "%" of relation % has type %, which cannot hold every key of % (type %)',
                            message_ticket, messages, mtyp, ticket_table, ktyp
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'The message_ticket column must have the type of the ticket key.';
        END IF;
        PERFORM escalation.check_column(messages, 'message_created_at', message_created_at, '{time}');
        PERFORM escalation.check_column(messages, 'message_body', message_body, '{text}');
        PERFORM escalation.check_column(messages, 'message_author', message_author);
        PERFORM escalation.check_column(messages, 'message_private', message_private, '{bool}');
        IF author_map IS NOT NULL AND message_author IS NULL THEN
            RAISE EXCEPTION 'author_map given without a message_author column'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        mm := jsonb_strip_nulls(jsonb_build_object(
            'ticket', message_ticket, 'created_at', message_created_at, 'body', message_body,
            'author', message_author, 'private', message_private));
    ELSIF coalesce(message_ticket, message_created_at, message_body, message_author,
                   message_private) IS NOT NULL OR author_map IS NOT NULL THEN
        RAISE EXCEPTION 'message columns given without a messages table'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    srcname := coalesce(attach.name, ticket_table::text);

    INSERT INTO escalation.sources AS s
        (name, ticket_table, mapping, value_maps, lookups, message_table, message_mapping,
         ts_config, time_zone)
    VALUES (srcname, ticket_table, m, vmaps, lk, messages, mm, ts_config, time_zone)
    RETURNING s.source_id INTO sid;

    -- rules that already exist for every source must make sense for this one too
    UPDATE escalation.rules r SET enabled = r.enabled WHERE r.source_id IS NULL;

    -- triggers: only UPDATEs that touch a mapped column fire ours
    SELECT string_agg(quote_ident(c), ', ' ORDER BY c) INTO upd_cols
      FROM (SELECT DISTINCT value AS c FROM jsonb_each_text(m)) d;
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
    jsonb, text, regconfig, text, text) IS
  'attach an existing ticket table (and optionally its messages table) as a source: validates the column mapping against the catalog, then installs the escalation triggers. Returns the source_id';

CREATE FUNCTION escalation.detach(ticket_table regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    src escalation.sources;
    owner_ok boolean;
BEGIN
    SELECT * INTO src FROM escalation.sources s
     WHERE s.ticket_table = detach.ticket_table AND s.attached;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not attached', ticket_table
            USING ERRCODE = 'undefined_object';
    END IF;
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
    SELECT s.source_id INTO src FROM escalation.sources s
     WHERE s.ticket_table = escalate.ticket_table AND s.attached;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not attached', ticket_table USING ERRCODE = 'undefined_object';
    END IF;
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
         severity, reasons, context, created_at, updated_at, last_actor, last_note)
    VALUES (src, ticket_key, level, kind, 'manual', target_team, target_skills, target_tier,
            severity,
            jsonb_build_array(jsonb_build_object('rule', NULL, 'kind', 'manual',
                                                 'by', session_user::text, 'reason', reason)),
            ctx, as_of, as_of, session_user::text, reason)
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
          jsonb, text, regconfig, text, text),
      escalation.detach(regclass),
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
