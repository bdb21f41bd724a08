/*-------------------------------------------------------------------------
 *
 * rules.c
 *	  Pure decision logic: does a rule fire for what we know about a row?
 *
 * No SPI, no catalog access, no writes: the input is an EscFacts (filled by
 * trigger.c or funcs.c) and the output an EscVerdict.  The same function
 * serves the trigger and escalation.explain(), so "why did this fire" and
 * "why did this not fire" are answered by the code that decided.
 *
 * Conditions are checked cheapest first (fields, account, keywords found in
 * the one tokenising pass), then sentiment (one pass of sentiment.c over
 * the text, once per row), then the triage model's prediction (once per
 * row), and the regular expression last, so the regex
 * engine only runs for rules whose other conditions already hold.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"

#include "escalation.h"

/* runs of the regex engine for pattern rules and their prefilter, in this backend */
uint64		esc_pattern_runs = 0;

/*
 * Parse a number the way a user writes one ("500", "-1.5e3", " 42 ").
 * Returns false for anything else, including NaN and infinities.
 */
bool
esc_parse_number(const char *s, double *out)
{
	char	   *end;
	double		d;

	if (s == NULL)
		return false;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (*s == '\0')
		return false;
	errno = 0;
	d = strtod(s, &end);
	if (end == s || errno == ERANGE || isnan(d) || isinf(d))
		return false;
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	if (*end != '\0')
		return false;
	*out = d;
	return true;
}

/*
 * Compare a field value with a rule's threshold.  Numbers compare as numbers
 * when both sides are numbers; otherwise = and <> compare text and the
 * ordering operators are false (a non-number is never "over 500").
 */
bool
esc_compare_field(const char *value, const char *op, const char *threshold,
				  bool numeric, double number)
{
	double		v;
	int			cmp;

	if (value == NULL)
		return false;

	if (numeric && esc_parse_number(value, &v))
		cmp = (v < number) ? -1 : (v > number) ? 1 : 0;
	else if (op[0] == '=' || (op[0] == '<' && op[1] == '>'))
		cmp = strcmp(value, threshold);
	else
		return false;

	if (op[0] == '=')
		return cmp == 0;
	if (op[0] == '<' && op[1] == '>')
		return cmp != 0;
	if (op[0] == '<')
		return op[1] == '=' ? cmp <= 0 : cmp < 0;
	if (op[0] == '>')
		return op[1] == '=' ? cmp >= 0 : cmp > 0;
	return false;
}

static bool
in_list(const char *value, char **list, int n)
{
	if (value == NULL)
		return false;
	for (int i = 0; i < n; i++)
		if (strcmp(value, list[i]) == 0)
			return true;
	return false;
}

/* the row's text as wide characters, for the regex engine */
static void
ensure_wide_text(EscFacts *facts)
{
	if (facts->wtext != NULL || facts->text == NULL)
		return;
	facts->wtext = palloc(sizeof(pg_wchar) * (facts->textlen + 1));
	facts->wlen = pg_mb2wchar_with_len(facts->text, facts->wtext, facts->textlen);
}

/* byte offset in the text of wide-character offset woff */
static int
wide_to_byte_offset(EscFacts *facts, int woff)
{
	const char *p = facts->text;

	for (int i = 0; i < woff && p < facts->text + facts->textlen; i++)
		p += pg_mblen(p);
	return p - facts->text;
}

/*
 * The date of a timestamp in the session's time zone (false: out of range).
 */
static bool
date_of(TimestampTz t, DateADT *date)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;

	if (timestamp2tm(t, &tz, &tm, &fsec, NULL, NULL) != 0)
		return false;
	*date = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
	return true;
}

/*
 * Is the renewal date within `within` of the row's time (and not past)?
 * The row's date, and the horizons of the first two windows asked for,
 * are remembered in the facts (whose time is set before any rule is
 * evaluated): a source's rules mostly share one or two windows, and each
 * date costs a time zone conversion.
 */
