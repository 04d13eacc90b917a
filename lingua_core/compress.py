"""``compress(request)``: validate a request, load the scorer, run the registered method, apply its decision.

This is the one entry point the facade (``compat.py``), the CLI and the app call.
"""

from __future__ import annotations

import logging
import math
import time

from .config import settings
from .errors import InvalidRequest
from .loading import LoadedModel, load_model
from .methods import get_method
from .result import Request, Result
from .selection import Work

log = logging.getLogger("lingua_core.prompts")   # silent unless the operator sets LINGUA_LOG_PROMPTS=1


def clean_text(text: str) -> str:
    """Documented clamp: lone UTF-16 surrogates (not encodable text) become U+FFFD; pairs become their character.

    >>> clean_text("ok \\ud800 x"), clean_text("\\ud83d\\ude00")
    ('ok \ufffd x', '😀')
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def validate(request: Request) -> Request:
    """Check types and ranges, raising InvalidRequest with the fix; returns the request unchanged."""
    if isinstance(request.context, str):
        request.context = [request.context]
    if not all(isinstance(c, str) for c in request.context):
        raise InvalidRequest("context must be a string or a list of strings.")
    for name in ("instruction", "question", "context_sep"):
        if not isinstance(getattr(request, name), str):
            raise InvalidRequest(f"{name} must be a string.")
        setattr(request, name, clean_text(getattr(request, name)))
    request.context = [clean_text(c) for c in request.context]
    if not isinstance(request.concate_question, bool):
        raise InvalidRequest("concate_question must be True or False.")
    if not isinstance(request.force_strings, (list, tuple)) or not all(isinstance(s, str) for s in request.force_strings):
        raise InvalidRequest("force_strings must be a list of strings (e.g. [\"<#ref0#>\"]).")
    request.force_strings = tuple(s for s in request.force_strings if s)
    rate = request.rate
    if not isinstance(rate, (int, float)) or math.isnan(rate) or not 0 < rate <= 1:
        raise InvalidRequest(f"rate must be in (0, 1] (the kept fraction, e.g. 0.25 for 4x); got {rate!r}.")
    if not isinstance(request.target_token, (int, float)) or math.isnan(request.target_token):
        raise InvalidRequest(f"target_token must be a whole number (-1 to use rate); got {request.target_token!r}.")
    request.target_token = int(request.target_token)
    if request.target_token == 0 or request.target_token < -1:
        raise InvalidRequest("target_token must be positive, or -1 to use rate.")
    size = len(request.instruction) + len(request.question) + sum(len(c) for c in request.context)
    limit = settings().max_input_chars
    if size > limit:
        raise InvalidRequest(f"The prompt has {size:,} characters; the limit is {limit:,} "
                             "(LINGUA_MAX_INPUT_CHARS). Shorten it or raise the limit.")
    return request


def log_prompt(request: Request) -> None:
    """Write the request's text to stderr (only when the operator turned LINGUA_LOG_PROMPTS on)."""
    if not log.handlers:
        log.addHandler(logging.StreamHandler())
        log.setLevel(logging.INFO)
    log.info("compress %s rate=%s target_token=%s instruction=%r context=%r question=%r", request.method,
             request.rate, request.target_token, request.instruction, request.context, request.question)


def compress(request: Request, lm: LoadedModel | None = None) -> Result:
    """Compress ``request`` with its method on ``lm`` (default: the configured scorer)."""
    validate(request)
    if settings().log_prompts:
        log_prompt(request)
    method = get_method(request.method)
    options = method.options(request.options)          # refused here, before any model is loaded
    request, parsed = method.prepare(request, options)
    lm = lm or load_model()
    started = time.perf_counter()
    work = Work(request, lm, parsed)
    decision = method.run(work, options) if work.ids and work.context_pieces() else work.decision()
    return work.result(decision, method.name, method.score_name, time.perf_counter() - started, method.score_scale)
