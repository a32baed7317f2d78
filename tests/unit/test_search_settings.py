"""Search settings that cannot work fail the start with one line naming them, not every search later."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.errors import UnknownSpace
from app.launch import one_line
from app.repos.profiles import ProfileRepo
from app.services.plans import check_named_spaces
from app.settings import SearchSettings, Settings

BAD_ENV = [
    ("RRF_K", "0", "search.rrf_k"),
    ("RRF_K", "100001", "search.rrf_k"),
    ("PREFETCH_LIMIT", "0", "search.prefetch_limit"),
    ("PREFETCH_LIMIT", "-5", "search.prefetch_limit"),
    ("DEFAULT_LIMIT", "0", "search.default_limit"),
    ("DEFAULT_LIMIT", "500", "default_limit (500) is over search.max_limit (100)"),
    ("MAX_LIMIT", "0", "search.max_limit"),
    ("WEIGHTS", '{"body": "nan"}', "a weight is a finite number from 0 to 1000"),
    ("WEIGHTS", '{"body": -1}', "a weight is a finite number from 0 to 1000"),
    ("WEIGHTS", '{"body": 1e9}', "a weight is a finite number from 0 to 1000"),
    ("DEFAULT_FIELDS", "[]", "search.default_fields"),
]


@pytest.mark.parametrize(("name", "value", "named"), BAD_ENV, ids=[f"{n}={v}" for n, v, _ in BAD_ENV])
def test_a_search_setting_out_of_range_fails_the_start_naming_it(monkeypatch: pytest.MonkeyPatch, name: str,
                                                                   value: str, named: str) -> None:
    monkeypatch.setenv(f"MULTIVEC_SEARCH__{name}", value)
    with pytest.raises(ValidationError) as e:
        Settings()
    line = one_line(e.value)
    assert line is not None and line.startswith("settings are invalid: ") and named in line, line


def test_a_profile_file_that_does_not_read_fails_the_start(tmp_path: Path) -> None:
    broken, half = tmp_path / "broken.json", tmp_path / "half.json"
    broken.write_text("{bad")
    half.write_text(json.dumps({"fusion": "dbsf"}))  # no weights, versions ...
    with pytest.raises(ValidationError, match="is not a readable JSON file"):
        SearchSettings(profile_path=broken)
    with pytest.raises(ValidationError, match="is not a ranking profile"):
        SearchSettings(profile_path=half)
    assert SearchSettings(profile_path=tmp_path / "later.json").profile_path  # not there yet: no profile until it is


def test_a_profile_file_broken_while_serving_keeps_the_last_good_one(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    import os

    path = tmp_path / "profile.json"
    good = {"name": "p", "version": 1, "fusion": "dbsf", "rrf_k": 60, "weights": {"document": 1.0},
            "vector_versions": {"document": "document.minilm-l6-int8.v1"}}
    path.write_text(json.dumps(good))
    repo = ProfileRepo(store=None, alias="documents", profile_path=path)  # type: ignore[arg-type]  # file only
    assert repo.profile() is not None and repo.profile().weights == {"document": 1.0}  # type: ignore[union-attr]
    path.write_text('{"fusion": "dbsf", "weigh')  # half-written
    os.utime(path, (1, 1))  # a new mtime for certain
    with caplog.at_level(logging.ERROR, logger="multivec.profiles"):
        assert repo.profile().weights == {"document": 1.0}  # type: ignore[union-attr]
    assert "does not read" in caplog.text


def test_settings_naming_a_space_the_collection_lacks_fail_the_start() -> None:
    spaces = ["title", "body", "document", "keywords"]
    check_named_spaces(SearchSettings(), spaces)  # the built-in weights name the optional splade: fine
    check_named_spaces(SearchSettings(default_fields=["body", "keywords"], weights={"body": 2.0, "nope": 0.0}), spaces)
    with pytest.raises(UnknownSpace, match=r"search.default_fields names spaces this collection does not have: "
                                           r"\['nope'\]"):
        check_named_spaces(SearchSettings(default_fields=["nope"]), spaces)
    with pytest.raises(UnknownSpace, match=r"search.weights .*\['bdy'\]"):
        check_named_spaces(SearchSettings(weights={"bdy": 1.0}), spaces)
