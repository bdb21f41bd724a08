/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  The per-backend configuration cache: attached sources with their
 *	  column mapping resolved to attribute numbers, rules compiled (keyword
 *	  lexicon, regular expressions), value maps and lookup tables, and a
 *	  lazily filled cache of accounts.
 *
 * Invalidation, never polling.  Every configuration table (and every lookup
 * table attach() was given) carries a statement trigger,
 * escalation.invalidate_cache(), that queues a relcache invalidation of the
 * table.  PostgreSQL delivers it to every backend when the writing
 * transaction commits (and to the writer itself at its next command), and
 * our relcache callback only flips a flag; the next trigger call rebuilds.
 * A rollback sends nothing.  A change of an attached table's definition
 * (ALTER TABLE) reaches us the same way, since its relcache entry is
 * invalidated by PostgreSQL itself.
 *
 * Lifetime.  Everything of one build lives in one memory context under
 * TopMemoryContext; a reset callback frees what palloc does not own (regex
 * engines' malloc'ed state, kept SPI plans).  A build that is replaced
 * while a trigger further up the stack may still use it is kept until no
 * trigger is running.
 *
 * A configuration that no longer fits the table (a mapped column dropped, a
 * lookup table gone, a text search configuration dropped) disables only its
 * source, with a WARNING: the helpdesk's writes go on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "escalation.h"
#include "jsonb_build.h"

#define ACCOUNT_KEY_MAX		128
#define ACCOUNT_CACHE_MAX	200000

typedef struct EscConfig
{
	MemoryContext cxt;
	int			nsources;
	EscSource **sources;
	int			nwatched;
	Oid		   *watched;		/* relations whose invalidation drops us */
	Oid			accounts_relid;
	Oid			owner;
	List	   *regexes;		/* regex_t * to pg_regfree */
	List	   *plans;			/* kept SPIPlanPtr to free */
} EscConfig;

typedef struct AccountEntry
{
	char		key[ACCOUNT_KEY_MAX];
	EscAccount	acc;
} AccountEntry;

static EscConfig *config = NULL;
static bool config_valid = false;
static uint64 inval_count = 0;	/* invalidations seen, to detect one during a build */
static List *graveyard = NIL;	/* replaced builds still in use */

static MemoryContext account_cxt = NULL;
static HTAB *account_cache = NULL;
static SPIPlanPtr account_plan = NULL;
static long account_entries = 0;
static bool accounts_valid = false;

static const char *const role_names[ESC_NUM_ROLES] = {
	"key", "status", "created_at", "updated_at", "resolved_at", "priority",
	"channel", "subject", "body", "requester", "account", "assignee", "team",
	"tenant"
};

static const char *const msg_role_names[ESC_NUM_MSG_ROLES] = {
	"ticket", "created_at", "body", "author", "private", "sender", "visible",
	"ref", "via_key"
};

static void invalidate_callback(Datum arg, Oid relid);
static void xact_callback(XactEvent event, void *arg);

/* ----------------------------------------------------------------
 * Invalidation
 * ----------------------------------------------------------------
 */
static void
xact_callback(XactEvent event, void *arg)
{
	if (graveyard != NIL &&
		(event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		 event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT))
		esc_cache_release_retired();
}

/*
 * A text search configuration changed or was dropped: the stems we compiled
 * (and remembered per word) may be stale, and stemming a new word through a
 * dropped configuration would fail the helpdesk's write.  Rebuild, which
 * disables a source whose configuration is gone.
 */
static void
ts_config_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	inval_count++;
	config_valid = false;
}

void
esc_cache_init(void)
{
	CacheRegisterRelcacheCallback(invalidate_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(TSCONFIGOID, ts_config_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(TSCONFIGMAP, ts_config_callback, (Datum) 0);
	RegisterXactCallback(xact_callback, NULL);
}

static void
invalidate_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid)
	{
		inval_count++;
		config_valid = false;
		accounts_valid = false;
		return;
	}
	if (config == NULL)
		return;
	if (relid == config->accounts_relid)
		accounts_valid = false;
	for (int i = 0; i < config->nwatched; i++)
	{
		if (config->watched[i] == relid)
		{
			inval_count++;
			config_valid = false;
			return;
		}
	}
}

PG_FUNCTION_INFO_V1(escalation_invalidate_cache);

/*
 * Statement trigger on configuration and lookup tables.
 */
Datum
escalation_invalidate_cache(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired as a trigger", "invalidate_cache")));

	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	PG_RETURN_POINTER(NULL);
}

Oid
esc_extension_owner(void)
{
	return config ? config->owner : GetUserId();
}

static void
config_free_callback(void *arg)
{
	EscConfig  *c = (EscConfig *) arg;
	ListCell   *lc;

	foreach(lc, c->regexes)
		esc_regfree((regex_t *) lfirst(lc));
	foreach(lc, c->plans)
		SPI_freeplan((SPIPlanPtr) lfirst(lc));
}

/* ----------------------------------------------------------------
 * SPI helpers
 * ----------------------------------------------------------------
 */

/*
 * Prepare and keep a plan with search_path pinned to pg_catalog, so no
 * object a caller put on its search_path can stand in for ours.  The plan
 * cache remembers that path for every later re-planning.
 */
SPIPlanPtr
esc_prepare_kept_plan(const char *sql, int nargs, Oid *argtypes)
{
	int			save_nestlevel = NewGUCNestLevel();
	SPIPlanPtr	plan;

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	/*
	 * Generic plans: our statements are small and their best plan does not
	 * depend on the values, so planning once beats a custom plan per row.
	 */
	plan = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	AtEOXact_GUC(true, save_nestlevel);
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

SPIPlanPtr
esc_prepare_config_plan(const char *sql, int nargs, Oid *argtypes)
{
	MemoryContext old;
	SPIPlanPtr	plan = esc_prepare_kept_plan(sql, nargs, argtypes);

	old = MemoryContextSwitchTo(config->cxt);
	config->plans = lappend(config->plans, plan);
	MemoryContextSwitchTo(old);
	return plan;
}

/*
 * SPI_execute that leaves CurrentMemoryContext as it found it (SPI returns
 * to its own procedure context, which SPI_finish deletes).
 */
static void
spi_select(const char *sql, const char *what)
{
	MemoryContext cur = CurrentMemoryContext;

	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read %s", what);
	MemoryContextSwitchTo(cur);
}

static char *
getstr(HeapTuple tup, TupleDesc desc, int col)
{
	char	   *s = SPI_getvalue(tup, desc, col);

	return s;
}

static char **
text_array(HeapTuple tup, TupleDesc desc, int col, int *n)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	Datum	   *elems;
	bool	   *enulls;
	int			nelems;
	char	  **result;

	*n = 0;
	if (isnull)
		return NULL;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &enulls, &nelems);
	result = palloc(sizeof(char *) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
		if (!enulls[i])
			result[(*n)++] = TextDatumGetCString(elems[i]);
	return result;
}

