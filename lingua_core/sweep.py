"""Ratio sweeps: compress one prompt at many ratios with several methods, and measure each point.

Every point is a real ``compress`` call at that budget, so loading a point into the side-by-side view shows
exactly what ``compress`` returns for it. Work is shared only where that cannot change a result: the methods'
own reuse caches (e.g. LLMLingua's scoring pass, see ``methods/llmlingua.py``) and the *unconditional*
self-information of the original, computed once per prompt and scorer here and used for every point's
quality proxy. Plot-free: ``sweep_table`` gives rows a plot (the app's ``ui/viz.py``) or a table can take; the
UI formats.

Per point: the achieved ratio, the seconds ``compress`` took, ``info_kept`` (share of the original's
self-information that the kept text carries), the dollars saved per request on the priced LLM, and, with an
``answer`` hook, the answer to the compressed prompt, its agreement with the uncompressed prompt's answer
and its correctness against gold answers (``answers.py`` rules). Its sibling ``batch.py`` runs one setting
over many prompts instead of many settings over one prompt.

    points = sweep(Request(context=demos, question=q), ratios=geometric_ratios(1.5, 20, 10),
                   methods=["llmlingua", "selective_context"], lm=load_model("bundled"))
    rows = sweep_table(points)              # [{"point": 0, "method": "llmlingua", "ratio": 1.52, ...}, ...]
    points[rows[3]["point"]].result         # the Result to show
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from . import answers, pricing, scoring
from .compress import compress, validate
from .errors import BackendError, InvalidRequest
from .loading import LoadedModel, load_model
from .methods import REGISTRY, get_method
from .result import Request, Result

Answerer = Callable[[str], str]          # a downstream LLM: prompt -> answer text
Progress = Callable[[int, int], None]    # called with (points done, points in all)


@dataclass
class SweepPoint:
    method: str                        # registry name
    requested_ratio: float             # the ratio asked for (original / compressed)
    ratio: float                       # the ratio achieved (Result.ratio)
    origin_tokens: int                 # original prompt, target-LLM tokens
    compressed_tokens: int             # compressed prompt, target-LLM tokens
    seconds: float                     # wall time of this compress() call (Result.seconds)
    info_kept: float                   # share (0..1) of the original's self-information in the kept text
    saving: float                      # dollars saved per request (input tokens) on the priced LLM
    target_met: bool                   # the budget was met (Result.target_met)
    request: Request                   # the exact request compressed (reproduce or export with it)
    result: Result                     # what compress() returned (load it into the side-by-side view)
    answer: str | None = None          # the downstream LLM's answer to the compressed prompt
    reference_answer: str | None = None  # its answer to the uncompressed prompt
    agreement: float | None = None     # SQuAD token F1 between answer and reference_answer (0..1)
    correct: bool | None = None        # answer judged right against the gold answers (answers.is_correct)


def geometric_ratios(low: float = 1.5, high: float = 20.0, n: int = 10) -> list[float]:
    """``n`` ratios from ``low`` to ``high``, evenly spaced on a log scale.

    >>> [round(r, 2) for r in geometric_ratios(2, 16, 4)]
    [2.0, 4.0, 8.0, 16.0]
    """
    if n < 1 or not 1 <= low <= high:
        raise InvalidRequest(f"Ratios need 1 <= low <= high and n >= 1; got low={low}, high={high}, n={n}.")
    if n == 1:
        return [float(low)]
    return [float(low * (high / low) ** (i / (n - 1))) for i in range(n)]


def char_information(length: int, spans: Sequence[tuple[int, int]], nll: np.ndarray) -> np.ndarray:
    """Spread each token's self-information evenly over the characters of its span.

    >>> char_information(5, [(0, 2), (2, 5)], np.array([2.0, 3.0])).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    density = np.zeros(length + 1)
    for (s, e), v in zip(spans, np.nan_to_num(np.asarray(nll, dtype=float), nan=0.0)):
        if e > s:
            density[s] += v / (e - s)
            density[e] -= v / (e - s)
    return np.cumsum(density)[:length]


def covered(length: int, spans: Iterable[tuple[int, int]]) -> np.ndarray:
    """Characters inside at least one span.

    >>> covered(6, [(0, 2), (1, 3), (5, 6)]).tolist()
    [True, True, True, False, False, True]
    """
    depth = np.zeros(length + 1, dtype=np.int64)
    for s, e in spans:
        if e > s:
            depth[s] += 1
            depth[e] -= 1
    return np.cumsum(depth)[:length] > 0


def info_kept(result: Result, info: np.ndarray) -> float:
    """Share of the self-information of ``result.original``'s tokens that its kept tokens cover.

    ``info`` is per character of the original (``char_information``). Characters no token covers (the
    separators between pieces) count on neither side. Works for any method's tokenization.
    """
    n = len(result.original)
    total = float(info[covered(n, ((t.start, t.end) for t in result.tokens))].sum())
    kept = float(info[covered(n, ((t.start, t.end) for t in result.tokens if t.kept))].sum())
    return kept / total if total > 0 else 1.0


_INFO = scoring.Cache(8)     # (model id, original text) -> per-character information (nats)


