"""`scripts/bench_sizing`: memory and disk per document for each space and each quantization, measured.

A sample of a BEIR corpus is encoded once through the real ingest pipeline (all spaces), then the
same points are written into one embedded shard per storage variant (no quantization; scalar int8;
binary; scalar with the original vectors on disk; float16 originals), each optimised (HNSW and quantized
copies built).
For each variant: bytes on disk by space and by part (original vectors, quantized copy, index,
payload), and the resident memory (RSS) of a fresh process that opens the shard and runs searches.
Also: vectors per document for each space, payload bytes, and top-10 overlap of each quantized (or
float16) variant with the unquantized float32 one on real queries. Results go to `<out>/sizing.json` and `sizing.md`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from app.container import build_services
from app.domain.documents import Document, point_id
from app.domain.plan import Filter, QueryPlan, SpaceQuery
from app.encoders.fastembed_encoder import EncoderPool, SparseVec
from app.eval.args import out_folder, parse_checked
from app.eval.bench import machine
from app.eval.sizing_report import render
from app.loader import read_corpus
from app.settings import Settings, StoreSettings
from app.store.base import CollectionConfig, PointWrite, StoredPoint, VectorSpec, VectorStorage
from app.store.edge import EdgeStore

VARIANTS: dict[str, CollectionConfig] = {
    "none": CollectionConfig(),
    "scalar": CollectionConfig(default=VectorStorage(quantization="scalar")),
    "binary": CollectionConfig(default=VectorStorage(quantization="binary")),
    "binary, oversampling 3": CollectionConfig(default=VectorStorage(quantization="binary"), oversampling=3.0),
    "scalar+on_disk": CollectionConfig(default=VectorStorage(quantization="scalar", on_disk=True)),
    "float16": CollectionConfig(default=VectorStorage(datatype="float16")),
}
COLLECTION = "sizing"


def _rss_kb(field: str = "VmRSS") -> int:
    """Resident KiB: all (`VmRSS`), anonymous memory (`RssAnon`), or file pages mapped in (`RssFile`)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _part(rel: Path) -> tuple[str, str]:
    """(vector name or '-', part) of a file inside a shard folder."""
    parts = rel.parts
    if parts[0] == "wal":
        return "-", "wal"
    text = str(rel)
    name = "-"
    for p in parts:
        for prefix in ("vector_storage-", "vector_index-"):
            if p.startswith(prefix):
                name = p[len(prefix):]
    if "quantiz" in text:
        return name, "quantized"
    if any(p.startswith("vector_storage") for p in parts):
        return name, "vectors"
    if any(p.startswith("vector_index") for p in parts):
        return name, "index"
    if any(p.startswith("payload") for p in parts):
        return "-", "payload"
    return "-", "other"


