"""CUDA check, run on a lent GPU machine: the scorer and LLMLingua on the GPU.

The bundled weights are too large to send to that machine, so this builds SmolLM2-135M's architecture with
random weights around the real tokenizer (the compute is the same; the scores are meaningless) and checks
that loading picks CUDA, compressions meet their budgets there, and how long they take against one forward
pass on the same device. ``--assets`` holds config.json + tokenizer files and GSM8K rows.

    python bench/gpu_check.py --assets .gpu
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build_model(assets: Path, out: Path) -> Path:
    import torch
    from transformers import AutoConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(assets / "smol")
    LlamaForCausalLM(config).save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(assets / "smol" / name, out / name)
    return out


def prompts(assets: Path, shots: int):
    rows = [json.loads(line) for line in open(assets / "train.jsonl")][:shots]
    demos = []
    for r in rows:
        body, answer = r["answer"].split("####")
        demos.append(f"Question: {r['question']}\nLet's think step by step\n"
                     f"{re.sub(r'<<.*?>>', '', body.strip())}\nThe answer is {answer.strip()}")
    return demos, "Question: " + json.loads(open(assets / "test_dev.jsonl").readline())["question"]


def forward_seconds(lm, text: str) -> float:
    import torch

    ids = torch.tensor([lm.tokenizer(text, add_special_tokens=False)["input_ids"]], device=lm.device)
    times = []
    with torch.inference_mode():
        for i in range(4):
            torch.cuda.synchronize()
            t = time.perf_counter()
            lm.model(ids)
            torch.cuda.synchronize()
            if i:
                times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    import torch
    import transformers

    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", default=".gpu")
    args = parser.parse_args()
    assets = Path(args.assets)
    print("torch", torch.__version__, "transformers", transformers.__version__, "cuda", torch.cuda.is_available(),
          torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
    folder = build_model(assets, Path("/tmp/smol-random"))
    from lingua_core import Request, budget, compress
    from lingua_core.loading import load_model
    from lingua_core.methods.base import clear_caches

    lm = load_model(str(folder))
    print("loaded on", lm.device, next(lm.model.parameters()).dtype)
    assert lm.device == "cuda"
    print("| prompt | setting | requested | got | within | seconds | forward | x forward |")
    for shots in (8, 16, 128):
        demos, question = prompts(assets, min(shots, 16))
        demos = (demos * (shots // len(demos)))[:shots]
        fwd = forward_seconds(lm, "\n\n".join(demos + [question])) if shots <= 16 else float("nan")
        compress(Request(context=demos, question=question, target_token=200), lm)
        for label, kw in (("target 200", dict(target_token=200)), ("rate 0.25", dict(rate=0.25)),
                          ("rate 0.5", dict(rate=0.5))):
            clear_caches()
            torch.cuda.synchronize()
            r = compress(Request(context=demos, question=question, **kw), lm)
            ok = budget.within(r.compressed_tokens, r.requested_tokens, r.origin_tokens)
            print(f"| {shots}-shot ({r.origin_scorer_tokens} tok) | {label} | {r.requested_tokens} | "
                  f"{r.compressed_tokens} | {ok} | {r.seconds:.3f} | {fwd:.3f} | {r.seconds / fwd:.2f} |")
    print("peak GPU memory MiB", torch.cuda.max_memory_allocated() / 2**20)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
