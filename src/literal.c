/*-------------------------------------------------------------------------
 *
 * literal.c
 *	  Finding a pattern rule's literal in a ticket's text: the memmem()
 *	  prefilter of rules.c, sixteen positions at a time.  Pure: no SPI, no
 *	  catalog, no allocation.
 *
 * A pattern rule whose every match contains one of a few literals
 * ("breach of ", "err_") looks for them before the regex engine runs
 * (rules.c, required_literals()), and on the tickets it does not match,
 * which are most, each look-up reads the whole text: glibc's memmem()
 * costs about 1,700 instructions a kilobyte, and the insert benchmark's
 * fifty rules make four such look-ups a ticket.
 *
 * Here a candidate position is one where two of the literal's bytes both
 * are, each at its offset (Wojciech Mula, "SIMD-friendly algorithms for
 * substring searching", 2016): with SSE2, which every x86-64 processor
 * has, two loads, two comparisons, an and and a movemask test sixteen
 * positions, and only a candidate is compared in full.  The two bytes are
 * the literal's least common in text (commonness[]): the first and
 * last bytes of " error " are spaces, which two words five letters apart
 * give; its two r's together are rare.  Elsewhere, and for literals of
 * fewer than two bytes and the last positions of the text, memmem() does
 * it.  Either way the result is memmem()'s: the first occurrence.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "port/pg_bitutils.h"

#include "escalation.h"

#ifdef __SSE2__
/*
 * How common a byte is in support tickets, roughly (English letter
 * frequencies, then the rest): higher is more common.  Only the order
 * matters, and only for speed.  Made on first use.
 */
static uint8 commonness[256];

static void
commonness_make(void)
{
	static const char order[] = "etaoinsrhldcumfpgwybvkxjqz";

	for (int c = 0; c < 256; c++)
		commonness[c] = 10;
	for (int c = '0'; c <= '9'; c++)
		commonness[c] = 20;
	commonness['.'] = commonness[','] = commonness['\n'] = 40;
	for (int k = 0; order[k]; k++)
		commonness[(unsigned char) order[k]] =
			commonness[(unsigned char) order[k] - 'a' + 'A'] = (uint8) (90 - 3 * k);
	commonness[' '] = 100;
}
#endif

/*
 * The first occurrence of needle[0 .. m) in hay[0 .. n), as memmem()
 * finds it; NULL when there is none.
 */
const char *
esc_find_literal(const char *hay, size_t n, const char *needle, size_t m)
{
#ifdef __SSE2__
	if (m >= 2 && n >= m + 15)
	{
		const unsigned char *u = (const unsigned char *) needle;
		size_t		i = 0;
		size_t		a = 0,
					b = 1;
		__m128i		ca,
					cb;

		if (commonness[' '] == 0)
			commonness_make();
		/* the offsets of the two least common bytes, a's the least */
		if (commonness[u[1]] < commonness[u[0]])
			a = 1, b = 0;
		for (size_t k = 2; k < m; k++)
		{
			if (commonness[u[k]] < commonness[u[a]])
				b = a, a = k;
			else if (commonness[u[k]] < commonness[u[b]])
				b = k;
		}
		ca = _mm_set1_epi8(needle[a]);
		cb = _mm_set1_epi8(needle[b]);

		/*
		 * Positions i .. i + 15 (the literal's last byte at most at n - 1),
		 * then the last sixteen positions, which overlap those tested, as
		 * one more block with the tested ones masked off.
		 */
		for (;;)
		{
			__m128i		ha,
						hb;
			uint32		mask;
			bool		last = i + m - 1 + 16 > n;
			size_t		from = i;

			if (last)
				i = n - (m - 1) - 16;
			ha = _mm_loadu_si128((const __m128i *) (hay + i + a));
			hb = _mm_loadu_si128((const __m128i *) (hay + i + b));
			mask = (uint32) _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(ha, ca),
															_mm_cmpeq_epi8(hb, cb)));
			if (last)
				mask &= ~(uint32) 0 << (from - i);

			/* the candidates, compared here: a call would spill ca and cb */
			while (unlikely(mask != 0))
			{
				const char *at = hay + i + pg_rightmost_one_pos32(mask);
				size_t		k = 0;

				while (k < m && at[k] == needle[k])
					k++;
				if (k == m)
					return at;
				mask &= mask - 1;
			}
			if (last)
				return NULL;
			i += 16;
		}
	}
#endif
	return memmem(hay, n, needle, m);
}
