"""``PromptCompressor``: a drop-in for ``llmlingua.PromptCompressor`` over this project's own design.

Same method and parameter names (``compress_prompt``, ``structured_compress_prompt``,
``compress_prompt_llmlingua2``, ``recover``, ``get_token_length``) and the same returned keys and formatted
strings (``"4.1x"``, ``"24.3%"``, a saving sentence), so code written for ``llmlingua`` runs unchanged. Underneath,
each call becomes one ``Request`` to ``compress()``; every ``llmlingua`` keyword goes to the request, or to a
field of the chosen method's ``Options`` with the same name. A keyword that neither takes, given a value other
than ``llmlingua``'s default, raises ``UnsupportedOption`` instead of being silently ignored.

>>> pc = PromptCompressor()                                          # doctest: +SKIP
>>> pc.compress_prompt(demos, question=q, target_token=200)["ratio"] # doctest: +SKIP
'5.4x'
"""

from __future__ import annotations

from dataclasses import fields

from . import pricing
from .compress import compress
from .errors import UnsupportedOption
from .loading import load_model
from .methods import get_method
from .result import Request, Result
from .tokens import count_tokens

# llmlingua 0.2.2's keyword defaults: passing one of these with its default value changes nothing.
LLMLINGUA_DEFAULTS = {
    "iterative_size": 200, "force_context_ids": None, "force_context_number": None,
    "use_sentence_level_filter": False, "use_context_level_filter": True, "use_token_level_filter": True,
    "keep_split": False, "keep_first_sentence": 0, "keep_last_sentence": 0, "keep_sentence_number": 0,
    "high_priority_bonus": 100, "context_budget": "+100", "token_budget_ratio": 1.4,
    "condition_in_question": "none", "reorder_context": "original", "dynamic_context_compression_ratio": 0.0,
    "condition_compare": False, "add_instruction": False, "rank_method": "llmlingua", "concate_question": True,
    "target_context": -1, "context_level_rate": 1.0, "context_level_target_token": -1,
    "return_word_label": False, "word_sep": "\t\t|\t\t", "label_sep": " ", "token_to_word": "mean",
    "force_tokens": [], "force_reserve_digit": False, "drop_consecutive": False, "chunk_end_tokens": [".", "\n"],
    "strict_preserve_uncompressed": True,
}
# llmlingua keyword -> this project's Options field, where the names differ.
RENAMED = {"use_context_level_filter": "use_context_level", "use_token_level_filter": "use_token_level"}
# rank_method -> registered method name.
RANK_METHODS = {"llmlingua": "llmlingua", "longllmlingua": "longllmlingua"}


def parse_context_budget(value) -> int:
    """llmlingua's ``context_budget`` string ("+100") as extra tokens; numbers pass through.

    >>> parse_context_budget("+100"), parse_context_budget("+0"), parse_context_budget(50)
    (100, 0, 50)
    """
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if text.startswith("+") and text[1:].strip().isdigit():
        return int(text[1:])
    raise UnsupportedOption(f"context_budget={value!r}: only the '+N' form (e.g. '+100') is supported.")


def method_options(method_name: str, kwargs: dict) -> dict:
    """Split llmlingua keywords into the method's Options fields; raise on the ones nobody takes."""
    method = get_method(method_name)
    names = {f.name for f in fields(method.Options)}
    options = {}
    for key, value in kwargs.items():
        field = RENAMED.get(key, key)
        if key == "context_budget":
            value = parse_context_budget(value)
        if field in names:
            options[field] = tuple(value) if isinstance(value, list) else value
        elif key in LLMLINGUA_DEFAULTS and value == LLMLINGUA_DEFAULTS[key]:
            continue
        else:
            raise UnsupportedOption(
                f"{key}={value!r} is not implemented by method {method_name!r}. Leave it at llmlingua's default "
                f"or pick a method that takes it; {method_name!r} takes: {', '.join(sorted(names)) or 'nothing'}.")
    return options


