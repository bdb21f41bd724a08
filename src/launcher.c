/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The escalation launcher: one static background worker that starts one
 *	  dynamic worker per database served, and stops the ones no longer
 *	  wanted.
 *
 * It is registered in _PG_init only while shared_preload_libraries is
 * processed, connects to the shared catalogs only (no database), and every
 * escalation.launcher_naptime, or when its latch is set, scans pg_database:
 *
 *	- served: not a template, datallowconn, not half-dropped, and named in
 *	  escalation.databases when that list is not empty; none when
 *	  escalation.worker_enabled is off;
 *	- a served database without a live slot gets a slot (STARTING) and a
 *	  dynamic worker (BGW_NEVER_RESTART, bgw_notify_pid = the launcher, so
 *	  the postmaster sets our latch when it starts or stops), unless its
 *	  slot's retry_after is still ahead: a worker that stopped is started
 *	  again after escalation.launcher_naptime (the crash backoff), and one
 *	  stopped for DROP DATABASE after ddl.c's hold-off;
 *	- a database where the worker found no extension is not tried again for
 *	  ESC_ABSENT_RECHECK_MS, or until escalation.wakeup() (which the install
 *	  script calls at CREATE EXTENSION) bumps the shared wakeup epoch; that
 *	  list is the launcher's own (absent_dbs), so databases without the
 *	  extension take no slot, and a worker started again for one of them
 *	  exits quietly (DEBUG1) if there is still no extension;
 *	- live workers of databases no longer served are told to stop.
 *
 * The launcher never holds the shared lock while it talks to the postmaster
 * (registering, terminating or asking for the pid of a worker).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "escalation.h"

/* how long a database without the extension is left alone */
#define ESC_ABSENT_RECHECK_MS	(5 * 60 * 1000)

typedef struct LauncherDb
{
	Oid			dboid;
	char		name[NAMEDATALEN];
} LauncherDb;

/* a database where the worker found no extension, and when to look again */
typedef struct AbsentDb
{
	Oid			dboid;			/* hash key */
	TimestampTz recheck;
} AbsentDb;

static BackgroundWorkerHandle **handles;	/* per slot, ours or NULL */
static HTAB *absent_dbs;
static uint32 seen_epoch;
static bool warned_slots;		/* once per configuration load */
static bool warned_bgworkers;
static List *warned_names;

void
esc_launcher_register(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 10;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "escalation");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "esc_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "escalation launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "escalation launcher");
	RegisterBackgroundWorker(&bgw);
}

static void
launcher_detach(int code, Datum arg)
{
	LWLockAcquire(esc_shared->lock, LW_EXCLUSIVE);
	if (esc_shared->launcher_pid == MyProcPid)
	{
		esc_shared->launcher_pid = 0;
		esc_shared->launcher_latch = NULL;
	}
	LWLockRelease(esc_shared->lock);
}

/* the databases to serve, allocated in cxt */
static List *
served_databases(MemoryContext cxt)
{
	List	   *result = NIL;
	List	   *names;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext old;
	ListCell   *lc;

	if (!esc_worker_enabled)
		return NIL;

	old = MemoryContextSwitchTo(cxt);
	names = esc_database_list();
	MemoryContextSwitchTo(old);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database form = (Form_pg_database) GETSTRUCT(tup);
		LauncherDb *db;
		bool		named = (names == NIL);

		if (form->datistemplate || !form->datallowconn || esc_database_is_invalid(form))
			continue;
		foreach(lc, names)
		{
			if (strcmp((char *) lfirst(lc), NameStr(form->datname)) == 0)
				named = true;
		}
		if (!named)
			continue;
		old = MemoryContextSwitchTo(cxt);
		db = palloc(sizeof(LauncherDb));
		db->dboid = form->oid;
		strlcpy(db->name, NameStr(form->datname), NAMEDATALEN);
		result = lappend(result, db);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	/* names that match no database we may serve: say so once */
	foreach(lc, names)
	{
		char	   *name = (char *) lfirst(lc);
		ListCell   *lc2;
		bool		found = false;

		foreach(lc2, result)
		{
			if (strcmp(((LauncherDb *) lfirst(lc2))->name, name) == 0)
				found = true;
		}
		foreach(lc2, warned_names)
		{
			if (strcmp((char *) lfirst(lc2), name) == 0)
				found = true;
		}
		if (!found)
		{
			ereport(LOG,
					(errmsg("database \"%s\" named in \"escalation.databases\" is not served",
							name),
					 errdetail("No database of that name accepts connections, or it is a template.")));
			old = MemoryContextSwitchTo(TopMemoryContext);
			warned_names = lappend(warned_names, pstrdup(name));
			MemoryContextSwitchTo(old);
		}
	}
	return result;
}

