# A helpdesk for the TAP tests of escalations left to the worker
# (escalation.defer_escalations): one ticket table attached, one team, one
# keyword rule ("outage" -> tier2), and the database's sessions deferring.
package EscDeferred;

use strict;
use warnings;

use Exporter 'import';
our @EXPORT = qw(deferred_helpdesk);

# deferred_helpdesk($node, $dbname): set it up in $dbname (a plain name)
sub deferred_helpdesk
{
	my ($node, $db) = @_;

	$node->safe_psql(
		$db, qq{
CREATE EXTENSION escalation;
CREATE TABLE tickets (id integer PRIMARY KEY, body text, created_at timestamptz NOT NULL);
SELECT escalation.attach('tickets', key => 'id', body => 'body', created_at => 'created_at');
INSERT INTO escalation.teams (name) VALUES ('tier2');
INSERT INTO escalation.rules (name, keywords, target_team) VALUES ('outage', '{outage}', 'tier2');
ALTER DATABASE "$db" SET escalation.defer_escalations = on;
});
	return;
}

1;
