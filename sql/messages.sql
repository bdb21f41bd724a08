--
-- messages: the message trigger.  A customer's follow-up is judged by the
-- rules that apply to messages; an agent's customer-visible reply is the
-- ticket's first response (the earliest one wins); internal notes, private
-- messages, bots and unknown authors count for nothing; a message for a
-- ticket that does not exist never makes the insert fail.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE SCHEMA msg_hd;
CREATE TABLE msg_hd.tickets (
    id         integer PRIMARY KEY,
    status     text NOT NULL DEFAULT 'open',
    subject    text,
    body       text,
    requester  text,
    created_at timestamptz NOT NULL
);
-- no foreign key: some helpdesks write messages before (or without) tickets
CREATE TABLE msg_hd.messages (
    id         serial PRIMARY KEY,
    ticket_id  integer,
    author     text,
    private    boolean NOT NULL DEFAULT false,
    body       text,
    created_at timestamptz NOT NULL
);

SELECT escalation.attach('msg_hd.tickets', key => 'id', status => 'status',
           status_map => '{"open": ["open"], "solved": ["solved"], "other": ["merged"]}',
           subject => 'subject', body => 'body', requester => 'requester', created_at => 'created_at',
           messages => 'msg_hd.messages', message_ticket => 'ticket_id', message_body => 'body',
           message_author => 'author', message_private => 'private', message_created_at => 'created_at',
           author_map => '{"customer": ["customer", "end_user"], "agent": ["agent"], "bot": ["bot"], "internal": ["note"]}') AS sid \gset

SELECT tgname, regexp_replace(pg_get_triggerdef(oid), '\(''\d+''\)', '(<source id>)') AS definition
  FROM pg_trigger WHERE tgrelid = 'msg_hd.messages'::regclass AND NOT tgisinternal;

INSERT INTO escalation.rules (name, source_id, applies_to, keywords, target_team, kind) VALUES
    ('follow-up: still broken', :sid, 'message', '{"still broken", "no answer"}', 'tier2', 'hierarchical'),
    ('ticket only: refund',     :sid, 'ticket',  '{refund}',                      'billing', 'functional'),
    ('both: lawyer',            :sid, 'both',    '{lawyer}',                      'management', 'hierarchical'),
    ('follow-up: unacceptable', :sid, 'message', '{unacceptable}',                'tier2', 'hierarchical');
-- "no" is a stop word: like phraseto_tsquery('no answer'), the keyword is "answer"
SELECT escalation.keyword_lexemes('no answer', 'english');

INSERT INTO msg_hd.tickets (id, subject, body, requester, created_at) VALUES
    (1, 'Printer', 'The printer is broken', 'ann', '2024-03-01 09:00+00'),
    (2, 'VPN', 'VPN does not connect', 'bob', '2024-03-01 09:00+00'),
    (3, 'Old', 'An old question', 'ann', '2024-02-01 09:00+00'),
    (4, 'Merged', 'Merged away', 'ann', '2024-02-01 09:00+00');
UPDATE msg_hd.tickets SET status = 'solved' WHERE id = 3;
UPDATE msg_hd.tickets SET status = 'merged' WHERE id = 4;
SELECT count(*) AS escalations_so_far FROM escalation.escalations WHERE source_id = :sid;

--------------------------------------------------------------------------
-- who counts: customers escalate; agents, notes, private, bots do not
--------------------------------------------------------------------------
INSERT INTO msg_hd.messages (ticket_id, author, private, body, created_at) VALUES
    (1, 'bot',      false, 'Auto-reply: is it still broken?',       '2024-03-01 09:01+00'),
    (1, 'note',     false, 'internal: customer says still broken',  '2024-03-01 09:02+00'),
    (1, 'customer', true,  'private: still broken',                 '2024-03-01 09:03+00'),
    (1, 'robot',    false, 'unknown author: still broken',          '2024-03-01 09:04+00'),
    (1, NULL,       false, 'no author: still broken',               '2024-03-01 09:05+00'),
    (1, 'customer', false, NULL,                                    '2024-03-01 09:06+00'),
    (1, 'customer', false, 'I want a refund',                       '2024-03-01 09:07+00');
SELECT count(*) AS escalations_so_far FROM escalation.escalations WHERE source_id = :sid;

-- a customer's follow-up escalates the ticket, at the message's time
INSERT INTO msg_hd.messages (ticket_id, author, body, created_at)
VALUES (1, 'customer', 'Hello? It is STILL broken and there is no answer', '2024-03-01 10:00+00');
SELECT ticket_key, target_team, kind, created_at, regress_reasons(reasons) AS reasons
  FROM escalation.escalations WHERE source_id = :sid ORDER BY ticket_key, target_team;
