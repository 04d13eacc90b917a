"""Gradio app for the prompt-compression lab: layout and event wiring only.

Everything the app computes comes from ``lingua_core``: ``form`` (inputs -> Request, allow-list),
``pipeline`` (scorer, compression, heatmap numbers, progress), ``views`` (HTML and text), ``viz`` (plotly
figures), ``savings`` and ``pricing`` (dollars), ``examples`` (assets/). Methods and their options are read
from ``REGISTRY`` at start-up, so a newly registered method shows up without touching this file.

    python app.py                      # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to move it)

Named API endpoints for ``gradio_client``: /compress, /cost, /methods, /scorers, /prices, /examples, /example,
/answers. The "Downstream answers" section lives in ``downstream_tab.py``.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: the app phones nowhere

import functools  # noqa: E402
import threading  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402

import downstream_tab  # noqa: E402
import lingua_core  # noqa: E402
from lingua_core import examples, form, pipeline, pricing, savings, views, viz  # noqa: E402
from lingua_core.errors import LinguaError  # noqa: E402
from lingua_core.methods import REGISTRY  # noqa: E402
from lingua_core.option_fields import OptionField, describe, show  # noqa: E402

try:  # ZeroGPU on Hugging Face Spaces: borrow a GPU for each compression; elsewhere a no-op
    import spaces
    gpu, ZERO_GPU = spaces.GPU, True
except ImportError:
    def gpu(fn):
        return fn
    ZERO_GPU = False

ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_METHOD = "llmlingua" if "llmlingua" in REGISTRY else next(iter(REGISTRY))
DEFAULT_LLM = "gpt-4"
THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                       font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"])
INTRO = ("# Prompt compression lab\n"
         "A small language model reads your prompt and drops the words a large model can do without "
         "(the LLMLingua family of methods). Paste a prompt or pick an example, choose a method and a "
         "ratio, and press **Compress**: you see what was dropped, how surprising each token was, and what "
         "it saves.")


def api_safe(fn):
    """Turn the core's user-facing errors into ``gr.Error`` (shown in the page, returned to API clients)."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LinguaError as exc:
            raise gr.Error(str(exc)) from exc
    return wrapped


# -- component factories ---------------------------------------------------------------------------------------
@dataclass
class Inputs:
    instruction: gr.Textbox
    context: gr.Textbox
    question: gr.Textbox
    method: gr.Dropdown
    scorer: gr.Dropdown
    budget_mode: gr.Radio
    ratio: gr.Slider
    target_tokens: gr.Number
    target_llm: gr.Dropdown
    context_sep: gr.Textbox
    option_groups: dict[str, gr.Group] = field(default_factory=dict)            # method -> its options box
    options: dict[str, dict[str, gr.components.Component]] = field(default_factory=dict)  # method -> field -> widget


def option_widget(f: OptionField) -> gr.components.Component:
    """One widget for one Options field, chosen by the field's kind."""
    common = dict(label=f.name.replace("_", " "), info=f.help or None, value=show(f, f.default))
    if f.kind == "bool":
        return gr.Checkbox(**common)
    if f.kind in ("int", "float"):
        return gr.Number(precision=0 if f.kind == "int" else None, **common)
    if f.kind == "choice":
        return gr.Dropdown(choices=list(f.choices), **common)
    if f.kind == "list":
        example = "[0, 2] or 0, 2" if f.item in (int, float) else '["\\n", "?"] or items separated by commas'
        common["info"] = (f.help + "; " if f.help else "") + "a list: " + example
    return gr.Textbox(**common)