def as_llmlingua(result: Result, saving_model: str = "gpt-4") -> dict:
    """The dict llmlingua returns, with its formatted strings, from a Result."""
    saved = pricing.cost(max(result.origin_tokens - result.compressed_tokens, 0), 0, saving_model)
    label = saving_model.upper() if saving_model.startswith("gpt") else saving_model
    return {
        "compressed_prompt": result.compressed,
        "origin_tokens": result.origin_tokens,
        "compressed_tokens": result.compressed_tokens,
        "ratio": f"{result.ratio:.1f}x",
        "rate": f"{result.rate * 100:.1f}%",
        "saving": f", Saving ${saved:.1f} in {label}." if saved >= 0.05 else f", Saving ${saved:.4f} in {label}.",
    }


class PromptCompressor:
    """llmlingua-compatible compressor. ``model_name`` is any scorer name ``loading.load_model`` takes."""

    def __init__(self, model_name: str = "bundled", device_map: str = "auto", model_config: dict | None = None,
                 open_api_config: dict | None = None, use_llmlingua2: bool = False,
                 llmlingua2_config: dict | None = None, target_model: str = "gpt-4"):
        for name, value in (("model_config", model_config), ("open_api_config", open_api_config)):
            if value:
                raise UnsupportedOption(f"{name} is not supported; set models through model_name and device_map.")
        self.model_name = model_name
        self.device = "auto" if device_map in (None, "auto") else device_map
        self.use_llmlingua2 = use_llmlingua2
        self.llmlingua2_config = dict(llmlingua2_config or {})
        self.target_model = target_model                 # whose tokenizer counts the budget
        self.lm = load_model(model_name, self.device)
        self.last_result: Result | None = None           # the full Result behind the latest call

    def _run(self, method: str, context, instruction: str, question: str, rate: float, target_token: int,
             kwargs: dict) -> dict:
        context = [context] if isinstance(context, str) else list(context)
        request = Request(context=context, instruction=instruction, question=question, rate=rate,
                          target_token=target_token, target_model=self.target_model, method=method,
                          options=method_options(method, kwargs))
        self.last_result = compress(request, self.lm)
        return as_llmlingua(self.last_result)

    def compress_prompt(self, context, instruction: str = "", question: str = "", rate: float = 0.5,
                        target_token: float = -1, **kwargs) -> dict:
        """llmlingua's ``compress_prompt``: LLMLingua, or LongLLMLingua with ``rank_method="longllmlingua"``."""
        if self.use_llmlingua2:
            return self.compress_prompt_llmlingua2(context, rate=rate, target_token=target_token, **kwargs)
        rank = kwargs.pop("rank_method", "llmlingua")
        if rank not in RANK_METHODS:
            raise UnsupportedOption(f"rank_method={rank!r} is not implemented; use one of {', '.join(RANK_METHODS)}.")
        return self._run(RANK_METHODS[rank], context, instruction, question, rate, int(target_token), kwargs)

    def structured_compress_prompt(self, context, instruction: str = "", question: str = "", rate: float = 0.5,
                                   target_token: float = -1, **kwargs) -> dict:
        """Contexts with ``<llmlingua, rate=0.4>...</llmlingua>`` / ``compress=False`` segments."""
        return self._run("structured", context, instruction, question, rate, int(target_token), kwargs)

    def compress_prompt_llmlingua2(self, context, rate: float = 0.5, target_token: float = -1, **kwargs) -> dict:
        """LLMLingua-2 token classification (model from ``llmlingua2_config["model_name"]`` when given)."""
        if "model_name" in self.llmlingua2_config:
            kwargs.setdefault("model", self.llmlingua2_config["model_name"])
        return self._run("llmlingua2", context, "", "", rate, int(target_token), kwargs)

    def recover(self, original_prompt: str, compressed_prompt: str, response: str) -> str:
        """Map words of a response written from the compressed prompt back to the original's spelling."""
        from .recover import recover

        return recover(original_prompt, compressed_prompt, response)

    def get_token_length(self, text: str, add_special_tokens: bool = True, use_oai_tokenizer: bool = False) -> int:
        """Tokens in ``text``: the target LLM's tokenizer with ``use_oai_tokenizer``, else the scorer's."""
        if use_oai_tokenizer:
            return count_tokens(text, self.target_model)
        return len(self.lm.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])
