/*-------------------------------------------------------------------------
 *
 * triage_funcs.c
 *	  escalation.train(), escalation.evaluate(), escalation.classify(), and
 *	  the per-backend cache of active triage models.
 *
 * Labels.  train() learns from the rows of an attached ticket table: the
 * team is the value of team_column (default: the column attach() mapped as
 * the team); escalated is the boolean escalated_column, or by default
 * whether the ticket has an escalation in escalation.escalations.  Tickets
 * are held out for evaluation by the boolean holdout_column, or by a hash
 * of the ticket key (holdout_fraction of them).  The ticket table is read
 * as the caller (their privileges apply); only escalation.models is
 * written as the extension's owner.  Column names are checked against the
 * catalog and quoted; no SQL is built from other user text.
 *
 * Versions.  Every run stores a new row of escalation.models.  It becomes
 * the active model if activate = 'always', or 'if_better' and it scores at
 * least as well as the active model on the same held-out tickets (team
 * accuracy and escalation accuracy both), or when there is none.
 *
 * The cache.  A backend loads a source's active model once, the first time
 * a rule or classify() needs it, into its own memory context.  The
 * statement trigger escalation.invalidate_cache() on escalation.models and
 * escalation.teams queues a relcache invalidation; our callback (the
 * pattern of catalog.c) only flips a flag, and the next use drops every
 * loaded model.  Dropped models are freed at the end of the transaction,
 * since a trigger further up the stack may still be scoring with one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "escalation.h"

/*
 * One binary problem over every ticket overfits more readily than a
 * one-vs-rest team: the escalation model runs at half the cost (5-fold
 * cross-validation on the ITSM benchmark's training tickets: escalation
 * accuracy 0.865, 0.869, 0.864 at a quarter, half and the full cost).
 */
#define ESCALATION_COST_FACTOR 0.5

/*
 * Validation: the training tickets fall in TRIAGE_FOLDS folds by a hash of
 * their key; calibration learns without one fold and scores it, on as
 * many folds as give TRIAGE_VALIDATION_TICKETS tickets (one fold of a
 * large history, all five of a small one).
 */
#define TRIAGE_FOLDS 5
#define TRIAGE_VALIDATION_TICKETS 1000

PG_FUNCTION_INFO_V1(escalation_train);
PG_FUNCTION_INFO_V1(escalation_evaluate);
PG_FUNCTION_INFO_V1(escalation_classify);

/* ----------------------------------------------------------------
 * The model cache
 * ----------------------------------------------------------------
 */
typedef struct CachedModel
{
	int32		source_id;
	EscTriageModel *model;		/* NULL: the source has no active model */
} CachedModel;

static MemoryContext model_cxt = NULL;	/* the current generation */
static List *cached = NIL;		/* CachedModel *, in model_cxt */
static List *retired = NIL;		/* older generations, freed at xact end */
static bool cache_valid = false;
static bool callbacks_registered = false;
static Oid	models_relid = InvalidOid;
static Oid	teams_relid = InvalidOid;

static void
model_inval_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == models_relid || relid == teams_relid)
		cache_valid = false;
}

static void
model_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (retired == NIL ||
		!(event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		  event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT))
		return;
	foreach(lc, retired)
		MemoryContextDelete((MemoryContext) lfirst(lc));
	list_free(retired);
	retired = NIL;
}

static void
ensure_model_cache(void)
{
	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(model_inval_callback, (Datum) 0);
		RegisterXactCallback(model_xact_callback, NULL);
		callbacks_registered = true;
	}
	if (cache_valid && model_cxt != NULL)
		return;
	if (model_cxt != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		retired = lappend(retired, model_cxt);
		MemoryContextSwitchTo(old);
	}
	model_cxt = AllocSetContextCreate(TopMemoryContext, "escalation triage models",
									  ALLOCSET_DEFAULT_SIZES);
	cached = NIL;
	{
		Oid			nsp = get_namespace_oid("escalation", true);

		models_relid = OidIsValid(nsp) ? get_relname_relid("models", nsp) : InvalidOid;
		teams_relid = OidIsValid(nsp) ? get_relname_relid("teams", nsp) : InvalidOid;
	}
	cache_valid = true;
}

/*
 * Mark which classes a ticket may be routed to straight away: teams of
 * escalation.teams above tier 1 (a ticket predicted for the first line
 * stays where it is; routing there would skip nothing).  SPI connected.
 */
static void
mark_routable(EscTriageModel *m)
{
	m->routable = MemoryContextAllocZero(m->cxt, sizeof(bool) * m->nclasses);
	if (SPI_execute("SELECT name FROM escalation.teams WHERE tier OPERATOR(pg_catalog.>) 1",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read escalation.teams");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		for (int k = 0; k < m->nclasses; k++)
			if (name && strcmp(name, m->classes[k]) == 0)
				m->routable[k] = true;
	}
}

/*
 * Read a model row (SPI connected): the active model of the source, or
 * model_id when it is not 0.  Returns NULL when there is none.
 */
static EscTriageModel *
load_model(MemoryContext parent, int32 source_id, int32 model_id)
{
	static SPIPlanPtr plan = NULL;
	Datum		args[2] = {Int32GetDatum(source_id), Int32GetDatum(model_id)};
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;
	EscTriageModel *m;
	MemoryContext cur = CurrentMemoryContext;

	if (plan == NULL)
	{
		Oid			types[2] = {INT4OID, INT4OID};

		plan = esc_prepare_kept_plan("SELECT model_id, version, ts_config::pg_catalog.oid, weights "
									 "FROM escalation.models "
									 "WHERE source_id OPERATOR(pg_catalog.=) $1 "
									 "AND CASE WHEN $2 OPERATOR(pg_catalog.=) 0 THEN active "
									 "ELSE model_id OPERATOR(pg_catalog.=) $2 END",
									 2, types);
	}
	if (SPI_execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read escalation.models");
	MemoryContextSwitchTo(cur);
	if (SPI_processed == 0)
		return NULL;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	/* still toasted: deserialising detoasts it straight into the model */
	m = esc_triage_deserialize(parent,
							   (bytea *) DatumGetPointer(SPI_getbinval(tup, desc, 4, &isnull)),
							   DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull)));
	m->model_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
	m->version = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
	m->source_id = source_id;
	mark_routable(m);
	return m;
}

