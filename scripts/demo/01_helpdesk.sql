-- scripts/demo/01_helpdesk.sql: a small helpdesk of its own, then attach it.
--
-- The helpdesk lives in its own schema, as it would in a real application:
-- escalation never owns these tables, it only attaches triggers to them.

CREATE SCHEMA helpdesk;

CREATE TABLE helpdesk.tickets (
    id              bigserial PRIMARY KEY,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'new',
    priority        text NOT NULL DEFAULT 'normal',
    channel         text NOT NULL,
    subject         text NOT NULL,
    body            text NOT NULL,
    requester       text NOT NULL,
    account         text,
    disputed_amount numeric(12,2),
    bug_status      text,                 -- set by an agent: 'suspected', 'confirmed', ...
    assignee        text,
    team            text
);
CREATE INDEX ON helpdesk.tickets (requester);
CREATE INDEX ON helpdesk.tickets (account);

CREATE TABLE helpdesk.messages (
    id          bigserial PRIMARY KEY,
    ticket_id   bigint NOT NULL REFERENCES helpdesk.tickets (id),
    created_at  timestamptz NOT NULL,
    author_kind text NOT NULL CHECK (author_kind IN ('customer', 'agent', 'bot', 'note')),
    author      text,
    body        text NOT NULL
);
CREATE INDEX ON helpdesk.messages (ticket_id, created_at);

CREATE EXTENSION escalation;

\echo
\echo '== Attaching helpdesk.tickets and helpdesk.messages'
\echo '   escalation.attach() maps the helpdesk''s own columns to what escalation needs to know.'
SELECT escalation.attach('helpdesk.tickets',
    key        => 'id',
    status     => 'status',
    status_map => '{"open": ["new", "open"], "pending": ["pending"], "solved": ["solved", "closed"]}',
    created_at => 'created_at',
    updated_at => 'updated_at',
    priority   => 'priority',
    channel    => 'channel',
    subject    => 'subject',
    body       => 'body',
    requester  => 'requester',
    account    => 'account',
    assignee   => 'assignee',
    team       => 'team',
    fields     => '{"disputed_amount": "disputed_amount", "bug": "bug_status"}',
    messages           => 'helpdesk.messages',
    message_ticket     => 'ticket_id',
    message_created_at => 'created_at',
    message_body       => 'body',
    message_author     => 'author_kind',
    author_map => '{"customer": ["customer"], "agent": ["agent"], "bot": ["bot"], "internal": ["note"]}',
    ts_config  => 'english') AS source_id;

SELECT tgrelid::regclass AS "table", tgname AS "trigger installed"
  FROM pg_trigger
 WHERE tgrelid IN ('helpdesk.tickets'::regclass, 'helpdesk.messages'::regclass) AND NOT tgisinternal
 ORDER BY 1;
