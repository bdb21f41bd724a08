/*-------------------------------------------------------------------------
 *
 * fuzz_tokenize.c
 *	  libFuzzer harness for tokenize.c: the keyword lexicon and matcher that
 *	  the row trigger and escalation.match_keywords() run on ticket text.
 *
 * Input: one byte choosing the text search configuration (the shim's toy
 * English or simple), one byte placing the field break (0: none), the
 * keywords one per line, a 0x00 byte, then the text.
 *
 * Checked against a naive reference matcher written here from the
 * documented behaviour (tokenize.c's header comment): the same keywords
 * match, at the same first occurrence, and the same number of words is
 * counted.  The reference splits words the same way, stems each through
 * the same configuration, and matches a phrase when every stemmed word of
 * it is found at its offset from the first one (stop words, and words
 * whose stems are too long to be keywords, holding their place), never
 * across the field break.  Words of 64 bytes or more never match, and
 * words with a digit match only when some keyword stem has one.  Matching
 * twice (the second time from the word memo) must give the same answer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "escalation.h"
#include "shim.h"

#define MAX_KEYWORDS	64

typedef struct RefPart
{
	int			offset;
	int			nalt;
	const char *alt[ESC_MAX_ALT];
} RefPart;

typedef struct RefKeyword
{
	int			id;				/* esc_lexicon_add_keyword's answer */
	int			nparts;
	RefPart    *parts;
} RefKeyword;

typedef struct RefWord
{
	int			start;
	int			end;
	int			wordno;
	int			nstems;
	const char *stems[ESC_MAX_ALT];
} RefWord;

static inline bool
word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c >= 0x80;
}

/* the words of s: start and end offsets, returns how many */
static int
split_words(const char *s, int len, int *starts, int *ends)
{
	int			n = 0;
	int			i = 0;

	while (i < len)
	{
		while (i < len && !word_byte((unsigned char) s[i]))
			i++;
		if (i >= len)
			break;
		starts[n] = i;
		while (i < len && word_byte((unsigned char) s[i]))
			i++;
		ends[n++] = i;
	}
	return n;
}

static bool
in_list(List *l, const char *s)
{
	ListCell   *lc;

	foreach(lc, l)
		if (strcmp((const char *) lfirst(lc), s) == 0)
		return true;
	return false;
}

static bool
part_matches(const RefPart *p, const RefWord *w)
{
	for (int a = 0; a < p->nalt; a++)
		for (int s = 0; s < w->nstems; s++)
			if (strcmp(p->alt[a], w->stems[s]) == 0)
				return true;
	return false;
}

