"""What a rebuild builds: the new collection's name, vector specs and storage settings, and their summary."""

from __future__ import annotations

import re
from dataclasses import replace

from app.domain.versions import Registry
from app.errors import Conflict
from app.repos.registry import spec_of
from app.store.base import CollectionConfig, VectorSpec, VectorStorage
from app.store.factory import collection_config
from app.versioning.declare import Rebuild
from app.versioning.steps import Context


def next_collection(ctx: Context) -> str:
    """`<alias>__N`, one above the highest N in use."""
    pattern = re.compile(rf"^{re.escape(ctx.alias)}__(\d+)$")
    taken = [int(g.group(1)) for c in ctx.store.list_collections() if (g := pattern.match(c))]
    return f"{ctx.alias}__{max(taken, default=0) + 1}"


def changed_spaces(change: Rebuild) -> list[str]:
    """The spaces whose vectors the rebuild changes (distance, re-embedding, quantization, on-disk, index,
    datatype), sorted."""
    return sorted(set(change.distance) | set(change.reembed) | storage_spaces(change) | set(change.index))


def storage_spaces(change: Rebuild) -> set[str]:
    """The spaces whose storage (`VectorStorage`: quantization, on-disk, datatype) the rebuild changes."""
    return set(change.quantization) | set(change.on_disk) | set(change.datatype)


def refuse_sparse(reg: Registry, change: Rebuild) -> None:
    """Refuse what a sparse space cannot take: a distance, quantization, an index or a datatype.

    Raises:
        UnknownSpace: a space the registry does not have.
        Conflict: naming the sparse space and what it lacks.
    """
    for space in changed_spaces(change):
        if not reg.space(space).versions or reg.live_version(space).kind != "sparse":  # reg.space raises UnknownSpace
            continue
        if space in change.distance:
            raise Conflict(f"space {space!r} is sparse: it has no distance to change")
        if change.quantization.get(space, "none") != "none":
            raise Conflict(f"space {space!r} is sparse: Qdrant quantizes dense vectors only")
        if space in change.index:
            raise Conflict(f"space {space!r} is sparse: it has an inverted index, no HNSW graph to change")
        if change.datatype.get(space, "float32") != "float32":
            raise Conflict(f"space {space!r} is sparse: its weights are float32, only dense and multivector "
                           "spaces take datatype float16")


def target_config(ctx: Context, change: Rebuild) -> CollectionConfig:
    """The settings' collection layout (`MULTIVEC_COLLECTION__*`) with the rebuild's changes on top,
    as `target_specs` puts the new distance on top of the registry's specs. A space's datatype is the
    one its live version has in the collection the alias points at, unless the rebuild changes it: a
    rebuild for something else never turns a float32 install (made before float16 became the default)
    into float16 without a word."""
    base = collection_config(ctx.settings.collection)
    storage = dict(base.storage)
    held = ctx.store.vector_datatypes(ctx.registry.physical())
    reg = ctx.registry.get()
    for space in (s for s in reg.live_spaces() if s not in change.datatype):
        kept = held.get(reg.live_version(space).name)
        if kept is not None and kept != base.for_vector(space).datatype:
            storage[space] = replace(base.for_vector(space), datatype=kept)
    for space in storage_spaces(change):
        was = storage.get(space, base.default)  # the datatype kept above, for a space the rebuild quantizes
        storage[space] = VectorStorage(on_disk=change.on_disk.get(space, was.on_disk),
                                       quantization=change.quantization.get(space, was.quantization),
                                       always_ram=was.always_ram, datatype=change.datatype.get(space, was.datatype))
    return replace(base, storage=storage, **change.collection)  # type: ignore[arg-type]


def config_summary(change: Rebuild, config: CollectionConfig, specs: dict[str, VectorSpec]) -> list[str]:
    """What the dry run and the log show of the new storage and layout: only what the rebuild changes."""
    parts = [f"{k} {v}" for k, v in sorted(change.collection.items())]
    parts += [f"{n} {config.for_vector(n).describe()}" for n in specs if n.split(".")[0] in storage_spaces(change)]
    parts += [f"{n} index {s.index}" + (" (no HNSW graph)" if s.index == "rerank" else "") for n, s in specs.items()
              if n.split(".")[0] in change.index]
    return parts


def target_specs(ctx: Context, change: Rebuild) -> dict[str, VectorSpec]:
    """Every written version's vector spec in the new collection: the registry's, with the rebuild's
    distances and indexes."""
    reg = ctx.registry.get()
    specs = {}
    for v in reg.written_versions():
        spec = spec_of(v)
        specs[v.name] = replace(spec, distance=change.distance.get(v.space, spec.distance),
                                index=change.index.get(v.space, spec.index))
    return specs
