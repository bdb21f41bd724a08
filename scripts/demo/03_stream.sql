-- scripts/demo/03_stream.sql: two weeks of a helpdesk's life, written as it happens.
--
-- 4-15 March 2024 (UTC), ten working days: about 2,000 tickets and 5,000
-- messages (bot auto-replies, agent replies, customer follow-ups, internal
-- notes), agents confirming bugs, tickets being solved. Everything is
-- generated from fixed templates with setseed(), so every run writes the
-- same rows with the same timestamps. The stream is then replayed in time
-- order, one INSERT or UPDATE at a time, exactly as a helpdesk application
-- would write it: the escalation triggers see each row as it arrives.

SELECT setseed(0.2024) \gset

-- who writes in: people of the customer accounts, and individuals without one
CREATE TEMP TABLE people AS
WITH first_names AS (
    SELECT ARRAY['Alice', 'Bruno', 'Carla', 'David', 'Elena', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jack',
                 'Karin', 'Liam', 'Mei', 'Nina', 'Oscar', 'Paula', 'Quentin', 'Rita', 'Samir', 'Tanja',
                 'Uma', 'Viktor', 'Wendy', 'Xavier', 'Yara', 'Zoe'] AS a
), last_names AS (
    SELECT ARRAY['Adams', 'Baker', 'Costa', 'Dubois', 'Evans', 'Fischer', 'Garcia', 'Hansen', 'Ito',
                 'Jensen', 'Kowalski', 'Lopez', 'Meyer', 'Novak', 'Olsen', 'Patel', 'Rossi', 'Schmidt',
                 'Tanaka', 'Urban', 'Vogel', 'Weber', 'Young', 'Zimmer'] AS a
), slots AS (
    SELECT a.account_key AS account, g AS k
      FROM escalation.accounts a,
           generate_series(1, CASE a.tier WHEN 'enterprise' THEN 12 WHEN 'business' THEN 7 ELSE 3 END) g
    UNION ALL
    SELECT NULL, g FROM generate_series(1, 160) g
)
SELECT row_number() OVER (ORDER BY s.account NULLS LAST, s.k) AS person_id,
       f.a[1 + (abs(hashtext(coalesce(s.account, 'x') || s.k)) % 26)] AS first_name,
       l.a[1 + (abs(hashtext(s.k || coalesce(s.account, 'y'))) % 24)] AS last_name,
       s.account
  FROM slots s, first_names f, last_names l;
ALTER TABLE people ADD COLUMN email text;
UPDATE people SET email = lower(first_name || '.' || last_name || person_id % 7) || '@'
                          || coalesce(account || '.example', 'mail.example');

-- what customers write about: weight, subjects, bodies, follow-ups, priority
CREATE TEMP TABLE categories (
    category   text PRIMARY KEY,
    weight     int NOT NULL,
    subjects   text[] NOT NULL,
    bodies     text[] NOT NULL,
    replies    text[] NOT NULL,   -- the agent's first answer
    priorities text[] NOT NULL    -- drawn uniformly
);
-- subjects[i] goes with bodies[i]
INSERT INTO categories VALUES
('how-to', 22,
 '{"Question about {feature}","How do I set up {feature}?","{feature} on mobile?","How do I export reports to CSV?","How can I add a new user?"}',
 '{"Hi, I am trying to figure out how to use {feature}. I looked in the help center but could not find it. Could you point me to the right place? Thanks, {first}",
   "Hello, we are new to Helio and would like to know how {feature} works for a team of our size. Is there a guide somewhere? Best regards, {first}",
   "Quick question: is it possible to use {feature} from the mobile app, or only from the web? Thanks in advance. {first}",
   "Hi, where do I find the CSV export for reports? I only see PDF. {first}",
   "We hired two people this week. How do I add them to our workspace? {first}"}',
 '{"Hi {first}, thanks for reaching out! You can find {feature} under Settings > Workspace. Here is the guide: https://help.helio.example/{feature_slug}. Let me know if anything is unclear.",
   "Hi {first}, good question. {feature} is available on web and mobile; on mobile it is under the menu at the top left. I have attached two screenshots."}',
 '{low,normal,normal}'),
