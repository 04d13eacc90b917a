"""Selective Context on the real bundled scorer: the rule-based chunker on known sentences, units kept whole,
unit self-information as the sum of its tokens', the percentile filter meeting the budget, forced tokens."""

from __future__ import annotations

import numpy as np
import pytest

from lingua_core import Request, budget, compress, phrases, scoring
from lingua_core.errors import InvalidRequest

from support.helpers import assert_in_order

RULES = phrases.RuleChunker()


def run(lm, context, **kw):
    options = kw.pop("options", {})
    return compress(Request(context=context, method="selective_context", options=options, **kw), lm)


@pytest.mark.parametrize("text, expected", [
    ("The quick brown fox jumps over the lazy dog.",
     ["The quick brown fox jumps", "over", "the lazy dog", "."]),
    ("Natalia sold clips to 48 of her friends in April.",
     ["Natalia sold clips", "to", "48", "of", "her friends", "in", "April", "."]),
    ("She is saving money for a new wallet, which costs $100!",
     ["She", "is", "saving money", "for", "a new wallet", ",", "which", "costs", "$", "100", "!"]),
    ("It's 3.5 miles to the old mill.\nThey didn't go.",
     ["It's", "3.5 miles", "to", "the old mill", ".", "They", "didn't", "go", "."]),
    ("John's dog barked at 7 cats.", ["John's dog barked", "at", "7 cats", "."]),
])
def test_rule_chunker_phrases(text, expected):
    assert [text[s:e] for s, e in RULES.phrases(text)] == expected


@pytest.mark.parametrize("text, expected", [
    ("Dr. Smith arrived at 3 p.m. today. He left! Did he? Yes.",
     ["Dr. Smith arrived at 3 p.m. today.", "He left!", "Did he?", "Yes."]),
    ('She said "stop." Then she left.\n\nA new paragraph\nwithout a period',
     ['She said "stop."', "Then she left.", "A new paragraph", "without a period"]),
    ("It costs $3.50, e.g. for tea. J. R. R. Tolkien wrote it.",
     ["It costs $3.50, e.g. for tea.", "J. R. R. Tolkien wrote it."]),
])
def test_rule_chunker_sentences(text, expected):
    assert [text[s:e] for s, e in RULES.sentences(text)] == expected


def test_auto_chunker_falls_back_to_rules_without_spacy(lm):
    if phrases.CHUNKERS["spacy"].available():
        pytest.skip("spaCy's English model is installed")
    assert phrases.get_chunker("auto").name == "rules"
    with pytest.raises(InvalidRequest, match="en_core_web_sm"):
        run(lm, ["Some words here. And more."], options={"chunker": "spacy"})


@pytest.mark.parametrize("level", ["token", "phrase", "sent"])
@pytest.mark.parametrize("kw", [dict(rate=0.5), dict(rate=0.3), dict(target_token=150)])
def test_budget_and_order(lm, gsm8k, level, kw):
    demos, question = gsm8k
    r = run(lm, demos[:4], question=question, options={"reduce_level": level}, **kw)
    assert budget.within(r.compressed_tokens, r.requested_tokens, r.origin_tokens), (r.compressed_tokens, kw)
    assert r.compressed.endswith("\n\n" + question)
    assert_in_order(r)


def unit_token_groups(r, units):
    """For each unit span, the indices of the result's tokens that overlap it."""
    starts = np.array([t.start for t in r.tokens])
    ends = np.array([t.end for t in r.tokens])
    return [np.flatnonzero((starts < e) & (ends > s)) for s, e in units]


@pytest.mark.parametrize("level", ["phrase", "sent"])
def test_units_are_kept_whole_and_filtered_by_score(lm, gsm8k, level):
    demos, _ = gsm8k
    r = run(lm, demos[:4], rate=0.4, options={"reduce_level": level})
    split = RULES.phrases if level == "phrase" else RULES.sentences
    units = [(s + p.start, e + p.start) for p in r.pieces for s, e in split(r.original[p.start:p.end])]
    kept_scores, dropped_scores = [], []
    for idx in unit_token_groups(r, units):
        flags = {r.tokens[i].kept for i in idx}
        assert len(flags) == 1                                  # all kept or all dropped
        assert len({r.tokens[i].score for i in idx}) == 1       # one score per unit
        (kept_scores if flags.pop() else dropped_scores).append(r.tokens[idx[0]].score)
    assert kept_scores and dropped_scores
    assert min(kept_scores) >= max(dropped_scores)              # a percentile threshold, not a mix
    assert "percentile" in r.stages[-1].note


def test_unit_score_is_the_sum_of_token_self_information(lm):
    text = "The committee approved the budget on Tuesday. Zebras rarely attend such meetings."
    r = run(lm, [text], rate=0.5, options={"reduce_level": "sent"})
    ids = scoring.tokenize(lm, text).ids
    bits = scoring.score_many(lm, [ids])[0] / scoring.LN2
    first = [i for i, t in enumerate(r.tokens) if t.end <= text.index("Zebras")]
    assert r.tokens[0].score == pytest.approx(bits[first].sum(), rel=1e-4)
    assert r.tokens[-1].score == pytest.approx(bits[len(first):].sum(), rel=1e-4)
    assert r.score_name.startswith("self-information")


def test_force_tokens_survive(lm, gsm8k):
    demos, _ = gsm8k
    for level in ("token", "phrase", "sent"):
        r = run(lm, demos[:4], rate=0.3, options={"reduce_level": level, "force_tokens": ("?", "Natalia")})
        assert r.compressed.count("?") == r.original.count("?")
        assert r.compressed.count("Natalia") == r.original.count("Natalia")
        assert_in_order(r)


@pytest.mark.parametrize("bad", [{"reduce_level": "word"}, {"unit_score": "max"}, {"chunker": "nltk"}])
def test_bad_options_explain_themselves(lm, bad):
    with pytest.raises(InvalidRequest):
        run(lm, ["Some words here. And more."], options=bad)


def test_deterministic_with_and_without_reused_scores(lm, gsm8k):
    """Last in the file: it clears the reuse cache the tests above share."""
    from lingua_core.methods import REGISTRY

    demos, question = gsm8k
    a = run(lm, demos[:4], question=question, rate=0.3)
    b = run(lm, demos[:4], question=question, rate=0.3)          # scores reused
    REGISTRY["selective_context"].clear_cache()
    c = run(lm, demos[:4], question=question, rate=0.3)          # scored again
    assert a.compressed == b.compressed == c.compressed
    assert np.array_equal([t.score for t in a.tokens], [t.score for t in c.tokens], equal_nan=True)
