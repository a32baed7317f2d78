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
from app.search_settings import builtin_plans
from app.services.plans import check_named_spaces
from app.settings import PlanSettings, SearchSettings, Settings

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
    ("WEIGHTS", '{"title": 0, "body": 0, "document": 0, "keywords": 0}', "search.weights are all 0"),
    ("DEFAULT_FIELDS", '["title"]', "all weigh 0 in search.weights"),  # title weighs 0 by default
    ("DEFAULT_FIELDS", '["document", "document"]', "lists a space twice"),
    ("PLANS", '{"x": {"weights": {"document": NaN}}}', "a weight is a finite number from 0 to 1000"),
    ("PLANS", '{"x": {"weights": {"document": 5000}}}', "a weight is a finite number from 0 to 1000"),
    ("PLANS", '{"x": {"fields": ["document"], "weights": {"document": 0}}}', "all weigh 0"),
    ("PLANS", '{"x": {"rerank": ["body", "body"]}}', "lists a space twice"),
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


GOOD_PROFILE = {"name": "p", "version": 1, "fusion": "dbsf", "rrf_k": 60, "weights": {"document": 1.0},
                "vector_versions": {"document": "document.minilm-l6-int8.v1"}}
UNUSABLE = [({"rrf_k": 0}, "rrf_k 0"), ({"rrf_k": "sixty"}, "rrf_k 'sixty'"), ({"fusion": "xyz"}, "fusion 'xyz'"),
            ({"weights": {"document": float("nan")}}, "weight of 'document'"),
            ({"weights": {"document": -5}}, "weight of 'document'"), ({"weights": [1, 2]}, "weights is not a map"),
            ({"weights": {"document": 1.0, "nope": 1.0}}, "no vector version for that space"),
            ({"weights": {"document": 0.0}}, "every weight is 0"), ({"vector_versions": "x"}, "vector_versions")]


@pytest.mark.parametrize(("change", "named"), UNUSABLE, ids=[n for _, n in UNUSABLE])
def test_a_profile_with_a_value_no_search_could_use_fails_the_start(tmp_path: Path, change: dict, named: str) -> None:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({**GOOD_PROFILE, **change}))
    with pytest.raises(ValidationError, match="is not a ranking profile") as e:
        SearchSettings(profile_path=path)
    assert named in str(e.value)


def test_lowering_max_candidates_is_held_only_against_cascades() -> None:
    own = SearchSettings(max_candidates=5, plans={"c": {"rerank": ["body"], "candidates": 5}})
    assert own.max_candidates == 5
    assert own.plan == "fused"  # the built-ins replaced, the default plan `cascade` with them: `fused` runs
    with pytest.raises(ValidationError, match=r"candidates over search\.max_candidates"):
        SearchSettings(max_candidates=5)  # the built-in cascade asks for 100


