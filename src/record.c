/*-------------------------------------------------------------------------
 *
 * record.c
 *	  Turning fired rules into escalations: the reasons with their evidence,
 *	  the context snapshot for the receiving agent, and the write itself.
 *
 * Writes go through SPI with plans prepared once and kept, as the
 * extension's owner (SECURITY_LOCAL_USERID_CHANGE, as pg_cron does), so the
 * helpdesk's application role needs no privilege on escalation's tables.
 *
 * Rules that fire with the same level and target become one escalation
 * whose reasons list every rule.  The unique index escalations_one_open
 * keeps one open escalation per ticket, level and target: a rule firing
 * again adds its reason if it is new, and does nothing otherwise, so
 * repeated UPDATEs are idempotent.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "escalation.h"
#include "jsonb_build.h"

static SPIPlanPtr existing_plan = NULL;
static SPIPlanPtr first_response_plan = NULL;

void
esc_become_owner(Oid *save_userid, int *save_sec)
{
	GetUserIdAndSecContext(save_userid, save_sec);
	SetUserIdAndSecContext(esc_extension_owner(),
						   *save_sec | SECURITY_LOCAL_USERID_CHANGE);
}

void
esc_restore_user(Oid save_userid, int save_sec)
{
	SetUserIdAndSecContext(save_userid, save_sec);
}

Datum
esc_cstring_to_jsonb(const char *s)
{
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
}

int
esc_evaluate_all(EscSource *src, EscFacts *facts, EscFired *fired)
{
	int			n = 0;

	for (int i = 0; i < src->nrules; i++)
	{
		esc_rule_evaluate(src->rules[i], facts, &fired[n].verdict);
		if (fired[n].verdict.fires)
			fired[n++].rule = src->rules[i];
	}
	return n;
}

/* jsonb values pushed directly (jsonb_build.c): no JSON text to parse back */

/* a score with three decimals */
static void
jb_fixed3(JsonbParseState **st, const char *key, double d)
{
	esc_jb_numeric(st, key, esc_numeric_fixed3(d));
}

static void
jb_string_array(JsonbParseState **st, const char *key, const char *const *items, int n)
{
	esc_jb_key(st, key);
	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
		esc_jb_elem(st, items[i]);
	pushJsonbValue(st, WJB_END_ARRAY, NULL);
}

/* text[start .. end), clipped to at most max bytes on a character boundary */
static void
jb_excerpt(JsonbParseState **st, const char *key, const char *text, int start, int end, int max)
{
	int			len = end - start;

	if (len > max)
		len = pg_mbcliplen(text + start, len, max);
	esc_jb_stringn(st, key, text + start, len);
}

/*
 * One reason: the rule and the evidence of each of its conditions, pushed
 * as an object (an array element, or the whole value).
 */
