/*-------------------------------------------------------------------------
 *
 * sentiment.c
 *	  Sentiment (polarity, -1 .. +1) and frustration (0 .. 1) of a text:
 *	  pure C, no SPI, no catalog, no allocation.
 *
 * Polarity follows VADER (Hutto & Gilbert, ICWSM 2014; lexicon derived
 * from theirs, MIT, see data/sentiment/LICENSE.txt), sentence by sentence:
 *
 *	- words are split on white space, punctuation stripped around them
 *	  (kept when that leaves two characters or fewer, so ":)" and ":-("
 *	  stay emoticons) and looked up lower-cased in the lexicon, which holds
 *	  words, slang, emoticons; emoji are scored through their description;
 *	- a booster or dampener up to three words before a word scales it
 *	  ("very good", "slightly bad"), less with distance; a negation up to
 *	  three words before flips and shrinks it (x -0.74: "not good"), as do
 *	  "no" and "least"; "never so/this" intensifies instead;
 *	- a word in ALL CAPS among words that are not gets +0.733 intensity;
 *	- after "but", words weigh 1.5x, before it 0.5x;
 *	- "!" (up to four) and "??" add intensity to the sentence's sum, which
 *	  is squashed into -1 .. +1 by x / sqrt(x^2 + 15).
 *
 * Deliberate differences from VADER's Python (each measured: see
 * docs/benchmarks.md): "ok," and "no." are found (VADER keeps punctuation
 * on words of two letters); curly apostrophes read as "'"; an unknown word
 * is looked up by its base form ("crashed" -> "crash"); "like" counts only
 * as a verb ("I like it", not "looks like a toy"); "nobody" negates; the
 * "but" rule scales by position (VADER's scales by the first equal value);
 * a text of several sentences scores the mean of its sentences that carry
 * sentiment, so a long ticket does not saturate at +-1.  The generator
 * adds product and support words and makes "please", "thanks" and
 * "support" neutral (data/sentiment/support_lexicon.txt).
 *
 * Frustration is ours: support cues (data/sentiment/frustration_cues.txt:
 * repeated contacts, waiting, nobody caring, cancelling, asking for a
 * manager) add their weights, the longest cue at a position winning;
 * shouting (ALL-CAPS words, "!!", "??") and negative polarity add a little;
 * frustration = 1 - exp(-sum / 2).
 *
 * A team's own terms (escalation.sentiment_terms, built per source by
 * catalog.c) override a word's valence or add frustration cues.
 *
 * Cost: one pass; per word an FNV hash probe into a constant table built at
 * compile time (sentiment_lexicon.c).  A sentence is scored in a fixed
 * array on the stack; a "sentence" longer than MAX_TOKENS words is scored
 * in pieces of MAX_TOKENS, so any text, 1 MB included, runs in linear time
 * and constant memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "escalation.h"
#include "sentiment_lexicon.h"

#define MAX_TOKENS	128

/* VADER's empirically derived constants */
#define B_INCR		0.293
#define B_DECR		(-0.293)
#define C_INCR		0.733
#define N_SCALAR	(-0.74)
#define ALPHA		15.0

typedef struct Token
{
	const char *s;				/* as written (punctuation stripped) */
	int			len;
	char		low[ESC_SENT_MAX_WORD + 1];	/* lower case; "" if too long */
	int			lowlen;
	int			word;			/* index in esc_sent_words, -1 */
	int			term;			/* index in the source's terms, -1 */
	float		valence;		/* lexicon valence (own terms win) */
	uint8		flags;
	uint8		special;		/* EscSentSpecial */
	bool		upper;			/* ALL CAPS */
	bool		emoji;
} Token;

typedef struct Sentence
{
	const char *start;
	int			len;
	int			ntok;
	Token		tok[MAX_TOKENS];
	double		sentiments[MAX_TOKENS];
	int			nexclaim;
	int			nquestion;
} Sentence;

#define FNV_INIT	2166136261u
#define FNV_STEP(h, c)	(((h) ^ (unsigned char) (c)) * 16777619u)

uint32
esc_sentiment_hash(const char *s, int len)
{
	uint32		h = FNV_INIT;

	for (int i = 0; i < len; i++)
		h = FNV_STEP(h, s[i]);
	return h;
}

