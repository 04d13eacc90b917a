"""The compression core on the real bundled model: budget, determinism, verbatim parts, order, edge cases."""

from __future__ import annotations

import pytest

from lingua_core import Request, budget, compress
from lingua_core.errors import InvalidRequest
from lingua_core.methods import REGISTRY

from support.helpers import assert_in_order, offline_options


@pytest.mark.parametrize("kw", [dict(rate=0.5), dict(rate=0.33), dict(rate=0.25), dict(rate=0.15),
                                dict(target_token=150), dict(target_token=300)])
def test_budget_honoured(lm, gsm8k, kw):
    demos, question = gsm8k
    r = compress(Request(context=demos, question=question, **kw), lm)
    assert r.origin_tokens > 300
    assert budget.within(r.compressed_tokens, r.requested_tokens, r.origin_tokens), (r.compressed_tokens, kw)
    assert r.target_met and r.compressed_tokens == pytest.approx(r.requested_tokens, rel=0.10)
    assert_in_order(r)


def test_o200k_budget_counts_in_its_own_tokenizer(lm, gsm8k):
    from lingua_core.tokens import count_tokens

    demos, question = gsm8k
    r = compress(Request(context=demos, question=question, target_token=200, target_model="gpt-4o"), lm)
    assert r.compressed_tokens == count_tokens(r.compressed, "gpt-4o")
    assert budget.within(r.compressed_tokens, 200, r.origin_tokens)


def test_deterministic(lm, gsm8k):
    demos, question = gsm8k
    a = compress(Request(context=demos, question=question, rate=0.3), lm)
    b = compress(Request(context=demos, question=question, rate=0.3), lm)
    assert a.compressed == b.compressed
    assert [t.kept for t in a.tokens] == [t.kept for t in b.tokens]


def test_instruction_and_question_verbatim(lm, gsm8k):
    demos, question = gsm8k
    instruction = "Please reference the following examples to answer the math question."
    r = compress(Request(context=demos, instruction=instruction, question=question, target_token=180), lm)
    assert r.compressed.startswith(instruction + "\n\n")
    assert r.compressed.endswith("\n\n" + question)
    assert budget.within(r.compressed_tokens, 180, r.origin_tokens)
    assert_in_order(r)


def test_coarse_stage_drops_whole_demonstrations(lm, gsm8k):
    demos, question = gsm8k
    r = compress(Request(context=demos, question=question, target_token=150), lm)
    coarse = [s for s in r.stages if s.name.startswith("coarse")]
    assert coarse and coarse[0].after < coarse[0].before == len(demos)
    dropped = [p for p in r.pieces if p.role == "context" and not p.kept]
    assert dropped and all(not t.kept for t in r.tokens if r.pieces[t.piece] in dropped)
    assert all(p.rank >= 0 and p.rank_score > 1 for p in r.pieces if p.role == "context")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_question_alone_over_budget_is_reported(lm, gsm8k, name):
    demos, question = gsm8k
    r = compress(Request(context=demos, question=question * 3, target_token=20, method=name,
                         options=offline_options(name) or None), lm)
    assert r.compressed == question * 3
    assert not r.target_met and "Instruction and question alone" in r.message


@pytest.mark.parametrize("context", [[""], ["   "], [], ["Hello"], ["Hello", ""]])
def test_empty_and_tiny_inputs(lm, context):
    r = compress(Request(context=context, rate=0.5), lm)
    assert r.compressed.strip() in {"", "Hello"}
    assert r.compressed_tokens <= max(r.origin_tokens, 1)
    assert_in_order(r)


@pytest.mark.parametrize("bad", [dict(rate=0), dict(rate=1.5), dict(rate=float("nan")), dict(target_token=-5),
                                 dict(method="nope"), dict(options={"no_such_option": 1})])
def test_bad_requests_explain_themselves(lm, bad):
    with pytest.raises(InvalidRequest):
        compress(Request(context=["Some text here."], **bad), lm)


def test_multibyte_text_is_not_garbled(lm):
    text = "北京是中华人民共和国的首都。 مرحبا بالعالم 🙂🎉 Ünïcödé text keeps its characters intact."
    r = compress(Request(context=[text], rate=0.5), lm)
    assert "\ufffd" not in r.compressed
    assert_in_order(r)


@pytest.mark.slow
def test_long_prompt_past_the_context_window(lm, nq_rows_long):
    """A prompt of ~20,000 scorer tokens (past SmolLM2's 8k window) compresses to its budget."""
    import resource

    r = compress(Request(context=nq_rows_long, question="Who wrote it?", target_token=2000), lm)
    assert r.origin_scorer_tokens > 20_000
    assert budget.within(r.compressed_tokens, 2000, r.origin_tokens)
    assert_in_order(r)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n20k-token prompt: {r.origin_scorer_tokens} scorer tokens in {r.seconds:.1f} s, "
          f"peak RSS {peak:.0f} MiB")
