--
-- calendar: business calendars and business-time arithmetic.
--
-- business_add(calendar, start, duration), business_time(calendar, from, to)
-- and business_periods(calendar, from, to) on calendars with lunch breaks,
-- weekends, holidays (one-off, recurring, on weekends), periods running
-- past midnight, days without working time, and the DST changes of
-- Europe/Berlin and America/New_York (gaps and overlaps); then round trips
-- over many random instants, the refusals with their errcodes, cache
-- invalidation and privileges.
--
-- DST dates used:
--   Europe/Berlin     2024-03-31 02:00 CET -> 03:00 CEST, 2024-10-27 03:00 CEST -> 02:00 CET
--   America/New_York  2024-03-10 02:00 EST -> 03:00 EDT, 2024-11-03 02:00 EDT -> 01:00 EST
--
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';

-- calendars are written by name; a helper to add periods by calendar name
CREATE FUNCTION public.cal_hours(cal text, weekdays int[], starts time, ends time)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
    SELECT c.calendar_id, d, starts, ends
      FROM escalation.calendars c, unnest(weekdays) AS d
     WHERE c.name = cal
$$;
CREATE FUNCTION public.cal_holiday(cal text, day date, recurring boolean DEFAULT false, name text DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO escalation.calendar_holidays (calendar_id, day, recurring, name)
    SELECT c.calendar_id, day, recurring, name FROM escalation.calendars c WHERE c.name = cal
$$;
-- periods of a calendar as local text, to read them easily
CREATE FUNCTION public.cal_periods(cal text, a timestamptz, b timestamptz)
RETURNS TABLE (starts text, ends text, hours interval) LANGUAGE sql STABLE AS $$
    SELECT to_char(p.starts, 'Dy YYYY-MM-DD HH24:MI TZ'), to_char(p.ends, 'Dy YYYY-MM-DD HH24:MI TZ'),
           p.ends - p.starts
      FROM escalation.business_periods(cal, a, b) p ORDER BY p.starts
$$;

--------------------------------------------------------------------------
-- An office: Monday to Friday 09:00-17:00 with lunch 12:00-13:00, Berlin
--------------------------------------------------------------------------
INSERT INTO escalation.calendars (name, time_zone, description)
VALUES ('office', 'Europe/Berlin', 'weekdays 9-17, lunch 12-13');
SELECT cal_hours('office', '{1,2,3,4,5}', '09:00', '12:00');
SELECT cal_hours('office', '{1,2,3,4,5}', '13:00', '17:00');
SET TimeZone = 'Europe/Berlin';

-- within a day, across lunch, across the weekend (2024-03-08 is a Friday)
SELECT d AS duration, escalation.business_add('office', '2024-03-08 10:00', d) AS due
  FROM unnest('{0, 1 hour, 2 hours, 2 hours 0.000001 seconds, 3 hours, 6 hours, 7 hours, 8 hours, 35 hours, 36 hours}'::interval[]) d;
-- starting outside working time: lunch, evening, weekend
SELECT s AS start, escalation.business_add('office', s, '30 minutes') AS due
  FROM unnest('{2024-03-08 12:30, 2024-03-08 17:00, 2024-03-08 23:00, 2024-03-09 11:00, 2024-03-11 08:59:59}'::timestamptz[]) s;
-- the earliest instant: exactly at a period's end, not the next period's start
SELECT escalation.business_add('office', '2024-03-11 09:00', '3 hours') AS at_lunch,
       escalation.business_add('office', '2024-03-11 09:00', '7 hours') AS at_five;
-- a day counts as 24 hours of business time: '1 day' is 24/7 = 3 working days and 3 hours
SELECT escalation.business_add('office', '2024-03-11 09:00', '1 day') AS one_day,
       escalation.business_add('office', '2024-03-11 09:00', '24 hours') AS twenty_four_hours;
-- measuring
SELECT escalation.business_time('office', '2024-03-08 10:00', '2024-03-11 10:00') AS fri_to_mon,
       escalation.business_time('office', '2024-03-09 00:00', '2024-03-11 00:00') AS weekend,
       escalation.business_time('office', '2024-03-11 12:15', '2024-03-11 12:45') AS lunch,
       escalation.business_time('office', '2024-03-04 00:00', '2024-03-11 00:00') AS a_week,
       escalation.business_time('office', '2024-03-11 10:00', '2024-03-08 10:00') AS backwards;
SELECT * FROM cal_periods('office', '2024-03-08 10:30', '2024-03-11 12:30');
-- 30 business days (of 24 hours: 720 hours, about 20 weeks) and back
SELECT escalation.business_add('office', '2024-01-08 09:00', '30 days') AS due,
       escalation.business_time('office', '2024-01-08 09:00',
                                escalation.business_add('office', '2024-01-08 09:00', '30 days')) AS measured;

--------------------------------------------------------------------------
-- Holidays: a weekday, a weekend day, recurring from their year on
--------------------------------------------------------------------------
-- Wednesday 2024-05-01 (recurring from 2024), Saturday 2024-05-04,
-- Christmas recurring from 2020, February 29 recurring from 2024
SELECT cal_holiday('office', '2024-05-01', true, 'Labour Day');
SELECT cal_holiday('office', '2024-05-04', false, 'a Saturday');
SELECT cal_holiday('office', '2020-12-25', true, 'Christmas');
SELECT cal_holiday('office', '2024-02-29', true, 'leap day');
-- Tuesday 17:00 + 1 hour: Wednesday is a holiday, so Thursday 10:00
SELECT escalation.business_add('office', '2024-04-30 16:00', '2 hours') AS over_labour_day;
-- the week of May 1st: 4 days instead of 5; the Saturday holiday changes nothing
SELECT escalation.business_time('office', '2024-04-29', '2024-05-06') AS week_with_holidays;
-- recurring: from its first year on, every year after; not before
SELECT y, escalation.business_time('office', make_date(y, 5, 1)::timestamptz, make_date(y, 5, 2)::timestamptz) AS may_1st
  FROM generate_series(2023, 2026) y
 WHERE extract(dow FROM make_date(y, 5, 1)) BETWEEN 1 AND 5;
SELECT y, escalation.business_time('office', make_date(y, 12, 25)::timestamptz, make_date(y, 12, 26)::timestamptz) AS christmas
  FROM generate_series(2019, 2027) y
 WHERE extract(dow FROM make_date(y, 12, 25)) BETWEEN 1 AND 5;
-- February 29 recurs only in leap years (2028-02-29 is a Tuesday, 2029-03-01 a Thursday)
SELECT escalation.business_time('office', '2028-02-29', '2028-03-01') AS leap_day_2028,
       escalation.business_time('office', '2029-02-28', '2029-03-02') AS feb28_mar1_2029;

--------------------------------------------------------------------------
-- Periods running past midnight: a night desk in New York
--------------------------------------------------------------------------
INSERT INTO escalation.calendars (name, time_zone) VALUES ('night', 'America/New_York');
SELECT cal_hours('night', '{1,2,3,4}', '22:00', '06:00');   -- Mon-Thu nights
SELECT cal_hours('night', '{5}', '22:00', '24:00');          -- Friday until midnight
SELECT cal_hours('night', '{6}', '20:00', '02:00');          -- Saturday into Sunday
SET TimeZone = 'America/New_York';
-- 2024-04-15 is a Monday
SELECT * FROM cal_periods('night', '2024-04-15', '2024-04-22');
SELECT escalation.business_time('night', '2024-04-15', '2024-04-22') AS week;
SELECT escalation.business_add('night', '2024-04-15 23:00', '7 hours') AS into_tuesday_night,
       escalation.business_add('night', '2024-04-19 23:30', '1 hour') AS friday_to_saturday;
-- a holiday cuts the periods at its midnights: Tuesday 2024-04-16 off
SELECT cal_holiday('night', '2024-04-16');
SELECT * FROM cal_periods('night', '2024-04-15', '2024-04-18');
-- a holiday on a Sunday cuts the Saturday night at midnight
SELECT cal_holiday('night', '2024-04-21');
SELECT * FROM cal_periods('night', '2024-04-20', '2024-04-22');

--------------------------------------------------------------------------
-- DST: Europe/Berlin
--------------------------------------------------------------------------
-- Sunday periods spanning the change, starting in the gap, wholly in the gap
INSERT INTO escalation.calendars (name, time_zone) VALUES
    ('berlin 00-04', 'Europe/Berlin'), ('berlin 02:30-05', 'Europe/Berlin'),
    ('berlin 02:15-02:45', 'Europe/Berlin'), ('berlin 01-02:30', 'Europe/Berlin'),
    ('berlin sat 22-06', 'Europe/Berlin');
SELECT cal_hours('berlin 00-04', '{0}', '00:00', '04:00');
SELECT cal_hours('berlin 01-02:30', '{0}', '01:00', '02:30');
SELECT cal_hours('berlin 02:30-05', '{0}', '02:30', '05:00');
SELECT cal_hours('berlin 02:15-02:45', '{0}', '02:15', '02:45');
SELECT cal_hours('berlin sat 22-06', '{6}', '22:00', '06:00');
SET TimeZone = 'Europe/Berlin';
-- spring forward (00:00-04:00 is 3 hours; a start or an end in the gap
-- means 03:00; a period wholly inside the gap is empty that day), a normal
-- Sunday, fall back (the repeated hour counts: 00:00-04:00 is 5 hours; a
-- time in the repeated hour means its first occurrence)
SELECT c.name, d::date AS sunday, escalation.business_time(c.name, d, d + interval '1 day') AS worked
  FROM escalation.calendars c,
       unnest('{2024-03-31, 2024-04-07, 2024-10-27}'::timestamptz[]) d
 WHERE c.name LIKE 'berlin 0%'
 ORDER BY c.name, d;
SELECT * FROM cal_periods('berlin 00-04', '2024-03-31', '2024-04-01');
SELECT * FROM cal_periods('berlin 02:30-05', '2024-03-31', '2024-04-01');
SELECT * FROM cal_periods('berlin 01-02:30', '2024-03-31', '2024-04-01');
SELECT * FROM cal_periods('berlin 02:15-02:45', '2024-03-24', '2024-04-08');
SELECT * FROM cal_periods('berlin 00-04', '2024-10-27', '2024-10-28');
SELECT * FROM cal_periods('berlin 02:30-05', '2024-10-27', '2024-10-28');
SELECT * FROM cal_periods('berlin 01-02:30', '2024-10-27', '2024-10-28');
-- beyond the zone's table of transitions (2037), its rules go on
SELECT d::date AS sunday, escalation.business_time('berlin 00-04', d, d + interval '1 day') AS worked
  FROM unnest('{2050-03-27, 2050-10-30, 2099-03-29, 2099-10-25}'::timestamptz[]) d;
-- the same periods in UTC: real elapsed time
SET TimeZone = 'UTC';
SELECT * FROM escalation.business_periods('berlin 00-04', '2024-10-26', '2024-10-28');
SELECT * FROM escalation.business_periods('berlin 02:15-02:45', '2024-10-26', '2024-10-28');
SET TimeZone = 'Europe/Berlin';
-- Saturday 22:00 to Sunday 06:00 across each change: 7 and 9 hours
SELECT escalation.business_time('berlin sat 22-06', '2024-03-30', '2024-04-01') AS spring,
       escalation.business_time('berlin sat 22-06', '2024-10-26', '2024-10-28') AS autumn;
-- adding across the changes
SELECT escalation.business_add('berlin 00-04', '2024-03-31 00:00', '2 hours') AS spring_2h,
       escalation.business_add('berlin 00-04', '2024-03-31 00:00', '3 hours') AS spring_3h,
       escalation.business_add('berlin 00-04', '2024-03-31 00:00', '3 hours 1 minute') AS spring_next_week,
       escalation.business_add('berlin 00-04', '2024-10-27 00:00', '3 hours') AS autumn_3h,
       escalation.business_add('berlin 00-04', '2024-10-27 00:00', '5 hours') AS autumn_5h;
-- the office over the spring change: the week is still 35 hours
SELECT escalation.business_time('office', '2024-03-25', '2024-04-01') AS week_of_spring_change,
       escalation.business_add('office', '2024-03-29 16:00', '2 hours') AS fri_to_mon;

--------------------------------------------------------------------------
-- DST: America/New_York
--------------------------------------------------------------------------
INSERT INTO escalation.calendars (name, time_zone) VALUES
    ('ny 00-04', 'America/New_York'), ('ny 02:30-04', 'America/New_York'),
    ('ny 01:30-03', 'America/New_York');
SELECT cal_hours('ny 00-04', '{0}', '00:00', '04:00');
SELECT cal_hours('ny 02:30-04', '{0}', '02:30', '04:00');
SELECT cal_hours('ny 01:30-03', '{0}', '01:30', '03:00');
SET TimeZone = 'America/New_York';
SELECT c.name, d::date AS sunday, escalation.business_time(c.name, d, d + interval '1 day') AS worked
  FROM escalation.calendars c,
       unnest('{2024-03-10, 2024-03-17, 2024-11-03}'::timestamptz[]) d
 WHERE c.name LIKE 'ny %'
 ORDER BY c.name, d;
SELECT * FROM cal_periods('ny 02:30-04', '2024-03-10', '2024-03-11');
SELECT * FROM cal_periods('ny 01:30-03', '2024-11-03', '2024-11-04');
-- the night desk over both changes (Saturday 20:00 - Sunday 02:00)
SELECT * FROM cal_periods('night', '2024-03-09', '2024-03-11');
SELECT * FROM cal_periods('night', '2024-11-02', '2024-11-04');

--------------------------------------------------------------------------
-- Unusual zones: on a calendar that works around the clock, business time
-- is real time (Lord Howe moves its clocks by 30 minutes; Samoa skipped
-- 2011-12-30 when it crossed the date line)
--------------------------------------------------------------------------
INSERT INTO escalation.calendars (name, time_zone) VALUES
    ('lord howe 24x7', 'Australia/Lord_Howe'), ('samoa 24x7', 'Pacific/Apia');
SELECT cal_hours(c, '{0,1,2,3,4,5,6}', '00:00', '24:00') FROM unnest('{lord howe 24x7, samoa 24x7}'::text[]) c;
SET TimeZone = 'UTC';
SELECT escalation.business_time('lord howe 24x7', '2024-01-01', '2025-01-01') AS lord_howe_2024,
       escalation.business_time('samoa 24x7', '2011-12-25', '2012-01-05') AS samoa,
       escalation.business_add('samoa 24x7', '2011-12-29 12:00', '24 hours') AS samoa_add;
SET TimeZone = 'Pacific/Apia';
SELECT * FROM cal_periods('samoa 24x7', '2011-12-29', '2012-01-01');

--------------------------------------------------------------------------
-- Days without working time
--------------------------------------------------------------------------
-- a Sunday-only calendar: a whole week passes between two Sundays
SET TimeZone = 'Europe/Berlin';
SELECT escalation.business_add('berlin 00-04', '2024-04-07 03:00', '2 hours') AS next_sunday;
-- a day whose only period falls in the spring gap has no working time: the
-- 30 minutes due on 2024-03-24 02:45 run out a week after the gap, not in it
SELECT escalation.business_add('berlin 02:15-02:45', '2024-03-24 02:45', '30 minutes') AS skips_the_gap_day;
-- a measurement ending inside a day without working time
SELECT escalation.business_time('office', '2024-03-09 10:00', '2024-03-10 10:00') AS saturday;

--------------------------------------------------------------------------
-- 24x7: no calendar
--------------------------------------------------------------------------
SET TimeZone = 'Europe/Berlin';
SELECT escalation.business_add(NULL, '2024-03-30 12:00', '1 day') AS add_a_day_over_dst,
       escalation.business_time(NULL, '2024-03-30 12:00', '2024-03-31 12:00') AS real_hours,
       escalation.business_time(NULL, '2024-03-31 12:00', '2024-03-30 12:00') AS backwards;
SELECT * FROM escalation.business_periods(NULL, '2024-03-30 12:00', '2024-03-31 12:00');
SELECT count(*) AS none FROM escalation.business_periods(NULL, '2024-03-31 12:00', '2024-03-30 12:00');
-- NULL instants and durations give NULL (no rows for business_periods)
SELECT escalation.business_add('office', NULL, '1 hour') IS NULL AS add_null_start,
       escalation.business_add('office', '2024-03-01', NULL) IS NULL AS add_null_duration,
       escalation.business_time('office', NULL, '2024-03-01') IS NULL AS time_null_from,
       (SELECT count(*) FROM escalation.business_periods('office', '2024-03-01', NULL)) AS periods_null_to;
-- infinity stays infinity
SELECT escalation.business_add('office', 'infinity', '1 hour') AS inf,
       escalation.business_add(NULL, '-infinity', '1 hour') AS minus_inf;

--------------------------------------------------------------------------
-- Round trips and cross-checks over many random instants
--------------------------------------------------------------------------
SET TimeZone = 'UTC';
SELECT setseed(0.42);
CREATE TEMP TABLE trips AS
SELECT c AS cal,
       timestamptz '2023-12-01 00:00+00' + random() * interval '420 days' AS start,
       make_interval(secs => floor(random() * 200 * 3600)) AS d,
       make_interval(secs => floor(random() * 50 * 3600)) AS d2
  FROM unnest('{office, night, berlin 00-04, berlin 02:30-05, berlin 01-02:30, berlin sat 22-06,
                ny 01:30-03, ny 02:30-04}'::text[]) c,
       generate_series(1, 400);
-- instants that fall in DST gaps and overlaps, exactly at period edges
INSERT INTO trips
SELECT c, s, make_interval(secs => floor(random() * 20 * 3600)), make_interval(secs => floor(random() * 20 * 3600))
  FROM unnest('{office, night, berlin 00-04, berlin 02:30-05, berlin 01-02:30, berlin sat 22-06,
                ny 01:30-03, ny 02:30-04}'::text[]) c,
       unnest('{2024-03-30 21:00+00, 2024-03-31 00:00+00, 2024-03-31 00:30+00, 2024-03-31 01:00+00,
                2024-10-26 22:00+00, 2024-10-27 00:00+00, 2024-10-27 00:30+00, 2024-10-27 01:00+00,
                2024-10-27 01:30+00, 2024-03-10 07:00+00, 2024-11-03 05:30+00, 2024-11-03 06:00+00,
                2024-11-03 06:30+00, 2024-03-08 16:00+00, 2024-04-30 15:00+00}'::timestamptz[]) s;
SELECT count(*) AS trips FROM trips;
ANALYZE trips;
-- add then measure gives the duration back
SELECT count(*) FILTER (WHERE escalation.business_time(cal, start, escalation.business_add(cal, start, d)) <> d)
           AS add_then_measure_mismatches
  FROM trips;
-- adding in two steps is adding at once
SELECT count(*) FILTER (WHERE escalation.business_add(cal, escalation.business_add(cal, start, d), d2)
                              <> escalation.business_add(cal, start, d + d2)) AS two_steps_mismatches
  FROM trips WHERE d2 > '0';
-- the earliest instant: just before it, a microsecond is still missing
SELECT count(*) FILTER (WHERE escalation.business_time(cal, start,
                                  escalation.business_add(cal, start, d) - interval '1 microsecond')
                              <> d - interval '1 microsecond') AS not_earliest
  FROM trips WHERE d > '0';
-- measuring is additive, and equals the sum of the listed periods
SELECT count(*) FILTER (WHERE escalation.business_time(cal, start, start + d * 3)
                              <> escalation.business_time(cal, start, start + d)
                                 + escalation.business_time(cal, start + d, start + d * 3)) AS additivity_mismatches,
       count(*) FILTER (WHERE escalation.business_time(cal, start, start + d * 3)
                              <> (SELECT coalesce(sum(p.ends - p.starts), '0')
                                    FROM escalation.business_periods(cal, start, start + d * 3) p)) AS periods_mismatches
  FROM trips;
-- measure then add: back to the instant, or to the end of the last working
-- period before it (when it is not working time)
SELECT count(*) FILTER (WHERE escalation.business_add(cal, start, escalation.business_time(cal, start, start + d))
                              <> coalesce((SELECT max(p.ends) FROM escalation.business_periods(cal, start, start + d) p),
                                          start)) AS measure_then_add_mismatches
  FROM trips;
-- skipping whole weeks gives what walking day by day gives: one long
-- measurement against the sum of its days (a day never skips)
SELECT c AS cal,
       escalation.business_time(c, '2023-01-01 05:00+00', '2027-01-01 05:00+00') AS four_years,
       (SELECT sum(escalation.business_time(c, t, t + interval '1 day'))
          FROM generate_series(timestamptz '2023-01-01 05:00+00', '2026-12-31 05:00+00', '1 day') t) AS day_by_day
  FROM unnest('{office, night, berlin 00-04, berlin sat 22-06, ny 01:30-03}'::text[]) c;

--------------------------------------------------------------------------
-- Refusals, each with its errcode
--------------------------------------------------------------------------
-- periods
SELECT regress_error($$SELECT cal_hours('office', '{1}', '16:00', '18:00')$$);
SELECT regress_error($$SELECT cal_hours('office', '{1}', '08:00', '09:30')$$);
SELECT regress_error($$SELECT cal_hours('office', '{0}', '22:00', '09:30')$$);   -- Sunday night into Monday morning
SELECT regress_error($$SELECT cal_hours('night', '{5}', '21:00', '22:30')$$);
SELECT regress_error($$SELECT cal_hours('night', '{0}', '01:00', '03:00')$$);   -- Saturday's night runs into Sunday 02:00
SELECT regress_error($$SELECT cal_hours('night', '{0}', '20:00', '20:00')$$);
SELECT regress_error($$SELECT cal_hours('night', '{0}', '00:00', '00:00')$$);
SELECT regress_error($$SELECT cal_hours('night', '{0}', '24:00', '02:00')$$);
SELECT regress_error($$SELECT cal_hours('night', '{7}', '10:00', '11:00')$$);
SELECT regress_error($$SELECT cal_hours('office', '{1}', '09:00', '10:00')$$);   -- same start: the key
SELECT regress_error($$INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends) VALUES (999, 1, '09:00', '10:00')$$);
-- several rows of one statement that overlap each other
SELECT regress_error($$INSERT INTO escalation.calendar_hours (calendar_id, weekday, starts, ends)
                       SELECT calendar_id, 3, v.s, v.e FROM escalation.calendars,
                              (VALUES ('10:00'::time, '12:00'::time), ('11:00', '13:00')) v(s, e)
                        WHERE name = 'ny 00-04'$$);
