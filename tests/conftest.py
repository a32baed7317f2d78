"""Shared fixtures: real models (loaded once), real stores (edge in a temp folder, qdrant in memory)."""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.container import Services, build_services
from app.domain.documents import Document
from app.encoders.fastembed_encoder import Encoder, EncoderPool
from app.settings import EncoderSettings, ModelSettings, Settings, StoreSettings
from app.store.factory import open_store
from tests.fixtures import DOCS
from tests.read_only import FreezableStore

# Hypothesis (the schemathesis fuzzing) loads every installed package's Hypothesis plugin when imported: trio's
# registers its random generator, and that registration runs a full garbage collection (0.7 s of each test
# process's start here). The suite uses no plugin; it must be off before hypothesis is first imported.
os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")
STORE_KINDS = ["edge", "memory"]
# Encoders in the suite run one onnxruntime thread: on a busy machine the default pool's spinning threads
# cost twice the CPU for the same vectors (measured on the 45,000-word body: 28.9 s of CPU with the
# default pool, 13.2 s with one thread), and parallel workers (pytest-xdist) each have a core.
ENCODER_THREADS = 1
# Where temporary folders go when the caller chose none (no TMPDIR, no --basetemp): a RAM disk with room.
RAM_TMP, RAM_TMP_MIN_FREE = Path("/dev/shm"), 2 << 30
# The garbage collector's thresholds in a test process (CPython's default: 700, 10, 10). Hypothesis (the
# schemathesis fuzzing) and the services allocate millions of short-lived objects, and with the default a full
# collection of the whole heap (the models, the imported libraries, the collected tests) ran every ~70,000
# allocations. Measured on this 2-core machine: the schemathesis cases spent 9.1 of their 51 CPU-s in the
# collector, 3.1 s with thresholds 20,000/10/10 and the heap frozen after collection (`pytest_collection_finish`),
# peak memory unchanged (479 MB); tests/contract + tests/migrations in one process took 62.8-68.8 CPU-s with the
# default, 54.4-55.4 with 20,000/10/10, 47.5-50.6 with these (two alternated rounds each, load 5-9; peak
# memory 1.21-1.25 GB either way). Reference counting still frees everything without a cycle at once.
GC_THRESHOLDS = (100_000, 20, 20)


def pytest_configure(config: pytest.Config) -> None:
    """Temporary folders in RAM, and one encoder thread, for the suite and the processes it starts; fewer
    garbage collections in this process (`GC_THRESHOLDS`).

    The embedded engine preallocates and syncs its files: on this machine's disk a collection takes
    0.23 s to create and 0.1 s to remove, on /dev/shm 0.002 s, and most tests make one. A TMPDIR or
    --basetemp the caller chose, or a /dev/shm with under 2 GiB free (a container's default is
    64 MB), keeps the usual folder. Subprocesses (and pytest-xdist workers) inherit both through the
    environment."""
    os.environ.setdefault("MULTIVEC_ENCODERS__THREADS", str(ENCODER_THREADS))
    gc.set_threshold(*GC_THRESHOLDS)
    if config.option.basetemp or os.environ.get("TMPDIR") or not RAM_TMP.is_dir() \
            or not os.access(RAM_TMP, os.W_OK) or shutil.disk_usage(RAM_TMP).free < RAM_TMP_MIN_FREE:
        return
    os.environ["TMPDIR"] = str(RAM_TMP)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again


def pytest_collection_finish(session: pytest.Session) -> None:
    """What is alive once the tests are collected (imported libraries, the collected tests) lives to the
    end: frozen out of the collector's reach (`gc.freeze`), so no full collection walks it again.

    Frozen without a collection first: the heap then holds qdrant-client's ~1,000 pydantic models, and one
    full collection over it took 0.7-1.4 s here to free ~1,600-6,000 objects (kept instead, a few hundred kB)."""
    gc.freeze()