/* ----------------------------------------------------------------
 * Building
 * ----------------------------------------------------------------
 */
static void
watch(Oid relid)
{
	if (!OidIsValid(relid))
		return;
	for (int i = 0; i < config->nwatched; i++)
		if (config->watched[i] == relid)
			return;
	config->watched = repalloc(config->watched, sizeof(Oid) * (config->nwatched + 1));
	config->watched[config->nwatched++] = relid;
}

/*
 * Can a message reference a ticket only while that ticket exists?  True
 * when a validated, not deferrable foreign key ties the messages table's
 * ticket column to the ticket table's key and no action of it sets a
 * default.  Then a ticket being inserted has no message the statement
 * inserting it can see (one referencing its key would have needed a ticket
 * with that key, which the key's uniqueness and the foreign key's delete
 * action rule out), and the snapshot of a new ticket leaves the
 * conversation unqueried.  A change of the constraint invalidates the
 * messages table, and so this source.  With a message_via table the
 * ticket column, and so the foreign key, is that table's.
 */
static bool
messages_follow_tickets(EscSource *src)
{
	StringInfoData sql;
	bool		isnull;
	bool		result;

	if (src->msgcols[ESC_MSG_TICKET].attnum <= 0 || src->cols[ESC_ROLE_KEY].attnum <= 0)
		return false;
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT EXISTS (SELECT FROM pg_catalog.pg_constraint c "
					 "WHERE c.contype = 'f' AND c.conrelid = %u AND c.confrelid = %u "
					 "AND c.conkey = '{%d}' AND c.confkey = '{%d}' "
					 "AND NOT c.condeferrable AND c.convalidated "
					 "AND c.confdeltype <> 'd' AND c.confupdtype <> 'd')",
					 OidIsValid(src->via_relid) ? src->via_relid : src->msg_relid, src->relid,
					 src->msgcols[ESC_MSG_TICKET].attnum, src->cols[ESC_ROLE_KEY].attnum);
	spi_select(sql.data, "foreign keys");
	result = SPI_processed == 1 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
		!isnull;
	pfree(sql.data);
	return result;
}

static EscSource *
find_source(int32 source_id)
{
	for (int i = 0; i < config->nsources; i++)
		if (config->sources[i]->source_id == source_id)
			return config->sources[i];
	return NULL;
}

static bool
resolve_column(Oid relid, const char *name, EscColumn *col)
{
	col->name = name;
	col->attnum = get_attnum(relid, name);
	if (col->attnum == InvalidAttrNumber)
		return false;
	col->typid = get_atttype(relid, col->attnum);
	getTypeOutputInfo(col->typid, &col->outfunc, &col->typisvarlena);
	return true;
}

