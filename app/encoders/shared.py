"""Shared backbone: one model pass over title + body feeds the title, document, passage, summary and entity spaces.

fastembed mean-pools the token states inside the model call, so the states are out of reach; here
onnxruntime runs the same ONNX file (its first output is the token states) and `tokenizers` gives the
character offset of every token. A document's text (`title\\nbody`, the `document` field's text) is
tokenised once, cut into windows of at most `max_length` tokens that overlap by `overlap` tokens
(each token's state is taken from the window where it has the most context), run through the model
once, and every span is mean-pooled from the token states:

- `document`: the first window, [CLS] and [SEP] included: exactly what the separate pass computes
  (it truncates at the same window);
- `title`: the title's tokens; `body`: each passage's tokens (then merged into at most `max_chunks`
  as in the separate mode); `summary`: the tokens of its sentences, when they are found in the body;
  `entities`: each entity's first mention when `shared_entity_mentions` is set, else each entity
  alone (a few short phrases: cheap).

A span that cannot be found in the text (a summary or entities the client wrote, a passage the
text helpers rewrote) is encoded on its own, as the separate mode does: never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.domain.coverage import merge_similar_neighbours
from app.domain.documents import PreparedDocument
from app.domain.text import sentences
from app.encoders.batching import token_batches
from app.errors import EncoderFailed
from app.settings import EncoderSettings

_SPACE = re.compile(r"\s+")


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return (v / norm if norm > 0 else v).astype(np.float32)


class _Locator:
    """Finds a text in a document modulo runs of whitespace (the text helpers collapse them)."""

    def __init__(self, text: str) -> None:
        parts: list[str] = []
        index: list[int] = []
        last_space = False
        for i, ch in enumerate(text):
            if ch.isspace():
                if last_space or not parts:
                    continue
                parts.append(" ")
                last_space = True
            else:
                parts.append(ch)
                last_space = False
            index.append(i)
        self.flat = "".join(parts)
        self.index = index

    def find(self, needle: str, start: int = 0) -> tuple[int, int, int] | None:
        """`(original start, original end, flat end)` of the first match at or after flat offset `start`."""
        target = " ".join(needle.split())
        if not target:
            return None
        at = self.flat.find(target, start)
        if at < 0:
            return None
        end = at + len(target)
        return self.index[at], self.index[end - 1] + 1, end


def window_starts(n_tokens: int, width: int, overlap: int) -> list[int]:
    """Start offsets of windows of `width` tokens, `overlap` tokens shared by neighbours, covering `n_tokens`."""
    stride = max(1, width - overlap)
    starts = [0]
    while starts[-1] + width < n_tokens:
        starts.append(starts[-1] + stride)
    return starts


def owners(starts: Sequence[int], width: int, n_tokens: int) -> list[tuple[int, int, int]]:
    """`(window, from, to)`: the token range each window supplies, split at the middle of each overlap."""
    out: list[tuple[int, int, int]] = []
    lo = 0
    for k, s in enumerate(starts):
        end = min(s + width, n_tokens)
        hi = end if k + 1 == len(starts) else (starts[k + 1] + end) // 2
        if hi > lo:
            out.append((k, lo, hi))
        lo = hi
    return out


@dataclass
class _Doc:
    ids: list[int]
    starts: np.ndarray  # char offset where each token starts
    ends: np.ndarray
    windows: list[int]  # window start offsets (in tokens)


class SharedEncoder:
    """A builtin dense model run once per document; spaces pooled from token-state spans.

    Also a plain encoder (`embed`, `embed_query`): mean pooling over at most `max_length` tokens,
    the same vectors the separate mode makes, for queries and for spans not found in the text.
    """

    kind = "dense"

    def __init__(self, name: str, folder: Path, dim: int, max_length: int, settings: EncoderSettings) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = name
        self.dim = dim
        self._settings = settings
        self._max_length = max_length
        self._window = settings.shared_window
        self._overlap = min(settings.shared_overlap, self._window // 2)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if settings.threads is not None:
            so.intra_op_num_threads = settings.threads
            so.inter_op_num_threads = settings.threads
        self._session = ort.InferenceSession(str(folder / "model.onnx"), sess_options=so,
                                             providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._raw = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._raw.no_truncation()
        self._raw.no_padding()
        self._cls: int = self._special("[CLS]")
        self._sep: int = self._special("[SEP]")
        self._pad: int = self._raw.token_to_id("[PAD]") or 0

    def _special(self, token: str) -> int:
        found = self._raw.token_to_id(token)
        if found is None:
            raise EncoderFailed(f"model {self.name!r}: its tokenizer has no {token} token; shared mode needs one")
        return int(found)

    # -- the model -----------------------------------------------------------------------------

    def _run(self, seqs: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """Token states `(len, dim)` of each id sequence ([CLS]/[SEP] included), token-bounded batches."""
        out: list[np.ndarray | None] = [None] * len(seqs)
        for batch in token_batches([len(s) for s in seqs], budget=self._settings.batch_tokens,
                                   max_batch=self._settings.max_batch):
            width = max(len(seqs[i]) for i in batch)
            ids = np.full((len(batch), width), self._pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                ids[row, :len(seqs[i])] = seqs[i]
                mask[row, :len(seqs[i])] = 1
            feed: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            states = self._session.run(None, feed)[0]
            for row, i in enumerate(batch):
                out[i] = np.asarray(states[row, :len(seqs[i])], dtype=np.float32)
        return out  # type: ignore[return-value]

    def _ids(self, text: str) -> list[int]:
        return [self._cls, *self._raw.encode(text, add_special_tokens=False).ids[: self._max_length - 2], self._sep]

    def embed(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One unit vector per text: mean of its token states, truncated at `max_length` tokens."""
        if not texts:
            return []
        states = self._run([self._ids(t) for t in texts])
        return [_unit(s.mean(axis=0)) for s in states]

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    # -- one pass, several spaces ----------------------------------------------------------------

    def _group(self, docs: Sequence[PreparedDocument]) -> list[list[int]]:
        """Documents in groups of at most `shared_group_tokens` tokens: the token states of a group
        are held at once (tokens x dim floats), so this bounds memory whatever the batch."""
        groups: list[list[int]] = [[]]
        total = 0
        for i, d in enumerate(docs):
            n = len(d.doc.title) + len(d.doc.body)  # chars >= tokens; a cheap upper bound
            if groups[-1] and total + n > self._settings.shared_group_chars:
                groups.append([])
                total = 0
            groups[-1].append(i)
            total += n
        return groups

    def embed_documents(self, docs: Sequence[PreparedDocument], fields: set[str]) -> list[dict[str, Any]]:
        """`{field: vector}` for each document (`body` and `entities`: lists of vectors, the body
        already merged down to `max_chunks`), from one pass over each document's title + body."""
        out: list[dict[str, Any]] = []
        for group in self._group(docs):
            out.extend(self._embed_group([docs[i] for i in group], fields))
        return out

    def _embed_group(self, docs: Sequence[PreparedDocument], fields: set[str]) -> list[dict[str, Any]]:
        width = self._window - 2
        parsed: list[_Doc] = []
        seqs: list[list[int]] = []
        for d in docs:
            enc = self._raw.encode(f"{d.doc.title}\n{d.doc.body}", add_special_tokens=False)
            offsets = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
            p = _Doc(ids=list(enc.ids), starts=offsets[:, 0], ends=offsets[:, 1],
                     windows=window_starts(len(enc.ids), width, self._overlap))
            parsed.append(p)
            for s in p.windows:
                seqs.append([self._cls, *p.ids[s:s + width], self._sep])
        states = iter(self._run(seqs))
        fallback: dict[str, int] = {}  # texts encoded on their own, for spans not found
        plans: list[dict[str, Any]] = []
        for d, p in zip(docs, parsed, strict=True):
            wins = [next(states) for _ in p.windows]
            n = len(p.ids)
            tokens = np.empty((n, self.dim), dtype=np.float32)
            for k, lo, hi in owners(p.windows, width, n):
                s = p.windows[k]
                tokens[lo:hi] = wins[k][1 + lo - s:1 + hi - s]  # +1: past [CLS]
            plans.append(self._plan(d, p, tokens, wins[0], fields, fallback))
        alone = self.embed(list(fallback)) if fallback else []
        result: list[dict[str, Any]] = []
        for d, plan in zip(docs, plans, strict=True):
            row: dict[str, Any] = {}
            for f, value in plan.items():
                resolved = [alone[fallback[v]] if isinstance(v, str) else v for v in value] \
                    if isinstance(value, list) else (alone[fallback[value]] if isinstance(value, str) else value)
                if f == "body":
                    resolved = merge_similar_neighbours(list(resolved), d.max_body_vectors)
                row[f] = resolved
            result.append(row)
        return result

    def _plan(self, d: PreparedDocument, p: _Doc, tokens: np.ndarray, first: np.ndarray, fields: set[str],
              fallback: dict[str, int]) -> dict[str, Any]:
        """Each field's vector from its span, or the text itself (a str) when the span is not found."""
        text = f"{d.doc.title}\n{d.doc.body}"
        loc = _Locator(text)

        def span(lo: int, hi: int) -> np.ndarray | None:
            a = int(np.searchsorted(p.starts, lo, side="left"))
            b = int(np.searchsorted(p.starts, hi, side="left"))
            return _unit(tokens[a:b].mean(axis=0)) if b > a else None

        def found_or_text(t: str, start: int = 0) -> tuple[Any, int]:
            hit = loc.find(t, start)
            vec = span(hit[0], hit[1]) if hit else None
            if vec is None:
                fallback.setdefault(t, len(fallback))
                return t, start
            return vec, hit[2] if hit else start

        plan: dict[str, Any] = {}
        if "document" in fields:
            plan["document"] = _unit(first.mean(axis=0))
        if "title" in fields:
            vec = span(0, len(d.doc.title)) if d.doc.title.strip() else None
            if vec is None:
                fallback.setdefault(d.doc.title, len(fallback))
            plan["title"] = vec if vec is not None else d.doc.title
        if "body" in fields:
            cursor = len(" ".join(d.doc.title.split()))  # passages follow the title in order
            vecs: list[Any] = []
            for passage in d.passages:
                vec, cursor = found_or_text(passage, cursor)
                vecs.append(vec)
            plan["body"] = vecs
        if "summary" in fields:
            plan["summary"] = self._summary(d.summary, loc, tokens, p, fallback)
        if "entities" in fields:
            if self._settings.shared_entity_mentions:
                plan["entities"] = [found_or_text(e)[0] for e in d.entities]
            else:  # short phrases: cheap alone, and their mentions' states mean something else
                plan["entities"] = []
                for e in d.entities:
                    fallback.setdefault(e, len(fallback))
                    plan["entities"].append(e)
        return plan

    def _summary(self, summary: str, loc: _Locator, tokens: np.ndarray, p: _Doc,
                 fallback: dict[str, int]) -> Any:
        """The mean of the summary's sentences' tokens, when every sentence is found in the text."""
        picked: list[np.ndarray] = []
        for sent in sentences(summary) or [summary]:
            hit = loc.find(sent)
            if hit is None:
                picked = []
                break
            a = int(np.searchsorted(p.starts, hit[0], side="left"))
            b = int(np.searchsorted(p.starts, hit[1], side="left"))
            if b > a:
                picked.append(tokens[a:b])
        if not picked:
            fallback.setdefault(summary, len(fallback))
            return summary
        return _unit(np.concatenate(picked).mean(axis=0))
