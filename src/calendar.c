/*-------------------------------------------------------------------------
 *
 * calendar.c
 *	  Business calendars and business-time arithmetic: the clock SLA targets
 *	  run on.
 *
 * A calendar is a time zone, working periods per weekday (local wall-clock
 * times; a period whose end is at or before its start runs past midnight
 * into the next day) and holidays (a local date, optionally every year from
 * then on).  Business time elapses only inside working periods.
 *
 * What "inside" means, precisely.  Each period is split at midnight, so
 * every stretch of working time belongs to one local date; a holiday
 * removes every stretch of its date (a Monday 22:00-06:00 period before a
 * Tuesday holiday works Monday 22:00-24:00 only).  A wall-clock time w of
 * date D stands for the first instant at which the calendar's clock reads
 * D w or later:
 *
 *	 - in a spring-forward gap (02:30 on a day clocks jump from 02:00 to
 *	   03:00) that is the first instant after the gap, 03:00;
 *	 - in a fall-back overlap (01:00-02:00 happens twice) it is the first
 *	   occurrence, so a period covers the real time that elapses between
 *	   its start and its end: 00:00-04:00 on a fall-back day is five hours,
 *	   on a spring-forward day three.
 *
 * This mapping never decreases, so periods that do not overlap on the wall
 * clock never overlap in real time, and the local dates tile the timeline.
 * Offsets and transitions come from PostgreSQL's own time zone library
 * (pg_tzset, pg_next_dst_boundary), so the answers agree with timestamptz.
 *
 * Cost.  The arithmetic walks local dates, never minutes, and skips whole
 * weeks (whose working time is known) wherever neither a holiday nor a UTC
 * offset change falls inside them: adding 30 business days looks at a
 * dozen dates, measuring ten years at the weeks around its holidays and
 * DST changes (a few dozen microseconds).  business_add() refuses to look
 * further than 20 years ahead, so a calendar that works on no date of its
 * future fails instead of looping.
 *
 * The arithmetic (esc_business_*) is pure: no SPI, no catalog.  Calendars
 * are read through SPI once per backend and cached; the statement trigger
 * escalation.invalidate_cache() on the three calendar tables queues a
 * relcache invalidation that our own callback turns into a rebuild, as in
 * catalog.c.  A replaced cache is freed at the end of the transaction, so a
 * calendar stays valid until then.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/int.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "escalation.h"

#define USECS_PER_WEEK		(7 * USECS_PER_DAY)
#define HORIZON_YEARS		20
#define HORIZON_DAYS		7305	/* 20 years of 365.25 days */
/* pg_time_t counts seconds from 1970-01-01, TimestampTz from 2000-01-01 */
#define UNIX_EPOCH_SHIFT	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)

/* ----------------------------------------------------------------
 * Time zone
 * ----------------------------------------------------------------
 */
static inline int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if ((a % b) != 0 && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/*
 * The UTC offset in effect at t, and the end of the stretch of time from t
 * on during which it stays in effect (PG_INT64_MAX: for ever).
 */
static void
tz_stretch(const EscCalendar *cal, TimestampTz t, int64 *off, TimestampTz *end)
{
	pg_time_t	secs = (pg_time_t) floor_div(t, USECS_PER_SEC) + UNIX_EPOCH_SHIFT;
	long int	before_off,
				after_off;
	int			before_dst,
				after_dst;
	pg_time_t	boundary;
	int			r;

	r = pg_next_dst_boundary(&secs, &before_off, &before_dst, &boundary,
							 &after_off, &after_dst, cal->tz);
	if (r < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("time zone \"%s\" of calendar \"%s\" has no rule for this time",
						cal->time_zone, cal->name)));
	*off = (int64) before_off * USECS_PER_SEC;
	if (r == 0 || boundary - UNIX_EPOCH_SHIFT > PG_INT64_MAX / USECS_PER_SEC)
		*end = PG_INT64_MAX;
	else
		*end = (boundary - UNIX_EPOCH_SHIFT) * USECS_PER_SEC;
}

