/*-------------------------------------------------------------------------
 *
 * gre.c
 *	  glibc's POSIX extended regular expressions, for the rules harness:
 *	  its stand-in for pg_regexec and its oracle for the literal prefilter.
 *
 * Compiled without PostgreSQL's headers, whose regex.h renames regex_t.
 * The harness only compares the two engines on patterns whose meaning is
 * the same in a POSIX ERE and a PostgreSQL ARE (no backslash, no "(?",
 * no "***" director): see fuzz_rules.c.
 *
 *-------------------------------------------------------------------------
 */
#include <regex.h>
#include <stdbool.h>
#include <stdlib.h>

void	   *gre_compile(const char *pattern, bool icase);
bool		gre_match(void *re, const char *text, int *so, int *eo);
void		gre_free(void *re);

void *
gre_compile(const char *pattern, bool icase)
{
	regex_t    *re = malloc(sizeof(regex_t));

	if (re == NULL)
		return NULL;
	if (regcomp(re, pattern, REG_EXTENDED | (icase ? REG_ICASE : 0)) != 0)
	{
		free(re);
		return NULL;
	}
	return re;
}

/* the leftmost match in text (NUL-terminated), byte offsets */
bool
gre_match(void *re, const char *text, int *so, int *eo)
{
	regmatch_t	m[1];

	if (regexec((regex_t *) re, text, 1, m, 0) != 0)
		return false;
	*so = (int) m[0].rm_so;
	*eo = (int) m[0].rm_eo;
	return true;
}

void
gre_free(void *re)
{
	if (re)
	{
		regfree((regex_t *) re);
		free(re);
	}
}
