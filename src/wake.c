/*-------------------------------------------------------------------------
 *
 * wake.c
 *	  Wake a database's worker when the current transaction commits, for a
 *	  cycle (escalation.wakeup()) or for the escalations it left pending.
 *
 * Both act at commit, after the transaction is visible to other snapshots,
 * so that what the worker does sees what the transaction wrote; nothing is
 * done for a transaction that rolls back or is prepared (its COMMIT
 * PREPARED may run in any session, later).  The committing backend ORs
 * what it wants into its database's worker slot (EscWorkerSlot.wake, an
 * atomic) and sets the worker's latch; the worker, between cycles, takes
 * the bits (esc_wake_take()) and does what they ask (worker.c):
 *
 *	- ESC_WAKE_CYCLE (escalation.wakeup(), which CREATE EXTENSION calls):
 *	  a cycle now.  With no worker for the database, the launcher is woken
 *	  instead (the wakeup epoch, so that it looks at every database again
 *	  at once), which is how CREATE EXTENSION gets its worker without
 *	  waiting for the launcher's recheck.
 *	- ESC_WAKE_PENDING (the first row a transaction appends to
 *	  escalation.pending_escalations, escalation.defer_escalations):
 *	  record what is pending, and only that, then sleep on until the cycle
 *	  is due.  Left to the cycle, a deferred escalation would wait up to
 *	  escalation.naptime (10 s by default) after its ticket committed.
 *	  With no worker, nothing: the cycle, or whoever calls
 *	  record_pending(), records them as before.
 *
 * A latch set with no bit (a reload, a signal) still means a cycle, as it
 * always did.  The writer pays a lock and a SetLatch() at commit, in
 * transactions that asked only; SetLatch() signals the worker only while
 * it sleeps, so the commits that come while it records cost no signal and
 * their rows go in the same or the next pass.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#include "escalation.h"

/* what the current transaction asks for at commit (ESC_WAKE_* bits) */
static uint32 wake_at_commit = 0;
static bool callback_registered = false;

static void
wake_worker(Oid dboid, uint32 what)
{
	int			i;
	bool		cycle = (what & ESC_WAKE_CYCLE) != 0;

	/* exclusive only to bump the wakeup epoch */
	LWLockAcquire(esc_shared->lock, cycle ? LW_EXCLUSIVE : LW_SHARED);
	i = esc_slot_find(dboid);

	/*
	 * The worker clears its latch under the exclusive lock before it exits
	 * (release_slot()), so the latch is its own while we hold the lock.
	 */
	if (i >= 0 && esc_shared->slots[i].latch != NULL)
	{
		pg_atomic_fetch_or_u32(&esc_shared->slots[i].wake, what);
		SetLatch(esc_shared->slots[i].latch);
	}
	else if (cycle)
	{
		esc_shared->wakeup_epoch++;
		if (esc_shared->launcher_latch != NULL)
			SetLatch(esc_shared->launcher_latch);
	}
	LWLockRelease(esc_shared->lock);
}

static void
wake_xact_callback(XactEvent event, void *arg)
{
	uint32		what = wake_at_commit;

	if (what == 0)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			wake_at_commit = 0;
			wake_worker(MyDatabaseId, what);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wake_at_commit = 0;
			break;
		default:
			break;
	}
}

/*
 * Wake this database's worker when the current transaction commits, for
 * what (ESC_WAKE_* bits).  False when the library was not preloaded: there
 * is no worker.
 */
bool
esc_wake_at_commit(uint32 what)
{
	if (esc_shared == NULL)
		return false;
	if (!callback_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		callback_registered = true;
	}
	wake_at_commit |= what;
	return true;
}

/* the worker of slot i: what it was woken for (ESC_WAKE_* bits); clears them */
uint32
esc_wake_take(int i)
{
	return pg_atomic_exchange_u32(&esc_shared->slots[i].wake, 0);
}
