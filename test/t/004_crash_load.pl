# Crashes under load: writers keep inserting tickets and messages (and
# replying, and moving tickets between open, pending and solved) while the
# worker fires SLA steps, and 20 times a process is killed with SIGKILL:
# the worker on odd rounds, a random backend on even rounds (a writer's
# backend when one is connected).  Each kill makes the postmaster restart
# the whole server (restart_after_crash).
#
# The writers know what they committed: each transaction ends with
# "\echo committed <id>" after its COMMIT, so a ticket whose line came back
# was committed, one sent whose line did not is in doubt (the crash may
# have come before or after its commit), and one never sent does not
# exist.  Afterwards:
#   - every committed ticket is there with exactly the escalations its
#     text calls for (per the rules), each once; an in-doubt ticket is
#     there with all of them or absent with none; nothing else exists;
#   - every escalation has exactly one "created" event (its journey);
#   - the SLA clocks are consistent: elapsed time is what the segments
#     add up to, escalation.sla_what_if() finds nothing to recount, each
#     clock is in the state its ticket's status calls for, every step due
#     fired exactly once, and every ladder level that paged has its
#     escalation, one per ticket;
#   - after every restart the worker was back (started, and its first
#     cycle done) within two naptimes of the server accepting connections,
#     measured on the server log's own timestamps.
#
# No sleep decides an outcome: every wait polls for a state with a deadline.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use POSIX ();
use Time::HiRes qw(time usleep);

my $rounds = 20;
my $writers = 3;
my $naptime_ms = 1000;

my $node = PostgreSQL::Test::Cluster->new('crash_load');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'escalation'
escalation.naptime = '${naptime_ms}ms'
escalation.launcher_naptime = '1s'
escalation.batch_size = 100
max_worker_processes = 16
max_connections = 40
restart_after_crash = on
log_line_prefix = '%m [%p] %b '
log_statement = none
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE helpdesk');
$node->safe_psql(
	'helpdesk', q{
BEGIN;
CREATE EXTENSION escalation;
CREATE SCHEMA hd;
CREATE TABLE hd.tickets (
    id bigint PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(),
    status text NOT NULL DEFAULT 'open', priority text NOT NULL DEFAULT 'normal',
    subject text NOT NULL, body text NOT NULL, requester text NOT NULL,
    disputed_amount numeric);
CREATE TABLE hd.messages (
    id bigserial PRIMARY KEY, ticket_id bigint NOT NULL REFERENCES hd.tickets (id),
    created_at timestamptz NOT NULL DEFAULT now(), author_kind text NOT NULL, body text NOT NULL);
CREATE INDEX ON hd.messages (ticket_id, created_at);
-- the helpdesk's own record of its tickets' statuses
CREATE TABLE hd.status_log (ticket_id bigint NOT NULL, status text NOT NULL);
CREATE FUNCTION hd.log_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hd.status_log VALUES (NEW.id, NEW.status);
    RETURN NULL;
END $$;
CREATE TRIGGER log_status AFTER INSERT OR UPDATE OF status ON hd.tickets
    FOR EACH ROW EXECUTE FUNCTION hd.log_status();
SELECT escalation.attach('hd.tickets', key => 'id', created_at => 'created_at',
    status => 'status', status_map => '{"open": ["open"], "pending": ["pending"], "solved": ["solved"]}',
    priority => 'priority', subject => 'subject', body => 'body', requester => 'requester',
    fields => '{"disputed_amount": "disputed_amount"}',
    messages => 'hd.messages', message_ticket => 'ticket_id', message_created_at => 'created_at',
    message_body => 'body', message_author => 'author_kind',
    author_map => '{"customer": ["customer"], "agent": ["agent"]}');
INSERT INTO escalation.teams (name, kind, tier) VALUES
    ('security', 'functional', 2), ('billing', 'functional', 2),
    ('management', 'hierarchical', 3), ('tier2', 'hierarchical', 2);
INSERT INTO escalation.rules (name, keywords, target_team, severity, applies_to) VALUES
    ('security', '{suspicious activity}', 'security', 4, 'ticket');
INSERT INTO escalation.rules (name, keywords, field, field_op, field_value, target_team, applies_to) VALUES
    ('billing', '{dispute}', 'disputed_amount', '>', '500', 'billing', 'ticket');
INSERT INTO escalation.rules (name, keywords, kind, target_team, applies_to) VALUES
    ('manager', '{speak to a manager}', 'hierarchical', 'management', 'message');
-- urgent tickets: a first response within 3 seconds, a warning at half,
-- then tier 2
INSERT INTO escalation.sla_policies (name, position, priorities) VALUES ('urgent', 1, '{urgent}');
INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at)
SELECT policy_id, 'first_response', '3 seconds', '{50}' FROM escalation.sla_policies;
INSERT INTO escalation.sla_targets (policy_id, metric, target, warn_at)
SELECT policy_id, 'resolution', '20 seconds', '{}' FROM escalation.sla_policies;
INSERT INTO escalation.sla_ladder (policy_id, metric, level, after, target_team)
SELECT policy_id, 'first_response', 1, '0', 'tier2' FROM escalation.sla_policies;
COMMIT;
});

