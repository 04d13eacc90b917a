"""The shared state of one compression: the original laid out in pieces and scorer tokens, and a keep mask.

Methods differ in how they *score* and which pieces they drop first; all of them then call ``Work.fit``,
which keeps the best-scored tokens until the compressed prompt reaches the budget in the target LLM's
tokenizer (a binary search over how many to keep), and ``Work.result`` to build the ``Result``.

The original prompt is ``"\\n\\n".join([instruction, context_sep.join(contexts), question])`` without the
empty parts, as ``llmlingua`` builds it. Every kept token is a span of it, so the compressed prompt is an
in-order subsequence of the original plus separators -- unless a method moves whole contexts (``set_order``,
LongLLMLingua's reordering), when each context's tokens still keep their order. With
``Request.concate_question=False`` the question is laid out (methods read it) but not rendered.
"""

from __future__ import annotations

import math

import numpy as np

from . import budget, scoring, spans
from .loading import LoadedModel
from .result import Piece, Request, Result, Stage, Token
from .tokens import count_tokens

PART_SEP = "\n\n"


def layout(request: Request) -> tuple[str, list[Piece]]:
    """The original prompt and where each piece lies in it.

    >>> text, pieces = layout(Request(context=["A b.", "C d."], question="Q?"))
    >>> text, [(p.role, p.index, text[p.start:p.end]) for p in pieces]
    ('A b.\\n\\nC d.\\n\\nQ?', [('context', 0, 'A b.'), ('context', 1, 'C d.'), ('question', 0, 'Q?')])
    """
    parts: list[tuple[str, int, str]] = []
    if request.instruction:
        parts.append(("instruction", 0, request.instruction))
    parts += [("context", i, c) for i, c in enumerate(request.context)]
    if request.question:
        parts.append(("question", 0, request.question))
    text, pieces, prev = "", [], None
    for role, index, body in parts:
        if prev is not None:
            text += request.context_sep if (prev == "context" and role == "context") else PART_SEP
        pieces.append(Piece(role, index, len(text), len(text) + len(body)))
        text += body
        prev = role
    return text, pieces


def units_of(spans: list[tuple[int, int]]) -> np.ndarray:
    """Group tokens whose character spans overlap (a multi-byte character split by a byte-level BPE).

    >>> units_of([(0, 2), (2, 3), (2, 3), (3, 5), (5, 5)]).tolist()
    [0, 1, 1, 2, 2]
    """
    unit = np.zeros(len(spans), dtype=np.int64)
    reach, u = -1, -1
    for i, (s, e) in enumerate(spans):
        if i == 0 or (s >= reach and e > s):
            u += 1
        unit[i] = u
        reach = max(reach, e)
    return unit


def rank_fractions(values: np.ndarray) -> np.ndarray:
    """Each value's place in a descending ranking as a fraction in (0, 1): best smallest, ties by index.

    >>> rank_fractions(np.array([0.1, 3.0, 2.0, 0.5])).tolist()
    [0.875, 0.125, 0.375, 0.625]
    """
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")
    frac = np.empty(len(values))
    frac[order] = (np.arange(len(values)) + 0.5) / max(len(values), 1)
    return frac


def rate_priority(score: np.ndarray, rate: float) -> np.ndarray:
    """Selection scores for one group of tokens (a document, a segment) meant to keep ``rate`` of them.

    A token's rank fraction inside its group divided by the group's rate, negated: when ``fit`` keeps the
    best of several groups' priorities, it keeps about the same multiple of every group's rate, and the
    budget sets the multiple. Inside a group the order of ``score`` is kept.

    >>> rate_priority(np.array([0.1, 3.0, 2.0, 0.5]), 0.5).tolist()
    [-1.75, -0.25, -0.75, -1.25]
    """
    return -rank_fractions(score) / max(rate, 1e-6)


def render_sequence(pieces: list[Piece], order: list[int]) -> list[int]:
    """Piece indices in render order: the contexts' slots filled from ``order``, other pieces in place.

    >>> render_sequence(layout(Request(context=["a", "b", "c"], question="q"))[1], [2, 0, 1])
    [2, 0, 1, 3]
    """
    ctx = iter(order)
    return [next(ctx) if p.role == "context" else k for k, p in enumerate(pieces)]


