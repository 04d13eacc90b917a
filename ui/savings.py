"""What compression saves in dollars: per request and per month, original vs compressed prompt.

Prices come from ``lingua_core.pricing`` (the maintained ``genai-prices`` table, never typed in here) and token
counts from ``lingua_core.tokens`` in the chosen LLM's own tokenizer, so picking another LLM recounts the prompts
without compressing again. Plain numbers only; the app formats them.

>>> e = estimate(1000, 250, "gpt-4o", requests_per_day=100, output_tokens=0)
>>> round(e.per_request_original / e.per_request_compressed, 6), round(e.saved_share, 6)
(4.0, 0.75)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lingua_core import pricing
from lingua_core.errors import InvalidRequest
from lingua_core.tokens import count_tokens

DAYS_PER_MONTH = 30


@dataclass(frozen=True)
class Estimate:
    model: str                      # the LLM priced, as the price table names it
    input_per_mtok: float           # dollars per million input tokens
    output_per_mtok: float          # dollars per million output tokens
    original_tokens: int            # input tokens of the original prompt
    compressed_tokens: int          # input tokens of the compressed prompt
    output_tokens: int              # answer tokens per request (the same either way)
    requests_per_day: int
    per_request_original: float     # dollars
    per_request_compressed: float   # dollars

    @property
    def per_month_original(self) -> float:
        return self.per_request_original * self.requests_per_day * DAYS_PER_MONTH

    @property
    def per_month_compressed(self) -> float:
        return self.per_request_compressed * self.requests_per_day * DAYS_PER_MONTH

    @property
    def saved_per_month(self) -> float:
        return self.per_month_original - self.per_month_compressed

    @property
    def saved_share(self) -> float:
        """Fraction of the original bill saved (0 when the original costs nothing)."""
        return self.saved_per_month / self.per_month_original if self.per_month_original else 0.0


def estimate(original_tokens: int, compressed_tokens: int, model: str, requests_per_day: int,
             output_tokens: int = 0) -> Estimate:
    """Costs of ``requests_per_day`` requests with either prompt on ``model``."""
    for name, value in (("requests_per_day", requests_per_day), ("output_tokens", output_tokens),
                        ("original_tokens", original_tokens), ("compressed_tokens", compressed_tokens)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise InvalidRequest(f"{name} must be a number of at least 0; got {value!r}.")
    price = pricing.price_of(model)
    return Estimate(price.model, price.input_per_mtok, price.output_per_mtok, int(original_tokens),
                    int(compressed_tokens), int(output_tokens), int(requests_per_day),
                    pricing.cost(int(original_tokens), int(output_tokens), model),
                    pricing.cost(int(compressed_tokens), int(output_tokens), model))


def estimate_texts(original: str, compressed: str, model: str, requests_per_day: int,
                   output_tokens: int = 0) -> Estimate:
    """``estimate`` with both prompts counted in ``model``'s tokenizer."""
    return estimate(count_tokens(original, model), count_tokens(compressed, model), model, requests_per_day,
                    output_tokens)
