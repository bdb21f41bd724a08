/*-------------------------------------------------------------------------
 *
 * row.c
 *	  Reading a helpdesk row through a source's mapping: mapped columns by
 *	  their cached attribute numbers (no SPI to read the row we were given),
 *	  value maps applied, times normalised to timestamptz, and the facts the
 *	  rules are judged on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "escalation.h"

static EscStatus
status_from_meaning(const char *m)
{
	if (m == NULL)
		return ESC_STATUS_UNKNOWN;
	if (strcmp(m, "open") == 0)
		return ESC_STATUS_OPEN;
	if (strcmp(m, "pending") == 0)
		return ESC_STATUS_PENDING;
	if (strcmp(m, "solved") == 0)
		return ESC_STATUS_SOLVED;
	if (strcmp(m, "other") == 0)
		return ESC_STATUS_OTHER;
	return ESC_STATUS_UNKNOWN;
}

/* a value as text, through its type's output function */
char *
esc_datum_text(EscColumn *col, Datum value)
{
	switch (col->typid)
	{
		case TEXTOID:
		case VARCHAROID:
			return TextDatumGetCString(value);
		default:
			return OidOutputFunctionCall(col->outfunc, value);
	}
}

/*
 * Instants a ticket's time may be: 0001-01-01 up to 9999-12-31 (UTC, with a
 * day's margin either way for the zone offset of a naive timestamp).
 * Anything outside, infinity included, is no time at all: taking
 * differences of it (time to escalation, business time) would fail the
 * helpdesk's write.
 */
#define ESC_TIME_MIN	INT64CONST(-63082281600000000)	/* 0001-01-01 00:00 UTC */
#define ESC_TIME_MAX	INT64CONST(252455615999999999)	/* 9999-12-31 23:59:59.999999 UTC */
#define ESC_TIME_MARGIN	USECS_PER_DAY

/*
 * A time column as timestamptz; naive timestamps are in the source's zone.
 * Integers are Unix epoch seconds, and 0 is "unset" (Znuny's deadlines):
 * 0 is returned for it, which every caller reads as "unknown".  So is 0
 * returned for a time outside 0001-01-01 .. 9999-12-31 (infinity, -infinity,
 * year 10000 and later, BC).
 */
TimestampTz
esc_datum_time(EscSource *src, EscColumn *col, Datum value)
{
	Datum		ts;
	int64		secs;
	TimestampTz result;

	switch (col->typid)
	{
		case TIMESTAMPTZOID:
			result = DatumGetTimestampTz(value);
			if (result < ESC_TIME_MIN || result > ESC_TIME_MAX)
				return 0;
			return result;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			secs = col->typid == INT8OID ? DatumGetInt64(value)
				: col->typid == INT4OID ? DatumGetInt32(value) : DatumGetInt16(value);
			if (secs <= 0 || secs > INT64CONST(253402300799))	/* up to 9999-12-31 */
				return 0;
			return (TimestampTz) ((secs - (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)
								  * USECS_PER_SEC);
		case TIMESTAMPOID:
			ts = value;
			break;
		case DATEOID:
			if (DATE_NOT_FINITE(DatumGetDateADT(value)))
				return 0;
			ts = DirectFunctionCall1(date_timestamp, value);
			break;
		default:
			return 0;
	}
	/* out of range before the zone is applied: no "timestamp out of range" */
	if (DatumGetTimestamp(ts) < ESC_TIME_MIN - ESC_TIME_MARGIN ||
		DatumGetTimestamp(ts) > ESC_TIME_MAX + ESC_TIME_MARGIN)
		return 0;
	result = DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone,
													 CStringGetTextDatum(src->time_zone),
													 ts));
	if (result < ESC_TIME_MIN || result > ESC_TIME_MAX)
		return 0;
	return result;
}

/* is this stored value one the mapping says means "none"? */
static bool
is_sentinel(EscSource *src, int role, const char *v)
{
	for (int i = 0; i < src->nsentinels[role]; i++)
		if (strcmp(src->sentinels[role][i], v) == 0)
			return true;
	return false;
}

/*
 * A ticket row's columns, taken apart once (heap_deform_tuple()): the
 * mapping reads a dozen of them, and heap_getattr() walks the row from its
 * start for every column after the first of variable width.
 */
typedef struct RowCols
{
	Datum	   *values;
	bool	   *nulls;
	int			natts;
} RowCols;

#define ROW_COLS_ON_STACK 64

static inline Datum
row_col(const RowCols *rc, int attnum, bool *isnull)
{
	if (attnum < 1 || attnum > rc->natts)
	{
		*isnull = true;
		return (Datum) 0;
	}
	*isnull = rc->nulls[attnum - 1];
	return rc->values[attnum - 1];
}

