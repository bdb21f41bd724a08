/*-------------------------------------------------------------------------
 *
 * ts_config.c
 *	  What a text search configuration does to a word with a digit in it,
 *	  for the word memos' shortcut past the parser (triage.c).
 *
 * Ticket texts are full of words with digits that are seen once: order
 * and ticket numbers, the local parts of e-mail addresses, versions.
 * Each one new to a backend's word memo is stemmed through parsetext()
 * (the parser and the configuration's dictionaries), about 3,000
 * instructions, and the insert benchmark's 1 kB tickets have five or so
 * a ticket: 15,000 instructions an insert for triage, an eighth of what
 * sentiment and triage cost.  For the common configurations the answer is
 * known without asking: PostgreSQL's default parser makes a word of ASCII
 * letters and digits that starts with a letter one "numword" token, and
 * a word of digits one "uint" token (checked on every such word of the
 * benchmark's 20,000 texts and on 60,000 generated ones; a word that
 * starts with a digit and has letters may not be one token: "7e2running"
 * is "7e2" and "running"), and a configuration that hands both token
 * types to one dictionary of the simple template with its default options
 * (no stop words, accepting) gives the token itself, lower-cased, as its
 * one lexeme.  'english', 'simple' and the other built-in configurations
 * do.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_ts_dict.h"
#include "nodes/value.h"
#include "tsearch/ts_cache.h"
#include "utils/syscache.h"

#include "escalation.h"

/* the default parser's token types (ts_token_type('default')) */
#define TS_NUMWORD	3
#define TS_UINT		22

/*
 * Whether dictionaries (a configuration's list for one token type) are one
 * dictionary of the simple template with its default options.
 */
static bool
one_plain_simple(const ListDictionary *dicts, Oid simple_template)
{
	HeapTuple	tup;
	bool		plain;
	bool		isnull;

	if (dicts->len != 1)
		return false;
	tup = SearchSysCache1(TSDICTOID, ObjectIdGetDatum(dicts->dictIds[0]));
	if (!HeapTupleIsValid(tup))
		return false;
	plain = ((Form_pg_ts_dict) GETSTRUCT(tup))->dicttemplate == simple_template;
	(void) SysCacheGetAttr(TSDICTOID, tup, Anum_pg_ts_dict_dictinitoption, &isnull);
	ReleaseSysCache(tup);
	return plain && isnull;
}

/*
 * False for a configuration that does not exist (any more): the parser
 * then raises its own error on the first word, as it did before.
 */
bool
esc_ts_digit_words_plain(Oid cfgid)
{
	TSConfigCacheEntry *cfg;
	Oid			parser;
	Oid			simple;

	if (!OidIsValid(cfgid) || !SearchSysCacheExists1(TSCONFIGOID, ObjectIdGetDatum(cfgid)))
		return false;
	cfg = lookup_ts_config_cache(cfgid);
	parser = get_ts_parser_oid(list_make2(makeString("pg_catalog"), makeString("default")), true);
	simple = get_ts_template_oid(list_make2(makeString("pg_catalog"), makeString("simple")), true);
	if (!OidIsValid(parser) || !OidIsValid(simple) || cfg->prsId != parser ||
		cfg->lenmap <= Max(TS_NUMWORD, TS_UINT))
		return false;
	return one_plain_simple(&cfg->map[TS_NUMWORD], simple) &&
		one_plain_simple(&cfg->map[TS_UINT], simple);
}
