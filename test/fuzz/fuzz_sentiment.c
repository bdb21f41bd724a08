/*-------------------------------------------------------------------------
 *
 * fuzz_sentiment.c
 *	  libFuzzer harness for sentiment.c: esc_sentiment() over any text, with
 *	  a team's own terms (escalation.sentiment_terms) from the input.
 *
 * Input: terms, a 0x00 byte, then the text.  Terms are lines "VFSterm":
 * V is the valence ('0'..'8' for -4..+4, other: none), F the frustration
 * weight ('1'..'8' for 0.5..4, other: none), S 'g' for every source's term
 * (else the source's own); the term is made to satisfy the table's CHECK
 * constraints (one to four lower-case words of 1..31 characters).
 *
 * Checked: no crash, no undefined behaviour; polarity in -1..1 and
 * frustration in 0..1 (finite), at most ESC_SENT_MAX_CUES cues, each a
 * string; sentences reported in order and inside the text, each with
 * scores in range; the same result with and without the callback, from
 * the text pass (alone, and with a source's keywords, whose word memo
 * keeps sentiment's readings of plain words), and with sentiment.c's memo
 * of spans off (the memo lives as long as the process, so it holds spans
 * of earlier inputs and of earlier builds of terms).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "escalation.h"
#include "shim.h"

/* the terms as catalog.c's build_sentiment_terms() builds them */
typedef struct TermRow
{
	bool		global;
	char	   *term;
	bool		has_valence;
	double		valence;
	bool		has_frustration;
	double		frustration;
} TermRow;

static int
term_cmp(const void *a, const void *b)
{
	const EscSentTerm *x = (const EscSentTerm *) a;
	const EscSentTerm *y = (const EscSentTerm *) b;
	int			c = strcmp(x->words[0], y->words[0]);

	if (c != 0)
		return c;
	if (x->nwords != y->nwords)
		return y->nwords - x->nwords;
	return x->source_rank - y->source_rank;
}

static uint64 terms_generation = 0;

static EscSentimentTerms *
build_terms(TermRow *rows, int nrows)
{
	EscSentimentTerms *st;

	if (nrows == 0)
		return NULL;
	st = palloc0(sizeof(EscSentimentTerms));
	/* as catalog.c numbers its builds: sentiment.c's token memo keys on it */
	st->generation = ++terms_generation;
	st->terms = palloc0(sizeof(EscSentTerm) * nrows);
	for (int pass = 0; pass < 2; pass++)
	{
		for (int i = 0; i < nrows; i++)
		{
			TermRow    *tr = &rows[i];
			EscSentTerm *t;
			char	   *copy;
			char	   *tok;
			char	   *save = NULL;

			if (tr->global != (pass == 1))
				continue;
			t = &st->terms[st->nterms];
			t->term = pstrdup(tr->term);
			copy = pstrdup(tr->term);
			for (tok = strtok_r(copy, " ", &save); tok && t->nwords < 4;
				 tok = strtok_r(NULL, " ", &save))
				t->words[t->nwords++] = tok;
			if (t->nwords == 0)
				continue;
			t->has_valence = tr->has_valence && t->nwords == 1;
			t->valence = tr->valence;
			t->has_frustration = tr->has_frustration;
			t->frustration = tr->frustration;
			t->source_rank = pass;
			st->nterms++;
		}
	}
	qsort(st->terms, st->nterms, sizeof(EscSentTerm), term_cmp);
	st->hash_size = 16;
	while (st->hash_size < st->nterms * 2)
		st->hash_size *= 2;
	st->slots = palloc0(sizeof(int) * st->hash_size);
	for (int i = 0; i < st->nterms; i++)
	{
		uint32		h;

		if (i > 0 && strcmp(st->terms[i].words[0], st->terms[i - 1].words[0]) == 0)
			continue;
		h = esc_sentiment_hash(st->terms[i].words[0], strlen(st->terms[i].words[0])) &
			(st->hash_size - 1);
		while (st->slots[h] != 0)
			h = (h + 1) & (st->hash_size - 1);
		st->slots[h] = i + 1;
	}
	return st;
}

/*
 * A term as the CHECK constraint admits it:
 * ^[^[:space:][:upper:]]{1,31}( [^[:space:][:upper:]]{1,31}){0,3}$
 */
static char *
constrain_term(const char *raw)
{
	StringInfoData buf;
	int			words = 0;
	const char *p = raw;

	initStringInfo(&buf);
	while (*p && words < 4)
	{
		int			chars = 0;

		while (*p && isspace((unsigned char) *p))
			p++;
		if (!*p)
			break;
		if (words > 0)
			appendStringInfoChar(&buf, ' ');
		while (*p && !isspace((unsigned char) *p))
		{
			int			l = pg_mblen(p);

			if (chars < 31)
			{
				if (l == 1)
					appendStringInfoChar(&buf, (char) tolower((unsigned char) *p));
				else
					appendBinaryStringInfo(&buf, p, l);
				chars++;
			}
			p += l;
		}
		words++;
	}
	return buf.data;
}

typedef struct EmitState
{
	const char *text;
	int			len;
	const char *last;
	int			n;
} EmitState;

static void
check_scores(const EscSentiment *s, const char *what)
{
	FUZZ_CHECK(isfinite(s->polarity) && s->polarity >= -1 && s->polarity <= 1,
			   "%s: polarity %g", what, s->polarity);
	FUZZ_CHECK(isfinite(s->frustration) && s->frustration >= 0 && s->frustration <= 1,
			   "%s: frustration %g", what, s->frustration);
	FUZZ_CHECK(s->ncues >= 0 && s->ncues <= ESC_SENT_MAX_CUES, "%s: ncues %d", what, s->ncues);
	for (int i = 0; i < s->ncues; i++)
		FUZZ_CHECK(s->cues[i] != NULL && strlen(s->cues[i]) > 0, "%s: cue %d empty", what, i);
}

