/*-------------------------------------------------------------------------
 *
 * context.c
 *	  The context snapshot an escalation carries for the agent who receives
 *	  it: the source, the mapped ticket fields, the message being judged,
 *	  the account, the recent conversation and the requester's other recent
 *	  tickets.
 *
 * The snapshot is built as a jsonb value directly (jsonb_build.c), not as
 * JSON text parsed back: most of its bytes are the ticket's text, and
 * escaping 1 KB of text only for jsonb_in to read it again character by
 * character cost more than the rest of the snapshot.  The queried parts
 * (the conversation and the requester's tickets) come from one prepared,
 * read-only query per source as two small JSON arrays, which are parsed and
 * spliced in.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "escalation.h"
#include "jsonb_build.h"

/* how much of a ticket's or message's text the snapshot keeps, in bytes */
#define CONTEXT_BODY_MAX	1000

/* the byte length of text's longest prefix of at most max bytes that ends on a character */
static int
clip_length(const char *text, int len, int max)
{
	int			n;

	if (len <= max)
		return len;
	if (GetDatabaseEncoding() != PG_UTF8)
		return pg_mbcliplen(text, len, max);
	/* UTF-8: back up over continuation bytes to the start of a character */
	n = max;
	while (n > 0 && (((unsigned char) text[n]) & 0xC0) == 0x80)
		n--;
	return n;
}