-- an update that creates an overlap, and one moving every period at once (checked at the end of the statement)
SELECT regress_error($$UPDATE escalation.calendar_hours SET ends = '13:30'
                        WHERE calendar_id = (SELECT calendar_id FROM escalation.calendars WHERE name = 'office')
                          AND weekday = 2 AND starts = '09:00'$$);
BEGIN;
UPDATE escalation.calendar_hours SET starts = starts + interval '1 hour', ends = ends + interval '1 hour'
 WHERE calendar_id = (SELECT calendar_id FROM escalation.calendars WHERE name = 'office');
SELECT weekday, starts, ends FROM escalation.calendar_hours
 WHERE calendar_id = (SELECT calendar_id FROM escalation.calendars WHERE name = 'office') AND weekday = 1
 ORDER BY starts;
ROLLBACK;
-- deferred: a calendar's shifts rearranged inside a transaction, checked at commit
INSERT INTO escalation.calendars (name, time_zone) VALUES ('shifts', 'UTC');
SELECT cal_hours('shifts', '{1}', '06:00', '14:00');
SELECT cal_hours('shifts', '{1}', '14:00', '22:00');
BEGIN;
SET CONSTRAINTS escalation.calendar_hours_no_overlap DEFERRED;
UPDATE escalation.calendar_hours SET ends = '15:00'
 WHERE calendar_id = (SELECT calendar_id FROM escalation.calendars WHERE name = 'shifts') AND starts = '06:00';
