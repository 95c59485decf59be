"""Parse YAML and JSON files into documents that remember where each field is written.

libyaml (CSafeLoader) composes the node tree; PyYAML's safe constructor builds the plain
values from it, and the node tree is kept as the document's lazy position index. The
constructor is tightened the way Kubernetes reads YAML: timestamps stay strings, keys
become strings, duplicate keys are recorded (then reported), and alias expansion is bounded.
Explicit tags are read as Kubernetes reads them (a tag it does not know leaves the text as
text; a type tag the text does not fit is a finding), so a tag can never hide a value from the
checks. No message quotes a value, a tag, an anchor or an alias name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
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
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_INT_TAG = "tag:yaml.org,2002:int"
# Tags the Kubernetes YAML reader resolves: the text must fit them, or the API server refuses the file.
_TYPED_TAGS = frozenset({"tag:yaml.org,2002:bool", _INT_TAG, _FLOAT_TAG, "tag:yaml.org,2002:timestamp"})
_TEXT_TAGS = frozenset({_STR_TAG, "tag:yaml.org,2002:binary"})  # constructed as strings as they are
_TAG_MARK = re.compile(r"(?:^|[\s\[{,:?-])!", re.MULTILINE)  # a tag indicator where a node can start
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_TOKEN_NAME = re.compile(r"'<[a-z ]+>'|'\\?.'|'\\x[0-9a-f]{2}'|'\\u[0-9a-f]{4}'")
_SURROGATE = re.compile("[\ud800-\udfff]")
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


def _bounded_int(loader: Any, node: Any) -> Any:
    """An integer as PyYAML builds it; one too long for Python to read is a parse error at its line."""
    try:
        return loader.construct_yaml_int(node)
    except ValueError:
        raise yaml.constructor.ConstructorError(None, None, "a number is too long to read",
                                                node.start_mark) from None


_Loader.add_constructor(_INT_TAG, _bounded_int)
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
    tagged = "!" in text and _TAG_MARK.search(text) is not None
    escaped = "\\u" in text or "\\U" in text  # only an escape can spell a lone surrogate
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
            if escaped and (bad := _surrogate_at(node)) is not None:
                result.findings.append(_surrogate_finding(source.path, bad.line + 1, bad.column + 1))
                index += 1
                continue
            if tagged:
                _retag(loader, node, result.findings, source.path)
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
        problem_text = unquoted((exc.problem or exc.context or "invalid syntax").strip())
        result.findings.append(file_finding(
            source.path, "parse-error", f"cannot parse: {problem_text}", line=line, column=column,
            hint="fix the syntax; nothing after this point in the file was checked"))
    except Exception as exc:  # any constructor failure: the class only, its text may quote the value
        result.findings.append(file_finding(
            source.path, "parse-error", f"cannot parse: {exc.__class__.__name__}",
            hint="fix the syntax; nothing after this point in the file was checked"))
    finally:
        loader.dispose()
    return result


def load_value(text: str) -> Any:
    """One YAML document read as a value under the file loader's bounds (alias expansion, depth),
    for YAML that policies parse at evaluation time (Kyverno's ``parse_yaml``); ValueError names
    the problem without quoting the text."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_ALIAS_EXPANSION:
            raise ValueError(f"the document expands to more than {MAX_ALIAS_EXPANSION} nodes through aliases")
        if _depth_over(node, MAX_DEPTH):
            raise ValueError(f"the document nests collections more than {MAX_DEPTH} levels deep")
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise ValueError(unquoted((exc.problem or exc.context or "invalid syntax").strip())) from None
    except yaml.YAMLError as exc:
        raise ValueError(exc.__class__.__name__) from None
    finally:
        loader.dispose()


def load_json_value(text: str) -> Any:
    """JSON text read as a value with the file loader's depth bound; ValueError when it is not JSON
    or nests deeper."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"the document nests collections more than {MAX_DEPTH} levels deep") from None
    if _value_depth_over(value, MAX_DEPTH):
        raise ValueError(f"the document nests collections more than {MAX_DEPTH} levels deep")
    return value


def unquoted(problem: str) -> str:
    """A parser message with every quoted item (a tag, an alias or anchor name, a value) left out;
    token names (``'<block end>'``) and single characters (``'\\t'``) stay, they say what is wrong."""
    return _QUOTED.sub(lambda m: m.group(0) if _TOKEN_NAME.fullmatch(m.group(0)) else "(not shown)", problem)


def _retag(loader: Any, root: Any, findings: list[Finding], path: str) -> None:
    """Read explicit tags the way Kubernetes' YAML reader does, before construction: a tag it does
    not resolve (``!!null``, ``!Custom``, ``!!python/...``) leaves a scalar's text as text and a
    collection as a plain mapping or list; a type tag its text does not fit (``!!bool S3cr3t``) is a
    finding (the API server refuses the file) and the text is kept as text, so checks still see it."""
    for node in _each_node(root):
        if node.id == "scalar":
            tag = node.tag
            if tag in _TEXT_TAGS:
                continue
            implicit = loader.resolve(yaml.ScalarNode, node.value, (True, False))
            if tag == implicit or (tag == _FLOAT_TAG and implicit == _INT_TAG):
                continue
            if tag in _TYPED_TAGS:
                mark = node.start_mark
                findings.append(file_finding(
                    path, "parse-error", "a value's explicit type tag does not fit its text; Kubernetes "
                    "refuses the file (the value was checked as text)", line=mark.line + 1,
                    column=mark.column + 1, hint="remove the tag, or quote the value if it is text"))
            node.tag = _STR_TAG
        else:
            node.tag = _MAP_TAG if node.id == "mapping" else _SEQ_TAG


def _each_node(root: Any) -> Iterator[Any]:
    """Every node of a document once (a node an alias repeats is visited once)."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            yield node
            stack.extend(_children(node))


def _parse_json(source: SourceFile, text: str, result: ParsedFile) -> bool:
    """Fallback for JSON that YAML rejects (tabs in odd places): positions are the file start. The
    YAML path's bounds hold here too: nesting depth, numbers too long to read, lone surrogates."""
    deep = f"document 0 nests collections more than {MAX_DEPTH} levels deep; it was not checked"
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return False
    except RecursionError:
        problem = deep
    except ValueError:  # an integer longer than Python reads (sys.get_int_max_str_digits)
        problem = "cannot parse: a number is too long to read"
    else:
        if _value_depth_over(obj, MAX_DEPTH):
            problem = deep
        elif "\\u" in text and _has_surrogate(obj):
            result.findings.append(_surrogate_finding(source.path, 1, 1))
            return True
        else:
            result.documents.append(Document(source.path, 0, obj, 1, FlatPositions(), text=text))
            return True
    result.findings.append(file_finding(source.path, "parse-error", problem, hint="fix the file"))
    return True


def _surrogate_finding(path: str, line: int, column: int) -> Finding:
    return file_finding(path, "encoding-error", "a string escapes a lone UTF-16 surrogate, which is not "
                        "Unicode text; the document was not checked", line=line, column=column,
                        hint="escape a whole surrogate pair, or write the character itself")


def _surrogate_at(root: Any) -> Any:
    """The start mark of the first scalar (key or value) holding a lone surrogate, or None."""
    return next((n.start_mark for n in _each_node(root) if n.id == "scalar" and _SURROGATE.search(n.value)), None)


def _has_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _value_depth_over(root: Any, limit: int) -> bool:
    """Whether a plain value's collections nest more than ``limit`` deep (iterative)."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return False


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
