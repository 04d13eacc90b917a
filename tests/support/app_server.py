"""Start ``app.py`` in a subprocess on a free loopback port and wait until it serves its page.

Used by the app's client and browser tests (each module starts its own app). The app's output goes to
``artifacts/app-<name>.log`` (kept for a look after a failure); its tail is shown if the app fails to start.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def running_app(name: str = "test", **env_extra: str):
    """Yield the base URL of a freshly started app; stop it afterwards."""
    with app_process(name, **env_extra) as (url, _proc, _log):
        yield url


@contextlib.contextmanager
def app_process(name: str = "test", **env_extra: str):
    """Like ``running_app``, yielding (base URL, the ``Popen`` of the app, the path of its log)."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", **env_extra}
    url = f"http://127.0.0.1:{port}/"
    (ROOT / "artifacts").mkdir(exist_ok=True)
    log_path = ROOT / "artifacts" / f"app-{name}.log"
    with open(log_path, "w+") as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _serving(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"app.py did not start (exit code {proc.poll()}):\n{log.read()[-3000:]}")
                time.sleep(0.5)
            yield url, proc, log_path
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
