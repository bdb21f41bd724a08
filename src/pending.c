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
 * with no trigger, as facts.c logs a ticket's facts, and its entry in the
 * table's one index, pending_escalations_at (the queue's order: a batch
 * reads what it records, not the whole table).  The
 * row commits or rolls back with the ticket, so an escalation is decided
 * and kept in the writer's transaction and never lost.  The commit wakes
 * the database's worker (wake.c), which records it at once, and
 * every cycle does too, escalation.record_pending() in transactions of
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
 * The queue is read oldest first, so a row the record statement rejects
 * every time (a DBA's trigger or constraint on escalation.escalations)
 * would head every batch and fail it.  record_pending() locks its batch in
 * the caller's transaction and records it in a subtransaction; when that
 * fails with an error that is the rows' (not esc_error_is_transient()), it tries
 * each half the same way, down to the rows that fail, which it moves to
 * escalation.pending_failed with their error (retry_pending_failed() puts
 * them back).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/rel.h"

#include "compat.h"
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

/* the column record_pending() reads the queue in the order of */
#define PENDING_AT_ATTNUM 11

/*
 * The table's indexes, as esc_pending_write() can keep them: none (after
 * a DBA dropped it; relhasindex stays set until VACUUM), or only the
 * queue's order, pending_escalations_at: a plain btree on "at" alone,
 * valid and ready, which it inserts into itself.  Anything else (another
 * index, a unique or partial one, one being built) and the trigger
 * records the escalation itself.  Returns false then; *at_index is the
 * order's index, opened and locked for the insert, or NULL when there is
 * none.
 */
static bool
pending_indexes(Relation rel, Relation *at_index)
{
	List	   *indexes;
	bool		ok = true;

	*at_index = NULL;
	if (!rel->rd_rel->relhasindex)
		return true;
	indexes = RelationGetIndexList(rel);
	if (list_length(indexes) == 1)
	{
		Relation	index = index_open(linitial_oid(indexes), RowExclusiveLock);
		Form_pg_index form = index->rd_index;

		if (index->rd_rel->relam == BTREE_AM_OID && form->indnatts == 1 &&
			form->indkey.values[0] == PENDING_AT_ATTNUM && !form->indisunique &&
			form->indisvalid && form->indisready && form->indislive &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indexprs, NULL) &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL))
			*at_index = index;
		else
		{
			ok = false;
			index_close(index, NoLock);
		}
	}
	else if (indexes != NIL)
		ok = false;
	list_free(indexes);
	return ok;
}

/*
 * Append one escalation (the record statement's parameters, as
 * esc_record() made them) to escalation.pending_escalations.  False, with
 * nothing written, when the table is not there (an extension not updated
 * yet) or a simple heap insert would not do it right (a DBA gave it
 * another index, a trigger, a rule or a CHECK, changed its columns, or
 * forced row-level security on its owner, which record_pending() runs
 * as): the caller then records the escalation itself.
 */
bool
esc_pending_write(const Datum *args, const char *nulls)
{
	Oid			relid = esc_own_relid("pending_escalations");
	Relation	rel;
	Relation	at_index;
	Datum		values[ESC_RECORD_NARGS];
	bool		isnull[ESC_RECORD_NARGS];
	HeapTuple	tup;

	if (!OidIsValid(relid))
		return false;
	rel = table_open(relid, RowExclusiveLock);
	if (rel->trigdesc != NULL || rel->rd_rel->relkind != RELKIND_RELATION ||
		rel->rd_rel->relforcerowsecurity || rel->rd_rules != NULL ||
		!pending_shape(rel) || !pending_indexes(rel, &at_index))
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
	if (at_index != NULL)
	{
		esc_index_insert(at_index, &values[PENDING_AT_ATTNUM - 1],
						 &isnull[PENDING_AT_ATTNUM - 1], &tup->t_self, rel,
						 BuildIndexInfo(at_index));
		index_close(at_index, NoLock);
	}
	heap_freetuple(tup);
	table_close(rel, NoLock);
	(void) esc_wake_at_commit(ESC_WAKE_PENDING);
	return true;
}

