# ruff: noqa: RUF001  (Arabic-Indic and full-width digits are the point)
"""Numbers are `keywords` terms (v3, `bm25-multilingual-numbers`), on both adapters with the real encoders:
the document holding `QX-7731`, a year, a decimal or an Arabic-Indic number is the first keywords hit for it
among documents holding its near misses. The same corpus is indexed by v2 (`bm25-multilingual`) beside it,
as a second sparse space: there every near miss scores exactly as the right document (the tokenizer drops
the number), and a query with no number ranks the same documents in the same order in both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.services.search import SearchRequest
from app.settings import SpaceSettings, default_spaces
from tests.conftest import STORE_KINDS, make_settings, to_documents
from tests.fixtures import DOCS

FILLER = "The part was logged by the maintenance crew at the northern station during the spring inspection."


def doc(doc_id: str, title: str, body: str = FILLER) -> dict[str, str]:
    return {"id": doc_id, "title": title, "body": body}


# Each group: the document to find, and near misses sharing every word and differing in the number only.
NUMBERS = [
    doc("code", "Valve QX-7731 replaced"), doc("code-7730", "Valve QX-7730 replaced"),
    doc("code-7732", "Valve QX-7732 replaced"), doc("code-77310", "Valve QX-77310 replaced"),
    doc("code-qy", "Valve QY-7731 replaced"),
    doc("year", "Library survey of 1987", "Reading habits were surveyed in the county libraries."),
    doc("year-1986", "Library survey of 1986", "Reading habits were surveyed in the county libraries."),
    doc("year-1988", "Library survey of 1988", "Reading habits were surveyed in the county libraries."),
    doc("decimal", "Pump ratio 3.14 measured", "The flow ratio was measured on the test bench."),
    doc("decimal-314", "Pump ratio 314 measured", "The flow ratio was measured on the test bench."),
    doc("decimal-315", "Pump ratio 3.15 measured", "The flow ratio was measured on the test bench."),
    doc("decimal-comma", "Pump ratio 3,14 measured", "The flow ratio was measured on the test bench."),
    doc("arabic", "طلب رقم ٧٧٣١", "تم شحن الطلب إلى العميل في الموعد."),
    doc("arabic-7730", "طلب رقم ٧٧٣٠", "تم شحن الطلب إلى العميل في الموعد."),
    doc("arabic-7732", "طلب رقم ٧٧٣٢", "تم شحن الطلب إلى العميل في الموعد."),
]
# query -> the document to find first; its near misses are the other documents of its group
FOUND = {"QX-7731": "code", "QX 7731": "code", "qx-7731 ": "code", "ＱＸ－７７３１": "code",
         "library survey 1987": "year", "ratio 3.14": "decimal", "ratio 3,14": "decimal-comma",
         "طلب ٧٧٣١": "arabic"}
NO_NUMBER = ["sourdough starter", "valve replaced at the northern station", "library survey reading habits",
             "pump flow ratio measured"]


def group_of(doc_id: str) -> str:
    return doc_id.split("-")[0]


@pytest.fixture(scope="module", params=STORE_KINDS)
def services(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, model_cache: Path,
             encoders: EncoderPool) -> Iterator[Services]:
    """The default spaces (keywords v4: v3 and its numbers) and keywords v2 beside them as `kw2`, over the
    fixture corpus and the number documents, on one adapter; the tests only read."""
    v2 = SpaceSettings(name="kw2", field="keywords", kind="sparse", model="bm25-multilingual", version=2)
    settings = make_settings(request.param, tmp_path_factory.mktemp("numbers"), model_cache,
                             spaces=[*default_spaces(), v2])
    svc = build_services(settings, encoders=encoders)
    svc.ingest.upsert(to_documents(DOCS + NUMBERS))
    yield svc
    svc.close()


def scored(svc: Services, query: str, space: str) -> list[tuple[str, float]]:
    answer = svc.search.search(SearchRequest(query=query, fields=[space], limit=50))
    return [(h["id"], h["score"]) for h in answer.hits]


def test_the_default_keywords_version_counts_numbers(services: Services) -> None:
    from app.encoders.qdrant_bm25 import MODELS

    assert services.registry.get().spaces["keywords"].live == "keywords.bm25-multilingual-scripts.v4"
    assert MODELS[services.settings.models["bm25-multilingual-scripts"].name]["numbers"]


@pytest.mark.parametrize("query", list(FOUND))
def test_the_document_holding_the_number_is_the_first_keywords_hit(services: Services, query: str) -> None:
    target = FOUND[query]
    hits = scored(services, query, "keywords")
    assert hits[0][0] == target, (query, hits[:5])
    # strictly above each near miss of its group (which shares every other word)
    near = [s for d, s in hits if group_of(d) == group_of(target) and d != target]
    assert near and all(s < hits[0][1] for s in near), (query, hits[:6])


@pytest.mark.parametrize("query", ["QX-7731", "library survey 1987", "ratio 3.14", "طلب ٧٧٣١"])
def test_v2_scores_the_near_misses_as_the_document_holding_the_number(services: Services, query: str) -> None:
    """Why v3: v2's tokenizer drops the number, so the right document has no edge over any near miss."""
    target = FOUND[query]
    hits = dict(scored(services, query, "kw2"))
    tied = [d for d in hits if group_of(d) == group_of(target) and d != target and hits[d] == hits[target]]
    assert tied, (query, hits)


@pytest.mark.parametrize("query", NO_NUMBER)
def test_a_query_with_no_number_finds_the_same_documents_in_the_same_order(services: Services, query: str) -> None:
    v3, v2 = scored(services, query, "keywords"), scored(services, query, "kw2")
    assert [d for d, _ in v3] == [d for d, _ in v2] and v3, query


def test_a_code_written_whole_and_a_number_in_other_digits_share_the_number(services: Services) -> None:
    # QX7731 (one token) and the Arabic-Indic ٧٧٣١ both hold the term 7731
    ids = [d for d, _ in scored(services, "7731", "keywords")]
    assert {"code", "code-qy", "arabic"} <= set(ids) and not {"code-7730", "arabic-7730"} & set(ids)
    assert [d for d, _ in scored(services, "7731", "kw2")] == []
