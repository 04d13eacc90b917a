"""LLMLingua-2 offline: the code path on the MiniLM encoder with a random head (test model), and XLM-R's
special tokens and word rules on a tiny XLM-R model and tokenizer trained inside the test.

The random head's keep probabilities are noise, so these tests check mechanics (chunking, aggregation,
forcing, budget, order, determinism), never which words a trained model would keep.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from lingua_core import Request, budget, compress, encoder, loading
from lingua_core.errors import InvalidRequest, ModelLoadError
from lingua_core.methods.llmlingua2 import DEFAULT_MODEL, TEST_MODEL, LLMLingua2

from support.helpers import assert_in_order

CORPUS = ["The quick brown fox jumps over the lazy dog.", "Meeting notes: the budget is 3.5 million dollars.",
          "We agreed to ship on Friday! Next item, please.", "Speaker two: internationalization matters."]


@pytest.fixture(scope="module")
def minilm():
    return loading.load_model(TEST_MODEL, device="cpu", kind="token-classification")


@pytest.fixture(scope="module")
def tiny_xlmr(tmp_path_factory):
    """A 2-layer XLM-R token classifier with a Unigram tokenizer trained on CORPUS (<s> ... </s>)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaForTokenClassification

    tk = Tokenizer(models.Unigram())
    tk.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace("\n", " ")])
    tk.pre_tokenizer = pre_tokenizers.Metaspace()
    tk.decoder = decoders.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tk.train_from_iterator(CORPUS * 20, trainers.UnigramTrainer(vocab_size=120, special_tokens=specials,
                                                                unk_token="<unk>"))
    tk.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", cls_token="<s>",
                                  sep_token="</s>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>")
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=tk.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                              num_attention_heads=2, intermediate_size=64, max_position_embeddings=66,
                              pad_token_id=1, bos_token_id=0, eos_token_id=2, num_labels=2)
    folder = tmp_path_factory.mktemp("tiny-xlmr")
    XLMRobertaForTokenClassification(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return loading.load_model(str(folder), device="cpu", kind="token-classification")


def run(lm, context, **kw):
    options = {"model": TEST_MODEL, **kw.pop("options", {})}
    return compress(Request(context=context, method="llmlingua2", options=options, **kw), lm)


# -- the encoders ---------------------------------------------------------------------------------------------
def test_special_tokens_follow_the_encoder_family(minilm, tiny_xlmr):
    head, tail = encoder.special_wrap(minilm)
    assert minilm.tokenizer.convert_ids_to_tokens(head + tail) == ["[CLS]", "[SEP]"]
    head, tail = encoder.special_wrap(tiny_xlmr)
    assert tiny_xlmr.tokenizer.convert_ids_to_tokens(head + tail) == ["<s>", "</s>"]
    assert (head, tail) == ([0], [2])


def test_encoder_limit_counts_positions_and_roberta_offset(minilm, tiny_xlmr):
    assert encoder.encoder_limit(minilm) == 512
    assert encoder.encoder_limit(minilm, cap=100) == 100
    assert encoder.encoder_limit(tiny_xlmr) == 64          # 66 positions, counted from padding_idx + 1 = 2


def test_test_model_is_labelled_and_seeded(minilm):
    assert loading.is_test_model(TEST_MODEL) and "FOR TESTS ONLY" in minilm.source
    again = loading._load(TEST_MODEL, "token-classification", "cpu")       # a fresh load, not the cached one
    assert np.array_equal(again.model.classifier.weight.detach().numpy(), minilm.model.classifier.weight.detach().numpy())
    with pytest.raises(ModelLoadError, match="token-classification"):
        loading.load_model(TEST_MODEL, device="cpu", kind="causal")


def test_missing_hub_model_names_it_and_the_offline_fix(lm, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as err:
        compress(Request(context=["Some words here."], method="llmlingua2", options={"model": DEFAULT_MODEL}), lm)
    assert DEFAULT_MODEL in str(err.value) and TEST_MODEL in str(err.value)


# -- chunking and words ---------------------------------------------------------------------------------------
def test_long_input_chunks_at_the_limit_on_sentence_ends(minilm, nq_rows):
    text = "\n".join(r["ctxs"][0]["text"] for r in nq_rows[:12])
    enc_text = encoder.encode(minilm, text)
    assert len(enc_text.ids) > 1200
    bounds = encoder.chunk_bounds(text, enc_text, 510)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(enc_text.ids) and len(bounds) >= 3
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert all(hi - lo <= 510 for lo, hi in bounds)
    for lo, hi in bounds[:-1]:
        assert encoder.is_chunk_end(text, enc_text, hi - 1, {".", "\n"}), text[enc_text.spans[hi - 1][0]:][:30]
        assert hi - lo > 300                                  # cut near the limit, not at the first period


def test_without_sentence_ends_chunks_cut_between_words(minilm):
    text = " ".join(["internationalization"] * 400)            # several word pieces per word, no periods
    enc_text = encoder.encode(minilm, text)
    bounds = encoder.chunk_bounds(text, enc_text, 50)
    assert len(bounds) > 10
    for lo, hi in bounds[:-1]:
        assert enc_text.words[hi] != enc_text.words[hi - 1] and hi - lo <= 50


def test_subword_probabilities_aggregate_to_words(minilm):
    text = "Internationalization matters greatly."
    enc_text = encoder.encode(minilm, text)
    probs = encoder.keep_probs(minilm, [enc_text.ids])[0]
    spans, mean = encoder.word_probs(text, enc_text, probs, "mean")
    _, first = encoder.word_probs(text, enc_text, probs, "first")
    assert [text[s:e] for s, e in spans] == ["Internationalization", "matters", "greatly", "."]
    pieces = [i for i, w in enumerate(enc_text.words) if w == 0]
    assert len(pieces) > 1
    assert mean[0] == pytest.approx(np.mean(probs[pieces])) and first[0] == pytest.approx(probs[pieces[0]])


def test_xlmr_words_are_whitespace_words(tiny_xlmr):
    text = "Meeting notes: the budget is 3.5 million dollars."
    enc_text = encoder.encode(tiny_xlmr, text)
    spans, _ = encoder.word_probs(text, enc_text, np.full(len(enc_text.ids), 0.5))
    assert [text[s:e] for s, e in spans] == text.split()          # "notes:" and "dollars." stay whole


def test_chunked_probabilities_match_unchunked_length(minilm, nq_rows):
    text = " ".join(r["ctxs"][0]["text"] for r in nq_rows[:6])
    (spans, probs), = encoder.text_word_probs(minilm, [text], 512, (".", "\n"))
    assert len(spans) == len(probs) == len(set(spans))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])) and all(0 < p < 1 for p in probs)


