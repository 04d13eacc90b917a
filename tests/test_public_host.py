"""Public-host mode and the address checks on backend URLs a visitor types (no server-side request forgery).

The app started with ``SPACE_ID`` set and nothing else refuses a visitor's base URL on /answers (nothing
reaches the visitor's server; before, one such call made 8 requests), hides the base-URL field and says
"public-host mode" in its footer. Where a host allows custom URLs, a URL that leads to 127.0.0.1, [::1],
169.254.169.254, 10.0.0.1, a name resolving to loopback, a redirect to loopback, or a name that resolves
to loopback only on the second lookup (DNS rebinding) is refused with a message; https keeps the typed
name for TLS and the Host header; and nothing a refused or malformed backend sent comes back in any output.

Every server here is a loopback one the test starts (``fake_llm.FakeLLM``, on 127.0.0.1 or ::1). The
``net`` fixture is the tests' own small internet: a resolver hook (``socket.getaddrinfo``) maps test names
to addresses (and knows no other name but localhost), and a tripwire on ``socket.connect`` lets loopback
through, carries a "public" address the test routes to a loopback server, and refuses and records anything
else -- so not a packet leaves this machine, even if the guard under test failed.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
from dataclasses import dataclass, field, replace

import gradio as gr
import pytest
from support.fake_llm import FakeLLM

from ui import downstream_tab
from ui import form
from lingua_core.backends.addresses import AddressPolicy
from lingua_core.backends.pinned import is_ip_literal
from lingua_core.errors import AddressRefused, BackendError, InvalidRequest

MARKER = f"zebra-body-{secrets.token_hex(6)}"   # in every body a backend under test sends: must never come back
VISITOR_KEY = f"sk-test-visitor-{secrets.token_hex(8)}"
PUBLIC_IP = "93.184.215.14"                      # a public address; the tripwire carries it to loopback
MODE_VARS = ("SPACE_ID", "LINGUA_PUBLIC", "LINGUA_ALLOW_CUSTOM_BACKEND", "LINGUA_ALLOW_PRIVATE_BACKEND")
PROMPTS = ("Question: what is 2 + 2? Answer briefly.", "2 + 2?")


@dataclass
class Net:
    names: dict = field(default_factory=dict)     # test name -> addresses (or a function giving them)
    routes: dict = field(default_factory=dict)    # (public address, port) -> port of a loopback server
    lookups: list = field(default_factory=list)   # every name looked up, in order
    attempts: list = field(default_factory=list)  # every connection tried to a non-loopback address


@pytest.fixture
def net(monkeypatch):
    n, real_getaddrinfo, real_connect = Net(), socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, port, *args, **kwargs):
        if is_ip_literal(host):
            return real_getaddrinfo(host, port, *args, **kwargs)
        n.lookups.append(host)
        if host == "localhost":
            return real_getaddrinfo(host, port, *args, **kwargs)
        if host not in n.names:                                        # no DNS query leaves this machine
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        found = n.names[host]() if callable(n.names[host]) else n.names[host]
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0)) if ":" in ip else
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in found]

    def connect(sock, address):
        if isinstance(address, tuple) and (address[0], address[1]) in n.routes:
            return real_connect(sock, ("127.0.0.1", n.routes[address[0], address[1]]))
        if isinstance(address, tuple) and not ipaddress.ip_address(address[0].split("%")[0]).is_loopback:
            n.attempts.append(address[:2])
            raise ConnectionRefusedError(f"test network: no route to {address[0]}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield n
    assert not n.attempts, f"connections tried beyond loopback: {n.attempts}"


@pytest.fixture
def env(monkeypatch):
    """The environment without any hosting-mode setting (local mode); tests set what they need."""
    for name in MODE_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def public_custom(env):
    """Public-host mode with custom backend URLs turned on by the host."""
    env.setenv("SPACE_ID", "lingua-lab/test-space")
    env.setenv("LINGUA_ALLOW_CUSTOM_BACKEND", "1")
    return env


@pytest.fixture
def visitors():
    """Two servers a visitor might name, on 127.0.0.1 and ::1; their answer is the marker."""
    with FakeLLM(answer=MARKER) as v4, FakeLLM(answer=MARKER, host="::1") as v6:
        yield v4, v6


def port_of(server) -> int:
    return server.server.server_port


def ask(url: str, key: str = VISITOR_KEY) -> dict:
    """The /answers endpoint's function, as the app calls it, with a visitor-typed base URL."""
    return downstream_tab.answers_api(*PROMPTS, "openai", "fake-model", url, key, 8)


def refusal(url: str) -> str:
    with pytest.raises(gr.Error) as err:
        ask(url)
    return err.value.message


