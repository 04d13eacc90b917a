"""lingua_core: prompt compression with a small causal LM (the LLMLingua family), offline by default.

    from lingua_core import compress, Request
    result = compress(Request(context=["...", "..."], question="...", rate=0.25))
    result.compressed, result.ratio, result.tokens[0]

    from lingua_core import PromptCompressor          # drop-in for llmlingua's class
    PromptCompressor().compress_prompt(["..."], question="...", target_token=200)["compressed_prompt"]

Modules: config (environment), errors, loading (models), scoring (token self-information), selection
(keep mask and budget fitting), methods/ (one file per method + REGISTRY), tokens and pricing (target LLM
counts and dollars), compat (the llmlingua-compatible facade), __main__ (CLI).
"""

from .compress import compress
from .errors import InvalidRequest, LinguaError, ModelLoadError, UnsupportedOption
from .methods import REGISTRY
from .result import Piece, Request, Result, Stage, Token

__version__ = "0.1.0"

__all__ = ["compress", "Request", "Result", "Token", "Piece", "Stage", "REGISTRY", "PromptCompressor",
           "LinguaError", "InvalidRequest", "ModelLoadError", "UnsupportedOption", "__version__"]


def __getattr__(name):
    if name == "PromptCompressor":
        from .compat import PromptCompressor
        return PromptCompressor
    raise AttributeError(name)
