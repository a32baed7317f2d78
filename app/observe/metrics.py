"""Prometheus metrics of one app instance, in its own registry (tests and several apps never collide).

Counted as requests happen: requests and their latency by route template and status, searches and their
latency by plan label (a named plan, `auto`, `custom` or `profile`: app.services.plans.plan_label) and route,
degraded spaces, encode and store time, documents written and deleted. Read from the store
at scrape time (`StateCollector`): registry revision, points per collection, and each vector version's
status and backfill coverage, so nothing in the versioning engine has to report progress. During a
gradual rollout, the search service's `RolloutMonitor` reports each search served and each shadow read
(`Metrics.rollout`, subscribed by the app's lifespan): both versions side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.domain.plan import Filter, Match
from app.errors import AppError

if TYPE_CHECKING:
    from app.container import Services
    from app.services.rollout import RolloutEvent

TAGS = "vector_versions"  # the payload key listing the vector versions a point has (see app.versioning)
DEFAULT_ROUTE = "default"  # the `route` label of searches until a query router picks among plans
UNLABELLED = "unknown"  # the plan label of a search whose plan carries none (not one the search service ran)
UNMATCHED = "<unmatched>"  # the route label of a request no route matched (404, 405): bounded cardinality
# seconds: from a cached query encode (~1 ms) to a large batch upsert
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
OVERLAP_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 1.0)  # overlap@10 moves in steps of 0.1


class Metrics:
    """Every metric of one app, registered in `self.registry` (never the process-global default).

    Args:
        services: returns the app's services once its lifespan has opened them (None before).
        spaces: the configured space names, so the degraded-space counter shows 0 for each from the start.
    """

    def __init__(self, services: Callable[[], Services | None], spaces: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        labels = ["method", "route", "status"]
        self.requests = Counter("multivec_http_requests", "HTTP requests by route template and status.",
                                labels, registry=r)
        self.request_seconds = Histogram("multivec_http_request_duration_seconds",
                                         "HTTP request latency by route template and status.", labels,
                                         buckets=BUCKETS, registry=r)
        self.encode_seconds = Histogram("multivec_encode_seconds",
                                        "Time spent encoding: the query of a search, or a batch of documents.",
                                        ["operation"], buckets=BUCKETS, registry=r)
        self.store_seconds = Histogram("multivec_store_seconds",
                                       "Time spent in the store: a search's query, or a batch's upsert.",
                                       ["operation"], buckets=BUCKETS, registry=r)
        self.searches = Counter("multivec_searches",
                                "Searches by plan label (a named plan, auto, custom or profile), plan (fusion, "
                                "where it was fused, spaces fused) and route.",
                                ["plan", "route", "fusion", "fused_in", "spaces"], registry=r)
        self.search_seconds = Histogram("multivec_search_duration_seconds",
                                        "Search latency (plan, encode, store, explain) by plan label.", ["plan"],
                                        buckets=BUCKETS, registry=r)
        self.degraded = Counter("multivec_search_degraded",
                                "Searches answered without a space (it failed or timed out), by space.",
                                ["space"], registry=r)
        self.documents_written = Counter("multivec_documents_written", "Documents written (upserted).", registry=r)
        self.documents_deleted = Counter("multivec_documents_deleted", "Documents deleted.", registry=r)
        rollout = ["space", "version"]
        self.rollout_searches = Counter("multivec_rollout_searches",
                                        "Searches of a space under a gradual rollout, by the version that served it.",
                                        rollout, registry=r)
        self.rollout_seconds = Histogram("multivec_rollout_search_seconds",
                                         "Latency of searches under a rollout, by the version that served the space.",
                                         rollout, buckets=BUCKETS, registry=r)
        self.shadow_overlap = Histogram("multivec_shadow_overlap",
                                        "Overlap@10 of a shadow read (the space's other version) with the answer "
                                        "served, by the version shadow-read.", rollout, buckets=OVERLAP_BUCKETS,
                                        registry=r)
        self.shadow_seconds = Histogram("multivec_shadow_latency_seconds",
                                        "Latency of shadow reads (plan, encode, store), by the version shadow-read.",
                                        rollout, buckets=BUCKETS, registry=r)
        self.shadow_skipped = Counter("multivec_shadow_skipped",
                                      "Shadow reads not run: dropped (queue full) or failed, by the version.",
                                      [*rollout, "reason"], registry=r)
        for space in spaces:
            self.degraded.labels(space=space)
        r.register(StateCollector(services))

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP request: counted and its latency (`seconds`) observed, by method, route template and status."""
        self.requests.labels(method, route, str(status)).inc()
        self.request_seconds.labels(method, route, str(status)).observe(seconds)

    def search(self, plan: Mapping[str, Any] | None, timings_ms: Mapping[str, float] | None) -> None:
        """One search, from what the search service answered: its plan (`QueryPlan.describe()`) and timings."""
        timings = timings_ms or {}
        if "encode" in timings:
            self.encode_seconds.labels("search").observe(timings["encode"] / 1000)
        if "store" in timings:
            self.store_seconds.labels("search").observe(timings["store"] / 1000)
        if plan is None:
            return
        label = str(plan.get("plan_label") or UNLABELLED)  # bounded: settings' plan names and three words
        if "total" in timings:
            self.search_seconds.labels(label).observe(timings["total"] / 1000)
        self.searches.labels(plan=label, route=str(plan.get("route") or DEFAULT_ROUTE), fusion=str(plan.get("fusion")),
                             fused_in=str(plan.get("fused_in")),  # spaces searched: a cascade's rerank ones too
                             spaces=str(len(plan.get("spaces") or []) + len(plan.get("rerank") or []))).inc()
        for space in plan.get("degraded") or []:
            self.degraded.labels(space=str(space)).inc()

    def rollout(self, event: RolloutEvent) -> None:
        """One event of a rollout (app.services.rollout): a search served, or a shadow read run, dropped, failed."""
        labels = {"space": event.space, "version": event.version}
        if event.kind == "served":
            self.rollout_searches.labels(**labels).inc()
            if event.seconds is not None:
                self.rollout_seconds.labels(**labels).observe(event.seconds)
        elif event.kind == "shadow":
            if event.overlap is not None:
                self.shadow_overlap.labels(**labels).observe(event.overlap)
            if event.seconds is not None:
                self.shadow_seconds.labels(**labels).observe(event.seconds)
        else:
            self.shadow_skipped.labels(**labels, reason=event.kind).inc()

    def written(self, count: int, timings_ms: Mapping[str, float] | None) -> None:
        """One upsert of `count` documents, with the ingest service's encode and store timings."""
        self.documents_written.inc(count)
        timings = timings_ms or {}
        if "encode" in timings:
            self.encode_seconds.labels("ingest").observe(timings["encode"] / 1000)
        if "store" in timings:
            self.store_seconds.labels("ingest").observe(timings["store"] / 1000)


