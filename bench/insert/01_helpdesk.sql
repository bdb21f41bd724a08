-- bench/insert/01_helpdesk.sql: the helpdesk being measured.
--
-- The helpdesk has its own schema and tables, as a real one would; the
-- extension only attaches to them. Three tables with identical columns and
-- indexes take the three kinds of insert:
--   helpdesk.tickets          attached with escalation.attach() (the C trigger)
--   helpdesk.tickets_bare     no trigger at all
--   helpdesk.tickets_plpgsql  a naive PL/pgSQL trigger doing the same job
-- Each has a requester and an account index, as helpdesks do (the context
-- snapshot looks up the requester's other tickets).

CREATE SCHEMA helpdesk;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tickets', 'tickets_bare', 'tickets_plpgsql'] LOOP
        EXECUTE format($ddl$
            CREATE TABLE helpdesk.%1$I (
                id              bigserial PRIMARY KEY,
                created_at      timestamptz NOT NULL DEFAULT now(),
                updated_at      timestamptz NOT NULL DEFAULT now(),
                status          text NOT NULL DEFAULT 'new',
                priority        text NOT NULL DEFAULT 'normal',
                channel         text NOT NULL DEFAULT 'email',
                subject         text,
                body            text,
                requester       text,
                account         text,
                disputed_amount numeric(12,2),
                assignee        text,
                team            text
            );
            CREATE INDEX ON helpdesk.%1$I (requester);
            CREATE INDEX ON helpdesk.%1$I (account);
        $ddl$, t);
    END LOOP;
END
$$;

-- the attached helpdesk's conversation (empty here: the benchmark inserts tickets)
CREATE TABLE helpdesk.messages (
    id          bigserial PRIMARY KEY,
    ticket_id   bigint NOT NULL REFERENCES helpdesk.tickets (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    author_kind text NOT NULL,
    author      text,
    body        text NOT NULL
);
CREATE INDEX ON helpdesk.messages (ticket_id, created_at);
