"""SPLADE-tiny with its real weights: what it encodes, against a reference pass, and its pinned files."""

from __future__ import annotations

import functools
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from app.encoders import offline, splade
from app.encoders.fastembed_encoder import EncoderPool
from app.errors import EncoderFailed
from app.settings import EncoderSettings, Settings

TEXTS = [
    "automatic indexing of documents",
    "Vitamin D deficiency is associated with an increased risk of tuberculosis.",
    "0-dimensional biomaterials show inductive properties.",
    "The mitochondria of the cell produce ATP through oxidative phosphorylation, " * 30,  # past 256 tokens
]


@pytest.fixture(scope="module")
def encoder() -> splade.SpladeEncoder:
    # a small token budget: several batches of mixed lengths, and a text alone in its batch
    return splade.load("splade-tiny", EncoderSettings(batch_tokens=300, max_batch=4))


@functools.cache
def float64_weights() -> dict[str, np.ndarray]:
    """The model's weights in float64, read once for the module's texts."""
    return {k.replace(".gamma", ".weight").replace(".beta", ".bias"): v.astype(np.float64)
            for k, v in load_file(str(offline.splade_dir() / "model.safetensors")).items()}


def reference(text: str, encoder: splade.SpladeEncoder) -> np.ndarray:
    """BertForMaskedLM as transformers' modules compute it, one text at a time, no padding, in float64,
    head by head, with the exact erf: written apart from the batched float32 pass it checks."""
    w = float64_weights()
    cfg = json.loads((offline.splade_dir() / "config.json").read_text())
    eps, heads = cfg["layer_norm_eps"], cfg["num_attention_heads"]

    def ln(x: np.ndarray, name: str) -> np.ndarray:
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[f"{name}.weight"] + w[f"{name}.bias"]

    def dense(x: np.ndarray, name: str) -> np.ndarray:
        return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    def act(x: np.ndarray) -> np.ndarray:
        return np.vectorize(lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))))(x)

    ids = encoder.tokenize([text])[0]
    n = len(ids)
    x = w["bert.embeddings.word_embeddings.weight"][ids] + w["bert.embeddings.position_embeddings.weight"][:n] \
        + w["bert.embeddings.token_type_embeddings.weight"][0]
    x = ln(x, "bert.embeddings.LayerNorm")
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}"
        q, k, v = (dense(x, f"{p}.attention.self.{m}") for m in ("query", "key", "value"))
        size = x.shape[1] // heads
        context = np.zeros_like(x)
        for h in range(heads):
            cols = slice(h * size, (h + 1) * size)
            scores = q[:, cols] @ k[:, cols].T / math.sqrt(size)
            probs = np.exp(scores - scores.max(1, keepdims=True))
            context[:, cols] = (probs / probs.sum(1, keepdims=True)) @ v[:, cols]
        x = ln(dense(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
        x = ln(dense(act(dense(x, f"{p}.intermediate.dense")), f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
    h = ln(act(dense(x, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm")
    logits = h @ w["bert.embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]
    return np.log1p(np.maximum(logits, 0.0)).max(0)


def test_batched_vectors_match_a_float64_reference_pass(encoder: splade.SpladeEncoder) -> None:
    got = encoder.embed(TEXTS)
    for text, vec in zip(TEXTS, got, strict=True):
        want = reference(text, encoder)
        dense = np.zeros_like(want)
        dense[list(vec.indices)] = vec.values
        assert np.abs(dense - want).max() < 1e-5  # a weight missing or extra counts in full
        assert len(vec.indices) > 5


def test_vectors_are_sparse_deterministic_and_weigh_the_texts_own_words(encoder: splade.SpladeEncoder) -> None:
    first = encoder.embed(TEXTS)
    again = encoder.embed(list(reversed(TEXTS)))[::-1]  # other batches, other padding
    for a, b in zip(first, again, strict=True):
        assert a.indices == b.indices
        assert np.allclose(a.values, b.values, atol=1e-6)
    vocab_size = 30522
    for vec in first:
        assert 0 < len(vec.indices) < vocab_size // 10
        assert list(vec.indices) == sorted(set(vec.indices)) and min(vec.values) > 0
    # the model's strongest weights are the query's own words (and then expansions: "cancer", "disease")
    for text, words in (("vitamin deficiency tuberculosis", ("vitamin", "deficiency")),
                        ("automatic indexing of documents", ("automatic", "index", "document"))):
        query = encoder.embed_query(text)
        weights = dict(zip(query.indices, query.values, strict=True))
        top = sorted(weights, key=weights.__getitem__, reverse=True)[:len(words)]
        assert {encoder.tokenize([w])[0][1] for w in words} == set(top), text  # [CLS] word [SEP]
    assert query == encoder.embed(["automatic indexing of documents"])[0]  # queries as documents


def test_long_texts_are_cut_at_256_tokens(encoder: splade.SpladeEncoder) -> None:
    assert len(encoder.tokenize([TEXTS[-1]])[0]) == splade.MAX_LENGTH
    assert encoder.embed([TEXTS[-1]]) == encoder.embed([TEXTS[-1] + " zebra giraffe"])


def test_the_default_settings_serve_splade_tiny_as_an_unweighted_sparse_model(tmp_path: Path) -> None:
    settings = Settings()
    pool = EncoderPool(settings.models, EncoderSettings(cache_dir=tmp_path))
    assert settings.models["splade-tiny"].kind == "sparse"
    assert pool.dim("splade-tiny") is None and pool.idf("splade-tiny") is False and pool.idf("bm25-multilingual")
    assert pool.get("splade-tiny").embed_query("protein").indices
    assert "splade" not in [s.name for s in settings.spaces]  # optional: added by migrations/0008


def test_installed_splade_files_match_the_pinned_hashes() -> None:
    files = offline.read_splade("splade-tiny")
    assert set(files) == {"model.safetensors", "tokenizer.json", "config.json"}


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json", "config.json"])
def test_an_altered_splade_file_is_refused_naming_it(name: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    altered = tmp_path / "model"
    shutil.copytree(offline.splade_dir(), altered)
    data = bytearray((altered / name).read_bytes())
    data[len(data) // 2] ^= 1  # one bit
    (altered / name).write_bytes(bytes(data))
    monkeypatch.setattr(offline, "splade_dir", lambda: altered)
    with pytest.raises(EncoderFailed) as err:
        splade.load("splade-tiny", EncoderSettings())
    assert str(altered / name) in err.value.message and "not the pinned" in err.value.message
    assert err.value.detail["expected"] == offline.SPLADE_SHA256["splade-tiny"][name]


def test_an_unknown_splade_model_is_refused() -> None:
    with pytest.raises(EncoderFailed, match="unknown splade model"):
        splade.load("splade-huge", EncoderSettings())
