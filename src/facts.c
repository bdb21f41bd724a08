/*-------------------------------------------------------------------------
 *
 * facts.c
 *	  Telling the metrics what happened to a ticket: one row per ticket in
 *	  escalation.ticket_facts, and every change of the mapped team or
 *	  assignee column as an observed transfer (escalation.ticket_transfers).
 *
 * The ticket trigger already read the row through the mapping; here its
 * facts (status meaning, priority and channel after their maps, team,
 * assignee, account, created and resolved times) go to
 * escalation.track_ticket_facts() through one kept, generic plan.  The
 * bookkeeping (reopen counting, resolution time, transfers, the rollups'
 * deltas) is SQL next to the tables it writes.
 *
 * Cost is kept to what the facts need:
 *	- the old row's team and assignee are compared as stored datums (binary
 *	  equality, as esc_row_changed does), and only a real change of either
 *	  is a transfer;
 *	- sentiment is scored only when the ticket is inserted or its subject
 *	  or body changed; otherwise NULL is passed and the stored score stays.
 *
 * Unlike the SLA bookkeeping this call is not wrapped in a subtransaction:
 * it is one upsert that cannot fail on the helpdesk's data, and a
 * subtransaction per row would overflow the subtransaction cache of every
 * bulk load (PGPROC_MAX_CACHED_SUBXIDS), slowing every other snapshot.
 * A source can turn the facts off (escalation.metric_sources.track_facts).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/datum.h"

#include "escalation.h"

#define FACTS_NARGS 15

static SPIPlanPtr facts_plan = NULL;

/* did the column of this role change between the two tuples? */
static bool
column_changed(EscColumn *col, HeapTuple oldtup, HeapTuple newtup, TupleDesc desc)
{
	Form_pg_attribute att;
	bool		n1,
				n2;
	Datum		d1,
				d2;

	if (col->name == NULL)
		return false;
	att = TupleDescAttr(desc, col->attnum - 1);
	d1 = heap_getattr(oldtup, col->attnum, desc, &n1);
	d2 = heap_getattr(newtup, col->attnum, desc, &n2);
	if (n1 != n2)
		return true;
	return !n1 && !datumIsEqual(d1, d2, att->attbyval, att->attlen);
}

/* the column of this role as text, NULL when unmapped or NULL */
static char *
column_text(EscColumn *col, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		d;

	if (col->name == NULL)
		return NULL;
	d = heap_getattr(tup, col->attnum, desc, &isnull);
	return isnull ? NULL : esc_datum_text(col, d);
}

/*
 * A ticket row was inserted (oldtup NULL) or a mapped column of it changed.
 * Called connected to SPI, as the extension's owner.
 */
void
esc_facts_ticket(EscSource *src, EscRow *row, HeapTuple newtup, HeapTuple oldtup,
				 TupleDesc desc, TimestampTz at)
{
	Datum		args[FACTS_NARGS];
	char		nulls[FACTS_NARGS];
	EscColumn  *team = &src->cols[ESC_ROLE_TEAM];
	EscColumn  *assignee = &src->cols[ESC_ROLE_ASSIGNEE];
	EscColumn  *resolved = &src->cols[ESC_ROLE_RESOLVED_AT];
	bool		transferred = false;
	bool		score = (oldtup == NULL);
	const char *v;

	if (facts_plan == NULL)
	{
		Oid			types[FACTS_NARGS] = {INT4OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
			TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, BOOLOID,
		TEXTOID, TEXTOID, FLOAT8OID};

		facts_plan = esc_prepare_kept_plan(
										   "SELECT escalation.track_ticket_facts($1, $2, $3, $4, $5, $6, $7, $8, "
										   "$9, $10, $11, $12, $13, $14, $15)",
										   FACTS_NARGS, types);
	}
	memset(nulls, ' ', sizeof(nulls));

	if (oldtup != NULL)
	{
		transferred = column_changed(team, oldtup, newtup, desc) ||
			column_changed(assignee, oldtup, newtup, desc);
		score = column_changed(&src->cols[ESC_ROLE_SUBJECT], oldtup, newtup, desc) ||
			column_changed(&src->cols[ESC_ROLE_BODY], oldtup, newtup, desc);
	}

	args[0] = Int32GetDatum(src->source_id);
	args[1] = CStringGetTextDatum(row->key);
	args[2] = TimestampTzGetDatum(at);
	args[3] = TimestampTzGetDatum(row->created_at);
	if (row->created_at == 0)
		nulls[3] = 'n';
	args[4] = CStringGetTextDatum(esc_status_word(row->facts.status));

#define TEXT_ARG(i, s) \
	do { v = (s); if (v) args[i] = CStringGetTextDatum(v); else nulls[i] = 'n'; } while (0)
	TEXT_ARG(5, row->facts.priority);
	TEXT_ARG(6, row->facts.channel);
	TEXT_ARG(7, row->vals[ESC_ROLE_TEAM]);
	TEXT_ARG(8, row->vals[ESC_ROLE_ASSIGNEE]);
	TEXT_ARG(9, row->vals[ESC_ROLE_ACCOUNT]);
	nulls[10] = 'n';
	if (resolved->name)
	{
		bool		isnull;
		Datum		d = heap_getattr(newtup, resolved->attnum, desc, &isnull);

		if (!isnull)
		{
			TimestampTz t = esc_datum_time(src, resolved, d);

			if (t != 0)
			{
				args[10] = TimestampTzGetDatum(t);
				nulls[10] = ' ';
			}
		}
	}
	args[11] = BoolGetDatum(transferred);
	if (transferred)
	{
		TEXT_ARG(12, column_text(team, oldtup, desc));
		TEXT_ARG(13, column_text(assignee, oldtup, desc));
	}
	else
		nulls[12] = nulls[13] = 'n';
#undef TEXT_ARG
	nulls[14] = 'n';
	if (score && row->textlen > 0)
	{
		EscSentiment s;

		esc_sentiment(row->text, row->textlen, src->sentiment_terms, &s, NULL, NULL);
		args[14] = Float8GetDatum(s.polarity);
		nulls[14] = ' ';
	}

	if (SPI_execute_plan(facts_plan, args, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed for escalation.track_ticket_facts()");
}
