"""The one interface every compression method implements, and the registry that lists them.

A method is a class with a ``name`` (its registry key), a ``label`` and ``summary`` for the UI's picker and
teaching panel, an ``Options`` dataclass of its own knobs, and ``run(work, options)``, which scores the
tokens of a ``selection.Work``, decides what to drop, and leaves the keep mask fitted to the budget.
The API, CLI, app and tests all read ``REGISTRY``; nothing branches on method names.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

from ..errors import InvalidRequest
from ..result import Request
from ..selection import Work


@dataclass
class NoOptions:
    """This method has no options of its own."""


class Method:
    name: ClassVar[str] = ""            # registry key, e.g. "llmlingua"
    label: ClassVar[str] = ""           # shown in pickers
    summary: ClassVar[str] = ""         # a paragraph for the "how it works" panel
    score_name: ClassVar[str] = ""      # what Token.score measures for this method
    score_scale: ClassVar[float] = 1.0  # multiply stored scores by this for display (nats -> bits)
    question_aware: ClassVar[bool] = False
    Options: ClassVar[type] = NoOptions
    offline_options: ClassVar[dict] = {}  # options that let it run with no hub access (tests, offline demos)

    def run(self, work: Work, options) -> None:
        raise NotImplementedError

    def prepare(self, request: Request, options) -> Request:
        """The request this method lays out and compresses; by default the one given. A method that reads
        markup (``structured``) returns the plain text here and keeps what it parsed for ``run``."""
        return request

    @classmethod
    def clear_cache(cls) -> None:
        """Forget any scoring passes kept for reuse (benchmarks call this to time real work)."""

    @classmethod
    def options(cls, given=None):
        """Turn None, a dict or an Options instance into this method's Options, naming any unknown field."""
        if given is None:
            return cls.Options()
        if isinstance(given, cls.Options):
            return given
        if isinstance(given, dict):
            known = {f.name for f in fields(cls.Options)}
            unknown = sorted(set(given) - known)
            if unknown:
                raise InvalidRequest(f"Method {cls.name!r} has no option(s) {', '.join(unknown)}; "
                                     f"its options are: {', '.join(sorted(known)) or 'none'}.")
            return cls.Options(**given)
        raise InvalidRequest(f"Options for {cls.name!r} must be a dict or {cls.Options.__name__}.")


REGISTRY: dict[str, type[Method]] = {}


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: add a method to the registry under its ``name``."""
    taken = REGISTRY.get(cls.name)
    if not cls.name or (taken is not None and taken.__qualname__ != cls.__qualname__):
        raise ValueError(f"method name {cls.name!r} is empty or taken")
    REGISTRY[cls.name] = cls
    return cls


def clear_caches() -> None:
    """Clear every registered method's reuse cache."""
    for cls in REGISTRY.values():
        cls.clear_cache()


def get_method(name: str) -> Method:
    """An instance of the registered method ``name``, or an error listing the known names."""
    try:
        return REGISTRY[name]()
    except KeyError:
        raise InvalidRequest(f"Unknown method {name!r}; choose one of: {', '.join(REGISTRY)}.") from None