/* the word with this lower-case text and hash, -1 */
static inline int
lookup_word_hashed(const char *low, int len, uint32 hash)
{
	uint32		h = hash & (ESC_SENT_HASH_SIZE - 1);
	uint32		tag = hash >> 16;

	for (;;)
	{
		uint32		slot = esc_sent_slots[h];

		if (slot == 0)
			return -1;
		if ((slot >> 16) == tag)
		{
			const EscSentWord *w = &esc_sent_words[(slot & 0xFFFF) - 1];

			if (w->len == len && memcmp(w->word, low, len) == 0)
				return (slot & 0xFFFF) - 1;
		}
		h = (h + 1) & (ESC_SENT_HASH_SIZE - 1);
	}
}

/* first term of the source starting with this word, -1 */
static int
lookup_term(const EscSentimentTerms *terms, const char *low, int len)
{
	uint32		h;

	if (terms == NULL || terms->nterms == 0 || len == 0)
		return -1;
	h = esc_sentiment_hash(low, len) & (terms->hash_size - 1);
	for (;;)
	{
		int			slot = terms->slots[h];
		const EscSentTerm *t;

		if (slot == 0)
			return -1;
		t = &terms->terms[slot - 1];
		if ((int) strlen(t->words[0]) == len && memcmp(t->words[0], low, len) == 0)
			return slot - 1;
		h = (h + 1) & (terms->hash_size - 1);
	}
}

static int
emoji_valence(uint32 cp, float *valence)
{
	int			lo = 0,
				hi = esc_sent_nemoji - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (esc_sent_emoji[mid].codepoint == cp)
		{
			*valence = esc_sent_emoji[mid].valence;
			return 1;
		}
		if (esc_sent_emoji[mid].codepoint < cp)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return 0;
}

/* decode one UTF-8 sequence of up to 4 bytes; returns its length, 1 if invalid */
static int
utf8_decode(const unsigned char *p, const unsigned char *end, uint32 *cp)
{
	int			n;

	if (p[0] < 0x80)
		n = 1, *cp = p[0];
	else if ((p[0] & 0xE0) == 0xC0)
		n = 2, *cp = p[0] & 0x1F;
	else if ((p[0] & 0xF0) == 0xE0)
		n = 3, *cp = p[0] & 0x0F;
	else if ((p[0] & 0xF8) == 0xF0)
		n = 4, *cp = p[0] & 0x07;
	else
	{
		*cp = 0;
		return 1;
	}
	if (p + n > end)
	{
		*cp = 0;
		return 1;
	}
	for (int i = 1; i < n; i++)
	{
		if ((p[i] & 0xC0) != 0x80)
		{
			*cp = 0;
			return 1;
		}
		*cp = (*cp << 6) | (p[i] & 0x3F);
	}
	return n;
}

static inline bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline bool
is_punct(unsigned char c)
{
	return c < 0x80 && ispunct(c);
}

/*
 * A word the lexicon does not have: try its base form by stripping a
 * regular English ending ("recommends", "crashed", "freezing", "sadly"),
 * and take it only if the base carries a valence.
 */
static int
lookup_base(const char *low, int len)
{
	static const struct
	{
		const char *suffix;
		int			slen;
		const char *add;
		int			alen;
	}			endings[] =
	{
		{"'s", 2, "", 0}, {"ies", 3, "y", 1}, {"es", 2, "", 0}, {"s", 1, "", 0},
		{"ied", 3, "y", 1}, {"ed", 2, "", 0}, {"ed", 2, "e", 1}, {"ing", 3, "", 0},
		{"ing", 3, "e", 1}, {"ly", 2, "", 0}, {"ily", 3, "y", 1}
	};
	uint32		prefix[ESC_SENT_MAX_WORD + 1];
	char		last = low[len - 1];

	/* only words ending in s, d, g or y can have one of these endings */
	if (last != 's' && last != 'd' && last != 'g' && last != 'y')
		return -1;
	/* FNV-1a of every prefix, so each candidate costs a few multiplies */
	prefix[0] = FNV_INIT;
	for (int i = 0; i < len; i++)
		prefix[i + 1] = FNV_STEP(prefix[i], low[i]);

	for (int k = 0; k < (int) lengthof(endings); k++)
	{
		int			blen = len - endings[k].slen;
		uint32		h;

		if (blen < 3 || memcmp(low + blen, endings[k].suffix, endings[k].slen) != 0)
			continue;
		h = prefix[blen];
		for (int a = 0; a < endings[k].alen; a++)
			h = FNV_STEP(h, endings[k].add[a]);
		{
			char		base[ESC_SENT_MAX_WORD + 1];
			int			w;

			memcpy(base, low, blen);
			memcpy(base + blen, endings[k].add, endings[k].alen);
			w = lookup_word_hashed(base, blen + endings[k].alen, h);
			if (w >= 0 && (esc_sent_words[w].flags & ESC_SW_LEX))
				return w;
		}
	}
	return -1;
}