ok( $node->poll_query_until(
		'helpdesk',
		"SELECT count(*) = 1 FROM pg_stat_activity
		  WHERE backend_type = 'escalation worker' AND datname = 'helpdesk'"),
	'the worker serves the helpdesk database');

# ---------------------------------------------------------------------------
# the writers
#
# Ticket n's text decides its escalations: n % 4 = 0 "suspicious activity"
# (security), 1 a dispute over 500 (billing), 3 both, 2 none; n % 5 = 0 its
# customer's message asks for a manager (management).  n % 4 = 0 is urgent
# (an SLA clock, breached unless n % 3 = 0, where an agent replies at once).
sub expected_teams
{
	my ($n) = @_;
	my @t;
	push @t, 'billing' if $n % 4 == 1 || $n % 4 == 3;
	push @t, 'management' if $n % 5 == 0;
	push @t, 'security' if $n % 4 == 0 || $n % 4 == 3;
	return join(',', sort @t);
}

sub ticket_sql
{
	my ($n) = @_;
	my $body = ('suspicious activity on our account', 'I dispute this invoice',
		'how do I export a report', 'suspicious activity, and I dispute the charge')[ $n % 4 ];
	my $prio = $n % 4 == 0 ? 'urgent' : 'normal';
	my $amount = $n % 4 == 2 ? 'NULL' : '900';
	my $msg = $n % 5 == 0 ? 'I want to speak to a manager' : 'any news?';
	my $sql = "BEGIN;\n"
	  . "INSERT INTO hd.tickets (id, priority, subject, body, requester, disputed_amount) "
	  . "VALUES ($n, '$prio', 'ticket $n', '$body', 'customer" . ($n % 50) . "', $amount);\n"
	  . "INSERT INTO hd.messages (ticket_id, author_kind, body) VALUES ($n, 'customer', '$msg');\n";
	$sql .= "INSERT INTO hd.messages (ticket_id, author_kind, body) VALUES ($n, 'agent', 'on it');\n"
	  if $n % 12 == 0;
	$sql .= "COMMIT;\n\\echo committed $n\n";
	return $sql;
}

my $dir = PostgreSQL::Test::Utils::tempdir();
my $stopfile = "$dir/stop";
my $connstr = $node->connstr('helpdesk') . ' application_name=crash_writer';
my @children;

# writer $w writes tickets $w, $w + writers, ...: 25 transactions per
# session, then status changes of tickets it wrote before (pending, open,
# solved) in their own transactions; a lost session is started again
sub writer
{
	my ($w) = @_;
	my $n = $w;
	my @mine;
	open(my $sent, '>>', "$dir/sent.$w") or die;
	open(my $acked, '>>', "$dir/acked.$w") or die;
	$sent->autoflush(1);
	$acked->autoflush(1);
	srand(1000 + $w);
	while (!-e $stopfile)
	{
		my ($sql, @batch) = ('');
		for (1 .. 25)
		{
			$sql .= ticket_sql($n);
			push @batch, $n;
			$n += $writers;
		}
		for (1 .. 10)
		{
			last unless @mine;
			my $t = $mine[ int(rand(@mine)) ];
			my $to = ('pending', 'open', 'solved', 'open')[ int(rand(4)) ];
			$sql .= "UPDATE hd.tickets SET status = '$to' WHERE id = $t;\n";
		}
		print $sent join("\n", @batch), "\n";
		my ($out, $err) = ('', '');
		IPC::Run::run(
			[ 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', $connstr, '-f', '-' ],
			'<', \$sql, '>', \$out, '2>', \$err);
		for my $line (split /\n/, $out)
		{
			if ($line =~ /^committed (\d+)$/)
			{
				print $acked "$1\n";
				push @mine, $1;
			}
		}
		# the server is restarting: try again shortly
		usleep(50_000) if $? != 0;
	}
	POSIX::_exit(0);
}

for my $w (1 .. $writers)
{
	my $pid = fork();
	die "fork failed: $!" unless defined $pid;
	if ($pid == 0)
	{
		eval { writer($w); };
		POSIX::_exit(1);
	}
	push @children, $pid;
}

sub acked_count
{
	my $c = 0;
	for my $w (1 .. $writers)
	{
		open(my $f, '<', "$dir/acked.$w") or next;
		$c++ while <$f>;
		close $f;
	}
	return $c;
}

# poll until $cond returns true, at most $timeout seconds
sub wait_until
{
	my ($timeout, $cond) = @_;
	my $deadline = time() + $timeout;
	while (time() < $deadline)
	{
		return 1 if $cond->();
		usleep(20_000);
	}
	return 0;
}

# the log's timestamp of the first line matching $re after offset $pos
sub log_time
{
	my ($re, $pos) = @_;
	my $log = slurp_file($node->logfile, $pos);
	return $log =~ /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+) \[\d+\] [^\n]*$re/m ? $1 : undef;
}

# ---------------------------------------------------------------------------
# the crashes
srand(4);
my $worst_back = 0;
my $backs_in_time = 0;
my @victims;
ok(wait_until(60, sub { acked_count() >= 100 }), 'the writers are writing');
for my $round (1 .. $rounds)
{
	my $acked_before = acked_count();
	my ($victim, $what);
	if ($round % 2 == 1)
	{
		# the worker, preferably inside a batch
		wait_until(
			5,
			sub {
				$node->safe_psql('helpdesk',
					"SELECT state = 'active' FROM pg_stat_activity WHERE backend_type = 'escalation worker'")
				  eq 't';
			});
		$victim = $node->safe_psql('helpdesk',
			"SELECT pid FROM pg_stat_activity WHERE backend_type = 'escalation worker' AND datname = 'helpdesk'"
		);
		$what = 'escalation worker';
	}
	else
	{
		my $pick = int(rand(1000));
		($victim, $what) = split /\|/, $node->safe_psql(
			'helpdesk', qq{
			SELECT pid, backend_type || coalesce(' ' || nullif(application_name, ''), '')
			  FROM pg_stat_activity
			 WHERE pid <> pg_backend_pid()
			   AND (backend_type = 'client backend' AND application_name = 'crash_writer'
			        OR NOT EXISTS (SELECT 1 FROM pg_stat_activity
			                        WHERE backend_type = 'client backend' AND application_name = 'crash_writer'))
			   AND backend_type NOT IN ('logger', 'archiver')
			 ORDER BY pid OFFSET $pick % greatest(1, (SELECT count(*) FROM pg_stat_activity
			     WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
			       AND application_name = 'crash_writer')) LIMIT 1});
	}
	ok($victim, "round $round: a victim ($what)");
	my $pos = -s $node->logfile;
	kill 'KILL', $victim;
	# a writer's backend may have ended its session just before: then no
	# crash comes, and another victim is taken
	my $crashed = wait_until(10,
		sub { slurp_file($node->logfile, $pos) =~ /all server processes terminated; reinitializing/ });
	my $tries = 1;
	while (!$crashed && $tries < 5)
	{
		$tries++;
		($victim, $what) = split /\|/, $node->safe_psql(
			'helpdesk', q{
			SELECT pid, backend_type FROM pg_stat_activity
			 WHERE pid <> pg_backend_pid() AND state = 'active'
			   AND backend_type IN ('client backend', 'escalation worker')
			 ORDER BY backend_type = 'client backend' DESC, pid LIMIT 1});
		next unless $victim;
		$pos = -s $node->logfile;
		kill 'KILL', $victim;
		$crashed = wait_until(10,
			sub { slurp_file($node->logfile, $pos) =~ /all server processes terminated; reinitializing/ });
	}
	ok($crashed, "round $round: SIGKILL of $victim ($what) made the server restart");
	push @victims, $what;
	$node->wait_for_log(qr/database system is ready to accept connections/, $pos);
	$node->wait_for_log(qr/escalation worker started for database "helpdesk"/, $pos);
	# back: the worker process started, measured on the log's timestamps
	# from the server's accepting connections again
	my $ready = log_time('database system is ready to accept connections', $pos);
	my $started = log_time('escalation worker started for database "helpdesk"', $pos);
	my $back = $node->safe_psql('helpdesk',
		"SELECT extract(epoch FROM '$started'::timestamptz - '$ready'::timestamptz)");
	# and it works: a cycle done since it started
	ok( wait_until(
			60,
			sub {
				$node->safe_psql('helpdesk',
					"SELECT count(*) FROM escalation.workers WHERE database = 'helpdesk' AND state = 'running'
					    AND cycles >= 1 AND last_cycle_end >= started")
				  eq '1';
			}),
		"round $round: the worker is back ("
		  . sprintf('%.3f', $back) . ' s after the server was ready) and completed a cycle');
	$worst_back = $back if $back > $worst_back;
	$backs_in_time++ if $back * 1000 <= 2 * $naptime_ms;
	# the writers write again before the next crash
	ok(wait_until(60, sub { acked_count() >= $acked_before + 30 }),
		"round $round: the writers committed again after the restart");
}
is($backs_in_time, $rounds,
	"after each of the $rounds restarts the worker was back within two naptimes (worst: ${worst_back}s)");

# stop the writers
open(my $stop, '>', $stopfile) or die;
close $stop;
waitpid($_, 0) for @children;

# ---------------------------------------------------------------------------
# what the writers know
my (%acked, %sent);
for my $w (1 .. $writers)
{
	for my $kind ([ 'sent', \%sent ], [ 'acked', \%acked ])
	{
		open(my $f, '<', "$dir/$kind->[0].$w") or die;
		while (<$f>)
		{
			chomp;
			$kind->[1]{$_} = 1 if /^\d+$/;
		}
		close $f;
	}
}
my @in_doubt = grep { !$acked{$_} } keys %sent;
note sprintf('%d tickets committed, %d in doubt (sent when a crash came), victims: %s',
	scalar(keys %acked), scalar(@in_doubt), join(', ', @victims));

# the database's view: each ticket with its rule escalations' teams
my %present;
for my $row (split /\n/, $node->safe_psql(
		'helpdesk', q{
	SELECT t.id, coalesce(string_agg(e.target_team, ',' ORDER BY e.target_team)
	                      FILTER (WHERE e.origin = 'rule'), '')
	  FROM hd.tickets t LEFT JOIN escalation.escalations e ON e.ticket_key = t.id::text
	 GROUP BY t.id}))
{
	my ($id, $teams) = split /\|/, $row;
	$present{$id} = $teams;
}

my @bad;
for my $n (keys %acked)
{
	if (!exists $present{$n})
	{
		push @bad, "committed ticket $n is missing";
	}
	elsif ($present{$n} ne expected_teams($n))
	{
		push @bad, "ticket $n escalated to '$present{$n}', expected '" . expected_teams($n) . "'";
	}
}
for my $n (@in_doubt)
{
	next unless exists $present{$n};
	push @bad, "in-doubt ticket $n escalated to '$present{$n}', expected '" . expected_teams($n) . "'"
	  if $present{$n} ne expected_teams($n);
}
for my $n (keys %present)
{
	push @bad, "ticket $n exists but was never sent" unless $sent{$n};
}
is(scalar(@bad), 0, 'every committed ticket is there with exactly the escalations its text calls for, each once')
  or diag(join("\n", @bad[ 0 .. ($#bad < 9 ? $#bad : 9) ]));
is( $node->safe_psql(
		'helpdesk', q{
	SELECT count(*) FROM escalation.escalations e
	 WHERE NOT EXISTS (SELECT 1 FROM hd.tickets t WHERE t.id::text = e.ticket_key)}),
	'0', 'no escalation of a ticket that does not exist');
is( $node->safe_psql(
		'helpdesk', q{
	SELECT count(*) FROM (SELECT 1 FROM escalation.escalations
	                       GROUP BY source_id, ticket_key, level, target_key HAVING count(*) > 1) d}),
	'0', 'no escalation twice (per ticket, level and target)');
is( $node->safe_psql(
		'helpdesk', q{
	SELECT count(*) FROM escalation.escalations e
	 WHERE (SELECT count(*) FROM escalation.events v
	         WHERE v.escalation_id = e.escalation_id AND v.event = 'created') <> 1}),
	'0', 'every escalation has exactly one created event');

# ---------------------------------------------------------------------------
# the clocks: the worker catches up first (a cycle that leaves nothing due)
my $as_of;
ok( wait_until(
		120,
		sub {
			$as_of = $node->safe_psql(
				'helpdesk', q{
			SELECT w.last_cycle_start FROM escalation.workers w
			 WHERE w.database = 'helpdesk' AND w.last_cycle_end >= w.last_cycle_start
			   AND w.last_cycle_start > (SELECT max(created_at) FROM hd.tickets)
			   AND NOT EXISTS (SELECT 1 FROM escalation.clocks c WHERE c.next_at <= w.last_cycle_start)});
			return $as_of ne '';
		}),
	'the worker catches up after the crashes');
# and stops, so that what is read next is at rest
$node->safe_psql('helpdesk',
	"ALTER SYSTEM SET escalation.worker_enabled = off; SELECT pg_reload_conf();");
ok( $node->poll_query_until(
		'helpdesk',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'escalation worker'"),
	'the worker stops');

is( $node->safe_psql(
		'helpdesk', qq{
	SELECT count(*) FROM escalation.clocks c
	 WHERE abs(extract(epoch FROM c.elapsed) - coalesce((
	          SELECT sum(extract(epoch FROM s.ends - s.starts)) FROM escalation.clock_segments s
	           WHERE s.clock_id = c.clock_id AND s.ends IS NOT NULL), 0)) > 0.001
	    OR (SELECT count(*) FROM escalation.clock_segments s
	         WHERE s.clock_id = c.clock_id AND s.ends IS NULL) <> (c.state = 'running')::int
	    OR (c.state = 'running' AND NOT EXISTS (SELECT 1 FROM escalation.clock_segments s
	         WHERE s.clock_id = c.clock_id AND s.ends IS NULL AND s.starts = c.running_since))}),
	'0', 'each clock counts what its segments add up to, and runs in its open segment');
is($node->safe_psql('helpdesk', "SELECT count(*) FROM escalation.sla_what_if('hd.tickets', '$as_of')"),
	'0', 'recomputing the clocks from their segments changes nothing');
is( $node->safe_psql(
		'helpdesk', q{
	SELECT count(*) FROM escalation.clocks c JOIN hd.tickets t ON t.id::text = c.ticket_key
	 WHERE c.state <> CASE WHEN c.metric = 'first_response'
	                            AND EXISTS (SELECT 1 FROM hd.messages m
	                                         WHERE m.ticket_id = t.id AND m.author_kind = 'agent') THEN 'met'
	                       WHEN c.metric = 'first_response'
	                            AND EXISTS (SELECT 1 FROM hd.status_log l
	                                         WHERE l.ticket_id = t.id AND l.status = 'solved') THEN 'stopped'
	                       WHEN t.status = 'open' THEN 'running'
	                       WHEN t.status = 'pending' THEN 'paused'
	                       WHEN c.metric = 'resolution' THEN 'met'
	                       ELSE 'stopped' END}),
	'0', 'each clock is in the state its ticket calls for');
is( $node->safe_psql(
		'helpdesk', q{
	SELECT count(*) FROM hd.tickets t
	  LEFT JOIN (SELECT ticket_key, count(*) AS n FROM escalation.clocks GROUP BY ticket_key) c
	    ON c.ticket_key = t.id::text
	 WHERE coalesce(c.n, 0) <> CASE WHEN t.priority = 'urgent' THEN 2 ELSE 0 END}),
	'0', 'one first-response and one resolution clock per urgent ticket, none for the others');

# every step due by as_of fired, once (the primary key), none early, and
# every ladder level that paged has its escalation, one per ticket
is( $node->safe_psql(
		'helpdesk', qq{
	WITH ck AS (
	    SELECT c.*, (SELECT coalesce(sum(extract(epoch FROM least(coalesce(s.ends, '$as_of'), '$as_of') - s.starts)), 0)
	                   FROM escalation.clock_segments s
	                  WHERE s.clock_id = c.clock_id AND s.starts < '$as_of') AS counted
	      FROM escalation.clocks c)
	SELECT count(*) FROM ck CROSS JOIN LATERAL escalation.sla_steps(ck.policy_id, ck.metric, ck.target) s
	 WHERE (s.at_secs <= ck.counted - 0.5
	        AND NOT EXISTS (SELECT 1 FROM escalation.clock_firings f
	                         WHERE f.clock_id = ck.clock_id AND f.step = s.step))
	    OR (s.at_secs > ck.counted + 2
	        AND EXISTS (SELECT 1 FROM escalation.clock_firings f
	                     WHERE f.clock_id = ck.clock_id AND f.step = s.step))}),
	'0', 'every SLA step due fired, none that was not due');
is( $node->safe_psql(
		'helpdesk', q{
	SELECT count(*) FROM escalation.clock_firings f JOIN escalation.notifications n USING (clock_id, step)
	 WHERE f.kind = 'level'
	   AND NOT EXISTS (SELECT 1 FROM escalation.escalations e
	                    WHERE e.escalation_id = f.escalation_id AND e.ticket_key = f.ticket_key
	                      AND e.target_team = 'tier2')}),
	'0', 'every ladder level that paged has its escalation');
is( $node->safe_psql(
		'helpdesk', q{
	SELECT count(*) FROM escalation.escalations e
	  LEFT JOIN (SELECT escalation_id, count(*) AS n FROM escalation.clock_firings
	              WHERE escalation_id IS NOT NULL GROUP BY escalation_id) f USING (escalation_id)
	 WHERE e.origin = 'sla' AND f.n IS DISTINCT FROM 1}),
	'0', 'every ladder escalation comes from exactly one firing');
my ($tickets, $escalations, $firings, $sla_escalations) = split /\|/, $node->safe_psql(
	'helpdesk', q{
	SELECT (SELECT count(*) FROM hd.tickets), (SELECT count(*) FROM escalation.escalations),
	       (SELECT count(*) FROM escalation.clock_firings),
	       (SELECT count(*) FROM escalation.escalations WHERE origin = 'sla')});
ok($firings > 0 && $sla_escalations > 0, 'the worker fired steps and escalated during the crashes');
note "figures: rounds=$rounds tickets=$tickets committed=" . scalar(keys %acked)
  . " in_doubt=" . scalar(@in_doubt) . " escalations=$escalations firings=$firings"
  . " sla_escalations=$sla_escalations worst_worker_back_s=$worst_back";

$node->stop;
done_testing();
