"""Our collection settings in qdrant-edge's terms: vector params, quantization, search params."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from app.store.types import CollectionConfig, VectorSpec, VectorStorage

DISTANCE = {"cosine": qe.Distance.Cosine, "dot": qe.Distance.Dot, "euclid": qe.Distance.Euclid}

# What a Qdrant server does with these and one local shard cannot: edge has no cluster.
IGNORED_ON_EDGE = ("shard_number", "replication_factor", "write_consistency_factor")


def quantization_config(storage: VectorStorage) -> Any:
    """Edge's own quantization configs, as the server's (`app.store.qdrant_config.quantization_config`)."""
    if storage.quantization == "scalar":
        return qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=0.99, always_ram=storage.always_ram)
    if storage.quantization == "binary":
        return qe.BinaryQuantizationConfig(always_ram=storage.always_ram)
    return None


def search_params(config: CollectionConfig) -> Any:
    """Rescoring and oversampling for quantized vectors (None when nothing is quantized or asked)."""
    if not config.quantized and config.oversampling is None:
        return None
    return qe.SearchParams(quantization=qe.QuantizationSearchParams(rescore=config.rescore,
                                                                    oversampling=config.oversampling))


def modifier(spec: VectorSpec) -> Any:
    """A sparse vector's modifier: IDF for term frequencies (BM25), none for learned weights (SPLADE)."""
    return qe.Modifier.Idf if spec.idf else getattr(qe.Modifier, "None")  # a Python keyword as an attribute


def datatype(storage: VectorStorage) -> Any:
    """Edge's storage datatype: `Float16` for float16, None (the engine's float32) otherwise."""
    return qe.VectorStorageDatatype.Float16 if storage.datatype == "float16" else None


def vector_params(spec: VectorSpec, storage: VectorStorage | None = None) -> Any:
    """Edge's params for one dense or multi vector, stored as `storage` says (default: float32 in RAM, unquantized);
    a rerank-only vector (`index: rerank`) gets no HNSW graph (m = 0; ef_construct and full_scan_threshold
    are Qdrant's defaults, unused without a graph)."""
    storage = storage or VectorStorage()
    multi = qe.MultiVectorConfig(comparator=qe.MultiVectorComparator.MaxSim) if spec.kind == "multi" else None
    hnsw = qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000) if spec.index == "rerank" else None
    return qe.EdgeVectorParams(size=spec.dim or 0, distance=DISTANCE[spec.distance], multivector_config=multi,
                               on_disk=storage.on_disk or None, quantization_config=quantization_config(storage),
                               hnsw_config=hnsw, datatype=datatype(storage))


def add_vector_op(name: str, spec: VectorSpec, storage: VectorStorage) -> Any:
    """The update that adds named vector `name` to a live shard: sparse with its modifier, or dense / multi
    at `storage`'s datatype (edge's `create_dense_vector` takes no quantization or on-disk flag of its own)."""
    if spec.kind == "sparse":
        return qe.UpdateOperation.create_sparse_vector(name, modifier=modifier(spec))
    multi = qe.MultiVectorConfig(comparator=qe.MultiVectorComparator.MaxSim) if spec.kind == "multi" else None
    return qe.UpdateOperation.create_dense_vector(name, spec.dim or 0, DISTANCE[spec.distance], multi,
                                                  datatype(storage))


def drop_graph(shard: Path, name: str) -> None:
    """Make named vector `name` rerank-only (m = 0: no HNSW graph) in the closed shard in folder `shard`, by
    its own `edge_config.json`, which `EdgeShard.load` reads: edge's `create_dense_vector` takes no HNSW config,
    and a vector added in place otherwise gets the shard's default graph when its segments are indexed. The
    engine's own file is edited because qdrant-edge 0.9 has no call that changes one vector's HNSW config
    (`EdgeShard.load(path, config)` takes a whole new config); tests/migrations/test_rerank_index.py reads the
    engine's config back after the optimiser ran, so an engine whose file layout changes fails there.

    Raises:
        KeyError, OSError, ValueError: the file is not as qdrant-edge 0.9 writes it (the caller reopens the shard).
    """
    path = shard / "edge_config.json"
    saved = json.loads(path.read_text())
    saved["vectors"][name]["hnsw_config"] = {"m": 0, "ef_construct": 100, "full_scan_threshold": 10_000,
                                             "max_indexing_threads": 0}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(saved))
    os.replace(tmp, path)


def edge_config(vectors: dict[str, VectorSpec], config: CollectionConfig) -> Any:
    """The shard's EdgeConfig: each vector's on-disk flag, quantization and datatype, on-disk payload, and the
    default quantization for vectors added later (edge's create_dense_vector takes none of its own)."""
    dense = {n: vector_params(s, config.for_vector(n)) for n, s in vectors.items() if s.kind != "sparse"}
    sparse = {n: qe.EdgeSparseVectorParams(modifier=modifier(s), on_disk=config.for_vector(n).on_disk or None)
              for n, s in vectors.items() if s.kind == "sparse"}
    return qe.EdgeConfig(vectors=dense or None, sparse_vectors=sparse or None, on_disk_payload=config.on_disk_payload,
                         quantization_config=quantization_config(config.default))


def ignored_settings(config: CollectionConfig) -> list[str]:
    """The cluster settings that are set but mean nothing to one local shard."""
    return [f"{k}={getattr(config, k)}" for k in IGNORED_ON_EDGE if getattr(config, k) is not None]


def stored_datatypes(shard: Path) -> dict[str, str]:
    """Each dense and multivector named vector's datatype (`float32` | `float16`) as the shard in folder `shard`
    records it in its own `edge_config.json` (which the engine rewrites when a vector is added or deleted, and
    a snapshot carries); no file: an empty map."""
    try:
        vectors = json.loads((shard / "edge_config.json").read_text()).get("vectors") or {}
    except FileNotFoundError:
        return {}
    return {n: str(p.get("datatype") or "float32").lower() for n, p in vectors.items()}
