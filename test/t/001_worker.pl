# The background worker: launcher and per-database worker in a preloaded
# server.  escalation.run_batch() is replaced here by a test double (the real one
# comes with the SLA clocks): it fires rows of tap.due with FOR UPDATE SKIP
# LOCKED, records every call in tap.calls, and fails or sleeps on demand
# (tap.ctl), so that the worker's mechanics are tested on their own: batches,
# transactions, role, reload, errors, SIGTERM, SIGKILL and crash restart,
# databases without the extension, DROP DATABASE.
#
# No sleep decides an outcome: every wait is poll_query_until / wait_for_log.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'escalation'
escalation.naptime = '1h'
escalation.launcher_naptime = '1s'
escalation.batch_size = 10
max_worker_processes = 16
log_line_prefix = '%m [%p] %b '
restart_after_crash = on
});
$node->start;

# ---------------------------------------------------------------------------
# the launcher
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity
		  WHERE backend_type = 'escalation launcher' AND datname IS NULL"),
	'the launcher shows in pg_stat_activity as "escalation launcher", in no database');
like(slurp_file($node->logfile), qr/escalation launcher started/, 'the launcher logs its start');

# ---------------------------------------------------------------------------
# a helpdesk database with the extension and the test double, in one
# transaction: the worker it wakes up at commit finds everything in place
$node->safe_psql('postgres', 'CREATE DATABASE helpdesk');
$node->safe_psql(
	'helpdesk', q{
BEGIN;
CREATE EXTENSION escalation;
CREATE SCHEMA tap;
CREATE TABLE tap.ctl (fail boolean NOT NULL DEFAULT false, nap float8 NOT NULL DEFAULT 0,
                      step_fail boolean NOT NULL DEFAULT false);
INSERT INTO tap.ctl DEFAULT VALUES;
CREATE TABLE tap.due (id integer PRIMARY KEY, due_at timestamptz NOT NULL, fired_at timestamptz);
CREATE TABLE tap.fired (id integer NOT NULL, as_of timestamptz NOT NULL, xid xid8 NOT NULL);
CREATE TABLE tap.calls (call_id serial PRIMARY KEY, as_of timestamptz, batch_size integer,
                        returned integer, role name, session_role name, xid xid8,
                        at timestamptz DEFAULT clock_timestamp());
CREATE OR REPLACE FUNCTION escalation.run_batch(as_of timestamptz, batch_size integer)
RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c tap.ctl;
    n integer;
BEGIN
    SELECT * INTO c FROM tap.ctl;
    IF c.nap > 0 THEN
        PERFORM pg_sleep(c.nap);
    END IF;
    IF c.fail THEN
        RAISE EXCEPTION 'tap: run_batch failed on purpose';
    END IF;
    IF c.step_fail THEN
        -- what the real run_batch() does when a step after the clocks fails
        PERFORM escalation.step_failed('tap step', '23514', 'tap: a step failed on purpose');
    END IF;
    WITH claimed AS (
        SELECT id FROM tap.due
         WHERE fired_at IS NULL AND due_at <= as_of
         ORDER BY id LIMIT batch_size
           FOR UPDATE SKIP LOCKED),
    fired AS (
        UPDATE tap.due d SET fired_at = clock_timestamp()
          FROM claimed WHERE d.id = claimed.id
        RETURNING d.id)
    INSERT INTO tap.fired (id, as_of, xid) SELECT id, as_of, pg_current_xact_id() FROM fired;
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO tap.calls (as_of, batch_size, returned, role, session_role, xid)
    VALUES (as_of, batch_size, n, current_user, session_user, pg_current_xact_id());
    RETURN n;
END
$$;
GRANT USAGE ON SCHEMA tap TO escalation_worker;
GRANT SELECT ON tap.ctl TO escalation_worker;
GRANT SELECT, UPDATE ON tap.due TO escalation_worker;
GRANT INSERT ON tap.fired, tap.calls TO escalation_worker;
GRANT USAGE ON SEQUENCE tap.calls_call_id_seq TO escalation_worker;
GRANT EXECUTE ON FUNCTION escalation.run_batch(timestamptz, integer) TO escalation_worker;
COMMIT;
});

