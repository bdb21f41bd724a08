/*-------------------------------------------------------------------------
 *
 * sentiment_funcs.c
 *	  SQL-callable sentiment functions: escalation.sentiment(text),
 *	  escalation.frustration(text) and escalation.sentiment_detail(text,
 *	  source_id).  The scoring itself is sentiment.c.
 *
 * sentiment() and frustration() use the built-in lexicon only, so they are
 * IMMUTABLE (usable in indexes and generated columns) and cost one pass over
 * the text with no allocation: the text is read in place (detoasted only
 * if compressed or out of line).  sentiment_detail() may add a source's own
 * terms (escalation.sentiment_terms), read through the per-backend
 * configuration cache, and is therefore STABLE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "escalation.h"

PG_FUNCTION_INFO_V1(escalation_sentiment);
PG_FUNCTION_INFO_V1(escalation_frustration);
PG_FUNCTION_INFO_V1(escalation_sentiment_detail);

Datum
escalation_sentiment(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	EscSentiment s;

	esc_sentiment(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), NULL, &s, NULL, NULL);
	PG_RETURN_FLOAT8(s.polarity);
}

Datum
escalation_frustration(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	EscSentiment s;

	esc_sentiment(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), NULL, &s, NULL, NULL);
	PG_RETURN_FLOAT8(s.frustration);
}

typedef struct DetailState
{
	Tuplestorestate *ts;
	TupleDesc	desc;
	int			n;
} DetailState;

static Datum
cues_array(const EscSentiment *s)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(s->ncues, 1));

	for (int i = 0; i < s->ncues; i++)
		elems[i] = CStringGetTextDatum(s->cues[i]);
	return PointerGetDatum(construct_array(elems, s->ncues, TEXTOID, -1, false, TYPALIGN_INT));
}

static void
emit_sentence(void *arg, const char *sentence, int len, const EscSentiment *s)
{
	DetailState *st = (DetailState *) arg;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	CHECK_FOR_INTERRUPTS();
	values[0] = Int32GetDatum(++st->n);
	values[1] = PointerGetDatum(cstring_to_text_with_len(sentence, len));
	values[2] = Float8GetDatum(s->polarity);
	values[3] = Float8GetDatum(s->frustration);
	values[4] = cues_array(s);
	tuplestore_putvalues(st->ts, st->desc, values, nulls);
}

/*
 * escalation.sentiment_detail(body text, source_id integer DEFAULT NULL)
 *	 RETURNS TABLE (sentence integer, text text, polarity float8,
 *					frustration float8, cues text[])
 *
 * One row per sentence, then none: the text's overall figures are
 * sentiment() and frustration() (or, with a source, what its rules see).
 */
Datum
escalation_sentiment_detail(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old;
	DetailState st;
	const EscSentimentTerms *terms = NULL;
	EscSentiment total;
	text	   *t;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));

	if (!PG_ARGISNULL(1))
	{
		int32		source_id = PG_GETARG_INT32(1);
		EscSource  *src = esc_get_source(source_id);

		if (src == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("source %d is not attached", source_id),
					 errhint("See escalation.sources for the attached sources.")));
		terms = src->sentiment_terms;
	}

	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &st.desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	st.desc = CreateTupleDescCopy(st.desc);
	st.ts = tuplestore_begin_heap(true, false, work_mem);
	st.n = 0;
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = st.ts;
	rsinfo->setDesc = st.desc;
	MemoryContextSwitchTo(old);

	if (PG_ARGISNULL(0))
		return (Datum) 0;
	t = PG_GETARG_TEXT_PP(0);
	esc_sentiment(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), terms, &total, emit_sentence, &st);
	return (Datum) 0;
}
