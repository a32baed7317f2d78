"""`scripts/bench`, part 1: ingest and encoding-mode throughput (docs/s) against the bare encoder."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from app.container import Services, build_services
from app.domain.documents import Document
from app.encoders.fastembed_encoder import EncoderPool
from app.eval.index import peak_rss_mb
from app.services.encoding import encode_documents
from app.settings import Settings, SpaceSettings, StoreSettings, default_spaces


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
    dense_model = next(s.model for s in with_mode(base, "separate").spaces if s.kind != "sparse")
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


def _model_tokens(svc: Services, versions: Sequence[Any], encoders: EncoderPool,
                  docs: Sequence[Document]) -> dict[str, float] | None:
    """Model tokens per document: the bare encoder's (cut at 256) and the shared pass's (windows,
    texts encoded alone), from the shared encoder's tokenizer; None when it cannot say."""
    shared = [v for v in versions if v.kind != "sparse"]
    enc = encoders.get(shared[0].model) if shared else None
    enc = getattr(enc, "inner", enc)  # a wrapped encoder (tests) exposes the real one as `inner`
    if enc is None or not hasattr(enc, "model_tokens"):
        return None
    keys = {getattr(encoders.get(v.model), "field_key", lambda f: f)(v.field) for v in shared}  # entities: how pooled
    counts = enc.model_tokens(svc.ingest.prepare(docs), keys)
    return {k: c / len(docs) for k, c in counts.items()}


def with_mode(base: Settings, mode: str) -> Settings:
    """`base` with every dense and multivector space's model in encoding mode `mode`: an alias of the
    same model in that mode, the one `default_spaces(mode)` gives the space when it is one (the
    shared mode's entities pool their mentions), else the first configured.

    Raises:
        ValueError: no alias of a space's model is configured in that mode.
    """
    preferred = {s.name: s.model for s in default_spaces(mode)}  # type: ignore[arg-type]

    def alias(space: SpaceSettings) -> str:
        name = base.models[space.model].name if space.model in base.models else space.model
        same = [a for a, m in base.models.items() if m.name == name and m.mode == mode]
        if not same:
            raise ValueError(f"no model configured as {name!r} in encoding mode {mode!r}")
        return preferred[space.name] if preferred.get(space.name) in same else same[0]
    spaces = [s.model_copy(update={"model": alias(s)}) if s.kind != "sparse" else s for s in base.spaces]
    return base.model_copy(update={"spaces": spaces})


def _timed_rounds(jobs: Mapping[str, Callable[[], None]], rounds: int, seed: int) -> dict[str, dict[str, list[float]]]:
    """Run every job once per round, in a shuffled order each round: wall and process CPU seconds."""
    out: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in jobs}
    rng = random.Random(seed)
    for _ in range(rounds):
        order = list(jobs)
        rng.shuffle(order)
        for name in order:
            w0, c0 = time.perf_counter(), time.process_time()
            jobs[name]()
            out[name]["wall"].append(time.perf_counter() - w0)
            out[name]["cpu"].append(time.process_time() - c0)
    return out