static HTAB *
new_string_map(const char *name)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN * 2;
	ctl.entrysize = NAMEDATALEN * 2 + sizeof(char *);
	ctl.hcxt = config->cxt;
	return hash_create(name, 16, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

static void
string_map_put(HTAB *map, const char *key, const char *value)
{
	char		k[NAMEDATALEN * 2];
	char	   *entry;

	if (strlen(key) >= sizeof(k))
		return;
	strlcpy(k, key, sizeof(k));
	entry = hash_search(map, k, HASH_ENTER, NULL);
	*(char **) (entry + NAMEDATALEN * 2) = MemoryContextStrdup(config->cxt, value);
}

static const char *
string_map_get(HTAB *map, const char *key)
{
	char		k[NAMEDATALEN * 2];
	char	   *entry;

	if (map == NULL || key == NULL || strlen(key) >= sizeof(k))
		return NULL;
	strlcpy(k, key, sizeof(k));
	entry = hash_search(map, k, HASH_FIND, NULL);
	return entry ? *(char **) (entry + NAMEDATALEN * 2) : NULL;
}

/*
 * A value through its lookup chain, then its map.  Without a map the
 * (looked-up) value itself is the meaning.
 */
const char *
esc_value_map_get(EscValueMap *vm, const char *raw)
{
	const char *v = raw;

	if (raw == NULL)
		return NULL;
	if (vm->lookup)
	{
		v = string_map_get(vm->lookup, raw);
		if (v == NULL)
			return NULL;
	}
	if (vm->map)
		return string_map_get(vm->map, v);
	return v;
}

static EscValueMap *
value_map_for(EscSource *src, const char *role)
{
	if (strcmp(role, "status") == 0)
		return &src->status_map;
	if (strcmp(role, "priority") == 0)
		return &src->priority_map;
	if (strcmp(role, "channel") == 0)
		return &src->channel_map;
	if (strcmp(role, "author") == 0)
		return &src->author_map;
	if (strcmp(role, "sender") == 0)
		return &src->sender_map;
	return NULL;
}

static char *
qualified_relname(Oid relid)
{
	char	   *rel = get_rel_name(relid);
	char	   *nsp = get_namespace_name(get_rel_namespace(relid));

	if (rel == NULL || nsp == NULL)
		return NULL;
	return MemoryContextStrdup(config->cxt, quote_qualified_identifier(nsp, rel));
}

/*
 * Materialise a lookup chain into raw value -> final value.  Each hop joins
 * the previous hop's value column to this hop's key column, compared as
 * text so that integer ids and text codes chain alike.
 */
static void
load_lookup(EscSource *src, const char *role, List *hops)
{
	StringInfoData sql;
	ListCell   *lc;
	int			i = 0;
	EscValueMap *vm = value_map_for(src, role);

	if (vm == NULL)
		return;
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT h0.");
	appendStringInfoString(&sql, quote_identifier((char *) lsecond(linitial(hops))));
	appendStringInfo(&sql, "::pg_catalog.text, h%d.", list_length(hops) - 1);
	appendStringInfoString(&sql, quote_identifier((char *) lthird(llast(hops))));
	appendStringInfoString(&sql, "::pg_catalog.text FROM ");
	foreach(lc, hops)
	{
		List	   *hop = (List *) lfirst(lc);
		Oid			relid = DatumGetObjectId(DirectFunctionCall1(regclassin,
																 CStringGetDatum((char *) linitial(hop))));
		char	   *rel = qualified_relname(relid);

		watch(relid);
		if (i == 0)
			appendStringInfo(&sql, "%s h0", rel);
		else
		{
			List	   *prev = (List *) list_nth(hops, i - 1);

			appendStringInfo(&sql, " JOIN %s h%d ON h%d.%s::pg_catalog.text OPERATOR(pg_catalog.=) h%d.%s::pg_catalog.text",
							 rel, i, i,
							 quote_identifier((char *) lsecond(hop)),
							 i - 1,
							 quote_identifier((char *) lthird(prev)));
		}
		i++;
	}

	spi_select(sql.data, "lookup table");
	vm->lookup = new_string_map("escalation lookup");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		char	   *k = getstr(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		char	   *v = getstr(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2);

		if (k && v)
			string_map_put(vm->lookup, k, v);
	}
}

static EscRule *
read_rule(HeapTuple tup, TupleDesc desc, int32 *source_id, char ***keywords)
{
	EscRule    *r = palloc0(sizeof(EscRule));
	bool		isnull;
	Datum		d;
	char	   *s;

	r->rule_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
	r->tenant = getstr(tup, desc, 25);
	r->name = getstr(tup, desc, 2);
	d = SPI_getbinval(tup, desc, 3, &isnull);
	*source_id = isnull ? 0 : DatumGetInt32(d);
	s = getstr(tup, desc, 4);
	r->on_ticket = strcmp(s, "message") != 0;
	r->on_message = strcmp(s, "ticket") != 0;
	*keywords = text_array(tup, desc, 5, &r->nkeywords);
	r->pattern = getstr(tup, desc, 6);
	/* column 7, case_sensitive, is read when compiling */
	r->priorities = text_array(tup, desc, 8, &r->npriorities);
	r->channels = text_array(tup, desc, 9, &r->nchannels);
	r->field = getstr(tup, desc, 10);
	r->field_op = getstr(tup, desc, 11);
	r->field_value = getstr(tup, desc, 12);
	if (r->field_value)
		r->field_numeric = esc_parse_number(r->field_value, &r->field_number);
	d = SPI_getbinval(tup, desc, 13, &isnull);
	r->account_vip = isnull ? -1 : (DatumGetBool(d) ? 1 : 0);
	r->account_tiers = text_array(tup, desc, 14, &r->naccount_tiers);
	d = SPI_getbinval(tup, desc, 15, &isnull);
	r->has_min_value = !isnull;
	if (!isnull)
		r->min_annual_value = DatumGetFloat8(d);
	d = SPI_getbinval(tup, desc, 16, &isnull);
	r->has_renewal_within = !isnull;
	if (!isnull)
		r->renewal_within = *DatumGetIntervalP(d);
	r->target_team = getstr(tup, desc, 17);
	r->target_skills = text_array(tup, desc, 18, &r->ntarget_skills);
	d = SPI_getbinval(tup, desc, 19, &isnull);
	r->target_tier = isnull ? 0 : DatumGetInt32(d);
	r->kind = getstr(tup, desc, 20);
	r->severity = DatumGetInt32(SPI_getbinval(tup, desc, 21, &isnull));
	r->level = DatumGetInt32(SPI_getbinval(tup, desc, 22, &isnull));
	d = SPI_getbinval(tup, desc, 23, &isnull);
	r->has_sentiment_below = !isnull;
	if (!isnull)
		r->sentiment_below = DatumGetFloat8(d);
	d = SPI_getbinval(tup, desc, 24, &isnull);
	r->has_frustration_above = !isnull;
	if (!isnull)
		r->frustration_above = DatumGetFloat8(d);
	d = SPI_getbinval(tup, desc, 26, &isnull);
	r->has_team_confidence = !isnull;
	if (!isnull)
		r->team_confidence = DatumGetFloat8(d);
	d = SPI_getbinval(tup, desc, 27, &isnull);
	r->has_escalation_probability = !isnull;
	if (!isnull)
		r->escalation_probability = DatumGetFloat8(d);
	/* the thresholds as the reasons write them, made once */
	if (r->has_sentiment_below)
		r->sentiment_below_num = esc_numeric_g(r->sentiment_below);
	if (r->has_frustration_above)
		r->frustration_above_num = esc_numeric_g(r->frustration_above);
	if (r->has_team_confidence)
		r->team_confidence_num = esc_numeric_g(r->team_confidence);
	if (r->has_escalation_probability)
		r->escalation_probability_num = esc_numeric_g(r->escalation_probability);
	return r;
}

static regex_t *
compile_pattern(const char *pattern, bool case_sensitive)
{
	int			len = strlen(pattern);
	pg_wchar   *wide = palloc(sizeof(pg_wchar) * (len + 1));
	int			wlen = pg_mb2wchar_with_len(pattern, wide, len);
	regex_t    *re = MemoryContextAlloc(config->cxt, sizeof(regex_t));
	int			rc;
	MemoryContext old;

	rc = pg_regcomp(re, wide, wlen,
					REG_ADVANCED | (case_sensitive ? 0 : REG_ICASE),
					DEFAULT_COLLATION_OID);
	if (rc != REG_OKAY)
		return NULL;			/* validation refuses these; never fatal here */
	old = MemoryContextSwitchTo(config->cxt);
	config->regexes = lappend(config->regexes, re);
	MemoryContextSwitchTo(old);
	return re;
}

/*
 * Can a pattern be OR-ed into the prefilter, (?:p1)|(?:p2)|...?  Not when
 * it starts with a director ("***=") or embedded options ("(?i)"), which
 * are only valid at the start, nor with back-references, whose numbers
 * would change.
 */
static bool
pattern_combinable(const char *p)
{
	if (strncmp(p, "***", 3) == 0 || strncmp(p, "(?", 2) == 0)
		return false;
	for (const char *c = p; *c; c++)
	{
		if (*c == '\\')
		{
			if (c[1] >= '1' && c[1] <= '9')
				return false;
			if (c[1] != '\0')
				c++;
		}
	}
	return true;
}

/*
 * Resolve one source's columns, maps and lookups and compile its rules.
 * May ERROR (a lookup table dropped, a configuration gone); the caller
 * catches that and marks the source broken.
 */
static void
build_source(EscSource *src, List *mapping, List *msgmapping, List *valuemaps,
			 List *lookups, List *rules, List *rule_sources, List *rule_keywords,
			 List *rule_case)
{
	ListCell   *lc;
	int			nextra = 0;
	int			fi;
	StringInfoData combined[2];	/* case-insensitive, case-sensitive */
	int			ncombined[2] = {0, 0};

	/* columns */
	foreach(lc, mapping)
	{
		List	   *kv = (List *) lfirst(lc);
		char	   *role = (char *) linitial(kv);
		char	   *col = (char *) lsecond(kv);

		if (strncmp(role, "fields.", 7) == 0)
		{
			nextra++;
			continue;
		}
		for (int r = 0; r < ESC_NUM_ROLES; r++)
		{
			if (strcmp(role, role_names[r]) == 0 &&
				!resolve_column(src->relid, col, &src->cols[r]))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" of relation %s does not exist",
								col, src->relname_q)));
		}
	}
	if (src->cols[ESC_ROLE_KEY].name == NULL)
		elog(ERROR, "source has no key column");

	/* fields rules can test: the standard three, then fields.* */
	src->fields = palloc0(sizeof(EscField) * (3 + nextra));
	src->fields[0].name = "priority";
	src->fields[0].col = src->cols[ESC_ROLE_PRIORITY];
	src->fields[1].name = "channel";
	src->fields[1].col = src->cols[ESC_ROLE_CHANNEL];
	src->fields[2].name = "status";
	src->fields[2].col = src->cols[ESC_ROLE_STATUS];
	src->nfields = 3;
	foreach(lc, mapping)
	{
		List	   *kv = (List *) lfirst(lc);
		char	   *role = (char *) linitial(kv);
		char	   *col = (char *) lsecond(kv);

		if (strncmp(role, "fields.", 7) != 0)
			continue;
		src->fields[src->nfields].name = pstrdup(role + 7);
		if (!resolve_column(src->relid, col, &src->fields[src->nfields].col))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation %s does not exist",
							col, src->relname_q)));
		src->nfields++;
	}

	/* messages */
	if (OidIsValid(src->msg_relid))
	{
		src->msg_relname_q = qualified_relname(src->msg_relid);
		if (src->msg_relname_q == NULL)
			elog(ERROR, "messages table of source %d no longer exists", src->source_id);
		if (OidIsValid(src->via_relid))
		{
			src->via_relname_q = qualified_relname(src->via_relid);
			if (src->via_relname_q == NULL)
				elog(ERROR, "message_via table of source %d no longer exists", src->source_id);
			watch(src->via_relid);
		}
		foreach(lc, msgmapping)
		{
			List	   *kv = (List *) lfirst(lc);

			for (int r = 0; r < ESC_NUM_MSG_ROLES; r++)
			{
				bool		on_via = OidIsValid(src->via_relid) && ESC_MSG_ROLE_ON_VIA(r);

				if (strcmp((char *) linitial(kv), msg_role_names[r]) == 0 &&
					!resolve_column(on_via ? src->via_relid : src->msg_relid,
									(char *) lsecond(kv), &src->msgcols[r]))
					ereport(ERROR,
							(errcode(ERRCODE_UNDEFINED_COLUMN),
							 errmsg("column \"%s\" of relation %s does not exist",
									(char *) lsecond(kv),
									on_via ? src->via_relname_q : src->msg_relname_q)));
			}
		}
		watch(src->msg_relid);
		src->messages_follow_tickets = messages_follow_tickets(src);
	}

	/* value maps: (role, raw, meaning) */
	foreach(lc, valuemaps)
	{
		List	   *t = (List *) lfirst(lc);
		EscValueMap *vm = value_map_for(src, (char *) linitial(t));

		if (vm == NULL)
			continue;
		if (vm->map == NULL)
			vm->map = new_string_map("escalation value map");
		string_map_put(vm->map, (char *) lsecond(t), (char *) lthird(t));
	}

	/* lookups: (role, hops) */
	foreach(lc, lookups)
	{
		List	   *t = (List *) lfirst(lc);

		load_lookup(src, (char *) linitial(t), (List *) lsecond(t));
	}

	/* rules */
	initStringInfo(&combined[0]);
	initStringInfo(&combined[1]);
	if (!SearchSysCacheExists1(TSCONFIGOID, ObjectIdGetDatum(src->cfgid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the text search configuration of source \"%s\" no longer exists",
						src->name)));
	src->lexicon = esc_lexicon_create(config->cxt, src->cfgid);
	src->rules = palloc(sizeof(EscRule *) * Max(list_length(rules), 1));
	src->nrules = 0;
	for (int i = 0; i < list_length(rules); i++)
	{
		EscRule    *proto = (EscRule *) list_nth(rules, i);
		int32		rsid = list_nth_int(rule_sources, i);
		char	  **kws = (char **) list_nth(rule_keywords, i);
		EscRule    *r;

		if (rsid != 0 && rsid != src->source_id)
			continue;
		r = palloc(sizeof(EscRule));
		*r = *proto;
		r->prefilter = -1;
		if (r->nkeywords > 0)
		{
			r->kwids = palloc(sizeof(int) * r->nkeywords);
			for (int k = 0; k < r->nkeywords; k++)
				r->kwids[k] = esc_lexicon_add_keyword(src->lexicon, kws[k]);
		}
		r->field_index = -1;
		if (r->field)
			for (fi = 0; fi < src->nfields; fi++)
				if (strcmp(src->fields[fi].name, r->field) == 0 &&
					src->fields[fi].col.name != NULL)
					r->field_index = fi;
		if (r->pattern)
		{
			r->case_sensitive = list_nth_int(rule_case, i) != 0;
			r->regex = compile_pattern(r->pattern, r->case_sensitive);
			if (r->regex == NULL)
				continue;
			r->literals = esc_required_literals(r->pattern, r->case_sensitive);
		}
		/*
		 * A pattern without a literal of its own: its shape, if it has one,
		 * joins the source's one shift-and scan of the text (shape.c), in
		 * any of its lanes.
		 */
		r->shape_lane = 0;
		r->shape_end = 0;
		if (r->regex && r->literals == NIL)
		{
			if (src->shapes == NULL)
				src->shapes = palloc0(sizeof(EscShapeSet));
			if (esc_shape_add(src->shapes, r->pattern, r->case_sensitive, ESC_SHAPE_LANES,
							  false, &r->shape_lane, &r->shape_end, &r->shape_ascii_only))
				src->shapes->eager = true;
			else
				r->shape_end = 0;
		}
		/* and they share one prefilter scan by the regex engine */
		if (r->regex && r->literals == NIL && pattern_combinable(r->pattern))
		{
			int			g = list_nth_int(rule_case, i) != 0 ? 1 : 0;

			r->prefilter = g;
			if (combined[g].len > 0)
				appendStringInfoChar(&combined[g], '|');
			appendStringInfo(&combined[g], "(?:%s)", r->pattern);
			ncombined[g]++;
		}
		if (r->on_message)
			src->any_message_rule = true;
		if (r->has_sentiment_below || r->has_frustration_above)
			src->any_sentiment_rule = true;
		if (r->has_team_confidence || r->has_escalation_probability)
			src->any_triage_rule = true;
		if (r->has_escalation_probability)
			src->any_escalation_probability_rule = true;
		if (r->account_vip >= 0 || r->naccount_tiers > 0 || r->has_min_value ||
			r->has_renewal_within)
			src->any_account_rule = true;
		src->rules[src->nrules++] = r;
	}

	/*
	 * One scan of the text tells whether any pattern can match; only then
	 * does each pattern run on its own.  Worth it from two patterns on.
	 */
	/*
	 * Patterns with a literal: a common one ("status") lets many texts
	 * through to the engine, so their shapes join too, checked after the
	 * literal; only in the first lane, so that they never add a lane to
	 * the scan every text pays for, and only when they keep the scan in
	 * windows around rare bytes (shape.c): a shape of letters and spaces
	 * ("breach of ") filters little the literal does not, and would make
	 * every text be scanned whole.
	 */
	for (int k = 0; k < src->nrules; k++)
	{
		EscRule    *r = src->rules[k];

		if (r->regex == NULL || r->literals == NIL)
			continue;
		if (src->shapes == NULL)
			src->shapes = palloc0(sizeof(EscShapeSet));
		if (!esc_shape_add(src->shapes, r->pattern, r->case_sensitive, 1, true,
						   &r->shape_lane, &r->shape_end, &r->shape_ascii_only))
			r->shape_end = 0;
	}
	if (src->shapes != NULL && src->shapes->nlanes == 0)
	{
		pfree(src->shapes);
		src->shapes = NULL;
	}
	for (int g = 0; g < 2; g++)
	{
		if (ncombined[g] >= 2)
			src->prefilter[g] = compile_pattern(combined[g].data, g == 1);
		if (src->prefilter[g] == NULL)
			for (int k = 0; k < src->nrules; k++)
				if (src->rules[k]->prefilter == g)
					src->rules[k]->prefilter = -1;
	}
}

