/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The per-database escalation worker: every escalation.naptime it runs
 *	  one cycle of escalation.record_pending() and escalation.run_batch()
 *	  calls, one transaction each.
 *
 * Started by the launcher (launcher.c) with its slot number as main
 * argument and its database's OID in bgw_extra.  It claims the slot before
 * it connects, so that ddl.c can find and stop it even while it connects,
 * and releases it in a before_shmem_exit callback, saying whether it
 * stopped or found no extension (the launcher does not start it again in a
 * loop then).
 *
 * A cycle:
 *	- as_of is the cycle's start (one instant for the whole cycle, so that
 *	  what becomes due while the cycle runs waits for the next one and a
 *	  cycle always ends);
 *	- it calls SELECT escalation.record_pending(escalation.batch_size),
 *	  then SELECT escalation.run_batch(as_of, escalation.batch_size), each
 *	  call in its own transaction, as escalation.worker_role, until a call
 *	  returns less than batch_size; after escalation.naptime it stops
 *	  calling (but makes at least one run_batch() call) and the next cycle
 *	  starts at once with a fresh as_of, as it does after a SIGHUP;
 *	- an ERROR aborts the transaction and ends those calls: it is logged
 *	  and stored in the slot (escalation.workers.last_error, the cycle's
 *	  first error); one in record_pending() leaves the run_batch() calls
 *	  to go on, one in run_batch() ends the cycle and the worker sleeps as
 *	  usual.  Batches committed before it stay committed.
 *
 * Role: PostgreSQL before 17 lets a background worker connect only as a
 * role that may log in, and the worker role should not be able to.  So the
 * worker connects as the bootstrap superuser (like autovacuum) and runs
 * each transaction as escalation.worker_role with SECURITY_LOCAL_USERID_CHANGE,
 * which forbids SET ROLE and SET SESSION AUTHORIZATION inside it; the role
 * is looked up in every transaction and refused if it is a superuser.
 *
 * Between cycles, a helpdesk transaction that committed escalations it
 * left pending (escalation.defer_escalations) wakes the worker
 * (wake.c): it records them at once, in a pass of
 * escalation.record_pending() batches that is not a cycle, and sleeps on
 * until the cycle is due.
 *
 * Signals: SIGHUP reloads the configuration (and wakes the worker), SIGTERM
 * exits at the next interrupt check (die), SIGINT cancels the running
 * batch like a query cancel.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "escalation.h"

#define BATCH_SQL "SELECT escalation.run_batch($1, $2)"
/* $1 unused: one call shape for both */
#define PENDING_SQL "SELECT escalation.record_pending($2)"

static int	my_slot = -1;
static bool exit_absent = false;	/* the extension is not installed */
/* the last step of this cycle's batches that failed on its own, or "" */
static char step_error[ESC_ERROR_LEN];
static SPIPlanPtr batch_plan = NULL;
static SPIPlanPtr pending_plan = NULL;
static char *my_dbname;

/* claim slot i for dboid; false when it is not ours to take */
static bool
claim_slot(int i, Oid dboid)
{
	EscWorkerSlot *slot;
	bool		ok;

	if (i < 0 || i >= esc_shared->nslots)
		return false;
	LWLockAcquire(esc_shared->lock, LW_EXCLUSIVE);
	slot = &esc_shared->slots[i];
	ok = (slot->state != ESC_SLOT_FREE && slot->dboid == dboid && slot->pid == 0 &&
		  slot->retry_after <= GetCurrentTimestamp());
	if (ok)
	{
		slot->state = ESC_SLOT_RUNNING;
		slot->pid = MyProcPid;
		slot->latch = MyLatch;
		slot->started = GetCurrentTimestamp();
	}
	else if (slot->state == ESC_SLOT_STARTING && slot->dboid == dboid && slot->pid == 0)
		slot->state = ESC_SLOT_STOPPED; /* held off by ddl.c meanwhile */
	LWLockRelease(esc_shared->lock);
	return ok;
}

