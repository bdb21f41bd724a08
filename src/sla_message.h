/*-------------------------------------------------------------------------
 *
 * sla_message.h
 *	  What a customer-visible message changes on a ticket's SLA clocks
 *	  (sla_message.c: pure; sla.c reads the state and writes the change).
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESC_SLA_MESSAGE_H
#define ESC_SLA_MESSAGE_H

#include "datatype/timestamp.h"

/* the clocks a message can start or meet */
typedef enum EscSlaMetric
{
	ESC_SLA_NONE = 0,
	ESC_SLA_FIRST_RESPONSE,
	ESC_SLA_NEXT_RESPONSE,
	ESC_SLA_PERIODIC_UPDATE
} EscSlaMetric;

/* one of the ticket's response clocks that is running or paused */
typedef struct EscSlaOpenClock
{
	EscSlaMetric metric;
	TimestampTz started_at;
} EscSlaOpenClock;

/* the ticket's SLA state, as escalation.sla_tickets and its clocks hold it */
typedef struct EscSlaTicketState
{
	bool		tracked;		/* has an sla_tickets row; nothing else is
								 * read without one */
	bool		opened;			/* first_message_at is set */
	bool		has_policy;		/* policy_id is set */
	bool		closed;			/* status solved or other */
	bool		pending;		/* status pending */
	bool		targets_next_response;	/* the policy has these targets */
	bool		targets_periodic_update;
	int			nclocks;
	const EscSlaOpenClock *clocks;	/* running or paused first_response,
									 * next_response, periodic_update clocks
									 * (read only when the decision needs
									 * them) */
} EscSlaTicketState;

/* what to write, in this order */
typedef struct EscSlaMessageChange
{
	bool		open_ticket;	/* set first_message_at to the message's time */
	bool		not_a_response; /* an agent's opening message: delete the
								 * first response recorded for it */
	int			nmeet;			/* response clocks that the reply meets */
	EscSlaMetric start;			/* the clock to start (a new round) */
	bool		start_paused;	/* ... paused: the ticket is pending */
} EscSlaMessageChange;

extern bool esc_sla_message_needs_clocks(const EscSlaTicketState *t, bool by_agent);
extern bool esc_sla_message_decide(const EscSlaTicketState *t, bool by_agent,
								   TimestampTz at, EscSlaMessageChange *change);
extern bool esc_sla_meets(const EscSlaOpenClock *c, TimestampTz at);
extern EscSlaMetric esc_sla_metric_from_name(const char *name);
extern const char *esc_sla_metric_name(EscSlaMetric m);

#endif							/* ESC_SLA_MESSAGE_H */
