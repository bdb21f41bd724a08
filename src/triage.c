/*-------------------------------------------------------------------------
 *
 * triage.c
 *	  Learned triage: a ticket's features, and scoring it with a stored
 *	  model.  Pure: no SPI, no catalog reads beyond the text search
 *	  configuration's dictionaries.
 *
 * Features.  The text (subject and body) is split into words exactly as
 * tokenize.c does it (runs of ASCII letters and digits or of non-ASCII
 * bytes, ASCII folded to lower case); each distinct word goes once through
 * PostgreSQL's parser and the source's text search configuration
 * (parsetext), so stems and stop words are PostgreSQL's, in German as in
 * English, and the result is remembered per word in a memo (open
 * addressing, as in tokenize.c: it is the inner loop).  A word that the
 * configuration drops as a stop word is kept as itself when it is plain
 * ASCII letters: "not", "no", "cannot" and "again" say much about a
 * ticket.  The features are the stems, the pairs of consecutive stems
 * ("not work", "unabl to"), the structured fields as pseudo-stems
 * ("priority=high", "channel=email", "tier=gold") and the ticket's length
 * in words on a doubling scale ("words=8-15": a one-line request and a
 * pasted error log tend to go to different teams).  Both additions were
 * chosen by cross-validation on the ITSM benchmark's training tickets
 * (docs/benchmarks.md).  Weights are sublinear tf-idf, 1 + ln(tf) times
 * the smoothed idf, and every document is L2-normalised, as
 * scikit-learn's TfidfVectorizer does.
 *
 * Subject grams.  The escalation model also sees the character n-grams
 * (TRIAGE_GRAM_MIN to TRIAGE_GRAM_MAX characters) of the ticket's first
 * line, the subject (row.c joins subject and body with a newline; for
 * classify(text) it is the text's first line), folded like the words and
 * with "_" at word boundaries: "_pass", "word_", "d_res".  A subject is
 * short and written in a hurry; its grams catch what words miss
 * (misspellings, "pwd"/"passwd"/"password", German compounds, mis-decoded
 * text).  They are a block of their own, tf-idf weighted and L2-normalised
 * apart from the words, after them in the feature order; the team model
 * reads the word block only (its weight matrix stays words x teams).
 * Chosen by 5-fold cross-validation on the ITSM benchmark's training
 * tickets (escalation 0.870 -> 0.875; docs/benchmarks.md).
 *
 * Keys.  A stem has an id in the vocabulary; a feature's key is the stem's
 * id (a single stem) or (id1 + 1) << 32 | id2 (a pair); a gram's key is
 * ESC_TRIAGE_GRAM_TAG | a 63-bit hash of its bytes (ids are below 2^31,
 * so the kinds never meet).  A training run grows the vocabulary and
 * gives every key a provisional index (and remembers each gram's text); a
 * loaded model maps only the keys it kept (the feature strings are stored,
 * so a model does not depend on ids).
 *
 * Vectorising with a loaded model (esc_triage_vectorize_pass(), the
 * trigger's inner loop) does not make the keys: the word memo also holds,
 * for a loaded model, each stem's own feature, so a stem costs no look-up;
 * a pair's key is made from the two stems' ids; a gram's from eight bytes
 * of the subject read at once; the structured fields' features are
 * remembered per value.  Only pairs and grams are looked up in the
 * feature map (open addressing, key and feature side by side: one cache
 * line a probe).  A feature is counted where the model keeps, per
 * feature, the last ticket that counted it and where (one cache line), so
 * the ticket's distinct features come in order of first occurrence with
 * no sort.  The map, the counts and the weights of a large model are tens
 * of megabytes, and the rest of an insert evicts them from the CPU
 * caches: the work goes in steps, each fetching ahead what a later one
 * reads, so that the cache misses overlap.  The result is the vector the
 * keys would give, bit for bit (the fuzz harness checks it against them).
 * On the insert benchmark (a 1 KB ticket, a model of 674,000 features and
 * 9 teams) a ticket's vector and scores cost about 83,000 instructions,
 * 17,000 of them stemming the words the memo has not seen (parsetext),
 * against 140,000 when the keys were made, then looked up and
 * counted in separate passes.
 *
 * Scoring.  Team: one linear score per team, softmax with a temperature.
 * The team scores are summed eight teams at a time where SSE2 is there,
 * each team's sum with the same operations in the same order as a plain
 * loop (the same bits).
 * Escalation: one linear score, Platt's sigmoid.  Both are calibrated by
 * train() on validation tickets taken from the training tickets, never on
 * the held-out ones.  Explanation: the word features whose weight times
 * value contributed most to the prediction (grams are not shown: "_pas"
 * explains nothing to a reader).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "common/hashfn.h"
#include "access/detoast.h"
#include "access/table.h"
#include "access/tableam.h"
#include "port/pg_bswap.h"
#include "tsearch/ts_utils.h"
#include "utils/memutils.h"

#include "escalation.h"

#define TRIAGE_MAX_STEMS_PER_WORD 4
#define TRIAGE_MAGIC_V1 "ESCTRI1"	/* no grams (extension 1.0) */
#define TRIAGE_MAGIC "ESCTRI2"

/* subject grams: sizes in characters, and how much of the first line */
#define TRIAGE_GRAM_MIN 2
#define TRIAGE_GRAM_MAX 5
#define TRIAGE_SUBJECT_MAX 256	/* bytes */


typedef struct TriageWord
{
	uint32		hash;
	uint16		len;			/* 0 = empty */
	uint16		n;
	uint64		head;			/* the word's first 8 bytes, zero-padded */
	int32		ids[TRIAGE_MAX_STEMS_PER_WORD];	/* -1: a stem the vocabulary lacks */
	int32		fids[TRIAGE_MAX_STEMS_PER_WORD];	/* a loaded model's feature of
													 * the stem alone, -1: none */
	EscWordTail tail;			/* the rest of the word: a look-up reads one
								 * cache line */
	uint32		spare[2];
} TriageWord;

StaticAssertDecl(sizeof(TriageWord) == 64, "a word memo entry is one cache line");

/*
 * A feature map slot: key + 1 in two halves (12 bytes a slot, not 16: the
 * map of a large model is tens of megabytes, and every page of it costs a
 * backend a page fault when the model loads); both 0 = empty.
 */
typedef struct TriageKey
{
	uint32		lo;
	uint32		hi;
	int32		value;
} TriageKey;

/* a stem index slot: the stem's hash and id (-1: empty) */
typedef struct TriageStemSlot
{
	uint32		hash;
	int32		id;
} TriageStemSlot;

/*
 * A structured field's value remembered with its feature (a loaded model's
 * vocabulary): a source has few priorities, channels and tiers, and making
 * "priority=high" and looking it up in the stems cost some 800
 * instructions a field.
 */
#define TRIAGE_FIELD_CACHE 8
#define TRIAGE_LENGTH_BUCKETS 11	/* "0", "1", "2-3" ... "256-511", "512+" */

typedef struct TriageField
{
	char	   *value;			/* NULL = unused */
	int32		fid;
} TriageField;

/* a gram's text, by key (training runs only) */
typedef struct TriageGram
{
	uint64		key1;			/* key + 1; 0 = empty */
	char	   *text;			/* "~" and the gram */
} TriageGram;

struct EscTriageVocab
{
	MemoryContext cxt;
	uint64		serial;			/* this backend's vocabularies, numbered: whose
								 * readings a keyword memo keeps */
	Oid			cfgid;
	bool		grow;
	/*
	 * stems: text (a copy when the vocabulary grows, else where the loaded
	 * model's stored form has it, not NUL-terminated) and length by id, and
	 * an open-addressing index of ids by text
	 */
	int			nstems;
	int			maxstems;
	const char **stem_text;
	uint16	   *stem_len;		/* per id */
	uint32		stem_mask;
	TriageStemSlot *stem_slots;
	/* word memo */
	MemoryContext memo_cxt;
	uint32		memo_mask;
	uint32		memo_used;
	TriageWord  *memo;			/* from esc_alloc_big() */
	/* feature map: key_size slots, any size (not a power of two) */
	uint32		key_size;
	uint32		key_used;
	TriageKey   *keys;
	/* words with digits need no parser (esc_ts_digit_words_plain()) */
	bool		digit_words_plain;
	/* a loaded model's word pairs, as a Bloom filter (NULL: none) */
	uint64	   *pair_bits;
	uint32		pair_mask;		/* words of pair_bits, less one */
	/* subject grams: made at all, and their texts (grow only) */
	bool		grams;
	uint32		gram_mask;
	uint32		gram_used;
	TriageGram  *gram_text;
	/* a loaded model's structured fields: priority, channel, tier; length */
	TriageField field_cache[3][TRIAGE_FIELD_CACHE];
	int			field_next[3];
	int32		length_fid[TRIAGE_LENGTH_BUCKETS];	/* -2: not looked up yet */
};

/*
 * A feature a ticket has counted, and where in its list: an entry of the
 * ticket's own open-addressing table (TriageCounter), which is small
 * enough to stay in the CPU's nearest cache, where a table of all the
 * model's features would cost a cache miss per feature.
 */
typedef struct TriageCount
{
	int32		f;				/* -1: empty */
	int32		slot;
} TriageCount;

/*
 * A stem of a ticket's text that the vocabulary knows, as vectorising
 * finds it: its own feature, and the pair of it and the stem before (if
 * any): the pair's key + 1 and its first slot in the feature map, then
 * the pair's feature.
 */
typedef struct TriageStemAt
{
	int32		fid;			/* -1: the model lacks the stem alone */
	int32		pair;			/* -2: none to look up (no stem before, or
								 * the pair filter turned it away); -1: to
								 * look up; then the pair's feature, -1:
								 * none */
	uint32		pslot;
	uint64		pk1;
	uint64		ph;				/* the pair's key_hash64() */
} TriageStemAt;

/* a subject gram as vectorising finds it: key + 1, first slot, feature */
typedef struct TriageGramAt
{
	uint64		k1;
	uint32		slot;
	int32		f;
} TriageGramAt;

#define TRIAGE_GRAMS_MAX ((TRIAGE_GRAM_MAX - TRIAGE_GRAM_MIN + 1) * (TRIAGE_SUBJECT_MAX + 2))

/*
 * A loaded model's working memory for vectorising, kept from one ticket to
 * the next (grown as needed), so that a ticket costs no allocation besides
 * its vector: the ticket's stems and grams, the table of the features it
 * has counted (TriageCount), and its distinct features with their counts, the words from the start
 * of feat/tf up, the grams from the end down, each in order of first
 * occurrence.
 */
struct EscTriageScratch
{
	TriageCount *count;
	int			maxcount;		/* entries of count, a power of two */
	uint32	   *touched;		/* the entries of count the last ticket filled */
	int			ntouched;
	bool		count_dirty;	/* a ticket's counting did not finish */
	int			max;			/* of feat and tf */
	int32	   *feat;
	int32	   *tf;
	int			maxstems;
	TriageStemAt *stems;
	TriageGramAt grams[TRIAGE_GRAMS_MAX];
};

