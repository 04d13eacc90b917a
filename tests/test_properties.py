"""Property-based test: generated prompts through every registered method on the real bundled model.

At least 1,000 generated inputs per full run across the methods (``EXAMPLES`` per method, marked ``slow``:
``make test-all`` and CI); ``make test`` runs ``QUICK`` derandomized inputs per method.
For each: no crash, the compressed prompt is an in-order subsequence of the original, the budget is met
within its tolerance (or the result says why not), and instruction and question survive verbatim.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lingua_core import REGISTRY, Request, budget, compress

from support.helpers import assert_in_order

EXAMPLES = max(1000 // max(len(REGISTRY), 1) + 1, 50)
QUICK = 15                  # per method in `make test` (the scoring methods take ~1 s an input on 2 cores)

# Text of every script (letters, digits, punctuation, spaces, controls, emoji), no lone surrogates here:
# those are clamped before scoring and tested in test_compress.
chars = st.characters(blacklist_categories=("Cs",))
words = st.text(alphabet=chars, max_size=60) | st.sampled_from(
    ["The answer is 42.", "北京是中国的首都。", "مرحبا بالعالم", "🙂🎉", "<b>bold</b>", "  ", "\n\n", "x = 3.14"])
contexts = st.lists(st.text(alphabet=chars, max_size=120) | words, min_size=0, max_size=4).filter(
    lambda cs: sum(len(c) for c in cs) <= 300)


@pytest.mark.parametrize("examples", [pytest.param(QUICK, id="quick"),
                                      pytest.param(EXAMPLES, id="full", marks=pytest.mark.slow)])
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_generated_prompts_keep_the_invariants(lm, name, examples):
    options = dict(getattr(REGISTRY[name], "offline_options", {}) or {})

    @settings(max_examples=examples, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(context=contexts, question=st.sampled_from(["", "Question: what is it?", "问题？"]),
           rate=st.floats(0.05, 1.0), use_target=st.booleans(), target=st.integers(1, 400))
    def check(context, question, rate, use_target, target):
        request = Request(context=context, question=question, rate=rate, target_token=target if use_target else -1,
                          method=name, options=dict(options) or None)
        r = compress(request, lm)
        assert_in_order(r)
        if question:
            assert r.compressed.endswith(question)
        assert r.compressed_tokens <= r.origin_tokens
        if not budget.within(r.compressed_tokens, r.requested_tokens, r.origin_tokens):
            assert not r.target_met and r.message
        assert not math.isnan(r.ratio)

    check()