int			LLVMFuzzerTestOneInput(const uint8 *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	MemoryContext cxt = fuzz_begin();
	FuzzInput	in;
	Oid			cfgid;
	int			brk;
	char	   *kwtext;
	char	   *text;
	int			kwlen,
				len;
	char	   *kws[MAX_KEYWORDS];
	int			nkws = 0;
	RefKeyword	ref[MAX_KEYWORDS];
	List	   *lexemes = NIL;
	bool		digit_stems = false;
	int			nvalid = 0;
	EscLexicon *lex;
	EscMatch	m1,
				m2;
	int		   *ws,
			   *we;
	int			nw;
	RefWord    *words;
	int			field_break;

	fuzz_input(&in, data, size);
	cfgid = (fuzz_u8(&in) & 1) ? SHIM_CFG_SIMPLE : SHIM_CFG_ENGLISH;
	brk = fuzz_u8(&in);
	kwtext = fuzz_text_until(&in, '\0', &kwlen);
	text = fuzz_text_rest(&in, &len);
	field_break = brk == 0 ? -1 : (int) (((int64) brk * (len + 1)) / 256);

	for (char *line = kwtext; *line && nkws < MAX_KEYWORDS;)
	{
		char	   *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		if (*line)
			kws[nkws++] = line;
		if (!nl)
			break;
		line = nl + 1;
	}

	/* the reference's keywords */
	for (int k = 0; k < nkws; k++)
	{
		int			klen = strlen(kws[k]);
		int		   *s = palloc(sizeof(int) * (klen + 1));
		int		   *e = palloc(sizeof(int) * (klen + 1));
		int			n = split_words(kws[k], klen, s, e);
		int			first = -1;

		ref[k].nparts = 0;
		ref[k].parts = palloc0(sizeof(RefPart) * Max(n, 1));
		for (int w = 0; w < n; w++)
		{
			List	   *stems = shim_stems(cfgid, kws[k] + s[w], e[w] - s[w]);
			RefPart    *p = &ref[k].parts[ref[k].nparts];
			ListCell   *lc;

			foreach(lc, stems)
			{
				const char *st = lfirst(lc);

				if (strlen(st) >= ESC_MAX_WORD)
					continue;
				if (strpbrk(st, "0123456789"))
					digit_stems = true;
				if (!in_list(lexemes, st))
					lexemes = lappend(lexemes, (void *) st);
				if (p->nalt < ESC_MAX_ALT)
					p->alt[p->nalt++] = st;
			}
			if (p->nalt > 0)
			{
				if (first < 0)
					first = w;
				p->offset = w - first;
				ref[k].nparts++;
			}
		}
		ref[k].id = ref[k].nparts > 0 ? nvalid++ : -1;
	}

	/* the reference's words */
	ws = palloc(sizeof(int) * (len + 1));
	we = palloc(sizeof(int) * (len + 1));
	nw = split_words(text, len, ws, we);
	words = palloc0(sizeof(RefWord) * Max(nw, 1));
	{
		int			wordno = 0;
		bool		past = field_break < 0;

		for (int w = 0; w < nw; w++)
		{
			bool		digit = false;
			char	   *folded;

			if (!past && ws[w] >= field_break)
			{
				wordno += 1 << 20;
				past = true;
			}
			words[w].start = ws[w];
			words[w].end = we[w];
			words[w].wordno = wordno++;
			if (we[w] - ws[w] >= ESC_MAX_WORD)
				continue;
			folded = pnstrdup(text + ws[w], we[w] - ws[w]);
			for (char *c = folded; *c; c++)
			{
				if (*c >= 'A' && *c <= 'Z')
					*c += 'a' - 'A';
				digit |= (*c >= '0' && *c <= '9');
			}
			if (digit && !digit_stems)
				continue;
			{
				List	   *stems = shim_stems(cfgid, folded, we[w] - ws[w]);
				ListCell   *lc;

				foreach(lc, stems)
				{
					const char *st = lfirst(lc);

					if (strlen(st) < ESC_MAX_WORD && in_list(lexemes, st) &&
						words[w].nstems < ESC_MAX_ALT)
						words[w].stems[words[w].nstems++] = st;
				}
			}
		}
	}

	/*
	 * The tokenising pass itself (textpass.c, bitmaps made eight bytes at a
	 * time): the reference's words, their digit and length flags, and a
	 * word's hash the same wherever it stands (the pass of the word alone
	 * reads no byte after it).
	 */
	for (int cases = 0; cases <= 1; cases++)
	{
		EscTextPass *tp = esc_textpass(text, len, cases);

		FUZZ_CHECK(tp->nwords == nw, "text pass: %d words, reference %d", tp->nwords, nw);
		for (int w = 0; w < nw; w++)
		{
			const EscWord *pw = &tp->words[w];
			bool		digit = false;
			bool		longw = (we[w] - ws[w] >= ESC_MAX_WORD);
			bool		plain = false;
			bool		upper = false;

			for (int i = ws[w]; i < we[w]; i++)
				digit |= (text[i] >= '0' && text[i] <= '9');
			/* sentiment's plain word, byte by byte: see textpass.c's case_flags() */
			if (cases && we[w] - ws[w] <= ESC_WORD_PLAIN_MAX &&
				(ws[w] == 0 || isspace((unsigned char) text[ws[w] - 1])) &&
				(we[w] == len || isspace((unsigned char) text[we[w]])))
			{
				bool		any_upper = false,
							any_lower = false;

				plain = true;
				for (int i = ws[w]; i < we[w]; i++)
				{
					unsigned char c = (unsigned char) text[i];

					plain &= (c < 0x80);
					any_upper |= (c >= 'A' && c <= 'Z');
					any_lower |= (c >= 'a' && c <= 'z');
				}
				upper = plain && any_upper && !any_lower;
			}
			FUZZ_CHECK(pw->start == ws[w] && pw->end == we[w],
					   "text pass: word %d at %d..%d, reference %d..%d",
					   w, pw->start, pw->end, ws[w], we[w]);
			FUZZ_CHECK(((pw->flags & ESC_WORD_DIGITS) != 0) == digit &&
					   ((pw->flags & ESC_WORD_LONG) != 0) == longw &&
					   ((pw->flags & ESC_WORD_PLAIN) != 0) == plain &&
					   ((pw->flags & ESC_WORD_UPPER) != 0) == upper,
					   "text pass: word %d flags %u (cases %d)", w, pw->flags, cases);
			if (!longw)
			{
				EscTextPass *one = esc_textpass(text + ws[w], we[w] - ws[w], cases);

				FUZZ_CHECK(one->nwords == 1 && one->words[0].hash == pw->hash,
						   "text pass: word %d hashes differently alone", w);
			}
		}
	}

	/* the real thing */
	lex = esc_lexicon_create(CurrentMemoryContext, cfgid);
	for (int k = 0; k < nkws; k++)
	{
		int			id = esc_lexicon_add_keyword(lex, kws[k]);
		List	   *stems = esc_keyword_stems(cfgid, kws[k]);
		int		   *s = palloc(sizeof(int) * (strlen(kws[k]) + 1));
		int		   *e = palloc(sizeof(int) * (strlen(kws[k]) + 1));

		FUZZ_CHECK(id == ref[k].id, "keyword %d \"%s\": id %d, expected %d",
				   k, kws[k], id, ref[k].id);
		FUZZ_CHECK(list_length(stems) == split_words(kws[k], strlen(kws[k]), s, e),
				   "keyword \"%s\": %d stem positions", kws[k], list_length(stems));
	}
	esc_lexicon_match(lex, text, len, field_break, &m1);
	esc_lexicon_match(lex, text, len, field_break, &m2);

	FUZZ_CHECK(m1.nkeywords == nvalid, "nkeywords %d, expected %d", m1.nkeywords, nvalid);
	FUZZ_CHECK(m1.nwords == (nvalid > 0 ? nw : 0), "nwords %d, expected %d", m1.nwords, nw);
	for (int k = 0; k < nkws; k++)
	{
		int			id = ref[k].id;
		bool		matched = false;
		int			start = -1,
					end = -1;

		if (id < 0)
			continue;
		for (int i = 0; i < nw && !matched; i++)
		{
			bool		all = part_matches(&ref[k].parts[0], &words[i]);

			end = words[i].end;
			for (int p = 1; p < ref[k].nparts && all; p++)
			{
				int			target = words[i].wordno + ref[k].parts[p].offset;
				bool		found = false;

				for (int j = i + 1; j < nw && words[j].wordno <= target; j++)
					if (words[j].wordno == target && part_matches(&ref[k].parts[p], &words[j]))
					{
						found = true;
						end = words[j].end;
					}
				all = found;
			}
			if (all)
			{
				matched = true;
				start = words[i].start;
			}
		}
		FUZZ_CHECK(m1.matched[id] == matched,
				   "keyword \"%s\": matched %d, reference %d", kws[k], m1.matched[id], matched);
		if (matched)
			FUZZ_CHECK(m1.start[id] == start && m1.end[id] == end,
					   "keyword \"%s\": match at %d..%d, reference %d..%d",
					   kws[k], m1.start[id], m1.end[id], start, end);
		FUZZ_CHECK(m2.matched[id] == m1.matched[id] &&
				   (!matched || (m2.start[id] == m1.start[id] && m2.end[id] == m1.end[id])),
				   "keyword \"%s\": second match (from the memo) differs", kws[k]);
	}

	fuzz_end(cxt);
	return 0;
}
