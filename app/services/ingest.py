"""Ingest: validate -> derive missing fields -> encode per model -> one point per document."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.domain.bounds import check_batch, shown
from app.domain.documents import Document, PreparedDocument, point_id, prepare
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import CollectionChanged, DocumentNotFound
from app.repos.registry import RegistryRepo
from app.services.encoding import encode_documents
from app.settings import Settings
from app.store.base import PointWrite, Store

WRITE_ATTEMPTS = 2  # a batch written, then once more after re-reading a registry a restore or migration changed


@dataclass(frozen=True)
class IngestResult:
    """The document ids written, and the vector versions each point was written with."""

    ids: list[str]
    vector_versions: list[str]
    # per document, in order: how its body was embedded (passages, words, pooled, cut)
    coverage: list[dict[str, int]] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)  # encode, store (metrics and logs read them)


class IngestService:
    """Writes documents: every live version and every version being built (shadow write)."""

    def __init__(self, *, store: Store, encoders: EncoderPool, registry: RegistryRepo, settings: Settings) -> None:
        self.store = store
        self.encoders = encoders
        self.registry = registry
        self.settings = settings

    def validate(self, docs: Sequence[Document]) -> None:
        """Every bound of `app.domain.bounds` on the whole batch (the API and the loader both come here).

        Raises: InvalidInput listing every refused document in `detail["invalid"]`.
        """
        check_batch(docs, self.settings.limits)

    def prepare(self, docs: Sequence[Document]) -> list[PreparedDocument]:
        """Derive missing summaries and entities, and cut bodies into passages (settings' bounds)."""
        e = self.settings.encoders
        return [prepare(d, chunk_words=e.chunk_words, max_chunks=e.max_chunks, max_entities=e.max_entities,
                        max_passages=e.max_passages) for d in docs]

    def upsert(self, docs: Sequence[Document]) -> IngestResult:
        """Idempotent: the same document always lands on the same point, fully replaced.

        Nothing is written unless every document validated and encoded. During a rebuild the
        points go to both physical collections (dual write). A write that finds the collection
        replaced under it (a restore or migration between reading the registry and writing) reads
        the registry again and writes the batch as it now says, once more at most.

        Raises:
            InvalidInput: a bound is broken (every refused document in `detail["invalid"]`).
            CollectionChanged: the collection still lacks a vector the registry names after the re-read
                (or changed again): the message names the vector and says to retry (503).
            EncoderFailed, StoreUnavailable: from the encoders or the store.
        """
        self.validate(docs)
        prepared = self.prepare(docs)
        encoded: dict[tuple[str, ...], list[dict[str, Any]]] = {}  # versions' names -> vectors, encoded once each
        encode_ms = store_ms = 0.0
        for attempt in range(WRITE_ATTEMPTS):
            versions = self.registry.get().written_versions()
            names = [v.name for v in versions]
            t0 = time.perf_counter()
            if tuple(names) not in encoded:
                encoded[tuple(names)] = encode_documents(prepared, versions, self.encoders)
            t1 = time.perf_counter()
            encode_ms += (t1 - t0) * 1000
            points = [PointWrite(id=p.point_id, vectors=vecs, payload={**p.payload(), "vector_versions": names})
                      for p, vecs in zip(prepared, encoded[tuple(names)], strict=True)]
            try:
                for collection in self.registry.write_collections():  # two while a rebuild fills
                    self.store.upsert(collection, points)
                break
            except CollectionChanged:
                # the same registry again cannot help: the collection and its registry disagree
                if attempt + 1 == WRITE_ATTEMPTS or [v.name for v in self.registry.get().written_versions()] == names:
                    raise
            finally:
                store_ms += (time.perf_counter() - t1) * 1000
        return IngestResult(ids=[d.id for d in docs], vector_versions=names,
                            coverage=[p.coverage.as_dict() if p.coverage else {} for p in prepared],
                            timings_ms={"encode": round(encode_ms, 2), "store": round(store_ms, 2)})

    def get(self, doc_id: str) -> dict[str, Any]:
        """The stored document: its fields, `derived` flags and `vector_versions`.

        Raises:
            DocumentNotFound: no document with that id.
        """
        records = self.store.retrieve(self.registry.alias, [point_id(doc_id)])
        if not records:
            raise DocumentNotFound(f"no document with id {shown(doc_id)}")
        payload = records[0].payload
        return {"id": payload.get("doc_id", doc_id), **{k: v for k, v in payload.items() if k != "doc_id"}}

    def delete(self, doc_id: str) -> None:
        """Delete the document from every collection ingest writes to.

        Raises:
            DocumentNotFound: no document with that id.
        """
        pid = point_id(doc_id)
        if not self.store.retrieve(self.registry.alias, [pid]):
            raise DocumentNotFound(f"no document with id {shown(doc_id)}")
        for collection in self.registry.write_collections():
            self.store.delete(collection, [pid])

    def count(self) -> int:
        """How many documents the served collection holds."""
        return self.store.count(self.registry.alias)
