/*-------------------------------------------------------------------------
 *
 * facts.c
 *	  Telling the metrics what happened to a ticket: one row per ticket in
 *	  escalation.ticket_facts, and every change of the mapped team or
 *	  assignee column as an observed transfer (escalation.ticket_transfers).
 *
 * The ticket trigger already read the row through the mapping; here its
 * facts (status meaning, priority and channel after their maps, team,
 * assignee, account, tenant, created and resolved times, and a transfer
 * when the team or assignee changed) are appended to escalation.fact_changes: one
 * heap insert into a table without indexes, no SPI, no executor.  The
 * bookkeeping (reopen counting, resolution time, transfers, the rollups'
 * deltas) is SQL next to the tables it writes, run by
 * escalation.fold_facts() in the worker's cycle, off the helpdesk's
 * write path.  Measured on the insert benchmark, doing the bookkeeping in
 * the writer's transaction cost about 180 us per ticket insert, more than
 * twice a bare insert.
 *
 * Cost is kept to what the facts need:
 *	- the old row's team and assignee are compared as stored datums (binary
 *	  equality, as esc_row_changed does), and only a real change of either
 *	  is a transfer;
 *	- sentiment is scored only when the ticket is inserted or its subject
 *	  or body changed, and only for a ticket with an account (only
 *	  escalation.at_risk_accounts reads it); otherwise NULL is logged and
 *	  the stored score stays.
 *
 * A source can turn the facts off (escalation.metric_sources.track_facts).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "tcop/pquery.h"
#include "utils/portal.h"
#include "utils/rel.h"

#include "escalation.h"

/* escalation.fact_changes, column by column */
enum
{
	FC_CHANGE_ID,
	FC_SOURCE_ID,
	FC_TICKET_KEY,
	FC_AT,
	FC_CREATED_AT,
	FC_STATUS,
	FC_PRIORITY,
	FC_CHANNEL,
	FC_TEAM,
	FC_ASSIGNEE,
	FC_ACCOUNT_KEY,
	FC_RESOLVED_AT,
	FC_TRANSFERRED,
	FC_OLD_TEAM,
	FC_OLD_ASSIGNEE,
	FC_SENTIMENT,
	FC_TENANT,
	FC_RESCORE,					/* since 1.1 */
	FC_NATTS
};

/* the log as version 1.0 made it: no rescore column, the writer scores */
#define FC_NATTS_1_0	FC_RESCORE

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
 * The log and its sequence; errors if the extension's objects are not there.
 * A 1.0 log (the library was updated, ALTER EXTENSION UPDATE not yet run)
 * is written the 1.0 way, so that no helpdesk write fails in between.
 */
static Relation
open_fact_changes(Oid *seqid)
{
	Oid			relid = esc_own_relid("fact_changes");
	Relation	rel;

	*seqid = esc_own_relid("fact_changes_change_id_seq");
	if (!OidIsValid(relid) || !OidIsValid(*seqid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("escalation.fact_changes does not exist"),
				 errhint("Update the escalation extension: ALTER EXTENSION escalation UPDATE.")));
	rel = table_open(relid, RowExclusiveLock);
	if (RelationGetDescr(rel)->natts != FC_NATTS &&
		RelationGetDescr(rel)->natts != FC_NATTS_1_0)
		elog(ERROR, "escalation.fact_changes has %d columns, expected %d",
			 RelationGetDescr(rel)->natts, FC_NATTS);
	return rel;
}

/*
 * A ticket row was inserted (oldtup NULL) or a mapped column of it changed:
 * log its facts.  Called as the extension's owner.
 */
