"""Gradio layout and wiring of the app's "Compress" tab (``app.py`` places it): the form, the side-by-side view,
the token heatmap, the cost and the JSON export of the latest compression.

Its siblings borrow from it: ``explore_tab.py`` and ``batch_tab.py`` read the same form (``form_inputs``,
``form_from``) instead of repeating it, and a sweep point is shown here through ``shown_report``, the same
code path as a compression made with the Compress button. ``downstream_tab.py`` (the "Downstream answers"
section) sits at the bottom of this tab.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

import lingua_core
from lingua_core import export, pricing
from lingua_core.loading import LoadedModel, load_model
from lingua_core.methods import REGISTRY
from lingua_core.result import Result

from . import examples, form, heatmap, pipeline, savings, views, viz
from .api import api_safe
from .form import DEFAULT_LLM, DEFAULT_METHOD
from .option_fields import OptionField, show

AUTO = "auto"                # the budget choice that turns a method's auto option on (the ratio is its ceiling)


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
                             label="Method", elem_id="method")
        scorer = gr.Dropdown(form.allowed_scorers(), value=form.default_scorer(), label="Scorer model",
                             info="the small LM that scores tokens; the host sets this list")
        budget_mode = gr.Radio([("Ratio", "ratio"), ("Target tokens", "tokens"), ("Auto", AUTO)], value="ratio",
                               label="Budget", info="Auto: keep what the question needs, the ratio as the least "
                               "compression (methods with an 'auto' option)")
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
            for name in REGISTRY:
                with gr.Group(visible=name == DEFAULT_METHOD) as group:
                    inputs.options[name] = {f.name: option_widget(f) for f in form.page_fields(name)}
                inputs.option_groups[name] = group
    return inputs


@dataclass
class Outputs:
    shown: gr.Markdown              # what the view shows when it is not the form's own compression
    stats: gr.HTML
    diff: gr.HTML
    compressed: gr.Textbox
    colour_by: gr.Radio
    heatmap: gr.Plot
    requests_per_day: gr.Slider
    output_tokens: gr.Slider
    cost: gr.HTML
    how: gr.Markdown
    export_file: gr.DownloadButton  # the latest compression as a JSON file
    export_json: gr.Code            # the same JSON, with a copy button
    heat_state: gr.State            # the heatmap numbers, to recolour without compressing again
    prompts_state: gr.State         # (original, compressed), to re-price without compressing again
    report_state: gr.State          # the latest compression, for the heatmap step that follows it
    footer: gr.Markdown | None = None


def build_outputs() -> Outputs:
    shown = gr.Markdown(elem_id="shown")
    stats = gr.HTML(elem_id="stats")
    with gr.Row(equal_height=True):
        with gr.Column():
            gr.Markdown("#### Original prompt: dropped text struck through")
            diff = gr.HTML(elem_id="diff")
        with gr.Column():
            compressed = gr.Textbox(label="Compressed prompt", lines=17, max_lines=17, buttons=["copy"],
                                    interactive=False, elem_id="compressed")
    gr.Markdown("#### Token heatmap: every token of the original, wrapped into lines (scroll for more)")
    colour_by = gr.Radio([("The method's own score (from its compression: no extra pass)", "method"),
                          ("Scorer self-information (bits), the same for every method (one more pass)", "self_info")],
                         value="method", label="Colour by", elem_id="colour-by")
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
    with gr.Accordion("Export: this compression as JSON, to reproduce it", open=False):
        gr.Markdown(f"Schema version {export.SCHEMA_VERSION}: the original, the compressed prompt, every token "
                    "with its score and kept flag, the settings, the scorer and where it came from, and the "
                    "library versions. `lingua_core.export.reproduce(json.load(f))` runs it again.")
        export_file = gr.DownloadButton("Download JSON", interactive=False, elem_id="export-download")
        export_json = gr.Code(language="json", label="Export JSON", lines=8, max_lines=20, buttons=["copy"],
                              interactive=False, elem_id="export-json")
    return Outputs(shown, stats, diff, compressed, colour_by, heatmap, requests_per_day, output_tokens, cost, how,
                   export_file, export_json, gr.State(), gr.State(), gr.State())


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


# -- what other tabs borrow ------------------------------------------------------------------------------------
def form_inputs(ui: Inputs) -> set:
    """Every widget ``form_from`` and ``method_options_from`` read (for a handler taking a dict of values)."""
    widgets = {ui.instruction, ui.context, ui.question, ui.method, ui.scorer, ui.budget_mode, ui.ratio,
               ui.target_tokens, ui.target_llm, ui.context_sep}
    return widgets | {w for group in ui.options.values() for w in group.values()}


def form_from(ui: Inputs, v: dict) -> form.Form:
    """The form the widgets describe (``v``: widget -> value)."""
    chosen = v[ui.method]
    tokens = int(v[ui.target_tokens] or 0) if v[ui.budget_mode] == "tokens" else 0
    options = method_options_from(ui, v, chosen)
    if v[ui.budget_mode] == AUTO:           # the method's own auto option (a method without one says so)
        options = {**options, "auto": True}
    return form.Form(instruction=v[ui.instruction], context=v[ui.context], question=v[ui.question], method=chosen,
                     scorer=v[ui.scorer], ratio=float(v[ui.ratio]), target_tokens=tokens,
                     context_sep=v[ui.context_sep], target_llm=v[ui.target_llm], options=options)


def method_options_from(ui: Inputs, v: dict, method: str) -> dict:
    """A method's options as its widgets in "Method options" show them (also for methods not picked)."""
    return {name: v[w] for name, w in ui.options.get(method, {}).items()}


