"""Failing dependencies: a downstream backend that is down, silent past its timeout or answering garbage; a
model cache that cannot be written or holds a damaged copy; a hub model asked for while offline.

Each fault is provoked for real (``fake_llm.FakeLLM`` servers on loopback, a cache path under a file, a
damaged converted model) and must give a specific message that says what to do. The ``app`` tests do the
same through the running app's API (the shared ``guarded_app``) and then call another endpoint, to show
the app keeps serving after the fault.
"""

from __future__ import annotations

import json
import socket
import time

import pytest
from support.fake_llm import FakeLLM

from lingua_core import loading
from lingua_core.backends import OpenAICompatBackend
from lingua_core.errors import ModelLoadError

GARBAGE = ["garbage", "schema", "badsse", "badchunk"]


def _dead_url() -> str:
    with socket.socket() as s:  # a port nothing listens on once this closes
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


# -- downstream backend, in the core ---------------------------------------------------------------------------
def test_backend_down_is_connection_refused():
    a = OpenAICompatBackend(base_url=_dead_url(), model="m", max_retries=0).answer("hi", 4)
    assert a.done and "Cannot reach the backend" in a.error and "server is running" in a.error


def test_backend_slow_past_the_timeout(monkeypatch):
    monkeypatch.setenv("LINGUA_BACKEND_TIMEOUT_S", "1")          # the operator's setting is the default
    with FakeLLM("slow", delay_s=5) as fake:
        started = time.monotonic()
        a = OpenAICompatBackend(base_url=fake.url, model="m", max_retries=0).answer("hi", 4)
    assert time.monotonic() - started < 4
    assert "did not answer within 1 s" in a.error and "Raise the timeout" in a.error


@pytest.mark.parametrize("mode", GARBAGE)
def test_backend_answering_garbage(mode):
    with FakeLLM(mode) as fake:
        a = OpenAICompatBackend(base_url=fake.url, model="m", max_retries=0).answer("hi", 4)
    assert a.done and not a.ok and a.text == ""
    assert "not in the OpenAI chat-completions format" in a.error and "/v1" in a.error


# -- model cache -------------------------------------------------------------------------------------------
def test_unwritable_cache_fails_at_once_naming_the_setting(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LINGUA_CACHE_DIR", str(blocker / "cache"))   # under a file: not writable, even as root
    started = time.monotonic()
    with pytest.raises(ModelLoadError, match="Could not write the converted bundled model.*LINGUA_CACHE_DIR"):
        loading.bundled_folder()
    assert time.monotonic() - started < 5                             # before the slow de-quantization


def _copy_of_bundled(cache, lm, weights: bytes | None):
    """A converted copy in ``cache``: the real small files, and ``weights`` (None: leave them out)."""
    real = loading.bundled_folder()
    folder = cache / real.name
    folder.mkdir(parents=True)
    for p in real.iterdir():
        if p.name not in {"model.safetensors", loading._MANIFEST}:
            (folder / p.name).symlink_to(p)
    manifest = json.loads((real / loading._MANIFEST).read_text())
    if weights is not None:
        (folder / "model.safetensors").write_bytes(weights)
    return folder, manifest


def test_half_written_copy_is_converted_again_not_loaded(tmp_path, monkeypatch, lm):
    folder, manifest = _copy_of_bundled(tmp_path, lm, b"\0" * 1000)  # a tenth of a model, full manifest
    (folder / loading._MANIFEST).write_text(json.dumps(manifest))
    monkeypatch.setenv("LINGUA_CACHE_DIR", str(tmp_path))
    converted = []
    monkeypatch.setattr(loading, "_convert_bundled", lambda target: converted.append(target))
    assert loading.bundled_folder() == folder and converted == [folder]


def test_damaged_copy_that_passes_the_manifest_says_delete_it(tmp_path, monkeypatch, lm):
    folder, manifest = _copy_of_bundled(tmp_path, lm, b"\0" * 1000)  # the right size, the wrong bytes
    manifest["files"]["model.safetensors"] = 1000
    (folder / loading._MANIFEST).write_text(json.dumps(manifest))
    monkeypatch.setenv("LINGUA_CACHE_DIR", str(tmp_path))
    with pytest.raises(ModelLoadError) as err:
        loading._load(loading.BUNDLED, "causal", "cpu")           # not load_model: that one is cached
    assert str(folder) in str(err.value) and "delete that folder" in str(err.value)


# -- the hub, offline -------------------------------------------------------------------------------------------
def test_hub_model_while_offline_names_model_reason_and_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as err:
        loading.load_model("HuggingFaceTB/SmolLM2-360M-Instruct", device="cpu")
    text = str(err.value)
    assert "'HuggingFaceTB/SmolLM2-360M-Instruct'" in text and "HF_HUB_OFFLINE=1" in text
    assert "not in the local hub cache" in text and "Fix:" in text and ".." not in text


# -- the same faults through the running app ----------------------------------------------------------------
@pytest.fixture(scope="module")
def client(guarded_app):
    return guarded_app.client()


def _answers_error(client, url: str) -> str:
    out = client.predict("Question: 2 + 2?", "2 + 2?", "openai", "m", url, "", 8, api_name="/answers")
    assert out["done"] and out["original"]["answer"]["error"] == out["compressed"]["answer"]["error"]
    return out["original"]["answer"]["error"]


@pytest.mark.parametrize("fault, expected", [
    ("down", "Cannot reach the backend"),
    ("slow", "did not answer within 3 s"),                 # the app runs with LINGUA_BACKEND_TIMEOUT_S=3
    ("garbage", "not in the OpenAI chat-completions format"),
    ("schema", "not in the OpenAI chat-completions format"),
])
def test_app_reports_backend_faults_and_keeps_serving(client, fault, expected):
    if fault == "down":
        error = _answers_error(client, _dead_url())
    else:
        with FakeLLM(fault, delay_s=10) as fake:
            error = _answers_error(client, fake.url)
    assert expected in error
    assert client.predict(2000, 500, "gpt-4o", 10, 0, api_name="/cost")["saved_share"] == pytest.approx(0.75)


def test_app_hub_scorer_offline_then_bundled_still_works(client):
    from support.guarded_app import OFFLINE_HUB_SCORER

    with pytest.raises(Exception) as err:
        client.predict("", "Some text to compress here.", "", "llmlingua", OFFLINE_HUB_SCORER, 2.0,
                       api_name="/compress")
    assert OFFLINE_HUB_SCORER in str(err.value) and "HF_HUB_OFFLINE=1" in str(err.value)
    out = client.predict("", "Some text to compress here.", "", "llmlingua", "bundled", 2.0, api_name="/compress")
    assert out["compressed_prompt"]


def test_app_with_an_unwritable_cache_explains_and_keeps_serving(tmp_path):
    from support.app_server import app_process
    from gradio_client import Client

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with app_process("unwritable-cache", LINGUA_CACHE_DIR=str(blocker / "cache")) as (url, _, log):
        client = Client(url, verbose=False)
        with pytest.raises(Exception, match="Could not write the converted bundled model.*LINGUA_CACHE_DIR"):
            client.predict("", "Some text to compress here.", "", "llmlingua", "bundled", 2.0, api_name="/compress")
        assert client.predict(api_name="/methods")
    assert "scorer warm-up skipped: Could not write" in log.read_text()
