"""The portable points export of a backup: written, checked line by line before a restore changes anything, read."""

from __future__ import annotations

import gzip
import json
import math
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app.domain.bounds import check_json_value
from app.domain.documents import point_id
from app.encoders.fastembed_encoder import SparseVec
from app.errors import BackupInvalid, InvalidInput
from app.repos.registry import registry_from_dict
from app.store.base import CollectionConfig, PointWrite, Store, StoredPoint, VectorSpec, VectorValue

PAGE = 256
MAX_LINE_DEPTH = 100  # a point's payload as the API bounds it (MULTIVEC_LIMITS__MAX_JSON_DEPTH is at most 100)


def _plain(value: VectorValue) -> Any:
    """A vector as JSON: a list (dense), a list of lists (multi), {indices, values} (sparse)."""
    if isinstance(value, SparseVec):
        return {"indices": list(value.indices), "values": [float(v) for v in value.values]}
    if hasattr(value, "tolist"):
        return value.tolist()
    return [_plain(v) if not isinstance(v, int | float) else float(v) for v in value]  # type: ignore[union-attr]


def _vector(value: Any) -> VectorValue:
    """A vector read back from JSON (`_plain`'s inverse)."""
    if isinstance(value, dict):
        return SparseVec(indices=tuple(int(i) for i in value["indices"]),
                         values=tuple(float(v) for v in value["values"]))
    return value  # type: ignore[no-any-return]


def _scroll(store: Store, name: str) -> Iterator[StoredPoint]:
    offset: str | None = None
    while True:
        page, offset = store.scroll(name, filter=None, limit=PAGE, offset=offset, with_vectors=True)
        yield from page
        if offset is None:
            return


def export_points(store: Store, name: str, folder: Path) -> str:
    """Write every point of collection `name` into `folder` as `<name>.points.jsonl.gz` (one JSON line a point:
    id, payload, vectors) and return the file's name."""
    file = f"{name}.points.jsonl.gz"
    with gzip.open(folder / file, "wt", encoding="utf-8") as out:
        for point in _scroll(store, name):
            out.write(json.dumps({"id": point.id, "payload": point.payload,
                                  "vectors": {n: _plain(v) for n, v in point.vectors.items()}}) + "\n")
    return file


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _fits(value: Any, spec: VectorSpec) -> bool:
    """Whether a vector read from JSON has its spec's shape: dense `dim` numbers, multi rows of `dim`, sparse
    {indices, values} of one length."""
    if spec.kind == "sparse":
        return (isinstance(value, dict) and set(value) == {"indices", "values"}
                and isinstance(value["indices"], list) and isinstance(value["values"], list)
                and len(value["indices"]) == len(value["values"])
                and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 2**32 for i in value["indices"])
                and all(_number(v) for v in value["values"]))
    rows = value if spec.kind == "multi" else [value]
    return (isinstance(rows, list) and bool(rows)
            and all(isinstance(r, list) and len(r) == spec.dim and all(_number(v) for v in r) for r in rows))


def _points(file: Path) -> Iterator[tuple[int, Any]]:
    """Each line of a points export, numbered from 1, decoded.

    Raises:
        BackupInvalid: the file does not decompress or a line is not JSON (or too deeply nested).
    """
    n = 0
    try:
        with gzip.open(file, "rt", encoding="utf-8") as lines:
            for n, line in enumerate(lines, 1):
                point = json.loads(line)
                check_json_value(point, max_depth=MAX_LINE_DEPTH)
                yield n, point
    except (OSError, EOFError, zlib.error, ValueError, RecursionError, InvalidInput) as e:
        raise BackupInvalid(f"{file} line {n + 1} does not read as a point: {str(e)[:200]} (corrupted or edited)",
                            {"path": str(file), "line": n + 1}) from None