def idle_cores(seconds: float = 1.0) -> float:
    """How many cores sat idle over the next `seconds` (Linux: /proc/stat, idle and iowait against all
    time, steal counted busy); elsewhere the CPU count less the last minute's load average. A moment's
    measure, not the load average, which still counts a run that has just ended (benchmarks/suite_time.sh
    starts one suite right after the other)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    def times() -> list[int]:
        with open("/proc/stat") as f:
            return [int(x) for x in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal

    try:
        before = times()
        time.sleep(seconds)
        after = times()
    except (OSError, ValueError):
        return max(0.0, cpus - os.getloadavg()[0])
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return cpus * (spent[3] + spent[4]) / max(1, sum(spent))


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (scripts/test): a pytest-xdist worker per idle core, none when fewer than two are idle.

    Each worker pays its own start-up (imports, collection, models: about 7 s of CPU), and on a busy
    machine the workers only share what one process had: Linux gives each session its share of the
    CPU (autogroup), however many processes it runs. Measured on this 2-core machine under a load of
    25: 2 workers 230-285 s, one process 267-275 s, 14 s more CPU. PYTEST_XDIST_AUTO_NUM_WORKERS sets
    the number."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    workers = int(idle_cores() + 0.25)  # a core three quarters idle counts
    return workers if workers >= 2 else 0


def pytest_report_header(config: pytest.Config) -> str:
    workers = config.getoption("numprocesses", None) if config.pluginmanager.has_plugin("xdist") else None
    return (f"multivec: temporary folders under {tempfile.gettempdir()}, {ENCODER_THREADS} encoder thread, "
            f"{workers or 'no'} pytest-xdist workers")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


class MemoEncoder:
    """A real encoder that remembers each text's vector: the models are deterministic, and the same
    fixture corpus and queries are encoded by test after test. Texts not seen yet are still sent to
    the model in one call, as the service sends them. The shared mode's one pass over each document
    (`embed_documents`, app.encoders.shared) is remembered too, per document and fields asked."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.name, self.kind, self.dim = inner.name, inner.kind, inner.dim
        self._docs: dict[str, Any] = {}
        self._queries: dict[str, Any] = {}
        self._rows: dict[tuple[str, frozenset[str]], dict[str, Any]] = {}

    def embed(self, texts: Sequence[str]) -> list[Any]:
        new = list(dict.fromkeys(t for t in texts if t not in self._docs))
        if new:
            self._docs.update(zip(new, self.inner.embed(new), strict=True))
        return [self._docs[t] for t in texts]

    def __getattr__(self, name: str) -> Any:
        # anything else the real encoder offers passes through; only a shared-mode encoder has
        # `embed_documents` (app.services.encoding asks `hasattr`), remembered by `_embed_documents`
        found = getattr(self.inner, name)
        return self._embed_documents if name == "embed_documents" else found

    def _embed_documents(self, docs: Sequence[Any], fields: set[str]) -> list[dict[str, Any]]:
        """`embed_documents`'s rows, each remembered under its prepared document (every text and limit
        that makes the row: its repr) and the fields asked; the documents not seen yet go to the model
        in one call. Each caller gets its own dict and lists (the vectors themselves are shared)."""
        asked = frozenset(fields)
        keys = [(repr(d), asked) for d in docs]
        new = {k: d for k, d in zip(keys, docs, strict=True) if k not in self._rows}
        if new:
            shared: Any = self.inner  # app.encoders.shared.SharedEncoder: not on the Encoder protocol
            self._rows.update(zip(new, shared.embed_documents(list(new.values()), set(fields)), strict=True))
        return [{f: list(v) if isinstance(v, list) else v for f, v in self._rows[k].items()} for k in keys]

    def embed_query(self, text: str) -> Any:
        if text not in self._queries:
            self._queries[text] = self.inner.embed_query(text)
        return self._queries[text]

    def remember_queries(self, texts: Sequence[str]) -> None:
        """Encode the queries not seen yet in batches, as `embed_query` would one by one (the same vectors:
        fastembed's query pass, batched; MiniLM's vectors are bit-identical either way), for tests that
        search hundreds of distinct queries. Models without a batched query pass encode one by one."""
        new = [t for t in dict.fromkeys(texts) if t not in self._queries]
        batched = getattr(getattr(self.inner, "_model", None), "query_embed", None)
        if not new or self.kind != "dense" or batched is None:
            for t in new:
                self.embed_query(t)
            return
        vectors = [np.asarray(v, dtype=np.float32) for v in batched(new, batch_size=64)]
        self._queries.update(zip(new, vectors, strict=True))


# EncoderSettings fields no encoder reads (app/encoders uses none of them): the service cuts documents with them.
DOCUMENT_ONLY = {"cache_dir", "threads", "chunk_words", "max_chunks", "max_passages", "max_entities"}


