/*-------------------------------------------------------------------------
 *
 * fuzz_rules.c
 *	  libFuzzer harness for rules.c: the pattern prefilter
 *	  (esc_required_literals, which reads the rule's regular expression),
 *	  field comparisons (esc_parse_number, esc_compare_field) and
 *	  esc_rule_evaluate() itself, on any pattern, field value and text.
 *
 * The shapes (shape.c): when a comparable pattern matches, the text holds
 * its shape, and the rules, which look for their shapes before running
 * the engine, still fire exactly when their patterns match.  The scan,
 * in windows around trigger bytes and in chains, finds exactly what one
 * serial scan of the whole text finds, for one shape and for two.
 *
 * Input: a flags byte, then lines: pattern 1, pattern 2, field value,
 * field threshold; the rest is the ticket text.
 *
 * The regex engine.  The harness cannot link PostgreSQL's, so pg_regexec
 * is glibc's POSIX ERE engine here (shim/gre.c).  That serves two ends:
 * esc_rule_evaluate's own code (the literal prefilter, the shared combined
 * prefilter and its cached state, wide-character offsets) runs for real;
 * and for patterns that mean the same in an ERE and in PostgreSQL's ARE
 * (no backslash, no "(?", no "***"), glibc is the oracle:
 *
 *	- the prefilter is sound: when the pattern matches the text, the text
 *	  (ASCII-folded unless case-sensitive) contains one of the literals
 *	  esc_required_literals() gave;
 *	- a rule fires exactly when its pattern matches, also when two rules
 *	  share the combined prefilter scan (catalog.c's "(?:p1)|(?:p2)").
 *
 * Comparable patterns also have no quantifier right after another: an
 * ARE's "x+?" is a non-greedy "x+", an ERE's is "(x+)?".
 *
 * Case-insensitive comparisons are made on ASCII texts only, because
 * glibc folds some non-ASCII letters to ASCII ones (KELVIN SIGN to "k")
 * and PostgreSQL's engine does not.  Whatever the pattern, the match
 * offsets a rule reports must lie on character boundaries inside the text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "escalation.h"
#include "mb/pg_wchar.h"
#include "shim.h"

/* ---------- pg_regexec on glibc: re_guts holds the compiled ERE */

int
pg_regexec(regex_t *re, const pg_wchar *string, size_t len, size_t search_start,
		   rm_detail_t *details, size_t nmatch, regmatch_t pmatch[], int flags)
{
	char	   *utf8 = palloc(len * 4 + 1);
	char	   *p = utf8;
	int			so,
				eo;
	bool		found;

	if (search_start != 0 || flags != 0)
		fuzz_fail("pg_regexec with search_start %zu, flags %d", search_start, flags);
	for (size_t i = 0; i < len; i++)
		p = (char *) unicode_to_utf8(string[i], (unsigned char *) p) +
			pg_utf_mblen((unsigned char *) p);
	*p = '\0';
	found = gre_match(re->re_guts, utf8, &so, &eo);
	if (found && nmatch > 0)
	{
		/* byte offsets to character offsets */
		pmatch[0].rm_so = pg_mbstrlen_with_len(utf8, so);
		pmatch[0].rm_eo = pg_mbstrlen_with_len(utf8, eo);
	}
	pfree(utf8);
	return found ? REG_OKAY : REG_NOMATCH;
}

int
pg_mbstrlen_with_len(const char *mbstr, int limit)
{
	int			n = 0;

	while (limit > 0 && *mbstr)
	{
		int			l = pg_utf_mblen((const unsigned char *) mbstr);

		limit -= l;
		mbstr += l;
		n++;
	}
	return n;
}