def check_points(file: Path, specs: dict[str, VectorSpec], points: int | None,
                 meaning: Callable[[Any, dict[str, Any]], str | None] = lambda pid, payload: None) -> None:
    """Read a whole points export before a restore changes anything: every line a point whose vectors are of
    `specs`' names and shapes and whose payload means what the service stores there (`meaning(id, payload)`: why
    not, or None), and (`points` not None) as many lines as the manifest records.

    Raises:
        BackupInvalid: naming the file and the first line that is wrong, or the count.
    """
    count, seen = 0, set()
    for count, p in _points(file):
        ok = (isinstance(p, dict) and set(p) == {"id", "payload", "vectors"} and isinstance(p["payload"], dict)
              and _point_id(p["id"]) and isinstance(p["vectors"], dict)
              and all(n in specs and _fits(v, specs[n]) for n, v in p["vectors"].items()))
        if not ok:
            raise BackupInvalid(f"{file} line {count} is not a point of the collection's vectors "
                                f"({', '.join(sorted(specs))}) with an id the store takes (a UUID or a whole number "
                                "from 0 to 2^64 - 1) (corrupted or edited)", {"path": str(file), "line": count})
        problem = meaning(p["id"], p["payload"])
        if problem:
            raise BackupInvalid(f"{file} line {count}: {problem} (corrupted or edited)", {"path": str(file),
                                                                                         "line": count})
        key = str(uuid.UUID(p["id"])) if isinstance(p["id"], str) else p["id"]
        if key in seen:
            raise BackupInvalid(f"{file} line {count} repeats point {p['id']} (corrupted or edited)",
                                {"path": str(file), "line": count})
        seen.add(key)
    if points is not None and count != points:
        raise BackupInvalid(f"{file} holds {count} points; the manifest's points records {points} (corrupted or "
                            "edited)", {"path": str(file), "field": "points"})


def _point_id(pid: object) -> bool:
    """Whether the engines take `pid` as a point id: a UUID string, or a whole number from 0 to 2^64 - 1 (a refused
    id found while importing would leave the collection part-imported: a break test)."""
    if isinstance(pid, bool):
        return False
    if isinstance(pid, int):
        return 0 <= pid < 2**64
    try:
        uuid.UUID(str(pid))
    except ValueError:
        return False
    return isinstance(pid, str)


def import_points(store: Store, name: str, specs: dict[str, VectorSpec], file: Path,
                  config: CollectionConfig | None) -> None:
    """Create collection `name` (`specs`, `config`) and upsert every point of the export `file` in pages."""
    store.create_collection(name, specs, config)
    batch: list[PointWrite] = []
    for _, p in _points(file):
        batch.append(PointWrite(id=p["id"], payload=p["payload"],
                                vectors={n: _vector(v) for n, v in p["vectors"].items()}))
        if len(batch) >= PAGE:
            store.upsert(name, batch)
            batch = []
    store.upsert(name, batch)


def meta_problem(pid: Any, payload: dict[str, Any]) -> str | None:
    """Why a meta point is not one the service wrote, or None: `{"key": str, "value": object}`, and a registry
    value one it reads, each space's live and previous version among its versions (a registry of another shape,
    restored, stopped the service from starting: a break test)."""
    key, value = payload.get("key"), payload.get("value")
    if not isinstance(key, str) or not isinstance(value, dict):
        return f"meta point {pid} is not a key and an object value"
    if str(pid) != point_id(f"meta:{key}"):  # the service reads a key's value by this id, not by `key`
        return f"meta point {pid} holds key {key!r}, which the service stores at another point"
    if not key.startswith("registry:"):  # app.repos.registry: `registry:<alias>`
        return None
    try:
        reg = registry_from_dict(value)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
        return f"meta value {key!r} is no registry ({type(e).__name__}: {e})"
    for space in reg.spaces.values():
        rollout = space.rollout
        for version in (space.live, space.previous, rollout.version if rollout else None):
            if version is not None and version not in space.versions:
                return f"meta value {key!r}: space {space.name!r} names version {version!r}, which it does not hold"
        if rollout and (isinstance(rollout.percent, bool) or not isinstance(rollout.percent, int)
                        or not 0 <= rollout.percent <= 100):
            return f"meta value {key!r}: space {space.name!r}'s rollout percent {rollout.percent!r} is no 0-100"
    return None
