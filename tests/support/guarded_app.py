"""The app as a host would run it with a secret, started once for the reliability tests (``conftest.guarded_app``).

It runs ``app.py`` in a subprocess (``app_server.app_process``) with a random host key in
``OPENAI_API_KEY``, a ``fake_llm.FakeLLM`` as the host's backend (``LINGUA_BACKEND_URL``), a short backend
timeout, gradio's temp folder in a fresh directory, prompt logging off, and a hub model on the scorer
allow-list that cannot load offline. The secret, fault, bad-input, markup and load tests share it, and
``bench/load.py`` starts it too.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

from .app_server import app_process
from .fake_llm import FakeLLM

OFFLINE_HUB_SCORER = "HuggingFaceTB/SmolLM2-360M-Instruct"   # allowed, never downloaded: HF_HUB_OFFLINE=1
BACKEND_TIMEOUT_S = 3


@dataclass
class GuardedApp:
    url: str                 # the app's base URL
    proc: Popen              # the app's process (for its peak RSS)
    log: Path                # everything it printed, stdout and stderr
    temp_dir: Path           # GRADIO_TEMP_DIR
    host: FakeLLM            # the host's configured backend
    host_key: str            # OPENAI_API_KEY of the app

    def client(self):
        """A fresh ``gradio_client.Client`` for this app (one per simulated user)."""
        from gradio_client import Client

        return Client(self.url, verbose=False)

    def raw_call(self, api_name: str, data: list) -> tuple[str, object]:
        """Call an endpoint over plain HTTP with Python's JSON, which can carry what ``gradio_client`` refuses
        to send (NaN, lone surrogates as escapes): ("complete", output) or ("error", message)."""
        body = json.dumps({"data": data}).encode()          # ensure_ascii: "\ud800" travels as an escape
        request = urllib.request.Request(f"{self.url}gradio_api/call/{api_name}", data=body,
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as r:
            event_id = json.loads(r.read())["event_id"]
        with urllib.request.urlopen(f"{self.url}gradio_api/call/{api_name}/{event_id}", timeout=300) as r:
            text = r.read().decode()
        event = text.split("event: ")[-1]
        kind, _, payload = event.partition("\ndata: ")
        data = json.loads(payload)
        return kind.strip(), (data["error"] if kind.strip() == "error" else data[0])

    def peak_rss_mib(self) -> float:
        """The app process's peak resident memory so far (VmHWM from /proc; psutil's current RSS elsewhere)."""
        status = Path(f"/proc/{self.proc.pid}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        import psutil

        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def written_files(self, *extra: Path) -> list[Path]:
        """Every file the app may have written: its log, gradio's temp folder, and ``extra`` folders."""
        out = [self.log]
        for root in (self.temp_dir, *extra):
            if root.exists():
                out += [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
        return out


@contextlib.contextmanager
def started(name: str = "guarded", **env_extra: str):
    """Start the guarded app; yield a ``GuardedApp``; stop it and remove its temp folder afterwards."""
    temp_dir = Path(tempfile.mkdtemp(prefix="lingua-gradio-"))
    key = f"sk-test-{secrets.token_hex(16)}"
    env = {"OPENAI_API_KEY": key, "GRADIO_TEMP_DIR": str(temp_dir), "LINGUA_BACKEND_TIMEOUT_S":
           str(BACKEND_TIMEOUT_S), "LINGUA_LOG_PROMPTS": "0", "LINGUA_BACKEND_MODEL": "fake-model",
           "LINGUA_ALLOWED_SCORERS": f"bundled,{OFFLINE_HUB_SCORER}", "LINGUA_SCORER": "bundled", **env_extra}
    try:
        with FakeLLM() as host:
            env["LINGUA_BACKEND_URL"] = host.url
            with app_process(name, **env) as (url, proc, log):
                yield GuardedApp(url, proc, log, temp_dir, host, key)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