static JsonbValue *
push_reason(JsonbParseState **st, EscSource *src, EscRule *rule, EscFacts *facts,
			EscVerdict *v)
{
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	esc_jb_string(st, "rule", rule->name);
	esc_jb_int(st, "rule_id", rule->rule_id);
	esc_jb_string(st, "on", facts->is_message ? "message" : "ticket");
	esc_jb_int(st, "severity", rule->severity);

	if (rule->nkeywords > 0 && facts->match)
	{
		esc_jb_key(st, "keywords");
		pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
		for (int i = 0; i < rule->nkeywords; i++)
		{
			int			k = rule->kwids[i];

			if (k < 0 || k >= facts->match->nkeywords || !facts->match->matched[k])
				continue;
			pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
			esc_jb_string(st, "keyword", src->lexicon->keywords[k].text);
			jb_excerpt(st, "matched", facts->text, facts->match->start[k],
					   facts->match->end[k], INT_MAX);
			pushJsonbValue(st, WJB_END_OBJECT, NULL);
		}
		pushJsonbValue(st, WJB_END_ARRAY, NULL);
	}
	if (rule->regex && v->pattern_so >= 0)
	{
		esc_jb_key(st, "pattern");
		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		esc_jb_string(st, "pattern", rule->pattern);
		jb_excerpt(st, "matched", facts->text, v->pattern_so, v->pattern_eo, 200);
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
	}
	if (rule->npriorities > 0)
		esc_jb_string(st, "priority", facts->priority);
	if (rule->nchannels > 0)
		esc_jb_string(st, "channel", facts->channel);
	if (rule->field && rule->field_index >= 0)
	{
		esc_jb_key(st, "field");
		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		esc_jb_string(st, "name", rule->field);
		esc_jb_string(st, "op", rule->field_op);
		esc_jb_string(st, "threshold", rule->field_value);
		esc_jb_string(st, "value", facts->field_values[rule->field_index]);
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
	}
	if (rule->account_vip >= 0 || rule->naccount_tiers > 0 || rule->has_min_value ||
		rule->has_renewal_within)
		esc_push_account(st, "account", facts->account);
	if (rule->has_sentiment_below || rule->has_frustration_above)
	{
		esc_facts_sentiment(facts);
		if (rule->has_sentiment_below)
		{
			esc_jb_key(st, "sentiment");
			pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
			jb_fixed3(st, "polarity", facts->sentiment.polarity);
			esc_jb_numeric(st, "below", rule->sentiment_below_num);
			pushJsonbValue(st, WJB_END_OBJECT, NULL);
		}
		if (rule->has_frustration_above)
		{
			esc_jb_key(st, "frustration");
			pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
			jb_fixed3(st, "score", facts->sentiment.frustration);
			esc_jb_numeric(st, "above", rule->frustration_above_num);
			jb_string_array(st, "cues", facts->sentiment.cues, facts->sentiment.ncues);
			pushJsonbValue(st, WJB_END_OBJECT, NULL);
		}
	}
	if ((rule->has_team_confidence || rule->has_escalation_probability) &&
		facts->triage != NULL && !facts->is_message)
	{
		EscPrediction *p = &facts->prediction;

		esc_facts_triage_explain(facts, rule->has_escalation_probability);
		esc_jb_key(st, "triage");
		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		esc_jb_int(st, "model_id", facts->triage->model_id);
		esc_jb_int(st, "version", facts->triage->version);
		if (rule->has_team_confidence)
		{
			esc_jb_string(st, "predicted_team", p->team_name ? p->team_name : "");
			jb_fixed3(st, "confidence", p->team_prob);
			esc_jb_numeric(st, "at_least", rule->team_confidence_num);
			jb_string_array(st, "words", p->words, p->nwords);
		}
		if (rule->has_escalation_probability)
		{
			jb_fixed3(st, "escalation_probability", p->escalation_prob);
			esc_jb_numeric(st, "escalation_at_least", rule->escalation_probability_num);
			jb_string_array(st, "escalation_words", p->esc_words, p->nesc_words);
		}
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
	}
	return pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/* one reason as a jsonb value (escalation.explain()'s evidence) */
Datum
esc_reason_jsonb(EscSource *src, EscRule *rule, EscFacts *facts, EscVerdict *v)
{
	JsonbParseState *st = NULL;

	return JsonbPGetDatum(JsonbValueToJsonb(push_reason(&st, src, rule, facts, v)));
}

/*
 * The reasons as the "created" journey event records them: each rule,
 * without the evidence.
 */
static JsonbValue *
push_reason_rules(JsonbParseState **st, EscRule **rules, int n, bool is_message)
{
	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
	{
		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		esc_jb_string(st, "rule", rules[i]->name);
		esc_jb_int(st, "rule_id", rules[i]->rule_id);
		esc_jb_string(st, "on", is_message ? "message" : "ticket");
		esc_jb_int(st, "severity", rules[i]->severity);
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
	}
	return pushJsonbValue(st, WJB_END_ARRAY, NULL);
}

/*
 * team|skill,skill|tier, with empty parts for what is missing: the target
 * key that keeps one open escalation per ticket, level and target.  The
 * generated column escalations.target_key (escalation.target_key()) and the
 * trigger's look-up of open escalations both use this one function, so
 * they cannot disagree.
 */
char *
esc_target_key(const char *team, char **skills, int nskills, bool has_tier, int tier)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (team)
		appendStringInfoString(&buf, team);
	appendStringInfoChar(&buf, '|');
	for (int i = 0; i < nskills; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfoString(&buf, skills[i]);
	}
	appendStringInfoChar(&buf, '|');
	if (has_tier)
		appendStringInfo(&buf, "%d", tier);
	return buf.data;
}

/* the team a fired rule escalates to: its own, or the one predicted */
static const char *
fired_team(EscFired *f)
{
	return f->verdict.target_team ? f->verdict.target_team : f->rule->target_team;
}

