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
 * Cost: one pass over the text, which finds the raw tokens (runs of
 * bytes that are not white space) eight bytes at a time.  What a raw
 * token adds to its sentence is a function of its bytes and of the
 * source's terms, and is remembered per backend (span_memo): a token seen
 * before costs a hash of its bytes, a probe and a copy.  Reading a new
 * one costs a probe per word into a constant FNV hash table built at
 * compile time (sentiment_lexicon.c), and up to eleven more for its base
 * forms.  A sentence is scored in a fixed array on the stack, visiting
 * only its words in the lexicon and those that may start a cue; a
 * "sentence" longer than MAX_TOKENS words is scored in pieces of
 * MAX_TOKENS, so any text, 1 MB included, runs in linear time and
 * constant memory.  On the insert benchmark's 1 KB tickets scoring takes
 * about 38,700 instructions, against 118,800 when every token was read
 * anew (and 99,200 with a memo of tokens' readings alone).
 *
 * In the trigger, a source with keyword rules has looked every word of
 * the text up in its word memo (tokenize.c) just before; a span that is
 * one plain word (ASCII letters and digits, nothing stripped) takes its
 * reading from 16 bytes of that word's entry (EscWordReading), a cache
 * line the keyword rules have just read, instead of a span memo set's
 * tags and entry, two more lines that the rest of the insert has evicted
 * (scoring_word()).  Most spans of a ticket are plain words: on the insert
 * benchmark this takes escalation's last-level data misses from 584 to
 * 469 an insert, and the rest of the backend's from 427 to 395, for the
 * same instructions (docs/benchmarks.md, session 18).  So does a span of
 * one such word with only punctuation beside it ("done.", "(see"), whose
 * stripped token is the word's (scoring_punct_word(), session 25: 391 to
 * 361 misses, 1,000 fewer instructions).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/mman.h>

#include "port/pg_bitutils.h"

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
	bool		folded;			/* low is filled in (else: token_low()) */
} Token;

/*
 * A sentence being read.  Besides its tokens it keeps what scoring it
 * needs to know of them, noted as each token is added (push_token()), so
 * that scoring visits only the tokens that can carry sentiment or start a
 * cue, not every token of the sentence again.
 */
typedef struct Sentence
{
	const char *start;
	const char *end;
	int			ntok;
	int			nexclaim;
	int			nquestion;
	int			ncaps;			/* tokens in ALL CAPS */
	int			nshout;			/* of them, words of four letters or more */
	int			but;			/* the first "but", -1 */
	int			nlex;
	int			ncue;
	uint8		lex[MAX_TOKENS];	/* tokens in the lexicon, in order */
	uint8		cue[MAX_TOKENS];	/* tokens that may start a cue, in order */
	Token		tok[MAX_TOKENS];
} Sentence;

StaticAssertDecl(MAX_TOKENS <= 256,
				 "Sentence.lex and .cue hold token numbers in a uint8");

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

/*
 * ASCII punctuation, as ispunct() has it in the C locale (and in every
 * glibc locale for these bytes), from two 64-bit masks: it is asked for
 * every byte around a word, and ispunct() is a call and a table look-up
 * through the locale.  Not locale-dependent: the same text scores the
 * same under every LC_CTYPE.
 */
#define PUNCT_LOW	UINT64CONST(0xFC00FFFE00000000)	/* 0x21-0x2F, 0x3A-0x3F */
#define PUNCT_HIGH	UINT64CONST(0x78000001F8000001)	/* 0x40, 0x5B-0x60, 0x7B-0x7E */

