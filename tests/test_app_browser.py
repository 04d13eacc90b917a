"""The app in a real browser: Debian's Chromium, headless, driven by Playwright.

Loads the page, picks the GSM8K example, presses Compress, and checks that the compressed prompt, the
token heatmap and the cost figures appear; recolours the heatmap; checks an empty form gives a readable
error. A full-page screenshot is saved to ``artifacts/app.png``. Skipped, with the reason, when Chromium
or Playwright is missing (``make browser`` installs Chromium; ``playwright install`` cannot download here).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from app_server import ROOT, running_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts"
RESULT_TIMEOUT_MS = 240_000     # a first compression on a busy 2-core machine
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: `apt-get install chromium` "
                                "(make browser) to run the browser tests")


@pytest.fixture(scope="module")
def page():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with running_app("browser") as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.locator("#compress").wait_for()
        yield page
        browser.close()


def test_example_compresses_and_shows_every_view(page):
    from playwright.sync_api import expect

    from lingua_core.examples import by_name

    example = by_name("gsm8k_cot")
    page.get_by_text(example.label).click()
    expect(page.locator("#context textarea")).to_have_value(example.context_text)
    page.locator("#compress").click()
    expect(page.locator("#compressed textarea")).not_to_have_value("", timeout=RESULT_TIMEOUT_MS)
    compressed = page.locator("#compressed textarea").input_value()
    assert example.question in compressed and len(compressed) < len(example.context_text) / 3
    expect(page.locator("#heatmap .js-plotly-plot")).to_be_visible(timeout=60_000)
    expect(page.locator("#heatmap")).to_contain_text("self-information (bits)")       # the colour bar
    expect(page.locator("#stats")).to_contain_text("tokens")
    expect(page.locator("#cost")).to_contain_text("Saving")
    assert page.locator("#diff del").count() > 0                                        # dropped text, in place
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app.png"), full_page=True)


def test_heatmap_recolours_by_the_methods_score(page):
    from playwright.sync_api import expect

    from lingua_core.examples import by_name
    from lingua_core.methods import REGISTRY

    page.get_by_text("The method's own score").click()
    score_name = REGISTRY[by_name("gsm8k_cot").method].score_name
    expect(page.locator("#heatmap")).to_contain_text(score_name, timeout=30_000)


def test_empty_form_gives_a_readable_error(page):
    from playwright.sync_api import expect

    for box in ("#instruction", "#context", "#question"):
        page.locator(f"{box} textarea").fill("")
    page.locator("#compress").click()
    expect(page.get_by_text("Nothing to compress")).to_be_visible(timeout=30_000)
