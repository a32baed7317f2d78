"""The whole body is represented: a phrase in the last sentence of a 45,000-word body is found by a
`body`-only search through `POST /search` (real models), and the answer says how the body was covered."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.settings import EncoderSettings, LimitSettings, Settings, SpaceSettings, StoreSettings
from tests.fixtures import DOCS

WORDS = 45_000
PHRASE = "Bioluminescent jellyfish drift through the cold trenches of the deep ocean at night."
QUERY = "bioluminescent jellyfish in deep ocean trenches"


def long_body() -> str:
    """About 45,000 words of council minutes (varied, dull, all alike), then one sentence about something else."""
    rng = random.Random(8)
    subjects = ["The committee", "The council", "The treasurer", "The planning board", "The clerk", "A resident"]
    verbs = ["reviewed", "approved", "questioned", "postponed", "amended", "noted"]
    objects = ["the quarterly budget for road maintenance", "the minutes of the previous meeting",
               "a proposal to resurface the car park", "the annual audit of municipal accounts",
               "the schedule for refuse collection", "a request to extend library opening hours",
               "the cost of repairing the town hall roof", "the tender for street lighting"]
    tails = ["after a short discussion", "without objection", "pending further figures", "by a narrow vote",
             "at the chair's request", "for the second time this year"]
    out: list[str] = []
    count = 0
    target = WORDS - len(PHRASE.split())
    while count < target:
        s = f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} {rng.choice(tails)}."
        out.append(s)
        count += len(s.split())
    return " ".join(out) + " " + PHRASE


def client_for(tmp_path: Path, model_cache: Path, encoders: EncoderPool, max_passages: int) -> TestClient:
    """The body alone, in a multi-vector space of the 3-layer paraphrase-MiniLM-L3: what is tested is that
    every passage of the body is embedded and merged, not which model embeds it, and the half-depth model
    embeds the ~350 passages in under half the time of MiniLM-L6."""
    settings = Settings(
        store=StoreSettings(path=tmp_path / str(max_passages) / "data"),
        spaces=[SpaceSettings(name="body", field="body", kind="multi", model="paraphrase-minilm-l3")],
        encoders=EncoderSettings(cache_dir=model_cache, max_passages=max_passages),
        limits=LimitSettings(max_text_chars=400_000))
    svc = build_services(settings, encoders=encoders)
    return TestClient(create_app(settings, services=svc))


@pytest.fixture(scope="module")
def body() -> str:
    return long_body()


def _load(client: TestClient, body: str) -> dict[str, object]:
    r = client.post("/documents", json={"documents": [*DOCS, {"id": "minutes", "title": "Council minutes",
                                                              "body": body}]})
    assert r.status_code == 200, r.text
    return r.json()


def _top(client: TestClient) -> list[str]:
    r = client.post("/search", json={"query": QUERY, "fields": ["body"], "limit": 3})
    assert r.status_code == 200, r.text
    return [h["id"] for h in r.json()["hits"]]


@pytest.fixture
def whole(tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[TestClient]:
    with client_for(tmp_path, model_cache, encoders, max_passages=512) as c:
        yield c


def test_a_phrase_in_the_last_sentence_of_a_45000_word_body_is_found_by_body_alone(whole: TestClient,
                                                                                    body: str) -> None:
    assert WORDS <= len(body.split()) < WORDS + 20
    answer = _load(whole, body)
    coverage = answer["coverage"][-1]  # type: ignore[index]
    assert coverage["words_embedded"] == coverage["words"] == len(body.split()) and coverage["words_cut"] == 0
    assert coverage["vectors"] == 32 and coverage["merged_passages"] == coverage["passages"] - 32 > 300
    assert _top(whole)[0] == "minutes"
    stored = whole.get("/documents/minutes").json()
    assert stored["coverage"] == coverage


def test_cutting_the_tail_at_the_cap_as_before_loses_it_and_says_so(tmp_path: Path, model_cache: Path,
                                                                    encoders: EncoderPool, body: str) -> None:
    with client_for(tmp_path, model_cache, encoders, max_passages=32) as c:
        coverage = _load(c, body)["coverage"][-1]  # type: ignore[index]
        assert coverage["passages_embedded"] == 32 and coverage["words_cut"] > 40_000
        assert "minutes" not in _top(c)[:1]
