/*-------------------------------------------------------------------------
 *
 * route_data.c
 *	  What routing decides on, read once per batch through SPI: agents
 *	  (with their skills, load, shift and last assignment), teams, skills,
 *	  weights and settings; then the queue in urgency order, a chunk at a
 *	  time, with what each chunk needs besides (who declined, the reopened
 *	  ticket's previous agent, continuity with the account or requester).
 *	  route.c decides; route_funcs.c is what SQL calls.
 *
 * Everything is read as the extension's owner (the callers are SECURITY
 * DEFINER or administrators anyway) with plans prepared once per backend,
 * search_path pinned, operators qualified.  Nothing here is cached across
 * calls: a batch sees the agents as they are when it starts, and the rows
 * it then writes are re-checked under lock (route() in the install script).
 *
 * Names are turned into small integers once: agents, teams and skills are
 * sorted by name (COLLATE "C") and found by binary search, or through a
 * small hash where rows name them by the ten thousand; an agent's skills
 * are a bitmap and a level per skill id, its languages a 64-bit bitmap over
 * the languages the agents speak.
 *
 * Memory: the larger reads go through cursors, FETCH_ROWS rows at a time,
 * each fetch freed before the next, so that a batch reuses the memory it
 * touched instead of touching fresh pages (which costs more than the rows'
 * work on the machines measured: docs/design.md, routing).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "escalation.h"
#include "route_data.h"

static SPIPlanPtr plans[8];

/* rows per cursor fetch: the memory of one fetch is reused by the next */
#define FETCH_ROWS	1000

static SPIPlanPtr
plan(int which, const char *sql, int nargs, Oid *types)
{
	if (plans[which] == NULL)
		plans[which] = esc_prepare_kept_plan(sql, nargs, types);
	return plans[which];
}

static void
run(SPIPlanPtr p, Datum *args, const char *what)
{
	MemoryContext cur = CurrentMemoryContext;

	if (SPI_execute_plan(p, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read %s", what);
	MemoryContextSwitchTo(cur);
}

static char *
col_text(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
find_name(char **names, int n, const char *name)
{
	char	  **hit;

	if (name == NULL || n == 0)
		return -1;
	hit = bsearch(&name, names, n, sizeof(char *), cmp_str);
	return hit ? (int) (hit - names) : -1;
}

/* is the text datum this C string? */
static inline bool
text_is(text *t, const char *s)
{
	int			len = VARSIZE_ANY_EXHDR(t);

	return strncmp(s, VARDATA_ANY(t), len) == 0 && s[len] == '\0';
}

/* a name's index among sorted names, from a text datum (no copy); -1 unknown */
static int
find_text(char **names, int n, text *t)
{
	const char *p = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	int			lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		const char *name = names[mid];
		int			c = strncmp(name, p, len);

		/* strcmp's order: equal for len bytes, then the shorter first */
		if (c == 0)
			c = name[len] == '\0' ? 0 : 1;
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * A hash of sorted names to their indexes, for the look-ups a batch makes
 * by the ten thousand (an agent or a skill per row of agent skills and of
 * continuity): one hash and one comparison instead of a binary search.
 */
typedef struct NameHash
{
	uint32		mask;
	int		   *slot;			/* index + 1, 0 empty */
	int		   *len;			/* length of each name */
	char	  **names;
} NameHash;

static NameHash *
name_hash(char **names, int n)
{
	NameHash   *h = palloc(sizeof(NameHash));
	uint32		size = 16;

	while (size < (uint32) n * 2)
		size <<= 1;
	h->mask = size - 1;
	h->slot = palloc0(sizeof(int) * size);
	h->len = palloc(sizeof(int) * Max(n, 1));
	h->names = names;
	for (int i = 0; i < n; i++)
	{
		uint32		k;

		h->len[i] = strlen(names[i]);
		k = hash_bytes((const unsigned char *) names[i], h->len[i]) & h->mask;
		while (h->slot[k] != 0)
			k = (k + 1) & h->mask;
		h->slot[k] = i + 1;
	}
	return h;
}

/* a name's index from a text datum (no copy); -1 unknown */
static int
name_hash_find(NameHash *h, text *t)
{
	const char *p = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	uint32		k = hash_bytes((const unsigned char *) p, len) & h->mask;

	for (;;)
	{
		int			i = h->slot[k] - 1;

		if (i < 0)
			return -1;
		if (h->len[i] == len && memcmp(h->names[i], p, len) == 0)
			return i;
		k = (k + 1) & h->mask;
	}
}

static int
agent_index_text(EscRouteData *d, text *t)
{
	return name_hash_find(d->agent_hash, t);
}

static int
skill_index_text(EscRouteData *d, text *t)
{
	return name_hash_find(d->skill_hash, t);
}

int
esc_route_agent_index(EscRouteData *d, const char *agent_id)
{
	return find_name(d->agent_ids, d->nagents, agent_id);
}

int
esc_route_team_index(EscRouteData *d, const char *team)
{
	return find_name(d->team_names, d->nteams, team);
}

int
esc_route_skill_index(EscRouteData *d, const char *skill)
{
	return find_name(d->skill_names, d->nskills, skill);
}

static int
language_id(EscRouteData *d, const char *lang, bool add)
{
	for (int i = 0; i < d->nlanguages; i++)
		if (strcmp(d->languages[i], lang) == 0)
			return i;
	if (!add || d->nlanguages >= 64)
		return -2;
	d->languages[d->nlanguages] = pstrdup(lang);
	return d->nlanguages++;
}

/* text[] datum -> C strings */
static int
text_array(Datum arr, char ***out)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				m = 0;

	deconstruct_array(DatumGetArrayTypeP(arr), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	*out = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			(*out)[m++] = TextDatumGetCString(elems[i]);
	return m;
}

typedef struct FirstPeriod
{
	TimestampTz as_of;
	bool		seen;
	bool		in_shift;
	TimestampTz ends;
} FirstPeriod;

static void
first_period(void *arg, TimestampTz starts, TimestampTz ends)
{
	FirstPeriod *fp = arg;

	if (fp->seen)
		return;
	fp->seen = true;
	fp->in_shift = starts <= fp->as_of;
	fp->ends = ends;
}

static void
load_settings(EscRouteData *d)
{
	bool		isnull;
	Datum		v;

	run(plan(0,
			 "SELECT pg_catalog.date_part('epoch', s.relax_after)::pg_catalog.float8, "
			 "       pg_catalog.date_part('epoch', s.overflow_after)::pg_catalog.float8, "
			 "       s.continuity_window FROM escalation.routing_config() s",
			 0, NULL), NULL, "escalation.routing_settings");
	d->relax_after = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	d->overflow_after = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
	d->continuity_since = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
																  TimestampTzGetDatum(d->as_of), v));

	for (int f = 0; f < ESC_RF_COUNT; f++)
		d->weights.w[f] = esc_route_default_weights[f];
	run(plan(1, "SELECT factor, weight FROM escalation.routing_weights", 0, NULL),
		NULL, "escalation.routing_weights");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		char	   *factor = col_text(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);

		for (int f = 0; f < ESC_RF_COUNT; f++)
			if (strcmp(factor, esc_route_factor_names[f]) == 0)
				d->weights.w[f] = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[r],
															   SPI_tuptable->tupdesc, 2, &isnull));
	}
}

