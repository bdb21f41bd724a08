/* escalation--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION escalation UPDATE TO '1.1'" to load this file. \quit

/*
 * Changes since 1.0, one section per change. Until 1.1 is released there
 * is no full escalation--1.1.sql: CREATE EXTENSION installs 1.0 and runs
 * this script (PostgreSQL finds that path itself), so a fresh install and
 * an upgraded one cannot differ. When 1.1 is released, a full script may
 * be rolled up and test/upgrade/run.sh compares the two.
 *
 * Same rules as the install script: everything schema-qualified, operators
 * in function bodies qualified with OPERATOR(pg_catalog.x), search_path
 * pinned on every SECURITY DEFINER function.
 */

--------------------------------------------------------------------------
-- Ticket facts' sentiment scored by the fold, off the write path (issue 2)
--------------------------------------------------------------------------
-- The ticket trigger logged a sentiment score with every write that changed
-- the text of a ticket with an account: about a fifth of its time on a 1 KB
-- ticket, for a figure only escalation.at_risk_accounts reads.  Now it logs
-- rescore = true and fold_facts() scores the ticket as it is when folded.
-- (A library of 1.1 on a 1.0 log still scores in the trigger: no helpdesk
-- write fails between installing the library and ALTER EXTENSION UPDATE.)
ALTER TABLE escalation.fact_changes ADD COLUMN rescore boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN escalation.fact_changes.rescore IS
  'the write changed the text of a ticket with an account: fold_facts() scores its sentiment (escalation.ticket_sentiment)';
COMMENT ON COLUMN escalation.fact_changes.sentiment IS
  'polarity of subject and body when a writer scored it; NULL keeps the stored score unless rescore';

CREATE FUNCTION escalation.ticket_sentiment(source_id integer, ticket_key text)
RETURNS float8
AS 'MODULE_PATHNAME', 'escalation_ticket_sentiment'
LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION escalation.ticket_sentiment(integer, text) IS
  'internal: polarity of a ticket''s subject and body as the ticket trigger reads them (escalation.sentiment with the source''s terms); NULL when the ticket is gone or has no text or no account. Reads the ticket as the extension''s owner; fold_facts() calls it';
REVOKE ALL ON FUNCTION escalation.ticket_sentiment(integer, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION escalation.fold_facts(max_changes integer DEFAULT NULL)
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
        IF c.rescore AND c.sentiment IS NULL THEN
            c.sentiment := escalation.ticket_sentiment(c.source_id, c.ticket_key);
        END IF;
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

--------------------------------------------------------------------------
-- first_responses keeps the tenant boundary too (issue 8)
--------------------------------------------------------------------------
-- 1.0 left escalation.first_responses without a policy: an analyst of one
-- tenant saw when another tenant's tickets were first answered (and by
-- whom).  The table has no tenant of its own; a row is visible when its
-- source maps no tenant, or when the ticket's facts or SLA record, which
-- carry the tenant, are visible (their own policies decide; a ticket that
-- has neither yet stays hidden from a tenant's roles: fail closed).  Like
-- the record, it is written only as the extension's owner.
ALTER TABLE escalation.first_responses ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.first_responses FOR SELECT
    USING (NOT EXISTS (SELECT 1 FROM escalation.sources s
                        WHERE s.source_id OPERATOR(pg_catalog.=) first_responses.source_id
                          AND s.mapping OPERATOR(pg_catalog.?) 'tenant')
           OR EXISTS (SELECT 1 FROM escalation.ticket_facts f
                       WHERE f.source_id OPERATOR(pg_catalog.=) first_responses.source_id
                         AND f.ticket_key OPERATOR(pg_catalog.=) first_responses.ticket_key)
           OR EXISTS (SELECT 1 FROM escalation.sla_tickets t
                       WHERE t.source_id OPERATOR(pg_catalog.=) first_responses.source_id
                         AND t.ticket_key OPERATOR(pg_catalog.=) first_responses.ticket_key));

-- SLA bookkeeping of a message in C (issue 7)
--------------------------------------------------------------------------
-- The message trigger decides in C what a message changes on its ticket's
-- clocks (src/sla_message.c) from one read of the ticket's state, and a
-- message that changes nothing (most of them) writes and locks nothing.
-- sla_track_message() stays for callers of its own and runs the same C
-- code; what it does is unchanged.  (The 1.1 library does not call the
-- function, so a 1.0 schema under it keeps working until ALTER EXTENSION
-- UPDATE.)
CREATE OR REPLACE FUNCTION escalation.sla_track_message(p_source integer, p_key text, p_author text,
                                                        p_at timestamptz)
RETURNS void
AS 'MODULE_PATHNAME', 'escalation_sla_track_message'
LANGUAGE C;
COMMENT ON FUNCTION escalation.sla_track_message(integer, text, text, timestamptz) IS
  'internal: the SLA bookkeeping of a message, as the message trigger does it (the same C code), as the caller: the ticket''s first message opens it (an agent''s opening is no response); an agent''s customer-visible reply (p_author ''agent'') meets the response clocks and restarts the periodic-update clock; a customer''s message starts the next-response clock unless one is already waiting';
-- the message trigger keeps which policies have the targets a message
-- starts (next_response, periodic_update) per backend: a change of the
-- targets reaches every backend at commit
CREATE TRIGGER invalidate_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON escalation.sla_targets
    FOR EACH STATEMENT EXECUTE FUNCTION escalation.invalidate_cache();

--------------------------------------------------------------------------
-- The fold's bookkeeping keeps the tenant boundary too (issue 8)
--------------------------------------------------------------------------
-- 1.0 left three tables of per-ticket data without a policy:
-- fact_changes (the ticket writes not yet folded: status, team, assignee,
-- account and tenant of each), ticket_paths (each ticket's share of the
-- re-escalation rollup) and escalation_changes (the tickets whose
-- escalations changed since the last fold).  Only escalation_admin may
-- read them, but the record's policies apply to administrators too, so an
-- administrator who is no member of a tenant's role saw that tenant's
-- tickets here and nowhere else.  fact_changes and ticket_paths carry the
-- tenant and take ticket_facts' and metric_paths' policy (source scope and
-- tenant_visible()); escalation_changes carries only the ticket and is
-- visible with the ticket's escalations.  Written and read by the trigger,
-- fold_facts(), rebuild_metrics() and the worker as the extension's owner,
-- whom row-level security does not restrict.
ALTER TABLE escalation.fact_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.fact_changes FOR SELECT
    USING (source_id = ANY ((SELECT escalation.visible_sources())::integer[])
           AND escalation.tenant_visible(tenant));
ALTER TABLE escalation.ticket_paths ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.ticket_paths FOR SELECT
    USING (source_id = ANY ((SELECT escalation.visible_sources())::integer[])
           AND escalation.tenant_visible(tenant));
ALTER TABLE escalation.escalation_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.escalation_changes FOR SELECT
    USING (EXISTS (SELECT 1 FROM escalation.escalations x
                    WHERE x.source_id OPERATOR(pg_catalog.=) escalation_changes.source_id
                      AND x.ticket_key OPERATOR(pg_catalog.=) escalation_changes.ticket_key));

--------------------------------------------------------------------------
-- sla_what_if() keeps the tenant boundary (issue 8)
--------------------------------------------------------------------------
-- sla_what_if() reads the clocks as the extension's owner (it must: which
-- policy a ticket gets depends on account columns analysts may not read),
-- past the policies on sla_tickets and clocks, and 1.0 handed every row to
-- its caller: an analyst of one tenant saw which of another tenant's
-- tickets a policy change would move, with their due times.  Now it keeps
-- the clocks of tickets whose tenant the caller may see, as the policies
-- would: caller_tenant_visible() is tenant_visible() for the role acting in
-- the session (the session user or SET ROLE), which SECURITY DEFINER does
-- not change.
CREATE FUNCTION escalation.caller_tenant_visible(tenant text)
RETURNS boolean
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'escalation_caller_tenant_visible';
COMMENT ON FUNCTION escalation.caller_tenant_visible(text) IS
  'internal: tenant_visible() for the role acting in the session (session user or SET ROLE), not the current user: SECURITY DEFINER functions that hand rows of the record to their caller keep those the caller may see';
REVOKE ALL ON FUNCTION escalation.caller_tenant_visible(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION escalation.sla_what_if(ticket_table regclass, as_of timestamptz DEFAULT now())
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
      JOIN escalation.sla_tickets t ON t.source_id = src AND t.ticket_key = r.ticket_key
     WHERE (r.new_policy IS DISTINCT FROM r.old_policy
            OR r.new_target IS DISTINCT FROM r.old_target
            OR r.new_calendar IS DISTINCT FROM r.old_calendar
            OR abs(extract(epoch FROM r.new_elapsed - r.old_elapsed)) >= 1
            OR r.breached_after IS DISTINCT FROM r.breached_now)
       AND escalation.caller_tenant_visible(t.fields ->> 'tenant')
     ORDER BY r.ticket_key, r.metric;
END
$$;
COMMENT ON FUNCTION escalation.sla_what_if(regclass, timestamptz) IS
  'read-only: which open clocks of a source escalation.recompute_sla() would change, and how (would breach now, due earlier or later, would stop), under the current policies and calendars; only clocks of tickets whose tenant the caller may see';

--------------------------------------------------------------------------
-- Agents' functions keep the tenant boundary (issue 8)
--------------------------------------------------------------------------
-- accept(), resolve(), cancel(), decline(), reassign() and reescalate()
-- take an escalation by id and run as the extension's owner.  In 1.0 none
-- asked whether the caller may see the escalation's tenant: an agent of
-- one tenant could resolve or cancel another tenant's escalation by its
-- (sequential) id and got its row back, context snapshot (ticket text)
-- included.  Now an escalation of a tenant the caller may not see does not
-- exist for it (P0002, the message of an unknown id), as the queue, which
-- the policies filter, already showed it.  The caller is the role acting
-- in the session (caller_tenant_visible()); nothing inside the extension
-- calls these functions, so the triggers and the worker are not affected.
CREATE FUNCTION escalation.check_caller_tenant(escalation_id bigint)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM escalation.escalations x
                WHERE x.escalation_id = check_caller_tenant.escalation_id
                  AND NOT escalation.caller_tenant_visible(x.tenant)) THEN
        RAISE EXCEPTION 'escalation % does not exist', escalation_id USING ERRCODE = 'no_data_found';
    END IF;
END
$$;
COMMENT ON FUNCTION escalation.check_caller_tenant(bigint) IS
  'internal: raises "escalation N does not exist" when the escalation''s tenant is one the role acting in the session may not see; the SECURITY DEFINER functions that act on an escalation by id call it first';
