"""MiniLingua on the NQ 10-document cases: is the answer kept at 4x, 8x, 16x, and what does Auto give the reader?

The cases, rows and reader are ``nq_qa.py``'s (same prompts, same ``compress_row``: caches cleared before
every compression, so each row's seconds are real work; same bundled SmolLM2-135M reader). This script runs
only the rows issue 15 asks about, so they fit a CPU session:

* ``minilingua`` at ``--ratios`` (default 4, 8, 16) on every case, and ``minilingua_auto`` (``auto=True``,
  the 4x rate as its ceiling) with the reader's answer on every case;
* ``longllmlingua`` at 4x on the first ``--baseline-cases`` cases of the same run, for the seconds ratio
  (its answer-kept figures on all cases are ``nq_qa.py``'s);
* ``--reader-ratios`` adds the reader on minilingua's fixed-ratio rows too.

Every method runs once, untimed, before the first case (``nq_qa.warm_up``), so no row's seconds include
loading a model. Rows go to ``bench/out/minilingua_nq.jsonl`` (resumable, as ``nq_qa.py``'s) and the summary is
printed:

    python bench/minilingua_nq.py --cases 200 --baseline-cases 20
    python bench/minilingua_nq.py --summary              # the table from the rows already written

``--shard i/n`` takes only the cases with ``case_id % n == i``; give each shard its own ``--out`` and the
same ``--rows`` glob (rows found there count as done, and the summary reads them all):

    python bench/minilingua_nq.py --shard 1/2 --out bench/out/minilingua_nq_1.jsonl \
        --rows 'bench/out/minilingua_nq*.jsonl'
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import nq_cases  # noqa: E402
import nq_qa  # noqa: E402

OUT = nq_qa.OUT / "minilingua_nq.jsonl"
AUTO = "minilingua_auto"
AUTO_CEILING = 4                           # auto runs under the 4x rate as its ceiling


def cpu_model() -> str:
    """The CPU model as ``lscpu`` names it (recorded beside every absolute figure)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return platform.processor() or "unknown CPU"
    return next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")),
                "unknown CPU")


def jobs(case_id: int, args) -> list[tuple[str, int, bool]]:
    """(method, ratio, ask the reader) for one case."""
    out = [("minilingua", r, r in args.reader_ratios) for r in args.ratios]
    out += [] if args.no_auto else [(AUTO, AUTO_CEILING, True)]
    if case_id < args.baseline_cases:
        out.append(("longllmlingua", 4, False))
    return out


def run(args) -> None:
    from lingua_core.methods import clear_caches  # noqa: F401  (compress_row clears them)

    cfg = nq_qa.Config(cases=args.cases, out=args.out)
    lm = nq_qa.load_float32(None)
    reader = nq_qa.Reader(cfg, None)
    done = nq_qa.finished(nq_qa.load_rows(args.rows or str(args.out)))
    env = {**nq_qa.environment(lm, cfg), "cpu": cpu_model()}
    nq_qa.warm_up([m for m, _, _ in jobs(0, args)], lm)
    t0 = time.perf_counter()
    i, n = (int(x) for x in args.shard.split("/"))
    for case in (c for c in nq_cases.build_cases(args.cases) if c.case_id % n == i):
        t = time.perf_counter()
        for method, ratio, ask in jobs(case.case_id, args):
            key = nq_qa.row_key(case.case_id, method, ratio, cfg)
            if key in done:
                continue
            numbers = nq_qa.compress_row(case, method, ratio, lm)
            answer = reader(numbers["compressed"], case.answers) if ask else \
                {"answer": None, "correct": None, "reader_s": None}
            row = {"key": key, "case": case.case_id, "row": case.row, "method": method, "ratio": ratio,
                   "version": nq_qa.source_version(method), "gold_pos": case.gold_pos, **numbers, **answer,
                   **env, "ts": time.time()}
            nq_qa.append(args.out, row)
            done[key] = row
        print(f"case {case.case_id}: {time.perf_counter() - t:.1f} s (total {time.perf_counter() - t0:.0f} s)",
              flush=True)


def summary(pattern: str) -> None:
    rows = list(nq_qa.finished(nq_qa.load_rows(pattern)).values())
    if not rows:
        print(f"no rows in {pattern}")
        return
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["ratio"]), []).append(r)
    print(f"CPU: {rows[0].get('cpu', '?')} ({rows[0].get('device', '?')})")
    print("| method | asked | cases | answer kept | mean ratio | reader correct | s / case | gold ranked 1st |")
    print("|---|---|---|---|---|---|---|---|")
    for (m, ratio), rs in sorted(groups.items()):
        asked = f"auto (<= {ratio}x)" if m == AUTO else f"{ratio}x"
        read = [r["correct"] for r in rs if r.get("correct") is not None]
        acc = f"{100 * sum(read) / len(read):.1f}% ({len(read)})" if read else "-"
        print(f"| {m} | {asked} | {len(rs)} | {100 * statistics.mean(r['answer_kept'] for r in rs):.1f}% | "
              f"{statistics.mean(r['ratio_achieved'] for r in rs):.2f}x | {acc} | "
              f"{statistics.mean(r['seconds'] for r in rs):.2f} | "
              f"{100 * statistics.mean(r['gold_rank'] == 0 for r in rs):.1f}% |")
    base = {r["case"]: r["seconds"] for r in groups.get(("longllmlingua", 4), [])}
    mini = {r["case"]: r["seconds"] for r in groups.get(("minilingua", 4), []) if r["case"] in base}
    if mini:
        print(f"minilingua 4x / longllmlingua 4x seconds on the same {len(mini)} cases: "
              f"{statistics.mean(mini.values()) / statistics.mean(base[c] for c in mini):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--ratios", type=int, nargs="*", default=[4, 8, 16])
    ap.add_argument("--no-auto", action="store_true", help="leave out the Auto rows")
    ap.add_argument("--reader-ratios", type=int, nargs="*", default=[])
    ap.add_argument("--baseline-cases", type=int, default=20)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--shard", default="0/1", help="i/n: take the cases with case_id %% n == i")
    ap.add_argument("--rows", default="", help="glob of JSONL files whose rows count as done and are summarised "
                                               "(default: --out)")
    ap.add_argument("--summary", action="store_true", help="print the table from the rows already written")
    args = ap.parse_args()
    if not args.summary:
        run(args)
    summary(args.rows or str(args.out))


if __name__ == "__main__":
    main()