void
esc_facts_ticket(EscSource *src, EscRow *row, HeapTuple newtup, HeapTuple oldtup,
				 TupleDesc desc, TimestampTz at)
{
	Datum		values[FC_NATTS];
	bool		nulls[FC_NATTS];
	EscColumn  *team = &src->cols[ESC_ROLE_TEAM];
	EscColumn  *assignee = &src->cols[ESC_ROLE_ASSIGNEE];
	EscColumn  *resolved = &src->cols[ESC_ROLE_RESOLVED_AT];
	bool		transferred = false;
	bool		score = (oldtup == NULL);
	const char *v;
	Relation	rel;
	Oid			seqid;
	HeapTuple	tup;

	memset(nulls, false, sizeof(nulls));

	if (oldtup != NULL)
	{
		transferred = column_changed(team, oldtup, newtup, desc) ||
			column_changed(assignee, oldtup, newtup, desc);
		score = column_changed(&src->cols[ESC_ROLE_SUBJECT], oldtup, newtup, desc) ||
			column_changed(&src->cols[ESC_ROLE_BODY], oldtup, newtup, desc);
	}

	values[FC_SOURCE_ID] = Int32GetDatum(src->source_id);
	values[FC_TICKET_KEY] = CStringGetTextDatum(row->key);
	values[FC_AT] = TimestampTzGetDatum(at);
	values[FC_CREATED_AT] = TimestampTzGetDatum(row->created_at);
	nulls[FC_CREATED_AT] = (row->created_at == 0);
	values[FC_STATUS] = CStringGetTextDatum(esc_status_word(row->facts.status));

#define TEXT_COL(i, s) \
	do { v = (s); if (v) values[i] = CStringGetTextDatum(v); else nulls[i] = true; } while (0)
	TEXT_COL(FC_PRIORITY, row->facts.priority);
	TEXT_COL(FC_CHANNEL, row->facts.channel);
	TEXT_COL(FC_TEAM, row->vals[ESC_ROLE_TEAM]);
	TEXT_COL(FC_ASSIGNEE, row->vals[ESC_ROLE_ASSIGNEE]);
	TEXT_COL(FC_ACCOUNT_KEY, row->vals[ESC_ROLE_ACCOUNT]);
	/* the row-level security policies keep tenants apart by it */
	TEXT_COL(FC_TENANT, row->vals[ESC_ROLE_TENANT]);
	nulls[FC_RESOLVED_AT] = true;
	if (resolved->name)
	{
		bool		isnull;
		Datum		d = heap_getattr(newtup, resolved->attnum, desc, &isnull);

		if (!isnull)
		{
			TimestampTz t = esc_datum_time(src, resolved, d);

			if (t != 0)
			{
				values[FC_RESOLVED_AT] = TimestampTzGetDatum(t);
				nulls[FC_RESOLVED_AT] = false;
			}
		}
	}
	values[FC_TRANSFERRED] = BoolGetDatum(transferred);
	if (transferred)
	{
		TEXT_COL(FC_OLD_TEAM, column_text(team, oldtup, desc));
		TEXT_COL(FC_OLD_ASSIGNEE, column_text(assignee, oldtup, desc));
	}
	else
		nulls[FC_OLD_TEAM] = nulls[FC_OLD_ASSIGNEE] = true;
#undef TEXT_COL
	/*
	 * Only accounts' sentiment is read (escalation.at_risk_accounts), and it
	 * is scored by the fold (escalation.ticket_sentiment()), not here: about
	 * a fifth of the trigger's time on a 1 KB ticket, for a figure no
	 * decision of this transaction reads.  A 1.0 log has no rescore column:
	 * then the score is logged as 1.0 did.
	 */
	rel = open_fact_changes(&seqid);
	score = score && row->textlen > 0 && row->vals[ESC_ROLE_ACCOUNT] != NULL;
	nulls[FC_SENTIMENT] = true;
	if (RelationGetDescr(rel)->natts == FC_NATTS)
		values[FC_RESCORE] = BoolGetDatum(score);
	else if (score)
	{
		EscSentiment s;

		esc_sentiment(row->text, row->textlen, src->sentiment_terms, &s, NULL, NULL);
		values[FC_SENTIMENT] = Float8GetDatum(s.polarity);
		nulls[FC_SENTIMENT] = false;
	}

	values[FC_CHANGE_ID] = Int64GetDatum(nextval_internal(seqid, false));
	tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	simple_heap_insert(rel, tup);
	heap_freetuple(tup);
	table_close(rel, NoLock);
}

