"""Batch compression: many prompts, one setting. Read rows from JSONL/CSV, compress each, write JSONL/CSV.

``compress_row`` is a plain function from one row (a dict) to one output row, so any engine that maps a
function over rows can run it; ``compress_rows`` is the in-process loop (with progress) the app and the CLI
(``python -m lingua_core batch IN OUT``) use. For a corpus too large for one machine, hand the same function
to an existing engine instead of a job system of our own: Ray Data (``integrations/ray_data.py``, ``--engine ray`` on the
CLI, for many CPUs or a cluster), or Hugging Face ``datasets`` (tested in ``tests/test_engines.py``)::

    from datasets import load_dataset
    from lingua_core.batch import BatchSettings, compress_row
    ds = load_dataset("json", data_files="prompts.jsonl", split="train")
    out = ds.map(compress_row, fn_kwargs={"settings": BatchSettings(rate=0.25)})
    out.to_json("compressed.jsonl")

(``lm=None`` means the configured scorer, loaded once and cached in the process). Its sibling ``sweep.py``
runs many settings over one prompt instead.

Input columns: ``prompt`` (required), optional ``instruction``, ``question`` and ``answers`` (gold answers:
a list in JSONL; in CSV a JSON list such as ``["Paris", "Paris, France"]`` or a single answer). Other
columns pass through unchanged. Output adds ``OUT_FIELDS`` (numbers stay numbers; ``error`` says why a row
could not be compressed -- its numbers are then empty -- or answered), plus ``LLM_FIELDS`` when an ``answer`` hook is set.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from . import answers, pricing
from .compress import compress
from .errors import InvalidRequest, LinguaError
from .loading import LoadedModel, load_model
from .methods import get_method
from .result import Request
from .selection import layout

OUT_FIELDS = ("compressed_prompt", "origin_tokens", "compressed_tokens", "ratio", "rate", "origin_cost",
              "compressed_cost", "saving", "seconds", "target_met", "message", "method", "error")
LLM_FIELDS = ("llm_answer", "llm_correct", "llm_answer_original", "llm_agreement")
FORMATS = (".jsonl", ".csv")


@dataclass
class BatchSettings:
    method: str = "llmlingua"          # registry name (methods.REGISTRY)
    rate: float = 0.5                  # kept fraction; ignored when target_token > 0
    target_token: int = -1             # budget per prompt in target-LLM tokens; -1: use rate
    target_model: str = "gpt-4"        # whose tokenizer counts the budget
    options: dict | None = None        # the method's options as a dict (None: its defaults)
    context_sep: str = "\n\n"          # joins contexts; with ``split`` each prompt is cut into contexts here
    split: bool = True                 # False: each prompt is one context
    price_model: str | None = None     # whose prices the costs use (None: target_model)
    answer_original: bool = False      # with an answer hook, also answer the uncompressed prompt (2x the calls)


def parse_answers(value) -> list[str]:
    """Gold answers from a cell: a list, a JSON list in a string, one answer, or nothing.

    >>> parse_answers('["Paris", "Paris, France"]'), parse_answers("1889"), parse_answers(None), parse_answers([7])
    (['Paris', 'Paris, France'], ['1889'], [], ['7'])
    """
    if value is None or value == "":
        return []
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None and str(v).strip()]
    return [str(value)]


def _check_row(row: Mapping, where: str) -> Mapping:
    if not isinstance(row, Mapping) or not isinstance(row.get("prompt"), str):
        raise InvalidRequest(f"{where}: every row needs a text column 'prompt' "
                             "(optional: instruction, question, answers).")
    return row


def check_format(path: str | Path) -> Path:
    """``path`` as a Path when it ends in a batch format, else an error saying which endings work."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise InvalidRequest(f"{path.name}: batch files must end in {' or '.join(FORMATS)}.")
    return path


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a ``.jsonl`` (one JSON object a line) or ``.csv`` (header row) file, ``answers`` as lists."""
    path = check_format(path)
    with open(path, encoding="utf-8", newline="") as f:
        if path.suffix.lower() == ".csv":
            raw = [(f"{path.name} row {i}", dict(r)) for i, r in enumerate(csv.DictReader(f), start=2)]
        else:
            raw = [(f"{path.name} line {i}", _json_line(line, path.name, i))
                   for i, line in enumerate(f, start=1) if line.strip()]
    rows = []
    for where, row in raw:
        _check_row(row, where)
        if "answers" in row:
            row["answers"] = parse_answers(row["answers"])
        rows.append(row)
    if not rows:
        raise InvalidRequest(f"{path.name} has no rows.")
    return rows


def _json_line(line: str, name: str, i: int) -> dict:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise InvalidRequest(f"{name} line {i} is not valid JSON ({exc.msg}).") from None


def row_request(row: dict, settings: BatchSettings) -> Request:
    """The compression request for one row."""
    prompt = row["prompt"]
    context = prompt.split(settings.context_sep) if settings.split and settings.context_sep else [prompt]
    return Request(context=context, instruction=row.get("instruction") or "", question=row.get("question") or "",
                   rate=settings.rate, target_token=settings.target_token, target_model=settings.target_model,
                   context_sep=settings.context_sep, method=settings.method, options=settings.options)


def _answer_fields(row: dict, compressed: str, settings: BatchSettings, answer: Callable[[str], str]) -> dict:
    out = dict.fromkeys(LLM_FIELDS)
    golds = parse_answers(row.get("answers"))
    out["llm_answer"] = answer(compressed)
    out["llm_correct"] = answers.is_correct(out["llm_answer"], golds) if golds else None
    if settings.answer_original:
        out["llm_answer_original"] = answer(layout(row_request(row, settings))[0])
        out["llm_agreement"] = answers.f1(out["llm_answer"], out["llm_answer_original"])
    return out


def compress_row(row: dict, settings: BatchSettings | None = None, lm: LoadedModel | None = None,
                 answer: Callable[[str], str] | None = None) -> dict:
    """Compress one row (any mapping); returns the row as a dict with ``OUT_FIELDS`` (and ``LLM_FIELDS`` with
    ``answer``) added.

    A row the library refuses (too long, a bad option) gets its reason in ``error`` instead of raising, so
    one bad row does not stop a batch; every output row has the same keys.
    """
    settings = settings or BatchSettings()
    row = dict(row) if isinstance(row, Mapping) else row       # datasets.map passes a lazy mapping, not a dict
    out = dict(row, **dict.fromkeys(OUT_FIELDS), **(dict.fromkeys(LLM_FIELDS) if answer else {}))
    try:
        _check_row(row, "row")
        r = compress(row_request(row, settings), lm or load_model())
        price_model = settings.price_model or settings.target_model
        plain = r.as_dict()                      # the Result's own keys: compressed_prompt, ratio, seconds, ...
        out.update({name: plain[name] for name in OUT_FIELDS if name in plain})
        out.update(origin_cost=pricing.cost(r.origin_tokens, 0, price_model),
                   compressed_cost=pricing.cost(r.compressed_tokens, 0, price_model))
        out["saving"] = out["origin_cost"] - out["compressed_cost"]
        if answer:
            out.update(_answer_fields(row, r.compressed, settings, answer))
    except LinguaError as exc:
        out["error"] = str(exc)
    return out


def check_settings(settings: BatchSettings) -> None:
    """Refuse settings that cannot work (unknown method or option, unpriced model) before the first row."""
    get_method(settings.method).options(settings.options)
    pricing.price_of(settings.price_model or settings.target_model)


def compress_rows(rows: Iterable[dict], settings: BatchSettings | None = None, lm: LoadedModel | None = None,
                  answer: Callable[[str], str] | None = None,
                  progress: Callable[[int, int | None], None] | None = None) -> Iterator[dict]:
    """``compress_row`` over ``rows``, yielding each output as it is done; ``progress(done, total)`` after each
    (total is None when ``rows`` has no length). Settings that cannot work fail before the first row."""
    settings = settings or BatchSettings()
    check_settings(settings)
    lm = lm or load_model()
    total = len(rows) if hasattr(rows, "__len__") else None
    for done, row in enumerate(rows, start=1):
        yield compress_row(row, settings, lm, answer)
        if progress:
            progress(done, total)


def _cell(value):
    """A CSV cell: lists and dicts as JSON, None as empty."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


def write_rows(rows: Iterable[dict], path: str | Path) -> int:
    """Write rows to ``.jsonl`` or ``.csv`` (columns: every key, in first-seen order); returns how many."""
    path = check_format(path)
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        if path.suffix.lower() == ".jsonl":
            for n, row in enumerate(rows, start=1):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
            return n
        rows = list(rows)
        columns = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in columns})
        return len(rows)
