"""A tiny loopback reverse proxy for the backend tests: checks the API key, can inject failures, relays
everything else (streams included) to a real ``transformers serve``.

``transformers serve`` accepts any key, so the wrong-key test needs something in front of it that checks
one, the way OpenAI does. When the key is wrong the gate answers 401 and *echoes the key it got* in the
message -- worse than real servers -- so the tests can show that the client never repeats it. The gate
also answers the next few requests with a chosen status (503, 429) to exercise retries. It logs nothing.
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from .loopback import LoopbackServer, reply


class Gate(LoopbackServer):
    def __init__(self, upstream: str, key: str):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.key = key
        self.inject: list[int] = []     # statuses to answer the next chat requests with, in order
        self.chat_requests = 0          # POSTs to /v1/chat/completions seen (retries included)
        self._lock = threading.Lock()
        self.serve(self._handler())

    def _handler(self):
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # stay quiet: no request lines, no headers
                pass

            def do_GET(self):
                self._handle(b"")

            def do_POST(self):
                self._handle(self.rfile.read(int(self.headers.get("content-length") or 0)))

            def _handle(self, body: bytes):
                given = (self.headers.get("authorization") or "").removeprefix("Bearer ").strip()
                if given != gate.key:
                    return self._json(401, {"error": {"message": f"Incorrect API key provided: {given}",
                                                      "type": "invalid_request_error",
                                                      "code": "invalid_api_key"}})
                status = None
                if self.command == "POST" and self.path.endswith("/chat/completions"):
                    with gate._lock:
                        gate.chat_requests += 1
                        status = gate.inject.pop(0) if gate.inject else None
                if status is not None:
                    return self._json(status, {"error": {"message": "injected failure", "type": "test"}},
                                      {"retry-after": "0"})
                self._relay(body)

            def _relay(self, body: bytes):
                conn = http.client.HTTPConnection(*gate.upstream, timeout=300)
                try:
                    conn.request(self.command, self.path, body=body or None,
                                 headers={"content-type": "application/json"})
                    resp = conn.getresponse()
                    self.send_response(resp.status)
                    self.send_header("content-type", resp.getheader("content-type", "application/json"))
                    self.end_headers()  # no length: HTTP/1.0, the body ends when the connection closes
                    while chunk := resp.read1(65536):
                        self.wfile.write(chunk)
                        self.wfile.flush()
                finally:
                    conn.close()

            def _json(self, status: int, payload: dict, headers: dict | None = None):
                reply(self, status, json.dumps(payload).encode(), headers=headers)

        return Handler
