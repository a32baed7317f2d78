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
from tests.api.conftest import app_services, client, live_url, seeded  # noqa: F401  (the app served by uvicorn)
from tests.unit.test_launch import assert_one_clear_line, run_launch

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
    with TestClient(create_app(settings, services=loaded)) as http:
        result = check(http, pairs, k=10)
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
        broken = check(http, read_pairs(path)[:1], request={"fields": ["no-such-space"]})
        assert broken.recall == 0.0 and "HTTP 422" in broken.errors[0][1]


# ---- the command as an operator runs it (scripts/canary: app.launch), against the real app over real HTTP ----

CISI = Path("/work/shared/datasets/cisi")


def _pairs(tmp_path: Path) -> Path:
    path = tmp_path / "canary.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PAIRS[:3]))
    return path


@pytest.mark.parametrize(("args", "needle"), [
    (["--request", "[1]"], "expected a JSON object of search fields, not list"),
    (["--request", "{nope"], "not JSON"),
    (["--request", '{"limit": 3}'], "names limit, which the canary sets itself"),
    (["--request", '{"query": "x", "limit": 3}'], "names query and limit"),
    (["--timeout", "-1"], "argument --timeout"),
    (["--k", "0"], "argument --k"),
    (["--baseline", "2"], "argument --baseline"),
    (["--baseline", "nan"], "argument --baseline"),
])
def test_canary_run_refuses_a_bad_argument_in_one_line_with_status_2(
        tmp_path: Path, args: list[str], needle: str) -> None:
    done = run_launch(["app.eval.canary", "run", str(_pairs(tmp_path)), "--url", "http://127.0.0.1:1", *args],
                      tmp_path)
    assert_one_clear_line(done, needle)
    assert done.returncode == 2


@pytest.mark.parametrize("args", [["--n", "0"], ["--k", "0", "--url", "http://127.0.0.1:1"], ["--seed", "-1"]])
def test_canary_make_refuses_a_bad_argument_and_writes_nothing(tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "pairs.jsonl"
    done = run_launch(["app.eval.canary", "make", str(CISI), "--out", str(out), *args], tmp_path)
    assert_one_clear_line(done, "argument --")
    assert done.returncode == 2 and not out.exists()


def test_canary_help_names_both_commands_and_the_exit_statuses(tmp_path: Path) -> None:
    done = run_launch(["app.eval.canary", "--help"], tmp_path)
    assert done.returncode == 0
    assert "canary run" in done.stdout and "canary make" in done.stdout and "3 the service could not" in done.stdout


def test_a_service_that_is_down_is_status_3_not_a_regression(tmp_path: Path) -> None:
    pairs = _pairs(tmp_path)
    done = run_launch(["app.eval.canary", "run", str(pairs), "--url", "http://127.0.0.1:1", "--baseline", "0.5"],
                      tmp_path)
    assert_one_clear_line(done, "could not reach the service at http://127.0.0.1:1")
    assert done.returncode == 3 and "BELOW BASELINE" not in done.stdout
    made = run_launch(["app.eval.canary", "make", str(CISI), "--out", str(tmp_path / "m.jsonl"),
                       "--url", "http://127.0.0.1:1"], tmp_path)
    assert_one_clear_line(made, "could not reach the service")
    assert made.returncode == 3 and not (tmp_path / "m.jsonl").exists()


def test_canary_k_is_checked_against_the_services_max_limit(
        tmp_path: Path, seeded: TestClient, live_url: str) -> None:  # noqa: F811
    pairs = _pairs(tmp_path)
    done = run_launch(["app.eval.canary", "run", str(pairs), "--url", live_url, "--k", "500",
                       "--baseline", "0.5"], tmp_path)
    assert_one_clear_line(done, "argument --k: 500 is over the largest limit", "(100)")
    assert done.returncode == 2 and "HTTP 422" not in done.stdout
    (tmp_path / "big.jsonl").write_text(json.dumps({**PAIRS[0], "k": 101}) + "\n")
    over = run_launch(["app.eval.canary", "run", str(tmp_path / "big.jsonl"), "--url", live_url,
                       "--baseline", "0.5"], tmp_path)
    assert_one_clear_line(over, "asks k=101")
    # within the limit, the same pairs run: the fixture corpus finds the first three
    ok = run_launch(["app.eval.canary", "run", str(pairs), "--url", live_url, "--k", "100", "--baseline", "1"],
                    tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "recall@100 1.000 over 3 pairs" in ok.stdout
    # the extra fields are sent; the canary's own query and limit cannot be overridden (refused above)
    fields = run_launch(["app.eval.canary", "run", str(pairs), "--url", live_url, "--baseline", "1",
                         "--request", '{"fields": ["no-such-space"]}'], tmp_path)
    assert fields.returncode == 1 and "HTTP 422" in fields.stdout
