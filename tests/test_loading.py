"""Model loading: the bundled GGUF conversion cache, local folders, clear errors."""

from __future__ import annotations

import json

import pytest

from lingua_core import loading
from lingua_core.errors import ModelLoadError


def test_bundled_model_is_a_real_causal_lm(lm):
    assert lm.source.startswith("bundled GGUF")
    assert type(lm.model).__name__ == "LlamaForCausalLM"
    assert lm.max_context == 8192 and lm.tokenizer.is_fast
    assert lm.tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)


def test_converted_copy_is_verified_by_manifest(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"x" * 100)
    (folder / loading._MANIFEST).write_text(json.dumps({"files": {"model.safetensors": 100}}))
    assert loading._manifest_ok(folder)
    (folder / "model.safetensors").write_bytes(b"x" * 50)     # half-written
    assert not loading._manifest_ok(folder)
    (folder / loading._MANIFEST).write_text("{not json")
    assert not loading._manifest_ok(folder)


def test_local_folder_loads(lm):
    folder = loading.bundled_folder()
    local = loading.load_model(str(folder), device="cpu")
    assert local.source == "local folder" and local.model.config.vocab_size == lm.model.config.vocab_size


def test_unknown_hub_model_names_model_and_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as err:
        loading.load_model("no-such-org/no-such-model-xyz", device="cpu")
    text = str(err.value)
    assert "no-such-org/no-such-model-xyz" in text and "Fix:" in text


def test_cuda_without_gpu_is_explained():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ModelLoadError, match="no CUDA GPU"):
        loading.pick_device("cuda")
