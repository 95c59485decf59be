"""Where a policy result points: the field named by ``_loc``, ``field`` or ``path`` metadata.

A path may be a list of keys and indexes or a dotted string (``spec.containers[0].image``,
``metadata.labels["app.kubernetes.io/name"]``). Anything else points at the object itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gatekeeper.model import FieldPath

LOCATION_KEYS = ("_loc", "field", "path")
_PART = re.compile(r"""\.?([^.\[\]]+)|\[(\d+)\]|\[["']([^"']*)["']\]""")


def parse_path(value: Any) -> FieldPath | None:
    """A field path from a list or a dotted string; None when the value is neither."""
    if isinstance(value, list | tuple):
        parts: list[str | int] = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, str | int):
                return None
            parts.append(item)
        return tuple(parts)
    if not isinstance(value, str) or not value:
        return None
    out: list[str | int] = []
    pos = 0
    text = value[1:] if value.startswith(".") else value
    while pos < len(text):
        m = _PART.match(text, pos)
        if m is None or m.end() == pos:
            return None
        if m.group(1) is not None:
            out.append(m.group(1))
        elif m.group(2) is not None:
            out.append(int(m.group(2)))
        else:
            out.append(m.group(3))
        pos = m.end()
    return tuple(out)


def field_of(*sources: Any) -> FieldPath:
    """The first location given by any of the result objects (violation, then its details)."""
    for source in sources:
        if isinstance(source, Mapping):
            for key in LOCATION_KEYS:
                if key in source:
                    path = parse_path(source[key])
                    if path is not None:
                        return path
    return ()
