-- bench/replay/03_replay.sql -- the replay: every event in time order, the
-- first of an incident as an INSERT, the later ones as an UPDATE of all its
-- columns, one transaction each (as the helpdesk commits them).  One
-- procedure per table, built from the table's columns so that both run the
-- same static statements; each returns its wall time in seconds.
DO $do$
DECLARE
    cols text;
    vals text;
    tbl text;
BEGIN
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg('e.' || quote_ident(a.attname), ', ' ORDER BY a.attnum)
      INTO cols, vals
      FROM pg_attribute a
     WHERE a.attrelid = 'replay.incidents'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname <> 'number';
    FOREACH tbl IN ARRAY ARRAY['incidents', 'incidents_bare'] LOOP
        EXECUTE format($f$
CREATE PROCEDURE replay.%1$I(INOUT secs float8 DEFAULT NULL)
LANGUAGE plpgsql AS $p$
DECLARE
    e record;
    t0 timestamptz := clock_timestamp();
BEGIN
    FOR e IN SELECT * FROM replay.events ORDER BY ord LOOP
        IF e.seq = 1 THEN
            INSERT INTO replay.%2$I (number, %3$s) VALUES (e.number, %4$s);
        ELSE
            UPDATE replay.%2$I SET (%3$s) = ROW(%4$s) WHERE number = e.number;
        END IF;
        COMMIT;
    END LOOP;
    secs := extract(epoch FROM clock_timestamp() - t0);
END
$p$$f$, 'replay_' || tbl, tbl, cols, vals);
    END LOOP;
END
$do$;

-- between rounds: the tables and escalation's facts empty again
CREATE PROCEDURE replay.reset() LANGUAGE sql AS $$
    TRUNCATE replay.incidents, replay.incidents_bare;
    TRUNCATE escalation.fact_changes, escalation.escalation_changes, escalation.ticket_facts,
             escalation.ticket_transfers, escalation.metric_days, escalation.metric_tte,
             escalation.metric_paths, escalation.ticket_paths;
$$;
