"""What an added version is like: the version it is modelled on (or a new space's declaration), and
what validating a new space compares."""

from __future__ import annotations

from app.domain.versions import IndexKind, Registry, VectorVersion
from app.errors import InvalidInput
from app.versioning.declare import AddVersion
from app.versioning.steps import Arms, Context


def version_template(ctx: Context, reg: Registry, change: AddVersion) -> tuple[VectorVersion, VectorVersion | None]:
    """What the new version is like (field, kind, distance) and the live version it replaces: the
    space's live version, or for a space the registry lacks, the declaration's field and kind.

    Raises:
        InvalidInput: the model is not configured or of the wrong kind; a new space undeclared, or
            a declared field or kind that the existing space does not have.
        Conflict: the existing space has no live version.
    """
    if change.model not in ctx.settings.models:
        raise InvalidInput(f"migration.change.model: {change.model!r} is not a configured model; known: "
                           f"{sorted(ctx.settings.models)}")
    if change.space in reg.spaces and reg.spaces[change.space].live is None and change.new_space:
        live = None  # a space this migration created: its first version, not live yet
        template = next(iter(reg.spaces[change.space].versions.values()))
    elif change.space in reg.spaces:
        live = template = reg.live_version(change.space)
    elif change.new_space:
        live, template = None, VectorVersion(space=change.space, field=str(change.field),
                                             kind=change.space_kind, model=change.model,  # type: ignore[arg-type]
                                             version=change.version, dim=None)
    else:
        raise InvalidInput(f"migration.change: space {change.space!r} does not exist; to create it, declare its "
                           "field and space_kind", {"known": sorted(reg.spaces)})
    if change.new_space and (change.field, change.space_kind) != (template.field, template.kind):
        raise InvalidInput(f"migration.change: space {change.space!r} exists as {template.kind} over field "
                           f"{template.field}, not {change.space_kind} over {change.field}")
    model_kind = ctx.settings.models[change.model].kind
    if (template.kind == "sparse") != (model_kind == "sparse"):
        raise InvalidInput(f"migration.change.model: space {change.space!r} is {template.kind} but model "
                           f"{change.model!r} is {model_kind}")
    return template, live


def new_space_arms(ctx: Context, reg: Registry, version: VectorVersion) -> Arms:
    """A new space has no other version to compare with: compare the default search without it
    (the live spaces) and with it (as it will run once the space is live, weighted as the settings
    say; a space they weigh 0 changes nothing, and validation shows that)."""
    live = {s: reg.live_version(s).name for s in reg.live_spaces() if s != version.space}
    physical = ctx.registry.physical()
    weight = ctx.settings.search.weights.get(version.space, 1.0)
    return Arms(target=version.name, collections={"baseline": physical, "candidate": physical},
                pins={"baseline": live, "candidate": {**live, version.space: version.name}},
                modes={"fused": None},
                describe={"baseline": f"the default search over the live spaces, without {version.space!r}",
                          "candidate": f"the default search with {version.name} (weight {weight:g})"})


def version_index(ctx: Context, change: AddVersion, template: VectorVersion) -> IndexKind:
    """The new version's index: the migration's (`change.index`), else the space's settings (`index: rerank`:
    no HNSW graph, m = 0), else the version it is modelled on (a space the settings lack).

    Raises:
        InvalidInput: a rerank-only sparse space (it has an inverted index, no graph to drop).
    """
    configured = {s.name: s.index for s in ctx.settings.spaces}
    index: IndexKind = change.index or configured.get(change.space) or template.index  # type: ignore[assignment]
    if index == "rerank" and template.kind == "sparse":
        raise InvalidInput(f"migration.change.index: space {change.space!r} is sparse: it has an inverted index, "
                           "no HNSW graph to leave out (rerank-only is for dense and multivector spaces)")
    return index


def index_note(live: VectorVersion | None, version: VectorVersion) -> str | None:
    """What an operator must know when the new version's index differs from the live one's: how searches
    naming the space run once it is promoted. None when they agree (or the space has no live version)."""
    if live is None or live.index == version.index:
        return None
    if version.index == "rerank":
        return (f"{version.name} is rerank-only (no HNSW graph) where {live.name} has one: validation and, once "
                f"promoted, every search naming {version.space!r} rescore candidates with it (a cascade)")
    return (f"{version.name} has an HNSW graph where {live.name} is rerank-only: once promoted, {version.space!r} "
            "is searched on its own")


def shape_of(version: VectorVersion) -> str:
    """How the version's named vector is stored, for a dry run: `multi, 384, cosine, rerank-only: no HNSW
    graph, m = 0`, or a sparse vector's modifier."""
    if version.kind == "sparse":
        return f"sparse, dot product{', IDF' if version.idf else ', no IDF'}"
    graph = "rerank-only: no HNSW graph, m = 0" if version.index == "rerank" else "HNSW graph"
    return f"{version.kind}, {version.dim}, {version.distance}, {graph}"