('login', 14,
 '{"Login loop on the web app","Password reset email never arrives","2FA code not accepted"}',
 '{"I cannot log in since this morning. The page just reloads after I enter my password. I use {browser}. {first}",
   "I requested a password reset three times but the email never arrives. I checked the spam folder too. Can you help? {first}",
   "My two-factor code is rejected every time even though the time on my phone is correct. Please help, I need to get in today. {first}"}',
 '{"Hi {first}, sorry for the trouble! I have reset your session and sent a fresh password reset link. Please try again and clear the cache of {browser} if the loop continues.",
   "Hi {first}, the reset emails were blocked by your mail server. I have whitelisted our sender on our side; please ask your IT team to allow mail from helio.example."}',
 '{normal,normal,high}'),
('billing', 10,
 '{"Need a copy of invoice {invoice}","VAT number missing on invoice {invoice}","Change of payment method"}',
 '{"Hello, could you send me a copy of invoice {invoice}? Our accounting needs it for the quarterly close. Thanks, {first}",
   "Hi, our VAT number is missing on invoice {invoice}. Could you reissue it with the VAT number added? Regards, {first}",
   "We would like to switch from card payments to bank transfer from next month on. What do we need to do? {first}"}',
 '{"Hi {first}, I have reissued invoice {invoice} and sent it to your billing contact. Anything else I can help with?",
   "Hi {first}, done: from the next billing cycle on you will pay by bank transfer. The details are on the next invoice."}',
 '{low,normal}'),
('dispute', 5,
 '{"Disputed charge on invoice {invoice}","Charge we do not recognise","We dispute the renewal charge"}',
 '{"We were charged ${amount} on invoice {invoice} for seats we never ordered. We dispute this charge and ask you to correct it. {first}",
   "Our bank shows a charge of ${amount} from Helio that nobody here recognises. We have disputed it with the bank; please explain what it is. {first}",
   "The renewal on invoice {invoice} was ${amount} although we cancelled two seats before the renewal date. We dispute the difference. Regards, {first}"}',
 '{"Hi {first}, thank you for flagging this. I am looking into invoice {invoice} with our billing team and will come back to you within one business day.",
   "Hi {first}, I can see the charge of ${amount}. I have asked billing to review it and will update you as soon as I hear back."}',
 '{normal,high}'),
('bug', 10,
 '{"Export button does nothing","Dashboard shows wrong totals","App freezes when uploading attachments","Search finds nothing in {feature}"}',
 '{"When I click Export on the reports page nothing happens. No error, no file. I tried in {browser} and in the desktop app. {first}",
   "The totals on the dashboard do not match the numbers in the CSV export: the dashboard shows 1,204 while the export has 1,198 rows. {first}",
   "Uploading an attachment larger than 10 MB freezes the app completely and I have to reload. This started after the last update. {first}",
   "Search in {feature} returns no results at all, even for items I can see on the screen. {first}"}',
 '{"Hi {first}, thanks for the detailed report. I could reproduce something similar and passed it to our product team for a closer look.",
   "Hi {first}, thank you. Could you tell me which version of the app you use and send a screenshot? That helps us reproduce it."}',
 '{normal,normal,high}'),
('feature', 8,
 '{"Would love an API for {feature}","Feature request: dark mode","Bulk edit for tasks"}',
 '{"It would be great if {feature} had an API so we could automate our weekly reporting. Is this on the roadmap? {first}",
   "Our team works late and would really love a dark mode. Any plans? Cheers, {first}",
   "Could you add bulk edit for tasks? Changing 200 tasks one by one takes ages. {first}"}',
 '{"Hi {first}, thanks for the suggestion! I have added your vote to the request; our product team reviews these every month.",
   "Hi {first}, great idea. I shared it with the product team and will let you know if it makes it onto the roadmap."}',
 '{low}'),