def build_inputs() -> Inputs:
    with gr.Column(scale=3):
        instruction = gr.Textbox(label="Instruction (kept verbatim, first)", lines=2, max_lines=6,
                                 elem_id="instruction")
        context = gr.Textbox(label="Context: documents or demonstrations, separated by blank lines "
                                   "(the separator is in Method options)", lines=12, max_lines=24,
                             elem_id="context")
        question = gr.Textbox(label="Question (kept verbatim, last)", lines=2, max_lines=6, elem_id="question")
    with gr.Column(scale=2):
        method = gr.Dropdown([(cls.label or name, name) for name, cls in REGISTRY.items()], value=DEFAULT_METHOD,
                             label="Method")
        scorer = gr.Dropdown(form.allowed_scorers(), value=form.default_scorer(), label="Scorer model",
                             info="the small LM that scores tokens; the host sets this list")
        budget_mode = gr.Radio([("Ratio", "ratio"), ("Target tokens", "tokens")], value="ratio", label="Budget")
        ratio = gr.Slider(1.5, 20, value=4, step=0.5, label="Compression ratio (original / compressed)")
        target_tokens = gr.Number(value=200, precision=0, minimum=1, label="Target tokens for the whole prompt",
                                  visible=False)
        prices = [views.llm_choice(m, pricing.price_of(m).input_per_mtok) for m in pricing.available()]
        models = [model for _, model in prices]
        target_llm = gr.Dropdown(prices, value=DEFAULT_LLM if DEFAULT_LLM in models else models[0],
                                 label="Target LLM", info="its tokenizer counts the budget; its price "
                                 "(genai-prices) gives the cost")
        inputs = Inputs(instruction, context, question, method, scorer, budget_mode, ratio, target_tokens,
                        target_llm, gr.Textbox(visible=False))
        with gr.Accordion("Method options", open=False):
            inputs.context_sep = gr.Textbox(form.encode_escapes("\n\n"), label="Context separator",
                                            info="splits the context box; \\n is a line break")
            for name, cls in REGISTRY.items():
                with gr.Group(visible=name == DEFAULT_METHOD) as group:
                    inputs.options[name] = {f.name: option_widget(f) for f in describe(cls.Options)}
                inputs.option_groups[name] = group
    return inputs


@dataclass
class Outputs:
    stats: gr.HTML
    diff: gr.HTML
    compressed: gr.Textbox
    colour_by: gr.Radio
    heatmap: gr.Plot
    requests_per_day: gr.Slider
    output_tokens: gr.Slider
    cost: gr.HTML
    how: gr.Markdown
    heat_state: gr.State            # the heatmap numbers, to recolour without compressing again
    prompts_state: gr.State         # (original, compressed), to re-price without compressing again
    report_state: gr.State          # the latest compression, for the heatmap step that follows it
    footer: gr.Markdown | None = None


def build_outputs() -> Outputs:
    stats = gr.HTML(elem_id="stats")
    with gr.Row(equal_height=True):
        with gr.Column():
            gr.Markdown("#### Original prompt: dropped text struck through")
            diff = gr.HTML(elem_id="diff")
        with gr.Column():
            compressed = gr.Textbox(label="Compressed prompt", lines=17, max_lines=17, buttons=["copy"],
                                    interactive=False, elem_id="compressed")
    gr.Markdown("#### Token heatmap: every token of the original, wrapped into lines (scroll for more)")
    colour_by = gr.Radio([("Scorer self-information (bits), the same for every method", "self_info"),
                          ("The method's own score", "method")], value="self_info", label="Colour by")
    with gr.Column(elem_classes="lc-heat-scroll"):
        heatmap = gr.Plot(show_label=False, elem_id="heatmap")
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            gr.Markdown("#### Cost")
            requests_per_day = gr.Slider(1, 100_000, value=1_000, step=1, label="Requests per day")
            output_tokens = gr.Slider(0, 4_000, value=200, step=10, label="Output tokens per request")
            cost = gr.HTML(elem_id="cost")
        with gr.Column(scale=3):
            gr.Markdown("#### How it works")
            default = REGISTRY[DEFAULT_METHOD]
            how = gr.Markdown(views.how_it_works_md(default.label, default.summary), elem_id="how")
    return Outputs(stats, diff, compressed, colour_by, heatmap, requests_per_day, output_tokens, cost, how,
                   gr.State(), gr.State(), gr.State())


