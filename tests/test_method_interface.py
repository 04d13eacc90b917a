"""The method interface, for every registered method: ``run`` reads a ``Work`` and returns a ``Decision``, keeps
nothing on the instance, and every option is declared (help, allowed values) and checked before any model work.
Also the one cache helper: every reuse cache is a registered ``scoring.Cache``, and the app's heatmap and the
sweep read one shared whole-text pass."""

from __future__ import annotations

import importlib
from dataclasses import fields

import numpy as np
import pytest

from lingua_core import Request, compress, scoring
from lingua_core.errors import InvalidRequest
from lingua_core.methods import REGISTRY, Method, clear_caches, get_method
from lingua_core.selection import Decision, Work, layout

compress_module = importlib.import_module("lingua_core.compress")   # the module (the package exports the function)


def constrained_fields():
    """(method, field, a value its declaration refuses) for every field with choices or a range."""
    out = []
    for name, cls in REGISTRY.items():
        for f in fields(cls.Options):
            meta = f.metadata
            if meta.get("choices"):
                out.append((name, f.name, "no-such-value"))
            elif meta.get("low") is not None:
                out.append((name, f.name, meta["low"] - 1))
            elif meta.get("above") is not None:
                out.append((name, f.name, meta["above"]))
            elif meta.get("high") is not None:
                out.append((name, f.name, meta["high"] + 1))
    return out


@pytest.fixture
def no_model_work(monkeypatch):
    """Make loading or running any model fail loudly: an option error must come before either."""
    def refuse(*args, **kwargs):
        raise AssertionError("model work started before the options were checked")
    monkeypatch.setattr(compress_module, "load_model", refuse)
    monkeypatch.setattr(scoring, "score_many", refuse)
    monkeypatch.setattr(scoring, "IncrementalScorer", refuse)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_run_returns_a_decision_and_keeps_no_state(name, lm, gsm8k):
    demos, question = gsm8k
    method = get_method(name)
    assert isinstance(method, Method)
    opt = method.options(dict(REGISTRY[name].offline_options))
    request, parsed = method.prepare(Request(context=demos[:2], question=question, rate=0.5, method=name), opt)
    work = Work(request, lm, parsed)
    before = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in vars(work).items() if k != "pieces"}
    decision = method.run(work, opt)
    assert isinstance(decision, Decision)
    assert len(decision.keep) == len(decision.score) == len(work.ids)
    assert decision.keep.dtype == bool and decision.keep[work.fixed].all()     # instruction and question kept
    assert vars(method) == {}                                                  # nothing kept on the instance
    assert work.pieces == layout(request)[1]                                   # the Work was only read
    assert set(vars(work)) == set(before) | {"pieces"}
    for key, value in before.items():
        same = np.array_equal(value, vars(work)[key]) if isinstance(value, np.ndarray) else value == vars(work)[key]
        assert same, key


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_option_is_declared_with_help(name):
    for f in fields(REGISTRY[name].Options):
        assert f.metadata.get("help", "").strip(), f"{name}.{f.name} has no help"
        assert set(f.metadata) >= {"help", "choices", "low", "high"}, f"{name}.{f.name} is not declared with option()"
        REGISTRY[name].options({f.name: f.default})                          # every default is allowed


@pytest.mark.parametrize("name,field_name,bad", constrained_fields())
def test_bad_option_values_are_refused_before_model_work(name, field_name, bad, no_model_work, gsm8k):
    demos, question = gsm8k
    with pytest.raises(InvalidRequest, match=field_name):
        compress(Request(context=demos[:2], question=question, method=name, options={field_name: bad}))


def test_cross_option_rules_are_refused_before_model_work(no_model_work, gsm8k):
    demos, question = gsm8k
    with pytest.raises(InvalidRequest, match="question-aware rank_method"):
        compress(Request(context=demos[:2], question=question, method="structured",
                         options={"rank_method": "llmlingua", "condition_compare": True}))


def test_wrapped_help_is_whole():
    help_text = {f.name: f.metadata["help"] for f in fields(REGISTRY["selective_context"].Options)}
    assert help_text["chunker"].endswith('"spacy" or "rules"')


def test_every_cache_is_registered_and_cleared(lm, gsm8k):
    demos, question = gsm8k
    for name in ("llmlingua", "selective_context", "longllmlingua", "minilingua"):
        assert REGISTRY[name].caches and all(c in scoring._CACHES for c in REGISTRY[name].caches), name
        compress(Request(context=demos[:2], question=question, rate=0.5, method=name), lm)
        assert any(len(c) for c in REGISTRY[name].caches), name
    scoring.unconditional(lm, demos[0])
    clear_caches()
    assert all(len(c) == 0 for c in scoring._CACHES)


def test_the_heatmap_and_the_sweep_share_one_pass(lm, gsm8k, monkeypatch):
    from lingua_core.sweep import char_information, original_information
    from ui.heatmap import self_information

    text = gsm8k[0][0]
    clear_caches()
    calls = []
    real = scoring.score
    monkeypatch.setattr(scoring, "score", lambda *a, **k: calls.append(1) or real(*a, **k))
    spans, bits = self_information(lm, text)
    info = original_information(lm, text)
    assert len(calls) == 1                                                     # one pass served both
    np.testing.assert_allclose(info, char_information(len(text), spans, bits * scoring.LN2), rtol=1e-12)
