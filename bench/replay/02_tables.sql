-- bench/replay/02_tables.sql -- the helpdesk's incident table, shaped like
-- the log (one row per incident, its latest state), twice: attached to
-- escalation, and a bare twin without trigger.
CREATE TABLE replay.incidents (
    number text PRIMARY KEY,
    incident_state text NOT NULL, active boolean, reassignment_count integer, reopen_count integer,
    sys_mod_count integer, made_sla boolean, caller_id text, opened_by text, opened_at timestamptz,
    sys_created_by text, sys_created_at timestamptz, sys_updated_by text, sys_updated_at timestamptz,
    contact_type text, location text, category text, subcategory text, u_symptom text, cmdb_ci text,
    impact text, urgency text, priority text, assignment_group text, assigned_to text,
    knowledge boolean, u_priority_confirmation boolean, notify text, problem_id text, rfc text,
    vendor text, caused_by text, closed_code text, resolved_by text, resolved_at timestamptz,
    closed_at timestamptz
);
CREATE TABLE replay.incidents_bare (LIKE replay.incidents INCLUDING ALL);

-- the states' meanings; the raw figures use the same map (02: replay.meaning)
CREATE TABLE replay.meaning (state text PRIMARY KEY, meaning text NOT NULL);
INSERT INTO replay.meaning VALUES
    ('New', 'open'), ('Active', 'open'),
    ('Awaiting User Info', 'pending'), ('Awaiting Vendor', 'pending'),
    ('Awaiting Problem', 'pending'), ('Awaiting Evidence', 'pending'),
    ('Resolved', 'solved'), ('Closed', 'solved'), ('-100', 'other');

SELECT escalation.attach('replay.incidents', key => 'number', status => 'incident_state',
       status_map => (SELECT jsonb_object_agg(meaning, states)
                        FROM (SELECT meaning, jsonb_agg(state ORDER BY state) AS states
                                FROM replay.meaning GROUP BY meaning) m),
       created_at => 'opened_at', updated_at => 'sys_updated_at', resolved_at => 'resolved_at',
       priority => 'priority', channel => 'contact_type', team => 'assignment_group',
       assignee => 'assigned_to', time_zone => 'UTC', name => 'servicenow') IS NOT NULL AS attached;
INSERT INTO escalation.teams (name, kind)
SELECT DISTINCT assignment_group, 'functional' FROM replay.events WHERE assignment_group IS NOT NULL
ON CONFLICT DO NOTHING;