def view_outputs(out: Outputs) -> list:
    """The components ``shown_report`` fills."""
    return [out.shown, out.stats, out.diff, out.compressed, out.report_state, out.cost, out.prompts_state, out.how,
            out.footer, out.export_file, out.export_json]


def export_path(result: Result, text: str) -> str:
    """The export JSON ``text`` in a fresh temporary file (what "Download JSON" serves), named after the
    method and ratio, e.g. ``compression-llmlingua-4.0x.json``."""
    folder = Path(tempfile.mkdtemp(prefix="lingua-export-"))
    path = folder / f"compression-{result.method}-{views.ratio_text(result.ratio).replace('∞', 'all')}.json"
    path.write_text(text, encoding="utf-8")
    return str(path)


def shown_report(out: Outputs, report: pipeline.Report, v: dict, note: str = "") -> dict:
    """Every view component's new value for a finished compression (the heatmap follows, ``then_heatmap``);
    ``note`` says where it came from when not from the form (a sweep point)."""
    r = report.result
    cls = REGISTRY[r.method]
    estimate = savings.estimate(r.origin_tokens, r.compressed_tokens, r.target_model,
                                int(v[out.requests_per_day]), int(v[out.output_tokens]))
    exported = export.to_text(r, report.request)
    return {
        out.shown: note, out.stats: views.stats_html(r), out.diff: views.diff_html(r), out.compressed: r.compressed,
        out.report_state: report, out.cost: views.cost_html(estimate), out.prompts_state: (r.original, r.compressed),
        out.how: views.how_it_works_md(cls.label or r.method, cls.summary, r),
        out.footer: views.footer_md(report.scorer, report.scorer_source, lingua_core.__version__, report.device),
        out.export_file: gr.DownloadButton(value=export_path(r, exported), interactive=True),
        out.export_json: exported,
    }


# -- the stage a click is in ----------------------------------------------------------------------------------
class ScorerReads:
    """A ``pipeline.Progress`` that passes each stage the pipeline names ("Compressing with LLMLingua") on to
    Gradio's progress bar and, while it is ``attached`` to the scorer, adds how many tokens the scorer has read
    so far against the prompt's length (counted by a forward pre-hook on the model, only for calls made on
    the attaching thread, so another request's passes never count): "Compressing with LLMLingua: the scorer
    has read 1,024 of the prompt's 2,412 tokens", the bar moving from the stage's start towards 95%. A method
    that reads the prompt more than once stays at 95% until it is done."""

    def __init__(self, progress, prompt: str, total: int | None = None):
        self.progress, self.prompt, self.total = progress, prompt, total
        self.stage, self.start, self.read, self.lm, self.thread = "", 0.0, 0, None, None

    def __call__(self, fraction: float, message: str) -> None:
        self.stage, self.start = message, fraction
        self.progress(fraction, desc=message)

    def _count(self, _module, args, kwargs) -> None:
        if threading.get_ident() != self.thread:
            return
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            return
        if self.total is None:                  # on the pipeline's thread, under its model lock: safe to tokenize
            from lingua_core.scoring import tokenize
            self.total = max(1, len(tokenize(self.lm, self.prompt).ids))
        self.read += int(ids.numel())
        share = min(self.read / self.total, 1.0)
        self.progress(self.start + (0.95 - self.start) * share,
                      desc=f"{self.stage}: the scorer has read {self.read:,} of the prompt's {self.total:,} tokens")

    @contextlib.contextmanager
    def attached(self, lm: LoadedModel):
        """Count the scorer's reads while the block runs. The hook sits on the base model (the decoder without
        its LM head), which every read goes through once: whole-model calls and the packed passes that apply
        the head themselves (``scoring.score_many_split``)."""
        self.lm, self.thread = lm, threading.get_ident()
        handle = getattr(lm.model, "base_model", lm.model).register_forward_pre_hook(self._count, with_kwargs=True)
        try:
            yield self
        finally:
            handle.remove()