/* ----------------------------------------------------------------
 * Vocabulary
 * ----------------------------------------------------------------
 */

/*
 * An empty word memo of memo_mask + 1 entries, each on one cache line (on
 * huge pages when it is large: bigmem.c)
 */
static void
memo_alloc(EscTriageVocab *v)
{
	size_t		size = sizeof(TriageWord) * (v->memo_mask + 1);

	v->memo = esc_alloc_big(v->memo_cxt, size);
	memset(v->memo, 0, size);
}

static void
memo_reset(EscTriageVocab *v)
{
	if (v->memo_cxt)
		MemoryContextDelete(v->memo_cxt);
	v->memo_cxt = AllocSetContextCreate(v->cxt, "escalation triage word memo",
										ALLOCSET_DEFAULT_SIZES);
	v->memo_mask = 4095;
	v->memo_used = 0;
	memo_alloc(v);
}

EscTriageVocab *
esc_triage_vocab_create(MemoryContext cxt, Oid cfgid, bool grow)
{
	static uint64 serials = 0;
	EscTriageVocab *v = MemoryContextAllocZero(cxt, sizeof(EscTriageVocab));

	v->cxt = cxt;
	v->serial = ++serials;
	v->cfgid = cfgid;
	v->grow = grow;
	v->digit_words_plain = esc_ts_digit_words_plain(cfgid);
	v->maxstems = 1024;
	v->stem_text = MemoryContextAlloc(cxt, sizeof(char *) * v->maxstems);
	v->stem_len = MemoryContextAlloc(cxt, sizeof(uint16) * v->maxstems);
	v->stem_mask = 2047;
	v->stem_slots = MemoryContextAlloc(cxt, sizeof(TriageStemSlot) * (v->stem_mask + 1));
	memset(v->stem_slots, 0xFF, sizeof(TriageStemSlot) * (v->stem_mask + 1));
	v->key_size = 4096;
	v->keys = esc_alloc_big(cxt, sizeof(TriageKey) * v->key_size);
	memset(v->keys, 0, sizeof(TriageKey) * v->key_size);
	v->grams = grow;
	if (grow)
	{
		v->gram_mask = 4095;
		v->gram_text = MemoryContextAllocZero(cxt, sizeof(TriageGram) * (v->gram_mask + 1));
	}
	for (int b = 0; b < TRIAGE_LENGTH_BUCKETS; b++)
		v->length_fid[b] = -2;
	memo_reset(v);
	return v;
}

/* whether doc_keys makes subject grams (a model without any: no) */
void
esc_triage_vocab_set_grams(EscTriageVocab *v, bool on)
{
	v->grams = on;
}

/*
 * A feature key's slot hash: all 64 bits mixed (MurmurHash3's 64-bit
 * finaliser).  An earlier hash folded the key to 32 bits first, as
 * (uint32) k ^ (uint32) (k >> 29); for a word pair, (a + 1) << 32 | b,
 * that is (b + 1) ^ ((a + 1) << 3), the same for many pairs, and a model
 * of 674,000 features probed about 35 slots per look-up (about 200
 * instructions; 96,000 per 1 KB ticket on the insert benchmark).  Only
 * the in-memory tables use it: nothing stored depends on it.
 */
static inline uint64
key_hash64(uint64 k1)
{
	k1 ^= k1 >> 33;
	k1 *= UINT64CONST(0xFF51AFD7ED558CCD);
	k1 ^= k1 >> 33;
	k1 *= UINT64CONST(0xC4CEB9FE1A85EC53);
	k1 ^= k1 >> 33;
	return k1;
}

/* the slots' hash: the low half (the pair filter takes the high half) */
static inline uint32
key_hash(uint64 k1)
{
	return (uint32) key_hash64(k1);
}

/*
 * The feature map's slots: the first by multiplying the hash by the size
 * (the map's size need not be a power of two: a loaded model's is three
 * times its keys, not up to six), then on, wrapping at the end.
 */
static inline uint32
key_slot_of_hash(uint64 h, uint32 size)
{
	return (uint32) (((uint64) (uint32) h * size) >> 32);
}

static inline uint32
key_slot(uint64 k1, uint32 size)
{
	return key_slot_of_hash(key_hash64(k1), size);
}

static inline uint32
key_next(uint32 j, uint32 size)
{
	return j + 1 == size ? 0 : j + 1;
}

/* a slot's key + 1, read at once (one 8-byte load where the CPU has them) */
static inline uint64
key_of(const TriageKey *e)
{
#ifdef WORDS_BIGENDIAN
	return ((uint64) e->hi << 32) | e->lo;
#else
	uint64		k1;

	memcpy(&k1, &e->lo, sizeof(k1));
	return k1;
#endif
}

static inline bool
key_empty(const TriageKey *e)
{
	return key_of(e) == 0;
}

static inline bool
key_is(const TriageKey *e, uint64 k1)
{
	return key_of(e) == k1;
}

/*
 * The word pairs of a loaded model, as a Bloom filter: two bits of one
 * 64-bit word per pair, both taken from the high half of its key's
 * key_hash64() (the slots take the low half).  Most pairs of a ticket are
 * not in the model (on the insert benchmark 82 of 156), and each look-up
 * in the feature map, megabytes large, is a cache miss; the filter, 12 to
 * 24 bits a pair (a power of two of words: 128 kB for the benchmark's
 * 73,652 pairs), is small enough to stay in a nearer cache, and turns
 * away all but a few per cent of the absent pairs.  A pair it passes is
 * looked up as before, so the vector is the same either way.
 */
#define PAIR_FILTER_BITS_PER_KEY 12
#define PAIR_FILTER_MAX_WORDS ((uint32) 1 << 20)

static inline bool
key_is_pair(uint64 k1)
{
	uint64		key = k1 - 1;

	return (key & ESC_TRIAGE_GRAM_TAG) == 0 && (key >> 32) != 0;
}

/* a key's two bits in its word of the filter, from its key_hash64() */
static inline uint64
pair_filter_bits(uint64 h)
{
	uint32		hi = (uint32) (h >> 32);

	return (UINT64CONST(1) << ((hi >> 20) & 63)) | (UINT64CONST(1) << ((hi >> 26) & 63));
}

static inline uint64 *
pair_filter_word(const EscTriageVocab *v, uint64 h)
{
	return &v->pair_bits[(uint32) (h >> 32) & v->pair_mask];
}

static inline bool
pair_filter_passes(const EscTriageVocab *v, uint64 h)
{
	uint64		bits = pair_filter_bits(h);

	return v->pair_bits == NULL || (*pair_filter_word(v, h) & bits) == bits;
}

static void
pair_filter_build(EscTriageVocab *v)
{
	uint64		npairs = 0;
	uint64		want;
	uint32		words = 64;

	for (uint32 j = 0; j < v->key_size; j++)
		if (!key_empty(&v->keys[j]) && key_is_pair(key_of(&v->keys[j])))
			npairs++;
	want = npairs * PAIR_FILTER_BITS_PER_KEY / 64;
	while (words < want && words < PAIR_FILTER_MAX_WORDS)
		words *= 2;
	v->pair_bits = MemoryContextAllocZero(v->cxt, sizeof(uint64) * words);
	v->pair_mask = words - 1;
	for (uint32 j = 0; j < v->key_size; j++)
	{
		uint64		k1 = key_of(&v->keys[j]);
		uint64		h;

		if (k1 == 0 || !key_is_pair(k1))
			continue;
		h = key_hash64(k1);
		*pair_filter_word(v, h) |= pair_filter_bits(h);
	}
}

/*
 * The key of a gram (its bytes, "_" at word boundaries, without the "~"):
 * up to 7 bytes, the bytes themselves and their count in bits 56-62 (so
 * its text needs no table); longer (non-ASCII) grams, a 56-bit hash with
 * a count of 0.
 */
#define GRAM_PACKED_MAX 7

static inline uint64
gram_key(const char *gram, int len)
{
	uint64		key = 0;

	if (len > GRAM_PACKED_MAX)
		return ESC_TRIAGE_GRAM_TAG |
			(hash_bytes_extended((const unsigned char *) gram, len, 0) &
			 ((UINT64CONST(1) << 56) - 1));
	for (int i = len - 1; i >= 0; i--)
		key = (key << 8) | (unsigned char) gram[i];
	return ESC_TRIAGE_GRAM_TAG | ((uint64) len << 56) | key;
}

static inline int
gram_packed_len(uint64 key)
{
	return (int) ((key >> 56) & 0x7F);
}

/* remember a gram's text on first sight (training) */
static void
gram_remember(EscTriageVocab *v, uint64 key, const char *gram, int len)
{
	uint64		k1 = key + 1;
	uint32		j;

	for (j = key_hash(k1) & v->gram_mask; v->gram_text[j].key1 != 0; j = (j + 1) & v->gram_mask)
		if (v->gram_text[j].key1 == k1)
			return;
	if ((v->gram_used + 1) * 2 > v->gram_mask + 1)
	{
		uint32		oldsize = v->gram_mask + 1;
		TriageGram  *old = v->gram_text;

		v->gram_mask = oldsize * 2 - 1;
		v->gram_text = MemoryContextAllocHuge(v->cxt, sizeof(TriageGram) * (v->gram_mask + 1));
		memset(v->gram_text, 0, sizeof(TriageGram) * (v->gram_mask + 1));
		for (uint32 i = 0; i < oldsize; i++)
		{
			if (old[i].key1 == 0)
				continue;
			for (j = key_hash(old[i].key1) & v->gram_mask; v->gram_text[j].key1 != 0;
				 j = (j + 1) & v->gram_mask)
				;
			v->gram_text[j] = old[i];
		}
		pfree(old);
		gram_remember(v, key, gram, len);
		return;
	}
	v->gram_text[j].key1 = k1;
	v->gram_text[j].text = MemoryContextAlloc(v->cxt, len + 2);
	v->gram_text[j].text[0] = '~';
	memcpy(v->gram_text[j].text + 1, gram, len);
	v->gram_text[j].text[len + 1] = '\0';
	v->gram_used++;
}

/* the stem index with room for nslots slots (a power of two), refilled */
static void
stems_resize(EscTriageVocab *v, uint32 nslots)
{
	TriageStemSlot *old = v->stem_slots;
	uint32		oldsize = v->stem_mask + 1;

	v->stem_mask = nslots - 1;
	v->stem_slots = MemoryContextAllocHuge(v->cxt, sizeof(TriageStemSlot) * nslots);
	memset(v->stem_slots, 0xFF, sizeof(TriageStemSlot) * nslots);
	for (uint32 i = 0; i < oldsize; i++)
	{
		uint32		j;

		if (old[i].id < 0)
			continue;
		for (j = old[i].hash & v->stem_mask; v->stem_slots[j].id >= 0;
			 j = (j + 1) & v->stem_mask)
			;
		v->stem_slots[j] = old[i];
	}
	pfree(old);
}