static char *
target_key(EscFired *f)
{
	EscRule    *r = f->rule;

	return esc_target_key(fired_team(f), r->target_skills, r->ntarget_skills,
						  r->target_tier > 0, r->target_tier);
}

/*
 * The one statement that writes an escalation: it inserts the escalation,
 * or adds the new reasons to the open one at the same level and target,
 * and appends the "created" journey event of a new escalation, in one
 * execution.  (The context snapshot is read before, by its own read-only
 * query: that one sees the helpdesk's tables as the helpdesk's statement
 * saw them, without the rows that statement is writing.)
 *
 * The new escalation's id is drawn first ("drawn"), so that the returned
 * row tells whether it was inserted (it carries that id) or an open one was
 * updated (a concurrent writer got there first: record_event's UPDATE
 * branch then writes "reasons_added").  record_event skips the INSERTs of
 * this statement (esc_journey_own_created), whose event is written here.
 *
 * $1 source_id, $2 ticket_key, $3 level, $4 kind, $5 target_team,
 * $6 target_skills, $7 target_tier, $8 severity, $9 reasons,
 * $10 context (NULL: the escalation exists, keep '{}'), $11 time, $12 origin,
 * $13 the reasons as the "created" event records them: which rules, without
 * their evidence, which is on the escalation row (the journey says what
 * happened; the row says why, once), $14 the ticket's tenant (its mapped
 * tenant column, as text; routing never crosses it).
 */
const Oid	esc_record_types[ESC_RECORD_NARGS] = {
	INT4OID, TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTARRAYOID, INT4OID, INT4OID,
	JSONBOID, JSONBOID, TIMESTAMPTZOID, TEXTOID, JSONBOID, TEXTOID
};

static SPIPlanPtr record_plan = NULL;

static void
prepare_record_plan(void)
{
	if (record_plan)
		return;
	record_plan = esc_prepare_kept_plan(
										"WITH drawn AS (SELECT pg_catalog.nextval('escalation.escalations_escalation_id_seq'::pg_catalog.regclass) AS id), "
										"ins AS (INSERT INTO escalation.escalations AS e "
										"(escalation_id, source_id, ticket_key, level, kind, origin, target_team, target_skills, "
										" target_tier, severity, reasons, context, created_at, updated_at, last_actor, tenant) "
										"VALUES ((SELECT id FROM drawn), $1, $2, $3, $4, $12, $5, $6, $7, $8, $9, "
										"  COALESCE($10, '{}'::pg_catalog.jsonb), $11, $11, 'trigger', $14) "
										"ON CONFLICT (source_id, ticket_key, level, target_key) "
										"WHERE status IN ('queued', 'offered', 'accepted') "
										"DO UPDATE SET reasons = escalation.merge_reasons(e.reasons, excluded.reasons), "
										"  severity = GREATEST(e.severity, excluded.severity), "
										"  updated_at = GREATEST(e.updated_at, excluded.updated_at), "
										"  last_actor = 'trigger', last_note = NULL "
										"WHERE escalation.merge_reasons(e.reasons, excluded.reasons) "
										"  OPERATOR(pg_catalog.<>) e.reasons "
										"RETURNING e.escalation_id, e.source_id, e.ticket_key, e.status, e.reasons, "
										"  e.severity, e.target_team, e.last_actor, e.updated_at) "
										"INSERT INTO escalation.events (escalation_id, source_id, ticket_key, event, "
										"  from_status, to_status, actor, note, detail, at) "
										"SELECT i.escalation_id, i.source_id, i.ticket_key, 'created', NULL, i.status, "
										"  i.last_actor, NULL, pg_catalog.jsonb_build_object('reasons', $13, "
										"  'severity', i.severity, 'target_team', i.target_team), i.updated_at "
										"FROM ins i WHERE i.escalation_id OPERATOR(pg_catalog.=) (SELECT id FROM drawn)",
										ESC_RECORD_NARGS, (Oid *) esc_record_types);
}

static void
prepare_existing_plan(void)
{
	if (existing_plan == NULL)
	{
		Oid			types[2] = {INT4OID, TEXTOID};

		existing_plan = esc_prepare_kept_plan(
											  "SELECT e.level, e.target_key, "
											  "  ARRAY(SELECT (r OPERATOR(pg_catalog.->>) 'rule_id')::pg_catalog.int4 "
											  "        FROM pg_catalog.jsonb_array_elements(e.reasons) r) "
											  "FROM escalation.escalations e "
											  "WHERE e.source_id OPERATOR(pg_catalog.=) $1 "
											  "  AND e.ticket_key OPERATOR(pg_catalog.=) $2 "
											  "  AND e.status IN ('queued', 'offered', 'accepted')",
											  2, types);
	}
}

