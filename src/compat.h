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

/* regex memory: malloc'ed (needs pg_regfree) before 16, context-managed after */
#define esc_regfree(re) pg_regfree(re)

#endif							/* ESCALATION_COMPAT_H */