/*
 * glibc's regcomp takes exponential time and memory on long runs of
 * quantifiers ("a++++++..."), which PostgreSQL's engine refuses as too
 * complex, and memory that multiplies with nested bounds ("((a{99}){99}){99}"
 * took 900 MB and 10 s; with {255}, more than libFuzzer's 2 GB limit, which
 * failed a CI smoke run), and with one large count ("e{1,15002}" passed
 * 2 GB): only short patterns with short quantifier runs and at most one
 * bound, of counts PostgreSQL accepts (at most 255), go to glibc.
 */
static bool
gre_friendly(const char *pattern)
{
	int			run = 0;
	int			bounds = 0;

	if (strlen(pattern) > 64)
		return false;
	for (const char *c = pattern; *c; c++)
	{
		run = strchr("*+?{}", *c) ? run + 1 : 0;
		if (run > 2)
			return false;
		if (*c == '{' && ++bounds > 1)
			return false;
		/* PostgreSQL refuses counts over 255 (DUPMAX); glibc expands them */
		if (*c >= '0' && *c <= '9' && bounds > 0 && atoi(c) > 255)
			return false;
	}
	return true;
}

/*
 * Parentheses balanced outside bracket expressions: PostgreSQL refuses an
 * unmatched ")" that a POSIX ERE takes as a literal, and a rule with a
 * pattern PostgreSQL refuses does not exist.
 */
static bool
balanced(const char *p)
{
	int			depth = 0;

	for (const char *c = p; *c; c++)
	{
		if (*c == '\\' && c[1])
			c++;
		else if (*c == '[')
		{
			c++;
			if (*c == '^')
				c++;
			if (*c == ']')
				c++;
			while (*c && *c != ']')
			{
				if (*c == '[' && (c[1] == ':' || c[1] == '.' || c[1] == '='))
				{
					char		close = c[1];

					c += 2;
					while (*c && !(*c == close && c[1] == ']'))
						c++;
					if (*c)
						c++;
				}
				if (*c)
					c++;
			}
			if (!*c)
				return false;
		}
		else if (*c == '(')
			depth++;
		else if (*c == ')' && --depth < 0)
			return false;
	}
	return depth == 0;
}

static void *
gre_compile_friendly(const char *pattern, bool icase)
{
	return gre_friendly(pattern) && balanced(pattern) ? gre_compile(pattern, icase) : NULL;
}

static regex_t *
shim_regex(const char *pattern, bool case_sensitive)
{
	void	   *g = gre_compile_friendly(pattern, !case_sensitive);
	regex_t    *re;

	if (g == NULL)
		return NULL;
	re = palloc0(sizeof(regex_t));
	re->re_guts = g;
	return re;
}

/*
 * The same meaning as an ERE and as an ARE, as far as matching goes: no
 * escapes, options or directors, and no quantifier right after another.
 * An ARE reads "x+?" as a non-greedy "x+" (at least one x) and refuses
 * "x+*"; an ERE reads both as "(x+)?" or "(x+)*", which also match nothing.
 */
static bool
comparable(const char *pattern)
{
	if (strchr(pattern, '\\') != NULL || strstr(pattern, "(?") != NULL ||
		strncmp(pattern, "***", 3) == 0)
		return false;
	for (const char *c = pattern; *c; c++)
		if (strchr("*+?}", *c) && c[1] && strchr("*+?{", c[1]))
			return false;
	return true;
}

/* catalog.c's pattern_combinable() */
static bool
combinable(const char *p)
{
	if (strncmp(p, "***", 3) == 0 || strncmp(p, "(?", 2) == 0)
		return false;
	for (const char *c = p; *c; c++)
	{
		if (*c == '\\')
		{
			if (c[1] >= '1' && c[1] <= '9')
				return false;
			if (c[1] != '\0')
				c++;
		}
	}
	return true;
}

static bool
ascii_only(const char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s >= 0x80)
			return false;
	return true;
}

static bool
contains_literal(List *literals, const char *text, int len, bool case_sensitive)
{
	char	   *hay = pnstrdup(text, len);
	ListCell   *lc;

	if (!case_sensitive)
		for (char *c = hay; *c; c++)
			*c = pg_ascii_tolower((unsigned char) *c);
	foreach(lc, literals)
		if (strstr(hay, (const char *) lfirst(lc)) != NULL)
		return true;
	return false;
}

