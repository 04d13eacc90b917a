"""Every registered method on the real bundled model, and what is particular to the question-aware,
structured and baseline methods.

The invariants run over ``REGISTRY`` (methods other files add included): the budget is met, the compressed
prompt is made of the original's spans in order (contexts in the order the method renders them),
instruction and question survive verbatim, and the same input gives the same output. A method whose model
cannot run offline names the options that can in ``offline_options``; one whose model is missing is skipped
with the loader's message.
"""

from __future__ import annotations

import functools
import random
from dataclasses import fields

import pytest

from assets.data import nq_passage

from lingua_core import REGISTRY, Request, budget, compress
from lingua_core.errors import InvalidRequest, ModelLoadError
from lingua_core.methods import clear_caches
from lingua_core.recover import recover

from support.helpers import assert_in_order, is_subsequence, offline_options

INSTRUCTION = "Answer the question using the documents below."
BUDGETS = {"rate 0.5": dict(rate=0.5), "rate 0.25": dict(rate=0.25), "150 tokens": dict(target_token=150)}


def nq_case(rows: list[dict], i: int, n_others: int = 4, seed: int = 0) -> tuple[list[str], str, int]:
    """(documents, question, index of the gold one): row ``i``'s passage among other questions' passages."""
    rng = random.Random(seed + i)
    docs = [nq_passage(rows[j]) for j in rng.sample([j for j in range(len(rows)) if j != i], n_others)]
    gold = rng.randrange(n_others + 1)
    docs.insert(gold, nq_passage(rows[i]))
    return docs, f"Question: {rows[i]['question']}?\nAnswer:", gold


def taking(option: str) -> list[str]:
    """The registered methods whose Options have a field ``option``."""
    return sorted(n for n, cls in REGISTRY.items() if option in {f.name for f in fields(cls.Options)})


@pytest.fixture(scope="module")
def case(nq_rows):
    return nq_case(nq_rows, 0)


@pytest.fixture(scope="module")
def run(lm, case):
    """Compress the shared 5-document NQ case with a method and budget, once per module."""
    docs, question, _ = case

    @functools.lru_cache(maxsize=None)
    def go(name: str, budget_name: str):
        request = Request(context=docs, instruction=INSTRUCTION, question=question, method=name,
                          options=offline_options(name) or None, **BUDGETS[budget_name])
        try:
            return compress(request, lm)
        except ModelLoadError as e:
            pytest.skip(f"{name}: {e}")

    return go


# -- every registered method ------------------------------------------------------------------------------
@pytest.mark.parametrize("budget_name", list(BUDGETS))
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_budget_honoured(run, name, budget_name):
    r = run(name, budget_name)
    assert r.origin_tokens > 500
    assert budget.within(r.compressed_tokens, r.requested_tokens, r.origin_tokens), (r.compressed_tokens,
                                                                                    r.requested_tokens)
    assert r.target_met


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_in_order_subsequence_and_verbatim_parts(run, case, name):
    for budget_name in BUDGETS:
        r = run(name, budget_name)
        assert_in_order(r)                      # kept tokens are the original's spans; the prompt is made of them
        assert r.compressed.startswith(INSTRUCTION + "\n\n") and r.compressed.endswith("\n\n" + case[1])
        for p in r.pieces:                      # each context's kept text comes from that context, in order
            body = "".join(t.text for t in r.tokens if t.kept and r.pieces[t.piece] is p)
            assert is_subsequence(body, r.original[p.start:p.end])


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_deterministic(lm, nq_rows, name):
    docs, question, _ = nq_case(nq_rows, 1)
    out = []
    for _ in range(2):
        clear_caches()                          # a real second computation, not a reused pass
        request = Request(context=docs, question=question, rate=0.3, method=name,
                          options=offline_options(name) or None)
        try:
            out.append(compress(request, lm))
        except ModelLoadError as e:
            pytest.skip(f"{name}: {e}")
    assert out[0].compressed == out[1].compressed
    assert [t.kept for t in out[0].tokens] == [t.kept for t in out[1].tokens]


