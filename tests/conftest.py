"""Shared fixtures: the real bundled scorer (loaded once per session) and small prompts built from
../shared/data (GSM8K demonstrations, NaturalQuestions passages)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def lm():
    from lingua_core.loading import load_model

    return load_model("bundled", device="cpu")


def gsm8k_demo(row: dict) -> str:
    """A GSM8K training problem as an LLMLingua chain-of-thought demonstration."""
    body, answer = row["answer"].split("####")
    steps = re.sub(r"<<.*?>>", "", body.strip())
    return f"Question: {row['question']}\nLet's think step by step\n{steps}\nThe answer is {answer.strip()}"


@pytest.fixture(scope="session")
def gsm8k():
    """(8 demonstrations, a test question) from GSM8K."""
    train = [json.loads(line) for line in open(DATA / "gsm8k" / "train.jsonl")][:8]
    test = json.loads(open(DATA / "gsm8k" / "test_dev.jsonl").readline())
    return [gsm8k_demo(r) for r in train], "Question: " + test["question"]


@pytest.fixture(scope="session")
def nq_rows():
    with gzip.open(DATA / "nq" / "nq-open-oracle-dev.jsonl.gz", "rt") as f:
        return [json.loads(next(f)) for _ in range(40)]


@pytest.fixture(scope="session")
def nq_rows_long():
    """NaturalQuestions passages totalling a little over 20,000 SmolLM2 tokens (about 150 passages)."""
    out, chars = [], 0
    with gzip.open(DATA / "nq" / "nq-open-oracle-dev.jsonl.gz", "rt") as f:
        for line in f:
            ctx = json.loads(line)["ctxs"][0]
            out.append(f"{ctx['title']}\n{ctx['text']}")
            chars += len(out[-1])
            if chars > 95_000:
                break
    return out


@pytest.fixture(scope="session")
def guarded_app():
    """The app run as a host would run it with a key (see ``guarded_app.py``), shared by the reliability tests."""
    from guarded_app import started

    with started() as app:
        yield app
