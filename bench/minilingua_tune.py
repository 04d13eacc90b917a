"""Choose minilingua's defaults on held-back NQ cases: answer kept at 8x and 16x, Auto's ratio and answer kept.

The cases are ``nq_cases.build_cases`` numbers ``[--first, --first + --cases)`` (300-339 by default): after
the first 300, which the benchmark (``minilingua_nq.py``, 200 cases) and the token head's NQ exclusion use,
so no choice is made on a benchmark case. The encoder passes are cached per prompt, so every option set
costs only its fit.

    python bench/minilingua_tune.py --cases 40
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import nq_cases  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--first", type=int, default=300)
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--sentence-weights", type=float, nargs="+", default=[2.0, 4.0, 8.0])
    ap.add_argument("--doc-weights", type=float, nargs="+", default=[0.5, 1.0])
    ap.add_argument("--margins", type=float, nargs="+", default=[0.04, 0.08, 0.12])
    args = ap.parse_args()
    from lingua_core import compress
    from lingua_core.answers import contains_gold
    from lingua_core.loading import load_model

    lm = load_model("bundled", "cpu")
    cases = nq_cases.build_cases(args.first + args.cases)[args.first:]
    kept: dict[tuple, list[bool]] = {}
    auto: dict[tuple, list[tuple[bool, float]]] = {}
    for case in cases:
        for sw, dw in itertools.product(args.sentence_weights, args.doc_weights):
            for ratio in (8, 16):
                r = compress(nq_cases.request(case, 1 / ratio, "minilingua",
                                              {"sentence_weight": sw, "doc_weight": dw}), lm)
                kept.setdefault((sw, dw, ratio), []).append(contains_gold(r.compressed, case.answers))
        for m in args.margins:
            r = compress(nq_cases.request(case, 0.25, "minilingua", {"auto": True, "auto_margin": m}), lm)
            auto.setdefault((m,), []).append((contains_gold(r.compressed, case.answers), r.ratio))
        print(f"case {case.case_id} done", flush=True)
    print(f"{len(cases)} held-back cases ({args.first}-{args.first + len(cases) - 1})")
    for (sw, dw, ratio), v in sorted(kept.items()):
        print(f"sentence_weight {sw} doc_weight {dw} {ratio}x: answer kept {100 * statistics.mean(v):.1f}%")
    for (m,), v in sorted(auto.items()):
        print(f"auto_margin {m}: answer kept {100 * statistics.mean(k for k, _ in v):.1f}%, "
              f"mean ratio {statistics.mean(x for _, x in v):.2f}x")


if __name__ == "__main__":
    main()
