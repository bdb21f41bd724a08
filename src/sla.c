/*-------------------------------------------------------------------------
 *
 * sla.c
 *	  Telling the SLA clocks what happened to a ticket.
 *
 * The triggers know, from the row they already read, everything an SLA
 * policy is matched on (status meaning, priority, channel, team, account,
 * extra fields) and when it happened.  For a source that has SLA policies
 * the ticket trigger hands those facts to escalation.sla_track_ticket(),
 * one kept, generic plan; the ticket's clock bookkeeping (start, pause,
 * resume, finish, retarget) lives there, next to the tables it keeps.
 *
 * A message's bookkeeping runs for every message, and most change
 * nothing, so it is here: one read of the ticket's SLA state,
 * esc_sla_message_decide() (sla_message.c) on it, and writes only when the
 * message changes something (docs/design.md, "SLA clocks").  Sources
 * without policies pay nothing.
 *
 * The helpdesk's write must not fail because of us: the bookkeeping runs
 * in a subtransaction, and an error in it (a deadlock with a cycle, a bug)
 * becomes a WARNING; the clocks of that ticket are then behind until its
 * next change or escalation.backfill_sla() (sla_backfill.c).  A cancel
 * still cancels.
 *
 * Deciding when a clock is due is not done here: the cycle
 * (escalation.run_batch) finds due clocks through the index on next_at.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "escalation.h"
#include "sla_message.h"

static SPIPlanPtr ticket_plan = NULL;

/*
 * Run the bookkeeping `fn` in a subtransaction: its failure is a WARNING
 * (hint: how the ticket's clocks catch up), not the writer's.  Returns
 * whether it succeeded.
 */
static bool
run_protected(void (*fn) (void *), void *arg, const char *ticket_key, const char *hint)
{
	ErrorData  *edata = esc_in_subtransaction(fn, arg);

	if (edata == NULL)
		return true;
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		ReThrowError(edata);
	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("SLA clocks of ticket \"%s\" were not updated: %s",
					ticket_key, edata->message),
			 errhint("%s", hint)));
	FreeErrorData(edata);
	return false;
}

/* one kept statement with its arguments */
typedef struct PlanCall
{
	SPIPlanPtr	plan;
	Datum	   *args;
	const char *nulls;
} PlanCall;

