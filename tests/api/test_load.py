"""scripts/load against the real app: refused records, an empty document in a batch, a refused optimise, --direct."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.cli import load_parser, run_load
from app.container import Services, build_services
from app.encoders.fastembed_encoder import EncoderPool
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "load-test-admin-token"


def write_corpus(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def doc(i: int) -> dict[str, Any]:
    return {"_id": f"d{i}", "title": f"Report {i} on library catalogues",
            "text": f"Study number {i} of how readers search indexes and classification schemes."}


def corpus_with_empty(tmp_path: Path) -> Path:
    """Six documents; the fifth has neither title nor body, as in public test collections."""
    rows = [doc(i) for i in range(1, 7)]
    rows[4] = {"_id": "d5", "title": "", "text": ""}
    return write_corpus(tmp_path / "corpus.jsonl", rows)


@pytest.fixture
def service(tmp_path: Path, model_cache: Path, encoders: EncoderPool) -> Iterator[Services]:
    """Fresh services on an embedded store, with an admin token set."""
    svc = build_services(make_settings("edge", tmp_path / "svc", model_cache, admin_token=TOKEN), encoders=encoders)
    yield svc
    svc.close()


@pytest.fixture
def client(service: Services) -> Iterator[TestClient]:
    with TestClient(create_app(service.settings, services=service)) as c:
        yield c


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader reads its credentials from the environment, as the operator gives them."""
    monkeypatch.setenv("MULTIVEC_ADMIN_TOKEN", TOKEN)
    monkeypatch.delenv("MULTIVEC_API_KEY", raising=False)


def load(*argv: str, client: Any = None, services: Any = None) -> int:
    return run_load(load_parser().parse_args(list(argv)), client=client, services=services)


def stored(client: TestClient, *ids: str) -> list[str]:
    return [i for i in ids if client.get(f"/documents/{i}").status_code == 200]


def last_line(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


ALL = tuple(f"d{i}" for i in range(1, 7))


def test_a_record_without_id_is_refused_with_its_line_and_nothing_is_written(
        tmp_path: Path, client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    file = write_corpus(tmp_path / "c.jsonl", [doc(1), {"title": "no id here", "text": "body"}, doc(3)])
    assert load(str(file), client=client) == 1
    line = last_line(capsys)
    assert f"{file}:2: record has no id" in line and "--skip-invalid" in line
    assert stored(client, "d1", "d3", "None") == []


def test_an_empty_document_stops_the_load_and_nothing_of_its_batch_is_written(
        tmp_path: Path, client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    assert load(str(corpus_with_empty(tmp_path)), "--batch", "3", client=client) == 1
    line = last_line(capsys)
    assert line.startswith("load stopped: batch 2 (3 documents from ")
    assert "'d5'" in line and "neither title nor body" in line
    assert "3 documents written" in line and "--skip-invalid" in line and "--start-after d3" in line
    assert stored(client, *ALL) == ["d1", "d2", "d3"]


def test_skip_invalid_loads_everything_else_and_lists_the_skipped_document(
        tmp_path: Path, client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    file = corpus_with_empty(tmp_path)
    assert load(str(file), "--batch", "3", "--skip-invalid", client=client) == 0
    err = capsys.readouterr().err
    assert f"skipped 'd5' ({file}:5): " in err and "neither title nor body" in err
    assert "loaded 5 documents, skipped 1 (listed above)" in err and "docs/s" in err
    assert stored(client, *ALL) == ["d1", "d2", "d3", "d4", "d6"]


def test_going_on_after_a_stop_with_start_after_and_skip_invalid(
        tmp_path: Path, client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    file = str(corpus_with_empty(tmp_path))
    assert load(file, "--batch", "3", client=client) == 1
    assert load(file, "--batch", "3", "--skip-invalid", "--start-after", "d3", client=client) == 0
    assert "loaded 2 documents, skipped 1" in capsys.readouterr().err
    assert stored(client, *ALL) == ["d1", "d2", "d3", "d4", "d6"]


def test_a_refused_optimise_exits_non_zero_and_says_the_documents_are_not_optimised(
        tmp_path: Path, client: TestClient, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MULTIVEC_ADMIN_TOKEN")
    assert load(str(write_corpus(tmp_path / "c.jsonl", [doc(1), doc(2)])), client=client) == 1
    line = last_line(capsys)
    assert line.startswith("load: the documents are written but not optimised: POST /admin/optimize answered 401")
    assert "MULTIVEC_ADMIN_TOKEN" in line and "scripts/load --optimize-only" in line
    assert stored(client, "d1", "d2") == ["d1", "d2"]
    monkeypatch.setenv("MULTIVEC_ADMIN_TOKEN", TOKEN)  # the fix the message gives
    assert load("--optimize-only", client=client) == 0


@pytest.mark.parametrize("skip", [False, True], ids=["stops", "skips"])
def test_direct_reports_and_skips_invalid_documents_the_same_way(
        tmp_path: Path, service: Services, capsys: pytest.CaptureFixture[str], skip: bool) -> None:
    file = corpus_with_empty(tmp_path)
    flags = ["--skip-invalid"] if skip else []
    assert load(str(file), "--direct", "--batch", "3", *flags, services=service) == (0 if skip else 1)
    err = capsys.readouterr().err
    if skip:
        assert f"skipped 'd5' ({file}:5): " in err and "neither title nor body" in err
        assert service.ingest.count() == 5
    else:
        line = err.strip().splitlines()[-1]
        assert "'d5'" in line and "3 documents written" in line and "--skip-invalid" in line
        assert service.ingest.count() == 3


def test_direct_refuses_wrong_types_per_document_as_the_api_does(
        tmp_path: Path, service: Services, capsys: pytest.CaptureFixture[str]) -> None:
    file = write_corpus(tmp_path / "c.jsonl", [doc(1), {"_id": "d2", "title": 5, "text": "x"}, doc(3)])
    assert load(str(file), "--direct", "--skip-invalid", services=service) == 0
    assert f"skipped 'd2' ({file}:2): title: Input should be a valid string" in capsys.readouterr().err
    assert service.ingest.count() == 2


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIVEC_")}
    return {**env, **extra}


def test_direct_on_a_locked_store_says_so_in_one_line(tmp_path: Path, service: Services, model_cache: Path) -> None:
    file = write_corpus(tmp_path / "c.jsonl", [doc(1)])
    run = subprocess.run(
        [sys.executable, "-m", "app.cli", "load", "--direct", str(file)], cwd=ROOT, capture_output=True, text=True,
        timeout=120, env=_env(MULTIVEC_STORE__PATH=str(service.settings.store.path),
                              MULTIVEC_ENCODERS__CACHE_DIR=str(model_cache)))
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [run.stderr.strip()]  # one line, no traceback
    assert run.stderr.startswith("load: data folder ") and "in use by pid" in run.stderr


def test_scripts_load_reads_the_path_from_the_callers_directory(tmp_path: Path) -> None:
    if not list((ROOT / ".venv").glob(".installed-*")):
        pytest.skip("scripts/setup has not installed .venv in this checkout")
    write_corpus(tmp_path / "c.jsonl", [doc(1), {"title": "no id", "text": "x"}])
    run = subprocess.run([str(ROOT / "scripts" / "load"), "c.jsonl", "--url", "http://127.0.0.1:9"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120, env=_env())
    assert run.returncode == 1, run.stderr
    assert "no corpus" not in run.stderr
    assert f"{tmp_path / 'c.jsonl'}:2: record has no id" in run.stderr.strip().splitlines()[-1]
