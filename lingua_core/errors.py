"""Exceptions whose messages are safe to show a user: each says what went wrong and what to do.

The app turns any ``LinguaError`` into a ``gr.Error``; anything else is a bug.
"""


class LinguaError(Exception):
    """Base class: the message is meant for the person using the tool."""


class ModelLoadError(LinguaError):
    """A scorer or target model could not be loaded (names the model, the reason and the fix)."""


class InvalidRequest(LinguaError):
    """Bad options or input: an unknown method, a rate outside (0, 1], a prompt too long..."""


class UnsupportedOption(InvalidRequest):
    """An ``llmlingua`` parameter this project has not implemented (raised, never silently ignored)."""


class BackendError(LinguaError):
    """A downstream LLM failed: unreachable, wrong key, wrong model name, timeout."""


class AddressRefused(InvalidRequest):
    """A backend URL someone typed leads where this host sends no requests (loopback, private, link-local,
    another server by redirect); the message names the address, its kind and the host's setting."""
