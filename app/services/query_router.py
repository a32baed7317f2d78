"""The query router at serving time: which of the stored router's plans a request runs, and why.

A request that names no fields, fusion, weights, k, versions or collection (or asks `plan: "auto"`)
is routed: its BM25 terms (the `keywords` space's own query encoding, reused by the search) and its
text give the features (app.domain.query_features), the stored model gives each plan's probability
(app.domain.router), and the most probable plan runs when it is sure enough. Otherwise the default
plan runs, and the route says why: missing, mismatch, unsure or invalid.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from app.domain.query_features import query_features
from app.domain.router import Route, RoutePlan, decide
from app.domain.text import normalize_for
from app.domain.versions import Registry
from app.encoders.fastembed_encoder import EncoderPool
from app.encoders.vectors import SparseVec
from app.errors import AppError, InvalidInput
from app.repos.profiles import ProfileRepo
from app.search_settings import AUTO


class Routable(Protocol):
    """What routing reads of a search request (app.services.search.SearchRequest, a frozen dataclass)."""

    @property
    def plan(self) -> str | None:
        """The named plan asked for, `"auto"` (the router decides), or None."""
        ...

    @property
    def collection(self) -> str | None:
        """A physical collection searched instead of the alias (validating a rebuild: never routed), or None."""
        ...

    @property
    def names_ranking(self) -> bool:
        """True when the request chooses its spaces, fusion, k, versions or weights itself."""
        ...


R = TypeVar("R", bound=Routable)
CHOOSES = ("fields", "fusion", "weights", "rrf_k", "versions")  # what a request names to choose its own plan


def wants_route(req: Routable) -> bool:
    """True when the router decides `req`'s plan: it asks for it (`plan: "auto"`), or it names nothing
    that chooses a plan (a plan, fields, fusion, weights, k, pinned versions, a collection).

    Raises: InvalidInput when `plan: "auto"` comes with fields, fusion, weights, k or pinned versions.
    """
    if req.plan == AUTO:
        named = [n for n in CHOOSES if getattr(req, n, None) not in (None, [])]
        if named:
            raise InvalidInput(f'plan "auto" lets the router choose the spaces and fusion: it cannot be combined '
                               f"with {', '.join(named)}")
        return True
    return req.plan is None and not req.names_ranking and req.collection is None


def routed_request(req: R, plan: RoutePlan) -> R:
    """`req` running the routed plan: the settings' plan of that name (`plan.named`), or its spaces, fusion,
    weights and k, as if the client had named them."""
    if plan.named:
        return replace(req, plan=plan.name)  # type: ignore[type-var]
    return replace(req, fields=list(plan.fields), fusion=plan.fusion,  # type: ignore[type-var]
                   weights=dict(plan.weights), rrf_k=plan.rrf_k, plan=None)


class QueryRouting:
    """Routes requests with the router stored in the ranking profile (`ProfileRepo.router`)."""

    def __init__(self, *, profiles: ProfileRepo, encoders: EncoderPool) -> None:
        self.profiles = profiles
        self.encoders = encoders

    def route(self, registry: Registry, text: str, *, pins: dict[str, str] | None = None,
              cache: MutableMapping[tuple[str, str], Any] | None = None) -> Route:
        """Decide one query's plan.

        Args:
            registry: the registry read the search plans on.
            text: the query.
            pins: a rollout's versions (space -> version), searched instead of the live ones.
            cache: (model, text) -> query embedding; the BM25 encoding is left there for the search.

        Returns:
            The route: the plan, or None (the default plan) with the reason.
        """
        try:
            router = self.profiles.router()
        except (ValueError, KeyError, TypeError) as e:  # a hand-edited record: serve the default, say why
            return Route(None, "invalid", f"the stored router does not parse: {e}")
        if router is None:
            return Route(None, "missing", "no router is stored in the ranking profile")
        live = {name: registry.live_version(name).name for name in registry.live_spaces()} | (pins or {})
        reason = router.mismatch(live)
        if reason:
            return Route(None, "mismatch", reason, router=router.name)
        t0 = time.perf_counter()
        version = registry.find(live[router.df_space])
        query = normalize_for(version.kind, text)
        cache = {} if cache is None else cache
        key = (version.model, query)
        if key not in cache:
            try:
                cache[key] = self.encoders.get(version.model).embed_query(query)
            except AppError as e:
                return Route(None, "invalid", f"the {router.df_space} encoder failed: {e.message}",
                             router=router.name)
        vector = cache[key]
        terms = vector.indices if isinstance(vector, SparseVec) else ()
        route = decide(router, query_features(text, terms, router.dfs), live)
        return replace(route, ms=(time.perf_counter() - t0) * 1000)
