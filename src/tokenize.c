/*-------------------------------------------------------------------------
 *
 * tokenize.c
 *	  Keyword matching on stems, at a cost a row trigger can afford.
 *
 * Building a tsvector of every ticket (to_tsvector) costs about twice a bare
 * insert, because every word of the text goes through the parser and the
 * dictionaries.  Rules only care about a few dozen stems, so we do this:
 *
 *	1. Split the text into words with a cheap byte loop (textpass.c: the
 *	   trigger's one pass over the text, which triage and sentiment read
 *	   too): a word is a run of
 *	   ASCII letters and digits or of non-ASCII bytes (UTF-8 letters).  ASCII
 *	   letters are folded to lower case.  This is the same split the default
 *	   parser makes for ordinary words, hyphens and apostrophes included
 *	   ("charge-back" is two words, "can't" is "can" and "t").
 *	2. Each distinct word goes once through PostgreSQL's own parser and the
 *	   source's text search configuration (parsetext), giving its stems; the
 *	   stems that some keyword uses are remembered per word in a memo table.
 *	   Afterwards the word costs one hash probe.  Words no keyword can match
 *	   are remembered too, with no stems.
 *	3. Keywords are split and stemmed the same way when the rules are
 *	   compiled, so "refunds" in a ticket matches the keyword "refund", and a
 *	   phrase ("cancel my subscription") matches its stems at the same word
 *	   offsets as in the keyword, stop words holding their place, as
 *	   phraseto_tsquery() would.
 *
 * The memo is bounded (escalation.word_cache_size) and starts over when full.
 * An entry also keeps sentiment.c's and triage.c's readings of the word
 * (EscWordReading), and a pass's look-ups leave in the pass where each
 * word's entry is, so that sentiment and triage reading the same text
 * read the line just read here.
 * Everything lives in the lexicon's memory context, a child of the
 * configuration cache, and goes away with it when the rules change.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "tsearch/ts_cache.h"
#include "tsearch/ts_utils.h"
#include "common/hashfn.h"
#include "utils/memutils.h"

#include "escalation.h"

typedef struct LexemeEntry
{
	char		lexeme[ESC_MAX_WORD];	/* hash key */
	int			id;
} LexemeEntry;

/*
 * The word memo: open addressing with linear probing, power-of-two size,
 * keyed by the folded word.  dynahash with string keys cost a strlen, a
 * 64-byte strncmp and a function call per probe; this is the trigger's
 * innermost loop (one probe per word of every ticket), so it gets its own
 * table.
 */
typedef struct MemoEntry
{
	uint32		hash;
	uint8		len;			/* 0 = empty slot */
	uint8		n;				/* number of ids */
	uint16		spare;
	uint64		prefix;			/* first 8 bytes of the word, zero-padded */
	int			ids[ESC_MAX_ALT];
	EscWordTail tail;			/* the rest of the word */
	EscWordReading reading;		/* sentiment.c's and triage.c's */
} MemoEntry;

StaticAssertDecl(sizeof(MemoEntry) == 64, "a word memo entry is one cache line");
StaticAssertDecl(ESC_MAX_WORD <= 256, "a memoised word's length fits in a byte");

/* a word of the text being matched, between the two passes */
typedef struct Token
{
	int			start;
	int			end;
	int			wordno;
	uint32		hash;
	int			w;				/* in the pass's words */
} Token;

typedef struct EscMemo
{
	uint32		mask;			/* size - 1 */
	uint32		used;
	MemoEntry  *slots;			/* from esc_alloc_big() */
} EscMemo;

/*
 * size empty slots, each on one cache line (on huge pages when they are
 * many: bigmem.c)
 */
static void
memo_slots_alloc(EscMemo *m, MemoryContext cxt, uint32 size)
{
	m->slots = esc_alloc_big(cxt, sizeof(MemoEntry) * size);
	memset(m->slots, 0, sizeof(MemoEntry) * size);
	m->mask = size - 1;
}

/* one occurrence of a phrase stem in the text */
typedef struct Occurrence
{
	int			id;
	int			pos;
	int			start;
	int			end;
} Occurrence;

/* an array of n elements (max allocated) with room for one more: doubled */
static void *
room_for_one(void *array, int n, int *max, Size elem)
{
	if (n < *max)
		return array;
	*max = *max > 0 ? *max * 2 : 32;
	return array ? repalloc(array, elem * *max) : palloc(elem * *max);
}

/* an occurrence of a phrase's first part: where the phrase may start */
typedef struct Candidate
{
	int			keyword;
	int			occ;
} Candidate;