static bool
renewal_is_near(EscFacts *facts, EscAccount *acc, Interval *within)
{
	DateADT		horizon_date;
	int			h;

	if (!acc->has_renewal)
		return false;
	if (!facts->at_date_done)
	{
		if (!date_of(facts->at, &facts->at_date))
			return false;
		facts->at_date_done = true;
	}
	for (h = 0; h < facts->nhorizons; h++)
		if (memcmp(&facts->horizon_within[h], within, sizeof(Interval)) == 0)
			break;
	if (h < facts->nhorizons)
		horizon_date = facts->horizon_date[h];
	else
	{
		TimestampTz horizon;

		horizon = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														  TimestampTzGetDatum(facts->at),
														  IntervalPGetDatum(within)));
		if (!date_of(horizon, &horizon_date))
			return false;
		if (h < (int) lengthof(facts->horizon_within))
		{
			facts->horizon_within[h] = *within;
			facts->horizon_date[h] = horizon_date;
			facts->nhorizons++;
		}
	}
	return acc->renewal_date >= facts->at_date && acc->renewal_date <= horizon_date;
}

/* end the current literal run, keeping the longest */
static void
literal_flush(StringInfo cur, StringInfo best)
{
	if (cur->len > best->len)
	{
		resetStringInfo(best);
		appendBinaryStringInfo(best, cur->data, cur->len);
	}
	resetStringInfo(cur);
}

/* skip a bracket expression; returns the position of its closing ']' */
static const char *
skip_bracket(const char *c)
{
	c++;						/* past '[' */
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
		else if (*c == '\\' && c[1])
			c++;
		if (*c)
			c++;
	}
	return c;
}

#define MIN_LITERAL 3

static List *required_literals(const char *p, int len, bool case_sensitive, bool top);

/*
 * The literals of a group's branches, if every branch has one: any match
 * of the group contains one of them.  p points at '(' and `end` at the
 * matching ')'.
 */
static List *
branch_literals(const char *p, const char *end, bool case_sensitive)
{
	List	   *result = NIL;
	const char *b = p + 1;
	int			depth = 0;

	if (p[1] == '?')			/* (?: (?= (?! ...: keep it simple */
		return NIL;
	for (const char *c = p + 1; c <= end; c++)
	{
		if (*c == '\\' && c < end)
			c++;
		else if (*c == '[')
			c = skip_bracket(c);
		else if (*c == '(')
			depth++;
		else if (*c == ')' && depth > 0)
			depth--;
		else if ((*c == '|' && depth == 0) || c == end)
		{
			List	   *l = required_literals(b, c - b, case_sensitive, false);

			if (list_length(l) != 1)
				return NIL;		/* a branch without one literal of its own */
			result = lappend(result, linitial(l));
			b = c + 1;
		}
	}
	return result;
}

/*
 * Literals every match of the pattern contains one of, or NIL: either the
 * longest run of plain ASCII characters at the top level of the pattern
 * (outside groups and bracket expressions, not made optional by a
 * quantifier), at least three characters long; or, failing that, the
 * literals of a required group whose every branch has one ("(timeout|
 * refused)").  Conservative by construction: anything it does not
 * understand ends a run.  Checking for these literals with memmem() before
 * running the regex engine is what makes pattern rules cheap on the many
 * tickets they do not match.
 */
