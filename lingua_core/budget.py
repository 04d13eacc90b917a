"""Budget arithmetic: what was asked for, and whether a result is close enough to it.

The budget is the whole compressed prompt (instruction + contexts + question) in the target LLM's tokens.

>>> requested_tokens(rate=0.25, target_token=-1, origin_tokens=1000)
250
>>> requested_tokens(rate=0.5, target_token=200, origin_tokens=1000)   # target_token wins
200
>>> requested_tokens(rate=0.5, target_token=5000, origin_tokens=1000)  # clamped: nothing to add
1000
>>> within(achieved=215, requested=200, origin_tokens=1200), within(achieved=225, requested=200, origin_tokens=1200)
(True, False)
>>> within(achieved=24, requested=10, origin_tokens=120)   # short prompts: +-15 tokens is allowed
True
"""

from __future__ import annotations

RELATIVE = 0.10      # |achieved / requested - 1| allowed
ABSOLUTE = 15        # tokens allowed for prompts shorter than SHORT
SHORT = 300          # origin tokens below which ABSOLUTE applies when looser


def requested_tokens(rate: float, target_token: int, origin_tokens: int) -> int:
    """Target-LLM tokens asked for: ``target_token`` when positive, else ``rate`` x the original.

    A budget above the original's size is clamped to it (compression never adds tokens).
    """
    if target_token is not None and target_token > 0:
        return min(int(target_token), origin_tokens)
    return max(0, int(round(rate * origin_tokens)))


def slack(requested: int, origin_tokens: int) -> float:
    """How many tokens a result may miss ``requested`` by."""
    rel = RELATIVE * requested
    return max(rel, ABSOLUTE) if origin_tokens < SHORT else rel


def within(achieved: int, requested: int, origin_tokens: int) -> bool:
    """True when ``achieved`` is close enough to ``requested`` (the project's budget tolerance)."""
    return abs(achieved - requested) <= slack(requested, origin_tokens)
