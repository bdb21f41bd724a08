/*-------------------------------------------------------------------------
 *
 * escalation.h
 *	  Shared types, GUC variables and prototypes of the escalation extension,
 *	  grouped by the .c file that defines them.
 *
 * The data flow is: trigger.c extracts the mapped columns of a helpdesk row
 * (attribute numbers cached by catalog.c), tokenize.c finds the keywords in
 * its text, rules.c decides which rules fire (pure: no SPI, no catalog), and
 * trigger.c writes the escalation through SPI, with context.c building the
 * snapshot the receiving agent reads.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESCALATION_H
#define ESCALATION_H

#include "postgres.h"

#include "access/attnum.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "port/atomics.h"
#include "regex/regex.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

/*
 * The attribute number of a named column, cached by the caller in *cached
 * (0: not looked up yet).  A cached number is checked against the
 * descriptor (a column dropped and added again moves) and looked up again
 * with SPI_fnumber() when it does not fit.  For the row triggers on the
 * extension's own tables, which name their columns on every row: a
 * SPI_fnumber() walks the descriptor comparing names.
 */
static inline int
esc_attnum(TupleDesc desc, const char *name, int *cached)
{
	int			a = *cached;

	if (a > 0 && a <= desc->natts &&
		!TupleDescAttr(desc, a - 1)->attisdropped &&
		strcmp(NameStr(TupleDescAttr(desc, a - 1)->attname), name) == 0)
		return a;
	a = SPI_fnumber(desc, name);
	*cached = a;
	return a;
}
#include "utils/date.h"

#include "compat.h"

/* ---------- roles of ticket-table columns (order = attach() argument order) */
typedef enum EscRole
{
	ESC_ROLE_KEY = 0,
	ESC_ROLE_STATUS,
	ESC_ROLE_CREATED_AT,
	ESC_ROLE_UPDATED_AT,
	ESC_ROLE_RESOLVED_AT,
	ESC_ROLE_PRIORITY,
	ESC_ROLE_CHANNEL,
	ESC_ROLE_SUBJECT,
	ESC_ROLE_BODY,
	ESC_ROLE_REQUESTER,
	ESC_ROLE_ACCOUNT,
	ESC_ROLE_ASSIGNEE,
	ESC_ROLE_TEAM,
	ESC_ROLE_TENANT,
	ESC_NUM_ROLES
} EscRole;

/* roles of messages-table columns */
typedef enum EscMsgRole
{
	ESC_MSG_TICKET = 0,
	ESC_MSG_CREATED_AT,
	ESC_MSG_BODY,
	ESC_MSG_AUTHOR,
	ESC_MSG_PRIVATE,
	ESC_MSG_SENDER,				/* refines author: who (person, bot) sent it */
	ESC_MSG_VISIBLE,			/* true/non-zero when the customer sees it */
	ESC_MSG_REF,				/* messages table: key of its message_via row */
	ESC_MSG_VIA_KEY,			/* message_via table: its key */
	ESC_NUM_MSG_ROLES
} EscMsgRole;

/*
 * With a message_via table, these roles are columns of that table (the
 * message's metadata); body and ref are columns of the messages table.
 */
#define ESC_MSG_ROLE_ON_VIA(r) \
	((r) != ESC_MSG_BODY && (r) != ESC_MSG_REF)

/* what a status value means */
typedef enum EscStatus
{
	ESC_STATUS_UNKNOWN = 0,		/* no status mapped, or value not in the map */
	ESC_STATUS_OPEN,
	ESC_STATUS_PENDING,
	ESC_STATUS_SOLVED,
	ESC_STATUS_OTHER
} EscStatus;

/* who wrote a message */
typedef enum EscAuthor
{
	ESC_AUTHOR_UNKNOWN = 0,
	ESC_AUTHOR_CUSTOMER,
	ESC_AUTHOR_AGENT,
	ESC_AUTHOR_BOT,
	ESC_AUTHOR_INTERNAL
} EscAuthor;

/* one mapped column */
typedef struct EscColumn
{
	const char *name;			/* column name, NULL when the role is unmapped */
	AttrNumber	attnum;
	Oid			typid;
	Oid			outfunc;		/* type output function */
	bool		typisvarlena;
} EscColumn;

/* a value map: raw value (as text) -> meaning; optional lookup chain first */
typedef struct EscValueMap
{
	HTAB	   *lookup;			/* raw value -> looked-up value, or NULL */
	HTAB	   *map;			/* value -> meaning, or NULL */
} EscValueMap;

#define ESC_MAX_WORD	64		/* bytes; longer words are never keywords */
#define ESC_MAX_ALT		4		/* alternative stems kept per word */

/* ---------- tokenize.c: keyword lexicon and matcher */

/* one position of a keyword (a phrase has several) */
typedef struct EscKwPart
{
	int			offset;			/* word offset from the phrase's first word */
	int			nalt;
	int			alt[ESC_MAX_ALT];	/* lexeme ids that match this position */
} EscKwPart;

typedef struct EscKeyword
{
	char	   *text;			/* as written in the rule */
	int			nparts;
	EscKwPart  *parts;
} EscKeyword;

typedef struct EscLexicon
{
	MemoryContext cxt;
	Oid			cfgid;			/* text search configuration */
	HTAB	   *lexemes;		/* lexeme -> id */
	int			nlexemes;
	int			nkeywords;
	int			maxkeywords;
	EscKeyword *keywords;
	List	  **first;			/* lexeme id -> List of keyword indexes whose
								 * first part can be that lexeme */
	bool		digit_stems;	/* some keyword stem has a digit */
	struct EscMemo *memo;		/* text word -> keyword lexeme ids */
	MemoryContext memo_cxt;
	long		memo_entries;
	uint64		memo_epoch;		/* times the memo's entries moved (grown,
								 * started over) */
	uint64		tri_serial;		/* the triage vocabulary whose readings
								 * the memo keeps (0: none) */
} EscLexicon;

/* ---------- textpass.c: one tokenising pass over a text (pure) */

#define ESC_WORD_DIGITS	0x01	/* the word has an ASCII digit */
#define ESC_WORD_LONG	0x02	/* ESC_MAX_WORD bytes or more: no hash */
#define ESC_WORD_PLAIN	0x04	/* (a pass with cases) sentiment's raw token
								 * as it stands: white space or the text's
								 * edge on both sides, ASCII, at most
								 * ESC_WORD_PLAIN_MAX bytes */
