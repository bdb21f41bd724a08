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
 * addressing, as in tokenize.c: it is the inner loop).  The features are
 * the stems, the pairs of consecutive stems (stop words removed, so
 * "unable to access" gives "unabl access"), and the structured fields as
 * pseudo-stems ("priority=high", "channel=email", "tier=gold").  Weights
 * are sublinear tf-idf, 1 + ln(tf) times the smoothed idf, and every
 * document is L2-normalised, as scikit-learn's TfidfVectorizer does.
 *
 * Keys.  A stem has an id in the vocabulary; a feature's key is the stem's
 * id (a single stem) or (id1 + 1) << 32 | id2 (a pair).  A training run
 * grows the vocabulary and gives every key a provisional index; a loaded
 * model maps only the keys it kept (the feature strings are stored, so a
 * model does not depend on ids).
 *
 * Scoring.  Team: one linear score per team, softmax with the temperature
 * calibrated on held-out tickets.  Escalation: one linear score, Platt's
 * sigmoid calibrated on held-out tickets.  Explanation: the features whose
 * weight times value contributed most to the prediction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
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
	const char *fields[3] = {priority, channel, tier};
	const char *prefixes[3] = {"priority=", "channel=", "tier="};

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

	for (int f = 0; f < 3; f++)
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
 * the raw linear scores, for calibration and evaluation.
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
static void
put(StringInfo buf, const void *p, size_t n)
{
	appendBinaryStringInfo(buf, (const char *) p, (int) n);
}

bytea *
esc_triage_serialize(EscTriageModel *m)
{
	StringInfoData buf;
	int32		hdr[3] = {m->nfeatures, m->nclasses, m->has_escalation ? 1 : 0};
	double		cal[3] = {m->temperature, m->platt_a, m->platt_b};
	bytea	   *result;
	size_t		V = m->nfeatures,
				K = m->nclasses;

	initStringInfo(&buf);
	put(&buf, TRIAGE_MAGIC, 8);
	put(&buf, hdr, sizeof(hdr));
	put(&buf, cal, sizeof(cal));
	put(&buf, &m->be, sizeof(float));
	put(&buf, m->idf, sizeof(float) * V);
	put(&buf, m->w, sizeof(float) * V * K);
	put(&buf, m->b, sizeof(float) * K);
	if (m->has_escalation)
		put(&buf, m->we, sizeof(float) * V);
	for (size_t k = 0; k < K; k++)
		put(&buf, m->classes[k], strlen(m->classes[k]) + 1);
	for (size_t f = 0; f < V; f++)
		put(&buf, m->features[f], strlen(m->features[f]) + 1);

	result = (bytea *) palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(result, VARHDRSZ + buf.len);
	memcpy(VARDATA(result), buf.data, buf.len);
	pfree(buf.data);
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

static char *
get_string(const char **p, const char *end)
{
	const char *z = memchr(*p, '\0', end - *p);
	char	   *s;

	if (z == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("triage model data is truncated")));
	s = pstrdup(*p);
	*p = z + 1;
	return s;
}

/*
 * A model from its stored form, in a new memory context under parent, with
 * its vocabulary rebuilt for scoring.
 */
EscTriageModel *
esc_triage_deserialize(MemoryContext parent, bytea *data, Oid cfgid)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "escalation triage model",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	EscTriageModel *m = palloc0(sizeof(EscTriageModel));
	const char *p = VARDATA_ANY(data);
	const char *end = p + VARSIZE_ANY_EXHDR(data);
	char		magic[8];
	int32		hdr[3];
	double		cal[3];
	size_t		V,
				K;

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

	/*
	 * The arrays and the strings (a byte each at least) must all be there
	 * before anything is allocated for them: a damaged header must not
	 * ask for gigabytes.
	 */
	{
		size_t		avail = (end - p) / sizeof(float);

		if (V > avail || K > avail ||
			V * K + V * (m->has_escalation ? 2 : 1) + K > avail ||
			(V * K + V * (m->has_escalation ? 2 : 1) + K) * sizeof(float) + V + K >
			(size_t) (end - p))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("triage model data is truncated")));
	}
	m->idf = palloc(sizeof(float) * Max(V, 1));
	get(&p, end, m->idf, sizeof(float) * V);
	m->w = MemoryContextAllocHuge(cxt, sizeof(float) * Max(V * K, 1));
	get(&p, end, m->w, sizeof(float) * V * K);
	m->b = palloc(sizeof(float) * K);
	get(&p, end, m->b, sizeof(float) * K);
	if (m->has_escalation)
	{
		m->we = palloc(sizeof(float) * Max(V, 1));
		get(&p, end, m->we, sizeof(float) * V);
	}
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
