"""`scripts/bench`, part 1: ingest and encoding-mode throughput (docs/s) against the bare encoder."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from app.container import Services, build_services
from app.domain.documents import Document
from app.encoders.fastembed_encoder import EncoderPool
from app.eval.index import peak_rss_mb
from app.services.encoding import encode_documents
from app.settings import Settings, StoreSettings


def store_settings(kind: str, folder: Path) -> StoreSettings:
    """`edge`: the embedded store in `folder`; `memory`: qdrant-client's in-memory store."""
    return StoreSettings(path=folder, url=":memory:" if kind == "memory" else None)


def open_services(kind: str, folder: Path, encoders: EncoderPool, base: Settings) -> Services:
    """`base` settings on a fresh store of `kind` (see store_settings), sharing the loaded `encoders`."""
    settings = base.model_copy(update={"store": store_settings(kind, folder)})
    return build_services(settings, encoders=encoders)


# -- 1. ingest ---------------------------------------------------------------------------------
def bench_ingest(docs: Sequence[Document], encoders: EncoderPool, base: Settings, kinds: Sequence[str],
                 *, batch: int = 64) -> dict[str, Any]:
    """docs/s: the bare encoder on `title\\nbody`, all spaces encoded, the full ingest per adapter."""
    texts = [f"{d.title}\n{d.body}" for d in docs]
    dense_model = next(s.model for s in base.spaces if s.kind != "sparse")
    enc = encoders.get(dense_model)
    enc.embed(texts[:8])  # load and warm up outside the timing
    for m in {s.model for s in base.spaces}:
        encoders.get(m).embed(["warm up"])
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        enc.embed(texts[i:i + batch])
    bare = time.perf_counter() - t0
    out: dict[str, Any] = {"documents": len(docs), "bare_encoder": {"model": dense_model, "seconds": bare,
                                                                   "docs_per_s": len(docs) / bare}}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        svc = open_services("edge", Path(tmp) / "enc", encoders, base)
        try:
            versions = svc.registry.get().written_versions()
            t0 = time.perf_counter()
            for i in range(0, len(docs), batch):
                encode_documents(svc.ingest.prepare(docs[i:i + batch]), versions, encoders)
            encode = time.perf_counter() - t0
        finally:
            svc.close()
        out["encode_all_spaces"] = {"vectors_per_doc": len(versions), "seconds": encode,
                                    "docs_per_s": len(docs) / encode}
        for kind in kinds:
            svc = open_services(kind, Path(tmp) / kind, encoders, base)
            try:
                t0 = time.perf_counter()
                for i in range(0, len(docs), batch):
                    svc.ingest.upsert(docs[i:i + batch])
                svc.store.optimize(svc.registry.physical())
                took = time.perf_counter() - t0
            finally:
                svc.close()
            out[f"ingest_{kind}"] = {"seconds": took, "docs_per_s": len(docs) / took}
    out["ratio_full_ingest_edge_vs_bare"] = out.get("ingest_edge", {}).get("docs_per_s", float("nan")) / (
        len(docs) / bare)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def with_mode(base: Settings, mode: str) -> Settings:
    """`base` with every dense and multivector space's model in encoding mode `mode`: for `shared`,
    the alias `<alias>-shared` (it must be configured, as `minilm-l6-int8-shared` is by default)."""
    if mode == "separate":
        return base
    spaces = [s.model_copy(update={"model": f"{s.model}-shared"}) if s.kind != "sparse" else s for s in base.spaces]
    missing = sorted({s.model for s in spaces} - set(base.models))
    if missing:
        raise ValueError(f"no model configured as {missing} for encoding mode {mode!r}")
    return base.model_copy(update={"spaces": spaces})


def bench_encoding_modes(docs: Sequence[Document], encoders: EncoderPool, base: Settings, modes: Sequence[str],
                         *, batch: int = 64) -> dict[str, Any]:
    """In one run: the bare encoder (one vector of `title\nbody`), then every space encoded in each
    encoding mode; docs/s and the ratio to the bare encoder."""
    texts = [f"{d.title}\n{d.body}" for d in docs]
    dense_model = next(s.model for s in base.spaces if s.kind != "sparse")
    enc = encoders.get(dense_model)
    enc.embed(texts[:8])
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        enc.embed(texts[i:i + batch])
    bare = len(docs) / (time.perf_counter() - t0)
    out: dict[str, Any] = {"documents": len(docs), "bare_docs_per_s": bare}
    for mode in modes:
        settings = with_mode(base, mode)
        for m in {s.model for s in settings.spaces}:
            encoders.get(m).embed(["warm up"])
        with tempfile.TemporaryDirectory(prefix="bench-mode-") as tmp:
            svc = open_services("edge", Path(tmp), encoders, settings)
            try:
                versions = svc.registry.get().written_versions()
                t0 = time.perf_counter()
                for i in range(0, len(docs), batch):
                    encode_documents(svc.ingest.prepare(docs[i:i + batch]), versions, encoders)
                rate = len(docs) / (time.perf_counter() - t0)
            finally:
                svc.close()
        out[mode] = {"spaces": len(versions), "docs_per_s": rate, "ratio_vs_bare": rate / bare}
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def modes_markdown(res: Mapping[str, Any]) -> str:
    """The encoding modes' table."""
    lines = [f"### Encoding modes ({res['documents']} documents, one run)", "",
             "| what | docs/s | ratio to bare |", "|---|---|---|",
             f"| bare encoder, one vector of title + body | {res['bare_docs_per_s']:.1f} | 1.00 |"]
    for mode in ("separate", "shared"):
        if mode in res:
            r = res[mode]
            lines.append(f"| all {r['spaces']} spaces, `{mode}` | {r['docs_per_s']:.1f} | {r['ratio_vs_bare']:.2f} |")
    return "\n".join(lines) + "\n"
