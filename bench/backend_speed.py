"""Speed of the local backend (the bundled SmolLM2 answering in this process), original vs compressed prompt.

Builds a 4-shot GSM8K chain-of-thought prompt, compresses it with LLMLingua at rate 0.33, and asks the
local backend both, one after the other (as the app does), printing latency, prompt and output tokens,
decode speed, and the agreement and correctness figures ``compare`` reports.

    python bench/backend_speed.py                  # 64 new tokens per answer
    python bench/backend_speed.py --max-new 128
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-new", type=int, default=64)
    parser.add_argument("--shots", type=int, default=4)
    args = parser.parse_args()

    from assets import data
    from lingua_core import Request, compress
    from lingua_core.answers import gsm8k_gold
    from lingua_core.backends import get_backend
    from lingua_core.compare import compare

    train, test = data.gsm8k("train", limit=args.shots), data.gsm8k("test_dev", limit=1)[0]
    demos, question = [data.gsm8k_demo(r) for r in train], "Question: " + test["question"]
    result = compress(Request(context=demos, question=question, rate=0.33))
    backend = get_backend("local", device="cpu")
    backend.answer("Warm up.", max_new_tokens=2)
    c = compare(result.original, result.compressed, backend, gold_answers=str(gsm8k_gold(test["answer"])),
                max_new_tokens=args.max_new)
    for label, side in (("original", c.original), ("compressed", c.compressed)):
        a = side.answer
        print(f"{label:>10}: {a.prompt_tokens:5d} prompt tok  {a.output_tokens:4d} out tok  {a.latency_s:6.2f} s  "
              f"{a.output_tokens / max(a.latency_s, 1e-9):5.1f} tok/s overall  correct={side.correct}  "
              f"${side.cost_usd:.5f} at {c.price_model}")
    print(f"agreement: token F1 {c.agreement_f1:.2f}, exact match {c.agreement_em}")


if __name__ == "__main__":
    main()
