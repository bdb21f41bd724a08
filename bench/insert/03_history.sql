-- bench/insert/03_history.sql: a year of past tickets, before anything is attached.
--
-- A helpdesk that attaches escalation already has history: its indexes have
-- depth, and the context snapshot finds the requester's earlier tickets.
-- The same :history tickets (drawn from the pool, mostly solved) go into
-- each of the three tables, which are then vacuumed and analyzed by the
-- runner. Ticket ids 1..:history are history; the measured inserts follow.
-- psql variables: history, pool_size.

SELECT setseed(0.5) \gset

CREATE TEMP TABLE hist AS
SELECT g AS n,
       1 + floor(random() * :pool_size)::int AS bid,
       1 + floor(random() * 1100)::int AS acc,
       1 + floor(random() * 200000)::int AS req,
       random() AS st,
       now() - interval '365 days' + g * (interval '365 days' / :history) AS at
  FROM generate_series(1, :history) AS g;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tickets', 'tickets_bare', 'tickets_plpgsql'] LOOP
        EXECUTE format($ins$
            INSERT INTO helpdesk.%I (created_at, updated_at, status, priority, channel, subject, body,
                                     requester, account, disputed_amount)
            SELECT h.at, h.at + interval '2 days',
                   CASE WHEN h.st < 0.80 THEN 'closed' WHEN h.st < 0.95 THEN 'solved' ELSE 'pending' END,
                   p.priority, p.channel, p.subject, p.body,
                   'customer' || h.req || '@example.com', 'acct-' || h.acc, p.disputed_amount
              FROM hist h JOIN bench.pool p ON p.id = h.bid
             ORDER BY h.n
        $ins$, t);
    END LOOP;
END
$$;
