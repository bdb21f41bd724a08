/*-------------------------------------------------------------------------
 *
 * funcs.c
 *	  SQL-callable functions that are not triggers: explain(), the context
 *	  snapshot for hand escalations, the keyword matcher exposed for
 *	  testing and for validation of rules, and the checks of the record's
 *	  rows (escalation_valid(), event_valid()) and the merge of its reasons
 *	  (merge_reasons()).
 *
 * explain() and ticket_context() read the ticket as the caller, so the
 * helpdesk's row-level security and grants apply to them; so does
 * caller_sees_ticket(), for the SECURITY DEFINER functions that snapshot a
 * ticket.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tsearch/ts_cache.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "escalation.h"

PG_FUNCTION_INFO_V1(escalation_explain);
PG_FUNCTION_INFO_V1(escalation_ticket_context);
PG_FUNCTION_INFO_V1(escalation_requester_tickets);
PG_FUNCTION_INFO_V1(escalation_caller_sees_ticket);
PG_FUNCTION_INFO_V1(escalation_match_keywords);
PG_FUNCTION_INFO_V1(escalation_keyword_lexemes);
PG_FUNCTION_INFO_V1(escalation_target_key);
PG_FUNCTION_INFO_V1(escalation_escalation_valid);
PG_FUNCTION_INFO_V1(escalation_event_valid);
PG_FUNCTION_INFO_V1(escalation_merge_reasons);
PG_FUNCTION_INFO_V1(escalation_text_passes);
PG_FUNCTION_INFO_V1(escalation_pattern_shape);
PG_FUNCTION_INFO_V1(escalation_pattern_runs);

/* set up a materialised SRF; returns the tuple store */
static Tuplestorestate *
begin_srf(FunctionCallInfo fcinfo, TupleDesc *desc)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old;
	Tuplestorestate *ts;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	*desc = CreateTupleDescCopy(*desc);
	ts = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = ts;
	rsinfo->setDesc = *desc;
	MemoryContextSwitchTo(old);
	return ts;
}

