# pg_dump / pg_restore of a helpdesk database with escalation's
# configuration and history: every configuration and record table comes
# back row for row, the restored triggers escalate new tickets with the
# restored rules, and the restored database's worker starts and fires the
# restored clocks.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'escalation'
escalation.naptime = '100ms'
escalation.launcher_naptime = '1s'
escalation.worker_enabled = off
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE helpdesk');
$node->safe_psql(
	'helpdesk', q{
CREATE EXTENSION escalation;
CREATE SCHEMA "Help Desk";
CREATE TABLE "Help Desk"."Tickets" ("Id" integer PRIMARY KEY, status text NOT NULL DEFAULT 'open',
    priority text, subject text, body text, account text, created_at timestamptz NOT NULL);
CREATE TABLE "Help Desk".messages (id serial PRIMARY KEY, ticket_id integer NOT NULL,
    author text NOT NULL, body text, created_at timestamptz NOT NULL);
SELECT escalation.attach('"Help Desk"."Tickets"', key => 'Id', status => 'status',
    status_map => '{"open": ["open"], "pending": ["waiting"], "solved": ["solved"]}',
    priority => 'priority', subject => 'subject', body => 'body', account => 'account',
    created_at => 'created_at', messages => '"Help Desk".messages', message_ticket => 'ticket_id',
    message_body => 'body', message_author => 'author', message_created_at => 'created_at',
    author_map => '{"customer": ["customer"], "agent": ["agent"]}');
INSERT INTO escalation.teams (name, kind) VALUES ('billing', 'functional'), ('tier2', 'hierarchical');
INSERT INTO escalation.agents (agent_id, team) VALUES ('ann', 'billing');
INSERT INTO escalation.accounts (account_key, tier, vip, owner_agent) VALUES ('acme', 'enterprise', true, 'ann');
INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('refunds', '{refund}', 'billing');
INSERT INTO escalation.calendars (name, time_zone) VALUES ('office', 'Europe/Berlin');
INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
SELECT calendar_id, d, '09:00', '17:00' FROM escalation.calendars, generate_series(1, 5) d;
SET client_min_messages = error;
INSERT INTO escalation.sla_policies (name, position) VALUES ('all', 1);
RESET client_min_messages;
INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at)
SELECT policy_id, 'first_response', '1 hour', '{50}' FROM escalation.sla_policies;
INSERT INTO escalation.sla_targets (policy_id, metric, target, calendar)
SELECT policy_id, 'resolution', '3 days', 'office' FROM escalation.sla_policies;
INSERT INTO escalation.sla_ladder (policy_id, metric, level, after, target_team)
SELECT policy_id, 'first_response', 1, '0', 'tier2' FROM escalation.sla_policies;
INSERT INTO "Help Desk"."Tickets" ("Id", subject, body, account, created_at)
SELECT g, 'ticket ' || g, CASE WHEN g % 3 = 0 THEN 'I want a refund' ELSE 'hello' END, 'acme',
       timestamptz '2024-03-04 10:00+00' + g * interval '1 minute'
  FROM generate_series(1, 30) g;
INSERT INTO "Help Desk".messages (ticket_id, author, body, created_at)
SELECT g, 'agent', 'on it', timestamptz '2024-03-04 10:20+00' + g * interval '1 minute'
  FROM generate_series(1, 10) g;
UPDATE "Help Desk"."Tickets" SET status = 'waiting' WHERE "Id" BETWEEN 11 AND 15;
SELECT escalation.run_cycle('2024-03-04 11:05+00');
});

# an escalation decided and left to the worker (escalation.defer_escalations),
# not recorded yet when the dump is taken: the dump keeps it
$node->safe_psql(
	'helpdesk', q{
SET escalation.defer_escalations = on;
INSERT INTO "Help Desk"."Tickets" ("Id", subject, body, created_at)
VALUES (50, 'money', 'a refund, for the worker', '2024-03-04 12:00+00');
});
is($node->safe_psql('helpdesk', 'SELECT count(*) FROM escalation.pending_escalations'),
	'1', 'an escalation is pending when the dump is taken');

# what we compare: every table of the extension, row for row
my @tables = split /\n/, $node->safe_psql('helpdesk',
	"SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'escalation'::regnamespace
	    AND c.relkind = 'r' ORDER BY 1");
sub fingerprint
{
	my ($db) = @_;
	my %fp;
	for my $t (@tables)
	{
		$fp{$t} = $node->safe_psql($db,
			"SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '-')
			   FROM escalation.\"$t\" x");
	}
	return \%fp;
}
my $before = fingerprint('helpdesk');
ok($before->{escalations} !~ /^0:/, 'the source database has escalations');
ok($before->{clock_firings} !~ /^0:/, 'and fired clock steps');

my $dump = $node->basedir . '/helpdesk.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('helpdesk'), '-f', $dump ],
	'pg_dump of the helpdesk database');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ],
	'pg_restore into a new database');

my $after = fingerprint('restored');
for my $t (@tables)
{
	is($after->{$t}, $before->{$t}, "escalation.$t comes back row for row");
}

# the restored triggers and rules work, sequences continue
is( $node->safe_psql(
		'restored', q{
INSERT INTO "Help Desk"."Tickets" ("Id", subject, body, created_at)
VALUES (100, 'money', 'please refund me', '2024-03-05 10:00+00');
SELECT e.target_team || ' ' || (e.escalation_id > (SELECT max(escalation_id) - 1 FROM escalation.escalations WHERE ticket_key <> '100'))
  FROM escalation.escalations e WHERE e.ticket_key = '100' AND e.origin = 'rule';
}),
	'billing true',
	'a new ticket in the restored database is escalated by the restored rule, with a new id');
is($node->safe_psql('restored',
		"SELECT count(*) FROM escalation.clocks WHERE ticket_key = '100'"),
	'2', 'and gets its SLA clocks from the restored policy');

# the worker serves the restored database and fires its restored clocks
$node->safe_psql('postgres', 'ALTER SYSTEM SET escalation.worker_enabled = on');
$node->reload;
ok( $node->poll_query_until(
		'restored',
		"SELECT count(*) = 1 FROM escalation.workers WHERE database = 'restored' AND cycles > 0"),
	'the worker serves the restored database');
ok( $node->poll_query_until(
		'restored', 'SELECT count(*) = 0 FROM escalation.clocks WHERE next_at <= now()'),
	'and works off what became due');
ok( $node->poll_query_until(
		'restored',
		"SELECT count(*) = 0 FROM escalation.pending_escalations"),
	'and records the escalation that was pending');
is( $node->safe_psql(
		'restored',
		"SELECT e.target_team || ' ' || (e.created_at = '2024-03-04 12:00+00') FROM escalation.escalations e WHERE e.ticket_key = '50' AND e.origin = 'rule'"),
	'billing true',
	'the pending escalation, recorded in the restored database, at the ticket\'s time');

$node->stop;
done_testing();
