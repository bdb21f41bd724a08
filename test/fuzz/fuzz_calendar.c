/*-------------------------------------------------------------------------
 *
 * fuzz_calendar.c
 *	  libFuzzer harness for calendar.c: building a business calendar from
 *	  its working periods and holidays, and the business-time arithmetic
 *	  (esc_business_add, esc_business_between, esc_business_periods) in a
 *	  time zone whose transitions come from the input.
 *
 * calendar.c is #included, for its static add_period() and
 * finish_calendar(); its SPI and catalog code is never reached (the names
 * it refers to are traps, shim/traps.c).  The time zone is a table of up
 * to 8 transitions (offsets of up to +-15:59:59, at least an hour apart),
 * answering pg_next_dst_boundary() as pgtz does, so that gaps, overlaps,
 * transitions that change nothing and odd offsets all occur.
 *
 * Checked, besides no crash and no undefined behaviour:
 *	- business_between over up to 70 days equals a naive reference written
 *	  here from the rules in calendar.c's header comment (each working
 *	  minute run of a local date D, minus holidays, maps to the instants
 *	  [first instant the clock reads D start, ... reads D end));
 *	- business_between(a, b) = -business_between(b, a), and over longer
 *	  spans is additive (between(a, c) = between(a, b) + between(b, c));
 *	- business_periods are ordered, disjoint, not touching, inside
 *	  [from, to), and sum to business_between;
 *	- business_add(a, d) = r is exact and earliest: between(a, r) = d and
 *	  between(a, r - 1us) < d;
 *	- the only ERRORs are the documented ones (no working hours, the
 *	  20-year horizon, out of range), never an elog().
 *
 *-------------------------------------------------------------------------
 */
#include "calendar.c"

#include "shim.h"

#define DAY_SECS	86400
#define MAX_REF_SPAN	(70 * USECS_PER_DAY)

typedef struct Fuzzcal
{
	ShimZone	z;
	bool		minutes[7][1440];	/* working minutes per weekday */
	int			nholidays;
	DateADT		holidays[8];
	bool		recurring[8];
} Fuzzcal;

static Fuzzcal fc;

/* ---------- the reference */

static int64
ref_usecs(int64 pgtime)
{
	return (pgtime - UNIX_EPOCH_SHIFT) * USECS_PER_SEC;
}

/* the first instant at which the clock reads L or later */
static TimestampTz
ref_first(Timestamp L)
{
	TimestampTz best = PG_INT64_MAX;

	for (int i = 0; i <= fc.z.ntrans; i++)
	{
		TimestampTz lo = i == 0 ? PG_INT64_MIN : ref_usecs(fc.z.at[i - 1]);
		TimestampTz hi = i == fc.z.ntrans ? PG_INT64_MAX : ref_usecs(fc.z.at[i]);
		TimestampTz cand = Max(lo, L - (int64) fc.z.off[i] * USECS_PER_SEC);

		if (cand < hi)
			best = Min(best, cand);
	}
	return best;
}

static bool
ref_holiday(DateADT d)
{
	int			y,
				m,
				md;

	j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &md);
	for (int i = 0; i < fc.nholidays; i++)
	{
		int			hy,
					hm,
					hd;

		if (fc.holidays[i] == d)
			return true;
		j2date(fc.holidays[i] + POSTGRES_EPOCH_JDATE, &hy, &hm, &hd);
		if (fc.recurring[i] && d >= fc.holidays[i] && hm == m && hd == md)
			return true;
	}
	return false;
}

static int64
ref_between(TimestampTz from, TimestampTz to)
{
	int64		total = 0;
	DateADT		d0 = (DateADT) floor_div(from, USECS_PER_DAY) - 2;
	DateADT		d1 = (DateADT) floor_div(to, USECS_PER_DAY) + 2;

	for (DateADT d = d0; d <= d1; d++)
	{
		int			wd = j2day(d + POSTGRES_EPOCH_JDATE);
		Timestamp	midnight = (Timestamp) d * USECS_PER_DAY;

		if (ref_holiday(d))
			continue;
		for (int m = 0; m < 1440;)
		{
			int			m2;

			if (!fc.minutes[wd][m])
			{
				m++;
				continue;
			}
			for (m2 = m; m2 < 1440 && fc.minutes[wd][m2]; m2++)
				;
			{
				TimestampTz x = ref_first(midnight + (int64) m * 60 * USECS_PER_SEC);
				TimestampTz y = ref_first(midnight + (int64) m2 * 60 * USECS_PER_SEC);

				x = Max(x, from);
				y = Min(y, to);
				if (x < y)
					total += y - x;
			}
			m = m2;
		}
	}
	return total;
}

/* ---------- running the real thing */

