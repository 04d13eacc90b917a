"""Load: 8 concurrent ``gradio_client`` users drive the shared app for 60 s (``load_driver.py``).

Every request must be answered (waiting in the queue is fine), none may fail, and the app's peak resident
memory must stay bounded. Marked ``slow`` (over a minute): ``make test-all`` runs it, ``make test`` does not. Timings are printed, never asserted (``bench/load.py`` prints the same figures).
Also checked: HTTP backends really run side by side (their queue group allows several at once) while model
work keeps its one-at-a-time group.
"""

from __future__ import annotations

import threading

import pytest

from support.fake_llm import FakeLLM
from support.load_driver import run_load

from ui import downstream_tab

USERS, SECONDS = 8, 60
RSS_BOUND_MIB = 4096       # generous: the app with the bundled scorer sits well under 2 GiB


@pytest.mark.slow
def test_eight_users_for_a_minute(guarded_app):
    report = run_load(guarded_app, USERS, SECONDS)
    print("\n" + report.table())
    assert not report.failures, report.failures[:5]
    assert {"/compress", "/cost", "/methods", "/answers"} <= set(report.latencies)
    assert report.requests >= USERS                       # every user got answers
    assert report.peak_rss_mib < RSS_BOUND_MIB
    assert guarded_app.client().predict(api_name="/scorers")["default"] == "bundled"


def test_http_answers_run_side_by_side(guarded_app):
    assert downstream_tab.CONCURRENCY["concurrency_limit"] > 1 and downstream_tab.CONCURRENCY["concurrency_id"] != "model"
    with FakeLLM() as server:
        server.pause_s = 1.0                              # each request held a second: overlaps are visible
        clients = [guarded_app.client() for _ in range(3)]
        outs: list = []
        threads = [threading.Thread(target=lambda c=c: outs.append(c.predict(
            "Question: 2 + 2?", "2 + 2?", "openai", "fake-model", server.url, "", 8, api_name="/answers")))
            for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(outs) == 3 and all(o["done"] and o["original"]["answer"]["error"] is None for o in outs)
    assert server.max_in_flight > 2                       # more than one /answers call at once (2 prompts each)