/*
 * Subtransactions one call of record_pending() begins at most.  A batch is
 * recorded in one; when it fails, in halves, and so on down to the row
 * that fails (with one bad row in a batch of 500, about twenty).  Kept
 * under the 64 subtransaction ids a backend lists in shared memory
 * (PGPROC_MAX_CACHED_SUBXIDS): past them every other session's snapshot
 * would look subtransactions up in pg_subtrans while this one runs.
 * What the limit leaves is recorded by the next call.
 */
#define PENDING_MAX_SUBXACTS 48

/* a batch of pending rows, locked by the caller's transaction */
typedef struct PendingBatch
{
	ItemPointerData *tids;
	char	  **keys;			/* their ticket keys, for messages */
	int			n;
	int			subxacts;		/* subtransactions begun so far */
	int			recorded;
} PendingBatch;

/*
 * Delete the pending rows at tids and record each, oldest first.  Returns
 * how many.
 */
static int
record_tids(ItemPointerData *tids, int n)
{
	static SPIPlanPtr plan = NULL;
	Datum	   *elems = palloc(sizeof(Datum) * n);
	Datum		arg;
	SPITupleTable *tt;
	uint64		done;

	if (plan == NULL)
		plan = esc_prepare_kept_plan("WITH done AS (DELETE FROM escalation.pending_escalations p "
									 "              WHERE p.ctid OPERATOR(pg_catalog.=) ANY ($1) "
									 "              RETURNING p.*) "
									 "SELECT d.source_id::pg_catalog.int4, d.ticket_key::pg_catalog.text, "
									 "  d.level::pg_catalog.int4, d.kind::pg_catalog.text, "
									 "  d.target_team::pg_catalog.text, d.target_skills::pg_catalog.text[], "
									 "  d.target_tier::pg_catalog.int4, d.severity::pg_catalog.int4, "
									 "  d.reasons::pg_catalog.jsonb, d.context::pg_catalog.jsonb, "
									 "  d.at::pg_catalog.timestamptz, d.origin::pg_catalog.text, "
									 "  d.event_reasons::pg_catalog.jsonb, d.tenant::pg_catalog.text "
									 "FROM done d ORDER BY d.at",
									 1, (Oid[]) {TIDARRAYOID});
	for (int i = 0; i < n; i++)
		elems[i] = PointerGetDatum(&tids[i]);
	arg = PointerGetDatum(construct_array(elems, n, TIDOID, sizeof(ItemPointerData),
										  false, TYPALIGN_SHORT));
	if (SPI_execute_plan(plan, &arg, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read escalation.pending_escalations");
	/* the record statements' results do not free this one */
	tt = SPI_tuptable;
	done = SPI_processed;
	for (uint64 i = 0; i < done; i++)
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
	SPI_freetuptable(tt);
	return (int) done;
}

/*
 * The pending row at tid, which the record statement rejected, moved to
 * escalation.pending_failed with the error, and a WARNING.
 */
static void
set_aside(ItemPointerData *tid, const char *key, ErrorData *edata)
{
	static SPIPlanPtr plan = NULL;
	Datum		args[3];

	if (plan == NULL)
		plan = esc_prepare_kept_plan("WITH d AS (DELETE FROM escalation.pending_escalations p "
									 "           WHERE p.ctid OPERATOR(pg_catalog.=) $1 RETURNING p.*) "
									 "INSERT INTO escalation.pending_failed (source_id, ticket_key, level, kind, "
									 "  target_team, target_skills, target_tier, severity, reasons, context, at, "
									 "  origin, event_reasons, tenant, failed_at, sqlstate, error) "
									 "SELECT d.source_id, d.ticket_key, d.level, d.kind, d.target_team, "
									 "  d.target_skills, d.target_tier, d.severity, d.reasons, d.context, d.at, "
									 "  d.origin, d.event_reasons, d.tenant, pg_catalog.statement_timestamp(), $2, $3 "
									 "FROM d",
									 3, (Oid[]) {TIDOID, TEXTOID, TEXTOID});
	args[0] = PointerGetDatum(tid);
	args[1] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
	args[2] = CStringGetTextDatum(edata->message ? edata->message : "(no message)");
	if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write escalation.pending_failed");
	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("escalation of ticket \"%s\" could not be recorded: %s", key,
					edata->message ? edata->message : "(no message)"),
			 errdetail("It was moved from escalation.pending_escalations to escalation.pending_failed."),
			 errhint("Once the cause is fixed, escalation.retry_pending_failed() queues it again.")));
}

