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
after the verbatim and rated segments. The requested size is reported as the sum of these shares.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

from .. import scoring
from ..errors import InvalidRequest
from ..result import Request, Stage
from ..selection import Work, rate_priority
from .base import Method, register
from .llmlingua import LLMLingua, iterative_scores

TAG = re.compile(r"<llmlingua\s*(,[^<>]*)?>(.*?)</llmlingua>", re.DOTALL)
STRAY = re.compile(r"</?llmlingua\b")


@dataclass
class Options:
    iterative_size: int = 200     # tokens per window of the scoring pass (llmlingua's iterative_size)


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


def segment_rates(work: Work, flat: list[Segment]) -> tuple[np.ndarray, int, float]:
    """Each segment's keep rate (1 for verbatim ones), the prompt size they add up to in target tokens, and
    the rate of the untagged segments."""
    sizes = np.asarray([work.count(work.original[s.start:s.end]) for s in flat], dtype=float)
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
    rates = np.where(verbatim, 1.0, np.where(own, given, share))
    return rates, int(round(min(fixed + float(rates @ sizes), work.origin_tokens))), share


@register
class Structured(Method):
    name = "structured"
    label = "Structured (per-segment rates)"
    summary = ("For prompts with parts of different value: wrap text in <llmlingua, rate=0.4>...</llmlingua> "
               "to give it its own keep rate, or in <llmlingua, compress=False>...</llmlingua> to keep it "
               "verbatim. Tokens are scored by their surprise as in LLMLingua; each segment keeps its own "
               "share of its most surprising tokens.")
    score_name = "self-information given kept text (bits)"
    score_scale = 1.0 / scoring.LN2
    Options = Options

    def prepare(self, request: Request, options: Options) -> Request:
        """Strip the tags; the segments are kept on this instance (one instance serves one call)."""
        parsed = [parse_context(c) for c in request.context]
        self.segments = [segs for _, segs in parsed]
        return replace(request, context=[plain for plain, _ in parsed])

    def run(self, work: Work, opt: Options) -> None:
        segments = getattr(self, "segments", None) or [
            [Segment(0, p.end - p.start)] for p in work.pieces if p.role == "context"]
        owner, flat = token_segments(work, segments)
        rates, target, share = segment_rates(work, flat)         # the budget the segments' rates add up to
        if work.fixed_tokens() <= work.target:     # else instruction + question alone miss the budget asked for
            work.target = target
        in_ctx = owner >= 0
        verbatim = in_ctx & np.isin(owner, [g for g, s in enumerate(flat) if not s.compress])
        work.keep |= verbatim
        mean_rate = float(rates[owner[in_ctx]].mean()) if in_ctx.any() else 1.0
        scored = iterative_scores(work, LLMLingua().prefix_ids(work), mean_rate, opt.iterative_size)
        eligible = in_ctx & ~verbatim & scored
        priority = np.full(len(work.ids), -np.inf)
        for g in np.unique(owner[eligible]):
            idx = np.flatnonzero(eligible & (owner == g))
            priority[idx] = rate_priority(work.score[idx], rates[g])
        work.fit(priority, eligible)
        n_verbatim = sum(not s.compress for s in flat)
        n_own = sum(s.compress and s.rate is not None for s in flat)
        work.stages.append(Stage("fine: segments", "tokens", int(in_ctx.sum()), int(work.keep[in_ctx].sum()),
                                 f"{len(flat)} segments: {n_verbatim} kept verbatim, {n_own} at their own rate, "
                                 f"the others at {share:.2f}; the most surprising tokens of each kept"))
