"""Gradio app for the prompt-compression lab: layout and event wiring only.

The page is built from ``ui/`` (the app's parts) over the ``lingua_core`` library: ``ui.form`` (inputs ->
Request, allow-list), ``ui.pipeline`` (scorer, compression, sweeps, batches, heatmap numbers, progress),
``ui.views`` (HTML and text), ``ui.viz`` (plotly figures), ``ui.savings`` and ``lingua_core.pricing``
(dollars), ``lingua_core.export`` (JSON), ``ui.examples`` (assets/). Methods and their options are read from
``REGISTRY`` at start-up, so a newly registered method shows up without touching this file. The page has
three tabs, each in its own module: ``ui/compress_tab.py`` (the form, the side-by-side view, the export;
``ui/downstream_tab.py`` adds the "Downstream answers" section to it), ``ui/explore_tab.py`` (ratio sweeps)
and ``ui/batch_tab.py`` (a file of prompts).

    python app.py                      # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to move it)

Named API endpoints for ``gradio_client``: /compress, /export, /sweep, /batch, /cost, /methods, /scorers,
/prices, /examples, /example, /answers.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: the app phones nowhere

import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402

import lingua_core  # noqa: E402
from lingua_core import export, pricing  # noqa: E402
from lingua_core.errors import LinguaError  # noqa: E402
from lingua_core.methods import REGISTRY  # noqa: E402
from ui import batch_tab, compress_tab, downstream_tab, explore_tab  # noqa: E402
from ui import examples, form, pipeline, savings, views  # noqa: E402
from ui.api import api_safe, takes_form  # noqa: E402
from ui.form import DEFAULT_LLM, Form  # noqa: E402
from ui.option_fields import show  # noqa: E402

try:  # ZeroGPU on Hugging Face Spaces: borrow a GPU for each compression; elsewhere a no-op
    import spaces
    gpu, ZERO_GPU = spaces.GPU, True
except ImportError:
    def gpu(fn):
        return fn
    ZERO_GPU = False

ASSETS = Path(__file__).resolve().parent / "assets"
THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                       font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"])
INTRO = ("# Prompt compression lab\n"
         "A small language model reads your prompt and drops the words a large model can do without "
         "(the LLMLingua family of methods). Paste a prompt or pick an example, choose a method and a "
         "ratio, and press **Compress**: you see what was dropped, how surprising each token was, and what "
         "it saves. **Explore** draws the whole ratio-quality curve for your prompt; **Batch** compresses a file of "
         "prompts.")


# -- the API (same options as the form) -------------------------------------------------------------------------
@gpu
@api_safe
@takes_form
def compress(f: Form, with_tokens: bool = False) -> dict:
    """Compress a prompt (the form's fields: ``ui.api.form_fields``; ``options`` are the method's own, see
    /methods; ``target_tokens`` > 0 sets a token budget instead of the ratio); ``with_tokens`` adds every
    token's scores."""
    return pipeline.as_dict(pipeline.run(f, with_heatmap=with_tokens), with_tokens)


@api_safe
def cost(original_tokens: int, compressed_tokens: int, target_llm: str = DEFAULT_LLM, requests_per_day: int = 1000,
         output_tokens: int = 0) -> dict:
    """Dollars per request and per month for the original and the compressed prompt."""
    e = savings.estimate(original_tokens, compressed_tokens, target_llm, requests_per_day, output_tokens)
    return {"model": e.model, "input_per_mtok": e.input_per_mtok, "output_per_mtok": e.output_per_mtok,
            "per_request_original": e.per_request_original, "per_request_compressed": e.per_request_compressed,
            "per_month_original": e.per_month_original, "per_month_compressed": e.per_month_compressed,
            "saved_per_month": e.saved_per_month, "saved_share": e.saved_share, "price_source": views.price_source()}


def methods() -> list:
    """Every registered method with its label, summary and options (name, kind, default, help)."""
    return [{"name": name, "label": cls.label, "summary": cls.summary, "score_name": cls.score_name,
             "question_aware": cls.question_aware,
             "options": [{"name": f.name, "kind": f.kind, "default": show(f, f.default), "help": f.help}
                         for f in form.page_fields(name)]} for name, cls in REGISTRY.items()]


def scorers() -> dict:
    """The scorer models this host allows, and the default."""
    return {"allowed": form.allowed_scorers(), "default": form.default_scorer()}