/*
 * build_source inside a subtransaction: a source that no longer fits its
 * table is disabled with a WARNING, and the helpdesk's write goes on.
 */
typedef struct BuildSourceArgs
{
	EscSource  *src;
	List	   *mapping;
	List	   *msgmapping;
	List	   *valuemaps;
	List	   *lookups;
	List	   *rules;
	List	   *rule_sources;
	List	   *rule_keywords;
	List	   *rule_case;
} BuildSourceArgs;

static void
build_source_call(void *arg)
{
	BuildSourceArgs *a = (BuildSourceArgs *) arg;

	build_source(a->src, a->mapping, a->msgmapping, a->valuemaps, a->lookups,
				 a->rules, a->rule_sources, a->rule_keywords, a->rule_case);
}

static void
build_source_safely(EscSource *src, List *mapping, List *msgmapping, List *valuemaps,
					List *lookups, List *rules, List *rule_sources, List *rule_keywords,
					List *rule_case)
{
	BuildSourceArgs a = {src, mapping, msgmapping, valuemaps, lookups,
	rules, rule_sources, rule_keywords, rule_case};
	ErrorData  *edata = esc_in_subtransaction(build_source_call, &a);

	if (edata == NULL)
		return;
	src->broken = true;
	ereport(WARNING,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("escalation source \"%s\" is disabled: %s",
					src->name, edata->message),
			 errhint("Detach and attach the table again with a mapping that matches it.")));
	FreeErrorData(edata);
}

