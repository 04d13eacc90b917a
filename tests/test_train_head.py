"""The token head's training scripts (``train/token_head_data.py``, ``train/token_head.py``) on a few real texts.

``test_minilingua.py`` checks the committed head; this file checks the code that makes it: labels come from
the bundled scorer, the word numbers read back from the labels match the words labelled, the held-out
"bits share" is 1 for the oracle's own order, and (marked slow) one short training run of each target lowers
its loss and reports figures in range (no weights written).
"""

from __future__ import annotations

import argparse
import doctest
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from lingua_core import loading

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "train"))

import token_head  # noqa: E402
import token_head_data  # noqa: E402


def test_doctests_of_the_training_scripts():
    for module in (token_head, token_head_data):
        assert doctest.testmod(module).failed == 0, module.__name__


@pytest.fixture(scope="module")
def labelled(lm, tmp_path_factory):
    """Labels for 10 GSM8K demonstrations (8 train, 2 held), written where ``train`` reads them."""
    from assets import data

    lo, _ = token_head_data.GSM8K_HELD
    texts = [data.gsm8k_demo(r) for r in data.gsm8k("train", limit=lo + 170)[lo + 160:lo + 170]]
    enc = loading.load_model("test:minilm-random-head", "cpu", kind="token-classification")
    rows = token_head_data.labels(lm, enc, texts)
    folder = tmp_path_factory.mktemp("labels")
    for name, part in (("train", rows[:8]), ("held", rows[8:])):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
    return folder, rows


def test_labels_are_word_percentiles_with_token_counts(labelled):
    _, rows = labelled
    for r in rows:
        assert len(r["label"]) == len(r["ids"]) and len(r["tokens"]) == len(r["density"]) == len(r["words"])
        assert sum(r["tokens"]) > 0.8 * len(r["words"])          # nearly every word holds a scorer token
        words = token_head.word_of_label(r)
        dens = np.nan_to_num(np.asarray(r["density"]), nan=-np.inf)
        # a token's label is its word's rank; reading the word back gives a word whose density has that rank
        ranks = np.argsort(np.argsort(dens, kind="stable"), kind="stable")
        assert np.allclose(ranks[words] / (len(dens) - 1), r["label"])


def test_bits_share_is_one_for_the_oracle_order_and_less_for_its_reverse(labelled, monkeypatch):
    _, rows = labelled
    # a "model" whose P(keep) per word is its label (ranking by percentile = ranking by density), or minus it
    monkeypatch.setattr(token_head, "word_scores",
                        lambda sign, r, cls, sep: (sign * np.unique(r["label"]), np.unique(r["label"])))
    best, worst = token_head.held_figures(1, rows, 0, 0), token_head.held_figures(-1, rows, 0, 0)
    assert best["bits_share"] == pytest.approx(1.0) and best["spearman"] == pytest.approx(1.0)
    assert worst["bits_share"] < 0.5 and worst["spearman"] == pytest.approx(-1.0)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["percentile", "bits"])
def test_a_short_training_run_learns(labelled, target):
    folder, _ = labelled
    args = argparse.Namespace(labels=folder, layers=1, epochs=3, batch=4, lr=1e-3, texts=0, seed=0, threads=2,
                              target=target, no_save=True)
    out = token_head.train(args)
    losses = [h["loss"] for h in out["history"]]
    assert losses[-1] < losses[0], losses
    last = out["history"][-1]
    assert -1 <= last["spearman"] <= 1 and 0 < last["bits_share"] <= 1 and last["texts"] == 2
    assert out["texts"] == 8 and all(n.startswith(("classifier.", "bert.encoder.layer.5.")) for n in out["names"])
