/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The escalation.* configuration parameters.
 *
 * Contexts are chosen deliberately: escalation.enabled is PGC_SUSET so that
 * a superuser's bulk load can switch the triggers off for its own session
 * while an application role cannot; the context sizes only shape what is
 * stored with an escalation, so any session may tune them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "escalation.h"

bool		esc_enabled = true;
int			esc_context_messages = 5;
int			esc_context_tickets = 5;
int			esc_memo_size = 65536;

void
esc_define_gucs(void)
{
	DefineCustomBoolVariable("escalation.enabled",
							 "Evaluates escalation rules in the triggers of attached tables.",
							 "When off, attached tables are written as if nothing were attached.",
							 &esc_enabled,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("escalation.context_messages",
							"Number of recent messages stored in an escalation's context.",
							NULL,
							&esc_context_messages,
							5, 0, 100,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("escalation.context_tickets",
							"Number of the requester's other recent tickets stored in an escalation's context.",
							NULL,
							&esc_context_tickets,
							5, 0, 100,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("escalation.word_cache_size",
							"Distinct words per source whose stems a backend remembers.",
							"Words are stemmed through the text search dictionaries once, then remembered; "
							"the cache starts over when it is full.",
							&esc_memo_size,
							65536, 1024, 4194304,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	esc_reserve_guc_prefix("escalation");
}