static List *
list_of_strings(int n,...)
{
	va_list		ap;
	List	   *l = NIL;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		l = lappend(l, va_arg(ap, char *));
	va_end(ap);
	return l;
}

/* a row of escalation.sentiment_terms */
typedef struct TermRow
{
	int32		source_id;		/* 0 = every source */
	char	   *term;
	bool		has_valence;
	double		valence;
	bool		has_frustration;
	double		frustration;
} TermRow;

/* order: first word, longer phrases first, a source's own before global */
static int
term_cmp(const void *a, const void *b)
{
	const EscSentTerm *x = (const EscSentTerm *) a;
	const EscSentTerm *y = (const EscSentTerm *) b;
	int			c = strcmp(x->words[0], y->words[0]);

	if (c != 0)
		return c;
	if (x->nwords != y->nwords)
		return y->nwords - x->nwords;
	return x->source_rank - y->source_rank;
}

/*
 * A source's sentiment terms (its own and every source's), grouped by
 * first word and hashed on it for sentiment.c.  NULL when there are none.
 */
static uint64 terms_generation = 0;

static EscSentimentTerms *
build_sentiment_terms(List *rows, int32 source_id)
{
	EscSentimentTerms *st;
	ListCell   *lc;
	int			n = 0;

	foreach(lc, rows)
	{
		TermRow    *tr = (TermRow *) lfirst(lc);

		if (tr->source_id == 0 || tr->source_id == source_id)
			n++;
	}
	if (n == 0)
		return NULL;
	st = palloc0(sizeof(EscSentimentTerms));
	/* sentiment.c's token memo tells builds apart by it, never by address */
	st->generation = ++terms_generation;
	st->terms = palloc0(sizeof(EscSentTerm) * n);
	/* a source's own rows first, so that after a stable grouping they win */
	for (int pass = 0; pass < 2; pass++)
	{
		foreach(lc, rows)
		{
			TermRow    *tr = (TermRow *) lfirst(lc);
			EscSentTerm *t;
			char	   *copy;
			char	   *tok;
			char	   *save = NULL;

			if (pass == 0 ? tr->source_id != source_id || source_id == 0
				: tr->source_id != 0)
				continue;
			t = &st->terms[st->nterms];
			t->term = pstrdup(tr->term);
			copy = pstrdup(tr->term);
			for (tok = strtok_r(copy, " ", &save); tok && t->nwords < 4;
				 tok = strtok_r(NULL, " ", &save))
				t->words[t->nwords++] = tok;
			if (t->nwords == 0)
				continue;
			t->has_valence = tr->has_valence && t->nwords == 1;
			t->valence = tr->valence;
			t->has_frustration = tr->has_frustration;
			t->frustration = tr->frustration;
			t->source_rank = pass;
			st->nterms++;
		}
	}
	qsort(st->terms, st->nterms, sizeof(EscSentTerm), term_cmp);

	st->hash_size = 16;
	while (st->hash_size < st->nterms * 2)
		st->hash_size *= 2;
	st->slots = palloc0(sizeof(int) * st->hash_size);
	for (int i = 0; i < st->nterms; i++)
	{
		uint32		h;

		if (i > 0 && strcmp(st->terms[i].words[0], st->terms[i - 1].words[0]) == 0)
			continue;			/* the group's first term is in the hash */
		h = esc_sentiment_hash(st->terms[i].words[0], strlen(st->terms[i].words[0])) &
			(st->hash_size - 1);
		while (st->slots[h] != 0)
			h = (h + 1) & (st->hash_size - 1);
		st->slots[h] = i + 1;
	}
	return st;
}