@pytest.mark.parametrize("name", taking("force_context_ids"))
def test_forced_contexts_survive(lm, case, name):
    docs, question, _ = case
    options = {**offline_options(name), "force_context_ids": (3,)}
    r = compress(Request(context=docs, question=question, target_token=120, method=name, options=options), lm)
    assert r.pieces[3].role == "context" and r.pieces[3].kept
    assert any(t.kept for t in r.tokens if t.piece == 3)


@pytest.mark.parametrize("name", taking("force_tokens"))
def test_forced_tokens_survive(lm, case, name):
    docs, question, _ = case
    forced = docs[2].split()[0]
    options = {**offline_options(name), "force_tokens": (forced,)}
    r = compress(Request(context=docs, question=question, rate=0.2, method=name, options=options), lm)
    assert r.compressed.count(forced) >= "\n\n".join(docs).count(forced)


@pytest.mark.parametrize("name", sorted(n for n, cls in REGISTRY.items() if cls.question_aware))
def test_question_aware_methods_rank_the_gold_passage_first(lm, nq_rows, name):
    for i in (2, 3, 4):
        docs, question, gold = nq_case(nq_rows, i)
        r = compress(Request(context=docs, question=question, rate=0.25, method=name,
                             options=offline_options(name) or None), lm)
        assert r.pieces[gold].rank == 0, (i, [p.rank for p in r.pieces])
        assert r.pieces[gold].kept


# -- LongLLMLingua --------------------------------------------------------------------------------------------
def test_longllmlingua_sorts_by_rank_and_keeps_more_of_the_best(lm, case):
    docs, question, _ = case      # context_budget=100 (llmlingua's): several documents survive the coarse stage
    r = compress(Request(context=docs, instruction=INSTRUCTION, question=question, rate=0.25, method="longllmlingua",
                         options={"context_budget": 100}), lm)
    ranked = sorted((p for p in r.pieces if p.role == "context" and p.kept), key=lambda p: p.rank)
    assert len(ranked) >= 2
    assert r.context_order[:len(ranked)] == [p.index for p in ranked]
    share = [sum(t.kept for t in r.tokens if r.pieces[t.piece] is p) / sum(r.pieces[t.piece] is p for t in r.tokens)
             for p in ranked]
    assert share[0] > share[-1]
    coarse = [s for s in r.stages if s.name.startswith("coarse")]
    assert coarse and coarse[0].after < coarse[0].before == 5


@pytest.mark.parametrize("options", [
    dict(reorder_context="original", force_context_ids=(1,)),
    dict(reorder_context="two_stage", dynamic_context_compression_ratio=0.0, condition_in_question="before"),
    dict(condition_compare=False), dict(condition_compare=False, condition_in_question="none_condition"),
])
def test_longllmlingua_options(lm, nq_rows, options):
    docs, question, _ = nq_case(nq_rows, 0)
    r = compress(Request(context=docs, question=question, rate=0.25, method="longllmlingua", options=options), lm)
    assert budget.within(r.compressed_tokens, r.requested_tokens, r.origin_tokens)
    assert_in_order(r)
    if options.get("reorder_context") == "original":
        assert r.context_order == sorted(r.context_order) and is_subsequence(r.compressed, r.original)
    if "force_context_ids" in options:
        assert r.pieces[1].kept
    assert ("surprise without minus with" in r.score_name) == options.get("condition_compare", True)


def test_longllmlingua_without_a_question_ranks_like_llmlingua(lm, gsm8k):
    demos, _ = gsm8k
    r = compress(Request(context=demos[:4], rate=0.3, method="longllmlingua"), lm)
    assert budget.within(r.compressed_tokens, r.requested_tokens, r.origin_tokens)
    assert "no question" in r.stages[0].note


@pytest.mark.parametrize("bad", [dict(reorder_context="random"), dict(condition_in_question="middle"),
                                 dict(dynamic_context_compression_ratio=2.0)])
def test_longllmlingua_bad_options(lm, bad):
    with pytest.raises(InvalidRequest):
        compress(Request(context=["A b.", "C d."], question="Q?", method="longllmlingua", options=bad), lm)


