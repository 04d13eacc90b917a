"""The app's parts (``ui/``) without a server: form parsing and the allow-list, method options as form fields,
heatmap numbers (projection, wrapping), the figure, the escaped HTML views, costs and the examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lingua_core

from lingua_core.errors import InvalidRequest
from lingua_core.methods import REGISTRY
from lingua_core.result import Piece, Result, Token
from lingua_core.tokens import count_tokens
from ui import examples, form, heatmap, pipeline, savings, views, viz
from ui.option_fields import describe, options_from, show


def tiny_result(original: str, tokens: list[tuple[int, int, float, bool]], pieces=None) -> Result:
    toks = [Token(original[s:e], s, e, score, kept, 0) for s, e, score, kept in tokens]
    pieces = pieces or [Piece("context", 0, 0, len(original))]
    kept = "".join(t.text for t in toks if t.kept)
    return Result(original=original, compressed=kept, tokens=toks, pieces=pieces, method="llmlingua",
                  score_name="score", scorer="bundled", scorer_source="test", target_model="gpt-4",
                  origin_tokens=len(original), compressed_tokens=len(kept), requested_tokens=len(kept),
                  target_met=True, seconds=0.0)


# -- form ------------------------------------------------------------------------------------------------------
def test_form_becomes_a_request():
    f = form.Form(instruction="Do it.", context="A b.\n\nC d.\n\n\n", question="Q?", method="llmlingua",
                  scorer="bundled", ratio=4.0, context_sep="\\n\\n", options={"iterative_size": 100.0})
    r = form.to_request(f)
    assert r.context == ["A b.", "C d."] and r.rate == 0.25 and r.target_token == -1
    assert r.options == {"iterative_size": 100} and isinstance(r.options["iterative_size"], int)
    r = form.to_request(form.Form(context="x ||| y", context_sep=" ||| ", target_tokens=50))
    assert r.context == ["x", "y"] and r.target_token == 50


@pytest.mark.parametrize("change, message", [
    ({"scorer": "someone/any-model"}, "not offered here"),
    ({"ratio": 0.5}, "ratio must be between"),
    ({"context": " \n "}, "Nothing to compress"),
    ({"context_sep": ""}, "separator is empty"),
    ({"options": {"iterative_size": 1.5}}, "whole number"),
    ({"method": "nope"}, "Unknown method"),
])
def test_form_errors_say_what_to_do(change, message):
    with pytest.raises(InvalidRequest, match=message):
        form.to_request(form.Form(**{"context": "Some text.", **change}))


def test_allow_list_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("LINGUA_ALLOWED_SCORERS", "bundled, gpt2")
    assert form.allowed_scorers() == ["bundled", "gpt2"]
    with pytest.raises(InvalidRequest, match="LINGUA_ALLOWED_SCORERS"):
        form.check_model_name("Qwen/Qwen2.5-0.5B")


def test_model_naming_options_are_held_to_the_allow_list():
    for name, cls in REGISTRY.items():
        for f in describe(cls.Options):
            if form.is_model_option(f.name) and f.kind == "text":
                with pytest.raises(InvalidRequest, match="not offered here"):
                    form.method_options(name, {f.name: "someone/any-model"})


def test_the_page_runs_llmlingua2_offline_on_the_bundled_head_by_default(monkeypatch):
    """The library keeps llmlingua's hub model as LLMLingua-2's default; the page (form, widgets, /methods)
    uses the bundled head, so picking the method offline works, and a host's allow-list without "bundled"
    still lets both defaults through while a typed model is checked."""
    assert form.method_options("llmlingua2", {})["model"] == "bundled"
    assert {f.name: f.default for f in form.page_fields("llmlingua2")}["model"] == "bundled"
    from lingua_core.methods.llmlingua2 import DEFAULT_MODEL
    assert form.method_options("llmlingua2", {"model": DEFAULT_MODEL})["model"] == DEFAULT_MODEL
    monkeypatch.setenv("LINGUA_ALLOWED_SCORERS", "gpt2")
    assert form.method_options("llmlingua2", {})["model"] == "bundled"
    with pytest.raises(InvalidRequest, match="not offered here"):
        form.method_options("llmlingua2", {"model": "someone/any-model"})
    monkeypatch.delenv("LINGUA_ALLOWED_SCORERS")
    request = form.to_request(form.Form(context="Alpha beta gamma. Delta epsilon zeta eta theta.", ratio=2.0,
                                        method="llmlingua2"))
    result = lingua_core.compress(request)
    assert result.method == "llmlingua2" and 0 < result.compressed_tokens < result.origin_tokens


# -- options as form fields -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_methods_options_round_trip_through_their_widgets(name):
    cls = REGISTRY[name]
    described = describe(cls.Options)
    assert [f.name for f in described] == list(cls.Options.__dataclass_fields__)
    values = options_from(cls.Options, {f.name: show(f, f.default) for f in described})
    assert cls.Options(**values) == cls.Options()


def test_options_are_described_the_same_from_many_threads_at_once():
    """The /methods endpoint under load once failed inside ast.parse, when help was parsed from source (not
    thread-safe on CPython 3.11); it is now read from the fields' metadata, and must stay the same under load."""
    from concurrent.futures import ThreadPoolExecutor

    expected = {name: describe(cls.Options) for name, cls in REGISTRY.items()}
    with ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(lambda _: {n: describe(c.Options) for n, c in REGISTRY.items()}, range(32)))
    assert all(run == expected for run in runs)
    assert any(f.help for fields_ in expected.values() for f in fields_)     # the declared help was read