static LauncherDb *
find_db(List *dbs, Oid dboid)
{
	ListCell   *lc;

	foreach(lc, dbs)
	{
		LauncherDb *db = (LauncherDb *) lfirst(lc);

		if (db->dboid == dboid)
			return db;
	}
	return NULL;
}

/* register the dynamic worker of one database in slot i; false if refused */
static bool
start_worker(int i, LauncherDb *db, bool quiet)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;
	MemoryContext old;
	bool		ok;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "escalation");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "esc_worker_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "escalation worker %s", db->name);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "escalation worker");
	bgw.bgw_main_arg = Int32GetDatum(i);
	memcpy(bgw.bgw_extra, &db->dboid, sizeof(Oid));
	memcpy(bgw.bgw_extra + sizeof(Oid), &quiet, sizeof(bool));
	bgw.bgw_notify_pid = MyProcPid;

	old = MemoryContextSwitchTo(TopMemoryContext);	/* the handle outlives the pass */
	ok = RegisterDynamicBackgroundWorker(&bgw, &handle);
	MemoryContextSwitchTo(old);
	if (!ok)
		return false;
	if (handles[i])
		pfree(handles[i]);
	handles[i] = handle;
	return true;
}

/*
 * One pass: reap, stop, start.  Returns how long to sleep, in ms.
 */
static long
launcher_pass(MemoryContext cxt)
{
	List	   *dbs = served_databases(cxt);
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next = TimestampTzPlusMilliseconds(now, esc_launcher_naptime);
	int			nslots = esc_shared->nslots;
	EscWorkerSlot *snap;
	bool	   *gone;
	ListCell   *lc;
	uint32		epoch;
	int			i;

	MemoryContextSwitchTo(cxt); /* the transaction left us in TopMemoryContext */
	snap = palloc(sizeof(EscWorkerSlot) * nslots);
	gone = palloc0(sizeof(bool) * nslots);

	LWLockAcquire(esc_shared->lock, LW_SHARED);
	memcpy(snap, esc_shared->slots, sizeof(EscWorkerSlot) * nslots);
	epoch = esc_shared->wakeup_epoch;
	LWLockRelease(esc_shared->lock);

	/*
	 * escalation.wakeup() (CREATE EXTENSION somewhere): look at every
	 * database without the extension again now; they said so already, so
	 * they stay quiet if they still have none.
	 */
	if (epoch != seen_epoch)
	{
		HASH_SEQ_STATUS hs;
		AbsentDb   *a;

		seen_epoch = epoch;
		hash_seq_init(&hs, absent_dbs);
		while ((a = hash_seq_search(&hs)) != NULL)
			a->recheck = 0;
	}

	/* workers we registered that stopped before they claimed their slot */
	for (i = 0; i < nslots; i++)
	{
		pid_t		pid;

		if (snap[i].state == ESC_SLOT_STARTING && handles[i] != NULL &&
			GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED)
			gone[i] = true;
	}

	/* reap, under the lock: it may have changed since the snapshot */
	LWLockAcquire(esc_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < nslots; i++)
	{
		EscWorkerSlot *slot = &esc_shared->slots[i];

		if (slot->state == ESC_SLOT_STARTING && gone[i] && slot->pid == 0)
		{
			slot->state = ESC_SLOT_STOPPED;
			slot->retry_after = Max(slot->retry_after,
									TimestampTzPlusMilliseconds(now, esc_launcher_naptime));
		}
		if (slot->state == ESC_SLOT_ABSENT)
		{
			AbsentDb   *a = hash_search(absent_dbs, &slot->dboid, HASH_ENTER, NULL);

			a->recheck = Max(slot->retry_after,
							 TimestampTzPlusMilliseconds(now, ESC_ABSENT_RECHECK_MS));
			slot->state = ESC_SLOT_FREE;
		}
		/* a stopped worker of a database no longer served: forget it */
		if (slot->state == ESC_SLOT_STOPPED && find_db(dbs, slot->dboid) == NULL)
			slot->state = ESC_SLOT_FREE;
		if (slot->state == ESC_SLOT_FREE && handles[i] != NULL)
		{
			pfree(handles[i]);
			handles[i] = NULL;
		}
	}
	memcpy(snap, esc_shared->slots, sizeof(EscWorkerSlot) * nslots);
	LWLockRelease(esc_shared->lock);

	/* stop the workers of databases no longer served */
	for (i = 0; i < nslots; i++)
	{
		if ((snap[i].state == ESC_SLOT_RUNNING || snap[i].state == ESC_SLOT_STARTING) &&
			find_db(dbs, snap[i].dboid) == NULL)
		{
			if (handles[i] != NULL)
				TerminateBackgroundWorker(handles[i]);
			else if (snap[i].pid != 0)
				kill(snap[i].pid, SIGTERM);
		}
	}

	/* start the missing ones */
	foreach(lc, dbs)
	{
		LauncherDb *db = (LauncherDb *) lfirst(lc);
		AbsentDb   *a = hash_search(absent_dbs, &db->dboid, HASH_FIND, NULL);
		int			slotno = -1;
		bool		quiet = false;

		if (a != NULL)
		{
			if (a->recheck > now)
			{
				next = Min(next, a->recheck);
				continue;
			}
			quiet = true;		/* it said so already */
			hash_search(absent_dbs, &db->dboid, HASH_REMOVE, NULL);
		}

		LWLockAcquire(esc_shared->lock, LW_EXCLUSIVE);
		i = esc_slot_find(db->dboid);
		if (i >= 0)
		{
			EscWorkerSlot *slot = &esc_shared->slots[i];

			if (slot->state == ESC_SLOT_STOPPED && slot->retry_after <= now)
				slotno = i;
			else if (slot->state == ESC_SLOT_STOPPED)
				next = Min(next, slot->retry_after);
		}
		else
		{
			for (i = 0; i < nslots && slotno < 0; i++)
			{
				if (esc_shared->slots[i].state == ESC_SLOT_FREE)
				{
					slotno = i;
					memset(&esc_shared->slots[i], 0, sizeof(EscWorkerSlot));
					esc_shared->slots[i].dboid = db->dboid;
				}
			}
			if (slotno < 0 && !warned_slots)
			{
				warned_slots = true;
				ereport(WARNING,
						(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
						 errmsg("escalation cannot serve database \"%s\": all %d worker slots are in use",
								db->name, nslots),
						 errhint("Consider increasing the configuration parameter \"%s\".",
								 "escalation.max_workers")));
			}
		}
		if (slotno >= 0)
			esc_shared->slots[slotno].state = ESC_SLOT_STARTING;
		LWLockRelease(esc_shared->lock);

		if (slotno < 0)
			continue;
		if (!start_worker(slotno, db, quiet))
		{
			LWLockAcquire(esc_shared->lock, LW_EXCLUSIVE);
			esc_shared->slots[slotno].state = ESC_SLOT_STOPPED;
			esc_shared->slots[slotno].retry_after =
				TimestampTzPlusMilliseconds(now, esc_launcher_naptime);
			LWLockRelease(esc_shared->lock);
			if (!warned_bgworkers)
			{
				warned_bgworkers = true;
				ereport(WARNING,
						(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
						 errmsg("could not register the escalation worker of database \"%s\"",
								db->name),
						 errhint("Consider increasing the configuration parameter \"%s\".",
								 "max_worker_processes")));
			}
		}
		else
			elog(DEBUG1, "escalation launcher started a worker for database \"%s\"", db->name);
	}

	now = GetCurrentTimestamp();
	if (next <= now)
		return 1;
	return (long) ((next - now + 999) / 1000);
}

