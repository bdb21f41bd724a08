-- issue 6's "intel" setup, shared by bench/insert.sh and
-- bench/instructions.sh (psql variables: history, src): the history
-- labelled by what the 50 rules made of it, a triage model trained on it,
-- and two rules of the source, disabled (the callers enable them):
-- sentiment below -0.3, and routing by the predicted team at 0.9.
--
-- Each history ticket's team is the one its escalation went to when the
-- rules judged it (the most severe rule's target, by bench.pl_evaluate(),
-- which agrees with the C trigger ticket by ticket), tier1 when none
-- fired; escalated = not tier1. The trigger stays out of it: these are
-- labels, not edits.
ALTER TABLE helpdesk.tickets ADD COLUMN intel_escalated boolean;
SET session_replication_role = replica;
UPDATE helpdesk.tickets t
   SET team = coalesce((SELECT e.target_team
                          FROM bench.pl_evaluate(t.subject, t.body, t.priority, t.channel, t.account,
                                                 jsonb_build_object('disputed_amount', t.disputed_amount), now()) e
                         WHERE e.target_team IS NOT NULL
                         ORDER BY e.severity DESC, e.rule_id LIMIT 1), 'tier1')
 WHERE id <= :history;
UPDATE helpdesk.tickets SET intel_escalated = (team <> 'tier1') WHERE id <= :history;
RESET session_replication_role;
VACUUM ANALYZE helpdesk.tickets;

SELECT model_id, teams, features, train_tickets, round(accuracy::numeric, 3) AS accuracy,
       round(escalation_accuracy::numeric, 3) AS escalation_accuracy, round(seconds::numeric, 1) AS seconds
  FROM escalation.train('helpdesk.tickets', escalated_column => 'intel_escalated',
                        activate => 'always', min_df => 5);

INSERT INTO escalation.rules (name, source_id, enabled, applies_to, sentiment_below, target_team, kind, severity, level)
VALUES ('intel_negative', :src, false, 'ticket', -0.3, 'customer_success', 'functional', 2, 1);
INSERT INTO escalation.rules (name, source_id, enabled, applies_to, team_confidence_at_least, kind, severity, level)
VALUES ('intel_route_by_model', :src, false, 'ticket', 0.9, 'functional', 2, 1);
