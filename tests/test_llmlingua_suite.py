"""llmlingua's own test-suite calls on the drop-in ``PromptCompressor``, on the real bundled model.

Every call of microsoft/LLMLingua's tests/test_llmlingua.py, tests/test_longllmlingua.py and
tests/test_llmlingua2.py (0.2.2), with the same keyword arguments, on this project's own prompts of the same
kinds (the GSM8K chain-of-thought demonstrations, JSON ticket and meeting transcript of ``assets/examples``,
the last two tagged as those tests tag theirs). Their golden strings come from a GPT-2 model and would
say nothing here; what must hold is what llmlingua promises: the keys and formats, the budget (within 10% of
the whole returned prompt), verbatim ``compress=False`` parts still in place, so a JSON prompt still parses,
and the question left out with ``concate_question=False``. LLMLingua-2 runs on the offline test encoder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lingua_core import PromptCompressor
from lingua_core.methods.structured import parse_context
from lingua_core.tokens import count_tokens
from lingua_core.word_labels import compressed_contexts, labelled_words

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
RATES = (0.4, 0.2, 0.6, 0.6, 0.6, 0.3, 0.3, 0.05)       # the per-turn rates of llmlingua's tagged transcript
STRUCTURED_QUESTION = "Question: What is the main idea of these materials?"
LONGLLMLINGUA = dict(condition_in_question="after_condition", reorder_context="sort",
                     dynamic_context_compression_ratio=0.4, condition_compare=True, context_budget="+100",
                     rank_method="longllmlingua")


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def cot() -> tuple[list[str], str]:
    """GSM8K demonstrations of 230-311 tokens each, and a test question."""
    d = example("gsm8k_cot")
    return d["context"], d["question"]


@pytest.fixture(scope="module")
def json_prompt() -> str:
    return example("structured_json")["context"][0]


@pytest.fixture(scope="module")
def transcript() -> str:
    """The meeting example tagged as llmlingua tags its MeetingBank transcript: speakers verbatim, turns rated."""
    parts = []
    for i, turn in enumerate(example("meeting")["context"]):
        speaker, _, words = turn.partition(":")
        sep = "\n" if i else ""
        parts.append(f"<llmlingua, compress=False>{sep}{speaker}:</llmlingua>"
                     f"<llmlingua, rate={RATES[i % len(RATES)]}> {words.strip()}</llmlingua>")
    return "".join(parts)


@pytest.fixture(scope="module")
def pc(lm):
    return PromptCompressor(model_name="bundled", device_map="cpu")


def check_dict(pc, out: dict) -> None:
    """llmlingua's keys and formats, the counts they report, and the budget of the whole returned prompt."""
    assert set(out) >= {"compressed_prompt", "origin_tokens", "compressed_tokens", "ratio", "rate", "saving"}
    assert re.fullmatch(r"\d+\.\dx", out["ratio"]) and re.fullmatch(r"\d+\.\d%", out["rate"])
    assert out["saving"].startswith(", Saving $")
    assert out["compressed_tokens"] == count_tokens(out["compressed_prompt"])
    assert out["origin_tokens"] == count_tokens(pc.last_result.original)
    requested = pc.last_result.requested_tokens
    assert abs(out["compressed_tokens"] / requested - 1) <= 0.10, (out["compressed_tokens"], requested)
    assert pc.last_result.target_met


def verbatim_parts(tagged: str) -> list[str]:
    plain, segments = parse_context(tagged)
    return [plain[s.start:s.end] for s in segments if not s.compress]


def check_structured(pc, out: dict, tagged: list[str]) -> None:
    """Each context's verbatim parts are in its compressed text, in order; the JSON one still parses."""
    kept = compressed_contexts(pc.last_result)
    order = pc.last_result.context_order
    for i, text in enumerate(tagged):
        body = kept[order.index(i)]
        pos = 0
        for part in verbatim_parts(text):
            pos = body.index(part, pos) + len(part)
        if text.lstrip().startswith("<llmlingua, compress=False>{"):
            assert isinstance(json.loads(body), dict)


# -- tests/test_llmlingua.py ---------------------------------------------------------------------------------
def test_llmlingua_compress_prompt(pc, cot):
    demos, _ = cot
    single = pc.compress_prompt(demos[0], target_token=150)
    check_dict(pc, single)
    assert pc.last_result.requested_tokens == 150
    multi = pc.compress_prompt(demos[:2], target_token=150)
    check_dict(pc, multi)
    assert pc.last_result.requested_tokens == 150 and multi["origin_tokens"] > single["origin_tokens"]


def test_segment_structured_context(pc, json_prompt):
    context, segs, rates, flags = pc.segment_structured_context([json_prompt], 0.5)
    assert isinstance(json.loads(context[0]), dict) and "".join(segs[0]) == context[0]
    assert set(rates[0]) <= {1.0, 0.4, 0.5} and False in flags[0] and True in flags[0]
    assert all(r == 1.0 for r, f in zip(rates[0], flags[0]) if not f)


