"""The migration engine: each step checks its preconditions, can dry-run, and is safe to run again.

Add a version in place:  apply (named vector + shadow write) -> backfill -> validate -> promote
                         [-> rollback -> promote] -> retire (the version no longer live).
Rebuild (app.versioning.rebuild): apply (new collection + dual write) -> backfill (copy/re-embed)
                         -> validate -> promote (alias swap) [-> rollback] -> retire (old collection).

State lives in the store's meta, beside the data: the registry (versions, live pointers), the
applied migrations, the latest validation verdict per target, and a rebuild marker.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from app.domain.documents import Document, PreparedDocument, prepare
from app.domain.gates import Coverage, Gate, Verdict, promote_gate, retire_gate
from app.domain.plan import Filter, Match, MatchAny, build_plan
from app.domain.versions import Registry, VectorVersion
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import Conflict, InvalidInput
from app.services.encoding import encode_documents
from app.services.registry import RegistryRepo, now, spec_of
from app.services.search import default_weights
from app.settings import Settings
from app.store.base import Store, StoredPoint
from app.versioning import validate as val
from app.versioning.declare import AddVersion, Migration, Rebuild

TAGS = "vector_versions"  # payload key: the versions a point has a vector for
Progress = Callable[[int, int], None]  # (points done in this run, points to do in this run)

DEFAULT_MARGIN = 0.02
DEFAULT_BATCH = 256  # measured: 18 % more docs/s than 64 on SciFact titles (scripts/bench_backfill)
DEFAULT_GRACE_S = 24 * 3600.0


@dataclass
class StepResult:
    """What a step did (or, in a dry run, would do); rendered for operators, sent as JSON by the API."""

    step: str
    target: str = ""
    dry_run: bool = False
    actions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.actions) and not self.dry_run

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "target": self.target, "dry_run": self.dry_run, "changed": self.changed,
                "actions": self.actions, "notes": self.notes, "data": self.data}


Action = tuple[str, Callable[[], object]]  # a description and what does it (its result is unused)


def run_actions(result: StepResult, actions: list[Action]) -> StepResult:
    """Do each action in order (nothing in a dry run) and record it: the plan and the log are one list."""
    for description, fn in actions:
        if not result.dry_run:
            fn()
        result.actions.append(description)
    return result


def missing_filter(version: str) -> Filter:
    """Points without the version's tag: not backfilled yet (or written before the shadow write began)."""
    return Filter(must_not=(MatchAny(TAGS, (version,)),))


def tagged_filter(version: str) -> Filter:
    return Filter(must=(Match(TAGS, version),))


def prepared_from_payload(payload: dict[str, Any], settings: Settings) -> PreparedDocument:
    """Rebuild what ingest encoded from what it stored; the stored summary and entities are reused."""
    e = settings.encoders
    doc = Document(id=str(payload.get("doc_id", "")), title=payload.get("title") or "",
                   body=payload.get("body") or "", summary=payload.get("summary") or None,
                   entities=tuple(payload.get("entities") or ()) or None, metadata=payload.get("metadata") or {})
    return prepare(doc, chunk_words=e.chunk_words, max_chunks=e.max_chunks, max_entities=e.max_entities)


def age_s(stamp: str) -> float:
    """Seconds since an ISO timestamp written by `now()`; 0 when unknown."""
    if not stamp:
        return 0.0
    return (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(stamp)).total_seconds()