('security', 3,
 '{"Suspicious activity on our account","Possible unauthorized access","We think we had a data breach","Someone logged in from another country"}',
 '{"We noticed suspicious activity on our admin account last night: several exports we did not start. Please check urgently. {first}",
   "One of our users reports unauthorized access to her account; the password was changed and she cannot log in anymore. {first}",
   "A contractor had a copy of an export with customer data on a lost laptop. We fear a data breach and need to know what was in the export. {first}",
   "Our audit log shows a login from another country at 03:12 for a user who was asleep at the time. Is this something on your side? {first}"}',
 '{"Hi {first}, thank you for reporting this right away. I have locked the affected sessions and informed our security team.",
   "Hi {first}, understood. I have forced a password reset for the account and am checking the audit log with our security colleagues."}',
 '{high,urgent}'),
('cancel', 5,
 '{"Cancel our subscription","How do we cancel?","Cancellation request"}',
 '{"Please cancel our subscription at the end of the current term. We are moving to another tool. {first}",
   "Hi, how do we cancel our plan? We will not need it after this quarter. Thanks, {first}",
   "We have decided to terminate our contract with Helio. Please confirm the cancellation and the last billing date. {first}"}',
 '{"Hi {first}, sorry to see you go. I have noted the cancellation request; your account manager will confirm the dates with you.",
   "Hi {first}, thanks for letting us know. Before I process this, may I ask what made you decide to leave? Perhaps we can help."}',
 '{normal}'),
('complaint', 6,
 '{"Third time asking about this","Unhappy with the last update","Very disappointed with support","Still waiting for an answer"}',
 '{"This is unacceptable. I have asked about this three times and nobody has given me a real answer. {first}",
   "Honestly, we are fed up with the way this is handled. Our team has lost two days because of the last update. {first}",
   "I am extremely disappointed with the service we get for what we pay. I expect an answer today. {first}",
   "It is ridiculous that a simple question takes a week to answer. {first}"}',
 '{"Hi {first}, I am very sorry for the experience. I have read the whole thread and I am taking this over personally; you will have an answer today.",
   "Hi {first}, you are right, this took far too long. I apologise. Here is where things stand and what we will do next."}',
 '{normal,high}'),
('outage', 3,
 '{"Dashboard shows a blank page","Complete outage since 9am","Service unavailable for all users"}',
 '{"The dashboard shows a blank page for all of our users since about 9:00. {first}",
   "We have a complete outage: nobody in our company can use Helio since this morning. {first}",
   "Service unavailable for all our users, both on web and mobile. Please advise ASAP. {first}"}',
 '{"Hi {first}, thank you. We are aware of an issue affecting some customers and our engineers are working on it. Status page: https://status.helio.example",
   "Hi {first}, I have forwarded this to our on-call engineers and will update you every 30 minutes."}',
 '{normal,high,urgent}'),
('api', 6,
 '{"API returns 502","Webhook deliveries failing","Sync error every night","Rate limit questions"}',
 '{"Since yesterday every call to /v2/tasks returns HTTP 502 after about 30 seconds. Our integration is stuck. {first}",
   "Our webhook endpoint receives nothing anymore; your delivery log says status 500 for every attempt. {first}",
   "The nightly sync fails with error 503 from your API. It worked fine until Monday. {first}",
   "What are the rate limits of the API for an enterprise plan? We sometimes get 429 responses. {first}"}',
 '{"Hi {first}, thanks. Could you send us the request IDs of a few failed calls? They are in the X-Request-Id header.",
   "Hi {first}, I have passed this to our API team with the details you sent."}',
 '{normal,high}'),
('other', 8,
 '{"Update our company name","Add a new admin","Thank you!","Training session for new staff"}',
 '{"Please change our company name in the account to the new legal name. {first}",
   "Could you make our new office manager an admin of the workspace? {first}",
   "Just wanted to say thank you to your team for the quick help last week! {first}",
   "Do you offer a training session for new staff joining next month? {first}"}',
 '{"Hi {first}, done! Let me know if there is anything else.",
   "Hi {first}, thanks a lot for the kind words, I have passed them on to the team!"}',
 '{low,normal}');