def test_llmlingua_structured_compress_prompt(pc, json_prompt, transcript):
    out = pc.structured_compress_prompt([json_prompt], rate=0.5, use_sentence_level_filter=True,
                                        use_token_level_filter=True)
    check_dict(pc, out)
    check_structured(pc, out, [json_prompt])
    assert isinstance(json.loads(out["compressed_prompt"]), dict)
    assert any(s.name == "sentences" and s.after < s.before for s in pc.last_result.stages)
    out = pc.structured_compress_prompt([json_prompt, transcript], rate=0.5, use_sentence_level_filter=False,
                                        use_token_level_filter=True)
    check_dict(pc, out)
    check_structured(pc, out, [json_prompt, transcript])


# -- tests/test_longllmlingua.py -----------------------------------------------------------------------------
def test_longllmlingua_compress_prompt(pc, cot):
    demos, question = cot
    single = pc.compress_prompt(demos[0], question=question, target_token=250, **LONGLLMLINGUA)
    check_dict(pc, single)
    assert single["compressed_prompt"].endswith(question)
    multi = pc.compress_prompt(demos[:3], question=question, target_token=250, **LONGLLMLINGUA)
    check_dict(pc, multi)
    r = pc.last_result
    assert r.requested_tokens == 250 and multi["compressed_prompt"].endswith(question)
    ranks = {p.index: p.rank for p in r.pieces if p.role == "context"}
    assert [ranks[i] for i in r.context_order] == sorted(ranks[i] for i in r.context_order)   # "sort"


def test_longllmlingua_structured_compress_prompt(pc, json_prompt, transcript):
    out = pc.structured_compress_prompt([json_prompt], question=STRUCTURED_QUESTION, target_token=150,
                                        use_sentence_level_filter=False, concate_question=False, **LONGLLMLINGUA)
    check_dict(pc, out)
    assert STRUCTURED_QUESTION not in out["compressed_prompt"]
    assert isinstance(json.loads(out["compressed_prompt"]), dict)
    out = pc.structured_compress_prompt([json_prompt, transcript], question=STRUCTURED_QUESTION, target_token=650,
                                        use_sentence_level_filter=False, concate_question=False, **LONGLLMLINGUA)
    check_dict(pc, out)
    assert STRUCTURED_QUESTION not in out["compressed_prompt"]
    check_structured(pc, out, [json_prompt, transcript])
    assert pc.last_result.score_name.startswith("question-aware")


# -- tests/test_llmlingua2.py (offline test encoder: a random head, so only the contract is checked) ---------
@pytest.fixture(scope="module")
def pc2(lm):
    return PromptCompressor(model_name="test:minilm-random-head", device_map="cpu", use_llmlingua2=True)


def test_llmlingua2_compress_prompt(pc2, cot, nq_rows):
    demos, _ = cot
    dialog = "\n\n".join(example("meeting")["context"][:2])
    meeting = " ".join(example("meeting")["context"])
    docs = [f"{r['ctxs'][0]['title']}\n{r['ctxs'][0]['text']}" for r in nq_rows[:12]]
    math_tokens = ["+", "-", "*", "×", "/", "÷", "=", "The answer is", "\n"]
    calls = [
        (dialog, dict(rate=0.33, force_tokens=["\n", ".", "!", "?"], drop_consecutive=False, force_reserve_digit=False)),
        (dialog.split("\n\n"), dict(target_token=40, use_context_level_filter=True, force_tokens=["\n", ".", "!", "?"],
                                    drop_consecutive=False, force_reserve_digit=False)),
        (demos[0], dict(target_token=170, force_tokens=math_tokens + ["Question:"], drop_consecutive=False,
                        force_reserve_digit=True)),
        (meeting, dict(target_token=150, force_tokens=["\n", ".", "?", "!"], drop_consecutive=True,
                       force_reserve_digit=False)),
        (demos[:2], dict(target_token=250, use_context_level_filter=True, force_tokens=math_tokens,
                         drop_consecutive=False, force_reserve_digit=True)),
        (docs, dict(target_token=1000, use_context_level_filter=True, force_tokens=["\n", ".", "?", "Title"],
                    drop_consecutive=True, force_reserve_digit=False)),
    ]
    for context, kwargs in calls:
        out = pc2.compress_prompt(context, **kwargs)
        check_dict(pc2, out)
        contexts = out["compressed_prompt_list"]
        assert isinstance(contexts, list) and "\n\n".join(contexts) == out["compressed_prompt"]
        if kwargs.get("force_reserve_digit"):        # every number of a kept context is still there
            kept_text = out["compressed_prompt"]
            for piece in (p for p in pc2.last_result.pieces if p.role == "context" and p.kept):
                for number in re.findall(r"\d+", pc2.last_result.original[piece.start:piece.end]):
                    assert number in kept_text


def test_return_word_label(pc2):
    text = "John: So, um, I've been thinking about the project. We need to make some changes."
    out = pc2.compress_prompt(text, rate=0.5, return_word_label=True, word_sep="|", label_sep="=")
    pairs = [item.rsplit("=", 1) for item in out["fn_labeled_original_prompt"].split("|")]
    assert "".join(w for w, _ in pairs) == "".join(text.split())         # every character, in order
    assert {label for _, label in pairs} == {"0", "1"}
    kept = "".join(w for w, label in pairs if label == "1")
    assert kept == "".join(out["compressed_prompt"].split())              # the kept words are the output
    assert labelled_words(pc2.last_result) == [(w, int(label)) for w, label in pairs]
