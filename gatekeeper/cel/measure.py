"""One walk of a bound value for both things an evaluation needs to know about it first.

Before each evaluation the engine needs a value's weight (``cost.weight``: characters of its
strings and bytes plus one per value, what the cost bound is computed from) and whether it is
plain (``fast.plain``: what the runtime converts without error to what the Python fast path
sees). Walking a manifest twice for them cost more than most evaluations; ``measure`` walks it
once, handling scalars inline. ``Bindings`` keeps the result per variable.
"""

from __future__ import annotations

from typing import Any

INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1


def _utf8(text: str) -> bool:
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
        for key, item in value.items():
            if type(key) is str:
                total += len(key) + 1
                if ok and not key.isascii():
                    ok = _utf8(key)
            else:
                total += measure(key)[0]
                ok = False
            item_kind = type(item)
            if item_kind is str:
                total += len(item) + 1
                if ok and not item.isascii():
                    ok = _utf8(item)
            elif item_kind is dict or item_kind is list:
                weight, plain = measure(item)
                total += weight
                ok = ok and plain
            else:
                weight, plain = _scalar(item, item_kind)
                total += weight
                ok = ok and plain
        return total, ok
    if kind is list:
        total, ok = 1, True
        for item in value:
            item_kind = type(item)
            if item_kind is str:
                total += len(item) + 1
                if ok and not item.isascii():
                    ok = _utf8(item)
            elif item_kind is dict or item_kind is list:
                weight, plain = measure(item)
                total += weight
                ok = ok and plain
            else:
                weight, plain = _scalar(item, item_kind)
                total += weight
                ok = ok and plain
        return total, ok
    if kind is str:
        return len(value) + 1, value.isascii() or _utf8(value)
    return _scalar(value, kind)


def _scalar(value: Any, kind: type) -> tuple[int, bool]:
    if kind is int:
        return 1, INT_MIN <= value <= INT_MAX
    if kind is bytes:
        return len(value) + 1, False
    return 1, kind is bool or value is None or kind is float
