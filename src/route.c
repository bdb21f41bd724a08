/*-------------------------------------------------------------------------
 *
 * route.c
 *	  The agent fit score and the choice of agents for one escalation.
 *	  Pure: no SPI, no catalog, no allocation.  route_data.c loads the
 *	  agents once per batch and describes each escalation as an
 *	  EscRouteRequest; this file decides.
 *
 * An agent is first filtered (esc_route_filter), in this order, and the
 * first reason that holds is the one explain_route() reports:
 *
 *	 of another tenant (esc_route_same_tenant), inactive, offline, outside
 *	 its shift calendar, skipped (it declined this escalation or let an
 *	 offer of it time out), not in the target team, below the target tier
 *	 (hierarchical escalations only), lacking a mandatory skill, lacking an
 *	 optional skill (until the escalation has waited relax_after), at
 *	 capacity.
 *
 * A candidate then gets one value in [0, 1] per factor, and the total is
 * the weighted sum (weights: escalation.routing_weights):
 *
 *	 skills        mean level / 5 over the requested skills (missing: 0);
 *	               1 when none is requested
 *	 tier          1 - |agent tier - target tier| / 8: the closest tier
 *	               wins, so functional work goes to the team's own people,
 *	               not to a senior or a manager
 *	 workload      1 - load / capacity (load excludes tickets pending on
 *	               the customer)
 *	 availability  online 1, away 0.5
 *	 shift         time left in the current working period / 4 h, at most
 *	               1; 1 without a shift calendar
 *	 language      1 when the agent speaks the escalation's language (or it
 *	               has none), else 0
 *	 continuity    recent resolved escalations with this account or
 *	               requester, 1/3 each, at most 1
 *	 fairness      hours since the agent's last assignment, at most 1;
 *	               1 when never assigned
 *
 * Ties go to the lower agent index, which route_data.c orders by agent_id,
 * so every choice is deterministic.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/float.h"

#include "escalation.h"

const char *const esc_route_factor_names[ESC_RF_COUNT] = {
	"skills", "tier", "workload", "availability", "shift", "language",
	"continuity", "fairness"
};

const double esc_route_default_weights[ESC_RF_COUNT] = {
	3.0,						/* skills */
	1.0,						/* tier */
	2.0,						/* workload */
	1.0,						/* availability */
	0.5,						/* shift */
	2.0,						/* language */
	1.5,						/* continuity */
	1.0							/* fairness */
};

const char *const esc_route_exclusion_names[ESC_RX_COUNT] = {
	NULL, "other tenant", "inactive", "offline", "outside shift", "skipped", "team", "tier",
	"skill", "optional skill", "capacity"
};

#define SHIFT_FULL_SECS		(4.0 * 3600.0)
#define FAIRNESS_FULL_SECS	((double) ESC_ROUTE_FAIRNESS_SECS)

static inline bool
has_all(const uint64 *have, const uint64 *need, int nwords)
{
	for (int i = 0; i < nwords; i++)
		if ((need[i] & ~have[i]) != 0)
			return false;
	return true;
}

/*
 * Routing never crosses tenants: an agent of a tenant serves only that
 * tenant's escalations; an agent without one (NULL: "works for all", the
 * contract of docs/design.md) serves every escalation, with or without a
 * tenant.
 */
bool
esc_route_same_tenant(const EscRouteRequest *req, const EscRouteAgent *a)
{
	return a->tenant == -1 || a->tenant == req->tenant;
}

EscRouteExclusion
esc_route_filter(const EscRouteRequest *req, const EscRouteAgent *a, int index)
{
	if (!esc_route_same_tenant(req, a))
		return ESC_RX_TENANT;
	if (!a->active)
		return ESC_RX_INACTIVE;
	if (a->availability == ESC_AVAIL_OFFLINE)
		return ESC_RX_OFFLINE;
	if (a->has_shift && !a->in_shift)
		return ESC_RX_OUTSIDE_SHIFT;
	for (int i = 0; i < req->nskip; i++)
		if (req->skip[i] == index)
			return ESC_RX_SKIPPED;
	if (req->team != -1 && a->team != req->team)
		return ESC_RX_TEAM;
	if (req->hierarchical && req->tier > 0 && a->tier < req->tier)
		return ESC_RX_TIER;
	if (req->unknown_skill || !has_all(a->skills, req->mandatory, req->nwords))
		return ESC_RX_SKILL;
	if (!req->relaxed &&
		(req->unknown_optional || !has_all(a->skills, req->optional, req->nwords)))
		return ESC_RX_OPTIONAL_SKILL;
	if (a->load >= a->capacity)
		return ESC_RX_CAPACITY;
	return ESC_RX_NONE;
}

/* each factor's value, 0..1 */
static inline double
f_skills(const EscRouteRequest *req, const EscRouteAgent *a)
{
	double		sum = 0;

	if (req->nrequested == 0)
		return 1.0;
	for (int i = 0; i < req->nrequested; i++)
		sum += a->levels[req->requested[i]];
	return sum / (5.0 * req->nrequested);
}

static inline double
f_tier(const EscRouteRequest *req, const EscRouteAgent *a)
{
	int			target = req->tier > 0 ? req->tier : 1;
	int			d = a->tier > target ? a->tier - target : target - a->tier;

	return 1.0 - d / 8.0;
}

static inline double
f_workload(const EscRouteAgent *a)
{
	return a->capacity > 0 ? 1.0 - (double) a->load / a->capacity : 0.0;
}

static inline double
f_availability(const EscRouteAgent *a)
{
	return a->availability == ESC_AVAIL_ONLINE ? 1.0 : 0.5;
}

