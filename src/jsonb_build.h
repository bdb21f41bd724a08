/*-------------------------------------------------------------------------
 *
 * jsonb_build.h
 *	  Building a jsonb value directly with pushJsonbValue(), for the values
 *	  written on a helpdesk's insert or per routing decision (no JSON text
 *	  to escape and parse back).  See jsonb_build.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESCALATION_JSONB_BUILD_H
#define ESCALATION_JSONB_BUILD_H

#include "utils/jsonb.h"
#include "utils/numeric.h"

extern void esc_jb_key(JsonbParseState **st, const char *key);
extern void esc_jb_stringn(JsonbParseState **st, const char *key, const char *s, int len);
extern void esc_jb_string(JsonbParseState **st, const char *key, const char *s);
extern void esc_jb_null(JsonbParseState **st, const char *key);
extern void esc_jb_bool(JsonbParseState **st, const char *key, bool b);
extern void esc_jb_numeric(JsonbParseState **st, const char *key, Numeric n);
extern void esc_jb_number_text(JsonbParseState **st, const char *key, const char *text);
extern Numeric esc_numeric_of_text(const char *text);
extern Numeric esc_numeric_g(double d);
extern Numeric esc_numeric_fixed3(double d);
extern void esc_jb_json(JsonbParseState **st, const char *key, const char *json);
extern void esc_jb_int(JsonbParseState **st, const char *key, int64 n);
extern void esc_jb_elem(JsonbParseState **st, const char *s);

#endif							/* ESCALATION_JSONB_BUILD_H */
