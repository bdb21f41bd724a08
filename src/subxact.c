/*-------------------------------------------------------------------------
 *
 * subxact.c
 *	  Run a piece of work in a subtransaction, and hand its error back.
 *
 * Three places keep one failure from spreading: the catalog cache builds
 * a source that may no longer fit its table (catalog.c: the source is
 * disabled, the helpdesk's write goes on), the SLA bookkeeping of a
 * ticket write (sla.c: a WARNING), and the worker's recording of pending
 * escalations (pending.c: a failing batch is narrowed down to its bad
 * rows).  Each does something different with the error, and the same
 * thing to get it: begin an internal subtransaction, run the work, release
 * it, or on an error copy the error data, roll it back and restore the
 * memory context and resource owner, as PL/pgSQL's exception blocks do.
 *
 * Which errors are the work's own is decided here too, for the worker's
 * queues (pending.c in C, run_batch() in SQL through
 * escalation.transient_error()): a row that fails with one of its own is
 * set aside, one that fails otherwise is tried again later.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "escalation.h"

/*
 * fn(arg) in a subtransaction.  NULL when it succeeded (its work stays, in
 * the caller's transaction); else its error, copied into the caller's
 * memory context, with the subtransaction rolled back.  The caller decides
 * what the error means: rethrow it (ReThrowError()), report it, or both.
 */
ErrorData *
esc_in_subtransaction(void (*fn) (void *), void *arg)
{
	MemoryContext before = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(before);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(before);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(before);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(before);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	return edata;
}

/*
 * Errors that are not the failing row's own: a connection exception, an
 * invalid transaction state (a read-only standby), a deadlock or
 * serialization failure, a lack of memory or disk, a cancel or shutdown,
 * a system or internal error, a lock not available.  A queue stops on
 * them and tries the rows again later; any other error is the row's, and
 * the row is set aside.
 */
bool
esc_error_is_transient(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_CONNECTION_EXCEPTION:
		case ERRCODE_INVALID_TRANSACTION_STATE:
		case ERRCODE_TRANSACTION_ROLLBACK:
		case ERRCODE_INSUFFICIENT_RESOURCES:
		case ERRCODE_OPERATOR_INTERVENTION:
		case ERRCODE_SYSTEM_ERROR:
		case ERRCODE_INTERNAL_ERROR:
			return true;
		default:
			return sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
	}
}

PG_FUNCTION_INFO_V1(escalation_transient_error);

/*
 * escalation.transient_error(sqlstate text): esc_error_is_transient() of
 * a SQLSTATE as PL/pgSQL's RETURNED_SQLSTATE gives it (not five
 * characters: false).
 */
Datum
escalation_transient_error(PG_FUNCTION_ARGS)
{
	char	   *st = text_to_cstring(PG_GETARG_TEXT_PP(0));

	if (strlen(st) != 5)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(esc_error_is_transient(MAKE_SQLSTATE(st[0], st[1], st[2], st[3], st[4])));
}
