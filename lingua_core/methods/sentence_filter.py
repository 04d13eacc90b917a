"""The sentence-level filter (llmlingua's ``use_sentence_level_filter``), shared by LLMLingua, LongLLMLingua and
Structured: one stage between the coarse stage (whole contexts) and the fine stage (tokens).

The kept contexts are cut into sentences (``phrases.py``: spaCy when installed, else its rules). The method
gives every sentence one score, higher = keep (LLMLingua: its tokens' mean surprise; LongLLMLingua: how well
it predicts the question, or a retriever's relevance). Priority sentences get ``high_priority_bonus`` added:
the first ``keep_first_sentence`` and last ``keep_last_sentence`` of each context and its
``keep_sentence_number`` best-scored ones. Sentences are then kept best first until ``token_budget_ratio`` x
the contexts' budget (target-LLM tokens) is used, the sentence that crosses the limit included (as llmlingua
does). A sentence holding a token that must stay (a verbatim structured segment, a forced string) is kept
whatever its rank. The fine stage then chooses only among the kept sentences' tokens; this module never
touches the keep mask itself.

The options are fields of each method's ``Options`` (same names as llmlingua, ``use_sentence_level`` for
``use_sentence_level_filter``, declared with the same help and ranges); ``filter_sentences`` reads them by name.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import phrases
from ..selection import Decision, Work

# The Options fields every method with this stage declares (their defaults are llmlingua's).
FIELDS = ("use_sentence_level", "keep_first_sentence", "keep_last_sentence", "keep_sentence_number",
          "high_priority_bonus", "token_budget_ratio")


def sentences(work: Work, pieces: list[int]) -> tuple[list[tuple[int, int]], list[int]]:
    """Sentence spans (in the original prompt) of the given context pieces, and the piece of each; the pieces
    must be in prompt order (``token_sentence`` searches the spans)."""
    chunker = phrases.get_chunker("auto")
    spans, owner = [], []
    for k in pieces:
        p = work.pieces[k]
        found = chunker.sentences(work.original[p.start:p.end]) or [(0, p.end - p.start)]
        spans += [(p.start + s, p.start + e) for s, e in found]
        owner += [k] * len(found)
    return spans, owner


def token_sentence(work: Work, spans: list[tuple[int, int]], owner: list[int]) -> np.ndarray:
    """For every token, the sentence it belongs to (-1 outside the given pieces). A token between two
    sentences (white space) belongs to the next one of its piece, trailing white space to the last one.

    Worked example: sentences "A b." and "C." of "A b. C.", tokens "A", " b", ".", " C", "." -> [0, 0, 0, 1, 1].
    """
    out = np.full(len(work.ids), -1, dtype=np.int64)
    ends = np.asarray([e for _, e in spans], dtype=np.int64)
    for k in dict.fromkeys(owner):
        idx = work.token_range(k)
        lo = owner.index(k)
        hi = lo + owner.count(k) - 1
        out[idx] = np.clip(np.searchsorted(ends, work.starts[idx], side="right"), lo, hi)
    return out


def bonus(scores: np.ndarray, owner: list[int], opt) -> np.ndarray:
    """``scores`` with ``high_priority_bonus`` added to each context's priority sentences.

    >>> class O: keep_first_sentence, keep_last_sentence, keep_sentence_number, high_priority_bonus = 1, 0, 1, 100
    >>> bonus(np.array([1.0, 5.0, 2.0, 3.0]), [7, 7, 7, 8], O()).tolist()
    [101.0, 105.0, 2.0, 103.0]
    """
    out = np.asarray(scores, dtype=float).copy()
    owner_arr = np.asarray(owner)
    for k in dict.fromkeys(owner):
        mine = np.flatnonzero(owner_arr == k)
        chosen = set(mine[:opt.keep_first_sentence]) | set(mine[len(mine) - opt.keep_last_sentence:]
                                                            if opt.keep_last_sentence else [])
        best = mine[np.argsort(-out[mine], kind="stable")][:opt.keep_sentence_number]
        for i in chosen | set(best):
            out[i] += opt.high_priority_bonus
    return out


def filter_sentences(work: Work, d: Decision, opt, pieces: list[int], room: int,
                     score: Callable[[list[tuple[int, int]], np.ndarray], np.ndarray], note: str,
                     must_keep: np.ndarray | None = None) -> np.ndarray | None:
    """Run the stage over ``pieces`` when ``opt.use_sentence_level`` is on; returns the mask of tokens in kept
    sentences (None when the stage is off); the stage is noted in ``d``. ``score(spans, token_sentence)`` gives each sentence's score,
    ``room`` is the contexts' budget in target tokens, ``note`` says how sentences were ranked."""
    if not opt.use_sentence_level or not pieces:
        return None
    spans, owner = sentences(work, sorted(pieces))      # in prompt order, whatever order the method renders
    of = token_sentence(work, spans, owner)
    limit = opt.token_budget_ratio * room
    kept = np.zeros(len(spans), dtype=bool)
    if len(spans) == 1:
        kept[:] = True
        why = "one sentence only: kept"
    else:
        ranked = np.argsort(-bonus(score(spans, of), owner, opt), kind="stable")
        used = 0
        for i in ranked:
            kept[i] = True
            used += work.count(work.original[spans[i][0]:spans[i][1]])
            if used > limit:
                break
        why = f"ranked {note}; kept the best within {limit:.0f} tokens ({opt.token_budget_ratio:g}x the budget)"
    hold = (must_keep if must_keep is not None else np.zeros(len(work.ids), bool)) | work.forced
    kept[np.unique(of[hold & (of >= 0)])] = True
    d.note("sentences", "sentences", len(spans), int(kept.sum()), why)
    return (of >= 0) & kept[np.maximum(of, 0)]


def mean_per_sentence(values: np.ndarray, of: np.ndarray, n: int) -> np.ndarray:
    """Mean of token ``values`` per sentence (NaNs skipped; a sentence with none gets -inf).

    >>> mean_per_sentence(np.array([1.0, 3.0, np.nan, 4.0]), np.array([0, 0, 1, 1]), 2).tolist()
    [2.0, 4.0]
    """
    sums, counts = np.zeros(n), np.zeros(n)
    ok = (of >= 0) & ~np.isnan(values)
    np.add.at(sums, of[ok], values[ok])
    np.add.at(counts, of[ok], 1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), -np.inf)
