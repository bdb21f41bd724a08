/*-------------------------------------------------------------------------
 *
 * route_due.c
 *	  escalation.sla_due(): keeps escalations.sla_due_at, the earliest due
 *	  time of the ticket's running SLA clocks, so that routing reads its
 *	  queue in urgency order (severity, time to SLA breach, age) straight
 *	  from the partial index escalations_queue instead of sorting the whole
 *	  queue for every batch.
 *
 * One trigger function, fired from two tables:
 *
 *	 BEFORE INSERT on escalation.escalations: the new row gets the value
 *	 from the clocks as its statement sees them.  The ticket trigger writes
 *	 the clocks (sla.c) before it writes escalations (record.c), so a new
 *	 escalation starts with its ticket's clocks of that same statement.
 *
 *	 AFTER INSERT, UPDATE OF due_at, state, or DELETE on escalation.clocks,
 *	 each with a WHEN clause so that only a change of what a running clock
 *	 contributes calls it (pausing, finishing or starting a clock, a new
 *	 due time): the ticket's queued and offered escalations get the new
 *	 minimum, and only those whose value changes are written.  Accepted and
 *	 closed escalations never go back to the queue (transition_allowed), so
 *	 their value is left as it was: no write for every clock change of the
 *	 tickets agents are working on.
 *
 * Clock writes of one ticket are serialised by its sla_tickets row (the
 * triggers' bookkeeping) or the clock's row (the cycle), so the minimum a
 * writer computes includes its own change.  A hand escalate() racing with
 * a clock change of the same ticket in another transaction can start with
 * the minimum before that change; it is right again at the ticket's next
 * clock change.  The order it feeds is urgency only: capacity and "offered
 * once" never depend on it (route() re-checks both under lock).
 *
 * COPY (pg_restore) leaves the rows as they come: escalations and clocks
 * are restored with the values they had, which were consistent.
 *
 * The BEFORE INSERT minimum is read through the clocks' (source_id,
 * ticket_key, ...) index directly, with the active snapshot (no statement:
 * it runs for every escalation a helpdesk's insert writes).  The AFTER
 * update first looks for a queued or offered escalation of the ticket
 * through the escalations' (source_id, ticket_key) index, and runs its
 * statement only when there is one: most tickets never escalate, and every
 * new tracked ticket starts clocks.  Without such indexes, and for the
 * update itself, statements run as the extension's owner with generic
 * plans kept for the backend (no plpgsql, no search_path switch per row).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "tcop/pquery.h"
#include "utils/builtins.h"
#include "utils/portal.h"
#include "utils/rel.h"

#include "escalation.h"

PG_FUNCTION_INFO_V1(escalation_sla_due);

static SPIPlanPtr min_plan = NULL;
static SPIPlanPtr update_plan = NULL;

/* the earliest due time of a ticket's running clocks */
#define MIN_DUE_SQL \
	"SELECT pg_catalog.min(c.due_at) FROM escalation.clocks c " \
	" WHERE c.source_id OPERATOR(pg_catalog.=) $1 " \
	"   AND c.ticket_key OPERATOR(pg_catalog.=) $2 " \
	"   AND c.state OPERATOR(pg_catalog.=) 'running'"

static const char *const update_sql =
"UPDATE escalation.escalations e SET sla_due_at = d.due "
"  FROM (SELECT pg_catalog.min(c.due_at) AS due FROM escalation.clocks c "
"         WHERE c.source_id OPERATOR(pg_catalog.=) $1 "
"           AND c.ticket_key OPERATOR(pg_catalog.=) $2 "
"           AND c.state OPERATOR(pg_catalog.=) 'running') d "
" WHERE e.source_id OPERATOR(pg_catalog.=) $1 "
"   AND e.ticket_key OPERATOR(pg_catalog.=) $2 "
"   AND e.status OPERATOR(pg_catalog.=) ANY ('{queued,offered}'::pg_catalog.text[]) "
"   AND e.sla_due_at IS DISTINCT FROM d.due";

/*
 * The earliest due time of a ticket's running clocks, read through an index
 * of escalation.clocks that leads with (source_id, ticket_key) (the unique
 * constraint's), with the active snapshot, as the MIN_DUE_SQL query would
 * read it but without a statement: this runs for every escalation a
 * helpdesk's insert writes.  Returns false when there is no such index (the
 * caller runs the query).
 */
static EscProbe clocks_probe = {"clocks", 2, {"state", "due_at"}};

static bool
min_running_due(Datum source_id, Datum ticket_key, TimestampTz *due, bool *due_null)
{
	Relation	rel = esc_probe_open(&clocks_probe);
	SysScanDesc scan;
	HeapTuple	tup;
	TupleDesc	desc;
	int			att_state = clocks_probe.att[0],
				att_due = clocks_probe.att[1];

	if (rel == NULL)
		return false;
	desc = RelationGetDescr(rel);
	scan = esc_probe_begin(&clocks_probe, rel, source_id, ticket_key, GetActiveSnapshot());
	*due_null = true;
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		state = heap_getattr(tup, att_state, desc, &isnull);
		Datum		d;

		if (isnull || strcmp(TextDatumGetCString(state), "running") != 0)
			continue;
		d = heap_getattr(tup, att_due, desc, &isnull);
		if (isnull)
			continue;
		if (*due_null || DatumGetTimestampTz(d) < *due)
			*due = DatumGetTimestampTz(d);
		*due_null = false;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return true;
}

