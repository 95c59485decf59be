"""References inside a validation pattern, resolved before its ``{{ }}`` variables as Kyverno does.

``$(path)`` names another field of the same pattern by a Unix-like path from the field that holds
it (``.`` that field, ``..`` one level up; a leading ``/`` starts at the pattern's root), anchors
left out of the comparison: ``port: "$(./../../../readinessProbe/tcpSocket/port)"`` in a container
pattern takes the readinessProbe port the pattern gives. A value operator in front (``$(<./...)``)
is kept in front of the value, so ``"$(<...)"`` means "less than that field". Without an operator
the field must be a string; with one, numbers are written out. ``\\$(`` is a literal ``$(``. A
reference that does not resolve is an error of the rule (Kyverno's NotResolvedReference).

``{{@}}`` is the resource's value where the pattern field stands: it becomes
``{{request.object.<path>}}`` with the pattern's path (anchors left out, list positions as written
in the pattern), as Kyverno rewrites it before substitution. Inside foreach the element, not the
request, is matched, and Kyverno's rewrite names no field of it, so ``{{@}}`` there is an error of
the rule rather than a guess.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from gatekeeper.kyverno.errors import RuleError

_REFERENCE = re.compile(r"(\\?)\$\(([^)]*)\)")
_AT = re.compile(r"(?<!\\)\{\{\s*@\s*\}\}")
_ANCHOR = re.compile(r"^(?:[=^X<+]|)\((.+)\)$")
_OPERATORS = (">=", "<=", "!=", ">", "<", "!")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CACHE: dict[tuple[int, bool], tuple[Any, Any]] = {}


_HAS: dict[int, tuple[Any, bool]] = {}


def has_references(value: Any) -> bool:
    """True when a string of the pattern holds ``$(`` or ``{{@}}``; structures are remembered
    while they live (the cache holds them, so an id is never reused)."""
    if isinstance(value, (dict, list)):
        hit = _HAS.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        found = _has_references(value)
        if len(_HAS) < 50_000:
            _HAS[id(value)] = (value, found)
        return found
    return _has_references(value)


def _has_references(value: Any) -> bool:
    if isinstance(value, str):
        return "$(" in value or ("{{" in value and _AT.search(value) is not None)
    if isinstance(value, dict):
        return any(_has_references(k) or _has_references(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_references(v) for v in value)
    return False


def prepare(pattern: Any, in_foreach: bool = False) -> Any:
    """The pattern with its references resolved (remembered per pattern while it lives);
    RuleError when one cannot be resolved."""
    key = (id(pattern), in_foreach)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is pattern:
        out = hit[1]
        if isinstance(out, RuleError):
            raise out
        return out
    try:
        result: Any = _walk(pattern, pattern, (), in_foreach)
    except RuleError as exc:
        result = exc
    if len(_CACHE) < 10_000:
        _CACHE[key] = (pattern, result)
    if isinstance(result, RuleError):
        raise result
    return result


def _plain(key: Any) -> str:
    text = str(key)
    m = _ANCHOR.match(text)
    return m.group(1) if m else text


def _walk(value: Any, root: Any, path: tuple[str | int, ...], in_foreach: bool) -> Any:
    if isinstance(value, dict):
        return {_walk(k, root, path, in_foreach) if isinstance(k, str) else k:
                _walk(v, root, (*path, k), in_foreach) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, root, (*path, i), in_foreach) for i, v in enumerate(value)]
    if isinstance(value, str):
        return _string(value, root, path, in_foreach)
    return value


def _string(text: str, root: Any, path: tuple[str | int, ...], in_foreach: bool) -> str:
    if "$(" in text:
        text = _REFERENCE.sub(lambda m: m.group(0)[1:] if m.group(1) else _resolve(m.group(2), root, path), text)
    if "{{" in text and _AT.search(text):
        if in_foreach:
            raise RuleError("{{@}} in a foreach pattern names no field of the element; it is not evaluated")
        text = _AT.sub(lambda _m: "{{" + _jmespath(path) + "}}", text)
    return text


def _resolve(reference: str, root: Any, path: tuple[str | int, ...]) -> str:
    body = reference.strip()
    operator = next((op for op in _OPERATORS if body.startswith(op)), "")
    target = body[len(operator):]
    if not target:
        raise RuleError(f"reference $({reference}) names no path")
    here = "/" + "/".join(_plain(p) for p in path)
    absolute = target if target.startswith("/") else posixpath.join(here, target)
    parts = [p for p in posixpath.normpath(absolute).split("/") if p]
    found, value = _lookup(root, parts)
    where = "/" + "/".join(_plain(p) for p in path)
    if not found or value is None:
        raise RuleError(f"reference $({reference}) at {where} does not resolve to a field of the pattern")
    if not operator:
        if not isinstance(value, str):
            raise RuleError(f"reference $({reference}) at {where} resolves to a {type(value).__name__}, not a string")
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RuleError(f"reference $({reference}) at {where}: operator {operator} does not apply to {value!r}")
    if isinstance(value, float):
        return f"{operator}{value:f}"
    return f"{operator}{value}"


def _lookup(node: Any, parts: list[str]) -> tuple[bool, Any]:
    for part in parts:
        if isinstance(node, dict):
            match = [v for k, v in node.items() if _plain(k) == part]
            if not match:
                return False, None
            node = match[0]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def _jmespath(path: tuple[str | int, ...]) -> str:
    out = "request.object"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        key = _plain(part)
        out += f".{key}" if _PLAIN_KEY.match(key) else '."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return out
