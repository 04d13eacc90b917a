"""The part both framework adapters share: compress retrieved texts for a query, one kept text per result.

Unlike LangChain's ``LLMLinguaCompressor``, which writes ``<#ref{i}#>`` tags into the prompt and parses them
back out of the compressed string, this reads which context every kept token came from straight off the
``Result`` (``word_labels.kept_contexts``), so nothing is added to what the scorer reads and nothing can be
lost in parsing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..compress import compress
from ..loading import LoadedModel, load_model
from ..result import Request, Result
from ..tokens import count_tokens
from ..word_labels import kept_contexts


@dataclass
class Kept:
    index: int                 # which input text this came from (0-based)
    text: str                  # its compressed text
    rank: int                  # the method's rank of the text (0 = best), -1 when the method does not rank


def compress_texts(texts: list[str], query: str, *, method: str = "longllmlingua", rate: float = 0.5,
                   target_token: int = -1, instruction: str = "", target_model: str = "gpt-4",
                   options: dict | None = None, model: str | None = None,
                   lm: LoadedModel | None = None) -> tuple[list[Kept], Result]:
    """Compress ``texts`` (the contexts) for ``query`` (the question, not returned) with any registered method.

    The budget is what the returned texts (joined by blank lines, after the instruction when one is given)
    may take in ``target_model``'s tokens: ``target_token``, or ``rate`` x what they take uncompressed. Returns
    the kept texts in the method's order and the Result.
    """
    if not texts:
        raise ValueError("compress_texts needs at least one text.")
    if target_token is None or target_token <= 0:
        whole = count_tokens("\n\n".join(([instruction] if instruction else []) + list(texts)), target_model)
        target_token = max(1, round(rate * whole))
    request = Request(context=list(texts), instruction=instruction, question=query or "", rate=rate,
                      target_token=target_token, target_model=target_model, method=method,
                      options=dict(options or {}), concate_question=False)
    result = compress(request, lm or load_model(model))
    rank = {p.index: p.rank for p in result.pieces if p.role == "context"}
    return [Kept(i, text, rank[i]) for i, text in kept_contexts(result)], result