@pytest.fixture(scope="session", autouse=True)
def shared_models() -> Iterator[None]:
    """Every EncoderPool built in the test process (the session's, a CLI's, the harness's) loads each
    model once and remembers each text's vector (MemoEncoder): `load_encoder` is memoised for the
    session, keyed by the model and the encoder settings that change a vector. Where the model files
    are assembled, how many threads run them, and how documents are cut into passages before they
    reach the encoder (`DOCUMENT_ONLY`) change no vector, so a test with its own passage limits or
    model folder shares the session's model and the vectors it has already computed."""
    from app.encoders import fastembed_encoder

    real = fastembed_encoder.load_encoder
    loaded: dict[tuple[str, str], MemoEncoder] = {}

    def load_once(spec: ModelSettings, settings: EncoderSettings) -> Encoder:
        key = (spec.model_dump_json(), settings.model_dump_json(exclude=DOCUMENT_ONLY))
        if key not in loaded:
            loaded[key] = MemoEncoder(real(spec, settings.model_copy(update={"threads": ENCODER_THREADS})))
        return loaded[key]

    patch = pytest.MonkeyPatch()
    patch.setattr(fastembed_encoder, "load_encoder", load_once)
    yield
    patch.undo()


@pytest.fixture(scope="session")
def encoders(model_cache: Path) -> EncoderPool:
    """The real models, assembled from their PyPI packages and loaded once per test session."""
    s = Settings(encoders=EncoderSettings(cache_dir=model_cache))
    return EncoderPool(s.models, s.encoders)


def make_settings(kind: str, tmp_path: Path, model_cache: Path, **overrides: object) -> Settings:
    store = StoreSettings(path=tmp_path / "data", url=":memory:" if kind == "memory" else None,
                          retry_attempts=2, retry_wait_s=0.01)
    # backups under the test's own folder: the default `backups/` is an operator's (`restore --latest` reads it)
    overrides = {"backup_dir": tmp_path / "backups", **overrides}
    return Settings(store=store, encoders=EncoderSettings(cache_dir=model_cache), **overrides)  # type: ignore[arg-type]


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(store_kind: str, tmp_path: Path, model_cache: Path) -> Settings:
    return make_settings(store_kind, tmp_path, model_cache)


@pytest.fixture
def services(settings: Settings, encoders: EncoderPool) -> Iterator[Services]:
    svc = build_services(settings, encoders=encoders)
    yield svc
    svc.close()


def to_documents(raw: list[dict]) -> list[Document]:
    return [Document.from_dict(d) for d in raw]


def load_corpus(services: Services) -> Services:
    """Ingest the fixture corpus into `services` and optimise the index; returns `services`."""
    services.ingest.upsert(to_documents(DOCS))
    services.store.optimize(services.registry.physical())
    return services


@pytest.fixture
def loaded(services: Services) -> Services:
    """Services with the fixture corpus ingested and the index optimised, for one test: take it to write."""
    return load_corpus(services)


@contextmanager
def shared_corpus(kind: str, folder: Path, model_cache: Path, encoders: EncoderPool,
                  **overrides: object) -> Iterator[Services]:
    """Services over the fixture corpus (loaded as `loaded` is, settings from `make_settings(kind, folder, ...)`)
    for several tests that only read: once loaded, their store refuses every write (tests/read_only.py)."""
    settings = make_settings(kind, folder, model_cache, **overrides)
    store = FreezableStore(open_store(settings.store, settings.collection))
    svc = build_services(settings, store=store, encoders=encoders)  # type: ignore[arg-type]
    try:
        load_corpus(svc)
        store.freeze()
        yield svc
    finally:
        svc.close()


@pytest.fixture(scope="module", params=STORE_KINDS)
def module_store_kind(request: pytest.FixtureRequest) -> str:
    """`store_kind` for module-scoped fixtures: the tests of a module run on one adapter, then the other."""
    return str(request.param)


@pytest.fixture(scope="module")
def shared_loaded(module_store_kind: str, tmp_path_factory: pytest.TempPathFactory, model_cache: Path,
                  encoders: EncoderPool) -> Iterator[Services]:
    """`loaded`, built once per module and adapter for the tests that only read it (search, plan, scroll,
    explain): ingesting and optimising cost each test ~0.5 s. A write raises `WriteOnSharedStore`."""
    with shared_corpus(module_store_kind, tmp_path_factory.mktemp(f"loaded-{module_store_kind}"), model_cache,
                       encoders) as svc:
        yield svc