#define ESC_WORD_PLAIN_MAX 31	/* sentiment's ESC_SENT_MAX_WORD */
#define ESC_WORD_UPPER	0x08	/* (and plain) in ALL CAPS: an upper-case
								 * letter and no lower-case one */

/* a word: a run of ASCII letters and digits or of non-ASCII bytes */
typedef struct EscWord
{
	int32		start;			/* byte offsets in the text */
	int32		end;
	uint32		hash;			/* of its folded bytes (textpass.c's word_hash()) */
	uint32		flags;			/* ESC_WORD_* */
} EscWord;

typedef struct EscTextPass
{
	const char *text;
	int			len;
	bool		cases;			/* words have ESC_WORD_PLAIN, _UPPER */
	char	   *folded;			/* text, ASCII folded to lower case, NUL-ended */
	EscWord    *words;
	int			nwords;
	int			maxwords;
	/*
	 * Left by the keyword rules' look-ups of the words (tokenize.c), for
	 * sentiment and triage: per word, its EscWordReading in side_lex's
	 * word memo (NULL: not kept), while that memo's entries have not moved
	 * since (side_epoch; esc_pass_side()); side_lex NULL: none
	 */
	struct EscLexicon *side_lex;
	uint64		side_epoch;
	struct EscWordReading **side;
} EscTextPass;

extern uint64 esc_text_passes;
extern EscTextPass *esc_textpass(const char *text, int len, bool cases);

/* ' ', '\t', '\n', '\v', '\f' or '\r': what separates sentiment's raw tokens */
static inline bool
esc_is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/*
 * Whether word [ws, we) of text[0 .. len) has white space or the text's
 * edge on both sides: one of sentiment's raw tokens as it stands, if it
 * is ASCII
 */
static inline bool
esc_word_spaced(const unsigned char *text, int len, int ws, int we)
{
	return (ws == 0 || esc_is_space(text[ws - 1])) &&
		(we == len || esc_is_space(text[we]));
}

/* bigmem.c: large tables read at random, on huge pages where they are big */
extern void *esc_alloc_big(MemoryContext cxt, size_t size);
extern void esc_free_big(void *p);

/*
 * The first eight bytes at w as one word, those past len (when len < 8)
 * zeroed.  Reads eight bytes whatever len is: w must lie in a pass's
 * folded text, which has eight bytes of padding past its end.
 */
static inline uint64
esc_word_head(const char *w, int len)
{
	uint64		x;

	memcpy(&x, w, 8);
	if (len < 8)
	{
#ifdef WORDS_BIGENDIAN
		x &= ~((~UINT64CONST(0)) >> (8 * len));
#else
		x &= (UINT64CONST(1) << (8 * len)) - 1;
#endif
	}
	return x;
}

/*
 * A word memo's copy of a word past its first eight bytes (which the
 * entry keeps as esc_word_head()): bytes 8 to 15, zero-padded, in the
 * entry itself for a word of up to ESC_WORD_INLINE bytes (nearly all), so
 * that a look-up compares it without reading a copy kept elsewhere, a
 * cache miss of its own for every word longer than eight bytes; a longer
 * word is copied into cxt.  The word lies in a pass's folded text, as for
 * esc_word_head().  Sixteen bytes inline, not 24 (before session 19):
 * the eight freed hold triage's reading of the word in the keyword memo
 * (EscWordReading), and words of 17 to 24 bytes are rare.
 */
#define ESC_WORD_INLINE 16

typedef union EscWordTail
{
	uint64		w;				/* len <= ESC_WORD_INLINE */
	char	   *word;			/* the whole word, len > ESC_WORD_INLINE */
} EscWordTail;

static inline void
esc_word_tail_set(EscWordTail *t, const char *w, int len, MemoryContext cxt)
{
	if (len > ESC_WORD_INLINE)
	{
		t->word = MemoryContextAlloc(cxt, len);
		memcpy(t->word, w, len);
		return;
	}
	t->w = len > 8 ? esc_word_head(w + 8, len - 8) : 0;
}

/* whether w (len bytes, its first eight equal to the entry's) is t's word */
static inline bool
esc_word_tail_eq(const EscWordTail *t, const char *w, int len)
{
	if (len <= 8)
		return true;
	if (len > ESC_WORD_INLINE)
		return memcmp(t->word + 8, w + 8, len - 8) == 0;
	return t->w == esc_word_head(w + 8, len - 8);
}

/* result of matching one text */
typedef struct EscMatch
{
	int			nkeywords;
	bool	   *matched;		/* per keyword */
	int		   *start;			/* byte offset of the first matching occurrence */
	int		   *end;
	int			nwords;			/* words seen in the text */
} EscMatch;

extern EscLexicon *esc_lexicon_create(MemoryContext parent, Oid cfgid);
extern int	esc_lexicon_add_keyword(EscLexicon *lex, const char *keyword);
extern void esc_lexicon_match(EscLexicon *lex, const char *text, int len, int field_break,
							  EscMatch *m);
extern void esc_lexicon_match_pass(EscLexicon *lex, EscTextPass *tp, int field_break,
								   bool leave_side, EscMatch *m);
extern List *esc_keyword_stems(Oid cfgid, const char *keyword);

/*
 * What sentiment.c and triage.c remember of a word in the keyword rules'
 * word memo (tokenize.c), beside the word's keyword stems: the trigger
 * looks every word of a ticket up there anyway, so one cache line a word
 * serves all three, where sentiment's own memo of spans and triage's word
 * memo cost a line a word each (docs/design.md).  All zero: nothing
 * remembered.
 *
 * Triage's reading (tri_*) is the word's stems in the vocabulary of the
 * model whose serial the lexicon holds (EscLexicon.tri_serial): kept here
 * for a word of at most one stem, which is nearly every word; a word of
 * more, and every word the keyword memo does not keep, is read from
 * triage's own memo.
 */
#define ESC_TRI_UNREAD	0		/* triage has not read the word */
#define ESC_TRI_NONE	1		/* no stem: a stop word the model drops */
#define ESC_TRI_ONE		2		/* one stem: tri_id, tri_fid */
#define ESC_TRI_MEMO	3		/* more: in triage's word memo */

