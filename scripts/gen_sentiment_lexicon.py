#!/usr/bin/env python3
"""Generate src/sentiment_lexicon.c from data/sentiment/.

    scripts/gen_sentiment_lexicon.py     (from the repository root)

Inputs:
  data/sentiment/vader_lexicon.txt       VADER's lexicon (MIT, C.J. Hutto; see
                                         data/sentiment/LICENSE.txt)
  data/sentiment/emoji_utf8_lexicon.txt  VADER's emoji descriptions (same licence)
  data/sentiment/support_lexicon.txt     our product and support words
  data/sentiment/frustration_cues.txt    our support-specific frustration cues

Output: one C file holding constant tables only, so the scorer needs no
initialisation, no allocation and no file at run time, and every backend
shares the tables through the shared library's read-only pages:
  - the words: lexicon valence, negation / booster flags, whether a
    frustration cue starts with them;
  - an open-addressing hash of the words (FNV-1a, linear probing), computed
    here with the same function sentiment.c uses;
  - the frustration cues, grouped by first word;
  - single-codepoint emoji with a valence: the sum of the VADER valences of
    the words of their description (VADER replaces an emoji by its
    description and scores those words).

The generated file is committed: building the extension needs no Python.
Re-run this script after editing a file in data/sentiment/.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data", "sentiment")
OUT = os.path.join(ROOT, "src", "sentiment_lexicon.c")
HASH_SIZE = 16384           # power of two, > 2x the number of words
MAX_WORD = 31               # bytes; longer words are never looked up

# VADER's negation words (vaderSentiment.py, NEGATE), lower case, and
# "nobody" / "noone" ("nobody seems to care" is not about caring)
NEGATE = """nobody noone aint arent cannot cant couldnt darent didnt doesnt ain't aren't can't couldn't
daren't didn't doesn't dont hadnt hasnt havent isnt mightnt mustnt neither don't hadn't
hasn't haven't isn't mightn't mustn't neednt needn't never none nope nor not nothing
nowhere oughtnt shant shouldnt uhuh wasnt werent oughtn't shan't shouldn't uh-uh wasn't
weren't without wont wouldnt won't wouldn't rarely seldom despite""".split()

# VADER's single-word boosters (+) and dampeners (-) (BOOSTER_DICT); the
# two-word ones ("kind of", "sort of", "just enough") are handled in C
BOOST_UP = """absolutely amazingly awfully completely considerable considerably decidedly
deeply effing enormous enormously entirely especially exceptional exceptionally extreme
extremely fabulously flipping flippin frackin fracking fricking frickin frigging friggin
fully fuckin fucking fuggin fugging greatly hella highly hugely incredible incredibly
intensely major majorly more most particularly purely quite really remarkably so
substantially thoroughly total totally tremendous tremendously uber unbelievably
unusually utter utterly very""".split()
BOOST_DOWN = """almost barely hardly kinda kindof kind-of less little marginal marginally
occasional occasionally partly scarce scarcely slight slightly somewhat sorta sortof
sort-of""".split()

FLAG_LEX, FLAG_NEG, FLAG_UP, FLAG_DOWN, FLAG_CUE, FLAG_SUBJ = 1, 2, 4, 8, 16, 32

# words the rules test by name get a code (enum EscSentSpecial in
# sentiment_lexicon.h, same order), so sentiment.c compares integers
SPECIAL = """no but never so this without doubt least at very or nor kind sort of just
enough like the shit bomb bad ass yeah right beating heart broken bus stop die
for""".split()

# "like" is the verb after these (FLAG_SUBJ); otherwise it compares
LIKE_SUBJECTS = """i you we they i'd we'd you'd they'd really would do don't dont didn't
didnt doesn't doesnt will to also definitely actually people kids still did does not
truly totally just might may should must i'll we'll""".split()


def fnv1a(b):
    h = 2166136261
    for c in b:
        h ^= c
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def c_float(v):
    """a C float literal: 2 -> 2.0f, -0.5 -> -0.5f"""
    r = repr(float(v))
    return r + "f"


def c_string(s):
    out = []
    for ch in s.encode("utf-8"):
        if ch in (0x22, 0x5C):
            out.append("\\" + chr(ch))
        elif 0x20 <= ch < 0x7F and ch != 0x3F:     # no '?' (trigraphs)
            out.append(chr(ch))
        else:
            out.append("\\%03o" % ch)
    return '"' + "".join(out) + '"'