def test_a_profile_file_broken_while_serving_keeps_the_last_good_one(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    import os

    path = tmp_path / "profile.json"
    good = {"name": "p", "version": 1, "fusion": "dbsf", "rrf_k": 60, "weights": {"document": 1.0},
            "vector_versions": {"document": "document.minilm-l6-int8.v1"}}
    path.write_text(json.dumps(good))
    repo = ProfileRepo(store=None, alias="documents", profile_path=path)  # type: ignore[arg-type]  # file only
    assert repo.profile() is not None and repo.profile().weights == {"document": 1.0}  # type: ignore[union-attr]
    deep = "[" * 100_000 + "]" * 100_000  # nested past what the decoder reads: every search was a 500 (break test)
    for mtime, broken in enumerate(('{"fusion": "dbsf", "weigh', json.dumps({**good, "rrf_k": 0}), deep), start=1):
        path.write_text(broken)  # half-written; unusable; too deep
        os.utime(path, (mtime, mtime))  # a new mtime for certain
        with caplog.at_level(logging.ERROR, logger="multivec.profiles"):
            assert repo.profile().weights == {"document": 1.0}  # type: ignore[union-attr]
        assert "does not read" in caplog.text
        caplog.clear()


def test_settings_naming_a_space_the_collection_lacks_fail_the_start() -> None:
    spaces = ["title", "body", "document", "keywords"]
    check_named_spaces(SearchSettings(), spaces)  # the built-in weights name the optional splade: fine
    check_named_spaces(SearchSettings(default_fields=["body", "keywords"], weights={"body": 2.0, "nope": 0.0}), spaces)
    with pytest.raises(UnknownSpace, match=r"search.default_fields names spaces this collection does not have: "
                                           r"\['nope'\]"):
        check_named_spaces(SearchSettings(default_fields=["nope"]), spaces)
    with pytest.raises(UnknownSpace, match=r"search.weights .*\['bdy'\]"):
        check_named_spaces(SearchSettings(weights={"bdy": 1.0}), spaces)


def test_a_settings_wide_error_has_no_empty_location(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULTIVEC_SEARCH__DEADLINES_MS", '{"nope": 5}')
    with pytest.raises(ValidationError) as e:
        Settings()
    line = one_line(e.value)
    assert line is not None and ": :" not in line and "names unknown space 'nope'" in line


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_a_plan_no_request_could_name_fails_the_start(name: str) -> None:
    """`MULTIVEC_SEARCH__PLANS='{"": ...}'` started, then `plan: ""` was a 422 while `unknown_plan` listed `''`
    (found by a break test)."""
    with pytest.raises(ValidationError, match="a plan's name is 1 to 200 characters"):
        SearchSettings(plans={name: {"fields": ["body"]}})


def test_plans_without_the_default_plan_fall_back_to_fused_and_the_start_says_so(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`MULTIVEC_SEARCH__PLANS` replaces the built-in plans, the default `cascade` among them: the service still
    starts (on `fused`), and its log says why a search that names no plan runs `fused`."""
    from app.container import build_services
    from app.settings import StoreSettings
    from tests.fakes import FakeEncoderPool

    monkeypatch.setenv("MULTIVEC_SEARCH__PLANS", "{}")
    s = Settings(store=StoreSettings(url=":memory:"))
    assert s.search.plan == "fused" and "holds no plan 'cascade'" in (s.search.plan_fallback or "")
    assert SearchSettings().plan_fallback is None and SearchSettings(plans={}, plan="fused").plan_fallback is None
    with caplog.at_level(logging.WARNING, logger="multivec"):
        build_services(s, encoders=FakeEncoderPool(s.models)).close()  # type: ignore[arg-type]
    assert any("search.plans holds no plan 'cascade'" in r.getMessage() for r in caplog.records)


def test_a_profile_path_with_no_file_is_kept_and_the_start_says_so(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A break test: `MULTIVEC_SEARCH__PROFILE_PATH=/nonexistent.json` started in silence with no profile, the
    stored one ignored too. Kept (a file may be written later), but the start says so in one warning line."""
    from app.container import build_services
    from app.settings import StoreSettings
    from tests.fakes import FakeEncoderPool

    later = tmp_path / "later.json"
    s = Settings(store=StoreSettings(url=":memory:"), search=SearchSettings(profile_path=later))
    with caplog.at_level(logging.WARNING, logger="multivec"):
        build_services(s, encoders=FakeEncoderPool(s.models)).close()  # type: ignore[arg-type]
    said = [r.getMessage() for r in caplog.records if "profile_path" in r.getMessage()]
    assert said == [f"search.profile_path {str(later)!r} does not exist: no ranking profile is used (nor the one "
                    "stored with the data) until a file is written there"]
    later.write_text("{}")
    assert SearchSettings(profile_path=later).startup_notes == []  # there: nothing to say


def test_a_plan_given_field_by_field_replaces_the_built_ins_and_the_start_says_how(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`MULTIVEC_SEARCH__PLANS__CASCADE__MAX_DEMOTION=0.3` was taken silently: it replaced every built-in plan, and
    the default `cascade` became every space fused with its other fields at their defaults (a break test)."""
    monkeypatch.setenv("MULTIVEC_SEARCH__PLANS__CASCADE__MAX_DEMOTION", "0.3")
    notes = Settings().search.startup_notes
    assert len(notes) == 1 and "gone: all, dense, keyword" in notes[0], notes
    assert "cascade differs from the built-in in fields, weights, rerank, candidates_weight, max_demotion" in notes[0]
    assert SearchSettings().startup_notes == [] and SearchSettings(plans=builtin_plans()).startup_notes == []


@pytest.mark.parametrize(("value", "message"), [
    (True, "max_demotion True: a number"), (float("nan"), "finite number"), (-0.1, "greater than or equal to 0"),
    (1e9, "less than or equal to 1000")])
def test_max_demotion_is_a_finite_number_in_range(value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PlanSettings(fields=["document"], rerank=["body"], candidates_weight=1.0, max_demotion=value)


def test_max_demotion_where_no_formula_could_use_it_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"with one rerank space \(body\) and candidates_weight 0 there is none"):
        PlanSettings(fields=["document"], rerank=["body"], max_demotion=0.5)
    assert PlanSettings(fields=["document"], rerank=["body", "entities"], max_demotion=0.5).max_demotion == 0.5
    assert PlanSettings(max_demotion=0.5).max_demotion == 0.5  # a fused plan cascades a rerank-only space it fuses


def test_json_nested_too_deeply_to_decode_in_a_setting_or_the_profile_file_is_one_line(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`MULTIVEC_SPACES` nested 5,000 levels, or a profile file nested 100,000, ended the start in a traceback
    (a break test)."""
    monkeypatch.setenv("MULTIVEC_SPACES", "[" * 5000 + "]" * 5000)
    with pytest.raises(Exception) as err:  # the kind is asserted through the line below
        Settings()
    assert one_line(err.value) == ('settings are invalid: error parsing value for field "spaces": its JSON is nested '
                                   "too deeply to decode (MULTIVEC_SPACES is 5000 levels deep) (MULTIVEC_SPACES or "
                                   "one of its __ parts: a value that is not valid JSON?)")
    monkeypatch.delenv("MULTIVEC_SPACES")
    deep = tmp_path / "profile.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValidationError, match="is not a readable JSON file: nested too deeply to decode"):
        SearchSettings(profile_path=deep)
