"""Offline text helpers for any script: normalisation, sentence split, passage chunking, extractive
summary, keyphrases.

Sentences end on the terminal punctuation of Latin, Cyrillic, Greek, Chinese and Japanese (full
stop U+3002, full-width ! and ?), Devanagari (danda), Arabic (U+061F, U+06D4), Armenian, Ethiopic and
Burmese. Passages are bounded by words and by an estimate of the encoder's tokens that never
undercounts the scripts MiniLM's WordPiece splits into single letters (Cyrillic, Greek, Arabic,
Devanagari, CJK, Thai; a Hangul syllable is three jamo), so a body written without spaces or
punctuation still becomes several passages inside the window.
Words are Unicode letters, marks and digits (`regex`'s `\p{L}\p{M}\p{N}`), so "Crème brûlée" and
"Москва" stay whole.
"""

from __future__ import annotations

import importlib.util
import math
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import regex

# Closing quotes and brackets that may follow a sentence's end mark.
_CLOSE = "\"'\u201d\u2019\u00bb)\\]}\u300d\u300f\uff09\u3011\u3015\u3009\u300b"
# Latin-style marks end a sentence before whitespace and a capital, a digit, an opening quote or
# bracket, or a letter of a script without case (Arabic, Hebrew, Devanagari, CJK, Thai).
# Full-width and script-specific marks end a sentence whether or not a space follows.
_SENTENCE_END = regex.compile(
    rf"(?<=[.!?\u2026\u203c\u2047-\u2049][{_CLOSE}]*)\s+(?=[\p{{Lu}}\p{{Lt}}\p{{Lo}}\p{{N}}\"'(\[\u201c\u2018\u00ab\u00bf\u00a1])"
    rf"|(?<=[\u3002\uff01\uff1f\uff0e\uff61\u0964\u0965\u061f\u06d4\u0589\u1362\u104b][{_CLOSE}]*)\s*(?=\S)"
)
_WORD = regex.compile(r"[\p{L}\p{N}][\p{L}\p{M}\p{N}\-+/.]*[\p{L}\p{M}\p{N}+]|[\p{L}\p{N}]\p{M}*")
_PHRASE_BREAK = regex.compile(
    r"[,;:()\[\]{}\"!?\u3001\u3002\uff0c\uff1b\uff1a\uff01\uff1f\u300c\u300d\u060c\u061b\u061f\u0964]"
    r"|\.\s|\s-\s|\n")
_CJK_END = "\u3002\uff01\uff1f\u300d\u300f\uff09"  # a sentence so ended joins the next with no space
# Scripts written without spaces between words: each character is its own unit when a passage is cut.
_NO_SPACE = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}]")
_LATIN = regex.compile(r"[\p{Latin}\p{N}\p{P}\p{S}]+")
_HANGUL = regex.compile(r"\p{Hangul}")
_PIECE = regex.compile(r"\p{L}+|\p{N}+|[^\p{L}\p{N}]")

# Estimated encoder tokens per passage: the estimate is rough for Latin words, so a margin under
# the 256-token window ([CLS] and [SEP] included); on SciFact and CISI no passage exceeds 256 real tokens.
PASSAGE_TOKENS = 230


def nfc(text: str) -> str:
    """Canonical composition: "e" + U+0301 and "é" become one string, for every space's text."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


# superscript digits right after a digit: an exponent (`10³`), which NFKC alone would run into the number (`103`)
EXPONENT = regex.compile("(?<=\\d)[\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+")


def nfkc(text: str) -> str:
    """Compatibility composition, for exact-term matching (the keywords space): full-width Latin letters
    and digits, ligatures (U+FB01 "fi") and superscripts fold to their plain forms, as a user would type them;
    an exponent after a digit as `^` and its digits (`10³` -> `10^3`, not the number `103`)."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", EXPONENT.sub(lambda m: "^" + m.group(), text))


def normalize_for(kind: str, text: str) -> str:
    """The normal form a space of `kind` encodes: NFKC for sparse (exact terms), NFC otherwise."""
    return nfkc(text) if kind == "sparse" else nfc(text)


@lru_cache(maxsize=1)
def bm25s_stopwords() -> tuple[str, ...]:
    """The English stopword list bm25s ships (`STOPWORDS_EN_PLUS`, the NLTK list, as in Qdrant/bm25), in its order.

    Read from bm25s's `stopwords.py` alone: `import bm25s.stopwords` would run the package's `__init__`,
    which imports numba and scipy (0.9-2.4 s and ~60 MB in every process that ingests, for a word list).

    Raises:
        ImportError: bm25s is not installed.
    """
    spec = importlib.util.find_spec("bm25s")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("bm25s is not installed (its stopword list is the BM25 space's)")
    path = Path(next(iter(spec.submodule_search_locations))) / "stopwords.py"
    module_spec = importlib.util.spec_from_file_location("_bm25s_stopwords", path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"bm25s has no stopword list at {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return tuple(module.STOPWORDS_EN_PLUS)


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """English stopwords, the list bm25s ships (the same list the BM25 space uses), lowercased."""
    return frozenset(w.lower() for w in bm25s_stopwords())


INVISIBLE = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})  # spaces, separators, controls, format (zero-width ...)
# invisible although their category says a letter, mark or symbol: Hangul and Khitan fillers, Khmer inherent
# vowels, the combining grapheme joiner, Mongolian and other variation selectors, the braille blank
INVISIBLE_CHARS = frozenset("\u115f\u1160\u3164\uffa0\U00016fe4\u17b4\u17b5\u034f\u180b\u180c\u180d\u180f\u2800"
                            + "".join(map(chr, range(0xFE00, 0xFE10))) + "".join(map(chr, range(0xE0100, 0xE01F0))))
