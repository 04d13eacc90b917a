"""MiniLingua (encoder-first, question-aware) and the bundled token head it and ``llmlingua2`` load offline.

The registry-parametrised invariants (budget, in-order subsequence, forced tokens and contexts, gold passage
ranked first) already run minilingua from ``test_methods.py``; this file checks what is its own: the Auto
budget (reports the ratio it reached, never passes the ceiling), its stages, the scorer word mode, and that
the committed head loads offline and ranks held-back words by the scorer's self-information better than
the random test head does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from lingua_core import Request, compress, loading
from lingua_core.errors import InvalidRequest

from test_methods import INSTRUCTION, nq_case

ROOT = Path(__file__).resolve().parents[1]


def request(nq_rows, i=0, **kw) -> Request:
    docs, question, _ = nq_case(nq_rows, i)
    return Request(context=docs, instruction=INSTRUCTION, question=question, method="minilingua", **kw)


@pytest.mark.parametrize("rate", [0.5, 0.25])
def test_auto_reports_its_ratio_and_stays_under_the_ceiling(lm, nq_rows, rate):
    fixed = compress(request(nq_rows, rate=rate), lm)
    for i in (0, 1, 2):
        r = compress(request(nq_rows, i, rate=rate, options={"auto": True}), lm)
        ceiling = round(rate * r.origin_tokens)
        assert r.compressed_tokens <= ceiling + 1, (r.compressed_tokens, ceiling)
        assert r.requested_tokens == r.compressed_tokens and r.target_met
        auto = [s for s in r.stages if s.name.startswith("auto")]
        assert auto and f"{r.ratio:.1f}x" in auto[0].note
        assert r.ratio >= 1 / rate - 0.1
    assert fixed.ratio < 1 / rate + 0.5         # without auto the budget is filled


def test_auto_with_a_tight_ceiling_cuts_words(lm, nq_rows):
    r = compress(request(nq_rows, rate=0.05, options={"auto": True, "auto_margin": 1.0}), lm)
    assert r.compressed_tokens <= round(0.05 * r.origin_tokens) + 1


def test_stages_and_scores_for_the_panel_and_heatmap(lm, nq_rows):
    r = compress(request(nq_rows, rate=0.2), lm)
    names = [s.name for s in r.stages]
    assert names == ["coarse: documents", "middle: sentences", "fine: words"]
    docs, sents, words = r.stages
    assert docs.before == 5 and 1 <= docs.after <= 5 and sents.after < sents.before and words.after < words.before
    ctx = [t.score for t in r.tokens if r.pieces[t.piece].role == "context"]
    assert np.isfinite(ctx).all() and np.std(ctx) > 0
    assert r.context_order[0] == min((p for p in r.pieces if p.role == "context"), key=lambda p: p.rank).index


def test_scorer_word_mode_meets_the_budget(lm, nq_rows):
    r = compress(request(nq_rows, rate=0.25, options={"word_scorer": "scorer"}), lm)
    assert r.target_met and "self-information" in r.stages[-1].note


@pytest.mark.parametrize("bad", [{"word_scorer": "magic"}, {"head_docs": 0}, {"reorder_context": "up"}])
def test_bad_options_explain_themselves(lm, nq_rows, bad):
    with pytest.raises(InvalidRequest):
        compress(request(nq_rows, options=bad), lm)


# -- the bundled token head -----------------------------------------------------------------------------------
def test_bundled_head_loads_offline_and_is_not_a_test_model(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    head = loading.load_model("bundled", "cpu", kind="token-classification")
    assert not loading.is_test_model("bundled") and "trained token head" in head.source
    from lingua_core.methods import token_head

    meta = token_head.meta()
    assert token_head.WEIGHTS.stat().st_size <= 10_000_000 and meta["training_texts"] > 0


def test_bundled_head_beats_the_random_head_on_held_back_texts(lm):
    """Spearman correlation of words' keep probability with their self-information under the scorer, on
    GSM8K train rows the head never saw (token_head_data.GSM8K_HELD)."""
    sys.path.insert(0, str(ROOT / "train"))
    import token_head
    import token_head_data
    from assets import data

    lo, _ = token_head_data.GSM8K_HELD
    texts = [data.gsm8k_demo(r) for r in data.gsm8k("train", limit=lo + 150)[lo + 140:lo + 146]]
    random_head = loading.load_model("test:minilm-random-head", "cpu", kind="token-classification")
    trained = loading.load_model("bundled", "cpu", kind="token-classification")
    rows = token_head_data.labels(lm, random_head, texts)
    tok = random_head.tokenizer
    rho = {}
    for name, m in (("random", random_head), ("trained", trained)):
        per = [token_head.word_scores(m.model, r, tok.cls_token_id, tok.sep_token_id) for r in rows]
        rho[name] = float(np.mean([token_head.spearman(s, lab) for s, lab in per]))
    assert rho["trained"] > 0.3 and rho["trained"] > rho["random"] + 0.2, rho


def test_llmlingua2_runs_on_the_bundled_head(lm, gsm8k):
    demos, question = gsm8k
    r = compress(Request(context=demos[:3], question=question, rate=0.33, method="llmlingua2",
                         options={"model": "bundled"}), lm)
    assert r.target_met and r.stages[-1].name == "fine: words" and "trained token head" in r.stages[-1].note


def test_answer_words_keep_numbers_and_drop_the_questions_own_words(lm, nq_rows):
    """At 8x the answer-like words win over the head's plain guess: over six cases, with ``answer_words`` more
    kept words carry a digit and fewer repeat the question (none, as they score 0); without it the head
    decides alone (measured: 21 vs 6 words with a digit, 0 vs 38 repeats)."""
    import re

    counts = {}
    for options in ({}, {"answer_words": False}):
        digits = repeats = 0
        for i in range(6):
            req = request(nq_rows, i, rate=1 / 8, options=options)
            r = compress(req, lm)
            assert r.target_met
            asked = set(re.findall(r"\w+", req.question.lower()))
            body = "".join(t.text for t in r.tokens if t.kept and r.pieces[t.piece].role == "context")
            words = re.findall(r"\w+", body.lower())
            digits += sum(any(c.isdigit() for c in w) for w in words)
            repeats += sum(w in asked for w in words)
        counts[bool(options)] = digits, repeats
    (on_digits, on_repeats), (off_digits, off_repeats) = counts[False], counts[True]
    assert on_digits > off_digits and on_repeats < off_repeats, counts


def test_join_words_keeps_a_space_where_the_dropped_text_had_one(lm, nq_rows):
    """At 16x kept words from far apart would touch ("BarnesJuly"); ``join_words`` (the default) puts one
    whitespace character of the dropped text between them. The result stays an in-order subsequence of the
    original and meets the budget with the added spaces counted; without the option the seams stay glued. (The
    answer head is off here: on these cases it keeps whole answer phrases, so there are no seams to join.)"""
    from support.helpers import assert_in_order

    words_on = words_off = 0
    for i in range(4):
        on = compress(request(nq_rows, i, rate=1 / 16, options={"answer_weight": 0}), lm)
        off = compress(request(nq_rows, i, rate=1 / 16, options={"join_words": False, "answer_weight": 0}), lm)
        for r in (on, off):
            assert_in_order(r)
            assert r.target_met, (r.compressed_tokens, r.requested_tokens)
        words_on += len(on.compressed.split())
        words_off += len(off.compressed.split())
    assert words_on > words_off, (words_on, words_off)


# -- the question-aware answer head ---------------------------------------------------------------------------
def test_pair_layout_follows_the_encoder_family():
    from lingua_core import encoder

    head = loading.load_model(loading.BUNDLED_ANSWER, "cpu", kind="token-classification")
    tok = head.tokenizer
    assert encoder.pair_layout(tok) == ([tok.cls_token_id], [tok.sep_token_id], [tok.sep_token_id])
    ids, types, at = encoder.pair_row(encoder.pair_layout(tok), [7, 8], [5, 6])
    cls, sep = tok.cls_token_id, tok.sep_token_id
    assert ids == [cls, 7, 8, sep, 5, 6, sep] and ids[at:at + 2] == [5, 6]
    assert types == [0, 0, 0, 0, 1, 1, 1] and "answer head" in head.source
    pair = tok("who", "Paris")                 # the tokenizer's own pair encoding agrees
    q, d = tok("who", add_special_tokens=False)["input_ids"], tok("Paris", add_special_tokens=False)["input_ids"]
    assert encoder.pair_row(encoder.pair_layout(tok), q, d)[:2] == (pair["input_ids"], pair["token_type_ids"])


def test_answer_head_loads_offline_and_finds_answers_in_held_back_rows(monkeypatch):
    """On NQ rows the head never trained on (train/answer_head.py's held rows), the best word by P(answer)
    is an answer word far more often than with the random test head, and the answer's words rank higher."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT / "train"))
    sys.path.insert(0, str(ROOT / "bench"))
    import answer_head
    import nq_cases

    from lingua_core import encoder

    rows = nq_cases.load_rows()
    _, held = answer_head.free_rows()
    hits = {}
    for name in ("test:minilm-random-head", loading.BUNDLED_ANSWER):
        m = loading.load_model(name, "cpu", kind="token-classification")
        top1 = 0
        for i in held[:30]:
            doc = nq_cases.document(1, nq_cases.passage(rows[i]))
            answer_spans = answer_head.answer_spans(doc, rows[i]["answers"])
            words, p = encoder.pair_word_probs(m, nq_cases.question_part(rows[i]["question"]), [doc], 512, (".",))[0]
            s, e = words[int(np.argmax(p))]
            top1 += any(s < b and e > a for a, b in answer_spans)
        hits[name] = top1
    assert hits[loading.BUNDLED_ANSWER] >= 8 and hits[loading.BUNDLED_ANSWER] >= 3 * max(hits["test:minilm-random-head"], 1), hits


def test_answer_head_is_a_token_classifier_only():
    from lingua_core.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="token-classification"):
        loading.load_model(loading.BUNDLED_ANSWER, "cpu", kind="embedding")


def test_answer_head_keeps_more_answers_at_16x(lm, nq_rows):
    """On the tests' NQ rows (none trained the answer head) at 16x, the default ``answer_weight`` keeps the
    answer in more cases than the token head and priors alone (measured: 7 against 1 of 12), and names the
    answer head in the words stage."""
    from lingua_core.answers import contains_gold

    kept = {}
    for weight in (0.0, 2.0):
        n = 0
        for i in range(12):
            r = compress(request(nq_rows, i, rate=1 / 16, options={"answer_weight": weight}), lm)
            assert r.target_met
            n += contains_gold(r.compressed, nq_rows[i]["answers"])
        kept[weight] = n
        assert ("answer head" in r.stages[-1].note) == (weight > 0)
    assert kept[2.0] > kept[0.0], kept
