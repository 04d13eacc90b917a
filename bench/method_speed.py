"""Benchmark of every method on every bundled example through ``compress`` (no browser, no app): its seconds
and the heatmap numbers' seconds after it, each as a ratio to one plain forward pass of the scorer over the
same prompt, timed in the same run.

Its sibling ``ui_latency.py`` measures the same pairs as a visitor sees them (click -> compression shown,
click -> heatmap drawn, in Chromium); this one isolates the library's share of that wait. The prompts are
the ones the page sends (``ui_latency.prompt_of``: the form's defaults, e.g. LLMLingua-2 on the bundled head),
the caches are emptied before each compression, and the heatmap is built as the page first draws it
(``heatmap.build``: by the method's own scores, which need no second pass; by self-information, one more pass,
for a method without scores).

    python bench/method_speed.py                                   # every example x every method
    python bench/method_speed.py --examples nq_rag --methods longllmlingua llmlingua
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def row(lm, example, method: str) -> str:
    from core_speed import forward_seconds
    from ui_latency import example_form, prompt_of

    from lingua_core import compress
    from lingua_core.methods.base import clear_caches
    from lingua_core.scoring import tokenize
    from ui import form, heatmap

    text = prompt_of(example, method)
    fwd = forward_seconds(lm, text)
    head = f"| {example.name} | {method} | {len(tokenize(lm, text).ids):,} | {fwd:.2f} s |"
    try:
        clear_caches()
        t = time.perf_counter()
        result = compress(form.to_request(example_form(example, method)), lm)
        comp = time.perf_counter() - t
        t = time.perf_counter()
        heatmap.build(result, lm, self_info=not heatmap.has_method_scores(result))
        heat = time.perf_counter() - t
    except Exception as exc:  # a method that cannot run here shows why, and the table goes on
        return f"{head} error: {type(exc).__name__}: {str(exc)[:120]} | - |"
    return f"{head} {comp:.2f} s ({comp / fwd:.2f}x) | {comp + heat:.2f} s ({(comp + heat) / fwd:.2f}x) |"


def main(argv=None) -> int:
    from scorer_dtype import cpu

    from lingua_core.loading import load_model
    from lingua_core.methods import REGISTRY
    from ui import examples

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", nargs="+", default=None, help="example names (default: every bundled one)")
    parser.add_argument("--methods", nargs="+", default=None, help="method names (default: every registered one)")
    args = parser.parse_args(argv)
    chosen = [examples.by_name(n) for n in args.examples] if args.examples else examples.all_examples()
    lm = load_model("bundled")
    print("| example | method | scorer tokens | one forward pass | compress | compress + heatmap numbers |")
    print("|---|---|---|---|---|---|", flush=True)
    for example in chosen:
        for method in args.methods or list(REGISTRY):
            print(row(lm, example, method), flush=True)
    print(cpu())
    return 0


if __name__ == "__main__":
    sys.exit(main())
