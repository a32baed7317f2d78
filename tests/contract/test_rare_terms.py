"""The only document that holds a rare word is the first hit for that word, in the plans that weigh `keywords`
as the default and `fused` do (and, in this small corpus, `all`), on every adapter, batched and fanned out.

A rare term returns a short `keywords` list; DBSF over that list alone would normalise its only hit to 0.5
and leave it below the dense spaces' near misses (a new user found the one CISI abstract holding
"Wrzesniewski" at rank 77). The service normalises a sparse list as complete (app.domain.fusion.zero_floors).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.container import Services
from app.services.search import SearchRequest
from tests.conftest import to_documents

# Each rare word sits once in a document about something else, so the dense spaces do not point at it.
RARE = [
    {"id": "rare-latin", "title": "Notes from a survey of rural libraries",
     "body": "Most libraries lend books, maps and newspapers to their readers. One small library kept a letter "
             "signed by Wrzesniewski among its local records, beside the parish registers and the farm accounts. "
             "Opening hours were short in winter."},
    {"id": "rare-code", "title": "Maintenance of a regional water network",
     "body": "The utility replaced old pipes along the river and tested pressure every month. Valve QX7731 "
             "at the northern pumping station failed twice in one year. Crews now inspect it each spring."},
    # a near twin: the code is matched whole, and its number (1111) is another term (README, Text in any script)
    {"id": "rare-code-twin", "title": "Pumping station logbook",
     "body": "Valve QX1111 was replaced in March. The pumps ran without a fault through the summer."},
    {"id": "rare-ja", "title": "春の旅行の記録",
     "body": "四月に京都を訪れた。川沿いの桜が満開で、多くの人が写真を撮っていた。夜は旅館で静かに過ごした。"},
    {"id": "rare-th", "title": "บันทึกการเดินทาง",
     "body": "เราเดินทางไปเชียงใหม่ในฤดูหนาว อากาศเย็นสบาย และตลาดกลางคืนมีอาหารหลายอย่าง"},
]
QUERIES = {"Wrzesniewski": "rare-latin", "QX7731": "rare-code", "桜": "rare-ja"}
PLANS = [None, "fused", "keyword", "all", "cascade"]  # None: the default plan


@pytest.fixture
def rare(loaded: Services) -> Services:
    loaded.ingest.upsert(to_documents(RARE))
    return loaded


@pytest.mark.parametrize("fanout", [False, True], ids=["batch", "fan-out"])
def test_the_only_document_holding_a_rare_word_is_the_first_hit_in_every_plan(rare: Services, fanout: bool) -> None:
    for query, doc_id in QUERIES.items():
        alone = rare.search.search(SearchRequest(query=query, fields=["keywords"], limit=5))
        assert [h["id"] for h in alone.hits] == [doc_id], query  # keywords alone: the one document holding it
        for plan in PLANS:
            answer = rare.search.search(SearchRequest(query=query, plan=plan, limit=5, explain=True, fanout=fanout))
            assert answer.hits[0]["id"] == doc_id, (query, plan, [h["id"] for h in answer.hits])


def test_explain_shows_the_keywords_contribution_normalised_as_complete(rare: Services) -> None:
    answer = rare.search.search(SearchRequest(query="Wrzesniewski", plan="fused", limit=3, explain=True))
    top = answer.hits[0]
    assert top["id"] == "rare-latin" and answer.plan is not None and answer.plan["fused_in"] == "client"
    keywords = top["explain"]["keywords"]
    # alone, a single hit would normalise to 0.5; counted with the points it lacks at 0 it is above 1
    assert keywords["rank"] == 1 and keywords["contribution"] > keywords["weight"] * 1.0
    others = [h["explain"]["keywords"]["contribution"] for h in answer.hits[1:]]
    assert all(c == 0.0 for c in others)



# A rare word beside common words that point elsewhere: stage 1 of the default cascade ranks its one document
# first, and `body`, whose passages sit far from the other words, may lower it only so far (`max_demotion`;
# docs/evaluation.md#rare-words: unbounded, CISI's such documents fell to 15th-46th).
SKY = ["Mercury", "Venus", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune", "Pluto", "Vega", "Sirius", "Rigel",
       "Deneb"]
ASTRONOMY = [{"id": f"sky-{i}", "title": f"Planets around the star {SKY[i % 12]} {i}",
              "body": f"Astronomers found {2 + i % 5} planets orbiting the star {SKY[i % 12]} {i}. "
                      f"The outer planets circle their star every {10 + i} years."} for i in range(48)]
BESIDE = {"Wrzesniewski planets orbiting other stars": "rare-latin", "QX7731 planets orbiting a star": "rare-code"}


@pytest.fixture
def sky(services: Services) -> Services:
    services.ingest.upsert(to_documents(ASTRONOMY + RARE[:2]))  # the rare words' documents, among astronomy
    return services


@pytest.mark.parametrize("fanout", [False, True], ids=["batch", "fan-out"])
def test_a_rare_word_beside_common_words_keeps_its_document_in_the_default_plan_s_top_hits(
        sky: Services, fanout: bool) -> None:
    for query, doc_id in BESIDE.items():
        answer = sky.search.search(SearchRequest(query=query, limit=3, fanout=fanout, explain=True))
        assert doc_id in [h["id"] for h in answer.hits], (query, [h["id"] for h in answer.hits])
        assert answer.plan is not None and "max(norm(body), norm(candidates) - 0.7)" in str(answer.plan["stages"])
        for hit in answer.hits:  # explain: stage 1's and body's (bounded) terms are the final score
            terms = hit["stages"]["candidates"]["contribution"] + hit["stages"]["body"]["contribution"]
            assert terms == pytest.approx(hit["score"], abs=1e-9), hit["stages"]
        unbounded = replace(sky.search.plan(SearchRequest(query=query, limit=3)), max_demotion=None)
        assert doc_id not in [h.payload["doc_id"] for h in sky.search.run(unbounded, query)[0].hits]  # the bound did it
