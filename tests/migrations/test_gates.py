"""The promote and retire gates as pure decisions, and the migration files as declarations."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.gates import Coverage, Verdict, parse_duration, promote_gate, retire_gate
from app.errors import InvalidInput
from app.versioning.declare import AddVersion, Migration, Rebuild, ancestry, default_folder, load_folder

FULL = Coverage(10, 10)


def verdict(baseline: float | None, candidate: float | None) -> Verdict:
    return Verdict(target="t.m.v2", metric="fused nDCG@10", baseline=baseline, candidate=candidate, overlap=0.8,
                   queries=5)


def test_promote_gate_needs_full_coverage_and_a_validation() -> None:
    gate = promote_gate(coverage=Coverage(9, 10), verdict=None, margin=0.02, force=False)
    assert not gate.allowed
    assert any("coverage is 9/10" in b for b in gate.blockers)
    assert any("run validate first" in b for b in gate.blockers)


def test_promote_gate_refuses_a_candidate_worse_than_the_margin() -> None:
    assert not promote_gate(coverage=FULL, verdict=verdict(0.60, 0.55), margin=0.02, force=False).allowed
    assert promote_gate(coverage=FULL, verdict=verdict(0.60, 0.59), margin=0.02, force=False).allowed
    assert promote_gate(coverage=FULL, verdict=verdict(0.60, 0.55), margin=0.10, force=False).allowed


def test_promote_gate_refuses_a_space_that_loses_alone_though_the_fused_search_does_not() -> None:
    # measured on SciFact: title v2 alone -0.08 nDCG@10, fused default (title weighted 0) +0.005
    v = Verdict(target="t.m.v2", metric="fused nDCG@10", baseline=0.70, candidate=0.705, overlap=0.86, queries=809,
                others={"space nDCG@10": -0.08})
    gate = promote_gate(coverage=FULL, verdict=v, margin=0.02, force=False)
    assert not gate.allowed
    assert gate.blockers == ("validation: space nDCG@10 changes by -0.0800, worse than the margin of 0.0200 "
                             "(the migrated space alone; the fused default may not weigh it)",)
    assert "fused nDCG@10 0.7000 -> 0.7050 (+0.0050" in " ".join(gate.notes)
    assert v.deltas == pytest.approx({"fused nDCG@10": 0.005, "space nDCG@10": -0.08})
    assert promote_gate(coverage=FULL, verdict=v, margin=0.10, force=False).allowed  # a margin the operator chose


def test_promote_gate_refuses_when_either_the_fused_or_the_space_alone_falls_past_the_margin() -> None:
    def gate(fused: float, alone: float) -> bool:
        v = Verdict(target="t.m.v2", metric="fused nDCG@10", baseline=0.5, candidate=0.5 + fused, overlap=0.9,
                    queries=10, others={"space nDCG@10": alone})
        return promote_gate(coverage=FULL, verdict=v, margin=0.02, force=False).allowed

    assert gate(0.0, 0.0) and gate(-0.01, -0.019) and gate(+0.1, +0.1)
    assert not gate(-0.03, 0.0) and not gate(0.0, -0.03) and not gate(-0.03, -0.03)


def test_a_rebuild_verdict_holds_each_changed_space_to_the_margin() -> None:
    v = Verdict(target="docs__2", metric="fused nDCG@10", baseline=0.6, candidate=0.6, overlap=1.0, queries=10,
                others={"space title nDCG@10": 0.0, "space summary nDCG@10": -0.05})
    gate = promote_gate(coverage=FULL, verdict=v, margin=0.02, force=False)
    assert not gate.allowed and len(gate.blockers) == 1 and "space summary nDCG@10" in gate.blockers[0]


def test_an_override_is_described_for_the_record_only_when_forced_past_a_blocker() -> None:
    v = Verdict(target="t.m.v2", metric="fused nDCG@10", baseline=0.7, candidate=0.7, overlap=0.9, queries=9,
                others={"space nDCG@10": -0.08})
    forced = promote_gate(coverage=FULL, verdict=v, margin=0.02, force=True)
    assert forced.allowed and forced.forced
    record = forced.override(step="promote", at="2026-01-01T00:00:00+00:00", margin=0.02)
    assert record == {"step": "promote", "at": "2026-01-01T00:00:00+00:00", "margin": 0.02,
                      "overrode": list(forced.blockers)}
    clean = promote_gate(coverage=FULL, verdict=v, margin=0.1, force=True)
    assert clean.allowed and clean.override(step="promote", at="now") is None


def test_promote_gate_without_judgments_does_not_compare_quality() -> None:
    gate = promote_gate(coverage=FULL, verdict=verdict(None, None), margin=0.02, force=False)
    assert gate.allowed and "no judgments" in gate.message()


def test_force_allows_but_still_names_the_blockers() -> None:
    gate = promote_gate(coverage=Coverage(0, 10), verdict=verdict(0.6, 0.1), margin=0.02, force=True)
    assert gate.allowed and gate.forced and len(gate.blockers) == 2


def test_retire_gate_waits_for_the_grace_period_and_never_retires_live() -> None:
    assert not retire_gate(age_s=60, grace_s=3600, is_live=False, force=False).allowed
    assert retire_gate(age_s=60, grace_s=3600, is_live=False, force=True).allowed
    assert retire_gate(age_s=7200, grace_s=3600, is_live=False, force=False).allowed
    assert not retire_gate(age_s=7200, grace_s=0, is_live=True, force=True).allowed


def test_durations() -> None:
    assert parse_duration("90") == 90 and parse_duration("15m") == 900 and parse_duration("24h") == 86400
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_the_first_migration_file_declares_title_v2_by_paraphrase_l3() -> None:
    [first, *_] = load_folder(default_folder())
    assert first.revision == "0001" and first.depends_on is None
    assert first.change == AddVersion(space="title", model="paraphrase-minilm-l3", version=2)
    assert Migration.from_dict(first.to_dict()) == first


def test_migration_files_must_form_one_numbered_chain(tmp_path: Path) -> None:
    (tmp_path / "0001_a.py").write_text("from app.versioning.declare import AddVersion\nrevision = '0001'\n"
                                        "change = AddVersion(space='title', model='m', version=2)\n")
    (tmp_path / "0002_b.py").write_text("from app.versioning.declare import Rebuild\nrevision = '0002'\n"
                                        "depends_on = None\nchange = Rebuild(distance={'title': 'dot'})\n")
    with pytest.raises(InvalidInput, match="expected '0001'"):
        load_folder(tmp_path)
    with pytest.raises(InvalidInput, match="unknown distance"):
        Migration.from_dict({"revision": "0003", "change": {"kind": "rebuild", "distance": {"title": "manhattan"}}})
    assert isinstance(Migration.from_dict({"revision": "0003", "change": Rebuild(reembed=("body",)).__dict__}).change,
                      Rebuild)


def test_two_files_declaring_one_revision_are_refused_naming_both(tmp_path: Path) -> None:
    """Two heads (two branches each adding a 0002): `apply` took the second as applied, and it never ran (a break
    test). The folder is refused, naming both files."""
    add = "from app.versioning.declare import AddVersion\nrevision = '{r}'\ndepends_on = {d}\n" \
          "change = AddVersion(space='{s}', model='m', version=2)\n"
    (tmp_path / "0001_a.py").write_text(add.format(r="0001", d=None, s="title"))
    (tmp_path / "0002_b.py").write_text(add.format(r="0002", d="'0001'", s="summary"))
    (tmp_path / "0002_c.py").write_text(add.format(r="0002", d="'0001'", s="document"))
    with pytest.raises(InvalidInput, match="0002_c and 0002_b both declare revision 0002: give one the next free"):
        load_folder(tmp_path)


def test_an_optional_branch_names_the_last_migration_it_needs(tmp_path: Path) -> None:
    add = "from app.versioning.declare import AddVersion\nrevision = '{r}'\ndepends_on = {d}\n" \
          "change = AddVersion(space='title', model='m', version={v})\n"
    (tmp_path / "0001_a.py").write_text(add.format(r="0001", d=None, v=2))
    (tmp_path / "0002_b.py").write_text(add.format(r="0002", d="'0001'", v=3))
    (tmp_path / "0003_c.py").write_text(add.format(r="0003", d="'0001'", v=4))  # skips 0002
    folder = load_folder(tmp_path)
    assert [m.revision for m in ancestry(folder, folder[2])] == ["0001", "0003"]
    assert [m.revision for m in ancestry(folder, folder[1])] == ["0001", "0002"]
    (tmp_path / "0003_c.py").write_text(add.format(r="0003", d="'0004'", v=4))  # not an earlier one
    (tmp_path / "0004_d.py").write_text(add.format(r="0004", d="'0002'", v=5))
    with pytest.raises(InvalidInput, match="0003_c: depends_on is '0004', expected '0002' \\(the one before\\)"):
        load_folder(tmp_path)


def test_a_migration_file_is_checked_like_a_declaration(tmp_path: Path) -> None:
    (tmp_path / "0001_a.py").write_text("from app.versioning.declare import Rebuild\nrevision = '0001'\n"
                                        "change = Rebuild(reembed='body')\n")
    with pytest.raises(InvalidInput, match=r"0001_a\.py\.change\.reembed: expected a list of space names, "
                                           r"got a string \('body'\)"):
        load_folder(tmp_path)
    (tmp_path / "0001_a.py").write_text("from app.versioning.declare import AddVersion\nrevision = '0001'\n"
                                        "change = AddVersion(space='title', model='m', version='2')\n")
    with pytest.raises(InvalidInput, match=r"0001_a\.py\.change\.version: expected a version number"):
        load_folder(tmp_path)
