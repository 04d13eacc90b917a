"""The base of the tests' loopback HTTP servers (``fake_llm.py``, ``openai_gate.py``): a threading server on
a free port of 127.0.0.1 (or ``::1``), plain HTTP or TLS, served from a daemon thread, its OpenAI-style base
URL in ``url``."""

from __future__ import annotations

import socket
import ssl
import threading
from http.server import ThreadingHTTPServer


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def reply(handler, status: int, data: bytes, ctype: str = "application/json", headers: dict | None = None) -> None:
    """Send one whole HTTP reply from a BaseHTTPRequestHandler: status, content type and length, any extra
    headers, then ``data``."""
    handler.send_response(status)
    handler.send_header("content-type", ctype)
    handler.send_header("content-length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


class LoopbackServer:
    def serve(self, handler, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        """Start serving ``handler`` (a BaseHTTPRequestHandler class) on ``host`` ("127.0.0.1" or "::1"), over
        TLS when ``tls`` (a server-side context) is given; sets ``server`` and ``url``."""
        self.server = (_IPv6Server if ":" in host else ThreadingHTTPServer)((host, 0), handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        netloc = f"[{host}]" if ":" in host else host
        self.url = f"{'https' if tls else 'http'}://{netloc}:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