typedef struct EscWordReading
{
	uint32		generation;		/* of the terms it was read with, plus one;
								 * 0: nothing */
	float		valence;
	int16		word;			/* in the lexicon (esc_sent_words), -1 */
	int16		term;			/* in the source's terms, -1 */
	uint8		flags;
	uint8		special;
	uint8		notes;			/* what the token notes in its sentence, but
								 * its case */
	uint8		tri_state;		/* ESC_TRI_* */
	int32		tri_id;			/* the stem's id in the vocabulary, -1 */
	int32		tri_fid;		/* the model's feature of the stem alone, -1 */
} EscWordReading;

/*
 * Whether the keyword rules' word memo keeps word w of a pass: a source
 * with keywords keeps every word a keyword could match (not those with a
 * digit, unless a keyword's stem has one, nor the too long).
 */
static inline bool
esc_lexicon_keeps(const EscLexicon *lex, const EscWord *w)
{
	return lex != NULL && lex->nkeywords > 0 && !(w->flags & ESC_WORD_LONG) &&
		!((w->flags & ESC_WORD_DIGITS) && !lex->digit_stems);
}

/*
 * The per-word readings the keyword rules' look-ups left in pass tp, or
 * NULL when they left none or their memo's entries have moved since.
 */
static inline EscWordReading **
esc_pass_side(const EscTextPass *tp)
{
	if (tp->side == NULL || tp->side_lex == NULL ||
		tp->side_epoch != tp->side_lex->memo_epoch)
		return NULL;
	return tp->side;
}

extern void esc_lexicon_claim_triage(EscLexicon *lex, uint64 serial);
extern EscWordReading *esc_lexicon_word_sentiment(EscLexicon *lex, const EscTextPass *tp,
													int wi);

/* ---------- sentiment.c: polarity and frustration of a text (pure) */

#define ESC_SENT_MAX_CUES	16	/* matched cues reported per text */

/* a team's own term (escalation.sentiment_terms), lower case */
typedef struct EscSentTerm
{
	char	   *term;			/* as configured, lower-cased */
	int			nwords;			/* 1..4 */
	char	   *words[4];
	bool		has_valence;	/* one word only */
	float		valence;
	bool		has_frustration;
	float		frustration;
	int			source_rank;	/* 0: the source's own, 1: every source's */
} EscSentTerm;

/* a source's terms, grouped by first word (longest first), hashed on it */
typedef struct EscSentimentTerms
{
	int			nterms;
	EscSentTerm *terms;
	int			hash_size;		/* power of two */
	int		   *slots;			/* first term of a first word + 1, 0 = empty */
	uint64		generation;		/* unique per build (catalog.c); 0: not memoised */
} EscSentimentTerms;

typedef struct EscSentiment
{
	double		polarity;		/* -1 .. +1 */
	double		frustration;	/* 0 .. 1 */
	int			nsentences;
	int			ncues;
	const char *cues[ESC_SENT_MAX_CUES];	/* frustration cues matched */
} EscSentiment;

typedef void (*EscSentenceEmit) (void *arg, const char *sentence, int len,
								 const EscSentiment *s);

extern void esc_sentiment(const char *text, int len, const EscSentimentTerms *terms,
						  EscSentiment *out, EscSentenceEmit emit, void *arg);
extern void esc_sentiment_pass(const EscTextPass *tp, const EscSentimentTerms *terms,
							   EscLexicon *lex, EscSentiment *out);
extern uint32 esc_sentiment_hash(const char *s, int len);
extern bool esc_sentiment_memo;

/* ---------- triage.c: learned triage, features and scoring (pure) */

#define ESC_TRIAGE_EXPLAIN	5	/* features reported per prediction */

/* stems, the word memo and the feature map of a model (or of a training run) */
typedef struct EscTriageVocab EscTriageVocab;

/*
 * Whether the text search configuration gives a word of ASCII letters and
 * digits with a digit in it (starting with a letter, or all digits) as its
 * one lexeme, as it is (ts_config.c): the word memos then skip the parser
 * for such words.
 */
extern bool esc_ts_digit_words_plain(Oid cfgid);

/* a loaded model packs each word's idf and team weights in one cache line */
#define ESC_TRIAGE_REC_TEAMS 15
#define ESC_TRIAGE_REC_STRIDE 16	/* floats a record */

/* a trained model, as loaded from escalation.models */
typedef struct EscTriageModel
{
	MemoryContext cxt;
	int32		model_id;
	int32		source_id;
	int32		version;
	EscTriageVocab *vocab;
	int			nfeatures;
	int			nwords;			/* features 0..nwords-1 are words, the rest
								 * subject grams */
	char	  **features;		/* "stem", "stem stem", "priority=high",
								 * "~gram" ... */
	float	   *idf;
	int			nclasses;
	char	  **classes;		/* team names */
	bool	   *routable;		/* a team of escalation.teams above tier 1 */
	float	   *w;				/* nwords x nclasses, feature-major */
	float	   *wrec;			/* per word, 64-byte aligned: idf, then its
								 * row of w (NULL: more than
								 * ESC_TRIAGE_REC_TEAMS teams) */
	float	   *b;				/* per class */
	double		temperature;	/* softmax(temperature * score) */
	bool		has_escalation;
	float	   *we;				/* nfeatures */
	float		be;
	double		platt_a;		/* P(escalated) = 1 / (1 + exp(a * score + b)) */
	double		platt_b;
	/* vectorising: triage.c's working memory, made on first use */
	struct EscTriageScratch *scratch;
} EscTriageModel;

typedef struct EscPrediction
{
	int			team;			/* class index, -1 when none */
	const char *team_name;
	double		team_prob;
	bool		routable;
	bool		has_escalation;
	double		escalation_prob;
	int			nwords;
	const char *words[ESC_TRIAGE_EXPLAIN];	/* weighed most for the team */
	int			nesc_words;
	const char *esc_words[ESC_TRIAGE_EXPLAIN];	/* ... for escalation */
} EscPrediction;

/*
 * A sparse document: distinct feature indexes and tf-idf values, the words
 * first (nword of them), then the subject grams, each block L2-normalised.
 */
typedef struct EscTriageDoc
{
	int			n;
	int			nword;
	int		   *feat;
	float	   *val;
	bool		words_only;		/* no grams: the escalation model not scored */
} EscTriageDoc;

/* the key of a subject gram has this bit; the rest is a hash of its text */
#define ESC_TRIAGE_GRAM_TAG (UINT64CONST(1) << 63)

extern EscTriageVocab *esc_triage_vocab_create(MemoryContext cxt, Oid cfgid, bool grow);
extern void esc_triage_vocab_set_grams(EscTriageVocab *v, bool on);
extern int	esc_triage_doc_keys(EscTriageVocab *v, const char *text, int len,
								const char *priority, const char *channel, const char *tier,
								uint64 **keys);
