/*-------------------------------------------------------------------------
 *
 * sentiment_lexicon.h
 *	  The constant tables of the sentiment scorer, shared by sentiment.c and
 *	  the generated sentiment_lexicon.c (scripts/gen_sentiment_lexicon.py).
 *	  Private to those two files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SENTIMENT_LEXICON_H
#define SENTIMENT_LEXICON_H

#define ESC_SENT_HASH_SIZE	16384	/* power of two */
#define ESC_SENT_MAX_WORD	31		/* bytes; longer words are never looked up */

/* flags of a word */
#define ESC_SW_LEX			0x01	/* has a lexicon valence */
#define ESC_SW_NEG			0x02	/* negation ("not", "never", "isn't") */
#define ESC_SW_UP			0x04	/* booster ("very") */
#define ESC_SW_DOWN			0x08	/* dampener ("slightly") */
#define ESC_SW_CUE			0x10	/* a frustration cue starts with it */
#define ESC_SW_SUBJ			0x20	/* makes a following "like" the verb */

/* words the rules test by name (same order as SPECIAL in the generator) */
typedef enum EscSentSpecial
{
	SP_NONE = 0,
	SP_NO, SP_BUT, SP_NEVER, SP_SO, SP_THIS, SP_WITHOUT, SP_DOUBT, SP_LEAST,
	SP_AT, SP_VERY, SP_OR, SP_NOR, SP_KIND, SP_SORT, SP_OF, SP_JUST,
	SP_ENOUGH, SP_LIKE, SP_THE, SP_SHIT, SP_BOMB, SP_BAD, SP_ASS, SP_YEAH,
	SP_RIGHT, SP_BEATING, SP_HEART, SP_BROKEN, SP_BUS, SP_STOP, SP_DIE,
	SP_FOR
} EscSentSpecial;

typedef struct EscSentWord
{
	const char *word;			/* lower case */
	uint8		len;
	float		valence;		/* VADER scale, about -4 .. +4; 0 = none */
	uint8		flags;
	int16		cue_first;		/* first cue starting with this word, -1 */
	int16		cue_count;
	uint8		special;		/* EscSentSpecial */
} EscSentWord;

typedef struct EscSentCue
{
	const char *phrase;
	int			nwords;
	const char *words[4];
	float		weight;
} EscSentCue;

typedef struct EscSentEmoji
{
	uint32		codepoint;
	float		valence;
} EscSentEmoji;

extern const int esc_sent_nwords;
extern const EscSentWord esc_sent_words[];
/* per slot: word index + 1 in the low 16 bits (0 = empty), the word's hash's high 16 bits above */
extern const uint32 esc_sent_slots[ESC_SENT_HASH_SIZE];
extern const int esc_sent_ncues;
extern const EscSentCue esc_sent_cues[];	/* grouped by first word, longest first */
extern const int esc_sent_nemoji;
extern const EscSentEmoji esc_sent_emoji[];	/* sorted by codepoint */

#endif							/* SENTIMENT_LEXICON_H */