/* one range of a batch, for record_range_call() */
typedef struct PendingRange
{
	PendingBatch *b;
	int			lo;
	int			hi;
} PendingRange;

static void
record_range_call(void *arg)
{
	PendingRange *r = (PendingRange *) arg;

	r->b->recorded += record_tids(r->b->tids + r->lo, r->hi - r->lo);
}

/*
 * Record the batch's rows lo to hi - 1 in a subtransaction; when that
 * fails with an error that is the rows', each half of them the same way,
 * down to the row that fails, which is set aside.
 */
static void
record_range(PendingBatch *b, int lo, int hi)
{
	PendingRange r = {b, lo, hi};
	ErrorData  *edata;

	if (lo >= hi || b->subxacts >= PENDING_MAX_SUBXACTS)
		return;
	b->subxacts++;
	edata = esc_in_subtransaction(record_range_call, &r);
	if (edata == NULL)
		return;
	if (esc_error_is_transient(edata->sqlerrcode))
		ReThrowError(edata);
	if (hi - lo == 1)
		set_aside(&b->tids[lo], b->keys[lo], edata);
	else
	{
		int			mid = lo + (hi - lo) / 2;

		record_range(b, lo, mid);
		record_range(b, mid, hi);
	}
	FreeErrorData(edata);
}

/*
 * escalation.record_pending(batch_size integer): records up to batch_size
 * pending escalations, oldest first (by the ticket's time), and deletes
 * them; rows another transaction holds are left to the next call.  A row
 * the record statement rejects (a DBA's trigger or constraint on
 * escalation.escalations, say) is moved to escalation.pending_failed with
 * its error, with a WARNING, and the others are recorded: one bad row
 * does not hold up the queue.  Returns how many were recorded.  SECURITY
 * DEFINER: runs as the extension's owner.
 */
Datum
escalation_record_pending(PG_FUNCTION_ARGS)
{
	int32		batch_size;
	Datum		arg;
	PendingBatch b;

	if (PG_ARGISNULL(0) || PG_GETARG_INT32(0) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record_pending needs a batch size of at least 1")));
	batch_size = PG_GETARG_INT32(0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the batch, locked by the caller's transaction (which keeps the locks) */
	arg = Int32GetDatum(batch_size);
	if (SPI_execute_with_args("SELECT p.ctid, p.ticket_key FROM escalation.pending_escalations p "
							  "ORDER BY p.at LIMIT $1 FOR UPDATE SKIP LOCKED",
							  1, (Oid[]) {INT4OID}, &arg, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read escalation.pending_escalations");
	memset(&b, 0, sizeof(b));
	b.n = (int) SPI_processed;
	b.tids = palloc(sizeof(ItemPointerData) * Max(b.n, 1));
	b.keys = palloc(sizeof(char *) * Max(b.n, 1));
	for (int i = 0; i < b.n; i++)
	{
		bool		isnull;

		b.tids[i] = *(ItemPointer) DatumGetPointer(heap_getattr(SPI_tuptable->vals[i], 1,
													   SPI_tuptable->tupdesc, &isnull));
		b.keys[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}
	SPI_freetuptable(SPI_tuptable);
	record_range(&b, 0, b.n);
	SPI_finish();
	PG_RETURN_INT32((int32) b.recorded);
}
