"""What a method reads and what it returns: ``Work``, the prompt laid out, and ``Decision``, what to keep.

``Work`` is one prompt laid out in pieces and scorer tokens, with the budget; a method only reads it, through
its attributes and helpers (``context_mask``, ``find``/``forced_mask``, ``units_from_spans``/``forced_units``,
``coarse``, ``fit``, ``render``). ``Decision`` is what the method decided: a keep mask and a score per token, plus, when
it changed them, the units kept whole, the contexts' order, the coarse ranking, the stages and the budget.
Methods differ in how they *score* and which pieces they drop first; all of them then call ``Work.fit``,
which keeps the best-scored tokens until the compressed prompt reaches the budget in the target LLM's
tokenizer (a binary search over how many to keep); ``compress`` then builds the ``Result`` (``Work.result``).

The original prompt is ``"\\n\\n".join([instruction, context_sep.join(contexts), question])`` without the
empty parts, as ``llmlingua`` builds it. Every kept token is a span of it, so the compressed prompt is an
in-order subsequence of the original plus separators -- unless a method moves whole contexts (``Decision.order``,
LongLLMLingua's reordering), when each context's tokens still keep their order. With
``Request.concate_question=False`` the question is laid out (methods read it) but not rendered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

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


def join_runs(text: str, runs: list[tuple[int, int]]) -> str:
    """The slices ``runs`` of ``text`` in order, with one whitespace character of the dropped text between two
    slices that would otherwise touch (neither has whitespace at the seam).

    >>> text = "George Barnes (July 1, 1890) was a baker."
    >>> join_runs(text, [(0, 13), (15, 19), (35, 40)])
    'George Barnes July baker'
    >>> join_runs("a - b", [(0, 1), (4, 5)]), join_runs("ab", [(0, 1), (1, 2)]), join_runs("a (b", [(0, 2), (3, 4)])
    ('a b', 'ab', 'a b')
    """
    out: list[str] = []
    prev_end = 0
    for s, e in runs:
        part = text[s:e]
        if out and not out[-1][-1:].isspace() and not part[:1].isspace():
            out.append(next((c for c in text[prev_end:s] if c.isspace()), ""))
        out.append(part)
        prev_end = e
    return "".join(out)


@dataclass
class Decision:
    """What a method decided for one ``Work`` (start from ``work.decision()``; ``compress`` applies it).

    >>> import numpy as np
    >>> d = Decision(keep=np.array([True, False]), score=np.array([np.nan, 0.5]), pieces=[], order=[])
    >>> d.note("fine: tokens", "tokens", 1, 0, "kept the best"); d.stages[0].after
    0
    """
    keep: np.ndarray                    # per scorer token: in the compressed prompt?
    score: np.ndarray                   # per scorer token: the method's score (nan: not scored)
    pieces: list[Piece]                 # the Work's pieces with this run's coarse ranks and kept flags
    order: list[int]                    # contexts (piece indices) in render order
    units: np.ndarray | None = None     # tokens kept or dropped together (None: the Work's own units)
    stages: list[Stage] = field(default_factory=list)
    target: int | None = None           # a budget the method chose itself (auto, structured); None: the request's
    score_name: str | None = None       # what ``score`` measures when it depends on the options
    join_runs: bool = False             # render: two kept runs that would touch get one whitespace character
    #                                     of the dropped text between them (``Work.render``)

    def note(self, name: str, units: str, before: int, after: int, why: str = "") -> None:
        """Record one stage for the teaching panel."""
        self.stages.append(Stage(name, units, before, after, why))

    def rank(self, order: list[int], shown: dict[int, float]) -> None:
        """Record a coarse ranking: ``order`` best first, each piece's ``shown`` score (e.g. its perplexity)."""
        for r, k in enumerate(order):
            self.pieces[k].rank, self.pieces[k].rank_score = r, shown[k]