REVOKE ALL ON FUNCTION escalation.check_caller_tenant(bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION escalation.accept(escalation_id bigint, agent_id text,
                                  as_of timestamptz DEFAULT now())
RETURNS escalation.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM escalation.check_caller_tenant(accept.escalation_id);
    IF NOT EXISTS (SELECT 1 FROM escalation.agents a WHERE a.agent_id = accept.agent_id) THEN
        RAISE EXCEPTION 'agent "%" does not exist', agent_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    PERFORM escalation.check_accept(escalation_id, agent_id);  -- routing: offers, capacity
    RETURN escalation.set_status(escalation_id, 'accepted', agent_id, NULL, as_of);
END
$$;

CREATE OR REPLACE FUNCTION escalation.resolve(escalation_id bigint, note text DEFAULT NULL,
                                   as_of timestamptz DEFAULT now())
RETURNS escalation.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM escalation.check_caller_tenant(resolve.escalation_id);
    RETURN escalation.set_status(escalation_id, 'resolved', NULL, note, as_of);
END
$$;

CREATE OR REPLACE FUNCTION escalation.cancel(escalation_id bigint, reason text,
                                  as_of timestamptz DEFAULT now())
RETURNS escalation.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM escalation.check_caller_tenant(cancel.escalation_id);
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION 'cancelling an escalation needs a reason'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN escalation.set_status(escalation_id, 'cancelled', NULL, reason, as_of);
END
$$;

CREATE OR REPLACE FUNCTION escalation.decline(escalation_id bigint, agent_id text, reason text DEFAULT NULL,
                                   as_of timestamptz DEFAULT now())
RETURNS escalation.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e escalation.escalations;
BEGIN
    PERFORM escalation.check_caller_tenant(decline.escalation_id);
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

CREATE OR REPLACE FUNCTION escalation.reassign(escalation_id bigint, agent_id text, reason text,
                                    as_of timestamptz DEFAULT now())
RETURNS escalation.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e escalation.escalations;
BEGIN
    PERFORM escalation.check_caller_tenant(reassign.escalation_id);
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

CREATE OR REPLACE FUNCTION escalation.reescalate(escalation_id bigint, reason text,
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
    PERFORM escalation.check_caller_tenant(reescalate.escalation_id);
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

--------------------------------------------------------------------------
-- Exact resolution percentiles and time to escalation by reason from
-- rollups; the fold's escalation side set-based (issue 5)
--------------------------------------------------------------------------
-- In 1.0, resolution_percentiles and time_to_escalation_by_reason read
-- ticket_facts (4.5 s and 1.4 s at 10M tickets).  Now two more rollups,
-- kept like metric_tte (deltas appended by facts_delta(), folded by
-- compact_metrics(), rebuilt by rebuild_metrics(), a key per tenant):
--
--   metric_tte_reasons  time-to-escalation per first reason in whole
--                       minutes (what the view's percentiles are over) with
--                       the exact sum of the intervals, for the mean;
--   metric_resolution,  resolved - created of resolved tickets, per group
--   metric_resolution_  (all, and each priority, team and channel), as
--   fine                counts per bucket of two log-linear levels
--                       (duration_bucket(): 32 and 4,096 buckets per power
--                       of two), the coarse one with the exact sum of the
--                       intervals.
--
-- Resolution times are exact to the microsecond, so no histogram of
-- bounded size holds every distinct value.  The view finds a percentile's
-- rank the way percentile_disc does, then the coarse bucket that holds it
-- (cumulative counts), then the fine bucket inside that one (at most 128
-- per value), then the value itself among the tickets of that fine bucket,
-- in duration order from the index ticket_facts_resolution: exact, and a
-- few hundred index entries instead of every resolved ticket.
-- ticket_facts.resolution is a stored generated column so that the index
-- condition is a plain (leakproof) comparison, usable under the tenant
-- policy; interval subtraction is not leakproof.
--
-- Means are the sum of the intervals (added field by field, as avg()
-- does) divided by the count: the very value avg(interval) gives.
--
-- The fold's escalation side: fold_facts() recomputed each ticket with two
-- SQL functions, re-planned per call, and each UPDATE of a ticket's facts
-- fired the statement triggers once (about 0.9-1.7 ms per ticket).  Now one
-- set-based call per fold, refresh_escalated(), updates the first
-- escalations of every ticket of the batch in one statement and recomputes
-- their re-escalation paths in another.  A ticket whose facts are created
-- after its escalations is marked for it (escalation_changes) instead of
-- being recomputed on its own.  refresh_first_escalation(),
-- refresh_ticket_paths() and paths_of_ticket() are gone.

CREATE FUNCTION escalation.duration_bucket(d interval, level integer)
RETURNS bigint
AS 'MODULE_PATHNAME', 'escalation_duration_bucket'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION escalation.duration_bucket(interval, integer) IS
  'internal: the log-linear histogram bucket of a duration (level 1: 32 buckets per power of two of its microseconds, level 2: 4,096; below 32 or 4,096 microseconds one bucket per value; negative durations mirrored below 0). Buckets follow the order of durations (src/histogram.c)';
CREATE FUNCTION escalation.duration_bucket_low(bucket bigint, level integer)
RETURNS interval
AS 'MODULE_PATHNAME', 'escalation_duration_bucket_low'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION escalation.duration_bucket_low(bigint, integer) IS
  'internal: the shortest duration in a histogram bucket of escalation.duration_bucket() (as days and time)';
CREATE FUNCTION escalation.duration_bucket_high(bucket bigint, level integer)
RETURNS interval
AS 'MODULE_PATHNAME', 'escalation_duration_bucket_high'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION escalation.duration_bucket_high(bigint, integer) IS
  'internal: the longest duration in a histogram bucket of escalation.duration_bucket() (as days and time)';
CREATE FUNCTION escalation.histogram_find(buckets bigint[], counts integer[], rank bigint)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'escalation_histogram_find'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION escalation.histogram_find(bigint[], integer[], bigint) IS
  'internal: of a histogram given as ascending buckets and their counts, the bucket holding the rank-th smallest value (where the cumulative count reaches rank) and the count below it, as {bucket, below}; NULL when the counts add up to less than rank';

ALTER TABLE escalation.ticket_facts
    ADD COLUMN resolution interval
    GENERATED ALWAYS AS (resolved_at OPERATOR(pg_catalog.-) created_at) STORED;
COMMENT ON COLUMN escalation.ticket_facts.resolution IS
  'resolved_at - created_at (generated); NULL while not solved. escalation.resolution_percentiles reads its exact percentiles from the index ticket_facts_resolution';
CREATE INDEX ticket_facts_resolution ON escalation.ticket_facts (source_id, resolution)
    INCLUDE (priority, team, channel, tenant) WHERE resolution IS NOT NULL;

CREATE TABLE escalation.metric_resolution (
    source_id integer NOT NULL,
    dimension text NOT NULL CHECK (dimension IN ('all', 'priority', 'team', 'channel')),
    value     text,
    bucket    bigint NOT NULL,
    n         integer NOT NULL,
    total     interval NOT NULL,
    folded    boolean NOT NULL DEFAULT false,
    tenant    text
);
CREATE INDEX metric_resolution_key ON escalation.metric_resolution (source_id, dimension, bucket);
CREATE INDEX metric_resolution_unfolded ON escalation.metric_resolution (source_id) WHERE NOT folded;
COMMENT ON TABLE escalation.metric_resolution IS
  'Histogram of resolution time (ticket_facts.resolution) of resolved tickets per source, tenant and group (dimension all, priority, team or channel, and its value), in the coarse buckets of escalation.duration_bucket() (level 1: 32 per power of two): n tickets and the exact sum of their intervals per bucket. Rows are deltas (sum them), compacted by compact_metrics(); escalation.resolution_percentiles reads it, then metric_resolution_fine';
COMMENT ON COLUMN escalation.metric_resolution.value IS
  'the ticket''s priority, team or channel (NULL: not set; always NULL for dimension all)';
COMMENT ON COLUMN escalation.metric_resolution.total IS
  'sum of the tickets'' resolution intervals, added field by field as avg() adds them';

CREATE TABLE escalation.metric_resolution_fine (
    source_id integer NOT NULL,
    dimension text NOT NULL CHECK (dimension IN ('all', 'priority', 'team', 'channel')),
    value     text,
    bucket    bigint NOT NULL,
    n         integer NOT NULL,
    folded    boolean NOT NULL DEFAULT false,
    tenant    text
);
CREATE INDEX metric_resolution_fine_key ON escalation.metric_resolution_fine (source_id, dimension, value, bucket)
    INCLUDE (n, tenant);
CREATE INDEX metric_resolution_fine_unfolded ON escalation.metric_resolution_fine (source_id) WHERE NOT folded;
COMMENT ON TABLE escalation.metric_resolution_fine IS
  'escalation.metric_resolution in the fine buckets of escalation.duration_bucket() (level 2: 4,096 per power of two), counts only (deltas, compacted by compact_metrics()): resolution_percentiles reads the fine buckets of the one coarse bucket that holds a percentile';

CREATE TABLE escalation.metric_tte_reasons (
    source_id integer NOT NULL,
    reason    text,
    minutes   integer NOT NULL,
    n         integer NOT NULL,
    total     interval NOT NULL,
    folded    boolean NOT NULL DEFAULT false,
    tenant    text
);
CREATE INDEX metric_tte_reasons_key ON escalation.metric_tte_reasons (source_id, reason, minutes);
CREATE INDEX metric_tte_reasons_unfolded ON escalation.metric_tte_reasons (source_id) WHERE NOT folded;
COMMENT ON TABLE escalation.metric_tte_reasons IS
  'Histogram of time-to-escalation in whole minutes per source, reason of the first escalation (ticket_facts.first_reason) and tenant, with the exact sum of the intervals (deltas, compacted by compact_metrics()): escalation.time_to_escalation_by_reason reads it';
COMMENT ON COLUMN escalation.metric_tte_reasons.total IS
  'sum of first_escalated_at - created_at of the tickets, added field by field as avg() adds them';

-- what one ticket adds to (sign 1) or takes from (sign -1) the resolution
-- histograms: a row per group with its coarse and its fine bucket (a
-- set-returning SQL function of one SELECT: the planner inlines it)
CREATE FUNCTION escalation.fact_resolution(f escalation.ticket_facts, sign integer)
RETURNS TABLE (source_id integer, dimension text, value text, bucket bigint, fine_bucket bigint,
               n integer, total interval, tenant text)
LANGUAGE sql IMMUTABLE
AS $$
    SELECT f.source_id, d.dimension, d.value, escalation.duration_bucket(f.resolution, 1),
           escalation.duration_bucket(f.resolution, 2), sign,
           CASE WHEN sign OPERATOR(pg_catalog.>) 0 THEN f.resolution
                ELSE OPERATOR(pg_catalog.-) f.resolution END,
           f.tenant
      FROM (VALUES ('all'::text, NULL::text), ('priority', f.priority), ('team', f.team),
                   ('channel', f.channel)) d (dimension, value)
     WHERE f.resolution IS NOT NULL
$$;
COMMENT ON FUNCTION escalation.fact_resolution(escalation.ticket_facts, integer) IS
  'internal: what one resolved ticket adds to (sign 1) or takes from (sign -1) escalation.metric_resolution and metric_resolution_fine: a row per group (all, its priority, team, channel) with its coarse and fine bucket';

-- the new rollups from scratch, set-based: every resolved ticket read once
-- into the fine histogram of each group (grouping sets: no row per group
-- and ticket is materialized), the coarse one from the fine one (a fine
-- bucket lies within one coarse bucket); rebuild_metrics() and the
-- upgrade to 1.1 call it
CREATE FUNCTION escalation.rebuild_resolution_rollups()
RETURNS void
LANGUAGE sql
AS $$
    TRUNCATE escalation.metric_resolution, escalation.metric_resolution_fine,
             escalation.metric_tte_reasons;
    WITH fine AS MATERIALIZED (
        SELECT f.source_id,
               CASE WHEN GROUPING(f.priority) OPERATOR(pg_catalog.=) 0 THEN 'priority'
                    WHEN GROUPING(f.team) OPERATOR(pg_catalog.=) 0 THEN 'team'
                    WHEN GROUPING(f.channel) OPERATOR(pg_catalog.=) 0 THEN 'channel'
                    ELSE 'all' END AS dimension,
               coalesce(f.priority, f.team, f.channel) AS value,
               escalation.duration_bucket(f.resolution, 2) AS bucket,
               pg_catalog.count(*) AS n, pg_catalog.sum(f.resolution) AS total, f.tenant
          FROM escalation.ticket_facts f
         WHERE f.resolution IS NOT NULL
         GROUP BY GROUPING SETS (
                  (f.source_id, f.tenant, escalation.duration_bucket(f.resolution, 2)),
                  (f.source_id, f.tenant, f.priority, escalation.duration_bucket(f.resolution, 2)),
                  (f.source_id, f.tenant, f.team, escalation.duration_bucket(f.resolution, 2)),
                  (f.source_id, f.tenant, f.channel, escalation.duration_bucket(f.resolution, 2)))),
    coarse AS (
        INSERT INTO escalation.metric_resolution
        SELECT x.source_id, x.dimension, x.value,
               escalation.duration_bucket(escalation.duration_bucket_low(x.bucket, 2), 1),
               pg_catalog.sum(x.n), pg_catalog.sum(x.total), true, x.tenant
          FROM fine x
         GROUP BY 1, 2, 3, 4, 8)
    INSERT INTO escalation.metric_resolution_fine
    SELECT x.source_id, x.dimension, x.value, x.bucket, x.n, true, x.tenant FROM fine x;
    INSERT INTO escalation.metric_tte_reasons
    SELECT f.source_id, f.first_reason, escalation.tte_minutes(f), pg_catalog.count(*),
           pg_catalog.sum(f.first_escalated_at OPERATOR(pg_catalog.-) f.created_at), true, f.tenant
      FROM escalation.ticket_facts f
     WHERE f.escalations OPERATOR(pg_catalog.>) 0
     GROUP BY 1, 2, 3, 7;
$$;
COMMENT ON FUNCTION escalation.rebuild_resolution_rollups() IS
  'internal: recomputes metric_resolution, metric_resolution_fine and metric_tte_reasons from ticket_facts, set-based (rebuild_metrics() calls it)';

-- the rollups of the tickets there were before 1.1
SELECT escalation.rebuild_resolution_rollups();

-- during a fold, the statement triggers only stage the changed facts
-- (fact_deltas: the old row with sign -1, the new one with +1) and the fold
-- turns them into rollup deltas at its end, set-based: one statement per
-- rollup for the whole batch instead of five per ticket write, and one
-- delta row per key and fold instead of one per write.  The table is
-- unlogged and empty outside a fold's transaction.
CREATE UNLOGGED TABLE escalation.fact_deltas (
    sign  smallint NOT NULL CHECK (sign IN (-1, 1)),
    facts escalation.ticket_facts NOT NULL
);
COMMENT ON TABLE escalation.fact_deltas IS
  'Ticket facts a fold changed, staged by the statement triggers on ticket_facts while escalation.fold_facts() runs (the old row with sign -1, the new one with sign 1); the fold turns them into rollup deltas (apply_fact_deltas) and empties it before it commits';

CREATE FUNCTION escalation.apply_fact_deltas()
RETURNS void
LANGUAGE sql
AS $$
    WITH d AS (DELETE FROM escalation.fact_deltas x RETURNING x.sign, x.facts),
    days AS (
        INSERT INTO escalation.metric_days
        SELECT (y).source_id, (y).day, (y).team, (y).channel, (y).priority, (y).account_tier,
               pg_catalog.sum((y).tickets), pg_catalog.sum((y).escalated), pg_catalog.sum((y).tte_secs),
               pg_catalog.sum((y).resolved), pg_catalog.sum((y).resolution_secs),
               pg_catalog.sum((y).esc_resolved), pg_catalog.sum((y).esc_resolution_secs),
               pg_catalog.sum((y).esc_total_secs), pg_catalog.sum((y).reopened_tickets),
               pg_catalog.sum((y).transferred), pg_catalog.sum((y).transfers), false, (y).tenant
          FROM (SELECT escalation.fact_days(d.facts, s.time_zone, d.sign) AS y
                  FROM d JOIN escalation.sources s
                    ON s.source_id OPERATOR(pg_catalog.=) (d.facts).source_id OFFSET 0) q
         GROUP BY 1, 2, 3, 4, 5, 6, 19
        HAVING pg_catalog.sum((y).tickets) OPERATOR(pg_catalog.<>) 0
            OR pg_catalog.sum((y).escalated) OPERATOR(pg_catalog.<>) 0
            OR pg_catalog.sum((y).tte_secs) OPERATOR(pg_catalog.<>) 0
            OR pg_catalog.sum((y).resolved) OPERATOR(pg_catalog.<>) 0
            OR pg_catalog.sum((y).resolution_secs) OPERATOR(pg_catalog.<>) 0
            OR pg_catalog.sum((y).esc_resolved) OPERATOR(pg_catalog.<>) 0
            OR pg_catalog.sum((y).esc_resolution_secs) OPERATOR(pg_catalog.<>) 0
            OR pg_catalog.sum((y).esc_total_secs) OPERATOR(pg_catalog.<>) 0
            OR pg_catalog.sum((y).reopened_tickets) OPERATOR(pg_catalog.<>) 0
            OR pg_catalog.sum((y).transferred) OPERATOR(pg_catalog.<>) 0
            OR pg_catalog.sum((y).transfers) OPERATOR(pg_catalog.<>) 0),
    e AS (
        SELECT (d.facts).source_id, (d.facts).first_team, (d.facts).first_reason, (d.facts).tenant,
               escalation.tte_minutes(d.facts) AS minutes, d.sign,
               (d.facts).first_escalated_at OPERATOR(pg_catalog.-) (d.facts).created_at AS tte
          FROM d WHERE (d.facts).escalations OPERATOR(pg_catalog.>) 0),
    tte AS (
        INSERT INTO escalation.metric_tte
        SELECT e.source_id, e.first_team, e.minutes, pg_catalog.sum(e.sign),
               pg_catalog.sum(e.sign OPERATOR(pg_catalog.*) extract(epoch FROM e.tte)::float8), false, e.tenant
          FROM e GROUP BY e.source_id, e.first_team, e.minutes, e.tenant
        HAVING pg_catalog.sum(e.sign) OPERATOR(pg_catalog.<>) 0
            OR pg_catalog.sum(e.sign OPERATOR(pg_catalog.*) extract(epoch FROM e.tte)::float8) OPERATOR(pg_catalog.<>) 0),
    reasons AS (
        INSERT INTO escalation.metric_tte_reasons
        SELECT e.source_id, e.first_reason, e.minutes, pg_catalog.sum(e.sign),
               pg_catalog.sum(CASE WHEN e.sign OPERATOR(pg_catalog.>) 0 THEN e.tte
                                   ELSE OPERATOR(pg_catalog.-) e.tte END), false, e.tenant
          FROM e GROUP BY e.source_id, e.first_reason, e.minutes, e.tenant
        HAVING pg_catalog.sum(e.sign) OPERATOR(pg_catalog.<>) 0
            OR pg_catalog.sum(CASE WHEN e.sign OPERATOR(pg_catalog.>) 0 THEN e.tte
                                   ELSE OPERATOR(pg_catalog.-) e.tte END) OPERATOR(pg_catalog.<>) interval '0'
            OR extract(day FROM pg_catalog.sum(CASE WHEN e.sign OPERATOR(pg_catalog.>) 0 THEN e.tte
                                                    ELSE OPERATOR(pg_catalog.-) e.tte END)) OPERATOR(pg_catalog.<>) 0),
    r AS (SELECT x.* FROM d, LATERAL escalation.fact_resolution(d.facts, d.sign) x),
    coarse AS (
        INSERT INTO escalation.metric_resolution
        SELECT r.source_id, r.dimension, r.value, r.bucket, pg_catalog.sum(r.n), pg_catalog.sum(r.total),
               false, r.tenant
          FROM r GROUP BY r.source_id, r.dimension, r.value, r.bucket, r.tenant
        HAVING pg_catalog.sum(r.n) OPERATOR(pg_catalog.<>) 0
            OR pg_catalog.sum(r.total) OPERATOR(pg_catalog.<>) interval '0'
            OR extract(day FROM pg_catalog.sum(r.total)) OPERATOR(pg_catalog.<>) 0)
    INSERT INTO escalation.metric_resolution_fine
    SELECT r.source_id, r.dimension, r.value, r.fine_bucket, pg_catalog.sum(r.n), false, r.tenant
      FROM r GROUP BY r.source_id, r.dimension, r.value, r.fine_bucket, r.tenant
    HAVING pg_catalog.sum(r.n) OPERATOR(pg_catalog.<>) 0;
$$;
COMMENT ON FUNCTION escalation.apply_fact_deltas() IS
  'internal: turns the ticket facts a fold changed (escalation.fact_deltas) into deltas of every rollup fed by ticket_facts (metric_days, metric_tte, metric_tte_reasons, metric_resolution, metric_resolution_fine), one row per key, and empties fact_deltas; fold_facts() calls it at its end';

-- statement triggers on ticket_facts: the two new rollups too, and during
-- a fold only the staging
CREATE OR REPLACE FUNCTION escalation.facts_delta()
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
    -- a fold in progress (fold_facts() sets escalation.folding for its
    -- transaction): stage the rows, the fold applies them at its end
    IF current_setting('escalation.folding', true) = 'on' THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO escalation.fact_deltas
            SELECT 1, ROW(n.*)::escalation.ticket_facts FROM new_facts n;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO escalation.fact_deltas
            SELECT -1, ROW(o.*)::escalation.ticket_facts FROM old_facts o
            UNION ALL
            SELECT 1, ROW(n.*)::escalation.ticket_facts FROM new_facts n;
        ELSE
            INSERT INTO escalation.fact_deltas
            SELECT -1, ROW(o.*)::escalation.ticket_facts FROM old_facts o;
        END IF;
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
        INSERT INTO escalation.metric_tte_reasons
        SELECT n.source_id, n.first_reason, escalation.tte_minutes(n), count(*),
               sum(n.first_escalated_at - n.created_at), false, n.tenant
          FROM new_facts n WHERE n.escalations > 0
         GROUP BY 1, 2, 3, 7;
        WITH r AS (SELECT r.* FROM new_facts n, LATERAL escalation.fact_resolution(n, 1) r),
        coarse AS (
            INSERT INTO escalation.metric_resolution
            SELECT r.source_id, r.dimension, r.value, r.bucket, sum(r.n), sum(r.total), false, r.tenant
              FROM r GROUP BY r.source_id, r.dimension, r.value, r.bucket, r.tenant)
        INSERT INTO escalation.metric_resolution_fine
        SELECT r.source_id, r.dimension, r.value, r.fine_bucket, sum(r.n), false, r.tenant
          FROM r GROUP BY r.source_id, r.dimension, r.value, r.fine_bucket, r.tenant;
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
        -- a difference of intervals is zero when its days and its value are:
        -- '1 day -24:00:00' compares equal to zero but is no zero sum
        INSERT INTO escalation.metric_tte_reasons
        SELECT source_id, reason, minutes, sum(n), sum(total), false, tenant
          FROM (SELECT o.source_id, o.first_reason AS reason, escalation.tte_minutes(o) AS minutes,
                       -1 AS n, -(o.first_escalated_at - o.created_at) AS total, o.tenant
                  FROM old_facts o WHERE o.escalations > 0
                UNION ALL
                SELECT n.source_id, n.first_reason, escalation.tte_minutes(n),
                       1, n.first_escalated_at - n.created_at, n.tenant
                  FROM new_facts n WHERE n.escalations > 0) x
         GROUP BY 1, 2, 3, 7
        HAVING sum(n) <> 0 OR sum(total) <> interval '0' OR extract(day FROM sum(total)) <> 0;
        WITH r AS (SELECT x.* FROM old_facts o, LATERAL escalation.fact_resolution(o, -1) x
                   UNION ALL
                   SELECT x.* FROM new_facts n, LATERAL escalation.fact_resolution(n, 1) x),
        coarse AS (
            INSERT INTO escalation.metric_resolution
            SELECT r.source_id, r.dimension, r.value, r.bucket, sum(r.n), sum(r.total), false, r.tenant
              FROM r GROUP BY r.source_id, r.dimension, r.value, r.bucket, r.tenant
            HAVING sum(r.n) <> 0 OR sum(r.total) <> interval '0' OR extract(day FROM sum(r.total)) <> 0)
        INSERT INTO escalation.metric_resolution_fine
        SELECT r.source_id, r.dimension, r.value, r.fine_bucket, sum(r.n), false, r.tenant
          FROM r GROUP BY r.source_id, r.dimension, r.value, r.fine_bucket, r.tenant
        HAVING sum(r.n) <> 0;
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
        INSERT INTO escalation.metric_tte_reasons
        SELECT o.source_id, o.first_reason, escalation.tte_minutes(o), -count(*),
               -sum(o.first_escalated_at - o.created_at), false, o.tenant
          FROM old_facts o WHERE o.escalations > 0
         GROUP BY 1, 2, 3, 7;
        WITH r AS (SELECT r.* FROM old_facts o, LATERAL escalation.fact_resolution(o, -1) r),
        coarse AS (
            INSERT INTO escalation.metric_resolution
            SELECT r.source_id, r.dimension, r.value, r.bucket, sum(r.n), sum(r.total), false, r.tenant
              FROM r GROUP BY r.source_id, r.dimension, r.value, r.bucket, r.tenant)
        INSERT INTO escalation.metric_resolution_fine
        SELECT r.source_id, r.dimension, r.value, r.fine_bucket, sum(r.n), false, r.tenant
          FROM r GROUP BY r.source_id, r.dimension, r.value, r.fine_bucket, r.tenant;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION escalation.facts_delta() IS
  'statement trigger on escalation.ticket_facts: appends what the statement changed to the rollups (metric_days, metric_tte, metric_tte_reasons, metric_resolution and metric_resolution_fine; per tenant too), as deltas; during a fold (escalation.folding = on) it stages the changed rows in escalation.fact_deltas instead, which the fold applies at its end';

-- a ticket whose facts are created after its escalations: marked, not recomputed alone
CREATE OR REPLACE FUNCTION escalation.track_ticket_facts(
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
        -- a ticket inserted before metrics knew it gets its escalations from
        -- the escalation side of this fold (set-based, refresh_escalated())
        IF EXISTS (SELECT 1 FROM escalation.escalations e
                    WHERE e.source_id = p_source AND e.ticket_key = p_key) THEN
            INSERT INTO escalation.escalation_changes (source_id, ticket_key) VALUES (p_source, p_key);
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
  'internal: the ticket trigger reports a ticket''s mapped facts; keeps escalation.ticket_facts (reopens, resolution, sentiment) and records observed transfers; a new ticket that has escalations already is marked in escalation.escalation_changes for the fold''s escalation side';

-- the escalation side of a fold, for all its tickets at once: their count
-- and first escalation in ticket_facts (one UPDATE, so the statement
-- triggers fire once), and their share of metric_paths (ticket_paths) with
-- the difference appended to metric_paths.  Same definitions as 1.0's
-- per-ticket functions: first = earliest created_at, then lowest
-- escalation_id; an escalation re-escalates its parent_id, else the same
-- ticket's escalation with the next lower escalation_id; a re-escalation
-- counts for the later escalation's tenant.
CREATE FUNCTION escalation.refresh_escalated(p_sources integer[], p_keys text[])
RETURNS void
LANGUAGE sql
AS $$
    UPDATE escalation.ticket_facts f
       SET escalations = e.n::integer, first_escalated_at = e.created_at,
           first_team = e.target_team, first_reason = e.reason
      FROM (SELECT t.source_id, t.ticket_key, x.n, x.created_at, x.target_team, x.reason
              FROM (SELECT DISTINCT u.source_id, u.ticket_key
                      FROM unnest(p_sources, p_keys) AS u (source_id, ticket_key)) t
             CROSS JOIN LATERAL (
                   SELECT pg_catalog.count(*) OVER () AS n, y.created_at, y.target_team,
                          coalesce(y.reasons OPERATOR(pg_catalog.->) 0 OPERATOR(pg_catalog.->>) 'rule',
                                   y.origin) AS reason
                     FROM escalation.escalations y
                    WHERE y.source_id OPERATOR(pg_catalog.=) t.source_id
                      AND y.ticket_key OPERATOR(pg_catalog.=) t.ticket_key
                    ORDER BY y.created_at, y.escalation_id
                    LIMIT 1) x) e
     WHERE f.source_id OPERATOR(pg_catalog.=) e.source_id
       AND f.ticket_key OPERATOR(pg_catalog.=) e.ticket_key
       AND (f.escalations, f.first_escalated_at, f.first_team, f.first_reason)
           IS DISTINCT FROM (e.n::integer, e.created_at, e.target_team, e.reason);

    WITH t AS (
        SELECT DISTINCT u.source_id, u.ticket_key
          FROM unnest(p_sources, p_keys) AS u (source_id, ticket_key)),
    old AS (
        DELETE FROM escalation.ticket_paths p USING t
         WHERE p.source_id OPERATOR(pg_catalog.=) t.source_id
           AND p.ticket_key OPERATOR(pg_catalog.=) t.ticket_key
        RETURNING p.source_id, p.from_team, p.to_team, p.path, p.escalations, p.reescalated, p.tenant),
    -- each escalation of those tickets, the one it re-escalates (prev) and
    -- whether one re-escalates it: the next escalation by id when that one
    -- has no parent_id, or one whose parent_id it is.  No join of these
    -- rows with themselves: the planner cannot know how many tickets the
    -- arrays hold, and index lookups per row stay linear either way.
    e AS (
        SELECT x.source_id, x.ticket_key, x.escalation_id, x.target_team, x.tenant,
               coalesce(x.parent_id, pg_catalog.lag(x.escalation_id) OVER w) AS prev,
               (pg_catalog.lead(x.escalation_id) OVER w IS NOT NULL
                AND pg_catalog.lead(x.parent_id) OVER w IS NULL)
               OR EXISTS (SELECT 1 FROM escalation.escalations c
                           WHERE c.parent_id OPERATOR(pg_catalog.=) x.escalation_id
                             AND c.source_id OPERATOR(pg_catalog.=) x.source_id
                             AND c.ticket_key OPERATOR(pg_catalog.=) x.ticket_key) AS reescalated
          FROM t JOIN escalation.escalations x
            ON x.source_id OPERATOR(pg_catalog.=) t.source_id
           AND x.ticket_key OPERATOR(pg_catalog.=) t.ticket_key
        WINDOW w AS (PARTITION BY x.source_id, x.ticket_key ORDER BY x.escalation_id)),
    n AS (
        SELECT c.source_id, c.ticket_key, p.target_team AS from_team, c.target_team AS to_team,
               true AS path, 0::bigint AS escalations, pg_catalog.count(*) AS reescalated, c.tenant
          FROM e c
          JOIN LATERAL (SELECT y.target_team FROM escalation.escalations y
                         WHERE y.escalation_id OPERATOR(pg_catalog.=) c.prev
                           AND y.source_id OPERATOR(pg_catalog.=) c.source_id
                           AND y.ticket_key OPERATOR(pg_catalog.=) c.ticket_key) p ON true
         GROUP BY c.source_id, c.ticket_key, p.target_team, c.target_team, c.tenant
        UNION ALL
        SELECT e.source_id, e.ticket_key, e.target_team, NULL, false, pg_catalog.count(*),
               pg_catalog.count(*) FILTER (WHERE e.reescalated), e.tenant
          FROM e
         GROUP BY e.source_id, e.ticket_key, e.target_team, e.tenant),
    new AS (
        INSERT INTO escalation.ticket_paths
        SELECT n.source_id, n.ticket_key, n.from_team, n.to_team, n.path, n.escalations,
               n.reescalated, n.tenant
          FROM n
        RETURNING source_id, from_team, to_team, path, escalations, reescalated, tenant)
    INSERT INTO escalation.metric_paths
    SELECT d.source_id, d.from_team, d.to_team, d.path, pg_catalog.sum(d.escalations),
           pg_catalog.sum(d.reescalated), false, d.tenant
      FROM (SELECT o.source_id, o.from_team, o.to_team, o.path,
                   OPERATOR(pg_catalog.-) o.escalations AS escalations,
                   OPERATOR(pg_catalog.-) o.reescalated AS reescalated, o.tenant
              FROM old o
            UNION ALL
            SELECT w.source_id, w.from_team, w.to_team, w.path, w.escalations, w.reescalated, w.tenant
              FROM new w) d
     GROUP BY d.source_id, d.from_team, d.to_team, d.path, d.tenant
    HAVING pg_catalog.sum(d.escalations) OPERATOR(pg_catalog.<>) 0
        OR pg_catalog.sum(d.reescalated) OPERATOR(pg_catalog.<>) 0;
$$;
COMMENT ON FUNCTION escalation.refresh_escalated(integer[], text[]) IS
  'internal: for the tickets (source_ids[i], ticket_keys[i]) whose escalations changed, recomputes their escalation count and first escalation in ticket_facts and their share of metric_paths (ticket_paths, appending the difference to metric_paths) from escalation.escalations, set-based; fold_facts() calls it once per fold';

DROP FUNCTION escalation.refresh_first_escalation(integer, text);
DROP FUNCTION escalation.refresh_ticket_paths(integer, text);
DROP FUNCTION escalation.paths_of_ticket(integer, text);

-- the log, applied: oldest change first; then the escalation side in one go
CREATE OR REPLACE FUNCTION escalation.fold_facts(max_changes integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    v_sentiment float8;
    n bigint := 0;
    v_sources integer[];
    v_keys text[];
BEGIN
    IF max_changes IS NOT NULL AND max_changes < 1 THEN
        RAISE EXCEPTION 'max_changes must be at least 1, or NULL for all'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one fold at a time, so that a ticket's changes apply in order.  A
    -- change not yet committed is invisible here and folded next time:
    -- later changes of the same ticket wait for it (the helpdesk's row lock)
    PERFORM pg_advisory_xact_lock(pg_catalog.hashtext('escalation.fold_facts'));
    -- the statement triggers on ticket_facts stage the changed rows
    -- (fact_deltas); the rollups get their deltas at the end, set-based
    PERFORM set_config('escalation.folding', 'on', true);
    FOR c IN
        WITH next AS (SELECT f.ctid AS tid FROM escalation.fact_changes f
                       ORDER BY f.change_id LIMIT max_changes),
             gone AS (DELETE FROM escalation.fact_changes f USING next
                       WHERE f.ctid = next.tid RETURNING f.*)
        -- a ticket is scored as it is now, so once per fold: at its last
        -- change that asks for it (the earlier ones keep the stored score,
        -- which that last one then replaces)
        SELECT g.*, g.rescore AND g.change_id OPERATOR(pg_catalog.=) pg_catalog.max(g.change_id)
                      FILTER (WHERE g.rescore)
                      OVER (PARTITION BY g.source_id, g.ticket_key) AS score_now
          FROM gone g ORDER BY g.change_id
    LOOP
        v_sentiment := c.sentiment;
        IF c.score_now AND v_sentiment IS NULL THEN
            v_sentiment := escalation.ticket_sentiment(c.source_id, c.ticket_key);
        END IF;
        PERFORM escalation.track_ticket_facts(c.source_id, c.ticket_key, c.at, c.created_at,
            c.status, c.priority, c.channel, c.team, c.assignee, c.account_key, c.resolved_at,
            c.transferred, c.old_team, c.old_assignee, v_sentiment, c.tenant);
        n := n + 1;
    END LOOP;
    -- tickets whose escalations changed: recomputed from the record, in
    -- any order, all at once
    WITH next AS (SELECT f.ctid AS tid FROM escalation.escalation_changes f
                   LIMIT CASE WHEN max_changes IS NULL THEN NULL
                              ELSE greatest(max_changes - n, 0) END),
         gone AS (DELETE FROM escalation.escalation_changes f USING next
                   WHERE f.ctid = next.tid RETURNING f.source_id, f.ticket_key),
         tickets AS (SELECT DISTINCT g.source_id, g.ticket_key FROM gone g)
    SELECT array_agg(t.source_id ORDER BY t.source_id, t.ticket_key),
           array_agg(t.ticket_key ORDER BY t.source_id, t.ticket_key)
      INTO v_sources, v_keys
      FROM tickets t;
    IF v_sources IS NOT NULL THEN
        PERFORM escalation.refresh_escalated(v_sources, v_keys);
        n := n + cardinality(v_sources);
    END IF;
    PERFORM set_config('escalation.folding', 'off', true);
    PERFORM escalation.apply_fact_deltas();
    RETURN n;
END
$$;
COMMENT ON FUNCTION escalation.fold_facts(integer) IS
  'applies the logged ticket writes (escalation.fact_changes), oldest first, to ticket_facts, transfers and the rollups, then recomputes the first escalation and re-escalation paths of tickets whose escalations changed (escalation.escalation_changes), all in one set-based step (refresh_escalated); at most max_changes changes (NULL: all; a ticket whose escalations changed counts once); returns how many. The worker runs it every cycle; call it for figures up to the last committed write, or from pg_cron where the worker is off';

-- compaction and rebuild: the two new rollups too
CREATE OR REPLACE FUNCTION escalation.compact_metrics()
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

    -- metric_tte_reasons: like metric_tte, per source and reason
    WITH keys AS (SELECT DISTINCT source_id, reason FROM escalation.metric_tte_reasons WHERE NOT folded),
    gone AS (DELETE FROM escalation.metric_tte_reasons m USING keys k
              WHERE m.source_id = k.source_id AND m.reason IS NOT DISTINCT FROM k.reason RETURNING m.*)
    INSERT INTO escalation.metric_tte_reasons
    SELECT g.source_id, g.reason, g.minutes, sum(g.n), sum(g.total), true, g.tenant
      FROM gone g GROUP BY 1, 2, 3, 7 HAVING sum(g.n) <> 0;
    GET DIAGNOSTICS written = ROW_COUNT;
    total := total + written;

    -- metric_resolution(_fine): the buckets with delta rows, every value
    -- and tenant of them (a bucket of no ticket has n = 0 and a zero sum)
    WITH keys AS (SELECT DISTINCT source_id, dimension, bucket
                    FROM escalation.metric_resolution WHERE NOT folded),
    gone AS (DELETE FROM escalation.metric_resolution m USING keys k
              WHERE m.source_id = k.source_id AND m.dimension = k.dimension
                AND m.bucket = k.bucket RETURNING m.*)
    INSERT INTO escalation.metric_resolution
    SELECT g.source_id, g.dimension, g.value, g.bucket, sum(g.n), sum(g.total), true, g.tenant
      FROM gone g GROUP BY 1, 2, 3, 4, 8 HAVING sum(g.n) <> 0;
    GET DIAGNOSTICS written = ROW_COUNT;
    total := total + written;
    -- (keyed by value before bucket, so values and NULL apart: both index scans)
    WITH keys AS (SELECT DISTINCT source_id, dimension, value, bucket
                    FROM escalation.metric_resolution_fine WHERE NOT folded),
    gone AS (DELETE FROM escalation.metric_resolution_fine m USING keys k
              WHERE m.source_id = k.source_id AND m.dimension = k.dimension
                AND m.value = k.value AND m.bucket = k.bucket RETURNING m.*),
    gone_null AS (DELETE FROM escalation.metric_resolution_fine m USING keys k
                   WHERE m.source_id = k.source_id AND m.dimension = k.dimension
                     AND m.value IS NULL AND k.value IS NULL AND m.bucket = k.bucket RETURNING m.*)
    INSERT INTO escalation.metric_resolution_fine
    SELECT g.source_id, g.dimension, g.value, g.bucket, sum(g.n), true, g.tenant
      FROM (SELECT * FROM gone UNION ALL SELECT * FROM gone_null) g
     GROUP BY 1, 2, 3, 4, 7 HAVING sum(g.n) <> 0;
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

CREATE OR REPLACE FUNCTION escalation.rebuild_metrics()
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
             escalation.metric_tte_reasons, escalation.metric_resolution,
             escalation.metric_resolution_fine,
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
    PERFORM escalation.rebuild_resolution_rollups();
    FOR s IN SELECT DISTINCT e.source_id FROM escalation.escalations e LOOP
        PERFORM escalation.rebuild_paths(s);
    END LOOP;
END
$$;
COMMENT ON FUNCTION escalation.rebuild_metrics() IS
  'recomputes every rollup from ticket_facts and escalation.escalations, set-based (after backfill_facts() or a bulk load)';

-- time-to-escalation per reason from metric_tte_reasons: as
-- time_to_escalation does from metric_tte, with the exact mean
CREATE OR REPLACE VIEW escalation.time_to_escalation_by_reason WITH (security_invoker = true) AS
WITH h AS (
    SELECT r.source_id, r.reason, r.minutes, sum(r.n)::integer AS n, sum(r.total) AS total
      FROM escalation.metric_tte_reasons r
     WHERE r.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
     GROUP BY r.source_id, r.reason, r.minutes
    HAVING sum(r.n) <> 0),
c AS (
    SELECT h.*, sum(h.n) OVER w AS cum, sum(h.n) OVER (PARTITION BY h.source_id, h.reason) AS escalated
      FROM h
    WINDOW w AS (PARTITION BY h.source_id, h.reason ORDER BY h.minutes))
SELECT c.source_id, c.reason, max(c.escalated)::bigint AS escalated,
       sum(c.total) / max(c.escalated)::float8 AS mean,
       make_interval(mins => min(c.minutes) FILTER (WHERE c.cum >= greatest(ceil(0.5::float8 * c.escalated::float8), 1))) AS p50,
       make_interval(mins => min(c.minutes) FILTER (WHERE c.cum >= greatest(ceil(0.9::float8 * c.escalated::float8), 1))) AS p90,
       coalesce(sum(c.n) FILTER (WHERE c.minutes < 5), 0)::bigint AS too_fast,
       coalesce(sum(c.n) FILTER (WHERE c.minutes >= 1440), 0)::bigint AS too_slow
  FROM c
 GROUP BY c.source_id, c.reason;
COMMENT ON VIEW escalation.time_to_escalation_by_reason IS
  'time-to-escalation per reason of the first escalation (its first rule, else its origin): escalated tickets, mean (exact, as avg()), median and p90 (percentile_disc over whole minutes), too_fast (< 5 minutes) and too_slow (>= 24 hours); from the rollup metric_tte_reasons';

-- resolution percentiles from metric_resolution: per group, the rank
-- percentile_disc takes (ceil(p * count), at least 1), the coarse bucket
-- holding it, the fine bucket inside that one (metric_resolution_fine, the
-- group's rows only), then the value among the tickets in that fine
-- bucket (index-only, ticket_facts_resolution).  histogram_find() adds up
-- each bucket's rows (deltas, tenants) and walks them in bucket order.
-- The CTEs are materialized so that each histogram_find() runs once.
CREATE OR REPLACE VIEW escalation.resolution_percentiles WITH (security_invoker = true) AS
WITH g AS MATERIALIZED (
    SELECT r.source_id, r.dimension, r.value, sum(r.n) AS resolved, sum(r.total) AS total,
           array_agg(r.bucket) AS buckets, array_agg(r.n) AS counts
      FROM escalation.metric_resolution r
     WHERE r.source_id = ANY ((SELECT escalation.visible_sources())::integer[])
     GROUP BY r.source_id, r.dimension, r.value
    HAVING sum(r.n) <> 0),
t AS MATERIALIZED (
    SELECT g.source_id, g.dimension, g.value, g.resolved, g.total, p.pct, k.rank,
           escalation.histogram_find(g.buckets, g.counts, k.rank) AS coarse
      FROM g CROSS JOIN (VALUES (0.5::float8), (0.9::float8)) p (pct)
      CROSS JOIN LATERAL (SELECT greatest(ceil(p.pct * g.resolved::float8), 1)::bigint AS rank) k),
s AS MATERIALIZED (
    SELECT t.*, escalation.histogram_find(x.buckets, x.counts, t.rank - t.coarse[2]) AS fine
      FROM t
      CROSS JOIN LATERAL (
           SELECT escalation.duration_bucket(escalation.duration_bucket_low(t.coarse[1], 1), 2) AS lo,
                  escalation.duration_bucket(escalation.duration_bucket_high(t.coarse[1], 1), 2) AS hi) b
      CROSS JOIN LATERAL (
           SELECT array_agg(z.bucket) AS buckets, array_agg(z.n) AS counts
             FROM (SELECT r.bucket, r.n
                     FROM escalation.metric_resolution_fine r
                    WHERE r.source_id = t.source_id AND r.dimension = t.dimension
                      AND r.value = t.value AND r.bucket BETWEEN b.lo AND b.hi
                   UNION ALL
                   SELECT r.bucket, r.n
                     FROM escalation.metric_resolution_fine r
                    WHERE t.value IS NULL AND r.source_id = t.source_id
                      AND r.dimension = t.dimension AND r.value IS NULL
                      AND r.bucket BETWEEN b.lo AND b.hi) z) x),
v AS (
    SELECT s.source_id, s.dimension, s.value, s.resolved, s.total, s.pct,
           (SELECT f.resolution
              FROM escalation.ticket_facts f
             WHERE f.source_id = s.source_id
               AND f.resolution >= escalation.duration_bucket_low(s.fine[1], 2)
               AND f.resolution <= escalation.duration_bucket_high(s.fine[1], 2)
               AND CASE s.dimension WHEN 'priority' THEN f.priority IS NOT DISTINCT FROM s.value
                                    WHEN 'team' THEN f.team IS NOT DISTINCT FROM s.value
                                    WHEN 'channel' THEN f.channel IS NOT DISTINCT FROM s.value
                                    ELSE true END
             ORDER BY f.resolution
            OFFSET s.rank - s.coarse[2] - s.fine[2] - 1
             LIMIT 1) AS d
      FROM s)
SELECT v.source_id, v.dimension, v.value, min(v.resolved)::bigint AS resolved,
       min(v.total) / min(v.resolved)::float8 AS mean,
       min(v.d) FILTER (WHERE v.pct = 0.5) AS p50,
       min(v.d) FILTER (WHERE v.pct = 0.9) AS p90
  FROM v
 GROUP BY v.source_id, v.dimension, v.value;
COMMENT ON VIEW escalation.resolution_percentiles IS
  'resolution time (resolved_at - created_at) of resolved tickets, for all and by the ticket''s priority, team and channel (dimension, value; value NULL = not set): count, mean (exact, as avg()), median and p90 (percentile_disc of the exact interval); from the rollups metric_resolution and metric_resolution_fine, the last step from the index ticket_facts_resolution';

-- the tenant boundary, pg_dump, privileges: as the other rollups
ALTER TABLE escalation.metric_resolution ENABLE ROW LEVEL SECURITY;
ALTER TABLE escalation.metric_resolution_fine ENABLE ROW LEVEL SECURITY;
ALTER TABLE escalation.metric_tte_reasons ENABLE ROW LEVEL SECURITY;
-- (fact_deltas holds facts rows only inside a fold's transaction and no
-- role but the owner may read it; the policy keeps it like the facts)
ALTER TABLE escalation.fact_deltas ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.metric_resolution FOR SELECT
    USING (source_id = ANY ((SELECT escalation.visible_sources())::integer[])
           AND escalation.tenant_visible(tenant));
CREATE POLICY tenant ON escalation.metric_resolution_fine FOR SELECT
    USING (source_id = ANY ((SELECT escalation.visible_sources())::integer[])
           AND escalation.tenant_visible(tenant));
CREATE POLICY tenant ON escalation.fact_deltas FOR SELECT
    USING ((facts).source_id = ANY ((SELECT escalation.visible_sources())::integer[])
           AND escalation.tenant_visible((facts).tenant));
CREATE POLICY tenant ON escalation.metric_tte_reasons FOR SELECT
    USING (source_id = ANY ((SELECT escalation.visible_sources())::integer[])
           AND escalation.tenant_visible(tenant));
SELECT pg_catalog.pg_extension_config_dump('escalation.metric_resolution', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.metric_resolution_fine', '');
SELECT pg_catalog.pg_extension_config_dump('escalation.metric_tte_reasons', '');
REVOKE ALL ON escalation.metric_resolution, escalation.metric_resolution_fine,
      escalation.metric_tte_reasons FROM PUBLIC;
GRANT SELECT ON escalation.metric_resolution, escalation.metric_resolution_fine, escalation.metric_tte_reasons
      TO escalation_analyst, escalation_admin;
REVOKE ALL ON FUNCTION escalation.duration_bucket(interval, integer),
      escalation.histogram_find(bigint[], integer[], bigint),
      escalation.duration_bucket_low(bigint, integer),
      escalation.duration_bucket_high(bigint, integer),
      escalation.fact_resolution(escalation.ticket_facts, integer),
      escalation.refresh_escalated(integer[], text[]),
      escalation.rebuild_resolution_rollups(),
      escalation.apply_fact_deltas() FROM PUBLIC;
REVOKE ALL ON escalation.fact_deltas FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escalation.duration_bucket(interval, integer),
      escalation.histogram_find(bigint[], integer[], bigint),
      escalation.duration_bucket_low(bigint, integer),
      escalation.duration_bucket_high(bigint, integer)
      TO escalation_analyst, escalation_admin;

-- ---------------------------------------------------------------------------
-- supporting indexes on the helpdesk's tables (issue 7)
-- ---------------------------------------------------------------------------
-- The trigger's context snapshot reads the requester's other recent tickets
-- and the ticket's recent messages from the helpdesk's own tables, ordered
-- by their creation time.  Without an index that starts with the requester
-- (the ticket's reference on the messages), every escalation reads all of
-- that requester's tickets (all of that ticket's messages); helpdesks have
-- customers with thousands of tickets (a monitoring address, a reseller).
-- This function says which of those look-ups an index serves, and which
-- index would serve them fully.  It only reads the catalog.
CREATE FUNCTION escalation.check_indexes(source_id integer DEFAULT NULL)
RETURNS TABLE (source_id integer, source text, lookup text, table_name regclass,
               columns text[], index_name regclass, status text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH s AS (
    SELECT s.source_id, s.name, s.ticket_table, s.mapping, s.message_table,
           s.message_mapping, s.message_via
      FROM escalation.sources s
     WHERE s.attached
       AND (check_indexes.source_id IS NULL OR s.source_id = check_indexes.source_id)
), wanted AS (
    SELECT s.source_id, s.name, 'requester''s other tickets' AS lookup, s.ticket_table AS tbl,
           s.mapping ->> 'requester' AS col1, s.mapping ->> 'created_at' AS col2
      FROM s
     WHERE s.mapping ? 'requester'
    UNION ALL
    SELECT s.source_id, s.name, 'messages of a ticket', coalesce(s.message_via, s.message_table),
           s.message_mapping ->> 'ticket', s.message_mapping ->> 'created_at'
      FROM s
     WHERE s.message_table IS NOT NULL AND s.message_mapping ? 'ticket'
), cols AS (
    SELECT w.*,
           (SELECT a.attnum FROM pg_attribute a
             WHERE a.attrelid = w.tbl AND a.attname = w.col1 AND NOT a.attisdropped) AS att1,
           (SELECT a.attnum FROM pg_attribute a
             WHERE a.attrelid = w.tbl AND a.attname = w.col2 AND NOT a.attisdropped) AS att2
      FROM wanted w
)
SELECT c.source_id, c.name, c.lookup, c.tbl,
       array_remove(ARRAY[c.col1, c.col2], NULL),
       b.indexrelid::regclass,
       CASE WHEN b.indexrelid IS NULL THEN 'missing'
            WHEN c.att2 IS NULL OR b.full_match THEN 'ok'
            ELSE 'partial' END,
       CASE WHEN b.indexrelid IS NULL OR NOT (c.att2 IS NULL OR b.full_match)
            THEN format('CREATE INDEX ON %s (%s)', c.tbl,
                        array_to_string(ARRAY(SELECT quote_ident(x)
                                                FROM unnest(array_remove(ARRAY[c.col1, c.col2], NULL)) x),
                                        ', '))
       END
  FROM cols c
  LEFT JOIN LATERAL (
        SELECT i.indexrelid,
               (i.indnkeyatts >= 2 AND i.indkey[1] = c.att2) AS full_match
          FROM pg_index i
          JOIN pg_class ic ON ic.oid = i.indexrelid
          JOIN pg_am am ON am.oid = ic.relam
         WHERE i.indrelid = c.tbl
           AND i.indisvalid AND i.indpred IS NULL AND am.amname = 'btree'
           AND i.indkey[0] = c.att1
         ORDER BY 2 DESC, i.indexrelid
         LIMIT 1) b ON true
 ORDER BY c.source_id, c.lookup;
$$;
COMMENT ON FUNCTION escalation.check_indexes(integer) IS
  'for each attached source (or the one given): whether a btree index on the helpdesk''s table serves the context snapshot''s look-ups (the requester''s other tickets by creation time; the messages of a ticket by creation time): ok, partial (only the first column: all rows of that requester or ticket are read and sorted), or missing, with the CREATE INDEX that would serve it fully. Reads only the catalog';
REVOKE ALL ON FUNCTION escalation.check_indexes(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escalation.check_indexes(integer) TO escalation_admin;
--------------------------------------------------------------------------
-- One tokenising pass for rules, sentiment and triage (issue 6)
--------------------------------------------------------------------------
-- The ticket and message triggers split a row's text once (src/textpass.c)
-- and keyword rules, literals, sentiment and the triage model all read that
-- pass.  text_passes() counts the passes a backend made, so the regression
-- tests can check that a ticket costs one; internal.
CREATE FUNCTION escalation.text_passes()
RETURNS bigint
AS 'MODULE_PATHNAME', 'escalation_text_passes'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION escalation.text_passes() IS
  'internal: how many tokenising passes over a text (a ticket''s subject and body, a message''s body, the text of classify(), sentiment(), match_keywords()) this backend has made; the triggers make one per row text, which keyword rules, sentiment and triage share';
REVOKE ALL ON FUNCTION escalation.text_passes() FROM PUBLIC;
--------------------------------------------------------------------------
-- Pattern shapes: a prefilter for patterns without a literal (issue 2)
--------------------------------------------------------------------------
-- A pattern rule whose pattern has no literal for the memmem() prefilter
-- ("\m[0-9]{3}-[0-9]{2}-[0-9]{4}\M") used to run the regex engine on every
-- ticket.  Its shape, the run of character classes every match contains,
-- is now looked for first, by one shift-and scan of the text shared by all
-- such rules of a source (src/shape.c); the engine runs only where the
-- shape occurs.  pattern_shape() shows a pattern's shape.
CREATE FUNCTION escalation.pattern_shape(pattern text, case_sensitive boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'escalation_pattern_shape'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION escalation.pattern_shape(text, boolean) IS
  'the run of characters every match of the regular expression contains, one bracket expression per character (itself a pattern), or NULL when it has none of at least 3 characters; a rule whose pattern has no required literal looks for this run in the text before running the regex engine. "(ASCII text only)" is appended when it holds only for texts without non-ASCII characters (\d and \w may match non-ASCII digits and letters)';
CREATE FUNCTION escalation.pattern_runs()
RETURNS bigint
AS 'MODULE_PATHNAME', 'escalation_pattern_runs'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION escalation.pattern_runs() IS
  'internal: how many times this backend has run the regex engine for pattern rules (each rule''s pattern, and the combined prefilter of patterns without a literal); a pattern whose literal or shape is not in the text costs none';
REVOKE ALL ON FUNCTION escalation.pattern_runs() FROM PUBLIC;
--------------------------------------------------------------------------
-- The requester's other tickets off the write path (issues 2 and 6)
--------------------------------------------------------------------------
-- Reading the requester's other recent tickets was the largest part of an
-- escalating insert (random pages of the helpdesk's table: on the insert
-- benchmark about 40 us per ticket insert on average, a third of what the
-- triggers cost).  With escalation.defer_requester_tickets on (the default)
-- the triggers write the escalation without them, and the worker's next
-- cycle adds them (complete_contexts(), from run_batch() before routing);
-- routing completes any it is about to offer first.  An escalation waiting
-- for them has a requester and no "requester_tickets" key in its context:
-- the partial index below holds exactly those, so finding them costs
-- nothing while there are none.
CREATE FUNCTION escalation.requester_tickets(source_id integer, ticket_key text, requester text,
                                             tenant text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'escalation_requester_tickets'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION escalation.requester_tickets(integer, text, text, text) IS
  'internal: the requester''s other recent tickets of the same tenant (escalation.context_tickets of them, newest first) as an escalation''s context holds them under "requester_tickets", read now with the caller''s privileges; NULL when the source is not attached';
REVOKE ALL ON FUNCTION escalation.requester_tickets(integer, text, text, text) FROM PUBLIC;

CREATE INDEX escalations_context_pending ON escalation.escalations (escalation_id)
    WHERE requester IS NOT NULL
      AND NOT context OPERATOR(pg_catalog.?) 'requester_tickets';

CREATE FUNCTION escalation.complete_context(escalation_id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE escalation.escalations x
       SET context = x.context || jsonb_build_object('requester_tickets',
               coalesce(escalation.requester_tickets(x.source_id, x.ticket_key, x.requester, x.tenant), '[]'))
     WHERE x.escalation_id = complete_context.escalation_id
       AND x.requester IS NOT NULL
       AND NOT x.context OPERATOR(pg_catalog.?) 'requester_tickets';
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION escalation.complete_context(bigint) IS
  'internal: adds the requester''s other recent tickets to the context of an escalation raised without them (escalation.defer_requester_tickets); false when it has them already. Writes no journey event';
REVOKE ALL ON FUNCTION escalation.complete_context(bigint) FROM PUBLIC;

CREATE FUNCTION escalation.complete_contexts(batch_size integer DEFAULT 500)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'complete_contexts needs a batch size of at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- oldest first; one a transaction is writing (an offer) is left to the
    -- next call, so this never waits
    WITH todo AS (
        SELECT x.escalation_id FROM escalation.escalations x
         WHERE x.requester IS NOT NULL
           AND NOT x.context OPERATOR(pg_catalog.?) 'requester_tickets'
         ORDER BY x.escalation_id
         LIMIT batch_size
           FOR UPDATE SKIP LOCKED)
    UPDATE escalation.escalations x
       SET context = x.context || jsonb_build_object('requester_tickets',
               coalesce(escalation.requester_tickets(x.source_id, x.ticket_key, x.requester, x.tenant), '[]'))
      FROM todo
     WHERE x.escalation_id = todo.escalation_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION escalation.complete_contexts(integer) IS
  'adds the requester''s other recent tickets to up to batch_size escalations raised without them (escalation.defer_requester_tickets), oldest first, skipping rows other transactions hold; returns how many. The worker''s run_batch() calls it before routing; call it by hand, or from pg_cron where the worker is off';
REVOKE ALL ON FUNCTION escalation.complete_contexts(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escalation.complete_contexts(integer) TO escalation_admin;

-- Routing decisions that fail every time (routing_failures): the queue
-- skips them until an administrator retries them.  No foreign key to
-- escalations (as clock_failures to clocks): a set-aside row must never
-- stop a DBA's cleanup of escalations.
CREATE TABLE escalation.routing_failures (
    escalation_id bigint PRIMARY KEY,
    source_id     integer NOT NULL,
    ticket_key    text NOT NULL,
    failed_at     timestamptz NOT NULL,
    sqlstate      text NOT NULL,
    error         text NOT NULL
);
COMMENT ON TABLE escalation.routing_failures IS
  'escalations whose routing failed with an error of their own (sqlstate, error, as of failed_at): a queued one''s offer or overflow, or taking back an offered one''s expired offer; set aside, routing skips them until escalation.retry_routing_failures() (deleting a row does the same for that escalation)';
REVOKE ALL ON escalation.routing_failures FROM PUBLIC;
GRANT SELECT ON escalation.routing_failures TO escalation_admin, escalation_agent, escalation_analyst;
GRANT DELETE ON escalation.routing_failures TO escalation_admin;
ALTER TABLE escalation.routing_failures ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.routing_failures FOR ALL
    USING (EXISTS (SELECT 1 FROM escalation.escalations e
                    WHERE e.escalation_id OPERATOR(pg_catalog.=) routing_failures.escalation_id));
SELECT pg_catalog.pg_extension_config_dump('escalation.routing_failures', '');

-- an escalation whose routing failed with an error of its own, set aside
-- (route_isolated(), requeue_isolated()) with a WARNING: what failed
-- ("escalation 42 could not be routed"), then the error
CREATE FUNCTION escalation.routing_set_aside(p_escalation bigint, as_of timestamptz,
                                             p_sqlstate text, p_error text, p_what text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO escalation.routing_failures AS f
           (escalation_id, source_id, ticket_key, failed_at, sqlstate, error)
    SELECT e.escalation_id, e.source_id, e.ticket_key, as_of, p_sqlstate, p_error
      FROM escalation.escalations e WHERE e.escalation_id = p_escalation
    ON CONFLICT (escalation_id) DO UPDATE
       SET failed_at = EXCLUDED.failed_at, sqlstate = EXCLUDED.sqlstate, error = EXCLUDED.error;
    RAISE WARNING '%: %', p_what, p_error
        USING ERRCODE = p_sqlstate,
              HINT = 'It is set aside in escalation.routing_failures; once the cause is fixed, escalation.retry_routing_failures() lets routing take it again.';
END
$$;
COMMENT ON FUNCTION escalation.routing_set_aside(bigint, timestamptz, text, text, text) IS
  'internal: sets an escalation whose routing failed aside in escalation.routing_failures, with a WARNING';
REVOKE ALL ON FUNCTION escalation.routing_set_aside(bigint, timestamptz, text, text, text) FROM PUBLIC;

-- one routing decision of route_plan(), carried out: the escalation, if
-- still queued, offered to its best agent (or the next best if its last
-- slot went meanwhile) or overflowed; true when it was
CREATE FUNCTION escalation.route_one(p_escalation bigint, p_action text, p_agent_ids text[],
                                     p_totals float8[], p_decision jsonb, p_note text,
                                     as_of timestamptz)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e escalation.escalations;
BEGIN
    SELECT * INTO e FROM escalation.escalations x
     WHERE x.escalation_id = p_escalation AND x.status = 'queued'
       FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- its snapshot complete before anyone is offered it
    IF e.requester IS NOT NULL
       AND NOT e.context OPERATOR(pg_catalog.?) 'requester_tickets' THEN
        PERFORM escalation.complete_context(e.escalation_id);
    END IF;
    IF p_action = 'overflow' THEN
        RETURN escalation.overflow(e, p_agent_ids[1], p_decision, p_note, as_of);
    END IF;
    FOR i IN 1 .. cardinality(p_agent_ids) LOOP
        IF escalation.offer(e, p_agent_ids[i],
                            CASE WHEN p_decision ? 'previous_agent' AND i = 1
                                 THEN 'reopen' ELSE 'routed' END,
                            CASE WHEN i = 1 THEN p_decision
                                 ELSE (p_decision - 'factors' - 'runner_up')
                                      || jsonb_build_object('agent_id', p_agent_ids[i],
                                                            'total', p_totals[i], 'rank', i)
                            END,
                            p_note, as_of) THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END
$$;
COMMENT ON FUNCTION escalation.route_one(bigint, text, text[], float8[], jsonb, text, timestamptz) IS
  'internal: carries out one decision of route_plan() (offer to the best agent with room, or overflow), the escalation locked and its context completed first; true when it was routed';
REVOKE ALL ON FUNCTION escalation.route_one(bigint, text, text[], float8[], jsonb, text, timestamptz) FROM PUBLIC;

-- what route() does when its decisions failed: up to least(n, 48) of
-- them one by one, each in a subtransaction (48: under the 64
-- subtransaction ids a backend keeps in shared memory), the ones that
-- fail with an error of their own set aside in routing_failures with a
-- WARNING; returns how many it handled, set aside or not
CREATE FUNCTION escalation.route_isolated(as_of timestamptz, n integer)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
    handled integer := 0;
    st text;
    msg text;
BEGIN
    FOR p IN SELECT * FROM escalation.route_plan(as_of, least(n, 48)) LOOP
        BEGIN
            IF escalation.route_one(p.escalation_id, p.action, p.agent_ids, p.totals,
                                    p.decision, p.note, as_of) THEN
                handled := handled + 1;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            IF escalation.transient_error(st) THEN
                RAISE;
            END IF;
            PERFORM escalation.routing_set_aside(p.escalation_id, as_of, st, msg,
                format('escalation %s could not be routed', p.escalation_id));
            handled := handled + 1;
        END;
    END LOOP;
    RETURN handled;
END
$$;
COMMENT ON FUNCTION escalation.route_isolated(timestamptz, integer) IS
  'internal: what route() does when a batch of routing decisions failed: carries out up to least(n, 48) of them one by one, each in a subtransaction, and sets aside in escalation.routing_failures (a WARNING) those that fail with an error that is theirs (not transient_error()); returns how many it handled, set aside or not';
REVOKE ALL ON FUNCTION escalation.route_isolated(timestamptz, integer) FROM PUBLIC;

CREATE FUNCTION escalation.retry_routing_failures()
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH f AS (DELETE FROM escalation.routing_failures RETURNING 1)
    SELECT pg_catalog.count(*)::integer FROM f
$$;
COMMENT ON FUNCTION escalation.retry_routing_failures() IS
  'lets routing take every escalation of escalation.routing_failures again (a queued one is offered, an expired offer taken back) and empties the table; returns how many. Call it once what made their routing fail is fixed';
REVOKE ALL ON FUNCTION escalation.retry_routing_failures() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escalation.retry_routing_failures() TO escalation_admin;

-- the offers routing takes back: expired, or whose agent went offline or
-- inactive, oldest first, their escalations locked (SKIP LOCKED), those
-- set aside in routing_failures left alone
CREATE FUNCTION escalation.offers_to_take_back(as_of timestamptz, n integer)
RETURNS TABLE (escalation_id bigint, outcome text, note text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.escalation_id,
           CASE WHEN a.expires_at OPERATOR(pg_catalog.<=) as_of THEN 'timed_out' ELSE 'withdrawn' END,
           CASE WHEN a.expires_at OPERATOR(pg_catalog.<=) as_of
                THEN 'offer to ' OPERATOR(pg_catalog.||) a.agent_id OPERATOR(pg_catalog.||) ' timed out'
                ELSE a.agent_id OPERATOR(pg_catalog.||) ' is no longer available' END
      FROM escalation.assignments a
      JOIN escalation.escalations x ON x.escalation_id OPERATOR(pg_catalog.=) a.escalation_id
      LEFT JOIN escalation.agents g ON g.agent_id OPERATOR(pg_catalog.=) a.agent_id
     WHERE a.outcome OPERATOR(pg_catalog.=) 'offered' AND x.status OPERATOR(pg_catalog.=) 'offered'
       AND (a.expires_at OPERATOR(pg_catalog.<=) as_of OR g.agent_id IS NULL OR NOT g.active
            OR g.availability OPERATOR(pg_catalog.=) 'offline')
       AND NOT EXISTS (SELECT 1 FROM escalation.routing_failures f
                        WHERE f.escalation_id OPERATOR(pg_catalog.=) a.escalation_id)
     ORDER BY a.expires_at, a.assignment_id
     LIMIT n
       FOR UPDATE OF x SKIP LOCKED
$$;
COMMENT ON FUNCTION escalation.offers_to_take_back(timestamptz, integer) IS
  'internal: the offers route() takes back (expired, or whose agent went offline or inactive), oldest first, their escalations locked FOR UPDATE SKIP LOCKED, those set aside in escalation.routing_failures left alone';
REVOKE ALL ON FUNCTION escalation.offers_to_take_back(timestamptz, integer) FROM PUBLIC;

-- what route() does when taking offers back failed: up to least(n, 48)
-- one by one, the failing ones set aside in routing_failures (their
-- escalation stays offered until retry_routing_failures())
CREATE FUNCTION escalation.requeue_isolated(as_of timestamptz, n integer)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o record;
    handled integer := 0;
    st text;
    msg text;
BEGIN
    FOR o IN SELECT * FROM escalation.offers_to_take_back(as_of, least(n, 48)) LOOP
        BEGIN
            IF escalation.requeue(o.escalation_id, o.outcome, 'escalation routing', o.note, as_of) THEN
                handled := handled + 1;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            IF escalation.transient_error(st) THEN
                RAISE;
            END IF;
            PERFORM escalation.routing_set_aside(o.escalation_id, as_of, st, msg,
                format('the offer of escalation %s could not be taken back', o.escalation_id));
            handled := handled + 1;
        END;
    END LOOP;
    RETURN handled;
END
$$;
COMMENT ON FUNCTION escalation.requeue_isolated(timestamptz, integer) IS
  'internal: what route() does when taking back a batch of offers failed: takes back up to least(n, 48) of them one by one, each in a subtransaction, and sets aside in escalation.routing_failures (a WARNING) those that fail with an error that is theirs (not transient_error()); returns how many it handled, set aside or not';
REVOKE ALL ON FUNCTION escalation.requeue_isolated(timestamptz, integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION escalation.route(as_of timestamptz DEFAULT now(), batch_size integer DEFAULT 500)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    handled integer := 0;
    k integer;
    st text;
    o record;
    p record;
BEGIN
    IF as_of IS NULL OR batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'route needs an instant and a batch size of at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM escalation.routing_settings s WHERE NOT s.enabled) THEN
        RETURN 0;
    END IF;
    -- 1. offers that expired, or whose agent went offline or inactive,
    -- taken back (offers_to_take_back()); as the decisions below, in a
    -- subtransaction and, when an escalation's own error fails it, one by
    -- one (requeue_isolated()), the failing ones set aside
    BEGIN
        k := 0;
        FOR o IN SELECT * FROM escalation.offers_to_take_back(as_of, batch_size) LOOP
            IF escalation.requeue(o.escalation_id, o.outcome, 'escalation routing', o.note, as_of) THEN
                k := k + 1;
            END IF;
        END LOOP;
        handled := handled + k;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
        IF escalation.transient_error(st) THEN
            RAISE;
        END IF;
        handled := handled + escalation.requeue_isolated(as_of, batch_size);
    END;
    -- 2. queued escalations, most urgent first, to their best agents
    -- (route_one()).  One that cannot be routed for a reason of its own
    -- (a DBA's trigger that refuses its offer, say) would head every batch
    -- and stop the routing of every escalation behind it: the decisions go
    -- in a subtransaction and, when that fails with an error that is not
    -- transient, again one by one (route_isolated()), the failing ones set
    -- aside in escalation.routing_failures, which the queue skips.
    IF handled < batch_size THEN
        BEGIN
            k := 0;
            FOR p IN SELECT * FROM escalation.route_plan(as_of, batch_size - handled) LOOP
                IF escalation.route_one(p.escalation_id, p.action, p.agent_ids, p.totals,
                                        p.decision, p.note, as_of) THEN
                    k := k + 1;
                END IF;
            END LOOP;
            handled := handled + k;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
            IF escalation.transient_error(st) THEN
                RAISE;
            END IF;
            handled := handled + escalation.route_isolated(as_of, batch_size - handled);
        END;
    END IF;
    RETURN handled;
END
$$;
COMMENT ON FUNCTION escalation.route(timestamptz, integer) IS
  'one routing batch: re-queues offers that timed out or whose agent went offline, then offers queued escalations (most urgent first, FOR UPDATE SKIP LOCKED) (their context completed first: complete_context) to their best-fit agents within capacity, or overflows them; returns how many it handled. run_batch() calls it';

--------------------------------------------------------------------------
-- A clock that cannot fire does not stop the others (session 22)
--------------------------------------------------------------------------
-- Clocks fire in the order they are due, a batch in one transaction: a
-- clock whose firing fails every time (a DBA's trigger or constraint that
-- refuses its escalation, say) failed every batch, and no clock due after
-- it fired, and nothing after the clocks in run_batch() ran (routing,
-- metrics).  run_batch() now fires the batch in a subtransaction and, when
-- that fails with an error that is the clock's, fires up to 48 of them
-- one by one, each in a subtransaction (a backend lists 64 subtransaction
-- ids in shared memory; past them every snapshot would read pg_subtrans),
-- and sets the failing ones aside here with their error: their next_at is
-- cleared, so that they fire no more until an administrator fixes the
-- cause and calls retry_failed_clocks().  Errors that are not a clock's
-- (transient_error()) fail the batch as before.  No foreign key to the
-- clocks, as the other clock tables have none: a DBA may truncate them
-- together without CASCADE, and the extension never deletes a clock.
CREATE FUNCTION escalation.transient_error(sqlstate text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'escalation_transient_error'
LANGUAGE C IMMUTABLE STRICT;
COMMENT ON FUNCTION escalation.transient_error(text) IS
  'internal: whether an error (its SQLSTATE) is not the fault of the row being processed, and processing should stop and be tried again later rather than set the row aside (the test record_pending() makes in C, src/subxact.c): connection exceptions (08), invalid transaction state (25, a read-only standby), transaction rollback (40, deadlocks and serialization failures), insufficient resources (53), operator intervention (57, cancels and shutdowns), system errors (58), internal errors (XX) and lock_not_available (55P03)';
REVOKE ALL ON FUNCTION escalation.transient_error(text) FROM PUBLIC;

CREATE TABLE escalation.clock_failures (
    clock_id   bigint PRIMARY KEY,
    source_id  integer NOT NULL,
    ticket_key text NOT NULL,
    next_at    timestamptz NOT NULL,
    failed_at  timestamptz NOT NULL,
    sqlstate   text NOT NULL,
    error      text NOT NULL
);
COMMENT ON TABLE escalation.clock_failures IS
  'SLA clocks set aside because firing them failed (sqlstate, error, as of failed_at): the clock''s next_at was cleared, and next_at here is when its step was due. escalation.retry_failed_clocks() makes them due again; deleting a row gives up on the rest of that clock''s steps';
REVOKE ALL ON escalation.clock_failures FROM PUBLIC;
GRANT SELECT ON escalation.clock_failures TO escalation_admin, escalation_agent, escalation_analyst;
GRANT DELETE ON escalation.clock_failures TO escalation_admin;
ALTER TABLE escalation.clock_failures ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.clock_failures FOR ALL
    USING (EXISTS (SELECT 1 FROM escalation.sla_tickets t
                    WHERE t.source_id OPERATOR(pg_catalog.=) clock_failures.source_id
                      AND t.ticket_key OPERATOR(pg_catalog.=) clock_failures.ticket_key));
SELECT pg_catalog.pg_extension_config_dump('escalation.clock_failures', '');

-- the due clocks a batch takes, locked with their ticket's sla_tickets
-- row, which every writer of the ticket's bookkeeping locks first: a clock
-- whose ticket a transaction is writing is left to the next cycle, so the
-- cycle never waits, holding a clock, for what that transaction holds (an
-- escalation of the same target)
CREATE FUNCTION escalation.claim_due_clocks(as_of timestamptz, n integer)
RETURNS SETOF escalation.clocks
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.* FROM escalation.clocks x
      JOIN escalation.sla_tickets t
        ON t.source_id OPERATOR(pg_catalog.=) x.source_id
       AND t.ticket_key OPERATOR(pg_catalog.=) x.ticket_key
     WHERE x.next_at OPERATOR(pg_catalog.<=) as_of
     ORDER BY x.next_at
     LIMIT n
       FOR UPDATE OF x, t SKIP LOCKED
$$;
COMMENT ON FUNCTION escalation.claim_due_clocks(timestamptz, integer) IS
  'internal: up to n clocks due at as_of, earliest first, each locked with its ticket''s sla_tickets row (FOR UPDATE SKIP LOCKED: a clock another transaction holds, or whose ticket it is writing, is left to the next cycle); run_batch() and fire_clocks_isolated() fire them';
REVOKE ALL ON FUNCTION escalation.claim_due_clocks(timestamptz, integer) FROM PUBLIC;

CREATE FUNCTION escalation.fire_clocks_isolated(as_of timestamptz, batch_size integer)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c escalation.clocks;
    handled integer := 0;
    st text;
    msg text;
BEGIN
    -- claimed here, outside the subtransactions below, so that a clock
    -- whose firing is rolled back stays claimed by this transaction
    FOR c IN SELECT * FROM escalation.claim_due_clocks(as_of, least(batch_size, 48)) LOOP
        BEGIN
            PERFORM escalation.clock_fire(c, as_of);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            IF escalation.transient_error(st) THEN
                RAISE;
            END IF;
            INSERT INTO escalation.clock_failures AS f
                   (clock_id, source_id, ticket_key, next_at, failed_at, sqlstate, error)
            VALUES (c.clock_id, c.source_id, c.ticket_key, c.next_at, as_of, st, msg)
            ON CONFLICT (clock_id) DO UPDATE
               SET next_at = excluded.next_at, failed_at = excluded.failed_at,
                   sqlstate = excluded.sqlstate, error = excluded.error;
            UPDATE escalation.clocks x SET next_at = NULL WHERE x.clock_id = c.clock_id;
            RAISE WARNING 'the % clock of ticket "%" could not fire: %', c.metric, c.ticket_key, msg
                USING ERRCODE = st,
                      DETAIL = 'It was set aside in escalation.clock_failures and does not fire until it is retried.',
                      HINT = 'Once the cause is fixed, escalation.retry_failed_clocks() makes it due again.';
        END;
        handled := handled + 1;
    END LOOP;
    RETURN handled;
END
$$;
COMMENT ON FUNCTION escalation.fire_clocks_isolated(timestamptz, integer) IS
  'internal: what run_batch() does when firing a batch of clocks failed: fires up to least(batch_size, 48) due clocks one by one, each in a subtransaction, and sets aside in escalation.clock_failures (next_at cleared, a WARNING) those that fail with an error that is theirs (not transient_error()); returns how many clocks it handled, set aside or not';
REVOKE ALL ON FUNCTION escalation.fire_clocks_isolated(timestamptz, integer) FROM PUBLIC;

CREATE FUNCTION escalation.retry_failed_clocks()
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH f AS (DELETE FROM escalation.clock_failures RETURNING clock_id, next_at),
         u AS (UPDATE escalation.clocks c SET next_at = f.next_at
                 FROM f
                WHERE c.clock_id OPERATOR(pg_catalog.=) f.clock_id AND c.next_at IS NULL
                RETURNING 1)
    SELECT pg_catalog.count(*)::integer FROM f
$$;
COMMENT ON FUNCTION escalation.retry_failed_clocks() IS
  'makes every clock of escalation.clock_failures due again at the instant its step was due (unless the clock has been rescheduled since, by a write of its ticket), for the next cycle to fire, and empties the table; returns how many. Call it once what made them fail is fixed';
REVOKE ALL ON FUNCTION escalation.retry_failed_clocks() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escalation.retry_failed_clocks() TO escalation_admin;

CREATE FUNCTION escalation.step_failed(step text, sqlstate text, message text)
RETURNS void
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'escalation_step_failed';
COMMENT ON FUNCTION escalation.step_failed(text, text, text) IS
  'internal: what run_batch() does when one of its steps after the clocks failed with an error of its own: a WARNING with the error''s SQLSTATE and, in the background worker, the error counted and shown in escalation.workers.last_error as "<step>: <message>"';
REVOKE ALL ON FUNCTION escalation.step_failed(text, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION escalation.run_batch(as_of timestamptz, batch_size integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c escalation.clocks;
    n record;
    handled integer := 0;
    k integer;
    step text;
    st text;
    msg text;
BEGIN
    IF as_of IS NULL OR batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'run_batch needs an instant and a batch size of at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- due clocks, claimed with their tickets (claim_due_clocks()).
    -- A clock that fails to fire for a reason of its own (a DBA's trigger
    -- that refuses its escalation, say) would head every batch, due first,
    -- and stop every clock behind it: the batch's clocks fire in a
    -- subtransaction and, when that fails with an error that is not
    -- transient, again one by one (fire_clocks_isolated()), the failing
    -- ones set aside in escalation.clock_failures.
    BEGIN
        FOR c IN SELECT * FROM escalation.claim_due_clocks(as_of, batch_size) LOOP
            PERFORM escalation.clock_fire(c, as_of);
            handled := handled + 1;
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
        IF escalation.transient_error(st) THEN
            RAISE;
        END IF;
        handled := escalation.fire_clocks_isolated(as_of, batch_size);
    END;
    -- The other steps, each in a subtransaction of its own: a step that
    -- fails with an error of its own (a DBA's trigger that refuses a
    -- routing decision or a metrics row, a notification too long to send)
    -- would otherwise undo the clocks fired above and fail every batch,
    -- stopping the SLA clocks for as long as it fails.  Its work is
    -- undone, a WARNING says so (escalation.step_failed(), which also
    -- shows it in escalation.workers.last_error), and the next steps go
    -- on; the next batch tries it again.  Transient errors fail the batch
    -- as before.
    FOREACH step IN ARRAY ARRAY['notifications', 'contexts', 'routing', 'metrics fold',
                                'retraining', 'metrics compaction'] LOOP
        BEGIN
            k := 0;
            CASE step
            WHEN 'notifications' THEN
                -- notifications that were waiting for working hours
                FOR n IN SELECT * FROM escalation.notifications x
                          WHERE x.sent_at IS NULL AND x.notify_at <= as_of
                          ORDER BY x.notify_at
                          LIMIT batch_size - handled
                          FOR UPDATE SKIP LOCKED LOOP
                    PERFORM pg_notify('escalation_sla', n.payload::text);
                    UPDATE escalation.notifications x SET sent_at = as_of
                     WHERE x.notification_id = n.notification_id;
                    k := k + 1;
                END LOOP;
            WHEN 'contexts' THEN
                -- the requester's other tickets of escalations the triggers
                -- raised with them deferred (escalation.defer_requester_tickets),
                -- before routing offers them
                IF handled < batch_size THEN
                    k := escalation.complete_contexts(batch_size - handled);
                END IF;
            WHEN 'routing' THEN
                -- routing (issue 4) with what is left of the batch
                IF handled < batch_size THEN
                    k := escalation.route(as_of, batch_size - handled);
                END IF;
            WHEN 'metrics fold' THEN
                -- metrics (issue 5): the ticket writes logged since the last
                -- batch, up to ten times batch_size of them (a fold applies a
                -- change in about a tenth of what a clock or a routing
                -- decision takes).  Never waits for a fold already running,
                -- and is not counted in handled: the metrics lag the writes
                -- by a cycle, and a backlog drains over the next cycles.
                IF (EXISTS (SELECT 1 FROM escalation.fact_changes)
                    OR EXISTS (SELECT 1 FROM escalation.escalation_changes))
                   AND pg_try_advisory_xact_lock(hashtext('escalation.fold_facts')) THEN
                    PERFORM escalation.fold_facts(10 * batch_size);
                END IF;
            WHEN 'retraining' THEN
                -- triage models due for retraining (escalation.triage_schedules)
                k := escalation.retrain_due(as_of);
            WHEN 'metrics compaction' THEN
                -- metrics (issue 5): the last batch of a cycle folds the
                -- rollups' delta rows once batch_size of them piled up in
                -- one rollup (an index-only probe of the partial index / a
                -- short scan).  Never waits: when a compaction or rebuild
                -- holds the lock, the next cycle does it.  Not counted in
                -- handled, so the cycle still ends here.  The lock is tried
                -- before the probe, in a statement of its own: a
                -- rebuild_metrics() holds it with the rollups truncated, an
                -- ACCESS EXCLUSIVE lock that even planning the probe would
                -- wait for.
                IF handled < batch_size
                   AND pg_try_advisory_xact_lock(hashtext('escalation.compact_metrics')) THEN
                    IF EXISTS (SELECT 1 FROM escalation.metric_days m WHERE NOT m.folded OFFSET batch_size - 1)
                       OR EXISTS (SELECT 1 FROM escalation.metric_tte m WHERE NOT m.folded OFFSET batch_size - 1)
                       OR EXISTS (SELECT 1 FROM escalation.metric_paths m WHERE NOT m.folded OFFSET batch_size - 1) THEN
                        PERFORM escalation.compact_metrics();
                    END IF;
                END IF;
            END CASE;
            -- counted once the step's subtransaction holds
            handled := handled + k;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            IF escalation.transient_error(st) THEN
                RAISE;
            END IF;
            PERFORM escalation.step_failed(step, st, msg);
        END;
    END LOOP;
    RETURN handled;
END
$$;
COMMENT ON FUNCTION escalation.run_batch(timestamptz, integer) IS
  'one batch of a cycle: claims up to batch_size due clocks (FOR UPDATE SKIP LOCKED), fires their warnings, breaches and ladder levels (in a subtransaction; when that fails with an error that is not transient, one by one, setting aside in escalation.clock_failures those that fail), then sends notifications that were waiting for working hours, then adds the requester''s other tickets to escalations raised without them (complete_contexts), then routes queued escalations (escalation.route) with the rest of the batch, then folds up to 10 * batch_size logged ticket writes into the metrics (fold_facts, not counted); the last batch (fewer than batch_size handled) also runs compact_metrics() when a metrics rollup holds batch_size or more delta rows and no other compaction runs; each step after the clocks runs in a subtransaction of its own, and one that fails with an error that is not transient is undone with a WARNING (escalation.step_failed()) while the others go on; returns how many clocks, notifications, completed contexts and escalations it handled. The background worker runs one transaction per batch';
--------------------------------------------------------------------------
-- train(max_features): a bound on the model's size (issue 6)
--------------------------------------------------------------------------
-- Every backend that scores tickets holds the active model, and scoring
-- looks up each word, word pair and subject gram in its feature map: the
-- insert benchmark's model (100,000 tickets, min_df 5) had 674,000
-- features, 78 MB per backend, and its look-ups miss the caches
-- (classify() 44-67 us a ticket; capped at 100,000 features, 11 MB and
-- 35-46 us). max_features keeps the
-- features in the most training tickets, chosen before training, as
-- scikit-learn's TfidfVectorizer(max_features) does; 100,000 by default
-- (about 11 MB per backend). The signature changes, so the function is
-- dropped and created again with its grants.
DROP FUNCTION escalation.train(regclass, text, text, text, float8, boolean, text, float8, float8, integer);
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
    max_features     integer DEFAULT 100000,
    OUT model_id integer, OUT version integer, OUT activated boolean,
    OUT train_tickets integer, OUT heldout_tickets integer, OUT teams integer,
    OUT features integer, OUT accuracy float8, OUT macro_f1 float8,
    OUT escalation_accuracy float8, OUT previous_accuracy float8,
    OUT previous_escalation_accuracy float8, OUT seconds float8)
RETURNS record
AS 'MODULE_PATHNAME', 'escalation_train'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION escalation.train(regclass, text, text, text, float8, boolean, text, float8, float8, integer, integer) IS
  'learns the team and escalation models from an attached ticket table''s history (labels: team_column, default the mapped team; escalated_column, default "has an escalation"), evaluates them on held-out tickets and stores a new version in escalation.models; the vocabulary keeps the max_features features in the most training tickets (NULL: every feature in at least min_df), which bounds the memory and time the model costs every backend that scores with it; reads the ticket table with the caller''s privileges';
REVOKE ALL ON FUNCTION escalation.train(regclass, text, text, text, float8, boolean, text, float8, float8, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escalation.train(regclass, text, text, text, float8, boolean, text, float8, float8, integer, integer)
      TO escalation_admin;
--------------------------------------------------------------------------
-- Escalations recorded by the worker: the write path's outbox (issue 6)
--------------------------------------------------------------------------
-- A new ticket's escalation costs the helpdesk's writer two rows through
-- the executor (the escalation, with its nine indexes, its BEFORE and
-- AFTER triggers and foreign key, and its "created" event): on the insert
-- benchmark about 90 us per escalating ticket, as much as the bare insert
-- of the ticket, and 12 us per ticket insert on average, the largest part
-- of the trigger's time.  With escalation.defer_escalations on, the
-- trigger appends what the record statement needs to this table instead
-- (one heap insert and one entry in the queue's index, no trigger: it
-- commits or rolls back with the ticket), and the worker records it,
-- through the same statement as an update of the ticket would, before it
-- routes (record_pending(), in transactions of its own before each
-- cycle's batches).  Off (the default) the trigger records the
-- escalation in the writer's transaction, as before.  The columns are the
-- record statement's parameters.
CREATE TABLE escalation.pending_escalations (
    source_id     integer NOT NULL,
    ticket_key    text NOT NULL,
    level         integer NOT NULL,
    kind          text NOT NULL,
    target_team   text,
    target_skills text[],
    target_tier   integer,
    severity      integer NOT NULL,
    reasons       jsonb NOT NULL,
    context       jsonb,
    at            timestamptz NOT NULL,
    origin        text NOT NULL,
    event_reasons jsonb NOT NULL,
    tenant        text
);
-- the context snapshot (a few kB) stays in the row, uncompressed, as in
-- escalation.escalations: a pglz attempt and a TOAST write would cost the
-- writer much of what leaving the recording to the worker saves
ALTER TABLE escalation.pending_escalations SET (toast_tuple_target = 8160);
-- the queue's order: record_pending() takes the oldest batch_size rows.
-- Without it each batch read and sorted the whole table: with 192,000
-- rows waiting (a burst the worker fell behind on), 200 ms of every
-- batch of 500 against 2 ms from the index, the sort spilling to disk
-- (docs/design.md 7b).  The trigger keeps this one
-- index itself, for about 2 us a pending row (a plain btree on a time
-- that mostly grows: its rightmost page)
CREATE INDEX pending_escalations_at ON escalation.pending_escalations (at);
-- no key: a publication that replicates deletes needs the whole row to
-- identify one
ALTER TABLE escalation.pending_escalations REPLICA IDENTITY FULL;
COMMENT ON TABLE escalation.pending_escalations IS
  'escalations the ticket trigger decided with escalation.defer_escalations on, waiting for the worker to record them (escalation.record_pending()), oldest first by the index pending_escalations_at; written by the trigger without the executor, which keeps that index and no other: with another index, or a trigger, the trigger records the escalation itself; administrators may read it, as the tenant policy lets them';
REVOKE ALL ON escalation.pending_escalations FROM PUBLIC;
-- administrators may watch the backlog, with the record's policy: the
-- source's scope and the tenant (as fact_changes); the trigger and
-- record_pending() write and read it as the extension's owner
GRANT SELECT ON escalation.pending_escalations TO escalation_admin;
ALTER TABLE escalation.pending_escalations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.pending_escalations FOR SELECT
    USING (source_id = ANY ((SELECT escalation.visible_sources())::integer[])
           AND escalation.tenant_visible(tenant));
-- a dump keeps what the worker has not recorded yet
SELECT pg_catalog.pg_extension_config_dump('escalation.pending_escalations', '');

CREATE FUNCTION escalation.record_pending(batch_size integer DEFAULT 500)
RETURNS integer
AS 'MODULE_PATHNAME', 'escalation_record_pending'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION escalation.record_pending(integer) IS
  'records up to batch_size escalations the ticket trigger left in escalation.pending_escalations (escalation.defer_escalations), oldest first (by the ticket''s time), skipping rows other transactions hold; each goes through the statement that records an escalation on a ticket update (an open escalation of the same level and target takes its reasons), with its "created" event at the ticket''s time; returns how many. A row the statement rejects (a DBA''s trigger or constraint on escalations, say) is moved to escalation.pending_failed with its error, with a WARNING, and the rest are recorded; errors that are not a row''s (a cancel, a deadlock, a lack of memory) fail the call and leave the rows for the next. The worker calls it in transactions of its own before each cycle''s batches, run_cycle() first; call it by hand, or from pg_cron where the worker is off';
REVOKE ALL ON FUNCTION escalation.record_pending(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escalation.record_pending(integer) TO escalation_admin;

-- A pending escalation the record statement rejects (a DBA's trigger or
-- constraint on escalation.escalations, say) is set aside here with its
-- error, so that one bad row does not hold up the queue: record_pending()
-- records a batch in a subtransaction and, when it fails, in halves, down
-- to the rows that fail.  Errors that are not a row's (a cancel, a
-- deadlock, a lack of memory, a shutdown) fail the call instead, and the
-- rows wait for the next one.  retry_pending_failed() puts them back once the
-- cause is fixed.
CREATE TABLE escalation.pending_failed (
    LIKE escalation.pending_escalations,
    failed_at     timestamptz NOT NULL,
    sqlstate      text NOT NULL,
    error         text NOT NULL
);
ALTER TABLE escalation.pending_failed REPLICA IDENTITY FULL;
COMMENT ON TABLE escalation.pending_failed IS
  'pending escalations (escalation.pending_escalations) that escalation.record_pending() could not record, with the error (sqlstate, error) and when (failed_at); escalation.retry_pending_failed() queues them again. Administrators may read them and delete those they give up, as the tenant policy lets them';
REVOKE ALL ON escalation.pending_failed FROM PUBLIC;
GRANT SELECT, DELETE ON escalation.pending_failed TO escalation_admin;
ALTER TABLE escalation.pending_failed ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON escalation.pending_failed FOR ALL
    USING (source_id = ANY ((SELECT escalation.visible_sources())::integer[])
           AND escalation.tenant_visible(tenant));
SELECT pg_catalog.pg_extension_config_dump('escalation.pending_failed', '');

CREATE FUNCTION escalation.retry_pending_failed()
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH f AS (DELETE FROM escalation.pending_failed RETURNING *),
         q AS (INSERT INTO escalation.pending_escalations (source_id, ticket_key, level, kind,
                   target_team, target_skills, target_tier, severity, reasons, context, at,
                   origin, event_reasons, tenant)
               SELECT f.source_id, f.ticket_key, f.level, f.kind, f.target_team, f.target_skills,
                      f.target_tier, f.severity, f.reasons, f.context, f.at, f.origin,
                      f.event_reasons, f.tenant
                 FROM f
               RETURNING 1)
    SELECT pg_catalog.count(*)::integer FROM q
$$;
COMMENT ON FUNCTION escalation.retry_pending_failed() IS
  'moves every row of escalation.pending_failed back to escalation.pending_escalations, for the worker''s next cycle (or record_pending()) to record, at the ticket''s time as before; returns how many. Call it once what made them fail is fixed';
REVOKE ALL ON FUNCTION escalation.retry_pending_failed() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escalation.retry_pending_failed() TO escalation_admin;

-- The worker records them in transactions of their own, before each
-- cycle's batches (worker.c): a new escalation is then committed before a
-- clock, a routing decision or a fold of the same batch could hold it
-- while waiting for a row a helpdesk writer holds (the ticket's, which
-- routing writes the assignee to), and a writer's update that records
-- the same escalation waits for that short transaction only.  run_cycle(),
-- one transaction by definition, records them first too.
GRANT EXECUTE ON FUNCTION escalation.record_pending(integer) TO escalation_worker;
CREATE OR REPLACE FUNCTION escalation.run_cycle(as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    batch integer := coalesce(nullif(current_setting('escalation.batch_size', true), '')::integer, 500);
    n integer;
    total integer := 0;
BEGIN
    -- escalations the triggers left to the worker (escalation.defer_escalations)
    LOOP
        n := escalation.record_pending(batch);
        EXIT WHEN n < batch;
    END LOOP;
    LOOP
        n := escalation.run_batch(as_of, batch);
        total := total + n;
        EXIT WHEN n < batch;
    END LOOP;
    RETURN total;
END
$$;
COMMENT ON FUNCTION escalation.run_cycle(timestamptz) IS
  'one whole cycle as of an instant, in the caller''s transaction: records the escalations the triggers left to the worker (record_pending), then batches of escalation.batch_size until nothing is due; returns clocks and notifications handled. For pg_cron where the worker cannot be preloaded, and for tests';

--------------------------------------------------------------------------
-- backlog(): is the worker keeping up? (session 22)
--------------------------------------------------------------------------
-- escalation.workers says whether the worker runs and what failed; this
-- says what waits for it, per queue, with the oldest item and its age,
-- as pgmq's metrics() does for a queue: the number to alert on when a
-- worker is stopped, misconfigured or too slow.  Exact counts, each from
-- the queue's own index where it has one (clocks_next, notifications_due,
-- escalations_queue, escalations_context_pending) or from a table the
-- worker empties every cycle.  SECURITY DEFINER: counts and instants only,
-- for administrators and pg_monitor, across tenants (as escalation.workers).
CREATE FUNCTION escalation.backlog(as_of timestamptz DEFAULT now())
RETURNS TABLE (queue text, waiting bigint, oldest timestamptz, oldest_age interval, what text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- the planner takes NOT (context ? 'requester_tickets') for nearly every
-- row and would scan escalations whole for the contexts queue; each queue
-- has an index or is a table the worker empties (and with the penalty
-- of a disabled scan in its cost, a plan would be compiled by JIT, which
-- took a second where the counting takes milliseconds)
SET enable_seqscan = off
SET jit = off
AS $$
    SELECT q.queue, q.waiting, q.oldest, as_of OPERATOR(pg_catalog.-) q.oldest, q.what
      FROM (
        SELECT 1 AS n, 'pending_escalations' AS queue, count(*) AS waiting, min(p.at) AS oldest,
               'escalations the triggers decided, for the worker to record (record_pending())' AS what
          FROM escalation.pending_escalations p
        UNION ALL
        SELECT 2, 'pending_failed', count(*), min(f.failed_at),
               'escalations the worker could not record, set aside (retry_pending_failed())'
          FROM escalation.pending_failed f
        UNION ALL
        SELECT 3, 'due_clocks', count(*), min(c.next_at),
               'SLA clocks with a warning, breach or ladder level due and not fired yet'
          FROM escalation.clocks c
         WHERE c.next_at OPERATOR(pg_catalog.<=) as_of
        UNION ALL
        SELECT 4, 'clock_failures', count(*), min(f.failed_at),
               'SLA clocks that could not fire, set aside (retry_failed_clocks())'
          FROM escalation.clock_failures f
        UNION ALL
        SELECT 5, 'notifications', count(*), min(n.notify_at),
               'SLA notifications due and not sent yet'
          FROM escalation.notifications n
         WHERE n.sent_at IS NULL AND n.notify_at OPERATOR(pg_catalog.<=) as_of
        UNION ALL
        SELECT 6, 'contexts', count(*), min(e.created_at),
               'escalations waiting for their requester''s other tickets (complete_contexts())'
          FROM escalation.escalations e
         WHERE e.requester IS NOT NULL
           AND NOT e.context OPERATOR(pg_catalog.?) 'requester_tickets'
        UNION ALL
        SELECT 7, 'queued_escalations', count(*), min(e.created_at),
               'escalations waiting for an agent (routing)'
          FROM escalation.escalations e
         WHERE e.status OPERATOR(pg_catalog.=) 'queued'
        UNION ALL
        SELECT 8, 'routing_failures', count(*), min(f.failed_at),
               'escalations whose routing failed, set aside (retry_routing_failures())'
          FROM escalation.routing_failures f
        UNION ALL
        SELECT 9, 'fact_changes', count(*), min(f.at),
               'ticket writes not folded into the metrics yet (fold_facts())'
          FROM escalation.fact_changes f
        UNION ALL
        SELECT 10, 'escalation_changes', count(*), NULL::timestamptz,
               'tickets whose escalations changed, not folded into the metrics yet (fold_facts())'
          FROM escalation.escalation_changes x
      ) q
     ORDER BY q.n
$$;
COMMENT ON FUNCTION escalation.backlog(timestamptz) IS
  'what waits for the background worker, per queue: how many items, the oldest one''s instant and its age as of as_of, and what the queue is (pending and set-aside escalations, due and set-aside SLA clocks, unsent notifications, contexts to complete, queued escalations, writes to fold into the metrics); exact counts across tenants, for monitoring';
REVOKE ALL ON FUNCTION escalation.backlog(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escalation.backlog(timestamptz) TO escalation_admin, pg_monitor;

----------------------------------------------------------------------
-- backfill_sla(): the trigger's SLA bookkeeping for tickets it has not
-- (or not fully) seen: open tickets from before attach() or before the
-- source's first SLA policy, and tickets whose bookkeeping failed in the
-- writer's transaction (a WARNING there names this function).  Written
-- in C (src/sla_backfill.c) so that a ticket is read through the mapping
-- exactly as the trigger reads it.
----------------------------------------------------------------------
CREATE FUNCTION escalation.backfill_sla(ticket_table regclass, as_of timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'escalation_backfill_sla';
COMMENT ON FUNCTION escalation.backfill_sla(regclass, timestamptz) IS
  'starts the SLA clocks of the table''s open and pending tickets that have none (as if inserted: from their created_at, so an overdue one breaches in the next cycle) and brings tracked open tickets up to their row as of as_of (a status change the trigger could not record); solved tickets without clocks are left alone. The caller must own the table. Returns the tickets handed to the bookkeeping';
REVOKE ALL ON FUNCTION escalation.backfill_sla(regclass, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escalation.backfill_sla(regclass, timestamptz) TO escalation_admin;

--------------------------------------------------------------------------
-- merge_reasons() in C (the record statement's ON CONFLICT branch)
--------------------------------------------------------------------------
-- As an SQL function with a pinned search_path it could not be inlined,
-- and every statement that called it parsed and planned its body again:
-- about 100 us a call, twice in the statement that adds a new reason to an
-- open escalation (a ticket's update or follow-up, or a pending
-- escalation the worker merges).  Same arguments, results and errors; its
-- grants and comment stay.
CREATE OR REPLACE FUNCTION escalation.merge_reasons(old jsonb, new jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'escalation_merge_reasons'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

--------------------------------------------------------------------------
-- sla_policy_for() in PL/pgSQL (every tracked ticket's insert calls it)
--------------------------------------------------------------------------
-- sla_track_ticket() calls it for every write of a ticket of a source
-- with SLA policies.  An SQL function whose body has a FROM clause is not
-- inlined, and PostgreSQL parsed and planned its body again in every
-- transaction that called it: about 400 us of a 1.4 ms ticket insert with
-- one policy (docs/benchmarks.md, session 27).  In PL/pgSQL its query is
-- planned once per session.  Same arguments and result; its grants and
-- comment stay.
CREATE OR REPLACE FUNCTION escalation.sla_policy_for(source_id integer, priority text, channel text,
                                                     team text, account_key text, fields jsonb)
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (
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
     LIMIT 1);
END
$$;

--------------------------------------------------------------------------
-- clock_start() writes a running clock's due times with the clock
--------------------------------------------------------------------------
-- It inserted the clock and then had clock_schedule() update it with its
-- due_at and next_at: for every new tracked ticket, one UPDATE per clock
-- (a new row version, its three index entries, the sla_due trigger).  A
-- new clock has no elapsed time and no firings, so what clock_schedule()
-- computes for it is sla_add() from its start, of the target and of the
-- first step: written with the INSERT (a paused clock's stay NULL, as
-- clock_schedule() leaves them).
CREATE OR REPLACE FUNCTION escalation.clock_start(p_source integer, p_key text, p_metric text,
                                                  p_policy integer, p_start timestamptz, p_paused boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t escalation.sla_targets;
    cid bigint;
BEGIN
    SELECT * INTO t FROM escalation.sla_targets x WHERE x.policy_id = p_policy AND x.metric = p_metric;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- a running clock gets what clock_schedule() computes for a clock with
    -- no elapsed time and no firings; a paused one none
    INSERT INTO escalation.clocks AS k
        (source_id, ticket_key, metric, round, policy_id, target, calendar, state,
         started_at, running_since, due_at, next_at)
    VALUES (p_source, p_key, p_metric,
            coalesce((SELECT max(o.round) + 1 FROM escalation.clocks o
                       WHERE o.source_id = p_source AND o.ticket_key = p_key
                         AND o.metric = p_metric), 1),
            p_policy, t.target, t.calendar,
            CASE WHEN p_paused THEN 'paused' ELSE 'running' END,
            p_start, CASE WHEN p_paused THEN NULL ELSE p_start END,
            CASE WHEN NOT p_paused
                 THEN escalation.sla_add(t.calendar, p_start, extract(epoch FROM t.target)::float8) END,
            CASE WHEN NOT p_paused
                 THEN (SELECT CASE WHEN min(s.at_secs) IS NULL THEN NULL
                                   ELSE escalation.sla_add(t.calendar, p_start, min(s.at_secs)) END
                         FROM escalation.sla_steps(p_policy, p_metric, t.target) s) END)
    RETURNING k.clock_id INTO cid;
    IF NOT p_paused THEN
        INSERT INTO escalation.clock_segments (clock_id, starts) VALUES (cid, p_start);
    END IF;
END
$$;