/*
 * The active model of a source, loaded once per backend; NULL when it has
 * none.  Connects to SPI itself (nesting is fine) and reads as the
 * extension's owner.
 */
EscTriageModel *
esc_triage_model_for(int32 source_id)
{
	ListCell   *lc;
	CachedModel *cm;
	Oid			save_userid;
	int			save_sec;
	MemoryContext old;

	ensure_model_cache();
	foreach(lc, cached)
	{
		cm = (CachedModel *) lfirst(lc);
		if (cm->source_id == source_id)
			return cm->model;
	}
	if (!OidIsValid(models_relid))
		return NULL;

	esc_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	old = MemoryContextSwitchTo(model_cxt);
	cm = palloc0(sizeof(CachedModel));
	cm->source_id = source_id;
	MemoryContextSwitchTo(old);
	cm->model = load_model(model_cxt, source_id, 0);
	SPI_finish();
	esc_restore_user(save_userid, save_sec);

	old = MemoryContextSwitchTo(model_cxt);
	cached = lappend(cached, cm);
	MemoryContextSwitchTo(old);
	return cm->model;
}

/* ----------------------------------------------------------------
 * Reading labelled tickets
 * ----------------------------------------------------------------
 */
typedef struct LabelSpec
{
	char	   *team_column;
	char	   *escalated_column;	/* NULL: has an escalation */
	char	   *holdout_column;		/* NULL: by hash of the key */
	double		holdout_fraction;
	bool		resolved_only;
} LabelSpec;

typedef struct Ticket
{
	char	   *text;
	int			textlen;
	char	   *priority;
	char	   *channel;
	char	   *tier;
	char	   *team;			/* NULL: unknown */
	int8		escalated;		/* -1 unknown, 0, 1 */
	bool		heldout;
	uint32		keyhash;		/* hash of the ticket key */
} Ticket;

/* a column of the ticket table, checked; its quoted name */
static const char *
checked_column(Oid relid, const char *what, const char *name, Oid want_type)
{
	AttrNumber	att = get_attnum(relid, name);

	if (att == InvalidAttrNumber || att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist", name, get_rel_name(relid)),
				 errdetail("It was given as the %s.", what)));
	if (OidIsValid(want_type) && get_atttype(relid, att) != want_type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the %s \"%s\" must be of type %s", what, name, format_type_be(want_type))));
	return quote_identifier(name);
}

/*
 * Every ticket with a known team or escalation label, ordered by key (so
 * that training is deterministic).  Reads as the caller; SPI connected.
 */
static Ticket *
read_tickets(EscSource *src, LabelSpec *spec, int *ntickets)
{
	StringInfoData sql;
	const char *keycol = quote_identifier(src->cols[ESC_ROLE_KEY].name);
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(src->source_id)};
	SPIPlanPtr	plan;
	Portal		portal;
	Ticket	   *t;
	int			n = 0,
				max = 1024;
	TupleDesc	rowdesc = NULL;
	MemoryContext cur = CurrentMemoryContext;
	bool		need_account = src->cols[ESC_ROLE_ACCOUNT].name != NULL;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT t, t.%s::pg_catalog.text, ",
					 checked_column(src->relid, "team column", spec->team_column, InvalidOid));
	if (spec->escalated_column)
		appendStringInfo(&sql, "t.%s, ",
						 checked_column(src->relid, "escalated column", spec->escalated_column, BOOLOID));
	else
		appendStringInfo(&sql,
						 "EXISTS (SELECT 1 FROM escalation.escalations e "
						 "WHERE e.source_id OPERATOR(pg_catalog.=) $1 "
						 "AND e.ticket_key OPERATOR(pg_catalog.=) t.%s::pg_catalog.text), ",
						 keycol);
	if (spec->holdout_column)
		appendStringInfo(&sql, "t.%s, ",
						 checked_column(src->relid, "holdout column", spec->holdout_column, BOOLOID));
	else
		appendStringInfoString(&sql, "NULL::pg_catalog.bool, ");
	appendStringInfo(&sql, "t.%s::pg_catalog.text FROM %s t ORDER BY t.%s",
					 keycol, src->relname_q, keycol);

	plan = SPI_prepare(sql.data, 1, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\"", sql.data);
	portal = SPI_cursor_open(NULL, plan, args, NULL, true);
	t = palloc(sizeof(Ticket) * max);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 1000);
		MemoryContextSwitchTo(cur);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		d;
			HeapTupleHeader th;
			HeapTupleData tmp;
			EscRow		row;
			char	   *key;
			Ticket	   *x;

			CHECK_FOR_INTERRUPTS();
			d = SPI_getbinval(tup, desc, 1, &isnull);
			if (isnull)
				continue;
			th = DatumGetHeapTupleHeader(d);
			if (rowdesc == NULL)
				rowdesc = lookup_rowtype_tupdesc_copy(HeapTupleHeaderGetTypeId(th),
													  HeapTupleHeaderGetTypMod(th));
			tmp.t_len = HeapTupleHeaderGetDatumLength(th);
			ItemPointerSetInvalid(&tmp.t_self);
			tmp.t_tableOid = src->relid;
			tmp.t_data = th;
			esc_read_ticket(src, &tmp, rowdesc, &row, GetCurrentTransactionStartTimestamp(),
							need_account);
			if (spec->resolved_only && row.facts.status != ESC_STATUS_SOLVED)
				continue;

			if (n == max)
			{
				max *= 2;
				t = repalloc_huge(t, sizeof(Ticket) * max);
			}
			x = &t[n];
			x->text = row.text;
			x->textlen = row.textlen;
			x->priority = row.facts.priority ? pstrdup(row.facts.priority) : NULL;
			x->channel = row.facts.channel ? pstrdup(row.facts.channel) : NULL;
			x->tier = (row.facts.account && row.facts.account->found && row.facts.account->tier)
				? pstrdup(row.facts.account->tier) : NULL;
			x->team = SPI_getvalue(tup, desc, 2);
			d = SPI_getbinval(tup, desc, 3, &isnull);
			x->escalated = isnull ? -1 : (DatumGetBool(d) ? 1 : 0);
			if (x->team == NULL && x->escalated < 0)
				continue;
			key = SPI_getvalue(tup, desc, 5);
			x->keyhash = key ? hash_bytes((const unsigned char *) key, strlen(key)) : 0;
			d = SPI_getbinval(tup, desc, 4, &isnull);
			if (spec->holdout_column)
				x->heldout = !isnull && DatumGetBool(d);
			else
				x->heldout = key != NULL &&
					(x->keyhash % 10000) < (uint32) (spec->holdout_fraction * 10000);
			n++;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
	*ntickets = n;
	return t;
}

