-- scripts/demo/04_routing.sql: routing, as the replay's cycles did it.
--
-- Every SLA cycle of the replay (escalation.run_cycle(as_of), every 15
-- minutes of accelerated time) ended with a routing batch: queued
-- escalations, most urgent first, offered to their best-fit agent within
-- capacity.  Nobody in the replay accepts an offer, so each offer times
-- out after 10 minutes and the next cycle offers the escalation to the next
-- best agent; when nobody is left who fits, it overflows to the team lead
-- or the next tier.  Then we replay one more quarter hour by hand: an agent
-- accepts, another declines, and the cycle routes what came back.

\echo
\echo '=================================================================='
\echo ' Routing: who got which escalation, and why'
\echo '=================================================================='
\echo 'Offers the cycles made during the replay, by kind and how they ended:'
SELECT kind, outcome, count(*) AS offers, count(DISTINCT escalation_id) AS escalations,
       count(DISTINCT agent_id) AS agents
  FROM escalation.assignments GROUP BY kind, outcome ORDER BY kind, outcome;

\echo
\echo 'Offers per agent (capacity is never exceeded: open offers per agent at most its capacity):'
SELECT a.agent_id, g.team, g.capacity, count(*) AS offers,
       round(avg(a.total)::numeric, 2) AS "avg fit",
       escalation.agent_load(a.agent_id) AS "holds now"
  FROM escalation.assignments a JOIN escalation.agents g USING (agent_id)
 GROUP BY a.agent_id, g.team, g.capacity ORDER BY count(*) DESC, a.agent_id LIMIT 8;

-- one escalation to follow: the first billing escalation that was routed
SELECT a.escalation_id AS e, a.offered_at AS first_offer
  FROM escalation.assignments a JOIN escalation.escalations e USING (escalation_id)
 WHERE e.target_team = 'billing' AND a.kind = 'routed'
 ORDER BY a.offered_at, a.assignment_id LIMIT 1 \gset

\echo
\echo 'Its offers, one after the other (an offer not accepted in 10 minutes goes to the next best agent):'
SELECT a.offered_at, a.agent_id, a.kind, a.outcome, round(a.total::numeric, 3) AS fit,
       a.decision -> 'runner_up' ->> 'agent_id' AS "runner-up", a.decision ->> 'candidates' AS candidates
  FROM escalation.assignments a WHERE a.escalation_id = :e ORDER BY a.offered_at, a.assignment_id;

\echo
\echo 'escalation.explain_route(): every agent, each factor (0..1) and the weighted total,'
\echo 'best first, then why the others were excluded -- as at its first offer:'
SELECT agent_id, rank, total, skills, tier, workload, availability, shift, language,
       continuity, fairness, excluded_because
  FROM escalation.explain_route(:e, :'first_offer')
 ORDER BY rank NULLS LAST, agent_id;

\echo
\echo 'The factor breakdown stored with the offer (escalation.assignments.decision):'
SELECT jsonb_pretty(a.decision - 'factors') AS decision,
       (SELECT string_agg(f.key || ' ' || (f.value ->> 'value') || ' x ' || (f.value ->> 'weight'), ', ')
          FROM jsonb_each(a.decision -> 'factors') f) AS "factor value x weight"
  FROM escalation.assignments a WHERE a.escalation_id = :e
 ORDER BY a.offered_at, a.assignment_id LIMIT 1;

\echo
\echo '== One more quarter hour by hand: queue two escalations, one agent accepts, one declines'
SELECT max(offered_at) + interval '1 day' AS t0 FROM escalation.assignments \gset
-- two tickets that are not solved and have no open escalation
SELECT min(t.id) AS t1, max(t.id) AS t2 FROM helpdesk.tickets t
 WHERE t.status <> 'solved' AND NOT EXISTS (
       SELECT 1 FROM escalation.escalations e WHERE e.ticket_key = t.id::text
          AND e.status IN ('queued', 'offered', 'accepted')) \gset
SELECT escalation.escalate('helpdesk.tickets', :'t1',
           target_team => 'billing', target_skills => '{refunds}', severity => 3,
           reason => 'demo: refund over the limit', as_of => :'t0') AS e1 \gset
SELECT escalation.escalate('helpdesk.tickets', :'t2',
           target_team => 'technical', target_skills => '{api}', severity => 2,
           reason => 'demo: webhook failures', as_of => :'t0') AS e2 \gset
SELECT escalation.run_cycle(:'t0'::timestamptz + interval '1 minute') AS "cycle handled";
SELECT escalation_id, status, agent_id, routing ->> 'total' AS fit,
       routing -> 'runner_up' ->> 'agent_id' AS "runner-up"
  FROM escalation.escalations WHERE escalation_id IN (:e1, :e2) ORDER BY escalation_id;
SELECT a.escalation_id, a.status, a.agent_id
  FROM escalation.escalations x,
       LATERAL escalation.accept(x.escalation_id, x.agent_id, :'t0'::timestamptz + interval '3 minutes') a
 WHERE x.escalation_id = :e1 AND x.status = 'offered';
SELECT d.escalation_id, d.status, d.last_note
  FROM escalation.escalations x,
       LATERAL escalation.decline(x.escalation_id, x.agent_id, 'on a call with another customer',
                                  :'t0'::timestamptz + interval '4 minutes') d
 WHERE x.escalation_id = :e2 AND x.status = 'offered';
SELECT escalation.run_cycle(:'t0'::timestamptz + interval '15 minutes') AS "next cycle handled";
\echo 'The declined one went to the next best agent; the decliner is skipped for it:'
SELECT a.escalation_id, a.agent_id, a.kind, a.outcome, a.note
  FROM escalation.assignments a WHERE a.escalation_id IN (:e1, :e2)
 ORDER BY a.escalation_id, a.offered_at, a.assignment_id;
