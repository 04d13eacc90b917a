"""A holder for an API key that never shows its value: not in ``repr``, ``str``, f-strings, logs or pickles.

Only the code that builds the HTTP request calls ``reveal()``. Copies share the one holder, and pickling
is refused, so a key cannot reach a cache or a file by accident.

>>> key = Secret("sk-test-123")
>>> key, f"{key}", bool(key), bool(Secret(""))
(Secret('***'), '***', True, False)
>>> key.reveal()
'sk-test-123'
"""

from __future__ import annotations


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str | None = None):
        self._value = (value or "").strip()

    def reveal(self) -> str:
        """The real value, for the one place that sends it."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    def __str__(self) -> str:
        return "***" if self._value else ""

    def __format__(self, spec: str) -> str:
        return str(self)

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __copy__(self) -> "Secret":
        return self

    def __deepcopy__(self, memo) -> "Secret":
        return self

    def __reduce__(self):
        raise TypeError("A Secret cannot be pickled: API keys are never written to disk.")