/* ----------------------------------------------------------------
 * Evaluation
 * ----------------------------------------------------------------
 */
#define CAL_BINS 10

typedef struct EvalResult
{
	int			tickets;		/* held-out tickets with a team */
	int			correct;
	double		accuracy;
	double		macro_f1;
	int			esc_tickets;
	int			esc_correct;
	double		escalation_accuracy;	/* NaN when not measured */
	/* per class (the model's) and for teams it does not know */
	int		   *tp,
			   *fp,
			   *fn;
	int		   *confusion;		/* (K+1) x K: true (K = unknown) x predicted */
	int			cal_n[CAL_BINS];
	double		cal_conf[CAL_BINS];
	int			cal_ok[CAL_BINS];
	int			ecal_n[CAL_BINS];
	double		ecal_p[CAL_BINS];
	int			ecal_pos[CAL_BINS];
} EvalResult;

static int
class_index(EscTriageModel *m, const char *team)
{
	if (team == NULL)
		return -2;
	for (int k = 0; k < m->nclasses; k++)
		if (strcmp(m->classes[k], team) == 0)
			return k;
	return -1;
}

/* score the held-out tickets with a model */
static void
evaluate_model(EscTriageModel *m, Ticket *t, int n, EvalResult *r)
{
	int			K = m->nclasses;
	double	   *s = palloc(sizeof(double) * K);
	int			present = 0;
	double		f1sum = 0;
	bool	   *in_test = palloc0(sizeof(bool) * (K + 1));

	memset(r, 0, sizeof(EvalResult));
	r->tp = palloc0(sizeof(int) * (K + 1));
	r->fp = palloc0(sizeof(int) * (K + 1));
	r->fn = palloc0(sizeof(int) * (K + 1));
	r->confusion = palloc0(sizeof(int) * (K + 1) * K);

	for (int i = 0; i < n; i++)
	{
		EscTriageDoc doc;
		EscPrediction p;
		int			y;

		if (!t[i].heldout)
			continue;
		CHECK_FOR_INTERRUPTS();
		esc_triage_vectorize(m, t[i].text, t[i].textlen, t[i].priority, t[i].channel,
							 t[i].tier, &doc);
		esc_triage_score(m, &doc, &p, s, false);
		y = class_index(m, t[i].team);
		if (y != -2 && p.team >= 0)
		{
			int			yy = (y < 0) ? K : y;
			int			bin = Min((int) (p.team_prob * CAL_BINS), CAL_BINS - 1);

			r->tickets++;
			in_test[yy] = true;
			r->confusion[yy * K + p.team]++;
			if (y == p.team)
			{
				r->correct++;
				r->tp[y]++;
			}
			else
			{
				r->fp[p.team]++;
				r->fn[yy]++;
			}
			r->cal_n[bin]++;
			r->cal_conf[bin] += p.team_prob;
			r->cal_ok[bin] += (y == p.team);
		}
		if (t[i].escalated >= 0 && p.has_escalation)
		{
			int			bin = Min((int) (p.escalation_prob * CAL_BINS), CAL_BINS - 1);

			r->esc_tickets++;
			r->esc_correct += ((p.escalation_prob >= 0.5) == (t[i].escalated == 1));
			r->ecal_n[bin]++;
			r->ecal_p[bin] += p.escalation_prob;
			r->ecal_pos[bin] += t[i].escalated;
		}
		pfree(doc.feat);
		pfree(doc.val);
	}
	r->accuracy = r->tickets ? (double) r->correct / r->tickets : NAN;
	/* macro-F1 over the teams present among the held-out tickets */
	for (int k = 0; k <= K; k++)
	{
		double		d;

		if (!in_test[k])
			continue;
		present++;
		d = 2.0 * r->tp[k] + r->fp[k] + r->fn[k];
		f1sum += d > 0 ? 2.0 * r->tp[k] / d : 0;
	}
	r->macro_f1 = present ? f1sum / present : NAN;
	r->escalation_accuracy = r->esc_tickets ? (double) r->esc_correct / r->esc_tickets : NAN;
	pfree(s);
	pfree(in_test);
}

static void
json_float(StringInfo buf, double x)
{
	if (isnan(x))
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, "%.4f", x);
}

/* the most frequent confusions, as jsonb: [{"team", "predicted", "tickets"}] */
static Datum
confusion_jsonb(EscTriageModel *m, EvalResult *r)
{
	int			K = m->nclasses;
	StringInfoData buf;
	bool		first = true;
	int		   *used = palloc0(sizeof(int) * (K + 1) * K);

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int shown = 0; shown < 20; shown++)
	{
		int			best = -1,
					bestn = 0;

		for (int c = 0; c < (K + 1) * K; c++)
			if (!used[c] && c / K != c % K && r->confusion[c] > bestn)
			{
				best = c;
				bestn = r->confusion[c];
			}
		if (best < 0)
			break;
		used[best] = 1;
		if (!first)
			appendStringInfoString(&buf, ", ");
		first = false;
		appendStringInfoString(&buf, "{\"team\": ");
		if (best / K == K)
			appendStringInfoString(&buf, "null");
		else
			escape_json(&buf, m->classes[best / K]);
		appendStringInfoString(&buf, ", \"predicted\": ");
		escape_json(&buf, m->classes[best % K]);
		appendStringInfo(&buf, ", \"tickets\": %d}", bestn);
	}
	appendStringInfoChar(&buf, ']');
	return esc_cstring_to_jsonb(buf.data);
}

