"""Offline text helpers: sentence split, passage chunking, extractive summary, keyphrases."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-+/.]*[A-Za-z0-9+]|[A-Za-z0-9]")
_PHRASE_BREAK = re.compile(r"[,;:()\[\]{}\"!?]|\.\s|\s-\s|\n")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """English stopwords, the list bm25s ships (the same list the BM25 space uses)."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS  # the NLTK list, as in Qdrant/bm25

    return frozenset(w.lower() for w in STOPWORDS_EN_PLUS)


def sentences(text: str) -> list[str]:
    """Split text into sentences on end punctuation followed by a capital or digit."""
    text = " ".join(text.split())
    if not text:
        return []
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def chunk_passages(text: str, *, max_words: int, max_chunks: int) -> list[str]:
    """Group whole sentences into passages of at most `max_words` words (a long sentence is cut).

    Passages stay under the encoder's 256-token window (about 1.3 tokens a word), so a long body
    is covered by several vectors instead of being cut off at the window.
    """
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for sentence in sentences(text):
        tokens = sentence.split()
        while len(tokens) > max_words:  # a sentence longer than a passage is split on words
            if current:
                chunks.append(" ".join(current))
                current, count = [], 0
            chunks.append(" ".join(tokens[:max_words]))
            tokens = tokens[max_words:]
        if count + len(tokens) > max_words and current:
            chunks.append(" ".join(current))
            current, count = [], 0
        current.append(" ".join(tokens))
        count += len(tokens)
    if current:
        chunks.append(" ".join(current))
    return chunks[:max_chunks]


def _content_words(text: str) -> list[str]:
    stop = stopwords()
    return [w.lower() for w in words(text) if w.lower() not in stop and len(w) > 2]


def extractive_summary(title: str, body: str, *, max_sentences: int = 3, max_words: int = 80) -> str:
    """Pick the body's most central sentences (Luhn-style: frequent content words, title words
    count double), keep them in their original order."""
    sents = sentences(body)
    if len(sents) <= max_sentences:
        return " ".join(sents)
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
    return " ".join(picked)


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
        if len(key) < 3 or any(key in o.lower() for o in out):
            continue
        out.append(surface[key])
    return out
