-- scripts/demo/05_next.sql: where to go from here.

\echo
\echo '=================================================================='
\echo ' Try it on your own helpdesk'
\echo '=================================================================='
\echo '  CREATE EXTENSION escalation;      -- with escalation in shared_preload_libraries'
\echo '  SELECT escalation.attach(''your.tickets'', key => ''id'', body => ''body'', ...);'
\echo '  INSERT INTO escalation.rules (name, keywords, target_team) VALUES (...);'
\echo '  SELECT * FROM escalation.escalations WHERE status = ''queued'';'
\echo
\echo '  Everything above is plain SQL: see scripts/demo/*.sql.'
