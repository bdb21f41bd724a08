/*-------------------------------------------------------------------------
 *
 * shape.c
 *	  A run of character classes every match of a pattern contains, and one
 *	  scan of a text for all of a source's runs: the prefilter for pattern
 *	  rules without a literal of their own.  Pure: no SPI, no catalog.
 *
 * A pattern such as "\m[0-9]{3}-[0-9]{2}-[0-9]{4}\M" (a US social security
 * number) has no literal for rules.c's memmem() prefilter, so until now
 * the regex engine ran on every ticket's text: a conversion of the text to
 * wide characters and one scan, about 44,000 instructions per 1 KB ticket,
 * the largest single cost of an insert that escalates nothing.  Yet every
 * match of that pattern contains eleven consecutive characters, each from
 * a known set of ASCII characters:
 *
 *	[0-9] [0-9] [0-9] - [0-9] [0-9] - [0-9] [0-9] [0-9] [0-9]
 *
 * Such a run (its "shape") is found in a byte string by the shift-and
 * algorithm (Baeza-Yates and Gonnet, 1992): a 64-bit state word, one bit
 * per position of the run, advanced per byte by a shift, an OR and an AND
 * with the byte's mask.  The runs of several patterns share one state
 * word (a lane) side by side, so one scan of the text, a few instructions
 * per byte, tells every pattern rule of a source whether its run occurs.
 * Where it does not, the pattern cannot match and the regex engine is not
 * run; where it does, the engine decides as before.
 *
 * Soundness is the whole point, so the reading of the pattern is
 * conservative: anything not understood ends the current run (or, for an
 * alternation at the top level or a malformed bound, gives no shape at
 * all).  An atom of a run must match exactly one character, and that
 * character must be ASCII, so that consecutive characters of a match are
 * consecutive bytes of the text in every server encoding:
 *
 *	- an ordinary ASCII character, or an escaped non-alphanumeric one
 *	  ("\." "\-");
 *	- a bracket expression of ASCII characters and ranges, not negated,
 *	  without character classes, collating elements or escapes;
 *	- \d and \w, which match only [0-9] and [A-Za-z0-9_] among ASCII
 *	  characters but may match non-ASCII digits and letters (ICU, and
 *	  some libc locales): a shape holding one is only trusted on a text
 *	  without a non-ASCII byte, otherwise the engine runs.
 *
 * In a case-insensitive pattern a letter stands for both of its cases,
 * as PostgreSQL's engine expands it (its case mapping of ASCII letters is
 * always the C one, and it folds the pattern, not the text, so a
 * non-ASCII text character never matches an ASCII letter).  Constraints
 * (^ $ \m \M \y \Y \A \Z) match no character and do not break a run.  A
 * quantified atom: x{n} is n atoms, x{n,m} and x+ keep n (one) atoms and
 * end the run, x? x* x{0,m} end it without the atom.  Groups end the run.
 * Of the runs found, the longest (at most 64 atoms) is the pattern's
 * shape; shorter than three atoms, it would filter little, and the
 * pattern gets none.
 *
 * The scan reads only the parts of the text where a shape may be.  Of a
 * shape's atoms one is its trigger: the one whose bytes are rarest in
 * ordinary text (byte_weight(): digits and punctuation are rare, ASCII
 * letters and the space everywhere), of equally rare ones the nearest
 * the run's middle.  An occurrence of a shape of n atoms whose trigger is
 * its atom j has a trigger byte p at its offset j, so it lies within
 * p - j .. p + (n - 1 - j).  The set keeps the union of its shapes'
 * trigger bytes, as at most ESC_SHAPE_RANGES ranges of bytes, and the
 * largest j ("before") and n - 1 - j ("after") of its shapes.  The scan
 * finds the trigger bytes sixteen at a time with SSE2 (eight at a time
 * elsewhere and for the last bytes: two additions a range on a 64-bit
 * word), and runs the lanes, from state 0, only over the windows
 * p - before .. p + after around them, clipped to the text, overlapping
 * or adjacent ones merged into one part (of one block's trigger bytes,
 * the windows from the first's to the last's).  That is exact, not merely
 * sound.  A shift-and started at state 0 on a part of the text reports
 * only occurrences that lie wholly within that part, which the full scan
 * reports too; and every occurrence the full scan reports lies within the
 * window of its trigger byte, so within a part scanned.  The found bits
 * are the full scan's.  With the shapes of six patterns of the insert
 * benchmark (card and social security numbers, invoice references, HTTP
 * 5xx, SQL errors, error codes), a 1 KB ticket of English words with
 * eight numbers costs about 2,200 instructions instead of 10,000.  A set
 * one of whose shapes has no rare atom, such as "breach of " (letters and
 * spaces), scans the whole text as before, and so does one whose trigger
 * bytes are more ranges.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "port/pg_bitutils.h"
#include "port/pg_bswap.h"

#include "escalation.h"

/* an atom: the set of bytes it matches */
typedef struct ShapeAtom
{
	uint64		bits[4];
} ShapeAtom;

