/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  The background worker's shared state: one slot per database served.
 *
 * EscalationSharedState lives in the main shared memory segment, sized by
 * escalation.max_workers (hence PGC_POSTMASTER), and exists only when the
 * library is preloaded; esc_shared is NULL otherwise.
 *
 * Locking: esc_shared->lock (one LWLock of the tranche "escalation")
 * protects every field of every slot and the launcher fields.  Nobody holds
 * it across anything that can fail or wait.  Who writes what:
 *
 *	- the launcher takes a FREE or STOPPED slot for a database (state
 *	  STARTING, dboid), frees the slots of databases it no longer serves,
 *	  and reads retry_after before starting a worker again;
 *	- the worker claims its slot (pid, latch, started, state RUNNING),
 *	  writes its cycle statistics and last error, and on exit clears pid and
 *	  latch and sets STOPPED or ABSENT with the time it may be started again;
 *	- ddl.c pushes retry_after forward and signals the worker before
 *	  DROP / RENAME DATABASE;
 *	- a committing backend ORs what it wakes the worker for into wake (an
 *	  atomic, under the lock held shared or exclusively) and sets the
 *	  worker's latch, and the worker takes wake's bits (wake.c);
 *	- status.c only reads.
 *
 * Statistics survive a worker's restart (the slot stays with its database)
 * but not a server restart or crash: shared memory is reinitialised then.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "escalation.h"

#define ESC_TRANCHE "escalation"

EscalationSharedState *esc_shared = NULL;

#ifdef ESC_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
shared_size(void)
{
	return add_size(offsetof(EscalationSharedState, slots),
					mul_size(esc_max_workers, sizeof(EscWorkerSlot)));
}

static void
shmem_request(void)
{
#ifdef ESC_HAVE_SHMEM_REQUEST_HOOK
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(shared_size()));
	RequestNamedLWLockTranche(ESC_TRANCHE, 1);
}

static void
shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	esc_shared = ShmemInitStruct("escalation", shared_size(), &found);
	if (!found)
	{
		memset(esc_shared, 0, shared_size());
		esc_shared->lock = &(GetNamedLWLockTranche(ESC_TRANCHE))->lock;
		esc_shared->nslots = esc_max_workers;
		for (int i = 0; i < esc_shared->nslots; i++)
			pg_atomic_init_u32(&esc_shared->slots[i].wake, 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* called from _PG_init while preloading */
void
esc_shmem_init(void)
{
#ifdef ESC_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
#else
	shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;
}

/* for SQL functions that need the shared state */
void
esc_check_shared_state(void)
{
	if (esc_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("escalation's background worker is not available"),
				 errdetail("The library was not loaded through \"shared_preload_libraries\"."),
				 errhint("Add \"escalation\" to \"shared_preload_libraries\" and restart the server.")));
}

/* index of the slot of a database, or -1; caller holds the lock */
int
esc_slot_find(Oid dboid)
{
	int			i;

	for (i = 0; i < esc_shared->nslots; i++)
	{
		if (esc_shared->slots[i].state != ESC_SLOT_FREE &&
			esc_shared->slots[i].dboid == dboid)
			return i;
	}
	return -1;
}

/*
 * Ask the worker of a database to exit, and keep the launcher from starting
 * it again for holdoff_ms.  Returns whether a worker was signalled, at once: the caller (DROP DATABASE)
 * waits for the backend to go away by itself.
 */
bool
esc_stop_database_worker(Oid dboid, int holdoff_ms)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), holdoff_ms);
	pid_t		pid = 0;
	int			i;

	if (esc_shared == NULL)
		return false;
	LWLockAcquire(esc_shared->lock, LW_EXCLUSIVE);
	i = esc_slot_find(dboid);
	if (i >= 0)
	{
		EscWorkerSlot *slot = &esc_shared->slots[i];

		if (slot->retry_after < until)
			slot->retry_after = until;
		pid = slot->pid;
	}
	LWLockRelease(esc_shared->lock);

	if (pid != 0)
		kill(pid, SIGTERM);
	return pid != 0;
}