/*
 * escalation.facts_escalated(): AFTER INSERT or UPDATE OF target_team row
 * trigger on escalation.escalations.  Marks the escalation's ticket in
 * escalation.escalation_changes; fold_facts() recomputes its first
 * escalation and re-escalation paths from the record.  A restore's COPY
 * brings the rollups with it and marks nothing.
 */
PG_FUNCTION_INFO_V1(escalation_facts_escalated);

Datum
escalation_facts_escalated(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tup;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int			att_source,
				att_key;
	Oid			relid;
	Relation	rel;
	HeapTuple	mark;

	esc_check_after_row_trigger(fcinfo, "facts_escalated");

	/* COPY (pg_restore): the restored rollups already count these rows */
	if (ActivePortal != NULL && ActivePortal->commandTag == CMDTAG_COPY)
		return PointerGetDatum(NULL);

	desc = RelationGetDescr(td->tg_relation);
	tup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	{
		static int	cached_source,
					cached_key;

		att_source = esc_attnum(desc, "source_id", &cached_source);
		att_key = esc_attnum(desc, "ticket_key", &cached_key);
	}
	if (att_source <= 0 || att_key <= 0)
		elog(ERROR, "escalation.escalations has no source_id or ticket_key column");
	values[0] = heap_getattr(tup, att_source, desc, &nulls[0]);
	values[1] = heap_getattr(tup, att_key, desc, &nulls[1]);
	if (nulls[0] || nulls[1])
		return PointerGetDatum(NULL);

	relid = esc_own_relid("escalation_changes");
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("escalation.escalation_changes does not exist"),
				 errhint("Update the escalation extension: ALTER EXTENSION escalation UPDATE.")));
	rel = table_open(relid, RowExclusiveLock);
	mark = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	simple_heap_insert(rel, mark);
	heap_freetuple(mark);
	table_close(rel, NoLock);
	return PointerGetDatum(NULL);
}

/*
 * escalation.ticket_sentiment(source_id integer, ticket_key text) -> float8
 *
 * The polarity of a ticket's subject and body (escalation.sentiment() with
 * the source's terms), as the ticket trigger reads them, for the ticket
 * facts: fold_facts() calls it for the logged writes that changed the text
 * of a ticket with an account.  NULL when the source is not attached, the
 * ticket does not exist any more, or it has no text or no account.  Reads
 * the ticket as the extension's owner: not for PUBLIC.
 */
PG_FUNCTION_INFO_V1(escalation_ticket_sentiment);

Datum
escalation_ticket_sentiment(PG_FUNCTION_ARGS)
{
	int32		source_id = PG_GETARG_INT32(0);
	char	   *key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	EscSource  *src = esc_get_source(source_id);
	HeapTuple	ticket;
	TupleDesc	tdesc;
	EscRow		row;
	EscSentiment s;
	bool		scored = false;
	MemoryContext caller_cxt = CurrentMemoryContext;

	if (src == NULL)
		PG_RETURN_NULL();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ticket = esc_fetch_ticket(src, key, &tdesc, caller_cxt);
	if (ticket != NULL)
	{
		esc_read_ticket(src, ticket, tdesc, &row, GetCurrentTransactionStartTimestamp(), false);
		if (row.key != NULL && row.textlen > 0 && row.vals[ESC_ROLE_ACCOUNT] != NULL)
		{
			esc_sentiment(row.text, row.textlen, src->sentiment_terms, &s, NULL, NULL);
			scored = true;
		}
	}
	SPI_finish();
	if (!scored)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(s.polarity);
}
