"""HTML and Markdown the app shows, built from core results: the formatting layer.

Core modules return numbers; this turns them into text for people ("10.3x", "$0.0042", "0.84 s"). Every
piece of user text goes through ``html.escape`` before it is placed in markup, so a prompt containing
``<script>`` or ``<b>`` is shown as typed, never interpreted. The CSS classes used here are styled in
``assets/app.css``. Figures are ``viz.py``'s job.
"""

from __future__ import annotations

import html
import math
from importlib import metadata

from lingua_core.result import Result
from .savings import Estimate


# -- numbers as text ---------------------------------------------------------------------------------------
def ratio_text(ratio: float) -> str:
    """A ratio as "10.3x".

    >>> ratio_text(10.27), ratio_text(float("inf"))
    ('10.3x', '∞')
    """
    return "∞" if math.isinf(ratio) else f"{ratio:.1f}x"


def usd(dollars: float) -> str:
    """Dollars with the precision a price needs.

    >>> usd(0.0042137), usd(0.5), usd(1234.5), usd(0)
    ('$0.00421', '$0.50', '$1,234.50', '$0.00')
    """
    if 0 < abs(dollars) < 0.01:
        return f"${dollars:.3g}"
    return f"${dollars:,.2f}"


def seconds_text(seconds: float) -> str:
    """A duration in ms or s.

    >>> seconds_text(0.0421), seconds_text(3.14159)
    ('42 ms', '3.14 s')
    """
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def price_source() -> str:
    """Where prices come from, with the table's version."""
    try:
        return f"genai-prices {metadata.version('genai-prices')}"
    except metadata.PackageNotFoundError:
        return "genai-prices"


# -- the original with what was dropped ---------------------------------------------------------------------
def _runs(result: Result, piece: int) -> list[tuple[int, int, bool]]:
    """(start, end, kept) runs covering the piece's text, neighbours with the same flag merged."""
    p = result.pieces[piece]
    runs: list[list] = []
    pos = p.start
    for t in (t for t in result.tokens if t.piece == piece):
        start = max(t.start, pos)
        for s, e, kept in ((pos, start, True), (start, t.end, t.kept)):
            if e <= s:
                continue
            if runs and runs[-1][2] == kept and runs[-1][1] == s:
                runs[-1][1] = e
            else:
                runs.append([s, e, kept])
        pos = max(pos, t.end)
    if pos < p.end:
        runs.append([pos, p.end, True])
    return [tuple(r) for r in runs]


def _piece_html(result: Result, k: int) -> str:
    p, text = result.pieces[k], result.original
    if p.role != "context":
        return f'<span class="lc-fixed" title="kept verbatim">{html.escape(text[p.start:p.end])}</span>'
    if not p.kept:
        badge = f'<span class="lc-badge">context {p.index + 1} dropped whole</span>'
        return f'<span class="lc-piece-dropped">{badge}<del>{html.escape(text[p.start:p.end])}</del></span>'
    return "".join(html.escape(text[s:e]) if kept else f"<del>{html.escape(text[s:e])}</del>"
                   for s, e, kept in _runs(result, k))


def diff_html(result: Result) -> str:
    """The original prompt with dropped text struck through in place and dropped contexts boxed.

    >>> from lingua_core.result import Piece, Token
    >>> r = Result(original="a <b>", compressed="a", pieces=[Piece("context", 0, 0, 5)],
    ...            tokens=[Token("a", 0, 1, 1.0, True, 0), Token(" <b>", 1, 5, 0.0, False, 0)], method="m",
    ...            score_name="s", scorer="", scorer_source="", target_model="gpt-4", origin_tokens=3,
    ...            compressed_tokens=1, requested_tokens=1, target_met=True, seconds=0.0)
    >>> diff_html(r).split('<div class="lc-diff">')[1]
    'a<del> &lt;b&gt;</del></div>'
    """
    body, pos = [], 0
    for k, p in enumerate(result.pieces):
        body.append(html.escape(result.original[pos:p.start]))
        body.append(_piece_html(result, k))
        pos = p.end
    body.append(html.escape(result.original[pos:]))
    legend = ('<div class="lc-legend">plain: kept &middot; <del>struck through</del>: dropped &middot; '
              '<span class="lc-fixed">shaded</span>: kept verbatim (instruction, question) &middot; '
              '<span class="lc-badge">boxed</span>: a whole context dropped</div>')
    return legend + '<div class="lc-diff">' + "".join(body) + "</div>"


# -- figures as cards and tables ------------------------------------------------------------------------------
def _card(label: str, value: str, note: str = "") -> str:
    note_html = f'<div class="lc-note">{html.escape(note)}</div>' if note else ""
    return (f'<div class="lc-card"><div class="lc-label">{html.escape(label)}</div>'
            f'<div class="lc-value">{html.escape(value)}</div>{note_html}</div>')


