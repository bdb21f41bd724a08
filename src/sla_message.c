/*-------------------------------------------------------------------------
 *
 * sla_message.c
 *	  What a customer-visible message changes on its ticket's SLA clocks.
 *	  Pure: no SPI, no catalog, no allocation.  sla.c reads the ticket's
 *	  state (escalation.sla_tickets, its open response clocks, which
 *	  targets its policy has) and writes what this file decides.
 *
 * The rules, for a message dated `at` on a ticket under an SLA:
 *
 *	 - The ticket's first message opens it (first_message_at).  An agent's
 *	   opening (a phone ticket, an outbound conversation) is no response:
 *	   it meets no clock, starts none, and the first response the message
 *	   trigger recorded for it just before is deleted.
 *	 - Nothing more for a ticket without a policy.
 *	 - An agent's reply meets every running or paused first_response,
 *	   next_response and periodic_update clock started at or before it,
 *	   and, unless the ticket is solved (or other), starts a new round of
 *	   periodic_update (paused while the ticket is pending) when the
 *	   policy has that target.
 *	 - A customer's message starts next_response (paused while pending)
 *	   when the policy has that target, the ticket is not solved, and no
 *	   next_response clock is already running or paused: the oldest
 *	   waiting message starts the clock, later ones wait with it.
 *
 * Most messages change nothing (a customer's follow-up while a reply is
 * awaited, any message on a ticket whose policy has no next_response or
 * periodic_update target once it has been answered); sla.c then writes
 * nothing and takes no lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "sla_message.h"

static const char *const metric_names[] = {
	NULL, "first_response", "next_response", "periodic_update"
};

EscSlaMetric
esc_sla_metric_from_name(const char *name)
{
	for (int m = ESC_SLA_FIRST_RESPONSE; m <= ESC_SLA_PERIODIC_UPDATE; m++)
		if (strcmp(name, metric_names[m]) == 0)
			return (EscSlaMetric) m;
	return ESC_SLA_NONE;
}

const char *
esc_sla_metric_name(EscSlaMetric m)
{
	return (m >= ESC_SLA_FIRST_RESPONSE && m <= ESC_SLA_PERIODIC_UPDATE) ?
		metric_names[m] : NULL;
}

/* does an agent's reply at `at` meet this open clock? */
bool
esc_sla_meets(const EscSlaOpenClock *c, TimestampTz at)
{
	return c->metric != ESC_SLA_NONE && c->started_at <= at;
}

/*
 * Does the decision need the ticket's open response clocks?  Only when the
 * message may meet or start one: they are a second read, which most
 * customer messages (on a ticket whose policy has no next_response target,
 * or that is solved) do without.
 */
bool
esc_sla_message_needs_clocks(const EscSlaTicketState *t, bool by_agent)
{
	if (!t->tracked || !t->has_policy)
		return false;
	if (by_agent)
		return t->opened;		/* an agent's opening meets nothing */
	return !t->closed && t->targets_next_response;
}

/*
 * Decide what a message changes, from the ticket's state with its open
 * response clocks when esc_sla_message_needs_clocks() says they matter.
 * Returns whether anything does; `change` says what, and is all zero when
 * nothing does.
 */
bool
esc_sla_message_decide(const EscSlaTicketState *t, bool by_agent,
					   TimestampTz at, EscSlaMessageChange *change)
{
	memset(change, 0, sizeof(*change));
	if (!t->tracked)
		return false;

	if (!t->opened)
	{
		change->open_ticket = true;
		if (by_agent)
		{
			change->not_a_response = true;
			return true;
		}
	}
	if (!t->has_policy)
		return change->open_ticket;

	if (by_agent)
	{
		for (int i = 0; i < t->nclocks; i++)
			if (esc_sla_meets(&t->clocks[i], at))
				change->nmeet++;
		if (!t->closed && t->targets_periodic_update)
		{
			change->start = ESC_SLA_PERIODIC_UPDATE;
			change->start_paused = t->pending;
		}
	}
	else if (!t->closed && t->targets_next_response)
	{
		bool		waiting = false;

		for (int i = 0; i < t->nclocks; i++)
			if (t->clocks[i].metric == ESC_SLA_NEXT_RESPONSE)
				waiting = true;
		if (!waiting)
		{
			change->start = ESC_SLA_NEXT_RESPONSE;
			change->start_paused = t->pending;
		}
	}
	return change->open_ticket || change->nmeet > 0 || change->start != ESC_SLA_NONE;
}
