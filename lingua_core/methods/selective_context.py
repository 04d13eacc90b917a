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

from dataclasses import dataclass

import numpy as np

from .. import phrases, scoring, spans
from ..selection import Decision, Work
from .base import Method, option, register

LEVELS = {"token": "tokens", "phrase": "phrases", "sent": "sentences"}   # reduce_level (the reference's names)
UNIT_SCORES = ("sum", "mean")


@dataclass
class Options:
    reduce_level: str = option("phrase", 'lexical unit: "token", "phrase" or "sent"', choices=tuple(LEVELS))
    chunker: str = option("auto", 'phrase/sentence splitter: "auto" (spaCy if installed, else rules), "spacy" '
                                  'or "rules"', choices=("auto",) + tuple(phrases.CHUNKERS))
    unit_score: str = option("sum", "a unit's self-information from its tokens': \"sum\" (paper) or \"mean\"",
                             choices=UNIT_SCORES)
    force_tokens: tuple[str, ...] = option((), "strings always kept (cut out of their unit, kept on their own)")


def unit_spans(work: Work, opt: Options) -> list[tuple[int, int]]:
    """Phrase or sentence spans of every context, as spans of the original prompt."""
    chunker = phrases.get_chunker(opt.chunker)
    split = chunker.sentences if opt.reduce_level == "sent" else chunker.phrases
    out = []
    for k in work.context_pieces():
        p = work.pieces[k]
        out += [(s + p.start, e + p.start) for s, e in split(work.original[p.start:p.end])]
    return out


_SCORES = scoring.Cache(16)     # (model, token ids of the contexts) -> NLL per context


def token_self_info(work: Work) -> np.ndarray:
    """NLL (nats) of every context token given the tokens before it in its own context.

    The scores of the latest prompts are kept for reuse: a ratio sweep, or another ``reduce_level``, scores
    nothing anew (keyed by all the contexts together, so a prompt always gets the same numbers).
    """
    ctx = work.context_pieces()
    key = (id(work.lm.model), tuple(tuple(work.piece_ids(k)) for k in ctx))
    nll = _SCORES.get_or_compute(key, lambda: scoring.score_many(work.lm, [list(ids) for ids in key[1]]))
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

    caches = (_SCORES,)

    def run(self, work: Work, opt: Options) -> Decision:
        found = work.find(opt.force_tokens or ())
        d = work.decision()
        if opt.reduce_level == "token":
            groups = work.unit_of
        else:
            d.units = groups = work.units_from_spans(unit_spans(work, opt), whole=found)
        info = token_self_info(work)                  # a phrase or sentence is kept or dropped whole
        d.score = spans.group_values(groups, info, opt.unit_score)[groups]
        forced = work.forced_units(found, groups)
        d.keep |= forced
        eligible = ~work.fixed & ~forced
        work.fit(d, d.score, eligible)
        units = np.unique(groups[eligible])
        kept = np.unique(groups[eligible & d.keep])
        dropped_pct = 100.0 * (len(units) - len(kept)) / max(len(units), 1)
        level = LEVELS[opt.reduce_level]
        chunker = "" if opt.reduce_level == "token" else f" ({phrases.get_chunker(opt.chunker).name} chunker)"
        d.note(f"filter: {level}", level, len(units), len(kept),
               f"dropped the {level} below the {dropped_pct:.0f}th percentile of self-information{chunker}")
        return d