# -- the app, started as a Space is -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def public_app():
    """The app with SPACE_ID set and no other hosting setting (empty values count as unset)."""
    from support.guarded_app import started

    with started("public", SPACE_ID="lingua-lab/test-space", **{v: "" for v in MODE_VARS[1:]}) as app:
        yield app


def test_a_space_refuses_visitor_urls_hides_the_field_and_says_so(public_app, env):
    client = public_app.client()
    with FakeLLM(answer=MARKER) as visitor:
        for url in (visitor.url, visitor.url.replace("127.0.0.1", "localhost")):
            with pytest.raises(Exception, match="only to its own backend") as err:
                client.predict(*PROMPTS, "openai", "fake-model", url, VISITOR_KEY, 8, api_name="/answers")
            assert MARKER not in str(err.value)
        assert visitor.keys == []                                      # not one request reached it
    out = client.predict(*PROMPTS, "openai", "", "", "", 8, api_name="/answers")   # the host's own: fine
    assert out["original"]["answer"]["error"] is None and f"Bearer {public_app.host_key}" in public_app.host.keys
    components = client.config["components"]
    url_box = next(c for c in components if c.get("props", {}).get("label") == "Server base URL")
    assert url_box["props"]["visible"] is False and url_box["props"]["value"] == ""
    assert public_app.host.url.split("/v1")[0] not in json.dumps(client.config)   # the host's address stays hidden
    footer = next(c for c in components if "lc-footer" in (c.get("props", {}).get("elem_classes") or []))
    assert "public-host mode" in footer["props"]["value"] and "only to this host's backend" in footer["props"]["value"]
    assert MARKER not in public_app.log.read_text(errors="replace")
    env.setenv("SPACE_ID", "lingua-lab/test-space")                   # the same decision in this process
    assert not downstream_tab.url_field_shown()
    env.setenv("LINGUA_ALLOW_CUSTOM_BACKEND", "1")
    assert downstream_tab.url_field_shown()


def test_the_base_url_field_stays_hidden_in_the_browser(public_app):
    from test_app_browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: `apt-get install chromium` (make browser) to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(public_app.url)
            page.get_by_text("Downstream answers: ask an LLM with both prompts").click()
            page.get_by_label("OpenAI-compatible HTTP").check()
            sync_api.expect(page.get_by_label("Model name on the server")).to_be_visible(timeout=30_000)
            sync_api.expect(page.get_by_label("Server base URL")).to_be_hidden()
            sync_api.expect(page.locator(".lc-footer").first).to_contain_text("public-host mode")
        finally:
            browser.close()