void
esc_launcher_main(Datum arg)
{
	MemoryContext pass_cxt;
	HASHCTL		ctl;
	int			i;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("escalation launcher");

	LWLockAcquire(esc_shared->lock, LW_EXCLUSIVE);
	esc_shared->launcher_pid = MyProcPid;
	esc_shared->launcher_latch = MyLatch;
	/* registrations of a previous launcher: nobody can reap them now */
	for (i = 0; i < esc_shared->nslots; i++)
	{
		if (esc_shared->slots[i].state == ESC_SLOT_STARTING)
			esc_shared->slots[i].state = ESC_SLOT_STOPPED;
	}
	seen_epoch = esc_shared->wakeup_epoch;
	LWLockRelease(esc_shared->lock);
	before_shmem_exit(launcher_detach, 0);

	handles = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(BackgroundWorkerHandle *) * esc_shared->nslots);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(AbsentDb);
	absent_dbs = hash_create("escalation absent databases", 64, &ctl,
							 HASH_ELEM | HASH_BLOBS);
	pass_cxt = AllocSetContextCreate(TopMemoryContext, "escalation launcher pass",
									 ALLOCSET_DEFAULT_SIZES);

	ereport(LOG, (errmsg("escalation launcher started")));

	for (;;)
	{
		long		timeout;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			warned_slots = false;
			warned_bgworkers = false;
			list_free_deep(warned_names);
			warned_names = NIL;
		}

		pgstat_report_activity(STATE_RUNNING, "scanning pg_database");
		timeout = launcher_pass(pass_cxt);
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(pass_cxt);
		pgstat_report_activity(STATE_IDLE, NULL);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, esc_wait_event());
		ResetLatch(MyLatch);
	}
}
