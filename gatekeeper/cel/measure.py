"""One walk of a bound value for both things an evaluation needs to know about it first.

Before each evaluation the engine needs a value's weight (``cost.weight``: characters of its
strings and bytes plus one per value, what the cost bound is computed from) and whether it is
plain (``fast.plain``: what the runtime converts without error to what the Python fast path
sees). Walking a manifest twice for them cost more than most evaluations; ``measure`` walks it
once, handling scalars inline. ``Bindings`` keeps the result per variable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1


def utf8(text: str) -> bool:
    """True when the runtime can take ``text`` (no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the runtime cannot take the string
        return False
    return True


def measure(value: Any) -> tuple[int, bool]:
    """(``cost.weight(value)``, ``fast.plain(value)``) in one walk."""
    kind = type(value)
    if kind is dict:
        total, ok = 1, True
        for key in value:
            if type(key) is str:
                total += len(key) + 1
                if ok and not key.isascii():
                    ok = utf8(key)
            else:
                total += measure(key)[0]
                ok = False
        weight, plain = _items(value.values())
        return total + weight - 1, ok and plain
    if kind is list:
        return _items(value)
    if kind is str:
        return len(value) + 1, value.isascii() or utf8(value)
    return _scalar(value, kind)


def _items(items: Iterable[Any]) -> tuple[int, bool]:
    """The measure of a list of ``items`` (scalars inline: most items are)."""
    total, ok = 1, True
    for item in items:
        item_kind = type(item)
        if item_kind is str:
            total += len(item) + 1
            if ok and not item.isascii():
                ok = utf8(item)
        elif item_kind is dict or item_kind is list:
            weight, plain = measure(item)
            total += weight
            ok = ok and plain
        else:
            weight, plain = _scalar(item, item_kind)
            total += weight
            ok = ok and plain
    return total, ok


def _scalar(value: Any, kind: type) -> tuple[int, bool]:
    if kind is int:
        return 1, INT_MIN <= value <= INT_MAX
    if kind is bytes:
        return len(value) + 1, False
    return 1, kind is bool or value is None or kind is float