static void
release_slot(int code, Datum arg)
{
	EscWorkerSlot *slot = &esc_shared->slots[my_slot];
	TimestampTz hold;

	hold = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), esc_launcher_naptime);
	LWLockAcquire(esc_shared->lock, LW_EXCLUSIVE);
	if (slot->pid == MyProcPid)
	{
		slot->pid = 0;
		slot->latch = NULL;
		slot->state = exit_absent ? ESC_SLOT_ABSENT : ESC_SLOT_STOPPED;
		if (slot->retry_after < hold)
			slot->retry_after = hold;
	}
	LWLockRelease(esc_shared->lock);
}

/* escalation.worker_role, checked; inside a transaction */
static Oid
worker_role(void)
{
	Oid			roleid = get_role_oid(esc_worker_role, true);

	if (!OidIsValid(roleid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" named in \"escalation.worker_role\" does not exist",
						esc_worker_role),
				 errhint("Create the role, or set \"escalation.worker_role\" to a role that is not a superuser.")));
	if (superuser_arg(roleid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("role \"%s\" named in \"escalation.worker_role\" is a superuser",
						esc_worker_role),
				 errdetail("The escalation worker does not run as a superuser."),
				 errhint("Set \"escalation.worker_role\" to a role without superuser privileges, such as \"escalation_worker\".")));
	return roleid;
}

/*
 * One call of escalation.run_batch() (pending: of escalation.record_pending())
 * in one transaction (the worker_spi sequence).  Returns what it returned,
 * or -1 when the extension is gone (or, pending, not updated to have it).
 */
static int
run_batch(TimestampTz as_of, int batch_size, bool pending)
{
	const char *sql = pending ? PENDING_SQL : BATCH_SQL;
	SPIPlanPtr *planp = pending ? &pending_plan : &batch_plan;
	Oid			roleid;
	Oid			save_userid;
	int			save_sec;
	Datum		values[2];
	Datum		d;
	bool		isnull;
	int			n;
	int			ret;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, sql);

	if (!OidIsValid(get_extension_oid("escalation", true)) ||
		(pending && !OidIsValid(esc_own_relid("pending_escalations"))))
	{
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		return -1;
	}

	roleid = worker_role();
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(roleid, save_sec | SECURITY_LOCAL_USERID_CHANGE);

	if (*planp == NULL)
	{
		Oid			argtypes[2] = {TIMESTAMPTZOID, INT4OID};
		SPIPlanPtr	plan = SPI_prepare(sql, 2, argtypes);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*planp = plan;
	}

	values[0] = TimestampTzGetDatum(as_of);
	values[1] = Int32GetDatum(batch_size);
	ret = SPI_execute_plan(*planp, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "\"%s\" returned %s, " UINT64_FORMAT " rows",
			 sql, SPI_result_code_string(ret), SPI_processed);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s returned NULL", pending ? "escalation.record_pending()" : "escalation.run_batch()"),
				 errdetail("It must return how many items it handled.")));
	n = DatumGetInt32(d);
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s returned %d", pending ? "escalation.record_pending()" : "escalation.run_batch()", n),
				 errdetail("It must return how many items it handled.")));

	SetUserIdAndSecContext(save_userid, save_sec);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	return n;
}

static void
slot_add_items(int n)
{
	EscWorkerSlot *slot = &esc_shared->slots[my_slot];

	LWLockAcquire(esc_shared->lock, LW_EXCLUSIVE);
	slot->items_total += n;
	LWLockRelease(esc_shared->lock);
}

/* count an error of the worker's at time at in its slot; caller holds the lock exclusively */
static void
slot_set_error(EscWorkerSlot *slot, TimestampTz at, const char *message)
{
	slot->errors++;
	slot->error_at = at;
	strlcpy(slot->last_error, message, ESC_ERROR_LEN);
}

/*
 * Batches of one kind (pending: escalation.record_pending(), else
 * escalation.run_batch()) until one is not full, the cycle's time is up
 * or a reload is pending (*more), or the extension is gone (*gone).  An
 * error ends them: it is reported, and its copy left in *edata unless an
 * earlier one is there.
 */
