"""Selective Context (Li et al., 2023): drop the lexical units that carry the least self-information.

A causal LM scores every token of each context once (``scoring.score_many``, no conditioning on kept text,
unlike ``llmlingua.py``'s iterative pass). Tokens are grouped into lexical units -- the scorer's tokens,
phrases or sentences (``reduce_level``; ``phrases.py`` splits the text, with spaCy when installed, else
rules) -- and a unit's self-information is the sum of its tokens' (the paper's definition). The paper drops
the units below a percentile of self-information; here the percentile is chosen so the budget is met:
``Work.fit`` keeps the most informative units until the prompt reaches its size in target-LLM tokens, and
the stage note reports the percentile that amounts to. Instruction and question stay verbatim.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .. import phrases, scoring, spans
from ..errors import InvalidRequest
from ..result import Stage
from ..selection import Work
from .base import Method, register

LEVELS = {"token": "tokens", "phrase": "phrases", "sent": "sentences"}   # reduce_level (the reference's names)
UNIT_SCORES = ("sum", "mean")


@dataclass
class Options:
    reduce_level: str = "phrase"            # lexical unit: "token", "phrase" or "sent"
    chunker: str = "auto"                   # phrase/sentence splitter: "auto" (spaCy if installed, else rules),
                                            # "spacy" or "rules"
    unit_score: str = "sum"                 # a unit's self-information from its tokens': "sum" (paper) or "mean"
    force_tokens: tuple[str, ...] = ()      # strings always kept (cut out of their unit, kept on their own)


def check(opt: Options) -> None:
    if opt.reduce_level not in LEVELS:
        raise InvalidRequest(f"reduce_level={opt.reduce_level!r}; use one of: {', '.join(LEVELS)}.")
    if opt.unit_score not in UNIT_SCORES:
        raise InvalidRequest(f"unit_score={opt.unit_score!r}; use one of: {', '.join(UNIT_SCORES)}.")


def unit_spans(work: Work, opt: Options) -> list[tuple[int, int]]:
    """Phrase or sentence spans of every context, as spans of the original prompt."""
    chunker = phrases.get_chunker(opt.chunker)
    split = chunker.sentences if opt.reduce_level == "sent" else chunker.phrases
    out = []
    for k in work.context_pieces():
        p = work.pieces[k]
        out += [(s + p.start, e + p.start) for s, e in split(work.original[p.start:p.end])]
    return out


_SCORES: OrderedDict = OrderedDict()     # (model, token ids of the contexts) -> NLL per context, most recent last
_SCORES_LOCK = threading.Lock()
_SCORES_MAX = 16


def token_self_info(work: Work) -> np.ndarray:
    """NLL (nats) of every context token given the tokens before it in its own context.

    The scores of the latest prompts are kept for reuse: a ratio sweep, or another ``reduce_level``, scores
    nothing anew (keyed by all the contexts together, so a prompt always gets the same numbers).
    """
    ctx = work.context_pieces()
    key = (id(work.lm.model), tuple(tuple(work.piece_ids(k)) for k in ctx))
    with _SCORES_LOCK:
        nll = _SCORES.get(key)
        if nll is not None:
            _SCORES.move_to_end(key)
    if nll is None:
        nll = scoring.score_many(work.lm, [list(ids) for ids in key[1]])
        with _SCORES_LOCK:
            _SCORES[key] = nll
            while len(_SCORES) > _SCORES_MAX:
                _SCORES.popitem(last=False)
    out = np.full(len(work.ids), np.nan)
    for k, values in zip(ctx, nll):
        out[work.token_range(k)] = values
    return out


@register
class SelectiveContext(Method):
    name = "selective_context"
    label = "Selective Context (self-information)"
    summary = ("A small LM reads each context once and measures every token's self-information (how "
               "surprising it is). Tokens are grouped into phrases (or sentences, or left as tokens); a "
               "phrase's information is the sum of its tokens'. The least informative phrases are dropped "
               "until the budget is met. Instruction and question stay verbatim.")
    score_name = "self-information of the unit (bits)"
    score_scale = 1.0 / scoring.LN2
    Options = Options
    offline_options: dict = {}               # runs offline on the bundled scorer as it is

    @classmethod
    def clear_cache(cls) -> None:
        with _SCORES_LOCK:
            _SCORES.clear()

    def run(self, work: Work, opt: Options) -> None:
        check(opt)
        found = []
        for k in work.context_pieces():
            p = work.pieces[k]
            found += spans.find_forced(work.original, opt.force_tokens or (), p.start, p.end)
        holes = [(s, e) for s, e, _ in found]
        if opt.reduce_level == "token":
            groups = work.unit_of
        else:
            groups = spans.group_tokens(work, spans.carve(unit_spans(work, opt), holes) + holes)
            work.unit_of = groups            # a phrase or sentence is kept or dropped whole
        info = token_self_info(work)
        work.score = spans.group_values(groups, info, opt.unit_score)[groups]
        forced = np.zeros(len(work.ids), dtype=bool)
        for s, e in holes:
            forced |= (work.starts < e) & (work.ends > s)
        forced = (spans.group_values(groups, forced.astype(float), "max")[groups] > 0) & ~work.fixed
        work.keep |= forced
        eligible = ~work.fixed & ~forced
        work.fit(work.score, eligible)
        units = np.unique(groups[eligible])
        kept = np.unique(groups[eligible & work.keep])
        dropped_pct = 100.0 * (len(units) - len(kept)) / max(len(units), 1)
        level = LEVELS[opt.reduce_level]
        chunker = "" if opt.reduce_level == "token" else f" ({phrases.get_chunker(opt.chunker).name} chunker)"
        work.stages.append(Stage(f"filter: {level}", level, len(units), len(kept),
                                 f"dropped the {level} below the {dropped_pct:.0f}th percentile of "
                                 f"self-information{chunker}"))