static inline bool
is_word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c >= 0x80;
}

/*
 * Find the next word in text[*pos .. len).  Returns false at the end.
 */
static inline bool
next_word(const char *text, int len, int *pos, int *start, int *end)
{
	int			i = *pos;

	while (i < len && !is_word_byte((unsigned char) text[i]))
		i++;
	if (i >= len)
	{
		*pos = i;
		return false;
	}
	*start = i;
	while (i < len && is_word_byte((unsigned char) text[i]))
		i++;
	*end = i;
	*pos = i;
	return true;
}

/*
 * Stems of one word through the configuration's parser and dictionaries.
 * Returns a List of palloc'd C strings (empty for a stop word).
 */
static List *
word_stems(Oid cfgid, const char *word, int len)
{
	ParsedText	prs;
	List	   *result = NIL;

	prs.lenwords = 4;
	prs.curwords = 0;
	prs.pos = 0;
	prs.words = (ParsedWord *) palloc(sizeof(ParsedWord) * prs.lenwords);
	parsetext(cfgid, &prs, (char *) word, len);

	for (int i = 0; i < prs.curwords; i++)
		result = lappend(result, pnstrdup(prs.words[i].word, prs.words[i].len));
	return result;
}

EscLexicon *
esc_lexicon_create(MemoryContext parent, Oid cfgid)
{
	MemoryContext cxt;
	EscLexicon *lex;
	HASHCTL		ctl;

	cxt = AllocSetContextCreate(parent, "escalation lexicon", ALLOCSET_DEFAULT_SIZES);
	lex = MemoryContextAllocZero(cxt, sizeof(EscLexicon));
	lex->cxt = cxt;
	lex->cfgid = cfgid;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = ESC_MAX_WORD;
	ctl.entrysize = sizeof(LexemeEntry);
	ctl.hcxt = cxt;
	lex->lexemes = hash_create("escalation lexemes", 64, &ctl,
							   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	lex->maxkeywords = 16;
	lex->keywords = MemoryContextAllocZero(cxt, sizeof(EscKeyword) * lex->maxkeywords);
	lex->first = MemoryContextAllocZero(cxt, sizeof(List *) * 64);
	return lex;
}

static void
memo_reset(EscLexicon *lex)
{
	uint32		size = 1024;

	if (lex->memo_cxt)
		MemoryContextDelete(lex->memo_cxt);
	lex->memo_cxt = AllocSetContextCreate(lex->cxt, "escalation word memo",
										  ALLOCSET_DEFAULT_SIZES);
	lex->memo = MemoryContextAlloc(lex->memo_cxt, sizeof(EscMemo));
	lex->memo->used = 0;
	memo_slots_alloc(lex->memo, lex->memo_cxt, size);
	lex->memo_entries = 0;
	lex->memo_epoch++;
}

static void
memo_grow(EscLexicon *lex)
{
	EscMemo    *m = lex->memo;
	uint32		oldsize = m->mask + 1;
	uint32		newsize = oldsize * 2;
	MemoEntry  *old = m->slots;

	memo_slots_alloc(m, lex->memo_cxt, newsize);
	lex->memo_epoch++;
	for (uint32 i = 0; i < oldsize; i++)
	{
		uint32		j;

		if (old[i].len == 0)
			continue;
		for (j = old[i].hash & m->mask; m->slots[j].len != 0; j = (j + 1) & m->mask)
			;
		m->slots[j] = old[i];
	}
	esc_free_big(old);
}

static int
lexeme_id(EscLexicon *lex, const char *lexeme)
{
	LexemeEntry *e;
	bool		found;
	char		key[ESC_MAX_WORD];

	if (strlen(lexeme) >= ESC_MAX_WORD)
		return -1;
	if (strpbrk(lexeme, "0123456789") != NULL)
		lex->digit_stems = true;
	strlcpy(key, lexeme, ESC_MAX_WORD);
	e = hash_search(lex->lexemes, key, HASH_ENTER, &found);
	if (!found)
	{
		/* keep lex->first as large as the number of lexemes */
		if ((lex->nlexemes & (lex->nlexemes - 1)) == 0 && lex->nlexemes >= 64)
		{
			lex->first = repalloc(lex->first, sizeof(List *) * lex->nlexemes * 2);
			memset(lex->first + lex->nlexemes, 0, sizeof(List *) * lex->nlexemes);
		}
		e->id = lex->nlexemes++;
	}
	return e->id;
}

/*
 * Add a keyword or phrase.  Returns its index, or -1 when it has no word the
 * configuration keeps (only stop words); rule validation refuses those, so
 * that cannot happen for stored rules.
 */
int
esc_lexicon_add_keyword(EscLexicon *lex, const char *keyword)
{
	MemoryContext old = MemoryContextSwitchTo(lex->cxt);
	int			len = strlen(keyword);
	int			pos = 0,
				start,
				end,
				wordno = 0,
				first_wordno = -1;
	List	   *parts = NIL;
	EscKeyword *kw;
	int			idx;
	ListCell   *lc;

	while (next_word(keyword, len, &pos, &start, &end))
	{
		List	   *stems = word_stems(lex->cfgid, keyword + start, end - start);
		EscKwPart  *part;

		if (stems != NIL)
		{
			part = palloc0(sizeof(EscKwPart));
			foreach(lc, stems)
			{
				int			id = lexeme_id(lex, (char *) lfirst(lc));

				if (id >= 0 && part->nalt < ESC_MAX_ALT)
					part->alt[part->nalt++] = id;
			}

			/*
			 * A word whose stems are all too long to be keywords holds its
			 * place, like a stop word; offsets count from the first word
			 * that is kept, which the matcher anchors at offset 0.
			 */
			if (part->nalt > 0)
			{
				if (first_wordno < 0)
					first_wordno = wordno;
				part->offset = wordno - first_wordno;
				parts = lappend(parts, part);
			}
		}
		wordno++;
	}

	if (parts == NIL)
	{
		MemoryContextSwitchTo(old);
		return -1;
	}

	if (lex->nkeywords == lex->maxkeywords)
	{
		lex->maxkeywords *= 2;
		lex->keywords = repalloc(lex->keywords, sizeof(EscKeyword) * lex->maxkeywords);
	}
	idx = lex->nkeywords++;
	kw = &lex->keywords[idx];
	kw->text = pstrdup(keyword);
	kw->nparts = list_length(parts);
	kw->parts = palloc(sizeof(EscKwPart) * kw->nparts);
	for (int i = 0; i < kw->nparts; i++)
		kw->parts[i] = *(EscKwPart *) list_nth(parts, i);
	for (int a = 0; a < kw->parts[0].nalt; a++)
	{
		int			id = kw->parts[0].alt[a];

		lex->first[id] = lappend_int(lex->first[id], idx);
	}

	/* new stems make remembered words stale */
	if (lex->memo_cxt)
	{
		MemoryContextDelete(lex->memo_cxt);
		lex->memo_cxt = NULL;
		lex->memo = NULL;
	}
	MemoryContextSwitchTo(old);
	return idx;
}

/*
 * A new word (memo_lookup() did not find it): stem it once through the
 * dictionaries and remember it.  The memo starts over when it holds
 * esc_memo_size words, and doubles when half full; either moves every
 * entry (lex->memo_epoch counts it).
 */
static pg_noinline MemoEntry *
memo_add(EscLexicon *lex, const char *word, int len, uint32 h)
{
	EscMemo    *m;
	uint32		j;
	MemoEntry  *e;

	if (lex->memo_entries >= esc_memo_size)
		memo_reset(lex);
	else if ((lex->memo->used + 1) * 2 > lex->memo->mask + 1)
		memo_grow(lex);
	m = lex->memo;
	for (j = h & m->mask; m->slots[j].len != 0; j = (j + 1) & m->mask)
		;
	{
		List	   *stems = word_stems(lex->cfgid, word, len);
		ListCell   *lc;

		e = &m->slots[j];
		e->hash = h;
		e->len = len;
		e->prefix = esc_word_head(word, len);
		e->n = 0;
		esc_word_tail_set(&e->tail, word, len, lex->memo_cxt);
		memset(&e->reading, 0, sizeof(e->reading));
		foreach(lc, stems)
		{
			char	   *s = (char *) lfirst(lc);
			LexemeEntry *le;

			if (strlen(s) >= ESC_MAX_WORD)
				continue;
			le = hash_search(lex->lexemes, s, HASH_FIND, NULL);
			if (le && e->n < ESC_MAX_ALT)
				e->ids[e->n++] = le->id;
		}
		m->used++;
		lex->memo_entries++;
	}
	return e;
}

/* the memo entry of a word, computing it on first sight */
static pg_attribute_always_inline MemoEntry *
memo_lookup(EscLexicon *lex, const char *word, int len, uint32 h)
{
	EscMemo    *m = lex->memo;
	uint64		prefix = esc_word_head(word, len);	/* word lies in a pass's folded text */

	for (uint32 j = h & m->mask; m->slots[j].len != 0; j = (j + 1) & m->mask)
	{
		MemoEntry  *e = &m->slots[j];

		if (e->hash == h && e->len == len && e->prefix == prefix &&
			esc_word_tail_eq(&e->tail, word, len))
			return e;
	}
	return memo_add(lex, word, len, h);
}

/*
 * Sentiment's reading of word number wi of pass tp (esc_lexicon_keeps()
 * must hold) in the word's memo entry, looked up, and made (the word
 * stemmed) if the word is new: for when the pass holds no valid tp->side.
 * Valid until the next look-up, which may move it.
 */
EscWordReading *
esc_lexicon_word_sentiment(EscLexicon *lex, const EscTextPass *tp, int wi)
{
	const EscWord *w = &tp->words[wi];

	Assert(esc_lexicon_keeps(lex, w));
	if (lex->memo == NULL)
		memo_reset(lex);
	return &memo_lookup(lex, tp->folded + w->start, w->end - w->start, w->hash)->reading;
}

/*
 * Make the memo keep triage's readings for the vocabulary numbered serial
 * (triage.c's esc_triage_vocab_serial()): when it kept another's, they are
 * forgotten.  Entries do not move, so a pass's side pointers stay valid.
 */
void
esc_lexicon_claim_triage(EscLexicon *lex, uint64 serial)
{
	if (lex->tri_serial == serial)
		return;
	if (lex->memo != NULL)
	{
		EscMemo    *m = lex->memo;

		for (uint32 j = 0; j <= m->mask; j++)
			m->slots[j].reading.tri_state = ESC_TRI_UNREAD;
	}
	lex->tri_serial = serial;
}

static bool
part_has(const EscKwPart *part, int id)
{
	for (int a = 0; a < part->nalt; a++)
		if (part->alt[a] == id)
			return true;
	return false;
}

/* word positions skipped at a field break, so that no phrase spans it */
#define ESC_FIELD_GAP	(1 << 20)

/*
 * Find every keyword of the lexicon in a text.  field_break is the byte
 * offset at which a second field (the body after the subject) begins, or -1:
 * a phrase never matches across it.  m->matched and friends are allocated in
 * the current memory context.  Makes a tokenising pass of its own; the
 * trigger, which has one, calls esc_lexicon_match_pass().
 */
void
esc_lexicon_match(EscLexicon *lex, const char *text, int len, int field_break, EscMatch *m)
{
	if (lex->nkeywords == 0 || text == NULL)
	{
		esc_lexicon_match_pass(lex, NULL, field_break, false, m);
		return;
	}
	esc_lexicon_match_pass(lex, esc_textpass(text, len, false), field_break, false, m);
}

/*
 * The same, on the words of a tokenising pass (NULL: no text).  With
 * leave_side (sentiment or triage will read the same pass), leaves in the
 * pass, per word, where the memo keeps their readings of it (tp->side).
 */
void
esc_lexicon_match_pass(EscLexicon *lex, EscTextPass *tp, int field_break, bool leave_side,
					   EscMatch *m)
{
	int			start,
				end,
				wordno = 0;
	bool		past_break = (field_break < 0);
	Occurrence *occ = NULL;
	int			nocc = 0,
				maxocc = 0;
	Candidate  *cand = NULL;
	int			ncand = 0,
				maxcand = 0;
	const char *folded;
	Token	   *tokens;
	int			ntokens = 0;
	EscWordReading **side = NULL;
	uint64		epoch;

	m->nkeywords = lex->nkeywords;
	m->matched = palloc0(sizeof(bool) * Max(lex->nkeywords, 1));
	m->start = palloc0(sizeof(int) * Max(lex->nkeywords, 1));
	m->end = palloc0(sizeof(int) * Max(lex->nkeywords, 1));
	m->nwords = 0;
	if (lex->nkeywords == 0 || tp == NULL)
		return;
	if (lex->memo == NULL)
		memo_reset(lex);

	/*
	 * Pass 1, over the pass's words: keep those a keyword can match, number
	 * them, and prefetch their memo slots.  Between two inserts the rest of
	 * the backend's work evicts the memo from the CPU caches, so probing
	 * word by word would wait on one cache miss after another; this way the
	 * misses overlap.
	 */
	folded = tp->folded;
	tokens = palloc(sizeof(Token) * (tp->nwords + 1));
	for (int w = 0; w < tp->nwords; w++)
	{
		const EscWord *word = &tp->words[w];

		if (!past_break && word->start >= field_break)
		{
			wordno += ESC_FIELD_GAP;
			past_break = true;
		}

		if (!esc_lexicon_keeps(lex, word))
		{
			/*
			 * Order numbers, versions, amounts: a word with a digit keeps it
			 * in its stems, so unless a keyword has a digit it cannot match,
			 * and such words, mostly seen once, would only crowd the memo.
			 */
			wordno++;
			continue;
		}
		tokens[ntokens].start = word->start;
		tokens[ntokens].end = word->end;
		tokens[ntokens].wordno = wordno++;
		tokens[ntokens].hash = word->hash;
		tokens[ntokens].w = w;
		__builtin_prefetch(&lex->memo->slots[tokens[ntokens].hash & lex->memo->mask]);
		ntokens++;
	}
	m->nwords = tp->nwords;

	/* pass 2: look the words up */
	if (leave_side)
		side = MemoryContextAllocZero(GetMemoryChunkContext(tp),
									  sizeof(EscWordReading *) * Max(tp->nwords, 1));
	epoch = lex->memo_epoch;
	for (int t = 0; t < ntokens; t++)
	{
		MemoEntry  *e;

		start = tokens[t].start;
		end = tokens[t].end;
		wordno = tokens[t].wordno;
		e = memo_lookup(lex, folded + start, end - start, tokens[t].hash);
		if (side)
			side[tokens[t].w] = &e->reading;
		for (int i = 0; i < e->n; i++)
		{
			int			id = e->ids[i];
			ListCell   *lc;

			foreach(lc, lex->first[id])
			{
				int			k = lfirst_int(lc);

				if (lex->keywords[k].nparts == 1)
				{
					if (!m->matched[k])
					{
						m->matched[k] = true;
						m->start[k] = start;
						m->end[k] = end;
					}
				}
				else
				{
					/* a phrase may start here: checked once all are known */
					cand = room_for_one(cand, ncand, &maxcand, sizeof(Candidate));
					cand[ncand].keyword = k;
					cand[ncand].occ = nocc;
					ncand++;
				}
			}
			/* remember every keyword stem: phrases check later parts too */
			occ = room_for_one(occ, nocc, &maxocc, sizeof(Occurrence));
			occ[nocc].id = id;
			occ[nocc].pos = wordno;
			occ[nocc].start = start;
			occ[nocc].end = end;
			nocc++;
		}
	}

	/* a new word may have moved the entries looked up before it */
	if (side)
	{
		tp->side_lex = lex->memo_epoch == epoch ? lex : NULL;
		tp->side_epoch = epoch;
		tp->side = side;
	}

	/*
	 * Phrases: every part at its offset from a candidate start, in text
	 * order, so that a phrase's first match is the one recorded.  Only the
	 * occurrences of a phrase's first part are candidates (noted in pass
	 * 2), not every occurrence for every phrase.
	 */
	for (int c = 0; c < ncand; c++)
	{
		int			k = cand[c].keyword;
		int			o = cand[c].occ;
		EscKeyword *kw = &lex->keywords[k];
		int			last_end = occ[o].end;
		bool		all = true;

		if (m->matched[k])
			continue;
		for (int p = 1; p < kw->nparts && all; p++)
		{
			bool		found = false;

			for (int q = o + 1; q < nocc; q++)
			{
				if (occ[q].pos > occ[o].pos + kw->parts[p].offset)
					break;
				if (occ[q].pos == occ[o].pos + kw->parts[p].offset &&
					part_has(&kw->parts[p], occ[q].id))
				{
					found = true;
					last_end = occ[q].end;
					break;
				}
			}
			all = found;
		}
		if (all)
		{
			m->matched[k] = true;
			m->start[k] = occ[o].start;
			m->end[k] = last_end;
		}
	}
}

/*
 * The stems a keyword is matched on, one list element per word position:
 * NULL for a stop word, "a|b" where a word has several stems.
 */
List *
esc_keyword_stems(Oid cfgid, const char *keyword)
{
	int			len = strlen(keyword);
	int			pos = 0,
				start,
				end;
	List	   *result = NIL;

	while (next_word(keyword, len, &pos, &start, &end))
	{
		List	   *stems = word_stems(cfgid, keyword + start, end - start);
		StringInfoData buf;
		ListCell   *lc;

		if (stems == NIL)
		{
			result = lappend(result, NULL);
			continue;
		}
		initStringInfo(&buf);
		foreach(lc, stems)
		{
			if (buf.len > 0)
				appendStringInfoChar(&buf, '|');
			appendStringInfoString(&buf, (char *) lfirst(lc));
		}
		result = lappend(result, buf.data);
	}
	return result;
}