/* the account's facts under key (null: no known account); record.c's reasons use it too */
void
esc_push_account(JsonbParseState **st, const char *key, EscAccount *acc)
{
	if (acc == NULL || !acc->found)
	{
		esc_jb_null(st, key);
		return;
	}
	esc_jb_key(st, key);
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	esc_jb_string(st, "key", acc->key);
	esc_jb_string(st, "tier", acc->tier);
	esc_jb_bool(st, "vip", acc->vip);
	if (acc->has_value)
		esc_jb_number_text(st, "annual_value", acc->annual_value_text);
	else
		esc_jb_null(st, "annual_value");
	if (acc->has_renewal)
		esc_jb_string(st, "renewal_date",
				 DatumGetCString(DirectFunctionCall1(date_out,
													 DateADTGetDatum(acc->renewal_date))));
	else
		esc_jb_null(st, "renewal_date");
	esc_jb_string(st, "owner_agent", acc->owner_agent);
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/*
 * The part of the snapshot built here, from the row we already hold: the
 * source, the mapped ticket fields, the message and the account.  Pushed
 * into the open top-level object, so that the queried parts can follow.
 */
static void
context_base(JsonbParseState **st, EscSource *src, EscRow *row)
{
	EscAccount *acc = row->facts.account;

	if (acc == NULL && row->vals[ESC_ROLE_ACCOUNT] != NULL)
		acc = esc_lookup_account(row->vals[ESC_ROLE_ACCOUNT]);

	esc_jb_string(st, "source", src->name);
	if (!row->present)
		esc_jb_null(st, "ticket");
	else
	{
		esc_jb_key(st, "ticket");
		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		esc_jb_string(st, "key", row->key);
		if (src->cols[ESC_ROLE_STATUS].name)
		{
			esc_jb_string(st, "status", row->vals[ESC_ROLE_STATUS]);
			esc_jb_string(st, "status_meaning", row->status_meaning);
		}
		if (src->cols[ESC_ROLE_PRIORITY].name)
			esc_jb_string(st, "priority", row->facts.priority);
		if (src->cols[ESC_ROLE_CHANNEL].name)
			esc_jb_string(st, "channel", row->facts.channel);
		if (src->cols[ESC_ROLE_SUBJECT].name)
			esc_jb_string(st, "subject", row->vals[ESC_ROLE_SUBJECT]);
		if (src->cols[ESC_ROLE_BODY].name && !row->facts.is_message)
			esc_jb_stringn(st, "text", row->text ? row->text : "",
					  row->text ? clip_length(row->text, row->textlen, CONTEXT_BODY_MAX) : 0);
		for (int r = ESC_ROLE_REQUESTER; r <= ESC_ROLE_TENANT; r++)
		{
			static const char *const names[] = {"requester", "account", "assignee", "team", "tenant"};

			if (src->cols[r].name)
				esc_jb_string(st, names[r - ESC_ROLE_REQUESTER], row->vals[r]);
		}
		if (row->created_at != 0)
		{
			/* ISO 8601, as jsonb writes the other times of the snapshot */
			char		ts[MAXDATELEN + 1];

			esc_jb_string(st, "created_at",
					 JsonEncodeDateTime(ts, TimestampTzGetDatum(row->created_at),
										TIMESTAMPTZOID, NULL));
		}
		if (src->nfields > 3)
		{
			esc_jb_key(st, "fields");
			pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
			for (int i = 3; i < src->nfields; i++)
				esc_jb_string(st, src->fields[i].name, row->facts.field_values[i]);
			pushJsonbValue(st, WJB_END_OBJECT, NULL);
		}
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
	}
	if (row->facts.is_message)
		esc_jb_stringn(st, "message", row->facts.text ? row->facts.text : "",
				  row->facts.text ? clip_length(row->facts.text, row->facts.textlen,
												CONTEXT_BODY_MAX) : 0);
	esc_push_account(st, "account", acc);
}

/*
 * The query that completes the snapshot: one row of two JSON arrays as
 * text, the recent conversation and the requester's other recent tickets
 * (NULL when the source maps no messages table or no requester).  Plain
 * subqueries and json_agg.  The author map is a constant of the plan, which
 * is prepared again when the configuration changes.  Parameters: $1 the
 * ticket key, $2 the requester (text), $3 and $4 how many messages and
 * tickets (int4), $5 the ticket's tenant (text; the requester's tickets
 * of other tenants are left out).  Without with_messages the conversation is '[]' without
 * a query (a new ticket, when the messages table's foreign key guarantees
 * there is none yet: src->messages_follow_tickets); without with_requester
 * the requester's tickets are NULL (left to the worker).
 */
static void
append_context_sql(StringInfo sql, EscSource *src, bool with_messages, bool with_requester)
{
	EscColumn  *key = &src->cols[ESC_ROLE_KEY];
	EscColumn  *created = &src->cols[ESC_ROLE_CREATED_AT];

	appendStringInfoString(sql, "SELECT ");
	if (OidIsValid(src->msg_relid) && !with_messages)
		appendStringInfoString(sql, "'[]'::pg_catalog.text, ");
	else if (OidIsValid(src->msg_relid))
	{
		EscColumn  *mc = src->msgcols;
		/* metadata columns: on the message row, or on its message_via row */
		const char *v = OidIsValid(src->via_relid) ? "v" : "m";

		appendStringInfoString(sql, "(SELECT COALESCE(pg_catalog.json_agg(x), '[]') FROM (SELECT ");
		if (mc[ESC_MSG_CREATED_AT].name)
			appendStringInfo(sql, "%s.%s AS at, ", v, quote_identifier(mc[ESC_MSG_CREATED_AT].name));
		if (mc[ESC_MSG_AUTHOR].name)
		{
			const char *author = quote_identifier(mc[ESC_MSG_AUTHOR].name);

			if (src->author_map_json)
				appendStringInfo(sql, "COALESCE(%s::pg_catalog.jsonb OPERATOR(pg_catalog.->>) %s.%s::pg_catalog.text, %s.%s::pg_catalog.text) AS author, ",
								 quote_literal_cstr(src->author_map_json), v, author, v, author);
			else
				appendStringInfo(sql, "%s.%s::pg_catalog.text AS author, ", v, author);
		}
		if (mc[ESC_MSG_PRIVATE].name)
			appendStringInfo(sql, "%s.%s AS private, ", v, quote_identifier(mc[ESC_MSG_PRIVATE].name));
		if (mc[ESC_MSG_VISIBLE].name)
			appendStringInfo(sql, "%s.%s AS visible, ", v, quote_identifier(mc[ESC_MSG_VISIBLE].name));
		appendStringInfo(sql, "pg_catalog.left(m.%s::pg_catalog.text, %d) AS body FROM %s m",
						 quote_identifier(mc[ESC_MSG_BODY].name), CONTEXT_BODY_MAX,
						 src->msg_relname_q);
		if (OidIsValid(src->via_relid))
			appendStringInfo(sql, " JOIN %s v ON v.%s OPERATOR(pg_catalog.=) m.%s",
							 src->via_relname_q,
							 quote_identifier(mc[ESC_MSG_VIA_KEY].name),
							 quote_identifier(mc[ESC_MSG_REF].name));
		appendStringInfo(sql, " WHERE %s.%s OPERATOR(pg_catalog.=) $1::%s",
						 v, quote_identifier(mc[ESC_MSG_TICKET].name),
						 format_type_be_qualified(mc[ESC_MSG_TICKET].typid));
		if (mc[ESC_MSG_CREATED_AT].name)
			appendStringInfo(sql, " ORDER BY %s.%s DESC", v, quote_identifier(mc[ESC_MSG_CREATED_AT].name));
		appendStringInfoString(sql, " LIMIT $3) x)::pg_catalog.text, ");
	}
	else
		appendStringInfoString(sql, "NULL::pg_catalog.text, ");
	if (src->cols[ESC_ROLE_REQUESTER].name && with_requester)
	{
		appendStringInfo(sql, "(SELECT COALESCE(pg_catalog.json_agg(x), '[]') FROM (SELECT t.%s::pg_catalog.text AS key",
						 quote_identifier(key->name));
		if (src->cols[ESC_ROLE_SUBJECT].name)
			appendStringInfo(sql, ", t.%s AS subject", quote_identifier(src->cols[ESC_ROLE_SUBJECT].name));
		if (src->cols[ESC_ROLE_STATUS].name)
			appendStringInfo(sql, ", t.%s AS status", quote_identifier(src->cols[ESC_ROLE_STATUS].name));
		if (created->name)
			appendStringInfo(sql, ", t.%s AS created_at", quote_identifier(created->name));
		appendStringInfo(sql, " FROM %s t WHERE t.%s OPERATOR(pg_catalog.=) $2::%s AND t.%s OPERATOR(pg_catalog.<>) $1::%s",
						 src->relname_q,
						 quote_identifier(src->cols[ESC_ROLE_REQUESTER].name),
						 format_type_be_qualified(src->cols[ESC_ROLE_REQUESTER].typid),
						 quote_identifier(key->name),
						 format_type_be_qualified(key->typid));
		/* a requester's tickets of other tenants are not this tenant's to see */
		if (src->cols[ESC_ROLE_TENANT].name)
			appendStringInfo(sql, " AND t.%s::pg_catalog.text IS NOT DISTINCT FROM $5",
							 quote_identifier(src->cols[ESC_ROLE_TENANT].name));
		if (created->name)
			appendStringInfo(sql, " ORDER BY t.%s DESC", quote_identifier(created->name));
		appendStringInfoString(sql, " LIMIT $4) x)::pg_catalog.text");
	}
	else
		appendStringInfoString(sql, "NULL::pg_catalog.text");
}

/*
 * The requester's other recent tickets without a statement
 * ----------------------------------------------------------------
 * For a new ticket the query above has only this part to do (the
 * conversation is empty), and starting its plan, aggregating JSON text and
 * parsing it back cost more than the rest of the escalation's write.  When
 * the helpdesk's table has a btree index led by the requester column (what
 * escalation.check_indexes() recommends), the tickets are read through it
 * and pushed as jsonb directly: newest first straight from the index when
 * its second column is the creation time, else all of the requester's
 * tickets sorted.  Only for columns whose JSON form is built here the way
 * json_agg() builds it (text, numbers, booleans, dates and times, uuid);
 * otherwise, and without such an index, the query runs.  The probe uses the
 * active snapshot, as the read-only query does: it sees the tables as the
 * statement that fired the trigger saw them.
 */

/* a key type whose output is its ::text (so the exclusion can compare text) */
static bool
key_type_ok(Oid typid)
{
	return typid == TEXTOID || typid == VARCHAROID || typid == INT2OID ||
		typid == INT4OID || typid == INT8OID || typid == UUIDOID || typid == NAMEOID;
}

/* a column type whose JSON form is pushed here as json_agg() writes it */
static bool
json_type_ok(Oid typid)
{
	switch (typid)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
		case UUIDOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
		case FLOAT4OID:
		case FLOAT8OID:
		case BOOLOID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return true;
		default:
			return false;
	}
}