# -- handlers --------------------------------------------------------------------------------------------------
def form_from(ui: Inputs, v: dict) -> form.Form:
    """The form the widgets describe (``v``: widget -> value)."""
    chosen = v[ui.method]
    options = {name: v[w] for name, w in ui.options.get(chosen, {}).items()}
    tokens = int(v[ui.target_tokens] or 0) if v[ui.budget_mode] == "tokens" else 0
    return form.Form(v[ui.instruction], v[ui.context], v[ui.question], chosen, v[ui.scorer], float(v[ui.ratio]),
                     tokens, v[ui.context_sep], v[ui.target_llm], options)


def shown_report(out: Outputs, report: pipeline.Report, v: dict) -> dict:
    """Every output component's new value for a finished compression (the heatmap follows separately)."""
    r = report.result
    cls = REGISTRY[r.method]
    estimate = savings.estimate(r.origin_tokens, r.compressed_tokens, r.target_model,
                                int(v[out.requests_per_day]), int(v[out.output_tokens]))
    return {
        out.stats: views.stats_html(r), out.diff: views.diff_html(r), out.compressed: r.compressed,
        out.report_state: report, out.cost: views.cost_html(estimate), out.prompts_state: (r.original, r.compressed),
        out.how: views.how_it_works_md(cls.label or r.method, cls.summary, r),
        out.footer: views.footer_md(report.scorer, report.scorer_source, lingua_core.__version__, report.device),
    }


def wire(ui: Inputs, out: Outputs, compress_btn: gr.Button) -> None:
    @gpu
    def on_compress(v: dict, progress=gr.Progress()) -> dict:
        try:
            report = pipeline.run(form_from(ui, v), lambda frac, msg: progress(frac, desc=msg), with_heatmap=False)
        except LinguaError as exc:
            raise gr.Error(str(exc)) from exc
        return shown_report(out, report, v)

    @gpu
    def on_heatmap(report: pipeline.Report, colour_by: str, progress=gr.Progress()):
        try:
            pipeline.add_heatmap(report, lambda frac, msg: progress(frac, desc=msg))
        except LinguaError as exc:
            raise gr.Error(str(exc)) from exc
        return viz.token_heatmap(report.heat, colour_by), report.heat

    inputs = {ui.instruction, ui.context, ui.question, ui.method, ui.scorer, ui.budget_mode, ui.ratio,
              ui.target_tokens, ui.target_llm, ui.context_sep, out.colour_by, out.requests_per_day,
              out.output_tokens}
    inputs |= {w for widgets in ui.options.values() for w in widgets.values()}
    outputs = [out.stats, out.diff, out.compressed, out.report_state, out.cost, out.prompts_state, out.how,
               out.footer]
    compress_btn.click(on_compress, inputs, outputs, api_visibility="private", concurrency_id="model",
                       show_progress_on=[out.diff, out.compressed]
                       ).success(on_heatmap, [out.report_state, out.colour_by], [out.heatmap, out.heat_state],
                                 api_visibility="private", concurrency_id="model")

    def on_method(name: str) -> dict:
        cls = REGISTRY[name]
        shown = {group: gr.Group(visible=m == name) for m, group in ui.option_groups.items()}
        return {**shown, out.how: views.how_it_works_md(cls.label or name, cls.summary)}

    ui.method.change(on_method, ui.method, [*ui.option_groups.values(), out.how], api_visibility="private")
    ui.budget_mode.change(lambda mode: (gr.Slider(visible=mode == "ratio"), gr.Number(visible=mode == "tokens")),
                          ui.budget_mode, [ui.ratio, ui.target_tokens], api_visibility="private")
    out.colour_by.change(lambda heat, by: viz.token_heatmap(heat, by) if heat is not None else None,
                         [out.heat_state, out.colour_by], out.heatmap, api_visibility="private")

    @api_safe
    def on_cost(prompts, model: str, per_day: float, output: float) -> str:
        if not prompts:
            return ""
        return views.cost_html(savings.estimate_texts(prompts[0], prompts[1], model, int(per_day), int(output)))

    gr.on([ui.target_llm.change, out.requests_per_day.release, out.output_tokens.release], on_cost,
          [out.prompts_state, ui.target_llm, out.requests_per_day, out.output_tokens], out.cost,
          api_visibility="private")


