"""Kyverno's wildcards: ``*`` matches any run of characters, ``?`` exactly one.

Matching is linear in the value: the pattern splits at its stars into segments; the first must be
a prefix, the last a suffix, and each one between is found leftmost after the previous (greedy
leftmost placement is optimal for glob patterns, so there is no backtracking). A segment holding
``?`` is found with a regular expression of fixed length (``.`` per ``?``), which cannot backtrack
beyond its own length. Patterns and values come from the repository under review, so no form of
either may take more than linear time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

Finder = Callable[[str, int, int], int]  # (value, start, end) -> index of the segment, or -1


def _finder(segment: str) -> Finder:
    if "?" not in segment:
        return lambda value, start, end: value.find(segment, start, end)
    regex = re.compile("".join("." if c == "?" else re.escape(c) for c in segment), re.DOTALL)

    def find(value: str, start: int, end: int) -> int:
        m = regex.search(value, start, end)
        return -1 if m is None else m.start()
    return find


def _at(segment: str, value: str, index: int) -> bool:
    """``segment`` (with ``?`` for any character) is written in ``value`` at ``index``."""
    if "?" not in segment:
        return value.startswith(segment, index)
    if index + len(segment) > len(value):
        return False
    return all(p == "?" or p == v for p, v in zip(segment, value[index:index + len(segment)], strict=True))


@lru_cache(maxsize=8192)
def compile_test(pattern: str) -> Callable[[str], bool]:
    """``match(pattern, value)`` for one pattern as a one-argument test (the cheapest equivalent)."""
    if "*" not in pattern and "?" not in pattern:
        return pattern.__eq__
    if "*" not in pattern:
        size = len(pattern)
        return lambda value: len(value) == size and _at(pattern, value, 0)
    parts = pattern.split("*")
    first, last = parts[0], parts[-1]
    middle = [(len(p), _finder(p)) for p in parts[1:-1] if p]
    if not middle and not first and not last:
        return lambda value: True
    if not middle and "?" not in pattern:
        if not first:
            return lambda value: value.endswith(last)
        if not last:
            return lambda value: value.startswith(first)

    def test(value: str) -> bool:
        end = len(value) - len(last)
        if end < len(first) or not _at(first, value, 0) or not _at(last, value, end):
            return False
        pos = len(first)
        for size, find in middle:
            found = find(value, pos, end)
            if found < 0:
                return False
            pos = found + size
        return True
    return test


def match(pattern: str, value: str) -> bool:
    """True when ``value`` matches the wildcard ``pattern`` as a whole."""
    return compile_test(pattern)(value)


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text
