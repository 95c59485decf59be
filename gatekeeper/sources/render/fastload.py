"""Load a renderer's output quickly: the objects only, with no positions.

A rendered object's positions come from its sources (see ``provenance``), never from the
renderer's stream, so the output needs no node tree kept and no position index. Renderer output
is also regular: no tags, anchors, aliases or duplicate keys. :func:`load` composes each
document with the gate's own loader (the same tag resolution) and builds the values straight
from the nodes, which costs a fraction of PyYAML's generic constructor. Anything irregular (a
tag, an anchor, an escape, a merge key, a duplicate key, a parse error, nesting past the loader's
bound) returns None, and the caller parses the text the full way: the objects, and any finding,
are then exactly what :func:`gatekeeper.sources.yamlload.parse` gives.
"""

from __future__ import annotations

from sys import intern
from typing import Any

import yaml

from gatekeeper.sources import yamlload

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_AS_TEXT = frozenset({"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value", "tag:yaml.org,2002:binary"})


class _Irregular(Exception):
    """The text needs the full parse."""


class _Builder:
    """Values from composed nodes, as the gate's loader constructs them."""

    def __init__(self) -> None:
        self._constructor = yamlload._Loader("")
        self._scalars = {
            "tag:yaml.org,2002:int": self._constructor.construct_yaml_int,
            "tag:yaml.org,2002:float": self._constructor.construct_yaml_float,
            "tag:yaml.org,2002:bool": self._constructor.construct_yaml_bool,
        }

    def value(self, node: Any, depth: int) -> Any:
        kind = node.id
        if kind == "scalar":
            return self.scalar(node)
        if depth > yamlload.MAX_DEPTH:
            raise _Irregular  # nested too deep: the full parse reports it
        if kind == "mapping":
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.id != "scalar" or key_node.tag == _MERGE:
                    raise _Irregular
                key = self.scalar(key_node)
                key = intern(key) if isinstance(key, str) else yamlload._key_str(key)
                if key in out:
                    raise _Irregular  # a duplicate key: the full parse reports it
                out[key] = self.value(value_node, depth + 1)
            return out
        return [self.value(item, depth + 1) for item in node.value]

    def scalar(self, node: Any) -> Any:
        tag = node.tag
        if tag == _STR or tag in _AS_TEXT:
            return node.value
        if tag == _NULL:
            return None
        construct = self._scalars.get(tag)
        if construct is None:
            raise _Irregular
        try:
            return construct(node)
        except ValueError:
            raise _Irregular from None  # a number too long to read: the full parse reports it


def load(text: str) -> list[Any] | None:
    """Every non-empty document's value, or None when the text needs the full parse."""
    if "\\u" in text or "\\U" in text:  # only an escape can spell a lone surrogate
        return None
    if ("!" in text and yamlload._TAG_MARK.search(text)) or ("&" in text and yamlload._ANCHOR.search(text)):
        return None  # a tag, or an anchor (without one, an alias is a parse error: the full parse reports it)
    loader = yamlload._Loader(text)
    builder = _Builder()
    out: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None or (node.id == "scalar" and node.tag == _NULL and not node.value):
                continue
            out.append(builder.value(node, 1))
    except (_Irregular, yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()
    return out