static List *
required_literals(const char *p, int len, bool case_sensitive, bool top)
{
	StringInfoData cur,
				best;
	List	   *set = NIL;
	const char *end = p + len;

	if (top && (strncmp(p, "***", 3) == 0 || strncmp(p, "(?", 2) == 0))
		return NIL;
	initStringInfo(&cur);
	initStringInfo(&best);
	for (const char *c = p; c < end; c++)
	{
		unsigned char ch = (unsigned char) *c;

		if (ch == '\\')
		{
			literal_flush(&cur, &best);
			if (c + 1 < end)
				c++;
		}
		else if (ch == '[')
		{
			literal_flush(&cur, &best);
			c = skip_bracket(c);
			if (c >= end)
				return NIL;
		}
		else if (ch == '(')
		{
			int			depth = 1;
			const char *open = c;

			literal_flush(&cur, &best);
			for (c++; c < end && depth > 0; c++)
			{
				if (*c == '\\' && c + 1 < end)
					c++;
				else if (*c == '[')
				{
					c = skip_bracket(c);
					if (c >= end)
						return NIL;
				}
				else if (*c == '(')
					depth++;
				else if (*c == ')')
					depth--;
			}
			if (depth > 0)
				return NIL;
			c--;				/* at the closing ')' */
			/* a group that must match: its branches' literals, if all have one */
			if (set == NIL && (c + 1 >= end || strchr("?*{", c[1]) == NULL))
				set = branch_literals(open, c, case_sensitive);
		}
		else if (ch == '|')
			return NIL;
		else if (ch == '?' || ch == '*' || ch == '{')
		{
			/* the character before is optional or repeated */
			if (cur.len > 0)
				cur.data[--cur.len] = '\0';
			literal_flush(&cur, &best);
			if (ch == '{')
			{
				while (c < end && *c != '}')
					c++;
				if (c >= end)
					return NIL;
			}
		}
		else if (ch == '+' || ch == '.' || ch == '^' || ch == '$' || ch == ')' || ch >= 0x80)
			literal_flush(&cur, &best);
		else
			appendStringInfoChar(&cur, case_sensitive ? (char) ch : (char) pg_ascii_tolower(ch));
	}
	literal_flush(&cur, &best);
	if (best.len >= MIN_LITERAL)
		return list_make1(best.data);
	return set;
}

List *
esc_required_literals(const char *pattern, bool case_sensitive)
{
	return required_literals(pattern, strlen(pattern), case_sensitive, true);
}

/* does the text contain one of the rule's literals? */
static bool
has_literal(EscRule *rule, EscFacts *facts)
{
	const char *hay = facts->text;
	ListCell   *lc;

	if (!rule->case_sensitive)
		hay = esc_facts_pass(facts)->folded;
	foreach(lc, rule->literals)
	{
		const char *lit = (const char *) lfirst(lc);

		if (esc_find_literal(hay, facts->textlen, lit, strlen(lit)) != NULL)
			return true;
	}
	return false;
}

/*
 * May the rule's pattern match, by its shape?  One shift-and scan of the
 * text serves every pattern rule of the row (shape.c).
 */
static bool
shape_found(EscRule *rule, EscFacts *facts)
{
	if (!facts->shapes_done)
	{
		facts->text_ascii = esc_shape_scan(facts->shapes, facts->text, facts->textlen,
										   facts->shapes_found);
		facts->shapes_done = true;
	}
	if (rule->shape_ascii_only && !facts->text_ascii)
		return true;			/* \d or \w may match a non-ASCII character */
	return (facts->shapes_found[rule->shape_lane] & rule->shape_end) != 0;
}

/*
 * The one tokenising pass over the row's text (textpass.c), made on first
 * use: keywords, literals, sentiment and triage all read it.
 */
EscTextPass *
esc_facts_pass(EscFacts *facts)
{
	if (facts->pass == NULL)
	{
		facts->pass = esc_textpass(facts->text, facts->text ? facts->textlen : 0,
								   facts->pass_cases);
		if (facts->triage != NULL)
			esc_triage_prefetch_pass(facts->triage, facts->pass, facts->lexicon);
	}
	return facts->pass;
}

/*
 * The sentiment of the row's text (subject and body of a ticket, the body
 * of a message), with the source's own terms; computed once per row, and
 * only when a rule asks.
 */
void
esc_facts_sentiment(EscFacts *facts)
{
	if (facts->sentiment_done)
		return;
	esc_sentiment_pass(esc_facts_pass(facts), facts->sentiment_terms, facts->lexicon,
					   &facts->sentiment);
	facts->sentiment_done = true;
}

/*
 * The triage model's prediction for the row's text and fields; computed
 * once per row, and only when a rule asks (facts->triage must be set).
 * When no rule of the source asks for the escalation probability
 * (facts->triage_escalation) only the team is predicted: the team model
 * reads the words, and the subject's grams, which only the escalation
 * model reads, are about half of a ticket's look-ups.  A caller that
 * needs the escalation probability all the same (`escalation`: a rule
 * evaluated outside the source's set) has the prediction made again,
 * whole.
 */
