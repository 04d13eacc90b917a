"""Compression methods, one file each, all registered by name in ``REGISTRY`` (see ``base.py``)."""

from .base import REGISTRY, Method, clear_caches, get_method, register
from . import llmlingua  # noqa: F401  (registers itself)
from . import llmlingua2  # noqa: F401
from . import selective_context  # noqa: F401
from . import longllmlingua  # noqa: F401
from . import structured  # noqa: F401
from . import baselines  # noqa: F401
from . import minilingua  # noqa: F401

__all__ = ["REGISTRY", "Method", "clear_caches", "get_method", "register"]
