"""Encode prepared documents for a set of vector versions: one call per model, texts de-duplicated."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from app.domain.coverage import merge_similar_neighbours
from app.domain.documents import PreparedDocument
from app.domain.versions import VectorVersion
from app.encoders.fastembed_encoder import EncoderPool


def encode_documents(
    docs: Sequence[PreparedDocument], versions: Sequence[VectorVersion], encoders: EncoderPool
) -> list[dict[str, Any]]:
    """Vectors for each document: `{version name: vector}`, in the order of `docs`.

    Texts that several spaces share under the same model (a short title that is also the whole
    summary, say) are encoded once; shared-mode aliases with the same `pass_key` (the same model
    read in the same windows) run one pass between them (app.encoders.shared).

    A multivector field with no texts (a document whose author sent `"entities": []`, or whose text
    derives none) gets no vector: its name is absent from the document's dict, so the point has no
    vector of that space (Qdrant refuses an empty multivector) and no search of it finds the point.
    """
    by_model: dict[str, list[VectorVersion]] = defaultdict(list)
    for v in versions:
        by_model[v.model].append(v)
    out: list[dict[str, Any]] = [{} for _ in docs]
    # shared mode: one pass per document feeds every field of every alias that reads the same way
    passes: dict[Any, list[tuple[Any, VectorVersion]]] = defaultdict(list)
    for model in list(by_model):
        encoder: Any = encoders.get(model)
        if hasattr(encoder, "embed_documents"):  # app.encoders.shared.SharedEncoder
            passes[encoder.pass_key] += [(encoder, v) for v in by_model.pop(model)]
    for shared in passes.values():
        keys = {v.name: enc.field_key(v.field) for enc, v in shared}
        rows = shared[0][0].embed_documents(docs, set(keys.values()))
        for i, row in enumerate(rows):
            for name, key in keys.items():
                if not isinstance(row[key], list) or row[key]:
                    out[i][name] = row[key]
    for model, model_versions in by_model.items():
        encoder = encoders.get(model)
        unique: dict[str, int] = {}
        for doc in docs:
            for v in model_versions:
                for text in doc.texts(v.field):
                    unique.setdefault(text, len(unique))
        texts = list(unique)
        vectors = encoder.embed(texts)
        for i, doc in enumerate(docs):
            for v in model_versions:
                vecs = [vectors[unique[t]] for t in doc.texts(v.field)]
                if v.field == "body" and v.kind == "multi":  # past max_chunks: adjacent passages merged
                    vecs = merge_similar_neighbours(vecs, doc.max_body_vectors)
                if vecs:
                    out[i][v.name] = vecs if v.kind == "multi" else vecs[0]
    return out
