"""Search: plan -> encode the query once per model -> one store request -> hits, explained."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from app.domain.fusion import fused_in
from app.domain.plan import QueryPlan, build_plan
from app.domain.plan_notes import note_unsearched_weights, note_unused_options
from app.domain.profiles import voting_thresholds
from app.domain.rollout import Routing, route, shadow_sampled
from app.domain.text import normalize_for
from app.domain.versions import Registry
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import CollectionChanged
from app.repos.profiles import ProfileRepo
from app.repos.registry import RegistryRepo
from app.search_settings import AUTO, FUSED
from app.services.explain import explain_hits, score_hits
from app.services.fanout import Deadlines, FanOut, FanOutResult
from app.services.plans import PlanRequest, cascade_args, first_stage_of, plan_label, plan_request
from app.services.queries import SearchRequest as SearchRequest  # the request and answer, re-exported
from app.services.queries import SearchResponse as SearchResponse
from app.services.query_router import QueryRouting, routed_request, wants_route
from app.services.ranking import Ranking, default_weights, learned_plan, with_request_weights
from app.services.rollout import OVERLAP_K, RolloutMonitor
from app.services.thresholds import apply_thresholds
from app.settings import Settings
from app.store.base import QueryResult, Store, VectorValue

QueryVectors = dict[str, VectorValue]  # vector name -> the query's embedding for it


@dataclass(frozen=True)
class PreparedQuery:
    """A query planned and encoded, ready for `Store.query`: what every caller of search shares."""

    plan: QueryPlan
    ranking: Ranking
    vectors: QueryVectors
    encode_ms: float


class SearchService:
    """Search: plan a request, encode the query once per model, one store request, explain.

    During a gradual rollout (`scripts/migrate promote --percent`), `search` sends a stable share of
    queries to the rolled-out version of a space and, for a sample, shadow-reads the other version
    through `rollouts` (app.services.rollout).
    """

    def __init__(self, *, store: Store, encoders: EncoderPool, registry: RegistryRepo, settings: Settings,
                 profiles: ProfileRepo | None = None, rollouts: RolloutMonitor | None = None,
                 fanout: FanOut | None = None) -> None:
        self.store = store
        self.encoders = encoders
        self.registry = registry
        self.settings = settings
        self.profiles = profiles or ProfileRepo(store=store, alias=registry.alias,
                                                profile_path=settings.search.profile_path)
        self.rollouts = rollouts or RolloutMonitor(settings.rollout)
        self.fanout = fanout or FanOut(settings.search)
        self.router = QueryRouting(profiles=self.profiles, encoders=encoders)

    def plan(self, req: SearchRequest) -> QueryPlan:
        """The plan `req` would run (see `plan_ranking`)."""
        return self.plan_ranking(req)[0]

    def plan_ranking(self, req: SearchRequest, *, profile: bool = True, use_router: bool = True,
                     cache: dict[tuple[str, str], VectorValue] | None = None) -> tuple[QueryPlan, Ranking]:
        """The plan, and which ranking profile set its fusion (if any) or which plan the query router chose.

        A request that names no fields, fusion, weights, k or pinned versions is routed by the stored
        query router (app.services.query_router) when there is one; unrouted, it gets the stored ranking
        profile when its vector versions are the live ones (its learned scorer when that is the
        profile's default); otherwise the settings' defaults. `fusion: "learned"` ranks with the stored
        profile's learned scorer.

        Args:
            req: the request.
            profile: False to ignore any stored ranking profile and router (the settings' defaults apply).
            use_router: False to plan without the query router (the default plan).
            cache: (model, text) -> query embedding: the router's BM25 encoding is left there.

        Raises:
            UnknownSpace: a field or weight names no space.
            InvalidInput: bad weights, k, a pinned version of another space, or `plan: "auto"` beside them.
            NoLearnedScorer: fusion "learned" with no stored scorer, or one fitted on other versions.
        """
        return self._plan(self.registry.get(), req, profile=profile, use_router=use_router, cache=cache)

    def _plan(self, registry: Registry, req: SearchRequest, *, profile: bool = True, pins: dict[str, str] | None = None,
              use_router: bool = True, cache: dict[tuple[str, str], VectorValue] | None = None
              ) -> tuple[QueryPlan, Ranking]:
        """`plan_ranking` on one registry read; `pins` are a rollout's versions (space -> version),
        which the request's own `versions` override and which, unlike those, keep the ranking profile
        (and the router) when it was fitted on the versions searched. The plan's notes name the spaces
        the request weighed that it does not search."""
        plan, ranking = self._planned(registry, req, profile=profile, pins=pins, use_router=use_router, cache=cache)
        plan = note_unused_options(plan, rrf_k=req.rrf_k, candidates=req.candidates)
        return note_unsearched_weights(plan, req.weights), ranking

    def _planned(self, registry: Registry, req: SearchRequest, *, profile: bool, pins: dict[str, str] | None,
                 use_router: bool, cache: dict[tuple[str, str], VectorValue] | None) -> tuple[QueryPlan, Ranking]:
        s, asked = self.settings.search, req  # as sent: the plan label reads it
        chosen = self.router.route(registry, req.query, pins=pins, cache=cache) \
            if profile and use_router and wants_route(req) else None
        req = replace(req, plan=None) if req.plan == AUTO else req  # the default plan, unless the router picks one
        if chosen is not None and chosen.plan is not None:
            req = routed_request(req, chosen.plan)
        ranking = Ranking(route=chosen)
        # a request that chooses its spaces, weights or fusion itself fuses them (the `fused` plan), whatever
        # the default plan; `rerank` and `candidates` alone adjust the default plan
        named = plan_request(s, req.plan or (FUSED if req.tunes_fusion else None))  # raises UnknownPlan naming it
        if req.plan is None and not set(named.fields or ()) | set(named.rerank) <= set(registry.live_spaces()):
            named = plan_request(s, FUSED)  # the default plan names a space this store lacks: fuse what it has
        if profile and not req.names_plan:
            ranking = replace(self._profile_for(registry, pins), route=chosen)
        ranking = replace(ranking, label=plan_label(asked.plan, asked.tunes_fusion, chosen, bool(ranking.profile),
                                                     named.name))
        limit = req.limit or s.default_limit
        learned = learned_plan(registry, s, self.profiles, ranking, fusion=req.fusion, fields=req.fields,
                               weights=req.weights, limit=limit, filter=req.filter, explain=req.explain,
                               rerank=req.rerank, versions={**(pins or {}), **(req.versions or {})} or None)
        if learned is not None:
            return learned  # the learned scorer ranks (app.services.ranking)
        if ranking.profile is not None:
            p = ranking.profile
            fields, weights = p.fields, with_request_weights(dict(p.weights), None, req.rerank)
            if req.weights is not None:  # the profile's weights, with the ones the request names changed
                weights = with_request_weights({n: p.weights.get(n, 0.0) for n in registry.live_spaces()},
                                               req.weights, req.rerank)
                fields = [n for n, w in weights.items() if w > 0] or list(weights)
            plan = build_plan(registry, fields=fields, fusion=p.fusion, rrf_k=p.rrf_k,  # type: ignore[arg-type]
                              weights=weights, limit=limit, prefetch_limit=s.prefetch_limit, filter=req.filter,
                              explain=req.explain, versions=pins or None,
                              # the profile is the default ranking: fused, unless the request asks to rerank
                              **cascade_args(s, plan_request(s, FUSED), req.rerank, req.candidates,
                                             first_stage=p.weights, weights=req.weights))
            return plan, ranking
        weights = with_request_weights(default_weights(named, registry, req.fields), req.weights, req.rerank)
        plan = build_plan(
            registry,
            fields=req.fields or named.fields,
            fusion=(req.fusion or named.fusion),  # type: ignore[arg-type]
            rrf_k=req.rrf_k or named.rrf_k,
            weights=weights,
            limit=limit,
            prefetch_limit=s.prefetch_limit,
            filter=req.filter,
            explain=req.explain,
            versions={**(pins or {}), **(req.versions or {})} or None,
            **self._cascade_args(registry, req, named),
        )
        return plan, ranking

    def _cascade_args(self, registry: Registry, req: SearchRequest, named: PlanRequest) -> dict[str, Any]:
        """`cascade_args` for `named`, with the first stage that finds candidates for a rerank-only space searched
        alone: the plan the request names, else the default plan (`fields: ["entities"]` fuses its fields, but
        borrows the default plan's candidates), unless that names a space this store lacks."""
        s = self.settings.search
        default = plan_request(s)
        lender = named if req.plan or not set(default.fields or ()) <= set(registry.live_spaces()) else default
        source = "the default first stage" if lender.name == default.name else \
            f"the first stage of plan {lender.name!r}"
        return cascade_args(s, named, req.rerank, req.candidates, weights=req.weights, first_stage_from=source,
                            first_stage=first_stage_of(lender, registry.live_spaces()))

    def prepare(self, req: SearchRequest, *, profile: bool = True,
                cache: dict[tuple[str, str], VectorValue] | None = None) -> PreparedQuery:
        """Plan `req` and encode its query: the one way to turn a request into a store query.

        Args:
            req: the request (`req.versions` pins spaces to versions, e.g. to validate a candidate).
            profile: False to ignore any stored ranking profile.
            cache: (model, text) -> embedding, shared across calls that repeat a query.

        Returns:
            The plan, where its fusion came from, the query vectors, and the encoding time in ms.

        Raises:
            UnknownSpace, InvalidInput: as `plan_ranking`.
        """
        cache = {} if cache is None else cache
        plan, ranking = self.plan_ranking(req, profile=profile, cache=cache)
        t0 = time.perf_counter()
        vectors = self.encode_query(plan, req.query, cache=cache)
        return PreparedQuery(plan, ranking, vectors, (time.perf_counter() - t0) * 1000)

    def execute(self, prepared: PreparedQuery, *, collection: str | None = None) -> QueryResult:
        """Send a prepared query to `collection` (default: the served alias; validation names the
        physical collection of each arm).

        Raises:
            StoreUnavailable, CollectionNotFound: from the store.
        """
        return self.store.query(collection or self.registry.alias, prepared.plan, prepared.vectors)

    def encode_query(self, plan: QueryPlan, text: str,
                     cache: dict[tuple[str, str], VectorValue] | None = None) -> QueryVectors:
        """One query embedding per model, shared by every space of that model.

        Returns:
            vector name -> embedding ((d,) float32 for dense and multivector spaces, SparseVec).
        """
        cache = {} if cache is None else cache
        vectors: QueryVectors = {}
        for s in plan.all_spaces:
            query = normalize_for(s.kind, text)  # as documents are: NFKC for sparse, NFC otherwise
            key = (s.model, query)
            if key not in cache:
                cache[key] = self.encoders.get(s.model).embed_query(query)
            vectors[s.vector_name] = cache[key]
        return vectors

    def run(self, plan: QueryPlan, text: str, *, collection: str | None = None,
            deadlines: Deadlines | None = None, cache: dict[tuple[str, str], VectorValue] | None = None
            ) -> tuple[QueryResult, dict[str, float]]:
        """Encode `text` for `plan` (reusing `cache`: (model, text) -> embedding) and query `collection`
        (default: the served alias): one batch request, or with `deadlines` a fan-out
        (app.services.fanout; the result is a FanOutResult).

        Returns:
            The store's result, and timings in ms (`encode`, `store`).

        Raises:
            SearchDeadline: fan-out, and no fused space answered in time.
        """
        t0 = time.perf_counter()
        vectors = self.encode_query(plan, text, cache=cache)
        t1 = time.perf_counter()
        collection = collection or self.registry.alias
        result = (self.store.query(collection, plan, vectors) if deadlines is None
                  else self.fanout.run(self.store, collection, plan, vectors, deadlines))
        t2 = time.perf_counter()
        return result, {"encode": (t1 - t0) * 1000, "store": (t2 - t1) * 1000}

    def fused_in(self, plan: QueryPlan) -> str:
        """Who fuses `plan` on this store: `store`, `client` (this service) or `n/a` (one space)."""
        return fused_in(plan, self.store.fusions)

    def _profile_for(self, registry: Registry, pins: dict[str, str] | None = None) -> Ranking:
        profile = self.profiles.profile()
        if profile is None:
            return Ranking()
        # the versions searched: the live ones, or those a rollout picked (as they will be after a promote)
        live = {name: registry.live_version(name).name for name in registry.live_spaces()} | (pins or {})
        reason = profile.mismatch(live)
        if reason:
            return Ranking(skipped=f"{profile.id}: {reason}")
        return Ranking(profile=profile)

    def search(self, req: SearchRequest) -> SearchResponse:
        """Search, as `POST /search` does. A search that finds the collection replaced under it (a restore or a
        migration after it read the registry) runs once more, on the registry as it is then.

        Raises:
            UnknownSpace, InvalidInput: as `plan_ranking`.
            StoreUnavailable, CollectionNotFound: from the store.
            CollectionChanged: the collection lacks a vector the registry names, on the second run too.
            SearchDeadline: fan-out, and no fused space answered in time.
        """
        try:
            return self._search(req)
        except CollectionChanged:
            return self._search(req)

    def _search(self, req: SearchRequest) -> SearchResponse:
        t0 = time.perf_counter()
        registry = self.registry.get()
        # a request that pins versions or a collection is an experiment (validation, A/B): not routed
        experiment = req.versions is not None or req.collection is not None
        routing = route(registry, req.query) if not experiment else Routing()
        deadlines = self.fanout.deadlines(fanout=req.fanout, budget_ms=req.budget_ms, experiment=experiment)
        cache: dict[tuple[str, str], VectorValue] = {}  # the router's BM25 encoding, reused by the search
        plan, ranking = self._plan(registry, req, pins=routing.pins, cache=cache)
        listed = routing.only({s.space for s in plan.all_spaces})
        fused = routing.only({s.space for s in plan.spaces + plan.rerank})  # the decisions that change the answer
        thresholds = self._thresholds(plan) if req.threshold else None
        # a threshold needs each space's raw score of every hit: fetch the per-space lists too
        fetch = replace(plan, explain=True) if thresholds and not plan.explain else plan
        result, timings = self.run(fetch, req.query, collection=req.collection, deadlines=deadlines, cache=cache)
        fanned = result if isinstance(result, FanOutResult) else None  # explained as the spaces that answered
        hits = [self._hit(h.id, h.score, h.payload or {}) for h in result.hits]
        note = None
        if req.threshold:
            hits, note = apply_thresholds(plan, result, hits, thresholds or {})
        if plan.explain:
            if fanned:  # a rerank-only space weighted 0 scored the hits under its own deadline
                scored = {s: [(h.id, h.score) for h in hs] for s, hs in fanned.scored.items()}
            else:
                scored = score_hits(self.store, req.collection or self.registry.alias, plan,
                                    self.encode_query(plan, req.query, cache=cache), [h["point_id"] for h in hits])
            explain_hits(fanned.answered if fanned and fanned.answered else plan, result, hits, scored)
        timings["total"] = (time.perf_counter() - t0) * 1000
        # plan and timings are answered for every search (metrics and logs read them); the API shows
        # them only with `explain`
        described = {**plan.describe(self.fused_in(plan)), **ranking.describe(),
                     **(fanned.describe() if fanned else {"execution": "batch"})}
        if req.threshold:
            described["thresholds"] = thresholds or {}
        if listed:
            # `fused`: False for a space searched only to be explained (weight 0): it did not change the answer
            described["rollout"] = [{**d.describe(), "fused": d in fused.decisions} for d in listed.decisions]
        if fused:  # the shadow read runs the plan this answer ran (the routed one, if routed)
            served = routed_request(req, ranking.route.plan) if ranking.route and ranking.route.plan else req
            self._observe_rollout(registry, served, fused, routing, result, plan.limit,
                                  seconds=timings["total"] / 1000)
        return SearchResponse(hits=hits, plan=described, timings_ms={k: round(v, 2) for k, v in timings.items()},
                              note=note, degraded=list(fanned.degraded) if fanned else [])

    def _observe_rollout(self, registry: Registry, req: SearchRequest, fused: Routing, routing: Routing,
                         result: QueryResult, limit: int, *, seconds: float) -> None:
        """Count the answer by the versions that served it and, for a sample of queries, queue one shadow
        read: the same search with each fused rolled-out space on its other version, on the same registry
        read, run by the monitor's workers after this answer is computed (it cannot change it)."""
        self.rollouts.served(fused, seconds)
        first = fused.decisions[0]
        if not shadow_sampled(req.query, first.candidate, self.settings.rollout.shadow_percent):
            return
        pins = {**routing.pins, **fused.shadow_pins}
        shadow_req = replace(req, explain=False, threshold=False)

        def run() -> list[str]:
            plan, _ = self._plan(registry, shadow_req, pins=pins)
            vectors = self.encode_query(plan, shadow_req.query)
            return [h.id for h in self.store.query(self.registry.alias, plan, vectors).hits]

        self.rollouts.shadow(fused, [h.id for h in result.hits], run, k=min(OVERLAP_K, limit))

    def _thresholds(self, plan: QueryPlan) -> dict[str, float]:
        """The calibrated thresholds that vote on this plan's hits (see app.domain.profiles)."""
        return voting_thresholds({s.vector_name: s.kind for s in plan.spaces}, self.profiles.thresholds())

    @staticmethod
    def _hit(pid: str, score: float, payload: dict[str, Any]) -> dict[str, Any]:
        return {"id": payload.get("doc_id"), "point_id": pid, "score": score, "title": payload.get("title"),
                "summary": payload.get("summary"), "metadata": payload.get("metadata", {})}
