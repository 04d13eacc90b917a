"""Downstream LLMs that answer the original and the compressed prompt, registered by name (see ``base.py``).

``local`` runs a transformers chat model here (offline, the default); ``openai`` calls any
OpenAI-compatible HTTP server. ``addresses.py`` and ``pinned.py`` keep a server URL that a visitor typed to
the addresses the host allows.
"""

from .base import REGISTRY, Answer, Backend, Stream, Usage, get_backend, register, USAGE_BACKEND, USAGE_ESTIMATE
from .local import LocalBackend                  # importing a backend registers it
from .openai_compat import OpenAICompatBackend

__all__ = ["REGISTRY", "Answer", "Backend", "Stream", "Usage", "get_backend", "register", "LocalBackend",
           "OpenAICompatBackend", "USAGE_BACKEND", "USAGE_ESTIMATE"]