def bench_encoding_modes(docs: Sequence[Document], encoders: EncoderPool, base: Settings, modes: Sequence[str],
                         *, batch: int = 64, rounds: int = 3, seed: int = 13) -> dict[str, Any]:
    """In one run: the bare encoder making one vector of `title\nbody`, and every space encoded
    (derive + encode, no store) in each encoding mode, interleaved.

    The bare encoder is timed two ways, fastembed (the separate mode's encoder) and, when the shared
    alias is configured, the shared mode's own onnxruntime session making the same vector; the faster
    of the two in each round is the baseline, so a mode is never compared with a slow baseline.
    Each of `rounds` rounds runs every contender once in a shuffled order; a mode's ratio is the
    median over rounds of (baseline seconds / mode seconds) in the same round, so a change of load
    between contenders moves both sides. Process CPU seconds per document are reported too: on a
    machine shared with other jobs they move less than wall time.

    Returns:
        `documents`, `rounds`, `bare_docs_per_s` (the best bare's median), `bare` (docs/s and CPU
        s/doc per way), and per mode `spaces`, `docs_per_s`, `cpu_s_per_doc`, `ratio_vs_bare` (wall,
        median of rounds) and `cpu_ratio_vs_bare` (median CPU seconds of the best bare / the mode's);
        with `shared`, `model_tokens_per_doc` (`bare`, `windows`, `alone`: what bounds the ratio).
    """
    texts = [f"{d.title}\n{d.body}" for d in docs]
    dense_model = next(s.model for s in with_mode(base, "separate").spaces if s.kind != "sparse")
    bare = {"fastembed": encoders.get(dense_model)}
    if f"{dense_model}-shared" in base.models:
        bare["onnxruntime"] = encoders.get(f"{dense_model}-shared")
    jobs: dict[str, Callable[[], None]] = {}
    for way, enc in bare.items():
        enc.embed(texts[:8])  # load and warm up outside the timing

        def run_bare(enc: Any = enc) -> None:
            for i in range(0, len(texts), batch):
                enc.embed(texts[i:i + batch])
        jobs[f"bare {way}"] = run_bare
    tmp = tempfile.TemporaryDirectory(prefix="bench-mode-")
    tokens: dict[str, float] | None = None
    opened: list[Services] = []
    spaces: dict[str, int] = {}
    try:
        for mode in modes:
            settings = with_mode(base, mode)
            svc = open_services("edge", Path(tmp.name) / mode, encoders, settings)
            opened.append(svc)
            versions = svc.registry.get().written_versions()
            spaces[mode] = len(versions)
            encode_documents(svc.ingest.prepare(docs[:2]), versions, encoders)  # lazy imports, sessions
            if mode == "shared":
                tokens = _model_tokens(svc, versions, encoders, docs)

            def run_mode(svc: Services = svc, versions: Any = versions) -> None:
                for i in range(0, len(docs), batch):
                    encode_documents(svc.ingest.prepare(docs[i:i + batch]), versions, encoders)
            jobs[mode] = run_mode
        timed = _timed_rounds(jobs, rounds, seed)
    finally:
        for svc in opened:
            svc.close()
        tmp.cleanup()
    n = len(docs)
    best_wall = [min(timed[f"bare {w}"]["wall"][r] for w in bare) for r in range(rounds)]
    best_cpu = min(statistics.median(timed[f"bare {w}"]["cpu"]) for w in bare)
    out: dict[str, Any] = {
        "documents": n, "rounds": rounds, "bare_docs_per_s": n / statistics.median(best_wall),
        "bare": {w: {"docs_per_s": n / statistics.median(timed[f"bare {w}"]["wall"]),
                     "cpu_s_per_doc": statistics.median(timed[f"bare {w}"]["cpu"]) / n} for w in bare},
        "bare_cpu_s_per_doc": best_cpu / n}
    for mode in modes:
        t = timed[mode]
        out[mode] = {"spaces": spaces[mode], "docs_per_s": n / statistics.median(t["wall"]),
                     "cpu_s_per_doc": statistics.median(t["cpu"]) / n,
                     "ratio_vs_bare": statistics.median(b / m for b, m in zip(best_wall, t["wall"], strict=True)),
                     "cpu_ratio_vs_bare": best_cpu / statistics.median(t["cpu"]),
                     "ratio_per_round": [b / m for b, m in zip(best_wall, t["wall"], strict=True)]}
    if tokens is not None:
        out["model_tokens_per_doc"] = tokens
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def modes_markdown(res: Mapping[str, Any]) -> str:
    """The encoding modes' table: docs/s (median of rounds), ratio to the best bare encoder (wall and CPU)."""
    lines = [f"### Encoding modes ({res['documents']} documents, {res['rounds']} interleaved rounds, one run)", "",
             "| what | docs/s | CPU s/doc | ratio to bare (wall, median of rounds) | ratio to bare (CPU) |",
             "|---|---|---|---|---|"]
    for way, b in res["bare"].items():
        lines.append(f"| bare encoder ({way}), one vector of title + body | {b['docs_per_s']:.1f} | "
                     f"{b['cpu_s_per_doc']:.3f} | | |")
    for mode in ("separate", "shared"):
        if mode in res:
            r = res[mode]
            lines.append(f"| all {r['spaces']} spaces, `{mode}` (derive + encode) | {r['docs_per_s']:.1f} | "
                         f"{r['cpu_s_per_doc']:.3f} | {r['ratio_vs_bare']:.2f} | {r['cpu_ratio_vs_bare']:.2f} |")
    t = res.get("model_tokens_per_doc")
    if t:
        lines += ["", f"Model tokens per document ([CLS] and [SEP] included): bare {t['bare']:.0f} (cut at the "
                  f"model's 256); `shared` {t['windows']:.0f} in windows + {t['alone']:.0f} in texts encoded alone."]
    return "\n".join(lines) + "\n"
