"""The documentation works as written: its commands parse, its datasets and splits exist, every setting is listed."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel

from app.settings import Settings

ROOT = Path(__file__).parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PLACEHOLDER = re.compile(r"[\[<]|\.\.\.|\b[A-Z]{3,}\b")  # [--batch 256], <corpus>, DIR, DATASET


def commands(text: str) -> list[str]:
    """Every `scripts/...` command in code blocks (continuation lines joined) and inline code spans."""
    found: list[str] = []
    for block in re.findall(r"```[^\n]*\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            found.extend(m.group(0) for m in re.finditer(r"scripts/[\w.]+[^#\n]*", line))
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    found.extend(span.replace("\n", " ") for span in re.findall(r"`(scripts/[^`]+)`", prose))
    return [c.strip() for c in found]


def shared_datasets() -> Path | None:
    """`../shared/datasets` as the docs write it: beside the clone, or beside the main checkout of a worktree."""
    candidates = [ROOT.parent / "shared" / "datasets"]
    try:
        common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"], cwd=ROOT,
                                capture_output=True, text=True, timeout=30).stdout.strip()
        if common:
            candidates.append(Path(common).parent.parent / "shared" / "datasets")
    except (OSError, subprocess.SubprocessError):
        pass
    return next((c for c in candidates if c.is_dir()), None)


def test_the_docs_have_commands_to_check() -> None:
    found = [c for doc in DOCS for c in commands(doc.read_text())]
    assert any(c.startswith("scripts/migrate validate --beir ../shared/datasets/") for c in found)
    assert any(c.startswith("scripts/serve --host") for c in found)


def test_every_dataset_and_split_the_docs_name_exists() -> None:
    datasets = shared_datasets()
    if datasets is None:
        pytest.skip("no ../shared/datasets beside this checkout")
    checked = 0
    for doc in DOCS:
        for command in commands(doc.read_text()):
            words = shlex.split(command)
            for word in words:
                m = re.fullmatch(r"\.\./shared/datasets/([\w-]+)/?", word)
                if not m:
                    continue
                folder = datasets / m.group(1)
                assert folder.is_dir(), f"{doc.name}: `{command}` names {word}, which does not exist"
                if "--split" in words:
                    split = words[words.index("--split") + 1]
                    assert (folder / "qrels" / f"{split}.tsv").is_file(), (
                        f"{doc.name}: `{command}`: {m.group(1)} has no {split} split "
                        f"(it has {sorted(p.stem for p in (folder / 'qrels').glob('*.tsv'))})")
                checked += 1
    assert checked >= 3


def parsers() -> dict[str, Callable[[], argparse.ArgumentParser]]:
    from app.backup_cli import parser as backup_parser
    from app.cli import load_parser, serve_parser
    from app.versioning.cli import parser

    return {"scripts/migrate": parser, "scripts/serve": serve_parser, "scripts/load": load_parser,
            "scripts/backup": lambda: backup_parser("backup"), "scripts/restore": lambda: backup_parser("restore")}


def test_every_migrate_serve_load_backup_and_restore_command_in_the_docs_parses() -> None:
    checked = 0
    for doc in DOCS:
        for command in commands(doc.read_text()):
            words = shlex.split(command)
            make = parsers().get(words[0])
            if make is None or len(words) == 1 or PLACEHOLDER.search(command):  # `scripts/migrate` names it
                continue
            parser = make()
            last = parser._option_string_actions.get(words[-1])
            if last is not None and last.nargs != 0:  # prose naming an option ("`scripts/migrate --url` calls")
                continue
            try:
                parser.parse_args(words[1:])
            except SystemExit:
                pytest.fail(f"{doc.name}: `{command}` does not parse")
            checked += 1
    assert checked >= 10


def test_the_readme_documents_serves_options() -> None:
    readme = (ROOT / "README.md").read_text()
    from app.cli import serve_parser

    for action in serve_parser()._actions:
        for option in action.option_strings:
            if option not in ("-h", "--help"):
                assert option in readme, f"README does not mention scripts/serve {option}"


def setting_names() -> list[str]:
    names = []
    for name, info in Settings.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names.extend(f"MULTIVEC_{name}__{sub}".upper() for sub in kind.model_fields)
        else:
            names.append(f"MULTIVEC_{name}".upper())
    return names


def documented_settings(readme: str) -> set[str]:
    """Names in the configuration table; `__X` after a full name is shorthand for the same prefix."""
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    out: set[str] = set()
    for row in section.splitlines():
        cell = row.split("|")[1] if row.startswith("|") else ""
        names = re.findall(r"`(MULTIVEC_[A-Z0-9_]+|__[A-Z0-9_]+)`", cell)
        if not names or not names[0].startswith("MULTIVEC_"):
            continue
        prefix = names[0].rsplit("__", 1)[0] if "__" in names[0] else "MULTIVEC"
        out.add(names[0])
        out.update(prefix + n for n in names[1:])
    return out


def test_the_configuration_table_lists_every_setting() -> None:
    documented = documented_settings((ROOT / "README.md").read_text())
    missing = [n for n in setting_names() if n not in documented]
    assert not missing, f"README's configuration table does not list {missing}"


def test_the_docs_point_at_the_schema_json() -> None:
    for doc in DOCS:
        text = doc.read_text()
        assert not re.search(r"(schema|OpenAPI)[^.\n]* at `/schema`", text), (
            f"{doc.name}: the JSON is at /schema/openapi.json")
    assert "`/schema/openapi.json`" in (ROOT / "README.md").read_text()


def test_the_readme_layout_shows_every_folder() -> None:
    """Every tracked folder one or two levels down (`.ci/`, `app/api/`, `tests/unit/`, `benchmarks/results/`, ...)
    starts a line of the README's layout block: the next engineer finds where each thing lives."""
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        pytest.skip(f"git cannot list the tracked files here: {e}")
    if listed.returncode != 0 or not listed.stdout.strip():
        pytest.skip("not a git checkout: the tracked folders are unknown")
    folders = {"/".join(parts[:depth]) for parts in (line.split("/") for line in listed.stdout.splitlines())
               for depth in (1, 2) if len(parts) > depth}
    layout = re.search(r"^## Layout\n+```\n(.*?)```", (ROOT / "README.md").read_text(), re.S | re.M)
    assert layout, "README.md has no `## Layout` section with a code block"
    starts = [line.strip() for line in layout.group(1).splitlines()]
    missing = sorted(f for f in folders if not any(s.startswith(f + "/") for s in starts))
    assert not missing, f"folders the README's layout does not show: {missing}"
