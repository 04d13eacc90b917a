"""Benchmark of the LLMLingua method against one plain forward pass of the same model over the same prompt.

For 8- and 16-shot GSM8K chain-of-thought prompts (demonstrations from assets/data/gsm8k/train.jsonl.gz, a
test_dev question), compresses to 200 target tokens, rate 0.25 and rate 0.5, and prints the time as a ratio to
one forward pass measured in the same run, plus the achieved size against the request. Also measures the
cold (empty cache folder) and warm start to a first compression in fresh processes.

    python bench/core_speed.py            # all of it (about 3 minutes on 2 cores)
    python bench/core_speed.py --no-start # skip the start-up measurement
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def gsm8k_prompt(shots: int) -> tuple[list[str], str]:
    from assets import data

    demos = [data.gsm8k_demo(r) for r in data.gsm8k("train", limit=shots)]
    return demos, "Question: " + data.gsm8k("test_dev", limit=1)[0]["question"]


def forward_seconds(lm, text: str, repeat: int = 3) -> float:
    import torch

    ids = torch.tensor([lm.tokenizer(text, add_special_tokens=False)["input_ids"]])
    times = []
    with torch.inference_mode():
        lm.model(ids)
        for _ in range(repeat):
            t = time.perf_counter()
            lm.model(ids)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def speed_table() -> list[dict]:
    from lingua_core import Request, compress
    from lingua_core.loading import load_model
    from lingua_core.methods.base import clear_caches

    lm = load_model("bundled")
    rows = []
    for shots in (8, 16):
        demos, question = gsm8k_prompt(shots)
        compress(Request(context=demos, question=question, target_token=200), lm)  # warm-up
        fwd = forward_seconds(lm, "\n\n".join(demos + [question]))
        for label, kw in (("target 200", dict(target_token=200)), ("rate 0.25", dict(rate=0.25)),
                          ("rate 0.5", dict(rate=0.5))):
            times, r = [], None
            for _ in range(3):
                clear_caches()   # time real work, not a reused scoring pass
                r = compress(Request(context=demos, question=question, **kw), lm)
                times.append(r.seconds)
            sec = statistics.median(times)
            rows.append(dict(shots=shots, setting=label, origin=r.origin_tokens, requested=r.requested_tokens,
                             got=r.compressed_tokens, miss=r.compressed_tokens / r.requested_tokens - 1,
                             seconds=sec, forward=fwd, x_forward=sec / fwd))
    return rows


START = ("import time; t=time.perf_counter(); from lingua_core import Request, compress; "
         "r=compress(Request(context=['The quick brown fox jumps over the lazy dog. ' * 20], rate=0.5)); "
         "print(time.perf_counter()-t)")


def start_times() -> dict:
    """Seconds from a fresh interpreter to a first compression: cold (empty cache) then warm."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, LINGUA_CACHE_DIR=cache, HF_HUB_OFFLINE="1")
        out = {}
        for label in ("cold", "warm"):
            t = time.perf_counter()
            inner = subprocess.run([sys.executable, "-c", START], env=env, cwd=ROOT, capture_output=True,
                                   text=True, check=True)
            out[label] = dict(total=time.perf_counter() - t, in_process=float(inner.stdout.strip().splitlines()[-1]))
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-start", action="store_true")
    args = parser.parse_args()
    print("| prompt | setting | original | requested | got | miss | seconds | forward pass | x forward |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in speed_table():
        print(f"| {r['shots']}-shot | {r['setting']} | {r['origin']} | {r['requested']} | {r['got']} | "
              f"{r['miss']:+.1%} | {r['seconds']:.2f} | {r['forward']:.2f} | {r['x_forward']:.2f} |")
    if not args.no_start:
        s = start_times()
        for label, v in s.items():
            print(f"{label} start to first compression: {v['total']:.1f} s (in process {v['in_process']:.1f} s)")


if __name__ == "__main__":
    main()
