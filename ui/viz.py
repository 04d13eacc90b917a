"""Plotly figures for the app: the only module that imports plotly.

``token_heatmap`` draws ``heatmap.HeatmapData`` (the numbers) as wrapped lines of text, one cell per token,
coloured with Cividis (readable with every common colour-vision deficiency). Kept and dropped tokens differ
without colour: a kept token's cell is opaque and outlined; a dropped one is faded, its text grey and struck
through. Hovering shows the token, where it sits, its self-information, the method's own score and whether
it was kept. The colour bar and legend sit on top, so they stay in view at the start of a long prompt.

``sweep_figure`` draws a ratio sweep (``sweep.sweep_table`` rows) as four panels against the achieved ratio
(log scale): information kept, compression time, dollars saved per request and, with answers, answer
agreement. Each method has its own colour (the colour-blind-safe "Safe" set) and marker shape.
"""

from __future__ import annotations

import html
import math
import textwrap

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative, sample_colorscale
from plotly.subplots import make_subplots

from .heatmap import HeatmapData

PALETTE = "Cividis"
NOT_SCORED = "#ececec"             # cells the chosen score does not cover
DROPPED_TEXT = "#6b6b6b"
STRIKE = "#3a3a3a"
ROW_PX = 19                        # height of one wrapped line
COL_PX = 7.3                       # width of one character column: the advance of 12 px monospace text
DROPPED_OPACITY = 0.35
MARGIN = dict(l=8, r=8, t=80, b=8)
TITLE_CHARS = 40                   # colour-bar title line length (longer score names wrap)
FONT = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace"
COLOURINGS = {"self_info": "scorer self-information (bits)", "method": "the method's own score"}


def _fmt(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.3g}"


def colour_range(values: np.ndarray) -> tuple[float, float]:
    """2nd and 98th percentile of the finite values (so a few outliers do not wash the colours out).

    >>> colour_range(np.array([np.nan, 1.0, 2.0, 3.0]))
    (1.04, 2.96)
    """
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(finite, [2, 98]))
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def cell_colours(values: np.ndarray, lo: float, hi: float) -> tuple[list[str], list[str]]:
    """Fill colour of each cell and a readable text colour on it (white on dark cells, black on light)."""
    t = np.clip((np.nan_to_num(values, nan=lo) - lo) / (hi - lo), 0, 1)
    fills = sample_colorscale(PALETTE, t.tolist()) if len(t) else []
    inks = []
    for fill, v in zip(fills, values):
        r, g, b = (float(c) for c in fill[fill.index("(") + 1:-1].split(","))
        inks.append("#ffffff" if (0.299 * r + 0.587 * g + 0.114 * b) < 140 else "#111111")
    fills = [f if np.isfinite(v) else NOT_SCORED for f, v in zip(fills, values)]
    inks = [k if np.isfinite(v) else "#111111" for k, v in zip(inks, values)]
    return fills, inks


def _hover(data: HeatmapData) -> np.ndarray:
    rows = [[html.escape(t.replace("\n", "↵"), quote=False) or "(empty)", w, _fmt(s), _fmt(m),
             "kept" if k else "dropped"]
            for t, w, s, m, k in zip(data.text, data.where, data.self_info, data.method_score, data.kept)]
    return np.asarray(rows, dtype=object).reshape(len(rows), 5)


def _cells(data: HeatmapData, mask: np.ndarray, fills: list[str], name: str, kept: bool, template: str,
           hover: np.ndarray) -> go.Bar:
    idx = np.flatnonzero(mask)
    outline = dict(width=1, color=STRIKE) if kept else dict(width=0)
    return go.Bar(orientation="h", y=data.line[idx], x=data.width[idx], base=data.col[idx], width=0.86,
                  name=name, opacity=1.0 if kept else DROPPED_OPACITY, customdata=hover[idx],
                  marker=dict(color=[fills[i] for i in idx], line=outline), hovertemplate=template,
                  showlegend=False)


def _legend_entry(name: str, colour: str, opacity: float, outlined: bool) -> go.Scatter:
    """A legend-only square (the real cells' colours vary, so their own legend swatch would mislead)."""
    line = dict(width=1, color=STRIKE) if outlined else dict(width=0)
    return go.Scatter(x=[None], y=[None], mode="markers", name=name, hoverinfo="skip",
                      marker=dict(symbol="square", size=13, color=colour, opacity=opacity, line=line))