ok( $node->poll_query_until(
		'helpdesk',
		"SELECT count(*) = 1 FROM pg_stat_activity
		  WHERE backend_type = 'escalation worker' AND datname = 'helpdesk'"),
	'the worker shows in pg_stat_activity as "escalation worker" in its database');
my $pid = $node->safe_psql('helpdesk',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'escalation worker' AND datname = 'helpdesk'");
is( $node->safe_psql(
		'helpdesk',
		"SELECT state, pid = $pid, started IS NOT NULL FROM escalation.workers WHERE database = 'helpdesk'"),
	'running|t|t',
	'escalation.workers lists it, with the same pid');
is( $node->safe_psql('helpdesk',
		"SELECT application_name FROM pg_stat_activity WHERE pid = $pid"),
	'escalation worker',
	'its application_name');
like(slurp_file($node->logfile), qr/escalation worker started for database "helpdesk"/,
	'the worker logs its start');

# the first cycle runs at start
ok($node->poll_query_until('helpdesk', 'SELECT count(*) >= 1 FROM tap.calls'),
	'the first cycle ran at start');
is( $node->safe_psql(
		'helpdesk',
		"SELECT DISTINCT role || ' ' || batch_size FROM tap.calls"),
	'escalation_worker 10',
	'run_batch runs as escalation_worker with escalation.batch_size');

# ---------------------------------------------------------------------------
# batches: 25 due items, batch_size 10 -> 10, 10, 5 in three transactions
# with the cycle's start as as_of; escalation.wakeup() starts the cycle
$node->safe_psql(
	'helpdesk', q{
INSERT INTO tap.due (id, due_at) SELECT g, now() - interval '1 minute' FROM generate_series(1, 25) g;
SELECT escalation.wakeup();
});
ok($node->poll_query_until('helpdesk', 'SELECT count(*) = 25 FROM tap.fired'),
	'wakeup() starts a cycle that fires the 25 due items');
is( $node->safe_psql(
		'helpdesk', q{
SELECT string_agg(returned::text, ',' ORDER BY call_id), count(DISTINCT xid), count(DISTINCT as_of)
  FROM tap.calls WHERE as_of = (SELECT as_of FROM tap.fired LIMIT 1)}),
	'10,10,5|3|1',
	'one cycle: three batches (10, 10, 5), one transaction each, one as_of');
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT items_last_cycle = 25 AND items_total >= 25 FROM escalation.workers WHERE database = 'helpdesk'"),
	'escalation.workers counts the items of the last cycle and in total');

# ---------------------------------------------------------------------------
# reload: naptime 1h -> 100ms takes effect without a restart
my $cycles = $node->safe_psql('helpdesk',
	"SELECT cycles FROM escalation.workers WHERE database = 'helpdesk'");
$node->safe_psql('postgres', "ALTER SYSTEM SET escalation.naptime = '100ms'");
$node->reload;
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT cycles >= $cycles + 10 FROM escalation.workers WHERE database = 'helpdesk'"),
	'after a reload of escalation.naptime, cycles follow each other at the new pace');
is($node->safe_psql('helpdesk', "SELECT pid FROM escalation.workers WHERE database = 'helpdesk'"),
	$pid, 'without restarting the worker');

# ---------------------------------------------------------------------------
# an error in run_batch is recorded, logged, and the worker goes on
$node->safe_psql('helpdesk', 'UPDATE tap.ctl SET fail = true');
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT errors > 0 AND last_error = 'tap: run_batch failed on purpose' AND last_error_at IS NOT NULL
		   FROM escalation.workers WHERE database = 'helpdesk'"),
	'an error in run_batch shows in escalation.workers.last_error');
like(slurp_file($node->logfile), qr/ERROR:  tap: run_batch failed on purpose/, 'and in the log');
$cycles = $node->safe_psql('helpdesk',
	"SELECT cycles FROM escalation.workers WHERE database = 'helpdesk'");
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT cycles >= $cycles + 3 FROM escalation.workers WHERE database = 'helpdesk'"),
	'failing cycles go on at naptime');
$node->safe_psql('helpdesk',
	"UPDATE tap.ctl SET fail = false; INSERT INTO tap.due (id, due_at) SELECT g, now() FROM generate_series(26, 30) g");
