/*-------------------------------------------------------------------------
 *
 * ticket_lock.c
 *	  Lock a helpdesk's ticket row by key, and read it, without a
 *	  statement: the message trigger's "SELECT t FROM tickets t WHERE
 *	  t.key = $1 FOR NO KEY UPDATE OF t" done through the key's unique
 *	  index and table_tuple_lock(), as ExecLockRows() does it.
 *
 * Every customer message on a source with SLA policies locks its ticket
 * row first (row.c explains why), and reads it when rules are to judge the
 * message.  Through SPI that statement costs about 48,000 instructions per
 * message on the Chatwoot benchmark (executor start, whole-row tuple, row
 * type descriptor); this path costs a fraction of that.  It is taken only
 * when it means exactly what the statement means:
 *
 *	- the table is a plain table (not partitioned, not foreign), without row
 *	  level security (a policy could hide the row from the statement);
 *	- the current user (the extension's owner) has SELECT and UPDATE on it,
 *	  which the statement's FOR NO KEY UPDATE needs (otherwise the
 *	  statement runs and raises the error);
 *	- the key column has a valid unique btree index of its own (one key
 *	  column, no expression, no predicate), and an equality operator for
 *	  its type in that index's operator family.
 *
 * Otherwise esc_ticket_lock() returns false and the caller runs the
 * statement.  The index is found once per backend per table and forgotten
 * on a relcache invalidation of the table (an index created or dropped
 * invalidates it).
 *
 * Snapshot and lock semantics follow the statement's:
 *	- a new snapshot after advancing the command counter, as SPI takes for
 *	  a statement that is not read-only;
 *	- the tuple is locked with LockTupleNoKeyExclusive, waiting; in READ
 *	  COMMITTED the lock follows the update chain to the last version, whose
 *	  key is checked again (EvalPlanQual's recheck of the WHERE clause);
 *	  under REPEATABLE READ and SERIALIZABLE a concurrent update or delete
 *	  is a serialization failure;
 *	- a row deleted meanwhile, or changed by this very command, is not
 *	  there (the statement would return no row).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "escalation.h"

/* what a table's key look-up needs, found once per table */
typedef struct KeyIndex
{
	Oid			relid;			/* InvalidOid: free, or forgotten */
	bool		usable;			/* false: run the statement */
	Oid			indexoid;
	AttrNumber	keyatt;
	Oid			keytype;
	Oid			eqproc;			/* key = key, the index's operator family's */
	Oid			collation;
	Oid			typinput;
	Oid			typioparam;
} KeyIndex;

#define MAX_KEY_INDEXES 16

static KeyIndex key_indexes[MAX_KEY_INDEXES];
static bool callback_registered = false;

static void
key_index_invalidate(Datum arg, Oid relid)
{
	for (int i = 0; i < MAX_KEY_INDEXES; i++)
		if (!OidIsValid(relid) || key_indexes[i].relid == relid)
			key_indexes[i].relid = InvalidOid;
}

/* find the table's unique index on the key column alone */
static void
key_index_lookup(KeyIndex *k, Relation rel, AttrNumber keyatt)
{
	List	   *indexes;
	ListCell   *lc;

	k->relid = RelationGetRelid(rel);
	k->usable = false;
	k->keyatt = keyatt;
	if (keyatt <= 0 || keyatt > RelationGetDescr(rel)->natts)
		return;
	k->keytype = TupleDescAttr(RelationGetDescr(rel), keyatt - 1)->atttypid;

	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = index->rd_index;

		if (index->rd_rel->relam == BTREE_AM_OID && form->indisunique &&
			form->indnatts == 1 && form->indkey.values[0] == keyatt &&
			form->indisvalid && form->indisready && form->indislive &&
			RelationGetIndexExpressions(index) == NIL &&
			RelationGetIndexPredicate(index) == NIL)
		{
			Oid			opr = get_opfamily_member(index->rd_opfamily[0], k->keytype,
												  k->keytype, BTEqualStrategyNumber);

			if (OidIsValid(opr))
			{
				k->indexoid = RelationGetRelid(index);
				k->eqproc = get_opcode(opr);
				k->collation = index->rd_indcollation[0];
				getTypeInputInfo(k->keytype, &k->typinput, &k->typioparam);
				k->usable = OidIsValid(k->eqproc);
			}
		}
		index_close(index, AccessShareLock);
		if (k->usable)
			break;
	}
	list_free(indexes);
}

