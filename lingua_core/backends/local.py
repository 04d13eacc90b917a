"""The local backend: a transformers chat model in this process (offline; the bundled SmolLM2 by default).

The prompt goes in as one user turn through the model's chat template (a model without a template gets
the plain text), and the answer is generated token by token in a small loop with the key/value cache:
greedy unless a temperature is set, stopped at the model's end-of-turn token or ``max_new_tokens``. Text
is yielded as soon as it decodes to whole characters. Unlike ``openai_compat.py`` nothing leaves the
machine, and the counts it reports are the model's own tokens. It shares the CPU with the scorer, so a
comparison runs its two prompts one after the other (``concurrent = False``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from ..errors import BackendError, InvalidRequest
from ..loading import BUNDLED, LoadedModel, load_model
from ..scoring import _cache_kwarg
from .base import Backend, Usage, register

_PARTIAL_CHAR = "\ufffd"  # what a byte-level tokenizer decodes half of a multi-byte character to


@register
@dataclass
class LocalBackend(Backend):
    name: ClassVar[str] = "local"
    label: ClassVar[str] = "Local model (offline)"
    concurrent: ClassVar[bool] = False

    model: str = BUNDLED            # "bundled", a hub id or a local folder (see loading.load_model)
    device: str | None = None       # None: LINGUA_DEVICE, else auto
    temperature: float = 0.0        # 0 is greedy (the default); above 0 samples, reproducibly from `seed`
    seed: int = 0                   # sampling seed (unused when greedy)

    def __post_init__(self):
        if self.temperature < 0:
            raise InvalidRequest(f"temperature must be 0 (greedy) or more, not {self.temperature}.")

    def describe(self) -> str:
        return f"local model {self.model}"

    def prepare(self) -> None:
        load_model(self.model, self.device)

    def _deltas(self, prompt: str, max_new_tokens: int, usage: Usage) -> Iterator[str]:
        lm = load_model(self.model, self.device)
        ids = prompt_ids(lm, prompt)
        room = lm.max_context - max_new_tokens
        if ids.shape[1] > room:
            raise BackendError(
                f"The prompt is {ids.shape[1]} tokens, but {self.model!r} holds {lm.max_context} tokens and "
                f"{max_new_tokens} are kept for the answer. Compress harder, lower max new tokens, "
                "or use an HTTP backend with a longer context.")
        usage.prompt_tokens, usage.output_tokens = ids.shape[1], 0
        tokenizer, made, shown = lm.tokenizer, [], ""
        for token in self._tokens(lm, ids, max_new_tokens):
            made.append(token)
            usage.output_tokens = len(made)
            text = tokenizer.decode(made, skip_special_tokens=True)
            if text.endswith(_PARTIAL_CHAR):
                continue
            if len(text) > len(shown):
                yield text[len(shown):]
            shown = text

    def _tokens(self, lm: LoadedModel, ids, max_new_tokens: int) -> Iterator[int]:
        """Next-token ids, one forward pass each (greedy or sampled), until an end token or the limit."""
        import torch
        from transformers import DynamicCache

        stop = end_token_ids(lm)
        gen = torch.Generator(device=lm.device).manual_seed(self.seed) if self.temperature > 0 else None
        cache = {_cache_kwarg(lm): DynamicCache()}  # filled in place, one position per step
        step_ids = ids.to(lm.device)
        for _ in range(max_new_tokens):
            with torch.inference_mode():
                out = lm.model(input_ids=step_ids, use_cache=True, **cache)
                logits = out.logits[0, -1].float()
                if gen is None:
                    token = int(logits.argmax())
                else:
                    probs = torch.softmax(logits / self.temperature, dim=-1)
                    token = int(torch.multinomial(probs, 1, generator=gen))
            if token in stop:
                return
            yield token
            step_ids = torch.tensor([[token]], device=lm.device)


def prompt_ids(lm: LoadedModel, prompt: str):
    """The prompt as one user turn in the model's chat template, ready for generation (a 1 x n tensor)."""
    tokenizer = lm.tokenizer
    if getattr(tokenizer, "chat_template", None):
        enc = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                            return_dict=True, return_tensors="pt")
        return enc["input_ids"]
    return tokenizer(prompt, return_tensors="pt")["input_ids"]


def end_token_ids(lm: LoadedModel) -> set[int]:
    """Token ids that end the answer: the generation config's and the tokenizer's end-of-sequence ids."""
    ids = getattr(lm.model.generation_config, "eos_token_id", None)
    ids = set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])
    if lm.tokenizer.eos_token_id is not None:
        ids.add(lm.tokenizer.eos_token_id)
    return ids