class StateCollector(Collector):
    """Gauges read from the store at scrape time: registry revision, points, vector versions and coverage.

    A version's coverage is the share of the collection's points tagged with it (what a backfill fills).
    When the store does not answer, `multivec_store_up` is 0 and the other gauges are left out: a scrape
    never fails because the store does.
    """

    def __init__(self, services: Callable[[], Services | None]) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        """`multivec_store_up`, then, when the services are open and the store answers, the state gauges."""
        up = GaugeMetricFamily("multivec_store_up", "1 when the store answered this scrape's reads, else 0.")
        services = self.services()
        if services is None:
            up.add_metric([], 0)
            yield up
            return
        try:
            families = list(self._state(services))
        except AppError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    @staticmethod
    def _state(services: Services) -> Iterator[Metric]:
        reg = services.registry.get()
        physical = services.registry.physical()
        revision = GaugeMetricFamily("multivec_registry_revision", "Revision of the vector-version registry.")
        revision.add_metric([], reg.revision)
        yield revision
        total = services.store.count(physical)
        points = GaugeMetricFamily("multivec_collection_points", "Points in the collection the alias serves.",
                                   labels=["alias", "collection"])
        points.add_metric([services.registry.alias, physical], total)
        yield points
        specs = services.store.vector_specs(physical)
        status = GaugeMetricFamily("multivec_vector_version_status",
                                   "1 for each vector version's current status (shadow, backfilling, ready, live, "
                                   "retired).", labels=["space", "version", "status"])
        covered = GaugeMetricFamily("multivec_vector_version_points",
                                    "Points tagged with the vector version (backfilled or written with it).",
                                    labels=["space", "version"])
        ratio = GaugeMetricFamily("multivec_vector_version_coverage_ratio",
                                  "Backfill progress: the share of the collection's points that have the version "
                                  "(1 for an empty collection).", labels=["space", "version"])
        rollout = GaugeMetricFamily("multivec_rollout_percent",
                                    "Share of live searches (percent) a gradual rollout sends to the version.",
                                    labels=["space", "version"])
        for space in reg.spaces.values():
            if space.rollout:
                rollout.add_metric([space.name, space.rollout.version], space.rollout.percent)
            for v in space.versions.values():
                status.add_metric([space.name, v.name, v.status], 1)
                if v.name not in specs:  # retired and dropped: no vector to count
                    continue
                n = services.store.count(physical, Filter(must=(Match(TAGS, v.name),)))
                covered.add_metric([space.name, v.name], n)
                ratio.add_metric([space.name, v.name], n / total if total else 1.0)
        yield status
        yield rollout
        yield covered
        yield ratio
