"""What a migration file declares, and how the numbered files in `migrations/` are loaded."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain.versions import vector_name
from app.errors import InvalidInput
from app.versioning.declare_json import (
    CHANGE_KINDS,
    DATATYPES,
    DISTANCES,
    EXPECTATIONS,
    INDEXES,
    QUANTIZATIONS,
    AddVersionShape,
    MigrationShape,
)
from app.versioning.shape import validate_shape


@dataclass(frozen=True)
class AddVersion:
    """Add `version` of `space`, encoded by `model` (a model alias from settings), in place.

    A space the registry does not have yet is created by its first version: then `field` (which
    text it encodes, as `SpaceSettings.field`) and `space_kind` (`dense`, `multi` or `sparse`) say
    what it is; for an existing space they are left out (or must agree with it). `index` (`hnsw` or
    `rerank`: no HNSW graph, m = 0) is the new version's; None: as the space's settings say.
    """

    space: str
    model: str
    version: int
    field: str | None = None
    space_kind: str | None = None
    index: str | None = None
    kind: str = "add_version"

    @property
    def vector_name(self) -> str:
        """The named vector this change adds, `<space>.<model>.v<version>`."""
        return vector_name(self.space, self.model, self.version)

    @property
    def new_space(self) -> bool:
        """Whether the declaration says what the space is (so it may create it)."""
        return self.field is not None

    def describe(self) -> str:
        """One line for `status` and `plan`: what is added (a new space: what it is), by which model."""
        if self.new_space:
            return (f"add space {self.space!r} ({self.space_kind}, field {self.field}) with version "
                    f"v{self.version} made by model {self.model!r}" + (f", index {self.index}" if self.index else ""))
        return (f"add version v{self.version} of space {self.space!r} made by model {self.model!r}"
                + (f", index -> {self.index}" if self.index else ""))


@dataclass(frozen=True)
class Rebuild:
    """Rebuild the collection into a new physical one, for changes a named vector cannot take in place.

    `distance` changes a space's metric (vectors are copied); `reembed` re-encodes spaces with the
    current settings (say, new chunking); `quantization` (`none`, `scalar`, `binary`) and `on_disk`
    change how a space's vectors are stored, and `collection` the layout (`shard_number`,
    `replication_factor`, `write_consistency_factor`, `on_disk_payload`), starting from the
    `MULTIVEC_COLLECTION__*` settings (vectors are copied); `index` makes a dense or multivector space
    rerank-only (`rerank`: no HNSW graph, m = 0) or searchable on its own again (`hnsw`), vectors
    copied; `datatype` stores a dense or multivector space's floats as `float32` or `float16` (vectors
    copied, not re-embedded; a sparse space has none to change); every other vector is copied as it is.
    """

    distance: dict[str, str] = field(default_factory=dict)
    reembed: tuple[str, ...] = ()
    reason: str = ""
    quantization: dict[str, str] = field(default_factory=dict)
    on_disk: dict[str, bool] = field(default_factory=dict)
    collection: dict[str, int | bool] = field(default_factory=dict)
    index: dict[str, str] = field(default_factory=dict)
    datatype: dict[str, str] = field(default_factory=dict)
    kind: str = "rebuild"

    def describe(self) -> str:
        """One line for `status` and `plan`: what the rebuild changes, and why."""
        parts = [f"{s} distance -> {d}" for s, d in sorted(self.distance.items())]
        parts += [f"re-embed {s}" for s in self.reembed]
        parts += [f"{s} quantization -> {q}" for s, q in sorted(self.quantization.items())]
        parts += [f"{s} vectors {'on disk' if d else 'in RAM'}" for s, d in sorted(self.on_disk.items())]
        parts += [f"{k} -> {v}" for k, v in sorted(self.collection.items())]
        parts += [f"{s} index -> {i}" for s, i in sorted(self.index.items())]
        parts += [f"{s} datatype -> {d}" for s, d in sorted(self.datatype.items())]
        return "rebuild into a new collection: " + (", ".join(parts) or "copy as is") + \
            (f" ({self.reason})" if self.reason else "")


Change = AddVersion | Rebuild


@dataclass(frozen=True)
class Migration:
    """One numbered migration: a revision id, its predecessor, and one change."""

    revision: str
    name: str
    change: Change
    description: str = ""
    depends_on: str | None = None

    @property
    def label(self) -> str:
        """`<revision>_<name>` (or the revision alone), as migration files are named."""
        return f"{self.revision}_{self.name}" if self.name else self.revision

    def to_dict(self) -> dict[str, Any]:
        """JSON form (`from_dict`'s shape), as the admin API takes and the records store it."""
        change: dict[str, Any] = dict(self.change.__dict__)
        if isinstance(self.change, Rebuild):
            change["reembed"] = list(self.change.reembed)
        else:  # as recorded before new spaces and index existed: a re-apply compares equal
            change = {k: v for k, v in change.items() if v is not None or k not in ("field", "space_kind", "index")}
        return {"revision": self.revision, "name": self.name, "description": self.description,
                "depends_on": self.depends_on, "change": change}

    @classmethod
    def from_dict(cls, data: Any, *, path: str = "migration") -> Migration:
        """A declaration as JSON (`to_dict`'s shape), checked field by field.

        Args:
            data: the decoded JSON.
            path: where it sits in the request, for the error (`migration`, `migrations[1]`).

        Raises:
            InvalidInput: naming the field, e.g. `migration.change.reembed: expected a list of
                space names, got a string ('body')`.
        """
        shape = validate_shape(MigrationShape, data, path=path, expectations=EXPECTATIONS,
                               tags={"change": CHANGE_KINDS})
        raw = shape.change
        change: Change
        if isinstance(raw, AddVersionShape):
            change = AddVersion(space=raw.space, model=raw.model, version=raw.version, field=raw.field,
                                space_kind=raw.space_kind, index=raw.index)
        else:
            change = Rebuild(distance=dict(raw.distance), reembed=tuple(raw.reembed), reason=raw.reason,
                             quantization=dict(raw.quantization), on_disk=dict(raw.on_disk),
                             collection=raw.collection.model_dump(exclude_none=True) if raw.collection else {},
                             index=dict(raw.index), datatype=dict(raw.datatype))
        migration = cls(revision=shape.revision, name=shape.name, change=change, description=shape.description,
                        depends_on=shape.depends_on)
        try:
            check(migration)
        except InvalidInput as e:
            raise InvalidInput(f"{path}.change: {e.message}", e.detail) from None
        return migration


def check(m: Migration) -> None:
    """Structural checks that need no store: the registry-dependent ones happen at apply.

    Raises:
        InvalidInput: naming the migration and the rule: a revision not four digits; an add-version with version
            < 1 or only one of field and space_kind; a rebuild with an unknown distance, quantization or index, a
            write consistency factor over the replication factor, an unknown datatype, or nothing to change.
    """
    if not re.fullmatch(r"\d{4}", m.revision):
        raise InvalidInput(f"migration revision must be four digits, got {m.revision!r}")
    c = m.change
    if isinstance(c, AddVersion):
        if c.version < 1:
            raise InvalidInput(f"{m.label}: version must be >= 1")
        if (c.field is None) != (c.space_kind is None):
            raise InvalidInput(f"{m.label}: a new space needs both field and space_kind (an existing space neither)")
        if c.index not in (None, *INDEXES):
            raise InvalidInput(f"{m.label}: unknown index {c.index!r}; use one of {INDEXES}")
    else:
        bad = {s: d for s, d in c.distance.items() if d not in DISTANCES}
        if bad:
            raise InvalidInput(f"{m.label}: unknown distance {bad}; use one of {DISTANCES}")
        bad_q = {s: q for s, q in c.quantization.items() if q not in QUANTIZATIONS}
        if bad_q:
            raise InvalidInput(f"{m.label}: unknown quantization {bad_q}; use one of {QUANTIZATIONS}")
        wc, rf = c.collection.get("write_consistency_factor"), c.collection.get("replication_factor")
        if wc is not None and rf is not None and wc > rf:
            raise InvalidInput(f"{m.label}: write_consistency_factor ({wc}) must be at most replication_factor ({rf})")
        for what, given, known in (("index", c.index, INDEXES), ("datatype", c.datatype, DATATYPES)):
            if bad := {s: v for s, v in given.items() if v not in known}:
                raise InvalidInput(f"{m.label}: unknown {what} {bad}; use one of {known}")
        if not (c.distance or c.reembed or c.quantization or c.on_disk or c.collection or c.index or c.datatype):
            raise InvalidInput(f"{m.label}: a rebuild must change a distance, re-embed a space, or change "
                               "the storage (quantization, on_disk, index, datatype) or the layout (collection)")


_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.py$")


def load_file(path: Path) -> Migration:
    """Import one migration file: it sets `revision`, `depends_on` and `change`; its docstring describes it.

    Raises:
        InvalidInput: the name is not `NNNN_some_name.py`, the file cannot be imported (a syntax error, named by
            `file:line`, or an error raised while importing it), its `revision` differs
            from the name's, its `change` is not an `AddVersion` or `Rebuild`, or the change fails the checks of
            a declaration sent to the API.
    """
    m = _FILE.match(path.name)
    if not m:
        raise InvalidInput(f"{path.name}: migration files are named NNNN_some_name.py")
    spec = importlib.util.spec_from_file_location(f"_migration_{m.group(1)}", path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:  # a migration file is the operator's code: its error is one line naming file:line
        raise InvalidInput(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    except Exception as e:  # anything the file raises while it is imported
        raise InvalidInput(f"{path}:{_raised_at(e, path)}: fails on import: {type(e).__name__}: {e}") from None
    revision = str(getattr(module, "revision", m.group(1)))
    if revision != m.group(1):
        raise InvalidInput(f"{path.name}: revision {revision!r} does not match the file name")
    change = getattr(module, "change", None)
    if not isinstance(change, AddVersion | Rebuild):
        raise InvalidInput(f"{path.name}: set `change = AddVersion(...)` or `change = Rebuild(...)`")
    doc = (module.__doc__ or "").strip().splitlines()
    # the same checks as a declaration sent to the API: `Rebuild(reembed="body")` is refused here,
    # not read as the spaces b, o, d, y
    return Migration.from_dict({"revision": revision, "name": m.group(2),
                                "description": doc[0] if doc else change.describe(),
                                "depends_on": getattr(module, "depends_on", None), "change": dict(change.__dict__)},
                               path=path.name)


def _raised_at(error: BaseException, path: Path) -> int | str:
    """The line of `path` where `error` was raised (the innermost frame in that file), or `?`."""
    import traceback

    lines = [f.lineno for f in traceback.extract_tb(error.__traceback__) if Path(f.filename) == path]
    return lines[-1] if lines and lines[-1] is not None else "?"


def load_folder(folder: Path) -> list[Migration]:
    """Every migration in `folder`, in order, checked to form one tree: the first depends on nothing,
    each other on an earlier one (usually the one before; an optional branch, such as 0008, names the
    last migration it needs, so applying it does not apply the optional ones between).

    Raises:
        InvalidInput: no such folder, a file `load_file` refuses, or a `depends_on` that breaks the tree.
    """
    if not folder.is_dir():
        raise InvalidInput(f"no migrations folder at {folder}")
    migrations = [load_file(p) for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")]
    seen: list[str] = []
    for m in migrations:
        if m.revision in seen:  # two heads: `apply` skipped the second as applied, and it never ran (a break test)
            twin = next(o.label for o in migrations if o.revision == m.revision)
            raise InvalidInput(f"{m.label} and {twin} both declare revision {m.revision}: give one the next free "
                               "revision (and its depends_on), as two Alembic heads are merged")
        if (m.depends_on is None) != (not seen) or (m.depends_on is not None and m.depends_on not in seen):
            expected = (f"{seen[-1]!r} (the one before) or another earlier revision" if seen
                        else "None (it is the first)")
            raise InvalidInput(f"{m.label}: depends_on is {m.depends_on!r}, expected {expected} "
                               "(each migration names one it follows, like Alembic revisions)")
        seen.append(m.revision)
    return migrations


def ancestry(migrations: list[Migration], target: Migration) -> list[Migration]:
    """`target` and every migration it depends on, directly or not, in revision order: what applying
    up to `target` applies (a branch it is not on is left alone)."""
    by_revision = {m.revision: m for m in migrations}
    chain: list[Migration] = []
    current: Migration | None = target
    while current is not None:
        chain.append(current)
        current = by_revision.get(current.depends_on) if current.depends_on else None
    return sorted(chain, key=lambda m: m.revision)


def default_folder() -> Path:
    """`migrations/` at the project root (beside `app/`)."""
    return Path(__file__).resolve().parents[2] / "migrations"