/* the local date of instant t */
static DateADT
local_date(const EscCalendar *cal, TimestampTz t)
{
	int64		off;
	TimestampTz end;

	tz_stretch(cal, t, &off, &end);
	return (DateADT) floor_div(t + off, USECS_PER_DAY);
}

/*
 * The first instant at which the calendar's clock reads local time L or
 * later (L in microseconds from 2000-01-01 00:00 local), with the offset in
 * effect then and the end of its stretch.
 *
 * On each stretch of constant offset o the clock reads t + o, so the answer
 * on that stretch is max(stretch start, L - o) if that lies inside it; we
 * try the stretches in order, from a day before (offsets are far smaller).
 */
static TimestampTz
wall_to_instant(const EscCalendar *cal, Timestamp L, int64 *off_out, TimestampTz *end_out)
{
	TimestampTz t = L - USECS_PER_DAY;

	for (int i = 0; i < 64; i++)
	{
		int64		off;
		TimestampTz end;
		TimestampTz cand;

		tz_stretch(cal, t, &off, &end);
		cand = Max(t, L - off);
		if (cand < end)
		{
			*off_out = off;
			*end_out = end;
			return cand;
		}
		if (end <= t)
			break;
		t = end;
	}
	elog(ERROR, "could not place local time " INT64_FORMAT " in time zone \"%s\"",
		 L, cal->time_zone);
	return 0;					/* keep compiler quiet */
}

/* ----------------------------------------------------------------
 * Holidays
 * ----------------------------------------------------------------
 */
/* index of the first one-off holiday on or after d (binary search) */
static int
holiday_lower_bound(const EscCalendar *cal, DateADT d)
{
	int			lo = 0,
				hi = cal->nholidays;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (cal->holidays[mid] < d)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool
is_holiday(const EscCalendar *cal, DateADT d)
{
	int			lo = holiday_lower_bound(cal, d);

	if (lo < cal->nholidays && cal->holidays[lo] == d)
		return true;
	if (cal->nrecurring > 0)
	{
		int			y,
					m,
					md;

		j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &md);
		for (int i = 0; i < cal->nrecurring; i++)
			if (cal->recurring[i].month == m && cal->recurring[i].mday == md &&
				d >= cal->recurring[i].first)
				return true;
	}
	return false;
}

/* the first holiday on or after d, DATEVAL_NOEND if there is none */
static DateADT
next_holiday(const EscCalendar *cal, DateADT d)
{
	DateADT		best = DATEVAL_NOEND;
	int			lo = holiday_lower_bound(cal, d);

	if (lo < cal->nholidays)
		best = cal->holidays[lo];

	if (cal->nrecurring > 0)
	{
		int			y,
					m,
					md;

		j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &md);
		for (int i = 0; i < cal->nrecurring; i++)
		{
			const EscCalRecurring *r = &cal->recurring[i];
			int			fy,
						fm,
						fd;
			int			from_year;

			j2date(r->first + POSTGRES_EPOCH_JDATE, &fy, &fm, &fd);
			from_year = Max(y, fy);
			/* February 29 comes back within eight years */
			for (int yy = from_year; yy <= from_year + 8; yy++)
			{
				DateADT		c;

				if (r->mday > day_tab[isleap(yy) ? 1 : 0][r->month - 1])
					continue;
				c = date2j(yy, r->month, r->mday) - POSTGRES_EPOCH_JDATE;
				if (c >= d && c >= r->first)
				{
					best = Min(best, c);
					break;
				}
			}
		}
	}
	return best;
}

/* ----------------------------------------------------------------
 * Local dates and their working stretches
 * ----------------------------------------------------------------
 */

/* a local date, with its first instant */
typedef struct CalDay
{
	DateADT		day;
	TimestampTz start;			/* first instant of the date */
	int64		off;			/* UTC offset at start */
	TimestampTz stretch_end;	/* the offset holds on [start, stretch_end) */
} CalDay;

