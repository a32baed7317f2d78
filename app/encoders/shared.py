"""Shared backbone: one model pass over title + body feeds the title, document, passage, summary and entity spaces.

fastembed mean-pools the token states inside the model call, so the states are out of reach; here
onnxruntime runs the same ONNX file (its first output is the token states) and `tokenizers` gives the
character offset of every token. A document's text (`title\\nbody`, NFC, the `document` field's text)
is tokenised once, cut into model windows (`app.encoders.windows`: fixed and overlapping, or aligned
to passage boundaries), each window is run through the model once, and every span is mean-pooled
from the token states:

- `document`: with fixed windows as wide as the model's own truncation (256), the first window,
  [CLS] and [SEP] included: exactly what the separate pass computes; otherwise the mean of every
  token's state (the whole document, read in windows);
- `title`: the title's tokens; `body`: each passage's tokens (then merged into at most `max_chunks`
  as in the separate mode); `summary`: the tokens of its sentences, when they are found in the body;
  `entities`: each entity's first mention when `entity_mentions` is set, else each entity alone
  (a few short phrases, batched across the documents).

Aliases of the same model read the same way (`pass_key`: the ONNX file and the windows) share one
pass: `app.services.encoding` asks the first for every field the others need, each field named by
`field_key` (`entities:mentions` or `entities:alone`, after each alias's own `entity_mentions`), so
a store that writes the entities both ways during a migration still runs the model once per window.

Only the windows that hold a requested span are run: a backfill of `document` or `title` alone reads
the first window, one of `entities` (encoded alone) none. A span that cannot be found in the text (a
summary or entities the client wrote, a passage the text helpers rewrote) is encoded on its own, as
the separate mode does: never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.domain.coverage import merge_similar_neighbours
from app.domain.documents import PreparedDocument
from app.domain.text import sentences
from app.encoders.batching import token_batches
from app.encoders.windows import aligned_windows, fixed_windows
from app.errors import EncoderFailed
from app.settings import EncoderSettings, SharedPassSettings

_SPACE = re.compile(r"\s+")
Span = tuple[int, int]  # token range [from, to)
MENTIONS, ALONE = "entities:mentions", "entities:alone"  # the two ways to pool `entities` (field_key)


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return (v / norm if norm > 0 else v).astype(np.float32)


def _fold(text: str) -> str:
    """Lower case, character by character where that keeps the length (the model is uncased; offsets stay)."""
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in text)


class _Locator:
    """Finds a text in a document modulo runs of whitespace (the text helpers collapse them) and case
    (an entity a client wrote "Pâté Lorrain" is found where the text says "pâté lorrain")."""

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
        self.flat = _fold("".join(parts))
        self.index = index

    def find(self, needle: str, start: int = 0) -> tuple[int, int, int] | None:
        """`(original start, original end, flat end)` of the first match at or after flat offset `start`."""
        target = _fold(" ".join(needle.split()))
        if not target:
            return None
        at = self.flat.find(target, start)
        if at < 0:
            return None
        end = at + len(target)
        return self.index[at], self.index[end - 1] + 1, end


@dataclass
class _Doc:
    """One document's tokens, the token span of each requested field, and its windows."""

    ids: list[int]
    starts: np.ndarray  # char offset where each token starts
    title: Span | None = None
    passages: list[Span | None] = field(default_factory=list)
    summary: list[Span] | None = None  # None: some sentence is not in the text
    mentions: list[Span | None] = field(default_factory=list)
    windows: list[tuple[int, int, int, int]] = field(default_factory=list)  # (start, end, own_from, own_to)
    run: list[int] = field(default_factory=list)  # the windows run through the model

    def tokens(self, lo: int, hi: int) -> Span | None:
        """The token range of the characters [lo, hi), None when empty."""
        a = int(np.searchsorted(self.starts, lo, side="left"))
        b = int(np.searchsorted(self.starts, hi, side="left"))
        return (a, b) if b > a else None


