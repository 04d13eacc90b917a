"""LongLLMLingua (Jiang et al., 2024): question-aware compression of long, multi-document prompts.

Where its sibling ``llmlingua.py`` asks "which tokens surprise the model?", this method asks "which documents
and tokens matter for *this question*?". Every step uses the question:

1. Rank: each document is scored by how well it predicts the question -- the mean NLL of the question
   (plus llmlingua's " We can get the answer to this question in the given documents.") placed after the
   document (``condition_in_question="after"``; ``"before"``: the document's NLL with the question before it;
   ``"none"``: the document's own perplexity, as LLMLingua ranks). Documents are packed side by side in one
   batched pass (``scoring.score_many``), which also yields every document token's NLL without the question.
   With ``rank_method`` "bm25", "sentbert" or "gzip" a retriever (``methods/ranking.py``) ranks them instead, and the
   scorer then reads only the documents the coarse stage kept.
2. Coarse: the best-ranked documents are kept until the budget plus ``context_budget`` is used up
   (0 here, +100 in llmlingua: on the NQ benchmark the extra documents cost the best one its answer words).
   With ``use_sentence_level``, the kept documents' sentences are ranked the same way and the best kept
   (``sentence_filter.py``); the token stage then chooses inside those.
3. Reorder: kept documents are rendered best first (``"sort"``), in their original order, or best at both
   ends (``"two_stage"``); tokens inside a document never move.
4. Dynamic ratio: the kept documents get keep rates ``tau + delta``, ``delta`` falling linearly from
   ``+d`` for the best-ranked to ``-d`` for the worst (``d = dynamic_context_compression_ratio``).
5. Contrastive token scores (``condition_compare``): a token's NLL without the question minus its NLL with
   the question before the document -- how much the question makes the token expected. A second packed
   pass over the kept documents gives the conditioned NLLs.
6. Fit: inside each document tokens are ranked by that score, and a token's priority is its rank fraction
   divided by its document's rate, so ``Work.fit`` keeps the same multiple of every document's rate and
   meets the budget in the target LLM's tokenizer.

Unlike llmlingua's windowed pass, each document is scored on its own (not given the documents kept before
it): retrieved passages are independent, and packing makes the whole method about two forward passes. The
passes are cached per document, so a rate sweep over one prompt scores it once. Without a question the
method ranks and scores as LLMLingua does, and its coarse stage's note says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from .. import scoring
from . import ranking
from ..errors import InvalidRequest
from ..selection import PART_SEP, Decision, Work, rate_priority
from . import sentence_filter
from .base import Method, option, register

RANK_SUFFIX = " We can get the answer to this question in the given documents."  # llmlingua's wording
MIN_RATE = 0.02     # a document's keep rate never reaches 0, so its tokens still rank among themselves


Condition = Literal["after", "before", "none", "after_condition", "before_condition", "none_condition"]
Order = Literal["sort", "original", "two_stage"]
Ranker = Literal["longllmlingua", "bm25", "sentbert", "gzip"]


@dataclass
class Options:
    condition_in_question: Condition = option("after", 'question after or before each doc; "_condition": token '
                                              "scores too", choices=get_args(Condition))
    reorder_context: Order = option("sort", "kept documents: best first, as given, or best at both ends "
                                    "(two_stage)", choices=get_args(Order))
    dynamic_context_compression_ratio: float = option(0.3, "keep-rate spread: the best kept doc keeps +d, the "
                                                      "worst -d", low=0, high=1)
    condition_compare: bool = option(True, "token score = NLL without the question minus NLL with it")
    context_budget: int = option(0, "target tokens the coarse stage may keep beyond the budget (llmlingua: +100; "
                                    "0 keeps fewer, more whole documents)")
    use_context_level: bool = option(True, "coarse stage: drop whole documents by rank")
    use_token_level: bool = option(True, "fine stage: drop single tokens")
    force_context_ids: tuple[int, ...] = option((), "documents (0-based) always kept by the coarse stage")
    rank_method: Ranker = option("longllmlingua", "documents ranked by the scorer, or by BM25 / MiniLM / gzip "
                                 "(methods/ranking.py)", choices=get_args(Ranker))
    add_instruction: bool = option(False, "question-conditioned token scores read the instruction too")
    use_sentence_level: bool = option(False, "sentence stage between documents and tokens (sentence_filter.py)")
    keep_first_sentence: int = option(0, "sentence stage: each document's first N sentences get the bonus", low=0)
    keep_last_sentence: int = option(0, "sentence stage: each document's last N sentences get the bonus", low=0)
    keep_sentence_number: int = option(0, "sentence stage: each document's N best sentences get the bonus", low=0)
    high_priority_bonus: float = option(100.0, "sentence stage: added to a priority sentence's score")
    token_budget_ratio: float = option(1.4, "sentence stage: keeps sentences up to this x the documents' budget",
                                       above=0)


# -- the scoring passes, cached per document -----------------------------------------------------------------
def question_after(work: Work, docs: list[int], q_ids: list[int]) -> dict:
    """One packed pass over ``[doc, "\n\n", question]`` for each doc: {piece: (mean NLL of the question
    given the doc, the doc's own token NLLs as a ``scoring.DeferredNLL``)}.

    Only the question's positions go through the LM head now; a document's own NLLs are computed from the
    pass's hidden states if it is kept (the fine stage reads them), so dropped documents never pay the head.
    """
    sep = scoring.tokenize(work.lm, PART_SEP).ids
    seqs = [work.piece_ids(k) + sep + q_ids for k in docs]
    out = scoring.score_many_split(work.lm, seqs, [len(work.token_range(k)) for k in docs])
    return {k: (float(np.mean(q_nll[len(q_nll) - len(q_ids):])), alone) for k, (alone, q_nll) in zip(docs, out)}


def doc_given_question(work: Work, docs: list[int], q_ids: list[int]) -> dict:
    """Each doc's token NLLs with ``question + "\n\n"`` before it (one packed pass), keyed by piece index."""
    prefix = q_ids + scoring.tokenize(work.lm, PART_SEP).ids
    return dict(zip(docs, scoring.score_many(work.lm, [work.piece_ids(k) for k in docs], prefix)))


def doc_alone(work: Work, docs: list[int], q_ids: list[int]) -> dict:
    """Each doc's own token NLLs (``q_ids`` unused), keyed by piece index."""
    return dict(zip(docs, scoring.score_many(work.lm, [work.piece_ids(k) for k in docs])))


_CACHE = scoring.Cache(512)   # (model, pass, doc ids, question ids) -> one document's numbers; a ratio sweep
#                               over the same prompt reuses every pass


def cached_pass(work: Work, compute, docs: list[int], q_ids: list[int]) -> dict:
    """``compute(work, docs, q_ids)`` for the docs not scored the same way recently, merged with the rest."""
    keys = {k: (id(work.lm.model), compute.__name__, tuple(work.piece_ids(k)), tuple(q_ids)) for k in docs}
    found = {k: v for k, v in ((k, _CACHE.get(key)) for k, key in keys.items()) if v is not None}
    todo = [k for k in docs if k not in found]
    if todo:
        new = compute(work, todo, q_ids)
        for k, value in new.items():
            _CACHE.put(keys[k], value)
        found.update(new)
    return found


class Passes:
    """The per-document NLLs of one run, each computed at most once and only for the docs asked for.

    Token scores conditioned on the question read ``question`` (with ``add_instruction``: ``question + "\n\n"
    + instruction``, llmlingua's prefix) before each document; ranking "before" reads the question alone.
    """

    def __init__(self, work: Work, add_instruction: bool = False):
        self.work = work
        self.q_ids = scoring.tokenize(work.lm, work.request.question).ids
        prefix = work.request.question
        if add_instruction and work.request.instruction:
            prefix += PART_SEP + work.request.instruction
        self.cond_ids = scoring.tokenize(work.lm, prefix).ids
        self.alone: dict = {}                 # piece -> its tokens' NLLs without the question
        self.deferred: dict = {}              # piece -> the same, still to be read from the ranking pass

    def question_after(self, docs: list[int]) -> dict:
        rank_ids = scoring.tokenize(self.work.lm, self.work.request.question + RANK_SUFFIX).ids
        out = cached_pass(self.work, question_after, docs, rank_ids)
        self.deferred.update({k: alone for k, (_, alone) in out.items() if k not in self.alone})
        return {k: q_nll for k, (q_nll, _) in out.items()}

    def need_alone(self, docs: list[int]) -> dict:
        self.alone.update({k: self.deferred.pop(k).values() for k in docs if k in self.deferred})
        todo = [k for k in docs if k not in self.alone]
        if todo:
            self.alone.update(cached_pass(self.work, doc_alone, todo, []))
        return self.alone

    def need_given_q(self, docs: list[int]) -> dict:
        return cached_pass(self.work, doc_given_question, docs, self.q_ids)

    def need_conditioned(self, docs: list[int]) -> dict:
        """Each doc's token NLLs after the conditioning prefix (the fine stage's "with the question")."""
        return cached_pass(self.work, doc_given_question, docs, self.cond_ids)

    def question_after_texts(self, texts: list[str]) -> np.ndarray:
        """Mean NLL of the question (plus llmlingua's suffix) after each text: one packed pass, not cached."""
        rank_ids = scoring.tokenize(self.work.lm, self.work.request.question + RANK_SUFFIX).ids
        sep = scoring.tokenize(self.work.lm, PART_SEP).ids
        seqs = [scoring.tokenize(self.work.lm, t).ids + sep + rank_ids for t in texts]
        return np.asarray([float(np.mean(nll[len(nll) - len(rank_ids):]))
                           for nll in scoring.score_many(self.work.lm, seqs)])


# -- ranking: each returns {piece: (sort key, lower = better; perplexity shown)} ----------------------------
def rank_after(passes: Passes, docs: list[int]) -> dict:
    return {k: (v, math.exp(v)) for k, v in passes.question_after(docs).items()}


def rank_before(passes: Passes, docs: list[int]) -> dict:
    nll = passes.need_given_q(docs)
    return {k: (mean_nll(nll[k]), math.exp(mean_nll(nll[k]))) for k in docs}


def rank_none(passes: Passes, docs: list[int]) -> dict:
    nll = passes.need_alone(docs)
    return {k: (-mean_nll(nll[k]) if len(nll[k]) else math.inf, math.exp(mean_nll(nll[k]))) for k in docs}


def mean_nll(values: np.ndarray) -> float:
    """Mean NLL in nats; infinite for an empty document (ranked last)."""
    return float(np.mean(values)) if len(values) else math.inf


def rank_retriever(method: str):
    """A ranker by ``ranking.relevance`` (BM25, MiniLM, gzip) instead of the scorer: higher relevance first."""
    def ranker(passes: Passes, docs: list[int]) -> dict:
        work = passes.work
        texts = [work.piece_text(k) for k in docs]
        rel = ranking.relevance(method, texts, work.request.question, work.lm.device)
        return {k: (-float(r), float(r)) for k, r in zip(docs, rel)}
    return ranker


RANKERS = {"after": rank_after, "before": rank_before, "none": rank_none}
RANK_NOTES = {"after": "by the question's perplexity after each document (lowest first)",
              "before": "by each document's perplexity after the question (lowest first)",
              "none": "by each document's own perplexity (highest first)"}


def reorder_two_stage(ranked: list[int]) -> list[int]:
    """llmlingua's "two_stage": odd ranks forward, then even ranks backward (best at both ends).

    >>> reorder_two_stage([10, 11, 12, 13, 14])
    [10, 12, 14, 13, 11]
    """
    return ranked[0::2] + ranked[1::2][::-1]


ORDERS = {"sort": lambda ranked: list(ranked), "original": sorted, "two_stage": reorder_two_stage}


def dynamic_rates(n: int, tau: float, spread: float) -> np.ndarray:
    """Keep rates of ``n`` documents in rank order: ``tau`` shifted from ``+spread`` (best) to ``-spread``.

    >>> dynamic_rates(3, 0.5, 0.3).round(2).tolist(), dynamic_rates(1, 0.5, 0.3).tolist()
    ([0.8, 0.5, 0.2], [0.5])
    >>> dynamic_rates(2, 0.9, 0.3).round(2).tolist()                  # clipped to [MIN_RATE, 1]
    [1.0, 0.6]
    """
    delta = np.linspace(abs(spread), -abs(spread), n) if n > 1 else np.zeros(n)
    return np.clip(tau + delta, MIN_RATE, 1.0)


def parse_condition(value: str) -> tuple[str, bool]:
    """``condition_in_question`` as (ranking mode, token scores conditioned on the question?).

    >>> parse_condition("after"), parse_condition("before_condition")
    (('after', False), ('before', True))
    """
    mode = value[:-len("_condition")] if value.endswith("_condition") else value
    if mode not in RANKERS:
        raise InvalidRequest(f"condition_in_question={value!r}: use one of {', '.join(RANKERS)}, "
                             "optionally with the suffix '_condition'.")
    return mode, value.endswith("_condition")


SCORE_NAMES = {
    "contrastive": "question relevance: surprise without minus with the question (bits)",
    "conditioned": "self-information given the question (bits)",
    "plain": "self-information within its document (bits)",
}


def score_kind(opt: Options, conditioned: bool) -> str:
    """Which token score the options ask for (a key of ``SCORE_NAMES``)."""
    return "contrastive" if opt.condition_compare else ("conditioned" if conditioned else "plain")


def token_scores(kind: str, alone: np.ndarray | None, given: np.ndarray | None) -> np.ndarray:
    """Higher = keep: the question's effect on each token, its NLL given the question, or its plain NLL."""
    return {"contrastive": lambda: alone - given, "conditioned": lambda: given, "plain": lambda: alone}[kind]()


@register
class LongLLMLingua(Method):
    name = "longllmlingua"
    label = "LongLLMLingua (question-aware)"
    summary = ("Built for retrieval prompts: many documents and one question. Each document is ranked by how "
               "well it predicts the question; the best are kept (and moved to the front), the better-ranked "
               "ones keep more of their tokens, and inside each document the kept tokens are those the "
               "question makes more expected (surprise without the question minus surprise with it). "
               "Instruction and question stay verbatim.")
    score_name = SCORE_NAMES["contrastive"]
    score_scale = 1.0 / scoring.LN2
    question_aware = True
    Options = Options

    caches = (_CACHE,)

    def run(self, work: Work, opt: Options) -> Decision:
        mode, kind, ranker, note = plan(work, opt)
        passes = Passes(work, opt.add_instruction)
        ctx = work.context_pieces()
        d = work.decision()
        ranked = rank(d, ranker(passes, ctx))
        room = max(work.target - work.fixed_tokens(), 0)            # target tokens left for the documents
        kept = coarse(work, d, opt, ranked, room, note)
        d.order = work.ordered(ORDERS[opt.reorder_context](kept) + [k for k in ctx if k not in kept])
        eligible = work.context_mask(kept)
        if not kept:                              # no room left beside instruction and question
            return d
        in_sentences = sentence_filter.filter_sentences(work, d, opt, kept, room,
                                                        sentence_scorer(passes, opt, mode, kept), note)
        if in_sentences is not None:
            eligible &= in_sentences
        if not opt.use_token_level:
            d.keep |= eligible
            return d
        d.score_name = SCORE_NAMES[kind]                             # this run's meaning of Token.score
        fine_stage(work, d, opt, passes, kind, kept, eligible, room)
        return d


def plan(work: Work, opt: Options) -> tuple[str, str, object, str]:
    """(ranking mode, token score kind, ranker, the coarse stage's note) for this run's options."""
    mode, conditioned = parse_condition(opt.condition_in_question)
    kind = score_kind(opt, conditioned)
    if not work.request.question.strip():                       # nothing to be aware of: rank as LLMLingua
        return "none", "plain", RANKERS["none"], RANK_NOTES["none"] + " (no question was given)"
    if opt.rank_method != "longllmlingua":
        return mode, kind, rank_retriever(opt.rank_method), ranking.NOTES[opt.rank_method]
    return mode, kind, RANKERS[mode], RANK_NOTES[mode]


def sentence_scorer(passes: Passes, opt: Options, mode: str, kept: list[int]):
    """The sentence stage's score (higher = keep), ranked the way the documents were."""
    work = passes.work
    question = work.request.question.strip()

    def score(spans: list[tuple[int, int]], of: np.ndarray) -> np.ndarray:
        texts = [work.original[s:e] for s, e in spans]
        if question and opt.rank_method != "longllmlingua":
            return ranking.relevance(opt.rank_method, texts, work.request.question, work.lm.device)
        if question and mode == "after":
            return -passes.question_after_texts(texts)
        before = bool(question) and mode == "before"
        nll = passes.need_given_q(kept) if before else passes.need_alone(kept)
        values = np.full(len(work.ids), np.nan)
        for k in kept:
            values[work.token_range(k)] = nll[k]
        mean = sentence_filter.mean_per_sentence(values, of, len(spans))
        return -mean if before else mean
    return score


def fine_stage(work: Work, d: Decision, opt: Options, passes: Passes, kind: str, kept: list[int],
               eligible: np.ndarray, room: int) -> None:
    """Token scores of the kept documents, per-document dynamic rates, and the fit to the budget."""
    alone = passes.need_alone(kept) if kind != "conditioned" else {}
    given = passes.need_conditioned(kept) if kind != "plain" else {}
    size = sum(work.context_tokens(k) * float(np.mean(eligible[work.token_range(k)]))
               for k in kept if len(work.token_range(k)))
    rates = dynamic_rates(len(kept), room / max(size, 1), opt.dynamic_context_compression_ratio)
    priority = np.full(len(work.ids), -np.inf)
    for k, doc_rate in zip(kept, rates):
        idx = work.token_range(k)
        d.score[idx] = token_scores(kind, alone.get(k), given.get(k))
        mine = idx[eligible[idx]]
        priority[mine] = rate_priority(d.score[mine], doc_rate)
    work.fit(d, priority, eligible)
    d.note("fine: tokens", "tokens", int(eligible.sum()), int((d.keep & eligible).sum()),
           f"documents keep rates {rates[0]:.2f} (best) to {rates[-1]:.2f} (worst) of "
           f"their tokens, ranked inside each by {SCORE_NAMES[kind]}")


def rank(d: Decision, scores: dict) -> list[int]:
    """Context pieces best first; records each piece's rank and shown perplexity in ``d``."""
    ranked = sorted(scores, key=lambda k: (scores[k][0], k))
    d.rank(ranked, {k: v[1] for k, v in scores.items()})
    return ranked


def coarse(work: Work, d: Decision, opt, ranked: list[int], room: int, note: str) -> list[int]:
    """Keep the best-ranked documents within ``room`` (+ ``context_budget``) target tokens; drop the rest.

    Returns the kept pieces in rank order.
    """
    avail = room + (opt.context_budget if opt.use_token_level else 0)
    total = sum(work.context_tokens(k) for k in ranked)
    if not (opt.use_context_level and len(ranked) > 1 and total > avail):
        d.note("coarse: documents", "contexts", len(ranked), len(ranked), f"ranked {note}; all kept")
        return list(ranked)
    ctx = work.context_pieces()
    forced = {ctx[i] for i in opt.force_context_ids if 0 <= i < len(ctx)}
    kept = work.coarse(d, ranked, avail, overshoot=opt.use_token_level, forced=forced)
    d.note("coarse: documents", "contexts", len(ranked), len(kept),
           f"ranked {note}; kept the best within {avail} tokens")
    return kept
