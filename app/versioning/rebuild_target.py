"""What a rebuild builds: the new collection's name, vector specs and storage settings, and their summary."""

from __future__ import annotations

import re
from dataclasses import replace

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
    """The spaces whose vectors the rebuild changes (distance, re-embedding, quantization, on-disk), sorted."""
    return sorted(set(change.distance) | set(change.reembed) | set(change.quantization) | set(change.on_disk))


def target_config(ctx: Context, change: Rebuild) -> CollectionConfig:
    """The settings' collection layout (`MULTIVEC_COLLECTION__*`) with the rebuild's changes on top,
    as `target_specs` puts the new distance on top of the registry's specs."""
    base = collection_config(ctx.settings.collection)
    storage = dict(base.storage)
    for space in set(change.quantization) | set(change.on_disk):
        was = base.storage.get(space, base.default)
        storage[space] = VectorStorage(on_disk=change.on_disk.get(space, was.on_disk),
                                       quantization=change.quantization.get(space, was.quantization),
                                       always_ram=was.always_ram)
    return replace(base, storage=storage, **change.collection)  # type: ignore[arg-type]


def config_summary(change: Rebuild, config: CollectionConfig, specs: dict[str, VectorSpec]) -> list[str]:
    """What the dry run and the log show of the new storage and layout: only what the rebuild changes."""
    parts = [f"{k} {v}" for k, v in sorted(change.collection.items())]
    parts += [f"{n} {config.for_vector(n).describe()}" for n in specs
              if n.split(".")[0] in set(change.quantization) | set(change.on_disk)]
    return parts


def target_specs(ctx: Context, change: Rebuild) -> dict[str, VectorSpec]:
    """Every written version's vector spec in the new collection: the registry's, with the rebuild's distances."""
    reg = ctx.registry.get()
    specs = {}
    for v in reg.written_versions():
        spec = spec_of(v)
        if v.space in change.distance:
            spec = replace(spec, distance=change.distance[v.space])
        specs[v.name] = spec
    return specs
