"""Choose minilingua's defaults on held-back NQ cases: answer kept at 4x, 8x and 16x, Auto's ratio and answer kept.

The cases are ``nq_cases.build_cases`` numbers ``[--first, --first + --cases)`` (300-339 by default): after
the first 300, which the benchmark (``minilingua_nq.py``, 200 cases) and the token head's NQ exclusion use,
so no choice is made on a benchmark case. The encoder passes are cached per prompt, so every option set
costs only its fit. Each option set is a (sentence_weight, doc_weight, head_docs, answer_weight) tuple; the
4x and 8x columns are there so a setting that helps 16x can be checked not to hurt the lower ratios.

    python bench/minilingua_tune.py --cases 40
    python bench/minilingua_tune.py --cases 40 --sentence-weights 4 16 --head-docs 1 3
    python bench/minilingua_tune.py --first 300 --cases 80 --sentence-weights 4 --doc-weights 1 \
        --answer-weights 0 0.5 1 2 4
    python bench/minilingua_tune.py --cases 20 --sentence-weights 4 --doc-weights 1 --answer-weights 0 2 \
        --margins --time        # seconds per compression of each option set, caches cleared before each
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import nq_cases  # noqa: E402
import nq_qa  # noqa: E402


def table(kept: dict[tuple, list[bool]], ratios: list[int]) -> list[str]:
    """One markdown row per option set: answer kept at each ratio (and how many of the cases).

    >>> table({(4.0, 1.0, 3, 0.0, 16): [True, False]}, [16])[2]
    '| 4.0 | 1.0 | 3 | 0.0 | 50.0% (2) |'
    """
    sets = sorted({k[:4] for k in kept})
    out = ["| sentence_weight | doc_weight | head_docs | answer_weight | " + " | ".join(f"{r}x" for r in ratios)
           + " |", "|---|---|---|---|" + "---|" * len(ratios)]
    for s in sets:
        cells = [kept.get(s + (r,), []) for r in ratios]
        out.append(f"| {s[0]} | {s[1]} | {s[2]} | {s[3]} | " + " | ".join(
            f"{100 * statistics.mean(v):.1f}% ({len(v)})" if v else "-" for v in cells) + " |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--first", type=int, default=300)
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--ratios", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--sentence-weights", type=float, nargs="+", default=[2.0, 4.0, 8.0, 16.0])
    ap.add_argument("--doc-weights", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    ap.add_argument("--head-docs", type=int, nargs="+", default=[3])
    ap.add_argument("--answer-weights", type=float, nargs="+", default=[1.0])
    ap.add_argument("--margins", type=float, nargs="*", default=[0.04, 0.08, 0.12])
    ap.add_argument("--time", action="store_true", help="clear the caches before every compression and print "
                                                       "each option set's mean seconds")
    args = ap.parse_args()
    from lingua_core import compress
    from lingua_core.answers import contains_gold
    from lingua_core.loading import load_model
    from lingua_core.methods import clear_caches

    lm = load_model("bundled", "cpu")
    cases = nq_cases.build_cases(args.first + args.cases)[args.first:]
    kept: dict[tuple, list[bool]] = {}
    auto: dict[tuple, list[tuple[bool, float]]] = {}
    seconds: dict[tuple, list[float]] = {}
    if args.time:                           # load every model before timing
        nq_qa.warm_up(["minilingua"], lm)
    t0 = time.perf_counter()
    for case in cases:
        for sw, dw, hd, aw in itertools.product(args.sentence_weights, args.doc_weights, args.head_docs,
                                                args.answer_weights):
            for ratio in args.ratios:
                opts = {"sentence_weight": sw, "doc_weight": dw, "head_docs": hd, "answer_weight": aw}
                if args.time:
                    clear_caches()
                t = time.perf_counter()
                r = compress(nq_cases.request(case, 1 / ratio, "minilingua", opts), lm)
                seconds.setdefault((sw, dw, hd, aw), []).append(time.perf_counter() - t)
                kept.setdefault((sw, dw, hd, aw, ratio), []).append(contains_gold(r.compressed, case.answers))
        for m in args.margins:
            r = compress(nq_cases.request(case, 0.25, "minilingua", {"auto": True, "auto_margin": m}), lm)
            auto.setdefault((m,), []).append((contains_gold(r.compressed, case.answers), r.ratio))
        print(f"case {case.case_id} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"{len(cases)} held-back cases ({args.first}-{args.first + len(cases) - 1}); answer kept:")
    print("\n".join(table(kept, args.ratios)))
    if args.time:
        for k, v in sorted(seconds.items()):
            print(f"sentence_weight {k[0]}, doc_weight {k[1]}, head_docs {k[2]}, answer_weight {k[3]}: "
                  f"{statistics.mean(v):.3f} s a compression (mean of {len(v)}, caches cleared)")
    for (m,), v in sorted(auto.items()):
        print(f"auto_margin {m}: answer kept {100 * statistics.mean(k for k, _ in v):.1f}%, "
              f"mean ratio {statistics.mean(x for _, x in v):.2f}x")


if __name__ == "__main__":
    main()