def token_heatmap(data: HeatmapData, colour_by: str = "self_info") -> go.Figure:
    """Every token of the original as a cell on wrapped lines, coloured by ``colour_by``
    ("self_info": the scorer's self-information, the same for every method; "method": the method's score)."""
    values = data.method_score if colour_by == "method" else data.self_info
    label = data.score_name if colour_by == "method" else "self-information (bits)"
    lo, hi = colour_range(values)
    fills, inks = cell_colours(values, lo, hi)
    hover = _hover(data)
    template = ("<b>%{customdata[0]}</b><br>%{customdata[1]}, %{customdata[4]}<br>"
                "self-information: %{customdata[2]} bits<br>" + html.escape(data.score_name, quote=False)
                + ": %{customdata[3]}<extra></extra>")
    kept, dropped = data.kept, ~data.kept
    fig = go.Figure([
        _cells(data, kept, fills, "kept: opaque, outlined", True, template, hover),
        _cells(data, dropped, fills, "dropped: faded, struck through", False, template, hover),
    ])
    ink = np.where(kept, np.asarray(inks, dtype=object), DROPPED_TEXT)
    fig.add_trace(go.Scatter(x=data.col + 0.05, y=data.line, mode="text", text=[html.escape(s, quote=False)
                             for s in data.shown], textposition="middle right", hoverinfo="skip",
                             textfont=dict(family=FONT, size=12, color=ink.tolist()), showlegend=False))
    fig.add_trace(_strike(data))
    fig.add_trace(_legend_entry("kept (outlined)", "#8c8c8c", 1.0, True))
    fig.add_trace(_legend_entry("dropped (faded, struck)", "#8c8c8c", DROPPED_OPACITY, False))
    if not np.isfinite(values).all():
        fig.add_trace(_legend_entry("not scored", NOT_SCORED, 1.0, False))
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", hoverinfo="skip", showlegend=False,
                             marker=dict(colorscale=PALETTE, cmin=lo, cmax=hi, color=[lo], showscale=True,
                                         colorbar=_colour_bar(label))))
    lines = max(data.lines, 1)
    fig.update_layout(
        barmode="overlay", bargap=0, plot_bgcolor="white", paper_bgcolor="white",
        height=int(MARGIN["t"] + MARGIN["b"] + (lines + 0.2) * ROW_PX),
        width=int(MARGIN["l"] + MARGIN["r"] + (data.columns + 1) * COL_PX),
        margin=MARGIN, hoverlabel=dict(font=dict(family=FONT)),
        legend=dict(orientation="h", x=0, xanchor="left", y=1, yanchor="bottom", font=dict(size=12),
                    entrywidth=0, yref="paper"),
        xaxis=dict(visible=False, range=[-0.5, data.columns + 0.5], fixedrange=True),
        yaxis=dict(visible=False, range=[lines - 0.4, -0.6], fixedrange=True),
    )
    return fig


def wrapped_title(label: str) -> str:
    """A score name escaped and broken into short lines for the colour bar.

    >>> wrapped_title("question relevance: surprise without minus with the question (bits)")
    'question relevance: surprise without<br>minus with the question (bits)'
    """
    return "<br>".join(html.escape(line, quote=False) for line in textwrap.wrap(label, TITLE_CHARS))


def _colour_bar(label: str) -> dict:
    """A horizontal colour bar above the top right corner of the text."""
    return dict(orientation="h", x=1, xanchor="right", y=1, yanchor="bottom", ypad=4, lenmode="pixels",
                len=240, thickness=10, title=dict(text=wrapped_title(label), side="top", font=dict(size=11)),
                tickfont=dict(size=10))


def _strike(data: HeatmapData) -> go.Scatter:
    """One line segment through every dropped token (None between segments)."""
    x, y = [], []
    for i in np.flatnonzero(~data.kept):
        x += [float(data.col[i]), float(data.col[i] + data.width[i]), None]
        y += [float(data.line[i]), float(data.line[i]), None]
    return go.Scatter(x=x, y=y, mode="lines", line=dict(color=STRIKE, width=1.2), hoverinfo="skip",
                      showlegend=False)


# -- ratio sweeps ---------------------------------------------------------------------------------------------
METHOD_COLOURS = qualitative.Safe
METHOD_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "triangle-down", "star", "hexagon")
RATIO_TICKS = (1.5, 2, 3, 4, 6, 8, 10, 15, 20, 30, 50, 100)