/* room for n stems in the per-id arrays */
static void
stem_arrays_reserve(EscTriageVocab *v, int n)
{
	if (n <= v->maxstems)
		return;
	v->maxstems = n;
	v->stem_text = repalloc_huge(v->stem_text, sizeof(char *) * v->maxstems);
	v->stem_len = repalloc_huge(v->stem_len, sizeof(uint16) * v->maxstems);
}

/* room for n stems in the per-id arrays and the index */
static void
stems_reserve(EscTriageVocab *v, int n)
{
	uint32		nslots = v->stem_mask + 1;

	stem_arrays_reserve(v, n);
	while ((uint64) n * 2 > nslots)
		nslots *= 2;
	if (nslots != v->stem_mask + 1)
		stems_resize(v, nslots);
}

/*
 * The id of the stem stem[0 .. len) with hash h; -1 when it is unknown
 * and add is false.  When add is true an unknown stem gets the next id,
 * and a copy of its text, or with in_place the text where it lies (a
 * loaded model's stored form, which lives as long as the vocabulary).
 * An index of its own (open addressing, the hash in the slot, the length
 * and text per id) rather than a dynahash keyed by a fixed-size string:
 * loading a model looks up every stem of every stored feature, some 1.3
 * million for a model of 674,000 features.
 */
static int
stem_find(EscTriageVocab *v, const char *stem, int len, uint32 h, bool add,
		  bool in_place)
{
	uint32		j;
	int			id;

	for (j = h & v->stem_mask; (id = v->stem_slots[j].id) >= 0; j = (j + 1) & v->stem_mask)
		if (v->stem_slots[j].hash == h && v->stem_len[id] == len &&
			memcmp(v->stem_text[id], stem, len) == 0)
			return id;
	if (!add)
		return -1;
	if (v->nstems == v->maxstems)
		stem_arrays_reserve(v, v->maxstems * 2);
	id = v->nstems++;
	if (!in_place)
	{
		char	   *copy = MemoryContextAlloc(v->cxt, len + 1);

		memcpy(copy, stem, len);
		copy[len] = '\0';
		v->stem_text[id] = copy;
	}
	else
		v->stem_text[id] = stem;
	v->stem_len[id] = (uint16) len;
	v->stem_slots[j].hash = h;
	v->stem_slots[j].id = id;
	if ((uint32) v->nstems * 2 > v->stem_mask + 1)
		stems_resize(v, (v->stem_mask + 1) * 2);
	return id;
}

/*
 * The id of the stem stem[0 .. len), as stem_find(); -1 as well for a
 * stem too long to be one of ours.
 */
static int
stem_add(EscTriageVocab *v, const char *stem, int len, bool add, bool in_place)
{
	if (len >= ESC_MAX_WORD)
		return -1;
	return stem_find(v, stem, len, hash_bytes((const unsigned char *) stem, len), add,
					 in_place);
}

/* the id of a NUL-terminated stem (a copy of it when it is added) */
static int
stem_id(EscTriageVocab *v, const char *stem, bool grow)
{
	return stem_add(v, stem, (int) Min(strlen(stem), ESC_MAX_WORD), grow, false);
}

static inline uint64
pair_key(int a, int b)
{
	return ((uint64) (a + 1) << 32) | (uint32) b;
}

/*
 * Room in the feature map for n keys without growing: three times as many
 * slots (a loaded model knows how many it has, and gets a map of exactly
 * that size; growing by doubling would rehash every key ~20 times).  Most
 * of a ticket's pairs are not in the map, and a look-up that misses
 * probes to the next empty slot: at a third full about 1.6 slots, at half
 * 2.5 (4,000 instructions more per 1 KB ticket).
 */
static void
feature_reserve(EscTriageVocab *v, size_t n)
{
	TriageKey  *old = v->keys;
	uint32		oldsize = v->key_size;
	uint32		size;

	if (n * 2 <= oldsize)
		return;
	if (n >= ((uint32) 1 << 30))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("triage model has too many features")));
	size = (uint32) Min((uint64) n * 3, PG_UINT32_MAX);
	v->keys = esc_alloc_big(v->cxt, sizeof(TriageKey) * size);
	memset(v->keys, 0, sizeof(TriageKey) * size);
	v->key_size = size;
	for (uint32 i = 0; i < oldsize; i++)
	{
		uint32		j;

		if (key_empty(&old[i]))
			continue;
		for (j = key_slot(key_of(&old[i]), size); !key_empty(&v->keys[j]); j = key_next(j, size))
			;
		v->keys[j] = old[i];
	}
	esc_free_big(old);
}

int
esc_triage_feature_get(EscTriageVocab *v, uint64 key)
{
	uint64		k1 = key + 1;
	uint32		size = v->key_size;

	for (uint32 j = key_slot(k1, size); !key_empty(&v->keys[j]); j = key_next(j, size))
		if (key_is(&v->keys[j], k1))
			return v->keys[j].value;
	return -1;
}

/* set a key's value if it has none; returns the value it has */
int
esc_triage_feature_put(EscTriageVocab *v, uint64 key, int value)
{
	uint64		k1 = key + 1;
	uint32		size = v->key_size;
	uint32		j;

	for (j = key_slot(k1, size); !key_empty(&v->keys[j]); j = key_next(j, size))
		if (key_is(&v->keys[j], k1))
			return v->keys[j].value;
	if ((v->key_used + 1) * 2 > size)
	{
		/* grow: three times the slots again */
		feature_reserve(v, (size_t) size);
		return esc_triage_feature_put(v, key, value);
	}
	v->keys[j].lo = (uint32) k1;
	v->keys[j].hi = (uint32) (k1 >> 32);
	v->keys[j].value = value;
	v->key_used++;
	return value;
}

/* a key as text: "stem", "stem stem" or "~gram" (a gram: training runs only) */
char *
esc_triage_key_text(EscTriageVocab *v, uint64 key)
{
	uint32		hi = (uint32) (key >> 32);
	uint32		lo = (uint32) key;

	if (key & ESC_TRIAGE_GRAM_TAG)
	{
		uint64		k1 = key + 1;
		int			gl = gram_packed_len(key);

		if (gl > 0)
		{
			char	   *t = palloc(gl + 2);

			t[0] = '~';
			for (int i = 0; i < gl; i++)
				t[i + 1] = (char) ((key >> (8 * i)) & 0xFF);
			t[gl + 1] = '\0';
			return t;
		}
		if (v->gram_text != NULL)
			for (uint32 j = key_hash(k1) & v->gram_mask; v->gram_text[j].key1 != 0;
				 j = (j + 1) & v->gram_mask)
				if (v->gram_text[j].key1 == k1)
					return pstrdup(v->gram_text[j].text);
		elog(ERROR, "triage gram " UINT64_FORMAT " has no text", key);
	}
	if (hi == 0)
		return pnstrdup(v->stem_text[lo], v->stem_len[lo]);
	return psprintf("%.*s %.*s", v->stem_len[hi - 1], v->stem_text[hi - 1],
					v->stem_len[lo], v->stem_text[lo]);
}

/*
 * The key of a stored feature's text t[0 .. len), NUL-terminated, whose
 * first space is at sp (NULL: none): "~gram", a stem or field pseudo-stem
 * ("priority=...", whose value may have a space), or a pair of stems.  Its
 * stems are added to the vocabulary, copied or, with in_place, where they
 * lie.  False when a stem is too long to have an id (the key is then made
 * with -1 for it).
 */
static bool
feature_key(EscTriageVocab *v, const char *t, int len, const char *sp, bool in_place,
			uint64 *key)
{
	int			ia,
				ib;

	if (t[0] == '~')
	{
		*key = gram_key(t + 1, len - 1);
		return true;
	}
	if (sp == NULL || strncmp(t, "priority=", 9) == 0 ||
		strncmp(t, "channel=", 8) == 0 || strncmp(t, "tier=", 5) == 0)
	{
		ia = stem_add(v, t, len, true, in_place);
		*key = (uint64) ia;
		return ia >= 0;
	}
	ia = stem_add(v, t, (int) (sp - t), true, in_place);
	ib = stem_add(v, sp + 1, len - (int) (sp - t) - 1, true, in_place);
	*key = pair_key(ia, ib);
	return ia >= 0 && ib >= 0;
}

/* the key of a stored feature's text, adding its stems to the vocabulary */
uint64
esc_triage_text_key(EscTriageVocab *v, const char *feature)
{
	uint64		key;

	(void) feature_key(v, feature, (int) strlen(feature), strchr(feature, ' '), false, &key);
	return key;
}

/* ----------------------------------------------------------------
 * Words
 * ----------------------------------------------------------------
 */
static inline bool
is_word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c >= 0x80;
}

/*
 * ASCII letters and digits with a digit, starting with a letter or all
 * digits: one token of the default parser (ts_config.c)
 */
static bool
is_digit_word(const char *word, int len)
{
	bool		letters = false,
				digits = false;

	for (int i = 0; i < len; i++)
	{
		if (word[i] >= '0' && word[i] <= '9')
			digits = true;
		else if (word[i] >= 'a' && word[i] <= 'z')
			letters = true;
		else
			return false;
	}
	return digits && (!letters || (word[0] >= 'a' && word[0] <= 'z'));
}

/* ASCII letters only: a stop word kept as itself (not numbers or symbols) */
static bool
is_plain_word(const char *word, int len)
{
	for (int i = 0; i < len; i++)
		if (word[i] < 'a' || word[i] > 'z')
			return false;
	return len > 0;
}

static TriageWord *word_fill(EscTriageVocab *v, const char *word, int len, uint32 h,
							 uint64 head);

/* the memo entry of a folded word, stemming it on first sight */
static inline TriageWord *
word_lookup(EscTriageVocab *v, const char *word, int len, uint32 h)
{
	/* its first 8 bytes compare without memcmp (most words are that short) */
	uint64		head = esc_word_head(word, len);

	for (uint32 j = h & v->memo_mask; v->memo[j].len != 0; j = (j + 1) & v->memo_mask)
	{
		TriageWord  *e = &v->memo[j];

		if (e->hash == h && e->head == head && e->len == len &&
			esc_word_tail_eq(&e->tail, word, len))
			return e;
	}
	return word_fill(v, word, len, h, head);
}

