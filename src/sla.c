/*-------------------------------------------------------------------------
 *
 * sla.c
 *	  Telling the SLA clocks what happened to a ticket.
 *
 * The triggers know, from the row they already read, everything an SLA
 * policy is matched on (status meaning, priority, channel, team, account,
 * extra fields) and when it happened.  For a source that has SLA policies
 * they hand those facts to escalation.sla_track_ticket() or
 * sla_track_message(), one kept, generic plan each; the clock bookkeeping
 * (start, pause, resume, finish, retarget) lives there, next to the
 * tables it keeps.  Sources without policies pay nothing.
 *
 * The helpdesk's write must not fail because of us: the bookkeeping runs
 * in a subtransaction, and an error in it (a deadlock with a cycle, a bug)
 * becomes a WARNING; the clocks of that ticket are then behind until its
 * next change or escalation.recompute_sla().  A cancel still cancels.
 *
 * Deciding when a clock is due is not done here: the cycle
 * (escalation.run_batch) finds due clocks through the index on next_at.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/resowner.h"

#include "escalation.h"

static SPIPlanPtr ticket_plan = NULL;
static SPIPlanPtr message_plan = NULL;

/* run one bookkeeping statement; its failure is a WARNING, not the writer's */
static void
execute_protected(SPIPlanPtr plan, Datum *args, const char *nulls, const char *ticket_key)
{
	MemoryContext before = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(before);
	PG_TRY();
	{
		if (SPI_execute_plan(plan, args, nulls, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "SLA bookkeeping statement failed");
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(before);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(before);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(before);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("SLA clocks of ticket \"%s\" were not updated: %s",
						ticket_key, edata->message),
				 errhint("Run escalation.recompute_sla() for the ticket table once the cause is fixed.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
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
 * connected to SPI, as the extension's owner.
 */
void
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

	execute_protected(ticket_plan, args, nulls, row->key);
}

/*
 * A customer message or a customer-visible agent reply was written.
 * Called connected to SPI, as the extension's owner.
 */
void
esc_sla_message(EscSource *src, const char *ticket_key, bool by_agent, TimestampTz at)
{
	Datum		args[4];

	if (message_plan == NULL)
	{
		Oid			types[4] = {INT4OID, TEXTOID, TEXTOID, TIMESTAMPTZOID};

		message_plan = esc_prepare_kept_plan(
											 "SELECT escalation.sla_track_message($1, $2, $3, $4)",
											 4, types);
	}
	args[0] = Int32GetDatum(src->source_id);
	args[1] = CStringGetTextDatum(ticket_key);
	args[2] = CStringGetTextDatum(by_agent ? "agent" : "customer");
	args[3] = TimestampTzGetDatum(at);
	execute_protected(message_plan, args, NULL, ticket_key);
}
