"""Subsequence recovery: map words of an answer written from a compressed prompt back to the original text.

A compressed prompt keeps pieces of words ("Conrad Röntgen" may become "Conradgen"), and an LLM answering
from it copies them. ``recover`` finds each run of response words that appears in the compressed prompt
and replaces it with the span of the original it came from, widened to whole words -- the idea of
llmlingua's ``recover``, done on characters instead of one scorer's tokens, so it needs no model.

Unlike everything in ``methods/``, this runs after the LLM has answered, and its output is *not* a
subsequence of the compressed prompt: it puts back what compression took out.

>>> original = "The first Nobel Prize in Physics was awarded in 1901 to Wilhelm Conrad Röntgen, of Germany."
>>> compressed = "first Nobel Physics awarded 1901 Wilhelm Conradgen, Germany."
>>> recover(original, compressed, "It went to Wilhelm Conradgen in 1901.")
'It went to Wilhelm Conrad Röntgen in 1901.'
>>> recover(original, compressed, "No idea.")                 # nothing from the prompt: unchanged
'No idea.'
"""

from __future__ import annotations

import re

WORD = re.compile(r"\w+(?:['’-]\w+)*")
MAX_CANDIDATES = 500     # original positions tried per run (the rarest prefix keeps this small in practice)
MAX_SPREAD = 3           # a recovered span may be at most this many times the run's length (plus SLACK)
SLACK = 24


def occurs_as_words(text: str, haystack: str) -> bool:
    """``text`` appears in ``haystack`` not glued to letters or digits on either side.

    >>> occurs_as_words("a cat", "a cat sat"), occurs_as_words("cat", "concatenate")
    (True, False)
    """
    return re.search(r"(?<!\w)" + re.escape(text) + r"(?!\w)", haystack) is not None


def widen(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow ``text[start:end]`` to whole words.

    >>> t = "highlighters and pens"; s, e = widen(t, 5, 12); t[s:e]
    'highlighters'
    """
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return start, end


def subsequence_end(original: str, run: str, start: int) -> int:
    """End of the shortest span of ``original`` from ``start`` holding ``run``'s characters in order
    (greedy, leftmost), or -1 when there is none.

    >>> subsequence_end("Conrad Röntgen, of", "Conradgen", 0)
    14
    """
    pos = start
    for ch in run:
        pos = original.find(ch, pos)
        if pos < 0:
            return -1
        pos += 1
    return pos


def longest_prefix_in(run: str, original: str) -> str:
    """The longest prefix of ``run`` that occurs in ``original`` verbatim (binary search).

    >>> longest_prefix_in("Conradgen", "Wilhelm Conrad Röntgen")
    'Conrad'
    """
    lo, hi = 0, len(run)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if run[:mid] in original:
            lo = mid
        else:
            hi = mid - 1
    return run[:lo]


def match_run(original: str, run: str) -> str:
    """The whole-word span of ``original`` that ``run`` (text kept from it) came from; ``run`` if none fits.

    Candidates start where the longest verbatim prefix of ``run`` occurs; from each, the run's characters are
    matched in order, and the span that adds the fewest characters after widening to whole words wins (the
    earliest on ties).
    """
    if occurs_as_words(run, original):
        return run
    prefix = longest_prefix_in(run, original)
    if not prefix:
        return run
    best, best_cost = None, len(run) * MAX_SPREAD + SLACK
    at = original.find(prefix)
    for _ in range(MAX_CANDIDATES):
        if at < 0:
            break
        end = subsequence_end(original, run, at)
        if end < 0:
            break
        s, e = widen(original, at, end)
        if e - s - len(run) < best_cost:
            best, best_cost = (s, e), e - s - len(run)
        at = original.find(prefix, at + 1)
    return original[best[0]:best[1]] if best else run


def recover(original_prompt: str, compressed_prompt: str, response: str) -> str:
    """``response`` with every run of words copied from ``compressed_prompt`` spelled as in ``original_prompt``.

    A run is the longest stretch of consecutive response words (with what lies between them) that occurs in
    the compressed prompt on word boundaries; text between runs is kept as written.
    """
    words = [m.span() for m in WORD.finditer(response)]
    out, cursor, i = [], 0, 0
    while i < len(words):
        start = words[i][0]
        if not occurs_as_words(response[start:words[i][1]], compressed_prompt):
            i += 1
            continue
        j = i
        while j + 1 < len(words) and occurs_as_words(response[start:words[j + 1][1]], compressed_prompt):
            j += 1
        out += [response[cursor:start], match_run(original_prompt, response[start:words[j][1]])]
        cursor, i = words[j][1], j + 1
    out.append(response[cursor:])
    return "".join(out)