/* run the record statement; record_event leaves its INSERTs to it */
static void
execute_record(SPIPlanPtr plan, Datum *args, char *nulls)
{
	volatile int rc = 0;

	esc_journey_own_created(true);
	PG_TRY();
	{
		rc = SPI_execute_plan(plan, args, nulls, false, 0);
	}
	PG_FINALLY();
	{
		esc_journey_own_created(false);
	}
	PG_END_TRY();
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not insert escalation");
}

/* does an open escalation at this level and target already carry the rule? */
static bool
already_recorded(SPITupleTable *tt, uint64 n, int level, const char *tkey, int32 rule_id,
				 bool *group_exists)
{
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		int			l = DatumGetInt32(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
		char	   *k = SPI_getvalue(tt->vals[i], tt->tupdesc, 2);
		Datum		arr;
		Datum	   *ids;
		bool	   *idnulls;
		int			nids;

		if (l != level || strcmp(k, tkey) != 0)
			continue;
		*group_exists = true;
		arr = SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull);
		if (isnull)
			return false;
		deconstruct_array(DatumGetArrayTypeP(arr), INT4OID, sizeof(int32), true,
						  TYPALIGN_INT, &ids, &idnulls, &nids);
		for (int j = 0; j < nids; j++)
			if (!idnulls[j] && DatumGetInt32(ids[j]) == rule_id)
				return true;
		return false;
	}
	return false;
}

/*
 * A new ticket's escalation, written without a statement (direct_insert.c):
 * the escalation row and its "created" event.  A ticket being inserted has
 * no escalation yet, and no other transaction can write one for a key that
 * is not committed, so the record statement's ON CONFLICT arbiter has
 * nothing to arbitrate.  args and nulls are the record statement's
 * parameters.  Returns false, having written nothing, when either table
 * needs a statement (a statement-level trigger on it, say): the caller
 * runs the record statement then.
 */
static const char *const escalation_columns[] = {
	"source_id", "ticket_key", "level", "kind", "origin",
	"target_team", "target_skills", "target_tier", "severity", "reasons",
	"context", "created_at", "updated_at", "last_actor", "tenant"
};

static const char *const event_columns[] = {
	"escalation_id", "source_id", "ticket_key", "event", "from_status",
	"to_status", "actor", "note", "detail", "at"
};

