"""A backfill killed with SIGKILL part-way resumes from where it stopped and leaves no point behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from app.container import build_services
from app.domain.documents import Document
from app.encoders.fastembed_encoder import EncoderPool
from app.settings import SpaceSettings
from app.store.edge import EdgeStore
from app.versioning.declare import default_folder, load_folder
from app.versioning.steps import TAGS, tagged_filter
from tests.conftest import make_settings
from tests.fixtures import DOCS
from tests.migrations.conftest import NEW, migrator_of

ROOT = Path(__file__).resolve().parents[2]
N_DOCS = 200  # enough for a kill part-way (after 20) and a resume that has most of it left


def corpus() -> list[Document]:
    """Many short, distinct documents: a backfill of hundreds of small batches."""
    words = " ".join(d["title"] for d in DOCS).split()
    return [Document(id=f"doc-{i}", title=f"{words[i % len(words)]} {words[(i * 7) % len(words)]} study {i}",
                     body=f"Notes on item {i}.") for i in range(N_DOCS)]


def backfill(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "app.versioning.cli", "backfill", "0001", "--batch", "2",
                             "--progress", "lines"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_backfill_killed_part_way_resumes_to_full_coverage(tmp_path: Path, model_cache: Path,
                                                           encoders: EncoderPool) -> None:
    spaces = [SpaceSettings(name="title", field="title", kind="dense", model="minilm-l6-int8")]
    settings = make_settings("edge", tmp_path, model_cache, spaces=spaces)
    svc = build_services(settings, encoders=encoders)
    docs = corpus()
    for i in range(0, len(docs), 200):
        svc.ingest.upsert(docs[i:i + 200])
    migrator_of(svc).apply(load_folder(default_folder())[0])
    svc.close()  # the data folder now belongs to whoever opens it next: the backfill process

    env = {**os.environ, "MULTIVEC_STORE__PATH": str(settings.store.path),
           "MULTIVEC_ENCODERS__CACHE_DIR": str(model_cache), "PYTHONPATH": str(ROOT)}
    env.pop("MULTIVEC_STORE__URL", None)
    proc = backfill(env)
    assert proc.stdout is not None
    for line in proc.stdout:  # kill it once it has made some progress
        if line.startswith("backfill:") and int(line.split()[1].split("/")[0]) >= 20:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    store = EdgeStore(settings.store.path)
    try:
        migrator = migrator_of(build_services(settings, store=store, encoders=encoders))
        partial = migrator.coverage(NEW)
        assert 20 <= partial.covered < partial.total == N_DOCS, partial
        assert migrator.registry.get().find(NEW).status == "backfilling"
        # a tag is written only after its vector: every tagged point has the vector
        tagged, _ = store.scroll("documents", filter=tagged_filter(NEW), limit=N_DOCS, offset=None, with_vectors=[NEW])
        assert len(tagged) == partial.covered and all(NEW in p.vectors for p in tagged)
    finally:
        store.close()

    resumed = backfill(env)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "ready" in out
    done = [line for line in out.splitlines() if line.startswith("backfill:")][-1]
    assert int(done.split()[1].split("/")[0]) == N_DOCS - partial.covered  # only what was left

    store = EdgeStore(settings.store.path)
    try:
        points, _ = store.scroll("documents", filter=None, limit=N_DOCS + 1, offset=None, with_vectors=[NEW])
        assert len(points) == N_DOCS
        assert all(NEW in p.vectors and len(p.vectors[NEW]) == 384 for p in points)
        assert all(NEW in p.payload[TAGS] for p in points)
    finally:
        store.close()