class Work:
    """One compression in progress. Methods read ``ids``/``spans``, set ``score`` and ``keep``."""

    def __init__(self, request: Request, lm: LoadedModel):
        self.request, self.lm = request, lm
        self.original, self.pieces = layout(request)
        ids, spans, piece_of = [], [], []
        for k, p in enumerate(self.pieces):
            toks = scoring.tokenize(lm, self.original[p.start:p.end])
            ids += toks.ids
            spans += [(p.start + s, p.start + e) for s, e in toks.spans]
            piece_of += [k] * len(toks.ids)
        self.ids, self.spans = ids, spans
        self.starts = np.asarray([s for s, _ in spans], dtype=np.int64)
        self.ends = np.asarray([e for _, e in spans], dtype=np.int64)
        self.piece_of = np.asarray(piece_of, dtype=np.int64)
        self._ranges = [np.flatnonzero(self.piece_of == k) for k in range(len(self.pieces))]
        self.unit_of = units_of(spans)
        self.score = np.full(len(ids), math.nan)
        roles = np.asarray([p.role for p in self.pieces] or ["context"])
        self.fixed = roles[self.piece_of] != "context" if len(ids) else np.zeros(0, bool)
        self.keep = self.fixed.copy()
        self.forced = self._forced_mask(request.force_strings)   # always kept by ``fit`` (when their context is)
        self.order: list[int] = self.context_pieces()   # contexts in render order (see ``set_order``)
        self.stages: list[Stage] = []
        self.origin_tokens = count_tokens(self.original, request.target_model)
        self.target = budget.requested_tokens(request.rate, request.target_token, self.origin_tokens)

    # -- queries ------------------------------------------------------------------------------------------
    def context_pieces(self) -> list[int]:
        return [k for k, p in enumerate(self.pieces) if p.role == "context"]

    def token_range(self, piece: int) -> np.ndarray:
        return self._ranges[piece]

    def piece_ids(self, piece: int) -> list[int]:
        return [self.ids[i] for i in self.token_range(piece)]

    def count(self, text: str) -> int:
        return count_tokens(text, self.request.target_model)

    def fixed_tokens(self) -> int:
        """Target tokens of what stays verbatim (instruction, question, their separators)."""
        return self.count(self.render(self.fixed))

    def _forced_mask(self, strings) -> np.ndarray:
        """Context tokens overlapping an occurrence of one of ``strings`` (``Request.force_strings``)."""
        mask = np.zeros(len(self.ids), dtype=bool)
        for k in self.context_pieces() if strings else ():
            p = self.pieces[k]
            for s, e, _ in spans.find_forced(self.original, strings, p.start, p.end):
                mask |= (self.starts < e) & (self.ends > s)
        return mask

    # -- rendering ----------------------------------------------------------------------------------------
    def set_order(self, order: list[int]) -> None:
        """Render the contexts in ``order`` (piece indices, a permutation of ``context_pieces()``).

        Tokens inside each context stay in their original order; only whole contexts move (LongLLMLingua's
        reordering). The default is the original order.
        """
        if sorted(order) != self.context_pieces():
            raise ValueError(f"order {order} is not a permutation of the context pieces {self.context_pieces()}")
        self.order = list(order)

    def render(self, keep: np.ndarray) -> str:
        """The compressed prompt for a keep mask (units kept whole, empty contexts left out)."""
        keep = self._whole_units(keep)
        parts: list[tuple[str, str]] = []
        for k in render_sequence(self.pieces, self.order):
            p = self.pieces[k]
            if p.role != "context":
                if p.role != "question" or self.request.concate_question:
                    parts.append((p.role, self.original[p.start:p.end]))
                continue
            if not p.kept:
                continue
            idx = self.token_range(k)
            body = self._runs(idx[keep[idx]])
            if body.strip():
                parts.append(("context", body))
        out, prev = [], None
        for role, body in parts:
            if prev is not None:
                out.append(self.request.context_sep if prev == role == "context" else PART_SEP)
            out.append(body)
            prev = role
        return "".join(out)

    def _runs(self, idx: np.ndarray) -> str:
        """Text of the kept tokens ``idx``: consecutive tokens become one slice of the original."""
        if len(idx) == 0:
            return ""
        heads = np.concatenate([[0], np.flatnonzero(np.diff(idx) != 1) + 1])
        run_end = np.maximum.reduceat(self.ends[idx], heads)
        return "".join(self.original[s:e] for s, e in zip(self.starts[idx[heads]], run_end))

    def _whole_units(self, keep: np.ndarray) -> np.ndarray:
        if len(keep) == 0:
            return keep
        unit_kept = np.zeros(self.unit_of[-1] + 1, dtype=bool)
        np.logical_or.at(unit_kept, self.unit_of, keep)
        return unit_kept[self.unit_of]

    # -- selection ----------------------------------------------------------------------------------------
    def drop_piece(self, piece: int) -> None:
        """Drop a whole context (a coarse-stage decision)."""
        self.pieces[piece].kept = False
        self.keep[self.token_range(piece)] = False

    def fit(self, score: np.ndarray, eligible: np.ndarray, target: int | None = None) -> int:
        """Keep the best-``score``d ``eligible`` units so the prompt is as close to ``target`` as possible.

        Tokens outside ``eligible`` keep their current flag; forced ``eligible`` tokens (``Request.force_strings``)
        are always kept. Returns the achieved target-token count.
        """
        target = self.target if target is None else target
        forced = self.forced & eligible
        base = (self.keep & ~eligible) | forced
        eligible = eligible & ~forced
        units = np.unique(self.unit_of[eligible])
        best = np.full(self.unit_of[-1] + 1 if len(self.unit_of) else 0, -np.inf)
        np.fmax.at(best, self.unit_of[eligible], np.nan_to_num(score[eligible], nan=-np.inf))
        order = units[np.lexsort((units, -best[units]))]
        rank = np.full(len(best), len(order))
        rank[order] = np.arange(len(order))

        def count_k(k: int) -> int:
            return self.count(self.render(base | (rank[self.unit_of] < k)))

        lo, hi = 0, len(order)
        if count_k(hi) <= target:
            lo = hi
        while lo < hi:                           # smallest k whose prompt reaches the target
            mid = (lo + hi) // 2
            if count_k(mid) >= target:
                hi = mid
            else:
                lo = mid + 1
        k = lo
        if k > 0 and abs(count_k(k - 1) - target) <= abs(count_k(k) - target):
            k -= 1
        self.keep = base | (rank[self.unit_of] < k)
        return count_k(k)

    def result(self, method: str, score_name: str, seconds: float, score_scale: float = 1.0) -> Result:
        """Build the Result; ``score_scale`` converts stored scores (e.g. nats to bits)."""
        keep = self._whole_units(self.keep)
        compressed = self.render(keep)
        got = self.count(compressed)
        if not self.request.concate_question:          # the question guided the method but is not returned
            keep = keep & ~np.isin(self.piece_of, [k for k, p in enumerate(self.pieces) if p.role == "question"])
        tokens = [Token(self.original[s:e], s, e, float(self.score[i] * score_scale), bool(keep[i]),
                        int(self.piece_of[i])) for i, (s, e) in enumerate(self.spans)]
        met = budget.within(got, self.target, self.origin_tokens)
        message = "" if met else self._miss_message(got)
        return Result(self.original, compressed, tokens, self.pieces, method, score_name, self.lm.name,
                      self.lm.source, self.request.target_model, self.origin_tokens, got, self.target, met,
                      seconds, self.stages, message,
                      [self.pieces[k].index for k in self.order if self.pieces[k].kept])

    def _miss_message(self, got: int) -> str:
        fixed = self.fixed_tokens()
        if fixed > self.target:
            return (f"Instruction and question alone take {fixed} tokens, more than the {self.target} asked for: "
                    "they were kept verbatim and the contexts dropped. Ask for a larger budget.")
        return f"Got {got} tokens for a budget of {self.target}: the prompt could not be cut finer than that."
