/*-------------------------------------------------------------------------
 *
 * route_data.h
 *	  What route_data.c reads for a routing batch, shared with
 *	  route_funcs.c.  route.c (pure) needs only escalation.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ROUTE_DATA_H
#define ROUTE_DATA_H

#include "escalation.h"
#include "utils/array.h"
#include "utils/portal.h"

typedef struct EscRouteData
{
	MemoryContext cxt;
	TimestampTz as_of;
	/* settings (escalation.routing_settings) */
	double		relax_after;	/* seconds */
	double		overflow_after; /* seconds */
	TimestampTz continuity_since;
	EscRouteWeights weights;
	/* agents, sorted by agent_id (and hashed: agent_hash, skill_hash) */
	struct NameHash *agent_hash;
	struct NameHash *skill_hash;
	int			nagents;
	EscRouteAgent *agents;
	char	  **agent_ids;
	char	  **agent_calendar;
	int		   *all_agents;		/* 0 .. nagents - 1 */
	uint64	   *skill_bits;
	uint8	   *skill_levels;
	/* teams, sorted by name */
	int			nteams;
	char	  **team_names;
	int		   *team_tier;
	char	  **team_lead_id;
	int		  **team_members;
	int		   *team_nmembers;
	/* skills, sorted by name; languages in order of first use */
	int			nskills;
	int			nwords;
	char	  **skill_names;
	int			nlanguages;
	char	  **languages;
	/* the agents' tenants (their own, else their team's), sorted */
	int			ntenants;
	char	  **tenant_names;

	/*
	 * Bitmaps over agent indexes (awords words each), a pre-filter that
	 * esc_route_prefilter() combines per escalation so that the C score
	 * visits only agents that may pass esc_route_filter(): the agents that
	 * can take work at all (active, not offline, in their shift, below
	 * capacity: route_plan() clears an agent's bit when it fills up), the
	 * agents of each skill, of each team, of each tenant (with the agents
	 * of every tenant), and the agents of every tenant alone.
	 */
	int			awords;
	uint64	   *open_agents;
	uint64	   *skill_agents;	/* nskills bitmaps */
	uint64	   *team_agents;	/* nteams bitmaps */
	uint64	   *tenant_agents;	/* ntenants bitmaps */
	uint64	   *any_tenant_agents;
	uint64	   *scratch;		/* one bitmap, for the combination */
} EscRouteData;

/* one queued escalation, with its request */
typedef struct EscRouteItem
{
	int64		escalation_id;
	int			severity;
	int32		source_id;
	char	   *ticket_key;
	char	   *tenant;			/* escalations.tenant, NULL none */
	char	   *team_name;
	ArrayType  *mandatory;
	ArrayType  *optional;
	bool		has_optional;
	char	   *language;
	char	   *account;
	char	   *requester;
	char	   *previous_agent;
	TimestampTz created_at;
	TimestampTz overflow_at;	/* last overflow, or created_at */
	EscRouteRequest req;
} EscRouteItem;

extern EscRouteData *esc_route_load(TimestampTz as_of, MemoryContext parent);
extern int	esc_route_agent_index(EscRouteData *d, const char *agent_id);
extern int	esc_route_team_index(EscRouteData *d, const char *team);
extern int	esc_route_skill_index(EscRouteData *d, const char *skill);
extern Portal esc_route_queue_open(void);
extern bool esc_route_fetch_one(int64 escalation_id);
extern int	esc_route_items(EscRouteData *d, SPITupleTable *tt, uint64 n, EscRouteItem *items);
extern int	esc_route_prefilter(EscRouteData *d, const EscRouteRequest *req, int *cand);
extern void esc_route_agent_full(EscRouteData *d, int agent);
extern void esc_route_chunk_facts(EscRouteData *d, EscRouteItem *items, int n);

#endif							/* ROUTE_DATA_H */
