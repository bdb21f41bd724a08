/*-------------------------------------------------------------------------
 *
 * status.c
 *	  SQL-callable functions of the background worker:
 *	  escalation.worker_status() (behind the escalation.workers view) and
 *	  escalation.wakeup().
 *
 * worker_status() copies the slots under the shared lock and builds its
 * rows after releasing it.  wakeup() acts at commit of the calling
 * transaction, so that the cycle it starts sees what that transaction
 * wrote (wake.c): it wakes this database's worker for a cycle, or, when
 * there is none, the launcher, which looks at every database again at once
 * (this is how CREATE EXTENSION gets its worker without waiting for the
 * launcher's recheck).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "escalation.h"

PG_FUNCTION_INFO_V1(escalation_worker_status);
PG_FUNCTION_INFO_V1(escalation_wakeup);

#define STATUS_COLS 14

static const char *
state_name(EscSlotState state)
{
	switch (state)
	{
		case ESC_SLOT_STARTING:
			return "starting";
		case ESC_SLOT_RUNNING:
			return "running";
		case ESC_SLOT_STOPPED:
			return "stopped";
		case ESC_SLOT_ABSENT:
			return "no extension";
		case ESC_SLOT_FREE:
			break;
	}
	return "free";
}

static Datum
time_or_null(TimestampTz t, bool *isnull)
{
	*isnull = (t == 0);
	return TimestampTzGetDatum(t);
}

Datum
escalation_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	desc;
	Tuplestorestate *ts;
	MemoryContext old;
	EscWorkerSlot *snap;
	int			nslots;
	int			i;

	esc_check_shared_state();
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = CreateTupleDescCopy(desc);
	ts = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = ts;
	rsinfo->setDesc = desc;
	MemoryContextSwitchTo(old);

	nslots = esc_shared->nslots;
	snap = palloc(sizeof(EscWorkerSlot) * nslots);
	LWLockAcquire(esc_shared->lock, LW_SHARED);
	memcpy(snap, esc_shared->slots, sizeof(EscWorkerSlot) * nslots);
	LWLockRelease(esc_shared->lock);

	for (i = 0; i < nslots; i++)
	{
		EscWorkerSlot *s = &snap[i];
		Datum		values[STATUS_COLS];
		bool		nulls[STATUS_COLS];
		char	   *name;

		if (s->state == ESC_SLOT_FREE)
			continue;
		memset(nulls, 0, sizeof(nulls));
		values[0] = ObjectIdGetDatum(s->dboid);
		name = get_database_name(s->dboid);
		if (name)
			values[1] = CStringGetTextDatum(name);
		else
			nulls[1] = true;
		values[2] = Int32GetDatum((int32) s->pid);
		nulls[2] = (s->pid == 0);
		values[3] = CStringGetTextDatum(state_name(s->state));
		values[4] = time_or_null(s->started, &nulls[4]);
		values[5] = time_or_null(s->cycle_start, &nulls[5]);
		values[6] = time_or_null(s->cycle_end, &nulls[6]);
		values[7] = Int64GetDatum(s->items_last_cycle);
		values[8] = Int64GetDatum(s->items_total);
		values[9] = Int64GetDatum(s->cycles);
		values[10] = Int64GetDatum(s->errors);
		if (s->last_error[0] != '\0')
			values[11] = CStringGetTextDatum(s->last_error);
		else
			nulls[11] = true;
		values[12] = time_or_null(s->error_at, &nulls[12]);
		/* when a stopped worker may start again */
		values[13] = time_or_null(s->state == ESC_SLOT_RUNNING ? 0 : s->retry_after,
								  &nulls[13]);
		tuplestore_putvalues(ts, desc, values, nulls);
	}
	return (Datum) 0;
}

Datum
escalation_wakeup(PG_FUNCTION_ARGS)
{
	/* false when not preloaded: there is no worker to wake */
	PG_RETURN_BOOL(esc_wake_at_commit(ESC_WAKE_CYCLE));
}
