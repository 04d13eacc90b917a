"""Ratio sweeps on the real bundled model: every point is what compress() returns (also when a scoring pass
is reused), the quality proxy and savings behave, every registered method sweeps, and the answer hook works
with the local backend. Tests share one 4-demonstration GSM8K prompt so the cached information pass serves
them all."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from lingua_core import Request, compress
from lingua_core.errors import InvalidRequest
from lingua_core.methods import REGISTRY, clear_caches, llmlingua
from lingua_core.sweep import (TABLE_FIELDS, char_information, clear_cache, geometric_ratios, info_kept,
                               original_information, sweep, sweep_table)


@pytest.fixture(scope="module")
def request4(gsm8k):
    demos, question = gsm8k
    return Request(context=demos[:4], question=question)


@pytest.fixture(scope="module")
def llmlingua_points(lm, request4):
    """2.0x and 2.1x round to one provisional keep share (one pass); 6x needs another."""
    clear_caches()
    clear_cache()
    points = sweep(request4, [2.0, 2.1, 6.0], ["llmlingua"], lm)
    return points, len(llmlingua._PASSES)


def has_reuse_cache(method: str) -> bool:
    return bool(REGISTRY[method].caches)


def same(a, b) -> bool:
    return a.compressed == b.compressed and [t.kept for t in a.tokens] == [t.kept for t in b.tokens]


def test_reused_pass_gives_the_fresh_compression(lm, llmlingua_points):
    points, passes = llmlingua_points
    assert passes == 2                                       # 2.0x and 2.1x shared one scoring pass
    clear_caches()
    fresh = compress(points[1].request, lm)                  # the point that reused the pass, from cold
    assert same(points[1].result, fresh)
    assert points[1].ratio == fresh.ratio and points[1].compressed_tokens == fresh.compressed_tokens


def test_points_describe_their_compressions(llmlingua_points):
    points, _ = llmlingua_points
    assert [p.requested_ratio for p in points] == [2.0, 2.1, 6.0] and {p.method for p in points} == {"llmlingua"}
    for p in points:
        assert p.request.rate == pytest.approx(1 / p.requested_ratio) and p.request.target_token == -1
        assert p.ratio == p.result.ratio and p.seconds == p.result.seconds
        assert p.ratio == pytest.approx(p.requested_ratio, rel=0.1) and p.target_met
    info = [p.info_kept for p in points]
    assert 0 < info[2] < info[0] < 1
    assert 0 < points[0].saving < points[2].saving


def test_answer_hook_with_the_local_backend(lm, request4):
    from lingua_core.backends import get_backend
    from lingua_core.sweep import backend_answerer

    ask = backend_answerer(get_backend("local"), max_new_tokens=4)
    (p,) = sweep(request4, [2.0], None, lm, answer=ask, gold=["18"])   # reuses the 2x pass above
    assert isinstance(p.answer, str) and isinstance(p.reference_answer, str)
    assert 0 <= p.agreement <= 1 and isinstance(p.correct, bool)


def test_every_registered_method_in_one_sweep(lm, request4):
    methods = {m: dict(getattr(REGISTRY[m], "offline_options", {}) or {}) or None for m in sorted(REGISTRY)}
    seen = []
    points = sweep(request4, [4.0], methods, lm, price_model="gpt-4o", progress=lambda i, n: seen.append((i, n)))
    assert [p.method for p in points] == list(methods)
    assert seen == [(i, len(points)) for i in range(1, len(points) + 1)]
    for p in points:
        assert 0 <= p.info_kept <= 1 and p.saving > 0
        if has_reuse_cache(p.method):      # without one, a point is a plain compress() call by construction
            clear_caches()
            assert same(p.result, compress(p.request, lm)), p.method
    rows = sweep_table(points)
    assert [set(r) for r in rows] == [set(TABLE_FIELDS)] * len(points)
    assert [r["point"] for r in rows] == list(range(len(points)))
    assert all(isinstance(r["ratio"], float) and r["answer"] is None for r in rows)


def test_info_kept_is_one_when_all_is_kept(lm, llmlingua_points):
    r = llmlingua_points[0][0].result
    everything = replace(r, tokens=[replace(t, kept=True) for t in r.tokens])
    assert info_kept(everything, original_information(lm, r.original)) == pytest.approx(1.0)
    nothing = replace(r, tokens=[replace(t, kept=False) for t in r.tokens])
    assert info_kept(nothing, original_information(lm, r.original)) == 0.0


def test_information_is_spread_over_characters(lm, llmlingua_points):
    original = llmlingua_points[0][0].result.original
    info = original_information(lm, original)
    assert info is original_information(lm, original)          # cached per prompt
    assert len(info) == len(original) and np.all(info >= 0) and info.sum() > 100
    assert char_information(3, [(0, 3), (1, 2)], np.array([3.0, 2.0])).tolist() == [1.0, 3.0, 1.0]


@pytest.mark.parametrize("ratios, methods", [([0.5], None), ([float("nan")], None), ([], None),
                                              ([2.0], ["no_such_method"]), ([2.0], {"llmlingua": {"bad": 1}})])
def test_bad_sweeps_explain_themselves(lm, request4, ratios, methods):
    with pytest.raises(InvalidRequest):
        sweep(request4, ratios, methods, lm)


def test_unpriced_model_fails_before_work(lm, request4):
    with pytest.raises(InvalidRequest, match="No price"):
        sweep(request4, [2.0], None, lm, price_model="no-such-llm-xyz")


def test_geometric_ratios():
    r = geometric_ratios(1.5, 20, 10)
    assert len(r) == 10 and r[0] == 1.5 and math.isclose(r[-1], 20)
    assert all(b / a == pytest.approx(r[1] / r[0]) for a, b in zip(r, r[1:]))


def test_llmlingua_sweeps_need_at_most_two_scoring_passes():
    """Every keep share below 1 snaps to one of two levels, so any ratio sweep runs LLMLingua's conditioning
    pass at most twice (the issue's bar: a 10-point sweep costs at most 4x one compression)."""
    shares = np.geomspace(1e-4, 0.999, 200)
    assert len(llmlingua.SHARE_LEVELS) == 2
    assert {llmlingua.share_level(s) for s in shares} == set(llmlingua.SHARE_LEVELS)
    assert llmlingua.share_level(1.0) == 1.0