UPDATE escalation.calendar_hours SET starts = '15:00'
 WHERE calendar_id = (SELECT calendar_id FROM escalation.calendars WHERE name = 'shifts') AND starts = '14:00';
COMMIT;
SELECT weekday, starts, ends FROM escalation.calendar_hours
 WHERE calendar_id = (SELECT calendar_id FROM escalation.calendars WHERE name = 'shifts')
 ORDER BY starts;
BEGIN;
SET CONSTRAINTS escalation.calendar_hours_no_overlap DEFERRED;
UPDATE escalation.calendar_hours SET ends = '16:00'
 WHERE calendar_id = (SELECT calendar_id FROM escalation.calendars WHERE name = 'shifts') AND starts = '06:00';
SELECT regress_error('SET CONSTRAINTS escalation.calendar_hours_no_overlap IMMEDIATE');
ROLLBACK;
-- calendars and holidays
SELECT regress_error($$INSERT INTO escalation.calendars (name, time_zone) VALUES ('x', 'Nowhere/Land')$$);
SELECT regress_error($$INSERT INTO escalation.calendars (name, time_zone) VALUES ('x', 'PST')$$);
SELECT regress_error($$INSERT INTO escalation.calendars (name, time_zone) VALUES (' ', 'UTC')$$);
SELECT regress_error($$INSERT INTO escalation.calendars (name, time_zone) VALUES ('office', 'UTC')$$);
SELECT regress_error($$SELECT cal_holiday('office', 'infinity')$$);
SELECT regress_error($$SELECT cal_holiday('office', '2024-05-01')$$);
-- the arithmetic
INSERT INTO escalation.calendars (name, time_zone) VALUES ('never', 'UTC');
SELECT regress_error($$SELECT escalation.business_add('never', '2024-03-01', '1 hour')$$);
SELECT regress_error($$SELECT escalation.business_time('never', '2024-03-01', '2024-03-02')$$);
SELECT count(*) AS never_periods FROM escalation.business_periods('never', '2024-03-01', '2024-03-08');
SELECT regress_error($$SELECT escalation.business_add('nowhere', '2024-03-01', '1 hour')$$);
SELECT regress_error($$SELECT escalation.business_time('nowhere', '2024-03-01', '2024-03-02')$$);
SELECT regress_error($$SELECT * FROM escalation.business_periods('nowhere', '2024-03-01', '2024-03-02')$$);
SELECT regress_error($$SELECT escalation.business_add('office', '2024-03-01', '-1 hour')$$);
SELECT regress_error($$SELECT escalation.business_add('office', '2024-03-01', '1 day -25 hours')$$);
SELECT regress_error($$SELECT escalation.business_add('office', '2024-03-01', '1 month')$$);
SELECT regress_error($$SELECT escalation.business_add(NULL, '2024-03-01', '1 year')$$);
SELECT regress_error($$SELECT escalation.business_time('office', '2024-03-01', 'infinity')$$);
SELECT regress_error($$SELECT * FROM escalation.business_periods('office', '-infinity', '2024-03-01')$$);
SELECT regress_error($$SELECT escalation.business_add(NULL, '294276-12-31 00:00+00', '2 days')$$);
SELECT regress_error($$SELECT escalation.business_add('office', '294276-12-20 00:00+00', '10 days')$$);
-- a calendar that works only on Mondays, every one of which is a holiday for 25 years
INSERT INTO escalation.calendars (name, time_zone) VALUES ('mondays off', 'UTC');
SELECT cal_hours('mondays off', '{1}', '09:00', '17:00');
INSERT INTO escalation.calendar_holidays (calendar_id, day)
SELECT c.calendar_id, d::date FROM escalation.calendars c,
       generate_series(timestamp '2024-01-01', '2049-01-01', '7 days') d
 WHERE c.name = 'mondays off';