/*
 * Agents, with their load and last assignment.  The load is
 * escalation.agent_load() for every agent at once: offered and accepted
 * escalations (escalations_agent, index-only) less those of tickets
 * pending on the customer (sla_tickets_pending), counted per agent in
 * one pass instead of one query per agent.  The last assignment matters
 * only within ESC_ROUTE_FAIRNESS_SECS ($2: as_of less that), after which
 * fairness is 1 as for an agent never offered anything: the offers since
 * then are one range of assignments_recent, not one look-up per agent.
 */
static const char *const agents_sql =
"SELECT a.agent_id, a.team, a.tier, a.capacity, a.availability, a.active, "
"       a.languages, a.calendar, COALESCE(l.load, 0), "
"       pg_catalog.date_part('epoch', $1 OPERATOR(pg_catalog.-) f.last), "
"       COALESCE(a.tenant, t.tenant) "
"  FROM escalation.agents a "
"  LEFT JOIN escalation.teams t ON t.name OPERATOR(pg_catalog.=) a.team "
"  LEFT JOIN (SELECT e.agent_id, pg_catalog.count(*) AS load "
"               FROM escalation.escalations e "
"              WHERE e.status OPERATOR(pg_catalog.=) ANY ('{offered,accepted}'::pg_catalog.text[]) "
"                AND NOT EXISTS (SELECT 1 FROM escalation.sla_tickets p "
"                                 WHERE p.source_id OPERATOR(pg_catalog.=) e.source_id "
"                                   AND p.ticket_key OPERATOR(pg_catalog.=) e.ticket_key "
"                                   AND p.status OPERATOR(pg_catalog.=) 'pending') "
"              GROUP BY e.agent_id) l ON l.agent_id OPERATOR(pg_catalog.=) a.agent_id "
"  LEFT JOIN (SELECT s.agent_id, pg_catalog.max(s.offered_at) AS last "
"               FROM escalation.assignments s "
"              WHERE s.offered_at OPERATOR(pg_catalog.>) $2 "
"              GROUP BY s.agent_id) f ON f.agent_id OPERATOR(pg_catalog.=) a.agent_id "
" ORDER BY a.agent_id COLLATE \"C\"";

/*
 * Read everything but the queue.  Call inside SPI; the result lives in a
 * new context under `parent`.
 */