static void
day_at(const EscCalendar *cal, DateADT d, CalDay *cd)
{
	cd->day = d;
	cd->start = wall_to_instant(cal, (Timestamp) d * USECS_PER_DAY, &cd->off,
								&cd->stretch_end);
}

/* true when the date starts at its midnight (not inside a gap) */
static inline bool
day_starts_at_midnight(const CalDay *cd)
{
	return cd->start + cd->off == (Timestamp) cd->day * USECS_PER_DAY;
}

static void
day_advance(const EscCalendar *cal, CalDay *cd, int ndays)
{
	TimestampTz next = cd->start + (int64) ndays * USECS_PER_DAY;

	/* same offset all the way: the next midnight is 24 hours per day on */
	if (day_starts_at_midnight(cd) && next < cd->stretch_end)
	{
		cd->day += ndays;
		cd->start = next;
		return;
	}
	day_at(cal, cd->day + ndays, cd);
}

/*
 * The working stretches of a local date as instants, in order, non-empty;
 * returns how many (at most cal->maxspans).
 */
static int
day_periods(const EscCalendar *cal, const CalDay *cd, TimestampTz *s, TimestampTz *e)
{
	int			wd = j2day(cd->day + POSTGRES_EPOCH_JDATE);
	Timestamp	midnight = (Timestamp) cd->day * USECS_PER_DAY;
	bool		regular;
	int			n = 0;

	if (cal->nspans[wd] == 0 || is_holiday(cal, cd->day))
		return 0;
	regular = day_starts_at_midnight(cd) && cd->start + USECS_PER_DAY < cd->stretch_end;
	for (int i = 0; i < cal->nspans[wd]; i++)
	{
		const EscCalSpan *sp = &cal->spans[wd][i];
		TimestampTz a,
					b;

		if (regular)
		{
			a = cd->start + sp->start;
			b = cd->start + sp->end;
		}
		else
		{
			int64		off;
			TimestampTz end;

			a = wall_to_instant(cal, midnight + sp->start, &off, &end);
			b = wall_to_instant(cal, midnight + sp->end, &off, &end);
		}
		if (a < b)
		{
			s[n] = a;
			e[n] = b;
			n++;
		}
	}
	return n;
}

/*
 * How many whole weeks from the start of date cd may be skipped, at most
 * limit: those with no holiday and no offset change, whose working time is
 * exactly week_usecs.
 */
static int64
skippable_weeks(const EscCalendar *cal, const CalDay *cd, int64 limit)
{
	DateADT		nh;

	if (limit <= 0 || !day_starts_at_midnight(cd))
		return 0;
	if (cd->stretch_end != PG_INT64_MAX)
		limit = Min(limit, (cd->stretch_end - 1 - cd->start) / USECS_PER_WEEK);
	nh = next_holiday(cal, cd->day);
	if (nh != DATEVAL_NOEND)
		limit = Min(limit, ((int64) nh - cd->day) / 7);
	return Max(limit, 0);
}

static void
require_hours(const EscCalendar *cal)
{
	if (cal->week_usecs <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("calendar \"%s\" has no working hours", cal->name),
				 errdetail("Business time never elapses on a calendar that never works."),
				 errhint("Add working periods to escalation.calendar_hours, or pass NULL as the calendar for 24x7 time.")));
}

static void
check_instant(TimestampTz t)
{
	if (TIMESTAMP_NOT_FINITE(t) || !IS_VALID_TIMESTAMP(t))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
}

/* ----------------------------------------------------------------
 * The arithmetic
 * ----------------------------------------------------------------
 */

/*
 * The earliest instant at which usecs of business time have elapsed since
 * start: business_time(start, result) = usecs.  Adding 0 gives start.
 */
