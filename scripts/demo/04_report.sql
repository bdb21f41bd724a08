-- scripts/demo/04_report.sql: what the helpdesk wrote, and what escalation made of it.


\echo
\echo '=================================================================='
\echo ' 1. What the helpdesk wrote'
\echo '=================================================================='
SELECT (SELECT count(*) FROM helpdesk.tickets) AS tickets,
       (SELECT count(*) FROM helpdesk.messages) AS messages,
       (SELECT min(created_at)::date FROM helpdesk.tickets) AS "from",
       (SELECT max(created_at)::date FROM helpdesk.tickets) AS "to";

SELECT author_kind AS "messages by", count(*) AS messages
  FROM helpdesk.messages GROUP BY author_kind ORDER BY count(*) DESC;

\echo
\echo '=================================================================='
\echo ' 2. What escalation made of it'
\echo '    The triggers judged every ticket and every customer message as'
\echo '    it was written, in the writer''s own transaction.'
\echo '=================================================================='
SELECT count(*) AS escalations,
       count(DISTINCT ticket_key) AS "escalated tickets",
       round(100.0 * count(DISTINCT ticket_key) / (SELECT count(*) FROM helpdesk.tickets), 1) AS "% of tickets",
       count(*) FILTER (WHERE reasons -> 0 ->> 'on' = 'ticket') AS "raised by a ticket",
       count(*) FILTER (WHERE reasons -> 0 ->> 'on' = 'message') AS "raised by a follow-up",
       (SELECT count(*) FROM escalation.first_responses) AS "first responses recorded"
  FROM escalation.escalations;

\echo
\echo 'Escalations per team and kind (functional = to expertise, hierarchical = to authority):'
SELECT e.target_team AS team, e.kind, t.tier, count(*) AS escalations,
       count(*) FILTER (WHERE e.severity = 4) AS critical,
       count(*) FILTER (WHERE e.severity = 3) AS high,
       count(*) FILTER (WHERE e.severity <= 2) AS normal
  FROM escalation.escalations e LEFT JOIN escalation.teams t ON t.name = e.target_team
 GROUP BY e.target_team, e.kind, t.tier
 ORDER BY e.kind, count(*) DESC, e.target_team;

\echo
\echo 'Top reasons (the rule behind each escalation):'
SELECT r ->> 'rule' AS rule, count(*) AS escalations,
       count(*) FILTER (WHERE r ->> 'on' = 'ticket') AS "on the ticket",
       count(*) FILTER (WHERE r ->> 'on' = 'message') AS "on a follow-up"
  FROM escalation.escalations e, jsonb_array_elements(e.reasons) AS r
 GROUP BY r ->> 'rule'
 ORDER BY count(*) DESC, rule;

-- the escalation to show in full: a VIP customer's angry follow-up, which
-- carries the conversation and the customer's other tickets with it
SELECT e.escalation_id AS eid, e.ticket_key AS ticket, e.target_team AS team, e.created_at AS at
  FROM escalation.escalations e
 WHERE e.reasons -> 0 ->> 'on' = 'message'
   AND (e.context -> 'account' ->> 'vip')::boolean
   AND jsonb_array_length(e.context -> 'messages') >= 2
   AND jsonb_array_length(e.context -> 'requester_tickets') >= 1
   AND e.status IN ('queued', 'offered')
 ORDER BY e.escalation_id
 LIMIT 1 \gset

\echo
\echo '=================================================================='
\echo ' 3. One escalation in full'
\echo '    Why it was raised (reasons, with their evidence) and what the'
\echo '    receiving agent needs without asking the customer again (context).'
\echo '=================================================================='
\x on
SELECT e.escalation_id, e.ticket_key, t.subject AS ticket_subject, e.level, e.kind, e.origin,
       e.target_team, e.target_skills, e.severity, e.status, e.created_at
  FROM escalation.escalations e JOIN helpdesk.tickets t ON t.id::text = e.ticket_key
 WHERE e.escalation_id = :eid;
\x off

\pset format unaligned
\pset tuples_only on
\echo
\echo 'reasons:'
SELECT jsonb_pretty(reasons) FROM escalation.escalations WHERE escalation_id = :eid;
\echo
\echo 'context:'
SELECT jsonb_pretty(context) FROM escalation.escalations WHERE escalation_id = :eid;
\pset format aligned
\pset tuples_only off

-- the ticket to explain: a disputed charge that was NOT escalated
SELECT t.id AS xticket, t.disputed_amount AS xamount, t.subject AS xsubject,
       format('SELECT rule, fires, why_not, evidence FROM escalation.explain(%L, %L, %L)',
              'helpdesk.tickets', t.id, t.created_at) AS xsql
  FROM helpdesk.tickets t
 WHERE t.disputed_amount <= 500
   AND NOT EXISTS (SELECT 1 FROM escalation.escalations e WHERE e.ticket_key = t.id::text)
 ORDER BY t.id
 LIMIT 1 \gset

\echo
\echo '=================================================================='
\echo ' 4. explain(): why (not)?'
\echo '    Every rule, whether it fires for a ticket, and why or why not.'
\echo '=================================================================='
\echo 'Ticket' :xticket '("':xsubject'", disputed amount $':xamount') was not escalated. Why?'
\echo
\echo :xsql ';'
:xsql \g

\echo
\echo '=================================================================='
\echo ' 5. The journey of escalation' :eid
\echo '    An agent of the target team accepts it, then resolves it;'
\echo '    every change is appended to escalation.events.'
\echo '=================================================================='
-- whoever holds the routing offer accepts; else the team's lead
SELECT coalesce(CASE WHEN e.status = 'offered' THEN e.agent_id END, t.lead_agent,
                (SELECT a.agent_id FROM escalation.agents a WHERE a.team = e.target_team
                  ORDER BY a.agent_id LIMIT 1)) AS agent
  FROM escalation.escalations e LEFT JOIN escalation.teams t ON t.name = e.target_team
 WHERE e.escalation_id = :eid \gset
\if :{?agent}
\echo 'SELECT escalation.accept(':eid', ''':agent''', ...);  SELECT escalation.resolve(':eid', ''...'', ...);'
SELECT status, agent_id, accepted_at
  FROM escalation.accept(:eid, :'agent', as_of => :'at'::timestamptz + interval '25 minutes');
SELECT status, closed_at, last_note
  FROM escalation.resolve(:eid, 'Called the customer, apologised and credited one month.',
                          as_of => :'at'::timestamptz + interval '3 hours');
\else
\echo '(nobody holds it now: routing will offer it again; its journey so far:)'
\endif
\echo
SELECT event_id, event, from_status, to_status, actor, note, at
  FROM escalation.events WHERE escalation_id = :eid ORDER BY event_id;