EscRouteData *
esc_route_load(TimestampTz as_of, MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "escalation routing",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	EscRouteData *d = palloc0(sizeof(EscRouteData));
	Oid			save_userid;
	int			save_sec;
	Oid			agent_types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		agent_args[2];
	int		   *nmembers;
	char	  **cal_names = NULL;
	FirstPeriod *cal_first = NULL;
	int			ncal = 0;
	char	  **agent_tenant;
	int			maxagents;
	Portal		portal;
	int			prev;

	d->cxt = cxt;
	d->as_of = as_of;
	d->languages = palloc(sizeof(char *) * 64);
	esc_become_owner(&save_userid, &save_sec);

	load_settings(d);

	/* teams */
	run(plan(2, "SELECT name, tier, lead_agent FROM escalation.teams "
			 "ORDER BY name COLLATE \"C\"", 0, NULL), NULL, "escalation.teams");
	MemoryContextSwitchTo(cxt);
	d->nteams = SPI_processed;
	d->team_names = palloc(sizeof(char *) * Max(d->nteams, 1));
	d->team_tier = palloc(sizeof(int) * Max(d->nteams, 1));
	d->team_lead_id = palloc(sizeof(char *) * Max(d->nteams, 1));
	for (int t = 0; t < d->nteams; t++)
	{
		bool		isnull;

		d->team_names[t] = col_text(SPI_tuptable->vals[t], SPI_tuptable->tupdesc, 1);
		d->team_tier[t] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[t], SPI_tuptable->tupdesc, 2, &isnull));
		d->team_lead_id[t] = col_text(SPI_tuptable->vals[t], SPI_tuptable->tupdesc, 3);
	}

	/* skills */
	run(plan(3, "SELECT name FROM escalation.skills ORDER BY name COLLATE \"C\"", 0, NULL),
		NULL, "escalation.skills");
	MemoryContextSwitchTo(cxt);
	d->nskills = SPI_processed;
	d->nwords = Max(1, (d->nskills + 63) / 64);
	d->skill_names = palloc(sizeof(char *) * Max(d->nskills, 1));
	for (int s = 0; s < d->nskills; s++)
		d->skill_names[s] = col_text(SPI_tuptable->vals[s], SPI_tuptable->tupdesc, 1);
	d->skill_hash = name_hash(d->skill_names, d->nskills);

	/* agents, with their load and last assignment, FETCH_ROWS at a time */
	agent_args[0] = TimestampTzGetDatum(as_of);
	agent_args[1] = TimestampTzGetDatum(as_of - (int64) ESC_ROUTE_FAIRNESS_SECS * USECS_PER_SEC);
	portal = SPI_cursor_open(NULL, plan(4, agents_sql, 2, agent_types), agent_args, NULL, true);
	maxagents = 256;
	d->agents = palloc0(sizeof(EscRouteAgent) * maxagents);
	d->agent_ids = palloc(sizeof(char *) * maxagents);
	d->agent_calendar = palloc0(sizeof(char *) * maxagents);
	agent_tenant = palloc(sizeof(char *) * maxagents);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		MemoryContextSwitchTo(cxt);
		if (SPI_processed == 0)
			break;
		if (d->nagents + (int) SPI_processed > maxagents)
		{
			int			was = maxagents;

			while (d->nagents + (int) SPI_processed > maxagents)
				maxagents *= 2;
			d->agents = repalloc(d->agents, sizeof(EscRouteAgent) * maxagents);
			memset(&d->agents[was], 0, sizeof(EscRouteAgent) * (maxagents - was));
			d->agent_ids = repalloc(d->agent_ids, sizeof(char *) * maxagents);
			d->agent_calendar = repalloc(d->agent_calendar, sizeof(char *) * maxagents);
			agent_tenant = repalloc(agent_tenant, sizeof(char *) * maxagents);
		}
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			int			i = d->nagents++;
			EscRouteAgent *a = &d->agents[i];
			bool		isnull;
			text	   *avail;
			Datum		v;

			a->agent_id = d->agent_ids[i] = col_text(tup, desc, 1);
			v = SPI_getbinval(tup, desc, 2, &isnull);
			a->team = isnull ? -1 : find_text(d->team_names, d->nteams, DatumGetTextPP(v));
			a->tier = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
			a->capacity = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
			avail = DatumGetTextPP(SPI_getbinval(tup, desc, 5, &isnull));
			a->availability = text_is(avail, "online") ? ESC_AVAIL_ONLINE :
				text_is(avail, "away") ? ESC_AVAIL_AWAY : ESC_AVAIL_OFFLINE;
			a->active = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
			v = SPI_getbinval(tup, desc, 7, &isnull);
			if (!isnull)
			{
				char	  **langs;
				int			nl = text_array(v, &langs);

				for (int l = 0; l < nl; l++)
				{
					int			id = language_id(d, langs[l], true);

					if (id >= 0)
						a->languages |= UINT64CONST(1) << id;
				}
			}
			d->agent_calendar[i] = col_text(tup, desc, 8);
			a->load = (int) DatumGetInt64(SPI_getbinval(tup, desc, 9, &isnull));
			v = SPI_getbinval(tup, desc, 10, &isnull);
			a->since_last = isnull ? -1.0 : Max(0.0, DatumGetFloat8(v));
			agent_tenant[i] = col_text(tup, desc, 11);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	MemoryContextSwitchTo(cxt);
	d->agent_hash = name_hash(d->agent_ids, d->nagents);
	d->skill_bits = palloc0(sizeof(uint64) * d->nwords * Max(d->nagents, 1));
	d->skill_levels = palloc0(Max(d->nskills, 1) * Max(d->nagents, 1));
	for (int i = 0; i < d->nagents; i++)
	{
		d->agents[i].skills = &d->skill_bits[(size_t) i * d->nwords];
		d->agents[i].levels = &d->skill_levels[(size_t) i * Max(d->nskills, 1)];
	}

	/* tenants: sorted, distinct, then an id per agent (-1: every tenant) */
	d->tenant_names = palloc(sizeof(char *) * Max(d->nagents, 1));
	for (int i = 0; i < d->nagents; i++)
		if (agent_tenant[i] != NULL)
			d->tenant_names[d->ntenants++] = agent_tenant[i];
	if (d->ntenants > 1)
	{
		int			m = 1;

		qsort(d->tenant_names, d->ntenants, sizeof(char *), cmp_str);
		for (int t = 1; t < d->ntenants; t++)
			if (strcmp(d->tenant_names[t], d->tenant_names[m - 1]) != 0)
				d->tenant_names[m++] = d->tenant_names[t];
		d->ntenants = m;
	}
	for (int i = 0; i < d->nagents; i++)
		d->agents[i].tenant = find_name(d->tenant_names, d->ntenants, agent_tenant[i]);

	/*
	 * Skills of every agent: one pass, FETCH_ROWS at a time.  An agent's
	 * skills are usually stored together: the previous row's agent is tried
	 * before a search.
	 */
	portal = SPI_cursor_open(NULL, plan(5, "SELECT agent_id, skill, level FROM escalation.agent_skills",
										0, NULL), NULL, NULL, true);
	prev = -1;
	for (;;)
	{
		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		MemoryContextSwitchTo(cxt);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			text	   *agent = DatumGetTextPP(SPI_getbinval(tup, desc, 1, &isnull));
			Datum		skill = SPI_getbinval(tup, desc, 2, &isnull);
			int			i = prev >= 0 && text_is(agent, d->agent_ids[prev])
				? prev : agent_index_text(d, agent);
			int			s = skill_index_text(d, DatumGetTextPP(skill));

			prev = i;
			if (i < 0 || s < 0)
				continue;
			d->agents[i].skills[s / 64] |= UINT64CONST(1) << (s % 64);
			d->agents[i].levels[s] = (uint8) DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	MemoryContextSwitchTo(cxt);

	/* shifts: each calendar once */
	for (int i = 0; i < d->nagents; i++)
	{
		const char *name = d->agent_calendar[i];
		int			c;

		if (name == NULL)
			continue;
		for (c = 0; c < ncal; c++)
			if (strcmp(cal_names[c], name) == 0)
				break;
		if (c == ncal)
		{
			EscCalendar *cal;

			if (ncal == 0)
			{
				cal_names = palloc(sizeof(char *) * d->nagents);
				cal_first = palloc0(sizeof(FirstPeriod) * d->nagents);
			}
			cal_names[c] = pstrdup(name);
			cal_first[c].as_of = as_of;
			cal = esc_calendar_get(name);
			MemoryContextSwitchTo(cxt);
			esc_business_periods(cal, as_of, as_of + USECS_PER_DAY, first_period, &cal_first[c]);
			ncal++;
		}
		d->agents[i].has_shift = true;
		d->agents[i].in_shift = cal_first[c].seen && cal_first[c].in_shift;
		d->agents[i].shift_left = d->agents[i].in_shift
			? (cal_first[c].ends - as_of) / (double) USECS_PER_SEC : 0;
	}

	/* members of each team, in agent order */
	nmembers = palloc0(sizeof(int) * Max(d->nteams, 1));
	for (int i = 0; i < d->nagents; i++)
		if (d->agents[i].team >= 0)
			nmembers[d->agents[i].team]++;
	d->team_members = palloc(sizeof(int *) * Max(d->nteams, 1));
	d->team_nmembers = palloc0(sizeof(int) * Max(d->nteams, 1));
	for (int t = 0; t < d->nteams; t++)
		d->team_members[t] = palloc(sizeof(int) * Max(nmembers[t], 1));
	for (int i = 0; i < d->nagents; i++)
	{
		int			t = d->agents[i].team;

		if (t >= 0)
			d->team_members[t][d->team_nmembers[t]++] = i;
	}
	d->all_agents = palloc(sizeof(int) * Max(d->nagents, 1));
	for (int i = 0; i < d->nagents; i++)
		d->all_agents[i] = i;

	/* the pre-filter's bitmaps */
	d->awords = Max(1, (d->nagents + 63) / 64);
	d->open_agents = palloc0(sizeof(uint64) * d->awords);
	d->skill_agents = palloc0(sizeof(uint64) * d->awords * Max(d->nskills, 1));
	d->team_agents = palloc0(sizeof(uint64) * d->awords * Max(d->nteams, 1));
	d->tenant_agents = palloc0(sizeof(uint64) * d->awords * Max(d->ntenants, 1));
	d->any_tenant_agents = palloc0(sizeof(uint64) * d->awords);
	d->scratch = palloc0(sizeof(uint64) * d->awords);
	for (int i = 0; i < d->nagents; i++)
	{
		EscRouteAgent *a = &d->agents[i];
		int			w = i / 64;
		uint64		bit = UINT64CONST(1) << (i % 64);

		if (a->active && a->availability != ESC_AVAIL_OFFLINE &&
			(!a->has_shift || a->in_shift) && a->load < a->capacity)
			d->open_agents[w] |= bit;
		for (int s = 0; s < d->nskills; s++)
			if (a->skills[s / 64] & (UINT64CONST(1) << (s % 64)))
				d->skill_agents[(size_t) s * d->awords + w] |= bit;
		if (a->team >= 0)
			d->team_agents[(size_t) a->team * d->awords + w] |= bit;
		if (a->tenant >= 0)
			d->tenant_agents[(size_t) a->tenant * d->awords + w] |= bit;
		else
		{
			d->any_tenant_agents[w] |= bit;
			for (int t = 0; t < d->ntenants; t++)
				d->tenant_agents[(size_t) t * d->awords + w] |= bit;
		}
	}

	esc_restore_user(save_userid, save_sec);
	MemoryContextSwitchTo(old);
	return d;
}