void
esc_facts_triage(EscFacts *facts, bool escalation)
{
	escalation |= facts->triage_escalation;
	if (facts->triage_done && (!facts->triage_doc.words_only || !escalation))
		return;
	esc_triage_vectorize_pass(facts->triage, esc_facts_pass(facts),
							  facts->priority, facts->channel,
							  (facts->account && facts->account->found) ? facts->account->tier : NULL,
							  escalation, &facts->triage_doc);
	esc_triage_score(facts->triage, &facts->triage_doc, &facts->prediction, NULL, false);
	facts->triage_done = true;
	facts->triage_explained = false;
}

/* the prediction's words (a reason's evidence), computed on first use */
void
esc_facts_triage_explain(EscFacts *facts, bool escalation)
{
	esc_facts_triage(facts, escalation);
	if (facts->triage_explained)
		return;
	esc_triage_explain(facts->triage, &facts->triage_doc, &facts->prediction);
	facts->triage_explained = true;
}

/*
 * The triage conditions: the predicted team's probability (routing to that
 * team when the rule names none) and the predicted escalation probability.
 * Without a model they never hold.
 */
static bool
triage_holds(EscRule *rule, EscFacts *facts, EscVerdict *v)
{
	EscPrediction *p = &facts->prediction;

	if (facts->is_message)
	{
		v->why_not = "triage predictions are made for tickets, not messages";
		return false;
	}
	if (facts->triage == NULL)
	{
		v->why_not = "no triage model for this source";
		return false;
	}
	esc_facts_triage(facts, rule->has_escalation_probability);
	if (rule->has_team_confidence)
	{
		if (p->team < 0 || p->team_prob < rule->team_confidence)
		{
			v->why_not = "predicted team's confidence is below the rule's threshold";
			return false;
		}
		if (rule->target_team != NULL)
		{
			if (strcmp(rule->target_team, p->team_name) != 0)
			{
				v->why_not = "predicted team is not the rule's target team";
				return false;
			}
		}
		else if (!p->routable)
		{
			v->why_not = "predicted team takes no escalations (not in escalation.teams, or tier 1)";
			return false;
		}
		else
			v->target_team = p->team_name;
	}
	if (rule->has_escalation_probability)
	{
		if (!p->has_escalation)
		{
			v->why_not = "the triage model has no escalation part";
			return false;
		}
		if (p->escalation_prob < rule->escalation_probability)
		{
			v->why_not = "predicted escalation probability is below the rule's threshold";
			return false;
		}
	}
	return true;
}

