"""Build (or reuse) an evaluation index: the real ingest pipeline into an embedded store folder."""

from __future__ import annotations

import resource
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.container import Services, build_services
from app.domain.documents import Document, point_id
from app.encoders.fastembed_encoder import EncoderPool
from app.settings import EncoderSettings, Settings, StoreSettings


@dataclass(frozen=True)
class IndexReport:
    """What building (or reusing) the evaluation index did: where, how many documents, how long."""

    path: str
    documents: int
    written: int
    seconds: float
    docs_per_s: float | None
    peak_rss_mb: float
    reused: bool


def eval_settings(index_dir: Path, base: Settings | None = None, cache_dir: Path | None = None) -> Settings:
    """The configured models and spaces (env included), stored in `index_dir`."""
    base = base or Settings()
    encoders = base.encoders if cache_dir is None else EncoderSettings(
        **{**base.encoders.model_dump(), "cache_dir": cache_dir})
    store = StoreSettings(**{**base.store.model_dump(), "path": Path(index_dir), "url": None})
    return base.model_copy(update={"store": store, "encoders": encoders})


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def warm_page_cache(folder: Path) -> int:
    """Read every file under `folder` once, so plans are timed on a warm page cache (as in a service that
    has been serving), not the first plan to touch a region paying its disk reads. Returns: MB read."""
    total = 0
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                while chunk := f.read(1 << 24):
                    total += len(chunk)
    return total >> 20


class PeakAnon:
    """Samples this process's anonymous resident memory (`RssAnon` in /proc/self/status: what it owns,
    not the pages of memory-mapped files that `peak_rss_mb` also counts) every `every_s` seconds in a
    thread while the block runs; `mb` is the largest sample (0 where /proc is missing)."""

    def __init__(self, every_s: float = 0.2) -> None:
        self.every_s, self.mb = every_s, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            try:
                kib = next(int(x.split()[1]) for x in Path("/proc/self/status").read_text().splitlines()
                           if x.startswith("RssAnon:"))
            except (OSError, StopIteration, ValueError, IndexError):
                return
            self.mb = max(self.mb, kib / 1024)
            if self._stop.wait(self.every_s):
                return

    def __enter__(self) -> PeakAnon:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def indexable(docs: Sequence[Document]) -> list[Document]:
    """Documents the ingest will accept (a document needs a title or a body)."""
    return [d for d in docs if d.title.strip() or d.body.strip()]


def build_index(services: Services, docs: Sequence[Document], *, batch: int = 64,
                progress: bool = True) -> IndexReport:
    """Ingest `docs` through the real pipeline unless they are all there already.

    Safe to repeat: a folder holding every document is reused as is; an interrupted build goes on
    with the documents that are missing (the same id always lands on the same point).
    """
    from tqdm import tqdm

    docs = indexable(docs)
    alias = services.registry.alias
    present = services.store.count(alias)
    if present >= len(docs):
        return IndexReport(str(getattr(services.store, "root", "")), present, 0, 0.0, None, peak_rss_mb(), True)
    missing = list(docs)
    if present:
        missing = []
        for i in range(0, len(docs), 256):
            chunk = docs[i:i + 256]
            have = {p.id for p in services.store.retrieve(alias, [point_id(d.id) for d in chunk])}
            missing += [d for d in chunk if point_id(d.id) not in have]
    bar = tqdm(total=len(missing), unit="doc", desc="index", file=sys.stderr, disable=not progress)
    t0 = time.perf_counter()
    for i in range(0, len(missing), batch):
        part = missing[i:i + batch]
        services.ingest.upsert(part)
        bar.update(len(part))
    encode_s = time.perf_counter() - t0
    bar.set_postfix_str("optimizing")
    services.store.optimize(services.registry.physical())
    bar.close()
    elapsed = time.perf_counter() - t0
    rate = len(missing) / encode_s if encode_s > 0 else None
    print(f"indexed {len(missing)} documents in {elapsed:.1f} s ({rate or 0:.1f} docs/s ingest, "
          f"{elapsed - encode_s:.1f} s optimize); peak RSS {peak_rss_mb():.0f} MB", file=sys.stderr)
    return IndexReport(str(getattr(services.store, "root", "")), services.store.count(alias), len(missing),
                       elapsed, rate, peak_rss_mb(), False)


def open_index(index_dir: Path, *, settings: Settings | None = None,
               encoders: EncoderPool | None = None) -> Services:
    """Services over the embedded store in `index_dir` (created on first use)."""
    s = settings or eval_settings(index_dir)
    return build_services(s, encoders=encoders)
