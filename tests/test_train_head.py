"""The heads' training scripts (``train/token_head_data.py``, ``train/token_head.py``, ``train/answer_head.py``)
on a few real texts.

``test_minilingua.py`` checks the committed head; this file checks the code that makes it: labels come from
the bundled scorer, the word numbers read back from the labels match the words labelled, the held-out
"bits share" is 1 for the oracle's own order, low-rank adapters saved as the script saves them and merged
as the loader merges them give the trained model's outputs, and (marked slow) one short training run of
each target, and one with adapters, lowers its loss and reports figures in range (no weights written). For the
answer head: its rows never touch the benchmark's questions or gold passages, its labels mark exactly the
answer's tokens, and (slow) a short run lowers its loss.
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

import answer_head  # noqa: E402
import lora  # noqa: E402
import token_head  # noqa: E402
import token_head_data  # noqa: E402


def test_doctests_of_the_training_scripts():
    for module in (token_head, token_head_data, lora, answer_head):
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
    # pooled: the texts share one budget; ranking by percentile inside each text is no longer the oracle's
    # order, ranking by the information itself is
    assert worst["pooled_bits_share"] < 0.5 <= best["pooled_bits_share"] <= 1.0
    monkeypatch.setattr(token_head, "word_scores", lambda sign, r, cls, sep: (
        np.nan_to_num(np.asarray(r["density"], dtype=float)[token_head.word_of_label(
            {"label": np.unique(r["label"]), "density": r["density"]})], nan=0.0), np.unique(r["label"])))
    assert token_head.held_figures(1, rows, 0, 0)["pooled_bits_share"] == pytest.approx(1.0)


def test_adapters_merged_as_the_loader_merges_them_give_the_trained_outputs():
    import torch

    from lingua_core.methods import token_head as committed

    trained, fresh = token_head.base_model(0), token_head.base_model(0)
    adapted = lora.wrap(trained, range(0, 2), rank=4, alpha=8.0)
    assert len(adapted) == 12                       # q, k, v, attention out, intermediate, out: per layer
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in trained.named_parameters():
            if name.endswith("lora_B"):
                p.normal_(0, 0.02)                  # as if trained (B starts at zero)
    saved = lora.factors(trained)
    assert set(saved) == {f"{n}.{k}" for n in adapted for k in ("lora_A", "lora_B")}
    own = fresh.state_dict()
    assert committed.misfits(own, saved) == []
    assert committed.misfits(own, {adapted[0] + ".lora_A": saved[adapted[0] + ".lora_A"].T,
                                   adapted[0] + ".lora_B": saved[adapted[0] + ".lora_B"]}) == [adapted[0] + ".lora_A"]
    committed.merge_into(own, saved)
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102]])
    with torch.inference_mode():
        a, b = trained.eval()(input_ids=ids).logits, fresh.eval()(input_ids=ids).logits
    assert not torch.allclose(a, token_head.base_model(0).eval()(input_ids=ids).logits, atol=1e-4)
    assert torch.allclose(a, b, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("target,lora_layers", [("percentile", 0), ("bits", 0), ("global", 0), ("percentile", 2)])
def test_a_short_training_run_learns(labelled, target, lora_layers):
    folder, _ = labelled
    args = argparse.Namespace(labels=folder, layers=1, epochs=3, batch=4, lr=1e-3, texts=0, seed=0, threads=2,
                              target=target, no_save=True, lora_layers=lora_layers, lora_rank=4, lora_alpha=8.0)
    out = token_head.train(args)
    losses = [h["loss"] for h in out["history"]]
    assert losses[-1] < losses[0], losses
    last = out["history"][-1]
    assert -1 <= last["spearman"] <= 1 and 0 < last["bits_share"] <= 1 and 0 < last["pooled_bits_share"] <= 1
    assert last["texts"] == 2
    assert out["texts"] == 8 and all(n.startswith(("classifier.", "bert.encoder.layer.5.")) for n in out["names"])
    assert {k.split(".")[3] for k in lora.factors(out["model"])} == ({"3", "4"} if lora_layers else set())


# -- the answer head ------------------------------------------------------------------------------------------
def test_answer_head_rows_never_touch_the_benchmark():
    import nq_cases

    rows = nq_cases.load_rows()
    train, held = answer_head.free_rows()
    cases = nq_cases.build_cases(answer_head.BENCH_CASES, rows=rows)
    gold = {nq_cases.passage(rows[c.row]) for c in cases}
    assert len(train) > 1000 and len(held) > 100 and not set(train) & set(held)
    for i in train + held:
        assert i >= answer_head.TEST_ROWS and nq_cases.passage(rows[i]) not in gold
        assert i not in {c.row for c in cases}


def test_answer_labels_mark_the_answer_tokens():
    import nq_cases
    from lingua_core.encoder import pair_layout

    tok = loading.load_model("test:minilm-random-head", "cpu", kind="token-classification").tokenizer
    rows = nq_cases.load_rows()
    train, _ = answer_head.free_rows()
    for i in train[:20]:
        r = rows[i]
        doc = nq_cases.document(3, nq_cases.passage(r))
        x = answer_head.example(tok, pair_layout(tok), nq_cases.question_part(r["question"]), doc, r["answers"])
        assert len(x["ids"]) == len(x["types"]) == len(x["labels"]) <= answer_head.MAX_LEN
        marked = tok.decode([t for t, lab in zip(x["ids"], x["labels"]) if lab == 1])
        assert x["spans"] and marked, r["answers"]
        norm = lambda t: "".join(ch for ch in t.lower() if ch.isalnum())       # noqa: E731
        assert any(norm(a) and norm(a) in norm(marked) for a in r["answers"]), (marked, r["answers"])
        assert all(lab == -1 for lab, ty in zip(x["labels"], x["types"]) if ty == 0)   # the question: no label
    neg = answer_head.example(tok, pair_layout(tok), "Question: who?\nAnswer:", "Document [1](Title: A) b c.", None)
    assert set(neg["labels"]) == {-1, 0}


@pytest.mark.slow
def test_a_short_answer_head_run_learns():
    args = argparse.Namespace(epochs=2, batch=8, lr=1e-3, lora_rank=4, lora_alpha=8.0, negatives=0.5, pos_weight=3.0,
                              rows=48, held_rows=16, seed=0, threads=2, no_save=True)
    out = answer_head.train(args)
    losses = [h["loss"] for h in out["history"]]
    assert losses[-1] < losses[0], losses
    last = out["history"][-1]
    assert out["rows"] == 48 and last["pairs"] <= 16 and 0 <= last["top1"] <= 1 and 0 <= last["all_in_top8"] <= 1