/* a word the memo lacks: stem it and remember it (or make room first) */
static TriageWord *
word_fill(EscTriageVocab *v, const char *word, int len, uint32 h, uint64 head)
{
	uint32		j;
	TriageWord  *e;

	if (!v->grow && v->memo_used >= (uint32) esc_memo_size)
	{
		memo_reset(v);
		return word_lookup(v, word, len, h);
	}
	if ((v->memo_used + 1) * 2 > v->memo_mask + 1)
	{
		uint32		oldsize = v->memo_mask + 1;
		TriageWord  *old = v->memo;

		v->memo_mask = oldsize * 2 - 1;
		memo_alloc(v);
		for (uint32 i = 0; i < oldsize; i++)
		{
			if (old[i].len == 0)
				continue;
			for (j = old[i].hash & v->memo_mask; v->memo[j].len != 0; j = (j + 1) & v->memo_mask)
				;
			v->memo[j] = old[i];
		}
		esc_free_big(old);
		return word_lookup(v, word, len, h);
	}
	for (j = h & v->memo_mask; v->memo[j].len != 0; j = (j + 1) & v->memo_mask)
		;
	{
		e = &v->memo[j];
		e->hash = h;
		e->len = len;
		e->head = head;
		e->n = 0;
		esc_word_tail_set(&e->tail, word, len, v->memo_cxt);
		if (v->digit_words_plain && is_digit_word(word, len))
		{
			/* the parser's one token, as it is: its one lexeme */
			char	   *s = pnstrdup(word, len);

			e->ids[e->n++] = stem_id(v, s, v->grow);
			pfree(s);
		}
		else
		{
			ParsedText	prs;

			prs.lenwords = 4;
			prs.curwords = 0;
			prs.pos = 0;
			prs.words = (ParsedWord *) palloc(sizeof(ParsedWord) * prs.lenwords);
			parsetext(v->cfgid, &prs, (char *) word, len);
			for (int i = 0; i < prs.curwords && e->n < TRIAGE_MAX_STEMS_PER_WORD; i++)
			{
				char	   *s = pnstrdup(prs.words[i].word, prs.words[i].len);

				/* a word the dictionaries split keeps its parts, in order */
				if (i > 0 && prs.words[i].pos.pos == prs.words[i - 1].pos.pos)
					continue;	/* an alternative stem of the same word */
				e->ids[e->n++] = stem_id(v, s, v->grow);
				pfree(s);
				pfree(prs.words[i].word);
			}
			pfree(prs.words);
		}
		if (e->n == 0 && is_plain_word(word, len))
		{
			/* a stop word: itself */
			char	   *s = pnstrdup(word, len);

			e->ids[e->n++] = stem_id(v, s, v->grow);
			pfree(s);
		}

		/*
		 * A loaded model's map is complete: each stem's own feature is
		 * remembered with the word, and counting it needs no look-up.
		 */
		for (int i = 0; i < e->n; i++)
			e->fids[i] = (!v->grow && e->ids[i] >= 0) ?
				esc_triage_feature_get(v, (uint64) e->ids[i]) : -1;
		v->memo_used++;
	}
	return e;
}

/*
 * The first line of text (at most TRIAGE_SUBJECT_MAX bytes of it) as its
 * grams see it: folded, "_" at word boundaries and at both ends, into
 * norm; cstart[c] is where character c starts (cstart[nc] = the end).
 * Characters are the server encoding's (pg_mblen), so a gram never splits
 * one.  Returns nc.
 */
static int
subject_norm(const char *text, int len, char *norm, int *cstart)
{
	int			nb = 0,
				nc = 0;
	bool		boundary = true;

	if (len > TRIAGE_SUBJECT_MAX)
		len = TRIAGE_SUBJECT_MAX;
	cstart[nc++] = 0;
	norm[nb++] = '_';
	for (int i = 0; i < len;)
	{
		unsigned char c = (unsigned char) text[i];

		if (c == '\n' || c == '\r' || c == '\0')
			break;
		if (c < 0x80)
		{
			if (is_word_byte(c))
			{
				cstart[nc++] = nb;
				norm[nb++] = (c >= 'A' && c <= 'Z') ? (char) (c + ('a' - 'A')) : (char) c;
				boundary = false;
			}
			else if (!boundary)
			{
				cstart[nc++] = nb;
				norm[nb++] = '_';
				boundary = true;
			}
			i++;
		}
		else
		{
			int			l = pg_mblen(text + i);

			if (l < 1 || i + l > len)
				break;			/* a character cut by the limit */
			cstart[nc++] = nb;
			memcpy(norm + nb, text + i, l);
			nb += l;
			boundary = false;
			i += l;
		}
	}
	if (!boundary)
	{
		cstart[nc++] = nb;
		norm[nb++] = '_';
	}
	cstart[nc] = nb;
	return nc;
}

/*
 * The grams of the first line of text, appended to out[n..]: returns the
 * new n.
 */
static int
subject_grams(EscTriageVocab *v, const char *text, int len, uint64 **outp, int n, int *maxp)
{
	char		norm[TRIAGE_SUBJECT_MAX + 2];
	int			cstart[TRIAGE_SUBJECT_MAX + 3];
	int			nc = subject_norm(text, len, norm, cstart);

	for (int c = 0; c < nc; c++)
		for (int g = TRIAGE_GRAM_MIN; g <= TRIAGE_GRAM_MAX && c + g <= nc; g++)
		{
			const char *gram = norm + cstart[c];
			int			gl = cstart[c + g] - cstart[c];
			uint64		key = gram_key(gram, gl);

			if (v->grow && gl > GRAM_PACKED_MAX)
				gram_remember(v, key, gram, gl);
			if (n == *maxp)
			{
				*maxp *= 2;
				*outp = repalloc(*outp, sizeof(uint64) * *maxp);
			}
			(*outp)[n++] = key;
		}
	return n;
}

/* the length in words, on a doubling scale: 0, 1, 2-3, 4-7 ... 512+ */
static void
length_text(int nwords, char *buf, size_t size)
{
	if (nwords <= 1)
		snprintf(buf, size, "%d", nwords);
	else if (nwords >= 512)
		strlcpy(buf, "512+", size);
	else
	{
		int			lo = 1;

		while (lo * 2 <= nwords)
			lo *= 2;
		snprintf(buf, size, "%d-%d", lo, lo * 2 - 1);
	}
}

/* the same scale's step, 0 .. TRIAGE_LENGTH_BUCKETS - 1 */
static int
length_bucket(int nwords)
{
	int			b = 1;

	if (nwords <= 1)
		return nwords;
	if (nwords >= 512)
		return TRIAGE_LENGTH_BUCKETS - 1;
	while ((2 << b) <= nwords)
		b++;
	return b + 1;
}

/*
 * The feature keys of one ticket, one per occurrence, in *keys (palloc'd
 * in the current context).  Returns how many.  Makes a tokenising pass of
 * its own (textpass.c); the trigger, which has one, calls
 * esc_triage_doc_keys_pass().
 */
int
esc_triage_doc_keys(EscTriageVocab *v, const char *text, int len,
					const char *priority, const char *channel, const char *tier,
					uint64 **keys)
{
	EscTextPass *tp = text != NULL ? esc_textpass(text, len, false) : NULL;
	int			n = esc_triage_doc_keys_pass(v, tp, priority, channel, tier, keys);

	if (tp)
	{
		pfree(tp->words);
		pfree(tp->folded);
		pfree(tp);
	}
	return n;
}

/* the same, from the words of a tokenising pass (NULL: no text) */
int
esc_triage_doc_keys_pass(EscTriageVocab *v, const EscTextPass *tp,
						 const char *priority, const char *channel, const char *tier,
						 uint64 **keys)
{
	int			len = tp ? tp->len : 0;
	int			max = 16 + len;
	uint64	   *out = palloc(sizeof(uint64) * max);
	int			n = 0;
	int			prev = -2;		/* -2: no previous stem (start, or a break) */
	const char *fields[4] = {priority, channel, tier, NULL};
	const char *prefixes[4] = {"priority=", "channel=", "tier=", "words="};
	int			nwords = tp ? tp->nwords : 0;
	char		length[32];

	for (int w = 0; w < nwords; w++)
	{
		const EscWord *word = &tp->words[w];
		TriageWord  *e;

		if (word->flags & ESC_WORD_LONG)
		{
			prev = -2;
			continue;
		}
		e = word_lookup(v, tp->folded + word->start, word->end - word->start, word->hash);
		for (int s = 0; s < e->n; s++)
		{
			int			id = e->ids[s];

			if (n + 2 > max)
			{
				max *= 2;
				out = repalloc(out, sizeof(uint64) * max);
			}
			if (id >= 0)
			{
				out[n++] = (uint64) id;
				if (prev >= 0)
					out[n++] = pair_key(prev, id);
			}
			prev = id;
		}
	}

	length_text(nwords, length, sizeof(length));
	fields[3] = length;

	for (int f = 0; f < 4; f++)
	{
		char	   *s;
		int			id;

		if (fields[f] == NULL)
			continue;
		s = psprintf("%s%s", prefixes[f], fields[f]);
		id = stem_id(v, s, v->grow);
		if (id >= 0)
		{
			if (n + 1 > max)
			{
				max *= 2;
				out = repalloc(out, sizeof(uint64) * max);
			}
			out[n++] = (uint64) id;
		}
		pfree(s);
	}
	if (v->grams && tp != NULL)
		n = subject_grams(v, tp->text, tp->len, &out, n, &max);
	*keys = out;
	return n;
}

/* ----------------------------------------------------------------
 * Scoring
 * ----------------------------------------------------------------
 */
/*
 * L2-normalise a document's two blocks, each on its own: val[0..nword)
 * (the words) and val[nword..n) (the subject grams).
 */
void
esc_triage_normalize(float *val, int nword, int n)
{
	double		norm[2] = {0, 0};

	for (int i = 0; i < n; i++)
		norm[i >= nword] += (double) val[i] * val[i];
	for (int b = 0; b < 2; b++)
		norm[b] = norm[b] > 0 ? 1.0 / sqrt(norm[b]) : 0;
	for (int i = 0; i < n; i++)
		val[i] = (float) (val[i] * norm[i >= nword]);
}

/*
 * A ticket as the model's tf-idf vector (allocated in the current
 * context): its distinct features, the words first, each block in order of
 * first occurrence.  No sort: a table of the ticket's own remembers where
 * each feature it has counted is (TriageCount).
 */
void
esc_triage_vectorize(EscTriageModel *m, const char *text, int len,
					 const char *priority, const char *channel, const char *tier,
					 EscTriageDoc *doc)
{
	EscTextPass *tp = text != NULL ? esc_textpass(text, len, false) : NULL;

	esc_triage_vectorize_pass(m, tp, priority, channel, tier, true, doc);
	if (tp)
	{
		pfree(tp->words);
		pfree(tp->folded);
		pfree(tp);
	}
}

/*
 * The feature of a key (+ 1), -1 when the model lacks it, from its first
 * slot (key_slot(k1, size)), as esc_triage_feature_get() finds it.
 */
static inline int
feature_at(const TriageKey *keys, uint32 size, uint64 k1, uint32 j)
{
	for (; !key_empty(&keys[j]); j = key_next(j, size))
		if (key_is(&keys[j], k1))
			return keys[j].value;
	return -1;
}

/*
 * The scratch of a model, room for nstems stems and nfeat features.
 */
