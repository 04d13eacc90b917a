"""Benchmark of a ratio sweep against one compression, per method, on a ~1,000-token prompt.

The prompt is GSM8K 8-shot chain-of-thought (1,076 cl100k tokens; demonstrations from
assets/data/gsm8k/train.jsonl.gz, a test_dev question). For every registered method that runs offline it
times, from cleared caches (``methods.clear_caches`` and ``sweep.clear_cache``), one compression at 4x and a
10-point sweep from 1.5x to 20x (geometric), and prints the sweep's time as a multiple of the one
compression (the issue's bar: at most 4x), by wall time and by this process's CPU time (steadier when
other jobs share the machine). The sweep time includes the unconditional scoring pass behind
the info-kept proxy; the columns split it out. Methods whose default model needs the hub run with their
``offline_options`` (LLMLingua-2: a small test encoder, so its figures are not the real model's).
Median of ``--repeat`` runs.

    python bench/sweep_speed.py                 # all offline methods, 1 run each
    python bench/sweep_speed.py --repeat 3 --methods llmlingua
    python bench/sweep_speed.py --threads 1     # on a busy machine: read the CPU-time column
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from core_speed import gsm8k_prompt  # noqa: E402

ONE_RATIO = 4.0


def cold():
    from lingua_core import methods, sweep

    methods.clear_caches()
    sweep.clear_cache()


def method_request(request, method: str, ratio: float):
    """``request`` with ``method`` at ``ratio``; methods that need a hub model use their offline options."""
    from dataclasses import replace

    from lingua_core.methods import REGISTRY

    options = dict(getattr(REGISTRY[method], "offline_options", {}) or {}) or None
    return replace(request, rate=1 / ratio, method=method, options=options)


def warm_up(lm, request, method: str) -> None:
    """One compression first, so loading the method's own models is not timed."""
    from lingua_core import compress

    compress(method_request(request, method, ONE_RATIO), lm)


def timed(fn):
    """(result, wall seconds, CPU seconds of this process): CPU time is steadier on a shared machine."""
    cold()
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def one_run(lm, request, method: str) -> dict:
    from lingua_core import compress
    from lingua_core import sweep as sw

    one_request = method_request(request, method, ONE_RATIO)
    ratios = sw.geometric_ratios(1.5, 20, 10)
    _, one, one_cpu = timed(lambda: compress(one_request, lm))
    points, whole, whole_cpu = timed(lambda: sw.sweep(request, ratios, {method: one_request.options}, lm))
    _, info, _ = timed(lambda: sw.original_information(lm, points[0].result.original))
    return dict(one=one, sweep=whole, compressions=sum(p.seconds for p in points), info=info,
                x_wall=whole / one, x_cpu=whole_cpu / one_cpu, x_compressions=sum(p.seconds for p in points) / one,
                info_kept=[p.info_kept for p in points], ratios=[p.ratio for p in points])


def main() -> None:
    from lingua_core import Request
    from lingua_core.errors import ModelLoadError
    from lingua_core.loading import load_model
    from lingua_core.methods import REGISTRY

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--methods", nargs="*", default=None, help="registry names (default: all)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default); 1 gives "
                        "steady CPU times when other jobs share the machine")
    args = parser.parse_args()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    lm = load_model("bundled")
    demos, question = gsm8k_prompt(8)
    request = Request(context=demos, question=question)
    import torch
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"torch threads: {torch.get_num_threads()}")
    print("| method | one compression at 4x (s) | 10-point sweep (s) | its compressions (s) | info pass (s) "
          "| sweep / one | sweep / one, CPU time | compressions / one |")
    print("|---|---|---|---|---|---|---|---|")
    for method in args.methods or sorted(REGISTRY):
        try:
            warm_up(lm, request, method)
            runs = [one_run(lm, request, method) for _ in range(args.repeat)]
        except ModelLoadError as exc:
            print(f"| {method} | not run offline: {str(exc).splitlines()[0][:80]} |||||||")
            continue
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], float)}
        print(f"| {method} | {med['one']:.2f} | {med['sweep']:.2f} | {med['compressions']:.2f} | {med['info']:.2f} "
              f"| {med['x_wall']:.2f}x | {med['x_cpu']:.2f}x | {med['x_compressions']:.2f}x |", flush=True)
        last = runs[-1]
        print(f"|  achieved ratio / info kept: " + ", ".join(
            f"{r:.1f}x {i:.2f}" for r, i in zip(last["ratios"], last["info_kept"])) + " |||||||", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