def test_list_options_take_json_or_commas():
    opts = options_from(REGISTRY["llmlingua"].Options, {"force_context_ids": "0, 2"})
    assert opts["force_context_ids"] == (0, 2)
    with pytest.raises(InvalidRequest, match="JSON list"):
        options_from(REGISTRY["llmlingua"].Options, {"force_context_ids": "[0, 2"})


# -- heatmap numbers and figure -----------------------------------------------------------------------------------
def test_projection_onto_other_tokens_by_character_overlap():
    r = tiny_result("ab cd ef", [(0, 3, 1.0, True), (3, 6, 5.0, False), (6, 8, 2.0, True)])
    kept, score = heatmap.project(r, [(0, 1), (1, 4), (4, 6), (6, 8)])
    assert kept.tolist() == [True, True, False, True]
    assert score.tolist() == [1.0, 5.0, 5.0, 2.0]


@pytest.fixture(scope="module")
def report(lm, gsm8k):
    """One real compression through the app's pipeline, with the progress it reported."""
    demos, question = gsm8k
    seen = []
    out = pipeline.run(form.Form(context="\n\n".join(demos[:3]), question=question, ratio=5.0),
                       lambda frac, msg: seen.append((frac, msg)))
    return out, seen


def test_heatmap_of_a_real_compression(report):
    report, seen = report
    assert [frac for frac, _ in seen] == sorted(frac for frac, _ in seen) and seen[-1][0] == 1.0
    heat, result = report.heat, report.result
    assert "".join(heat.text) == result.original
    assert np.isfinite(heat.self_info).all() and (heat.self_info >= 0).all()
    assert heat.kept.any() and not heat.kept.all()
    by_span = {(t.start, t.end): t.kept for t in result.tokens}
    starts = np.cumsum([0] + [len(t) for t in heat.text])
    same = [(k, by_span[(s, s + len(t))]) for k, s, t in zip(heat.kept, starts, heat.text) if (s, s + len(t)) in by_span]
    assert len(same) > 0.9 * len(heat.text) and all(a == b for a, b in same)
    assert heat.lines > 3 and (heat.col + heat.width <= heat.columns + max(heat.width)).all()
    for colour_by in viz.COLOURINGS:
        fig = viz.token_heatmap(heat, colour_by)
        assert fig.layout.height > heat.lines * viz.ROW_PX
        names = [t.name for t in fig.data if t.showlegend is not False and t.name]
        assert any("kept" in n for n in names) and any("dropped" in n for n in names)


def test_the_heatmap_opens_from_the_compressions_own_scores_without_a_pass(report, lm):
    """One pass per click: the method's colouring needs only the tokenizer; self-information, when asked for,
    is the same numbers the full build gives, filled into the same tokens."""
    report, _ = report
    reads = []
    hook = lm.model.register_forward_pre_hook(lambda module, args: reads.append(1))
    try:
        quick = pipeline.add_heatmap(pipeline.Report(report.result, report.scorer, report.scorer_source,
                                                     report.device, 0.0), self_info=False).heat
        assert reads == []                                        # no model pass for the method's colouring
    finally:
        hook.remove()
    full = report.heat
    assert quick.text == full.text and quick.kept.tolist() == full.kept.tolist()
    assert np.array_equal(quick.method_score, full.method_score, equal_nan=True)
    assert np.isnan(quick.self_info).all() and not quick.has_self_info and full.has_self_info
    assert heatmap.has_method_scores(report.result)
    heatmap.with_self_info(quick, lm, report.result.original)
    assert np.array_equal(quick.self_info, full.self_info)


def test_a_method_without_scores_is_coloured_by_self_information(lm, gsm8k):
    """Every registered method scores its tokens (the baselines too: a random priority, a position), so its
    colouring is drawn from the compression; a result with no scores falls back to self-information, and the
    API's per-token export always carries self-information (its pass runs when the heatmap did not need it)."""
    from ui.compress_tab import heatmap_colouring

    unscored = pipeline.Report(tiny_result("ab cd", [(0, 2, math.nan, True), (2, 5, math.nan, False)]),
                               "bundled", "", "cpu", 0.0)
    assert heatmap_colouring(unscored, "method") == "self_info"
    demos, question = gsm8k
    r = pipeline.run(form.Form(context="\n\n".join(demos[:2]), question=question, ratio=3.0, method="random"),
                     with_heatmap=False)
    assert heatmap.has_method_scores(r.result) and heatmap_colouring(r, "method") == "method"
    pipeline.add_heatmap(r, self_info=False)
    assert not r.heat.has_self_info
    tokens = pipeline.as_dict(r, with_tokens=True)["tokens"]
    assert all(t["self_information_bits"] is not None for t in tokens)


