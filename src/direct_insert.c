/*-------------------------------------------------------------------------
 *
 * direct_insert.c
 *	  Inserting a row into one of escalation's own tables through the
 *	  executor's row-level API, without a statement: no parse, no plan, no
 *	  executor start for a query.
 *
 * The row trigger writes a new ticket's escalation and its "created"
 * journey event on the helpdesk's write path.  As an INSERT statement run
 * through SPI, most of that cost was the statement's machinery (its plan's
 * start-up, the ON CONFLICT arbiter, RETURNING, a CTE), not the row.  Here
 * the row goes the way logical replication applies one
 * (ExecSimpleRelationInsert): BEFORE ROW triggers, generated columns, CHECK
 * and NOT NULL constraints, the heap, every index (partial ones by their
 * predicate, unique ones checked) and AFTER ROW triggers, so a row written
 * here is the row an INSERT would have written, and a DBA's row triggers on
 * the table fire as they would.
 *
 * What a statement does and this does not: statement-level triggers,
 * transition tables and row security checks.  esc_direct_open() refuses a
 * table that has any of them (the caller then uses its statement), so
 * nothing is silently skipped.
 *
 * What is worked out once per backend and table, and kept until the
 * table's relcache entry is invalidated (ALTER TABLE, CREATE INDEX, a new
 * trigger...): the column defaults (constants kept as values, other
 * defaults, such as an identity column's, as prepared expressions), the
 * generated columns' and CHECK constraints' expressions, and the indexes'
 * predicates, which the executor would otherwise read back from the
 * catalog's text form and plan for every row.
 *
 * Portions Copyright (c) 1996-2022, PostgreSQL Global Development Group
 * (the sequence of calls follows ExecSimpleRelationInsert() and the setup
 * of logical replication's apply worker)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_relation.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "escalation.h"

/* how an attribute gets its value when the caller does not give it */
typedef enum
{
	FILL_GIVEN,					/* the caller gives it */
	FILL_NULL,					/* no default: NULL (or dropped) */
	FILL_CONST,					/* a constant default, kept as a value */
	FILL_EXPR,					/* another default (an identity's next value) */
	FILL_GENERATED				/* a stored generated column */
} FillKind;

struct EscDirect
{
	Oid			relid;
	bool		valid;			/* cleared by the relcache callback */
	bool		current;		/* false: replaced, freed when no longer pinned */
	int			pins;			/* inserts using it now (nested: a trigger's) */
	bool		usable;			/* false: the caller must use its statement */
	MemoryContext cxt;
	int			natts;
	TupleDesc	desc;			/* a copy of the table's */
	int			ncolumns;
	AttrNumber *given;			/* attribute of each of the caller's columns */
	FillKind   *fill;			/* per attribute */
	Datum	   *const_value;
	bool	   *const_null;
	ExprState **default_expr;	/* per attribute, FILL_EXPR */
	ExprState **generated;		/* per attribute, FILL_GENERATED; NULL else */
	int			ngenerated;
	ExprState **checks;			/* per CHECK constraint */
	int			nchecks;
	int			nindexes;
	Oid		   *index_oids;
	ExprState **index_preds;	/* per index, NULL when not partial */
	EscDirect  *next;
};

/* the current state of each table; replaced ones live on until unpinned */
static EscDirect *tables = NULL;
static bool callback_registered = false;

static void
direct_free(EscDirect *d)
{
	if (d->cxt)
		MemoryContextDelete(d->cxt);
	pfree(d);
}

static void
direct_invalidate(Datum arg, Oid relid)
{
	/* only marks: the state may be in use further up the stack */
	for (EscDirect *d = tables; d != NULL; d = d->next)
		if (!OidIsValid(relid) || d->relid == relid)
			d->valid = false;
}

/* the table as a statement would need it: does the row-level path do it all? */
static bool
direct_usable(Relation rel)
{
	TriggerDesc *trig = rel->trigdesc;

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relispartition)
		return false;
	if (rel->rd_rel->relrowsecurity && rel->rd_rel->relforcerowsecurity)
		return false;
	if (trig && (trig->trig_insert_before_statement ||
				 trig->trig_insert_after_statement ||
				 trig->trig_insert_instead_row ||
				 trig->trig_insert_new_table))
		return false;
	return true;
}

static ExprState *
prepare_expr(Expr *expr)
{
	return ExecInitExpr(expression_planner(expr), NULL);
}