typedef struct ShapeRun
{
	ShapeAtom	atoms[ESC_SHAPE_MAX];
	int			len;
	bool		ascii_only;		/* has \d or \w */
} ShapeRun;

static inline void
atom_add(ShapeAtom *a, unsigned char c, bool case_sensitive)
{
	a->bits[c >> 6] |= UINT64CONST(1) << (c & 63);
	if (!case_sensitive)
	{
		if (c >= 'a' && c <= 'z')
			atom_add(a, c - ('a' - 'A'), true);
		else if (c >= 'A' && c <= 'Z')
			atom_add(a, c + ('a' - 'A'), true);
	}
}

static inline bool
atom_has(const ShapeAtom *a, unsigned char c)
{
	return (a->bits[c >> 6] >> (c & 63)) & 1;
}

static void
atom_range(ShapeAtom *a, unsigned char lo, unsigned char hi, bool case_sensitive)
{
	for (int c = lo; c <= hi; c++)
		atom_add(a, (unsigned char) c, case_sensitive);
}

/*
 * Read a bracket expression at p ('['); end is the pattern's end.  Returns
 * the position after its ']', or NULL when the pattern is malformed.  *ok
 * tells whether the atom is one we trust.
 */
static const char *
read_bracket(const char *p, const char *end, ShapeAtom *a, bool case_sensitive, bool *ok)
{
	const char *c = p + 1;
	bool		first = true;

	*ok = true;
	memset(a, 0, sizeof(ShapeAtom));
	if (c < end && *c == '^')
	{
		*ok = false;
		c++;
	}
	while (c < end)
	{
		unsigned char ch = (unsigned char) *c;

		if (ch == ']' && !first)
			return c + 1;
		first = false;
		if (ch == '[' && c + 1 < end && (c[1] == ':' || c[1] == '.' || c[1] == '='))
		{
			char		close = c[1];

			*ok = false;
			for (c += 2; c + 1 < end && !(*c == close && c[1] == ']'); c++)
				;
			if (c + 1 >= end)
				return NULL;
			c += 2;
			continue;
		}
		if (ch == '\\')
		{
			/* an escape inside brackets (an ARE extension): not ours */
			*ok = false;
			if (c + 1 >= end)
				return NULL;
			c += 2;
			continue;
		}
		if (ch >= 0x80)
		{
			*ok = false;
			c++;
			continue;
		}
		/* a range a-z (a '-' before the closing ']' is itself a member) */
		if (c + 2 < end && c[1] == '-' && c[2] != ']')
		{
			unsigned char hi = (unsigned char) c[2];

			if (hi == '[' || hi == '\\')
				return NULL;	/* a collating element or escape as its end */
			if (hi >= 0x80 || hi < ch)
				*ok = false;
			else
				atom_range(a, ch, hi, case_sensitive);
			c += 3;
			continue;
		}
		atom_add(a, ch, case_sensitive);
		c++;
	}
	return NULL;				/* no closing ']' */
}

