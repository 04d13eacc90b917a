"""Drive a running app with simulated ``gradio_client`` users for a while and count what happened.

Each user has its own client and walks a fixed round of calls -- short compressions with three methods,
/cost, /methods, /answers on the host's HTTP backend and, once a round, on the local model -- until the time
is up. A call that raises is a failure (with its message kept); a call that waits in gradio's queue is fine.
Used by ``tests/test_under_load.py`` (which asserts correctness and bounded memory, never timings) and by
``bench/load.py`` (which prints the figures).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

PROMPT = ("The museum opens at nine. Tickets cost twelve dollars for adults and six for children. "
          "Guided tours start every hour from the main hall.")
QUESTION = "Question: how much is a child's ticket?"


def round_of_calls(user: int) -> list[tuple[str, tuple]]:
    """One user's round: (endpoint, positional arguments) in order; users start at different points."""
    calls = [
        ("/compress", ("", PROMPT, QUESTION, "llmlingua", "bundled", 2.0)),
        ("/cost", (2000, 500, "gpt-4o", 1000, 100)),
        ("/compress", ("", PROMPT, QUESTION, "selective_context", "bundled", 2.0)),
        ("/methods", ()),
        ("/answers", (PROMPT + "\n" + QUESTION, QUESTION, "openai", "", "", "", 16, "six", "gpt-4o")),
        ("/compress", ("", PROMPT, QUESTION, "first_n", "bundled", 3.0)),
        ("/scorers", ()),
        ("/answers", (QUESTION, QUESTION, "local", "bundled", "", "", 4, "", "gpt-4o")),
    ]
    return calls[user % len(calls):] + calls[:user % len(calls)]


def _check(endpoint: str, out) -> None:
    """A successful call must also have a sensible answer."""
    if endpoint == "/compress":
        assert out["compressed_prompt"] and out["compressed_tokens"] <= out["origin_tokens"], out
    elif endpoint == "/answers":
        assert out["done"] and out["original"]["answer"]["error"] is None, out
    elif endpoint == "/methods":
        assert out and all("name" in m for m in out)


@dataclass
class LoadReport:
    users: int
    seconds: float                                             # wall time, first call to last answer
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # endpoint -> s
    failures: list[str] = field(default_factory=list)          # "endpoint: message"
    peak_rss_mib: float = 0.0                                  # the app process's peak resident memory

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values()) + len(self.failures)

    def table(self) -> str:
        """A markdown table of requests and latencies per endpoint, and the totals."""
        rows = ["| endpoint | answered | median s | p95 s | max s |", "|---|---|---|---|---|"]
        for name, lat in sorted(self.latencies.items()):
            ordered = sorted(lat)
            p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
            rows.append(f"| {name} | {len(lat)} | {statistics.median(lat):.2f} | {p95:.2f} | {max(lat):.2f} |")
        rows.append(f"\n{self.users} users for {self.seconds:.0f} s: {self.requests} requests, "
                    f"{len(self.failures)} failed, peak RSS of the app {self.peak_rss_mib:.0f} MiB")
        return "\n".join(rows)


def run_load(app, users: int = 8, seconds: float = 60.0) -> LoadReport:
    """Run ``users`` simulated users against ``app`` (a ``guarded_app.GuardedApp``) for ``seconds``."""
    report = LoadReport(users, 0.0)
    lock = threading.Lock()
    clients = [app.client() for _ in range(users)]
    deadline = time.monotonic() + seconds

    def user(k: int) -> None:
        calls = round_of_calls(k)
        i = 0
        while time.monotonic() < deadline:
            endpoint, args = calls[i % len(calls)]
            i += 1
            started = time.monotonic()
            try:
                out = clients[k].predict(*args, api_name=endpoint)
                _check(endpoint, out)
            except Exception as exc:  # noqa: BLE001 -- every kind of failure is what is being counted
                with lock:
                    report.failures.append(f"{endpoint}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            with lock:
                report.latencies[endpoint].append(time.monotonic() - started)

    started = time.monotonic()
    threads = [threading.Thread(target=user, args=(k,), name=f"load-user-{k}") for k in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report.seconds = time.monotonic() - started
    report.peak_rss_mib = app.peak_rss_mib()
    return report
