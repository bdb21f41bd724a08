/*-------------------------------------------------------------------------
 *
 * escalation.c
 *	  Module entry point.  _PG_init only delegates: each subsystem owns its
 *	  own initialisation in its own file.
 *
 * The library works loaded on demand (the first trigger call loads it) and
 * preloaded through shared_preload_libraries; the time-based background
 * worker, when it exists, needs the latter.
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
}
