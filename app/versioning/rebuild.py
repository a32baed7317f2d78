"""Rebuild: a new physical collection (`<alias>__N`) filled while ingest writes to both, then an alias swap.

For changes a named vector cannot take in place (distance, quantization, on-disk storage, datatype and the
collection's layout — shards, replicas, write consistency — here; chunking through `reembed`).
The marker in meta (`rebuild:<alias>`) drives dual writes: status `filling`/`filled` means ingest
writes every document to the source and the target, named directly; it keeps doing so after the
swap, so a rollback (swap back) loses nothing, until `retire` drops the collection not in use.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from app.domain.gates import Coverage, promote_gate, retire_gate
from app.domain.versions import Registry
from app.errors import Conflict
from app.repos.registry import now
from app.services.encoding import encode_documents
from app.store.base import PointWrite
from app.versioning.declare import Migration, Rebuild
from app.versioning.rebuild_target import (
    changed_spaces,
    config_summary,
    next_collection,
    refuse_sparse,
    target_config,
    target_specs,
)
from app.versioning.steps import TAGS, Action, Arms, Context, Progress, StepResult, age_s, run_actions
from app.versioning.tagging import stopped_note, written_tags


def _change(m: Migration) -> Rebuild:
    assert isinstance(m.change, Rebuild)
    return m.change


def _active_marker(ctx: Context, m: Migration) -> dict[str, Any]:
    marker = ctx.registry.rebuild()
    if not marker or marker.get("revision") != m.revision:
        raise Conflict(f"{m.label} has no rebuild marker: apply it first")
    return marker


def _update_marker(ctx: Context, **changes: Any) -> None:
    ctx.registry.save_rebuild({**(ctx.registry.rebuild() or {}), **changes})


def _apply_rebuild(ctx: Context, m: Migration, record: dict[str, Any] | None, marker: dict[str, Any] | None, *,
                  dry_run: bool) -> StepResult:
    change = _change(m)
    result = StepResult(step="apply", target=m.label, dry_run=dry_run)
    ours = marker is not None and marker.get("revision") == m.revision
    if marker and not ours and marker.get("status") != "retired":
        raise Conflict(f"another rebuild ({marker.get('migration')}) is in progress: finish or retire it first")
    if ours and marker and marker.get("status") == "retired":
        result.notes.append(f"{m.label} is finished (its rebuild was retired)")
        return result
    reg = ctx.registry.get()
    refuse_sparse(reg, change)  # UnknownSpace or Conflict naming the space
    busy = [v.name for v in reg.written_versions() if v.status in ("shadow", "backfilling")]
    if busy:
        raise Conflict(f"versions {busy} are still being built: finish (or retire) them before a rebuild")
    source = marker["source"] if ours and marker else ctx.registry.physical()
    target = marker["target"] if ours and marker else next_collection(ctx)
    specs = target_specs(ctx, change)
    config = target_config(ctx, change)
    actions: list[Action] = []
    if not ours:
        # the marker first, naming the target: a crash after it resumes with the same collection name
        actions.append((f"record rebuild {m.label}: {source} -> {target}", lambda: ctx.registry.save_rebuild({
            "revision": m.revision, "migration": m.label, "source": source, "target": target,
            "status": "creating", "created": now(), "cursor": None, "alias_changed": None})))
    if not ctx.store.collection_exists(target):
        summary = ", ".join([f"{n} {s.distance}" for n, s in specs.items() if n.split(".")[0] in change.distance]
                            + config_summary(change, config, specs))
        actions.append((f"create collection {target} with {len(specs)} named vectors" +
                        (f" ({summary})" if summary else ""),
                        lambda: ctx.store.create_collection(target, specs, config)))
    if not ours or (marker and marker.get("status") == "creating"):
        actions.append((f"start dual writes: ingest writes every document to {source} and {target}",
                        lambda: _update_marker(ctx, status="filling")))
    if record is None:
        actions.append((f"record {m.label} as applied", lambda: ctx.records.record_applied(m.revision, {
            "migration": m.to_dict(), "applied": now(), "source": source, "target": target})))
    result.data = {"source": source, "target": target,
                   "collection": {**{k: getattr(config, k) for k in ("shard_number", "replication_factor",
                                                                    "write_consistency_factor", "on_disk_payload")},
                                  "vectors": {n: config.for_vector(n).describe() for n in specs}}}
    if actions:
        result.notes.append(f"next: scripts/migrate backfill {m.revision}")
    return run_actions(result, actions)


def _fill(ctx: Context, m: Migration, *, batch: int, max_points: int | None, dry_run: bool,
         on_progress: Progress | None) -> StepResult:
    """Copy every point into the target: vectors copied where unchanged, re-embedded where changed.

    Insert-only, so a document dual-written meanwhile is never overwritten by an older copy; the
    scroll cursor is saved after each batch, so a re-run continues where the last one stopped.
    """
    change = _change(m)
    marker = _active_marker(ctx, m)
    source, target = marker["source"], marker["target"]
    result = StepResult(step="backfill", target=target, dry_run=dry_run)
    if marker["status"] == "retired":
        raise Conflict(f"the rebuild of {m.label} is retired")
    total = ctx.store.count(source)
    result.data = {"source": source, "target": target, "total": total, "done": 0,
                   "complete": marker["status"] == "filled"}
    if marker["status"] == "filled":
        result.notes.append(f"{target} is filled: {ctx.store.count(target)} of {total} points")
        return result
    reg = ctx.registry.get()
    versions = reg.written_versions()
    reembed = [v for v in versions if v.space in change.reembed]
    copied = [v.name for v in versions if v.space not in change.reembed]
    written = {v.name for v in versions}  # the target's vectors: a copied point claims no other version
    if dry_run:  # what the real run would do, in its order
        left = max(total - ctx.store.count(target), 0)
        n = min(left, max_points or left)
        result.actions.append(f"copy {n} of {total} points from {source} to {target} (vectors copied: "
                              f"{len(copied)}, re-embedded: {', '.join(v.name for v in reembed) or 'none'})")
        result.actions += ["delete the points the source no longer has; mark the rebuild filled"] * (n == left)
        result.notes += [stopped_note(done=n, remaining=left - n, total=total, what=target,
                                      revision=m.revision, dry_run=True)] * (n < left)
        return result
    cursor = marker.get("cursor")
    done, t0 = 0, time.perf_counter()
    while True:
        points, cursor = ctx.store.scroll(source, filter=None, offset=cursor, with_vectors=copied or False,
                                          limit=min(batch, max_points - done) if max_points else batch)
        existing = {p.id for p in ctx.store.retrieve(target, [p.id for p in points])}
        todo = [p for p in points if p.id not in existing]
        if todo:
            fresh = (encode_documents([ctx.prepared(p.payload) for p in todo], reembed,
                                      ctx.encoders) if reembed else [{} for _ in todo])
            ctx.store.upsert(target, [
                PointWrite(id=p.id, vectors={**{n: v for n, v in p.vectors.items() if n in copied}, **f},
                           payload={**p.payload, TAGS: written_tags(p.payload.get(TAGS) or [], written)})
                for p, f in zip(todo, fresh, strict=True)], insert_only=True)
        done += len(points)
        _update_marker(ctx, cursor=cursor)
        if on_progress:
            on_progress(done, total)
        if cursor is None or (max_points and done >= max_points):
            break
    elapsed = time.perf_counter() - t0
    result.actions.append(f"copied {done} points into {target} in {elapsed:.1f} s "
                          f"({done / elapsed if elapsed else 0.0:.1f} docs/s)")
    result.data |= {"done": done, "seconds": round(elapsed, 3)}
    if cursor is not None:
        left = max(total - ctx.store.count(target), 0)
        result.data |= {"remaining": left, "revision": m.revision}
        result.notes.append(stopped_note(done=done, remaining=left, total=total, what=target, revision=m.revision))
        return result
    # A delete that raced a copy can leave a point in the target the source no longer has.
    extra = _extra_points(ctx, source, target)
    actions: list[Action] = []
    if extra:
        actions.append((f"delete {len(extra)} points the source no longer has",
                        lambda: ctx.store.delete(target, extra)))
    actions.append((f"mark the rebuild filled ({ctx.store.count(target)} points)",
                    lambda: _update_marker(ctx, status="filled", cursor=None)))
    run_actions(result, actions)
    result.data["complete"] = True
    result.notes.append(f"next: scripts/migrate validate {m.revision} --queries FILE | --beir DIR")
    return result


def _extra_points(ctx: Context, source: str, target: str) -> list[str]:
    extra: list[str] = []
    cursor = None
    while True:
        points, cursor = ctx.store.scroll(target, filter=None, limit=256, offset=cursor)
        present = {p.id for p in ctx.store.retrieve(source, [p.id for p in points])}
        extra += [p.id for p in points if p.id not in present]
        if cursor is None:
            return extra


def _validation_arms(ctx: Context, m: Migration) -> Arms:
    """The live collection against the other one, with the same (live) versions and ranking.

    Raises:
        Conflict: the rebuild is not filled yet.
    """
    marker = _active_marker(ctx, m)
    if marker["status"] != "filled":
        raise Conflict(f"the rebuild of {m.label} is {marker['status']}: run backfill to the end first")
    live = ctx.registry.physical()
    other = marker["target"] if live == marker["source"] else marker["source"]
    modes: dict[str, list[str] | None] = {"fused": None}
    modes |= {f"space {s}": [s] for s in changed_spaces(_change(m))}
    # every live space pinned to its live version: the same plan on both collections, never a profile
    reg = ctx.registry.get()
    pins = {name: reg.live_version(name).name for name in reg.live_spaces()}
    return Arms(target=marker["target"], collections={"baseline": live, "candidate": other},
                pins={"baseline": pins, "candidate": pins}, modes=modes,
                describe={"baseline": f"collection {live} (live)", "candidate": f"collection {other}"})


def _sync_distances(ctx: Context, physical: str) -> None:
    """The registry's distances and indexes follow the collection the alias points at (new collections
    copy them): a search plans a rerank-only space as a rescoring stage only once its graph is gone."""
    reg = ctx.registry.get()
    specs = ctx.store.vector_specs(physical)
    new = reg
    for space in reg.spaces.values():
        for v in space.versions.values():
            spec = specs.get(v.name)
            if spec is not None and (spec.distance, spec.index) != (v.distance, v.index):
                new = new.with_version(replace(v, distance=spec.distance, index=spec.index))  # type: ignore[arg-type]
    if new is not reg:
        ctx.registry.save(new, expect=reg.revision)


def _promote_rebuild(ctx: Context, m: Migration, *, margin: float, force: bool, dry_run: bool) -> StepResult:
    marker = _active_marker(ctx, m)
    source, target = marker["source"], marker["target"]
    result = StepResult(step="promote", target=target, dry_run=dry_run)
    if ctx.registry.physical() == target:
        result.notes.append(f"alias {ctx.alias} already points at {target}")
        return result
    if marker["status"] == "retired":
        raise Conflict(f"the rebuild of {m.label} is retired")
    filled = marker["status"] == "filled"
    coverage = Coverage(covered=ctx.store.count(target) if filled else 0, total=ctx.store.count(source))
    gate = promote_gate(coverage=coverage, verdict=ctx.records.verdict(target), margin=margin, force=force)
    if not gate.allowed:
        raise Conflict(f"promote {target} refused: {gate.message()} (--force to override)",
                       {"blockers": list(gate.blockers)})
    result.notes += [f"forced past: {b}" for b in gate.blockers] + list(gate.notes)

    def swap() -> None:
        ctx.store.set_alias(ctx.alias, target)  # one atomic alias operation on either store
        _update_marker(ctx, alias_changed=now())
        _sync_distances(ctx, target)

    result.data = {"live": target, "previous": source}
    run_actions(result, [(f"swap alias {ctx.alias}: {source} -> {target}; ingest keeps writing both", swap),
                         *ctx.override_actions(m.revision, gate, step="promote", target=target, margin=margin)])
    result.notes.append(f"next: scripts/migrate retire {m.revision} after the grace period "
                        f"(or scripts/migrate rollback {m.revision})")
    return result


def _rollback_rebuild(ctx: Context, m: Migration, *, dry_run: bool) -> StepResult:
    marker = _active_marker(ctx, m)
    source, target = marker["source"], marker["target"]
    result = StepResult(step="rollback", target=target, dry_run=dry_run)
    if ctx.registry.physical() != target:
        result.notes.append(f"alias {ctx.alias} points at {ctx.registry.physical()}: nothing to roll back")
        return result
    if marker["status"] == "retired" or not ctx.store.collection_exists(source):
        raise Conflict(f"{source} is gone: rollback is not possible")

    def swap() -> None:
        ctx.store.set_alias(ctx.alias, source)
        _update_marker(ctx, alias_changed=now())
        _sync_distances(ctx, source)

    result.data = {"live": source}
    return run_actions(result, [(f"swap alias {ctx.alias} back: {target} -> {source}", swap)])


def _retire_rebuild(ctx: Context, m: Migration, *, grace_s: float, force: bool, dry_run: bool) -> StepResult:
    """Drop the collection the alias does not point at and end dual writes."""
    marker = _active_marker(ctx, m)
    live = ctx.registry.physical()
    if marker["status"] == "retired":
        victim = marker.get("dropped") or ""
        result = StepResult(step="retire", target=victim, dry_run=dry_run)
        if victim and ctx.store.collection_exists(victim):
            return run_actions(result, [(f"delete collection {victim}", lambda: ctx.store.delete_collection(victim))])
        result.notes.append(f"nothing to retire: the rebuild is finished, {victim} is gone")
        return result
    victim = marker["source"] if live == marker["target"] else marker["target"]
    result = StepResult(step="retire", target=victim, dry_run=dry_run)
    gate = retire_gate(age_s=age_s(marker.get("alias_changed") or marker.get("created", "")), grace_s=grace_s,
                       is_live=False, force=force)
    if not gate.allowed:
        raise Conflict(f"retire {victim} refused: {gate.message()} (--force to override)")
    result.notes += [f"forced past: {b}" for b in gate.blockers]
    if victim == marker["target"]:
        result.notes.append(f"the alias is on {live}: this abandons the rebuild")
    return run_actions(result, [
        (f"end dual writes (ingest writes {live} only)", lambda: _update_marker(ctx, status="retired", dropped=victim)),
        (f"delete collection {victim}", lambda: ctx.store.delete_collection(victim)),
        *ctx.override_actions(m.revision, gate, step="retire", target=victim, grace_s=grace_s),
    ])


def _progress(ctx: Context, record: dict[str, Any]) -> tuple[str, str]:
    """Where the rebuild stands (filling, filled, validated, live on the target, done) and what comes next."""
    marker = ctx.registry.rebuild()
    if not marker or marker.get("revision") != record["migration"]["revision"]:
        return "done", "-"
    status = marker["status"]
    if status == "retired":
        return "done", "-"
    if status in ("creating", "filling"):
        return f"filling {marker['target']}", "backfill"
    if ctx.registry.physical() == marker["target"]:
        return f"live on {marker['target']}", f"retire {marker['source']} (after the grace period)"
    if ctx.records.verdict(marker["target"]) is None:
        return "filled", "validate"
    return "validated", "promote"


class RebuildSteps:
    """The steps of a `Rebuild` migration (see `ChangeSteps`); the marker in meta holds its state.
    Each raises Conflict naming the precondition that fails (no marker, not filled, gate, grace period)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def apply(self, m: Migration, record: dict[str, Any] | None, *, dry_run: bool) -> StepResult:
        """Create `<alias>__N` with the new parameters and start dual writes (see `_apply_rebuild`)."""
        return _apply_rebuild(self.ctx, m, record, self.ctx.registry.rebuild(), dry_run=dry_run)

    def backfill(self, m: Migration, record: dict[str, Any], *, batch: int, max_points: int | None,
                 start: str | None, dry_run: bool, on_progress: Progress | None) -> StepResult:
        """Copy or re-embed every point into the target (see `_fill`); the marker keeps the cursor, not `start`."""
        return _fill(self.ctx, m, batch=batch, max_points=max_points, dry_run=dry_run, on_progress=on_progress)

    def arms(self, m: Migration, record: dict[str, Any], *, force: bool) -> Arms:
        """The two collections (see `_validation_arms`)."""
        return _validation_arms(self.ctx, m)

    def promote(self, m: Migration, record: dict[str, Any], *, margin: float, force: bool,
                dry_run: bool) -> StepResult:
        """Swap the alias to the target, past the promote gate (see `_promote_rebuild`)."""
        return _promote_rebuild(self.ctx, m, margin=margin, force=force, dry_run=dry_run)

    def rollback(self, m: Migration, record: dict[str, Any], *, dry_run: bool) -> StepResult:
        """Swap the alias back (see `_rollback_rebuild`)."""
        return _rollback_rebuild(self.ctx, m, dry_run=dry_run)

    def retire(self, m: Migration, record: dict[str, Any], *, grace_s: float, force: bool,
               dry_run: bool, on_progress: Progress | None = None) -> StepResult:
        """End dual writes and drop the collection not in use (see `_retire_rebuild`)."""
        return _retire_rebuild(self.ctx, m, grace_s=grace_s, force=force, dry_run=dry_run)

    def progress(self, m: Migration, record: dict[str, Any], reg: Registry) -> tuple[str, str]:
        """See `_progress`."""
        return _progress(self.ctx, record)
