"""Gradio layout and wiring of the app's "Explore: ratio sweep" tab (``app.py`` places it), and the /sweep API.

It compresses the Compress tab's prompt at many ratios with every ticked method (``pipeline.run_sweep`` ->
``sweep.sweep``: each point a real compression) and plots the trade-off curves (``viz.sweep_figure``):
information kept, time, dollars saved and, opt-in, answer agreement with the local model. Clicking a row of
the points table shows that point's stored Result in the Compress tab's side-by-side view, through the
same ``compress_tab.shown_report`` a compression from the form uses. Unlike ``batch_tab.py`` (one setting,
many prompts) this is many settings for one prompt.
"""

from __future__ import annotations

import math

import gradio as gr
import pandas as pd

from lingua_core import sweep
from lingua_core.errors import InvalidRequest
from lingua_core.methods import REGISTRY
from lingua_core.result import plain

from . import compress_tab, form, pipeline, views, viz
from .api import api_safe, takes_form
from .compress_tab import Inputs, Outputs

DEFAULT_METHODS = [m for m in ("llmlingua", "selective_context", "random") if m in REGISTRY] or [next(iter(REGISTRY))]
EXPLAIN = ("See the whole trade-off for **your** prompt, not one point on it: the prompt, scorer, target LLM and "
           "method options of the **Compress** tab are compressed at every ratio below with each ticked method. "
           "Every point is a real compression. *Information kept* is the share of the prompt's self-information "
           "(under the scorer) that the kept tokens carry: a quality proxy that needs no LLM. Click a row of "
           "the table to open that compression in the Compress tab. A point that reuses a scoring pass an earlier "
           "point ran (with the same result) shows less time than a fresh compression would take.")


def build() -> dict:
    """The tab's components by name (``wire`` connects them)."""
    c: dict = {}
    with gr.Tab("Explore: ratio sweep", id="explore", elem_id="tab-explore") as c["tab"]:
        gr.Markdown(EXPLAIN)
        c["source"] = gr.Markdown(elem_id="sweep-source")
        with gr.Row():
            c["methods"] = gr.CheckboxGroup([(cls.label or name, name) for name, cls in REGISTRY.items()],
                                            value=DEFAULT_METHODS, label="Methods", scale=3, elem_id="sweep-methods")
            with gr.Column(scale=2):
                with gr.Row():
                    c["low"] = gr.Number(1.5, minimum=1, maximum=form.MAX_RATIO, label="Lowest ratio",
                                         elem_id="sweep-low")
                    c["high"] = gr.Number(20, minimum=1, maximum=form.MAX_RATIO, label="Highest ratio",
                                          elem_id="sweep-high")
                c["points"] = gr.Slider(1, pipeline.MAX_POINTS, value=10, step=1, elem_id="sweep-points",
                                        label="Points per method (evenly spaced on a log scale)")
        c["answer"] = gr.Checkbox(False, label="Answer every point with the local model (slow: one answer per "
                                  "point, and one for the original prompt)", elem_id="sweep-answer",
                                  info="plots agreement with the original prompt's answer; with reference answers "
                                  "(Compress tab, Downstream answers) each answer is also judged right or wrong")
        c["run"] = gr.Button("Run sweep", variant="primary", elem_id="sweep-run")
        c["plot"] = gr.Plot(show_label=False, elem_id="sweep-plot")
        gr.Markdown("#### The points: click a row to open it in the Compress tab")
        c["table"] = gr.Dataframe(headers=views.SWEEP_HEADERS, interactive=False, elem_id="sweep-table",
                                  max_height=420)
        c["run_state"] = gr.State()          # the last pipeline.SweepRun (every point's Result)
    return c


def source_md(f: form.Form) -> str:
    """What a sweep will compress, in counts only (no user text in the markup)."""
    try:
        parts = form.split_context(f.context, form.decode_escapes(f.context_sep))
    except InvalidRequest as exc:
        return f"⚠ {exc}"
    if not parts and not f.question.strip():
        return "⚠ The Compress tab's form is empty: paste a prompt there or pick an example first."
    chars = len(f.instruction) + len(f.question) + sum(map(len, parts))
    return (f"Sweeping the Compress tab's prompt: {len(parts)} context(s), {chars:,} characters"
            f"{', with a question' if f.question.strip() else ''}; scorer **{f.scorer}**, prices and token "
            f"counts of **{f.target_llm}**.")


