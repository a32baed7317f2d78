"""The first hour: scripts read paths from the caller's directory and end operator errors in one line."""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.launch import caller_paths, main

ROOT = Path(__file__).parents[2]
SCRIPTS = ROOT / "scripts"
PYTHON_COMMANDS = ("serve", "load", "migrate", "evaluate", "canary", "bench", "bench_backfill", "backup", "restore")


def test_path_arguments_are_read_from_the_callers_directory(tmp_path: Path) -> None:
    with caller_paths(tmp_path):
        p = argparse.ArgumentParser()
        p.add_argument("dataset", type=Path)
        p.add_argument("--out", type=Path, default=Path("reports/x"))
        p.add_argument("--split")
        sub = p.add_subparsers(dest="step").add_parser("validate")
        sub.add_argument("--beir", type=Path)
        args = p.parse_args(["data/set", "--split", "train", "validate", "--beir", "../beir"])
        assert args.dataset == tmp_path / "data/set"
        assert args.beir == tmp_path / "../beir"
        assert args.split == "train"  # not a path: untouched
        assert args.out == Path("reports/x")  # a default written in code stays relative to the repository
        assert p.parse_args(["/abs/set"]).dataset == Path("/abs/set")
    assert argparse.ArgumentParser().parse_args([]) is not None  # argparse is itself again afterwards
    q = argparse.ArgumentParser()
    q.add_argument("x", type=Path)
    assert q.parse_args(["rel"]).x == Path("rel")


def test_migrate_and_evaluate_read_their_datasets_from_the_caller(tmp_path: Path) -> None:
    from app.eval.cli import parse_args
    from app.versioning.cli import parser

    with caller_paths(tmp_path):
        args = parser().parse_args(["validate", "--beir", "datasets/scifact", "--split", "train",
                                    "--queries", "canary.jsonl"])
        assert (args.beir, args.queries) == (tmp_path / "datasets/scifact", tmp_path / "canary.jsonl")
        assert parse_args(["datasets/cisi", "--out", "here"]).dataset == tmp_path / "datasets/cisi"


def test_every_python_script_goes_through_the_common_launcher() -> None:
    common = (SCRIPTS / "common.sh").read_text()
    assert 'MULTIVEC_CALLER_DIR="$PWD"' in common and "app.launch" in common
    for name in PYTHON_COMMANDS:
        text = (SCRIPTS / name).read_text()
        assert '. "$(dirname "$0")/common.sh"' in text, name
        assert re.search(r"^run app\.", text, re.M), name
        assert ".venv/bin/python" not in text, f"scripts/{name} runs python without the launcher"