ok($node->poll_query_until('helpdesk', 'SELECT count(*) = 30 FROM tap.fired'),
	'the worker survived the errors and fires again');
is($node->safe_psql('helpdesk', "SELECT pid FROM escalation.workers WHERE database = 'helpdesk'"),
	$pid, 'same worker process');

# ---------------------------------------------------------------------------
# a step of run_batch() that failed while the others went on
# (escalation.step_failed()): the batch commits, and the cycle counts the
# error and shows it in escalation.workers.last_error
# (the double runs as escalation_worker; the real run_batch() as the
# extension's owner, who may call the internal step_failed())
$node->safe_psql('helpdesk',
	'GRANT EXECUTE ON FUNCTION escalation.step_failed(text, text, text) TO escalation_worker');
my $errors = $node->safe_psql('helpdesk',
	"SELECT errors FROM escalation.workers WHERE database = 'helpdesk'");
my $calls_before = $node->safe_psql('helpdesk', 'SELECT count(*) FROM tap.calls');
$node->safe_psql('helpdesk', 'UPDATE tap.ctl SET step_fail = true');
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT errors > $errors AND last_error = 'tap step: tap: a step failed on purpose'
		   FROM escalation.workers WHERE database = 'helpdesk'"),
	'a failed step shows in escalation.workers.last_error');
ok($node->poll_query_until('helpdesk', "SELECT count(*) > $calls_before FROM tap.calls"),
	'and the batch around it committed');
like(slurp_file($node->logfile),
	qr/WARNING:  the tap step step of an escalation batch failed: tap: a step failed on purpose/,
	'the step\'s failure is a WARNING in the log');
$node->safe_psql('helpdesk', 'UPDATE tap.ctl SET step_fail = false');

# ---------------------------------------------------------------------------
# escalation.worker_role must not be a superuser
$node->safe_psql('postgres', 'CREATE ROLE tap_super SUPERUSER NOLOGIN');
$node->safe_psql('postgres', "ALTER SYSTEM SET escalation.worker_role = 'tap_super'");
$node->reload;
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT last_error = 'role \"tap_super\" named in \"escalation.worker_role\" is a superuser'
		   FROM escalation.workers WHERE database = 'helpdesk'"),
	'a superuser as escalation.worker_role is refused');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET escalation.worker_role');
$node->reload;
my $calls = $node->safe_psql('helpdesk', 'SELECT count(*) FROM tap.calls');
ok($node->poll_query_until('helpdesk', "SELECT count(*) > $calls + 3 FROM tap.calls"),
	'back to escalation_worker, cycles run again');
is( $node->safe_psql('helpdesk',
		"SELECT count(*) FROM tap.calls WHERE role <> 'escalation_worker'"),
	'0', 'run_batch never ran as anyone but escalation_worker');

# ---------------------------------------------------------------------------
# SIGTERM stops the worker promptly, even inside a long batch; the launcher
# starts it again
$node->safe_psql('helpdesk', 'UPDATE tap.ctl SET nap = 300');
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT wait_event = 'PgSleep' FROM pg_stat_activity WHERE pid = $pid"),
	'the worker is inside a 300 s batch');
$node->safe_psql('helpdesk', 'UPDATE tap.ctl SET nap = 0');
my $t0 = time();
$node->safe_psql('helpdesk', "SELECT pg_terminate_backend($pid)");
ok( $node->poll_query_until(
		'helpdesk', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid"),
	'SIGTERM: the worker exits');
cmp_ok(time() - $t0, '<', 10, 'promptly');
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT pid IS NOT NULL AND pid <> $pid AND state = 'running'
		   FROM escalation.workers WHERE database = 'helpdesk'"),
	'the launcher starts it again');
$pid = $node->safe_psql('helpdesk', "SELECT pid FROM escalation.workers WHERE database = 'helpdesk'");

# ---------------------------------------------------------------------------
# escalation.worker_enabled = off stops it, on starts it again
$node->safe_psql('postgres', 'ALTER SYSTEM SET escalation.worker_enabled = off');
$node->reload;
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'escalation worker'"),
	'worker_enabled = off stops the worker');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET escalation.worker_enabled');
$node->reload;
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'escalation worker'"),
	'worker_enabled = on starts it again');

