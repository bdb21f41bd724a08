-- bench/replay/01_load.sql -- the ServiceNow incident event log, as text,
-- then typed events in replay order.  Fed by bench/replay.sh: the CSV
-- comes on standard input from ../shared (never copied into the project).
CREATE SCHEMA replay;
CREATE UNLOGGED TABLE replay.csv (
    line bigint GENERATED ALWAYS AS IDENTITY,
    number text, incident_state text, active text, reassignment_count text, reopen_count text,
    sys_mod_count text, made_sla text, caller_id text, opened_by text, opened_at text,
    sys_created_by text, sys_created_at text, sys_updated_by text, sys_updated_at text,
    contact_type text, location text, category text, subcategory text, u_symptom text,
    cmdb_ci text, impact text, urgency text, priority text, assignment_group text,
    assigned_to text, knowledge text, u_priority_confirmation text, notify text,
    problem_id text, rfc text, vendor text, caused_by text, closed_code text,
    resolved_by text, resolved_at text, closed_at text
);
\copy replay.csv (number, incident_state, active, reassignment_count, reopen_count, sys_mod_count, made_sla, caller_id, opened_by, opened_at, sys_created_by, sys_created_at, sys_updated_by, sys_updated_at, contact_type, location, category, subcategory, u_symptom, cmdb_ci, impact, urgency, priority, assignment_group, assigned_to, knowledge, u_priority_confirmation, notify, problem_id, rfc, vendor, caused_by, closed_code, resolved_by, resolved_at, closed_at) FROM pstdin WITH (FORMAT csv, HEADER true)

-- '?' is missing; times are d/m/yyyy hh24:mi without a zone (read as UTC)
CREATE FUNCTION replay.ts(v text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$ SELECT to_timestamp(nullif(v, '?'), 'DD/MM/YYYY HH24:MI') $$;
CREATE FUNCTION replay.tx(v text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT nullif(v, '?') $$;

-- an incident's events in their order (sys_mod_count, then time, then the
-- file's order: SOURCE.md, quirk 4); the replay order is time order, each
-- event at the latest time of its incident so far, so that an incident's
-- events keep their order where the clock stepped back
CREATE UNLOGGED TABLE replay.events AS
WITH e AS (
    SELECT c.line, c.number, c.incident_state, c.active::boolean AS active,
           c.reassignment_count::integer AS reassignment_count, c.reopen_count::integer AS reopen_count,
           c.sys_mod_count::integer AS sys_mod_count, c.made_sla::boolean AS made_sla,
           replay.tx(c.caller_id) AS caller_id, replay.tx(c.opened_by) AS opened_by,
           replay.ts(c.opened_at) AS opened_at, replay.tx(c.sys_created_by) AS sys_created_by,
           replay.ts(c.sys_created_at) AS sys_created_at, replay.tx(c.sys_updated_by) AS sys_updated_by,
           replay.ts(c.sys_updated_at) AS sys_updated_at, replay.tx(c.contact_type) AS contact_type,
           replay.tx(c.location) AS location, replay.tx(c.category) AS category,
           replay.tx(c.subcategory) AS subcategory, replay.tx(c.u_symptom) AS u_symptom,
           replay.tx(c.cmdb_ci) AS cmdb_ci, replay.tx(c.impact) AS impact, replay.tx(c.urgency) AS urgency,
           replay.tx(c.priority) AS priority, replay.tx(c.assignment_group) AS assignment_group,
           replay.tx(c.assigned_to) AS assigned_to, c.knowledge::boolean AS knowledge,
           c.u_priority_confirmation::boolean AS u_priority_confirmation, replay.tx(c.notify) AS notify,
           replay.tx(c.problem_id) AS problem_id, replay.tx(c.rfc) AS rfc, replay.tx(c.vendor) AS vendor,
           replay.tx(c.caused_by) AS caused_by, replay.tx(c.closed_code) AS closed_code,
           replay.tx(c.resolved_by) AS resolved_by, replay.ts(c.resolved_at) AS resolved_at,
           replay.ts(c.closed_at) AS closed_at
      FROM replay.csv c),
s AS (
    SELECT e.*, row_number() OVER (PARTITION BY e.number ORDER BY e.sys_mod_count, e.sys_updated_at, e.line)::integer AS seq
      FROM e),
t AS (
    SELECT s.*, max(s.sys_updated_at) OVER (PARTITION BY s.number ORDER BY s.seq) AS replay_at
      FROM s)
SELECT row_number() OVER (ORDER BY t.replay_at, t.number, t.seq) AS ord, t.*
  FROM t;
CREATE UNIQUE INDEX ON replay.events (ord);
ANALYZE replay.events;