# visible although format characters: the prepended concatenation marks (Arabic number sign, end of ayah ...)
VISIBLE_CHARS = frozenset("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd")


def blank(text: str) -> bool:
    """True when `text` shows nothing: empty, or only spaces, separators, control and format characters
    (zero-width space U+200B, joiners, word joiner U+2060, BOM U+FEFF, soft hyphen ...) and the few
    letters and marks that draw nothing (Hangul fillers, variation selectors, the braille blank)."""
    return all(ch in INVISIBLE_CHARS or (unicodedata.category(ch) in INVISIBLE and ch not in VISIBLE_CHARS)
               for ch in text)


def shows_a_word(text: str) -> bool:
    """True when `text` holds a word that shows (a letter or digit that draws something): False for blank text,
    only punctuation or symbols (`"!!! ??? ..."`), or only invisible letters (Hangul fillers). What a derived
    entity must be."""
    return any(not blank(w) for w in words(text))


def sentences(text: str) -> list[str]:
    """Split text into sentences on the terminal punctuation of any script (see the module doc)."""
    text = " ".join(text.split())
    if not text:
        return []
    return [s.strip() for s in _SENTENCE_END.split(text) if not blank(s)]


def words(text: str) -> list[str]:
    """Words of any script: runs of Unicode letters, marks and digits (inner `- + / .` kept: `IL-6`)."""
    return _WORD.findall(text)


@dataclass(frozen=True)
class _Unit:
    text: str
    space: bool  # a space precedes it (it starts a whitespace-separated word)
    tokens: int  # estimated encoder tokens


def estimate_tokens(word: str) -> int:
    """Encoder tokens a whitespace word costs, estimated from above for MiniLM's WordPiece: in a
    Latin word, a run of letters about one per five characters, a run of digits one per two, each
    punctuation mark or symbol one (`(P<0.05)` is seven); any other script one per character
    (three per Hangul syllable), which is how its vocabulary splits them."""
    if _LATIN.fullmatch(word):
        return max(1, sum(math.ceil(len(p) / 5) if p[0].isalpha() else math.ceil(len(p) / 2) if p[0].isdigit()
                          else 1 for p in _PIECE.findall(word)))
    return len(word) + 2 * len(_HANGUL.findall(word))


MAX_WORD_TOKENS = 32  # a longer run without spaces is cut into pieces of about this many tokens


