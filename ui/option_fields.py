"""A method's ``Options`` dataclass described as form fields, and form values turned back into options.

The app draws one widget per field (a checkbox for a bool, a number box for an int or float, a drop-down for a
field with declared choices or a ``Literal``, a text box for a string or a list) without knowing any method:
everything comes from the dataclass, including each field's help text and allowed values, declared with
``methods.base.option``::

    @dataclass
    class Options:
        iterative_size: int = option(200, "tokens per window")   -> OptionField("iterative_size", "int", 200,
                                                                                  "tokens per window")

Lists are typed as JSON (``["\\n", "?"]``) or as comma-separated items (``0, 2``); nothing is ever eval'd.
Its sibling ``form.py`` turns the rest of the form into a ``Request``.
"""

from __future__ import annotations

import json
import typing
from dataclasses import MISSING, dataclass, fields
from typing import Any

from lingua_core.errors import InvalidRequest


@dataclass(frozen=True)
class OptionField:
    name: str                       # the Options field name
    kind: str                       # "bool", "int", "float", "choice", "text" or "list"
    default: Any                    # the field's default value
    help: str = ""                  # the help declared on the field (``option(..., help)``)
    choices: tuple = ()             # allowed values, for kind "choice"
    item: type = str                # element type, for kind "list"
    optional: bool = False          # None (an empty box) is allowed


def _default(f) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


def _describe(name: str, hint: Any, default: Any, help_text: str, choices: tuple | None = None) -> OptionField:
    if choices:
        return OptionField(name, "choice", default, help_text, choices=tuple(choices))
    args = typing.get_args(hint)
    if type(None) in args and len(args) == 2:            # Optional[X] / X | None
        inner = next(a for a in args if a is not type(None))
        found = _describe(name, inner, default, help_text)
        return OptionField(found.name, found.kind, default, help_text, found.choices, found.item, optional=True)
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return OptionField(name, "choice", default, help_text, choices=tuple(args))
    if isinstance(default, bool) or hint is bool:
        return OptionField(name, "bool", default, help_text)
    if isinstance(default, int) or hint is int:
        return OptionField(name, "int", default, help_text)
    if isinstance(default, float) or hint is float:
        return OptionField(name, "float", default, help_text)
    if isinstance(default, (tuple, list)) or origin in (tuple, list):
        item = next((a for a in args if isinstance(a, type)), None)
        if item is None:
            item = type(default[0]) if default else str
        return OptionField(name, "list", default, help_text, item=item)
    return OptionField(name, "text", default, help_text)


def describe(options_cls: type) -> list[OptionField]:
    """One ``OptionField`` per field of an Options dataclass, in declaration order."""
    try:
        hints = typing.get_type_hints(options_cls)
    except (NameError, TypeError):
        hints = {}
    return [_describe(f.name, hints.get(f.name), _default(f), f.metadata.get("help", ""), f.metadata.get("choices"))
            for f in fields(options_cls)]


def show(field: OptionField, value: Any) -> Any:
    """A value as its widget shows it (lists as JSON text, None as "").

    >>> show(OptionField("force", "list", ()), ("\\n", "?"))
    '["\\\\n", "?"]'
    """
    if field.kind == "list":
        return json.dumps(list(value or ()), ensure_ascii=False)
    if value is None:
        return "" if field.kind in ("text", "list") else None
    return value


def parse_list(text: str, item: type = str) -> tuple:
    """A list typed in a text box: JSON, or comma-separated items.

    >>> parse_list('["\\\\n", "?"]'), parse_list("0, 2", int), parse_list("")
    (('\\n', '?'), (0, 2), ())
    """
    text = (text or "").strip()
    if not text:
        return ()
    if text.startswith("["):
        try:
            values = json.loads(text)
        except ValueError as exc:
            raise InvalidRequest(f"{text!r} is not a JSON list ({exc.msg}); write e.g. [\"\\n\", \"?\"].") from None
        if not isinstance(values, list):
            raise InvalidRequest(f"{text!r} must be a list.")
    else:
        values = [v.strip() for v in text.split(",") if v.strip()]
    try:
        return tuple(item(v) for v in values)
    except (TypeError, ValueError):
        raise InvalidRequest(f"Every item of {text!r} must be a {item.__name__}.") from None


def parse(field: OptionField, value: Any) -> Any:
    """A widget's value as the Options field wants it, or an ``InvalidRequest`` naming the field."""
    if field.optional and (value is None or value == ""):
        return None
    try:
        if field.kind == "list":
            return parse_list(value, field.item) if isinstance(value, str) else tuple(field.item(v) for v in value)
        if field.kind == "bool":
            return bool(value)
        if field.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if field.kind == "float":
            return float(value)
        if field.kind == "choice" and value not in field.choices:
            raise ValueError
    except (TypeError, ValueError):
        want = {"int": "a whole number", "float": "a number", "choice": f"one of {list(field.choices)}",
                "list": f"a list of {field.item.__name__}"}.get(field.kind, field.kind)
        raise InvalidRequest(f"Option {field.name}={value!r} must be {want}.") from None
    return value


def options_from(options_cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Form values (by field name) as the keyword arguments of ``options_cls``; unknown names are refused."""
    known = {f.name: f for f in describe(options_cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InvalidRequest(f"Unknown option(s) {', '.join(unknown)}; the options are: "
                             f"{', '.join(known) or 'none'}.")
    return {name: parse(known[name], value) for name, value in values.items()}
