"""A service on the default settings loads only what it runs: fastembed (image models, huggingface_hub) and
bm25s's package (numba, scipy) cost 2-4.5 s and ~100 MB at every start here, and the defaults need neither."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# packages the default models never run (fastembed: separate-mode and hub models only; bm25s: a word list)
NOT_NEEDED = ("fastembed", "bm25s", "numba", "scipy", "PIL", "huggingface_hub")

PROGRAM = """
import json, sys, tempfile
from app.container import build_services
from app.domain.documents import Document
from app.services.search import SearchRequest
from app.settings import Settings, StoreSettings

services = build_services(Settings(store=StoreSettings(path=tempfile.mkdtemp())))
services.ingest.upsert([Document(id="d1", title="Aspirin and the heart",
                                 body="Aspirin lowers the risk of a heart attack. It thins the blood.")])
hits = services.search.search(SearchRequest(query="aspirin heart attack")).hits
services.close()
print(json.dumps({"hits": [h["id"] for h in hits], "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_ingest_and_search_on_the_default_settings_import_neither_fastembed_nor_bm25s(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", PROGRAM], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["hits"] == ["d1"]  # the models ran: the document was encoded and found
    assert [m for m in NOT_NEEDED if m in seen["modules"]] == []
    assert "onnxruntime" in seen["modules"] and "qdrant_edge" in seen["modules"]



def test_the_stopword_list_read_alone_is_the_one_bm25s_exports() -> None:
    """`bm25s_stopwords` reads bm25s's stopwords.py without running the package: the same list, in its order."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    from app.domain.text import bm25s_stopwords

    assert bm25s_stopwords() == tuple(STOPWORDS_EN_PLUS) and len(STOPWORDS_EN_PLUS) > 100
