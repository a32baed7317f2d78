"""Operator errors from a tester (ops21 F9, F11): each is one line, never a traceback, with the exit status
the docs give (2 for a bad argument or a refused precondition)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.versioning.declare import default_folder
from tests.unit.test_launch import assert_one_clear_line, run_launch


def _folder_with(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(default_folder(), folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "0099_broken.py").write_text(text)
    return folder


@pytest.mark.parametrize(("text", "named"), [
    ('revision = "0099"\ndepends_on = "0011"\nchange = AddVersion(space="title"\n', ":3: syntax error: "),
    ("import no_such_module\n", ":1: fails on import: ModuleNotFoundError: No module named 'no_such_module'"),
    ('"""Doc."""\n\nraise RuntimeError("half written")\n', ":3: fails on import: RuntimeError: half written"),
    ("x = 1 +\n", ":1: syntax error: invalid syntax"),
])
def test_a_migration_file_that_does_not_import_is_one_line_naming_file_and_line(tmp_path: Path, text: str,
                                                                               named: str) -> None:
    folder = _folder_with(tmp_path, text)
    for step in ("plan", "apply"):
        done = run_launch(["app.versioning.cli", "--dir", str(folder), step], cwd=tmp_path,
                          env={"MULTIVEC_STORE__PATH": str(tmp_path / "data")})
        assert_one_clear_line(done, f"{folder / '0099_broken.py'}{named}")
    assert not (tmp_path / "data").exists()  # refused before the store is opened


@pytest.mark.parametrize(("grace", "named"), [
    ("banana", "argument --grace: not a duration: 'banana'"),
    ("", "argument --grace: not a duration: ''"),
    ("24", "argument --grace: '24' has no unit: add s, m, h or d"),
    ("0", "'0' has no unit"),
    ("1.5", "'1.5' has no unit"),
])
def test_a_grace_that_is_not_a_duration_with_its_unit_is_an_argument_error(tmp_path: Path, grace: str,
                                                                          named: str) -> None:
    for through in ([], ["--url", "http://127.0.0.1:9"]):  # the same refusal, before any store or service
        done = run_launch(["app.versioning.cli", *through, "retire", "--grace", grace], cwd=tmp_path,
                          env={"MULTIVEC_STORE__PATH": str(tmp_path / "data")})
        assert_one_clear_line(done, named)
        assert done.returncode == 2
    assert not (tmp_path / "data").exists()


def test_a_grace_with_its_unit_is_read_in_that_unit() -> None:
    from app.versioning.cli import parser

    for text, seconds in (("30m", 1800.0), ("24h", 86400.0), ("7d", 604800.0), ("0s", 0.0), (" 90s ", 90.0)):
        assert parser().parse_args(["retire", "--grace", text]).grace == seconds
    assert parser().parse_args(["retire"]).grace == 86400.0  # the default, 24h


@pytest.mark.parametrize(("name", "content", "problem"), [
    ("blank.jsonl", '{"id": "q1", "query": "good one"}\n{"id": "q2", "query": "   "}\n',
     ":2: the query '   ' is blank"),
    ("zw.jsonl", '{"id": "q1", "query": "\\u200b\\u200b"}\n', ":1: the query '\\u200b\\u200b' is blank"),
    ("zw.txt", "a real query\n\u200b\n", ":2: the query '\\u200b' is blank"),
    ("number.jsonl", '{"id": "q1", "query": 5}\n', ":1: the query must be a string, not a number: 5"),
    ("false.jsonl", '{"id": "q1", "text": false}\n', ":1: the query must be a string, not a boolean: False"),
])
def test_validate_refuses_a_query_set_with_a_blank_query_naming_its_line(tmp_path: Path, name: str, content: str,
                                                                        problem: str) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    done = run_launch(["app.versioning.cli", "validate", "--queries", name], cwd=tmp_path,
                      env={"MULTIVEC_STORE__PATH": str(tmp_path / "data")})
    assert_one_clear_line(done, f"{tmp_path / name}{problem}")
    assert not (tmp_path / "data").exists()  # refused before the store is opened: no verdict stored


def test_a_port_in_use_ends_the_start_in_one_line_before_the_store_is_opened(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = run_launch(["app.cli", "serve", "--port", str(port)], cwd=tmp_path,
                          env={"MULTIVEC_STORE__PATH": str(tmp_path / "data"), "MULTIVEC_COMMAND": "scripts/serve"})
    assert_one_clear_line(done, f"serve: cannot listen on 127.0.0.1:{port}: Address already in use",
                          "choose another --port")
    assert not (tmp_path / "data").exists()  # the store was never opened


def test_an_address_this_machine_does_not_have_ends_the_start_in_one_line(tmp_path: Path) -> None:
    done = run_launch(["app.cli", "serve", "--host", "192.0.2.1", "--port", "8000", "--allow-open"], cwd=tmp_path,
                      env={"MULTIVEC_STORE__PATH": str(tmp_path / "data")})
    assert_one_clear_line(done, "cannot listen on 192.0.2.1:8000: Cannot assign requested address")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(("args", "named"), [
    (["promote", "--percent", "150"], "argument --percent: expected a whole number from 1 to 99, not 150"),
    (["promote", "--percent", "0"], "argument --percent: expected a whole number from 1 to 99, not 0"),
    (["promote", "--margin", "2"], "argument --margin: expected a finite number >= 0 and <= 1, not 2"),
    (["promote", "--margin", "nan"], "argument --margin: expected a finite number >= 0 and <= 1, not nan"),
    (["backfill", "--batch", "0"], "argument --batch: expected a whole number from 1 to 4096, not 0"),
    (["--url", "http://127.0.0.1:9", "backfill", "--batch", "0"],
     "argument --batch: expected a whole number from 1 to 4096, not 0"),
    (["backfill", "--batch", "5000"], "argument --batch: expected a whole number from 1 to 4096, not 5000"),
    (["backfill", "--max-points", "0"], "argument --max-points: expected a whole number >= 1, not 0"),
    (["validate", "--k", "0"], "argument --k: expected a whole number from 1 to 100, not 0"),
    (["validate", "--limit", "-1"], "argument --limit: expected a whole number >= 0, not -1"),
])
def test_a_number_out_of_its_range_is_an_argument_error(tmp_path: Path, args: list[str], named: str) -> None:
    done = run_launch(["app.versioning.cli", *args], cwd=tmp_path, env={"MULTIVEC_STORE__PATH": str(tmp_path / "d")})
    assert_one_clear_line(done, named)
    assert done.returncode == 2 and "max_points" not in done.stderr
    assert not (tmp_path / "d").exists()


def test_apply_of_a_migration_no_file_declares_is_refused_with_status_2(tmp_path: Path) -> None:
    done = run_launch(["app.versioning.cli", "apply", "9999"], cwd=tmp_path,
                      env={"MULTIVEC_STORE__PATH": str(tmp_path / "d")})
    assert_one_clear_line(done, "no migration file matches '9999' in ")
    assert done.returncode == 2