def ratios_from(low, high, points) -> list[float]:
    """The requested ratios, or an error that says what to type.

    >>> [round(r, 2) for r in ratios_from(2, 8, 3)]
    [2.0, 4.0, 8.0]
    """
    if any(r is None or (isinstance(r, float) and math.isnan(r)) for r in (low, high)):
        raise InvalidRequest("Type the lowest and the highest ratio, e.g. 1.5 and 20.")
    for r in (low, high):
        form.ratio_to_rate(r)                            # 1x..100x, with the range in the message
    if low > high:
        raise InvalidRequest(f"The lowest ratio ({low:g}x) is above the highest ({high:g}x); swap them.")
    return sweep.geometric_ratios(float(low), float(high), form.whole_number(points or 1, "points"))


def chosen_methods(ui: Inputs, v: dict, names: list[str]) -> dict[str, dict]:
    """{method: options as its widgets in "Method options" show them} for the ticked methods."""
    return {name: compress_tab.method_options_from(ui, v, name) for name in names or []}


def table_value(rows: list[dict]) -> pd.DataFrame:
    answered = any(r["answer"] is not None for r in rows)
    headers = views.SWEEP_HEADERS + (views.ANSWER_HEADERS if answered else [])
    return pd.DataFrame(views.sweep_table_rows(rows, answered), columns=headers)


def shown_note(run: pipeline.SweepRun, i: int) -> str:
    p = run.points[i]
    label = REGISTRY[p.method].label or p.method
    return (f"Showing sweep point #{i} from the Explore tab: **{label}** asked for "
            f"{views.ratio_text(p.requested_ratio)}, got {views.ratio_text(p.ratio)}. Press Compress to go back "
            "to the form's own settings.")


def wire(c: dict, ui: Inputs, out: Outputs, tabs: gr.Tabs, gold: gr.Textbox, gpu=lambda fn: fn) -> None:
    widgets = compress_tab.form_inputs(ui)
    c["tab"].select(lambda v: source_md(compress_tab.form_from(ui, v)), widgets, c["source"],
                    api_visibility="private")

    @gpu
    @api_safe
    def on_sweep(v: dict, progress=gr.Progress()) -> dict:
        f = compress_tab.form_from(ui, v)
        run = pipeline.run_sweep(f, chosen_methods(ui, v, v[c["methods"]]),
                                 ratios_from(v[c["low"]], v[c["high"]], v[c["points"]]),
                                 lambda frac, msg: progress(frac, desc=msg), answer=bool(v[c["answer"]]),
                                 gold=form.gold_list(v[gold]))
        rows = sweep.sweep_table(run.points)
        return {c["plot"]: viz.sweep_figure(rows, f.target_llm), c["table"]: table_value(rows),
                c["run_state"]: run, c["source"]: source_md(f)}

    inputs = widgets | {c["methods"], c["low"], c["high"], c["points"], c["answer"], gold}
    c["run"].click(on_sweep, inputs, [c["plot"], c["table"], c["run_state"], c["source"]],
                   api_visibility="private", concurrency_id="model", show_progress_on=[c["plot"]])

    def on_select(v: dict, evt: gr.SelectData) -> dict:
        run = v[c["run_state"]]
        if run is None:
            raise gr.Error("Run a sweep first: its points are listed here.")
        row = evt.row_value or []
        i = int(row[0]) if row else int(evt.index[0])
        return {**compress_tab.shown_report(out, run.report(i), v, shown_note(run, i)),
                tabs: gr.Tabs(selected="compress")}

    view_inputs = {c["run_state"], out.requests_per_day, out.output_tokens}
    compress_tab.then_heatmap(c["table"].select(on_select, view_inputs, compress_tab.view_outputs(out) + [tabs],
                                                api_visibility="private"), out, gpu)


@api_safe
@takes_form
def sweep_api(f: form.Form, methods: list | None = None, low: float = 1.5, high: float = 20.0,
              points: int = 10) -> list:
    """Compress the prompt (the form's fields, as /compress) at ``points`` ratios from ``low`` to ``high``
    (log-spaced) with each of ``methods`` (default: ``method``); ``options`` go to ``method``, other methods use
    their defaults. ``ratio`` and ``target_tokens`` are accepted as in /compress and ignored. One row per point:
    sweep.TABLE_FIELDS and the point's ``compressed_prompt`` (what /compress returns at that ratio)."""
    names = [methods] if isinstance(methods, str) else list(methods or [f.method])
    run = pipeline.run_sweep(f, {m: (f.options if m == f.method else {}) for m in names},
                             ratios_from(low, high, points))
    return [{**plain(row), "compressed_prompt": run.points[row["point"]].result.compressed}
            for row in sweep.sweep_table(run.points)]
