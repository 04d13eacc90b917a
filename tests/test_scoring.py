"""The shared measuring instrument on the real bundled scorer: packed passes give ``score``'s numbers, and the
LM head that ``score_many_split`` leaves for later gives the same numbers whenever it runs (even after the held
hidden states are gone)."""
from __future__ import annotations

import numpy as np
import pytest

from assets.data import nq_passage
from lingua_core import Request, compress, scoring


@pytest.fixture()
def docs(lm, nq_rows):
    texts = [nq_passage(row) for row in nq_rows[:4]]
    return [scoring.tokenize(lm, t).ids for t in texts]


def test_the_bundled_scorer_has_a_separable_head(lm):
    assert scoring.head_split(lm) is True


def test_packed_scores_equal_one_pass_each(lm, docs):
    prefix = scoring.tokenize(lm, "Question: who wrote it?").ids
    held = len(scoring._HELD._data)
    packed = scoring.score_many(lm, docs, prefix_ids=prefix)
    assert len(scoring._HELD._data) == held          # nothing deferred, so no hidden states are held
    for ids, nll in zip(docs, packed):
        np.testing.assert_allclose(nll, scoring.score(lm, ids, prefix), atol=2e-4)


def test_deferred_head_gives_the_same_numbers(lm, docs):
    whole = scoring.score_many(lm, docs)
    defer = [len(ids) // 2 for ids in docs]
    split = scoring.score_many_split(lm, docs, defer)
    for j, (nll, d, (later, now)) in enumerate(zip(whole, defer, split)):
        if j == 2:                    # the held hidden states are dropped: values() scores the tokens again
            scoring.clear_caches()
        assert len(later) == d and len(now) == len(nll) - d
        np.testing.assert_allclose(now, nll[d:], atol=1e-6)
        np.testing.assert_allclose(later.values(), nll[:d], atol=2e-4)
        assert later.values() is later.values()           # computed once


def test_longllmlingua_reads_the_same_scores_with_and_without_the_deferred_head(lm, nq_rows, monkeypatch):
    req = Request(context=[nq_passage(row) for row in nq_rows[:4]], question=nq_rows[2]["question"],
                  rate=0.25, method="longllmlingua")
    scoring.clear_caches()
    deferred = compress(req, lm)
    scoring.clear_caches()
    monkeypatch.setattr(scoring, "_SPLIT_OK", {id(lm.model): False})   # full logits everywhere, as before
    full = compress(req, lm)
    scoring.clear_caches()
    kept = [p.kept for p in deferred.pieces if p.role == "context"]
    assert any(kept) and not all(kept)          # kept documents read the deferred head, dropped ones never did
    assert deferred.compressed == full.compressed
    np.testing.assert_allclose([t.score for t in deferred.tokens], [t.score for t in full.tokens], atol=1e-3)
