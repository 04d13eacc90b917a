"""A tiny loopback OpenAI-compatible server for the fault and secret tests: answers well, badly or not at all.

Unlike ``openai_gate.py`` (a key-checking proxy in front of a real ``transformers serve``) this answers
by itself, in a chosen ``mode``, so the tests can make a backend misbehave on purpose:

* ``"ok"``      a short streamed chat answer (server-sent events, with usage), like a real server
* ``"garbage"`` HTTP 200 with a body that is not JSON at all
* ``"schema"``  HTTP 200 with JSON of the wrong shape (no ``choices``, numbers where text belongs)
* ``"badsse"``  a well-formed event stream whose events are not JSON
* ``"badchunk"`` events that are JSON but not chat chunks (``choices`` a string, content a number)
* ``"html"``    a streamed answer whose text is markup (``<script>``, ``<img onerror>``, entities)
* ``"slow"``    accepts the request and says nothing for ``delay_s`` seconds
* ``"auth"``    refuses every key (401), as OpenAI does a wrong one
* ``"status"``  answers chat requests with ``reply``, a fixed (status, content-type, body)
* ``"redirect"`` answers chat requests with a 307 to ``redirect_to`` + the rest of the path (a body too);
  requests under ``/moved/`` are answered as in ``"ok"``, so a redirect to "/moved/v1" stays on this server

It records the Authorization header of every request (``keys``), so a test can show which key reached
which server, the Host header of each (``hosts``), and the most chat requests it had in hand at once
(``max_in_flight``; set ``pause_s`` to hold each one a while), so a test can show requests ran side by
side. It listens on 127.0.0.1 unless ``host="::1"``, over TLS when given a server-side ``tls`` context. It
logs nothing itself.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

from .loopback import LoopbackServer, reply

ANSWER = "The answer is 7."
MARKUP_ANSWER = "<script>alert('x')</script><img src=x onerror=alert(2)> &amp; &lt;b&gt; <b>bold</b>"


class FakeLLM(LoopbackServer):
    def __init__(self, mode: str = "ok", delay_s: float = 30.0, answer: str = ANSWER, host: str = "127.0.0.1",
                 tls=None, reply: tuple[int, str, str] = (200, "text/plain", ""), redirect_to: str = ""):
        self.mode, self.delay_s, self.answer = mode, delay_s, answer
        self.reply, self.redirect_to = reply, redirect_to
        self.hosts: list[str] = []           # Host header values seen, in order
        self.pause_s = 0.0                   # wait this long before answering a chat request
        self.in_flight = self.max_in_flight = 0
        self.keys: list[str] = []            # Authorization header values seen ("" when none), in order
        self.bodies: list[dict] = []         # JSON bodies of the chat requests
        self._lock = threading.Lock()
        self.serve(self._handler(), host, tls)

    def __enter__(self) -> "FakeLLM":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):  # quiet: no request lines
                pass

            def do_GET(self):  # /v1/models
                self._record(None)
                self._send(200, json.dumps({"object": "list", "data": [{"id": "fake-model", "object": "model"}]}))

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                self._record(body)
                with fake._lock:
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    time.sleep(fake.pause_s)
                    self._answer(body)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

            def _answer(self, body: dict):
                mode = fake.mode
                if mode == "slow":
                    time.sleep(fake.delay_s)
                    return self._send(200, "{}")
                if mode == "auth":
                    return self._send(401, json.dumps({"error": {"message": "Incorrect API key provided",
                                                                 "code": "invalid_api_key"}}))
                if mode == "status":
                    return self._send(fake.reply[0], fake.reply[2], fake.reply[1])
                if mode == "redirect" and not self.path.startswith("/moved/"):
                    return self._send(307, f"<html>moved: {fake.answer}</html>", "text/html",
                                      {"location": fake.redirect_to + self.path.removeprefix("/v1")})
                if mode == "garbage":
                    return self._send(200, "<html>502 Bad Gateway</html> this is not JSON {", "text/html")
                if mode == "schema":
                    return self._send(200, json.dumps({"result": 42, "choices": "none", "usage": "lots"}))
                if mode in ("badsse", "badchunk"):
                    bad = ("data: not json {\n\n" if mode == "badsse" else
                           'data: {"choices": [{"delta": {"content": 5}}]}\n\ndata: {"choices": "x"}\n\n')
                    return self._send(200, bad, "text/event-stream")
                text = MARKUP_ANSWER if mode == "html" else fake.answer
                if not body.get("stream"):
                    return self._send(200, json.dumps(_completion(text)))
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                for piece in (text[: len(text) // 2], text[len(text) // 2:]):
                    self.wfile.write(f"data: {json.dumps(_chunk(piece))}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(f"data: {json.dumps(_usage_chunk())}\n\ndata: [DONE]\n\n".encode())

            def _record(self, body):
                with fake._lock:
                    fake.keys.append(self.headers.get("authorization") or "")
                    fake.hosts.append(self.headers.get("host") or "")
                    if body is not None:
                        fake.bodies.append(body)

            def _send(self, status: int, text: str, ctype: str = "application/json", headers: dict | None = None):
                reply(self, status, text.encode(), ctype, headers)

        return Handler


def _chunk(text: str) -> dict:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "fake-model",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]}


def _usage_chunk() -> dict:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "fake-model", "choices": [],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}}


def _completion(text: str) -> dict:
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "fake-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}}
