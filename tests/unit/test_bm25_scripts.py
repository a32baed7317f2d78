# ruff: noqa: RUF001, RUF003  (text and punctuation in other scripts are what these tests are about)
"""keywords v4 (`bm25-multilingual-scripts-en`): a text's words are terms whatever other language surrounds
them. The tokenizer reads a text as one language: v3 kept Japanese inside text of any other language as one
unsegmented token, and dropped Korean (and short English) beside Japanese. v4 reads each run of Japanese on
its own; every other text gets exactly v3's vector."""

from __future__ import annotations

import itertools

import pytest

from app.domain.text import nfkc
from app.encoders.qdrant_bm25 import QdrantBm25Encoder, grapheme_terms, japanese_blocks, load
from app.settings import EncoderSettings

# one short sentence per language: the scripts the tokenizer segments (Chinese, Japanese, Thai), spaced
# scripts with and without case, accents and a right-to-left script
SENTENCES = {
    "en": "cherry blossoms bloom early", "fr": "la crème brûlée est délicieuse", "de": "Die Straßenbahn fährt langsam",
    "vi": "Hà Nội là thủ đô của Việt Nam", "ru": "Москва столица России", "el": "Η Αθήνα είναι πρωτεύουσα",
    "ar": "القاهرة عاصمة مصر", "he": "ירושלים היא עיר עתיקה", "hi": "भारत की राजधानी नई दिल्ली है",
    "th": "ภาษาไทยเป็นภาษาที่สวยงาม", "ko": "서울은 한국의 수도입니다", "zh": "北京烤鸭的传统制作方法",
    "ja": "東京の桜が満開です", "ja-kana": "ラーメンを食べました",
}
# Chinese written right beside Japanese is one run of CJK, read as Japanese (its Han cannot be told apart from
# kanji); a Han-only query is also read both ways (test_bm25_numbers, test_scripts), so it still matches
AMBIGUOUS = {frozenset({"zh", "ja"}), frozenset({"zh", "ja-kana"})}
PAIRS = [(a, b) for a, b in itertools.permutations(SENTENCES, 2) if frozenset({a, b}) not in AMBIGUOUS]

# scripts written without spaces that the tokenizer leaves whole: a sentence, and a word inside it (a tester:
# Khmer, Lao and Burmese words were never terms of their own, in v3 and the first v4 alike)
UNSEGMENTED = {"km": ("ប្រាសាទអង្គរវត្តជាប្រាសាទដ៏ធំបំផុតនៅកម្ពុជា", "ប្រាសាទ"),
               "lo": ("ພາສາລາວເປັນພາສາທີ່ງາມຫຼາຍ", "ພາສາ"),
               "my": ("မြန်မာနိုင်ငံသည်အလွန်လှပသောနိုင်ငံဖြစ်သည်", "မြန်မာ"),
               "jv": ("ꦧꦱꦗꦮꦲꦸꦩꦸꦩ꧀", "ꦧꦱꦗꦮ"),
               # Tibetan: split at the tsheg only when the text reads as Tibetan, not beside Latin (a break test)
               "bo": ("བོད་ཡིག་ནི་ཡིག་གཟུགས་ཡིན།", "བོད")}


@pytest.fixture(scope="module")
def v4() -> QdrantBm25Encoder:
    return load("bm25-multilingual-scripts-en", EncoderSettings())


@pytest.fixture(scope="module")
def v3() -> QdrantBm25Encoder:
    return load("bm25-multilingual-numbers-en", EncoderSettings())


def terms(encoder: QdrantBm25Encoder, text: str) -> set[int]:
    return set(encoder.embed([nfkc(text)])[0].indices)


def missing(encoder: QdrantBm25Encoder, host: str, guest: str) -> list[str]:
    """Which sentence's own terms are not all terms of `guest` inside `host`, or of `guest` before `host`."""
    lost = []
    for text in (f"{SENTENCES[host]} {SENTENCES[guest]} {SENTENCES[host]}", f"{SENTENCES[guest]} {SENTENCES[host]}"):
        mixed = terms(encoder, text)
        lost += [lang for lang in (host, guest) if not terms(encoder, SENTENCES[lang]) <= mixed]
    return lost


@pytest.mark.parametrize(("host", "guest"), PAIRS)
def test_each_languages_words_are_terms_whatever_surrounds_them(v4: QdrantBm25Encoder, host: str,
                                                                guest: str) -> None:
    assert missing(v4, host, guest) == []


def test_v3_lost_japanese_in_every_other_language_and_korean_beside_japanese(v3: QdrantBm25Encoder) -> None:
    lost = {(h, g) for h, g in PAIRS if missing(v3, h, g)}
    assert {(h, "ja") for h in SENTENCES if h not in ("ja", "zh", "ja-kana")} <= lost
    assert ("ja", "ko") in lost and ("ko", "ja") in lost