/*
 * Fill in a token from its text: one pass lower-cases it (curly
 * apostrophes U+2018/U+2019 read as "'"), hashes it and notes its case;
 * then the lexicon and the source's terms are looked up.
 */
static void
classify_token_uncached(Token *t, const EscSentimentTerms *terms)
{
	bool		any_upper = false,
				any_lower = false;
	uint32		hash = FNV_INIT;
	int			o = 0;
	const unsigned char *p = (const unsigned char *) t->s;

	for (int i = 0; i < t->len; i++)
	{
		unsigned char c = p[i];

		if (c >= 'A' && c <= 'Z')
		{
			any_upper = true;
			c += 'a' - 'A';
		}
		else if (c >= 'a' && c <= 'z')
			any_lower = true;
		else if (c == 0xE2 && i + 2 < t->len && p[i + 1] == 0x80 &&
				 (p[i + 2] == 0x99 || p[i + 2] == 0x98))
		{
			c = '\'';
			i += 2;
		}
		if (o >= ESC_SENT_MAX_WORD)
		{
			/* too long to be a word of ours; finish the case scan */
			for (i++; i < t->len; i++)
			{
				if (p[i] >= 'A' && p[i] <= 'Z')
					any_upper = true;
				else if (p[i] >= 'a' && p[i] <= 'z')
					any_lower = true;
			}
			o = 0;
			break;
		}
		t->low[o++] = (char) c;
		hash = FNV_STEP(hash, c);
	}
	t->low[o] = '\0';
	t->lowlen = o;
	t->upper = any_upper && !any_lower;
	t->word = o > 0 ? lookup_word_hashed(t->low, o, hash) : -1;
	t->special = t->word >= 0 ? esc_sent_words[t->word].special : SP_NONE;
	if (t->word < 0 && t->lowlen >= 4)
		t->word = lookup_base(t->low, t->lowlen);
	t->valence = 0;
	t->flags = 0;
	if (t->word >= 0)
	{
		t->valence = esc_sent_words[t->word].valence;
		t->flags = esc_sent_words[t->word].flags;
	}
	/* contractions VADER counts as negations: any word with "n't" */
	if (t->word < 0 && t->lowlen >= 3)
	{
		for (int i = 1; i + 1 < t->lowlen; i++)
			if (t->low[i] == '\'' && t->low[i + 1] == 't' && t->low[i - 1] == 'n')
			{
				t->flags |= ESC_SW_NEG;
				break;
			}
	}
	t->term = lookup_term(terms, t->low, t->lowlen);
	if (t->term >= 0)
	{
		/* a one-word term with a valence replaces the lexicon's */
		for (int k = t->term; k < terms->nterms &&
			 strcmp(terms->terms[k].words[0], terms->terms[t->term].words[0]) == 0; k++)
		{
			const EscSentTerm *st = &terms->terms[k];

			if (st->nwords == 1 && st->has_valence)
			{
				t->valence = st->valence;
				if (st->valence != 0)
					t->flags |= ESC_SW_LEX;
				else
					t->flags &= ~ESC_SW_LEX;
				break;			/* the source's own term comes before a global one */
			}
		}
	}
}

/*
 * A token's classification, remembered per backend: a ticket's words
 * repeat from ticket to ticket, and classifying one (lower-casing,
 * hashing, the lexicon, up to eleven base forms, the source's terms)
 * costs about 460 instructions, remembering it about 60.  The memo is
 * direct-mapped (a token's slot holds the last token hashed there) and
 * fixed in size, so it needs no eviction and no reset; an entry is keyed
 * by the token's bytes as written and by the generation of the terms it
 * was classified with (0: none), so a rebuilt set of terms (a change of
 * escalation.sentiment_terms) never sees another build's results.  Terms
 * built outside the catalog (generation 0 with terms) are not memoised.
 */
#define TOKEN_MEMO_SIZE	16384	/* slots, a power of two: about 1.6 MB */
#define TOKEN_MEMO_BYTES 24		/* longer tokens are classified each time */