typedef struct PeriodCheck
{
	TimestampTz from;
	TimestampTz to;
	TimestampTz last_end;
	bool		any;
	int64		sum;
} PeriodCheck;

static void
period_emit(void *arg, TimestampTz starts, TimestampTz ends)
{
	PeriodCheck *pc = (PeriodCheck *) arg;

	FUZZ_CHECK(starts < ends, "empty period " INT64_FORMAT ".." INT64_FORMAT, starts, ends);
	FUZZ_CHECK(starts >= pc->from && ends <= pc->to, "period outside [from, to)");
	FUZZ_CHECK(!pc->any || starts > pc->last_end,
			   "periods out of order, overlapping or touching at " INT64_FORMAT, starts);
	pc->last_end = ends;
	pc->any = true;
	pc->sum += ends - starts;
}

/* an ERROR the arithmetic documents; anything else fails the run */
static void
expected_error(const char *what)
{
	fuzz_no_internal_error(what);
	FUZZ_CHECK(shim_error_code == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE ||
			   shim_error_code == ERRCODE_PROGRAM_LIMIT_EXCEEDED ||
			   shim_error_code == ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
			   "%s: unexpected error %s", what, shim_error_message);
}

static bool
between(EscCalendar *cal, TimestampTz a, TimestampTz b, int64 *out)
{
	bool		ok;

	FUZZ_TRY(ok, *out = esc_business_between(cal, a, b));
	if (!ok)
		expected_error("business_between");
	return ok;
}

static void
check_range(EscCalendar *cal, TimestampTz from, TimestampTz to)
{
	int64		fwd,
				back;
	PeriodCheck pc;
	bool		ok;

	if (!between(cal, from, to, &fwd))
		return;
	FUZZ_CHECK(between(cal, to, from, &back) && back == -fwd, "between is not antisymmetric");
	if (to > from && to - from <= MAX_REF_SPAN)
	{
		int64		ref = ref_between(from, to);

		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "between " INT64_FORMAT " .. " INT64_FORMAT ": " INT64_FORMAT " (reference " INT64_FORMAT ")\n",
					from, to, fwd, ref);
		FUZZ_CHECK(fwd == ref, "business_between(" INT64_FORMAT ", " INT64_FORMAT ") = "
				   INT64_FORMAT ", reference " INT64_FORMAT, from, to, fwd, ref);
	}
	if (to > from)
	{
		FUZZ_CHECK(fwd >= 0 && fwd <= to - from, "business time exceeds elapsed time");
		memset(&pc, 0, sizeof(pc));
		pc.from = from;
		pc.to = to;
		FUZZ_TRY(ok, esc_business_periods(cal, from, to, period_emit, &pc));
		if (!ok)
			expected_error("business_periods");
		else
			FUZZ_CHECK(pc.sum == fwd, "periods sum to " INT64_FORMAT ", between says " INT64_FORMAT,
					   pc.sum, fwd);

		/* additive across a midpoint */
		{
			TimestampTz mid = from + (to - from) / 3;
			int64		x,
						y;

			if (between(cal, from, mid, &x) && between(cal, mid, to, &y))
				FUZZ_CHECK(x + y == fwd, "between is not additive at " INT64_FORMAT, mid);
		}
	}
}

static void
check_add(EscCalendar *cal, TimestampTz from, int64 d)
{
	TimestampTz r;
	bool		ok;
	int64		got,
				before;

	FUZZ_TRY(ok, r = esc_business_add(cal, from, d));
	if (!ok)
	{
		expected_error("business_add");
		return;
	}
	FUZZ_CHECK(r >= from, "business_add went backwards");
	if (!between(cal, from, r, &got))
		return;
	FUZZ_CHECK(got == d, "business_add(" INT64_FORMAT ", " INT64_FORMAT ") = " INT64_FORMAT
			   ", but business_between to it is " INT64_FORMAT, from, d, r, got);
	if (d > 0 && between(cal, from, r - 1, &before))
		FUZZ_CHECK(before < d, "business_add(" INT64_FORMAT ", " INT64_FORMAT ") = " INT64_FORMAT
				   " is not the earliest", from, d, r);
	if (r - from <= MAX_REF_SPAN)
		FUZZ_CHECK(ref_between(from, r) == d, "business_add result disagrees with the reference");
}