SELECT regress_error($$SELECT escalation.business_add('mondays off', '2024-01-01', '1 hour')$$);
-- measuring needs no horizon
SELECT escalation.business_time('mondays off', '2024-01-01', '2050-01-01') AS after_25_years;

--------------------------------------------------------------------------
-- Cache: a change reaches the next statement; a rollback changes nothing
--------------------------------------------------------------------------
SET TimeZone = 'Europe/Berlin';
SELECT escalation.business_time('office', '2024-06-03', '2024-06-10') AS before;
SELECT cal_holiday('office', '2024-06-05');
SELECT escalation.business_time('office', '2024-06-03', '2024-06-10') AS with_holiday;
BEGIN;
DELETE FROM escalation.calendar_holidays WHERE day = '2024-06-05';
UPDATE escalation.calendars SET time_zone = 'Asia/Tokyo' WHERE name = 'office';
SELECT escalation.business_time('office', '2024-06-03', '2024-06-10') AS in_transaction,
       escalation.business_add('office', '2024-06-03 00:00', '1 hour') AS tokyo_ten_am;
ROLLBACK;
SELECT escalation.business_time('office', '2024-06-03', '2024-06-10') AS after_rollback,
       escalation.business_add('office', '2024-06-03 00:00', '1 hour') AS berlin_ten_am;
