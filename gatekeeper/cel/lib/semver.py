"""Kubernetes' semver library: ``semver()``, ``isSemver``, ``major/minor/patch`` and comparison.

Strict Semantic Versioning 2.0.0 parsing; with ``normalize`` set, a leading ``v``, missing
minor/patch numbers and leading zeros are accepted and fixed first, as Kubernetes does.
Comparison follows the specification's precedence (build metadata ignored).
"""

from __future__ import annotations

import re
from typing import Any

from gatekeeper.cel import types
from gatekeeper.cel.lib import Library, glob, member

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$")
_LOOSE = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(.*)$")


def parse(text: str, normalize: bool = False) -> tuple[int, int, int, tuple[str, ...], str]:
    """(major, minor, patch, prerelease parts, build) of a version; ValueError when invalid."""
    if not isinstance(text, str) or len(text) > 256:
        raise ValueError("invalid semver")
    if normalize:
        m = _LOOSE.match(text)
        if m:
            text = ".".join(str(int(part or "0")) for part in m.group(1, 2, 3)) + m.group(4)
    m = _SEMVER.match(text)
    if not m:
        raise ValueError(f"invalid semver {text!r}")
    pre = tuple(m.group(4).split(".")) if m.group(4) else ()
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), pre, m.group(5) or ""


def _text(parsed: tuple[int, int, int, tuple[str, ...], str]) -> str:
    major, minor, patch, pre, build = parsed
    out = f"{major}.{minor}.{patch}"
    if pre:
        out += "-" + ".".join(pre)
    if build:
        out += "+" + build
    return out


def _make(text: str, normalize: bool = False) -> Any:
    return types.make("Semver", _text(parse(text, normalize)))


def _valid(text: str, normalize: bool = False) -> bool:
    try:
        parse(text, normalize)
    except ValueError:
        return False
    return True


def _pre_key(pre: tuple[str, ...]) -> tuple[Any, ...]:
    # A release sorts after any of its pre-releases; numeric identifiers before alphanumeric ones.
    if not pre:
        return (1,)
    return (0, *[(0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre])


def _cmp(a: Any, b: Any) -> int:
    x, y = parse(a.value), parse(b.value)
    kx, ky = (x[:3], _pre_key(x[3])), (y[:3], _pre_key(y[3]))
    return (kx > ky) - (kx < ky)


LIBRARY = Library("kubernetes.semver", (
    glob("semver", ("semver_string", ("string",), "Semver", _make),
         ("semver_string_bool", ("string", "bool"), "Semver", _make)),
    glob("isSemver", ("isSemver_string", ("string",), "bool", _valid),
         ("isSemver_string_bool", ("string", "bool"), "bool", _valid)),
    member("major", ("semver_major", ("Semver",), "int", lambda v: parse(v.value)[0])),
    member("minor", ("semver_minor", ("Semver",), "int", lambda v: parse(v.value)[1])),
    member("patch", ("semver_patch", ("Semver",), "int", lambda v: parse(v.value)[2])),
    member("isLessThan", ("semver_isLessThan", ("Semver", "Semver"), "bool", lambda a, b: _cmp(a, b) < 0)),
    member("isGreaterThan", ("semver_isGreaterThan", ("Semver", "Semver"), "bool", lambda a, b: _cmp(a, b) > 0)),
    member("compareTo", ("semver_compareTo", ("Semver", "Semver"), "int", _cmp)),
))
