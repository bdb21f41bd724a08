-- bench/insert/05_plpgsql.sql: the same job done naively in PL/pgSQL.
--
-- What a team would write without the extension: an AFTER INSERT row trigger
-- on helpdesk.tickets_plpgsql that runs to_tsvector('english', subject || body)
-- against each rule's tsquery (built once, here, from the same
-- escalation.rules rows), tests each rule's regular expression, looks the
-- account up, checks the other conditions, and writes one row per target
-- (with the reasons and a context snapshot) into bench.pl_escalations.
-- bench.pl_evaluate() is also used to cross-check the C trigger's verdicts.

CREATE TABLE bench.pl_rules AS
SELECT r.rule_id, r.name, r.enabled, r.keywords,
       (SELECT string_agg('(' || phraseto_tsquery('english', k)::text || ')', ' | ')
          FROM unnest(r.keywords) AS k)::tsquery AS q,
       r.pattern, r.case_sensitive, r.priorities, r.channels, r.field, r.field_op, r.field_value,
       r.account_vip, r.account_tiers, r.min_annual_value, r.renewal_within,
       r.target_team, r.target_skills, r.target_tier, r.kind, r.severity, r.level
  FROM escalation.rules r;
ALTER TABLE bench.pl_rules ADD PRIMARY KEY (rule_id);

CREATE TABLE bench.pl_escalations (
    id          bigserial PRIMARY KEY,
    ticket_id   bigint NOT NULL,
    level       int NOT NULL,
    target_team text NOT NULL,
    kind        text NOT NULL,
    severity    int NOT NULL,
    reasons     jsonb NOT NULL,
    context     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ticket_id, level, target_team)
);

CREATE FUNCTION bench.pl_evaluate(subject text, body text, priority text, channel text,
                                  account text, fields jsonb, at timestamptz)
RETURNS SETOF bench.pl_rules
LANGUAGE plpgsql STABLE AS $$
DECLARE
    txt text := coalesce(subject, '') || ' ' || coalesce(body, '');
    doc tsvector := to_tsvector('english', txt);
    acc escalation.accounts;
    r bench.pl_rules;
    v text;
BEGIN
    SELECT * INTO acc FROM escalation.accounts a WHERE a.account_key = account;
    FOR r IN SELECT * FROM bench.pl_rules p WHERE p.enabled ORDER BY p.rule_id LOOP
        CONTINUE WHEN r.q IS NOT NULL AND NOT doc @@ r.q;
        CONTINUE WHEN r.pattern IS NOT NULL
                  AND NOT CASE WHEN r.case_sensitive THEN txt ~ r.pattern ELSE txt ~* r.pattern END;
        CONTINUE WHEN r.priorities IS NOT NULL AND NOT coalesce(priority = ANY (r.priorities), false);
        CONTINUE WHEN r.channels IS NOT NULL AND NOT coalesce(channel = ANY (r.channels), false);
        IF r.field IS NOT NULL THEN
            v := CASE r.field WHEN 'priority' THEN priority WHEN 'channel' THEN channel
                              ELSE fields ->> r.field END;
            CONTINUE WHEN v IS NULL;
            CONTINUE WHEN NOT CASE r.field_op
                WHEN '>'  THEN v::numeric >  r.field_value::numeric
                WHEN '>=' THEN v::numeric >= r.field_value::numeric
                WHEN '<'  THEN v::numeric <  r.field_value::numeric
                WHEN '<=' THEN v::numeric <= r.field_value::numeric
                WHEN '='  THEN v = r.field_value
                WHEN '<>' THEN v <> r.field_value END;
        END IF;
        IF r.account_vip IS NOT NULL OR r.account_tiers IS NOT NULL
           OR r.min_annual_value IS NOT NULL OR r.renewal_within IS NOT NULL THEN
            CONTINUE WHEN acc.account_key IS NULL;
            CONTINUE WHEN r.account_vip IS NOT NULL AND acc.vip IS DISTINCT FROM r.account_vip;
            CONTINUE WHEN r.account_tiers IS NOT NULL AND NOT acc.tier = ANY (r.account_tiers);
            CONTINUE WHEN r.min_annual_value IS NOT NULL
                      AND NOT coalesce(acc.annual_value >= r.min_annual_value, false);
            CONTINUE WHEN r.renewal_within IS NOT NULL
                      AND NOT coalesce(acc.renewal_date >= at::date
                                       AND acc.renewal_date <= (at + r.renewal_within)::date, false);
        END IF;
        RETURN NEXT r;
    END LOOP;
END
$$;

CREATE FUNCTION bench.pl_escalate()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench.pl_escalations (ticket_id, level, target_team, kind, severity, reasons, context)
    SELECT NEW.id, f.level, f.target_team, min(f.kind), max(f.severity),
           jsonb_agg(jsonb_build_object('rule', f.name, 'keywords', f.keywords, 'pattern', f.pattern)),
           jsonb_build_object('ticket', to_jsonb(NEW),
                              'account', (SELECT to_jsonb(a) FROM escalation.accounts a
                                           WHERE a.account_key = NEW.account))
      FROM bench.pl_evaluate(NEW.subject, NEW.body, NEW.priority, NEW.channel, NEW.account,
                             jsonb_build_object('disputed_amount', NEW.disputed_amount),
                             NEW.created_at) AS f
     GROUP BY f.level, f.target_team;
    RETURN NULL;
END
$$;

CREATE TRIGGER pl_escalate AFTER INSERT ON helpdesk.tickets_plpgsql
    FOR EACH ROW EXECUTE FUNCTION bench.pl_escalate();