/*
 * Has the ticket a queued or offered escalation, as the AFTER trigger's
 * update would see them?  Read through an index of escalation.escalations
 * that leads with (source_id, ticket_key) (escalations_ticket), with the
 * snapshot the update's statement would take (SPI's: the commands before
 * counted, a new snapshot in READ COMMITTED).  Most tickets never escalate,
 * and their clocks change on every status change: for them the update
 * statement, its executor and its scans, was the trigger's whole cost
 * (two new clocks, about 70 us of a tracked ticket's insert).  Sets
 * *known to false when there is no such index (the caller runs the
 * update).
 */
static EscProbe escalations_probe = {"escalations", 1, {"status"}};

static bool
has_waiting_escalation(Datum source_id, Datum ticket_key, bool *known)
{
	Relation	rel = esc_probe_open(&escalations_probe);
	SysScanDesc scan;
	HeapTuple	tup;
	TupleDesc	desc;
	int			att_status = escalations_probe.att[0];
	bool		found = false;

	*known = (rel != NULL);
	if (rel == NULL)
		return false;
	desc = RelationGetDescr(rel);
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	scan = esc_probe_begin(&escalations_probe, rel, source_id, ticket_key, GetActiveSnapshot());
	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		status = heap_getattr(tup, att_status, desc, &isnull);

		if (!isnull)
		{
			char	   *s = TextDatumGetCString(status);

			found = strcmp(s, "queued") == 0 || strcmp(s, "offered") == 0;
		}
	}
	systable_endscan(scan);
	PopActiveSnapshot();
	table_close(rel, AccessShareLock);
	return found;
}

static int
attnum(TupleDesc desc, const char *name, int *cached)
{
	int			a = esc_attnum(desc, name, cached);

	if (a <= 0)
		elog(ERROR, "table has no column \"%s\"", name);
	return a;
}

/* the new row with its sla_due_at */
static HeapTuple
with_due(HeapTuple tup, TupleDesc desc, TimestampTz due, bool due_null)
{
	static int	cached_due;
	int			col = attnum(desc, "sla_due_at", &cached_due);
	Datum		value = due_null ? (Datum) 0 : TimestampTzGetDatum(due);
	bool		isnull;

	(void) heap_getattr(tup, col, desc, &isnull);
	if (due_null && isnull)
		return tup;
	return heap_modify_tuple_by_cols(tup, desc, 1, &col, &value, &due_null);
}

Datum
escalation_sla_due(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tup;
	bool		before;
	Datum		args[2];
	bool		isnull;
	Oid			types[2] = {INT4OID, TEXTOID};
	Oid			save_userid;
	int			save_sec;
	TimestampTz due = 0;
	bool		due_null = true;
	int			att_source,
				att_key;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by trigger manager", "sla_due")));
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired for each row", "sla_due")));
	before = TRIGGER_FIRED_BEFORE(td->tg_event);
	if (before && !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired BEFORE INSERT or AFTER", "sla_due")));

	tup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;

	/* COPY (pg_restore): the rows bring their own values */
	if (ActivePortal != NULL && ActivePortal->commandTag == CMDTAG_COPY)
		return PointerGetDatum(before ? tup : NULL);

	desc = RelationGetDescr(td->tg_relation);
	{
		static int	cached_source,
					cached_key;

		att_source = attnum(desc, "source_id", &cached_source);
		att_key = attnum(desc, "ticket_key", &cached_key);
	}
	args[0] = heap_getattr(tup, att_source, desc, &isnull);
	if (isnull)
		return PointerGetDatum(before ? tup : NULL);
	args[1] = heap_getattr(tup, att_key, desc, &isnull);
	if (isnull)
		return PointerGetDatum(before ? tup : NULL);

	/* a new escalation: the minimum by an index probe when there is one */
	if (before && min_running_due(args[0], args[1], &due, &due_null))
		return PointerGetDatum(with_due(tup, desc, due, due_null));
	/* a clock's change: nothing to update for a ticket with none waiting */
	if (!before)
	{
		bool		known;

		if (!has_waiting_escalation(args[0], args[1], &known) && known)
			return PointerGetDatum(NULL);
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	esc_become_owner(&save_userid, &save_sec);
	if (before)
	{
		if (min_plan == NULL)
			min_plan = esc_prepare_kept_plan(MIN_DUE_SQL, 2, types);
		if (SPI_execute_plan(min_plan, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the clocks of an escalation's ticket");
		if (SPI_processed == 1)
		{
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										  &due_null);

			if (!due_null)
				due = DatumGetTimestampTz(d);
		}
	}
	else
	{
		if (update_plan == NULL)
			update_plan = esc_prepare_kept_plan(update_sql, 2, types);
		if (SPI_execute_plan(update_plan, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update the SLA due time of a ticket's escalations");
	}
	esc_restore_user(save_userid, save_sec);
	SPI_finish();

	if (before)
		return PointerGetDatum(with_due(tup, desc, due, due_null));
	return PointerGetDatum(NULL);
}
