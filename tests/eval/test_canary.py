"""The canary: known-good query -> document pairs through HTTP; non-zero exit below the baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from litestar.testing import TestClient

from app.asgi import create_app
from app.container import Services
from app.eval.canary import check, finish, read_pairs
from app.settings import Settings

PAIRS = [
    {"query": "CRISPR Cas9 gene editing", "doc_id": "bio-1"},
    {"query": "Raft leader election", "doc_id": "cs-2"},
    {"query": "sauerkraut and kimchi", "doc_id": "cook-2"},
    {"query": "sauerkraut and kimchi", "doc_id": "astro-1", "k": 1},  # never right: a regression stand-in
]


@pytest.mark.parametrize("store_kind", ["edge"], indirect=True)
def test_canary_fails_below_baseline_and_names_the_failed_pairs(
        tmp_path: Path, settings: Settings, loaded: Services, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "canary.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    pairs = read_pairs(path)
    with TestClient(create_app(settings, services=loaded)) as client:
        result = check(client, pairs, k=10)
        assert result.recall == 0.75 and [p.doc_id for p, _ in result.failed] == ["astro-1"]

        assert finish(result, path, baseline=None, write=False) == 2  # no baseline recorded yet
        assert finish(result, path, baseline=None, write=True) == 0  # records 0.75
        assert json.loads(path.with_suffix(".baseline.json").read_text())["recall"] == 0.75
        assert finish(result, path, baseline=None, write=False) == 0  # holds its baseline

        capsys.readouterr()
        assert finish(result, path, baseline=0.9, write=False) == 1
        out = capsys.readouterr().out
        assert "BELOW BASELINE" in out and "'astro-1' not in top 1" in out

        # a broken request counts as a failure, never as a pass
        broken = check(client, read_pairs(path)[:1], request={"fields": ["no-such-space"]})
        assert broken.recall == 0.0 and "HTTP 422" in broken.errors[0][1]
