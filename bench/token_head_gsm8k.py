"""The bundled token head against Selective Context on GSM8K chain-of-thought prompts (question-blind, 4x).

Selective Context's token level keeps the tokens the bundled scorer finds most surprising, so the share of
the prompt's self-information it keeps is the most any method can keep at its budget under that scorer.
The trained head (``llmlingua2`` with ``model="bundled"``: MiniLM + ``assets/models/minilm-token-head``)
never runs the scorer; this script measures how much of Selective Context's share it keeps at the same
budget, and at what fraction of its seconds (caches cleared before every compression). The random test
head is printed as the floor.

Prompts: ``--demos`` GSM8K test_dev demonstrations (``data.gsm8k_demo``; rows the head never trained on) as
the contexts and a later test_dev question, prompt ``i`` using rows ``[demos*i, demos*(i+1))``.

    python bench/token_head_gsm8k.py --prompts 10 --demos 4 --rate 0.25
"""

from __future__ import annotations

import argparse
import bisect
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

METHODS = {   # row name -> (method, options)
    "selective_context token": ("selective_context", {"reduce_level": "token"}),
    "llmlingua2 bundled head": ("llmlingua2", {"model": "bundled"}),
    "llmlingua2 random head": ("llmlingua2", {"model": "test:minilm-random-head"}),
}


def prompts(n: int, demos: int):
    from assets import data
    from lingua_core import Request

    rows = data.gsm8k("test_dev")
    for i in range(n):
        ctx = [data.gsm8k_demo(r) for r in rows[demos * i:demos * (i + 1)]]
        yield lambda rate, m, o, ctx=ctx, q=rows[-1 - i]["question"]: Request(
            context=ctx, question=f"Question: {q}", rate=rate, method=m, options=o)


def info_share(result, info: list[float]) -> float:
    """Share of the contexts' self-information (``info`` per token) in the tokens ``result`` kept."""
    ctx = [i for i, t in enumerate(result.tokens) if result.pieces[t.piece].role == "context"]
    total = sum(info[i] for i in ctx)
    return sum(info[i] for i in ctx if result.tokens[i].kept) / total if total else 0.0


def word_oracle_share(result, info: list[float]) -> float:
    """The most a whole-word method can keep: words (runs of letters/digits, or one punctuation mark, as
    BERT splits them) ranked by the scorer's own bits per token, kept until as many context scorer tokens are
    kept as Selective Context kept. Close to the most the head can reach: it keeps words whole and never
    runs the scorer.

    A scorer token belongs to the word holding its first non-space character.
    """
    ctx = [i for i, t in enumerate(result.tokens) if result.pieces[t.piece].role == "context"]
    words: dict[int, list[int]] = {}
    spans = [(m.start(), m.end()) for m in re.finditer(r"\w+|[^\w\s]", result.original)]
    starts = [s for s, _ in spans]
    for i in ctx:
        t = result.tokens[i]
        lead = t.start + len(t.text) - len(t.text.lstrip())
        words.setdefault(max(bisect.bisect_right(starts, lead) - 1, 0), []).append(i)
    budget = sum(result.tokens[i].kept for i in ctx)
    order = sorted(words.values(), key=lambda toks: -sum(info[i] for i in toks) / len(toks))
    kept, got = 0, 0.0
    for toks in order:
        if kept + len(toks) > budget:
            continue
        kept += len(toks)
        got += sum(info[i] for i in toks)
    total = sum(info[i] for i in ctx)
    return got / total if total else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=10)
    ap.add_argument("--demos", type=int, default=4)
    ap.add_argument("--rate", type=float, default=0.25)
    args = ap.parse_args()
    from lingua_core import compress
    from lingua_core.loading import load_model
    from lingua_core.methods import clear_caches
    from minilingua_nq import cpu_model

    lm = load_model("bundled", "cpu")
    for name, (m, o) in METHODS.items():        # load every model once before timing
        compress(next(prompts(1, 1))(0.5, m, o), lm)
    share = {n: [] for n in METHODS}
    oracle = []
    secs = {n: [] for n in METHODS}
    for k, make in enumerate(prompts(args.prompts, args.demos)):
        results = {}
        for name, (m, o) in METHODS.items():
            clear_caches()
            t = time.perf_counter()
            results[name] = compress(make(args.rate, m, o), lm)
            secs[name].append(time.perf_counter() - t)
        info = [0.0 if t.score != t.score else t.score           # bits per token, 0 outside the contexts
                for t in results["selective_context token"].tokens]
        for name, r in results.items():
            share[name].append(info_share(r, info))
        oracle.append(word_oracle_share(results["selective_context token"], info))
        print(f"prompt {k}: {results['selective_context token'].origin_tokens} tokens, " +
              ", ".join(f"{n} {share[n][-1]:.3f} in {secs[n][-1]:.2f}s" for n in METHODS), flush=True)
    sc = "selective_context token"
    print(f"\nCPU: {cpu_model()}; {args.prompts} prompts of {args.demos} GSM8K demonstrations, rate {args.rate}")
    print("| method | self-information kept | vs Selective Context | s / prompt | vs Selective Context |")
    print("|---|---|---|---|---|")
    for n in METHODS:
        print(f"| {n} | {statistics.mean(share[n]):.3f} | {statistics.mean(share[n]) / statistics.mean(share[sc]):.3f} | "
              f"{statistics.mean(secs[n]):.2f} | {statistics.mean(secs[n]) / statistics.mean(secs[sc]):.3f} |")
    print(f"| whole words by the scorer's own bits (greedy oracle) | {statistics.mean(oracle):.3f} | "
          f"{statistics.mean(oracle) / statistics.mean(share[sc]):.3f} | – | – |")


if __name__ == "__main__":
    main()
