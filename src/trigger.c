/*-------------------------------------------------------------------------
 *
 * trigger.c
 *	  The C row triggers attach() installs on a helpdesk's own tables.
 *	  Protocol checks, reading the row, hand-off to the rules and to
 *	  record.c; nothing else.
 *
 * escalation_ticket_trigger: AFTER INSERT OR UPDATE OF <mapped columns> ON
 *	 the ticket table.  An UPDATE that leaves every mapped column as it was
 *	 costs one comparison per mapped column and nothing more.  Solved (and
 *	 "other": merged, removed) tickets are not escalated.
 *
 * escalation_message_trigger: AFTER INSERT ON the messages table.  A
 *	 customer's message is judged by the rules that apply to messages, with
 *	 the ticket's fields and account (the ticket row is fetched by key); a
 *	 customer-visible agent reply is recorded as the ticket's first
 *	 response.  Internal notes and bots count for neither.
 *
 * The writer's transaction is ours: an escalation exists exactly when the
 * row that raised it commits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tupconvert.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "escalation.h"

PG_FUNCTION_INFO_V1(escalation_ticket_trigger);
PG_FUNCTION_INFO_V1(escalation_message_trigger);

/*
 * Every C trigger of the extension is an AFTER ROW trigger: refuse to run
 * as anything else.  Returns the trigger data.
 */
TriggerData *
esc_check_after_row_trigger(FunctionCallInfo fcinfo, const char *fname)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by trigger manager", fname)));
	if (!TRIGGER_FIRED_AFTER(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired AFTER ROW", fname)));
	return td;
}

static void
check_protocol(FunctionCallInfo fcinfo, const char *fname, bool insert_only)
{
	TriggerData *td = esc_check_after_row_trigger(fcinfo, fname);

	if (!TRIGGER_FIRED_BY_INSERT(td->tg_event) &&
		(insert_only || !TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired for %s", fname,
						insert_only ? "INSERT" : "INSERT or UPDATE")));
	if (td->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" needs the source id as its only argument", fname),
				 errhint("Install escalation triggers with escalation.attach().")));
}

static int32
trigger_source_id(TriggerData *td)
{
	return (int32) strtol(td->tg_trigger->tgargs[0], NULL, 10);
}

/*
 * The descriptor the mapping's attribute numbers refer to.  On a
 * partitioned table our row trigger fires on the partition, whose columns
 * may be numbered differently (dropped or reordered columns); then this
 * returns the attached table's descriptor and sets *map to convert the
 * partition's tuples to it (NULL when they already fit).  Returns NULL when
 * rel is neither the attached table nor one of its partitions.
 */
static TupleDesc
attached_desc(Relation rel, Oid attached_relid, TupleConversionMap **map)
{
	Relation	parent;
	TupleDesc	desc;

	*map = NULL;
	if (RelationGetRelid(rel) == attached_relid)
		return RelationGetDescr(rel);
	if (!rel->rd_rel->relispartition ||
		!list_member_oid(get_partition_ancestors(RelationGetRelid(rel)), attached_relid))
		return NULL;
	parent = table_open(attached_relid, AccessShareLock);
	desc = CreateTupleDescCopy(RelationGetDescr(parent));
	table_close(parent, NoLock);
	*map = convert_tuples_by_name(RelationGetDescr(rel), desc);
	return desc;
}

/* what an author or sender value means */
static EscAuthor
author_meaning(EscValueMap *vm, const char *raw)
{
	const char *meaning = (vm->map || vm->lookup) ? esc_value_map_get(vm, raw) : raw;

	if (meaning == NULL)
		return ESC_AUTHOR_UNKNOWN;
	if (strcmp(meaning, "customer") == 0)
		return ESC_AUTHOR_CUSTOMER;
	if (strcmp(meaning, "agent") == 0)
		return ESC_AUTHOR_AGENT;
	if (strcmp(meaning, "bot") == 0)
		return ESC_AUTHOR_BOT;
	if (strcmp(meaning, "internal") == 0)
		return ESC_AUTHOR_INTERNAL;
	return ESC_AUTHOR_UNKNOWN;
}

/* a boolean or integer flag column: true, or non-zero; NULL is false */
static bool
flag_value(EscColumn *col, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, col->attnum, desc, &isnull);

	if (isnull)
		return false;
	switch (col->typid)
	{
		case INT2OID:
			return DatumGetInt16(d) != 0;
		case INT4OID:
			return DatumGetInt32(d) != 0;
		case INT8OID:
			return DatumGetInt64(d) != 0;
		default:
			return DatumGetBool(d);
	}
}

