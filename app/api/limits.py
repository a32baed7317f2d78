"""Input limits from settings, checked before anything is encoded or written."""

from __future__ import annotations

from app.api.schemas import SearchIn
from app.domain.bounds import shown
from app.domain.plan import Filter, Scalar, metadata_filter
from app.domain.text import blank
from app.domain.versions import MAX_NAME_CHARS
from app.errors import InvalidInput
from app.settings import LimitSettings, SearchSettings


def check_search(data: SearchIn, limits: LimitSettings, search: SearchSettings) -> None:
    """Refuse a search the schema lets through but the settings do not.

    Args:
        data: the parsed request.
        limits: `max_query_chars` bounds the query (in characters).
        search: `max_limit` bounds `limit`, `max_candidates` bounds `candidates`.

    Raises:
        InvalidInput: a blank query, one over `max_query_chars`, `limit` or `candidates` over their maximum,
            a `weights` key that is no space's name (empty, or over MAX_NAME_CHARS characters), or a weight that
            is NaN or infinite; the message names the value and the bound (a name by its start: `shown`).
    """
    if blank(data.query):
        raise InvalidInput("query is blank (only spaces or invisible characters)")
    if len(data.query) > limits.max_query_chars:
        raise InvalidInput(f"query is {len(data.query)} characters, over the limit of {limits.max_query_chars}")
    if data.limit is not None and data.limit > search.max_limit:
        raise InvalidInput(f"limit {data.limit} is over the maximum of {search.max_limit}")
    if data.candidates is not None and data.candidates > search.max_candidates:
        raise InvalidInput(f"candidates {data.candidates} is over the maximum of {search.max_candidates}")
    for space, w in (data.weights or {}).items():
        if not space:
            raise InvalidInput(f"weights key '' is empty: a space's name is 1 to {MAX_NAME_CHARS} characters")
        if len(space) > MAX_NAME_CHARS:  # a space's name: the message repeats only its start
            raise InvalidInput(f"weights key {shown(space)} is {len(space)} characters, over the limit of "
                               f"{MAX_NAME_CHARS}")
        if not (w == w) or w in (float("inf"), float("-inf")):  # NaN or infinite
            raise InvalidInput(f"weight of {shown(space)} is not a finite number")


def search_filter(values: dict[str, Scalar | list[Scalar]] | None, limits: LimitSettings) -> Filter:
    """The request's `filter`, within the settings' bounds (see `app.domain.plan.metadata_filter`)."""
    return metadata_filter(values, max_conditions=limits.max_filter_conditions, max_values=limits.max_filter_values,
                           max_chars=limits.max_metadata_string_chars)
