"""Benchmark of ``LINGUA_SCORER_DTYPE``: how much faster the bundled scorer is on this CPU in each dtype, and how
much its compressions change against float32.

For each dtype in ``config.SCORER_DTYPES`` (float32 first, the reference) it loads the bundled scorer the way
the app does (``loading.load_model`` with the setting) and prints:

* one plain forward pass (median of 3) over an 8-shot GSM8K chain-of-thought prompt (demonstrations from
  ``assets/data/gsm8k/train.jsonl.gz``, a test_dev question) and over the 10-document NaturalQuestions prompt
  of ``bench/nq_cases.py`` case 0, and the speed-up against float32;
* the Jaccard index of the kept scorer tokens against float32's for LLMLingua at rate 0.25 on the GSM8K
  prompt and LongLLMLingua at 4x on each NQ case (the mean over the cases);
* on how many of the NQ cases the compressed prompt (LongLLMLingua 4x) still holds a gold answer;
* the CPU model and flags (``lscpu``).

    python bench/scorer_dtype.py                 # 20 NQ cases (about 15 minutes on 2 busy cores)
    python bench/scorer_dtype.py --cases 5 --dtypes float32 int8
    python bench/scorer_dtype.py --forward-only --rounds 5   # speed only, the dtypes interleaved round by round

On a shared machine the one-pass figures of the full run drift with the load (each dtype is measured minutes
apart); ``--forward-only`` times one pass per dtype and prompt in turn, round after round, and prints the
median of each dtype's per-round speed-up against float32, which the drift mostly cancels out of.

The issue's rule (14, goal 3): a dtype becomes the CPU default only when it is at least 1.5x faster with a
Jaccard of at least 0.95 on both prompts and the NQ figure within noise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core_speed import forward_seconds, gsm8k_prompt  # noqa: E402

from lingua_core.config import SCORER_DTYPES  # noqa: E402

GSM8K_SHOTS = 8
GSM8K_RATE = 0.25        # LLMLingua's setting for the GSM8K agreement
NQ_RATE = 0.25           # LongLLMLingua 4x on the NQ cases


@dataclass
class DtypeRun:
    dtype: str
    gsm8k_forward: float                  # seconds, one plain pass over the GSM8K prompt
    nq_forward: float                     # seconds, one plain pass over NQ case 0's prompt
    gsm8k_kept: frozenset[int]            # kept scorer-token indices, LLMLingua at GSM8K_RATE
    nq_kept: list[frozenset[int]] = field(default_factory=list)   # the same for LongLLMLingua, per case
    answer_kept: int = 0                  # NQ cases whose compressed prompt holds a gold answer


def cpu() -> str:
    """The CPU's model name and flags, as ``lscpu`` prints them."""
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    return "\n".join(line for line in out.splitlines() if line.startswith(("Model name", "Flags")))


def kept(result) -> frozenset[int]:
    """Indices of the result's kept scorer tokens."""
    return frozenset(i for i, t in enumerate(result.tokens) if t.kept)


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    """|a & b| / |a | b| (1.0 for two empty sets).

    >>> jaccard(frozenset({1, 2, 3}), frozenset({2, 3, 4}))
    0.5
    """
    return len(a & b) / len(a | b) if a | b else 1.0


def run_dtype(dtype: str, cases: list, demos: list[str], question: str) -> DtypeRun:
    """Load the scorer in ``dtype`` and measure it (every compression from scratch: caches cleared)."""
    import nq_cases

    from lingua_core import Request, compress
    from lingua_core.answers import contains_gold
    from lingua_core.loading import load_model
    from lingua_core.methods import clear_caches

    os.environ["LINGUA_SCORER_DTYPE"] = dtype
    lm = load_model("bundled", device="cpu")
    assert lm.dtype == dtype, f"asked for {dtype}, loaded {lm.dtype}"
    clear_caches()
    gsm = compress(Request(context=demos, question=question, rate=GSM8K_RATE), lm)
    run = DtypeRun(dtype, forward_seconds(lm, gsm.original),  # gsm.original == compress_text(demos, question)
                   forward_seconds(lm, nq_cases.prompt_text(nq_cases.request(cases[0]))), kept(gsm))
    for case in cases:
        clear_caches()
        result = compress(nq_cases.request(case, NQ_RATE, "longllmlingua"), lm)
        run.nq_kept.append(kept(result))
        run.answer_kept += contains_gold(result.compressed, case.answers)
    return run


def compress_text(demos: list[str], question: str) -> str:
    """The GSM8K prompt as the compressor lays it out (what the forward pass reads)."""
    from lingua_core import Request
    from lingua_core.selection import layout

    return layout(Request(context=demos, question=question, rate=GSM8K_RATE))[0]


