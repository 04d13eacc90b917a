"""Bad input through the command line and the app's API: each gets a clear message, never a traceback or a 500.

The CLI runs in-process (``lingua_core.__main__.main``, the bundled scorer already loaded): an error must be
a non-zero exit code with one ``error: ...`` line that says what to do. The API runs against the shared
``guarded_app``: ``gradio_client`` must receive the ``gr.Error`` message itself (gradio sends a generic
"Error" for an unexpected exception, which would fail the ``match``). Text in any script must come back
ungarbled: the compressed prompt is a subsequence of the original.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from support.helpers import is_subsequence

from lingua_core import __main__ as cli
from lingua_core import loading

MULTILINGUAL = "北京是中华人民共和国的首都。 مرحبا بالعالم، كيف حالك؟ 🙂🎉👩‍👩‍👧 Ünïcödé — «quotes» 東京タワー"
HUGE = "word " * 40_000                      # 200,000 characters


def run_cli(monkeypatch, capsys, argv, stdin: str = "hello world, this is a prompt") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli.main(["compress", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, stdin, message", [
    ([], "", "Nothing to compress"),
    ([], " \n\t\n ", "Nothing to compress"),
    (["--rate", "0"], None, "rate must be in (0, 1]"),
    (["--rate", "1.5"], None, "rate must be in (0, 1]"),
    (["--rate", "nan"], None, "got nan"),
    (["--rate", "-0.5"], None, "rate must be in (0, 1]"),
    (["--target-token", "-5"], None, "target_token must be positive"),
    (["--target-token", "0"], None, "target_token must be positive"),
    (["--option", "no_such_option=1"], None, "no_such_option"),
    (["--context-sep", ""], None, "--context-sep is empty"),
    (["/no/such/prompt.txt"], None, "Cannot read /no/such/prompt.txt"),
    (["--model", "no-org/no-such-model"], None, "'no-org/no-such-model'"),
])
def test_cli_refuses_bad_input_with_a_message(monkeypatch, capsys, lm, argv, stdin, message):
    code, out, err = run_cli(monkeypatch, capsys, argv, "hello world, this is a prompt" if stdin is None else stdin)
    assert code == 2 and out == "" and err.startswith("error: ") and message in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_cli_unknown_method_is_an_argparse_message(monkeypatch, capsys):
    with pytest.raises(SystemExit) as done:
        run_cli(monkeypatch, capsys, ["--method", "nope"])
    assert done.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err


def test_cli_refuses_a_huge_prompt_before_any_model_work(monkeypatch, capsys):
    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded for a prompt that is over the limit")
    monkeypatch.setattr(cli, "load_model", no_loading)
    started = time.perf_counter()
    code, _, err = run_cli(monkeypatch, capsys, [], HUGE)
    assert code == 2 and "200,000 characters; the limit is 120,000 (LINGUA_MAX_INPUT_CHARS)" in err
    assert time.perf_counter() - started < 2


def test_cli_file_that_is_not_utf8(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café crème".encode("latin-1"))
    code, _, err = run_cli(monkeypatch, capsys, [str(bad)])
    assert code == 2 and "is not UTF-8 text" in err


@pytest.mark.parametrize("text", [MULTILINGUAL, "ctrl \x00\x01\x07\x1b[31m red \x7f end", "lone \ud800 surrogate \udfff"])
def test_cli_keeps_any_script_ungarbled(monkeypatch, capsys, lm, text):
    code, out, _ = run_cli(monkeypatch, capsys, ["--rate", "0.5", "--no-split"], text)
    assert code == 0
    compressed = json.loads(out)["compressed_prompt"]
    clamped = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")  # the documented clamp
    assert is_subsequence(compressed, clamped) and compressed


# -- the API -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(guarded_app):
    return guarded_app.client()


COMPRESS_OK = {"instruction": "", "context": "Some text to compress, with a few words. " * 3, "question": "",
               "method": "llmlingua", "scorer": "bundled", "ratio": 2.0}


@pytest.mark.parametrize("change, message", [
    ({"context": ""}, "Nothing to compress"),
    ({"context": " \n\t ", "instruction": "  "}, "Nothing to compress"),
    ({"context": HUGE}, "the limit is 120,000 (LINGUA_MAX_INPUT_CHARS)"),
    ({"ratio": 0.5}, "ratio must be between 1x and 100x"),
    ({"ratio": 1e9}, "ratio must be between 1x and 100x"),
    ({"method": "nope"}, "Unknown method 'nope'"),
    ({"scorer": "someone/any-model"}, "not offered here"),
    ({"options": "not a dict"}, "options must be an object"),
    ({"context_sep": ""}, "context separator is empty"),
])
def test_api_compress_errors_are_messages(client, change, message):
    with pytest.raises(Exception, match=message.replace("(", r"\(").replace(")", r"\)")):
        client.predict(**{**COMPRESS_OK, **change}, api_name="/compress")


@pytest.mark.parametrize("args, message", [
    ((10, 1, "no-such-llm"), "No price"),
])
def test_api_cost_errors_are_messages(client, args, message):
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name="/cost")


@pytest.mark.parametrize("args, message", [
    (("", ""), "The prompt is empty"),
    (("a", "b", "gemini"), "Unknown backend 'gemini'"),
    (("a", "b", "local", "", "", "", 100_000), "from 1 to 8192"),
    (("a", "b", "openai", "m", "localhost:8000"), "must look like"),
])
def test_api_answers_errors_are_messages(client, args, message):
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name="/answers")


def test_api_huge_prompt_is_refused_at_once(client):
    started = time.perf_counter()
    with pytest.raises(Exception, match="LINGUA_MAX_INPUT_CHARS"):
        client.predict(**{**COMPRESS_OK, "context": HUGE}, api_name="/compress")
    assert time.perf_counter() - started < 10          # one HTTP round trip of 200 kB, no model work


NAN = float("nan")
COMPRESS_ARGS = ["", "Some text to compress, with a few words.", "", "llmlingua", "bundled", 2.0, 0, "\\n\\n",
                 "gpt-4", {}, False]


@pytest.mark.parametrize("api_name, data, message", [          # what gradio_client cannot even send
    ("compress", {5: NAN}, "ratio must be between 1x and 100x; got nan"),
    ("compress", {6: NAN}, "target tokens must be a whole number; got nan"),
    ("compress", {6: 1e300}, None),                            # a huge target is a clamp: everything kept
    ("cost", [NAN, 1, "gpt-4", 1, 0], "original_tokens must be a number of at least 0; got nan"),
    ("cost", [10, 1, "gpt-4", NAN, 0], "requests_per_day must be a number of at least 0; got nan"),
    ("answers", ["a", "b", "local", "", "", "", NAN, "", "gpt-4o"], "max_new_tokens must be a whole number"),
])
def test_api_nan_and_huge_numbers_over_raw_json(guarded_app, api_name, data, message):
    if isinstance(data, dict):
        data = [data.get(i, v) for i, v in enumerate(COMPRESS_ARGS)]
    kind, out = guarded_app.raw_call(api_name, data)
    if message is None:
        assert kind == "complete" and out["compressed_prompt"] == COMPRESS_ARGS[1]
    else:
        assert kind == "error" and message in out


def test_api_lone_surrogates_and_control_chars_are_clamped(guarded_app):
    text = "lone \ud800 surrogate, ctrl \x00\x07 chars kept apart"
    kind, out = guarded_app.raw_call("compress", [COMPRESS_ARGS[0], text, *COMPRESS_ARGS[2:5], 1.5,
                                                  *COMPRESS_ARGS[6:]])
    clamped = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")   # U+FFFD: the documented clamp
    assert kind == "complete" and out["compressed_prompt"] and is_subsequence(out["compressed_prompt"], clamped)


def test_api_keeps_any_script_ungarbled(client):
    out = client.predict(**{**COMPRESS_OK, "context": MULTILINGUAL, "ratio": 1.5}, api_name="/compress")
    assert out["compressed_prompt"] and "\ufffd" not in out["compressed_prompt"]
    assert is_subsequence(out["compressed_prompt"], MULTILINGUAL)


def test_huge_target_is_a_clamp_not_an_error(client):
    out = client.predict(**{**COMPRESS_OK, "target_tokens": 10**12}, api_name="/compress")
    assert out["compressed_prompt"] == COMPRESS_OK["context"]         # everything kept, as typed
    assert out["compressed_tokens"] == out["origin_tokens"] and out["ratio"] == 1.0
    assert client.predict(api_name="/methods")                        # and the app still serves


def test_cli_gets_its_scorer_from_the_shared_model_cache(monkeypatch, capsys):
    loaded = loading.load_model()                     # the configured scorer, as every caller gets it
    monkeypatch.setattr(loading, "_load", lambda *a, **k: pytest.fail("the CLI loaded its scorer a second time"))
    code, out, err = run_cli(monkeypatch, capsys, ["--rate", "0.5"])
    assert code == 0, err
    assert json.loads(out)["scorer"] == loaded.name
