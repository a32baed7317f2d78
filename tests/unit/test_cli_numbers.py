"""A bad number to scripts/bench or scripts/evaluate (and its `compare`) is one argparse error line naming the
option, exit status 2: no traceback, and nothing run on an empty store or with zero rounds."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from app.eval import bench, cli

ROOT = Path(__file__).resolve().parents[2]

BENCH_BAD = [
    ("--synthetic", "abc"), ("--synthetic", "0"), ("--synthetic", "100,-5"), ("--synthetic", "1e3"),
    ("--ingest-docs", "-1"), ("--ingest-docs", "x"), ("--queries", "0"), ("--queries", "-3"),
    ("--memory-max", "-1"), ("--budget", "0"), ("--budget", "-1"), ("--budget", "nan"), ("--budget", "inf"),
    ("--rounds", "0"), ("--rounds", "two"), ("--service-port", "0"), ("--service-port", "70000"),
    ("--service-limit", "-1"), ("--seed", "x"), ("--seed", "-1"), ("--seed", str(2**32)),
    ("--synthetic", "1000000000000000"), ("--rounds", "1001"), ("--budget", "1e308"), ("--queries", "10000001"),
]
EVALUATE_BAD = [
    ("--depth", "0"), ("--depth", "abc"), ("--latency-queries", "-1"), ("--max-queries", "-2"), ("--fit", "1"),
    ("--fit", "1.5"), ("--fit", "-0.1"), ("--fit", "nan"), ("--beta", "0"), ("--beta", "-2"), ("--beta", "inf"),
    ("--batch", "0"), ("--batch", "many"), ("--seed", "-1"),
    ("--depth", "18446744073709551615"), ("--depth", "10001"), ("--max-queries", "10000001"),
]
COMPARE_BAD = [("--depth", "0"), ("--depth", "10001"), ("--holdout", "1"), ("--holdout", "abc")]


def refused(main: Callable[[Sequence[str]], None], argv: list[str], option: str,
            capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"argument {option}" in err and "error:" in err, err
    return err


@pytest.mark.parametrize(("option", "value"), BENCH_BAD)
def test_bench_refuses_a_bad_number_naming_the_option(option: str, value: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(bench.main, [f"{option}={value}", "--skip-real"], option, capsys)
    assert err.startswith("bench: error:")


@pytest.mark.parametrize(("option", "value"), EVALUATE_BAD)
def test_evaluate_refuses_a_bad_number_naming_the_option(option: str, value: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    refused(cli.main, ["some-dataset", f"{option}={value}"], option, capsys)


@pytest.mark.parametrize(("option", "value"), COMPARE_BAD)
def test_compare_refuses_a_bad_number_naming_the_option(option: str, value: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    refused(cli.main, ["compare", "ds", "--index-dir", "x", "--side", "a", f"{option}={value}"], option, capsys)


def test_good_numbers_parse() -> None:
    args = cli.parse_args(["ds", "--fit", "0", "--latency-queries", "0", "--beta", "0.5", "--depth", "1"])
    assert (args.fit, args.latency_queries, args.beta, args.depth) == (0.0, 0, 0.5, 1)
    assert cli.parse_args(["ds", "--fit", "0.6"]).fit == 0.6


def test_the_bench_command_says_one_line_and_exits_2() -> None:
    """Through the entry point scripts/bench runs (`python -m app.eval.bench`)."""
    run = subprocess.run([sys.executable, "-m", "app.eval.bench", "--synthetic", "abc"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1] == (
        "bench: error: argument --synthetic: expected a whole number from 1 to 10000000 (documents; '' = skip), "
        "not 'abc'")