static void
build_config(void)
{
	MemoryContext cxt,
				old;
	EscConfig  *c;
	Oid			nsp;
	Oid			extoid;
	List	   *rules = NIL,
			   *rule_sources = NIL,
			   *rule_keywords = NIL,
			   *rule_case = NIL;
	const char *const config_tables[] = {"rules", "sources", "teams", "sla_policies",
		"sentiment_terms"};
	List	   *terms = NIL;
	uint64		start_count = inval_count;
	Oid			save_userid;
	int			save_sec;

	cxt = AllocSetContextCreate(TopMemoryContext, "escalation cache", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	c = palloc0(sizeof(EscConfig));
	c->cxt = cxt;
	c->watched = palloc(sizeof(Oid));
	{
		MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));

		cb->func = config_free_callback;
		cb->arg = c;
		MemoryContextRegisterResetCallback(cxt, cb);
	}

	/*
	 * Retire the previous build.  The list lives in TopMemoryContext: in the
	 * new build's context it would be freed with that build when a later
	 * rebuild of the same transaction retires it too.
	 */
	if (config != NULL)
	{
		MemoryContextSwitchTo(TopMemoryContext);
		graveyard = lappend(graveyard, config->cxt);
		MemoryContextSwitchTo(cxt);
	}
	config = c;

	extoid = get_extension_oid("escalation", true);
	nsp = get_namespace_oid("escalation", true);
	if (!OidIsValid(extoid) || !OidIsValid(nsp))
	{
		MemoryContextSwitchTo(old);
		config_valid = (inval_count == start_count);
		return;
	}
	{
		HeapTuple	tup = SearchSysCache1(EXTENSIONOID, ObjectIdGetDatum(extoid));

		/* extension owner: the role our triggers write as */
		c->owner = GetUserId();
		if (HeapTupleIsValid(tup))
		{
			bool		isnull;
			Datum		d = SysCacheGetAttr(EXTENSIONOID, tup, Anum_pg_extension_extowner, &isnull);

			if (!isnull)
				c->owner = DatumGetObjectId(d);
			ReleaseSysCache(tup);
		}
	}
	for (int i = 0; i < (int) lengthof(config_tables); i++)
		watch(get_relname_relid(config_tables[i], nsp));
	c->accounts_relid = get_relname_relid("accounts", nsp);

	/*
	 * Read the configuration as the extension's owner: the first trigger
	 * call of a backend may come from an application role that has no
	 * privilege on escalation's tables (or on the lookup tables), and the
	 * build must not depend on who happened to trigger it.  An ERROR
	 * restores the user id when the (sub)transaction aborts.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(c->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* rules first: every source compiles its own copy */
	MemoryContextSwitchTo(cxt);
	spi_select("SELECT rule_id, name, source_id, applies_to, keywords, pattern, "
					"case_sensitive, priorities, channels, field, field_op, field_value, "
					"account_vip, account_tiers, min_annual_value::pg_catalog.float8, "
					"renewal_within, target_team, target_skills, target_tier, kind, "
					"severity, level, sentiment_below, frustration_above, tenant, "
					"team_confidence_at_least, escalation_probability_at_least "
					"FROM escalation.rules WHERE enabled ORDER BY rule_id",
					"escalation.rules");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		int32		sid;
		char	  **kws;
		bool		isnull;
		EscRule    *r = read_rule(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &sid, &kws);

		rules = lappend(rules, r);
		rule_sources = lappend_int(rule_sources, sid);
		rule_keywords = lappend(rule_keywords, kws);
		rule_case = lappend_int(rule_case,
								DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 7, &isnull)) ? 1 : 0);
	}

	/* the teams' own sentiment terms, every source's (NULL) and each source's */
	spi_select("SELECT source_id, pg_catalog.lower(term), valence, frustration "
			   "FROM escalation.sentiment_terms",
			   "escalation.sentiment_terms");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;
		TermRow    *tr = palloc0(sizeof(TermRow));

		d = SPI_getbinval(tup, desc, 1, &isnull);
		tr->source_id = isnull ? 0 : DatumGetInt32(d);
		tr->term = getstr(tup, desc, 2);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		tr->has_valence = !isnull;
		tr->valence = isnull ? 0 : DatumGetFloat8(d);
		d = SPI_getbinval(tup, desc, 4, &isnull);
		tr->has_frustration = !isnull;
		tr->frustration = isnull ? 0 : DatumGetFloat8(d);
		terms = lappend(terms, tr);
	}

	spi_select("SELECT source_id, name, ticket_table::pg_catalog.oid, "
					"ts_config::pg_catalog.oid, time_zone, message_table::pg_catalog.oid, "
					"(SELECT pg_catalog.array_agg(ARRAY[k, v]) FROM pg_catalog.jsonb_each_text(mapping) AS m(k, v)), "
					"(SELECT pg_catalog.array_agg(ARRAY[k, v]) FROM pg_catalog.jsonb_each_text(message_mapping) AS m(k, v)), "
					"(SELECT pg_catalog.array_agg(ARRAY[r, k, v]) FROM pg_catalog.jsonb_each(value_maps) AS vm(r, m), "
					"        pg_catalog.jsonb_each_text(vm.m) AS e(k, v)), "
					"(SELECT pg_catalog.array_agg(ARRAY[l.r, (h.x OPERATOR(pg_catalog.->>) 'table'), "
					"        (h.x OPERATOR(pg_catalog.->>) 'key'), (h.x OPERATOR(pg_catalog.->>) 'value')] ORDER BY l.r, h.n) "
					"   FROM pg_catalog.jsonb_each(lookups) AS l(r, c), "
					"        pg_catalog.jsonb_array_elements(l.c) WITH ORDINALITY AS h(x, n)), "
					"(value_maps OPERATOR(pg_catalog.->) 'author')::pg_catalog.text, "
					"message_via::pg_catalog.oid, "
					"(SELECT pg_catalog.array_agg(ARRAY[r, v]) FROM pg_catalog.jsonb_each(sentinels) AS st(r, a), "
					"        pg_catalog.jsonb_array_elements_text(st.a) AS e(v)) "
					"FROM escalation.sources WHERE attached ORDER BY source_id",
					"escalation.sources");

	{
		SPITupleTable *tt = SPI_tuptable;
		uint64		nsrc = SPI_processed;

		c->sources = palloc0(sizeof(EscSource *) * Max(nsrc, 1));
		for (uint64 i = 0; i < nsrc; i++)
		{
			HeapTuple	tup = tt->vals[i];
			TupleDesc	desc = tt->tupdesc;
			EscSource  *src = palloc0(sizeof(EscSource));
			bool		isnull;
			Datum		d;
			List	   *mapping = NIL,
					   *msgmapping = NIL,
					   *valuemaps = NIL,
					   *lookups = NIL;
			int			n;
			char	  **flat;

			src->source_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
			src->name = getstr(tup, desc, 2);
			src->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
			src->cfgid = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
			src->time_zone = getstr(tup, desc, 5);
			d = SPI_getbinval(tup, desc, 6, &isnull);
			src->msg_relid = isnull ? InvalidOid : DatumGetObjectId(d);
			src->author_map_json = getstr(tup, desc, 11);
			d = SPI_getbinval(tup, desc, 12, &isnull);
			src->via_relid = isnull ? InvalidOid : DatumGetObjectId(d);
			flat = text_array(tup, desc, 13, &n);
			for (int k = 0; k + 1 < n; k += 2)
				for (int r = 0; r < ESC_NUM_ROLES; r++)
					if (strcmp(flat[k], role_names[r]) == 0)
					{
						if (src->sentinels[r] == NULL)
							src->sentinels[r] = palloc0(sizeof(char *) * (n / 2));
						src->sentinels[r][src->nsentinels[r]++] = flat[k + 1];
					}
			c->sources[c->nsources++] = src;
			watch(src->relid);

			/* 2-D text arrays come back flattened */
			flat = text_array(tup, desc, 7, &n);
			for (int k = 0; k + 1 < n; k += 2)
				mapping = lappend(mapping, list_of_strings(2, flat[k], flat[k + 1]));
			flat = text_array(tup, desc, 8, &n);
			for (int k = 0; k + 1 < n; k += 2)
				msgmapping = lappend(msgmapping, list_of_strings(2, flat[k], flat[k + 1]));
			flat = text_array(tup, desc, 9, &n);
			for (int k = 0; k + 2 < n; k += 3)
				valuemaps = lappend(valuemaps, list_of_strings(3, flat[k], flat[k + 1], flat[k + 2]));
			flat = text_array(tup, desc, 10, &n);
			for (int k = 0; k + 3 < n; k += 4)
			{
				List	   *hop = list_of_strings(3, flat[k + 1], flat[k + 2], flat[k + 3]);

				if (lookups != NIL && strcmp((char *) linitial(llast(lookups)), flat[k]) == 0)
				{
					List	   *t = (List *) llast(lookups);

					lsecond(t) = lappend((List *) lsecond(t), hop);
				}
				else
					lookups = lappend(lookups, list_make2(flat[k], list_make1(hop)));
			}

			src->relname_q = qualified_relname(src->relid);
			if (src->relname_q == NULL)
			{
				src->broken = true;
				continue;
			}

			build_source_safely(src, mapping, msgmapping, valuemaps, lookups,
								rules, rule_sources, rule_keywords, rule_case);
			src->sentiment_terms = build_sentiment_terms(terms, src->source_id);
		}
	}

	/* every source keeps ticket facts for the metrics unless turned off */
	for (int k = 0; k < c->nsources; k++)
		c->sources[k]->keep_facts = true;
	if (OidIsValid(get_relname_relid("metric_sources", nsp)))
	{
		spi_select("SELECT source_id FROM escalation.metric_sources WHERE NOT track_facts",
				   "escalation.metric_sources");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

			for (int k = 0; k < c->nsources; k++)
				if (!isnull && c->sources[k]->source_id == DatumGetInt32(d))
					c->sources[k]->keep_facts = false;
		}
	}

	/* which sources have SLA clocks to keep (NULL source_id: all of them) */
	if (OidIsValid(get_relname_relid("sla_policies", nsp)))
	{
		spi_select("SELECT DISTINCT source_id FROM escalation.sla_policies WHERE enabled",
				   "escalation.sla_policies");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

			for (int k = 0; k < c->nsources; k++)
				if (isnull || c->sources[k]->source_id == DatumGetInt32(d))
					c->sources[k]->has_sla = true;
		}
	}

	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
	MemoryContextSwitchTo(old);
	/* an invalidation that arrived while we read makes this build stale */
	config_valid = (inval_count == start_count);
}