def run_launch(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m app.launch ...` as scripts/common.sh runs it: from the repository root, the caller's dir set."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), "MULTIVEC_CALLER_DIR": str(cwd), **(env or {})}
    return subprocess.run([sys.executable, "-m", "app.launch", *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=120)


def assert_one_clear_line(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_missing_dataset_is_one_line_naming_the_path_from_the_caller(tmp_path: Path) -> None:
    done = run_launch(["app.eval.cli", "no/such/dataset"], cwd=tmp_path)
    assert_one_clear_line(done, str(tmp_path / "no/such/dataset"))
    done = run_launch(["app.versioning.cli", "validate", "--beir", "no/such"], cwd=tmp_path)
    assert_one_clear_line(done, str(tmp_path / "no/such"))


@pytest.fixture(scope="module")
def held_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data folder another process holds, as a running `scripts/serve` does: one holder for the module
    (the tests only try, and fail, to open it)."""
    folder = tmp_path_factory.mktemp("held") / "data"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from app.store.edge import EdgeStore
            s = EdgeStore({str(folder)!r})
            print("ready", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield folder
    finally:
        holder.communicate("\n", timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_second_serve_on_a_folder_in_use_says_so_in_one_line(held_folder: Path) -> None:
    done = run_launch(["app.cli", "serve", "--port", str(free_port())], cwd=held_folder.parent,
                      env={"MULTIVEC_STORE__PATH": str(held_folder), "MULTIVEC_COMMAND": "scripts/serve"})
    assert_one_clear_line(done, "serve: store_locked", "in use by pid", str(held_folder))


def test_a_model_cache_that_cannot_hold_the_models_ends_the_start_in_one_line(tmp_path: Path) -> None:
    # before, the service started and said it was ready, and every search failed with encoder_failed
    done = run_launch(["app.cli", "serve", "--port", str(free_port())], cwd=tmp_path,
                      env={"MULTIVEC_STORE__PATH": str(tmp_path / "data"), "MULTIVEC_ENCODERS__CACHE_DIR": "/proc/x",
                           "MULTIVEC_COMMAND": "scripts/serve"})
    assert_one_clear_line(done, "serve: encoder_failed", "could not load model", "/proc/x")


def test_load_direct_and_migrate_on_a_folder_in_use_exit_non_zero_without_a_traceback(held_folder: Path) -> None:
    env = {"MULTIVEC_STORE__PATH": str(held_folder)}
    corpus = held_folder.parent / "corpus.jsonl"
    corpus.write_text('{"id": "a", "title": "t", "body": "b"}\n')
    assert_one_clear_line(run_launch(["app.cli", "load", "--direct", "corpus.jsonl", "--relative-to",
                                      str(held_folder.parent)], cwd=held_folder.parent, env=env), "in use")
    done = run_launch(["app.versioning.cli", "status"], cwd=held_folder.parent, env=env)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "in use" in done.stderr.splitlines()[0]  # then how to run it through the service instead


def test_invalid_settings_are_one_line(tmp_path: Path) -> None:
    done = run_launch(["app.cli", "serve"], cwd=tmp_path, env={"MULTIVEC_STORE__RETRY_ATTEMPTS": "many"})
    assert_one_clear_line(done, "settings", "retry_attempts")
    # a settings-wide check: no empty location, no pydantic prefix
    done = run_launch(["app.cli", "serve"], cwd=tmp_path,
                      env={"MULTIVEC_COLLECTION__SPACES": '{"keywords": {"datatype": "float16"}}'})
    assert_one_clear_line(done, "settings", "space 'keywords' is sparse")
    assert "invalid: space 'keywords'" in done.stderr and "Value error" not in done.stderr
    # a check that names its own setting: named once (it read "search: search.plan ...")
    done = run_launch(["app.cli", "serve"], cwd=tmp_path, env={"MULTIVEC_SEARCH__PLAN": "nope"})
    assert_one_clear_line(done, "invalid: search.plan 'nope' is not a plan")
    # a value pydantic-settings cannot parse (not JSON) is one line too, in every command (final break test)
    for command in (["app.cli", "serve"], ["app.versioning.cli", "plan"]):
        for env in ({"MULTIVEC_COLLECTION__SPACES": "notjson"}, {"MULTIVEC_SEARCH__PLANS": "{bad"}):
            done = run_launch(command, cwd=tmp_path, env=env)
            field = next(iter(env)).split("__")[0].removeprefix("MULTIVEC_")
            assert_one_clear_line(done, "settings", f"MULTIVEC_{field} or one of its __ parts", "not valid JSON")


def test_an_operator_error_raised_anywhere_in_a_command_is_one_line(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    module = tmp_path / "failing_command.py"
    module.write_text("from app.errors import StoreUnavailable\nraise StoreUnavailable('qdrant at :6333 is down')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        assert main(["failing_command"]) == 1
    finally:
        sys.path.remove(str(tmp_path))
    err = capsys.readouterr().err
    assert err.strip().endswith("store_unavailable: qdrant at :6333 is down") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("variable", "value", "named"), [
    ("MULTIVEC_STORE__RETRY_ATTEMPTS", "-3", "store.retry_attempts: Input should be greater than or equal to 1"),
    ("MULTIVEC_STORE__RETRY_ATTEMPTS", "0", "store.retry_attempts"),
    ("MULTIVEC_STORE__TIMEOUT_S", "-1", "store.timeout_s: Input should be greater than 0"),
    ("MULTIVEC_STORE__RETRY_WAIT_S", "-0.5", "store.retry_wait_s"),
    ("MULTIVEC_ENCODERS__THREADS", "-1", "encoders.threads: Input should be greater than or equal to 1"),
    ("MULTIVEC_ENCODERS__BATCH_TOKENS", "0", "encoders.batch_tokens"),
    ("MULTIVEC_ENCODERS__MAX_BATCH", "-1", "encoders.max_batch"),
    ("MULTIVEC_ENCODERS__CHUNK_WORDS", "0", "encoders.chunk_words"),
    ("MULTIVEC_ENCODERS__MAX_ENTITIES", "-2", "encoders.max_entities"),
    ("MULTIVEC_STORE__COLLECTION", "", "store.collection"),
    ("MULTIVEC_SPACES", '[{"name": "t", "field": "title", "kind": "dense", "model": "minilm-l6-int8", "version": 0}]',
     "spaces[0].version: Input should be greater than or equal to 1"),
    # no space, or none a search can start from: a "ready" service that writes documents no search finds (ops21 F6)
    ("MULTIVEC_SPACES", "[]", "spaces is empty: configure at least one space"),
    ("MULTIVEC_SPACES", '[{"name": "t", "field": "title", "kind": "dense", "model": "minilm-l6-int8", '
     '"index": "rerank"}]', "every space (t) has index 'rerank'"),
    ("MULTIVEC_LIMITS__MAX_TEXT_CHARS", str(10**12), "limits.max_text_chars is 1000000000000, over the largest"),
    ("MULTIVEC_STORE__PATH", "/etc/passwd", "store.path: '/etc/passwd' is not a folder"),
    ("MULTIVEC_BACKUP_DIR", "/etc/passwd/backups", "backup_dir: '/etc/passwd/backups' is not a folder"),
    ("MULTIVEC_ENCODERS__CACHE_DIR", "/etc/passwd", "encoders.cache_dir: '/etc/passwd' is not a folder"),
    # blank: Path("") is the folder the command runs in (the store landed in the checkout), " " a folder named so
    ("MULTIVEC_STORE__PATH", "", "store.path: '' is blank: name a folder"),
    ("MULTIVEC_STORE__PATH", " ", "store.path: ' ' is blank: name a folder"),
    ("MULTIVEC_BACKUP_DIR", "", "backup_dir: '' is blank: name a folder"),
    ("MULTIVEC_ENCODERS__CACHE_DIR", "  ", "encoders.cache_dir: '  ' is blank: name a folder"),
    ("MULTIVEC_SEARCH__PROFILE_PATH", "", "search.profile_path: '' is blank: name a file"),
    ("MULTIVEC_SEARCH__PROFILE_PATH", "/etc", "search.profile_path: '/etc' is a folder: name a file"),
    # "" means unset (the backup tests rely on it); spaces were taken as the URL: "cannot reach the service at  "
    ("MULTIVEC_SERVICE_URL", "  ", "service_url: MULTIVEC_SERVICE_URL '  ' is blank: name the service's URL"),
])
def test_a_setting_out_of_its_bounds_stops_the_start_in_one_line(tmp_path: Path, variable: str, value: str,
                                                                 named: str) -> None:
    done = run_launch(["app.cli", "serve", "--port", str(free_port())], cwd=tmp_path, env={variable: value})
    assert_one_clear_line(done, "settings from the environment are invalid", named)


def numeric_settings() -> list[tuple[str, ...]]:
    """The path of every number among the settings (through nested models; maps of numbers, weights and
    deadlines, have validators of their own)."""
    import types
    import typing

    from pydantic import BaseModel

    from app.settings import Settings

    def walk(model: type[BaseModel], where: tuple[str, ...]) -> list[tuple[str, ...]]:
        found = []
        for name, info in model.model_fields.items():
            kinds = ({info.annotation, *typing.get_args(info.annotation)}
                     if typing.get_origin(info.annotation) in (typing.Union, types.UnionType) else {info.annotation})
            if kinds & {int, float}:
                found.append((*where, name))
            found += [p for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)
                      for p in walk(k, (*where, name))]
        return found

    return walk(Settings, ())


def path_settings() -> list[tuple[str, ...]]:
    """The path of every file or folder among the settings (`Path`, or `Path | None`), through nested models."""
    import types
    import typing

    from pydantic import BaseModel

    from app.settings import Settings

    def walk(model: type[BaseModel], where: tuple[str, ...]) -> list[tuple[str, ...]]:
        found = []
        for name, info in model.model_fields.items():
            kinds = ({info.annotation, *typing.get_args(info.annotation)}
                     if typing.get_origin(info.annotation) in (typing.Union, types.UnionType) else {info.annotation})
            if any(isinstance(k, type) and issubclass(k, Path) for k in kinds):
                found.append((*where, name))
            found += [p for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)
                      for p in walk(k, (*where, name))]
        return found

    return walk(Settings, ())


@pytest.mark.parametrize("path", path_settings(), ids=".".join)
def test_every_path_setting_refuses_a_blank_value_naming_it(path: tuple[str, ...]) -> None:
    from pydantic import ValidationError

    from app.launch import validation_line
    from app.settings import Settings

    assert len(path_settings()) >= 4  # store.path, encoders.cache_dir, backup_dir, search.profile_path
    for value in ("", "  "):
        given: dict[str, object] = {path[-1]: value}
        for part in reversed(path[:-1]):
            given = {part: given}
        with pytest.raises(ValidationError) as refused:
            Settings(**given)  # type: ignore[arg-type]
        line = validation_line(refused.value)
        assert line.startswith(f"{'.'.join(path)}: {value!r} is blank: name a "), line
        assert ";" not in line  # one reason, said once


@pytest.mark.parametrize("path", numeric_settings(), ids=".".join)
def test_every_numeric_setting_refuses_a_negative_and_a_huge_value(path: tuple[str, ...]) -> None:
    from pydantic import ValidationError

    from app.settings import Settings

    for value in (-1, 10**12):
        given: dict[str, object] = {path[-1]: value}
        for part in reversed(path[:-1]):
            given = {part: given}
        with pytest.raises(ValidationError):
            Settings(**given)  # type: ignore[arg-type]


def test_a_misspelt_variable_is_one_warning_naming_the_closest_setting(held_folder: Path) -> None:
    env = {"MULTIVEC_STORE__PATH": str(held_folder), "MULTIVEC_SERACH__BUDGET_MS": "100",
           "MULTIVEC_SEARCH__BUGDET_MS": "100", "MULTIVEC_NOTHING_LIKE_IT": "1",
           "MULTIVEC_SEARCH__DEADLINES_MS__BODY": "50"}  # a map's key: read (and checked) by the setting
    done = run_launch(["app.cli", "serve", "--port", str(free_port())], cwd=held_folder.parent, env=env)
    assert done.returncode != 0  # the folder is held: the start stops after the warnings
    warned = [line for line in done.stderr.splitlines() if "is not a setting" in line]
    assert len(warned) == 3, done.stderr
    for typo in ("MULTIVEC_SEARCH__BUGDET_MS", "MULTIVEC_SERACH__BUDGET_MS"):
        assert any(f"{typo} is not a setting and is ignored: did you mean MULTIVEC_SEARCH__BUDGET_MS?" in line
                   for line in warned), (typo, warned)
    other = next(line for line in warned if "MULTIVEC_NOTHING_LIKE_IT" in line)
    assert "did you mean" not in other
    assert "DEADLINES_MS__BODY" not in done.stderr
    # every other command says so too, once, and runs as before
    for command in (["app.versioning.cli", "--help"], ["app.eval.cli", "--help"]):
        ran = run_launch(command, cwd=held_folder.parent, env=env)
        assert ran.returncode == 0, ran.stderr
        lines = [line for line in ran.stderr.splitlines() if "is not a setting" in line]
        assert len(lines) == 3 and all(": warning: MULTIVEC_" in line for line in lines), ran.stderr


def test_a_setting_named_in_the_wrong_group_is_pointed_at_its_group() -> None:
    from app.settings import Settings
    from app.settings_checks import unknown_variable_lines

    lines = unknown_variable_lines({"MULTIVEC_LIMITS__MAX_LIMIT": "0", "MULTIVEC_MAX_LIMIT": "1"}, Settings)
    assert lines == [f"{v} is not a setting and is ignored: did you mean MULTIVEC_SEARCH__MAX_LIMIT?"
                     for v in ("MULTIVEC_LIMITS__MAX_LIMIT", "MULTIVEC_MAX_LIMIT")]


@pytest.mark.parametrize("command", [
    ["app.eval.cli", "somewhere", "--index-dir", ""],
    ["app.eval.cli", "somewhere", "--out", " "],
    ["app.versioning.cli", "validate", "--out", ""],
    ["app.backup_cli", "backup", ""],
    ["app.backup_cli", "restore", " "],
])
def test_a_blank_path_argument_is_refused_before_anything_is_written(tmp_path: Path, command: list[str]) -> None:
    # a blank path was the caller's own folder: evaluate built its store there, validate wrote its report there
    done = run_launch(command, cwd=tmp_path, env={"MULTIVEC_STORE__PATH": str(tmp_path / "data")})
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "is blank" in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no store, report or backup in the caller's folder


@pytest.mark.parametrize("command", [["app.backup_cli", "backup"], ["app.backup_cli", "restore", "--latest"],
                                     ["app.versioning.cli", "status"], ["app.cli", "load", "corpus.jsonl"]])
def test_a_blank_service_url_is_refused_by_every_command_that_reads_it(tmp_path: Path, command: list[str]) -> None:
    done = run_launch(command, cwd=tmp_path, env={"MULTIVEC_STORE__PATH": str(tmp_path / "data"),
                                                  "MULTIVEC_SERVICE_URL": " "})
    assert_one_clear_line(done, "MULTIVEC_SERVICE_URL ' ' is blank: name the service's URL")
    assert "cannot reach" not in done.stderr and not (tmp_path / "data").exists()


@pytest.mark.parametrize(("args", "env_url", "undo"), [([], "http://127.0.0.1:9", "unset MULTIVEC_SERVICE_URL"),
                                                     (["--url", "http://127.0.0.1:9"], "", "drop --url")])
def test_restore_latest_through_the_service_says_how_to_restore(tmp_path: Path, args: list[str], env_url: str,
                                                                undo: str) -> None:
    # a tester: with MULTIVEC_SERVICE_URL set, `--latest` was always refused, saying not what to do instead
    done = run_launch(["app.backup_cli", "restore", "--latest", *args], cwd=tmp_path,
                      env={"MULTIVEC_STORE__PATH": str(tmp_path / "data"), "MULTIVEC_SERVICE_URL": env_url})
    assert_one_clear_line(done, "--latest picks from this machine's backup folder", "http://127.0.0.1:9",
                          'run scripts/restore NAME (POST /admin/restore {"name": NAME}',
                          f"stop the service and {undo}")
    assert not (tmp_path / "data").exists()


def test_a_backup_folder_naming_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    done = run_launch(["app.backup_cli", "backup", "a-file"], cwd=tmp_path,
                      env={"MULTIVEC_STORE__PATH": str(tmp_path / "data")})
    assert_one_clear_line(done, "backup folder:", "is not a folder")


# Every argument naming where a command writes (a report folder, a store it builds, a file it writes), with the
# existing file `taken` given to it: each was read only when the report was written, at the end of the run.
WRITES = [
    (["app.eval.cli", "ds", "--out", "{w}"], "--out"),
    (["app.eval.cli", "ds", "--index-dir", "{w}"], "--index-dir"),
    (["app.eval.cli", "compare", "ds", "--index-dir", "x", "--side", "a=title:v1", "--out", "{w}"], "--out"),
    (["app.eval.bench", "--out", "{w}"], "--out"),
    (["app.eval.bench", "--keep-dir", "{w}"], "--keep-dir"),
    (["app.eval.bench", "--service-data-dir", "{w}"], "--service-data-dir"),
    (["app.eval.sizing", "ds", "--out", "{w}"], "--out"),
    (["app.eval.sizing", "ds", "--work-dir", "{w}"], "--work-dir"),
    (["app.eval.bench_splade", "--out", "{w}"], "--out"),
    (["app.versioning.cli", "validate", "--beir", "ds", "--out", "{w}"], "--out"),
    (["app.eval.cli", "install", "--index-dir", "{w}"], "--index-dir"),  # was "settings are invalid", exit 1
]


@pytest.mark.parametrize(("command", "option"), WRITES, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_a_place_to_write_that_is_a_file_is_refused_at_once(tmp_path: Path, command: list[str], option: str) -> None:
    (tmp_path / "taken").write_text("a report from before")
    done = run_launch([a.replace("{w}", "taken") for a in command], cwd=tmp_path,
                      env={"MULTIVEC_STORE__PATH": str(tmp_path / "data")})
    assert done.returncode == 2, done.stderr
    assert_one_clear_line(done, f"argument {option}: '{tmp_path / 'taken'}' is not a folder: name a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # nothing built, nothing written


@pytest.mark.parametrize(("command", "what"), [
    (["app.eval.cli", "ds", "--out", "/proc/multivec-report"], "argument --out: '/proc/multivec-report' cannot be "
                                                               "written (/proc, where it would be made)"),
    (["app.versioning.cli", "validate", "--beir", "ds", "--out", "taken/reports"],
     "argument --out: '{t}/taken/reports' is not a folder ({t}/taken is a file)"),
    (["app.eval.canary", "make", "ds", "--out", "."], "argument --out: '{t}' is a folder: name a file"),
    (["app.eval.canary", "make", "ds", "--out", "/proc/pairs.jsonl"], "argument --out: '/proc' cannot be written"),
    (["app.backup_cli", "backup", "/proc/multivec-backup"], "backup folder: '/proc/multivec-backup' cannot be written"),
])
def test_a_place_that_cannot_be_written_is_refused_at_once(tmp_path: Path, command: list[str], what: str) -> None:
    # /proc takes no new file, even from root (whom permission bits do not stop): a real write is tried
    (tmp_path / "taken").write_text("a file")
    done = run_launch(command, cwd=tmp_path, env={"MULTIVEC_STORE__PATH": str(tmp_path / "data")})
    assert done.returncode == 2, done.stderr
    assert_one_clear_line(done, what.replace("{t}", str(tmp_path)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_a_writable_place_is_taken_and_the_check_leaves_nothing(tmp_path: Path) -> None:
    from app.settings_checks import out_file, out_folder

    (tmp_path / "reports").mkdir()
    assert out_folder(str(tmp_path / "reports")) == tmp_path / "reports"
    assert out_folder(str(tmp_path / "new" / "deeper")) == tmp_path / "new" / "deeper"  # made later, by the run
    assert out_file(str(tmp_path / "pairs.jsonl")) == tmp_path / "pairs.jsonl"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"] and not any((tmp_path / "reports").iterdir())


@pytest.mark.parametrize(("command", "what"), [
    (["app.eval.cli", "ds", "--out", "dangling"], "argument --out: '{t}/dangling' is a symlink to '{t}/nowhere/x', "
                                                  "which does not exist: make it, or name another place"),
    (["app.eval.cli", "ds", "--out", "dangling/report"], "argument --out: '{t}/dangling' is a symlink to "
                                                         "'{t}/nowhere/x', which does not exist ('{t}/dangling/report' "
                                                         "lies under it)"),
    (["app.eval.cli", "ds", "--index-dir", "loop"], "argument --index-dir: '{t}/loop' is a symlink loop: name another"),
    (["app.versioning.cli", "validate", "--beir", "ds", "--out", "loop/x"], "argument --out: '{t}/loop' is a symlink "
                                                                           "loop ('{t}/loop/x' lies under it)"),
    (["app.eval.canary", "make", "ds", "--out", "dangling"], "argument --out: '{t}/dangling' is a symlink to"),
    (["app.eval.canary", "make", "ds", "--out", "loop"], "argument --out: '{t}/loop' is a symlink loop"),
    (["app.backup_cli", "backup", "dangling"], "backup folder: '{t}/dangling' is a symlink to '{t}/nowhere/x', which"),
    (["app.backup_cli", "backup", "loop"], "backup folder: '{t}/loop' is a symlink loop"),
])
def test_a_place_to_write_that_is_a_symlink_to_nothing_is_refused_at_once(tmp_path: Path, command: list[str],
                                                                         what: str) -> None:
    # a tester: `exists()` is False for both, so they passed as places to make; the write failed at the end
    # ("File exists" after a whole evaluation; backup: "not empty")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere" / "x")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    done = run_launch(command, cwd=tmp_path, env={"MULTIVEC_STORE__PATH": str(tmp_path / "data")})
    assert done.returncode == 2, done.stderr
    assert_one_clear_line(done, what.replace("{t}", str(tmp_path)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling", "loop"]


def test_a_file_setting_may_name_a_link_to_a_file_still_to_be_written_but_not_a_loop(tmp_path: Path) -> None:
    from app.settings_checks import a_file

    (tmp_path / "profile.json").symlink_to(tmp_path / "written-later.json")  # the service reads it once it is there
    assert a_file(tmp_path / "profile.json") == tmp_path / "profile.json"
    (tmp_path / "loop.json").symlink_to(tmp_path / "loop.json")
    with pytest.raises(ValueError, match="is a symlink loop"):
        a_file(tmp_path / "loop.json")


# A default place to write, under a file `blocker` in the folder the command runs from (the repository root, under
# scripts/*): argparse runs no `type` on a default, so each was found only when the report was written, at the end.
DEFAULTS = [
    (["app.eval.cli", "ds"], "reports", "argument --out: 'reports/eval-ds-test' is not a folder (reports is a file)"),
    (["app.eval.cli", "ds", "--split", "dev"], "reports", "'reports/eval-ds-dev' is not a folder"),
    (["app.eval.cli", "compare", "ds", "--index-dir", "x", "--side", "a=title:v1"], "reports",
     "argument --out: 'reports/compare-ds-test' is not a folder (reports is a file)"),
    (["app.versioning.cli", "validate", "--beir", "ds"], "reports",
     "argument --out: 'reports/migrations' is not a folder (reports is a file)"),
    (["app.eval.bench"], "benchmarks", "argument --out: 'benchmarks/results' is not a folder (benchmarks is a file)"),
    (["app.eval.sizing", "ds"], "benchmarks", "argument --out: 'benchmarks/results/sizing' is not a folder"),
    (["app.eval.bench_splade"], "benchmarks", "argument --out: 'benchmarks/results/splade' is not a folder"),
]


@pytest.mark.parametrize(("command", "blocker", "what"), DEFAULTS, ids=lambda v: " ".join(v) if isinstance(v, list)
                         else v)
def test_a_default_place_to_write_under_a_file_is_refused_at_once(tmp_path: Path, command: list[str], blocker: str,
                                                                  what: str) -> None:
    (tmp_path / blocker).write_text("a file where the default report folder goes")
    full = {**os.environ, "PYTHONPATH": str(ROOT), "MULTIVEC_CALLER_DIR": str(tmp_path),
            "MULTIVEC_STORE__PATH": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "app.launch", *command], cwd=tmp_path, env=full,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert_one_clear_line(done, what, "(the default: give --out another place)")
    assert sorted(p.name for p in tmp_path.iterdir()) == [blocker]


def test_the_default_evaluation_index_under_a_file_is_refused_at_once(tmp_path: Path) -> None:
    import uuid

    name = f"ds-{uuid.uuid4().hex[:12]}"
    blocker = Path(f"/tmp/eval-{name}")  # evaluate's default --index-dir, /tmp/eval-<dataset>
    blocker.write_text("a file")
    try:
        done = run_launch(["app.eval.cli", name, "--out", "report"], cwd=tmp_path)
    finally:
        blocker.unlink()
    assert done.returncode == 2, done.stderr
    assert_one_clear_line(done, f"argument --index-dir: '{blocker}' is not a folder: name a folder (the default")
    assert not any(tmp_path.iterdir())


def test_canary_make_writes_into_a_folder_still_to_be_made(tmp_path: Path) -> None:
    # out_file takes a path whose folder does not exist yet (it "can be made"): make made the folder
    from tests.unit.test_corpus import beir

    done = run_launch(["app.eval.canary", "make", str(beir(tmp_path / "ds")), "--out", "new/pairs.jsonl"],
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "new" / "pairs.jsonl").read_text().splitlines()) == 2


def test_json_nested_too_deeply_to_decode_in_a_file_a_command_reads_is_one_line(tmp_path: Path) -> None:
    """`scripts/load` on a JSONL line nested 5,000 levels, and `evaluate install --profile` on a file nested
    100,000, ended in a traceback of 30-38 lines (a break test)."""
    deep = "[" * 5000 + "]" * 5000
    (tmp_path / "deep.jsonl").write_text(deep + "\n")
    done = run_launch(["app.cli", "load", "--direct", str(tmp_path / "deep.jsonl")], cwd=tmp_path,
                      env={"MULTIVEC_STORE__PATH": str(tmp_path / "data")})
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"{tmp_path / 'deep.jsonl'}:1: nested too deeply to decode" in done.stderr  # the record, by file:line
    good = '{"id": "%s", "title": "A title", "body": "A body of text."}'
    (tmp_path / "mixed.jsonl").write_text("\n".join([good % "a", '{"id": "x", "metadata": ' + deep + "}", good % "b"]))
    done = run_launch(["app.cli", "load", "--direct", "--skip-invalid", str(tmp_path / "mixed.jsonl")], cwd=tmp_path,
                      env={"MULTIVEC_STORE__PATH": str(tmp_path / "data2")})  # passed over, as any refused record
    assert done.returncode == 0 and "mixed.jsonl:2: nested too deeply to decode" in done.stderr, done.stderr
    assert "loaded 2 documents, skipped 1" in done.stderr + done.stdout
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    done = run_launch(["app.eval.cli", "install", "--index-dir", str(tmp_path / "idx"), "--profile", "deep.json"],
                      cwd=tmp_path)
    assert_one_clear_line(done, "input nested too deeply to read")
