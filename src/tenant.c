/*-------------------------------------------------------------------------
 *
 * tenant.c
 *	  escalation.tenant_visible(tenant): may the current user see rows of
 *	  this tenant?  The predicate of the row-level security policies that
 *	  keep the tenant boundary per ticket (escalation.tenant_roles maps a
 *	  tenant, the value of a source's mapped tenant column, to a role).
 *
 * A row is visible when its tenant is NULL, when no row of
 * escalation.tenant_roles names its tenant, or when the current user is a
 * member of the tenant's role.  A role dropped after it was mapped hides
 * its tenant from everyone (fail closed).
 *
 * The policies evaluate it for every row a reader scans, so it must cost a
 * comparison, not a query: the tenants the current user may not see are
 * read once per statement (one SPI query, as the extension's owner, so
 * that no grant on escalation.tenant_roles is needed) into the function's
 * fn_extra, and each row is a binary search in that sorted list.  The list
 * is kept while the user, the transaction and its command counter stay the
 * same (a write of tenant_roles or a role change in this transaction
 * advances the counter).  A SQL predicate could not do this: SQL functions
 * with a subquery are not inlined, and a non-inlined one runs its query for
 * every row.
 *
 * The triggers, the worker and the SECURITY DEFINER functions run as the
 * extension's owner, to whom row-level security does not apply: they never
 * call this, and writing costs nothing more.  Those that hand rows of the
 * record to their caller (sla_what_if()) filter them with
 * escalation.caller_tenant_visible(tenant), the same test for the role
 * acting in the session.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "escalation.h"

PG_FUNCTION_INFO_V1(escalation_tenant_visible);
PG_FUNCTION_INFO_V1(escalation_caller_tenant_visible);

typedef struct TenantCache
{
	Oid			userid;			/* whom the list is for */
	LocalTransactionId lxid;	/* in which transaction */
	CommandId	cid;			/* at which command */
	int			nhidden;
	char	  **hidden;			/* tenants the user may not see, sorted */
} TenantCache;

static int
cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static Oid
owner_of_extension(void)
{
	Oid			extoid = get_extension_oid("escalation", true);
	Oid			owner = GetUserId();
	HeapTuple	tup;

	if (!OidIsValid(extoid))
		return owner;
	tup = SearchSysCache1(EXTENSIONOID, ObjectIdGetDatum(extoid));
	if (HeapTupleIsValid(tup))
	{
		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
		ReleaseSysCache(tup);
	}
	return owner;
}

/* the tenants hidden from userid, into a list allocated in cxt */
static void
load_hidden(TenantCache *c, Oid userid, MemoryContext cxt)
{
	Oid			save_userid;
	int			save_sec;
	Oid			argtype = OIDOID;
	Datum		arg = ObjectIdGetDatum(userid);
	uint64		i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner_of_extension(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	/* a role that no longer exists hides its tenant (pg_has_role of NULL) */
	if (SPI_execute_with_args("SELECT t.tenant FROM escalation.tenant_roles t "
							  " WHERE NOT coalesce(pg_catalog.pg_has_role($1, "
							  "   (SELECT r.oid FROM pg_catalog.pg_roles r "
							  "     WHERE r.rolname OPERATOR(pg_catalog.=) t.role), 'MEMBER'), false)",
							  1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read escalation.tenant_roles");
	SetUserIdAndSecContext(save_userid, save_sec);

	c->nhidden = (int) SPI_processed;
	c->hidden = (char **) MemoryContextAlloc(cxt, sizeof(char *) * Max(c->nhidden, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		c->hidden[i] = MemoryContextStrdup(cxt, v);
	}
	SPI_finish();
	qsort(c->hidden, c->nhidden, sizeof(char *), cmp_cstr);
}

/* may userid see rows of the tenant in argument 0 (NULL: yes)? */
static Datum
tenant_visible_to(FunctionCallInfo fcinfo, Oid userid)
{
	TenantCache *c = (TenantCache *) fcinfo->flinfo->fn_extra;
	LocalTransactionId lxid = MyProc->lxid;
	CommandId	cid = GetCurrentCommandId(false);
	char	   *tenant;
	bool		hidden;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(true);

	if (c == NULL || c->userid != userid || c->lxid != lxid || c->cid != cid)
	{
		MemoryContext cxt = fcinfo->flinfo->fn_mcxt;

		if (c == NULL)
			c = (TenantCache *) MemoryContextAllocZero(cxt, sizeof(TenantCache));
		else
		{
			int			i;

			for (i = 0; i < c->nhidden; i++)
				pfree(c->hidden[i]);
			if (c->hidden)
				pfree(c->hidden);
			c->hidden = NULL;
			c->nhidden = 0;
			/* not valid until loaded: an error while loading must not leave it */
			c->userid = InvalidOid;
		}
		fcinfo->flinfo->fn_extra = c;
		load_hidden(c, userid, cxt);
		c->userid = userid;
		c->lxid = lxid;
		c->cid = cid;
	}
	if (c->nhidden == 0)
		PG_RETURN_BOOL(true);
	tenant = text_to_cstring(PG_GETARG_TEXT_PP(0));
	hidden = bsearch(&tenant, c->hidden, c->nhidden, sizeof(char *), cmp_cstr) != NULL;
	pfree(tenant);
	PG_RETURN_BOOL(!hidden);
}

Datum
escalation_tenant_visible(PG_FUNCTION_ARGS)
{
	return tenant_visible_to(fcinfo, GetUserId());
}

/*
 * escalation.caller_tenant_visible(tenant): the same question for the role
 * acting in this session (the session user, or the role of SET ROLE), which
 * SECURITY DEFINER does not change.  A SECURITY DEFINER function reads the
 * record as the extension's owner, past the policies; one that hands such
 * rows to its caller (sla_what_if()) keeps those of tenants the caller may
 * see, as the policies would have.
 */
Datum
escalation_caller_tenant_visible(PG_FUNCTION_ARGS)
{
	return tenant_visible_to(fcinfo, GetOuterUserId());
}
