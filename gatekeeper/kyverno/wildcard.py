"""Kyverno's wildcards: ``*`` matches any run of characters, ``?`` exactly one."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=8192)
def _compile(pattern: str) -> re.Pattern[str] | None:
    if "*" not in pattern and "?" not in pattern:
        return None
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
                      re.DOTALL)


def match(pattern: str, value: str) -> bool:
    """True when ``value`` matches the wildcard ``pattern`` as a whole."""
    compiled = _compile(pattern)
    if compiled is None:
        return pattern == value
    return compiled.fullmatch(value) is not None


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text