# ---------------------------------------------------------------------------
# SIGKILL under load: crash restart of the whole server, the worker comes
# back, and no item is lost or fired twice
$node->safe_psql(
	'helpdesk', q{
UPDATE tap.ctl SET nap = 0.2;
INSERT INTO tap.due (id, due_at) SELECT g, now() FROM generate_series(1001, 1200) g;
});
ok( $node->poll_query_until(
		'helpdesk', 'SELECT count(*) > 0 AND count(*) < 200 FROM tap.fired WHERE id > 1000'),
	'the worker is firing the 200 new items');
$pid = $node->safe_psql('helpdesk',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'escalation worker' AND datname = 'helpdesk'");
my $logpos = -s $node->logfile;
kill 'KILL', $pid;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $logpos);
pass('SIGKILL of the worker: the postmaster reinitializes');
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT count(*) = 1 FROM escalation.workers
		  WHERE database = 'helpdesk' AND state = 'running' AND pid <> $pid"),
	'after the crash restart the worker is back');
$node->safe_psql('helpdesk', 'UPDATE tap.ctl SET nap = 0');
ok($node->poll_query_until('helpdesk', 'SELECT count(*) = 230 FROM tap.fired'),
	'every item is fired after the restart');
is( $node->safe_psql(
		'helpdesk',
		'SELECT (SELECT count(*) FROM tap.fired), (SELECT count(DISTINCT id) FROM tap.fired),
		        (SELECT count(*) FROM tap.due WHERE fired_at IS NULL)'),
	'230|230|0',
	'none twice, none lost');

# ---------------------------------------------------------------------------
# a database without the extension: its worker says so once and is not
# started again in a loop; CREATE EXTENSION brings it at once
$logpos = -s $node->logfile;
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->wait_for_log(
	qr/escalation worker for database "other" exits: extension "escalation" is not installed/,
	$logpos);
pass('a database without the extension: the worker says so');
# let the launcher (launcher_naptime 1s) pass several times
$cycles = $node->safe_psql('helpdesk',
	"SELECT cycles FROM escalation.workers WHERE database = 'helpdesk'");
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT cycles >= $cycles + 30 FROM escalation.workers WHERE database = 'helpdesk'"),
	'(time passes: 30 cycles of the helpdesk worker)');
my @absent = (slurp_file($node->logfile, $logpos) =~ /database "other" exits: extension "escalation" is not installed/g);
is(scalar(@absent), 1, 'it is not started again in a loop');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE datname = 'other'"),
	'0', 'nothing stays connected to it');

$node->safe_psql(
	'other', q{
BEGIN;
CREATE EXTENSION escalation;
COMMIT;
});
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity
		  WHERE backend_type = 'escalation worker' AND datname = 'other'"),
	'CREATE EXTENSION starts the worker of that database at once');
ok( $node->poll_query_until(
		'other', "SELECT cycles > 0 AND last_error IS NULL FROM escalation.workers WHERE database = 'other'"),
	'and it runs cycles');

# ---------------------------------------------------------------------------
# DROP DATABASE (without FORCE) is not blocked by the worker
$logpos = -s $node->logfile;
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'DROP DATABASE other');
is($ret, 0, 'DROP DATABASE of a served database succeeds') or diag($stderr);
like(slurp_file($node->logfile, $logpos),
	qr/stopping the escalation worker of database "other" for DROP DATABASE/,
	'it stops the worker first');
ok( $node->poll_query_until(
		'helpdesk', "SELECT count(*) = 0 FROM escalation.workers WHERE database = 'other' OR database IS NULL"),
	'the dropped database leaves escalation.workers');
is($node->safe_psql('helpdesk', "SELECT state FROM escalation.workers WHERE database = 'helpdesk'"),
	'running', 'the other database\'s worker is untouched');

# ---------------------------------------------------------------------------
# DROP EXTENSION: the worker exits, and says so
$logpos = -s $node->logfile;
$node->safe_psql('helpdesk', 'DROP EXTENSION escalation CASCADE');
$node->wait_for_log(qr/escalation worker for database "helpdesk" exits: extension "escalation" was dropped/,
	$logpos);
pass('DROP EXTENSION: the worker exits');
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'escalation worker'"),
	'and is not started again');

$node->stop('fast');
done_testing();
