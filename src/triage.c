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
 * Keys.  A stem has an id in the vocabulary; a feature's key is the stem's
 * id (a single stem) or (id1 + 1) << 32 | id2 (a pair).  A training run
 * grows the vocabulary and gives every key a provisional index; a loaded
 * model maps only the keys it kept (the feature strings are stored, so a
 * model does not depend on ids).
 *
 * Scoring.  Team: one linear score per team, softmax with a temperature.
 * Escalation: one linear score, Platt's sigmoid.  Both are calibrated by
 * train() on validation tickets taken from the training tickets, never on
 * the held-out ones.  Explanation: the features whose weight times value
 * contributed most to the prediction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "access/detoast.h"
#include "tsearch/ts_utils.h"
#include "utils/memutils.h"

#include "escalation.h"

#define TRIAGE_MAX_STEMS_PER_WORD 4
#define TRIAGE_MAGIC "ESCTRI1"

typedef struct TriageStem
{
	char		stem[ESC_MAX_WORD];	/* hash key */
	int			id;
} TriageStem;

typedef struct TriageWord
{
	uint32		hash;
	uint16		len;			/* 0 = empty */
	uint16		n;
	int32		ids[TRIAGE_MAX_STEMS_PER_WORD];	/* -1: a stem the vocabulary lacks */
	char	   *word;
} TriageWord;

typedef struct TriageKey
{
	uint64		key1;			/* key + 1; 0 = empty */
	int32		value;
} TriageKey;

struct EscTriageVocab
{
	MemoryContext cxt;
	Oid			cfgid;
	bool		grow;
	HTAB	   *stems;			/* stem -> id */
	int			nstems;
	int			maxstems;
	char	  **stem_text;
	/* word memo */
	MemoryContext memo_cxt;
	uint32		memo_mask;
	uint32		memo_used;
	TriageWord  *memo;
	/* feature map */
	uint32		key_mask;
	uint32		key_used;
	TriageKey   *keys;
};

/* ----------------------------------------------------------------
 * Vocabulary
 * ----------------------------------------------------------------
 */
static void
memo_reset(EscTriageVocab *v)
{
	if (v->memo_cxt)
		MemoryContextDelete(v->memo_cxt);
	v->memo_cxt = AllocSetContextCreate(v->cxt, "escalation triage word memo",
										ALLOCSET_DEFAULT_SIZES);
	v->memo_mask = 4095;
	v->memo_used = 0;
	v->memo = MemoryContextAllocZero(v->memo_cxt, sizeof(TriageWord) * (v->memo_mask + 1));
}

