"""Payload filters as data: metadata conditions (`Match`, `MatchAny`), point ids (`HasId`), and the
parser of a request's `filter` (`metadata_filter`). Part of app.domain.plan, which re-exports them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.domain.bounds import check_int, check_text, shown
from app.errors import InvalidInput

Scalar = str | int | bool  # what Qdrant can match exactly (no floats)

@dataclass(frozen=True)
class Match:
    """Payload `key` equals `value` (or, for an array, contains it)."""

    key: str
    value: Scalar


@dataclass(frozen=True)
class MatchAny:
    """Payload `key` equals one of `values` (or, for an array, contains one); all strings or all integers."""

    key: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class HasId:
    """The point is one of `ids` (point ids, not document ids): how a fan-out cascade's rerank space
    scores exactly stage 1's candidates (app.services.fanout), as a staged cascade's `Among` does."""

    ids: tuple[str, ...]


Condition = Match | MatchAny | HasId


@dataclass(frozen=True)
class Filter:
    """A metadata filter: every `must` condition holds, no `must_not` one does; empty (falsy) matches all."""

    must: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.must or self.must_not)


# A filter key is a metadata name, or a dotted path into nested metadata: `year`, `author.country`.
# Each name is letters (any script), digits, `_` or `-`; any but plain ASCII names are quoted in the
# Qdrant path, and no other JSON-path syntax (`[]`, quotes, spaces) can reach the store.
FILTER_KEY = re.compile(r"^[\w-]+(\.[\w-]+)*$")
MAX_FILTER_KEY_CHARS = 256
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # needs no quotes in a Qdrant path


def filter_path(key: str) -> str:
    """The Qdrant payload path of a metadata filter key: `author.country` -> `metadata."author"."country"`.

    Raises: InvalidInput when `key` is over MAX_FILTER_KEY_CHARS characters (the message says so and gives the
        limit), or is not a name or dotted path of names.
    """
    if len(key) > MAX_FILTER_KEY_CHARS:
        raise InvalidInput(f"filter key {shown(key)} is {len(key)} characters, over the limit of "
                           f"{MAX_FILTER_KEY_CHARS}")
    if not FILTER_KEY.fullmatch(key):
        raise InvalidInput(
            f"filter key {shown(key)} is not a metadata name or a dotted path of names (letters, digits, `_`, `-`;"
            " `a.b` reads key `b` inside object `a`)")
    return "metadata." + ".".join(part if _PLAIN.fullmatch(part) else f'"{part}"' for part in key.split("."))


def _filter_value(key: str, value: object, max_chars: int) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        check_int(value, f"filter {key!r}")
    elif isinstance(value, str):
        check_text(value, f"filter {key!r}", max_chars)
    else:
        raise InvalidInput(f"filter {key!r}: {type(value).__name__} values cannot be matched (strings, integers or"
                           " booleans only)")


def metadata_filter(values: dict[str, Scalar | list[Scalar]] | None, *, max_conditions: int = 16,
                    max_values: int = 256, max_chars: int = 8_192) -> Filter:
    """`{"lang": "en", "year": [2020, 2021]}` -> all of them must match (a list means any of).

    Raises: InvalidInput naming the key: not a name or dotted path, too many conditions or values,
        an integer outside signed 64 bits, a float, a mixed or empty list.
    """
    if not values:
        return Filter()
    if len(values) > max_conditions:
        raise InvalidInput(f"filter has {len(values)} keys, over the limit of {max_conditions}")
    conds: list[Condition] = []
    for key, value in values.items():
        path = filter_path(key)
        if isinstance(value, list):
            if not value:
                raise InvalidInput(f"filter {key!r}: empty list matches nothing")
            if len(value) > max_values:
                raise InvalidInput(f"filter {key!r}: {len(value)} values, over the limit of {max_values}")
            if len({type(v) for v in value}) > 1 or isinstance(value[0], bool):
                raise InvalidInput(f"filter {key!r}: a list must hold only strings or only integers")
            for v in value:
                _filter_value(key, v, max_chars)
            conds.append(MatchAny(path, tuple(value)))
        else:
            _filter_value(key, value, max_chars)
            conds.append(Match(path, value))
    return Filter(must=tuple(conds))
