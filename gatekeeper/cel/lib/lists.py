"""Kubernetes' list library: ``isSorted``, ``sum``, ``min``, ``max``, ``indexOf``, ``lastIndexOf``.

Elements must be of one comparable type (numbers, strings, bytes, bools, durations,
timestamps); mixing types is an error, as in Kubernetes. ``sum`` of an empty list is 0.
"""

from __future__ import annotations

import datetime
from typing import Any

from gatekeeper.cel.lib import Library, member

_INT64 = (-(2**63), 2**63 - 1)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    for kind, cls in (("string", str), ("bytes", bytes), ("duration", datetime.timedelta),
                      ("timestamp", datetime.datetime)):
        if isinstance(value, cls):
            return kind
    raise ValueError(f"no such overload: values of type {type(value).__name__} are not comparable")


def _same(items: list[Any]) -> list[Any]:
    kinds = {_kind(v) for v in items}
    if len(kinds) > 1:
        raise ValueError("no such overload: list elements of different types")
    return items


def _is_sorted(items: list[Any]) -> bool:
    _same(items)
    return all(items[i] <= items[i + 1] for i in range(len(items) - 1))


def _sum(items: list[Any]) -> Any:
    _same(items)
    if not items:
        return 0
    if isinstance(items[0], datetime.timedelta):
        return sum(items, datetime.timedelta())
    if isinstance(items[0], (bool, str, bytes, datetime.datetime)):
        raise ValueError("no such overload: sum of non-numeric values")
    total = sum(items)
    if isinstance(total, int) and not _INT64[0] <= total <= _INT64[1]:
        raise ValueError("integer overflow")
    return total


def _min(items: list[Any]) -> Any:
    if not items:
        raise ValueError("min called on empty list")
    return min(_same(items))


def _max(items: list[Any]) -> Any:
    if not items:
        raise ValueError("max called on empty list")
    return max(_same(items))


def _index_of(items: list[Any], value: Any) -> int:
    for i, item in enumerate(items):
        if type(item) is type(value) and item == value:
            return i
    return -1


def _last_index_of(items: list[Any], value: Any) -> int:
    for i in range(len(items) - 1, -1, -1):
        if type(items[i]) is type(value) and items[i] == value:
            return i
    return -1


LIBRARY = Library("kubernetes.lists", (
    member("isSorted", ("list_isSorted", ("list",), "bool", _is_sorted)),
    member("sum", ("list_sum", ("list",), "dyn", _sum)),
    member("min", ("list_min", ("list",), "dyn", _min)),
    member("max", ("list_max", ("list",), "dyn", _max)),
    member("indexOf", ("list_indexOf", ("list", "any"), "int", _index_of)),
    member("lastIndexOf", ("list_lastIndexOf", ("list", "any"), "int", _last_index_of)),
))