# -- the method -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(rate=0.5), dict(rate=0.25), dict(target_token=120)])
def test_budget_order_and_determinism(lm, gsm8k, kw):
    demos, question = gsm8k
    a = run(lm, demos[:4], question=question, **kw)
    b = run(lm, demos[:4], question=question, **kw)
    assert budget.within(a.compressed_tokens, a.requested_tokens, a.origin_tokens), (a.compressed_tokens, kw)
    assert a.compressed.endswith(question)
    assert_in_order(a)
    assert a.compressed == b.compressed and a.score_name == "keep probability"


def test_words_are_kept_or_dropped_whole(lm, minilm, gsm8k):
    demos, _ = gsm8k
    r = run(lm, demos[:2], rate=0.4)
    enc_text = encoder.encode(minilm, r.original)
    words, _ = encoder.word_probs(r.original, enc_text, np.zeros(len(enc_text.ids)))
    starts = np.array([t.start for t in r.tokens])
    ends = np.array([t.end for t in r.tokens])
    kept = np.array([t.kept for t in r.tokens])
    for s, e in words:
        inside = kept[(starts < e) & (ends > s)]
        assert inside.all() or not inside.any(), r.original[s:e]


def test_force_tokens_survive(lm, gsm8k):
    demos, _ = gsm8k
    r = run(lm, demos[:3], rate=0.3, options={"force_tokens": ("\n", "?", "Natalia")})
    forced = [m.span() for m in re.finditer(r"\n|\?|\bNatalia\b", r.original)]
    assert forced
    for s, e in forced:
        assert all(t.kept for t in r.tokens if t.start < e and t.end > s), r.original[s:e]
    assert r.compressed.count("?") == r.original.count("?")


def test_force_reserve_digit_keeps_digits(lm, gsm8k):
    demos, _ = gsm8k
    r = run(lm, demos[:3], rate=0.5, options={"force_reserve_digit": True})
    assert all(t.kept for t in r.tokens if any(ch.isdigit() for ch in t.text))
    assert re.sub(r"\D", "", r.compressed) == re.sub(r"\D", "", r.original)


def test_drop_consecutive_drops_repeated_forced_tokens(lm):
    items = ["red apple", "green pear", "yellow banana", "purple grape", "orange mango", "brown kiwi", "pink guava",
             "blue plum", "white peach", "black cherry", "golden melon", "ripe lemon"]
    text = "We bought " + ", ".join(items) + " and bread."
    plain = run(lm, [text], rate=0.5, options={"force_tokens": (",",)})
    dropped = run(lm, [text], rate=0.5, options={"force_tokens": (",",), "drop_consecutive": True})
    assert plain.compressed.count(",") == 11 and re.search(r",\s*,", plain.compressed)
    assert not re.search(r",\s*,", dropped.compressed) and dropped.compressed.count(",") >= 1
    assert budget.within(dropped.compressed_tokens, dropped.requested_tokens, dropped.origin_tokens)
    assert_in_order(dropped)


def test_context_level_keeps_the_best_contexts(lm, gsm8k):
    demos, question = gsm8k
    r = run(lm, demos[:5], question=question, rate=0.3,
            options={"use_context_level": True, "target_context": 2, "force_context_ids": (4,)})
    kept = [p.index for p in r.pieces if p.role == "context" and p.kept]
    assert 4 in kept and len(kept) == 3
    ranks = {p.index: p.rank for p in r.pieces if p.role == "context"}
    assert sorted(ranks.values()) == list(range(5))
    assert all(not t.kept for t in r.tokens if not r.pieces[t.piece].kept)


def test_tiny_xlmr_runs_the_whole_method(lm, tiny_xlmr):
    text = " ".join(CORPUS * 6)                                # well over one 64-token chunk
    r = run(lm, [text], rate=0.5, options={"model": tiny_xlmr.name, "force_tokens": ("!",)})
    assert budget.within(r.compressed_tokens, r.requested_tokens, r.origin_tokens)
    assert r.compressed.count("!") == text.count("!")
    assert "at most 64 tokens" in r.stages[-1].note
    assert_in_order(r)


@pytest.mark.parametrize("bad", [{"token_to_word": "max"}, {"context_level_rate": 0}, {"no_such": 1}])
def test_bad_options_explain_themselves(lm, bad):
    with pytest.raises(InvalidRequest):
        run(lm, ["Some words here."], options=bad)


def test_offline_options_make_it_runnable():
    assert LLMLingua2.offline_options == {"model": "bundled"}
