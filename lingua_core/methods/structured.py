"""Structured prompts: marked segments of a context get their own keep rate or stay verbatim.

    <llmlingua, rate=0.4>compress this to 40%</llmlingua><llmlingua, compress=False>keep this</llmlingua>

Text outside any tag is an ordinary segment. The tags are parsed with one regular expression and a tiny
``key=value`` reader that knows two keys (``rate``: a number in [0, 1]; ``compress``: True/False) --
never ``eval`` -- and stripped in ``prepare``, so the original prompt is the plain text.

Tokens are scored as in its sibling ``llmlingua.py`` (self-information, one windowed pass conditioned on
what was kept); what differs is the cut: verbatim segments are kept whole, and every other segment keeps
about its own rate of its most surprising tokens (``selection.rate_priority``), with ``Work.fit`` meeting the
total in the target LLM's tokens. Untagged segments share what the budget leaves: with ``rate`` they keep the
share of context tokens that ``rate`` of the whole prompt leaves after instruction and question (so a prompt
without tags is compressed to exactly the requested budget); with ``target_token`` they share what is left
after the verbatim and rated segments. The requested size is reported as the sum of these shares, over what
the stages before the token cut left of each segment.

Those stages are llmlingua's, all optional: a coarse stage over whole contexts (``use_context_level``; a
context holding a verbatim segment is never dropped while ``strict_preserve_uncompressed``), and the sentence
stage (``use_sentence_level``, ``sentence_filter.py``; a sentence touching a verbatim segment is always kept).
With a question and ``rank_method="longllmlingua"`` (or a retriever: bm25, sentbert, gzip) contexts are ranked
and reordered as LongLLMLingua does and the token scores are LongLLMLingua's (contrastive with
``condition_compare``); ``dynamic_context_compression_ratio`` then lets the untagged segments of better-ranked
contexts keep more. Tagged rates always stand as written.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Literal, get_args

import numpy as np

from .. import scoring
from ..errors import InvalidRequest
from ..result import Request
from ..selection import Decision, Work, rate_priority
from . import longllmlingua as ll
from . import sentence_filter
from .base import Method, option, register
from .llmlingua import LLMLingua, iterative_scores, prefix_ids
from .llmlingua import coarse as perplexity_coarse
from .longllmlingua import Condition, Order

TAG = re.compile(r"<llmlingua\s*(,[^<>]*)?>(.*?)</llmlingua>", re.DOTALL)
STRAY = re.compile(r"</?llmlingua\b")


Ranker = Literal["llmlingua", "longllmlingua", "bm25", "sentbert", "gzip"]


@dataclass
class Options:
    iterative_size: int = option(200, "tokens per window of the scoring pass (llmlingua's iterative_size)", low=1)
    rank_method: Ranker = option("llmlingua", "contexts ranked by surprise, or by the question as LongLLMLingua "
                                 "does", choices=get_args(Ranker))
    use_context_level: bool = option(False, "coarse stage: drop whole contexts by rank (llmlingua: on)")
    context_budget: int = option(100, 'coarse stage: target tokens it may keep beyond the budget ("+100")')
    strict_preserve_uncompressed: bool = option(True, "coarse stage: never drop a context holding a "
                                                      "compress=False part")
    force_context_ids: tuple[int, ...] = option((), "coarse stage: contexts (0-based) always kept")
    condition_in_question: Condition = option("after", "question-aware ranking: question after or before each "
                                              "context", choices=get_args(Condition))
    reorder_context: Order = option("original", "question-aware: kept contexts as given, best first, or "
                                    "two_stage", choices=get_args(Order))
    dynamic_context_compression_ratio: float = option(0.0, "question-aware: untagged parts of better contexts "
                                                      "keep more", low=0, high=1)
    condition_compare: bool = option(False, "question-aware token scores: NLL without minus with the question")
    add_instruction: bool = option(True, "scores read the instruction first (llmlingua: False)")
    use_sentence_level: bool = option(False, "sentence stage between contexts and tokens (sentence_filter.py)")
    keep_first_sentence: int = option(0, "sentence stage: each context's first N sentences get the bonus", low=0)
    keep_last_sentence: int = option(0, "sentence stage: each context's last N sentences get the bonus", low=0)
    keep_sentence_number: int = option(0, "sentence stage: each context's N best sentences get the bonus", low=0)
    high_priority_bonus: float = option(100.0, "sentence stage: added to a priority sentence's score")
    token_budget_ratio: float = option(1.4, "sentence stage: keeps sentences up to this x the contexts' budget",
                                       above=0)


@dataclass
class Segment:
    start: int                    # character span in the plain (tag-free) context
    end: int
    rate: float | None = None     # its own keep rate; None: the share the budget leaves (see module doc)
    compress: bool = True         # False: kept verbatim


def parse_rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        rate = math.nan
    if not 0 <= rate <= 1:
        raise InvalidRequest(f"rate={value!r} in an <llmlingua> tag: use a number from 0 to 1 (e.g. rate=0.4).")
    return rate


def parse_bool(value: str) -> bool:
    if value.lower() not in {"true", "false"}:
        raise InvalidRequest(f"compress={value!r} in an <llmlingua> tag: use True or False.")
    return value.lower() == "true"


KEYS = {"rate": parse_rate, "compress": parse_bool}


def parse_attributes(text: str) -> dict:
    """The ``, key=value, ...`` part of a tag as a dict (only the keys in ``KEYS``).

    >>> parse_attributes(", rate=0.4"), parse_attributes(" , compress = False, rate=1"), parse_attributes("")
    ({'rate': 0.4}, {'compress': False, 'rate': 1.0}, {})
    """
    out: dict = {}
    for part in text.split(",")[1:] if text.strip() else []:
        key, eq, value = (x.strip() for x in part.partition("="))
        if key not in KEYS or not eq or key in out:
            raise InvalidRequest(f"<llmlingua{text}>: {part.strip()!r} is not understood; tags take "
                                 "rate=<0..1> and compress=True/False, each at most once.")
        out[key] = KEYS[key](value)
    return out


def parse_context(text: str) -> tuple[str, list[Segment]]:
    """A context's plain text and its segments.

    >>> plain, segs = parse_context("Intro. <llmlingua, rate=0.3>Body.</llmlingua><llmlingua, compress=False>"
    ...                             " Keep me.</llmlingua>")
    >>> plain, [(plain[s.start:s.end], s.rate, s.compress) for s in segs]
    ('Intro. Body. Keep me.', [('Intro. ', None, True), ('Body.', 0.3, True), (' Keep me.', None, False)])
    """
    plain, segs, last = "", [], 0

    def add(body: str, **kw) -> None:
        nonlocal plain
        if STRAY.search(body):
            raise InvalidRequest("An <llmlingua> tag is unclosed or nested; tags look like "
                                 "<llmlingua, rate=0.4>text</llmlingua> and cannot contain one another.")
        if body:
            segs.append(Segment(len(plain), len(plain) + len(body), **kw))
            plain += body

    for m in TAG.finditer(text):
        add(text[last:m.start()])
        attrs = parse_attributes(m.group(1) or "")
        add(m.group(2), rate=attrs.get("rate"), compress=attrs.get("compress", True))
        last = m.end()
    add(text[last:])
    return plain, segs


def token_segments(work: Work, segments: list[list[Segment]]) -> tuple[np.ndarray, list[Segment]]:
    """For every token, its index into the returned flat list of segments (-1: instruction or question).

    The flat list holds the segments with spans in the whole original prompt. A token belongs to the segment
    where it starts, or to a verbatim segment it overlaps (verbatim wins).
    """
    flat: list[Segment] = []
    owner = np.full(len(work.ids), -1, dtype=np.int64)
    for k in work.context_pieces():
        p, idx = work.pieces[k], work.token_range(k)
        first = len(flat)
        flat += [replace(s, start=p.start + s.start, end=p.start + s.end) for s in segments[p.index]]
        for g in range(first, len(flat)):
            owner[idx[(work.starts[idx] >= flat[g].start) & (work.starts[idx] < flat[g].end)]] = g
        for g in (g for g in range(first, len(flat)) if not flat[g].compress):
            owner[idx[(work.starts[idx] < flat[g].end) & (work.ends[idx] > flat[g].start)]] = g
    return owner, flat


def segment_rates(work: Work, flat: list[Segment], sizes: np.ndarray) -> tuple[np.ndarray, float]:
    """Each segment's keep rate (1 for verbatim ones) and the rate of the untagged segments, for segments of
    ``sizes`` target tokens (0 for a segment whose context was dropped)."""
    verbatim = np.asarray([not s.compress for s in flat], dtype=bool)
    own = np.asarray([s.compress and s.rate is not None for s in flat], dtype=bool)
    given = np.asarray([s.rate if r else 0.0 for s, r in zip(flat, own)])
    free = ~verbatim & ~own
    fixed = work.fixed_tokens()
    if work.request.target_token > 0:        # untagged segments share what the budget leaves
        share = (work.target - fixed - sizes[verbatim].sum() - given @ sizes) / max(sizes[free].sum(), 1)
    else:                                    # the context share that `rate` of the whole prompt means
        share = (work.target - fixed) / max(sizes.sum(), 1)
    share = min(max(share, 0.0), 1.0)
    return np.where(verbatim, 1.0, np.where(own, given, share)), share


def segment_pieces(work: Work, flat: list[Segment]) -> np.ndarray:
    """The context piece each segment lies in."""
    starts = np.asarray([work.pieces[k].start for k in work.context_pieces()])
    ctx = np.asarray(work.context_pieces())
    return ctx[np.searchsorted(starts, [s.start for s in flat], side="right") - 1] if len(flat) else ctx[:0]


def left_share(owner: np.ndarray, alive: np.ndarray, kept_seg: np.ndarray) -> np.ndarray:
    """Per segment, the share of its tokens still ``alive`` after the coarse and sentence stages (a segment
    with no token of its own counts whole when its context is kept).

    >>> left_share(np.array([0, 0, 1, -1]), np.array([True, False, True, True]), np.array([True, True, True])).tolist()
    [0.5, 1.0, 1.0]
    """
    n = len(kept_seg)
    total = np.bincount(owner[owner >= 0], minlength=n).astype(float)
    left = np.bincount(owner[alive & (owner >= 0)], minlength=n).astype(float)
    share = np.divide(left, total, out=np.ones(n), where=total > 0)
    return np.where(kept_seg, share, 0.0)


def coarse_options(work: Work, opt: Options, forced: set[int]) -> SimpleNamespace:
    """The coarse stages' options (``llmlingua.coarse``, ``longllmlingua.coarse``) with ``forced`` pieces."""
    ctx = work.context_pieces()
    return SimpleNamespace(context_budget=opt.context_budget, use_token_level=True,
                           use_context_level=opt.use_context_level,
                           force_context_ids=tuple(ctx.index(k) for k in sorted(forced)))


