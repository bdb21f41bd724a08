-- bench/helpdesks/config.sql: attach "chatwoot" and "znuny" (their
-- fixture schemas, before any data) as the regression tests do
-- (sql/chatwoot.sql, sql/znuny.sql), with three rules and one SLA policy
-- each; the *_bare twins stay unattached.  And the pool of customer
-- message texts the benchmark draws from.
SET client_min_messages = warning;
SELECT escalation.attach('chatwoot.conversations', key => 'id', name => 'chatwoot',
           tenant => 'account_id',
           status => 'status', status_map => '{"open": [0], "solved": [1], "pending": [2, 3]}',
           priority => 'priority',
           priority_map => '{"low": [0], "medium": [1], "high": [2], "urgent": [3]}',
           created_at => 'created_at', updated_at => 'updated_at',
           channel => 'inbox_id', requester => 'contact_id', assignee => 'assignee_id',
           team => 'team_id',
           messages => 'chatwoot.messages', message_ticket => 'conversation_id',
           message_created_at => 'created_at', message_body => 'content',
           message_author => 'message_type',
           author_map => '{"customer": [0], "agent": [1], "bot": [2, 3]}',
           message_sender => 'sender_type',
           sender_map => '{"customer": ["Contact"], "agent": ["User"], "bot": ["AgentBot", "Captain::Assistant"]}',
           message_private => 'private') AS cw \gset
SELECT escalation.attach('znuny.ticket', key => 'id', name => 'znuny',
           status => 'ticket_state_id',
           status_map => '{"open": ["new", "open"], "pending": ["pending reminder", "pending auto"],
                           "solved": ["closed"], "other": ["removed", "merged"]}',
           priority => 'ticket_priority_id',
           priority_map => '{"low": ["1 very low", "2 low"], "medium": ["3 normal"], "high": ["4 high"],
                             "urgent": ["5 very high"]}',
           lookups => '{"status":   [{"table": "znuny.ticket_state", "key": "id", "value": "type_id"},
                                     {"table": "znuny.ticket_state_type", "key": "id", "value": "name"}],
                        "priority": [{"table": "znuny.ticket_priority", "key": "id", "value": "name"}],
                        "author":   [{"table": "znuny.article_sender_type", "key": "id", "value": "name"}]}',
           created_at => 'create_time', updated_at => 'change_time',
           subject => 'title', requester => 'customer_user_id', account => 'customer_id',
           assignee => 'user_id', team => 'queue_id',
           sentinels => '{"assignee": [1]}',
           messages => 'znuny.article_data_mime', message_body => 'a_body',
           message_via => 'znuny.article', message_via_key => 'id', message_ref => 'article_id',
           message_ticket => 'ticket_id', message_created_at => 'create_time',
           message_author => 'article_sender_type_id',
           author_map => '{"customer": ["customer"], "agent": ["agent"], "bot": ["system"]}',
           message_visible => 'is_visible_for_customer') AS zn \gset

INSERT INTO escalation.teams (name, tier) VALUES ('billing', 1), ('retention', 1), ('tier2', 2);

-- one SLA policy per helpdesk (every priority, 24x7): first response and resolution
INSERT INTO escalation.sla_policies (name, source_id, tenant, position)
VALUES ('chatwoot', :cw, '1', 100), ('znuny', :zn, NULL, 200);
INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at)
SELECT p.policy_id, m.metric, m.target::interval, '{}'
  FROM escalation.sla_policies p,
       (VALUES ('first_response', '4 hours'), ('resolution', '24 hours')) AS m(metric, target);

-- a few rules per helpdesk
INSERT INTO escalation.rules (name, source_id, tenant, keywords, target_team, severity)
SELECT h.name || ': ' || r.name, h.sid, h.tenant, r.keywords, r.team, r.severity
  FROM (VALUES ('chatwoot', :cw, '1'), ('znuny', :zn, NULL)) AS h(name, sid, tenant),
       (VALUES ('double charge', '{"charged twice", "double charge", refund}'::text[], 'billing', 3),
               ('cancellation', '{"cancel my subscription", "close my account"}', 'retention', 2),
               ('outage', '{outage, "service unavailable"}', 'tier2', 4)) AS r(name, keywords, team, severity);

-- 1,000 customer messages of 20 to 80 words; about one in fourteen
-- carries words a rule escalates on
CREATE SCHEMA bench;
CREATE TABLE bench.pool (id integer PRIMARY KEY, body text NOT NULL);
INSERT INTO bench.pool
SELECT i, CASE i % 40 WHEN 0 THEN 'I was charged twice for my order. '
                      WHEN 1 THEN 'Please cancel my subscription today. '
                      WHEN 2 THEN 'Outage: your service unavailable since this morning. '
                      ELSE '' END
          || (SELECT string_agg(w[1 + ((i * 7919 + k * 104729) % cardinality(w))], ' ')
                FROM generate_series(1, 20 + (i * 31) % 61) k)
  FROM generate_series(1, 1000) i,
       LATERAL (SELECT '{hello,thanks,please,order,invoice,account,login,password,the,a,my,is,not,working,
                         since,yesterday,when,I,try,to,open,page,it,shows,error,message,can,you,help,me,with,
                         this,issue,we,are,using,your,app,for,team,and,need,answer,soon,shipping,delivery,
                         address,update,change,plan,email,notification,settings,mobile,browser}'::text[] AS w) v;
ANALYZE bench.pool;