static void
check_literals(const char *pattern, bool cs, const char *text, int len)
{
	List	   *lits = esc_required_literals(pattern, cs);
	ListCell   *lc;
	void	   *g;
	int			so,
				eo;

	foreach(lc, lits)
	{
		const char *l = lfirst(lc);

		FUZZ_CHECK(strlen(l) > 0, "empty literal from \"%s\"", pattern);
		if (!cs)
			for (const char *c = l; *c; c++)
				FUZZ_CHECK(!(*c >= 'A' && *c <= 'Z'), "literal \"%s\" not folded", l);
	}
	if (lits == NIL || !comparable(pattern) || (!cs && !ascii_only(text)))
		return;
	g = gre_compile_friendly(pattern, !cs);
	if (g == NULL)
		return;
	if (gre_match(g, text, &so, &eo))
		FUZZ_CHECK(contains_literal(lits, text, len, cs),
				   "pattern \"%s\" (%s) matches the text at %d..%d, but the text has none of its %d literals, the first \"%s\"",
				   pattern, cs ? "case-sensitive" : "case-insensitive", so, eo,
				   list_length(lits), (const char *) linitial(lits));
	gre_free(g);
}

/*
 * esc_find_literal() (literal.c) finds what memmem() finds: the literals
 * of the pattern, every slice of the pattern of up to 24 bytes, and slices
 * of the text (which occur in it), in the text and in the text repeated
 * to more than 64 bytes, so that the sixteen-at-a-time loop runs.
 */
static void
check_find(const char *needle, int m, const char *text, int len)
{
	const char *want = memmem(text, len, needle, m);
	const char *got = esc_find_literal(text, len, needle, m);

	FUZZ_CHECK(got == want, "literal of %d bytes in %d: found at %ld, memmem() at %ld",
			   m, len, got ? (long) (got - text) : -1L, want ? (long) (want - text) : -1L);
}

static void
check_find_literal(const char *pattern, bool cs, const char *text, int len)
{
	List	   *lits = esc_required_literals(pattern, cs);
	ListCell   *lc;
	int			plen = strlen(pattern);
	int			reps = len > 0 ? 80 / len + 2 : 0;
	char	   *longer = palloc(Max(len * reps, 1));
	int			llen = 0;

	for (int r = 0; r < reps; r++)
	{
		memcpy(longer + llen, text, len);
		llen += len;
	}
	/* one byte changed near the end, so that a late occurrence is unique */
	if (llen > 0)
		longer[llen - 1 - (len / 3)] ^= 0x20;
	foreach(lc, lits)
	{
		const char *l = lfirst(lc);

		check_find(l, strlen(l), text, len);
		check_find(l, strlen(l), longer, llen);
	}
	for (int a = 0; a < plen && a < 8; a++)
		for (int m = 0; a + m <= plen && m <= 24; m += 3)
		{
			check_find(pattern + a, m, text, len);
			check_find(pattern + a, m, longer, llen);
		}
	for (int a = 0; a < len; a += 1 + len / 5)
		for (int m = 1; a + m <= len && m <= 24; m += 5)
		{
			check_find(text + a, m, text, len);
			check_find(text + a, m, longer, llen);
			check_find(text + a, m, longer + 1, llen - 1);
		}
	pfree(longer);
}

/*
 * The pattern's shape (shape.c) on its own: when the pattern matches the
 * text, one scan finds the shape (on an ASCII text, for a shape with \d or
 * \w; those have a backslash, which the oracle cannot read anyway).
 */