static inline double
f_shift(const EscRouteAgent *a)
{
	if (!a->has_shift)
		return 1.0;
	return Min(1.0, Max(0.0, a->shift_left) / SHIFT_FULL_SECS);
}

static inline double
f_language(const EscRouteRequest *req, const EscRouteAgent *a)
{
	if (req->language == -1)
		return 1.0;
	if (req->language < 0 || req->language >= 64)
		return 0.0;
	return (a->languages & (UINT64CONST(1) << req->language)) ? 1.0 : 0.0;
}

static inline double
f_continuity(const EscRouteRequest *req, int index)
{
	if (req->continuity_of)
		return req->continuity_of[index];
	for (int i = 0; i < req->ncontinuity; i++)
		if (req->continuity_agent[i] == index)
			return req->continuity[i];
	return 0.0;
}

static inline double
f_fairness(const EscRouteAgent *a)
{
	if (a->since_last < 0)
		return 1.0;
	return Min(1.0, a->since_last / FAIRNESS_FULL_SECS);
}

static double
factor_value(const EscRouteRequest *req, const EscRouteAgent *a, int index, int f)
{
	switch (f)
	{
		case ESC_RF_SKILLS:
			return f_skills(req, a);
		case ESC_RF_TIER:
			return f_tier(req, a);
		case ESC_RF_WORKLOAD:
			return f_workload(a);
		case ESC_RF_AVAILABILITY:
			return f_availability(a);
		case ESC_RF_SHIFT:
			return f_shift(a);
		case ESC_RF_LANGUAGE:
			return f_language(req, a);
		case ESC_RF_CONTINUITY:
			return f_continuity(req, index);
		case ESC_RF_FAIRNESS:
			return f_fairness(a);
	}
	return 0.0;
}

/*
 * The weighted sum as esc_route_choose() ranks it: the factors in order,
 * those of weight 0 left out, written out so that the compiler sees one
 * straight line per candidate (the same arithmetic as factor_value()).
 */
static inline double
candidate_total(const EscRouteRequest *req, const EscRouteAgent *a, int index,
				const EscRouteWeights *w)
{
	double		total = 0;

	if (w->w[ESC_RF_SKILLS] != 0)
		total += w->w[ESC_RF_SKILLS] * f_skills(req, a);
	if (w->w[ESC_RF_TIER] != 0)
		total += w->w[ESC_RF_TIER] * f_tier(req, a);
	if (w->w[ESC_RF_WORKLOAD] != 0)
		total += w->w[ESC_RF_WORKLOAD] * f_workload(a);
	if (w->w[ESC_RF_AVAILABILITY] != 0)
		total += w->w[ESC_RF_AVAILABILITY] * f_availability(a);
	if (w->w[ESC_RF_SHIFT] != 0)
		total += w->w[ESC_RF_SHIFT] * f_shift(a);
	if (w->w[ESC_RF_LANGUAGE] != 0)
		total += w->w[ESC_RF_LANGUAGE] * f_language(req, a);
	if (w->w[ESC_RF_CONTINUITY] != 0)
		total += w->w[ESC_RF_CONTINUITY] * f_continuity(req, index);
	if (w->w[ESC_RF_FAIRNESS] != 0)
		total += w->w[ESC_RF_FAIRNESS] * f_fairness(a);
	return total;
}

/*
 * Every factor and the total, also for an excluded agent (explain_route
 * shows what it would have scored); out->excluded says whether it counts.
 */
void
esc_route_score(const EscRouteRequest *req, const EscRouteAgent *a, int index,
				const EscRouteWeights *w, EscRouteScore *out)
{
	out->excluded = esc_route_filter(req, a, index);
	out->total = 0;
	for (int f = 0; f < ESC_RF_COUNT; f++)
	{
		out->f[f] = factor_value(req, a, index, f);
		out->total += w->w[f] * out->f[f];
	}
}

/*
 * The k best candidates among cand (agent indexes, ascending; all agents
 * when cand is NULL, ncand of them), best first, into top.  Returns how
 * many agents are candidates at all.  *preferred is set when the request's
 * preferred agent (a reopened ticket's previous agent) is a candidate and
 * online: it then comes first whatever its score.
 */
int
esc_route_choose(const EscRouteRequest *req, const EscRouteAgent *agents,
				 const int *cand, int ncand, const EscRouteWeights *w,
				 int k, EscRouteChoice *top, bool *preferred)
{
	int			ntop = 0;
	int			eligible = 0;

	*preferred = false;
	for (int c = 0; c < ncand; c++)
	{
		int			i = cand ? cand[c] : c;
		const EscRouteAgent *a = &agents[i];
		double		total;
		int			pos;

		if (esc_route_filter(req, a, i) != ESC_RX_NONE)
			continue;
		eligible++;
		total = candidate_total(req, a, i, w);
		if (i == req->prefer && a->availability == ESC_AVAIL_ONLINE)
		{
			*preferred = true;
			total = get_float8_infinity();
		}
		/* insert into the sorted top k; equal totals keep the earlier agent */
		if (ntop == k && total <= top[k - 1].total)
			continue;
		pos = ntop < k ? ntop++ : k - 1;
		while (pos > 0 && top[pos - 1].total < total)
		{
			top[pos] = top[pos - 1];
			pos--;
		}
		top[pos].agent = i;
		top[pos].total = total;
	}
	/* the preferred agent's real total, for the record */
	if (*preferred)
	{
		double		total = 0;

		for (int f = 0; f < ESC_RF_COUNT; f++)
			total += w->w[f] * factor_value(req, &agents[top[0].agent], top[0].agent, f);
		top[0].total = total;
	}
	return eligible;
}