def surprise_stages(work: Work, d: Decision, opt: Options, forced: set[int], room: int, mean_rate: float):
    """Question-blind scoring (LLMLingua's windowed pass) and its coarse stage; (kept pieces, scored mask,
    sentence scorer, ranking note, per-piece rate shift)."""
    scored = iterative_scores(work, d, prefix_ids(work, opt.add_instruction), mean_rate, opt.iterative_size)
    ctx = work.context_pieces()
    avail = room + opt.context_budget
    if opt.use_context_level and len(ctx) > 1 and sum(work.context_tokens(k) for k in ctx) > avail:
        perplexity_coarse(work, d, coarse_options(work, opt, forced), avail)
    kept = [k for k in ctx if d.pieces[k].kept]
    return (kept, scored, lambda spans, of: sentence_filter.mean_per_sentence(d.score, of, len(spans)),
            "by their tokens' mean surprise (highest first)", {})


def question_stages(work: Work, d: Decision, opt: Options, forced: set[int], room: int):
    """LongLLMLingua's ranking, coarse stage, reordering and token scores; same tuple as ``surprise_stages``."""
    mode, kind, ranker, note = ll.plan(work, opt)
    passes = ll.Passes(work, opt.add_instruction)
    ctx = work.context_pieces()
    ranked = ll.rank(d, ranker(passes, ctx))
    kept = ll.coarse(work, d, coarse_options(work, opt, forced), ranked, room, note)
    d.order = work.ordered(ll.ORDERS[opt.reorder_context](kept) + [k for k in ctx if k not in kept])
    alone = passes.need_alone(kept) if kind != "conditioned" else {}
    given = passes.need_conditioned(kept) if kind != "plain" else {}
    for k in kept:
        d.score[work.token_range(k)] = ll.token_scores(kind, alone.get(k), given.get(k))
    dd = abs(opt.dynamic_context_compression_ratio)
    shift = dict(zip(kept, np.linspace(dd, -dd, len(kept)) if len(kept) > 1 else [0.0] * len(kept)))
    return kept, work.context_mask(kept), ll.sentence_scorer(passes, opt, mode, kept), note, shift


