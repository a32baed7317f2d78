"""Request and response schemas. Structural checks live here; limits from settings in `limits.py`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Scalar = str | int | bool  # exact-match values (Qdrant matches no floats)


class Strict(BaseModel):
    # strict: "5" is not a number; forbid: a misspelt key is an error, not silently ignored.
    model_config = ConfigDict(strict=True, extra="forbid")


class DocumentIn(Strict):
    id: str = Field(min_length=1, description="Your id; maps to a stable Qdrant point id.")
    title: str
    body: str
    summary: str | None = Field(default=None, description="Derived (extractive) when missing.")
    entities: list[str] | None = Field(default=None, description="Derived (keyphrases) when missing.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Filterable with `filter` in search.")


class DocumentsIn(Strict):
    documents: list[DocumentIn]


class DocumentsOut(BaseModel):
    ids: list[str]
    count: int
    vector_versions: list[str]


class SearchIn(Strict):
    query: str = Field(min_length=1)
    limit: int | None = Field(default=None, ge=1)
    fields: list[str] | None = Field(default=None, description="Spaces to search; all live spaces if absent.")
    fusion: Literal["rrf", "dbsf"] | None = None
    weights: dict[str, float] | None = None
    rrf_k: int | None = Field(default=None, ge=1)
    filter: dict[str, Scalar | list[Scalar]] | None = Field(default=None, description="metadata key -> value")
    explain: bool = False
    threshold: bool | None = Field(
        default=None,
        description="Drop hits that no searched dense space (BM25 only in a keywords-only search) scores at or "
                    "above its vector version's calibrated threshold (raw per-space score, not the fused score); "
                    "`note` says when hits were dropped.")


class SearchOut(BaseModel):
    hits: list[dict[str, Any]]
    plan: dict[str, Any] | None = None
    timings_ms: dict[str, float] | None = None
    note: str | None = Field(default=None, description="Said when `threshold` dropped hits, or could not apply.")
