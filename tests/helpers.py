"""Invariant checks shared by the test files."""

from __future__ import annotations


def is_subsequence(short: str, long: str) -> bool:
    """Every character of ``short`` appears in ``long`` in order.

    >>> is_subsequence("ace", "abcde"), is_subsequence("aec", "abcde")
    (True, False)
    """
    it = iter(long)
    return all(ch in it for ch in short)


def assert_in_order(result) -> None:
    """Kept tokens are spans of the original in increasing order, and the compressed prompt is made of them."""
    kept = [t for t in result.tokens if t.kept]
    for a, b in zip(kept, kept[1:]):
        assert a.start <= b.start, (a, b)
    for t in result.tokens:
        assert result.original[t.start:t.end] == t.text
    assert is_subsequence(result.compressed, result.original)