void
esc_rule_evaluate(EscRule *rule, EscFacts *facts, EscVerdict *v)
{
	v->fires = false;
	v->why_not = NULL;
	v->pattern_so = v->pattern_eo = -1;
	v->target_team = NULL;

	if (facts->is_message ? !rule->on_message : !rule->on_ticket)
	{
		v->why_not = facts->is_message ? "rule applies to tickets, not messages"
			: "rule applies to messages, not tickets";
		return;
	}

	/* a tenant's rule never judges another tenant's ticket */
	if (rule->tenant && (facts->tenant == NULL || strcmp(facts->tenant, rule->tenant) != 0))
	{
		v->why_not = "ticket belongs to another tenant";
		return;
	}
	if (rule->npriorities > 0 && !in_list(facts->priority, rule->priorities, rule->npriorities))
	{
		v->why_not = "priority is not one of the rule's priorities";
		return;
	}
	if (rule->nchannels > 0 && !in_list(facts->channel, rule->channels, rule->nchannels))
	{
		v->why_not = "channel is not one of the rule's channels";
		return;
	}
	if (rule->field)
	{
		if (rule->field_index < 0)
		{
			v->why_not = "the rule's field is not mapped for this source";
			return;
		}
		if (!esc_compare_field(facts->field_values[rule->field_index], rule->field_op,
							   rule->field_value, rule->field_numeric, rule->field_number))
		{
			v->why_not = "field condition does not hold";
			return;
		}
	}

	if (rule->account_vip >= 0 || rule->naccount_tiers > 0 ||
		rule->has_min_value || rule->has_renewal_within)
	{
		EscAccount *acc = facts->account;

		if (acc == NULL || !acc->found)
		{
			v->why_not = "ticket has no known account";
			return;
		}
		if (rule->account_vip >= 0 && acc->vip != (rule->account_vip == 1))
		{
			v->why_not = rule->account_vip ? "account is not VIP" : "account is VIP";
			return;
		}
		if (rule->naccount_tiers > 0 && !in_list(acc->tier, rule->account_tiers, rule->naccount_tiers))
		{
			v->why_not = "account tier is not one of the rule's tiers";
			return;
		}
		if (rule->has_min_value &&
			(!acc->has_value || acc->annual_value < rule->min_annual_value))
		{
			v->why_not = "account annual value is below the rule's minimum";
			return;
		}
		if (rule->has_renewal_within &&
			!renewal_is_near(facts, acc, &rule->renewal_within))
		{
			v->why_not = "account renewal is not within the rule's window";
			return;
		}
	}

	if (rule->nkeywords > 0)
	{
		bool		any = false;

		for (int i = 0; i < rule->nkeywords && !any; i++)
		{
			int			k = rule->kwids[i];

			any = (k >= 0 && facts->match && k < facts->match->nkeywords &&
				   facts->match->matched[k]);
		}
		if (!any)
		{
			v->why_not = "no keyword matched";
			return;
		}
	}

	if (rule->has_sentiment_below || rule->has_frustration_above)
	{
		esc_facts_sentiment(facts);
		if (rule->has_sentiment_below &&
			!(facts->sentiment.polarity < rule->sentiment_below))
		{
			v->why_not = "sentiment is not below the rule's threshold";
			return;
		}
		if (rule->has_frustration_above &&
			!(facts->sentiment.frustration > rule->frustration_above))
		{
			v->why_not = "frustration is not above the rule's threshold";
			return;
		}
	}

	if ((rule->has_team_confidence || rule->has_escalation_probability) &&
		!triage_holds(rule, facts, v))
	{
		v->target_team = NULL;
		return;
	}

	if (rule->regex)
	{
		regmatch_t	pm[1];
		int			rc;

		if (facts->text == NULL || facts->textlen == 0)
		{
			v->why_not = "pattern did not match (no text)";
			return;
		}
		/*
		 * The shape first where the scan is made for every text anyway (a
		 * pattern without a literal has a shape): it answers for all rules
		 * at once; else the literal's memmem(), then the shape.
		 */
		if (rule->shape_end != 0 && facts->shapes != NULL &&
			(facts->shapes_done || facts->shapes->eager) && !shape_found(rule, facts))
		{
			v->why_not = "pattern did not match";
			return;
		}
		if (rule->literals != NIL && !has_literal(rule, facts))
		{
			v->why_not = "pattern did not match";
			return;
		}
		if (rule->shape_end != 0 && facts->shapes != NULL && !shape_found(rule, facts))
		{
			v->why_not = "pattern did not match";
			return;
		}
		ensure_wide_text(facts);
		if (rule->prefilter >= 0 && facts->prefilter[rule->prefilter] != NULL)
		{
			int			g = rule->prefilter;

			if (facts->prefilter_state[g] < 0)
			{
				esc_pattern_runs++;
				facts->prefilter_state[g] =
					pg_regexec(facts->prefilter[g], facts->wtext, facts->wlen, 0, NULL,
							   0, NULL, 0) == REG_OKAY ? 1 : 0;
			}
			if (facts->prefilter_state[g] == 0)
			{
				v->why_not = "pattern did not match";
				return;
			}
		}
		esc_pattern_runs++;
		rc = pg_regexec(rule->regex, facts->wtext, facts->wlen, 0, NULL, 1, pm, 0);
		if (rc == REG_NOMATCH)
		{
			v->why_not = "pattern did not match";
			return;
		}
		if (rc != REG_OKAY)
		{
			/* regex engine limits (e.g. too complex): treated as no match */
			v->why_not = "pattern could not be evaluated";
			return;
		}
		v->pattern_so = wide_to_byte_offset(facts, pm[0].rm_so);
		v->pattern_eo = wide_to_byte_offset(facts, pm[0].rm_eo);
	}

	v->fires = true;
}
