"""Documents: the external shape, point ids, derived fields, and the text each space encodes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from app.domain.coverage import BodyCoverage, body_coverage
from app.domain.text import chunk_passages, extractive_summary, keyphrases

# Fixed namespace: the same external id maps to the same point id on every machine, forever.
_POINT_NAMESPACE = uuid.UUID("5b3f7c1e-9d2a-4e8b-a6f1-2c4d8e0b7a19")


def point_id(doc_id: str) -> str:
    """The Qdrant point id (a UUID) of an external document id; deterministic."""
    return str(uuid.uuid5(_POINT_NAMESPACE, doc_id))


@dataclass(frozen=True)
class Document:
    """A document as clients send it."""

    id: str
    title: str
    body: str
    summary: str | None = None
    entities: tuple[str, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Document:
        """From the API's JSON shape: `{"id", "title", "body", "summary"?, "entities"?, "metadata"?}`."""
        entities = d.get("entities")
        return cls(id=d["id"], title=d["title"], body=d["body"], summary=d.get("summary"),
                   entities=tuple(entities) if entities is not None else None, metadata=d.get("metadata") or {})

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Document:
        """Back from what `PreparedDocument.payload` stored: the stored summary and entities are kept
        (so re-preparing it reuses them rather than deriving them again).

        Args:
            payload: a point's payload (`doc_id`, `title`, `body`, `summary`, `entities`, `metadata`).

        Returns:
            The document; a missing text is empty, a missing summary or entities None.
        """
        return cls(id=str(payload.get("doc_id", "")), title=payload.get("title") or "",
                   body=payload.get("body") or "", summary=payload.get("summary") or None,
                   entities=tuple(payload.get("entities") or ()) or None, metadata=payload.get("metadata") or {})


@dataclass(frozen=True)
class PreparedDocument:
    """A document with its derived fields filled in and the texts each field encodes."""

    doc: Document
    summary: str
    entities: tuple[str, ...]
    passages: tuple[str, ...]  # every passage encoded (the body's, up to `max_passages`)
    derived: dict[str, bool]
    # the most body vectors the point holds: past it adjacent passages are merged
    # (app.domain.coverage.merge_similar_neighbours)
    max_body_vectors: int = 32
    coverage: BodyCoverage | None = None

    @property
    def point_id(self) -> str:
        return point_id(self.doc.id)

    def texts(self, field_name: str) -> list[str]:
        """The texts a field contributes: one for a dense space, several for a multivector."""
        d = self.doc
        match field_name:
            case "title":
                return [d.title]
            case "body":
                return list(self.passages)
            case "summary":
                return [self.summary]
            case "entities":
                return list(self.entities)
            case "document" | "keywords":
                return [f"{d.title}\n{d.body}"]
        raise ValueError(f"unknown field {field_name!r}")

    def payload(self) -> dict[str, Any]:
        """What Qdrant stores beside the vectors: readable in the dashboard."""
        d = self.doc
        return {
            "doc_id": d.id,
            "title": d.title,
            "body": d.body,
            "summary": self.summary,
            "entities": list(self.entities),
            "metadata": d.metadata,
            "derived": self.derived,
            **({"coverage": self.coverage.as_dict()} if self.coverage is not None else {}),
        }


def prepare(doc: Document, *, chunk_words: int, max_chunks: int, max_entities: int,
            max_passages: int | None = None) -> PreparedDocument:
    """Derive what the client left out (an extractive summary, keyphrases) and cut the body into
    passages. Derived fields are marked so nobody mistakes them for the author's.

    Args:
        doc: the document as sent.
        chunk_words: words per passage.
        max_chunks: body vectors per point; past it adjacent passages are merged
            (`merge_similar_neighbours`).
        max_entities: derived keyphrases kept.
        max_passages: passages encoded per body (bounds the work); past it the tail is cut, and
            `coverage` says so. None: `max_chunks` (nothing pooled, the tail cut).
    """
    summary = doc.summary
    derived_summary = not summary
    if not summary:
        summary = extractive_summary(doc.title, doc.body) or doc.title
    entities = doc.entities
    derived_entities = not entities
    if not entities:
        entities = tuple(keyphrases(doc.title, doc.body, limit=max_entities)) or (doc.title,)
    cap = max(max_passages if max_passages is not None else max_chunks, max_chunks)
    every = chunk_passages(doc.body, max_words=chunk_words, max_chunks=10**9)
    passages = tuple(every[:cap]) or (doc.title,)
    return PreparedDocument(
        doc=doc,
        summary=summary,
        entities=tuple(entities),
        passages=passages,
        derived={"summary": derived_summary, "entities": derived_entities},
        max_body_vectors=max_chunks,
        coverage=body_coverage(every, min(len(every), cap), max_chunks),
    )
