"""The map insertion behind ``transformMap`` and ``transformMapEntry`` (two-variable comprehensions).

The engine evaluates those macros through ``transformList`` and this function
(``gatekeeper.cel.rewrite``): it merges a list of maps, in order, into one; a key that repeats is
an error, as Kubernetes' ``cel.@mapInsert`` reports it. Keys keep their CEL identity: ``1`` and
``true`` (one key to Python) are refused rather than merged.
"""

from __future__ import annotations

from typing import Any

from gatekeeper.cel.lib import Library, member
from gatekeeper.cel.rewrite import ENTRIES


def _key(key: Any) -> tuple[type, Any]:
    return type(key), key


def entries(maps: list[Any]) -> dict[Any, Any]:
    """One map from ``maps`` (each a map), keys in order of first appearance."""
    out: dict[Any, Any] = {}
    seen: set[tuple[type, Any]] = set()
    for entry in maps:
        if not isinstance(entry, dict):
            raise ValueError("no such overload: transformMapEntry needs a map per entry")
        for key, value in entry.items():
            if _key(key) in seen:
                raise ValueError(f"insert failed: key {key!r} already exists")
            if key in out:
                raise ValueError("insert failed: keys of different types that compare equal")
            seen.add(_key(key))
            out[key] = value
    return out


LIBRARY = Library("kubernetes.maps", (
    member(ENTRIES, ("list_map_of_entries", ("list",), "map", entries)),
))
