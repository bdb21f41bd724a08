/*-------------------------------------------------------------------------
 *
 * shim.h
 *	  What the fuzz harnesses share: running code that may ereport(ERROR),
 *	  reading a fuzz input piece by piece, and checks that abort.
 *
 * The harnesses link the extension's pure C files (tokenize.c, sentiment.c,
 * rules.c, triage.c; calendar.c is #included for its static functions)
 * against shim.c, a small stand-in for the backend services they call:
 * memory contexts (every chunk its own malloc, so AddressSanitizer sees
 * each palloc'd object), Lists, hash tables, ereport, a toy text search
 * parser, UTF-8 helpers and date arithmetic.  No PostgreSQL source is
 * copied: these are our own implementations of the documented behaviour.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESC_FUZZ_SHIM_H
#define ESC_FUZZ_SHIM_H

#include "postgres.h"

#include <setjmp.h>

/* ---------- errors */

/*
 * FUZZ_TRY(ok) runs the statement after it; an ereport(ERROR) inside ends
 * it early and sets ok to false.  The memory context in effect before is
 * restored.  shim_last_error() tells what the error was.
 */
extern sigjmp_buf *shim_error_jmp;
extern int	shim_error_code;	/* sqlerrcode of the last ERROR */
extern char shim_error_message[1024];
extern bool shim_error_internal;	/* it was an elog(): "cannot happen" */

#define FUZZ_TRY(ok, stmt) \
	do { \
		sigjmp_buf	fuzz_jb__; \
		sigjmp_buf *fuzz_save__ = shim_error_jmp; \
		MemoryContext fuzz_cxt__ = CurrentMemoryContext; \
		if (sigsetjmp(fuzz_jb__, 0) == 0) \
		{ \
			shim_error_jmp = &fuzz_jb__; \
			stmt; \
			(ok) = true; \
		} \
		else \
		{ \
			MemoryContextSwitchTo(fuzz_cxt__); \
			(ok) = false; \
		} \
		shim_error_jmp = fuzz_save__; \
	} while (0)

/* a violated property: print and abort, so that libFuzzer keeps the input */
extern void fuzz_fail(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

#define FUZZ_CHECK(cond, ...) \
	do { if (!(cond)) fuzz_fail(__VA_ARGS__); } while (0)

/* an ERROR is fine, unless it was an elog() (a "cannot happen" error) */
extern void fuzz_no_internal_error(const char *what);

/* ---------- memory */

/* a fresh context for one input; deleted (with all it holds) afterwards */
extern MemoryContext fuzz_begin(void);
extern void fuzz_end(MemoryContext cxt);

/* bytes allocated and not freed, in all contexts (leak checks) */
extern long shim_live_chunks(void);

/* ---------- input */

typedef struct FuzzInput
{
	const uint8 *p;
	size_t		left;
} FuzzInput;

static inline void
fuzz_input(FuzzInput *in, const uint8 *data, size_t size)
{
	in->p = data;
	in->left = size;
}

static inline uint8
fuzz_u8(FuzzInput *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static inline uint32
fuzz_u32(FuzzInput *in)
{
	uint32		v = 0;

	for (int i = 0; i < 4; i++)
		v = (v << 8) | fuzz_u8(in);
	return v;
}

/* an integer in [lo, hi] */
static inline int64
fuzz_range(FuzzInput *in, int64 lo, int64 hi)
{
	uint64		span = (uint64) (hi - lo) + 1;
	uint64		v = fuzz_u32(in);

	if (span == 0 || span > PG_UINT32_MAX)
		v = (v << 32) | fuzz_u32(in);

	return span == 0 ? (int64) v : lo + (int64) (v % span);
}

/*
 * The bytes up to the next `sep` (or the end), as a palloc'd string made
 * valid UTF-8 without NUL bytes, as text in a UTF-8 database always is.
 */
extern char *fuzz_text_until(FuzzInput *in, char sep, int *len);

/* the rest of the input, made valid UTF-8 in the same way */
extern char *fuzz_text_rest(FuzzInput *in, int *len);

/* ---------- the toy text search configuration */

#define SHIM_CFG_ENGLISH	1	/* stop words, suffix stemming, splits */
#define SHIM_CFG_SIMPLE		2	/* lower case only */

/* the stems parsetext() gives for a string, as a List of C strings */
extern List *shim_stems(Oid cfgid, const char *word, int len);

/* ---------- a time zone made of a table of transitions */

typedef struct ShimZone
{
	int			ntrans;
	int64		at[64];			/* pg_time_t of each transition, ascending */
	long		off[65];		/* off[i]: in effect before at[i]; off[ntrans] after the last */
} ShimZone;

extern void shim_set_zone(const ShimZone *z);

/* ---------- glibc's POSIX regex engine (shim/gre.c), for oracles */

extern void *gre_compile(const char *pattern, bool icase);
extern bool gre_match(void *re, const char *text, int *so, int *eo);
extern void gre_free(void *re);

#endif							/* ESC_FUZZ_SHIM_H */