static struct EscTriageScratch *
scratch_for(EscTriageModel *m, int64 nstems, int64 nfeat)
{
	struct EscTriageScratch *sc = m->scratch;

	if (nfeat > INT_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("text is too long for the triage model")));
	if (sc == NULL)
	{
		sc = MemoryContextAllocZero(m->cxt, sizeof(struct EscTriageScratch));
		m->scratch = sc;
	}
	if (nfeat > sc->max)
	{
		int			max = (int) Max(nfeat, Max(sc->max * 2, 1024));

		if (sc->feat)
		{
			pfree(sc->feat);
			pfree(sc->tf);
		}
		sc->feat = MemoryContextAllocHuge(m->cxt, sizeof(int32) * max);
		sc->tf = MemoryContextAllocHuge(m->cxt, sizeof(int32) * max);
		sc->max = max;
	}
	if (nstems > sc->maxstems)
	{
		int			max = (int) Max(nstems, Max(sc->maxstems * 2, 512));

		if (sc->stems)
			pfree(sc->stems);
		sc->stems = MemoryContextAllocHuge(m->cxt, sizeof(TriageStemAt) * max);
		sc->maxstems = max;
	}
	return sc;
}

/*
 * The scratch's count table, its first *size entries empty: the least
 * power of two (at least 256) of at least 1.5 times n, the most features
 * the ticket can count, so that it is at most two thirds full (and about
 * a third as a rule: most of a ticket's stems and pairs repeat or are not
 * in the model).  Twice n made a 1 kB ticket's table 8 kB, a quarter of
 * the nearest cache written over per ticket; this is 4.  The table is not
 * cleared whole: the entries the last ticket filled (sc->touched, a few
 * hundred of its thousands) are emptied again, unless that ticket's
 * counting was cut short by an error (count_dirty), or the table is new.
 * Clearing the whole table cost about 4,000 instructions per 1 kB ticket.
 */
static TriageCount *
count_table_for(struct EscTriageScratch *sc, MemoryContext cxt, int n, uint32 *size)
{
	uint32		want = 256;

	while (want < (uint32) n + (uint32) n / 2)
		want *= 2;
	if ((uint32) sc->maxcount < want)
	{
		if (sc->count)
		{
			pfree(sc->count);
			pfree(sc->touched);
		}
		sc->count = MemoryContextAllocHuge(cxt, sizeof(TriageCount) * want);
		sc->touched = MemoryContextAllocHuge(cxt, sizeof(uint32) * want);
		sc->maxcount = want;
		memset(sc->count, 0xFF, sizeof(TriageCount) * want);
	}
	else if (sc->count_dirty)
		memset(sc->count, 0xFF, sizeof(TriageCount) * sc->maxcount);
	else
	{
		for (int i = 0; i < sc->ntouched; i++)
			sc->count[sc->touched[i]].f = -1;
	}
	sc->ntouched = 0;
	sc->count_dirty = true;
	*size = want;
	return sc->count;
}

/*
 * Counting a ticket's features: where they go, and the model's arrays (in
 * locals: PostgreSQL compiles with -fno-strict-aliasing, so a store to
 * feat or tf would otherwise make every later use reload them from the
 * model).
 */
typedef struct TriageCounter
{
	TriageCount *count;			/* mask + 1 entries */
	uint32		mask;
	uint32	   *touched;		/* the entries of count filled, in order */
	int			ntouched;
	int32	   *feat;
	int32	   *tf;
	int			nw;				/* words counted, at feat[0 ..) */
	int			ng;				/* grams counted, at feat[gbase ..) */
	int			gbase;
	int			nwords;			/* the model's */
	int			nclasses;
	const float *w;
	const float *wrec;			/* the model's word records, or NULL */
	const float *idf;
	const float *we;			/* NULL: the escalation model is not scored */
} TriageCounter;

/*
 * Count a feature.  On its first occurrence its idf and weights are
 * fetched (for tfidf() and esc_triage_score(), which come after all are
 * counted, so the cache misses overlap): a word's row of team weights
 * may straddle two cache lines.
 */
static inline void
count_feature(TriageCounter *tc, int f)
{
	uint32		h = ((uint32) f * 0x9E3779B1U) & tc->mask;
	TriageCount *c;
	int			at;

	for (;; h = (h + 1) & tc->mask)
	{
		c = &tc->count[h];
		if (c->f == f)
		{
			tc->tf[c->slot]++;
			return;
		}
		if (c->f < 0)
			break;
	}
	if (f < tc->nwords && tc->wrec != NULL)
	{
		at = tc->nw++;
		__builtin_prefetch(tc->wrec + (size_t) f * ESC_TRIAGE_REC_STRIDE);
	}
	else if (f < tc->nwords)
	{
		const float *row = tc->w + (size_t) f * tc->nclasses;

		at = tc->nw++;
		__builtin_prefetch(row);
		__builtin_prefetch(row + tc->nclasses - 1);
		__builtin_prefetch(&tc->idf[f]);
	}
	else
	{
		at = tc->gbase + tc->ng++;
		__builtin_prefetch(&tc->idf[f]);
	}
	if (tc->we != NULL)
		__builtin_prefetch(&tc->we[f]);
	c->f = f;
	c->slot = at;
	tc->touched[tc->ntouched++] = h;
	tc->feat[at] = f;
	tc->tf[at] = 1;
}

/*
 * The feature of a structured field's value (field: 0 priority, 1 channel,
 * 2 tier), -1 when the model lacks it; remembered per value.
 */
static int
field_feature(EscTriageVocab *v, int field, const char *value)
{
	static const char *const prefixes[3] = {"priority=", "channel=", "tier="};
	TriageField *c = v->field_cache[field];
	char	   *s;
	int			id;
	int			fid;

	for (int i = 0; i < TRIAGE_FIELD_CACHE && c[i].value != NULL; i++)
		if (strcmp(c[i].value, value) == 0)
			return c[i].fid;
	s = psprintf("%s%s", prefixes[field], value);
	id = stem_id(v, s, false);
	fid = id >= 0 ? esc_triage_feature_get(v, (uint64) id) : -1;
	pfree(s);
	/* a value too long to be a stem is not worth a copy */
	if (strlen(value) < ESC_MAX_WORD)
	{
		TriageField *e = &c[v->field_next[field]];

		v->field_next[field] = (v->field_next[field] + 1) % TRIAGE_FIELD_CACHE;
		if (e->value)
			pfree(e->value);
		e->value = MemoryContextStrdup(v->cxt, value);
		e->fid = fid;
	}
	return fid;
}

/* the feature of a ticket's length in words, -1 when the model lacks it */
static int
length_feature(EscTriageVocab *v, int nwords)
{
	int			b = length_bucket(nwords);

	if (v->length_fid[b] == -2)
	{
		char		s[32];
		int			id;

		memcpy(s, "words=", 6);
		length_text(nwords, s + 6, sizeof(s) - 6);
		id = stem_id(v, s, false);
		v->length_fid[b] = id >= 0 ? esc_triage_feature_get(v, (uint64) id) : -1;
	}
	return v->length_fid[b];
}

/* 1 + ln(tf), the sublinear term frequency */
static inline double
tf_weight(int tf)
{
	static double table[32];

	if (tf >= (int) lengthof(table))
		return 1.0 + log((double) tf);
	if (table[tf] == 0)
		table[tf] = 1.0 + log((double) tf);
	return table[tf];
}

/*
 * The tf-idf values of n counted features (feat[i], tf[i]), into ofeat and
 * oval, a feature's idf at idf[f * stride]; returns the sum of their
 * squares, as esc_triage_normalize() sums them.
 */
static double
tfidf(const float *idf, size_t stride, const int32 *feat, const int32 *tf, int n,
	  int *ofeat, float *oval)
{
	double		sum = 0;

	for (int i = 0; i < n; i++)
	{
		int			f = feat[i];
		double		x = idf[f * stride];
		float		val;

		if (tf[i] > 1)
			x *= tf_weight(tf[i]);
		val = (float) x;
		ofeat[i] = f;
		oval[i] = val;
		sum += (double) val * val;
	}
	return sum;
}

/*
 * val[i] = (float) (val[i] * by) for i < n, as esc_triage_normalize() does;
 * four at a time where SSE2 is there, the same operations on each.
 */
static void
scale(float *val, int n, double by)
{
	int			i = 0;

#ifdef __SSE2__
	__m128d		b = _mm_set1_pd(by);

	for (; i + 4 <= n; i += 4)
	{
		__m128		v = _mm_loadu_ps(val + i);
		__m128		lo = _mm_cvtpd_ps(_mm_mul_pd(_mm_cvtps_pd(v), b));
		__m128		hi = _mm_cvtpd_ps(_mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(v, v)), b));

		_mm_storeu_ps(val + i, _mm_movelh_ps(lo, hi));
	}
#endif
	for (; i < n; i++)
		val[i] = (float) (val[i] * by);
}

/*
 * Ask for the word memo entries of a pass's words, ahead of
 * esc_triage_vectorize_pass(): esc_facts_pass() calls it as soon as a
 * row's pass is made, so that the entries arrive while the keywords are
 * matched instead of inside the vectorising loop (docs/design.md, "Half
 * of the intel rules' time is cold caches").  Only a hint: nothing is
 * read.  With lex (the keyword rules will leave their look-ups in the
 * pass, and their memo keeps this model's readings), the words that memo
 * keeps are skipped: vectorising reads them there.
 */
void
esc_triage_prefetch_pass(EscTriageModel *m, const EscTextPass *tp, const EscLexicon *lex)
{
	EscTriageVocab *v = m->vocab;

	if (v->grow || tp == NULL)
		return;
	if (lex != NULL && lex->tri_serial != v->serial)
		lex = NULL;
	for (int i = 0; i < tp->nwords; i++)
		if (!esc_lexicon_keeps(lex, &tp->words[i]))
			__builtin_prefetch(&v->memo[tp->words[i].hash & v->memo_mask]);
}

/*
 * The keyword memo's entries of a pass's words (tp->side), when they are
 * there and still where the keyword rules found them, made to keep this
 * vocabulary's readings; NULL when they cannot serve.
 */
static EscWordReading **
triage_side(EscTriageVocab *v, const EscTextPass *tp)
{
	EscWordReading **side = tp ? esc_pass_side(tp) : NULL;

	if (side != NULL)
		esc_lexicon_claim_triage(tp->side_lex, v->serial);
	return side;
}

/*
 * A stem of the text (id, -1 when the vocabulary lacks it; fid, its own
 * feature or -1) in vectorising order: recorded with the pair of it and
 * the stem before (prev), whose filter word is fetched.
 */
static pg_attribute_always_inline void
stem_seen(EscTriageVocab *v, TriageStemAt *st, int *nst, int *prev, int id, int fid)
{
	if (id >= 0)
	{
		TriageStemAt *at = &st[(*nst)++];

		at->fid = fid;
		at->pair = -2;
		if (*prev >= 0)
		{
			at->pk1 = pair_key(*prev, id) + 1;
			at->ph = key_hash64(at->pk1);
			at->pair = -1;
			if (v->pair_bits != NULL)
				__builtin_prefetch(pair_filter_word(v, at->ph));
		}
	}
	*prev = id;
}

