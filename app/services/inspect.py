"""View models for the inspection page: plain dicts built from the store, the registry and the migrator.

Nothing here knows HTTP or HTML: the controller (app/api/inspect.py) hands in the injected `Services`
and the app's Migrator, the templates (app/templates/inspect/) only lay the numbers out. Every
figure comes from a public method that the API uses too: `Migrator.status()` (what
`GET /admin/migrations` answers), `Store.list_collections/list_aliases/count/scroll`, and the
search service with `explain`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.domain.bounds import shown
from app.domain.gates import quality_blockers
from app.domain.plan import Filter, Match, metadata_filter
from app.errors import AppError, InvalidInput

if TYPE_CHECKING:
    from app.container import Services
    from app.versioning.engine import Migrator

MAX_PAGE = 100
MAX_SCAN = 2000  # points read for one page when the derived flag filters
POINT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DERIVED = ("summary", "entities")
BODY_PREVIEW = 280
NO_STATS: dict[str, Any] = {"served": 0, "share": None, "latency_p50_ms": None, "shadow_runs": 0,
                            "shadow_latency_p50_ms": None, "overlap_mean": None, "overlap_p50": None,
                            "dropped": 0, "failed": 0}


def dashboard_url(url: str | None) -> str | None:
    """Qdrant's own dashboard on a server store (`<url>/dashboard`); None on the embedded or in-memory store."""
    if not url or url == ":memory:":
        return None
    return url.rstrip("/") + "/dashboard"


def overview(services: Services, migrator: Migrator, *, margin: float) -> dict[str, Any]:
    """Collections with their points, aliases, the registry with coverage, and applied migrations.

    Args:
        services: the injected container (store, registry repo, settings).
        migrator: the app's Migrator; its `status()` is the one `GET /admin/migrations` answers.
        margin: the promote gate's default margin, against which each verdict is read.
    """
    store = services.store
    aliases = store.list_aliases()
    pointed: dict[str, list[str]] = {}
    for alias, collection in aliases.items():
        pointed.setdefault(collection, []).append(alias)
    collections = []
    for name in store.list_collections():
        entry: dict[str, Any] = {"name": name, "aliases": pointed.get(name, []), "points": None, "error": None}
        try:
            entry["points"] = store.count(name)
        except AppError as e:  # a collection that does not open is shown, not fatal to the page
            entry["error"] = e.message
        collections.append(entry)
    status = migrator.status()
    reg = services.registry.get()
    spaces: dict[str, dict[str, Any]] = {}
    for v in status["versions"]:
        space = reg.spaces.get(v["space"])
        version = space.versions.get(v["version"]) if space else None
        row = {**v, "kind": version.kind if version else "?", "field": version.field if version else "?",
               "index": version.index if version else "?"}
        spaces.setdefault(v["space"], {"name": v["space"], "live": space.live if space else None,
                                       "versions": []})["versions"].append(row)
    applied = migrator.records.applied()
    migrations = []
    for m in status["migrations"]:
        record = applied.get(m["revision"], {})
        target = record.get("version") or record.get("target")
        migrations.append({**m, "target": target,
                           "verdict": verdict_view(migrator.records.verdict(target), margin) if target else None})
    return {"store": store.kind, "alias": status["alias"], "physical": status["physical"],
            "points": status["points"], "revision": status["revision"], "collections": collections,
            "aliases": [{"alias": a, "collection": c} for a, c in aliases.items()],
            "spaces": list(spaces.values()), "migrations": migrations, "rebuild": status.get("rebuild"),
            "rollouts": rollouts_view(reg, services.search.rollouts.summary()),
            "dashboard": dashboard_url(services.settings.store.url)}


