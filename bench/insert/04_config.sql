-- bench/insert/04_config.sql: teams, 1,000 accounts, 50 rules; attach helpdesk.tickets.
--
-- The rules are the kind a support organisation writes: keywords and phrases
-- (matched on stems), nine regular expressions, and account, priority,
-- channel and disputed-amount conditions, alone or combined.

SELECT setseed(0.17);

INSERT INTO escalation.teams (name, kind, tier, description) VALUES
    ('security',         'functional',   2, 'account security, fraud, incidents'),
    ('privacy',          'functional',   2, 'personal data requests'),
    ('billing',          'functional',   2, 'invoices, refunds, disputes'),
    ('legal',            'functional',   3, 'legal threats, regulators, safety'),
    ('customer_success', 'functional',   2, 'renewals, churn risk'),
    ('infrastructure',   'functional',   2, 'outages, availability'),
    ('technical',        'functional',   2, 'errors, integrations, data'),
    ('product',          'functional',   2, 'bugs and product defects'),
    ('tier2',            'hierarchical', 2, 'senior support'),
    ('management',       'hierarchical', 3, 'support management');

-- 1,000 accounts: 10% enterprise, 30% business, 60% standard; ~5% VIP;
-- renewal dates from a month ago to eleven months ahead
INSERT INTO escalation.accounts (account_key, name, tier, vip, annual_value, renewal_date)
SELECT 'acct-' || i, 'Customer ' || i,
       CASE WHEN r1 < 0.10 THEN 'enterprise' WHEN r1 < 0.40 THEN 'business' ELSE 'standard' END,
       CASE WHEN r1 < 0.10 THEN r2 < 0.30 WHEN r1 < 0.40 THEN r2 < 0.05 ELSE r2 < 0.01 END,
       round(CASE WHEN r1 < 0.10 THEN 100000 + r3 * 900000
                  WHEN r1 < 0.40 THEN 10000 + r3 * 90000
                  ELSE 300 + r3 * 9700 END::numeric, 2),
       current_date + (r4 * 365)::int - 30
  FROM (SELECT i, random() AS r1, random() AS r2, random() AS r3, random() AS r4
          FROM generate_series(1, 1000) AS i) s;

SELECT escalation.attach('helpdesk.tickets',
    key => 'id', status => 'status',
    status_map => '{"open": ["new", "open"], "pending": ["pending"], "solved": ["solved", "closed"]}',
    created_at => 'created_at', updated_at => 'updated_at',
    priority => 'priority', channel => 'channel', subject => 'subject', body => 'body',
    requester => 'requester', account => 'account', assignee => 'assignee', team => 'team',
    fields => '{"disputed_amount": "disputed_amount"}',
    messages => 'helpdesk.messages', message_ticket => 'ticket_id',
    message_created_at => 'created_at', message_body => 'body', message_author => 'author_kind',
    author_map => '{"customer": ["customer"], "agent": ["agent"], "bot": ["bot"], "internal": ["note"]}',
    ts_config => 'english') AS source_id;

INSERT INTO escalation.rules
    (name, keywords, pattern, case_sensitive, priorities, channels, field, field_op, field_value,
     account_vip, account_tiers, min_annual_value, renewal_within,
     target_team, kind, severity, level)