typedef struct TokenMemo
{
	uint64		generation;		/* of the terms; 0: none */
	uint8		len;			/* 0: empty slot */
	char		bytes[TOKEN_MEMO_BYTES];
	/* Token's fields from low to upper, as classify_token_uncached() set them */
	char		low[ESC_SENT_MAX_WORD + 1];
	int			lowlen;
	int			word;
	int			term;
	float		valence;
	uint8		flags;
	uint8		special;
	bool		upper;
} TokenMemo;

/*
 * In static storage rather than palloc'd: it lives as long as the backend,
 * and its pages are mapped only when a backend first scores a text.
 */
static TokenMemo token_memo[TOKEN_MEMO_SIZE];

static void
classify_token(Token *t, const EscSentimentTerms *terms)
{
	uint64		generation = terms ? terms->generation : 0;
	uint32		h = FNV_INIT;
	TokenMemo  *e;

	if (t->len <= 0 || t->len > TOKEN_MEMO_BYTES || (terms != NULL && generation == 0))
	{
		classify_token_uncached(t, terms);
		return;
	}
	for (int i = 0; i < t->len; i++)
		h = FNV_STEP(h, t->s[i]);
	e = &token_memo[(h ^ (h >> 15)) & (TOKEN_MEMO_SIZE - 1)];
	if (e->len == t->len && e->generation == generation &&
		memcmp(e->bytes, t->s, t->len) == 0)
	{
		memcpy(t->low, e->low, e->lowlen + 1);
		t->lowlen = e->lowlen;
		t->word = e->word;
		t->term = e->term;
		t->valence = e->valence;
		t->flags = e->flags;
		t->special = e->special;
		t->upper = e->upper;
		return;
	}
	classify_token_uncached(t, terms);
	e->generation = generation;
	e->len = (uint8) t->len;
	memcpy(e->bytes, t->s, t->len);
	memcpy(e->low, t->low, t->lowlen + 1);
	e->lowlen = t->lowlen;
	e->word = t->word;
	e->term = t->term;
	e->valence = t->valence;
	e->flags = t->flags;
	e->special = t->special;
	e->upper = t->upper;
}

/*
 * Append the words of raw token [s, e) (no white space in it) to the
 * sentence: punctuation stripped around it, unless that leaves two
 * characters or fewer (an emoticon), and emoji split off as tokens of
 * their own.
 */
static void
add_raw_token(Sentence *sent, const char *s, const char *e, const EscSentimentTerms *terms,
			  bool ascii)
{
	const char *p = s;
	const char *word_start = s;

	/* split off emoji (an ASCII token, as the text pass knows, has none) */
	if (ascii)
		p = e;
	while (p < e)
	{
		uint32		cp;
		int			n;
		float		v;

		if ((unsigned char) *p < 0xE2)
		{
			p++;
			continue;
		}
		n = utf8_decode((const unsigned char *) p, (const unsigned char *) e, &cp);
		if (n > 1 && emoji_valence(cp, &v))
		{
			if (word_start < p)
				add_raw_token(sent, word_start, p, terms, false);
			if (sent->ntok < MAX_TOKENS)
			{
				Token	   *t = &sent->tok[sent->ntok++];

				memset(t, 0, sizeof(Token));
				t->s = p;
				t->len = n;
				t->word = -1;
				t->term = -1;
				t->valence = v;
				t->flags = ESC_SW_LEX;
				t->emoji = true;
			}
			word_start = p + n;
		}
		p += n;
	}
	if (word_start != s)
	{
		if (word_start < e)
			add_raw_token(sent, word_start, e, terms, false);
		return;
	}

	if (sent->ntok >= MAX_TOKENS)
		return;
	{
		Token	   *t = &sent->tok[sent->ntok];
		const char *a = s,
				   *b = e;
		int			nchars = 0;

		while (a < b && is_punct((unsigned char) *a))
			a++;
		while (b > a && is_punct((unsigned char) b[-1]))
			b--;
		if (ascii)
			nchars = b - a;
		else
			for (const char *q = a; q < b; q++)
				if (((unsigned char) *q & 0xC0) != 0x80)
					nchars++;
		if (nchars <= 2)
		{
			/* an emoticon (":)") stays as written; a short word ("ok,") is stripped */
			t->s = s;
			t->len = e - s;
			classify_token(t, terms);
			if (t->word < 0 && t->term < 0 && a < b)
			{
				t->s = a;
				t->len = b - a;
				classify_token(t, terms);
			}
		}
		else
		{
			t->s = a;
			t->len = b - a;
			classify_token(t, terms);
		}
		t->emoji = false;
		if (t->len > 0)
			sent->ntok++;
	}
}