/* ------------------------------------------------------------------
 * The queue
 * ------------------------------------------------------------------ */

#define QUEUE_COLUMNS \
	"SELECT e.escalation_id, e.severity, e.kind, e.target_team, e.target_skills, " \
	"       e.optional_skills, e.target_tier, " \
	"       COALESCE(e.language, e.context OPERATOR(pg_catalog.#>>) '{ticket,fields,language}'), " \
	"       e.created_at, e.account_key, e.requester, e.source_id, e.ticket_key, " \
	"       (e.routing OPERATOR(pg_catalog.->>) 'overflow_at')::pg_catalog.timestamptz, " \
	"       e.tenant " \
	"  FROM escalation.escalations e "

/*
 * Urgency: severity, then time to SLA breach (sla_due_at, the earliest due
 * time of the ticket's running clocks, kept by route_due.c), then age, then
 * id: exactly the partial index escalations_queue, so the cursor reads the
 * queue in order from the index, a chunk at a time, and computes the
 * columns of the rows it returns only.
 */
static const char *const queue_sql =
QUEUE_COLUMNS
" WHERE e.status OPERATOR(pg_catalog.=) 'queued' "
" ORDER BY e.severity DESC, e.sla_due_at, e.created_at, e.escalation_id";

/*
 * The same without the escalations routing set aside (route_isolated():
 * their routing failed with an error of their own), since 1.1; the plan
 * above serves a 1.0 schema until ALTER EXTENSION UPDATE.
 */
