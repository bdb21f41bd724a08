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
 * esc_textpass() folds the text to lower case (ASCII, eight bytes at a
 * time) and walks the folded copy once for the words, with each word's
 * hash (the memos' key, read from the folded bytes eight at a time) and
 * its flags: a digit in it, too long to be a word of ours (ESC_MAX_WORD
 * bytes or more).  The spans, which only sentiment reads, are made by a
 * second walk the first time they are asked for (esc_textpass_spans()).
 * The trigger makes one pass per row text (subject and body of a ticket,
 * or a message's body) and every rule condition, the triage model and
 * sentiment read it; the standalone functions (classify(), sentiment(),
 * explain()) make their own.  esc_text_passes counts the passes a backend
 * made, so a test can check that an insert with keyword, sentiment and
 * triage rules costs one (escalation.text_passes()).
 *
 * Cost, on the insert benchmark's 1 KB texts (callgrind): about 20,300
 * instructions per text, against 27,500 for the earlier single loop that
 * folded byte by byte, ran FNV-1a over every word byte and recorded the
 * spans whether or not a sentiment rule would read them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

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

/* byte classes, for the passes' loops (is_word_byte(), is_space_byte()) */
#define BC_WORD		0x01
#define BC_DIGIT	0x02
#define BC_SPACE	0x04
#define BC_NEWLINE	0x08
#define BC_EXCLAIM	0x10
#define BC_QUESTION	0x20
#define BC_HIGH		0x40		/* above 0x7F */

static uint8 byte_class[256];
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
		if (c > 0x7F)
			k |= BC_HIGH;
		byte_class[c] = k;
	}
	byte_classes_ready = true;
}

/*
 * Fold ASCII upper case to lower case, eight bytes at a time: a byte gets
 * 0x20 added exactly when it is in 'A'..'Z'.  Adding 0x3F (0x25) to a
 * byte's low seven bits sets its high bit exactly when they are at least
 * 'A' (0x5B, one past 'Z'), and cannot carry into the next byte; bytes of
 * 0x80 and above (UTF-8) are left alone.
 */
static void
fold_ascii(char *dst, const char *src, int len)
{
	const uint64 high = UINT64CONST(0x8080808080808080);
	const uint64 low7 = UINT64CONST(0x7F7F7F7F7F7F7F7F);
	int			i = 0;

	for (; i + 8 <= len; i += 8)
	{
		uint64		x;
		uint64		heptets;
		uint64		upper;

		memcpy(&x, src + i, 8);
		heptets = x & low7;
		upper = (heptets + UINT64CONST(0x3F3F3F3F3F3F3F3F)) &
			~(heptets + UINT64CONST(0x2525252525252525)) & ~x & high;
		x |= upper >> 2;
		memcpy(dst + i, &x, 8);
	}
	for (; i < len; i++)
	{
		unsigned char c = (unsigned char) src[i];

		dst[i] = (c >= 'A' && c <= 'Z') ? (char) (c + ('a' - 'A')) : (char) c;
	}
}

/*
 * A word's hash, the memos' key: its folded bytes read eight at a time
 * (the folded copy has eight zero bytes of padding past its end, so the
 * last read never leaves the allocation), each chunk mixed in with a
 * multiply, and the result put through MurmurHash3's 64-bit finaliser so
 * that the low bits, which index the memos, depend on every byte.  A chunk
 * is masked to the word's length: the bytes after a word are not part of
 * it.
 */
static inline uint32
word_hash(const char *w, int len)
{
	uint64		h = (uint64) len * UINT64CONST(0x9E3779B97F4A7C15);

	for (;;)
	{
		uint64		x;

		memcpy(&x, w, 8);
		if (len < 8)
		{
			/* keep the word's bytes, the first len in memory */
#ifdef WORDS_BIGENDIAN
			x &= ~((~UINT64CONST(0)) >> (8 * len));
#else
			x &= (UINT64CONST(1) << (8 * len)) - 1;
#endif
			h = (h ^ x) * UINT64CONST(0xFF51AFD7ED558CCD);
			break;
		}
		h = (h ^ x) * UINT64CONST(0xFF51AFD7ED558CCD);
		w += 8;
		len -= 8;
		if (len == 0)
			break;
	}
	h ^= h >> 33;
	h *= UINT64CONST(0xC4CEB9FE1A85EC53);
	h ^= h >> 33;
	return (uint32) h;
}

