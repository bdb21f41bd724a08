/*-------------------------------------------------------------------------
 *
 * pending.c
 *	  Escalations recorded by the worker: the ticket trigger's outbox
 *	  (escalation.defer_escalations, escalation.pending_escalations).
 *
 * Recording a new ticket's escalation in the writer's transaction costs
 * two rows through the executor: the escalation (nine indexes, a BEFORE
 * and three AFTER row triggers, a foreign key) and its "created" event.
 * On the insert benchmark that is about 90 us per escalating ticket, as
 * much as the bare insert of the ticket, and the largest part of the
 * trigger's time.  With escalation.defer_escalations on, the trigger
 * appends the record statement's parameters to
 * escalation.pending_escalations instead: one heap insert into a table
 * with no index and no trigger, as facts.c logs a ticket's facts.  The
 * row commits or rolls back with the ticket, so an escalation is decided
 * and kept in the writer's transaction and never lost.  The worker's
 * next cycle records it, escalation.record_pending() in transactions of
 * its own before the cycle's batches (worker.c), so that no batch holds
 * a new escalation while it waits for a row a helpdesk writer holds
 * (run_cycle() calls it first), through the statement that records an
 * escalation on a ticket update, whose ON CONFLICT arbiter merges it into an open
 * escalation of the same level and target should one have been recorded
 * meanwhile.  Its times are the ticket's, so the metrics (time to
 * escalation) and the routing queue's order do not see the delay.
 *
 * The trigger defers only a new ticket's escalations: an update or a
 * follow-up message reads the ticket's open escalations to tell what is
 * new, and would not see those still pending.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/rel.h"

#include "escalation.h"

PG_FUNCTION_INFO_V1(escalation_record_pending);

/*
 * The table as esc_pending_write() forms its rows (its columns the record
 * statement's parameters, esc_record_types), with no CHECK to apply?
 */
static bool
pending_shape(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);

	if (desc->natts != ESC_RECORD_NARGS || (desc->constr && desc->constr->num_check > 0))
		return false;
	for (int i = 0; i < ESC_RECORD_NARGS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->atttypid != esc_record_types[i])
			return false;
	}
	return true;
}

/* an index on rel? (relhasindex stays set after a DROP INDEX until VACUUM) */
static bool
has_index(Relation rel)
{
	List	   *indexes;
	bool		any;

	if (!rel->rd_rel->relhasindex)
		return false;
	indexes = RelationGetIndexList(rel);
	any = (indexes != NIL);
	list_free(indexes);
	return any;
}

/*
 * Append one escalation (the record statement's parameters, as
 * esc_record() made them) to escalation.pending_escalations.  False, with
 * nothing written, when the table is not there (an extension not updated
 * yet) or a simple heap insert would not do it right (a DBA gave it an
 * index, a trigger, a rule or a CHECK, changed its columns, or forced row-level
 * security on its owner, which record_pending() runs as): the caller then
 * records the escalation itself.
 */
bool
esc_pending_write(const Datum *args, const char *nulls)
{
	Oid			relid = esc_own_relid("pending_escalations");
	Relation	rel;
	Datum		values[ESC_RECORD_NARGS];
	bool		isnull[ESC_RECORD_NARGS];
	HeapTuple	tup;

	if (!OidIsValid(relid))
		return false;
	rel = table_open(relid, RowExclusiveLock);
	if (rel->trigdesc != NULL || rel->rd_rel->relkind != RELKIND_RELATION ||
		rel->rd_rel->relforcerowsecurity || rel->rd_rules != NULL ||
		!pending_shape(rel) || has_index(rel))
	{
		table_close(rel, NoLock);
		return false;
	}
	for (int i = 0; i < ESC_RECORD_NARGS; i++)
	{
		values[i] = args[i];
		isnull[i] = (nulls[i] == 'n');
	}
	tup = heap_form_tuple(RelationGetDescr(rel), values, isnull);
	simple_heap_insert(rel, tup);
	heap_freetuple(tup);
	table_close(rel, NoLock);
	return true;
}

/*
 * escalation.record_pending(batch_size integer): records up to batch_size
 * pending escalations, oldest first (by the ticket's time), and deletes
 * them; rows another transaction holds are left to the next call.
 * Returns how many.  SECURITY DEFINER: runs as the extension's owner.
 */
Datum
escalation_record_pending(PG_FUNCTION_ARGS)
{
	int32		batch_size;
	Datum		arg;
	SPITupleTable *tt;
	uint64		n;

	if (PG_ARGISNULL(0) || PG_GETARG_INT32(0) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record_pending needs a batch size of at least 1")));
	batch_size = PG_GETARG_INT32(0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	arg = Int32GetDatum(batch_size);
	if (SPI_execute_with_args("WITH todo AS (SELECT p.ctid AS tid FROM escalation.pending_escalations p "
							  "              ORDER BY p.at LIMIT $1 FOR UPDATE SKIP LOCKED), "
							  "done AS (DELETE FROM escalation.pending_escalations p USING todo "
							  "         WHERE p.ctid OPERATOR(pg_catalog.=) todo.tid "
							  "         RETURNING p.*) "
							  "SELECT d.source_id::pg_catalog.int4, d.ticket_key::pg_catalog.text, "
							  "  d.level::pg_catalog.int4, d.kind::pg_catalog.text, "
							  "  d.target_team::pg_catalog.text, d.target_skills::pg_catalog.text[], "
							  "  d.target_tier::pg_catalog.int4, d.severity::pg_catalog.int4, "
							  "  d.reasons::pg_catalog.jsonb, d.context::pg_catalog.jsonb, "
							  "  d.at::pg_catalog.timestamptz, d.origin::pg_catalog.text, "
							  "  d.event_reasons::pg_catalog.jsonb, d.tenant::pg_catalog.text "
							  "FROM done d ORDER BY d.at",
							  1, (Oid[]) {INT4OID}, &arg, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read escalation.pending_escalations");
	/* the record statements' results do not free this one */
	tt = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		Datum		args[ESC_RECORD_NARGS];
		char		nulls[ESC_RECORD_NARGS];

		for (int c = 0; c < ESC_RECORD_NARGS; c++)
		{
			bool		isnull;

			args[c] = heap_getattr(tt->vals[i], c + 1, tt->tupdesc, &isnull);
			nulls[c] = isnull ? 'n' : ' ';
		}
		esc_record_args(args, nulls);
	}
	SPI_finish();
	PG_RETURN_INT32((int32) n);
}
