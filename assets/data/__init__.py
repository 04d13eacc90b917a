"""The data sets the tests, benchmarks and examples read, kept in the repo beside this file (gzipped JSONL).

This is the one place that knows where they are; provenance and licences are in ``assets/README.md``.

- ``gsm8k/train.jsonl.gz`` (7,473 rows) and ``gsm8k/test_dev.jsonl.gz`` (the first 1,000 test problems):
  ``question``, ``answer`` (worked solution ending ``#### N``, calculator notes in ``<<...>>``).
- ``nq/nq-open-oracle-dev.jsonl.gz`` (2,000 rows): NaturalQuestions-open ``question``, ``answers`` and the
  gold Wikipedia passage in ``ctxs[0]`` (``title``, ``text``).

Import it with the repo root on ``sys.path`` (the tests and ``bench/`` scripts put it there):

>>> from assets import data
>>> data.gsm8k("test_dev", limit=1)[0]["answer"].split("####")[-1].strip()
'18'
>>> len(data.nq(limit=3)), sorted(data.nq(limit=1)[0])[:2]
(3, ['answers', 'ctxs'])
"""

from __future__ import annotations

import gzip
import json
import re
from itertools import islice
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).resolve().parent
GSM8K = {"train": HERE / "gsm8k" / "train.jsonl.gz", "test_dev": HERE / "gsm8k" / "test_dev.jsonl.gz"}
NQ = HERE / "nq" / "nq-open-oracle-dev.jsonl.gz"


def read_jsonl(path: Path, limit: int | None = None) -> Iterator[dict]:
    """The rows of a gzipped JSONL file, the first ``limit`` of them when given (read lazily)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        yield from (json.loads(line) for line in islice(f, limit))


def gsm8k(split: str = "train", limit: int | None = None) -> list[dict]:
    """GSM8K rows of ``split`` ("train" or "test_dev")."""
    if split not in GSM8K:
        raise ValueError(f"unknown GSM8K split {split!r}: use one of {sorted(GSM8K)}")
    return list(read_jsonl(GSM8K[split], limit))


def nq(limit: int | None = None) -> list[dict]:
    """NaturalQuestions-open oracle dev rows."""
    return list(read_jsonl(NQ, limit))


def gsm8k_demo(row: dict) -> str:
    """A GSM8K solution as an LLMLingua chain-of-thought demonstration (calculator notes removed).

    >>> gsm8k_demo({"question": "1+1?", "answer": "1+1 = <<1+1=2>>2\\n#### 2"})
    "Question: 1+1?\\nLet's think step by step\\n1+1 = 2\\nThe answer is 2"
    """
    body, answer = row["answer"].split("####")
    steps = re.sub(r"<<.*?>>", "", body.strip())
    return f"Question: {row['question']}\nLet's think step by step\n{steps}\nThe answer is {answer.strip()}"


def nq_passage(row: dict) -> str:
    """The gold passage of an NQ row as one document: title, newline, text."""
    ctx = row["ctxs"][0]
    return f"{ctx['title']}\n{ctx['text']}"