static inline bool
in_lexicon(const Token *t)
{
	return (t->flags & ESC_SW_LEX) != 0;
}

/* VADER's scalar_inc_dec: what a preceding booster adds to valence */
static double
booster_scalar(const Sentence *sent, int j, double valence, bool cap_diff)
{
	const Token *t = &sent->tok[j];
	double		scalar = 0;

	if (t->flags & ESC_SW_UP)
		scalar = B_INCR;
	else if (t->flags & ESC_SW_DOWN)
		scalar = B_DECR;
	else if (j > 0 &&
			 ((((t)->special == SP_OF) && (((&sent->tok[j - 1])->special == SP_KIND) ||
								   ((&sent->tok[j - 1])->special == SP_SORT))) ||
			  (((t)->special == SP_ENOUGH) && ((&sent->tok[j - 1])->special == SP_JUST))))
		scalar = B_DECR;		/* "kind of", "sort of", "just enough" */
	else
		return 0;
	if (valence < 0)
		scalar = -scalar;
	if (t->upper && cap_diff)
		scalar += valence > 0 ? C_INCR : -C_INCR;
	return scalar;
}

/* VADER's idioms and special cases that contain a lexicon word */
static const struct
{
	uint8		a;
	uint8		b;
	double		valence;
}			special_cases[] =
{
	{SP_THE, SP_SHIT, 3}, {SP_THE, SP_BOMB, 3}, {SP_BAD, SP_ASS, 1.5},
	{SP_YEAH, SP_RIGHT, -2}, {SP_BEATING, SP_HEART, 3.1}, {SP_BROKEN, SP_HEART, -2.9},
	{SP_BUS, SP_STOP, 0}, {SP_DIE, SP_FOR, 3}
};

static double
special_case(const Sentence *sent, int i, double valence)
{
	uint8		cur = sent->tok[i].special;
	uint8		prev = i > 0 ? sent->tok[i - 1].special : SP_NONE;
	uint8		next = i + 1 < sent->ntok ? sent->tok[i + 1].special : SP_NONE;

	if (cur == SP_NONE || (prev == SP_NONE && next == SP_NONE))
		return valence;
	for (int k = 0; k < (int) lengthof(special_cases); k++)
	{
		if (prev == special_cases[k].a && cur == special_cases[k].b)
			return special_cases[k].valence;
		if (cur == special_cases[k].a && next == special_cases[k].b)
			return special_cases[k].valence;
	}
	return valence;
}

static double
word_valence(const Sentence *sent, int i, bool cap_diff)
{
	const Token *t = &sent->tok[i];
	const Token *tok = sent->tok;
	double		v = t->valence;

	if (t->emoji)
		return v;

	/* "no" before a lexicon word negates it rather than counting itself */
	if (((t)->special == SP_NO) && i + 1 < sent->ntok && in_lexicon(&tok[i + 1]))
		v = 0;
	if ((i > 0 && ((&tok[i - 1])->special == SP_NO)) ||
		(i > 1 && ((&tok[i - 2])->special == SP_NO)) ||
		(i > 2 && ((&tok[i - 3])->special == SP_NO) &&
		 (((&tok[i - 1])->special == SP_OR) || ((&tok[i - 1])->special == SP_NOR))))
		v = t->valence * N_SCALAR;

	if (t->upper && cap_diff)
		v += v > 0 ? C_INCR : -C_INCR;

	for (int k = 0; k < 3 && k < i; k++)
	{
		int			j = i - (k + 1);
		double		s;

		if (in_lexicon(&tok[j]))
			continue;
		s = booster_scalar(sent, j, v, cap_diff);
		if (k == 1)
			s *= 0.95;
		else if (k == 2)
			s *= 0.9;
		v += s;

		/* negation */
		if (k == 0)
		{
			if (tok[j].flags & ESC_SW_NEG)
				v *= N_SCALAR;
		}
		else if (k == 1)
		{
			if (((&tok[i - 2])->special == SP_NEVER) &&
				(((&tok[i - 1])->special == SP_SO) || ((&tok[i - 1])->special == SP_THIS)))
				v *= 1.25;
			else if (((&tok[i - 2])->special == SP_WITHOUT) && ((&tok[i - 1])->special == SP_DOUBT))
				;
			else if (tok[j].flags & ESC_SW_NEG)
				v *= N_SCALAR;
		}
		else
		{
			if ((((&tok[i - 3])->special == SP_NEVER) &&
				 (((&tok[i - 2])->special == SP_SO) || ((&tok[i - 2])->special == SP_THIS))) ||
				(((&tok[i - 1])->special == SP_SO) || ((&tok[i - 1])->special == SP_THIS)))
				v *= 1.25;
			else if (((&tok[i - 3])->special == SP_WITHOUT) &&
					 (((&tok[i - 2])->special == SP_DOUBT) || ((&tok[i - 1])->special == SP_DOUBT)))
				;
			else if (tok[j].flags & ESC_SW_NEG)
				v *= N_SCALAR;
		}
	}

	/* "least": negation unless "at least" / "very least" */
	if (i > 0 && !in_lexicon(&tok[i - 1]) && ((&tok[i - 1])->special == SP_LEAST))
	{
		if (i == 1 || (!((&tok[i - 2])->special == SP_AT) && !((&tok[i - 2])->special == SP_VERY)))
			v *= N_SCALAR;
	}

	return special_case(sent, i, v);
}