static void
ensure_config(void)
{
	if (config_valid && config != NULL)
		return;
	build_config();
}

/*
 * Free builds that were replaced.  Called at the end of a transaction, when
 * no trigger of ours can still hold pointers into them.
 */
void
esc_cache_release_retired(void)
{
	ListCell   *lc;

	foreach(lc, graveyard)
		MemoryContextDelete((MemoryContext) lfirst(lc));
	list_free(graveyard);
	graveyard = NIL;
}

EscSource *
esc_get_source(int32 source_id)
{
	EscSource  *src;

	ensure_config();
	src = find_source(source_id);
	if (src == NULL || src->broken)
		return NULL;
	return src;
}

EscSource *
esc_get_source_by_relid(Oid relid)
{
	ensure_config();
	for (int i = 0; i < config->nsources; i++)
		if (config->sources[i]->relid == relid && !config->sources[i]->broken)
			return config->sources[i];
	return NULL;
}

/*
 * The same, or an error when the table is not attached: for the C
 * functions that take a ticket table.
 */
EscSource *
esc_attached_source(Oid relid)
{
	EscSource  *src = esc_get_source_by_relid(relid);

	if (src == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table %s is not attached",
						get_rel_name(relid) ? get_rel_name(relid) : "?"),
				 errhint("Attach it with escalation.attach().")));
	return src;
}