def heatmap_colouring(report: pipeline.Report, colour_by: str) -> str:
    """What the heatmap is coloured by: as asked, except that a method without scores of its own (the
    baselines) is shown by self-information."""
    return colour_by if colour_by == "self_info" or heatmap.has_method_scores(report.result) else "self_info"


def draw_heatmap(report: pipeline.Report, colour_by: str, progress) -> tuple:
    """The heatmap of ``report`` coloured by ``colour_by``, running the self-information pass only if that
    colouring needs it and it has not run (one pass per click: the method's scores come from its compression)."""
    by = heatmap_colouring(report, colour_by)
    reads = ScorerReads(progress, report.result.original, total=len(report.result.tokens))
    with reads.attached(load_model(report.scorer, report.device)):
        pipeline.add_heatmap(report, reads, self_info=by == "self_info")
    return viz.token_heatmap(report.heat, by), report.heat, gr.Radio(value=by)


def then_heatmap(event, out: Outputs, gpu=lambda fn: fn):
    """Chain the heatmap step after ``event`` succeeds: drawn from the method's own scores when it has them
    (no second pass), by self-information otherwise or when that colouring is chosen."""
    @gpu
    @api_safe
    def on_heatmap(report: pipeline.Report, colour_by: str, progress=gr.Progress()):
        return draw_heatmap(report, colour_by, progress)

    return event.success(on_heatmap, [out.report_state, out.colour_by], [out.heatmap, out.heat_state, out.colour_by],
                         api_visibility="private", concurrency_id="model")


# -- this tab's events -----------------------------------------------------------------------------------------
def wire(ui: Inputs, out: Outputs, compress_btn: gr.Button, gpu=lambda fn: fn) -> None:
    @gpu
    @api_safe
    def on_compress(v: dict, progress=gr.Progress()) -> dict:
        f = form_from(ui, v)
        reads = ScorerReads(progress, "\n\n".join(p for p in (f.instruction, f.context, f.question) if p))
        lm, _ = pipeline.load_scorer(f.scorer, reads)   # checks the allow-list; a first load says so
        with reads.attached(lm):
            report = pipeline.run(f, reads, with_heatmap=False)
        return shown_report(out, report, v)

    inputs = form_inputs(ui) | {out.colour_by, out.requests_per_day, out.output_tokens}
    # trigger_mode="once" (Gradio's default for clicks, pinned here): a click while this compression is pending
    # is ignored by the page, so impatient clicks never queue duplicates behind the one model.
    then_heatmap(compress_btn.click(on_compress, inputs, view_outputs(out), api_visibility="private",
                                    concurrency_id="model", show_progress_on=[out.diff, out.compressed],
                                    trigger_mode="once"), out, gpu)

    def on_method(name: str) -> dict:
        cls = REGISTRY[name]
        shown = {group: gr.Group(visible=m == name) for m, group in ui.option_groups.items()}
        return {**shown, out.how: views.how_it_works_md(cls.label or name, cls.summary)}

    ui.method.change(on_method, ui.method, [*ui.option_groups.values(), out.how], api_visibility="private")
    ui.budget_mode.change(lambda mode: (gr.Slider(visible=mode != "tokens"), gr.Number(visible=mode == "tokens")),
                          ui.budget_mode, [ui.ratio, ui.target_tokens], api_visibility="private")
    @gpu
    @api_safe
    def on_colour(report, by: str, progress=gr.Progress()):
        if report is None:                       # nothing compressed yet: the choice applies to the next one
            return gr.skip(), gr.skip(), gr.skip()
        return draw_heatmap(report, by, progress)

    out.colour_by.input(on_colour, [out.report_state, out.colour_by], [out.heatmap, out.heat_state, out.colour_by],
                        api_visibility="private", concurrency_id="model")

    @api_safe
    def on_cost(prompts, model: str, per_day: float, output: float) -> str:
        if not prompts:
            return ""
        return views.cost_html(savings.estimate_texts(prompts[0], prompts[1], model, int(per_day), int(output)))

    gr.on([ui.target_llm.change, out.requests_per_day.release, out.output_tokens.release], on_cost,
          [out.prompts_state, ui.target_llm, out.requests_per_day, out.output_tokens], out.cost,
          api_visibility="private")
