"""Lay character-span units (words, phrases, sentences, forced strings) over a ``Work``'s scorer tokens.

Methods whose units are not the scorer's tokens -- LLMLingua-2 scores an encoder's *words*, Selective Context
keeps or drops *phrases* or *sentences* -- describe their units as character spans of the original prompt.
``group_tokens`` turns those spans into groups of scorer tokens; a method then sets ``work.unit_of`` to the
groups, so ``Work.fit`` keeps or drops each unit whole and still counts the budget in target-LLM tokens, and
the compressed prompt stays an in-order subsequence of the original. ``selection.py`` owns the tokens; this
module only says which of them belong together.
"""

from __future__ import annotations

import bisect
import re

import numpy as np


def overlaps(starts: np.ndarray, ends: np.ndarray, units: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """For each token span, the first and last index of the sorted, non-overlapping ``units`` it overlaps
    (first > last when it overlaps none).

    >>> a, b = overlaps(np.array([0, 3, 5]), np.array([3, 5, 9]), [(0, 2), (6, 7), (7, 9)])
    >>> a.tolist(), b.tolist()
    ([0, 1, 1], [0, 0, 2])
    """
    if not units:
        return np.ones(len(starts), dtype=np.int64), np.zeros(len(starts), dtype=np.int64)
    us = np.asarray([s for s, _ in units], dtype=np.int64)
    ue = np.asarray([e for _, e in units], dtype=np.int64)
    first = np.searchsorted(ue, starts, side="right")       # first unit ending after the token starts
    last = np.searchsorted(us, ends, side="left") - 1       # last unit starting before the token ends
    return first, last


def merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort spans and merge overlapping ones (empty spans are dropped).

    >>> merge_spans([(5, 7), (0, 2), (1, 3), (4, 4)])
    [(0, 3), (5, 7)]
    """
    out: list[list[int]] = []
    for s, e in sorted(sp for sp in spans if sp[1] > sp[0]):
        if out and s < out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def carve(units: list[tuple[int, int]], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Cut ``holes`` out of ``units`` (so a forced "." becomes its own unit instead of forcing its sentence).

    >>> carve([(0, 10), (12, 15)], [(4, 5), (12, 13)])
    [(0, 4), (5, 10), (13, 15)]
    """
    holes = merge_spans(holes)
    hole_ends = [he for _, he in holes]
    out = []
    for s, e in units:
        j = bisect.bisect_right(hole_ends, s)
        while j < len(holes) and holes[j][0] < e:
            hs, he = holes[j]
            j += 1
            if he > s:
                if hs > s:
                    out.append((s, hs))
                s = max(s, he)
        if e > s:
            out.append((s, e))
    return out


def group_tokens(work, units: list[tuple[int, int]]) -> np.ndarray:
    """Group id (0, 1, 2, ... in token order) for every scorer token of ``work``.

    Tokens overlapping the same unit share a group, as do tokens the Work already keeps together
    (``work.unit_of``). A token overlapping no unit (whitespace) joins the group of the token after it, so a
    separator is kept with the unit it introduces; groups never cross pieces. ``units`` are merged first.
    Worked example: text "A B\\nC", tokens "A", " B", "\\n", "C", words A, B, C -> groups [0, 1, 2, 2].
    """
    units = merge_spans(units)
    first, last = overlaps(work.starts, work.ends, units)
    has = first <= last
    out = np.zeros(len(work.ids), dtype=np.int64)
    group, reach, pending = -1, -1, False
    for i in range(len(work.ids)):
        if i == 0 or work.piece_of[i] != work.piece_of[i - 1]:
            new = True
        elif work.unit_of[i] == work.unit_of[i - 1]:
            new = False
        elif not has[i]:
            new = not pending                      # a run of bare tokens is one group...
        elif pending:
            new = False                            # ...joined by the token that follows it
        else:
            new = first[i] > reach
        if new:
            group, reach = group + 1, -1
        if has[i]:
            reach, pending = max(reach, int(last[i])), False
        else:
            pending = True
        out[i] = group
    return out


def group_values(groups: np.ndarray, token_values: np.ndarray, how: str = "max") -> np.ndarray:
    """Reduce per-token values to one per group ("max", "sum" or "mean"; NaNs ignored, all-NaN gives NaN).

    >>> group_values(np.array([0, 0, 1]), np.array([1.0, 3.0, np.nan]), "sum").tolist()
    [4.0, nan]
    """
    n = int(groups[-1]) + 1 if len(groups) else 0
    seen = np.zeros(n, dtype=bool)
    np.logical_or.at(seen, groups, ~np.isnan(token_values))
    vals = np.nan_to_num(token_values, nan=0.0)
    if how == "max":
        out = np.full(n, -np.inf)
        np.maximum.at(out, groups, np.where(np.isnan(token_values), -np.inf, token_values))
    else:
        out = np.zeros(n)
        np.add.at(out, groups, vals)
        if how == "mean":
            counts = np.zeros(n)
            np.add.at(counts, groups, ~np.isnan(token_values))
            out = out / np.maximum(counts, 1)
    return np.where(seen, out, np.nan)


def span_values(work, units: list[tuple[int, int]], values: np.ndarray) -> np.ndarray:
    """Per scorer token, the largest value of the units it overlaps (NaN when it overlaps none).

    ``units`` must be sorted and non-overlapping (an encoder's words are).
    """
    first, last = overlaps(work.starts, work.ends, units)
    out = np.full(len(work.ids), np.nan)
    for i in np.flatnonzero(first <= last):
        out[i] = float(np.max(values[first[i]:last[i] + 1]))
    return out


def find_forced(text: str, force_tokens, start: int = 0, end: int | None = None) -> list[tuple[int, int, str]]:
    """Occurrences (start, end, token) of ``force_tokens`` in ``text[start:end]``, in order.

    A token made of word characters matches whole words only; any other token (punctuation, "\\n") matches
    wherever it appears.

    >>> find_forced("the theme\\n is the end.", ["the", "\\n", "."])
    [(0, 3, 'the'), (9, 10, '\\n'), (14, 17, 'the'), (21, 22, '.')]
    """
    end = len(text) if end is None else end
    hits = []
    for tok in dict.fromkeys(t for t in force_tokens if t):
        pattern = rf"(?<!\w){re.escape(tok)}(?!\w)" if re.fullmatch(r"\w+", tok) else re.escape(tok)
        hits += [(m.start(), m.end(), tok) for m in re.compile(pattern).finditer(text, start, end)]
    return sorted(hits)
