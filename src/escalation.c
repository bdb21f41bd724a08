/*-------------------------------------------------------------------------
 *
 * escalation.c
 *	  Module entry point.  _PG_init only delegates: each subsystem owns its
 *	  own initialisation in its own file.
 *
 * The library works loaded on demand (the first trigger call loads it) and
 * preloaded through shared_preload_libraries; the time-based background
 * worker (shmem.c, launcher.c, worker.c, ddl.c) needs the latter.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "escalation.h"

ESC_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/* nothing of ours may run inside pg_upgrade's binary-upgrade backend */
	if (IsBinaryUpgrade)
		return;

	esc_define_gucs();
	esc_cache_init();

	/* the background worker and what it shares: only when preloaded */
	if (process_shared_preload_libraries_in_progress)
	{
		esc_shmem_init();
		esc_ddl_init();
		esc_launcher_register();
	}
}
