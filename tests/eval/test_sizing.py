"""The sizing machinery (scripts/bench_sizing): every part of a shard is counted, quantized copies included."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.domain.documents import point_id
from app.encoders.fastembed_encoder import SparseVec
from app.eval.sizing import VARIANTS, vector_counts, write_variant
from app.store.base import StoredPoint, VectorSpec

SPECS = {"title.m.v1": VectorSpec("dense", 32), "body.m.v1": VectorSpec("multi", 32),
         "keywords.b.v1": VectorSpec("sparse", None)}


def points(n: int) -> list[StoredPoint]:
    rng = np.random.default_rng(0)
    return [StoredPoint(id=point_id(str(i)), payload={"doc_id": str(i), "title": "t" * 50},
                        vectors={"title.m.v1": rng.standard_normal(32).astype(np.float32).tolist(),
                                 "body.m.v1": rng.standard_normal((1 + i % 3, 32)).astype(np.float32).tolist(),
                                 "keywords.b.v1": SparseVec((i, i + 1), (1.0, 2.0))}) for i in range(n)]


def test_counts_and_disk_usage_by_part(tmp_path: Path) -> None:
    pts = points(60)
    counts = vector_counts(pts, SPECS)
    assert counts["title.m.v1"]["mean"] == 1 and counts["body.m.v1"]["mean"] == 2 and counts["body.m.v1"]["max"] == 3
    assert counts["keywords.b.v1"]["mean"] == 2
    plain = write_variant(tmp_path / "none", SPECS, pts, VARIANTS["none"])["disk"]
    scalar = write_variant(tmp_path / "scalar", SPECS, pts, VARIANTS["scalar"])["disk"]
    for name in ("title.m.v1", "body.m.v1"):
        assert plain[name]["vectors"] > 0 and plain[name]["index"] > 0  # the graph is built even for 60 points
        assert "quantized" not in plain[name] and scalar[name]["quantized"] > 0
    assert "quantized" not in scalar["keywords.b.v1"] and plain["-"]["payload"] > 0
