"""Per-token self-information from a causal LM, for prompts of any length.

This is the measuring instrument every method shares; ``methods/`` decides what to drop from its numbers.

* ``tokenize`` splits text in the scorer's tokenizer and keeps each token's character span.
* ``score`` gives each token's negative log-likelihood (nats) given everything before it, optionally
  conditioned on a prefix (a question). Long inputs go through in windows with a KV cache; past the model's
  context window (or ``MAX_CACHE``) the cache slides, keeping its first ``SINK`` positions (the prompt's start).
* ``score_many`` scores many short texts independently, batched (the coarse, per-document stage);
  ``score_many_split`` leaves the LM head of a leading part of each to a ``DeferredNLL``, run only if asked.
* ``IncrementalScorer`` feeds text window by window and can forget tokens from its cache, so later windows
  are conditioned only on what was kept (LLMLingua's iterative compression).
* ``Cache`` is the one small LRU every reuse cache is made of (scoring passes, encoder reads); each registers
  itself, so ``clear_caches()`` forgets them all (benchmarks call it to time real work).
* ``unconditional`` is the plain pass over a whole text that the app's heatmap and the sweep both read.

A start-of-text token is fed first, so even the first token gets a score.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .loading import LoadedModel

WINDOW = 512       # tokens fed per forward call
SINK = 64          # first cached positions that sliding never drops
MAX_CACHE = 4096   # cached positions kept at most (attention cost grows with it); the model's window if smaller
LN2 = math.log(2.0)


class Cache:
    """A small thread-safe LRU of recent results; every one made is registered, so ``clear_caches`` empties all.

    >>> c = Cache(2)
    >>> c.put("a", 1); c.put("b", 2); c.get("a"); c.put("c", 3)      # "b" is now the least recent
    1
    >>> "b" in c, c.get_or_compute("b", lambda: 20), len(c), list(c)
    (False, 20, 2, ['c', 'b'])
    """

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        _CACHES.append(self)

    def get(self, key, default=None):
        """The value under ``key`` (now the most recent), or ``default``."""
        with self._lock:
            if key not in self._data:
                return default
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key, value) -> None:
        """Store ``value``, forgetting the least recent entries beyond ``maxsize``."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def get_or_compute(self, key, compute: Callable[[], Any]):
        """The cached value, or ``compute()`` stored (computed outside the lock: two threads may both compute)."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = compute()
        self.put(key, value)
        return value

    def pop(self, key, default=None):
        """Remove and return the value under ``key`` (``default`` if absent)."""
        with self._lock:
            return self._data.pop(key, default)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __iter__(self):
        """The keys, least recent first (a snapshot: the cache may change meanwhile)."""
        with self._lock:
            return iter(list(self._data))


_CACHES: list[Cache] = []


def clear_caches() -> None:
    """Empty every ``Cache`` (benchmarks call this, through ``methods.clear_caches``, to time real work)."""
    for cache in _CACHES:
        cache.clear()


@dataclass
class Tokens:
    """Text split by the scorer's tokenizer."""
    ids: list[int]                   # token ids
    spans: list[tuple[int, int]]     # character span of each token in the text


def tokenize(lm: LoadedModel, text: str) -> Tokens:
    """Split ``text`` into scorer tokens with their character spans (no special tokens added).

    Byte-level tokenizers can give a multi-byte character to two tokens with the same span; such tokens are
    later kept or dropped together (see ``prompt.units``).
    """
    if not text:
        return Tokens([], [])
    enc = lm.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return Tokens(list(enc["input_ids"]), [tuple(s) for s in enc["offset_mapping"]])


def start_id(lm: LoadedModel) -> int:
    """The id fed before any text: BOS, else EOS (GPT-2 style), else 0."""
    tok = lm.tokenizer
    for cand in (tok.bos_token_id, tok.eos_token_id):
        if cand is not None:
            return int(cand)
    return 0


def _cache_kwarg(lm: LoadedModel) -> str:
    """``cache`` in recent transformers 5 releases, ``past_key_values`` before (still accepted, deprecated)."""
    import inspect

    return "cache" if "cache" in inspect.signature(lm.model.forward).parameters else "past_key_values"


