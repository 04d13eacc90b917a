"""LINGUA_SCORER_DTYPE: the bundled scorer loads in the dtype asked for, a bad value names the choices, and the
default (float32) is the model every other test uses, with unchanged results. Speed and agreement with float32
are measured by ``bench/scorer_dtype.py``, not here."""

from __future__ import annotations

import math

import pytest

from lingua_core import Request, compress, config, loading
from lingua_core.errors import ModelLoadError
from lingua_core.methods import clear_caches


@pytest.fixture
def scorer_in(monkeypatch):
    """Load the bundled scorer with LINGUA_SCORER_DTYPE set; the extra copy leaves the cache afterwards."""
    loaded = []

    def load(dtype: str):
        monkeypatch.setenv("LINGUA_SCORER_DTYPE", dtype)
        lm = loading.load_model("bundled", device="cpu")
        loaded.append(("bundled", "cpu", "causal", dtype))
        return lm

    yield load
    for key in loaded:
        if key[3] != "float32":
            loading._cache.pop(key, None)
    clear_caches()


def _compress_short(lm, gsm8k):
    demos, question = gsm8k
    clear_caches()
    return compress(Request(context=demos[:3], question=question, rate=0.25), lm)


def test_default_is_float32_and_the_same_model(lm, scorer_in, monkeypatch, gsm8k):
    import torch

    monkeypatch.delenv("LINGUA_SCORER_DTYPE", raising=False)
    assert config.settings().scorer_dtype == "float32"
    assert lm.dtype == "float32" and "LINGUA_SCORER_DTYPE" not in lm.source
    assert {p.dtype for p in lm.model.parameters()} == {torch.float32}
    assert all(type(m).__module__.startswith(("torch.nn.modules", "transformers")) for m in lm.model.modules())
    default = _compress_short(lm, gsm8k)
    explicit = scorer_in("float32")
    assert explicit is lm                                    # the same cached model, not a second copy
    again = _compress_short(explicit, gsm8k)
    assert again.compressed == default.compressed and [t.kept for t in again.tokens] == [t.kept for t in default.tokens]


def test_int8_quantizes_every_linear_but_lm_head(scorer_in, gsm8k):
    import torch
    from torch.ao.nn.quantized import dynamic as qdynamic

    lm = scorer_in("int8")
    assert lm.dtype == "int8" and "int8" in lm.source and lm.source.startswith("bundled GGUF")
    layer = lm.model.model.layers[0]
    assert isinstance(layer.self_attn.q_proj, qdynamic.Linear) and isinstance(layer.mlp.down_proj, qdynamic.Linear)
    assert not any(type(m) is torch.nn.Linear for name, m in lm.model.named_modules() if name != "lm_head")
    assert type(lm.model.lm_head) is torch.nn.Linear and lm.model.lm_head.weight.dtype == torch.float32
    result = _compress_short(lm, gsm8k)
    assert result.target_met and result.compressed_tokens == result.requested_tokens
    assert sum(math.isfinite(t.score) for t in result.tokens) > len(result.tokens) / 2   # the contexts are scored


def test_bfloat16_loads_bfloat16_weights(scorer_in, gsm8k):
    import torch

    lm = scorer_in("bfloat16")
    assert lm.dtype == "bfloat16" and "bfloat16" in lm.source
    assert {p.dtype for p in lm.model.parameters()} == {torch.bfloat16}
    result = _compress_short(lm, gsm8k)
    # within the budget rule, and the nearest count the kept units allow: bf16 scores rank words differently by
    # CPU (emulated without AVX512-BF16), and on a 2-core AVX2 AMD EPYC the nearest reachable count was 87 for 88
    assert result.target_met and abs(result.compressed_tokens - result.requested_tokens) <= 2


def test_encoders_stay_float32_whatever_the_setting():
    assert loading.run_dtype("embedding", "cpu", "int8") == "float32"
    assert loading.run_dtype("token-classification", "cpu", "bfloat16") == "float32"
    assert loading.run_dtype("causal", "cpu", "bfloat16") == "bfloat16"


@pytest.mark.parametrize("value", ["fp16", "int4", "float"])
def test_a_bad_value_names_the_choices(monkeypatch, value):
    monkeypatch.setenv("LINGUA_SCORER_DTYPE", value)
    with pytest.raises(ModelLoadError) as err:
        loading.load_model("bundled", device="cpu")
    message = str(err.value)
    assert f"LINGUA_SCORER_DTYPE={value!r}" in message and "float32, int8, bfloat16" in message
    with pytest.raises(ValueError, match="unset it or use one of"):
        config.settings()
