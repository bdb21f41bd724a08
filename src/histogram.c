/*-------------------------------------------------------------------------
 *
 * histogram.c
 *	  Log-linear buckets of durations, for exact percentiles from rollups
 *	  (escalation.metric_resolution, escalation.resolution_percentiles).
 *
 * A duration is taken at its exact value in microseconds (what interval
 * comparison uses: time + (day + 30 * month) * 86,400,000,000).  A bucket
 * of a level holds a contiguous range of those values, and bucket numbers
 * follow the order of the values, so that the rows of a histogram ordered
 * by bucket are ordered by duration and a cumulative count finds the bucket
 * that holds the k-th smallest one:
 *
 *	- v in [0, 2^bits): bucket v, one value each (exact);
 *	- v >= 2^bits: with e = floor(log2 v) and shift = e - bits, the bucket
 *	  is shift * 2^bits + (v >> shift): 2^bits buckets per power of two,
 *	  each 2^shift microseconds wide, so at most 1/2^bits of the value;
 *	- v < 0 (a resolution before the creation): u = -v - 1 >= 0 goes to
 *	  bucket -1 - bucket(u), the mirror image below bucket 0.
 *
 * Level 1 has 5 bits (32 buckets per power of two), level 2 has 12 (4,096).
 * A level-1 bucket is a union of consecutive level-2 buckets (every range
 * edge of level 1 is one of level 2), so the level-2 buckets of a level-1
 * bucket are those from the bucket of its lowest value to that of its
 * highest.  The views find the percentile's level-1 bucket, then its
 * level-2 bucket, then the exact value among the few tickets in it.
 *
 * histogram_find() walks a histogram's counts in bucket order to the bucket
 * that holds the k-th smallest value (the cumulative count reaches k), so
 * that the views need neither a window function nor a sort over every
 * bucket: they pass array_agg() of the rows as they come.
 *
 * Pure functions of their arguments: no catalog access, no SPI.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/timestamp.h"

#include "escalation.h"

PG_FUNCTION_INFO_V1(escalation_duration_bucket);
PG_FUNCTION_INFO_V1(escalation_duration_bucket_low);
PG_FUNCTION_INFO_V1(escalation_duration_bucket_high);
PG_FUNCTION_INFO_V1(escalation_histogram_find);

/* the sub-bucket bits of a level, or an error for a level we do not have */
static int
level_bits(int32 level)
{
	switch (level)
	{
		case 1:
			return 5;
		case 2:
			return 12;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("histogram level must be 1 or 2, not %d", level)));
	}
	return 0;					/* keep the compiler quiet */
}

/*
 * The exact value of an interval in microseconds, as interval comparison
 * sees it; clamped to the range of int64 (a duration between two
 * timestamps always fits).
 */
static int64
interval_usecs(const Interval *span)
{
	int128		v;

	v = (int128) span->time +
		((int128) span->day + (int128) span->month * DAYS_PER_MONTH) * USECS_PER_DAY;
	if (v > PG_INT64_MAX)
		return PG_INT64_MAX;
	if (v < PG_INT64_MIN)
		return PG_INT64_MIN;
	return (int64) v;
}

/* bucket of a non-negative value */
static int64
bucket_of_unsigned(uint64 u, int bits)
{
	int			e;
	int			shift;

	if (u < ((uint64) 1 << bits))
		return (int64) u;
	e = 63 - __builtin_clzll(u);
	shift = e - bits;
	return (int64) (((uint64) shift << bits) + (u >> shift));
}

/* lowest and highest non-negative value of a bucket >= 0 */
static void
bounds_of_unsigned(int64 bucket, int bits, uint64 *lo, uint64 *hi)
{
	uint64		b = (uint64) bucket;
	uint64		shift;
	uint64		mant;

	if (b < ((uint64) 1 << bits))
	{
		*lo = *hi = b;
		return;
	}
	shift = (b >> bits) - 1;
	mant = b - (shift << bits);
	*lo = mant << shift;
	/* (mant + 1) << shift may be 2^63: compute in uint64, then step back */
	*hi = ((mant + 1) << shift) - 1;
}

/* the bucket of a value (see the file header) */
int64
esc_duration_bucket(int64 v, int bits)
{
	if (v >= 0)
		return bucket_of_unsigned((uint64) v, bits);
	/* -v - 1 without overflow: v = INT64_MIN gives INT64_MAX */
	return -1 - bucket_of_unsigned((uint64) (-(v + 1)), bits);
}

/* the lowest and highest value of a bucket, both included */
void
esc_duration_bounds(int64 bucket, int bits, int64 *lo, int64 *hi)
{
	uint64		ulo;
	uint64		uhi;

	if (bucket >= 0)
	{
		bounds_of_unsigned(bucket, bits, &ulo, &uhi);
		*lo = (int64) Min(ulo, (uint64) PG_INT64_MAX);
		*hi = (int64) Min(uhi, (uint64) PG_INT64_MAX);
		return;
	}
	/* the mirror: values -u - 1 for u in the bucket -1 - bucket */
	bounds_of_unsigned(-1 - bucket, bits, &ulo, &uhi);
	uhi = Min(uhi, (uint64) PG_INT64_MAX);
	ulo = Min(ulo, (uint64) PG_INT64_MAX);
	*lo = -(int64) uhi - 1;
	*hi = -(int64) ulo - 1;
}