/* one column of a ticket as json_agg() would write it */
static void
push_column_json(JsonbParseState **st, const char *key, EscColumn *col, HeapTuple tup,
				 TupleDesc desc)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, col->attnum, desc, &isnull);
	JsonbValue	v;
	char	   *out;

	esc_jb_key(st, key);
	if (isnull)
	{
		v.type = jbvNull;
		pushJsonbValue(st, WJB_VALUE, &v);
		return;
	}
	switch (col->typid)
	{
		case BOOLOID:
			v.type = jbvBool;
			v.val.boolean = DatumGetBool(d);
			pushJsonbValue(st, WJB_VALUE, &v);
			return;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			{
				char		buf[MAXDATELEN + 1];

				out = JsonEncodeDateTime(buf, d, col->typid, NULL);
				v.type = jbvString;
				v.val.string.val = pstrdup(out);
				v.val.string.len = strlen(out);
				pushJsonbValue(st, WJB_VALUE, &v);
				return;
			}
		default:
			break;
	}
	out = OidOutputFunctionCall(col->outfunc, d);
	if ((col->typid == INT2OID || col->typid == INT4OID || col->typid == INT8OID ||
		 col->typid == NUMERICOID || col->typid == FLOAT4OID || col->typid == FLOAT8OID) &&
		IsValidJsonNumber(out, strlen(out)))
	{
		v.type = jbvNumeric;
		v.val.numeric = esc_numeric_of_text(out);
	}
	else
	{
		v.type = jbvString;
		v.val.string.val = out;
		v.val.string.len = strlen(out);
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* can the source's requester tickets be probed?  Looked at once per source */
static bool
probe_usable(EscSource *src)
{
	EscColumn  *req = &src->cols[ESC_ROLE_REQUESTER];
	EscColumn  *created = &src->cols[ESC_ROLE_CREATED_AT];
	Relation	rel;
	List	   *indexes;
	ListCell   *lc;
	static const int roles[] = {ESC_ROLE_SUBJECT, ESC_ROLE_STATUS, ESC_ROLE_CREATED_AT};

	if (!esc_context_probe)
		return false;
	if (src->ctx_probe != 0)
		return src->ctx_probe > 0;
	src->ctx_probe = -1;
	if (req->name == NULL || !key_type_ok(src->cols[ESC_ROLE_KEY].typid))
		return false;
	for (int i = 0; i < (int) lengthof(roles); i++)
		if (src->cols[roles[i]].name != NULL && !json_type_ok(src->cols[roles[i]].typid))
			return false;

	rel = table_open(src->relid, AccessShareLock);
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = index->rd_index;
		bool		ordered;

		if (index->rd_rel->relam == BTREE_AM_OID && form->indisvalid &&
			form->indkey.values[0] == req->attnum &&
			RelationGetIndexPredicate(index) == NIL &&
			RelationGetIndexExpressions(index) == NIL)
		{
			ordered = created->name != NULL && form->indnkeyatts >= 2 &&
				form->indkey.values[1] == created->attnum &&
				(index->rd_indoption[1] & INDOPTION_DESC) == 0;
			/* the first such index, or a better one */
			if (src->ctx_probe < 0 || (ordered && !src->ctx_ordered))
			{
				Oid			eqop = get_opfamily_member(index->rd_opfamily[0],
													   index->rd_opcintype[0],
													   index->rd_opcintype[0],
													   BTEqualStrategyNumber);

				if (OidIsValid(eqop))
				{
					src->ctx_index = RelationGetRelid(index);
					src->ctx_ordered = ordered;
					src->ctx_collation = index->rd_indcollation[0];
					src->ctx_eqproc = get_opcode(eqop);
					src->ctx_probe = 1;
				}
			}
		}
		index_close(index, AccessShareLock);
	}
	list_free(indexes);
	table_close(rel, AccessShareLock);
	if (src->ctx_probe > 0)
		getTypeInputInfo(req->typid, &src->ctx_infunc, &src->ctx_ioparam);
	return src->ctx_probe > 0;
}

