"""Provenance of kustomize ``replacements``: a target field's value came from a source field.

A replacement copies the value at ``source.fieldPath`` of one object into ``targets[].fieldPaths``
of others. A rendered field that a target's field path selects, on an object the target selects,
and that holds the source's value (or contains it, with ``options.delimiter``) was set by the
replacement: its line is the source field's line in the unit (where that value is written), and
the replacement entry is listed with it. Replacements are read inline from the kustomization or
from the files its ``replacements: [{path: ...}]`` entries name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from gatekeeper.model import Document, FieldPath, Origin
from gatekeeper.sources import kustomize as kz
from gatekeeper.sources.render.provenance import Attribution, ProvenanceIndex, Transform, as_map

DocsOf = Callable[[str], list[Document]]
_TOKEN = re.compile(r"\[[^\]]*\]|[^.\[\]]+")


def tokens(field_path: str) -> list[str]:
    """``spec.containers.[name=web].image`` (or ``containers[name=web]``) split into its parts."""
    return _TOKEN.findall(field_path)


def _step(node: Any, token: str, part: str | int | None) -> list[tuple[str | int, Any]]:
    """Children of ``node`` a token selects (only ``part`` when given)."""
    if token.startswith("["):
        key, _, want = token[1:-1].partition("=")
        if not isinstance(node, list):
            return []
        return [(i, item) for i, item in enumerate(node) if (part is None or part == i)
                and isinstance(item, dict) and str(item.get(key)) == want]
    if token == "*":
        items = list(enumerate(node)) if isinstance(node, list) else list(node.items()) if isinstance(node, dict) \
            else []
        return [(k, v) for k, v in items if part is None or part == k]
    if isinstance(node, list) and token.isdigit():
        i = int(token)
        return [(i, node[i])] if i < len(node) and (part is None or part == i) else []
    if isinstance(node, dict) and token in node and (part is None or part == token):
        return [(token, node[token])]
    return []


def select(obj: Any, parts: list[str]) -> tuple[list[str | int], Any] | None:
    """The first field of ``obj`` a field path selects: its concrete path and value."""
    path: list[str | int] = []
    node = obj
    for token in parts:
        found = _step(node, token, None)
        if not found:
            return None
        key, node = found[0]
        path.append(key)
    return path, node


def matches(path: Sequence[str | int], obj: Any, parts: list[str]) -> Any:
    """The value at the field path when ``path`` is it or lies below it; else a sentinel."""
    if len(path) < len(parts):
        return _NO
    node = obj
    for token, part in zip(parts, path, strict=False):
        found = _step(node, token, part)
        if not found:
            return _NO
        node = found[0][1]
    return node


_NO = object()


def _selects(selector: Any, obj: dict[str, Any]) -> bool:
    if not isinstance(selector, dict):
        return False
    meta = as_map(obj.get("metadata"))
    api = str(obj.get("apiVersion", ""))
    group, _, version = api.rpartition("/")
    checks = (("kind", obj.get("kind")), ("name", meta.get("name")), ("namespace", meta.get("namespace")),
              ("group", group), ("version", version))
    return all(not isinstance(selector.get(key), str) or selector[key] == value for key, value in checks)


def _named(source: dict[str, Any], obj: dict[str, Any]) -> bool:
    """The object a replacement source names (its name may have gained a prefix, suffix or hash)."""
    if isinstance(source.get("kind"), str) and source["kind"] != obj.get("kind"):
        return False
    meta = as_map(obj.get("metadata"))
    name = source.get("name")
    if isinstance(name, str) and name not in str(meta.get("name", "")):
        return False
    return not isinstance(source.get("namespace"), str) or source["namespace"] == meta.get("namespace")


def _entries(unit_plan: Any, docs_of: DocsOf) -> list[tuple[dict[str, Any], Document, FieldPath]]:
    """Every replacement of the unit (bases first) with the document and field holding it."""
    out: list[tuple[dict[str, Any], Document, FieldPath]] = []
    for kust in unit_plan.kustomizations:
        raw = kust.obj.get("replacements")
        for i, entry in enumerate(raw if isinstance(raw, list) else []):
            if isinstance(entry, dict) and isinstance(entry.get("source"), dict):
                out.append((entry, kust.doc, ("replacements", i)))
        for ref in kust.refs:
            if ref.role != kz.REPLACEMENT or not ref.path:
                continue
            for doc in docs_of(ref.path):
                items = doc.obj if isinstance(doc.obj, list) else [doc.obj]
                for j, item in enumerate(items):
                    if isinstance(item, dict) and isinstance(item.get("source"), dict):
                        out.append((item, doc, (j,) if isinstance(doc.obj, list) else ()))
    return out


def transforms(unit_plan: Any, docs_of: DocsOf,
               objects: list[tuple[dict[str, Any], ProvenanceIndex]]) -> list[Transform]:
    """A transform per replacement target, attributing what it set to the source field's line."""
    out: list[Transform] = []
    for entry, doc, where in _entries(unit_plan, docs_of):
        source = entry["source"]
        parts = tokens(source["fieldPath"] if isinstance(source.get("fieldPath"), str) else "metadata.name")
        found = next(((obj, index, hit) for obj, index in objects if _named(source, obj)
                      and (hit := select(obj, parts)) is not None), None)
        if found is None:
            continue
        _, index, (source_path, value) = found
        line, column = doc.locate(where)
        targets = entry.get("targets")
        for target in targets if isinstance(targets, list) else []:
            if isinstance(target, dict):
                test = _target_test(target, value)
                out.append(Transform(doc.path, line, test, role="replacement", column=column,
                                     source=_locator(index, source_path)))
    return out


def _target_test(target: dict[str, Any], value: Any) -> Callable[[Sequence[str | int], Any, dict[str, Any]], bool]:
    listed = target.get("fieldPaths")
    paths = [tokens(p) for p in (listed if isinstance(listed, list) else []) if isinstance(p, str)]
    listed_rejects = target.get("reject")
    rejects: list[Any] = listed_rejects if isinstance(listed_rejects, list) else []
    options = as_map(target.get("options"))
    partial = isinstance(options.get("delimiter"), str) and bool(options.get("delimiter"))

    def test(path: Sequence[str | int], _value: Any, obj: dict[str, Any]) -> bool:
        if not _selects(target.get("select"), obj) or any(_selects(r, obj) for r in rejects):
            return False
        for parts in paths:
            held = matches(path, obj, parts)
            if held is _NO:
                continue
            if held == value or (partial and isinstance(held, str) and str(value) in held):
                return True
        return False
    return test


def _locator(index: ProvenanceIndex, path: list[str | int]) -> Callable[[], Attribution | None]:
    busy: list[bool] = []

    def locate() -> Attribution | None:
        if busy:  # a replacement whose source is itself a replacement target: stop the loop
            return None
        busy.append(True)
        try:
            found = index.attribute(path)
            return Attribution(found.path, found.line, found.column, [Origin(found.path, found.line, "source")])
        finally:
            busy.pop()
    return locate
