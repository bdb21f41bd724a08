/*-------------------------------------------------------------------------
 *
 * sla_backfill.c
 *	  escalation.backfill_sla(): the ticket trigger's SLA bookkeeping for
 *	  tickets it has not (or not fully) seen.
 *
 * The ticket trigger tells escalation.sla_track_ticket() about every row
 * it is fired for (sla.c), so the clocks of a ticket start when the ticket
 * is written.  Two kinds of ticket have none, or stale ones:
 *
 *	- tickets that were open before the table was attached (or before its
 *	  source had an SLA policy): the trigger has never seen them;
 *	- tickets whose bookkeeping failed in the writer's transaction: sla.c
 *	  turns such an error into a WARNING so that the helpdesk's write
 *	  stands, and the clocks stay as they were until the ticket changes
 *	  again.
 *
 * backfill_sla() reads the ticket table through the source's mapping and
 * hands each such ticket to the trigger's own code (esc_read_ticket(),
 * esc_sla_ticket()), so that the clocks are exactly what the trigger would
 * have made: an untracked ticket that is open or pending as if it had just
 * been inserted (its clocks start at its created_at, so a ticket long
 * overdue breaches in the next cycle), a tracked ticket whose tracked
 * status is open or pending as if it had just been updated at as_of (a
 * status change that was missed is taken, an unchanged ticket is left
 * as it is).  Untracked tickets that are solved need no clocks and are
 * skipped.  One ticket's failure is a WARNING, as in the trigger.
 *
 * The caller must own the ticket table; the table is read, and the
 * bookkeeping written, as the extension's owner, as the trigger does.
 * The cost is one pass over the ticket table and one call of
 * sla_track_ticket() per open ticket: a repair, not a routine.  The rows
 * of the tickets handed over stay locked FOR SHARE until the caller
 * commits (writers of those tickets wait); tickets being written, or
 * changed since they were read, are skipped: their writers' triggers tell
 * the clocks.  (test/isolation/specs/backfill_sla.spec)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "escalation.h"

/* rows fetched from the table at a time */
#define BACKFILL_BATCH 1000

PG_FUNCTION_INFO_V1(escalation_backfill_sla);

/*
 * escalation.backfill_sla(ticket_table regclass, as_of timestamptz)
 * returns bigint: the tickets handed to the bookkeeping whose bookkeeping
 * succeeded.
 */
Datum
escalation_backfill_sla(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	TimestampTz as_of = PG_GETARG_TIMESTAMPTZ(1);
	EscSource  *src;
	const char *relname;
	const char *keycol;
	StringInfoData sql;
	StringInfoData lock_sql;
	SPIPlanPtr	lock_plan;
	Oid			lock_types[2] = {OIDOID, TIDOID};
	Portal		portal;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	MemoryContext rowcxt;
	int64		done = 0;
	Oid			save_userid;
	int			save_sec;

	if (!OidIsValid(get_rel_type_id(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (!esc_class_ownercheck(relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s", get_rel_name(relid))));

	esc_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	src = esc_attached_source(relid);
	if (!src->has_sla)
	{
		ereport(NOTICE,
				(errmsg("source of table %s has no SLA policy", get_rel_name(relid)),
				 errhint("Add one to escalation.sla_policies; its tickets are tracked from then on.")));
		SPI_finish();
		esc_restore_user(save_userid, save_sec);
		PG_RETURN_INT64(0);
	}

	/*
	 * Every row as the table's own row type (so that the source's
	 * attribute numbers hold), with whether the ticket is tracked and where
	 * the row is; the identifiers come from the catalog and the validated
	 * mapping, quoted.  A ticket to hand over is locked first, by where it
	 * was read (lock_sql: FOR SHARE, which a writer's UPDATE waits for and
	 * which waits for one), so that no writer changes it until we commit;
	 * when that finds nothing, the row was changed since it was read (its
	 * writer's trigger told the clocks, and our reading is old: handing it
	 * over would undo that), or a writer holds it right now (SKIP LOCKED:
	 * its trigger will): it is skipped.  Only the tickets handed over are
	 * locked, not the solved ones a table is mostly made of.
	 */
	relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
										 get_rel_name(relid));
	keycol = src->cols[ESC_ROLE_KEY].name;
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT t, x.ticket_key IS NOT NULL, t.tableoid, t.ctid "
					 "  FROM %s t "
					 "  LEFT JOIN escalation.sla_tickets x "
					 "    ON x.source_id OPERATOR(pg_catalog.=) $1 "
					 "   AND x.ticket_key OPERATOR(pg_catalog.=) t.%s::pg_catalog.text "
					 " WHERE x.ticket_key IS NULL "
					 "    OR x.status OPERATOR(pg_catalog.=) ANY ('{open,pending,unknown}'::pg_catalog.text[])",
					 relname, quote_identifier(keycol));
	initStringInfo(&lock_sql);
	appendStringInfo(&lock_sql,
					 "SELECT 1 FROM %s t "
					 " WHERE t.tableoid OPERATOR(pg_catalog.=) $1 AND t.ctid OPERATOR(pg_catalog.=) $2 "
					 "   FOR SHARE OF t SKIP LOCKED",
					 relname);
	lock_plan = SPI_prepare(lock_sql.data, 2, lock_types);
	if (lock_plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	args[0] = Int32GetDatum(src->source_id);
	portal = SPI_cursor_open_with_args(NULL, sql.data, 1, argtypes, args, NULL, true, 0);

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "escalation backfill_sla row",
								   ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		SPITupleTable *tt;
		uint64		n;

		SPI_cursor_fetch(portal, true, BACKFILL_BATCH);
		tt = SPI_tuptable;
		n = SPI_processed;
		if (n == 0)
			break;
		for (uint64 i = 0; i < n; i++)
		{
			MemoryContext old = MemoryContextSwitchTo(rowcxt);
			bool		isnull;
			Datum		d = SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull);
			bool		tracked = DatumGetBool(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
			HeapTupleHeader th = DatumGetHeapTupleHeader(d);
			HeapTupleData tuple;
			TupleDesc	desc;
			EscRow		row;
			TimestampTz at;

			CHECK_FOR_INTERRUPTS();
			tuple.t_len = HeapTupleHeaderGetDatumLength(th);
			ItemPointerSetInvalid(&tuple.t_self);
			tuple.t_tableOid = relid;
			tuple.t_data = th;
			desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(th),
										  HeapTupleHeaderGetTypMod(th));
			esc_read_ticket(src, &tuple, desc, &row, as_of, false);
			ReleaseTupleDesc(desc);

			/* an untracked ticket as if inserted, a tracked one as if updated now */
			at = tracked || row.created_at == 0 ? as_of : row.created_at;
			if (row.key != NULL &&
				(tracked || (row.facts.status != ESC_STATUS_SOLVED &&
							 row.facts.status != ESC_STATUS_OTHER)))
			{
				Datum		where[2];

				where[0] = SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull);
				where[1] = SPI_getbinval(tt->vals[i], tt->tupdesc, 4, &isnull);
				if (SPI_execute_plan(lock_plan, where, NULL, false, 1) != SPI_OK_SELECT)
					elog(ERROR, "could not lock a ticket of table %s", relname);
				if (SPI_processed == 1 && esc_sla_ticket(src, &row, at))
					done++;
				SPI_freetuptable(SPI_tuptable);
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
		}
		SPI_freetuptable(tt);
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(rowcxt);
	SPI_finish();
	esc_restore_user(save_userid, save_sec);
	PG_RETURN_INT64(done);
}