static char *
get_text(EscColumn *col, const RowCols *rc)
{
	bool		isnull;
	Datum		d;

	if (col->name == NULL)
		return NULL;
	d = row_col(rc, col->attnum, &isnull);
	return isnull ? NULL : esc_datum_text(col, d);
}

/*
 * Did an UPDATE change any mapped column?  Binary comparison: a value
 * rewritten to itself is no change.
 */
bool
esc_row_changed(EscSource *src, HeapTuple oldtup, HeapTuple newtup, TupleDesc desc)
{
	for (int r = 0; r < ESC_NUM_ROLES + src->nfields; r++)
	{
		EscColumn  *col = r < ESC_NUM_ROLES ? &src->cols[r] : &src->fields[r - ESC_NUM_ROLES].col;
		Form_pg_attribute att;
		bool		n1,
					n2;
		Datum		d1,
					d2;

		if (col->name == NULL)
			continue;
		/* only the time a change is judged at; alone it changes nothing */
		if (r == ESC_ROLE_UPDATED_AT)
			continue;
		att = TupleDescAttr(desc, col->attnum - 1);
		d1 = heap_getattr(oldtup, col->attnum, desc, &n1);
		d2 = heap_getattr(newtup, col->attnum, desc, &n2);
		if (n1 != n2)
			return true;
		if (!n1 && !datumIsEqual(d1, d2, att->attbyval, att->attlen))
			return true;
	}
	return false;
}

/*
 * Read a ticket row.  `at` is the time the row is judged at (renewal
 * windows); need_account says whether to look the account up now.
 */