def build_examples(ui: Inputs, gold: gr.Textbox) -> None:
    found = examples.all_examples()
    gr.Examples(
        [[e.instruction, e.context_text, e.question, e.method, e.ratio, "ratio", form.encode_escapes(e.context_sep),
          e.answer] for e in found],
        [ui.instruction, ui.context, ui.question, ui.method, ui.ratio, ui.budget_mode, ui.context_sep, gold],
        example_labels=[e.label for e in found], label="Examples: click one, then Compress",
        cache_examples=False,  # caching would run the models at build time; examples only fill the form
    )
    with gr.Accordion("Where the examples come from", open=False):
        gr.Markdown("\n".join(f"- **{e.label}**: {e.source}" for e in found))


# -- the API (same options as the form) -------------------------------------------------------------------------
@gpu
@api_safe
def compress(instruction: str, context: str, question: str = "", method: str = DEFAULT_METHOD, scorer: str = "",
             ratio: float = 4.0, target_tokens: int = 0, context_sep: str = "\\n\\n", target_llm: str = DEFAULT_LLM,
             options: dict | None = None, with_tokens: bool = False) -> dict:
    """Compress a prompt. ``options`` are the method's own options by name (see /methods);
    ``target_tokens`` > 0 sets a token budget instead of the ratio; ``with_tokens`` adds every token's scores."""
    f = form.Form(instruction, context, question, method, scorer or form.default_scorer(), ratio, target_tokens,
                  context_sep, target_llm, options if options is not None else {})
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
                         for f in describe(cls.Options)]} for name, cls in REGISTRY.items()]


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


def build_api() -> None:
    for fn in (compress, cost, methods, scorers, prices):
        gr.api(fn, api_name=fn.__name__, concurrency_id="model" if fn is compress else None)
    gr.api(example_names, api_name="examples")
    gr.api(example, api_name="example")
    gr.api(gpu(downstream_tab.answers_api), api_name="answers", **downstream_tab.CONCURRENCY)


# -- the page ----------------------------------------------------------------------------------------------------
def build_app() -> gr.Blocks:
    with gr.Blocks(title="Prompt compression lab") as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            ui = build_inputs()
        with gr.Row():
            compress_btn = gr.Button("Compress", variant="primary", scale=3, elem_id="compress")
            clear_btn = gr.ClearButton(value="Clear", scale=1)
        gold = gr.Textbox(label="Reference answer(s), one per line (optional)", render=False)
        build_examples(ui, gold)
        out = build_outputs()
        downstream_tab.build(out.prompts_state, ui.target_llm, gold, gpu)   # apart: the only part that sends
        out.footer = gr.Markdown(views.footer_md(form.default_scorer(), form.source_hint(form.default_scorer()),
                                                 lingua_core.__version__), elem_classes="lc-footer")
        clear_btn.add([ui.instruction, ui.context, ui.question, out.stats, out.diff, out.compressed, out.heatmap,
                       out.cost, out.heat_state, out.prompts_state, out.report_state])
        wire(ui, out, compress_btn)
        build_api()
    return demo


def warm_up() -> None:
    """Load the default scorer in the background so the first compression is quick."""
    try:
        print(f"scorer warmed up in {pipeline.warm_up():.1f} s", flush=True)
    except LinguaError as exc:
        print(f"scorer warm-up skipped: {exc}", flush=True)


def main() -> None:
    if not ZERO_GPU:  # under ZeroGPU the GPU exists only inside @gpu calls: no model work at start-up
        threading.Thread(target=warm_up, daemon=True, name="warm-up").start()
    build_app().queue(default_concurrency_limit=1).launch(theme=THEME, css_paths=[ASSETS / "app.css"],
                                                          ssr_mode=False, footer_links=["api"])


if __name__ == "__main__":
    main()