/* after a group's '(' at p, the position of its matching ')' or NULL */
static const char *
group_end(const char *p, const char *end)
{
	int			depth = 0;

	for (const char *c = p; c < end; c++)
	{
		if (*c == '\\')
			c++;
		else if (*c == '[')
		{
			bool		ok;
			ShapeAtom	dummy;
			const char *after = read_bracket(c, end, &dummy, true, &ok);

			if (after == NULL)
				return NULL;
			c = after - 1;
		}
		else if (*c == '(')
			depth++;
		else if (*c == ')' && --depth == 0)
			return c;
	}
	return NULL;
}

/* keep the current run if it is the longest so far, and start a new one */
static void
run_end(ShapeRun *cur, ShapeRun *best)
{
	if (cur->len > best->len)
		*best = *cur;
	cur->len = 0;
	cur->ascii_only = false;
}

/* append n copies of an atom to the current run */
static void
run_append(ShapeRun *cur, ShapeRun *best, const ShapeAtom *atom, bool ascii_only, int n)
{
	for (int i = 0; i < n; i++)
	{
		/* a part of a required run is required too */
		if (cur->len == ESC_SHAPE_MAX)
			run_end(cur, best);
		cur->atoms[cur->len++] = *atom;
		cur->ascii_only |= ascii_only;
	}
}

/*
 * Read a bound "{n}", "{n,}" or "{n,m}" at p; returns the position after it
 * or NULL when it is not one.
 */
static const char *
read_bound(const char *p, const char *end, int *min, bool *exact)
{
	const char *q = p + 1;
	long		lo = 0,
				hi;

	if (q >= end || *q < '0' || *q > '9')
		return NULL;
	while (q < end && *q >= '0' && *q <= '9')
	{
		lo = lo * 10 + (*q++ - '0');
		if (lo > 100000)
			return NULL;
	}
	hi = lo;
	if (q < end && *q == ',')
	{
		q++;
		hi = -1;
		while (q < end && *q >= '0' && *q <= '9')
		{
			hi = (hi < 0 ? 0 : hi) * 10 + (*q - '0');
			q++;
			if (hi > 100000)
				return NULL;
		}
	}
	if (q >= end || *q != '}')
		return NULL;
	*min = (int) Min(lo, ESC_SHAPE_MAX);
	*exact = (hi == lo);
	return q + 1;
}

/*
 * The pattern's longest run (see the file header); false when it has none
 * of at least ESC_SHAPE_MIN atoms.
 */
