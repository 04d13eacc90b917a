"""Gradio layout and wiring of the app's "Downstream answers" section (``app.py`` places it).

It sends the original and the compressed prompt to one backend -- the local model (offline) or any
OpenAI-compatible server -- and streams both answers side by side with their latency, tokens, cost and,
given reference answers, whether each is right. The work is ``lingua_core.compare``'s; the backend comes
from ``lingua_core.form.backend_from`` (a local model must be on the allow-list). Kept apart from the
compression view: nothing is sent anywhere unless this section's button is pressed.
"""

from __future__ import annotations

from dataclasses import asdict

import gradio as gr

from lingua_core import compare, form, views
from lingua_core.backends import REGISTRY as BACKENDS
from lingua_core.config import settings
from lingua_core.errors import LinguaError

EXPLAIN = ("Does the compressed prompt still get the right answer? Send both prompts to an LLM. The local "
           "model runs here, offline (the small bundled model answers poorly, but it shows the mechanics); an "
           "OpenAI-compatible server (OpenAI, vLLM, Ollama, ...) gets both prompts at once. Your key is used "
           "for these two requests only: it is not stored or logged.")


def build(prompts_state: gr.State, target_llm: gr.Dropdown, gold: gr.Textbox, gpu=lambda fn: fn) -> None:
    """The section's components and events; ``gold`` (reference answers) is created by the caller, unrendered,
    so the examples can fill it."""
    with gr.Accordion("Downstream answers: ask an LLM with both prompts", open=False):
        gr.Markdown(EXPLAIN)
        with gr.Row():
            backend = gr.Radio([(cls.label or name, name) for name, cls in BACKENDS.items()],
                               value=next(iter(form.LOCAL_BACKENDS & set(BACKENDS)), next(iter(BACKENDS))),
                               label="Backend")
            local_model = gr.Dropdown(form.allowed_scorers(), value=form.default_scorer(), label="Local model")
            base_url = gr.Textbox(settings().backend_url, label="Server base URL", visible=False)
            remote_model = gr.Textbox(settings().backend_model, label="Model name on the server", visible=False)
            api_key = gr.Textbox(type="password", label="API key (empty: the host's, if any)", visible=False)
        with gr.Row():
            max_new = gr.Slider(16, 1024, value=128, step=16, label="Max new tokens per answer")
            gold.render()
        ask = gr.Button("Ask with both prompts", elem_id="ask")
        with gr.Row():
            original = gr.Textbox(label="Answer to the original prompt", lines=8, interactive=False)
            compressed = gr.Textbox(label="Answer to the compressed prompt", lines=8, interactive=False)
        table = gr.HTML(elem_id="comparison")

    def on_backend(name: str):
        local = name in form.LOCAL_BACKENDS
        return (gr.Dropdown(visible=local), gr.Textbox(visible=not local), gr.Textbox(visible=not local),
                gr.Textbox(visible=not local))

    backend.change(on_backend, backend, [local_model, base_url, remote_model, api_key], api_visibility="private")

    @gpu
    def on_ask(prompts, name, local, url, remote, key, max_tokens, golds, llm):
        if not prompts:
            raise gr.Error("Compress a prompt first: the answers compare the original and the compressed one.")
        try:
            chosen = form.backend_from(name, local if name in form.LOCAL_BACKENDS else remote, url, key)
            for c in compare.compare_stream(prompts[0], prompts[1], chosen, form.gold_list(golds), llm,
                                            int(max_tokens)):
                yield c.original.answer.text, c.compressed.answer.text, views.comparison_html(c)
        except LinguaError as exc:
            raise gr.Error(str(exc)) from exc

    ask.click(on_ask, [prompts_state, backend, local_model, base_url, remote_model, api_key, max_new, gold,
                       target_llm], [original, compressed, table], api_visibility="private",
              concurrency_id="model")


def answers_api(original: str, compressed: str, backend: str = "local", model: str = "", base_url: str = "",
                api_key: str = "", max_new_tokens: int = 128, gold_answers: str = "",
                target_llm: str = "gpt-4o") -> dict:
    """Answer both prompts with one backend; latency, tokens, cost (at ``target_llm`` prices), correctness
    against ``gold_answers`` (one per line) and the answers' agreement."""
    try:
        chosen = form.backend_from(backend, model, base_url, api_key)
        c = compare.compare(original, compressed, chosen, form.gold_list(gold_answers), target_llm,
                            int(max_new_tokens))
    except LinguaError as exc:
        raise gr.Error(str(exc)) from exc
    return {**asdict(c), "saved_usd": c.saved_usd}