/* whether vectorising reads word i from triage's own memo */
static inline bool
word_in_memo(EscWordReading **side, int i)
{
	return side == NULL || side[i] == NULL ||
		side[i]->tri_state == ESC_TRI_UNREAD || side[i]->tri_state == ESC_TRI_MEMO;
}

/*
 * The same, from a tokenising pass (NULL: no text).
 *
 * This is the trigger's inner loop, and it gives exactly the vector that
 * esc_triage_doc_keys_pass() and esc_triage_feature_get() would (the
 * same features, in the same order, with the same values; the fuzz
 * harness compares them), more cheaply: a word's stems come with their
 * features from the word memo, so only pairs, grams and fields are looked
 * up; a pair's key is made from the stems' ids, a gram's from eight bytes
 * read at once; the fields' features are remembered; no palloc but the
 * vector's.  The feature map, the counts, idf and weights are tens of
 * megabytes for a large model, and the rest of an insert evicts them from
 * the CPU caches, so the work goes in steps, each fetching what a later
 * one reads and the cache misses overlap: the words' stems (fetching their
 * memo entries a few words ahead, and their pairs' words of the pair
 * filter), the pairs the filter lets through (fetching their slots in the
 * map), the grams (their slots), the pairs' and grams' features, then
 * counting in order (idf and weights) in a table of the ticket's own.
 */
void
esc_triage_vectorize_pass(EscTriageModel *m, const EscTextPass *tp,
						  const char *priority, const char *channel, const char *tier,
						  bool grams, EscTriageDoc *doc)
{
	EscTriageVocab *v = m->vocab;
	const TriageKey *keys = v->keys;
	uint32		key_size = v->key_size;
	const char *fields[3] = {priority, channel, tier};
	int			nwords = tp ? tp->nwords : 0;
	struct EscTriageScratch *sc;
	TriageStemAt *st;
	TriageCounter tc;
	EscWordReading **side;
	int			nst = 0,
				ngr = 0;
	int			prev = -2;		/* -2: no previous stem (start, or a break) */
	int			f;
	double		norm[2] = {0, 0};
	uint32		count_size;

	if (v->grow)
		elog(ERROR, "triage vectors need a loaded model");

	/*
	 * Every stem gives at most two features, the fields four; the grams,
	 * at most TRIAGE_GRAMS_MAX, go after them.
	 */
	sc = scratch_for(m, (int64) TRIAGE_MAX_STEMS_PER_WORD * nwords,
					 (int64) 2 * TRIAGE_MAX_STEMS_PER_WORD * nwords + 4 + TRIAGE_GRAMS_MAX);
	tc.gbase = 2 * TRIAGE_MAX_STEMS_PER_WORD * nwords + 4;
	st = sc->stems;
	tc.feat = sc->feat;
	tc.tf = sc->tf;
	tc.nw = 0;
	tc.ng = 0;
	tc.nwords = m->nwords;
	tc.nclasses = m->nclasses;
	tc.w = m->w;
	tc.wrec = m->wrec;
	tc.idf = m->idf;
	tc.we = (m->has_escalation && grams) ? m->we : NULL;

	/*
	 * The words' stems (their features known) and pairs (their keys): a
	 * word the keyword memo keeps is read from its entry there (side),
	 * which the keyword rules have just looked up, and from triage's own
	 * memo only the first time, or when it has more than one stem.
	 */
#define TRIAGE_MEMO_AHEAD 16
	side = triage_side(v, tp);
	for (int i = 0; i < Min(nwords, TRIAGE_MEMO_AHEAD); i++)
		if (word_in_memo(side, i))
			__builtin_prefetch(&v->memo[tp->words[i].hash & v->memo_mask]);
	for (int i = 0; i < nwords; i++)
	{
		const EscWord *word = &tp->words[i];
		EscWordReading *r = side ? side[i] : NULL;
		TriageWord  *e;

		if (i + TRIAGE_MEMO_AHEAD < nwords && word_in_memo(side, i + TRIAGE_MEMO_AHEAD))
			__builtin_prefetch(&v->memo[tp->words[i + TRIAGE_MEMO_AHEAD].hash & v->memo_mask]);
		if (word->flags & ESC_WORD_LONG)
		{
			prev = -2;
			continue;
		}
		if (r != NULL && r->tri_state == ESC_TRI_ONE)
		{
			stem_seen(v, st, &nst, &prev, r->tri_id, r->tri_fid);
			continue;
		}
		if (r != NULL && r->tri_state == ESC_TRI_NONE)
			continue;
		e = word_lookup(v, tp->folded + word->start, word->end - word->start, word->hash);
		if (r != NULL && r->tri_state == ESC_TRI_UNREAD)
		{
			/* remembered in the keyword memo's entry for the next time */
			r->tri_state = e->n == 0 ? ESC_TRI_NONE : e->n == 1 ? ESC_TRI_ONE : ESC_TRI_MEMO;
			r->tri_id = e->n == 1 ? e->ids[0] : -1;
			r->tri_fid = e->n == 1 ? e->fids[0] : -1;
		}
		for (int s = 0; s < e->n; s++)
			stem_seen(v, st, &nst, &prev, e->ids[s], e->fids[s]);
	}

	/*
	 * The pairs the filter lets through, their first slots.  A pass of its
	 * own, so that the filter's words, fetched above, arrive together
	 * instead of one after the other (a word's test decides a branch,
	 * which a load still in flight would stall).
	 */
	for (int i = 0; i < nst; i++)
	{
		TriageStemAt *at = &st[i];

		if (at->pair != -1)
			continue;
		if (pair_filter_passes(v, at->ph))
		{
			at->pslot = key_slot_of_hash(at->ph, key_size);
			__builtin_prefetch(&keys[at->pslot]);
		}
		else
			at->pair = -2;
	}

	/*
	 * The subject's grams, their keys made as gram_key() makes them: up to
	 * GRAM_PACKED_MAX bytes, the bytes themselves (little-endian: the
	 * first in the low bits), read eight at a time from the padded norm.
	 */
	if (v->grams && tp != NULL && grams)
	{
		char		gnorm[TRIAGE_SUBJECT_MAX + 2 + 8];
		int			cstart[TRIAGE_SUBJECT_MAX + 3];
		int			nc = subject_norm(tp->text, tp->len, gnorm, cstart);

		memset(gnorm + cstart[nc], 0, 8);
		for (int c = 0; c < nc; c++)
		{
			uint64		bytes;

			memcpy(&bytes, gnorm + cstart[c], 8);
#ifdef WORDS_BIGENDIAN
			bytes = pg_bswap64(bytes);
#endif
			for (int g = TRIAGE_GRAM_MIN; g <= TRIAGE_GRAM_MAX && c + g <= nc; g++)
			{
				int			gl = cstart[c + g] - cstart[c];
				TriageGramAt *at = &sc->grams[ngr++];

				if (gl <= GRAM_PACKED_MAX)
					at->k1 = (ESC_TRIAGE_GRAM_TAG | ((uint64) gl << 56) |
							  (bytes & ((UINT64CONST(1) << (8 * gl)) - 1))) + 1;
				else
					at->k1 = gram_key(gnorm + cstart[c], gl) + 1;
				at->slot = key_slot(at->k1, key_size);
				__builtin_prefetch(&keys[at->slot]);
			}
		}
	}

	/* the pairs' and the grams' features */
	for (int i = 0; i < nst; i++)
		if (st[i].pair == -1)
			st[i].pair = feature_at(keys, key_size, st[i].pk1, st[i].pslot);
	for (int i = 0; i < ngr; i++)
		sc->grams[i].f = feature_at(keys, key_size, sc->grams[i].k1, sc->grams[i].slot);

	/* every stem gives at most two features, the fields four */
	tc.count = count_table_for(sc, m->cxt, 2 * nst + 4 + ngr, &count_size);
	tc.mask = count_size - 1;
	tc.touched = sc->touched;
	tc.ntouched = 0;

	/* count, in order: stems and pairs, fields, length, grams */
	for (int i = 0; i < nst; i++)
	{
		if (st[i].fid >= 0)
			count_feature(&tc, st[i].fid);
		if (st[i].pair >= 0)
			count_feature(&tc, st[i].pair);
	}
	for (int i = 0; i < 3; i++)
		if (fields[i] != NULL && (f = field_feature(v, i, fields[i])) >= 0)
			count_feature(&tc, f);
	if ((f = length_feature(v, nwords)) >= 0)
		count_feature(&tc, f);
	for (int i = 0; i < ngr; i++)
		if (sc->grams[i].f >= 0)
			count_feature(&tc, sc->grams[i].f);
	sc->ntouched = tc.ntouched;
	sc->count_dirty = false;

	/*
	 * tf-idf, the words first, then the grams, each L2-normalised as
	 * esc_triage_normalize() does (each block's sum in the same order).
	 */
	doc->n = tc.nw + tc.ng;
	doc->nword = tc.nw;
	doc->words_only = !grams;
	doc->feat = palloc(sizeof(int) * Max(doc->n, 1));
	doc->val = palloc(sizeof(float) * Max(doc->n, 1));
	if (m->wrec)
		norm[0] = tfidf(m->wrec, ESC_TRIAGE_REC_STRIDE, tc.feat, tc.tf, tc.nw,
						doc->feat, doc->val);
	else
		norm[0] = tfidf(m->idf, 1, tc.feat, tc.tf, tc.nw, doc->feat, doc->val);
	norm[1] = tfidf(m->idf, 1, tc.feat + tc.gbase, tc.tf + tc.gbase, tc.ng,
					doc->feat + tc.nw, doc->val + tc.nw);
	scale(doc->val, tc.nw, norm[0] > 0 ? 1.0 / sqrt(norm[0]) : 0);
	scale(doc->val + tc.nw, tc.ng, norm[1] > 0 ? 1.0 / sqrt(norm[1]) : 0);
}

/* the features contributing most to a score: weight(f) * value(f) */
static int
top_features(EscTriageModel *m, const EscTriageDoc *doc, const float *w, int stride,
			 const char **out)
{
	double		best[ESC_TRIAGE_EXPLAIN];
	int			n = 0;

	/* the words only: grams explain nothing to a reader */
	for (int i = 0; i < doc->nword; i++)
	{
		double		c = (double) w[(size_t) doc->feat[i] * stride] * doc->val[i];
		int			k;

		if (c <= 0)
			continue;
		if (n == ESC_TRIAGE_EXPLAIN && c <= best[n - 1])
			continue;
		k = (n < ESC_TRIAGE_EXPLAIN) ? n++ : n - 1;
		while (k > 0 && best[k - 1] < c)
		{
			best[k] = best[k - 1];
			out[k] = out[k - 1];
			k--;
		}
		best[k] = c;
		out[k] = m->features[doc->feat[i]];
	}
	return n;
}