/* ----------------------------------------------------------------
 * Accounts: filled on demand, dropped when escalation.accounts changes
 * ----------------------------------------------------------------
 */
EscAccount *
esc_lookup_account(const char *key)
{
	AccountEntry *e;
	bool		found;
	char		k[ACCOUNT_KEY_MAX];
	Datum		arg;
	int			rc;
	EscAccount *acc;
	MemoryContext old;
	bool		cacheable = strlen(key) < ACCOUNT_KEY_MAX;

	ensure_config();
	if (!accounts_valid || account_cxt == NULL || account_entries >= ACCOUNT_CACHE_MAX)
	{
		HASHCTL		ctl;

		/*
		 * Accounts handed out earlier in this transaction may still be in
		 * use (a row's facts keep theirs until its context is built):
		 * retire the old cache like a replaced build, freed at the end of
		 * the transaction.
		 */
		if (account_cxt)
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);

			graveyard = lappend(graveyard, account_cxt);
			MemoryContextSwitchTo(oldcxt);
		}
		account_cxt = AllocSetContextCreate(TopMemoryContext, "escalation accounts",
											ALLOCSET_DEFAULT_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = ACCOUNT_KEY_MAX;
		ctl.entrysize = sizeof(AccountEntry);
		ctl.hcxt = account_cxt;
		account_cache = hash_create("escalation accounts", 1024, &ctl,
									HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		account_entries = 0;
		accounts_valid = true;
	}

	if (cacheable)
	{
		strlcpy(k, key, sizeof(k));
		e = hash_search(account_cache, k, HASH_FIND, NULL);
		if (e)
			return &e->acc;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (account_plan == NULL)
	{
		Oid			argtypes[1] = {TEXTOID};

		account_plan = esc_prepare_kept_plan("SELECT tier, vip, annual_value::pg_catalog.float8, "
									  "annual_value::pg_catalog.text, renewal_date, owner_agent "
									  "FROM escalation.accounts "
									  "WHERE account_key OPERATOR(pg_catalog.=) $1",
									  1, argtypes);
	}
	arg = CStringGetTextDatum(key);
	rc = SPI_execute_plan(account_plan, &arg, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read escalation.accounts");

	old = MemoryContextSwitchTo(account_cxt);
	if (cacheable)
	{
		e = hash_search(account_cache, k, HASH_ENTER, &found);
		acc = &e->acc;
		account_entries++;
	}
	else
		acc = palloc0(sizeof(EscAccount));
	memset(acc, 0, sizeof(EscAccount));
	acc->key = pstrdup(key);
	if (SPI_processed > 0)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		acc->found = true;
		acc->tier = pstrdup(SPI_getvalue(tup, desc, 1));
		acc->vip = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
		d = SPI_getbinval(tup, desc, 3, &isnull);
		acc->has_value = !isnull;
		if (!isnull)
		{
			acc->annual_value = DatumGetFloat8(d);
			acc->annual_value_text = pstrdup(SPI_getvalue(tup, desc, 4));
		}
		d = SPI_getbinval(tup, desc, 5, &isnull);
		acc->has_renewal = !isnull;
		if (!isnull)
			acc->renewal_date = DatumGetDateADT(d);
		{
			char	   *o = SPI_getvalue(tup, desc, 6);

			acc->owner_agent = o ? pstrdup(o) : NULL;
		}
	}
	MemoryContextSwitchTo(old);
	SPI_finish();
	return acc;
}
