"""The JSON shape of a migration declaration (as the admin API takes it): strict, no unknown keys, and
what each field expects, for errors that name it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Strict, StringConstraints, Tag

from app.versioning.shape import Integer, Name, StrictShape

DISTANCES = ("cosine", "dot", "euclid")
QUANTIZATIONS = ("none", "scalar", "binary")
INDEXES = ("hnsw", "rerank")
DATATYPES = ("float32", "float16")
LAYOUT_KEYS = ("shard_number", "replication_factor", "write_consistency_factor", "on_disk_payload")


Revision = Annotated[str, Strict(), StringConstraints(pattern=r"^\d{4}$")]
CHANGE_KINDS = ("add_version", "rebuild")


class AddVersionShape(StrictShape):
    """The JSON of an add-version change: `{kind?, space, model, version}`."""

    kind: Literal["add_version"] = "add_version"
    space: Name
    model: Name
    version: Annotated[Integer, Field(ge=1, le=1_000_000)]
    field: Literal["title", "body", "summary", "entities", "document", "keywords"] | None = None
    space_kind: Literal["dense", "multi", "sparse"] | None = None
    index: Literal["hnsw", "rerank"] | None = None


class LayoutShape(StrictShape):
    """A rebuild's collection layout: the server's cluster fields (None keeps the setting)."""

    shard_number: Annotated[Integer, Field(ge=1, le=1000)] | None = None
    replication_factor: Annotated[Integer, Field(ge=1, le=100)] | None = None
    write_consistency_factor: Annotated[Integer, Field(ge=1, le=100)] | None = None
    on_disk_payload: bool | None = None


class RebuildShape(StrictShape):
    """The JSON of a rebuild change: per-space distance, quantization, on-disk, re-embedded spaces, layout."""

    kind: Literal["rebuild"]
    distance: dict[Name, Literal["cosine", "dot", "euclid"]] = {}
    # a tuple is a list here (Python callers pass `Rebuild(...).__dict__`); a string is not
    reembed: Annotated[list[Name], Field(strict=False, max_length=64)] = []
    reason: Annotated[str, Field(max_length=2000)] = ""
    quantization: dict[Name, Literal["none", "scalar", "binary"]] = {}
    on_disk: dict[Name, bool] = {}
    collection: LayoutShape | None = None
    index: dict[Name, Literal["hnsw", "rerank"]] = {}
    datatype: dict[Name, Literal["float32", "float16"]] = {}


def _change_kind(value: Any) -> Any:
    """`kind` picks the change's shape; a declaration without one adds a version (as files do)."""
    return value.get("kind", "add_version") if isinstance(value, dict) else None


class MigrationShape(StrictShape):
    """The JSON of a migration declaration; `change.kind` picks its shape (default add_version)."""

    revision: Revision
    name: Annotated[str, Field(max_length=200)] = ""
    description: Annotated[str, Field(max_length=2000)] = ""
    depends_on: Revision | None = None
    change: Annotated[Annotated[AddVersionShape, Tag("add_version")] | Annotated[RebuildShape, Tag("rebuild")],
                      Discriminator(_change_kind)]


EXPECTATIONS = {
    ("revision",): 'expected four digits as a string, e.g. "0001"',
    ("depends_on",): 'expected null or the revision it follows, four digits as a string, e.g. "0001"',
    ("change",): 'expected an object: {"kind": "add_version" | "rebuild", ...}',
    ("change", "space"): "expected a space name",
    ("change", "model"): "expected a model alias from the settings",
    ("change", "version"): "expected a version number, an integer >= 1",
    ("change", "field"): "expected null or the field a new space encodes: title, body, summary, entities, "
                         "document or keywords",
    ("change", "space_kind"): "expected null or the kind of a new space: dense, multi or sparse",
    ("change", "reembed"): "expected a list of space names",
    ("change", "reembed", "*"): "expected a space name",
    ("change", "distance"): f"expected a map of space name to one of {', '.join(DISTANCES)}",
    ("change", "distance", "*"): f"unknown distance: expected one of {', '.join(DISTANCES)}",
    ("change", "quantization"): f"expected a map of space name to one of {', '.join(QUANTIZATIONS)}",
    ("change", "quantization", "*"): f"unknown quantization: expected one of {', '.join(QUANTIZATIONS)}",
    ("change", "on_disk"): "expected a map of space name to true or false",
    ("change", "on_disk", "*"): "expected true or false",
    ("change", "collection"): f"expected an object with some of {', '.join(LAYOUT_KEYS)}",
    ("change", "index"): f"expected one of {', '.join(INDEXES)} (a rebuild: a map of space name to one)",
    ("change", "index", "*"): f"unknown index: expected one of {', '.join(INDEXES)}",
    ("change", "datatype"): f"expected a map of space name to one of {', '.join(DATATYPES)}",
    ("change", "datatype", "*"): f"unknown datatype: expected one of {', '.join(DATATYPES)}",
}
