/*-------------------------------------------------------------------------
 *
 * shim.c
 *	  A small stand-in for the backend services that the extension's pure
 *	  C files call, so that libFuzzer can run them in one process with
 *	  AddressSanitizer and UBSan.  See shim.h.
 *
 * Memory contexts.  Every chunk is its own malloc(), with a header that
 * links it into its context, so ASan catches an overrun of any palloc'd
 * object by one byte, a use after pfree(), a use after repalloc() (which
 * always moves) and a use after the context is deleted.  New chunks are
 * filled with 0x7F, as PostgreSQL's RANDOMIZE_ALLOCATED_MEMORY would, so
 * that reading memory nobody wrote tends to give visibly wrong answers.
 *
 * Lists reallocate their cells on every append (PostgreSQL's
 * DEBUG_LIST_MEMORY_USAGE), so a ListCell pointer kept across lappend()
 * is caught.  Hash tables never move their entries, as dynahash promises.
 *
 * ereport(ERROR) longjmps to the innermost FUZZ_TRY; an ERROR outside one
 * aborts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/memnodes.h"
#include "nodes/pg_list.h"
#include "pgtime.h"
#include "tsearch/ts_type.h"
#include "tsearch/ts_utils.h"
#include "utils/datetime.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "shim.h"

/* ----------------------------------------------------------------
 * Globals the extension's files refer to
 * ----------------------------------------------------------------
 */
MemoryContext CurrentMemoryContext = NULL;
MemoryContext TopMemoryContext = NULL;
MemoryContext TopTransactionContext = NULL;
volatile sig_atomic_t InterruptPending = false;

/* escalation.word_cache_size, at its smallest allowed value */
int			esc_memo_size = 1024;

void
ProcessInterrupts(void)
{
	InterruptPending = false;
}

/* ----------------------------------------------------------------
 * Failing
 * ----------------------------------------------------------------
 */
