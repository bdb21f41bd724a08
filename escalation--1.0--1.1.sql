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
