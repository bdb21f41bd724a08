/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The escalation.* configuration parameters.
 *
 * Contexts are chosen deliberately: escalation.enabled is PGC_SUSET so that
 * a superuser's bulk load can switch the triggers off for its own session
 * while an application role cannot; the context sizes only shape what is
 * stored with an escalation, so any session may tune them.
 *
 * The background worker's parameters: escalation.max_workers sizes shared
 * memory (PGC_POSTMASTER); the others are read by the launcher and the
 * workers after each SIGHUP (PGC_SIGHUP), so ALTER SYSTEM + pg_reload_conf()
 * changes them without a restart.  Whether a role exists or is a superuser
 * cannot be checked here (the postmaster reads no catalogs): worker.c checks
 * escalation.worker_role in every transaction it runs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "escalation.h"

bool		esc_enabled = true;
int			esc_context_messages = 5;
int			esc_context_tickets = 5;
bool		esc_direct_records = true;
bool		esc_context_probe = true;
bool		esc_defer_requester_tickets = true;
bool		esc_defer_escalations = false;
bool		esc_ticket_lock_direct = true;
int			esc_memo_size = 65536;
int			esc_max_workers = 8;
bool		esc_worker_enabled = true;
int			esc_naptime = 10000;
int			esc_launcher_naptime = 10000;
char	   *esc_databases = NULL;
char	   *esc_worker_role = NULL;
int			esc_batch_size = 500;
bool		esc_folding = false;

/* escalation.databases must be a list of names */
static bool
check_databases(char **newval, void **extra, GucSource source)
{
	char	   *raw = pstrdup(*newval);
	List	   *names = NIL;
	bool		ok = SplitIdentifierString(raw, ',', &names);

	list_free(names);
	pfree(raw);
	if (!ok)
		GUC_check_errdetail("List syntax is invalid.");
	return ok;
}

/* escalation.worker_role must name a role (whether it exists is checked later) */
static bool
check_worker_role(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errdetail("The worker needs a role to run as.");
		return false;
	}
	return true;
}

/*
 * The databases named in escalation.databases, as a List of palloc'ed
 * names in the current memory context; NIL when the list is empty, which
 * means every database.
 */
List *
esc_database_list(void)
{
	char	   *raw = pstrdup(esc_databases ? esc_databases : "");
	List	   *names = NIL;
	List	   *result = NIL;
	ListCell   *lc;

	if (!SplitIdentifierString(raw, ',', &names))
		return NIL;				/* cannot happen: check_databases */
	foreach(lc, names)
		result = lappend(result, pstrdup((char *) lfirst(lc)));
	list_free(names);
	pfree(raw);
	return result;
}