static void
run_phase(MemoryContext cxt, TimestampTz as_of, TimestampTz deadline, int batch_size,
		  bool pending, int64 *items, int *batches, bool *gone, bool *more,
		  ErrorData **edata)
{
	PG_TRY();
	{
		for (;;)
		{
			int			n = run_batch(as_of, batch_size, pending);

			if (n < 0)
			{
				/* pending: only that the extension has no such step yet */
				if (!pending)
					*gone = true;
				break;
			}
			*items += n;
			(*batches)++;
			slot_add_items(n);
			if (n < batch_size)
				break;
			CHECK_FOR_INTERRUPTS();
			if (ConfigReloadPending || GetCurrentTimestamp() >= deadline)
			{
				*more = true;
				break;
			}
		}
	}
	PG_CATCH();
	{
		MemoryContext ecxt;

		HOLD_INTERRUPTS();
		ecxt = MemoryContextSwitchTo(cxt);
		if (*edata == NULL)
			*edata = CopyErrorData();
		MemoryContextSwitchTo(ecxt);
		EmitErrorReport();
		AbortOutOfAnyTransaction();
		FlushErrorState();
		pgstat_report_activity(STATE_IDLE, NULL);
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
}

/*
 * One cycle.  Returns false when the extension is gone (the worker exits);
 * *more is set when the cycle stopped with work left (time is up, or a
 * reload is pending), so that the next one starts without sleeping.
 */
static bool
run_cycle(MemoryContext cxt, bool *more)
{
	EscWorkerSlot *slot = &esc_shared->slots[my_slot];
	TimestampTz as_of = GetCurrentTimestamp();
	TimestampTz deadline = TimestampTzPlusMilliseconds(as_of, esc_naptime);
	int			batch_size = esc_batch_size;
	int64		items = 0;
	int			batches = 0;
	bool		gone = false;
	ErrorData  *edata = NULL;

	*more = false;
	step_error[0] = '\0';
	LWLockAcquire(esc_shared->lock, LW_EXCLUSIVE);
	slot->cycle_start = as_of;
	LWLockRelease(esc_shared->lock);
	/* a cycle serves every wake-up (and records what is pending first) */
	(void) esc_wake_take(my_slot);

	/*
	 * First the escalations the triggers left to the worker, each batch in
	 * a transaction of its own (pending.c), committed before a batch could
	 * hold one while waiting for a row a helpdesk writer holds; an error
	 * there is reported and the cycle goes on.  Then the batches: at least
	 * one, however long the first phase took.
	 */
	run_phase(cxt, as_of, deadline, batch_size, true, &items, &batches, &gone, more, &edata);
	if (!gone)
		run_phase(cxt, as_of, deadline, batch_size, false, &items, &batches, &gone, more, &edata);

	LWLockAcquire(esc_shared->lock, LW_EXCLUSIVE);
	slot->cycle_end = GetCurrentTimestamp();
	slot->items_last_cycle = items;
	slot->cycles++;
	if (edata != NULL)
		slot_set_error(slot, slot->cycle_end,
					   edata->message ? edata->message : "(no message)");
	else if (step_error[0] != '\0')
	{
		/* a step failed while the others went on (escalation_step_failed()) */
		slot_set_error(slot, slot->cycle_end, step_error);
	}
	LWLockRelease(esc_shared->lock);

	ereport(DEBUG1,
			(errmsg_internal("escalation worker cycle in database \"%s\": %d batches, " INT64_FORMAT " items%s",
							 my_dbname, batches, items, edata ? ", failed" : "")));
	return !gone;
}

/*
 * Woken by a commit that left escalations pending (wake.c): record
 * them, and nothing else, in batches of escalation.record_pending() as the
 * cycle's first phase does, until a batch is not full or the cycle is due
 * (so that a stream of deferred escalations never holds the SLA clocks
 * back: the cycle starts on time and records the rest first).  Not a
 * cycle: the slot's cycle statistics stay as they are, but its items and
 * an error are counted.
 */
static void
run_pending_pass(MemoryContext cxt, TimestampTz due)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		items = 0;
	int			batches = 0;
	bool		gone = false;
	bool		more = false;
	ErrorData  *edata = NULL;

	MemoryContextSwitchTo(cxt);
	run_phase(cxt, now, due, esc_batch_size, true, &items, &batches, &gone, &more, &edata);
	if (edata != NULL)
	{
		EscWorkerSlot *slot = &esc_shared->slots[my_slot];

		LWLockAcquire(esc_shared->lock, LW_EXCLUSIVE);
		slot_set_error(slot, GetCurrentTimestamp(),
					   edata->message ? edata->message : "(no message)");
		LWLockRelease(esc_shared->lock);
	}
	ereport(DEBUG1,
			(errmsg_internal("escalation worker in database \"%s\" woken for pending escalations: %d batches, " INT64_FORMAT " items%s",
							 my_dbname, batches, items, edata ? ", failed" : "")));
	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextReset(cxt);
}