def disk_usage(shard: Path) -> dict[str, dict[str, int]]:
    """Bytes on disk (allocated blocks, so sparse files count what they hold) by vector name and part."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for f in shard.rglob("*"):
        if f.is_file():
            name, part = _part(f.relative_to(shard))
            out[name][part] += f.stat().st_blocks * 512
    return {k: dict(v) for k, v in out.items()}


def vector_counts(points: Sequence[StoredPoint], specs: dict[str, VectorSpec]) -> dict[str, dict[str, Any]]:
    """Per named vector: vectors (dense: 1, multi: rows; sparse: non-zeros) per document, mean and max."""
    out = {}
    for name, spec in specs.items():
        counts = []
        for p in points:
            v = p.vectors.get(name)
            if v is None:
                counts.append(0)
            elif spec.kind == "sparse":
                counts.append(len(v.indices) if isinstance(v, SparseVec) else 0)
            elif spec.kind == "multi":
                counts.append(len(v))  # type: ignore[arg-type]  # a multivector: (n, d)
            else:
                counts.append(1)
        out[name] = {"kind": spec.kind, "dim": spec.dim, "mean": float(np.mean(counts)), "max": int(max(counts))}
    return out


@contextlib.contextmanager
def index_every_segment() -> Iterator[None]:
    """Shards created meanwhile build HNSW and quantized copies whatever their size.

    Edge, like a server, indexes a segment only past `indexing_threshold` (KB of vectors); a
    1,000-document sample stays below it and would be searched by full scan with no graph and (for
    scalar) no quantized copy, so nothing would measure what a large collection holds.
    """
    real = qe.EdgeConfig
    qe.EdgeConfig = lambda **kw: real(**kw, optimizers=qe.EdgeOptimizersConfig(  # type: ignore[misc,assignment]
        indexing_threshold=1))
    try:
        yield
    finally:
        qe.EdgeConfig = real  # type: ignore[misc]


def write_variant(folder: Path, specs: dict[str, VectorSpec], points: Sequence[StoredPoint],
                  config: CollectionConfig) -> dict[str, Any]:
    """One shard holding `points` with every dense vector stored as `config` says; optimised."""
    store = EdgeStore(folder, config=config)
    t0 = time.perf_counter()
    try:
        with index_every_segment():
            store.create_collection(COLLECTION, specs)
        for i in range(0, len(points), 64):
            store.upsert(COLLECTION, [PointWrite(id=p.id, vectors=dict(p.vectors), payload=p.payload)
                                      for p in points[i:i + 64]])
        store.optimize(COLLECTION)
    finally:
        store.close()
    return {"write_and_optimize_s": round(time.perf_counter() - t0, 1),
            "disk": disk_usage(folder / "collections" / COLLECTION / "shard")}


def measure_rss(folder: Path, queries_file: Path, storage: str) -> dict[str, Any]:
    """In a fresh process: RSS before opening the shard, after opening it, after the searches."""
    out = subprocess.run([sys.executable, "-m", "app.eval.sizing", "--rss-child", str(folder), str(queries_file),
                          storage], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _rss_child(folder: Path, queries_file: Path, storage: str) -> None:
    data = json.loads(queries_file.read_text())
    before, before_anon = _rss_kb(), _rss_kb("RssAnon")
    store = EdgeStore(folder, config=VARIANTS[storage])
    specs = store.vector_specs(COLLECTION)
    store.count(COLLECTION)
    opened = _rss_kb()
    ranked: dict[str, list[list[str]]] = defaultdict(list)
    t0 = time.perf_counter()
    for q in data["queries"]:
        for name, spec in specs.items():
            if spec.kind == "sparse":
                continue
            sq = SpaceQuery(name.split(".")[0], name, spec.kind, "-", 1.0)  # type: ignore[arg-type]
            plan = QueryPlan(spaces=(sq,), fusion="rrf", rrf_k=60, limit=10, prefetch_limit=10, filter=Filter())
            hits = store.query(COLLECTION, plan, {name: q[name]}).hits
            ranked[name].append([h.id for h in hits])
    seconds = time.perf_counter() - t0
    searched = _rss_kb()
    anon, file = _rss_kb("RssAnon"), _rss_kb("RssFile")  # file pages (mmap) the kernel may drop under pressure
    store.close()
    print(json.dumps({"rss_before_kb": before, "rss_opened_kb": opened, "rss_searched_kb": searched,
                      "rss_anon_kb": anon, "rss_file_kb": file, "rss_anon_before_kb": before_anon,
                      "search_s": round(seconds, 2), "ranked": ranked}))


def found_of_reference(a: list[list[str]], b: list[list[str]]) -> float:
    """Mean over queries of the share of `b`'s ids that `a` also found (`b` is the reference: the unquantized
    variant's top 10); an empty `b` list counts as 0.

    Raises:
        ValueError: `a` and `b` hold different numbers of queries.
    """
    return float(np.mean([len(set(x) & set(y)) / max(1, len(y)) for x, y in zip(a, b, strict=True)]))


def copies(points: list[StoredPoint], times: int, seed: int) -> list[StoredPoint]:
    """The points and `times - 1` near-copies of each (new ids, dense vectors jittered by 1 %): what
    RSS gains between one size and ten times it is the per-document memory, fixed costs cancelled."""
    rng = np.random.default_rng(seed)
    out = list(points)
    for k in range(1, times):
        for p in points:
            vectors = {n: v if isinstance(v, SparseVec) else
                       (np.asarray(v, dtype=np.float32) * (1 + 0.01 * rng.standard_normal(np.shape(v)))).tolist()
                       for n, v in p.vectors.items()}
            doc_id = f"{p.payload.get('doc_id')}#{k}"
            out.append(StoredPoint(id=point_id(doc_id), payload={**p.payload, "doc_id": doc_id}, vectors=vectors))
    return out


def run(corpus: Path, *, docs: int, queries: int, seed: int, work: Path, times: int = 1) -> dict[str, Any]:
    """Encode a sample once, write it under each variant, measure; see the module docstring."""
    all_docs = list(read_corpus(corpus))
    sample = random.Random(seed).sample(all_docs, min(docs, len(all_docs)))
    settings = Settings(store=StoreSettings(path=work / "encoded"))
    encoders = EncoderPool(settings.models, settings.encoders)
    services = build_services(settings, encoders=encoders)
    t0 = time.perf_counter()
    done = services.store.count(services.registry.physical())  # a kept --work-dir is encoded already
    for i in range(done, len(sample), 32):
        services.ingest.upsert([Document.from_dict(d) for d in sample[i:i + 32]])
        print(f"encoded {min(i + 32, len(sample))}/{len(sample)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    encode_s = time.perf_counter() - t0 if done < len(sample) else float("nan")
    physical = services.registry.physical()
    specs = services.store.vector_specs(physical)
    points: list[StoredPoint] = []
    cursor = None
    while True:
        page, cursor = services.store.scroll(physical, filter=None, limit=256, offset=cursor, with_vectors=True)
        points += page
        if cursor is None:
            break
    # real queries, encoded once: the dense model's query vector for every dense space
    qfile = corpus / "queries.jsonl"
    texts = [json.loads(line)["text"] for line in qfile.read_text().splitlines()[:queries]] if qfile.exists() else []
    dense_model = next(s.model for s in settings.spaces if s.kind != "sparse")
    qvecs = [np.asarray(encoders.get(dense_model).embed_query(t), dtype=np.float32).tolist() for t in texts]
    services.close()
    qdata = {"queries": [{n: v for n in specs if specs[n].kind != "sparse"} for v in qvecs]}
    queries_file = work / "queries.json"
    queries_file.write_text(json.dumps(qdata))

    payload_bytes = [len(json.dumps(p.payload, ensure_ascii=False).encode()) for p in points]
    counted = vector_counts(points, specs)
    points = copies(points, times, seed)
    result: dict[str, Any] = {
        "machine": machine(), "corpus": str(corpus), "corpus_documents": len(all_docs), "sample": len(points),
        "copies": times, "seed": seed, "queries": len(qvecs), "encode_s": round(encode_s, 1),
        "docs_per_s": round(len(sample) / encode_s, 2), "vectors_per_doc": counted,
        "payload_json_bytes_per_doc": round(float(np.mean(payload_bytes)), 1), "variants": {},
    }
    for name, config in VARIANTS.items():
        folder = work / f"{name} x{times}"
        print(f"writing variant {name}", flush=True)
        v = write_variant(folder, specs, points, config)
        v["rss"] = measure_rss(folder, queries_file, name)
        result["variants"][name] = v
    base = result["variants"]["none"]["rss"].pop("ranked")
    for name in VARIANTS:
        if name == "none":
            continue
        ranked = result["variants"][name]["rss"].pop("ranked")
        result["variants"][name]["top10_overlap_with_none"] = {n: round(found_of_reference(ranked[n], base[n]), 3)
                                                              for n in base}
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """`scripts/bench_sizing CORPUS [--docs N ...]`: measure, write `<out>/sizing.json` and `sizing.md`, print
    the table; `--render DIR` re-renders a saved result; `--rss-child` is the measuring subprocess. Returns 0."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--rss-child":
        _rss_child(Path(args[1]), Path(args[2]), args[3])
        return 0
    if args and args[0] == "--render":  # re-render a saved result: scripts/bench_sizing --render DIR
        folder = Path(args[1])
        (folder / "sizing.md").write_text(render(json.loads((folder / "sizing.json").read_text())))
        return 0
    p = argparse.ArgumentParser(prog="bench_sizing", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("corpus", type=Path, help="a BEIR folder (corpus.jsonl, queries.jsonl)")
    p.add_argument("--docs", type=int, default=1000, help="documents in the sample (default 1000)")
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--copies", type=int, default=1, help="write each point this many times (near-copies), "
                   "to measure RSS per document past the fixed costs")
    p.add_argument("--out", type=out_folder, default=Path("benchmarks/results/sizing"))
    p.add_argument("--work-dir", type=out_folder, help="keep the shards here (default: a temporary folder)")
    a = parse_checked(p, args)
    with tempfile.TemporaryDirectory(prefix="sizing-") as tmp:
        work = a.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = run(a.corpus, docs=a.docs, queries=a.queries, seed=a.seed, work=work, times=a.copies)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "sizing.json").write_text(json.dumps(result, indent=1))
    (a.out / "sizing.md").write_text(render(result))
    print(render(result))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raise SystemExit(main())
