-- bench/load/01_helpdesk.sql: the helpdesk the load test writes to, attached.
--
-- A helpdesk of its own (tickets, messages), a status log that the
-- invariant checks read (which tickets were ever pending: routing does not
-- count tickets pending on the customer against an agent's capacity), the
-- application's login role, and the bench schema with what the pgbench
-- scripts call.  Run as a superuser, in one transaction.

CREATE EXTENSION escalation;

CREATE SCHEMA helpdesk;

CREATE TABLE helpdesk.tickets (
    id              bigserial PRIMARY KEY,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    status          text NOT NULL DEFAULT 'new',
    priority        text NOT NULL DEFAULT 'normal',
    channel         text NOT NULL DEFAULT 'email',
    subject         text NOT NULL,
    body            text NOT NULL,
    requester       text NOT NULL,
    account         text,
    disputed_amount numeric(12,2),
    bug_status      text,
    assignee        text,
    team            text
);
CREATE INDEX ON helpdesk.tickets (requester, created_at);

CREATE TABLE helpdesk.messages (
    id          bigserial PRIMARY KEY,
    ticket_id   bigint NOT NULL REFERENCES helpdesk.tickets (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    author_kind text NOT NULL CHECK (author_kind IN ('customer', 'agent', 'bot', 'note')),
    author      text,
    body        text NOT NULL
);
CREATE INDEX ON helpdesk.messages (ticket_id, created_at);

-- every status and priority a ticket took, in the order its writers
-- changed them (they hold the ticket's row lock), each at the time it
-- happened (its transaction's start, as escalation dates it): written by
-- the helpdesk's own trigger (not escalation's), the raw data the checks
-- recount the clocks from
CREATE TABLE helpdesk.ticket_status_log (
    seq       bigserial PRIMARY KEY,
    ticket_id bigint NOT NULL,
    status    text NOT NULL,
    priority  text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON helpdesk.ticket_status_log (ticket_id, seq);
CREATE FUNCTION helpdesk.log_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status
       OR NEW.priority IS DISTINCT FROM OLD.priority THEN
        INSERT INTO helpdesk.ticket_status_log (ticket_id, status, priority)
        VALUES (NEW.id, NEW.status, NEW.priority);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER log_status AFTER INSERT OR UPDATE OF status, priority ON helpdesk.tickets
    FOR EACH ROW EXECUTE FUNCTION helpdesk.log_status();

SELECT escalation.attach('helpdesk.tickets',
    key        => 'id',
    status     => 'status',
    status_map => '{"open": ["new", "open"], "pending": ["pending"], "solved": ["solved", "closed"]}',
    created_at => 'created_at',
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
    name       => 'load') AS source_id \gset

-- the application: a login role that is not a superuser.  It writes the
-- helpdesk's tables (the triggers write escalation's as its owner) and acts
-- for agents and the support lead through escalation's roles
CREATE ROLE load_app LOGIN PASSWORD :'load_password' IN ROLE escalation_admin, escalation_agent;
GRANT USAGE ON SCHEMA helpdesk TO load_app;
GRANT SELECT, INSERT, UPDATE ON helpdesk.tickets, helpdesk.messages TO load_app;
GRANT INSERT ON helpdesk.ticket_status_log TO load_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA helpdesk TO load_app;

---------------------------------------------------------------------------
-- what the pgbench scripts call
---------------------------------------------------------------------------
CREATE SCHEMA bench;
GRANT USAGE ON SCHEMA bench TO load_app;

-- one row per agent action tried, with its outcome (the figures)
CREATE UNLOGGED TABLE bench.ops (
    kind    text NOT NULL,
    outcome text NOT NULL,
    at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
GRANT INSERT ON bench.ops TO load_app;

-- the text of a ticket or message: a quarter of them with a phrase that
-- makes a rule fire (some only with the right priority, amount or account)
CREATE FUNCTION bench.phrase(r integer) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT (ARRAY[
        'I cannot log in since this morning, the password reset mail never arrives.',
        'How do I export last month''s report as a spreadsheet?',
        'The dashboard is slow when I open the team view.',
        'Please update the billing address on our account.',
        'Thanks, that worked. One more question about the invoice layout.',
        'The mobile app crashes when I upload a photo.',
        'Can you add two more seats to our plan?',
        'The search does not find tickets older than a year.',
        -- rule phrases (security, billing, technical, management, tier2)
        'We noticed suspicious activity on our admin account, someone logged in from abroad.',
        'I want to dispute this charge, it was never authorised.',
        'The API returns error 503 for every request since noon.',
        'This is unacceptable, we have been waiting for days.',
        'I want to speak to a manager about this.',
        'We will cancel our subscription if this is not fixed.',
        'There is an outage, our users see a blank page.',
        'Please escalate this, it blocks our release.'
    ])[CASE WHEN r % 4 = 0 THEN 9 + (r / 4) % 8 ELSE 1 + r % 8 END]
$$;

-- priorities: mostly normal, some high, a few urgent
CREATE FUNCTION bench.priority(r integer) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN r % 100 < 10 THEN 'urgent' WHEN r % 100 < 30 THEN 'high'
                WHEN r % 100 < 40 THEN 'low' ELSE 'normal' END
$$;

-- a recent ticket: half of the time one of the last 300, else one of the last 3000
CREATE FUNCTION bench.recent_ticket(r integer) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT greatest(1, s.last_value - CASE WHEN r % 2 = 0 THEN r % 300 ELSE r % 3000 END)
      FROM helpdesk.tickets_id_seq s
$$;
GRANT SELECT ON helpdesk.tickets_id_seq TO load_app;

-- the agent actions: each picks its escalation at random, tries, and logs
-- the outcome.  Only what the state machine refuses on purpose (55000: the
-- escalation moved meanwhile, the agent is full) is caught; anything else
-- aborts the client, and so fails the run.
CREATE FUNCTION bench.op_accept(r integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    eid bigint;
    agent text;
    outcome text := 'ok';
BEGIN
    IF r % 4 = 0 THEN
        -- an agent takes queued work of its team (within its capacity)
        SELECT q.escalation_id, a.agent_id INTO eid, agent
          FROM (SELECT e.escalation_id, e.target_team FROM escalation.escalations e
                 WHERE e.status = 'queued' ORDER BY e.created_at LIMIT 50) q
          JOIN escalation.agents a ON a.team = q.target_team AND a.availability <> 'offline'
         ORDER BY random() LIMIT 1;
    ELSE
        SELECT e.escalation_id, e.agent_id INTO eid, agent
          FROM escalation.escalations e WHERE e.status = 'offered' ORDER BY random() LIMIT 1;
    END IF;
    IF eid IS NULL THEN
        outcome := 'nothing to do';
    ELSE
        BEGIN
            PERFORM escalation.accept(eid, agent);
        EXCEPTION WHEN object_not_in_prerequisite_state THEN
            outcome := 'refused';
        END;
    END IF;
    INSERT INTO bench.ops (kind, outcome)
    VALUES (CASE WHEN r % 4 = 0 THEN 'accept queued' ELSE 'accept offer' END, outcome);
    RETURN outcome;
END
$$;

CREATE FUNCTION bench.op_decline(r integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    eid bigint;
    agent text;
    outcome text := 'ok';
BEGIN
    SELECT e.escalation_id, e.agent_id INTO eid, agent
      FROM escalation.escalations e WHERE e.status = 'offered' ORDER BY random() LIMIT 1;
    IF eid IS NULL THEN
        outcome := 'nothing to do';
    ELSE
        BEGIN
            PERFORM escalation.decline(eid, agent, 'busy (load test)');
        EXCEPTION WHEN object_not_in_prerequisite_state THEN
            outcome := 'refused';
        END;
    END IF;
    INSERT INTO bench.ops (kind, outcome) VALUES ('decline', outcome);
    RETURN outcome;
END
$$;

CREATE FUNCTION bench.op_resolve(r integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    eid bigint;
    outcome text := 'ok';
BEGIN
    -- mostly accepted work; sometimes an offer or a queued escalation
    -- settled by other means
    SELECT e.escalation_id INTO eid
      FROM escalation.escalations e
     WHERE e.status = CASE WHEN r % 10 = 0 THEN 'offered' ELSE 'accepted' END
     ORDER BY random() LIMIT 1;
    IF eid IS NULL THEN
        outcome := 'nothing to do';
    ELSE
        BEGIN
            PERFORM escalation.resolve(eid, 'done (load test)');
        EXCEPTION WHEN object_not_in_prerequisite_state THEN
            outcome := 'refused';
        END;
    END IF;
    INSERT INTO bench.ops (kind, outcome) VALUES ('resolve', outcome);
    RETURN outcome;
END
$$;

CREATE FUNCTION bench.op_reassign(r integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    eid bigint;
    agent text;
    outcome text := 'ok';
BEGIN
    SELECT q.escalation_id, a.agent_id INTO eid, agent
      FROM (SELECT e.escalation_id, e.target_team FROM escalation.escalations e
             WHERE e.status IN ('queued', 'offered') ORDER BY e.created_at LIMIT 50) q
      JOIN escalation.agents a ON a.team = q.target_team
     ORDER BY random() LIMIT 1;
    IF eid IS NULL THEN
        outcome := 'nothing to do';
    ELSE
        BEGIN
            PERFORM escalation.reassign(eid, agent, 'lead moves it (load test)');
        EXCEPTION WHEN object_not_in_prerequisite_state THEN
            outcome := 'refused';
        END;
    END IF;
    INSERT INTO bench.ops (kind, outcome) VALUES ('reassign', outcome);
    RETURN outcome;
END
$$;

CREATE FUNCTION bench.op_availability(r integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    agent text;
    avail text := CASE WHEN r % 10 < 7 THEN 'online' WHEN r % 10 < 9 THEN 'away' ELSE 'offline' END;
BEGIN
    SELECT a.agent_id INTO agent FROM escalation.agents a ORDER BY random() LIMIT 1;
    UPDATE escalation.agents a SET availability = avail WHERE a.agent_id = agent;
    INSERT INTO bench.ops (kind, outcome) VALUES ('availability', avail);
    RETURN avail;
END
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA bench TO load_app;