int			LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	MemoryContext cxt = fuzz_begin();
	FuzzInput	in;
	EscCalendar *cal;
	int			alloc[7] = {0};
	int64		base;			/* seconds since 2000-01-01 */
	int			nperiods;

	fuzz_input(&in, data, size);
	memset(&fc, 0, sizeof(fc));

	/* the zone: transitions near base, 2000 .. 2030 */
	base = fuzz_range(&in, 0, 30LL * 365 * DAY_SECS);
	fc.z.ntrans = fuzz_u8(&in) % 9;
	{
		int64		t = base + UNIX_EPOCH_SHIFT - fuzz_range(&in, 0, 60LL * DAY_SECS);

		for (int i = 0; i <= fc.z.ntrans; i++)
		{
			uint8		kind = fuzz_u8(&in);

			fc.z.off[i] = (kind & 1) ? fuzz_range(&in, -56, 56) * 900 : fuzz_range(&in, -57599, 57599);
			if (i < fc.z.ntrans)
			{
				t += (kind & 2) ? fuzz_range(&in, 3600, 2 * DAY_SECS) : fuzz_range(&in, DAY_SECS, 200LL * DAY_SECS);
				fc.z.at[i] = t;
			}
		}
	}
	shim_set_zone(&fc.z);

	/* the calendar, as load_calendar() builds it */
	cal = palloc0(sizeof(EscCalendar));
	cal->name = "fuzz";
	cal->time_zone = "Fuzz/Zone";
	nperiods = fuzz_u8(&in) % 12;
	for (int i = 0; i < nperiods; i++)
	{
		int			wd = fuzz_u8(&in) % 7;
		int			s = (int) fuzz_range(&in, 0, 1439);
		int			e = (int) fuzz_range(&in, 0, 1440);

		if (e == s)
			continue;			/* the table's CHECK refuses it */
		add_period(cal, wd, (int64) s * 60 * USECS_PER_SEC, (int64) e * 60 * USECS_PER_SEC, alloc);
		if (e > s)
			for (int m = s; m < e; m++)
				fc.minutes[wd][m] = true;
		else
		{
			for (int m = s; m < 1440; m++)
				fc.minutes[wd][m] = true;
			for (int m = 0; m < e; m++)
				fc.minutes[(wd + 1) % 7][m] = true;
		}
	}
	finish_calendar(cal);

	/* holidays: unique days, sorted (the query's ORDER BY day) */
	{
		int			n = fuzz_u8(&in) % 7;

		for (int i = 0; i < n; i++)
		{
			DateADT		d = (DateADT) (base / DAY_SECS + fuzz_range(&in, -400, 400));
			bool		rec = fuzz_u8(&in) & 1;
			int			k;
			bool		dup = false;

			for (k = 0; k < fc.nholidays; k++)
				dup |= fc.holidays[k] == d;
			if (dup)
				continue;
			for (k = fc.nholidays; k > 0 && fc.holidays[k - 1] > d; k--)
			{
				fc.holidays[k] = fc.holidays[k - 1];
				fc.recurring[k] = fc.recurring[k - 1];
			}
			fc.holidays[k] = d;
			fc.recurring[k] = rec;
			fc.nholidays++;
		}
		cal->holidays = palloc(sizeof(DateADT) * Max(fc.nholidays, 1));
		cal->recurring = palloc(sizeof(EscCalRecurring) * Max(fc.nholidays, 1));
		for (int i = 0; i < fc.nholidays; i++)
		{
			if (fc.recurring[i])
			{
				EscCalRecurring *r = &cal->recurring[cal->nrecurring++];
				int			y;

				j2date(fc.holidays[i] + POSTGRES_EPOCH_JDATE, &y, &r->month, &r->mday);
				r->first = fc.holidays[i];
			}
			else
				cal->holidays[cal->nholidays++] = fc.holidays[i];
		}
	}

	/* the questions */
	while (in.left > 0)
	{
		uint8		kind = fuzz_u8(&in);
		TimestampTz from = base + fuzz_range(&in, -40LL * DAY_SECS, 400LL * DAY_SECS);

		/* on the second, or anywhere */
		from *= USECS_PER_SEC;
		if (kind & 4)
			from += fuzz_range(&in, 0, USECS_PER_SEC - 1);

		switch (kind % 4)
		{
			case 0:				/* a short span, against the reference */
				check_range(cal, from, from + fuzz_range(&in, -MAX_REF_SPAN, MAX_REF_SPAN));
				break;
			case 1:				/* a long span: skipping whole weeks */
				check_range(cal, from, from + fuzz_range(&in, -4LL * 365 * USECS_PER_DAY,
														 4LL * 365 * USECS_PER_DAY));
				break;
			case 2:				/* adding a little */
				check_add(cal, from, fuzz_range(&in, 0, 3 * USECS_PER_DAY));
				break;
			case 3:				/* adding a lot */
				check_add(cal, from, fuzz_range(&in, 0, 400 * USECS_PER_DAY));
				break;
		}
	}

	fuzz_end(cxt);
	return 0;
}
