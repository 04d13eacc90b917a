"""``PromptCompressor``: a drop-in for ``llmlingua.PromptCompressor`` over this project's own design.

Same method and parameter names (``compress_prompt``, ``structured_compress_prompt``,
``compress_prompt_llmlingua2``, ``recover``, ``get_token_length``) and the same returned keys and formatted
strings (``"4.1x"``, ``"24.3%"``, a saving sentence), so code written for ``llmlingua`` runs unchanged. Underneath,
each call becomes one ``Request`` to ``compress()``; every ``llmlingua`` keyword goes to the request, or to a
field of the chosen method's ``Options`` with the same name. A keyword that neither takes, given a value other
than ``llmlingua``'s default, raises ``UnsupportedOption`` instead of being silently ignored. A few keywords
belong to the request rather than a method (``REQUEST_KEYWORDS``): ``concate_question``, ``keep_split`` (blank
lines inside contexts kept, as ``Request.force_strings``), ``return_word_label`` / ``word_sep`` / ``label_sep``
(the ``fn_labeled_original_prompt`` key). LangChain's ``LLMLinguaCompressor`` tags each document
``<#ref{i}#> ... <#ref{i}#>`` to find its metadata again; those tags are kept in every kept document.
``docs/methods.md`` lists every llmlingua 0.2.2 keyword and what it does here.

>>> pc = PromptCompressor()                                          # doctest: +SKIP
>>> pc.compress_prompt(demos, question=q, target_token=200)["ratio"] # doctest: +SKIP
'5.4x'
"""

from __future__ import annotations

import re
from dataclasses import fields

from . import pricing, word_labels
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
    "strict_preserve_uncompressed": True, "context_segs": None, "context_segs_rate": None,
    "context_segs_compress": None,
}
# llmlingua keyword -> this project's Options field, where the names differ.
RENAMED = {"use_context_level_filter": "use_context_level", "use_token_level_filter": "use_token_level",
           "use_sentence_level_filter": "use_sentence_level"}
# rank_method -> (registered method, options it implies). The retrievers rank LongLLMLingua's documents.
RANK_METHODS = {"llmlingua": ("llmlingua", {}), "longllmlingua": ("longllmlingua", {}),
                "bm25": ("longllmlingua", {"rank_method": "bm25"}),
                "sentbert": ("longllmlingua", {"rank_method": "sentbert"}),
                "gzip": ("longllmlingua", {"rank_method": "gzip"})}
# llmlingua's other rank methods and why they are not here.
HUB_RANKERS = {"openai": "OpenAI's embedding API", "voyageai": "Voyage AI's API", "cohere": "Cohere's rerank API",
               "bge": "BAAI/bge-large-en-v1.5 from the hub", "bge_reranker": "BAAI/bge-reranker-large from the hub",
               "bge_llmembedder": "BAAI/llm-embedder from the hub",
               "jinza": "jinaai/jina-embeddings-v2-base-en with trust_remote_code"}
