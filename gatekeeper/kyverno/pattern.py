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


class Matcher:
    """Match one resource (sub)tree against a pattern."""

    def __init__(self, deadline: Deadline = UNLIMITED) -> None:
        self.deadline = deadline
        self._steps = 0

    def match(self, resource: Any, pattern: Any, path: FieldPath = ()) -> Mismatch | None:
        self._steps += 1
        if self._steps % 512 == 0:
            self.deadline.check()
        if isinstance(pattern, dict):
            if not isinstance(resource, dict):
                return Mismatch(path, f"expected an object at {slash_path(path)}, found {_type(resource)}")
            return self._map(resource, pattern, path)
        if isinstance(pattern, list):
            if not isinstance(resource, list):
                return Mismatch(path, f"expected a list at {slash_path(path)}, found {_type(resource)}")
            return self._array(resource, pattern, path)
        if isinstance(resource, list):
            for i, item in enumerate(resource):
                if not value_matches(item, pattern):
                    return Mismatch((*path, i), f"value {_show(item)} does not match {_show(pattern)} at "
                                               f"{slash_path((*path, i))}")
            return None
        if not value_matches(resource, pattern):
            return Mismatch(path, f"value {_show(resource)} does not match {_show(pattern)} at {slash_path(path)}")
        return None

    def _map(self, resource: dict[str, Any], pattern: dict[str, Any], path: FieldPath) -> Mismatch | None:
        pattern = _expand_wildcard_keys(pattern, resource)
        first: list[tuple[str, str, Any]] = []
        later: list[tuple[str, str, Any]] = []
        plain: list[tuple[str, Any]] = []
        for key in sorted(pattern):
            anchor = parse_anchor(key)
            if anchor is None:
                plain.append((key, pattern[key]))
            elif anchor[0] in ("conditional", "global"):
                first.append((anchor[0], anchor[1], pattern[key]))
            else:
                later.append((anchor[0], anchor[1], pattern[key]))
        for kind, key, value in (*first, *later):
            found = self._anchor(kind, key, value, resource, path)
            if found is not None:
                return found
        plain.sort(key=lambda kv: not _has_global(kv[1]))
        for key, value in plain:
            found = self.match(resource.get(key), value, (*path, key))
            if found is not None:
                return found
        return None

    def _anchor(self, kind: str, key: str, value: Any, resource: dict[str, Any], path: FieldPath) -> Mismatch | None:
        here = (*path, key)
        present = key in resource
        if kind in ("conditional", "global"):
            if not present:
                return Mismatch(here, f"{kind} anchor key {key!r} is not in the resource at {slash_path(path)}", kind)
            inner = self.match(resource[key], value, here)
            if inner is None:
                return None
            return Mismatch(inner.path, f"{kind} anchor did not match: {inner.message}", kind)
        if kind == "equality":
            return self.match(resource[key], value, here) if present else None
        if kind == "negation":
            return Mismatch(here, f"field {slash_path(here)} is not allowed") if present else None
        if kind == "existence":
            if not present:
                return None
            items = resource[key]
            if not isinstance(items, list):
                return Mismatch(here, f"existence anchor ^({key}) needs a list at {slash_path(here)}")
            for item_pattern in value if isinstance(value, list) else [value]:
                if not any(self.match(item, item_pattern, (*here, i)) is None for i, item in enumerate(items)):
                    return Mismatch(here, f"no element of {slash_path(here)} matches the existence anchor ^({key})")
            return None
        return Mismatch(here, f"anchor {kind} is not valid in a validate pattern")

    def _array(self, resource: list[Any], pattern: list[Any], path: FieldPath) -> Mismatch | None:
        if not pattern:
            return Mismatch(path, f"empty pattern list at {slash_path(path)}")
        if isinstance(pattern[0], dict):
            applied = 0
            skipped: Mismatch | None = None
            for i, item in enumerate(resource):
                found = self.match(item, pattern[0], (*path, i))
                if found is None:
                    applied += 1
                elif found.skip:
                    skipped = skipped or found
                else:
                    return found
            if applied == 0 and skipped is not None:
                return skipped
            return None
        if len(resource) < len(pattern):
            return Mismatch(path, f"list at {slash_path(path)} has {len(resource)} elements, the pattern "
                                  f"{len(pattern)}")
        for i, item_pattern in enumerate(pattern):
            found = self.match(resource[i], item_pattern, (*path, i))
            if found is not None:
                return found
        return None


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
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 80 else text[:77] + "..."


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
    return any(all(_one(value, part.strip()) for part in alternative.split("&"))
               for alternative in pattern.split("|"))


def _one(value: Any, pattern: str) -> bool:
    m = _NOT_RANGE.match(pattern)
    if m is not None:
        low, high = m.group(1) + m.group(2), m.group(3) + m.group(4)
        return _one(value, f"<{low}") or _one(value, f">{high}")
    for op in (">=", "<=", ">", "<", "!"):
        if pattern.startswith(op) and len(pattern) > 1:
            return _compare(value, pattern[len(op):].strip(), op)
    m = _RANGE.match(pattern)
    if m is not None:
        low, high = m.group(1) + m.group(2), m.group(3) + m.group(4)
        return _one(value, f">={low}") and _one(value, f"<={high}")
    return _compare(value, pattern, "=")


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


def _compare(value: Any, pattern: str, op: str) -> bool:
    text = _as_text(value)
    if text is None:
        return False
    for parse in (q.parse_duration, q.parse_quantity):
        want = parse(pattern)
        have = parse(text) if want is not None else None
        if want is not None and have is not None:
            return _ordered(have, want, op)
    if op in ("=", "!"):
        hit = wildcard.match(pattern, text)
        return hit if op == "=" else not hit
    return False


def _ordered(have: Fraction, want: Fraction, op: str) -> bool:
    return {"=": have == want, "!": have != want, ">": have > want, "<": have < want,
            ">=": have >= want, "<=": have <= want}[op]