def rollouts_view(reg: Any, summary: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each gradual rollout in the registry, its two versions side by side: the share each was meant to
    serve and did serve, its latency p50, and the shadow reads of it (overlap@10 with the answer served,
    latency p50), as this process saw them since the rollout started.

    Args:
        reg: the registry (the rollouts are in it).
        summary: `RolloutMonitor.summary()`.
    """
    out = []
    for space in reg.spaces.values():
        r = space.rollout
        if r is None:
            continue
        seen = summary.get(space.name) or {}
        if seen.get("started") != r.started:  # what this process counted belongs to an earlier rollout
            seen = {}
        rows = []
        for role, version, meant in (("live", space.live, 100 - r.percent), ("candidate", r.version, r.percent)):
            stats = {**NO_STATS, **((seen.get("versions") or {}).get(version) or {})}
            rows.append({"role": role, "version": version, "meant": meant, **stats})
        out.append({"space": space.name, "version": r.version, "percent": r.percent, "started": r.started,
                    "live": space.live, "searches": seen.get("searches", 0), "rows": rows})
    return out


def verdict_view(verdict: Any, margin: float) -> dict[str, Any] | None:
    """The latest validation verdict, with each compared change read against the promote margin."""
    if verdict is None:
        return None
    blockers, notes = quality_blockers(verdict, margin)
    return {"metric": verdict.metric, "baseline": verdict.baseline, "candidate": verdict.candidate,
            "delta": verdict.delta, "overlap": verdict.overlap, "queries": verdict.queries,
            "created": verdict.created, "passes": not blockers, "blockers": blockers, "notes": notes}


@dataclass(frozen=True)
class PointQuery:
    """The point browser's filters, from the query string."""

    collection: str | None = None
    key: str = ""
    value: str = ""
    version: str = ""
    missing: str = ""
    derived: str = ""
    offset: str = ""
    limit: int = 10
    vectors: bool = False

    def filter(self, services: Services) -> Filter:
        """The store filter: a metadata condition, a version tag present or missing.

        The derived flag is not in it: qdrant-edge-py 0.9 turns a boolean match value into the
        integer 1, which no boolean payload matches, so `derived` is applied while paging instead.

        Raises:
            InvalidInput: a bad metadata key or value, a key without a value or a value without a key, a vector
                version the registry does not have, or an unknown derived field.
        """
        limits = services.settings.limits
        if self.key and not self.value:  # it filtered on "", which matched nothing, without a word
            raise InvalidInput(f"metadata key {shown(self.key)} has no value: type the value to match")
        if self.value and not self.key:  # it was ignored: every point matched
            raise InvalidInput(f"value {shown(self.value)} has no metadata key: name the key to match it in")
        versions = {v for s in services.registry.get().spaces.values() for v in s.versions}
        for what, name in (("has version", self.version), ("lacks version", self.missing)):
            if name and name not in versions:  # a tag no point carries: it matched none (or all), without a word
                raise InvalidInput(f"{what}: no vector version named {shown(name)} (the form lists the registry's)")
        meta = (metadata_filter({self.key: typed(self.value)}, max_conditions=limits.max_filter_conditions,
                                max_values=limits.max_filter_values, max_chars=limits.max_metadata_string_chars)
                if self.key else Filter())
        if self.derived and self.derived not in DERIVED:
            raise InvalidInput(f"derived: one of {', '.join(DERIVED)}, not {shown(self.derived)}")
        must = list(meta.must)
        if self.version:
            must.append(Match("vector_versions", self.version))
        must_not = (Match("vector_versions", self.missing),) if self.missing else ()
        return Filter(must=tuple(must), must_not=must_not)

    def keeps(self, payload: dict[str, Any]) -> bool:
        """The derived-flag condition, on one point's payload."""
        return not self.derived or bool((payload.get("derived") or {}).get(self.derived))


def typed(text: str) -> str | int | bool:
    """A filter value typed in a form: `2020` is an integer (any number of digits, as in a JSON filter of
    `POST /search`: one past signed 64 bits is refused the same way), `true`/`false` booleans, the rest text."""
    if re.fullmatch(r"-?\d+", text.strip()):
        return int(text)
    if text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    return text


def points_page(services: Services, q: PointQuery) -> dict[str, Any]:
    """One page of points with their payload, derived flags, version tags and vector shapes.

    The vectors are read to measure them; their values are put in the page only when `q.vectors`.
    A bad filter is reported in `error` (the page still renders).
    """
    store = services.store
    alias = services.registry.alias
    known = set(store.list_collections()) | set(store.list_aliases())
    out: dict[str, Any] = {"query": q, "collection": q.collection or alias, "collections": sorted(known),
                           "points": [], "next": None, "matching": None, "error": None}
    try:
        if out["collection"] not in known:
            raise InvalidInput(f"no collection or alias named {shown(out['collection'])}")
        if q.offset and not POINT_ID.fullmatch(q.offset):
            raise InvalidInput("offset: the cursor a previous page gave (a point id)")
        flt = q.filter(services)
        page, nxt = scan(store, out["collection"], flt, q)
        out["matching"] = store.count(out["collection"], flt or None)
    except AppError as e:
        out["error"] = e.message
        return out
    out["next"] = nxt
    out["points"] = [point_view(p.id, p.payload, p.vectors, raw=q.vectors) for p in page]
    return out


def scan(store: Any, collection: str, flt: Filter, q: PointQuery) -> tuple[list[Any], str | None]:
    """Up to `q.limit` points from `q.offset` that pass the store filter and `q.keeps`, and the offset
    of the next one (scroll offsets are inclusive point ids). Reads at most MAX_SCAN points."""
    limit = max(1, min(q.limit, MAX_PAGE))
    kept: list[Any] = []
    offset: str | None = q.offset or None
    scanned = 0
    while offset is not None or scanned == 0:
        chunk, nxt = store.scroll(collection, filter=flt or None, limit=limit, offset=offset, with_vectors=True)
        scanned += max(1, len(chunk))
        for i, p in enumerate(chunk):
            if q.keeps(p.payload):
                kept.append(p)
                if len(kept) == limit:
                    return kept, chunk[i + 1].id if i + 1 < len(chunk) else nxt
        offset = nxt
        if scanned >= MAX_SCAN:
            break
    return kept, offset


def point_view(pid: str, payload: dict[str, Any], vectors: dict[str, Any], *, raw: bool) -> dict[str, Any]:
    """What the browser shows of one point; `raw` adds the vectors' values."""
    body = str(payload.get("body") or "")
    return {
        "point_id": pid, "id": payload.get("doc_id"), "title": payload.get("title"),
        "body": body[:BODY_PREVIEW] + ("…" if len(body) > BODY_PREVIEW else ""),
        "derived": dict(payload.get("derived") or {}), "versions": list(payload.get("vector_versions") or []),
        "metadata": json.dumps(payload["metadata"], ensure_ascii=False, sort_keys=True) if payload.get("metadata")
        else "",
        "payload": json.dumps(payload, indent=1, ensure_ascii=False, sort_keys=True),
        "shapes": {name: vector_shape(v) for name, v in sorted(vectors.items())},
        "raw": {name: raw_values(v) for name, v in sorted(vectors.items())} if raw else None,
    }


def vector_shape(value: Any) -> str:
    """`dense · 384 dims`, `multivector · 5 x 384`, `sparse · nnz 41`."""
    indices = getattr(value, "indices", None)
    if indices is None and isinstance(value, dict):
        indices = value.get("indices")
    if indices is not None:
        return f"sparse · nnz {len(indices)}"
    rows = list(value) if value is not None else []
    if rows and hasattr(rows[0], "__len__"):  # a list of vectors (lists or arrays)
        return f"multivector · {len(rows)} x {len(rows[0])}"
    return f"dense · {len(rows)} dims"


def raw_values(value: Any) -> str:
    """The values, rounded to 4 decimals, as JSON (sparse as `{indices, values}`)."""
    def r(x: Any) -> Any:
        if isinstance(x, float):
            return round(x, 4)
        if isinstance(x, list | tuple) or hasattr(x, "tolist"):
            return [r(y) for y in (x.tolist() if hasattr(x, "tolist") else x)]
        return x
    indices = getattr(value, "indices", None)
    if indices is not None:
        return json.dumps({"indices": list(indices), "values": r(list(value.values))})
    return json.dumps(r(value))