CREATE TEMP TABLE vocab AS SELECT
    ARRAY['shared dashboards', 'recurring tasks', 'time tracking', 'the reports page', 'custom fields',
          'guest access', 'the calendar view', 'SSO login', 'automations', 'the mobile app'] AS features,
    ARRAY['Chrome', 'Firefox', 'Safari', 'Edge'] AS browsers;

-- follow-ups from customers: most are harmless, a few are angry or ask for a manager
CREATE TEMP TABLE follow_ups (k int PRIMARY KEY, body text, kind text);
INSERT INTO follow_ups VALUES
    (1,  'Any update on this?', 'plain'),
    (2,  'Thanks, that worked!', 'thanks'),
    (3,  'Still not working, I tried again this morning.', 'plain'),
    (4,  'Thank you, all good now.', 'thanks'),
    (5,  'I sent the screenshots you asked for.', 'plain'),
    (6,  'Is there an estimate for when this will be fixed?', 'plain'),
    (7,  'Thanks for the quick answer.', 'thanks'),
    (8,  'Could you call me? It is easier to explain on the phone.', 'plain'),
    (9,  'This is ridiculous, I have now been waiting two days for a real answer.', 'angry'),
    (10, 'Frankly this is unacceptable for a paid plan.', 'angry'),
    (11, 'I would like to speak to a manager about how this was handled.', 'manager'),
    (12, 'If this is not sorted by Friday we will cancel.', 'cancel');

CREATE TEMP TABLE tickets_plan AS
WITH days AS (
    SELECT d::date AS day FROM generate_series('2024-03-04'::date, '2024-03-15', '1 day') d
     WHERE extract(isodow FROM d) < 6
), t AS (
    SELECT row_number() OVER (ORDER BY day, r_time) AS n, *
      FROM (SELECT day, random() AS r_time, random() AS r_cat, random() AS r_person, random() AS r_prio,
                   random() AS r_chan, random() AS r_body, random() AS r_amount
              FROM days, generate_series(1, 200) i
             OFFSET 0) r
), cum AS (
    SELECT category, sum(weight) OVER (ORDER BY category) - weight AS lo,
           sum(weight) OVER (ORDER BY category) AS hi, sum(weight) OVER () AS total
      FROM categories
)
SELECT t.n AS id,
       -- working hours, 07:00-18:00 UTC, busier in the morning
       t.day + time '07:00' + (power(t.r_time, 1.3) * interval '11 hours') AS created_at,
       c.category, p.email AS requester, p.first_name, p.account,
       t.r_body, t.r_amount, t.r_prio, t.r_chan
  FROM t
  JOIN cum c ON t.r_cat * c.total >= c.lo AND t.r_cat * c.total < c.hi
  JOIN people p ON p.person_id = 1 + floor(t.r_person * (SELECT count(*) FROM people))::int;
-- created_at is truncated to the second, as helpdesks store it
UPDATE tickets_plan SET created_at = date_trunc('second', created_at);

CREATE TEMP TABLE tickets_full AS
SELECT tp.id, tp.created_at, tp.category, tp.requester, tp.account, tp.first_name,
       c.priorities[1 + floor(tp.r_prio * cardinality(c.priorities))::int] AS priority,
       (ARRAY['email', 'email', 'web', 'web', 'chat', 'phone'])[1 + floor(tp.r_chan * 6)::int] AS channel,
       c.subjects[1 + floor(tp.r_body * cardinality(c.bodies))::int] AS subject_t,
       c.bodies[1 + floor(tp.r_body * cardinality(c.bodies))::int] AS body_t,
       c.replies[1 + (tp.id % cardinality(c.replies))::int] AS reply_t,
       CASE WHEN tp.category = 'dispute' THEN round((60 + power(tp.r_amount, 1.5) * 2400)::numeric, 2) END
           AS disputed_amount,
       v.features[1 + (tp.id * 7 % cardinality(v.features))::int] AS feature,
       v.browsers[1 + (tp.id % cardinality(v.browsers))::int] AS browser,
       (ARRAY['ana', 'ben', 'chloe'])[1 + (tp.id % 3)::int] AS assignee
  FROM tickets_plan tp JOIN categories c USING (category), vocab v;