void
esc_define_gucs(void)
{
	DefineCustomBoolVariable("escalation.enabled",
							 "Evaluates escalation rules in the triggers of attached tables.",
							 "When off, attached tables are written as if nothing were attached.",
							 &esc_enabled,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("escalation.context_messages",
							"Number of recent messages stored in an escalation's context.",
							NULL,
							&esc_context_messages,
							5, 0, 100,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("escalation.context_tickets",
							"Number of the requester's other recent tickets stored in an escalation's context.",
							NULL,
							&esc_context_tickets,
							5, 0, 100,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("escalation.direct_ticket_lock",
							 "Locks a message's ticket row through its key index, without an SQL statement.",
							 "The message trigger locks (FOR NO KEY UPDATE) and reads the ticket row through "
							 "the unique index of its key column, as the statement would; off: through a "
							 "SELECT ... FOR NO KEY UPDATE statement.  Tables without such an index, with row "
							 "level security, or partitioned always take the statement.",
							 &esc_ticket_lock_direct,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("escalation.direct_records",
							 "Writes a new ticket's escalations without an SQL statement.",
							 "The row trigger inserts a new ticket's escalation and its journey event through "
							 "the executor's row-level API (triggers, constraints and indexes as an INSERT); "
							 "off: through an INSERT statement.  Tables with statement-level triggers always "
							 "take the statement.",
							 &esc_direct_records,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("escalation.context_probe",
							 "Reads the requester's other tickets for a context snapshot through an index.",
							 "When the ticket table has a btree index led by the requester column and the "
							 "snapshot needs no conversation (a new ticket), the trigger reads the "
							 "requester's recent tickets through that index; off, or without such an index: "
							 "through a query.",
							 &esc_context_probe,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("escalation.defer_requester_tickets",
							 "Leaves the requester's other tickets in a new escalation's context to the worker.",
							 "On: an escalation the triggers raise is written without the requester's other "
							 "recent tickets, and the worker adds them (escalation.complete_contexts()) in its "
							 "next cycle, before routing offers it, so that the helpdesk's write does not read "
							 "them.  Off: the trigger reads them in the writer's transaction.",
							 &esc_defer_requester_tickets,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("escalation.defer_escalations",
							 "Leaves recording a new ticket's escalations to the worker.",
							 "On: the ticket trigger decides a new ticket's escalations in the writer's "
							 "transaction and appends them to escalation.pending_escalations (one heap "
							 "insert, committed with the ticket), and the worker records them "
							 "(escalation.record_pending()) at the start of its next cycle, with the "
							 "ticket's time.  Off: the trigger records them in the writer's transaction.  "
							 "Updates and follow-up messages are always recorded at once.",
							 &esc_defer_escalations,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("escalation.word_cache_size",
							"Distinct words per source whose stems a backend remembers.",
							"Words are stemmed through the text search dictionaries once, then remembered; "
							"the cache starts over when it is full.",
							&esc_memo_size,
							65536, 1024, 4194304,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	/* ---- the background worker */
	DefineCustomIntVariable("escalation.max_workers",
							"Maximum number of databases the background worker serves at once.",
							"One shared-memory slot and one background worker process per database; "
							"max_worker_processes must leave room for them and the launcher.",
							&esc_max_workers,
							8, 1, 1024,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("escalation.worker_enabled",
							 "Runs the time-based background worker.",
							 "When off, the launcher stops the workers and starts none.",
							 &esc_worker_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("escalation.naptime",
							"Time between two cycles of a database's worker.",
							"A cycle that ends with a full batch is followed at once by the next one.",
							&esc_naptime,
							10000, 100, 86400000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("escalation.launcher_naptime",
							"Time between two scans of pg_database by the launcher.",
							"Also the delay before a worker that stopped is started again.",
							&esc_launcher_naptime,
							10000, 1000, 3600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("escalation.databases",
							   "Databases the background worker serves (comma-separated).",
							   "Empty: every database where the extension is installed.",
							   &esc_databases,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_databases, NULL, NULL);

	DefineCustomStringVariable("escalation.worker_role",
							   "Role the background worker runs its transactions as.",
							   "Must not be a superuser.",
							   &esc_worker_role,
							   "escalation_worker",
							   PGC_SIGHUP,
							   0,
							   check_worker_role, NULL, NULL);

	DefineCustomIntVariable("escalation.batch_size",
							"Maximum number of due clock steps one transaction of the worker handles.",
							NULL,
							&esc_batch_size,
							500, 1, 100000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	/*
	 * Not a knob: escalation.fold_facts() sets it for its own transaction so
	 * that the statement triggers on escalation.ticket_facts stage the rows
	 * it changes and it applies them to the rollups at its end.  Set by
	 * anyone else it only delays their own facts writes' rollup deltas
	 * to the next fold (only the extension's owner writes ticket_facts).
	 */
	DefineCustomBoolVariable("escalation.folding",
							 "Whether escalation.fold_facts() is folding in this transaction (set by it, not by hand).",
							 NULL,
							 &esc_folding,
							 false,
							 PGC_USERSET,
							 GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							 NULL, NULL, NULL);

	esc_reserve_guc_prefix("escalation");
}
