"""Our collection settings in Qdrant's terms: vector params, quantization, search params, cluster layout."""

from __future__ import annotations

from typing import Any

from qdrant_client import models as qm

from app.store.types import CollectionConfig, VectorSpec, VectorStorage

DISTANCE = {"cosine": qm.Distance.COSINE, "dot": qm.Distance.DOT, "euclid": qm.Distance.EUCLID}


def quantization_config(storage: VectorStorage) -> qm.QuantizationConfig | None:
    """`scalar`: int8, the 0.99 quantile clipped (4x smaller); `binary`: 1 bit per dimension (32x)."""
    if storage.quantization == "scalar":
        return qm.ScalarQuantization(scalar=qm.ScalarQuantizationConfig(
            type=qm.ScalarType.INT8, quantile=0.99, always_ram=storage.always_ram))
    if storage.quantization == "binary":
        return qm.BinaryQuantization(binary=qm.BinaryQuantizationConfig(always_ram=storage.always_ram))
    return None


def search_params(config: CollectionConfig) -> qm.SearchParams | None:
    """Rescoring and oversampling for quantized vectors (None when nothing is quantized or asked)."""
    if not config.quantized and config.oversampling is None:
        return None
    return qm.SearchParams(quantization=qm.QuantizationSearchParams(rescore=config.rescore,
                                                                    oversampling=config.oversampling))


def modifier(spec: VectorSpec) -> qm.Modifier:
    """A sparse vector's modifier: IDF for term frequencies (BM25), none for learned weights (SPLADE)."""
    return qm.Modifier.IDF if spec.idf else qm.Modifier.NONE


def datatype(storage: VectorStorage) -> qm.Datatype | None:
    """The server's storage datatype: `FLOAT16` for float16, None (the server's float32) otherwise."""
    return qm.Datatype.FLOAT16 if storage.datatype == "float16" else None


def dense_params(spec: VectorSpec, storage: VectorStorage | None = None) -> qm.VectorParams:
    """One dense or multi vector's VectorParams, stored as `storage` says (default: float32 in RAM,
    unquantized); a rerank-only vector (`index: rerank`) gets no HNSW graph (`HnswConfigDiff(m=0)`)."""
    storage = storage or VectorStorage()
    multi = qm.MultiVectorConfig(comparator=qm.MultiVectorComparator.MAX_SIM) if spec.kind == "multi" else None
    return qm.VectorParams(size=spec.dim or 0, distance=DISTANCE[spec.distance], multivector_config=multi,
                           on_disk=storage.on_disk or None, quantization_config=quantization_config(storage),
                           hnsw_config=qm.HnswConfigDiff(m=0) if spec.index == "rerank" else None,
                           datatype=datatype(storage))


def collection_params(vectors: dict[str, VectorSpec], config: CollectionConfig) -> dict[str, Any]:
    """`create_collection`'s keyword arguments: named vectors with each space's storage, and the
    cluster layout (a field left None is the server's default, so it is not sent)."""
    sparse = {n: qm.SparseVectorParams(modifier=modifier(s), index=qm.SparseIndexParams(on_disk=True)
                                       if config.for_vector(n).on_disk else None)
              for n, s in vectors.items() if s.kind == "sparse"}
    params: dict[str, Any] = {
        "vectors_config": {n: dense_params(s, config.for_vector(n)) for n, s in vectors.items() if s.kind != "sparse"},
        "sparse_vectors_config": sparse,
        # the collection-wide default: a vector added in place later (create_vector_name takes no
        # quantization of its own) is quantized like the rest
        "quantization_config": quantization_config(config.default),
    }
    for key in ("shard_number", "replication_factor", "write_consistency_factor", "on_disk_payload"):
        if getattr(config, key) is not None:
            params[key] = getattr(config, key)
    return params


def vector_name_config(spec: VectorSpec, storage: VectorStorage) -> qm.VectorNameConfig:
    """What `create_vector_name` takes to add a named vector in place: sparse with its modifier, or dense / multi
    at `storage`'s datatype."""
    if spec.kind == "sparse":
        return qm.SparseVectorNameConfig(sparse=qm.SparseVectorConfig(modifier=modifier(spec)))
    return qm.DenseVectorNameConfig(dense=dense_config(spec, storage))


def dense_config(spec: VectorSpec, storage: VectorStorage | None = None) -> qm.DenseVectorConfig:
    """The same parameters in the shape `create_vector_name` takes (it refuses VectorParams), the
    datatype included (a new version of a float16 space is float16)."""
    p = dense_params(spec, storage)
    return qm.DenseVectorConfig(size=p.size, distance=p.distance, multivector_config=p.multivector_config,
                                datatype=qm.VectorStorageDatatype(p.datatype.value) if p.datatype else None)


def stored_datatypes(params: qm.CollectionParams) -> dict[str, str]:
    """Each dense and multivector named vector's datatype (`float32` | `float16`) in a collection's params as
    the server reports them (unset: the server's float32)."""
    dense = params.vectors if isinstance(params.vectors, dict) else {}
    return {n: str(getattr(p.datatype, "value", p.datatype) or "float32") for n, p in dense.items()}


# The in-memory client keeps no HNSW config for a vector added in place (it has no graphs, and ignores the
# diff), so the collection's metadata records that it is rerank-only too.
RERANK_META = "multivec_rerank_only:"


def rerank_only(name: str) -> dict[str, Any]:
    """`update_collection`'s keyword arguments that make named vector `name` rerank-only (m = 0: the server
    drops its graph), recorded in the collection's metadata as well (see `RERANK_META`)."""
    return {"vectors_config": {name: qm.VectorParamsDiff(hnsw_config=qm.HnswConfigDiff(m=0))},
            "metadata": {RERANK_META + name: True}}


def specs_of(config: qm.CollectionConfig) -> dict[str, VectorSpec]:
    """Each named vector's spec as a collection's config reports it: kind, dimension, distance, index (m = 0
    or recorded in the metadata: rerank-only), and a sparse vector's IDF modifier."""
    params, meta = config.params, config.metadata or {}
    specs: dict[str, VectorSpec] = {}
    dense = params.vectors if isinstance(params.vectors, dict) else {}
    for n, p in dense.items():
        kind = "multi" if p.multivector_config is not None else "dense"
        dist = {v: k for k, v in DISTANCE.items()}.get(p.distance, "cosine")
        graphless = (p.hnsw_config is not None and p.hnsw_config.m == 0) or meta.get(RERANK_META + n) is True
        specs[n] = VectorSpec(kind, p.size, dist, "rerank" if graphless else "hnsw")
    for n, sp in (params.sparse_vectors or {}).items():
        specs[n] = VectorSpec("sparse", None, idf=sp.modifier == qm.Modifier.IDF)
    return specs