extern int	esc_triage_doc_keys_pass(EscTriageVocab *v, const EscTextPass *tp,
									 const char *priority, const char *channel,
									 const char *tier, uint64 **keys);
extern int	esc_triage_feature_get(EscTriageVocab *v, uint64 key);
extern int	esc_triage_feature_put(EscTriageVocab *v, uint64 key, int value);
extern char *esc_triage_key_text(EscTriageVocab *v, uint64 key);
extern uint64 esc_triage_text_key(EscTriageVocab *v, const char *feature);
extern void esc_triage_normalize(float *val, int nword, int n);
extern void esc_triage_vectorize(EscTriageModel *m, const char *text, int len,
								 const char *priority, const char *channel, const char *tier,
								 EscTriageDoc *doc);
extern void esc_triage_prefetch_pass(EscTriageModel *m, const EscTextPass *tp,
									 const EscLexicon *lex);
extern void esc_triage_vectorize_pass(EscTriageModel *m, const EscTextPass *tp,
									  const char *priority, const char *channel,
									  const char *tier, bool grams, EscTriageDoc *doc);
extern void esc_triage_score(EscTriageModel *m, const EscTriageDoc *doc, EscPrediction *p,
							 double *team_scores, bool explain);
extern void esc_triage_explain(EscTriageModel *m, const EscTriageDoc *doc, EscPrediction *p);
extern void esc_triage_predict(EscTriageModel *m, const char *text, int len,
							   const char *priority, const char *channel, const char *tier,
							   EscPrediction *p, bool explain);
extern void esc_triage_predict_pass(EscTriageModel *m, const EscTextPass *tp,
									const char *priority, const char *channel,
									const char *tier, EscPrediction *p, bool explain);
extern bytea *esc_triage_serialize(EscTriageModel *m);
extern EscTriageModel *esc_triage_deserialize(MemoryContext parent, bytea *data, Oid cfgid);

/* ---------- triage_learn.c: linear models, calibration, metrics (pure) */

/* training examples in compressed sparse rows */
typedef struct EscTrainSet
{
	int			n;
	int			nfeatures;
	int		   *start;			/* n + 1 */
	int		   *feat;
	float	   *val;
} EscTrainSet;

typedef void (*EscProgress) (void *arg, const char *phase, int done, int total);

/* what esc_learn_triage() learns */
typedef struct EscLearned
{
	float	   *w;				/* X's nfeatures x nclasses, feature-major */
	float	   *b;
	bool	   *present;		/* per class: it had training tickets */
	bool		has_escalation;
	float	   *we;				/* Xe's nfeatures */
	float		be;
} EscLearned;

extern void esc_learn_triage(const EscTrainSet *X, const EscTrainSet *Xe,
							 const int *y, const int8 *ye,
							 const bool *use, int nclasses, double C, double esc_C,
							 double balance, const float *warm, float *alpha_out,
							 EscLearned *out, EscProgress progress, void *arg,
							 const char *phase);
extern void esc_linear_scores(const EscTrainSet *X, int i, const float *w, const float *b,
							  int K, double *out);
extern double esc_fit_temperature(const double *scores, const int *y, int n, int nclasses);
extern void esc_fit_platt(const double *scores, const int8 *y, int n, double *a, double *b);

/* ---------- triage_funcs.c: train(), classify(), evaluate(), the model cache */
extern EscTriageModel *esc_triage_model_for(int32 source_id);

/* ---------- probe.c: a ticket's rows of our own tables through an index */

#define ESC_PROBE_MAX_COLUMNS 8

typedef struct EscProbe
{
	const char *relname;		/* a table of schema escalation */
	int			ncolumns;
	const char *columns[ESC_PROBE_MAX_COLUMNS]; /* the columns the caller reads */
	/* found by esc_probe_open() */
	bool		registered;
	Oid			relid;			/* InvalidOid: look again */
	Oid			indexoid;		/* leads with (source_id, ticket_key) */
	Oid			collation;		/* of ticket_key in the index */
	AttrNumber	source_att;
	AttrNumber	key_att;
	int			att[ESC_PROBE_MAX_COLUMNS]; /* of columns[] */
} EscProbe;

extern struct RelationData *esc_probe_open(EscProbe *p);
extern struct SysScanDescData *esc_probe_begin(EscProbe *p, struct RelationData *rel,
											   Datum source_id, Datum ticket_key,
											   struct SnapshotData *snapshot);

/* ---------- shape.c: runs of character classes every match contains */

#define ESC_SHAPE_MAX	64		/* atoms in a shape: one lane */
#define ESC_SHAPE_MIN	3		/* shorter runs filter too little */
#define ESC_SHAPE_LANES 2		/* 64-bit state words per source */
#define ESC_SHAPE_RANGES 3		/* ranges of trigger bytes a scan tests */

/*
 * A source's shapes, side by side in lanes, for one shift-and scan; the
 * scan reads only windows around the shapes' trigger bytes, unless some
 * shape has no rare atom or the trigger bytes need more ranges (shape.c)
 */
typedef struct EscShapeSet
{
	int			nlanes;
	bool		eager;			/* some pattern without a literal has a shape:
								 * every text is scanned */
	int			used[ESC_SHAPE_LANES];	/* bits taken in each lane */
	uint64		start[ESC_SHAPE_LANES]; /* first bit of each shape */
	uint64		end[ESC_SHAPE_LANES];	/* last bit of each shape */
	uint64		mask[ESC_SHAPE_LANES][256]; /* per byte: the positions it fits */
	bool		whole;			/* scan the whole text, not windows */
	int			before;			/* a window's bytes before its trigger byte */
	int			after;			/* and after it */
	uint64		trigger[2];		/* the trigger bytes (all ASCII), a bit each */
	uint64		range_ge[ESC_SHAPE_RANGES]; /* their ranges as SWAR addends; */
	uint64		range_gt[ESC_SHAPE_RANGES]; /* 0 and 0: an unused range */
} EscShapeSet;

extern bool esc_shape_add(EscShapeSet *set, const char *pattern, bool case_sensitive,
						  int max_lanes, bool windowed_only, int *lane, uint64 *endbit,
						  bool *ascii_only);
extern void esc_shape_scan_serial(const EscShapeSet *set, const char *text, int len,
								  uint64 *found);
