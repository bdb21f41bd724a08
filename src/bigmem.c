/*-------------------------------------------------------------------------
 *
 * bigmem.c
 *	  Memory for the large per-backend tables that the trigger reads at
 *	  random: the word memos (tokenize.c, triage.c) and a loaded triage
 *	  model's arrays (its stored form, feature map, word records and
 *	  feature names).
 *
 * A 1 KB ticket reads a few hundred entries of these tables, each in a
 * different place, and the rest of an insert evicts them from the CPU's
 * caches and its TLB between one insert and the next: with 4 kB pages
 * nearly every look-up also walked the page tables, and the samples of a
 * profile piled up on the prefetches of the feature map and the word
 * records, which wait for the walk before they can go on.  So a table of
 * at least ESC_BIG_THRESHOLD bytes starts on a 2 MB boundary and spans
 * whole 2 MB pages, and transparent huge pages are asked for on all of it
 * (Linux's "madvise" mode; advice only: where there are none, nothing
 * changes).  The earlier way, advice on the 2 MB pages that happened to
 * lie wholly inside an allocation, left a 5 MB array with one or two huge
 * pages and its ends in small ones: a loaded model of 13 MB on the insert
 * benchmark had 6 MB in huge pages, now all of it (docs/benchmarks.md).
 *
 * The cost is memory: up to 2 MB more a table than it needs, reserved
 * (the alignment) and, because a huge page is backed whole when it is
 * first written, resident for its last page.  Smaller tables are only
 * aligned to a cache line.  Either way the block comes from the given
 * memory context, is freed with it, and esc_free_big() frees one early.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#ifndef WIN32
#include <sys/mman.h>
#endif

#include "utils/memutils.h"

#include "escalation.h"

#define ESC_HUGE_PAGE ((size_t) 2 * 1024 * 1024)
#define ESC_BIG_THRESHOLD (ESC_HUGE_PAGE / 2)

/*
 * size bytes (not zeroed) in cxt, on a cache line boundary, or for a large
 * table on a 2 MB one with huge pages asked for: see above.  The block's
 * own address is kept in the word before the result, for esc_free_big().
 */
void *
esc_alloc_big(MemoryContext cxt, size_t size)
{
	size_t		align = size >= ESC_BIG_THRESHOLD ? ESC_HUGE_PAGE : 64;
	size_t		span = TYPEALIGN(align, Max(size, 1));
	char	   *raw = MemoryContextAllocHuge(cxt, span + align + sizeof(void *));
	char	   *p = (char *) TYPEALIGN(align, (uintptr_t) raw + sizeof(void *));

	((void **) p)[-1] = raw;
#if defined(MADV_HUGEPAGE)
	if (align == ESC_HUGE_PAGE)
		(void) madvise(p, span, MADV_HUGEPAGE);
#endif
	return p;
}

/* free a block esc_alloc_big() returned */
void
esc_free_big(void *p)
{
	pfree(((void **) p)[-1]);
}
