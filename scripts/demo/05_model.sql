-- scripts/demo/05_model.sql: learned triage (issue 6) on the demo's own history.
--
-- The two weeks above are Helio's history: every solved ticket, and whether
-- it was escalated.  The helpdesk writes on each solved ticket the team that
-- finally handled it: Helio's agents passed bug reports to product, security
-- reports to security, disputed charges to billing, outages and API
-- problems to technical, and the first line solved the rest, whether a rule
-- had caught the ticket or not.  escalation.train() learns from that, in C
-- inside the database, which team a ticket needs and how likely it is to be
-- escalated; two rule kinds then act on the predictions as new tickets are
-- written.  Deterministic: the same history gives the same model.

\echo
\echo '=================================================================='
\echo ' Learned triage: a model trained on the two weeks'
\echo '=================================================================='
\echo '== The helpdesk records who finally handled each solved ticket'
UPDATE helpdesk.tickets t
   SET team = coalesce((SELECT h.team
                          FROM (VALUES ('product', 'Export button does nothing'),
                                       ('product', 'Dashboard shows wrong totals'),
                                       ('product', 'App freezes when uploading attachments'),
                                       ('product', 'Search finds nothing in %'),
                                       ('security', 'Suspicious activity on our account'),
                                       ('security', 'Possible unauthorized access'),
                                       ('security', 'We think we had a data breach'),
                                       ('security', 'Someone logged in from another country'),
                                       ('billing', 'Disputed charge on invoice %'),
                                       ('billing', 'Charge we do not recognise'),
                                       ('billing', 'We dispute the renewal charge'),
                                       ('technical', 'Dashboard shows a blank page'),
                                       ('technical', 'Complete outage since 9am'),
                                       ('technical', 'Service unavailable for all users'),
                                       ('technical', 'API returns 502'),
                                       ('technical', 'Webhook deliveries failing'),
                                       ('technical', 'Sync error every night'),
                                       ('technical', 'Rate limit questions')) AS h (team, subject)
                         WHERE t.subject LIKE h.subject), 'frontline')
 WHERE t.status = 'solved';
SELECT team AS "handled by", count(*) AS "solved tickets",
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM escalation.escalations e
                                      WHERE e.ticket_key = t.id::text)) AS escalated
  FROM helpdesk.tickets t WHERE status = 'solved'
 GROUP BY team ORDER BY count(*) DESC;

\echo
\echo '== escalation.train(): the solved tickets; a fifth held out (by a hash of the key) to score it'
\echo '   labels: the team column, and "was escalated" (has a row in escalation.escalations)'
SELECT version, activated, train_tickets, heldout_tickets, teams, features,
       round(accuracy::numeric, 3) AS team_accuracy, round(macro_f1::numeric, 3) AS macro_f1,
       round(escalation_accuracy::numeric, 3) AS escalation_accuracy
  FROM escalation.train('helpdesk.tickets', resolved_only => true);

\echo
\echo '== escalation.classify(): the predicted team, its probability, the words that weighed most,'
\echo '   and the probability that the ticket will be escalated'
SELECT left(x.body, 60) AS "ticket text", c.team, round(c.probability::numeric, 2) AS p,
       array_to_string(c.words[1:3], ', ') AS "because of",
       round(c.escalation_probability::numeric, 2) AS "p(escalated)",
       array_to_string(c.escalation_words[1:3], ', ') AS "because of "
  FROM (VALUES (1, 'Since the last update the totals on the dashboard do not match the CSV export.'),
               (2, 'Our webhook endpoint receives nothing since this morning, every delivery fails.'),
               (3, 'Someone changed the password of our admin and we see suspicious activity.'),
               (4, 'Could you send me a copy of the last invoice for our accounting?'),
               (5, 'How do I add two new users to our workspace?')) AS x (k, body),
       escalation.classify(x.body, 'helpdesk.tickets') c
 ORDER BY x.k;

\echo
\echo '== Two rules on the model''s predictions, and one on frustration'
INSERT INTO escalation.rules (name, description, team_confidence_at_least, kind, severity, level) VALUES
    ('model: route to the predicted team',
     'the model is at least 80% sure which second-line team the ticket needs: send it there, past the first line',
     0.8, 'functional', 2, 1);
INSERT INTO escalation.rules (name, description, escalation_probability_at_least, target_team, kind,
                              severity, level) VALUES
    ('model: likely escalation',
     'tickets like this one were mostly escalated: senior support watches it from the start',
     0.7, 'tier2', 'hierarchical', 2, 2);
