/*-------------------------------------------------------------------------
 *
 * textpass.c
 *	  One tokenising pass over a text, serving the keyword rules
 *	  (tokenize.c), triage (triage.c) and sentiment (sentiment.c).
 *	  Pure: no SPI, no catalog.
 *
 * The keyword rules and triage read a ticket's text as words: runs of
 * ASCII letters and digits or of non-ASCII bytes, ASCII folded to lower
 * case (the split the default parser makes for ordinary words), looked up
 * in a per-backend stem memo by tokenize.c (keyword lexemes) and by
 * triage.c (model stems).  Sentiment reads the pass's text as VADER's raw
 * tokens, runs of bytes that are not white space, as written (case,
 * punctuation, emoticons, emoji): sentiment.c finds them itself, eight
 * bytes at a time, as it looks each up in its memo (an array of them made
 * here cost a store and a load a span, some 1,500 instructions a ticket).
 *
 * esc_textpass() folds the text to lower case (ASCII, eight bytes at a
 * time), then finds the words 64 bytes at a time: a bitmap of the word
 * bytes and one of the digits (eight bytes classified at once with
 * arithmetic on the bytes' low seven bits, their high bits gathered by a
 * multiplication), the words' starts and ends taken from the bitmap by
 * counting trailing zeros, each word's hash (the memos' key, read from the
 * folded bytes eight at a time) and its flags: a digit in it, too long to
 * be a word of ours (ESC_MAX_WORD bytes or more), and, when sentiment will
 * read the pass (cases), whether the word is one of its raw tokens as it
 * stands (white space on both sides, ASCII) and in ALL CAPS, told from
 * the bytes around it and its first two (session 24: some 7,000
 * instructions a 1 kB ticket here, 8,000 fewer in sentiment.c, which
 * told it itself, eight bytes at a time).  The trigger makes one
 * pass per row text (subject and body of a ticket, or a message's body)
 * and every rule condition, the triage model and sentiment read it; the
 * standalone functions (classify(), sentiment(), explain()) make their
 * own.  esc_text_passes counts the passes a backend made, so a test can
 * check that an insert with keyword, sentiment and triage rules costs one
 * (escalation.text_passes()).  The fuzz harness for tokenize.c checks
 * every word, flag and hash against a byte-by-byte reference.
 *
 * Cost, on the insert benchmark's 1 KB texts (callgrind): about 16,200
 * instructions per text (fold 2,500, bitmaps 3,900, about 156 words at 63
 * each, most of it the hash), against 19,700 for the byte-at-a-time word
 * loop before it (session 9) and 27,500 for the first single loop, which
 * folded byte by byte, ran FNV-1a over every word byte and recorded the
 * spans whether or not a sentiment rule would read them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port/pg_bitutils.h"
#include "port/pg_bswap.h"
#include "utils/memutils.h"

#include "escalation.h"

/* tokenising passes over a text made by this backend */
uint64		esc_text_passes = 0;

/*
 * Byte classes, eight bytes at a time.  On folded text (no 'A'..'Z' left)
 * a word byte is 'a'..'z', '0'..'9' or 0x80 and above, as is_word_byte()
 * in tokenize.c and the fuzz harness's reference say.  For the low seven
 * bits h of each byte, h + (0x80 - lo) has its high bit set exactly when
 * h >= lo, and cannot carry into the next byte (h + 0x50 <= 0xCF); so a
 * range is two additions, an and-not and a mask.  The high bits of the
 * eight bytes are gathered into one byte by a multiplication (they land
 * in the top byte without overlapping or carrying).
 */
#define SWAR_HIGH	UINT64CONST(0x8080808080808080)
#define SWAR_LOW7	UINT64CONST(0x7F7F7F7F7F7F7F7F)
#define SWAR_ONES	UINT64CONST(0x0101010101010101)

static inline uint64
gather_high(uint64 m)
{
	return (m * UINT64CONST(0x0002040810204081)) >> 56;
}