/*
 * Walk text[0 .. len) once for its words.  The result (and its arrays) is
 * allocated in the current memory context; text must stay valid as long
 * as it is used.  A NULL text is an empty one.  The spans are made on
 * first use (esc_textpass_spans()): only sentiment reads them.
 */
EscTextPass *
esc_textpass(const char *text, int len)
{
	EscTextPass *tp = palloc(sizeof(EscTextPass));
	const unsigned char *f;
	int			i;
	char	   *folded;

	esc_text_passes++;
	if (text == NULL)
		len = 0;
	tp->text = text ? text : "";
	tp->len = len;
	/* a ticket has a word in about seven bytes: start there, grow by doubling */
	tp->maxwords = len / 6 + 16;
	tp->words = palloc_extended(sizeof(EscWord) * tp->maxwords, MCXT_ALLOC_HUGE);
	tp->nwords = 0;
	tp->spans = NULL;
	tp->nspans = 0;
	tp->maxspans = 0;
	tp->spans_done = false;

	/*
	 * The folded copy, NUL-ended, with seven more zero bytes for
	 * word_hash()'s last read.  The NUL also ends the last word, so the
	 * word loop needs no bounds check.
	 */
	tp->folded = folded = palloc_extended(len + 8, MCXT_ALLOC_HUGE);
	fold_ascii(folded, tp->text, len);
	memset(folded + len, 0, 8);
	f = (const unsigned char *) folded;

	byte_classes_init();
	i = 0;
	for (;;)
	{
		int			ws;
		uint8		seen = 0;
		uint8		k;
		EscWord    *w;

		/* to the next word byte (folding keeps every byte's class) */
		while (i < len && !(byte_class[f[i]] & BC_WORD))
			i++;
		if (i >= len)
			break;
		ws = i;
		while ((k = byte_class[f[i]]) & BC_WORD)
		{
			seen |= k;
			i++;
		}

		if (tp->nwords == tp->maxwords)
			grow_words(tp);
		w = &tp->words[tp->nwords++];
		w->start = ws;
		w->end = i;
		w->flags = (seen & BC_DIGIT) ? ESC_WORD_DIGITS : 0;
		if (i - ws >= ESC_MAX_WORD)
		{
			w->flags |= ESC_WORD_LONG;
			w->hash = 0;
		}
		else
			w->hash = word_hash(folded + ws, i - ws);
	}
	return tp;
}

static inline void
add_span(EscTextPass *tp, int start, int end, int nexclaim, int nquestion, bool newline,
		 bool ascii)
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
	s->ascii = ascii;
}

/*
 * The pass's spans, VADER's raw tokens: made by a second walk the first
 * time they are asked for, and kept in the pass (allocated in the memory
 * context the pass is in).  The pass is logically constant: the spans
 * are a function of its text.
 */
void
esc_textpass_spans(const EscTextPass *ctp)
{
	EscTextPass *tp = unconstify(EscTextPass *, ctp);
	const unsigned char *p = (const unsigned char *) tp->text;
	int			len = tp->len;
	int			i;
	bool		newline = false;

	if (tp->spans_done)
		return;
	tp->maxspans = len / 6 + 16;
	tp->spans = MemoryContextAllocExtended(GetMemoryChunkContext(tp),
										   sizeof(EscSpan) * tp->maxspans,
										   MCXT_ALLOC_HUGE);
	tp->nspans = 0;
	byte_classes_init();
	i = 0;
	while (i < len)
	{
		int			start;
		int			nexclaim = 0,
					nquestion = 0;
		uint8		k;
		uint8		seen = 0;

		/* white space; a line break in it ends a sentence */
		while (i < len && ((k = byte_class[p[i]]) & BC_SPACE))
		{
			if (k & BC_NEWLINE)
				newline = true;
			i++;
		}
		if (i >= len)
			break;
		/* a span, to the next white space or the end of the text */
		start = i;
		for (; i < len; i++)
		{
			k = byte_class[p[i]];
			seen |= k;
			if (k & (BC_SPACE | BC_EXCLAIM | BC_QUESTION))
			{
				if (k & BC_SPACE)
					break;
				if (k & BC_EXCLAIM)
					nexclaim++;
				else
					nquestion++;
			}
		}
		add_span(tp, start, i, nexclaim, nquestion, newline, !(seen & BC_HIGH));
		newline = false;
	}
	tp->spans_done = true;
}