# -- custom URLs allowed: where they may not lead ------------------------------------------------------------
REFUSED = {  # what the visitor types -> words the refusal must contain
    "127.0.0.1": ("{v4}", "points at 127.0.0.1, a loopback address"),
    "[::1]": ("{v6}", "points at ::1, a loopback address"),
    "169.254.169.254": ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
    "10.0.0.1": ("http://10.0.0.1:8000/v1", "points at 10.0.0.1, a private-network address"),
    "localhost": ("http://localhost:{port}/v1", "(localhost resolves to it), a loopback address"),
    "a name mapped to loopback": ("http://llm.visitor.test:{port}/v1",
                                  "points at 127.0.0.1 (llm.visitor.test resolves to it), a loopback address"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_with_custom_urls_allowed_a_public_host_refuses(case, public_custom, net, visitors):
    v4, v6 = visitors
    net.names["llm.visitor.test"] = ["127.0.0.1"]
    template, words = REFUSED[case]
    url = template.format(v4=v4.url, v6=v6.url, port=port_of(v4))
    message = refusal(url)
    assert message.startswith("Refused: the backend URL") and words in message
    assert "public internet addresses" in message and "LINGUA_ALLOW_PRIVATE_BACKEND=1" in message
    assert MARKER not in message and VISITOR_KEY not in message
    assert v4.keys == [] and v6.keys == []                            # nothing was sent anywhere


def test_a_redirect_to_loopback_or_metadata_is_refused(public_custom, net, visitors):
    """The visitor names a public server (``public-llm.test``); it redirects to a loopback or metadata URL."""
    v4, v6 = visitors
    net.names["public-llm.test"] = [PUBLIC_IP]
    for target in (v4.url, v6.url, f"http://localhost:{port_of(v4)}/v1", "http://169.254.169.254/latest"):
        with FakeLLM("redirect", redirect_to=target, answer=MARKER) as public:
            net.routes[PUBLIC_IP, 80] = port_of(public)
            out = ask("http://public-llm.test/v1")
        for side in ("original", "compressed"):
            error = out[side]["answer"]["error"]
            assert "Refused: the backend at http://public-llm.test/v1 redirected to another server" in error
        assert len(public.keys) == 2 and MARKER not in json.dumps(out)    # one request per prompt, then stop
    assert v4.keys == [] and v6.keys == []


def test_a_redirect_within_the_same_server_is_followed(public_custom, net):
    net.names["public-llm.test"] = [PUBLIC_IP]
    with FakeLLM("redirect", redirect_to="/moved/v1") as public:
        net.routes[PUBLIC_IP, 80] = port_of(public)
        out = ask("http://public-llm.test/v1")
    assert out["original"]["answer"]["error"] is None and out["original"]["answer"]["text"] == "The answer is 7."
    assert len(public.keys) == 4 and set(public.hosts) == {"public-llm.test"}   # 2 redirects + 2 answers


def test_a_name_that_rebinds_to_loopback_after_the_check_is_refused(public_custom, net, visitors):
    """DNS rebinding: the first lookup (the early check) says public, every later one 127.0.0.1."""
    v4, _ = visitors
    answers = iter([[PUBLIC_IP]])
    net.names["rebind.test"] = lambda: next(answers, ["127.0.0.1"])
    out = ask(f"http://rebind.test:{port_of(v4)}/v1")
    for side in ("original", "compressed"):
        assert "points at 127.0.0.1 (rebind.test resolves to it), a loopback address" in out[side]["answer"]["error"]
    assert v4.keys == [] and MARKER not in json.dumps(out)            # the public address was never connected


def test_the_hosts_own_backend_is_never_checked(public_custom, net):
    with FakeLLM() as host:
        public_custom.setenv("LINGUA_BACKEND_URL", host.url)          # e.g. a sidecar on the Space itself
        public_custom.setenv("OPENAI_API_KEY", "sk-test-host-key")
        for typed in ("", host.url):
            backend = form.backend_from("openai", "fake-model", typed)
            assert backend.address_policy is None and backend.answer("hi", 4).ok
        assert host.keys == ["Bearer sk-test-host-key"] * 2


def test_the_host_can_open_private_addresses(public_custom, net, visitors):
    public_custom.setenv("LINGUA_ALLOW_PRIVATE_BACKEND", "1")
    v4, v6 = visitors
    for url in (v4.url, v6.url):
        assert ask(url)["original"]["answer"]["error"] is None
    assert v4.keys == v6.keys == [f"Bearer {VISITOR_KEY}"] * 2


# -- the local default --------------------------------------------------------------------------------------
def test_the_local_default_allows_this_machine_only(env, net, visitors):
    v4, v6 = visitors
    net.names["llm.visitor.test"] = ["127.0.0.1"]
    for url in (v4.url, v6.url, f"http://localhost:{port_of(v4)}/v1", f"http://llm.visitor.test:{port_of(v4)}/v1"):
        backend = form.backend_from("openai", "fake-model", url)
        assert backend.address_policy == AddressPolicy(allow_loopback=True) and backend.answer("hi", 4).ok
    for url, words in (("http://10.0.0.1:8000/v1", "a private-network address"),
                       ("http://169.254.169.254/latest/meta-data/", "a link-local address")):
        with pytest.raises(AddressRefused, match="start the app with LINGUA_ALLOW_PRIVATE_BACKEND=1") as err:
            form.backend_from("openai", "fake-model", url)
        assert words in str(err.value)
    env.setenv("LINGUA_ALLOW_PRIVATE_BACKEND", "0")                   # public addresses only, even here
    with pytest.raises(AddressRefused, match="a loopback address"):
        form.backend_from("openai", "fake-model", v4.url)
    env.setenv("LINGUA_ALLOW_CUSTOM_BACKEND", "0")
    with pytest.raises(InvalidRequest, match="only to its own backend"):
        form.backend_from("openai", "fake-model", v4.url)


def test_a_name_is_resolved_once_per_answer_and_its_address_used(env, net):
    """A wrong model name makes two requests on one connection pool (the chat, then the model list)."""
    not_found = json.dumps({"error": {"message": "The model 'gpt-9' does not exist", "code": "model_not_found"}})
    with FakeLLM("status", reply=(404, "application/json", not_found)) as fake:
        net.names["llm.visitor.test"] = ["127.0.0.1"]
        backend = form.backend_from("openai", "gpt-9", f"http://llm.visitor.test:{port_of(fake)}/v1")
        before = len(net.lookups)
        a = backend.answer("hi", 4)
    assert "does not serve a model named 'gpt-9'" in a.error and "models it serves: fake-model" in a.error
    assert len(fake.keys) == 2 and net.lookups[before:] == ["llm.visitor.test"]
    assert set(fake.hosts) == {f"llm.visitor.test:{port_of(fake)}"}


def test_a_name_with_two_addresses_uses_the_checked_one_that_answers(env, net):
    """As "localhost" often resolves: ::1 first (nothing listens there), then 127.0.0.1 (Ollama's default)."""
    with FakeLLM() as v4:
        net.names["dual.test"] = ["::1", "127.0.0.1"]
        a = form.backend_from("openai", "fake-model", f"http://dual.test:{port_of(v4)}/v1").answer("hi", 4)
    assert a.ok, a.error
    assert len(v4.keys) == 1 and set(v4.hosts) == {f"dual.test:{port_of(v4)}"}


def test_an_unknown_name_is_a_clear_message(env, net):
    with pytest.raises(BackendError, match="Cannot find the backend host 'no-such-llm.test'"):
        form.backend_from("openai", "fake-model", "http://no-such-llm.test/v1")


def _self_signed(folder, name: str) -> tuple[str, str]:
    """(certificate, key) files for ``name``, made by the openssl command line."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}"], check=True, capture_output=True)
    return str(cert), str(key)


def test_https_keeps_the_typed_name_for_tls_and_the_host_header(env, net, tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("no openssl command to make a test certificate")
    cert, key = _self_signed(tmp_path, "llm.visitor.test")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    names = []
    tls.sni_callback = lambda sock, name, ctx: names.append(name)
    env.setenv("SSL_CERT_FILE", cert)                                  # the client trusts this one certificate
    net.names["llm.visitor.test"] = ["127.0.0.1"]
    with FakeLLM(tls=tls) as fake:
        port = port_of(fake)
        a = form.backend_from("openai", "fake-model", f"https://llm.visitor.test:{port}/v1").answer("hi", 4)
        assert a.ok, a.error
        assert set(names) == {"llm.visitor.test"} and set(fake.hosts) == {f"llm.visitor.test:{port}"}
        by_ip = form.backend_from("openai", "fake-model", f"https://127.0.0.1:{port}/v1").answer("hi", 4)
    assert "certificate" in by_ip.error.lower()                        # the check is on: the certificate names
    assert len(fake.hosts) == 1                                        # llm.visitor.test, not 127.0.0.1


# -- nothing of a malformed answer comes back ---------------------------------------------------------------
PAGE = f"<html><head><title>Internal</title></head><body>{MARKER}</body></html>"
MALFORMED = {  # name -> (status, content-type, body), and words the error must contain
    "a web page": ((200, "text/html", PAGE), "not in the OpenAI chat-completions format"),
    "a 404 page": ((404, "text/html", PAGE), "404 Not Found"),
    "a 400 page": ((400, "text/html", PAGE), "(400): an answer that is not an API error (content-type 'text/html')"),
    "a 418 text": ((418, "text/plain", MARKER), "HTTP 418: an answer that is not an API error"),
    "a 302 without a location": ((302, "text/html", PAGE), "HTTP 302: an answer that is not an API error"),
    "JSON of another shape": ((200, "application/json", json.dumps({"result": MARKER})), "OpenAI chat-completions"),
    "a 400 in JSON of another shape": ((400, "application/json", json.dumps({"error": 42, "note": MARKER})),
                                       "(400): an answer that is not an API error"),
    "events that are not JSON": ((200, "text/event-stream", f"data: {MARKER}\n\n"), "events that are not JSON"),
    "a content-type that is not one": ((200, "<b>not a type</b>", PAGE), "content-type 'none'"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_answer_is_described_never_repeated(case, env, net, caplog, capfd):
    reply, words = MALFORMED[case]
    caplog.set_level("DEBUG")
    with FakeLLM("status", reply=reply) as fake:
        out = ask(fake.url)
    error = out["original"]["answer"]["error"]
    assert words in error, error
    captured = capfd.readouterr()
    for text in (json.dumps(out), repr(out), caplog.text, captured.out, captured.err):
        assert MARKER not in text


def test_a_server_error_page_is_described_never_repeated(env, net):
    with FakeLLM("status", reply=(500, "text/html", PAGE)) as fake:
        backend = replace(form.backend_from("openai", "fake-model", fake.url), max_retries=0)
        a = backend.answer("hi", 4)
    assert "server error (500)" in a.error and MARKER not in repr(a)


class _Banner(socketserver.ThreadingTCPServer):
    """A loopback service that is not HTTP: it says its banner and hangs up (as Redis or SSH would)."""
    daemon_threads = True

    def __init__(self, banner: bytes):
        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.recv(65536)
                self.request.sendall(banner)
        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_a_service_that_is_not_http_is_not_quoted(env, net):
    server = _Banner(f"SSH-2.0-OpenSSH_9.2 {MARKER}\r\n".encode())
    try:
        out = ask(f"http://127.0.0.1:{server.server_address[1]}/v1")
    finally:
        server.shutdown()
        server.server_close()
    error = out["original"]["answer"]["error"]
    assert "Cannot reach the backend" in error and "not valid HTTP" in error
    assert MARKER not in json.dumps(out)
