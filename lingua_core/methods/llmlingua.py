"""LLMLingua (Jiang et al., 2023): coarse-to-fine compression with a small causal LM.

One left-to-right pass of the scorer feeds the contexts window by window (``iterative_size`` tokens); each
window's tokens are scored conditioned on what was kept of the earlier windows, and the least surprising
ones are forgotten from the KV cache before the next window is read. From that one pass:

1. Budget controller (coarse): when the contexts exceed the budget, they are ranked by perplexity and the
   most surprising are kept until the budget plus ``context_budget`` tokens is used up.
2. Token level (fine): the kept contexts' tokens with the highest self-information are kept so the whole
   prompt meets the budget in the target LLM's tokenizer (``Work.fit``). Instruction and question stay
   verbatim.

The reference ``llmlingua`` scores contexts in a separate pass first and then re-reads the kept ones; one
pass does both jobs here, which is why this costs about one forward pass. Its sibling ``longllmlingua.py``
adds the question to these steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import scoring
from ..selection import Decision, Work
from . import sentence_filter
from .base import Method, option, register


@dataclass
class Options:
    iterative_size: int = option(200, "tokens per window of the fine stage (llmlingua's iterative_size)", low=1)
    context_budget: int = option(100, 'target tokens the coarse stage may keep beyond the budget ("+100")')
    use_context_level: bool = option(True, "coarse stage: drop whole contexts ranked by perplexity")
    use_token_level: bool = option(True, "fine stage: drop single tokens")
    force_context_ids: tuple[int, ...] = option((), "contexts (0-based) the coarse stage always keeps")
    add_instruction: bool = option(True, "the scoring pass reads the instruction first (llmlingua: False)")
    use_sentence_level: bool = option(False, "sentence stage between contexts and tokens "
                                             "(methods/sentence_filter.py)")
    keep_first_sentence: int = option(0, "sentence stage: each context's first N sentences get the bonus", low=0)
    keep_last_sentence: int = option(0, "sentence stage: each context's last N sentences get the bonus", low=0)
    keep_sentence_number: int = option(0, "sentence stage: each context's N best sentences get the bonus", low=0)
    high_priority_bonus: float = option(100.0, "sentence stage: added to a priority sentence's score (nats)")
    token_budget_ratio: float = option(1.4, "sentence stage: keeps sentences up to this x the contexts' budget",
                                       above=0)


def feed_plan(work: Work, d: Decision) -> list[tuple[int, int]]:
    """(token id, global token index or -1 for separator tokens) for the contexts ``d`` keeps, in order."""
    sep_ids = scoring.tokenize(work.lm, work.request.context_sep).ids
    plan: list[tuple[int, int]] = []
    for k in work.context_pieces():
        if not d.pieces[k].kept:
            continue
        if plan:
            plan += [(t, -1) for t in sep_ids]
        plan += [(work.ids[i], int(i)) for i in work.token_range(k)]
    return plan


SHARE_LEVELS = (0.5, 0.125)             # provisional keep shares a scoring pass is run at (see share_level)


def share_level(share: float) -> float:
    """The provisional keep share snapped to one of ``SHARE_LEVELS`` (nearest on a log scale), so one scoring
    pass serves every budget that snaps the same way: a ratio sweep from 1.5x to 20x needs two passes (plus
    one at 1.0 for a budget that keeps every context token). Results stay identical to ``compress``.

    Two levels, a factor of 4 apart: with every power of two down to 1/64 a 10-point sweep ran six passes
    (6-7x one compression). The price: past about 4x the cache keeps an eighth of each window, more than the
    final prompt keeps (the reference llmlingua caches exactly the tokens it keeps), so high ratios score
    each token given somewhat more of the earlier text.

    >>> share_level(0.67), share_level(0.3), share_level(1.0), share_level(0.2), share_level(0.04), share_level(0.0)
    (0.5, 0.5, 1.0, 0.125, 0.125, 0.125)
    """
    if share >= 1:
        return 1.0
    if share <= 0:
        return SHARE_LEVELS[-1]
    return min(SHARE_LEVELS, key=lambda level: (abs(math.log(share / level)), -level))


_PASSES = scoring.Cache(8)             # recent scoring passes: key -> (scores by plan position)


def _scored_pass(lm, plan: list[tuple[int, int]], prefix_ids: list[int], share: float, window: int) -> np.ndarray:
    """NLL (nats) for every plan position, from the cache when the same pass was run recently."""
    key = (id(lm.model), tuple(t for t, _ in plan), tuple(i < 0 for _, i in plan), tuple(prefix_ids), share,
           window)
    return _PASSES.get_or_compute(key, lambda: _windowed_pass(lm, plan, prefix_ids, share, window))


def _windowed_pass(lm, plan: list[tuple[int, int]], prefix_ids: list[int], share: float, window: int) -> np.ndarray:
    scorer = scoring.IncrementalScorer(lm, prefix_ids)
    out = np.zeros(len(plan))
    for lo in range(0, len(plan), window):
        part = plan[lo:lo + window]
        nll = scorer.feed([t for t, _ in part])
        real = np.asarray([i >= 0 for _, i in part])
        out[lo:lo + len(part)] = nll
        keep = ~real
        n_keep = int(math.ceil(share * real.sum()))
        keep[np.flatnonzero(real)[np.argsort(-nll[real], kind="stable")[:n_keep]]] = True
        scorer.keep(keep)
    return out


def iterative_scores(work: Work, d: Decision, prefix_ids: list[int], share: float, window: int) -> np.ndarray:
    """Score the contexts ``d`` keeps window by window, each window given what was kept of the earlier ones.

    In every window the ``share_level(share)`` most surprising tokens stay in the KV cache; the rest are
    forgotten before the next window is read. Scores (nats) go to ``d.score``; returns the scored mask.
    """
    plan = feed_plan(work, d)
    nll = _scored_pass(work.lm, plan, prefix_ids, share_level(share), max(int(window), 16))
    idx = np.asarray([i for _, i in plan], dtype=np.int64)
    real = idx >= 0
    d.score[idx[real]] = nll[real]
    scored = np.zeros(len(work.ids), dtype=bool)
    scored[idx[real]] = True
    return scored


def coarse(work: Work, d: Decision, opt, avail: int) -> None:
    """Budget controller: rank contexts by perplexity (from the scores already in ``d.score``) and drop the
    least perplexing ones beyond ``avail`` target tokens (``Work.coarse``)."""
    ctx = work.context_pieces()
    shown = {}
    for k in ctx:
        values = d.score[work.token_range(k)]
        shown[k] = math.exp(float(np.nanmean(values))) if len(values) else 0.0
    order = sorted(ctx, key=lambda k: (-shown[k], k))
    d.rank(order, shown)
    forced = {ctx[i] for i in opt.force_context_ids if 0 <= i < len(ctx)}
    kept = work.coarse(d, order, avail, overshoot=opt.use_token_level, forced=forced)
    d.note("coarse: contexts", "contexts", len(ctx), len(kept),
           f"ranked by perplexity; kept the most surprising within {avail} tokens")


def prefix_ids(work: Work, with_instruction: bool = True) -> list[int]:
    """What the fine stage is conditioned on before the contexts: the instruction (unless told not to)."""
    if not work.request.instruction or not with_instruction:
        return []
    return scoring.tokenize(work.lm, work.request.instruction + "\n\n").ids


@register
class LLMLingua(Method):
    name = "llmlingua"
    label = "LLMLingua (coarse-to-fine)"
    summary = ("A small LM reads the prompt. First whole demonstrations/documents are ranked by perplexity and "
               "the least surprising are dropped until the budget (plus a margin) is met. Then the kept text "
               "is read window by window, each token scored by its surprise given what was kept so far; the "
               "most predictable tokens are dropped. Instruction and question stay verbatim.")
    score_name = "self-information given kept text (bits)"
    score_scale = 1.0 / scoring.LN2
    Options = Options

    caches = (_PASSES,)

    def run(self, work: Work, opt: Options) -> Decision:
        d = work.decision()
        ctx = work.context_pieces()
        ctx_tokens = sum(work.context_tokens(k) for k in ctx)
        room = max(work.target - work.fixed_tokens(), 0)           # target tokens left for the contexts
        avail = room + (opt.context_budget if opt.use_token_level else 0)
        use_coarse = opt.use_context_level and len(ctx) > 1 and ctx_tokens > avail
        # One pass over the contexts gives both stages their scores: each window is conditioned on what was
        # kept before it, the contexts' perplexities rank them, and the token scores pick the tokens.
        # Provisional keep share per window: the final prompt's density, so the cache holds about as much text
        # as the compressed prompt will (and long prompts stay cheap to read).
        share = room / max(ctx_tokens, 1) if opt.use_token_level else 1.0
        scored = iterative_scores(work, d, prefix_ids(work, opt.add_instruction), share, opt.iterative_size)
        if use_coarse:
            coarse(work, d, opt, avail)
        kept_pieces = [k for k in ctx if d.pieces[k].kept]
        kept_ctx = work.context_mask(kept_pieces)
        in_sentences = sentence_filter.filter_sentences(
            work, d, opt, kept_pieces, room,
            lambda spans, of: sentence_filter.mean_per_sentence(d.score, of, len(spans)),
            "by their tokens' mean surprise (highest first)")
        if in_sentences is not None:
            kept_ctx &= in_sentences
        if not opt.use_token_level:
            d.keep |= kept_ctx
            return d
        eligible = scored & kept_ctx
        work.fit(d, d.score, eligible)
        d.note("fine: tokens", "tokens", int(eligible.sum()), int((d.keep & eligible).sum()),
               "each token scored by its surprise given the kept text before it; "
               "the most surprising kept to fit the budget")
        return d
