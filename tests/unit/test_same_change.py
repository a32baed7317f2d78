"""Whether an applied migration's record is of a file's change: read as the file is, a field the record predates
taking its default (a tester: a rebuild recorded before `datatype` existed showed its unchanged file as refused)."""

from __future__ import annotations

from app.versioning.declare import AddVersion, Migration, Rebuild
from app.versioning.status import same_change


def test_a_record_older_than_a_field_is_of_the_same_change() -> None:
    m = Migration(revision="0007", name="body_scalar", change=Rebuild(quantization={"body": "scalar"}))
    recorded = m.to_dict()
    recorded["change"] = {k: v for k, v in recorded["change"].items() if k != "datatype"}  # as written before it
    assert same_change(m, {"migration": recorded})


def test_another_change_under_the_same_revision_is_not() -> None:
    m = Migration(revision="0012", name="title_l3", change=AddVersion(space="title", model="m", version=4))
    edited = Migration(revision="0012", name="title_l3", change=AddVersion(space="title", model="m", version=5))
    assert same_change(m, {"migration": m.to_dict()}) and not same_change(edited, {"migration": m.to_dict()})
