/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every PostgreSQL version difference escalation cares about, and
 *	  nothing else.  Code elsewhere never tests PG_VERSION_NUM.
 *
 * Supported: PostgreSQL 13 to 17 (built and tested on 15).
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESCALATION_COMPAT_H
#define ESCALATION_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM >= 160000
#include "utils/acl.h"
#define esc_class_ownercheck(relid, roleid) \
	object_ownercheck(RelationRelationId, (relid), (roleid))
#else
#include "utils/acl.h"
#define esc_class_ownercheck(relid, roleid) pg_class_ownercheck((relid), (roleid))
#endif

/* MarkGUCPrefixReserved appeared in 15; EmitWarningsOnPlaceholders before */
#if PG_VERSION_NUM >= 150000
#define esc_reserve_guc_prefix(prefix) MarkGUCPrefixReserved(prefix)
#else
#define esc_reserve_guc_prefix(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/* PG_MODULE_MAGIC_EXT (name and version in pg_get_loaded_modules) is 18+ */
#if PG_VERSION_NUM >= 180000
#define ESC_MODULE_MAGIC PG_MODULE_MAGIC_EXT(.name = "escalation", .version = "0.1")
#else
#define ESC_MODULE_MAGIC PG_MODULE_MAGIC
#endif

/* database ownership (ddl.c) */
#if PG_VERSION_NUM >= 160000
#define esc_database_ownercheck(dboid, roleid) \
	object_ownercheck(DatabaseRelationId, (dboid), (roleid))
#else
#define esc_database_ownercheck(dboid, roleid) pg_database_ownercheck((dboid), (roleid))
#endif

/* a database left half-dropped by an interrupted DROP DATABASE (15.4+, 16+) */
#include "catalog/pg_database.h"
#ifdef DATCONNLIMIT_INVALID_DB
#define esc_database_is_invalid(form) ((form)->datconnlimit == DATCONNLIMIT_INVALID_DB)
#else
#define esc_database_is_invalid(form) false
#endif

/* shared memory is requested from shmem_request_hook from 15 on, from _PG_init before */
#if PG_VERSION_NUM >= 150000
#define ESC_HAVE_SHMEM_REQUEST_HOOK 1
#endif

/* the worker's wait event: a named one from 17 on ("EscalationMain") */
#include "utils/wait_event.h"
#if PG_VERSION_NUM >= 170000
static inline uint32
esc_wait_event(void)
{
	static uint32 event = 0;

	if (event == 0)
		event = WaitEventExtensionNew("EscalationMain");
	return event;
}
#else
#define esc_wait_event() PG_WAIT_EXTENSION
#endif

/* regex memory: malloc'ed (needs pg_regfree) before 16, context-managed after */
#define esc_regfree(re) pg_regfree(re)

/*
 * direct_insert.c: the range table takes the permission infos from 16 on;
 * the generated columns' expressions are per command type from 16 on (an
 * INSERT's are ri_GeneratedExprsI).
 */
#if PG_VERSION_NUM >= 160000
#define esc_init_range_table(estate, rte) \
	ExecInitRangeTable((estate), list_make1(rte), NIL)
#define esc_set_generated(rri, exprs, n) \
	((rri)->ri_GeneratedExprsI = (exprs), (rri)->ri_NumGeneratedNeededI = (n))
#else
#define esc_init_range_table(estate, rte) \
	ExecInitRangeTable((estate), list_make1(rte))
#define esc_set_generated(rri, exprs, n) \
	((rri)->ri_GeneratedExprs = (exprs), (rri)->ri_NumGeneratedNeeded = (n))
#endif

/*
 * pending.c: index_insert() takes whether the row is an unchanged update
 * (the bottom-up deletion hint) from 14 on.
 */
#if PG_VERSION_NUM >= 140000
#define esc_index_insert(index, values, isnull, tid, heap, info) \
	index_insert((index), (values), (isnull), (tid), (heap), UNIQUE_CHECK_NO, false, (info))
#else
#define esc_index_insert(index, values, isnull, tid, heap, info) \
	index_insert((index), (values), (isnull), (tid), (heap), UNIQUE_CHECK_NO, (info))
#endif

#endif							/* ESCALATION_COMPAT_H */