class Work:
    """One prompt laid out for compression; methods read it and return a ``Decision``.

    Read: ``request``, ``lm``, ``original``, ``pieces``, ``ids``/``spans`` (scorer tokens), ``starts``/``ends``,
    ``piece_of``, ``unit_of`` (tokens split from one character), ``fixed`` (instruction and question tokens),
    ``forced`` (``Request.force_strings``), ``origin_tokens``, ``target`` (the budget, target-LLM tokens) and
    ``parsed`` (what the method's ``prepare`` parsed, e.g. structured's segments).
    """

    def __init__(self, request: Request, lm: LoadedModel, parsed: Any = None):
        self.request, self.lm, self.parsed = request, lm, parsed
        self.original, self.pieces = layout(request)
        ids, spans_, piece_of = [], [], []
        for k, p in enumerate(self.pieces):
            toks = scoring.tokenize(lm, self.original[p.start:p.end])
            ids += toks.ids
            spans_ += [(p.start + s, p.start + e) for s, e in toks.spans]
            piece_of += [k] * len(toks.ids)
        self.ids, self.spans = ids, spans_
        self.starts = np.asarray([s for s, _ in spans_], dtype=np.int64)
        self.ends = np.asarray([e for _, e in spans_], dtype=np.int64)
        self.piece_of = np.asarray(piece_of, dtype=np.int64)
        self._ranges = [np.flatnonzero(self.piece_of == k) for k in range(len(self.pieces))]
        self.unit_of = units_of(spans_)
        roles = np.asarray([p.role for p in self.pieces] or ["context"])
        self.fixed = roles[self.piece_of] != "context" if len(ids) else np.zeros(0, bool)
        self.forced = self.forced_mask(request.force_strings)   # always kept by ``fit`` (when their context is)
        self.origin_tokens = count_tokens(self.original, request.target_model)
        self.target = budget.requested_tokens(request.rate, request.target_token, self.origin_tokens)

    # -- queries ------------------------------------------------------------------------------------------
    def context_pieces(self) -> list[int]:
        return [k for k, p in enumerate(self.pieces) if p.role == "context"]

    def context_mask(self, pieces=None) -> np.ndarray:
        """Tokens of the given context pieces (default: every context).

        >>> from lingua_core.loading import load_model  # doctest: +SKIP
        >>> Work(Request(context=["A b."], question="Q?"), load_model("bundled")).context_mask()  # doctest: +SKIP
        array([ True,  True,  True, False, False])
        """
        return np.isin(self.piece_of, self.context_pieces() if pieces is None else list(pieces))

    def token_range(self, piece: int) -> np.ndarray:
        return self._ranges[piece]

    def piece_ids(self, piece: int) -> list[int]:
        return [self.ids[i] for i in self.token_range(piece)]

    def piece_text(self, piece: int) -> str:
        return self.original[self.pieces[piece].start:self.pieces[piece].end]

    def count(self, text: str) -> int:
        return count_tokens(text, self.request.target_model)

    def context_tokens(self, piece: int) -> int:
        """Target-LLM tokens of one context plus its separator."""
        return self.count(self.piece_text(piece) + self.request.context_sep)

    def fixed_tokens(self) -> int:
        """Target tokens of what stays verbatim (instruction, question, their separators)."""
        return self.count(self.render(self.decision(), self.fixed))

    def find(self, strings) -> list[tuple[int, int, str]]:
        """(start, end, string) of every occurrence of one of ``strings`` inside a context, in order.

        E.g. ``find(["?"])`` on contexts "Why? Because." gives ``[(3, 4, "?")]``.
        """
        found = []
        for k in self.context_pieces() if strings else ():
            p = self.pieces[k]
            found += spans.find_forced(self.original, strings, p.start, p.end)
        return found

    def overlapping(self, found) -> np.ndarray:
        """Tokens overlapping any of the spans ``found`` ((start, end, ...) tuples)."""
        mask = np.zeros(len(self.ids), dtype=bool)
        for s, e, *_ in found:
            mask |= (self.starts < e) & (self.ends > s)
        return mask

    def forced_mask(self, strings) -> np.ndarray:
        """Context tokens overlapping an occurrence of one of ``strings`` (``Request.force_strings``,
        a method's ``force_tokens``)."""
        return self.overlapping(self.find(strings))

    def units_from_spans(self, unit_spans: list[tuple[int, int]], whole=()) -> np.ndarray:
        """Group ids for ``Decision.units``: tokens overlapping one span (a word, a phrase) are kept together
        (``spans.group_tokens``; whitespace joins the unit after it). The spans ``whole`` ((start, end, ...)
        tuples, e.g. ``find``'s forced strings) are cut out of those units and made units of their own, so a
        forced "." is kept alone instead of forcing its sentence."""
        holes = [(s, e) for s, e, *_ in whole]
        return spans.group_tokens(self, spans.carve(unit_spans, holes) + holes)

    def forced_units(self, found, groups: np.ndarray) -> np.ndarray:
        """Tokens of every unit (``groups``, group id per token) that overlaps one of the spans ``found``;
        instruction and question tokens never count (they are kept anyway, and no unit crosses a piece)."""
        hit = spans.group_values(groups, self.overlapping(found).astype(float), "max")[groups] > 0
        return hit & ~self.fixed

    # -- decisions ----------------------------------------------------------------------------------------
    def decision(self) -> Decision:
        """A fresh decision: instruction and question kept, nothing scored, contexts in their order."""
        return Decision(self.fixed.copy(), np.full(len(self.ids), math.nan), [replace(p) for p in self.pieces],
                        self.context_pieces())

    def ordered(self, order: list[int]) -> list[int]:
        """``order`` checked to be a permutation of ``context_pieces()`` (for ``Decision.order``).

        Tokens inside each context stay in their original order; only whole contexts move (LongLLMLingua's
        reordering). The default is the original order.
        """
        if sorted(order) != self.context_pieces():
            raise ValueError(f"order {order} is not a permutation of the context pieces {self.context_pieces()}")
        return list(order)

    def drop(self, d: Decision, piece: int) -> None:
        """Drop a whole context from ``d`` (a coarse-stage decision)."""
        d.pieces[piece].kept = False
        d.keep[self.token_range(piece)] = False

    def coarse(self, d: Decision, order: list[int], avail: int | None = None, overshoot: bool = False,
               forced=(), top: int | None = None) -> list[int]:
        """The coarse stage: walk ``order`` (best first) keeping contexts while ``avail`` target tokens last
        (or the ``top`` best), plus the ``forced`` ones; drop the others from ``d``. Returns the kept ones.

        With ``overshoot`` the context that crosses the limit is kept too (a fine stage trims it afterwards).
        """
        if top is not None:
            kept = list(set(order[:top]) | set(forced))
        else:
            kept, used = [], 0
            for k in order:
                size = self.context_tokens(k)
                if k in forced or used + size <= avail or (overshoot and used < avail):
                    kept.append(k)
                    used += size
        for k in order:
            if k not in kept:
                self.drop(d, k)
        return kept

    # -- rendering ----------------------------------------------------------------------------------------
    def render(self, d: Decision, keep: np.ndarray | None = None) -> str:
        """The compressed prompt for ``d`` (or for another ``keep`` mask under ``d``'s units and order):
        units kept whole, dropped and empty contexts left out."""
        keep = self._whole_units(d, d.keep if keep is None else keep)
        parts: list[tuple[str, str]] = []
        for k in render_sequence(self.pieces, d.order):
            p = self.pieces[k]
            if p.role != "context":
                if p.role != "question" or self.request.concate_question:
                    parts.append((p.role, self.original[p.start:p.end]))
                continue
            if not d.pieces[k].kept:
                continue
            idx = self.token_range(k)
            body = self._runs(idx[keep[idx]], d.join_runs)
            if body.strip():
                parts.append(("context", body))
        out, prev = [], None
        for role, body in parts:
            if prev is not None:
                out.append(self.request.context_sep if prev == role == "context" else PART_SEP)
            out.append(body)
            prev = role
        return "".join(out)

    def _runs(self, idx: np.ndarray, join: bool = False) -> str:
        """Text of the kept tokens ``idx``: consecutive tokens become one slice of the original. With ``join``,
        two slices that would touch ("Barnes" + "July") get the first whitespace character of the dropped text
        between them, if it holds one ("Barnes July"): still an in-order subsequence of the original."""
        if len(idx) == 0:
            return ""
        heads = np.concatenate([[0], np.flatnonzero(np.diff(idx) != 1) + 1])
        runs = list(zip(self.starts[idx[heads]], np.maximum.reduceat(self.ends[idx], heads)))
        if not join:
            return "".join(self.original[s:e] for s, e in runs)
        return join_runs(self.original, runs)

    def _units(self, d: Decision) -> np.ndarray:
        """The units ``d`` keeps whole: its own, or the Work's (tokens split from one character)."""
        return self.unit_of if d.units is None else d.units

    def _target(self, d: Decision) -> int:
        """The budget ``d`` is held to: the one the method chose, or the request's."""
        return self.target if d.target is None else d.target

    def _whole_units(self, d: Decision, keep: np.ndarray) -> np.ndarray:
        if len(keep) == 0:
            return keep
        units = self._units(d)
        unit_kept = np.zeros(units[-1] + 1, dtype=bool)
        np.logical_or.at(unit_kept, units, keep)
        return unit_kept[units]

    # -- selection ----------------------------------------------------------------------------------------
    def fit(self, d: Decision, score: np.ndarray, eligible: np.ndarray, target: int | None = None) -> int:
        """Keep in ``d`` the best-``score``d ``eligible`` units so the prompt is as close to ``target`` (default:
        ``d.target``, else the request's budget) as possible.

        Tokens outside ``eligible`` keep their current flag; forced ``eligible`` tokens (``Request.force_strings``)
        are always kept. Returns the achieved target-token count.
        """
        target = self._target(d) if target is None else target
        units = self._units(d)
        forced = self.forced & eligible
        base = (d.keep & ~eligible) | forced
        eligible = eligible & ~forced
        unique = np.unique(units[eligible])
        best = np.full(units[-1] + 1 if len(units) else 0, -np.inf)
        np.fmax.at(best, units[eligible], np.nan_to_num(score[eligible], nan=-np.inf))
        order = unique[np.lexsort((unique, -best[unique]))]
        rank = np.full(len(best), len(order))
        rank[order] = np.arange(len(order))

        def count_k(k: int) -> int:
            return self.count(self.render(d, base | (rank[units] < k)))

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
        d.keep = base | (rank[units] < k)
        return count_k(k)

    def result(self, d: Decision, method: str, score_name: str, seconds: float, score_scale: float = 1.0) -> Result:
        """Build the Result of decision ``d``; ``score_scale`` converts stored scores (e.g. nats to bits)."""
        keep = self._whole_units(d, d.keep)
        compressed = self.render(d, keep)
        got = self.count(compressed)
        target = self._target(d)
        if not self.request.concate_question:          # the question guided the method but is not returned
            keep = keep & ~np.isin(self.piece_of, [k for k, p in enumerate(self.pieces) if p.role == "question"])
        tokens = [Token(self.original[s:e], s, e, float(d.score[i] * score_scale), bool(keep[i]),
                        int(self.piece_of[i])) for i, (s, e) in enumerate(self.spans)]
        met = budget.within(got, target, self.origin_tokens)
        message = "" if met else self._miss_message(got, target)
        return Result(self.original, compressed, tokens, d.pieces, method, d.score_name or score_name, self.lm.name,
                      self.lm.source, self.request.target_model, self.origin_tokens, got, target, met,
                      seconds, d.stages, message,
                      [d.pieces[k].index for k in d.order if d.pieces[k].kept])

    def _miss_message(self, got: int, target: int) -> str:
        fixed = self.fixed_tokens()
        if fixed > target:
            return (f"Instruction and question alone take {fixed} tokens, more than the {target} asked for: "
                    "they were kept verbatim and the contexts dropped. Ask for a larger budget.")
        return f"Got {got} tokens for a budget of {target}: the prompt could not be cut finer than that."