static bool
pattern_shape(const char *pattern, bool case_sensitive, ShapeRun *best)
{
	const char *p = pattern;
	const char *end = pattern + strlen(pattern);
	ShapeRun   *cur = palloc(sizeof(ShapeRun));
	bool		result = false;

	best->len = 0;
	best->ascii_only = false;
	cur->len = 0;
	cur->ascii_only = false;

	/* directors and embedded options change what follows: not ours */
	if (strncmp(p, "***", 3) == 0 || strncmp(p, "(?", 2) == 0)
		goto done;

	while (p < end)
	{
		unsigned char ch = (unsigned char) *p;
		ShapeAtom	atom;
		bool		have_atom = false;	/* read an atom we trust */
		bool		atom_ascii_only = false;
		const char *next;
		int			min = 1;
		bool		exact = true;
		bool		quantified = false;

		memset(&atom, 0, sizeof(atom));
		if (ch == '|' || ch == ')')
			goto done;			/* an alternative at the top, or unbalanced */
		if (ch == '^' || ch == '$')
		{
			p++;
			continue;			/* constraints match no character */
		}
		if (ch == '(')
		{
			const char *close = group_end(p, end);

			if (close == NULL)
				goto done;
			next = close + 1;
		}
		else if (ch == '[')
		{
			bool		ok;

			next = read_bracket(p, end, &atom, case_sensitive, &ok);
			if (next == NULL)
				goto done;
			have_atom = ok;
		}
		else if (ch == '\\')
		{
			unsigned char e;

			if (p + 1 >= end)
				goto done;
			e = (unsigned char) p[1];
			next = p + 2;
			if (strchr("mMyYAZ", e) != NULL)
			{
				p = next;
				continue;		/* constraint escapes match no character */
			}
			if (e == 'd')
			{
				atom_range(&atom, '0', '9', true);
				have_atom = atom_ascii_only = true;
			}
			else if (e == 'w')
			{
				atom_range(&atom, '0', '9', true);
				atom_range(&atom, 'a', 'z', false);
				atom_add(&atom, '_', true);
				have_atom = atom_ascii_only = true;
			}
			else if ((e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'))
			{
				/*
				 * Two-character escapes we do not use (\s \D \t ...) end
				 * the run; longer ones (\x41 \u00e9 \cX \0 \12) would be
				 * misread: no shape.
				 */
				if (strchr("abBefnrtvsSDW", e) == NULL)
					goto done;
			}
			else if (e < 0x80)
			{
				atom_add(&atom, e, case_sensitive);
				have_atom = true;
			}
		}
		else if (ch == '*' || ch == '+' || ch == '?' || ch == '{')
		{
			/* a quantifier with no atom before it */
			run_end(cur, best);
			next = p + 1;
			if (ch == '{')
			{
				while (next < end && *next != '}')
					next++;
				if (next >= end)
					goto done;
				next++;
			}
			p = next;
			continue;
		}
		else if (ch == '.' || ch >= 0x80)
			next = p + 1;		/* any character, or (part of) a non-ASCII one */
		else
		{
			atom_add(&atom, ch, case_sensitive);
			have_atom = true;
			next = p + 1;
		}

		/* the atom's quantifier */
		if (next < end && (*next == '*' || *next == '?'))
		{
			min = 0;
			exact = false;
			quantified = true;
			next++;
		}
		else if (next < end && *next == '+')
		{
			exact = false;
			quantified = true;
			next++;
		}
		else if (next < end && *next == '{')
		{
			next = read_bound(next, end, &min, &exact);
			if (next == NULL)
				goto done;
			quantified = true;
		}
		if (quantified && next < end && *next == '?')
			next++;				/* non-greedy */

		if (!have_atom)
			run_end(cur, best);
		else
		{
			run_append(cur, best, &atom, atom_ascii_only, min);
			if (!exact)
			{
				/*
				 * More copies may follow, so the run ends here; but the
				 * last copies are right before what comes next: the new run
				 * starts with them ("[0-9]+ error" holds "[0-9] error").
				 */
				run_end(cur, best);
				run_append(cur, best, &atom, atom_ascii_only, min);
			}
		}
		p = next;
	}
	run_end(cur, best);
	result = best->len >= ESC_SHAPE_MIN;
done:
	pfree(cur);
	return result;
}

/*
 * How common a byte is in ordinary text, for the choice of a shape's
 * trigger atom (see the file header); only the order matters, and only
 * for speed.  An atom holding an ASCII letter or the space weighs at
 * least SHAPE_COMMON, more than any atom without one: it is no trigger,
 * as the windows around every word would be the whole text.  Nor is an
 * atom with a non-ASCII byte, which no atom has.
 */
#define SHAPE_COMMON 10000

static int
byte_weight(int b)
{
	if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == ' ' || b >= 0x80)
		return SHAPE_COMMON;
	if (b == '.' || b == ',' || b == '\n' || b == '\r' || b == '\t')
		return 8;				/* in every paragraph */
	if (b >= '0' && b <= '9')
		return 2;				/* in a few places of a ticket */
	return 1;
}

/*
 * The offset of the run's trigger atom: the rarest, and of equally rare
 * ones the nearest the middle, which keeps its windows short on both
 * sides; -1 when every atom is common.
 */
static int
run_trigger(const ShapeRun *run)
{
	int			best = -1,
				best_weight = 0;

	for (int i = 0; i < run->len; i++)
	{
		int			w = 0;

		for (int b = 0; b < 256; b++)
			if (atom_has(&run->atoms[i], (unsigned char) b))
				w += byte_weight(b);
		if (w >= SHAPE_COMMON)
			continue;
		if (best < 0 || w < best_weight ||
			(w == best_weight &&
			 abs(2 * i - (run->len - 1)) < abs(2 * best - (run->len - 1))))
		{
			best = i;
			best_weight = w;
		}
	}
	return best;
}

#define SWAR_ONES UINT64CONST(0x0101010101010101)
#define SWAR_HIGH UINT64CONST(0x8080808080808080)

StaticAssertDecl(ESC_SHAPE_RANGES == 3, "esc_shape_scan() tests three ranges");

static inline bool
trigger_has(const EscShapeSet *set, int b)
{
	return (set->trigger[b >> 6] >> (b & 63)) & 1;
}

/*
 * The set's trigger bytes as the range tests of trigger_bytes(); false
 * when they are more than ESC_SHAPE_RANGES ranges.  For a byte x of
 * 0 .. 127 and a range lo .. hi, x + (128 - lo) has its high bit set
 * when x >= lo, and x + (127 - hi) when x > hi, neither sum carrying into
 * the next byte: the two high bits differ exactly when x is in the range.
 * A range not used adds 0 and 0, and its high bits never differ.
 */
static bool
trigger_ranges(EscShapeSet *set)
{
	uint64		ge[ESC_SHAPE_RANGES] = {0};
	uint64		gt[ESC_SHAPE_RANGES] = {0};
	int			n = 0;

	for (int lo = 0; lo < 128; lo++)
	{
		int			hi = lo;

		if (!trigger_has(set, lo))
			continue;
		while (hi + 1 < 128 && trigger_has(set, hi + 1))
			hi++;
		if (n == ESC_SHAPE_RANGES)
			return false;
		ge[n] = SWAR_ONES * (uint64) (128 - lo);
		gt[n] = SWAR_ONES * (uint64) (127 - hi);
		n++;
		lo = hi;
	}
	memcpy(set->range_ge, ge, sizeof(ge));
	memcpy(set->range_gt, gt, sizeof(gt));
	return true;
}

/*
 * Add a pattern's shape to a source's set, in one of its first max_lanes
 * lanes.  Returns false, changing nothing, when the pattern has no shape
 * or those lanes have no room for it, or (windowed_only) when the shape
 * would make a set scanned in windows scan whole texts (it has no rare
 * atom, or its trigger bytes would take the set past ESC_SHAPE_RANGES
 * ranges): a pattern with a literal of its own is filtered by that
 * literal already, and its shape is not worth every text's whole scan.
 * Otherwise sets *lane, *endbit and *ascii_only for the rule.
 */
bool
esc_shape_add(EscShapeSet *set, const char *pattern, bool case_sensitive, int max_lanes,
			  bool windowed_only, int *lane, uint64 *endbit, bool *ascii_only)
{
	ShapeRun   *run = palloc(sizeof(ShapeRun));
	int			l;
	int			trigger;
	uint64		old_trigger[2];

	if (!pattern_shape(pattern, case_sensitive, run))
	{
		pfree(run);
		return false;
	}
	/* the first lane with room */
	max_lanes = Min(max_lanes, ESC_SHAPE_LANES);
	for (l = 0; l < max_lanes; l++)
		if (set->used[l] + run->len <= 64)
			break;
	if (l == max_lanes)
	{
		pfree(run);
		return false;
	}

	/* its trigger and the windows it needs (see the file header) */
	trigger = run_trigger(run);
	if (windowed_only && !set->whole && trigger < 0)
	{
		pfree(run);
		return false;
	}
	memcpy(old_trigger, set->trigger, sizeof(old_trigger));
	if (trigger >= 0)
	{
		/* a trigger atom is all ASCII (byte_weight()) */
		for (int b = 0; b < 128; b++)
			if (atom_has(&run->atoms[trigger], (unsigned char) b))
				set->trigger[b >> 6] |= UINT64CONST(1) << (b & 63);
		if (!trigger_ranges(set))
		{
			if (windowed_only && !set->whole)
			{
				/* trigger_ranges() left the ranges as they were */
				memcpy(set->trigger, old_trigger, sizeof(old_trigger));
				pfree(run);
				return false;
			}
			set->whole = true;
		}
		set->before = Max(set->before, trigger);
		set->after = Max(set->after, run->len - 1 - trigger);
	}
	else
		set->whole = true;

	for (int i = 0; i < run->len; i++)
	{
		uint64		bit = UINT64CONST(1) << (set->used[l] + i);

		for (int b = 0; b < 256; b++)
			if (atom_has(&run->atoms[i], (unsigned char) b))
				set->mask[l][b] |= bit;
	}
	set->start[l] |= UINT64CONST(1) << set->used[l];
	*endbit = UINT64CONST(1) << (set->used[l] + run->len - 1);
	set->end[l] |= *endbit;
	set->used[l] += run->len;
	set->nlanes = Max(set->nlanes, l + 1);

	*lane = l;
	*ascii_only = run->ascii_only;
	pfree(run);
	return true;
}

/*
 * Shift-and over p[0 .. len) of one lane, from state 0: the bits the
 * lane's state took on the way, or'd together.
 */
static inline uint64
lane_serial(const uint64 *mask, uint64 start, const unsigned char *p, int len)
{
	uint64		d = 0,
				seen = 0;
	int			i;

	for (i = 0; i + 4 <= len; i += 4)
	{
		d = ((d << 1) | start) & mask[p[i]];
		seen |= d;
		d = ((d << 1) | start) & mask[p[i + 1]];
		seen |= d;
		d = ((d << 1) | start) & mask[p[i + 2]];
		seen |= d;
		d = ((d << 1) | start) & mask[p[i + 3]];
		seen |= d;
	}
	for (; i < len; i++)
	{
		d = ((d << 1) | start) & mask[p[i]];
		seen |= d;
	}
	return seen;
}

/*
 * The same over a long part of the text in four chains side by side.  A
 * byte's step (a shift, an or and an and) waits for the step before it,
 * so one chain runs at the latency of three operations a byte whatever
 * the processor's width; four chains over four quarters of the part keep
 * it busy.  The state after byte j depends only on bytes j - 63 .. j (a run
 * has at most 64 atoms), so a chain that starts 63 bytes before its
 * quarter, from state 0, has the serial scan's state from the quarter's
 * first byte on; before that, in its lead-in, its states hold fewer bits
 * than the serial scan's at the same bytes, never others.  The bits seen
 * are therefore exactly the serial scan's.
 */
#define SHAPE_CHAINS_MIN_LEN 512

static uint64
lane_chains(const uint64 *mask, uint64 start, const unsigned char *p, int len)
{
	int			q = len / 4;
	int			n = q + (ESC_SHAPE_MAX - 1);
	const unsigned char *p0 = p,
			   *p1 = p + q - (ESC_SHAPE_MAX - 1),
			   *p2 = p + 2 * q - (ESC_SHAPE_MAX - 1),
			   *p3 = p + 3 * q - (ESC_SHAPE_MAX - 1);
	uint64		d0 = 0,
				d1 = 0,
				d2 = 0,
				d3 = 0,
				s0 = 0,
				s1 = 0,
				s2 = 0,
				s3 = 0;

	Assert(len >= SHAPE_CHAINS_MIN_LEN);
	for (int i = 0; i < n; i++)
	{
		d0 = ((d0 << 1) | start) & mask[p0[i]];
		d1 = ((d1 << 1) | start) & mask[p1[i]];
		d2 = ((d2 << 1) | start) & mask[p2[i]];
		d3 = ((d3 << 1) | start) & mask[p3[i]];
		s0 |= d0;
		s1 |= d1;
		s2 |= d2;
		s3 |= d3;
	}
	/* the last chain, which stopped at 4 * q, goes on to the end */
	for (int i = 4 * q; i < len; i++)
	{
		d3 = ((d3 << 1) | start) & mask[p[i]];
		s3 |= d3;
	}
	return s0 | s1 | s2 | s3;
}

/* the lanes over p[0 .. len), from state 0: the bits seen, or'd into seen[] */
static void
scan_part(const EscShapeSet *set, const unsigned char *p, int len, uint64 *seen)
{
	for (int l = 0; l < set->nlanes; l++)
		seen[l] |= len >= SHAPE_CHAINS_MIN_LEN
			? lane_chains(set->mask[l], set->start[l], p, len)
			: lane_serial(set->mask[l], set->start[l], p, len);
}

/* eight bytes of the text, the first in the lowest bits on any machine */
static inline uint64
load8(const unsigned char *p)
{
	uint64		w;

	memcpy(&w, p, 8);
#ifdef WORDS_BIGENDIAN
	w = pg_bswap64(w);
#endif
	return w;
}

/*
 * Which of eight bytes w (the first lowest) are trigger bytes: the high
 * bit of each set (trigger_ranges()).  A non-ASCII byte never is one.
 */
static inline uint64
trigger_bytes(const uint64 *ge, const uint64 *gt, uint64 w)
{
	uint64		x = w & ~SWAR_HIGH;

	return (((x + ge[0]) ^ (x + gt[0])) |
			((x + ge[1]) ^ (x + gt[1])) |
			((x + ge[2]) ^ (x + gt[2]))) & ~w & SWAR_HIGH;
}

/*
 * The windows of the trigger bytes from the one at first to the one at
 * last, as one (see the file header): it extends the part to scan,
 * p[*from .. *to), when it overlaps or touches it; otherwise that part is
 * scanned and it starts the next.  Trigger bytes come in order, so a
 * window never ends before the ones before it.
 */
static inline void
window_add(const EscShapeSet *set, const unsigned char *p, int len, int first, int last,
		   int *from, int *to, uint64 *seen)
{
	int			wfrom = Max(first - set->before, 0);
	int			wto = Min(last + set->after + 1, len);

	if (wfrom > *to)
	{
		if (*to > *from)
			scan_part(set, p + *from, *to - *from, seen);
		*from = wfrom;
	}
	*to = wto;
}

/*
 * One scan of text[0 .. len) for every shape of the set: found[l] gets
 * the end bits of lane l's shapes that occur; returns whether the text is
 * all ASCII.  Only the windows around trigger bytes are scanned, unless
 * the set has to scan the whole text (see the file header).
 */
bool
esc_shape_scan(const EscShapeSet *set, const char *text, int len, uint64 *found)
{
	const unsigned char *p = (const unsigned char *) text;
	uint64		seen[ESC_SHAPE_LANES] = {0};
	uint64		any = 0;		/* the bytes or'd: a high bit is non-ASCII */
	int			i = 0;

	if (set->whole)
	{
		scan_part(set, p, len, seen);
		for (; i + 8 <= len; i += 8)
			any |= load8(p + i);
		for (; i < len; i++)
			any |= p[i];
	}
	else
	{
		uint64		ge[ESC_SHAPE_RANGES],
					gt[ESC_SHAPE_RANGES];
		int			from = 0,
					to = 0;

		/* in locals, which scan_part() cannot change: kept in registers */
		memcpy(ge, set->range_ge, sizeof(ge));
		memcpy(gt, set->range_gt, sizeof(gt));
#ifdef __SSE2__
		{
			/*
			 * Sixteen bytes a step, which every x86-64 processor can do.
			 * For every byte x (a sum past 255 wraps to a small one), x +
			 * (128 - lo) as a signed byte is less than (hi - lo + 1) - 128
			 * exactly when x is in the range lo .. hi; a range not used
			 * (adding 0) compares with -128, and no byte is less.
			 */
			__m128i		add[ESC_SHAPE_RANGES],
						below[ESC_SHAPE_RANGES],
						bytes = _mm_setzero_si128();

			for (int r = 0; r < ESC_SHAPE_RANGES; r++)
			{
				int			a = (int) (ge[r] & 0xFF),
							b = (int) (gt[r] & 0xFF);

				add[r] = _mm_set1_epi8((char) a);
				below[r] = _mm_set1_epi8((char) (a - b - 128));
			}
			for (; i + 16 <= len; i += 16)
			{
				__m128i		v = _mm_loadu_si128((const __m128i *) (p + i));
				uint32		t;

				t = (uint32) _mm_movemask_epi8(
					_mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(_mm_add_epi8(v, add[0]), below[0]),
											  _mm_cmplt_epi8(_mm_add_epi8(v, add[1]), below[1])),
								 _mm_cmplt_epi8(_mm_add_epi8(v, add[2]), below[2])));
				bytes = _mm_or_si128(bytes, v);
				if (t != 0)
					window_add(set, p, len, i + pg_rightmost_one_pos32(t),
							   i + pg_leftmost_one_pos32(t), &from, &to, seen);
			}
			if (_mm_movemask_epi8(bytes) != 0)
				any = SWAR_HIGH;
		}
#endif
		/* eight bytes a step (the last ones, with SSE2) */
		for (; i + 8 <= len; i += 8)
		{
			uint64		w = load8(p + i);
			uint64		t = trigger_bytes(ge, gt, w);

			any |= w;
			if (t != 0)
				window_add(set, p, len, i + pg_rightmost_one_pos64(t) / 8,
						   i + pg_leftmost_one_pos64(t) / 8, &from, &to, seen);
		}
		if (i < len)
		{
			/* the last bytes, padded with zeros, which are masked off */
			unsigned char last[8] = {0};
			uint64		w,
						t;

			memcpy(last, p + i, len - i);
			w = load8(last);
			t = trigger_bytes(ge, gt, w) & ((UINT64CONST(1) << (8 * (len - i))) - 1);
			any |= w;
			if (t != 0)
				window_add(set, p, len, i + pg_rightmost_one_pos64(t) / 8,
						   i + pg_leftmost_one_pos64(t) / 8, &from, &to, seen);
		}
		if (to > from)
			scan_part(set, p + from, to - from, seen);
	}
	for (int l = 0; l < set->nlanes; l++)
		found[l] = seen[l] & set->end[l];
	return (any & SWAR_HIGH) == 0;
}

