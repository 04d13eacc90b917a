"""The one interface every downstream LLM ("backend") implements, the registry of them, and the ``Answer``.

A backend turns a prompt into a stream of text pieces. ``Backend.stream`` wraps the backend's own
``_deltas`` generator in a ``Stream``, which times it, collects the text, catches the backend's failures
(``LinguaError``) into ``Answer.error`` instead of raising them, and fills in token counts: the backend's
own usage when it reports one, else the target LLM tokenizer's count, labelled as an estimate.
``local.py`` runs a transformers model in this process; ``openai_compat.py`` calls an HTTP server.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from time import perf_counter
from typing import ClassVar

from ..config import settings
from ..errors import InvalidRequest, LinguaError
from ..tokens import count_tokens

USAGE_BACKEND = "backend"                      # counts the backend reported
USAGE_ESTIMATE = "target tokenizer estimate"   # counted here with the target LLM's tokenizer
MAX_NEW_TOKENS_LIMIT = 8192                    # refuse larger requests early with a clear message


@dataclass
class Answer:
    """One backend answer, complete (``done``) or as far as it has streamed."""
    text: str = ""                 # the answer text (so far, while streaming)
    latency_s: float = 0.0         # seconds from sending the prompt to the last piece of text
    prompt_tokens: int = 0         # input tokens (0 while streaming)
    output_tokens: int = 0         # generated tokens (0 while streaming)
    usage_source: str = ""         # USAGE_BACKEND or USAGE_ESTIMATE once done; "" while streaming
    error: str | None = None       # why the backend failed, safe to show; None when it answered
    done: bool = False             # False while text is still arriving

    @property
    def ok(self) -> bool:
        """Finished without a failure."""
        return self.done and self.error is None


@dataclass
class Usage:
    """Token counts a backend reports about one request; None where it reports nothing."""
    prompt_tokens: int | None = None
    output_tokens: int | None = None


class Stream:
    """One answer being generated. Iterate it (once) for text pieces; then ``answer`` is the final ``Answer``.

    ``snapshot()`` gives the ``Answer`` so far from any thread. A backend failure ends the iteration and
    lands in ``answer.error``; it is not raised. Stopping early closes the backend's generator and records
    the stop as the error.
    """

    def __init__(self, deltas: Callable[[Usage], Iterator[str]], prompt: str, count_model: str,
                 prepare: Callable[[], None] = lambda: None):
        self._deltas = deltas
        self._prepare = prepare
        self._prompt = prompt
        self._count_model = count_model
        self._parts: list[str] = []
        self._start: float | None = None
        self._last = 0.0
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        if self._start is not None:
            raise RuntimeError("A Stream can be read only once.")
        self._start = self._last = perf_counter()
        usage, error = Usage(), "stopped before the answer was finished"
        inner = self._deltas(usage)
        try:
            self._prepare()  # e.g. load the model: not part of the answer's latency
            self._start = self._last = perf_counter()
            for delta in inner:
                if delta:
                    self._parts.append(delta)
                    self._last = perf_counter()
                    yield delta
            error = None
        except LinguaError as exc:
            error = str(exc)
        finally:
            inner.close()
            self.answer = self._finish(usage, error)

    def snapshot(self) -> Answer:
        """The answer as it stands (the final one once finished)."""
        if self.answer is not None:
            return self.answer
        elapsed = (perf_counter() - self._start) if self._start is not None else 0.0
        return Answer(text="".join(self._parts), latency_s=elapsed)

    def _finish(self, usage: Usage, error: str | None) -> Answer:
        text = "".join(self._parts)
        if usage.prompt_tokens is not None and usage.output_tokens is not None:
            counts, source = (usage.prompt_tokens, usage.output_tokens), USAGE_BACKEND
        else:
            counts = (count_tokens(self._prompt, self._count_model), count_tokens(text, self._count_model))
            source = USAGE_ESTIMATE
        end = perf_counter() if error else self._last
        return Answer(text, end - self._start, counts[0], counts[1], source, error, done=True)


class Backend(ABC):
    """A downstream LLM. Subclasses are dataclasses of their settings and implement ``_deltas``."""
    name: ClassVar[str] = ""            # registry key, e.g. "local"
    label: ClassVar[str] = ""           # shown in pickers
    concurrent: ClassVar[bool] = False  # True: a comparison may send both prompts at once

    def stream(self, prompt: str, max_new_tokens: int = 256, count_model: str | None = None) -> Stream:
        """Start answering ``prompt``; ``count_model`` is the tokenizer for estimated counts (default target)."""
        if not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
            raise InvalidRequest(f"max_new_tokens must be a whole number from 1 to {MAX_NEW_TOKENS_LIMIT}, "
                                 f"not {max_new_tokens!r}.")
        if not prompt or not prompt.strip():
            raise InvalidRequest("The prompt is empty: there is nothing to send to the backend.")
        count_model = count_model or settings().target_model
        return Stream(lambda usage: self._deltas(prompt, max_new_tokens, usage), prompt, count_model, self.prepare)

    def answer(self, prompt: str, max_new_tokens: int = 256, count_model: str | None = None) -> Answer:
        """The whole answer at once (failures in ``Answer.error``)."""
        stream = self.stream(prompt, max_new_tokens, count_model)
        for _ in stream:
            pass
        return stream.answer

    def describe(self) -> str:
        """Who answers, in a few words, without secrets (e.g. "local model bundled")."""
        return self.label or self.name

    def prepare(self) -> None:
        """One-off set-up before answering (loading a model); not counted in the latency."""

    @abstractmethod
    def _deltas(self, prompt: str, max_new_tokens: int, usage: Usage) -> Iterator[str]:
        """Yield the answer's text piece by piece; fill ``usage`` if the backend reports counts;
        raise ``BackendError`` (or another ``LinguaError``) with a message that says what to do."""


REGISTRY: dict[str, type[Backend]] = {}


def register(cls: type[Backend]) -> type[Backend]:
    """Class decorator: add a backend to the registry under its ``name``."""
    taken = REGISTRY.get(cls.name)
    if not cls.name or (taken is not None and taken.__qualname__ != cls.__qualname__):
        raise ValueError(f"backend name {cls.name!r} is empty or taken")
    REGISTRY[cls.name] = cls
    return cls


def get_backend(name: str, **options) -> Backend:
    """A backend by registry name with its settings, e.g. ``get_backend("openai", model="gpt-4o-mini")``.

    >>> get_backend("local").describe()
    'local model bundled'
    >>> get_backend("gemini")
    Traceback (most recent call last):
    ...
    lingua_core.errors.InvalidRequest: Unknown backend 'gemini'; choose one of: local, openai.
    """
    cls = REGISTRY.get(name)
    if cls is None:
        raise InvalidRequest(f"Unknown backend {name!r}; choose one of: {', '.join(REGISTRY)}.")
    known = {f.name for f in fields(cls) if f.init}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InvalidRequest(f"Backend {name!r} has no setting(s) {', '.join(unknown)}; "
                             f"its settings are: {', '.join(sorted(known))}.")
    return cls(**options)
