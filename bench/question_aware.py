"""Benchmark of question-aware compression on NaturalQuestions multi-document prompts.

Each case is one NQ-open question with its gold passage placed at a seeded random position among the gold
passages of 9 other questions (assets/data/nq/nq-open-oracle-dev.jsonl.gz). Every method compresses each
case at the same rate; the script prints, per method, how often the gold passage was ranked first (for
methods that rank documents), how often a gold answer survives in the compressed prompt (as whole words,
SQuAD-normalised: ``answers.contains_gold``), the achieved rate, and the seconds per case (scoring passes
not reused between cases), and with ``--forward`` those seconds as a multiple of one plain forward pass of the
scorer over each case's whole prompt, timed in the same run (sum over cases of the method's seconds / sum of
the passes': issue 14's yardstick). ``nq_qa.py`` goes further and asks an LLM; this one needs only the scorer.

    python bench/question_aware.py                       # 20 cases, rate 0.25, the four methods below
    python bench/question_aware.py --methods longllmlingua --forward
    python bench/question_aware.py --cases 50 --rate 0.33 --methods longllmlingua llmlingua
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def nq_cases(n: int, distractors: int = 9, seed: int = 0, pool: int = 500) -> list[tuple[list[str], str, int, list]]:
    """(documents, question, gold index, gold answers) for the first ``n`` questions."""
    from assets.data import nq, nq_passage

    rows = nq(limit=pool)
    rng, cases = random.Random(seed), []
    for i in range(n):
        docs = [nq_passage(rows[j]) for j in rng.sample([j for j in range(len(rows)) if j != i], distractors)]
        gold = rng.randrange(distractors + 1)
        docs.insert(gold, nq_passage(rows[i]))
        cases.append((docs, f"Question: {rows[i]['question']}?\nAnswer:", gold, rows[i]["answers"]))
    return cases


def forward_passes(cases, lm) -> list[float]:
    """Seconds of one plain forward pass over each case's whole prompt (documents, then the question)."""
    from core_speed import forward_seconds

    return [forward_seconds(lm, "\n\n".join(docs + [question]), repeat=1) for docs, question, _, _ in cases]


def measure(method: str, cases, rate: float, lm) -> dict:
    from lingua_core import Request, compress
    from lingua_core.answers import contains_gold
    from lingua_core.methods import clear_caches

    first = kept_answer = 0
    seconds, rates, ranked = [], [], False
    for docs, question, gold, answers in cases:
        clear_caches()
        r = compress(Request(context=docs, question=question, rate=rate, method=method), lm)
        ranked |= r.pieces[gold].rank >= 0
        first += r.pieces[gold].rank == 0
        kept_answer += contains_gold(r.compressed, answers)
        seconds.append(r.seconds)
        rates.append(r.rate)
    n = len(cases)
    return {"method": method, "gold ranked first": first / n if ranked else None,
            "answer survives": kept_answer / n, "rate": statistics.mean(rates),
            "s/case": statistics.mean(seconds), "s/case median": statistics.median(seconds), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--rate", type=float, default=0.25)
    parser.add_argument("--methods", nargs="+", default=["longllmlingua", "llmlingua", "random", "first_n"])
    parser.add_argument("--forward", action="store_true", help="also time one forward pass per case (x forward)")
    args = parser.parse_args()
    from lingua_core.loading import load_model

    lm = load_model("bundled")
    cases = nq_cases(args.cases)
    print(f"{args.cases} NQ cases (gold among 9 distractors), rate {args.rate}, scorer on {lm.device}")
    passes = forward_passes(cases, lm) if args.forward else None
    if passes:
        print(f"one forward pass: {statistics.mean(passes):.2f} s a case on average", flush=True)
    print(f"{'method':<16}{'gold first':>12}{'answer kept':>13}{'rate':>8}{'s/case':>9}{'median':>9}"
          + (f"{'x forward':>11}" if passes else ""))
    for method in args.methods:
        row = measure(method, cases, args.rate, lm)
        first = "-" if row["gold ranked first"] is None else f"{row['gold ranked first']:.0%}"
        tail = f"{sum(row['seconds']) / sum(passes):>11.2f}" if passes else ""
        print(f"{method:<16}{first:>12}{row['answer survives']:>13.0%}{row['rate']:>8.3f}"
              f"{row['s/case']:>9.2f}{row['s/case median']:>9.2f}{tail}", flush=True)
    if passes:
        from scorer_dtype import cpu
        print(cpu())


if __name__ == "__main__":
    main()
