"""Typed views of loosely shaped YAML values (a mapping or an empty one, a list or an empty one),
and the bound on a message's length."""

from __future__ import annotations

from typing import Any


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


MAX_MESSAGE = 1000  # characters of a result message shown; longer ones are cut, after masking


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` cut to ``limit`` characters. Callers mask secret values first: a value cut in two
    is one a masker can no longer recognise whole."""
    return text if len(text) <= limit else text[:limit - 3] + "..."
