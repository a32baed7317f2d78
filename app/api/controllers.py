"""Thin controllers: validate, call one service, shape the answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from litestar import Controller, Request, delete, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from app.api.auth import read_guard, write_guard
from app.api.limits import check_search, search_filter
from app.api.observe import note_deleted, note_search, note_written
from app.api.openapi import READ, WRITE, error_responses
from app.api.schemas import (
    CoverageOut,
    DocumentOut,
    DocumentsIn,
    DocumentsOut,
    HealthOut,
    HitOut,
    ReadyOut,
    SearchIn,
    SearchOut,
)
from app.domain.bounds import shown
from app.domain.documents import Document
from app.errors import AppError, InvalidInput, StoreUnavailable
from app.repos.registry import RegistryRepo
from app.services.ingest import IngestService
from app.services.search import SearchRequest, SearchService
from app.store.base import Store


class DocumentController(Controller):
    """`/documents`: batch upsert (write key), read and delete one document by its percent-encoded id."""

    path = "/documents"
    tags = ["documents"]

    @post("/", status_code=HTTP_200_OK, sync_to_thread=True, summary="Upsert a batch of documents",
          guards=[write_guard], responses=error_responses(400, 422, *WRITE, reads_body=True))
    def upsert(self, data: DocumentsIn, ingest: IngestService, request: Request[Any, Any, Any]) -> DocumentsOut:
        """Idempotent batch upsert. Every document is validated and encoded before anything is written;
        a refused batch (422) writes nothing."""
        docs = [Document.from_dict(d.model_dump()) for d in data.documents]
        result = ingest.upsert(docs)
        note_written(request, len(result.ids), result.timings_ms)
        return DocumentsOut(ids=result.ids, count=len(result.ids), vector_versions=result.vector_versions,
                            coverage=[CoverageOut.model_validate(c) for c in result.coverage])

    # Every id that can be written can be read and deleted at /documents/{percent-encoded id}. The
    # route takes a `:path` so an id holding `/` is one id, and the id is read from the raw path,
    # decoded once, so `%2F`, `%25`, a leading or trailing `/` all survive the router's decoding.
    @get("/{doc_id:path}", sync_to_thread=True, summary="Get one document", guards=[read_guard],
         responses=error_responses(400, 404, 422, *READ))
    def get_one(self, request: Request[Any, Any, Any], ingest: IngestService) -> DocumentOut:
        """The stored document (404 naming the id when there is none)."""
        return DocumentOut.model_validate(ingest.get(document_id(request)))

    @delete("/{doc_id:path}", status_code=HTTP_204_NO_CONTENT, sync_to_thread=True, summary="Delete one document",
            guards=[write_guard], responses=error_responses(400, 404, 422, *WRITE))
    def delete_one(self, request: Request[Any, Any, Any], ingest: IngestService) -> None:
        """204 when deleted; 404 naming the id when there is no such document."""
        ingest.delete(document_id(request))
        note_deleted(request)


def document_id(request: Request[Any, Any, Any]) -> str:
    """The id in `/documents/{id}`, percent-decoded exactly once from the raw request path.

    Raises: InvalidInput when the escapes do not decode to UTF-8.
    """
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    encoded = raw.split(b"?", 1)[0].split(b"/documents/", 1)[-1].decode("latin-1")
    try:
        return unquote(encoded, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise InvalidInput(f"document id {shown(encoded)} does not decode to UTF-8") from None


class SearchController(Controller):
    """`POST /search` (read key): checks the request against the settings' limits, then runs the search service."""

    path = "/search"
    tags = ["search"]
    guards = [read_guard]

    @post("/", status_code=HTTP_200_OK, sync_to_thread=True, summary="Fused search over the embedding spaces",
          responses=error_responses(400, 422, *READ, reads_body=True))
    def search(self, data: SearchIn, search: SearchService, request: Request[Any, Any, Any]) -> SearchOut:
        """One Qdrant query: a prefetch per space, fused by weighted RRF or DBSF; `explain` shows each
        space's rank, score and contribution, the plan (and the ranking profile it came from), and
        timings. A request naming no fields, fusion, weights or k (or `plan: "auto"`) runs the plan the
        stored query router picks, or, when it has none or is unsure, the fitted ranking profile when one
        matches the live vector versions; `explain` shows the route and why. `plan` names a plan from
        settings; `rerank` spaces rescore only the `candidates` the others find, in the same request (a
        cascade). `threshold: true` drops hits that no searched dense space (BM25 only in a keywords-only
        search) scores at or above its vector version's calibrated threshold; `note` says what was
        dropped. `fanout: true` (or a `budget_ms`) sends each space as its own request under its deadline
        and fuses what answers in time; `degraded` names the spaces that missed, and only when none
        answered is the search a 503 `search_deadline`."""
        settings = search.settings
        check_search(data, settings.limits, settings.search)
        result = search.search(SearchRequest(
            query=data.query, limit=data.limit, fields=data.fields, fusion=data.fusion, weights=data.weights,
            rrf_k=data.rrf_k, filter=search_filter(data.filter, settings.limits), explain=data.explain,
            threshold=bool(data.threshold), fanout=data.fanout, budget_ms=data.budget_ms,
            plan=data.plan, rerank=data.rerank, candidates=data.candidates,
        ))
        note_search(request, result.plan, result.timings_ms)
        hits = [HitOut.model_validate(hit) for hit in result.hits]  # typed as the schema declares them
        if not data.explain:
            return SearchOut(hits=hits, note=result.note, degraded=result.degraded)
        return SearchOut(hits=hits, plan=result.plan, timings_ms=result.timings_ms, note=result.note,
                         degraded=result.degraded)


class HealthController(Controller):
    """Probes: open even when API keys are set."""

    tags = ["health"]

    @get("/health", summary="Liveness")
    async def health(self) -> HealthOut:
        """Always `{"status": "ok"}` while the process serves requests; touches neither store nor models."""
        return HealthOut(status="ok")

    @get("/ready", sync_to_thread=True, summary="Readiness: the store answers and the collection is there",
         responses=error_responses(404, 503))
    def ready(self, registry: RegistryRepo) -> ReadyOut:
        """Ready when the store answers and every collection served opens and counts its points;
        otherwise 503 naming the collection that failed and why."""
        store = registry.store
        store.ping()
        reg = registry.get()
        points = {name: collection_points(store, name) for name in registry.served_collections()}
        return ReadyOut(status="ready", store=store.kind, collection=registry.alias,
                        collections=points, live={name: s.live for name, s in reg.spaces.items()})


def collection_points(store: Store, name: str) -> int:
    """Open collection `name` and count its points.

    Raises: StoreUnavailable naming the collection and why it is not ready.
    """
    try:
        return store.count(name)
    except AppError as e:
        raise StoreUnavailable(f"collection {name!r} is not ready: {e.message}", e.detail) from e