static void
check_shape(const char *pattern, bool cs, const char *text, int len)
{
	EscShapeSet *set = palloc0(sizeof(EscShapeSet));
	int			lane;
	uint64		endbit,
				found[ESC_SHAPE_LANES];
	bool		ascii_only_shape;
	bool		ascii;
	void	   *g;
	int			so,
				eo;

	(void) esc_shape_describe(pattern, cs);
	if (!esc_shape_add(set, pattern, cs, ESC_SHAPE_LANES, false, &lane, &endbit, &ascii_only_shape))
		return;
	FUZZ_CHECK(lane == 0 && endbit != 0 && set->nlanes == 1 && set->used[0] >= ESC_SHAPE_MIN &&
			   set->used[0] <= ESC_SHAPE_MAX, "shape of \"%s\": lane %d, %d atoms",
			   pattern, lane, set->used[0]);
	ascii = esc_shape_scan(set, text, len, found);
	FUZZ_CHECK(ascii == ascii_only(text), "shape scan: ASCII %d", ascii);
	{
		/*
		 * The scan, in windows around the trigger bytes (unless the shape
		 * has no rare atom) and in four chains over a part of 512 bytes or
		 * more, finds what one serial scan of the whole text does: on the
		 * text, and on the text set into 601 bytes of filler across each
		 * bound of the chains' quarters and at the end, where a chain's
		 * lead-in or the last chain's tail decide.  The filler is a byte
		 * that is no letter nor digit (mostly no trigger byte: windows
		 * around the text's own only), then a trigger byte of the shape
		 * (one window over all, in chains).
		 */
		uint64		serial[ESC_SHAPE_LANES];
		int			flen = 601;
		int			q = flen / 4;
		int			bounds[4] = {q, 2 * q, 3 * q, flen};
		char	   *longer = palloc(flen);
		char		fillers[2] = {'\x01', '\x01'};

		for (int c = 127; c > 0; c--)
			if ((set->trigger[c >> 6] >> (c & 63)) & 1)
				fillers[1] = (char) c;
		esc_shape_scan_serial(set, text, len, serial);
		FUZZ_CHECK(found[0] == serial[0], "shape scan of %d bytes: %llx, serially %llx",
				   len, (unsigned long long) found[0], (unsigned long long) serial[0]);
		for (int f = 0; f < 2 && (f == 0 || !set->whole); f++)
			for (int b = 0; b < 4 && len <= flen; b++)
				for (int k = 0; k < 4; k++)
				{
					/* the text ends just before, at, or after the bound */
					int			at = bounds[b] - len + (k == 0 ? -1 : k == 1 ? 0 : k == 2 ? 1 : len / 2);

					at = Max(0, Min(at, flen - len));
					memset(longer, fillers[f], flen);
					memcpy(longer + at, text, len);
					(void) esc_shape_scan(set, longer, flen, found);
					esc_shape_scan_serial(set, longer, flen, serial);
					FUZZ_CHECK(found[0] == serial[0],
							   "shape scan of the text at %d of %d bytes of 0x%02x: %llx, serially %llx",
							   at, flen, (unsigned char) fillers[f], (unsigned long long) found[0],
							   (unsigned long long) serial[0]);
				}
		pfree(longer);
		(void) esc_shape_scan(set, text, len, found);
	}
	if (!comparable(pattern) || (!cs && !ascii_only(text)))
		return;
	g = gre_compile_friendly(pattern, !cs);
	if (g == NULL)
		return;
	if (gre_match(g, text, &so, &eo))
		FUZZ_CHECK((found[0] & endbit) != 0,
				   "pattern \"%s\" (%s) matches the text at %d..%d, but its shape %s is not found",
				   pattern, cs ? "case-sensitive" : "case-insensitive", so, eo,
				   esc_shape_describe(pattern, cs));
	gre_free(g);
}

static const char *const ops[] = {"=", "<>", "<", "<=", ">", ">="};

