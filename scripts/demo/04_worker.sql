-- scripts/demo/04_worker.sql: the background worker, live.
--
-- The replay above ran its SLA cycles itself, in accelerated time
-- (escalation.run_cycle(as_of)); the cluster started with the worker off so
-- that it would not race the replay at today's date.  Now it is switched
-- on, as a DBA would: it fires, at today's date, whatever the replay left
-- running.

\echo
\echo '== The background worker: switched on with ALTER SYSTEM and a reload'
ALTER SYSTEM SET escalation.worker_enabled = on;
ALTER SYSTEM SET escalation.naptime = '1s';
SELECT pg_reload_conf() AS reloaded \gset
DO $wait$
BEGIN
    FOR i IN 1 .. 100 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM escalation.workers
                           WHERE database = current_database() AND cycles > 0);
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$wait$;
SELECT backend_type, datname AS database FROM pg_stat_activity
 WHERE backend_type LIKE 'escalation%' ORDER BY backend_type;
SELECT database, state, cycles > 0 AS has_run, items_total AS items_handled,
       last_cycle_end IS NOT NULL AS cycle_done, coalesce(last_error, '-') AS last_error
  FROM escalation.workers;
ALTER SYSTEM RESET escalation.worker_enabled;
ALTER SYSTEM RESET escalation.naptime;