def _units(sentence: str) -> list[_Unit]:
    """A sentence as units to pack: whitespace words, and single characters of scripts without spaces."""
    out: list[_Unit] = []
    for word in sentence.split():
        if not _NO_SPACE.search(word):
            tokens = estimate_tokens(word)
            if tokens <= MAX_WORD_TOKENS:
                out.append(_Unit(word, True, tokens))
                continue
            # one unbroken "word" (base64, a hash, a URL) longer than a passage could hold: cut it
            # into pieces a passage can take, so none of it passes the encoder's window unseen
            size = max(1, len(word) * MAX_WORD_TOKENS // tokens)
            out += [_Unit(word[i:i + size], i == 0, estimate_tokens(word[i:i + size]))
                    for i in range(0, len(word), size)]
            continue
        first = True
        for piece in regex.findall(rf"{_NO_SPACE.pattern}|(?:(?!{_NO_SPACE.pattern})\S)+", word):
            out.append(_Unit(piece, first, estimate_tokens(piece)))
            first = False
    return out


def _join_units(units: list[_Unit]) -> str:
    return "".join((" " if u.space and i else "") + u.text for i, u in enumerate(units))


def _join_sentences(parts: list[str]) -> str:
    out = ""
    for p in parts:
        joined = not out or (_NO_SPACE.match(p) and (_NO_SPACE.match(out[-1]) or out[-1] in _CJK_END))
        glue = "" if joined else " "
        out += glue + p
    return out


def chunk_passages(text: str, *, max_words: int, max_chunks: int, max_tokens: int = PASSAGE_TOKENS) -> list[str]:
    """Group whole sentences into passages of at most `max_words` words and about `max_tokens`
    encoder tokens (a longer sentence is cut between words, or between characters of a script
    written without spaces).

    Passages stay under the encoder's 256-token window, so a long body is covered by several
    vectors instead of being cut off at the window, in any script.
    """
    chunks: list[str] = []
    current: list[str] = []
    n_words = n_tokens = 0
    for sentence in sentences(text):
        units = _units(sentence)
        s_words = sum(u.space for u in units)
        s_tokens = sum(u.tokens for u in units)
        if s_words > max_words or s_tokens > max_tokens:  # longer than a passage: cut it
            if current:
                chunks.append(_join_sentences(current))
                current, n_words, n_tokens = [], 0, 0
            piece: list[_Unit] = []
            p_words = p_tokens = 0
            for u in units:
                if piece and (p_words + u.space > max_words or p_tokens + u.tokens > max_tokens):
                    chunks.append(_join_units(piece))
                    piece, p_words, p_tokens = [], 0, 0
                piece.append(u)
                p_words += u.space
                p_tokens += u.tokens
            if piece:  # the rest of the sentence opens the next passage
                current, n_words, n_tokens = [_join_units(piece)], p_words, p_tokens
            continue
        if current and (n_words + s_words > max_words or n_tokens + s_tokens > max_tokens):
            chunks.append(_join_sentences(current))
            current, n_words, n_tokens = [], 0, 0
        current.append(sentence)
        n_words += s_words
        n_tokens += s_tokens
    if current:
        chunks.append(_join_sentences(current))
    return chunks[:max_chunks]


def _content_words(text: str) -> list[str]:
    stop = stopwords()
    return [w.lower() for w in words(text) if w.lower() not in stop and len(w) > 2]


# A derived summary is cut where the model stops reading (256 tokens: no more than 256 words, and
# 256 tokens of WordPiece never span 12 x 256 characters), so the cut never changes its vector; it only
# bounds what is stored and returned with every hit (a body without sentence punctuation is one "sentence").
MODEL_WINDOW_WORDS = 256
MAX_WORD_CHARS = 12
MAX_PHRASE_CHARS = 100  # a keyphrase longer than this is a run of unsegmented text, not a phrase


def extractive_summary(title: str, body: str, *, max_sentences: int = 3, max_words: int = 80) -> str:
    """Pick the body's most central sentences (Luhn-style: frequent content words, title words
    count double), keep them in their original order."""
    sents = sentences(body)
    if len(sents) <= max_sentences:
        return clip(" ".join(sents), MODEL_WINDOW_WORDS)
    freq = Counter(_content_words(body))
    for w in _content_words(title):
        freq[w] += 2
    scored = []
    for i, sent in enumerate(sents):
        content = _content_words(sent)
        score = sum(freq[w] for w in set(content)) / (len(content) ** 0.5 + 1)
        scored.append((score + (0.5 if i == 0 else 0.0), i))
    keep = sorted(i for _, i in sorted(scored, reverse=True)[:max_sentences])
    picked: list[str] = []
    total = 0
    for i in keep:
        n = len(sents[i].split())
        if picked and total + n > max_words:
            break
        picked.append(sents[i])
        total += n
    return clip(" ".join(picked), MODEL_WINDOW_WORDS)


def clip(text: str, max_words: int) -> str:
    """`text` cut to its first `max_words` words and at most `max_words` * MAX_WORD_CHARS characters."""
    cut = " ".join(text.split()[:max_words])
    return cut[: max_words * MAX_WORD_CHARS].rstrip()


def _candidate_phrases(text: str) -> Iterable[list[str]]:
    stop = stopwords()
    for segment in _PHRASE_BREAK.split(text):
        phrase: list[str] = []
        for w in words(segment):
            if w.lower() in stop or len(w) < 2 or w.isdigit():
                if phrase:
                    yield phrase
                phrase = []
            else:
                phrase.append(w)
        if phrase:
            yield phrase


def keyphrases(title: str, body: str, *, limit: int) -> list[str]:
    """Entities and keyphrases found in the text, offline (RAKE-style word degree scores, with
    a bonus for capitalised names, acronyms and codes such as `BRCA1` or `IL-6`)."""
    text = f"{title}. {body}"
    phrases = [p[:4] for p in _candidate_phrases(text)]
    freq: Counter[str] = Counter()
    degree: Counter[str] = Counter()
    for p in phrases:
        for w in p:
            lw = w.lower()
            freq[lw] += 1
            degree[lw] += len(p)
    title_words = {w.lower() for w in words(title)}
    scores: dict[str, float] = {}
    surface: dict[str, str] = {}
    for p in phrases:
        key = " ".join(w.lower() for w in p)
        if len(key) > MAX_PHRASE_CHARS:
            continue
        score = sum(degree[w.lower()] / freq[w.lower()] for w in p)
        if any(any(c.isupper() for c in w[1:]) or any(c.isdigit() for c in w) for w in p):
            score *= 1.5  # acronyms, gene names, codes: the things exact matching cares about
        if any(w.lower() in title_words for w in p):
            score *= 1.3
        score *= 1 + 0.2 * min(freq[p[0].lower()], 5)
        if score > scores.get(key, 0.0):
            scores[key] = score
            surface[key] = " ".join(p)
    ranked = sorted(scores, key=lambda k: (-scores[k], k))
    out: list[str] = []
    for key in ranked:
        if len(out) >= limit:
            break
        if len(key) < 3 or any(key in o.lower() for o in out) or not shows_a_word(surface[key]):
            continue
        out.append(surface[key])
    return out
