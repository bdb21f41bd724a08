/*-------------------------------------------------------------------------
 *
 * own_rel.c
 *	  The OIDs of escalation's own tables and sequences, by name: looked up
 *	  once per backend, forgotten when pg_class or pg_namespace changes.
 *
 * The ticket trigger appends to escalation.fact_changes on every insert,
 * and writes escalations, events and escalation_changes on every
 * escalation.  Finding a table by name is two catalog cache searches (the
 * schema, then the table in it), some 1,100 instructions, and they were
 * made again for every row.  Here each name is searched once; any catalog
 * cache invalidation of pg_class or pg_namespace forgets them all (DDL,
 * and VACUUM's or ANALYZE's statistics: rare next to rows), so a table
 * dropped and created again, as DROP and CREATE EXTENSION do, is found
 * again by its new OID.  Opening a table takes in the invalidations that
 * came meanwhile, as get_relname_relid() followed by table_open() would.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "escalation.h"

#define MAX_OWN_RELS 16

typedef struct OwnRel
{
	const char *name;			/* a string literal of the caller's */
	Oid			relid;
} OwnRel;

static OwnRel own_rels[MAX_OWN_RELS];
static int	n_own_rels = 0;
static Oid	own_nsp = InvalidOid;
static bool callbacks_registered = false;

static void
own_rels_forget(Datum arg, int cacheid, uint32 hashvalue)
{
	n_own_rels = 0;
	own_nsp = InvalidOid;
}

/*
 * The OID of escalation.<name> (a table, sequence or index of the
 * extension's schema), or InvalidOid when there is none.  name must be a
 * string that lives as long as the backend (a literal).
 */
Oid
esc_own_relid(const char *name)
{
	Oid			relid;

	for (int i = 0; i < n_own_rels; i++)
		if (own_rels[i].name == name || strcmp(own_rels[i].name, name) == 0)
			return own_rels[i].relid;

	if (!callbacks_registered)
	{
		CacheRegisterSyscacheCallback(RELNAMENSP, own_rels_forget, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACENAME, own_rels_forget, (Datum) 0);
		callbacks_registered = true;
	}
	if (!OidIsValid(own_nsp))
		own_nsp = get_namespace_oid("escalation", true);
	if (!OidIsValid(own_nsp))
		return InvalidOid;
	relid = get_relname_relid(name, own_nsp);
	/* a missing one is not remembered: it may be created later */
	if (OidIsValid(relid) && n_own_rels < MAX_OWN_RELS)
	{
		own_rels[n_own_rels].name = name;
		own_rels[n_own_rels].relid = relid;
		n_own_rels++;
	}
	return relid;
}
