"""Invariant checks shared by the test files."""

from __future__ import annotations


def is_subsequence(short: str, long: str) -> bool:
    """Every character of ``short`` appears in ``long`` in order.

    >>> is_subsequence("ace", "abcde"), is_subsequence("aec", "abcde")
    (True, False)
    """
    it = iter(long)
    return all(ch in it for ch in short)


def reordered_original(result) -> str:
    """The original prompt with its kept contexts in ``result.context_order`` (the order a reordering method
    renders them in); the original itself when nothing moved."""
    ctx = [p for p in result.pieces if p.role == "context"]
    if result.context_order == sorted(result.context_order):
        return result.original
    sep = result.original[ctx[0].end:ctx[1].start]
    body = sep.join(result.original[ctx[i].start:ctx[i].end] for i in result.context_order)
    return result.original[:ctx[0].start] + body + result.original[ctx[-1].end:]


def assert_in_order(result) -> None:
    """Kept tokens are spans of the original in increasing order, and the compressed prompt is made of them
    (contexts in the order the method rendered them, each one's tokens in their original order)."""
    kept = [t for t in result.tokens if t.kept]
    for a, b in zip(kept, kept[1:]):
        assert a.start <= b.start, (a, b)
    for t in result.tokens:
        assert result.original[t.start:t.end] == t.text
    assert is_subsequence(result.compressed, reordered_original(result))


def offline_options(name: str) -> dict:
    """The options under which registered method ``name`` runs offline (e.g. LLMLingua-2's test encoder)."""
    from lingua_core.methods import REGISTRY

    return dict(getattr(REGISTRY[name], "offline_options", {}) or {})