/*
 * "like" is in the lexicon as the verb ("I like it"), but reviews and
 * tickets mostly use it to compare ("it feels like", "like a toy").  It
 * counts only after a subject or auxiliary that makes it the verb.
 */
static bool
like_is_verb(const Sentence *sent, int i)
{
	return i > 0 && (sent->tok[i - 1].flags & ESC_SW_SUBJ) != 0;
}

static double
squash(double x)
{
	double		n = x / sqrt(x * x + ALPHA);

	return n < -1 ? -1 : (n > 1 ? 1 : n);
}

/* VADER's score for one sentence; *has_sentiment when a word carried any */
static double
sentence_polarity(Sentence *sent, bool *has_sentiment)
{
	int			ncaps = 0;
	bool		cap_diff;
	int			but = -1;
	double		sum = 0;

	*has_sentiment = false;
	for (int i = 0; i < sent->ntok; i++)
		if (sent->tok[i].upper)
			ncaps++;
	cap_diff = ncaps > 0 && ncaps < sent->ntok;

	for (int i = 0; i < sent->ntok; i++)
	{
		Token	   *t = &sent->tok[i];

		sent->sentiments[i] = 0;
		if (but < 0 && ((t)->special == SP_BUT))
			but = i;
		if (t->flags & (ESC_SW_UP | ESC_SW_DOWN))
			continue;			/* modifiers carry no valence of their own */
		if (((t)->special == SP_KIND) && i + 1 < sent->ntok && ((&sent->tok[i + 1])->special == SP_OF))
			continue;
		if (!in_lexicon(t))
			continue;
		if (((t)->special == SP_LIKE) && !like_is_verb(sent, i))
			continue;			/* "looks like", "like a child": a comparison */
		sent->sentiments[i] = word_valence(sent, i, cap_diff);
	}
	for (int i = 0; i < sent->ntok; i++)
	{
		double		s = sent->sentiments[i];

		if (but >= 0 && i < but)
			s *= 0.5;
		else if (but >= 0 && i > but)
			s *= 1.5;
		if (s != 0)
			*has_sentiment = true;
		sum += s;
	}
	if (!*has_sentiment)
		return 0;

	/* punctuation emphasis */
	{
		double		amp = Min(sent->nexclaim, 4) * 0.292;

		if (sent->nquestion > 1)
			amp += sent->nquestion <= 3 ? sent->nquestion * 0.18 : 0.96;
		if (sum > 0)
			sum += amp;
		else if (sum < 0)
			sum -= amp;
	}
	return squash(sum);
}

/*
 * Frustration cues of one sentence: their weights, plus shouting.  Matched
 * cue phrases are appended to out->cues.
 */
