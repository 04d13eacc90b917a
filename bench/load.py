"""Load: 8 simulated gradio_client users against the app for 60 s; prints requests, failures, latencies (per
endpoint: median = p50, p95, max; /compress among them) and the app's peak RSS.

    python bench/load.py                        # 8 users, 60 s (the figures in docs/reliability.md)
    python bench/load.py --users 16 --seconds 120

It starts the app the way the reliability tests do (``tests/support/guarded_app.py``: bundled scorer, a host key,
a loopback OpenAI-compatible server as the host's backend) and drives it with ``tests/support/load_driver.py``:
each user walks a round of short compressions (three methods), /cost, /methods, /scorers and /answers on
the HTTP backend and the local model. Compressions and local answers queue for the one model (one pass at a
time); HTTP answers and info calls do not wait for them. Latencies include that queueing, so they depend on
the machine and on what else runs on it; the failures and the peak RSS are the figures that should hold.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from support.guarded_app import started  # noqa: E402
from support.load_driver import run_load  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with started("bench-load") as app:
        app.client().predict("", "Warm up the scorer.", "", "first_n", "bundled", 2.0, api_name="/compress")
        before = app.peak_rss_mib()
        report = run_load(app, args.users, args.seconds)
    print(report.table())
    print(f"peak RSS after start and one compression: {before:.0f} MiB; after the load: {report.peak_rss_mib:.0f} MiB")
    for failure in report.failures[:20]:
        print("FAILED", failure)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