/*
 * esc_shape_scan()'s found bits by one serial scan of the whole text per
 * lane: what the chains and the windows must give, for the fuzz harness.
 */
void
esc_shape_scan_serial(const EscShapeSet *set, const char *text, int len, uint64 *found)
{
	for (int l = 0; l < set->nlanes; l++)
		found[l] = lane_serial(set->mask[l], set->start[l], (const unsigned char *) text,
							   len) & set->end[l];
}

/* a member of a bracket expression, escaped where it would be special */
static void
append_member(StringInfo buf, int b)
{
	if (b == ']' || b == '\\' || b == '^' || b == '-' || b == '[')
		appendStringInfoChar(buf, '\\');
	appendStringInfoChar(buf, (char) b);
}

/*
 * The shape of a pattern as text, one bracket expression per atom
 * (escalation.pattern_shape(), for users and tests); NULL when it has
 * none.
 */
char *
esc_shape_describe(const char *pattern, bool case_sensitive)
{
	ShapeRun   *run = palloc(sizeof(ShapeRun));
	StringInfoData buf;

	if (!pattern_shape(pattern, case_sensitive, run))
		return NULL;
	initStringInfo(&buf);
	for (int i = 0; i < run->len; i++)
	{
		int			n = 0;

		for (int b = 0; b < 128; b++)
			n += atom_has(&run->atoms[i], (unsigned char) b);
		if (n == 1)
		{
			for (int b = 0; b < 128; b++)
				if (atom_has(&run->atoms[i], (unsigned char) b))
				{
					if (!((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') ||
						  (b >= 'A' && b <= 'Z') || b == ' '))
						appendStringInfoChar(&buf, '\\');
					appendStringInfoChar(&buf, (char) b);
				}
			continue;
		}
		appendStringInfoChar(&buf, '[');
		for (int b = 0; b < 128; b++)
		{
			int			e = b;

			if (!atom_has(&run->atoms[i], (unsigned char) b))
				continue;
			while (e + 1 < 128 && atom_has(&run->atoms[i], (unsigned char) (e + 1)))
				e++;
			append_member(&buf, b);
			if (e > b + 1)
				appendStringInfoChar(&buf, '-');
			if (e > b)
				append_member(&buf, e);
			b = e;
		}
		appendStringInfoChar(&buf, ']');
	}
	if (run->ascii_only)
		appendStringInfoString(&buf, " (ASCII text only)");
	return buf.data;
}