def main():
    # lexicon: VADER looks words up lower-cased in a dict whose keys are as
    # written (later lines win), so keys with capitals are never reached;
    # we keep the lower-case keys, and a capitalised key only when its
    # lower-case form is missing.  Multi-word entries are never reached by
    # VADER's whitespace split either and are left out.
    raw = {}
    for line in open(os.path.join(DATA, "vader_lexicon.txt"), encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 2 or not parts[0] or " " in parts[0]:
            continue
        raw[parts[0]] = float(parts[1])
    lex = {k: v for k, v in raw.items() if k == k.lower()}
    for k, v in raw.items():
        if k.lower() not in lex:
            lex[k.lower()] = v

    # our product and support words (and politeness formulas made neutral);
    # single emoji go to the emoji table below
    support_emoji = {}
    for line in open(os.path.join(DATA, "support_lexicon.txt"), encoding="utf-8"):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        w, v = line.split("\t")
        if len(w) == 1 and ord(w) > 0x7F:
            support_emoji[ord(w)] = float(v)
            continue
        assert w == w.lower(), w
        if float(v) == 0.0:
            lex.pop(w, None)
        else:
            lex[w] = float(v)

    words = {}

    def entry(w):
        if w not in words:
            words[w] = [0.0, 0, -1, 0, 0]   # valence, flags, first cue, cue count, special
        return words[w]

    for w, v in lex.items():
        if len(w.encode()) <= MAX_WORD:
            e = entry(w)
            e[0] = v
            e[1] |= FLAG_LEX
    for w in NEGATE:
        entry(w)[1] |= FLAG_NEG
    for w in BOOST_UP:
        entry(w)[1] |= FLAG_UP
    for w in BOOST_DOWN:
        entry(w)[1] |= FLAG_DOWN

    for k, w in enumerate(SPECIAL):
        entry(w)[4] = k + 1
    for w in LIKE_SUBJECTS:
        entry(w)[1] |= FLAG_SUBJ

    cues = []
    for line in open(os.path.join(DATA, "frustration_cues.txt"), encoding="utf-8"):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        phrase, weight = line.split("\t")
        ws = phrase.split()
        assert 1 <= len(ws) <= 4 and phrase == phrase.lower(), phrase
        cues.append((ws, float(weight)))
    # grouped by first word, longest first, so the first match is the longest
    cues.sort(key=lambda c: (c[0][0], -len(c[0]), c[0]))
    for i, (ws, _) in enumerate(cues):
        e = entry(ws[0])
        e[1] |= FLAG_CUE
        if e[2] < 0:
            e[2] = i
        e[3] += 1

    # emoji: single codepoint (optionally + VS16), valence of the description
    emoji = {}
    for line in open(os.path.join(DATA, "emoji_utf8_lexicon.txt"), encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 2:
            continue
        e = parts[0].replace("\ufe0f", "")
        if len(e) != 1:
            continue
        v = sum(lex.get(w.lower().strip(".,:;!?'\""), 0.0) for w in parts[1].split())
        if v != 0.0:
            emoji[ord(e)] = max(-4.0, min(4.0, v))

    emoji.update(support_emoji)

    order = sorted(words)
    index = {w: i for i, w in enumerate(order)}
    slots = [0] * HASH_SIZE
    for w in order:
        h = fnv1a(w.encode()) & (HASH_SIZE - 1)
        while slots[h]:
            h = (h + 1) & (HASH_SIZE - 1)
        # low 16 bits: word index + 1; high 16 bits: the hash's high bits,
        # so a probe rejects other words without reading their entry
        slots[h] = (index[w] + 1) | ((fnv1a(w.encode()) >> 16) << 16)
    assert len(order) < 65535 and len(order) * 2 < HASH_SIZE

    o = []
    o.append("/*-------------------------------------------------------------------------")
    o.append(" *")
    o.append(" * sentiment_lexicon.c")
    o.append(" *\t  GENERATED by scripts/gen_sentiment_lexicon.py from data/sentiment/;")
    o.append(" *\t  do not edit.")
    o.append(" *")
    o.append(" * Word valences and emoji descriptions are derived from VADER")
    o.append(" * (github cjhutto/vaderSentiment, vader_lexicon.txt and")
    o.append(" * emoji_utf8_lexicon.txt), Copyright (c) 2016 C.J. Hutto, MIT License:")
    o.append(" * see data/sentiment/LICENSE.txt.  The frustration cues are ours.")
    o.append(" *")
    o.append(" *-------------------------------------------------------------------------")
    o.append(" */")
    o.append('#include "postgres.h"')
    o.append("")
    o.append('#include "sentiment_lexicon.h"')
    o.append("")
    o.append("const int\tesc_sent_nwords = %d;" % len(order))
    o.append("const EscSentWord esc_sent_words[%d] = {" % len(order))
    for w in order:
        v, f, c, n, sp = words[w]
        o.append("\t{%s, %d, %s, %d, %d, %d, %d}," % (c_string(w), len(w.encode()), c_float(v), f,
                                                    c, n, sp))
    o.append("};")
    o.append("")
    o.append("const uint32 esc_sent_slots[ESC_SENT_HASH_SIZE] = {")
    for i in range(0, HASH_SIZE, 8):
        o.append("\t" + ", ".join("0x%x" % s for s in slots[i:i + 8]) + ",")
    o.append("};")
    o.append("")
    o.append("const int\tesc_sent_ncues = %d;" % len(cues))
    o.append("const EscSentCue esc_sent_cues[%d] = {" % len(cues))
    for ws, wt in cues:
        padded = ws + [""] * (4 - len(ws))
        o.append("\t{%s, %d, {%s}, %s}," % (c_string(" ".join(ws)), len(ws),
                                             ", ".join(c_string(x) for x in padded), c_float(wt)))
    o.append("};")
    o.append("")
    o.append("const int\tesc_sent_nemoji = %d;" % len(emoji))
    o.append("const EscSentEmoji esc_sent_emoji[%d] = {" % len(emoji))
    for cp in sorted(emoji):
        o.append("\t{0x%X, %s},\t/* %s */" % (cp, c_float(emoji[cp]), "U+%04X" % cp))
    o.append("};")
    with open(OUT, "w", encoding="ascii") as f:
        f.write("\n".join(o) + "\n")
    print("%s: %d words, %d cues, %d emoji" % (os.path.relpath(OUT, ROOT), len(order),
                                              len(cues), len(emoji)))


if __name__ == "__main__":
    sys.exit(main())