# Japanese or Chinese alone, whatever its punctuation: NFKC makes full-width `！？（）：，` ASCII, which must not
# cut kanji off the Japanese around them (a break test: `東京大学を目指す` then no longer found its document)
CJK_ALONE = ["東京大学！京都大学？どちらに進学しますか", "国立国会図書館（東京都千代田区）の蔵書を検索しました。",
             "第一章，東京帝国大学。明治時代の教育制度について", "会議：新型感染症対策本部、議事録を公開しました",
             "漂亮的餐厅，服务员很热情，价格也很便宜。店名叫ラーメン一蘭。", "我们吃了ラーメン。价格也很便宜。"]


@pytest.mark.parametrize("text", [*SENTENCES.values(), *CJK_ALONE, "北京烤鸭 is famous",
                                  "東京の桜が満開です。京都の紅葉も美しい。", "items ・ apples ー pears",
                                  "Order QX-7731 shipped in 2024", "", "東京大学 (University of Tokyo)"])
def test_text_without_japanese_beside_another_language_gets_v3s_vector(v3: QdrantBm25Encoder,
                                                                        v4: QdrantBm25Encoder, text: str) -> None:
    assert japanese_blocks(nfkc(text)) is None
    assert v4.embed([nfkc(text)]) == v3.embed([nfkc(text)])
    assert v4.embed_query(nfkc(text)) == v3.embed_query(nfkc(text))


def test_the_blocks_are_the_cjk_read_together_and_the_rest_with_its_word_boundaries() -> None:
    assert japanese_blocks("We visited 東京の桜が満開です last spring") == [
        "東京の桜が満開です", "We visited   last spring"]
    assert japanese_blocks("iPhoneを買いました") == ["を買いました", "iPhone "]
    assert japanese_blocks("2024年3月に東京へ行った, in 2024") == ["年 月に東京へ行った", "2024 3 , in 2024"]
    # kanji beside a Latin word stay with the Japanese (read as Japanese, not as Chinese beside English)
    assert japanese_blocks(nfkc("株式会社日本電気（NEC）は東京にある")) == ["株式会社日本電気 は東京にある", " (NEC) "]


def test_counts_and_length_are_the_whole_texts(v4: QdrantBm25Encoder) -> None:
    """Each block's terms are counted once and the document is weighed by its whole length, as one text is:
    a repeated word weighs more, and the same words in a longer text weigh less."""
    one, two = (v4.embed([f"{n} 東京の桜が満開です cherry"])[0] for n in ("tea", "tea tea"))
    tea = set(one.indices) & set(two.indices) - terms(v4, "東京の桜が満開です cherry")
    (i,) = tea
    assert dict(zip(two.indices, two.values, strict=True))[i] > dict(zip(one.indices, one.values, strict=True))[i]
    long = v4.embed([f"tea 東京の桜が満開です cherry {'word ' * 40}"])[0]
    assert dict(zip(long.indices, long.values, strict=True))[i] < dict(zip(one.indices, one.values, strict=True))[i]


def test_a_query_mixing_languages_finds_each_part(v4: QdrantBm25Encoder, v3: QdrantBm25Encoder) -> None:
    doc = terms(v4, "Notes from our trip: 東京の桜が満開です and the ramen was great")
    query = set(v4.embed_query(nfkc("桜 満開 ramen")).indices)
    assert query & doc and len(query & doc) >= 3
    parts = set(v4.embed_query("東京の桜").indices) | set(v4.embed_query("ramen").indices)
    assert parts <= set(v4.embed_query(nfkc("東京の桜 ramen")).indices) and parts <= doc
    assert not set(v3.embed_query(nfkc("東京の桜")).indices) <= terms(v3, "Notes: 東京の桜が満開です and ramen")


# texts a tester found where reading the parts alone lost a term the whole reading (v3) had: the tokenizer splits
# letters from digits in Japanese (`pH` + `7`) but not in English (`ph7`), and reads Chinese with の as Chinese
# beside a Latin word, as Japanese without it (`家具` became `家` + `具`)
LOST_BY_PARTS = {"pH7の溶液は中性です。": ["pH", "pH7"], "Windows11の更新を確認してください": ["Windows", "Windows11"],
                 "容量は16GBで重さは5kgです": ["GB", "kg", "5kg"], "PM2.5の濃度が上がった": ["PM", "PM2.5"],
                 "周末の计划:去IKEA买家具,然后看电影。": ["家具", "IKEA"],
                 "我の家在北京,T恤价格很便宜": ["价格", "T恤"]}


@pytest.mark.parametrize("text", list(LOST_BY_PARTS))
def test_every_term_of_v3_is_kept_and_its_queries_still_match(v3: QdrantBm25Encoder, v4: QdrantBm25Encoder,
                                                              text: str) -> None:
    assert japanese_blocks(nfkc(text)) is not None  # read in parts
    assert terms(v3, text) <= terms(v4, text)
    for query in LOST_BY_PARTS[text]:
        matched = (set(enc.embed_query(nfkc(query)).indices) & terms(enc, text) for enc in (v3, v4))
        assert len(next(matched)) <= len(next(matched)), query


