/*-------------------------------------------------------------------------
 *
 * fuzz_triage.c
 *	  libFuzzer harness for triage.c: a ticket's features (the words and
 *	  stem pairs of its text, its priority, channel and tier), a stored
 *	  model read back from its bytea, and scoring with it.
 *
 * Input: a flags byte (bit 0: the shim's simple configuration instead of
 * its toy English one), a big-endian 16-bit length and that many bytes of
 * stored model (escalation.models.model), then lines priority, channel,
 * tier (an empty line: NULL), and the ticket text.
 *
 * Checked, besides no crash and no undefined behaviour:
 *	- features of a growing vocabulary (training): every key reads back as
 *	  text, and that text gives the same key (esc_triage_text_key), and
 *	  keys map to the values put for them;
 *	- a model that reads back (esc_triage_deserialize; otherwise only
 *	  "data corrupted" errors) writes out as the same bytes
 *	  (esc_triage_serialize); one in extension 1.0's form (ESCTRI1) is
 *	  written in the current one, which reads back and writes out as the
 *	  same bytes again;
 *	- its vector of a ticket has distinct features, the words first, each
 *	  block (words, subject grams) of L2 norm 1 when its idf weights are
 *	  finite and positive, and is bit for bit the vector of the plain
 *	  algorithm (esc_triage_doc_keys(), esc_triage_feature_get(), counts in
 *	  order of first occurrence, esc_triage_normalize()); its team scores
 *	  are bit for bit the plain loops' sums; its prediction names
 *	  one of its classes, with probabilities in 0..1 when its weights are
 *	  finite, and explains with at most ESC_TRIAGE_EXPLAIN of its features.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "escalation.h"
#include "shim.h"

/* every value finite and of a sane size (at least `least` in magnitude) */
static bool
all_finite(const float *v, size_t n, float least)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]) || fabsf(v[i]) > 1e6f || fabsf(v[i]) < least)
			return false;
	return true;
}

/*
 * A ticket's vector as triage.c made it before its one-pass vectoriser
 * (esc_triage_vectorize_pass): the keys of esc_triage_doc_keys(), each
 * looked up with esc_triage_feature_get(), counted in order of first
 * occurrence per block (words: features below nwords; grams), sublinear
 * tf-idf, esc_triage_normalize().
 */
static void
reference_vector(EscTriageModel *m, const char *text, int len, char **fields, EscTriageDoc *doc)
{
	uint64	   *keys;
	int			nkeys = esc_triage_doc_keys(m->vocab, text, len, fields[0], fields[1],
											fields[2], &keys);
	int		   *feat = palloc(sizeof(int) * Max(nkeys, 1));
	int		   *tf = palloc(sizeof(int) * Max(nkeys, 1));
	int			n = 0,
				w = 0,
				pw = 0,
				pg;

	for (int i = 0; i < nkeys; i++)
	{
		int			f = esc_triage_feature_get(m->vocab, keys[i]);
		int			j;

		if (f < 0)
			continue;
		for (j = 0; j < n && feat[j] != f; j++)
			;
		if (j < n)
			tf[j]++;
		else
		{
			feat[n] = f;
			tf[n++] = 1;
			w += (f < m->nwords);
		}
	}
	doc->n = n;
	doc->nword = w;
	doc->words_only = false;
	doc->feat = palloc(sizeof(int) * Max(n, 1));
	doc->val = palloc(sizeof(float) * Max(n, 1));
	pg = w;
	for (int i = 0; i < n; i++)
	{
		int			at = (feat[i] < m->nwords) ? pw++ : pg++;
		double		x = m->idf[feat[i]];

		if (tf[i] > 1)
			x *= 1.0 + log((double) tf[i]);
		doc->feat[at] = feat[i];
		doc->val[at] = (float) x;
	}
	esc_triage_normalize(doc->val, doc->nword, doc->n);
}