TimestampTz
esc_business_add(const EscCalendar *cal, TimestampTz start, int64 usecs)
{
	CalDay		cd;
	DateADT		first;
	TimestampTz *s,
			   *e;
	int64		r = usecs;

	require_hours(cal);
	check_instant(start);
	if (usecs < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("business time to add cannot be negative")));
	if (usecs == 0)
		return start;

	s = palloc(sizeof(TimestampTz) * cal->maxspans);
	e = palloc(sizeof(TimestampTz) * cal->maxspans);
	day_at(cal, local_date(cal, start), &cd);
	first = cd.day;
	for (;;)
	{
		int			n;

		CHECK_FOR_INTERRUPTS();
		check_instant(cd.start);
		if ((int64) cd.day - first > HORIZON_DAYS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("business time does not run out within %d years on calendar \"%s\"",
							HORIZON_YEARS, cal->name),
					 errdetail("Adding business time looks at most %d years ahead.", HORIZON_YEARS),
					 errhint("Check the calendar's working hours and holidays.")));

		/* whole weeks, leaving at least one microsecond to find */
		if (cd.start >= start && r > cal->week_usecs)
		{
			int64		weeks = skippable_weeks(cal, &cd, (r - 1) / cal->week_usecs);

			/* never past the horizon: its check must still see us */
			weeks = Min(weeks, (HORIZON_DAYS - ((int64) cd.day - first)) / 7 + 1);
			if (weeks > 0)
			{
				r -= weeks * cal->week_usecs;
				cd.day += (DateADT) (weeks * 7);
				cd.start += weeks * USECS_PER_WEEK;
				continue;
			}
		}

		n = day_periods(cal, &cd, s, e);
		for (int i = 0; i < n; i++)
		{
			TimestampTz a = Max(s[i], start);

			if (a >= e[i])
				continue;
			if (e[i] - a >= r)
			{
				TimestampTz result = a + r;

				pfree(s);
				pfree(e);
				check_instant(result);
				return result;
			}
			r -= e[i] - a;
		}
		day_advance(cal, &cd, 1);
	}
}

/*
 * Business time in [from, to); the negative of business time in [to, from)
 * when from > to.
 */
int64
esc_business_between(const EscCalendar *cal, TimestampTz from, TimestampTz to)
{
	CalDay		cd;
	TimestampTz *s,
			   *e;
	int64		total = 0;

	require_hours(cal);
	check_instant(from);
	check_instant(to);
	if (from > to)
		return -esc_business_between(cal, to, from);
	if (from == to)
		return 0;
	/* business time never exceeds elapsed time, so this bounds the total */
	if (pg_sub_s64_overflow(to, from, &total))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("interval out of range")));
	total = 0;

	s = palloc(sizeof(TimestampTz) * cal->maxspans);
	e = palloc(sizeof(TimestampTz) * cal->maxspans);
	day_at(cal, local_date(cal, from), &cd);
	while (cd.start < to)
	{
		int			n;

		CHECK_FOR_INTERRUPTS();
		if (cd.start >= from)
		{
			int64		weeks = skippable_weeks(cal, &cd, (to - cd.start) / USECS_PER_WEEK);

			if (weeks > 0)
			{
				total += weeks * cal->week_usecs;
				cd.day += (DateADT) (weeks * 7);
				cd.start += weeks * USECS_PER_WEEK;
				continue;
			}
		}
		n = day_periods(cal, &cd, s, e);
		for (int i = 0; i < n; i++)
		{
			TimestampTz a = Max(s[i], from);
			TimestampTz b = Min(e[i], to);

			if (a < b)
				total += b - a;
		}
		day_advance(cal, &cd, 1);
	}
	pfree(s);
	pfree(e);
	return total;
}

/*
 * The working periods within [from, to), clipped to it, in order; stretches
 * that touch (a period running past midnight) come out as one.
 */
