"""The Store port's value types: vectors, specs, collection settings, points, hits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from app.encoders.fastembed_encoder import SparseVec

DenseVector = list[float] | npt.NDArray[np.float32]  # shape (d,), float32
MultiVector = list[list[float]] | list[npt.NDArray[np.float32]] | npt.NDArray[np.float32]  # (n, d): MaxSim
VectorValue = DenseVector | MultiVector | SparseVec  # what a named vector holds, by its VectorSpec.kind
Payload = dict[str, Any]  # JSON-able: the document's fields, `doc_id`, `derived`, `vector_versions`
# a restore's check of a staged point (its id, its payload): why the service could not read it, or None
PayloadCheck = Callable[[str, Payload], str | None]
Selector = bool | Sequence[str]  # which named vectors to return: none, all, or these names


@dataclass(frozen=True)
class VectorSpec:
    """How a named vector is stored: `dense` (dim floats), `multi` (n x dim, MaxSim) or `sparse`
    (`dim` None); `distance` is cosine, dot or euclid; `index` is `hnsw` (an HNSW graph, searched on
    its own) or `rerank` (no graph, m = 0: only rescores candidates; dense and multi vectors only).
    A sparse vector is scored by dot product, with the engine's IDF modifier when `idf` (BM25's term
    frequencies) and without it for learned weights (SPLADE); dense vectors ignore `idf`."""

    kind: str
    dim: int | None
    distance: str = "cosine"
    index: str = "hnsw"
    idf: bool = True


QUANTIZATIONS = ("none", "scalar", "binary")
DATATYPES = ("float32", "float16")


@dataclass(frozen=True)
class VectorStorage:
    """Where a named vector lives: `on_disk` keeps the original floats on disk (memory-mapped), and
    `quantization` (`none`, `scalar` int8 = 1/4 of the bytes, `binary` 1 bit per dimension = 1/32)
    keeps a compressed copy in RAM (`always_ram`) that is searched first and rescored. `datatype` is how
    the original floats are stored: `float32` (4 bytes a dimension) or `float16` (2 bytes, half the RAM or
    disk; scores move by about 1e-3). Sparse vectors ignore `datatype` (their weights stay float32)."""

    on_disk: bool = False
    quantization: str = "none"
    always_ram: bool = True
    datatype: str = "float32"

    def describe(self) -> str:
        """`scalar`, `binary, on disk`, `none, float16`, ...: the quantization, whether the originals are on
        disk, and their datatype when it is float16."""
        return (f"{self.quantization}{', on disk' if self.on_disk else ''}"
                f"{', float16' if self.datatype == 'float16' else ''}")


@dataclass(frozen=True)
class CollectionConfig:
    """How a collection is laid out, beyond its named vectors.

    `shard_number`, `replication_factor`, `write_consistency_factor` and `on_disk_payload` are the
    server's (None: Qdrant's default); the embedded store has one local shard and ignores the first
    three. `storage` is per space (the part of a vector name before the first dot), `default` for the
    rest. `rescore` and `oversampling` are applied at search time to quantized vectors.
    """

    shard_number: int | None = None
    replication_factor: int | None = None
    write_consistency_factor: int | None = None
    on_disk_payload: bool | None = None
    default: VectorStorage = field(default_factory=VectorStorage)
    storage: dict[str, VectorStorage] = field(default_factory=dict)
    rescore: bool = True
    oversampling: float | None = None

    def for_vector(self, vector_name: str) -> VectorStorage:
        """The storage of named vector `vector_name` (`body.minilm-l6-int8.v1` -> space `body`)."""
        return self.storage.get(vector_name.split(".")[0], self.default)

    @property
    def quantized(self) -> bool:
        """True when any vector is quantized (search then sends rescore / oversampling)."""
        return any(s.quantization != "none" for s in (self.default, *self.storage.values()))

    def describe(self, vector_names: Sequence[str] = ()) -> str:
        """One line for dry runs and logs: the cluster layout, then each vector's storage."""
        parts = [f"{k} {v}" for k, v in (("shard_number", self.shard_number),
                                          ("replication_factor", self.replication_factor),
                                          ("write_consistency_factor", self.write_consistency_factor),
                                          ("on_disk_payload", self.on_disk_payload)) if v is not None]
        parts += [f"{n}: {self.for_vector(n).describe()}" for n in vector_names]
        return "; ".join(parts)


@dataclass
class PointWrite:
    """One point to write: its id (a UUID string), its named vectors, its payload."""

    id: str
    vectors: dict[str, VectorValue]
    payload: Payload


@dataclass(frozen=True)
class StoredPoint:
    """A point read back: id, payload, and the named vectors asked for (lists, or SparseVec)."""

    id: str
    payload: Payload
    vectors: dict[str, VectorValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """One search result: point id, score (fused, or the space's own), payload when asked for."""

    id: str
    score: float
    payload: Payload | None = None


def with_payloads(ranked: Sequence[tuple[str, float]], limit: int,
                  retrieve: Callable[[list[str]], list[StoredPoint]]) -> list[Hit]:
    """The first `limit` points of `ranked` that still exist, as hits with their payloads.

    A search ranks ids first and fetches the winners' payloads after, so a point deleted in between was
    answered as a hit without a document (`"id": null`: a break test, fan-out searches while another client
    deleted). It is skipped and the next point ranked takes its place; one `retrieve` when none was deleted.

    Args:
        ranked: (point id, score), best first, as long as the ranking goes (at least `limit` when it can).
        limit: how many hits at most.
        retrieve: point ids -> the stored points that exist (missing ids skipped), with payloads.
    """
    hits: list[Hit] = []
    start = 0
    while len(hits) < limit and start < len(ranked):
        chunk = ranked[start:start + limit - len(hits)]
        start += len(chunk)
        found = {p.id: p.payload for p in retrieve([str(pid) for pid, _ in chunk])}
        hits += [Hit(id=str(pid), score=score, payload=found[str(pid)]) for pid, score in chunk if str(pid) in found]
    return hits


@dataclass(frozen=True)
class QueryResult:
    """Fused hits, and when the plan asks for them, each space's own ranked list; with `explain`, a
    cascade's stages too (`candidates` and each rerank space, over the candidates)."""

    hits: list[Hit]
    per_space: dict[str, list[Hit]] = field(default_factory=dict)
    stages: dict[str, list[Hit]] = field(default_factory=dict)