INSERT INTO escalation.rules (name, description, applies_to, frustration_above, target_team,
                              target_skills, kind, severity, level) VALUES
    ('frustrated follow-up', 'a customer''s follow-up is clearly frustrated',
     'message', 0.6, 'tier2', '{de-escalation}', 'hierarchical', 3, 2);
SELECT name AS rule, description FROM escalation.rules WHERE rule_id > 8 ORDER BY rule_id;

\echo
\echo '== Two new tickets that no keyword rule knows ("confirmed bug" waits for an agent; "server'
\echo '   errors" for a 5xx status): the model sends each straight to its team, past the first line,'
\echo '   and the webhook one, likely to be escalated anyway, to senior support as well'
INSERT INTO helpdesk.tickets (id, created_at, updated_at, status, priority, channel, subject, body,
                              requester, account, team)
VALUES (2001, '2024-03-18 09:12+00', '2024-03-18 09:12+00', 'new', 'normal', 'email',
        'Totals wrong after the update',
        'Since the last update the totals on the dashboard do not match the CSV export anymore. Tina',
        'tina.weber3@globex.example', 'globex', 'frontline'),
       (2002, '2024-03-18 09:40+00', '2024-03-18 09:40+00', 'new', 'normal', 'email',
        'Webhooks stopped',
        'Our webhook endpoint receives nothing since this morning, every delivery fails. Omar',
        'omar.patel2@initech.example', 'initech', 'frontline');
SELECT e.ticket_key AS ticket, e.level, e.kind, e.target_team AS team, r ->> 'rule' AS rule,
       coalesce(r -> 'triage' ->> 'predicted_team', '-') AS predicted,
       round(coalesce(r -> 'triage' ->> 'confidence',
                      r -> 'triage' ->> 'escalation_probability')::numeric, 2) AS p,
       (SELECT string_agg(w, ', ')
          FROM jsonb_array_elements_text(coalesce(r -> 'triage' -> 'words',
                                                  r -> 'triage' -> 'escalation_words')) w) AS "because of"
  FROM escalation.escalations e, jsonb_array_elements(e.reasons) r
 WHERE e.ticket_key IN ('2001', '2002') AND r ? 'triage'
 ORDER BY e.ticket_key, e.level;
SELECT rule, fires, coalesce(why_not, '-') AS why_not
  FROM escalation.explain('helpdesk.tickets', '2001')
 WHERE rule LIKE 'model:%' OR rule IN ('confirmed bug', 'server errors') ORDER BY rule;

\echo
\echo '== Tina follows up, frustrated: escalated to senior support at once'
INSERT INTO helpdesk.messages (ticket_id, created_at, author_kind, author, body)
VALUES (2001, '2024-03-18 15:40+00', 'customer', 'tina.weber3@globex.example',
        'This is the third time I am writing about this and nobody seems to care. '
        || 'Our month-end report is due tomorrow. Unacceptable.');
SELECT e.ticket_key AS ticket, e.level, e.kind, e.target_team AS team, r ->> 'rule' AS rule,
       r ->> 'on' AS "on", round((r -> 'frustration' ->> 'score')::numeric, 2) AS frustration,
       (SELECT string_agg(c, ', ') FROM jsonb_array_elements_text(r -> 'frustration' -> 'cues') c) AS cues
  FROM escalation.escalations e, jsonb_array_elements(e.reasons) r
 WHERE e.ticket_key = '2001' AND r ->> 'rule' = 'frustrated follow-up';

\echo
\echo '== The model is a row (versioned); evaluate() scores it on the held-out tickets'
\echo '   (the demo''s tickets come from a few templates per kind: real tickets are harder,'
\echo '   see docs/benchmarks.md for 8,500 real IT tickets)'
SELECT version, active, train_tickets, heldout_tickets, features,
       pg_size_pretty(octet_length(weights)::bigint) AS size, teams
  FROM escalation.models;
SELECT tickets, round(accuracy::numeric, 3) AS accuracy, round(macro_f1::numeric, 3) AS macro_f1,
       round(escalation_accuracy::numeric, 3) AS escalation_accuracy,
       jsonb_path_query_array(calibration -> 'escalation', '$[*] ? (@.tickets >= 20)')
         AS "escalation calibration (bins of 20+ tickets)"
  FROM escalation.evaluate('helpdesk.tickets');