/*
 * The team scores: s[k] += w[f][k] * x over the ticket's words (a word's
 * row read from its record when the model has them), each
 * product in single precision and added in double, in the ticket's order,
 * as the plain loop at the end does.  Where SSE2 is there (every x86-64)
 * eight teams at a time, their sums in registers, then four: the same
 * operations on each team's sum in the same order, so the same bits.
 */
static void
add_team_scores(const EscTriageModel *m, const EscTriageDoc *doc, double *s)
{
	int			K = m->nclasses;
	int			k = 0;
	/* a word's row: in its record after its idf, or in w */
	const float *wb = m->wrec ? m->wrec + 1 : m->w;
	size_t		stride = m->wrec ? ESC_TRIAGE_REC_STRIDE : (size_t) K;

#ifdef __SSE2__
	for (; k + 8 <= K; k += 8)
	{
		/* one to three teams after these eight go along, one by one */
		int			r = (K - k - 8 < 4) ? K - k - 8 : 0;
		__m128d		a0 = _mm_loadu_pd(s + k),
					a1 = _mm_loadu_pd(s + k + 2),
					a2 = _mm_loadu_pd(s + k + 4),
					a3 = _mm_loadu_pd(s + k + 6);
		double		t0 = r > 0 ? s[k + 8] : 0,
					t1 = r > 1 ? s[k + 9] : 0,
					t2 = r > 2 ? s[k + 10] : 0;

		for (int i = 0; i < doc->nword; i++)
		{
			const float *wf = wb + (size_t) doc->feat[i] * stride + k;
			float		xs = doc->val[i];
			__m128		x = _mm_set1_ps(xs);
			__m128		p0 = _mm_mul_ps(_mm_loadu_ps(wf), x);
			__m128		p1 = _mm_mul_ps(_mm_loadu_ps(wf + 4), x);

			a0 = _mm_add_pd(a0, _mm_cvtps_pd(p0));
			a1 = _mm_add_pd(a1, _mm_cvtps_pd(_mm_movehl_ps(p0, p0)));
			a2 = _mm_add_pd(a2, _mm_cvtps_pd(p1));
			a3 = _mm_add_pd(a3, _mm_cvtps_pd(_mm_movehl_ps(p1, p1)));
			if (r > 0)
			{
				t0 += wf[8] * xs;
				if (r > 1)
				{
					t1 += wf[9] * xs;
					if (r > 2)
						t2 += wf[10] * xs;
				}
			}
		}
		_mm_storeu_pd(s + k, a0);
		_mm_storeu_pd(s + k + 2, a1);
		_mm_storeu_pd(s + k + 4, a2);
		_mm_storeu_pd(s + k + 6, a3);
		if (r > 0)
			s[k + 8] = t0;
		if (r > 1)
			s[k + 9] = t1;
		if (r > 2)
			s[k + 10] = t2;
		k += r;
	}
	for (; k + 4 <= K; k += 4)
	{
		__m128d		a0 = _mm_loadu_pd(s + k),
					a1 = _mm_loadu_pd(s + k + 2);

		for (int i = 0; i < doc->nword; i++)
		{
			const float *wf = wb + (size_t) doc->feat[i] * stride + k;
			__m128		p0 = _mm_mul_ps(_mm_loadu_ps(wf), _mm_set1_ps(doc->val[i]));

			a0 = _mm_add_pd(a0, _mm_cvtps_pd(p0));
			a1 = _mm_add_pd(a1, _mm_cvtps_pd(_mm_movehl_ps(p0, p0)));
		}
		_mm_storeu_pd(s + k, a0);
		_mm_storeu_pd(s + k + 2, a1);
	}
#endif
	for (; k < K; k++)
	{
		double		a = s[k];

		for (int i = 0; i < doc->nword; i++)
			a += wb[(size_t) doc->feat[i] * stride + k] * doc->val[i];
		s[k] = a;
	}
}

/*
 * Score a vectorised ticket.  team_scores (nclasses, may be NULL) receives
 * the raw linear scores, for evaluation.
 */
void
esc_triage_score(EscTriageModel *m, const EscTriageDoc *doc, EscPrediction *p,
				 double *team_scores, bool explain)
{
	int			K = m->nclasses;
	double	   *s = team_scores ? team_scores : palloc(sizeof(double) * Max(K, 1));
	int			best = -1;
	double		max = -INFINITY,
				sum = 0;

	memset(p, 0, sizeof(EscPrediction));
	p->team = -1;
	for (int k = 0; k < K; k++)
		s[k] = m->b[k];
	/* the team model reads the words; the escalation model the grams too */
	add_team_scores(m, doc, s);
	for (int k = 0; k < K; k++)
		if (s[k] > max)
		{
			max = s[k];
			best = k;
		}
	if (best >= 0)
	{
		for (int k = 0; k < K; k++)
			sum += exp(m->temperature * (s[k] - max));
		p->team = best;
		p->team_name = m->classes[best];
		p->team_prob = 1.0 / sum;
		p->routable = m->routable ? m->routable[best] : false;
	}
	if (m->has_escalation && !doc->words_only)
	{
		double		e = m->be;

		for (int i = 0; i < doc->n; i++)
			e += m->we[doc->feat[i]] * doc->val[i];
		p->has_escalation = true;
		p->escalation_prob = 1.0 / (1.0 + exp(m->platt_a * e + m->platt_b));
	}
	if (explain)
		esc_triage_explain(m, doc, p);
	if (team_scores == NULL)
		pfree(s);
}

/*
 * The words that weighed most for a scored prediction: for its team, and
 * for escalation.  Separate from scoring because the trigger needs them
 * only for a rule that fires (they are its evidence), which most tickets
 * do not: about 20,000 instructions per 1 KB ticket saved.
 */
void
esc_triage_explain(EscTriageModel *m, const EscTriageDoc *doc, EscPrediction *p)
{
	/* a team's weights from the word records (fetched to score) if any */
	if (p->team >= 0 && m->wrec)
		p->nwords = top_features(m, doc, m->wrec + 1 + p->team,
								 ESC_TRIAGE_REC_STRIDE, p->words);
	else if (p->team >= 0)
		p->nwords = top_features(m, doc, m->w + p->team, m->nclasses, p->words);
	if (p->has_escalation)
		p->nesc_words = top_features(m, doc, m->we, 1, p->esc_words);
}

void
esc_triage_predict(EscTriageModel *m, const char *text, int len,
				   const char *priority, const char *channel, const char *tier,
				   EscPrediction *p, bool explain)
{
	EscTriageDoc doc;

	esc_triage_vectorize(m, text, len, priority, channel, tier, &doc);
	esc_triage_score(m, &doc, p, NULL, explain);
	pfree(doc.feat);
	pfree(doc.val);
}

/* the same, from a tokenising pass (NULL: no text) */
void
esc_triage_predict_pass(EscTriageModel *m, const EscTextPass *tp,
						const char *priority, const char *channel, const char *tier,
						EscPrediction *p, bool explain)
{
	EscTriageDoc doc;

	esc_triage_vectorize_pass(m, tp, priority, channel, tier, true, &doc);
	esc_triage_score(m, &doc, p, NULL, explain);
	pfree(doc.feat);
	pfree(doc.val);
}

/* ----------------------------------------------------------------
 * Storage: one bytea
 *
 *	 "ESCTRI2\0", int32 nfeatures (V), nwords (W), nclasses (K),
 *	 has_escalation, float8 temperature, platt_a, platt_b, float4 be,
 *	 float4 idf[V], w[W*K], b[K], we[V] (if has_escalation),
 *	 then the class names and the feature texts, each NUL-terminated.
 *	 Features 0..W-1 are words, W..V-1 subject grams.
 *
 *	 Extension 1.0 stored "ESCTRI1\0", without nwords (W = V, no grams);
 *	 such a model still loads (and is written back in the new form).
 * ----------------------------------------------------------------
 */
static char *
put(char *dst, const void *p, size_t n)
{
	memcpy(dst, p, n);
	return dst + n;
}

bytea *
esc_triage_serialize(EscTriageModel *m)
{
	int32		hdr[4] = {m->nfeatures, m->nwords, m->nclasses, m->has_escalation ? 1 : 0};
	double		cal[3] = {m->temperature, m->platt_a, m->platt_b};
	bytea	   *result;
	size_t		V = m->nfeatures,
				W = m->nwords,
				K = m->nclasses;
	size_t		size = 8 + sizeof(hdr) + sizeof(cal) + sizeof(float) +
		sizeof(float) * (V + W * K + K + (m->has_escalation ? V : 0));
	char	   *p;

	/* sized first and written once: the weights are megabytes */
	for (size_t k = 0; k < K; k++)
		size += strlen(m->classes[k]) + 1;
	for (size_t f = 0; f < V; f++)
		size += strlen(m->features[f]) + 1;
	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("triage model is too large to store (%zu features, %zu teams)", V, K),
				 errhint("Raise min_df, or train on fewer teams.")));
	result = (bytea *) palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	p = VARDATA(result);
	p = put(p, TRIAGE_MAGIC, 8);
	p = put(p, hdr, sizeof(hdr));
	p = put(p, cal, sizeof(cal));
	p = put(p, &m->be, sizeof(float));
	p = put(p, m->idf, sizeof(float) * V);
	p = put(p, m->w, sizeof(float) * W * K);
	p = put(p, m->b, sizeof(float) * K);
	if (m->has_escalation)
		p = put(p, m->we, sizeof(float) * V);
	for (size_t k = 0; k < K; k++)
		p = put(p, m->classes[k], strlen(m->classes[k]) + 1);
	for (size_t f = 0; f < V; f++)
		p = put(p, m->features[f], strlen(m->features[f]) + 1);
	Assert(p == VARDATA(result) + size);
	return result;
}

static void
get(const char **p, const char *end, void *dst, size_t n)
{
	if ((size_t) (end - *p) < n)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("triage model data is truncated")));
	memcpy(dst, *p, n);
	*p += n;
}

/*
 * n bytes of floats of the stored form: used in place where they lie
 * aligned for a float (the layout puts them there in a palloc'd copy),
 * else copied out (memcpy), so that no float is ever read unaligned.
 */
static float *
take_floats(const char **p, const char *end, size_t n)
{
	void	   *at = (void *) *p;

	if ((size_t) (end - *p) < n)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("triage model data is truncated")));
	if ((uintptr_t) at % sizeof(float) != 0)
	{
		void	   *copy = MemoryContextAllocHuge(CurrentMemoryContext, Max(n, 1));

		memcpy(copy, at, n);
		at = copy;
	}
	*p += n;
	return (float *) at;
}

/* a NUL-terminated string of the stored form, used in place */
static char *
get_string(const char **p, const char *end)
{
	const char *z = memchr(*p, '\0', end - *p);
	char	   *s;

	if (z == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("triage model data is truncated")));
	s = (char *) *p;
	*p = z + 1;
	return s;
}