def fit_segments(work: Work, d: Decision, flat: list[Segment], owner: np.ndarray, sizes: np.ndarray,
                 seg_piece: np.ndarray, alive: np.ndarray, shift: dict) -> None:
    """Give each segment its rate over what the stages left of it (``sizes``, target tokens), set the
    budget they add up to, fit."""
    rates, share = segment_rates(work, flat, sizes)
    free = np.asarray([s.compress and s.rate is None for s in flat], dtype=bool)
    for g in np.flatnonzero(free):
        rates[g] = float(np.clip(share + shift.get(int(seg_piece[g]), 0.0), ll.MIN_RATE, 1.0))
    target = int(round(min(work.fixed_tokens() + float(rates @ sizes), work.origin_tokens)))
    if work.fixed_tokens() <= work.target:     # else instruction + question alone miss the budget asked for
        d.target = target
    eligible = alive & ~d.keep
    priority = np.full(len(work.ids), -np.inf)
    for g in np.unique(owner[eligible]):
        idx = np.flatnonzero(eligible & (owner == g))
        priority[idx] = rate_priority(d.score[idx], rates[g])
    work.fit(d, priority, eligible)
    in_ctx = owner >= 0
    n_verbatim = sum(not s.compress for s in flat)
    n_own = sum(s.compress and s.rate is not None for s in flat)
    d.note("fine: segments", "tokens", int(in_ctx.sum()), int(d.keep[in_ctx].sum()),
           f"{len(flat)} segments: {n_verbatim} kept verbatim, {n_own} at their own rate, "
           f"the others at {share:.2f}; the best-scored tokens of each kept")


