"""What was kept, word by word and context by context: llmlingua's ``fn_labeled_original_prompt`` and
``compressed_prompt_list``, rebuilt from a ``Result`` for any method.

``Result.tokens`` says which scorer tokens were kept; llmlingua-2 users want words with a 0/1 label (training
data for a keep/drop classifier) and the compressed text of each context. Words here are the runs of
non-space characters of the contexts, split again where the kept flag changes inside one (a forced "." kept
after a dropped word), so every word is wholly kept or wholly dropped. Its sibling ``compat.py`` puts these
in the llmlingua dict.
"""

from __future__ import annotations

import re

from .result import Result

WORD = re.compile(r"\S+")


def kept_chars(result: Result) -> bytearray:
    """1 for every character of the original that lies in a kept token, else 0."""
    flags = bytearray(len(result.original))
    for t in result.tokens:
        if t.kept:
            flags[t.start:t.end] = b"\x01" * (t.end - t.start)
    return flags


def labelled_words(result: Result) -> list[tuple[str, int]]:
    """(word, 1 kept / 0 dropped) for the words of every context, in prompt order.

    Worked example: context "We need changes." with tokens "We", " need", " changes", "." kept as
    [1, 0, 0, 1] gives [("We", 1), ("need", 0), ("changes", 0), (".", 1)].
    """
    flags = kept_chars(result)
    out = []
    for p in result.pieces:
        if p.role != "context":
            continue
        for m in WORD.finditer(result.original, p.start, p.end):
            start = m.start()
            for i in range(m.start() + 1, m.end() + 1):
                if i == m.end() or flags[i] != flags[start]:
                    out.append((result.original[start:i], int(flags[start])))
                    start = i
    return out


def fn_labeled_original_prompt(result: Result, word_sep: str = "\t\t|\t\t", label_sep: str = " ") -> str:
    """llmlingua's format: ``word{label_sep}label`` joined by ``word_sep``."""
    return word_sep.join(f"{w}{label_sep}{label}" for w, label in labelled_words(result))


def kept_contexts(result: Result) -> list[tuple[int, str]]:
    """(context index, kept text) of every context with text kept, in the order the compressed prompt shows
    them: each run of consecutive kept tokens is one slice of the original, as the compressed prompt is built."""
    runs: dict[int, list[list[int]]] = {}             # piece -> [[start, end], ...]
    prev = -2
    for i, t in enumerate(result.tokens):
        if not t.kept or result.pieces[t.piece].role != "context":
            continue
        piece_runs = runs.setdefault(t.piece, [])
        if i == prev + 1 and piece_runs:
            piece_runs[-1][1] = max(piece_runs[-1][1], t.end)
        else:
            piece_runs.append([t.start, t.end])
        prev = i
    piece_of = {p.index: k for k, p in enumerate(result.pieces) if p.role == "context"}
    out = []
    for ctx in result.context_order or sorted(piece_of):
        text = "".join(result.original[s:e] for s, e in runs.get(piece_of[ctx], []))
        if text.strip():
            out.append((ctx, text))
    return out


def compressed_contexts(result: Result) -> list[str]:
    """llmlingua's ``compressed_prompt_list``: the kept text of each kept context (``kept_contexts``)."""
    return [text for _, text in kept_contexts(result)]
