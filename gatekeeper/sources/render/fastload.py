"""Load a renderer's output quickly: the objects only, with no positions.

A rendered object's positions come from its sources (see ``provenance``), never from the
renderer's stream, so the output needs no node tree kept and no position index. :func:`load`
composes each document with the gate's own loader (the same tag resolution) and builds the
values straight from the nodes, which costs a fraction of PyYAML's generic constructor.
Renderer output is regular; anything that is not (an explicit tag whose text does not resolve
to it, an alias, a merge key, a duplicate key, an escape that may spell a lone surrogate, a
parse error, nesting past the loader's bound) returns None, and the caller parses the text the
full way: the objects, and any finding, are then exactly what
:func:`gatekeeper.sources.yamlload.parse` gives.
"""

from __future__ import annotations

from sys import intern
from typing import Any

import yaml

from gatekeeper.sources import yamlload

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_AS_TEXT = frozenset({"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value", "tag:yaml.org,2002:binary"})


class _Irregular(Exception):
    """The text needs the full parse."""


class _Builder:
    """Values from composed nodes, as the gate's loader constructs them."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader
        self.seen: set[int] = set()  # collection nodes built (an alias repeats one)
        self._scalars = {
            "tag:yaml.org,2002:int": loader.construct_yaml_int,
            "tag:yaml.org,2002:float": loader.construct_yaml_float,
            "tag:yaml.org,2002:bool": loader.construct_yaml_bool,
        }

    def value(self, node: Any, depth: int) -> Any:
        kind = node.id
        if kind == "scalar":
            return self.scalar(node)
        if depth > yamlload.MAX_DEPTH or id(node) in self.seen:
            raise _Irregular  # nested too deep, or an alias: the full parse bounds and reports them
        self.seen.add(id(node))
        if kind == "mapping":
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.id != "scalar" or key_node.tag != _STR:
                    raise _Irregular  # a merge key, or a key that is not text (``1:`` and ``true:`` collide)
                key = intern(key_node.value)
                if key in out:
                    raise _Irregular  # a duplicate key: the full parse reports it
                out[key] = self.value(value_node, depth + 1)
            return out
        return [self.value(item, depth + 1) for item in node.value]

    def scalar(self, node: Any) -> Any:
        tag = node.tag
        if tag == _STR or tag in _AS_TEXT:
            return node.value
        implicit = self._loader.resolve(yaml.ScalarNode, node.value, (True, False))
        if tag != implicit and not (tag == _FLOAT and implicit == _INT):
            raise _Irregular  # an explicit tag its text does not fit: read the way the full parse reads it
        if tag == _NULL:
            return None
        construct = self._scalars.get(tag)
        if construct is None:
            raise _Irregular
        try:
            return construct(node)
        except (ValueError, KeyError):
            raise _Irregular from None  # a number too long to read: the full parse reports it


def load(text: str) -> list[Any] | None:
    """Every non-empty document's value, or None when the text needs the full parse."""
    found = load_documents(text)
    return None if found is None else [value for value, _ in found]


def load_documents(text: str) -> list[tuple[Any, tuple[int, int]]] | None:
    """Every non-empty document's value and the (line, column) where it starts, or None when the
    text needs the full parse (the documents' index in the list is their index in the file, as
    :func:`gatekeeper.sources.yamlload.parse` counts them)."""
    if "\\u" in text or "\\U" in text:  # only an escape can spell a lone surrogate
        return None
    loader = yamlload._Loader(text)
    builder = _Builder(loader)
    out: list[tuple[Any, tuple[int, int]]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None or (node.id == "scalar" and node.tag == _NULL and not node.value):
                continue
            builder.seen.clear()  # ids are per document (the previous document's nodes are gone)
            mark = node.start_mark
            out.append((builder.value(node, 1), (mark.line + 1, mark.column + 1)))
    except (_Irregular, yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()
    return out