@register
class Structured(Method):
    name = "structured"
    label = "Structured (per-segment rates)"
    summary = ("For prompts with parts of different value: wrap text in <llmlingua, rate=0.4>...</llmlingua> "
               "to give it its own keep rate, or in <llmlingua, compress=False>...</llmlingua> to keep it "
               "verbatim. Tokens are scored by their surprise as in LLMLingua (or, with a question-aware "
               "rank_method, as LongLLMLingua scores them); each segment keeps its own share of its best tokens.")
    score_name = "self-information given kept text (bits)"
    score_scale = 1.0 / scoring.LN2
    Options = Options
    caches = LLMLingua.caches + ll.LongLLMLingua.caches     # the scoring passes it reads are its siblings'

    @classmethod
    def check(cls, opt: Options) -> None:
        if opt.rank_method == "llmlingua" and (opt.condition_compare or opt.condition_in_question.endswith("_condition")):
            raise InvalidRequest("Question-aware token scores (condition_compare, '..._condition') need a "
                                 "question-aware rank_method, e.g. rank_method='longllmlingua'.")

    def prepare(self, request: Request, options: Options) -> tuple[Request, list[list[Segment]]]:
        """Strip the tags; the segments of each context go to ``run`` as ``work.parsed``."""
        parsed = [parse_context(c) for c in request.context]
        return replace(request, context=[plain for plain, _ in parsed]), [segs for _, segs in parsed]

    def run(self, work: Work, opt: Options) -> Decision:
        d = work.decision()
        segments = work.parsed or [[Segment(0, p.end - p.start)] for p in work.pieces if p.role == "context"]
        owner, flat = token_segments(work, segments)
        sizes = np.asarray([work.count(work.original[s.start:s.end]) for s in flat], dtype=float)
        seg_piece = segment_pieces(work, flat)
        in_ctx = owner >= 0
        verbatim_seg = np.asarray([not s.compress for s in flat], dtype=bool)
        verbatim = in_ctx & np.isin(owner, np.flatnonzero(verbatim_seg))
        ctx = work.context_pieces()
        forced = {ctx[i] for i in opt.force_context_ids if 0 <= i < len(ctx)}
        if opt.strict_preserve_uncompressed:
            forced |= {int(seg_piece[g]) for g in np.flatnonzero(verbatim_seg)}
        room = max(work.target - work.fixed_tokens(), 0)
        if opt.rank_method != "llmlingua" and work.request.question.strip():
            d.score_name = "question-aware score of LongLLMLingua (bits)"
            kept, scored, sentence_score, note, shift = question_stages(work, d, opt, forced, room)
        else:
            rates, _ = segment_rates(work, flat, sizes)
            mean_rate = float(rates[owner[in_ctx]].mean()) if in_ctx.any() else 1.0
            kept, scored, sentence_score, note, shift = surprise_stages(work, d, opt, forced, room, mean_rate)
        in_kept = work.context_mask(kept)
        in_sentences = sentence_filter.filter_sentences(work, d, opt, kept, room, sentence_score, note, verbatim)
        eligible = in_ctx & ~verbatim & scored & in_kept & (True if in_sentences is None else in_sentences)
        d.keep |= verbatim & in_kept
        alive = eligible | (verbatim & in_kept)
        fit_segments(work, d, flat, owner, sizes * left_share(owner, alive, np.isin(seg_piece, kept)), seg_piece,
                     alive, shift)
        return d