void
esc_business_periods(const EscCalendar *cal, TimestampTz from, TimestampTz to,
					 EscPeriodEmit emit, void *arg)
{
	CalDay		cd;
	TimestampTz *s,
			   *e;
	TimestampTz ps = 0,
				pe = 0;
	bool		have = false;

	check_instant(from);
	check_instant(to);
	if (from >= to || cal->week_usecs <= 0)
		return;

	s = palloc(sizeof(TimestampTz) * cal->maxspans);
	e = palloc(sizeof(TimestampTz) * cal->maxspans);
	day_at(cal, local_date(cal, from), &cd);
	while (cd.start < to)
	{
		int			n;

		CHECK_FOR_INTERRUPTS();
		n = day_periods(cal, &cd, s, e);
		for (int i = 0; i < n; i++)
		{
			TimestampTz a = Max(s[i], from);
			TimestampTz b = Min(e[i], to);

			if (a >= b)
				continue;
			if (have && a == pe)
				pe = b;
			else
			{
				if (have)
					emit(arg, ps, pe);
				ps = a;
				pe = b;
				have = true;
			}
		}
		day_advance(cal, &cd, 1);
	}
	if (have)
		emit(arg, ps, pe);
	pfree(s);
	pfree(e);
}

/* ----------------------------------------------------------------
 * Building a calendar
 * ----------------------------------------------------------------
 */
static void
add_span(EscCalendar *cal, int wd, int64 start, int64 end, int *alloc)
{
	if (start >= end)
		return;
	if (cal->nspans[wd] >= alloc[wd])
	{
		alloc[wd] = Max(4, alloc[wd] * 2);
		cal->spans[wd] = cal->spans[wd]
			? repalloc(cal->spans[wd], sizeof(EscCalSpan) * alloc[wd])
			: palloc(sizeof(EscCalSpan) * alloc[wd]);
	}
	cal->spans[wd][cal->nspans[wd]].start = start;
	cal->spans[wd][cal->nspans[wd]].end = end;
	cal->nspans[wd]++;
}

/* a period as written in calendar_hours; ends <= starts runs past midnight */
static void
add_period(EscCalendar *cal, int wd, int64 starts, int64 ends, int *alloc)
{
	if (ends > starts)
		add_span(cal, wd, starts, ends, alloc);
	else
	{
		add_span(cal, wd, starts, USECS_PER_DAY, alloc);
		add_span(cal, (wd + 1) % 7, 0, ends, alloc);
	}
}

static int
span_cmp(const void *a, const void *b)
{
	const EscCalSpan *x = (const EscCalSpan *) a;
	const EscCalSpan *y = (const EscCalSpan *) b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : (x->end > y->end ? 1 : 0);
}

/* sort and merge each weekday's stretches, total the week */
static void
finish_calendar(EscCalendar *cal)
{
	cal->week_usecs = 0;
	cal->maxspans = 1;
	for (int wd = 0; wd < 7; wd++)
	{
		int			n = 0;

		if (cal->nspans[wd] == 0)
			continue;
		qsort(cal->spans[wd], cal->nspans[wd], sizeof(EscCalSpan), span_cmp);
		for (int i = 0; i < cal->nspans[wd]; i++)
		{
			EscCalSpan *sp = &cal->spans[wd][i];

			/* touching or (if validation was bypassed) overlapping: join */
			if (n > 0 && sp->start <= cal->spans[wd][n - 1].end)
				cal->spans[wd][n - 1].end = Max(cal->spans[wd][n - 1].end, sp->end);
			else
				cal->spans[wd][n++] = *sp;
		}
		cal->nspans[wd] = n;
		cal->maxspans = Max(cal->maxspans, n);
		for (int i = 0; i < n; i++)
			cal->week_usecs += cal->spans[wd][i].end - cal->spans[wd][i].start;
	}
}

/* ----------------------------------------------------------------
 * The per-backend cache
 * ----------------------------------------------------------------
 */
static MemoryContext cal_cxt = NULL;
static List *cal_list = NIL;
static bool cal_valid = false;
static bool cal_callback_registered = false;
static uint64 cal_inval_count = 0;
static Oid	cal_relids[3];
static SPIPlanPtr cal_plans[3];

