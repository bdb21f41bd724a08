# Escalations left to the worker (escalation.defer_escalations) are recorded
# as soon as their ticket commits: the commit wakes the database's worker
# (wake.c), which records what is pending without running a cycle.
# The worker's naptime is an hour here, so only the wake-up can record them
# within the poll's timeout.
#
# No sleep decides an outcome: every wait is poll_query_until.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use EscDeferred;

my $node = PostgreSQL::Test::Cluster->new('pending_wake');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'escalation'
escalation.naptime = '1h'
escalation.launcher_naptime = '1s'
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE helpdesk');
deferred_helpdesk($node, 'helpdesk');

# until n escalations are recorded and nothing is pending (with the naptime
# at an hour, only a wake-up at commit does that before the poll gives up)
sub recorded
{
	my ($n) = @_;
	return $node->poll_query_until(
		'helpdesk',
		"SELECT (SELECT count(*) FROM escalation.escalations) = $n
		    AND (SELECT count(*) FROM escalation.pending_escalations) = 0");
}

# until the worker is running and has ended its first cycle
sub first_cycle_done
{
	return $node->poll_query_until(
		'helpdesk',
		"SELECT state = 'running' AND cycles >= 1 FROM escalation.workers WHERE database = 'helpdesk'");
}

# the worker has run its first cycle and sleeps for an hour
ok(first_cycle_done(), 'the worker ran its first cycle');
my ($cycles, $items) = split /\|/,
  $node->safe_psql('helpdesk',
	"SELECT cycles, items_total FROM escalation.workers WHERE database = 'helpdesk'");

# one ticket
$node->safe_psql('helpdesk',
	q{INSERT INTO tickets VALUES (1, 'an outage since noon', '2024-06-01 12:00+00')});
ok(recorded(1),
	'a deferred escalation is recorded after its commit, long before the next cycle');
is( $node->safe_psql(
		'helpdesk', q{
SELECT e.ticket_key || ' ' || e.target_team || ' ' || (e.created_at = '2024-06-01 12:00+00')
       || ' ' || (SELECT count(*) FROM escalation.events v
                   WHERE v.escalation_id = e.escalation_id AND v.event = 'created')
  FROM escalation.escalations e}),
	'1 tier2 true 1',
	'recorded at the ticket\'s time, with its "created" event');
is( $node->safe_psql(
		'helpdesk',
		"SELECT cycles = $cycles AND items_total > $items FROM escalation.workers WHERE database = 'helpdesk'"),
	't',
	'by a pass that is not a cycle: the cycle count stays, the items grow');

# several tickets in one transaction, and one rolled back
$node->safe_psql(
	'helpdesk', q{
BEGIN;
INSERT INTO tickets SELECT g, 'another outage', '2024-06-01 13:00+00' FROM generate_series(2, 6) g;
INSERT INTO tickets VALUES (7, 'a question', '2024-06-01 13:00+00');
COMMIT;
BEGIN;
INSERT INTO tickets VALUES (8, 'an outage rolled back', '2024-06-01 14:00+00');
ROLLBACK;
});
ok(recorded(6),
	'the five escalations of a multi-row insert are recorded after its commit');
is( $node->safe_psql(
		'helpdesk',
		"SELECT string_agg(ticket_key, ',' ORDER BY ticket_key::int) FROM escalation.escalations"),
	'1,2,3,4,5,6',
	'one escalation per escalating ticket; nothing of the rolled-back one');

# a prepared transaction does not wake the worker at PREPARE; COMMIT PREPARED
# commits its rows, which the next wake-up or cycle records
$node->safe_psql('postgres', 'ALTER SYSTEM SET max_prepared_transactions = 5');
$node->restart;
ok(first_cycle_done(), 'the worker runs again after the restart');
$node->safe_psql(
	'helpdesk', q{
BEGIN;
INSERT INTO tickets VALUES (9, 'an outage, prepared', '2024-06-01 15:00+00');
PREPARE TRANSACTION 'p9';
COMMIT PREPARED 'p9';
});
is($node->safe_psql('helpdesk', 'SELECT count(*) FROM escalation.pending_escalations'),
	'1', 'a prepared transaction\'s escalation waits for the worker');
$node->safe_psql('helpdesk',
	q{INSERT INTO tickets VALUES (10, 'an outage after it', '2024-06-01 16:00+00')});
ok(recorded(8),
	'the next commit that defers one wakes the worker, which records both');

# escalation.wakeup() in the same transaction still gets its cycle
my $cycles2 = $node->safe_psql('helpdesk',
	"SELECT cycles FROM escalation.workers WHERE database = 'helpdesk'");
$node->safe_psql(
	'helpdesk', q{
BEGIN;
INSERT INTO tickets VALUES (11, 'an outage and a wakeup', '2024-06-01 17:00+00');
SELECT escalation.wakeup();
COMMIT;
});
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT (SELECT cycles FROM escalation.workers WHERE database = 'helpdesk') > $cycles2
		    AND (SELECT count(*) FROM escalation.escalations) = 9
		    AND (SELECT count(*) FROM escalation.pending_escalations) = 0"),
	'a transaction that deferred an escalation and called wakeup() gets a whole cycle, which records it');

$node->stop;
done_testing();