def stats_html(result: Result) -> str:
    """Token counts, achieved ratio and time as a row of cards, and why the budget was missed if it was."""
    cards = [
        _card("Original", f"{result.origin_tokens:,} tokens", result.target_model + " tokenizer"),
        _card("Compressed", f"{result.compressed_tokens:,} tokens", f"asked for {result.requested_tokens:,}"),
        _card("Ratio", ratio_text(result.ratio), f"{result.rate:.1%} of the tokens kept"),
        _card("Time", seconds_text(result.seconds), "compression, model already loaded"),
    ]
    warn = "" if result.target_met else f'<div class="lc-warn">{html.escape(result.message)}</div>'
    return '<div class="lc-cards">' + "".join(cards) + "</div>" + warn


def cost_html(e: Estimate) -> str:
    """Per-request and per-month dollars, original vs compressed, and the saving."""
    rows = [("Input tokens per request", f"{e.original_tokens:,}", f"{e.compressed_tokens:,}"),
            ("Cost per request", usd(e.per_request_original), usd(e.per_request_compressed)),
            (f"Cost per month ({e.requests_per_day:,} requests a day)", usd(e.per_month_original),
             usd(e.per_month_compressed))]
    body = "".join(f"<tr><th>{html.escape(a)}</th><td>{html.escape(b)}</td><td>{html.escape(c)}</td></tr>"
                   for a, b, c in rows)
    saved = (f'<div class="lc-saving">Saving: <b>{html.escape(usd(e.saved_per_month))}</b> a month '
             f"({e.saved_share:.0%})</div>")
    price = (f'<div class="lc-note">{html.escape(e.model)}: {html.escape(usd(e.input_per_mtok))} per million '
             f"input tokens, {html.escape(usd(e.output_per_mtok))} per million output tokens "
             f"({e.output_tokens:,} output tokens per request assumed); prices from "
             f"{html.escape(price_source())}.</div>")
    return (f'<table class="lc-cost"><tr><th></th><th>Original</th><th>Compressed</th></tr>{body}</table>'
            + saved + price)


def llm_choice(model: str, input_per_mtok: float) -> tuple[str, str]:
    """A target-LLM picker entry: (label with its input price, model id)."""
    return f"{model} ({usd(input_per_mtok)} / M input tokens)", model


def comparison_html(c) -> str:
    """Latency, tokens, cost and correctness of the two downstream answers (a ``compare.Comparison``)."""
    def side(s) -> list[str]:
        a = s.answer
        if a.error:
            return ["failed: " + a.error, "", "", "", ""]
        tokens = f"{a.prompt_tokens:,} in / {a.output_tokens:,} out" if a.done else "…"
        right = {None: "n/a", True: "yes", False: "no"}[s.correct]
        return ["done" if a.done else "answering…", seconds_text(a.latency_s), tokens,
                usd(s.cost_usd) if s.cost_usd is not None else "…", right]
    names = ["Status", "Latency", "Tokens", f"Cost at {c.price_model} prices", "Matches the reference"]
    rows = "".join(f"<tr><th>{html.escape(n)}</th><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>"
                   for n, a, b in zip(names, side(c.original), side(c.compressed)))
    agree = ("" if c.agreement_f1 is None else
             f'<div class="lc-note">Agreement between the answers: token F1 {c.agreement_f1:.2f}'
             f'{", identical after normalisation" if c.agreement_em else ""}.</div>')
    source = c.original.answer.usage_source or c.compressed.answer.usage_source
    counted = f'<div class="lc-note">Token counts: {html.escape(source)}.</div>' if source else ""
    return (f'<div class="lc-note">Answered by {html.escape(c.backend)}.</div><table class="lc-cost">'
            f"<tr><th></th><th>Original</th><th>Compressed</th></tr>{rows}</table>{agree}{counted}")


# -- sweep and batch tables --------------------------------------------------------------------------------------
SWEEP_HEADERS = ["#", "method", "asked", "achieved", "tokens", "time", "info kept", "saved / request",
                 "target met"]
ANSWER_HEADERS = ["agreement", "correct"]


def sweep_table_rows(rows: list[dict], with_answers: bool = False) -> list[list]:
    """``sweep.sweep_table`` rows as table cells for people (the point number first, to load it back).

    >>> sweep_table_rows([dict(point=0, method_label="LLMLingua", requested_ratio=4.0, ratio=3.96,
    ...     origin_tokens=1076, compressed_tokens=272, seconds=0.42, info_kept=0.35, saving=0.0241,
    ...     target_met=True, agreement=None, correct=None)])
    [[0, 'LLMLingua', '4.0x', '4.0x', '1,076 → 272', '420 ms', '35%', '$0.02', 'yes']]
    """
    out = []
    for r in rows:
        cells = [r["point"], r["method_label"], ratio_text(r["requested_ratio"]), ratio_text(r["ratio"]),
                 f"{r['origin_tokens']:,} → {r['compressed_tokens']:,}", seconds_text(r["seconds"]),
                 f"{r['info_kept']:.0%}", usd(r["saving"]), "yes" if r["target_met"] else "no"]
        if with_answers:
            cells += ["n/a" if r["agreement"] is None else f"{r['agreement']:.2f}",
                      {None: "n/a", True: "yes", False: "no"}[r["correct"]]]
        out.append(cells)
    return out