static void
cal_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == cal_relids[0] || relid == cal_relids[1] ||
		relid == cal_relids[2])
	{
		cal_valid = false;
		cal_inval_count++;
	}
}

static Oid
extension_owner(void)
{
	Oid			extoid = get_extension_oid("escalation", true);
	Oid			owner = GetUserId();
	HeapTuple	tup;

	if (!OidIsValid(extoid))
		return owner;
	tup = SearchSysCache1(EXTENSIONOID, ObjectIdGetDatum(extoid));
	if (HeapTupleIsValid(tup))
	{
		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
		ReleaseSysCache(tup);
	}
	return owner;
}

static void
run_plan(int which, const char *sql, Oid argtype, Datum arg)
{
	if (cal_plans[which] == NULL)
		cal_plans[which] = esc_prepare_kept_plan(sql, 1, &argtype);
	if (SPI_execute_plan(cal_plans[which], &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read escalation's calendars");
}

/*
 * Read one calendar, into a context of its own under cxt.  As the
 * extension's owner, like the configuration cache: a trigger running for
 * an application role must be able to read it too.
 */
static EscCalendar *
load_calendar(const char *name, MemoryContext cxt)
{
	EscCalendar *cal;
	Oid			save_userid;
	int			save_sec;
	MemoryContext old;
	int			alloc[7] = {0};
	bool		isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(extension_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);

	run_plan(0, "SELECT calendar_id, time_zone FROM escalation.calendars "
			 "WHERE name OPERATOR(pg_catalog.=) $1",
			 TEXTOID, CStringGetTextDatum(name));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("calendar \"%s\" does not exist", name),
				 errhint("Calendars are rows of escalation.calendars; pass NULL for 24x7 time.")));

	old = MemoryContextSwitchTo(cxt);
	cal = palloc0(sizeof(EscCalendar));
	cal->name = pstrdup(name);
	cal->calendar_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1, &isnull));
	cal->time_zone = pstrdup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	MemoryContextSwitchTo(old);

	cal->tz = pg_tzset(cal->time_zone);
	if (cal->tz == NULL || !pg_tz_acceptable(cal->tz))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" of calendar \"%s\" is not a time zone name",
						cal->time_zone, name),
				 errhint("Use a name from pg_timezone_names, such as Europe/Berlin.")));

	run_plan(1, "SELECT weekday, starts, ends FROM escalation.calendar_hours "
			 "WHERE calendar_id OPERATOR(pg_catalog.=) $1",
			 INT4OID, Int32GetDatum(cal->calendar_id));
	old = MemoryContextSwitchTo(cxt);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int			wd = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		int64		starts = DatumGetTimeADT(SPI_getbinval(tup, desc, 2, &isnull));
		int64		ends = DatumGetTimeADT(SPI_getbinval(tup, desc, 3, &isnull));

		/* the table's constraints guarantee these; stay safe without them */
		if (wd < 0 || wd > 6 || starts < 0 || starts >= USECS_PER_DAY ||
			ends < 0 || ends > USECS_PER_DAY || ends == starts)
			continue;
		add_period(cal, wd, starts, ends, alloc);
	}
	finish_calendar(cal);
	MemoryContextSwitchTo(old);

	run_plan(2, "SELECT day, recurring FROM escalation.calendar_holidays "
			 "WHERE calendar_id OPERATOR(pg_catalog.=) $1 "
			 "AND pg_catalog.isfinite(day) ORDER BY day",
			 INT4OID, Int32GetDatum(cal->calendar_id));
	old = MemoryContextSwitchTo(cxt);
	cal->holidays = palloc(sizeof(DateADT) * Max(SPI_processed, 1));
	cal->recurring = palloc(sizeof(EscCalRecurring) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DateADT		day = DatumGetDateADT(SPI_getbinval(tup, desc, 1, &isnull));
		bool		recurring = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));

		if (recurring)
		{
			EscCalRecurring *r = &cal->recurring[cal->nrecurring++];
			int			y;

			j2date(day + POSTGRES_EPOCH_JDATE, &y, &r->month, &r->mday);
			r->first = day;
		}
		else
			cal->holidays[cal->nholidays++] = day;
	}
	MemoryContextSwitchTo(old);

	SetUserIdAndSecContext(save_userid, save_sec);
	SPI_finish();
	return cal;
}