/* refuse a bucket number no duration has (its bounds would not fit) */
static void
check_bucket(int64 bucket, int bits, int32 level)
{
	int64		top = esc_duration_bucket(PG_INT64_MAX, bits);

	if (bucket > top || bucket < -1 - top)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("bucket %lld is out of range for histogram level %d",
						(long long) bucket, level),
				 errhint("Buckets of level %d run from %lld to %lld.", level,
						 (long long) (-1 - top), (long long) top)));
}

/* microseconds as an interval of days and time (exact) */
static Interval *
usecs_interval(int64 v)
{
	Interval   *result = (Interval *) palloc(sizeof(Interval));

	result->month = 0;
	result->day = (int32) (v / USECS_PER_DAY);
	result->time = v % USECS_PER_DAY;
	return result;
}

/*
 * escalation.duration_bucket(d interval, level integer) RETURNS bigint
 */
Datum
escalation_duration_bucket(PG_FUNCTION_ARGS)
{
	Interval   *span = PG_GETARG_INTERVAL_P(0);
	int			bits = level_bits(PG_GETARG_INT32(1));

	PG_RETURN_INT64(esc_duration_bucket(interval_usecs(span), bits));
}

/*
 * escalation.duration_bucket_low(bucket bigint, level integer) RETURNS interval
 *	  the shortest duration in the bucket
 */
Datum
escalation_duration_bucket_low(PG_FUNCTION_ARGS)
{
	int64		bucket = PG_GETARG_INT64(0);
	int32		level = PG_GETARG_INT32(1);
	int			bits = level_bits(level);
	int64		lo;
	int64		hi;

	check_bucket(bucket, bits, level);
	esc_duration_bounds(bucket, bits, &lo, &hi);
	PG_RETURN_INTERVAL_P(usecs_interval(lo));
}

/*
 * escalation.duration_bucket_high(bucket bigint, level integer) RETURNS interval
 *	  the longest duration in the bucket
 */
Datum
escalation_duration_bucket_high(PG_FUNCTION_ARGS)
{
	int64		bucket = PG_GETARG_INT64(0);
	int32		level = PG_GETARG_INT32(1);
	int			bits = level_bits(level);
	int64		lo;
	int64		hi;

	check_bucket(bucket, bits, level);
	esc_duration_bounds(bucket, bits, &lo, &hi);
	PG_RETURN_INTERVAL_P(usecs_interval(hi));
}

static int
cmp_histogram_row(const void *a, const void *b)
{
	int64		x = ((const EscHistogramRow *) a)->bucket;
	int64		y = ((const EscHistogramRow *) b)->bucket;

	return (x > y) - (x < y);
}

/*
 * The bucket holding the rank-th smallest value of a histogram given as
 * rows of (bucket, count) in any order, several rows per bucket allowed
 * (the rollups' delta rows, one row per tenant): the rows are sorted by
 * bucket and each bucket's counts added up, then the first bucket where
 * the cumulative count reaches rank is the one.  Sets *bucket and *below
 * (the count of the buckets before it); false when the histogram holds
 * fewer than rank values.  Sorts rows in place.
 */
bool
esc_histogram_find(EscHistogramRow *r, int n, int64 rank, int64 *bucket, int64 *below)
{
	int64		cum = 0;
	int			i = 0;

	qsort(r, n, sizeof(EscHistogramRow), cmp_histogram_row);
	while (i < n)
	{
		int64		b = r[i].bucket;
		int64		count = 0;

		for (; i < n && r[i].bucket == b; i++)
			count += r[i].count;
		if (count < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("histogram bucket %lld has a negative count (%lld)",
							(long long) b, (long long) count),
					 errhint("Recompute the rollups with escalation.rebuild_metrics().")));
		if (count > 0 && cum + count >= rank)
		{
			*bucket = b;
			*below = cum;
			return true;
		}
		cum += count;
	}
	return false;
}

/*
 * escalation.histogram_find(buckets bigint[], counts integer[], rank bigint)
 * RETURNS bigint[]
 *	  {bucket, count below it} of the bucket holding the rank-th smallest
 *	  value; NULL when the counts add up to less than rank
 */
Datum
escalation_histogram_find(PG_FUNCTION_ARGS)
{
	ArrayType  *abuckets = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *acounts = PG_GETARG_ARRAYTYPE_P(1);
	int64		rank = PG_GETARG_INT64(2);
	Datum	   *dbuckets;
	Datum	   *dcounts;
	bool	   *nbuckets;
	bool	   *ncounts;
	int			n;
	int			ncount;
	EscHistogramRow *rows;
	int64		bucket;
	int64		below;
	Datum		result[2];

	if (ARR_NDIM(abuckets) > 1 || ARR_NDIM(acounts) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("histogram buckets and counts must be one-dimensional arrays")));
	deconstruct_array(abuckets, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &dbuckets, &nbuckets, &n);
	deconstruct_array(acounts, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &dcounts, &ncounts, &ncount);
	if (n != ncount)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("a histogram needs as many counts as buckets")));
	rows = (EscHistogramRow *) palloc(sizeof(EscHistogramRow) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (nbuckets[i] || ncounts[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("histogram buckets and counts must not be NULL")));
		rows[i].bucket = DatumGetInt64(dbuckets[i]);
		rows[i].count = DatumGetInt32(dcounts[i]);
	}
	if (!esc_histogram_find(rows, n, rank, &bucket, &below))
		PG_RETURN_NULL();
	result[0] = Int64GetDatum(bucket);
	result[1] = Int64GetDatum(below);
	PG_RETURN_ARRAYTYPE_P(construct_array(result, 2, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
