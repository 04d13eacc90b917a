"""Markup injection: HTML, ``<script>``, event-handler attributes and entities typed into the instruction, the
context or the question, or sent back by a downstream backend, must show as typed in every view.

A real compression (every method, the bundled scorer) of a prompt full of payloads goes through each view
the app builds -- stats cards, the struck-through diff, the cost table, the how-it-works markdown, the
heatmap's hover and cell text -- and a real answer from a backend that replies with markup (and whose
model name is markup) goes through the comparison table. No view may contain a live tag from the payload;
the escaped text must be there instead. (The two answer panels are plain text boxes, and gradio sanitizes
its Markdown, so those render text whatever they hold.)
"""

from __future__ import annotations

import html
import re

import pytest
from support.fake_llm import FakeLLM

from lingua_core import compress
from lingua_core.backends import OpenAICompatBackend
from lingua_core.compare import compare
from lingua_core.methods import REGISTRY
from lingua_core.result import Request
from ui import heatmap, pipeline, savings, views, viz

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
ENTITY = "&lt;b&gt;bold&lt;/b&gt; &amp; &#60;i&#62;"
LIVE = ("<script", "<img", "onerror=\"alert", "<b>bold", "<i>")      # what must never appear unescaped


def _no_live_markup(text: str) -> None:
    for tag in LIVE:
        assert tag not in text, (tag, text[:300])


@pytest.fixture(scope="module", params=sorted(REGISTRY))
def payload_report(request, lm):
    options = dict(getattr(REGISTRY[request.param], "offline_options", {}) or {})
    r = compress(Request(context=[f"Doc one {SCRIPT} says hello.", f"Doc two {IMG} and {ENTITY} here."],
                         instruction=f"Answer {SCRIPT}", question=f"Question: what is {IMG}? {ENTITY}",
                         rate=0.5, method=request.param, options=options or None), lm)
    report = pipeline.Report(r, lm.name, lm.source, lm.device, 0.0)
    report.heat = heatmap.build(r, lm)
    return report


def test_html_views_escape_the_prompt(payload_report):
    r = payload_report.result
    cls = REGISTRY[r.method]
    estimate = savings.estimate_texts(r.original, r.compressed, "gpt-4o", 10, 10)
    for html_text in (views.stats_html(r), views.diff_html(r), views.cost_html(estimate),
                      views.how_it_works_md(cls.label or r.method, cls.summary, r)):
        _no_live_markup(html_text)
    diff = views.diff_html(r)
    body = diff.split('<div class="lc-diff">', 1)[1].removesuffix("</div>")
    body = re.sub(r'<span class="lc-badge">context \d+ dropped whole</span>', "", body)
    shown = re.sub(r"</?(del|span)( [^>]*)?>", "", body)              # the view's own tags, nothing else
    assert shown == html.escape(r.original)                          # every character of the prompt, as text
    assert html.escape(SCRIPT) in shown and html.escape(IMG) in shown    # the payload is there, as text
    assert "&amp;lt;b&amp;gt;" in diff.replace("<del>", "").replace("</del>", "")  # entities shown as typed


def test_heatmap_hover_and_cell_text_escape_the_prompt(payload_report):
    drawn = payload_report.result.original.replace("\n", "↵").replace("\t", "→")     # as the cells show it
    for colour_by in ("self_info", "method"):
        fig = viz.token_heatmap(payload_report.heat, colour_by)
        for trace in fig.data:
            for values in (trace.text, trace.customdata, trace.hovertext):
                if values is not None:
                    _no_live_markup(" ".join(str(v) for v in (values.ravel() if hasattr(values, "ravel") else values)))
        cells = [t for t in fig.data if getattr(t, "mode", None) == "text"]
        assert len(cells) == 1                                        # the one trace that writes the tokens
        assert "".join(cells[0].text).replace("\xa0", " ") == html.escape(drawn, quote=False)
        hover = [row[0] for t in fig.data if t.customdata is not None for row in t.customdata]
        assert len(hover) == len(payload_report.heat.text)           # every token has its escaped hover text


def test_comparison_table_escapes_a_backend_answering_markup():
    with FakeLLM("html") as fake:
        backend = OpenAICompatBackend(base_url=fake.url, model=f"{IMG}{SCRIPT}", api_key="sk-x", max_retries=0)
        c = compare(f"Q {SCRIPT}", f"Q {IMG}", backend, gold_answers=[SCRIPT], max_new_tokens=8)
    assert c.original.answer.ok and "<script>" in c.original.answer.text   # the answer itself is kept as sent
    table = views.comparison_html(c)
    _no_live_markup(table)
    assert "&lt;img src=x" in table


def test_comparison_table_escapes_an_error_that_quotes_markup():
    with FakeLLM("garbage") as fake:
        c = compare("Q", "Q", OpenAICompatBackend(base_url=fake.url, model=SCRIPT, max_retries=0), max_new_tokens=4)
    _no_live_markup(views.comparison_html(c))
