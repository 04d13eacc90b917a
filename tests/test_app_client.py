"""The app's named API endpoints, driven by ``gradio_client`` against the launched app on the bundled model.

Every endpoint is called with real inputs: the examples from ``assets/``, every registered method on a short
prompt, the cost arithmetic, the local downstream backend, and the errors a client gets for a scorer off the
allow-list, an unknown option or an unknown example.
"""

from __future__ import annotations

import pytest
from support.app_server import running_app
from support.helpers import is_subsequence

from lingua_core.methods import REGISTRY
from ui import examples, form
from ui.option_fields import describe, show

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def client():
    from gradio_client import Client

    with running_app("client") as url:
        yield Client(url, verbose=False)


def full_prompt(ex: dict) -> str:
    return "\n\n".join(p for p in (ex["instruction"], ex["context"], ex["question"]) if p)


def test_info_endpoints_list_the_registry_allow_list_and_prices(client):
    methods = client.predict(api_name="/methods")
    assert [m["name"] for m in methods] == list(REGISTRY)
    for m in methods:
        assert [o["name"] for o in m["options"]] == [f.name for f in describe(REGISTRY[m["name"]].Options)]
        assert m["label"] and m["summary"]
    scorers = client.predict(api_name="/scorers")
    assert scorers["allowed"] == form.allowed_scorers() and scorers["default"] in scorers["allowed"]
    prices = client.predict(api_name="/prices")
    assert prices and all(p["input_per_mtok"] > 0 for p in prices)


def test_examples_endpoint_gives_every_asset(client):
    listed = client.predict(api_name="/examples")
    assert [e["name"] for e in listed] == [e.name for e in examples.all_examples()]
    for e in listed:
        ex = client.predict(e["name"], api_name="/example")
        assert ex["context"] and ex["method"] in REGISTRY and ex["source"]
    with pytest.raises(Exception, match="No example"):
        client.predict("nope", api_name="/example")


def test_compress_cot_example_meets_the_ratio_with_token_scores(client):
    ex = client.predict("gsm8k_cot", api_name="/example")
    out = client.predict(ex["instruction"], ex["context"], ex["question"], ex["method"], "bundled", 10.0, 0,
                         ex["context_sep"], "gpt-4", {}, True, api_name="/compress")
    assert out["target_met"] and 8.5 <= out["ratio"] <= 11.5
    assert ex["question"] in out["compressed_prompt"]
    assert is_subsequence(out["compressed_prompt"], full_prompt(ex))
    assert out["scorer"] == "bundled" and "bundled" in out["scorer_source"]
    tokens = out["tokens"]
    assert "".join(t["text"] for t in tokens) == full_prompt(ex)
    assert all(t["self_information_bits"] is not None and t["self_information_bits"] >= 0 for t in tokens)
    assert any(not t["kept"] for t in tokens) and any(t["kept"] for t in tokens)
    coarse, fine = out["stages"]                                       # LLMLingua's two stages, in order
    assert (coarse["name"], fine["name"]) == ("coarse: contexts", "fine: tokens")
    contexts = form.split_context(ex["context"], form.decode_escapes(ex["context_sep"]))
    assert coarse["before"] == len(out["contexts"]) == len(contexts)
    assert 0 < coarse["after"] < coarse["before"] and coarse["after"] == sum(c["kept"] for c in out["contexts"])
    assert 0 < fine["after"] < fine["before"]


@pytest.mark.parametrize("method", list(REGISTRY))
def test_compress_with_every_method_and_its_default_options(client, method):
    options = {f.name: show(f, f.default) for f in describe(REGISTRY[method].Options)}
    if "model" in options and options["model"] not in form.allowed_scorers():
        pytest.skip(f"{method}'s default model {options['model']!r} is a hub model; offline it cannot load")
    ex = client.predict("meeting", api_name="/example")
    out = client.predict(ex["instruction"], ex["context"], ex["question"], method, "bundled", 2.0, 0,
                         ex["context_sep"], "gpt-4", options, False, api_name="/compress")
    assert out["method"] == method and out["compressed_tokens"] < out["origin_tokens"]
    assert "tokens" not in out


def test_compress_with_a_token_budget_and_forced_context(client):
    ex = client.predict("nq_rag", api_name="/example")
    out = client.predict(ex["instruction"], ex["context"], ex["question"], "llmlingua", "bundled", 4.0, 300,
                         ex["context_sep"], "gpt-4o", {"force_context_ids": [9]}, False, api_name="/compress")
    assert out["requested_tokens"] == 300 and out["target_model"] == "gpt-4o"
    assert out["contexts"][9]["kept"]


@pytest.mark.parametrize("kwargs, message", [
    ({"scorer": "someone/any-model"}, "not offered here"),
    ({"options": {"no_such_option": 1}}, "no_such_option"),
    ({"ratio": 0.5}, "ratio must be between"),
    ({"context": "   "}, "Nothing to compress"),
])
def test_compress_errors_say_what_to_do(client, kwargs, message):
    args = {"instruction": "", "context": "Some text to compress. " * 5, "question": "", "method": "llmlingua",
            "scorer": "bundled", "ratio": 2.0, **kwargs}
    with pytest.raises(Exception, match=message):
        client.predict(**args, api_name="/compress")


