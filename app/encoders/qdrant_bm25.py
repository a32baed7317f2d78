"""Qdrant's own BM25 (qdrant-edge-py's `Bm25`), in-process: sparse term weights for any script.

Its `Multilingual` tokenizer segments Chinese, Japanese and Thai (dictionary-based) and splits
every other script on Unicode word boundaries, so text written without spaces gets terms at all
(fastembed's `Qdrant/bm25` keeps a Chinese sentence as one token). English stopwords and the
English Snowball stemmer, as fastembed's model has them, so English ranks as before; other
languages are tokenised and lowercased but neither stemmed nor stopped. Qdrant applies IDF
(`Modifier.IDF`), as for fastembed's BM25. Both store adapters get identical vectors: they are
computed here, not in the store. The tokenizer drops a token of digits alone (`7731`, `3.14`); a
configuration with `numbers` adds a term for each number (`number_terms`). It reads a text as one language,
so Japanese inside text of another language (`We visited 東京の桜 last spring`) stays one unsegmented token,
and Korean inside Japanese is dropped; a configuration with `scripts` reads the Japanese (CJK) of such a text on its own
(`japanese_blocks`). Khmer, Lao, Myanmar and other scripts written without spaces between words are not segmented
(a run between spaces is one term); with `scripts` each character and each pair of neighbouring characters in
them is a term too (`grapheme_terms`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import regex

from app.encoders.vectors import SparseVec
from app.errors import EncoderFailed
from app.settings import EncoderSettings

# k, b and avg_len as fastembed's Qdrant/bm25 has them, so scores are on the same scale.
# `numbers`: each number in the text is a term too (keywords v3, migrations/0010).
MODELS: dict[str, dict[str, Any]] = {
    "bm25-multilingual-en": {"k": 1.2, "b": 0.75, "avg_len": 256.0, "language": "english"},
    "bm25-multilingual-numbers-en": {"k": 1.2, "b": 0.75, "avg_len": 256.0, "language": "english", "numbers": True},
    # `scripts`: each run of Japanese in text of another language is tokenised on its own (keywords v4, 0011)
    "bm25-multilingual-scripts-en": {"k": 1.2, "b": 0.75, "avg_len": 256.0, "language": "english", "numbers": True,
                                     "scripts": True},
}

# A number: a run of decimal digits of any script (Unicode Nd: ASCII, Arabic-Indic, Devanagari, ...), with
# `.` or `,` (or the Arabic decimal and thousands signs) between runs. Full-width digits are ASCII by then
# (keywords text is NFKC), and would map alike anyway.
NUMBER = re.compile(r"\d+(?:[.,\u066b\u066c]\d+)*")
# Each number is spelled as a token of consonants alone, tokenised on its own (English mode: appended
# to the text, a Latin token would tip a short Japanese text's language detection, and its words would
# no longer be segmented). The English stemmer leaves a word without vowels unchanged and no stopword
# is one; no real word starts `zq` (none in SciFact's or CISI's corpora) and a code with digits
# (`N95`) cannot be one. Digits (their decimal value, whatever the script) and the two separators are
# spelled by distinct letters, so `3.14`, `3,14` and `314` are three terms.
NUMBER_PREFIX = "zq"
DIGIT_LETTERS = "bcdfghjkmn"  # 0-9
SEPARATOR_LETTERS = {".": "p", "\u066b": "p", ",": "r", "\u066c": "r"}


def number_terms(text: str) -> list[str]:
    """The token each number in `text` is spelled as, in order, one per occurrence.

    `7731` -> `zqkkfc`, `٧٧٣١` (Arabic-Indic) -> the same, `3.14` -> `zqfpcg`, `3,14` -> `zqfrcg`; a
    number inside a code or beside a unit counts too (`QX-7731`, `COVID-19`, `5mg`, `p53`, `1987年`).
    """
    return [NUMBER_PREFIX + "".join(SEPARATOR_LETTERS.get(c) or DIGIT_LETTERS[unicodedata.decimal(c)] for c in m)
            for m in NUMBER.findall(text)]


# Han characters (CJK ideographs, their extensions and compatibility forms, and the marks written inside kanji
# words: U+3005 (々) repeats the kanji before it, U+3006 and U+3007), and the scripts that tell Japanese
# or Korean apart from Chinese (kana, half-width katakana, hangul).
HAN = re.compile("[\u3005-\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
KANA_OR_HANGUL = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
# The characters of Chinese and Japanese text: Han, kana (half-width too) and the CJK marks (。「」ー・々); and a
# kana letter (hiragana, katakana, half-width katakana; not ー or ・, which also appear beside other scripts).
# Kana of the supplement blocks too (hentaigana, archaic and small kana, U+1B000-1B16F: a tester's 生𛂦𛂁を食べました
# was split as Japanese beside another script).
CJK = re.compile("[\u3005-\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
                 "\u3000-\u30ff\u31f0-\u31ff\uff66-\uff9f\U0001b000-\U0001b16f]+")
KANA_LETTER = re.compile("[\u3041-\u3096\u30a1-\u30fa\u31f0-\u31ff\uff66-\uff9d\U0001b000-\U0001b16f]")
# A Japanese particle: after it, the tokenizer reads Han-only text as Japanese (its own terms are then dropped).
JAPANESE_HINT = "\u306e"  # の


def japanese_blocks(text: str) -> list[str] | None:
    """The parts of `text` to tokenise one by one, so that each is read in its own language: its Chinese and
    Japanese characters (each run, a space between), then the rest (a space where each run was). None, and the
    text is read whole as before, when it holds no kana letter (no Japanese: Chinese beside other scripts is
    segmented either way) or nothing with letters but its CJK (Japanese or Chinese alone, whatever its
    punctuation).

    The tokenizer detects one language per text: `We visited 東京の桜が満開です last spring` (or the same in
    Russian, Arabic, Thai, Korean, ...) read as English keeps the Japanese as one token, so `桜` and `満開`
    were not terms; `東京の桜が満開です 서울은 한국의 수도입니다` read as Japanese drops the Korean. Its CJK
    read together is detected as a text of CJK alone is: Japanese, or Chinese holding a Japanese word.
    """
    if not KANA_LETTER.search(text):
        return None
    other = CJK.sub(" ", text)
    if not any(c.isalpha() for c in other):
        return None
    return [" ".join(CJK.findall(text)), other]


# Scripts written without spaces between words that the tokenizer does not segment (Thai, Chinese and Japanese it
# does), and Tibetan, whose syllables it splits at the tsheg only in a text it reads as Tibetan (beside an English
# title, `བོད` was no term: a break test): a run of their letters and marks; digits (numbers are terms),
# punctuation and symbols (`។`, `၊`, `။`, `၏`: a tester found `ត្រី។` a term) apart.
UNSPACED = regex.compile(r"(?:(?![\d\p{P}\p{S}])[\p{Khmer}\p{Lao}\p{Myanmar}\p{Tai_Tham}\p{New_Tai_Lue}\p{Tai_Le}"
                         r"\p{Tai_Viet}\p{Javanese}\p{Balinese}\p{Buginese}\p{Tibetan}])+")
GRAPHEME = regex.compile(r"\X")
# The same scripts' blocks, for a cheap test first (`re` in C: most texts hold none, and `UNSPACED` cost English
# documents a fifth more encoding time)
UNSPACED_BLOCKS = re.compile("[\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u1950-\u19ff\u1a00-\u1aaf\u1b00-\u1b7f"
                             "\ua980-\ua9ff\uaa60-\uaadf\u0f00-\u0fff]")


def grapheme_terms(text: str) -> list[str]:
    """Each character (an extended grapheme cluster: a consonant with its signs) and each pair of neighbouring
    characters of every run of a script written without spaces that the tokenizer leaves whole, in order, one
    per occurrence (as Lucene's CJK bigrams with their unigrams).

    `ប្រាសាទអង្គរវត្ត` (Khmer, one token to the tokenizer, so `ប្រាសាទ` found nothing: a break test) gives
    `ប្រា`, `សា`, ... and `ប្រាសា`, `សាទ`, ...: a word inside it shares all its pairs with it, and a word of one
    character (`ភ្នំ`, mountain; `ខ្ញុំ`, I: many are) its character. A run of one character gives none (it is
    its own token already).
    """
    out: list[str] = []
    if not UNSPACED_BLOCKS.search(text):
        return out
    for run in UNSPACED.findall(text):
        chars = GRAPHEME.findall(run)
        if len(chars) > 1:
            out += [*chars, *("".join(chars[i:i + 2]) for i in range(len(chars) - 1))]
    return out


class QdrantBm25Encoder:
    """`qdrant_edge.Bm25` behind the sparse encoder interface: document TF weights, query terms 1.0."""

    kind = "sparse"
    dim = None

    def __init__(self, name: str, model: Any, counts: Any = None,
                 params: tuple[float, float, float] = (1.2, 0.75, 256.0), *, scripts: bool = False) -> None:
        """`counts`: the same tokenizer with b = 0 (its weights give each term's count), for a configuration
        with `numbers` (required with `scripts`); `params`: k, b and avg_len, with which the counts are
        weighed; `scripts`: a text mixing Japanese with another script is also read in parts
        (`japanese_blocks`), and its terms are those of both readings."""
        self.name = name
        self._model = model
        self._counts = counts
        self._k, self._b, self._avg_len = params
        self._scripts = scripts

    def _grapheme_terms(self, text: str) -> str:
        """With `scripts`, the characters and pairs of a script left unsegmented (`grapheme_terms`), as tokens to
        tokenise on their own; else none."""
        return " ".join(grapheme_terms(text)) if self._scripts else ""

    def _blocks(self, text: str) -> list[str]:
        """The parts of `text` read apart (`japanese_blocks`; with `scripts` only), none when it is read whole."""
        return (japanese_blocks(text) if self._scripts else None) or []

    @staticmethod
    def _convert(vec: Any) -> SparseVec:
        pairs = sorted(zip(vec.indices, vec.values, strict=True))
        return SparseVec(tuple(int(i) for i, _ in pairs), tuple(float(v) for _, v in pairs))

    def embed(self, texts: Sequence[str]) -> list[SparseVec]:
        """One sparse vector per text, in order: term ids (sorted) -> BM25 term-frequency weights (no IDF)."""
        if self._counts is None:
            return [self._convert(self._model.embed_document(t)) for t in texts]
        return [self._with_numbers(t) for t in texts]

    def _term_counts(self, text: str) -> dict[int, int]:
        # with b = 0 a weight is tf (k + 1) / (tf + k), so tf = w k / (k + 1 - w), an integer
        if not text:  # no numbers, no unsegmented script: most texts (a tokenizer call saved each)
            return {}
        vec, k = self._counts.embed_document(text), self._k
        return {int(i): round(w * k / (k + 1 - w)) for i, w in zip(vec.indices, vec.values, strict=True)}

    def _with_numbers(self, text: str) -> SparseVec:
        """The text's terms and its numbers' terms counted together and weighed as Qdrant's BM25 weighs a
        document (tf (k + 1) / (tf + k (1 - b + b len / avg_len)), len = its count of terms).

        With `scripts`, a text mixing Japanese with another script is read whole and in parts: each term counts
        as often as the reading holding it most, so it keeps every term of the whole reading (v3's: the
        tokenizer splits `pH7` or `Windows11` as Japanese and as English differently, and reads `去IKEA买家具`
        as Chinese whole and `去 买家具` as Japanese) and gains those of the parts (`桜` in `We visited
        東京の桜が満開です`)."""
        tf = self._term_counts(text)
        parts: dict[int, int] = {}
        for block in self._blocks(text):
            for i, n in self._term_counts(block).items():
                parts[i] = parts.get(i, 0) + n
        for i, n in parts.items():
            tf[i] = max(tf.get(i, 0), n)
        for i, n in self._term_counts(" ".join(number_terms(text))).items():
            tf[i] = tf.get(i, 0) + n
        # a document is as long as its words: the characters and pairs of an unsegmented script do not lengthen
        # it (counted, they made a Khmer article's other words weigh a third: `covid` 0.56 against v3's 1.61)
        norm = self._k * (1 - self._b + self._b * sum(tf.values()) / self._avg_len)
        for i, n in self._term_counts(self._grapheme_terms(text)).items():
            tf[i] = tf.get(i, 0) + n
        ids = tuple(sorted(tf))
        return SparseVec(ids, tuple(tf[i] * (self._k + 1) / (tf[i] + norm) for i in ids))

    def embed_query(self, text: str) -> SparseVec:
        """The query's terms (tokenised, stemmed and stopped as documents are), each weighted 1.0.

        Text whose only CJK script is Han (`東京大学`, `COVID 東京`) reads as Chinese, whose terms the tokenizer
        takes from the characters' readings, while a Japanese document's kanji are terms as written: each run
        of Han in such a query also gives its Japanese reading's terms, so it finds both (a document matches
        the terms of the language it was written in; each term still weighs 1.0)."""
        terms = {i for block in [text, *self._blocks(text)] for i in self._model.embed_query(block).indices}
        if self._counts is not None:  # the numbers' and characters' terms, tokenised on their own (as documents')
            terms |= {i for extra in (" ".join(number_terms(text)), self._grapheme_terms(text)) if extra
                      for i in self._model.embed_query(extra).indices}
        if not KANA_OR_HANGUL.search(text):
            runs = HAN.findall(text)  # each run of Han read as Japanese (beside Latin, the hint alone is not enough)
            hint = set(self._model.embed_query(JAPANESE_HINT).indices) if runs else set()
            for run in runs:
                terms |= set(self._model.embed_query(run + JAPANESE_HINT).indices) - hint
        ids = tuple(sorted(int(i) for i in terms))
        return SparseVec(ids, (1.0,) * len(ids))


def load(name: str, settings: EncoderSettings) -> QdrantBm25Encoder:
    """The named configuration of Qdrant's BM25 (see `MODELS`).

    Raises:
        EncoderFailed: an unknown name, or a configuration the installed qdrant-edge-py refuses.
    """
    del settings  # nothing to assemble or batch: the model is a tokenizer and a formula
    if name not in MODELS:
        raise EncoderFailed(f"unknown qdrant-bm25 model {name!r}; known: {sorted(MODELS)}")
    import qdrant_edge as q

    cfg = MODELS[name]
    try:
        def model(b: float) -> Any:
            return q.Bm25(q.Bm25Config(k=cfg["k"], b=b, avg_len=cfg["avg_len"],
                                       tokenizer=q.TokenizerType.Multilingual, language=cfg["language"]))

        counts = model(0.0) if cfg.get("numbers") else None
        return QdrantBm25Encoder(name, model(cfg["b"]), counts, (cfg["k"], cfg["b"], cfg["avg_len"]),
                                 scripts=bool(cfg.get("scripts")))
    except ValueError as e:
        raise EncoderFailed(f"could not configure qdrant-bm25 model {name!r}: {e}") from e
