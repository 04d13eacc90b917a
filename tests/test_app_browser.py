"""The app in a real browser: Debian's Chromium, headless, driven by Playwright.

Loads the page, picks the GSM8K example, presses Compress, and checks that the compressed prompt, the
token heatmap and the cost figures appear; recolours the heatmap; on the NQ example checks the panel names the
stage and a second click while it compresses queues nothing; checks an empty form gives a readable
error. A full-page screenshot is saved to ``artifacts/app.png``. On a short prompt it then runs a 3-point
sweep in the Explore tab (screenshot ``artifacts/explore.png``), clicks rows of its table and sees the
Compress tab show exactly those compressions, downloads the JSON export, and runs the Batch tab on a bad
and a good file. Skipped, with the reason, when Chromium or Playwright is missing (``make browser`` installs
Chromium; ``playwright install`` cannot download here).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from support.app_server import ROOT, running_app

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

    from ui.examples import by_name

    example = by_name("gsm8k_cot")
    page.get_by_text(example.label).click()
    expect(page.locator("#context textarea")).to_have_value(example.context_text)
    page.locator("#compress").click()
    expect(page.locator("#compressed textarea")).not_to_have_value("", timeout=RESULT_TIMEOUT_MS)
    compressed = page.locator("#compressed textarea").input_value()
    assert example.question in compressed and len(compressed) < len(example.context_text) / 3
    expect(page.locator("#heatmap .js-plotly-plot")).to_be_visible(timeout=60_000)
    from lingua_core.methods import REGISTRY
    # the colour bar: the method's own score, from its compression (no second pass)
    expect(page.locator("#heatmap")).to_contain_text(REGISTRY[example.method].score_name)
    expect(page.locator("#stats")).to_contain_text("tokens")
    expect(page.locator("#cost")).to_contain_text("Saving")
    assert page.locator("#diff del").count() > 0                                        # dropped text, in place
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app.png"), full_page=True)


def test_heatmap_recolours_by_self_information(page):
    """Choosing self-information runs its pass once, then the heatmap shows it (and the method's again)."""
    from playwright.sync_api import expect

    from ui.examples import by_name
    from lingua_core.methods import REGISTRY

    page.get_by_text("Scorer self-information (bits)").click()
    expect(page.locator("#heatmap")).to_contain_text("self-information (bits)", timeout=RESULT_TIMEOUT_MS)
    page.get_by_text("The method's own score").click()
    score_name = REGISTRY[by_name("gsm8k_cot").method].score_name
    expect(page.locator("#heatmap")).to_contain_text(score_name, timeout=30_000)


def test_a_second_click_while_compressing_starts_no_second_compression(page):
    """Click Compress on the NQ example, wait for the stage label (the compression is running), click again:
    the server answers one /queue/join for the compression (a duplicate would be queued at once, long before
    the first is shown), and the panel names the stage and how far the scorer has read."""
    from playwright.sync_api import expect

    from ui.examples import by_name

    joins = []           # (fn_index, HTTP status) of every queue/join the server answered

    def on_response(response):
        if response.request.method == "POST" and "/queue/join" in response.url:
            joins.append((json.loads(response.request.post_data)["fn_index"], response.status))

    example = by_name("nq_rag")
    page.get_by_text(example.label).click()
    expect(page.locator("#context textarea")).to_have_value(example.context_text)
    before = page.locator("#compressed textarea").input_value()
    page.on("response", on_response)
    try:
        page.locator("#compress").click()
        stage = page.get_by_text("Compressing with").first
        expect(stage).to_be_visible(timeout=RESULT_TIMEOUT_MS)           # the panel names the stage
        page.locator("#compress").click()                                 # while that compression runs
        assert stage.is_visible(), "the compression ended before the second click; the test proves nothing"
        expect(page.get_by_text("the scorer has read").first).to_be_visible(timeout=RESULT_TIMEOUT_MS)
        expect(page.locator("#compressed textarea")).not_to_have_value(before, timeout=RESULT_TIMEOUT_MS)
        for _ in range(600):                                              # the heatmap step is queued...
            if len(joins) >= 2:
                break
            page.wait_for_timeout(100)
        heat = page.get_by_text("Scoring every token for the heatmap")
        expect(heat).to_have_count(0, timeout=RESULT_TIMEOUT_MS)         # ...and done before the next test
    finally:
        page.remove_listener("response", on_response)
    assert example.question in page.locator("#compressed textarea").input_value()
    assert joins and all(status == 200 for _, status in joins), joins
    assert [fn for fn, _ in joins].count(joins[0][0]) == 1, joins       # the second click queued nothing


def test_empty_form_gives_a_readable_error(page):
    from playwright.sync_api import expect

    for box in ("#instruction", "#context", "#question"):
        page.locator(f"{box} textarea").fill("")
    page.locator("#compress").click()
    expect(page.get_by_text("Nothing to compress")).to_be_visible(timeout=30_000)


SHORT = ("The release moves to Monday because the export dialog still times out on large tables.\n\n"
         "Jonas owns the database migration and will run it on Thursday evening after the code freeze.\n\n"
         "The on-call rotation for next month is postponed to the next meeting, as two people are away.")
QUESTION = "Question: who owns the migration?"


def expected_point(lm, ratio: float) -> str:
    """What a fresh compression of the short prompt returns at ``ratio`` (the form's default settings)."""
    from dataclasses import replace

    from lingua_core import compress
    from ui import form

    request = form.to_request(form.Form(context=SHORT, question=QUESTION, method="llmlingua", scorer="bundled",
                                        ratio=4.0))
    return compress(replace(request, rate=1 / ratio), lm).compressed


def test_explore_sweep_point_opens_in_the_compress_tab(page, lm):
    """Sweep a short prompt (3 points, LLMLingua and the random baseline), then click rows of the points
    table: the Compress tab's side-by-side view shows exactly that point's compression."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Compress").click()
    page.locator("#instruction textarea").fill("")
    page.locator("#context textarea").fill(SHORT)
    page.locator("#question textarea").fill(QUESTION)
    page.get_by_role("tab", name="Explore: ratio sweep").click()
    expect(page.locator("#sweep-source")).to_contain_text("3 context(s)")
    page.locator("#sweep-methods").get_by_label("Selective Context (self-information)").uncheck()  # keeps random
    for box, value in (("#sweep-low input", "2"), ("#sweep-high input", "8"),
                       ("#sweep-points input[type=number]", "3")):
        page.locator(box).fill(value)
        page.locator(box).press("Tab")
    page.locator("#sweep-run").click()
    rows = page.locator("#sweep-table .virtual-row")              # Gradio 6's table body: virtual rows
    expect(rows).to_have_count(6, timeout=RESULT_TIMEOUT_MS)                 # LLMLingua, then the random baseline
    expect(page.locator("#sweep-plot .js-plotly-plot")).to_be_visible(timeout=30_000)
    expect(page.locator("#sweep-plot")).to_contain_text("Information kept")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explore.png"), full_page=True)

    for row, ratio in ((2, 8.0), (0, 2.0)):
        page.get_by_role("tab", name="Explore: ratio sweep").click()
        page.locator(f"#sweep-table [data-testid=cell-{row}-1]").click()
        expect(page.locator("#shown")).to_contain_text(f"sweep point #{row}", timeout=60_000)
        expect(page.locator("#compressed textarea")).to_have_value(expected_point(lm, ratio), timeout=30_000)
        expect(page.locator("#stats")).to_contain_text("tokens")
    page.get_by_text("Export: this compression as JSON").click()
    expect(page.locator("#export-json")).to_contain_text('"schema_version": 1', timeout=30_000)
    with page.expect_download() as download:
        page.locator("#export-download").click()
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported["compressed"] == expected_point(lm, 2.0) and exported["settings"]["rate"] == 0.5


def test_batch_tab_compresses_a_file_and_refuses_a_bad_one(page, tmp_path):
    from playwright.sync_api import expect

    bad, good = tmp_path / "bad.csv", tmp_path / "prompts.jsonl"
    bad.write_text("text,question\nno prompt column here,who?\n", encoding="utf-8")
    good.write_text("".join(json.dumps({"prompt": p, "id": i}) + "\n" for i, p in enumerate(SHORT.split("\n\n"))),
                    encoding="utf-8")
    page.get_by_role("tab", name="Batch").click()
    expect(page.locator("#batch-settings")).to_contain_text("Setting from the Compress tab")
    page.locator("#batch-file input[type=file]").set_input_files(str(bad))
    page.locator("#batch-run").click()
    expect(page.get_by_text("bad.csv row 2: every row needs a text column 'prompt'")).to_be_visible(timeout=30_000)
    page.locator("#batch-file button[aria-label='Clear']").click()          # the upload area comes back
    page.locator("#batch-file input[type=file]").set_input_files(str(good))
    page.locator("#batch-run").click()
    expect(page.locator("#batch-summary")).to_contain_text("3 of 3 prompts compressed", timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#batch-table .virtual-row")).to_have_count(3)
    with page.expect_download() as download:
        page.locator("#batch-csv").click()
    rows = list(csv.DictReader(open(download.value.path(), encoding="utf-8")))
    assert [r["id"] for r in rows] == ["0", "1", "2"] and all(int(r["compressed_tokens"]) > 0 for r in rows)
