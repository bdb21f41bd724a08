# Escalations left to the worker (escalation.defer_escalations) survive a
# crash: what committed with its ticket is pending after recovery and is
# recorded then, once; what had not committed is gone with its ticket.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use EscDeferred;

my $node = PostgreSQL::Test::Cluster->new('pending');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'escalation'
escalation.worker_enabled = off
});
$node->start;

deferred_helpdesk($node, 'postgres');
$node->safe_psql('postgres', q{
INSERT INTO tickets SELECT g, CASE WHEN g % 2 = 0 THEN 'an outage' ELSE 'a question' END,
       timestamptz '2024-06-01 09:00+00' + g * interval '1 minute'
  FROM generate_series(1, 40) g;
});

# a transaction in flight at the crash: its ticket and its pending escalation go
my $inflight = $node->background_psql('postgres');
$inflight->query_safe('BEGIN');
$inflight->query_safe(q{INSERT INTO tickets VALUES (100, 'an outage in flight', '2024-06-02 09:00+00')});
is($node->safe_psql('postgres', 'SELECT count(*) FROM escalation.pending_escalations'),
	'20', 'twenty escalations pending, committed with their tickets');

$node->stop('immediate');
$inflight->{run}->finish;
$node->start;

is($node->safe_psql('postgres', 'SELECT count(*) FROM escalation.pending_escalations'),
	'20', 'after the crash, the committed ones are still pending; the one in flight is gone');
is($node->safe_psql('postgres', 'SELECT escalation.record_pending(1000)'),
	'20', 'record_pending() records them');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) || ' ' || count(DISTINCT ticket_key) || ' ' || bool_and(target_team = 'tier2')
       || ' ' || (SELECT count(*) FROM escalation.events WHERE event = 'created')
  FROM escalation.escalations}),
	'20 20 true 20',
	'one escalation and one "created" event per ticket, nothing twice');
is($node->safe_psql('postgres', 'SELECT count(*) FROM escalation.pending_escalations'),
	'0', 'nothing is left pending');

$node->stop;
done_testing();
