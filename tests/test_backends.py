"""Downstream backends and the answer comparison, on real models and a real server.

The local backend runs the bundled SmolLM2. The HTTP backend talks to a real OpenAI-compatible server,
``transformers serve`` with the same bundled model, started on 127.0.0.1 (offline) once for this module.
``transformers serve`` ignores API keys, so a small loopback gate (``openai_gate.py``) in front of it
checks one and can inject 429/503 answers; nothing else is faked. Greedy answers from the server must
equal the local backend's, which makes the server an oracle for the local generation loop.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from lingua_core.answers import is_correct
from lingua_core.backends import USAGE_BACKEND, LocalBackend, OpenAICompatBackend, get_backend
from lingua_core.compare import compare, compare_stream
from lingua_core.config import settings
from lingua_core.errors import InvalidRequest
from support.openai_gate import Gate

ROOT = Path(__file__).resolve().parents[1]
GOOD_KEY = "sk-lingua-GOODKEY-7c1e5a90d3b24f68"   # distinctive, so any leak is easy to find
WRONG_KEY = "sk-lingua-WRONGKEY-2b8d6f4e0a1c3957"
QUESTION = "Question: Tom has 3 apples and buys 4 more. How many apples does he have?"
SHORT = "Tom 3 apples, buys 4. How many apples?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(lm, tmp_path_factory):
    """``transformers serve`` pinned to the converted bundled model: (base URL, model name)."""
    from lingua_core.loading import bundled_folder

    folder, port = str(bundled_folder()), _free_port()
    exe = Path(sys.executable).with_name("transformers")
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(exe), "serve", folder, "--host", "127.0.0.1", "--port", str(port),
                                 "--device", "cpu", "--log-level", "warning"], stdout=out, stderr=out, env=env)
    try:
        for _ in range(600):
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited ({proc.returncode}): {log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"transformers serve did not start: {log.read_text()[-2000:]}")
        yield f"http://127.0.0.1:{port}/v1", folder
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def gate(server):
    g = Gate(server[0].removesuffix("/v1"), GOOD_KEY)
    yield g
    g.close()


@pytest.fixture
def http(gate, server):
    """An HTTP backend through the key-checking gate, with the right key and quick retries."""
    gate.inject.clear()
    return OpenAICompatBackend(base_url=gate.url, model=server[1], api_key=GOOD_KEY, backoff_s=0.01)


@pytest.fixture(scope="module")
def local(lm):
    return LocalBackend(device="cpu")


def _dead_url() -> str:
    return f"http://127.0.0.1:{_free_port()}/v1"  # nothing listens there


# --- local backend -------------------------------------------------------------------------------------

def test_local_streams_a_real_answer(local, lm):
    from lingua_core.backends.local import prompt_ids

    stream = local.stream(QUESTION, max_new_tokens=12)
    pieces = list(stream)
    a = stream.answer
    assert a.ok and a.text and "".join(pieces) == a.text and len(pieces) > 1
    assert 1 <= a.output_tokens <= 12 and a.usage_source == USAGE_BACKEND
    assert a.prompt_tokens == prompt_ids(lm, QUESTION).shape[1]
    assert a.latency_s > 0


def test_local_refuses_a_prompt_beyond_its_context(local, lm):
    a = local.answer("word " * (lm.max_context + 10), max_new_tokens=4)
    assert a.done and not a.ok and "Compress harder" in a.error and a.text == ""


def test_bad_requests_raise_before_any_work(local):
    with pytest.raises(InvalidRequest, match="max_new_tokens"):
        local.stream("hi", max_new_tokens=0)
    with pytest.raises(InvalidRequest, match="empty"):
        local.stream("  ", max_new_tokens=5)
    with pytest.raises(InvalidRequest, match="Unknown backend 'gemini'; choose one of: local, openai"):
        get_backend("gemini")
    with pytest.raises(InvalidRequest, match="no setting"):
        get_backend("local", colour="red")
    with pytest.raises(InvalidRequest, match="must look like"):
        get_backend("openai", base_url="localhost:8000", model="m")


# --- HTTP backend against transformers serve ----------------------------------------------------------

def test_http_streams_the_same_greedy_answer_as_local(http, local):
    stream = http.stream(QUESTION, max_new_tokens=10)
    pieces = list(stream)
    a = stream.answer
    assert a.ok and len(pieces) > 1 and "".join(pieces) == a.text
    assert a.usage_source == USAGE_BACKEND and a.prompt_tokens > 0 and 1 <= a.output_tokens <= 10
    assert a.text == local.answer(QUESTION, max_new_tokens=10).text


def test_wrong_key_is_a_clear_401(http):
    a = dataclasses.replace(http, api_key=WRONG_KEY).answer(QUESTION, 4)
    assert not a.ok and "401" in a.error and "Check the key" in a.error
    assert WRONG_KEY not in a.error and "sk-lingua" not in a.error  # the gate echoed it; we do not


def test_missing_key_says_how_to_give_one(http, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    a = dataclasses.replace(http, api_key="").answer(QUESTION, 4)
    assert "No key was given" in a.error and "OPENAI_API_KEY" in a.error


def test_key_from_the_environment_goes_to_the_hosts_url_only(http, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", GOOD_KEY)
    monkeypatch.setenv("LINGUA_BACKEND_URL", http.base_url)
    assert OpenAICompatBackend(base_url=http.base_url, model=http.model).answer(SHORT, 3).ok
    monkeypatch.setenv("LINGUA_BACKEND_URL", "https://api.openai.com/v1")   # the gate is someone else's now
    a = OpenAICompatBackend(base_url=http.base_url, model=http.model).answer(SHORT, 3)
    assert "401" in a.error and "No key was given" in a.error


def test_wrong_model_name_lists_served_models(server):
    a = OpenAICompatBackend(base_url=server[0], model="no-such-model").answer(QUESTION, 4)
    assert not a.ok and "'no-such-model'" in a.error and "models it serves" in a.error and server[1] in a.error


def test_the_local_default_reaches_transformers_serve_on_loopback(server, monkeypatch):
    """A base URL typed in the app on the user's own machine (no SPACE_ID): loopback is allowed, and the
    checked, pinned connection gets the same greedy answer as an unchecked one. On a public host it is refused."""
    from ui import form
    from lingua_core.backends.addresses import AddressPolicy
    from lingua_core.errors import AddressRefused

    for name in ("SPACE_ID", "LINGUA_PUBLIC", "LINGUA_ALLOW_CUSTOM_BACKEND", "LINGUA_ALLOW_PRIVATE_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    url, model = server
    direct = OpenAICompatBackend(base_url=url, model=model).answer(SHORT, 3)
    for typed in (url, url.replace("127.0.0.1", "localhost")):
        backend = form.backend_from("openai", model, typed)
        assert backend.address_policy == AddressPolicy(allow_loopback=True)
        a = backend.answer(SHORT, 3)
        assert a.ok and a.text == direct.text and a.usage_source == USAGE_BACKEND
    monkeypatch.setenv("SPACE_ID", "lingua-lab/test-space")
    monkeypatch.setenv("LINGUA_ALLOW_CUSTOM_BACKEND", "1")
    with pytest.raises(AddressRefused, match="a loopback address"):
        form.backend_from("openai", model, url)


def test_server_down_fails_fast_and_clearly():
    a = OpenAICompatBackend(base_url=_dead_url(), model="m").answer(QUESTION, 4)
    assert not a.ok and "Cannot reach" in a.error and "running" in a.error


def test_silent_server_times_out():
    with socket.socket() as s:  # accepts connections, never answers
        s.bind(("127.0.0.1", 0))
        s.listen()
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
        a = OpenAICompatBackend(base_url=url, model="m", timeout_s=1, max_retries=0).answer(QUESTION, 4)
    assert not a.ok and "did not answer within 1 s" in a.error


def test_429_and_5xx_are_retried_with_backoff(http, gate):
    gate.inject[:] = [503, 429]
    before = gate.chat_requests
    assert http.answer(SHORT, 3).ok
    assert gate.chat_requests - before == 3


def test_retries_stop_after_three(http, gate):
    gate.inject[:] = [503] * 5
    before = gate.chat_requests
    a = http.answer(SHORT, 3)
    assert gate.chat_requests - before == 4 and "server error (503) on 4 tries" in a.error
    gate.inject.clear()


# --- comparison -------------------------------------------------------------------------------------

def test_compare_over_http_measures_both_answers(http):
    states = list(compare_stream(QUESTION, SHORT, http, gold_answers="7", max_new_tokens=12))
    c = states[-1]
    assert c.done and not any(s.done for s in states[:-1])
    assert c.original.answer.ok and c.compressed.answer.ok and c.gold_kind == "number"
    assert c.compressed.answer.prompt_tokens < c.original.answer.prompt_tokens
    assert 0 < c.compressed.cost_usd < c.original.cost_usd and c.saved_usd > 0
    assert isinstance(c.original.correct, bool) and 0.0 <= c.agreement_f1 <= 1.0
    assert c.original.correct is is_correct(c.original.answer.text, ["7"])


def test_local_compare_answers_one_after_the_other(local):
    states = list(compare_stream(QUESTION, SHORT, local, gold_answers=["7"], max_new_tokens=8))
    for s in states:
        if s.compressed.answer.text:   # the compressed prompt only starts once the original is done
            assert s.original.answer.done
    c = states[-1]
    assert c.done and c.backend == "local model bundled" and c.original.answer.output_tokens <= 8


def test_backend_failure_stays_in_the_answer_panels():
    c = compare(QUESTION, SHORT, OpenAICompatBackend(base_url=_dead_url(), model="m"), gold_answers="7")
    assert c.done and c.original.answer.error and c.compressed.answer.error
    assert c.original.cost_usd is None and c.agreement_f1 is None and c.original.correct is None


def test_compare_refuses_unpriced_model_before_sending(local):
    with pytest.raises(InvalidRequest, match="No price"):
        compare(QUESTION, SHORT, local, price_model="no-such-llm-9000")


# --- key hygiene --------------------------------------------------------------------------------------

def _files_written_since(start: float, roots) -> list[Path]:
    out = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in {".git", ".venv", "node_modules"}]
            for name in files:
                p = Path(folder, name)
                try:
                    st = p.stat()
                except OSError:
                    continue
                if st.st_mtime >= start and st.st_size < 20_000_000:
                    out.append(p)
    return out


def test_key_never_appears_in_logs_answers_or_files(http, server, capfd, caplog, monkeypatch, tmp_path):
    start = time.time() - 1
    caplog.set_level(logging.DEBUG)          # every logger, openai and httpx included, at DEBUG
    monkeypatch.setenv("OPENAI_LOG", "debug")
    monkeypatch.setenv("OPENAI_API_KEY", GOOD_KEY)
    wrong = dataclasses.replace(http, api_key=WRONG_KEY)
    seen = [repr(http), str(http), http.describe(), repr(settings()), repr(wrong)]
    for backend in (http, wrong, OpenAICompatBackend(base_url=_dead_url(), model="m", api_key=GOOD_KEY)):
        c = compare(SHORT, SHORT[:20], backend, gold_answers="7", max_new_tokens=3)
        seen += [repr(c), json.dumps(dataclasses.asdict(c))]
        for err in (c.original.answer.error, c.compressed.answer.error):
            seen.append(str(err))
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(http)
    out, err = capfd.readouterr()
    seen += [out, err, caplog.text]
    roots = [ROOT, tmp_path, settings().cache_dir, tempfile.gettempdir()]
    blobs = [p.read_bytes() for p in _files_written_since(start, roots) if p.is_file()]
    for key in (GOOD_KEY, WRONG_KEY):
        assert not any(key in text for text in seen)
        assert not any(key.encode() in blob for blob in blobs)
    assert "Sending HTTP Request" in caplog.text  # the debug logs were really captured
