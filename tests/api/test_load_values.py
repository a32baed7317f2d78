"""scripts/load passes each value through as written, for the API's own checks (ops21 F8): a falsy value of the
wrong type is refused as a truthy one is, `text` is never lost to a null `body`, unknown keys are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app.container import Services
from tests.api.test_load import client, doc, load, service, stored, token, write_corpus  # noqa: F401

ROWS: list[dict[str, Any]] = [
    doc(1),
    {"_id": "t0", "title": 0, "text": "a title of zero"},
    {"_id": "tf", "title": False, "text": "a title of false"},
    {"_id": "tn", "title": None, "text": "a title of null"},
    {"_id": "ml", "title": "t", "text": "metadata as a list", "metadata": []},
    {"_id": "ms", "title": "t", "text": "metadata as a string", "metadata": ""},
    {"_id": "se", "title": "t", "text": "a blank summary", "summary": ""},
    {"_id": "bn", "title": "t", "body": None, "text": "the real text"},
    {"_id": "bt", "title": "t", "body": "one body", "text": "another text"},
    {"_id": "bs", "title": "t", "body": "same", "text": "same"},
    {"_id": "nb", "title": "t", "body": None},
    {"_id": "ex", "title": "t", "text": "an extra key", "extra": 1},
    {"_id": "i1", "id": "i2", "title": "t", "text": "two ids"},
    {"_id": "i3", "id": "i3", "title": "t", "text": "the same id twice"},
    doc(2),
]
# id -> what its skip line says: the API's own message for a value, the loader's for a key
REFUSED = {
    "t0": "title: Input should be a valid string", "tf": "title: Input should be a valid string",
    "tn": "title: Input should be a valid string", "ml": "metadata: Input should be a valid dictionary",
    "ms": "metadata: Input should be a valid dictionary", "se": "summary is blank",
    "nb": "body: Input should be a valid string",
}
BY_LOADER = {"bt": "both `body` and `text` are given, with different values: keep one",
             "i1": "both `id` and `_id` are given, with different values: keep one",
             "ex": "unknown field 'extra': a record holds id, _id, title, body, text, summary, entities, metadata"}


def _check(err: str, file: Path) -> None:
    for i, row in enumerate(ROWS, 1):
        if row["_id"] in REFUSED:
            assert f"skipped {row['_id']!r} ({file}:{i}): " in err and REFUSED[row["_id"]] in err, row
        if row["_id"] in BY_LOADER:
            assert f"skipped {file}:{i}: {BY_LOADER[row['_id']]}" in err, row
    assert f"skipped {len(REFUSED) + len(BY_LOADER)} (listed above)" in err


def test_values_the_api_refuses_are_refused_through_the_service_not_rewritten(
        tmp_path: Path, client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    file = write_corpus(tmp_path / "c.jsonl", ROWS)
    assert load(str(file), "--skip-invalid", client=client) == 0
    _check(capsys.readouterr().err, file)
    assert stored(client, *(r["_id"] for r in ROWS), "i2") == ["d1", "bn", "bs", "i3", "d2"]
    assert client.get("/documents/bn").json()["body"] == "the real text"  # `text` when `body` is null
    assert client.get("/documents/bs").json()["body"] == "same"


def test_direct_refuses_the_same_values_with_the_same_words(
        tmp_path: Path, service: Services, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    file = write_corpus(tmp_path / "c.jsonl", ROWS)
    assert load(str(file), "--direct", "--skip-invalid", services=service) == 0
    _check(capsys.readouterr().err, file)
    assert service.ingest.count() == 5


def test_without_skip_invalid_an_unknown_key_stops_the_load_before_anything_is_sent(
        tmp_path: Path, client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    file = write_corpus(tmp_path / "c.jsonl", [doc(1), {"_id": "ex", "title": "t", "text": "x", "tags": ["a"]}])
    assert load(str(file), client=client) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{file}:2: unknown field 'tags'" in line and "(put other values in `metadata`) (id 'ex')" in line
    assert stored(client, "d1", "ex") == []


def test_a_line_that_is_json_but_no_object_is_named_by_its_json_type(
        tmp_path: Path, client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    file = tmp_path / "c.jsonl"
    file.write_text('null\n[1]\n"text"\n{"_id": "d1", "title": "t", "text": "x"}\n')
    assert load(str(file), "--skip-invalid", client=client) == 0
    err = capsys.readouterr().err
    for n, kind in ((1, "null"), (2, "an array"), (3, "a string")):
        assert f"skipped {file}:{n}: not a JSON object but {kind}\n" in err
    assert "NoneType" not in err


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_a_number_json_cannot_carry_is_one_refused_record_not_a_traceback(
        tmp_path: Path, client: TestClient, capsys: pytest.CaptureFixture[str], number: str) -> None:  # noqa: F811
    """A record whose metadata held 1e400, NaN or Infinity ended a load through the service in a traceback after
    the earlier batches were written (`--direct` refused it): a break test. It is a refused record either way."""
    file = tmp_path / "c.jsonl"
    file.write_text(json.dumps(doc(1)) + "\n" + '{"_id": "big", "title": "t", "text": "x", "metadata": {"score": '
                    + number + "}}\n" + json.dumps(doc(2)) + "\n")
    assert load(str(file), "--skip-invalid", client=client) == 0
    err = capsys.readouterr().err
    assert f"{file}:2" in err and "Traceback" not in err and ("out of range" in err or "not a JSON number" in err)
    assert stored(client, "d1", "big", "d2") == ["d1", "d2"]
    assert load(str(file), client=client) != 0  # without --skip-invalid: one line naming it, nothing past it sent
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("line", ['{"_id": "M1", "_id": "M1b", "title": "t", "text": "x"}',
                                  '{"_id": "M1", "title": "t", "text": "x", "metadata": {"a": 1, "a": 2}}'])
def test_a_key_given_twice_is_one_refused_record_not_a_value_lost(
        tmp_path: Path, client: TestClient, capsys: pytest.CaptureFixture[str], line: str) -> None:  # noqa: F811
    """`{"id": "M1", "id": "M1b"}` loaded as M1b, M1 lost without a word (a break test); at any depth."""
    file = tmp_path / "c.jsonl"
    file.write_text(json.dumps(doc(1)) + "\n" + line + "\n")
    assert load(str(file), "--skip-invalid", client=client) == 0
    err = capsys.readouterr().err
    assert f"{file}:2" in err and "appears twice in one object" in err and "Traceback" not in err
    assert stored(client, "d1", "M1", "M1b") == ["d1"]
