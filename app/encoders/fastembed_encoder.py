"""fastembed adapters: dense and sparse encoders with token-bounded batches, and the model pool."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from app.encoders.batching import token_batches
from app.encoders.offline import BUILTIN, assemble
from app.encoders.vectors import SparseVec
from app.errors import EncoderFailed
from app.settings import EncoderSettings, ModelSettings


class Encoder(Protocol):
    """Turns texts into vectors; one instance per model, shared by every space that uses it."""

    @property
    def name(self) -> str:
        """The model's id (`all-MiniLM-L6-v2-int8`)."""
        ...

    @property
    def kind(self) -> str:
        """`dense` or `sparse`."""
        ...

    @property
    def dim(self) -> int | None:
        """Dimensions of a dense vector (384 for MiniLM); None for sparse."""
        ...

    def embed(self, texts: Sequence[str]) -> list[Any]:
        """Document vectors, one per text in order: (dim,) float32 L2-normalised, or SparseVec.

        Raises:
            EncoderFailed: the model failed on the batch.
        """
        ...

    def embed_query(self, text: str) -> Any:
        """The query's vector (query prefixes or weighting applied where the model has them).

        Raises:
            EncoderFailed: the model failed.
        """
        ...


class DenseEncoder:
    """A fastembed TextEmbedding behind token-bounded batching; returns float32 unit vectors."""

    kind = "dense"

    def __init__(self, name: str, model: Any, dim: int, settings: EncoderSettings) -> None:
        self.name = name
        self.dim = dim
        self._model = model
        self._settings = settings
        # fastembed keeps a tokenizer on the inner ONNX model; we use it to count tokens.
        self._tokenizer = getattr(getattr(model, "model", None), "tokenizer", None)

    def _lengths(self, texts: Sequence[str]) -> list[int]:
        if self._tokenizer is not None:
            # the tokenizer pads to the batch's longest, so count the attention mask, not the ids
            return [sum(e.attention_mask) for e in self._tokenizer.encode_batch(list(texts))]
        return [min(512, len(t) // 4 + 2) for t in texts]

    def embed(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One (dim,) float32 L2-normalised vector per text, in order; batches hold at most
        `encoders.batch_tokens` tokens (onnxruntime's memory grows with batch x length)."""
        if not texts:
            return []
        out: list[np.ndarray | None] = [None] * len(texts)
        for batch in token_batches(
            self._lengths(texts), budget=self._settings.batch_tokens, max_batch=self._settings.max_batch
        ):
            vectors = self._model.embed([texts[i] for i in batch], batch_size=len(batch))
            for i, vec in zip(batch, vectors, strict=True):
                out[i] = np.asarray(vec, dtype=np.float32)
        return out  # type: ignore[return-value]

    def embed_query(self, text: str) -> np.ndarray:
        """The query's (dim,) float32 L2-normalised vector (the model's query prefix, where it has one)."""
        return np.asarray(next(iter(self._model.query_embed(text))), dtype=np.float32)


class SparseEncoder:
    """fastembed's BM25: term frequencies per document; Qdrant applies IDF (Modifier.IDF)."""

    kind = "sparse"
    dim = None

    def __init__(self, name: str, model: Any, settings: EncoderSettings) -> None:
        self.name = name
        self._model = model
        self._settings = settings

    @staticmethod
    def _convert(emb: Any) -> SparseVec:
        return SparseVec(tuple(int(i) for i in emb.indices), tuple(float(v) for v in emb.values))

    def embed(self, texts: Sequence[str]) -> list[SparseVec]:
        """One sparse vector per text, in order: token ids -> BM25 term-frequency weights (no IDF)."""
        return [self._convert(e) for e in self._model.embed(list(texts), batch_size=256)]

    def embed_query(self, text: str) -> SparseVec:
        """The query's terms, each weighted 1.0 (the store's IDF modifier weighs them)."""
        return self._convert(next(iter(self._model.query_embed(text))))


_REGISTER_LOCK = threading.Lock()


def _register_paraphrase() -> None:
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    with _REGISTER_LOCK:
        if any(m["model"] == BUILTIN["paraphrase-MiniLM-L3-v2"].fastembed_name for m in
               TextEmbedding.list_supported_models()):
            return
        TextEmbedding.add_custom_model(
            model=BUILTIN["paraphrase-MiniLM-L3-v2"].fastembed_name,
            pooling=PoolingType.MEAN,
            normalization=True,
            sources=ModelSource(hf="sentence-transformers/paraphrase-MiniLM-L3-v2"),
            dim=384,
            model_file="model.onnx",
            output_name="onnx::Shape_422",  # token embeddings; fastembed mean-pools them
        )


def load_encoder(spec: ModelSettings, settings: EncoderSettings) -> Encoder:
    """Load one model: builtin models from their assembled offline folder, others by fastembed name.

    fastembed is imported only for the models it runs: its package imports its image models too (PIL,
    huggingface_hub: 1.3-2.2 s here), and the default models (shared mode, Qdrant's BM25) do not need it."""
    if spec.source == "qdrant-bm25":
        from app.encoders import qdrant_bm25

        return qdrant_bm25.load(spec.name, settings)
    if spec.source == "splade":
        from app.encoders import splade

        return splade.load(spec.name, settings)
    try:
        if spec.source == "builtin":
            if spec.name not in BUILTIN:
                raise EncoderFailed(f"unknown builtin model {spec.name!r}; known: {sorted(BUILTIN)}")
            info = BUILTIN[spec.name]
            folder = str(assemble(spec.name, settings.cache_dir))
            if spec.mode == "shared":
                if info.kind != "dense":
                    raise EncoderFailed(f"model {spec.name!r} is {info.kind}: only dense models run in shared mode")
                from app.encoders.shared import SharedEncoder

                return SharedEncoder(spec.name, Path(folder), info.dim or 0, info.max_length or 256, settings,
                                     spec.shared)
            from fastembed import SparseTextEmbedding, TextEmbedding

            if info.kind == "sparse":
                return SparseEncoder(spec.name, SparseTextEmbedding(info.fastembed_name, specific_model_path=folder,
                                                                    language="english"), settings)
            if spec.name == "paraphrase-MiniLM-L3-v2":
                _register_paraphrase()
            model = TextEmbedding(info.fastembed_name, specific_model_path=folder, threads=settings.threads)
            return DenseEncoder(spec.name, model, info.dim or 0, settings)
        if spec.mode == "shared":
            raise EncoderFailed(f"shared mode needs a builtin model (token states and offsets), not {spec.name!r}")
        from fastembed import SparseTextEmbedding, TextEmbedding

        if spec.kind == "sparse":
            return SparseEncoder(spec.name, SparseTextEmbedding(spec.name), settings)
        model = TextEmbedding(spec.name, threads=settings.threads)
        dim = len(next(iter(model.embed(["probe"]))))
        return DenseEncoder(spec.name, model, dim, settings)
    except EncoderFailed:
        raise
    except Exception as e:  # fastembed raises plain exceptions for missing files and hub errors
        raise EncoderFailed(f"could not load model {spec.name!r}: {e}") from e


class EncoderPool:
    """Each configured model, loaded once on first use and shared by every space that names it."""

    def __init__(self, models: dict[str, ModelSettings], settings: EncoderSettings) -> None:
        self._specs = models
        self._settings = settings
        self._loaded: dict[str, Encoder] = {}
        self._lock = threading.Lock()

    def get(self, alias: str) -> Encoder:
        """The encoder of model alias `alias`, loaded on first use (thread-safe, once).

        Raises:
            EncoderFailed: no such alias, or the model cannot be loaded.

        """
        enc = self._loaded.get(alias)
        if enc is not None:
            return enc
        with self._lock:
            if alias not in self._loaded:
                if alias not in self._specs:
                    raise EncoderFailed(f"no model configured as {alias!r}")
                self._loaded[alias] = load_encoder(self._specs[alias], self._settings)
            return self._loaded[alias]

    def model_id(self, alias: str) -> str:
        """The model's id behind `alias` (settings' `name`)."""
        return self._specs[alias].name

    def dim(self, alias: str) -> int | None:
        """Dimensions of `alias`'s vectors without loading a builtin model; None for sparse."""
        spec = self._specs[alias]
        if spec.kind == "sparse":
            return None
        if spec.source == "builtin":
            return BUILTIN[spec.name].dim
        return self.get(alias).dim

    def idf(self, alias: str) -> bool:
        """Whether the store applies IDF to the model's sparse vectors: yes for BM25's term
        frequencies, no for SPLADE's learned weights (meaningless for dense models)."""
        return self._specs[alias].source != "splade"
