"""The numbers behind the app's token heatmap: every scorer token of the original, where it sits when the
prompt is wrapped into lines, its self-information (bits), the method's own score, and whether it was kept.

Two colourings: the method's own score, which its compression already computed (so drawing it costs no
model pass), and the scorer's self-information, one ``scoring.unconditional`` pass over the whole original,
the same for every method so methods can be compared on one scale. ``build(..., self_info=False)`` leaves the
second out (NaN) until it is asked for; ``with_self_info`` fills it in. A method's own tokens (its tokenizer
may differ, as LLMLingua-2's does) are projected onto the scorer's tokens by character overlap.
``viz.py`` draws this; nothing here imports plotly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lingua_core import scoring
from lingua_core.loading import LoadedModel
from lingua_core.result import Result

WRAP = 100               # characters per heatmap line


@dataclass
class HeatmapData:
    text: list[str]              # each token's text in the original
    shown: list[str]             # as drawn: line breaks as "↵", tabs as "→", spaces as no-break spaces
    where: list[str]             # "instruction", "context 3", "question" or "separator"
    line: np.ndarray             # row of the wrapped layout (0 = top)
    col: np.ndarray              # first column
    width: np.ndarray            # columns taken (at least 1)
    self_info: np.ndarray        # scorer self-information in bits (nan where not scored)
    method_score: np.ndarray     # the method's own score, display units (nan where it gave none)
    kept: np.ndarray             # bool: the token (or part of it) is in the compressed prompt
    method: str                  # registry name of the method
    score_name: str              # what method_score measures
    columns: int = WRAP          # line width of the layout

    @property
    def lines(self) -> int:
        return int(self.line.max()) + 1 if len(self.line) else 0

    @property
    def has_self_info(self) -> bool:
        """Whether the self-information pass has run (an empty prompt has nothing to score)."""
        return not len(self.self_info) or bool(np.isfinite(self.self_info).any())


def has_method_scores(result: Result) -> bool:
    """Whether the method scored any token (the baselines do not): its colouring then needs no pass."""
    return any(not math.isnan(t.score) for t in result.tokens)


def self_information(lm: LoadedModel, text: str) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Character spans of ``text``'s scorer tokens and each token's self-information in bits (the cached
    ``scoring.unconditional`` pass the sweep reads too)."""
    toks, nll = scoring.unconditional(lm, text)
    return toks.spans, nll / scoring.LN2


def project(result: Result, spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """The method's kept flags and scores carried onto other tokens (``spans``) by character overlap.

    A token is kept when any of its characters is in a kept method token, or when none of its characters
    belongs to a method token (separators between pieces); its score is the highest overlapping one.
    """
    n = len(result.original)
    covered = np.zeros(n + 1, dtype=bool)
    kept_char = np.zeros(n + 1, dtype=bool)
    score_char = np.full(n + 1, np.nan)
    for t in result.tokens:
        covered[t.start:t.end] = True
        kept_char[t.start:t.end] |= t.kept
        if not math.isnan(t.score):
            score_char[t.start:t.end] = np.fmax(score_char[t.start:t.end], t.score)
    kept = np.zeros(len(spans), dtype=bool)
    score = np.full(len(spans), np.nan)
    for i, (s, e) in enumerate(spans):
        e = max(e, s + 1)
        kept[i] = kept_char[s:e].any() or not covered[s:e].any()
        part = score_char[s:e]
        if np.isfinite(part).any():
            score[i] = np.nanmax(part)
    return kept, score


def shown_text(text: str) -> str:
    """A token as drawn on one line.

    >>> shown_text(" the"), shown_text(".\\n\\n"), shown_text("\\tx")
    ('\\xa0the', '.↵↵', '→x')
    """
    return text.replace("\n", "↵").replace("\t", "→").replace(" ", "\u00a0")


def wrap(texts: list[str], columns: int = WRAP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(line, column, width) of each token when the text is laid out ``columns`` characters wide.

    A token that would cross the right edge starts the next line; a line break inside a token ends its line.

    >>> [a.tolist() for a in wrap(["Hello", " world", ".\\n", "Next", " line"], columns=10)]
    [[0, 1, 1, 2, 2], [0, 0, 6, 0, 4], [5, 6, 2, 4, 5]]
    """
    line, col = 0, 0
    out = np.zeros((3, len(texts)), dtype=np.int64)
    for i, text in enumerate(texts):
        width = max(len(shown_text(text)), 1)
        if col > 0 and col + width > columns:
            line, col = line + 1, 0
        out[:, i] = (line, col, width)
        col += width
        if "\n" in text:
            line, col = line + text.count("\n"), 0
    return out[0], out[1], out[2]


def where_labels(result: Result, spans: list[tuple[int, int]]) -> list[str]:
    """Which piece each span starts in: "instruction", "context 3" (1-based), "question" or "separator"."""
    starts = [p.start for p in result.pieces]
    labels = []
    for s, _ in spans:
        k = int(np.searchsorted(starts, s, side="right")) - 1
        p = result.pieces[k] if k >= 0 else None
        if p is None or s >= p.end:
            labels.append("separator")
        else:
            labels.append(f"context {p.index + 1}" if p.role == "context" else p.role)
    return labels


def build(result: Result, lm: LoadedModel, columns: int = WRAP, self_info: bool = True) -> HeatmapData:
    """Heatmap data for ``result``: the method's view projected on the scorer's tokens of its original, and
    with ``self_info`` one scorer pass over that original (without it: the tokenizer only, NaN bits)."""
    if self_info:
        spans, bits = self_information(lm, result.original)
    else:
        spans = scoring.tokenize(lm, result.original).spans
        bits = np.full(len(spans), np.nan)
    texts = [result.original[s:e] for s, e in spans]
    kept, method_score = project(result, spans)
    line, col, width = wrap(texts, columns)
    return HeatmapData(texts, [shown_text(t) for t in texts], where_labels(result, spans), line, col, width,
                       np.asarray(bits, dtype=np.float64), method_score, kept, result.method, result.score_name,
                       columns)


def with_self_info(data: HeatmapData, lm: LoadedModel, original: str) -> HeatmapData:
    """``data`` with its self-information filled in by the (cached) whole-prompt pass; the same tokens."""
    spans, bits = self_information(lm, original)
    assert len(spans) == len(data.text), "the heatmap's tokens come from the same tokenizer"
    data.self_info = np.asarray(bits, dtype=np.float64)
    return data
