"""Input limits from settings, checked before anything is encoded or written."""

from __future__ import annotations

from app.api.schemas import DocumentsIn, SearchIn
from app.errors import InvalidInput
from app.settings import LimitSettings, SearchSettings


def check_documents(data: DocumentsIn, limits: LimitSettings) -> None:
    # Batch size and duplicate ids are checked by IngestService.validate, which the loader uses too.
    for i, d in enumerate(data.documents):
        where = f"documents[{i}] (id {d.id[:40]!r})"
        if len(d.id) > limits.max_id_chars:
            raise InvalidInput(f"{where}: id is {len(d.id)} characters, over the limit of {limits.max_id_chars}")
        if len(d.title) > limits.max_title_chars:
            raise InvalidInput(f"{where}.title: {len(d.title)} characters, over the limit of {limits.max_title_chars}")
        for name in ("body", "summary"):
            value = getattr(d, name) or ""
            if len(value) > limits.max_text_chars:
                raise InvalidInput(
                    f"{where}.{name}: {len(value)} characters, over the limit of {limits.max_text_chars}")
        if d.entities is not None and len(d.entities) > limits.max_entities:
            raise InvalidInput(f"{where}.entities: {len(d.entities)} entities, over the limit of {limits.max_entities}")


def check_search(data: SearchIn, limits: LimitSettings, search: SearchSettings) -> None:
    if not data.query.strip():
        raise InvalidInput("query is blank")
    if len(data.query) > limits.max_query_chars:
        raise InvalidInput(f"query is {len(data.query)} characters, over the limit of {limits.max_query_chars}")
    if data.limit is not None and data.limit > search.max_limit:
        raise InvalidInput(f"limit {data.limit} is over the maximum of {search.max_limit}")
    for space, w in (data.weights or {}).items():
        if not (w == w) or w in (float("inf"), float("-inf")):  # NaN or infinite
            raise InvalidInput(f"weight of {space!r} is not a finite number")
