"""Smaller bindings: a copy of a value holding only the subtrees a set of expressions reads.

The engine converts a bound Python value when an expression first reads it, and a whole
manifest costs tens of microseconds, many times an evaluation. ``Program.ast.read_paths``
says which field paths an expression can read below a variable; ``merge_paths`` joins them for
several programs, ``trie`` compiles them once, and ``prune`` copies just those subtrees (a ``*``
step prunes every item of a list; any other value on the way is kept whole), so every read gives
the same value as on the original.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gatekeeper.cel.measure import INT_MAX, INT_MIN, measure

Paths = tuple[tuple[str, ...], ...]


def merge_paths(groups: Iterable[Paths | None]) -> Paths | None:
    """The union of several programs' paths (None when any reads the value whole), without paths
    that lie under another one."""
    found: set[tuple[str, ...]] = set()
    for group in groups:
        if group is None:
            return None
        found.update(group)
    if () in found:
        return None
    ordered = sorted(found, key=len)
    kept: list[tuple[str, ...]] = []
    for path in ordered:
        if not any(path[:len(k)] == k for k in kept):
            kept.append(path)
    return tuple(kept)


Trie = dict[str, "Trie | None"]  # key -> what to keep below it (None: all of it); "*": each list item


def trie(paths: Paths | None) -> Trie | None:
    """``paths`` as a trie for ``prune`` (build it once, prune many values with it)."""
    if paths is None:
        return None
    root: Trie = {}
    for path in paths:
        if not path:
            return None
        node = root
        for i, key in enumerate(path):
            if i == len(path) - 1:
                node[key] = None
                break
            child = node.get(key, {})
            if child is None:
                break  # already kept whole
            node[key] = child
            node = child
    return root


def prune(value: Any, kept: Trie | None) -> Any:
    """``value`` reduced to what the trie keeps (``value`` itself for None, or where it is neither a map
    nor a list the trie steps into with ``*``)."""
    if kept is None:
        return value
    if type(value) is dict:
        out = {}
        for key, below in kept.items():
            if key in value:
                child = value[key]
                out[key] = child if below is None else prune(child, below)
        if "*" in kept:
            return value  # a map iterated by a comprehension: its keys are read
        return out
    if type(value) is list and "*" in kept and len(kept) == 1:
        below = kept["*"]
        return value if below is None else [prune(item, below) for item in value]
    return value


def measure_within(value: Any, kept: Trie | None) -> tuple[int, bool]:
    """``measure(prune(value, kept))`` (weight, plain) without building the pruned copy."""
    if kept is None:
        return measure(value)
    kind = type(value)
    if kind is dict:
        if "*" in kept:
            return measure(value)  # a map iterated by a comprehension: kept whole
        total, ok = 1, True
        for key, below in kept.items():
            if key in value:
                child = value[key]
                if below is None and type(child) is str:
                    total += len(key) + len(child) + 2
                    if ok and not child.isascii():
                        ok = measure(child)[1]
                    continue
                weight, plain = measure(child) if below is None else measure_within(child, below)
                total += len(key) + 1 + weight  # the copy's keys are the trie's: strings of the expressions
                ok = ok and plain
        return total, ok
    if kind is list and "*" in kept and len(kept) == 1:
        below = kept["*"]
        if below is None:
            return measure(value)
        total, ok = 1, True
        for item in value:
            weight, plain = measure_within(item, below)
            total += weight
            ok = ok and plain
        return total, ok
    return measure(value)


def measure_clean(value: Any, kept: Trie | None, exact: frozenset[str],
                  inside: tuple[str, ...] = ()) -> tuple[int, bool, bool]:
    """``measure_within(value, kept)``, and True when no string value the trie keeps is in ``exact`` or
    holds one of ``inside`` (values a caller would replace, whole or inside strings: then the value is
    seen within the trie as it is), in the same walk. Keys are not tested (no caller replaces keys)."""
    if kept is None:
        return _measure_clean(value, exact, inside)
    kind = type(value)
    if kind is dict:
        if "*" in kept:
            return _measure_clean(value, exact, inside)  # a map iterated by a comprehension: kept whole
        total, ok, clean = 1, True, True
        for key, below in kept.items():
            if key in value:
                child = value[key]
                if below is None and type(child) is str:
                    total += len(key) + len(child) + 2
                    if ok and not child.isascii():
                        ok = measure(child)[1]
                    if clean and (child in exact or (inside and _holds(child, inside))):
                        clean = False
                    continue
                weight, plain, seen = _measure_clean(child, exact, inside) if below is None else \
                    measure_clean(child, below, exact, inside)
                total += len(key) + 1 + weight
                ok = ok and plain
                clean = clean and seen
        return total, ok, clean
    if kind is list and "*" in kept and len(kept) == 1:
        below = kept["*"]
        if below is None:
            return _measure_clean(value, exact, inside)
        total, ok, clean = 1, True, True
        for item in value:
            weight, plain, seen = measure_clean(item, below, exact, inside)
            total += weight
            ok = ok and plain
            clean = clean and seen
        return total, ok, clean
    return _measure_clean(value, exact, inside)


def _measure_clean(value: Any, exact: frozenset[str], inside: tuple[str, ...]) -> tuple[int, bool, bool]:
    """``measure(value)`` and whether no string value in it is in ``exact`` or holds one of ``inside``."""
    kind = type(value)
    if kind is str:
        return len(value) + 1, value.isascii() or measure(value)[1], _clean(value, exact, inside)
    if kind is dict:
        total, ok = 1, True
        for key in value:
            if type(key) is str:
                total += len(key) + 1
                if ok and not key.isascii():
                    ok = measure(key)[1]
            else:
                total += measure(key)[0]
                ok = False
        weight, plain, clean = _items_clean(value.values(), exact, inside)
        return total + weight - 1, ok and plain, clean
    if kind is list:
        return _items_clean(value, exact, inside)
    weight, plain = measure(value)
    return weight, plain, True


def _items_clean(items: Iterable[Any], exact: frozenset[str], inside: tuple[str, ...]) -> tuple[int, bool, bool]:
    total, ok, clean = 1, True, True
    for item in items:
        item_kind = type(item)
        if item_kind is str:
            total += len(item) + 1
            if ok and not item.isascii():
                ok = measure(item)[1]
            if clean and (item in exact or (inside and _holds(item, inside))):
                clean = False
        elif item_kind is dict or item_kind is list:
            weight, plain, seen = _measure_clean(item, exact, inside)
            total += weight
            ok = ok and plain
            clean = clean and seen
        elif item_kind is bool or item is None or item_kind is float:
            total += 1  # scalars inline: most items are
        elif item_kind is int:
            total += 1
            if ok and not INT_MIN <= item <= INT_MAX:
                ok = False
        else:
            weight, plain = measure(item)
            total += weight
            ok = ok and plain
    return total, ok, clean


def _holds(text: str, inside: tuple[str, ...]) -> bool:
    return any(value in text for value in inside)


def _clean(text: str, exact: frozenset[str], inside: tuple[str, ...]) -> bool:
    return text not in exact and not (inside and _holds(text, inside))
