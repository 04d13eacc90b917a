"""Gradio layout and wiring of the app's "Batch" tab (``app.py`` places it), and the /batch API.

Upload a JSONL or CSV file of prompts (column ``prompt``; optional ``instruction``, ``question``, ``answers``),
compress every row with the Compress tab's setting (method, ratio or token budget, scorer, target LLM,
method options, context separator) through ``pipeline.run_batch`` -> ``batch.compress_rows``, preview the
results and download them as JSONL and CSV (``batch.write_rows``). A row that cannot be compressed says why
in its ``error`` column; a file that cannot be read is refused with the reason. Unlike ``explore_tab.py``
(many settings, one prompt) this is one setting for many prompts; the CLI twin is ``python -m lingua_core batch``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from lingua_core import batch
from lingua_core.errors import InvalidRequest
from lingua_core.methods import REGISTRY
from lingua_core.result import plain

from . import compress_tab, form, pipeline, views
from .api import api_safe
from .compress_tab import Inputs

EXPLAIN = ("Compress a whole file of prompts with the **Compress** tab's setting (method, ratio or token budget, "
           "scorer, target LLM and method options). Upload a `.jsonl` file (one JSON object a line) or a `.csv` "
           "file with a header row. Column `prompt` is required; `instruction`, `question` and `answers` (gold "
           "answers: a JSON list, or one answer) are optional, and other columns pass through. Each prompt is "
           "split into contexts at the context separator. For more than "
           f"{pipeline.MAX_BATCH_ROWS} rows use `python -m lingua_core batch IN OUT`.")
PREVIEW_ROWS = 50


def build() -> dict:
    """The tab's components by name (``wire`` connects them)."""
    c: dict = {}
    with gr.Tab("Batch", id="batch", elem_id="tab-batch") as c["tab"]:
        gr.Markdown(EXPLAIN)
        c["settings"] = gr.Markdown(elem_id="batch-settings")
        c["file"] = gr.File(label="Prompts (.jsonl or .csv)", file_types=list(batch.FORMATS), type="filepath",
                            elem_id="batch-file")
        c["run"] = gr.Button("Compress every row", variant="primary", elem_id="batch-run")
        c["summary"] = gr.Markdown(elem_id="batch-summary")
        with gr.Row():
            c["jsonl"] = gr.DownloadButton("Download JSONL", interactive=False, elem_id="batch-jsonl")
            c["csv"] = gr.DownloadButton("Download CSV", interactive=False, elem_id="batch-csv")
        c["table"] = gr.Dataframe(headers=views.BATCH_HEADERS, interactive=False, max_height=520,
                                  column_widths=["56px", "29%", "29%", "11%", "8%", "9%", "14%"],
                                  label=f"Results (the first {PREVIEW_ROWS} rows; the downloads hold every "
                                  "column of every row)", elem_id="batch-table")
    return c


def settings_md(f: form.Form) -> str:
    """The setting every row gets, as the Compress tab's form gives it (names and numbers, no user text)."""
    label = REGISTRY[f.method].label if f.method in REGISTRY else f.method
    budget = f"{f.target_tokens:,} target tokens per prompt" if f.target_tokens > 0 else f"{f.ratio:g}x"
    return (f"Setting from the Compress tab: **{label}** at {budget}, scorer **{f.scorer}**, token counts and "
            f"prices of **{f.target_llm}**.")


def write_downloads(rows: list[dict]) -> tuple[str, str]:
    """The output rows as ``compressed.jsonl`` and ``compressed.csv`` in a fresh temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="lingua-batch-"))
    paths = folder / "compressed.jsonl", folder / "compressed.csv"
    for path in paths:
        batch.write_rows(rows, path)
    return str(paths[0]), str(paths[1])


def wire(c: dict, ui: Inputs, gpu=lambda fn: fn) -> None:
    widgets = compress_tab.form_inputs(ui)
    c["tab"].select(lambda v: settings_md(compress_tab.form_from(ui, v)), widgets, c["settings"],
                    api_visibility="private")

    @gpu
    @api_safe
    def on_batch(v: dict, progress=gr.Progress()) -> dict:
        if not v[c["file"]]:
            raise gr.Error("Upload a .jsonl or .csv file of prompts first (column 'prompt').")
        f = compress_tab.form_from(ui, v)
        try:
            rows = batch.read_rows(v[c["file"]])
        except (OSError, UnicodeDecodeError) as exc:
            raise gr.Error(f"Could not read the file ({exc.__class__.__name__}): save it as UTF-8 "
                           "JSONL or CSV and upload it again.") from exc
        out = pipeline.run_batch(f, rows, lambda frac, msg: progress(frac, desc=msg))
        jsonl, csv = write_downloads(out)
        table = pd.DataFrame(views.batch_table_rows(out, PREVIEW_ROWS), columns=views.BATCH_HEADERS)
        return {c["summary"]: views.batch_summary_md(out, f.target_llm), c["table"]: table,
                c["jsonl"]: gr.DownloadButton(value=jsonl, interactive=True),
                c["csv"]: gr.DownloadButton(value=csv, interactive=True), c["settings"]: settings_md(f)}

    c["run"].click(on_batch, widgets | {c["file"]}, [c["summary"], c["table"], c["jsonl"], c["csv"], c["settings"]],
                   api_visibility="private", concurrency_id="model", show_progress_on=[c["table"]])


@api_safe
def batch_api(rows: list, method: str = form.DEFAULT_METHOD, scorer: str = "", ratio: float = 4.0,
              target_tokens: int = 0, context_sep: str = "\\n\\n", target_llm: str = form.DEFAULT_LLM,
              options: dict | None = None) -> list:
    """Compress every row (a dict with ``prompt``; optional ``instruction``, ``question``, ``answers``) with one
    setting; each output row adds batch.OUT_FIELDS (``error`` says why a row failed). At most
    pipeline.MAX_BATCH_ROWS rows a call."""
    f = form.Form(method=method, scorer=scorer, ratio=ratio, target_tokens=target_tokens, context_sep=context_sep,
                  target_llm=target_llm, options=options)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InvalidRequest("rows must be a list of objects, each with a 'prompt' text.")
    out = pipeline.run_batch(f, [dict(r) for r in rows])
    return [plain(row) for row in out]
