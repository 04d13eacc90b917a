"""The base of the tests' loopback HTTP servers (``fake_llm.py``, ``openai_gate.py``): a threading server on
a free 127.0.0.1 port, served from a daemon thread, its OpenAI-style base URL in ``url``."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class LoopbackServer:
    def serve(self, handler) -> None:
        """Start serving ``handler`` (a BaseHTTPRequestHandler class); sets ``server`` and ``url``."""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