static void
execute_plan_call(void *arg)
{
	PlanCall   *call = (PlanCall *) arg;

	if (SPI_execute_plan(call->plan, call->args, call->nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "SLA bookkeeping statement failed");
	/* its one row is of no use: not kept until SPI_finish() (backfill_sla() makes many) */
	SPI_freetuptable(SPI_tuptable);
}

/* the extra fields (fields.<name>) as a jsonb object of texts */
static Datum
fields_json(EscSource *src, EscRow *row)
{
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	/* the tenant: policies of a tenant match only its tickets */
	if (row->vals[ESC_ROLE_TENANT] != NULL)
	{
		first = false;
		escape_json(&buf, "tenant");
		appendStringInfoString(&buf, ": ");
		escape_json(&buf, row->vals[ESC_ROLE_TENANT]);
	}
	/* fields[0..2] are priority, channel and status, passed on their own */
	for (int i = 3; i < src->nfields; i++)
	{
		const char *v = row->facts.field_values ? row->facts.field_values[i] : NULL;

		if (v == NULL || src->fields[i].col.name == NULL)
			continue;
		if (!first)
			appendStringInfoString(&buf, ", ");
		first = false;
		escape_json(&buf, src->fields[i].name);
		appendStringInfoString(&buf, ": ");
		escape_json(&buf, v);
	}
	appendStringInfoChar(&buf, '}');
	return esc_cstring_to_jsonb(buf.data);
}

/*
 * A ticket row was inserted or a mapped column of it changed.  Called
 * connected to SPI, as the extension's owner.  Returns false when the
 * bookkeeping failed (a WARNING said so).
 */
bool
esc_sla_ticket(EscSource *src, EscRow *row, TimestampTz at)
{
	Datum		args[10];
	char		nulls[10];
	const char *v;

	if (ticket_plan == NULL)
	{
		Oid			types[10] = {INT4OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID};

		ticket_plan = esc_prepare_kept_plan(
											"SELECT escalation.sla_track_ticket($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
											10, types);
	}
	memset(nulls, ' ', sizeof(nulls));
	args[0] = Int32GetDatum(src->source_id);
	args[1] = CStringGetTextDatum(row->key);
	args[2] = TimestampTzGetDatum(at);
	args[3] = TimestampTzGetDatum(row->created_at);
	if (row->created_at == 0)
		nulls[3] = 'n';
	args[4] = CStringGetTextDatum(esc_status_word(row->facts.status));

#define TEXT_ARG(i, s) \
	do { v = (s); if (v) args[i] = CStringGetTextDatum(v); else nulls[i] = 'n'; } while (0)
	TEXT_ARG(5, row->facts.priority);
	TEXT_ARG(6, row->facts.channel);
	TEXT_ARG(7, row->vals[ESC_ROLE_TEAM]);
	TEXT_ARG(8, row->vals[ESC_ROLE_ACCOUNT]);
#undef TEXT_ARG
	args[9] = fields_json(src, row);

	{
		PlanCall	call = {ticket_plan, args, nulls};

		return run_protected(execute_plan_call, &call, row->key,
							 "Run escalation.backfill_sla() for the ticket table once the cause is fixed.");
	}
}

/* ---------------------------------------------------------------- messages */

/* the ticket's sla_tickets row, as the decision needs it */
static const char *const message_ticket_sql =
"SELECT t.first_message_at IS NOT NULL, t.policy_id, t.status "
"  FROM escalation.sla_tickets t "
" WHERE t.source_id OPERATOR(pg_catalog.=) $1 AND t.ticket_key OPERATOR(pg_catalog.=) $2";

/* its open response clocks */
static const char *const message_clocks_sql =
"SELECT c.metric, c.started_at FROM escalation.clocks c "
" WHERE c.source_id OPERATOR(pg_catalog.=) $1 AND c.ticket_key OPERATOR(pg_catalog.=) $2 "
"   AND c.metric OPERATOR(pg_catalog.=) ANY ('{first_response,next_response,periodic_update}'::pg_catalog.text[]) "
"   AND c.state OPERATOR(pg_catalog.=) ANY ('{running,paused}'::pg_catalog.text[])";

/* the row lock every writer of the ticket's clocks takes first */
static const char *const message_lock_sql =
"SELECT 1 FROM escalation.sla_tickets t "
" WHERE t.source_id OPERATOR(pg_catalog.=) $1 AND t.ticket_key OPERATOR(pg_catalog.=) $2 "
"   FOR UPDATE";

static const char *const message_open_sql =
"UPDATE escalation.sla_tickets t SET first_message_at = $3 "
" WHERE t.source_id OPERATOR(pg_catalog.=) $1 AND t.ticket_key OPERATOR(pg_catalog.=) $2";

static const char *const message_not_response_sql =
"DELETE FROM escalation.first_responses f "
" WHERE f.source_id OPERATOR(pg_catalog.=) $1 AND f.ticket_key OPERATOR(pg_catalog.=) $2 "
"   AND f.responded_at OPERATOR(pg_catalog.=) $3";

/* the reply meets its clocks, one by one in clock_id order, each locked */
static const char *const message_meet_sql =
"SELECT escalation.clock_set(s.c, 'met', $3) "
"  FROM (SELECT c FROM escalation.clocks c "
"         WHERE c.source_id OPERATOR(pg_catalog.=) $1 AND c.ticket_key OPERATOR(pg_catalog.=) $2 "
"           AND c.metric OPERATOR(pg_catalog.=) ANY ('{first_response,next_response,periodic_update}'::pg_catalog.text[]) "
"           AND c.state OPERATOR(pg_catalog.=) ANY ('{running,paused}'::pg_catalog.text[]) "
"           AND c.started_at OPERATOR(pg_catalog.<=) $3 "
"         ORDER BY c.clock_id FOR UPDATE OF c) s";

/*
 * A new round of a clock, as escalation.clock_start() starts one, in one
 * statement: the clock scheduled as it is inserted (a new clock has
 * counted nothing and fired no step, so its next step is the policy's
 * first: clock_schedule() reduced to that), and its first segment when it
 * runs.  $4 metric, $5 policy, $6 paused.
 */
static const char *const message_start_sql =
"WITH k AS ( "
"  INSERT INTO escalation.clocks (source_id, ticket_key, metric, round, policy_id, target, calendar, "
"                                 state, started_at, running_since, due_at, next_at) "
"  SELECT $1, $2, t.metric, "
"         coalesce((SELECT max(o.round) OPERATOR(pg_catalog.+) 1 FROM escalation.clocks o "
"                    WHERE o.source_id OPERATOR(pg_catalog.=) $1 "
"                      AND o.ticket_key OPERATOR(pg_catalog.=) $2 "
"                      AND o.metric OPERATOR(pg_catalog.=) t.metric), 1), "
"         t.policy_id, t.target, t.calendar, "
"         CASE WHEN $6 THEN 'paused' ELSE 'running' END, $3, "
"         CASE WHEN NOT $6 THEN $3 END, "
"         CASE WHEN NOT $6 THEN escalation.sla_add(t.calendar, $3, "
"                                   extract(epoch FROM t.target)::pg_catalog.float8) END, "
"         CASE WHEN NOT $6 THEN escalation.sla_add(t.calendar, $3, n.at_secs) END "
"    FROM escalation.sla_targets t, "
"         LATERAL (SELECT pg_catalog.min(s.at_secs) AS at_secs "
"                    FROM escalation.sla_steps(t.policy_id, t.metric, t.target) s) n "
"   WHERE t.policy_id OPERATOR(pg_catalog.=) $5 AND t.metric OPERATOR(pg_catalog.=) $4 "
"  RETURNING clock_id) "
"INSERT INTO escalation.clock_segments (clock_id, starts) "
"SELECT k.clock_id, $3 FROM k WHERE NOT $6";

static SPIPlanPtr message_ticket_plan = NULL;
static SPIPlanPtr message_clocks_plan = NULL;
static SPIPlanPtr message_lock_plan = NULL;
static SPIPlanPtr message_open_plan = NULL;
static SPIPlanPtr message_not_response_plan = NULL;
static SPIPlanPtr message_meet_plan = NULL;
static SPIPlanPtr message_start_plan = NULL;

static void
prepare_message_plans(void)
{
	Oid			types[6] = {INT4OID, TEXTOID, TIMESTAMPTZOID, TEXTOID, INT4OID, BOOLOID};

	if (message_start_plan != NULL)
		return;
	message_ticket_plan = esc_prepare_kept_plan(message_ticket_sql, 2, types);
	message_clocks_plan = esc_prepare_kept_plan(message_clocks_sql, 2, types);
	message_lock_plan = esc_prepare_kept_plan(message_lock_sql, 2, types);
	message_open_plan = esc_prepare_kept_plan(message_open_sql, 3, types);
	message_not_response_plan = esc_prepare_kept_plan(message_not_response_sql, 3, types);
	message_meet_plan = esc_prepare_kept_plan(message_meet_sql, 3, types);
	message_start_plan = esc_prepare_kept_plan(message_start_sql, 6, types);
}

typedef struct MessageCall
{
	int32		source_id;
	const char *ticket_key;
	bool		by_agent;
	TimestampTz at;
} MessageCall;

/*
 * Which policies have the targets a message starts (next_response,
 * periodic_update): configuration, read once per backend and again after
 * escalation.sla_targets changes (its invalidate_cache trigger, from 1.1
 * on; under a 1.0 schema, which lacks it, they are read for every
 * message).
 */
typedef struct PolicyTargets
{
	int32		policy_id;
	bool		next_response;
	bool		periodic_update;
} PolicyTargets;

static PolicyTargets *targets = NULL;
static int	ntargets = 0;
static bool targets_valid = false;
static bool targets_cacheable = false;
static uint64 targets_inval_count = 0;
static Oid	targets_relid = InvalidOid;
static bool targets_callback_registered = false;
static SPIPlanPtr targets_plan = NULL;
static SPIPlanPtr targets_meta_plan = NULL;

static void
targets_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == targets_relid)
	{
		targets_valid = false;
		targets_inval_count++;
	}
}