static bool
record_direct(Datum *args, char *nulls, EscRule **group, int ngroup, bool is_message)
{
	static int	cached_att[8];
	Oid			esc_relid = esc_own_relid("escalations");
	Oid			ev_relid = esc_own_relid("events");
	EscDirect  *esc;
	EscDirect  *ev;
	Datum		values[lengthof(escalation_columns)];
	bool		isnull[lengthof(escalation_columns)];
	Datum		evalues[lengthof(event_columns)];
	bool		enulls[lengthof(event_columns)];
	volatile HeapTuple row = NULL;
	TupleDesc	desc;
	JsonbParseState *st = NULL;
	Datum		detail;
	int			att_status,
				att_severity,
				att_team,
				att_actor,
				att_updated;
	bool		n;

	if (!OidIsValid(esc_relid) || !OidIsValid(ev_relid))
		return false;
	esc = esc_direct_open(esc_relid, escalation_columns, lengthof(escalation_columns));
	ev = esc_direct_open(ev_relid, event_columns, lengthof(event_columns));
	if (esc == NULL || ev == NULL)
		return false;

	/*
	 * The record statement's parameters, in escalation_columns' order; the
	 * id is the identity column's default, as in the statement.
	 */
	{
		static const int from_arg[] = {0, 1, 2, 3, 11, 4, 5, 6, 7, 8, 9, 10, 10, -1, 13};

		for (int c = 0; c < (int) lengthof(escalation_columns); c++)
		{
			int			a = from_arg[c];

			if (a < 0)
			{
				values[c] = CStringGetTextDatum("trigger");
				isnull[c] = false;
				continue;
			}
			values[c] = args[a];
			isnull[c] = (nulls[a] == 'n');
		}
	}
	if (isnull[10])
	{
		values[10] = esc_cstring_to_jsonb("{}");
		isnull[10] = false;
	}

	esc_journey_own_created(true);
	PG_TRY();
	{
		row = esc_direct_insert(esc, values, isnull);
	}
	PG_FINALLY();
	{
		esc_journey_own_created(false);
	}
	PG_END_TRY();
	if (row == NULL)
		return true;			/* a BEFORE trigger skipped it: no event */

	/* the "created" event, from the row as written (RETURNING's values) */
	desc = esc_direct_desc(esc);
	att_status = esc_attnum(desc, "status", &cached_att[0]);
	att_severity = esc_attnum(desc, "severity", &cached_att[1]);
	att_team = esc_attnum(desc, "target_team", &cached_att[2]);
	att_actor = esc_attnum(desc, "last_actor", &cached_att[3]);
	att_updated = esc_attnum(desc, "updated_at", &cached_att[4]);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	esc_jb_key(&st, "reasons");
	(void) push_reason_rules(&st, group, ngroup, is_message);
	{
		Datum		sev = heap_getattr(row, att_severity, desc, &n);

		if (n)
			esc_jb_null(&st, "severity");
		else
			esc_jb_int(&st, "severity", DatumGetInt32(sev));
	}
	{
		Datum		team = heap_getattr(row, att_team, desc, &n);

		esc_jb_string(&st, "target_team", n ? NULL : TextDatumGetCString(team));
	}
	detail = JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));

	evalues[0] = heap_getattr(row, esc_attnum(desc, "escalation_id", &cached_att[5]), desc, &enulls[0]);
	evalues[1] = heap_getattr(row, esc_attnum(desc, "source_id", &cached_att[6]), desc, &enulls[1]);
	evalues[2] = heap_getattr(row, esc_attnum(desc, "ticket_key", &cached_att[7]), desc, &enulls[2]);
	evalues[3] = CStringGetTextDatum("created");
	enulls[3] = false;
	evalues[4] = (Datum) 0;
	enulls[4] = true;
	evalues[5] = heap_getattr(row, att_status, desc, &enulls[5]);
	evalues[6] = heap_getattr(row, att_actor, desc, &enulls[6]);
	evalues[7] = (Datum) 0;
	enulls[7] = true;
	evalues[8] = detail;
	enulls[8] = false;
	evalues[9] = heap_getattr(row, att_updated, desc, &enulls[9]);
	esc_direct_insert(ev, evalues, enulls);
	return true;
}

/*
 * Write the escalations for the rules that fired on a row.  may_exist is
 * false for a brand-new ticket, which cannot have an open escalation yet,
 * and saves the look-up.  Must be called with SPI connected, as the owner.
 */
