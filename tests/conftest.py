"""Shared fixtures: the real bundled scorer (loaded once per session) and small prompts built from the
repo's data sets (``assets/data``: GSM8K demonstrations, NaturalQuestions passages)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets import data
from assets.data import gsm8k_demo, nq_passage

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def lm():
    from lingua_core.loading import load_model

    return load_model("bundled", device="cpu")


@pytest.fixture(scope="session")
def gsm8k():
    """(8 demonstrations, a test question) from GSM8K."""
    train, test = data.gsm8k("train", limit=8), data.gsm8k("test_dev", limit=1)[0]
    return [gsm8k_demo(r) for r in train], "Question: " + test["question"]


@pytest.fixture(scope="session")
def nq_rows():
    return data.nq(limit=40)


@pytest.fixture(scope="session")
def nq_rows_long():
    """NaturalQuestions passages totalling a little over 20,000 SmolLM2 tokens (about 150 passages)."""
    out, chars = [], 0
    for row in data.read_jsonl(data.NQ):
        out.append(nq_passage(row))
        chars += len(out[-1])
        if chars > 95_000:
            break
    return out


@pytest.fixture(scope="session")
def guarded_app():
    """The app run as a host would run it with a key (see ``guarded_app.py``), shared by the reliability tests."""
    from support.guarded_app import started

    with started() as app:
        yield app


def pytest_sessionfinish(session, exitstatus):
    """Name the non-daemon threads still alive when the tests end: Python waits for them before it exits, so a
    test that leaves work running makes `make test` slower than pytest's own time says."""
    import sys
    import threading

    left = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if left:
        print(f"\nnon-daemon threads alive at the end of the tests: {', '.join(t.name for t in left)}",
              file=sys.stderr)