def test_cost_endpoint(client):
    out = client.predict(2000, 500, "gpt-4o", 100, 0, api_name="/cost")
    assert out["per_request_original"] == pytest.approx(4 * out["per_request_compressed"])
    assert out["per_month_original"] == pytest.approx(out["per_request_original"] * 100 * 30)
    assert out["saved_share"] == pytest.approx(0.75)
    with pytest.raises(Exception, match="No price"):
        client.predict(100, 10, "no-such-llm", 1, 0, api_name="/cost")


def test_answers_endpoint_with_the_local_model(client):
    out = client.predict("Question: What is 2 + 3?\nAnswer:", "What is 2 + 3?", "local", "bundled", "", "", 8,
                         "5", "gpt-4o", api_name="/answers")
    for side in ("original", "compressed"):
        answer = out[side]["answer"]
        assert answer["done"] and answer["error"] is None and answer["output_tokens"] >= 1
    assert out["backend"] and out["done"]
    with pytest.raises(Exception, match="not offered here"):
        client.predict("a", "b", "local", "someone/any-model", api_name="/answers")


# -- sweep, batch and export (issue 7) -------------------------------------------------------------------------
SHORT = ("The release moves to Monday because the export dialog still times out on large tables.\n\n"
         "Jonas owns the database migration and will run it on Thursday evening after the code freeze.\n\n"
         "The on-call rotation for next month is postponed to the next meeting, as two people are away.")
SHORT_ARGS = ("Summarise the notes.", SHORT, "Question: who owns the migration?", "llmlingua", "bundled", 4.0, 0,
              "\\n\\n", "gpt-4", {})


def test_sweep_points_are_the_compressions_compress_returns(client):
    rows = client.predict(*SHORT_ARGS, ["llmlingua", "random"], 2.0, 8.0, 3, api_name="/sweep")
    assert [(r["method"], r["point"]) for r in rows] == [("llmlingua", i) for i in range(3)] + [
        ("random", i) for i in range(3, 6)]
    assert [r["requested_ratio"] for r in rows[:3]] == pytest.approx([2.0, 4.0, 8.0])
    for r in rows:
        assert 0 <= r["info_kept"] <= 1 and r["seconds"] >= 0 and r["saving"] > 0 and r["answer"] is None
    assert rows[0]["info_kept"] > rows[2]["info_kept"] and rows[0]["ratio"] < rows[2]["ratio"]
    fresh = client.predict(*SHORT_ARGS[:5], 4.0, *SHORT_ARGS[6:], False, api_name="/compress")
    assert rows[1]["compressed_prompt"] == fresh["compressed_prompt"]
    assert rows[1]["compressed_tokens"] == fresh["compressed_tokens"]


@pytest.mark.parametrize("change, message", [({"low": 8.0, "high": 2.0}, "swap them"),
                                             ({"methods": ["no_such_method"]}, "no_such_method"),
                                             ({"high": 500.0}, "ratio must be between")])
def test_sweep_errors_say_what_to_do(client, change, message):
    args = dict(zip(("instruction", "context", "question", "method", "scorer"), SHORT_ARGS[:5]))
    with pytest.raises(Exception, match=message):
        client.predict(**args, **{"low": 2.0, "high": 8.0, "points": 2, **change}, api_name="/sweep")


def test_batch_rows_in_result_rows_out(client):
    from lingua_core.batch import OUT_FIELDS

    rows = [{"prompt": SHORT, "question": "Question: who owns the migration?", "id": "a"},
            {"prompt": SHORT.split("\n\n")[0], "answers": ["Monday"], "id": "b"},
            {"text": "no prompt column", "id": "c"}]
    out = client.predict(rows, "llmlingua", "bundled", 2.0, 0, "\\n\\n", "gpt-4o", {}, api_name="/batch")
    assert [r["id"] for r in out] == ["a", "b", "c"] and all(set(OUT_FIELDS) <= set(r) for r in out)
    for r in out[:2]:
        assert r["error"] is None and r["compressed_tokens"] < r["origin_tokens"] and r["saving"] > 0
        assert r["method"] == "llmlingua" and is_subsequence(r["compressed_prompt"], r["prompt"] + "\n\n"
                                                               + (r.get("question") or ""))
    assert "prompt" in out[2]["error"] and out[2]["compressed_prompt"] is None
    with pytest.raises(Exception, match="LINGUA_ALLOWED_SCORERS"):
        client.predict(rows[:1], "llmlingua", "someone/any-model", api_name="/batch")


def test_export_reloads_and_reproduces_exactly(client, lm):
    from lingua_core import export

    d = client.predict(*SHORT_ARGS, api_name="/export")
    assert d["schema_version"] == export.SCHEMA_VERSION and d["kind"] == export.KIND
    assert d["scorer"]["name"] == "bundled" and d["settings"]["method"] == "llmlingua"
    assert all(d["original"][t["start"]:t["end"]] == t["text"] for t in d["tokens"])
    fresh = client.predict(*SHORT_ARGS, False, api_name="/compress")
    assert d["compressed"] == fresh["compressed_prompt"]
    assert export.differences(d, export.reproduce(d, lm)) == []
