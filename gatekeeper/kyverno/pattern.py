"""Validation patterns: the overlay a resource must match, with anchors, wildcards and value
operators, giving the field path where the match failed.

Anchors: conditional ``(k)`` and global ``<(k)`` (a false condition skips: the list element, or the
rule), equality ``=(k)`` (checked when present), existence ``^(k)`` (at least one list element),
negation ``X(k)`` (must be absent). Value operators: ``> < >= <= !``, ``|``, ``&``, ranges ``a-b``
and ``a!-b``; numbers, quantities and durations compare by value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from gatekeeper.kyverno import quantities as q
from gatekeeper.kyverno import wildcard
from gatekeeper.kyverno.errors import UNLIMITED, Deadline
from gatekeeper.model import FieldPath

ANCHOR = re.compile(r"^([^()]{0,2})\((.+)\)$")
KNOWN_ANCHORS = {"": "conditional", "=": "equality", "^": "existence", "X": "negation", "<": "global"}
_RANGE = re.compile(r"^(\d+(?:\.\d+)?)([^-!]*)-(\d+(?:\.\d+)?)([^-]*)$")
_NOT_RANGE = re.compile(r"^(\d+(?:\.\d+)?)([^-!]*)!-(\d+(?:\.\d+)?)([^-]*)$")


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Why a resource does not match: at ``path``; ``skip`` is "conditional"/"global" for an anchor
    whose condition did not hold (the element or rule is skipped, not failed)."""

    path: FieldPath
    message: str
    skip: str = ""


def parse_anchor(key: str) -> tuple[str, str] | None:
    """(kind, inner key) for an anchored key, ("unknown", key) for a malformed one, None for plain keys."""
    m = ANCHOR.match(key)
    if m is None:
        return None
    prefix, inner = m.group(1), m.group(2)
    if prefix == "+":
        return "add", inner
    kind = KNOWN_ANCHORS.get(prefix)
    return (kind, inner) if kind else ("unknown", key)


def slash_path(path: FieldPath) -> str:
    """Kyverno's ``/spec/containers/0/image/`` spelling of a path."""
    return "/" + "".join(f"{p}/" for p in path)


class _Fail:
    """A mismatch on its way up: path parts gathered in reverse, message with {at}/{parent} holes."""

    __slots__ = ("parts", "skip", "template")

    def __init__(self, template: str, skip: str = "", parts: list[str | int] | None = None) -> None:
        self.template, self.skip = template, skip
        self.parts: list[str | int] = parts if parts is not None else []


class Matcher:
    """Match one resource (sub)tree against a pattern.

    A pattern is compiled once into nodes (anchors sorted, value operators parsed) and cached while
    it lives; the success path allocates nothing, a failure builds its path on the way up.
    """

    def __init__(self, deadline: Deadline = UNLIMITED) -> None:
        self.deadline = deadline
        self._steps = 0

    def match(self, resource: Any, pattern: Any, path: FieldPath = (), *, cache: bool = True) -> Mismatch | None:
        node = compile_pattern(pattern) if cache else _build(pattern)
        failed = node.run(self, resource)
        if failed is None:
            return None
        full = (*path, *reversed(failed.parts))
        text = failed.template.format(at=slash_path(full), parent=slash_path(full[:-1]))
        return Mismatch(full, text, failed.skip)

    def tick(self) -> None:
        self._steps += 1
        if self._steps % 512 == 0:
            self.deadline.check()


_COMPILED: dict[int, tuple[Any, _Node]] = {}


def compile_pattern(pattern: Any) -> _Node:
    """The compiled node of a long-lived pattern (the cache holds the pattern, so its id stays its own)."""
    hit = _COMPILED.get(id(pattern))
    if hit is not None and hit[0] is pattern:
        return hit[1]
    node = _build(pattern)
    if isinstance(pattern, (dict, list)) and len(_COMPILED) < 50_000:
        _COMPILED[id(pattern)] = (pattern, node)
    return node


def _build(pattern: Any) -> _Node:
    if isinstance(pattern, dict):
        return _MapNode(pattern)
    if isinstance(pattern, list):
        return _ListNode(pattern)
    return _ValueNode(pattern)