void
fuzz_fail(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "FUZZ CHECK FAILED: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/* called by the trap functions of traps.c */
void		shim_trap(const char *name) pg_attribute_noreturn();
void
shim_trap(const char *name)
{
	fuzz_fail("%s() is not available in the fuzz shim and must not be reached", name);
}

/* ----------------------------------------------------------------
 * Errors
 * ----------------------------------------------------------------
 */
sigjmp_buf *shim_error_jmp = NULL;
int			shim_error_code = 0;
char		shim_error_message[1024];
bool		shim_error_internal = false;

static int	cur_elevel;
static int	cur_code;
static char cur_message[1024];
static char scratch[4096];		/* details and hints: formatted, then dropped */

bool
errstart(int elevel, const char *domain)
{
	cur_elevel = elevel;
	cur_code = elevel >= ERROR ? ERRCODE_INTERNAL_ERROR : 0;
	cur_message[0] = '\0';
	return true;				/* format every message, to check its arguments */
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	if (cur_elevel < ERROR)
		return;
	shim_error_code = cur_code;
	shim_error_internal = (cur_code == ERRCODE_INTERNAL_ERROR);
	snprintf(shim_error_message, sizeof(shim_error_message), "%s (%s:%d)",
			 cur_message, filename, lineno);
	if (shim_error_jmp == NULL)
		fuzz_fail("ERROR outside FUZZ_TRY: %s", shim_error_message);
	siglongjmp(*shim_error_jmp, 1);
}

int
errcode(int sqlerrcode)
{
	cur_code = sqlerrcode;
	return 0;
}

#define FORMAT_INTO(buf, fmt) \
	do { \
		va_list		ap; \
		va_start(ap, fmt); \
		vsnprintf(buf, sizeof(buf), fmt, ap); \
		va_end(ap); \
	} while (0)

int
errmsg(const char *fmt,...)
{
	FORMAT_INTO(cur_message, fmt);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	FORMAT_INTO(cur_message, fmt);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	FORMAT_INTO(scratch, fmt);
	return 0;
}

int
errdetail_internal(const char *fmt,...)
{
	FORMAT_INTO(scratch, fmt);
	return 0;
}

int
errhint(const char *fmt,...)
{
	FORMAT_INTO(scratch, fmt);
	return 0;
}

void
fuzz_no_internal_error(const char *what)
{
	if (shim_error_internal)
		fuzz_fail("%s: internal error (elog): %s", what, shim_error_message);
}

/* ----------------------------------------------------------------
 * Memory contexts
 * ----------------------------------------------------------------
 */
#define CHUNK_MAGIC		0x5ca1ab1e
#define ALLOC_FILL		0x7F

typedef struct ShimChunk
{
	struct ShimChunk *prev;
	struct ShimChunk *next;
	Size		size;
	uint32		magic;
	uint32		pad;
	void	   *pad2;
	MemoryContext context;		/* immediately before the data, as PostgreSQL
								 * requires (GetMemoryChunkContext) */
} ShimChunk;

StaticAssertDecl(sizeof(ShimChunk) % MAXIMUM_ALIGNOF == 0, "chunk header alignment");

typedef struct ShimContext
{
	MemoryContextData md;
	ShimChunk	ring;			/* sentinel of the chunk ring */
} ShimContext;

static long live_chunks = 0;

long
shim_live_chunks(void)
{
	return live_chunks;
}

static MemoryContext
context_create(MemoryContext parent, const char *name)
{
	ShimContext *c = calloc(1, sizeof(ShimContext));

	if (c == NULL)
		fuzz_fail("out of memory creating a context");
	c->md.type = T_AllocSetContext;
	c->md.isReset = true;
	c->md.name = name;
	c->md.parent = parent;
	c->ring.prev = c->ring.next = &c->ring;
	if (parent)
	{
		c->md.nextchild = parent->firstchild;
		if (parent->firstchild)
			parent->firstchild->prevchild = &c->md;
		parent->firstchild = &c->md;
	}
	return &c->md;
}

static void
ensure_top(void)
{
	if (TopMemoryContext == NULL)
	{
		TopMemoryContext = context_create(NULL, "TopMemoryContext");
		TopTransactionContext = context_create(TopMemoryContext, "TopTransactionContext");
		CurrentMemoryContext = TopMemoryContext;
	}
}

MemoryContext
AllocSetContextCreateInternal(MemoryContext parent, const char *name,
							  Size minContextSize, Size initBlockSize, Size maxBlockSize)
{
	ensure_top();
	return context_create(parent, name);
}

static void
unlink_from_parent(MemoryContext c)
{
	if (c->parent == NULL)
		return;
	if (c->prevchild)
		c->prevchild->nextchild = c->nextchild;
	else
		c->parent->firstchild = c->nextchild;
	if (c->nextchild)
		c->nextchild->prevchild = c->prevchild;
	c->parent = c->prevchild = c->nextchild = NULL;
}

static void
free_chunks(MemoryContext context)
{
	ShimContext *c = (ShimContext *) context;
	ShimChunk  *ch = c->ring.next;

	while (ch != &c->ring)
	{
		ShimChunk  *next = ch->next;

		ch->magic = 0;
		free(ch);
		live_chunks--;
		ch = next;
	}
	c->ring.prev = c->ring.next = &c->ring;
	context->isReset = true;
}

void
MemoryContextDelete(MemoryContext context)
{
	if (context == NULL || context == TopMemoryContext)
		fuzz_fail("MemoryContextDelete of %s", context ? "TopMemoryContext" : "NULL");
	while (context->firstchild)
		MemoryContextDelete(context->firstchild);
	if (CurrentMemoryContext == context)
		fuzz_fail("deleting the current memory context \"%s\"", context->name);
	free_chunks(context);
	unlink_from_parent(context);
	context->type = T_Invalid;
	free(context);
}

void
MemoryContextReset(MemoryContext context)
{
	while (context->firstchild)
		MemoryContextDelete(context->firstchild);
	free_chunks(context);
}

void
MemoryContextSetParent(MemoryContext context, MemoryContext new_parent)
{
	if (context->parent == new_parent)
		return;
	unlink_from_parent(context);
	if (new_parent)
	{
		context->parent = new_parent;
		context->nextchild = new_parent->firstchild;
		if (new_parent->firstchild)
			new_parent->firstchild->prevchild = context;
		new_parent->firstchild = context;
	}
}

static void *
chunk_alloc(MemoryContext context, Size size, bool huge, bool zero)
{
	ShimContext *c = (ShimContext *) context;
	ShimChunk  *ch;

	if (context == NULL || context->type != T_AllocSetContext)
		fuzz_fail("allocation in an invalid memory context");
	if (!huge && !AllocSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu in the fuzz shim.", size)));
	ch = malloc(sizeof(ShimChunk) + size);
	if (ch == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	ch->size = size;
	ch->magic = CHUNK_MAGIC;
	ch->context = context;
	ch->next = &c->ring;
	ch->prev = c->ring.prev;
	c->ring.prev->next = ch;
	c->ring.prev = ch;
	context->isReset = false;
	live_chunks++;
	memset(ch + 1, zero ? 0 : ALLOC_FILL, size);
	return ch + 1;
}

static ShimChunk *
chunk_of(void *pointer, const char *what)
{
	ShimChunk  *ch;

	if (pointer == NULL)
		fuzz_fail("%s(NULL)", what);
	ch = ((ShimChunk *) pointer) - 1;
	if (ch->magic != CHUNK_MAGIC)
		fuzz_fail("%s of a pointer that is not a live palloc'd chunk", what);
	return ch;
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	return chunk_alloc(context, size, false, false);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	return chunk_alloc(context, size, false, true);
}

void *
MemoryContextAllocZeroAligned(MemoryContext context, Size size)
{
	return chunk_alloc(context, size, false, true);
}

void *
MemoryContextAllocExtended(MemoryContext context, Size size, int flags)
{
	return chunk_alloc(context, size, (flags & MCXT_ALLOC_HUGE) != 0,
					   (flags & MCXT_ALLOC_ZERO) != 0);
}

void *
MemoryContextAllocHuge(MemoryContext context, Size size)
{
	return chunk_alloc(context, size, true, false);
}

char *
MemoryContextStrdup(MemoryContext context, const char *string)
{
	Size		n = strlen(string) + 1;
	char	   *s = chunk_alloc(context, n, false, false);

	memcpy(s, string, n);
	return s;
}

void *
palloc(Size size)
{
	return chunk_alloc(CurrentMemoryContext, size, false, false);
}

void *
palloc0(Size size)
{
	return chunk_alloc(CurrentMemoryContext, size, false, true);
}

void *
palloc_extended(Size size, int flags)
{
	return MemoryContextAllocExtended(CurrentMemoryContext, size, flags);
}

void
pfree(void *pointer)
{
	ShimChunk  *ch = chunk_of(pointer, "pfree");

	ch->prev->next = ch->next;
	ch->next->prev = ch->prev;
	ch->magic = 0;
	free(ch);
	live_chunks--;
}

static void *
realloc_chunk(void *pointer, Size size, bool huge)
{
	ShimChunk  *ch = chunk_of(pointer, "repalloc");
	void	   *n;

	/* always a new chunk: a pointer kept across repalloc() is caught */
	n = chunk_alloc(ch->context, size, huge, false);
	memcpy(n, pointer, Min(size, ch->size));
	pfree(pointer);
	return n;
}

void *
repalloc(void *pointer, Size size)
{
	return realloc_chunk(pointer, size, false);
}

void *
repalloc_huge(void *pointer, Size size)
{
	return realloc_chunk(pointer, size, true);
}

char *
pstrdup(const char *in)
{
	return MemoryContextStrdup(CurrentMemoryContext, in);
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

MemoryContext
fuzz_begin(void)
{
	MemoryContext cxt;

	ensure_top();
	cxt = AllocSetContextCreate(TopMemoryContext, "fuzz input", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);
	return cxt;
}

/*
 * Free everything of one input; whatever is left in TopMemoryContext after
 * that would be memory a backend leaks on every call.
 */
void
fuzz_end(MemoryContext cxt)
{
	ShimContext *top;

	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextDelete(cxt);
	MemoryContextReset(TopTransactionContext);
	top = (ShimContext *) TopMemoryContext;
	if (top->ring.next != &top->ring)
		fuzz_fail("memory left in TopMemoryContext");
	if (TopMemoryContext->firstchild != TopTransactionContext ||
		TopTransactionContext->nextchild != NULL)
		fuzz_fail("a memory context left under TopMemoryContext: \"%s\"",
				  TopMemoryContext->firstchild->name);
}

/* ----------------------------------------------------------------
 * Lists (the PostgreSQL 13+ array representation)
 * ----------------------------------------------------------------
 */
static List *
list_new(NodeTag type, int n)
{
	List	   *l = palloc(offsetof(List, initial_elements));

	l->type = type;
	l->length = n;
	l->max_length = n;
	l->elements = palloc(sizeof(ListCell) * n);
	return l;
}

/* room for one more cell at the end, always in a new array */
static List *
list_grow(List *list, NodeTag type)
{
	ListCell   *cells;

	if (list == NIL)
		return list_new(type, 1);
	if (list->type != type)
		fuzz_fail("list of type %d extended as type %d", (int) list->type, (int) type);
	cells = palloc(sizeof(ListCell) * (list->length + 1));
	memcpy(cells, list->elements, sizeof(ListCell) * list->length);
	pfree(list->elements);
	list->elements = cells;
	list->length++;
	list->max_length = list->length;
	return list;
}

List *
lappend(List *list, void *datum)
{
	list = list_grow(list, T_List);
	list->elements[list->length - 1].ptr_value = datum;
	return list;
}

List *
lappend_int(List *list, int datum)
{
	list = list_grow(list, T_IntList);
	list->elements[list->length - 1].int_value = datum;
	return list;
}

List *
lappend_oid(List *list, Oid datum)
{
	list = list_grow(list, T_OidList);
	list->elements[list->length - 1].oid_value = datum;
	return list;
}

List *
list_make1_impl(NodeTag t, ListCell datum1)
{
	List	   *l = list_new(t, 1);

	l->elements[0] = datum1;
	return l;
}

List *
list_make2_impl(NodeTag t, ListCell datum1, ListCell datum2)
{
	List	   *l = list_new(t, 2);

	l->elements[0] = datum1;
	l->elements[1] = datum2;
	return l;
}

void
list_free(List *list)
{
	if (list == NIL)
		return;
	pfree(list->elements);
	pfree(list);
}

void
list_free_deep(List *list)
{
	if (list == NIL)
		return;
	for (int i = 0; i < list->length; i++)
		pfree(list->elements[i].ptr_value);
	list_free(list);
}

/* ----------------------------------------------------------------
 * Hash tables: chained, entries never move
 * ----------------------------------------------------------------
 */
typedef struct ShimHashEntry
{
	struct ShimHashEntry *next;
	uint32		hash;
	uint32		pad;
	/* the user's entry follows, key first */
} ShimHashEntry;

struct HTAB
{
	MemoryContext cxt;
	Size		keysize;
	Size		entrysize;
	bool		strings;
	long		nbuckets;		/* power of two */
	long		count;
	ShimHashEntry **buckets;
};

#define ENTRY_DATA(e)	((void *) ((e) + 1))

HTAB *
hash_create(const char *tabname, long nelem, const HASHCTL *info, int flags)
{
	MemoryContext parent;
	MemoryContext cxt;
	HTAB	   *h;

	if ((flags & HASH_ELEM) == 0 || (flags & (HASH_STRINGS | HASH_BLOBS)) == 0 ||
		(flags & ~(HASH_ELEM | HASH_STRINGS | HASH_BLOBS | HASH_CONTEXT)) != 0)
		fuzz_fail("hash_create(\"%s\") with flags 0x%x the shim does not support",
				  tabname, flags);
	ensure_top();
	parent = (flags & HASH_CONTEXT) ? info->hcxt : TopMemoryContext;
	cxt = context_create(parent, "hash table");
	h = MemoryContextAllocZero(cxt, sizeof(HTAB));
	h->cxt = cxt;
	h->keysize = info->keysize;
	h->entrysize = info->entrysize;
	h->strings = (flags & HASH_STRINGS) != 0;
	h->nbuckets = 16;
	h->buckets = MemoryContextAllocZero(cxt, sizeof(ShimHashEntry *) * h->nbuckets);
	return h;
}

void
hash_destroy(HTAB *hashp)
{
	if (hashp)
		MemoryContextDelete(hashp->cxt);
}

long
hash_get_num_entries(HTAB *hashp)
{
	return hashp->count;
}

static uint32
key_hash(HTAB *h, const void *key)
{
	if (h->strings)
		return hash_bytes((const unsigned char *) key,
						  (int) strnlen((const char *) key, h->keysize - 1));
	return hash_bytes((const unsigned char *) key, (int) h->keysize);
}

static bool
key_equal(HTAB *h, const void *a, const void *b)
{
	if (h->strings)
		return strncmp((const char *) a, (const char *) b, h->keysize - 1) == 0;
	return memcmp(a, b, h->keysize) == 0;
}

static void
hash_grow(HTAB *h)
{
	long		n = h->nbuckets * 2;
	ShimHashEntry **b = MemoryContextAllocZero(h->cxt, sizeof(ShimHashEntry *) * n);

	for (long i = 0; i < h->nbuckets; i++)
	{
		ShimHashEntry *e = h->buckets[i];

		while (e)
		{
			ShimHashEntry *next = e->next;

			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	pfree(h->buckets);
	h->buckets = b;
	h->nbuckets = n;
}

void *
hash_search(HTAB *h, const void *keyPtr, HASHACTION action, bool *foundPtr)
{
	uint32		hash = key_hash(h, keyPtr);
	ShimHashEntry **link = &h->buckets[hash & (h->nbuckets - 1)];
	ShimHashEntry *e;

	for (e = *link; e; link = &e->next, e = e->next)
		if (e->hash == hash && key_equal(h, ENTRY_DATA(e), keyPtr))
			break;
	if (foundPtr)
		*foundPtr = (e != NULL);

	switch (action)
	{
		case HASH_FIND:
			return e ? ENTRY_DATA(e) : NULL;
		case HASH_ENTER:
		case HASH_ENTER_NULL:
			if (e)
				return ENTRY_DATA(e);
			if (h->count >= h->nbuckets * 2)
				hash_grow(h);
			e = MemoryContextAlloc(h->cxt, sizeof(ShimHashEntry) + h->entrysize);
			e->hash = hash;
			e->next = h->buckets[hash & (h->nbuckets - 1)];
			h->buckets[hash & (h->nbuckets - 1)] = e;
			h->count++;
			if (h->strings)
				strlcpy(ENTRY_DATA(e), keyPtr, h->keysize);
			else
				memcpy(ENTRY_DATA(e), keyPtr, h->keysize);
			return ENTRY_DATA(e);
		case HASH_REMOVE:
			if (e == NULL)
				return NULL;
			*link = e->next;
			h->count--;
			/* dynahash keeps a removed entry readable until the next insert */
			return ENTRY_DATA(e);
	}
	return NULL;
}

/* ----------------------------------------------------------------
 * Encoding: the database is UTF-8
 * ----------------------------------------------------------------
 */
int
pg_mblen(const char *mbstr)
{
	return pg_utf_mblen((const unsigned char *) mbstr);
}

int
pg_mb2wchar_with_len(const char *from, pg_wchar *to, int len)
{
	return pg_wchar_table[PG_UTF8].mb2wchar_with_len((const unsigned char *) from, to, len);
}

int
GetDatabaseEncoding(void)
{
	return PG_UTF8;
}

/* valid UTF-8, no NUL: invalid bytes become '?', NUL becomes ' ' */
static char *
sanitize_utf8(const uint8 *s, size_t n, int *len)
{
	char	   *out = palloc(n + 1);
	size_t		i = 0;

	while (i < n)
	{
		int			l = pg_utf_mblen(s + i);

		if (s[i] == 0)
		{
			out[i++] = ' ';
			continue;
		}
		if (l > 1 && i + l <= n && pg_utf8_islegal(s + i, l))
		{
			memcpy(out + i, s + i, l);
			i += l;
			continue;
		}
		out[i] = (s[i] < 0x80) ? (char) s[i] : '?';
		i++;
	}
	out[n] = '\0';
	*len = (int) n;
	return out;
}

char *
fuzz_text_until(FuzzInput *in, char sep, int *len)
{
	const uint8 *end = memchr(in->p, sep, in->left);
	size_t		n = end ? (size_t) (end - in->p) : in->left;
	char	   *s = sanitize_utf8(in->p, n, len);

	in->p += n;
	in->left -= n;
	if (end)
	{
		in->p++;
		in->left--;
	}
	return s;
}

char *
fuzz_text_rest(FuzzInput *in, int *len)
{
	char	   *s = sanitize_utf8(in->p, in->left, len);

	in->p += in->left;
	in->left = 0;
	return s;
}

/* ----------------------------------------------------------------
 * A toy text search configuration for parsetext()
 *
 * SHIM_CFG_ENGLISH: tokens are runs of ASCII letters and digits or non-
 * ASCII characters, except that a no-break space (U+00A0), zero-width
 * space (U+200B) or ideographic space (U+3000) separates tokens, as the
 * real parser does inside what tokenize.c sees as one word; ASCII is
 * lower-cased; stop words give no lexeme but take a position; "-ing",
 * "-ed" and "-s" are stripped; a token with non-ASCII characters gives a
 * second lexeme at the same position (its ASCII letters), so that words
 * with several stems are exercised.  SHIM_CFG_SIMPLE: lower case only.
 * Tokens longer than 2047 bytes are skipped with a NOTICE, as PostgreSQL
 * does.
 * ----------------------------------------------------------------
 */
static const char *const stop_words[] = {
	"a", "an", "and", "i", "in", "is", "it", "my", "of", "or", "the", "to", NULL
};

static int
separator_len(const unsigned char *p, const unsigned char *end)
{
	if (end - p >= 2 && p[0] == 0xC2 && p[1] == 0xA0)
		return 2;
	if (end - p >= 3 && p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0x8B)
		return 3;
	if (end - p >= 3 && p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80)
		return 3;
	return 0;
}

static inline bool
token_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c >= 0x80;
}

static void
add_lexeme(ParsedText *prs, const char *s, int len, uint16 variant)
{
	ParsedWord *w;

	if (prs->curwords == prs->lenwords)
	{
		prs->lenwords *= 2;
		prs->words = repalloc(prs->words, sizeof(ParsedWord) * prs->lenwords);
	}
	w = &prs->words[prs->curwords++];
	w->len = (uint16) len;
	w->nvariant = variant;
	w->pos.pos = LIMITPOS(prs->pos);
	w->flags = 0;
	w->alen = 0;
	w->word = palloc(len + 1);
	memcpy(w->word, s, len);
	w->word[len] = '\0';
}

static void
lexize(Oid cfgid, ParsedText *prs, const char *tok, int len)
{
	char	   *low = palloc(len + 1);
	int			n = len;
	bool		ascii = true;

	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) tok[i];

		low[i] = (c >= 'A' && c <= 'Z') ? (char) (c + 32) : (char) c;
		ascii &= (c < 0x80);
	}
	low[len] = '\0';

	if (cfgid == SHIM_CFG_ENGLISH)
	{
		for (int k = 0; stop_words[k]; k++)
			if (strcmp(low, stop_words[k]) == 0)
			{
				pfree(low);
				return;
			}
		if (n >= 5 && memcmp(low + n - 3, "ing", 3) == 0)
			n -= 3;
		else if (n >= 4 && memcmp(low + n - 2, "ed", 2) == 0)
			n -= 2;
		else if (n >= 4 && low[n - 1] == 's' && low[n - 2] != 's')
			n -= 1;
	}
	add_lexeme(prs, low, n, 1);
	if (cfgid == SHIM_CFG_ENGLISH && !ascii)
	{
		char	   *a = palloc(len + 1);
		int			m = 0;

		for (int i = 0; i < len; i++)
			if ((unsigned char) low[i] < 0x80)
				a[m++] = low[i];
		if (m > 0)
			add_lexeme(prs, a, m, 2);
		pfree(a);
	}
	pfree(low);
}

/*
 * ts_config.c's question of the toy configurations: SHIM_CFG_SIMPLE gives
 * a word of ASCII letters and digits as it is; SHIM_CFG_ENGLISH strips
 * suffixes from it too ("ab1s" gives "ab1").
 */
bool
esc_ts_digit_words_plain(Oid cfgid)
{
	return cfgid == SHIM_CFG_SIMPLE;
}

void
parsetext(Oid cfgId, ParsedText *prs, char *buf, int32 buflen)
{
	const unsigned char *p = (const unsigned char *) buf;
	const unsigned char *end = p + buflen;

	if (cfgId != SHIM_CFG_ENGLISH && cfgId != SHIM_CFG_SIMPLE)
		elog(ERROR, "cache lookup failed for text search configuration %u", cfgId);
	while (p < end)
	{
		const unsigned char *s;

		while (p < end && (!token_byte(*p) || separator_len(p, end) > 0))
			p += token_byte(*p) ? separator_len(p, end) : 1;
		if (p >= end)
			break;
		s = p;
		while (p < end && token_byte(*p) && separator_len(p, end) == 0)
			p++;
		if (p - s > 2047)
		{
			ereport(NOTICE,
					(errmsg("word is too long to be indexed"),
					 errdetail("Words longer than 2047 characters are ignored.")));
			continue;
		}
		lexize(cfgId, prs, (const char *) s, (int) (p - s));
		prs->pos++;
	}
}

List *
shim_stems(Oid cfgid, const char *word, int len)
{
	ParsedText	prs;
	List	   *result = NIL;

	prs.lenwords = 4;
	prs.curwords = 0;
	prs.pos = 0;
	prs.words = palloc(sizeof(ParsedWord) * prs.lenwords);
	parsetext(cfgid, &prs, (char *) word, len);
	for (int i = 0; i < prs.curwords; i++)
		result = lappend(result, prs.words[i].word);
	return result;
}

/* ----------------------------------------------------------------
 * Dates: Julian day numbers of the proleptic Gregorian calendar
 * (Fliegel and Van Flandern's algorithm), 0 = Sunday for j2day
 * ----------------------------------------------------------------
 */
const int	day_tab[2][13] = {
	{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0},
	{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0}
};

int
date2j(int year, int month, int day)
{
	int			a = (14 - month) / 12;
	int			y = year + 4800 - a;
	int			m = month + 12 * a - 3;

	return day + (153 * m + 2) / 5 + 365 * y + y / 4 - y / 100 + y / 400 - 32045;
}

void
j2date(int jd, int *year, int *month, int *day)
{
	int			a = jd + 32044;
	int			b = (4 * a + 3) / 146097;
	int			c = a - 146097 * b / 4;
	int			d = (4 * c + 3) / 1461;
	int			e = c - 1461 * d / 4;
	int			m = (5 * e + 2) / 153;

	*day = e - (153 * m + 2) / 5 + 1;
	*month = m + 3 - 12 * (m / 10);
	*year = 100 * b + d - 4800 + m / 10;
}

int
j2day(int jd)
{
	int			d = (jd + 1) % 7;

	return d < 0 ? d + 7 : d;
}

/* ----------------------------------------------------------------
 * Time zones: one table of transitions, set by the harness
 * ----------------------------------------------------------------
 */
struct pg_tz
{
	int			unused;
};

static ShimZone zone;

void
shim_set_zone(const ShimZone *z)
{
	zone = *z;
}

/*
 * As pgtz's: the offset in effect at *timep, and the first transition
 * strictly after it with the offset after that (0 when there is none).
 */
int
pg_next_dst_boundary(const pg_time_t *timep, long int *before_gmtoff, int *before_isdst,
					 pg_time_t *boundary, long int *after_gmtoff, int *after_isdst,
					 const pg_tz *tz)
{
	int			i = 0;

	while (i < zone.ntrans && zone.at[i] <= *timep)
		i++;
	*before_gmtoff = zone.off[i];
	*before_isdst = 0;
	if (i == zone.ntrans)
		return 0;
	*boundary = zone.at[i];
	*after_gmtoff = zone.off[i + 1];
	*after_isdst = 0;
	return 1;
}