/* work out, in d->cxt, what every insert into rel needs */
static void
direct_build(EscDirect *d, Relation rel, const char *const *columns, int ncolumns)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TupleConstr *constr = desc->constr;
	MemoryContext old = MemoryContextSwitchTo(d->cxt);
	List	   *indexes;
	ListCell   *lc;
	int			i;

	d->usable = direct_usable(rel);
	d->natts = desc->natts;
	d->desc = CreateTupleDescCopy(desc);
	d->ncolumns = ncolumns;
	d->given = palloc(sizeof(AttrNumber) * ncolumns);
	d->fill = palloc0(sizeof(FillKind) * desc->natts);
	d->const_value = palloc0(sizeof(Datum) * desc->natts);
	d->const_null = palloc0(sizeof(bool) * desc->natts);
	d->default_expr = palloc0(sizeof(ExprState *) * desc->natts);
	d->generated = palloc0(sizeof(ExprState *) * desc->natts);
	d->ngenerated = 0;

	for (i = 0; i < desc->natts; i++)
		d->fill[i] = FILL_NULL;
	for (int c = 0; c < ncolumns; c++)
	{
		AttrNumber	a = attnameAttNum(rel, columns[c], false);

		if (a <= 0)
			elog(ERROR, "table \"%s\" has no column \"%s\"",
				 RelationGetRelationName(rel), columns[c]);
		d->given[c] = a;
		d->fill[a - 1] = FILL_GIVEN;
	}
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Node	   *expr;

		if (att->attisdropped)
		{
			d->fill[i] = FILL_NULL;
			continue;
		}
		if (att->attgenerated == ATTRIBUTE_GENERATED_STORED)
		{
			expr = build_column_default(rel, i + 1);
			if (expr == NULL)
				elog(ERROR, "no generation expression found for column number %d of table \"%s\"",
					 i + 1, RelationGetRelationName(rel));
			d->generated[i] = prepare_expr((Expr *) expr);
			d->ngenerated++;
			d->fill[i] = FILL_GENERATED;
			continue;
		}
		if (d->fill[i] == FILL_GIVEN)
			continue;
		expr = build_column_default(rel, i + 1);
		if (expr == NULL)
			continue;
		expr = (Node *) expression_planner((Expr *) expr);
		if (IsA(expr, Const))
		{
			Const	   *k = (Const *) expr;

			d->fill[i] = FILL_CONST;
			d->const_null[i] = k->constisnull;
			if (!k->constisnull)
				d->const_value[i] = datumCopy(k->constvalue, att->attbyval, att->attlen);
		}
		else
		{
			d->fill[i] = FILL_EXPR;
			d->default_expr[i] = ExecInitExpr((Expr *) expr, NULL);
		}
	}

	d->nchecks = constr ? constr->num_check : 0;
	d->checks = palloc0(sizeof(ExprState *) * Max(d->nchecks, 1));
	for (i = 0; i < d->nchecks; i++)
		d->checks[i] = prepare_expr((Expr *) stringToNode(constr->check[i].ccbin));

	indexes = RelationGetIndexList(rel);
	d->nindexes = list_length(indexes);
	d->index_oids = palloc0(sizeof(Oid) * Max(d->nindexes, 1));
	d->index_preds = palloc0(sizeof(ExprState *) * Max(d->nindexes, 1));
	i = 0;
	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		Relation	index = index_open(indexoid, AccessShareLock);
		List	   *pred = RelationGetIndexPredicate(index);

		d->index_oids[i] = indexoid;
		if (pred != NIL)
			d->index_preds[i] = ExecInitQual((List *) expression_planner((Expr *) pred), NULL);
		index_close(index, AccessShareLock);
		i++;
	}
	MemoryContextSwitchTo(old);
	d->valid = true;
}

/*
 * The direct-insert state of a table, for rows that give `columns` (in
 * that order) and take every other column's default.  NULL when the table
 * needs a statement (see direct_usable()): the caller uses its statement.
 * The caller keeps the returned pointer only until its insert is done.
 */
EscDirect *
esc_direct_open(Oid relid, const char *const *columns, int ncolumns)
{
	EscDirect **link;
	EscDirect  *d;
	Relation	rel;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(direct_invalidate, (Datum) 0);
		callback_registered = true;
	}
	/* lock first: the invalidations it accepts may clear d->valid */
	rel = table_open(relid, RowExclusiveLock);
	for (link = &tables; *link != NULL; link = &(*link)->next)
		if ((*link)->relid == relid)
			break;
	d = *link;
	if (d != NULL && (!d->valid || d->ncolumns != ncolumns ||
					  d->natts != RelationGetDescr(rel)->natts))
	{
		/* replace it; an insert in progress (further up the stack) keeps the old one */
		*link = d->next;
		d->current = false;
		if (d->pins == 0)
			direct_free(d);
		d = NULL;
	}
	if (d == NULL)
	{
		d = MemoryContextAllocZero(TopMemoryContext, sizeof(EscDirect));
		d->relid = relid;
		d->cxt = AllocSetContextCreate(TopMemoryContext, "escalation direct insert",
									   ALLOCSET_SMALL_SIZES);
		PG_TRY();
		{
			direct_build(d, rel, columns, ncolumns);
		}
		PG_CATCH();
		{
			direct_free(d);
			PG_RE_THROW();
		}
		PG_END_TRY();
		d->current = true;
		d->next = tables;
		tables = d;
	}
	table_close(rel, NoLock);
	return d->usable ? d : NULL;
}