/*
 * On an UPDATE that leaves subject and body as they were, a rule escalates
 * only if it did not already hold for the old row.  Otherwise every later
 * edit of a ticket (a new assignee, a priority change) would raise again a
 * rule whose escalation was already resolved.  New text is new evidence
 * and is judged in full, and so is a ticket leaving a solved (or merged)
 * state: reopening judges it afresh.  Returns the number of fired rules
 * kept, compacted at the front of `fired`.
 */
static int
keep_new_reasons(EscSource *src, EscRow *row, HeapTuple oldtuple, TupleDesc desc,
				 TimestampTz at, EscFired *fired, int nfired)
{
	EscRow		old;
	int			kept = 0;

	esc_read_ticket(src, oldtuple, desc, &old, at,
					src->any_account_rule || src->any_triage_rule);
	old.facts.triage = row->facts.triage;
	if (old.key == NULL ||
		old.facts.status == ESC_STATUS_SOLVED || old.facts.status == ESC_STATUS_OTHER)
		return nfired;
	if (old.textlen != row->textlen || memcmp(old.text, row->text, row->textlen) != 0)
		return nfired;
	/* the same text: the new row's tokenising pass serves the old one */
	old.facts.pass = row->facts.pass;
	esc_match_row(src, &old);
	for (int i = 0; i < nfired; i++)
	{
		EscVerdict	v;

		esc_rule_evaluate(fired[i].rule, &old.facts, &v);
		if (!v.fires)
			fired[kept++] = fired[i];
	}
	return kept;
}

Datum
escalation_ticket_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	EscSource  *src;
	HeapTuple	tuple;
	HeapTuple	oldtuple;
	TupleDesc	desc;
	TupleConversionMap *map;
	bool		is_update;
	EscRow		row;
	EscFired   *fired;
	int			nfired;
	TimestampTz at = 0;
	Oid			save_userid;
	int			save_sec;

	check_protocol(fcinfo, "ticket_trigger", false);
	if (!esc_enabled)
		return PointerGetDatum(NULL);

	src = esc_get_source(trigger_source_id(td));
	if (src == NULL || (src->nrules == 0 && !src->has_sla && !src->keep_facts))
		return PointerGetDatum(NULL);
	desc = attached_desc(td->tg_relation, src->relid, &map);
	if (desc == NULL)
		return PointerGetDatum(NULL);

	is_update = TRIGGER_FIRED_BY_UPDATE(td->tg_event);
	tuple = is_update ? td->tg_newtuple : td->tg_trigtuple;
	oldtuple = td->tg_trigtuple;
	if (map)
	{
		tuple = execute_attr_map_tuple(tuple, map);
		if (is_update)
			oldtuple = execute_attr_map_tuple(oldtuple, map);
	}

	if (is_update && !esc_row_changed(src, oldtuple, tuple, desc))
		return PointerGetDatum(NULL);

	/* the time the row is judged at: its own time when mapped */
	{
		EscColumn  *tcol = &src->cols[is_update ? ESC_ROLE_UPDATED_AT : ESC_ROLE_CREATED_AT];

		if (tcol->name)
		{
			bool		isnull;
			Datum		d = heap_getattr(tuple, tcol->attnum, desc, &isnull);

			if (!isnull)
				at = esc_datum_time(src, tcol, d);
		}
		if (at == 0)
			at = GetCurrentTransactionStartTimestamp();
	}

	esc_become_owner(&save_userid, &save_sec);
	esc_read_ticket(src, tuple, desc, &row, at,
					src->any_account_rule || src->any_triage_rule);
	if (row.key == NULL)
	{
		esc_restore_user(save_userid, save_sec);
		return PointerGetDatum(NULL);
	}

	/*
	 * facts (appended to a log: no lock), then clocks, then the rules'
	 * escalations.  Every writer of a ticket's bookkeeping takes its locks
	 * in one order (the ticket row, its escalation.sla_tickets row and
	 * clocks, its escalations): the message trigger locks the ticket row
	 * first (esc_lock_ticket), and the cycle claims clocks together with
	 * their sla_tickets row, skipping those a writer holds.
	 */
	if (src->keep_facts)
		esc_facts_ticket(src, &row, tuple, is_update ? oldtuple : NULL, desc, at);
	if (src->has_sla)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		esc_sla_ticket(src, &row, at);
		SPI_finish();
	}

	if (src->nrules == 0 ||
		row.facts.status == ESC_STATUS_SOLVED || row.facts.status == ESC_STATUS_OTHER)
	{
		esc_restore_user(save_userid, save_sec);
		return PointerGetDatum(NULL);
	}

	if (src->any_triage_rule)
		row.facts.triage = esc_triage_model_for(src->source_id);
	esc_match_row(src, &row);
	fired = palloc(sizeof(EscFired) * src->nrules);
	nfired = esc_evaluate_all(src, &row.facts, fired);
	if (nfired > 0 && is_update)
		nfired = keep_new_reasons(src, &row, oldtuple, desc, at, fired, nfired);
	if (nfired > 0)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		esc_record(src, &row, fired, nfired, is_update);
		SPI_finish();
	}
	esc_restore_user(save_userid, save_sec);
	return PointerGetDatum(NULL);
}