static Datum
cstring_array(char **list, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(list[i]);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * escalation.explain(ticket_table regclass, ticket_key text, as_of timestamptz)
 */
Datum
escalation_explain(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	TimestampTz as_of = PG_GETARG_TIMESTAMPTZ(2);
	TupleDesc	outdesc;
	Tuplestorestate *ts = begin_srf(fcinfo, &outdesc);
	EscSource  *src = esc_attached_source(relid);
	MemoryContext caller_cxt = CurrentMemoryContext;
	HeapTuple	ticket;
	TupleDesc	tdesc;
	EscRow		row;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ticket = esc_fetch_ticket(src, key, &tdesc, caller_cxt);
	if (ticket == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("ticket \"%s\" does not exist in %s", key, src->relname_q)));
	esc_read_ticket(src, ticket, tdesc, &row, as_of, true);
	esc_match_row(src, &row);
	if (src->any_triage_rule)
		row.facts.triage = esc_triage_model_for(src->source_id);

	for (int i = 0; i < src->nrules; i++)
	{
		EscRule    *r = src->rules[i];
		EscVerdict	v;
		Datum		values[10];
		bool		nulls[10];

		memset(nulls, 0, sizeof(nulls));
		esc_rule_evaluate(r, &row.facts, &v);
		if (v.fires && (row.facts.status == ESC_STATUS_SOLVED || row.facts.status == ESC_STATUS_OTHER))
		{
			v.fires = false;
			v.why_not = "ticket is solved";
		}
		values[0] = CStringGetTextDatum(r->name);
		values[1] = BoolGetDatum(v.fires);
		values[2] = Int32GetDatum(r->level);
		values[3] = CStringGetTextDatum(r->kind);
		if (v.fires && v.target_team)
			values[4] = CStringGetTextDatum(v.target_team);
		else if (r->target_team)
			values[4] = CStringGetTextDatum(r->target_team);
		else
			nulls[4] = true;
		if (r->ntarget_skills > 0)
			values[5] = cstring_array(r->target_skills, r->ntarget_skills);
		else
			nulls[5] = true;
		if (r->target_tier > 0)
			values[6] = Int32GetDatum(r->target_tier);
		else
			nulls[6] = true;
		values[7] = Int32GetDatum(r->severity);
		if (v.fires)
		{
			values[8] = esc_reason_jsonb(src, r, &row.facts, &v);
			nulls[9] = true;
		}
		else
		{
			nulls[8] = true;
			values[9] = CStringGetTextDatum(v.why_not ? v.why_not : "");
		}
		tuplestore_putvalues(ts, outdesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * escalation.ticket_context(source_id integer, ticket_key text) -> jsonb
 */
Datum
escalation_ticket_context(PG_FUNCTION_ARGS)
{
	int32		source_id = PG_GETARG_INT32(0);
	char	   *key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	EscSource  *src = esc_get_source(source_id);
	MemoryContext caller_cxt = CurrentMemoryContext;
	HeapTuple	ticket;
	TupleDesc	tdesc;
	EscRow		row;
	Datum		result;

	if (src == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source %d is not attached", source_id)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ticket = esc_fetch_ticket(src, key, &tdesc, caller_cxt);
	if (ticket == NULL)
	{
		SPI_finish();
		PG_RETURN_NULL();
	}
	esc_read_ticket(src, ticket, tdesc, &row, GetCurrentTransactionStartTimestamp(), true);
	result = esc_build_context(src, &row, false, false);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * escalation.requester_tickets(source_id integer, ticket_key text,
 *								requester text, tenant text) -> jsonb
 *
 * The requester's other recent tickets of the same tenant as a context
 * snapshot holds them, read now (escalation.complete_contexts() adds them
 * to escalations raised with them deferred).  NULL when the source is not attached (any more).
 */
Datum
escalation_requester_tickets(PG_FUNCTION_ARGS)
{
	EscSource  *src;
	char	   *key;
	char	   *requester;
	char	   *tenant;
	Datum		result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	src = esc_get_source(PG_GETARG_INT32(0));
	if (src == NULL)
		PG_RETURN_NULL();
	key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	requester = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	tenant = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	result = esc_requester_tickets(src, key, requester, tenant);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * escalation.caller_sees_ticket(source_id integer, ticket_key text) -> boolean
 *
 * Can the role acting in this session (the session user, or the role of
 * SET ROLE) read the ticket?  Its grants and the helpdesk's row-level
 * security on the ticket table apply.  SECURITY DEFINER functions that
 * snapshot a ticket as the extension's owner (escalate(), handoff()) ask
 * first, so that they never hand their caller a ticket it could not read
 * itself.  The outer user is the one SECURITY DEFINER does not change.
 */
Datum
escalation_caller_sees_ticket(PG_FUNCTION_ARGS)
{
	int32		source_id = PG_GETARG_INT32(0);
	char	   *key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	EscSource  *src = esc_get_source(source_id);
	HeapTuple	ticket;
	TupleDesc	tdesc;
	Oid			save_userid;
	int			save_sec;

	if (src == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source %d is not attached", source_id)));
	/* an error on the way is cleaned up, user id included, by the abort */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(GetOuterUserId(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ticket = esc_fetch_ticket(src, key, &tdesc, CurrentMemoryContext);
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
	PG_RETURN_BOOL(ticket != NULL);
}

/*
 * escalation.match_keywords(body text, keywords text[], config regconfig)
 *	 -> (keyword, matched)
 */
Datum
escalation_match_keywords(PG_FUNCTION_ARGS)
{
	text	   *body = PG_GETARG_TEXT_PP(0);
	ArrayType  *kwarr = PG_GETARG_ARRAYTYPE_P(1);
	Oid			cfgid = PG_GETARG_OID(2);
	TupleDesc	outdesc;
	Tuplestorestate *ts = begin_srf(fcinfo, &outdesc);
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "escalation match",
											  ALLOCSET_DEFAULT_SIZES);
	EscLexicon *lex = esc_lexicon_create(tmp, cfgid);
	Datum	   *elems;
	bool	   *enulls;
	int			n;
	int		   *ids;
	EscMatch	m;
	const char *txt = VARDATA_ANY(body);

	deconstruct_array(kwarr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &n);
	ids = palloc(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
		ids[i] = enulls[i] ? -1 : esc_lexicon_add_keyword(lex, TextDatumGetCString(elems[i]));
	esc_lexicon_match(lex, txt, VARSIZE_ANY_EXHDR(body), -1, &m);
	for (int i = 0; i < n; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		if (ids[i] < 0 || !m.matched[ids[i]])
			continue;
		values[0] = elems[i];
		values[1] = PointerGetDatum(cstring_to_text_with_len(txt + m.start[ids[i]],
															 m.end[ids[i]] - m.start[ids[i]]));
		tuplestore_putvalues(ts, outdesc, values, nulls);
	}
	MemoryContextDelete(tmp);
	return (Datum) 0;
}

/*
 * escalation.keyword_lexemes(keyword text, config regconfig) -> text[]
 */
Datum
escalation_keyword_lexemes(PG_FUNCTION_ARGS)
{
	char	   *kw = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			cfgid = PG_GETARG_OID(1);
	List	   *stems = esc_keyword_stems(cfgid, kw);
	int			n = list_length(stems);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	ListCell   *lc;
	int			i = 0;

	foreach(lc, stems)
	{
		char	   *s = (char *) lfirst(lc);

		nulls[i] = (s == NULL);
		elems[i] = s ? CStringGetTextDatum(s) : (Datum) 0;
		i++;
	}
	if (n == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	PG_RETURN_ARRAYTYPE_P(construct_md_array(elems, nulls, 1, dims, lbs, TEXTOID,
											 -1, false, TYPALIGN_INT));
}

/*
 * escalation.target_key(team text, skills text[], tier integer) -> text
 *
 * team|skill,skill|tier, with empty parts for NULLs: the generated column
 * that keeps one open escalation per ticket, level and target.  In C, and
 * immutable, because it runs for every escalation written; the string is
 * built by esc_target_key(), which the trigger uses too.
 */
Datum
escalation_target_key(PG_FUNCTION_ARGS)
{
	char	  **skills = NULL;
	int			nskills = 0;
	char	   *key;

	if (!PG_ARGISNULL(1))
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
		skills = palloc(sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
			if (!nulls[i])
				skills[nskills++] = TextDatumGetCString(elems[i]);
	}
	key = esc_target_key(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
						 skills, nskills,
						 !PG_ARGISNULL(2), PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2));
	PG_RETURN_TEXT_P(cstring_to_text(key));
}

/*
 * The CHECK constraints of escalation.escalations and escalation.events.
 *
 * A CHECK constraint's expression is read back from its stored text and
 * planned again by every statement that writes the table, and the C
 * triggers write these tables inside the helpdesk's own inserts; written
 * out in SQL (IN lists, BETWEEN), the two constraints cost more to prepare
 * than the rest of the statement.  A call of one of these functions costs
 * next to nothing to prepare.  The allowed values are listed here and in
 * the COMMENTs of the functions.
 */
static bool
text_in(text *t, const char *const *allowed)
{
	const char *s = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);

	for (int i = 0; allowed[i]; i++)
		if ((int) strlen(allowed[i]) == len && memcmp(allowed[i], s, len) == 0)
			return true;
	return false;
}

/*
 * escalation.escalation_valid(level, kind, origin, severity, status, reasons)
 */
Datum
escalation_escalation_valid(PG_FUNCTION_ARGS)
{
	static const char *const kinds[] = {"functional", "hierarchical", NULL};
	static const char *const origins[] = {"rule", "manual", "sla", "handoff", "model",
	"reescalation", NULL};
	static const char *const statuses[] = {"queued", "offered", "accepted", "resolved",
	"cancelled", NULL};
	int32		level = PG_GETARG_INT32(0);
	int32		severity = PG_GETARG_INT32(3);
	Jsonb	   *reasons = PG_GETARG_JSONB_P(5);

	PG_RETURN_BOOL(level >= 1 && level <= 9 &&
				   text_in(PG_GETARG_TEXT_PP(1), kinds) &&
				   text_in(PG_GETARG_TEXT_PP(2), origins) &&
				   severity >= 1 && severity <= 4 &&
				   text_in(PG_GETARG_TEXT_PP(4), statuses) &&
				   JB_ROOT_IS_ARRAY(reasons) && !JB_ROOT_IS_SCALAR(reasons));
}

/*
 * escalation.event_valid(event)
 */
Datum
escalation_event_valid(PG_FUNCTION_ARGS)
{
	static const char *const events[] = {"created", "reasons_added", "offered", "requeued",
	"accepted", "resolved", "cancelled", "updated", NULL};

	PG_RETURN_BOOL(text_in(PG_GETARG_TEXT_PP(0), events));
}

/* jsonb_array_elements()'s refusal of what is not an array */
static void
require_array(Jsonb *jb)
{
	if (JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot extract elements from a scalar")));
	if (!JB_ROOT_IS_ARRAY(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot extract elements from an object")));
}

/* element's "rule" value (NULL: not an object, or no such key) */
static JsonbValue *
reason_rule(JsonbValue *element, JsonbValue *buf)
{
	if (element->type != jbvBinary || !JsonContainerIsObject(element->val.binary.data))
		return NULL;
	return getKeyJsonValueFromContainer(element->val.binary.data, "rule", 4, buf);
}

/* a = b, as the jsonb = operator says */
static bool
jsonb_values_equal(JsonbValue *a, JsonbValue *b)
{
	if (a->type == jbvString && b->type == jbvString)
		return a->val.string.len == b->val.string.len &&
			memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
	if (a->type != b->type)
		return false;
	return compareJsonbContainers(&JsonbValueToJsonb(a)->root,
								  &JsonbValueToJsonb(b)->root) == 0;
}

/*
 * escalation.merge_reasons(old, new): old || the elements of new whose
 * "rule" no element of old has, in new's order.  Until 1.1 this was an
 * SQL function; with its pinned search_path PostgreSQL could not inline
 * it, and parsed and planned it again in every statement that called it
 * (the record statement's ON CONFLICT branch calls it twice): about 100
 * us a call, where this takes a few.  Same results, same errors: NULL
 * old gives NULL, NULL new gives old || '[]', and an argument that is not
 * an array is refused as jsonb_array_elements() refuses it (old only when
 * new has elements).
 */
Datum
escalation_merge_reasons(PG_FUNCTION_ARGS)
{
	Jsonb	   *old;
	JsonbParseState *st = NULL;
	JsonbValue *added;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	old = PG_GETARG_JSONB_P(0);
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	if (!PG_ARGISNULL(1))
	{
		Jsonb	   *new = PG_GETARG_JSONB_P(1);
		int			nnew;
		int			nold = 0;
		JsonbValue *obuf = NULL;
		JsonbValue **orule = NULL;	/* each old element's rule, once; NULL:
									 * none */

		require_array(new);
		nnew = JB_ROOT_COUNT(new);
		if (nnew > 0)
		{
			require_array(old);
			nold = JB_ROOT_COUNT(old);
			obuf = palloc(sizeof(JsonbValue) * Max(nold, 1));
			orule = palloc(sizeof(JsonbValue *) * Max(nold, 1));
			for (int j = 0; j < nold; j++)
				orule[j] = reason_rule(getIthJsonbValueFromContainer(&old->root, j), &obuf[j]);
		}
		for (int i = 0; i < nnew; i++)
		{
			JsonbValue *n = getIthJsonbValueFromContainer(&new->root, i);
			JsonbValue	nbuf;
			JsonbValue *nrule = reason_rule(n, &nbuf);
			bool		present = false;

			for (int j = 0; nrule != NULL && j < nold && !present; j++)
				present = orule[j] != NULL && jsonb_values_equal(orule[j], nrule);
			if (!present)
				pushJsonbValue(&st, WJB_ELEM, n);
		}
	}
	added = pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	return DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(old),
							   JsonbPGetDatum(JsonbValueToJsonb(added)));
}

/*
 * text_passes(): the tokenising passes over a text this backend has made
 * (textpass.c, and sentiment.c's own walk), for tests: an insert judged by
 * keyword, sentiment and triage rules makes one.
 */
Datum
escalation_text_passes(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) esc_text_passes);
}

/*
 * escalation.pattern_shape(pattern, case_sensitive): the run of characters
 * every match of the pattern contains (shape.c), or NULL.
 */
Datum
escalation_pattern_shape(PG_FUNCTION_ARGS)
{
	char	   *pattern = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		case_sensitive = PG_GETARG_BOOL(1);
	char	   *shape = esc_shape_describe(pattern, case_sensitive);

	if (shape == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(shape));
}

/* escalation.pattern_runs(): regex engine runs for pattern rules, this backend */
Datum
escalation_pattern_runs(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) esc_pattern_runs);
}
