"""A backup's manifest read within bounds and checked field by field, and its files found inside its folder."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.domain.bounds import nested_past
from app.errors import BackupInvalid
from app.store.meta import META_COLLECTION
from app.store.types import DATATYPES

PHYSICAL = re.compile(r"__\d+$")  # a collection's own name (`documents__2`): a rebuild creates the next one
MANIFEST = "manifest.json"
FORMAT = "multivec-backup"
FORMAT_VERSION = 1
MAX_MANIFEST_BYTES = 16 << 20  # a manifest of 1,000 collections of 50 vector versions each is ~5 MB
MAX_MANIFEST_DEPTH = 8  # the backup writes 4 levels (collections.<name>.vectors.<vector>.kind)
MAX_NAME_CHARS = 255  # a Qdrant collection name's limit
MAX_DIM = 65_536  # Qdrant's largest dense dimension
MAX_POINTS = 2**63 - 1
KINDS, DISTANCES, INDEXES = ("dense", "sparse", "multi"), ("cosine", "dot", "euclid"), ("hnsw", "rerank")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _unreadable(path: Path, why: str = "", field: str | None = None) -> BackupInvalid:
    detail = {"path": str(path)} | ({"field": field} if field else {})
    return BackupInvalid(f"the manifest {path} is not a {FORMAT} manifest (corrupted or edited){why}", detail)


def _load(path: Path) -> Any:
    """The manifest's JSON, read only when it is a file in its folder of at most `MAX_MANIFEST_BYTES`, nested at most
    `MAX_MANIFEST_DEPTH` levels (a deeper one would exhaust the decoder's recursion)."""
    try:
        if not path.is_file():
            raise _unreadable(path, ": it is not a file")
        if not path.resolve().is_relative_to(path.parent.resolve()):
            raise _unreadable(path, ": it is a link to outside the backup folder")
        with path.open("rb") as f:
            body = f.read(MAX_MANIFEST_BYTES + 1)
        if len(body) > MAX_MANIFEST_BYTES:
            raise _unreadable(path, f": it is over {MAX_MANIFEST_BYTES >> 20} MB")
        value = json.loads(body.decode("utf-8"))
    except RecursionError:
        raise _unreadable(path, ": it is nested too deeply to decode") from None
    except (OSError, ValueError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise _unreadable(path) from e
    where = nested_past(value, MAX_MANIFEST_DEPTH)
    if where is not None:
        raise _unreadable(path, f": {where or 'it'}: it is nested more than {MAX_MANIFEST_DEPTH} levels deep")
    return value


class _Check:
    """Field checks that raise one BackupInvalid naming the field (`collections['docs'].points`)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, what: str, value: Any) -> BackupInvalid:
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        return BackupInvalid(f"{self.path.name}: {where} must be {what}, not {shown} (corrupted or edited)",
                             {"path": str(self.path), "field": where})

    def of(self, value: Any, where: str, what: str, ok: Callable[[Any], bool]) -> Any:
        if not ok(value):
            raise self.fail(where, what, value)
        return value

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        return self.of(value, where, "an object", lambda v: isinstance(v, dict))  # type: ignore[no-any-return]

    def text(self, value: Any, where: str, choices: tuple[str, ...] = ()) -> str:
        what = f"one of {', '.join(choices)}" if choices else "a string"
        return self.of(value, where, what, lambda v: isinstance(v, str) and (not choices or v in choices))  # type: ignore[no-any-return]

    def whole(self, value: Any, where: str, low: int, high: int) -> int:
        return self.of(value, where, f"a whole number from {low} to {high}",  # type: ignore[no-any-return]
                       lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high)

    def flag(self, value: Any, where: str) -> bool:
        return self.of(value, where, "true or false", lambda v: isinstance(v, bool))  # type: ignore[no-any-return]

    def name(self, value: Any, where: str) -> str:
        return self.of(value, where, f"a name of 1 to {MAX_NAME_CHARS} characters without / \\ or a leading .",  # type: ignore[no-any-return]
                       lambda v: isinstance(v, str) and 0 < len(v) <= MAX_NAME_CHARS and not v.startswith(".")
                       and not any(c in v for c in "/\\\0"))

    def relative(self, value: Any, where: str) -> str:
        return self.of(value, where, "a path inside the backup folder", lambda v: isinstance(v, str) and bool(v)  # type: ignore[no-any-return]
                       and not v.startswith("/") and "\0" not in v and ".." not in Path(v).parts)


def check_manifest(manifest: Any, path: Path) -> dict[str, Any]:
    """Every field of a decoded manifest, its type and range, so a restore can trust them all.

    Raises:
        BackupInvalid: naming the first field that is wrong (`detail.field`), or another format version.
    """
    c = _Check(path)
    if not isinstance(manifest, dict):
        raise _unreadable(path)
    for part in ("format", "store", "files", "collections", "aliases"):  # its parts, as every version named them
        if manifest.get("format") != FORMAT if part == "format" else not isinstance(manifest.get(part), dict):
            raise _unreadable(path, field=part)
    if manifest.get("version") != FORMAT_VERSION or isinstance(manifest.get("version"), bool):
        raise BackupInvalid(f"{path} is version {manifest.get('version')!r}; this service reads {FORMAT_VERSION}",
                            {"path": str(path), "field": "version"})
    if "created_at" in manifest:
        c.text(manifest["created_at"], "created_at")
    c.text(c.obj(manifest.get("store"), "store").get("kind", ""), "store.kind")
    files = c.obj(manifest.get("files"), "files")
    for rel, entry in files.items():
        c.relative(rel, f"files[{rel!r}]")
        entry = c.obj(entry, f"files[{rel!r}]")
        c.of(entry.get("sha256"), f"files[{rel!r}].sha256", "64 hex digits",
             lambda v: isinstance(v, str) and bool(SHA256.match(v)))
        c.whole(entry.get("bytes"), f"files[{rel!r}].bytes", 0, MAX_POINTS)
    collections = c.obj(manifest.get("collections"), "collections")
    for name, entry in collections.items():
        at = f"collections[{c.name(name, 'a collection name in collections')!r}]"
        entry = c.obj(entry, at)
        c.text(entry.get("format"), f"{at}.format")
        c.of(entry.get("file"), f"{at}.file", "a file listed in files", lambda v: isinstance(v, str) and v in files)
        c.whole(entry.get("points"), f"{at}.points", 0, MAX_POINTS)
        if "points_exact" in entry:
            c.flag(entry["points_exact"], f"{at}.points_exact")
        for vector, spec in c.obj(entry.get("vectors"), f"{at}.vectors").items():
            _check_spec(c, c.obj(spec, f"{at}.vectors[{vector!r}]"), f"{at}.vectors[{vector!r}]")
        for vector, datatype in c.obj(entry.get("datatypes", {}), f"{at}.datatypes").items():
            c.text(datatype, f"{at}.datatypes[{vector!r}]", DATATYPES)
        c.of(entry.get("vector_versions", []), f"{at}.vector_versions", "a list of strings",
             lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v))
    for alias, target in c.obj(manifest.get("aliases"), "aliases").items():
        c.name(alias, "an alias name in aliases")
        if isinstance(target, str) and target not in collections:
            raise BackupInvalid(f"{path.name}: alias {alias!r} points at {target!r}, which the backup does not "
                                "hold", {"path": str(path), "field": f"aliases[{alias!r}]"})
        if (alias in collections or target == META_COLLECTION or alias.startswith("_") or PHYSICAL.search(alias)
                or alias != alias.strip() or not alias.isprintable()):  # each broke the store or a later rebuild
            raise BackupInvalid(f"{path.name}: alias {alias!r} -> {target!r}: an alias names a documents collection "
                                "and is named like none (not `<name>__<n>`, not `_...`, no spaces at its ends or "
                                "control characters) (corrupted or edited)",
                                {"path": str(path), "field": f"aliases[{alias!r}]"})
        c.text(target, f"aliases[{alias!r}]")
    return manifest


def _check_spec(c: _Check, spec: dict[str, Any], at: str) -> None:
    kind = c.text(spec.get("kind"), f"{at}.kind", KINDS)
    if kind == "sparse":
        c.of(spec.get("dim"), f"{at}.dim", "null (a sparse vector)", lambda v: v is None)
    else:
        c.whole(spec.get("dim"), f"{at}.dim", 1, MAX_DIM)
    c.text(spec.get("distance", DISTANCES[0]), f"{at}.distance", DISTANCES)
    c.text(spec.get("index", INDEXES[0]), f"{at}.index", INDEXES)
    c.flag(spec.get("idf", True), f"{at}.idf")
    unknown = set(spec) - {"kind", "dim", "distance", "index", "idf"}
    if unknown:
        raise c.fail(f"{at}", "kind, dim, distance, index and idf only", sorted(unknown))


def parse_manifest(path: Path) -> dict[str, Any]:
    """The manifest at `path`, read within bounds and every field checked (not yet its files:
    `inside` and `BackupService.read_manifest` do).

    Raises:
        BackupInvalid: it cannot be read, is over `MAX_MANIFEST_BYTES` or `MAX_MANIFEST_DEPTH`, is not JSON, is
            of another format version, or a field is missing or of the wrong type or range (the message and
            `detail.field` name it).
    """
    return check_manifest(_load(path), path)


def inside(folder: Path, rel: str) -> Path:
    """The backup's file `rel`: a regular file inside `folder` once every link is followed (the folder itself
    may be a link, as to backups kept on another disk).

    Raises:
        BackupInvalid: it is missing, not a regular file, or lies outside the backup folder.
    """
    file = folder / rel
    try:
        real, root = file.resolve(strict=True), folder.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a loop of links
        raise BackupInvalid(f"{file} is missing from the backup", {"path": str(file)}) from None
    if not real.is_relative_to(root):
        raise BackupInvalid(f"{file} lies outside the backup folder ({real}): a backup's files are its own",
                            {"path": str(file)})
    if not real.is_file():
        raise BackupInvalid(f"{file} is not a regular file", {"path": str(file)})
    return real