static const char *const queue_sql_1_1 =
QUEUE_COLUMNS
" WHERE e.status OPERATOR(pg_catalog.=) 'queued' "
"   AND NOT EXISTS (SELECT 1 FROM escalation.routing_failures f "
"                    WHERE f.escalation_id OPERATOR(pg_catalog.=) e.escalation_id) "
" ORDER BY e.severity DESC, e.sla_due_at, e.created_at, e.escalation_id";

/* whether plans[6] reads queue_sql_1_1 */
static bool queue_plan_1_1 = false;

static const char *const one_sql =
QUEUE_COLUMNS
" WHERE e.escalation_id OPERATOR(pg_catalog.=) $1";

Portal
esc_route_queue_open(void)
{
	Portal		portal;
	Oid			save_userid;
	int			save_sec;
	bool		has_failures;

	esc_become_owner(&save_userid, &save_sec);
	has_failures = OidIsValid(esc_own_relid("routing_failures"));
	if (plans[6] != NULL && has_failures != queue_plan_1_1)
	{
		/* the extension was updated (or the table dropped) since */
		SPI_freeplan(plans[6]);
		plans[6] = NULL;
	}
	if (plans[6] == NULL)
	{
		/*
		 * A plan for the first rows (a batch reads a few hundred of a queue
		 * that may hold 100,000): the index in order, never a sort of all
		 */
		int			save_nestlevel = NewGUCNestLevel();
		SPIPlanPtr	p;

		(void) set_config_option("search_path", "pg_catalog, pg_temp",
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		p = SPI_prepare_cursor(has_failures ? queue_sql_1_1 : queue_sql, 0, NULL,
							   CURSOR_OPT_GENERIC_PLAN | CURSOR_OPT_FAST_PLAN);
		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for the routing queue: %s",
				 SPI_result_code_string(SPI_result));
		AtEOXact_GUC(true, save_nestlevel);
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		plans[6] = p;
		queue_plan_1_1 = has_failures;
	}
	portal = SPI_cursor_open(NULL, plans[6], NULL, NULL, true);
	esc_restore_user(save_userid, save_sec);
	return portal;
}