static bool
is_feature(EscTriageModel *m, const char *f)
{
	for (int i = 0; i < m->nfeatures; i++)
		if (m->features[i] == f)
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
	size_t		mlen;
	bytea	   *stored;
	char	   *fields[3];
	char	   *text;
	int			len,
				l;
	EscTriageVocab *v;
	uint64	   *keys;
	int			nkeys;
	EscTriageModel *m = NULL;
	bool		ok;

	fuzz_input(&in, data, size);
	cfgid = (fuzz_u8(&in) & 1) ? SHIM_CFG_SIMPLE : SHIM_CFG_ENGLISH;
	mlen = (size_t) fuzz_u8(&in) << 8;
	mlen |= fuzz_u8(&in);
	mlen = Min(mlen, in.left);
	stored = palloc(VARHDRSZ + mlen);
	SET_VARSIZE(stored, VARHDRSZ + mlen);
	memcpy(VARDATA(stored), in.p, mlen);
	in.p += mlen;
	in.left -= mlen;
	for (int f = 0; f < 3; f++)
	{
		fields[f] = fuzz_text_until(&in, '\n', &l);
		if (l == 0)
			fields[f] = NULL;
	}
	text = fuzz_text_rest(&in, &len);

	/* features, as train() collects them */
	v = esc_triage_vocab_create(CurrentMemoryContext, cfgid, true);
	nkeys = esc_triage_doc_keys(v, text, len, fields[0], fields[1], fields[2], &keys);
	for (int i = 0; i < nkeys; i++)
	{
		char	   *t = esc_triage_key_text(v, keys[i]);
		uint64		back = esc_triage_text_key(v, t);

		FUZZ_CHECK(back == keys[i], "feature \"%s\": key " UINT64_FORMAT " reads back as " UINT64_FORMAT,
				   t, keys[i], back);
		FUZZ_CHECK(esc_triage_feature_put(v, keys[i], i) <= i, "feature values not kept");
	}
	for (int i = 0; i < nkeys; i++)
	{
		int			f = esc_triage_feature_get(v, keys[i]);

		FUZZ_CHECK(f >= 0 && f <= i && keys[f] == keys[i], "feature %d maps to %d", i, f);
	}

	/* a stored model */
	FUZZ_TRY(ok, m = esc_triage_deserialize(CurrentMemoryContext, stored, cfgid));
	if (!ok)
	{
		fuzz_no_internal_error("deserialize");
		FUZZ_CHECK(shim_error_code == ERRCODE_DATA_CORRUPTED,
				   "deserialize: error other than \"data corrupted\": %s", shim_error_message);
	}
	else
	{
		bytea	   *again = esc_triage_serialize(m);
		int32		has_esc;
		EscTriageDoc doc;
		EscPrediction p;
		size_t		V = m->nfeatures,
					W = m->nwords,
					K = m->nclasses;
		bool		finite;
		bool		v1 = memcmp(VARDATA(stored), "ESCTRI1", 8) == 0;

		memcpy(&has_esc, VARDATA(stored) + 8 + (v1 ? 2 : 3) * sizeof(int32), sizeof(int32));
		if (v1)
		{
			EscTriageModel *m2 = NULL;
			bytea	   *third;

			FUZZ_CHECK(W == V, "a 1.0 model has %zu words of %zu features", W, V);
			FUZZ_TRY(ok, m2 = esc_triage_deserialize(CurrentMemoryContext, again, cfgid));
			FUZZ_CHECK(ok, "a 1.0 model written in the current form does not read back: %s",
					   shim_error_message);
			third = esc_triage_serialize(m2);
			FUZZ_CHECK(VARSIZE(third) == VARSIZE(again) &&
					   memcmp(VARDATA(third), VARDATA(again), VARSIZE(again) - VARHDRSZ) == 0,
					   "a 1.0 model does not write back the same twice");
		}
		else if (has_esc == 0 || has_esc == 1)
			FUZZ_CHECK(VARSIZE(again) - VARHDRSZ <= mlen &&
					   memcmp(VARDATA(again), VARDATA(stored), VARSIZE(again) - VARHDRSZ) == 0,
					   "the model does not write back as it was read");

		esc_triage_vectorize(m, text, len, fields[0], fields[1], fields[2], &doc);
		{
			double		norm[2] = {0, 0};

			FUZZ_CHECK(doc.nword >= 0 && doc.nword <= doc.n, "%d words of %d features",
					   doc.nword, doc.n);
			for (int i = 0; i < doc.n; i++)
			{
				FUZZ_CHECK(doc.feat[i] >= 0 && doc.feat[i] < m->nfeatures, "feature %d out of range",
						   doc.feat[i]);
				FUZZ_CHECK((doc.feat[i] < m->nwords) == (i < doc.nword),
						   "feature %d (%d words) in the wrong block", doc.feat[i], m->nwords);
				for (int j = 0; j < i; j++)
					FUZZ_CHECK(doc.feat[j] != doc.feat[i], "feature %d twice", doc.feat[i]);
				norm[i >= doc.nword] += (double) doc.val[i] * doc.val[i];
			}
			finite = true;
			for (int i = 0; i < doc.n; i++)
				finite &= isfinite(m->idf[doc.feat[i]]) && m->idf[doc.feat[i]] > 1e-3 &&
					m->idf[doc.feat[i]] < 1e6;
			if (doc.nword > 0 && finite)
				FUZZ_CHECK(fabs(norm[0] - 1) < 1e-3, "word block norm %g", norm[0]);
			if (doc.n > doc.nword && finite)
				FUZZ_CHECK(fabs(norm[1] - 1) < 1e-3, "gram block norm %g", norm[1]);
		}

		/* the same vector as the plain algorithm, bit for bit */
		{
			EscTriageDoc ref;

			reference_vector(m, text, len, fields, &ref);
			FUZZ_CHECK(ref.n == doc.n && ref.nword == doc.nword,
					   "vector of %d features (%d words), the reference %d (%d)",
					   doc.n, doc.nword, ref.n, ref.nword);
			for (int i = 0; i < doc.n; i++)
				FUZZ_CHECK(ref.feat[i] == doc.feat[i] &&
						   (memcmp(&ref.val[i], &doc.val[i], sizeof(float)) == 0 ||
							(isnan(ref.val[i]) && isnan(doc.val[i]))),
						   "vector entry %d: feature %d = %a, the reference %d = %a",
						   i, doc.feat[i], doc.val[i], ref.feat[i], ref.val[i]);
		}

		/*
		 * words only (the trigger's vector when no rule asks for the
		 * escalation probability): the whole vector's word block (a
		 * feature past the model's words, which only a made-up model
		 * maps a stem to, goes on to the grams' block), and the same team
		 * with the same probability
		 */
		{
			EscTextPass *tp = esc_textpass(text, len, (len & 1) != 0);
			EscTriageDoc wd;
			EscPrediction wp,
						fp;

			esc_triage_vectorize_pass(m, tp, fields[0], fields[1], fields[2], false, &wd);
			FUZZ_CHECK(wd.words_only && wd.nword == doc.nword,
					   "words only: %d words, the whole vector %d",
					   wd.nword, doc.nword);
			for (int i = 0; i < wd.nword; i++)
				FUZZ_CHECK(wd.feat[i] == doc.feat[i] &&
						   (memcmp(&wd.val[i], &doc.val[i], sizeof(float)) == 0 ||
							(isnan(wd.val[i]) && isnan(doc.val[i]))),
						   "words only: entry %d differs", i);
			m->routable = NULL;
			esc_triage_score(m, &wd, &wp, NULL, false);
			esc_triage_score(m, &doc, &fp, NULL, false);
			FUZZ_CHECK(wp.team == fp.team && !wp.has_escalation &&
					   (memcmp(&wp.team_prob, &fp.team_prob, sizeof(double)) == 0 ||
						(isnan(wp.team_prob) && isnan(fp.team_prob))),
					   "words only: team %d (%a), the whole vector's %d (%a)",
					   wp.team, wp.team_prob, fp.team, fp.team_prob);
		}

		/*
		 * the trigger's way: the words the keyword rules' memo keeps read
		 * from its entries (tp->side), three times (the readings made,
		 * then found, then made again after another vocabulary claimed
		 * the memo): the same words-only vector, bit for bit
		 */
		{
			EscLexicon *lex = esc_lexicon_create(CurrentMemoryContext, SHIM_CFG_ENGLISH);
			EscTriageDoc wd;

			(void) esc_lexicon_add_keyword(lex, "refund");
			(void) esc_lexicon_add_keyword(lex, "error 404");
			esc_triage_vectorize_pass(m, esc_textpass(text, len, (len & 1) != 0), fields[0], fields[1],
									  fields[2], false, &wd);
			for (int round = 0; round < 3; round++)
			{
				EscTextPass *tp = esc_textpass(text, len, (len & 1) != 0);
				EscMatch	match;
				EscTriageDoc kd;

				if (round == 2)
					esc_lexicon_claim_triage(lex, UINT64CONST(0xFFFFFFFFFFFF));
				esc_lexicon_match_pass(lex, tp, -1, true, &match);
				esc_triage_prefetch_pass(m, tp, lex);
				esc_triage_vectorize_pass(m, tp, fields[0], fields[1], fields[2], false, &kd);
				FUZZ_CHECK(kd.n == wd.n && kd.nword == wd.nword,
						   "keyword memo round %d: %d features (%d words), without it %d (%d)",
						   round, kd.n, kd.nword, wd.n, wd.nword);
				for (int i = 0; i < kd.n; i++)
					FUZZ_CHECK(kd.feat[i] == wd.feat[i] &&
							   (memcmp(&kd.val[i], &wd.val[i], sizeof(float)) == 0 ||
								(isnan(kd.val[i]) && isnan(wd.val[i]))),
							   "keyword memo round %d: entry %d differs", round, i);
			}
		}

		/* the team scores as plain loops sum them, bit for bit */
		{
			double	   *s = palloc(sizeof(double) * K);
			EscPrediction sp;

			m->routable = NULL;
			esc_triage_score(m, &doc, &sp, s, false);
			for (size_t k = 0; k < K; k++)
			{
				double		r = m->b[k];

				for (int i = 0; i < doc.nword; i++)
					r += m->w[(size_t) doc.feat[i] * K + k] * doc.val[i];
				FUZZ_CHECK(memcmp(&r, &s[k], sizeof(double)) == 0 || (isnan(r) && isnan(s[k])),
						   "team %zu of %zu scores %a, the plain sum %a", k, K, s[k], r);
			}
		}

		m->routable = NULL;
		esc_triage_predict(m, text, len, fields[0], fields[1], fields[2], &p, true);
		FUZZ_CHECK(p.team >= -1 && p.team < m->nclasses, "team %d of %d", p.team, m->nclasses);
		if (p.team >= 0)
			FUZZ_CHECK(p.team_name == m->classes[p.team], "team name is not the class's");
		FUZZ_CHECK(p.nwords >= 0 && p.nwords <= ESC_TRIAGE_EXPLAIN &&
				   p.nesc_words >= 0 && p.nesc_words <= ESC_TRIAGE_EXPLAIN, "explanation too long");
		for (int i = 0; i < p.nwords; i++)
			FUZZ_CHECK(is_feature(m, p.words[i]), "explained by a word that is no feature");
		for (int i = 0; i < p.nesc_words; i++)
			FUZZ_CHECK(is_feature(m, p.esc_words[i]), "explained by a word that is no feature");
		/* idf is at least 1 in a trained model; a tiny one overflows the norm */
		finite = all_finite(m->w, W * K, 0) && all_finite(m->b, K, 0) &&
			all_finite(m->idf, V, 1e-3f) &&
			isfinite(m->temperature) && m->temperature > 0 && m->temperature < 1e3;
		if (finite && p.team >= 0)
			FUZZ_CHECK(p.team_prob > 0 && p.team_prob <= 1, "team probability %g", p.team_prob);
		if (p.has_escalation && isfinite(p.escalation_prob))
			FUZZ_CHECK(p.escalation_prob >= 0 && p.escalation_prob <= 1,
					   "escalation probability %g", p.escalation_prob);
	}

	fuzz_end(cxt);
	return 0;
}