int			LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	MemoryContext cxt = fuzz_begin();
	FuzzInput	in;
	uint8		flags;
	char	   *pat[2];
	char	   *value;
	char	   *threshold;
	char	   *text;
	int			l,
				len;
	bool		cs[2];
	EscRule		rules[3];
	EscFacts	facts;
	regex_t    *prefilter[2] = {NULL, NULL};
	EscShapeSet *shapes;
	int			ncombined[2] = {0, 0};
	StringInfoData combined_are[2],
				combined_ere[2];
	const char *field_values[1];
	double		number;

	fuzz_input(&in, data, size);
	flags = fuzz_u8(&in);
	pat[0] = fuzz_text_until(&in, '\n', &l);
	pat[1] = fuzz_text_until(&in, '\n', &l);
	value = fuzz_text_until(&in, '\n', &l);
	threshold = fuzz_text_until(&in, '\n', &l);
	text = fuzz_text_rest(&in, &len);
	cs[0] = flags & 1;
	cs[1] = flags & 2;

	/* the prefilter on its own, both case modes */
	for (int i = 0; i < 2; i++)
	{
		check_literals(pat[i], true, text, len);
		check_literals(pat[i], false, text, len);
		check_shape(pat[i], true, text, len);
		check_shape(pat[i], false, text, len);
		check_find_literal(pat[i], true, text, len);
		check_find_literal(pat[i], false, text, len);
	}

	/* field comparisons */
	(void) esc_parse_number(value, &number);
	{
		bool		numeric = esc_parse_number(threshold, &number);

		for (int o = 0; o < (int) lengthof(ops); o++)
			(void) esc_compare_field(value, ops[o], threshold, numeric, numeric ? number : 0);
	}

	/* two pattern rules, compiled as catalog.c compiles them */
	memset(rules, 0, sizeof(rules));
	shapes = palloc0(sizeof(EscShapeSet));
	for (int g = 0; g < 2; g++)
	{
		initStringInfo(&combined_are[g]);
		initStringInfo(&combined_ere[g]);
	}
	for (int i = 0; i < 2; i++)
	{
		EscRule    *r = &rules[i];

		r->rule_id = i + 1;
		r->name = i == 0 ? "first" : "second";
		r->on_ticket = true;
		r->account_vip = -1;
		r->prefilter = -1;
		r->field_index = -1;
		r->pattern = pat[i];
		r->case_sensitive = cs[i];
		r->regex = shim_regex(pat[i], cs[i]);
		if (r->regex == NULL)
			continue;
		r->literals = esc_required_literals(pat[i], cs[i]);
		if (!esc_shape_add(shapes, pat[i], cs[i], r->literals == NIL ? ESC_SHAPE_LANES : 1,
						   r->literals != NIL, &r->shape_lane, &r->shape_end,
						   &r->shape_ascii_only))
			r->shape_end = 0;
		else if (r->literals == NIL || (flags & 0x80))
			shapes->eager = true;	/* both orders of the literal and shape checks */
		if (r->literals == NIL && combinable(pat[i]))
		{
			int			g = cs[i] ? 1 : 0;

			r->prefilter = g;
			if (combined_are[g].len > 0)
			{
				appendStringInfoChar(&combined_are[g], '|');
				appendStringInfoChar(&combined_ere[g], '|');
			}
			appendStringInfo(&combined_are[g], "(?:%s)", pat[i]);
			appendStringInfo(&combined_ere[g], "(%s)", pat[i]);
			ncombined[g]++;
		}
	}
	if (shapes->nlanes > 0)
	{
		/* the two rules' shapes in one set, in one lane or two: as serially */
		uint64		got[ESC_SHAPE_LANES],
					want[ESC_SHAPE_LANES];

		(void) esc_shape_scan(shapes, text, len, got);
		esc_shape_scan_serial(shapes, text, len, want);
		for (int l = 0; l < shapes->nlanes; l++)
			FUZZ_CHECK(got[l] == want[l],
					   "two shapes (%s), lane %d of %d bytes: %llx, serially %llx",
					   shapes->whole ? "whole text" : "windows", l, len,
					   (unsigned long long) got[l], (unsigned long long) want[l]);
	}
	for (int g = 0; g < 2; g++)
	{
		if (ncombined[g] >= 2)
			prefilter[g] = shim_regex(combined_ere[g].data, g == 1);
		if (prefilter[g] == NULL)
			for (int i = 0; i < 2; i++)
				if (rules[i].prefilter == g)
					rules[i].prefilter = -1;
	}

	/* a third rule: a field condition and sentiment thresholds */
	rules[2].on_ticket = true;
	rules[2].account_vip = -1;
	rules[2].prefilter = -1;
	rules[2].field = "amount";
	rules[2].field_index = 0;
	rules[2].field_op = (char *) ops[(flags >> 2) % lengthof(ops)];
	rules[2].field_value = threshold;
	rules[2].field_numeric = esc_parse_number(threshold, &rules[2].field_number);
	rules[2].has_sentiment_below = (flags & 0x20) != 0;
	rules[2].sentiment_below = 0.1;
	rules[2].has_frustration_above = (flags & 0x40) != 0;
	rules[2].frustration_above = 0.3;
	field_values[0] = value;

	memset(&facts, 0, sizeof(facts));
	facts.status = ESC_STATUS_OPEN;
	facts.field_values = field_values;
	facts.text = text;
	facts.textlen = len;
	facts.prefilter[0] = prefilter[0];
	facts.prefilter[1] = prefilter[1];
	facts.prefilter_state[0] = facts.prefilter_state[1] = -1;
	facts.shapes = shapes->nlanes > 0 ? shapes : NULL;

	for (int i = 0; i < 3; i++)
	{
		EscRule    *r = &rules[i];
		EscVerdict	v;

		if (i < 2 && r->regex == NULL)
			continue;
		esc_rule_evaluate(r, &facts, &v);
		FUZZ_CHECK(v.fires == (v.why_not == NULL), "rule %d: fires %d, why_not %s",
				   i, v.fires, v.why_not ? v.why_not : "NULL");
		if (i < 2)
		{
			int			so,
						eo;
			bool		m = len > 0 && gre_match(r->regex->re_guts, text, &so, &eo);

			if (v.fires)
				FUZZ_CHECK(v.pattern_so >= 0 && v.pattern_so <= v.pattern_eo && v.pattern_eo <= len &&
						   (v.pattern_so == len || (text[v.pattern_so] & 0xC0) != 0x80) &&
						   (v.pattern_eo == len || (text[v.pattern_eo] & 0xC0) != 0x80),
						   "rule %d: match offsets %d..%d in a text of %d bytes",
						   i, v.pattern_so, v.pattern_eo, len);
			if (comparable(pat[i]) && (cs[i] || ascii_only(text)))
				FUZZ_CHECK(v.fires == m,
						   "rule %d, pattern \"%s\" (%s, prefilter %d): fires %d, but the pattern %s",
						   i, pat[i], cs[i] ? "case-sensitive" : "case-insensitive", r->prefilter,
						   v.fires, m ? "matches" : "does not match");
		}
		else
		{
			bool		expect = esc_compare_field(value, r->field_op, threshold,
												   r->field_numeric, r->field_number);

			if (expect && (r->has_sentiment_below || r->has_frustration_above))
			{
				EscSentiment s;

				esc_sentiment(text, len, NULL, &s, NULL, NULL);
				if (r->has_sentiment_below && !(s.polarity < r->sentiment_below))
					expect = false;
				if (r->has_frustration_above && !(s.frustration > r->frustration_above))
					expect = false;
			}
			FUZZ_CHECK(v.fires == expect, "field/sentiment rule: fires %d, expected %d", v.fires, expect);
		}
	}

	for (int i = 0; i < 2; i++)
		if (rules[i].regex)
			gre_free(rules[i].regex->re_guts);
	for (int g = 0; g < 2; g++)
		if (prefilter[g])
			gre_free(prefilter[g]->re_guts);
	fuzz_end(cxt);
	return 0;
}
