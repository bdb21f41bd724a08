/*-------------------------------------------------------------------------
 *
 * ddl.c
 *	  Database DDL that a connected escalation worker would otherwise block.
 *
 * Before PostgreSQL 19 a background worker connected to a database makes
 * DROP DATABASE (without FORCE), ALTER DATABASE ... RENAME, ALTER DATABASE
 * ... SET TABLESPACE and CREATE DATABASE ... TEMPLATE of it fail with
 * "database is being accessed by other users".  This ProcessUtility hook,
 * present in every backend because the library is preloaded, asks the
 * worker of that database to exit (SIGTERM) and keeps the launcher from
 * starting it again for ESC_DDL_HOLDOFF_MS; the command's own wait for
 * other backends (up to 5 s) then sees it go.  Once the command holds its
 * lock on the database, a worker starting again waits for it in turn.
 *
 * Only the owner of the database (or a superuser) stops its worker this
 * way: anyone else's command fails on its own permission check anyway, and
 * must not be a way to pause the worker.  If the command fails, the worker
 * comes back after the hold-off.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"

#include "escalation.h"

#define ESC_DDL_HOLDOFF_MS	10000

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static void
stop_worker_of(const char *dbname, const char *command)
{
	Oid			dboid;

	if (dbname == NULL)
		return;
	dboid = get_database_oid(dbname, true);
	if (!OidIsValid(dboid) || dboid == MyDatabaseId ||
		!esc_database_ownercheck(dboid, GetUserId()))
		return;
	if (esc_stop_database_worker(dboid, ESC_DDL_HOLDOFF_MS))
		ereport(LOG,
				(errmsg("stopping the escalation worker of database \"%s\" for %s",
						dbname, command)));
}

static bool
has_option(List *options, const char *name, char **value)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, name) == 0 && opt->arg != NULL)
		{
			*value = defGetString(opt);
			return true;
		}
	}
	return false;
}

static void
esc_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	char	   *value;

	if (esc_shared != NULL)
	{
		if (IsA(stmt, DropdbStmt))
			stop_worker_of(((DropdbStmt *) stmt)->dbname, "DROP DATABASE");
		else if (IsA(stmt, RenameStmt) &&
				 ((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
			stop_worker_of(((RenameStmt *) stmt)->subname, "ALTER DATABASE RENAME");
		else if (IsA(stmt, AlterDatabaseStmt) &&
				 has_option(((AlterDatabaseStmt *) stmt)->options, "tablespace", &value))
			stop_worker_of(((AlterDatabaseStmt *) stmt)->dbname, "ALTER DATABASE SET TABLESPACE");
		else if (IsA(stmt, CreatedbStmt) &&
				 has_option(((CreatedbStmt *) stmt)->options, "template", &value))
			stop_worker_of(value, "CREATE DATABASE");
	}

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

/* called from _PG_init while preloading */
void
esc_ddl_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = esc_ProcessUtility;
}