static double
sentence_cues(Sentence *sent, const EscSentimentTerms *terms, EscSentiment *out)
{
	double		raw = 0;
	int			ncaps = 0;

	for (int i = 0; i < sent->ntok; i++)
	{
		Token	   *t = &sent->tok[i];
		int			matched = 0;
		const char *phrase = NULL;
		double		weight = 0;

		if (t->emoji)
			continue;
		if (t->upper && t->lowlen >= 4)
			ncaps++;

		/* the team's own cues first, longest first */
		if (t->term >= 0)
		{
			for (int k = t->term; k < terms->nterms &&
				 strcmp(terms->terms[k].words[0], t->low) == 0; k++)
			{
				const EscSentTerm *st = &terms->terms[k];
				int			w;

				if (!st->has_frustration || i + st->nwords > sent->ntok)
					continue;
				for (w = 1; w < st->nwords; w++)
					if (strcmp(sent->tok[i + w].low, st->words[w]) != 0)
						break;
				if (w == st->nwords)
				{
					matched = st->nwords;
					phrase = st->term;
					weight = st->frustration;
					break;
				}
			}
		}
		if (!matched && t->word >= 0 && (t->flags & ESC_SW_CUE))
		{
			const EscSentWord *sw = &esc_sent_words[t->word];

			for (int k = sw->cue_first; k < sw->cue_first + sw->cue_count; k++)
			{
				const EscSentCue *c = &esc_sent_cues[k];
				int			w;

				if (i + c->nwords > sent->ntok)
					continue;
				for (w = 1; w < c->nwords; w++)
					if (strcmp(sent->tok[i + w].low, c->words[w]) != 0)
						break;
				if (w == c->nwords)
				{
					matched = c->nwords;
					phrase = c->phrase;
					weight = c->weight;
					break;
				}
			}
		}
		if (matched)
		{
			raw += weight;
			if (out->ncues < ESC_SENT_MAX_CUES)
				out->cues[out->ncues++] = phrase;
			i += matched - 1;
		}
	}
	/*
	 * shouting: two or more ALL-CAPS words of four letters or more (one is
	 * an acronym: "HTTPS", "JSON"), "!!", "??"
	 */
	if (ncaps >= 2)
		raw += Min(ncaps, 3) * 0.25;
	if (sent->nexclaim >= 2)
		raw += 0.4;
	if (sent->nquestion >= 2)
		raw += 0.3;
	return raw;
}

static double
frustration_of(double raw)
{
	return raw <= 0 ? 0 : 1 - exp(-raw / 2);
}

/* score one sentence (or piece of one) and fold it into the totals */
static void
finish_sentence(Sentence *sent, const EscSentimentTerms *terms, EscSentiment *out,
				double *polarity_sum, int *polar_sentences, double *raw_frustration,
				EscSentenceEmit emit, void *arg)
{
	bool		has_sentiment;
	double		polarity;
	double		raw;
	EscSentiment one;

	if (sent->ntok == 0)
		return;
	polarity = sentence_polarity(sent, &has_sentiment);
	memset(&one, 0, sizeof(one));
	raw = sentence_cues(sent, terms, &one);
	if (polarity < 0)
		raw += -polarity;
	if (has_sentiment)
	{
		*polarity_sum += polarity;
		(*polar_sentences)++;
	}
	*raw_frustration += raw;
	for (int k = 0; k < one.ncues && out->ncues < ESC_SENT_MAX_CUES; k++)
		out->cues[out->ncues++] = one.cues[k];
	out->nsentences++;
	if (emit)
	{
		one.polarity = polarity;
		one.frustration = frustration_of(raw);
		one.nsentences = 1;
		emit(arg, sent->start, sent->len, &one);
	}
}

/* a text being scored, sentence by sentence */
typedef struct Scoring
{
	Sentence	sent;
	const EscSentimentTerms *terms;
	EscSentiment *out;
	double		polarity_sum;
	int			polar_sentences;
	double		raw_frustration;
	EscSentenceEmit emit;
	void	   *arg;
} Scoring;

static void
scoring_start(Scoring *sc, const EscSentimentTerms *terms, EscSentiment *out,
			  EscSentenceEmit emit, void *arg)
{
	memset(out, 0, sizeof(EscSentiment));
	sc->sent.ntok = 0;
	sc->sent.nexclaim = sc->sent.nquestion = 0;
	sc->sent.start = NULL;
	sc->terms = terms;
	sc->out = out;
	sc->polarity_sum = 0;
	sc->polar_sentences = 0;
	sc->raw_frustration = 0;
	sc->emit = emit;
	sc->arg = arg;
}

