"""Secrets and where they may go: the host's key reaches the host's backend only, custom backend URLs can be
switched off, and no key or prompt ends up in anything the running app writes.

The key-routing tests use ``fake_llm.FakeLLM`` servers that record the Authorization header they receive
(one plays the host's configured backend, another a server a visitor typed in). The last test runs the real
app in a subprocess with a host key in its environment, sends a visitor key and a marked prompt through
its API, and greps everything the app wrote -- its log, gradio's temp folder, the model cache, the
answers -- for both keys and the prompt.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from support.fake_llm import FakeLLM

from lingua_core import Request, compress
from lingua_core.backends import OpenAICompatBackend
from lingua_core.errors import InvalidRequest
from ui import downstream_tab, form
from support.app_server import ROOT

HOST_KEY = f"sk-test-host-{secrets.token_hex(12)}"        # random per run: a hit cannot be a coincidence
VISITOR_KEY = f"sk-test-visitor-{secrets.token_hex(12)}"
PROMPT_MARK = f"zebra-{secrets.token_hex(6)}"            # a word that appears only in the users' prompts


@pytest.fixture
def host_and_visitor(monkeypatch):
    """(host's server, a visitor's server), the host's key and URL in the environment."""
    with FakeLLM() as host, FakeLLM() as visitor:
        monkeypatch.setenv("OPENAI_API_KEY", HOST_KEY)
        monkeypatch.setenv("LINGUA_BACKEND_URL", host.url)
        monkeypatch.delenv("LINGUA_ALLOW_CUSTOM_BACKEND", raising=False)
        yield host, visitor


def test_hosts_key_goes_to_the_hosts_backend_only(host_and_visitor):
    host, visitor = host_and_visitor
    assert form.backend_from("openai", "fake-model").answer("hi", 4).ok            # the host's URL (default)
    assert host.keys == [f"Bearer {HOST_KEY}"]
    a = form.backend_from("openai", "fake-model", visitor.url).answer("hi", 4)     # a URL the visitor typed
    assert a.ok and visitor.keys and not any(HOST_KEY in k for k in visitor.keys)
    form.backend_from("openai", "fake-model", visitor.url, VISITOR_KEY).answer("hi", 4)
    assert visitor.keys[-1] == f"Bearer {VISITOR_KEY}"
    # the same host, spelled differently, is still the host; a userinfo trick is not
    port = host.url.split(":")[2].split("/")[0]
    assert OpenAICompatBackend(base_url=f"http://127.0.0.1:{port}/v1/", model="m").api_key.reveal() == HOST_KEY
    tricked = OpenAICompatBackend(base_url=f"http://127.0.0.1:{port}@localhost:1/v1", model="m")
    assert not tricked.api_key


def test_a_missing_key_at_a_visitors_url_says_to_type_one(host_and_visitor):
    host, visitor = host_and_visitor
    visitor.mode = "auth"
    a = form.backend_from("openai", "fake-model", visitor.url).answer("hi", 4)
    assert "401" in a.error and "No key was given" in a.error and "only to its own backend" in a.error
    host.mode = "auth"
    a = form.backend_from("openai", "fake-model").answer("hi", 4)
    assert "401" in a.error and "Check the key" in a.error and HOST_KEY not in a.error


def test_custom_backends_can_be_switched_off(host_and_visitor, monkeypatch):
    host, visitor = host_and_visitor
    assert downstream_tab.url_field_shown()
    monkeypatch.setenv("LINGUA_ALLOW_CUSTOM_BACKEND", "0")
    assert not downstream_tab.url_field_shown()
    with pytest.raises(InvalidRequest, match="only to its own backend.*LINGUA_ALLOW_CUSTOM_BACKEND=1"):
        form.backend_from("openai", "fake-model", visitor.url, VISITOR_KEY)
    assert not visitor.keys                                          # refused before anything was sent
    assert form.backend_from("openai", "fake-model", host.url).answer("hi", 4).ok   # the host's own: fine
    assert form.backend_from("openai", "fake-model", "").answer("hi", 4).ok
    assert form.backend_from("local").describe().startswith("local model")          # local needs no URL


def _files_under(roots) -> list[Path]:
    out = []
    for root in roots:
        for folder, _, files in os.walk(root):
            out += [Path(folder, f) for f in files if Path(folder, f).is_file()]
    return out


def test_the_running_app_never_writes_a_key_or_a_prompt(guarded_app):
    from lingua_core.config import settings

    client = guarded_app.client()
    answers = []
    with FakeLLM() as visitor, FakeLLM("auth") as refusing:
        prompt = f"Question: what colour is a {PROMPT_MARK}? Answer briefly."
        answers.append(client.predict(prompt, "colour?", "openai", "", "", "", 8, "", "gpt-4o",
                                      api_name="/answers"))                   # the host's backend, its key
        answers.append(client.predict(prompt, "colour?", "openai", "fake-model", visitor.url, "", 8,
                                      api_name="/answers"))                   # a visitor's URL, no key
        answers.append(client.predict(prompt, "colour?", "openai", "fake-model", visitor.url, VISITOR_KEY, 8,
                                      api_name="/answers"))
        answers.append(client.predict(prompt, "colour?", "openai", "fake-model", refusing.url, VISITOR_KEY, 8,
                                      api_name="/answers"))                   # a 401 for the visitor's key
        answers.append(client.predict("", f"A {PROMPT_MARK} has stripes. " * 3, "", "llmlingua", "bundled", 2.0,
                                      api_name="/compress"))
        with pytest.raises(Exception, match="No price"):
            client.predict(prompt, "x", "openai", "fake-model", visitor.url, VISITOR_KEY, 8, "", "no-such-llm",
                           api_name="/answers")
    assert f"Bearer {guarded_app.host_key}" in guarded_app.host.keys                  # the host's key: host only
    assert not any(guarded_app.host_key in k for k in visitor.keys + refusing.keys)
    assert f"Bearer {VISITOR_KEY}" in visitor.keys
    assert answers[0]["original"]["answer"]["error"] is None and "401" in answers[3]["original"]["answer"]["error"]
    seen = repr(answers)
    files = guarded_app.written_files(settings().cache_dir, ROOT / "artifacts")
    blobs = [p.read_bytes() for p in files]
    for key in (guarded_app.host_key, VISITOR_KEY):
        assert key not in seen
        assert not [p for p, b in zip(files, blobs) if key.encode() in b]
    logged = guarded_app.log.read_text(errors="replace")
    assert PROMPT_MARK not in logged                                   # prompts are not logged (LINGUA_LOG_PROMPTS off)
    assert client.predict(api_name="/scorers")["default"] == "bundled"  # still serving


@pytest.mark.parametrize("on", [False, True])
def test_prompts_are_logged_only_when_the_operator_turns_it_on(lm, monkeypatch, caplog, on):
    monkeypatch.setenv("LINGUA_LOG_PROMPTS", "1" if on else "0")
    marker = "zebra-marker-1729"
    with caplog.at_level("INFO", logger="lingua_core.prompts"):
        compress(Request(context=[f"The {marker} crossed the road twice."], rate=0.5, method="first_n"), lm)
    assert (marker in caplog.text) == on
