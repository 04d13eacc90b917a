"""The multi-document QA benchmark's figures: a markdown table and a plot from the rows ``nq_qa.py`` wrote.

Only the numbers of cases finished by every method at every ratio (and the references) are used, so each
cell averages the same cases; seconds come from the device that compressed most rows, or, for a method
with no rows there, from its own device, named in the cell (a second table gives every device's). When a
method's source changed during a run, a warning says so (a rerun skips rows already written: delete a
method's rows to recompute them). The plot is drawn with plotly; when plotly
cannot export a static image (kaleido missing or unable to start Chrome) matplotlib draws the same PNG.

    python bench/nq_qa.py --report                       # reads bench/out/nq_qa*.jsonl, prints the tables
    python bench/nq_qa.py --report --rows 'somewhere/*.jsonl' --plot assets/bench_nq_qa.png
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

# table order; methods not named here follow
REFERENCES = {"full": "full prompt (reference)", "gold_only": "gold passage alone (reference)",
              "gold_filled": "gold passage + other passages to 4x (oracle)"}
ORDER = ("longllmlingua", "longllmlingua_docs", "llmlingua", "selective_context", "random", "first_n")
GOAL_KEPT = 0.70           # issue 3: LongLLMLingua keeps the answer in at least 70% of cases at 4x
GOAL_GAP = 0.5             # ... and its 4x accuracy closes at least half the full -> gold-only gap


@dataclass
class Cell:
    method: str
    ratio: int                 # asked for (1 for the references)
    n: int                     # cases averaged
    kept: float                # share with a gold answer in the (compressed) prompt
    achieved: float            # mean original / compressed tokens
    seconds: float             # mean compression seconds per case
    seconds_on: str            # "" when measured on the main device, else the device's name
    accuracy: float            # reader's share of correct answers (nan when not computed)
    n_answered: int            # cases the reader answered
    gold_doc_kept: float       # share with any of the gold document kept
    gold_first: float          # share with the gold document ranked first (nan for unranked methods)


def latest(rows: list[dict]) -> list[dict]:
    """The last row per key (a rerun of a row replaces it)."""
    by_key = {}
    for r in sorted(rows, key=lambda r: r.get("ts", 0)):
        by_key[r["key"]] = r
    return list(by_key.values())


def mixed_versions(rows: list[dict]) -> list[str]:
    """One warning per method whose rows come from more than one version of its source file."""
    seen = defaultdict(lambda: defaultdict(int))
    for r in rows:
        seen[r["method"]][r["version"]] += 1
    return [f"warning: {m} rows come from {len(v)} source versions ({', '.join(f'{k}: {n}' for k, n in v.items())})"
            for m, v in seen.items() if len(v) > 1]


def complete_cases(rows: list[dict]) -> set[int]:
    """Cases with a row for every (method, ratio) pair seen anywhere."""
    pairs = {(r["method"], r["ratio"]) for r in rows}
    have = defaultdict(set)
    for r in rows:
        have[r["case"]].add((r["method"], r["ratio"]))
    return {c for c, got in have.items() if got >= pairs}


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else math.nan


def main_device(rows: list[dict]) -> str:
    """The device that compressed most rows: the s / case column is measured on it alone."""
    seen = defaultdict(int)
    for r in rows:
        if r["method"] not in REFERENCES:
            seen[r.get("device", "?")] += 1
    return max(seen, key=seen.get) if seen else "?"


def cells(rows: list[dict]) -> tuple[list[Cell], int]:
    rows = latest(rows)
    keep = complete_cases(rows)
    dev = main_device(rows)
    groups = defaultdict(list)
    for r in rows:
        if r["case"] in keep:
            groups[(r["method"], r["ratio"])].append(r)
    rank = {m: i for i, m in enumerate(tuple(REFERENCES) + ORDER)}
    out = []
    for (method, ratio), rs in sorted(groups.items(), key=lambda kv: (rank.get(kv[0][0], 99), kv[0])):
        answered = [r["correct"] for r in rs if r.get("correct") is not None]
        on = dev if any(r.get("device", "?") == dev for r in rs) else main_device(rs)
        ranked = [r["gold_rank"] == 0 for r in rs if r.get("gold_rank", -1) >= 0]
        out.append(Cell(method, ratio, len(rs), mean(r["answer_kept"] for r in rs),
                        mean(r["ratio_achieved"] for r in rs),
                        mean(r["seconds"] for r in rs if r.get("device", "?") == on), "" if on == dev else on,
                        mean(answered), len(answered), mean(r["gold_doc_kept"] for r in rs), mean(ranked)))
    return out, len(keep)


def pct(x: float) -> str:
    return "–" if math.isnan(x) else f"{100 * x:.1f}%"


def half_ci(p: float, n: int) -> float:
    """Half-width of a 95% normal interval for a share, in points."""
    return 196 * math.sqrt(max(p * (1 - p), 1e-9) / n) if n else math.nan


def table(cs: list[Cell]) -> str:
    lines = ["| method | asked | answer in prompt | achieved ratio | s / case | reader accuracy | gold doc kept "
             "| gold doc ranked 1st |", "|---|---|---|---|---|---|---|---|"]
    for c in cs:
        asked = "–" if c.ratio == 1 else f"{c.ratio}x"
        seconds = "–" if c.method in REFERENCES or math.isnan(c.seconds) else f"{c.seconds:.2f}"
        seconds += f" ({c.seconds_on})" if c.seconds_on and seconds != "–" else ""
        lines.append(f"| {label(c.method)} | {asked} | {pct(c.kept)} | {c.achieved:.2f}x | {seconds} | "
                     f"{pct(c.accuracy)} | {pct(c.gold_doc_kept)} | {pct(c.gold_first)} |")
    return "\n".join(lines)


def label(method: str) -> str:
    return REFERENCES.get(method, method)


def goals(cs: list[Cell]) -> list[str]:
    get = {(c.method, c.ratio): c for c in cs}
    full, gold, long4 = get.get(("full", 1)), get.get(("gold_only", 1)), get.get(("longllmlingua", 4))
    if not (full and gold and long4):
        return ["goals: not enough rows (need full, gold_only and longllmlingua at 4x)"]
    out = [f"goal 1 (LongLLMLingua keeps the answer in >= {GOAL_KEPT:.0%} at 4x): {pct(long4.kept)} at "
           f"{long4.achieved:.2f}x -> {'met' if long4.kept >= GOAL_KEPT else 'MISSED'}"]
    gap = gold.accuracy - full.accuracy
    closed = (long4.accuracy - full.accuracy) / gap if gap > 0 else math.nan
    out.append(f"goal 2 (4x accuracy closes >= {GOAL_GAP:.0%} of the full -> gold-only gap): full "
               f"{pct(full.accuracy)}, 4x {pct(long4.accuracy)}, gold only {pct(gold.accuracy)}: closes "
               f"{pct(closed)} -> {'met' if closed >= GOAL_GAP else 'MISSED'}")
    oracle = next((c for c in cs if c.method == "gold_filled"), None)
    if oracle:
        share = (oracle.accuracy - full.accuracy) / gap if gap > 0 else math.nan
        out.append(f"oracle at {oracle.achieved:.2f}x (gold passage whole and first, other passages filling the "
                   f"budget): {pct(oracle.accuracy)}, closes {pct(share)}")
    return out


def speed_table(rows: list[dict]) -> str:
    """Mean compression seconds per case of each method on each device (all ratios and cases pooled)."""
    groups = defaultdict(list)
    for r in latest(rows):
        if r["method"] not in REFERENCES:
            groups[(r["method"], r.get("device", "?"))].append(r["seconds"])
    lines = ["| method | device | s / case | compressions |", "|---|---|---|---|"]
    for (m, d), secs in sorted(groups.items()):
        lines.append(f"| {m} | {d} | {mean(secs):.2f} | {len(secs)} |")
    return "\n".join(lines)


def devices(rows: list[dict]) -> str:
    seen = defaultdict(int)
    for r in rows:
        seen[f"{r.get('device', '?')} ({r.get('dtype', '?')})"] += 1
    return ", ".join(f"{d}: {n} rows" for d, n in sorted(seen.items(), key=lambda kv: -kv[1]))


def series(cs: list[Cell]) -> dict[str, list[Cell]]:
    out = defaultdict(list)
    for c in cs:
        if c.method not in REFERENCES:
            out[c.method].append(c)
    return out


def plot_plotly(cs: list[Cell], path: Path, title: str) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("gold answer still in the prompt", "reader accuracy"))
    for method, pts in series(cs).items():
        x = [p.achieved for p in pts]
        fig.add_trace(go.Scatter(x=x, y=[100 * p.kept for p in pts], name=method, legendgroup=method,
                                 mode="lines+markers"), 1, 1)
        fig.add_trace(go.Scatter(x=x, y=[100 * p.accuracy for p in pts], name=method, legendgroup=method,
                                 mode="lines+markers", showlegend=False), 1, 2)
    for c in cs:
        if c.method in REFERENCES and c.ratio == 1:
            fig.add_hline(y=100 * c.accuracy, line_dash="dash", annotation_text=label(c.method), row=1, col=2)
        elif c.method in REFERENCES:
            fig.add_trace(go.Scatter(x=[c.achieved], y=[100 * c.accuracy], name=label(c.method),
                                     mode="markers", marker_symbol="star", marker_size=12), 1, 2)
    fig.update_xaxes(type="log", title="achieved ratio (original / compressed tokens)", tickvals=[1.5, 2, 4, 8, 16])
    fig.update_yaxes(title="% of cases", rangemode="tozero")
    fig.update_layout(title=title, width=1100, height=450, template="plotly_white")
    fig.write_image(path)                    # raises when kaleido is missing: nothing is written then
    fig.write_html(path.with_suffix(".html"))


def plot_matplotlib(cs: list[Cell], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    for method, pts in series(cs).items():
        x = [p.achieved for p in pts]
        left.plot(x, [100 * p.kept for p in pts], marker="o", label=method)
        right.plot(x, [100 * p.accuracy for p in pts], marker="o", label=method)
    for c in cs:
        if c.method in REFERENCES and c.ratio != 1:
            right.plot([c.achieved], [100 * c.accuracy], marker="*", markersize=12, linestyle="none",
                       color="black")
            right.annotate("oracle", (c.achieved, 100 * c.accuracy), xytext=(7, -3), textcoords="offset points",
                           fontsize=8, color="dimgrey")
    for c, style in zip([c for c in cs if c.method in REFERENCES and c.ratio == 1], ("--", ":")):
        right.axhline(100 * c.accuracy, color="grey", linestyle=style)
        right.annotate(label(c.method), (0.02, 100 * c.accuracy), xycoords=("axes fraction", "data"),
                       xytext=(0, 3), textcoords="offset points", fontsize=8, color="dimgrey")
    for ax, name in ((left, "gold answer still in the prompt"), (right, "reader accuracy (SmolLM2-135M)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks([2, 4, 8, 16], ["2x", "4x", "8x", "16x"])
        ax.set_xlabel("achieved ratio (original / compressed tokens)")
        ax.set_ylabel("% of cases")
        ax.set_ylim(bottom=0)
        ax.set_title(name)
        ax.grid(alpha=0.3)
    left.legend(fontsize=8, loc="upper right")
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot(cs: list[Cell], path: Path, title: str) -> str:
    """Write the PNG; returns which library drew it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        plot_plotly(cs, path, title)
        return "plotly"
    except (ImportError, ValueError, RuntimeError, OSError) as exc:   # kaleido missing, or cannot start Chrome
        why = str(exc).strip().splitlines()[0][:100] if str(exc).strip() else type(exc).__name__
        print(f"plotly static export unavailable ({why}); using matplotlib")
        plot_matplotlib(cs, path, title)
        return "matplotlib"


def main(rows: list[dict], plot_path: Path | None, cfg=None) -> None:
    if not rows:
        print("no rows: run `python bench/nq_qa.py --quick` first")
        return
    cs, n = cells(rows)
    print(f"{n} cases complete for every method and ratio; rows from {devices(latest(rows))}")
    used = [r for r in latest(rows) if r["case"] in complete_cases(latest(rows))]
    print("\n".join(mixed_versions(used)) + "\n")
    print(f"(s / case: compression only, on {main_device(latest(rows))})")
    print(table(cs))
    print()
    print(speed_table(rows))
    print()
    print("\n".join(goals(cs)))
    shares = [(c.accuracy, c.n_answered) for c in cs if c.n_answered] + [(c.kept, c.n) for c in cs if c.n]
    worst = max((half_ci(p, k) for p, k in shares), default=math.nan)
    print(f"95% interval of a share over {n} cases: at most +-{worst:.1f} points")
    if plot_path is None:
        print("no plot drawn (pass --plot PATH.png to draw one)")
        return
    lib = plot(cs, plot_path, f"Multi-document QA (NaturalQuestions, 10 documents), {n} cases")
    print(f"plot ({lib}): {plot_path}")