EscCalendar *
esc_calendar_get(const char *name)
{
	ListCell   *lc;
	MemoryContext entry;
	EscCalendar *cal;
	uint64		start_count;

	if (!cal_callback_registered)
	{
		CacheRegisterRelcacheCallback(cal_invalidate, (Datum) 0);
		cal_callback_registered = true;
	}
	if (!cal_valid || cal_cxt == NULL)
	{
		Oid			nsp = get_namespace_oid("escalation", true);

		/* a caller may still hold a calendar of the old cache: free at end of transaction */
		if (cal_cxt != NULL)
			MemoryContextSetParent(cal_cxt, TopTransactionContext);
		cal_cxt = AllocSetContextCreate(TopMemoryContext, "escalation calendars",
										ALLOCSET_SMALL_SIZES);
		cal_list = NIL;
		cal_relids[0] = OidIsValid(nsp) ? get_relname_relid("calendars", nsp) : InvalidOid;
		cal_relids[1] = OidIsValid(nsp) ? get_relname_relid("calendar_hours", nsp) : InvalidOid;
		cal_relids[2] = OidIsValid(nsp) ? get_relname_relid("calendar_holidays", nsp) : InvalidOid;
		cal_valid = true;
	}

	foreach(lc, cal_list)
	{
		cal = (EscCalendar *) lfirst(lc);
		if (strcmp(cal->name, name) == 0)
			return cal;
	}

	/* built under the transaction: an error frees it */
	start_count = cal_inval_count;
	entry = AllocSetContextCreate(TopTransactionContext, "escalation calendar",
								  ALLOCSET_SMALL_SIZES);
	cal = load_calendar(name, entry);
	MemoryContextSetParent(entry, cal_cxt);
	{
		MemoryContext old = MemoryContextSwitchTo(cal_cxt);

		cal_list = lappend(cal_list, cal);
		MemoryContextSwitchTo(old);
	}
	/* an invalidation that arrived while we read makes the cache stale */
	if (cal_inval_count != start_count)
		cal_valid = false;
	return cal;
}

/* ----------------------------------------------------------------
 * SQL-callable functions
 * ----------------------------------------------------------------
 */
PG_FUNCTION_INFO_V1(escalation_business_add);
PG_FUNCTION_INFO_V1(escalation_business_time);
PG_FUNCTION_INFO_V1(escalation_business_periods);
PG_FUNCTION_INFO_V1(escalation_is_zone_name);

/*
 * An interval as business time: a day counts as 24 hours; months have no
 * fixed length and are refused, and so is a negative duration.
 */
static int64
duration_usecs(Interval *iv)
{
	int64		r;

	if (iv->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("business time cannot be given in months or years"),
				 errdetail("The interval was \"%s\".",
						   DatumGetCString(DirectFunctionCall1(interval_out,
															   IntervalPGetDatum(iv)))),
				 errhint("Give days, hours and minutes; a day counts as 24 hours of business time.")));
	if (pg_mul_s64_overflow((int64) iv->day, USECS_PER_DAY, &r) ||
		pg_add_s64_overflow(r, iv->time, &r))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("interval out of range")));
	if (r < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("business time to add cannot be negative"),
				 errdetail("The interval was \"%s\".",
						   DatumGetCString(DirectFunctionCall1(interval_out,
															   IntervalPGetDatum(iv))))));
	return r;
}

static void
refuse_infinite(TimestampTz t)
{
	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("business time to or from an infinite timestamp is not defined")));
}

/*
 * escalation.business_add(calendar text, start timestamptz, duration interval)
 *	  NULL calendar: 24x7, start + duration.
 */
