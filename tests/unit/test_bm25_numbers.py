# ruff: noqa: RUF001  (digits and text of other scripts are the point)
"""keywords v3 (`bm25-multilingual-numbers-en`): each number is a term, whatever its digits, beside whatever
it is written, and a text without a number is encoded exactly as v2 encodes it."""

from __future__ import annotations

import pytest

from app.domain.text import nfkc
from app.encoders.qdrant_bm25 import QdrantBm25Encoder, load, number_terms
from app.settings import EncoderSettings


@pytest.fixture(scope="module")
def v3() -> QdrantBm25Encoder:
    return load("bm25-multilingual-numbers-en", EncoderSettings())


@pytest.fixture(scope="module")
def v2() -> QdrantBm25Encoder:
    return load("bm25-multilingual-en", EncoderSettings())


# text -> the numbers it holds, each written as it would be alone in ASCII digits
KINDS = {
    "order 7731": ["7731"], "in 1987": ["1987"], "pi is 3.14": ["3.14"], "pi is 3,14": ["3,14"],
    "valve QX-7731": ["7731"], "COVID-19": ["19"], "IL-6 signalling": ["6"], "QX7731 and p53": ["7731", "53"],
    "a dose of 5mg": ["5"], "10 km": ["10"], "ISO 9001": ["9001"], "error 404.": ["404"],
    "طلب رقم ٧٧٣١": ["7731"], "٣٫١٤": ["3.14"], "आदेश ७७३१": ["7731"], "１９８７年": ["1987"],
    "1987年に東京で": ["1987"], "第3章": ["3"], "2024-01-15": ["2024", "01", "15"], "version 1.2.3": ["1.2.3"],
    "order 007": ["007"], "in the 1980s": ["1980"], "the 3rd": ["3"], "งาน ๗๗๓๑": ["7731"], "১৯৮৭": ["1987"],
    "x² and ①": ["2", "1"], "ISBN 978-3-16": ["978", "3", "16"], "no number here": [],
    # an exponent is its own number, as a user types it (`10^3`), not run into the base (`103`: a break test)
    "10³ cells": ["10", "3"], "2 × 10⁶ per ml": ["2", "10", "6"], "10⁻³ M": ["10", "3"],
}


def test_an_exponent_matches_what_a_user_types_for_it_and_not_the_number_it_would_run_into(
        v3: QdrantBm25Encoder) -> None:
    doc = set(v3.embed([nfkc("a stock of 10³ units")])[0].indices)
    assert set(v3.embed_query(nfkc("10^3")).indices) <= doc
    assert not set(v3.embed_query(nfkc("103")).indices) & doc


@pytest.mark.parametrize("text", list(KINDS))
def test_each_number_is_spelled_as_it_would_be_alone(text: str) -> None:
    expected = [t for n in KINDS[text] for t in number_terms(n)]
    assert number_terms(nfkc(text)) == expected and len(expected) == len(KINDS[text])


def test_separators_and_leading_zeros_make_different_terms() -> None:
    forms = ["314", "3.14", "3,14", "31.4", "0314", "3.140"]
    assert len({number_terms(f)[0] for f in forms}) == len(forms)


def test_every_spelled_number_is_one_term_of_its_own(v3: QdrantBm25Encoder) -> None:
    """No stemming, no stopword and no two numbers on one term (0-2999 and the decimals 0.0-29.99).

    A term id is the murmur3 hash of the token the stemmer leaves (`running` is the term `run`), so a
    spelled number whose id is its own hash went through unchanged (fastembed's mmh3 computes it)."""
    import mmh3

    def term(token: str) -> tuple[int, ...]:
        return tuple(v3._model.embed_query(token).indices)

    assert term("running") == (abs(mmh3.hash("run")),)  # the stemmer is on
    numbers = [str(i) for i in range(3000)] + [f"{i}.{j}" for i in range(30) for j in range(100)]
    tokens = [number_terms(n)[0] for n in numbers]
    assert all(term(t) == (abs(mmh3.hash(t)),) for t in tokens)
    assert len({term(t) for t in tokens}) == len(numbers)


@pytest.mark.parametrize("text", ["order 7731", "QX-7731 valve", "٧٧٣١", "1987年に東京で会議", "ratio 3.14"])
def test_the_query_and_the_document_hold_the_number_and_every_v2_term(
        v3: QdrantBm25Encoder, v2: QdrantBm25Encoder, text: str) -> None:
    number = set(v3._model.embed_query(" ".join(number_terms(text))).indices)
    query, old_query = set(v3.embed_query(text).indices), set(v2.embed_query(text).indices)
    assert number and query == old_query | number and not number & old_query
    (doc,), (old_doc,) = v3.embed([text]), v2.embed([text])
    assert set(doc.indices) == set(old_doc.indices) | number
    assert set(v3.embed_query(text).values) == {1.0}


@pytest.mark.parametrize("text", ["東京大学の研究", "京都の桜 2024", "서울 2024 연구", "北京烤鸭 1987"])
def test_a_short_cjk_text_keeps_its_words_beside_its_number(v3: QdrantBm25Encoder, v2: QdrantBm25Encoder,
                                                           text: str) -> None:
    """The numbers are tokenised on their own: appended to the text, Latin letters would tip a short
    Japanese text's language detection and its words would no longer be segmented."""
    assert set(v2.embed_query(text).indices) <= set(v3.embed_query(text).indices)
    assert set(v2.embed([text])[0].indices) <= set(v3.embed([text])[0].indices)


def test_a_text_without_a_number_is_encoded_as_v2_encodes_it(v3: QdrantBm25Encoder, v2: QdrantBm25Encoder) -> None:
    texts = ["Sourdough starters ferment slowly in the cold.", "北京烤鸭的传统制作方法", "", "the a of"]
    for new, old in zip(v3.embed(texts), v2.embed(texts), strict=True):
        assert new.indices == old.indices and new.values == pytest.approx(old.values, rel=1e-6)
    assert v3.embed_query(texts[0]) == v2.embed_query(texts[0])


def test_a_number_counts_in_the_term_frequencies_and_the_length(v3: QdrantBm25Encoder,
                                                               v2: QdrantBm25Encoder) -> None:
    """Weighed as Qdrant's BM25 weighs a word: the same vector as v2 gives the text with the number spelled."""
    spelled = " ".join(number_terms("7731 7731"))
    (new,), (old,) = v3.embed(["valve 7731 checked, 7731 again"]), v2.embed([f"valve {spelled} checked, again"])
    assert new.indices == old.indices and new.values == pytest.approx(old.values, rel=1e-6)
