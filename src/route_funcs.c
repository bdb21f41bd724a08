/*-------------------------------------------------------------------------
 *
 * route_funcs.c
 *	  SQL-callable routing: escalation.route_plan(as_of, max_decisions),
 *	  the decisions of one batch, which escalation.route() then applies
 *	  under lock; and escalation.explain_route(escalation_id, as_of),
 *	  every agent with each factor, its total, or why it was excluded.
 *
 * route_plan() reads the agents once (route_data.c), walks the queue in
 * urgency order a chunk at a time, and decides each escalation in C
 * (route.c).  It writes nothing: it counts its own offers against the
 * agents' capacity as it goes, so one batch spreads the work, but the
 * capacity that counts is the one route() re-reads with the agent's row
 * locked.  It stops after max_decisions decisions, when no agent has a
 * free slot, or at the end of the queue; an escalation nobody can take
 * yet is passed over (it keeps its place) unless it has waited long enough
 * to overflow.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "escalation.h"
#include "jsonb_build.h"
#include "route_data.h"

PG_FUNCTION_INFO_V1(escalation_route_plan);
PG_FUNCTION_INFO_V1(escalation_explain_route);

#define TOP_K		3
#define CHUNK		1000		/* most rows fetched at once */
#define MIN_CHUNK	64			/* least rows fetched at once */

static const int *
candidates(EscRouteData *d, const EscRouteRequest *req, int *ncand)
{
	if (req->team >= 0)
	{
		*ncand = d->team_nmembers[req->team];
		return d->team_members[req->team];
	}
	*ncand = req->team == -1 ? d->nagents : 0;
	return d->all_agents;
}

/*
 * The decision is built as a jsonb value directly (jsonb_build.c), its
 * numbers with three decimals, the numbers "%.3f" prints
 * (esc_numeric_fixed3()).  Factor values repeat across a batch's
 * decisions (availability 1 or 0.5, a few tiers, workloads of a few
 * capacities): a small direct-mapped cache of the numerics already made,
 * keyed by the exact double, lives as long as the batch (in cxt).
 */
#define NUM_CACHE	256

typedef struct NumCache
{
	MemoryContext cxt;
	double		key[NUM_CACHE];
	Numeric		num[NUM_CACHE];
} NumCache;

static Numeric
num3_cached(NumCache *nc, double x)
{
	uint64		bits;
	int			h;
	MemoryContext old;

	memcpy(&bits, &x, sizeof(bits));
	h = (int) ((bits * UINT64CONST(0x9E3779B97F4A7C15)) >> 56) % NUM_CACHE;
	if (nc->num[h] != NULL && memcmp(&nc->key[h], &x, sizeof(x)) == 0)
		return nc->num[h];
	old = MemoryContextSwitchTo(nc->cxt);
	nc->num[h] = esc_numeric_fixed3(x);
	MemoryContextSwitchTo(old);
	nc->key[h] = x;
	return nc->num[h];
}