extern bool esc_shape_scan(const EscShapeSet *set, const char *text, int len,
						   uint64 *found);
extern char *esc_shape_describe(const char *pattern, bool case_sensitive);

/* ---------- literal.c: a pattern rule's literal in a text */
extern const char *esc_find_literal(const char *hay, size_t n, const char *needle, size_t m);

/* ---------- catalog.c: the configuration cache */

typedef struct EscAccount
{
	char	   *key;
	bool		found;			/* false: no such account row */
	char	   *tier;
	bool		vip;
	bool		has_value;
	double		annual_value;
	char	   *annual_value_text;
	bool		has_renewal;
	DateADT		renewal_date;
	char	   *owner_agent;
} EscAccount;

typedef struct EscRule
{
	int32		rule_id;
	char	   *name;
	char	   *tenant;			/* only tickets of this tenant, or NULL */
	bool		on_ticket;
	bool		on_message;
	/* conditions */
	int			nkeywords;
	int		   *kwids;			/* keyword ids in the source's lexicon */
	char	   *pattern;
	bool		case_sensitive;
	regex_t    *regex;			/* compiled, or NULL */
	int			prefilter;		/* which EscSource.prefilter covers it, -1 none */
	List	   *literals;		/* every match contains one of these (folded
								 * unless case-sensitive); NIL = unknown */
	int			shape_lane;		/* its shape's lane in EscSource.shapes */
	uint64		shape_end;		/* the shape's last bit in that lane; 0: none */
	bool		shape_ascii_only;	/* the shape holds on ASCII texts only */
	int			npriorities;
	char	  **priorities;
	int			nchannels;
	char	  **channels;
	char	   *field;			/* field name as in the rule */
	int			field_index;	/* index into EscSource.fields, -1 = unmapped */
	char	   *field_op;
	char	   *field_value;
	bool		field_numeric;
	double		field_number;
	int			account_vip;	/* -1 = no condition, 0/1 */
	int			naccount_tiers;
	char	  **account_tiers;
	bool		has_min_value;
	double		min_annual_value;
	bool		has_renewal_within;
	Interval	renewal_within;
	bool		has_sentiment_below;
	double		sentiment_below;	/* fires when polarity < this */
	bool		has_frustration_above;
	double		frustration_above;	/* fires when frustration > this */
	bool		has_team_confidence;
	double		team_confidence;	/* predicted team's probability >= this:
									 * route there (target_team NULL) */
	bool		has_escalation_probability;
	double		escalation_probability;	/* predicted P(escalated) >= this */
	/* each threshold above that the rule has, as a reason writes it ("%g") */
	struct NumericData *sentiment_below_num;
	struct NumericData *frustration_above_num;
	struct NumericData *team_confidence_num;
	struct NumericData *escalation_probability_num;
	/* target */
	char	   *target_team;
	int			ntarget_skills;
	char	  **target_skills;
	int			target_tier;	/* 0 = none */
	char	   *kind;
	int			severity;
	int			level;
} EscRule;

/* an extra named field (fields.<name> in the mapping) or a standard one */
typedef struct EscField
{
	char	   *name;
	EscColumn	col;
} EscField;

typedef struct EscSource
{
	int32		source_id;
	char	   *name;
	Oid			relid;
	char	   *relname_q;		/* schema-qualified, quoted */
	Oid			cfgid;
	char	   *time_zone;
	bool		broken;			/* mapping no longer matches the table */
	EscColumn	cols[ESC_NUM_ROLES];
	int			nfields;
	EscField   *fields;			/* priority, channel, status, then fields.* */
	EscValueMap status_map;
	EscValueMap priority_map;
	EscValueMap channel_map;
	EscValueMap author_map;
	EscValueMap sender_map;
	char	   *author_map_json;	/* for the context query */
	/* per role, stored values that mean "none" (as text), or NULL */
	int			nsentinels[ESC_NUM_ROLES];
	char	  **sentinels[ESC_NUM_ROLES];
	/* messages */
	Oid			msg_relid;
	char	   *msg_relname_q;
	EscColumn	msgcols[ESC_NUM_MSG_ROLES];
	Oid			via_relid;		/* message_via table, or InvalidOid */
	char	   *via_relname_q;
	SPIPlanPtr	via_plan;
	bool		messages_follow_tickets;	/* a new ticket has no messages */
	/* rules, compiled for this source */
	EscLexicon *lexicon;
	int			nrules;
	EscRule   **rules;
	regex_t    *prefilter[2];	/* all combinable patterns OR-ed, per case mode */
	EscShapeSet *shapes;		/* shapes of patterns without literals, or NULL */
	bool		any_message_rule;
	bool		any_account_rule;
	bool		has_sla;		/* some enabled SLA policy applies to it */
	bool		keep_facts;		/* metrics: keep escalation.ticket_facts */
	EscSentimentTerms *sentiment_terms;	/* the source's own terms, or NULL */
	bool		any_sentiment_rule;	/* some rule asks the sentiment */
	bool		any_triage_rule;	/* some rule asks the triage model */
	bool		any_escalation_probability_rule;	/* ... for the escalation
													 * probability */
	/* SPI plans, prepared on first use */
	SPIPlanPtr	fetch_plan;
	SPIPlanPtr	lock_plan;		/* locks a ticket row (esc_lock_ticket) */
	SPIPlanPtr	lock_fetch_plan;	/* locks and fetches it (esc_lock_fetch_ticket) */
	SPIPlanPtr	context_plan;
	SPIPlanPtr	context_plan_new;	/* for a new ticket without messages */
	SPIPlanPtr	context_plan_msgs;	/* the conversation only */
	/* context.c: the requester's other tickets by an index probe */
	int			ctx_probe;		/* 0: not looked at yet, 1: usable, -1: not */
	Oid			ctx_index;		/* btree index led by the requester column */
	bool		ctx_ordered;	/* ... whose second column is the creation time */
	Oid			ctx_collation;
	RegProcedure ctx_eqproc;	/* requester = requester */
	Oid			ctx_infunc;		/* the requester type's input function */
	Oid			ctx_ioparam;
} EscSource;

