"""`scripts/bench_splade`: what the optional `splade` space costs to ingest and to encode a query.

In one run, on a sample of a BEIR corpus: the bare dense encoder (one MiniLM vector of title + body),
SPLADE-tiny on the same texts, every default space encoded (what ingest encodes today), and the
default spaces plus `splade` (what ingest encodes once migration 0008 is applied), in docs/s; then
the median time to encode a query with SPLADE, MiniLM and BM25, and how many terms SPLADE's vectors
hold (documents and queries). Written to --out as bench-splade.json and bench-splade.md.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from app.domain.documents import Document
from app.domain.text import nfkc
from app.domain.versions import VectorVersion
from app.encoders.fastembed_encoder import EncoderPool
from app.eval.args import out_folder, parse_checked
from app.eval.bench import machine
from app.eval.bench_ingest import open_services
from app.eval.index import peak_rss_mb
from app.services.encoding import encode_documents
from app.settings import Settings


def _rate(n: int, seconds: float) -> dict[str, float]:
    seconds = max(seconds, 1e-6)  # a clock that did not move (vectors a test had cached) is not a division by zero
    return {"seconds": seconds, "docs_per_s": round(n / seconds, 2)}


def bench_ingest_cost(docs: Sequence[Document], encoders: EncoderPool, base: Settings, *, model: str = "splade-tiny",
                      batch: int = 32) -> dict[str, Any]:
    """docs/s of the bare dense encoder, SPLADE alone, the default spaces, and the default spaces + SPLADE.

    The four are timed batch by batch, in turn, so a machine whose load changes during the run slows
    each of them alike (the ratios hold; the absolute figures are this run's).
    """
    texts = [f"{d.title}\n{d.body}" for d in docs]
    dense, splade = encoders.get("minilm-l6-int8"), encoders.get(model)
    for enc in (dense, splade):
        enc.embed(texts[:4])  # load and warm up outside the timing
    took = {"bare_dense": 0.0, "splade": 0.0, "default_spaces": 0.0, "default_plus_splade": 0.0}
    with tempfile.TemporaryDirectory(prefix="bench-splade-") as tmp:
        svc = open_services("edge", Path(tmp), encoders, base)
        try:
            default = svc.registry.get().written_versions()
            extra = VectorVersion(space="splade", field="keywords", kind="sparse", model=model, version=1, dim=None,
                                  idf=False)
            work = {"bare_dense": lambda i: dense.embed(texts[i:i + batch]),
                    "splade": lambda i: splade.embed([nfkc(t) for t in texts[i:i + batch]]),
                    "default_spaces": lambda i: encode_documents(svc.ingest.prepare(docs[i:i + batch]), default,
                                                                 encoders),
                    "default_plus_splade": lambda i: encode_documents(svc.ingest.prepare(docs[i:i + batch]),
                                                                      [*default, extra], encoders)}
            for n, i in enumerate(range(0, len(docs), batch)):
                names = list(work)
                for key in names[n % len(names):] + names[:n % len(names)]:  # a rotating order
                    t0 = time.perf_counter()
                    work[key](i)
                    took[key] += time.perf_counter() - t0
        finally:
            svc.close()
    out: dict[str, Any] = {"documents": len(docs)}
    out |= {key: _rate(len(docs), seconds) for key, seconds in took.items()}
    out["default_spaces"]["vectors_per_doc"] = len(default)
    out["default_plus_splade"]["vectors_per_doc"] = len(default) + 1
    out["splade_vs_bare_dense"] = round(out["bare_dense"]["seconds"] / out["splade"]["seconds"], 3)
    out["added_to_default_ingest"] = round(
        out["default_plus_splade"]["seconds"] / out["default_spaces"]["seconds"] - 1, 3)
    return out


def bench_queries(queries: Sequence[str], encoders: EncoderPool, models: Sequence[str]) -> dict[str, Any]:
    """Median and p95 ms to encode one query, per model (each query encoded once, after a warm-up)."""
    out: dict[str, Any] = {"queries": len(queries)}
    for m in models:
        enc = encoders.get(m)
        enc.embed_query("warm up")
        took = []
        for q in queries:
            t0 = time.perf_counter()
            enc.embed_query(q)
            took.append((time.perf_counter() - t0) * 1000)
        took.sort()
        p95 = took[math.ceil(0.95 * len(took)) - 1]  # nearest rank
        out[m] = {"p50_ms": round(statistics.median(took), 3), "p95_ms": round(p95, 3)}
    return out


def term_counts(docs: Sequence[Document], queries: Sequence[str], encoders: EncoderPool,
                model: str = "splade-tiny") -> dict[str, Any]:
    """Non-zero terms per SPLADE vector (documents and queries): what the sparse index stores and a search walks."""
    enc = encoders.get(model)

    def stats(vecs: Sequence[Any]) -> dict[str, float]:
        n = sorted(len(v.indices) for v in vecs)
        return {"mean": round(statistics.fmean(n), 1), "p50": float(statistics.median(n)), "max": float(n[-1])}

    return {"documents": stats(enc.embed([nfkc(f"{d.title}\n{d.body}") for d in docs])),
            "queries": stats([enc.embed_query(nfkc(q)) for q in queries])}


def markdown(res: Mapping[str, Any]) -> str:
    """The benchmark's tables."""
    ing, q, terms = res["ingest"], res["query_encode"], res["terms"]
    lines = [f"### SPLADE-tiny: ingest and query cost ({ing['documents']} {res['dataset']} documents, one run)", "",
             "| what | docs/s | seconds |", "|---|---|---|"]
    for key, label in (("bare_dense", "bare dense encoder (MiniLM-L6, one vector of title + body)"),
                       ("splade", "SPLADE-tiny alone (title + body, 256 tokens)"),
                       ("default_spaces", f"every default space ({ing['default_spaces']['vectors_per_doc']} vectors)"),
                       ("default_plus_splade", "the default spaces + `splade`")):
        lines.append(f"| {label} | {ing[key]['docs_per_s']:.1f} | {ing[key]['seconds']:.1f} |")
    lines += ["", f"SPLADE takes {1 / ing['splade_vs_bare_dense']:.2f}x the bare dense encoder's time; adding it "
              f"adds {ing['added_to_default_ingest'] * 100:.0f} % to the default's encoding time (the four timed "
              "batch by batch, in turn).", "",
              f"| query encoder ({q['queries']} queries) | p50 ms | p95 ms |", "|---|---|---|"]
    lines += [f"| {m} | {v['p50_ms']:.2f} | {v['p95_ms']:.2f} |" for m, v in q.items() if m != "queries"]
    lines += ["", "| SPLADE terms per vector | mean | p50 | max |", "|---|---|---|---|"]
    lines += [f"| {k} | {v['mean']:.0f} | {v['p50']:.0f} | {v['max']:.0f} |" for k, v in terms.items()]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """`scripts/bench_splade`: the tables on stdout, JSON and markdown in --out.

    Raises:
        SystemExit: the dataset cannot be read (saying why).
    """
    from app.corpus import CorpusError, load_beir

    p = argparse.ArgumentParser(prog="bench_splade", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset", type=Path, default=Path("../shared/datasets/scifact"), help="a BEIR folder")
    p.add_argument("--docs", type=int, default=500, help="documents sampled for the ingest figures")
    p.add_argument("--queries", type=int, default=200, help="queries timed")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--out", type=out_folder, default=Path("benchmarks/results/splade"))
    args = parse_checked(p, sys.argv[1:] if argv is None else argv)
    try:
        ds = load_beir(args.dataset, "train" if (args.dataset / "qrels" / "train.tsv").exists() else "test")
    except CorpusError as e:
        raise SystemExit(e.message) from None
    base = Settings()
    encoders = EncoderPool(base.models, base.encoders)
    rng = random.Random(args.seed)
    docs = rng.sample(ds.docs, min(args.docs, len(ds.docs)))
    queries = rng.sample(sorted(ds.queries.values()), min(args.queries, len(ds.queries)))
    res: dict[str, Any] = {"machine": machine(), "dataset": ds.name, "args": {k: str(v) for k, v in vars(args).items()}}
    res["ingest"] = bench_ingest_cost(docs, encoders, base)
    res["query_encode"] = bench_queries(queries, encoders, ["splade-tiny", "minilm-l6-int8", "bm25-multilingual"])
    res["terms"] = term_counts(docs, queries, encoders)
    res["peak_rss_mb"] = round(peak_rss_mb(), 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench-splade.json").write_text(json.dumps(res, indent=1))
    (args.out / "bench-splade.md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
