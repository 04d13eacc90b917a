"""Benchmark of what a visitor waits for: click -> compression shown and click -> heatmap drawn, in a real browser,
each as a ratio to one plain forward pass of the same scorer over the same prompt, measured in the same run.

It starts the app (``tests/support/app_server.py``: a free loopback port, the bundled scorer), waits until the
app has warmed its scorer, and drives Debian's headless Chromium with Playwright. For each bundled example
and each method the page offers (``REGISTRY``, or the filters below) it presses Clear, clicks the example, picks
the method, and clicks Compress; a script in the page stamps ``performance.now()`` at the click, when the
compressed prompt appears, and when the heatmap's plot is drawn (one requestAnimationFrame of resolution).
The forward pass is timed in this process on the same prompt (``core_speed.forward_seconds``, median of 3) with
the app idle. Issue 14's goals: compression shown <= 1.25x, heatmap drawn <= 1.5x.

    python bench/ui_latency.py                                   # every example x every method (long)
    python bench/ui_latency.py --methods own                     # each example with its own method
    python bench/ui_latency.py --examples gsm8k_cot --methods llmlingua random

Prints a Markdown table and the CPU (``lscpu``); a method that fails on an example shows its error instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WARM_TIMEOUT_S = 300          # the app's scorer warm-up on a busy 2-core machine
CLICK_TIMEOUT_MS = 600_000    # one click's compression and heatmap

# Stamps, relative to the click on Compress: when the compressed prompt is shown, when the heatmap's plot is
# drawn, or the error a toast shows. One requestAnimationFrame loop, started by the click itself.
ARM = """() => {
  const l = window.__lat = {};
  document.querySelector('#compress').addEventListener('click', () => {
    l.t0 = performance.now();
    const tick = () => {
      const now = performance.now(), box = document.querySelector('#compressed textarea');
      if (l.shown === undefined && box && box.value) l.shown = now - l.t0;
      if (l.heat === undefined && document.querySelector('#heatmap .js-plotly-plot')) l.heat = now - l.t0;
      const err = document.querySelector('.toast-body.error');
      if (err && l.error === undefined) l.error = err.innerText;
      if ((l.shown === undefined || l.heat === undefined) && l.error === undefined) requestAnimationFrame(tick);
    };
    tick();
  }, {once: true, capture: true});
}"""
CLEARED = """() => !document.querySelector('#heatmap .js-plotly-plot')
  && document.querySelector('#compressed textarea').value === ''"""


@dataclass
class Row:
    example: str
    method: str
    scorer_tokens: int
    forward_s: float
    shown_s: float | None = None      # click -> compressed prompt shown
    heat_s: float | None = None       # click -> heatmap drawn
    error: str = ""

    def cells(self) -> str:
        def ratio(s):
            return f"{s:.2f} s ({s / self.forward_s:.2f}x)" if s is not None else "-"

        tail = f"{ratio(self.shown_s)} | {ratio(self.heat_s)}" if not self.error else f"error: {self.error} | -"
        return f"| {self.example} | {self.method} | {self.scorer_tokens:,} | {self.forward_s:.2f} s | {tail} |"


def example_form(example, method: str):
    """The form the page sends when ``example`` is clicked and ``method`` picked (every other field its default)."""
    from ui import form

    return form.Form(instruction=example.instruction, context=example.context_text, question=example.question,
                     method=method, scorer="bundled", ratio=example.ratio,
                     context_sep=form.encode_escapes(example.context_sep))


def prompt_of(example, method: str) -> str:
    """The prompt the page sends for ``example`` with ``method`` (the form's defaults), as the scorer reads it."""
    from lingua_core.selection import layout
    from ui import form

    return layout(form.to_request(example_form(example, method)))[0]


def wait_warm(log: Path) -> None:
    """Until the app's log says its scorer is warm (``app.warm_up``)."""
    deadline = time.monotonic() + WARM_TIMEOUT_S
    while "scorer warmed up" not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the app did not warm its scorer within {WARM_TIMEOUT_S} s; see {log}")
        time.sleep(1)


def pick_method(page, label: str) -> None:
    """Choose ``label`` in the Method dropdown the way a visitor does."""
    box = page.locator("#method input")
    box.click()
    box.fill(label)
    page.get_by_role("option", name=label, exact=True).click()


def click_once(page, example, method: str, label: str) -> dict:
    """Clear, fill the example, pick the method, click Compress; the page's stamps (ms after the click)."""
    page.locator("#clear").click()
    page.wait_for_function(CLEARED, timeout=60_000)
    page.get_by_text(example.label, exact=True).click()
    page.wait_for_function("v => document.querySelector('#context textarea').value === v", arg=example.context_text,
                           timeout=60_000)
    if method != example.method:
        pick_method(page, label)
    page.evaluate(ARM)
    page.locator("#compress").click()
    page.wait_for_function("() => (window.__lat.heat !== undefined && window.__lat.shown !== undefined)"
                           " || window.__lat.error !== undefined", timeout=CLICK_TIMEOUT_MS, polling=200)
    stamps = page.evaluate("() => window.__lat")
    if stamps.get("error"):                       # let the toast go before the next click
        page.wait_for_timeout(500)
    return stamps


def measure(pairs, lm) -> list[Row]:
    from core_speed import forward_seconds
    from playwright.sync_api import sync_playwright
    from support.app_server import app_process

    from lingua_core.methods import REGISTRY
    from lingua_core.scoring import tokenize

    rows = []
    with app_process("ui-latency") as (url, _proc, log), sync_playwright() as pw:
        wait_warm(log)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url, wait_until="load")
        page.locator("#compress").wait_for()
        for example, method in pairs:
            text = prompt_of(example, method)
            row = Row(example.name, method, len(tokenize(lm, text).ids), forward_seconds(lm, text))
            stamps = click_once(page, example, method, REGISTRY[method].label or method)
            row.shown_s = stamps["shown"] / 1000 if "shown" in stamps else None
            row.heat_s = stamps["heat"] / 1000 if "heat" in stamps else None
            row.error = (stamps.get("error") or "").splitlines()[-1][:120] if stamps.get("error") else ""
            print(row.cells(), flush=True)
            rows.append(row)
        browser.close()
    return rows


def main(argv=None) -> int:
    from scorer_dtype import cpu

    from lingua_core.loading import load_model
    from lingua_core.methods import REGISTRY
    from ui import examples

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", nargs="+", default=None, help="example names (default: every bundled one)")
    parser.add_argument("--methods", nargs="+", default=None,
                        help="method names (default: every registered one); 'own' = each example's own method")
    args = parser.parse_args(argv)
    chosen = [examples.by_name(n) for n in args.examples] if args.examples else examples.all_examples()
    asked = args.methods or list(REGISTRY)
    unknown = sorted(set(asked) - set(REGISTRY) - {"own"})
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from: own, {', '.join(REGISTRY)}")
    pairs = [(e, m) for e in chosen for m in dict.fromkeys(e.method if m == "own" else m for m in asked)]
    lm = load_model("bundled")
    header = ["| example | method | scorer tokens | one forward pass | click -> compression shown | "
              "click -> heatmap drawn |", "|---|---|---|---|---|---|"]
    print("\n".join(header), flush=True)
    rows = measure(pairs, lm)
    print("\n" + "\n".join(header + [r.cells() for r in rows]))
    print(f"torch threads (this process): {__import__('torch').get_num_threads()}")
    print(cpu())
    return 0


if __name__ == "__main__":
    sys.exit(main())