static void
load_targets(void)
{
	uint64		start_count = targets_inval_count;
	MemoryContext old;
	bool		isnull;

	if (!targets_callback_registered)
	{
		CacheRegisterRelcacheCallback(targets_invalidate, (Datum) 0);
		targets_callback_registered = true;
	}
	if (targets_plan == NULL)
	{
		targets_plan = esc_prepare_kept_plan(
			"SELECT x.policy_id, "
			"       pg_catalog.bool_or(x.metric OPERATOR(pg_catalog.=) 'next_response'), "
			"       pg_catalog.bool_or(x.metric OPERATOR(pg_catalog.=) 'periodic_update') "
			"  FROM escalation.sla_targets x GROUP BY x.policy_id",
			0, NULL);
		/* the table, and whether a change of it invalidates this cache */
		targets_meta_plan = esc_prepare_kept_plan(
			"SELECT r.oid, EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g "
			"                       WHERE g.tgrelid OPERATOR(pg_catalog.=) r.oid "
			"                         AND g.tgname OPERATOR(pg_catalog.=) 'invalidate_cache' "
			"                         AND g.tgenabled OPERATOR(pg_catalog.<>) 'D') "
			"  FROM (SELECT 'escalation.sla_targets'::pg_catalog.regclass::pg_catalog.oid AS oid) r",
			0, NULL);
	}
	if (SPI_execute_plan(targets_meta_plan, NULL, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read escalation.sla_targets");
	targets_relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	targets_cacheable = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

	if (SPI_execute_plan(targets_plan, NULL, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read escalation.sla_targets");
	old = MemoryContextSwitchTo(TopMemoryContext);
	if (targets)
		pfree(targets);
	targets = palloc(sizeof(PolicyTargets) * Max(SPI_processed, 1));
	MemoryContextSwitchTo(old);
	ntargets = 0;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		targets[ntargets].policy_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		targets[ntargets].next_response = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
		targets[ntargets].periodic_update = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		ntargets++;
	}
	/* valid until sla_targets changes, unless it changed while we read */
	targets_valid = targets_cacheable && start_count == targets_inval_count;
}

static const PolicyTargets *
policy_targets(int32 policy_id)
{
	if (!targets_valid)
		load_targets();
	for (int i = 0; i < ntargets; i++)
		if (targets[i].policy_id == policy_id)
			return &targets[i];
	return NULL;
}

/* closed and pending, from the ticket's status in sla_tickets */
static void
state_from_status(EscSlaTicketState *state, Datum d)
{
	text	   *status = DatumGetTextPP(d);
	const char *s = VARDATA_ANY(status);
	int			len = VARSIZE_ANY_EXHDR(status);

#define IS(word) (len == (int) strlen(word) && memcmp(s, word, len) == 0)
	state->closed = IS("solved") || IS("other");
	state->pending = IS("pending");
#undef IS
}

/*
 * Read the ticket's state (new snapshots: they see what this transaction
 * wrote before and what the transactions it waited for committed), its
 * open response clocks only when the decision needs them.  The clocks are
 * palloc'd in the current context.  *policy_id is the ticket's policy (0:
 * none).
 */
static void
read_message_state(Datum *args, bool by_agent, EscSlaTicketState *state, int32 *policy_id)
{
	SPITupleTable *tt;
	TupleDesc	desc;
	EscSlaOpenClock *clocks;
	bool		isnull;
	Datum		d;

	memset(state, 0, sizeof(*state));
	*policy_id = 0;
	if (SPI_execute_plan(message_ticket_plan, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the SLA state of a ticket");
	if (SPI_processed == 0)
		return;
	tt = SPI_tuptable;
	desc = tt->tupdesc;
	state->tracked = true;
	state->opened = DatumGetBool(SPI_getbinval(tt->vals[0], desc, 1, &isnull));
	d = SPI_getbinval(tt->vals[0], desc, 2, &isnull);
	state->has_policy = !isnull;
	if (!isnull)
		*policy_id = DatumGetInt32(d);
	d = SPI_getbinval(tt->vals[0], desc, 3, &isnull);
	if (!isnull)
		state_from_status(state, d);
	if (state->has_policy)
	{
		const PolicyTargets *pt = policy_targets(*policy_id);

		state->targets_next_response = pt && pt->next_response;
		state->targets_periodic_update = pt && pt->periodic_update;
	}

	if (!esc_sla_message_needs_clocks(state, by_agent))
		return;
	if (SPI_execute_plan(message_clocks_plan, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the SLA clocks of a ticket");
	tt = SPI_tuptable;
	desc = tt->tupdesc;
	clocks = palloc(sizeof(EscSlaOpenClock) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *metric = SPI_getvalue(tt->vals[i], desc, 1);

		clocks[i].metric = esc_sla_metric_from_name(metric);
		clocks[i].started_at =
			DatumGetTimestampTz(SPI_getbinval(tt->vals[i], desc, 2, &isnull));
	}
	state->nclocks = (int) SPI_processed;
	state->clocks = clocks;
}

/* a ticket's SLA state and open clocks without a statement (probe.c) */
static EscProbe sla_tickets_probe = {"sla_tickets", 3, {"first_message_at", "policy_id", "status"}};
static EscProbe open_clocks_probe = {"clocks", 3, {"metric", "started_at", "state"}};

/* the state from the ticket's sla_tickets row (see read_message_state()) */
static void
state_from_row(EscSlaTicketState *state, int32 *policy_id, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		d;

	state->tracked = true;
	(void) heap_getattr(tup, sla_tickets_probe.att[0], desc, &isnull);
	state->opened = !isnull;
	d = heap_getattr(tup, sla_tickets_probe.att[1], desc, &isnull);
	state->has_policy = !isnull;
	if (!isnull)
		*policy_id = DatumGetInt32(d);
	d = heap_getattr(tup, sla_tickets_probe.att[2], desc, &isnull);
	if (!isnull)
		state_from_status(state, d);
}

/*
 * read_message_state() through the tables' indexes: the same rows, read
 * with the snapshot the statements would take (a new one, after advancing
 * the command counter), without their executor start.  Returns false when
 * a table has no index to probe: the caller runs the statements.
 */
static bool
probe_message_state(Datum *args, bool by_agent, EscSlaTicketState *state, int32 *policy_id)
{
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	EscSlaOpenClock *clocks = NULL;
	int			nclocks = 0,
				maxclocks = 0;

	memset(state, 0, sizeof(*state));
	*policy_id = 0;
	rel = esc_probe_open(&sla_tickets_probe);
	if (rel == NULL)
		return false;
	PushActiveSnapshot(GetTransactionSnapshot());
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();
	scan = esc_probe_begin(&sla_tickets_probe, rel, args[0], args[1], GetActiveSnapshot());
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
		state_from_row(state, policy_id, tup, RelationGetDescr(rel));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (state->has_policy)
	{
		const PolicyTargets *pt = policy_targets(*policy_id);

		state->targets_next_response = pt && pt->next_response;
		state->targets_periodic_update = pt && pt->periodic_update;
	}
	if (!state->tracked || !esc_sla_message_needs_clocks(state, by_agent))
	{
		PopActiveSnapshot();
		return true;
	}

	rel = esc_probe_open(&open_clocks_probe);
	if (rel == NULL)
	{
		PopActiveSnapshot();
		return false;
	}
	scan = esc_probe_begin(&open_clocks_probe, rel, args[0], args[1], GetActiveSnapshot());
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		mnull,
					snull,
					tnull;
		Datum		metric = heap_getattr(tup, open_clocks_probe.att[0], desc, &mnull);
		Datum		started = heap_getattr(tup, open_clocks_probe.att[1], desc, &snull);
		Datum		st = heap_getattr(tup, open_clocks_probe.att[2], desc, &tnull);
		EscSlaMetric m;
		char	   *s;

		if (mnull || tnull)
			continue;
		m = esc_sla_metric_from_name(TextDatumGetCString(metric));
		s = TextDatumGetCString(st);
		if (m == ESC_SLA_NONE || (strcmp(s, "running") != 0 && strcmp(s, "paused") != 0))
			continue;
		if (nclocks == maxclocks)
		{
			maxclocks = maxclocks ? maxclocks * 2 : 4;
			clocks = clocks ? repalloc(clocks, sizeof(EscSlaOpenClock) * maxclocks)
				: palloc(sizeof(EscSlaOpenClock) * maxclocks);
		}
		clocks[nclocks].metric = m;
		clocks[nclocks].started_at = snull ? 0 : DatumGetTimestampTz(started);
		nclocks++;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	state->nclocks = nclocks;
	state->clocks = clocks ? clocks : palloc(sizeof(EscSlaOpenClock));
	return true;
}

static void
execute_message_plan(SPIPlanPtr plan, Datum *args, int expected)
{
	if (SPI_execute_plan(plan, args, NULL, false, 0) != expected)
		elog(ERROR, "SLA bookkeeping statement failed");
}

/*
 * The bookkeeping of one message.  The state is read without a lock, and
 * a message that changes nothing (most do) stops there: it writes nothing
 * and locks nothing.  That is correct without the lock because it writes
 * nothing: the outcome is the one of this message coming before whatever
 * concurrent transaction is changing the ticket's clocks (and the message
 * trigger holds the ticket's row, which every ticket update and every
 * other message of the ticket takes first, so on an existing ticket there
 * is no such transaction but the cycle, which changes no state the
 * decision reads).  A message that changes something locks the ticket's
 * sla_tickets row, as every writer of its clocks does first, reads the
 * state again and decides again on it.
 */
static void
track_message(void *arg)
{
	MessageCall *call = (MessageCall *) arg;
	Datum		args[6];
	EscSlaTicketState state;
	EscSlaMessageChange change;
	int32		policy_id;

	prepare_message_plans();
	args[0] = Int32GetDatum(call->source_id);
	args[1] = CStringGetTextDatum(call->ticket_key);
	args[2] = TimestampTzGetDatum(call->at);

	if (!probe_message_state(args, call->by_agent, &state, &policy_id))
		read_message_state(args, call->by_agent, &state, &policy_id);
	if (!esc_sla_message_decide(&state, call->by_agent, call->at, &change))
		return;

	execute_message_plan(message_lock_plan, args, SPI_OK_SELECT);
	if (!probe_message_state(args, call->by_agent, &state, &policy_id))
		read_message_state(args, call->by_agent, &state, &policy_id);
	if (!esc_sla_message_decide(&state, call->by_agent, call->at, &change))
		return;

	if (change.open_ticket)
		execute_message_plan(message_open_plan, args, SPI_OK_UPDATE);
	if (change.not_a_response)
		execute_message_plan(message_not_response_plan, args, SPI_OK_DELETE);
	if (change.nmeet > 0)
		execute_message_plan(message_meet_plan, args, SPI_OK_SELECT);
	if (change.start != ESC_SLA_NONE)
	{
		args[3] = CStringGetTextDatum(esc_sla_metric_name(change.start));
		args[4] = Int32GetDatum(policy_id);
		args[5] = BoolGetDatum(change.start_paused);
		execute_message_plan(message_start_plan, args, SPI_OK_INSERT);
	}
}

/*
 * A customer message or a customer-visible agent reply was written.
 * Called connected to SPI, as the extension's owner, holding the ticket's
 * row (esc_lock_ticket) when it exists.
 */
void
esc_sla_message(EscSource *src, const char *ticket_key, bool by_agent, TimestampTz at)
{
	MessageCall call = {src->source_id, ticket_key, by_agent, at};

	(void) run_protected(track_message, &call, ticket_key,
						 "The ticket's response clocks did not see this message; they go on until its next one.");
}

/*
 * escalation.sla_track_message(source, ticket_key, author, at): the same
 * bookkeeping for a caller of its own (as the caller, errors raised).
 * author 'agent' is an agent's customer-visible reply, anything else a
 * customer's message.
 */
PG_FUNCTION_INFO_V1(escalation_sla_track_message);

Datum
escalation_sla_track_message(PG_FUNCTION_ARGS)
{
	MessageCall call;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_VOID();		/* no such ticket */
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the message's time must not be null")));
	call.source_id = PG_GETARG_INT32(0);
	call.ticket_key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	call.by_agent = !PG_ARGISNULL(2) &&
		strcmp(text_to_cstring(PG_GETARG_TEXT_PP(2)), "agent") == 0;
	call.at = PG_GETARG_TIMESTAMPTZ(3);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	track_message(&call);
	SPI_finish();
	PG_RETURN_VOID();
}
