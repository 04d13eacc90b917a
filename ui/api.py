"""What the app's API endpoints and event handlers share: core errors shown as messages, and one signature.

``api_safe`` wraps a handler -- a plain function or a generator that streams -- so a ``LinguaError`` (the
core's user-facing errors, see ``lingua_core.errors``) reaches the page or the API client as ``gr.Error``
with its own message, never as gradio's generic "Error". ``takes_form`` gives an endpoint the form's fields
as parameters, written once in ``form_fields``: /compress, /export and /sweep take the same ten, in the
same order, and the endpoint itself receives one ``form.Form``.
"""

from __future__ import annotations

import functools
import inspect
from typing import get_type_hints

import gradio as gr

from lingua_core.errors import LinguaError

from .form import DEFAULT_LLM, DEFAULT_METHOD, Form


def api_safe(fn):
    """``fn`` with the core's user-facing errors turned into ``gr.Error`` (generators keep streaming)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def streamed(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except LinguaError as exc:
                raise gr.Error(str(exc)) from exc
        return streamed

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LinguaError as exc:
            raise gr.Error(str(exc)) from exc
    return wrapped


def form_fields(instruction: str, context: str, question: str = "", method: str = DEFAULT_METHOD, scorer: str = "",
                ratio: float = 4.0, target_tokens: int = 0, context_sep: str = "\\n\\n", target_llm: str = DEFAULT_LLM,
                options: dict | None = None) -> Form:
    """The form an API call fills in. ``options`` are the method's own options by name (see /methods); an empty
    ``scorer`` is the host's default; ``target_tokens`` > 0 sets a token budget instead of the ratio.

    >>> form_fields("Do it.", "A.\\n\\nB.", ratio=2.0).ratio
    2.0
    """
    return Form(instruction=instruction, context=context, question=question, method=method, scorer=scorer,
                ratio=ratio, target_tokens=target_tokens, context_sep=context_sep, target_llm=target_llm,
                options=options)


def takes_form(endpoint):
    """``endpoint(form, *more)`` as a function taking ``form_fields``'s parameters, then its own ``more``.

    Gradio reads an endpoint's parameters and type hints to describe it to clients; the wrapper shows the
    joined signature, so clients see (and may pass by name) every field as before.

    >>> def count(f: Form, extra: int = 1) -> int:
    ...     return len(f.context) + extra
    >>> wrapped = takes_form(count)
    >>> list(inspect.signature(wrapped).parameters)[-2:], wrapped("", "abc", extra=2)
    (['options', 'extra'], 5)
    """
    head = inspect.signature(form_fields, eval_str=True).parameters
    own = inspect.signature(endpoint, eval_str=True)
    tail = list(own.parameters.values())[1:]
    signature = own.replace(parameters=[*head.values(), *tail])

    @functools.wraps(endpoint)
    def wrapped(*args, **kwargs):
        given = signature.bind(*args, **kwargs)
        given.apply_defaults()
        values = dict(given.arguments)
        form = form_fields(**{name: values.pop(name) for name in head})
        return endpoint(form, **values)

    hints = {**get_type_hints(form_fields), **get_type_hints(endpoint)}
    wrapped.__signature__ = signature
    wrapped.__annotations__ = {name: hints[name] for name in [*signature.parameters, "return"] if name in hints}
    return wrapped