-- a deleted calendar takes its periods and holidays with it
DELETE FROM escalation.calendars WHERE name = 'never';
SELECT regress_error($$SELECT escalation.business_time('never', '2024-03-01', '2024-03-02')$$);

--------------------------------------------------------------------------
-- Privileges
--------------------------------------------------------------------------
CREATE ROLE regress_cal_plain;
CREATE ROLE regress_cal_admin IN ROLE escalation_admin;
CREATE ROLE regress_cal_agent IN ROLE escalation_agent;
CREATE ROLE regress_cal_analyst IN ROLE escalation_analyst;
GRANT USAGE ON SCHEMA escalation TO regress_cal_plain;
SET ROLE regress_cal_plain;
SELECT regress_error($$SELECT escalation.business_time('office', '2024-03-01', '2024-03-02')$$);
SELECT regress_error($$SELECT count(*) FROM escalation.calendars$$);
RESET ROLE;
SET ROLE regress_cal_analyst;
SELECT escalation.business_time('office', '2024-03-04', '2024-03-05') AS analyst_measures;
SELECT count(*) > 0 AS analyst_reads FROM escalation.calendar_hours;
SELECT regress_error($$INSERT INTO escalation.calendars (name, time_zone) VALUES ('x', 'UTC')$$);
RESET ROLE;
SET ROLE regress_cal_agent;
SELECT escalation.business_add('office', '2024-03-04 16:30', '1 hour') AS agent_adds;
SELECT regress_error($$DELETE FROM escalation.calendar_holidays$$);
RESET ROLE;
SET ROLE regress_cal_admin;
INSERT INTO escalation.calendars (name, time_zone) VALUES ('admin calendar', 'Asia/Kolkata');
SELECT cal_hours('admin calendar', '{1,2,3,4,5}', '10:00', '18:30');
SELECT cal_holiday('admin calendar', '2024-01-26', true, 'Republic Day');
SELECT escalation.business_time('admin calendar', '2024-01-22 00:00+05:30', '2024-01-29 00:00+05:30') AS admin_week;
DELETE FROM escalation.calendars WHERE name = 'admin calendar';
RESET ROLE;
DROP OWNED BY regress_cal_plain, regress_cal_admin, regress_cal_agent, regress_cal_analyst;
DROP ROLE regress_cal_plain, regress_cal_admin, regress_cal_agent, regress_cal_analyst;