def original_information(lm: LoadedModel, original: str) -> np.ndarray:
    """Per-character self-information (nats) of ``original`` under ``lm``, spread from the cached
    ``scoring.unconditional`` pass (the app's heatmap reads the same one) and kept per prompt."""
    def compute() -> np.ndarray:
        toks, nll = scoring.unconditional(lm, original)
        return char_information(len(original), toks.spans, nll)
    return _INFO.get_or_compute((id(lm.model), original), compute)


def clear_cache() -> None:
    """Forget cached passes (as ``methods.clear_caches`` does; kept for the benchmarks that call both)."""
    scoring.clear_caches()


def method_options(request: Request, methods) -> dict[str, object]:
    """Methods to sweep as {name: options}: ``methods`` may be names, a {name: options} mapping, or None (the
    request's own method). The request's options go to its own method; other names get their defaults.

    >>> method_options(Request(context=[], method="llmlingua", options={"iterative_size": 100}), None)
    {'llmlingua': {'iterative_size': 100}}
    """
    if methods is None:
        methods = [request.method]
    if isinstance(methods, str):
        methods = [methods]
    chosen = dict(methods) if isinstance(methods, Mapping) else {
        m: (request.options if m == request.method else None) for m in methods}
    if not chosen:
        raise InvalidRequest("Pick at least one method to sweep.")
    for name, opts in chosen.items():
        get_method(name).options(opts)            # unknown names and options fail here, before any work
    return chosen


def point_request(request: Request, method: str, options, ratio: float) -> Request:
    """The request for one point: ``request`` at ``ratio`` (as a rate) with ``method`` and its options."""
    if not isinstance(ratio, (int, float)) or math.isnan(ratio) or ratio < 1:
        raise InvalidRequest(f"A ratio is original / compressed tokens and must be at least 1; got {ratio!r}.")
    return replace(request, context=list(request.context), rate=1.0 / ratio, target_token=-1, method=method,
                   options=options)


def judge(answer: str, reference: str | None, gold: Sequence[str]) -> tuple[float | None, bool | None]:
    """(F1 agreement with the reference answer, correctness against gold); None where there is nothing to
    compare with.

    >>> judge("The answer is 18", "So the answer is 18", ["18"])
    (0.8571428571428571, True)
    """
    agreement = answers.f1(answer, reference) if reference is not None else None
    correct = answers.is_correct(answer, gold) if gold else None
    return agreement, correct


def sweep(request: Request, ratios: Sequence[float], methods=None, lm: LoadedModel | None = None, *,
          price_model: str | None = None, answer: Answerer | None = None, gold: Sequence[str] = (),
          progress: Progress | None = None) -> list[SweepPoint]:
    """Compress ``request`` at every ratio with every method; one ``SweepPoint`` per (method, ratio).

    ``methods``: names, {name: options}, or None for the request's method. ``price_model`` prices the saving
    (default: the request's target model). ``answer`` is an optional downstream LLM; with it every point
    (and the uncompressed prompt, once) is answered, and ``gold`` answers make ``correct`` available.
    Points come method by method, each in the order of ``ratios``.
    """
    validate(request)
    chosen = method_options(request, methods)
    if not ratios:
        raise InvalidRequest("Give at least one ratio to sweep, e.g. geometric_ratios(1.5, 20, 10).")
    plan = [(r, point_request(request, m, o, r)) for m, o in chosen.items() for r in ratios]
    price_model = price_model or request.target_model
    pricing.price_of(price_model)                 # an unpriced model fails before any model work
    lm = lm or load_model()
    gold = [g for g in gold if g and g.strip()]
    points: list[SweepPoint] = []
    info = reference = None
    for done, (ratio, req) in enumerate(plan):
        result = compress(req, lm)
        if info is None:                          # same original for every point
            info = original_information(lm, result.original)
            reference = answer(result.original) if answer else None
        point = SweepPoint(req.method, float(ratio), result.ratio, result.origin_tokens, result.compressed_tokens,
                           result.seconds, info_kept(result, info),
                           pricing.cost(result.origin_tokens - result.compressed_tokens, 0, price_model),
                           result.target_met, req, result)
        if answer:
            point.answer, point.reference_answer = answer(result.compressed), reference
            point.agreement, point.correct = judge(point.answer, reference, gold)
        points.append(point)
        if progress:
            progress(done + 1, len(plan))
    return points


TABLE_FIELDS = ("point", "method", "method_label", "requested_ratio", "ratio", "origin_tokens", "compressed_tokens",
                "seconds", "info_kept", "saving", "target_met", "answer", "agreement", "correct")


def sweep_table(points: Sequence[SweepPoint]) -> list[dict]:
    """One plain dict per point (keys ``TABLE_FIELDS``; ``point`` indexes ``points``), for a plot or a table.

    Numbers stay numbers (ratios, shares 0..1, dollars); the UI formats them.
    """
    rows = []
    for i, p in enumerate(points):
        cls = REGISTRY.get(p.method)
        own = {"point": i, "method_label": cls.label if cls else p.method}      # the rest are SweepPoint fields
        rows.append({name: own[name] if name in own else getattr(p, name) for name in TABLE_FIELDS})
    return rows


def backend_answerer(backend, max_new_tokens: int = 256, count_model: str | None = None) -> Answerer:
    """Adapt a ``backends`` backend to the ``answer`` hook; a failed answer raises its ``BackendError``."""
    def ask(prompt: str) -> str:
        reply = backend.answer(prompt, max_new_tokens, count_model)
        if reply.error:
            raise BackendError(reply.error)
        return reply.text
    return ask