/* one escalation (any status); false if it does not exist */
bool
esc_route_fetch_one(int64 escalation_id)
{
	Oid			type = INT8OID;
	Datum		arg = Int64GetDatum(escalation_id);
	Oid			save_userid;
	int			save_sec;

	esc_become_owner(&save_userid, &save_sec);
	if (plans[7] == NULL)
		plans[7] = esc_prepare_kept_plan(one_sql, 1, &type);
	run(plans[7], &arg, "escalation.escalations");
	esc_restore_user(save_userid, save_sec);
	return SPI_processed > 0;
}

static int
skill_ids(EscRouteData *d, Datum arr, bool isnull, int **ids, bool *unknown, uint64 *mask)
{
	char	  **names;
	int			n,
				m = 0;

	*unknown = false;
	if (isnull)
		return 0;
	n = text_array(arr, &names);
	*ids = palloc(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		int			s = find_name(d->skill_names, d->nskills, names[i]);

		if (s < 0)
			*unknown = true;
		else
		{
			mask[s / 64] |= UINT64CONST(1) << (s % 64);
			(*ids)[m++] = s;
		}
	}
	return m;
}

/*
 * Turn rows of the queue query (in SPI_tuptable) into items, in the
 * current memory context.
 */
int
esc_route_items(EscRouteData *d, SPITupleTable *tt, uint64 n, EscRouteItem *items)
{
	for (uint64 r = 0; r < n; r++)
	{
		HeapTuple	tup = tt->vals[r];
		TupleDesc	desc = tt->tupdesc;
		EscRouteItem *it = &items[r];
		EscRouteRequest *req = &it->req;
		bool		isnull;
		Datum		v;
		char	   *s;
		int		   *mand = NULL,
				   *opt = NULL;
		int			nm,
					no;
		bool		unknown;

		memset(it, 0, sizeof(*it));
		it->escalation_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		it->severity = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		s = col_text(tup, desc, 3);
		req->hierarchical = strcmp(s, "hierarchical") == 0;
		it->team_name = col_text(tup, desc, 4);
		req->team = it->team_name ? esc_route_team_index(d, it->team_name) : -1;
		if (it->team_name && req->team < 0)
			req->team = -2;
		req->nwords = d->nwords;
		req->mandatory = palloc0(sizeof(uint64) * d->nwords);
		req->optional = palloc0(sizeof(uint64) * d->nwords);
		v = SPI_getbinval(tup, desc, 5, &isnull);
		nm = skill_ids(d, v, isnull, &mand, &unknown, req->mandatory);
		req->unknown_skill = unknown;
		it->mandatory = isnull ? NULL : DatumGetArrayTypePCopy(v);
		v = SPI_getbinval(tup, desc, 6, &isnull);
		no = skill_ids(d, v, isnull, &opt, &unknown, req->optional);
		req->unknown_optional = unknown;
		it->optional = isnull ? NULL : DatumGetArrayTypePCopy(v);
		req->nrequested = nm + no;
		req->requested = palloc(sizeof(int) * Max(nm + no, 1));
		if (nm)
			memcpy(req->requested, mand, sizeof(int) * nm);
		if (no)
			memcpy(req->requested + nm, opt, sizeof(int) * no);
		v = SPI_getbinval(tup, desc, 7, &isnull);
		req->tier = isnull ? 0 : DatumGetInt32(v);
		it->language = col_text(tup, desc, 8);
		req->language = it->language ? language_id(d, it->language, false) : -1;
		it->created_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 9, &isnull));
		it->account = col_text(tup, desc, 10);
		it->requester = col_text(tup, desc, 11);
		it->source_id = DatumGetInt32(SPI_getbinval(tup, desc, 12, &isnull));
		it->ticket_key = col_text(tup, desc, 13);
		v = SPI_getbinval(tup, desc, 14, &isnull);
		it->overflow_at = isnull ? it->created_at : DatumGetTimestampTz(v);
		it->tenant = col_text(tup, desc, 15);
		if (it->tenant == NULL)
			req->tenant = -1;
		else
		{
			req->tenant = find_name(d->tenant_names, d->ntenants, it->tenant);
			if (req->tenant < 0)
				req->tenant = -2;	/* only agents of every tenant serve it */
		}
		it->has_optional = no > 0 || req->unknown_optional;
		req->relaxed = !it->has_optional ||
			(d->as_of - it->created_at) >= (int64) (d->relax_after * USECS_PER_SEC);
		req->prefer = -1;
	}
	return (int) n;
}

/* append to a growing int array */
static void
push(int **arr, int *n, int *max, int v)
{
	if (*n == *max)
	{
		*max = *max ? *max * 2 : 4;
		*arr = *arr ? repalloc(*arr, sizeof(int) * *max) : palloc(sizeof(int) * *max);
	}
	(*arr)[(*n)++] = v;
}