BATCH_HEADERS = ["row", "prompt", "compressed", "tokens", "ratio", "saving", "error"]


def clip(text: str, n: int = 80) -> str:
    """``text`` on one line, cut to ``n`` characters with an ellipsis.

    >>> clip("a\\nb  c", 80), clip("abcdef", 4)
    ('a b c', 'abc…')
    """
    text = " ".join(str(text or "").split())
    return text if len(text) <= n else text[:n - 1] + "…"


def batch_table_rows(rows: list[dict], limit: int = 50) -> list[list]:
    """The first ``limit`` batch output rows as table cells (numbers formatted, long text cut)."""
    out = []
    for i, r in enumerate(rows[:limit], start=1):
        done = r.get("compressed_tokens") is not None
        out.append([i, clip(r.get("prompt")), clip(r.get("compressed_prompt")),
                    f"{r['origin_tokens']:,} → {r['compressed_tokens']:,}" if done else "",
                    ratio_text(r["ratio"]) if r.get("ratio") is not None else "",
                    usd(r["saving"]) if r.get("saving") is not None else "", r.get("error") or ""])
    return out


def batch_summary_md(rows: list[dict], price_model: str) -> str:
    """How many rows compressed, the overall ratio and the saving per pass over the file."""
    done = [r for r in rows if r.get("compressed_tokens") is not None]
    failed = len(rows) - len(done)
    origin = sum(r["origin_tokens"] for r in done)
    kept = sum(r["compressed_tokens"] for r in done)
    ratio = ratio_text(origin / kept) if kept else "∞"
    saved = sum(r["saving"] for r in done)
    failed_text = f", **{failed}** failed (see the error column)" if failed else ""
    return (f"**{len(done)}** of {len(rows)} prompts compressed{failed_text}: {origin:,} → {kept:,} tokens "
            f"({ratio}), saving {usd(saved)} of input cost on {price_model} per pass over the file.")


# -- teaching and footer ---------------------------------------------------------------------------------------
def how_it_works_md(label: str, summary: str, result: Result | None = None) -> str:
    """The method's summary and, after a run, what each stage scored, kept and dropped."""
    out = [f"### {label}", summary]
    if result is None:
        return "\n\n".join(out + ["*Compress a prompt to see what each stage did with it.*"])
    if result.stages:
        rows = ["| stage | what | in | kept | why |", "|---|---|---|---|---|"]
        rows += [f"| {s.name} | {s.units} | {s.before:,} | {s.after:,} | {s.note} |" for s in result.stages]
        out.append("**What happened to this prompt**\n\n" + "\n".join(rows))
    ranked = sorted((p for p in result.pieces if p.role == "context" and p.rank >= 0), key=lambda p: p.rank)
    if ranked:
        lines = [f"- context {p.index + 1}: rank {p.rank + 1}, score {p.rank_score:.3g}, "
                 f"{'kept' if p.kept else '**dropped**'}" for p in ranked]
        out.append("**Contexts as the coarse stage ranked them** (best first)\n\n" + "\n".join(lines))
    out.append(f"Scores shown in the heatmap's second colouring: *{result.score_name}*.")
    return "\n\n".join(out)


def footer_md(scorer: str, source: str, version: str, device: str = "") -> str:
    """One line naming the scorer model, where it came from, the app's version and its hosting mode."""
    where = f", on {device}" if device else ""
    return (f"Scorer: **{scorer}** ({source}{where}) · lingua_core {version} · "
            f"prices: {price_source()} · nothing leaves this machine unless you use Downstream answers · "
            f"{mode_md()}.")


def mode_md(s=None) -> str:
    """Which hosting mode the app runs in and where Downstream answers may go (``config``'s settings).

    >>> from lingua_core.config import Settings
    >>> mode_md(Settings(public_host=True, allow_custom_backend=False))
    "**public-host mode**: Downstream answers go only to this host's backend"
    """
    from lingua_core.config import settings

    s = s or settings()
    mode = "**public-host mode**" if s.public_host else "**local mode**"
    if not s.allow_custom_backend:
        return f"{mode}: Downstream answers go only to this host's backend"
    if s.allow_private_backend:
        return f"{mode}: Downstream answers go to this host's backend or any server you name"
    where = "this machine (localhost) or the internet" if s.allow_loopback_backend else "the public internet"
    return f"{mode}: Downstream answers go to this host's backend or a server you name on {where}"