-- its context shows the message and the conversation, newest first
SELECT context->>'message' AS message, context->'ticket'->>'subject' AS subject,
       jsonb_pretty(context->'messages') AS messages
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '1';

-- the same follow-up again (another author spelling) adds nothing
INSERT INTO msg_hd.messages (ticket_id, author, body, created_at)
VALUES (1, 'end_user', 'still broken!!!', '2024-03-01 11:00+00');
-- another rule for the same target merges into the open escalation
INSERT INTO msg_hd.messages (ticket_id, author, body, created_at)
VALUES (1, 'customer', 'This is unacceptable', '2024-03-01 11:15+00');
-- a rule for another target makes another escalation
INSERT INTO msg_hd.messages (ticket_id, author, body, created_at)
VALUES (1, 'customer', 'My lawyer will call.', '2024-03-01 11:30+00');
SELECT ticket_key, target_team, jsonb_path_query_array(reasons, '$[*].rule') AS rules
  FROM escalation.escalations WHERE source_id = :sid ORDER BY ticket_key, target_team;
SELECT ticket_key, event, to_status, actor, at
  FROM escalation.events WHERE source_id = :sid ORDER BY event_id;

-- a rule for both tickets and messages: fired by the ticket, then again by a
-- message: one escalation, one reason
INSERT INTO msg_hd.tickets (id, subject, body, requester, created_at)
VALUES (5, 'Legal', 'my lawyer says hi', 'cem', '2024-03-02 09:00+00');
INSERT INTO msg_hd.messages (ticket_id, author, body, created_at)
VALUES (5, 'customer', 'my lawyer says hi again', '2024-03-02 09:30+00');
SELECT ticket_key, target_team, created_at,
       jsonb_path_query_array(reasons, '$[*].on') AS reasons_on
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '5';

-- follow-ups on a merged ticket are ignored; on a solved ticket the
-- customer is back, and that is escalated
INSERT INTO msg_hd.messages (ticket_id, author, body, created_at) VALUES
    (4, 'customer', 'still broken', '2024-03-03 09:00+00'),
    (3, 'customer', 'still broken', '2024-03-03 09:00+00');
SELECT ticket_key, target_team, context->'ticket'->>'status' AS status
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key IN ('3', '4') ORDER BY ticket_key;

--------------------------------------------------------------------------
-- first responses: the earliest customer-visible agent reply
--------------------------------------------------------------------------
INSERT INTO msg_hd.messages (ticket_id, author, private, body, created_at) VALUES
    (2, 'agent', true,  'private note by an agent', '2024-03-01 09:05+00'),
    (2, 'bot',   false, 'We got your message',      '2024-03-01 09:06+00'),
    (2, 'note',  false, 'internal',                 '2024-03-01 09:07+00');
SELECT count(*) AS first_responses FROM escalation.first_responses WHERE source_id = :sid AND ticket_key = '2';

INSERT INTO msg_hd.messages (ticket_id, author, body, created_at)
VALUES (2, 'agent', 'Please restart the client', '2024-03-01 10:30+00');
SELECT ticket_key, responded_at, author FROM escalation.first_responses WHERE source_id = :sid ORDER BY ticket_key;
-- a reply written later but dated earlier (an import, a late sync) wins
INSERT INTO msg_hd.messages (ticket_id, author, body, created_at)
VALUES (2, 'agent', 'Looking into it', '2024-03-01 10:10+00');
-- a later reply does not
INSERT INTO msg_hd.messages (ticket_id, author, body, created_at)
VALUES (2, 'agent', 'Any news?', '2024-03-01 12:00+00');
SELECT ticket_key, responded_at, author FROM escalation.first_responses WHERE source_id = :sid ORDER BY ticket_key;
-- an agent reply is never judged as a follow-up
INSERT INTO msg_hd.messages (ticket_id, author, body, created_at)
VALUES (2, 'agent', 'Is it still broken? No answer yet?', '2024-03-01 12:05+00');
SELECT count(*) AS escalations_of_2 FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '2';

--------------------------------------------------------------------------
-- messages for a ticket that does not exist (yet): the insert never fails
--------------------------------------------------------------------------
INSERT INTO msg_hd.messages (ticket_id, author, body, created_at) VALUES
    (999, 'customer', 'still broken, and I have no ticket', '2024-03-04 09:00+00'),
    (999, 'agent', 'Which ticket?', '2024-03-04 09:10+00'),
    (NULL, 'customer', 'still broken, no ticket at all', '2024-03-04 09:20+00');
SELECT ticket_key, target_team, context->'ticket' AS ticket, context->>'message' AS message
  FROM escalation.escalations WHERE source_id = :sid AND ticket_key = '999';
SELECT ticket_key, responded_at FROM escalation.first_responses WHERE source_id = :sid AND ticket_key = '999';
SELECT count(*) AS messages FROM msg_hd.messages;