/* continuity facts of one item, counted as the rows come */
typedef struct Continuity
{
	int			n;
	int			max;
	int		   *agent;
	int		   *by_account;		/* resolved escalations of the account */
	int		   *by_requester;	/* ... of the requester */
} Continuity;

static void
count_continuity(Continuity *c, int agent, bool account)
{
	int			k;

	for (k = 0; k < c->n; k++)
		if (c->agent[k] == agent)
			break;
	if (k == c->n)
	{
		if (c->n == c->max)
		{
			c->max = c->max ? c->max * 2 : 8;
			c->agent = c->agent ? repalloc(c->agent, sizeof(int) * c->max) : palloc(sizeof(int) * c->max);
			c->by_account = c->by_account ? repalloc(c->by_account, sizeof(int) * c->max) : palloc(sizeof(int) * c->max);
			c->by_requester = c->by_requester ? repalloc(c->by_requester, sizeof(int) * c->max) : palloc(sizeof(int) * c->max);
		}
		c->agent[k] = agent;
		c->by_account[k] = c->by_requester[k] = 0;
		c->n++;
	}
	if (account)
		c->by_account[k]++;
	else
		c->by_requester[k]++;
}

#define FACTS_FETCH 1000

/*
 * What a chunk of items needs besides their rows: agents to skip (declined,
 * timed out), the previous agent of a reopened ticket, and continuity.
 * One query, read through a cursor FACTS_FETCH rows at a time (the memory
 * of one fetch is reused by the next); continuity comes as one row per
 * resolved escalation (from the indexes alone) and is counted here.  Every
 * row carries its item's position.  Call inside SPI; allocates in the
 * current memory context.
 */