class SharedEncoder:
    """A builtin dense model run once per document; spaces pooled from token-state spans.

    Also a plain encoder (`embed`, `embed_query`): mean pooling over at most `max_length` tokens,
    the same vectors the separate mode makes, for queries and for spans not found in the text.
    """

    kind = "dense"

    def __init__(self, name: str, folder: Path, dim: int, max_length: int, settings: EncoderSettings,
                 shared: SharedPassSettings | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = name
        self.dim = dim
        self._settings = settings
        self._pass = shared or SharedPassSettings()
        self._max_length = max_length
        # the separate pass's document vector is its first (truncated) window: the same here when the
        # windows are fixed and as wide, so that `document` stays bit-for-bit comparable
        self._first_window_document = self._pass.windows == "fixed" and self._pass.window == max_length
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
        self.pass_key: tuple[Any, ...] = (str((folder / "model.onnx").resolve()), max_length, self._pass.window,
                                          self._pass.windows, self._pass.overlap)

    def field_key(self, field: str) -> str:
        """The name `embed_documents` gives `field` as this alias pools it: `entities:mentions` or
        `entities:alone` for `entities` (after `entity_mentions`), the field itself otherwise."""
        if field != "entities":
            return field
        return MENTIONS if self._pass.entity_mentions else ALONE

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
        """The query's (dim,) float32 unit vector, pooled as `embed` pools a text (no prefix)."""
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
        already merged down to `max_chunks`), from one pass over each document's title + body.

        Args:
            fields: document fields (`entities` pooled after this alias's `entity_mentions`) or
                `field_key` names (`entities:mentions`, `entities:alone`: both may be asked at once);
                each row has the names as asked.
        """
        keys = {f: self.field_key(f) for f in fields}
        out: list[dict[str, Any]] = []
        for group in self._group(docs):
            rows = self._embed_group([docs[i] for i in group], set(keys.values()))
            out.extend({f: row[k] for f, k in keys.items()} for row in rows)
        return out

    def model_tokens(self, docs: Sequence[PreparedDocument], fields: set[str]) -> dict[str, int]:
        """Tokens the model reads, [CLS] and [SEP] included (tokenisation only, nothing is run).

        Returns:
            `windows`: the shared pass's windows for `fields`; `alone`: texts encoded on their own
            (entities unless pooled from mentions, spans not found in the text); `bare`: `embed` of
            each document's text (title + body, cut at `max_length`), one vector per document.
        """
        out = {"bare": 0, "windows": 0, "alone": 0}
        fields = {self.field_key(f) for f in fields}
        for d in docs:
            p = self._locate(d, fields)
            fallback: dict[str, int] = {}
            self._plan(d, p, np.zeros((len(p.ids), self.dim), dtype=np.float32), None, fields, fallback)
            out["bare"] += len(self._ids(d.texts("document")[0]))
            out["windows"] += sum(p.windows[k][1] - p.windows[k][0] + 2 for k in p.run)
            out["alone"] += sum(len(self._ids(t)) for t in fallback)
        return out

    def _locate(self, d: PreparedDocument, fields: set[str]) -> _Doc:
        """Tokenise the document once; find each requested span; cut the windows; pick those to run."""
        title = d.texts("title")[0]
        text = d.texts("document")[0]
        enc = self._raw.encode(text, add_special_tokens=False)
        offsets = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
        p = _Doc(ids=list(enc.ids), starts=offsets[:, 0])
        loc = _Locator(text)
        if title.strip():
            p.title = p.tokens(0, len(title))
        cursor = len(" ".join(title.split()))  # passages follow the title in order
        for passage in d.texts("body"):
            hit = loc.find(passage, cursor)
            p.passages.append(p.tokens(hit[0], hit[1]) if hit else None)
            cursor = hit[2] if hit else cursor
        if "summary" in fields:
            found = [loc.find(sent) for sent in sentences(d.texts("summary")[0]) or [d.texts("summary")[0]]]
            spans = [p.tokens(h[0], h[1]) for h in found if h is not None]
            p.summary = [sp for sp in spans if sp] if len(spans) == len(found) and any(spans) else None
        if MENTIONS in fields:
            hits = [loc.find(e) for e in d.texts("entities")]
            p.mentions = [p.tokens(h[0], h[1]) if h else None for h in hits]
        n, width = len(p.ids), self._pass.window - 2
        p.windows = (fixed_windows(n, width, self._pass.overlap) if self._pass.windows == "fixed" else
                     aligned_windows(n, width, [sp[0] for sp in p.passages if sp]))
        wanted: list[Span] = []
        if "document" in fields:
            wanted.append((0, 1) if self._first_window_document else (0, n))
        if "title" in fields and p.title:
            wanted.append(p.title)
        if "body" in fields:
            wanted += [sp for sp in p.passages if sp]
        wanted += (p.summary or []) if "summary" in fields else []
        wanted += [sp for sp in p.mentions if sp]
        p.run = [k for k, (_, _, lo, hi) in enumerate(p.windows)
                 if any(a < hi and lo < b for a, b in wanted) or (k == 0 and (0, 1) in wanted)]
        return p

    def _embed_group(self, docs: Sequence[PreparedDocument], fields: set[str]) -> list[dict[str, Any]]:
        parsed = [self._locate(d, fields) for d in docs]
        seqs = [[self._cls, *p.ids[p.windows[k][0]:p.windows[k][1]], self._sep] for p in parsed for k in p.run]
        states = iter(self._run(seqs))
        fallback: dict[str, int] = {}  # texts encoded on their own, for spans not found
        plans: list[dict[str, Any]] = []
        for d, p in zip(docs, parsed, strict=True):
            tokens = np.zeros((len(p.ids), self.dim), dtype=np.float32)
            first: np.ndarray | None = None
            for k in p.run:
                state = next(states)
                start, _, lo, hi = p.windows[k]
                tokens[lo:hi] = state[1 + lo - start:1 + hi - start]  # +1: past [CLS]
                first = state if k == 0 else first
            plans.append(self._plan(d, p, tokens, first, fields, fallback))
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

    @staticmethod
    def _pool(tokens: np.ndarray, spans: Sequence[Span]) -> np.ndarray:
        return _unit(np.concatenate([tokens[a:b] for a, b in spans]).mean(axis=0))

    def _plan(self, d: PreparedDocument, p: _Doc, tokens: np.ndarray, first: np.ndarray | None, fields: set[str],
              fallback: dict[str, int]) -> dict[str, Any]:
        """Each field's vector from its span, or the text itself (a str) when the span is not found."""
        def alone(text: str) -> str:
            fallback.setdefault(text, len(fallback))
            return text

        plan: dict[str, Any] = {}
        if "document" in fields:
            if self._first_window_document and first is not None:
                plan["document"] = _unit(first.mean(axis=0))
            else:
                plan["document"] = self._pool(tokens, [(0, len(p.ids))]) if p.ids else alone(d.texts("document")[0])
        if "title" in fields:
            plan["title"] = self._pool(tokens, [p.title]) if p.title else alone(d.texts("title")[0])
        if "body" in fields:
            plan["body"] = [self._pool(tokens, [sp]) if sp else alone(t)
                            for sp, t in zip(p.passages, d.texts("body"), strict=True)]
        if "summary" in fields:
            plan["summary"] = self._pool(tokens, p.summary) if p.summary else alone(d.texts("summary")[0])
        texts = d.texts("entities")
        if MENTIONS in fields:  # each from its first mention, read in context (not found: encoded alone)
            plan[MENTIONS] = [self._pool(tokens, [sp]) if sp else alone(t)
                              for sp, t in zip(p.mentions, texts, strict=True)]
        if ALONE in fields:  # short phrases, batched across the documents
            plan[ALONE] = [alone(t) for t in texts]
        return plan