static void
emit(void *arg, const char *sentence, int len, const EscSentiment *s)
{
	EmitState  *st = (EmitState *) arg;

	FUZZ_CHECK(sentence >= st->text && len >= 0 && sentence + len <= st->text + st->len,
			   "sentence outside the text (offset %ld, len %d, text %d)",
			   (long) (sentence - st->text), len, st->len);
	FUZZ_CHECK(sentence >= st->last, "sentences out of order");
	st->last = sentence;
	st->n++;
	check_scores(s, "sentence");
}

int			LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	MemoryContext cxt = fuzz_begin();
	FuzzInput	in;
	char	   *terms_text;
	char	   *text;
	int			tlen,
				len;
	TermRow    *rows;
	int			nrows = 0;
	EscSentimentTerms *terms;
	EscSentiment a,
				b,
				c;
	EscLexicon *lex;
	EmitState	st;

	fuzz_input(&in, data, size);
	terms_text = fuzz_text_until(&in, '\0', &tlen);
	text = fuzz_text_rest(&in, &len);

	/* the terms, one per line, unique per (source, term) as the index demands */
	rows = palloc0(sizeof(TermRow) * (tlen / 4 + 1));
	for (char *line = terms_text; *line;)
	{
		char	   *nl = strchr(line, '\n');
		TermRow    *tr = &rows[nrows];
		bool		dup = false;

		if (nl)
			*nl = '\0';
		if (strlen(line) >= 4)
		{
			tr->has_valence = line[0] >= '0' && line[0] <= '8';
			tr->valence = line[0] - '4';
			tr->has_frustration = line[1] >= '1' && line[1] <= '8';
			tr->frustration = (line[1] - '0') * 0.5;
			tr->global = line[2] == 'g';
			tr->term = constrain_term(line + 3);
			if (strchr(tr->term, ' '))
				tr->has_valence = false;
			for (int i = 0; i < nrows; i++)
				dup |= (rows[i].global == tr->global && strcmp(rows[i].term, tr->term) == 0);
			if (tr->term[0] != '\0' && (tr->has_valence || tr->has_frustration) && !dup)
				nrows++;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	terms = build_terms(rows, nrows);

	st.text = text;
	st.len = len;
	st.last = text;
	st.n = 0;
	esc_sentiment(text, len, terms, &a, emit, &st);
	check_scores(&a, "text");
	FUZZ_CHECK(st.n == a.nsentences, "%d sentences reported, %d counted", st.n, a.nsentences);

	esc_sentiment(text, len, terms, &b, NULL, NULL);
	FUZZ_CHECK(memcmp(&a, &b, sizeof(EscSentiment)) == 0,
			   "different result without the callback");

	/* the trigger's way, from the one tokenising pass (textpass.c): the same bits */
	esc_sentiment_pass(esc_textpass(text, len, true), terms, NULL, &b);
	FUZZ_CHECK(memcmp(&a, &b, sizeof(EscSentiment)) == 0,
			   "different result from the text pass");

	/*
	 * With a source's keywords, whose word memo keeps readings of plain
	 * words: read there the first time, found the second, found the third
	 * where the keywords' look-ups of the pass left it (the trigger's way),
	 * and read again after a pass without the terms has overwritten them
	 * (another generation).  A keyword with a digit makes the memo keep words with
	 * digits too.
	 */
	lex = esc_lexicon_create(CurrentMemoryContext, SHIM_CFG_ENGLISH);
	(void) esc_lexicon_add_keyword(lex, "refund");
	(void) esc_lexicon_add_keyword(lex, "error 404");
	for (int round = 0; round < 4; round++)
	{
		/* the last round: plain words found by sentiment, not noted by the pass */
		EscTextPass *tp = esc_textpass(text, len, round < 3);

		/* the third time as the trigger does it: the keywords' look-ups first */
		if (round >= 2)
		{
			EscMatch	match;

			esc_lexicon_match_pass(lex, tp, -1, true, &match);
		}
		esc_sentiment_pass(tp, terms, lex, &b);
		FUZZ_CHECK(memcmp(&a, &b, sizeof(EscSentiment)) == 0,
				   "different result with the keyword memo (round %d)", round);
	}
	esc_sentiment(text, len, NULL, &c, NULL, NULL);
	esc_sentiment_pass(esc_textpass(text, len, true), NULL, lex, &b);
	FUZZ_CHECK(memcmp(&c, &b, sizeof(EscSentiment)) == 0,
			   "different result with the keyword memo (no terms)");
	esc_sentiment_pass(esc_textpass(text, len, false), terms, lex, &b);
	FUZZ_CHECK(memcmp(&a, &b, sizeof(EscSentiment)) == 0,
			   "different result with the keyword memo (terms again)");

	/* every span read anew: the same bits */
	esc_sentiment_memo = false;
	esc_sentiment(text, len, terms, &b, NULL, NULL);
	esc_sentiment_memo = true;
	FUZZ_CHECK(memcmp(&a, &b, sizeof(EscSentiment)) == 0,
			   "different result without the memo");

	/* without the team's terms too, with the memo and without */
	esc_sentiment(text, len, NULL, &a, NULL, NULL);
	check_scores(&a, "text without terms");
	esc_sentiment_memo = false;
	esc_sentiment(text, len, NULL, &b, NULL, NULL);
	esc_sentiment_memo = true;
	FUZZ_CHECK(memcmp(&a, &b, sizeof(EscSentiment)) == 0,
			   "different result without the memo (no terms)");

	fuzz_end(cxt);
	return 0;
}