-- a template with its blanks filled in
CREATE FUNCTION pg_temp.fill(t text, id bigint, first_name text, feature text, browser text, amount numeric)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT replace(replace(replace(replace(replace(replace(t,
           '{first}', first_name),
           '{feature_slug}', replace(lower(feature), ' ', '-')),
           '{feature}', feature),
           '{browser}', browser),
           '{invoice}', 'INV-' || (24000 + id * 3)),
           '{amount}', coalesce(to_char(amount, 'FM999G990D00'), '0'))
$$;

-- the stream: every write, with the moment it happens
CREATE TEMP TABLE stream (
    at          timestamptz NOT NULL,
    ord         int NOT NULL,        -- 0 ticket, 1 message, 2 ticket update
    ticket_id   bigint NOT NULL,
    what        text NOT NULL,       -- ticket | message | bug_confirmed | status
    author_kind text,
    author      text,
    body        text
);

INSERT INTO stream
SELECT created_at, 0, id, 'ticket', NULL, NULL, NULL FROM tickets_full;

-- bots answer e-mail and web tickets within a minute
INSERT INTO stream
SELECT created_at + interval '1 minute', 1, id, 'message', 'bot', 'helio-bot',
       'Thanks for contacting Helio support! We received your request #' || id
       || ' and will get back to you shortly.'
  FROM tickets_full WHERE channel IN ('email', 'web');

-- the conversation of each ticket, drawn once per ticket
CREATE TEMP TABLE convo AS
SELECT f.*, random() AS r_reply, random() AS r_delay, random() AS r_follow, random() AS r_fdelay,
       random() AS r_fkind, random() AS r_note, random() AS r_reply2, random() AS r_solve, random() AS r_bug
  FROM tickets_full f;
ALTER TABLE convo ADD COLUMN replied_at timestamptz, ADD COLUMN followed_at timestamptz,
                  ADD COLUMN last_at timestamptz;
UPDATE convo SET replied_at = date_trunc('second', created_at + interval '10 minutes'
                                         + power(r_delay, 2) * interval '6 hours')
 WHERE r_reply < 0.9;
UPDATE convo SET followed_at = date_trunc('second', replied_at + interval '1 hour'
                                          + r_fdelay * interval '26 hours')
 WHERE replied_at IS NOT NULL AND r_follow < 0.45;

-- the agent's first answer
INSERT INTO stream
SELECT replied_at, 1, id, 'message', 'agent', assignee,
       pg_temp.fill(reply_t, id, first_name, feature, browser, disputed_amount)
  FROM convo WHERE replied_at IS NOT NULL;

-- internal notes: agents talk among themselves; bugs get confirmed
INSERT INTO stream
SELECT replied_at + interval '20 minutes', 1, id, 'message', 'note', assignee,
       CASE WHEN category = 'bug' AND r_bug < 0.5
                THEN 'Reproduced on staging: confirmed bug, filed as PRD-' || (3000 + id) || '.'
            WHEN category = 'complaint'
                THEN 'Customer is furious about the delays; unacceptable on our side too. Handle with care.'
            WHEN category = 'cancel'
                THEN 'Customer wants to cancel. Checked the account, no open invoices.'
            ELSE 'Checked the logs, nothing unusual for this account.'
       END
  FROM convo
 WHERE replied_at IS NOT NULL AND (r_note < 0.25 OR (category = 'bug' AND r_bug < 0.5));