static KeyIndex *
key_index_get(Relation rel, AttrNumber keyatt)
{
	Oid			relid = RelationGetRelid(rel);
	KeyIndex   *free_slot = NULL;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(key_index_invalidate, (Datum) 0);
		callback_registered = true;
	}
	for (int i = 0; i < MAX_KEY_INDEXES; i++)
	{
		if (key_indexes[i].relid == relid && key_indexes[i].keyatt == keyatt)
			return &key_indexes[i];
		if (free_slot == NULL && !OidIsValid(key_indexes[i].relid))
			free_slot = &key_indexes[i];
	}
	if (free_slot == NULL)
		free_slot = &key_indexes[relid % MAX_KEY_INDEXES];
	key_index_lookup(free_slot, rel, keyatt);
	return free_slot;
}

/*
 * Lock the ticket row of src whose key column equals key (its text form),
 * FOR NO KEY UPDATE.  With tuple != NULL, also return a copy of the row as
 * locked (NULL when there is none) and of the table's descriptor, both in
 * memory context into.  Returns false, having done nothing, when the
 * statement must run instead (see the head of the file).
 */
bool
esc_ticket_lock(EscSource *src, const char *key, HeapTuple *tuple, TupleDesc *desc,
				MemoryContext into)
{
	Relation	rel;
	Relation	index;
	KeyIndex   *k;
	IndexScanDesc scan;
	ScanKeyData skey;
	TupleTableSlot *slot;
	Datum		keyval;
	bool		found = false;
	bool		locked = false;

	if (!esc_ticket_lock_direct)
		return false;
	rel = table_open(src->relid, RowShareLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relrowsecurity ||
		pg_class_aclcheck(src->relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		pg_class_aclcheck(src->relid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
	{
		table_close(rel, RowShareLock);
		return false;
	}
	k = key_index_get(rel, src->cols[ESC_ROLE_KEY].attnum);
	if (!k->usable)
	{
		table_close(rel, RowShareLock);
		return false;
	}

	keyval = OidInputFunctionCall(k->typinput, unconstify(char *, key), k->typioparam, -1);

	/* the statement's snapshot: SPI takes a new one for a writing statement */
	PushActiveSnapshot(GetTransactionSnapshot());
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();

	index = index_open(k->indexoid, RowShareLock);
	slot = table_slot_create(rel, NULL);
	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   k->collation, k->eqproc, keyval);
	scan = index_beginscan(rel, index, GetActiveSnapshot(), 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);

	if (found)
	{
		ItemPointerData tid = slot->tts_tid;
		TM_FailureData tmfd;
		TM_Result	res;
		int			flags = TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS;

		if (!IsolationUsesXactSnapshot())
			flags |= TUPLE_LOCK_FLAG_FIND_LAST_VERSION;
		res = table_tuple_lock(rel, &tid, GetActiveSnapshot(), slot,
							   GetCurrentCommandId(true), LockTupleNoKeyExclusive,
							   LockWaitBlock, flags, &tmfd);
		switch (res)
		{
			case TM_Ok:
				locked = true;
				if (tmfd.traversed)
				{
					/* a newer version: is it still the ticket of that key? */
					bool		isnull;
					Datum		v = slot_getattr(slot, k->keyatt, &isnull);

					locked = !isnull &&
						DatumGetBool(OidFunctionCall2Coll(k->eqproc, k->collation, v, keyval));
				}
				break;
			case TM_SelfModified:
			case TM_WouldBlock:
				break;			/* as the statement: the row is skipped */
			case TM_Updated:
			case TM_Deleted:
				if (IsolationUsesXactSnapshot())
					ereport(ERROR,
							(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
							 errmsg("could not serialize access due to concurrent update")));
				if (res == TM_Updated)
					elog(ERROR, "unexpected table_tuple_lock status: %u", res);
				break;			/* deleted meanwhile: no row */
			case TM_Invisible:
				elog(ERROR, "attempted to lock invisible tuple");
				break;
			default:
				elog(ERROR, "unrecognized table_tuple_lock status: %u", res);
		}
	}

	if (tuple != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(into);

		*tuple = locked ? ExecCopySlotHeapTuple(slot) : NULL;
		*desc = CreateTupleDescCopy(RelationGetDescr(rel));
		MemoryContextSwitchTo(old);
	}
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(rel, NoLock);
	PopActiveSnapshot();
	return true;
}
