"""The playground's form, read as the search API reads a request: the same schema, the same limits."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from app.api.limits import check_search
from app.api.schemas import SearchIn
from app.domain.bounds import shown
from app.errors import InvalidInput
from app.services.search import SearchRequest

if TYPE_CHECKING:
    from app.container import Services


@dataclass(frozen=True)
class PlaygroundForm:
    """The playground's fields, as typed (text; checked by the search API's own schema and limits)."""

    q: str = ""
    limit: str = "5"
    fusion: str = ""
    fields: list[str] = field(default_factory=list)
    weights: str = ""
    plan: str = ""  # a named plan (app.services.plans.requestable_plans); "": the default

    def request(self, services: Services) -> SearchRequest | None:
        """The search request these fields make, with `explain` on; None when no query was typed.

        Raises:
            InvalidInput: anything the search API would refuse, named as it would name it.
        """
        if not self.q:
            return None
        body: dict[str, Any] = {"query": self.q, "explain": True}
        if self.limit.strip():
            most = services.settings.search.max_limit
            if not re.fullmatch(r"[0-9]{1,8}", self.limit.strip()) or not 1 <= int(self.limit) <= most:
                raise InvalidInput(f"limit: a whole number from 1 to {most}, not {shown(self.limit)}")
            body["limit"] = int(self.limit)
        if self.plan:
            body["plan"] = self.plan
        if self.fusion:
            body["fusion"] = self.fusion
        if self.fields:
            body["fields"] = list(self.fields)
        if self.weights.strip():
            body["weights"] = parse_weights(self.weights)
        try:
            data = SearchIn.model_validate(body)
        except ValidationError as e:
            raise InvalidInput("; ".join(f"{'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}"
                                         for err in e.errors())) from None
        check_search(data, services.settings.limits, services.settings.search)
        return SearchRequest(query=data.query, limit=data.limit, fields=data.fields, fusion=data.fusion,
                             weights=data.weights, plan=data.plan, explain=True)


def parse_weights(text: str) -> dict[str, float]:
    """`keywords=1.5, title=1` -> {"keywords": 1.5, "title": 1.0}.

    Raises:
        InvalidInput: an item that is not `space=number`.
    """
    out: dict[str, float] = {}
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = math.nan
        if not sep or not name.strip() or math.isnan(weight):
            raise InvalidInput(f"weights: write space=number, comma-separated (`keywords=1.5, title=1`), "
                               f"not {shown(item)}")
        out[name.strip()] = weight
    return out