class IncrementalScorer:
    """Feed token ids window by window; each token's NLL is conditioned on the cache so far.

    >>> s = IncrementalScorer(lm)              # doctest: +SKIP
    >>> nll = s.feed(ids[:200])               # doctest: +SKIP
    >>> s.keep(nll > 2.0)                     # doctest: +SKIP
    """

    def __init__(self, lm: LoadedModel, prefix_ids: list[int] | None = None):
        from transformers import DynamicCache

        self.lm = lm
        self.cache = DynamicCache()
        self.cached = 0                        # positions in the cache
        self.limit = max(min(lm.max_context, MAX_CACHE) - WINDOW, 2 * SINK + WINDOW)
        self._last_logits = None               # prediction for the next token to be fed
        self.last_fed = 0                      # tokens fed by the latest ``feed`` call
        self.feed([start_id(lm)] + list(prefix_ids or []))

    def _forward(self, ids: list[int]):
        import torch

        self._slide(len(ids))
        x = torch.tensor([ids], device=self.lm.device)
        pos = torch.arange(self.cached, self.cached + len(ids), device=self.lm.device).unsqueeze(0)
        with torch.inference_mode():
            out = self.lm.model(input_ids=x, position_ids=pos, use_cache=True, **{_cache_kwarg(self.lm): self.cache})
        self.cached += len(ids)
        return out.logits[0].float()

    def feed(self, ids: list[int]) -> np.ndarray:
        """NLL (nats) of each of ``ids`` given the cache; the tokens are then cached."""
        import torch

        nll = []
        for i in range(0, len(ids), WINDOW):
            chunk = ids[i:i + WINDOW]
            logits = self._forward(chunk)
            preds = logits[:-1] if self._last_logits is None else torch.cat([self._last_logits[None], logits[:-1]])
            target = torch.tensor(chunk, device=logits.device)
            if self._last_logits is None:       # the very first token has no prediction
                preds, target = preds, target[1:]
                nll.append(torch.full((1,), float("nan")))
            nll.append(torch.nn.functional.cross_entropy(preds, target, reduction="none").cpu())
            self._last_logits = logits[-1]
        self.last_fed = len(ids)
        return torch.cat(nll).numpy().astype(np.float64) if nll else np.zeros(0)

    def keep(self, mask) -> None:
        """Forget the last-fed tokens where ``mask`` is False (their successors' scores used them already)."""
        import torch

        mask = np.asarray(mask, dtype=bool)
        if mask.all():
            return
        n = len(mask)
        idx = np.concatenate([np.arange(self.cached - n), self.cached - n + np.flatnonzero(mask)])
        self._select(torch.as_tensor(idx, device=self.lm.device))

    def _slide(self, incoming: int) -> None:
        """Drop the oldest positions after the first SINK when the cache would pass the model's window."""
        import torch

        if self.cached + incoming <= self.limit:
            return
        keep_recent = self.limit - SINK - incoming
        idx = torch.cat([torch.arange(SINK), torch.arange(self.cached - keep_recent, self.cached)])
        self._select(idx.to(self.lm.device))

    def _select(self, idx) -> None:
        for layer in self.cache.layers:
            layer.keys = layer.keys.index_select(-2, idx)
            layer.values = layer.values.index_select(-2, idx)
        self.cached = int(idx.numel())


def score(lm: LoadedModel, ids: list[int], prefix_ids: list[int] | None = None) -> np.ndarray:
    """NLL (nats) of every token of ``ids``, each given all before it (and the prefix), any length."""
    if not ids:
        return np.zeros(0)
    return IncrementalScorer(lm, prefix_ids).feed(ids)


def score_many(lm: LoadedModel, seqs: list[list[int]], prefix_ids: list[int] | None = None,
               row_tokens: int = 1024) -> list[np.ndarray]:
    """Score each sequence independently (same numbers as ``score`` on each).

    Short sequences are packed side by side into rows of about ``row_tokens`` with a block-diagonal causal
    mask, so there is no padding to pay for; long ones go through ``score`` with its windows. The LM head runs
    only where a sequence's token is predicted, not over the repeated prefix.
    """
    return [np.concatenate([lazy.values(), now]) for lazy, now in
            score_many_split(lm, seqs, [0] * len(seqs), prefix_ids, row_tokens)]


def score_many_split(lm: LoadedModel, seqs: list[list[int]], defer: list[int], prefix_ids: list[int] | None = None,
                     row_tokens: int = 1024) -> list[tuple["DeferredNLL", np.ndarray]]:
    """``score_many``, but the NLLs of the first ``defer[i]`` tokens of ``seqs[i]`` are left to a ``DeferredNLL``.

    The LM head (vocabulary x hidden) is about a fifth of a small scorer's pass. LongLLMLingua ranks each
    document by the NLL of the question after it: it needs the question's NLLs now, the document's own NLLs
    only for the documents it keeps. The pass keeps the final hidden states of the deferred tokens, and the LM
    head reads them only when ``values()`` is asked for. Returns (deferred part, NLLs of the rest) per sequence.
    """
    head = [start_id(lm)] + list(prefix_ids or [])
    out: list = [None] * len(seqs)
    row: list[int] = []
    for i in range(len(seqs)):
        width = len(head) + len(seqs[i])
        if width > WINDOW:
            nll = score(lm, seqs[i], prefix_ids)
            out[i] = (DeferredNLL.ready(nll[:defer[i]]), nll[defer[i]:])
            continue
        if row and sum(len(head) + len(seqs[j]) for j in row) + width > row_tokens:
            _score_packed(lm, head, seqs, row, defer, out)
            row = []
        row.append(i)
    if row:
        _score_packed(lm, head, seqs, row, defer, out)
    return out