/*
 * The stored form of a model, detoasted into memory of its own: where it
 * lies uncompressed in TOAST (the models table stores it so), its chunks
 * are copied straight into memory from esc_alloc_big(); else detoasted, or
 * copied, as usual.
 */
static bytea *
model_bytes(bytea *data)
{
	if (VARATT_IS_EXTERNAL_ONDISK(data))
	{
		struct varatt_external ptr;

		VARATT_EXTERNAL_GET_POINTER(ptr, data);
		/* uncompressed (VARATT_EXTERNAL_IS_COMPRESSED(), without its sign warning) */
		if ((int64) VARATT_EXTERNAL_GET_EXTSIZE(ptr) + VARHDRSZ == (int64) ptr.va_rawsize)
		{
			int32		size = VARATT_EXTERNAL_GET_EXTSIZE(ptr);
			struct varlena *copy = esc_alloc_big(CurrentMemoryContext, (size_t) size + VARHDRSZ);

			SET_VARSIZE(copy, size + VARHDRSZ);
			if (size > 0)
			{
				Relation	rel = table_open(ptr.va_toastrelid, AccessShareLock);

				table_relation_fetch_toast_slice(rel, ptr.va_valueid, size, 0, size, copy);
				table_close(rel, AccessShareLock);
			}
			return (bytea *) copy;
		}
	}
	if (VARATT_IS_EXTENDED(data))
		return (bytea *) detoast_attr((struct varlena *) data);
	else
	{
		bytea	   *copy = palloc(VARSIZE(data));

		memcpy(copy, data, VARSIZE(data));
		return copy;
	}
}

/*
 * Put key k1 - 1 with value in the map, from its first slot j, if it has
 * none (as esc_triage_feature_put(), without growing: the map has room).
 */
static inline void
map_put_at(EscTriageVocab *v, uint64 k1, uint32 j, int32 value)
{
	for (; !key_empty(&v->keys[j]); j = key_next(j, v->key_size))
		if (key_is(&v->keys[j], k1))
			return;
	Assert((v->key_used + 1) * 2 <= v->key_size);
	v->keys[j].lo = (uint32) k1;
	v->keys[j].hi = (uint32) (k1 >> 32);
	v->keys[j].value = value;
	v->key_used++;
}

/*
 * The features' texts, NUL-terminated one after the other from *p: each
 * one's text in features[] (where it lies) and its key in the feature
 * map, as esc_triage_text_key() makes it, with its stems' texts where
 * they lie too (no copy, no allocation per feature).  One pass over each
 * text finds its end and its first space.  The map is tens of megabytes
 * and every key goes to a random slot of it: a key's slot is fetched
 * (prefetch) when it is made and the key put TRIAGE_LOAD_AHEAD keys
 * later, so that the cache misses overlap (a third of the load's time
 * before).  A stem too long to be one of
 * ours (esc_triage_text_key() gives it no id) cannot occur in a ticket's
 * features, and neither can a feature made of one: it is left out of the
 * map.
 */
#define TRIAGE_LOAD_AHEAD 16

static void
load_features(EscTriageVocab *v, char **features, size_t V, size_t W,
			  const char **pp, const char *end)
{
	const char *p = *pp;
	struct
	{
		uint64		k1;
		uint32		slot;
		int32		f;
	}			ring[TRIAGE_LOAD_AHEAD];
	int			nring = 0;
	uint32		size = v->key_size;

	for (size_t f = 0; f < V; f++)
	{
		const char *t = p;
		const char *sp = NULL;
		uint64		key;
		int			len;

		while (p < end && *p != '\0')
		{
			if (*p == ' ' && sp == NULL)
				sp = p;
			p++;
		}
		if (p == end)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("triage model data is truncated")));
		len = (int) (p - t);
		p++;
		features[f] = (char *) t;
		/* the words come first, then the grams: scoring counts on it */
		if ((t[0] == '~') != (f >= W))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("triage model data is corrupted"),
					 errdetail("Feature %zu of %zu, of which %zu are words, is %s.",
							   f + 1, V, W, t[0] == '~' ? "a subject gram" : "a word")));
		if (!feature_key(v, t, len, sp, true, &key))
			continue;
		/* put the key made TRIAGE_LOAD_AHEAD keys ago, fetch this one's slot */
		{
			int			r = nring % TRIAGE_LOAD_AHEAD;

			if (nring >= TRIAGE_LOAD_AHEAD)
				map_put_at(v, ring[r].k1, ring[r].slot, ring[r].f);
			ring[r].k1 = key + 1;
			ring[r].slot = key_slot(key + 1, size);
			ring[r].f = (int32) f;
			__builtin_prefetch(&v->keys[ring[r].slot], 1);
			nring++;
		}
	}
	for (int i = Max(nring - TRIAGE_LOAD_AHEAD, 0); i < nring; i++)
		map_put_at(v, ring[i % TRIAGE_LOAD_AHEAD].k1, ring[i % TRIAGE_LOAD_AHEAD].slot,
				   ring[i % TRIAGE_LOAD_AHEAD].f);
	*pp = p;
}

/*
 * Each word's idf and row of team weights side by side, in records of 64
 * bytes on 64-byte boundaries (m->wrec), when the teams are few enough
 * (ESC_TRIAGE_REC_TEAMS): scoring a ticket then costs one cache line per
 * word, not two or three (the idf, and a row that straddles two lines as
 * often as not).  Memory: 64 bytes a word on top of the stored form,
 * 4.8 MB for the insert benchmark's 75,000 words.  The values are copies,
 * so scores are the same bits.
 */
static void
pack_word_records(EscTriageModel *m)
{
	size_t		W = m->nwords;
	size_t		K = m->nclasses;
	float	   *rec;

	if (W == 0 || K > ESC_TRIAGE_REC_TEAMS)
		return;
	/* on a cache line boundary (bigmem.c): a record is one x86-64 line */
	rec = esc_alloc_big(m->cxt, W * ESC_TRIAGE_REC_STRIDE * sizeof(float));
	for (size_t f = 0; f < W; f++)
	{
		float	   *r = rec + f * ESC_TRIAGE_REC_STRIDE;

		r[0] = m->idf[f];
		memcpy(r + 1, m->w + f * K, sizeof(float) * K);
		memset(r + 1 + K, 0, sizeof(float) * (ESC_TRIAGE_REC_STRIDE - 1 - K));
	}
	m->wrec = rec;
}

/*
 * A model from its stored form, in a new memory context under parent, with
 * its vocabulary rebuilt for scoring.  data may still be toasted: it is
 * detoasted (or copied) once, into the model's context, and the weights,
 * the names and the feature texts are then used where they lie; the
 * arrays are 4-byte aligned there (a 4-byte header, then 52 bytes, or 48
 * in the 1.0 form, before the first array), as floats need (take_floats()
 * copies them where they are not).  Loading a model of megabytes so costs
 * one copy, not two, straight from the TOAST chunks (model_bytes()).  The
 * feature map is sized for all the model's keys before they go in (three
 * times as many slots, no rehashing as it grows), the stems are found through
 * an index of their own (stem_find()), not a string-keyed dynahash, and
 * keep their text where the stored form has it, and each key's slot is
 * fetched ahead of its insertion (load_features()).
 *
 * What loading costs is mostly memory, per backend, and the page faults of
 * touching it: the insert benchmark's model of 674,000 features takes
 * 76 MB (the stored form, 35 MB, the feature map, 24 MB, the features'
 * text pointers and counts, 5.4 MB each, the stems), and in this
 * project's VM a 4 kB page costs about 13 µs the first time a backend
 * writes it.  The large arrays are on transparent huge pages where the
 * kernel gives them (esc_alloc_big(), bigmem.c); with them that model loads in about 210 ms in a new
 * backend (first classify()), against 600 ms before (docs/benchmarks.md).
 * Reading the stored form from shared buffers (a new backend faults on
 * each of their pages too) is most of what remains.  A model in shared
 * memory, loaded once for all backends, is the way past that
 * (docs/design.md).
 */
EscTriageModel *
esc_triage_deserialize(MemoryContext parent, bytea *data, Oid cfgid)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "escalation triage model",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	EscTriageModel *m = palloc0(sizeof(EscTriageModel));
	const char *p;
	const char *end;
	char		magic[8];
	int32		hdr[4];
	double		cal[3];
	bool		v1;
	size_t		V,
				W,
				K;

	data = model_bytes(data);
	p = VARDATA(data);
	end = p + VARSIZE(data) - VARHDRSZ;
	m->cxt = cxt;
	get(&p, end, magic, 8);
	v1 = memcmp(magic, TRIAGE_MAGIC_V1, 8) == 0;
	if (!v1 && memcmp(magic, TRIAGE_MAGIC, 8) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("triage model data has an unknown format")));
	if (v1)
	{
		/* nfeatures, nclasses, has_escalation: every feature a word */
		get(&p, end, hdr, sizeof(int32) * 3);
		hdr[3] = hdr[2];
		hdr[2] = hdr[1];
		hdr[1] = hdr[0];
	}
	else
		get(&p, end, hdr, sizeof(hdr));
	if (hdr[0] < 0 || hdr[1] < 0 || hdr[1] > hdr[0] || hdr[2] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("triage model data is invalid")));
	get(&p, end, cal, sizeof(cal));
	get(&p, end, &m->be, sizeof(float));
	m->nfeatures = hdr[0];
	m->nwords = hdr[1];
	m->nclasses = hdr[2];
	m->has_escalation = hdr[3] != 0;
	m->temperature = cal[0];
	m->platt_a = cal[1];
	m->platt_b = cal[2];
	V = m->nfeatures;
	W = m->nwords;
	K = m->nclasses;
	if (V > (size_t) (end - p) / sizeof(float) || K > (size_t) (end - p) / sizeof(float) ||
		(W > 0 && K > (size_t) (end - p) / sizeof(float) / W))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("triage model data is truncated")));
	m->idf = take_floats(&p, end, sizeof(float) * V);
	m->w = take_floats(&p, end, sizeof(float) * W * K);
	m->b = take_floats(&p, end, sizeof(float) * K);
	if (m->has_escalation)
		m->we = take_floats(&p, end, sizeof(float) * V);
	m->classes = palloc(sizeof(char *) * K);
	for (size_t k = 0; k < K; k++)
		m->classes[k] = get_string(&p, end);
	m->features = esc_alloc_big(cxt, sizeof(char *) * V);
	m->vocab = esc_triage_vocab_create(cxt, cfgid, false);
	/* a model without grams does not make them */
	esc_triage_vocab_set_grams(m->vocab, W < V);
	feature_reserve(m->vocab, V);
	stems_reserve(m->vocab, (int) Min(V / 4 + 1024, INT_MAX / 4));
	load_features(m->vocab, m->features, V, W, &p, end);
	pair_filter_build(m->vocab);
	pack_word_records(m);
	MemoryContextSwitchTo(old);
	return m;
}