extern void esc_cache_init(void);
extern EscSource *esc_get_source(int32 source_id);
extern EscSource *esc_get_source_by_relid(Oid relid);
extern EscSource *esc_attached_source(Oid relid);
extern EscAccount *esc_lookup_account(const char *key);
extern Oid	esc_extension_owner(void);
extern const char *esc_value_map_get(EscValueMap *vm, const char *raw);
extern SPIPlanPtr esc_prepare_config_plan(const char *sql, int nargs, Oid *argtypes);
extern SPIPlanPtr esc_prepare_kept_plan(const char *sql, int nargs, Oid *argtypes);
extern void esc_cache_release_retired(void);

/* ---------- rules.c: pure decision logic */

/* what is known about the row being judged */
typedef struct EscFacts
{
	bool		is_message;
	EscStatus	status;
	const char *priority;		/* after the priority map; NULL if unknown */
	const char *channel;
	const char *tenant;			/* the ticket's tenant, NULL if none */
	const char **field_values;	/* per EscSource.fields; NULL = SQL NULL */
	EscAccount *account;		/* NULL: no account on the row */
	TimestampTz at;				/* the row's time, for renewal windows */
	bool		at_date_done;	/* at_date computed (lazily, once) */
	DateADT		at_date;		/* at's date in the session's time zone */
	int			nhorizons;		/* renewal windows remembered: */
	Interval	horizon_within[2];	/* ...each window... */
	DateADT		horizon_date[2];	/* ...and the date it reaches from at */
	const char *text;			/* subject + body (ticket) or body (message) */
	int			textlen;
	EscMatch   *match;			/* keywords found in text */
	pg_wchar   *wtext;			/* text as wide chars, built lazily */
	int			wlen;
	regex_t    *prefilter[2];	/* the source's combined patterns */
	int			prefilter_state[2];	/* -1 not run yet, 0 no match, 1 match */
	const EscShapeSet *shapes;	/* the source's shapes, or NULL */
	bool		shapes_done;	/* scanned (lazily, once) */
	bool		text_ascii;		/* the text has no non-ASCII byte */
	uint64		shapes_found[ESC_SHAPE_LANES];	/* end bits of shapes found */
	EscTextPass *pass;			/* the one tokenising pass over text, lazily */
	bool		pass_cases;		/* a sentiment rule will read it: the pass
								 * notes plain words and their case */
	const EscSentimentTerms *sentiment_terms;	/* the source's own terms */
	EscLexicon *lexicon;		/* the source's keywords, when a rule asks
								 * the sentiment: it keeps its readings of
								 * words in their memo */
	bool		sentiment_done;	/* sentiment computed (lazily, once) */
	EscSentiment sentiment;
	EscTriageModel *triage;		/* the source's model, NULL = none */
	bool		triage_done;	/* prediction computed (lazily, once) */
	bool		triage_escalation;	/* a rule of the source asks for the
									 * escalation probability: predict it
									 * with the team */
	bool		triage_explained;	/* its words too (only for a reason) */
	EscTriageDoc triage_doc;	/* the ticket's vector, for the words */
	EscPrediction prediction;
} EscFacts;

typedef struct EscVerdict
{
	bool		fires;
	const char *why_not;		/* first condition that failed */
	int			pattern_so;		/* byte offsets of the pattern match */
	int			pattern_eo;
	const char *target_team;	/* the predicted team a triage rule routes
								 * to, NULL: the rule's own target */
} EscVerdict;

extern uint64 esc_pattern_runs;
extern void esc_rule_evaluate(EscRule *rule, EscFacts *facts, EscVerdict *v);
extern void esc_facts_sentiment(EscFacts *facts);
extern void esc_facts_triage(EscFacts *facts, bool escalation);
extern void esc_facts_triage_explain(EscFacts *facts, bool escalation);
extern EscTextPass *esc_facts_pass(EscFacts *facts);
extern bool esc_compare_field(const char *value, const char *op,
							  const char *threshold, bool numeric, double number);
extern bool esc_parse_number(const char *s, double *out);
extern List *esc_required_literals(const char *pattern, bool case_sensitive);

/* ---------- row.c: reading helpdesk rows into facts */

/* a ticket row, read through the source's mapping */
typedef struct EscRow
{
	EscSource  *src;
	bool		present;		/* false: no ticket row (message for unknown ticket) */
	char	   *vals[ESC_NUM_ROLES];	/* mapped values as text, NULL = SQL NULL */
	const char *status_meaning;
	char	   *key;			/* ticket key as text */
	char	   *requester;
	TimestampTz created_at;		/* 0 when unknown */
	char	   *text;			/* subject + body */
	int			textlen;
	int			text_break;		/* byte offset of the body in text, -1 if
								 * text holds only one of them */
	EscFacts	facts;
	EscMatch	match;
} EscRow;

extern char *esc_datum_text(EscColumn *col, Datum value);
extern TimestampTz esc_datum_time(EscSource *src, EscColumn *col, Datum value);
extern void esc_read_ticket(EscSource *src, HeapTuple tuple, TupleDesc desc,
							EscRow *row, TimestampTz at, bool need_account);
extern const char *esc_status_word(EscStatus status);
extern bool esc_row_changed(EscSource *src, HeapTuple oldtup, HeapTuple newtup,
							TupleDesc desc);
extern void esc_match_row(EscSource *src, EscRow *row);
extern HeapTuple esc_fetch_ticket(EscSource *src, const char *key, TupleDesc *desc,
								  MemoryContext into);
extern void esc_lock_ticket(EscSource *src, const char *key);

/* ---------- ticket_lock.c: a message's ticket row locked through its key index */
extern bool esc_ticket_lock(EscSource *src, const char *key, HeapTuple *tuple, TupleDesc *desc,
							MemoryContext into);
extern HeapTuple esc_lock_fetch_ticket(EscSource *src, const char *key, TupleDesc *desc,
									   MemoryContext into);
extern HeapTuple esc_fetch_via(EscSource *src, Datum ref, TupleDesc *desc,
							   MemoryContext into);

/* ---------- record.c: reasons, context snapshots, writing escalations */

/* a rule that fired, with its verdict */
typedef struct EscFired
{
	EscRule    *rule;
	EscVerdict	verdict;
} EscFired;

extern int	esc_evaluate_all(EscSource *src, EscFacts *facts, EscFired *fired);
extern Datum esc_reason_jsonb(EscSource *src, EscRule *rule, EscFacts *facts, EscVerdict *v);
struct JsonbParseState;
extern void esc_push_account(struct JsonbParseState **st, const char *key, EscAccount *acc);
extern Datum esc_build_context(EscSource *src, EscRow *row, bool new_ticket,
							   bool defer_requester);
