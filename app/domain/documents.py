"""Documents: the external shape, point ids, derived fields, and the text each space encodes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from app.domain.coverage import BodyCoverage, body_coverage
from app.domain.text import chunk_passages, extractive_summary, keyphrases, nfc, nfkc, shows_a_word

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
    entities: tuple[str, ...] | None = None  # None: derive them; (): the author says there are none
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
        (so re-preparing it reuses them rather than deriving them again), and an author's empty list of
        entities stays empty (`derived.entities` false: never derived by a backfill or rebuild).

        Args:
            payload: a point's payload (`doc_id`, `title`, `body`, `summary`, `entities`, `metadata`, `derived`).

        Returns:
            The document; a missing text is empty, a missing summary None; entities None (derive) when none
            were stored or the service derived none, `()` when the author sent `[]`.
        """
        stored = payload.get("entities")
        authored = (payload.get("derived") or {}).get("entities") is False
        entities = tuple(stored) if isinstance(stored, list) and (stored or authored) else None
        return cls(id=str(payload.get("doc_id", "")), title=payload.get("title") or "",
                   body=payload.get("body") or "", summary=payload.get("summary") or None,
                   entities=entities, metadata=payload.get("metadata") or {})


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
        """The document's Qdrant point id: a UUID5 of its id (`point_id`), the same on every machine."""
        return point_id(self.doc.id)

    @property
    def normalized(self) -> Document:
        """The client's texts in NFC: what every space encodes (the payload keeps them as sent)."""
        d = self.doc
        return replace(d, title=nfc(d.title), body=nfc(d.body))

    def texts(self, field_name: str) -> list[str]:
        """The texts a field contributes: one for a dense space, several for a multivector.

        Every text is NFC (so composed and decomposed accents are one text to every model); the
        keywords text is NFKC, so full-width letters, ligatures and superscripts match their plain forms.
        """
        d = self.normalized
        match field_name:
            case "title":
                return [d.title]
            case "body":
                return list(self.passages)
            case "summary":
                return [nfc(self.summary)]
            case "entities":
                return [nfc(e) for e in self.entities]
            case "document":
                return [f"{d.title}\n{d.body}"]
            case "keywords":
                return [nfkc(f"{d.title}\n{d.body}")]
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
    passages. Derived fields are marked so nobody mistakes them for the author's. Entities are derived
    only when `doc.entities` is None (`()` means none); a derived entity always shows a word
    (`shows_a_word`), so a text of only punctuation derives none, and a document without entities
    gets no entities vector (`app.services.encoding.encode_documents`).

    Everything is derived from the NFC form of the text, so a decomposed and a composed copy of a
    document get the same summary, entities and passages; the payload keeps the client's title and
    body (and its own summary and entities) exactly as sent.

    Args:
        doc: the document as sent.
        chunk_words: words per passage.
        max_chunks: body vectors per point; past it adjacent passages are merged
            (`merge_similar_neighbours`).
        max_entities: derived keyphrases kept.
        max_passages: passages encoded per body (bounds the work); past it the tail is cut, and
            `coverage` says so. None: `max_chunks` (nothing pooled, the tail cut).
    """
    title, body = nfc(doc.title), nfc(doc.body)
    summary = doc.summary
    derived_summary = not summary
    if not summary:
        summary = extractive_summary(title, body)
        summary = summary if shows_a_word(summary) else title  # never a summary of only punctuation or invisibles
    entities = doc.entities
    derived_entities = entities is None  # an explicit `()` is the author's: no entities, none derived
    if entities is None:  # keyphrases, else the title; none when the title shows no word either
        entities = tuple(keyphrases(title, body, limit=max_entities)) or ((title.strip(),) if shows_a_word(title)
                                                                           else ())
    cap = max(max_passages if max_passages is not None else max_chunks, max_chunks)
    every = chunk_passages(body, max_words=chunk_words, max_chunks=10**9)
    passages = tuple(every[:cap]) or (title,)
    return PreparedDocument(
        doc=doc,
        summary=summary,
        entities=tuple(entities),
        passages=passages,
        derived={"summary": derived_summary, "entities": derived_entities},
        max_body_vectors=max_chunks,
        coverage=body_coverage(every, min(len(every), cap), max_chunks),
    )
