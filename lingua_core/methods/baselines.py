"""Two floors for every chart: methods that use no model's judgement at all.

* ``random`` drops scorer tokens at random (seeded, so a seed always gives the same prompt).
* ``first_n`` keeps the contexts' first tokens and cuts the rest, as a plain truncation would.

Unlike the other methods, nothing is scored: the scorer's tokenizer only says where tokens begin and end,
and ``Work.fit`` still meets the budget in the target LLM's tokens, so these compare at equal size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..selection import Work
from .base import Method, NoOptions, register


@dataclass
class RandomOptions:
    seed: int = 42                # the same seed and prompt always give the same compressed prompt


def context_tokens_mask(work: Work) -> np.ndarray:
    return np.isin(work.piece_of, work.context_pieces())


@register
class RandomDrop(Method):
    name = "random"
    label = "Random drop (baseline)"
    summary = ("A floor to compare against: context tokens are dropped at random (seeded) until the budget is "
               "met. Instruction and question stay verbatim.")
    score_name = "random priority (0 to 1)"
    Options = RandomOptions

    def run(self, work: Work, opt: RandomOptions) -> None:
        work.score[:] = np.random.default_rng(opt.seed).random(len(work.ids))
        work.fit(work.score, context_tokens_mask(work))


@register
class FirstN(Method):
    name = "first_n"
    label = "Keep the first tokens (baseline)"
    summary = ("A floor to compare against: the contexts are read from the start and cut where the budget runs "
               "out, as a plain truncation does. Instruction and question stay verbatim.")
    score_name = "position from the end of the contexts (1 = first token)"
    Options = NoOptions

    def run(self, work: Work, opt: NoOptions) -> None:
        eligible = context_tokens_mask(work)
        n = int(eligible.sum())
        work.score[eligible] = (n - np.arange(n)) / max(n, 1)
        work.fit(work.score, eligible)