void
esc_record(EscSource *src, EscRow *row, EscFired *fired, int nfired, bool may_exist)
{
	bool	   *done = palloc0(sizeof(bool) * nfired);
	SPITupleTable *existing = NULL;
	uint64		nexisting = 0;
	Datum		context = (Datum) 0;

	prepare_record_plan();

	if (may_exist)
	{
		Datum		args[2] = {Int32GetDatum(src->source_id), CStringGetTextDatum(row->key)};

		prepare_existing_plan();
		if (SPI_execute_plan(existing_plan, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read open escalations");
		existing = SPI_tuptable;
		nexisting = SPI_processed;
	}

	for (int i = 0; i < nfired; i++)
	{
		EscRule    *lead = fired[i].rule;
		char	   *tkey;
		JsonbParseState *reasons = NULL;
		JsonbValue *reasons_value = NULL;
		EscRule   **group = palloc(sizeof(EscRule *) * nfired);
		int			ngroup = 0;
		int			severity = lead->severity;
		bool		group_exists = false;
		bool		anything_new = false;
		Datum		args[ESC_RECORD_NARGS];
		char		nulls[ESC_RECORD_NARGS];

		if (done[i])
			continue;
		tkey = target_key(&fired[i]);
		pushJsonbValue(&reasons, WJB_BEGIN_ARRAY, NULL);
		for (int j = i; j < nfired; j++)
		{
			EscRule    *r = fired[j].rule;
			char	   *k;

			if (done[j] || r->level != lead->level)
				continue;
			k = (j == i) ? tkey : target_key(&fired[j]);
			if (strcmp(k, tkey) != 0)
				continue;
			done[j] = true;
			if (existing && already_recorded(existing, nexisting, r->level, tkey,
											 r->rule_id, &group_exists))
				continue;
			anything_new = true;
			(void) push_reason(&reasons, src, r, &row->facts, &fired[j].verdict);
			group[ngroup++] = r;
			severity = Max(severity, r->severity);
		}
		reasons_value = pushJsonbValue(&reasons, WJB_END_ARRAY, NULL);
		if (!anything_new)
			continue;

		memset(nulls, ' ', sizeof(nulls));
		args[0] = Int32GetDatum(src->source_id);
		args[1] = CStringGetTextDatum(row->key);
		args[2] = Int32GetDatum(lead->level);
		args[3] = CStringGetTextDatum(lead->kind);
		if (fired_team(&fired[i]))
			args[4] = CStringGetTextDatum(fired_team(&fired[i]));
		else
			nulls[4] = 'n';
		if (lead->ntarget_skills > 0)
		{
			Datum	   *elems = palloc(sizeof(Datum) * lead->ntarget_skills);

			for (int s = 0; s < lead->ntarget_skills; s++)
				elems[s] = CStringGetTextDatum(lead->target_skills[s]);
			args[5] = PointerGetDatum(construct_array(elems, lead->ntarget_skills, TEXTOID,
													  -1, false, TYPALIGN_INT));
		}
		else
			nulls[5] = 'n';
		if (lead->target_tier > 0)
			args[6] = Int32GetDatum(lead->target_tier);
		else
			nulls[6] = 'n';
		args[7] = Int32GetDatum(severity);
		args[8] = JsonbPGetDatum(JsonbValueToJsonb(reasons_value));
		/* the snapshot is built once per row, and only for a new escalation */
		if (group_exists)
			nulls[9] = 'n';
		else
		{
			if (context == (Datum) 0)
				context = esc_build_context(src, row,
											!may_exist && !row->facts.is_message,
											esc_defer_requester_tickets);
			args[9] = context;
		}
		args[10] = TimestampTzGetDatum(row->facts.at);
		args[11] = CStringGetTextDatum("rule");
		{
			JsonbParseState *st = NULL;

			args[12] = JsonbPGetDatum(JsonbValueToJsonb(push_reason_rules(&st, group, ngroup,
																		  row->facts.is_message)));
		}
		if (row->facts.tenant)
			args[13] = CStringGetTextDatum(row->facts.tenant);
		else
			nulls[13] = 'n';

		/* a new ticket's escalation may be left to the worker (pending.c) */
		if (!may_exist && esc_defer_escalations &&
			esc_pending_write(args, nulls))
			continue;
		if (may_exist || !esc_direct_records ||
			!record_direct(args, nulls, group, ngroup, row->facts.is_message))
			execute_record(record_plan, args, nulls);
	}
}

/*
 * Record one escalation from the record statement's parameters, as
 * esc_record() made them: escalation.record_pending() records the ones
 * the trigger left to the worker.  Must be called with SPI connected, as
 * the owner.
 */
void
esc_record_args(Datum *args, char *nulls)
{
	prepare_record_plan();
	execute_record(record_plan, args, nulls);
}

/*
 * The first customer-visible agent reply of a ticket.
 */
void
esc_record_first_response(EscSource *src, const char *ticket_key, TimestampTz at,
						  const char *author)
{
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	if (first_response_plan == NULL)
	{
		Oid			types[4] = {INT4OID, TEXTOID, TIMESTAMPTZOID, TEXTOID};

		first_response_plan = esc_prepare_kept_plan(
													"INSERT INTO escalation.first_responses (source_id, ticket_key, responded_at, author) "
													"VALUES ($1, $2, $3, $4) ON CONFLICT (source_id, ticket_key) DO UPDATE "
													"SET responded_at = excluded.responded_at, author = excluded.author "
													"WHERE excluded.responded_at OPERATOR(pg_catalog.<) first_responses.responded_at",
													4, types);
	}
	args[0] = Int32GetDatum(src->source_id);
	args[1] = CStringGetTextDatum(ticket_key);
	args[2] = TimestampTzGetDatum(at);
	if (author)
		args[3] = CStringGetTextDatum(author);
	else
		nulls[3] = 'n';
	if (SPI_execute_plan(first_response_plan, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record first response");
}