def prices() -> list:
    """Target LLMs with a known price (dollars per million tokens) from the genai-prices table."""
    return [{"model": m, "input_per_mtok": pricing.price_of(m).input_per_mtok,
             "output_per_mtok": pricing.price_of(m).output_per_mtok} for m in pricing.available()]


def example_names() -> list:
    """The bundled examples' names and labels."""
    return [{"name": e.name, "label": e.label} for e in examples.all_examples()]


@api_safe
def example(name: str) -> dict:
    """One bundled example's fields (ready to pass to /compress) and its source."""
    e = examples.by_name(name)
    return {"instruction": e.instruction, "context": e.context_text, "question": e.question, "method": e.method,
            "ratio": e.ratio, "context_sep": form.encode_escapes(e.context_sep), "source": e.source,
            "answer": e.answer}


@gpu
@api_safe
@takes_form
def export_api(f: Form) -> dict:
    """Compress a prompt (inputs as /compress) and return its export record: versioned JSON with the original,
    the compressed prompt, every token's score and kept flag, the settings, the scorer and the versions."""
    report = pipeline.run(f, with_heatmap=False)
    return export.to_json(report.result, report.request)


def build_api() -> None:
    for fn in (compress, cost, methods, scorers, prices):
        gr.api(fn, api_name=fn.__name__, concurrency_id="model" if fn is compress else None)
    gr.api(export_api, api_name="export", concurrency_id="model")
    gr.api(gpu(explore_tab.sweep_api), api_name="sweep", concurrency_id="model")
    gr.api(gpu(batch_tab.batch_api), api_name="batch", concurrency_id="model")
    gr.api(example_names, api_name="examples")
    gr.api(example, api_name="example")
    gr.api(gpu(downstream_tab.answers_api), api_name="answers", **downstream_tab.CONCURRENCY)


# -- the page ----------------------------------------------------------------------------------------------------
def build_compress_tab(gold: gr.Textbox) -> tuple[compress_tab.Inputs, compress_tab.Outputs, gr.Button]:
    with gr.Tab("Compress", id="compress", elem_id="tab-compress"):
        with gr.Row():
            ui = compress_tab.build_inputs()
        with gr.Row():
            compress_btn = gr.Button("Compress", variant="primary", scale=3, elem_id="compress")
            clear_btn = gr.ClearButton(value="Clear", scale=1, elem_id="clear")
        compress_tab.build_examples(ui, gold)
        out = compress_tab.build_outputs()
        downstream_tab.build(out.prompts_state, ui.target_llm, gold, gpu)   # apart: the only part that sends
    clear_btn.add([ui.instruction, ui.context, ui.question, out.shown, out.stats, out.diff, out.compressed,
                   out.heatmap, out.cost, out.heat_state, out.prompts_state, out.report_state, out.export_json])
    return ui, out, compress_btn


def build_app() -> gr.Blocks:
    with gr.Blocks(title="Prompt compression lab") as demo:
        gr.Markdown(INTRO)
        gold = gr.Textbox(label="Reference answer(s), one per line (optional)", render=False)
        with gr.Tabs(selected="compress", elem_id="tabs") as tabs:
            ui, out, compress_btn = build_compress_tab(gold)
            explore = explore_tab.build()
            batch = batch_tab.build()
        out.footer = gr.Markdown(views.footer_md(form.default_scorer(), form.source_hint(form.default_scorer()),
                                                 lingua_core.__version__), elem_classes="lc-footer")
        compress_tab.wire(ui, out, compress_btn, gpu)
        explore_tab.wire(explore, ui, out, tabs, gold, gpu)
        batch_tab.wire(batch, ui, gpu)
        build_api()
    return demo


def warm_up() -> None:
    """Load the default scorer in the background so the first compression is quick."""
    try:
        print(f"scorer warmed up in {pipeline.warm_up():.1f} s (the bundled encoders loaded with it)", flush=True)
    except LinguaError as exc:
        print(f"scorer warm-up skipped: {exc}", flush=True)


def main() -> None:
    if not ZERO_GPU:  # under ZeroGPU the GPU exists only inside @gpu calls: no model work at start-up
        threading.Thread(target=warm_up, daemon=True, name="warm-up").start()
    build_app().queue(default_concurrency_limit=1).launch(theme=THEME, css_paths=[ASSETS / "app.css"],
                                                          ssr_mode=False, footer_links=["api"])


if __name__ == "__main__":
    main()