/* calibration: per tenth of predicted probability, the mean and the outcome */
static Datum
calibration_jsonb(EvalResult *r)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"team\": [");
	for (int pass = 0; pass < 2; pass++)
	{
		bool		first = true;

		if (pass == 1)
			appendStringInfoString(&buf, "], \"escalation\": [");
		for (int b = 0; b < CAL_BINS; b++)
		{
			int			nb = pass ? r->ecal_n[b] : r->cal_n[b];

			if (nb == 0)
				continue;
			if (!first)
				appendStringInfoString(&buf, ", ");
			first = false;
			appendStringInfo(&buf, "{\"from\": %.1f, \"tickets\": %d, \"predicted\": ",
							 (double) b / CAL_BINS, nb);
			json_float(&buf, (pass ? r->ecal_p[b] : r->cal_conf[b]) / nb);
			appendStringInfoString(&buf, ", \"observed\": ");
			json_float(&buf, (double) (pass ? r->ecal_pos[b] : r->cal_ok[b]) / nb);
			appendStringInfoChar(&buf, '}');
		}
	}
	appendStringInfoString(&buf, "]}");
	return esc_cstring_to_jsonb(buf.data);
}

/* ----------------------------------------------------------------
 * Training
 * ----------------------------------------------------------------
 */
typedef struct Progress
{
	instr_time	start;
	double		last;
} Progress;

static double
elapsed(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_DOUBLE(now);
}

/* long runs report progress, at most once a second after the first */
static void
report_progress(void *arg, const char *phase, int done, int total)
{
	Progress   *pr = (Progress *) arg;
	double		t = elapsed(pr->start);

	CHECK_FOR_INTERRUPTS();
	if (t >= 2.0 && t - pr->last >= 1.0)
	{
		pr->last = t;
		ereport(NOTICE,
				(errmsg("training: %s %d of %d, %.1f s", phase, done, total, t)));
	}
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static char *
text_arg(FunctionCallInfo fcinfo, int i)
{
	return PG_ARGISNULL(i) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(i));
}

static void
check_fraction(double f)
{
	if (isnan(f) || f < 0 || f > 0.9)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("holdout_fraction must be between 0 and 0.9"),
				 errhint("A fifth of the tickets (0.2) is the usual choice.")));
}

/* descending */
static int
int_cmp_desc(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	return (x < y) - (x > y);
}

/*
 * max_features: the vocabulary keeps the features in the most training
 * tickets (of those in at least min_df), as scikit-learn's max_features
 * does, chosen before training so that the model is trained on exactly
 * what it keeps.  Sets *cut_df to the document frequency of the last one
 * kept and *cut_room to how many features of that frequency fit (the
 * first ones met: words before subject grams, each in the provisional
 * order, which follows the tickets'), or *cut_df to 0 when every feature
 * fits.
 */
static void
keep_most_frequent(const int *df, int nprov, int min_df, int max_features,
				   int *cut_df, int *cut_room)
{
	int		   *sorted;
	int			n = 0;

	*cut_df = 0;
	*cut_room = 0;
	sorted = palloc(sizeof(int) * Max(nprov, 1));
	for (int f = 0; f < nprov; f++)
		if (df[f] >= min_df)
			sorted[n++] = df[f];
	if (n > max_features)
	{
		qsort(sorted, n, sizeof(int), int_cmp_desc);
		*cut_df = sorted[max_features - 1];
		/* those above the cut all fit; then as many at it as there is room */
		*cut_room = max_features;
		for (int i = 0; i < max_features && sorted[i] > *cut_df; i++)
			(*cut_room)--;
	}
	pfree(sorted);
}

/* is a feature of document frequency d in the vocabulary?  (counts the room at the cut) */
static bool
kept(int d, int min_df, int cut_df, int *cut_room)
{
	if (d < min_df)
		return false;
	if (cut_df == 0 || d > cut_df)
		return true;
	if (d < cut_df || *cut_room == 0)
		return false;
	(*cut_room)--;
	return true;
}

/*
 * escalation.train(ticket_table, team_column, escalated_column,
 *	 holdout_column, holdout_fraction, resolved_only, activate, cost,
 *	 class_balance, min_df, max_features)
 */