/*
 * Sleep until the next cycle is due, escalation.naptime from now.  A wake-up
 * for pending escalations only records them and sleeps on; the latch set for
 * anything else (escalation.wakeup(), a reload, a signal) ends the sleep, and
 * the next cycle starts at once, as it always did.
 */
static void
sleep_until_next_cycle(MemoryContext cxt)
{
	TimestampTz due = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), esc_naptime);

	for (;;)
	{
		long		ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), due);
		int			rc;

		if (ms <= 0)
			return;
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   ms, esc_wait_event());
		ResetLatch(MyLatch);
		if ((rc & WL_LATCH_SET) == 0 || ConfigReloadPending ||
			ProcDiePending || QueryCancelPending ||
			esc_wake_take(my_slot) != ESC_WAKE_PENDING)
			return;
		run_pending_pass(cxt, due);
	}
}

void
esc_worker_main(Datum arg)
{
	Oid			dboid;
	bool		quiet;
	bool		installed;
	MemoryContext loop_cxt;

	memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	memcpy(&quiet, MyBgworkerEntry->bgw_extra + sizeof(Oid), sizeof(bool));

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (!claim_slot(DatumGetInt32(arg), dboid))
		proc_exit(0);
	my_slot = DatumGetInt32(arg);
	before_shmem_exit(release_slot, 0);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("escalation worker");
	/* nothing the worker runs should depend on a search_path */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	my_dbname = MemoryContextStrdup(TopMemoryContext, get_database_name(dboid));
	installed = OidIsValid(get_extension_oid("escalation", true));
	CommitTransactionCommand();

	if (!installed)
	{
		exit_absent = true;
		ereport(quiet ? DEBUG1 : LOG,
				(errmsg("escalation worker for database \"%s\" exits: extension \"escalation\" is not installed",
						my_dbname),
				 errdetail("The launcher tries again after CREATE EXTENSION escalation, or in five minutes.")));
		proc_exit(0);
	}
	ereport(LOG, (errmsg("escalation worker started for database \"%s\"", my_dbname)));

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "escalation worker loop",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		bool		more;

		/* a cancel (SIGINT) that arrived while idle has no batch to cancel */
		QueryCancelPending = false;
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		MemoryContextSwitchTo(loop_cxt);
		if (!run_cycle(loop_cxt, &more))
		{
			exit_absent = true;
			ereport(LOG,
					(errmsg("escalation worker for database \"%s\" exits: extension \"escalation\" was dropped",
							my_dbname)));
			proc_exit(0);
		}
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(loop_cxt);
		if (more)
			continue;

		sleep_until_next_cycle(loop_cxt);
	}
}

PG_FUNCTION_INFO_V1(escalation_step_failed);

/*
 * escalation.step_failed(step text, sqlstate text, message text): what
 * run_batch() does when one of its steps (routing, the metrics fold, ...)
 * failed with an error of its own, which it caught so that the other
 * steps, the SLA clocks first, go on.  A WARNING with the error's
 * SQLSTATE; in the background worker, the cycle also counts an error and
 * shows it in escalation.workers.last_error ("<step>: <message>"), as a
 * failed batch does.
 */
Datum
escalation_step_failed(PG_FUNCTION_ARGS)
{
	char	   *step = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *state = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *message = text_to_cstring(PG_GETARG_TEXT_PP(2));
	int			code = ERRCODE_INTERNAL_ERROR;

	if (strlen(state) == 5)
		code = MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);
	if (my_slot >= 0)
		snprintf(step_error, sizeof(step_error), "%s: %s", step, message);
	ereport(WARNING,
			(errcode(code),
			 errmsg("the %s step of an escalation batch failed: %s", step, message),
			 errhint("The batch's other steps went on; this one is tried again in the next batch.")));
	PG_RETURN_VOID();
}
