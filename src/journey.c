/*-------------------------------------------------------------------------
 *
 * journey.c
 *	  escalation.record_event(): the AFTER INSERT OR UPDATE row trigger on
 *	  escalation.escalations that appends every change to the journey,
 *	  escalation.events.
 *
 * Every writer (escalate(), accept(), resolve(), cancel(), an
 * administrator's own INSERT or UPDATE, a further rule firing on an open
 * escalation) goes through this one trigger, so the journey cannot miss a
 * step.  One writer does part of the trigger's work itself: the statement
 * with which the C row triggers create an escalation (record.c) appends the
 * "created" event in the same execution, which costs a fraction of a second
 * statement on the helpdesk's insert.  While that statement runs,
 * esc_journey_own_created(true) tells this trigger to leave the rows that
 * statement inserts alone (origin "rule", last actor "trigger"); its
 * UPDATEs (an open escalation that got the new reasons instead) are still
 * recorded here.
 *
 * Rows loaded with COPY carry their history with them: pg_restore loads
 * escalations and then their events, and a journey written again for the
 * restored rows would collide with the restored one.  So COPY into
 * escalation.escalations writes no events (a bulk load by hand neither).
 *
 * Events: created; reasons_added (a further rule fired on an open
 * escalation); offered, accepted, resolved, cancelled (the new status);
 * requeued (offered -> queued); updated (agent or severity changed).
 * An offer's detail carries the routing decision (agent, factors, weights)
 * that routing stored with it (escalations.routing).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "tcop/pquery.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/portal.h"
#include "utils/rel.h"

#include "escalation.h"

PG_FUNCTION_INFO_V1(escalation_record_event);

static SPIPlanPtr event_plan = NULL;

/* the statement running now writes the "created" events of its INSERTs */
static bool own_created = false;

void
esc_journey_own_created(bool own)
{
	own_created = own;
}

/* columns of escalation.escalations we read, in the order of `names` */
enum
{
	C_ID, C_SOURCE, C_TICKET, C_STATUS, C_REASONS, C_SEVERITY, C_TEAM,
	C_AGENT, C_ACTOR, C_NOTE, C_UPDATED, C_ORIGIN, C_ROUTING, NCOLS
};

static const char *const names[NCOLS] = {
	"escalation_id", "source_id", "ticket_key", "status", "reasons", "severity",
	"target_team", "agent_id", "last_actor", "last_note", "updated_at", "origin",
	"routing"
};

static bool
changed(HeapTuple a, HeapTuple b, TupleDesc desc, int attnum)
{
	bool		n1,
				n2;
	Datum		d1 = heap_getattr(a, attnum, desc, &n1);
	Datum		d2 = heap_getattr(b, attnum, desc, &n2);
	Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);

	if (n1 || n2)
		return n1 != n2;
	return !datumIsEqual(d1, d2, att->attbyval, att->attlen);
}

/*
 * Is this new row one that the C triggers' statement writes (origin "rule",
 * last actor "trigger")?  Only those have their "created" event written by
 * that statement; anything else inserted meanwhile (by a trigger someone
 * added to escalations, say) is recorded here as usual.
 */
static bool
written_by_rule(HeapTuple tup, TupleDesc desc, const int *att)
{
	char	   *origin = SPI_getvalue(tup, desc, att[C_ORIGIN]);
	char	   *actor = SPI_getvalue(tup, desc, att[C_ACTOR]);

	return origin && actor && strcmp(origin, "rule") == 0 && strcmp(actor, "trigger") == 0;
}

Datum
escalation_record_event(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	newtup,
				oldtup = NULL;
	int			att[NCOLS];
	const char *event;
	Datum		args[14];
	char		nulls[14];
	bool		isnull;

	esc_check_after_row_trigger(fcinfo, "record_event");

	/* COPY (pg_restore): the rows bring their own journey */
	if (ActivePortal != NULL && ActivePortal->commandTag == CMDTAG_COPY)
		return PointerGetDatum(NULL);

	desc = RelationGetDescr(td->tg_relation);
	for (int i = 0; i < NCOLS; i++)
	{
		static int	cached[NCOLS];

		att[i] = esc_attnum(desc, names[i], &cached[i]);
		if (att[i] <= 0)
			elog(ERROR, "escalation.escalations has no column \"%s\"", names[i]);
	}

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		newtup = td->tg_trigtuple;
		if (own_created && written_by_rule(newtup, desc, att))
			return PointerGetDatum(NULL);
		event = "created";
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		char	   *from,
				   *to;

		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
		from = SPI_getvalue(oldtup, desc, att[C_STATUS]);
		to = SPI_getvalue(newtup, desc, att[C_STATUS]);
		if (strcmp(from, to) != 0)
			event = (strcmp(from, "offered") == 0 && strcmp(to, "queued") == 0)
				? "requeued" : to;
		else if (changed(oldtup, newtup, desc, att[C_REASONS]))
			event = "reasons_added";
		else if (changed(oldtup, newtup, desc, att[C_AGENT]) ||
				 changed(oldtup, newtup, desc, att[C_SEVERITY]))
			event = "updated";
		else
			return PointerGetDatum(NULL);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired for INSERT or UPDATE", "record_event")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (event_plan == NULL)
	{
		Oid			types[14] = {INT8OID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
			TEXTOID, TEXTOID, JSONBOID, INT4OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, JSONBOID};

		event_plan = esc_prepare_kept_plan(
			"INSERT INTO escalation.events (escalation_id, source_id, ticket_key, event, "
			"  from_status, to_status, actor, note, detail, at) "
			"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
			"  CASE $4 WHEN 'created' THEN pg_catalog.jsonb_build_object("
			"            'reasons', $9, 'severity', $10, 'target_team', $11) "
			"          WHEN 'reasons_added' THEN pg_catalog.jsonb_build_object('reasons', $9) "
			"          WHEN 'offered' THEN CASE WHEN $14 IS NULL "
			"            THEN pg_catalog.jsonb_build_object('agent_id', $12) "
			"            ELSE pg_catalog.jsonb_build_object('agent_id', $12, 'routing', $14) END "
			"          ELSE pg_catalog.jsonb_build_object('agent_id', $12) END, $13)",
			14, types);
	}

	memset(nulls, ' ', sizeof(nulls));
	args[0] = heap_getattr(newtup, att[C_ID], desc, &isnull);
	args[1] = heap_getattr(newtup, att[C_SOURCE], desc, &isnull);
	args[2] = heap_getattr(newtup, att[C_TICKET], desc, &isnull);
	args[3] = CStringGetTextDatum(event);
	if (oldtup)
		args[4] = heap_getattr(oldtup, att[C_STATUS], desc, &isnull);
	else
		nulls[4] = 'n';
	args[5] = heap_getattr(newtup, att[C_STATUS], desc, &isnull);
	{
		static const int cols[8] = {C_ACTOR, C_NOTE, C_REASONS, C_SEVERITY, C_TEAM, C_AGENT,
		C_UPDATED, C_ROUTING};

		for (int i = 0; i < 8; i++)
		{
			args[6 + i] = heap_getattr(newtup, att[cols[i]], desc, &isnull);
			if (isnull)
				nulls[6 + i] = 'n';
		}
	}
	if (SPI_execute_plan(event_plan, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record escalation event");
	SPI_finish();
	return PointerGetDatum(NULL);
}