Datum
escalation_train(PG_FUNCTION_ARGS)
{
	Oid			relid;
	LabelSpec	spec;
	char	   *activate;
	double		C,
				balance;
	int			min_df;
	int			max_features;	/* 0: no limit */
	int			cut_df = 0;		/* features at this df are kept while room */
	int			cut_room = 0;
	EscSource  *src;
	Ticket	   *t;
	int			n;
	Progress	pr;
	MemoryContext work,
				old;
	EscTriageVocab *tv;
	int			nprov = 0,
				maxprov = 4096;
	uint64	   *provkey;
	int		   *df;
	int		   *lastdoc;
	int		   *lastpos;
	int		   *final;
	int			V = 0,
				Vw;
	int			ntrain = 0,
				nheld = 0,
				nteam_train = 0;
	char	  **classes;
	int			K = 0;
	EscTrainSet X,
				Xe;
	int		   *y;
	int8	   *ye;
	int		   *train_ticket;
	int			nvalidation = 0;
	float	   *warm = NULL;	/* the first validation run's dual variables */
	EscTriageModel m;
	EscTriageModel *sm;
	EvalResult r,
				prev;
	bool		have_prev = false;
	bool		activated;
	bytea	   *blob;
	int32		model_id,
				version;
	double		train_s;
	TupleDesc	outdesc;
	Datum		values[13];
	bool		nulls[13];
	int		   *docstart;
	int		   *docfeat;
	int		   *doctf;
	int			ndocfeat = 0,
				maxdocfeat = 65536;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ticket_table must not be NULL")));
	relid = PG_GETARG_OID(0);
	src = esc_attached_source(relid);
	spec.team_column = text_arg(fcinfo, 1);
	spec.escalated_column = text_arg(fcinfo, 2);
	spec.holdout_column = text_arg(fcinfo, 3);
	spec.holdout_fraction = PG_ARGISNULL(4) ? 0.2 : PG_GETARG_FLOAT8(4);
	spec.resolved_only = PG_ARGISNULL(5) ? false : PG_GETARG_BOOL(5);
	activate = PG_ARGISNULL(6) ? "if_better" : text_to_cstring(PG_GETARG_TEXT_PP(6));
	C = PG_ARGISNULL(7) ? 0.5 : PG_GETARG_FLOAT8(7);
	balance = PG_ARGISNULL(8) ? 0.5 : PG_GETARG_FLOAT8(8);
	min_df = PG_ARGISNULL(9) ? 2 : PG_GETARG_INT32(9);
	max_features = (PG_NARGS() > 10 && !PG_ARGISNULL(10)) ? PG_GETARG_INT32(10) : 0;

	if (spec.team_column == NULL)
		spec.team_column = (char *) src->cols[ESC_ROLE_TEAM].name;
	if (spec.team_column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no team column for %s", src->relname_q),
				 errhint("Pass team_column, or attach the table with team => 'column'.")));
	check_fraction(spec.holdout_fraction);
	if (strcmp(activate, "always") != 0 && strcmp(activate, "if_better") != 0 &&
		strcmp(activate, "never") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for activate: \"%s\"", activate),
				 errhint("Use always, if_better or never.")));
	if (isnan(C) || C <= 0 || C > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cost must be greater than 0 and at most 1000")));
	if (isnan(balance) || balance < 0 || balance > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("class_balance must be between 0 and 1"),
				 errdetail("0 weighs every ticket alike, 1 weighs every team alike.")));
	if (min_df < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_df must be at least 1")));
	if (max_features < 0 || (max_features > 0 && max_features < 100))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_features must be at least 100, or NULL for no limit")));

	if (get_call_result_type(fcinfo, NULL, &outdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	outdesc = BlessTupleDesc(outdesc);

	INSTR_TIME_SET_CURRENT(pr.start);
	pr.last = 0;
	work = AllocSetContextCreate(CurrentMemoryContext, "escalation training",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	t = read_tickets(src, &spec, &n);

	/* the teams, sorted by name */
	{
		char	  **names = palloc(sizeof(char *) * Max(n, 1));
		int			nn = 0;

		for (int i = 0; i < n; i++)
		{
			if (t[i].heldout)
				nheld++;
			else
			{
				ntrain++;
				if (t[i].team)
				{
					names[nn++] = t[i].team;
					nteam_train++;
				}
			}
		}
		qsort(names, nn, sizeof(char *), str_cmp);
		classes = palloc(sizeof(char *) * Max(nn, 1));
		for (int i = 0; i < nn; i++)
			if (K == 0 || strcmp(classes[K - 1], names[i]) != 0)
				classes[K++] = names[i];
	}
	if (nteam_train < 20 || K < 2)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("not enough history to train a triage model for %s", src->relname_q),
				 errdetail("Training needs at least 20 tickets with a team, of at least 2 teams, outside the held-out ones; there are %d, of %d teams.",
						   nteam_train, K),
				 errhint("Until then the triage rules do not fire, and rules alone decide.")));

	/*
	 * Features of the training tickets, with provisional indexes: per
	 * ticket its distinct features in order of first occurrence, with their
	 * counts (lastdoc/lastpos: where a feature was last counted).
	 */
	tv = esc_triage_vocab_create(work, src->cfgid, true);
	provkey = palloc(sizeof(uint64) * maxprov);
	df = palloc(sizeof(int) * maxprov);
	lastdoc = palloc(sizeof(int) * maxprov);
	lastpos = palloc(sizeof(int) * maxprov);
	docstart = palloc(sizeof(int) * (ntrain + 1));
	docfeat = palloc(sizeof(int) * maxdocfeat);
	doctf = palloc(sizeof(int) * maxdocfeat);
	{
		int			d = 0;

		for (int i = 0; i < n; i++)
		{
			uint64	   *keys;
			int			nk;

			if (t[i].heldout)
				continue;
			nk = esc_triage_doc_keys(tv, t[i].text, t[i].textlen, t[i].priority,
									 t[i].channel, t[i].tier, &keys);
			docstart[d] = ndocfeat;
			for (int k = 0; k < nk; k++)
			{
				int			id = esc_triage_feature_put(tv, keys[k], nprov);

				if (id == nprov)
				{
					if (nprov == maxprov)
					{
						maxprov *= 2;
						provkey = repalloc_huge(provkey, sizeof(uint64) * maxprov);
						df = repalloc_huge(df, sizeof(int) * maxprov);
						lastdoc = repalloc_huge(lastdoc, sizeof(int) * maxprov);
						lastpos = repalloc_huge(lastpos, sizeof(int) * maxprov);
					}
					provkey[nprov] = keys[k];
					df[nprov] = 0;
					lastdoc[nprov] = -1;
					nprov++;
				}
				if (lastdoc[id] == d)
				{
					doctf[lastpos[id]]++;
					continue;
				}
				if (ndocfeat == maxdocfeat)
				{
					maxdocfeat *= 2;
					docfeat = repalloc_huge(docfeat, sizeof(int) * maxdocfeat);
					doctf = repalloc_huge(doctf, sizeof(int) * maxdocfeat);
				}
				lastdoc[id] = d;
				lastpos[id] = ndocfeat;
				docfeat[ndocfeat] = id;
				doctf[ndocfeat++] = 1;
				df[id]++;
			}
			pfree(keys);
			d++;
		}
		docstart[d] = ndocfeat;
	}
	report_progress(&pr, "features", ntrain, ntrain);

	/*
	 * The vocabulary: features in at least min_df training tickets, the
	 * words first, then the subject grams (the team model's weights cover
	 * the words only).
	 */
	final = palloc(sizeof(int) * Max(nprov, 1));
	if (max_features > 0)
		keep_most_frequent(df, nprov, min_df, max_features, &cut_df, &cut_room);
	for (int f = 0; f < nprov; f++)
		final[f] = (!(provkey[f] & ESC_TRIAGE_GRAM_TAG) &&
					kept(df[f], min_df, cut_df, &cut_room)) ? V++ : -1;
	Vw = V;
	for (int f = 0; f < nprov; f++)
		if ((provkey[f] & ESC_TRIAGE_GRAM_TAG) && kept(df[f], min_df, cut_df, &cut_room))
			final[f] = V++;

	memset(&m, 0, sizeof(m));
	m.cxt = work;
	m.nfeatures = V;
	m.nwords = Vw;
	m.nclasses = K;
	m.classes = classes;
	m.features = palloc(sizeof(char *) * Max(V, 1));
	m.idf = palloc(sizeof(float) * Max(V, 1));
	for (int f = 0; f < nprov; f++)
		if (final[f] >= 0)
		{
			m.features[final[f]] = esc_triage_key_text(tv, provkey[f]);
			m.idf[final[f]] = (float) (log((1.0 + ntrain) / (1.0 + df[f])) + 1.0);
		}

	/*
	 * The training set, tf-idf, words and grams each L2-normalised: Xe
	 * (every feature, the escalation model's) and X (its words, the team
	 * model's), row by row the same tickets.
	 */
	Xe.n = X.n = ntrain;
	Xe.nfeatures = V;
	X.nfeatures = Vw;
	Xe.start = palloc(sizeof(int) * (ntrain + 1));
	Xe.feat = palloc(sizeof(int) * Max(ndocfeat, 1));
	Xe.val = palloc(sizeof(float) * Max(ndocfeat, 1));
	X.start = palloc(sizeof(int) * (ntrain + 1));
	X.feat = palloc(sizeof(int) * Max(ndocfeat, 1));
	X.val = palloc(sizeof(float) * Max(ndocfeat, 1));
	y = palloc(sizeof(int) * Max(ntrain, 1));
	ye = palloc(sizeof(int8) * Max(ntrain, 1));
	train_ticket = palloc(sizeof(int) * Max(ntrain, 1));
	{
		int			d = 0,
					p = 0,
					pw = 0;

		for (int i = 0; i < n; i++)
		{
			int			s = p,
						nword;

			if (t[i].heldout)
				continue;
			Xe.start[d] = p;
			X.start[d] = pw;
			/* words, then grams: both in ascending order of final index */
			for (int block = 0; block < 2; block++)
			{
				for (int q = docstart[d]; q < docstart[d + 1]; q++)
				{
					int			f = final[docfeat[q]];

					if (f < 0 || (f >= Vw) != (block == 1))
						continue;
					Xe.feat[p] = f;
					Xe.val[p++] = (float) ((1.0 + log((double) doctf[q])) * m.idf[f]);
				}
				if (block == 0)
					nword = p - s;
			}
			esc_triage_normalize(Xe.val + s, nword, p - s);
			memcpy(X.feat + pw, Xe.feat + s, sizeof(int) * nword);
			memcpy(X.val + pw, Xe.val + s, sizeof(float) * nword);
			pw += nword;
			if (t[i].team)
			{
				char	   *key = t[i].team;
				char	  **hit = bsearch(&key, classes, K, sizeof(char *), str_cmp);

				y[d] = (int) (hit - classes);
			}
			else
				y[d] = -1;
			ye[d] = (int8) (t[i].escalated < 0 ? 0 : (t[i].escalated ? 1 : -1));
			train_ticket[d] = i;
			d++;
		}
		Xe.start[d] = p;
		X.start[d] = pw;
	}

	/*
	 * Calibration, on validation tickets taken from the training tickets
	 * (never the held-out ones): learn without them, score them.
	 */
	{
		int			nfolds = Min(TRIAGE_FOLDS,
								 (TRIAGE_VALIDATION_TICKETS * TRIAGE_FOLDS + ntrain - 1) / Max(ntrain, 1));
		int		   *fold = palloc(sizeof(int) * Max(ntrain, 1));
		bool	   *use = palloc(sizeof(bool) * Max(ntrain, 1));
		double	   *ts = MemoryContextAllocHuge(work, sizeof(double) * Max(ntrain, 1) * K);
		int		   *ty = palloc(sizeof(int) * Max(ntrain, 1));
		double	   *es = palloc(sizeof(double) * Max(ntrain, 1));
		int8	   *ey = palloc(sizeof(int8) * Max(ntrain, 1));
		int			nt = 0,
					ne = 0;

		warm = MemoryContextAllocHuge(work, sizeof(float) * (size_t) (K + 1) * Max(ntrain, 1));
		memset(warm, 0, sizeof(float) * (size_t) (K + 1) * Max(ntrain, 1));
		for (int d = 0; d < ntrain; d++)
			fold[d] = (int) (hash_bytes_uint32(t[train_ticket[d]].keyhash) % TRIAGE_FOLDS);
		for (int f = 0; f < nfolds; f++)
		{
			MemoryContext fcxt = AllocSetContextCreate(work, "escalation training fold",
													   ALLOCSET_DEFAULT_SIZES);
			MemoryContext prev = MemoryContextSwitchTo(fcxt);
			EscLearned	L;

			for (int d = 0; d < ntrain; d++)
				use[d] = fold[d] != f;
			esc_learn_triage(&X, &Xe, y, ye, use, K, C, C * ESCALATION_COST_FACTOR, balance,
							 NULL, f == 0 ? warm : NULL, &L, report_progress, &pr, "validation");
			MemoryContextSwitchTo(prev);
			for (int d = 0; d < ntrain; d++)
			{
				if (use[d])
					continue;
				/* a team the fold's model never saw cannot be calibrated on */
				if (y[d] >= 0 && L.present[y[d]])
				{
					esc_linear_scores(&X, d, L.w, L.b, K, ts + (size_t) nt * K);
					ty[nt++] = y[d];
				}
				if (ye[d] != 0 && L.has_escalation)
				{
					esc_linear_scores(&Xe, d, L.we, &L.be, 1, &es[ne]);
					ey[ne++] = ye[d];
				}
			}
			MemoryContextDelete(fcxt);
		}
		m.temperature = esc_fit_temperature(ts, ty, nt, K);
		esc_fit_platt(es, ey, ne, &m.platt_a, &m.platt_b);
		nvalidation = Max(nt, ne);
	}

	/* the models, on every training ticket, from the first fold's answer */
	{
		EscLearned	L;

		esc_learn_triage(&X, &Xe, y, ye, NULL, K, C, C * ESCALATION_COST_FACTOR, balance,
						 warm, NULL, &L, report_progress, &pr, "teams");
		m.w = L.w;
		m.b = L.b;
		m.has_escalation = L.has_escalation;
		m.we = L.we;
		m.be = L.be;
	}
	report_progress(&pr, "models", 1, 1);

	/* evaluate the stored form itself: serialise, load, score the held-out tickets */
	blob = esc_triage_serialize(&m);
	if (nheld > 0)
	{
		sm = esc_triage_deserialize(work, blob, src->cfgid);
		evaluate_model(sm, t, n, &r);
	}
	else
	{
		memset(&r, 0, sizeof(r));
		r.accuracy = r.macro_f1 = r.escalation_accuracy = NAN;
	}
	train_s = elapsed(pr.start);

	/* the active model, on the same held-out tickets */
	{
		Oid			save_userid;
		int			save_sec;
		EscTriageModel *pm;

		esc_become_owner(&save_userid, &save_sec);
		pm = load_model(work, src->source_id, 0);
		esc_restore_user(save_userid, save_sec);
		if (pm != NULL && nheld > 0)
		{
			evaluate_model(pm, t, n, &prev);
			have_prev = true;
		}
		if (strcmp(activate, "always") == 0 || pm == NULL)
			activated = strcmp(activate, "never") != 0;
		else if (strcmp(activate, "never") == 0)
			activated = false;
		else
			activated = have_prev &&
				!(r.accuracy < prev.accuracy) &&
				!(r.escalation_accuracy < prev.escalation_accuracy ||
				  (isnan(r.escalation_accuracy) && !isnan(prev.escalation_accuracy)));
	}

	/* store it, as the owner */
	{
		Oid			save_userid;
		int			save_sec;
		Oid			types[14] = {INT4OID, BOOLOID, OIDOID, TEXTOID, TEXTOID, TEXTOID, FLOAT8OID,
		BOOLOID, INT4OID, INT4OID, INT4OID, TEXTARRAYOID, JSONBOID, BYTEAOID};
		Datum		a[14];
		char		an[14];
		StringInfoData metrics;
		Datum	   *cls = palloc(sizeof(Datum) * K);
		bool		isnull;
		SPIPlanPtr	insert;

		memset(an, ' ', sizeof(an));
		a[0] = Int32GetDatum(src->source_id);
		a[1] = BoolGetDatum(activated);
		a[2] = ObjectIdGetDatum(src->cfgid);
		a[3] = CStringGetTextDatum(spec.team_column);
		if (spec.escalated_column)
			a[4] = CStringGetTextDatum(spec.escalated_column);
		else
			an[4] = 'n';
		if (spec.holdout_column)
			a[5] = CStringGetTextDatum(spec.holdout_column);
		else
			an[5] = 'n';
		a[6] = Float8GetDatum(spec.holdout_fraction);
		a[7] = BoolGetDatum(spec.resolved_only);
		a[8] = Int32GetDatum(ntrain);
		a[9] = Int32GetDatum(nheld);
		a[10] = Int32GetDatum(V);
		for (int k = 0; k < K; k++)
			cls[k] = CStringGetTextDatum(classes[k]);
		a[11] = PointerGetDatum(construct_array(cls, K, TEXTOID, -1, false, TYPALIGN_INT));
		initStringInfo(&metrics);
		appendStringInfoString(&metrics, "{\"accuracy\": ");
		json_float(&metrics, r.accuracy);
		appendStringInfoString(&metrics, ", \"macro_f1\": ");
		json_float(&metrics, r.macro_f1);
		appendStringInfoString(&metrics, ", \"escalation_accuracy\": ");
		json_float(&metrics, r.escalation_accuracy);
		appendStringInfo(&metrics, ", \"heldout_tickets\": %d, \"validation_tickets\": %d, "
						 "\"train_seconds\": %.3f, "
						 "\"cost\": %g, \"class_balance\": %g, \"min_df\": %d, "
						 "\"max_features\": %s, "
						 "\"word_features\": %d, \"subject_grams\": %d, "
						 "\"temperature\": %.4f, \"platt_a\": %.4f, \"platt_b\": %.4f}",
						 r.tickets, nvalidation, train_s, C, balance, min_df,
						 max_features > 0 ? psprintf("%d", max_features) : "null",
						 Vw, V - Vw, m.temperature, m.platt_a, m.platt_b);
		a[12] = esc_cstring_to_jsonb(metrics.data);
		a[13] = PointerGetDatum(blob);

		esc_become_owner(&save_userid, &save_sec);
		if (activated)
		{
			Oid			t1[1] = {INT4OID};

			if (SPI_execute_with_args("UPDATE escalation.models SET active = false "
									  "WHERE source_id OPERATOR(pg_catalog.=) $1 AND active",
									  1, t1, a, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not update escalation.models");
		}
		/*
		 * A generic plan: a custom one would fold the parameters into
		 * constants, copying the megabytes of weights once more.
		 */
		insert = SPI_prepare_cursor("INSERT INTO escalation.models (source_id, version, active, "
									"ts_config, team_column, escalated_column, holdout_column, "
									"holdout_fraction, resolved_only, train_tickets, heldout_tickets, "
									"features, teams, metrics, weights) "
									"SELECT $1, COALESCE((SELECT pg_catalog.max(version) FROM escalation.models "
									"  WHERE source_id OPERATOR(pg_catalog.=) $1), 0) OPERATOR(pg_catalog.+) 1, "
									"$2, $3::pg_catalog.regconfig, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 "
									"RETURNING model_id, version",
									14, types, CURSOR_OPT_GENERIC_PLAN);
		if (insert == NULL ||
			SPI_execute_plan(insert, a, an, false, 1) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "could not store the triage model");
		model_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		esc_restore_user(save_userid, save_sec);
	}
	SPI_finish();
	MemoryContextSwitchTo(old);

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int32GetDatum(model_id);
	values[1] = Int32GetDatum(version);
	values[2] = BoolGetDatum(activated);
	values[3] = Int32GetDatum(ntrain);
	values[4] = Int32GetDatum(nheld);
	values[5] = Int32GetDatum(K);
	values[6] = Int32GetDatum(V);
	values[7] = Float8GetDatum(r.accuracy);
	nulls[7] = isnan(r.accuracy);
	values[8] = Float8GetDatum(r.macro_f1);
	nulls[8] = isnan(r.macro_f1);
	values[9] = Float8GetDatum(r.escalation_accuracy);
	nulls[9] = isnan(r.escalation_accuracy);
	values[10] = Float8GetDatum(have_prev ? prev.accuracy : 0);
	nulls[10] = !have_prev || isnan(prev.accuracy);
	values[11] = Float8GetDatum(have_prev ? prev.escalation_accuracy : 0);
	nulls[11] = !have_prev || isnan(prev.escalation_accuracy);
	values[12] = Float8GetDatum(train_s);
	{
		HeapTuple	res = heap_form_tuple(outdesc, values, nulls);

		MemoryContextDelete(work);
		PG_RETURN_DATUM(HeapTupleGetDatum(res));
	}
}

/*
 * escalation.evaluate(ticket_table, model_id, holdout_column,
 *	 holdout_fraction, team_column, escalated_column)
 */
Datum
escalation_evaluate(PG_FUNCTION_ARGS)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	Oid			relid;
	EscSource  *src;
	int32		model_id;
	LabelSpec	spec;
	EscTriageModel *m;
	Ticket	   *t;
	int			n;
	EvalResult	r;
	TupleDesc	outdesc;
	Datum		values[7];
	bool		nulls[7];
	Oid			save_userid;
	int			save_sec;
	char	   *team_col = NULL,
			   *esc_col = NULL,
			   *hold_col = NULL;
	double		fraction = 0.2;
	bool		resolved_only = false;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ticket_table must not be NULL")));
	relid = PG_GETARG_OID(0);
	src = esc_attached_source(relid);
	model_id = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	if (get_call_result_type(fcinfo, NULL, &outdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	outdesc = BlessTupleDesc(outdesc);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	esc_become_owner(&save_userid, &save_sec);
	m = load_model(CurrentMemoryContext, src->source_id, model_id);
	if (m != NULL)
	{
		Datum		a[1] = {Int32GetDatum(m->model_id)};
		Oid			ty[1] = {INT4OID};
		HeapTuple	tup;
		TupleDesc	desc;
		bool		isnull;
		MemoryContext cur = CurrentMemoryContext;

		if (SPI_execute_with_args("SELECT team_column, escalated_column, holdout_column, "
								  "holdout_fraction, resolved_only FROM escalation.models "
								  "WHERE model_id OPERATOR(pg_catalog.=) $1",
								  1, ty, a, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not read escalation.models");
		MemoryContextSwitchTo(cur);
		tup = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		team_col = SPI_getvalue(tup, desc, 1);
		esc_col = SPI_getvalue(tup, desc, 2);
		hold_col = SPI_getvalue(tup, desc, 3);
		fraction = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
		resolved_only = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
	}
	esc_restore_user(save_userid, save_sec);
	if (m == NULL)
	{
		if (model_id != 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("triage model %d of %s does not exist", model_id, src->relname_q)));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s has no active triage model", src->relname_q),
				 errhint("Train one with escalation.train().")));
	}

	/* arguments override what the model was trained with */
	spec.holdout_column = PG_ARGISNULL(2) ? hold_col : text_to_cstring(PG_GETARG_TEXT_PP(2));
	spec.holdout_fraction = PG_ARGISNULL(3) ? fraction : PG_GETARG_FLOAT8(3);
	spec.team_column = PG_ARGISNULL(4) ? team_col : text_to_cstring(PG_GETARG_TEXT_PP(4));
	spec.escalated_column = PG_ARGISNULL(5) ? esc_col : text_to_cstring(PG_GETARG_TEXT_PP(5));
	spec.resolved_only = resolved_only;
	if (!PG_ARGISNULL(2))
		spec.holdout_fraction = 0;
	check_fraction(spec.holdout_fraction);

	t = read_tickets(src, &spec, &n);
	evaluate_model(m, t, n, &r);

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int32GetDatum(m->model_id);
	values[1] = Int32GetDatum(r.tickets);
	values[2] = Float8GetDatum(r.accuracy);
	nulls[2] = isnan(r.accuracy);
	values[3] = Float8GetDatum(r.macro_f1);
	nulls[3] = isnan(r.macro_f1);
	values[4] = Float8GetDatum(r.escalation_accuracy);
	nulls[4] = isnan(r.escalation_accuracy);
	values[5] = confusion_jsonb(m, &r);
	values[6] = calibration_jsonb(&r);
	{
		/* the result goes to the caller's context: SPI_finish() frees ours */
		MemoryContext spi_cxt = MemoryContextSwitchTo(caller_cxt);
		Datum		res = HeapTupleGetDatum(heap_form_tuple(outdesc, values, nulls));

		MemoryContextSwitchTo(spi_cxt);
		SPI_finish();
		PG_RETURN_DATUM(res);
	}
}

static Datum
words_array(const char **words, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(words[i]);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * escalation.classify(body, ticket_table, priority, channel, account_tier)
 *	 -> (team, probability, escalation_probability, words, escalation_words,
 *		 model_id); NULLs when the source has no active model.
 */
Datum
escalation_classify(PG_FUNCTION_ARGS)
{
	TupleDesc	outdesc;
	Datum		values[6];
	bool		nulls[6] = {true, true, true, true, true, true};
	EscSource  *src;
	EscTriageModel *m;
	text	   *body;
	EscPrediction p;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ticket_table must not be NULL")));
	if (get_call_result_type(fcinfo, NULL, &outdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	outdesc = BlessTupleDesc(outdesc);
	src = esc_attached_source(PG_GETARG_OID(1));
	m = esc_triage_model_for(src->source_id);
	if (m != NULL && !PG_ARGISNULL(0))
	{
		body = PG_GETARG_TEXT_PP(0);
		esc_triage_predict(m, VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body),
						   text_arg(fcinfo, 2), text_arg(fcinfo, 3), text_arg(fcinfo, 4),
						   &p, true);
		if (p.team >= 0)
		{
			values[0] = CStringGetTextDatum(p.team_name);
			values[1] = Float8GetDatum(p.team_prob);
			values[3] = words_array(p.words, p.nwords);
			nulls[0] = nulls[1] = nulls[3] = false;
		}
		if (p.has_escalation)
		{
			values[2] = Float8GetDatum(p.escalation_prob);
			values[4] = words_array(p.esc_words, p.nesc_words);
			nulls[2] = nulls[4] = false;
		}
		values[5] = Int32GetDatum(m->model_id);
		nulls[5] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(outdesc, values, nulls)));
}