@pytest.mark.parametrize("text", [*SENTENCES.values(), *CJK_ALONE, *LOST_BY_PARTS,
                                  *(sentence for sentence, _ in UNSEGMENTED.values()),
                                  *(f"{a} {b}" for a, b in itertools.permutations(SENTENCES.values(), 2))])
def test_v4_holds_every_document_and_query_term_of_v3(v3: QdrantBm25Encoder, v4: QdrantBm25Encoder,
                                                      text: str) -> None:
    assert terms(v3, text) <= terms(v4, text)
    assert set(v3.embed_query(nfkc(text)).indices) <= set(v4.embed_query(nfkc(text)).indices)


@pytest.mark.parametrize("lang", list(UNSEGMENTED))
def test_a_word_inside_a_run_of_an_unsegmented_script_shares_its_terms_with_it(
        v3: QdrantBm25Encoder, v4: QdrantBm25Encoder, lang: str) -> None:
    sentence, word = UNSEGMENTED[lang]
    for text in (sentence, f"We read {sentence} in 2019."):
        doc = terms(v4, text)
        query = set(v4.embed_query(nfkc(word)).indices)
        assert query & doc and len(query - doc) <= 1, lang  # every pair of the word; only its whole token missing
        if lang != "bo" or text != sentence:  # v3: the run was one term (Tibetan alone it split)
            assert not set(v3.embed_query(nfkc(word)).indices) & terms(v3, text)


def test_terms_are_characters_with_their_signs_and_pairs_and_a_single_character_gives_none() -> None:
    # ប្រា: a consonant, its subscript and its vowel
    assert grapheme_terms("ប្រាសាទ") == ["ប្រា", "សា", "ទ", "ប្រាសា", "សាទ"]
    assert grapheme_terms("ក") == [] and grapheme_terms("Angkor Wat 2024") == []
    assert grapheme_terms("ក ខ") == [] and grapheme_terms("កខ ១២៣ គឃ") == ["ក", "ខ", "កខ", "គ", "ឃ", "គឃ"]
    # punctuation and symbols are not characters of a word: `ត្រី។` was a term, found by `ត្រី` only before a ។
    assert grapheme_terms("ខ្ញុំទិញត្រី។") == grapheme_terms("ខ្ញុំទិញត្រី") and "ត្រី។" not in grapheme_terms("ខ្ញុំទិញត្រី។")
    assert all("။" not in t and "၏" not in t for t in grapheme_terms("မြို့၏ရေ။"))


# a word of one character (a consonant with its signs) inside a run: many everyday Khmer and Burmese words are
# (a tester: ខ្ញុំ, ភ្នំ, ថ្មី, ធំ and ရေ found nothing, as in v3)
ONE_CHARACTER = [("រាជធានីភ្នំពេញមានប្រជាជនច្រើន", "ភ្នំ"), ("ខ្ញុំទៅផ្សារជាមួយម្ដាយ", "ខ្ញុំ"),
                 ("ផ្ទះនេះថ្មីណាស់", "ថ្មី"), ("ខ្ញុំទិញត្រីនិងបន្លែ", "ត្រី"), ("ကျွန်တော်ရေသောက်သည်", "ရေ")]


@pytest.mark.parametrize(("text", "word"), ONE_CHARACTER)
def test_a_word_of_one_character_inside_a_run_is_a_term_of_it(v3: QdrantBm25Encoder, v4: QdrantBm25Encoder,
                                                                text: str, word: str) -> None:
    assert set(v4.embed_query(word).indices) <= terms(v4, text)
    assert not set(v3.embed_query(word).indices) & terms(v3, text)


def test_the_characters_and_pairs_do_not_lengthen_the_document(v3: QdrantBm25Encoder, v4: QdrantBm25Encoder) -> None:
    """Counted in its length, they made a Khmer article's other words weigh a third of v3's (`covid` 0.56 against
    1.61, a tester): the article then ranked below an English one for `COVID-19`. Its words weigh as in v3."""
    article = "ការរាតត្បាតនៃជំងឺ covid បានធ្វើឱ្យប្រទេសកម្ពុជាបិទសាលារៀនទាំងអស់ " * 20
    (old,), (new,) = v3.embed([article]), v4.embed([article])
    [covid] = set(v3.embed_query("covid").indices)
    weight = {enc: dict(zip(vec.indices, vec.values, strict=True))[covid] for enc, vec in (("v3", old), ("v4", new))}
    assert weight["v4"] == pytest.approx(weight["v3"], rel=1e-9)


def test_hentaigana_is_kana_so_japanese_alone_keeps_its_vector(v3: QdrantBm25Encoder, v4: QdrantBm25Encoder) -> None:
    text = "生\U0001b0a6\U0001b081を食べました"  # old kana (hentaigana) beside modern kana and kanji: Japanese alone
    assert japanese_blocks(text) is None and v4.embed([text]) == v3.embed([text])