extern Datum esc_requester_tickets(EscSource *src, const char *key, const char *requester,
								   const char *tenant);
extern Datum esc_cstring_to_jsonb(const char *s);
extern void esc_record(EscSource *src, EscRow *row, EscFired *fired, int nfired,
					   bool may_exist);
/* the record statement's parameters ($1 .. $14: see record.c) */
#define ESC_RECORD_NARGS 14
extern const Oid esc_record_types[ESC_RECORD_NARGS];
extern void esc_record_args(Datum *args, char *nulls);

/* ---------- pending.c: escalations left to the worker (escalation.defer_escalations) */
extern bool esc_pending_write(const Datum *args, const char *nulls);
extern void esc_record_first_response(EscSource *src, const char *ticket_key,
									  TimestampTz at, const char *author);
extern char *esc_target_key(const char *team, char **skills, int nskills,
							bool has_tier, int tier);
extern void esc_become_owner(Oid *save_userid, int *save_sec);
extern void esc_restore_user(Oid save_userid, int save_sec);

/* ---------- trigger.c: the C triggers (helpdesk tables, and the protocol check all share) */
extern TriggerData *esc_check_after_row_trigger(FunctionCallInfo fcinfo, const char *fname);

/* ---------- facts.c: telling the metrics what happened */
extern void esc_facts_ticket(EscSource *src, EscRow *row, HeapTuple newtup,
							 HeapTuple oldtup, TupleDesc desc, TimestampTz at);

/* ---------- sla.c: telling the SLA clocks what happened */
extern bool esc_sla_ticket(EscSource *src, EscRow *row, TimestampTz at);
extern void esc_sla_message(EscSource *src, const char *ticket_key, bool by_agent,
							TimestampTz at);

/* ---------- journey.c: the journey (escalation.events) */

extern void esc_journey_own_created(bool own);

/* direct_insert.c */
typedef struct EscDirect EscDirect;
extern EscDirect *esc_direct_open(Oid relid, const char *const *columns, int ncolumns);
extern HeapTuple esc_direct_insert(EscDirect *d, const Datum *values, const bool *nulls);
extern TupleDesc esc_direct_desc(EscDirect *d);

/* own_rel.c: escalation's own tables by name, looked up once */
extern Oid	esc_own_relid(const char *name);

/* subxact.c: work in a subtransaction, its error handed back (NULL: none) */
extern ErrorData *esc_in_subtransaction(void (*fn) (void *), void *arg);
extern bool esc_error_is_transient(int sqlerrcode);

/* ---------- calendar.c: business calendars and business-time arithmetic */

/* a working stretch of one weekday, microseconds from local midnight */
typedef struct EscCalSpan
{
	int64		start;
	int64		end;			/* > start, at most USECS_PER_DAY */
} EscCalSpan;

/* a holiday repeated every year on its month and day, from its first date on */
typedef struct EscCalRecurring
{
	int			month;
	int			mday;
	DateADT		first;
} EscCalRecurring;

typedef struct EscCalendar
{
	int32		calendar_id;
	char	   *name;
	char	   *time_zone;
	pg_tz	   *tz;
	int			nspans[7];		/* per weekday, 0 = Sunday */
	EscCalSpan *spans[7];		/* sorted, disjoint; midnight-crossing periods
								 * already split at midnight */
	int			maxspans;
	int64		week_usecs;		/* working time of a week without holidays
								 * or UTC offset changes */
	int			nholidays;
	DateADT    *holidays;		/* sorted */
	int			nrecurring;
	EscCalRecurring *recurring;
} EscCalendar;

/* valid until the next esc_calendar_get() of the transaction or its end */
extern EscCalendar *esc_calendar_get(const char *name);
extern TimestampTz esc_business_add(const EscCalendar *cal, TimestampTz start, int64 usecs);
extern int64 esc_business_between(const EscCalendar *cal, TimestampTz from, TimestampTz to);
typedef void (*EscPeriodEmit) (void *arg, TimestampTz starts, TimestampTz ends);
extern void esc_business_periods(const EscCalendar *cal, TimestampTz from, TimestampTz to,
								 EscPeriodEmit emit, void *arg);

/* ---------- route.c: agent fit score and choice (pure: no SPI, no catalog) */

typedef enum EscRouteFactor
{
	ESC_RF_SKILLS = 0,
	ESC_RF_TIER,
	ESC_RF_WORKLOAD,
	ESC_RF_AVAILABILITY,
	ESC_RF_SHIFT,
	ESC_RF_LANGUAGE,
	ESC_RF_CONTINUITY,
	ESC_RF_FAIRNESS,
	ESC_RF_COUNT
} EscRouteFactor;

/* why an agent is not a candidate; ESC_RX_NONE: it is one */
typedef enum EscRouteExclusion
{
	ESC_RX_NONE = 0,
	ESC_RX_TENANT,				/* works for another tenant */
	ESC_RX_INACTIVE,
	ESC_RX_OFFLINE,
	ESC_RX_OUTSIDE_SHIFT,
	ESC_RX_SKIPPED,				/* declined it, or let its offer time out */
	ESC_RX_TEAM,
	ESC_RX_TIER,
	ESC_RX_SKILL,				/* lacks a mandatory skill */
	ESC_RX_OPTIONAL_SKILL,		/* lacks an optional skill, not relaxed yet */
	ESC_RX_CAPACITY,
	ESC_RX_COUNT
} EscRouteExclusion;

typedef enum EscAvailability
{
	ESC_AVAIL_ONLINE = 0,
	ESC_AVAIL_AWAY,
	ESC_AVAIL_OFFLINE
} EscAvailability;

/* an agent, as routing sees it; skills are ids into the batch's skill list */
typedef struct EscRouteAgent
{
	char	   *agent_id;
	int			tenant;			/* tenant id (its own, else its team's), -1
								 * none: works for every tenant */
	int			team;			/* team index, -1 none */
	int			tier;
	int			capacity;
	int			load;			/* escalations counted against capacity */
	EscAvailability availability;
	bool		active;
	bool		has_shift;		/* has a shift calendar */
	bool		in_shift;
	double		shift_left;		/* seconds left in the current working period */
	double		since_last;		/* seconds since its last assignment, < 0:
								 * never, or ESC_ROUTE_FAIRNESS_SECS or more
								 * ago (fairness is 1 either way) */
	uint64	   *skills;			/* bitmap of skill ids, nwords words */
	uint8	   *levels;			/* per skill id: 0 none, 1..5 */
	uint64		languages;		/* bitmap of language ids < 64 */
} EscRouteAgent;