class _MapNode:
    __slots__ = ("first", "later", "pattern", "plain", "wild")

    def __init__(self, pattern: dict[str, Any], expanded: bool = False) -> None:
        self.pattern = pattern
        self.wild = not expanded and any(wildcard.has_wildcard(k) for k in pattern)
        self.first: list[tuple[str, str, _Node]] = []
        self.later: list[tuple[str, str, _Node]] = []
        self.plain: list[tuple[str, _Node]] = []
        if self.wild:
            return
        plain: list[tuple[str, _Node, bool]] = []
        for key in sorted(pattern):
            anchor = parse_anchor(key)
            if anchor is None:
                plain.append((key, _build(pattern[key]), _has_global(pattern[key])))
            elif anchor[0] in ("conditional", "global"):
                self.first.append((anchor[0], anchor[1], _build(pattern[key])))
            else:
                self.later.append((anchor[0], anchor[1], _build(pattern[key])))
        plain.sort(key=lambda kv: not kv[2])
        self.plain = [(k, n) for k, n, _ in plain]

    def run(self, m: Matcher, resource: Any) -> _Fail | None:
        m.tick()
        if not isinstance(resource, dict):
            return _Fail(f"expected an object at {{at}}, found {_type(resource)}")
        if self.wild:
            return _MapNode(_expand_wildcard_keys(self.pattern, resource), expanded=True).run(m, resource)
        for kind, key, node in self.first:
            failed = _anchor(m, kind, key, node, resource)
            if failed is not None:
                return failed
        for kind, key, node in self.later:
            failed = _anchor(m, kind, key, node, resource)
            if failed is not None:
                return failed
        for key, node in self.plain:
            failed = node.run(m, resource.get(key))
            if failed is not None:
                failed.parts.append(key)
                return failed
        return None


def _anchor(m: Matcher, kind: str, key: str, node: _Node, resource: dict[str, Any]) -> _Fail | None:
    present = key in resource
    if kind in ("conditional", "global"):
        if not present:
            return _Fail(f"{kind} anchor key {_braces(repr(key))} is not in the resource at {{parent}}", kind, [key])
        inner = node.run(m, resource[key])
        if inner is None:
            return None
        inner.parts.append(key)
        return _Fail(f"{kind} anchor did not match: {inner.template}", kind, inner.parts)
    if kind == "equality":
        if not present:
            return None
        inner = node.run(m, resource[key])
        if inner is not None:
            inner.parts.append(key)
        return inner
    if kind == "negation":
        return _Fail("field {at} is not allowed", "", [key]) if present else None
    if kind == "existence":
        if not present:
            return None
        items = resource[key]
        if not isinstance(items, list):
            return _Fail(f"existence anchor ^({_braces(key)}) needs a list at {{at}}", "", [key])
        for item_node in (node.items if isinstance(node, _ListNode) else [node]):
            if not any(item_node.run(m, item) is None for item in items):
                return _Fail(f"no element of {{at}} matches the existence anchor ^({_braces(key)})", "", [key])
        return None
    return _Fail(f"anchor {kind} is not valid in a validate pattern", "", [key])


class _ListNode:
    __slots__ = ("items", "maps")

    def __init__(self, pattern: list[Any]) -> None:
        self.items = [_build(p) for p in pattern]
        self.maps = bool(pattern) and isinstance(pattern[0], dict)

    def run(self, m: Matcher, resource: Any) -> _Fail | None:
        m.tick()
        if not isinstance(resource, list):
            return _Fail(f"expected a list at {{at}}, found {_type(resource)}")
        if not self.items:
            return _Fail("empty pattern list at {at}")
        if self.maps:
            node = self.items[0]
            applied = 0
            skipped: _Fail | None = None
            for i, item in enumerate(resource):
                failed = node.run(m, item)
                if failed is None:
                    applied += 1
                elif failed.skip:
                    if skipped is None:
                        failed.parts.append(i)
                        skipped = failed
                else:
                    failed.parts.append(i)
                    return failed
            return skipped if applied == 0 and skipped is not None else None
        if len(resource) < len(self.items):
            return _Fail(f"list at {{at}} has {len(resource)} elements, the pattern {len(self.items)}")
        for i, node in enumerate(self.items):
            failed = node.run(m, resource[i])
            if failed is not None:
                failed.parts.append(i)
                return failed
        return None


class _ValueNode:
    __slots__ = ("pattern",)

    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern

    def run(self, m: Matcher, resource: Any) -> _Fail | None:
        if isinstance(resource, list):
            for i, item in enumerate(resource):
                if not value_matches(item, self.pattern):
                    return _Fail(f"value {_braces(_show(item))} does not match {_braces(_show(self.pattern))} at "
                                 "{at}", "", [i])
            return None
        if not value_matches(resource, self.pattern):
            return _Fail(f"value {_braces(_show(resource))} does not match {_braces(_show(self.pattern))} at {{at}}")
        return None