VALUES
-- security
('security_data_breach', '{data breach,security breach,breached}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'security', 'functional', 4, 1),
('security_unauthorized_access', '{unauthorized access,unauthorised access,hacked,compromised account}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'security', 'functional', 4, 1),
('security_suspicious_activity', '{suspicious activity,suspicious login,phishing}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'security', 'functional', 3, 1),
('security_malware', '{ransomware,malware,virus}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'security', 'functional', 4, 1),
('security_takeover_vip', '{account takeover,two-factor,sim swap}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  true, NULL, NULL, NULL, 'security', 'functional', 3, 1),
('security_fraud', '{fraud,fraudulent,identity theft,stolen card}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'security', 'functional', 4, 1),
('security_card_number', NULL, '\m[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{4}\M', false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'security', 'functional', 3, 1),
-- privacy
('privacy_request', '{gdpr,right to be forgotten,delete my personal data,data subject request}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'privacy', 'functional', 3, 1),
('privacy_ssn', NULL, '\m[0-9]{3}-[0-9]{2}-[0-9]{4}\M', false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'privacy', 'functional', 3, 1),
-- billing
('billing_refund_vip', '{refund}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  true, NULL, NULL, NULL, 'billing', 'functional', 3, 1),
('billing_refund_high_value', '{refund,money back}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, 100000, NULL, 'billing', 'functional', 2, 1),
('billing_dispute_over_500', '{dispute,chargeback}', NULL, false, NULL, NULL, 'disputed_amount', '>', '500',
  NULL, NULL, NULL, NULL, 'billing', 'functional', 3, 1),
('billing_dispute_over_5000', '{dispute,chargeback}', NULL, false, NULL, NULL, 'disputed_amount', '>', '5000',
  NULL, NULL, NULL, NULL, 'management', 'hierarchical', 4, 2),
('billing_double_charge', '{charged twice,double charged,duplicate charge}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'billing', 'functional', 2, 1),
('billing_invoice_enterprise', '{wrong invoice,incorrect invoice,overcharged}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, '{enterprise}', NULL, NULL, 'billing', 'functional', 2, 1),
('billing_payment_failed', '{payment failed,card declined}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, '{enterprise,business}', 50000, NULL, 'billing', 'functional', 2, 1),
('billing_invoice_reference', NULL, '\minv-[0-9]{6}\M', false, NULL, NULL, 'disputed_amount', '>', '500',
  NULL, NULL, NULL, NULL, 'billing', 'functional', 2, 1),
('billing_tax', '{vat invoice,tax exemption,sales tax}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, '{enterprise}', NULL, NULL, 'billing', 'functional', 1, 1),
-- customer success
('cs_cancel_before_renewal', '{cancel my subscription,cancel our subscription,cancel our contract,terminate our contract}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, '30 days', 'customer_success', 'hierarchical', 3, 1),
('cs_cancel_vip', '{cancel my subscription,cancel our subscription,cancel our contract}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  true, NULL, NULL, NULL, 'management', 'hierarchical', 3, 2),
('cs_competitor', '{switching to a competitor,moving to another vendor,competitor}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, 50000, NULL, 'customer_success', 'functional', 2, 1),
('cs_downgrade_before_renewal', '{downgrade}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, '90 days', 'customer_success', 'functional', 2, 1),
('cs_price_high_value', '{price increase,too expensive}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, 100000, NULL, 'customer_success', 'functional', 2, 1),
-- legal
('legal_threat', '{lawyer,attorney,legal action,lawsuit,sue}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'legal', 'functional', 4, 1),
('legal_regulator', '{regulator,ombudsman,consumer protection}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'legal', 'functional', 4, 1),
('legal_safety', '{injury,unsafe,fire hazard}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'legal', 'functional', 4, 1),
('legal_breach_of_contract', NULL, 'breach of (contract|agreement|sla)', false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'legal', 'functional', 3, 1),
-- infrastructure
('infra_outage', '{outage,service unavailable,site unreachable}', NULL, false, '{urgent,high}', NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'infrastructure', 'functional', 4, 1),
('infra_outage_vip', '{outage,downtime}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  true, NULL, NULL, NULL, 'management', 'hierarchical', 4, 2),
('infra_http_5xx', NULL, '\m(http|status)( code)? 5[0-9]{2}\M', false, NULL, NULL, NULL, NULL, NULL,
  NULL, '{enterprise,business}', NULL, NULL, 'infrastructure', 'functional', 3, 1),
-- technical
('tech_data_loss', '{data loss,lost all my data,data was deleted}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'technical', 'functional', 4, 1),
('tech_sql_error', NULL, '\m(sql|server) error [0-9]+\M', false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'technical', 'functional', 3, 1),
('tech_error_code', NULL, '\merr_[a-z]+_[0-9]{3}\M', false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'technical', 'functional', 2, 1),
('tech_slow_enterprise', '{extremely slow,timeouts,unusably slow}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, '{enterprise}', NULL, NULL, 'technical', 'functional', 2, 1),
('tech_api', '{webhook failing,api is broken,rate limited}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'technical', 'functional', 2, 1),
('tech_sso_enterprise', '{sso,saml,scim}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, '{enterprise}', NULL, NULL, 'technical', 'functional', 3, 1),
-- product
('product_confirmed_bug', '{confirmed bug,reproducible bug,regression}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'product', 'functional', 2, 1),
('product_stack_trace', NULL, '(nullpointerexception|traceback \(most recent call last\)|segmentation fault)', false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'product', 'functional', 2, 1),
('product_crash', '{crash,keeps crashing}', NULL, false, '{high,urgent}', NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'product', 'functional', 3, 1),
('product_accessibility', '{screen reader,wcag}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'product', 'functional', 2, 1),
-- hierarchical: who is asking and how
('mgmt_angry_vip', '{unacceptable,furious,ridiculous,worst service,extremely disappointed}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  true, NULL, NULL, NULL, 'management', 'hierarchical', 3, 2),
('tier2_angry_high_value', '{unacceptable,furious,ridiculous}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, 200000, NULL, 'tier2', 'hierarchical', 2, 1),
('tier2_manager_request', '{speak to a manager,speak to your supervisor,escalate this}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'tier2', 'hierarchical', 2, 1),
('tier2_repeated_contact', '{third time,still not fixed,still not resolved}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'tier2', 'hierarchical', 2, 1),
('tier2_shouting_urgent', NULL, '\m(URGENT|ASAP)\M', true, '{urgent}', NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'tier2', 'hierarchical', 2, 1),
('mgmt_press', '{journalist,press inquiry,social media,twitter}', NULL, false, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 'management', 'hierarchical', 3, 2),
-- conditions without text
('tier2_vip_urgent', NULL, NULL, false, '{urgent}', NULL, NULL, NULL, NULL,
  true, NULL, NULL, NULL, 'tier2', 'hierarchical', 3, 1),
('tier2_enterprise_phone_urgent', NULL, NULL, false, '{urgent}', '{phone}', NULL, NULL, NULL,
  NULL, '{enterprise}', NULL, NULL, 'tier2', 'hierarchical', 3, 1),
('mgmt_dispute_over_10000', NULL, NULL, false, NULL, NULL, 'disputed_amount', '>', '10000',
  NULL, NULL, NULL, NULL, 'management', 'hierarchical', 3, 2),
('cs_renewal_high_value_urgent', NULL, NULL, false, '{urgent,high}', NULL, NULL, NULL, NULL,
  NULL, NULL, 100000, '30 days', 'customer_success', 'hierarchical', 3, 1);

SELECT count(*) AS rules, count(pattern) AS pattern_rules FROM escalation.rules;