/* the chosen agent's factors, as stored with the assignment */
static Datum
decision_jsonb(EscRouteData *d, EscRouteItem *it, EscRouteChoice *top,
			   int ntop, int eligible, bool preferred, NumCache *nc)
{
	EscRouteScore sc;
	const EscRouteAgent *a = &d->agents[top[0].agent];
	JsonbParseState *st = NULL;
	JsonbValue *res;

	esc_route_score(&it->req, a, top[0].agent, &d->weights, &sc);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	esc_jb_string(&st, "agent_id", a->agent_id);
	esc_jb_numeric(&st, "total", esc_numeric_fixed3(sc.total));
	esc_jb_key(&st, "factors");
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int f = 0; f < ESC_RF_COUNT; f++)
	{
		esc_jb_key(&st, esc_route_factor_names[f]);
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		esc_jb_numeric(&st, "value", num3_cached(nc, sc.f[f]));
		esc_jb_numeric(&st, "weight", num3_cached(nc, d->weights.w[f]));
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	esc_jb_numeric(&st, "candidates",
			   DatumGetNumeric(DirectFunctionCall1(int4_numeric, Int32GetDatum(eligible))));
	esc_jb_bool(&st, "optional_skills_relaxed", it->has_optional && it->req.relaxed);
	if (preferred)
		esc_jb_bool(&st, "previous_agent", true);
	if (ntop > 1)
	{
		esc_jb_key(&st, "runner_up");
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		esc_jb_string(&st, "agent_id", d->agents[top[1].agent].agent_id);
		esc_jb_numeric(&st, "total", esc_numeric_fixed3(top[1].total));
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

/* why nobody is a candidate: the count of agents per first exclusion */
static void
exclusion_summary(StringInfo buf, EscRouteData *d, EscRouteItem *it)
{
	int			count[ESC_RX_COUNT] = {0};
	int			ncand;
	const int  *cand = candidates(d, &it->req, &ncand);
	bool		any = false;

	for (int c = 0; c < ncand; c++)
		count[esc_route_filter(&it->req, &d->agents[cand[c]], cand[c])]++;
	if (ncand == 0)
	{
		appendStringInfoString(buf, it->team_name ? "team has no agents" : "no agents");
		return;
	}
	for (int x = 1; x < ESC_RX_COUNT; x++)
		if (count[x] > 0)
		{
			appendStringInfo(buf, "%s%s: %d", any ? ", " : "", esc_route_exclusion_names[x], count[x]);
			any = true;
		}
}

static bool
can_take_overflow(EscRouteData *d, EscRouteItem *it, int lead)
{
	const EscRouteAgent *a = &d->agents[lead];

	/* a team lead of another tenant never takes it */
	if (!esc_route_same_tenant(&it->req, a))
		return false;
	if (!a->active || a->availability == ESC_AVAIL_OFFLINE ||
		(a->has_shift && !a->in_shift) || a->load >= a->capacity)
		return false;
	for (int i = 0; i < it->req.nskip; i++)
		if (it->req.skip[i] == lead)
			return false;
	return true;
}

typedef struct RouteBatch
{
	ReturnSetInfo *rsinfo;
	EscRouteData *d;
	int			emitted;
	int			free_agents;
	int		   *cand;			/* the pre-filter's agents, nagents at most */
	double	   *continuity_of;	/* by agent index, 0 but while deciding */
	NumCache   *numbers;
} RouteBatch;

/* an offer of this batch counts against the agent */
static void
count_offer(RouteBatch *ps, int agent)
{
	EscRouteAgent *a = &ps->d->agents[agent];

	a->load++;
	if (a->load == a->capacity)
	{
		ps->free_agents--;
		esc_route_agent_full(ps->d, agent);
	}
}

static void
emit(RouteBatch *ps, int64 id, const char *action, List *agents, List *totals,
	 Datum decision, int eligible, const char *note)
{
	Datum		values[7];
	bool		nulls[7] = {0};
	int			n = list_length(agents);
	Datum	   *ad = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *td = palloc(sizeof(Datum) * Max(n, 1));
	int			i = 0;
	ListCell   *lc,
			   *lt;

	forboth(lc, agents, lt, totals)
	{
		ad[i] = CStringGetTextDatum((char *) lfirst(lc));
		td[i] = Float8GetDatum(*(double *) lfirst(lt));
		i++;
	}
	values[0] = Int64GetDatum(id);
	values[1] = CStringGetTextDatum(action);
	values[2] = PointerGetDatum(construct_array(ad, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(td, n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[4] = decision;
	values[5] = Int32GetDatum(eligible);
	if (note)
		values[6] = CStringGetTextDatum(note);
	else
		nulls[6] = true;
	tuplestore_putvalues(ps->rsinfo->setResult, ps->rsinfo->setDesc, values, nulls);
	ps->emitted++;
}

/*
 * The highest tier of an active agent that may serve req (its tenant's or
 * every tenant's), 0 when there is none.  Only an overflow asks, so a pass
 * over the agents is cheap enough.
 */
static int
top_tier_for(const EscRouteData *d, const EscRouteRequest *req)
{
	int			top = 0;

	for (int i = 0; i < d->nagents; i++)
		if (d->agents[i].active && esc_route_same_tenant(req, &d->agents[i]))
			top = Max(top, d->agents[i].tier);
	return top;
}

static void
decide_one(RouteBatch *ps, EscRouteItem *it)
{
	EscRouteData *d = ps->d;
	EscRouteChoice top[TOP_K];
	bool		preferred;
	int			ncand = esc_route_prefilter(d, &it->req, ps->cand);
	int			eligible;
	StringInfoData buf;

	eligible = esc_route_choose(&it->req, d->agents, ps->cand, ncand, &d->weights,
								TOP_K, top, &preferred);
	if (eligible > 0)
	{
		int			ntop = Min(eligible, TOP_K);
		List	   *agents = NIL,
				   *totals = NIL;
		EscRouteAgent *a = &d->agents[top[0].agent];

		for (int i = 0; i < ntop; i++)
		{
			double	   *t = palloc(sizeof(double));

			*t = top[i].total;
			agents = lappend(agents, d->agents[top[i].agent].agent_id);
			totals = lappend(totals, t);
		}
		emit(ps, it->escalation_id, "offer", agents, totals,
			 decision_jsonb(d, it, top, ntop, eligible, preferred, ps->numbers), eligible,
			 preferred ? "previous agent of the reopened ticket" :
			 (it->has_optional && it->req.relaxed) ? "optional skills relaxed" : NULL);
		/* count the offer against the agent for the rest of the batch */
		count_offer(ps, top[0].agent);
		a->since_last = 0;
		return;
	}

	/* nobody fits: overflow once optional skills are relaxed and it waited */
	if (!it->req.relaxed ||
		d->as_of - it->overflow_at < (int64) (d->overflow_after * USECS_PER_SEC))
		return;
	{
		int			lead = -1;
		int			tier;
		StringInfoData why;
		List	   *agents = NIL,
				   *totals = NIL;

		initStringInfo(&buf);
		initStringInfo(&why);
		appendStringInfoString(&why, "no agent fits (");
		exclusion_summary(&why, d, it);
		appendStringInfoChar(&why, ')');

		if (it->req.team >= 0 && d->team_lead_id[it->req.team] != NULL)
			lead = esc_route_agent_index(d, d->team_lead_id[it->req.team]);
		if (lead >= 0 && !can_take_overflow(d, it, lead))
			lead = -1;
		tier = it->req.tier > 0 ? it->req.tier :
			it->req.team >= 0 ? d->team_tier[it->req.team] : 1;
		/*
		 * Nowhere higher to go: no active agent that may serve it (of its
		 * tenant or of every tenant, offline or not) has a higher tier, so
		 * the next tier could never be routed and each batch would only
		 * climb one more tier, up to 9.  It stays queued at its tier; once
		 * such an agent of a higher tier is added or activated, a later
		 * batch overflows it.
		 */
		if (lead < 0 && tier >= Min(9, top_tier_for(d, &it->req)))
			return;
		appendStringInfoString(&buf, "{\"overflow\": {\"reason\": ");
		escape_json(&buf, why.data);
		if (lead >= 0)
		{
			double	   *t = palloc0(sizeof(double));

			appendStringInfoString(&buf, ", \"to\": \"team lead\", \"agent_id\": ");
			escape_json(&buf, d->agents[lead].agent_id);
			agents = list_make1(d->agents[lead].agent_id);
			totals = list_make1(t);
			count_offer(ps, lead);
		}
		else
			appendStringInfo(&buf, ", \"to\": \"next tier\", \"tier\": %d", tier + 1);
		appendStringInfoString(&buf, "}}");
		emit(ps, it->escalation_id, "overflow", agents, totals, esc_cstring_to_jsonb(buf.data),
			 0, why.data);
	}
}

/*
 * Decide one escalation, with its continuity spread over an array by agent
 * index for the time of the decision (the score reads it once per
 * candidate), then cleared for the next one.
 */
static void
decide(RouteBatch *ps, EscRouteItem *it)
{
	EscRouteRequest *req = &it->req;

	for (int k = 0; k < req->ncontinuity; k++)
		ps->continuity_of[req->continuity_agent[k]] = req->continuity[k];
	req->continuity_of = ps->continuity_of;
	decide_one(ps, it);
	req->continuity_of = NULL;
	for (int k = 0; k < req->ncontinuity; k++)
		ps->continuity_of[req->continuity_agent[k]] = 0.0;
}

/*
 * escalation.route_plan(as_of timestamptz, max_decisions integer)
 *	 RETURNS TABLE (escalation_id bigint, action text, agent_ids text[],
 *					totals float8[], decision jsonb, candidates integer, note text)
 */
Datum
escalation_route_plan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz as_of;
	int32		max_decisions;
	RouteBatch	ps;
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext chunk_cxt;
	MemoryContext decision_cxt;
	Portal		portal;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_GETARG_INT32(1) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("route_plan needs an instant and a number of decisions of at least 0")));
	as_of = PG_GETARG_TIMESTAMPTZ(0);
	max_decisions = PG_GETARG_INT32(1);

	InitMaterializedSRF(fcinfo, 0);
	memset(&ps, 0, sizeof(ps));
	ps.rsinfo = rsinfo;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ps.d = esc_route_load(as_of, outer);
	for (int i = 0; i < ps.d->nagents; i++)
	{
		EscRouteAgent *a = &ps.d->agents[i];

		if (a->active && a->availability != ESC_AVAIL_OFFLINE && a->load < a->capacity)
			ps.free_agents++;
	}
	ps.cand = MemoryContextAlloc(ps.d->cxt, sizeof(int) * Max(ps.d->nagents, 1));
	ps.continuity_of = MemoryContextAllocZero(ps.d->cxt, sizeof(double) * Max(ps.d->nagents, 1));
	ps.numbers = MemoryContextAllocZero(ps.d->cxt, sizeof(NumCache));
	ps.numbers->cxt = ps.d->cxt;
	chunk_cxt = AllocSetContextCreate(outer, "escalation routing chunk", ALLOCSET_DEFAULT_SIZES);
	decision_cxt = AllocSetContextCreate(outer, "escalation routing decision",
										 0, 64 * 1024, ALLOCSET_DEFAULT_MAXSIZE);

	portal = esc_route_queue_open();
	while (ps.emitted < max_decisions && ps.free_agents > 0)
	{
		EscRouteItem *items;
		int			n;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();

		/*
		 * No more rows than decisions still wanted (each row costs its share
		 * of the chunk's facts query), unless few are wanted
		 */
		SPI_cursor_fetch(portal, true,
						 Min(CHUNK, Max(MIN_CHUNK, max_decisions - ps.emitted)));
		if (SPI_processed == 0)
			break;
		MemoryContextReset(chunk_cxt);
		old = MemoryContextSwitchTo(chunk_cxt);
		items = palloc(sizeof(EscRouteItem) * SPI_processed);
		n = esc_route_items(ps.d, SPI_tuptable, SPI_processed, items);
		SPI_freetuptable(SPI_tuptable);
		MemoryContextSwitchTo(chunk_cxt);
		esc_route_chunk_facts(ps.d, items, n);
		MemoryContextSwitchTo(chunk_cxt);
		for (int i = 0; i < n && ps.emitted < max_decisions && ps.free_agents > 0; i++)
		{
			/* a decision's memory is reused by the next: no fresh pages */
			MemoryContextSwitchTo(decision_cxt);
			decide(&ps, &items[i]);
			MemoryContextReset(decision_cxt);
		}
		MemoryContextSwitchTo(old);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextDelete(chunk_cxt);
	MemoryContextDelete(decision_cxt);
	MemoryContextDelete(ps.d->cxt);
	return (Datum) 0;
}

/* why an agent is excluded, in words */
static char *
exclusion_text(EscRouteData *d, EscRouteItem *it, int i, EscRouteExclusion x)
{
	const EscRouteAgent *a = &d->agents[i];

	switch (x)
	{
		case ESC_RX_NONE:
			return NULL;
		case ESC_RX_TENANT:
			return pstrdup("other tenant");
		case ESC_RX_INACTIVE:
			return pstrdup("inactive");
		case ESC_RX_OFFLINE:
			return pstrdup("offline");
		case ESC_RX_OUTSIDE_SHIFT:
			return psprintf("outside its shift (calendar \"%s\")", d->agent_calendar[i]);
		case ESC_RX_SKIPPED:
			return pstrdup("declined this escalation or let its offer time out");
		case ESC_RX_TEAM:
			return psprintf("not in team \"%s\"", it->team_name);
		case ESC_RX_TIER:
			return psprintf("tier %d is below the target tier %d", a->tier, it->req.tier);
		case ESC_RX_SKILL:
		case ESC_RX_OPTIONAL_SKILL:
			{
				ArrayType  *arr = x == ESC_RX_SKILL ? it->mandatory : it->optional;
				Datum	   *el;
				bool	   *nulls;
				int			n;

				deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &el, &nulls, &n);
				for (int k = 0; k < n; k++)
				{
					char	   *name;
					int			s;

					if (nulls[k])
						continue;
					name = TextDatumGetCString(el[k]);
					s = esc_route_skill_index(d, name);
					if (s < 0 || a->levels[s] == 0)
						return x == ESC_RX_SKILL
							? psprintf("lacks the mandatory skill \"%s\"", name)
							: psprintf("lacks the optional skill \"%s\" (required until it has waited %g minutes)",
									   name, d->relax_after / 60.0);
				}
				return pstrdup("lacks a skill");
			}
		case ESC_RX_CAPACITY:
			return psprintf("at capacity (%d of %d)", a->load, a->capacity);
		case ESC_RX_COUNT:
			break;
	}
	return NULL;
}

typedef struct Ranked
{
	int			agent;
	double		total;
	bool		preferred;
} Ranked;

static int
cmp_ranked(const void *a, const void *b)
{
	const Ranked *x = a;
	const Ranked *y = b;

	if (x->preferred != y->preferred)
		return x->preferred ? -1 : 1;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return x->agent - y->agent;
}

/*
 * escalation.explain_route(escalation_id bigint, as_of timestamptz)
 *	 RETURNS TABLE (agent_id text, rank integer, total float8, skills float8,
 *		tier float8, workload float8, availability float8, shift float8,
 *		language float8, continuity float8, fairness float8, excluded_because text)
 */
Datum
escalation_explain_route(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		id;
	TimestampTz as_of;
	MemoryContext outer = CurrentMemoryContext;
	EscRouteData *d;
	EscRouteItem item;
	Ranked	   *ranked;
	int			nranked = 0;
	int			ncand;
	const int  *cand;
	bool	   *in_cand;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("explain_route needs an escalation and an instant")));
	id = PG_GETARG_INT64(0);
	as_of = PG_GETARG_TIMESTAMPTZ(1);
	InitMaterializedSRF(fcinfo, 0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	d = esc_route_load(as_of, outer);
	if (!esc_route_fetch_one(id))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("escalation %lld does not exist", (long long) id)));
	MemoryContextSwitchTo(d->cxt);
	esc_route_items(d, SPI_tuptable, 1, &item);
	esc_route_chunk_facts(d, &item, 1);
	MemoryContextSwitchTo(d->cxt);

	cand = candidates(d, &item.req, &ncand);
	in_cand = palloc0(sizeof(bool) * Max(d->nagents, 1));
	for (int c = 0; c < ncand; c++)
		in_cand[cand[c]] = true;
	ranked = palloc(sizeof(Ranked) * Max(d->nagents, 1));
	for (int i = 0; i < d->nagents; i++)
	{
		EscRouteScore sc;

		if (!in_cand[i])
			continue;
		esc_route_score(&item.req, &d->agents[i], i, &d->weights, &sc);
		if (sc.excluded != ESC_RX_NONE)
			continue;
		ranked[nranked].agent = i;
		ranked[nranked].total = sc.total;
		ranked[nranked].preferred = i == item.req.prefer &&
			d->agents[i].availability == ESC_AVAIL_ONLINE;
		nranked++;
	}
	qsort(ranked, nranked, sizeof(Ranked), cmp_ranked);

	/* candidates, best first, then the excluded ones by agent_id */
	for (int pass = 0; pass < 2; pass++)
	{
		int			n = pass == 0 ? nranked : d->nagents;

		for (int r = 0; r < n; r++)
		{
			int			i = pass == 0 ? ranked[r].agent : r;
			Datum		values[12];
			bool		nulls[12] = {0};
			EscRouteScore sc;

			esc_route_score(&item.req, &d->agents[i], i, &d->weights, &sc);
			if (pass == 1 && in_cand[i] && sc.excluded == ESC_RX_NONE)
				continue;
			values[0] = CStringGetTextDatum(d->agents[i].agent_id);
			if (pass == 0)
			{
				values[1] = Int32GetDatum(r + 1);
				values[2] = Float8GetDatum(round(sc.total * 1000) / 1000);
				for (int f = 0; f < ESC_RF_COUNT; f++)
					values[3 + f] = Float8GetDatum(round(sc.f[f] * 1000) / 1000);
				if (ranked[r].preferred)
					values[11] = CStringGetTextDatum("(chosen first: previous agent of the reopened ticket)");
				else
					nulls[11] = true;
			}
			else
			{
				for (int c = 1; c < 11; c++)
					nulls[c] = true;
				values[11] = CStringGetTextDatum(in_cand[i]
												 ? exclusion_text(d, &item, i, sc.excluded)
												 : psprintf("not in team \"%s\"", item.team_name ? item.team_name : ""));
			}
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	SPI_finish();
	MemoryContextDelete(d->cxt);
	return (Datum) 0;
}