_Node = _MapNode | _ListNode | _ValueNode


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _has_global(pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return any(k.startswith("<(") or _has_global(v) for k, v in pattern.items())
    if isinstance(pattern, list):
        return any(_has_global(v) for v in pattern)
    return False


def _expand_wildcard_keys(pattern: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    """Keys written with wildcards (``app.kubernetes.io/*``) stand for every matching resource key."""
    if not any(wildcard.has_wildcard(k) for k in pattern):
        return pattern
    out: dict[str, Any] = {}
    for key, value in pattern.items():
        anchor = parse_anchor(key)
        inner = anchor[1] if anchor and anchor[0] not in ("unknown",) else key
        if not wildcard.has_wildcard(inner):
            out[key] = value
            continue
        hits = [k for k in resource if wildcard.match(inner, k)]
        if not hits:
            out[key] = value
            continue
        for hit in hits:
            out[key.replace(inner, hit) if anchor else hit] = value
    return out


def _type(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def _show(value: Any) -> str:
    """A value as a message quotes it, whole: whoever shows the message masks secret values and
    then shortens it (a value cut here could not be recognised and masked)."""
    return repr(value) if not isinstance(value, str) else f"'{value}'"


# --- scalar values ----------------------------------------------------------------------------

def value_matches(value: Any, pattern: Any) -> bool:
    """One resource value against one scalar pattern value."""
    if isinstance(pattern, bool):
        return isinstance(value, bool) and value == pattern
    if isinstance(pattern, (int, float)):
        return _number_matches(value, Fraction(pattern))
    if pattern is None or pattern == "":
        return _empty(value)
    if isinstance(pattern, str):
        return _string_patterns(value, pattern)
    return False


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value == 0
    return isinstance(value, str) and value == ""


def _number_matches(value: Any, pattern: Fraction) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return Fraction(value) == pattern
    if isinstance(value, str):
        try:
            return Fraction(value.strip()) == pattern
        except ValueError:
            return False
    return False


def _string_patterns(value: Any, pattern: str) -> bool:
    if value == pattern:
        return True
    text = _as_text(value)
    if text is None:
        return False
    return any(all(_test(text, part) for part in alternative) for alternative in _parse(pattern))


@lru_cache(maxsize=8192)
def _parse(pattern: str) -> tuple[tuple[_Part, ...], ...]:
    """``a | b & c`` -> ((a,), (b, c)); each part an operator, its operand and the operand read as a
    duration and a quantity (once); ranges become two parts."""
    out = []
    for alternative in pattern.split("|"):
        parts: list[_Part] = []
        for raw in alternative.split("&"):
            part = raw.strip()
            m = _NOT_RANGE.match(part)
            if m is not None:
                low, high = _Part("<", m.group(1) + m.group(2)), _Part(">", m.group(3) + m.group(4))
                parts.append(_Part("!-", "", (low, high)))
                continue
            for op in (">=", "<=", ">", "<", "!"):
                if part.startswith(op) and len(part) > 1:
                    parts.append(_Part(op, part[len(op):].strip()))
                    break
            else:
                m = _RANGE.match(part)
                if m is not None:
                    parts.append(_Part(">=", m.group(1) + m.group(2)))
                    parts.append(_Part("<=", m.group(3) + m.group(4)))
                else:
                    parts.append(_Part("=", part))
        out.append(tuple(parts))
    return tuple(out)


class _Part:
    __slots__ = ("duration", "either", "op", "operand", "quantity")

    def __init__(self, op: str, operand: str, either: tuple[_Part, _Part] | None = None) -> None:
        self.op, self.operand, self.either = op, operand, either
        digits = any(c.isdigit() for c in operand)
        self.duration = q.parse_duration(operand) if digits else None
        self.quantity = q.parse_quantity(operand) if digits else None


def _test(text: str, part: _Part) -> bool:
    if part.either is not None:
        return _test(text, part.either[0]) or _test(text, part.either[1])
    op = part.op
    if part.duration is not None:
        have = q.parse_duration(text)
        if have is not None:
            return _ordered(have, part.duration, op)
    if part.quantity is not None:
        have = q.parse_quantity(text)
        if have is not None:
            return _ordered(have, part.quantity, op)
    if op == "=":
        return wildcard.match(part.operand, text)
    if op == "!":
        return not wildcard.match(part.operand, text)
    return False


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _ordered(have: Fraction, want: Fraction, op: str) -> bool:
    if op == "=":
        return have == want
    if op == "!":
        return have != want
    if op == ">":
        return have > want
    if op == "<":
        return have < want
    if op == ">=":
        return have >= want
    if op == "<=":
        return have <= want
    raise KeyError(op)