class Migrator:
    """Runs migration steps against one collection alias. One step at a time per process."""

    def __init__(self, *, store: Store, encoders: EncoderPool, registry: RegistryRepo, settings: Settings) -> None:
        self.store = store
        self.encoders = encoders
        self.registry = registry
        self.settings = settings
        self.alias = registry.alias
        self.lock = threading.RLock()

    # -- meta --------------------------------------------------------------------------------
    @property
    def _applied_key(self) -> str:
        return f"migrations:{self.alias}"

    def applied(self) -> dict[str, dict[str, Any]]:
        """Applied migrations by revision: the declaration and what apply recorded."""
        return dict((self.store.get_meta(self._applied_key) or {}).get("applied", {}))

    def record_applied(self, revision: str, record: dict[str, Any]) -> None:
        applied = self.applied()
        applied[revision] = record
        self.store.put_meta(self._applied_key, {"applied": applied})

    def override_actions(self, revision: str, gate: Gate, *, step: str, **context: Any) -> list[Action]:
        """When `--force` took a step past its gate, the action that records it in the applied
        migration's record (shown by `status` and `GET /admin/migrations`); none otherwise."""
        entry = gate.override(step=step, at=now(), **context)
        if entry is None:
            return []

        def record() -> None:
            applied = self.applied()
            if revision in applied:
                rec = applied[revision]
                self.record_applied(revision, {**rec, "overrides": [*rec.get("overrides", []), entry]})

        return [(f"record the override in {revision}'s record: forced {step} past "
                 f"{len(entry['overrode'])} blocker(s)", record)]

    def _verdict_key(self, target: str) -> str:
        return f"validation:{self.alias}:{target}"

    def save_verdict(self, verdict: Verdict) -> None:
        self.store.put_meta(self._verdict_key(verdict.target), verdict.to_dict())

    def verdict(self, target: str) -> Verdict | None:
        data = self.store.get_meta(self._verdict_key(target))
        return Verdict.from_dict(data) if data else None

    def resolve(self, target: str | None) -> tuple[Migration, dict[str, Any]]:
        """An applied migration by revision (`0001`), label (`0001_title_...`) or the version it added;
        the latest applied one when `target` is None."""
        applied = self.applied()
        if not applied:
            raise Conflict("no migration is applied yet: run `apply` first")
        if target is None:
            revision = max(applied)
        else:
            matches = [r for r, rec in applied.items()
                       if target in (r, Migration.from_dict(rec["migration"]).label, rec.get("version"))]
            if not matches:
                raise InvalidInput(f"no applied migration matches {target!r}", {"applied": sorted(applied)})
            revision = matches[0]
        record = applied[revision]
        return Migration.from_dict(record["migration"]), record

    def coverage(self, version: str, collection: str | None = None) -> Coverage:
        collection = collection or self.registry.physical()
        return Coverage(covered=self.store.count(collection, tagged_filter(version)),
                        total=self.store.count(collection))

    # -- status and plan ---------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Every version with its coverage, the applied migrations with their next step, any rebuild."""
        reg = self.registry.get()
        physical = self.registry.physical()
        total = self.store.count(physical)
        specs = self.store.vector_specs(physical)
        versions = []
        for space in reg.spaces.values():
            for v in sorted(space.versions.values(), key=lambda v: v.version):
                covered = self.store.count(physical, tagged_filter(v.name)) if v.name in specs else None
                versions.append({
                    "space": space.name, "version": v.name, "status": v.status, "model": v.model, "dim": v.dim,
                    "distance": specs[v.name].distance if v.name in specs else v.distance,
                    "live": space.live == v.name, "previous": space.previous == v.name,
                    "covered": covered, "total": total,
                    "percent": None if covered is None else Coverage(covered, total).percent,
                    "status_changed": v.status_changed,
                })
        migrations = []
        for revision, record in sorted(self.applied().items()):
            m = Migration.from_dict(record["migration"])
            state, nxt = self._progress(m, record, reg)
            migrations.append({"revision": revision, "label": m.label, "description": m.change.describe(),
                               "applied": record.get("applied"), "state": state, "next": nxt,
                               "overrides": list(record.get("overrides", []))})
        rebuild = self.registry.rebuild()
        if rebuild:
            rebuild = {**rebuild, "live": physical}
        return {"alias": self.alias, "physical": physical, "points": total, "revision": reg.revision,
                "versions": versions, "migrations": migrations, "rebuild": rebuild}

    def _progress(self, m: Migration, record: dict[str, Any], reg: Registry) -> tuple[str, str]:
        """Where an applied migration stands, and the step an operator runs next."""
        if isinstance(m.change, Rebuild):
            from app.versioning.rebuild import progress

            return progress(self, record)
        name = record["version"]
        v = reg.find(name)
        space = reg.space(v.space)
        old = record.get("replaces")
        old_status = space.versions[old].status if old and old in space.versions else "retired"
        if v.status == "retired":
            return "abandoned (retired)", "-"
        if v.status in ("shadow", "backfilling"):
            return v.status, "backfill"
        if v.status == "ready":
            return ("ready", "validate") if self.verdict(name) is None else ("validated", "promote")
        if old_status != "retired":
            return "live", f"retire {old} (after the grace period)"
        return "done", "-"

    def plan(self, migrations: list[Migration]) -> StepResult:
        """Each migration file: applied (and its next step) or pending; a dry run of the next `apply`."""
        result = StepResult(step="plan", dry_run=True)
        applied = self.applied()
        reg = self.registry.get()
        rows = []
        for m in migrations:
            if m.revision in applied:
                state, nxt = self._progress(m, applied[m.revision], reg)
            else:
                state, nxt = "pending", "apply"
            rows.append({"label": m.label, "state": state, "next": nxt, "description": m.change.describe()})
        result.data["migrations"] = rows
        pending = [m for m in migrations if m.revision not in applied]
        if pending:
            try:
                dry = self.apply(pending[0], dry_run=True)
                result.notes.append(f"next: apply {pending[0].label}")
                result.actions += dry.actions
            except Conflict as e:
                result.notes.append(f"next: apply {pending[0].label} would be refused: {e.message}")
        return result

    # -- apply -------------------------------------------------------------------------------
    def apply(self, m: Migration, *, dry_run: bool = False) -> StepResult:
        with self.lock:
            applied = self.applied()
            if m.depends_on and m.depends_on not in applied:
                raise Conflict(f"{m.label} depends on {m.depends_on}, which is not applied: apply it first")
            rebuild = self.registry.rebuild()
            if isinstance(m.change, Rebuild):
                from app.versioning.rebuild import apply_rebuild

                return apply_rebuild(self, m, applied.get(m.revision), rebuild, dry_run=dry_run)
            if rebuild and rebuild.get("status") not in (None, "retired"):
                raise Conflict(f"a rebuild ({rebuild.get('migration')}) is in progress: finish or retire it first")
            return self._apply_add(m, m.change, applied.get(m.revision), dry_run=dry_run)

    def _apply_add(self, m: Migration, change: AddVersion, record: dict[str, Any] | None, *,
                   dry_run: bool) -> StepResult:
        reg = self.registry.get()
        space = reg.space(change.space)
        live = reg.live_version(change.space)
        if change.model not in self.settings.models:
            raise Conflict(f"model {change.model!r} is not configured; known: {sorted(self.settings.models)}")
        model_kind = self.settings.models[change.model].kind
        if (live.kind == "sparse") != (model_kind == "sparse"):
            raise Conflict(f"space {change.space!r} is {live.kind} but model {change.model!r} is {model_kind}")
        version = VectorVersion(space=live.space, field=live.field, kind=live.kind, model=change.model,
                                version=change.version, dim=self.encoders.dim(change.model), distance=live.distance,
                                status="shadow", created=now(), status_changed=now())
        name = version.name
        result = StepResult(step="apply", target=m.label, dry_run=dry_run)
        existing = space.versions.get(name)
        if existing is None:
            taken = [v.version for v in space.versions.values()]
            if change.version <= max(taken):
                raise Conflict(f"space {change.space!r} already has version v{max(taken)}: "
                               f"a new version must be numbered above it")
        physical = self.registry.physical()
        actions: list[Action] = []
        if name not in self.store.vector_specs(physical):
            actions.append((f"add named vector {name} ({version.kind}, {version.dim}, {version.distance}) "
                            f"to collection {physical}",
                            lambda: self.store.add_vector(physical, name, spec_of(version))))
        if existing is None:
            # vector first, registry second: ingest must never write a vector the collection lacks
            actions.append((f"register {name} as shadow: from now on every write encodes it too",
                            lambda: self.registry.save(reg.with_version(version), expect=reg.revision)))
        else:
            result.notes.append(f"{name} is already registered (status {existing.status})")
        if record is None:
            actions.append((f"record {m.label} as applied", lambda: self.record_applied(m.revision, {
                "migration": m.to_dict(), "applied": now(), "version": name, "replaces": live.name})))
        result.data = {"version": name, "replaces": live.name}
        if not actions:
            return result
        result.notes.append(f"next: scripts/migrate backfill {m.revision}")
        return run_actions(result, actions)

    # -- backfill ----------------------------------------------------------------------------
    def backfill(self, target: str | None = None, *, batch: int = DEFAULT_BATCH, max_points: int | None = None,
                 start: str | None = None, dry_run: bool = False, on_progress: Progress | None = None) -> StepResult:
        """Encode the new version for every point that lacks it, in batches, resumable at any point.

        Each batch writes the vectors first (only onto points still untagged, so a document the API
        rewrote meanwhile keeps its fresh vector) and the tags second: a crash between the two leaves
        untagged points that the next run encodes again. One pass scrolls the untagged points in id
        order from `start` (a cursor a previous slice returned; None: the beginning), so no batch
        re-reads the points done before it. `max_points` bounds one call: the admin API backfills
        in slices, so no request runs for long, and hands back `data["cursor"]` for the next one.
        """
        with self.lock:
            m, record = self.resolve(target)
            if isinstance(m.change, Rebuild):
                from app.versioning.rebuild import fill

                return fill(self, m, batch=batch, max_points=max_points, dry_run=dry_run, on_progress=on_progress)
            name = record["version"]
            reg = self.registry.get()
            version = reg.find(name)
            result = StepResult(step="backfill", target=name, dry_run=dry_run)
            if version.status == "retired":
                raise Conflict(f"{name} is retired")
            physical = self.registry.physical()
            todo = self.store.count(physical, missing_filter(name))
            total = self.store.count(physical)
            result.data = {"version": name, "total": total, "missing": todo, "done": 0, "complete": todo == 0}
            if todo == 0:
                if version.status in ("shadow", "backfilling"):
                    run_actions(result, [(f"mark {name} ready: all {total} points have it",
                                          lambda: self._set_status(name, "ready"))])
                result.notes.append(f"coverage {Coverage(total, total)}: nothing to backfill")
                return result
            if dry_run:
                result.actions.append(f"encode {todo} of {total} points with {version.model} "
                                      f"in batches of {batch}, then tag them {name}")
                return result
            if version.status == "shadow":
                run_actions(result, [(f"mark {name} backfilling", lambda: self._set_status(name, "backfilling"))])
            limit = min(todo, max_points) if max_points else todo
            done, t0 = 0, time.perf_counter()
            flt = missing_filter(name)
            cursor = start
            while done < limit:
                points, cursor = self.store.scroll(physical, filter=flt, limit=min(batch, limit - done),
                                                   offset=cursor)
                if points:
                    self._backfill_batch(physical, version, points, flt)
                    done += len(points)
                    if on_progress:
                        on_progress(done, limit)
                if cursor is None:
                    break
            elapsed = time.perf_counter() - t0
            remaining = self.store.count(physical, flt)
            result.actions.append(f"encoded and tagged {done} points in {elapsed:.1f} s "
                                  f"({done / elapsed if elapsed else 0.0:.1f} docs/s)")
            result.data |= {"done": done, "remaining": remaining, "complete": remaining == 0,
                            "seconds": round(elapsed, 3), "cursor": cursor if remaining else None}
            if remaining == 0:
                if self.registry.get().find(name).status in ("shadow", "backfilling"):  # not a forced live one
                    run_actions(result, [(f"mark {name} ready: all {total} points have it",
                                          lambda: self._set_status(name, "ready"))])
                result.notes.append(f"next: scripts/migrate validate {m.revision} --queries FILE | --beir DIR")
            else:
                result.notes.append(f"{remaining} points left: run backfill again to continue")
            return result

    def _backfill_batch(self, physical: str, version: VectorVersion, points: list[StoredPoint],
                        flt: Filter) -> None:
        docs = [prepared_from_payload(p.payload, self.settings) for p in points]
        vectors = encode_documents(docs, [version], self.encoders)
        self.store.update_vectors(physical, {p.id: {version.name: v[version.name]}
                                             for p, v in zip(points, vectors, strict=True)}, only_if=flt)
        by_tags: dict[tuple[str, ...], list[str]] = {}
        for p in points:
            tags = list(p.payload.get(TAGS) or [])
            by_tags.setdefault(tuple([*tags, version.name] if version.name not in tags else tags), []).append(p.id)
        for new_tags, ids in by_tags.items():
            self.store.set_payload(physical, ids, {TAGS: list(new_tags)})

    def _set_status(self, name: str, status: str) -> None:
        reg = self.registry.get()
        v = reg.find(name)
        if v.status != status:
            new = reg.with_version(replace(v, status=status, status_changed=now()))  # type: ignore[arg-type]
            self.registry.save(new, expect=reg.revision)

    # -- validate ----------------------------------------------------------------------------
    def validate(self, target: str | None, query_set: val.QuerySet, *, k: int = 10, dry_run: bool = False,
                 force: bool = False, on_query: Callable[[int], None] | None = None) -> StepResult:
        """Run live and candidate side by side; store the verdict the promote gate reads."""
        m, record = self.resolve(target)
        if isinstance(m.change, Rebuild):
            from app.versioning.rebuild import validation_arms

            arms = validation_arms(self, m)
        else:
            arms = self._version_arms(m, record, force=force)
        target_name, collections, pins, modes, describe = arms
        result = StepResult(step="validate", target=target_name, dry_run=dry_run)
        if dry_run:
            result.actions.append(f"run {len(query_set.queries)} queries from {query_set.name} on "
                                  f"{describe['baseline']} and {describe['candidate']} ({', '.join(modes)})")
            return result
        reg = self.registry.get()
        s = self.settings.search
        query_vectors: dict[tuple[str, str], Any] = {}

        def search(arm: str, mode: str, text: str) -> list[str]:
            fields = modes[mode]
            plan = build_plan(reg, fields=fields or s.default_fields, fusion=s.fusion, rrf_k=s.rrf_k,
                              weights=default_weights(s, reg, fields),
                              limit=val.RECALL_K, prefetch_limit=max(s.prefetch_limit, val.RECALL_K),
                              filter=Filter(), versions=pins[arm])
            vectors = {}
            for sq in plan.spaces:
                key = (sq.model, text)
                if key not in query_vectors:
                    query_vectors[key] = self.encoders.get(sq.model).embed_query(text)
                vectors[sq.vector_name] = query_vectors[key]
            hits = self.store.query(collections[arm], plan, vectors).hits
            return [str((h.payload or {}).get("doc_id", h.id)) for h in hits]

        def on_each(i: int) -> None:
            query_vectors.clear()
            if on_query:
                on_query(i)

        t0 = time.perf_counter()
        compared = val.compare(query_set, modes=list(modes), search=search, k=k, on_query=on_each)
        gate_metrics = compared["modes"][compared["gate_mode"]]
        ndcg = gate_metrics.get(f"ndcg@{k}")
        others = {f"{mode} nDCG@{k}": v[f"ndcg@{k}"]["candidate"] - v[f"ndcg@{k}"]["baseline"]
                  for mode, v in compared["modes"].items() if mode != compared["gate_mode"] and f"ndcg@{k}" in v}
        verdict = Verdict(target=target_name, metric=f"{compared['gate_mode']} nDCG@{k}",
                          baseline=ndcg["baseline"] if ndcg else None, candidate=ndcg["candidate"] if ndcg else None,
                          overlap=gate_metrics[f"overlap@{k}"], queries=compared["queries"], created=now(),
                          others=others)
        gate = promote_gate(coverage=Coverage(1, 1), verdict=verdict, margin=DEFAULT_MARGIN, force=False)
        report = {**compared, "target": target_name, "migration": m.label, "created": verdict.created,
                  "collection": collections["candidate"], "query_set": query_set.name, "k": k,
                  "arms": describe, "verdict": verdict.to_dict(), "seconds": round(time.perf_counter() - t0, 1),
                  "gate_summary": ("passes" if gate.allowed else "fails") + f" at the default margin "
                                  f"{DEFAULT_MARGIN}: " + gate.message()}
        run_actions(result, [(f"store the verdict for {target_name} ({verdict.metric}: "
                              f"{_fmt(verdict.baseline)} -> {_fmt(verdict.candidate)}, overlap@{k} "
                              f"{_fmt(verdict.overlap)}) for the promote gate",
                              lambda: self.save_verdict(verdict))])
        result.data = {"report": report}
        result.notes += val.report_text(report)
        return result

    def _version_arms(self, m: Migration, record: dict[str, Any], *, force: bool) -> tuple[
            str, dict[str, str], dict[str, dict[str, str]], dict[str, list[str] | None], dict[str, str]]:
        name = record["version"]
        reg = self.registry.get()
        version = reg.find(name)
        space = reg.space(version.space)
        if version.status == "retired":
            raise Conflict(f"{name} is retired")
        coverage = self.coverage(name)
        if not coverage.complete and not force:
            raise Conflict(f"{name} covers {coverage}: backfill to 100 % before validating (or --force)")
        baseline = space.live if space.live != name else (space.previous or record.get("replaces"))
        if baseline is None or baseline == name:
            raise Conflict(f"nothing to compare {name} with: no other version of {version.space!r} is written")
        physical = self.registry.physical()
        pins = {"baseline": {version.space: baseline}, "candidate": {version.space: name}}
        modes: dict[str, list[str] | None] = {"space": [version.space], "fused": None}
        describe = {"baseline": f"{baseline}" + (" (live)" if space.live == baseline else ""),
                    "candidate": name + (" (live)" if space.live == name else "")}
        return name, {"baseline": physical, "candidate": physical}, pins, modes, describe

    # -- promote, rollback, retire -----------------------------------------------------------
    def promote(self, target: str | None = None, *, margin: float = DEFAULT_MARGIN, force: bool = False,
                dry_run: bool = False) -> StepResult:
        """One registry write moves the space's live pointer: the next search on any replica uses it."""
        with self.lock:
            m, record = self.resolve(target)
            if isinstance(m.change, Rebuild):
                from app.versioning.rebuild import promote_rebuild

                return promote_rebuild(self, m, margin=margin, force=force, dry_run=dry_run)
            name = record["version"]
            reg = self.registry.get()
            version = reg.find(name)
            space = reg.space(version.space)
            result = StepResult(step="promote", target=name, dry_run=dry_run)
            if space.live == name:
                result.notes.append(f"{name} is already live")
                return result
            if version.status == "retired":
                raise Conflict(f"{name} is retired")
            gate = promote_gate(coverage=self.coverage(name), verdict=self.verdict(name), margin=margin,
                                force=force)
            if not gate.allowed:
                raise Conflict(f"promote {name} refused: {gate.message()} (--force to override)",
                               {"blockers": list(gate.blockers)})
            result.notes += [f"forced past: {b}" for b in gate.blockers] + list(gate.notes)
            old = space.live

            def swap() -> None:
                # on the registry the gate was checked on: if another step changed it since, 409
                stamp = now()
                new = reg.with_version(replace(reg.find(name), status="live", status_changed=stamp))
                if old:  # the old version stays written and complete, so a rollback loses nothing
                    new = new.with_version(replace(new.find(old), status="ready", status_changed=stamp))
                new = new.with_live(version.space, name, old)
                self.registry.save(new, expect=reg.revision)

            result.data = {"live": name, "previous": old}
            run_actions(result, [(f"make {name} live for space {version.space!r} (was {old}); "
                                  f"{old} stays written for rollback", swap),
                                 *self.override_actions(m.revision, gate, step="promote", target=name,
                                                        margin=margin)])
            result.notes.append(f"next: watch search, then scripts/migrate retire {m.revision} after the grace "
                                f"period (or scripts/migrate rollback {m.revision})")
            return result

    def rollback(self, target: str | None = None, *, dry_run: bool = False) -> StepResult:
        """Swap the live pointer back to the previous version; the rolled-back one stays written."""
        with self.lock:
            m, record = self.resolve(target)
            if isinstance(m.change, Rebuild):
                from app.versioning.rebuild import rollback_rebuild

                return rollback_rebuild(self, m, dry_run=dry_run)
            name = record["version"]
            reg = self.registry.get()
            space = reg.space(reg.find(name).space)
            result = StepResult(step="rollback", target=name, dry_run=dry_run)
            if space.live != name or space.previous is None:
                result.notes.append(f"{name} is not live (live is {space.live}): nothing to roll back")
                return result
            previous = space.previous
            if space.versions[previous].status == "retired":
                raise Conflict(f"{previous} is retired: its vectors are gone, rollback is not possible")

            def swap() -> None:
                stamp = now()
                new = reg.with_version(replace(reg.find(previous), status="live", status_changed=stamp))
                new = new.with_version(replace(new.find(name), status="ready", status_changed=stamp))
                new = new.with_live(space.name, previous, None)
                self.registry.save(new, expect=reg.revision)

            result.data = {"live": previous}
            return run_actions(result, [(f"make {previous} live again for space {space.name!r}; "
                                         f"{name} stays written (promote again, or retire it)", swap)])

    def retire(self, target: str | None = None, *, grace_s: float = DEFAULT_GRACE_S, force: bool = False,
               dry_run: bool = False) -> StepResult:
        """Delete the version of the migration that is not live: the old one after a promote, the new
        one after a rollback (abandoning the migration). Refused within the grace period unless forced."""
        with self.lock:
            m, record = self.resolve(target)
            if isinstance(m.change, Rebuild):
                from app.versioning.rebuild import retire_rebuild

                return retire_rebuild(self, m, grace_s=grace_s, force=force, dry_run=dry_run)
            reg = self.registry.get()
            new = reg.find(record["version"])
            space = reg.space(new.space)
            old_name = str(record.get("replaces"))
            victim = space.versions.get(old_name) if space.live == new.name else new
            result = StepResult(step="retire", target=victim.name if victim else "", dry_run=dry_run)
            physical = self.registry.physical()
            if victim is None or (victim.status == "retired" and victim.name not in self.store.vector_specs(physical)):
                result.notes.append("nothing to retire: " + (f"{victim.name} is retired" if victim else
                                                              f"{old_name} is gone"))
                return result
            actions: list[Action] = []
            if victim.status != "retired":
                gate = retire_gate(age_s=age_s(victim.status_changed), grace_s=grace_s,
                                   is_live=space.live == victim.name, force=force)
                if not gate.allowed:
                    raise Conflict(f"retire {victim.name} refused: {gate.message()}"
                                   + (" (--force to override)" if space.live != victim.name else ""))
                result.notes += [f"forced past: {b}" for b in gate.blockers]

                def mark() -> None:
                    new_reg = reg.with_version(replace(reg.find(victim.name), status="retired",
                                                       status_changed=now()))
                    if space.previous == victim.name:
                        new_reg = new_reg.with_live(space.name, space.live, None)
                    self.registry.save(new_reg, expect=reg.revision)

                # registry first: ingest stops writing the vector before it is deleted
                actions.append((f"mark {victim.name} retired (ingest stops writing it)", mark))
                actions += self.override_actions(m.revision, gate, step="retire", target=victim.name,
                                                 grace_s=grace_s)
            if victim.name in self.store.vector_specs(physical):
                actions.append((f"delete named vector {victim.name} from {physical}",
                                lambda: self.store.delete_vector(physical, victim.name)))
            return run_actions(result, actions)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"