def test_wrap_breaks_lines_at_the_width_and_at_line_breaks():
    line, col, width = heatmap.wrap(["a" * 8, "bb", "\n", "c"], columns=9)
    assert line.tolist() == [0, 1, 1, 2] and col.tolist() == [0, 0, 2, 0]


def test_figure_escapes_markup_in_tokens():
    r = tiny_result("<b>x</b>", [(0, 3, 1.0, True), (3, 4, 2.0, False), (4, 8, 3.0, True)])
    data = heatmap.HeatmapData([t.text for t in r.tokens], [heatmap.shown_text(t.text) for t in r.tokens],
                               ["context 1"] * 3, np.zeros(3, int), np.array([0, 3, 4]), np.array([3, 1, 4]),
                               np.array([1.0, 2.0, 3.0]), np.array([1.0, math.nan, 3.0]),
                               np.array([True, False, True]), "llmlingua", "score")
    fig = viz.token_heatmap(data)
    texts = [t for trace in fig.data if getattr(trace, "mode", None) == "text" for t in trace.text]
    assert "&lt;b&gt;" in texts and "<b>" not in texts


# -- views ----------------------------------------------------------------------------------------------------------
def test_diff_view_escapes_user_text_and_strikes_dropped_text():
    original = "keep <script>alert(1)</script> drop"
    r = tiny_result(original, [(0, 4, 1.0, True), (4, 31, 0.5, False), (31, 36, 0.1, True)])
    out = views.diff_html(r)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "keep<del> &lt;script&gt;alert(1)&lt;/script&gt; </del>drop" in out


def test_dropped_context_is_boxed_with_its_number():
    r = tiny_result("aa\n\nbb", [(0, 2, 1.0, False), (4, 6, 1.0, True)],
                    [Piece("context", 0, 0, 2, kept=False), Piece("context", 1, 4, 6)])
    r.tokens[1].piece = 1
    assert "context 1 dropped whole" in views.diff_html(r)


def test_how_it_works_lists_each_stage(report):
    report, _ = report
    text = views.how_it_works_md("LLMLingua", REGISTRY["llmlingua"].summary, report.result)
    for stage in report.result.stages:
        assert stage.name in text
    assert "dropped" in text


# -- costs -------------------------------------------------------------------------------------------------------
def test_costs_recount_in_the_chosen_llms_tokenizer():
    original, compressed = "word " * 400, "word " * 100
    e = savings.estimate_texts(original, compressed, "gpt-4o", requests_per_day=10, output_tokens=50)
    assert e.original_tokens == count_tokens(original, "gpt-4o")
    assert e.per_month_original == pytest.approx(e.per_request_original * 10 * savings.DAYS_PER_MONTH)
    assert 0 < e.saved_share < 1 and "Saving" in views.cost_html(e)
    with pytest.raises(InvalidRequest):
        savings.estimate(10, 5, "gpt-4o", requests_per_day=-1)


# -- examples ----------------------------------------------------------------------------------------------------
def test_examples_load_with_registered_methods_and_sources():
    found = examples.all_examples()
    assert [e.name for e in found] == list(examples.ORDER)
    for e in found:
        assert e.method in REGISTRY and e.source and e.context and 1.5 <= e.ratio <= 20
    cot = examples.by_name("gsm8k_cot")
    prompt = "\n\n".join([cot.instruction, cot.context_text, cot.question])
    assert count_tokens(prompt) > 2000
    assert "<llmlingua, compress=False>" in examples.by_name("structured_json").context_text


def test_the_progress_counts_every_read_of_the_scorer(lm):
    """Whole-model calls (LLMLingua's windows) and the packed passes that run the LM head themselves
    (LongLLMLingua's ranking) both move the bar, each read counted once."""
    from lingua_core import scoring
    from ui.compress_tab import ScorerReads

    said = []
    docs = [scoring.tokenize(lm, t).ids for t in ("The first document.", "A second, longer document here.")]
    reads = ScorerReads(lambda fraction, desc: said.append((fraction, desc)), "x", total=1000)
    reads(0.1, "Compressing")
    scoring.head_split(lm)                    # its one-off check reads a few tokens: not part of what is counted
    with reads.attached(lm):
        scoring.score_many(lm, docs)
        packed = reads.read
        scoring.score(lm, docs[0])
    assert packed == sum(len(d) + 1 for d in docs)                   # one row: [start] + doc, twice
    assert reads.read == packed + 1 + len(docs[0])                   # the windowed pass: [start], then the doc
    assert said[-1][1] == f"Compressing: the scorer has read {reads.read:,} of the prompt's 1,000 tokens"


def test_warm_up_loads_the_scorer_and_the_bundled_encoders():
    """The app's start-up warm-up leaves every offline model a first click may need loaded (the scorer, and the
    MiniLM encoders minilingua and LLMLingua-2 read), so that click does not pay for loading them."""
    from lingua_core import loading

    seconds = pipeline.warm_up()
    loaded = {(k[0], k[2]) for k in loading._cache}
    assert seconds > 0 and ("bundled", "causal") in loaded
    assert set(pipeline.BUNDLED_ENCODERS) <= loaded