# Keywords that are not any method's option, with why they are refused when not at llmlingua's default.
REFUSED = {
    "force_context_number": "in llmlingua 0.2.2 it never takes effect (it is compared with a list that stays "
                            "empty); use force_context_ids, or target_context with LLMLingua-2",
    "context_segs": "it is structured_compress_prompt's internal hand-over; pass <llmlingua> tags to "
                    "structured_compress_prompt instead",
    "context_segs_rate": "it is structured_compress_prompt's internal hand-over; use <llmlingua, rate=...> tags",
    "context_segs_compress": "it is structured_compress_prompt's internal hand-over; use <llmlingua, "
                             "compress=False> tags",
}
REQUEST_KEYWORDS = ("concate_question", "keep_split", "return_word_label", "word_sep", "label_sep")
REF_TAG = re.compile(r"<#ref\d+#>")          # LangChain's LLMLinguaCompressor document tags
BLANK_LINE = "\n\n"                          # the separators keep_split keeps


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
        if key in REFUSED and value != LLMLINGUA_DEFAULTS.get(key):
            raise UnsupportedOption(f"{key}={value!r} is not supported: {REFUSED[key]}.")
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
    """llmlingua-compatible compressor. ``model_name`` is any scorer name ``loading.load_model`` takes (with
    ``use_llmlingua2``: the LLMLingua-2 encoder, e.g. ``"test:minilm-random-head"`` offline)."""

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
        if use_llmlingua2:       # as in llmlingua, model_name is then the LLMLingua-2 encoder; the configured
            self.llmlingua2_config.setdefault("model_name", model_name)   # scorer only lays out the tokens
            model_name = None
        self.lm = load_model(model_name, self.device)
        self.last_result: Result | None = None           # the full Result behind the latest call

    def _run(self, method: str, context, instruction: str, question: str, rate: float, target_token: int,
             kwargs: dict) -> dict:
        context = [context] if isinstance(context, str) else list(context)
        asked = {k: kwargs.pop(k) for k in REQUEST_KEYWORDS if k in kwargs}
        force = tuple(dict.fromkeys(m.group() for c in context if isinstance(c, str) for m in REF_TAG.finditer(c)))
        if asked.get("keep_split"):
            force += (BLANK_LINE,)
        request = Request(context=context, instruction=instruction, question=question, rate=rate,
                          target_token=target_token, target_model=self.target_model, method=method,
                          options=method_options(method, kwargs),
                          concate_question=asked.get("concate_question", True), force_strings=force)
        self.last_result = compress(request, self.lm)
        out = as_llmlingua(self.last_result)
        if asked.get("return_word_label"):
            out["fn_labeled_original_prompt"] = word_labels.fn_labeled_original_prompt(
                self.last_result, asked.get("word_sep", "\t\t|\t\t"), asked.get("label_sep", " "))
        return out

    def __call__(self, *args, **kwargs) -> dict:
        """``compress_prompt``, as llmlingua's class is callable."""
        return self.compress_prompt(*args, **kwargs)

    def compress_prompt(self, context, instruction: str = "", question: str = "", rate: float = 0.5,
                        target_token: float = -1, **kwargs) -> dict:
        """llmlingua's ``compress_prompt``: LLMLingua, or LongLLMLingua with ``rank_method="longllmlingua"``
        (or its documents ranked by ``"bm25"``, ``"sentbert"`` or ``"gzip"``)."""
        if self.use_llmlingua2:
            return self.compress_prompt_llmlingua2(context, rate=rate, target_token=target_token, **kwargs)
        rank = kwargs.pop("rank_method", "llmlingua")
        if rank not in RANK_METHODS:
            why = f"it needs {HUB_RANKERS[rank]}, which this project does not use" if rank in HUB_RANKERS else \
                "llmlingua has no such rank method"
            raise UnsupportedOption(f"rank_method={rank!r} is not implemented ({why}); use one of "
                                    f"{', '.join(RANK_METHODS)}.")
        method, implied = RANK_METHODS[rank]
        return self._run(method, context, instruction, question, rate, int(target_token), {**kwargs, **implied})

    def structured_compress_prompt(self, context, instruction: str = "", question: str = "", rate: float = 0.5,
                                   target_token: float = -1, **kwargs) -> dict:
        """Contexts with ``<llmlingua, rate=0.4>...</llmlingua>`` / ``compress=False`` segments; with
        ``rank_method="longllmlingua"`` (or a retriever) contexts are ranked and scored by the question."""
        if kwargs.get("rank_method", "llmlingua") not in ("llmlingua", "longllmlingua", "bm25", "sentbert", "gzip"):
            raise UnsupportedOption(f"rank_method={kwargs['rank_method']!r} is not implemented for structured "
                                    "prompts; use llmlingua, longllmlingua, bm25, sentbert or gzip.")
        return self._run("structured", context, instruction, question, rate, int(target_token), kwargs)

    def compress_prompt_llmlingua2(self, context, rate: float = 0.5, target_token: float = -1, **kwargs) -> dict:
        """LLMLingua-2 token classification (model from ``llmlingua2_config["model_name"]`` when given); the
        result also has llmlingua-2's ``compressed_prompt_list``."""
        if "model_name" in self.llmlingua2_config:
            kwargs.setdefault("model", self.llmlingua2_config["model_name"])
        out = self._run("llmlingua2", context, "", "", rate, int(target_token), kwargs)
        out["compressed_prompt_list"] = word_labels.compressed_contexts(self.last_result)
        return out

    def segment_structured_context(self, context, global_rate: float = 0.5):
        """llmlingua's tag parser: (plain contexts, each context's segment texts, their rates -- a tag's own,
        else ``global_rate``, 1.0 for verbatim ones -- and their compress flags). Parsed without ``eval``."""
        from .methods.structured import parse_context

        context = [context] if isinstance(context, str) else list(context)
        plain, segs, rates, flags = [], [], [], []
        for text in context:
            body, segments = parse_context(text)
            plain.append(body)
            segs.append([body[g.start:g.end] for g in segments])
            rates.append([1.0 if not g.compress else (g.rate if g.rate is not None else global_rate)
                          for g in segments])
            flags.append([g.compress for g in segments])
        return plain, segs, rates, flags

    def recover(self, original_prompt: str, compressed_prompt: str, response: str) -> str:
        """Map words of a response written from the compressed prompt back to the original's spelling."""
        from .recover import recover

        return recover(original_prompt, compressed_prompt, response)

    def get_token_length(self, text: str, add_special_tokens: bool = True, use_oai_tokenizer: bool = False) -> int:
        """Tokens in ``text``: the target LLM's tokenizer with ``use_oai_tokenizer``, else the scorer's."""
        if use_oai_tokenizer:
            return count_tokens(text, self.target_model)
        return len(self.lm.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])
