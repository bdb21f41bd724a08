# SLA clocks through real crashes: a preloaded server whose worker fires
# real clocks (escalation.run_batch of the SLA issue), killed with SIGKILL
# three times while it works through thousands of due clocks and a client
# keeps writing tickets.  Afterwards every clock's breach and ladder level
# fired exactly once, every firing has its notification and its escalation,
# and nothing is left due.
#
# The clocks are made due by their tickets' creation times (an hour ago),
# not by waiting: no sleep decides an outcome.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('sla_crash');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'escalation'
escalation.naptime = '100ms'
escalation.launcher_naptime = '1s'
escalation.batch_size = 50
max_worker_processes = 16
restart_after_crash = on
log_line_prefix = '%m [%p] %b '
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE helpdesk');
$node->safe_psql(
	'helpdesk', q{
BEGIN;
CREATE EXTENSION escalation;
CREATE SCHEMA hd;
CREATE TABLE hd.tickets (id integer PRIMARY KEY, status text NOT NULL DEFAULT 'open',
                         created_at timestamptz NOT NULL);
SELECT escalation.attach('hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": ["open"], "solved": ["solved"]}', created_at => 'created_at');
INSERT INTO escalation.teams (name) VALUES ('tier2');
INSERT INTO escalation.sla_policies (name, position) VALUES ('all', 1);
INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at)
SELECT policy_id, 'first_response', '10 minutes', '{50}' FROM escalation.sla_policies;
INSERT INTO escalation.sla_ladder (policy_id, metric, level, after, target_team)
SELECT policy_id, 'first_response', 1, '0', 'tier2' FROM escalation.sla_policies;
COMMIT;
});

# the worker is there
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT count(*) = 1 FROM pg_stat_activity
		  WHERE backend_type = 'escalation worker' AND datname = 'helpdesk'"),
	'the worker serves the helpdesk database');

my $next_id = 1;
sub add_tickets
{
	my ($n) = @_;
	my $from = $next_id;
	my $to = $next_id + $n - 1;
	$next_id += $n;
	# created an hour ago: warning, breach and level 1 are all due at once
	$node->safe_psql('helpdesk',
		"INSERT INTO hd.tickets (id, created_at)
		 SELECT g, now() - interval '1 hour' FROM generate_series($from, $to) g");
	return;
}

add_tickets(3000);
for my $round (1 .. 3)
{
	ok( $node->poll_query_until(
			'helpdesk',
			"SELECT count(*) FILTER (WHERE next_at IS NOT NULL) > 0
			    AND count(*) FILTER (WHERE next_at IS NULL) > 0
			   FROM escalation.clocks"),
		"round $round: the worker is working through the due clocks");
	my $pid = $node->safe_psql('helpdesk',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'escalation worker' AND datname = 'helpdesk'");
	my $logpos = -s $node->logfile;
	kill 'KILL', $pid;
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $logpos);
	pass("round $round: SIGKILL of the worker, the server reinitializes");
	ok( $node->poll_query_until(
			'helpdesk',
			"SELECT count(*) = 1 FROM pg_stat_activity
			  WHERE backend_type = 'escalation worker' AND datname = 'helpdesk' AND pid <> $pid"),
		"round $round: the worker is back");
	# the helpdesk keeps writing
	add_tickets(1000);
}

ok( $node->poll_query_until(
		'helpdesk', 'SELECT count(*) = 0 FROM escalation.clocks WHERE next_at IS NOT NULL'),
	'every due clock is worked off after the crashes');

my $tickets = $next_id - 1;
is($node->safe_psql('helpdesk', 'SELECT count(*) FROM escalation.clocks'),
	$tickets, 'one clock per ticket');
is( $node->safe_psql(
		'helpdesk',
		"SELECT count(*) FILTER (WHERE step = 'warning:50'), count(*) FILTER (WHERE step = 'breach'),
		        count(*) FILTER (WHERE step = 'level:1'), count(DISTINCT (clock_id, step))
		   FROM escalation.clock_firings"),
	join('|', $tickets, $tickets, $tickets, 3 * $tickets),
	'every warning, breach and ladder level fired, none twice');
is( $node->safe_psql(
		'helpdesk',
		"SELECT count(*), count(DISTINCT ticket_key) FROM escalation.escalations WHERE origin = 'sla'"),
	"$tickets|$tickets", 'one ladder escalation per ticket');
is( $node->safe_psql(
		'helpdesk',
		"SELECT count(*) FILTER (WHERE sent_at IS NOT NULL), count(*) FROM escalation.notifications"),
	join('|', 3 * $tickets, 3 * $tickets), 'every firing notified, once');
is( $node->safe_psql(
		'helpdesk',
		"SELECT count(*) FROM escalation.clock_firings f JOIN escalation.clocks c USING (clock_id)
		  WHERE f.step = 'breach' AND f.due_at <> c.started_at + interval '10 minutes'"),
	'0', 'each breach is dated when it was due, not when it was fired');
is( $node->safe_psql(
		'helpdesk',
		"SELECT errors FROM escalation.workers WHERE database = 'helpdesk'"),
	'0', 'the worker recorded no error since its last start');

$node->stop;
done_testing();