def _score_packed(lm: LoadedModel, head: list[int], seqs, row: list[int], defer: list[int], out) -> None:
    import torch

    ids, pos, seg = [], [], []
    for j, i in enumerate(row):
        body = head + list(seqs[i])
        ids += body
        pos += range(len(body))
        seg += [j] * len(body)
    n = len(ids)
    seg_t = torch.tensor(seg)
    allowed = (seg_t[:, None] == seg_t[None, :]) & torch.ones(n, n, dtype=torch.bool).tril()
    x = torch.tensor([ids], device=lm.device)
    kw = dict(input_ids=x, position_ids=torch.tensor([pos], device=lm.device),
              attention_mask=allowed[None, None].to(lm.device))
    split = head_split(lm)
    with torch.inference_mode():
        hidden = (lm.model.base_model(**kw).last_hidden_state if split else lm.model(**kw).logits)[0]
    offset, h = 0, len(head)
    for i in row:
        k, s = len(seqs[i]), defer[i]
        pred = hidden[offset + h - 1:offset + h - 1 + k]       # row t predicts the sequence's token t
        target = x[0, offset + h:offset + h + k]
        if split and s:
            later = DeferredNLL(lm, pred[:s].clone(), target[:s], head[1:])
        else:                           # nothing deferred (plain ``score_many``) holds no hidden states
            later = DeferredNLL.ready(_nll(pred[:s], target[:s]) if s else np.zeros(0))
        out[i] = (later, _nll(lm_head(lm, pred[s:]) if split else pred[s:], target[s:]))
        offset += h + k


def _nll(logits, target) -> np.ndarray:
    import torch

    with torch.inference_mode():
        nll = torch.nn.functional.cross_entropy(logits.float(), target, reduction="none")
    return nll.cpu().numpy().astype(np.float64)


def lm_head(lm: LoadedModel, hidden):
    """Logits from final hidden states (the model's output embedding)."""
    import torch

    with torch.inference_mode():
        return lm.model.get_output_embeddings()(hidden)


_SPLIT_OK: dict = {}


def head_split(lm: LoadedModel) -> bool:
    """Does ``lm_head(base_model(x))`` give the model's own logits? Checked once per model on a few tokens.

    True for plain decoder LMs (Llama, GPT-2, ...); False where the model does more after its head (logit
    soft-capping, scaling) or has no separable head: those keep the full pass.
    """
    key = id(lm.model)
    if key not in _SPLIT_OK:
        import torch

        x = torch.tensor([[start_id(lm)] + tokenize(lm, "A short check.").ids], device=lm.device)
        try:
            with torch.inference_mode():
                full = lm.model(input_ids=x).logits[0].float()
                split = lm_head(lm, lm.model.base_model(input_ids=x).last_hidden_state[0]).float()
            _SPLIT_OK[key] = bool(full.shape == split.shape and torch.allclose(full, split, atol=1e-4, rtol=1e-4))
        except (AttributeError, TypeError, NotImplementedError):
            _SPLIT_OK[key] = False
    return _SPLIT_OK[key]


class DeferredNLL:
    """Token NLLs whose LM head has not run yet: the pass's final hidden states are held until ``values()``.

    Held states are bounded (``_HELD``, the most recent few hundred documents); one forgotten before it is
    asked for is scored again from its token ids by ``score`` (the same numbers, one more pass).

    >>> DeferredNLL.ready(np.array([1.5, 0.25])).values().tolist()
    [1.5, 0.25]
    """

    def __init__(self, lm: LoadedModel | None, hidden, target, prefix_ids: list[int] | None = None):
        self.lm, self.target, self.prefix_ids, self._nll = lm, target, prefix_ids, None
        if hidden is not None:
            _HELD.put(self, hidden)

    @classmethod
    def ready(cls, nll: np.ndarray) -> "DeferredNLL":
        lazy = cls(None, None, None)
        lazy._nll = np.asarray(nll, dtype=np.float64)
        return lazy

    def __len__(self) -> int:
        return len(self._nll) if self._nll is not None else int(self.target.numel())

    def values(self) -> np.ndarray:
        """The NLLs (nats), computed on the first call."""
        if self._nll is None:
            hidden = _HELD.pop(self)
            self._nll = (_nll(lm_head(self.lm, hidden), self.target) if hidden is not None
                         else score(self.lm, self.target.tolist(), self.prefix_ids))
            self.lm = self.target = self.prefix_ids = None
        return self._nll


_HELD = Cache(256)         # DeferredNLL -> its held hidden states (256 short documents: ~100 MB at most)
_UNCONDITIONAL = Cache(8)     # recent whole-text passes (one prompt re-compressed at other ratios or methods)


def unconditional(lm: LoadedModel, text: str) -> tuple[Tokens, np.ndarray]:
    """``text``'s scorer tokens and each one's NLL (nats) given all before it: one ``score`` pass, cached.

    The app's heatmap colours by it and the sweep measures how much of it a compression keeps, so both read
    the same numbers from one pass.
    """
    def compute() -> tuple[Tokens, np.ndarray]:
        toks = tokenize(lm, text)
        return toks, score(lm, toks.ids)
    return _UNCONDITIONAL.get_or_compute((lm.name, lm.device, id(lm.model), text), compute)
