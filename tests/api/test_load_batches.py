"""scripts/load cuts its batches to the service's limits on one request (ops21 F7): documents and characters of
text, read from the service's OpenAPI document (or the store's settings with --direct); only a document that
alone is over a limit is refused, by name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from app.settings import LimitSettings
from tests.api.test_load import TOKEN, load, stored, token, write_corpus  # noqa: F401
from tests.conftest import make_settings

# small limits, so that a few short documents pass them; the loader's own defaults (256, 4,000,000) do not
LIMITS = LimitSettings(max_batch=4, max_batch_chars=1_000)


def row(i: int, chars: int = 300) -> dict[str, Any]:
    return {"_id": f"d{i}", "title": f"Report {i}", "text": ("Readers search catalogues by subject. " * 40)[:chars]}


ROWS = [row(i) for i in range(1, 11)]  # 10 documents of 300 characters and more: 3,080 characters in all
IDS = [r["_id"] for r in ROWS]


@pytest.fixture
def service(tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[Services]:
    svc = build_services(make_settings("edge", tmp_path / "svc", model_cache, admin_token=TOKEN, limits=LIMITS),
                         encoders=encoders)
    yield svc
    svc.close()


@pytest.fixture
def client(service: Services) -> Iterator[TestClient]:
    with TestClient(create_app(service.settings, services=service)) as c:
        yield c


def test_the_openapi_document_declares_the_characters_a_batch_may_hold(client: TestClient) -> None:
    documents = client.get("/schema/openapi.json").json()["components"]["schemas"]["DocumentsIn"]["properties"][
        "documents"]
    assert documents["maxItems"] == 4 and documents["x-max-batch-chars"] == 1_000


@pytest.mark.parametrize("batch", ["64", "1000", "2"])
def test_batches_are_cut_to_the_services_limits_whatever_batch_is_asked(
        tmp_path: Path, client: TestClient, capsys: pytest.CaptureFixture[str], batch: str) -> None:
    sent: list[list[dict[str, Any]]] = []
    client.event_hooks["request"].append(
        lambda r: sent.append(json.loads(r.content)["documents"]) if r.url.path == "/documents" else None)
    file = write_corpus(tmp_path / "c.jsonl", ROWS)
    assert load(str(file), "--batch", batch, client=client) == 0
    err = capsys.readouterr().err
    assert "loaded 10 documents in " in err and "\r" not in err  # no terminal: lines, not a bar
    assert stored(client, *IDS) == IDS
    assert [d["id"] for b in sent for d in b] == IDS  # each once, in order
    assert all(len(b) <= min(4, int(batch)) for b in sent)
    assert all(sum(len(d["title"]) + len(d["body"]) for d in b) <= 1_000 for b in sent)
    assert ("--batch 1000 is over the service's limit of 4 documents a request: sending at most 4" in err) == (
        batch == "1000")


def test_direct_cuts_batches_to_the_stores_settings(
        tmp_path: Path, service: Services, capsys: pytest.CaptureFixture[str]) -> None:
    file = write_corpus(tmp_path / "c.jsonl", ROWS)
    assert load(str(file), "--direct", services=service) == 0
    assert "loaded 10 documents in " in capsys.readouterr().err
    assert service.ingest.count() == 10


@pytest.mark.parametrize("skip", [False, True], ids=["stops", "skips"])
def test_only_a_document_over_the_limit_alone_is_refused_by_name(
        tmp_path: Path, client: TestClient, capsys: pytest.CaptureFixture[str], skip: bool) -> None:
    rows = [*ROWS[:3], {**row(99, 1_200), "_id": "long"}, *ROWS[3:]]  # 1,200 characters: within max_text_chars
    file = write_corpus(tmp_path / "c.jsonl", rows)
    assert load(str(file), *(["--skip-invalid"] if skip else []), client=client) == (0 if skip else 1)
    err = capsys.readouterr().err
    named = (f"{file}:4: document 'long' holds 1209 characters of text, over the service's limit of 1000 for one "
             "request (max_batch_chars)")
    assert named in err
    if skip:
        assert "loaded 10 documents, skipped 1 (listed above)" in err
        assert stored(client, *IDS, "long") == IDS
    else:
        assert "refused before anything was sent" in err.strip().splitlines()[-1]
        assert stored(client, *IDS, "long") == []