/*
 * Insert one row: values and nulls of the columns given to
 * esc_direct_open(), in its order.  Returns the row as written (in the
 * caller's memory context), after BEFORE triggers and generated columns;
 * NULL if a BEFORE trigger skipped it.  Runs as a command of its own, as SPI
 * runs a statement: it sees what this transaction wrote before it, and
 * what it writes is seen by the commands after it.  Queued AFTER triggers
 * (the table's own and any DBA's row triggers) fire before it returns.
 */
/* the table's row type, for reading what esc_direct_insert() returns */
TupleDesc
esc_direct_desc(EscDirect *d)
{
	return d->desc;
}

static HeapTuple direct_insert_row(EscDirect *d, const Datum *values, const bool *nulls);

static void
direct_unpin(EscDirect *d)
{
	if (--d->pins == 0 && !d->current)
		direct_free(d);
}

HeapTuple
esc_direct_insert(EscDirect *d, const Datum *values, const bool *nulls)
{
	HeapTuple	result;

	Assert(d->current && d->usable);

	d->pins++;
	PG_TRY();
	{
		result = direct_insert_row(d, values, nulls);
	}
	PG_CATCH();
	{
		direct_unpin(d);
		PG_RE_THROW();
	}
	PG_END_TRY();
	direct_unpin(d);
	return result;
}

static HeapTuple
direct_insert_row(EscDirect *d, const Datum *values, const bool *nulls)
{
	MemoryContext caller = CurrentMemoryContext;
	HeapTuple	row;
	Relation	rel;
	EState	   *estate;
	RangeTblEntry *rte;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	ExprContext *econtext;
	MemoryContext old;

	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();

	/*
	 * Locked since esc_direct_open(): no ALTER TABLE can have changed the
	 * table since (d->valid may have been cleared by an unrelated
	 * invalidation, such as a reset of the caches: the state still
	 * describes the table).
	 */
	rel = table_open(d->relid, RowExclusiveLock);
	if (RelationGetDescr(rel)->natts != d->natts)
		elog(ERROR, "table \"%s\" changed under a direct insert",
			 RelationGetRelationName(rel));

	estate = CreateExecutorState();
	old = MemoryContextSwitchTo(estate->es_query_cxt);
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = d->relid;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	esc_init_range_table(estate, rte);
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	/* where the AFTER triggers' queue finds it (else it would open the table again) */
	estate->es_opened_result_relations = lappend(estate->es_opened_result_relations, rri);
	estate->es_output_cid = GetCurrentCommandId(true);
	ExecOpenIndices(rri, false);

	/* the expressions prepared once (see the head of this file) */
	esc_set_generated(rri, d->generated, d->ngenerated);
	if (d->nchecks > 0)
		rri->ri_ConstraintExprs = d->checks;
	for (int i = 0; i < rri->ri_NumIndices; i++)
	{
		IndexInfo  *ii = rri->ri_IndexRelationInfo[i];
		Oid			indexoid = RelationGetRelid(rri->ri_IndexRelationDescs[i]);

		for (int j = 0; j < d->nindexes; j++)
			if (d->index_oids[j] == indexoid)
			{
				ii->ii_PredicateState = d->index_preds[j];
				break;
			}
		if (ii->ii_Predicate != NIL && ii->ii_PredicateState == NULL)
			elog(ERROR, "index %u of table \"%s\" changed under a direct insert",
				 indexoid, RelationGetRelationName(rel));
	}

	slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), &TTSOpsVirtual);
	ExecClearTuple(slot);
	econtext = GetPerTupleExprContext(estate);
	for (int i = 0; i < d->natts; i++)
	{
		switch (d->fill[i])
		{
			case FILL_CONST:
				slot->tts_values[i] = d->const_value[i];
				slot->tts_isnull[i] = d->const_null[i];
				break;
			case FILL_EXPR:
				slot->tts_values[i] = ExecEvalExpr(d->default_expr[i], econtext,
												   &slot->tts_isnull[i]);
				break;
			default:
				/* given below; generated ones are computed on insert */
				slot->tts_values[i] = (Datum) 0;
				slot->tts_isnull[i] = true;
				break;
		}
	}
	for (int c = 0; c < d->ncolumns; c++)
	{
		slot->tts_values[d->given[c] - 1] = values[c];
		slot->tts_isnull[d->given[c] - 1] = nulls[c];
	}
	ExecStoreVirtualTuple(slot);
	MemoryContextSwitchTo(old);

	AfterTriggerBeginQuery();
	ExecSimpleRelationInsert(rri, estate, slot);
	/* the row as written (BEFORE triggers may have changed it), if it was */
	row = NULL;
	if (ItemPointerIsValid(&slot->tts_tid))
	{
		old = MemoryContextSwitchTo(caller);
		row = ExecCopySlotHeapTuple(slot);
		MemoryContextSwitchTo(old);
	}
	AfterTriggerEndQuery(estate);

	/* the cached expressions are not the estate's: do not let it free them */
	esc_set_generated(rri, NULL, 0);
	rri->ri_ConstraintExprs = NULL;
	ExecCloseResultRelations(estate);	/* its indexes, and tables triggers opened */
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	PopActiveSnapshot();
	return row;
}