static inline bool
is_punct(unsigned char c)
{
	if (c < 64)
		return (PUNCT_LOW >> c) & 1;
	return c < 128 && ((PUNCT_HIGH >> (c - 64)) & 1);
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
	int			hashed = 0;		/* prefix[0 .. hashed] are computed */
	char		last = low[len - 1];

	/* only words ending in s, d, g or y can have one of these endings */
	if (last != 's' && last != 'd' && last != 'g' && last != 'y')
		return -1;
	/* FNV-1a of the prefixes, as far as a base needs, each step once */
	prefix[0] = FNV_INIT;

	for (int k = 0; k < (int) lengthof(endings); k++)
	{
		const char *suffix = endings[k].suffix;
		int			slen = endings[k].slen;
		int			blen = len - slen;
		uint32		h;
		int			i;

		if (blen < 3 || suffix[slen - 1] != last)
			continue;
		for (i = 0; i < slen - 1 && low[blen + i] == suffix[i]; i++)
			;
		if (i < slen - 1)
			continue;
		for (; hashed < blen; hashed++)
			prefix[hashed + 1] = FNV_STEP(prefix[hashed], low[hashed]);
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
 * What a raw token (a span) adds to its sentence, remembered per backend.
 * A ticket's spans repeat from ticket to ticket ("the", "please",
 * "issue."), and reading one (its "!" and "?", the emoji scan, stripping
 * punctuation, lower-casing, the lexicon, up to eleven base forms, the
 * source's terms, the sentence-end test) costs some 300 to 800
 * instructions; finding it here costs a hash of its bytes read eight at
 * a time, a probe, a comparison of those words and a copy of its token.
 * All of that is a function of the span's bytes and of the terms, so an
 * entry is keyed by the bytes as written and by the generation of the
 * terms it was read with (0: none): a rebuilt set of terms (a change of
 * escalation.sentiment_terms, catalog.c numbers every build) never sees
 * another build's results.  Spans holding an emoji (two or more tokens,
 * and fewer when the sentence is full) and terms built outside the
 * catalog (generation 0 with terms) are read every time.
 *
 * The memo is fixed in size, so it is bounded with no reset: a span's
 * hash picks a set of four entries, and a new span replaces the set's
 * entries in turn.  Four ways rather than one: on the insert benchmark's
 * tickets a direct-mapped memo of the same size missed about 21 spans of
 * a ticket's 150, this one 10, near the 8 that are new to the backend.
 * It is in static storage, whose pages are mapped only when a backend
 * first scores a text: in the 2 MB of it that start on a 2 MB boundary,
 * with transparent huge pages asked for there (Linux's "madvise" mode).
 * The rest of an insert evicts the memo from the CPU caches and the TLB,
 * and with 4 kB pages a span's look-up paid for walking the page tables
 * on top of its cache misses.
 */
#define SPAN_MEMO_WAYS	4
#define SPAN_MEMO_SET_BITS 12
#define SPAN_MEMO_SETS	(1 << SPAN_MEMO_SET_BITS)	/* 16384 entries of 64 bytes, 1 MB */
#define SPAN_MEMO_WORDS 3		/* longer spans than 24 bytes are read every time */
#define SPAN_MEMO_BYTES (8 * SPAN_MEMO_WORDS)

/* SpanMemo.what */
#define SPAN_TOKEN	0x01		/* adds a token (else all punctuation) */
#define SPAN_ENDS	0x02		/* ends its sentence */

/*
 * A remembered token: a Token without its position and its lower-case
 * text, which token_low() folds again from the bytes when something reads
 * it (a copy of them would double the entry, and an entry is a cache miss
 * per span).
 */
typedef struct MemoToken
{
	uint8		len;
	uint8		lowlen;
	uint8		flags;
	uint8		special;
	bool		upper;
	bool		emoji;
	int32		word;
	int32		term;
	float		valence;
} MemoToken;

typedef struct SpanMemo
{
	uint64		bytes[SPAN_MEMO_WORDS]; /* the span, zero-padded (span_key()) */
	uint64		generation;		/* of the terms; 0: none */
	uint8		len;			/* 0: empty */
	uint8		what;			/* SPAN_* */
	uint8		offset;			/* where the token starts in the span */
	uint8		notes;			/* the token's token_notes() */
	uint8		nexclaim;		/* "!" in the span */
	uint8		nquestion;		/* "?" in the span */
	MemoToken	tok;			/* as add_raw_token() made it */
} SpanMemo;

/* an entry is one cache line (the memo starts on a 64-byte boundary) */
StaticAssertDecl(sizeof(SpanMemo) == 64, "a span memo entry is 64 bytes");
StaticAssertDecl(SPAN_MEMO_BYTES < 256 && ESC_SENT_MAX_WORD < 256, "a memo token's lengths fit in a byte");

typedef struct SpanMemoStore
{
	/* a set's tags apart, so that a look-up reads one cache line of them */
	uint32		tag[SPAN_MEMO_SETS][SPAN_MEMO_WAYS];
	SpanMemo	memo[SPAN_MEMO_SETS][SPAN_MEMO_WAYS];
	uint8		next[SPAN_MEMO_SETS];	/* the way a new span takes */
} SpanMemoStore;

#define SPAN_MEMO_PAGE ((uintptr_t) 2 * 1024 * 1024)
StaticAssertDecl(sizeof(SpanMemoStore) <= SPAN_MEMO_PAGE, "the span memo fits in a huge page");

static char span_memo_space[2 * SPAN_MEMO_PAGE];
static SpanMemoStore *span_store = NULL;

#define span_memo_tag (span_store->tag)
#define span_memo (span_store->memo)
#define span_memo_next (span_store->next)

/* the memo (empty: static storage is zeroed), found on first use */
static void
span_memo_create(void)
{
	char	   *a = (char *) TYPEALIGN(SPAN_MEMO_PAGE, (uintptr_t) span_memo_space);

#if defined(MADV_HUGEPAGE)
	(void) madvise(a, SPAN_MEMO_PAGE, MADV_HUGEPAGE);
#endif
	span_store = (SpanMemoStore *) a;
}

/* what reading a text's tokens needs besides the tokens */
typedef struct Reading
{
	const char *limit;			/* the end of the text */
	const EscSentimentTerms *terms;
	bool		memoise;		/* spans are looked up in span_memo */
	uint64		generation;		/* of the terms, 0: none */
} Reading;

/*
 * Off, every span is read anew: for the fuzz harness, which checks that
 * the memo changes no result.
 */
bool		esc_sentiment_memo = true;

/* all bits of the first n (1..8) bytes in memory of a word */
static inline uint64
first_bytes(int n)
{
#ifdef WORDS_BIGENDIAN
	return ~UINT64CONST(0) << (64 - 8 * n);
#else
	return ~UINT64CONST(0) >> (64 - 8 * n);
#endif
}

#define SPAN_MIX	UINT64CONST(0xFF51AFD7ED558CCD)

/*
 * The key of span [s, s + len), 1 <= len <= SPAN_MEMO_BYTES: its bytes
 * as words of eight in w[] (zeroed by the caller), the last masked to the
 * span, and their hash, which mixes each word in with a multiply; its
 * high bits depend on every byte (a multiply carries upwards only).  A
 * word is read from the text in one piece when it ends before limit (the
 * end of the text), else copied, so that nothing past the text is read.
 * A word read from memory holds its first byte in its lowest bits on a
 * little-endian machine and in its highest on a big-endian one.
 */
static uint64
span_key(const char *s, int len, const char *limit, uint64 *w)
{
	uint64		h = 0;
	int			k = 0;
	int			rest = len;

	for (;; k++, s += 8, rest -= 8)
	{
		if (limit - s >= 8)
			memcpy(&w[k], s, 8);
		else
			memcpy(&w[k], s, limit - s);
		if (rest <= 8)
			break;
		h = (h ^ w[k]) * SPAN_MIX;
	}
	w[k] &= first_bytes(rest);
	return (h ^ w[k]) * SPAN_MIX;
}

/*
 * The key of span [s, s + len) (span_key()), reading a span of sixteen
 * bytes or fewer (most are) as one or two words straight from the text.
 */
static pg_attribute_always_inline uint64
span_key_fast(const char *s, int len, const char *limit, uint64 *w)
{
	if (len <= 8 && limit - s >= 8)
	{
		memcpy(&w[0], s, 8);
		w[0] &= first_bytes(len);
		return w[0] * SPAN_MIX;
	}
	if (len <= 16 && limit - s >= 16)
	{
		memcpy(&w[0], s, 8);
		memcpy(&w[1], s + 8, 8);
		w[1] &= first_bytes(len - 8);
		return ((w[0] * SPAN_MIX) ^ w[1]) * SPAN_MIX;
	}
	return span_key(s, len, limit, w);
}

/* the memo's set for a key's hash */
#define SPAN_MEMO_SET(h)	((int) ((h) >> (64 - SPAN_MEMO_SET_BITS)))
#define SPAN_MEMO_TAG(h)	((uint32) ((h) >> 32))

/*
 * The ways of a set whose tag is tag, as a bit mask (bit i: way i).  Made
 * without branches: which way holds a span is as good as random, and a
 * loop that stopped at it mispredicted its exit about once a look-up.
 */
StaticAssertDecl(SPAN_MEMO_WAYS == 4, "span_memo_ways() tests four ways");

static pg_attribute_always_inline uint32
span_memo_way_is(uint32 a, uint32 b)
{
	/* 1 when a == b, in arithmetic (GCC made "a == b" a branch here) */
	return (uint32) (((uint64) (a ^ b) - 1) >> 63);
}

static pg_attribute_always_inline uint32
span_memo_ways(const uint32 *tags, uint32 tag)
{
	return span_memo_way_is(tags[0], tag) | (span_memo_way_is(tags[1], tag) << 1) |
		(span_memo_way_is(tags[2], tag) << 2) | (span_memo_way_is(tags[3], tag) << 3);
}

/* is m the entry of a span with key w and length len, for this generation? */
static pg_attribute_always_inline bool
span_memo_is(const SpanMemo *m, const uint64 *w, int len, uint64 generation)
{
	/* equal lengths: the words past the span are zero in both */
	return m->len == len && m->generation == generation &&
		((m->bytes[0] ^ w[0]) | (m->bytes[1] ^ w[1]) | (m->bytes[2] ^ w[2])) == 0;
}

/*
 * The entry of a span with key (h, w) and length len, read with terms of
 * this generation; NULL when there is none.
 */
static pg_attribute_always_inline SpanMemo *
span_memo_find(uint64 h, const uint64 *w, int len, uint64 generation)
{
	SpanMemo   *set = span_memo[SPAN_MEMO_SET(h)];

	for (uint32 ways = span_memo_ways(span_memo_tag[SPAN_MEMO_SET(h)], SPAN_MEMO_TAG(h));
		 ways != 0; ways &= ways - 1)
	{
		SpanMemo   *m = &set[pg_rightmost_one_pos32(ways)];

		if (span_memo_is(m, w, len, generation))
			return m;
	}
	return NULL;
}

#define ONES	UINT64CONST(0x0101010101010101)
#define HIGH	UINT64CONST(0x8080808080808080)
#define LOW7	UINT64CONST(0x7F7F7F7F7F7F7F7F)

/*
 * t's lower-case text from its bytes (t->s, t->len), as classify_token()
 * folds them: ASCII letters lowered, a curly apostrophe made straight,
 * "" when the result would be too long to be a word of ours.  Only the
 * rare token that is compared as text is folded (token_low()).
 */
static void
fold_low(Token *t)
{
	const unsigned char *p = (const unsigned char *) t->s;
	int			o = 0;

	for (int i = 0; i < t->len; i++)
	{
		unsigned char c = p[i];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		else if (c == 0xE2 && i + 2 < t->len && p[i + 1] == 0x80 &&
				 (p[i + 2] == 0x99 || p[i + 2] == 0x98))
		{
			c = '\'';
			i += 2;
		}
		if (o >= ESC_SENT_MAX_WORD)
		{
			o = 0;
			break;
		}
		t->low[o++] = (char) c;
	}
	t->low[o] = '\0';
	Assert(o == t->lowlen);
}

static inline void
memo_token_store(MemoToken *mt, const Token *t)
{
	mt->len = (uint8) t->len;
	mt->lowlen = (uint8) t->lowlen;
	mt->flags = t->flags;
	mt->special = t->special;
	mt->upper = t->upper;
	mt->emoji = t->emoji;
	mt->word = t->word;
	mt->term = t->term;
	mt->valence = t->valence;
}

/*
 * The remembered token at s.  Its lower-case text is folded again from
 * the bytes only when something reads it (token_low()): only the words
 * after the start of a frustration cue are ever compared as text.
 */
static pg_attribute_always_inline void
memo_token_load(Token *t, const MemoToken *mt, const char *s)
{
	t->s = s;
	t->len = mt->len;
	t->lowlen = mt->lowlen;
	t->flags = mt->flags;
	t->special = mt->special;
	t->upper = mt->upper;
	t->emoji = mt->emoji;
	t->word = mt->word;
	t->term = mt->term;
	t->valence = mt->valence;
	t->folded = false;
}

/* t's lower-case text (folded now if memo_token_load() made t) */
static const char *
token_low(Token *t)
{
	if (!t->folded)
	{
		fold_low(t);
		t->folded = true;
	}
	return t->low;
}

/*
 * The token of a remembered span whose token is all of it (no punctuation
 * stripped around it): that is classify_token()'s reading of the span's
 * bytes.  NULL when there is none.
 */
static const MemoToken *
span_memo_token(const char *s, int len, const char *limit, uint64 generation)
{
	uint64		w[SPAN_MEMO_WORDS] = {0};
	uint64		h;
	const SpanMemo *m;

	if (len <= 0 || len > SPAN_MEMO_BYTES)
		return NULL;
	h = span_key_fast(s, len, limit, w);
	m = span_memo_find(h, w, len, generation);
	if (m == NULL || !(m->what & SPAN_TOKEN) || m->offset != 0 || m->tok.len != len)
		return NULL;
	return &m->tok;
}


/*
 * Fill in a token from its text: one pass lower-cases it (curly
 * apostrophes U+2018/U+2019 read as "'"), hashes it and notes its case;
 * then the rest is taken from a remembered span of the lower-case bytes,
 * or the lexicon and the source's terms are looked up.
 */
static void
classify_token(Token *t, const Reading *rd)
{
	const EscSentimentTerms *terms = rd->terms;
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
	t->folded = true;
	t->upper = any_upper && !any_lower;

	/*
	 * A remembered span that is these lower-case bytes was read from them
	 * (unless they are the bytes as written, whose look-up has failed):
	 * what follows from them, all but the case, is its token's.
	 */
	if (rd->memoise && o > 0 && (any_upper || o != t->len))
	{
		const MemoToken *lt = span_memo_token(t->low, o, t->low + sizeof(t->low),
										  rd->generation);

		if (lt != NULL)
		{
			t->word = lt->word;
			t->special = lt->special;
			t->valence = lt->valence;
			t->flags = lt->flags;
			t->term = lt->term;
			return;
		}
	}
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

static inline bool
in_lexicon(const Token *t)
{
	return (t->flags & ESC_SW_LEX) != 0;
}

/* what push_token() notes of a token (token_notes()) */
#define NOTE_CAPS	0x01		/* in ALL CAPS */
#define NOTE_SHOUT	0x02		/* in ALL CAPS, four letters or more */
#define NOTE_BUT	0x04		/* "but" */
#define NOTE_LEX	0x08		/* in the lexicon */
#define NOTE_CUE	0x10		/* may start a frustration cue */

static inline uint8
token_notes(const Token *t)
{
	uint8		notes = 0;

	if (t->upper)
		notes |= t->lowlen >= 4 ? NOTE_CAPS | NOTE_SHOUT : NOTE_CAPS;
	if (t->special == SP_BUT)
		notes |= NOTE_BUT;
	if (in_lexicon(t))
		notes |= NOTE_LEX;
	if (t->term >= 0 || (t->word >= 0 && (t->flags & ESC_SW_CUE)))
		notes |= NOTE_CUE;
	return notes;
}

/*
 * The sentence's next token, sent->tok[sent->ntok], is filled in: count
 * it, with its token_notes() (most tokens have none).
 */
static inline void
push_token(Sentence *sent, uint8 notes)
{
	if (notes != 0)
	{
		if (notes & NOTE_CAPS)
			sent->ncaps++;
		if (notes & NOTE_SHOUT)
			sent->nshout++;
		if ((notes & NOTE_BUT) && sent->but < 0)
			sent->but = sent->ntok;
		if (notes & NOTE_LEX)
			sent->lex[sent->nlex++] = (uint8) sent->ntok;
		if (notes & NOTE_CUE)
			sent->cue[sent->ncue++] = (uint8) sent->ntok;
	}
	sent->ntok++;
}

/*
 * Append the words of raw token [s, e) (no white space in it) to the
 * sentence: punctuation stripped around it, unless that leaves two
 * characters or fewer (an emoticon), and emoji split off as tokens of
 * their own.  Returns whether it held an emoji.
 */
static bool
add_raw_token(Sentence *sent, const char *s, const char *e, const Reading *rd)
{
	const char *p = s;
	const char *word_start = s;

	/* split off emoji */
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
				add_raw_token(sent, word_start, p, rd);
			if (sent->ntok < MAX_TOKENS)
			{
				Token	   *t = &sent->tok[sent->ntok];

				memset(t, 0, sizeof(Token));
				t->folded = true;	/* low: "" */
				t->s = p;
				t->len = n;
				t->word = -1;
				t->term = -1;
				t->valence = v;
				t->flags = ESC_SW_LEX;
				t->emoji = true;
				push_token(sent, token_notes(t));
			}
			word_start = p + n;
		}
		p += n;
	}
	if (word_start != s)
	{
		if (word_start < e)
			add_raw_token(sent, word_start, e, rd);
		return true;
	}

	if (sent->ntok >= MAX_TOKENS)
		return false;
	{
		Token	   *t = &sent->tok[sent->ntok];
		const char *a = s,
				   *b = e;
		int			nchars = 0;

		while (a < b && is_punct((unsigned char) *a))
			a++;
		while (b > a && is_punct((unsigned char) b[-1]))
			b--;
		/* up to three characters tell */
		for (const char *q = a; q < b && nchars <= 2; q++)
			if (((unsigned char) *q & 0xC0) != 0x80)
				nchars++;
		if (nchars <= 2)
		{
			/* an emoticon (":)") stays as written; a short word ("ok,") is stripped */
			t->s = s;
			t->len = e - s;
			classify_token(t, rd);
			if (t->word < 0 && t->term < 0 && a < b)
			{
				t->s = a;
				t->len = b - a;
				classify_token(t, rd);
			}
		}
		else
		{
			const MemoToken *mt = NULL;

			/* a span of these bytes alone may be remembered: its token is theirs */
			if (rd->memoise && (a != s || b != e))
				mt = span_memo_token(a, b - a, rd->limit, rd->generation);
			if (mt != NULL)
				memo_token_load(t, mt, a);
			t->s = a;
			t->len = b - a;
			if (mt == NULL)
				classify_token(t, rd);
		}
		t->emoji = false;
		if (t->len > 0)
			push_token(sent, token_notes(t));
	}
	return false;
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

/*
 * VADER's score for one sentence; *has_sentiment when a word carried any.
 * Only words in the lexicon carry a valence: VADER's sum over every word
 * adds exactly 0 for the others, so visiting the lexicon's words alone,
 * in order, gives the same sum to the bit.
 */
static double
sentence_polarity(Sentence *sent, bool *has_sentiment)
{
	bool		cap_diff = sent->ncaps > 0 && sent->ncaps < sent->ntok;
	int			but = sent->but;
	double		sum = 0;

	*has_sentiment = false;
	for (int k = 0; k < sent->nlex; k++)
	{
		int			i = sent->lex[k];
		Token	   *t = &sent->tok[i];
		double		s;

		if (t->flags & (ESC_SW_UP | ESC_SW_DOWN))
			continue;			/* modifiers carry no valence of their own */
		if (((t)->special == SP_KIND) && i + 1 < sent->ntok && ((&sent->tok[i + 1])->special == SP_OF))
			continue;
		if (((t)->special == SP_LIKE) && !like_is_verb(sent, i))
			continue;			/* "looks like", "like a child": a comparison */
		s = word_valence(sent, i, cap_diff);
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
 * cue phrases are appended to out->cues.  A cue starts at a team's term or
 * at a word of the lexicon's cues: only those tokens are visited (in
 * order; a matched cue's words do not start another).
 */
static double
sentence_cues(Sentence *sent, const EscSentimentTerms *terms, EscSentiment *out)
{
	double		raw = 0;
	int			ncaps = sent->nshout;
	int			next = 0;		/* first token not in a matched cue */

	for (int c = 0; c < sent->ncue; c++)
	{
		int			i = sent->cue[c];
		Token	   *t = &sent->tok[i];
		int			matched = 0;
		const char *phrase = NULL;
		double		weight = 0;

		if (i < next)
			continue;

		/* the team's own cues first, longest first */
		if (t->term >= 0)
		{
			for (int k = t->term; k < terms->nterms &&
				 strcmp(terms->terms[k].words[0], token_low(t)) == 0; k++)
			{
				const EscSentTerm *st = &terms->terms[k];
				int			w;

				if (!st->has_frustration || i + st->nwords > sent->ntok)
					continue;
				for (w = 1; w < st->nwords; w++)
					if (strcmp(token_low(&sent->tok[i + w]), st->words[w]) != 0)
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
					if (strcmp(token_low(&sent->tok[i + w]), c->words[w]) != 0)
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
			next = i + matched;
			/* a cue's words after its first do not count as shouting */
			for (int w = i + 1; w < next; w++)
				if (sent->tok[w].upper && sent->tok[w].lowlen >= 4)
					ncaps--;
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
		emit(arg, sent->start, sent->end - sent->start, &one);
	}
}

/* a text being scored, sentence by sentence */
typedef struct Scoring
{
	Sentence	sent;
	Reading		rd;
	/*
	 * The trigger's text pass and the source's keyword memo (NULL: none):
	 * a span that is one plain word of the pass takes its reading from the
	 * word's memo entry (scoring_word()), and the spans are found from the
	 * pass's words (scoring_pass_text())
	 */
	EscLexicon *lex;
	const EscTextPass *tp;
	EscWordReading **side;	/* tp->side, while it holds; else NULL */
	uint32		word_generation;	/* EscWordReading.generation to match */
	const EscSentimentTerms *terms;
	EscSentiment *out;
	double		polarity_sum;
	int			polar_sentences;
	double		raw_frustration;
	EscSentenceEmit emit;
	void	   *arg;
} Scoring;

/* an empty sentence, starting at start (NULL: at its first token) */
static inline void
sentence_reset(Sentence *sent, const char *start)
{
	sent->start = start;
	sent->ntok = 0;
	sent->nexclaim = sent->nquestion = 0;
	sent->ncaps = sent->nshout = 0;
	sent->but = -1;
	sent->nlex = sent->ncue = 0;
}

static void
scoring_start(Scoring *sc, const char *text, int len, const EscSentimentTerms *terms,
			  EscSentiment *out, EscSentenceEmit emit, void *arg)
{
	memset(out, 0, sizeof(EscSentiment));
	sentence_reset(&sc->sent, NULL);
	sc->rd.limit = text + len;
	sc->rd.terms = terms;
	/* terms built outside the catalog have no generation: not memoised */
	sc->rd.generation = terms ? terms->generation : 0;
	sc->rd.memoise = esc_sentiment_memo && (terms == NULL || terms->generation != 0);
	if (sc->rd.memoise && span_store == NULL)
		span_memo_create();
	sc->lex = NULL;
	sc->tp = NULL;
	sc->side = NULL;
	sc->word_generation = 0;
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
	sentence_reset(&sc->sent, NULL);
}

/*
 * ". ", "! ", "?\" " end a sentence; "e.g." and "3.5" do not, nor an
 * initial ("J."; an ASCII capital, whatever the locale)
 */
static bool
span_ends_sentence(const char *s, const char *e)
{
	const char *q = e - 1;

	while (q > s && (*q == '"' || *q == '\'' || *q == ')'))
		q--;
	return (*q == '.' || *q == '!' || *q == '?') && q > s &&
		!(q - s >= 2 && q[-2] == '.') && !(q - s == 1 && *s >= 'A' && *s <= 'Z');
}

/* a very long sentence: score what it has, the rest starts at s */
static void
scoring_split_sentence(Scoring *sc, const char *s)
{
	Sentence   *sent = &sc->sent;

	sent->end = s;
	finish_sentence(sent, sc->terms, sc->out, &sc->polarity_sum, &sc->polar_sentences,
					&sc->raw_frustration, sc->emit, sc->arg);
	sentence_reset(sent, s);
}

/*
 * A span begins at s, holding nexclaim "!" and nquestion "?";
 * newline_before: a line break came before it.
 */
static inline void
scoring_span_start(Scoring *sc, const char *s, bool newline_before, int nexclaim,
				   int nquestion)
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
		scoring_split_sentence(sc, s);
}

/* add the "!" and "?" of text [s, e) to the counts */
static inline void
span_marks(const char *s, const char *e, int *nexclaim, int *nquestion)
{
	for (const char *p = s; p < e; p++)
	{
		if (*p == '!')
			(*nexclaim)++;
		else if (*p == '?')
			(*nquestion)++;
	}
}

/*
 * Raw token [s, e) read in full; m: the memo entry to remember it in
 * (NULL: none), with its key w.
 */
static void
scoring_span_read(Scoring *sc, const char *s, const char *e, bool newline_before,
				  SpanMemo *m, const uint64 *w)
{
	Sentence   *sent = &sc->sent;
	int			nexclaim = 0,
				nquestion = 0;
	int			ntok;
	bool		emoji;
	bool		ends;

	span_marks(s, e, &nexclaim, &nquestion);
	scoring_span_start(sc, s, newline_before, nexclaim, nquestion);
	ntok = sent->ntok;
	emoji = add_raw_token(sent, s, e, &sc->rd);
	sent->end = e;
	ends = span_ends_sentence(s, e);
	if (m != NULL && !emoji)
	{
		/* there was room for its token: the sentence is never full here */
		memcpy(m->bytes, w, sizeof(m->bytes));
		m->generation = sc->rd.generation;
		m->len = (uint8) (e - s);
		m->what = ends ? SPAN_ENDS : 0;
		m->nexclaim = (uint8) nexclaim;
		m->nquestion = (uint8) nquestion;
		if (sent->ntok > ntok)
		{
			m->what |= SPAN_TOKEN;
			memo_token_store(&m->tok, &sent->tok[ntok]);
			m->offset = (uint8) (sent->tok[ntok].s - s);
			m->notes = token_notes(&sent->tok[ntok]);
		}
	}
	if (ends)
		scoring_end_sentence(sc);
}

/* span [s, e) is the one memo entry m remembers: add it */
static pg_attribute_always_inline void
scoring_span_found(Scoring *sc, const char *s, const char *e, bool newline_before,
				   const SpanMemo *m)
{
	Sentence   *sent = &sc->sent;

	scoring_span_start(sc, s, newline_before, m->nexclaim, m->nquestion);
	if (m->what & SPAN_TOKEN)
	{
		Token	   *t = &sent->tok[sent->ntok];

		memo_token_load(t, &m->tok, s + m->offset);
		push_token(sent, m->notes);
	}
	sent->end = e;
	if (m->what & SPAN_ENDS)
		scoring_end_sentence(sc);
}

/*
 * A span found by scoring_text() and waiting to be scored: where it is,
 * whether a line break came before it, and its memo key (span_key_fast();
 * len 0 when it is not looked up in the memo).
 */
typedef struct SpanAt
{
	int			start;
	int			end;
	bool		newline;
	uint8		len;
	int8		way;			/* the way whose tag matched, -1: none */
	uint64		h;
	uint64		w[SPAN_MEMO_WORDS];
} SpanAt;

/* spans, and plain words, scored at a time (batch_flush()) */
#define SPAN_BATCH 64

/*
 * What is waiting to be scored: spans, in text order, and the plain words
 * of the pass (scoring_pass_text()) found among them, in text order, each
 * as its word number shifted left by PLAIN_SHIFT, PLAIN_PUNCT (the word
 * has punctuation beside it: punct_span()), PLAIN_NEWLINE and
 * PLAIN_UPPER.
 * A plain word needs no memo key and no fetching ahead (its reading is in
 * the keyword memo entry the keyword rules have just read): it is kept
 * apart, in four bytes (and a punctuated word's span beside them), and
 * the two lists are merged by where they start when they are scored.  A
 * SpanAt for each, walked three times, cost some 50 instructions a word.
 * A text (1 GB at most) has fewer than 2^29 words (each a byte and the
 * one after it): a word's number fits.
 */
#define PLAIN_PUNCT		0x4
#define PLAIN_NEWLINE	0x2
#define PLAIN_UPPER		0x1
#define PLAIN_SHIFT		3

typedef struct SpanBatch
{
	int			n;
	int			nplain;
	SpanAt		spans[SPAN_BATCH];
	uint32		plain[SPAN_BATCH];
	int			punct[SPAN_BATCH][2];	/* a PLAIN_PUNCT word's span */
} SpanBatch;

/*
 * The token of word [s, e) of the text pass (ASCII letters and digits
 * only, no longer than ESC_SENT_MAX_WORD, kept in the keyword memo:
 * scoring_pass_text()), whose entry's reading is ws (generation: the one
 * a reading of these terms has); upper: in ALL CAPS.  What the span memo
 * would give, from the reading of the word in its keyword memo entry,
 * which the keyword rules have just looked up: classify_token() reads
 * the word, whose result is a function of its lower-case bytes, which
 * the entry is keyed by, and of the terms, whose generation it keeps, but
 * for the case, which upper gives.
 */
static pg_attribute_always_inline void
scoring_word_token(Scoring *sc, const char *s, const char *e, EscWordReading *ws,
				   uint32 generation, bool upper)
{
	Sentence   *sent = &sc->sent;
	Token	   *t;
	uint8		notes;

	t = &sent->tok[sent->ntok];
	t->s = s;
	t->len = e - s;
	t->emoji = false;
	if (likely(ws->generation == generation))
	{
		t->lowlen = t->len;
		t->flags = ws->flags;
		t->special = ws->special;
		t->upper = upper;
		t->word = ws->word;
		t->term = ws->term;
		t->valence = ws->valence;
		t->folded = false;
		notes = ws->notes;
		if (upper)
			notes |= t->lowlen >= 4 ? NOTE_CAPS | NOTE_SHOUT : NOTE_CAPS;
	}
	else
	{
		classify_token(t, &sc->rd);
		Assert(t->upper == upper && t->lowlen == t->len);
		notes = token_notes(t);
		if (t->word <= PG_INT16_MAX && t->term <= PG_INT16_MAX)
		{
			ws->generation = generation;
			ws->valence = t->valence;
			ws->word = (int16) t->word;
			ws->term = (int16) t->term;
			ws->flags = t->flags;
			ws->special = t->special;
			ws->notes = notes & ~(NOTE_CAPS | NOTE_SHOUT);
		}
	}
	push_token(sent, notes);
}

/*
 * Span [s, e), a plain word: add_raw_token() strips nothing from it, and
 * a span without punctuation ends no sentence and holds no "!" or "?".
 */
static pg_attribute_always_inline void
scoring_word(Scoring *sc, const char *s, const char *e, bool newline_before,
			 EscWordReading *ws, uint32 generation, bool upper)
{
	scoring_span_start(sc, s, newline_before, 0, 0);
	scoring_word_token(sc, s, e, ws, generation, upper);
	sc->sent.end = e;
}

/*
 * Span [s, e): punctuation around one word [w, we) of the pass that
 * scoring_word() could read (punct_span()), "done.", "(see", "'ok',":
 * some 16 of the ~18 spans of a benchmark ticket that are not
 * plain words.  What scoring_span_read() and add_raw_token() make of it:
 * the punctuation stripped from both ends leaves the word (three
 * characters or more, so not an emoticon, and ASCII, so no emoji), whose
 * token classify_token() reads as it reads the plain word; the span's
 * "!" and "?" count, and it may end its sentence.  Read from the word's
 * keyword memo entry instead of the span memo, whose lines are cold (and
 * whose look-up of a span never seen, a ticket number's, reads the
 * lexicon too): about 130 ns a span on the benchmark, against some 17 a
 * plain word (docs/benchmarks.md, session 25).
 */
static pg_attribute_always_inline void
scoring_punct_word(Scoring *sc, const char *s, const char *e, const char *w,
				   const char *we, bool newline_before, EscWordReading *ws,
				   uint32 generation, bool upper)
{
	int			nexclaim = 0,
				nquestion = 0;

	/* the word holds neither: the punctuation before it and after it */
	span_marks(s, w, &nexclaim, &nquestion);
	span_marks(we, e, &nexclaim, &nquestion);
	scoring_span_start(sc, s, newline_before, nexclaim, nquestion);
	scoring_word_token(sc, w, we, ws, generation, upper);
	sc->sent.end = e;
	if (span_ends_sentence(s, e))
		scoring_end_sentence(sc);
}

/* or into *high, *up and *low the high bits, upper- and lower-case letters of x */
static inline void
case8(uint64 x, uint64 *high, uint64 *up, uint64 *low)
{
	uint64		h = x & LOW7;

	*high |= x;
	*up |= (h + ONES * (0x80 - 'A')) & ~(h + ONES * (0x80 - 'Z' - 1)) & ~x;
	*low |= (h + ONES * (0x80 - 'a')) & ~(h + ONES * (0x80 - 'z' - 1)) & ~x;
}

/*
 * Whether span [s, s + len) of the text (which ends at limit) is all
 * ASCII, and *upper whether it is in ALL CAPS (an upper-case letter and
 * no lower-case one, as classify_token() says), eight bytes at a time
 * with the arithmetic of textpass.c's fold_ascii().
 */
static pg_attribute_always_inline bool
ascii_case(const char *s, int len, const char *limit, bool *upper)
{
	uint64		high = 0,
				up = 0,
				low = 0;
	uint64		x;

	if (len <= 8 && limit - s >= 8)
	{
		/* most words: one read */
		memcpy(&x, s, 8);
		case8(x & first_bytes(len), &high, &up, &low);
	}
	else
	{
		for (int k = 0; k < len; k += 8)
		{
			int			n = Min(8, len - k);

			x = 0;
			if (limit - (s + k) >= 8)
				memcpy(&x, s + k, 8);
			else
				memcpy(&x, s + k, n);
			case8(x & first_bytes(n), &high, &up, &low);
		}
	}
	*upper = (up & HIGH) != 0 && (low & HIGH) == 0;
	return (high & HIGH) == 0;
}

/*
 * One raw token [s, e) (no white space in it) with its key (at->len 0:
 * not memoised); newline_before: a line break came before it.  Found in
 * the memo, or read and remembered.
 */
static pg_attribute_always_inline void
scoring_span(Scoring *sc, const char *s, const char *e, bool newline_before,
			 const SpanAt *at)
{
	SpanMemo   *m;
	int			way;

	if (at->len == 0)
	{
		scoring_span_read(sc, s, e, newline_before, NULL, NULL);
		return;
	}
	/* the way whose tag matched when the entries were fetched, checked */
	m = at->way >= 0 ? &span_memo[SPAN_MEMO_SET(at->h)][at->way] : NULL;
	if (m == NULL || !span_memo_is(m, at->w, at->len, sc->rd.generation))
		m = span_memo_find(at->h, at->w, at->len, sc->rd.generation);
	if (m != NULL)
	{
		scoring_span_found(sc, s, e, newline_before, m);
		return;
	}
	/* not there: the set's next entry will hold it */
	way = span_memo_next[SPAN_MEMO_SET(at->h)];
	span_memo_next[SPAN_MEMO_SET(at->h)] = (way + 1) & (SPAN_MEMO_WAYS - 1);
	span_memo_tag[SPAN_MEMO_SET(at->h)][way] = SPAN_MEMO_TAG(at->h);
	m = &span_memo[SPAN_MEMO_SET(at->h)][way];
	m->len = 0;
	scoring_span_read(sc, s, e, newline_before, m, at->w);
}

/*
 * Score what the batch holds, in order, and empty it.  The memo is large
 * and the rest of an insert evicts it from the CPU caches, so a span's
 * look-up would wait twice on memory (its set's tags, then the entry):
 * the spans' keys are made first and their tags fetched, then the entries
 * the tags point at, then the spans and plain words are scored, so that
 * the waits overlap.  The memo is only fetched ahead here, never changed:
 * an entry a span replaces is looked up again when its turn comes.
 */
static void
batch_flush(Scoring *sc, const char *text, SpanBatch *b)
{
	SpanAt	   *spans = b->spans;
	int			n = b->n;
	int			k = 0;

	if (sc->rd.memoise)
	{
		for (int i = 0; i < n; i++)
		{
			SpanAt	   *at = &spans[i];
			int			len = at->end - at->start;

			if (len > SPAN_MEMO_BYTES)
				continue;
			memset(at->w, 0, sizeof(at->w));
			at->h = span_key_fast(text + at->start, len, sc->rd.limit, at->w);
			at->len = len;
			at->way = -1;
			__builtin_prefetch(span_memo_tag[SPAN_MEMO_SET(at->h)]);
		}
		for (int i = 0; i < n; i++)
		{
			SpanAt	   *at = &spans[i];
			uint32		ways;

			if (at->len == 0)
				continue;
			ways = span_memo_ways(span_memo_tag[SPAN_MEMO_SET(at->h)], SPAN_MEMO_TAG(at->h));
			if (ways != 0)
			{
				at->way = (int8) pg_rightmost_one_pos32(ways);
				__builtin_prefetch(&span_memo[SPAN_MEMO_SET(at->h)][at->way]);
			}
		}
	}
	if (b->nplain > 0)
	{
		/* in locals: the tokens' stores could be to anything */
		const EscWord *words = sc->tp->words;
		EscWordReading **side = sc->side;
		uint32		generation = sc->word_generation;

		for (int j = 0; j < b->nplain; j++)
		{
			uint32		pw = b->plain[j];
			int			wi = (int) (pw >> PLAIN_SHIFT);
			int			ws = words[wi].start;
			EscWordReading *r;

			/* (a span in the batch starts before the word's punctuation too) */
			for (; k < n && spans[k].start < ws; k++)
				scoring_span(sc, text + spans[k].start, text + spans[k].end, spans[k].newline,
							 &spans[k]);
			r = side ? side[wi] : esc_lexicon_word_sentiment(sc->lex, sc->tp, wi);
			if (pw & PLAIN_PUNCT)
			{
				/* the span around the word, as punct_span() found it */
				scoring_punct_word(sc, text + b->punct[j][0], text + b->punct[j][1],
								   text + ws, text + words[wi].end,
								   (pw & PLAIN_NEWLINE) != 0, r, generation,
								   (pw & PLAIN_UPPER) != 0);
			}
			else
				scoring_word(sc, text + ws, text + words[wi].end, (pw & PLAIN_NEWLINE) != 0,
							 r, generation, (pw & PLAIN_UPPER) != 0);
		}
	}
	for (; k < n; k++)
		scoring_span(sc, text + spans[k].start, text + spans[k].end, spans[k].newline,
					 &spans[k]);
	b->n = 0;
	b->nplain = 0;
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
 * Finding the spans: the text is read eight bytes at a time for its white
 * space, and the spans are the runs between.  A word read from memory
 * holds the byte that comes first in its lowest bits on a little-endian
 * machine and in its highest on a big-endian one.
 */

/* where in memory (0..7) the first byte marked in m != 0 is */
static inline int
first_marked(uint64 m)
{
#ifdef WORDS_BIGENDIAN
	return (63 - pg_leftmost_one_pos64(m)) >> 3;
#else
	return pg_rightmost_one_pos64(m) >> 3;
#endif
}

/* m != 0 without its first marked byte */
static inline uint64
clear_first_marked(uint64 m)
{
#ifdef WORDS_BIGENDIAN
	return m & ~(UINT64CONST(1) << pg_leftmost_one_pos64(m));
#else
	return m & (m - 1);
#endif
}

/*
 * The high bit of each white-space byte of x (' ', '\t', '\n', '\v', '\f',
 * '\r'), exactly: a byte's low seven bits plus 0x77 reach 0x80 when they
 * are at least 0x09, plus 0x72 when at least 0x0E, and a byte equal to
 * ' ' has seven zero low bits after an exclusive or with it, so that
 * adding 0x7F leaves its high bit clear; none of these sums carries into
 * the next byte.  Bytes of 0x80 and above are not white space.
 */
static inline uint64
space_bytes(uint64 x)
{
	uint64		t = x & LOW7;
	uint64		ctl = (t + ONES * (0x80 - 0x09)) & ~(t + ONES * (0x80 - 0x0E));
	uint64		blank = ~((t ^ (ONES * ' ')) + LOW7);

	return (ctl | blank) & ~x & HIGH;
}

/* a span [start, end) found, scored when the batch is full */
static pg_attribute_always_inline void
span_found(Scoring *sc, const char *text, SpanBatch *b, int start, int end, bool newline)
{
	SpanAt	   *at = &b->spans[b->n];

	at->start = start;
	at->end = end;
	at->newline = newline;
	at->len = 0;
	if (++b->n == SPAN_BATCH)
		batch_flush(sc, text, b);
}

/*
 * Every span of text[from .. to), in order, where from and to are not
 * inside a span (from is 0 or follows white space, to is the text's end
 * or white space follows it); *newline: a line break since the last span,
 * carried in and out.
 */
static pg_attribute_always_inline void
text_spans(Scoring *sc, const char *text, int from, int to, SpanBatch *b, bool *newline)
{
	const unsigned char *p = (const unsigned char *) text;
	int			start = from;	/* of a span, unless white space is there */

	for (int base = from; base < to; base += 8)
	{
		uint64		x = 0;
		uint64		sp;

		if (to - base >= 8)
		{
			memcpy(&x, p + base, 8);
			sp = space_bytes(x);
		}
		else
		{
			memcpy(&x, p + base, to - base);
			sp = space_bytes(x) & first_bytes(to - base);
		}
		for (; sp != 0; sp = clear_first_marked(sp))
		{
			int			j = base + first_marked(sp);

			if (j > start)
			{
				span_found(sc, text, b, start, j, *newline);
				*newline = false;
			}
			if (p[j] == '\n')
				*newline = true;
			start = j + 1;
		}
	}
	if (start < to)
	{
		span_found(sc, text, b, start, to, *newline);
		*newline = false;
	}
}

/* every span of text[0 .. len), in order */
static void
scoring_text(Scoring *sc, const char *text, int len)
{
	SpanBatch	b;
	bool		newline = false;

	b.n = b.nplain = 0;
	text_spans(sc, text, 0, len, &b, &newline);
	batch_flush(sc, text, &b);
}

/*
 * Whether word w of the pass, not a plain word, is the word of a span
 * that scoring_punct_word() reads: three to ESC_SENT_MAX_WORD bytes,
 * ASCII, kept in the keyword memo, and punctuation (is_punct()) on at
 * least one side of it, up to white space or the text's edge on both;
 * then *start and *end are the span's, *upper whether the word is in ALL
 * CAPS.  A word with anything else beside it ("v2.7", "INV-2045", "don't")
 * is read with its span from the span memo, as before.
 */
static pg_attribute_always_inline bool
punct_span(const Scoring *sc, const unsigned char *p, int len, const EscWord *w,
		   int *start, int *end, bool *upper)
{
	int			j = w->start;
	int			k = w->end;

	if (w->end - w->start < 3 || w->end - w->start > ESC_SENT_MAX_WORD ||
		!esc_lexicon_keeps(sc->lex, w))
		return false;
	while (j > 0 && is_punct(p[j - 1]))
		j--;
	if (j > 0 && !esc_is_space(p[j - 1]))
		return false;
	while (k < len && is_punct(p[k]))
		k++;
	if (k < len && !esc_is_space(p[k]))
		return false;
	/* nothing beside it: a plain word that is not ASCII, or not kept */
	if (j == w->start && k == w->end)
		return false;
	if (!ascii_case((const char *) p + w->start, w->end - w->start, sc->rd.limit, upper))
		return false;
	*start = j;
	*end = k;
	return true;
}

/*
 * Every span of the pass's text, in order, found from the pass's words
 * (sc->tp, with the keyword memo sc->lex).  A span that is one plain word
 * of the pass (white space or the text's edge on both sides of the word,
 * ASCII, no longer than ESC_SENT_MAX_WORD, kept in the keyword memo) is
 * scored from the word's entry there (scoring_word()), and so is a span
 * of such a word with punctuation beside it, "done." (punct_span(),
 * scoring_punct_word()); the text between two such spans, nearly always
 * a single space, is looked at for spans only when it is something else.
 * The spans, their order and line breaks are scoring_text()'s: each of
 * these is a whole span, the text between two is whole spans and white
 * space, and every white-space byte lies between two (or before the
 * first, or after the last).  Walking the text for its white space and
 * matching each span with its word cost about 16,000 instructions per 1
 * KB ticket; this costs a few per word.
 */
static pg_attribute_always_inline void
scoring_pass_words(Scoring *sc, bool cases)
{
	const EscTextPass *tp = sc->tp;
	const char *text = tp->text;
	const unsigned char *p = (const unsigned char *) text;
	int			len = tp->len;
	int			nwords = tp->nwords;
	const EscWord *words = tp->words;
	SpanBatch	b;
	int			done = 0;		/* text[0 .. done) is in the batch */
	bool		newline = false;
	/* a plain word the keyword memo keeps (esc_lexicon_keeps()) */
	uint32		mask = ESC_WORD_PLAIN | (sc->lex->digit_stems ? 0 : ESC_WORD_DIGITS);

	b.n = b.nplain = 0;
	for (int wi = 0; wi < nwords; wi++)
	{
		const EscWord *w = &words[wi];
		int			ss = w->start;	/* the word's span */
		int			se = w->end;
		bool		upper;
		uint32		punct = 0;

		if (cases)
		{
			if ((w->flags & mask) == ESC_WORD_PLAIN)
				upper = (w->flags & ESC_WORD_UPPER) != 0;
			else if (punct_span(sc, p, len, w, &ss, &se, &upper))
				punct = PLAIN_PUNCT;
			else
				continue;
		}
		else if (esc_word_spaced(p, len, ss, se))
		{
			if (se - ss > ESC_SENT_MAX_WORD || !esc_lexicon_keeps(sc->lex, w) ||
				!ascii_case(text + ss, se - ss, sc->rd.limit, &upper))
				continue;
		}
		else if (punct_span(sc, p, len, w, &ss, &se, &upper))
			punct = PLAIN_PUNCT;
		else
			continue;
		if (ss > done && !(ss - done == 1 && p[done] == ' '))
			text_spans(sc, text, done, ss, &b, &newline);
		b.plain[b.nplain] = ((uint32) wi << PLAIN_SHIFT) | punct |
			(newline ? PLAIN_NEWLINE : 0) | (upper ? PLAIN_UPPER : 0);
		if (punct)
		{
			b.punct[b.nplain][0] = ss;
			b.punct[b.nplain][1] = se;
		}
		if (++b.nplain == SPAN_BATCH)
			batch_flush(sc, text, &b);
		newline = false;
		done = se;
	}
	if (len > done)
		text_spans(sc, text, done, len, &b, &newline);
	batch_flush(sc, text, &b);
}

StaticAssertDecl(ESC_WORD_PLAIN_MAX == ESC_SENT_MAX_WORD,
				 "the text pass's plain words are sentiment's");

/*
 * The pass's plain words: the text pass noted them (ESC_WORD_PLAIN,
 * ESC_WORD_UPPER: a few instructions a word more there, where the word's
 * bytes have just been read for its hash), or they are found here.
 */
static void
scoring_pass_text(Scoring *sc)
{
	if (sc->tp->cases)
		scoring_pass_words(sc, true);
	else
		scoring_pass_words(sc, false);
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

	esc_text_passes++;
	scoring_start(&sc, text, len, terms, out, emit, arg);
	scoring_text(&sc, text, len);
	scoring_finish(&sc);
}

/*
 * Score a text from its tokenising pass (textpass.c): the same as
 * esc_sentiment() on tp->text, not counted as a pass of its own.  lex
 * (may be NULL): the source's keywords, whose word memo keeps readings of
 * plain words (scoring_word()).
 */
void
esc_sentiment_pass(const EscTextPass *tp, const EscSentimentTerms *terms, EscLexicon *lex,
				   EscSentiment *out)
{
	Scoring		sc;

	scoring_start(&sc, tp->text, tp->len, terms, out, NULL, NULL);
	if (sc.rd.memoise && lex != NULL && lex->nkeywords > 0 &&
		sc.rd.generation < PG_UINT32_MAX)
	{
		sc.lex = lex;
		sc.tp = tp;
		/* the keyword rules' look-ups left where each word's entry is */
		if (tp->side_lex == lex)
			sc.side = esc_pass_side(tp);
		sc.word_generation = (uint32) sc.rd.generation + 1;
	}
	if (sc.lex != NULL)
		scoring_pass_text(&sc);
	else
		scoring_text(&sc, tp->text, tp->len);
	scoring_finish(&sc);
}