static void
scoring_end_sentence(Scoring *sc)
{
	finish_sentence(&sc->sent, sc->terms, sc->out, &sc->polarity_sum, &sc->polar_sentences,
					&sc->raw_frustration, sc->emit, sc->arg);
	sc->sent.ntok = 0;
	sc->sent.nexclaim = sc->sent.nquestion = 0;
	sc->sent.start = NULL;
}

/*
 * One raw token [s, e) (no white space in it), holding nexclaim "!" and
 * nquestion "?"; newline_before: a line break came before it; ascii: no
 * byte of it is above 0x7F (so it holds no emoji).
 */
static void
scoring_raw_token(Scoring *sc, const char *s, const char *e, bool newline_before,
				  int nexclaim, int nquestion, bool ascii)
{
	Sentence   *sent = &sc->sent;

	/* a line break ends a sentence */
	if (newline_before && sent->ntok > 0)
		scoring_end_sentence(sc);

	sent->nexclaim += nexclaim;
	sent->nquestion += nquestion;
	if (sent->start == NULL)
		sent->start = s;
	if (sent->ntok >= MAX_TOKENS)
	{
		/* a very long sentence: score it in pieces */
		sent->len = s - sent->start;
		finish_sentence(sent, sc->terms, sc->out, &sc->polarity_sum, &sc->polar_sentences,
						&sc->raw_frustration, sc->emit, sc->arg);
		sent->ntok = 0;
		sent->nexclaim = sent->nquestion = 0;
		sent->start = s;
	}
	add_raw_token(sent, s, e, sc->terms, ascii);
	sent->len = e - sent->start;

	/* ". ", "! ", "?\" " end a sentence; "e.g." and "3.5" do not */
	{
		const char *q = e - 1;

		while (q > s && (*q == '"' || *q == '\'' || *q == ')'))
			q--;
		if ((*q == '.' || *q == '!' || *q == '?') && q > s &&
			!(q - s >= 2 && q[-2] == '.') && !(q - s == 1 && isupper((unsigned char) *s)))
			scoring_end_sentence(sc);
	}
}

static void
scoring_finish(Scoring *sc)
{
	if (sc->sent.ntok > 0)
		finish_sentence(&sc->sent, sc->terms, sc->out, &sc->polarity_sum, &sc->polar_sentences,
						&sc->raw_frustration, sc->emit, sc->arg);
	sc->out->polarity = sc->polar_sentences > 0 ? sc->polarity_sum / sc->polar_sentences : 0;
	sc->out->frustration = frustration_of(sc->raw_frustration);
}

/*
 * Score a text.  `terms` (may be NULL) are a source's own terms.  When
 * `emit` is given it is called for every sentence, in order.  Walks the
 * text itself, in constant memory (a tokenising pass of its own: counted
 * in esc_text_passes).
 */
void
esc_sentiment(const char *text, int len, const EscSentimentTerms *terms,
			  EscSentiment *out, EscSentenceEmit emit, void *arg)
{
	Scoring		sc;
	const char *p = text;
	const char *end = text + len;

	esc_text_passes++;
	scoring_start(&sc, terms, out, emit, arg);
	while (p < end)
	{
		const char *s;
		bool		newline = false;
		int			nexclaim = 0,
					nquestion = 0;

		while (p < end && is_space((unsigned char) *p))
		{
			if (*p == '\n')
				newline = true;
			p++;
		}
		if (p >= end)
			break;

		/* one raw token */
		s = p;
		while (p < end && !is_space((unsigned char) *p))
		{
			if (*p == '!')
				nexclaim++;
			else if (*p == '?')
				nquestion++;
			p++;
		}
		scoring_raw_token(&sc, s, p, newline, nexclaim, nquestion, false);
	}
	scoring_finish(&sc);
}

/*
 * Score a text from its tokenising pass (textpass.c): the same as
 * esc_sentiment() on tp->text, reading the pass's spans instead of
 * walking the text again.
 */
void
esc_sentiment_pass(const EscTextPass *tp, const EscSentimentTerms *terms, EscSentiment *out)
{
	Scoring		sc;

	esc_textpass_spans(tp);
	scoring_start(&sc, terms, out, NULL, NULL);
	for (int i = 0; i < tp->nspans; i++)
	{
		const EscSpan *sp = &tp->spans[i];

		scoring_raw_token(&sc, tp->text + sp->start, tp->text + sp->end, sp->newline_before,
						  sp->nexclaim, sp->nquestion, sp->ascii);
	}
	scoring_finish(&sc);
}
