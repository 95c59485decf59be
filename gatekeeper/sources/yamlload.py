"""Parse YAML and JSON files into documents that remember where each field is written.

libyaml (CSafeLoader) composes the node tree; PyYAML's safe constructor builds the plain
values from it, and the node tree is kept as the document's lazy position index. The
constructor is tightened the way Kubernetes reads YAML: timestamps stay strings, keys
become strings, duplicate keys are recorded (then reported), and alias expansion is bounded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from sys import intern
from typing import Any

import yaml

from gatekeeper.model import Document, Finding, FlatPositions, PositionIndex
from gatekeeper.sources.files import SourceFile, file_finding

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
BINARY_SNIFF = 8192
MAX_ALIAS_EXPANSION = 100_000  # nodes that aliases may add to one document
MAX_DEPTH = 100  # nested collections per document (real manifests stay under 40; checks recurse)
_ANCHOR = re.compile(r"&[^\s&=;]")
_NULL_TAG = "tag:yaml.org,2002:null"
_TAG_CACHE: dict[str, str] = {}
_TAG_CACHE_MAX = 200_000


class _Loader(_BaseLoader):  # type: ignore[misc]
    """Safe loader that records duplicate keys and keeps YAML timestamps as strings."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, Any]] = []

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """Memoised tag resolution for plain scalars: the tag depends on the text alone."""
        if kind is yaml.ScalarNode and implicit[0]:
            tag = _TAG_CACHE.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_TAG_CACHE) < _TAG_CACHE_MAX:
                    _TAG_CACHE[value] = tag
            return tag
        return super().resolve(kind, value, implicit)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.id == "scalar" and key_node.tag != "tag:yaml.org,2002:merge":
                key_node.value = intern(key_node.value)
                if key_node.value in seen:
                    self.duplicates.append((key_node.value, key_node.start_mark))
                seen.add(key_node.value)
        mapping = super().construct_mapping(node, deep=deep)
        if any(not isinstance(k, str) for k in mapping):
            mapping = {_key_str(k): v for k, v in mapping.items()}
        return mapping  # type: ignore[no-any-return]


def _key_str(key: Any) -> Any:
    """Render a non-string scalar key the way YAML-to-JSON conversion does."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, (int, float)):
        return str(key)
    return key


def _as_string(loader: Any, node: Any) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _as_string)
_Loader.add_constructor("tag:yaml.org,2002:value", _as_string)
_Loader.add_constructor("tag:yaml.org,2002:binary", _as_string)


@dataclass(slots=True)
class ParsedFile:
    """The documents of one file and the findings its parsing produced."""

    path: str
    documents: list[Document] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    text: str = ""


def decode(source: SourceFile) -> tuple[str | None, Finding | None]:
    """Decode a file's bytes as UTF-8 (BOM allowed); binary or mis-encoded files give a finding."""
    data = source.data
    if b"\x00" in data[:BINARY_SNIFF]:
        return None, file_finding(source.path, "binary-file",
                                  "file has a manifest extension but binary content; it was not checked",
                                  hint="remove it or exclude it in .gatekeeper.yaml")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, file_finding(source.path, "encoding-error",
                                  f"file is not valid UTF-8 (byte {exc.start}); it was not checked",
                                  line=line, hint="save the file as UTF-8")


def parse(source: SourceFile) -> ParsedFile:
    """Parse every document of a file; never raises for bad input."""
    result = ParsedFile(source.path)
    text, problem = decode(source)
    if problem is not None or text is None:
        result.findings.extend([problem] if problem else [])
        return result
    result.text = text
    loader = _Loader(text)
    index = 0
    check_aliases = "&" in text and _ANCHOR.search(text) is not None
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None or (node.id == "scalar" and node.tag == _NULL_TAG and not node.value):
                continue  # empty or comment-only document: not counted
            if check_aliases and _expanded_size(node) > MAX_ALIAS_EXPANSION:
                mark = node.start_mark
                result.findings.append(file_finding(
                    source.path, "alias-bomb",
                    f"document {index} expands to more than {MAX_ALIAS_EXPANSION} nodes through "
                    "aliases; it was not checked", line=mark.line + 1, column=mark.column + 1,
                    hint="expand the anchors by hand or reduce their nesting"))
                index += 1
                continue
            if _depth_over(node, MAX_DEPTH):
                mark = node.start_mark
                result.findings.append(file_finding(
                    source.path, "parse-error",
                    f"document {index} nests collections more than {MAX_DEPTH} levels deep; it was not checked",
                    line=mark.line + 1, column=mark.column + 1, hint="flatten the document"))
                index += 1
                continue
            loader.duplicates = []
            obj = loader.construct_document(node)
            start = (node.start_mark.line + 1, node.start_mark.column + 1)
            for key, mark in loader.duplicates:
                result.findings.append(file_finding(
                    source.path, "duplicate-key",
                    f"mapping key {key!r} is defined more than once; the last one silently wins",
                    line=mark.line + 1, column=mark.column + 1,
                    hint="remove or merge the duplicate key"))
            result.documents.append(Document(source.path, index, obj, start[0], PositionIndex(node, start),
                                             text=text))
            index += 1
    except yaml.MarkedYAMLError as exc:
        if source.path.endswith(".json") and not result.documents and _parse_json(source, text, result):
            return result
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem_text = (exc.problem or exc.context or "invalid syntax").strip()
        result.findings.append(file_finding(
            source.path, "parse-error", f"cannot parse: {problem_text}", line=line, column=column,
            hint="fix the syntax; nothing after this point in the file was checked"))
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        result.findings.append(file_finding(
            source.path, "parse-error", f"cannot parse: {exc.__class__.__name__}",
            hint="fix the syntax; nothing after this point in the file was checked"))
    finally:
        loader.dispose()
    return result


def _parse_json(source: SourceFile, text: str, result: ParsedFile) -> bool:
    """Fallback for JSON that YAML rejects (tabs in odd places): positions are the file start."""
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return False
    result.documents.append(Document(source.path, 0, obj, 1, FlatPositions(), text=text))
    return True


def _expanded_size(root: Any) -> int:
    """Nodes the document would have with every alias expanded (memoised, iterative).

    A recursive alias (a node that contains itself) counts as unbounded.
    """
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            visiting.discard(key)
            total = 1 + sum(sizes[id(c)] for c in _children(node))
            if total > MAX_ALIAS_EXPANSION:
                return total
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in visiting:
            return MAX_ALIAS_EXPANSION + 1
        visiting.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in visiting:
                return MAX_ALIAS_EXPANSION + 1
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _depth_over(root: Any, limit: int) -> bool:
    """Whether collections nest more than ``limit`` deep (iterative; runs after the alias bound)."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if node.id == "mapping":
            stack.extend((v, depth + 1) for pair in node.value for v in pair if v.id != "scalar")
        elif node.id == "sequence":
            stack.extend((v, depth + 1) for v in node.value if v.id != "scalar")
    return False


def _children(node: Any) -> list[Any]:
    if node.id == "mapping":
        return [n for pair in node.value for n in pair]
    if node.id == "sequence":
        return list(node.value)
    return []
