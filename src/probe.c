/*-------------------------------------------------------------------------
 *
 * probe.c
 *	  Reading a ticket's rows of one of the extension's own tables through
 *	  an index, without a statement.
 *
 * Several tables of the extension are read per ticket on the helpdesk's
 * write path: a new escalation's running clocks (sla_due), a customer
 * message's SLA state and open response clocks (sla.c).  As prepared
 * statements each read costs an executor start and end, which on a
 * helpdesk's insert is more than the read.  An EscProbe finds, once per
 * backend, a valid btree index of the table that leads with
 * (source_id, ticket_key) and no predicate (the tables' own unique
 * constraints are such indexes), and scans it with a snapshot the caller
 * gives; a relcache invalidation of the table (an index created or
 * dropped, ALTER TABLE) makes the next use look again.  Without such an
 * index esc_probe_open() returns NULL and the caller runs its statement.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "escalation.h"

#define MAX_PROBES 8

static EscProbe *probes[MAX_PROBES];
static int	nprobes = 0;
static bool callback_registered = false;

static void
probe_invalidate(Datum arg, Oid relid)
{
	for (int i = 0; i < nprobes; i++)
		if (!OidIsValid(relid) || relid == probes[i]->relid)
			probes[i]->relid = InvalidOid;
}

/* look the table's index and columns up again; rel is open */
static void
probe_lookup(EscProbe *p, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *indexes;
	ListCell   *lc;
	int			source_att = SPI_fnumber(desc, "source_id");
	int			key_att = SPI_fnumber(desc, "ticket_key");

	p->indexoid = InvalidOid;
	for (int i = 0; i < p->ncolumns; i++)
		p->att[i] = SPI_fnumber(desc, p->columns[i]);
	if (source_att > 0 && key_att > 0)
	{
		indexes = RelationGetIndexList(rel);
		foreach(lc, indexes)
		{
			Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
			Form_pg_index form = index->rd_index;

			if (index->rd_rel->relam == BTREE_AM_OID && form->indnkeyatts >= 2 &&
				form->indkey.values[0] == source_att && form->indkey.values[1] == key_att &&
				RelationGetIndexPredicate(index) == NIL && form->indisvalid)
			{
				p->indexoid = RelationGetRelid(index);
				p->collation = index->rd_indcollation[1];
				p->source_att = source_att;
				p->key_att = key_att;
			}
			index_close(index, AccessShareLock);
			if (OidIsValid(p->indexoid))
				break;
		}
		list_free(indexes);
	}
	for (int i = 0; i < p->ncolumns; i++)
		if (p->att[i] <= 0)
			p->indexoid = InvalidOid;
	p->relid = RelationGetRelid(rel);
}

/*
 * Open the probe's table (AccessShareLock), or return NULL when it has no
 * index to probe (or no such table): the caller uses its statement then.
 */
Relation
esc_probe_open(EscProbe *p)
{
	Oid			relid = p->relid;
	Relation	rel = NULL;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(probe_invalidate, (Datum) 0);
		callback_registered = true;
	}
	if (!p->registered)
	{
		if (nprobes == MAX_PROBES)
			elog(ERROR, "too many index probes");
		probes[nprobes++] = p;
		p->registered = true;
		p->relid = relid = InvalidOid;
	}
	/* opening the table takes in any invalidation that came meanwhile */
	if (OidIsValid(relid))
		rel = try_table_open(relid, AccessShareLock);
	if (rel == NULL || p->relid != relid)
	{
		if (rel != NULL)
			table_close(rel, AccessShareLock);
		relid = get_relname_relid(p->relname, get_namespace_oid("escalation", false));
		if (!OidIsValid(relid))
			return NULL;
		rel = table_open(relid, AccessShareLock);
		probe_lookup(p, rel);
	}
	if (!OidIsValid(p->indexoid))
	{
		table_close(rel, AccessShareLock);
		return NULL;
	}
	return rel;
}

/* scan a ticket's rows: source_id = $1 AND ticket_key = $2 */
SysScanDesc
esc_probe_begin(EscProbe *p, Relation rel, Datum source_id, Datum ticket_key, Snapshot snapshot)
{
	ScanKeyData keys[2];

	ScanKeyEntryInitialize(&keys[0], 0, p->source_att, BTEqualStrategyNumber, InvalidOid,
						   InvalidOid, F_INT4EQ, source_id);
	ScanKeyEntryInitialize(&keys[1], 0, p->key_att, BTEqualStrategyNumber, InvalidOid,
						   p->collation, F_TEXTEQ, ticket_key);
	return systable_beginscan(rel, p->indexoid, true, snapshot, 2, keys);
}
