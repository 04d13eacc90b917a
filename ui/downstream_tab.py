"""Gradio layout and wiring of the app's "Downstream answers" section (``app.py`` places it).

It sends the original and the compressed prompt to one backend -- the local model (offline) or any
OpenAI-compatible server -- and streams both answers side by side with their latency, tokens, cost and,
given reference answers, whether each is right. The work is ``lingua_core.compare``'s; the backend comes
from ``form.backend_from`` (a local model must be on the allow-list). Kept apart from the
compression view: nothing is sent anywhere unless this section's button is pressed.

Queueing, on purpose: the section's events run in their own queue group (``CONCURRENCY``, up to
``HTTP_CONCURRENCY`` at once), so answers from HTTP servers -- which wait on the network, not on this
machine -- run side by side and never wait behind a compression. The local model shares the device with
the scorer, so its answers advance one step at a time under the scorer's lock (``pipeline.model_steps``):
model work stays one pass at a time. Compression events use the app's "model" group (limit 1).

The base-URL field is shown only when the host allows custom backends (``LINGUA_ALLOW_CUSTOM_BACKEND``, off
in public-host mode); a typed URL must pass ``lingua_core.backends.addresses``, and the host's key
(``OPENAI_API_KEY``) is sent only to the host's own URL, never to one a visitor types.
"""

from __future__ import annotations

from dataclasses import asdict

import gradio as gr

from lingua_core import compare
from lingua_core.backends import REGISTRY as BACKENDS
from lingua_core.config import settings

from . import form, pipeline, views
from .api import api_safe

EXPLAIN = ("Does the compressed prompt still get the right answer? Send both prompts to an LLM. The local "
           "model runs here, offline (the small bundled model answers poorly, but it shows the mechanics); an "
           "OpenAI-compatible server (OpenAI, vLLM, Ollama, ...) gets both prompts at once. Your key is used "
           "for these two requests only: it is not stored or logged.")
HTTP_CONCURRENCY = 8                         # HTTP answers at once (local ones still take turns on the device)
CONCURRENCY = dict(concurrency_id="downstream", concurrency_limit=HTTP_CONCURRENCY)


def url_field_shown() -> bool:
    """Visitors may type a base URL only where the host allows custom backends."""
    return settings().allow_custom_backend


def answer_steps(name: str, states):
    """The comparison's states; a local model's advance under the scorer's lock (see the module docstring)."""
    return pipeline.model_steps(states) if name in form.LOCAL_BACKENDS else states


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
            # where visitors cannot type a URL the field stays empty: the host's backend address is not sent
            # to the page (an empty field means the host's backend)
            base_url = gr.Textbox(settings().backend_url if url_field_shown() else "", label="Server base URL",
                                  visible=False)
            remote_model = gr.Textbox(settings().backend_model, label="Model name on the server", visible=False)
            api_key = gr.Textbox(type="password", label="API key (empty: the host's, for the host's server only)",
                                 visible=False)
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
        return (gr.Dropdown(visible=local), gr.Textbox(visible=not local and url_field_shown()),
                gr.Textbox(visible=not local), gr.Textbox(visible=not local))

    backend.change(on_backend, backend, [local_model, base_url, remote_model, api_key], api_visibility="private")

    @gpu
    @api_safe
    def on_ask(prompts, name, local, url, remote, key, max_tokens, golds, llm):
        if not prompts:
            raise gr.Error("Compress a prompt first: the answers compare the original and the compressed one.")
        chosen = form.backend_from(name, local if name in form.LOCAL_BACKENDS else remote, url, key)
        states = compare.compare_stream(prompts[0], prompts[1], chosen, form.gold_list(golds), llm, int(max_tokens))
        for c in answer_steps(name, states):
            yield c.original.answer.text, c.compressed.answer.text, views.comparison_html(c)

    ask.click(on_ask, [prompts_state, backend, local_model, base_url, remote_model, api_key, max_new, gold,
                       target_llm], [original, compressed, table], api_visibility="private", **CONCURRENCY)


@api_safe
def answers_api(original: str, compressed: str, backend: str = "local", model: str = "", base_url: str = "",
                api_key: str = "", max_new_tokens: int = 128, gold_answers: str = "",
                target_llm: str = "gpt-4o") -> dict:
    """Answer both prompts with one backend; latency, tokens, cost (at ``target_llm`` prices), correctness
    against ``gold_answers`` (one per line) and the answers' agreement."""
    chosen = form.backend_from(backend, model, base_url, api_key)
    states = compare.compare_stream(original, compressed, chosen, form.gold_list(gold_answers), target_llm,
                                    form.whole_number(max_new_tokens, "max_new_tokens"))
    c = None
    for c in answer_steps(backend, states):
        pass
    return {**asdict(c), "saved_usd": c.saved_usd}