def table(runs: list[DtypeRun], n_cases: int, gsm_tokens: int, nq_tokens: int) -> str:
    ref = runs[0]
    lines = [f"| dtype | forward GSM8K ({gsm_tokens} tok) | speed-up | forward NQ ({nq_tokens} tok) | speed-up | "
             f"Jaccard GSM8K (LLMLingua, rate {GSM8K_RATE}) | Jaccard NQ (LongLLMLingua 4x, mean of {n_cases}) | "
             f"NQ answer kept at 4x |", "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        nq_j = sum(jaccard(a, b) for a, b in zip(r.nq_kept, ref.nq_kept)) / len(r.nq_kept)
        lines.append(f"| {r.dtype} | {r.gsm8k_forward:.2f} s | {ref.gsm8k_forward / r.gsm8k_forward:.2f}x | "
                     f"{r.nq_forward:.2f} s | {ref.nq_forward / r.nq_forward:.2f}x | "
                     f"{jaccard(r.gsm8k_kept, ref.gsm8k_kept):.3f} | {nq_j:.3f} | "
                     f"{r.answer_kept}/{n_cases} |")
    return "\n".join(lines)


def interleaved(dtypes: list[str], texts: dict[str, str], rounds: int) -> str:
    """Median speed-up against float32 of one pass per dtype and prompt, timed in turn in every round."""
    import statistics
    import time

    import torch

    from lingua_core.loading import load_model

    models = {}
    for dtype in dtypes:
        os.environ["LINGUA_SCORER_DTYPE"] = dtype
        models[dtype] = load_model("bundled", device="cpu")
    ids = {name: torch.tensor([models["float32"].tokenizer(t, add_special_tokens=False)["input_ids"]])
           for name, t in texts.items()}
    seconds = {(d, n): [] for d in dtypes for n in texts}
    with torch.inference_mode():
        for d in dtypes:                                   # one warm-up pass each
            models[d].model(ids[next(iter(texts))][:, :64])
        for _ in range(rounds):
            for n in texts:
                for d in dtypes:
                    started = time.perf_counter()
                    models[d].model(ids[n])
                    seconds[d, n].append(time.perf_counter() - started)
    lines = [f"| dtype | {' | '.join(f'{n} ({ids[n].shape[1]} tok): median s, speed-up' for n in texts)} |",
             "|---|" + "---|" * len(texts)]
    for d in dtypes:
        cells = []
        for n in texts:
            ups = [f / s for f, s in zip(seconds["float32", n], seconds[d, n])]
            cells.append(f"{statistics.median(seconds[d, n]):.2f} s, {statistics.median(ups):.2f}x")
        lines.append(f"| {d} | {' | '.join(cells)} |")
    return "\n".join(lines) + f"\n({rounds} rounds, dtypes interleaved)"


def main(argv=None) -> int:
    import nq_cases

    from lingua_core.loading import load_model
    from lingua_core.scoring import tokenize

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20, help="NQ cases for the Jaccard and answer-kept figures")
    parser.add_argument("--dtypes", nargs="+", default=list(SCORER_DTYPES), choices=SCORER_DTYPES,
                        help="dtypes to measure (float32, the reference, is always measured first)")
    parser.add_argument("--forward-only", action="store_true", help="only the interleaved one-pass speed-ups")
    parser.add_argument("--rounds", type=int, default=5, help="rounds for --forward-only")
    args = parser.parse_args(argv)
    dtypes = ["float32"] + [d for d in args.dtypes if d != "float32"]
    demos, question = gsm8k_prompt(GSM8K_SHOTS)
    cases = nq_cases.build_cases(args.cases)
    if args.forward_only:
        texts = {"GSM8K": compress_text(demos, question), "NQ": nq_cases.prompt_text(nq_cases.request(cases[0]))}
        print(interleaved(dtypes, texts, args.rounds))
        print(cpu())
        return 0
    runs = []
    for dtype in dtypes:
        runs.append(run_dtype(dtype, cases, demos, question))
        print(f"measured {dtype}", flush=True)
    lm = load_model("bundled", device="cpu")
    gsm_tokens = len(tokenize(lm, compress_text(demos, question)).ids)
    nq_tokens = len(tokenize(lm, nq_cases.prompt_text(nq_cases.request(cases[0]))).ids)
    print(table(runs, len(cases), gsm_tokens, nq_tokens))
    print(f"torch threads: {__import__('torch').get_num_threads()}")
    print(cpu())
    return 0


if __name__ == "__main__":
    sys.exit(main())
