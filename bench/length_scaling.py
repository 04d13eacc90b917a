"""Benchmark of how compression time grows with prompt length (issue 14, goal 4: linear).

GSM8K chain-of-thought prompts of 8, 16, 32 and 64 demonstrations (``core_speed.gsm8k_prompt``), each
compressed at rate 0.25 by each method asked for, median of 3 with the caches emptied before each run. Prints
the seconds, the prompt's scorer tokens, the time and the tokens as multiples of the 8-shot row's, and the
budget miss (achieved / requested - 1, target-LLM tokens). Cost linear in length means the time multiple
stays near the token multiple; the goal is the 64-shot prompt (about 10k tokens, past the scorer's 8k window)
at <= 8x the 8-shot one's time.

    python bench/length_scaling.py                         # LLMLingua (the default method)
    python bench/length_scaling.py --methods llmlingua longllmlingua selective_context --shots 8 64
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def measure(lm, method: str, shots: int, rate: float, repeat: int) -> dict:
    from core_speed import gsm8k_prompt

    from lingua_core import Request, compress
    from lingua_core.methods.base import clear_caches
    from lingua_core.scoring import tokenize

    demos, question = gsm8k_prompt(shots)
    request = Request(context=demos, question=question, rate=rate, method=method)
    times, r = [], None
    for _ in range(repeat):
        clear_caches()            # time real work, not a reused scoring pass
        r = compress(request, lm)
        times.append(r.seconds)
    return dict(method=method, shots=shots, scorer_tokens=len(tokenize(lm, "\n\n".join(demos + [question])).ids),
                seconds=statistics.median(times), requested=r.requested_tokens, got=r.compressed_tokens,
                miss=r.compressed_tokens / r.requested_tokens - 1)


def main(argv=None) -> int:
    from scorer_dtype import cpu

    from lingua_core import Request, compress
    from lingua_core.loading import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["llmlingua"])
    parser.add_argument("--shots", nargs="+", type=int, default=[8, 16, 32, 64])
    parser.add_argument("--rate", type=float, default=0.25)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    lm = load_model("bundled")
    compress(Request(context=["A short warm-up text for the scorer."], rate=0.5), lm)
    print("| method | shots | scorer tokens | x tokens | seconds | x time | requested | got | miss |")
    print("|---|---|---|---|---|---|---|---|---|")
    for method in args.methods:
        base = None
        for shots in args.shots:
            row = measure(lm, method, shots, args.rate, args.repeat)
            base = base or row
            print(f"| {method} | {shots} | {row['scorer_tokens']:,} | {row['scorer_tokens'] / base['scorer_tokens']:.2f} "
                  f"| {row['seconds']:.2f} | {row['seconds'] / base['seconds']:.2f} | {row['requested']} | "
                  f"{row['got']} | {row['miss']:+.1%} |", flush=True)
    print(cpu())
    return 0


if __name__ == "__main__":
    sys.exit(main())