def test_drop_in_names_reach_longllmlingua_and_recover(lm, nq_rows):
    from lingua_core import PromptCompressor

    docs, question, gold = nq_case(nq_rows, 2)
    pc = PromptCompressor(model_name="bundled", device_map="cpu")
    out = pc.compress_prompt(docs, question=question, rate=0.3, rank_method="longllmlingua",
                             condition_in_question="after_condition", reorder_context="sort",
                             dynamic_context_compression_ratio=0.3, condition_compare=True, context_budget="+100")
    assert pc.last_result.method == "longllmlingua" and pc.last_result.pieces[gold].rank == 0
    original = pc.last_result.original
    recovered = pc.recover(original, out["compressed_prompt"], out["compressed_prompt"][:300])
    words = recovered.split()
    assert sum(w in original for w in words) == len(words)


# -- structured prompts -------------------------------------------------------------------------------------
def test_structured_segments_keep_their_rates_and_verbatim_parts(lm, gsm8k):
    demos, question = gsm8k
    keep = "Keep this sentence exactly: 17 pens cost $3.40 each."
    ctx = [f"<llmlingua, rate=0.2>{demos[0]}</llmlingua><llmlingua, compress=False>\n{keep}\n</llmlingua>"
           f"{demos[1]}", f"<llmlingua, rate=0.9>{demos[2]}</llmlingua>"]
    r = compress(Request(context=ctx, question=question, rate=0.5, method="structured"), lm)
    assert keep in r.compressed and "<llmlingua" not in r.original
    assert budget.within(r.compressed_tokens, r.requested_tokens, r.origin_tokens)
    assert_in_order(r)

    def kept_share(text: str) -> float:
        start = r.original.index(text)
        toks = [t for t in r.tokens if start <= t.start < start + len(text)]
        return sum(t.kept for t in toks) / len(toks)

    assert kept_share(demos[0]) < kept_share(demos[1]) < kept_share(demos[2])
    assert abs(kept_share(demos[2]) - 0.9) < 0.15 and abs(kept_share(demos[0]) - 0.2) < 0.1


@pytest.mark.parametrize("bad", ["<llmlingua, rate=__import__('os')>x</llmlingua>",
                                 "<llmlingua, rate=1.5>x</llmlingua>", "<llmlingua, speed=2>x</llmlingua>",
                                 "<llmlingua, compress=maybe>x</llmlingua>", "<llmlingua, rate=0.4>unclosed",
                                 "<llmlingua>a<llmlingua, rate=0.3>nested</llmlingua></llmlingua>"])
def test_structured_rejects_bad_tags(lm, bad):
    with pytest.raises(InvalidRequest):
        compress(Request(context=[bad], method="structured"), lm)


def test_structured_drop_in(lm):
    from lingua_core import PromptCompressor

    pc = PromptCompressor(model_name="bundled", device_map="cpu")
    text = ("<llmlingua, compress=False>Speaker 4:</llmlingua><llmlingua, rate=0.4> Thank you. And can we do the "
            "functions for content? Items I believe are 11, 3, 14, 16 and 28, I believe.</llmlingua>")
    out = pc.structured_compress_prompt([text], rate=0.5)
    assert out["compressed_prompt"].startswith("Speaker 4:")


# -- baselines ----------------------------------------------------------------------------------------------
def test_random_drop_depends_on_its_seed_only(lm, gsm8k):
    demos, question = gsm8k

    def go(seed):
        return compress(Request(context=demos, question=question, rate=0.3, method="random",
                                options={"seed": seed}), lm).compressed

    assert go(1) == go(1) != go(2)


def test_first_n_keeps_a_prefix(lm, gsm8k):
    demos, question = gsm8k
    r = compress(Request(context=demos, question=question, rate=0.3, method="first_n"), lm)
    body = r.compressed[:-len(question)].rstrip()
    assert "\n\n".join(demos).startswith(body)
    assert budget.within(r.compressed_tokens, r.requested_tokens, r.origin_tokens)


# -- recovery -----------------------------------------------------------------------------------------------
def test_recover_restores_the_original_spelling():
    original = "Sam bought a dozen boxes, each with 30 highlighter pens inside, for $10 each box."
    compressed = "Sam bought dozen boxes each 30lighter pens, $10 each box."
    assert recover(original, compressed, "He bought 30lighter pens.") == "He bought 30 highlighter pens."
    assert recover(original, compressed, "Sam bought dozen boxes") == "Sam bought a dozen boxes"
    assert recover(original, compressed, "Nothing here matches.") == "Nothing here matches."
    assert recover(original, compressed, "") == ""