-- the agent records the confirmation on the ticket, a few minutes later
INSERT INTO stream
SELECT replied_at + interval '25 minutes', 2, id, 'bug_confirmed', NULL, assignee, NULL
  FROM convo WHERE replied_at IS NOT NULL AND category = 'bug' AND r_bug < 0.5;

-- customers' follow-ups
INSERT INTO stream
SELECT followed_at, 1, id, 'message', 'customer', requester, fu.body
  FROM convo
  JOIN follow_ups fu ON fu.k = 1 + floor(power(r_fkind, 1.6) * 12)::int
 WHERE followed_at IS NOT NULL;

-- agents answer the follow-ups
INSERT INTO stream
SELECT followed_at + interval '45 minutes', 1, id, 'message', 'agent', assignee,
       'Hi ' || first_name || ', thanks for the update. I am on it and will get back to you today.'
  FROM convo WHERE followed_at IS NOT NULL AND r_reply2 < 0.8;

-- most tickets are solved after the last answer, some wait for the customer
INSERT INTO stream
SELECT coalesce(followed_at + interval '3 hours', replied_at + interval '2 hours'), 2, id, 'status', NULL,
       assignee, CASE WHEN r_solve < 0.65 THEN 'solved' ELSE 'pending' END
  FROM convo WHERE replied_at IS NOT NULL AND r_solve < 0.8;

-- replay, in time order, one write at a time
\echo
\echo '== Replaying two weeks of helpdesk traffic (4-15 March 2024), one write at a time, with an SLA cycle every 15 minutes of it ...'
DO $replay$
DECLARE
    e record;
    t tickets_full;
    next_cycle timestamptz;
BEGIN
    FOR e IN SELECT * FROM stream ORDER BY at, ord, ticket_id, author_kind LOOP
        -- the SLA worker, in accelerated time: one cycle every 15 minutes
        next_cycle := coalesce(next_cycle, date_trunc('hour', e.at));
        WHILE next_cycle <= e.at LOOP
            PERFORM escalation.run_cycle(next_cycle);
            next_cycle := next_cycle + interval '15 minutes';
            COMMIT;   -- one transaction per cycle, as the worker does
        END LOOP;
        IF e.what = 'ticket' THEN
            SELECT * INTO t FROM tickets_full f WHERE f.id = e.ticket_id;
            INSERT INTO helpdesk.tickets (id, created_at, updated_at, status, priority, channel, subject,
                                          body, requester, account, disputed_amount, assignee, team)
            VALUES (t.id, t.created_at, t.created_at, 'new', t.priority, t.channel,
                    pg_temp.fill(t.subject_t, t.id, t.first_name, t.feature, t.browser, t.disputed_amount),
                    pg_temp.fill(t.body_t, t.id, t.first_name, t.feature, t.browser, t.disputed_amount),
                    t.requester, t.account,
                    t.disputed_amount, t.assignee, 'frontline');
        ELSIF e.what = 'message' THEN
            INSERT INTO helpdesk.messages (ticket_id, created_at, author_kind, author, body)
            VALUES (e.ticket_id, e.at, e.author_kind, e.author, e.body);
            IF e.author_kind = 'agent' THEN
                UPDATE helpdesk.tickets SET status = 'open', updated_at = e.at
                 WHERE id = e.ticket_id AND status = 'new';
            END IF;
        ELSIF e.what = 'bug_confirmed' THEN
            UPDATE helpdesk.tickets SET bug_status = 'confirmed', updated_at = e.at WHERE id = e.ticket_id;
        ELSIF e.what = 'status' THEN
            UPDATE helpdesk.tickets SET status = e.body, updated_at = e.at WHERE id = e.ticket_id;
        END IF;
    END LOOP;
    -- and on, until a week after the last write
    FOR i IN 1 .. 7 * 96 LOOP
        PERFORM escalation.run_cycle(next_cycle);
        next_cycle := next_cycle + interval '15 minutes';
        COMMIT;
    END LOOP;
END
$replay$;
SELECT setval('helpdesk.tickets_id_seq', (SELECT max(id) FROM helpdesk.tickets)) \gset