def _by_method(rows: list[dict]) -> dict[str, list[dict]]:
    """Rows grouped by method label, in first-seen order, each group sorted by achieved ratio."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["method_label"], []).append(r)
    return {k: sorted(v, key=lambda r: r["ratio"] if math.isfinite(r["ratio"]) else math.inf)
            for k, v in groups.items()}


def _panels(price_model: str, gold: bool) -> list[tuple[str, str, dict]]:
    """(row field, panel title, y-axis settings) for the four panels."""
    answers = "Answer agreement with the uncompressed prompt's answer (token F1)"
    if gold:
        answers += "<br>hollow marker: wrong against the reference answer"
    return [("info_kept", "Information kept: share of the prompt's self-information", dict(tickformat=".0%",
                                                                                              rangemode="tozero")),
            ("seconds", "Compression time (seconds)", dict(rangemode="tozero")),
            ("saving", f"Saved per request on {html.escape(price_model)} (input tokens)",
             dict(tickprefix="$", rangemode="tozero")),
            ("agreement", answers, dict(range=[-0.05, 1.05]))]


def sweep_figure(rows: list[dict], price_model: str) -> go.Figure:
    """Quality proxy, time, saving and (when the points were answered) answer agreement against the achieved
    ratio, one line per method; hovering a point shows its number in the table below the figure."""
    answered = any(r.get("agreement") is not None for r in rows)
    gold = any(r.get("correct") is not None for r in rows)
    panels = _panels(price_model, gold)
    fig = make_subplots(rows=2, cols=2, subplot_titles=[title for _, title, _ in panels],
                        horizontal_spacing=0.08, vertical_spacing=0.2)
    for m, (label, group) in enumerate(_by_method(rows).items()):
        colour, symbol = METHOD_COLOURS[m % len(METHOD_COLOURS)], METHOD_SYMBOLS[m % len(METHOD_SYMBOLS)]
        x = [r["ratio"] if math.isfinite(r["ratio"]) else None for r in group]
        custom = [[r["point"], html.escape(label, quote=False), r["requested_ratio"]] for r in group]
        for k, (field, _, _) in enumerate(panels):
            if field == "agreement" and not answered:
                continue
            y = [r.get(field) for r in group]
            shapes = [symbol + ("-open" if r.get("correct") is False else "") for r in group]
            fig.add_trace(go.Scatter(
                x=x, y=y, mode="lines+markers", name=label, legendgroup=label, showlegend=k == 0,
                line=dict(color=colour, width=2), marker=dict(color=colour, size=9, symbol=shapes,
                                                              line=dict(width=1.5, color=colour)),
                customdata=custom, hovertemplate="<b>%{customdata[1]}</b>, point #%{customdata[0]}<br>asked "
                "%{customdata[2]:.1f}x, got %{x:.1f}x<br>%{y:.3~g}<extra></extra>"), row=k // 2 + 1, col=k % 2 + 1)
    if not answered:                      # the empty fourth panel says how to fill it
        fig.add_annotation(text="No answers in this sweep: tick<br>“Answer every point with the local model”",
                           xref="paper", yref="paper", x=sum(fig.layout.xaxis4.domain) / 2,
                           y=sum(fig.layout.yaxis4.domain) / 2, showarrow=False, font=dict(color=DROPPED_TEXT))
    for k, (_, _, yaxis) in enumerate(panels):
        fig.update_xaxes(type="log", tickvals=list(RATIO_TICKS), ticktext=[f"{t:g}x" for t in RATIO_TICKS],
                         title_text="achieved ratio (original / compressed tokens)", title_font=dict(size=11),
                         showgrid=True, gridcolor="#e5e5e5", row=k // 2 + 1, col=k % 2 + 1)
        fig.update_yaxes(showgrid=True, gridcolor="#e5e5e5", zeroline=False, row=k // 2 + 1, col=k % 2 + 1,
                         **yaxis)
    fig.update_annotations(font_size=13)
    fig.update_layout(height=720, plot_bgcolor="white", paper_bgcolor="white", margin=dict(l=60, r=20, t=90, b=50),
                      legend=dict(orientation="h", x=0, xanchor="left", y=1.1, yanchor="bottom"),
                      hoverlabel=dict(font=dict(family=FONT)))
    return fig
