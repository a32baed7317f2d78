"""What counts as blank text: nothing visible, whatever the characters."""

from __future__ import annotations

import pytest

from app.domain.text import blank


@pytest.mark.parametrize("text", ["", " ", "\t\n", "\u200b", "\u200c\u200d", "\u2060", "\ufeff", "\u00ad", "\u00a0",
                                  "\u2028\u2029", "\u3000", "\u200e\u200f", " \u200b \ufeff ",
                                  # letters, marks and symbols that draw nothing
                                  "\u3164", "\u115f\u1160", "\uffa0", "\u17b4\u17b5", "\ufe0f", "\U000e0100",
                                  "\u2800", "\u034f", "\u180b\u180c\u180d\u180f", "\U00016fe4",
                                  "\u1680"])  # the Ogham space mark: a space to str.split, so no passage either
def test_text_that_shows_nothing_is_blank(text: str) -> None:
    assert blank(text)


@pytest.mark.parametrize("text", ["a", "é", "e\u0301", "中", "\u0301", "-", "0", "\u200bx", "🙂", "\u0627",
                                  # format or space characters with a glyph: Arabic number sign, end of ayah,
                                  # Syriac abbreviation mark, Kaithi number sign
                                  "\u0600", "\u06dd", "\u070f", "\U000110bd", "\u2764\ufe0f"])
def test_any_visible_character_is_content(text: str) -> None:
    assert not blank(text)


def test_a_45000_word_english_body_is_within_the_default_limits() -> None:
    """The issue's long body, with long English words (9.75 characters a word with its space; English
    averages about 6)."""
    from app.domain.bounds import document_problem
    from app.domain.documents import Document
    from app.settings import LimitSettings

    words = ["parliamentary", "committee", "considered", "the", "amendment", "regarding", "municipal", "drainage"]
    body = " ".join(words[i % len(words)] for i in range(45_000)) + ". The quokka sang in the orchestra."
    assert len(body) > 300_000
    assert document_problem(Document(id="long", title="Minutes", body=body), "documents[0]", LimitSettings()) is None
