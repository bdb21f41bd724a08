/*-------------------------------------------------------------------------
 *
 * jsonb_build.c
 *	  Building a jsonb value directly: object members pushed with
 *	  pushJsonbValue() into an open object, strings by pointer and length
 *	  (no escaping), numbers as numerics.  Used where a value is written
 *	  often enough that JSON text built, escaped and parsed back by
 *	  jsonb_in would cost more than the rest of the work: the context
 *	  snapshot on a helpdesk's insert (context.c) and routing decisions
 *	  (route_funcs.c).
 *
 * Each function adds one member, key and value, to the object being
 * built; the caller opens and closes objects and arrays with
 * pushJsonbValue(st, WJB_BEGIN_OBJECT / WJB_END_OBJECT, NULL).  Strings are
 * referenced, not copied, until JsonbValueToJsonb(): they must stay valid
 * until then.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "jsonb_build.h"

/* a string as a key, a value or an element */
static void
push_string(JsonbParseState **st, JsonbIteratorToken token, const char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	pushJsonbValue(st, token, &v);
}

void
esc_jb_key(JsonbParseState **st, const char *key)
{
	push_string(st, WJB_KEY, key);
}

/* a string of len bytes, or null when s is NULL */
void
esc_jb_stringn(JsonbParseState **st, const char *key, const char *s, int len)
{
	JsonbValue	v;

	esc_jb_key(st, key);
	if (s == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) s;
		v.val.string.len = len;
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* a string, or null when s is NULL */
void
esc_jb_string(JsonbParseState **st, const char *key, const char *s)
{
	esc_jb_stringn(st, key, s, s ? strlen(s) : 0);
}

void
esc_jb_null(JsonbParseState **st, const char *key)
{
	esc_jb_stringn(st, key, NULL, 0);
}

void
esc_jb_bool(JsonbParseState **st, const char *key, bool b)
{
	JsonbValue	v;

	esc_jb_key(st, key);
	v.type = jbvBool;
	v.val.boolean = b;
	pushJsonbValue(st, WJB_VALUE, &v);
}

void
esc_jb_numeric(JsonbParseState **st, const char *key, Numeric n)
{
	JsonbValue	v;

	esc_jb_key(st, key);
	v.type = jbvNumeric;
	v.val.numeric = n;
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* a number's text, read as jsonb_in reads a JSON number */
Numeric
esc_numeric_of_text(const char *text)
{
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(text),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/* a number given as text */
void
esc_jb_number_text(JsonbParseState **st, const char *key, const char *text)
{
	esc_jb_numeric(st, key, esc_numeric_of_text(text));
}

/* d as snprintf("%g") writes it, read as a number (a rule's threshold) */
Numeric
esc_numeric_g(double d)
{
	char		buf[64];

	snprintf(buf, sizeof(buf), "%g", d);
	return esc_numeric_of_text(buf);
}

/*
 * d with three decimals: the number snprintf("%.3f") writes, read as a
 * number (a reason's score, a routing decision's figures).  A reason's
 * score is written on a helpdesk's insert, where the text and the parse
 * back were most of its cost; so it is made from the whole thousandths,
 * which are the correctly rounded ones unless d * 1000 lies within a
 * rounding error of a half (that product's error is below 1e-7 under
 * 1e9), where the text decides as before.  The same value and scale
 * either way (make_result() keeps one form of each).
 */
Numeric
esc_numeric_fixed3(double d)
{
	double		x = d * 1000.0;
	double		r = rint(x);
	char		buf[64];

	if (fabs(x) < 1e9 && fabs(fabs(x - r) - 0.5) > 1e-6)
		return int64_div_fast_to_numeric((int64) r, 3);
	snprintf(buf, sizeof(buf), "%.3f", d);
	return esc_numeric_of_text(buf);
}

/* a value given as JSON text, parsed and spliced in */
void
esc_jb_json(JsonbParseState **st, const char *key, const char *json)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbIteratorToken tok;
	JsonbValue	v;

	esc_jb_key(st, key);
	if (JB_ROOT_IS_SCALAR(jb))
	{
		/* a scalar is stored as a one-element raw array */
		(void) JsonbIteratorNext(&it, &v, false);
		(void) JsonbIteratorNext(&it, &v, false);
		pushJsonbValue(st, WJB_VALUE, &v);
		return;
	}
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
		pushJsonbValue(st, tok, (tok == WJB_BEGIN_ARRAY || tok == WJB_BEGIN_OBJECT ||
								 tok == WJB_END_ARRAY || tok == WJB_END_OBJECT) ? NULL : &v);
}

/* an integer member */
void
esc_jb_int(JsonbParseState **st, const char *key, int64 n)
{
	esc_jb_numeric(st, key, int64_to_numeric(n));
}

/* a string element of the array being built */
void
esc_jb_elem(JsonbParseState **st, const char *s)
{
	push_string(st, WJB_ELEM, s);
}