EscTriageVocab *
esc_triage_vocab_create(MemoryContext cxt, Oid cfgid, bool grow)
{
	EscTriageVocab *v = MemoryContextAllocZero(cxt, sizeof(EscTriageVocab));
	HASHCTL		ctl;

	v->cxt = cxt;
	v->cfgid = cfgid;
	v->grow = grow;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = ESC_MAX_WORD;
	ctl.entrysize = sizeof(TriageStem);
	ctl.hcxt = cxt;
	v->stems = hash_create("escalation triage stems", 1024, &ctl,
						   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	v->maxstems = 1024;
	v->stem_text = MemoryContextAlloc(cxt, sizeof(char *) * v->maxstems);
	v->key_mask = 4095;
	v->keys = MemoryContextAllocZero(cxt, sizeof(TriageKey) * (v->key_mask + 1));
	memo_reset(v);
	return v;
}

/* the id of a stem; -1 when unknown and the vocabulary does not grow */
static int
stem_id(EscTriageVocab *v, const char *stem, bool grow)
{
	TriageStem  *e;
	bool		found;
	char		key[ESC_MAX_WORD];

	if (strlen(stem) >= ESC_MAX_WORD)
		return -1;
	strlcpy(key, stem, ESC_MAX_WORD);
	e = hash_search(v->stems, key, grow ? HASH_ENTER : HASH_FIND, &found);
	if (e == NULL)
		return -1;
	if (!found)
	{
		if (v->nstems == v->maxstems)
		{
			v->maxstems *= 2;
			v->stem_text = repalloc(v->stem_text, sizeof(char *) * v->maxstems);
		}
		e->id = v->nstems;
		v->stem_text[v->nstems++] = MemoryContextStrdup(v->cxt, key);
	}
	return e->id;
}

static inline uint64
pair_key(int a, int b)
{
	return ((uint64) (a + 1) << 32) | (uint32) b;
}

int
esc_triage_feature_get(EscTriageVocab *v, uint64 key)
{
	uint64		k1 = key + 1;
	uint32		h = (uint32) hash_bytes_uint32((uint32) k1 ^ (uint32) (k1 >> 29));

	for (uint32 j = h & v->key_mask; v->keys[j].key1 != 0; j = (j + 1) & v->key_mask)
		if (v->keys[j].key1 == k1)
			return v->keys[j].value;
	return -1;
}

/* set a key's value if it has none; returns the value it has */
int
esc_triage_feature_put(EscTriageVocab *v, uint64 key, int value)
{
	uint64		k1 = key + 1;
	uint32		h = (uint32) hash_bytes_uint32((uint32) k1 ^ (uint32) (k1 >> 29));
	uint32		j;

	for (j = h & v->key_mask; v->keys[j].key1 != 0; j = (j + 1) & v->key_mask)
		if (v->keys[j].key1 == k1)
			return v->keys[j].value;
	if ((v->key_used + 1) * 2 > v->key_mask + 1)
	{
		uint32		oldsize = v->key_mask + 1;
		TriageKey   *old = v->keys;

		v->key_mask = oldsize * 2 - 1;
		v->keys = MemoryContextAllocHuge(v->cxt, sizeof(TriageKey) * (v->key_mask + 1));
		memset(v->keys, 0, sizeof(TriageKey) * (v->key_mask + 1));
		for (uint32 i = 0; i < oldsize; i++)
		{
			uint32		hh;

			if (old[i].key1 == 0)
				continue;
			hh = (uint32) hash_bytes_uint32((uint32) old[i].key1 ^ (uint32) (old[i].key1 >> 29));
			for (j = hh & v->key_mask; v->keys[j].key1 != 0; j = (j + 1) & v->key_mask)
				;
			v->keys[j] = old[i];
		}
		pfree(old);
		return esc_triage_feature_put(v, key, value);
	}
	v->keys[j].key1 = k1;
	v->keys[j].value = value;
	v->key_used++;
	return value;
}

/* a key as text: "stem" or "stem stem" */
char *
esc_triage_key_text(EscTriageVocab *v, uint64 key)
{
	uint32		hi = (uint32) (key >> 32);
	uint32		lo = (uint32) key;

	if (hi == 0)
		return pstrdup(v->stem_text[lo]);
	return psprintf("%s %s", v->stem_text[hi - 1], v->stem_text[lo]);
}

/* the key of a stored feature's text, adding its stems to the vocabulary */
uint64
esc_triage_text_key(EscTriageVocab *v, const char *feature)
{
	const char *sp = strchr(feature, ' ');

	if (sp == NULL || strncmp(feature, "priority=", 9) == 0 ||
		strncmp(feature, "channel=", 8) == 0 || strncmp(feature, "tier=", 5) == 0)
		return (uint64) stem_id(v, feature, true);
	{
		char	   *a = pnstrdup(feature, sp - feature);
		int			ia = stem_id(v, a, true);
		int			ib = stem_id(v, sp + 1, true);

		pfree(a);
		return pair_key(ia, ib);
	}
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

/* ASCII letters only: a stop word kept as itself (not numbers or symbols) */
static bool
is_plain_word(const char *word, int len)
{
	for (int i = 0; i < len; i++)
		if (word[i] < 'a' || word[i] > 'z')
			return false;
	return len > 0;
}

/* the memo entry of a folded word, stemming it on first sight */
static TriageWord *
word_lookup(EscTriageVocab *v, const char *word, int len, uint32 h)
{
	uint32		j;
	TriageWord  *e;

	for (j = h & v->memo_mask; v->memo[j].len != 0; j = (j + 1) & v->memo_mask)
	{
		e = &v->memo[j];
		if (e->hash == h && e->len == len && memcmp(e->word, word, len) == 0)
			return e;
	}
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
		v->memo = MemoryContextAllocZero(v->memo_cxt, sizeof(TriageWord) * (v->memo_mask + 1));
		for (uint32 i = 0; i < oldsize; i++)
		{
			if (old[i].len == 0)
				continue;
			for (j = old[i].hash & v->memo_mask; v->memo[j].len != 0; j = (j + 1) & v->memo_mask)
				;
			v->memo[j] = old[i];
		}
		pfree(old);
		return word_lookup(v, word, len, h);
	}
	{
		ParsedText	prs;

		prs.lenwords = 4;
		prs.curwords = 0;
		prs.pos = 0;
		prs.words = (ParsedWord *) palloc(sizeof(ParsedWord) * prs.lenwords);
		parsetext(v->cfgid, &prs, (char *) word, len);

		e = &v->memo[j];
		e->hash = h;
		e->len = len;
		e->n = 0;
		e->word = MemoryContextAlloc(v->memo_cxt, len);
		memcpy(e->word, word, len);
		for (int i = 0; i < prs.curwords && e->n < TRIAGE_MAX_STEMS_PER_WORD; i++)
		{
			char	   *s = pnstrdup(prs.words[i].word, prs.words[i].len);

			/* a word the dictionaries split keeps its parts, in order */
			if (i > 0 && prs.words[i].pos.pos == prs.words[i - 1].pos.pos)
				continue;		/* an alternative stem of the same word */
			e->ids[e->n++] = stem_id(v, s, v->grow);
			pfree(s);
			pfree(prs.words[i].word);
		}
		pfree(prs.words);
		if (e->n == 0 && is_plain_word(word, len))
		{
			/* a stop word: itself */
			char	   *s = pnstrdup(word, len);

			e->ids[e->n++] = stem_id(v, s, v->grow);
			pfree(s);
		}
		v->memo_used++;
	}
	return e;
}

/*
 * The feature keys of one ticket, one per occurrence, in *keys (palloc'd
 * in the current context).  Returns how many.
 */
int
esc_triage_doc_keys(EscTriageVocab *v, const char *text, int len,
					const char *priority, const char *channel, const char *tier,
					uint64 **keys)
{
	int			max = 16 + len;
	uint64	   *out = palloc(sizeof(uint64) * max);
	int			n = 0;
	int			prev = -2;		/* -2: no previous stem (start, or a break) */
	int			i = 0;
	char		buf[ESC_MAX_WORD];
	const char *fields[4] = {priority, channel, tier, NULL};
	const char *prefixes[4] = {"priority=", "channel=", "tier=", "words="};
	int			nwords = 0;
	char		length[32];

	while (text != NULL && i < len)
	{
		int			start;
		int			wl;
		uint32		h;
		TriageWord  *e;

		while (i < len && !is_word_byte((unsigned char) text[i]))
			i++;
		if (i >= len)
			break;
		start = i;
		while (i < len && is_word_byte((unsigned char) text[i]))
			i++;
		wl = i - start;
		nwords++;
		if (wl >= ESC_MAX_WORD)
		{
			prev = -2;
			continue;
		}
		for (int k = 0; k < wl; k++)
		{
			unsigned char c = (unsigned char) text[start + k];

			buf[k] = (c >= 'A' && c <= 'Z') ? (char) (c + ('a' - 'A')) : (char) c;
		}
		h = hash_bytes((const unsigned char *) buf, wl);
		e = word_lookup(v, buf, wl, h);
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

	/* the length in words, on a doubling scale: 0, 1, 2-3, 4-7 ... 512+ */
	if (nwords <= 1)
		snprintf(length, sizeof(length), "%d", nwords);
	else if (nwords >= 512)
		strlcpy(length, "512+", sizeof(length));
	else
	{
		int			lo = 1;

		while (lo * 2 <= nwords)
			lo *= 2;
		snprintf(length, sizeof(length), "%d-%d", lo, lo * 2 - 1);
	}
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
	*keys = out;
	return n;
}

/* ----------------------------------------------------------------
 * Scoring
 * ----------------------------------------------------------------
 */
static int
int_cmp(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	return (x > y) - (x < y);
}

/* a ticket as the model's tf-idf vector (allocated in the current context) */
void
esc_triage_vectorize(EscTriageModel *m, const char *text, int len,
					 const char *priority, const char *channel, const char *tier,
					 EscTriageDoc *doc)
{
	uint64	   *keys;
	int			nkeys = esc_triage_doc_keys(m->vocab, text, len, priority, channel, tier, &keys);
	int		   *idx = palloc(sizeof(int) * Max(nkeys, 1));
	int			n = 0;
	double		norm = 0;

	for (int i = 0; i < nkeys; i++)
	{
		int			f = esc_triage_feature_get(m->vocab, keys[i]);

		if (f >= 0)
			idx[n++] = f;
	}
	pfree(keys);
	qsort(idx, n, sizeof(int), int_cmp);
	doc->feat = palloc(sizeof(int) * Max(n, 1));
	doc->val = palloc(sizeof(float) * Max(n, 1));
	doc->n = 0;
	for (int i = 0; i < n;)
	{
		int			j = i;
		double		x;

		while (j < n && idx[j] == idx[i])
			j++;
		x = (1.0 + log((double) (j - i))) * m->idf[idx[i]];
		doc->feat[doc->n] = idx[i];
		doc->val[doc->n++] = (float) x;
		norm += x * x;
		i = j;
	}
	pfree(idx);
	if (norm > 0)
	{
		float		inv = (float) (1.0 / sqrt(norm));

		for (int i = 0; i < doc->n; i++)
			doc->val[i] *= inv;
	}
}

/* the features contributing most to a score: weight(f) * value(f) */
static int
top_features(EscTriageModel *m, const EscTriageDoc *doc, const float *w, int stride,
			 const char **out)
{
	double		best[ESC_TRIAGE_EXPLAIN];
	int			n = 0;

	for (int i = 0; i < doc->n; i++)
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
	for (int i = 0; i < doc->n; i++)
	{
		const float *wf = m->w + (size_t) doc->feat[i] * K;
		float		x = doc->val[i];

		for (int k = 0; k < K; k++)
			s[k] += wf[k] * x;
	}
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
		if (explain)
			p->nwords = top_features(m, doc, m->w + best, K, p->words);
	}
	if (m->has_escalation)
	{
		double		e = m->be;

		for (int i = 0; i < doc->n; i++)
			e += m->we[doc->feat[i]] * doc->val[i];
		p->has_escalation = true;
		p->escalation_prob = 1.0 / (1.0 + exp(m->platt_a * e + m->platt_b));
		if (explain)
			p->nesc_words = top_features(m, doc, m->we, 1, p->esc_words);
	}
	if (team_scores == NULL)
		pfree(s);
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

/* ----------------------------------------------------------------
 * Storage: one bytea
 *
 *	 "ESCTRI1\0", int32 nfeatures, nclasses, has_escalation,
 *	 float8 temperature, platt_a, platt_b, float4 be,
 *	 float4 idf[V], w[V*K], b[K], we[V] (if has_escalation),
 *	 then the class names and the feature texts, each NUL-terminated.
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
	int32		hdr[3] = {m->nfeatures, m->nclasses, m->has_escalation ? 1 : 0};
	double		cal[3] = {m->temperature, m->platt_a, m->platt_b};
	bytea	   *result;
	size_t		V = m->nfeatures,
				K = m->nclasses;
	size_t		size = 8 + sizeof(hdr) + sizeof(cal) + sizeof(float) +
		sizeof(float) * (V + V * K + K + (m->has_escalation ? V : 0));
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
	p = put(p, m->w, sizeof(float) * V * K);
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

/* n bytes of the stored form, used in place */
static void *
take(const char **p, const char *end, size_t n)
{
	void	   *at = (void *) *p;

	if ((size_t) (end - *p) < n)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("triage model data is truncated")));
	*p += n;
	return at;
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
 * A model from its stored form, in a new memory context under parent, with
 * its vocabulary rebuilt for scoring.  data may still be toasted: it is
 * detoasted (or copied) once, into the model's context, and the weights,
 * the names and the feature texts are then used where they lie; the
 * arrays are 4-byte aligned there (a 4-byte header, then 48 bytes before
 * the first array), as floats need.  Loading a model of megabytes so costs
 * one copy, not two.
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
	int32		hdr[3];
	double		cal[3];
	size_t		V,
				K;

	if (VARATT_IS_EXTENDED(data))
		data = (bytea *) detoast_attr((struct varlena *) data);
	else
	{
		bytea	   *copy = palloc(VARSIZE(data));

		memcpy(copy, data, VARSIZE(data));
		data = copy;
	}
	p = VARDATA(data);
	end = p + VARSIZE(data) - VARHDRSZ;
	m->cxt = cxt;
	get(&p, end, magic, 8);
	if (memcmp(magic, TRIAGE_MAGIC, 8) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("triage model data has an unknown format")));
	get(&p, end, hdr, sizeof(hdr));
	if (hdr[0] < 0 || hdr[1] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("triage model data is invalid")));
	get(&p, end, cal, sizeof(cal));
	get(&p, end, &m->be, sizeof(float));
	m->nfeatures = hdr[0];
	m->nclasses = hdr[1];
	m->has_escalation = hdr[2] != 0;
	m->temperature = cal[0];
	m->platt_a = cal[1];
	m->platt_b = cal[2];
	V = m->nfeatures;
	K = m->nclasses;
	if (V > (size_t) (end - p) / sizeof(float) || K > (size_t) (end - p) / sizeof(float) ||
		(V > 0 && K > (size_t) (end - p) / sizeof(float) / V))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("triage model data is truncated")));
	m->idf = take(&p, end, sizeof(float) * V);
	m->w = take(&p, end, sizeof(float) * V * K);
	m->b = take(&p, end, sizeof(float) * K);
	if (m->has_escalation)
		m->we = take(&p, end, sizeof(float) * V);
	m->classes = palloc(sizeof(char *) * K);
	for (size_t k = 0; k < K; k++)
		m->classes[k] = get_string(&p, end);
	m->features = palloc(sizeof(char *) * Max(V, 1));
	m->vocab = esc_triage_vocab_create(cxt, cfgid, false);
	for (size_t f = 0; f < V; f++)
	{
		m->features[f] = get_string(&p, end);
		esc_triage_feature_put(m->vocab, esc_triage_text_key(m->vocab, m->features[f]),
							   (int) f);
	}
	MemoryContextSwitchTo(old);
	return m;
}
