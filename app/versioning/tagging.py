"""A version's tags on points (payload `vector_versions`): added by a backfill, removed by a retire; the
note of a backfill that stopped at its limit."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from app.domain.plan import Filter
from app.domain.versions import VectorVersion
from app.services.encoding import encode_documents
from app.store.base import StoredPoint
from app.versioning.steps import TAGS, Context, Progress, tagged_filter

UNTAG_BATCH = 256  # points per set_payload round on retire


def _retag(ctx: Context, physical: str, points: Iterable[StoredPoint], change: Callable[[list[str]], list[str]]
           ) -> None:
    """Write each point's tags as `change` makes them, one `set_payload` per distinct new tag list."""
    by_tags: dict[tuple[str, ...], list[str]] = {}
    for p in points:
        by_tags.setdefault(tuple(change(list(p.payload.get(TAGS) or []))), []).append(p.id)
    for new_tags, ids in by_tags.items():
        ctx.store.set_payload(physical, ids, {TAGS: list(new_tags)})


def backfill_batch(ctx: Context, physical: str, version: VectorVersion, points: list[StoredPoint],
                   flt: Filter) -> None:
    """Encode `version` for `points` and write it (only onto points still matching `flt`, so a document
    the API rewrote meanwhile keeps its fresh vector), then add the tag: vectors first, tags second.

    Raises:
        StoreUnavailable: the store failed past its retries (the untagged points are encoded again next run).
    """
    vectors = encode_documents([ctx.prepared(p.payload) for p in points], [version], ctx.encoders)
    # a point with nothing to encode in this space (no entities) gets no vector, only the tag
    ctx.store.update_vectors(physical, {p.id: {version.name: v[version.name]}
                                        for p, v in zip(points, vectors, strict=True) if version.name in v},
                             only_if=flt)
    _retag(ctx, physical, points, lambda tags: tags if version.name in tags else [*tags, version.name])


def untag(ctx: Context, physical: str, name: str, *, batch: int | None = None,
          on_progress: Progress | None = None) -> int:
    """Remove `name` from the tags of every point of `physical` that has it, in batches of `batch`.

    Idempotent and resumable: it works on the points still tagged, so a run cut short is finished by
    the next one, and a run with nothing tagged does nothing.

    Args:
        ctx: the collaborators.
        physical: the collection.
        name: the version whose tag goes.
        batch: points per page and per `set_payload` round (default `UNTAG_BATCH`).
        on_progress: called with (points untagged so far, points tagged when it started).

    Returns:
        The number of points untagged.

    Raises:
        StoreUnavailable: the store failed past its retries (run the step again to finish).
    """
    flt, batch = tagged_filter(name), batch or UNTAG_BATCH
    todo = ctx.store.count(physical, flt)
    done, cursor = 0, None
    while todo:
        # id order from the cursor: pages shrink the filter's set behind us, never ahead
        points, cursor = ctx.store.scroll(physical, filter=flt, limit=batch, offset=cursor)
        _retag(ctx, physical, points, lambda tags: [t for t in tags if t != name])
        done += len(points)
        if on_progress:
            on_progress(done, todo)
        if cursor is None:
            break
    return done


def written_tags(tags: Iterable[str], written: set[str]) -> list[str]:
    """`tags` without the versions not in `written` (a rebuild copies a point's tags into a collection
    that has only the written versions' vectors)."""
    return [t for t in tags if t in written]


def stopped_note(*, done: int, remaining: int, total: int, what: str, revision: str, dry_run: bool = False) -> str:
    """The note of a backfill that stopped at its `max_points` with work left: how much is left and how
    to continue (the direct path, the admin API and `scripts/migrate --url` say it alike).

    Args:
        done: points this run did.
        remaining: points still to do.
        total: points in the collection.
        what: what the points still lack (a version name, or the rebuild's target collection).
        revision: the migration's revision, for the command that continues.
        dry_run: the run only said what it would do: the note says "would" (nothing was done yet).
    """
    if dry_run:
        return (f"would stop after {done} points (--max-points): {remaining} of {total} points would still lack "
                f"{what} (none is done yet: this was a dry run)")
    return (f"stopped after {done} points (--max-points): {remaining} of {total} points still lack {what}; "
            f"run `scripts/migrate backfill {revision}` again to continue (--max-points N bounds each run)")