void
esc_read_ticket(EscSource *src, HeapTuple tuple, TupleDesc desc, EscRow *row,
				TimestampTz at, bool need_account)
{
	EscFacts   *f = &row->facts;
	StringInfoData buf;
	bool		isnull;
	Datum		d;
	Datum		values_space[ROW_COLS_ON_STACK];
	bool		nulls_space[ROW_COLS_ON_STACK];
	RowCols		rc;

	rc.natts = desc->natts;
	if (rc.natts <= ROW_COLS_ON_STACK)
	{
		rc.values = values_space;
		rc.nulls = nulls_space;
	}
	else
	{
		rc.values = palloc(sizeof(Datum) * rc.natts);
		rc.nulls = palloc(sizeof(bool) * rc.natts);
	}
	heap_deform_tuple(tuple, desc, rc.values, rc.nulls);

	memset(row, 0, sizeof(EscRow));
	row->src = src;
	row->present = true;
	for (int r = 0; r < ESC_NUM_ROLES; r++)
	{
		if (r == ESC_ROLE_SUBJECT || r == ESC_ROLE_BODY)
			continue;			/* read once, below, into the text */
		if (r == ESC_ROLE_CREATED_AT || r == ESC_ROLE_UPDATED_AT || r == ESC_ROLE_RESOLVED_AT)
			continue;
		row->vals[r] = get_text(&src->cols[r], &rc);
		if (row->vals[r] && src->nsentinels[r] > 0 && r != ESC_ROLE_KEY &&
			is_sentinel(src, r, row->vals[r]))
			row->vals[r] = NULL;
	}
	row->key = row->vals[ESC_ROLE_KEY];
	row->requester = row->vals[ESC_ROLE_REQUESTER];

	if (src->cols[ESC_ROLE_CREATED_AT].name)
	{
		EscColumn  *ccol = &src->cols[ESC_ROLE_CREATED_AT];

		d = row_col(&rc, ccol->attnum, &isnull);
		if (!isnull && src->nsentinels[ESC_ROLE_CREATED_AT] > 0 &&
			is_sentinel(src, ESC_ROLE_CREATED_AT, esc_datum_text(ccol, d)))
			isnull = true;
		if (!isnull)
			row->created_at = esc_datum_time(src, ccol, d);
	}

	/* subject and body: one text, tokenised once */
	initStringInfo(&buf);
	row->text_break = -1;
	for (int r = ESC_ROLE_SUBJECT; r <= ESC_ROLE_BODY; r++)
	{
		EscColumn  *col = &src->cols[r];

		if (col->name == NULL)
			continue;
		d = row_col(&rc, col->attnum, &isnull);
		if (isnull)
			continue;
		if (buf.len > 0)
		{
			appendStringInfoString(&buf, "\n");
			row->text_break = buf.len;
		}
		{
			text	   *t = DatumGetTextPP(d);

			appendBinaryStringInfo(&buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
			if (r == ESC_ROLE_SUBJECT)
				row->vals[r] = text_to_cstring(t);
		}
	}
	row->text = buf.data;
	row->textlen = buf.len;

	/* facts */
	row->status_meaning = esc_value_map_get(&src->status_map, row->vals[ESC_ROLE_STATUS]);
	if (src->status_map.map == NULL && src->status_map.lookup == NULL)
		row->status_meaning = NULL;
	f->status = status_from_meaning(row->status_meaning);
	f->priority = src->priority_map.map || src->priority_map.lookup
		? esc_value_map_get(&src->priority_map, row->vals[ESC_ROLE_PRIORITY])
		: row->vals[ESC_ROLE_PRIORITY];
	f->channel = src->channel_map.map || src->channel_map.lookup
		? esc_value_map_get(&src->channel_map, row->vals[ESC_ROLE_CHANNEL])
		: row->vals[ESC_ROLE_CHANNEL];
	f->tenant = row->vals[ESC_ROLE_TENANT];
	f->field_values = palloc0(sizeof(char *) * Max(src->nfields, 1));
	f->field_values[0] = f->priority;
	f->field_values[1] = f->channel;
	f->field_values[2] = row->status_meaning ? row->status_meaning : row->vals[ESC_ROLE_STATUS];
	for (int i = 3; i < src->nfields; i++)
		f->field_values[i] = get_text(&src->fields[i].col, &rc);
	if (need_account && row->vals[ESC_ROLE_ACCOUNT] != NULL)
		f->account = esc_lookup_account(row->vals[ESC_ROLE_ACCOUNT]);
	f->at = at;
	f->prefilter[0] = src->prefilter[0];
	f->prefilter[1] = src->prefilter[1];
	f->prefilter_state[0] = f->prefilter_state[1] = -1;
	f->shapes = src->shapes;
	f->shapes_done = false;
	f->text = row->text;
	f->textlen = row->textlen;
	f->match = &row->match;
	f->sentiment_terms = src->sentiment_terms;
	/* sentiment and triage read the keyword memo's entries (tp->side) */
	f->lexicon = (src->any_sentiment_rule || src->any_triage_rule) ? src->lexicon : NULL;
	f->pass_cases = src->any_sentiment_rule;
	f->triage_escalation = src->any_escalation_probability_rule;
}

/* find the source's keywords in the row's text */
void
esc_match_row(EscSource *src, EscRow *row)
{
	/* a phrase never runs from the subject into the body */
	int			brk = (row->facts.text == row->text && row->text != NULL) ? row->text_break : -1;

	/* the row's one tokenising pass, made here when a keyword needs it */
	esc_lexicon_match_pass(src->lexicon,
						   src->lexicon->nkeywords > 0 && row->facts.text != NULL
						   ? esc_facts_pass(&row->facts) : NULL,
						   brk, src->any_sentiment_rule || src->any_triage_rule, &row->match);
	row->facts.match = &row->match;
}

/*
 * Fetch a ticket row by key (as text) with the table's own row type, so
 * that attribute numbers are those of the mapping.  Needs SPI connected;
 * the tuple and descriptor are allocated in `into`.  Returns NULL if there is none.
 */
static HeapTuple fetch_ticket(EscSource *src, const char *key, bool lock,
							  TupleDesc *desc, MemoryContext into);

HeapTuple
esc_fetch_ticket(EscSource *src, const char *key, TupleDesc *desc, MemoryContext into)
{
	return fetch_ticket(src, key, false, desc, into);
}

/*
 * esc_lock_ticket() and esc_fetch_ticket() in one statement, for the
 * message trigger, which needs both: the ticket row locked (FOR NO KEY
 * UPDATE) and read as locked, that is its latest version.
 */
HeapTuple
esc_lock_fetch_ticket(EscSource *src, const char *key, TupleDesc *desc, MemoryContext into)
{
	return fetch_ticket(src, key, true, desc, into);
}

static HeapTuple
fetch_ticket(EscSource *src, const char *key, bool lock, TupleDesc *desc, MemoryContext into)
{
	SPIPlanPtr *plan = lock ? &src->lock_fetch_plan : &src->fetch_plan;
	Datum		arg;
	bool		isnull;
	HeapTupleHeader td;
	HeapTupleData tmp;
	HeapTuple	result;
	MemoryContext old;

	if (lock && esc_ticket_lock(src, key, &result, desc, into))
		return result;
	if (*plan == NULL)
	{
		StringInfoData sql;
		Oid			argtypes[1] = {TEXTOID};

		initStringInfo(&sql);
		appendStringInfo(&sql, "SELECT t FROM %s t WHERE t.%s OPERATOR(pg_catalog.=) $1::%s%s",
						 src->relname_q,
						 quote_identifier(src->cols[ESC_ROLE_KEY].name),
						 format_type_be_qualified(src->cols[ESC_ROLE_KEY].typid),
						 lock ? " FOR NO KEY UPDATE OF t" : "");
		*plan = esc_prepare_config_plan(sql.data, 1, argtypes);
	}
	arg = CStringGetTextDatum(key);
	if (SPI_execute_plan(*plan, &arg, NULL, !lock, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not fetch ticket");
	if (SPI_processed == 0)
		return NULL;
	td = DatumGetHeapTupleHeader(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		return NULL;
	tmp.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tmp.t_self);
	tmp.t_tableOid = src->relid;
	tmp.t_data = td;

	old = MemoryContextSwitchTo(into);
	result = heap_copytuple(&tmp);
	*desc = lookup_rowtype_tupdesc_copy(HeapTupleHeaderGetTypeId(td),
										HeapTupleHeaderGetTypMod(td));
	MemoryContextSwitchTo(old);
	return result;
}

/*
 * Lock a ticket row (FOR NO KEY UPDATE) by key, as the helpdesk's own UPDATE
 * of it would.  The message trigger calls it before it writes anything of
 * the ticket's (first response, clocks, escalations, facts), so that a
 * message and an update of the same ticket do the ticket's bookkeeping one
 * after the other, in the order the ticket trigger takes its locks: the
 * ticket row first.  Without it, a transaction that adds a message and then
 * updates its ticket (a customer's reply reopening it) and another that
 * updates the ticket meanwhile wait for each other: one holds the ticket
 * row, the other the ticket's clocks.  Needs SPI connected.  A ticket that
 * does not exist (yet) locks nothing.
 */
void
esc_lock_ticket(EscSource *src, const char *key)
{
	Datum		arg;

	if (esc_ticket_lock(src, key, NULL, NULL, NULL))
		return;
	if (src->lock_plan == NULL)
	{
		StringInfoData sql;
		Oid			argtypes[1] = {TEXTOID};

		initStringInfo(&sql);
		appendStringInfo(&sql,
						 "SELECT 1 FROM %s t WHERE t.%s OPERATOR(pg_catalog.=) $1::%s "
						 "FOR NO KEY UPDATE OF t",
						 src->relname_q,
						 quote_identifier(src->cols[ESC_ROLE_KEY].name),
						 format_type_be_qualified(src->cols[ESC_ROLE_KEY].typid));
		src->lock_plan = esc_prepare_config_plan(sql.data, 1, argtypes);
	}
	arg = CStringGetTextDatum(key);
	if (SPI_execute_plan(src->lock_plan, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not lock ticket");
}

/*
 * Fetch the message_via row (the message's metadata: Znuny's article) that
 * a message row's ref column points at, with that table's own row type.
 * Needs SPI connected; the tuple and descriptor are allocated in `into`.
 * Returns NULL if there is none.  The row was written by an earlier
 * statement of the helpdesk's transaction (the metadata row first, then
 * its text), so the trigger's snapshot sees it.
 */
HeapTuple
esc_fetch_via(EscSource *src, Datum ref, TupleDesc *desc, MemoryContext into)
{
	EscColumn  *refcol = &src->msgcols[ESC_MSG_REF];
	Datum		arg;
	bool		isnull;
	HeapTupleHeader td;
	HeapTupleData tmp;
	HeapTuple	result;
	MemoryContext old;

	if (src->via_plan == NULL)
	{
		StringInfoData sql;
		Oid			argtypes[1] = {TEXTOID};

		initStringInfo(&sql);
		appendStringInfo(&sql, "SELECT v FROM %s v WHERE v.%s OPERATOR(pg_catalog.=) $1::%s",
						 src->via_relname_q,
						 quote_identifier(src->msgcols[ESC_MSG_VIA_KEY].name),
						 format_type_be_qualified(src->msgcols[ESC_MSG_VIA_KEY].typid));
		src->via_plan = esc_prepare_config_plan(sql.data, 1, argtypes);
	}
	arg = CStringGetTextDatum(esc_datum_text(refcol, ref));
	if (SPI_execute_plan(src->via_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not fetch the message's metadata row");
	if (SPI_processed == 0)
		return NULL;
	td = DatumGetHeapTupleHeader(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		return NULL;
	tmp.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tmp.t_self);
	tmp.t_tableOid = src->via_relid;
	tmp.t_data = td;

	old = MemoryContextSwitchTo(into);
	result = heap_copytuple(&tmp);
	*desc = lookup_rowtype_tupdesc_copy(HeapTupleHeaderGetTypeId(td),
										HeapTupleHeaderGetTypMod(td));
	MemoryContextSwitchTo(old);
	return result;
}

/* what a status meaning is called in SQL (sla_track_ticket, ticket facts) */
const char *
esc_status_word(EscStatus status)
{
	switch (status)
	{
		case ESC_STATUS_OPEN:
			return "open";
		case ESC_STATUS_PENDING:
			return "pending";
		case ESC_STATUS_SOLVED:
			return "solved";
		case ESC_STATUS_OTHER:
			return "other";
		case ESC_STATUS_UNKNOWN:
			break;
	}
	return "unknown";
}
