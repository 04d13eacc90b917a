"""The JSON export on the real bundled model: strict JSON, the schema's parts, and a reload that reproduces
the compression exactly (same compressed prompt, kept flags, spans and scores)."""

from __future__ import annotations

import json

import pytest

from lingua_core import Request, compress
from lingua_core.errors import InvalidRequest
from lingua_core.export import SCHEMA_VERSION, differences, from_json, reproduce, to_json, to_text
from lingua_core.methods import REGISTRY, clear_caches


@pytest.fixture(scope="module")
def request4(gsm8k):
    demos, question = gsm8k
    return Request(context=demos[:4], question=question, instruction="Answer the math question.", rate=0.3,
                   options={"iterative_size": 120, "force_context_ids": (1,)})


@pytest.fixture(scope="module")
def exported(lm, request4):
    result = compress(request4, lm)
    return result, json.loads(to_text(result, request4))


def test_schema(exported, request4):
    result, d = exported
    assert d["schema_version"] == SCHEMA_VERSION and d["kind"] == "lingua_core.compression"
    assert d["original"] == result.original and d["compressed"] == result.compressed
    assert d["settings"]["options"]["iterative_size"] == 120 and d["settings"]["options"]["force_context_ids"] == [1]
    assert set(d["settings"]["options"]) >= {"use_context_level", "use_token_level"}   # defaults filled in
    assert d["scorer"] == {"name": "bundled", "source": result.scorer_source}
    assert set(d["versions"]) == {"lingua_core", "torch", "transformers", "python"}
    assert len(d["tokens"]) == len(result.tokens)
    t = d["tokens"][5]
    assert set(t) == {"text", "start", "end", "score", "kept", "piece"}
    assert d["original"][t["start"]:t["end"]] == t["text"]
    assert sum(t["kept"] for t in d["tokens"]) == result.compressed_scorer_tokens
    assert d["numbers"]["compressed_tokens"] == result.compressed_tokens


def test_reload_reproduces_exactly(lm, exported, request4):
    result, d = exported
    request = from_json(d)
    assert request.context == request4.context and request.rate == request4.rate
    assert request.options.force_context_ids == (1,)
    clear_caches()
    again = reproduce(d, lm)
    assert differences(d, again) == []
    assert again.compressed == result.compressed
    assert [(t.start, t.end, t.kept) for t in again.tokens] == [(t.start, t.end, t.kept) for t in result.tokens]
    assert to_json(again, request)["tokens"] == d["tokens"]       # scores bit-for-bit, same process


def test_reproduce_loads_the_named_scorer(exported):
    result, d = exported
    assert reproduce(d).compressed == result.compressed


def test_differences_are_reported(exported):
    result, d = exported
    changed = json.loads(json.dumps(d))
    changed["compressed"] += " extra"
    changed["tokens"][3]["kept"] = not changed["tokens"][3]["kept"]
    assert differences(changed, result) == ["the compressed prompt differs", "1 token kept flags differ"]


@pytest.mark.parametrize("method", sorted(REGISTRY))
def test_every_method_round_trips(lm, gsm8k, method):
    demos, question = gsm8k
    options = dict(getattr(REGISTRY[method], "offline_options", {}) or {}) or None
    request = Request(context=demos[:2], question=question, rate=0.4, method=method, options=options)
    result = compress(request, lm)
    d = json.loads(to_text(result, request))
    clear_caches()
    assert differences(d, reproduce(d, lm)) == []


@pytest.mark.parametrize("change, match", [(dict(schema_version=99), "schema version"), (dict(kind="x"), "not a"),
                                           (dict(settings={"method": "nope"}), "not installed")])
def test_bad_exports_explain_themselves(exported, change, match):
    _, d = exported
    with pytest.raises(InvalidRequest, match=match):
        from_json(dict(d, **change))
