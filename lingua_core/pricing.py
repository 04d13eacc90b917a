"""Dollar prices of target LLMs from ``genai-prices`` (a maintained, offline price table).

Returns plain numbers; the UI formats them. Nothing here is typed in by hand: when the table lacks a model,
``price_of`` raises an ``InvalidRequest`` that names close matches.

>>> p = price_of("gpt-4o")
>>> p.input_per_mtok > 0
True
>>> round(cost(1_000_000, 0, "gpt-4o") / p.input_per_mtok, 6)
1.0
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from .errors import InvalidRequest


@dataclass(frozen=True)
class Price:
    model: str               # model id as the price table names it
    provider: str            # provider id, e.g. "openai"
    input_per_mtok: float    # dollars per million input tokens
    output_per_mtok: float   # dollars per million output tokens


POPULAR = ("gpt-4o", "gpt-4o-mini", "gpt-4", "gpt-4.1", "gpt-4.1-mini", "gpt-3.5-turbo", "gpt-5", "gpt-5-mini",
           "claude-sonnet-4-5", "claude-3-5-haiku", "gemini-2.5-pro", "gemini-2.5-flash")


def _usd(value) -> float:
    return float(value) if isinstance(value, (int, float, Decimal)) else 0.0


@lru_cache(maxsize=256)
def price_of(model: str, provider: str | None = None) -> Price:
    """Current list price of ``model`` per million tokens."""
    from genai_prices import Usage, calc_price

    try:
        calc = calc_price(Usage(input_tokens=1_000_000, output_tokens=1_000_000), model_ref=model,
                          provider_id=provider)
    except LookupError as exc:
        close = difflib.get_close_matches(model, known_models(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise InvalidRequest(f"No price is known for model {model!r}.{hint}") from exc
    return Price(calc.model.id, calc.provider.id, _usd(calc.input_price), _usd(calc.output_price))


@lru_cache(maxsize=1)
def known_models() -> tuple[str, ...]:
    """Every model id in the bundled price table."""
    from genai_prices import data_snapshot

    return tuple(sorted({m.id for p in data_snapshot.get_snapshot().providers for m in p.models}))


def available(models=POPULAR) -> list[str]:
    """The subset of ``models`` the price table can price, in the given order (for the UI's picker)."""
    out = []
    for m in models:
        try:
            price_of(m)
            out.append(m)
        except InvalidRequest:
            continue
    return out


def cost(input_tokens: int, output_tokens: int, model: str) -> float:
    """Dollars for one request of that many input and output tokens."""
    p = price_of(model)
    return (input_tokens * p.input_per_mtok + output_tokens * p.output_per_mtok) / 1_000_000
