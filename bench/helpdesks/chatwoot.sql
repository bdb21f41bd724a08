-- bench/helpdesks/chatwoot.sql: the Chatwoot scenario (the test fixture's
-- seed) written into schema :"s", which holds the fixture's schema, attached
-- and configured ("chatwoot", config.sql) or bare ("chatwoot_bare"); then
-- 2,000 more open conversations of account 1 (ids 1001 .. 3000) for the
-- benchmark's messages to go to, from 1,000 contacts (two conversations
-- each: returning customers, as in a helpdesk's ordinary traffic; until
-- session 5 six contacts held all 2,000, and the context snapshot's "other
-- recent tickets of the requester" read 333 rows per escalation).
SET search_path = :"s", public;
\set ECHO none
\i test/fixtures/chatwoot_seed.sql
\set ECHO errors
SET search_path = :"s", public;
INSERT INTO conversations (id, account_id, inbox_id, status, assignee_id, created_at, updated_at,
                           contact_id, display_id, contact_inbox_id, last_activity_at, priority,
                           waiting_since)
SELECT g, 1, 1 + g % 2, 0, NULL, now() - interval '1 day', now() - interval '1 day',
       101 + g % 1000, 0, 1 + g % 12, now() - interval '1 day', g % 4, now() - interval '1 day'
  FROM generate_series(1001, 3000) g;
SELECT setval('conversations_id_seq', 3000);
