"""Adding a version in place: apply, backfill, validate, [rollout,] promote, rollback, retire."""

from __future__ import annotations

import time
from typing import Any

from app.domain import lifecycle
from app.domain.gates import Coverage, retire_gate
from app.domain.versions import Registry, SpaceState, VectorVersion
from app.errors import Conflict
from app.repos.registry import now, spec_of
from app.versioning.add_target import index_note, new_space_arms, shape_of, version_index, version_template
from app.versioning.declare import AddVersion, Migration
from app.versioning.rollout import checked_gate, rollout
from app.versioning.steps import Action, Arms, Context, Progress, StepResult, age_s, missing_filter, run_actions
from app.versioning.superseded import (
    made_nothing,
    progress,
    record_superseded,
    recorded_only,
    replaced_left,
    started_past,
)
from app.versioning.tagging import backfill_batch, stopped_note, untag


def _change(m: Migration) -> AddVersion:
    assert isinstance(m.change, AddVersion)
    return m.change


class AddVersionSteps:
    """The steps of an `AddVersion` migration (see `ChangeSteps`); the record names `version` and `replaces`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _save(self, reg: Registry, new: Registry) -> None:
        # on the registry the preconditions were checked on: if another step changed it since, 409
        self.ctx.registry.save(new, expect=reg.revision)

    def apply(self, m: Migration, record: dict[str, Any] | None, *, dry_run: bool) -> StepResult:
        """Add the named vector, register the version as shadow (ingest writes it from then on), record the migration.

        A new space (declared with its field and kind) is registered with this version and no live
        one: searches use it only once it is promoted (or pinned, as validation does).

        Raises:
            InvalidInput: the model is not configured, or of the wrong kind for the space (`version_template`).
            Conflict: a rebuild is open, or the version number is not above the space's current ones.
        """
        ctx, change = self.ctx, _change(m)
        marker = ctx.registry.rebuild()
        if marker and marker.get("status") not in (None, "retired"):
            raise Conflict(f"a rebuild ({marker.get('migration')}) is in progress: finish or retire it first")
        reg = ctx.registry.get()
        template, live = version_template(ctx, reg, change)
        space = reg.spaces.get(change.space) or SpaceState(name=change.space, live=None)
        version = VectorVersion(space=template.space, field=template.field, kind=template.kind, model=change.model,
                                version=change.version, dim=ctx.encoders.dim(change.model),
                                distance=template.distance, idf=ctx.encoders.idf(change.model),
                                index=version_index(ctx, change, template),
                                status="shadow", created=now(), status_changed=now())
        name = version.name
        result = StepResult(step="apply", target=m.label, dry_run=dry_run)
        existing = space.versions.get(name)
        if existing is None and space.versions:
            taken = [v.version for v in space.versions.values()]
            if change.version <= max(taken):
                if live is not None and ((record or {}).get("superseded_by") or (
                        record is None and started_past(ctx, live, change.version, space))):
                    return record_superseded(ctx, m, change.version, live, result, recorded=record is not None)
                raise Conflict(f"space {change.space!r} already has version v{max(taken)}: "
                               f"a new version must be numbered above it")
        physical = ctx.registry.physical()
        actions: list[Action] = []
        if name not in ctx.store.vector_specs(physical):
            actions.append((f"add named vector {name} ({shape_of(version)}) to collection {physical}",
                            lambda: ctx.store.add_vector(physical, name, spec_of(version))))
        if existing is None:
            # vector first, registry second: ingest must never write a vector the collection lacks
            actions.append((f"register {name} as shadow: from now on every write encodes it too",
                            lambda: self._save(reg, reg.with_version(version))))
        else:
            result.notes.append(f"{name} is already registered (status {existing.status})")
        replaces = live.name if live and live.name != name else None  # not itself: an install that started there
        if record is None:
            actions.append((f"record {m.label} as applied", lambda: ctx.records.record_applied(m.revision, {
                "migration": m.to_dict(), "applied": now(), "version": name, "replaces": replaces,
                **({"started_with": True} if existing is not None and existing.status == "live" else {})})))
        result.data = {"version": name, "replaces": replaces}
        result.notes += [n for n in [index_note(live, version)] if n and existing is None]
        if not actions:
            return result
        already = existing is not None and existing.status == "live"  # an install that started at this version
        result.notes.append(f"{name} is already live in this install: nothing to add, backfill or validate"
                            if already else f"next: scripts/migrate backfill {m.revision}")
        return run_actions(result, actions)

    def backfill(self, m: Migration, record: dict[str, Any], *, batch: int, max_points: int | None,
                 start: str | None, dry_run: bool, on_progress: Progress | None) -> StepResult:
        """Encode the new version for every point that lacks it, in batches, resumable at any point.

        Each batch writes the vectors first (only onto points still untagged, so a document the API
        rewrote meanwhile keeps its fresh vector) and the tags second: a crash between the two leaves
        untagged points that the next run encodes again. One pass scrolls the untagged points in id
        order from `start` (a cursor a previous slice returned; None: the beginning). It stops after
        `max_points` points (None: when none lacks the version) and says how many remain and how to
        continue; `data["cursor"]` says where the next slice starts. A dry run lists the same steps.

        Raises:
            Conflict: the version is retired.
        """
        ctx, name = self.ctx, record["version"]
        version = ctx.registry.get().find(name)
        result = StepResult(step="backfill", target=name, dry_run=dry_run)
        if version.status == "retired":
            raise Conflict(f"{name} is retired")
        physical = ctx.registry.physical()
        todo = ctx.store.count(physical, missing_filter(name))
        total = ctx.store.count(physical)
        result.data = {"version": name, "total": total, "missing": todo, "done": 0, "complete": todo == 0}
        if todo == 0:
            if version.status in ("shadow", "backfilling"):
                run_actions(result, [(f"mark {name} ready: all {total} points have it",
                                      lambda: self._move(name, lifecycle.mark_ready))])
            result.notes.append(f"coverage {Coverage(total, total)}: nothing to backfill")
            return result
        limit = min(todo, max_points) if max_points else todo
        if dry_run:  # what the real run would do, in its order
            result.actions += [f"mark {name} backfilling"] * (version.status == "shadow") + [
                f"encode {limit} of {todo} points lacking it ({total} in all) with {version.model} in batches "
                f"of {batch}, then tag them {name}"]
            if limit == todo:
                result.actions.append(f"mark {name} ready: all {total} points have it")
            else:
                result.notes.append(stopped_note(done=limit, remaining=todo - limit, total=total, what=name,
                                                 revision=m.revision, dry_run=True))
            return result
        if version.status == "shadow":
            run_actions(result, [(f"mark {name} backfilling", lambda: self._move(name, lifecycle.start_backfill))])
        done, t0, flt, cursor = 0, time.perf_counter(), missing_filter(name), start
        while done < limit:
            points, cursor = ctx.store.scroll(physical, filter=flt, limit=min(batch, limit - done), offset=cursor)
            if points:
                backfill_batch(ctx, physical, version, points, flt)
                done += len(points)
                if on_progress:
                    on_progress(done, limit)
            if cursor is None:
                break
        elapsed = time.perf_counter() - t0
        remaining = ctx.store.count(physical, flt)
        result.actions.append(f"encoded and tagged {done} points in {elapsed:.1f} s "
                              f"({done / elapsed if elapsed else 0.0:.1f} docs/s)")
        result.data |= {"done": done, "remaining": remaining, "complete": remaining == 0, "revision": m.revision,
                        "seconds": round(elapsed, 3), "cursor": cursor if remaining else None}
        if remaining == 0:
            if ctx.registry.get().find(name).status in ("shadow", "backfilling"):  # not a forced live one
                run_actions(result, [(f"mark {name} ready: all {total} points have it",
                                      lambda: self._move(name, lifecycle.mark_ready))])
            result.notes.append(f"next: scripts/migrate validate {m.revision} --queries FILE | --beir DIR")
        else:
            result.notes.append(stopped_note(done=done, remaining=remaining, total=total, what=name,
                                             revision=m.revision))
        return result

    def _move(self, name: str, transition: Any) -> None:
        """One lifecycle transition of `name` on the registry as stored now."""
        reg = self.ctx.registry.get()
        self._save(reg, transition(reg, name, at=now()))

    def arms(self, m: Migration, record: dict[str, Any], *, force: bool) -> Arms:
        """The space's other written version (live, or the one it replaced) against the new one.

        Raises:
            Conflict: the version is retired, not fully backfilled (unless `force`), or has nothing to compare with.
        """
        ctx, name = self.ctx, record["version"]
        reg = ctx.registry.get()
        version = reg.find(name)
        space = reg.space(version.space)
        if version.status == "retired":
            raise Conflict(f"{name} is retired")
        coverage = ctx.coverage(name)
        if not coverage.complete and not force:
            raise Conflict(f"{name} covers {coverage}: backfill to 100 % before validating (or --force)")
        baseline = space.live if space.live != name else (space.previous or record.get("replaces"))
        if baseline is None and record.get("replaces") is None and _change(m).new_space:
            return new_space_arms(self.ctx, reg, version)
        if baseline is None or baseline == name:
            raise Conflict(f"nothing to compare {name} with: no other version of {version.space!r} is written")
        physical = ctx.registry.physical()
        return Arms(target=name, collections={"baseline": physical, "candidate": physical},
                    pins={"baseline": {version.space: baseline}, "candidate": {version.space: name}},
                    modes={"space": [version.space], "fused": None},
                    describe={"baseline": f"{baseline}" + (" (live)" if space.live == baseline else ""),
                              "candidate": name + (" (live)" if space.live == name else "")})

    def promote(self, m: Migration, record: dict[str, Any], *, margin: float, force: bool,
                dry_run: bool) -> StepResult:
        """One registry write moves the space's live pointer: the next search on any replica uses it.

        Raises:
            Conflict: the version is retired, or the promote gate refuses it (unless `force`).
        """
        ctx, name = self.ctx, record["version"]
        reg = ctx.registry.get()
        version = reg.find(name)
        space = reg.space(version.space)
        result = StepResult(step="promote", target=name, dry_run=dry_run)
        if space.live == name:
            result.notes.append(f"{name} is already live")
            return result
        if version.status == "retired":
            raise Conflict(f"{name} is retired")
        gate = checked_gate(ctx, name, "promote", margin=margin, force=force)
        result.notes += [f"forced past: {b}" for b in gate.blockers] + list(gate.notes)
        old = space.live
        result.data = {"live": name, "previous": old}
        ends = (f"; ends the rollout of {space.rollout.version} at {space.rollout.percent} %"
                if space.rollout else "")
        what = (f"make {name} live for space {version.space!r} (was {old}); {old} stays written for rollback{ends}"
                if old else f"make {name} live: new space {version.space!r} is searched from now on")
        run_actions(result, [(what, lambda: self._save(reg, lifecycle.promote(reg, name, at=now()))),
                             *ctx.override_actions(m.revision, gate, step="promote", target=name, margin=margin)])
        result.notes.append(f"next: watch search, then scripts/migrate retire {m.revision} after the grace "
                            f"period (or scripts/migrate rollback {m.revision})" if old else
                            f"next: watch search (scripts/migrate rollback {m.revision} takes the space out of it)")
        return result

    def rollout(self, m: Migration, record: dict[str, Any], *, percent: int, margin: float, force: bool,
                dry_run: bool) -> StepResult:
        """A gradual rollout (`promote --percent`): one registry write sends `percent` % of live searches,
        picked by a stable hash of the query, to the new version; the rest keep the live one. Past the
        same gate as a promote, since users see its answers. Re-run with another percent to change it;
        a full promote or a rollback ends it.

        Raises:
            Conflict: the version is retired, the gate refuses it (unless `force`), the percent is not
                1 to 99, or another version of the space is being rolled out.
        """
        return rollout(self.ctx, self._save, m, record, percent=percent, margin=margin, force=force,
                       dry_run=dry_run)

    def rollback(self, m: Migration, record: dict[str, Any], *, dry_run: bool) -> StepResult:
        """Swap the live pointer back to the previous version; the rolled-back one stays written. During a
        rollout of the version, end the rollout instead: every search uses the live version again.

        Raises:
            Conflict: the previous version is retired (once retire cleared it: a note, nothing changes).
        """
        name = record["version"]
        reg = self.ctx.registry.get()
        space = reg.space(reg.find(name).space)
        result = StepResult(step="rollback", target=name, dry_run=dry_run)
        if space.rollout and space.rollout.version == name and space.live != name:
            result.data = {"live": space.live, "rollout": None}
            return run_actions(result, [(f"end the rollout of {name} at {space.rollout.percent} %: every search "
                                         f"uses {space.live} again; {name} stays written",
                                         lambda: self._save(reg, lifecycle.end_rollout(reg, name)))])
        if space.live == name and space.previous is None and record.get("replaces") is None:
            if refusal := made_nothing(self.ctx, m, reg.find(name), record):
                raise Conflict(refusal)  # the install started with it: no rollback takes a space out of search
            result.data = {"live": None}
            return run_actions(result, [(f"take new space {space.name!r} out of search: {name} is not live any more "
                                         "and stays written (promote again, or retire it)",
                                         lambda: self._save(reg, lifecycle.withdraw(reg, name, at=now())))])
        if space.live != name:
            result.notes.append(f"{name} is not live ({space.live_said}): nothing to roll back")
            return result
        previous = space.previous or str(record.get("replaces"))  # cleared by a later rollback: the one it replaced
        if previous not in space.versions or space.versions[previous].status == "retired":
            raise Conflict(f"nothing to roll back to: {previous} is retired (its vectors are gone)")
        result.data = {"live": previous}
        ends = f"; the rollout of {space.rollout.version} at {space.rollout.percent} % ends" if space.rollout else ""
        return run_actions(result, [(f"make {previous} live again for space {space.name!r}; "
                                     f"{name} stays written (promote again, or retire it){ends}",
                                     lambda: self._save(reg, lifecycle.rollback(reg, name, at=now(), to=previous)))])

    def retire(self, m: Migration, record: dict[str, Any], *, grace_s: float, force: bool,
               dry_run: bool, on_progress: Progress | None = None) -> StepResult:
        """Delete the version of the migration that is not live: the old one after a promote, the new
        one after a rollback (abandoning the migration). Registry first (ingest stops writing it), then
        its tag off every point in batches (`untag`: no point claims a version whose vector is gone), then
        the named vector. A run cut short is finished by the next (retired, but tags or vector left).

        Raises:
            Conflict: within the grace period or serving a gradual rollout (unless `force`), or the
                version is live.
        """
        ctx = self.ctx
        reg = ctx.registry.get()
        new = reg.find(record["version"])
        space = reg.space(new.space)
        old_name = str(record.get("replaces"))  # the old version once the new is live, or once it left it behind
        victim = space.versions.get(old_name) if space.live == new.name or replaced_left(space, new, record) else new
        result = StepResult(step="retire", target=victim.name if victim else "", dry_run=dry_run)
        if victim is new and recorded_only(record):  # it deleted a version it did not make (a break test)
            raise Conflict(f"{m.label} only recorded {new.name}: retire the migration that replaced it instead")
        if record.get("replaces") is None and space.live == new.name:
            made = "came with this install" if recorded_only(record) else "made a new space and replaced nothing"
            result.notes.append(f"nothing to retire: {new.name} {made}")
            return result
        physical = ctx.registry.physical()
        tagged = ctx.coverage(victim.name).covered if victim else 0
        if victim is None or (victim.status == "retired" and not tagged
                              and victim.name not in ctx.store.vector_specs(physical)):
            result.notes.append("nothing to retire: " + (f"{victim.name} is retired" if victim else
                                                          f"{old_name} is gone"))
            return result
        actions: list[Action] = []
        if victim.status != "retired":
            if space.rollout and space.rollout.version == victim.name and not force:
                raise Conflict(f"retire {victim.name} refused: it is serving a gradual rollout at "
                               f"{space.rollout.percent} % of searches; end the rollout first (promote or "
                               "rollback), or --force to retire it anyway")
            gate = retire_gate(age_s=age_s(victim.status_changed), grace_s=grace_s,
                               is_live=space.live == victim.name, force=force)
            if not gate.allowed:  # retiring the migration's own version (never live, or rolled back) abandons it
                raise Conflict(f"retire {victim.name} refused: {gate.message()}"
                               + (" (it would abandon this migration: its own version is not live)"
                                  if victim.name == new.name and space.live != new.name else ""))
            result.notes += [f"forced past: {b}" for b in gate.blockers]
            # registry first: ingest stops writing the vector (and its tag) before either is removed
            actions.append((f"mark {victim.name} retired (ingest stops writing it)",
                            lambda: self._save(reg, lifecycle.retire(reg, victim.name, at=now()))))
            actions += ctx.override_actions(m.revision, gate, step="retire", target=victim.name, grace_s=grace_s)
        if tagged:
            actions.append((f"remove tag {victim.name} from the {tagged} points that have it (in batches)",
                            lambda: untag(ctx, physical, victim.name, on_progress=on_progress)))
        if victim.name in ctx.store.vector_specs(physical):
            actions.append((f"delete named vector {victim.name} from {physical}",
                            lambda: ctx.store.delete_vector(physical, victim.name)))
        return run_actions(result, actions)

    def progress(self, m: Migration, record: dict[str, Any], reg: Registry) -> tuple[str, str]:
        """Where the migration stands (shadow, backfilling, ready, validated, live, done) and what comes next
        (`app.versioning.superseded.progress`)."""
        return progress(self.ctx, m, record, reg)