/* x: eight folded bytes, the first in the low byte; bit i for byte i */
static inline void
classify8(uint64 x, uint64 *word, uint64 *digit)
{
	uint64		h = x & SWAR_LOW7;
	uint64		letter = (h + SWAR_ONES * (0x80 - 'a')) & ~(h + SWAR_ONES * (0x80 - 'z' - 1));
	uint64		num = (h + SWAR_ONES * (0x80 - '0')) & ~(h + SWAR_ONES * (0x80 - '9' - 1));

	*word = gather_high((x | letter | num) & SWAR_HIGH);
	*digit = gather_high(num & ~x & SWAR_HIGH);
}

static void
grow_words(EscTextPass *tp)
{
	tp->maxwords *= 2;
	tp->words = repalloc_huge(tp->words, sizeof(EscWord) * tp->maxwords);
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
 * it.  *bits: the chunks or-ed together (their high bits: whether the
 * word is ASCII).
 */
static inline uint32
word_hash(const char *w, int len, uint64 *bits)
{
	uint64		h = (uint64) len * UINT64CONST(0x9E3779B97F4A7C15);
	uint64		all = 0;

	for (;;)
	{
		uint64		x = esc_word_head(w, len);

		all |= x;
		h = (h ^ x) * UINT64CONST(0xFF51AFD7ED558CCD);
		if (len <= 8)
			break;
		w += 8;
		len -= 8;
	}
	h ^= h >> 33;
	h *= UINT64CONST(0xC4CEB9FE1A85EC53);
	h ^= h >> 33;
	*bits = all;
	return (uint32) h;
}

/*
 * ESC_WORD_PLAIN and ESC_WORD_UPPER of a word [ws, we) of at most
 * ESC_WORD_PLAIN_MAX bytes of text[0 .. len), for sentiment (tp->cases);
 * ascii: it has no byte with its high bit set (word_hash() saw its
 * bytes).  Plain: white space or the text's edge on both sides, and
 * ASCII.  In ALL CAPS: an upper-case letter and no lower-case one; a
 * plain word's bytes are letters and digits, so a lower-case letter is a
 * byte from 'a' up, and a word whose first or second byte is one (nearly
 * every word) is told at once.
 */
static pg_attribute_always_inline uint32
case_flags(const unsigned char *text, int len, int ws, int we, bool ascii)
{
	bool		any_upper = false;

	if (!ascii || !esc_word_spaced(text, len, ws, we))
		return 0;
	if (text[ws] >= 'a' || (we - ws > 1 && text[ws + 1] >= 'a'))
		return ESC_WORD_PLAIN;
	for (int i = ws; i < we; i++)
	{
		if (text[i] >= 'a')
			return ESC_WORD_PLAIN;
		any_upper |= (text[i] >= 'A');
	}
	return ESC_WORD_PLAIN | (any_upper ? ESC_WORD_UPPER : 0);
}

/*
 * Record a word [ws, we) of the folded text; text, len: the text as
 * written, and cases: tp->cases (passed in so that they stay in registers
 * while the word is stored).
 */
static pg_attribute_always_inline void
add_word(EscTextPass *tp, const char *folded, int ws, int we, bool digit,
		 const unsigned char *text, int len, bool cases)
{
	EscWord    *w;
	uint32		flags = digit ? ESC_WORD_DIGITS : 0;
	uint64		high = SWAR_HIGH;

	if (tp->nwords == tp->maxwords)
		grow_words(tp);
	w = &tp->words[tp->nwords++];
	w->start = ws;
	w->end = we;
	if (we - ws >= ESC_MAX_WORD)
	{
		flags |= ESC_WORD_LONG;
		w->hash = 0;
	}
	else
		w->hash = word_hash(folded + ws, we - ws, &high);
	if (cases && we - ws <= ESC_WORD_PLAIN_MAX)
		flags |= case_flags(text, len, ws, we, (high & SWAR_HIGH) == 0);
	w->flags = flags;
}

/* the bits of x below bit n (n in 0 .. 64) */
static inline uint64
bits_below(uint64 x, int n)
{
	return n >= 64 ? x : x & ((UINT64CONST(1) << n) - 1);
}

/* esc_textpass(), for one value of cases */
static pg_attribute_always_inline EscTextPass *
textpass(const char *text, int len, bool cases)
{
	EscTextPass *tp = palloc(sizeof(EscTextPass));
	const unsigned char *t;
	char	   *folded;
	int			open;
	bool		open_digit;
	uint64		carry;
	int			ws,
				we;

	esc_text_passes++;
	if (text == NULL)
		len = 0;
	tp->text = text ? text : "";
	t = (const unsigned char *) tp->text;
	tp->len = len;
	tp->cases = cases;
	/* a ticket has a word in about seven bytes: start there, grow by doubling */
	tp->maxwords = len / 6 + 16;
	tp->words = palloc_extended(sizeof(EscWord) * tp->maxwords, MCXT_ALLOC_HUGE);
	tp->nwords = 0;
	tp->side_lex = NULL;
	tp->side_epoch = 0;
	tp->side = NULL;

	/* the folded copy, with eight zero bytes of padding for word_hash() */
	tp->folded = folded = palloc_extended(len + 8, MCXT_ALLOC_HUGE);
	fold_ascii(folded, tp->text, len);
	memset(folded + len, 0, 8);

	/*
	 * 64 bytes at a time: which are word bytes and which digits, one bit a
	 * byte, made eight bytes at a time (the last read goes into the
	 * padding, whose zero bytes are neither); then the words' starts (a
	 * word byte after a byte that is not) and ends (the reverse) are taken
	 * in order, lowest bit first.  A word may go on into the next block:
	 * it stays open, its digits remembered, until its end comes.
	 */
	open = -1;
	open_digit = false;
	carry = 0;
	for (int base = 0; base < len; base += 64)
	{
		uint64		wb = 0,
					db = 0,
					prev,
					starts,
					ends;
		int			nchunks = Min(8, (len - base + 7) / 8);

		for (int c = 0; c < nchunks; c++)
		{
			uint64		x,
						cw,
						cd;

			memcpy(&x, folded + base + 8 * c, 8);
#ifdef WORDS_BIGENDIAN
			x = pg_bswap64(x);
#endif
			classify8(x, &cw, &cd);
			wb |= cw << (8 * c);
			db |= cd << (8 * c);
		}
		prev = (wb << 1) | carry;
		starts = wb & ~prev;
		ends = ~wb & prev;
		carry = wb >> 63;

		if (open >= 0)
		{
			if (ends == 0)
			{
				/* the whole block is in the word */
				open_digit |= (db != 0);
				continue;
			}
			we = pg_rightmost_one_pos64(ends);
			ends &= ends - 1;
			add_word(tp, folded, open, base + we,
					 open_digit || bits_below(db, we) != 0, t, len, cases);
			open = -1;
		}
		while (starts != 0)
		{
			ws = pg_rightmost_one_pos64(starts);
			starts &= starts - 1;
			if (ends == 0)
			{
				/* goes on into the next block */
				open = base + ws;
				open_digit = (db >> ws) != 0;
				break;
			}
			we = pg_rightmost_one_pos64(ends);
			ends &= ends - 1;
			add_word(tp, folded, base + ws, base + we,
					 bits_below(db >> ws, we - ws) != 0, t, len, cases);
		}
	}
	/* a word up to the end of a text of whole blocks */
	if (open >= 0)
		add_word(tp, folded, open, len, open_digit, t, len, cases);
	return tp;
}

/*
 * Walk text[0 .. len) once for its words; cases: sentiment will read the
 * pass, note ESC_WORD_PLAIN and ESC_WORD_UPPER (the walk is made twice,
 * so that a pass without them runs no code of theirs).  The result (and
 * its arrays) is allocated in the current memory context; text must stay
 * valid as long as it is used.  A NULL text is an empty one.
 */
EscTextPass *
esc_textpass(const char *text, int len, bool cases)
{
	return cases ? textpass(text, len, true) : textpass(text, len, false);
}
