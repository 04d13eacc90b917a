"""How long the app takes to start and to compress the GSM8K chain-of-thought example; prints the figures.

    python bench/startup.py               # cold (empty model cache) and warm start, then one CoT compression

For each start it launches ``app.py`` on a free loopback port and reports seconds from the process start to
(1) the page being served (HTTP 200), (2) the page rendered in Chromium with its Compress button (when
/usr/bin/chromium and playwright are there), and (3) the scorer being warm (the app's log line). "Cold" uses a
fresh, empty LINGUA_CACHE_DIR, so the bundled GGUF is converted again; "warm" reuses that cache. Python's
own files stay in the OS page cache either way. Then, on the warm app, one /compress call of the CoT example
at 10x through gradio_client: the request's wall time, the compression alone and the heatmap pass.

Wall times depend on what else the machine is doing, so the app process's CPU seconds (user + system, from
/proc) are printed too: on an otherwise idle machine the wall time is roughly CPU seconds / cores used.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
TIMEOUT_S = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def wait_for(check, started: float, what: str) -> float:
    while not check():
        if time.perf_counter() - started > TIMEOUT_S:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.1)
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rendered_s(url: str, started: float) -> float | None:
    """Seconds from ``started`` until Chromium shows the Compress button; None without a browser."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(CHROMIUM).exists():
        return None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(url)
        page.locator("#compress").wait_for(timeout=TIMEOUT_S * 1000)
        seconds = time.perf_counter() - started
        browser.close()
    return seconds


def start(cache_dir: str, log_path: Path) -> tuple[subprocess.Popen, str, dict]:
    port = free_port()
    env = {**os.environ, "LINGUA_CACHE_DIR": cache_dir, "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                            stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    figures = {"page served": wait_for(lambda: serving(url), started, "the page")}
    figures["(app CPU s so far)"] = cpu_seconds(proc.pid)
    figures["page rendered"] = rendered_s(url, started)
    figures["scorer warm"] = wait_for(lambda: "warmed up" in log_path.read_text() or proc.poll() is not None,
                                      started, "the warm-up")
    figures["(app CPU s, warm)"] = cpu_seconds(proc.pid)
    if proc.poll() is not None:
        raise SystemExit(f"app.py exited:\n{log_path.read_text()[-2000:]}")
    return proc, url, figures


def compress_cot(url: str, pid: int) -> dict:
    from gradio_client import Client

    client = Client(url, verbose=False)
    ex = client.predict("gsm8k_cot", api_name="/example")
    cpu, started = cpu_seconds(pid), time.perf_counter()
    out = client.predict(ex["instruction"], ex["context"], ex["question"], "llmlingua", "bundled", 10.0, 0,
                         ex["context_sep"], "gpt-4", {}, True, api_name="/compress")  # True: heatmap pass too
    after = cpu_seconds(pid)
    return {"request (wall)": time.perf_counter() - started,
            "(app CPU s)": after - cpu if cpu is not None and after is not None else None,
            "compression": out["seconds"],
            "heatmap pass": out["heatmap_seconds"],
            "origin tokens": out["origin_tokens"], "compressed tokens": out["compressed_tokens"],
            "ratio": out["ratio"]}


def show(title: str, figures: dict) -> None:
    print(title)
    for name, value in figures.items():
        shown = "n/a" if value is None else (
            f"{value:.2f} s" if isinstance(value, float) and name not in ("ratio",) else f"{value:.4g}")
        print(f"  {name:<20} {shown}")


def main() -> None:
    print(f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="lingua-bench-") as cache:
        for label in ("cold start (empty model cache)", "warm start (cached model)"):
            log = Path(cache) / "app.log"
            proc, url, figures = start(cache, log)
            try:
                match = re.search(r"warmed up in ([\d.]+) s", log.read_text())
                figures["(warm-up itself)"] = float(match.group(1)) if match else None
                show(label, figures)
                if label.startswith("warm"):
                    show("one compression of the GSM8K CoT example at 10x (heatmap pass included in wall)",
                         compress_cot(url, proc.pid))
            finally:
                proc.terminate()
                proc.wait(timeout=30)


if __name__ == "__main__":
    main()
