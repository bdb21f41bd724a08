/*-------------------------------------------------------------------------
 *
 * textpass.c
 *	  One tokenising pass over a text, serving the keyword rules
 *	  (tokenize.c), triage (triage.c) and sentiment (sentiment.c).
 *	  Pure: no SPI, no catalog.
 *
 * The three readers of a ticket's text split it in two ways:
 *
 *	- words: runs of ASCII letters and digits or of non-ASCII bytes, ASCII
 *	  folded to lower case (the split the default parser makes for ordinary
 *	  words), looked up in a per-backend stem memo by tokenize.c (keyword
 *	  lexemes) and by triage.c (model stems);
 *	- spans: runs of bytes that are not white space, VADER's raw tokens,
 *	  which sentiment.c reads as written (case, punctuation, emoticons,
 *	  emoji), with the "!" and "?" they hold and whether a line break came
 *	  before them (a line break ends a sentence).
 *
 * esc_textpass() walks the bytes once and records both, together with the
 * whole text folded to lower case (ASCII), each word's hash of its folded
 * bytes (the memos' key, computed in the same loop) and its flags: a
 * digit in it, too long to be a word of ours (ESC_MAX_WORD bytes or more).  The trigger makes one pass
 * per row text (subject and body of a ticket, or a message's body) and
 * every rule condition, the triage model and sentiment read it; the
 * standalone functions (classify(), sentiment(), explain()) make their
 * own.  esc_text_passes counts the passes a backend made, so a test can
 * check that an insert with keyword, sentiment and triage rules costs one
 * (escalation.text_passes()).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "escalation.h"

/* tokenising passes over a text made by this backend */
uint64		esc_text_passes = 0;

static inline bool
is_word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c >= 0x80;
}

static inline bool
is_space_byte(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void
grow_words(EscTextPass *tp)
{
	tp->maxwords *= 2;
	tp->words = repalloc_huge(tp->words, sizeof(EscWord) * tp->maxwords);
}

static void
grow_spans(EscTextPass *tp)
{
	tp->maxspans *= 2;
	tp->spans = repalloc_huge(tp->spans, sizeof(EscSpan) * tp->maxspans);
}

/* byte classes, for the pass's one loop (is_word_byte(), is_space_byte()) */
#define BC_WORD		0x01
#define BC_DIGIT	0x02
#define BC_SPACE	0x04
#define BC_NEWLINE	0x08
#define BC_EXCLAIM	0x10
#define BC_QUESTION	0x20

static uint8 byte_class[256];
static uint8 byte_fold[256];	/* ASCII letters to lower case */
static bool byte_classes_ready = false;

static void
byte_classes_init(void)
{
	if (byte_classes_ready)
		return;
	for (int c = 0; c < 256; c++)
	{
		uint8		k = 0;

		if (is_word_byte((unsigned char) c))
			k |= BC_WORD;
		if (c >= '0' && c <= '9')
			k |= BC_DIGIT;
		if (is_space_byte((unsigned char) c))
			k |= BC_SPACE;
		if (c == '\n')
			k |= BC_NEWLINE;
		if (c == '!')
			k |= BC_EXCLAIM;
		if (c == '?')
			k |= BC_QUESTION;
		byte_class[c] = k;
		byte_fold[c] = (c >= 'A' && c <= 'Z') ? (uint8) (c + ('a' - 'A')) : (uint8) c;
	}
	byte_classes_ready = true;
}

/*
 * A word's hash, the memos' key: FNV-1a over its folded bytes, computed in
 * the pass's loop, then mixed (MurmurHash3's finaliser) so that the low
 * bits, which index the memos, depend on every byte.
 */
#define FNV_OFFSET	2166136261u
#define FNV_PRIME	16777619u

static inline uint32
hash_finish(uint32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static inline void
add_word(EscTextPass *tp, int start, int end, bool digits, uint32 h)
{
	EscWord    *w;

	if (tp->nwords == tp->maxwords)
		grow_words(tp);
	w = &tp->words[tp->nwords++];
	w->start = start;
	w->end = end;
	w->flags = digits ? ESC_WORD_DIGITS : 0;
	if (end - start >= ESC_MAX_WORD)
	{
		w->flags |= ESC_WORD_LONG;
		w->hash = 0;
	}
	else
		w->hash = hash_finish(h);
}

static inline void
add_span(EscTextPass *tp, int start, int end, int nexclaim, int nquestion, bool newline)
{
	EscSpan    *s;

	if (tp->nspans == tp->maxspans)
		grow_spans(tp);
	s = &tp->spans[tp->nspans++];
	s->start = start;
	s->end = end;
	s->nexclaim = nexclaim;
	s->nquestion = nquestion;
	s->newline_before = newline;
}

/*
 * Walk text[0 .. len) once.  The result (and its arrays) is allocated in
 * the current memory context; text must stay valid as long as it is used.
 * A NULL text is an empty one.
 */
EscTextPass *
esc_textpass(const char *text, int len)
{
	EscTextPass *tp = palloc(sizeof(EscTextPass));
	const unsigned char *p = (const unsigned char *) text;
	int			i;
	int			sstart = -1;	/* start of the span being read */
	int			nexclaim = 0,
				nquestion = 0;
	bool		newline = false;
	char	   *folded;

	esc_text_passes++;
	if (text == NULL)
		len = 0;
	tp->text = text ? text : "";
	tp->len = len;
	/* a ticket has a word in about seven bytes: start there, grow by doubling */
	tp->maxwords = len / 6 + 16;
	tp->maxspans = len / 6 + 16;
	tp->words = palloc_extended(sizeof(EscWord) * tp->maxwords, MCXT_ALLOC_HUGE);
	tp->spans = palloc_extended(sizeof(EscSpan) * tp->maxspans, MCXT_ALLOC_HUGE);
	tp->nwords = 0;
	tp->nspans = 0;
	tp->folded = folded = palloc(len + 1);

	byte_classes_init();
	i = 0;
	while (i < len)
	{
		uint8		k = byte_class[p[i]];

		if (k & BC_WORD)
		{
			/* a word: one tight loop over its bytes (a word byte is in a span too) */
			int			ws = i;
			uint8		seen = 0;
			uint32		h = FNV_OFFSET;

			if (sstart < 0)
			{
				sstart = i;
				nexclaim = nquestion = 0;
			}
			do
			{
				uint8		f = byte_fold[p[i]];

				folded[i] = (char) f;
				h = (h ^ f) * FNV_PRIME;
				seen |= byte_class[p[i]];
				i++;
			} while (i < len && (byte_class[p[i]] & BC_WORD));
			add_word(tp, ws, i, (seen & BC_DIGIT) != 0, h);
			continue;
		}

		/* not a word byte: never an ASCII letter, so it folds to itself */
		folded[i] = (char) p[i];
		if (k & BC_SPACE)
		{
			if (sstart >= 0)
			{
				add_span(tp, sstart, i, nexclaim, nquestion, newline);
				sstart = -1;
				newline = false;
			}
			if (k & BC_NEWLINE)
				newline = true;
		}
		else
		{
			if (sstart < 0)
			{
				sstart = i;
				nexclaim = nquestion = 0;
			}
			if (k & BC_EXCLAIM)
				nexclaim++;
			else if (k & BC_QUESTION)
				nquestion++;
		}
		i++;
	}
	/* the end of the text ends the last span (as a space would) */
	if (sstart >= 0)
		add_span(tp, sstart, len, nexclaim, nquestion, newline);
	folded[len] = '\0';
	return tp;
}
