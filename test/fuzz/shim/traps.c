/*-------------------------------------------------------------------------
 *
 * traps.c
 *	  Backend functions that files linked into a harness refer to but that
 *	  the harness never reaches (SPI, the catalog, fmgr): each aborts the
 *	  run when called, so reaching one is a finding, not a silent no-op.
 *
 * Deliberately compiled without PostgreSQL's headers: only the names
 * matter to the linker.
 *
 *-------------------------------------------------------------------------
 */
extern void shim_trap(const char *name) __attribute__((noreturn));

#define TRAP(f) \
	void f(void); \
	void f(void) { shim_trap(#f); }

/* calendar.c: the cache, SPI and the SQL-callable functions */
TRAP(CacheRegisterRelcacheCallback)
TRAP(CreateTupleDescCopy)
TRAP(DirectFunctionCall1Coll)
TRAP(GetUserId)
TRAP(GetUserIdAndSecContext)
TRAP(SetUserIdAndSecContext)
TRAP(SearchSysCache1)
TRAP(ReleaseSysCache)
TRAP(SPI_connect)
TRAP(SPI_execute_plan)
TRAP(SPI_finish)
TRAP(SPI_getbinval)
TRAP(SPI_getvalue)
TRAP(cstring_to_text)
TRAP(text_to_cstring)
TRAP(get_call_result_type)
TRAP(get_extension_oid)
TRAP(get_namespace_oid)
TRAP(get_relname_relid)
TRAP(interval_out)
TRAP(pg_detoast_datum_packed)
TRAP(tuplestore_begin_heap)
TRAP(tuplestore_putvalues)
TRAP(esc_prepare_kept_plan)
TRAP(pg_tzset)
TRAP(pg_tz_acceptable)

/* rules.c: renewal windows (timestamp arithmetic) and the regex engine's
 * compiler, which the rules harness replaces */
TRAP(DirectFunctionCall2Coll)
TRAP(timestamp2tm)
TRAP(timestamptz_pl_interval)

/* triage.c: a stored model that is toasted (the harness passes it inline) */
TRAP(detoast_attr)
TRAP(table_open)
TRAP(table_close)

int			work_mem = 4096;
void	   *SPI_tuptable = 0;
unsigned long SPI_processed = 0;
