"""The llmlingua-compatible facade and the CLI, on the real bundled model."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from lingua_core import PromptCompressor, pricing
from lingua_core.errors import UnsupportedOption


@pytest.fixture(scope="module")
def pc(lm):
    return PromptCompressor(model_name="bundled", device_map="cpu")


def test_llmlingua_keys_and_formats(pc, gsm8k):
    demos, question = gsm8k
    out = pc.compress_prompt(demos, instruction="", question=question, target_token=200, iterative_size=200,
                             context_budget="+100", use_sentence_level_filter=False)
    assert set(out) >= {"compressed_prompt", "origin_tokens", "compressed_tokens", "ratio", "rate", "saving"}
    assert re.fullmatch(r"\d+\.\dx", out["ratio"]) and re.fullmatch(r"\d+\.\d%", out["rate"])
    assert abs(out["compressed_tokens"] - 200) <= 20
    assert out["ratio"] == f"{out['origin_tokens'] / out['compressed_tokens']:.1f}x"
    saved = pricing.cost(out["origin_tokens"] - out["compressed_tokens"], 0, "gpt-4")
    assert saved > 0 and out["saving"].startswith(", Saving $") and out["saving"].endswith(" in GPT-4.")
    shown = f"{saved:.1f}" if saved >= 0.05 else f"{saved:.4f}"      # llmlingua's one decimal; four for cents
    assert out["saving"] == f", Saving ${shown} in GPT-4."


def test_string_context_and_rate(pc, gsm8k):
    demos, _ = gsm8k
    out = pc.compress_prompt("\n\n".join(demos), rate=0.25)
    assert abs(out["compressed_tokens"] / (0.25 * out["origin_tokens"]) - 1) <= 0.10


def test_unimplemented_parameter_raises(pc):
    with pytest.raises(UnsupportedOption, match="force_context_number"):       # keep_first_sentence is implemented now
        pc.compress_prompt(["Some text. More text."], rate=0.5, force_context_number=2)
    with pytest.raises(UnsupportedOption, match="rank_method"):                  # bm25 is implemented now
        pc.compress_prompt(["Some text."], rate=0.5, rank_method="cohere")
    with pytest.raises(UnsupportedOption, match="iterative_size"):              # LongLLMLingua has no windows
        pc.compress_prompt(["Some text."], question="Q?", rate=0.5, rank_method="longllmlingua", iterative_size=100)


def test_default_valued_parameters_are_accepted(pc):
    out = pc.compress_prompt(["Some text about rivers and the sea."], rate=0.5, keep_first_sentence=0,
                             use_context_level_filter=True, condition_compare=False)
    assert out["compressed_prompt"]


def test_get_token_length(pc):
    assert pc.get_token_length("hello world", use_oai_tokenizer=True) == 2
    assert pc.get_token_length("hello world") == len(pc.lm.tokenizer("hello world")["input_ids"])


def test_cli_prints_json_with_tokens(tmp_path, gsm8k):
    demos, question = gsm8k
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("\n\n".join(demos[:4]))
    run = subprocess.run([sys.executable, "-m", "lingua_core", "compress", str(prompt), "--question", question,
                          "--target-token", "150", "--tokens", "--option", "iterative_size=100"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert abs(out["compressed_tokens"] - 150) <= 15 and out["compressed_prompt"].endswith(question)
    assert {"text", "start", "end", "score", "kept"} <= set(out["tokens"][0])
    assert sum(t["kept"] for t in out["tokens"]) == out["compressed_scorer_tokens"]


def test_cli_reports_bad_options_without_traceback():
    run = subprocess.run([sys.executable, "-m", "lingua_core", "compress", "--rate", "0"], input="Some text.",
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "rate must be in (0, 1]" in run.stderr and "Traceback" not in run.stderr