Datum
escalation_business_add(PG_FUNCTION_ARGS)
{
	TimestampTz start;
	int64		usecs;
	TimestampTz result;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	start = PG_GETARG_TIMESTAMPTZ(1);
	usecs = duration_usecs(PG_GETARG_INTERVAL_P(2));
	if (TIMESTAMP_NOT_FINITE(start))
		PG_RETURN_TIMESTAMPTZ(start);

	if (PG_ARGISNULL(0))
	{
		if (pg_add_s64_overflow(start, usecs, &result) || !IS_VALID_TIMESTAMP(result))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range")));
	}
	else
		result = esc_business_add(esc_calendar_get(text_to_cstring(PG_GETARG_TEXT_PP(0))),
								  start, usecs);
	PG_RETURN_TIMESTAMPTZ(result);
}

/*
 * escalation.business_time(calendar text, from timestamptz, to timestamptz)
 *	  An interval of hours, minutes and seconds only (no days), negative
 *	  when from > to.  NULL calendar: 24x7, to - from.
 */
Datum
escalation_business_time(PG_FUNCTION_ARGS)
{
	TimestampTz from,
				to;
	Interval   *result;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	from = PG_GETARG_TIMESTAMPTZ(1);
	to = PG_GETARG_TIMESTAMPTZ(2);
	refuse_infinite(from);
	refuse_infinite(to);

	result = palloc0(sizeof(Interval));
	if (PG_ARGISNULL(0))
	{
		if (pg_sub_s64_overflow(to, from, &result->time))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("interval out of range")));
	}
	else
		result->time = esc_business_between(esc_calendar_get(text_to_cstring(PG_GETARG_TEXT_PP(0))),
											from, to);
	PG_RETURN_INTERVAL_P(result);
}

typedef struct PeriodSink
{
	Tuplestorestate *ts;
	TupleDesc	desc;
} PeriodSink;

static void
period_to_row(void *arg, TimestampTz starts, TimestampTz ends)
{
	PeriodSink *sink = (PeriodSink *) arg;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	values[0] = TimestampTzGetDatum(starts);
	values[1] = TimestampTzGetDatum(ends);
	tuplestore_putvalues(sink->ts, sink->desc, values, nulls);
}

/*
 * escalation.business_periods(calendar text, from timestamptz, to timestamptz)
 *	  RETURNS TABLE (starts timestamptz, ends timestamptz)
 */
Datum
escalation_business_periods(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old;
	PeriodSink	sink;
	TimestampTz from,
				to;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &sink.desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	sink.desc = CreateTupleDescCopy(sink.desc);
	sink.ts = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = sink.ts;
	rsinfo->setDesc = sink.desc;
	MemoryContextSwitchTo(old);

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return (Datum) 0;
	from = PG_GETARG_TIMESTAMPTZ(1);
	to = PG_GETARG_TIMESTAMPTZ(2);
	refuse_infinite(from);
	refuse_infinite(to);

	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (PG_ARGISNULL(0))
	{
		if (from < to)
			period_to_row(&sink, from, to);
	}
	else
		esc_business_periods(esc_calendar_get(text_to_cstring(PG_GETARG_TEXT_PP(0))),
							 from, to, period_to_row, &sink);
	MemoryContextSwitchTo(old);
	return (Datum) 0;
}

/*
 * escalation.is_zone_name(tz text): a zone PostgreSQL can load with its
 * rules (Europe/Berlin, UTC, EST5EDT), unlike an abbreviation (PST, CEST),
 * which is a fixed offset without daylight saving time.
 */
Datum
escalation_is_zone_name(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	pg_tz	   *tz;

	if (strlen(name) == 0 || strlen(name) > TZ_STRLEN_MAX)
		PG_RETURN_BOOL(false);
	tz = pg_tzset(name);
	PG_RETURN_BOOL(tz != NULL && pg_tz_acceptable(tz));
}
