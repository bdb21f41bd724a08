-- bench/helpdesks/znuny.sql: the Znuny scenario (the test fixture's seed)
-- written into schema :"s", which holds the fixture's schema, attached and
-- configured ("znuny", config.sql) or bare ("znuny_bare"); then 2,000 more
-- open tickets (ids 1001 .. 3000) for the benchmark's articles to go to,
-- from 1,000 customer users of ACME (two tickets each; until session 5 all
-- 2,000 were ann's, and every escalation's context snapshot read them all).
SET search_path = :"s", public;
\set ECHO none
\i test/fixtures/znuny_seed.sql
\set ECHO errors
SET search_path = :"s", public;
INSERT INTO ticket (id, tn, title, queue_id, ticket_lock_id, type_id, service_id, sla_id, user_id,
                    responsible_user_id, ticket_priority_id, ticket_state_id, customer_id,
                    customer_user_id, timeout, until_time, escalation_time, escalation_update_time,
                    escalation_response_time, escalation_solution_time, archive_flag,
                    create_time, create_by, change_time, change_by)
SELECT g, '2025031410' || lpad(g::text, 6, '0'), 'bench ticket ' || g, 5 + g % 3, 1, 3, NULL, NULL,
       1, 1, 1 + g % 5, 1, 'ACME', 'user' || (g % 1000), 0, 0, 0, 0, 0, 0, 0,
       now() - interval '1 day', 1, now() - interval '1 day', 1
  FROM generate_series(1001, 3000) g;
SELECT setval('ticket_id_seq', 3000);
SELECT setval('article_id_seq', (SELECT max(id) FROM article));
SELECT setval('article_data_mime_id_seq', (SELECT max(id) FROM article_data_mime));