typedef struct ProbedTicket
{
	HeapTuple	tup;
	bool		created_null;
	TimestampTz created;
} ProbedTicket;

/* newest first, unknown creation times first (ORDER BY created DESC) */
static int
probed_cmp(const void *a, const void *b)
{
	const ProbedTicket *x = a;
	const ProbedTicket *y = b;

	if (x->created_null || y->created_null)
		return (int) y->created_null - (int) x->created_null;
	return x->created < y->created ? 1 : x->created > y->created ? -1 : 0;
}

/*
 * Pushes the requester's other recent tickets, read through the index, as
 * an array; returns what pushJsonbValue() returns for its end (the array
 * itself when it is the top-level value).
 */
static JsonbValue *
probe_requester_tickets(JsonbParseState **st, EscSource *src, EscRow *row)
{
	EscColumn  *created = &src->cols[ESC_ROLE_CREATED_AT];
	Relation	rel;
	TupleDesc	desc;
	ScanKeyData skey;
	SysScanDesc scan;
	HeapTuple	tup;
	ProbedTicket *found = NULL;
	int			nfound = 0,
				maxfound = 0;
	int			limit = esc_context_tickets;

	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	if (row->requester == NULL || limit <= 0)
		return pushJsonbValue(st, WJB_END_ARRAY, NULL);
	rel = table_open(src->relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	ScanKeyEntryInitialize(&skey, 0, src->cols[ESC_ROLE_REQUESTER].attnum,
						   BTEqualStrategyNumber, InvalidOid, src->ctx_collation,
						   src->ctx_eqproc,
						   OidInputFunctionCall(src->ctx_infunc, row->requester,
												src->ctx_ioparam, -1));
	scan = systable_beginscan_ordered(rel, index_open(src->ctx_index, AccessShareLock),
									  GetActiveSnapshot(), 1, &skey);
	while (HeapTupleIsValid(tup = systable_getnext_ordered(scan, BackwardScanDirection)))
	{
		bool		isnull;
		Datum		k = heap_getattr(tup, src->cols[ESC_ROLE_KEY].attnum, desc, &isnull);

		if (isnull || (row->key &&
					   strcmp(OidOutputFunctionCall(src->cols[ESC_ROLE_KEY].outfunc, k),
							  row->key) == 0))
			continue;
		/* a requester's tickets of other tenants are not this tenant's to see */
		if (src->cols[ESC_ROLE_TENANT].name)
		{
			EscColumn  *tc = &src->cols[ESC_ROLE_TENANT];
			Datum		tv = heap_getattr(tup, tc->attnum, desc, &isnull);
			const char *mine = row->vals[ESC_ROLE_TENANT];

			if (isnull ? mine != NULL
				: (mine == NULL || strcmp(OidOutputFunctionCall(tc->outfunc, tv), mine) != 0))
				continue;
		}
		if (nfound == maxfound)
		{
			maxfound = maxfound ? maxfound * 2 : 8;
			found = found ? repalloc(found, sizeof(ProbedTicket) * maxfound)
				: palloc(sizeof(ProbedTicket) * maxfound);
		}
		found[nfound].tup = heap_copytuple(tup);
		found[nfound].created_null = true;
		found[nfound].created = 0;
		if (created->name)
		{
			Datum		c = heap_getattr(tup, created->attnum, desc, &isnull);

			found[nfound].created_null = isnull;
			if (!isnull)
				found[nfound].created = esc_datum_time(src, created, c);
		}
		nfound++;
		if (src->ctx_ordered && nfound >= limit)
			break;
	}
	{
		Relation	index = scan->irel;

		systable_endscan_ordered(scan);
		index_close(index, AccessShareLock);
	}
	if (!src->ctx_ordered && nfound > 1)
		qsort(found, nfound, sizeof(ProbedTicket), probed_cmp);
	for (int i = 0; i < Min(nfound, limit); i++)
	{
		char	   *key;
		bool		isnull;

		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		key = OidOutputFunctionCall(src->cols[ESC_ROLE_KEY].outfunc,
									heap_getattr(found[i].tup, src->cols[ESC_ROLE_KEY].attnum,
												 desc, &isnull));
		esc_jb_string(st, "key", key);
		if (src->cols[ESC_ROLE_SUBJECT].name)
			push_column_json(st, "subject", &src->cols[ESC_ROLE_SUBJECT], found[i].tup, desc);
		if (src->cols[ESC_ROLE_STATUS].name)
			push_column_json(st, "status", &src->cols[ESC_ROLE_STATUS], found[i].tup, desc);
		if (created->name)
			push_column_json(st, "created_at", created, found[i].tup, desc);
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
	}
	table_close(rel, AccessShareLock);
	return pushJsonbValue(st, WJB_END_ARRAY, NULL);
}

/* one queried part of the snapshot: a JSON array as text, unless NULL */
static void
push_queried(JsonbParseState **st, HeapTuple tup, TupleDesc desc, int col, const char *key)
{
	char	   *json = SPI_getvalue(tup, desc, col);

	if (json == NULL)
		return;
	if (strcmp(json, "[]") == 0)
	{
		esc_jb_key(st, key);
		pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
		pushJsonbValue(st, WJB_END_ARRAY, NULL);
		return;
	}
	esc_jb_json(st, key, json);
}

/* the plan of the snapshot's query: with the conversation, the requester's tickets, or both */
static SPIPlanPtr
context_plan(EscSource *src, bool with_messages, bool with_requester)
{
	SPIPlanPtr *plan;

	Assert(with_messages || with_requester);
	if (!with_requester)
		plan = &src->context_plan_msgs;
	else if (with_messages)
		plan = &src->context_plan;
	else
		plan = &src->context_plan_new;
	if (*plan == NULL)
	{
		StringInfoData sql;
		Oid			argtypes[5] = {TEXTOID, TEXTOID, INT4OID, INT4OID, TEXTOID};

		initStringInfo(&sql);
		append_context_sql(&sql, src, with_messages, with_requester);
		*plan = esc_prepare_config_plan(sql.data, 5, argtypes);
	}
	return *plan;
}

/* runs the snapshot's query for row: one row of two JSON arrays as text */
static void
run_context_query(EscSource *src, const char *key, const char *requester, const char *tenant,
				  bool with_messages, bool with_requester)
{
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	args[0] = CStringGetTextDatum(key);
	args[1] = requester ? CStringGetTextDatum(requester) : (Datum) 0;
	if (requester == NULL)
		nulls[1] = 'n';
	args[2] = Int32GetDatum(esc_context_messages);
	args[3] = Int32GetDatum(esc_context_tickets);
	args[4] = tenant ? CStringGetTextDatum(tenant) : (Datum) 0;
	if (tenant == NULL)
		nulls[4] = 'n';
	if (SPI_execute_plan(context_plan(src, with_messages, with_requester),
						 args, nulls, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not build escalation context");
}

/*
 * The context snapshot: the base built here, completed by one prepared,
 * read-only query per source.  Read-only, it sees the helpdesk's tables as
 * the statement that fired the trigger saw them: not the rows that
 * statement is writing (the message being judged, the other tickets of a
 * multi-row INSERT).  new_ticket: the row is a ticket being inserted.
 * defer_requester: leave the requester's other tickets out when there are
 * any to read (a requester, escalation.context_tickets > 0); the snapshot
 * then has no "requester_tickets" key, and escalation.complete_contexts()
 * adds it in the worker's next cycle (esc_requester_tickets()).
 * Must be called with SPI connected; the result is in the caller's memory
 * context (which outlives the SPI connection).
 */
Datum
esc_build_context(EscSource *src, EscRow *row, bool new_ticket, bool defer_requester)
{
	JsonbParseState *st = NULL;
	JsonbValue *root;
	bool		has_messages = OidIsValid(src->msg_relid);
	bool		with_messages;
	bool		with_requester;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	context_base(&st, src, row);

	/* what needs reading: the conversation, unless there can be none yet */
	with_messages = has_messages && !(new_ticket && src->messages_follow_tickets);
	with_requester = src->cols[ESC_ROLE_REQUESTER].name != NULL &&
		!(defer_requester && row->requester != NULL && esc_context_tickets > 0);

	if (row->key == NULL)
		;						/* no ticket: nothing to read */
	else if (!with_messages && with_requester && probe_usable(src))
	{
		/* no conversation to read: the requester's tickets by the index */
		if (has_messages)
		{
			esc_jb_key(&st, "messages");
			pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
			pushJsonbValue(&st, WJB_END_ARRAY, NULL);
		}
		esc_jb_key(&st, "requester_tickets");
		(void) probe_requester_tickets(&st, src, row);
	}
	else if (with_messages || with_requester)
	{
		run_context_query(src, row->key, row->requester, row->vals[ESC_ROLE_TENANT],
						  with_messages, with_requester);
		push_queried(&st, SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, "messages");
		push_queried(&st, SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, "requester_tickets");
	}
	else if (has_messages)
	{
		/* a new ticket's empty conversation, its requester's tickets deferred */
		esc_jb_key(&st, "messages");
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	}
	root = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	/* in the caller's memory, which outlives this SPI connection */
	return SPI_datumTransfer(JsonbPGetDatum(JsonbValueToJsonb(root)), false, -1);
}

/*
 * The requester's other recent tickets, as the snapshot holds them (a jsonb
 * array): the part of a snapshot that escalation.complete_contexts() adds
 * to an escalation the triggers raised with it deferred.  Read as the
 * snapshot would have read it (the index probe, else the query), now.
 * Must be called with SPI connected; the result is in the caller's memory
 * context.
 */
Datum
esc_requester_tickets(EscSource *src, const char *key, const char *requester, const char *tenant)
{
	Datum		result;

	if (src->cols[ESC_ROLE_REQUESTER].name == NULL || requester == NULL)
		result = esc_cstring_to_jsonb("[]");
	else if (probe_usable(src))
	{
		JsonbParseState *st = NULL;
		EscRow		row;

		memset(&row, 0, sizeof(row));
		row.key = unconstify(char *, key);
		row.requester = unconstify(char *, requester);
		row.vals[ESC_ROLE_TENANT] = unconstify(char *, tenant);
		result = JsonbPGetDatum(JsonbValueToJsonb(probe_requester_tickets(&st, src, &row)));
	}
	else
	{
		run_context_query(src, key, requester, tenant, false, true);
		result = esc_cstring_to_jsonb(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	}
	/* in the caller's memory, which outlives this SPI connection */
	return SPI_datumTransfer(result, false, -1);
}
