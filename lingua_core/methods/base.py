"""The one interface every compression method implements, and the registry that lists them.

A method is a class with a ``name`` (its registry key), a ``label`` and ``summary`` for the UI's picker and
teaching panel, an ``Options`` dataclass of its own knobs (each field declared with ``option``: default,
help, allowed values), and ``run(work, options)``, which reads a ``selection.Work`` (the prompt laid out in
scorer tokens, the budget), scores the tokens and returns a ``selection.Decision``: the keep mask fitted to
the budget and the scores. ``compress`` turns that decision into the ``Result``. A method keeps nothing on
its instance: one instance may serve many calls.

The API, CLI, app and tests all read ``REGISTRY``; nothing branches on method names.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from .. import scoring
from ..errors import InvalidRequest
from ..result import Request
from ..selection import Decision, Work


def option(default: Any, help: str, choices: tuple | None = None, low: float | None = None,
           high: float | None = None, above: float | None = None):
    """A field of a method's ``Options``: its default, a help line for the app, and what values are allowed
    (``choices``, or a range: ``low <= value <= high``, ``value > above``). ``Method.options`` refuses others.

    >>> @dataclass
    ... class O:
    ...     size: int = option(200, "tokens per window", low=16)
    >>> fields(O)[0].metadata["help"], fields(O)[0].metadata["low"]
    ('tokens per window', 16)
    """
    meta = {"help": help, "choices": tuple(choices) if choices is not None else None, "low": low, "high": high,
            "above": above}
    return field(default=default, metadata=meta)


def check_option(name: str, value: Any, meta) -> None:
    """Refuse a value outside its field's declared choices or range, saying what to write instead.

    >>> check_option("rate", 0.5, {"low": 0, "high": 1})
    >>> check_option("rate", 2, {"low": 0, "high": 1})
    Traceback (most recent call last):
    ...
    lingua_core.errors.InvalidRequest: Option rate=2 is out of range: use a number from 0 to 1.
    """
    choices, low, high, above = (meta.get(k) for k in ("choices", "low", "high", "above"))
    if choices is not None and value not in choices:
        raise InvalidRequest(f"Option {name}={value!r} is not allowed: use one of {', '.join(map(repr, choices))}.")
    if low is None and high is None and above is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InvalidRequest(f"Option {name}={value!r} must be a number.")
    if (low is not None and value < low) or (high is not None and value > high) or (above is not None
                                                                                  and value <= above):
        if low is not None and high is not None:
            want = f"a number from {low:g} to {high:g}"
        elif above is not None:
            want = f"a number above {above:g}" + (f" and at most {high:g}" if high is not None else "")
        else:
            want = f"a number of at least {low:g}" if low is not None else f"a number of at most {high:g}"
        raise InvalidRequest(f"Option {name}={value!r} is out of range: use {want}.")


@dataclass
class NoOptions:
    """This method has no options of its own."""


class Method(ABC):
    name: ClassVar[str] = ""            # registry key, e.g. "llmlingua"
    label: ClassVar[str] = ""           # shown in pickers
    summary: ClassVar[str] = ""         # a paragraph for the "how it works" panel
    score_name: ClassVar[str] = ""      # what Token.score measures (a Decision may say otherwise for its run)
    score_scale: ClassVar[float] = 1.0  # multiply stored scores by this for display (nats -> bits)
    question_aware: ClassVar[bool] = False
    Options: ClassVar[type] = NoOptions
    offline_options: ClassVar[dict] = {}  # options that let it run with no hub access (tests, offline demos)
    caches: ClassVar[tuple[scoring.Cache, ...]] = ()   # its reuse caches (``clear_caches`` empties them)

    @abstractmethod
    def run(self, work: Work, options) -> Decision:
        """Score ``work``'s tokens and decide what to keep; ``work`` is read, never changed."""

    def prepare(self, request: Request, options) -> tuple[Request, Any]:
        """The request this method lays out and compresses, and anything it parsed for ``run`` (``work.parsed``);
        by default the request given and None. ``structured`` returns the plain text and the parsed segments."""
        return request, None

    @classmethod
    def check(cls, options) -> None:
        """Rules across several options (the fields' own choices and ranges are checked before this)."""

    @classmethod
    def clear_cache(cls) -> None:
        """Forget this method's kept scoring passes (benchmarks call ``clear_caches`` to time real work)."""
        for cache in cls.caches:
            cache.clear()

    @classmethod
    def options(cls, given=None):
        """Turn None, a dict or an Options instance into this method's Options, checked before any model work:
        an unknown field, a value outside its choices or range, is refused with what to write instead."""
        if given is None:
            opt = cls.Options()
        elif isinstance(given, cls.Options):
            opt = given
        elif isinstance(given, dict):
            known = {f.name for f in fields(cls.Options)}
            unknown = sorted(set(given) - known)
            if unknown:
                raise InvalidRequest(f"Method {cls.name!r} has no option(s) {', '.join(unknown)}; "
                                     f"its options are: {', '.join(sorted(known)) or 'none'}.")
            opt = cls.Options(**given)
        else:
            raise InvalidRequest(f"Options for {cls.name!r} must be a dict or {cls.Options.__name__}.")
        for f in fields(opt):
            check_option(f.name, getattr(opt, f.name), f.metadata)
        cls.check(opt)
        return opt


REGISTRY: dict[str, type[Method]] = {}


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: add a method to the registry under its ``name``."""
    taken = REGISTRY.get(cls.name)
    if not cls.name or (taken is not None and taken.__qualname__ != cls.__qualname__):
        raise ValueError(f"method name {cls.name!r} is empty or taken")
    REGISTRY[cls.name] = cls
    return cls


def clear_caches() -> None:
    """Clear every reuse cache: each method's and the shared whole-text pass (all are ``scoring.Cache``)."""
    scoring.clear_caches()


def get_method(name: str) -> Method:
    """An instance of the registered method ``name``, or an error listing the known names."""
    try:
        return REGISTRY[name]()
    except KeyError:
        raise InvalidRequest(f"Unknown method {name!r}; choose one of: {', '.join(REGISTRY)}.") from None