/* an escalation to place */
typedef struct EscRouteRequest
{
	bool		hierarchical;
	int			tenant;			/* tenant id; -1 none; -2 no agent's tenant */
	int			team;			/* team index; -1 any; -2 a team with no agent */
	int			tier;			/* 0: none */
	int			nwords;			/* words of the skill bitmaps */
	uint64	   *mandatory;		/* bitmap */
	uint64	   *optional;		/* bitmap */
	bool		unknown_skill;	/* a mandatory skill no agent has */
	bool		unknown_optional;	/* an optional skill no agent has */
	int			nrequested;		/* mandatory + optional skill ids below */
	int		   *requested;
	bool		relaxed;		/* optional skills no longer filter */
	int			language;		/* language id; -1 none; -2 nobody speaks it */
	int			nskip;
	const int  *skip;			/* agent indexes: declined or timed out */
	int			ncontinuity;
	const int  *continuity_agent;	/* agent indexes with recent good work */
	const double *continuity;	/* 0..1 */
	const double *continuity_of;	/* the same by agent index (every agent),
									 * or NULL: look it up in the lists */
	int			prefer;			/* agent index: the reopened ticket's previous
								 * agent, -1 none */
} EscRouteRequest;

typedef struct EscRouteWeights
{
	double		w[ESC_RF_COUNT];
} EscRouteWeights;

typedef struct EscRouteScore
{
	EscRouteExclusion excluded;
	double		f[ESC_RF_COUNT];	/* each factor, 0..1 */
	double		total;			/* sum of weight * factor */
} EscRouteScore;

typedef struct EscRouteChoice
{
	int			agent;			/* agent index */
	double		total;
} EscRouteChoice;

/* fairness reaches 1 this long after an agent's last offer */
#define ESC_ROUTE_FAIRNESS_SECS 3600

extern const char *const esc_route_factor_names[ESC_RF_COUNT];
extern const double esc_route_default_weights[ESC_RF_COUNT];
extern const char *const esc_route_exclusion_names[ESC_RX_COUNT];
extern bool esc_route_same_tenant(const EscRouteRequest *req, const EscRouteAgent *a);
extern EscRouteExclusion esc_route_filter(const EscRouteRequest *req, const EscRouteAgent *a,
										  int index);
extern void esc_route_score(const EscRouteRequest *req, const EscRouteAgent *a, int index,
							const EscRouteWeights *w, EscRouteScore *out);
extern int	esc_route_choose(const EscRouteRequest *req, const EscRouteAgent *agents,
							 const int *cand, int ncand, const EscRouteWeights *w,
							 int k, EscRouteChoice *top, bool *preferred);

/* ---------- histogram.c: log-linear duration buckets for exact percentiles (pure) */
extern int64 esc_duration_bucket(int64 usecs, int bits);
extern void esc_duration_bounds(int64 bucket, int bits, int64 *lo, int64 *hi);
typedef struct EscHistogramRow
{
	int64		bucket;			/* escalation.duration_bucket() of some level */
	int64		count;			/* values in it (a delta row may be negative) */
} EscHistogramRow;
extern bool esc_histogram_find(EscHistogramRow *rows, int n, int64 rank, int64 *bucket,
							   int64 *below);

/* ---------- guc.c */
extern bool esc_enabled;
extern int	esc_context_messages;
extern int	esc_context_tickets;
extern bool esc_direct_records;
extern bool esc_context_probe;
extern bool esc_defer_requester_tickets;
extern bool esc_defer_escalations;
extern bool esc_ticket_lock_direct;
extern int	esc_memo_size;
extern int	esc_max_workers;
extern bool esc_worker_enabled;
extern int	esc_naptime;
extern int	esc_launcher_naptime;
extern char *esc_databases;
extern char *esc_worker_role;
extern int	esc_batch_size;
extern bool esc_folding;
extern void esc_define_gucs(void);
extern List *esc_database_list(void);

/* ---------- shmem.c: the worker slots shared by launcher, workers and views */

#define ESC_ERROR_LEN	512

typedef enum EscSlotState
{
	ESC_SLOT_FREE = 0,
	ESC_SLOT_STARTING,			/* registered by the launcher, not attached yet */
	ESC_SLOT_RUNNING,			/* a worker holds it (pid != 0) */
	ESC_SLOT_STOPPED,			/* its worker exited; restarted after retry_after */
	ESC_SLOT_ABSENT				/* the extension is not installed there */
} EscSlotState;

/* one database served by a worker; see shmem.c for who writes what */
typedef struct EscWorkerSlot
{
	EscSlotState state;
	Oid			dboid;
	pid_t		pid;
	Latch	   *latch;
	TimestampTz started;
	TimestampTz retry_after;	/* launcher: do not start before */
	TimestampTz cycle_start;	/* last cycle */
	TimestampTz cycle_end;
	int64		items_last_cycle;
	int64		items_total;
	int64		cycles;
	int64		errors;
	TimestampTz error_at;
	char		last_error[ESC_ERROR_LEN];
	pg_atomic_uint32 wake;		/* ESC_WAKE_* bits: what commits woke the
								 * worker for (wake.c) */
} EscWorkerSlot;

typedef struct EscalationSharedState
{
	LWLock	   *lock;
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	uint32		wakeup_epoch;	/* bumped by wakeup(): recheck every database */
	int			nslots;
	EscWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} EscalationSharedState;

extern EscalationSharedState *esc_shared;
extern void esc_shmem_init(void);
extern void esc_check_shared_state(void);
extern int	esc_slot_find(Oid dboid);
extern bool esc_stop_database_worker(Oid dboid, int holdoff_ms);

/* wake.c: what a commit wakes a database's worker for */
#define ESC_WAKE_CYCLE		0x01	/* a cycle now (escalation.wakeup()) */
#define ESC_WAKE_PENDING	0x02	/* record the escalations left pending */
extern bool esc_wake_at_commit(uint32 what);
extern uint32 esc_wake_take(int i);

/* ---------- launcher.c */
extern void esc_launcher_register(void);
extern PGDLLEXPORT void esc_launcher_main(Datum arg);

/* ---------- worker.c */
extern PGDLLEXPORT void esc_worker_main(Datum arg);

/* ---------- ddl.c: database DDL that a connected worker would block */
extern void esc_ddl_init(void);

#endif							/* ESCALATION_H */