void
esc_route_chunk_facts(EscRouteData *d, EscRouteItem *items, int n)
{
	static SPIPlanPtr facts_plan = NULL;
	MemoryContext cxt = CurrentMemoryContext;
	Datum	   *ids = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *srcs = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *keys = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *accts = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *reqs = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *accts_null = palloc(sizeof(bool) * Max(n, 1));
	bool	   *reqs_null = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	Datum		args[6];
	int		   *nskip = palloc0(sizeof(int) * Max(n, 1));
	int		   *maxskip = palloc0(sizeof(int) * Max(n, 1));
	Continuity *cont = palloc0(sizeof(Continuity) * Max(n, 1));
	Oid			save_userid;
	int			save_sec;
	Portal		portal;

	if (n == 0)
		return;
	for (int i = 0; i < n; i++)
	{
		ids[i] = Int64GetDatum(items[i].escalation_id);
		srcs[i] = Int32GetDatum(items[i].source_id);
		keys[i] = CStringGetTextDatum(items[i].ticket_key);
		accts_null[i] = items[i].account == NULL;
		accts[i] = accts_null[i] ? (Datum) 0 : CStringGetTextDatum(items[i].account);
		reqs_null[i] = items[i].requester == NULL;
		reqs[i] = reqs_null[i] ? (Datum) 0 : CStringGetTextDatum(items[i].requester);
	}
	args[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(srcs, n, INT4OID, 4, true, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(keys, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_md_array(accts, accts_null, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
	args[4] = PointerGetDatum(construct_md_array(reqs, reqs_null, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
	args[5] = TimestampTzGetDatum(d->continuity_since);

	if (facts_plan == NULL)
	{
		Oid			types[6] = {INT8ARRAYOID, INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
		TEXTARRAYOID, TIMESTAMPTZOID};

		/* kind 0: skip, 1: previous agent, 2: continuity by account, 3: by requester */
		facts_plan = esc_prepare_kept_plan(
			/* agents who declined it or let an offer of it time out */
			"SELECT q.i, 0, a.agent_id "
			"  FROM pg_catalog.unnest($1) WITH ORDINALITY AS q(id, i) "
			"  JOIN escalation.assignments a ON a.escalation_id OPERATOR(pg_catalog.=) q.id "
			"   AND a.outcome OPERATOR(pg_catalog.=) ANY ('{declined,timed_out}') "
			"UNION ALL "
			/* the agent who resolved this ticket's latest escalation */
			"SELECT q.i, 1, p.agent_id "
			"  FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) WITH ORDINALITY AS q(src, key, i) "
			"  CROSS JOIN LATERAL (SELECT p.agent_id FROM escalation.escalations p "
			"       WHERE p.source_id OPERATOR(pg_catalog.=) q.src "
			"         AND p.ticket_key OPERATOR(pg_catalog.=) q.key "
			"         AND p.status OPERATOR(pg_catalog.=) 'resolved' AND p.agent_id IS NOT NULL "
			"       ORDER BY p.closed_at DESC LIMIT 1) p "
			"UNION ALL "
			/* recent resolved work with the same account, or the same requester */
			"SELECT q.i, 2, h.agent_id "
			"  FROM pg_catalog.unnest($4) WITH ORDINALITY AS q(acct, i) "
			"  JOIN escalation.escalations h "
			"    ON h.account_key OPERATOR(pg_catalog.=) q.acct "
			"   AND h.status OPERATOR(pg_catalog.=) 'resolved' "
			"   AND h.closed_at OPERATOR(pg_catalog.>=) $6 AND h.agent_id IS NOT NULL "
			"UNION ALL "
			"SELECT q.i, 3, h.agent_id "
			"  FROM pg_catalog.unnest($5) WITH ORDINALITY AS q(req, i) "
			"  JOIN escalation.escalations h "
			"    ON h.requester OPERATOR(pg_catalog.=) q.req "
			"   AND h.status OPERATOR(pg_catalog.=) 'resolved' "
			"   AND h.closed_at OPERATOR(pg_catalog.>=) $6 AND h.agent_id IS NOT NULL",
			6, types);
	}
	esc_become_owner(&save_userid, &save_sec);
	portal = SPI_cursor_open(NULL, facts_plan, args, NULL, true);
	esc_restore_user(save_userid, save_sec);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, FACTS_FETCH);
		MemoryContextSwitchTo(cxt);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			int64		pos = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			int			kind = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
			Datum		agent = SPI_getbinval(tup, desc, 3, &isnull);
			int			i = (int) pos - 1;
			int			a;
			EscRouteItem *it;

			if (isnull || i < 0 || i >= n)
				continue;
			a = agent_index_text(d, DatumGetTextPP(agent));
			if (a < 0)
				continue;
			it = &items[i];
			if (kind == 0)
			{
				int		   *skip = (int *) it->req.skip;

				push(&skip, &nskip[i], &maxskip[i], a);
				it->req.skip = skip;
				it->req.nskip = nskip[i];
			}
			else if (kind == 1)
			{
				it->req.prefer = a;
				it->previous_agent = d->agent_ids[a];
			}
			else
				count_continuity(&cont[i], a, kind == 2);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	MemoryContextSwitchTo(cxt);

	/* 1/3 per resolved escalation of the account, and of the requester, at most 1 */
	for (int i = 0; i < n; i++)
	{
		Continuity *c = &cont[i];
		double	   *v;

		if (c->n == 0)
			continue;
		v = palloc(sizeof(double) * c->n);
		for (int k = 0; k < c->n; k++)
			v[k] = Min(1.0, Min(1.0, c->by_account[k] / 3.0) + Min(1.0, c->by_requester[k] / 3.0));
		items[i].req.continuity_agent = c->agent;
		items[i].req.continuity = v;
		items[i].req.ncontinuity = c->n;
	}
}

/* ------------------------------------------------------------------
 * The pre-filter
 * ------------------------------------------------------------------ */

static inline void
and_bits(uint64 *into, const uint64 *with, int n)
{
	for (int w = 0; w < n; w++)
		into[w] &= with[w];
}

static void
and_skills(EscRouteData *d, uint64 *into, const uint64 *skills)
{
	for (int s = 0; s < d->nskills; s++)
		if (skills[s / 64] & (UINT64CONST(1) << (s % 64)))
			and_bits(into, &d->skill_agents[(size_t) s * d->awords], d->awords);
}

/*
 * The agents (indexes, ascending, into cand) that may be candidates for
 * req: those that can take work, of its tenant (or of every tenant), of its
 * team, with its mandatory skills and, until they are relaxed, its
 * optional ones.  Every agent this leaves out esc_route_filter() would
 * exclude; the ones it keeps still go through esc_route_filter() (skipped
 * agents, tiers), so the choice is the one over all agents, in the same
 * order.  Returns how many.
 */
int
esc_route_prefilter(EscRouteData *d, const EscRouteRequest *req, int *cand)
{
	uint64	   *bits = d->scratch;
	int			n = 0;

	if (req->team == -2 || req->unknown_skill ||
		(!req->relaxed && req->unknown_optional))
		return 0;
	memcpy(bits, d->open_agents, sizeof(uint64) * d->awords);
	and_bits(bits, req->tenant >= 0 ? &d->tenant_agents[(size_t) req->tenant * d->awords]
			 : d->any_tenant_agents, d->awords);
	if (req->team >= 0)
		and_bits(bits, &d->team_agents[(size_t) req->team * d->awords], d->awords);
	and_skills(d, bits, req->mandatory);
	if (!req->relaxed)
		and_skills(d, bits, req->optional);
	for (int w = 0; w < d->awords; w++)
	{
		uint64		word = bits[w];

		while (word != 0)
		{
			int			b = pg_rightmost_one_pos64(word);

			cand[n++] = w * 64 + b;
			word &= word - 1;
		}
	}
	return n;
}

/* an agent has no free slot left in this batch */
void
esc_route_agent_full(EscRouteData *d, int agent)
{
	d->open_agents[agent / 64] &= ~(UINT64CONST(1) << (agent % 64));
}