Datum
escalation_message_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	EscSource  *src;
	HeapTuple	tuple;
	TupleDesc	desc;
	TupleConversionMap *map;
	HeapTuple	meta;			/* the row holding the metadata roles */
	TupleDesc	meta_desc;
	EscColumn  *mc;
	bool		isnull;
	Datum		d;
	char	   *ticket_key;
	EscAuthor	author = ESC_AUTHOR_CUSTOMER;
	char	   *author_raw = NULL;
	TimestampTz at = 0;
	text	   *body = NULL;
	Oid			save_userid;
	int			save_sec;
	MemoryContext caller_cxt = CurrentMemoryContext;

	check_protocol(fcinfo, "message_trigger", true);
	if (!esc_enabled)
		return PointerGetDatum(NULL);

	src = esc_get_source(trigger_source_id(td));
	if (src == NULL || !OidIsValid(src->msg_relid))
		return PointerGetDatum(NULL);
	desc = attached_desc(td->tg_relation, src->msg_relid, &map);
	if (desc == NULL)
		return PointerGetDatum(NULL);

	tuple = td->tg_trigtuple;
	if (map)
		tuple = execute_attr_map_tuple(tuple, map);
	mc = src->msgcols;

	/*
	 * The metadata roles (ticket, author, sender, visibility, time) are on
	 * the message row itself, or on the message_via row its ref points at
	 * (Znuny: article_data_mime holds the text, article the rest).
	 */
	meta = tuple;
	meta_desc = desc;
	if (OidIsValid(src->via_relid))
	{
		d = heap_getattr(tuple, mc[ESC_MSG_REF].attnum, desc, &isnull);
		if (isnull)
			return PointerGetDatum(NULL);
		esc_become_owner(&save_userid, &save_sec);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		meta = esc_fetch_via(src, d, &meta_desc, caller_cxt);
		SPI_finish();
		esc_restore_user(save_userid, save_sec);
		if (meta == NULL)
			return PointerGetDatum(NULL);
	}

	d = heap_getattr(meta, mc[ESC_MSG_TICKET].attnum, meta_desc, &isnull);
	if (isnull)
		return PointerGetDatum(NULL);
	ticket_key = esc_datum_text(&mc[ESC_MSG_TICKET], d);

	if (mc[ESC_MSG_AUTHOR].name)
	{
		d = heap_getattr(meta, mc[ESC_MSG_AUTHOR].attnum, meta_desc, &isnull);
		author_raw = isnull ? NULL : esc_datum_text(&mc[ESC_MSG_AUTHOR], d);
		author = author_meaning(&src->author_map, author_raw);
	}

	/*
	 * The sender refines the author: an "agent" message (Chatwoot's
	 * outgoing) that no person sent is a bot's or an automation's, and a
	 * sender that is a bot or internal makes the message so whatever its
	 * direction.
	 */
	if (mc[ESC_MSG_SENDER].name)
	{
		char	   *sender_raw;
		EscAuthor	sender;

		d = heap_getattr(meta, mc[ESC_MSG_SENDER].attnum, meta_desc, &isnull);
		sender_raw = isnull ? NULL : esc_datum_text(&mc[ESC_MSG_SENDER], d);
		sender = author_meaning(&src->sender_map, sender_raw);
		if (sender == ESC_AUTHOR_BOT || sender == ESC_AUTHOR_INTERNAL)
			author = sender;
		else if (author == ESC_AUTHOR_AGENT && sender != ESC_AUTHOR_AGENT)
			author = ESC_AUTHOR_BOT;
	}
	if (mc[ESC_MSG_PRIVATE].name && flag_value(&mc[ESC_MSG_PRIVATE], meta, meta_desc))
		author = ESC_AUTHOR_INTERNAL;
	if (mc[ESC_MSG_VISIBLE].name && !flag_value(&mc[ESC_MSG_VISIBLE], meta, meta_desc))
		author = ESC_AUTHOR_INTERNAL;
	if (author != ESC_AUTHOR_CUSTOMER && author != ESC_AUTHOR_AGENT)
		return PointerGetDatum(NULL);

	if (mc[ESC_MSG_CREATED_AT].name)
	{
		d = heap_getattr(meta, mc[ESC_MSG_CREATED_AT].attnum, meta_desc, &isnull);
		if (!isnull)
			at = esc_datum_time(src, &mc[ESC_MSG_CREATED_AT], d);
	}
	if (at == 0)
		at = GetCurrentTransactionStartTimestamp();

	if (author == ESC_AUTHOR_AGENT)
	{
		esc_become_owner(&save_userid, &save_sec);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/* the ticket row before its clocks, as the ticket trigger (row.c) */
		if (src->has_sla)
			esc_lock_ticket(src, ticket_key);
		esc_record_first_response(src, ticket_key, at, author_raw);
		if (src->has_sla)
			esc_sla_message(src, ticket_key, true, at);
		SPI_finish();
		esc_restore_user(save_userid, save_sec);
		return PointerGetDatum(NULL);
	}

	/* a customer's message: its text, if a rule may read it */
	body = NULL;
	if (src->any_message_rule)
	{
		d = heap_getattr(tuple, mc[ESC_MSG_BODY].attnum, desc, &isnull);
		if (!isnull)
			body = DatumGetTextPP(d);
	}
	if (!src->has_sla && body == NULL)
		return PointerGetDatum(NULL);

	esc_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	{
		EscRow		row;
		TupleDesc	tdesc;
		HeapTuple	ticket = NULL;
		EscFired   *fired;
		int			nfired;

		if (src->has_sla)
		{
			/*
			 * The ticket row before its clocks; when rules are to read it
			 * too, locked and read by one statement
			 */
			if (body != NULL)
				ticket = esc_lock_fetch_ticket(src, ticket_key, &tdesc, caller_cxt);
			else
				esc_lock_ticket(src, ticket_key);
			esc_sla_message(src, ticket_key, false, at);
			if (body == NULL)
			{
				SPI_finish();
				esc_restore_user(save_userid, save_sec);
				return PointerGetDatum(NULL);
			}
		}
		else
			ticket = esc_fetch_ticket(src, ticket_key, &tdesc, caller_cxt);

		if (ticket)
			esc_read_ticket(src, ticket, tdesc, &row, at, src->any_account_rule);
		else
		{
			memset(&row, 0, sizeof(row));
			row.src = src;
			row.facts.field_values = palloc0(sizeof(char *) * Max(src->nfields, 1));
		}
		row.key = ticket_key;
		row.facts.is_message = true;
		row.facts.at = at;
		row.facts.text = VARDATA_ANY(body);
		row.facts.textlen = VARSIZE_ANY_EXHDR(body);
		row.facts.wtext = NULL;
		row.facts.pass = NULL;
		row.facts.prefilter[0] = src->prefilter[0];
		row.facts.prefilter[1] = src->prefilter[1];
		row.facts.prefilter_state[0] = row.facts.prefilter_state[1] = -1;
		row.facts.shapes = src->shapes;
		row.facts.shapes_done = false;
		row.facts.sentiment_terms = src->sentiment_terms;
		row.facts.lexicon = src->any_sentiment_rule ? src->lexicon : NULL;
		row.facts.pass_cases = src->any_sentiment_rule;
		row.facts.sentiment_done = false;

		if (row.facts.status != ESC_STATUS_OTHER)
		{
			esc_match_row(src, &row);
			fired = palloc(sizeof(EscFired) * src->nrules);
			nfired = esc_evaluate_all(src, &row.facts, fired);
			if (nfired > 0)
			{
				/* the ticket row before its escalations (row.c) */
				if (!src->has_sla)
					esc_lock_ticket(src, ticket_key);
				esc_record(src, &row, fired, nfired, true);
			}
		}
	}
	SPI_finish();
	esc_restore_user(save_userid, save_sec);
	return PointerGetDatum(NULL);
}
