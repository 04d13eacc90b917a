"""Two floors for every chart: methods that use no model's judgement at all.

* ``random`` drops scorer tokens at random (seeded, so a seed always gives the same prompt).
* ``first_n`` keeps the contexts' first tokens and cuts the rest, as a plain truncation would.

Unlike the other methods, nothing is scored: the scorer's tokenizer only says where tokens begin and end,
and ``Work.fit`` still meets the budget in the target LLM's tokens, so these compare at equal size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..selection import Decision, Work
from .base import Method, NoOptions, option, register


@dataclass
class RandomOptions:
    seed: int = option(42, "the same seed and prompt always give the same compressed prompt")


@register
class RandomDrop(Method):
    name = "random"
    label = "Random drop (baseline)"
    summary = ("A floor to compare against: context tokens are dropped at random (seeded) until the budget is "
               "met. Instruction and question stay verbatim.")
    score_name = "random priority (0 to 1)"
    Options = RandomOptions

    def run(self, work: Work, opt: RandomOptions) -> Decision:
        d = work.decision()
        d.score[:] = np.random.default_rng(opt.seed).random(len(work.ids))
        work.fit(d, d.score, work.context_mask())
        return d


@register
class FirstN(Method):
    name = "first_n"
    label = "Keep the first tokens (baseline)"
    summary = ("A floor to compare against: the contexts are read from the start and cut where the budget runs "
               "out, as a plain truncation does. Instruction and question stay verbatim.")
    score_name = "position from the end of the contexts (1 = first token)"
    Options = NoOptions

    def run(self, work: Work, opt: NoOptions) -> Decision:
        d = work.decision()                          # instruction and question kept, nothing scored yet
        eligible = work.context_mask()
        n = int(eligible.sum())
        d.score[eligible] = (n - np.arange(n)) / max(n, 1)
        work.fit(d, d.score, eligible)
        return d
