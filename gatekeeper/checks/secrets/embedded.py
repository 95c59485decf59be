"""Configuration embedded in a string: env files, INI, nested YAML or JSON in ConfigMap data,
Helm ``values`` strings and generator files.

Each parser yields (key path, value, line) with the 0-based line inside the embedded text, so
a finding can point at the exact line of the file. Parsers never raise and never put content
in an error: malformed text is simply not structured, and the token scan still covers it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_EMBEDDED = 256 * 1024
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*=\s*(.*?)\s*$")
_INI_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\- ]*?)\s*[=:]\s*(.*?)\s*$")
_INI_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_YAML_KEY = re.compile(r"^\s*(?:-\s+)?[\"']?[A-Za-z_][\w.\-]*[\"']?\s*:(?:\s|$)")


@dataclass(frozen=True, slots=True)
class Pair:
    """A key and its scalar value inside embedded text; ``line`` is 0-based within that text."""

    path: tuple[str | int, ...]
    key: str
    value: str
    line: int


def pairs(text: str) -> Iterator[Pair]:
    """Key/value pairs of embedded configuration in any supported format (none when unstructured).
    One line is configuration too when it is a JSON object or array or a ``KEY=value`` line."""
    if len(text) > MAX_EMBEDDED:
        return
    head = text.lstrip()
    if "\n" not in text.strip():
        if head.startswith(("{", "[")):
            yield from _json_pairs(text)
        elif _ENV_LINE.match(text):
            yield from env_pairs(text)
        return
    if head.startswith(("{", "[")):
        found = list(_json_pairs(text))
        if found or head.startswith("{"):
            yield from found
            return
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(("#", ";", "//"))]
    if not lines:
        return
    env_like = sum(1 for ln in lines if _ENV_LINE.match(ln))
    yaml_like = sum(1 for ln in lines if _YAML_KEY.match(ln))
    sections = sum(1 for ln in lines if _INI_SECTION.match(ln))
    if sections or (env_like >= yaml_like and env_like * 2 >= len(lines)):
        yield from env_pairs(text, ini=bool(sections))
    elif yaml_like:
        yield from _yaml_pairs(text)


def env_pairs(text: str, *, ini: bool = False) -> Iterator[Pair]:
    """``KEY=value`` lines (dotenv, properties) and INI ``key = value`` under ``[section]`` headers."""
    section: str | None = None
    for i, line in enumerate(text.splitlines()):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";", "//")):
            continue
        sec = _INI_SECTION.match(line) if ini else None
        if sec is not None:
            section = sec.group(1).strip()
            continue
        m = (_INI_LINE if ini else _ENV_LINE).match(line)
        if m is None:
            continue
        key, value = m.group(1).strip(), _unquote(m.group(2))
        path: tuple[str | int, ...] = (section, key) if section else (key,)
        yield Pair(path, key, value, i)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    if " #" in value:
        value = value.split(" #", 1)[0].rstrip()
    return value


def _yaml_pairs(text: str) -> Iterator[Pair]:
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except (yaml.YAMLError, RecursionError, ValueError, TypeError):
        return
    for node in nodes:
        if node is not None:
            yield from _node_pairs(node, ())


def _node_pairs(node: Any, path: tuple[str | int, ...]) -> Iterator[Pair]:
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(node, path)]
    while stack:
        current, where = stack.pop()
        if current.id == "mapping":
            for key_node, value_node in current.value:
                if key_node.id != "scalar":
                    continue
                key = str(key_node.value)
                if value_node.id == "scalar":
                    quoted = value_node.style in ("'", '"', "|", ">")
                    if quoted or value_node.tag.endswith((":str", ":binary")):
                        yield Pair((*where, key), key, str(value_node.value), key_node.start_mark.line)
                else:
                    stack.append((value_node, (*where, key)))
        elif current.id == "sequence":
            for i, item in enumerate(current.value):
                if item.id != "scalar":
                    stack.append((item, (*where, i)))


def _json_pairs(text: str) -> Iterator[Pair]:
    """String members of a JSON document in document order; lines come from a cursor that only
    moves forward, so each key is matched to its own occurrence in linear time."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return
    cursor = [0]
    try:
        yield from _json_walk(obj, (), text.splitlines(), cursor)
    except RecursionError:
        return


def _json_walk(node: Any, where: tuple[str | int, ...], lines: list[str], cursor: list[int]) -> Iterator[Pair]:
    items: Iterable[tuple[str | int, Any]] = node.items() if isinstance(node, dict) else \
        enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        if isinstance(key, str):
            cursor[0] = _json_line(lines, key, cursor[0])
            if isinstance(value, str):
                yield Pair((*where, key), key, value, cursor[0])
        if isinstance(value, (dict, list)) and value:
            yield from _json_walk(value, (*where, key), lines, cursor)


def _json_line(lines: list[str], key: str, cursor: int) -> int:
    needle = json.dumps(key)
    for i in range(cursor, len(lines)):
        line = lines[i]
        at = line.find(needle)
        if at >= 0 and line[at + len(needle):].lstrip().startswith(":"):
            return i
    return cursor


def parse_structured(text: str) -> Any:
    """The JSON object a string holds, or None (for service-account key files and docker configs)."""
    head = text.lstrip()
    if not head.startswith("{") or len(text) > MAX_EMBEDDED:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
